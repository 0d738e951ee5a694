/*
 * tests/sim/test-main.c: the iovsim command line (sim/main.c), run as
 * build/iovsim in a child process, each case a tiny guest that runs in a
 * few milliseconds.  Output that cannot be written (--console to a full
 * device, standard output on one) is an error exit status naming the
 * file; a --console that cannot be opened leaves no run in the database;
 * --db takes its file name exactly; stray arguments and unknown options
 * are usage errors (status 2); trace events the database refuses are
 * exit status 4.
 */
#include "sim/common.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tests/sim/tiny-elf.h"
#include "tests/tmpdir.h"

/* The suite's scratch directory and the files in it. */
static char *main_tmpdir;
static char *main_iovsim; /* absolute path of build/iovsim */
static char *main_config; /* a guest that prints "hi\n" and exits 0 */

static int main_suite_init(void)
{
    /*
     * mov al,'h'; out 0xe9,al; mov al,'i'; out 0xe9,al; mov al,10;
     * out 0xe9,al; xor eax,eax; out 0xf4,eax
     */
    static const uint8_t code[] = {0xb0, 0x68, 0xe6, 0xe9, 0xb0, 0x69,
                                   0xe6, 0xe9, 0xb0, 0x0a, 0xe6, 0xe9,
                                   0x31, 0xc0, 0xe7, 0xf4};
    g_autofree char *prog = NULL;
    g_autofree char *text = NULL;

    main_tmpdir = g_dir_make_tmp("iovsim-main-XXXXXX", NULL);
    if (main_tmpdir == NULL) {
        return 1;
    }
    main_iovsim = g_canonicalize_filename("build/iovsim", NULL);
    prog = tiny_elf_write(main_tmpdir, "hi.elf", code, sizeof(code));
    text = g_strdup_printf("[machine]\nmemory = 4M\n[guest]\nprogram = %s\n",
                           prog);
    main_config = g_build_filename(main_tmpdir, "hi.ini", NULL);
    return !g_file_set_contents(main_config, text, -1, NULL);
}

static int main_suite_clean(void)
{
    tests_tmpdir_remove(&main_tmpdir);
    g_clear_pointer(&main_iovsim, g_free);
    g_clear_pointer(&main_config, g_free);
    return 0;
}

/* In the child: standard output on /dev/full. */
static void main_stdout_full(gpointer unused)
{
    int fd = open("/dev/full", O_WRONLY);

    (void)unused;
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
}

/*
 * Runs build/iovsim with the NULL-terminated arguments in the scratch
 * directory, standard output on /dev/full if @stdout_full.
 * Returns: the exit status (-1 if it did not exit); *@err: its standard
 * error (g_free).
 */
static int main_run(bool stdout_full, char **err, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    gint wait_status = 0;
    va_list ap;

    g_ptr_array_add(argv, main_iovsim);
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(main_tmpdir, (char **)argv->pdata, NULL,
                      stdout_full ? G_SPAWN_DEFAULT
                                  : G_SPAWN_STDOUT_TO_DEV_NULL,
                      stdout_full ? main_stdout_full : NULL, NULL, NULL, err,
                      &wait_status, &error)) {
        fprintf(stderr, "\ncannot run %s: %s\n", main_iovsim, error->message);
        *err = g_strdup("");
        return -1;
    }
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

/* Asserts @status and that @err contains @needle. */
static void main_check(int status, char *err, int want, const char *needle)
{
    CU_ASSERT_EQUAL(status, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    if (status != want || strstr(err, needle) == NULL) {
        fprintf(stderr, "\n  status %d (want %d), stderr: '%s'\n  want: '%s'\n",
                status, want, err, needle);
    }
    g_free(err);
}

static void test_console_full(void)
{
    char *err = NULL;
    int status;

    status = main_run(false, &err, "run", main_config, "--console",
                      "/dev/full", NULL);
    main_check(status, err, 4, "/dev/full");
    status = main_run(true, &err, "run", main_config, NULL);
    main_check(status, err, 4, "standard output");
    /* The same run, written somewhere that works, is fine. */
    status = main_run(false, &err, "run", main_config, NULL);
    main_check(status, err, 0, "");
}

static void test_console_before_db(void)
{
    g_autofree char *db = g_build_filename(main_tmpdir, "c.db", NULL);
    g_autofree char *bad =
        g_build_filename(main_tmpdir, "no-such-dir", "out.txt", NULL);
    char *err = NULL;
    int status;

    status = main_run(false, &err, "run", main_config, "--db", db,
                      "--console", bad, NULL);
    main_check(status, err, 2, "no-such-dir");
    /* Failed before touching the database: no phantom incomplete run. */
    CU_ASSERT_FALSE(g_file_test(db, G_FILE_TEST_EXISTS));
}

static void test_db_name_exact(void)
{
    g_autofree char *spaced = g_build_filename(main_tmpdir, "x.db ", NULL);
    g_autofree char *trimmed = g_build_filename(main_tmpdir, "x.db", NULL);
    char *err = NULL;
    int status;

    status = main_run(false, &err, "run", main_config, "--db", "x.db ", NULL);
    main_check(status, err, 0, "");
    CU_ASSERT_TRUE(g_file_test(spaced, G_FILE_TEST_IS_REGULAR));
    CU_ASSERT_FALSE(g_file_test(trimmed, G_FILE_TEST_EXISTS));
}

static void test_stray_arguments(void)
{
    g_autofree char *bogus = g_build_filename(main_tmpdir, "--bogus", NULL);
    char *err = NULL;
    int status;

    status = main_run(false, &err, "version", "x", NULL);
    main_check(status, err, 2, "iovsim version takes no arguments");
    status = main_run(false, &err, "vmcs", "x", NULL);
    main_check(status, err, 2, "iovsim vmcs takes no arguments");
    status = main_run(false, &err, "bench-trace", "--bogus", "10", NULL);
    main_check(status, err, 2, "--bogus");
    CU_ASSERT_FALSE(g_file_test(bogus, G_FILE_TEST_EXISTS));
}

/*
 * Trace data that cannot be written (a full disk; here an SQLite failure
 * injected by a trigger) is exit status 4, with a message saying how
 * much was lost, and the run's row says it too.
 */
static void test_trace_lost(void)
{
    g_autofree char *db = g_build_filename(main_tmpdir, "lost.db", NULL);
    g_autofree char *make = NULL;
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    char *err = NULL;
    int status;

    /* A database that refuses every event, as a full disk would. */
    status = main_run(false, &err, "run", main_config, "--db", db, NULL);
    main_check(status, err, 0, "");
    CU_ASSERT_FATAL(sqlite3_open(db, &sql) == SQLITE_OK);
    CU_ASSERT_FATAL(
        sqlite3_exec(sql,
                     "CREATE TRIGGER full BEFORE INSERT ON events BEGIN "
                     "SELECT RAISE(FAIL, 'database or disk is full'); END",
                     NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(sql);
    sql = NULL;

    status = main_run(false, &err, "run", main_config, "--db", db, "--trace",
                      "exits", NULL);
    main_check(status, err, 4, "lost 4 events");

    CU_ASSERT_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY, NULL) ==
                    SQLITE_OK);
    CU_ASSERT_FATAL(sqlite3_prepare_v2(sql,
                                       "SELECT complete, lost_events, error, "
                                       "stop_reason FROM runs WHERE id = 2",
                                       -1, &st, NULL) == SQLITE_OK);
    CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 0);
    CU_ASSERT_EQUAL(sqlite3_column_int(st, 1), 4);
    CU_ASSERT_PTR_NOT_NULL(
        strstr((const char *)sqlite3_column_text(st, 2), "disk is full"));
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 3), "exit");
    sqlite3_finalize(st);
    sqlite3_close(sql);
}

static CU_TestInfo main_tests[] = {
    {"console output that cannot be written is an error",
     test_console_full},
    {"a bad --console fails before the database is touched",
     test_console_before_db},
    {"--db takes its name exactly", test_db_name_exact},
    {"stray arguments and unknown options exit 2", test_stray_arguments},
    {"trace data that cannot be written is exit status 4", test_trace_lost},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_main_suites[] = {
    {"sim/main", main_suite_init, main_suite_clean, NULL, NULL, main_tests},
    CU_SUITE_INFO_NULL,
};
