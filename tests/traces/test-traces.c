/*
 * tests/traces/test-traces.c: the trace database (traces/).  Creating and
 * reopening, refusing files that are not iovsim's (text, a foreign SQLite
 * database, a newer schema) while leaving them byte-for-byte untouched,
 * the trace levels and the columns each kind stores, batches committing
 * whole, write errors reported at flush, a real SIGKILL at pseudo-random
 * moments (also in the middle of a commit), and Capstone disassembly.
 * Files live in a temporary directory made by the suite.
 */
#include "sim/common.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "traces/traces.h"
#include "tests/tmpdir.h"

static char *traces_tmpdir;

static int traces_suite_init(void)
{
    traces_tmpdir = g_dir_make_tmp("iovsim-traces-XXXXXX", NULL);
    return traces_tmpdir == NULL;
}

static int traces_suite_clean(void)
{
    tests_tmpdir_remove(&traces_tmpdir);
    return 0;
}

/* A fresh path in the scratch directory (nothing there yet). */
static char *traces_path(const char *name)
{
    char *path = g_build_filename(traces_tmpdir, name, NULL);
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    g_autofree char *shm = g_strconcat(path, "-shm", NULL);

    g_remove(path);
    g_remove(wal);
    g_remove(shm);
    return path;
}

/* SHA-256 of the file's bytes (g_free), or NULL if unreadable. */
static char *traces_file_hash(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        return NULL;
    }
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data, len);
}

/* Runs one SQL statement that returns one integer, on its own connection. */
static int64_t traces_query_int(const char *path, const char *sqltext)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -999;

    if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(sql, sqltext, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(sql);
    return v;
}

/* The same on an open trace database's connection. */
static int64_t traces_db_int(struct trace_db *db, const char *sqltext)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999;

    if (sqlite3_prepare_v2(trace_db_sqlite(db), sqltext, -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static bool traces_exec(const char *path, const char *sqltext)
{
    sqlite3 *sql = NULL;
    bool ok;

    ok = sqlite3_open(path, &sql) == SQLITE_OK &&
         sqlite3_exec(sql, sqltext, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(sql);
    return ok;
}

static const struct trace_run_info traces_info_exits = {
    .name = "test",
    .config_path = "experiments/test.ini",
    .config_text = "[experiment]\nname = test\n",
    .seed = 42,
    .profile = "skylake",
    .git_version = "v0-test",
    .level = TRACE_LEVEL_EXITS,
    .start_time_us = INT64_C(1700000000123456),
};

/* A VM exit for an OUT to the UART, as the VMM would record it. */
static struct trace_event traces_exit_event(uint64_t i)
{
    struct trace_event ev = {
        .time = i * 1000,
        .kind = TRACE_EVENT_VMEXIT,
        .exit_reason = 30,
        .addr = 0x3f8,
        .size = 1,
        .value = 0x3f80000, /* OUT, 1 byte, DX (spec/vmx.md §8) */
        .cost = 1200,
        .rip = 0x401000,
        .insn_len = 1,
        .insn = {0xee},
    };

    return ev;
}

/* Opening a path that is refused: the code, the path in the message. */
static void traces_check_refused(const char *path, int code, bool read_only)
{
    struct trace_db_options opts = {.read_only = read_only};
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open_with(path, &opts, &err);

    CU_ASSERT_PTR_NULL(db);
    if (db != NULL) {
        trace_db_close(db, NULL);
        return;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(err->domain, TRACE_ERROR);
    CU_ASSERT_EQUAL(err->code, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "untouched"));
}

/* A read-only open that fails with @code (without "untouched"). */
static void traces_check_refused_ro(const char *path, int code)
{
    struct trace_db_options opts = {.read_only = true};
    g_autoptr(GError) err = NULL;

    CU_ASSERT_PTR_NULL(trace_db_open_with(path, &opts, &err));
    CU_ASSERT(g_error_matches(err, TRACE_ERROR, code));
}

static void test_create_reopen(void)
{
    g_autofree char *path = traces_path("create.db");
    g_autoptr(GError) err = NULL;
    struct trace_run_totals totals = {
        .instructions = 1000,
        .cycles = 5000,
        .sim_time_ns = 2000,
        .host_ns = 7000,
        .stop_reason = "exit",
    };
    struct trace_event ev = traces_exit_event(1);
    struct trace_db *db;
    int64_t run1;
    int64_t run2;

    db = trace_db_open(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_STRING_EQUAL(trace_db_path(db), path);
    run1 = trace_run_begin(db, &traces_info_exits, &err);
    CU_ASSERT(run1 > 0);
    trace_event(db, &ev);
    CU_ASSERT(trace_counter(db, run1, 0, "guest", 4000, 1000, &err));
    CU_ASSERT(trace_run_end(db, run1, &totals, &err));
    CU_ASSERT(trace_db_close(db, &err));

    CU_ASSERT_EQUAL(traces_query_int(path, "PRAGMA application_id"),
                    TRACE_APPLICATION_ID);
    CU_ASSERT_EQUAL(traces_query_int(path, "PRAGMA user_version"),
                    TRACE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM "
                                           "event_kinds"),
                    TRACE_EVENT_NKINDS);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM "
                                           "exit_reasons WHERE id = 30 AND "
                                           "name = 'IO_INSTRUCTION'"),
                    1);

    /* Reopening keeps the first run and adds a second. */
    db = trace_db_open(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    run2 = trace_run_begin(db, &traces_info_exits, &err);
    CU_ASSERT(run2 > run1);
    trace_event(db, &ev);
    trace_event(db, &ev);
    CU_ASSERT(trace_flush(db, &err));
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT count(*) FROM runs"), 2);
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT count(*) FROM events WHERE "
                                      "run = 1"),
                    1);
    CU_ASSERT(trace_db_close(db, &err)); /* run 2 left open */
    CU_ASSERT_PTR_NULL(err);

    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT complete FROM runs "
                                           "WHERE id = 1"),
                    1);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT complete FROM runs "
                                           "WHERE id = 2"),
                    0);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT instructions FROM runs "
                                           "WHERE id = 1"),
                    1000);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT seed FROM runs WHERE "
                                           "id = 1"),
                    42);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM runs "
                                           "WHERE start_time = "
                                           "'2023-11-14T22:13:20.123456Z' "
                                           "AND level = 'exits' AND "
                                           "git_version = 'v0-test'"),
                    2);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM events "
                                           "WHERE run = 2"),
                    2);

    /* An empty file and an empty SQLite database are adopted. */
    {
        g_autofree char *empty = traces_path("empty.db");
        g_autofree char *bare = traces_path("bare.db");

        g_assert(g_file_set_contents(empty, "", 0, NULL));
        db = trace_db_open(empty, &err);
        CU_ASSERT_PTR_NOT_NULL(db);
        CU_ASSERT(trace_db_close(db, &err));
        CU_ASSERT(traces_exec(bare, "PRAGMA user_version = 0; VACUUM"));
        traces_check_refused_ro(bare, TRACE_ERROR_FOREIGN);
        db = trace_db_open(bare, &err);
        CU_ASSERT_PTR_NOT_NULL(db);
        CU_ASSERT(trace_db_close(db, &err));
        CU_ASSERT_EQUAL(traces_query_int(bare, "PRAGMA application_id"),
                        TRACE_APPLICATION_ID);
    }
}

static void test_refuse_text(void)
{
    g_autofree char *path = traces_path("notes.txt");
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);

    g_assert(g_file_set_contents(path,
                                 "These are my notes, not a database.\n"
                                 "Please leave them alone.\n",
                                 -1, NULL));
    before = traces_file_hash(path);
    traces_check_refused(path, TRACE_ERROR_NOT_SQLITE, false);
    traces_check_refused(path, TRACE_ERROR_NOT_SQLITE, true);
    after = traces_file_hash(path);
    CU_ASSERT_STRING_EQUAL(before, after);
    CU_ASSERT_FALSE(g_file_test(wal, G_FILE_TEST_EXISTS));

    /* A file that starts like SQLite but is too short is not either. */
    g_assert(g_file_set_contents(path, "SQLite format 3", 16, NULL));
    traces_check_refused(path, TRACE_ERROR_NOT_SQLITE, false);
}

static void test_refuse_foreign(void)
{
    g_autofree char *path = traces_path("foreign.db");
    g_autofree char *journal = g_strconcat(path, "-journal", NULL);
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    CU_ASSERT_FATAL(traces_exec(path, "CREATE TABLE recipes (name TEXT, "
                                      "minutes INTEGER);"
                                      "INSERT INTO recipes VALUES "
                                      "('bread', 240);"));
    before = traces_file_hash(path);
    traces_check_refused(path, TRACE_ERROR_FOREIGN, false);
    traces_check_refused(path, TRACE_ERROR_FOREIGN, true);
    after = traces_file_hash(path);
    CU_ASSERT_STRING_EQUAL(before, after);
    CU_ASSERT_FALSE(g_file_test(journal, G_FILE_TEST_EXISTS));
    CU_ASSERT_FALSE(g_file_test(wal, G_FILE_TEST_EXISTS));

    /* Our tables under someone else's application_id: still foreign. */
    CU_ASSERT_FATAL(traces_exec(path, "PRAGMA application_id = 1234"));
    before = (g_free(before), traces_file_hash(path));
    traces_check_refused(path, TRACE_ERROR_FOREIGN, false);
    after = (g_free(after), traces_file_hash(path));
    CU_ASSERT_STRING_EQUAL(before, after);
}

static void test_refuse_newer(void)
{
    g_autofree char *path = traces_path("new?er#%20.db");
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    g_autofree char *shm = g_strconcat(path, "-shm", NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autoptr(GError) err = NULL;
    struct trace_db *db;
    char *set;

    db = trace_db_open(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT(trace_db_close(db, &err));
    set = g_strdup_printf("PRAGMA user_version = %d", TRACE_SCHEMA_VERSION + 1);
    CU_ASSERT_FATAL(traces_exec(path, set));
    g_free(set);

    before = traces_file_hash(path);
    traces_check_refused(path, TRACE_ERROR_NEWER, false);
    traces_check_refused(path, TRACE_ERROR_NEWER, true);
    after = traces_file_hash(path);
    CU_ASSERT_STRING_EQUAL(before, after);
    /* Not even the empty -wal and -shm a read-only connection makes. */
    CU_ASSERT_FALSE(g_file_test(wal, G_FILE_TEST_EXISTS));
    CU_ASSERT_FALSE(g_file_test(shm, G_FILE_TEST_EXISTS));

    /* iovsim's application_id without its tables: damaged. */
    CU_ASSERT_FATAL(traces_exec(path, "PRAGMA user_version = 1;"
                                      "DROP TABLE counters"));
    traces_check_refused(path, TRACE_ERROR_DAMAGED, false);

    /* A directory, and a missing file for reading. */
    g_clear_error(&err);
    CU_ASSERT_PTR_NULL(trace_db_open(traces_tmpdir, &err));
    CU_ASSERT(g_error_matches(err, TRACE_ERROR, TRACE_ERROR_FILE));
    {
        g_autofree char *missing = traces_path("missing.db");
        g_autoptr(GError) err2 = NULL;
        struct trace_db_options ro = {.read_only = true};

        CU_ASSERT_PTR_NULL(trace_db_open_with(missing, &ro, &err2));
        CU_ASSERT(g_error_matches(err2, TRACE_ERROR, TRACE_ERROR_FILE));
        CU_ASSERT_FALSE(g_file_test(missing, G_FILE_TEST_EXISTS));
    }
}

static void test_level_names(void)
{
    g_autoptr(GError) err = NULL;
    enum trace_level level = TRACE_LEVEL_SUMMARY;

    CU_ASSERT(trace_level_parse("exits", &level, &err));
    CU_ASSERT_EQUAL(level, TRACE_LEVEL_EXITS);
    CU_ASSERT(trace_level_parse("full", &level, &err));
    CU_ASSERT_EQUAL(level, TRACE_LEVEL_FULL);
    CU_ASSERT_FALSE(trace_level_parse("verbose", &level, &err));
    CU_ASSERT(g_error_matches(err, TRACE_ERROR, TRACE_ERROR_LEVEL));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "verbose")
                                       : NULL);
    CU_ASSERT_STRING_EQUAL(trace_level_name(TRACE_LEVEL_IO), "io");
    CU_ASSERT_STRING_EQUAL(trace_event_kind_name(TRACE_EVENT_VMEXIT), "vmexit");
    CU_ASSERT_EQUAL(trace_event_kind_level(TRACE_EVENT_DMA_READ),
                    TRACE_LEVEL_IO);
    CU_ASSERT_STRING_EQUAL(trace_exit_reason_name(48), "EPT_VIOLATION");
    CU_ASSERT_STRING_EQUAL(trace_exit_reason_name(77), "TDCALL");
    CU_ASSERT_PTR_NULL(trace_exit_reason_name(35));
    /* 78-85 come from Bochs, unverified against the SDM (cpu/vmexit.def). */
    CU_ASSERT_STRING_EQUAL(trace_exit_reason_name(78), "RDMSRLIST");
    CU_ASSERT_PTR_NULL(trace_exit_reason_name(86));
    CU_ASSERT_FALSE(trace_wants(NULL, TRACE_EVENT_VMEXIT));
}

/*
 * One run at @level with one event of each of a few kinds and one io
 * row; returns the run id.
 */
static int64_t traces_level_run(struct trace_db *db, enum trace_level level)
{
    struct trace_run_info info = traces_info_exits;
    struct trace_event exit_ev = traces_exit_event(3);
    struct trace_event out = {
        .time = 3100,
        .kind = TRACE_EVENT_IO_WRITE,
        .exit_reason = 30, /* not stored for this kind */
        .addr = 0x3f8,
        .size = 1,
        .value = 'A',
        .device = 1,
        .cost = 300,
        .rip = 0x401000,
    };
    struct trace_event unclaimed = {
        .time = 3200,
        .kind = TRACE_EVENT_IO_READ,
        .addr = 0x80,
        .size = 1,
        .value = 0xff,
        .rip = 0x401005,
        .insn_len = 2,
        .insn = {0xe4, 0x80},
    };
    struct trace_event dma = {
        .time = 3300,
        .kind = TRACE_EVENT_DMA_WRITE,
        .addr = 0x100000,
        .size = 512,
        .device = 2,
        .rip = 0x1234, /* not stored for this kind */
    };
    struct trace_io io = {
        .vm = 0,
        .device = 2,
        .op = TRACE_IO_WRITE,
        .offset = 4096,
        .bytes = 512,
        .submit_time = 3000,
        .complete_time = 9000,
    };
    g_autoptr(GError) err = NULL;
    struct trace_run_totals totals = {0};
    int64_t run;

    info.level = level;
    run = trace_run_begin(db, &info, &err);
    CU_ASSERT(run > 0);
    CU_ASSERT(trace_device_add(db, 1, 0, "uart0", &err));
    CU_ASSERT(trace_device_add(db, 2, 0, "disk0", &err));
    CU_ASSERT_EQUAL(trace_wants(db, TRACE_EVENT_VMEXIT),
                    level >= TRACE_LEVEL_EXITS);
    CU_ASSERT_EQUAL(trace_wants(db, TRACE_EVENT_DMA_WRITE),
                    level >= TRACE_LEVEL_IO);
    trace_event(db, &exit_ev);
    trace_event(db, &out);
    trace_event(db, &unclaimed);
    trace_event(db, &dma);
    trace_io(db, &io);
    CU_ASSERT(trace_run_end(db, run, &totals, &err));
    CU_ASSERT_FALSE(trace_wants(db, TRACE_EVENT_DMA_WRITE));
    return run;
}

/* traces_db_int() with ?1 bound to @run. */
static int64_t traces_run_int(struct trace_db *db, int64_t run,
                              const char *sqltext)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999;

    if (sqlite3_prepare_v2(trace_db_sqlite(db), sqltext, -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        if (sqlite3_step(st) == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return v;
}

static void test_levels(void)
{
    g_autofree char *path = traces_path("levels.db");
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open(path, &err);
    int64_t runs[4];

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    for (int l = TRACE_LEVEL_SUMMARY; l <= TRACE_LEVEL_FULL; l++) {
        runs[l] = traces_level_run(db, (enum trace_level)l);
    }
    CU_ASSERT(trace_flush(db, &err));
    /* summary: nothing; io: the DMA and the io row; exits: all 4. */
    CU_ASSERT_EQUAL(traces_run_int(db, runs[0],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1"),
                    0);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[0],
                                   "SELECT count(*) FROM io "
                                   "WHERE run = ?1"),
                    0);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[1],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 9"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[1],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[1],
                                   "SELECT count(*) FROM io "
                                   "WHERE run = ?1 AND op = "
                                   "'write' AND bytes = 512"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1"),
                    4);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[3],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1"),
                    4);
    /* Disassembly only at full, only for kinds that have it. */
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(insn) FROM "
                                   "events WHERE run = ?1"),
                    0);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[3],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 0 AND insn = "
                                   "'out dx, al'"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[3],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 1 AND insn = "
                                   "'in al, 0x80'"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[3],
                                   "SELECT count(insn) FROM "
                                   "events WHERE run = ?1"),
                    2);
    /* Columns a kind does not store are NULL; device 0 is NULL. */
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 2 AND "
                                   "exit_reason IS NULL AND "
                                   "device = 1 AND value = 65"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 1 AND device IS "
                                   "NULL AND addr = 128"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events WHERE run = ?1 "
                                   "AND kind = 9 AND rip IS "
                                   "NULL AND size = 512"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events_named WHERE run = "
                                   "?1 AND exit_reason_name "
                                   "= 'IO_INSTRUCTION' AND "
                                   "kind_name = 'vmexit'"),
                    1);
    CU_ASSERT_EQUAL(traces_run_int(db, runs[2],
                                   "SELECT count(*) FROM "
                                   "events_named WHERE run = "
                                   "?1 AND device_name = "
                                   "'disk0'"),
                    1);
    CU_ASSERT(trace_db_close(db, &err));
}

static void test_counters(void)
{
    g_autofree char *path = traces_path("counters.db");
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open(path, &err);
    struct trace_run_info info = traces_info_exits;
    struct trace_run_totals totals = {0};
    int64_t run;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    info.level = TRACE_LEVEL_SUMMARY;
    run = trace_run_begin(db, &info, &err);
    CU_ASSERT(trace_counter(db, run, 0, "guest", 100, 1, &err));
    CU_ASSERT(trace_counter(db, run, 0, "guest", 900, 9, &err));
    CU_ASSERT(trace_counter(db, run, 1, "guest", 50, 5, &err));
    CU_ASSERT(trace_counter(db, run, 0, "exit:HLT", 70, 7, &err));
    CU_ASSERT(trace_run_end(db, run, &totals, &err));
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT cycles * 1000 + count FROM "
                                      "counters WHERE vm = 0 AND bucket = "
                                      "'guest'"),
                    900009);
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT count(*) FROM counters"), 3);
    CU_ASSERT(trace_db_close(db, &err));
}

/* Whole batches commit without a flush, in both writer modes. */
static void traces_batches(bool no_writer)
{
    g_autofree char *path = traces_path("batches.db");
    struct trace_db_options opts = {.no_writer = no_writer,
                                    .batch_events = 100};
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open_with(path, &opts, &err);
    int64_t run;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    run = trace_run_begin(db, &traces_info_exits, &err);
    for (uint64_t i = 0; i < 250; i++) {
        struct trace_event ev = traces_exit_event(i);

        trace_event(db, &ev);
    }
    /* The writer thread commits the second batch when it gets to it. */
    for (int tries = 0; tries < 500; tries++) {
        if (traces_query_int(path, "SELECT count(*) FROM events") >= 200) {
            break;
        }
        g_usleep(10000);
    }
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM events"), 200);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT last_event - "
                                           "first_event + 1 FROM runs"),
                    200);
    CU_ASSERT(trace_flush(db, &err));
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM events"), 250);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM events "
                                           "e JOIN runs r ON e.id BETWEEN "
                                           "r.first_event AND r.last_event"),
                    250);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT complete FROM runs"), 0);
    CU_ASSERT(trace_run_end(db, run, &(struct trace_run_totals){0}, &err));
    CU_ASSERT(trace_db_close(db, &err));
}

static void test_batches_thread(void)
{
    traces_batches(false);
}

static void test_batches_sync(void)
{
    traces_batches(true);
}

/*
 * A batch that cannot be written (another process dropped the events
 * table) is reported by the next flush with what was lost, never aborts,
 * and the run stays incomplete.
 */
static void test_write_error(void)
{
    g_autofree char *path = traces_path("error.db");
    struct trace_db_options opts = {.batch_events = 10};
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open_with(path, &opts, &err);
    struct trace_event ev = traces_exit_event(0);
    int64_t run;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    run = trace_run_begin(db, &traces_info_exits, &err);
    CU_ASSERT(trace_flush(db, &err));
    CU_ASSERT_FATAL(traces_exec(path, "DROP VIEW events_named;"
                                      "DROP TABLE events"));
    for (int i = 0; i < 25; i++) {
        trace_event(db, &ev);
    }
    CU_ASSERT_FALSE(trace_flush(db, &err));
    CU_ASSERT(g_error_matches(err, TRACE_ERROR, TRACE_ERROR_SQLITE));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, path) : NULL);
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "25 events")
                                       : NULL);
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "3 batches")
                                       : NULL);
    g_clear_error(&err);
    /*
     * Reported once by flush; the run's end reports again what the run
     * lost (a run that lost data is a failed run, whoever saw the error
     * first), and its row says it: incomplete, how many, the first error,
     * with the stop reason and totals of a run that did end.
     */
    CU_ASSERT(trace_flush(db, &err));
    CU_ASSERT_FALSE(trace_run_end(
        db, run,
        &(struct trace_run_totals){.cycles = 9, .stop_reason = "exit"},
        &err));
    CU_ASSERT(g_error_matches(err, TRACE_ERROR, TRACE_ERROR_LOST));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "lost 25 ")
                                       : NULL);
    CU_ASSERT_PTR_NOT_NULL(
        err != NULL ? strstr(err->message, "no such table") : NULL);
    g_clear_error(&err);
    CU_ASSERT(trace_db_close(db, &err));
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT complete FROM runs"), 0);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT lost_events FROM runs"),
                    25);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT error LIKE "
                                           "'%no such table%' FROM runs"),
                    1);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT cycles FROM runs "
                                           "WHERE stop_reason = 'exit'"),
                    9);
    traces_check_refused(path, TRACE_ERROR_DAMAGED, false);
}

/*
 * A version-1 file (no lost_events or error columns) is read as it is,
 * without being changed, and migrated when opened for writing; a run that
 * ends without losses records lost_events = 0.
 */
static void test_migrate_v1(void)
{
    g_autofree char *path = traces_path("v1.db");
    g_autofree char *before = NULL;
    g_autoptr(GError) err = NULL;
    struct trace_db_options ro = {.read_only = true};
    struct trace_db *db = trace_db_open(path, &err);
    int64_t run;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    run = trace_run_begin(db, &traces_info_exits, &err);
    CU_ASSERT(trace_run_end(db, run, &(struct trace_run_totals){0}, &err));
    CU_ASSERT(trace_db_close(db, &err));
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT lost_events FROM runs"),
                    0);
    /* What versions 2 and 3 added goes, as a real version-1 file. */
    CU_ASSERT_FATAL(traces_exec(path, "ALTER TABLE runs DROP COLUMN error;"
                                      "ALTER TABLE runs DROP COLUMN "
                                      "lost_events;"
                                      "DROP TABLE vms;"
                                      "ALTER TABLE devices DROP COLUMN vm;"
                                      "PRAGMA user_version = 1"));

    before = traces_file_hash(path);
    db = trace_db_open_with(path, &ro, &err);
    CU_ASSERT_PTR_NOT_NULL(db);
    CU_ASSERT(trace_db_close(db, &err));
    {
        g_autofree char *after = traces_file_hash(path);

        CU_ASSERT_STRING_EQUAL(before, after);
    }

    db = trace_db_open(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT(trace_db_close(db, &err));
    CU_ASSERT_EQUAL(traces_query_int(path, "PRAGMA user_version"),
                    TRACE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(lost_events) + "
                                           "count(error) FROM runs"),
                    0);
    /* Version 3's: the VMs and each device's VM. */
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM vms"), 0);
    CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(vm) FROM devices"),
                    0);
}

/* ---- SIGKILL ---- */

#define TRACES_KILL_MAX_BATCHES 100000

/*
 * The child: writes batches of @batch events forever, announcing each on
 * @fd just before it is committed (handed to the writer, or about to be
 * written on this thread), then waits for the commit.
 */
G_GNUC_NORETURN
static void traces_kill_child(const char *path, size_t batch, bool no_writer,
                              int fd)
{
    struct trace_db_options opts = {.no_writer = no_writer,
                                    .batch_events = batch};
    struct trace_db *db = trace_db_open_with(path, &opts, NULL);
    uint64_t t = 0;

    if (db == NULL || trace_run_begin(db, &traces_info_exits, NULL) == 0) {
        _exit(3);
    }
    for (int b = 0; b < TRACES_KILL_MAX_BATCHES; b++) {
        for (size_t i = 0; i < batch; i++) {
            struct trace_event ev = traces_exit_event(t++);

            if (i == batch - 1 && write(fd, "b", 1) != 1) {
                _exit(4);
            }
            trace_event(db, &ev);
        }
        if (!trace_flush(db, NULL)) {
            _exit(5);
        }
    }
    _exit(6);
}

/*
 * Kills a writing child with SIGKILL @delay_us after it announced batch
 * number @after (1-based), then checks what it left.
 */
static void traces_kill_once(int round, size_t batch, bool no_writer,
                             unsigned after, unsigned delay_us)
{
    g_autofree char *name = g_strdup_printf("kill-%d.db", round);
    g_autofree char *path = traces_path(name);
    g_autoptr(GError) err = NULL;
    struct trace_db *db;
    unsigned seen = 0;
    int fds[2];
    int status;
    pid_t pid;
    int64_t events;
    char c;

    CU_ASSERT_FATAL(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        traces_kill_child(path, batch, no_writer, fds[1]);
    }
    close(fds[1]);
    while (seen < after) {
        ssize_t n = read(fds[0], &c, 1);

        if (n == 1) {
            seen++;
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    CU_ASSERT_EQUAL(seen, after);
    if (delay_us > 0) {
        g_usleep(delay_us);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(fds[0]);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* It opens, is intact, holds only whole batches, run incomplete. */
    db = trace_db_open(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    {
        sqlite3_stmt *st = NULL;

        CU_ASSERT(sqlite3_prepare_v2(trace_db_sqlite(db),
                                     "PRAGMA integrity_check", -1, &st,
                                     NULL) == SQLITE_OK);
        CU_ASSERT(sqlite3_step(st) == SQLITE_ROW);
        CU_ASSERT_STRING_EQUAL(sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
    }
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT count(*) FROM runs"), 1);
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT complete FROM runs"), 0);
    events = traces_db_int(db, "SELECT count(*) FROM events");
    CU_ASSERT(events >= (int64_t)((after - 1) * batch));
    CU_ASSERT_EQUAL(events % (int64_t)batch, 0);
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT coalesce(last_event - "
                                      "first_event + 1, 0) FROM runs"),
                    events);
    /* The time stamps are 0, 1000, ...: no batch is partial or torn. */
    CU_ASSERT_EQUAL(traces_db_int(db, "SELECT coalesce(max(time) / 1000 + "
                                      "1, 0) FROM events"),
                    events);
    /* And the database takes more runs. */
    CU_ASSERT(trace_run_begin(db, &traces_info_exits, &err) == 2);
    CU_ASSERT(trace_db_close(db, &err));
}

static void test_sigkill(void)
{
    GRand *rand = g_rand_new_with_seed(20240501);

    /*
     * Small batches (about a millisecond per commit) killed at random
     * moments around their commits, with and without the writer thread;
     * then large batches (tens of milliseconds per commit) killed in the
     * middle of one.
     */
    for (int round = 0; round < 6; round++) {
        traces_kill_once(round, 1000, round % 2 == 1,
                         (unsigned)g_rand_int_range(rand, 1, 6),
                         (unsigned)g_rand_int_range(rand, 0, 3000));
    }
    for (int round = 6; round < 9; round++) {
        traces_kill_once(round, 50000, round % 2 == 1,
                         (unsigned)g_rand_int_range(rand, 1, 3),
                         (unsigned)g_rand_int_range(rand, 2000, 15000));
    }
    g_rand_free(rand);
}

/* ---- Several processes creating one file ---- */

#define TRACES_RACE_PROCS 6
#define TRACES_RACE_ROUNDS 25

/*
 * The child: opens @path (new, or being created by its siblings), records
 * one run and closes.  Exits 0, or 1 after printing the error.
 */
G_GNUC_NORETURN
static void traces_race_child(const char *path, int fd)
{
    g_autoptr(GError) err = NULL;
    struct trace_db *db;
    char c;
    int64_t run;

    /* Start together: wait until the parent closes the pipe. */
    while (read(fd, &c, 1) < 0 && errno == EINTR) {
    }
    db = trace_db_open(path, &err);
    run = db != NULL ? trace_run_begin(db, &traces_info_exits, &err) : 0;
    if (run == 0 ||
        !trace_run_end(db, run, &(struct trace_run_totals){0}, &err) ||
        !trace_db_close(db, &err)) {
        fprintf(stderr, "\nrace child: %s\n", err->message);
        _exit(1);
    }
    _exit(0);
}

/*
 * Several processes that create the same new file at once must all
 * succeed (no "database is locked"), and the file must hold every run,
 * each complete.
 */
static void test_create_race(void)
{
    int failed = 0;

    for (int round = 0; round < TRACES_RACE_ROUNDS; round++) {
        g_autofree char *name = g_strdup_printf("race-%d.db", round);
        g_autofree char *path = traces_path(name);
        pid_t pids[TRACES_RACE_PROCS];
        int fds[2];

        CU_ASSERT_FATAL(pipe(fds) == 0);
        fflush(NULL);
        for (int i = 0; i < TRACES_RACE_PROCS; i++) {
            pids[i] = fork();
            CU_ASSERT_FATAL(pids[i] >= 0);
            if (pids[i] == 0) {
                close(fds[1]);
                traces_race_child(path, fds[0]);
            }
        }
        close(fds[0]);
        close(fds[1]);
        for (int i = 0; i < TRACES_RACE_PROCS; i++) {
            int status;

            while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
            }
            failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        CU_ASSERT_EQUAL(traces_query_int(path, "SELECT count(*) FROM runs "
                                               "WHERE complete = 1"),
                        TRACES_RACE_PROCS);
        CU_ASSERT_EQUAL(traces_query_int(path, "PRAGMA user_version"),
                        TRACE_SCHEMA_VERSION);
        g_free(traces_path(name)); /* removes it */
    }
    CU_ASSERT_EQUAL(failed, 0);
    if (failed != 0) {
        fprintf(stderr, "\n%d of %d processes failed\n", failed,
                TRACES_RACE_PROCS * TRACES_RACE_ROUNDS);
    }
}

/* ---- Disassembly ---- */

static void traces_check_disasm(const char *bytes, size_t len, uint64_t rip,
                                const char *want)
{
    g_autofree char *text = trace_disasm((const uint8_t *)bytes, len, rip);

    CU_ASSERT_STRING_EQUAL(text, want);
}

static void test_disasm(void)
{
    traces_check_disasm("\x89\x08", 2, 0, "mov dword ptr [rax], ecx");
    traces_check_disasm("\x01\x00", 2, 0, "add dword ptr [rax], eax");
    traces_check_disasm("\xee", 1, 0, "out dx, al");
    traces_check_disasm("\xe6\x80", 2, 0, "out 0x80, al");
    traces_check_disasm("\xf3\x6e", 2, 0, "rep outsb dx, byte ptr [rsi]");
    traces_check_disasm("\xf3\xa4", 2, 0,
                        "rep movsb byte ptr [rdi], byte ptr [rsi]");
    traces_check_disasm("\x0f\xa2", 2, 0, "cpuid");
    traces_check_disasm("\x0f\x01\xc1", 3, 0, "vmcall");
    traces_check_disasm("\x8b\x04\x25\x00\x10\xb8\x00", 7, 0,
                        "mov eax, dword ptr [0xb81000]");
    /* Relative targets use @rip. */
    traces_check_disasm("\xe9\x00\x01\x00\x00", 5, 0x401000, "jmp 0x401105");
    /* Only the first instruction; invalid and truncated bytes. */
    traces_check_disasm("\x90\xee", 2, 0, "nop");
    traces_check_disasm("\x06", 1, 0, "(bad)");
    traces_check_disasm("\x8b\x04", 2, 0, "(bad)");
}

static CU_TestInfo traces_tests[] = {
    {"create, reopen, many runs", test_create_reopen},
    {"refuse a text file, untouched", test_refuse_text},
    {"refuse a foreign SQLite database, untouched", test_refuse_foreign},
    {"refuse a newer schema, untouched; damaged; not a file",
     test_refuse_newer},
    {"level, kind and exit reason names", test_level_names},
    {"levels filter events; columns per kind", test_levels},
    {"counters", test_counters},
    {"batches commit whole (writer thread)", test_batches_thread},
    {"batches commit whole (caller's thread)", test_batches_sync},
    {"write errors reported at flush and in the run's row",
     test_write_error},
    {"a version-1 file is read as it is, migrated to write", test_migrate_v1},
    {"SIGKILL at random moments", test_sigkill},
    {"processes creating one file at once", test_create_race},
    {"Capstone disassembly", test_disasm},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_traces_suites[] = {
    {"traces/db", traces_suite_init, traces_suite_clean, NULL, NULL,
     traces_tests},
    CU_SUITE_INFO_NULL,
};
