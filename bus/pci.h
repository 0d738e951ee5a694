/*
 * bus/pci.h: PCI buses and the configuration space of their functions
 * (../shared/spec/pci.md).
 *
 * A struct pci_bus holds up to 256 functions (device << 3 | function) and
 * the two address spaces its BARs decode in (the VM's "io" and "mmio").
 * A struct pci_function is one function's configuration space: 4 KiB
 * (256 bytes reachable through mechanism #1, the rest through ECAM), with
 * a mask of the bits software may write and one of the bits it clears by
 * writing 1 (RW1C).  Everything else is read-only.  The module follows
 * what the header's registers mean:
 *  - a BAR reads back its size as the low address bits fixed at 0, and its
 *    window is on the bus only while the Command register decodes its
 *    kind (I/O or memory space enable); a BAR the guest moves is unmapped
 *    from the old address and mapped at the new one, the same bus region;
 *  - capabilities (0x40-0xFF) and extended capabilities (0x100-0xFFF) are
 *    chained as they are added, with the Status capability bit set;
 *  - MSI and MSI-X: a device asks for vector i with pci_msi_notify(); the
 *    function sends the message the guest programmed (masking, pending
 *    bits, the function mask and bus mastering as the spec says) through
 *    the bus's MSI callback.  The MSI-X table and PBA live in a BAR and are
 *    served here; the device's own callbacks see the rest of that BAR.
 * Functions can be added and removed while the guest runs.
 */
#ifndef SIM_BUS_PCI_H
#define SIM_BUS_PCI_H

#include "sim/common.h"

#include <glib.h>

#include "bus/bus.h"

/* Header offsets and bits (pci.md §2). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO (1u << 0)
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_MASTER (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_STATUS_CAP_LIST (1u << 4)

#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_MSIX 0x11

/* MSI message control (pci.md §5). */
#define PCI_MSI_FLAGS_ENABLE (1u << 0)
#define PCI_MSI_FLAGS_64BIT (1u << 7)
#define PCI_MSI_FLAGS_MASKBIT (1u << 8)
/* MSI-X message control (pci.md §6). */
#define PCI_MSIX_FLAGS_MASKALL (1u << 14)
#define PCI_MSIX_FLAGS_ENABLE (1u << 15)
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 1u

#define PCI_CONFIG_SIZE 256      /* mechanism #1 */
#define PCI_CONFIG_EXT_SIZE 4096 /* ECAM */
#define PCI_NUM_BARS 6
#define PCI_DEVFN(dev, fn) ((unsigned)(dev) << 3 | (unsigned)(fn))

enum pci_bar_kind {
    PCI_BAR_UNUSED,
    PCI_BAR_IO,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64, /* takes this BAR and the next */
};

struct pci_bus;
struct pci_function;

/* Errors of set-up calls (a taken slot, a bad BAR or capability). */
#define PCI_ERROR (pci_error_quark())
GQuark pci_error_quark(void);

/*
 * The message a function sends: a memory write of @data (32 bits) to
 * @addr by requester @rid (bus << 8 | devfn), as every MSI is (pci.md §5).
 */
typedef void pci_msi_fn(void *opaque, uint16_t rid, uint64_t addr,
                        uint32_t data);

/*
 * A bus decoding BARs in @io and @mmio (both borrowed), sending MSIs
 * through @msi(@msi_opaque) (NULL: none can be sent).
 */
struct pci_bus *pci_bus_new(uint8_t number, struct bus_space *io,
                            struct bus_space *mmio, pci_msi_fn *msi,
                            void *msi_opaque);
/* Frees the bus and every function still on it. */
void pci_bus_free(struct pci_bus *bus);
uint8_t pci_bus_number(const struct pci_bus *bus);
/* Returns: the function at @devfn, or NULL. */
struct pci_function *pci_bus_function(struct pci_bus *bus, unsigned devfn);

/* Who a function is: the first header fields. */
struct pci_id {
    uint16_t vendor, device;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint16_t subsystem_vendor, subsystem;
    bool multifunction; /* header type bit 7 (function 0 of a device) */
    uint8_t interrupt_pin; /* 0 none, 1 INTA# ... 4 INTD# */
};

/*
 * Adds a function named @name (copied; for messages and region names) at
 * @devfn.  BAR windows get @attrs (NULL: all zero).
 * Returns: the function (owned by the bus; pci_function_remove), or NULL
 * with @error set when @devfn is taken.
 */
struct pci_function *pci_function_add(struct pci_bus *bus, unsigned devfn,
                                      const char *name,
                                      const struct pci_id *id,
                                      const struct bus_region_attrs *attrs,
                                      GError **error);
/* Takes @fn off its bus (its windows first) and frees it. */
void pci_function_remove(struct pci_function *fn);
/* The requester ID (bus << 8 | devfn), and the name. */
uint16_t pci_function_rid(const struct pci_function *fn);
const char *pci_function_name(const struct pci_function *fn);

/*
 * Declares BAR @n (a 64-bit one also takes @n + 1): @size a power of two
 * (I/O at least 4, memory at least 16 bytes), @prefetchable for memory;
 * accesses inside the window go to @ops/@opaque with the offset in the
 * BAR.  Not decoded until the guest places it and enables its kind.
 * Returns: true, or false with @error set (a bad size or BAR number).
 */
bool pci_bar_declare(struct pci_function *fn, unsigned n,
                     enum pci_bar_kind kind, uint64_t size, bool prefetchable,
                     const struct io_region_ops *ops, void *opaque,
                     GError **error);
/* Where BAR @n decodes now, or UINT64_MAX when it does not. */
uint64_t pci_bar_address(const struct pci_function *fn, unsigned n);

/*
 * Adds a capability of @size bytes with ID @id at the next free offset
 * from 0x40 (dword aligned), linked at the end of the list.  Its bytes
 * beyond the ID and next pointer start read-only 0; pci_config_init sets
 * them up.  Returns: its offset, or 0 when there is no room.
 */
unsigned pci_capability_add(struct pci_function *fn, uint8_t id,
                            unsigned size);
/* The same for an extended capability (0x100-0xFFF): ID, version. */
unsigned pci_ext_capability_add(struct pci_function *fn, uint16_t id,
                                uint8_t version, unsigned size);
/*
 * Sets @size bytes at @offset to @value (little-endian), with @wmask the
 * bits software may write and @w1cmask the bits it clears by writing 1.
 */
void pci_config_init(struct pci_function *fn, unsigned offset, unsigned size,
                     uint32_t value, uint32_t wmask, uint32_t w1cmask);

/*
 * An MSI capability of @vectors (1, 2, 4 ... 32) vectors, 64-bit address
 * capable if @addr64, with per-vector masking if @maskable.
 * Returns: its offset, or 0 with no room.
 */
unsigned pci_msi_add(struct pci_function *fn, unsigned vectors, bool addr64,
                     bool maskable);
/*
 * An MSI-X capability of @vectors (1-2048) with the table at @table_offset
 * and the PBA at @pba_offset of BAR @bar (declared first, memory, large
 * enough; both 8-byte aligned).  Returns: its offset, or 0 with @error.
 */
unsigned pci_msix_add(struct pci_function *fn, unsigned vectors, unsigned bar,
                      uint32_t table_offset, uint32_t pba_offset,
                      GError **error);
/* A PCI Express capability (version 2) of device/port type @type. */
unsigned pci_express_add(struct pci_function *fn, unsigned type);

/*
 * The device signals vector @vector: through MSI-X if enabled, else MSI
 * if enabled (a vector beyond those enabled is not sent).  A masked
 * vector sets its pending bit instead; without bus mastering nothing is
 * sent.  Returns: true if a message was sent.
 */
bool pci_msi_notify(struct pci_function *fn, unsigned vector);

/* Calls @changed(@opaque) after a configuration write that may change
 * how the function signals interrupts (Command, MSI or MSI-X control). */
void pci_function_on_interrupt(struct pci_function *fn,
                               void (*changed)(void *opaque), void *opaque);
/* Is MSI or MSI-X enabled (so INTx is off)? */
bool pci_msi_enabled(const struct pci_function *fn);
/* Sets Status bit 3 (INTx pending, read-only to software); Returns:
 * whether INTx may be asserted (Command's INTx disable clear, no MSI). */
bool pci_intx_status(struct pci_function *fn, bool pending);

/*
 * Configuration accesses at @offset (below 4096; @size 1, 2 or 4, within
 * one dword).  Writes obey the masks and may remap the BARs.
 */
uint32_t pci_config_read(struct pci_function *fn, unsigned offset,
                         unsigned size);
void pci_config_write(struct pci_function *fn, unsigned offset,
                      unsigned size, uint32_t value);

#endif /* SIM_BUS_PCI_H */
