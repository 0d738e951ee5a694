/*
 * tests/fuzz/fuzz-traces.c: `iovsim report` on arbitrary database files.
 * The input is written as a file and reported twice through
 * analysis_report(), the function `iovsim report DB` calls: once plain
 * and once with --compare 1,2.  A foreign, corrupt or truncated database
 * must be refused with status ANALYSIS_EXIT_USAGE and a message on the
 * error stream; it must never crash, hang or leak.  The seed corpus is a
 * real run recorded at level exits (made by `make fuzz`).
 */
#include "sim/common.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "analysis/analysis.h"

/* libFuzzer's entry points take no context, so what
 * LLVMFuzzerInitialize() sets up is file-scope. */
static char *fuzz_db_path;
static FILE *fuzz_out;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir = g_dir_make_tmp("iovsim-fuzz-traces-XXXXXX", NULL);

    g_assert(dir != NULL);
    fuzz_db_path = g_build_filename(dir, "trace.db", NULL);
    g_free(dir);
    fuzz_out = fopen("/dev/null", "w");
    g_assert(fuzz_out != NULL);
    return 0;
}

static void fuzz_report(int argc, char **argv)
{
    FILE *err = tmpfile();
    int status;

    g_assert(err != NULL);
    status = analysis_report(argc, argv, fuzz_out, err);
    if (status != ANALYSIS_EXIT_OK &&
        (status != ANALYSIS_EXIT_USAGE || ftell(err) == 0)) {
        abort();
    }
    fclose(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[] = "iovsim report";
    char compare[] = "--compare";
    char runs[] = "1,2";
    char *plain[] = {name, fuzz_db_path, NULL};
    char *side[] = {name, fuzz_db_path, compare, runs, NULL};

    g_assert(g_file_set_contents(fuzz_db_path, (const char *)data,
                                 (gssize)size, NULL));
    fuzz_report(2, plain);
    fuzz_report(4, side);
    return 0;
}
