/*
 * devices/devices.h: the device model interface (STYLE rules 4 and 5).
 *
 * Every device embeds a struct dev first and points at a
 * const struct dev_class, its ops table: name, realize, reset, destroy.
 * Classes are listed in devices/devices.def and found by name through the
 * registry (devices/registry.c); the machine (sim/machine.c) writes down
 * which devices it creates and in what order.  A device reaches the rest
 * of the machine only through sim/sim.h (its bus spaces, the console, the
 * exit request) and sees its address windows as offsets (bus/bus.h).
 */
#ifndef SIM_DEVICES_DEVICES_H
#define SIM_DEVICES_DEVICES_H

#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"

struct sim_vm;

/* Guest ABI ports of the two built-in devices (README, "Guest ABI"). */
#define DEV_DEBUGCON_PORT 0xE9
#define DEV_EXITPORT_PORT 0xF4
#define DEV_POSTCODE_PORT 0x80
#define DEV_TIMER_PORT 0x440
/* The MMIO register file: right above the largest guest RAM (16 GiB). */
#define DEV_REGFILE_BASE UINT64_C(0x400000000)
/* PCI: the ECAM window (256 buses, as QEMU's q35 places it) and the IDs of
 * iovsim's own functions (vendor 0x1234, which emulators use for devices
 * that are no product). */
#define DEV_PCI_ECAM_BASE UINT64_C(0xb0000000)
#define DEV_PCI_VENDOR 0x1234
#define DEV_PCI_HOST_DEVICE 0x1000
#define DEV_PCI_TEST_DEVICE 0x1050

enum dev_reset_kind {
    DEV_RESET_COLD, /* power on */
    DEV_RESET_WARM, /* platform reset: state cleared, backends kept */
};

/* Per-instance settings given to realize. */
struct dev_config {
    const char *id;   /* instance name; NULL: the class name */
    uint64_t io_base; /* first port; 0: the class's default */
    /* Given by the machine: the device's id in the trace (0: none), and
     * what a trapped access to it costs the device model beyond the VMM
     * (its placement: in the VMM or in a user-space process). */
    uint32_t trace_id;
    uint32_t trap_cycles;
};

struct dev {
    const struct dev_class *cls;
    struct sim_vm *vm; /* borrowed: the VM owns the dev */
    char *id;
    uint32_t trace_id;
    uint32_t trap_cycles;
    /* What dev_region_add registered, for dev_free: space, region, ... */
    GPtrArray *regions;
};

struct dev_class {
    const char *name;
    const char *description; /* one line, for listings */
    size_t instance_size;    /* of the struct that embeds struct dev */
    /*
     * Claims the device's address windows and sets up its state.
     * @dev->cls, ->vm and ->id are set.  On failure it must leave
     * nothing registered; destroy is not called.
     * Returns: true, or false with @error set.
     */
    bool (*realize)(struct dev *dev, const struct dev_config *cfg,
                    GError **error);
    void (*reset)(struct dev *dev, enum dev_reset_kind kind);
    /* Releases what realize took (buffers, events); not the struct, not
     * its regions (dev_free removes those first). */
    void (*destroy)(struct dev *dev);
};

#define DEV_ERROR (dev_error_quark())
GQuark dev_error_quark(void);

enum dev_error {
    DEV_ERROR_NO_CLASS, /* no class of that name */
    DEV_ERROR_REALIZE,  /* the device could not be set up */
};

/* The registered classes, in devices.def order. */
size_t dev_class_count(void);
const struct dev_class *dev_class_at(size_t i);
/* Returns: the class called @name, or NULL. */
const struct dev_class *dev_class_find(const char *name);

/*
 * Creates and realizes a device of class @class_name in @vm.
 * @cfg may be NULL (all defaults).
 * Returns: the device, owned by the caller (dev_free), or NULL with
 * @error set.
 */
struct dev *dev_new(const char *class_name, struct sim_vm *vm,
                    const struct dev_config *cfg, GError **error);
void dev_reset(struct dev *dev, enum dev_reset_kind kind);

/*
 * Registers a window of @dev on @space, named after the device and
 * carrying its attributes (owner, trace id, trap cost); dev_free removes
 * it.  @opaque is handed to @ops.
 * Returns: the region, or NULL with @error set (bus_region_add).
 */
struct bus_region *dev_region_add(struct dev *dev, struct bus_space *space,
                                  uint64_t base, uint64_t size,
                                  const struct io_region_ops *ops,
                                  void *opaque, GError **error);
/* Destroys and frees @dev (NULL is allowed). */
void dev_free(struct dev *dev);

/*
 * The local APICs of a VM (devices/lapic.c), for the VM's interrupt paths
 * (@dev is the VM's "lapic" device; APIC IDs are vCPU indexes).
 * deliver: a fixed interrupt arrives (an MSI); false if no such APIC or
 * it dropped it (software-disabled, an illegal vector).
 * pending: the vector it would deliver now, or -1.
 * ack: the CPU takes it (IRR to ISR); the spurious vector if none.
 */
bool dev_lapic_deliver(struct dev *dev, unsigned apic_id, unsigned vector,
                       bool level);

/*
 * An interrupt line from a device to a pin of an interrupt controller
 * (the VM's I/O APIC, devices/ioapic.c).  dev_irq_line_set drives it
 * asserted or not.  Returns: false if the line leads nowhere.
 */
struct dev_irq_line {
    struct dev *ctrl; /* the I/O APIC device; NULL: not connected */
    unsigned pin;
};
bool dev_irq_line_set(const struct dev_irq_line *line, bool level);
/* The local APIC's EOI of a level-triggered @vector, broadcast to the
 * I/O APIC @dev (clears remote IRR; a pin still asserted sends again). */
void dev_ioapic_eoi(struct dev *dev, unsigned vector);
int dev_lapic_pending(struct dev *dev, unsigned apic_id);
/* MSRs of APIC @apic_id (IA32_TSC_DEADLINE, 0x6E0); false: not one. */
bool dev_lapic_msr_read(struct dev *dev, unsigned apic_id, uint32_t msr,
                        uint64_t *val);
bool dev_lapic_msr_write(struct dev *dev, unsigned apic_id, uint32_t msr,
                         uint64_t val);
unsigned dev_lapic_ack(struct dev *dev, unsigned apic_id);

#endif /* SIM_DEVICES_DEVICES_H */
