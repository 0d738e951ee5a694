/*
 * exec-mmio.S: jump to guest-physical parameter 0, which is not RAM (the
 * regfile at 0x400000000, or nothing), after identity-mapping its 2 MiB
 * page.  The simulator cannot execute from device memory: the run must
 * stop with a message naming that address.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov HOSTILE_PARAM, %rdi
    and $-0x200000, %rdi
    call map_2m
    mov HOSTILE_PARAM, %rax
    jmp *%rax
