/*
 * ipiloop.c: the virtual-interrupt benchmark: ITERATIONS self-IPIs
 * through the local APIC, each taken by its handler and acknowledged with
 * EOI.  Under hvm with apicv = off every one costs the ICR write's
 * APIC-access exit, an injection and the EOI's exit; mk/bench.sh divides
 * the count by the host time.  The last line says how many arrived.
 */
#include "rt.h"

#define ITERATIONS 200000u
#define VEC_IPI 0x2c

static volatile unsigned count;

static void on_ipi(struct rt_trap_frame *frame)
{
    (void)frame;
    count++;
    rt_lapic_eoi();
}

int main(void)
{
    if (rt_lapic_init() != 0) {
        rt_puts("ipiloop: cannot map the local APIC");
        return 1;
    }
    rt_set_handler(VEC_IPI, on_ipi);
    rt_sti();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        rt_lapic_write(RT_LAPIC_ICR_LO, 1u << 18 | VEC_IPI); /* self */
    }
    rt_printf("ipiloop: %u of %u interrupts taken\n", count, ITERATIONS);
    return count != ITERATIONS;
}
