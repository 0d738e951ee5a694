/*
 * ports.S: port I/O nobody claims, then every port.
 *  - in from unclaimed port 0x1234 reads all-ones at each size (a 32-bit
 *    in zero-extends into RAX), and rep insb stores 0xFF bytes;
 *  - out and in of 1, 2 and 4 bytes to every port 0..0xFFFF but the exit
 *    ports 0xF4-0xF7, writing '.' bytes; the sum of everything read is
 *    left in R_VALUE, for the test to compare between modes.
 * Exits 0, or the number of the failed check.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $0x1234, %edx
    xor %eax, %eax
    in %dx, %al
    cmp $0xff, %rax
    FAIL_IF ne, 1
    xor %eax, %eax
    in %dx, %ax
    cmp $0xffff, %rax
    FAIL_IF ne, 2
    mov $-1, %rax
    in %dx, %eax
    mov $0xffffffff, %ecx
    cmp %rcx, %rax
    FAIL_IF ne, 3
    lea buf(%rip), %rdi
    mov $8, %ecx
    rep insb
    mov buf(%rip), %rax
    cmp $-1, %rax
    FAIL_IF ne, 4

    xor %r8d, %r8d                /* sum of what was read */
    xor %edx, %edx
1:  cmp $0xf4, %edx
    jb 2f
    cmp $0xf7, %edx
    jbe 3f
2:  mov $0x2e2e2e2e, %eax
    out %al, %dx
    out %ax, %dx
    out %eax, %dx
    xor %eax, %eax
    in %dx, %al
    add %rax, %r8
    in %dx, %ax
    add %rax, %r8
    in %dx, %eax
    add %rax, %r8
3:  inc %edx
    cmp $0x10000, %edx
    jb 1b
    mov %r8, HOSTILE_RESULT + HOSTILE_R_VALUE
    xor %eax, %eax
    jmp exit_eax

    .data
buf:
    .quad 0
