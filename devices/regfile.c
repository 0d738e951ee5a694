/*
 * devices/regfile.c: an MMIO register file for tests and benchmarks: 4 KiB
 * of device registers at guest-physical DEV_REGFILE_BASE, just above the
 * largest RAM a machine may have.  Registers behave like memory (a read
 * returns what was written, in little-endian bytes), so an instruction's
 * effect on them can be checked against the same instruction run by the
 * host on ordinary memory; accesses of 1, 2, 4 and 8 bytes at any offset
 * are allowed.  What makes it a device: every access is counted, and
 * under the VMM every access traps.
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

#define REGFILE_SIZE 4096u

struct regfile {
    struct dev dev;
    uint64_t base;
    uint8_t regs[REGFILE_SIZE];
    uint64_t reads, writes;
};

static enum mem_tx regfile_read(void *opaque, uint64_t offset, unsigned size,
                                uint64_t *val)
{
    struct regfile *rf = opaque;
    uint64_t v = 0;

    if (offset + size > REGFILE_SIZE) {
        return MEM_TX_ERROR;
    }
    memcpy(&v, rf->regs + offset, size);
    *val = v;
    rf->reads++;
    return MEM_TX_OK;
}

static enum mem_tx regfile_write(void *opaque, uint64_t offset, unsigned size,
                                 uint64_t val)
{
    struct regfile *rf = opaque;

    if (offset + size > REGFILE_SIZE) {
        return MEM_TX_ERROR;
    }
    memcpy(rf->regs + offset, &val, size);
    rf->writes++;
    return MEM_TX_OK;
}

static const struct io_region_ops regfile_ops = {
    .read = regfile_read,
    .write = regfile_write,
    .valid = {1, 8},
    .impl = {1, 8},
};

static bool regfile_realize(struct dev *dev, const struct dev_config *cfg,
                            GError **error)
{
    struct regfile *rf = container_of(dev, struct regfile, dev);

    rf->base = cfg->io_base != 0 ? cfg->io_base : DEV_REGFILE_BASE;
    return dev_region_add(dev, sim_vm_mmio(dev->vm), rf->base,
                          REGFILE_SIZE, &regfile_ops, rf, error) != NULL;
}

static void regfile_reset(struct dev *dev, enum dev_reset_kind kind)
{
    struct regfile *rf = container_of(dev, struct regfile, dev);

    memset(rf->regs, 0, sizeof(rf->regs));
}

const struct dev_class dev_regfile_class = {
    .name = "regfile",
    .description = "MMIO register file: 4 KiB of memory-like registers",
    .instance_size = sizeof(struct regfile),
    .realize = regfile_realize,
    .reset = regfile_reset,
};
