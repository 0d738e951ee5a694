/*
 * devices/postcode.c: the POST-code port at 0x80, as PC firmware uses it
 * for progress codes: a write of 1, 2 or 4 bytes stores the value, a read
 * returns the last value written.  It gives port-I/O tests and benchmarks
 * a device that does nothing else, so they measure the trap path itself.
 */
#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"

struct postcode {
    struct dev dev;
    uint64_t base;
    uint32_t value;
};

static enum mem_tx postcode_read(void *opaque, uint64_t offset, unsigned size,
                                 uint64_t *val)
{
    struct postcode *pc = opaque;

    *val = (pc->value >> (8 * offset)) &
           (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    return MEM_TX_OK;
}

static enum mem_tx postcode_write(void *opaque, uint64_t offset, unsigned size,
                                  uint64_t val)
{
    struct postcode *pc = opaque;

    if (offset != 0) {
        return MEM_TX_ERROR; /* 0x81-0x83 belong to other devices on PCs */
    }
    pc->value = (uint32_t)val;
    return MEM_TX_OK;
}

static const struct io_region_ops postcode_ops = {
    .read = postcode_read,
    .write = postcode_write,
    .valid = {1, 4},
    .impl = {1, 4},
};

static bool postcode_realize(struct dev *dev, const struct dev_config *cfg,
                             GError **error)
{
    struct postcode *pc = container_of(dev, struct postcode, dev);

    pc->base = cfg->io_base != 0 ? cfg->io_base : DEV_POSTCODE_PORT;
    return dev_region_add(dev, sim_vm_io(dev->vm), pc->base, 4,
                          &postcode_ops, pc, error) != NULL;
}

static void postcode_reset(struct dev *dev, enum dev_reset_kind kind)
{
    container_of(dev, struct postcode, dev)->value = 0;
}

const struct dev_class dev_postcode_class = {
    .name = "postcode",
    .description = "POST-code port 0x80: stores what is written",
    .instance_size = sizeof(struct postcode),
    .realize = postcode_realize,
    .reset = postcode_reset,
};
