/*
 * tightloop.c: the CPU-bound benchmark with a known instruction count.
 *
 * The loop body is exactly ten instructions (two loads, an add, an xor,
 * an add of the counter, two stores, then add/cmp/jne on the counter), so
 * guest MIPS = ITERATIONS * 10 / seconds with nothing else worth counting
 * (start-up and the final print are a few thousand instructions).  At
 * 300 MIPS the 10^9 instructions take about 3.3 s.  The two words carry a
 * dependency from one iteration to the next through memory, and the
 * checksum printed at the end depends on every iteration.
 */
#include "rt.h"

#define ITERATIONS 100000000ull
#define INSNS_PER_ITERATION 10

static uint64_t words[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};

/* Runs n iterations over w[0] and w[1] (n > 0). */
static void tight_loop(uint64_t *w, uint64_t n)
{
    __asm__ volatile("xor %%ecx, %%ecx\n\t"
                     "1:\n\t"
                     "mov (%[w]), %%rax\n\t"  /* 1 load a */
                     "mov 8(%[w]), %%rdx\n\t" /* 2 load b */
                     "add %%rdx, %%rax\n\t"   /* 3 a += b */
                     "xor %%rax, %%rdx\n\t"   /* 4 b ^= a */
                     "add %%rcx, %%rdx\n\t"   /* 5 b += i */
                     "mov %%rax, (%[w])\n\t"  /* 6 store a */
                     "mov %%rdx, 8(%[w])\n\t" /* 7 store b */
                     "add $1, %%rcx\n\t"      /* 8 i++ */
                     "cmp %[n], %%rcx\n\t"    /* 9 */
                     "jne 1b"                 /* 10 */
                     :
                     : [w] "r"(w), [n] "r"(n)
                     : "rax", "rcx", "rdx", "cc", "memory");
}

int main(void)
{
    tight_loop(words, ITERATIONS);
    rt_printf("tightloop: %llu iterations x %d instructions, checksum "
              "%016llx %016llx\n",
              ITERATIONS, INSNS_PER_ITERATION, (unsigned long long)words[0],
              (unsigned long long)words[1]);
    return 0;
}
