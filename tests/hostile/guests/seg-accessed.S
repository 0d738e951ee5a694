/*
 * seg-accessed.S: loading a segment descriptor whose accessed bit is
 * clear sets it (SDM 3A §3.4.5.1: "the processor sets this bit when it
 * loads the segment selector into a segment register").  The guest loads
 * its own GDT (code 0x08 type 0xA, data 0x10 type 0x2: neither accessed),
 * then parameter 0 picks the load:
 *   0  iretq to itself with CS = 0x08, SS = 0x10
 *   1  mov %ax,%ds with AX = 0x10
 * then does port I/O, CPUID and a RDMSR that faults (#GP, skipped by a
 * handler) -- under hvm: VM exits, an injection and VM entries, which
 * check the segments' access rights (SDM 3C §26.3.1.2: accessed types
 * only) -- then checks the descriptors' accessed bits.
 * Exits 0, or the number of the failed check.
 */
#include "tests/hostile/hostile.h"

HOSTILE_ENTRY
    call idt_init
    mov $13, %edi
    lea gp_skip(%rip), %rsi
    call idt_set_gate
    lgdt gdtr(%rip)
    cmpq $1, HOSTILE_PARAM
    je load_ds

    mov %rsp, %rax
    pushq $0x10                   /* SS */
    pushq %rax                    /* RSP */
    pushfq
    pushq $0x08                   /* CS */
    lea 1f(%rip), %rax
    pushq %rax                    /* RIP */
    iretq
1:  call io
    testb $1, gdt + 0x10 + 5(%rip)
    FAIL_IF z, 1                  /* SS's descriptor now accessed */
    testb $1, gdt + 0x08 + 5(%rip)
    FAIL_IF z, 2                  /* and CS's */
    mov %ss, %ax
    cmp $0x10, %ax
    FAIL_IF ne, 3
    jmp done

load_ds:
    mov $0x10, %eax
    mov %eax, %ds
    call io
    testb $1, gdt + 0x10 + 5(%rip)
    FAIL_IF z, 4
done:
    xor %eax, %eax
    jmp exit_eax

/* #GP handler: skip the 2-byte rdmsr. */
gp_skip:
    addq $2, 8(%rsp)
    add $8, %rsp
    iretq

/* 16 writes and reads of port 0x80, a cpuid, a faulting rdmsr. */
io: xor %eax, %eax
    cpuid
    mov $0x12345678, %ecx
    rdmsr
    mov $16, %ecx
2:  mov %ecx, %eax
    out %eax, $0x80
    in $0x80, %eax
    cmp %ecx, %eax
    FAIL_IF ne, 5
    dec %ecx
    jnz 2b
    ret

    .data
    .balign 16
gdt:
    .quad 0
    .quad 0x00af9a000000ffff      /* 0x08: 64-bit code, type 0xA */
    .quad 0x00cf92000000ffff      /* 0x10: data RW, type 0x2 */
gdt_end:
gdtr:
    .word gdt_end - gdt - 1
    .quad gdt
