/*
 * rep-insb-fault.S: `rep insb` from port 0x80 (which reads 0 here) into
 * memory it may not write, RCX = 16.  Parameter 0:
 *   0  RDI = RAM size - 4: 4 bytes land in RAM, then #PF (error 2: not
 *      present, write) at CR2 = RAM size with RCX = 12
 *   1  RDI = 4 MiB after making its 2 MiB page read-only (CR0.WP = 1):
 *      #PF (error 3: present, write) at once, RCX = 16
 * The fault catcher exits 0x10e; R_RIP is the rep instruction.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    mov %rdi, %rbx                /* RAM size */
    call idt_init
    xor %eax, %eax
    out %al, $0x80
    lea -4(%rbx), %rdi
    cmpq $1, HOSTILE_PARAM
    jne 1f
    mov %cr3, %rax                /* PML4 -> PDPT -> PD of GiB 0 */
    movabs $0x000ffffffffff000, %rdx
    and %rdx, %rax
    mov (%rax), %rax
    and %rdx, %rax
    mov (%rax), %rax
    and %rdx, %rax
    andq $~2, 2 * 8(%rax)         /* PD[2] maps 4 MiB: clear RW */
    mov %cr3, %rax
    mov %rax, %cr3
    mov $0x400000, %edi
1:  mov $16, %ecx
    mov $0x80, %edx
    lea 2f(%rip), %rax
    mov %rax, HOSTILE_RESULT + HOSTILE_R_RIP
2:  rep insb
    xor %eax, %eax
    jmp exit_eax
