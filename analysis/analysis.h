/*
 * analysis/analysis.h: reading trace databases back (docs/trace-schema.md).
 *
 * `iovsim report DB [--run N] [--compare RUN,RUN...]` prints text tables:
 * the runs in DB, then for one run (the latest, or N) or side by side for
 * several: VM exits by reason (count, total and mean cycles), cycles by
 * bucket per VM, and the totals (instructions, simulated time, host time,
 * speed).  The database is opened read-only and never changed.
 */
#ifndef SIM_ANALYSIS_ANALYSIS_H
#define SIM_ANALYSIS_ANALYSIS_H

#include "sim/common.h"

#include <stdio.h>

/* Exit statuses of analysis_report() (also in its --help). */
enum {
    ANALYSIS_EXIT_OK = 0,    /* the report was printed (or --help) */
    ANALYSIS_EXIT_USAGE = 2, /* bad arguments, or the database cannot be
                                read: missing, not iovsim's, newer schema,
                                no such run */
};

/*
 * `iovsim report`: @argv[0] is the command's name ("iovsim report"), the
 * rest its arguments; GOption parses them (and may permute @argv).
 * Writes the report (and --help) to @out, errors to @err.
 * Returns: an ANALYSIS_EXIT_* status.
 */
int analysis_report(int argc, char **argv, FILE *out, FILE *err);
/* The same on stdout and stderr, for sim/main.c's command dispatch. */
int analysis_report_main(int argc, char **argv);

#endif /* SIM_ANALYSIS_ANALYSIS_H */
