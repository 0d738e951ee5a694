/*
 * tests/hostile/test-hostile.c: misbehaving guests (tests/hostile/guests/),
 * each run natively and under hvm with the outcome the SDM gives, as
 * listed in tests/hostile/hostile.def; plus three measurements that take
 * several runs: REP STOSB cycles against the count, and the shipped timer
 * guest under a profile with costly page walks.
 *
 * A guest gets its parameter at HOSTILE_PARAM and leaves results at
 * HOSTILE_RESULT (tests/hostile/hostile.h), read here through the
 * machine's RAM.  Registers after a stop are read with cpu_gpr/cpu_rip;
 * under hvm the general registers live in the cpu (cpu/cpu.h) and so does
 * RIP after a limit stop, which happens between VM exits.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "cpu/cpu.h"
#include "sim/sim.h"
#include "tests/hostile/hostile.h"

#define HOSTILE_ELF_DIR "build/tests/hostile"
#define HOSTILE_GUARD "limits.instructions=100000000"
#define HOSTILE_TIME_SLACK_NS 10000 /* 10 us */
#define HOSTILE_INSN_SLACK 16
#define HOSTILE_SAME_VALUE 1u
#define HOSTILE_SLICE_INSNS UINT64_C(10000000) /* sim-internal.h */

struct hostile_case;
typedef void hostile_check_fn(struct sim_machine *m,
                              const struct hostile_case *c, const char *mode);

struct hostile_case {
    const char *id;
    const char *guest;
    uint64_t param;
    unsigned mib;
    const char *sets;
    enum sim_stop stop[2]; /* native, hvm */
    uint32_t status;
    const char *text;
    unsigned flags;
    hostile_check_fn *check;
};

static const char *const hostile_modes[2] = {"native", "hvm"};

/* ---- Helpers ---- */

static uint64_t hostile_result(struct sim_machine *m, unsigned slot)
{
    uint64_t size, v;
    uint8_t *ram = sim_machine_ram(m, &size);

    memcpy(&v, ram + HOSTILE_RESULT + slot, sizeof(v));
    return v;
}

/*
 * Builds the machine for @guest (a path, or a name under
 * HOSTILE_ELF_DIR) in @mode with @mib MiB, the space-separated overrides
 * @sets and @extra (either may be NULL), and writes @param at
 * HOSTILE_PARAM.  Returns: the machine, or NULL (the error is printed).
 */
static struct sim_machine *hostile_make(const char *guest, const char *mode,
                                        unsigned mib, const char *sets,
                                        const char *extra, uint64_t param)
{
    g_autofree char *prog =
        strchr(guest, '/') != NULL
            ? g_strdup(guest)
            : g_strdup_printf("%s/%s.elf", HOSTILE_ELF_DIR, guest);
    g_autofree char *text =
        g_strdup_printf("[experiment]\nname = hostile\n[machine]\nmode = %s\n"
                        "memory = %uM\n[guest]\nprogram = %s\n",
                        mode, mib, prog);
    g_autofree char *all = g_strjoin(" ", sets != NULL ? sets : "",
                                     extra != NULL ? extra : "", NULL);
    g_auto(GStrv) setv = g_strsplit(g_strstrip(all), " ", -1);
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg;
    struct sim_machine *m;
    uint64_t size;
    uint8_t *ram;

    if (setv[0] != NULL && setv[0][0] == '\0') {
        g_clear_pointer(&setv, g_strfreev);
        setv = g_new0(char *, 1);
    }
    cfg = sim_config_parse(text, NULL, (const char *const *)setv, &err);
    if (cfg == NULL) {
        fprintf(stderr, "\nhostile %s: config: %s\n", guest, err->message);
        return NULL;
    }
    if (cfg->limit_instructions == 0 && cfg->limit_time_ns == 0) {
        const char *guard[] = {HOSTILE_GUARD, NULL};

        sim_config_free(cfg);
        cfg = sim_config_parse(text, NULL, guard, &err);
        g_assert(cfg != NULL);
    }
    m = sim_machine_new(cfg, &err);
    if (m == NULL) {
        fprintf(stderr, "\nhostile %s: machine: %s\n", guest, err->message);
        return NULL;
    }
    ram = sim_machine_ram(m, &size);
    memcpy(ram + HOSTILE_PARAM, &param, sizeof(param));
    return m;
}

/* The run stayed within its limits, give or take the slack. */
static void hostile_check_limits(struct sim_machine *m, const char *what)
{
    const struct sim_config *cfg = sim_machine_config(m);
    struct sim_stats st;

    sim_machine_get_stats(m, &st);
    if (cfg->limit_time_ns != 0 &&
        st.sim_time_ns > cfg->limit_time_ns + HOSTILE_TIME_SLACK_NS) {
        fprintf(stderr,
                "\n%s: simulated time %" PRIu64 " ns, limit %" PRIu64 " ns\n",
                what, st.sim_time_ns, cfg->limit_time_ns);
        CU_FAIL("simulated time beyond the time limit");
    }
    if (cfg->limit_instructions != 0 &&
        st.instructions > cfg->limit_instructions + HOSTILE_INSN_SLACK) {
        fprintf(stderr, "\n%s: %" PRIu64 " instructions, limit %" PRIu64 "\n",
                what, st.instructions, cfg->limit_instructions);
        CU_FAIL("instructions beyond the instruction limit");
    }
}

/* Runs @c in both modes and checks everything hostile.def says. */
static void hostile_run_case(const struct hostile_case *c)
{
    char *console[2] = {NULL, NULL};
    uint64_t value[2] = {0, 0};

    for (int i = 0; i < 2; i++) {
        const char *mode = hostile_modes[i];
        g_autofree char *what = g_strdup_printf("%s (%s)", c->id, mode);
        g_autofree char *msg = NULL;
        struct sim_machine *m =
            hostile_make(c->guest, mode, c->mib, c->sets, NULL, c->param);
        enum sim_stop stop;
        uint32_t status = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        stop = sim_machine_run(m);
        msg = sim_machine_stop_message(m);
        if (stop != c->stop[i] ||
            (stop == SIM_STOP_EXIT && sim_machine_exit_status(m, &status) &&
             status != c->status)) {
            fprintf(stderr,
                    "\n%s: stopped %s (%s); expected %s, status 0x%" PRIx32
                    "\n",
                    what, sim_stop_name(stop), msg, sim_stop_name(c->stop[i]),
                    c->status);
        }
        CU_ASSERT_EQUAL(stop, c->stop[i]);
        if (stop == SIM_STOP_EXIT && c->stop[i] == SIM_STOP_EXIT) {
            CU_ASSERT_TRUE(sim_machine_exit_status(m, &status));
            CU_ASSERT_EQUAL(status, c->status);
        }
        if (strstr(msg, "no detail") != NULL ||
            (c->text != NULL && strstr(msg, c->text) == NULL)) {
            fprintf(stderr, "\n%s: stop message \"%s\" (wanted \"%s\")\n", what,
                    msg, c->text != NULL ? c->text : "detail");
        }
        CU_ASSERT_PTR_NULL(strstr(msg, "no detail"));
        if (c->text != NULL) {
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, c->text));
        }
        hostile_check_limits(m, what);
        if (c->check != NULL) {
            c->check(m, c, mode);
        }
        console[i] = g_strdup(sim_machine_console(m, NULL));
        value[i] = hostile_result(m, HOSTILE_R_VALUE);
        sim_machine_free(m);
    }
    CU_ASSERT_STRING_EQUAL(console[0], console[1]);
    if (c->flags & HOSTILE_SAME_VALUE) {
        if (value[0] != value[1]) {
            fprintf(stderr,
                    "\n%s: value 0x%" PRIx64 " native, 0x%" PRIx64 " hvm\n",
                    c->id, value[0], value[1]);
        }
        CU_ASSERT_EQUAL(value[0], value[1]);
    }
    g_free(console[0]);
    g_free(console[1]);
}

/*
 * The fault catcher's record: vector, error code and frame RIP (R_RIP,
 * where the guest noted the faulting instruction), and CR2, RCX, RSI,
 * RDI where not UINT64_MAX.
 */
static void hostile_expect_fault(struct sim_machine *m, const char *what,
                                 unsigned vector, uint64_t error, uint64_t cr2,
                                 uint64_t rcx, uint64_t rsi, uint64_t rdi)
{
    static const struct {
        unsigned slot;
        const char *name;
    } f[] = {{HOSTILE_R_VEC, "vector"},     {HOSTILE_R_ERR, "error code"},
             {HOSTILE_R_FRIP, "frame RIP"}, {HOSTILE_R_CR2, "CR2"},
             {HOSTILE_R_RCX, "RCX"},        {HOSTILE_R_RSI, "RSI"},
             {HOSTILE_R_RDI, "RDI"}};
    uint64_t want[] = {
        vector, error, hostile_result(m, HOSTILE_R_RIP), cr2, rcx, rsi, rdi};

    for (size_t k = 0; k < SIM_ARRAY_SIZE(f); k++) {
        uint64_t got = hostile_result(m, f[k].slot);

        if (want[k] == UINT64_MAX) {
            continue;
        }
        if (got != want[k]) {
            fprintf(stderr, "\n%s: %s 0x%" PRIx64 ", expected 0x%" PRIx64 "\n",
                    what, f[k].name, got, want[k]);
        }
        CU_ASSERT_EQUAL(got, want[k]);
    }
}

/* ---- Checks of hostile.def ---- */

static void check_gp_loop(struct sim_machine *m, const struct hostile_case *c,
                          const char *mode)
{
    struct sim_stats st;

    sim_machine_get_stats(m, &st);
    CU_ASSERT_EQUAL(hostile_result(m, HOSTILE_R_VALUE), c->param);
    /* The point: it ran across several slice boundaries. */
    CU_ASSERT(st.instructions > 3 * HOSTILE_SLICE_INSNS);
}

/*
 * 3: a 1 us periodic timer for 2 ms raises about 2000 interrupts.
 * Natively each is delivered (and counted by the guest's handler); under
 * hvm each costs an external-interrupt exit, an injection and an
 * interrupt-window exit, more than the period, so the guest falls behind:
 * a livelock, made visible by the interrupt counters (delivered well below
 * raised, the rest merged into pending ones) and by the guest's own count.
 */
static void check_timer_storm(struct sim_machine *m,
                              const struct hostile_case *c, const char *mode)
{
    struct sim_stats st;
    struct cpu_stats cs;
    uint64_t counted = hostile_result(m, HOSTILE_R_VALUE);

    sim_machine_get_stats(m, &st);
    cpu_get_stats(sim_machine_cpu(m), &cs);
    printf("\n  [timer storm, %s: %" PRIu64 " raised, %" PRIu64
           " delivered, %" PRIu64 " counted by the guest in %" PRIu64
           " ns, %" PRIu64 " instructions]",
           mode, cs.irq_raised, cs.irq_delivered, counted, st.sim_time_ns,
           st.instructions);
    CU_ASSERT(cs.irq_raised >= 1990 && cs.irq_raised <= 2001);
    CU_ASSERT(counted > 0 && counted <= cs.irq_delivered);
    if (strcmp(mode, "native") == 0) {
        CU_ASSERT(cs.irq_delivered + 2 >= cs.irq_raised);
    } else {
        CU_ASSERT(cs.irq_delivered * 3 < cs.irq_raised * 2);
    }
}

/*
 * A REP OUTSB from 1 MiB stopped by a limit: RIP still at it (R_RIP),
 * RSI - 1 MiB iterations done, RCX + iterations = the initial count, one
 * port write per iteration; under an instruction limit each iteration
 * counted as an instruction.
 */
static void check_rep_progress(struct sim_machine *m,
                               const struct hostile_case *c, const char *mode)
{
    struct cpu *cpu = sim_machine_cpu(m);
    uint64_t done = cpu_gpr(cpu, CPU_RSI) - 0x100000;
    uint64_t rcx = cpu_gpr(cpu, CPU_RCX);
    struct sim_stats st;

    sim_machine_get_stats(m, &st);
    if (cpu_rip(cpu) != hostile_result(m, HOSTILE_R_RIP) ||
        rcx + done != c->param || done == 0) {
        fprintf(stderr,
                "\n%s (%s): rip 0x%" PRIx64 " (rep at 0x%" PRIx64
                "), rcx 0x%" PRIx64 ", iterations 0x%" PRIx64
                ", port writes %" PRIu64 "\n",
                c->id, mode, cpu_rip(cpu), hostile_result(m, HOSTILE_R_RIP),
                rcx, done, st.io.writes);
    }
    CU_ASSERT_EQUAL(cpu_rip(cpu), hostile_result(m, HOSTILE_R_RIP));
    CU_ASSERT_EQUAL(rcx + done, c->param);
    CU_ASSERT(done > 0);
    CU_ASSERT_EQUAL(st.io.writes, done);
    if (sim_machine_config(m)->limit_instructions != 0) {
        CU_ASSERT(done + 16 >= sim_machine_config(m)->limit_instructions);
    }
}

static void check_tlb_misses(struct sim_machine *m,
                             const struct hostile_case *c, const char *mode)
{
    struct cpu_stats cs;

    cpu_get_stats(sim_machine_cpu(m), &cs);
    if (cs.tlb_misses >= 0x10000 / 64) {
        fprintf(stderr, "\n%s (%s): %" PRIu64 " TLB misses for 64 KiB\n", c->id,
                mode, cs.tlb_misses);
    }
    CU_ASSERT(cs.tlb_misses < 0x10000 / 64);
}

/* A time-limit stop came at the limit, not at some later event. */
static void check_time_reached(struct sim_machine *m,
                               const struct hostile_case *c, const char *mode)
{
    struct sim_stats st;

    sim_machine_get_stats(m, &st);
    CU_ASSERT(st.sim_time_ns >= sim_machine_config(m)->limit_time_ns);
}

static void check_noncanon(struct sim_machine *m, const struct hostile_case *c,
                           const char *mode)
{
    hostile_expect_fault(m, c->id, CPU_EXC_GP, 0, UINT64_MAX, UINT64_MAX,
                         UINT64_MAX, UINT64_MAX);
}

static void check_movsq_end(struct sim_machine *m, const struct hostile_case *c,
                            const char *mode)
{
    uint64_t ram = (uint64_t)c->mib << 20;

    hostile_expect_fault(m, c->id, CPU_EXC_PF, 0, ram, (UINT64_C(1) << 40) - 8,
                         ram, 0x200000 + 64);
}

static void check_insb_end(struct sim_machine *m, const struct hostile_case *c,
                           const char *mode)
{
    uint64_t ram = (uint64_t)c->mib << 20;

    hostile_expect_fault(m, c->id, CPU_EXC_PF, 2, ram, 12, UINT64_MAX, ram);
}

static void check_insb_readonly(struct sim_machine *m,
                                const struct hostile_case *c, const char *mode)
{
    hostile_expect_fault(m, c->id, CPU_EXC_PF, 3, 0x400000, 16, UINT64_MAX,
                         0x400000);
}

/* ---- The table ---- */

/* clang-format off */
#define HOSTILE_CASE(id, guest, param, mib, sets, native, hvm, status, text,   \
                     flags, check)                                             \
    {#id, guest, param, mib, sets, {SIM_STOP_##native, SIM_STOP_##hvm},        \
     status, text, flags, check},
/* clang-format on */
static const struct hostile_case hostile_cases[] = {
#include "tests/hostile/hostile.def"
};
#undef HOSTILE_CASE

enum {
#define HOSTILE_CASE(id, ...) HOSTILE_IDX_##id,
#include "tests/hostile/hostile.def"
#undef HOSTILE_CASE
};

#define HOSTILE_CASE(id, ...)                                                  \
    static void test_##id(void)                                                \
    {                                                                          \
        hostile_run_case(&hostile_cases[HOSTILE_IDX_##id]);                    \
    }
#include "tests/hostile/hostile.def"
#undef HOSTILE_CASE

/* ---- Measurements over several runs ---- */

/* Runs @guest with @param in @mode to its exit; returns its cycles. */
static uint64_t hostile_cycles(const char *guest, const char *mode,
                               uint64_t param)
{
    struct sim_machine *m = hostile_make(guest, mode, 16, NULL, NULL, param);
    struct sim_stats st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_EXIT);
    sim_machine_get_stats(m, &st);
    sim_machine_free(m);
    return st.cycles;
}

/*
 * 6: every iteration of REP STOSB is charged the profile's string cost,
 * and the page walks of the pages it touches (once per 4 KiB page: the
 * TLB caches 4 KiB pieces), so cycles grow linearly with the count: the
 * cost per iteration from 0x10000 to 0x20000 and from 0x20000 to
 * 0x200000 agree within 2%, and neither is below the string cost.
 */
static void test_rep_stosb_linear(void)
{
    static const uint64_t n[3] = {0x10000, 0x20000, 0x200000};
    g_autoptr(GError) err = NULL;
    struct sim_profile prof;
    uint32_t cost;

    CU_ASSERT_TRUE_FATAL(sim_profile_load("skylake", NULL, &prof, &err));
    cost = prof.costs[CPU_COST_STRING];
    sim_profile_clear(&prof);
    for (int i = 0; i < 2; i++) {
        uint64_t cy[3];
        double rate[2];

        for (int k = 0; k < 3; k++) {
            cy[k] = hostile_cycles("rep-stosb", hostile_modes[i], n[k]);
        }
        CU_ASSERT_FATAL(cy[0] < cy[1] && cy[1] < cy[2]);
        for (int k = 0; k < 2; k++) {
            rate[k] = (double)(cy[k + 1] - cy[k]) / (double)(n[k + 1] - n[k]);
        }
        if (rate[0] < cost || rate[1] < cost ||
            rate[0] > rate[1] * 1.02 || rate[1] > rate[0] * 1.02) {
            fprintf(stderr,
                    "\nrep stosb (%s): %" PRIu64 ", %" PRIu64 ", %" PRIu64
                    " cycles: %.3f and %.3f per iteration (string cost "
                    "%" PRIu32 ")\n",
                    hostile_modes[i], cy[0], cy[1], cy[2], rate[0], rate[1],
                    cost);
        }
        CU_ASSERT(rate[0] >= cost && rate[1] >= cost);
        CU_ASSERT(rate[0] <= rate[1] * 1.02 && rate[1] <= rate[0] * 1.02);
    }
}

/*
 * 4: the shipped timer guest under a legal profile whose page walks cost
 * 10000 cycles prints its expected output in both modes.  It needs about
 * 175 K instructions; the guard of 20 M catches an interrupt livelock
 * (its 50 us periodic timer against a handler whose TLB misses cost more).
 */
static void test_timer_costly_pagewalk(void)
{
    g_autofree char *dir = g_dir_make_tmp("iovsim-hostile-XXXXXX", NULL);
    g_autofree char *ini = NULL, *expected = NULL, *path = NULL;
    g_autofree char *set = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    GString *out = g_string_new(NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_TRUE_FATAL(
        g_file_get_contents("sim/profiles/skylake.ini", &ini, NULL, &err));
    CU_ASSERT_TRUE_FATAL(g_file_get_contents("workloads/expected/timer.txt",
                                             &expected, NULL, &err));
    lines = g_strsplit(ini, "\n", -1);
    for (int i = 0; lines[i] != NULL; i++) {
        g_string_append(out, g_str_has_prefix(lines[i], "pagewalk")
                                 ? "pagewalk = 10000"
                                 : lines[i]);
        if (lines[i + 1] != NULL) {
            g_string_append_c(out, '\n');
        }
    }
    path = g_build_filename(dir, "slowwalk.ini", NULL);
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(path, out->str, -1, &err));
    g_string_free(out, TRUE);
    set = g_strdup_printf("machine.profile=%s", path);
    for (int i = 0; i < 2; i++) {
        struct sim_machine *m =
            hostile_make("build/workloads/guest/timer-O2.elf", hostile_modes[i],
                         16, set, "limits.instructions=20000000", 0);
        g_autofree char *msg = NULL;
        enum sim_stop stop;
        uint32_t status = 1;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        stop = sim_machine_run(m);
        msg = sim_machine_stop_message(m);
        if (stop != SIM_STOP_EXIT ||
            strcmp(sim_machine_console(m, NULL), expected) != 0) {
            fprintf(stderr, "\ntimer, pagewalk = 10000 (%s): %s; output:\n%s",
                    hostile_modes[i], msg, sim_machine_console(m, NULL));
        }
        CU_ASSERT_EQUAL(stop, SIM_STOP_EXIT);
        CU_ASSERT_TRUE(sim_machine_exit_status(m, &status));
        CU_ASSERT_EQUAL(status, 0);
        CU_ASSERT_STRING_EQUAL(sim_machine_console(m, NULL), expected);
        sim_machine_free(m);
    }
    g_remove(path);
    g_rmdir(dir);
}

static CU_TestInfo hostile_tests[] = {
#define HOSTILE_CASE(id, ...) {#id, test_##id},
#include "tests/hostile/hostile.def"
#undef HOSTILE_CASE
    {"rep_stosb_cycles_linear", test_rep_stosb_linear},
    {"timer_pagewalk_10000", test_timer_costly_pagewalk},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_hostile_suites[] = {
    {"hostile", NULL, NULL, NULL, NULL, hostile_tests},
    CU_SUITE_INFO_NULL,
};
