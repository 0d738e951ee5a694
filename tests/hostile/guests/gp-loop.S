/*
 * gp-loop.S: RDMSR of an MSR the model lacks (0x12345678), PARAM times
 * (parameter 0), each raising #GP(0) that the handler counts and skips
 * (saved RIP += 2, the length of rdmsr; SDM 3A §6.15 #GP is a fault, so
 * the frame points at the rdmsr).  Each iteration also does a 16-round
 * inner loop so the run crosses several 10 M-instruction slices.  Exits
 * 0 if the count is right, 1 if not; the count is left in R_VALUE.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $13, %edi
    lea gp_handler(%rip), %rsi
    call idt_set_gate
    xor %r12d, %r12d              /* #GP count, kept by the handler */
    mov HOSTILE_PARAM, %rbx
1:  mov $0x12345678, %ecx
    rdmsr
    mov $16, %ecx
2:  dec %ecx
    jnz 2b
    dec %rbx
    jnz 1b
    mov %r12, HOSTILE_RESULT + HOSTILE_R_VALUE
    cmp HOSTILE_PARAM, %r12
    FAIL_IF ne, 1
    xor %eax, %eax
    jmp exit_eax

gp_handler:
    inc %r12
    addq $2, 8(%rsp)              /* past the error code: the saved RIP */
    add $8, %rsp                  /* drop the error code */
    iretq
