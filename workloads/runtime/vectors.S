/*
 * vectors.S: the entry stubs of the 32 exception vectors and of the 16
 * external-interrupt vectors 32-47 (RT_NR_VECTORS in rt.h).
 *
 * Each stub makes the stack look the same whatever the vector: it pushes a
 * zero where the CPU pushes no error code (SDM 3A §6.13, table 6-1: only
 * vectors 8, 10-14, 17, 21, 29 and 30 have one; never for an external
 * interrupt, SDM 3A §6.13), then the vector number,
 * and joins rt_trap_common, which saves the general registers as a
 * struct rt_trap_frame (rt.h), calls rt_trap_dispatch with it, restores the
 * registers (as the handler may have changed them) and returns with iretq.
 * The frame is 22 quadwords plus the CPU's 16-byte alignment of RSP, so
 * the call is made with RSP 16-byte aligned as the ABI wants.
 */

/* Bit n set: the CPU pushes an error code for vector n. */
#define ERROR_CODE_VECTORS 0x60227d00

    .text

    .macro VECTOR_STUB n
    .align 16
vector_stub_\n:
    .if \n >= 32 || ((ERROR_CODE_VECTORS >> \n) & 1) == 0
    pushq $0
    .endif
    pushq $\n
    jmp rt_trap_common
    .endm

    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
            32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
    VECTOR_STUB \n
    .endr

    .align 16
    .type rt_trap_common, @function
rt_trap_common:
    push %r15
    push %r14
    push %r13
    push %r12
    push %r11
    push %r10
    push %r9
    push %r8
    push %rbp
    push %rdi
    push %rsi
    push %rdx
    push %rcx
    push %rbx
    push %rax
    cld
    mov %rsp, %rdi
    call rt_trap_dispatch
    pop %rax
    pop %rbx
    pop %rcx
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rbp
    pop %r8
    pop %r9
    pop %r10
    pop %r11
    pop %r12
    pop %r13
    pop %r14
    pop %r15
    add $16, %rsp               /* vector and error code */
    iretq
    .size rt_trap_common, . - rt_trap_common

    .section .rodata
    .align 8
    .globl rt_vector_stubs
rt_vector_stubs:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
            32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
    .quad vector_stub_\n
    .endr

    .section .note.GNU-stack, "", @progbits
