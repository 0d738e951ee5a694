/*
 * sim/main.c: the iovsim command line.  `iovsim run CONFIG` builds the
 * machine an experiment file describes, runs it, prints why it stopped and
 * the run's statistics, and maps the outcome to an exit status (see
 * main_description).  This is the only place that may exit() on errors,
 * and the only file with a mutable global: the machine pointer the SIGINT
 * handler needs.
 */
#include "sim/common.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "sim/sim.h"
#include "traces/traces.h"
#include "analysis/analysis.h"

/* Exit statuses (also in --help and README.md). */
enum {
    MAIN_EXIT_OK = 0,         /* guest exit 0, or a limit reached */
    MAIN_EXIT_GUEST_FAIL = 1, /* guest exited with a nonzero status */
    MAIN_EXIT_USAGE = 2,      /* usage, config or ELF error */
    MAIN_EXIT_GUEST_DEAD = 3, /* triple fault, or halted forever */
    MAIN_EXIT_LOST = 4,       /* the run ended, but output was lost */
    MAIN_EXIT_SIGINT = 130,   /* interrupted */
};

static const char main_exit_help[] =
    "Exit status:\n"
    "  0    the guest exited with status 0, or a limit was reached\n"
    "  1    the guest exited with a nonzero status (printed)\n"
    "  2    usage, configuration or guest ELF error\n"
    "  3    the guest triple-faulted, or halted with nothing to wake it\n"
    "  4    the run ended, but some of its output could not be written\n"
    "       (console output, or trace events the database could not take)\n"
    "  130  interrupted by SIGINT (Ctrl-C)\n";

/* The machine the SIGINT handler stops (STYLE rule 3's one exception). */
static struct sim_machine *volatile main_machine;

static void main_on_sigint(int sig)
{
    struct sim_machine *m = main_machine;

    (void)sig;
    if (m != NULL) {
        sim_machine_request_stop(m);
    }
}

static void main_print_unsupported(const char *mnemonic, uint64_t count,
                                   void *opaque)
{
    FILE *out = opaque;

    fprintf(out, "unsupported instruction: %s x %" PRIu64 " -> #UD\n", mnemonic,
            count);
}

static void main_print_stats(struct sim_machine *m, FILE *out)
{
    const struct sim_config *cfg = sim_machine_config(m);
    struct sim_stats st;
    struct cpu_stats cs;
    double host_s;

    sim_machine_get_stats(m, &st);
    sim_machine_cpu_stats(m, &cs);
    host_s = (double)st.host_ns / 1e9;
    fprintf(out, "instructions retired: %" PRIu64 "\n", st.instructions);
    fprintf(out,
            "simulated cycles: %" PRIu64 " (profile %s, %" PRIu32 " MHz)\n",
            st.cycles, cfg->profile.name, cfg->profile.freq_mhz);
    fprintf(out, "simulated time: %.3f ms\n", (double)st.sim_time_ns / 1e6);
    fprintf(out, "host time: %.3f s\n", host_s);
    fprintf(out, "guest MIPS: %.1f\n",
            host_s > 0 ? (double)st.instructions / host_s / 1e6 : 0.0);
    fprintf(out,
            "host memory: peak resident %.1f MiB, guest RAM resident "
            "%.1f MiB, beyond guest RAM %.1f MiB\n",
            (double)st.host_peak_rss / 1048576.0,
            (double)st.ram_resident / 1048576.0,
            ((double)st.host_peak_rss - (double)st.ram_resident) / 1048576.0);
    fprintf(out, "exceptions: %" PRIu64 "\n", cs.exceptions);
    if (cs.irq_raised > 0) {
        uint64_t missed = cs.irq_raised - cs.irq_delivered;

        /* Raised while one was pending: merged, never delivered apart. */
        fprintf(out,
                "interrupts: %" PRIu64 " raised, %" PRIu64 " delivered, %" PRIu64
                " merged or pending%s\n",
                cs.irq_raised, cs.irq_delivered, missed,
                missed * 10 > cs.irq_raised
                    ? " (the guest does not keep up with its interrupts)"
                    : "");
    }
    fprintf(out, "TLB misses: %" PRIu64 ", flushes: %" PRIu64 "\n",
            cs.tlb_misses, cs.tlb_flushes);
    fprintf(out,
            "blocks decoded: %" PRIu64 " (%" PRIu64 " instructions), "
            "invalidated: %" PRIu64 "\n",
            cs.blocks_decoded, cs.insns_decoded, cs.block_invalidations);
    fprintf(out,
            "port I/O: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
            " unclaimed, %" PRIu64 " refused\n",
            st.io.reads, st.io.writes,
            st.io.unclaimed_reads + st.io.unclaimed_writes, st.io.errors);
    if (st.mmio.reads + st.mmio.writes > 0) {
        fprintf(out,
                "MMIO: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
                " unclaimed, %" PRIu64 " refused\n",
                st.mmio.reads, st.mmio.writes,
                st.mmio.unclaimed_reads + st.mmio.unclaimed_writes,
                st.mmio.errors);
    }
    if (st.dma_reads + st.dma_writes + st.dma_refused > 0) {
        fprintf(out,
                "DMA: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
                " bytes, %" PRIu64 " refused (outside the VM's memory)\n",
                st.dma_reads, st.dma_writes, st.dma_bytes, st.dma_refused);
    }
    if (st.msi_dropped > 0) {
        fprintf(out, "MSI: %" PRIu64 " dropped (no vCPU with that "
                "destination, or a delivery mode not modelled)\n",
                st.msi_dropped);
    }
    if (st.console_dropped > 0) {
        fprintf(out,
                "console: %" PRIu64 " bytes, %" PRIu64 " beyond the "
                "in-memory buffer\n",
                st.console_bytes, st.console_dropped);
    }
    cpu_unsupported_foreach(sim_machine_cpu(m), main_print_unsupported, out);
    fprintf(out, "cycles by bucket:");
    for (unsigned b = 0; b < G_N_ELEMENTS(st.buckets); b++) {
        fprintf(out, " %s %" PRIu64, sim_bucket_name(b), st.buckets[b]);
    }
    fprintf(out, "\n");
    /* With several VMs, each one's share. */
    for (unsigned i = 0; sim_machine_vm_count(m) > 1 &&
                         i < sim_machine_vm_count(m);
         i++) {
        struct sim_vm *vm = sim_machine_vm(m, i);
        struct sim_stats vs;
        uint64_t exits = 0;

        sim_vm_get_stats(vm, &vs);
        for (unsigned r = 0; r < G_N_ELEMENTS(vs.exits); r++) {
            exits += vs.exits[r];
        }
        fprintf(out, "VM %s: %" PRIu64 " instructions, %" PRIu64
                " VM exits, cycles by bucket:",
                sim_vm_name(vm), vs.instructions, exits);
        for (unsigned b = 0; b < G_N_ELEMENTS(vs.buckets); b++) {
            fprintf(out, " %s %" PRIu64, sim_bucket_name(b), vs.buckets[b]);
        }
        fprintf(out, "\n");
    }
    for (unsigned r = 0; r < G_N_ELEMENTS(st.exits); r++) {
        if (st.exits[r] == 0) {
            continue;
        }
        fprintf(out,
                "VM exit %-20s count %10" PRIu64 "  cycles %12" PRIu64
                "  mean %8.1f\n",
                vmx_exit_reason_name(r), st.exits[r], st.exit_cycles[r],
                (double)st.exit_cycles[r] / (double)st.exits[r]);
    }
}

static int main_exit_status(struct sim_machine *m, enum sim_stop stop)
{
    uint32_t status = 0;

    switch (stop) {
    case SIM_STOP_EXIT:
        sim_machine_exit_status(m, &status);
        return status == 0 ? MAIN_EXIT_OK : MAIN_EXIT_GUEST_FAIL;
    case SIM_STOP_INSN_LIMIT:
    case SIM_STOP_TIME_LIMIT:
        return MAIN_EXIT_OK;
    case SIM_STOP_INTERRUPTED:
        return MAIN_EXIT_SIGINT;
    case SIM_STOP_TRIPLE_FAULT:
    case SIM_STOP_HALTED:
    case SIM_STOP_EXCEPTION:
    case SIM_STOP_VMM_ERROR:
    case SIM_STOP_UNSUPPORTED:
        return MAIN_EXIT_GUEST_DEAD;
    }
    return MAIN_EXIT_GUEST_DEAD;
}

static int main_run(int argc, char **argv)
{
    g_auto(GStrv) sets = NULL;
    g_autofree char *seed = NULL;
    g_autofree char *console_path = NULL;
    g_autofree char *db = NULL;
    g_autofree char *level = NULL;
    GOptionEntry entries[] = {
        {"set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
         "Override a key of CONFIG (repeatable), e.g. "
         "--set machine.memory=128M",
         "SECTION.KEY=VALUE"},
        {"seed", 0, 0, G_OPTION_ARG_STRING, &seed,
         "Same as --set experiment.seed=N", "N"},
        {"console", 0, 0, G_OPTION_ARG_FILENAME, &console_path,
         "Write the guest's console output to FILE instead of stdout", "FILE"},
        {"db", 0, 0, G_OPTION_ARG_FILENAME, &db,
         "Record the run in the SQLite database FILE (created if missing; "
         "same as --set trace.file=FILE)",
         "FILE"},
        {"trace", 0, 0, G_OPTION_ARG_STRING, &level,
         "What to record: summary (totals and counters), io (and "
         "request-level I/O), exits (and every VM exit and device register "
         "access), full (and the trapped instructions, disassembled); "
         "same as --set trace.level=LEVEL",
         "LEVEL"},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("CONFIG - run an experiment");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) all_sets = g_ptr_array_new_with_free_func(g_free);
    struct sim_config *cfg;
    struct sim_machine *m;
    struct sigaction sa;
    FILE *console = stdout;
    enum sim_stop stop;
    int console_errno;
    int status;
    char *msg;

    g_set_prgname("iovsim run");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "Builds the machine described by the experiment file CONFIG (an\n"
             "INI file: [experiment] name, seed; [machine] mode, memory, "
             "profile;\n[guest] program; [limits] instructions, time), loads "
             "the guest\nprogram and runs it until it writes the exit port "
             "(0xF4), a limit\nis reached, it triple-faults or halts, or "
             "SIGINT.  Then prints\n\"iovsim: stopped: REASON\" and the "
             "statistics.  See README.md.");
    g_option_context_set_description(ctx, main_exit_help);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "iovsim run: %s\nTry 'iovsim run --help'.\n",
                error->message);
        return MAIN_EXIT_USAGE;
    }
    if (argc != 2) {
        fprintf(stderr,
                "iovsim run: expected one CONFIG file, got %d "
                "arguments\nTry 'iovsim run --help'.\n",
                argc - 1);
        return MAIN_EXIT_USAGE;
    }
    for (size_t i = 0; sets != NULL && sets[i] != NULL; i++) {
        g_ptr_array_add(all_sets, g_strdup(sets[i]));
    }
    if (seed != NULL) {
        g_ptr_array_add(all_sets, g_strdup_printf("experiment.seed=%s", seed));
    }
    if (db != NULL) {
        g_ptr_array_add(all_sets, g_strdup_printf("trace.file=%s", db));
    }
    if (level != NULL) {
        g_ptr_array_add(all_sets, g_strdup_printf("trace.level=%s", level));
    }
    g_ptr_array_add(all_sets, NULL);

    cfg =
        sim_config_load(argv[1], (const char *const *)all_sets->pdata, &error);
    if (cfg == NULL) {
        fprintf(stderr, "iovsim: %s\n", error->message);
        return MAIN_EXIT_USAGE;
    }
    /* Before the machine: it begins the run in the database. */
    if (console_path != NULL) {
        console = fopen(console_path, "w");
        if (console == NULL) {
            fprintf(stderr, "iovsim: --console %s: %s\n", console_path,
                    g_strerror(errno));
            sim_config_free(cfg);
            return MAIN_EXIT_USAGE;
        }
    }
    m = sim_machine_new(cfg, &error);
    if (m == NULL) {
        fprintf(stderr, "iovsim: %s\n", error->message);
        if (console != stdout) {
            fclose(console);
        }
        return MAIN_EXIT_USAGE;
    }
    sim_machine_set_console_sink(m, console);

    main_machine = m;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    stop = sim_machine_run(m);

    signal(SIGINT, SIG_DFL);
    main_machine = NULL;
    console_errno = sim_machine_console_errno(m);
    errno = 0;
    if ((fflush(console) != 0 || ferror(console)) && console_errno == 0) {
        console_errno = errno != 0 ? errno : EIO;
    }
    errno = 0;
    if (console != stdout && fclose(console) != 0 && console_errno == 0) {
        console_errno = errno != 0 ? errno : EIO;
    }
    sim_machine_set_console_sink(m, NULL);
    msg = sim_machine_stop_message(m);
    /* Start on a fresh line if the guest left one open. */
    if (console == stdout) {
        size_t len;
        const char *text = sim_machine_console(m, &len);

        if (len > 0 && text[len - 1] != '\n') {
            fputc('\n', stdout);
        }
    }
    printf("iovsim: stopped: %s\n", msg);
    g_free(msg);
    main_print_stats(m, stdout);
    status = main_exit_status(m, stop);
    if (console_errno != 0) {
        fprintf(stderr, "iovsim: %s%s: guest console output lost: %s\n",
                console_path != NULL ? "--console " : "standard output",
                console_path != NULL ? console_path : "",
                g_strerror(console_errno));
        status = status == MAIN_EXIT_SIGINT ? status : MAIN_EXIT_LOST;
    }
    if (sim_machine_trace_error(m) != NULL) {
        fprintf(stderr, "iovsim: trace data lost: %s\n",
                sim_machine_trace_error(m)->message);
        status = status == MAIN_EXIT_SIGINT ? status : MAIN_EXIT_LOST;
    }
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) &&
        (console_errno == 0 || console != stdout)) {
        fprintf(stderr, "iovsim: standard output: %s\n",
                g_strerror(errno != 0 ? errno : EIO));
        status = status == MAIN_EXIT_SIGINT ? status : MAIN_EXIT_LOST;
    }
    sim_machine_free(m);
    return status;
}

static int main_version(void)
{
    printf("iovsim %s\n", SIM_VERSION);
    return MAIN_EXIT_OK;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "COMMAND [ARGS...] - I/O-virtualization research simulator");
    g_autoptr(GError) error = NULL;
    GOptionEntry entries[] = {G_OPTION_ENTRY_NULL};
    char run_name[] = "iovsim run";
    char report_name[] = "iovsim report";
    char bench_name[] = "iovsim bench-trace";

    /* Localised help text, but "0.5" never "0,5" in the statistics. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_strict_posix(ctx, TRUE); /* stop at COMMAND */
    g_option_context_set_summary(
        ctx, "iovsim runs real x86-64 guest programs on a cycle-approximate\n"
             "software CPU and reports how long they take in simulated time.\n"
             "\n"
             "Commands:\n"
             "  run CONFIG [--set SECTION.KEY=VALUE ...] [--seed N] "
             "[--console FILE]\n"
             "                run the experiment file CONFIG "
             "(see 'iovsim run --help')\n"
             "  report DB [--run N] [--compare RUN,RUN...]\n"
             "                print the runs recorded in the database DB "
             "(see\n                'iovsim report --help')\n"
             "  vmcs          list the VM-exit reasons, VMCS fields and VMX\n"
             "                capability MSRs the model implements\n"
             "  version       print the version");
    g_option_context_set_description(ctx, main_exit_help);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "iovsim: %s\nTry 'iovsim --help'.\n", error->message);
        return MAIN_EXIT_USAGE;
    }
    if (argc < 2) {
        fprintf(stderr, "iovsim: no command given\n"
                        "Try 'iovsim --help'.\n");
        return MAIN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "run") == 0) {
        argv[1] = run_name;
        return main_run(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "version") == 0) {
        if (argc != 2) {
            fprintf(stderr, "iovsim version takes no arguments\n");
            return MAIN_EXIT_USAGE;
        }
        return main_version();
    }
    if (strcmp(argv[1], "report") == 0) {
        argv[1] = report_name;
        g_set_prgname(report_name);
        return analysis_report_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "bench-trace") == 0) {
        /* Undocumented: the SQLite figure of `make bench`. */
        argv[1] = bench_name;
        return trace_bench_main(argc - 1, argv + 1, stdout);
    }
    if (strcmp(argv[1], "vmcs") == 0) {
        if (argc != 2) {
            fprintf(stderr, "iovsim vmcs takes no arguments\n");
            return MAIN_EXIT_USAGE;
        }
        vmx_print_tables(stdout);
        return MAIN_EXIT_OK;
    }
    fprintf(stderr, "iovsim: unknown command '%s'\nTry 'iovsim --help'.\n",
            argv[1]);
    return MAIN_EXIT_USAGE;
}
