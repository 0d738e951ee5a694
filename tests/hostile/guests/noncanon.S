/*
 * noncanon.S: a control transfer to the non-canonical 0x0000800000000000.
 * SDM 2A/2B RET, IRET and JMP: "#GP(0) if the target is non-canonical",
 * raised by the transferring instruction itself, so the frame's RIP is
 * that instruction (R_RIP).  Parameter 0: 0 ret, 1 iretq, 2 jmp *%rax.
 * The fault catcher exits 0x10d.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    movabs $0x0000800000000000, %rbx
    mov HOSTILE_PARAM, %rax
    cmp $1, %rax
    je 1f
    cmp $2, %rax
    je 2f

    lea 0f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
    push %rbx
0:  ret

1:  lea 0f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
    mov %rsp, %rax
    pushq $0x10
    pushq %rax
    pushfq
    pushq $0x08
    pushq %rbx
0:  iretq

2:  lea 0f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
    mov %rbx, %rax
0:  jmp *%rax

