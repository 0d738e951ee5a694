/*
 * timer.c: sleeping on the machine's interval timer (devices/timer.c, the
 * RT_PORT_TIMER registers in rt.h).  The register helpers are inline in
 * rt.h; this file has the one that needs a loop.
 */
#include "rt-internal.h"

/*
 * The classic race-free wait: with interrupts off, check whether the
 * wake-up has happened; if not, `sti; hlt`, which cannot lose an interrupt
 * between the two instructions (STI blocks interrupts until after the next
 * instruction, SDM 2B STI), and check again.
 *
 * Done means both that the device counted the expiry this call armed and
 * that the timer's vector was delivered since then (rt_irq_count, bumped
 * after the handler returned), so an interrupt of an earlier set-up that
 * was still pending at the CPU does not end the sleep early.
 */
void rt_sleep_us(uint32_t us)
{
    bool was_enabled = (rt_read_rflags() & RT_RFLAGS_IF) != 0;
    unsigned vector;
    uint32_t expired;
    uint64_t delivered;

    rt_cli();
    vector = rt_inb(RT_PORT_TIMER + RT_TIMER_VECTOR);
    /*
     * Disarmed, the timer cannot expire while its count is read (a port
     * access may take longer than a short delay under a VMM).
     */
    rt_timer_arm(0);
    expired = rt_timer_count();
    delivered = rt_irq_count(vector);
    rt_timer_arm(us);
    for (;;) {
        if (rt_timer_count() != expired && rt_irq_count(vector) != delivered) {
            break;
        }
        rt_sti_hlt();
        rt_cli();
    }
    if (was_enabled) {
        rt_sti();
    }
}
