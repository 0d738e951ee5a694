/*
 * cpu/exec-flow.c: control flow and the stack: JMP/Jcc/CALL/RET/LOOP,
 * PUSH/POP (with immediates, memory, FS/GS, flags), ENTER/LEAVE, and the
 * string instructions with their repeat prefixes.  A branch ends its
 * block: handlers write cpu->rip only when control leaves the fall-through
 * path, which the run loop has already stored in cpu->rip.
 */
#include "sim/common.h"

#include "cpu/cpu-internal.h"
#include "mmu/mmu.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/*
 * Most iterations a string instruction runs in one VMM emulation of an
 * MMIO access (cpu_vmx_emulate_mmio runs a single instruction): the rest
 * runs after the guest re-executes it, exiting again.
 */
#define STRING_EMULATION_CHUNK 4096

static enum cpu_status jump_to(struct cpu *cpu, uint64_t target)
{
    if (SIM_UNLIKELY(!mmu_canonical(target))) {
        return cpu_raise_gp0(cpu);
    }
    cpu->rip = target;
    return CPU_OK;
}

enum cpu_status cpu_op_jmp(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu->rip = in->imm;
    return CPU_OK;
}

static enum cpu_status read_target(struct cpu *cpu, const struct cpu_insn *in,
                                   uint64_t *target)
{
    if (in->opk & CPU_OPK_M0) {
        return cpu_mem_read(cpu, cpu_ea(cpu, in), 8, target);
    }
    *target = cpu->gpr[in->r / 8];
    return CPU_OK;
}

enum cpu_status cpu_op_jmp_ind(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t t;
    enum cpu_status st = read_target(cpu, in, &t);

    return st == CPU_OK ? jump_to(cpu, t) : st;
}

/*
 * Conditions decided straight from the lazy state after the operations
 * compilers put before a Jcc (CMP/SUB, TEST/AND, ADD, INC/DEC); anything
 * else goes through cpu_cond().  (cc & 1) inverts the condition.
 */
static ALWAYS_INLINE bool cond_fast(const struct cpu *cpu, unsigned cc)
{
    uint64_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res;
    bool zf = r == 0;
    bool sf = (r >> (cpu->lf_size * 8 - 1)) & 1;

    switch (cpu->lf_op) {
    case CPU_LF_SUB:
        switch (cc >> 1) {
        case 1:
            return (a < b) ^ (cc & 1);
        case 2:
            return zf ^ (cc & 1);
        case 3:
            return (a <= b) ^ (cc & 1);
        case 4:
            return sf ^ (cc & 1);
        case 6:
            return (cpu_sext(a, cpu->lf_size) < cpu_sext(b, cpu->lf_size)) ^
                   (cc & 1);
        case 7:
            return (cpu_sext(a, cpu->lf_size) <= cpu_sext(b, cpu->lf_size)) ^
                   (cc & 1);
        default:
            break;
        }
        break;
    case CPU_LF_LOGIC: /* CF = OF = 0 */
        switch (cc >> 1) {
        case 0:
        case 1:
            return cc & 1;
        case 2:
        case 3:
            return zf ^ (cc & 1);
        case 4:
        case 6:
            return sf ^ (cc & 1);
        case 7:
            return (zf || sf) ^ (cc & 1);
        default:
            break;
        }
        break;
    case CPU_LF_ADD:
        if ((cc >> 1) == 1) {
            return (r < a) ^ (cc & 1);
        }
        /* fall through */
    case CPU_LF_INC:
    case CPU_LF_DEC:
        if ((cc >> 1) == 2) {
            return zf ^ (cc & 1);
        }
        if ((cc >> 1) == 4) {
            return sf ^ (cc & 1);
        }
        break;
    default:
        break;
    }
    return cpu_cond(cpu, cc);
}

#define JCC_FN(cc)                                                             \
    static ALWAYS_INLINE enum cpu_status jcc_##cc(struct cpu *cpu,             \
                                                  const struct cpu_insn *in)   \
    {                                                                          \
        if (cond_fast(cpu, cc)) {                                              \
            cpu->rip = in->imm;                                                \
        }                                                                      \
        return CPU_OK;                                                         \
    }                                                                          \
    CPU_THREADED(jcc_t_##cc, jcc_##cc)
JCC_FN(0) JCC_FN(1) JCC_FN(2) JCC_FN(3) JCC_FN(4) JCC_FN(5) JCC_FN(6)
JCC_FN(7) JCC_FN(8) JCC_FN(9) JCC_FN(10) JCC_FN(11) JCC_FN(12) JCC_FN(13)
JCC_FN(14) JCC_FN(15)

static cpu_insn_fn *const jcc_table[16] = {
    jcc_0, jcc_1, jcc_2,  jcc_3,  jcc_4,  jcc_5,  jcc_6,  jcc_7,
    jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15,
};

static cpu_insn_fn *const jcc_threaded[16] = {
    jcc_t_0, jcc_t_1, jcc_t_2,  jcc_t_3,  jcc_t_4,  jcc_t_5,  jcc_t_6,
    jcc_t_7, jcc_t_8, jcc_t_9, jcc_t_10, jcc_t_11, jcc_t_12, jcc_t_13,
    jcc_t_14, jcc_t_15,
};

cpu_insn_fn *cpu_sel_jcc(unsigned cc, cpu_insn_fn **step)
{
    *step = jcc_table[cc & 15];
    return jcc_threaded[cc & 15];
}

/* CALL rel32: imm = target, imm2 = return address. */
enum cpu_status cpu_op_call(struct cpu *cpu, const struct cpu_insn *in)
{
    enum cpu_status st = cpu_push(cpu, 8, in->imm2);

    if (SIM_LIKELY(st == CPU_OK)) {
        cpu->rip = in->imm;
    }
    return st;
}

enum cpu_status cpu_op_call_ind(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t t;
    enum cpu_status st = read_target(cpu, in, &t);

    if (st != CPU_OK) {
        return st;
    }
    if (!mmu_canonical(t)) {
        return cpu_raise_gp0(cpu);
    }
    st = cpu_push(cpu, 8, in->imm2);
    if (st == CPU_OK) {
        cpu->rip = t;
    }
    return st;
}

/* RET [imm16]: imm = bytes to release after the return address. */
enum cpu_status cpu_op_ret(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t t;
    enum cpu_status st = cpu_peek(cpu, 8, 0, &t);

    if (SIM_UNLIKELY(st != CPU_OK)) {
        return st;
    }
    if (SIM_UNLIKELY(!mmu_canonical(t))) {
        return cpu_raise_gp0(cpu);
    }
    cpu->gpr[CPU_RSP] += 8 + in->imm;
    cpu->rip = t;
    return CPU_OK;
}

/* LOOP/LOOPE/LOOPNE (aux: 0, 1, 2): count in RCX or ECX (67h). */
enum cpu_status cpu_op_loop(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t c;
    bool take;

    if (in->amask == ~0ull) {
        c = --cpu->gpr[CPU_RCX];
    } else {
        c = (uint32_t)(cpu->gpr[CPU_RCX] - 1);
        cpu->gpr[CPU_RCX] = c;
    }
    take = c != 0;
    if (in->aux == 1) {
        take = take && cpu_flag_zf(cpu);
    } else if (in->aux == 2) {
        take = take && !cpu_flag_zf(cpu);
    }
    if (take) {
        cpu->rip = in->imm;
    }
    return CPU_OK;
}

enum cpu_status cpu_op_jrcxz(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t c = cpu->gpr[CPU_RCX];

    if (in->amask != ~0ull) {
        c &= 0xffffffff;
    }
    if (c == 0) {
        cpu->rip = in->imm;
    }
    return CPU_OK;
}

/* ---- Stack -------------------------------------------------------------- */

/* PUSH r/m/imm: opsize 8 or 2; an immediate is already sign-extended. */
enum cpu_status cpu_op_push(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t v;
    enum cpu_status st;

    if (in->opk & CPU_OPK_I1) {
        v = in->imm;
    } else if (in->opk & CPU_OPK_M0) {
        st = cpu_mem_read(cpu, cpu_ea(cpu, in), size, &v);
        if (st != CPU_OK) {
            return st;
        }
    } else {
        v = cpu_reg_read(cpu, in->r, size);
    }
    return cpu_push(cpu, size, v);
}

/*
 * POP r/m.  A memory destination's address is computed after RSP is
 * incremented (SDM vol. 2B POP), and a fault leaves RSP unchanged.
 */
enum cpu_status cpu_op_pop(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    uint64_t v, old_rsp = cpu->gpr[CPU_RSP];
    enum cpu_status st = cpu_peek(cpu, size, 0, &v);

    if (st != CPU_OK) {
        return st;
    }
    cpu->gpr[CPU_RSP] = old_rsp + size;
    if (in->opk & CPU_OPK_M0) {
        st = cpu_mem_write(cpu, cpu_ea(cpu, in), size, v);
        if (st != CPU_OK) {
            cpu->gpr[CPU_RSP] = old_rsp;
        }
        return st;
    }
    cpu_reg_write(cpu, in->r, size, v);
    return CPU_OK;
}

/* PUSH FS/GS (aux = segment register number). */
enum cpu_status cpu_op_push_sreg(struct cpu *cpu, const struct cpu_insn *in)
{
    return cpu_push(cpu, in->opsize, cpu->seg[in->aux].sel);
}

enum cpu_status cpu_op_pop_sreg(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st = cpu_peek(cpu, in->opsize, 0, &v);

    if (st == CPU_OK) {
        st = cpu_load_sreg(cpu, in->aux, (uint16_t)v);
    }
    if (st == CPU_OK) {
        cpu->gpr[CPU_RSP] += in->opsize;
    }
    return st;
}

/* PUSHFQ: RF and VM are pushed clear (SDM vol. 2B PUSHF). */
enum cpu_status cpu_op_pushf(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t f = cpu_flags_get(cpu) & ~(CPU_FLAG_RF | (1ull << 17));

    return cpu_push(cpu, in->opsize, f);
}

/*
 * POPFQ: which bits change depends on CPL and IOPL (SDM vol. 2B POPF):
 * IOPL only at CPL 0, IF only when CPL <= IOPL; RF and VM are cleared,
 * VIP/VIF kept.  A 16-bit POPF changes only the low 16 bits.
 */
enum cpu_status cpu_op_popf(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v, old = cpu_flags_get(cpu), mask;
    unsigned iopl = (unsigned)((old & CPU_FLAG_IOPL) >> 12);
    enum cpu_status st = cpu_peek(cpu, in->opsize, 0, &v);

    if (st != CPU_OK) {
        return st;
    }
    mask = CPU_FLAGS_ARITH | CPU_FLAG_TF | CPU_FLAG_DF | CPU_FLAG_NT |
           CPU_FLAG_AC | CPU_FLAG_ID;
    if (cpu->cpl == 0) {
        mask |= CPU_FLAG_IOPL;
    }
    if (cpu->cpl <= iopl) {
        mask |= CPU_FLAG_IF;
    }
    if (in->opsize == 2) {
        mask &= 0xffff;
    }
    v = ((old & ~mask) | (v & mask)) & ~CPU_FLAG_RF;
    cpu->rflags = (v & ~CPU_FLAGS_ARITH) | 2;
    cpu_flags_set_arith(cpu, v);
    cpu->gpr[CPU_RSP] += in->opsize;
    cpu->attention = 1; /* IF may have been set: interrupt window */
    return CPU_OK;
}

/* ENTER imm16, imm8 with 64-bit operand size (SDM vol. 2A ENTER). */
enum cpu_status cpu_op_enter(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned level = (unsigned)in->imm2 & 31;
    uint64_t old_rsp = cpu->gpr[CPU_RSP], old_rbp = cpu->gpr[CPU_RBP];
    uint64_t frame, rbp = old_rbp, v;
    enum cpu_status st;

    if (in->opsize != 8) {
        return cpu_op_unsupported(cpu, in);
    }
    st = cpu_push(cpu, 8, old_rbp);
    frame = cpu->gpr[CPU_RSP];
    for (unsigned i = 1; st == CPU_OK && i < level; i++) {
        rbp -= 8;
        st = cpu_mem_read(cpu, rbp, 8, &v);
        if (st == CPU_OK) {
            st = cpu_push(cpu, 8, v);
        }
    }
    if (st == CPU_OK && level > 0) {
        st = cpu_push(cpu, 8, frame);
    }
    if (st == CPU_OK) {
        st = cpu_mem_probe_write(cpu, cpu->gpr[CPU_RSP] - in->imm, 1);
    }
    if (st != CPU_OK) {
        cpu->gpr[CPU_RSP] = old_rsp;
        return st;
    }
    cpu->gpr[CPU_RBP] = frame;
    cpu->gpr[CPU_RSP] -= in->imm;
    return CPU_OK;
}

enum cpu_status cpu_op_leave(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st;

    if (!cpu_stack_canonical(cpu->gpr[CPU_RBP], in->opsize)) {
        return cpu_raise(cpu, CPU_EXC_SS, 0);
    }
    st = cpu_mem_read(cpu, cpu->gpr[CPU_RBP], in->opsize, &v);
    if (st != CPU_OK) {
        return st;
    }
    cpu->gpr[CPU_RSP] = cpu->gpr[CPU_RBP] + in->opsize;
    cpu_reg_write(cpu, CPU_RBP * 8, in->opsize, v);
    return CPU_OK;
}

/* ---- String instructions ------------------------------------------------ */

static ALWAYS_INLINE uint64_t addr_reg(const struct cpu *cpu,
                                       const struct cpu_insn *in, unsigned r)
{
    uint64_t v = cpu->gpr[r];

    return v & in->amask;
}

static ALWAYS_INLINE void addr_reg_set(struct cpu *cpu,
                                       const struct cpu_insn *in, unsigned r,
                                       uint64_t v)
{
    cpu->gpr[r] = v & in->amask;
}

/*
 * A repeated string instruction stops between iterations, with RIP still
 * at it and rCX, rSI, rDI showing the progress, when something needs the
 * run loop: an interrupt or a stop request (attention), the cycle deadline
 * of the next event, or the end of the instruction budget.  Each iteration
 * counts as one instruction toward icount, budgets and limits, so no
 * single instruction can run unbounded work (SDM 1 §7.3.9.1: a REP string
 * is interruptible between iterations).
 */
static ALWAYS_INLINE bool string_must_yield(const struct cpu *cpu,
                                            uint64_t n)
{
    if (cpu->attention ||
        cpu->cycles + n * cpu->costs[CPU_COST_STRING] >= cpu->deadline) {
        return true;
    }
    return cpu->mmio_emulation ? n >= STRING_EMULATION_CHUNK
                               : cpu->icount + n >= cpu->run_limit;
}

/*
 * MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS, aux = enum cpu_str_op, aux2 = enum
 * cpu_rep.  The source (DS:rSI) honours segment overrides (in->seg); the
 * destination is always ES:rDI (base 0 in 64-bit mode).  Registers are
 * updated per iteration, so a fault mid-way restarts correctly, and a long
 * repeat yields with CPU_RETRY (string_must_yield).  Every iteration done
 * is charged and counted, whichever way the handler returns: a REP of n
 * iterations retires as n instructions (one when rCX starts at 0).
 */
enum cpu_status cpu_op_string(struct cpu *cpu, const struct cpu_insn *in)
{
    unsigned size = in->opsize;
    enum cpu_str_op op = in->aux;
    enum cpu_rep rep = in->aux2;
    int64_t step = (cpu->rflags & CPU_FLAG_DF) ? -(int64_t)size : size;
    uint64_t segbase = cpu->segbase[in->seg];
    uint64_t n = 0;
    enum cpu_status st = CPU_OK;
    bool done = false;

    if (op == CPU_STR_INS || op == CPU_STR_OUTS) {
        st = cpu_io_check(cpu, (uint16_t)cpu->gpr[CPU_RDX], size);
        if (st == CPU_OK && cpu->nonroot) {
            st = cpu_vmx_io(cpu, in, (uint16_t)cpu->gpr[CPU_RDX], size,
                            op == CPU_STR_INS, true);
        }
        if (st != CPU_OK) {
            return st;
        }
    }
    while (!done) {
        uint64_t si = addr_reg(cpu, in, CPU_RSI);
        uint64_t di = addr_reg(cpu, in, CPU_RDI);
        uint64_t a, b;
        uint16_t port = (uint16_t)cpu->gpr[CPU_RDX];
        uint32_t port_value = 0;

        if (rep != CPU_REP_NONE) {
            if (addr_reg(cpu, in, CPU_RCX) == 0) {
                break;
            }
            if (n > 0 && SIM_UNLIKELY(string_must_yield(cpu, n))) {
                st = CPU_RETRY;
                break;
            }
        }
        switch (op) {
        case CPU_STR_MOVS:
            st = cpu_mem_read(cpu, si + segbase, size, &a);
            if (st == CPU_OK) {
                st = cpu_mem_write(cpu, di, size, a);
            }
            if (st != CPU_OK) {
                goto out;
            }
            addr_reg_set(cpu, in, CPU_RSI, si + step);
            addr_reg_set(cpu, in, CPU_RDI, di + step);
            break;
        case CPU_STR_STOS:
            st = cpu_mem_write(cpu, di, size, cpu->gpr[CPU_RAX]);
            if (st != CPU_OK) {
                goto out;
            }
            addr_reg_set(cpu, in, CPU_RDI, di + step);
            break;
        case CPU_STR_LODS:
            st = cpu_mem_read(cpu, si + segbase, size, &a);
            if (st != CPU_OK) {
                goto out;
            }
            cpu_reg_write(cpu, CPU_RAX * 8, size, a);
            addr_reg_set(cpu, in, CPU_RSI, si + step);
            break;
        case CPU_STR_CMPS:
            st = cpu_mem_read(cpu, si + segbase, size, &a);
            if (st == CPU_OK) {
                st = cpu_mem_read(cpu, di, size, &b);
            }
            if (st != CPU_OK) {
                goto out;
            }
            cpu_lf_set(cpu, CPU_LF_SUB, size, a, b,
                       (a - b) & cpu_size_mask(size));
            addr_reg_set(cpu, in, CPU_RSI, si + step);
            addr_reg_set(cpu, in, CPU_RDI, di + step);
            break;
        case CPU_STR_SCAS:
            a = cpu_reg_read(cpu, CPU_RAX * 8, size);
            st = cpu_mem_read(cpu, di, size, &b);
            if (st != CPU_OK) {
                goto out;
            }
            cpu_lf_set(cpu, CPU_LF_SUB, size, a, b,
                       (a - b) & cpu_size_mask(size));
            addr_reg_set(cpu, in, CPU_RDI, di + step);
            break;
        case CPU_STR_INS:
            /* Probe the destination first: a fault must not lose the
             * value the port returned. */
            st = cpu_mem_probe_write(cpu, di, size);
            if (st != CPU_OK) {
                goto out;
            }
            st = cpu_port_in(cpu, port, size, &port_value);
            a = port_value;
            if (st != CPU_OK && cpu->fatal) {
                goto out;
            }
            cpu->cycles += cpu->costs[CPU_COST_IO];
            cpu_mem_write(cpu, di, size, a);
            addr_reg_set(cpu, in, CPU_RDI, di + step);
            break;
        default: /* CPU_STR_OUTS */
            st = cpu_mem_read(cpu, si + segbase, size, &a);
            if (st != CPU_OK) {
                goto out;
            }
            cpu->cycles += cpu->costs[CPU_COST_IO];
            st = cpu_port_out(cpu, port, size, (uint32_t)a);
            if (st != CPU_OK && cpu->fatal) {
                goto out;
            }
            addr_reg_set(cpu, in, CPU_RSI, si + step);
            break;
        }
        n++;
        if (rep == CPU_REP_NONE) {
            break;
        }
        addr_reg_set(cpu, in, CPU_RCX, addr_reg(cpu, in, CPU_RCX) - 1);
        if (op == CPU_STR_CMPS || op == CPU_STR_SCAS) {
            bool zf = cpu_flag_zf(cpu);

            done = (rep == CPU_REP_REPE && !zf) ||
                   (rep == CPU_REP_REPNE && zf);
        }
        /* OUTS to the exit port (CPU_STOP): finish this iteration, then
         * stop. */
        done = done || st == CPU_STOP;
    }
out:
    cpu->cycles += n * cpu->costs[CPU_COST_STRING];
    /*
     * The run loop counts the instruction once when it completes; the
     * iterations beyond that one, or all of them when it stops early
     * (fault, exit, yield), are counted here.
     */
    if (st == CPU_OK || st == CPU_STOP) {
        cpu->icount += n > 0 ? n - 1 : 0;
    } else {
        cpu->icount += n;
    }
    return st;
}
