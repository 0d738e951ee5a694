/*
 * devices/lapic.c: the local APICs of a VM, one per vCPU, in xAPIC mode
 * (../shared/spec/devices.md §6; SDM 3A ch. 10).  Their registers are the
 * 4 KiB page at 0xFEE00000; each vCPU sees its own APIC there.
 *
 * What is modelled:
 *  - ID (vCPU index in bits 31:24, read-only), version 0x00050014 (six
 *    LVT entries, no CMCI), TPR, PPR, LDR, DFR, SVR (bit 8 software
 *    enable; while it is clear every LVT stays masked);
 *  - IRR, ISR and TMR with priority classes: the highest requested vector
 *    whose class is above the PPR's is delivered; the CPU's acknowledge
 *    moves it to ISR; EOI clears the highest ISR bit;
 *  - ESR: errors latch until the next write to it (illegal vectors sent
 *    or received);
 *  - ICR: fixed and lowest-priority IPIs, physical or flat logical
 *    destinations, shorthands self, all, all but self.  NMI, INIT,
 *    start-up and SMI messages are not modelled: counted and dropped;
 *  - the LVT timer, one-shot and periodic, counting the core clock
 *    through its divide configuration, and TSC-deadline mode with
 *    IA32_TSC_DEADLINE (MSR 0x6E0; CPUID.1:ECX[24] says it is there):
 *    it fires once the TSC reaches the deadline, then reads 0.
 * Fixed interrupts that reach a software-disabled APIC are dropped.
 * Interrupts reach an APIC from MSIs (the VM's MSI path), the I/O APIC,
 * IPIs and its timer; the EOI of a level-triggered vector goes on to the
 * I/O APIC; natively it drives the vCPU's INTR line, under hvm the VMM
 * injects what it holds (sim/vmm.c).
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define LAPIC_BASE UINT64_C(0xfee00000)
#define LAPIC_SIZE 0x1000
#define LAPIC_VERSION 0x00050014u
#define LAPIC_LVT_MASK (1u << 16)
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL (1u << 6)
#define LAPIC_ESR_ILLEGAL_REG (1u << 7)

enum lapic_reg {
    LAPIC_ID = 0x020,
    LAPIC_VER = 0x030,
    LAPIC_TPR = 0x080,
    LAPIC_APR = 0x090,
    LAPIC_PPR = 0x0a0,
    LAPIC_EOI = 0x0b0,
    LAPIC_RRD = 0x0c0,
    LAPIC_LDR = 0x0d0,
    LAPIC_DFR = 0x0e0,
    LAPIC_SVR = 0x0f0,
    LAPIC_ISR = 0x100,
    LAPIC_TMR = 0x180,
    LAPIC_IRR = 0x200,
    LAPIC_ESR = 0x280,
    LAPIC_CMCI = 0x2f0,
    LAPIC_ICR_LO = 0x300,
    LAPIC_ICR_HI = 0x310,
    LAPIC_LVT_TIMER = 0x320, /* then thermal, perf, LINT0, LINT1, error */
    LAPIC_LVT_ERROR = 0x370,
    LAPIC_TIMER_INITIAL = 0x380,
    LAPIC_TIMER_CURRENT = 0x390,
    LAPIC_TIMER_DIVIDE = 0x3e0,
};

#define LAPIC_NLVT 6

struct lapic;

struct lapic_cpu {
    struct lapic *apic;
    unsigned index; /* vCPU index = APIC ID */
    uint32_t tpr, ldr, dfr, svr, esr, esr_latched, icr_lo, icr_hi;
    uint32_t lvt[LAPIC_NLVT];
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t timer_initial, timer_divide;
    bool timer_active;    /* counting */
    uint64_t tsc_deadline; /* IA32_TSC_DEADLINE, armed if not 0 */
    uint64_t timer_start; /* cycle the count started */
    uint64_t timer_event; /* the next expiry that interrupts, 0: none */
};

struct lapic {
    struct dev dev;
    unsigned ncpus;
    struct lapic_cpu *cpus;
    uint64_t dropped; /* messages the model does not deliver */
};

/* ---- Priority ---- */

static int vec_highest(const uint32_t bits[8])
{
    for (int w = 7; w >= 0; w--) {
        if (bits[w] != 0) {
            return w * 32 + 31 - __builtin_clz(bits[w]);
        }
    }
    return -1;
}

static void vec_set(uint32_t bits[8], unsigned v)
{
    bits[v / 32] |= 1u << (v % 32);
}

static void vec_clear(uint32_t bits[8], unsigned v)
{
    bits[v / 32] &= ~(1u << (v % 32));
}

static bool vec_test(const uint32_t bits[8], unsigned v)
{
    return bits[v / 32] >> (v % 32) & 1;
}

/* PPR (SDM 3A §10.8.3.1): TPR when its class is not below the highest
 * in-service vector's, else that vector's class. */
static uint32_t lapic_ppr(const struct lapic_cpu *c)
{
    int isrv = vec_highest(c->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

    return (c->tpr & 0xf0) >= isr_class ? c->tpr & 0xff : isr_class;
}

/* The vector this APIC would deliver now, or -1. */
static int lapic_deliverable(const struct lapic_cpu *c)
{
    int v = vec_highest(c->irr);

    if (v < 0 || (c->svr & LAPIC_SVR_ENABLE) == 0) {
        return -1;
    }
    return ((unsigned)v & 0xf0) > (lapic_ppr(c) & 0xf0) ? v : -1;
}

/* Tells the VM the interrupt state of vCPU @c may have changed. */
static void lapic_update(struct lapic_cpu *c)
{
    sim_vm_intr_changed(c->apic->dev.vm, c->index, lapic_deliverable(c) >= 0);
}

/* A fixed interrupt arrives at @c.  Returns: false if it was dropped. */
static bool lapic_accept(struct lapic_cpu *c, unsigned vector, bool level)
{
    if (vector < 16) {
        c->esr_latched |= LAPIC_ESR_RECV_ILLEGAL;
        return false;
    }
    if (!(c->svr & LAPIC_SVR_ENABLE)) {
        c->apic->dropped++;
        return false;
    }
    vec_set(c->irr, vector);
    if (level) {
        vec_set(c->tmr, vector);
    } else {
        vec_clear(c->tmr, vector);
    }
    lapic_update(c);
    return true;
}

/* ---- The device-facing side (devices.h) ---- */

bool dev_lapic_deliver(struct dev *dev, unsigned apic_id, unsigned vector,
                       bool level)
{
    struct lapic *l = container_of(dev, struct lapic, dev);

    if (apic_id >= l->ncpus) {
        l->dropped++;
        return false;
    }
    return lapic_accept(&l->cpus[apic_id], vector, level);
}

int dev_lapic_pending(struct dev *dev, unsigned apic_id)
{
    struct lapic *l = container_of(dev, struct lapic, dev);

    return apic_id < l->ncpus ? lapic_deliverable(&l->cpus[apic_id]) : -1;
}

unsigned dev_lapic_ack(struct dev *dev, unsigned apic_id)
{
    struct lapic *l = container_of(dev, struct lapic, dev);
    struct lapic_cpu *c;
    int v;

    g_assert(apic_id < l->ncpus);
    c = &l->cpus[apic_id];
    v = lapic_deliverable(c);
    if (v < 0) {
        return c->svr & 0xff; /* spurious */
    }
    vec_clear(c->irr, (unsigned)v);
    vec_set(c->isr, (unsigned)v);
    lapic_update(c);
    return (unsigned)v;
}

/* ---- The timer ---- */

static uint64_t lapic_timer_div(const struct lapic_cpu *c)
{
    /* Bits 3, 1, 0: 000 /2 ... 110 /128, 111 /1 (devices.md §6). */
    unsigned code = (c->timer_divide & 3) | (c->timer_divide >> 1 & 4);

    return code == 7 ? 1 : UINT64_C(2) << code;
}

static unsigned lapic_timer_mode(const struct lapic_cpu *c)
{
    return (c->lvt[0] >> 17) & 3;
}

/*
 * The count runs from @timer_start while @timer_active: one-shot down to
 * 0 and stopped, periodic from the initial count again at each period's
 * end.  An event is kept only for an expiry that interrupts: none while
 * the LVT entry is masked (the count still runs; the current count is
 * worked out from the time), so a guest that halts with a masked timer
 * is seen to have nothing that can wake it.
 */
static void lapic_timer_expire(void *opaque);

static void lapic_timer_stop(struct lapic_cpu *c)
{
    if (c->timer_event != 0) {
        sim_vm_unschedule(c->apic->dev.vm, c->timer_event);
        c->timer_event = 0;
    }
}

/* The cycles of one period. */
static uint64_t lapic_timer_period(const struct lapic_cpu *c)
{
    return (uint64_t)c->timer_initial * lapic_timer_div(c);
}

/* Schedules the next expiry that interrupts, if any. */
static void lapic_timer_schedule(struct lapic_cpu *c)
{
    uint64_t now = sim_vm_now(c->apic->dev.vm);
    uint64_t period = lapic_timer_period(c), next;

    lapic_timer_stop(c);
    if (lapic_timer_mode(c) == 2) {
        /* TSC-deadline: at the cycle the TSC reaches the deadline, or now
         * if it already has. */
        if (c->tsc_deadline != 0 && !(c->lvt[0] & LAPIC_LVT_MASK)) {
            next = sim_vm_tsc_to_cycles(c->apic->dev.vm, c->tsc_deadline);
            c->timer_event = sim_vm_schedule(c->apic->dev.vm,
                                             next > now ? next : now,
                                             lapic_timer_expire, c);
        }
        return;
    }
    if (!c->timer_active || period == 0 || lapic_timer_mode(c) == 3 ||
        (c->lvt[0] & LAPIC_LVT_MASK)) {
        return;
    }
    next = c->timer_start + period;
    if (lapic_timer_mode(c) == 1 && next <= now) {
        /* Periodic: the next end of a period, on its own beat. */
        next = c->timer_start + ((now - c->timer_start) / period + 1) * period;
    } else if (next <= now) {
        c->timer_active = false; /* one-shot ran out while masked */
        return;
    }
    c->timer_event =
        sim_vm_schedule(c->apic->dev.vm, next, lapic_timer_expire, c);
}

static void lapic_timer_expire(void *opaque)
{
    struct lapic_cpu *c = opaque;

    c->timer_event = 0;
    lapic_accept(c, c->lvt[0] & 0xff, false);
    if (lapic_timer_mode(c) == 2) {
        c->tsc_deadline = 0; /* disarmed once it fired */
    } else if (lapic_timer_mode(c) == 1) {
        lapic_timer_schedule(c);
    } else {
        c->timer_active = false;
    }
}

/* IA32_TSC_DEADLINE (SDM 3A §10.5.4.1): meaningful in TSC-deadline mode
 * only; elsewhere it reads 0 and writes are ignored. */
#define LAPIC_MSR_TSC_DEADLINE 0x6e0u

bool dev_lapic_msr_read(struct dev *dev, unsigned apic_id, uint32_t msr,
                        uint64_t *val)
{
    struct lapic *l = container_of(dev, struct lapic, dev);
    const struct lapic_cpu *c;

    if (msr != LAPIC_MSR_TSC_DEADLINE || apic_id >= l->ncpus) {
        return false;
    }
    c = &l->cpus[apic_id];
    *val = lapic_timer_mode(c) == 2 ? c->tsc_deadline : 0;
    return true;
}

bool dev_lapic_msr_write(struct dev *dev, unsigned apic_id, uint32_t msr,
                         uint64_t val)
{
    struct lapic *l = container_of(dev, struct lapic, dev);
    struct lapic_cpu *c;

    if (msr != LAPIC_MSR_TSC_DEADLINE || apic_id >= l->ncpus) {
        return false;
    }
    c = &l->cpus[apic_id];
    if (lapic_timer_mode(c) == 2) {
        c->tsc_deadline = val;
        lapic_timer_schedule(c);
    }
    return true;
}

static uint32_t lapic_timer_current(const struct lapic_cpu *c)
{
    uint64_t ticks;

    if (!c->timer_active || c->timer_initial == 0) {
        return 0;
    }
    ticks = (sim_vm_now(c->apic->dev.vm) - c->timer_start) /
            lapic_timer_div(c);
    if (lapic_timer_mode(c) == 1) {
        return c->timer_initial - (uint32_t)(ticks % c->timer_initial);
    }
    return ticks >= c->timer_initial ? 0
                                     : c->timer_initial - (uint32_t)ticks;
}

/* Writing the initial count starts the count (0 stops it). */
static void lapic_timer_start(struct lapic_cpu *c, uint32_t initial)
{
    c->timer_initial = initial;
    c->timer_start = sim_vm_now(c->apic->dev.vm);
    c->timer_active = initial != 0;
    lapic_timer_schedule(c);
}

/* A new divider carries on from the count reached. */
static void lapic_timer_set_divide(struct lapic_cpu *c, uint32_t v)
{
    uint32_t current = lapic_timer_current(c);
    uint64_t now = sim_vm_now(c->apic->dev.vm);

    c->timer_divide = v & 0xb;
    if (c->timer_active && current != 0) {
        uint64_t done = (uint64_t)(c->timer_initial - current) *
                        lapic_timer_div(c);

        c->timer_start = now >= done ? now - done : 0;
    }
    lapic_timer_schedule(c);
}

/* ---- ICR ---- */

static bool lapic_is_target(const struct lapic_cpu *c, uint32_t dest,
                            bool logical)
{
    if (!logical) {
        return dest == 0xff || dest == c->index;
    }
    return ((c->ldr >> 24) & dest) != 0; /* flat model */
}

static void lapic_send_ipi(struct lapic_cpu *from)
{
    struct lapic *l = from->apic;
    uint32_t lo = from->icr_lo;
    unsigned vector = lo & 0xff, mode = (lo >> 8) & 7;
    unsigned shorthand = (lo >> 18) & 3;
    bool logical = lo & (1u << 11);
    uint32_t dest = from->icr_hi >> 24;
    bool sent = false;

    if (mode != 0 && mode != 1) {
        l->dropped++; /* NMI, INIT, start-up, SMI: not modelled */
        return;
    }
    if (vector < 16) {
        from->esr_latched |= LAPIC_ESR_SEND_ILLEGAL;
        return;
    }
    for (unsigned i = 0; i < l->ncpus; i++) {
        struct lapic_cpu *to = &l->cpus[i];
        bool hit = shorthand == 1   ? to == from
                   : shorthand == 2 ? true
                   : shorthand == 3 ? to != from
                                    : lapic_is_target(to, dest, logical);

        /* Lowest priority goes to the first target: all are equal. */
        if (hit && !(mode == 1 && sent)) {
            lapic_accept(to, vector, (lo >> 15) & 1);
            sent = true;
        }
    }
}

/* ---- Registers ---- */

static struct lapic_cpu *lapic_current(struct lapic *l)
{
    return &l->cpus[sim_vm_current_vcpu(l->dev.vm) % l->ncpus];
}

static enum mem_tx lapic_read(void *opaque, uint64_t offset, unsigned size,
                              uint64_t *val)
{
    struct lapic *l = opaque;
    struct lapic_cpu *c = lapic_current(l);
    unsigned off = (unsigned)offset;

    *val = 0;
    if (off & 0xf) {
        return MEM_TX_OK; /* between registers: reserved */
    }
    if (off >= LAPIC_ISR && off < LAPIC_ISR + 0x80) {
        *val = c->isr[(off - LAPIC_ISR) >> 4];
    } else if (off >= LAPIC_TMR && off < LAPIC_TMR + 0x80) {
        *val = c->tmr[(off - LAPIC_TMR) >> 4];
    } else if (off >= LAPIC_IRR && off < LAPIC_IRR + 0x80) {
        *val = c->irr[(off - LAPIC_IRR) >> 4];
    } else if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR) {
        *val = c->lvt[(off - LAPIC_LVT_TIMER) >> 4];
    } else {
        switch (off) {
        case LAPIC_ID:
            *val = (uint32_t)c->index << 24;
            break;
        case LAPIC_VER:
            *val = LAPIC_VERSION;
            break;
        case LAPIC_TPR:
            *val = c->tpr;
            break;
        case LAPIC_PPR:
            *val = lapic_ppr(c);
            break;
        case LAPIC_LDR:
            *val = c->ldr;
            break;
        case LAPIC_DFR:
            *val = c->dfr;
            break;
        case LAPIC_SVR:
            *val = c->svr;
            break;
        case LAPIC_ESR:
            *val = c->esr;
            break;
        case LAPIC_ICR_LO:
            *val = c->icr_lo & ~(1u << 12); /* delivery status: idle */
            break;
        case LAPIC_ICR_HI:
            *val = c->icr_hi;
            break;
        case LAPIC_TIMER_INITIAL:
            *val = c->timer_initial;
            break;
        case LAPIC_TIMER_CURRENT:
            *val = lapic_timer_current(c);
            break;
        case LAPIC_TIMER_DIVIDE:
            *val = c->timer_divide;
            break;
        default:
            break; /* APR, RRD, CMCI, reserved: 0 */
        }
    }
    return MEM_TX_OK;
}

static void lapic_mask_all(struct lapic_cpu *c)
{
    for (unsigned i = 0; i < LAPIC_NLVT; i++) {
        c->lvt[i] |= LAPIC_LVT_MASK;
    }
}

static enum mem_tx lapic_write(void *opaque, uint64_t offset, unsigned size,
                               uint64_t val)
{
    struct lapic *l = opaque;
    struct lapic_cpu *c = lapic_current(l);
    unsigned off = (unsigned)offset;
    uint32_t v = (uint32_t)val;

    if (off & 0xf) {
        return MEM_TX_OK;
    }
    if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR) {
        unsigned i = (off - LAPIC_LVT_TIMER) >> 4;
        /* Timer: vector, mask, mode; LINT: also polarity, trigger; the
         * rest: vector, delivery mode, mask. */
        static const uint32_t wmask[LAPIC_NLVT] = {
            0x000700ff, 0x000107ff, 0x000107ff,
            0x0001a7ff, 0x0001a7ff, 0x000100ff};

        c->lvt[i] = v & wmask[i];
        if (!(c->svr & LAPIC_SVR_ENABLE)) {
            c->lvt[i] |= LAPIC_LVT_MASK;
        }
        if (i == 0) {
            lapic_timer_schedule(c); /* mask or mode: the count goes on */
        }
        return MEM_TX_OK;
    }
    switch (off) {
    case LAPIC_TPR:
        c->tpr = v & 0xff;
        lapic_update(c);
        break;
    case LAPIC_EOI: {
        int isrv = vec_highest(c->isr);

        /* A level-triggered vector's EOI (TMR set) goes on to the I/O
         * APIC. */
        if (isrv >= 0) {
            vec_clear(c->isr, (unsigned)isrv);
            if (vec_test(c->tmr, (unsigned)isrv) &&
                sim_vm_ioapic(l->dev.vm) != NULL) {
                dev_ioapic_eoi(sim_vm_ioapic(l->dev.vm), (unsigned)isrv);
            }
            lapic_update(c);
        }
        break;
    }
    case LAPIC_LDR:
        c->ldr = v & 0xff000000u;
        break;
    case LAPIC_DFR:
        c->dfr = v | 0x0fffffffu;
        break;
    case LAPIC_SVR:
        c->svr = v & 0x13ff;
        if (!(c->svr & LAPIC_SVR_ENABLE)) {
            lapic_mask_all(c);
            lapic_timer_schedule(c);
        }
        lapic_update(c);
        break;
    case LAPIC_ESR:
        c->esr = c->esr_latched;
        c->esr_latched = 0;
        break;
    case LAPIC_ICR_HI:
        c->icr_hi = v & 0xff000000u;
        break;
    case LAPIC_ICR_LO:
        c->icr_lo = v & 0x000ccfffu;
        lapic_send_ipi(c);
        break;
    case LAPIC_TIMER_INITIAL:
        lapic_timer_start(c, v);
        break;
    case LAPIC_TIMER_DIVIDE:
        lapic_timer_set_divide(c, v);
        break;
    default:
        /* Read-only and reserved registers. */
        c->esr_latched |= off == LAPIC_ID || off == LAPIC_VER ||
                                  off == LAPIC_PPR || off == LAPIC_APR ||
                                  off == LAPIC_RRD || off == LAPIC_CMCI ||
                                  off == LAPIC_TIMER_CURRENT ||
                                  (off >= LAPIC_ISR && off < LAPIC_IRR + 0x80)
                              ? 0
                              : LAPIC_ESR_ILLEGAL_REG;
        break;
    }
    return MEM_TX_OK;
}

/* 32-bit accesses only (SDM 3A §10.4.1). */
static const struct io_region_ops lapic_ops = {
    .read = lapic_read,
    .write = lapic_write,
    .valid = {4, 4},
    .impl = {4, 4},
};

static void lapic_cpu_reset(struct lapic_cpu *c)
{
    struct lapic *apic = c->apic;
    unsigned index = c->index;

    lapic_timer_stop(c);
    memset(c, 0, sizeof(*c));
    c->apic = apic;
    c->index = index;
    c->dfr = 0xffffffffu;
    c->svr = 0xff;
    lapic_mask_all(c);
}

static bool lapic_realize(struct dev *dev, const struct dev_config *cfg,
                          GError **error)
{
    struct lapic *l = container_of(dev, struct lapic, dev);

    l->ncpus = sim_vm_vcpu_count(dev->vm);
    l->cpus = g_new0(struct lapic_cpu, l->ncpus);
    for (unsigned i = 0; i < l->ncpus; i++) {
        l->cpus[i].apic = l;
        l->cpus[i].index = i;
        lapic_cpu_reset(&l->cpus[i]);
    }
    if (dev_region_add(dev, sim_vm_mmio(dev->vm), LAPIC_BASE, LAPIC_SIZE,
                       &lapic_ops, l, error) == NULL) {
        g_free(l->cpus);
        return false;
    }
    sim_vm_set_lapic(dev->vm, dev);
    return true;
}

static void lapic_reset(struct dev *dev, enum dev_reset_kind kind)
{
    struct lapic *l = container_of(dev, struct lapic, dev);

    for (unsigned i = 0; i < l->ncpus; i++) {
        lapic_cpu_reset(&l->cpus[i]);
    }
}

static void lapic_destroy(struct dev *dev)
{
    struct lapic *l = container_of(dev, struct lapic, dev);

    for (unsigned i = 0; i < l->ncpus; i++) {
        lapic_timer_stop(&l->cpus[i]);
    }
    g_free(l->cpus);
}

const struct dev_class dev_lapic_class = {
    .name = "lapic",
    .description = "local APICs, one per vCPU, at 0xFEE00000 (xAPIC)",
    .instance_size = sizeof(struct lapic),
    .realize = lapic_realize,
    .reset = lapic_reset,
    .destroy = lapic_destroy,
};
