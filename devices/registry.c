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

struct dev *dev_new(const char *class_name, struct sim_machine *machine,
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
    dev->machine = machine;
    dev->id = g_strdup(cfg->id != NULL ? cfg->id : cls->name);
    if (!cls->realize(dev, cfg, error)) {
        g_prefix_error(error, "device %s: ", dev->id);
        g_free(dev->id);
        g_free(dev);
        return NULL;
    }
    return dev;
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
    if (dev->cls->destroy != NULL) {
        dev->cls->destroy(dev);
    }
    g_free(dev->id);
    g_free(dev);
}
