/*
 * bootstate.c (guest only): the machine state the loader promises
 * (workloads/README.md, "Guest ABI"), as the program finds it after the
 * runtime's set-up: CR0, CR4, EFER, the selectors, RFLAGS, the RAM size
 * and reserved area passed in RDI/RSI, the identity map (the last byte
 * below the reserved area is reachable, CR3 lies in the reserved area,
 * the upper-level entries are present, writable and user), and the
 * runtime's GDT, IDT and TSS as SGDT/SIDT/STR see them.
 */
#include "rt.h"

/* CF, PF, AF, ZF, SF, OF: whatever the last instruction left. */
#define RFLAGS_STATUS 0x8d5ull

/* The operand of sgdt and sidt. */
struct table_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint64_t read_rflags(void)
{
    uint64_t v;

    __asm__ volatile("pushfq; pop %0" : "=r"(v));
    return v;
}

int main(void)
{
    uint64_t ram = rt_ram_size();
    uint64_t reserved = rt_reserved_base();
    uint64_t cr3 = rt_read_cr3();
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & RT_PTE_ADDR);
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & RT_PTE_ADDR);
    volatile uint8_t *last = (volatile uint8_t *)(uintptr_t)(reserved - 1);
    struct table_ptr gdtr, idtr;
    uint16_t tr, ds, es, fs, gs;
    uint8_t old;

    rt_printf("CR0 0x%llx CR4 0x%llx EFER 0x%llx\n",
              (unsigned long long)rt_read_cr0(),
              (unsigned long long)rt_read_cr4(),
              (unsigned long long)rt_rdmsr(RT_MSR_EFER));
    __asm__ volatile("mov %%ds, %0; mov %%es, %1; mov %%fs, %2; mov %%gs, %3"
                     : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
    rt_printf("CS 0x%x SS 0x%x DS 0x%x ES 0x%x FS 0x%x GS 0x%x "
              "RFLAGS 0x%llx (status flags masked)\n",
              rt_read_cs(), rt_read_ss(), ds, es, fs, gs,
              (unsigned long long)(read_rflags() & ~RFLAGS_STATUS));
    rt_printf("RAM %llu MiB, reserved area below RAM end %d, "
              "page aligned %d\n",
              (unsigned long long)(ram >> 20), reserved < ram,
              (reserved & 0xfff) == 0);
    rt_printf("CR3 in reserved area %d, PML4[0] flags 0x%llx, "
              "PDPT[0] flags 0x%llx\n",
              cr3 >= reserved && cr3 < ram, (unsigned long long)(pml4[0] & 0x7),
              (unsigned long long)(pdpt[0] & 0x7));
    old = *last;
    *last = (uint8_t)(old + 1);
    rt_printf("last byte below the reserved area writable %d\n",
              *last == (uint8_t)(old + 1));
    *last = old;

    __asm__ volatile("sgdt %0; sidt %1; str %2"
                     : "=m"(gdtr), "=m"(idtr), "=r"(tr));
    rt_printf("GDT limit %u, IDT limit %u, TR 0x%x\n", gdtr.limit, idtr.limit,
              tr);
    return 0;
}
