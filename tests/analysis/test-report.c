/*
 * tests/analysis/test-report.c: `iovsim report` (analysis/report.c).  A
 * database is built with the traces/ API (a complete run traced at
 * exits, a complete run traced at summary whose exits come from
 * counters, and a run left incomplete), then the report's tables are
 * checked number by number for one run, the run list, --compare, and the
 * usage and database errors (exit status 2).  The report must not change
 * the file.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "analysis/analysis.h"
#include "traces/traces.h"
#include "tests/tmpdir.h"

/* The files SQLite may put next to @db. */
static const char *const report_side_files[] = {"-wal", "-shm", "-journal"};

static char *report_tmpdir;
static char *report_db; /* the database all tests read */

static void report_add_exit(struct trace_db *db, uint16_t reason, uint64_t cost)
{
    struct trace_event ev = {
        .kind = TRACE_EVENT_VMEXIT,
        .exit_reason = reason,
        .cost = cost,
    };

    trace_event(db, &ev);
}

/* Builds the three runs described at the top. */
static bool report_build_db(const char *path)
{
    const struct trace_run_info exits_info = {
        .name = "uart",
        .config_path = "experiments/uart.ini",
        .seed = 42,
        .profile = "skylake",
        .level = TRACE_LEVEL_EXITS,
    };
    const struct trace_run_info summary_info = {
        .name = "uart-pv",
        .config_path = "experiments/uart-pv.ini",
        .seed = 7,
        .profile = "nehalem",
        .level = TRACE_LEVEL_SUMMARY,
    };
    const struct trace_run_totals totals1 = {
        .instructions = 2000000,
        .cycles = 5000000,
        .sim_time_ns = 2000000,
        .host_ns = 500000000,
        .stop_reason = "exit",
    };
    const struct trace_run_totals totals2 = {
        .instructions = 3000000,
        .cycles = 4000000,
        .sim_time_ns = 1000000,
        .host_ns = 250000000,
        .stop_reason = "instruction-limit",
    };
    struct trace_event out = {.kind = TRACE_EVENT_IO_WRITE, .cost = 77};
    g_autoptr(GError) err = NULL;
    struct trace_db *db = trace_db_open(path, &err);
    int64_t run;
    bool ok = true;

    if (db == NULL) {
        return false;
    }
    /* Run 1: exits from events. */
    run = trace_run_begin(db, &exits_info, &err);
    report_add_exit(db, 30, 1000);
    report_add_exit(db, 30, 1100);
    report_add_exit(db, 30, 1200);
    report_add_exit(db, 12, 500);
    report_add_exit(db, 48, 2000);
    report_add_exit(db, 48, 3000);
    report_add_exit(db, 35, 10); /* an unused number */
    trace_event(db, &out);
    ok = ok && trace_counter(db, run, 0, "guest", 6000, 10, &err);
    ok = ok && trace_counter(db, run, 0, "vmm", 3000, 4, &err);
    ok = ok && trace_counter(db, run, 0, "device-model", 1000, 2, &err);
    ok = ok && trace_counter(db, run, 0, "idle", 0, 0, &err);
    ok = ok && trace_counter(db, run, 1, "guest", 500, 1, &err);
    /* Ignored for exits: the events are there. */
    ok = ok && trace_counter(db, run, 0, "exit:IO_INSTRUCTION", 99, 99, &err);
    ok = ok && trace_run_end(db, run, &totals1, &err);

    /* Run 2: summary level, exits from counters (summed over VMs). */
    run = trace_run_begin(db, &summary_info, &err);
    report_add_exit(db, 30, 1000); /* not recorded at summary */
    ok = ok && trace_counter(db, run, 0, "exit:IO_INSTRUCTION", 4000, 4, &err);
    ok = ok && trace_counter(db, run, 1, "exit:IO_INSTRUCTION", 3000, 3, &err);
    ok = ok && trace_counter(db, run, 0, "exit:VMCALL", 900, 3, &err);
    ok = ok && trace_counter(db, run, 0, "guest", 3000, 5, &err);
    ok = ok && trace_counter(db, run, 0, "backend", 1000, 1, &err);
    ok = ok && trace_run_end(db, run, &totals2, &err);

    /* Run 3: never ended. */
    run = trace_run_begin(db, &exits_info, &err);
    report_add_exit(db, 30, 1000);
    ok = ok && run == 3;
    return trace_db_close(db, &err) && ok;
}

static int report_suite_init(void)
{
    report_tmpdir = g_dir_make_tmp("iovsim-report-XXXXXX", NULL);
    if (report_tmpdir == NULL) {
        return 1;
    }
    report_db = g_build_filename(report_tmpdir, "runs.db", NULL);
    return !report_build_db(report_db);
}

static int report_suite_clean(void)
{
    tests_tmpdir_remove(&report_tmpdir);
    g_clear_pointer(&report_db, g_free);
    return 0;
}

struct report_result {
    int status;
    char *out; /* standard output text */
    char *err; /* standard error text */
};

static void report_result_clear(struct report_result *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* Runs `iovsim report` with the NULL-terminated arguments. */
static struct report_result report_run(const char *first, ...)
{
    struct report_result r = {0};
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    size_t out_len = 0;
    size_t err_len = 0;
    FILE *out = open_memstream(&r.out, &out_len);
    FILE *err = open_memstream(&r.err, &err_len);
    va_list ap;

    g_ptr_array_add(args, g_strdup("iovsim report"));
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        g_ptr_array_add(args, g_strdup(a));
    }
    va_end(ap);
    {
        /* GOption may permute and drop arguments: give it a copy. */
        g_autofree char **argv = g_new0(char *, args->len + 1);

        memcpy(argv, args->pdata, args->len * sizeof(char *));
        r.status = analysis_report((int)args->len, argv, out, err);
    }
    fclose(out);
    fclose(err);
    /* open_memstream allocates with malloc; move into GLib memory. */
    {
        char *o = g_strdup(r.out);
        char *e = g_strdup(r.err);

        free(r.out);
        free(r.err);
        r.out = o;
        r.err = e;
    }
    return r;
}

/*
 * Returns: the first line of @text at or after the line containing
 * @section whose words start with @prefix, with runs of spaces collapsed
 * to one (g_free), or NULL.
 */
static char *report_row(const char *text, const char *section,
                        const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    bool in_section = section == NULL;

    for (size_t i = 0; lines[i] != NULL; i++) {
        g_auto(GStrv) words = NULL;
        char *joined;

        if (!in_section) {
            in_section = strstr(lines[i], section) != NULL;
            continue;
        }
        words = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
        {
            GPtrArray *kept = g_ptr_array_new();

            for (size_t w = 0; words[w] != NULL; w++) {
                if (words[w][0] != '\0') {
                    g_ptr_array_add(kept, words[w]);
                }
            }
            g_ptr_array_add(kept, NULL);
            joined = g_strjoinv(" ", (char **)kept->pdata);
            g_ptr_array_free(kept, TRUE);
        }
        if (g_str_has_prefix(joined, prefix) &&
            (joined[strlen(prefix)] == '\0' || joined[strlen(prefix)] == ' ')) {
            return joined;
        }
        g_free(joined);
    }
    return NULL;
}

/* Checks that @section's row starting with @prefix reads @want. */
static void report_check_row(const char *text, const char *section,
                             const char *prefix, const char *want)
{
    g_autofree char *row = report_row(text, section, prefix);

    CU_ASSERT_PTR_NOT_NULL(row);
    if (row != NULL) {
        CU_ASSERT_STRING_EQUAL(row, want);
        if (strcmp(row, want) != 0) {
            fprintf(stderr, "\n  got:  '%s'\n  want: '%s'\n", row, want);
        }
    }
}

static char *report_hash(const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        return NULL;
    }
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data, len);
}

static void test_one_run(void)
{
    g_autofree char *before = report_hash(report_db);
    g_autofree char *after = NULL;
    struct report_result r = report_run(report_db, "--run", "1", NULL);

    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Run 1: uart "
                                         "(experiments/uart.ini), seed 42, "
                                         "profile skylake, level exits, "
                                         "complete, stopped: exit"));
    /* Exits by reason, most frequent first; total; unnamed numbers. */
    report_check_row(r.out, "Exits by reason", "reason",
                     "reason count total cycles mean cycles");
    report_check_row(r.out, "Exits by reason", "IO_INSTRUCTION",
                     "IO_INSTRUCTION 3 3300 1100.0");
    report_check_row(r.out, "Exits by reason", "EPT_VIOLATION",
                     "EPT_VIOLATION 2 5000 2500.0");
    report_check_row(r.out, "Exits by reason", "HLT", "HLT 1 500 500.0");
    report_check_row(r.out, "Exits by reason", "reason 35",
                     "reason 35 1 10 10.0");
    report_check_row(r.out, "Exits by reason", "total", "total 7 8810 1258.6");
    CU_ASSERT(strstr(r.out, "IO_INSTRUCTION") < strstr(r.out, "EPT_VIOLATION"));
    /* Cycles by bucket per VM, in cost-model order, share of the VM. */
    report_check_row(r.out, "Cycles by bucket", "0 guest",
                     "0 guest 6000 10 60.0%");
    report_check_row(r.out, "Cycles by bucket", "0 vmm", "0 vmm 3000 4 30.0%");
    report_check_row(r.out, "Cycles by bucket", "0 device-model",
                     "0 device-model 1000 2 10.0%");
    report_check_row(r.out, "Cycles by bucket", "0 idle", "0 idle 0 0 0.0%");
    report_check_row(r.out, "Cycles by bucket", "1 guest",
                     "1 guest 500 1 100.0%");
    CU_ASSERT_PTR_NULL(strstr(r.out, "exit:"));
    /* Totals. */
    report_check_row(r.out, "Totals", "instructions", "instructions 2000000");
    report_check_row(r.out, "Totals", "simulated cycles",
                     "simulated cycles 5000000");
    report_check_row(r.out, "Totals", "simulated time",
                     "simulated time 2.000 ms");
    report_check_row(r.out, "Totals", "host time", "host time 0.500 s");
    report_check_row(r.out, "Totals", "speed (MIPS)", "speed (MIPS) 4.0");
    report_check_row(r.out, "Totals", "slowdown",
                     "slowdown (host/simulated) "
                     "250.0");
    report_check_row(r.out, "Totals", "events", "events 8");
    report_result_clear(&r);

    after = report_hash(report_db);
    CU_ASSERT_STRING_EQUAL(before, after);
}

static void test_run_list(void)
{
    struct report_result r = report_run(report_db, NULL);

    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    report_check_row(r.out, "Runs in", "run",
                     "run name config seed profile status instructions "
                     "sim time host time MIPS");
    report_check_row(r.out, "Runs in", "1",
                     "1 uart experiments/uart.ini 42 skylake complete "
                     "2000000 2.000 ms 0.500 s 4.0");
    report_check_row(r.out, "Runs in", "2",
                     "2 uart-pv experiments/uart-pv.ini 7 nehalem complete "
                     "3000000 1.000 ms 0.250 s 12.0");
    report_check_row(r.out, "Runs in", "3",
                     "3 uart experiments/uart.ini 42 skylake incomplete - - "
                     "- -");
    /* Then the latest run, which was never ended. */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Run 3: uart"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "INCOMPLETE"));
    report_check_row(r.out, "Exits by reason", "IO_INSTRUCTION",
                     "IO_INSTRUCTION 1 1000 1000.0");
    report_check_row(r.out, "Totals", "instructions", "instructions -");
    report_check_row(r.out, "Totals", "events", "events 1");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "(no counters recorded)"));
    report_result_clear(&r);
}

static void test_compare(void)
{
    struct report_result r = report_run(report_db, "--compare", "1,2", NULL);
    g_autofree char *groups = NULL;

    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Run 1: uart"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Run 2: uart-pv"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "exits from counters"));
    groups = report_row(r.out, "Exits by reason", "run 1");
    CU_ASSERT_STRING_EQUAL(groups, "run 1 run 2");
    report_check_row(r.out, "Exits by reason", "IO_INSTRUCTION",
                     "IO_INSTRUCTION 3 3300 1100.0 7 7000 1000.0");
    report_check_row(r.out, "Exits by reason", "VMCALL",
                     "VMCALL 0 0 - 3 900 300.0");
    report_check_row(r.out, "Exits by reason", "HLT", "HLT 1 500 500.0 0 0 -");
    report_check_row(r.out, "Exits by reason", "total",
                     "total 7 8810 1258.6 10 7900 790.0");
    report_check_row(r.out, "Cycles by bucket", "0 guest",
                     "0 guest 6000 10 60.0% 3000 5 75.0%");
    report_check_row(r.out, "Cycles by bucket", "0 backend",
                     "0 backend - - - 1000 1 25.0%");
    report_check_row(r.out, "Cycles by bucket", "1 guest",
                     "1 guest 500 1 100.0% - - -");
    report_check_row(r.out, "Totals", "run 1", "run 1 run 2");
    report_check_row(r.out, "Totals", "instructions",
                     "instructions 2000000 3000000");
    report_check_row(r.out, "Totals", "speed (MIPS)", "speed (MIPS) 4.0 12.0");
    report_check_row(r.out, "Totals", "simulated time",
                     "simulated time 2.000 ms 1.000 ms");
    report_result_clear(&r);

    /* Three runs, one incomplete. */
    r = report_run(report_db, "--compare", "3,1,2", NULL);
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    report_check_row(r.out, "Totals", "instructions",
                     "instructions - 2000000 3000000");
    report_result_clear(&r);
}

/* Exit status 2 and @needle in the error output. */
static void report_check_fails(struct report_result r, const char *needle)
{
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, needle));
    if (strstr(r.err, needle) == NULL) {
        fprintf(stderr, "\n  stderr: '%s'\n  want: '%s'\n", r.err, needle);
    }
    report_result_clear(&r);
}

static void test_errors(void)
{
    g_autofree char *text = g_build_filename(report_tmpdir, "notes.txt", NULL);
    g_autofree char *empty = g_build_filename(report_tmpdir, "empty.db", NULL);
    g_autofree char *missing =
        g_build_filename(report_tmpdir, "nothing.db", NULL);
    struct report_result r;

    g_assert(g_file_set_contents(text, "hello\n", -1, NULL));
    report_check_fails(report_run(text, NULL), "not an iovsim trace database");
    report_check_fails(report_run(missing, NULL), "nothing.db");
    CU_ASSERT_FALSE(g_file_test(missing, G_FILE_TEST_EXISTS));
    report_check_fails(report_run(report_db, "--run", "9", NULL), "no run 9");
    report_check_fails(report_run(report_db, "--compare", "1,9", NULL),
                       "no run 9");
    report_check_fails(report_run(report_db, "--compare", "1", NULL),
                       "at least two");
    report_check_fails(report_run(report_db, "--compare", "1,x", NULL),
                       "'x' is not a run id");
    report_check_fails(
        report_run(report_db, "--run", "1", "--compare", "1,2", NULL),
        "exclude each other");
    report_check_fails(report_run(report_db, "--run", "0", NULL), "start at 1");
    /* -1 is not "the latest": run ids are positive. */
    report_check_fails(report_run(report_db, "--run", "-1", NULL),
                       "start at 1");
    report_check_fails(report_run(NULL), "no database");
    report_check_fails(report_run(report_db, report_db, NULL), "one database");
    report_check_fails(report_run(report_db, "--frobnicate", NULL),
                       "frobnicate");

    r = report_run("--help", NULL);
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--compare"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Exit status"));
    report_result_clear(&r);

    /* A fresh database with no runs. */
    {
        g_autoptr(GError) err = NULL;

        CU_ASSERT(trace_db_close(trace_db_open(empty, &err), &err));
    }
    r = report_run(empty, NULL);
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "no runs"));
    report_result_clear(&r);
}

/* Removes @dir/@name and its side files, then @dir (made writable). */
static void report_rm_dir(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_chmod(dir, 0755);
    for (size_t i = 0; i < G_N_ELEMENTS(report_side_files); i++) {
        g_autofree char *side = g_strconcat(path, report_side_files[i], NULL);

        g_remove(side);
    }
    g_remove(path);
    g_rmdir(dir);
}

/* What a read must leave as it was: the bytes, mtime and side files. */
struct report_snapshot {
    char *hash;
    gint64 mtime_ns;
    bool side[G_N_ELEMENTS(report_side_files)];
};

static void report_snapshot_take(const char *path, struct report_snapshot *s)
{
    GStatBuf sb;

    s->hash = report_hash(path);
    s->mtime_ns = g_stat(path, &sb) == 0
                      ? (gint64)sb.st_mtim.tv_sec * 1000000000 +
                            sb.st_mtim.tv_nsec
                      : -1;
    for (size_t i = 0; i < G_N_ELEMENTS(report_side_files); i++) {
        g_autofree char *side = g_strconcat(path, report_side_files[i], NULL);

        s->side[i] = g_file_test(side, G_FILE_TEST_EXISTS);
    }
}

/* Checks that @path is as in @before; frees @before. */
static void report_snapshot_check(const char *path,
                                  struct report_snapshot *before)
{
    struct report_snapshot after;

    report_snapshot_take(path, &after);
    CU_ASSERT_PTR_NOT_NULL(after.hash);
    CU_ASSERT_STRING_EQUAL(after.hash != NULL ? after.hash : "",
                           before->hash != NULL ? before->hash : "?");
    CU_ASSERT_EQUAL(after.mtime_ns, before->mtime_ns);
    for (size_t i = 0; i < G_N_ELEMENTS(report_side_files); i++) {
        CU_ASSERT_EQUAL(after.side[i], before->side[i]);
        if (after.side[i] != before->side[i]) {
            fprintf(stderr, "\n%s%s: %s by the report\n", path,
                    report_side_files[i],
                    after.side[i] ? "created" : "removed");
        }
    }
    g_free(after.hash);
    g_free(before->hash);
}

/*
 * In a child process: records a run with one committed batch into @path,
 * then exits without closing, as a killed iovsim would (its committed
 * batch is only in the -wal file, next to the -shm file).
 */
static void report_leave_killed(const char *path)
{
    const struct trace_run_info info = {
        .name = "killed", .seed = 1, .level = TRACE_LEVEL_EXITS};
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct trace_db *db = trace_db_open(path, NULL);

        if (db == NULL || trace_run_begin(db, &info, NULL) == 0) {
            _exit(3);
        }
        report_add_exit(db, 30, 1000);
        _exit(trace_flush(db, NULL) ? 0 : 4);
    }
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Reading never writes: not in a read-only directory (where SQLite would
 * fail to make its -wal and -shm files), and not anywhere, since files
 * made by another user's read would lock the owner out.  As root the
 * chmod does not stop writes, so what is checked is that the read
 * creates no file and leaves the database's bytes and mtime as they
 * were.  A database a killed run left (its last batches only in the
 * -wal file) is read with them.
 */
static void test_read_only(void)
{
    g_autofree char *dir = g_build_filename(report_tmpdir, "ro", NULL);
    g_autofree char *copy = g_build_filename(dir, "runs.db", NULL);
    g_autofree char *kdir = g_build_filename(report_tmpdir, "killed", NULL);
    g_autofree char *killed = g_build_filename(kdir, "k.db", NULL);
    g_autofree char *shm = g_strconcat(killed, "-shm", NULL);
    g_autofree char *data = NULL;
    struct report_snapshot snap;
    struct report_result r;
    gsize len;

    /* A database closed cleanly: no -wal file, everything in the file. */
    CU_ASSERT_FATAL(g_mkdir(dir, 0755) == 0);
    CU_ASSERT_FATAL(g_file_get_contents(report_db, &data, &len, NULL));
    CU_ASSERT_FATAL(g_file_set_contents(copy, data, (gssize)len, NULL));
    report_snapshot_take(copy, &snap);
    g_chmod(dir, 0555);
    r = report_run(copy, NULL);
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "uart-pv"));
    if (r.status != ANALYSIS_EXIT_OK) {
        fprintf(stderr, "\n  stderr: '%s'\n", r.err);
    }
    report_result_clear(&r);
    report_snapshot_check(copy, &snap);
    report_rm_dir(dir, "runs.db");

    /* A killed run: its batch is in the -wal file, which must be read. */
    CU_ASSERT_FATAL(g_mkdir(kdir, 0755) == 0);
    report_leave_killed(killed);
    CU_ASSERT_TRUE(g_file_test(shm, G_FILE_TEST_EXISTS));
    report_snapshot_take(killed, &snap);
    g_chmod(kdir, 0555);
    r = report_run(killed, "--run", "1", NULL);
    CU_ASSERT_EQUAL(r.status, ANALYSIS_EXIT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "IO_INSTRUCTION"));
    if (r.status != ANALYSIS_EXIT_OK) {
        fprintf(stderr, "\n  stderr: '%s'\n", r.err);
    }
    report_result_clear(&r);
    report_snapshot_check(killed, &snap);

    /*
     * The same without its -shm file: SQLite would have to create one,
     * so the report refuses and says why, creating nothing.
     */
    g_chmod(kdir, 0755);
    g_remove(shm);
    report_snapshot_take(killed, &snap);
    g_chmod(kdir, 0555);
    report_check_fails(report_run(killed, NULL), "-shm");
    report_snapshot_check(killed, &snap);
    report_rm_dir(kdir, "k.db");
}

static CU_TestInfo report_tests[] = {
    {"one run: exits, buckets, totals", test_one_run},
    {"run list, then the latest (incomplete) run", test_run_list},
    {"--compare side by side", test_compare},
    {"usage and database errors exit 2", test_errors},
    {"reading never writes, also a killed run's -wal", test_read_only},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_report_suites[] = {
    {"analysis/report", report_suite_init, report_suite_clean, NULL, NULL,
     report_tests},
    CU_SUITE_INFO_NULL,
};
