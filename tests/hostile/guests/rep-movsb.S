/*
 * rep-movsb.S: `rep movsb` of 64 KiB from 2 MiB to 8 MiB (source and
 * destination 6 MiB apart, which a direct-mapped TLB indexed by low
 * page-number bits would alias), then exit 0.  The test checks the
 * software TLB's misses.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov $0x10000, %ecx
    mov $0x200000, %esi
    mov $0x800000, %edi
    rep movsb
    xor %eax, %eax
    jmp exit_eax
