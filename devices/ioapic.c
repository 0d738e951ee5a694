/*
 * devices/ioapic.c: the I/O APIC of a VM, an 82093AA-like one with 24
 * pins (../shared/spec/devices.md §6), at 0xFEC00000:
 *   +0x00 IOREGSEL  the register index (8 bits)
 *   +0x10 IOWIN     the selected 32-bit register
 * Registers: 0x00 ID (bits 27:24), 0x01 version (0x00170011: version 0x11,
 * 24 entries), 0x02 arbitration ID, 0x10 + 2n / 0x11 + 2n redirection
 * entry n, low / high dword.  An entry: vector (7:0), delivery mode
 * (10:8), destination mode (11), delivery status (12, read-only),
 * polarity (13), remote IRR (14, read-only), trigger mode (15), mask (16,
 * set at reset), destination APIC ID (63:56).
 *
 * Devices drive its pins through IRQ lines (dev_irq_line_set).  An
 * edge-triggered pin sends its interrupt on each assertion; a
 * level-triggered one sends while asserted and not already in service
 * (remote IRR), and again after the local APIC's EOI of its vector if it
 * is still asserted.  A masked pin sends nothing; unmasking a level pin
 * that is asserted sends.  Fixed and lowest-priority messages with a
 * physical destination reach the local APICs; logical destinations,
 * NMI, INIT, SMI and ExtINT are counted and dropped, not modelled yet.
 * Polarity only says how the pin is wired: lines are driven as asserted
 * or not.
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define IOAPIC_BASE UINT64_C(0xfec00000)
#define IOAPIC_SIZE 0x20
#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x00170011u
#define RTE_MASK (UINT64_C(1) << 16)
#define RTE_LEVEL (UINT64_C(1) << 15)
#define RTE_REMOTE_IRR (UINT64_C(1) << 14)
#define RTE_DELIVERY_STATUS (UINT64_C(1) << 12)
/* What software may write: all but delivery status and remote IRR. */
#define RTE_WMASK (UINT64_C(0xff00000000000000) | 0x1afffu)

struct ioapic {
    struct dev dev;
    uint32_t id;
    uint8_t regsel;
    uint64_t rte[IOAPIC_PINS];
    uint32_t asserted; /* pin levels, bit per pin */
    uint64_t dropped;  /* messages the model does not deliver */
};

/* Sends pin @pin's interrupt if its entry lets it. */
static void ioapic_service(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->rte[pin];
    unsigned mode = (rte >> 8) & 7;
    struct dev *lapic = sim_vm_lapic(io->dev.vm);

    if (rte & RTE_MASK) {
        return;
    }
    if ((rte & RTE_LEVEL) && (rte & RTE_REMOTE_IRR)) {
        return; /* in service until the EOI */
    }
    if (mode > 1 || (rte & (1u << 11)) || lapic == NULL ||
        !dev_lapic_deliver(lapic, (unsigned)(rte >> 56), rte & 0xff,
                           (rte & RTE_LEVEL) != 0)) {
        io->dropped++;
        return;
    }
    if (rte & RTE_LEVEL) {
        io->rte[pin] |= RTE_REMOTE_IRR;
    }
}

bool dev_irq_line_set(const struct dev_irq_line *line, bool level)
{
    struct ioapic *io;
    uint32_t bit;
    bool was;

    if (line == NULL || line->ctrl == NULL || line->pin >= IOAPIC_PINS) {
        return false;
    }
    io = container_of(line->ctrl, struct ioapic, dev);
    bit = 1u << line->pin;
    was = io->asserted & bit;
    io->asserted = level ? io->asserted | bit : io->asserted & ~bit;
    /* Edge: each assertion; level: while asserted. */
    if (level && (!was || (io->rte[line->pin] & RTE_LEVEL))) {
        ioapic_service(io, line->pin);
    }
    return true;
}

void dev_ioapic_eoi(struct dev *dev, unsigned vector)
{
    struct ioapic *io = container_of(dev, struct ioapic, dev);

    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        if ((io->rte[pin] & RTE_REMOTE_IRR) && (io->rte[pin] & 0xff) == vector) {
            io->rte[pin] &= ~RTE_REMOTE_IRR;
            if (io->asserted & (1u << pin)) {
                ioapic_service(io, pin);
            }
        }
    }
}

static uint32_t ioapic_reg_read(const struct ioapic *io)
{
    unsigned r = io->regsel;

    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
        uint64_t rte = io->rte[(r - 0x10) / 2];

        return r & 1 ? (uint32_t)(rte >> 32) : (uint32_t)rte;
    }
    switch (r) {
    case 0x00:
        return io->id << 24;
    case 0x01:
        return IOAPIC_VERSION;
    case 0x02:
        return io->id << 24;
    default:
        return 0;
    }
}

static void ioapic_reg_write(struct ioapic *io, uint32_t v)
{
    unsigned r = io->regsel;

    if (r == 0x00) {
        io->id = (v >> 24) & 0xf;
    } else if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
        unsigned pin = (r - 0x10) / 2;
        uint64_t old = io->rte[pin];
        uint64_t nv = r & 1 ? (old & 0xffffffffu) | (uint64_t)v << 32
                            : (old & ~UINT64_C(0xffffffff)) | v;

        io->rte[pin] = (nv & RTE_WMASK) | (old & RTE_REMOTE_IRR);
        /* Edge-triggered: no remote IRR. */
        if (!(io->rte[pin] & RTE_LEVEL)) {
            io->rte[pin] &= ~RTE_REMOTE_IRR;
        }
        /* A level pin asserted and now unmasked sends. */
        if ((old & RTE_MASK) && !(io->rte[pin] & RTE_MASK) &&
            (io->rte[pin] & RTE_LEVEL) && (io->asserted & (1u << pin))) {
            ioapic_service(io, pin);
        }
    }
    /* Version, arbitration and reserved registers are read-only. */
}

static enum mem_tx ioapic_read(void *opaque, uint64_t offset, unsigned size,
                               uint64_t *val)
{
    struct ioapic *io = opaque;

    *val = offset == 0x00 ? io->regsel : offset == 0x10 ? ioapic_reg_read(io)
                                                        : 0;
    return MEM_TX_OK;
}

static enum mem_tx ioapic_write(void *opaque, uint64_t offset, unsigned size,
                                uint64_t val)
{
    struct ioapic *io = opaque;

    if (offset == 0x00) {
        io->regsel = (uint8_t)val;
    } else if (offset == 0x10) {
        ioapic_reg_write(io, (uint32_t)val);
    }
    return MEM_TX_OK;
}

static const struct io_region_ops ioapic_ops = {
    .read = ioapic_read,
    .write = ioapic_write,
    .valid = {4, 4},
    .impl = {4, 4},
};

static void ioapic_reset(struct dev *dev, enum dev_reset_kind kind)
{
    struct ioapic *io = container_of(dev, struct ioapic, dev);

    io->regsel = 0;
    io->asserted = 0;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        io->rte[pin] = RTE_MASK;
    }
}

static bool ioapic_realize(struct dev *dev, const struct dev_config *cfg,
                           GError **error)
{
    struct ioapic *io = container_of(dev, struct ioapic, dev);

    ioapic_reset(dev, DEV_RESET_COLD);
    /* The ID after the local APICs' (MADT: sim/firmware.c). */
    io->id = sim_vm_vcpu_count(dev->vm) & 0xf;
    if (dev_region_add(dev, sim_vm_mmio(dev->vm), IOAPIC_BASE, IOAPIC_SIZE,
                       &ioapic_ops, io, error) == NULL) {
        return false;
    }
    sim_vm_set_ioapic(dev->vm, dev);
    return true;
}

const struct dev_class dev_ioapic_class = {
    .name = "ioapic",
    .description = "I/O APIC, 24 pins, at 0xFEC00000",
    .instance_size = sizeof(struct ioapic),
    .realize = ioapic_realize,
    .reset = ioapic_reset,
};
