/*
 * traces/bench.c: the trace-writing benchmark behind `make bench`'s
 * "sqlite events: X M/s" line (`iovsim bench-trace FILE [N]`).  The events
 * imitate a UART-bound guest under the VMM: each port write is a VM exit
 * (I/O instruction) followed by the device access, at level exits.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <stdio.h>

#include <glib.h>

#include "traces/traces.h"

#define TRACE_BENCH_DEFAULT_N 4000000
#define TRACE_BENCH_UART 0x3f8

/* Event @i of the benchmark stream. */
static void trace_bench_fill(uint64_t i, struct trace_event *ev)
{
    const uint64_t k = i / 2;

    ev->time = i * 600;
    ev->vm = (uint32_t)(k & 1);
    ev->vcpu = 0;
    ev->rip = 0x401000 + (k & 0xff) * 4;
    if ((i & 1) == 0) {
        ev->kind = TRACE_EVENT_VMEXIT;
        ev->exit_reason = 30; /* I/O instruction */
        ev->addr = TRACE_BENCH_UART;
        ev->size = 1;
        /*
         * Exit qualification of `out dx, al` (spec/vmx.md §8; SDM 3C "VM
         * Exits"): size 1 (bits 2:0 = 0), OUT (bit 3 = 0), port in DX
         * (bit 6 = 0), port number in bits 31:16.
         */
        ev->value = (uint64_t)TRACE_BENCH_UART << 16;
        ev->cost = 1150 + (k & 63);
        ev->device = 0;
    } else {
        ev->kind = TRACE_EVENT_IO_WRITE;
        ev->exit_reason = 0;
        ev->addr = TRACE_BENCH_UART;
        ev->size = 1;
        ev->value = 'a' + k % 26;
        ev->cost = 300;
        ev->device = 1;
    }
}

bool trace_bench_events(const char *path, uint64_t n, double *events_per_s,
                        GError **error)
{
    const struct trace_run_info info = {
        .name = "bench-trace",
        .profile = "none",
        .level = TRACE_LEVEL_EXITS,
    };
    struct trace_event ev = {0};
    struct trace_run_totals totals = {0};
    struct trace_db *db;
    int64_t run;
    gint64 t0;
    gint64 t1;

    db = trace_db_open(path, error);
    if (db == NULL) {
        return false;
    }
    run = trace_run_begin(db, &info, error);
    if (run == 0 || !trace_device_add(db, 1, 0, "uart0", error)) {
        trace_db_close(db, NULL);
        return false;
    }
    t0 = g_get_monotonic_time();
    for (uint64_t i = 0; i < n; i++) {
        trace_bench_fill(i, &ev);
        trace_event(db, &ev);
    }
    totals.cycles = n * 600;
    totals.stop_reason = "exit";
    if (!trace_run_end(db, run, &totals, error)) {
        trace_db_close(db, NULL);
        return false;
    }
    t1 = g_get_monotonic_time();
    if (!trace_db_close(db, error)) {
        return false;
    }
    *events_per_s = (double)n * 1e6 / (double)MAX(t1 - t0, 1);
    return true;
}

int trace_bench_main(int argc, char **argv, FILE *out)
{
    GOptionEntry entries[] = {G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("FILE [N] - SQLite events per second");
    g_autoptr(GError) error = NULL;
    guint64 n = TRACE_BENCH_DEFAULT_N;
    double rate;

    /* No options, but "--bogus" must be refused, not taken as FILE. */
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "usage: %s FILE [N]: %s\n", argv[0], error->message);
        return 2;
    }
    if (argc < 2 || argc > 3 ||
        (argc == 3 && !g_ascii_string_to_unsigned(
                          argv[2], 10, 1, UINT64_C(1) << 40, &n, &error))) {
        fprintf(stderr, "usage: %s FILE [N]%s%s\n", argv[0],
                error != NULL ? ": " : "", error != NULL ? error->message : "");
        return 2;
    }
    if (!trace_bench_events(argv[1], n, &rate, &error)) {
        fprintf(stderr, "%s: %s\n", argv[0], error->message);
        return 2;
    }
    fprintf(out, "sqlite events: %.1f M/s\n", rate / 1e6);
    return 0;
}
