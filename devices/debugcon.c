/*
 * devices/debugcon.c: the debug console at port 0xE9 (Bochs' "port e9
 * hack", QEMU's isa-debugcon).  Each 8-bit write appends one byte to the
 * machine's console output; reads return 0xE9, the value Bochs and QEMU
 * give back so a guest can detect the port.  Wider accesses are refused
 * by the bus (valid size 1) and counted as errors.
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

struct debugcon {
    struct dev dev;
    uint64_t base;
};

static enum mem_tx debugcon_read(void *opaque, uint64_t offset, unsigned size,
                                 uint64_t *val)
{
    *val = DEV_DEBUGCON_PORT;
    return MEM_TX_OK;
}

static enum mem_tx debugcon_write(void *opaque, uint64_t offset, unsigned size,
                                  uint64_t val)
{
    struct debugcon *con = opaque;
    uint8_t byte = (uint8_t)val;

    sim_vm_console_write(con->dev.vm, &byte, 1);
    return MEM_TX_OK;
}

static const struct io_region_ops debugcon_ops = {
    .read = debugcon_read,
    .write = debugcon_write,
    .valid = {1, 1},
    .impl = {1, 1},
};

static bool debugcon_realize(struct dev *dev, const struct dev_config *cfg,
                             GError **error)
{
    struct debugcon *con = container_of(dev, struct debugcon, dev);

    con->base = cfg->io_base != 0 ? cfg->io_base : DEV_DEBUGCON_PORT;
    return dev_region_add(dev, sim_vm_io(dev->vm), con->base, 1,
                          &debugcon_ops, con, error) != NULL;
}

const struct dev_class dev_debugcon_class = {
    .name = "debugcon",
    .description = "debug console: 8-bit writes to port 0xE9 are output",
    .instance_size = sizeof(struct debugcon),
    .realize = debugcon_realize,
};
