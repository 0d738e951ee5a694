/*
 * mmioforms.c: the memory-operand instruction forms an instruction
 * emulator has to get right when the operand is device memory, each run on
 * the register file (MMIO) and on ordinary RAM, which must agree.
 *
 * In the guest the register file is the machine's 4 KiB memory-like MMIO
 * device at guest-physical 0x400000000, mapped here at the same virtual
 * address (under hvm every access to it is an EPT violation the VMM
 * completes by emulating the instruction).  In the host build it is a
 * 4 KiB static buffer, so the host CPU computes the reference output.
 *
 * Each form is inline assembly with the exact instruction, run for four
 * value sets (two of edge values, one random, one with the register equal
 * to the memory value), twice each: on a 16-byte slot of the register file
 * ("mmio") and on the same slot of a RAM page ("ram ").  Before each run
 * the slot is filled with a pattern holding the memory value, the
 * arithmetic flags are set from the value set, and afterwards the line
 * gives the slot's bytes, the three registers a, b, c and the flags
 * (CF PF AF ZF SF OF, without those the SDM leaves undefined for the
 * form).  A pair that differs is followed by a MISMATCH line.  Forms:
 *   mov loads and stores of 1/2/4/8 bytes, stores of immediates, %ah/%bh
 *   and %r9b, SIB addressing; movzx/movsx 8->16/32/64, 16->32/64, movsxd;
 *   add or adc sbb and sub xor with register and immediate sources at
 *   1/2/4/8 bytes (adc/sbb with CF clear and set) and loads into
 *   registers; inc dec not neg; lock add or and xor sub adc sbb inc dec
 *   not neg xadd cmpxchg (success, failure) bts btr btc; test and cmp
 *   against registers and immediates; xchg; bt bts btr btc with
 *   immediate and register bit offsets; shl shr sar rol ror by 1, by an
 *   immediate and by %cl; setcc; cmovcc; push and pop of a memory
 *   operand; accesses straddling two 8-byte registers; rep movsb/movsq
 *   from and to the register file, rep stosb/stosd/stosq into it, repe
 *   cmpsb between it and RAM.
 * Then port I/O: a line through `rep outsb` to port 0xE9 (the host build
 * prints it with rt_puts), and round trips through the POST-code port 0x80
 * (in the host build, a variable): out/in at 8, 16 and 32 bits with
 * immediate and %dx port numbers, `rep insb` from it (every byte is the
 * last value written) and `rep outsb` to it.  Exits 0 when all agree.
 */
#include "rt.h"

#define PAGE 4096u
#define N_SETS 4
/* Bytes of a form's slot unless it says otherwise, and the most any says. */
#define SLOT 16u
#define SPAN_MAX 80u

/* The arithmetic flags of RFLAGS (SDM 1 §3.4.3.1). */
#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_ALL (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
/*
 * What each form defines (SDM 2, the instructions' "Flags Affected"); a
 * flag the instruction leaves unaffected is defined (it must keep the
 * value set before), one it leaves undefined is not printed.
 * and/or/xor/test: AF undefined.
 */
#define FL_LOGIC (FL_ALL & ~FL_AF)
/* shl/shr/sar: AF undefined; OF too when the count is not 1. */
#define FL_SHIFT1 (FL_ALL & ~FL_AF)
#define FL_SHIFTN (FL_ALL & ~FL_AF & ~FL_OF)
/* rol/ror: CF, and OF for a count of 1; the others unaffected. */
#define FL_ROT1 FL_ALL
#define FL_ROTN (FL_ALL & ~FL_OF)
/*
 * bt/bts/btr/btc: CF; OF SF AF PF undefined.  The SDM leaves ZF
 * unaffected but AMD's APM calls it undefined, and the host CPU that
 * computes the reference may be either.
 */
#define FL_BT FL_CF

/* The registers and flags of one run of a form. */
struct form_io {
    uint8_t *loc;     /* the memory operand: register file or RAM */
    uint8_t *ram;     /* a RAM buffer: the other side of string forms */
    uint64_t m;       /* the value the slot holds at loc before the form */
    uint64_t a, b, c; /* registers: inputs, then outputs */
    uint64_t fin;     /* arithmetic flags set before the form */
    uint64_t fout;    /* RFLAGS after it */
};

typedef void (*form_fn)(struct form_io *io);

/*
 * Around every form: load the arithmetic flags from fin (keeping the
 * others), and save RFLAGS after it.  The stack pointer first moves below
 * the host build's 128-byte red zone, which push/pushfq would overwrite.
 */
#define FLAGS_IN                                                               \
    "lea -128(%%rsp), %%rsp\n\t"                                               \
    "pushfq\n\t"                                                               \
    "andq $~0x8d5, (%%rsp)\n\t"                                                \
    "orq %[fin], (%%rsp)\n\t"                                                  \
    "popfq\n\t"
#define FLAGS_OUT                                                              \
    "\n\t"                                                                     \
    "pushfq\n\t"                                                               \
    "popq %[f]\n\t"                                                            \
    "lea 128(%%rsp), %%rsp"

/*
 * A form: prep (a statement on a, b, c, io) shapes the inputs, then the
 * instructions run with the operand at (%[p]) and registers %[a] %[b]
 * %[c] under the constraints ca cb cc.
 */
#define FORM_WITH(fn, ca, cb, cc, prep, insns)                                 \
    static void fn(struct form_io *io)                                         \
    {                                                                          \
        uint64_t a = io->a, b = io->b, c = io->c, f;                           \
                                                                               \
        prep;                                                                  \
        __asm__ volatile(FLAGS_IN insns FLAGS_OUT                              \
                         : [a] ca(a), [b] cb(b), [c] cc(c), [f] "=&r"(f)       \
                         : [p] "r"(io->loc), [fin] "r"(io->fin)                \
                         : "cc", "memory", "r9");                              \
        io->a = a;                                                             \
        io->b = b;                                                             \
        io->c = c;                                                             \
        io->fout = f;                                                          \
    }
/* Registers chosen by the compiler (so REX ones too). */
#define FORM(fn, insns) FORM_WITH(fn, "+r", "+r", "+r", (void)0, insns)
#define FORM_P(fn, prep, insns) FORM_WITH(fn, "+r", "+r", "+r", prep, insns)
/* a in %rax, b in %rbx, c in %rcx: for %ah, %bh, the accumulator, %cl. */
#define FORM_X(fn, prep, insns) FORM_WITH(fn, "+a", "+b", "+c", prep, insns)

/* ------------------------------------------------------------------ */
/* mov, movzx, movsx                                                    */
/* ------------------------------------------------------------------ */

FORM(mov1_ld, "movb (%[p]), %b[a]")
FORM_X(mov1_ld_ah, (void)0, "movb (%[p]), %h[a]")
FORM_X(mov1_ld_bh, (void)0, "movb (%[p]), %h[b]")
FORM(mov1_ld_r9b, "mov %[a], %%r9\n\t"
                  "movb (%[p]), %%r9b\n\t"
                  "mov %%r9, %[a]")
FORM(mov2_ld, "movw (%[p]), %w[a]")
FORM(mov4_ld, "movl (%[p]), %k[a]")
FORM(mov8_ld, "movq (%[p]), %[a]")
FORM_P(mov4_ld_sib, c = 2, "movl -8(%[p],%[c],4), %k[a]")
FORM(mov1_st, "movb %b[a], (%[p])")
FORM_X(mov1_st_ah, (void)0, "movb %h[a], (%[p])")
FORM_X(mov1_st_bh, (void)0, "movb %h[b], (%[p])")
FORM(mov1_st_r9b, "mov %[a], %%r9\n\t"
                  "movb %%r9b, (%[p])")
FORM(mov2_st, "movw %w[a], (%[p])")
FORM(mov4_st, "movl %k[a], (%[p])")
FORM(mov8_st, "movq %[a], (%[p])")
FORM_P(mov8_st_sib, c = (uint64_t)-32, "movq %[a], 0x100(%[p],%[c],8)")
FORM(mov1_sti, "movb $0xa5, (%[p])")
FORM(mov2_sti, "movw $0x8001, (%[p])")
FORM(mov4_sti, "movl $0xdeadbeef, (%[p])")
FORM(mov8_sti, "movq $-0x21524111, (%[p])")
FORM(mov8_sti_d8, "movq $0x7fffffff, 8(%[p])")

FORM(movzx8_16, "movzbw (%[p]), %w[a]")
FORM(movzx8_32, "movzbl (%[p]), %k[a]")
FORM(movzx8_64, "movzbq (%[p]), %[a]")
FORM(movzx16_32, "movzwl (%[p]), %k[a]")
FORM(movzx16_64, "movzwq (%[p]), %[a]")
FORM(movsx8_16, "movsbw (%[p]), %w[a]")
FORM(movsx8_32, "movsbl (%[p]), %k[a]")
FORM(movsx8_64, "movsbq (%[p]), %[a]")
FORM(movsx16_32, "movswl (%[p]), %k[a]")
FORM(movsx16_64, "movswq (%[p]), %[a]")
FORM(movsxd, "movslq (%[p]), %[a]")

/* ------------------------------------------------------------------ */
/* Read-modify-write ALU                                                */
/* ------------------------------------------------------------------ */

/*
 * OP reg, mem and OP $imm, mem at 1, 2, 4 and 8 bytes; pre runs first
 * (clc or stc for adc and sbb).  The immediates give both the
 * sign-extended imm8 and the full-width encodings.
 */
#define ALU_FORMS(op, sfx, pre, i1, i2, i4, i8)                                \
    FORM(op##1_r##sfx, pre #op "b %b[a], (%[p])")                              \
    FORM(op##2_r##sfx, pre #op "w %w[a], (%[p])")                              \
    FORM(op##4_r##sfx, pre #op "l %k[a], (%[p])")                              \
    FORM(op##8_r##sfx, pre #op "q %[a], (%[p])")                               \
    FORM(op##1_i##sfx, pre #op "b $" #i1 ", (%[p])")                           \
    FORM(op##2_i##sfx, pre #op "w $" #i2 ", (%[p])")                           \
    FORM(op##4_i##sfx, pre #op "l $" #i4 ", (%[p])")                           \
    FORM(op##8_i##sfx, pre #op "q $" #i8 ", (%[p])")

ALU_FORMS(add, , "", 0x7f, 0x7fff, -1, 0x12345678)
ALU_FORMS(or, , "", 0x81, -128, 0x80000000, -0x80000000)
ALU_FORMS(adc, _c0, "clc\n\t", 0xff, 1, 0x7fffffff, -1)
ALU_FORMS(adc, _c1, "stc\n\t", 0xff, 1, 0x7fffffff, -1)
ALU_FORMS(sbb, _c0, "clc\n\t", 1, 0x8000, -0x7f, 0x7f)
ALU_FORMS(sbb, _c1, "stc\n\t", 1, 0x8000, -0x7f, 0x7f)
ALU_FORMS(and, , "", 0x5a, 0xff00, -16, 0x7ffffff0)
ALU_FORMS(sub, , "", 0x80, -1, 0x12345678, -0x12345678)
ALU_FORMS(xor, , "", 0xff, 0x55aa, -0x55555556, 1)

/* The memory operand as the source, a register as the destination. */
FORM(add8_ld, "addq (%[p]), %[a]")
FORM(sub4_ld, "subl (%[p]), %k[a]")
FORM(and2_ld, "andw (%[p]), %w[a]")
FORM(or1_ld, "orb (%[p]), %b[a]")
FORM(xor8_ld, "xorq (%[p]), %[a]")
FORM(adc4_ld_c1, "stc\n\tadcl (%[p]), %k[a]")
FORM(sbb8_ld_c1, "stc\n\tsbbq (%[p]), %[a]")

#define UNARY_FORMS(op)                                                        \
    FORM(op##1, #op "b (%[p])")                                                \
    FORM(op##2, #op "w (%[p])")                                                \
    FORM(op##4, #op "l (%[p])")                                                \
    FORM(op##8, #op "q (%[p])")

/* clang-format reads `not` as the C++ operator. */
/* clang-format off */
UNARY_FORMS(inc)
UNARY_FORMS(dec)
UNARY_FORMS(not)
UNARY_FORMS(neg)
/* clang-format on */

/* ------------------------------------------------------------------ */
/* lock                                                                 */
/* ------------------------------------------------------------------ */

FORM(lock_add1_r, "lock addb %b[a], (%[p])")
FORM(lock_add2_i, "lock addw $0x100, (%[p])")
FORM(lock_add4_r, "lock addl %k[a], (%[p])")
FORM(lock_add8_i, "lock addq $-3, (%[p])")
FORM(lock_or1_i, "lock orb $0x81, (%[p])")
FORM(lock_or4_i, "lock orl $0x80000001, (%[p])")
FORM(lock_or8_r, "lock orq %[a], (%[p])")
FORM(lock_and2_r, "lock andw %w[a], (%[p])")
FORM(lock_xor8_i, "lock xorq $-1, (%[p])")
FORM(lock_sub4_i, "lock subl $0x10000, (%[p])")
FORM(lock_adc8_r_c1, "stc\n\tlock adcq %[a], (%[p])")
FORM(lock_sbb1_r_c1, "stc\n\tlock sbbb %b[a], (%[p])")
FORM(lock_inc4, "lock incl (%[p])")
FORM(lock_dec8, "lock decq (%[p])")
FORM(lock_not2, "lock notw (%[p])")
FORM(lock_neg1, "lock negb (%[p])")
FORM(lock_xadd1, "lock xaddb %b[a], (%[p])")
FORM(lock_xadd2, "lock xaddw %w[a], (%[p])")
FORM(lock_xadd4, "lock xaddl %k[a], (%[p])")
FORM(lock_xadd8, "lock xaddq %[a], (%[p])")
FORM(xadd8, "xaddq %[a], (%[p])")
/* cmpxchg: the accumulator a equal to the memory value, or not. */
FORM_X(lock_cmpxchg1_ok, a = io->m, "lock cmpxchgb %b[b], (%[p])")
FORM_X(lock_cmpxchg2_ok, a = io->m, "lock cmpxchgw %w[b], (%[p])")
FORM_X(lock_cmpxchg4_ok, a = io->m, "lock cmpxchgl %k[b], (%[p])")
FORM_X(lock_cmpxchg8_ok, a = io->m, "lock cmpxchgq %[b], (%[p])")
FORM_X(lock_cmpxchg1_fail, a = io->m ^ 0x10, "lock cmpxchgb %b[b], (%[p])")
FORM_X(lock_cmpxchg2_fail, a = io->m ^ 0x10, "lock cmpxchgw %w[b], (%[p])")
FORM_X(lock_cmpxchg4_fail, a = io->m ^ 0x10, "lock cmpxchgl %k[b], (%[p])")
FORM_X(lock_cmpxchg8_fail, a = io->m ^ 0x10, "lock cmpxchgq %[b], (%[p])")
FORM_X(cmpxchg4_ok, a = io->m, "cmpxchgl %k[b], (%[p])")
FORM_X(cmpxchg8_fail, a = io->m ^ 0x10, "cmpxchgq %[b], (%[p])")
FORM_P(lock_bts4_r, a &= 31, "lock btsl %k[a], (%[p])")
FORM(lock_btr8_i, "lock btrq $62, (%[p])")
FORM_P(lock_btc2_r, a &= 15, "lock btcw %w[a], (%[p])")

/* ------------------------------------------------------------------ */
/* test, cmp, xchg                                                      */
/* ------------------------------------------------------------------ */

FORM(test1_r, "testb %b[a], (%[p])")
FORM(test2_r, "testw %w[a], (%[p])")
FORM(test4_r, "testl %k[a], (%[p])")
FORM(test8_r, "testq %[a], (%[p])")
FORM(test1_i, "testb $0x81, (%[p])")
FORM(test2_i, "testw $0x8000, (%[p])")
FORM(test4_i, "testl $0xffff0000, (%[p])")
FORM(test8_i, "testq $-0x100, (%[p])")
FORM(cmp1_r, "cmpb %b[a], (%[p])")
FORM(cmp2_r, "cmpw %w[a], (%[p])")
FORM(cmp4_r, "cmpl %k[a], (%[p])")
FORM(cmp8_r, "cmpq %[a], (%[p])")
FORM(cmp1_ld, "cmpb (%[p]), %b[a]")
FORM(cmp4_ld, "cmpl (%[p]), %k[a]")
FORM(cmp8_ld, "cmpq (%[p]), %[a]")
FORM(cmp1_i, "cmpb $0x80, (%[p])")
FORM(cmp2_i, "cmpw $-1, (%[p])")
FORM(cmp4_i, "cmpl $0x7fffffff, (%[p])")
FORM(cmp8_i, "cmpq $-0x80000000, (%[p])")
FORM(cmp8_i8, "cmpq $5, (%[p])")

FORM(xchg1, "xchgb %b[a], (%[p])")
FORM(xchg2, "xchgw %w[a], (%[p])")
FORM(xchg4, "xchgl (%[p]), %k[a]")
FORM(xchg8, "xchgq %[a], (%[p])")

/* ------------------------------------------------------------------ */
/* Bit tests: immediate offsets, register offsets within the operand    */
/* ------------------------------------------------------------------ */

#define BT_FORMS(op, i2, i4, i8)                                               \
    FORM(op##2_i, #op "w $" #i2 ", (%[p])")                                    \
    FORM(op##4_i, #op "l $" #i4 ", (%[p])")                                    \
    FORM(op##8_i, #op "q $" #i8 ", (%[p])")                                    \
    FORM_P(op##2_r, a &= 15, #op "w %w[a], (%[p])")                            \
    FORM_P(op##4_r, a &= 31, #op "l %k[a], (%[p])")                            \
    FORM_P(op##8_r, a &= 63, #op "q %[a], (%[p])")

BT_FORMS(bt, 13, 27, 45)
BT_FORMS(bts, 0, 31, 63)
BT_FORMS(btr, 15, 7, 32)
BT_FORMS(btc, 8, 16, 1)
/* An immediate beyond the operand: taken modulo 16, so bit 1. */
FORM(bts2_i17, "btsw $17, (%[p])")

/* ------------------------------------------------------------------ */
/* Shifts and rotates                                                   */
/* ------------------------------------------------------------------ */

#define SHIFT_FORMS(op, n1, n2, n4, n8)                                        \
    FORM(op##1_1, #op "b (%[p])")                                              \
    FORM(op##2_1, #op "w (%[p])")                                              \
    FORM(op##4_1, #op "l (%[p])")                                              \
    FORM(op##8_1, #op "q (%[p])")                                              \
    FORM(op##1_i, #op "b $" #n1 ", (%[p])")                                    \
    FORM(op##2_i, #op "w $" #n2 ", (%[p])")                                    \
    FORM(op##4_i, #op "l $" #n4 ", (%[p])")                                    \
    FORM(op##8_i, #op "q $" #n8 ", (%[p])")

SHIFT_FORMS(shl, 3, 9, 17, 45)
SHIFT_FORMS(shr, 5, 12, 24, 60)
SHIFT_FORMS(sar, 7, 15, 31, 63)
SHIFT_FORMS(rol, 3, 4, 13, 33)
SHIFT_FORMS(ror, 5, 11, 27, 63)
/* An 8-bit rotate by 9: masked to 5 bits, then modulo 8. */
FORM(rol1_i9, "rolb $9, (%[p])")
/* By %cl, with counts of 2 up to the operand size - 1. */
FORM_X(shl8_cl, c = (c & 63) | 2, "shlq %%cl, (%[p])")
FORM_X(shr1_cl, c = (c & 7) | 2, "shrb %%cl, (%[p])")
FORM_X(sar2_cl, c = (c & 15) | 2, "sarw %%cl, (%[p])")
FORM_X(ror4_cl, c = (c & 31) | 2, "rorl %%cl, (%[p])")

/* ------------------------------------------------------------------ */
/* setcc, cmovcc, push/pop, straddling accesses                         */
/* ------------------------------------------------------------------ */

/* setcc after comparing a with the memory value, into the next qword. */
#define SET_FORM(cc)                                                           \
    FORM(set##cc, "cmpq (%[p]), %[a]\n\t"                                      \
                  "set" #cc " 8(%[p])")

SET_FORM(e)
SET_FORM(b)
SET_FORM(a)
SET_FORM(l)
SET_FORM(g)
SET_FORM(s)
SET_FORM(o)
SET_FORM(np)

/* cmovcc into b after comparing a with the memory value. */
FORM(cmovl4, "cmpl (%[p]), %k[a]\n\tcmovl (%[p]), %k[b]")
FORM(cmovne4, "cmpl (%[p]), %k[a]\n\tcmovne (%[p]), %k[b]")
FORM(cmove2, "cmpw (%[p]), %w[a]\n\tcmove (%[p]), %w[b]")
FORM(cmovg8, "cmpq (%[p]), %[a]\n\tcmovg (%[p]), %[b]")
FORM(cmovb8, "cmpq (%[p]), %[a]\n\tcmovb (%[p]), %[b]")
FORM(cmovns8, "cmpq (%[p]), %[a]\n\tcmovns (%[p]), %[b]")

FORM(push_mem, "pushq (%[p])\n\tpopq %[a]")
FORM(pop_mem, "pushq %[b]\n\tpopq (%[p])")

/* At offset 4 (8 bytes), 6 (4 bytes) and 7 (2 bytes) of the slot. */
FORM(strad8_ld, "movq (%[p]), %[a]")
FORM(strad8_st, "movq %[b], (%[p])")
FORM(strad8_add, "addq %[b], (%[p])")
FORM(strad4_ld, "movl (%[p]), %k[a]")
FORM(strad4_st, "movl %k[b], (%[p])")
FORM(strad2_ld, "movzwl (%[p]), %k[a]")
FORM(strad2_st, "movw %w[b], (%[p])")

/* ------------------------------------------------------------------ */
/* String forms: loc (at its slot offset) and ram (at 0).               */
/* Registers afterwards: a = rsi offset (stos: rax), b = rdi offset,    */
/* c = rcx.                                                             */
/* ------------------------------------------------------------------ */

#define MOVS_FORM(fn, insn, from, to, count)                                   \
    static void fn(struct form_io *io)                                         \
    {                                                                          \
        uint8_t *s = from, *d = to;                                            \
        uint64_t n = count, f;                                                 \
                                                                               \
        __asm__ volatile(FLAGS_IN insn FLAGS_OUT                               \
                         : "+S"(s), "+D"(d), "+c"(n), [f] "=&r"(f)             \
                         : [fin] "r"(io->fin)                                  \
                         : "cc", "memory");                                    \
        io->a = (uint64_t)(s - (from));                                        \
        io->b = (uint64_t)(d - (to));                                          \
        io->c = n;                                                             \
        io->fout = f;                                                          \
    }

MOVS_FORM(rep_movsb_from, "rep movsb", io->loc, io->ram, io->c % 41)
MOVS_FORM(rep_movsb_to, "rep movsb", io->ram, io->loc, io->c % 41)
MOVS_FORM(rep_movsq_from, "rep movsq", io->loc, io->ram, io->c % 9)
MOVS_FORM(rep_movsq_to, "rep movsq", io->ram, io->loc, io->c % 9)

#define STOS_FORM(fn, insn, count)                                             \
    static void fn(struct form_io *io)                                         \
    {                                                                          \
        uint8_t *d = io->loc;                                                  \
        uint64_t n = count, v = io->a, f;                                      \
                                                                               \
        __asm__ volatile(FLAGS_IN insn FLAGS_OUT                               \
                         : "+D"(d), "+c"(n), "+a"(v), [f] "=&r"(f)             \
                         : [fin] "r"(io->fin)                                  \
                         : "cc", "memory");                                    \
        io->a = v;                                                             \
        io->b = (uint64_t)(d - io->loc);                                       \
        io->c = n;                                                             \
        io->fout = f;                                                          \
    }

STOS_FORM(rep_stosb, "rep stosb", io->c % 41)
STOS_FORM(rep_stosd, "rep stosl", io->c % 11)
STOS_FORM(rep_stosq, "rep stosq", io->c % 9)

/*
 * repe cmpsb over n = 1..40 bytes: the RAM side first becomes a copy of
 * the register-file side, then one byte of it changes, at an index
 * (b mod n + 8) that is past the end in some runs.
 */
static uint64_t cmps_prepare(struct form_io *io)
{
    const volatile uint8_t *loc = io->loc;
    uint64_t n = 1 + io->c % 40, diff = io->b % (n + 8), i;

    for (i = 0; i < n; i++) {
        io->ram[i] = loc[i];
    }
    if (diff < n) {
        io->ram[diff] ^= (uint8_t)(1u << (io->a & 7));
    }
    return n;
}

MOVS_FORM(repe_cmpsb_mr, "repe cmpsb", io->loc, io->ram, cmps_prepare(io))
MOVS_FORM(repe_cmpsb_rm, "repe cmpsb", io->ram, io->loc, cmps_prepare(io))

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

struct form {
    const char *name;
    form_fn fn;
    uint16_t flags;   /* the FL_* bits defined after the form */
    uint8_t at;       /* offset of the memory operand in its slot */
    uint8_t size;     /* bytes of the memory value m placed there */
    uint8_t span;     /* bytes of the slot (0: SLOT), all printed */
    uint8_t ram_span; /* bytes of the RAM buffer printed (string forms) */
};

/* clang-format off */
#define E(fn, fl, at, size) {#fn, fn, fl, at, size, 0, 0}
#define E_STR(fn, at, span, ram_span) {#fn, fn, FL_ALL, at, 0, span, ram_span}
/* clang-format on */

#define ALU_ENTRIES(op, sfx, fl)                                               \
    E(op##1_r##sfx, fl, 3, 1), E(op##2_r##sfx, fl, 6, 2),                      \
        E(op##4_r##sfx, fl, 4, 4), E(op##8_r##sfx, fl, 0, 8),                  \
        E(op##1_i##sfx, fl, 7, 1), E(op##2_i##sfx, fl, 1, 2),                  \
        E(op##4_i##sfx, fl, 2, 4), E(op##8_i##sfx, fl, 8, 8)
#define UNARY_ENTRIES(op, fl)                                                  \
    E(op##1, fl, 5, 1), E(op##2, fl, 2, 2), E(op##4, fl, 4, 4),                \
        E(op##8, fl, 8, 8)
#define BT_ENTRIES(op)                                                         \
    E(op##2_i, FL_BT, 6, 2), E(op##4_i, FL_BT, 4, 4), E(op##8_i, FL_BT, 0, 8), \
        E(op##2_r, FL_BT, 2, 2), E(op##4_r, FL_BT, 0, 4),                      \
        E(op##8_r, FL_BT, 8, 8)
#define SHIFT_ENTRIES(op, fl1, fln)                                            \
    E(op##1_1, fl1, 3, 1), E(op##2_1, fl1, 2, 2), E(op##4_1, fl1, 4, 4),       \
        E(op##8_1, fl1, 8, 8), E(op##1_i, fln, 6, 1), E(op##2_i, fln, 6, 2),   \
        E(op##4_i, fln, 0, 4), E(op##8_i, fln, 0, 8)

static const struct form forms[] = {
    E(mov1_ld, FL_ALL, 3, 1),
    E(mov1_ld_ah, FL_ALL, 5, 1),
    E(mov1_ld_bh, FL_ALL, 6, 1),
    E(mov1_ld_r9b, FL_ALL, 1, 1),
    E(mov2_ld, FL_ALL, 2, 2),
    E(mov4_ld, FL_ALL, 4, 4),
    E(mov8_ld, FL_ALL, 8, 8),
    E(mov4_ld_sib, FL_ALL, 4, 4),
    E(mov1_st, FL_ALL, 3, 1),
    E(mov1_st_ah, FL_ALL, 5, 1),
    E(mov1_st_bh, FL_ALL, 9, 1),
    E(mov1_st_r9b, FL_ALL, 15, 1),
    E(mov2_st, FL_ALL, 6, 2),
    E(mov4_st, FL_ALL, 4, 4),
    E(mov8_st, FL_ALL, 0, 8),
    E(mov8_st_sib, FL_ALL, 8, 8),
    E(mov1_sti, FL_ALL, 2, 1),
    E(mov2_sti, FL_ALL, 10, 2),
    E(mov4_sti, FL_ALL, 0, 4),
    E(mov8_sti, FL_ALL, 8, 8),
    E(mov8_sti_d8, FL_ALL, 0, 8),
    E(movzx8_16, FL_ALL, 1, 1),
    E(movzx8_32, FL_ALL, 7, 1),
    E(movzx8_64, FL_ALL, 8, 1),
    E(movzx16_32, FL_ALL, 2, 2),
    E(movzx16_64, FL_ALL, 14, 2),
    E(movsx8_16, FL_ALL, 4, 1),
    E(movsx8_32, FL_ALL, 3, 1),
    E(movsx8_64, FL_ALL, 15, 1),
    E(movsx16_32, FL_ALL, 6, 2),
    E(movsx16_64, FL_ALL, 0, 2),
    E(movsxd, FL_ALL, 4, 4),

    ALU_ENTRIES(add, , FL_ALL),
    ALU_ENTRIES(or, , FL_LOGIC),
    ALU_ENTRIES(adc, _c0, FL_ALL),
    ALU_ENTRIES(adc, _c1, FL_ALL),
    ALU_ENTRIES(sbb, _c0, FL_ALL),
    ALU_ENTRIES(sbb, _c1, FL_ALL),
    ALU_ENTRIES(and, , FL_LOGIC),
    ALU_ENTRIES(sub, , FL_ALL),
    ALU_ENTRIES(xor, , FL_LOGIC),
    E(add8_ld, FL_ALL, 0, 8),
    E(sub4_ld, FL_ALL, 4, 4),
    E(and2_ld, FL_LOGIC, 2, 2),
    E(or1_ld, FL_LOGIC, 5, 1),
    E(xor8_ld, FL_LOGIC, 8, 8),
    E(adc4_ld_c1, FL_ALL, 0, 4),
    E(sbb8_ld_c1, FL_ALL, 8, 8),
    UNARY_ENTRIES(inc, FL_ALL),
    UNARY_ENTRIES(dec, FL_ALL),
    UNARY_ENTRIES(not, FL_ALL),
    UNARY_ENTRIES(neg, FL_ALL),

    E(lock_add1_r, FL_ALL, 5, 1),
    E(lock_add2_i, FL_ALL, 2, 2),
    E(lock_add4_r, FL_ALL, 4, 4),
    E(lock_add8_i, FL_ALL, 8, 8),
    E(lock_or1_i, FL_LOGIC, 1, 1),
    E(lock_or4_i, FL_LOGIC, 0, 4),
    E(lock_or8_r, FL_LOGIC, 8, 8),
    E(lock_and2_r, FL_LOGIC, 6, 2),
    E(lock_xor8_i, FL_LOGIC, 0, 8),
    E(lock_sub4_i, FL_ALL, 12, 4),
    E(lock_adc8_r_c1, FL_ALL, 8, 8),
    E(lock_sbb1_r_c1, FL_ALL, 3, 1),
    E(lock_inc4, FL_ALL, 4, 4),
    E(lock_dec8, FL_ALL, 0, 8),
    E(lock_not2, FL_ALL, 14, 2),
    E(lock_neg1, FL_ALL, 9, 1),
    E(lock_xadd1, FL_ALL, 7, 1),
    E(lock_xadd2, FL_ALL, 2, 2),
    E(lock_xadd4, FL_ALL, 4, 4),
    E(lock_xadd8, FL_ALL, 8, 8),
    E(xadd8, FL_ALL, 0, 8),
    E(lock_cmpxchg1_ok, FL_ALL, 1, 1),
    E(lock_cmpxchg2_ok, FL_ALL, 2, 2),
    E(lock_cmpxchg4_ok, FL_ALL, 4, 4),
    E(lock_cmpxchg8_ok, FL_ALL, 8, 8),
    E(lock_cmpxchg1_fail, FL_ALL, 6, 1),
    E(lock_cmpxchg2_fail, FL_ALL, 10, 2),
    E(lock_cmpxchg4_fail, FL_ALL, 0, 4),
    E(lock_cmpxchg8_fail, FL_ALL, 0, 8),
    E(cmpxchg4_ok, FL_ALL, 8, 4),
    E(cmpxchg8_fail, FL_ALL, 8, 8),
    E(lock_bts4_r, FL_BT, 4, 4),
    E(lock_btr8_i, FL_BT, 0, 8),
    E(lock_btc2_r, FL_BT, 6, 2),

    E(test1_r, FL_LOGIC, 3, 1),
    E(test2_r, FL_LOGIC, 2, 2),
    E(test4_r, FL_LOGIC, 4, 4),
    E(test8_r, FL_LOGIC, 0, 8),
    E(test1_i, FL_LOGIC, 7, 1),
    E(test2_i, FL_LOGIC, 6, 2),
    E(test4_i, FL_LOGIC, 0, 4),
    E(test8_i, FL_LOGIC, 8, 8),
    E(cmp1_r, FL_ALL, 1, 1),
    E(cmp2_r, FL_ALL, 2, 2),
    E(cmp4_r, FL_ALL, 4, 4),
    E(cmp8_r, FL_ALL, 8, 8),
    E(cmp1_ld, FL_ALL, 9, 1),
    E(cmp4_ld, FL_ALL, 0, 4),
    E(cmp8_ld, FL_ALL, 0, 8),
    E(cmp1_i, FL_ALL, 4, 1),
    E(cmp2_i, FL_ALL, 12, 2),
    E(cmp4_i, FL_ALL, 8, 4),
    E(cmp8_i, FL_ALL, 0, 8),
    E(cmp8_i8, FL_ALL, 8, 8),
    E(xchg1, FL_ALL, 5, 1),
    E(xchg2, FL_ALL, 2, 2),
    E(xchg4, FL_ALL, 4, 4),
    E(xchg8, FL_ALL, 8, 8),

    BT_ENTRIES(bt),
    BT_ENTRIES(bts),
    BT_ENTRIES(btr),
    BT_ENTRIES(btc),
    E(bts2_i17, FL_BT, 2, 2),

    SHIFT_ENTRIES(shl, FL_SHIFT1, FL_SHIFTN),
    SHIFT_ENTRIES(shr, FL_SHIFT1, FL_SHIFTN),
    SHIFT_ENTRIES(sar, FL_SHIFT1, FL_SHIFTN),
    SHIFT_ENTRIES(rol, FL_ROT1, FL_ROTN),
    SHIFT_ENTRIES(ror, FL_ROT1, FL_ROTN),
    E(rol1_i9, FL_ROTN, 1, 1),
    E(shl8_cl, FL_SHIFTN, 8, 8),
    E(shr1_cl, FL_SHIFTN, 3, 1),
    E(sar2_cl, FL_SHIFTN, 6, 2),
    E(ror4_cl, FL_ROTN, 4, 4),

    E(sete, FL_ALL, 0, 8),
    E(setb, FL_ALL, 0, 8),
    E(seta, FL_ALL, 0, 8),
    E(setl, FL_ALL, 0, 8),
    E(setg, FL_ALL, 0, 8),
    E(sets, FL_ALL, 0, 8),
    E(seto, FL_ALL, 0, 8),
    E(setnp, FL_ALL, 0, 8),
    E(cmovl4, FL_ALL, 4, 4),
    E(cmovne4, FL_ALL, 8, 4),
    E(cmove2, FL_ALL, 2, 2),
    E(cmovg8, FL_ALL, 0, 8),
    E(cmovb8, FL_ALL, 8, 8),
    E(cmovns8, FL_ALL, 0, 8),
    E(push_mem, FL_ALL, 0, 8),
    E(pop_mem, FL_ALL, 8, 8),
    E(strad8_ld, FL_ALL, 4, 8),
    E(strad8_st, FL_ALL, 4, 8),
    E(strad8_add, FL_ALL, 4, 8),
    E(strad4_ld, FL_ALL, 6, 4),
    E(strad4_st, FL_ALL, 6, 4),
    E(strad2_ld, FL_ALL, 7, 2),
    E(strad2_st, FL_ALL, 7, 2),

    E_STR(rep_movsb_from, 3, 48, 48),
    E_STR(rep_movsb_to, 3, 48, 48),
    E_STR(rep_movsq_from, 0, 80, 80),
    E_STR(rep_movsq_to, 0, 80, 80),
    E_STR(rep_stosb, 3, 48, 0),
    E_STR(rep_stosd, 4, 48, 0),
    E_STR(rep_stosq, 0, 80, 0),
    E_STR(repe_cmpsb_mr, 1, 48, 48),
    E_STR(repe_cmpsb_rm, 1, 48, 48),
};

#define N_FORMS (sizeof(forms) / sizeof(forms[0]))

/* ------------------------------------------------------------------ */
/* Values                                                               */
/* ------------------------------------------------------------------ */

/* 23 (a prime) edge values: sign and carry boundaries at every width. */
static const uint64_t edge_values[] = {
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    0x7fffffffull,
    0x80000000ull,
    0xffffffffull,
    0x100000000ull,
    0x7fffffffffffffffull,
    0x8000000000000000ull,
    0xffffffffffffffffull,
    0xfffffffffffffffeull,
    0x8080808080808080ull,
    0x7f7f7f7f7f7f7f7full,
    0x0123456789abcdefull,
    0xfedcba9876543210ull,
};

#define N_EDGES (sizeof(edge_values) / sizeof(edge_values[0]))

struct form_values {
    uint64_t m, a, b, c, fin;
    uint64_t seed; /* of the slot's and the RAM buffer's pattern */
};

/* splitmix64: the next pseudo-random value of the sequence *s. */
static uint64_t mix_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t edge(uint64_t i)
{
    return edge_values[i % N_EDGES];
}

/*
 * The inputs of value set `set` of form `form`: sets 0 and 1 take the
 * memory value and the registers from edge_values, set 2 is random, set 3
 * random with a equal to the memory value.
 */
static void values_make(unsigned form, unsigned set, struct form_values *v)
{
    uint64_t s = ((uint64_t)form << 8 | set) * 0x2545f4914f6cdd1dull;

    v->seed = mix_next(&s);
    v->m = mix_next(&s);
    v->a = mix_next(&s);
    v->b = mix_next(&s);
    v->c = mix_next(&s);
    v->fin = mix_next(&s) & FL_ALL;
    switch (set) {
    case 0:
        v->m = edge(form * 3u);
        v->a = edge(form * 5u + 1);
        v->b = edge(form * 7u + 2);
        v->c = edge(form * 2u + 3);
        break;
    case 1:
        v->m = edge(form * 11u + 9);
        v->a = edge(form * 13u + 4);
        v->b = edge(form * 3u + 17);
        v->c = edge(form * 5u + 8);
        break;
    case 3:
        v->a = v->m;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Running a form                                                       */
/* ------------------------------------------------------------------ */

/* The register file stands in the host build as a buffer; RAM for both. */
#ifndef RT_GUEST
static uint8_t host_regfile[PAGE] __attribute__((aligned(PAGE)));
#endif
static uint8_t ram_page[PAGE] __attribute__((aligned(PAGE)));
static uint8_t ram_buffer[SPAN_MAX] __attribute__((aligned(64)));

struct outcome {
    uint64_t mem[SPAN_MAX / 8];
    uint64_t ram[SPAN_MAX / 8];
    uint64_t a, b, c, flags;
};

static unsigned form_span(const struct form *fm)
{
    return fm->span != 0 ? fm->span : SLOT;
}

/*
 * Fills span bytes at dst (8-byte aligned) with the pattern from *seed,
 * holding the size bytes of m at offset at, with 8-byte stores.
 */
static void slot_fill(uint8_t *dst, unsigned span, uint64_t *seed, unsigned at,
                      unsigned size, uint64_t m)
{
    volatile uint64_t *q = (volatile uint64_t *)dst;
    uint64_t words[SPAN_MAX / 8];
    unsigned i;

    for (i = 0; i < span / 8; i++) {
        words[i] = mix_next(seed);
    }
    for (i = 0; i < size; i++) {
        unsigned pos = at + i, shift = (pos % 8) * 8;

        words[pos / 8] &= ~(0xffull << shift);
        words[pos / 8] |= ((m >> (i * 8)) & 0xff) << shift;
    }
    for (i = 0; i < span / 8; i++) {
        q[i] = words[i];
    }
}

static void slot_read(const uint8_t *src, unsigned span, uint64_t *out)
{
    const volatile uint64_t *q = (const volatile uint64_t *)src;
    unsigned i;

    for (i = 0; i < span / 8; i++) {
        out[i] = q[i];
    }
}

/* One run of form fm with values v on the slot at slot. */
static void form_run(const struct form *fm, uint8_t *slot,
                     const struct form_values *v, struct outcome *out)
{
    unsigned span = form_span(fm);
    uint64_t seed = v->seed;
    struct form_io io;

    slot_fill(slot, span, &seed, fm->at, fm->size, v->m);
    slot_fill(ram_buffer, SPAN_MAX, &seed, 0, 0, 0);
    io.loc = slot + fm->at;
    io.ram = ram_buffer;
    io.m = v->m;
    io.a = v->a;
    io.b = v->b;
    io.c = v->c;
    io.fin = v->fin;
    fm->fn(&io);
    slot_read(slot, span, out->mem);
    slot_read(ram_buffer, fm->ram_span, out->ram);
    out->a = io.a;
    out->b = io.b;
    out->c = io.c;
    out->flags = io.fout & fm->flags;
}

static void outcome_print(const struct form *fm, unsigned set,
                          const char *where, const struct outcome *o)
{
    unsigned i;

    rt_printf("%-18s %u %s mem", fm->name, set, where);
    for (i = 0; i < form_span(fm) / 8; i++) {
        rt_printf(" %016llx", (unsigned long long)o->mem[i]);
    }
    if (fm->ram_span != 0) {
        rt_printf(" ram");
        for (i = 0; i < fm->ram_span / 8u; i++) {
            rt_printf(" %016llx", (unsigned long long)o->ram[i]);
        }
    }
    rt_printf(" a %016llx b %016llx c %016llx f %03llx\n",
              (unsigned long long)o->a, (unsigned long long)o->b,
              (unsigned long long)o->c, (unsigned long long)o->flags);
}

static bool outcome_equal(const struct form *fm, const struct outcome *x,
                          const struct outcome *y)
{
    unsigned i;

    for (i = 0; i < form_span(fm) / 8; i++) {
        if (x->mem[i] != y->mem[i]) {
            return false;
        }
    }
    for (i = 0; i < fm->ram_span / 8u; i++) {
        if (x->ram[i] != y->ram[i]) {
            return false;
        }
    }
    return x->a == y->a && x->b == y->b && x->c == y->c && x->flags == y->flags;
}

/*
 * Runs every form for every value set on regfile and on ram_page, each
 * form in its own slot (at the same offset in both pages).
 * Returns: the number of runs whose two outcomes differ.
 */
static unsigned forms_run_all(uint8_t *regfile)
{
    unsigned offset = 0, mismatches = 0, i, set;

    for (i = 0; i < N_FORMS; i++) {
        const struct form *fm = &forms[i];

        if (offset + form_span(fm) > PAGE) {
            offset = 0;
        }
        for (set = 0; set < N_SETS; set++) {
            struct form_values v;
            struct outcome mmio, ram;

            values_make(i, set, &v);
            form_run(fm, regfile + offset, &v, &mmio);
            form_run(fm, ram_page + offset, &v, &ram);
            outcome_print(fm, set, "mmio", &mmio);
            outcome_print(fm, set, "ram ", &ram);
            if (!outcome_equal(fm, &mmio, &ram)) {
                rt_printf("%-18s %u MISMATCH\n", fm->name, set);
                mismatches++;
            }
        }
        offset += form_span(fm);
    }
    return mismatches;
}

/* ------------------------------------------------------------------ */
/* Port I/O                                                             */
/* ------------------------------------------------------------------ */

#define CONSOLE_LINE "mmioforms: this line went out through rep outsb"
/* What rax holds before an in, to show which bytes the in replaces. */
#define RAX_BEFORE_IN 0x0123456789abcdefull

/* Port 0x80 as the machine defines it: a read returns the last write. */
struct post_port {
    uint32_t value;
};

static uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void post_model_out(struct post_port *pp, unsigned size, uint32_t v)
{
    pp->value = v & size_mask(size);
}

/* rax after an in of size bytes: 8 and 16 bits merge, 32 zero-extends. */
static uint64_t post_model_in(const struct post_port *pp, unsigned size,
                              uint64_t rax)
{
    if (size == 4) {
        return pp->value;
    }
    return (rax & ~(uint64_t)size_mask(size)) | (pp->value & size_mask(size));
}

#ifdef RT_GUEST
static void console_outs(const char *s, uint64_t n)
{
    uint16_t port = 0xe9;

    __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(port) : "memory");
}

/* out of size bytes of v to port 0x80, through %dx or an immediate. */
static void post_out(unsigned size, bool dx, uint32_t v)
{
    uint16_t port = RT_PORT_POST;

    switch (size * 2 + dx) {
    case 2:
        __asm__ volatile("outb %%al, $0x80" : : "a"(v));
        break;
    case 3:
        __asm__ volatile("outb %%al, %%dx" : : "a"(v), "d"(port));
        break;
    case 4:
        __asm__ volatile("outw %%ax, $0x80" : : "a"(v));
        break;
    case 5:
        __asm__ volatile("outw %%ax, %%dx" : : "a"(v), "d"(port));
        break;
    case 8:
        __asm__ volatile("outl %%eax, $0x80" : : "a"(v));
        break;
    default:
        __asm__ volatile("outl %%eax, %%dx" : : "a"(v), "d"(port));
        break;
    }
}

/* in of size bytes from port 0x80 into rax (which holds rax before). */
static uint64_t post_in(unsigned size, bool dx, uint64_t rax)
{
    uint16_t port = RT_PORT_POST;

    switch (size * 2 + dx) {
    case 2:
        __asm__ volatile("inb $0x80, %%al" : "+a"(rax));
        break;
    case 3:
        __asm__ volatile("inb %%dx, %%al" : "+a"(rax) : "d"(port));
        break;
    case 4:
        __asm__ volatile("inw $0x80, %%ax" : "+a"(rax));
        break;
    case 5:
        __asm__ volatile("inw %%dx, %%ax" : "+a"(rax) : "d"(port));
        break;
    case 8:
        __asm__ volatile("inl $0x80, %%eax" : "+a"(rax));
        break;
    default:
        __asm__ volatile("inl %%dx, %%eax" : "+a"(rax) : "d"(port));
        break;
    }
    return rax;
}

/* rep insb of n bytes into buf; *rdi_moved and *rcx_left afterwards. */
static void post_insb(uint8_t *buf, uint64_t n, uint64_t *rdi_moved,
                      uint64_t *rcx_left)
{
    uint8_t *d = buf;
    uint16_t port = RT_PORT_POST;

    __asm__ volatile("rep insb" : "+D"(d), "+c"(n) : "d"(port) : "memory");
    *rdi_moved = (uint64_t)(d - buf);
    *rcx_left = n;
}

static void post_outsb(const uint8_t *buf, uint64_t n)
{
    uint16_t port = RT_PORT_POST;

    __asm__ volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}
#else
/* The host build's port 0x80. */
static struct post_port host_post;

static void post_out(unsigned size, bool dx, uint32_t v)
{
    post_model_out(&host_post, size, v);
}

static uint64_t post_in(unsigned size, bool dx, uint64_t rax)
{
    return post_model_in(&host_post, size, rax);
}

static void post_insb(uint8_t *buf, uint64_t n, uint64_t *rdi_moved,
                      uint64_t *rcx_left)
{
    memset(buf, (int)(host_post.value & 0xff), n);
    *rdi_moved = n;
    *rcx_left = 0;
}

static void post_outsb(const uint8_t *buf, uint64_t n)
{
    if (n != 0) {
        post_model_out(&host_post, 1, buf[n - 1]);
    }
}
#endif

static const uint32_t post_values[3][4] = {
    {0x00, 0x5a, 0x80, 0xff},
    {0x0000, 0xbeef, 0x8001, 0xffff},
    {0x00000000, 0xdeadbeef, 0x80000001, 0xffffffff},
};

static uint8_t ins_buffer[48];

/*
 * rep insb of n bytes after an 8-bit write of v, into ins_buffer filled
 * with 0xcc.  Returns: 0 if the buffer and registers are as expected.
 */
static unsigned ins_check(struct post_port *expect, uint8_t v, uint64_t n)
{
    uint64_t rdi_moved, rcx_left, q;
    unsigned i, bad = 0;

    memset(ins_buffer, 0xcc, sizeof(ins_buffer));
    post_out(1, false, v);
    post_model_out(expect, 1, v);
    post_insb(ins_buffer, n, &rdi_moved, &rcx_left);
    rt_printf("port 0x80 outb 0x%02x, rep insb x%llu:", v,
              (unsigned long long)n);
    for (i = 0; i < sizeof(ins_buffer); i += 8) {
        memcpy(&q, ins_buffer + i, 8);
        rt_printf(" %016llx", (unsigned long long)q);
    }
    rt_printf(" rdi +%llu rcx %llu\n", (unsigned long long)rdi_moved,
              (unsigned long long)rcx_left);
    for (i = 0; i < sizeof(ins_buffer); i++) {
        bad += ins_buffer[i] != (i < n ? (expect->value & 0xff) : 0xcc);
    }
    return bad != 0 || rdi_moved != n || rcx_left != 0;
}

/* Returns: the number of port checks that failed. */
static unsigned ports_run(void)
{
#ifdef RT_GUEST
    static const char line[] = CONSOLE_LINE "\n";
#endif
    static const uint8_t outs_bytes[] = "post!";
    static const char suffix[] = {'b', 'w', '?', 'l'};
    struct post_port expect = {0};
    unsigned failed = 0, s, i, dx;

#ifdef RT_GUEST
    console_outs(line, sizeof(line) - 1);
#else
    rt_puts(CONSOLE_LINE);
#endif
    for (s = 0; s < 3; s++) {
        unsigned size = 1u << s;

        for (i = 0; i < 4; i++) {
            for (dx = 0; dx < 2; dx++) {
                uint32_t v = post_values[s][i];
                uint64_t got, want;

                post_out(size, dx, v);
                got = post_in(size, !dx, RAX_BEFORE_IN);
                post_model_out(&expect, size, v);
                want = post_model_in(&expect, size, RAX_BEFORE_IN);
                rt_printf("port 0x80 out%c %s 0x%x, in%c %s: rax %016llx\n",
                          suffix[size - 1], dx ? "(%dx)" : "$0x80", v,
                          suffix[size - 1], dx ? "$0x80" : "(%dx)",
                          (unsigned long long)got);
                failed += got != want;
            }
        }
    }
    failed += ins_check(&expect, 0xa7, 37);
    failed += ins_check(&expect, 0x3c, 1);
    failed += ins_check(&expect, 0x00, 0);
    failed += ins_check(&expect, 0xff, 48);
    post_outsb(outs_bytes, sizeof(outs_bytes) - 1);
    {
        uint64_t got = post_in(1, false, RAX_BEFORE_IN);

        post_model_out(&expect, 1, outs_bytes[sizeof(outs_bytes) - 2]);
        rt_printf("port 0x80 rep outsb \"%s\", inb: rax %016llx\n",
                  (const char *)outs_bytes, (unsigned long long)got);
        failed += got != post_model_in(&expect, 1, RAX_BEFORE_IN);
    }
    return failed;
}

/* ------------------------------------------------------------------ */

/* Returns: the register file's virtual address, or NULL. */
static uint8_t *regfile_map(void)
{
#ifdef RT_GUEST
    if (rt_map_4k(RT_REGFILE_PA, RT_REGFILE_PA,
                  RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) != 0) {
        return NULL;
    }
    return (uint8_t *)(uintptr_t)RT_REGFILE_PA;
#else
    return host_regfile;
#endif
}

int main(void)
{
    uint8_t *regfile = regfile_map();
    unsigned mismatches, port_failures;

    if (regfile == NULL) {
        rt_puts("mmioforms: cannot map the register file");
        return 1;
    }
    mismatches = forms_run_all(regfile);
    port_failures = ports_run();
    rt_printf("mmioforms: %u forms x %u value sets, %u mismatches, "
              "%u port checks failed\n",
              (unsigned)N_FORMS, N_SETS, mismatches, port_failures);
    return mismatches == 0 && port_failures == 0 ? 0 : 1;
}
