/*
 * cpu/handlers.h: the instruction handlers and handler selectors that the
 * exec-*.c files export to decode.c.  Operand convention for every
 * handler: operand 0 is in->r when a register or at cpu_ea() when in
 * memory (CPU_OPK_M0); operand 1 is in->rm when a register, at cpu_ea()
 * when in memory (CPU_OPK_M1), or in->imm (CPU_OPK_I1).
 */
#ifndef SIM_CPU_HANDLERS_H
#define SIM_CPU_HANDLERS_H

/* Forms of two-operand instructions with specialised handlers. */
enum cpu_form {
    CPU_FORM_RR, /* register, register */
    CPU_FORM_RM, /* register, memory */
    CPU_FORM_MR, /* memory, register */
    CPU_FORM_MI, /* memory, immediate */
    CPU_FORM_RI, /* register, immediate */
    /* The memory forms again, for base + displacement addresses (no
     * index, no FS/GS, 64-bit addressing): the commonest, and cheaper. */
    CPU_FORM_RM_BD,
    CPU_FORM_MR_BD,
    CPU_FORM_MI_BD,
    CPU_NFORMS
};

/* The general form of a base + displacement form. */
static inline enum cpu_form cpu_form_general(enum cpu_form f)
{
    return f >= CPU_FORM_RM_BD ? (enum cpu_form)(f - 4) : f;
}

/* The base + displacement form of a general memory form. */
static inline enum cpu_form cpu_form_bd(enum cpu_form f)
{
    return (enum cpu_form)(f + 4);
}

/* Binary ALU operations, in the order of their 0x00..0x38 opcodes. */
enum cpu_alu_op {
    CPU_ALU_ADD, CPU_ALU_OR, CPU_ALU_ADC, CPU_ALU_SBB, CPU_ALU_AND,
    CPU_ALU_SUB, CPU_ALU_XOR, CPU_ALU_CMP, CPU_ALU_TEST, CPU_NALU
};

/* Shift and rotate operations, in ModRM.reg order of 0xC0/0xD0..D3. */
enum cpu_shift_op {
    CPU_SH_ROL, CPU_SH_ROR, CPU_SH_RCL, CPU_SH_RCR, CPU_SH_SHL, CPU_SH_SHR,
    CPU_SH_SAL, CPU_SH_SAR, CPU_SH_SHLD, CPU_SH_SHRD
};

/* String instruction kinds and repeat prefixes. */
enum cpu_str_op { CPU_STR_MOVS, CPU_STR_STOS, CPU_STR_LODS, CPU_STR_CMPS,
                  CPU_STR_SCAS, CPU_STR_INS, CPU_STR_OUTS };
enum cpu_rep { CPU_REP_NONE, CPU_REP_REP, CPU_REP_REPE, CPU_REP_REPNE };

/* exec-alu.c */
/* Selectors return the threaded handler and set *step to the single one. */
cpu_insn_fn *cpu_sel_alu(enum cpu_alu_op op, enum cpu_form form,
                         unsigned size, cpu_insn_fn **step);
cpu_insn_fn *cpu_sel_mov(enum cpu_form form, unsigned size,
                         cpu_insn_fn **step);
/* Specialised forms, or NULL when there is none for these operands. */
cpu_insn_fn *cpu_sel_shift(enum cpu_shift_op op, unsigned size, bool by_cl,
                           cpu_insn_fn **step);
cpu_insn_fn *cpu_sel_ext(bool sx, unsigned src, unsigned dst,
                         enum cpu_form form, cpu_insn_fn **step);
/* Threaded INC/DEC of a 32/64-bit register (NULL for other sizes). */
cpu_insn_fn *cpu_sel_incdec(bool inc, unsigned size);
cpu_insn_fn cpu_op_inc, cpu_op_dec, cpu_op_neg, cpu_op_not;
cpu_insn_fn cpu_op_shift;      /* aux = cpu_shift_op */
cpu_insn_fn cpu_op_mul1, cpu_op_imul1, cpu_op_div, cpu_op_idiv;
cpu_insn_fn cpu_op_imul2, cpu_op_imul3;
cpu_insn_fn cpu_op_movzx, cpu_op_movsx; /* aux2 = source size */
cpu_insn_fn cpu_op_lea, cpu_op_xchg, cpu_op_xadd, cpu_op_cmpxchg;
cpu_insn_fn cpu_op_cmpxchg8b, cpu_op_cmpxchg16b;
cpu_insn_fn cpu_op_cbw, cpu_op_cwd, cpu_op_bswap;
cpu_insn_fn cpu_op_bt;         /* aux: 0 bt, 1 bts, 2 btr, 3 btc */
cpu_insn_fn cpu_op_bsf, cpu_op_bsr, cpu_op_tzcnt, cpu_op_lzcnt;
cpu_insn_fn cpu_op_popcnt;
cpu_insn_fn cpu_op_setcc, cpu_op_cmovcc; /* aux = condition */
cpu_insn_fn cpu_op_lahf, cpu_op_sahf;
cpu_insn_fn cpu_op_clc, cpu_op_stc, cpu_op_cmc, cpu_op_cld, cpu_op_std;
cpu_insn_fn cpu_op_nop;

/* exec-flow.c */
cpu_insn_fn cpu_op_jmp, cpu_op_jmp_ind, cpu_op_call;
cpu_insn_fn cpu_op_call_ind, cpu_op_ret, cpu_op_loop, cpu_op_jrcxz;
cpu_insn_fn cpu_op_push, cpu_op_pop, cpu_op_push_sreg, cpu_op_pop_sreg;
cpu_insn_fn cpu_op_pushf, cpu_op_popf, cpu_op_enter, cpu_op_leave;
cpu_insn_fn cpu_op_string;     /* aux = cpu_str_op, aux2 = cpu_rep */
cpu_insn_fn *cpu_sel_jcc(unsigned cc, cpu_insn_fn **step);

/* exec-system.c */
cpu_insn_fn cpu_op_in, cpu_op_out, cpu_op_cpuid, cpu_op_rdtsc;
cpu_insn_fn cpu_op_rdtscp, cpu_op_rdmsr, cpu_op_wrmsr;
cpu_insn_fn cpu_op_mov_from_cr, cpu_op_mov_to_cr;
cpu_insn_fn cpu_op_lgdt, cpu_op_lidt, cpu_op_sgdt, cpu_op_sidt;
cpu_insn_fn cpu_op_ltr, cpu_op_str, cpu_op_invlpg, cpu_op_cli, cpu_op_sti;
cpu_insn_fn cpu_op_hlt, cpu_op_syscall, cpu_op_sysret, cpu_op_swapgs;
cpu_insn_fn cpu_op_rdfsbase, cpu_op_wrfsbase; /* aux: 0 fs, 1 gs */
cpu_insn_fn cpu_op_int, cpu_op_int3, cpu_op_iretq, cpu_op_ud;
cpu_insn_fn cpu_op_mov_sreg_load, cpu_op_mov_sreg_store;
cpu_insn_fn cpu_op_priv_nop, cpu_op_clflush, cpu_op_unsupported;
cpu_insn_fn cpu_op_fpu_nm, cpu_op_pause, cpu_op_vmx_insn;

#endif /* SIM_CPU_HANDLERS_H */
