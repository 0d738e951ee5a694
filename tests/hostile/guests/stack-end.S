/*
 * stack-end.S: the stack at the very end of RAM, then beyond it.
 * RSP = RAM size: a push and pop work (the top qword of RAM).  Then
 * RSP = RAM size + 4 KiB, where nothing is mapped: the push faults (#PF),
 * delivering it needs the same stack (#PF again: #DF), and so does the
 * #DF: a triple fault (SDM 3A §6.15), whatever IDT the guest has.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov %rdi, %rbx                /* RAM size */
    call idt_init
    mov %rbx, %rsp
    movabs $0x1122334455667788, %rax
    push %rax
    xor %ecx, %ecx
    pop %rcx
    cmp %rax, %rcx
    FAIL_IF ne, 1
    lea 0x1000(%rbx), %rsp
    push %rax
    mov $2, %eax
    jmp exit_eax
