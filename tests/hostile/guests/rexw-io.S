/*
 * rexw-io.S: REX.W on OUTS/INS (48 6f, 48 6d, f3 48 6f).  SDM 2B OUTS/INS:
 * REX.W does not widen string I/O; the operand size stays 32 bits, so
 * each is a 4-byte port access and rSI/rDI move by 4.  Exits 0 if so,
 * else the number of the failed check.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $0x80, %edx

    /* rex.w outs: the low 4 bytes of pattern reach port 0x80. */
    lea pattern(%rip), %rsi
    mov %rsi, %rbx
    .byte 0x48, 0x6f              /* rex.w outsl (%rsi),(%dx) */
    lea 4(%rbx), %rcx
    cmp %rcx, %rsi
    FAIL_IF ne, 1                 /* RSI advanced by 4 */
    mov $-1, %rax
    in $0x80, %eax                /* zero-extends into RAX */
    cmp (%rbx), %eax
    FAIL_IF ne, 2
    shr $32, %rax
    FAIL_IF nz, 3

    /* rex.w ins: 4 bytes written between the canaries, RDI += 4. */
    lea buf(%rip), %rdi
    mov %rdi, %rbx
    .byte 0x48, 0x6d              /* rex.w insl (%dx),(%rdi) */
    lea 4(%rbx), %rcx
    cmp %rcx, %rdi
    FAIL_IF ne, 4
    mov pattern(%rip), %eax
    cmp (%rbx), %eax
    FAIL_IF ne, 5                 /* the 4 bytes last written to 0x80 */
    mov 4(%rbx), %rax
    mov canary(%rip), %rcx
    cmp %rcx, %rax
    FAIL_IF ne, 6                 /* the canary after buf is intact */
    mov -8(%rbx), %rax
    cmp %rcx, %rax
    FAIL_IF ne, 7                 /* and the one before */

    /* rep rex.w outs, RCX = 3: three 4-byte accesses, RSI += 12. */
    lea pattern(%rip), %rsi
    mov %rsi, %rbx
    mov $3, %ecx
    .byte 0xf3, 0x48, 0x6f        /* rep rex.w outsl */
    test %rcx, %rcx
    FAIL_IF nz, 8
    lea 12(%rbx), %rcx
    cmp %rcx, %rsi
    FAIL_IF ne, 9
    in $0x80, %eax
    cmp 8(%rbx), %eax             /* the third dword was written last */
    FAIL_IF ne, 10

    xor %eax, %eax
    jmp exit_eax

    .data
    .balign 8
pattern:
    .quad 0x8877665544332211, 0xccbbaa99ffeeddcc
canary:
    .quad 0x5a5a5a5a5a5a5a5a
    .quad 0x5a5a5a5a5a5a5a5a     /* canary before buf */
buf:
    .quad 0x5a5a5a5a5a5a5a5a     /* overwritten: low 4 bytes only */
    .quad 0x5a5a5a5a5a5a5a5a     /* canary after buf */
