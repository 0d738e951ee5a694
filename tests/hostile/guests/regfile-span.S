/*
 * regfile-span.S: MMIO string operations across the end of the regfile
 * (4 KiB at 0x400000000; the guest maps its 2 MiB page).  rep movsq of 4
 * qwords to regfile + 0xff0: two land in the regfile, two beyond it are
 * dropped (nothing there); reading the same 32 bytes back gives the two
 * qwords and then all-ones.  Exits 0, or the number of the failed check.
 */
#include "tests/hostile/hostile.h"

#define RF_TAIL 0x400000ff0

HOSTILE_ENTRY
    call idt_init
    movabs $0x400000000, %rdi
    call map_2m
    lea src(%rip), %rsi
    movabs $RF_TAIL, %rdi
    mov $4, %ecx
    rep movsq
    test %rcx, %rcx
    FAIL_IF nz, 1
    movabs $RF_TAIL, %rsi
    lea dst(%rip), %rdi
    mov $4, %ecx
    rep movsq
    mov dst(%rip), %rax
    cmp src(%rip), %rax
    FAIL_IF ne, 2
    mov dst + 8(%rip), %rax
    cmp src + 8(%rip), %rax
    FAIL_IF ne, 3
    mov dst + 16(%rip), %rax
    cmp $-1, %rax
    FAIL_IF ne, 4
    mov dst + 24(%rip), %rax
    cmp $-1, %rax
    FAIL_IF ne, 5
    xor %eax, %eax
    jmp exit_eax

    .data
    .balign 8
src:
    .quad 0x0123456789abcdef, 0xfedcba9876543210
    .quad 0x1111111111111111, 0x2222222222222222
dst:
    .quad 0, 0, 0, 0
