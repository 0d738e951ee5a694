/*
 * devices/pci-test.c: iovsim's own PCI test device, for tests and
 * teaching: a DMA engine that copies between guest memory (a
 * scatter-gather list) and a 2 KiB buffer of its own, completing each
 * command after a programmable simulated delay with an interrupt.
 *
 * PCI 00:01.0, IDs 1234:1050, class ff/00 (unassigned), INTA# wired to
 * I/O APIC pin 17 (Interrupt Line 17, as firmware would route it).
 * BAR0: 4 KiB of registers (32-bit accesses; the buffer also bytes).
 * BAR2: 4 KiB holding the MSI-X table (2 vectors) at 0 and its PBA at
 * 0x800.  Capabilities: PCI Express endpoint, MSI (1 vector, 64-bit,
 * maskable), MSI-X.  Completion signals vector 0 by MSI-X or MSI when
 * one is enabled, else asserts INTA# (level) while DONE or ERROR is set,
 * unless Command disables INTx.
 *
 *   0x00 IDENT        RO  0x7e570001
 *   0x04 SCRATCH      RW  no effect
 *   0x08 STATUS       bit 0 BUSY (RO), bit 1 DONE and bit 2 ERROR (RW1C)
 *   0x0C COMMAND      W   1 START (ignored while BUSY), 2 INTERRUPT now
 *   0x10 SG_ADDR_LO   RW  guest address of the scatter-gather list
 *   0x14 SG_ADDR_HI   RW
 *   0x18 SG_COUNT     RW  entries, 1 to 16
 *   0x1C DIRECTION    RW  0: guest memory to buffer, 1: buffer to memory
 *   0x20 DELAY_NS     RW  simulated time from START to completion
 *                         (default 1000)
 *   0x24 DONE_BYTES   RO  bytes the last command moved
 *   0x28 FAULT_LO     RO  with ERROR: the first guest address out of
 *                         bounds (0 without bus mastering; the list's
 *                         address when it was bad or over-long)
 *   0x2C FAULT_HI     RO
 *   0x30 COMPLETIONS  RO  commands completed (with or without error)
 *   0x800-0xFFF       the buffer
 * A scatter-gather entry is 16 bytes in guest memory: the address (64
 * bits), the length (32 bits), 32 reserved bits.  START reads the list
 * by DMA; at completion the data moves by DMA, at most the buffer's size
 * in all.  Every DMA needs bus mastering in Command; a transfer the DMA
 * path refuses (outside the VM's memory) moves nothing and ends the
 * command with ERROR.
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define TEST_IDENT 0x7e570001u
#define TEST_BUF_OFFSET 0x800u
#define TEST_BUF_SIZE 0x800u
#define TEST_SG_MAX 16u
#define TEST_STATUS_BUSY 1u
#define TEST_STATUS_DONE 2u
#define TEST_STATUS_ERROR 4u
#define TEST_CMD_START 1u
#define TEST_CMD_INTERRUPT 2u
#define TEST_INTX_PIN 17u

enum test_reg {
    TEST_REG_IDENT = 0x00,
    TEST_REG_SCRATCH = 0x04,
    TEST_REG_STATUS = 0x08,
    TEST_REG_COMMAND = 0x0c,
    TEST_REG_SG_LO = 0x10,
    TEST_REG_SG_HI = 0x14,
    TEST_REG_SG_COUNT = 0x18,
    TEST_REG_DIRECTION = 0x1c,
    TEST_REG_DELAY_NS = 0x20,
    TEST_REG_DONE_BYTES = 0x24,
    TEST_REG_FAULT_LO = 0x28,
    TEST_REG_FAULT_HI = 0x2c,
    TEST_REG_COMPLETIONS = 0x30,
};

struct pci_test {
    struct dev dev;
    struct pci_function *fn;
    uint32_t scratch, status, sg_count, direction, delay_ns, done_bytes;
    uint32_t completions;
    uint64_t sg_addr, fault_addr;
    struct sim_dma_seg segs[TEST_SG_MAX]; /* the list START read */
    unsigned nsegs;
    uint64_t event; /* the pending completion, 0: none */
    uint8_t buf[TEST_BUF_SIZE];
};

/* INTA#: asserted while a completion waits to be cleared (MSI off). */
static void test_intx_update(struct pci_test *t)
{
    bool pending = (t->status & (TEST_STATUS_DONE | TEST_STATUS_ERROR)) != 0 &&
                   !pci_msi_enabled(t->fn);
    struct dev_irq_line line = {sim_vm_ioapic(t->dev.vm), TEST_INTX_PIN};
    bool allowed = pci_intx_status(t->fn, pending);

    dev_irq_line_set(&line, pending && allowed);
}

static void test_interrupt_changed(void *opaque)
{
    test_intx_update(opaque);
}

static bool test_bus_master(const struct pci_test *t)
{
    return pci_config_read(t->fn, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

static bool test_dma(struct pci_test *t, struct sim_dma_seg *segs,
                     unsigned n, void *buf, bool write, uint64_t *fault)
{
    return sim_vm_dma(t->dev.vm, t->dev.trace_id, pci_function_rid(t->fn),
                      segs, n, buf, write, fault);
}

/* The command ends: DONE or ERROR, and vector 0. */
static void test_finish(struct pci_test *t, bool ok, uint64_t fault)
{
    t->status &= ~TEST_STATUS_BUSY;
    t->status |= ok ? TEST_STATUS_DONE : TEST_STATUS_ERROR;
    t->fault_addr = ok ? 0 : fault;
    t->completions++;
    if (pci_msi_enabled(t->fn)) {
        pci_msi_notify(t->fn, 0);
    }
    test_intx_update(t);
}

static void test_complete(void *opaque)
{
    struct pci_test *t = opaque;
    uint64_t total = 0, fault = 0;

    t->event = 0;
    t->done_bytes = 0;
    for (unsigned i = 0; i < t->nsegs; i++) {
        total += t->segs[i].len;
    }
    if (total > TEST_BUF_SIZE || !test_bus_master(t)) {
        test_finish(t, false, total > TEST_BUF_SIZE ? t->sg_addr : 0);
        return;
    }
    if (!test_dma(t, t->segs, t->nsegs, t->buf, t->direction != 0,
                  &fault)) {
        test_finish(t, false, fault);
        return;
    }
    t->done_bytes = (uint32_t)total;
    test_finish(t, true, 0);
}

/* START: read the scatter-gather list now, move the data at completion. */
static void test_start(struct pci_test *t)
{
    uint8_t raw[TEST_SG_MAX * 16];
    struct sim_dma_seg list = {t->sg_addr, (uint64_t)t->sg_count * 16};
    struct sim_vm *vm = t->dev.vm;

    t->status &= ~(TEST_STATUS_DONE | TEST_STATUS_ERROR);
    test_intx_update(t);
    if (t->sg_count == 0 || t->sg_count > TEST_SG_MAX ||
        !test_bus_master(t) || !test_dma(t, &list, 1, raw, false, NULL)) {
        test_finish(t, false, t->sg_addr);
        return;
    }
    t->nsegs = t->sg_count;
    for (unsigned i = 0; i < t->nsegs; i++) {
        uint64_t addr;
        uint32_t len;

        memcpy(&addr, raw + 16 * i, 8);
        memcpy(&len, raw + 16 * i + 8, 4);
        t->segs[i] = (struct sim_dma_seg){addr, len};
    }
    t->status |= TEST_STATUS_BUSY;
    t->event = sim_vm_schedule(
        vm, sim_vm_now(vm) + sim_vm_us_to_cycles(vm, 1) * t->delay_ns / 1000,
        test_complete, t);
}

static enum mem_tx test_read(void *opaque, uint64_t offset, unsigned size,
                             uint64_t *val)
{
    struct pci_test *t = opaque;

    if (offset >= TEST_BUF_OFFSET) {
        *val = 0;
        memcpy(val, t->buf + (offset - TEST_BUF_OFFSET), size);
        return MEM_TX_OK;
    }
    switch (offset) {
    case TEST_REG_IDENT:
        *val = TEST_IDENT;
        break;
    case TEST_REG_SCRATCH:
        *val = t->scratch;
        break;
    case TEST_REG_STATUS:
        *val = t->status;
        break;
    case TEST_REG_SG_LO:
        *val = (uint32_t)t->sg_addr;
        break;
    case TEST_REG_SG_HI:
        *val = (uint32_t)(t->sg_addr >> 32);
        break;
    case TEST_REG_SG_COUNT:
        *val = t->sg_count;
        break;
    case TEST_REG_DIRECTION:
        *val = t->direction;
        break;
    case TEST_REG_DELAY_NS:
        *val = t->delay_ns;
        break;
    case TEST_REG_DONE_BYTES:
        *val = t->done_bytes;
        break;
    case TEST_REG_FAULT_LO:
        *val = (uint32_t)t->fault_addr;
        break;
    case TEST_REG_FAULT_HI:
        *val = (uint32_t)(t->fault_addr >> 32);
        break;
    case TEST_REG_COMPLETIONS:
        *val = t->completions;
        break;
    default:
        *val = 0; /* COMMAND and reserved registers read 0 */
        break;
    }
    return MEM_TX_OK;
}

static enum mem_tx test_write(void *opaque, uint64_t offset, unsigned size,
                              uint64_t val)
{
    struct pci_test *t = opaque;
    uint32_t v = (uint32_t)val;

    if (offset >= TEST_BUF_OFFSET) {
        memcpy(t->buf + (offset - TEST_BUF_OFFSET), &val, size);
        return MEM_TX_OK;
    }
    if (size != 4) {
        return MEM_TX_ERROR; /* registers are 32-bit */
    }
    switch (offset) {
    case TEST_REG_SCRATCH:
        t->scratch = v;
        break;
    case TEST_REG_STATUS:
        t->status &= ~(v & (TEST_STATUS_DONE | TEST_STATUS_ERROR));
        test_intx_update(t);
        break;
    case TEST_REG_COMMAND:
        if ((v & TEST_CMD_START) && !(t->status & TEST_STATUS_BUSY)) {
            test_start(t);
        }
        if (v & TEST_CMD_INTERRUPT) {
            pci_msi_notify(t->fn, 0);
        }
        break;
    case TEST_REG_SG_LO:
        t->sg_addr = (t->sg_addr & ~UINT64_C(0xffffffff)) | v;
        break;
    case TEST_REG_SG_HI:
        t->sg_addr = (t->sg_addr & 0xffffffffu) | (uint64_t)v << 32;
        break;
    case TEST_REG_SG_COUNT:
        t->sg_count = v;
        break;
    case TEST_REG_DIRECTION:
        t->direction = v & 1;
        break;
    case TEST_REG_DELAY_NS:
        t->delay_ns = v;
        break;
    default:
        break; /* read-only and reserved: dropped */
    }
    return MEM_TX_OK;
}

static const struct io_region_ops test_ops = {
    .read = test_read,
    .write = test_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

static bool pci_test_realize(struct dev *dev, const struct dev_config *cfg,
                             GError **error)
{
    static const struct pci_id id = {
        .vendor = DEV_PCI_VENDOR,
        .device = DEV_PCI_TEST_DEVICE,
        .class_code = 0xff0000,
        .revision = 1,
        .subsystem_vendor = DEV_PCI_VENDOR,
        .subsystem = 1,
        .interrupt_pin = 1,
    };
    struct pci_test *t = container_of(dev, struct pci_test, dev);
    struct bus_region_attrs attrs = {dev, dev->trace_id, dev->trap_cycles};

    t->delay_ns = 1000;
    t->fn = pci_function_add(sim_vm_pci(dev->vm), PCI_DEVFN(1, 0), dev->id,
                             &id, &attrs, error);
    if (t->fn == NULL) {
        return false;
    }
    pci_config_init(t->fn, PCI_INTERRUPT_LINE, 1, TEST_INTX_PIN, 0xff, 0);
    pci_function_on_interrupt(t->fn, test_interrupt_changed, t);
    if (!pci_bar_declare(t->fn, 0, PCI_BAR_MEM32, 0x1000, false, &test_ops, t,
                         error) ||
        !pci_bar_declare(t->fn, 2, PCI_BAR_MEM32, 0x1000, false, NULL, NULL,
                         error) ||
        pci_express_add(t->fn, 0) == 0 || pci_msi_add(t->fn, 1, true, true) == 0 ||
        pci_msix_add(t->fn, 2, 2, 0, 0x800, error) == 0) {
        if (error != NULL && *error == NULL) {
            g_set_error(error, DEV_ERROR, DEV_ERROR_REALIZE,
                        "no room for its capabilities");
        }
        pci_function_remove(t->fn);
        return false;
    }
    return true;
}

static void pci_test_reset(struct dev *dev, enum dev_reset_kind kind)
{
    struct pci_test *t = container_of(dev, struct pci_test, dev);

    if (t->event != 0) {
        sim_vm_unschedule(dev->vm, t->event);
        t->event = 0;
    }
    t->scratch = t->status = t->sg_count = t->direction = 0;
    t->done_bytes = t->completions = 0;
    t->sg_addr = t->fault_addr = 0;
    t->delay_ns = 1000;
    memset(t->buf, 0, sizeof(t->buf));
}

static void pci_test_destroy(struct dev *dev)
{
    struct pci_test *t = container_of(dev, struct pci_test, dev);

    if (t->event != 0) {
        sim_vm_unschedule(dev->vm, t->event);
    }
    pci_function_remove(t->fn);
}

const struct dev_class dev_pci_test_class = {
    .name = "pci-test",
    .description = "PCI test device 00:01.0: DMA engine, MSI and MSI-X",
    .instance_size = sizeof(struct pci_test),
    .realize = pci_test_realize,
    .reset = pci_test_reset,
    .destroy = pci_test_destroy,
};
