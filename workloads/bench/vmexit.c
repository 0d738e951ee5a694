/*
 * vmexit.c: the cost of each kind of VM exit, in the spirit of
 * kvm-unit-tests' vmexit test: every operation runs ITERATIONS times
 * between two RDTSCs and the mean is printed in TSC cycles of simulated
 * time, one line each:
 *     vmexit: cpuid 1563
 * Operations: cpuid; vmcall (under a hypervisor only: natively it is
 * #UD); an I/O port the VMM handles (POST code, 0x80); one a user-space
 * device model handles (the debug console's read, 0xE9, when the
 * experiment places debugcon in user space: experiments/vmexit.ini); an
 * MMIO read (the register file); a local APIC EOI; a self-IPI taken and
 * acknowledged; the APIC timer armed for one tick until its interrupt;
 * the TSC-deadline timer armed in the past (immediate) and 10,000 TSC
 * cycles ahead (deferred).
 * What the model lacks is printed as "n/a" with the reason.
 */
#include "rt.h"

#define ITERATIONS 2000u
#define VEC_IPI 0x2c
#define VEC_TIMER 0x2b

static volatile unsigned ipi_count;

static void on_ipi(struct rt_trap_frame *frame)
{
    (void)frame;
    ipi_count++;
    rt_lapic_eoi();
}

static uint64_t per_op(uint64_t t0, uint64_t t1)
{
    return (t1 - t0 + ITERATIONS / 2) / ITERATIONS;
}

static void report(const char *what, uint64_t cycles)
{
    rt_printf("vmexit: %s %llu\n", what, (unsigned long long)cycles);
}

static bool under_hypervisor(void)
{
    uint32_t a = 1, b, c = 0, d;

    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return c >> 31 & 1;
}

int main(void)
{
    volatile uint32_t *regfile = (volatile uint32_t *)(uintptr_t)RT_REGFILE_PA;
    uint64_t t0, t1;

    if (rt_lapic_init() != 0 ||
        rt_map_4k(RT_REGFILE_PA, RT_REGFILE_PA,
                  RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) != 0) {
        rt_puts("vmexit: cannot map the APIC or the register file");
        return 1;
    }
    rt_set_handler(VEC_IPI, on_ipi);
    rt_set_handler(VEC_TIMER, on_ipi);

    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint32_t a = 0, b, c = 0, d;

        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    }
    t1 = rt_rdtsc();
    report("cpuid", per_op(t0, t1));

    if (under_hypervisor()) {
        t0 = rt_rdtsc();
        for (unsigned i = 0; i < ITERATIONS; i++) {
            uint64_t nr = 0;

            __asm__ volatile("vmcall" : "+a"(nr) : : "memory");
        }
        t1 = rt_rdtsc();
        report("vmcall", per_op(t0, t1));
    } else {
        rt_puts("vmexit: vmcall n/a (no hypervisor: it is #UD)");
    }

    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        (void)rt_inb(RT_PORT_POST);
    }
    t1 = rt_rdtsc();
    report("inb_in_vmm", per_op(t0, t1));

    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        (void)rt_inb(0xe9);
    }
    t1 = rt_rdtsc();
    report("inb_debugcon", per_op(t0, t1));

    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        (void)regfile[0];
    }
    t1 = rt_rdtsc();
    report("mmio_read", per_op(t0, t1));

    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        rt_lapic_eoi();
    }
    t1 = rt_rdtsc();
    report("eoi", per_op(t0, t1));

    /* Self-IPI: send, take, EOI, return. */
    ipi_count = 0;
    rt_sti();
    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        rt_lapic_write(RT_LAPIC_ICR_LO, 1u << 18 | VEC_IPI);
    }
    t1 = rt_rdtsc();
    report(ipi_count == ITERATIONS ? "self_ipi" : "self_ipi(LOST)",
           per_op(t0, t1));
    rt_puts("vmexit: ipi_other_vcpu n/a (one vCPU per VM in this model)");

    /* The APIC timer, one tick, divide by 1: arm, sleep, interrupt. */
    rt_lapic_write(RT_LAPIC_TIMER_DIVIDE, 0xb);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, VEC_TIMER);
    ipi_count = 0;
    t0 = rt_rdtsc();
    for (unsigned i = 0; i < ITERATIONS; i++) {
        unsigned before = ipi_count;

        rt_cli();
        rt_lapic_write(RT_LAPIC_TIMER_INITIAL, 1);
        while (ipi_count == before) {
            rt_sti_hlt();
            rt_cli();
        }
        rt_sti();
    }
    t1 = rt_rdtsc();
    report("apic_timer_1_tick", per_op(t0, t1));
    /* TSC-deadline, as kvm-unit-tests times it: "immediate" arms a
     * deadline already past, "deferred" one 10,000 TSC cycles ahead; each
     * until its interrupt. */
    rt_lapic_write(RT_LAPIC_LVT_TIMER, 2u << 17 | VEC_TIMER);
    for (int deferred = 0; deferred < 2; deferred++) {
        ipi_count = 0;
        t0 = rt_rdtsc();
        for (unsigned i = 0; i < ITERATIONS; i++) {
            unsigned before = ipi_count;

            rt_cli();
            rt_wrmsr(0x6e0, deferred ? rt_rdtsc() + 10000 : 1);
            while (ipi_count == before) {
                rt_sti_hlt();
                rt_cli();
            }
            rt_sti();
        }
        t1 = rt_rdtsc();
        report(deferred ? "tscdeadline" : "tscdeadline_immed",
               per_op(t0, t1));
    }
    return 0;
}
