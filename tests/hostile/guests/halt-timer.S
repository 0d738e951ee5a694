/*
 * halt-timer.S: arm a one-shot 10 ms timer, then sti; hlt.  The test's
 * 1 ms time limit must end the run at about 1 ms of simulated time, not
 * when the timer fires.  Exits 0 if woken.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $0x20, %edi
    lea tick(%rip), %rsi
    call idt_set_gate
    mov $0x440, %edx
    mov $10000, %eax
    out %eax, %dx                 /* 10 ms */
    sti
    hlt
    xor %eax, %eax
    jmp exit_eax

tick:
    iretq
