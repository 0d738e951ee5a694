/*
 * boot.S: a multiboot stub that lets QEMU start a guest program the way
 * the iovsim loader does (workloads/README.md, "Guest ABI"), so guest
 * programs can be checked on a reference x86 (TCG or KVM) before and
 * alongside the simulator.  Development aid only; iovsim does not use it.
 *
 * QEMU loads this flat image at 16 MiB (multiboot a.out kludge) and the
 * guest ELF as module 0.  _start32 enters long mode on temporary tables
 * mapping the low 4 GiB, boot_main (boot.c) loads the ELF and builds the
 * loader's identity map at the top of RAM, and boot_enter sets the exact
 * initial state the ABI promises and jumps to the ELF entry.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010002 /* memory info, load addresses in header */

    .section .multiboot, "ax"
    .code32
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header             /* header_addr */
    .long __load_start          /* load_addr */
    .long __load_end            /* load_end_addr */
    .long __bss_end             /* bss_end_addr */
    .long _start32              /* entry_addr */

    .text
    .code32
    .globl _start32
_start32:
    cli
    mov $boot_stack_top, %esp
    mov %ebx, %ebp              /* multiboot information */

    /* PML4[0] -> PDPT; PDPT[0..3] -> 4 PDs of 2 MiB pages: 0-4 GiB. */
    mov $boot_pdpt, %eax
    or $3, %eax
    mov %eax, boot_pml4
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $boot_pd, %eax
    or $3, %eax
    mov %eax, boot_pdpt(, %ecx, 8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax
    mov %eax, boot_pd + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov $0x20, %eax             /* CR4.PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* EFER.LME | EFER.NXE */
    rdmsr
    or $0x900, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %ebp, %edi
    call boot_main              /* returns struct boot_result * */
    mov %rax, %rbx

    mov 24(%rbx), %rax          /* the loader's tables */
    mov %rax, %cr3
    mov $0x80010033, %eax       /* PG | WP | NE | ET | MP | PE */
    mov %rax, %cr0
    mov $0x20, %eax             /* PAE */
    mov %rax, %cr4
    lgdt boot_empty_ptr
    lidt boot_empty_ptr
    pushq $2
    popfq
    mov 0(%rbx), %r8            /* entry */
    mov 8(%rbx), %rdi           /* RAM size */
    mov 16(%rbx), %rsi          /* lowest loader address */
    mov %rsi, %rsp
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %ebp, %ebp
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    jmp *%r8

    .data
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .align 16
boot_empty_ptr:
    .word 0
    .quad 0

    .bss
    .align 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
