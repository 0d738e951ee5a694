/*
 * tests/cpu/difftest.h: the pieces of the differential test of the
 * software CPU against the host processor, shared by its four files:
 *
 *   difftest-gen.c     generates one case from a seed: initial registers
 *                      and flags, data and stack pages, and a short
 *                      sequence of instructions, with what is left
 *                      architecturally undefined after it;
 *   difftest-native.c  runs cases on the host in a sandboxed child;
 *   difftest-sim.c     runs cases on struct cpu (cpu/cpu.h);
 *   difftest.c         drives them, compares, reports, and cross-checks
 *                      every instruction length between Zydis and
 *                      Capstone (CUnit suites "difftest" and
 *                      "cpu/decode-crosscheck").
 *
 * Both sides see the same linear addresses: the native child maps its
 * pages there, the simulated guest has identity page tables for them.
 */
#ifndef SIM_TESTS_CPU_DIFFTEST_H
#define SIM_TESTS_CPU_DIFFTEST_H

#include "sim/common.h"

/* Linear (and, in the simulator, guest-physical) layout of a case. */
#define DT_PAGE_SIZE 4096u
#define DT_CODE_ADDR 0x10000000ull  /* one page of code */
#define DT_DATA_ADDR 0x20000000ull  /* DT_DATA_SIZE of data */
#define DT_DATA_SIZE 0x2000u        /* two pages: accesses may straddle */
#define DT_STACK_ADDR 0x30000000ull /* one page of stack */
#define DT_GUARD_ADDR (DT_DATA_ADDR + DT_DATA_SIZE) /* never accessible */

/*
 * Generated code starts at DT_CODE_ADDR + DT_CODE_START and ends (falls
 * through or jumps) at the case's end address, where the native side has
 * a jump to its epilogue and the simulator a hlt.  The rest of the code
 * page is int3.
 */
#define DT_CODE_START 0x800u
#define DT_CODE_MAX 0x600u
#define DT_MAX_INSNS 128u
#define DT_MAX_PARTS 16u

/*
 * The first DT_SLOT_SIZE bytes of the data area belong to the generator:
 * it plants values there (targets of jmp/call through memory) and no
 * generated instruction writes them.
 */
#define DT_SLOT_SIZE 0x100u

/* Special values of dt_result.vector besides real exception vectors. */
#define DT_VEC_NONE (-1)        /* ran to the end address */
#define DT_VEC_NATIVE_DIED (-2) /* the native child died or hung */
#define DT_VEC_SIM_BUDGET (-3)  /* the simulator used up its budget */
#define DT_VEC_SIM_STOP (-4)    /* the simulator stopped otherwise */

/* Registers in ISA order (as enum cpu_gpr), RFLAGS and RIP. */
struct dt_regs {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t rip;
};

/* One generated instruction, for the decoder cross-check and listings. */
struct dt_insn {
    uint16_t off;   /* offset in dt_case.code */
    uint8_t len;    /* the length the generator encoded */
    uint16_t mnem;  /* the ZydisMnemonic meant, INVALID for #UD bytes */
    /*
     * RFLAGS bits undefined when this instruction starts (on every path
     * that reaches it): what to mask when the case faults here.
     */
    uint16_t undef;
};

/*
 * A top-level form of the case.  Cutting the code at code_end gives a
 * valid shorter case (every branch of the earlier forms lands at or
 * before it), which the driver uses to find the first failing form.
 */
struct dt_part {
    uint16_t code_end;
    uint16_t undef;     /* flags undefined at code_end */
    uint8_t insn_end;   /* instructions before code_end */
    uint8_t form;       /* index into the generator's form table */
};

/* Everything both sides need to run one case, and how to judge it. */
struct dt_case {
    uint64_t seed;
    struct dt_regs init;
    uint32_t code_len;
    uint32_t ninsns;
    uint8_t code[DT_CODE_MAX];
    struct dt_insn insn[DT_MAX_INSNS];
    struct dt_part part[DT_MAX_PARTS];
    uint32_t nparts;
    /*
     * RFLAGS bits whose final value the architecture leaves undefined
     * (see the policy in difftest-gen.c).  No register or memory result is
     * ever left undefined: the generator avoids or repairs those.
     */
    uint64_t flags_undef;
    uint8_t data[DT_DATA_SIZE];
    uint8_t stack[DT_PAGE_SIZE];
};

/* What one side left behind. */
struct dt_result {
    struct dt_regs regs;    /* at the end, or at the faulting insn */
    int vector;             /* exception vector or a DT_VEC_* value */
    int signo;              /* native: the signal seen (informative) */
    uint64_t cr2;           /* for #PF */
    uint8_t data[DT_DATA_SIZE];
    uint8_t stack[DT_PAGE_SIZE];
};

/* difftest-gen.c */

/* Host features the generator may use (the host must run what it makes). */
#define DT_FEAT_POPCNT (1u << 0)
#define DT_FEAT_LZCNT (1u << 1)  /* CPUID 80000001h ECX.ABM/LZCNT */
#define DT_FEAT_BMI1 (1u << 2)   /* TZCNT */
#define DT_FEAT_CX16 (1u << 3)   /* CMPXCHG16B */

/*
 * Generates the case for @seed (the same bytes on every run with the same
 * @features, which only remove forms the host lacks).
 */
void dt_gen_case(uint64_t seed, unsigned features,
                 struct dt_case *c /* out */);
unsigned dt_form_count(void);
const char *dt_form_name(unsigned form);
/* A bijective 64-bit mixer (splitmix64's finalizer). */
uint64_t dt_mix64(uint64_t x);

/* difftest-native.c: a long-lived sandboxed child running cases. */
struct dt_native;
struct dt_native *dt_native_new(unsigned batch_max);
void dt_native_free(struct dt_native *nat);
/* The batch slots, in memory shared with the child. */
struct dt_case *dt_native_cases(struct dt_native *nat);
const struct dt_result *dt_native_results(const struct dt_native *nat);
/* Starts the child on cases [0, @n); dt_native_wait() collects them. */
void dt_native_start(struct dt_native *nat, unsigned n);
/* Returns: how many times the child died (each marks one case). */
unsigned dt_native_wait(struct dt_native *nat);
/* Whether the child runs under seccomp strict mode. */
bool dt_native_sandboxed(const struct dt_native *nat);

/* difftest-sim.c: struct cpu over a stub guest memory. */
struct dt_sim;
struct dt_sim *dt_sim_new(void);
void dt_sim_free(struct dt_sim *sim);
void dt_sim_run(struct dt_sim *sim, const struct dt_case *c,
                struct dt_result *out /* out */);
/* Prints the mnemonics the CPU raised #UD for as unimplemented. */
void dt_sim_print_unsupported(const struct dt_sim *sim);

#endif /* SIM_TESTS_CPU_DIFFTEST_H */
