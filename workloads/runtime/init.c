/*
 * init.c: the guest's machine set-up: the loader's boot values, the GDT
 * with its 64-bit TSS, the IDT, and the SYSCALL MSRs.
 *
 * These tables are mutable globals on purpose: the CPU reads them from
 * memory (and writes the accessed and busy bits), and there is one machine
 * per guest program.
 *
 * GDT layout (SDM 3A §3.4.5, §7.2.3):
 *   0x08 kernel code, 64-bit     0x10 kernel data
 *   0x18 user data (DPL 3)       0x20 user code, 64-bit (DPL 3)
 *   0x28 64-bit TSS (16 bytes): RSP0 for traps from CPL 3, IST1 for #DF.
 * The user selectors are in SYSRET's order: STAR[63:48] = 0x10 gives
 * SS = 0x18|3 and CS = 0x20|3 (SDM 2B SYSRET).
 */
#include "rt-internal.h"

#define INIT_STACK_SIZE 16384

/* The 64-bit TSS (SDM 3A §7.7, figure 7-11). */
struct init_tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

/* The operand of lgdt and lidt. */
struct init_table_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* One 16-byte IDT gate (SDM 3A §6.14.1, figure 6-8). */
struct init_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

enum {
    INIT_GDT_NULL,
    INIT_GDT_KERNEL_CODE,
    INIT_GDT_KERNEL_DATA,
    INIT_GDT_USER_DATA,
    INIT_GDT_USER_CODE,
    INIT_GDT_TSS_LOW,
    INIT_GDT_TSS_HIGH,
    INIT_GDT_ENTRIES,
};

/* Present 64-bit interrupt gate, DPL 0 or DPL 3 (reachable by int3). */
#define INIT_GATE_KERNEL 0x8e
#define INIT_GATE_USER 0xee
/*
 * SYSRET loads CS = base + 16 and SS = base + 8 (RPL 3); SYSCALL loads
 * CS = STAR[47:32] and SS = that + 8.
 */
#define INIT_STAR_SYSRET_BASE 0x10ull
#define INIT_STAR_SYSCALL_CS ((uint64_t)RT_SEL_KERNEL_CODE)
/* Present, available 64-bit TSS. */
#define INIT_TSS_TYPE 0x89ull

static uint64_t init_gdt[INIT_GDT_ENTRIES] __attribute__((aligned(16))) = {
    [INIT_GDT_KERNEL_CODE] = 0x00af9a000000ffffull,
    [INIT_GDT_KERNEL_DATA] = 0x00cf92000000ffffull,
    [INIT_GDT_USER_DATA] = 0x00cff2000000ffffull,
    [INIT_GDT_USER_CODE] = 0x00affa000000ffffull,
};
static struct init_tss init_tss __attribute__((aligned(16)));
static struct init_gate init_idt[RT_NR_VECTORS] __attribute__((aligned(16)));
static uint8_t init_ist1_stack[INIT_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t init_rsp0_stack[INIT_STACK_SIZE] __attribute__((aligned(16)));
static uint64_t init_ram_size;
static uint64_t init_reserved_base;
static uint64_t init_boot_info;

uint64_t rt_ram_size(void)
{
    return init_ram_size;
}

uint64_t rt_reserved_base(void)
{
    return init_reserved_base;
}

const struct rt_boot_info *rt_boot_info(void)
{
    const struct rt_boot_info *b =
        (const struct rt_boot_info *)(uintptr_t)init_boot_info;

    return b != NULL && memcmp(b->magic, "IOVSBOOT", 8) == 0 ? b : NULL;
}

uintptr_t rt_ist1_stack_bottom(void)
{
    return (uintptr_t)init_ist1_stack;
}

uintptr_t rt_ist1_stack_top(void)
{
    return (uintptr_t)(init_ist1_stack + INIT_STACK_SIZE);
}

uintptr_t rt_rsp0_stack_bottom(void)
{
    return (uintptr_t)init_rsp0_stack;
}

uintptr_t rt_rsp0_stack_top(void)
{
    return (uintptr_t)(init_rsp0_stack + INIT_STACK_SIZE);
}

static void init_gdt_load(void)
{
    uint64_t base = (uintptr_t)&init_tss;
    uint64_t limit = sizeof(init_tss) - 1;
    struct init_table_ptr ptr;

    init_tss.rsp[0] = rt_rsp0_stack_top();
    init_tss.ist[0] = rt_ist1_stack_top();
    /* No I/O permission bitmap: CPL 3 port access faults (IOPL is 0). */
    init_tss.iomap_base = sizeof(init_tss);

    init_gdt[INIT_GDT_TSS_LOW] =
        (limit & 0xffff) | (base & 0xffffff) << 16 | INIT_TSS_TYPE << 40 |
        ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    init_gdt[INIT_GDT_TSS_HIGH] = base >> 32;

    ptr.limit = sizeof(init_gdt) - 1;
    ptr.base = (uintptr_t)init_gdt;
    __asm__ volatile("lgdt %0\n\t"
                     "mov %1, %%ds\n\t"
                     "mov %1, %%es\n\t"
                     "mov %1, %%ss\n\t"
                     "mov %1, %%fs\n\t"
                     "mov %1, %%gs\n\t"
                     "ltr %w2"
                     :
                     : "m"(ptr), "r"((uint32_t)RT_SEL_KERNEL_DATA),
                       "r"((uint32_t)RT_SEL_TSS)
                     : "memory");
}

static void init_idt_load(void)
{
    struct init_table_ptr ptr;
    unsigned v;

    for (v = 0; v < RT_NR_VECTORS; v++) {
        uint64_t stub = rt_vector_stubs[v];
        struct init_gate *g = &init_idt[v];

        g->offset_low = (uint16_t)stub;
        g->selector = RT_SEL_KERNEL_CODE;
        g->ist = v == RT_VEC_DF ? 1 : 0;
        g->type_attr = v == RT_VEC_BP || v == RT_VEC_OF ? INIT_GATE_USER
                                                        : INIT_GATE_KERNEL;
        g->offset_mid = (uint16_t)(stub >> 16);
        g->offset_high = (uint32_t)(stub >> 32);
        g->reserved = 0;
    }
    ptr.limit = sizeof(init_idt) - 1;
    ptr.base = (uintptr_t)init_idt;
    __asm__ volatile("lidt %0" : : "m"(ptr) : "memory");
}

void rt_init(uint64_t ram_size, uint64_t reserved_base, uint64_t boot_info)
{
    init_ram_size = ram_size;
    init_reserved_base = reserved_base;
    init_boot_info = boot_info;
    init_gdt_load();
    init_idt_load();
}

void rt_syscall_setup(void (*entry)(void), uint64_t rflags_mask)
{
    rt_wrmsr(RT_MSR_STAR,
             INIT_STAR_SYSRET_BASE << 48 | INIT_STAR_SYSCALL_CS << 32);
    rt_wrmsr(RT_MSR_LSTAR, (uintptr_t)entry);
    rt_wrmsr(RT_MSR_FMASK, rflags_mask);
    rt_wrmsr(RT_MSR_EFER, rt_rdmsr(RT_MSR_EFER) | RT_EFER_SCE);
}
