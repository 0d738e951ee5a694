/*
 * lapic-timer.c: the local APIC as a driver sees it (devices/lapic.c,
 * SDM 3A ch. 10): its ID and version; the LVT timer one-shot and periodic
 * (counting down, an interrupt per expiry, each acknowledged with EOI);
 * TSC-deadline mode (IA32_TSC_DEADLINE: an interrupt once the TSC passes
 * the deadline, then the MSR reads 0; a deadline already past fires at
 * once); a self-IPI held off by TPR until the task priority drops; priority
 * classes (a higher vector interrupts a handler, a lower one waits for its
 * EOI); an IPI with an illegal vector latched in ESR.
 */
#include "rt.h"

#define VEC_TIMER 0x2a
#define VEC_LOW 0x21  /* class 2 */
#define VEC_HIGH 0x2d /* class 2 as well: same class as the timer */

static volatile unsigned order[8], norder;
static volatile uint32_t isr_seen;
static int failures;

static void check(int ok, const char *what)
{
    rt_printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    failures += !ok;
}

static void record(struct rt_trap_frame *frame)
{
    if (norder < 8) {
        order[norder++] = (unsigned)frame->vector;
    }
    isr_seen = rt_lapic_read(RT_LAPIC_ISR + 0x10 * (frame->vector / 32));
    rt_lapic_eoi();
}

static void self_ipi(unsigned vector)
{
    rt_lapic_write(RT_LAPIC_ICR_HI, 0);
    rt_lapic_write(RT_LAPIC_ICR_LO, 1u << 18 | vector); /* shorthand self */
}

/* Sleeps until @n more interrupts of @vector (or 1000 wake-ups). */
static void wait_for(unsigned vector, uint64_t n)
{
    uint64_t want = rt_irq_count(vector) + n;

    for (int i = 0; i < 1000 && rt_irq_count(vector) < want; i++) {
        rt_cli();
        if (rt_irq_count(vector) < want) {
            rt_sti_hlt();
        }
        rt_sti();
    }
}

int main(void)
{
    uint32_t cur0, cur1;

    if (rt_lapic_init() != 0) {
        rt_puts("lapic-timer: cannot map the local APIC");
        return 1;
    }
    rt_set_handler(VEC_TIMER, record);
    rt_set_handler(VEC_LOW, record);
    rt_set_handler(VEC_HIGH, record);
    check(rt_lapic_read(RT_LAPIC_ID) >> 24 == 0, "APIC ID 0");
    check((rt_lapic_read(RT_LAPIC_VERSION) & 0xff) == 0x14 &&
              (rt_lapic_read(RT_LAPIC_VERSION) >> 16 & 0xff) == 5,
          "version 0x14, six LVT entries");

    /* One-shot: counts down, one interrupt, in service until EOI. */
    rt_lapic_write(RT_LAPIC_TIMER_DIVIDE, 0xb); /* divide by 1 */
    rt_lapic_write(RT_LAPIC_LVT_TIMER, VEC_TIMER);
    rt_lapic_write(RT_LAPIC_TIMER_INITIAL, 200000);
    cur0 = rt_lapic_read(RT_LAPIC_TIMER_CURRENT);
    for (volatile int i = 0; i < 1000; i++) {
    }
    cur1 = rt_lapic_read(RT_LAPIC_TIMER_CURRENT);
    check(cur0 <= 200000 && cur1 < cur0, "one-shot: the count goes down");
    wait_for(VEC_TIMER, 1);
    check(rt_irq_count(VEC_TIMER) == 1, "one-shot: one interrupt");
    check(isr_seen & 1u << (VEC_TIMER % 32), "one-shot: in service in its "
                                             "handler");
    check(rt_lapic_read(RT_LAPIC_ISR + 0x10) == 0, "one-shot: EOI cleared it");
    check(rt_lapic_read(RT_LAPIC_TIMER_CURRENT) == 0, "one-shot: stopped at 0");

    /* Periodic, divide by 16: three more ticks, then stop it. */
    rt_lapic_write(RT_LAPIC_TIMER_DIVIDE, 0x3);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, 1u << 17 | VEC_TIMER);
    rt_lapic_write(RT_LAPIC_TIMER_INITIAL, 5000);
    wait_for(VEC_TIMER, 3);
    rt_lapic_write(RT_LAPIC_TIMER_INITIAL, 0);
    check(rt_irq_count(VEC_TIMER) == 4, "periodic: three more interrupts");

    /* TSC-deadline mode: CPUID says so; it fires once, then reads 0. */
    {
        uint32_t a = 1, b, cx = 0, d;
        uint64_t t0, t1;

        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(cx), "=d"(d));
        check(cx >> 24 & 1, "CPUID: TSC-deadline timer");
        check(d >> 9 & 1, "CPUID: on-chip APIC");
        uint64_t armed;

        rt_lapic_write(RT_LAPIC_LVT_TIMER, 2u << 17 | VEC_TIMER);
        t0 = rt_rdtsc();
        rt_wrmsr(0x6e0, t0 + 50000);
        armed = rt_rdmsr(0x6e0);
        /* Under hvm the printing alone may outlast the deadline. */
        for (int i = 0; i < 1000 && rt_irq_count(VEC_TIMER) < 5; i++) {
            rt_cli();
            if (rt_irq_count(VEC_TIMER) < 5) {
                rt_sti_hlt();
            }
            rt_sti();
        }
        t1 = rt_rdtsc();
        check(armed == t0 + 50000, "TSC-deadline: armed");
        check(rt_irq_count(VEC_TIMER) == 5 && t1 >= t0 + 50000,
              "TSC-deadline: one interrupt, not before the deadline");
        check(rt_rdmsr(0x6e0) == 0, "TSC-deadline: reads 0 once fired");
        rt_cli();
        rt_wrmsr(0x6e0, 1); /* long past */
        rt_sti();
        for (volatile int i = 0; i < 100; i++) {
        }
        check(rt_irq_count(VEC_TIMER) == 6, "TSC-deadline: past fires at "
                                            "once");
        rt_lapic_write(RT_LAPIC_LVT_TIMER, 1u << 16);
    }

    /* TPR holds off a class-2 self-IPI until it drops. */
    norder = 0;
    rt_cli();
    rt_lapic_write(RT_LAPIC_TPR, 0x30);
    self_ipi(VEC_LOW);
    rt_sti();
    for (volatile int i = 0; i < 100; i++) {
    }
    check(rt_irq_count(VEC_LOW) == 0 &&
              (rt_lapic_read(RT_LAPIC_IRR + 0x10) & 1u << (VEC_LOW % 32)),
          "TPR 0x30: vector 0x21 waits in IRR");
    check(rt_lapic_read(RT_LAPIC_PPR) == 0x30, "PPR follows TPR");
    rt_lapic_write(RT_LAPIC_TPR, 0);
    for (volatile int i = 0; i < 100; i++) {
    }
    check(rt_irq_count(VEC_LOW) == 1, "TPR 0: delivered");

    /* Two pending at once: the higher vector first. */
    norder = 0;
    rt_cli();
    self_ipi(VEC_LOW);
    self_ipi(VEC_HIGH);
    rt_sti();
    for (volatile int i = 0; i < 100; i++) {
    }
    check(norder == 2 && order[0] == VEC_HIGH && order[1] == VEC_LOW,
          "two pending: 0x2d before 0x21");

    /* An IPI with vector 3 is illegal: ESR says so after a write. */
    self_ipi(3);
    rt_lapic_write(RT_LAPIC_ESR, 0);
    check(rt_lapic_read(RT_LAPIC_ESR) & 1u << 5, "illegal vector: ESR bit 5");
    rt_printf("lapic-timer: %s\n", failures == 0 ? "all passed" : "FAILED");
    return failures != 0;
}
