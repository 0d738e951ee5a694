/*
 * tests/fuzz/fuzz-cpu.c: the CPU and the VMM on random guest code.  The
 * input's first byte chooses the initial registers (0: the guest ABI's;
 * otherwise the GPRs other than RSP are filled from it, half of them with
 * addresses in guest RAM); the rest is machine code, loaded at
 * TINY_ELF_BASE and entered at CPL 0 in long mode.  It runs natively and
 * under VMX (machine.mode = hvm) with an instruction and a time limit.
 * Checked, beyond crashes, ASan and UBSan:
 *   - the guest never writes the simulator's memory: ASan watches the
 *     heap, stacks and globals; under hvm the VMM's pages below guest RAM
 *     (EPT tables, bitmaps) must hash the same before and after the run;
 *   - every run ends within its limits: instructions <= limit + INSN_SLACK,
 *     cycles <= time limit + CYCLE_SLACK, host time <= WALL_MAX_NS;
 *   - native and hvm agree on the guest's final GPRs, RIP, RFLAGS, RAM and
 *     console output when the comparison is meaningful (fuzz_comparable()
 *     says when, and why the rest is skipped).
 * A violation prints both runs and aborts, so libFuzzer keeps the input.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "sim/sim.h"
#include "tests/sim/tiny-elf.h"

#define INSN_LIMIT 20000
#define TIME_LIMIT_NS 10000000 /* 10 ms of simulated time */
/* A run stops at the first check after a limit: allow one instruction's
 * worth of overshoot (an exit costs thousands of cycles). */
#define INSN_SLACK 16
#define CYCLE_SLACK 1000000
#define WALL_MAX_NS (UINT64_C(2) * 1000000000)
#define GUEST_BASE (UINT64_C(2) << 20)

struct fuzz_run {
    const char *mode;
    struct sim_machine *m; /* kept until compared */
    enum sim_stop stop;
    char *message;
    struct sim_guest_regs regs;
    uint64_t console_hash;
    bool paging_written; /* the guest changed its page tables */
    uint64_t tsc_reads;  /* RDTSC and the like */
    struct sim_stats stats;
};

/* libFuzzer's entry points take no context, so what
 * LLVMFuzzerInitialize() sets up is file-scope. */
static char *fuzz_dir;

/* Hashes MiBs per run: kept out of the coverage and ASan instrumentation,
 * which would otherwise take most of the time. */
__attribute__((no_sanitize("coverage", "address"))) static uint64_t
fuzz_hash(const uint8_t *p, uint64_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (uint64_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    return h;
}

/* Guest RAM is hashed only for the runs that are compared. */
static uint64_t fuzz_ram_hash(const struct fuzz_run *r)
{
    uint64_t size;
    uint8_t *ram = sim_machine_ram(r->m, &size);

    return fuzz_hash(ram, size);
}

/*
 * Did the guest change the guest ABI's page tables (@before: as built),
 * other than the accessed and dirty bits the page walker sets?
 */
static bool fuzz_paging_written(const uint8_t *now, const uint8_t *before,
                                uint64_t len)
{
    const uint64_t ad = UINT64_C(0x60);

    for (uint64_t i = 0; i + 8 <= len; i += 8) {
        uint64_t a, b;

        memcpy(&a, now + i, 8);
        memcpy(&b, before + i, 8);
        if ((a | ad) != (b | ad)) {
            return true;
        }
    }
    return false;
}

static uint64_t fuzz_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Deterministic register values from the seed byte (splitmix64). */
static void fuzz_seed_registers(struct cpu *cpu, uint8_t seed)
{
    uint64_t x = seed;

    for (unsigned r = 0; r < CPU_NGPR; r++) {
        uint64_t v;

        x += UINT64_C(0x9e3779b97f4a7c15);
        v = x;
        v = (v ^ (v >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        v = (v ^ (v >> 27)) * UINT64_C(0x94d049bb133111eb);
        v ^= v >> 31;
        if (r == CPU_RSP) {
            continue;
        }
        if (v & 1) {
            v = TINY_ELF_BASE + (v >> 8) % (UINT64_C(1) << 20);
        }
        cpu_set_gpr(cpu, r, v);
    }
}

static void fuzz_fail(const char *what, const struct fuzz_run *a,
                      const struct fuzz_run *b)
{
    const struct fuzz_run *runs[2] = {a, b};

    fprintf(stderr, "fuzz-cpu: %s\n", what);
    for (int i = 0; i < 2 && runs[i] != NULL; i++) {
        const struct fuzz_run *r = runs[i];

        fprintf(stderr,
                "  %s: %s; %" PRIu64 " insns, %" PRIu64 " cycles, rip 0x%" PRIx64
                " rflags 0x%" PRIx64 " ram %016" PRIx64 " console %016" PRIx64
                "\n",
                r->mode, r->message, r->stats.instructions, r->stats.cycles,
                r->regs.rip, r->regs.rflags, fuzz_ram_hash(r), r->console_hash);
        for (unsigned g = 0; g < CPU_NGPR; g++) {
            fprintf(stderr, "    r%-2u %016" PRIx64 "%s", g, r->regs.gpr[g],
                    g % 4 == 3 ? "\n" : "");
        }
    }
    abort();
}

/*
 * One run of the guest @elf in @mode, checked against its limits.
 * @perturb changes every instruction cost, the TSC rate and the start
 * time, for the timing check of fuzz_comparable().  The fixed config
 * always builds, so a machine that does not is a failure too.
 */
static void fuzz_run(const char *mode, const char *elf, uint8_t seed,
                     bool perturb, struct fuzz_run *out /* out */)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = g_strdup_printf(
        "[machine]\nmode = %s\nmemory = 4M\nguest_base = 2M\n"
        "[guest]\nprogram = %s\n"
        "[limits]\ninstructions = %u\ntime = %uns\n",
        mode, elf, INSN_LIMIT, TIME_LIMIT_NS);
    struct sim_config *cfg = sim_config_parse(text, NULL, NULL, &err);
    struct sim_machine *m;
    uint64_t mem_size, ram_size, pt_size, vmm_hash = 0, t0, wall;
    uint64_t limit_cycles;
    uint8_t *mem, *pt;
    g_autofree uint8_t *pt_before = NULL;
    size_t console_len;
    const char *console;

    memset(out, 0, sizeof(*out));
    out->mode = mode;
    if (cfg == NULL || (m = sim_machine_new(cfg, &err)) == NULL) {
        fprintf(stderr, "fuzz-cpu: %s\n", err->message);
        abort();
    }
    if (seed != 0) {
        fuzz_seed_registers(sim_machine_cpu(m), seed);
    }
    if (perturb) {
        uint32_t costs[CPU_COST_NCLASSES];

        for (unsigned c = 0; c < CPU_COST_NCLASSES; c++) {
            costs[c] = 3 + 7 * c;
        }
        cpu_set_costs(sim_machine_cpu(m), costs);
        cpu_set_tsc_rate(sim_machine_cpu(m), 1234, 2500);
        /* Else an RDTSC before any cost is paid reads 0 either way. */
        cpu_add_cycles(sim_machine_cpu(m), 12345);
    }
    mem = sim_machine_memory(m, &mem_size);
    pt_size = sim_guest_pt_size(sim_machine_config(m)->vms[0].memory);
    pt = sim_machine_ram(m, &ram_size) + ram_size - pt_size;
    pt_before = g_memdup2(pt, pt_size);
    if (strcmp(mode, "hvm") == 0) {
        vmm_hash = fuzz_hash(mem, GUEST_BASE);
    }

    t0 = fuzz_now_ns();
    out->stop = sim_machine_run(m);
    wall = fuzz_now_ns() - t0;

    limit_cycles = (uint64_t)TIME_LIMIT_NS *
                   sim_machine_config(m)->profile.freq_mhz / 1000;
    out->message = sim_machine_stop_message(m);
    sim_machine_guest_regs(m, &out->regs);
    sim_machine_get_stats(m, &out->stats);
    {
        struct cpu_stats cs;

        cpu_get_stats(sim_machine_cpu(m), &cs);
        out->tsc_reads = cs.tsc_reads;
    }
    out->paging_written = fuzz_paging_written(pt, pt_before, pt_size);
    console = sim_machine_console(m, &console_len);
    out->console_hash = fuzz_hash((const uint8_t *)console, console_len) ^
                        console_len;
    out->m = m;
    if (strcmp(mode, "hvm") == 0 && fuzz_hash(mem, GUEST_BASE) != vmm_hash) {
        fuzz_fail("the guest changed the VMM's pages", out, NULL);
    }

    if (out->stats.instructions > INSN_LIMIT + INSN_SLACK) {
        fuzz_fail("ran past the instruction limit", out, NULL);
    }
    if (out->stats.cycles > limit_cycles + CYCLE_SLACK) {
        fuzz_fail("ran past the time limit", out, NULL);
    }
    if (wall > WALL_MAX_NS) {
        fuzz_fail("took too long on the host", out, NULL);
    }
}

/*
 * When must native and hvm agree?  Only when
 *   1. both stopped for the same reason, one the guest's code decides
 *      (exit port, instruction limit, triple fault, halt with nothing to
 *      wake it) — not a VMM error, an exception exit or the time limit,
 *      whose position depends on cycles, which differ by the exits' cost;
 *   2. every VM exit of the hvm run was one the VMM means to emulate
 *      exactly: I/O instructions, EPT violations (MMIO), HLT.  CPUID,
 *      MSR, VMX-instruction, VMCALL and interrupt exits give the guest
 *      results that legitimately differ from native;
 *   3. the guest left its page tables alone (but for A/D bits): after
 *      changing a paging entry without INVLPG the processor may use the
 *      stale translation or the new one (SDM 3A §4.10.4), and the native
 *      and EPT TLBs legitimately choose differently;
 *   4. the guest did not read the TSC (RDTSC, RDTSCP, RDMSR of
 *      IA32_TSC: the CPU counts them), nor observe time otherwise:
 *      checked only when the runs differ, by a third native run with
 *      every cost, the TSC rate and the starting cycle count changed.
 *      If that run differs from the first, the guest saw a timer read or
 *      a timer interrupt, and the difference is legitimate.  (Comparing
 *      with that run alone once let a TSC read through whose few bits
 *      the guest kept happened to match.)
 */
static bool fuzz_comparable(const struct fuzz_run *n, const struct fuzz_run *h)
{
    if (n->paging_written || h->paging_written || n->tsc_reads != 0 ||
        h->tsc_reads != 0) {
        return false;
    }
    if (n->stop != h->stop ||
        (n->stop != SIM_STOP_EXIT && n->stop != SIM_STOP_INSN_LIMIT &&
         n->stop != SIM_STOP_TRIPLE_FAULT && n->stop != SIM_STOP_HALTED)) {
        return false;
    }
    for (unsigned r = 0; r < G_N_ELEMENTS(h->stats.exits); r++) {
        if (h->stats.exits[r] != 0 && r != VMX_EXIT_IO_INSTRUCTION &&
            r != VMX_EXIT_EPT_VIOLATION && r != VMX_EXIT_HLT &&
            r != VMX_EXIT_TRIPLE_FAULT) {
            return false;
        }
    }
    return true;
}

/*
 * After a triple fault the processor is in shutdown and RIP, RSP and
 * RFLAGS are not architecturally defined (natively the CPU keeps the
 * faulting state; a triple-fault VM exit saves the guest's as of the
 * event): compare the rest.
 */
static bool fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
    struct sim_guest_regs ra = a->regs, rb = b->regs;

    if (a->stop == SIM_STOP_TRIPLE_FAULT) {
        ra.rip = rb.rip = 0;
        ra.rflags = rb.rflags = 0;
        ra.gpr[CPU_RSP] = rb.gpr[CPU_RSP] = 0;
    }
    return memcmp(&ra, &rb, sizeof(ra)) == 0 &&
           a->console_hash == b->console_hash &&
           a->stats.instructions == b->stats.instructions &&
           fuzz_ram_hash(a) == fuzz_ram_hash(b);
}

static void fuzz_run_clear(struct fuzz_run *r)
{
    sim_machine_free(r->m);
    g_free(r->message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_dir = g_dir_make_tmp("iovsim-fuzz-cpu-XXXXXX", NULL);
    g_assert(fuzz_dir != NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *elf = NULL;
    struct fuzz_run native, hvm, again;

    if (size < 2 || size > 4096) {
        return -1;
    }
    elf = tiny_elf_write(fuzz_dir, "guest.elf", data + 1, size - 1);
    fuzz_run("native", elf, data[0], false, &native);
    fuzz_run("hvm", elf, data[0], false, &hvm);
    if (fuzz_comparable(&native, &hvm) && !fuzz_same(&native, &hvm)) {
        fuzz_run("native", elf, data[0], true, &again);
        again.mode = "native (costs and TSC rate changed)";
        if (fuzz_same(&native, &again)) {
            fuzz_fail("native and hvm differ", &native, &hvm);
        }
        fuzz_run_clear(&again);
    }
    fuzz_run_clear(&native);
    fuzz_run_clear(&hvm);
    return 0;
}
