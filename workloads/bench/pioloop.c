/*
 * pioloop.c: the port-I/O benchmark, one trap per iteration under hvm.
 *
 * After start-up, a loop of exactly three instructions runs ITERATIONS
 * times: `out %al, $0x80` to the POST-code port, `dec %rax`, `jnz`.  The
 * counter is %rax itself, so each out writes the low byte of the
 * iterations still to go (ITERATIONS & 0xff first, 0x01 last).  Natively
 * the out reaches the device directly; under hvm each one is an
 * IO_INSTRUCTION exit the VMM completes, so the run time is dominated by
 * the exit path.  The line printed at the end gives the sum of the bytes
 * written (computed, not measured) and what port 0x80 reads back
 * afterwards (0x01 when the device holds the last write).
 */
#include "rt.h"

#define ITERATIONS 2000000ull
#define INSNS_PER_ITERATION 3

/* Writes the low byte of n, n - 1, ..., 1 to port 0x80 (n > 0). */
static void pio_loop(uint64_t n)
{
    __asm__ volatile("1:\n\t"
                     "outb %%al, $0x80\n\t" /* 1 */
                     "dec %%rax\n\t"        /* 2 */
                     "jnz 1b"               /* 3 */
                     : "+a"(n)
                     :
                     : "cc");
}

static uint8_t post_read(void)
{
    uint8_t v;

    __asm__ volatile("inb $0x80, %0" : "=a"(v));
    return v;
}

/*
 * The sum of the low bytes of 1..n, in closed form (a loop would add
 * millions of instructions to the run): n / 256 whole cycles of 0..255,
 * then 0..n % 256.
 */
static uint64_t low_byte_sum(uint64_t n)
{
    uint64_t rest = n % 256;

    return n / 256 * (255 * 256 / 2) + rest * (rest + 1) / 2;
}

int main(void)
{
    uint64_t sum;
    uint8_t last;

    pio_loop(ITERATIONS);
    last = post_read();
    sum = low_byte_sum(ITERATIONS);
    rt_printf("pioloop: %llu iterations x %d instructions, checksum "
              "%016llx, port 0x80 reads back 0x%02x\n",
              ITERATIONS, INSNS_PER_ITERATION, (unsigned long long)sum, last);
    return 0;
}
