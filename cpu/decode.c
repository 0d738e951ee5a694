/*
 * cpu/decode.c: turns guest bytes into blocks of struct cpu_insn.  The only
 * file that includes Zydis (STYLE rule 7).  Each instruction is decoded
 * once with ZydisDecoderDecodeFull; its operands are resolved here to
 * register offsets, address parts and immediates (RIP-relative addresses
 * and branch targets made absolute), and a handler is chosen from
 * cpu/insn.def by mnemonic and operand form.
 */
#include "sim/common.h"

#include <glib.h>
#include <Zydis/Zydis.h>

#include "cpu/cpu-internal.h"

/* How decode maps an instruction's operands (the kind column). */
enum decode_kind {
    DK_UNSUPPORTED = 0,
    DK_ALU, DK_MOV, DK_GEN, DK_EXT, DK_LEA, DK_XCHG, DK_FIXED, DK_IMUL,
    DK_SHIFT, DK_CC, DK_NONE, DK_JMP, DK_JCC, DK_CALL, DK_RET, DK_LOOP,
    DK_PUSH, DK_POP, DK_ENTER, DK_STR, DK_IO, DK_INT,
};

#define F_END 1u

struct insn_desc {
    uint8_t kind;
    uint8_t cost;
    uint8_t flags;
    uint8_t aux;
    cpu_insn_fn *fn;
};

static const struct insn_desc insn_table[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define CPU_INSN(m, kind, fn, aux, cost, flags)                                \
    [ZYDIS_MNEMONIC_##m] = {kind, CPU_COST_##cost, flags, aux, fn},
#include "cpu/insn.def"
#undef CPU_INSN
};

void *cpu_decoder_new(void)
{
    ZydisDecoder *d = g_new0(ZydisDecoder, 1);

    if (!ZYAN_SUCCESS(ZydisDecoderInit(d, ZYDIS_MACHINE_MODE_LONG_64,
                                       ZYDIS_STACK_WIDTH_64))) {
        g_free(d);
        return NULL;
    }
    return d;
}

const char *cpu_mnemonic_str(unsigned mnemonic)
{
    const char *s = ZydisMnemonicGetString((ZydisMnemonic)mnemonic);

    return s != NULL ? s : "?";
}

/* Byte offset into cpu->gpr of a general register, or -1. */
static int gpr_offset(ZydisRegister r)
{
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        return (r - ZYDIS_REGISTER_AL) * 8;
    }
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        return (r - ZYDIS_REGISTER_AH) * 8 + 1;
    }
    if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_R15B) {
        return (r - ZYDIS_REGISTER_SPL + 4) * 8;
    }
    if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
        return (r - ZYDIS_REGISTER_AX) * 8;
    }
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
        return (r - ZYDIS_REGISTER_EAX) * 8;
    }
    if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
        return (r - ZYDIS_REGISTER_RAX) * 8;
    }
    return -1;
}

/* Index into cpu->gpr of an address register (64- or 32-bit). */
static int addr_index(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE) {
        return CPU_REG_NONE;
    }
    if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
        return r - ZYDIS_REGISTER_RAX;
    }
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
        return r - ZYDIS_REGISTER_EAX;
    }
    return -1;
}

static int sreg_number(ZydisRegister r)
{
    if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) {
        return r - ZYDIS_REGISTER_ES;
    }
    return -1;
}

struct decoded {
    ZydisDecodedInstruction d;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    uint64_t rip, next_rip;
};

/* Fills the address fields of @in from memory operand @op. */
static bool set_mem(struct cpu_insn *in, const struct decoded *dc,
                    const ZydisDecodedOperand *op, bool lea)
{
    int base, index;

    in->amask = dc->d.address_width == 32 ? 0xffffffffu : ~0ull;
    in->scale = op->mem.scale > 1 ? (uint8_t)__builtin_ctz(op->mem.scale) : 0;
    in->disp = op->mem.disp.has_displacement ? op->mem.disp.value : 0;
    if (op->mem.base == ZYDIS_REGISTER_RIP ||
        op->mem.base == ZYDIS_REGISTER_EIP) {
        /* RIP-relative: the block knows its RIP, so fold it in now. */
        in->disp = (int64_t)(dc->next_rip + (uint64_t)in->disp);
        base = CPU_REG_NONE;
    } else {
        base = addr_index(op->mem.base);
    }
    index = addr_index(op->mem.index);
    if (base < 0 || index < 0) {
        return false;
    }
    in->base = (uint8_t)base;
    in->index = (uint8_t)index;
    in->seg = CPU_SEGBASE_NONE;
    if (!lea) {
        if (op->mem.segment == ZYDIS_REGISTER_FS) {
            in->seg = CPU_SEGBASE_FS;
        } else if (op->mem.segment == ZYDIS_REGISTER_GS) {
            in->seg = CPU_SEGBASE_GS;
        }
    }
    return true;
}

static uint64_t imm_value(const struct decoded *dc,
                          const ZydisDecodedOperand *op)
{
    if (op->imm.is_relative) {
        return dc->next_rip + (uint64_t)op->imm.value.s;
    }
    return op->imm.is_signed ? (uint64_t)op->imm.value.s : op->imm.value.u;
}

/*
 * Generic operand mapping (see cpu/handlers.h): explicit operand 0 to
 * in->r or memory, operand 1 to in->rm, memory or in->imm, operand 2
 * (an immediate) to in->imm2.  Returns false for a form it cannot map.
 */
static bool map_generic(struct cpu_insn *in, const struct decoded *dc)
{
    unsigned n = dc->d.operand_count_visible;

    for (unsigned i = 0; i < n && i < 3; i++) {
        const ZydisDecodedOperand *op = &dc->ops[i];
        int off;

        switch (op->type) {
        case ZYDIS_OPERAND_TYPE_REGISTER:
            off = gpr_offset(op->reg.value);
            if (off < 0) {
                return false;
            }
            if (i == 0) {
                in->r = (uint8_t)off;
            } else if (i == 1) {
                in->rm = (uint8_t)off;
            } else if (op->reg.value != ZYDIS_REGISTER_CL) {
                return false; /* only SHLD/SHRD's count is a third reg */
            }
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            if (i > 1 || !set_mem(in, dc, op, false)) {
                return false;
            }
            in->opk |= i == 0 ? CPU_OPK_M0 : CPU_OPK_M1;
            break;
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            if (i == 1) {
                in->imm = imm_value(dc, op);
                in->opk |= CPU_OPK_I1;
            } else if (i == 2) {
                in->imm2 = imm_value(dc, op);
            } else {
                in->imm = imm_value(dc, op);
                in->opk |= CPU_OPK_I1;
            }
            break;
        default:
            return false;
        }
    }
    return true;
}

static enum cpu_form form_of(const struct cpu_insn *in, bool op1_is_imm)
{
    if (in->opk & CPU_OPK_M0) {
        return op1_is_imm ? CPU_FORM_MI : CPU_FORM_MR;
    }
    if (in->opk & CPU_OPK_M1) {
        return CPU_FORM_RM;
    }
    return op1_is_imm ? CPU_FORM_RI : CPU_FORM_RR;
}

static unsigned op_bytes(const ZydisDecodedOperand *op)
{
    return op->size / 8;
}

/* MOV to or from a segment or control register. */
static bool build_mov_special(struct cpu_insn *in, const struct decoded *dc)
{
    const ZydisDecodedOperand *o0 = &dc->ops[0], *o1 = &dc->ops[1];
    int s;

    if (o0->type == ZYDIS_OPERAND_TYPE_REGISTER &&
        (s = sreg_number(o0->reg.value)) >= 0) {
        if (s == CPU_CS) {
            return false;
        }
        in->aux = (uint8_t)s;
        in->fn = cpu_op_mov_sreg_load;
        if (o1->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            in->opk = CPU_OPK_M1;
            return set_mem(in, dc, o1, false);
        }
        in->rm = (uint8_t)gpr_offset(o1->reg.value);
        return true;
    }
    if (o1->type == ZYDIS_OPERAND_TYPE_REGISTER &&
        (s = sreg_number(o1->reg.value)) >= 0) {
        in->aux = (uint8_t)s;
        in->fn = cpu_op_mov_sreg_store;
        in->opsize = (uint8_t)op_bytes(o0);
        if (o0->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            in->opk = CPU_OPK_M0;
            return set_mem(in, dc, o0, false);
        }
        in->r = (uint8_t)gpr_offset(o0->reg.value);
        return true;
    }
    if (o0->type == ZYDIS_OPERAND_TYPE_REGISTER &&
        o0->reg.value >= ZYDIS_REGISTER_CR0 &&
        o0->reg.value <= ZYDIS_REGISTER_CR15) {
        in->aux = (uint8_t)(o0->reg.value - ZYDIS_REGISTER_CR0);
        in->rm = (uint8_t)gpr_offset(o1->reg.value);
        in->fn = cpu_op_mov_to_cr;
        return true;
    }
    if (o1->type == ZYDIS_OPERAND_TYPE_REGISTER &&
        o1->reg.value >= ZYDIS_REGISTER_CR0 &&
        o1->reg.value <= ZYDIS_REGISTER_CR15) {
        in->aux = (uint8_t)(o1->reg.value - ZYDIS_REGISTER_CR0);
        in->r = (uint8_t)gpr_offset(o0->reg.value);
        in->fn = cpu_op_mov_from_cr;
        return true;
    }
    return false;
}

static bool is_cr_or_sreg(const ZydisDecodedOperand *op)
{
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
           (sreg_number(op->reg.value) >= 0 ||
            (op->reg.value >= ZYDIS_REGISTER_CR0 &&
             op->reg.value <= ZYDIS_REGISTER_CR15) ||
            (op->reg.value >= ZYDIS_REGISTER_DR0 &&
             op->reg.value <= ZYDIS_REGISTER_DR15));
}

static bool uses_fpu_or_vector(const struct decoded *dc)
{
    for (unsigned i = 0; i < dc->d.operand_count; i++) {
        const ZydisDecodedOperand *op = &dc->ops[i];

        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass c = ZydisRegisterGetClass(op->reg.value);

            if (c == ZYDIS_REGCLASS_XMM || c == ZYDIS_REGCLASS_YMM ||
                c == ZYDIS_REGCLASS_ZMM || c == ZYDIS_REGCLASS_MMX) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Fills @in for the decoded instruction.  Returns false when the form is
 * not one the CPU implements (the caller makes it an unsupported #UD).
 */
static bool build(struct cpu *cpu, struct cpu_insn *in,
                  const struct decoded *dc, const struct insn_desc *desc)
{
    const ZydisDecodedOperand *o0 = &dc->ops[0], *o1 = &dc->ops[1];
    unsigned nvis = dc->d.operand_count_visible;

    in->fn = desc->fn;
    in->aux = desc->aux;
    in->opsize = (uint8_t)(dc->d.operand_width / 8);
    in->amask = dc->d.address_width == 32 ? 0xffffffffu : ~0ull;
    if (in->opsize == 0) {
        in->opsize = 8;
    }
    switch (desc->kind) {
    case DK_ALU:
    case DK_MOV:
        if (desc->kind == DK_MOV && (is_cr_or_sreg(o0) || is_cr_or_sreg(o1))) {
            return build_mov_special(in, dc);
        }
        if (nvis != 2 || !map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        {
            enum cpu_form f = form_of(in, (in->opk & CPU_OPK_I1) != 0);

            if (f != CPU_FORM_RR && f != CPU_FORM_RI &&
                in->index == CPU_REG_NONE && in->seg == CPU_SEGBASE_NONE &&
                in->amask == ~0ull) {
                f = cpu_form_bd(f);
            }

            /* aux2 = form, for the handlers' generic slow paths. */
            in->aux2 = (uint8_t)f;
            if (desc->kind == DK_ALU) {
                in->fn = cpu_sel_alu(desc->aux, f, in->opsize, &in->step);
            } else {
                in->fn = cpu_sel_mov(f, in->opsize, &in->step);
            }
        }
        return true;
    case DK_GEN:
        if (!map_generic(in, dc)) {
            return false;
        }
        if (nvis > 0) {
            in->opsize = (uint8_t)op_bytes(o0);
        }
        if (in->opsize == 0) {
            in->opsize = 8;
        }
        return true;
    case DK_EXT: {
        enum cpu_form f;
        cpu_insn_fn *fast, *step = NULL;

        if (!map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        in->aux2 = (uint8_t)op_bytes(o1);
        f = form_of(in, false);
        if (f == CPU_FORM_RM && in->index == CPU_REG_NONE &&
            in->seg == CPU_SEGBASE_NONE && in->amask == ~0ull) {
            f = cpu_form_bd(f);
        }
        fast = cpu_sel_ext(in->fn == cpu_op_movsx, in->aux2, in->opsize, f,
                           &step);
        if (fast != NULL) {
            in->fn = fast;
            in->step = step;
        }
        return true;
    }
    case DK_LEA:
        in->r = (uint8_t)gpr_offset(o0->reg.value);
        in->opsize = (uint8_t)op_bytes(o0);
        return set_mem(in, dc, o1, true);
    case DK_XCHG:
        /* Put a memory operand first; the register goes to in->rm. */
        if (o1->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            in->opk = CPU_OPK_M0;
            in->rm = (uint8_t)gpr_offset(o0->reg.value);
            in->opsize = (uint8_t)op_bytes(o0);
            return set_mem(in, dc, o1, false);
        }
        if (!map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        return true;
    case DK_FIXED:
        if (desc->aux >= 2) {
            in->opsize = desc->aux;
        }
        return true;
    case DK_NONE:
        return true;
    case DK_IMUL:
        if (!map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        in->fn = nvis == 1 ? cpu_op_imul1 : nvis == 2 ? cpu_op_imul2
                                                      : cpu_op_imul3;
        return true;
    case DK_SHIFT:
        if (!map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        if (desc->aux == CPU_SH_SHLD || desc->aux == CPU_SH_SHRD) {
            in->opk &= (uint8_t)~CPU_OPK_I1;
            if (dc->ops[2].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
                in->imm = dc->ops[2].imm.value.u;
                in->opk |= CPU_OPK_I1;
            }
        } else if (nvis == 1 || (o1->type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
                                 !(in->opk & CPU_OPK_I1))) {
            /* The D0/D1 forms shift by an implicit 1. */
            in->imm = 1;
            in->opk |= CPU_OPK_I1;
        }
        if (!(in->opk & CPU_OPK_M0)) {
            cpu_insn_fn *step = NULL;
            cpu_insn_fn *fast = cpu_sel_shift(
                desc->aux, in->opsize, !(in->opk & CPU_OPK_I1), &step);

            if (fast != NULL) {
                in->fn = fast;
                in->step = step;
            }
        }
        return true;
    case DK_CC:
        if (!map_generic(in, dc)) {
            return false;
        }
        in->opsize = (uint8_t)op_bytes(o0);
        in->aux = dc->d.opcode & 15;
        return true;
    case DK_JCC:
        in->aux = dc->d.opcode & 15;
        in->imm = imm_value(dc, o0);
        in->fn = cpu_sel_jcc(in->aux, &in->step);
        return true;
    case DK_JMP:
    case DK_CALL:
        in->imm2 = dc->next_rip;
        if (o0->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            in->imm = imm_value(dc, o0);
            in->fn = desc->kind == DK_JMP ? cpu_op_jmp : cpu_op_call;
            return true;
        }
        if (o0->type == ZYDIS_OPERAND_TYPE_POINTER || o0->size != 64) {
            return false; /* far transfers are not modelled */
        }
        in->fn = desc->kind == DK_JMP ? cpu_op_jmp_ind : cpu_op_call_ind;
        return map_generic(in, dc);
    case DK_RET:
        if (dc->d.meta.category == ZYDIS_CATEGORY_RET &&
            dc->d.mnemonic == ZYDIS_MNEMONIC_RET && dc->d.operand_width == 64) {
            in->imm = nvis > 0 ? o0->imm.value.u : 0;
            return true;
        }
        return false;
    case DK_LOOP:
        in->imm = imm_value(dc, o0);
        return true;
    case DK_PUSH:
    case DK_POP:
        in->opsize = (uint8_t)(dc->d.operand_width / 8);
        if (o0->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            sreg_number(o0->reg.value) >= 0) {
            int s = sreg_number(o0->reg.value);

            if (s != CPU_FS && s != CPU_GS) {
                return false;
            }
            in->aux = (uint8_t)s;
            in->fn = desc->kind == DK_PUSH ? cpu_op_push_sreg
                                           : cpu_op_pop_sreg;
            return true;
        }
        return map_generic(in, dc);
    case DK_ENTER:
        in->imm = o0->imm.value.u;
        in->imm2 = o1->imm.value.u;
        return true;
    case DK_STR: {
        uint64_t a = dc->d.attributes;
        bool cmp = desc->aux == CPU_STR_CMPS || desc->aux == CPU_STR_SCAS;

        if (dc->d.meta.category != ZYDIS_CATEGORY_STRINGOP &&
            dc->d.meta.category != ZYDIS_CATEGORY_IOSTRINGOP) {
            return false; /* e.g. the SSE MOVSD/CMPSD */
        }
        in->aux2 = CPU_REP_NONE;
        if (a & ZYDIS_ATTRIB_HAS_REPNE) {
            in->aux2 = cmp ? CPU_REP_REPNE : CPU_REP_REP;
        } else if (a & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) {
            in->aux2 = cmp ? CPU_REP_REPE : CPU_REP_REP;
        }
        /*
         * INS/OUTS move 8, 16 or 32 bits: the port size comes from the
         * opcode or the operand-size attribute, and REX.W does not widen
         * it (SDM 2A INS, 2B OUTS); Zydis reports 64 for REX.W.
         */
        if ((desc->aux == CPU_STR_INS || desc->aux == CPU_STR_OUTS) &&
            in->opsize > 4) {
            in->opsize = 4;
        }
        in->seg = (a & ZYDIS_ATTRIB_HAS_SEGMENT_FS)   ? CPU_SEGBASE_FS
                  : (a & ZYDIS_ATTRIB_HAS_SEGMENT_GS) ? CPU_SEGBASE_GS
                                                      : CPU_SEGBASE_NONE;
        return true;
    }
    case DK_IO: {
        /* IN AL/AX/EAX, imm8|DX and OUT imm8|DX, AL/AX/EAX. */
        const ZydisDecodedOperand *data = desc->aux ? o1 : o0;
        const ZydisDecodedOperand *port = desc->aux ? o0 : o1;

        in->opsize = (uint8_t)op_bytes(data);
        if (port->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            in->imm = port->imm.value.u & 0xff;
            in->opk = CPU_OPK_I1;
        }
        return true;
    }
    case DK_INT:
        in->imm = o0->imm.value.u & 0xff;
        return true;
    default:
        return false;
    }
}

static const struct insn_desc desc_unsupported = {
    DK_UNSUPPORTED, CPU_COST_SIMPLE, F_END, 0, NULL};
static const struct insn_desc desc_invalid = {
    DK_UNSUPPORTED, CPU_COST_EXCEPTION, F_END, 0, NULL};

/*
 * Decodes one instruction at @rip from @buf (@avail bytes) into @in.
 * Returns: ZYAN status of the decoder (NO_MORE_DATA when @avail is short).
 */
static ZyanStatus decode_one(struct cpu *cpu, const uint8_t *buf,
                             unsigned avail, uint64_t rip,
                             struct cpu_insn *in, unsigned *cost,
                             bool *ends)
{
    struct decoded dc;
    const struct insn_desc *desc;
    ZyanStatus zs;
    bool has_mem = false;

    memset(in, 0, sizeof(*in));
    in->amask = ~0ull;
    in->base = CPU_REG_NONE;
    in->index = CPU_REG_NONE;
    zs = ZydisDecoderDecodeFull(cpu->decoder, buf, avail, &dc.d, dc.ops);
    if (zs == ZYDIS_STATUS_NO_MORE_DATA) {
        return zs;
    }
    if (!ZYAN_SUCCESS(zs)) {
        /* Not a valid instruction (or an illegal LOCK, REX, ...): #UD. */
        in->len = 1;
        in->step = cpu_op_ud;
        in->fn = cpu_thread_generic;
        in->mnemonic = ZYDIS_MNEMONIC_INVALID;
        *cost = cpu->costs[desc_invalid.cost];
        *ends = true;
        return ZYAN_STATUS_SUCCESS;
    }
    dc.rip = rip;
    dc.next_rip = rip + dc.d.length;
    in->len = dc.d.length;
    in->mnemonic = (uint16_t)dc.d.mnemonic;
    desc = &insn_table[dc.d.mnemonic];
    if (desc->kind == DK_UNSUPPORTED || !build(cpu, in, &dc, desc)) {
        struct cpu_insn keep = *in;

        memset(in, 0, sizeof(*in));
        in->len = keep.len;
        in->mnemonic = keep.mnemonic;
        in->base = in->index = CPU_REG_NONE;
        in->amask = ~0ull;
        if (dc.d.meta.isa_ext == ZYDIS_ISA_EXT_X87) {
            in->fn = cpu_op_fpu_nm;
            in->aux = 1;
        } else if (uses_fpu_or_vector(&dc)) {
            in->fn = cpu_op_fpu_nm;
            in->aux = 2;
        } else {
            in->fn = cpu_op_unsupported;
        }
        desc = &desc_unsupported;
    }
    for (unsigned i = 0; i < dc.d.operand_count; i++) {
        const ZydisDecodedOperand *op = &dc.ops[i];

        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY ||
            op->mem.type != ZYDIS_MEMOP_TYPE_MEM) {
            continue;
        }
        has_mem |= i < dc.d.operand_count_visible;
        /* An explicit operand based on RSP/RBP is a stack reference; the
         * hidden stack operands of PUSH/POP/CALL/RET check their own
         * addresses (cpu_push, cpu_peek). */
        if (i < dc.d.operand_count_visible &&
            op->mem.segment == ZYDIS_REGISTER_SS) {
            in->opk |= CPU_OPK_SS;
        }
    }
    *cost = cpu->costs[desc->cost] + (has_mem ? cpu->costs[CPU_COST_LOAD] : 0);
    *ends = (desc->flags & F_END) != 0;
    if (in->fn == cpu_op_mov_to_cr || in->fn == cpu_op_mov_sreg_load) {
        /* Translation or segment bases change under the next ones. */
        *ends = true;
    }
    if ((in->fn == cpu_op_inc || in->fn == cpu_op_dec) &&
        !(in->opk & CPU_OPK_M0) &&
        cpu_sel_incdec(in->fn == cpu_op_inc, in->opsize) != NULL) {
        in->step = in->fn;
        in->fn = cpu_sel_incdec(in->fn == cpu_op_inc, in->opsize);
    }
    if (in->step == NULL) {
        in->step = in->fn;
        in->fn = cpu_thread_generic;
    }
    return ZYAN_STATUS_SUCCESS;
}

/*
 * Decodes the block at cpu->rip, whose first byte is at guest-physical
 * @pa.  A block stays within one page, except that a first instruction
 * that straddles a page boundary forms a block of its own.
 * Returns: a new block (owned by the caller's cache), or NULL with *st set
 * when fetching the bytes faulted.
 */
struct cpu_block *cpu_decode_block(struct cpu *cpu, uint64_t pa,
                                   enum cpu_status *st)
{
    struct cpu_insn tmp[CPU_BLOCK_MAX_INSNS];
    uint8_t *page = cpu->ops->ram_page(cpu->opaque, pa & ~0xfffull);
    uint64_t rip = cpu->rip, cost = 0;
    unsigned n = 0, off = (unsigned)(pa & 0xfff);
    struct cpu_block *b;

    *st = CPU_OK;
    if (page == NULL) {
        return NULL;
    }
    while (n < CPU_BLOCK_MAX_INSNS) {
        unsigned avail = 4096 - off, c = 0;
        bool ends = false;
        ZyanStatus zs;

        zs = decode_one(cpu, page + off, avail > 15 ? 15 : avail, rip,
                        &tmp[n], &c, &ends);
        if (zs == ZYDIS_STATUS_NO_MORE_DATA) {
            uint8_t buf[15];
            unsigned got = 0;

            if (n > 0) {
                break; /* the straddling instruction starts a new block */
            }
            *st = cpu_fetch(cpu, rip, buf, 15, &got);
            if (got <= avail) {
                /* The next page could not be read: the fault is the
                 * instruction's, raised at its RIP. */
                return NULL;
            }
            zs = decode_one(cpu, buf, got, rip, &tmp[n], &c, &ends);
            if (zs == ZYDIS_STATUS_NO_MORE_DATA) {
                return NULL;
            }
            *st = CPU_OK;
            ends = true;
        }
        tmp[n].offset = (uint16_t)(rip - cpu->rip);
        cost += c;
        rip += tmp[n].len;
        off += tmp[n].len;
        n++;
        if (ends || off >= 4096) {
            break;
        }
    }
    /* One more record: the sentinel that ends the threaded chain. */
    b = g_malloc0(sizeof(*b) + (n + 1) * sizeof(struct cpu_insn));
    memcpy(b->insns, tmp, n * sizeof(struct cpu_insn));
    b->insns[n].fn = b->insns[n].step = cpu_op_block_end;
    b->ninsns = n;
    b->rip = cpu->rip;
    b->pa = pa;
    b->end_rip = rip;
    b->cost = cost;
    cpu->stats.blocks_decoded++;
    cpu->stats.insns_decoded += n;
    return b;
}
