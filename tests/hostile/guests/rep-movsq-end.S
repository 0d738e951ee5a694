/*
 * rep-movsq-end.S: `rep movsq` with RCX = 2^40 whose source runs off the
 * end of RAM (RSI = RAM size - 64, nothing mapped above).  It must fault
 * with #PF (error 0: not present, read, CPL 0) at CR2 = RAM size after
 * copying 8 qwords, with RCX/RSI/RDI showing that progress (SDM 2B REP:
 * a fault between iterations leaves the registers there), never reading
 * host memory.  The fault catcher exits 0x10e.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov %rdi, %rbx                /* RAM size */
    call idt_init
    lea -64(%rbx), %rsi
    mov $0x200000, %edi
    movabs $0x10000000000, %rcx
    lea 1f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
1:  rep movsq
    xor %eax, %eax
    jmp exit_eax
