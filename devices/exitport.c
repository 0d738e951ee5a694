/*
 * devices/exitport.c: the exit port at 0xF4.  A write records its value
 * as the guest's exit status and asks the machine to stop after the
 * instruction (the machine's io_out callback then returns CPU_STOP).  The
 * guest ABI says a 32-bit write; 8- and 16-bit writes are accepted and
 * zero-extended.  The device reserves ports 0xF4-0xF7 (the bytes of a
 * 32-bit port); writes that start at 0xF5-0xF7 are refused.  Unlike
 * QEMU's isa-debug-exit the value is the status itself, not
 * (value << 1) | 1.  Reads return 0.
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

struct exitport {
    struct dev dev;
    uint64_t base;
};

static enum mem_tx exitport_read(void *opaque, uint64_t offset, unsigned size,
                                 uint64_t *val)
{
    *val = 0;
    return MEM_TX_OK;
}

static enum mem_tx exitport_write(void *opaque, uint64_t offset, unsigned size,
                                  uint64_t val)
{
    struct exitport *ep = opaque;

    if (offset != 0) {
        return MEM_TX_ERROR; /* 0xF5-0xF7: reserved, not the exit port */
    }
    sim_vm_exit(ep->dev.vm, (uint32_t)val);
    return MEM_TX_OK;
}

static const struct io_region_ops exitport_ops = {
    .read = exitport_read,
    .write = exitport_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

static bool exitport_realize(struct dev *dev, const struct dev_config *cfg,
                             GError **error)
{
    struct exitport *ep = container_of(dev, struct exitport, dev);

    ep->base = cfg->io_base != 0 ? cfg->io_base : DEV_EXITPORT_PORT;
    return dev_region_add(dev, sim_vm_io(dev->vm), ep->base, 4,
                          &exitport_ops, ep, error) != NULL;
}

const struct dev_class dev_exitport_class = {
    .name = "exitport",
    .description = "exit port: a 32-bit write to port 0xF4 ends the run",
    .instance_size = sizeof(struct exitport),
    .realize = exitport_realize,
};
