/*
 * timer-storm.S: a periodic 1 us timer with IF = 1.  The handler counts
 * (R_VALUE) and returns; the main loop works (and writes the count to the
 * postcode port now and then) until the test's time limit ends the run,
 * or exits 0 after 2^30 rounds.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $0x20, %edi
    lea tick(%rip), %rsi
    call idt_set_gate
    mov $0x44c, %edx
    mov $1, %eax
    out %eax, %dx                 /* period: 1 us */
    mov $0x440, %edx
    out %eax, %dx                 /* delay: 1 us, arms the timer */
    sti
    mov $(1 << 30), %ebx
1:  mov $64, %ecx
2:  imul $3, %rax, %rax
    dec %ecx
    jnz 2b
    mov HOSTILE_RESULT + HOSTILE_R_VALUE, %eax
    out %eax, $0x80
    dec %ebx
    jnz 1b
    xor %eax, %eax
    jmp exit_eax

tick:
    incq HOSTILE_RESULT + HOSTILE_R_VALUE
    iretq
