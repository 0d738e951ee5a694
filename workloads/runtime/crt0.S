/*
 * crt0.S: the guest program's entry point.
 *
 * The loader starts here in 64-bit mode at CPL 0 with RDI = guest RAM size,
 * RSI = lowest address of the reserved area at the top of RAM (RSP = RSI,
 * which is not ours to use) and RDX = the boot-info block.  _start moves to the boot stack from guest.ld, clears BSS,
 * calls rt_init (GDT, TSS, IDT) and main, and exits with main's return
 * value through port 0xF4.
 */
    .section .text.entry, "ax"
    .globl _start
    .type _start, @function
_start:
    mov %rdi, %r12              /* keep the loader's arguments */
    mov %rsi, %r13
    mov %rdx, %r14
    lea __stack_top(%rip), %rsp
    xor %ebp, %ebp

    lea __bss_start(%rip), %rdi
    lea __bss_end(%rip), %rcx
1:  cmp %rcx, %rdi
    jae 2f
    movq $0, (%rdi)
    add $8, %rdi
    jmp 1b

2:  mov %r12, %rdi
    mov %r13, %rsi
    mov %r14, %rdx
    call rt_init
    call main
    mov %eax, %edi
    call rt_exit
3:  hlt
    jmp 3b
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
