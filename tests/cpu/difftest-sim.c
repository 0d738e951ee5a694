/*
 * tests/cpu/difftest-sim.c: runs difftest cases on iovsim's software CPU.
 *
 * The guest has RAM only where a case lives: the code page, the two data
 * pages and the stack page at the same guest-physical addresses as the
 * native side's linear addresses, plus six pages of identity page tables
 * (PML4, PDPT, PD and three PTs) low in guest-physical memory, every
 * level present, writable, user and executable.  Everything else is
 * unmapped, so the page after the data area faults as it does natively.
 *
 * One struct cpu serves every case: each run writes the case into the
 * pages, drops the decoded code (cpu_invalidate_phys), resets the CPU to
 * long mode (CPL 0; the native side runs at CPL 3, which user-level
 * instructions cannot tell apart except through the RFLAGS bits the
 * generator keeps equal: IF=1, IOPL=0, and AC=TF=0 so that neither
 * alignment checks nor single steps happen natively), loads the registers
 * and runs with exception exit on until the hlt at the case's end address.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "tests/cpu/difftest.h"

/* Enough for the longest generated case (small loops, short reps). */
#define DT_SIM_BUDGET 4096u

enum dt_sim_page {
    DT_SP_PML4,
    DT_SP_PDPT,
    DT_SP_PD,
    DT_SP_PT_CODE,
    DT_SP_PT_DATA,
    DT_SP_PT_STACK,
    DT_SP_CODE,
    DT_SP_DATA0,
    DT_SP_DATA1,
    DT_SP_STACK,
    DT_SP_COUNT
};

#define DT_PTE_FLAGS 0x7ull /* present, writable, user */

struct dt_sim {
    struct cpu *cpu;
    uint8_t *mem; /* DT_SP_COUNT pages */
};

static uint64_t dt_sim_page_pa(enum dt_sim_page p)
{
    switch (p) {
    case DT_SP_CODE:
        return DT_CODE_ADDR;
    case DT_SP_DATA0:
        return DT_DATA_ADDR;
    case DT_SP_DATA1:
        return DT_DATA_ADDR + DT_PAGE_SIZE;
    case DT_SP_STACK:
        return DT_STACK_ADDR;
    default:
        return 0x1000ull * (1 + (uint64_t)p);
    }
}

static uint8_t *dt_sim_page(const struct dt_sim *sim, enum dt_sim_page p)
{
    return sim->mem + (size_t)p * DT_PAGE_SIZE;
}

static uint8_t *dt_sim_ram_page(void *opaque, uint64_t pa)
{
    struct dt_sim *sim = opaque;
    unsigned p;

    for (p = 0; p < DT_SP_COUNT; p++) {
        if (dt_sim_page_pa(p) == (pa & ~(uint64_t)(DT_PAGE_SIZE - 1))) {
            return dt_sim_page(sim, p);
        }
    }
    return NULL;
}

static enum cpu_status dt_sim_mmio_read(void *opaque, uint64_t pa,
                                        unsigned size, uint64_t *val)
{
    *val = ~0ull;
    return CPU_OK;
}

static enum cpu_status dt_sim_mmio_write(void *opaque, uint64_t pa,
                                         unsigned size, uint64_t v)
{
    return CPU_OK;
}

static enum cpu_status dt_sim_io_in(void *opaque, uint16_t port,
                                    unsigned size, uint32_t *val)
{
    *val = ~0u;
    return CPU_OK;
}

static enum cpu_status dt_sim_io_out(void *opaque, uint16_t port,
                                     unsigned size, uint32_t value)
{
    return CPU_OK;
}

static const struct cpu_env_ops dt_sim_ops = {
    .ram_page = dt_sim_ram_page,
    .mmio_read = dt_sim_mmio_read,
    .mmio_write = dt_sim_mmio_write,
    .io_in = dt_sim_io_in,
    .io_out = dt_sim_io_out,
};

static void dt_sim_set_pte(struct dt_sim *sim, enum dt_sim_page table,
                           unsigned index, uint64_t pa)
{
    uint64_t e = pa | DT_PTE_FLAGS;

    memcpy(dt_sim_page(sim, table) + 8 * index, &e, 8);
}

/* Identity-maps @page (a code, data or stack page) through @pt. */
static void dt_sim_map(struct dt_sim *sim, enum dt_sim_page pt,
                       enum dt_sim_page page)
{
    uint64_t la = dt_sim_page_pa(page);

    g_assert((la >> 30) == 0); /* all under PDPT entry 0 */
    dt_sim_set_pte(sim, DT_SP_PD, (la >> 21) & 511, dt_sim_page_pa(pt));
    dt_sim_set_pte(sim, pt, (la >> 12) & 511, la);
}

struct dt_sim *dt_sim_new(void)
{
    struct dt_sim *sim = g_new0(struct dt_sim, 1);

    sim->mem = g_malloc0((size_t)DT_SP_COUNT * DT_PAGE_SIZE);
    dt_sim_set_pte(sim, DT_SP_PML4, 0, dt_sim_page_pa(DT_SP_PDPT));
    dt_sim_set_pte(sim, DT_SP_PDPT, 0, dt_sim_page_pa(DT_SP_PD));
    dt_sim_map(sim, DT_SP_PT_CODE, DT_SP_CODE);
    dt_sim_map(sim, DT_SP_PT_DATA, DT_SP_DATA0);
    dt_sim_map(sim, DT_SP_PT_DATA, DT_SP_DATA1);
    dt_sim_map(sim, DT_SP_PT_STACK, DT_SP_STACK);
    sim->cpu = cpu_new(&dt_sim_ops, sim);
    return sim;
}

void dt_sim_free(struct dt_sim *sim)
{
    if (sim == NULL) {
        return;
    }
    cpu_free(sim->cpu);
    g_free(sim->mem);
    g_free(sim);
}

void dt_sim_run(struct dt_sim *sim, const struct dt_case *c,
                struct dt_result *out)
{
    uint8_t *code = dt_sim_page(sim, DT_SP_CODE);
    uint64_t start = DT_CODE_ADDR + DT_CODE_START;
    uint64_t end = start + c->code_len;
    enum cpu_stop_reason why;
    unsigned vector = 0;
    int64_t error_code;
    uint64_t cr2 = 0;
    unsigned r;

    memset(code, 0xcc, DT_PAGE_SIZE);
    memcpy(code + DT_CODE_START, c->code, c->code_len);
    code[DT_CODE_START + c->code_len] = 0xf4; /* hlt */
    cpu_invalidate_phys(sim->cpu, DT_CODE_ADDR, DT_PAGE_SIZE);
    memcpy(dt_sim_page(sim, DT_SP_DATA0), c->data, DT_DATA_SIZE);
    memcpy(dt_sim_page(sim, DT_SP_STACK), c->stack, DT_PAGE_SIZE);

    cpu_reset_long_mode(sim->cpu, dt_sim_page_pa(DT_SP_PML4), start,
                        c->init.gpr[CPU_RSP]);
    cpu_set_exception_exit(sim->cpu, true);
    for (r = 0; r < CPU_NGPR; r++) {
        cpu_set_gpr(sim->cpu, r, c->init.gpr[r]);
    }
    cpu_set_rflags(sim->cpu, c->init.rflags);

    why = cpu_run(sim->cpu, DT_SIM_BUDGET);

    for (r = 0; r < CPU_NGPR; r++) {
        out->regs.gpr[r] = cpu_gpr(sim->cpu, r);
    }
    out->regs.rflags = cpu_rflags(sim->cpu);
    out->regs.rip = cpu_rip(sim->cpu);
    out->signo = 0;
    out->cr2 = 0;
    switch (why) {
    case CPU_STOP_HALT:
        out->vector = DT_VEC_NONE;
        /* The hlt has retired; report its address, as natively. */
        if (out->regs.rip == end + 1) {
            out->regs.rip = end;
        }
        break;
    case CPU_STOP_EXCEPTION:
        cpu_last_exception(sim->cpu, &vector, &error_code, &cr2);
        out->vector = (int)vector;
        out->cr2 = cr2;
        break;
    case CPU_STOP_BUDGET:
        out->vector = DT_VEC_SIM_BUDGET;
        break;
    default:
        out->vector = DT_VEC_SIM_STOP;
        out->signo = (int)why;
        break;
    }
    memcpy(out->data, dt_sim_page(sim, DT_SP_DATA0), DT_DATA_SIZE);
    memcpy(out->stack, dt_sim_page(sim, DT_SP_STACK), DT_PAGE_SIZE);
}

static void dt_sim_print_one(const char *mnemonic, uint64_t count,
                             void *opaque)
{
    printf("difftest: cpu raised #UD as unimplemented for %s (%llu times)\n",
           mnemonic, (unsigned long long)count);
}

void dt_sim_print_unsupported(const struct dt_sim *sim)
{
    cpu_unsupported_foreach(sim->cpu, dt_sim_print_one, NULL);
}
