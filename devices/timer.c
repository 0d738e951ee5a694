/*
 * devices/timer.c: a programmable interval timer of iovsim's own, at ports
 * 0x440-0x44F, so guests can sleep (HLT until its interrupt) and measure
 * time on the host's virtual clock.  Registers, 32-bit unless noted:
 *   0x0  delay in microseconds: a write arms the timer for that long from
 *        now (0 disarms it); reads return the last value written
 *   0x4  (8-bit) interrupt vector, 16..255, default 0x20
 *   0x8  (read-only) number of expirations so far
 *   0xC  period in microseconds: non-zero re-arms the timer at each
 *        expiry; 0 makes it one-shot
 * On expiry it raises its vector at the vCPU (sim_vm_raise_irq).
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define TIMER_DEFAULT_VECTOR 0x20

struct timer {
    struct dev dev;
    uint64_t base;
    uint32_t delay_us, period_us, count;
    uint8_t vector;
    uint64_t event; /* scheduled expiry, 0 if none */
    uint64_t due;   /* the cycle it is scheduled for */
};

static void timer_schedule(struct timer *t, uint64_t when);

/*
 * A periodic timer keeps its own beat: the next expiry is one period after
 * this one was due, however late the machine got to it, so expirations a
 * busy guest could not take in time are still counted (and their
 * interrupts merge into the pending one).
 */
static void timer_expire(void *opaque)
{
    struct timer *t = opaque;
    struct sim_vm *vm = t->dev.vm;

    t->event = 0;
    t->count++;
    sim_vm_raise_irq(vm, t->vector);
    if (t->period_us != 0) {
        timer_schedule(t, t->due + sim_vm_us_to_cycles(vm, t->period_us));
    }
}

static void timer_schedule(struct timer *t, uint64_t when)
{
    struct sim_vm *vm = t->dev.vm;

    if (t->event != 0) {
        sim_vm_unschedule(vm, t->event);
        t->event = 0;
    }
    t->due = when;
    t->event = sim_vm_schedule(vm, when, timer_expire, t);
}

/* Arms the timer @us microseconds from now (0 disarms it). */
static void timer_arm(struct timer *t, uint32_t us)
{
    struct sim_vm *vm = t->dev.vm;

    if (us == 0) {
        if (t->event != 0) {
            sim_vm_unschedule(vm, t->event);
            t->event = 0;
        }
        return;
    }
    timer_schedule(t, sim_vm_now(vm) + sim_vm_us_to_cycles(vm, us));
}

static enum mem_tx timer_read(void *opaque, uint64_t offset, unsigned size,
                              uint64_t *val)
{
    struct timer *t = opaque;

    switch (offset) {
    case 0x0:
        *val = t->delay_us;
        return MEM_TX_OK;
    case 0x4:
        *val = t->vector;
        return MEM_TX_OK;
    case 0x8:
        *val = t->count;
        return MEM_TX_OK;
    case 0xc:
        *val = t->period_us;
        return MEM_TX_OK;
    default:
        return MEM_TX_ERROR;
    }
}

static enum mem_tx timer_write(void *opaque, uint64_t offset, unsigned size,
                               uint64_t val)
{
    struct timer *t = opaque;

    switch (offset) {
    case 0x0:
        t->delay_us = (uint32_t)val;
        timer_arm(t, t->delay_us);
        return MEM_TX_OK;
    case 0x4:
        if (val < 16 || val > 255) {
            return MEM_TX_ERROR; /* vectors 0-15 are exceptions */
        }
        t->vector = (uint8_t)val;
        return MEM_TX_OK;
    case 0xc:
        t->period_us = (uint32_t)val;
        return MEM_TX_OK;
    default:
        return MEM_TX_ERROR;
    }
}

static const struct io_region_ops timer_ops = {
    .read = timer_read,
    .write = timer_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

static bool timer_realize(struct dev *dev, const struct dev_config *cfg,
                          GError **error)
{
    struct timer *t = container_of(dev, struct timer, dev);

    t->base = cfg->io_base != 0 ? cfg->io_base : DEV_TIMER_PORT;
    t->vector = TIMER_DEFAULT_VECTOR;
    return dev_region_add(dev, sim_vm_io(dev->vm), t->base, 16,
                          &timer_ops, t, error) != NULL;
}

static void timer_reset(struct dev *dev, enum dev_reset_kind kind)
{
    struct timer *t = container_of(dev, struct timer, dev);

    timer_arm(t, 0);
    t->delay_us = t->period_us = t->count = 0;
    t->vector = TIMER_DEFAULT_VECTOR;
}

const struct dev_class dev_timer_class = {
    .name = "timer",
    .description = "interval timer at ports 0x440-0x44F (microseconds)",
    .instance_size = sizeof(struct timer),
    .realize = timer_realize,
    .reset = timer_reset,
};
