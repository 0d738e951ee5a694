/*
 * tests/cpu/difftest.c: the differential test of the software CPU against
 * the host processor.  Generates cases (difftest-gen.c) in batches in the
 * memory shared with the native child (difftest-native.c), runs each on
 * struct cpu (difftest-sim.c) while the child runs the batch natively,
 * then compares: exception vector, RIP, all 16 GPRs, RFLAGS, CR2 for #PF,
 * and the data and stack pages (every byte a case may touch).
 *
 * RFLAGS: every bit user code can see is compared (CF PF AF ZF SF TF IF
 * DF OF IOPL NT AC ID and the fixed bit 1) except the arithmetic flags the
 * generator marks undefined at the point where the case stopped (see the
 * policy in difftest-gen.c), and RF, which the hardware sets in the image
 * it saves for a fault (SDM 3A §18.3.1.1) and nothing else can observe.
 *
 * Every generated instruction is also decoded by Zydis and Capstone; the
 * lengths (and the generator's intended length and Zydis mnemonic) must
 * agree, except for the documented Capstone 4 bugs in dt_cs_exceptions.
 *
 * Environment: IOVSIM_DIFFTEST_N cases (default 200000; `make difftest
 * N=...`), IOVSIM_DIFFTEST_SEED replays one case by its seed with a full
 * listing, IOVSIM_DIFFTEST_BASE changes the base seed, and
 * IOVSIM_DIFFTEST_VERBOSE=1 prints timing and per-form counts,
 * IOVSIM_DIFFTEST_DETAIL sets how many failures are listed in full.  A failing
 * case is cut at form boundaries to find the first failing form.
 */
#include "sim/common.h"

#include <cpuid.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <CUnit/CUnit.h>
#include <Zydis/Zydis.h>
#include <capstone.h>

#include "tests/cpu/difftest.h"

#define DT_DEFAULT_N 200000ull
#define DT_DEFAULT_BASE 0x10c5d1ff7e57ull
#define DT_BATCH 256u
#define DT_CROSSCHECK_N 50000ull  /* cases of the standalone cross-check */
#define DT_DETAIL_MAX 6u          /* failures printed in full (default) */
#define DT_LINE_MAX 200u          /* failures given a line */
#define DT_MINIMIZE_MAX 400u      /* failures cut down to their form */

/* RFLAGS bits compared: all user-visible ones but RF (see above). */
#define DT_CMP_FLAGS                                                          \
    (0x0001ull | 0x0002ull | 0x0004ull | 0x0010ull | 0x0040ull | 0x0080ull |  \
     0x0100ull | 0x0200ull | 0x0400ull | 0x0800ull | 0x3000ull | 0x4000ull |  \
     0x40000ull | 0x200000ull)

static const char *const dt_gpr_names[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

/*
 * Capstone 4.0.2 decoding bugs met by generated instructions: bytes
 * (matched as a prefix after any legacy/REX prefixes the generator adds
 * are stripped) that Capstone rejects or measures wrongly although the
 * SDM and Zydis agree.  The decode-crosscheck suite checks each entry
 * still disagrees, so a fixed Capstone makes a stale entry fail.
 */
struct dt_cs_exception {
    const char *why;
    uint8_t bytes[4];
    uint8_t len;        /* bytes to match */
    uint8_t insn_len;   /* the true length (Zydis) of the sample below */
    uint8_t sample[8];  /* a full instruction exhibiting it */
};

#define DT_CS_NOP_REG(r)                                                      \
    {"Capstone 4 rejects NOP r/m32 with a register operand (0f 1f /0, "      \
     "mod=11; SDM 2 \"NOP\": 0F 1F /0 NOP r/m32)",                           \
     {0x0f, 0x1f, 0xc0 + (r)}, 3, 3, {0x0f, 0x1f, 0xc0 + (r)}}

static const struct dt_cs_exception dt_cs_exceptions[] = {
    DT_CS_NOP_REG(0), DT_CS_NOP_REG(1), DT_CS_NOP_REG(2), DT_CS_NOP_REG(3),
    DT_CS_NOP_REG(4), DT_CS_NOP_REG(5), DT_CS_NOP_REG(6), DT_CS_NOP_REG(7),
};

/* Everything one run of the test needs. */
struct dt_run {
    unsigned features;
    ZydisDecoder zy;
    csh cs;
    cs_insn *csi;
    struct dt_native *nat;
    struct dt_sim *sim;
    struct dt_result *simres;   /* DT_BATCH */
    struct dt_case *tcase;      /* a truncated copy, for minimizing */
    struct dt_case *fcase;      /* the failing case being reported */
    struct dt_result *fnat, *fsim;
    uint64_t cases, failures, xcheck_fail, native_faults, minimized;
    uint64_t form_fail[64];
    uint64_t form_seen[64];
    uint64_t vec_seen[32];      /* native stops by exception vector */
    uint64_t detail_max;        /* failures printed in full */
    bool verbose;
};

/* ---- Set-up -------------------------------------------------------------- */

static unsigned dt_host_features(void)
{
    unsigned a, b, c, d, f = 0;

    if (__get_cpuid(1, &a, &b, &c, &d)) {
        f |= (c & (1u << 23)) ? DT_FEAT_POPCNT : 0;
        f |= (c & (1u << 13)) ? DT_FEAT_CX16 : 0;
    }
    if (__get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 5))) {
        f |= DT_FEAT_LZCNT;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3))) {
        f |= DT_FEAT_BMI1;
    }
    return f;
}

static uint64_t dt_env_u64(const char *name, uint64_t dflt, bool *set)
{
    const char *s = getenv(name);
    char *end;
    uint64_t v;

    if (set != NULL) {
        *set = false;
    }
    if (s == NULL || *s == '\0') {
        return dflt;
    }
    v = strtoull(s, &end, 0);
    if (*end != '\0') {
        fprintf(stderr, "difftest: ignoring %s=%s\n", name, s);
        return dflt;
    }
    if (set != NULL) {
        *set = true;
    }
    return v;
}

static bool dt_decoders_init(struct dt_run *r)
{
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&r->zy, ZYDIS_MACHINE_MODE_LONG_64,
                                       ZYDIS_STACK_WIDTH_64)) ||
        cs_open(CS_ARCH_X86, CS_MODE_64, &r->cs) != CS_ERR_OK) {
        return false;
    }
    r->csi = cs_malloc(r->cs);
    return r->csi != NULL;
}

static void dt_decoders_fini(struct dt_run *r)
{
    if (r->csi != NULL) {
        cs_free(r->csi, 1);
    }
    cs_close(&r->cs);
}

/* ---- Decoder cross-check ------------------------------------------------- */

/* The instruction's bytes without the legacy and REX prefixes. */
static const uint8_t *dt_skip_prefixes(const uint8_t *p, unsigned *len)
{
    while (*len > 0) {
        uint8_t b = *p;

        if (b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 ||
            b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
            b == 0x65 || (b & 0xf0) == 0x40) {
            p++;
            (*len)--;
        } else {
            break;
        }
    }
    return p;
}

static const struct dt_cs_exception *dt_cs_exception(const uint8_t *p,
                                                     unsigned len)
{
    const uint8_t *q = dt_skip_prefixes(p, &len);
    size_t i;

    for (i = 0; i < SIM_ARRAY_SIZE(dt_cs_exceptions); i++) {
        const struct dt_cs_exception *x = &dt_cs_exceptions[i];

        if (x->why != NULL && len >= x->len &&
            memcmp(q, x->bytes, x->len) == 0) {
            return x;
        }
    }
    return NULL;
}

/* Capstone's length for the instruction at @p, or 0 if it rejects it. */
static unsigned dt_cs_length(struct dt_run *r, const uint8_t *p, size_t n,
                             uint64_t addr)
{
    const uint8_t *code = p;
    size_t size = n;

    if (!cs_disasm_iter(r->cs, &code, &size, &addr, r->csi)) {
        return 0;
    }
    return r->csi->size;
}

/*
 * Cross-checks every instruction of @c: Zydis must decode it with the
 * generator's length and mnemonic (or reject it, for #UD bytes) and
 * Capstone must agree on the length.  Returns: mismatches; appends them
 * to @why.
 */
static unsigned dt_crosscheck(struct dt_run *r, const struct dt_case *c,
                              GString *why)
{
    unsigned i, bad = 0, cslen;
    ZydisDecodedInstruction zi;

    for (i = 0; i < c->ninsns; i++) {
        const struct dt_insn *in = &c->insn[i];
        const uint8_t *p = c->code + in->off;
        size_t avail = c->code_len - in->off;
        bool ok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
            &r->zy, NULL, p, avail < 15 ? avail : 15, &zi));

        if (in->mnem == ZYDIS_MNEMONIC_INVALID) {
            if (ok) {
                g_string_append_printf(why, "  decode: +0x%x meant as #UD "
                                       "but Zydis decodes %s\n", in->off,
                                       ZydisMnemonicGetString(zi.mnemonic));
                bad++;
            }
            continue;
        }
        if (!ok || zi.length != in->len || zi.mnemonic != in->mnem) {
            g_string_append_printf(
                why, "  decode: +0x%x generator %s len %u, Zydis %s len %u\n",
                in->off, ZydisMnemonicGetString((ZydisMnemonic)in->mnem),
                in->len, ok ? ZydisMnemonicGetString(zi.mnemonic) : "error",
                ok ? zi.length : 0);
            bad++;
            continue;
        }
        cslen = dt_cs_length(r, p, avail, DT_CODE_ADDR + DT_CODE_START +
                                              in->off);
        if (cslen != zi.length && dt_cs_exception(p, in->len) == NULL) {
            GString *hex = g_string_new(NULL);
            unsigned k;

            for (k = 0; k < in->len; k++) {
                g_string_append_printf(hex, "%02x ", p[k]);
            }
            g_string_append_printf(why, "  decode: +0x%x %s: Zydis %s len %u,"
                                   " Capstone len %u\n", in->off, hex->str,
                                   ZydisMnemonicGetString(zi.mnemonic),
                                   zi.length, cslen);
            g_string_free(hex, TRUE);
            bad++;
        }
    }
    return bad;
}

/* ---- Comparison ---------------------------------------------------------- */

/* The instruction at @rip, or NULL. */
static const struct dt_insn *dt_insn_at(const struct dt_case *c, uint64_t rip)
{
    uint64_t off = rip - (DT_CODE_ADDR + DT_CODE_START);
    unsigned i;

    for (i = 0; i < c->ninsns; i++) {
        if (c->insn[i].off == off) {
            return &c->insn[i];
        }
    }
    return NULL;
}

/* The RFLAGS bits to compare for a case that stopped like @n. */
static uint64_t dt_flags_mask(const struct dt_case *c,
                              const struct dt_result *n)
{
    const struct dt_insn *in;

    if (n->vector == DT_VEC_NONE) {
        return DT_CMP_FLAGS & ~c->flags_undef;
    }
    in = dt_insn_at(c, n->regs.rip);
    return DT_CMP_FLAGS & ~(in != NULL ? in->undef : c->flags_undef);
}

static const char *dt_vector_name(int v)
{
    static const char *const names[] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "9",
        "#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM",
    };

    switch (v) {
    case DT_VEC_NONE:
        return "end";
    case DT_VEC_NATIVE_DIED:
        return "native child died or hung";
    case DT_VEC_SIM_BUDGET:
        return "instruction budget used up";
    case DT_VEC_SIM_STOP:
        return "stopped otherwise";
    default:
        return v >= 0 && v < 20 ? names[v] : "?";
    }
}

static void dt_mem_diff(GString *why, const char *what, uint64_t base,
                        const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i, shown = 0, total = 0;

    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            if (shown < 12) {
                g_string_append_printf(why, "  %s 0x%" PRIx64
                                       ": native %02x, cpu %02x\n", what,
                                       base + i, a[i], b[i]);
                shown++;
            }
            total++;
        }
    }
    if (total > shown) {
        g_string_append_printf(why, "  %s: %zu more bytes differ\n", what,
                               total - shown);
    }
}

/*
 * Compares the native result @n and the simulated @s of case @c.
 * Returns: true when they agree; otherwise appends the differences to
 * @why (which may be NULL when only the verdict is wanted).
 */
static bool dt_compare(const struct dt_case *c, const struct dt_result *n,
                       const struct dt_result *s, GString *why)
{
    GString *tmp = why != NULL ? why : g_string_new(NULL);
    size_t len0 = tmp->len;
    uint64_t mask;
    unsigned i;
    bool ok;

    if (n->vector == DT_VEC_NATIVE_DIED) {
        g_string_append_printf(tmp, "  native child died or hung "
                               "(signal %d)\n", n->signo);
    } else if (n->vector != s->vector) {
        g_string_append_printf(tmp, "  stop: native %s, cpu %s\n",
                               dt_vector_name(n->vector),
                               dt_vector_name(s->vector));
    }
    if (n->regs.rip != s->regs.rip) {
        g_string_append_printf(tmp, "  rip: native 0x%" PRIx64 ", cpu 0x%"
                               PRIx64 "\n", n->regs.rip, s->regs.rip);
    }
    for (i = 0; i < 16; i++) {
        if (n->regs.gpr[i] != s->regs.gpr[i]) {
            g_string_append_printf(tmp, "  %s: native 0x%016" PRIx64
                                   ", cpu 0x%016" PRIx64 "\n",
                                   dt_gpr_names[i], n->regs.gpr[i],
                                   s->regs.gpr[i]);
        }
    }
    mask = dt_flags_mask(c, n);
    if ((n->regs.rflags ^ s->regs.rflags) & mask) {
        g_string_append_printf(tmp, "  rflags: native 0x%" PRIx64 ", cpu 0x%"
                               PRIx64 " (compared bits 0x%" PRIx64
                               ", differing 0x%" PRIx64 ")\n",
                               n->regs.rflags, s->regs.rflags, mask,
                               (n->regs.rflags ^ s->regs.rflags) & mask);
    }
    if (n->vector == 14 && s->vector == 14 && n->cr2 != s->cr2) {
        g_string_append_printf(tmp, "  cr2: native 0x%" PRIx64 ", cpu 0x%"
                               PRIx64 "\n", n->cr2, s->cr2);
    }
    if (memcmp(n->data, s->data, DT_DATA_SIZE) != 0) {
        dt_mem_diff(tmp, "data", DT_DATA_ADDR, n->data, s->data,
                    DT_DATA_SIZE);
    }
    if (memcmp(n->stack, s->stack, DT_PAGE_SIZE) != 0) {
        dt_mem_diff(tmp, "stack", DT_STACK_ADDR, n->stack, s->stack,
                    DT_PAGE_SIZE);
    }
    ok = tmp->len == len0;
    if (why == NULL) {
        g_string_free(tmp, TRUE);
    }
    return ok;
}

/* ---- Listings ------------------------------------------------------------ */

static void dt_print_listing(struct dt_run *r, const struct dt_case *c,
                             uint64_t stop_native, uint64_t stop_sim)
{
    unsigned i, k, part = 0;

    for (i = 0; i < c->ninsns; i++) {
        const struct dt_insn *in = &c->insn[i];
        uint64_t addr = DT_CODE_ADDR + DT_CODE_START + in->off;
        const uint8_t *p = c->code + in->off;
        size_t size = c->code_len - in->off;
        GString *hex = g_string_new(NULL);

        while (part < c->nparts && c->part[part].insn_end <= i) {
            part++;
        }
        if (part < c->nparts &&
            (i == 0 || (part > 0 && c->part[part - 1].insn_end == i))) {
            printf("    ; form %u: %s\n", part,
                   dt_form_name(c->part[part].form));
        }
        for (k = 0; k < in->len; k++) {
            g_string_append_printf(hex, "%02x", p[k]);
        }
        if (cs_disasm_iter(r->cs, &p, &size, &addr, r->csi)) {
            printf("    %08" PRIx64 ": %-30s %s %s", addr - r->csi->size,
                   hex->str, r->csi->mnemonic, r->csi->op_str);
        } else {
            printf("    %08" PRIx64 ": %-30s (%s)", addr, hex->str,
                   ZydisMnemonicGetString((ZydisMnemonic)in->mnem));
        }
        addr = DT_CODE_ADDR + DT_CODE_START + in->off;
        if (addr == stop_native) {
            printf("   <- native stop");
        }
        if (addr == stop_sim) {
            printf("   <- cpu stop");
        }
        printf("\n");
        g_string_free(hex, TRUE);
    }
    printf("    %08" PRIx64 ": (end)\n",
           (uint64_t)(DT_CODE_ADDR + DT_CODE_START + c->code_len));
}

static void dt_print_regs(const char *what, const struct dt_regs *regs,
                          const struct dt_regs *other)
{
    unsigned i;

    printf("  %s:\n", what);
    for (i = 0; i < 16; i++) {
        printf("    %-3s %016" PRIx64 "%s", dt_gpr_names[i], regs->gpr[i],
               other != NULL && other->gpr[i] != regs->gpr[i] ? "*" : " ");
        if (i % 4 == 3) {
            printf("\n");
        }
    }
    printf("    rflags %08" PRIx64 "  rip %" PRIx64 "\n", regs->rflags,
           regs->rip);
}

static void dt_print_case(struct dt_run *r, const struct dt_case *c,
                          const struct dt_result *n, const struct dt_result *s)
{
    printf("  code (undefined flags at the end: 0x%" PRIx64 "):\n",
           c->flags_undef);
    dt_print_listing(r, c, n->vector >= 0 ? n->regs.rip : 0,
                     s->vector >= 0 ? s->regs.rip : 0);
    dt_print_regs("initial", &c->init, NULL);
    printf("  native: %s", dt_vector_name(n->vector));
    if (n->vector == 14) {
        printf(" cr2=0x%" PRIx64, n->cr2);
    }
    printf("\n");
    dt_print_regs("native final", &n->regs, NULL);
    printf("  cpu: %s", dt_vector_name(s->vector));
    if (s->vector == 14) {
        printf(" cr2=0x%" PRIx64, s->cr2);
    }
    printf("\n");
    dt_print_regs("cpu final (* = differs)", &s->regs, &n->regs);
}

/* ---- Running ------------------------------------------------------------- */

/* Runs @c on both sides (the native side in batch slot 0). */
static void dt_run_one(struct dt_run *r, const struct dt_case *c,
                       struct dt_result *n, struct dt_result *s)
{
    struct dt_case *slot = dt_native_cases(r->nat);

    memcpy(slot, c, sizeof(*c));
    dt_native_start(r->nat, 1);
    dt_sim_run(r->sim, c, s);
    dt_native_wait(r->nat);
    memcpy(n, &dt_native_results(r->nat)[0], sizeof(*n));
}

/*
 * Finds the first top-level form at which @c fails by cutting the code
 * after each form in turn.  Leaves that shorter case and its results in
 * r->tcase / @n / @s.  Returns: the part index.
 */
static unsigned dt_minimize(struct dt_run *r, const struct dt_case *c,
                            struct dt_result *n, struct dt_result *s)
{
    unsigned k;

    for (k = 0; k + 1 < c->nparts; k++) {
        memcpy(r->tcase, c, sizeof(*c));
        r->tcase->code_len = c->part[k].code_end;
        r->tcase->ninsns = c->part[k].insn_end;
        r->tcase->flags_undef = c->part[k].undef;
        r->tcase->nparts = k + 1;
        dt_run_one(r, r->tcase, n, s);
        if (!dt_compare(r->tcase, n, s, NULL)) {
            return k;
        }
    }
    memcpy(r->tcase, c, sizeof(*c));
    dt_run_one(r, r->tcase, n, s);
    return c->nparts ? c->nparts - 1 : 0;
}

static void dt_report(struct dt_run *r, const struct dt_case *c,
                      const struct dt_result *n, const struct dt_result *s,
                      const char *decode_why)
{
    GString *why = g_string_new(decode_why);
    unsigned part = 0, form = 63;
    bool detail = r->failures <= r->detail_max;

    dt_compare(c, n, s, why);
    if ((r->minimized < DT_MINIMIZE_MAX || detail) && c->nparts > 0) {
        memcpy(r->fcase, c, sizeof(*c));
        part = dt_minimize(r, r->fcase, r->fnat, r->fsim);
        form = r->tcase->part[part].form;
        r->minimized++;
    }
    r->form_fail[form < 64 ? form : 63]++;
    if (r->failures <= DT_LINE_MAX || detail) {
        printf("difftest: FAIL seed=0x%016" PRIx64
               " (replay: IOVSIM_DIFFTEST_SEED=0x%016" PRIx64
               " make difftest N=1) first failing form %u: %s\n",
               c->seed, c->seed, part, form < 63 ? dt_form_name(form) : "?");
    }
    if (detail) {
        printf("%s", why->str);
        if (form < 63) {
            GString *w2 = g_string_new(NULL);

            dt_compare(r->tcase, r->fnat, r->fsim, w2);
            printf("  cut after form %u:\n%s", part, w2->str);
            dt_print_case(r, r->tcase, r->fnat, r->fsim);
            g_string_free(w2, TRUE);
        } else {
            dt_print_case(r, c, n, s);
        }
    }
    g_string_free(why, TRUE);
}

/* Compares one case, cross-checks its decoding, reports a failure. */
static void dt_check(struct dt_run *r, const struct dt_case *c,
                     const struct dt_result *n, const struct dt_result *s)
{
    GString *why = g_string_new(NULL);
    unsigned xbad = dt_crosscheck(r, c, why), k;
    bool ok = dt_compare(c, n, s, NULL) && xbad == 0;

    r->cases++;
    if (n->vector >= 0) {
        r->native_faults++;
        r->vec_seen[n->vector & 31]++;
    }
    for (k = 0; k < c->nparts; k++) {
        r->form_seen[c->part[k].form & 63]++;
    }
    if (xbad) {
        r->xcheck_fail++;
    }
    if (!ok) {
        /*
         * Reporting reruns cut-down cases through batch slot 0, which may
         * hold this one: work on copies.
         */
        struct dt_case *cc = g_new(struct dt_case, 1);
        struct dt_result *nn = g_new(struct dt_result, 2);

        memcpy(cc, c, sizeof(*c));
        memcpy(&nn[0], n, sizeof(*n));
        memcpy(&nn[1], s, sizeof(*s));
        r->failures++;
        dt_report(r, cc, &nn[0], &nn[1], why->str);
        g_free(cc);
        g_free(nn);
    }
    g_string_free(why, TRUE);
}

static bool dt_run_init(struct dt_run *r)
{
    memset(r, 0, sizeof(*r));
    r->features = dt_host_features();
    r->verbose = dt_env_u64("IOVSIM_DIFFTEST_VERBOSE", 0, NULL) != 0;
    r->detail_max = dt_env_u64("IOVSIM_DIFFTEST_DETAIL", DT_DETAIL_MAX, NULL);
    if (!dt_decoders_init(r)) {
        return false;
    }
    r->nat = dt_native_new(DT_BATCH);
    if (r->nat == NULL) {
        fprintf(stderr, "difftest: cannot start the native child\n");
        return false;
    }
    r->sim = dt_sim_new();
    r->simres = g_new0(struct dt_result, DT_BATCH);
    r->tcase = g_new0(struct dt_case, 1);
    r->fcase = g_new0(struct dt_case, 1);
    r->fnat = g_new0(struct dt_result, 1);
    r->fsim = g_new0(struct dt_result, 1);
    return true;
}

static void dt_run_fini(struct dt_run *r)
{
    dt_native_free(r->nat);
    dt_sim_free(r->sim);
    g_free(r->simres);
    g_free(r->tcase);
    g_free(r->fcase);
    g_free(r->fnat);
    g_free(r->fsim);
    dt_decoders_fini(r);
}

/* Replays one case by seed, with its full listing. */
static void dt_replay(struct dt_run *r, uint64_t seed)
{
    struct dt_case *c = dt_native_cases(r->nat);
    struct dt_result *n = g_new0(struct dt_result, 1);
    GString *why = g_string_new(NULL);

    dt_gen_case(seed, r->features, c);
    memcpy(r->fcase, c, sizeof(*c));
    dt_native_start(r->nat, 1);
    dt_sim_run(r->sim, r->fcase, &r->simres[0]);
    dt_native_wait(r->nat);
    memcpy(n, &dt_native_results(r->nat)[0], sizeof(*n));
    printf("difftest: replaying seed=0x%016" PRIx64 "\n", seed);
    dt_crosscheck(r, r->fcase, why);
    dt_compare(r->fcase, n, &r->simres[0], why);
    printf("%s", why->len ? why->str : "  (no differences)\n");
    dt_print_case(r, r->fcase, n, &r->simres[0]);
    r->cases = 1;
    r->failures = why->len ? 1 : 0;
    g_string_free(why, TRUE);
    g_free(n);
}

static void dt_run_all(struct dt_run *r, uint64_t total, uint64_t base)
{
    struct dt_case *cases = dt_native_cases(r->nat);
    const struct dt_result *nres = dt_native_results(r->nat);
    uint64_t done = 0;
    unsigned i, n;

    while (done < total) {
        n = total - done < DT_BATCH ? (unsigned)(total - done) : DT_BATCH;
        for (i = 0; i < n; i++) {
            dt_gen_case(dt_mix64(base + done + i), r->features, &cases[i]);
        }
        /* The child runs the batch while this process simulates it. */
        dt_native_start(r->nat, n);
        for (i = 0; i < n; i++) {
            dt_sim_run(r->sim, &cases[i], &r->simres[i]);
        }
        dt_native_wait(r->nat);
        /* In order: a report may overwrite slot 0, already checked. */
        for (i = 0; i < n; i++) {
            dt_check(r, &cases[i], &nres[i], &r->simres[i]);
        }
        done += n;
    }
}

/* ---- CUnit --------------------------------------------------------------- */

static void test_difftest(void)
{
    struct dt_run r;
    bool replay;
    uint64_t n = dt_env_u64("IOVSIM_DIFFTEST_N", DT_DEFAULT_N, NULL);
    uint64_t base = dt_env_u64("IOVSIM_DIFFTEST_BASE", DT_DEFAULT_BASE, NULL);
    uint64_t seed = dt_env_u64("IOVSIM_DIFFTEST_SEED", 0, &replay);
    struct timespec t0, t1;
    unsigned k;

    if (!dt_run_init(&r)) {
        CU_FAIL("difftest: set-up failed");
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (replay) {
        dt_replay(&r, seed);
    } else {
        dt_run_all(&r, n, base);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("\ndifftest: %" PRIu64 " cases, %" PRIu64 " failures\n", r.cases,
           r.failures);
    if (r.failures > 0 || r.verbose) {
        if (r.xcheck_fail) {
            printf("difftest: %" PRIu64 " cases failed the decoder "
                   "cross-check\n", r.xcheck_fail);
        }
        printf("difftest: failures by first failing form:");
        for (k = 0; k < 64; k++) {
            if (r.form_fail[k]) {
                printf(" %s=%" PRIu64,
                       k < 63 ? dt_form_name(k) : "(not cut down)",
                       r.form_fail[k]);
            }
        }
        printf("\n");
        dt_sim_print_unsupported(r.sim);
    }
    if (r.verbose) {
        printf("difftest: %.2f s, %" PRIu64 " cases stopped by an "
               "exception natively, features 0x%x\n",
               (double)(t1.tv_sec - t0.tv_sec) +
                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
               r.native_faults, r.features);
        printf("difftest: native exceptions:");
        for (k = 0; k < 32; k++) {
            if (r.vec_seen[k]) {
                printf(" %s=%" PRIu64, dt_vector_name((int)k), r.vec_seen[k]);
            }
        }
        printf("\n");
        printf("difftest: cases per form:");
        for (k = 0; k < dt_form_count(); k++) {
            printf(" %s=%" PRIu64, dt_form_name(k), r.form_seen[k]);
        }
        printf("\n");
    }
    CU_ASSERT_EQUAL(r.failures, 0);
    /* A differential test that compared nothing proves nothing. */
    if (r.cases == 0 || (!replay && r.cases != n)) {
        printf("difftest: %" PRIu64 " cases compared of %" PRIu64 "\n",
               r.cases, replay ? 1 : n);
        CU_FAIL("difftest: not every case was compared");
    }
    dt_run_fini(&r);
}

/* A hand-made case of @code with quiet registers. */
static void dt_tiny_case(struct dt_case *c, const char *code, size_t len)
{
    memset(c, 0, sizeof(*c));
    c->init.gpr[4] = DT_STACK_ADDR + 0x800;
    c->init.rflags = 0x202;
    c->init.rip = DT_CODE_ADDR + DT_CODE_START;
    memcpy(c->code, code, len);
    c->code_len = (uint32_t)len;
}

/*
 * The native harness survives what generated code could do to it: a
 * child that exits, a case that hangs (cut off by the tick), a system
 * call the sandbox kills; the next case runs in a fresh child.
 */
static void test_native_harness(void)
{
    struct dt_native *nat;
    struct dt_case *c;
    const struct dt_result *res;
    bool replay;

    dt_env_u64("IOVSIM_DIFFTEST_SEED", 0, &replay);
    if (replay) {
        return; /* a replay is about one case: skip the 2 s self-test */
    }
    nat = dt_native_new(4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nat);
    c = dt_native_cases(nat);
    res = dt_native_results(nat);
    /* mov eax, 1 */
    dt_tiny_case(&c[0], "\xb8\x01\x00\x00\x00", 5);
    /* mov eax, 60 (exit); mov edi, 7; syscall */
    dt_tiny_case(&c[1], "\xb8\x3c\x00\x00\x00\xbf\x07\x00\x00\x00"
                        "\x0f\x05", 12);
    /* jmp $ */
    dt_tiny_case(&c[2], "\xeb\xfe", 2);
    /* mov eax, 39 (getpid); syscall: fatal in seccomp strict mode */
    dt_tiny_case(&c[3], "\xb8\x27\x00\x00\x00\x0f\x05", 7);
    dt_native_start(nat, 4);
    CU_ASSERT(dt_native_wait(nat) >= 1);
    CU_ASSERT_EQUAL(res[0].vector, DT_VEC_NONE);
    CU_ASSERT_EQUAL(res[0].regs.gpr[0], 1);
    CU_ASSERT_EQUAL(res[1].vector, DT_VEC_NATIVE_DIED);
    CU_ASSERT_EQUAL(res[2].vector, DT_VEC_NATIVE_DIED);
    CU_ASSERT_EQUAL(res[3].vector, dt_native_sandboxed(nat)
                                       ? DT_VEC_NATIVE_DIED
                                       : DT_VEC_NONE);
    /* ud2 traps as #UD with RIP at it; then a fresh child still works. */
    dt_tiny_case(&c[0], "\x90\x0f\x0b", 3);
    dt_native_start(nat, 1);
    CU_ASSERT_EQUAL(dt_native_wait(nat), 0);
    CU_ASSERT_EQUAL(res[0].vector, 6);
    CU_ASSERT_EQUAL(res[0].regs.rip, DT_CODE_ADDR + DT_CODE_START + 1);
    dt_native_free(nat);
}

/* The decoder cross-check alone over generated cases (no host run). */
static void test_crosscheck_generated(void)
{
    struct dt_run r;
    struct dt_case *c = g_new(struct dt_case, 1);
    uint64_t n = DT_CROSSCHECK_N, i, bad = 0, insns = 0;
    uint64_t base = dt_env_u64("IOVSIM_DIFFTEST_BASE", DT_DEFAULT_BASE, NULL);

    memset(&r, 0, sizeof(r));
    r.features = dt_host_features() | DT_FEAT_POPCNT | DT_FEAT_LZCNT |
                 DT_FEAT_BMI1 | DT_FEAT_CX16;
    CU_ASSERT_FATAL(dt_decoders_init(&r));
    for (i = 0; i < n; i++) {
        GString *why = g_string_new(NULL);

        /* Seeds from the far end of the range difftest uses. */
        dt_gen_case(dt_mix64(base - 1 - i), r.features, c);
        insns += c->ninsns;
        if (dt_crosscheck(&r, c, why) != 0) {
            if (bad++ < 10) {
                printf("\ndecode-crosscheck: seed=0x%016" PRIx64 "\n%s",
                       c->seed, why->str);
            }
        }
        g_string_free(why, TRUE);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(insns > n);
    dt_decoders_fini(&r);
    g_free(c);
}

/* Each Capstone exception must still be needed. */
static void test_crosscheck_exceptions(void)
{
    struct dt_run r;
    size_t i;

    memset(&r, 0, sizeof(r));
    CU_ASSERT_FATAL(dt_decoders_init(&r));
    for (i = 0; i < SIM_ARRAY_SIZE(dt_cs_exceptions); i++) {
        const struct dt_cs_exception *x = &dt_cs_exceptions[i];
        ZydisDecodedInstruction zi;

        if (x->why == NULL) {
            continue;
        }
        CU_ASSERT(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
            &r.zy, NULL, x->sample, sizeof(x->sample), &zi)));
        CU_ASSERT_EQUAL(zi.length, x->insn_len);
        CU_ASSERT_NOT_EQUAL(dt_cs_length(&r, x->sample, sizeof(x->sample),
                                         0x1000),
                            x->insn_len);
        CU_ASSERT_PTR_NOT_NULL(dt_cs_exception(x->sample, x->insn_len));
    }
    dt_decoders_fini(&r);
}

/* The generator is deterministic: a seed always gives the same case. */
static void test_generator_deterministic(void)
{
    struct dt_case *a = g_new(struct dt_case, 1);
    struct dt_case *b = g_new(struct dt_case, 1);
    uint64_t i;

    for (i = 0; i < 200; i++) {
        dt_gen_case(dt_mix64(i), DT_FEAT_POPCNT | DT_FEAT_CX16, a);
        dt_gen_case(dt_mix64(i), DT_FEAT_POPCNT | DT_FEAT_CX16, b);
        CU_ASSERT(memcmp(a, b, sizeof(*a)) == 0);
        CU_ASSERT(a->code_len <= DT_CODE_MAX && a->ninsns <= DT_MAX_INSNS);
    }
    g_free(a);
    g_free(b);
}

static CU_TestInfo dt_tests_difftest[] = {
    {"native harness", test_native_harness},
    {"host vs cpu", test_difftest},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo dt_tests_crosscheck[] = {
    {"generated instructions", test_crosscheck_generated},
    {"capstone exceptions still needed", test_crosscheck_exceptions},
    {"generator deterministic", test_generator_deterministic},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_difftest_suites[] = {
    {"difftest", NULL, NULL, NULL, NULL, dt_tests_difftest},
    {"cpu/decode-crosscheck", NULL, NULL, NULL, NULL, dt_tests_crosscheck},
    CU_SUITE_INFO_NULL,
};
