/*
 * devices/registry.c: the table of device classes, expanded from
 * devices/devices.def, and the generic create/reset/free of a device.
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "devices/devices.h"

#define DEV_CLASS(sym) extern const struct dev_class sym;
#include "devices/devices.def"
#undef DEV_CLASS

static const struct dev_class *const dev_classes[] = {
#define DEV_CLASS(sym) &sym,
#include "devices/devices.def"
#undef DEV_CLASS
};

G_DEFINE_QUARK(dev - error - quark, dev_error)

size_t dev_class_count(void)
{
    return SIM_ARRAY_SIZE(dev_classes);
}

const struct dev_class *dev_class_at(size_t i)
{
    g_assert(i < SIM_ARRAY_SIZE(dev_classes));
    return dev_classes[i];
}

const struct dev_class *dev_class_find(const char *name)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(dev_classes); i++) {
        if (strcmp(dev_classes[i]->name, name) == 0) {
            return dev_classes[i];
        }
    }
    return NULL;
}

/* Takes the device's windows off their spaces, newest first. */
static void dev_remove_regions(struct dev *dev)
{
    while (dev->regions->len >= 2) {
        guint n = dev->regions->len;

        bus_region_remove(g_ptr_array_index(dev->regions, n - 2),
                          g_ptr_array_index(dev->regions, n - 1));
        g_ptr_array_set_size(dev->regions, n - 2);
    }
}

struct dev *dev_new(const char *class_name, struct sim_vm *vm,
                    const struct dev_config *cfg, GError **error)
{
    static const struct dev_config defaults = {0};
    const struct dev_class *cls = dev_class_find(class_name);
    struct dev *dev;

    if (cls == NULL) {
        g_set_error(error, DEV_ERROR, DEV_ERROR_NO_CLASS,
                    "unknown device class '%s'", class_name);
        return NULL;
    }
    if (cfg == NULL) {
        cfg = &defaults;
    }
    g_assert(cls->instance_size >= sizeof(struct dev));
    dev = g_malloc0(cls->instance_size);
    dev->cls = cls;
    dev->vm = vm;
    dev->id = g_strdup(cfg->id != NULL ? cfg->id : cls->name);
    dev->trace_id = cfg->trace_id;
    dev->trap_cycles = cfg->trap_cycles;
    dev->regions = g_ptr_array_new();
    if (!cls->realize(dev, cfg, error)) {
        g_prefix_error(error, "device %s: ", dev->id);
        dev_remove_regions(dev);
        g_ptr_array_free(dev->regions, true);
        g_free(dev->id);
        g_free(dev);
        return NULL;
    }
    return dev;
}

struct bus_region *dev_region_add(struct dev *dev, struct bus_space *space,
                                  uint64_t base, uint64_t size,
                                  const struct io_region_ops *ops, void *opaque,
                                  GError **error)
{
    struct bus_region_attrs attrs = {
        .owner = dev,
        .trace_id = dev->trace_id,
        .trap_cycles = dev->trap_cycles,
    };
    struct bus_region *r =
        bus_region_add(space, dev->id, base, size, ops, opaque, &attrs, error);

    if (r != NULL) {
        g_ptr_array_add(dev->regions, space);
        g_ptr_array_add(dev->regions, r);
    }
    return r;
}

void dev_reset(struct dev *dev, enum dev_reset_kind kind)
{
    if (dev->cls->reset != NULL) {
        dev->cls->reset(dev, kind);
    }
}

void dev_free(struct dev *dev)
{
    if (dev == NULL) {
        return;
    }
    dev_remove_regions(dev);
    if (dev->cls->destroy != NULL) {
        dev->cls->destroy(dev);
    }
    g_ptr_array_free(dev->regions, true);
    g_free(dev->id);
    g_free(dev);
}
