/*
 * cpu/exec-alu.c: integer data instructions: the binary ALU group and MOV
 * (specialised per form and operand size, since they dominate compiled
 * code), and the generic-size handlers for INC/DEC/NEG/NOT, shifts and
 * rotates, multiply and divide, bit scans and tests, sign and zero
 * extension, exchanges, SETcc/CMOVcc and the flag instructions.
 * Semantics and flag rules follow the SDM vol. 2 instruction pages.
 */
#include "sim/common.h"

#include "cpu/cpu-internal.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- Operand access for generic handlers -------------------------------- */

static ALWAYS_INLINE enum cpu_status op0_read(struct cpu *cpu,
                                              const struct cpu_insn *in,
                                              unsigned size, uint64_t *v,
                                              uint64_t *la)
{
    if (in->opk & CPU_OPK_M0) {
        *la = cpu_ea(cpu, in);
        return cpu_mem_read(cpu, *la, size, v);
    }
    *v = cpu_reg_read(cpu, in->r, size);
    return CPU_OK;
}

static ALWAYS_INLINE enum cpu_status op0_write(struct cpu *cpu,
                                               const struct cpu_insn *in,
                                               unsigned size, uint64_t v,
                                               uint64_t la)
{
    if (in->opk & CPU_OPK_M0) {
        return cpu_mem_write(cpu, la, size, v);
    }
    cpu_reg_write(cpu, in->r, size, v);
    return CPU_OK;
}

static ALWAYS_INLINE enum cpu_status op1_read(struct cpu *cpu,
                                              const struct cpu_insn *in,
                                              unsigned size, uint64_t *v)
{
    if (in->opk & CPU_OPK_M1) {
        return cpu_mem_read(cpu, cpu_ea(cpu, in), size, v);
    }
    if (in->opk & CPU_OPK_I1) {
        *v = in->imm & cpu_size_mask(size);
        return CPU_OK;
    }
    *v = cpu_reg_read(cpu, in->rm, size);
    return CPU_OK;
}

/* Sets SF, ZF and PF from @res and the given CF/OF/AF, all eagerly. */
static void flags_eager(struct cpu *cpu, unsigned size, uint64_t res, bool cf,
                        bool of, bool af)
{
    uint64_t f = 0;

    res &= cpu_size_mask(size);
    f |= cf ? CPU_FLAG_CF : 0;
    f |= of ? CPU_FLAG_OF : 0;
    f |= af ? CPU_FLAG_AF : 0;
    f |= res == 0 ? CPU_FLAG_ZF : 0;
    f |= (res & cpu_sign_bit(size)) ? CPU_FLAG_SF : 0;
    f |= __builtin_parity((unsigned)(res & 0xff)) ? 0 : CPU_FLAG_PF;
    cpu_flags_set_arith(cpu, f);
}

/* ---- The binary ALU group ----------------------------------------------- */

static ALWAYS_INLINE uint64_t alu_calc(struct cpu *cpu, enum cpu_alu_op op,
                                       unsigned size, uint64_t a, uint64_t b,
                                       bool *cin)
{
    uint64_t m = cpu_size_mask(size);

    switch (op) {
    case CPU_ALU_ADD:
        return (a + b) & m;
    case CPU_ALU_ADC:
        *cin = cpu_flag_cf(cpu);
        return (a + b + *cin) & m;
    case CPU_ALU_SUB:
    case CPU_ALU_CMP:
        return (a - b) & m;
    case CPU_ALU_SBB:
        *cin = cpu_flag_cf(cpu);
        return (a - b - *cin) & m;
    case CPU_ALU_AND:
    case CPU_ALU_TEST:
        return a & b;
    case CPU_ALU_OR:
        return a | b;
    default:
        return a ^ b;
    }
}

static ALWAYS_INLINE void alu_flags(struct cpu *cpu, enum cpu_alu_op op,
                                    unsigned size, uint64_t a, uint64_t b,
                                    uint64_t r, bool cin)
{
    enum cpu_lf_op lf;

    switch (op) {
    case CPU_ALU_ADD:
        lf = CPU_LF_ADD;
        break;
    case CPU_ALU_ADC:
        lf = cin ? CPU_LF_ADC : CPU_LF_ADD;
        break;
    case CPU_ALU_SUB:
    case CPU_ALU_CMP:
        lf = CPU_LF_SUB;
        break;
    case CPU_ALU_SBB:
        lf = cin ? CPU_LF_SBB : CPU_LF_SUB;
        break;
    default:
        lf = CPU_LF_LOGIC;
        break;
    }
    cpu_lf_set(cpu, lf, size, a, b, r);
}

/*
 * One body for every (operation, form, size): the callers pass constants,
 * so each instantiation compiles to straight-line code.  Memory is written
 * before any register or flag, so a faulting store changes nothing.
 */
static ALWAYS_INLINE enum cpu_status alu_do(struct cpu *cpu,
                                            const struct cpu_insn *in,
                                            enum cpu_alu_op op,
                                            enum cpu_form form, unsigned size)
{
    uint64_t m = cpu_size_mask(size);
    uint64_t a, b = 0, r, la = 0;
    bool cin = false;
    bool writes = op != CPU_ALU_CMP && op != CPU_ALU_TEST;
    enum cpu_status st;

    switch (form) {
    case CPU_FORM_RR:
        a = cpu_reg_read(cpu, in->r, size);
        b = cpu_reg_read(cpu, in->rm, size);
        break;
    case CPU_FORM_RI:
        a = cpu_reg_read(cpu, in->r, size);
        b = in->imm & m;
        break;
    case CPU_FORM_RM:
        a = cpu_reg_read(cpu, in->r, size);
        st = cpu_mem_read(cpu, cpu_ea(cpu, in), size, &b);
        if (SIM_UNLIKELY(st != CPU_OK)) {
            return st;
        }
        break;
    default: /* CPU_FORM_MR, CPU_FORM_MI */
        la = cpu_ea(cpu, in);
        st = cpu_mem_read(cpu, la, size, &a);
        if (SIM_UNLIKELY(st != CPU_OK)) {
            return st;
        }
        b = form == CPU_FORM_MR ? cpu_reg_read(cpu, in->rm, size)
                                : in->imm & m;
        break;
    }
    r = alu_calc(cpu, op, size, a, b, &cin);
    if (writes) {
        if (form == CPU_FORM_MR || form == CPU_FORM_MI) {
            st = cpu_mem_write(cpu, la, size, r);
            if (SIM_UNLIKELY(st != CPU_OK)) {
                return st;
            }
        } else {
            cpu_reg_write(cpu, in->r, size, r);
        }
    }
    alu_flags(cpu, op, size, a, b, r, cin);
    return CPU_OK;
}

/* Every case, slowly: what a specialised handler falls back to. */
static __attribute__((noinline)) enum cpu_status
alu_slow(struct cpu *cpu, const struct cpu_insn *in)
{
    return alu_do(cpu, in, in->aux, cpu_form_general(in->aux2), in->opsize);
}
CPU_THREADED(alu_slow_t, alu_slow)

/* The effective address of a specialised form. */
static ALWAYS_INLINE uint64_t form_ea(const struct cpu *cpu,
                                      const struct cpu_insn *in,
                                      enum cpu_form form)
{
    if (form >= CPU_FORM_RM_BD) {
        return (uint64_t)in->disp + cpu->gpr[in->base];
    }
    return cpu_ea(cpu, in);
}

/* What a specialised handler returns on success. */
static ALWAYS_INLINE enum cpu_status next(struct cpu *cpu,
                                          const struct cpu_insn *in,
                                          bool threaded)
{
    return threaded ? in[1].fn(cpu, in + 1) : CPU_OK;
}

/*
 * The specialised body, as a single step or threaded: register forms in
 * full; memory forms only when the software TLB hits (a write-tag hit
 * also allows the read of a read-modify-write).  Anything else goes to
 * alu_slow by a tail call, so the fast path spills no registers.
 */
static ALWAYS_INLINE enum cpu_status alu_fast(struct cpu *cpu,
                                              const struct cpu_insn *in,
                                              enum cpu_alu_op op,
                                              enum cpu_form form,
                                              unsigned size, bool threaded)
{
    enum cpu_form gf = cpu_form_general(form);
    bool writes = op != CPU_ALU_CMP && op != CPU_ALU_TEST;
    bool mem_dst = gf == CPU_FORM_MR || gf == CPU_FORM_MI;
    uint64_t la, a, b, r;
    struct cpu_tlb_entry *e;
    uint8_t *p;
    bool cin = false;

    if (form == CPU_FORM_RR || form == CPU_FORM_RI) {
        alu_do(cpu, in, op, form, size); /* cannot fail */
        return next(cpu, in, threaded);
    }
    la = form_ea(cpu, in, form);
    e = cpu_tlb_entry(cpu, la);
    if (SIM_UNLIKELY(!cpu_tlb_hit(writes && mem_dst ? e->tag_w : e->tag_r,
                                  la, size))) {
        return threaded ? alu_slow_t(cpu, in) : alu_slow(cpu, in);
    }
    p = cpu_tlb_host(e, la);
    if (gf == CPU_FORM_RM) {
        a = cpu_reg_read(cpu, in->r, size);
        b = cpu_host_load(p, size);
    } else {
        a = cpu_host_load(p, size);
        b = gf == CPU_FORM_MR ? cpu_reg_read(cpu, in->rm, size)
                              : in->imm & cpu_size_mask(size);
    }
    r = alu_calc(cpu, op, size, a, b, &cin);
    if (writes) {
        if (mem_dst) {
            cpu_host_store(p, size, r);
        } else {
            cpu_reg_write(cpu, in->r, size, r);
        }
    }
    alu_flags(cpu, op, size, a, b, r, cin);
    return next(cpu, in, threaded);
}

#define ALU_FN(op, form, size)                                                 \
    static enum cpu_status alu_##op##_##form##_##size(                         \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return alu_fast(cpu, in, CPU_ALU_##op, CPU_FORM_##form, size, false);  \
    }                                                                          \
    static enum cpu_status alu_t_##op##_##form##_##size(                       \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return alu_fast(cpu, in, CPU_ALU_##op, CPU_FORM_##form, size, true);   \
    }
#define ALU_SIZES(op, form)                                                    \
    ALU_FN(op, form, 1) ALU_FN(op, form, 2) ALU_FN(op, form, 4)               \
    ALU_FN(op, form, 8)
#define ALU_FORMS(op)                                                          \
    ALU_SIZES(op, RR) ALU_SIZES(op, RM) ALU_SIZES(op, MR) ALU_SIZES(op, RI)   \
    ALU_SIZES(op, MI) ALU_SIZES(op, RM_BD) ALU_SIZES(op, MR_BD)               \
    ALU_SIZES(op, MI_BD)

ALU_FORMS(ADD)
ALU_FORMS(OR)
ALU_FORMS(ADC)
ALU_FORMS(SBB)
ALU_FORMS(AND)
ALU_FORMS(SUB)
ALU_FORMS(XOR)
ALU_FORMS(CMP)
ALU_FORMS(TEST)

#define ALU_ROW_S(pfx, op, form)                                               \
    {pfx##op##_##form##_1, pfx##op##_##form##_2, pfx##op##_##form##_4,        \
     pfx##op##_##form##_8}
#define ALU_ROW(pfx, op)                                                       \
    {ALU_ROW_S(pfx, op, RR),    ALU_ROW_S(pfx, op, RM),                        \
     ALU_ROW_S(pfx, op, MR),    ALU_ROW_S(pfx, op, MI),                        \
     ALU_ROW_S(pfx, op, RI),    ALU_ROW_S(pfx, op, RM_BD),                     \
     ALU_ROW_S(pfx, op, MR_BD), ALU_ROW_S(pfx, op, MI_BD)}
#define ALU_TABLE(pfx)                                                         \
    {ALU_ROW(pfx, ADD), ALU_ROW(pfx, OR),  ALU_ROW(pfx, ADC),                  \
     ALU_ROW(pfx, SBB), ALU_ROW(pfx, AND), ALU_ROW(pfx, SUB),                  \
     ALU_ROW(pfx, XOR), ALU_ROW(pfx, CMP), ALU_ROW(pfx, TEST)}

/* [threaded][op][form][log2 size] */
static cpu_insn_fn *const alu_table[2][CPU_NALU][CPU_NFORMS][4] = {
    ALU_TABLE(alu_), ALU_TABLE(alu_t_),
};

static unsigned size_index(unsigned size)
{
    return (unsigned)__builtin_ctz(size);
}

cpu_insn_fn *cpu_sel_alu(enum cpu_alu_op op, enum cpu_form form,
                         unsigned size, cpu_insn_fn **step)
{
    *step = alu_table[0][op][form][size_index(size)];
    return alu_table[1][op][form][size_index(size)];
}

/* ---- MOV ---------------------------------------------------------------- */

static ALWAYS_INLINE enum cpu_status mov_do(struct cpu *cpu,
                                            const struct cpu_insn *in,
                                            enum cpu_form form, unsigned size)
{
    uint64_t v;
    enum cpu_status st;

    switch (form) {
    case CPU_FORM_RR:
        cpu_reg_write(cpu, in->r, size, cpu_reg_read(cpu, in->rm, size));
        return CPU_OK;
    case CPU_FORM_RI:
        cpu_reg_write(cpu, in->r, size, in->imm);
        return CPU_OK;
    case CPU_FORM_RM:
        st = cpu_mem_read(cpu, cpu_ea(cpu, in), size, &v);
        if (SIM_LIKELY(st == CPU_OK)) {
            cpu_reg_write(cpu, in->r, size, v);
        }
        return st;
    case CPU_FORM_MR:
        return cpu_mem_write(cpu, cpu_ea(cpu, in), size,
                             cpu_reg_read(cpu, in->rm, size));
    default:
        return cpu_mem_write(cpu, cpu_ea(cpu, in), size, in->imm);
    }
}

static __attribute__((noinline)) enum cpu_status
mov_slow(struct cpu *cpu, const struct cpu_insn *in)
{
    return mov_do(cpu, in, cpu_form_general(in->aux2), in->opsize);
}
CPU_THREADED(mov_slow_t, mov_slow)

/* As alu_fast: memory forms inline only on a TLB hit. */
static ALWAYS_INLINE enum cpu_status mov_fast(struct cpu *cpu,
                                              const struct cpu_insn *in,
                                              enum cpu_form form,
                                              unsigned size, bool threaded)
{
    enum cpu_form gf = cpu_form_general(form);
    uint64_t la;
    struct cpu_tlb_entry *e;

    if (form == CPU_FORM_RR || form == CPU_FORM_RI) {
        mov_do(cpu, in, form, size);
        return next(cpu, in, threaded);
    }
    la = form_ea(cpu, in, form);
    e = cpu_tlb_entry(cpu, la);
    if (SIM_UNLIKELY(!cpu_tlb_hit(gf == CPU_FORM_RM ? e->tag_r : e->tag_w,
                                  la, size))) {
        return threaded ? mov_slow_t(cpu, in) : mov_slow(cpu, in);
    }
    if (gf == CPU_FORM_RM) {
        cpu_reg_write(cpu, in->r, size,
                      cpu_host_load(cpu_tlb_host(e, la), size));
    } else {
        cpu_host_store(cpu_tlb_host(e, la), size,
                       gf == CPU_FORM_MR ? cpu_reg_read(cpu, in->rm, size)
                                         : in->imm);
    }
    return next(cpu, in, threaded);
}

#define MOV_FN(form, size)                                                     \
    static enum cpu_status mov_##form##_##size(struct cpu *cpu,                \
                                               const struct cpu_insn *in)      \
    {                                                                          \
        return mov_fast(cpu, in, CPU_FORM_##form, size, false);                \
    }                                                                          \
    static enum cpu_status mov_t_##form##_##size(struct cpu *cpu,              \
                                                 const struct cpu_insn *in)    \
    {                                                                          \
        return mov_fast(cpu, in, CPU_FORM_##form, size, true);                 \
    }
#define MOV_SIZES(form)                                                        \
    MOV_FN(form, 1) MOV_FN(form, 2) MOV_FN(form, 4) MOV_FN(form, 8)
MOV_SIZES(RR)
MOV_SIZES(RM)
MOV_SIZES(MR)
MOV_SIZES(RI)
MOV_SIZES(MI)
MOV_SIZES(RM_BD)
MOV_SIZES(MR_BD)
MOV_SIZES(MI_BD)

#define MOV_ROW(pfx, form)                                                     \
    {pfx##form##_1, pfx##form##_2, pfx##form##_4, pfx##form##_8}
#define MOV_TABLE(pfx)                                                         \
    {MOV_ROW(pfx, RR),    MOV_ROW(pfx, RM),    MOV_ROW(pfx, MR),               \
     MOV_ROW(pfx, MI),    MOV_ROW(pfx, RI),    MOV_ROW(pfx, RM_BD),            \
     MOV_ROW(pfx, MR_BD), MOV_ROW(pfx, MI_BD)}

/* [threaded][form][log2 size] */
static cpu_insn_fn *const mov_table[2][CPU_NFORMS][4] = {
    MOV_TABLE(mov_), MOV_TABLE(mov_t_),
};

cpu_insn_fn *cpu_sel_mov(enum cpu_form form, unsigned size,
                         cpu_insn_fn **step)
{
    *step = mov_table[0][form][size_index(size)];
    return mov_table[1][form][size_index(size)];
}

/* ---- One-operand arithmetic --------------------------------------------- */

static enum cpu_status incdec(struct cpu *cpu, const struct cpu_insn *in,
                              bool inc)
{
    unsigned size = in->opsize;
    uint64_t a, r, la = 0;
    bool cf = cpu_flag_cf(cpu);
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);

    if (st != CPU_OK) {
        return st;
    }
    r = (inc ? a + 1 : a - 1) & cpu_size_mask(size);
    st = op0_write(cpu, in, size, r, la);
    if (st != CPU_OK) {
        return st;
    }
    /* INC/DEC leave CF alone: park it in rflags for the lazy state. */
    cpu->rflags = (cpu->rflags & ~CPU_FLAG_CF) | (cf ? CPU_FLAG_CF : 0);
    cpu_lf_set(cpu, inc ? CPU_LF_INC : CPU_LF_DEC, size, a, 1, r);
    return CPU_OK;
}

/*
 * INC/DEC of a 32- or 64-bit register, the loop-counter forms, threaded:
 * CF is kept in rflags for the lazy state, as incdec() does.
 */
static ALWAYS_INLINE enum cpu_status incdec_reg(struct cpu *cpu,
                                                const struct cpu_insn *in,
                                                bool inc, unsigned size)
{
    uint64_t a = cpu_reg_read(cpu, in->r, size);
    uint64_t r = (inc ? a + 1 : a - 1) & cpu_size_mask(size);
    bool cf = cpu_flag_cf(cpu);

    cpu_reg_write(cpu, in->r, size, r);
    cpu->rflags = (cpu->rflags & ~CPU_FLAG_CF) | (cf ? CPU_FLAG_CF : 0);
    cpu_lf_set(cpu, inc ? CPU_LF_INC : CPU_LF_DEC, size, a, 1, r);
    return in[1].fn(cpu, in + 1);
}

#define INCDEC_FN(name, inc, size)                                             \
    static enum cpu_status name(struct cpu *cpu, const struct cpu_insn *in)    \
    {                                                                          \
        return incdec_reg(cpu, in, inc, size);                                 \
    }
INCDEC_FN(inc_t_4, true, 4)
INCDEC_FN(inc_t_8, true, 8)
INCDEC_FN(dec_t_4, false, 4)
INCDEC_FN(dec_t_8, false, 8)

cpu_insn_fn *cpu_sel_incdec(bool inc, unsigned size)
{
    if (size == 4) {
        return inc ? inc_t_4 : dec_t_4;
    }
    if (size == 8) {
        return inc ? inc_t_8 : dec_t_8;
    }
    return NULL;
}

enum cpu_status cpu_op_inc(struct cpu *cpu, const struct cpu_insn *in)
{
    return incdec(cpu, in, true);
}

enum cpu_status cpu_op_dec(struct cpu *cpu, const struct cpu_insn *in)
{
    return incdec(cpu, in, false);
}

enum cpu_status cpu_op_neg(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t a, r, la = 0;
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);

    if (st != CPU_OK) {
        return st;
    }
    r = (0 - a) & cpu_size_mask(size);
    st = op0_write(cpu, in, size, r, la);
    if (st == CPU_OK) {
        cpu_lf_set(cpu, CPU_LF_SUB, size, 0, a, r);
    }
    return st;
}

enum cpu_status cpu_op_not(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t a, la = 0;
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);

    if (st != CPU_OK) {
        return st;
    }
    return op0_write(cpu, in, size, ~a & cpu_size_mask(size), la);
}

/* ---- Shifts and rotates ------------------------------------------------- */

/* SHL/SAL, SHR and SAR of @a by a masked count @cnt (at most 63). */
static ALWAYS_INLINE uint64_t shift_result(unsigned op, unsigned size,
                                           uint64_t a, unsigned cnt)
{
    uint64_t m = cpu_size_mask(size);

    switch (op) {
    case CPU_SH_SHR:
        return a >> cnt;
    case CPU_SH_SAR:
        return (uint64_t)(cpu_sext(a, size) >> cnt) & m;
    default:
        return (a << cnt) & m;
    }
}

static ALWAYS_INLINE enum cpu_lf_op shift_lf_op(unsigned op)
{
    return op == CPU_SH_SHR ? CPU_LF_SHR
           : op == CPU_SH_SAR ? CPU_LF_SAR
                              : CPU_LF_SHL;
}

/*
 * Shift and rotate by a count already masked to 5 (6 for 64-bit) bits.
 * SDM vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD: a masked count
 * of 0 changes no flags; OF is defined for a count of 1 only (computed
 * with the same formula otherwise); AF is undefined and left clear.
 */
static enum cpu_status shift_do(struct cpu *cpu, const struct cpu_insn *in,
                                unsigned op, unsigned cnt)
{
    unsigned size = in->opsize, bits = size * 8;
    uint64_t m = cpu_size_mask(size), sign = cpu_sign_bit(size);
    uint64_t a, r, la = 0, src = 0;
    bool cf = false, of = false, rotate_only = false;
    enum cpu_status st;

    st = op0_read(cpu, in, size, &a, &la);
    if (st != CPU_OK) {
        return st;
    }
    if (cnt == 0) {
        /* No flags change, but a 32-bit register destination is still
         * written, so its upper half is cleared (SDM 1 §3.4.1.1). */
        if (size == 4 && !(in->opk & CPU_OPK_M0)) {
            cpu_reg_write(cpu, in->r, 4, a);
        }
        return CPU_OK;
    }
    switch (op) {
    case CPU_SH_ROL:
        cnt %= bits;
        r = cnt ? ((a << cnt) | (a >> (bits - cnt))) & m : a;
        cf = r & 1;
        of = ((r & sign) != 0) != cf;
        rotate_only = true;
        break;
    case CPU_SH_ROR:
        cnt %= bits;
        r = cnt ? ((a >> cnt) | (a << (bits - cnt))) & m : a;
        cf = (r & sign) != 0;
        of = ((r ^ (r << 1)) & sign) != 0;
        rotate_only = true;
        break;
    case CPU_SH_RCL:
    case CPU_SH_RCR: {
        /* Rotate the (bits+1)-bit quantity CF:value, one bit at a time
         * for small sizes' modulo counts; at most 64 steps. */
        bool c = cpu_flag_cf(cpu);
        unsigned n = size < 4 ? cnt % (bits + 1) : cnt;

        r = a;
        if (op == CPU_SH_RCR) {
            of = ((r & sign) != 0) != c;
        }
        for (unsigned i = 0; i < n; i++) {
            bool out;

            if (op == CPU_SH_RCL) {
                out = (r & sign) != 0;
                r = ((r << 1) | c) & m;
            } else {
                out = r & 1;
                r = (r >> 1) | (c ? sign : 0);
            }
            c = out;
        }
        cf = c;
        if (op == CPU_SH_RCL) {
            of = ((r & sign) != 0) != cf;
        }
        rotate_only = true;
        break;
    }
    case CPU_SH_SHL:
    case CPU_SH_SAL:
    case CPU_SH_SHR:
    case CPU_SH_SAR:
        r = shift_result(op, size, a, cnt);
        st = op0_write(cpu, in, size, r, la);
        if (st == CPU_OK) {
            cpu_lf_set(cpu, shift_lf_op(op), size, a, cnt, r);
        }
        return st;
    case CPU_SH_SHLD:
    case CPU_SH_SHRD:
        src = cpu_reg_read(cpu, in->rm, size);
        if (size == 2 && cnt > 16) {
            /* Undefined result: model it as a 32-bit shift of the
             * concatenation, like the processors we compared against. */
            uint64_t wide = op == CPU_SH_SHLD ? (a << 16) | src
                                              : (src << 16) | a;
            wide |= wide << 32;
            if (op == CPU_SH_SHLD) {
                r = (wide << cnt) >> 48 & m;
                cf = (wide >> (64 - cnt)) & 1;
            } else {
                r = (wide >> cnt) & m;
                cf = (wide >> (cnt - 1)) & 1;
            }
        } else if (op == CPU_SH_SHLD) {
            r = ((a << cnt) | (cnt == bits ? src : src >> (bits - cnt))) & m;
            if (cnt == bits) {
                r = src;
            }
            cf = (a >> (bits - cnt)) & 1;
        } else {
            r = ((a >> cnt) | (src << (bits - cnt))) & m;
            if (cnt == bits) {
                r = src;
            }
            cf = (a >> (cnt - 1)) & 1;
        }
        of = ((r ^ a) & sign) != 0;
        break;
    default:
        return cpu_raise_ud(cpu);
    }
    st = op0_write(cpu, in, size, r, la);
    if (st != CPU_OK) {
        return st;
    }
    if (rotate_only) {
        /* Rotates change only CF and OF. */
        uint64_t f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;

        f &= ~(CPU_FLAG_CF | CPU_FLAG_OF);
        f |= (cf ? CPU_FLAG_CF : 0) | (of ? CPU_FLAG_OF : 0);
        cpu_flags_set_arith(cpu, f);
    } else {
        flags_eager(cpu, size, r, cf, of, false);
    }
    return CPU_OK;
}

enum cpu_status cpu_op_shift(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned cmask = in->opsize == 8 ? 63 : 31;
    unsigned cnt;

    if (in->opk & CPU_OPK_I1) {
        cnt = (unsigned)in->imm & cmask;
    } else {
        cnt = (unsigned)cpu->gpr[CPU_RCX] & cmask;
    }
    return shift_do(cpu, in, in->aux, cnt);
}

/*
 * Specialised SHL/SHR/SAR of a 32- or 64-bit register by an immediate or
 * by CL, the forms compilers emit: no memory, lazy flags.
 */
static ALWAYS_INLINE enum cpu_status shift_fast(struct cpu *cpu,
                                                const struct cpu_insn *in,
                                                unsigned op, unsigned size,
                                                bool by_cl, bool threaded)
{
    unsigned cnt = (unsigned)(by_cl ? cpu->gpr[CPU_RCX] : in->imm) &
                   (size == 8 ? 63 : 31);

    if (cnt != 0) {
        uint64_t a = cpu_reg_read(cpu, in->r, size);
        uint64_t r = shift_result(op, size, a, cnt);

        cpu_reg_write(cpu, in->r, size, r);
        cpu_lf_set(cpu, shift_lf_op(op), size, a, cnt, r);
    } else if (size == 4) {
        /* A 32-bit destination is zero-extended even for count 0. */
        cpu_reg_write(cpu, in->r, 4, cpu_reg_read(cpu, in->r, 4));
    }
    return next(cpu, in, threaded);
}

#define SHIFT_FN(op, size, cl)                                                 \
    static enum cpu_status shift_##op##_##size##_##cl(                         \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return shift_fast(cpu, in, CPU_SH_##op, size, cl, false);              \
    }                                                                          \
    static enum cpu_status shift_t_##op##_##size##_##cl(                       \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return shift_fast(cpu, in, CPU_SH_##op, size, cl, true);               \
    }
#define SHIFT_FNS(op)                                                          \
    SHIFT_FN(op, 4, 0) SHIFT_FN(op, 4, 1) SHIFT_FN(op, 8, 0)                  \
    SHIFT_FN(op, 8, 1)
SHIFT_FNS(SHL)
SHIFT_FNS(SHR)
SHIFT_FNS(SAR)

#define SHIFT_ROW(pfx, op)                                                     \
    {{pfx##op##_4_0, pfx##op##_4_1}, {pfx##op##_8_0, pfx##op##_8_1}}
/* [threaded][SHL, SHR, SAR][32-bit, 64-bit][by imm, by CL] */
static cpu_insn_fn *const shift_table[2][3][2][2] = {
    {SHIFT_ROW(shift_, SHL), SHIFT_ROW(shift_, SHR), SHIFT_ROW(shift_, SAR)},
    {SHIFT_ROW(shift_t_, SHL), SHIFT_ROW(shift_t_, SHR),
     SHIFT_ROW(shift_t_, SAR)},
};

cpu_insn_fn *cpu_sel_shift(enum cpu_shift_op op, unsigned size, bool by_cl,
                           cpu_insn_fn **step)
{
    unsigned row;

    if (size < 4) {
        return NULL;
    }
    switch (op) {
    case CPU_SH_SHL:
    case CPU_SH_SAL:
        row = 0;
        break;
    case CPU_SH_SHR:
        row = 1;
        break;
    case CPU_SH_SAR:
        row = 2;
        break;
    default:
        return NULL;
    }
    *step = shift_table[0][row][size == 8][by_cl];
    return shift_table[1][row][size == 8][by_cl];
}

/* ---- Multiply and divide ------------------------------------------------ */

/* MUL/IMUL one-operand: rDX:rAX = rAX * src (AX = AL * src for bytes). */
static enum cpu_status mul1(struct cpu *cpu, const struct cpu_insn *in,
                            bool is_signed)
{
    unsigned size = in->opsize;
    uint64_t b, la = 0, lo, hi;
    bool over;
    enum cpu_status st = op0_read(cpu, in, size, &b, &la);

    if (st != CPU_OK) {
        return st;
    }
    if (is_signed) {
        __int128 p = (__int128)cpu_sext(cpu->gpr[CPU_RAX], size) *
                     cpu_sext(b, size);

        lo = (uint64_t)p & cpu_size_mask(size);
        hi = size == 8 ? (uint64_t)(p >> 64)
                       : (uint64_t)(p >> (size * 8)) & cpu_size_mask(size);
        over = p != (__int128)cpu_sext(lo, size);
    } else {
        unsigned __int128 p =
            (unsigned __int128)(cpu->gpr[CPU_RAX] & cpu_size_mask(size)) * b;

        lo = (uint64_t)p & cpu_size_mask(size);
        hi = size == 8 ? (uint64_t)(p >> 64)
                       : (uint64_t)(p >> (size * 8)) & cpu_size_mask(size);
        over = hi != 0;
    }
    if (size == 1) {
        cpu_reg_write(cpu, CPU_RAX * 8, 2, lo | (hi << 8));
    } else {
        cpu_reg_write(cpu, CPU_RAX * 8, size, lo);
        cpu_reg_write(cpu, CPU_RDX * 8, size, hi);
    }
    /* SF, ZF, AF, PF are undefined: set from the low half. */
    flags_eager(cpu, size, lo, over, over, false);
    return CPU_OK;
}

enum cpu_status cpu_op_mul1(struct cpu *cpu, const struct cpu_insn *in)
{
    return mul1(cpu, in, false);
}

enum cpu_status cpu_op_imul1(struct cpu *cpu, const struct cpu_insn *in)
{
    return mul1(cpu, in, true);
}

static enum cpu_status imul_trunc(struct cpu *cpu, const struct cpu_insn *in,
                                  uint64_t a, uint64_t b)
{
    unsigned size = in->opsize;
    __int128 p = (__int128)cpu_sext(a, size) * cpu_sext(b, size);
    uint64_t r = (uint64_t)p & cpu_size_mask(size);
    bool over = p != (__int128)cpu_sext(r, size);

    cpu_reg_write(cpu, in->r, size, r);
    flags_eager(cpu, size, r, over, over, false);
    return CPU_OK;
}

/* IMUL r, r/m */
enum cpu_status cpu_op_imul2(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t b;
    enum cpu_status st = op1_read(cpu, in, in->opsize, &b);

    if (st != CPU_OK) {
        return st;
    }
    return imul_trunc(cpu, in, cpu_reg_read(cpu, in->r, in->opsize), b);
}

/* IMUL r, r/m, imm: the r/m operand is operand 1, the immediate in imm2. */
enum cpu_status cpu_op_imul3(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t b;
    enum cpu_status st = op1_read(cpu, in, in->opsize, &b);

    if (st != CPU_OK) {
        return st;
    }
    return imul_trunc(cpu, in, b, in->imm2);
}

static enum cpu_status divide(struct cpu *cpu, const struct cpu_insn *in,
                              bool is_signed)
{
    unsigned size = in->opsize, bits = size * 8;
    uint64_t d, la = 0, q, rem, m = cpu_size_mask(size);
    enum cpu_status st = op0_read(cpu, in, size, &d, &la);

    if (st != CPU_OK) {
        return st;
    }
    if (d == 0) {
        return cpu_raise(cpu, CPU_EXC_DE, -1);
    }
    if (!is_signed) {
        unsigned __int128 n;

        if (size == 1) {
            n = cpu->gpr[CPU_RAX] & 0xffff;
        } else {
            n = ((unsigned __int128)(cpu->gpr[CPU_RDX] & m) << bits) |
                (cpu->gpr[CPU_RAX] & m);
        }
        if (n / d > m) {
            return cpu_raise(cpu, CPU_EXC_DE, -1);
        }
        q = (uint64_t)(n / d);
        rem = (uint64_t)(n % d);
    } else {
        __int128 n, sq, sr, sd = cpu_sext(d, size);

        if (size == 1) {
            n = (int16_t)(cpu->gpr[CPU_RAX] & 0xffff);
        } else {
            unsigned __int128 u =
                ((unsigned __int128)(cpu->gpr[CPU_RDX] & m) << bits) |
                (cpu->gpr[CPU_RAX] & m);

            /* Sign-extend the 2*bits-bit dividend. */
            n = (__int128)(u << (128 - 2 * bits)) >> (128 - 2 * bits);
        }
        /* INT128_MIN / -1 cannot occur: the dividend is at most 128 bits
         * only for 64-bit operands, and that case is caught below. */
        if (size == 8 && sd == -1 &&
            n == (__int128)((unsigned __int128)1 << 127)) {
            return cpu_raise(cpu, CPU_EXC_DE, -1);
        }
        sq = n / sd;
        sr = n % sd;
        if (sq > (__int128)cpu_sext(m >> 1, size) ||
            sq < -(__int128)(m >> 1) - 1) {
            return cpu_raise(cpu, CPU_EXC_DE, -1);
        }
        q = (uint64_t)sq & m;
        rem = (uint64_t)sr & m;
    }
    if (size == 1) {
        cpu_reg_write(cpu, CPU_RAX * 8, 2, q | (rem << 8));
    } else {
        cpu_reg_write(cpu, CPU_RAX * 8, size, q);
        cpu_reg_write(cpu, CPU_RDX * 8, size, rem);
    }
    /* Flags are undefined after DIV/IDIV: left unchanged. */
    return CPU_OK;
}

enum cpu_status cpu_op_div(struct cpu *cpu, const struct cpu_insn *in)
{
    return divide(cpu, in, false);
}

enum cpu_status cpu_op_idiv(struct cpu *cpu, const struct cpu_insn *in)
{
    return divide(cpu, in, true);
}

/* ---- Moves with extension, LEA, exchanges -------------------------------- */

/* MOVZX/MOVSX/MOVSXD r, r/m: aux2 = source size. */
enum cpu_status cpu_op_movzx(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st = op1_read(cpu, in, in->aux2, &v);

    if (st == CPU_OK) {
        cpu_reg_write(cpu, in->r, in->opsize, v);
    }
    return st;
}

enum cpu_status cpu_op_movsx(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st = op1_read(cpu, in, in->aux2, &v);

    if (st == CPU_OK) {
        cpu_reg_write(cpu, in->r, in->opsize,
                      (uint64_t)cpu_sext(v, in->aux2));
    }
    return st;
}

CPU_THREADED(movzx_t, cpu_op_movzx)
CPU_THREADED(movsx_t, cpu_op_movsx)

/*
 * Specialised MOVZX/MOVSX/MOVSXD into a 32- or 64-bit register, from a
 * register or (on a TLB hit) memory; other cases go to the generic ones.
 */
static ALWAYS_INLINE enum cpu_status ext_fast(struct cpu *cpu,
                                              const struct cpu_insn *in,
                                              bool sx, unsigned src,
                                              unsigned dst, enum cpu_form form,
                                              bool threaded)
{
    uint64_t v;

    if (form == CPU_FORM_RR) {
        v = cpu_reg_read(cpu, in->rm, src);
    } else {
        uint64_t la = form_ea(cpu, in, form);
        struct cpu_tlb_entry *e = cpu_tlb_entry(cpu, la);

        if (SIM_UNLIKELY(!cpu_tlb_hit(e->tag_r, la, src))) {
            if (threaded) {
                return sx ? movsx_t(cpu, in) : movzx_t(cpu, in);
            }
            return sx ? cpu_op_movsx(cpu, in) : cpu_op_movzx(cpu, in);
        }
        v = cpu_host_load(cpu_tlb_host(e, la), src);
    }
    cpu_reg_write(cpu, in->r, dst, sx ? (uint64_t)cpu_sext(v, src) : v);
    return next(cpu, in, threaded);
}

#define EXT_FN(sx, src, dst, form)                                             \
    static enum cpu_status ext_##sx##_##src##_##dst##_##form(                  \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return ext_fast(cpu, in, sx, src, dst, CPU_FORM_##form, false);        \
    }                                                                          \
    static enum cpu_status ext_t_##sx##_##src##_##dst##_##form(                \
        struct cpu *cpu, const struct cpu_insn *in)                            \
    {                                                                          \
        return ext_fast(cpu, in, sx, src, dst, CPU_FORM_##form, true);         \
    }
#define EXT_FORMS(sx, src, dst)                                                \
    EXT_FN(sx, src, dst, RR) EXT_FN(sx, src, dst, RM)                         \
    EXT_FN(sx, src, dst, RM_BD)
EXT_FORMS(0, 1, 4)
EXT_FORMS(0, 1, 8)
EXT_FORMS(0, 2, 4)
EXT_FORMS(0, 2, 8)
EXT_FORMS(1, 1, 4)
EXT_FORMS(1, 1, 8)
EXT_FORMS(1, 2, 4)
EXT_FORMS(1, 2, 8)
EXT_FORMS(1, 4, 8)

#define EXT_ROW(pfx, sx, src, dst)                                             \
    {pfx##sx##_##src##_##dst##_RR, pfx##sx##_##src##_##dst##_RM,              \
     pfx##sx##_##src##_##dst##_RM_BD}
#define EXT_TABLE(pfx)                                                         \
    {{{EXT_ROW(pfx, 0, 1, 4), EXT_ROW(pfx, 0, 1, 8)},                          \
      {EXT_ROW(pfx, 0, 2, 4), EXT_ROW(pfx, 0, 2, 8)},                          \
      {{NULL, NULL, NULL}, {NULL, NULL, NULL}}},                               \
     {{EXT_ROW(pfx, 1, 1, 4), EXT_ROW(pfx, 1, 1, 8)},                          \
      {EXT_ROW(pfx, 1, 2, 4), EXT_ROW(pfx, 1, 2, 8)},                          \
      {{NULL, NULL, NULL}, EXT_ROW(pfx, 1, 4, 8)}}}

/* [threaded][sx][source 1, 2, 4][dest 4, 8][RR, RM, RM_BD] */
static cpu_insn_fn *const ext_table[2][2][3][2][3] = {
    EXT_TABLE(ext_), EXT_TABLE(ext_t_),
};

cpu_insn_fn *cpu_sel_ext(bool sx, unsigned src, unsigned dst,
                         enum cpu_form form, cpu_insn_fn **step)
{
    unsigned f = form == CPU_FORM_RR ? 0 : form == CPU_FORM_RM ? 1 : 2;

    if (dst < 4 || src > 4 || src >= dst) {
        return NULL;
    }
    *step = ext_table[0][sx][src / 2][dst == 8][f];
    return ext_table[1][sx][src / 2][dst == 8][f];
}

/* LEA ignores segment bases; decode leaves in->seg clear for it. */
enum cpu_status cpu_op_lea(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu_reg_write(cpu, in->r, in->opsize, cpu_ea(cpu, in));
    return CPU_OK;
}

/* XCHG op0, op1 where op1 is a register (decode orders memory first). */
enum cpu_status cpu_op_xchg(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t a, la = 0, b = cpu_reg_read(cpu, in->rm, size);
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);

    if (st != CPU_OK) {
        return st;
    }
    st = op0_write(cpu, in, size, b, la);
    if (st == CPU_OK) {
        cpu_reg_write(cpu, in->rm, size, a);
    }
    return st;
}

/* XADD op0, reg: op0 = op0 + reg, reg = old op0; flags of the add. */
enum cpu_status cpu_op_xadd(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t a, la = 0, b = cpu_reg_read(cpu, in->rm, size), r;
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);

    if (st != CPU_OK) {
        return st;
    }
    r = (a + b) & cpu_size_mask(size);
    /* SDM 2B XADD: SRC = DEST, then DEST = sum: with one register for
     * both, the sum wins.  A memory destination is written first so a
     * fault changes nothing. */
    if (in->opk & CPU_OPK_M0) {
        st = cpu_mem_write(cpu, la, size, r);
        if (st != CPU_OK) {
            return st;
        }
        cpu_reg_write(cpu, in->rm, size, a);
    } else {
        cpu_reg_write(cpu, in->rm, size, a);
        cpu_reg_write(cpu, in->r, size, r);
    }
    cpu_lf_set(cpu, CPU_LF_ADD, size, a, b, r);
    return CPU_OK;
}

/*
 * CMPXCHG op0, reg.  A memory destination is always written (with its old
 * value when the compare fails), as the processor does (SDM vol. 2A).
 */
enum cpu_status cpu_op_cmpxchg(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t a, la = 0, acc = cpu_reg_read(cpu, CPU_RAX * 8, size);
    uint64_t src = cpu_reg_read(cpu, in->rm, size);
    enum cpu_status st = op0_read(cpu, in, size, &a, &la);
    bool eq;

    if (st != CPU_OK) {
        return st;
    }
    eq = acc == a;
    if (in->opk & CPU_OPK_M0) {
        st = cpu_mem_write(cpu, la, size, eq ? src : a);
        if (st != CPU_OK) {
            return st;
        }
    } else if (eq) {
        cpu_reg_write(cpu, in->r, size, src);
    }
    if (!eq) {
        cpu_reg_write(cpu, CPU_RAX * 8, size, a);
        if (!(in->opk & CPU_OPK_M0)) {
            /* Intel writes the destination back too, so a 32-bit register
             * destination is zero-extended (AMD leaves it). */
            cpu_reg_write(cpu, in->r, size, a);
        }
    }
    cpu_lf_set(cpu, CPU_LF_SUB, size, acc, a, (acc - a) & cpu_size_mask(size));
    return CPU_OK;
}

static void set_zf_only(struct cpu *cpu, bool zf)
{
    uint64_t f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;

    f = (f & ~CPU_FLAG_ZF) | (zf ? CPU_FLAG_ZF : 0);
    cpu_flags_set_arith(cpu, f);
}

/* CMPXCHG8B m64: compares EDX:EAX; only ZF is affected. */
enum cpu_status cpu_op_cmpxchg8b(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t la = cpu_ea(cpu, in), v;
    uint64_t cmp = ((cpu->gpr[CPU_RDX] & 0xffffffff) << 32) |
                   (cpu->gpr[CPU_RAX] & 0xffffffff);
    enum cpu_status st = cpu_mem_read(cpu, la, 8, &v);

    if (st != CPU_OK) {
        return st;
    }
    if (v == cmp) {
        st = cpu_mem_write(cpu, la, 8,
                           ((cpu->gpr[CPU_RCX] & 0xffffffff) << 32) |
                               (cpu->gpr[CPU_RBX] & 0xffffffff));
    } else {
        st = cpu_mem_write(cpu, la, 8, v);
        if (st == CPU_OK) {
            cpu->gpr[CPU_RAX] = v & 0xffffffff;
            cpu->gpr[CPU_RDX] = v >> 32;
        }
    }
    if (st == CPU_OK) {
        set_zf_only(cpu, v == cmp);
    }
    return st;
}

/* CMPXCHG16B m128: #GP(0) unless 16-byte aligned (SDM vol. 2A). */
enum cpu_status cpu_op_cmpxchg16b(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t la = cpu_ea(cpu, in), lo, hi;
    bool eq;
    enum cpu_status st;

    if (la & 15) {
        return cpu_raise_gp0(cpu);
    }
    st = cpu_mem_read(cpu, la, 8, &lo);
    if (st == CPU_OK) {
        st = cpu_mem_read(cpu, la + 8, 8, &hi);
    }
    if (st == CPU_OK) {
        st = cpu_mem_probe_write(cpu, la, 16);
    }
    if (st != CPU_OK) {
        return st;
    }
    eq = lo == cpu->gpr[CPU_RAX] && hi == cpu->gpr[CPU_RDX];
    if (eq) {
        cpu_mem_write(cpu, la, 8, cpu->gpr[CPU_RBX]);
        cpu_mem_write(cpu, la + 8, 8, cpu->gpr[CPU_RCX]);
    } else {
        cpu->gpr[CPU_RAX] = lo;
        cpu->gpr[CPU_RDX] = hi;
    }
    set_zf_only(cpu, eq);
    return CPU_OK;
}

/* CBW/CWDE/CDQE: sign-extend the lower half of rAX into rAX. */
enum cpu_status cpu_op_cbw(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned half = in->opsize / 2;

    cpu_reg_write(cpu, CPU_RAX * 8, in->opsize,
                  (uint64_t)cpu_sext(cpu->gpr[CPU_RAX], half));
    return CPU_OK;
}

/* CWD/CDQ/CQO: fill rDX with the sign of rAX. */
enum cpu_status cpu_op_cwd(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    bool neg = cpu_reg_read(cpu, CPU_RAX * 8, size) & cpu_sign_bit(size);

    cpu_reg_write(cpu, CPU_RDX * 8, size, neg ? ~0ull : 0);
    return CPU_OK;
}

/* BSWAP: a 16-bit operand's result is undefined; it is zero here. */
enum cpu_status cpu_op_bswap(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v = cpu_reg_read(cpu, in->r, in->opsize);

    if (in->opsize == 8) {
        v = __builtin_bswap64(v);
    } else if (in->opsize == 4) {
        v = __builtin_bswap32((uint32_t)v);
    } else {
        v = 0;
    }
    cpu_reg_write(cpu, in->r, in->opsize, v);
    return CPU_OK;
}

/* ---- Bit test and scan -------------------------------------------------- */

/*
 * BT/BTS/BTR/BTC.  With a register bit offset and a memory operand the
 * offset is signed and may address outside the operand (SDM vol. 2A BT).
 * CF = the bit; OF, SF, AF, PF undefined (unchanged); ZF unchanged.
 */
enum cpu_status cpu_op_bt(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize, bits = size * 8;
    uint64_t v, la = 0, bit;
    int64_t off;
    enum cpu_status st;
    bool old;

    if (in->opk & CPU_OPK_I1) {
        off = (int64_t)(in->imm & (bits - 1));
    } else {
        off = cpu_sext(cpu_reg_read(cpu, in->rm, size), size);
    }
    if (in->opk & CPU_OPK_M0) {
        int64_t unit = off >= 0 ? off / (int64_t)bits
                                : -((-off + (int64_t)bits - 1) / bits);

        la = cpu_ea(cpu, in) + (uint64_t)(unit * (int64_t)size);
        st = cpu_mem_read(cpu, la, size, &v);
        if (st != CPU_OK) {
            return st;
        }
        bit = (uint64_t)(off - unit * (int64_t)bits);
    } else {
        v = cpu_reg_read(cpu, in->r, size);
        bit = (uint64_t)off & (bits - 1);
    }
    old = (v >> bit) & 1;
    if (in->aux != 0) {
        uint64_t nv = in->aux == 1   ? v | (1ull << bit)
                      : in->aux == 2 ? v & ~(1ull << bit)
                                     : v ^ (1ull << bit);

        if (in->opk & CPU_OPK_M0) {
            st = cpu_mem_write(cpu, la, size, nv);
            if (st != CPU_OK) {
                return st;
            }
        } else {
            cpu_reg_write(cpu, in->r, size, nv);
        }
    }
    {
        uint64_t f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;

        f = (f & ~CPU_FLAG_CF) | (old ? CPU_FLAG_CF : 0);
        cpu_flags_set_arith(cpu, f);
    }
    return CPU_OK;
}

/*
 * BSF/BSR: ZF = (source == 0); the destination is left unchanged for a
 * zero source (AMD documents this; Intel processors behave so).  The other
 * flags are undefined: set from the result like SF/PF of a logic op.
 */
static enum cpu_status bitscan(struct cpu *cpu, const struct cpu_insn *in,
                               bool reverse)
{
    unsigned size = in->opsize;
    uint64_t v, r = 0;
    enum cpu_status st = op1_read(cpu, in, size, &v);
    uint64_t f;

    if (st != CPU_OK) {
        return st;
    }
    if (v != 0) {
        r = reverse ? 63 - (unsigned)__builtin_clzll(v)
                    : (unsigned)__builtin_ctzll(v);
        cpu_reg_write(cpu, in->r, size, r);
    }
    f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;
    f = (f & ~CPU_FLAG_ZF) | (v == 0 ? CPU_FLAG_ZF : 0);
    cpu_flags_set_arith(cpu, f);
    return CPU_OK;
}

enum cpu_status cpu_op_bsf(struct cpu *cpu, const struct cpu_insn *in)
{
    return bitscan(cpu, in, false);
}

enum cpu_status cpu_op_bsr(struct cpu *cpu, const struct cpu_insn *in)
{
    return bitscan(cpu, in, true);
}

/* TZCNT/LZCNT: CF = (source == 0), ZF = (result == 0).  Without the CPUID
 * feature, the F3 prefix is ignored and they run as BSF/BSR. */
static enum cpu_status count_zeros(struct cpu *cpu, const struct cpu_insn *in,
                                   bool leading)
{
    unsigned size = in->opsize, bits = size * 8;
    uint64_t v, r;
    enum cpu_status st;

    if (leading ? !cpu->feat_lzcnt : !cpu->feat_bmi1) {
        return bitscan(cpu, in, leading);
    }
    st = op1_read(cpu, in, size, &v);
    if (st != CPU_OK) {
        return st;
    }
    if (v == 0) {
        r = bits;
    } else if (leading) {
        r = (unsigned)__builtin_clzll(v) - (64 - bits);
    } else {
        r = (unsigned)__builtin_ctzll(v);
    }
    cpu_reg_write(cpu, in->r, size, r);
    /* Only CF and ZF are defined; keep SF/PF/OF/AF clear. */
    cpu_flags_set_arith(cpu, (v == 0 ? CPU_FLAG_CF : 0) |
                                 (r == 0 ? CPU_FLAG_ZF : 0));
    return CPU_OK;
}

enum cpu_status cpu_op_tzcnt(struct cpu *cpu, const struct cpu_insn *in)
{
    return count_zeros(cpu, in, false);
}

enum cpu_status cpu_op_lzcnt(struct cpu *cpu, const struct cpu_insn *in)
{
    return count_zeros(cpu, in, true);
}

/* POPCNT: ZF = (source == 0); OF, SF, AF, CF, PF cleared. */
enum cpu_status cpu_op_popcnt(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st;

    if (!cpu->feat_popcnt) {
        return cpu_raise_ud(cpu);
    }
    st = op1_read(cpu, in, in->opsize, &v);
    if (st != CPU_OK) {
        return st;
    }
    cpu_reg_write(cpu, in->r, in->opsize, (uint64_t)__builtin_popcountll(v));
    cpu_flags_set_arith(cpu, v == 0 ? CPU_FLAG_ZF : 0);
    return CPU_OK;
}

/* ---- Conditions and flags ----------------------------------------------- */

enum cpu_status cpu_op_setcc(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t la = 0;

    if (in->opk & CPU_OPK_M0) {
        la = cpu_ea(cpu, in);
    }
    return op0_write(cpu, in, 1, cpu_cond(cpu, in->aux), la);
}

/* CMOVcc: the source is read (and may fault) whatever the condition; a
 * 32-bit destination is zero-extended even when nothing moves. */
enum cpu_status cpu_op_cmovcc(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st = op1_read(cpu, in, in->opsize, &v);

    if (st != CPU_OK) {
        return st;
    }
    if (!cpu_cond(cpu, in->aux)) {
        v = cpu_reg_read(cpu, in->r, in->opsize);
    }
    cpu_reg_write(cpu, in->r, in->opsize, v);
    return CPU_OK;
}

/* LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
enum cpu_status cpu_op_lahf(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t f = cpu_flags_get(cpu);

    *cpu_regp(cpu, CPU_RAX * 8 + 1) =
        (uint8_t)((f & (CPU_FLAG_SF | CPU_FLAG_ZF | CPU_FLAG_AF |
                        CPU_FLAG_PF | CPU_FLAG_CF)) |
                  2);
    return CPU_OK;
}

enum cpu_status cpu_op_sahf(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t mask = CPU_FLAG_SF | CPU_FLAG_ZF | CPU_FLAG_AF | CPU_FLAG_PF |
                    CPU_FLAG_CF;
    uint64_t f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;
    uint64_t ah = *cpu_regp(cpu, CPU_RAX * 8 + 1);

    cpu_flags_set_arith(cpu, (f & ~mask) | (ah & mask));
    return CPU_OK;
}

static void set_cf(struct cpu *cpu, int how /* 0 clear, 1 set, 2 flip */)
{
    uint64_t f = cpu_flags_get(cpu) & CPU_FLAGS_ARITH;

    if (how == 2) {
        f ^= CPU_FLAG_CF;
    } else {
        f = (f & ~CPU_FLAG_CF) | (how ? CPU_FLAG_CF : 0);
    }
    cpu_flags_set_arith(cpu, f);
}

enum cpu_status cpu_op_clc(struct cpu *cpu, const struct cpu_insn *in)
{
    set_cf(cpu, 0);
    return CPU_OK;
}

enum cpu_status cpu_op_stc(struct cpu *cpu, const struct cpu_insn *in)
{
    set_cf(cpu, 1);
    return CPU_OK;
}

enum cpu_status cpu_op_cmc(struct cpu *cpu, const struct cpu_insn *in)
{
    set_cf(cpu, 2);
    return CPU_OK;
}

enum cpu_status cpu_op_cld(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu->rflags &= ~CPU_FLAG_DF;
    return CPU_OK;
}

enum cpu_status cpu_op_std(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu->rflags |= CPU_FLAG_DF;
    return CPU_OK;
}

enum cpu_status cpu_op_nop(struct cpu *cpu, const struct cpu_insn *in)
{
    return CPU_OK;
}
