/*
 * rep-outsb.S: one `rep outsb` to port 0x80 with RCX = parameter 0, from
 * 1 MiB up (DF = 0).  The test ends it with a limit; R_RIP holds the
 * address of the rep instruction, which RIP must still point at (a REP
 * string instruction interrupted between iterations resumes there, SDM 2B
 * REP).  Exits 0 if it ever completes.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    lea 1f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
    mov HOSTILE_PARAM, %rcx
    mov $0x100000, %esi
    mov $0x80, %edx
1:  rep outsb
    xor %eax, %eax
    jmp exit_eax
