/*
 * triple.S: with the loader's empty IDT every exception is a triple fault
 * (SDM 3A §6.15: delivery fails with #GP, then #DF, then shutdown).
 * Parameter 0 picks the first exception:
 *   0  ud2 (#UD)
 *   1  int3 (#BP)
 *   2  int $0x80 (#GP: vector 0x80 is beyond the IDT limit)
 *   3  clear PML4[0] (which maps everything) and reload CR3: the next
 *      instruction fetch is a #PF
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov HOSTILE_PARAM, %rax
    cmp $1, %rax
    je 1f
    cmp $2, %rax
    je 2f
    cmp $3, %rax
    je 3f
    ud2
1:  int3
2:  int $0x80
3:  mov %cr3, %rax
    movq $0, (%rax)
    mov %rax, %cr3
    nop
    mov $1, %eax
    jmp exit_eax
