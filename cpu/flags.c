/*
 * cpu/flags.c: lazy arithmetic flags.  Most instructions only record their
 * operands, result and operation (cpu_lf_set); a flag is computed when
 * something reads it (Jcc, SETcc, PUSHF, ADC...), as Bochs and QEMU do.
 * Flag formulas from SDM vol. 1 §3.4.3 and the instruction pages.
 */
#include "sim/common.h"

#include "cpu/cpu-internal.h"

bool cpu_flag_cf(const struct cpu *cpu)
{
    switch (cpu->lf_op) {
    case CPU_LF_ADD:
        return cpu->lf_res < cpu->lf_src1;
    case CPU_LF_ADC:
        return cpu->lf_res <= cpu->lf_src1;
    case CPU_LF_SUB:
        return cpu->lf_src1 < cpu->lf_src2;
    case CPU_LF_SBB:
        return cpu->lf_src1 <= cpu->lf_src2;
    case CPU_LF_LOGIC:
        return false;
    case CPU_LF_SHL:
    case CPU_LF_SHR:
    case CPU_LF_SAR:
        return cpu_shift_cf(cpu->lf_op, cpu->lf_size, cpu->lf_src1,
                            (unsigned)cpu->lf_src2);
    default: /* EAGER, INC, DEC */
        return cpu->rflags & CPU_FLAG_CF;
    }
}

bool cpu_flag_of(const struct cpu *cpu)
{
    uint64_t sign = cpu_sign_bit(cpu->lf_size);
    uint64_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res;

    switch (cpu->lf_op) {
    case CPU_LF_ADD:
    case CPU_LF_ADC:
    case CPU_LF_INC:
        return ((a ^ r) & (b ^ r) & sign) != 0;
    case CPU_LF_SUB:
    case CPU_LF_SBB:
    case CPU_LF_DEC:
        return ((a ^ b) & (a ^ r) & sign) != 0;
    case CPU_LF_LOGIC:
    case CPU_LF_SAR:
        return false;
    case CPU_LF_SHL:
        /* Defined for a count of 1: MSB(result) XOR CF (SDM 2B SAL). */
        return ((r & sign) != 0) != cpu_flag_cf(cpu);
    case CPU_LF_SHR:
        return (a & sign) != 0;
    default:
        return cpu->rflags & CPU_FLAG_OF;
    }
}

bool cpu_flag_af(const struct cpu *cpu)
{
    switch (cpu->lf_op) {
    case CPU_LF_EAGER:
        return cpu->rflags & CPU_FLAG_AF;
    case CPU_LF_LOGIC:
    case CPU_LF_SHL:
    case CPU_LF_SHR:
    case CPU_LF_SAR:
        return false; /* undefined after logic ops and shifts: clear */
    default:
        return ((cpu->lf_src1 ^ cpu->lf_src2 ^ cpu->lf_res) & 0x10) != 0;
    }
}

bool cpu_cond(const struct cpu *cpu, unsigned cc)
{
    bool r;

    /* After CMP/SUB the common conditions need no flag materialised. */
    if (cpu->lf_op == CPU_LF_SUB) {
        uint64_t a = cpu->lf_src1, b = cpu->lf_src2;
        unsigned size = cpu->lf_size;

        switch (cc >> 1) {
        case 1:
            return (a < b) ^ (cc & 1);
        case 2:
            return (cpu->lf_res == 0) ^ (cc & 1);
        case 3:
            return (a <= b) ^ (cc & 1);
        case 6:
            return (cpu_sext(a, size) < cpu_sext(b, size)) ^ (cc & 1);
        case 7:
            return (cpu_sext(a, size) <= cpu_sext(b, size)) ^ (cc & 1);
        default:
            break;
        }
    }
    switch (cc >> 1) {
    case 0:
        r = cpu_flag_of(cpu);
        break;
    case 1:
        r = cpu_flag_cf(cpu);
        break;
    case 2:
        r = cpu_flag_zf(cpu);
        break;
    case 3:
        r = cpu_flag_cf(cpu) || cpu_flag_zf(cpu);
        break;
    case 4:
        r = cpu_flag_sf(cpu);
        break;
    case 5:
        r = cpu_flag_pf(cpu);
        break;
    case 6:
        r = cpu_flag_sf(cpu) != cpu_flag_of(cpu);
        break;
    default:
        r = cpu_flag_zf(cpu) || cpu_flag_sf(cpu) != cpu_flag_of(cpu);
        break;
    }
    return r ^ (cc & 1);
}

uint64_t cpu_flags_get(const struct cpu *cpu)
{
    uint64_t f;

    if (cpu->lf_op == CPU_LF_EAGER) {
        return cpu->rflags | 2;
    }
    f = cpu->rflags & ~CPU_FLAGS_ARITH;
    f |= cpu_flag_cf(cpu) ? CPU_FLAG_CF : 0;
    f |= cpu_flag_pf(cpu) ? CPU_FLAG_PF : 0;
    f |= cpu_flag_af(cpu) ? CPU_FLAG_AF : 0;
    f |= cpu_flag_zf(cpu) ? CPU_FLAG_ZF : 0;
    f |= cpu_flag_sf(cpu) ? CPU_FLAG_SF : 0;
    f |= cpu_flag_of(cpu) ? CPU_FLAG_OF : 0;
    return f | 2;
}

void cpu_flags_set_arith(struct cpu *cpu, uint64_t arith)
{
    cpu->rflags = (cpu->rflags & ~CPU_FLAGS_ARITH) | (arith & CPU_FLAGS_ARITH);
    cpu->lf_op = CPU_LF_EAGER;
}
