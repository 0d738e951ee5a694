/*
 * mmioloop.c: the MMIO benchmark, one trap per iteration under hvm.
 *
 * Maps the register file (workloads/README.md, "Devices") and, after
 * start-up, runs a loop of exactly three instructions ITERATIONS times:
 * `movl %eax, (%rdi)` into register 0x40, `dec %rax`, `jnz`.  The counter
 * is %rax itself, so each store writes the iterations still to go
 * (ITERATIONS first, 1 last).  Natively the store reaches the device
 * directly; under hvm each one is an EPT violation the VMM completes by
 * emulating the store, so the run time is dominated by that path.  The
 * line printed at the end gives what the register reads back (1).
 */
#include "rt.h"

#define ITERATIONS 2000000ull
#define INSNS_PER_ITERATION 3
#define REGISTER_OFFSET 0x40

/* Stores n, n - 1, ..., 1 (32 bits each) to *reg (n > 0). */
static void mmio_loop(volatile uint32_t *reg, uint64_t n)
{
    __asm__ volatile("1:\n\t"
                     "movl %%eax, (%%rdi)\n\t" /* 1 */
                     "dec %%rax\n\t"           /* 2 */
                     "jnz 1b"                  /* 3 */
                     : "+a"(n)
                     : "D"(reg)
                     : "cc", "memory");
}

int main(void)
{
    volatile uint32_t *reg;

    if (rt_map_4k(RT_REGFILE_PA, RT_REGFILE_PA,
                  RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) != 0) {
        rt_puts("mmioloop: cannot map the register file");
        return 1;
    }
    reg = (volatile uint32_t *)(uintptr_t)(RT_REGFILE_PA + REGISTER_OFFSET);
    mmio_loop(reg, ITERATIONS);
    rt_printf("mmioloop: %llu iterations x %d instructions, register 0x%x "
              "reads back 0x%08x\n",
              ITERATIONS, INSNS_PER_ITERATION, REGISTER_OFFSET, *reg);
    return 0;
}
