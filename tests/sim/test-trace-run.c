/*
 * tests/sim/test-trace-run.c: whole runs recorded in SQLite.  The same
 * config and seed give the same events, row for row (determinism, with
 * the timer's interrupts and VM exits in play); trace keys are validated;
 * a database that is not iovsim's is refused, named, and left untouched.
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <sqlite3.h>

#include "sim/sim.h"
#include "tests/tmpdir.h"

static char *trace_tmpdir(void)
{
    return g_dir_make_tmp("iovsim-trace-XXXXXX", NULL);
}

/* Runs @program in @mode recording into @db at @level; returns the stop. */
static enum sim_stop trace_run(const char *program, const char *mode,
                               const char *db, const char *level)
{
    g_autofree char *text = g_strdup_printf(
        "[experiment]\nname = det\nseed = 7\n[machine]\nmode = %s\n"
        "memory = 16M\n[guest]\nprogram = %s\n[trace]\nfile = %s\n"
        "level = %s\n[limits]\ninstructions = 50000000\n",
        mode, program, db, level);
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_parse(text, NULL, NULL, &err);
    struct sim_machine *m;
    enum sim_stop stop;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    m = sim_machine_new(cfg, &err);
    if (m == NULL) {
        fprintf(stderr, "\n%s\n", err->message);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    stop = sim_machine_run(m);
    sim_machine_free(m);
    return stop;
}

/* Every column of run @run's events but their ids, as one string. */
static char *trace_rows(sqlite3 *sql, int run, long *count)
{
    GString *s = g_string_new(NULL);
    sqlite3_stmt *st = NULL;

    *count = 0;
    CU_ASSERT_EQUAL(
        sqlite3_prepare_v2(sql,
                           "SELECT time, vm, vcpu, kind, exit_reason, addr, "
                           "size, value, device, cost, rip, insn FROM "
                           "events WHERE run = ? ORDER BY id",
                           -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 12; c++) {
            const unsigned char *t = sqlite3_column_text(st, c);

            g_string_append(s, t != NULL ? (const char *)t : "NULL");
            g_string_append_c(s, c == 11 ? '\n' : '|');
        }
        (*count)++;
    }
    sqlite3_finalize(st);
    return g_string_free(s, FALSE);
}

static void check_deterministic(const char *program, const char *mode,
                                const char *level)
{
    g_autofree char *dir = trace_tmpdir();
    g_autofree char *db = g_build_filename(dir, "det.db", NULL);
    g_autofree char *a = NULL, *b = NULL;
    sqlite3 *sql = NULL;
    long na, nb;

    CU_ASSERT_EQUAL(trace_run(program, mode, db, level), SIM_STOP_EXIT);
    CU_ASSERT_EQUAL(trace_run(program, mode, db, level), SIM_STOP_EXIT);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    a = trace_rows(sql, 1, &na);
    b = trace_rows(sql, 2, &nb);
    sqlite3_close(sql);
    CU_ASSERT(na > 100);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT_STRING_EQUAL(a, b);
    tests_tmpdir_remove(&dir);
}

/* Exits, injected timer interrupts and idle time: the same, twice. */
static void test_deterministic_hvm(void)
{
    check_deterministic("build/workloads/guest/timer-O2.elf", "hvm",
                        "exits");
}

static void test_deterministic_native(void)
{
    check_deterministic("build/workloads/guest/mmioforms-O1.elf", "native",
                        "exits");
}

/* The totals of run @run: instructions, cycles, simulated time. */
static char *trace_totals(sqlite3 *sql, int run)
{
    sqlite3_stmt *st = NULL;
    char *s = NULL;

    CU_ASSERT_EQUAL(sqlite3_prepare_v2(sql,
                                       "SELECT instructions, cycles, "
                                       "sim_time_ns FROM runs WHERE id = ?",
                                       -1, &st, NULL),
                    SQLITE_OK);
    sqlite3_bind_int(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW) {
        s = g_strdup_printf("%lld %lld %lld",
                            (long long)sqlite3_column_int64(st, 0),
                            (long long)sqlite3_column_int64(st, 1),
                            (long long)sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    return s != NULL ? s : g_strdup("no run");
}

/*
 * Tracing never changes simulated time: the MMIO guest under hvm gives
 * the same totals at every level, though level full reads each trapped
 * instruction's bytes (which once walked the guest's page tables and
 * charged the walk).
 */
static void test_levels_same_time(void)
{
    static const char *const levels[] = {"summary", "io", "exits", "full"};
    g_autofree char *dir = trace_tmpdir();
    g_autofree char *db = g_build_filename(dir, "levels.db", NULL);
    g_autofree char *first = NULL;
    sqlite3 *sql = NULL;

    for (unsigned i = 0; i < G_N_ELEMENTS(levels); i++) {
        CU_ASSERT_EQUAL(trace_run("build/workloads/guest/mmioforms-O1.elf",
                                  "hvm", db, levels[i]),
                        SIM_STOP_EXIT);
    }
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    first = trace_totals(sql, 1);
    for (unsigned i = 1; i < G_N_ELEMENTS(levels); i++) {
        g_autofree char *t = trace_totals(sql, (int)i + 1);

        if (strcmp(t, first) != 0) {
            fprintf(stderr, "\nlevel %s: %s, level summary: %s\n", levels[i],
                    t, first);
        }
        CU_ASSERT_STRING_EQUAL(t, first);
    }
    sqlite3_close(sql);
    tests_tmpdir_remove(&dir);
}

/*
 * A VM exit is recorded at the time it happened and before the device
 * accesses its handling caused: under hvm every access follows (by id)
 * the exit that trapped it, inside [exit time, exit time + cost], and
 * event times never go backwards.
 */
static void test_exit_before_its_accesses(void)
{
    g_autofree char *dir = trace_tmpdir();
    g_autofree char *db = g_build_filename(dir, "order.db", NULL);
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    long accesses = 0, bad = 0, backwards = 0;
    int64_t exit_time = -1, exit_end = -1, last_time = -1;

    CU_ASSERT_EQUAL(trace_run("build/workloads/guest/mmioforms-O1.elf",
                              "hvm", db, "exits"),
                    SIM_STOP_EXIT);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(sql,
                                             "SELECT kind, time, cost FROM "
                                             "events WHERE run = 1 ORDER BY "
                                             "id",
                                             -1, &st, NULL),
                          SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0);
        int64_t time = sqlite3_column_int64(st, 1);

        backwards += time < last_time;
        last_time = time;
        if (kind == 0) {
            exit_time = time;
            exit_end = time + sqlite3_column_int64(st, 2);
        } else if (kind >= 1 && kind <= 4) {
            accesses++;
            bad += exit_time < 0 || time < exit_time || time > exit_end;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(sql);
    CU_ASSERT(accesses > 10);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(backwards, 0);
    tests_tmpdir_remove(&dir);
}

/* runs.git_version is the revision the binary was built from: what git
 * says of the tree now, since make check builds first. */
static void test_git_version_recorded(void)
{
    g_autofree char *dir = trace_tmpdir();
    g_autofree char *db = g_build_filename(dir, "version.db", NULL);
    g_autofree char *out = NULL;
    const char *argv[] = {"git", "describe", "--always", "--dirty", NULL};
    int status = -1;
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;

    CU_ASSERT_EQUAL(trace_run("build/workloads/guest/hello-O2.elf", "native",
                              db, "summary"),
                    SIM_STOP_EXIT);
    if (!g_spawn_sync(NULL, (char **)argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                      NULL, &out, NULL, &status, NULL) ||
        status != 0) {
        g_free(out);
        out = g_strdup("unknown");
    }
    g_strstrip(out);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(sql,
                                             "SELECT git_version FROM runs",
                                             -1, &st, NULL),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_step(st), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), out);
    sqlite3_finalize(st);
    sqlite3_close(sql);
    tests_tmpdir_remove(&dir);
}

static void test_trace_config_errors(void)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_parse(
        "[guest]\nprogram = build/workloads/guest/hello-O2.elf\n"
        "[trace]\nlevel = everything\n",
        "lvl.ini", NULL, &err);

    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "lvl.ini:4:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "trace.level"));
}

/* A database that is not iovsim's: the run does not start, the message
 * names the file, and the file is byte for byte what it was. */
static void test_foreign_db_refused(void)
{
    g_autofree char *dir = trace_tmpdir();
    g_autofree char *db = g_build_filename(dir, "theirs.db", NULL);
    g_autofree char *text = NULL, *before = NULL, *after = NULL;
    g_autoptr(GError) err = NULL;
    gsize nb = 0, na = 0;
    sqlite3 *sql = NULL;
    struct sim_config *cfg;

    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &sql), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(sql, "CREATE TABLE mine (x); INSERT INTO "
                                      "mine VALUES (42);",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(sql);
    CU_ASSERT_TRUE(g_file_get_contents(db, &before, &nb, NULL));
    text = g_strdup_printf("[guest]\nprogram = "
                           "build/workloads/guest/hello-O2.elf\n"
                           "[trace]\nfile = %s\n",
                           db);
    cfg = sim_config_parse(text, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NULL(sim_machine_new(cfg, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "theirs.db"));
    CU_ASSERT_TRUE(g_file_get_contents(db, &after, &na, NULL));
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT(na == nb && memcmp(before, after, na) == 0);
    tests_tmpdir_remove(&dir);
}

static CU_TestInfo trace_run_tests[] = {
    {"same seed, same events (hvm, timer interrupts)",
     test_deterministic_hvm},
    {"same seed, same events (native, device accesses)",
     test_deterministic_native},
    {"tracing never changes simulated time (hvm, every level)",
     test_levels_same_time},
    {"an exit is recorded before the accesses it caused",
     test_exit_before_its_accesses},
    {"runs.git_version is the revision built", test_git_version_recorded},
    {"trace keys are validated", test_trace_config_errors},
    {"a foreign database is refused and left untouched",
     test_foreign_db_refused},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_trace_run_suites[] = {
    {"sim/trace-run", NULL, NULL, NULL, NULL, trace_run_tests},
    CU_SUITE_INFO_NULL,
};
