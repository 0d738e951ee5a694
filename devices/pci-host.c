/*
 * devices/pci-host.c: the PCI host bridge of a VM: function 00:00.0
 * (class 06/00) on the VM's PCI bus 0, and the two ways the guest reaches
 * configuration space (../shared/spec/pci.md §1):
 *   0xCF8  CONFIG_ADDRESS, latched by 32-bit accesses only: bit 31
 *          enable, 23:16 bus, 15:11 device, 10:8 function, 7:2 register
 *   0xCFC  CONFIG_DATA, 0xCFC-0xCFF: bytes of the selected dword
 *   ECAM   DEV_PCI_ECAM_BASE, 256 MiB: bus << 20 | device << 15 |
 *          function << 12 | offset, the whole 4 KiB of each function
 * An absent function (or any bus but 0) reads all-ones and drops writes.
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define PCI_HOST_ADDR_PORT 0xcf8
#define PCI_HOST_DATA_PORT 0xcfc
#define PCI_HOST_ECAM_SIZE (UINT64_C(256) << 20)

struct pci_host {
    struct dev dev;
    struct pci_bus *bus;      /* the VM's, borrowed */
    struct pci_function *fn;  /* 00:00.0 */
    uint32_t config_address;  /* the last 32-bit write to 0xCF8 */
};

/* The function a bus/devfn names, or NULL (only bus 0 exists). */
static struct pci_function *host_function(struct pci_host *h, unsigned bus,
                                          unsigned devfn)
{
    return bus == pci_bus_number(h->bus) ? pci_bus_function(h->bus, devfn)
                                         : NULL;
}

static enum mem_tx addr_read(void *opaque, uint64_t offset, unsigned size,
                             uint64_t *val)
{
    struct pci_host *h = opaque;

    /* Byte and word accesses are not CONFIG_ADDRESS (0xCF9 is a reset
     * register on PC chipsets, not modelled): all-ones. */
    *val = size == 4 ? h->config_address : UINT32_MAX;
    return MEM_TX_OK;
}

static enum mem_tx addr_write(void *opaque, uint64_t offset, unsigned size,
                              uint64_t val)
{
    struct pci_host *h = opaque;

    if (size == 4) {
        h->config_address = (uint32_t)val & 0x80fffffc;
    }
    return MEM_TX_OK;
}

static const struct io_region_ops addr_ops = {
    .read = addr_read,
    .write = addr_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

/* The function and register CONFIG_ADDRESS selects, if enabled. */
static struct pci_function *data_target(struct pci_host *h, unsigned *reg)
{
    uint32_t a = h->config_address;

    if (!(a & 0x80000000u)) {
        return NULL;
    }
    *reg = a & 0xfc;
    return host_function(h, (a >> 16) & 0xff, (a >> 8) & 0xff);
}

static enum mem_tx data_read(void *opaque, uint64_t offset, unsigned size,
                             uint64_t *val)
{
    struct pci_host *h = opaque;
    unsigned reg = 0;
    struct pci_function *fn = data_target(h, &reg);

    *val = fn != NULL && offset + size <= 4
               ? pci_config_read(fn, reg + (unsigned)offset, size)
               : UINT32_MAX;
    return MEM_TX_OK;
}

static enum mem_tx data_write(void *opaque, uint64_t offset, unsigned size,
                              uint64_t val)
{
    struct pci_host *h = opaque;
    unsigned reg = 0;
    struct pci_function *fn = data_target(h, &reg);

    if (fn != NULL && offset + size <= 4) {
        pci_config_write(fn, reg + (unsigned)offset, size, (uint32_t)val);
    }
    return MEM_TX_OK;
}

static const struct io_region_ops data_ops = {
    .read = data_read,
    .write = data_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

/* ECAM: accesses of 1, 2 or 4 bytes aligned to their size. */
static struct pci_function *ecam_target(struct pci_host *h, uint64_t offset,
                                        unsigned size)
{
    if (offset % size != 0) {
        return NULL;
    }
    return host_function(h, (unsigned)(offset >> 20) & 0xff,
                         (unsigned)(offset >> 12) & 0xff);
}

static enum mem_tx ecam_read(void *opaque, uint64_t offset, unsigned size,
                             uint64_t *val)
{
    struct pci_function *fn = ecam_target(opaque, offset, size);

    *val = fn != NULL ? pci_config_read(fn, offset & 0xfff, size)
                      : UINT32_MAX;
    return MEM_TX_OK;
}

static enum mem_tx ecam_write(void *opaque, uint64_t offset, unsigned size,
                              uint64_t val)
{
    struct pci_function *fn = ecam_target(opaque, offset, size);

    if (fn != NULL) {
        pci_config_write(fn, offset & 0xfff, size, (uint32_t)val);
    }
    return MEM_TX_OK;
}

static const struct io_region_ops ecam_ops = {
    .read = ecam_read,
    .write = ecam_write,
    .valid = {1, 8},
    .impl = {1, 4}, /* an 8-byte access is two dwords */
};

static bool pci_host_realize(struct dev *dev, const struct dev_config *cfg,
                             GError **error)
{
    struct pci_host *h = container_of(dev, struct pci_host, dev);
    static const struct pci_id bridge = {
        .vendor = DEV_PCI_VENDOR,
        .device = DEV_PCI_HOST_DEVICE,
        .class_code = 0x060000,
    };

    h->bus = sim_vm_pci(dev->vm);
    h->fn = pci_function_add(h->bus, PCI_DEVFN(0, 0), dev->id, &bridge, NULL,
                             error);
    if (h->fn == NULL) {
        return false;
    }
    /* dev_new takes the windows away again if one fails. */
    if (dev_region_add(dev, sim_vm_io(dev->vm), PCI_HOST_ADDR_PORT, 4,
                       &addr_ops, h, error) == NULL ||
        dev_region_add(dev, sim_vm_io(dev->vm), PCI_HOST_DATA_PORT, 4,
                       &data_ops, h, error) == NULL ||
        dev_region_add(dev, sim_vm_mmio(dev->vm), DEV_PCI_ECAM_BASE,
                       PCI_HOST_ECAM_SIZE, &ecam_ops, h, error) == NULL) {
        pci_function_remove(h->fn);
        return false;
    }
    return true;
}

static void pci_host_reset(struct dev *dev, enum dev_reset_kind kind)
{
    container_of(dev, struct pci_host, dev)->config_address = 0;
}

static void pci_host_destroy(struct dev *dev)
{
    struct pci_host *h = container_of(dev, struct pci_host, dev);

    if (h->fn != NULL) {
        pci_function_remove(h->fn);
    }
}

const struct dev_class dev_pci_host_class = {
    .name = "pci-host",
    .description = "PCI host bridge 00:00.0: ports 0xCF8/0xCFC and ECAM",
    .instance_size = sizeof(struct pci_host),
    .realize = pci_host_realize,
    .reset = pci_host_reset,
    .destroy = pci_host_destroy,
};
