/*
 * tests/hostile/guests/lib.S: what several hostile guests share, linked
 * into each of them:
 *   idt_init       a GDT (0x08 64-bit code, 0x10 data; the loader's GDTR
 *                  is empty and gates need a code descriptor) and an IDT
 *                  whose 32 exception vectors go to the fault catcher
 *                  (other vectors not present), loaded with lgdt, lidt
 *   idt_set_gate   edi = vector, rsi = handler: a 64-bit interrupt gate
 *   map_2m         rdi = a 2 MiB-aligned address in [1 GiB, 512 GiB):
 *                  identity-maps its 2 MiB page (a new page directory at
 *                  HOSTILE_PD_SCRATCH if its PDPT entry is empty)
 *   exit_eax       ends the run with status eax (port 0xF4)
 * The fault catcher records the vector, error code, frame RIP, CR2, RCX,
 * RSI and RDI at HOSTILE_RESULT and exits with HOSTILE_FAULT_STATUS +
 * vector, so a test can check an exception without a handler of its own.
 * Calls follow the SysV ABI (rax, rcx, rdx, rsi, rdi clobbered).
 */
#include "tests/hostile/hostile.h"

#define R(slot) (HOSTILE_RESULT + HOSTILE_R_##slot)

    .text
    .globl idt_init, idt_set_gate, map_2m, exit_eax

exit_eax:
    out %eax, $0xf4
1:  hlt
    jmp 1b

idt_set_gate:
    mov %edi, %eax
    shl $4, %rax
    lea idt(%rip), %rdx
    add %rax, %rdx
    mov %rsi, %rax
    mov %ax, (%rdx)           /* offset 15:0 */
    movw $0x08, 2(%rdx)       /* selector: the loader's 64-bit code */
    movw $0x8e00, 4(%rdx)     /* IST 0; present, DPL 0, interrupt gate */
    shr $16, %rax
    mov %ax, 6(%rdx)          /* offset 31:16 */
    shr $16, %rax
    mov %eax, 8(%rdx)         /* offset 63:32 */
    movl $0, 12(%rdx)
    ret

idt_init:
    push %rbx
    xor %ebx, %ebx
1:  mov %ebx, %edi
    lea stubs(%rip), %rax
    mov (%rax,%rbx,8), %rsi
    call idt_set_gate
    inc %ebx
    cmp $32, %ebx
    jb 1b
    lgdt gdtr(%rip)
    lidt idtr(%rip)
    pop %rbx
    ret

map_2m:
    mov %cr3, %rax
    movabs $0x000ffffffffff000, %rdx
    and %rdx, %rax
    mov (%rax), %rax          /* PML4[0]: the loader's PDPT */
    and %rdx, %rax
    mov %rdi, %rcx
    shr $30, %rcx
    and $511, %ecx
    lea (%rax,%rcx,8), %rsi   /* its entry for this GiB */
    mov (%rsi), %rax
    test $1, %al
    jnz 1f
    movq $(HOSTILE_PD_SCRATCH | 7), (%rsi) /* P|RW|US */
    mov $HOSTILE_PD_SCRATCH, %eax
    jmp 2f
1:  and %rdx, %rax
2:  mov %rdi, %rcx
    shr $21, %rcx
    and $511, %ecx
    mov %rdi, %rsi
    or $0x87, %rsi            /* P|RW|US|PS: a 2 MiB page */
    mov %rsi, (%rax,%rcx,8)
    mov %cr3, %rax            /* flush the TLB */
    mov %rax, %cr3
    ret

/* One stub per exception vector; those without an error code push 0. */
.macro STUB v
stub_\v:
    .if !((\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21))
    pushq $0
    .endif
    pushq $\v
    jmp catch
.endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr

catch:
    mov %rcx, R(RCX)
    mov %rsi, R(RSI)
    mov %rdi, R(RDI)
    mov (%rsp), %rax
    mov %rax, R(VEC)
    mov 8(%rsp), %rax
    mov %rax, R(ERR)
    mov 16(%rsp), %rax
    mov %rax, R(FRIP)
    mov %cr2, %rax
    mov %rax, R(CR2)
    mov (%rsp), %eax
    add $HOSTILE_FAULT_STATUS, %eax
    jmp exit_eax

    .section .rodata
    .balign 8
stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad stub_\v
    .endr

    .data
    .balign 16
gdt:
    .quad 0
    .quad 0x00af9b000000ffff      /* 0x08: 64-bit code, accessed */
    .quad 0x00cf93000000ffff      /* 0x10: data RW, accessed */
gdt_end:
gdtr:
    .word gdt_end - gdt - 1
    .quad gdt
idtr:
    .word 256 * 16 - 1
    .quad idt

    .bss
    .balign 16
idt:
    .space 256 * 16
