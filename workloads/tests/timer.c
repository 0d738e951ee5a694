/*
 * timer.c (guest only): external interrupts from the machine's interval
 * timer (devices/timer.c, ports 0x440-0x44F) through the runtime's IDT
 * gates 32-47.
 *
 * One handler, on vectors 0x20 and 0x21, counts deliveries per vector,
 * logs their order and keeps what the last frame held.  Cases: one-shot
 * sleeps of 10, 100 and 1000 us (rt_sleep_us) against a 2000 us reference
 * sleep measured with rdtsc; the frame of an interrupt that ends a HLT; a
 * 50 us periodic timer counted to 10 ticks with HLT between them, then
 * disarmed; a pending expiry disarmed (write 0) or replaced by re-arming;
 * the vector moved to 0x21; two vectors pending at once, delivered highest
 * first; an expiry held off by RFLAGS.IF = 0 and taken right after STI's
 * one-instruction shadow; an interrupt in the middle of a computation.
 *
 * The output is the same on any machine speed, natively or under the VMM:
 * it prints only counts, vectors, selectors and comparisons, never times.
 * The TSC rate is not known to the guest; the reference sleep gives an
 * upper bound of it (TSC ticks per microsecond, overhead included), which
 * the busy waits use so that they last at least as long as asked.
 */
#include "rt.h"

#define VEC_A RT_VEC_TIMER /* 0x20 */
#define VEC_B 0x21
#define REF_US 2000u
#define LOG_SIZE 16
/* Iterations after which the computation case gives up on the tick. */
#define COMPUTE_LIMIT 100000000ull

/* What the handler saw; changed in interrupt context, hence volatile. */
static volatile unsigned ticks_a, ticks_b;
static volatile uint64_t last_vector, last_error, last_cs, last_rflags;
static volatile uint64_t last_rip, handler_rflags;
static volatile unsigned log_len;
static volatile uint8_t log_vectors[LOG_SIZE];

/* TSC ticks of the REF_US reference sleep. */
static uint64_t tsc_ref;

void wait_sti_hlt(void);
void take_after_sti(void);
extern const char after_hlt[], after_shadow[];

/*
 * wait_sti_hlt: called with IF = 0 and the timer armed; the interrupt ends
 * the HLT and returns to after_hlt.  take_after_sti: called with IF = 0
 * and an interrupt pending; STI blocks it for one more instruction (the
 * nop), so it is taken with RIP = after_shadow.  Both return with IF = 1.
 */
__asm__(".pushsection .text\n"
        "wait_sti_hlt:\n"
        "    sti\n"
        "    hlt\n"
        "after_hlt:\n"
        "    ret\n"
        "take_after_sti:\n"
        "    sti\n"
        "    nop\n"
        "after_shadow:\n"
        "    ret\n"
        ".popsection");

static void on_timer(struct rt_trap_frame *frame)
{
    if (frame->vector == VEC_A) {
        ticks_a++;
    } else if (frame->vector == VEC_B) {
        ticks_b++;
    }
    last_vector = frame->vector;
    last_error = frame->error_code;
    last_cs = frame->cs;
    last_rflags = frame->rflags;
    last_rip = frame->rip;
    handler_rflags = rt_read_rflags();
    if (log_len < LOG_SIZE) {
        log_vectors[log_len] = (uint8_t)frame->vector;
    }
    log_len++;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        rt_printf("FAIL: %s (ticks 0x20 %u, 0x21 %u, expirations %u)\n",
                  what, ticks_a, ticks_b, rt_timer_count());
        rt_exit(1);
    }
}

/* Spins for at least us microseconds of machine time, IF unchanged. */
static void busy_wait_us(uint64_t us)
{
    uint64_t t0 = rt_rdtsc();
    uint64_t need = us * tsc_ref / REF_US + 1;

    while (rt_rdtsc() - t0 < need) {
    }
}

/* Returns: the TSC ticks rt_sleep_us(us) took; checks it took one tick. */
static uint64_t timed_sleep(uint32_t us)
{
    unsigned t = ticks_a;
    uint32_t c = rt_timer_count();
    uint64_t t0, elapsed;

    t0 = rt_rdtsc();
    rt_sleep_us(us);
    elapsed = rt_rdtsc() - t0;
    check(ticks_a == t + 1, "one-shot sleep: handler ran once");
    check(rt_timer_count() == c + 1, "one-shot sleep: one expiration");
    check(elapsed > 0, "one-shot sleep: TSC advanced");
    check((rt_read_rflags() & RT_RFLAGS_IF) != 0, "sleep kept IF = 1");
    return elapsed;
}

static void case_sleeps(void)
{
    static const uint32_t lengths[] = {10, 100, 1000};
    uint64_t elapsed[3];
    unsigned i;

    /*
     * A first sleep warms the TLB and the decoded code, so that the
     * reference carries no more fixed overhead than the sleeps measured
     * against it (it matters when a profile makes page walks costly).
     */
    (void)timed_sleep(REF_US);
    tsc_ref = timed_sleep(REF_US);
    rt_printf("reference sleep %u us: 1 tick, 1 expiration\n", REF_US);
    for (i = 0; i < 3; i++) {
        elapsed[i] = timed_sleep(lengths[i]);
        /*
         * tsc_ref / REF_US is at least the TSC rate, so this holds if the
         * sleep lasted at least lengths[i] us (and the fixed overhead
         * weighs no less in the short sleep than in the long one).
         */
        check(elapsed[i] * REF_US >= lengths[i] * tsc_ref,
              "sleep shorter than asked (relative to the reference)");
        rt_printf("one-shot sleep %u us: 1 tick, 1 expiration, TSC advanced "
                  "at least %u/%u of the reference\n",
                  lengths[i], lengths[i], REF_US);
    }
    check(elapsed[0] < elapsed[1] && elapsed[1] < elapsed[2] &&
              elapsed[2] < tsc_ref,
          "sleep lengths not in order");
    rt_printf("sleep lengths in order: 10 < 100 < 1000 < %u us\n", REF_US);
}

static void case_frame(void)
{
    unsigned t = ticks_a;

    rt_cli();
    rt_timer_arm(10);
    wait_sti_hlt();
    check(ticks_a == t + 1, "hlt: one tick");
    check(last_rip == (uintptr_t)after_hlt, "hlt: frame rip after hlt");
    rt_printf("frame: vector 0x%lx error 0x%lx cs 0x%lx IF %d, "
              "rip after hlt, handler IF %d\n",
              last_vector, last_error, last_cs,
              (last_rflags & RT_RFLAGS_IF) != 0,
              (handler_rflags & RT_RFLAGS_IF) != 0);
}

static void case_periodic(void)
{
    unsigned t = ticks_a, hlts = 0;
    uint32_t c = rt_timer_count();

    rt_cli();
    rt_timer_periodic(50);
    while (ticks_a - t < 10) {
        rt_sti_hlt();
        rt_cli();
        hlts++;
    }
    rt_timer_periodic(0);
    rt_sti();
    check(ticks_a - t == 10, "periodic: handler counted 10");
    check(rt_timer_count() - c == 10, "periodic: 10 expirations");
    check(hlts == 10, "periodic: one hlt per tick");
    rt_printf("periodic 50 us: %u ticks, %u expirations, %u hlts\n",
              ticks_a - t, rt_timer_count() - c, hlts);

    busy_wait_us(200);
    check(ticks_a - t == 10 && rt_timer_count() - c == 10,
          "periodic: disarmed timer fired");
    rt_printf("periodic disarmed: no tick in 200 us\n");
}

static void case_disarm(void)
{
    unsigned t = ticks_a;
    uint32_t c = rt_timer_count();

    rt_timer_arm(30);
    rt_timer_arm(0);
    busy_wait_us(100);
    check(ticks_a == t && rt_timer_count() == c, "disarmed timer fired");
    rt_sleep_us(40);
    check(ticks_a == t + 1 && rt_timer_count() == c + 1,
          "sleep after disarm: not exactly one tick");
    rt_printf("disarm pending: no tick in 100 us, then 1 tick from a sleep\n");

    rt_timer_arm(20);
    rt_timer_arm(100);
    busy_wait_us(50);
    check(ticks_a == t + 1 && rt_timer_count() == c + 1,
          "re-armed timer fired at the old delay");
    busy_wait_us(100);
    check(ticks_a == t + 2 && rt_timer_count() == c + 2,
          "re-armed timer did not fire once");
    rt_printf("re-arm 20 -> 100 us: no tick at 50 us, 1 tick by 150 us\n");
}

static void case_vector(void)
{
    unsigned a = ticks_a, b = ticks_b;

    rt_timer_vector(VEC_B);
    check(rt_inb(RT_PORT_TIMER + RT_TIMER_VECTOR) == VEC_B,
          "vector register reads back");
    rt_sleep_us(20);
    check(ticks_b == b + 1 && ticks_a == a, "vector 0x21: wrong handler");
    check(last_vector == VEC_B, "vector 0x21: frame vector");
    rt_timer_vector(VEC_A);
    rt_sleep_us(20);
    check(ticks_a == a + 1 && ticks_b == b + 1, "back to 0x20");
    rt_printf("vector 0x21: its handler ran once, 0x20's did not; "
              "back to 0x20\n");
}

static void case_priority(void)
{
    unsigned a = ticks_a, b = ticks_b;
    uint32_t c = rt_timer_count();

    rt_cli();
    rt_timer_arm(10);
    busy_wait_us(50);
    rt_timer_vector(VEC_B);
    rt_timer_arm(10);
    busy_wait_us(50);
    rt_timer_vector(VEC_A);
    check(ticks_a == a && ticks_b == b, "priority: taken with IF = 0");
    check(rt_timer_count() == c + 2, "priority: two expirations");
    log_len = 0;
    take_after_sti();
    check(ticks_a == a + 1 && ticks_b == b + 1, "priority: both taken once");
    check(log_len == 2 && log_vectors[0] == VEC_B && log_vectors[1] == VEC_A,
          "priority: not highest vector first");
    rt_printf("two pending: delivered 0x%x then 0x%x\n", log_vectors[0],
              log_vectors[1]);
}

static void case_masked(void)
{
    unsigned t = ticks_a;
    uint32_t c = rt_timer_count();

    rt_cli();
    rt_timer_arm(10);
    busy_wait_us(100);
    check(ticks_a == t, "IF = 0: interrupt taken");
    check(rt_timer_count() == c + 1, "IF = 0: timer did not expire");
    take_after_sti();
    check(ticks_a == t + 1, "IF = 0: pending interrupt lost after sti");
    check(last_rip == (uintptr_t)after_shadow,
          "sti: not taken right after the shadow");
    rt_printf("IF = 0: expired, held off for 100 us; taken after sti + 1 "
              "instruction\n");
}

static uint64_t mix(uint64_t h, uint64_t n)
{
    h = (h ^ n) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static void case_compute(void)
{
    unsigned t = ticks_a;
    uint64_t h = 1, n = 0, check_h = 1, i, t0, elapsed;

    t0 = rt_rdtsc();
    rt_timer_arm(20);
    while (ticks_a == t) {
        h = mix(h, n);
        n++;
        check(n < COMPUTE_LIMIT, "computation: no interrupt");
    }
    elapsed = rt_rdtsc() - t0;
    check(n > 1, "computation: interrupt came too early");
    check(ticks_a == t + 1, "computation: not exactly one tick");
    /* Between half and twice the delay (see busy_wait_us on tsc_ref). */
    check(2 * elapsed * REF_US >= 20 * tsc_ref,
          "computation: interrupt before half its delay");
    check(elapsed * REF_US <= 2 * 20 * tsc_ref,
          "computation: interrupt later than twice its delay");
    rt_cli();
    for (i = 0; i < n; i++) {
        check_h = mix(check_h, i);
    }
    rt_sti();
    check(h == check_h, "computation: result differs after the interrupt");
    rt_printf("computation: interrupted once, within 2x the 20 us delay; "
              "result matches a run with IF = 0\n");
}

int main(void)
{
    rt_set_handler(VEC_A, on_timer);
    rt_set_handler(VEC_B, on_timer);
    rt_sti();

    case_sleeps();
    case_frame();
    case_periodic();
    case_disarm();
    case_vector();
    case_priority();
    case_masked();
    case_compute();

    rt_cli();
    check(rt_irq_count(VEC_A) == ticks_a && rt_irq_count(VEC_B) == ticks_b,
          "runtime's delivery counts");
    rt_printf("deliveries: 0x20 %u, 0x21 %u; expirations %u\n", ticks_a,
              ticks_b, rt_timer_count());
    return 0;
}
