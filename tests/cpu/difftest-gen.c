/*
 * tests/cpu/difftest-gen.c: generates difftest cases.  A case is a
 * deterministic function of its 64-bit seed: random initial registers
 * (edge values in their low 8/16/32/64 bits), RFLAGS, data and stack
 * pages, and a short sequence of "forms".  A form is one instruction under
 * test plus the few set-up instructions that give it interesting operands
 * (mov reg, imm for edge values, shift counts, dividends, addresses), or
 * a control-flow construct with a generated body (jcc over a body, a
 * counted loop, a call to a subroutine).  Instructions are hand-encoded so
 * that every encoding (short accumulator forms, 80/81/83, d0/d2/c0,
 * high-byte registers, redundant and stale REX, 66/67, no-op segment
 * overrides, lock, rep) can be chosen on purpose; the driver checks every
 * instruction's length and mnemonic against Zydis and Capstone.
 *
 * Memory operands reach the data pages through every addressing form:
 * [disp32], [rip+disp32], [base+disp0/8/32], [base+index*scale+disp],
 * [index*scale+disp32], each also with the 67 address-size prefix (upper
 * register halves then random, as they must be ignored).  The generator
 * computes the base and index values that reach the address it chose and
 * sets them with mov instructions just before.  Locked accesses are
 * naturally aligned (a split lock would be slow or fatal on the host).
 * The first DT_SLOT_SIZE bytes of data hold values the generator plants
 * (jump targets, divisors) and are never written.
 *
 * ---- Undefined results: the policy -------------------------------------
 *
 * The SDM leaves some results undefined; a correct CPU may produce
 * anything there, so those bits are not compared.  The generator tracks,
 * instruction by instruction, which arithmetic flags are undefined (per
 * path; a body that may be skipped contributes the union, a loop body is
 * generated as if every flag were undefined on entry).  Each dt_insn
 * records the set before it runs (used when the case faults there), and
 * dt_case.flags_undef the set at the end.  An instruction that reads a
 * flag (adc, sbb, rcl, rcr, cmc, jcc, setcc, cmovcc, loopcc, lahf, pushf)
 * is never generated while that flag is undefined: a cmp is put first.
 * Undefined register results are never produced:
 *
 *   Instruction      Undefined (SDM Vol. 2 "Flags Affected" sections)
 *   and/or/xor/test  AF
 *   shl/shr/sal/sar  count (masked) != 0: AF; count > 1: OF;
 *                    shl/shr of 8/16 bits with count >= width: CF
 *   rol/ror/rcl/rcr  count (masked) > 1: OF (they never touch SF/ZF/AF/PF)
 *   shld/shrd        count != 0: AF; count > 1: OF.  16-bit with a
 *                    masked count > 16 leaves the result and all flags
 *                    undefined: the generator never uses such counts
 *   mul/imul         SF ZF AF PF
 *   div/idiv         CF PF AF ZF SF OF (all)
 *   bt/bts/btr/btc   OF SF AF PF (ZF is unaffected)
 *   bsf/bsr          CF OF SF AF PF; with a zero source the destination
 *                    is undefined too, so every bsf/bsr is followed by
 *                    "cmovz dst, other", which makes it defined again
 *   tzcnt/lzcnt      OF SF AF PF
 *
 * Vendor-specific results are avoided rather than masked: cmpxchg r32
 * with a register destination and a mismatch writes the destination back
 * on Intel (SDM pseudo-code: zero-extending it) but not on AMD, so such a
 * destination always starts with its upper half zero.
 *
 * Everything else, including RF (never compared: hardware sets it in the
 * image it saves for a fault) is handled in difftest.c.
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>
#include <Zydis/Zydis.h>

#include "tests/cpu/difftest.h"

/* RFLAGS bits. */
#define DT_CF 0x001u
#define DT_PF 0x004u
#define DT_AF 0x010u
#define DT_ZF 0x040u
#define DT_SF 0x080u
#define DT_DF 0x400u
#define DT_OF 0x800u
#define DT_ARITH (DT_CF | DT_PF | DT_AF | DT_ZF | DT_SF | DT_OF)
#define DT_IF 0x200u
#define DT_ID (1u << 21)

/* Register ids: 0..15 in ISA order, then ah/ch/dh/bh, then RIP. */
#define DT_RAX 0
#define DT_RCX 1
#define DT_RDX 2
#define DT_RBX 3
#define DT_RSP 4
#define DT_RBP 5
#define DT_RSI 6
#define DT_RDI 7
#define DT_AH 16
#define DT_RIP 20
#define DT_NOREG (-1)

#define DT_FREE_START DT_SLOT_SIZE /* data offsets forms may write */
#define DT_NSLOTS (DT_SLOT_SIZE / 8u)
#define DT_STACK_LOW (DT_STACK_ADDR + 0x100u) /* pushes stay above */
#define DT_CODE_BASE (DT_CODE_ADDR + DT_CODE_START)

/* Flags of the form table. */
#define DT_FF_STACK (1u << 0) /* moves RSP or leaves data on the stack */
#define DT_FF_FLOW (1u << 1)  /* has branches or a body */

/* An encoded memory operand. */
struct dt_mem {
    int base;        /* register, DT_RIP or DT_NOREG */
    int index;       /* register (not RSP) or DT_NOREG */
    unsigned scale;  /* log2 of the scale */
    int32_t disp;
    unsigned dispsz; /* 0, 1 or 4 */
    bool a32;        /* 67 prefix: 32-bit address */
    uint8_t seg;     /* no-op segment override prefix, or 0 */
    uint64_t target; /* for DT_RIP: the linear address meant */
};

/* A ModRM r/m operand. */
struct dt_rm {
    bool mem;
    int reg;
    struct dt_mem m;
};

/* One instruction to encode. */
struct dt_enc {
    unsigned mnem;
    unsigned size;      /* 2 adds 66, 8 adds REX.W; 0 or 1: neither */
    uint8_t pfx[4];     /* further legacy prefixes (lock, rep, hints) */
    unsigned npfx;
    bool keep_order;    /* mandatory prefixes: do not shuffle */
    bool rexw;          /* REX.W besides size 8 */
    uint8_t op[3];
    unsigned nop;
    int reg;            /* ModRM.reg (register id or /digit); -1: none */
    bool reg8, rm8;     /* byte registers in reg / rm */
    struct dt_rm rm;
    int opreg;          /* register in the low opcode bits, or -1 */
    bool opreg8;
    uint64_t imm;
    unsigned immsz;
};

struct dt_gen {
    struct dt_case *c;
    uint64_t rng;
    unsigned features;
    uint16_t undef;     /* arithmetic flags undefined now */
    uint64_t rsp;       /* RSP now (always known) */
    bool df;            /* DF now, when df_known */
    bool df_known;
    bool in_body;       /* inside a branch, loop or call body */
    uint16_t reserved;  /* registers forms must not write */
    unsigned nslots;
    bool dead;          /* the case surely stops here: generate no more */
    bool overflow;      /* the code or insn array overflowed (a bug) */
};

/* State to roll back to when a body is too long for a rel8. */
struct dt_snap {
    uint32_t code_len, ninsns;
    uint16_t undef;
    uint64_t rsp;
    bool df, df_known;
    unsigned nslots;
};

/* ---- Randomness and values ----------------------------------------------- */

uint64_t dt_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t dt_rand(struct dt_gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ull;
    return dt_mix64(g->rng);
}

/* Uniform in [0, n). */
static unsigned dt_below(struct dt_gen *g, unsigned n)
{
    return (unsigned)(((dt_rand(g) >> 32) * n) >> 32);
}

static bool dt_chance(struct dt_gen *g, unsigned percent)
{
    return dt_below(g, 100) < percent;
}

static uint64_t dt_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* A value of @size bytes that tends to sit on an edge. */
static uint64_t dt_edge(struct dt_gen *g, unsigned size)
{
    unsigned bits = 8 * size;
    uint64_t mask = dt_mask(size), sign = 1ull << (bits - 1);

    switch (dt_below(g, 18)) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return mask;
    case 3:
        return sign;
    case 4:
        return sign - 1;
    case 5:
        return (sign + 1) & mask;
    case 6:
        return mask - 1;
    case 7:
        return dt_below(g, 70);
    case 8:
        return 1ull << dt_below(g, bits);
    case 9:
        return mask ^ (1ull << dt_below(g, bits));
    case 10:
        return dt_rand(g) & dt_rand(g) & mask;
    case 11:
        return (dt_rand(g) | dt_rand(g)) & mask;
    case 12:
        return (sign - dt_below(g, 4)) & mask;
    case 13:
        return (mask - dt_below(g, 16)) & mask;
    default:
        return dt_rand(g) & mask;
    }
}

/* A 64-bit register value whose low @size bytes are an edge value. */
static uint64_t dt_value(struct dt_gen *g, unsigned size)
{
    uint64_t hi;

    if (size >= 8) {
        return dt_edge(g, 8);
    }
    switch (dt_below(g, 3)) {
    case 0:
        hi = 0;
        break;
    case 1:
        hi = ~0ull;
        break;
    default:
        hi = dt_rand(g);
        break;
    }
    return (hi & ~dt_mask(size)) | dt_edge(g, size);
}

/* A shift, rotate or bit-offset count for an operand of @size bytes. */
static unsigned dt_count(struct dt_gen *g, unsigned size)
{
    static const uint8_t fixed[] = {0,  1,  2,  3,  7,  8,   9,   15,  16,
                                    17, 31, 32, 33, 63, 64,  65,  127, 128,
                                    255};
    unsigned w = 8 * size;

    switch (dt_below(g, 6)) {
    case 0:
        return w - 1;
    case 1:
        return w;
    case 2:
        return w + 1;
    case 3:
        return dt_below(g, 256);
    default:
        return fixed[dt_below(g, SIM_ARRAY_SIZE(fixed))];
    }
}

static unsigned dt_pick_size(struct dt_gen *g)
{
    return 1u << dt_below(g, 4);
}

/* 2, 4 or 8. */
static unsigned dt_pick_size_w(struct dt_gen *g)
{
    return 2u << dt_below(g, 3);
}

/* ---- Registers ----------------------------------------------------------- */

/* The full register (0..15) that register id @r lives in. */
static int dt_full(int r)
{
    return r >= DT_AH && r < DT_AH + 4 ? r - DT_AH : r;
}

static uint16_t dt_bit(int r)
{
    return (uint16_t)(1u << dt_full(r));
}

static bool dt_writable(const struct dt_gen *g, uint16_t regs)
{
    return (g->reserved & regs) == 0;
}

/*
 * Picks a register of @size bytes.  @legacy: no REX allowed, so only
 * registers 0..7 and, for bytes, al..bl and ah..bh.  @write: the form
 * writes it.  Never returns a register in @avoid.
 */
static int dt_pick_reg(struct dt_gen *g, unsigned size, bool legacy,
                       bool write, uint16_t avoid)
{
    int r;
    unsigned tries;

    if (write) {
        avoid |= g->reserved;
    }
    for (tries = 0; tries < 64; tries++) {
        r = (int)dt_below(g, legacy ? 8 : 16);
        if (legacy && size == 1 && r >= 4) {
            r = DT_AH + r - 4;
        }
        if (!(avoid & dt_bit(r))) {
            return r;
        }
    }
    /* The callers never avoid every register they may use. */
    for (r = 0; r < (legacy ? 8 : 16); r++) {
        if (!(avoid & dt_bit(r))) {
            return legacy && size == 1 && r >= 4 ? DT_AH + r - 4 : r;
        }
    }
    g_assert_not_reached();
}

/* ---- Code emission ------------------------------------------------------- */

static uint32_t dt_pos(const struct dt_gen *g)
{
    return g->c->code_len;
}

static void dt_byte(struct dt_gen *g, uint8_t b)
{
    if (g->c->code_len >= DT_CODE_MAX) {
        g->overflow = true;
        return;
    }
    g->c->code[g->c->code_len++] = b;
}

static void dt_le(struct dt_gen *g, uint64_t v, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        dt_byte(g, (uint8_t)(v >> (8 * i)));
    }
}

static void dt_put_le(struct dt_gen *g, uint32_t at, uint64_t v, unsigned n)
{
    unsigned i;

    for (i = 0; i < n && at + i < DT_CODE_MAX; i++) {
        g->c->code[at + i] = (uint8_t)(v >> (8 * i));
    }
}

static bool dt_room(const struct dt_gen *g, unsigned bytes, unsigned insns)
{
    return g->c->code_len + bytes <= DT_CODE_MAX &&
           g->c->ninsns + insns <= DT_MAX_INSNS;
}

static void dt_begin(struct dt_gen *g, unsigned mnem)
{
    struct dt_insn *in;

    if (g->c->ninsns >= DT_MAX_INSNS) {
        g->overflow = true;
        return;
    }
    in = &g->c->insn[g->c->ninsns];
    in->off = (uint16_t)g->c->code_len;
    in->mnem = (uint16_t)mnem;
    in->undef = g->undef;
}

static void dt_end(struct dt_gen *g)
{
    struct dt_insn *in;

    if (g->c->ninsns >= DT_MAX_INSNS) {
        return;
    }
    in = &g->c->insn[g->c->ninsns++];
    in->len = (uint8_t)(g->c->code_len - in->off);
}

/* Emits a fixed byte sequence as one instruction. */
static void dt_raw(struct dt_gen *g, unsigned mnem, const uint8_t *b,
                   unsigned n)
{
    unsigned i;

    dt_begin(g, mnem);
    for (i = 0; i < n; i++) {
        dt_byte(g, b[i]);
    }
    dt_end(g);
}

static void dt_raw1(struct dt_gen *g, unsigned mnem, uint8_t b)
{
    dt_raw(g, mnem, &b, 1);
}

/* A branch with a rel8/rel32 to patch; returns the rel field's offset. */
static uint32_t dt_branch(struct dt_gen *g, unsigned mnem, const uint8_t *op,
                          unsigned nop, unsigned relsz)
{
    uint32_t at;
    unsigned i;

    dt_begin(g, mnem);
    for (i = 0; i < nop; i++) {
        dt_byte(g, op[i]);
    }
    at = dt_pos(g);
    dt_le(g, 0, relsz);
    dt_end(g);
    return at;
}

/* Points the rel field at @at (of @relsz bytes) to code offset @to. */
static bool dt_patch(struct dt_gen *g, uint32_t at, unsigned relsz,
                     uint32_t to)
{
    int64_t rel = (int64_t)to - (int64_t)(at + relsz);

    if (relsz == 1 && (rel < -128 || rel > 127)) {
        return false;
    }
    dt_put_le(g, at, (uint64_t)rel, relsz);
    return true;
}

static void dt_snap_take(const struct dt_gen *g, struct dt_snap *s)
{
    s->code_len = g->c->code_len;
    s->ninsns = g->c->ninsns;
    s->undef = g->undef;
    s->rsp = g->rsp;
    s->df = g->df;
    s->df_known = g->df_known;
    s->nslots = g->nslots;
}

static void dt_snap_restore(struct dt_gen *g, const struct dt_snap *s)
{
    g->c->code_len = s->code_len;
    g->c->ninsns = s->ninsns;
    g->undef = s->undef;
    g->rsp = s->rsp;
    g->df = s->df;
    g->df_known = s->df_known;
    g->nslots = s->nslots;
}

static unsigned dt_regcode(int r)
{
    return r >= DT_AH && r < DT_AH + 4 ? (unsigned)(r - DT_AH + 4)
                                       : (unsigned)r & 7;
}

/* Writes @e: legacy prefixes, REX, opcode, ModRM/SIB/disp, immediate. */
static void dt_encode(struct dt_gen *g, const struct dt_enc *e)
{
    uint8_t pfx[8];
    unsigned npfx = 0, i, rex = 0, mod, rmcode;
    bool hi = false, need = false, sib = false;
    const struct dt_mem *m = &e->rm.m;
    uint32_t disp_at = 0;
    int base, index;

    /* Legacy prefixes. */
    if (e->rm.mem && e->reg >= 0 && m->seg) {
        pfx[npfx++] = m->seg;
    }
    if (e->size == 2) {
        pfx[npfx++] = 0x66;
    }
    if (e->reg >= 0 && e->rm.mem && m->a32) {
        pfx[npfx++] = 0x67;
    }
    for (i = 0; i < e->npfx; i++) {
        pfx[npfx++] = e->pfx[i];
    }
    if (!e->keep_order && npfx > 1 && dt_chance(g, 25)) {
        for (i = npfx - 1; i > 0; i--) {
            unsigned j = dt_below(g, i + 1);
            uint8_t t = pfx[i];

            pfx[i] = pfx[j];
            pfx[j] = t;
        }
    }

    /* REX. */
    if (e->size == 8 || e->rexw) {
        rex |= 8;
    }
    if (e->reg >= 0) {
        if (e->reg8 && e->reg >= DT_AH) {
            hi = true;
        } else if (e->reg8 && e->reg >= 4) {
            need = true;
        }
        if (e->reg < DT_AH && (e->reg & 8)) {
            rex |= 4;
        }
        if (e->rm.mem) {
            if (m->index >= 0 && (m->index & 8)) {
                rex |= 2;
            }
            if (m->base >= 0 && m->base != DT_RIP && (m->base & 8)) {
                rex |= 1;
            }
        } else {
            if (e->rm8 && e->rm.reg >= DT_AH) {
                hi = true;
            } else if (e->rm8 && e->rm.reg >= 4) {
                need = true;
            }
            if (e->rm.reg < DT_AH && (e->rm.reg & 8)) {
                rex |= 1;
            }
        }
    }
    if (e->opreg >= 0) {
        if (e->opreg8 && e->opreg >= DT_AH) {
            hi = true;
        } else if (e->opreg8 && e->opreg >= 4) {
            need = true;
        }
        if (e->opreg < DT_AH && (e->opreg & 8)) {
            rex |= 1;
        }
    }
    g_assert(!(hi && (rex || need)));
    if (!hi && !rex && !need && dt_chance(g, 4)) {
        need = true; /* a redundant REX (0x40) */
    }
    if (!hi && !rex && !need && npfx > 0 && dt_chance(g, 3)) {
        /*
         * A stale REX: one followed by a legacy prefix is ignored
         * (SDM 2 §2.2.1), so the instruction means the same.
         */
        dt_byte(g, (uint8_t)(0x40 | dt_below(g, 16)));
    }
    for (i = 0; i < npfx; i++) {
        dt_byte(g, pfx[i]);
    }
    if (rex || need) {
        dt_byte(g, (uint8_t)(0x40 | rex));
    }

    /* Opcode. */
    for (i = 0; i < e->nop; i++) {
        uint8_t b = e->op[i];

        if (i + 1 == e->nop && e->opreg >= 0) {
            b = (uint8_t)(b | dt_regcode(e->opreg));
        }
        dt_byte(g, b);
    }

    /* ModRM, SIB, displacement. */
    if (e->reg >= 0) {
        unsigned regf = dt_regcode(e->reg);

        if (!e->rm.mem) {
            dt_byte(g, (uint8_t)(0xc0 | regf << 3 | dt_regcode(e->rm.reg)));
        } else if (m->base == DT_RIP) {
            dt_byte(g, (uint8_t)(regf << 3 | 5));
            disp_at = dt_pos(g);
            dt_le(g, 0, 4);
        } else if (m->base < 0) {
            index = m->index < 0 ? 4 : m->index & 7;
            dt_byte(g, (uint8_t)(regf << 3 | 4));
            dt_byte(g, (uint8_t)(m->scale << 6 | (unsigned)index << 3 | 5));
            dt_le(g, (uint32_t)m->disp, 4);
        } else {
            base = m->base;
            switch (m->dispsz) {
            case 0:
                mod = (base & 7) == 5 ? 1 : 0;
                break;
            case 1:
                mod = 1;
                break;
            default:
                mod = 2;
                break;
            }
            sib = m->index >= 0 || (base & 7) == 4;
            rmcode = sib ? 4 : (unsigned)base & 7;
            dt_byte(g, (uint8_t)(mod << 6 | regf << 3 | rmcode));
            if (sib) {
                index = m->index < 0 ? 4 : m->index & 7;
                dt_byte(g, (uint8_t)(m->scale << 6 | (unsigned)index << 3 |
                                     ((unsigned)base & 7)));
            }
            if (mod == 1) {
                dt_byte(g, (uint8_t)m->disp);
            } else if (mod == 2) {
                dt_le(g, (uint32_t)m->disp, 4);
            }
        }
    }
    dt_le(g, e->imm, e->immsz);
    if (disp_at) {
        dt_put_le(g, disp_at, m->target - (DT_CODE_BASE + dt_pos(g)), 4);
    }
}

static void dt_emit(struct dt_gen *g, const struct dt_enc *e)
{
    dt_begin(g, e->mnem);
    dt_encode(g, e);
    dt_end(g);
}

static void dt_enc_init(struct dt_enc *e, unsigned mnem, unsigned size)
{
    memset(e, 0, sizeof(*e));
    e->mnem = mnem;
    e->size = size;
    e->reg = -1;
    e->opreg = -1;
}

static void dt_enc_op(struct dt_enc *e, uint8_t b0, int b1, int b2)
{
    e->op[e->nop++] = b0;
    if (b1 >= 0) {
        e->op[e->nop++] = (uint8_t)b1;
    }
    if (b2 >= 0) {
        e->op[e->nop++] = (uint8_t)b2;
    }
}

static void dt_enc_pfx(struct dt_enc *e, uint8_t p)
{
    g_assert(e->npfx < SIM_ARRAY_SIZE(e->pfx));
    e->pfx[e->npfx++] = p;
}

/* Immediate of an "iz" operand: imm16 for size 2, else imm32. */
static unsigned dt_iz(unsigned size)
{
    return size == 2 ? 2 : 4;
}

/* ---- Flag bookkeeping ---------------------------------------------------- */

static void dt_flags(struct dt_gen *g, unsigned def, unsigned undef)
{
    g->undef = (uint16_t)((g->undef & ~def) | undef);
}

/* Flags read by condition code @cc (SDM 1 Appendix B). */
static unsigned dt_cc_reads(unsigned cc)
{
    static const uint16_t reads[8] = {
        DT_OF, DT_CF, DT_ZF, DT_CF | DT_ZF,
        DT_SF, DT_PF, DT_SF | DT_OF, DT_ZF | DT_SF | DT_OF,
    };

    return reads[(cc >> 1) & 7];
}

static void dt_cmp_rr(struct dt_gen *g)
{
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_CMP, dt_chance(g, 50) ? 8 : 4);
    dt_enc_op(&e, 0x39, -1, -1);
    e.reg = dt_pick_reg(g, e.size, false, false, 0);
    e.rm.reg = dt_pick_reg(g, e.size, false, false, 0);
    dt_emit(g, &e);
    dt_flags(g, DT_ARITH, 0);
}

/* Makes sure the flags in @mask are defined before a reader. */
static void dt_need(struct dt_gen *g, unsigned mask)
{
    if (g->undef & mask) {
        dt_cmp_rr(g);
    }
}

/* ---- Set-up instructions ------------------------------------------------- */

/* mov @r, @v with the shortest encoding for all 64 bits. */
static void dt_set64(struct dt_gen *g, int r, uint64_t v)
{
    struct dt_enc e;

    g_assert(r < 16 && dt_writable(g, dt_bit(r)));
    if (v <= 0xffffffffull) {
        dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, 4);
        dt_enc_op(&e, 0xb8, -1, -1);
        e.opreg = r;
        e.imm = v;
        e.immsz = 4;
    } else if ((uint64_t)(int64_t)(int32_t)v == v) {
        dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, 8);
        dt_enc_op(&e, 0xc7, -1, -1);
        e.reg = 0;
        e.rm.reg = r;
        e.imm = v;
        e.immsz = 4;
    } else {
        dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, 8);
        dt_enc_op(&e, 0xb8, -1, -1);
        e.opreg = r;
        e.imm = v;
        e.immsz = 8;
    }
    dt_emit(g, &e);
}

/* mov to the low @size bytes of @r (a byte id may be ah..bh). */
static void dt_set(struct dt_gen *g, int r, unsigned size, uint64_t v)
{
    struct dt_enc e;

    g_assert(dt_writable(g, dt_bit(r)));
    if (size == 8) {
        dt_set64(g, r, v);
        return;
    }
    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, size);
    dt_enc_op(&e, size == 1 ? 0xb0 : 0xb8, -1, -1);
    e.opreg = r;
    e.opreg8 = size == 1;
    e.imm = v & dt_mask(size);
    e.immsz = size;
    dt_emit(g, &e);
}

/* Sometimes gives register operand @r an edge value first. */
static void dt_maybe_set(struct dt_gen *g, int r, unsigned size,
                         unsigned percent)
{
    if (dt_writable(g, dt_bit(r)) && dt_chance(g, percent)) {
        if (dt_chance(g, 50)) {
            dt_set(g, r, size, dt_edge(g, size));
        } else {
            dt_set64(g, dt_full(r), dt_value(g, size));
        }
    }
}

/* clc or stc: gives CF a chosen value. */
static void dt_set_cf(struct dt_gen *g)
{
    bool stc = dt_chance(g, 50);

    dt_raw1(g, stc ? ZYDIS_MNEMONIC_STC : ZYDIS_MNEMONIC_CLC,
            stc ? 0xf9 : 0xf8);
    dt_flags(g, DT_CF, 0);
}

/* ---- Memory operands ----------------------------------------------------- */

/*
 * Picks a data offset for an access of @size bytes aligned to @align:
 * usually anywhere in the free part, sometimes across the page boundary
 * in the middle, rarely (when @may_fault) across the end into the
 * unmapped page.  Plants an edge value there half the time.
 */
static uint64_t dt_data_addr(struct dt_gen *g, unsigned size, unsigned align,
                             bool may_fault)
{
    unsigned r = dt_below(g, 1000), off;
    uint64_t v;

    if (may_fault && r < 15) {
        off = DT_DATA_SIZE - dt_below(g, size);
    } else if (r < 100) {
        off = DT_PAGE_SIZE - dt_below(g, size + 1) - (size > 1 ? 1 : 0);
    } else {
        off = DT_FREE_START + dt_below(g, DT_DATA_SIZE - DT_FREE_START - size);
    }
    if (align > 1) {
        off &= ~(align - 1);
        if (off < DT_FREE_START) {
            off = DT_FREE_START;
        }
    }
    if (off + size <= DT_DATA_SIZE && size <= 8 && dt_chance(g, 50)) {
        v = dt_edge(g, size);
        memcpy(g->c->data + off, &v, size);
    }
    return DT_DATA_ADDR + off;
}

/* An address in the stack page near RSP, for @size bytes. */
static uint64_t dt_stack_addr(struct dt_gen *g, unsigned size)
{
    uint64_t lo = g->rsp > DT_STACK_ADDR + 0x100 ? g->rsp - 0x100
                                                 : DT_STACK_ADDR;
    uint64_t hi = DT_STACK_ADDR + DT_PAGE_SIZE - size;

    if (g->rsp + 0x100 < hi) {
        hi = g->rsp + 0x100;
    }
    return lo + dt_below(g, (unsigned)(hi - lo + 1));
}

/* Whether @a is outside the canonical range (bits 63:47 not all equal). */
static bool dt_noncanonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) != a;
}

/* Whether an access of up to 16 bytes at @a reaches a non-canonical byte. */
static bool dt_noncanonical_access(uint64_t a)
{
    return dt_noncanonical(a) || dt_noncanonical(a + 15);
}

/*
 * A non-canonical address for an access of @size bytes: #GP(0).  Some
 * accesses straddle the boundary: the fault comes before paging even
 * when only the last bytes are non-canonical.
 */
static uint64_t dt_noncanonical_addr(struct dt_gen *g, unsigned size)
{
    uint64_t k = dt_below(g, 0x1000);

    if (size > 1 && dt_chance(g, 20)) {
        return dt_chance(g, 50)
                   ? 0x0000800000000000ull - 1 - dt_below(g, size - 1)
                   : 0xffff800000000000ull - 1 - dt_below(g, size - 1);
    }
    switch (dt_below(g, 4)) {
    case 0:
        return 0x0000800000000000ull + k;
    case 1:
        return 0xffff7ffffffff000ull - size - k;
    case 2:
        return 0x8000000000000000ull + k;
    default:
        return (dt_rand(g) | 0x4000000000000000ull) & ~0x8000000000000000ull;
    }
}

/*
 * Where a data access goes: the data pages, or (top level) the stack, or
 * rarely a non-canonical address.
 */
static uint64_t dt_access_addr(struct dt_gen *g, unsigned size,
                               unsigned align)
{
    uint64_t a;

    if (dt_below(g, 1000) < 3) {
        a = dt_noncanonical_addr(g, size);
        return align > 1 ? a & ~(uint64_t)(align - 1) : a;
    }
    if (!g->in_body && dt_chance(g, 8)) {
        a = dt_stack_addr(g, size);
        return align > 1 ? a & ~(uint64_t)(align - 1) : a;
    }
    return dt_data_addr(g, size, align, true);
}

static uint8_t dt_seg_prefix(struct dt_gen *g)
{
    static const uint8_t segs[] = {0x26, 0x2e, 0x36, 0x3e};

    return dt_chance(g, 8) ? segs[dt_below(g, 4)] : 0;
}

static int32_t dt_disp(struct dt_gen *g, unsigned dispsz)
{
    switch (dispsz) {
    case 0:
        return 0;
    case 1:
        return (int8_t)dt_rand(g);
    default:
        switch (dt_below(g, 3)) {
        case 0:
            return (int32_t)dt_rand(g);
        case 1:
            return (int32_t)(dt_below(g, 0x4000) - 0x2000);
        default:
            return (int32_t)(int8_t)dt_rand(g); /* a disp8 as disp32 */
        }
    }
}

/* A value for a base or index register: garbage above 32 bits with 67. */
static uint64_t dt_addr_reg_value(struct dt_gen *g, uint64_t low, bool a32)
{
    if (a32) {
        low &= 0xffffffffull;
        if (dt_chance(g, 50)) {
            low |= dt_rand(g) << 32;
        }
    }
    return low;
}

/*
 * Builds a memory operand designating linear address @target, emitting
 * the mov instructions that set its base and index.  Base and index avoid
 * @avoid (registers the form has set up) and, with @legacy, r8..r15.
 */
static void dt_mem_for(struct dt_gen *g, uint64_t target, uint16_t avoid,
                       bool legacy, struct dt_mem *m)
{
    unsigned kind = dt_below(g, 100);
    uint64_t idxval = 0, basev;
    uint16_t av;
    bool rsp_base;

    memset(m, 0, sizeof(*m));
    m->base = m->index = DT_NOREG;
    m->a32 = dt_chance(g, 12);
    m->seg = dt_seg_prefix(g);
    if (dt_noncanonical_access(target)) {
        /*
         * Only a 64-bit base register can reach it.  It is never
         * SS-relative (RSP/RBP base, SS override): whether that raises
         * #SS (Intel SDM) or #GP (this AMD host) is vendor-specific.
         */
        kind = 35 + dt_below(g, 65);
        m->a32 = false;
        avoid |= dt_bit(DT_RSP) | dt_bit(DT_RBP) | dt_bit(12) | dt_bit(13);
        if (m->seg == 0x36) {
            m->seg = 0;
        }
    }
    av = avoid | g->reserved;
    if (kind < 15) {
        m->base = DT_RIP;
        m->target = target;
        return;
    }
    if (kind < 25) {
        m->disp = (int32_t)target;
        m->dispsz = 4;
        return;
    }
    if (kind < 35) {
        /* [index*scale + disp32] */
        m->index = dt_pick_reg(g, 8, legacy, true, av | dt_bit(DT_RSP));
        m->scale = dt_below(g, 4);
        idxval = (uint64_t)(int64_t)(int)(dt_below(g, 512) - 256);
        m->disp = (int32_t)(target - (idxval << m->scale));
        m->dispsz = 4;
        dt_set64(g, m->index, dt_addr_reg_value(g, idxval, m->a32));
        return;
    }
    m->dispsz = dt_below(g, 3) == 2 ? 4 : dt_below(g, 2);
    m->disp = dt_disp(g, m->dispsz);
    rsp_base = !(avoid & dt_bit(DT_RSP)) && dt_chance(g, 15);
    if (rsp_base) {
        /* RSP's value is known; the displacement absorbs the difference. */
        m->base = DT_RSP;
        m->dispsz = 4;
        m->disp = (int32_t)(target - g->rsp);
        if (m->disp >= -128 && m->disp < 128 && dt_chance(g, 70)) {
            m->dispsz = m->disp == 0 && dt_chance(g, 50) ? 0 : 1;
        }
    } else {
        m->base = dt_pick_reg(g, 8, legacy, true, av);
    }
    if (kind >= 65) {
        m->index = dt_pick_reg(g, 8, legacy, true,
                               av | dt_bit(DT_RSP) | dt_bit(m->base));
        m->scale = dt_below(g, 4);
        /* With RSP as base the displacement must absorb a small index. */
        idxval = rsp_base || dt_chance(g, 70)
                     ? (uint64_t)(int64_t)(int)(dt_below(g, 1024) - 512)
                     : dt_rand(g);
        dt_set64(g, m->index, dt_addr_reg_value(g, idxval, m->a32));
    }
    if (!rsp_base) {
        basev = target - (uint64_t)(int64_t)m->disp - (idxval << m->scale);
        dt_set64(g, m->base, dt_addr_reg_value(g, basev, m->a32));
    } else if (m->index >= 0) {
        m->disp = (int32_t)(target - g->rsp - (idxval << m->scale));
        m->dispsz = 4;
    }
}

/* An r/m operand: a register (@reg_pct percent) or a data access. */
static void dt_rm_pick(struct dt_gen *g, struct dt_rm *rm, unsigned size,
                       bool legacy, bool write, unsigned reg_pct)
{
    memset(rm, 0, sizeof(*rm));
    rm->mem = !dt_chance(g, reg_pct);
    if (!rm->mem) {
        rm->reg = dt_pick_reg(g, size, legacy, write, 0);
    }
}

/* Completes a memory r/m operand once the register set-ups are out. */
static void dt_rm_mem(struct dt_gen *g, struct dt_rm *rm, unsigned size,
                      unsigned align, uint16_t avoid, bool legacy)
{
    if (rm->mem) {
        dt_mem_for(g, dt_access_addr(g, size, align), avoid, legacy, &rm->m);
    }
}

/* ---- Arithmetic and logic ------------------------------------------------ */

static const unsigned dt_alu_mnem[8] = {
    ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR,  ZYDIS_MNEMONIC_ADC,
    ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_SUB,
    ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
};

/* Flags after ALU op @op (0..7 as in the opcode map). */
static void dt_alu_flags(struct dt_gen *g, unsigned op)
{
    if (op == 1 || op == 4 || op == 6) {
        dt_flags(g, DT_ARITH & ~DT_AF, DT_AF);
    } else {
        dt_flags(g, DT_ARITH, 0);
    }
}

/* adc/sbb read CF: give it a value or make sure it is defined. */
static void dt_alu_cf(struct dt_gen *g, unsigned op)
{
    if (op == 2 || op == 3) {
        if (dt_chance(g, 30)) {
            dt_set_cf(g);
        } else {
            dt_need(g, DT_CF);
        }
    }
}

/* op r/m, reg and op reg, r/m (00..3b) with registers or memory. */
static bool dt_f_alu(struct dt_gen *g)
{
    unsigned op = dt_below(g, 8), size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40);
    bool to_reg = dt_chance(g, 50), lock;
    bool writes = op != 7;
    struct dt_enc e;
    int other;

    dt_enc_init(&e, dt_alu_mnem[op], size);
    e.reg8 = e.rm8 = size == 1;
    dt_rm_pick(g, &e.rm, size, legacy, writes && !to_reg, 60);
    other = dt_pick_reg(g, size, legacy, writes && to_reg, 0);
    if (!e.rm.mem && dt_chance(g, 10) &&
        (!writes || dt_writable(g, dt_bit(e.rm.reg)))) {
        other = e.rm.reg; /* add eax, eax; sub; xor ... */
    }
    e.reg = other;
    dt_maybe_set(g, other, size, 30);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 30);
    }
    lock = e.rm.mem && !to_reg && writes && dt_chance(g, 25);
    dt_rm_mem(g, &e.rm, size, lock ? size : 1, dt_bit(other), legacy);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    if (!e.rm.mem && dt_chance(g, 3)) {
        dt_enc_pfx(&e, dt_chance(g, 50) ? 0x2e : 0x3e); /* ignored */
    }
    dt_alu_cf(g, op);
    dt_enc_op(&e, (uint8_t)(op * 8 + (size == 1 ? 0 : 1) + (to_reg ? 2 : 0)),
              -1, -1);
    dt_emit(g, &e);
    dt_alu_flags(g, op);
    return true;
}

/* 80 /op ib, 81 /op iz, 83 /op ib, and the accumulator forms 04/05. */
static bool dt_f_alu_imm(struct dt_gen *g)
{
    unsigned op = dt_below(g, 8), v = dt_below(g, 4), size;
    bool writes = op != 7, legacy, lock = false;
    struct dt_enc e;

    size = v == 0 ? 1 : v == 3 ? dt_pick_size(g) : dt_pick_size_w(g);
    legacy = size == 1 && dt_chance(g, 40);
    dt_enc_init(&e, dt_alu_mnem[op], size);
    if (v == 3) {
        /* al/ax/eax/rax, imm */
        if (writes && !dt_writable(g, dt_bit(DT_RAX))) {
            return false;
        }
        dt_maybe_set(g, DT_RAX, size, 30);
        dt_enc_op(&e, (uint8_t)(op * 8 + (size == 1 ? 4 : 5)), -1, -1);
        e.immsz = size == 1 ? 1 : dt_iz(size);
    } else {
        e.reg = (int)op;
        e.rm8 = size == 1;
        dt_rm_pick(g, &e.rm, size, legacy, writes, 55);
        if (!e.rm.mem) {
            dt_maybe_set(g, e.rm.reg, size, 30);
        }
        lock = e.rm.mem && writes && dt_chance(g, 25);
        dt_rm_mem(g, &e.rm, size, lock ? size : 1, 0, legacy);
        dt_enc_op(&e, v == 0 ? 0x80 : v == 1 ? 0x81 : 0x83, -1, -1);
        e.immsz = v == 1 ? dt_iz(size) : 1;
    }
    e.imm = dt_edge(g, e.immsz);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_alu_cf(g, op);
    dt_emit(g, &e);
    dt_alu_flags(g, op);
    return true;
}

/* test: 84/85, a8/a9, f6/f7 /0 (and the /1 alias). */
static bool dt_f_test(struct dt_gen *g)
{
    unsigned v = dt_below(g, 3), size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40);
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_TEST, size);
    e.reg8 = e.rm8 = size == 1;
    if (v == 0) {
        dt_rm_pick(g, &e.rm, size, legacy, false, 60);
        e.reg = dt_pick_reg(g, size, legacy, false, 0);
        dt_maybe_set(g, e.reg, size, 30);
        dt_rm_mem(g, &e.rm, size, 1, dt_bit(e.reg), legacy);
        dt_enc_op(&e, size == 1 ? 0x84 : 0x85, -1, -1);
    } else if (v == 1) {
        dt_maybe_set(g, DT_RAX, size, 30);
        dt_enc_op(&e, size == 1 ? 0xa8 : 0xa9, -1, -1);
        e.immsz = size == 1 ? 1 : dt_iz(size);
        e.imm = dt_edge(g, e.immsz);
    } else {
        e.reg = dt_chance(g, 8) ? 1 : 0;
        dt_rm_pick(g, &e.rm, size, legacy, false, 60);
        dt_rm_mem(g, &e.rm, size, 1, 0, legacy);
        dt_enc_op(&e, size == 1 ? 0xf6 : 0xf7, -1, -1);
        e.immsz = size == 1 ? 1 : dt_iz(size);
        e.imm = dt_edge(g, e.immsz);
    }
    dt_emit(g, &e);
    dt_flags(g, DT_ARITH & ~DT_AF, DT_AF);
    return true;
}

/*
 * A one-operand group instruction (fe/ff /0 /1, f6/f7 /2 /3) on a
 * register or memory, lockable.
 */
static void dt_unary(struct dt_gen *g, unsigned mnem, uint8_t op8,
                     unsigned digit, unsigned size)
{
    bool legacy = size == 1 && dt_chance(g, 40), lock;
    struct dt_enc e;

    dt_enc_init(&e, mnem, size);
    e.reg = (int)digit;
    e.rm8 = size == 1;
    dt_rm_pick(g, &e.rm, size, legacy, true, 55);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 40);
    }
    lock = e.rm.mem && dt_chance(g, 25);
    dt_rm_mem(g, &e.rm, size, lock ? size : 1, 0, legacy);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, size == 1 ? op8 : (uint8_t)(op8 + 1), -1, -1);
    dt_emit(g, &e);
}

static bool dt_f_incdec(struct dt_gen *g)
{
    bool dec = dt_chance(g, 50);

    dt_unary(g, dec ? ZYDIS_MNEMONIC_DEC : ZYDIS_MNEMONIC_INC, 0xfe,
             dec ? 1 : 0, dt_pick_size(g));
    dt_flags(g, DT_ARITH & ~DT_CF, 0);
    return true;
}

static bool dt_f_negnot(struct dt_gen *g)
{
    bool neg = dt_chance(g, 60);

    dt_unary(g, neg ? ZYDIS_MNEMONIC_NEG : ZYDIS_MNEMONIC_NOT, 0xf6,
             neg ? 3 : 2, dt_pick_size(g));
    if (neg) {
        dt_flags(g, DT_ARITH, 0);
    }
    return true;
}

/* ---- Shifts and rotates -------------------------------------------------- */

static const unsigned dt_shift_mnem[8] = {
    ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL,
    ZYDIS_MNEMONIC_RCR, ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR,
    ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SAR, /* /6 is SAL, an alias */
};

/* Flags after shift group op @op of @size bytes by @count. */
static void dt_shift_flags(struct dt_gen *g, unsigned op, unsigned size,
                           unsigned count)
{
    unsigned mc = count & (size == 8 ? 63 : 31);
    unsigned of = mc == 1 ? DT_OF : 0, of_u = mc == 1 ? 0 : DT_OF;

    if (mc == 0) {
        return; /* flags unaffected */
    }
    if (op < 4) {
        /* Rotates write CF (rcl/rcr keep it defined) and OF only. */
        dt_flags(g, DT_CF | of, of_u);
        return;
    }
    if (op != 7 && size <= 2 && mc >= 8 * size) {
        dt_flags(g, DT_SF | DT_ZF | DT_PF | of, DT_CF | DT_AF | of_u);
    } else {
        dt_flags(g, DT_CF | DT_SF | DT_ZF | DT_PF | of, DT_AF | of_u);
    }
}

/* Sets CL to @count unless RCX is reserved; returns false then. */
static bool dt_set_cl(struct dt_gen *g, unsigned count)
{
    if (!dt_writable(g, dt_bit(DT_RCX))) {
        return false;
    }
    dt_set(g, DT_RCX, 1, count);
    return true;
}

/* Shift group 2: d0/d1 (by 1), d2/d3 (by CL), c0/c1 (by imm8). */
static bool dt_f_shift(struct dt_gen *g)
{
    unsigned op = dt_below(g, 8), size = dt_pick_size(g);
    unsigned v = dt_below(g, 3), count;
    bool legacy = size == 1 && dt_chance(g, 40);
    struct dt_enc e;
    uint16_t avoid = 0;

    if (op == 6 && dt_chance(g, 70)) {
        op = 4; /* keep the SAL alias rarer */
    }
    dt_enc_init(&e, dt_shift_mnem[op], size);
    e.reg = (int)op;
    e.rm8 = size == 1;
    dt_rm_pick(g, &e.rm, size, legacy, true, 60);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 40);
    }
    count = v == 0 ? 1 : dt_count(g, size);
    if (v == 1) {
        if (dt_set_cl(g, count)) {
            avoid = dt_bit(DT_RCX);
        } else {
            v = 2;
        }
    }
    dt_rm_mem(g, &e.rm, size, 1, avoid, legacy);
    if (op == 2 || op == 3) {
        if (dt_chance(g, 30)) {
            dt_set_cf(g);
        } else {
            dt_need(g, DT_CF);
        }
    }
    switch (v) {
    case 0:
        dt_enc_op(&e, size == 1 ? 0xd0 : 0xd1, -1, -1);
        break;
    case 1:
        dt_enc_op(&e, size == 1 ? 0xd2 : 0xd3, -1, -1);
        break;
    default:
        dt_enc_op(&e, size == 1 ? 0xc0 : 0xc1, -1, -1);
        e.imm = count;
        e.immsz = 1;
        break;
    }
    dt_emit(g, &e);
    dt_shift_flags(g, op, size, count);
    return true;
}

/* shld/shrd r/m, reg, imm8 or CL. */
static bool dt_f_shxd(struct dt_gen *g)
{
    bool right = dt_chance(g, 50), by_cl = dt_chance(g, 50);
    unsigned size = dt_pick_size_w(g), count, mc, tries = 0;
    struct dt_enc e;
    uint16_t avoid = 0;

    do {
        count = dt_count(g, size);
        mc = count & (size == 8 ? 63 : 31);
    } while (size == 2 && mc > 16 && ++tries < 100);
    if (size == 2 && mc > 16) {
        count = mc = 16;
    }
    dt_enc_init(&e, right ? ZYDIS_MNEMONIC_SHRD : ZYDIS_MNEMONIC_SHLD, size);
    dt_rm_pick(g, &e.rm, size, false, true, 60);
    e.reg = dt_pick_reg(g, size, false, false, 0);
    dt_maybe_set(g, e.reg, size, 30);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 30);
    }
    if (by_cl && dt_set_cl(g, count)) {
        avoid = dt_bit(DT_RCX);
    } else {
        by_cl = false;
    }
    dt_rm_mem(g, &e.rm, size, 1, avoid | dt_bit(e.reg), false);
    dt_enc_op(&e, 0x0f, (right ? 0xac : 0xa4) + (by_cl ? 1 : 0), -1);
    if (!by_cl) {
        e.imm = count;
        e.immsz = 1;
    }
    dt_emit(g, &e);
    if (mc != 0) {
        dt_flags(g, DT_CF | DT_SF | DT_ZF | DT_PF | (mc == 1 ? DT_OF : 0),
                 DT_AF | (mc == 1 ? 0 : DT_OF));
    }
    return true;
}

/* ---- Multiply and divide ------------------------------------------------- */

/* mul/imul r/m (f6/f7 /4 /5). */
static bool dt_f_mul1(struct dt_gen *g)
{
    bool imul = dt_chance(g, 50);
    unsigned size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40);
    struct dt_enc e;

    if (!dt_writable(g, dt_bit(DT_RAX) | dt_bit(DT_RDX))) {
        return false;
    }
    dt_enc_init(&e, imul ? ZYDIS_MNEMONIC_IMUL : ZYDIS_MNEMONIC_MUL, size);
    e.reg = imul ? 5 : 4;
    e.rm8 = size == 1;
    dt_rm_pick(g, &e.rm, size, legacy, false, 60);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 40);
    }
    dt_maybe_set(g, DT_RAX, size, 40);
    dt_rm_mem(g, &e.rm, size, 1, dt_bit(DT_RAX), legacy);
    dt_enc_op(&e, size == 1 ? 0xf6 : 0xf7, -1, -1);
    dt_emit(g, &e);
    dt_flags(g, DT_CF | DT_OF, DT_SF | DT_ZF | DT_AF | DT_PF);
    return true;
}

/* imul reg, r/m (0f af) and imul reg, r/m, imm (69, 6b). */
static bool dt_f_imul(struct dt_gen *g)
{
    unsigned size = dt_pick_size_w(g), v = dt_below(g, 3);
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_IMUL, size);
    e.reg = dt_pick_reg(g, size, false, true, 0);
    dt_rm_pick(g, &e.rm, size, false, false, 60);
    dt_maybe_set(g, e.reg, size, 30);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 40);
    }
    dt_rm_mem(g, &e.rm, size, 1, dt_bit(e.reg), false);
    if (v == 0) {
        dt_enc_op(&e, 0x0f, 0xaf, -1);
    } else if (v == 1) {
        dt_enc_op(&e, 0x69, -1, -1);
        e.immsz = dt_iz(size);
        e.imm = dt_edge(g, e.immsz);
    } else {
        dt_enc_op(&e, 0x6b, -1, -1);
        e.immsz = 1;
        e.imm = dt_edge(g, 1);
    }
    dt_emit(g, &e);
    dt_flags(g, DT_CF | DT_OF, DT_SF | DT_ZF | DT_AF | DT_PF);
    return true;
}

/* A nonzero edge value of @size bytes. */
static uint64_t dt_edge_nz(struct dt_gen *g, unsigned size)
{
    uint64_t v = dt_edge(g, size);

    return v ? v : 1 + dt_below(g, 5);
}

static int64_t dt_sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;

    return size >= 8 ? (int64_t)v : (int64_t)(v << sh) >> sh;
}

/*
 * Chooses a dividend (high:low halves of @size bytes each) for @div by
 * @d: ordinary, at the edge of the quotient range, or overflowing.
 */
static void dt_dividend(struct dt_gen *g, bool idiv, unsigned size,
                        uint64_t d, uint64_t *hi, uint64_t *lo)
{
    uint64_t mask = dt_mask(size);
    unsigned sh = 8 * size;
    __int128 n, q, r, ds;
    unsigned s = dt_below(g, 8);

    if (d == 0) {
        *hi = dt_edge(g, size);
        *lo = dt_edge(g, size);
        return;
    }
    if (!idiv) {
        unsigned __int128 un;

        switch (s) {
        case 0: /* overflow: high half >= divisor */
            *hi = (d + dt_below(g, 3)) & mask;
            if (*hi < d) {
                *hi = d;
            }
            *lo = dt_edge(g, size);
            return;
        case 1: /* the largest quotient */
            un = ((unsigned __int128)d << sh) - 1;
            *hi = (uint64_t)(un >> sh) & mask;
            *lo = (uint64_t)un & mask;
            return;
        default:
            *hi = d > 1 ? (dt_chance(g, 50) ? d - 1 : dt_rand(g) % d) : 0;
            *hi &= mask;
            *lo = dt_edge(g, size);
            return;
        }
    }
    ds = dt_sext(d, size);
    switch (s) {
    case 0: /* INT_MIN / -1 */
        *hi = mask;
        *lo = 1ull << (sh - 1);
        return;
    case 1:
    case 2: { /* quotient at or just past the edge of its range */
        static const int off[] = {0, 0, -1, 1};
        __int128 qmax = ((__int128)1 << (sh - 1)) - 1;

        q = dt_chance(g, 50) ? qmax : -qmax - 1;
        q += off[dt_below(g, 4)];
        r = ds > 0 ? dt_rand(g) % (uint64_t)ds
                   : dt_rand(g) % (uint64_t)(-ds);
        n = q * ds;
        n += n < 0 ? -r : r;
        *hi = (uint64_t)(n >> sh) & mask;
        *lo = (uint64_t)n & mask;
        return;
    }
    default: /* sign-extended low half: never overflows but for -1 */
        *lo = dt_edge(g, size);
        *hi = dt_sext(*lo, size) < 0 ? mask : 0;
        return;
    }
}

/* div/idiv r/m (f6/f7 /6 /7), with #DE cases. */
static bool dt_f_div(struct dt_gen *g)
{
    bool idiv = dt_chance(g, 50), legacy, mem_div;
    unsigned size = dt_pick_size(g), s = dt_below(g, 10);
    uint64_t d, hi = 0, lo = 0, addr = 0;
    struct dt_enc e;
    uint16_t pin = dt_bit(DT_RAX) | dt_bit(DT_RDX);

    if (!dt_writable(g, pin)) {
        return false;
    }
    legacy = size == 1 && dt_chance(g, 40);
    dt_enc_init(&e, idiv ? ZYDIS_MNEMONIC_IDIV : ZYDIS_MNEMONIC_DIV, size);
    e.reg = idiv ? 7 : 6;
    e.rm8 = size == 1;
    mem_div = dt_chance(g, 35);
    d = s == 0 ? 0 : dt_edge_nz(g, size);
    if (s != 1) {
        dt_dividend(g, idiv, size, d, &hi, &lo);
    }
    if (mem_div) {
        e.rm.mem = true;
        addr = dt_data_addr(g, size, 1, false);
        memcpy(g->c->data + (addr - DT_DATA_ADDR), &d, size);
    } else {
        /* The divisor is rarely a register of the dividend. */
        e.rm.reg = dt_pick_reg(g, size, legacy, true,
                               dt_chance(g, 90) ? pin : 0);
        dt_set(g, e.rm.reg, size, d);
    }
    if (s != 1) {
        if (size == 1) {
            dt_set(g, DT_RAX, 2, hi << 8 | lo);
        } else {
            dt_set(g, DT_RDX, size, hi);
            dt_set(g, DT_RAX, size, lo);
        }
    }
    if (mem_div) {
        dt_mem_for(g, addr, pin, legacy, &e.rm.m);
    }
    dt_enc_op(&e, size == 1 ? 0xf6 : 0xf7, -1, -1);
    dt_emit(g, &e);
    dt_flags(g, 0, DT_ARITH);
    return true;
}

/* ---- Data movement ------------------------------------------------------- */

/* lea with every addressing form; nothing is accessed. */
static bool dt_f_lea(struct dt_gen *g)
{
    unsigned size = dt_pick_size_w(g), kind = dt_below(g, 10);
    struct dt_enc e;
    struct dt_mem *m = &e.rm.m;

    dt_enc_init(&e, ZYDIS_MNEMONIC_LEA, size);
    e.reg = dt_pick_reg(g, size, false, true, 0);
    e.rm.mem = true;
    m->base = m->index = DT_NOREG;
    m->a32 = dt_chance(g, 20);
    m->seg = dt_seg_prefix(g);
    if (kind == 0) {
        m->base = DT_RIP;
        m->target = DT_CODE_BASE + (dt_rand(g) & 0x3fffffff);
    } else if (kind == 1) {
        m->dispsz = 4;
        m->disp = dt_disp(g, 4);
    } else {
        if (kind != 2) {
            m->base = (int)dt_below(g, 16);
        }
        if (kind >= 6 || kind == 2) {
            do {
                m->index = (int)dt_below(g, 16);
            } while (m->index == DT_RSP);
            m->scale = dt_below(g, 4);
        }
        m->dispsz = m->base < 0 ? 4 : dt_below(g, 3) == 2 ? 4 : dt_below(g, 2);
        m->disp = dt_disp(g, m->dispsz);
    }
    dt_enc_op(&e, 0x8d, -1, -1);
    dt_emit(g, &e);
    return true;
}

/* mov r/m, reg (88/89) and mov reg, r/m (8a/8b). */
static bool dt_f_mov(struct dt_gen *g)
{
    unsigned size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40), to_reg = dt_chance(g, 50);
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, size);
    e.reg8 = e.rm8 = size == 1;
    dt_rm_pick(g, &e.rm, size, legacy, !to_reg, 50);
    e.reg = dt_pick_reg(g, size, legacy, to_reg, 0);
    dt_maybe_set(g, e.reg, size, 20);
    dt_rm_mem(g, &e.rm, size, 1, dt_bit(e.reg), legacy);
    dt_enc_op(&e, (uint8_t)((size == 1 ? 0x88 : 0x89) + (to_reg ? 2 : 0)),
              -1, -1);
    dt_emit(g, &e);
    return true;
}

/* mov r/m, imm (c6/c7), mov reg, imm (b0+r, b8+r) and movabs (REX.W b8). */
static bool dt_f_mov_imm(struct dt_gen *g)
{
    unsigned size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40);
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, size);
    if (dt_chance(g, 50)) {
        e.reg = 0;
        e.rm8 = size == 1;
        dt_rm_pick(g, &e.rm, size, legacy, true, 40);
        dt_rm_mem(g, &e.rm, size, 1, 0, legacy);
        dt_enc_op(&e, size == 1 ? 0xc6 : 0xc7, -1, -1);
        e.immsz = size == 1 ? 1 : dt_iz(size);
    } else {
        e.opreg = dt_pick_reg(g, size, legacy, true, 0);
        e.opreg8 = size == 1;
        dt_enc_op(&e, size == 1 ? 0xb0 : 0xb8, -1, -1);
        e.immsz = size;
    }
    e.imm = dt_edge(g, e.immsz);
    dt_emit(g, &e);
    return true;
}

/* mov al/ax/eax/rax <-> moffs (a0..a3), 64-bit or (67) 32-bit offset. */
static bool dt_f_moffs(struct dt_gen *g)
{
    unsigned size = dt_pick_size(g);
    bool store = dt_chance(g, 50), a32;
    uint64_t addr;
    struct dt_enc e;

    if (!store && !dt_writable(g, dt_bit(DT_RAX))) {
        return false;
    }
    addr = dt_access_addr(g, size, 1);
    a32 = addr <= 0xffffffffull && dt_chance(g, 25);
    if (store) {
        dt_maybe_set(g, DT_RAX, size, 30);
    }
    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, size);
    if (a32) {
        dt_enc_pfx(&e, 0x67);
    }
    dt_enc_op(&e, (uint8_t)((size == 1 ? 0xa0 : 0xa1) + (store ? 2 : 0)),
              -1, -1);
    e.imm = addr;
    e.immsz = a32 ? 4 : 8;
    dt_emit(g, &e);
    return true;
}

/* movzx, movsx (8 and 16-bit sources), movsxd (63 /r). */
static bool dt_f_movx(struct dt_gen *g)
{
    unsigned v = dt_below(g, 5), dsize, ssize, mnem;
    bool legacy;
    struct dt_enc e;

    switch (v) {
    case 0:
    case 1:
        ssize = 1;
        dsize = dt_pick_size_w(g);
        break;
    case 2:
    case 3:
        ssize = 2;
        dsize = dt_chance(g, 10) ? 2 : dt_chance(g, 50) ? 4 : 8;
        break;
    default:
        ssize = dt_chance(g, 10) ? 2 : 4;
        dsize = ssize == 2 ? 2 : dt_chance(g, 75) ? 8 : 4;
        break;
    }
    mnem = v == 4 ? ZYDIS_MNEMONIC_MOVSXD
                  : (v & 1) ? ZYDIS_MNEMONIC_MOVSX : ZYDIS_MNEMONIC_MOVZX;
    legacy = ssize == 1 && dsize <= 4 && dt_chance(g, 40);
    dt_enc_init(&e, mnem, dsize);
    e.rm8 = ssize == 1;
    e.reg = dt_pick_reg(g, dsize, legacy, true, 0);
    dt_rm_pick(g, &e.rm, ssize, legacy, false, 50);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, ssize, 40);
    }
    dt_rm_mem(g, &e.rm, ssize, 1, 0, legacy);
    if (v == 4) {
        dt_enc_op(&e, 0x63, -1, -1);
    } else {
        dt_enc_op(&e, 0x0f, (v & 1 ? 0xbe : 0xb6) + (ssize == 2 ? 1 : 0), -1);
    }
    dt_emit(g, &e);
    return true;
}

/* cbw/cwde/cdqe (98) and cwd/cdq/cqo (99). */
static bool dt_f_convert(struct dt_gen *g)
{
    static const unsigned m98[] = {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE,
                                   ZYDIS_MNEMONIC_CDQE};
    static const unsigned m99[] = {ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ,
                                   ZYDIS_MNEMONIC_CQO};
    unsigned k = dt_below(g, 3), size = 2u << k;
    bool c99 = dt_chance(g, 50);
    struct dt_enc e;

    if (!dt_writable(g, dt_bit(DT_RAX) | dt_bit(DT_RDX))) {
        return false;
    }
    dt_maybe_set(g, DT_RAX, size, 60);
    dt_enc_init(&e, c99 ? m99[k] : m98[k], size);
    dt_enc_op(&e, c99 ? 0x99 : 0x98, -1, -1);
    dt_emit(g, &e);
    return true;
}

static bool dt_f_bswap(struct dt_gen *g)
{
    unsigned size = dt_chance(g, 50) ? 4 : 8;
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_BSWAP, size);
    e.opreg = dt_pick_reg(g, size, false, true, 0);
    dt_maybe_set(g, e.opreg, size, 30);
    dt_enc_op(&e, 0x0f, 0xc8, -1);
    dt_emit(g, &e);
    return true;
}

/* xchg: 86/87 with registers or memory (always locked), and 90+r. */
static bool dt_f_xchg(struct dt_gen *g)
{
    unsigned v = dt_below(g, 3), size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40);
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_XCHG, size);
    if (v == 2 && size > 1) {
        if (!dt_writable(g, dt_bit(DT_RAX))) {
            return false;
        }
        do {
            e.opreg = dt_pick_reg(g, size, false, true, 0);
        } while (e.opreg == DT_RAX);
        dt_enc_op(&e, 0x90, -1, -1);
        dt_emit(g, &e);
        return true;
    }
    e.reg8 = e.rm8 = size == 1;
    e.reg = dt_pick_reg(g, size, legacy, true, 0);
    dt_rm_pick(g, &e.rm, size, legacy, true, 50);
    if (!e.rm.mem && dt_chance(g, 15)) {
        e.rm.reg = e.reg; /* 87 c0: xchg eax, eax zero-extends */
    }
    dt_maybe_set(g, e.reg, size, 20);
    /* The implicit lock wants natural alignment (no split locks). */
    dt_rm_mem(g, &e.rm, size, size, dt_bit(e.reg), legacy);
    if (e.rm.mem && dt_chance(g, 20)) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, size == 1 ? 0x86 : 0x87, -1, -1);
    dt_emit(g, &e);
    return true;
}

/* A mov between the accumulator and @rm, to make a cmpxchg compare equal. */
static void dt_load_acc(struct dt_gen *g, const struct dt_rm *rm,
                        unsigned size)
{
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, size);
    e.reg8 = e.rm8 = size == 1;
    e.reg = DT_RAX;
    e.rm = *rm;
    dt_enc_op(&e, size == 1 ? 0x8a : 0x8b, -1, -1);
    dt_emit(g, &e);
}

/* cmpxchg r/m, reg (0f b0/b1), equal or not, locked or not. */
static bool dt_f_cmpxchg(struct dt_gen *g)
{
    unsigned size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40), lock;
    struct dt_enc e;

    if (!dt_writable(g, dt_bit(DT_RAX))) {
        return false;
    }
    dt_enc_init(&e, ZYDIS_MNEMONIC_CMPXCHG, size);
    e.reg8 = e.rm8 = size == 1;
    e.reg = dt_pick_reg(g, size, legacy, false, 0);
    dt_rm_pick(g, &e.rm, size, legacy, true, 50);
    dt_maybe_set(g, e.reg, size, 30);
    if (!e.rm.mem && size == 4 && dt_writable(g, dt_bit(e.rm.reg))) {
        /* Upper half zero: the vendors differ there (see the policy). */
        dt_set(g, e.rm.reg, 4, dt_edge(g, 4));
    } else if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 30);
    } else {
        dt_maybe_set(g, DT_RAX, size, 30);
    }
    lock = e.rm.mem && dt_chance(g, 40);
    dt_rm_mem(g, &e.rm, size, lock ? size : 1,
              dt_bit(DT_RAX) | dt_bit(e.reg), legacy);
    if (dt_chance(g, 50) && (e.rm.mem || dt_full(e.rm.reg) != DT_RAX ||
                             e.rm.reg == DT_RAX)) {
        dt_load_acc(g, &e.rm, size);
    }
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, 0x0f, size == 1 ? 0xb0 : 0xb1, -1);
    dt_emit(g, &e);
    dt_flags(g, DT_ARITH, 0);
    return true;
}

/* cmpxchg8b / cmpxchg16b m (0f c7 /1). */
static bool dt_f_cmpxchg8b(struct dt_gen *g)
{
    bool wide = (g->features & DT_FEAT_CX16) && dt_chance(g, 50);
    unsigned half = wide ? 8 : 4, size = 2 * half;
    uint16_t pin = dt_bit(DT_RAX) | dt_bit(DT_RDX);
    uint64_t addr;
    struct dt_enc e;
    struct dt_rm acc;

    if (!dt_writable(g, pin)) {
        return false;
    }
    addr = dt_data_addr(g, size, wide && dt_chance(g, 95) ? 16 : 8, true);
    if (wide && dt_chance(g, 4)) {
        addr += 8; /* misaligned: #GP(0) */
    }
    if (dt_chance(g, 50) && addr + size <= DT_DATA_ADDR + DT_DATA_SIZE) {
        memset(&acc, 0, sizeof(acc));
        acc.mem = true;
        acc.m.base = acc.m.index = DT_NOREG;
        acc.m.dispsz = 4;
        acc.m.disp = (int32_t)addr;
        dt_load_acc(g, &acc, half);
        acc.m.disp += (int32_t)half;
        if (dt_chance(g, 90)) {
            struct dt_enc m;

            dt_enc_init(&m, ZYDIS_MNEMONIC_MOV, half);
            m.reg = DT_RDX;
            m.rm = acc;
            dt_enc_op(&m, 0x8b, -1, -1);
            dt_emit(g, &m);
        }
    } else {
        dt_maybe_set(g, DT_RAX, half, 50);
        dt_maybe_set(g, DT_RDX, half, 50);
    }
    dt_maybe_set(g, DT_RBX, half, 30);
    if (dt_writable(g, dt_bit(DT_RCX))) {
        dt_maybe_set(g, DT_RCX, half, 30);
    }
    dt_enc_init(&e, wide ? ZYDIS_MNEMONIC_CMPXCHG16B : ZYDIS_MNEMONIC_CMPXCHG8B,
                0);
    e.rexw = wide;
    e.reg = 1;
    e.rm.mem = true;
    dt_mem_for(g, addr,
               pin | dt_bit(DT_RBX) | dt_bit(DT_RCX), false, &e.rm.m);
    if (dt_chance(g, 50)) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, 0x0f, 0xc7, -1);
    dt_emit(g, &e);
    dt_flags(g, DT_ZF, 0);
    return true;
}

/* xadd r/m, reg (0f c0/c1). */
static bool dt_f_xadd(struct dt_gen *g)
{
    unsigned size = dt_pick_size(g);
    bool legacy = size == 1 && dt_chance(g, 40), lock;
    struct dt_enc e;

    dt_enc_init(&e, ZYDIS_MNEMONIC_XADD, size);
    e.reg8 = e.rm8 = size == 1;
    e.reg = dt_pick_reg(g, size, legacy, true, 0);
    dt_rm_pick(g, &e.rm, size, legacy, true, 50);
    if (!e.rm.mem && dt_chance(g, 10)) {
        e.rm.reg = e.reg;
    }
    dt_maybe_set(g, e.reg, size, 30);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 30);
    }
    lock = e.rm.mem && dt_chance(g, 40);
    dt_rm_mem(g, &e.rm, size, lock ? size : 1, dt_bit(e.reg), legacy);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, 0x0f, size == 1 ? 0xc0 : 0xc1, -1);
    dt_emit(g, &e);
    dt_flags(g, DT_ARITH, 0);
    return true;
}

/* ---- Bit operations ------------------------------------------------------ */

static const unsigned dt_bt_mnem[4] = {
    ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR,
    ZYDIS_MNEMONIC_BTC,
};

static void dt_bt_flags(struct dt_gen *g)
{
    dt_flags(g, DT_CF, DT_OF | DT_SF | DT_AF | DT_PF);
}

/* bt/bts/btr/btc r/m, reg (0f a3/ab/b3/bb) on a register. */
static bool dt_f_bt_reg(struct dt_gen *g)
{
    unsigned k = dt_below(g, 4), size = dt_pick_size_w(g);
    struct dt_enc e;

    dt_enc_init(&e, dt_bt_mnem[k], size);
    e.rm.reg = dt_pick_reg(g, size, false, k != 0, 0);
    e.reg = dt_pick_reg(g, size, false, false, 0);
    dt_maybe_set(g, e.rm.reg, size, 30);
    if (dt_writable(g, dt_bit(e.reg)) && dt_chance(g, 60)) {
        dt_set64(g, e.reg, (dt_rand(g) & ~0xffull) | dt_count(g, size));
    }
    dt_enc_op(&e, 0x0f, 0xa3 + 8 * k, -1);
    dt_emit(g, &e);
    dt_bt_flags(g);
    return true;
}

/*
 * bt* m, reg: the register is a signed bit offset that may reach far
 * outside the operand (SDM 2 "BT": Effective Address + size *
 * floor(BitOffset / width)).  The generator picks the word accessed and
 * derives the operand's address and the offset from it.
 */
static bool dt_f_bt_mem(struct dt_gen *g)
{
    unsigned k = dt_below(g, 4), size = dt_pick_size_w(g), w = 8 * size;
    bool lock = k != 0 && dt_chance(g, 30);
    int64_t word = (int64_t)dt_below(g, 41) - 20, off;
    uint64_t acc, ea, v;
    struct dt_enc e;

    dt_enc_init(&e, dt_bt_mnem[k], size);
    e.reg = dt_pick_reg(g, size, false, true, 0);
    acc = dt_data_addr(g, size, lock ? size : 1, false);
    if (acc > DT_DATA_ADDR + DT_DATA_SIZE - 8) {
        /* Hardware may access more than the operand size here. */
        acc -= 8;
    }
    ea = acc - (uint64_t)(word * (int64_t)size);
    off = word * (int64_t)w + dt_below(g, w);
    /* Bits above the operand size of the offset register are ignored. */
    v = (uint64_t)off;
    if (size < 8) {
        v = (v & dt_mask(size)) | (dt_rand(g) & ~dt_mask(size));
    }
    dt_set64(g, e.reg, v);
    e.rm.mem = true;
    dt_mem_for(g, ea, dt_bit(e.reg), false, &e.rm.m);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, 0x0f, 0xa3 + 8 * k, -1);
    dt_emit(g, &e);
    dt_bt_flags(g);
    return true;
}

/* bt* r/m, imm8 (0f ba /4../7): the offset is taken modulo the width. */
static bool dt_f_bt_imm(struct dt_gen *g)
{
    unsigned k = dt_below(g, 4), size = dt_pick_size_w(g);
    bool lock;
    struct dt_enc e;

    dt_enc_init(&e, dt_bt_mnem[k], size);
    e.reg = (int)(4 + k);
    dt_rm_pick(g, &e.rm, size, false, k != 0, 55);
    if (!e.rm.mem) {
        dt_maybe_set(g, e.rm.reg, size, 30);
    }
    lock = e.rm.mem && k != 0 && dt_chance(g, 30);
    dt_rm_mem(g, &e.rm, size, lock ? size : 1, 0, false);
    if (lock) {
        dt_enc_pfx(&e, 0xf0);
    }
    dt_enc_op(&e, 0x0f, 0xba, -1);
    e.imm = dt_count(g, size);
    e.immsz = 1;
    dt_emit(g, &e);
    dt_bt_flags(g);
    return true;
}

/* Gives a source operand a value, zero now and then. */
static void dt_bitscan_src(struct dt_gen *g, struct dt_rm *rm, unsigned size,
                           uint16_t avoid)
{
    if (!rm->mem) {
        if (dt_writable(g, dt_bit(rm->reg)) && dt_chance(g, 70)) {
            dt_set(g, rm->reg, size,
                   dt_chance(g, 35) ? 0 : dt_edge(g, size));
        }
        return;
    }
    dt_rm_mem(g, rm, size, 1, avoid, false);
}

/* bsf/bsr reg, r/m, then cmovz to define the result of a zero source. */
static bool dt_f_bsf(struct dt_gen *g)
{
    bool bsr = dt_chance(g, 50);
    unsigned size = dt_pick_size_w(g);
    struct dt_enc e, f;

    dt_enc_init(&e, bsr ? ZYDIS_MNEMONIC_BSR : ZYDIS_MNEMONIC_BSF, size);
    e.reg = dt_pick_reg(g, size, false, true, 0);
    dt_rm_pick(g, &e.rm, size, false, false, 60);
    dt_maybe_set(g, e.reg, size, 20);
    dt_bitscan_src(g, &e.rm, size, dt_bit(e.reg));
    dt_enc_op(&e, 0x0f, bsr ? 0xbd : 0xbc, -1);
    dt_emit(g, &e);
    dt_flags(g, DT_ZF, DT_CF | DT_OF | DT_SF | DT_AF | DT_PF);

    dt_enc_init(&f, ZYDIS_MNEMONIC_CMOVZ, size);
    f.reg = e.reg;
    f.rm.reg = dt_pick_reg(g, size, false, false, 0);
    dt_enc_op(&f, 0x0f, 0x44, -1);
    dt_emit(g, &f);
    return true;
}

/* tzcnt, lzcnt, popcnt (f3 0f bc/bd/b8). */
static bool dt_f_bitcount(struct dt_gen *g)
{
    static const unsigned mnem[3] = {ZYDIS_MNEMONIC_TZCNT,
                                     ZYDIS_MNEMONIC_LZCNT,
                                     ZYDIS_MNEMONIC_POPCNT};
    static const unsigned feat[3] = {DT_FEAT_BMI1, DT_FEAT_LZCNT,
                                     DT_FEAT_POPCNT};
    static const uint8_t op[3] = {0xbc, 0xbd, 0xb8};
    unsigned k = dt_below(g, 3), size = dt_pick_size_w(g);
    struct dt_enc e;

    if (!(g->features & feat[k])) {
        return false;
    }
    dt_enc_init(&e, mnem[k], size);
    e.keep_order = true;
    e.reg = dt_pick_reg(g, size, false, true, 0);
    dt_rm_pick(g, &e.rm, size, false, false, 60);
    dt_bitscan_src(g, &e.rm, size, 0);
    dt_enc_pfx(&e, 0xf3);
    dt_enc_op(&e, 0x0f, op[k], -1);
    dt_emit(g, &e);
    if (k == 2) {
        dt_flags(g, DT_ARITH, 0);
    } else {
        dt_flags(g, DT_CF | DT_ZF, DT_OF | DT_SF | DT_AF | DT_PF);
    }
    return true;
}

/* ---- Conditions ---------------------------------------------------------- */

static const unsigned dt_setcc_mnem[16] = {
    ZYDIS_MNEMONIC_SETO,  ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,
    ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETZ,  ZYDIS_MNEMONIC_SETNZ,
    ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETS,
    ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
    ZYDIS_MNEMONIC_SETL,  ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE,
    ZYDIS_MNEMONIC_SETNLE,
};

static const unsigned dt_cmov_mnem[16] = {
    ZYDIS_MNEMONIC_CMOVO,  ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,
    ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVZ,  ZYDIS_MNEMONIC_CMOVNZ,
    ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVS,
    ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
    ZYDIS_MNEMONIC_CMOVL,  ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE,
    ZYDIS_MNEMONIC_CMOVNLE,
};

static const unsigned dt_jcc_mnem[16] = {
    ZYDIS_MNEMONIC_JO,  ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,
    ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JZ,  ZYDIS_MNEMONIC_JNZ,
    ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JS,
    ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP,  ZYDIS_MNEMONIC_JNP,
    ZYDIS_MNEMONIC_JL,  ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE,
    ZYDIS_MNEMONIC_JNLE,
};

/* Sometimes a compare first, so conditions see fresh edge flags. */
static void dt_cond_prologue(struct dt_gen *g, unsigned cc)
{
    if (dt_chance(g, 30)) {
        dt_cmp_rr(g);
    }
    dt_need(g, dt_cc_reads(cc));
}

static bool dt_f_setcc(struct dt_gen *g)
{
    unsigned cc = dt_below(g, 16);
    bool legacy = dt_chance(g, 40);
    struct dt_enc e;

    dt_enc_init(&e, dt_setcc_mnem[cc], 1);
    e.rm8 = true;
    /* The reg field is ignored (SDM 2 "SETcc": 0F 9x /0). */
    e.reg = dt_chance(g, 5) ? (int)dt_below(g, 8) : 0;
    dt_rm_pick(g, &e.rm, 1, legacy, true, 65);
    dt_rm_mem(g, &e.rm, 1, 1, 0, legacy);
    dt_cond_prologue(g, cc);
    dt_enc_op(&e, 0x0f, 0x90 + cc, -1);
    dt_emit(g, &e);
    return true;
}

static bool dt_f_cmov(struct dt_gen *g)
{
    unsigned cc = dt_below(g, 16), size = dt_pick_size_w(g);
    struct dt_enc e;

    dt_enc_init(&e, dt_cmov_mnem[cc], size);
    e.reg = dt_pick_reg(g, size, false, true, 0);
    dt_rm_pick(g, &e.rm, size, false, false, 60);
    dt_maybe_set(g, e.reg, size, 20);
    /* A memory source is read (and may fault) even when not moved. */
    dt_rm_mem(g, &e.rm, size, 1, dt_bit(e.reg), false);
    dt_cond_prologue(g, cc);
    dt_enc_op(&e, 0x0f, 0x40 + cc, -1);
    dt_emit(g, &e);
    return true;
}

/* ---- Flags --------------------------------------------------------------- */

static bool dt_f_flagops(struct dt_gen *g)
{
    switch (dt_below(g, 5)) {
    case 0:
        dt_raw1(g, ZYDIS_MNEMONIC_CLC, 0xf8);
        dt_flags(g, DT_CF, 0);
        break;
    case 1:
        dt_raw1(g, ZYDIS_MNEMONIC_STC, 0xf9);
        dt_flags(g, DT_CF, 0);
        break;
    case 2:
        dt_need(g, DT_CF);
        dt_raw1(g, ZYDIS_MNEMONIC_CMC, 0xf5);
        break;
    case 3:
        dt_raw1(g, ZYDIS_MNEMONIC_CLD, 0xfc);
        g->df = false;
        g->df_known = true;
        break;
    default:
        dt_raw1(g, ZYDIS_MNEMONIC_STD, 0xfd);
        g->df = true;
        g->df_known = true;
        break;
    }
    return true;
}

static bool dt_f_lahf(struct dt_gen *g)
{
    if (!dt_writable(g, dt_bit(DT_RAX))) {
        return false;
    }
    if (dt_chance(g, 50)) {
        dt_need(g, DT_SF | DT_ZF | DT_AF | DT_PF | DT_CF);
        dt_raw1(g, ZYDIS_MNEMONIC_LAHF, 0x9f);
    } else {
        if (dt_chance(g, 70)) {
            dt_set(g, DT_AH, 1, dt_rand(g));
        }
        dt_raw1(g, ZYDIS_MNEMONIC_SAHF, 0x9e);
        dt_flags(g, DT_SF | DT_ZF | DT_AF | DT_PF | DT_CF, 0);
    }
    return true;
}

/* An RFLAGS image a CPL-3 popf leaves as it is (IF=1, IOPL=0, TF=AC=0). */
static uint64_t dt_flags_image(struct dt_gen *g)
{
    uint64_t v = (dt_rand(g) & (DT_ARITH | DT_DF | DT_ID)) | DT_IF | 2;

    return v;
}

/* pushf/popf, 64 and 16-bit. */
static bool dt_f_pushf(struct dt_gen *g)
{
    unsigned v = dt_below(g, 4);
    uint64_t img;
    struct dt_enc e;

    if (g->rsp < DT_STACK_LOW + 16) {
        return false;
    }
    switch (v) {
    case 0: /* pushfq, sometimes 66 pushf */
        dt_need(g, DT_ARITH);
        if (dt_chance(g, 20)) {
            dt_raw(g, ZYDIS_MNEMONIC_PUSHF, (const uint8_t *)"\x66\x9c", 2);
            g->rsp -= 2;
        } else {
            dt_raw1(g, ZYDIS_MNEMONIC_PUSHFQ, 0x9c);
            g->rsp -= 8;
        }
        return true;
    case 1: /* pushfq; pop reg */
        dt_need(g, DT_ARITH);
        dt_raw1(g, ZYDIS_MNEMONIC_PUSHFQ, 0x9c);
        dt_enc_init(&e, ZYDIS_MNEMONIC_POP, 0);
        e.opreg = dt_pick_reg(g, 8, false, true, 0);
        dt_enc_op(&e, 0x58, -1, -1);
        dt_emit(g, &e);
        return true;
    default: /* push imm; popf */
        img = dt_flags_image(g);
        dt_enc_init(&e, ZYDIS_MNEMONIC_PUSH, v == 3 ? 2 : 0);
        dt_enc_op(&e, 0x68, -1, -1);
        e.imm = img;
        e.immsz = v == 3 ? 2 : 4;
        dt_emit(g, &e);
        if (v == 3) {
            dt_raw(g, ZYDIS_MNEMONIC_POPF, (const uint8_t *)"\x66\x9d", 2);
        } else {
            dt_raw1(g, ZYDIS_MNEMONIC_POPFQ, 0x9d);
        }
        g->undef = 0;
        g->df = (img & DT_DF) != 0;
        g->df_known = true;
        return true;
    }
}

/* ---- Stack --------------------------------------------------------------- */

/* One push or pop of any form; keeps RSP inside the stack page. */
static bool dt_push_pop_one(struct dt_gen *g)
{
    unsigned v = dt_below(g, 9), size = dt_chance(g, 15) ? 2 : 8;
    bool push = v < 6;
    struct dt_enc e;

    if (push ? g->rsp < DT_STACK_LOW + 8
             : g->rsp + size > DT_STACK_ADDR + DT_PAGE_SIZE) {
        return false;
    }
    dt_enc_init(&e, push ? ZYDIS_MNEMONIC_PUSH : ZYDIS_MNEMONIC_POP,
                size == 2 ? 2 : 0);
    switch (v) {
    case 0:
    case 1: /* push reg (push rsp pushes the old value) */
        e.opreg = dt_pick_reg(g, size, false, false, 0);
        dt_enc_op(&e, 0x50, -1, -1);
        break;
    case 2: /* push imm8 */
        dt_enc_op(&e, 0x6a, -1, -1);
        e.imm = dt_edge(g, 1);
        e.immsz = 1;
        break;
    case 3: /* push imm16/32 */
        dt_enc_op(&e, 0x68, -1, -1);
        e.immsz = size == 2 ? 2 : 4;
        e.imm = dt_edge(g, e.immsz);
        break;
    case 4:
    case 5: /* push m */
        e.reg = 6;
        e.rm.mem = true;
        dt_rm_mem(g, &e.rm, size, 1, 0, false);
        dt_enc_op(&e, 0xff, -1, -1);
        break;
    case 6:
    case 7: /* pop reg */
        e.opreg = dt_pick_reg(g, size, false, true, 0);
        dt_enc_op(&e, 0x58, -1, -1);
        break;
    default: /* pop m: the address is computed with the new RSP */
        e.reg = 0;
        e.rm.mem = true;
        g->rsp += size;
        dt_mem_for(g, dt_access_addr(g, size, 1), 0, false, &e.rm.m);
        g->rsp -= size;
        dt_enc_op(&e, 0x8f, -1, -1);
        break;
    }
    dt_emit(g, &e);
    g->rsp = push ? g->rsp - size : g->rsp + size;
    return true;
}

static bool dt_f_push_pop(struct dt_gen *g)
{
    unsigned n = 1 + dt_below(g, 3), done = 0, tries;

    for (tries = 0; done < n && tries < 8; tries++) {
        done += dt_push_pop_one(g) ? 1 : 0;
    }
    return done > 0;
}

/* enter size, level (+ leave), and a lone leave with a chosen RBP. */
static bool dt_f_enter(struct dt_gen *g)
{
    static const uint8_t levels[] = {0, 0, 0, 0, 0, 1, 1, 2, 3, 5, 31, 32, 33};
    unsigned level = levels[dt_below(g, SIM_ARRAY_SIZE(levels))];
    unsigned size = dt_chance(g, 30) ? 8 * dt_below(g, 5) : dt_below(g, 0x60);
    unsigned l = level & 31, need = 8 + 8 * l + size;
    uint64_t rbp;
    struct dt_enc e;

    if (!dt_writable(g, dt_bit(DT_RBP))) {
        return false;
    }
    if (dt_chance(g, 25)) {
        /* leave alone: RSP := RBP + 8, RBP := [RBP] */
        rbp = dt_stack_addr(g, 8);
        if (rbp + 8 > DT_STACK_ADDR + DT_PAGE_SIZE - 8) {
            return false;
        }
        dt_set64(g, DT_RBP, rbp);
        if (dt_chance(g, 15)) {
            /* 16-bit leave: RSP := RBP, BP := pop16 */
            dt_raw(g, ZYDIS_MNEMONIC_LEAVE, (const uint8_t *)"\x66\xc9", 2);
            g->rsp = rbp + 2;
        } else {
            dt_raw1(g, ZYDIS_MNEMONIC_LEAVE, 0xc9);
            g->rsp = rbp + 8;
        }
        return true;
    }
    if (g->rsp < DT_STACK_LOW + need) {
        return false;
    }
    if (l > 1) {
        /* enter reads the l-1 frame pointers below RBP. */
        rbp = DT_STACK_ADDR + 8 * l + 8 +
              dt_below(g, DT_PAGE_SIZE - 8 * l - 24);
        dt_set64(g, DT_RBP, rbp);
    }
    dt_enc_init(&e, ZYDIS_MNEMONIC_ENTER, 0);
    dt_enc_op(&e, 0xc8, -1, -1);
    e.imm = size | (uint64_t)level << 16;
    e.immsz = 3;
    dt_emit(g, &e);
    if (dt_chance(g, 60)) {
        dt_raw1(g, ZYDIS_MNEMONIC_LEAVE, 0xc9);
    } else {
        g->rsp -= need;
    }
    return true;
}

/*
 * A stack reference that faults: RSP non-canonical (#SS(0) on every
 * vendor) or at the edge of the stack page (#PF), under push, pop, call,
 * ret, pushf, enter or leave.  Nothing after it runs.
 */
static bool dt_f_stack_fault(struct dt_gen *g)
{
    bool noncanon = dt_chance(g, 50);
    uint64_t v;
    unsigned op = dt_below(g, 7);
    struct dt_enc e;

    if (g->in_body) {
        return false;
    }
    if (op == 6) {
        /* leave: RSP := RBP, then the pop faults. */
        v = noncanon ? dt_noncanonical_addr(g, 8)
                     : DT_STACK_ADDR + DT_PAGE_SIZE - dt_below(g, 8);
        dt_set64(g, DT_RBP, v);
        dt_raw1(g, ZYDIS_MNEMONIC_LEAVE, 0xc9);
        g->dead = true;
        return true;
    }
    if (noncanon) {
        v = dt_noncanonical_addr(g, 8);
    } else if (op == 1 || op == 3) {
        v = DT_STACK_ADDR + DT_PAGE_SIZE - dt_below(g, 8); /* pop, ret */
    } else {
        v = DT_STACK_ADDR + dt_below(g, 8);
    }
    /* mov rsp, imm: RSP is written directly, so the form owns it. */
    dt_enc_init(&e, ZYDIS_MNEMONIC_MOV, 8);
    dt_enc_op(&e, 0xb8, -1, -1);
    e.opreg = DT_RSP;
    e.imm = v;
    e.immsz = 8;
    dt_emit(g, &e);
    switch (op) {
    case 0:
        dt_enc_init(&e, ZYDIS_MNEMONIC_PUSH, 0);
        dt_enc_op(&e, 0x50, -1, -1);
        e.opreg = dt_pick_reg(g, 8, false, false, 0);
        dt_emit(g, &e);
        break;
    case 1:
        dt_enc_init(&e, ZYDIS_MNEMONIC_POP, 0);
        dt_enc_op(&e, 0x58, -1, -1);
        e.opreg = dt_pick_reg(g, 8, false, true, 0);
        dt_emit(g, &e);
        break;
    case 2: {
        uint32_t at = dt_branch(g, ZYDIS_MNEMONIC_CALL,
                                (const uint8_t *)"\xe8", 1, 4);

        dt_patch(g, at, 4, dt_pos(g));
        break;
    }
    case 3:
        dt_raw1(g, ZYDIS_MNEMONIC_RET, 0xc3);
        break;
    case 4:
        dt_need(g, DT_ARITH);
        dt_raw1(g, ZYDIS_MNEMONIC_PUSHFQ, 0x9c);
        break;
    default:
        dt_raw(g, ZYDIS_MNEMONIC_ENTER, (const uint8_t *)"\xc8\x10\x00\x00",
               4);
        break;
    }
    g->dead = true;
    return true;
}

/* ---- String instructions ------------------------------------------------- */

enum dt_str { DT_MOVS, DT_STOS, DT_LODS, DT_CMPS, DT_SCAS };

static const unsigned dt_str_mnem[5][4] = {
    {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD,
     ZYDIS_MNEMONIC_MOVSQ},
    {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD,
     ZYDIS_MNEMONIC_STOSQ},
    {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD,
     ZYDIS_MNEMONIC_LODSQ},
    {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD,
     ZYDIS_MNEMONIC_CMPSQ},
    {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD,
     ZYDIS_MNEMONIC_SCASQ},
};

static const uint8_t dt_str_op[5] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};

/*
 * The start offset of a string operand of @n elements of @size bytes
 * walking up (!@df) or down: inside the free data, or (@fault) running
 * into the unmapped page above it.
 */
static unsigned dt_str_start(struct dt_gen *g, unsigned n, unsigned size,
                             bool df, bool fault)
{
    unsigned span = n * size, lo, hi;

    if (fault && !df) {
        lo = DT_DATA_SIZE - span + size;
        return lo + dt_below(g, span > size ? span - size : 1);
    }
    if (df) {
        lo = DT_FREE_START + span - size;
        hi = DT_DATA_SIZE - size;
    } else {
        lo = DT_FREE_START;
        hi = DT_DATA_SIZE - span;
    }
    return lo + dt_below(g, hi - lo + 1);
}

static bool dt_f_string(struct dt_gen *g)
{
    unsigned op = dt_below(g, 5), k = dt_below(g, 4), size = 1u << k;
    unsigned rep = dt_below(g, 3), n, i, s, d;
    bool a32 = dt_chance(g, 15), fault = dt_chance(g, 3), src, dst;
    bool cmp = op == DT_CMPS || op == DT_SCAS;
    uint64_t v;
    struct dt_enc e;

    if (rep == 2 && !cmp) {
        rep = 1; /* f2 on movs/stos/lods is not architectural */
    }
    if (!dt_writable(g, dt_bit(DT_RCX))) {
        rep = 0;
    }
    if ((op == DT_LODS || op == DT_SCAS || op == DT_STOS) &&
        !dt_writable(g, dt_bit(DT_RAX))) {
        return false;
    }
    if (!g->df_known || dt_chance(g, 40)) {
        g->df = dt_chance(g, 40);
        g->df_known = true;
        dt_raw1(g, g->df ? ZYDIS_MNEMONIC_STD : ZYDIS_MNEMONIC_CLD,
                g->df ? 0xfd : 0xfc);
    }
    n = 1;
    if (rep) {
        n = dt_chance(g, 10) ? 0 : dt_chance(g, 80) ? 1 + dt_below(g, 12)
                                                    : dt_below(g, 48);
    }
    src = op == DT_MOVS || op == DT_LODS || op == DT_CMPS;
    dst = op != DT_LODS;
    {
        /* Which side runs into the unmapped page, if any. */
        bool fault_src = fault && src && (!dst || dt_chance(g, 50));

        s = dt_str_start(g, n ? n : 1, size, g->df, fault_src);
        d = dt_str_start(g, n ? n : 1, size, g->df, fault && !fault_src);
        if (src && dst && !fault && dt_chance(g, 20)) {
            /* Overlapping operands: element by element, not memmove. */
            int64_t o = (int64_t)s + (int64_t)dt_below(g, 4 * size + 1) -
                        (int64_t)(2 * size);
            unsigned span = (n ? n : 1) * size;

            if (o - (g->df ? (int64_t)span : 0) >= DT_FREE_START &&
                o + (g->df ? size : span) <= DT_DATA_SIZE) {
                d = (unsigned)o;
            }
        }
    }
    if (op == DT_CMPS && dt_chance(g, 60)) {
        /* Equal prefixes (in walking order) so that repe runs on. */
        unsigned len = dt_below(g, (n ? n : 1) * size + 1);
        int64_t ps, pd;

        for (i = 0; i < len; i++) {
            ps = g->df ? (int64_t)s + size - 1 - i : (int64_t)s + i;
            pd = g->df ? (int64_t)d + size - 1 - i : (int64_t)d + i;
            if (ps >= DT_FREE_START && pd >= DT_FREE_START &&
                ps < DT_DATA_SIZE && pd < DT_DATA_SIZE) {
                g->c->data[pd] = g->c->data[ps];
            }
        }
    }
    if (op == DT_SCAS || op == DT_STOS) {
        v = dt_edge(g, size);
        if (op == DT_SCAS && dt_chance(g, 50) && n > 0) {
            int64_t at = (int64_t)d +
                         (g->df ? -1 : 1) * (int64_t)(dt_below(g, n) * size);

            if (at >= 0 && at + size <= DT_DATA_SIZE) {
                v = 0;
                memcpy(&v, g->c->data + at, size);
            }
        }
        dt_set(g, DT_RAX, size, v);
    }
    if (src) {
        dt_set64(g, DT_RSI, dt_addr_reg_value(g, DT_DATA_ADDR + s, a32));
    }
    if (dst) {
        dt_set64(g, DT_RDI, dt_addr_reg_value(g, DT_DATA_ADDR + d, a32));
    }
    if (rep) {
        dt_set64(g, DT_RCX, a32 && dt_chance(g, 50)
                                ? (dt_rand(g) << 32) | n
                                : n);
    }
    dt_enc_init(&e, dt_str_mnem[op][k], size);
    if (a32) {
        dt_enc_pfx(&e, 0x67);
    }
    if (dt_chance(g, 10)) {
        /* A no-op override of DS:RSI (ES:RDI cannot be overridden). */
        dt_enc_pfx(&e, (const uint8_t[]){0x26, 0x2e, 0x36,
                                          0x3e}[dt_below(g, 4)]);
    }
    if (rep) {
        dt_enc_pfx(&e, rep == 2 ? 0xf2 : 0xf3);
    }
    dt_enc_op(&e, (uint8_t)(dt_str_op[op] + (size > 1 ? 1 : 0)), -1, -1);
    dt_emit(g, &e);
    if (cmp && (!rep || n > 0)) {
        dt_flags(g, DT_ARITH, 0);
    }
    return true;
}

/* ---- No-ops -------------------------------------------------------------- */

static bool dt_f_nop(struct dt_gen *g)
{
    struct dt_enc e;

    switch (dt_below(g, 6)) {
    case 0:
        dt_raw1(g, ZYDIS_MNEMONIC_NOP, 0x90);
        return true;
    case 1:
        dt_raw(g, ZYDIS_MNEMONIC_NOP, (const uint8_t *)"\x66\x90", 2);
        return true;
    case 2:
        dt_raw(g, ZYDIS_MNEMONIC_PAUSE, (const uint8_t *)"\xf3\x90", 2);
        return true;
    case 3:
        dt_raw(g, ZYDIS_MNEMONIC_ENDBR64,
               (const uint8_t *)"\xf3\x0f\x1e\xfa", 4);
        return true;
    default:
        /* 0f 1f /0: the multi-byte nop; its operand is never accessed. */
        dt_enc_init(&e, ZYDIS_MNEMONIC_NOP, dt_chance(g, 30) ? 2 : 4);
        e.reg = 0;
        e.rm.mem = dt_chance(g, 85);
        if (e.rm.mem) {
            struct dt_mem *m = &e.rm.m;

            m->base = (int)dt_below(g, 16);
            m->index = dt_chance(g, 50) ? DT_RAX : DT_NOREG;
            m->dispsz = dt_below(g, 3) == 2 ? 4 : dt_below(g, 2);
            m->disp = m->dispsz ? dt_disp(g, m->dispsz) : 0;
            m->seg = dt_chance(g, 20) ? 0x2e : 0;
        } else {
            e.rm.reg = (int)dt_below(g, 16);
        }
        dt_enc_op(&e, 0x0f, 0x1f, -1);
        dt_emit(g, &e);
        return true;
    }
}

/* ---- Control flow -------------------------------------------------------- */

static bool dt_gen_one(struct dt_gen *g);

/* Emits up to @n forms as a body (no stack or flow forms inside). */
static void dt_body(struct dt_gen *g, unsigned n)
{
    bool in_body = g->in_body;
    unsigned i;

    g->in_body = true;
    for (i = 0; i < n && dt_room(g, 260, 40); i++) {
        dt_gen_one(g);
    }
    g->in_body = in_body;
}

/* When DF may differ between paths, it is no longer known. */
static void dt_df_merge(struct dt_gen *g, bool df, bool known)
{
    if (!known || g->df != df) {
        g->df_known = false;
    }
}

/* jcc (rel8 or rel32, sometimes with a 2e/3e hint) over a body. */
static bool dt_f_jcc(struct dt_gen *g)
{
    unsigned cc = dt_below(g, 16), tries;
    uint8_t op[3];
    unsigned nop, relsz;
    uint32_t at;
    uint16_t undef0;
    bool df0, known0;
    struct dt_snap snap;

    dt_cond_prologue(g, cc);
    dt_snap_take(g, &snap);
    for (tries = 0; tries < 2; tries++) {
        relsz = tries == 0 && dt_chance(g, 60) ? 1 : 4;
        nop = 0;
        if (dt_chance(g, 10)) {
            op[nop++] = dt_chance(g, 50) ? 0x2e : 0x3e;
        }
        if (relsz == 1) {
            op[nop++] = (uint8_t)(0x70 + cc);
        } else {
            op[nop++] = 0x0f;
            op[nop++] = (uint8_t)(0x80 + cc);
        }
        undef0 = g->undef;
        df0 = g->df;
        known0 = g->df_known;
        at = dt_branch(g, dt_jcc_mnem[cc], op, nop, relsz);
        dt_body(g, relsz == 1 ? 1 : 1 + dt_below(g, 2));
        if (dt_patch(g, at, relsz, dt_pos(g))) {
            g->undef |= undef0;
            dt_df_merge(g, df0, known0);
            return true;
        }
        dt_snap_restore(g, &snap);
    }
    return false;
}

/* Fills @n bytes that are jumped over (never executed nor decoded). */
static void dt_junk(struct dt_gen *g, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        dt_byte(g, dt_chance(g, 50) ? 0xcc : (uint8_t)dt_rand(g));
    }
}

/* lea reg, [rip + disp32] to a code offset patched later. */
static uint32_t dt_lea_rip(struct dt_gen *g, int r)
{
    uint32_t at;

    dt_begin(g, ZYDIS_MNEMONIC_LEA);
    dt_byte(g, (uint8_t)(0x48 | (r >= 8 ? 4 : 0)));
    dt_byte(g, 0x8d);
    dt_byte(g, (uint8_t)((r & 7) << 3 | 5));
    at = dt_pos(g);
    dt_le(g, 0, 4);
    dt_end(g);
    return at;
}

/* ff /2 (call) or ff /4 (jmp) through a register or a slot in memory. */
static void dt_indirect(struct dt_gen *g, unsigned mnem, unsigned digit,
                        int reg, uint64_t slot)
{
    struct dt_enc e;

    dt_enc_init(&e, mnem, 0);
    e.reg = (int)digit;
    if (dt_chance(g, 10)) {
        dt_enc_pfx(&e, 0x3e); /* notrack (CET), a no-op DS override */
    }
    if (reg >= 0) {
        e.rm.reg = reg;
    } else {
        e.rm.mem = true;
        dt_mem_for(g, slot, 0, false, &e.rm.m);
    }
    dt_enc_op(&e, 0xff, -1, -1);
    dt_emit(g, &e);
}

/* A slot in the planted area; returns its linear address. */
static uint64_t dt_slot(struct dt_gen *g, uint64_t value)
{
    unsigned k = g->nslots < DT_NSLOTS ? g->nslots++ : DT_NSLOTS - 1;

    memcpy(g->c->data + 8 * k, &value, 8);
    return DT_DATA_ADDR + 8 * k;
}

/* jmp over junk: rel8, rel32, through a register or memory. */
static bool dt_f_jmp(struct dt_gen *g)
{
    unsigned v = dt_below(g, 4), junk = 1 + dt_below(g, 12);
    uint32_t at, lea_at = 0, slot_fix;
    int r;

    if (!dt_room(g, 100, 8)) {
        return false;
    }
    switch (v) {
    case 0:
        at = dt_branch(g, ZYDIS_MNEMONIC_JMP, (const uint8_t *)"\xeb", 1, 1);
        dt_junk(g, junk);
        dt_patch(g, at, 1, dt_pos(g));
        return true;
    case 1:
        at = dt_branch(g, ZYDIS_MNEMONIC_JMP, (const uint8_t *)"\xe9", 1, 4);
        dt_junk(g, junk);
        dt_patch(g, at, 4, dt_pos(g));
        return true;
    case 2: {
        bool rel = dt_chance(g, 50);

        r = dt_pick_reg(g, 8, false, true, 0);
        if (rel) {
            lea_at = dt_lea_rip(g, r);
        } else {
            /* mov r32, imm32 with the target patched in afterwards. */
            dt_set64(g, r, 0);
            lea_at = dt_pos(g) - 4;
        }
        dt_indirect(g, ZYDIS_MNEMONIC_JMP, 4, r, 0);
        dt_junk(g, junk);
        if (rel) {
            dt_patch(g, lea_at, 4, dt_pos(g));
        } else {
            dt_put_le(g, lea_at, DT_CODE_BASE + dt_pos(g), 4);
        }
        return true;
    }
    default: {
        /* jmp [slot]: the slot holds the target, known once laid out. */
        uint64_t slot = dt_slot(g, 0);

        dt_indirect(g, ZYDIS_MNEMONIC_JMP, 4, -1, slot);
        dt_junk(g, junk);
        slot_fix = dt_pos(g);
        {
            uint64_t t = DT_CODE_BASE + slot_fix;

            memcpy(g->c->data + (slot - DT_DATA_ADDR), &t, 8);
        }
        return true;
    }
    }
}

/*
 * A call to a subroutine laid out before it:
 *   jmp over; sub: body; ret [imm16]; over: [lea rsp,[rsp-pad]]; call sub
 * Flags: jmp, lea and call change none, so the body is generated with
 * the flags state at the jmp, and execution order differs only for them.
 */
static bool dt_f_call(struct dt_gen *g)
{
    unsigned v = dt_below(g, 3), pad = dt_chance(g, 25) ? 8 * dt_below(g, 4)
                                                         : 0;
    uint32_t jmp_at, sub, lea_at;
    uint64_t rsp0 = g->rsp, slot;
    uint16_t undef0;
    int r;
    struct dt_enc e;

    if (g->rsp < DT_STACK_LOW + 8 + pad + 16) {
        return false;
    }
    jmp_at = dt_branch(g, ZYDIS_MNEMONIC_JMP, (const uint8_t *)"\xe9", 1, 4);
    undef0 = g->undef;
    sub = dt_pos(g);
    g->rsp = rsp0 - pad - 8;
    dt_body(g, 1 + dt_below(g, 2));
    if (pad) {
        dt_enc_init(&e, ZYDIS_MNEMONIC_RET, 0);
        dt_enc_op(&e, 0xc2, -1, -1);
        e.imm = pad;
        e.immsz = 2;
        dt_emit(g, &e);
    } else if (dt_chance(g, 10)) {
        /* "rep ret", as older compilers emit for AMD predictors. */
        dt_raw(g, ZYDIS_MNEMONIC_RET, (const uint8_t *)"\xf3\xc3", 2);
    } else {
        dt_raw1(g, ZYDIS_MNEMONIC_RET, 0xc3);
    }
    dt_patch(g, jmp_at, 4, dt_pos(g));
    {
        /* These run before the body: they see its entry state. */
        uint16_t undef1 = g->undef;

        g->undef = undef0;
        g->rsp = rsp0;
        if (pad) {
            dt_enc_init(&e, ZYDIS_MNEMONIC_LEA, 8);
            e.reg = DT_RSP;
            e.rm.mem = true;
            e.rm.m.base = DT_RSP;
            e.rm.m.index = DT_NOREG;
            e.rm.m.dispsz = 1;
            e.rm.m.disp = -(int32_t)pad;
            dt_enc_op(&e, 0x8d, -1, -1);
            dt_emit(g, &e);
            g->rsp = rsp0 - pad;
        }
        switch (v) {
        case 0: {
            uint32_t at = dt_branch(g, ZYDIS_MNEMONIC_CALL,
                                    (const uint8_t *)"\xe8", 1, 4);

            dt_patch(g, at, 4, sub);
            break;
        }
        case 1:
            r = dt_pick_reg(g, 8, false, true, 0);
            lea_at = dt_lea_rip(g, r);
            dt_patch(g, lea_at, 4, sub);
            dt_indirect(g, ZYDIS_MNEMONIC_CALL, 2, r, 0);
            break;
        default:
            slot = dt_slot(g, DT_CODE_BASE + sub);
            dt_indirect(g, ZYDIS_MNEMONIC_CALL, 2, -1, slot);
            break;
        }
        g->undef = undef1;
        g->rsp = rsp0;
    }
    return true;
}

/*
 * A counted loop: mov ecx, n; top: body; loop/loope/loopne top (rel8) or
 * dec ecx; jnz top.  The body is generated as if no flag were defined on
 * entry, which covers every iteration.
 */
static bool dt_f_loop(struct dt_gen *g)
{
    unsigned v = dt_below(g, 4), n = 1 + dt_below(g, 5), tries;
    bool a32 = v < 3 && dt_chance(g, 20);
    uint32_t top, at;
    uint16_t reserved = g->reserved;
    struct dt_snap snap;
    static const unsigned mnem[3] = {ZYDIS_MNEMONIC_LOOP,
                                     ZYDIS_MNEMONIC_LOOPE,
                                     ZYDIS_MNEMONIC_LOOPNE};
    static const uint8_t op[3] = {0xe2, 0xe1, 0xe0};

    if (!dt_writable(g, dt_bit(DT_RCX))) {
        return false;
    }
    dt_set64(g, DT_RCX, a32 && dt_chance(g, 50) ? (dt_rand(g) << 32) | n : n);
    dt_snap_take(g, &snap);
    for (tries = 0; tries < 3; tries++) {
        bool df0 = g->df, known0 = g->df_known;

        top = dt_pos(g);
        g->reserved |= dt_bit(DT_RCX);
        g->undef = DT_ARITH;
        dt_body(g, tries ? 1 : 1 + dt_below(g, 2));
        if (v == 1 || v == 2) {
            dt_need(g, DT_ZF);
        }
        g->reserved = reserved;
        if (v < 3) {
            uint8_t b[2] = {0x67, op[v]};

            at = dt_branch(g, mnem[v], a32 ? b : b + 1, a32 ? 2 : 1, 1);
            if (!dt_patch(g, at, 1, top)) {
                dt_snap_restore(g, &snap);
                continue;
            }
        } else {
            dt_raw(g, ZYDIS_MNEMONIC_DEC, (const uint8_t *)"\xff\xc9", 2);
            dt_flags(g, DT_ARITH & ~DT_CF, 0);
            if (!dt_patch(g, dt_branch(g, ZYDIS_MNEMONIC_JNZ,
                                       (const uint8_t *)"\x75", 1, 1),
                          1, top)) {
                g->c->code_len -= 2;
                g->c->ninsns--;
                at = dt_branch(g, ZYDIS_MNEMONIC_JNZ,
                               (const uint8_t *)"\x0f\x85", 2, 4);
                dt_patch(g, at, 4, top);
            }
        }
        dt_df_merge(g, df0, known0);
        return true;
    }
    g->reserved = reserved;
    return true; /* just the mov ecx */
}

/* jrcxz / jecxz over a body, with RCX zero or not. */
static bool dt_f_jrcxz(struct dt_gen *g)
{
    bool a32 = dt_chance(g, 25), df0, known0;
    uint32_t at;
    uint16_t undef0;
    struct dt_snap snap;
    uint8_t b[2] = {0x67, 0xe3};
    unsigned tries;

    if (!dt_writable(g, dt_bit(DT_RCX))) {
        return false;
    }
    switch (dt_below(g, 3)) {
    case 0:
        dt_set64(g, DT_RCX, a32 ? dt_rand(g) << 32 : 0);
        break;
    case 1:
        dt_set64(g, DT_RCX, dt_chance(g, 50) ? 1ull << 32 : 1);
        break;
    default:
        break;
    }
    dt_snap_take(g, &snap);
    for (tries = 0; tries < 3; tries++) {
        undef0 = g->undef;
        df0 = g->df;
        known0 = g->df_known;
        at = dt_branch(g, a32 ? ZYDIS_MNEMONIC_JECXZ : ZYDIS_MNEMONIC_JRCXZ,
                       a32 ? b : b + 1, a32 ? 2 : 1, 1);
        dt_body(g, 1);
        if (dt_patch(g, at, 1, dt_pos(g))) {
            g->undef |= undef0;
            dt_df_merge(g, df0, known0);
            return true;
        }
        dt_snap_restore(g, &snap);
    }
    return true;
}

/* lock on something that is not a locked read-modify-write: #UD. */
static bool dt_f_lock_ud(struct dt_gen *g)
{
    struct dt_enc e;
    unsigned size = dt_pick_size_w(g);

    dt_enc_init(&e, ZYDIS_MNEMONIC_INVALID, size);
    switch (dt_below(g, 3)) {
    case 0: /* lock add reg, reg */
        e.reg = dt_pick_reg(g, size, false, false, 0);
        e.rm.reg = dt_pick_reg(g, size, false, false, 0);
        dt_enc_op(&e, 0x01, -1, -1);
        break;
    case 1: /* lock cmp m, reg */
        e.reg = dt_pick_reg(g, size, false, false, 0);
        e.rm.mem = true;
        dt_rm_mem(g, &e.rm, size, size, dt_bit(e.reg), false);
        dt_enc_op(&e, 0x39, -1, -1);
        break;
    default: /* lock mov m, reg */
        e.reg = dt_pick_reg(g, size, false, false, 0);
        e.rm.mem = true;
        dt_rm_mem(g, &e.rm, size, size, dt_bit(e.reg), false);
        dt_enc_op(&e, 0x89, -1, -1);
        break;
    }
    dt_enc_pfx(&e, 0xf0);
    dt_emit(g, &e);
    return true;
}

/* ---- The form table ------------------------------------------------------ */

struct dt_form {
    const char *name;
    bool (*fn)(struct dt_gen *g);
    uint8_t weight;
    uint8_t flags; /* DT_FF_* */
};

static const struct dt_form dt_forms[] = {
    {"alu", dt_f_alu, 10, 0},
    {"alu-imm", dt_f_alu_imm, 8, 0},
    {"test", dt_f_test, 3, 0},
    {"inc-dec", dt_f_incdec, 3, 0},
    {"neg-not", dt_f_negnot, 3, 0},
    {"shift", dt_f_shift, 10, 0},
    {"shld-shrd", dt_f_shxd, 5, 0},
    {"mul", dt_f_mul1, 4, 0},
    {"imul", dt_f_imul, 3, 0},
    {"div", dt_f_div, 5, 0},
    {"lea", dt_f_lea, 4, 0},
    {"mov", dt_f_mov, 4, 0},
    {"mov-imm", dt_f_mov_imm, 3, 0},
    {"mov-moffs", dt_f_moffs, 2, 0},
    {"movzx-movsx", dt_f_movx, 4, 0},
    {"cbw-cwd", dt_f_convert, 2, 0},
    {"bswap", dt_f_bswap, 2, 0},
    {"xchg", dt_f_xchg, 3, 0},
    {"cmpxchg", dt_f_cmpxchg, 3, 0},
    {"cmpxchg8b", dt_f_cmpxchg8b, 2, 0},
    {"xadd", dt_f_xadd, 2, 0},
    {"bt-reg", dt_f_bt_reg, 2, 0},
    {"bt-mem", dt_f_bt_mem, 3, 0},
    {"bt-imm", dt_f_bt_imm, 2, 0},
    {"bsf-bsr", dt_f_bsf, 3, 0},
    {"tzcnt-lzcnt-popcnt", dt_f_bitcount, 3, 0},
    {"setcc", dt_f_setcc, 3, 0},
    {"cmovcc", dt_f_cmov, 3, 0},
    {"flag-ops", dt_f_flagops, 2, 0},
    {"lahf-sahf", dt_f_lahf, 2, 0},
    {"pushf-popf", dt_f_pushf, 2, DT_FF_STACK},
    {"push-pop", dt_f_push_pop, 4, DT_FF_STACK},
    {"enter-leave", dt_f_enter, 2, DT_FF_STACK},
    {"string", dt_f_string, 6, 0},
    {"nop", dt_f_nop, 2, 0},
    {"jcc", dt_f_jcc, 4, DT_FF_FLOW},
    {"jmp", dt_f_jmp, 2, DT_FF_FLOW},
    {"call-ret", dt_f_call, 3, DT_FF_FLOW | DT_FF_STACK},
    {"loop", dt_f_loop, 3, DT_FF_FLOW},
    {"jrcxz", dt_f_jrcxz, 2, DT_FF_FLOW},
    {"lock-ud", dt_f_lock_ud, 1, 0},
    {"stack-fault", dt_f_stack_fault, 1, DT_FF_STACK},
};

unsigned dt_form_count(void)
{
    return SIM_ARRAY_SIZE(dt_forms);
}

const char *dt_form_name(unsigned form)
{
    return form < SIM_ARRAY_SIZE(dt_forms) ? dt_forms[form].name : "?";
}

/* Picks and emits one form allowed here; returns its index or -1. */
static int dt_gen_form(struct dt_gen *g)
{
    unsigned total = 0, i, r, tries;

    for (i = 0; i < SIM_ARRAY_SIZE(dt_forms); i++) {
        total += dt_forms[i].weight;
    }
    for (tries = 0; tries < 16; tries++) {
        r = dt_below(g, total);
        for (i = 0; r >= dt_forms[i].weight; i++) {
            r -= dt_forms[i].weight;
        }
        if (g->in_body && (dt_forms[i].flags & (DT_FF_STACK | DT_FF_FLOW))) {
            continue;
        }
        if (dt_forms[i].fn(g)) {
            return (int)i;
        }
    }
    return -1;
}

static bool dt_gen_one(struct dt_gen *g)
{
    return dt_gen_form(g) >= 0;
}

void dt_gen_case(uint64_t seed, unsigned features, struct dt_case *c)
{
    struct dt_gen g;
    unsigned i, nforms;
    uint64_t v;

    memset(c, 0, offsetof(struct dt_case, data));
    memset(&g, 0, sizeof(g));
    c->seed = seed;
    g.c = c;
    g.rng = seed;
    g.features = features;
    g.reserved = dt_bit(DT_RSP);

    for (i = 0; i < DT_DATA_SIZE; i += 8) {
        v = dt_rand(&g);
        memcpy(c->data + i, &v, 8);
    }
    for (i = 0; i < DT_PAGE_SIZE; i += 8) {
        v = dt_rand(&g);
        memcpy(c->stack + i, &v, 8);
    }
    for (i = 0; i < 16; i++) {
        c->init.gpr[i] = dt_value(&g, dt_pick_size(&g));
    }
    g.rsp = DT_STACK_ADDR + 0x600 + 8 * dt_below(&g, 0x80);
    if (dt_chance(&g, 10)) {
        g.rsp += 1 + dt_below(&g, 7);
    }
    c->init.gpr[DT_RSP] = g.rsp;
    c->init.rflags = dt_flags_image(&g);
    c->init.rip = DT_CODE_BASE;
    g.df = (c->init.rflags & DT_DF) != 0;
    g.df_known = true;

    nforms = dt_chance(&g, 80) ? 1 + dt_below(&g, 6) : 1 + dt_below(&g, 12);
    for (i = 0; i < nforms && c->nparts < DT_MAX_PARTS && !g.dead &&
                dt_room(&g, 520, 64);
         i++) {
        int form = dt_gen_form(&g);

        if (form < 0) {
            continue;
        }
        c->part[c->nparts].code_end = (uint16_t)c->code_len;
        c->part[c->nparts].undef = g.undef;
        c->part[c->nparts].insn_end = (uint8_t)c->ninsns;
        c->part[c->nparts].form = (uint8_t)form;
        c->nparts++;
    }
    c->flags_undef = g.undef;
    g_assert(!g.overflow);
}
