/*
 * lapic.c: the local APIC driver of the runtime (xAPIC mode, the page at
 * RT_LAPIC_PA; devices/lapic.c models it): maps the page uncached,
 * software-enables the APIC with the spurious vector RT_VEC_SPURIOUS, and
 * gives register access and EOI.
 */
#include "rt.h"

static void spurious(struct rt_trap_frame *frame)
{
    (void)frame; /* a spurious interrupt needs no EOI */
}

int rt_lapic_init(void)
{
    uint64_t *pte = rt_pte_find(RT_LAPIC_PA);

    if ((pte == NULL || !(*pte & RT_PTE_P)) &&
        rt_map_4k(RT_LAPIC_PA, RT_LAPIC_PA,
                  RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) != 0) {
        return -1;
    }
    rt_set_handler(RT_VEC_SPURIOUS, spurious);
    rt_lapic_write(RT_LAPIC_SVR, 0x100 | RT_VEC_SPURIOUS);
    return 0;
}

uint32_t rt_lapic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(RT_LAPIC_PA + reg);
}

void rt_lapic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(RT_LAPIC_PA + reg) = v;
}

void rt_lapic_eoi(void)
{
    rt_lapic_write(RT_LAPIC_EOI, 0);
}
