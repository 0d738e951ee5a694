/*
 * rep-stosb.S: `rep stosb` of parameter 0 bytes at 2 MiB, then exit 0.
 * The test compares the cycles of runs with different counts: each
 * iteration is charged the profile's `string` cost.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov HOSTILE_PARAM, %rcx
    mov $0x200000, %edi
    mov $0xa5, %eax
    rep stosb
    xor %eax, %eax
    jmp exit_eax
