/*
 * bus/pci.c: PCI buses and configuration space (bus/pci.h, pci.md).
 *
 * Each function keeps its 4 KiB of configuration space with two masks
 * beside it, after the way QEMU's hw/pci models it: wmask (bits a write
 * may change) and w1cmask (bits a write of 1 clears).  After every write
 * that touches Command or a BAR, the BAR windows are brought in line with
 * what the registers now say (pci_update_mappings).  MSI and MSI-X state
 * lives in configuration space and, for MSI-X, in a table and PBA kept
 * here and served through the BAR the capability names.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "bus/bus.h"
#include "bus/pci.h"

struct pci_bar {
    enum pci_bar_kind kind;
    uint64_t size;
    bool prefetchable;
    const struct io_region_ops *ops;
    void *opaque;
    struct bus_region *region; /* mapped window, or NULL */
    struct bus_space *space;   /* where @region is */
};

struct pci_function {
    struct pci_bus *bus;
    unsigned devfn;
    char *name;
    struct bus_region_attrs attrs;
    uint8_t config[PCI_CONFIG_EXT_SIZE];
    uint8_t wmask[PCI_CONFIG_EXT_SIZE];
    uint8_t w1cmask[PCI_CONFIG_EXT_SIZE];
    struct pci_bar bars[PCI_NUM_BARS];
    unsigned cap_last, cap_end; /* last capability; next free offset */
    unsigned ext_last, ext_end;
    unsigned msi_cap;           /* 0: none */
    unsigned msix_cap;          /* 0: none */
    unsigned msix_bar, msix_vectors;
    uint32_t msix_table_offset, msix_pba_offset;
    uint8_t *msix_table;        /* msix_vectors entries of 16 bytes */
    uint64_t *msix_pba;         /* one bit per vector */
    void (*interrupt_changed)(void *opaque); /* pci_function_on_interrupt */
    void *interrupt_opaque;
};

struct pci_bus {
    uint8_t number;
    struct bus_space *io, *mmio;
    pci_msi_fn *msi;
    void *msi_opaque;
    struct pci_function *fn[256];
};

struct pci_bus *pci_bus_new(uint8_t number, struct bus_space *io,
                            struct bus_space *mmio, pci_msi_fn *msi,
                            void *msi_opaque)
{
    struct pci_bus *bus = g_new0(struct pci_bus, 1);

    bus->number = number;
    bus->io = io;
    bus->mmio = mmio;
    bus->msi = msi;
    bus->msi_opaque = msi_opaque;
    return bus;
}

void pci_bus_free(struct pci_bus *bus)
{
    if (bus == NULL) {
        return;
    }
    for (unsigned i = 0; i < 256; i++) {
        if (bus->fn[i] != NULL) {
            pci_function_remove(bus->fn[i]);
        }
    }
    g_free(bus);
}

uint8_t pci_bus_number(const struct pci_bus *bus)
{
    return bus->number;
}

struct pci_function *pci_bus_function(struct pci_bus *bus, unsigned devfn)
{
    return devfn < 256 ? bus->fn[devfn] : NULL;
}

/* ---- Raw configuration bytes ---- */

static uint32_t cfg_get(const struct pci_function *fn, unsigned off,
                        unsigned size)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)fn->config[off + i] << (8 * i);
    }
    return v;
}

static void cfg_set(uint8_t *bytes, unsigned off, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++) {
        bytes[off + i] = (uint8_t)(v >> (8 * i));
    }
}

void pci_config_init(struct pci_function *fn, unsigned offset, unsigned size,
                     uint32_t value, uint32_t wmask, uint32_t w1cmask)
{
    g_assert(offset + size <= PCI_CONFIG_EXT_SIZE && size <= 4);
    cfg_set(fn->config, offset, size, value);
    cfg_set(fn->wmask, offset, size, wmask);
    cfg_set(fn->w1cmask, offset, size, w1cmask);
}

/* ---- Functions ---- */

G_DEFINE_QUARK(pci - error - quark, pci_error)

struct pci_function *pci_function_add(struct pci_bus *bus, unsigned devfn,
                                      const char *name,
                                      const struct pci_id *id,
                                      const struct bus_region_attrs *attrs,
                                      GError **error)
{
    struct pci_function *fn;

    if (devfn >= 256 || bus->fn[devfn] != NULL) {
        g_set_error(error, PCI_ERROR, 0,
                    "PCI %02x:%02x.%u: %s", bus->number, (devfn >> 3) & 0x1f,
                    devfn & 7,
                    devfn >= 256 ? "no such slot"
                                 : "slot taken by another function");
        return NULL;
    }
    fn = g_new0(struct pci_function, 1);
    fn->bus = bus;
    fn->devfn = devfn;
    fn->name = g_strdup(name);
    if (attrs != NULL) {
        fn->attrs = *attrs;
    }
    fn->cap_end = 0x40;
    fn->ext_end = 0x100;
    pci_config_init(fn, PCI_VENDOR_ID, 2, id->vendor, 0, 0);
    pci_config_init(fn, PCI_DEVICE_ID, 2, id->device, 0, 0);
    /* Command: I/O, memory, bus master, parity, SERR#, INTx disable. */
    pci_config_init(fn, PCI_COMMAND, 2, 0, 0x0547, 0);
    /* Status: the error bits are RW1C. */
    pci_config_init(fn, PCI_STATUS, 2, 0, 0, 0xf900);
    pci_config_init(fn, PCI_REVISION_ID, 1, id->revision, 0, 0);
    pci_config_init(fn, PCI_CLASS_PROG, 3, id->class_code, 0, 0);
    pci_config_init(fn, 0x0c, 1, 0, 0xff, 0); /* cache line size */
    pci_config_init(fn, 0x0d, 1, 0, 0xff, 0); /* latency timer */
    pci_config_init(fn, PCI_HEADER_TYPE, 1, id->multifunction ? 0x80 : 0, 0,
                    0);
    pci_config_init(fn, PCI_SUBSYSTEM_VENDOR_ID, 2, id->subsystem_vendor, 0,
                    0);
    pci_config_init(fn, PCI_SUBSYSTEM_ID, 2, id->subsystem, 0, 0);
    pci_config_init(fn, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0);
    pci_config_init(fn, PCI_INTERRUPT_PIN, 1, id->interrupt_pin, 0, 0);
    bus->fn[devfn] = fn;
    return fn;
}

static void bar_unmap(struct pci_bar *bar)
{
    if (bar->region != NULL) {
        bus_region_remove(bar->space, bar->region);
        bar->region = NULL;
        bar->space = NULL;
    }
}

void pci_function_remove(struct pci_function *fn)
{
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        bar_unmap(&fn->bars[n]);
    }
    fn->bus->fn[fn->devfn] = NULL;
    g_free(fn->msix_table);
    g_free(fn->msix_pba);
    g_free(fn->name);
    g_free(fn);
}

uint16_t pci_function_rid(const struct pci_function *fn)
{
    return (uint16_t)(fn->bus->number << 8 | fn->devfn);
}

const char *pci_function_name(const struct pci_function *fn)
{
    return fn->name;
}

/* ---- BARs ---- */

bool pci_bar_declare(struct pci_function *fn, unsigned n,
                     enum pci_bar_kind kind, uint64_t size, bool prefetchable,
                     const struct io_region_ops *ops, void *opaque,
                     GError **error)
{
    unsigned off = PCI_BAR0 + 4 * n;
    uint64_t mask = ~(size - 1);
    bool ok = n < PCI_NUM_BARS && size != 0 && (size & (size - 1)) == 0 &&
              fn->bars[n].kind == PCI_BAR_UNUSED;

    ok = ok && (kind == PCI_BAR_IO ? size >= 4 && size <= 0x10000
                                   : size >= 16 && kind != PCI_BAR_UNUSED);
    ok = ok && (kind != PCI_BAR_MEM32 || size <= UINT64_C(1) << 31);
    ok = ok && (kind != PCI_BAR_MEM64 ||
                (n + 1 < PCI_NUM_BARS &&
                 fn->bars[n + 1].kind == PCI_BAR_UNUSED));
    if (!ok) {
        g_set_error(error, PCI_ERROR, 0,
                    "%s: BAR %u of %" PRIu64 " bytes: not a free BAR, or "
                    "not a power of two of the sizes its kind allows",
                    fn->name, n, size);
        return false;
    }
    fn->bars[n] = (struct pci_bar){kind, size, prefetchable, ops, opaque,
                                   NULL, NULL};
    switch (kind) {
    case PCI_BAR_IO:
        pci_config_init(fn, off, 4, 1, (uint32_t)mask & ~3u, 0);
        break;
    case PCI_BAR_MEM32:
        pci_config_init(fn, off, 4, prefetchable ? 8 : 0,
                        (uint32_t)mask & ~0xfu, 0);
        break;
    default: /* PCI_BAR_MEM64: the next BAR is its upper half */
        pci_config_init(fn, off, 4, 4 | (prefetchable ? 8 : 0),
                        (uint32_t)mask & ~0xfu, 0);
        pci_config_init(fn, off + 4, 4, 0, (uint32_t)(mask >> 32), 0);
        fn->bars[n + 1].kind = PCI_BAR_UNUSED;
        break;
    }
    return true;
}

/*
 * Where BAR @n should decode now: its address if its kind is enabled in
 * Command, it is not 0 (never programmed), and it fits its space.
 */
static uint64_t bar_target(const struct pci_function *fn, unsigned n)
{
    const struct pci_bar *bar = &fn->bars[n];
    unsigned off = PCI_BAR0 + 4 * n;
    uint16_t cmd = (uint16_t)cfg_get(fn, PCI_COMMAND, 2);
    uint64_t addr;

    switch (bar->kind) {
    case PCI_BAR_IO:
        if (!(cmd & PCI_COMMAND_IO)) {
            return UINT64_MAX;
        }
        addr = cfg_get(fn, off, 4) & ~UINT64_C(3);
        return addr != 0 && addr + bar->size <= 0x10000 ? addr : UINT64_MAX;
    case PCI_BAR_MEM32:
    case PCI_BAR_MEM64:
        if (!(cmd & PCI_COMMAND_MEMORY)) {
            return UINT64_MAX;
        }
        addr = cfg_get(fn, off, 4) & ~UINT64_C(0xf);
        if (bar->kind == PCI_BAR_MEM64) {
            addr |= (uint64_t)cfg_get(fn, off + 4, 4) << 32;
        }
        return addr != 0 && addr + bar->size > addr ? addr : UINT64_MAX;
    default:
        return UINT64_MAX;
    }
}

uint64_t pci_bar_address(const struct pci_function *fn, unsigned n)
{
    return n < PCI_NUM_BARS && fn->bars[n].region != NULL
               ? fn->bars[n].region->base
               : UINT64_MAX;
}

static const struct io_region_ops pci_msix_ops;

/*
 * Brings every BAR window in line with the registers: mapped where they
 * say, moved (the same region) when they changed, removed when decoding
 * is off.  A window that would overlap another region stays unmapped:
 * the guest's mistake costs it that BAR, nothing else.
 */
static void pci_update_mappings(struct pci_function *fn)
{
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        struct pci_bar *bar = &fn->bars[n];
        uint64_t target = bar_target(fn, n);
        struct bus_space *space =
            bar->kind == PCI_BAR_IO ? fn->bus->io : fn->bus->mmio;
        const struct io_region_ops *ops = bar->ops;
        void *opaque = bar->opaque;

        if (bar->kind == PCI_BAR_UNUSED) {
            continue;
        }
        if (target == UINT64_MAX) {
            bar_unmap(bar);
            continue;
        }
        if (bar->region != NULL) {
            if (bar->region->base != target &&
                !bus_region_move(space, bar->region, target, NULL)) {
                bar_unmap(bar);
            }
            continue;
        }
        if (fn->msix_cap != 0 && n == fn->msix_bar) {
            ops = &pci_msix_ops;
            opaque = fn;
        }
        if (ops != NULL) {
            bar->region = bus_region_add(space, fn->name, target, bar->size,
                                         ops, opaque, &fn->attrs, NULL);
            bar->space = bar->region != NULL ? space : NULL;
        }
    }
}

/* ---- Capabilities ---- */

unsigned pci_capability_add(struct pci_function *fn, uint8_t id,
                            unsigned size)
{
    unsigned off = (fn->cap_end + 3) & ~3u;

    if (size < 2 || off + size > PCI_CONFIG_SIZE) {
        return 0;
    }
    pci_config_init(fn, off, 1, id, 0, 0);
    pci_config_init(fn, off + 1, 1, 0, 0, 0);
    if (fn->cap_last == 0) {
        fn->config[PCI_CAPABILITY_LIST] = (uint8_t)off;
    } else {
        fn->config[fn->cap_last + 1] = (uint8_t)off;
    }
    fn->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    fn->cap_last = off;
    fn->cap_end = off + size;
    return off;
}

unsigned pci_ext_capability_add(struct pci_function *fn, uint16_t id,
                                uint8_t version, unsigned size)
{
    unsigned off = (fn->ext_end + 3) & ~3u;

    if (size < 4 || off + size > PCI_CONFIG_EXT_SIZE) {
        return 0;
    }
    pci_config_init(fn, off, 4, id | (uint32_t)(version & 0xf) << 16, 0, 0);
    if (fn->ext_last != 0) {
        uint32_t head = cfg_get(fn, fn->ext_last, 4);

        cfg_set(fn->config, fn->ext_last, 4,
                (head & 0xfffff) | (uint32_t)off << 20);
    }
    fn->ext_last = off;
    fn->ext_end = off + size;
    return off;
}

/* MSI register offsets inside the capability, by its address size. */
static unsigned msi_data_off(const struct pci_function *fn)
{
    return cfg_get(fn, fn->msi_cap + 2, 2) & PCI_MSI_FLAGS_64BIT ? 0xc : 0x8;
}

unsigned pci_msi_add(struct pci_function *fn, unsigned vectors, bool addr64,
                     bool maskable)
{
    unsigned mmc = (unsigned)g_bit_storage(vectors) - 1;
    unsigned size = (addr64 ? 0x0e : 0x0a) + (maskable ? 0x0a : 0);
    unsigned off, data;
    uint16_t ctrl;

    g_assert(vectors >= 1 && vectors <= 32 && (vectors & (vectors - 1)) == 0);
    off = pci_capability_add(fn, PCI_CAP_ID_MSI, size);
    if (off == 0) {
        return 0;
    }
    fn->msi_cap = off;
    ctrl = (uint16_t)(mmc << 1 | (addr64 ? PCI_MSI_FLAGS_64BIT : 0) |
                      (maskable ? PCI_MSI_FLAGS_MASKBIT : 0));
    /* Enable and multiple-message enable are the guest's. */
    pci_config_init(fn, off + 2, 2, ctrl, PCI_MSI_FLAGS_ENABLE | 0x70, 0);
    pci_config_init(fn, off + 4, 4, 0, 0xfffffffc, 0);
    if (addr64) {
        pci_config_init(fn, off + 8, 4, 0, 0xffffffff, 0);
    }
    data = off + (addr64 ? 0xc : 0x8);
    pci_config_init(fn, data, 2, 0, 0xffff, 0);
    if (maskable) {
        uint32_t bits = vectors == 32 ? 0xffffffffu : (1u << vectors) - 1;

        pci_config_init(fn, data + 4, 4, 0, bits, 0); /* mask */
        pci_config_init(fn, data + 8, 4, 0, 0, 0);    /* pending, RO */
    }
    return off;
}

unsigned pci_msix_add(struct pci_function *fn, unsigned vectors, unsigned bar,
                      uint32_t table_offset, uint32_t pba_offset,
                      GError **error)
{
    uint64_t table_end = table_offset + (uint64_t)vectors * 16;
    uint64_t pba_end = pba_offset + (uint64_t)(vectors + 63) / 64 * 8;
    unsigned off;

    if (vectors < 1 || vectors > 2048 || bar >= PCI_NUM_BARS ||
        (fn->bars[bar].kind != PCI_BAR_MEM32 &&
         fn->bars[bar].kind != PCI_BAR_MEM64) ||
        fn->bars[bar].ops != NULL || (table_offset | pba_offset) & 7 ||
        table_end > fn->bars[bar].size || pba_end > fn->bars[bar].size ||
        (pba_offset < table_end && table_offset < pba_end)) {
        g_set_error(error, PCI_ERROR, 0,
                    "%s: MSI-X with %u vectors in BAR %u: the BAR must be a "
                    "memory BAR declared without callbacks, holding the "
                    "table and the PBA apart, 8-byte aligned",
                    fn->name, vectors, bar);
        return 0;
    }
    off = pci_capability_add(fn, PCI_CAP_ID_MSIX, 12);
    if (off == 0) {
        g_set_error(error, PCI_ERROR, 0,
                    "%s: no room for an MSI-X capability", fn->name);
        return 0;
    }
    fn->msix_cap = off;
    fn->msix_bar = bar;
    fn->msix_vectors = vectors;
    fn->msix_table_offset = table_offset;
    fn->msix_pba_offset = pba_offset;
    fn->msix_table = g_malloc0((size_t)vectors * PCI_MSIX_ENTRY_SIZE);
    fn->msix_pba = g_new0(uint64_t, (vectors + 63) / 64);
    /* Every vector starts masked. */
    for (unsigned i = 0; i < vectors; i++) {
        fn->msix_table[i * PCI_MSIX_ENTRY_SIZE + 12] =
            PCI_MSIX_ENTRY_CTRL_MASKBIT;
    }
    pci_config_init(fn, off + 2, 2, vectors - 1,
                    PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
    pci_config_init(fn, off + 4, 4, table_offset | bar, 0, 0);
    pci_config_init(fn, off + 8, 4, pba_offset | bar, 0, 0);
    return off;
}

unsigned pci_express_add(struct pci_function *fn, unsigned type)
{
    unsigned off = pci_capability_add(fn, PCI_CAP_ID_EXP, 0x3c);

    if (off == 0) {
        return 0;
    }
    pci_config_init(fn, off + 2, 2, 2 | (type & 0xf) << 4, 0, 0);
    pci_config_init(fn, off + 4, 4, 0, 0, 0); /* 128-byte payload */
    /* Device control: error reporting, relaxed ordering, payload, read
     * request size; bit 15 (function-level reset) is not modelled. */
    pci_config_init(fn, off + 8, 2, 0x2810, 0x7cff, 0);
    pci_config_init(fn, off + 0xa, 2, 0, 0, 0x000f);
    if (type != 9) {
        /* A link at 2.5 GT/s, x1, and up. */
        pci_config_init(fn, off + 0xc, 4, 0x11, 0, 0);
        pci_config_init(fn, off + 0x12, 2, 0x2011, 0, 0);
    }
    return off;
}

/* ---- MSI and MSI-X messages ---- */

static bool msi_send(struct pci_function *fn, uint64_t addr, uint32_t data)
{
    if (!(cfg_get(fn, PCI_COMMAND, 2) & PCI_COMMAND_MASTER) ||
        fn->bus->msi == NULL) {
        return false;
    }
    fn->bus->msi(fn->bus->msi_opaque, pci_function_rid(fn), addr, data);
    return true;
}

static uint8_t *msix_entry(struct pci_function *fn, unsigned vector)
{
    return fn->msix_table + (size_t)vector * PCI_MSIX_ENTRY_SIZE;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static bool msix_masked(struct pci_function *fn, unsigned vector)
{
    return (cfg_get(fn, fn->msix_cap + 2, 2) & PCI_MSIX_FLAGS_MASKALL) ||
           (le32(msix_entry(fn, vector) + 12) & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static bool msix_send(struct pci_function *fn, unsigned vector)
{
    const uint8_t *e = msix_entry(fn, vector);

    return msi_send(fn, le32(e) | (uint64_t)le32(e + 4) << 32, le32(e + 8));
}

/* Sends the pending vectors no longer masked, clearing their bits. */
static void msix_flush_pending(struct pci_function *fn)
{
    if (!(cfg_get(fn, fn->msix_cap + 2, 2) & PCI_MSIX_FLAGS_ENABLE)) {
        return; /* pending bits wait for MSI-X to be enabled */
    }
    for (unsigned v = 0; v < fn->msix_vectors; v++) {
        uint64_t bit = UINT64_C(1) << (v % 64);

        if ((fn->msix_pba[v / 64] & bit) && !msix_masked(fn, v)) {
            fn->msix_pba[v / 64] &= ~bit;
            msix_send(fn, v);
        }
    }
}

/* MSI: the message for @vector with 2^MME vectors enabled. */
static bool msi_send_vector(struct pci_function *fn, unsigned vector)
{
    unsigned cap = fn->msi_cap;
    uint16_t ctrl = (uint16_t)cfg_get(fn, cap + 2, 2);
    unsigned enabled = 1u << ((ctrl >> 4) & 7);
    uint64_t addr = cfg_get(fn, cap + 4, 4);
    uint32_t data = cfg_get(fn, cap + msi_data_off(fn), 2);

    if (ctrl & PCI_MSI_FLAGS_64BIT) {
        addr |= (uint64_t)cfg_get(fn, cap + 8, 4) << 32;
    }
    data = (data & ~(enabled - 1)) | vector;
    return msi_send(fn, addr, data);
}

static void msi_flush_pending(struct pci_function *fn)
{
    unsigned cap = fn->msi_cap;
    unsigned mask_off = cap + msi_data_off(fn) + 4;
    uint32_t mask, pending;

    if ((cfg_get(fn, cap + 2, 2) &
         (PCI_MSI_FLAGS_MASKBIT | PCI_MSI_FLAGS_ENABLE)) !=
        (PCI_MSI_FLAGS_MASKBIT | PCI_MSI_FLAGS_ENABLE)) {
        return;
    }
    mask = cfg_get(fn, mask_off, 4);
    pending = cfg_get(fn, mask_off + 4, 4);
    for (unsigned v = 0; v < 32; v++) {
        if ((pending >> v & 1) && !(mask >> v & 1)) {
            pending &= ~(1u << v);
            cfg_set(fn->config, mask_off + 4, 4, pending);
            msi_send_vector(fn, v);
        }
    }
}

bool pci_msi_enabled(const struct pci_function *fn)
{
    return (fn->msix_cap != 0 &&
            (cfg_get(fn, fn->msix_cap + 2, 2) & PCI_MSIX_FLAGS_ENABLE)) ||
           (fn->msi_cap != 0 &&
            (cfg_get(fn, fn->msi_cap + 2, 2) & PCI_MSI_FLAGS_ENABLE));
}

bool pci_intx_status(struct pci_function *fn, bool pending)
{
    if (pending) {
        fn->config[PCI_STATUS] |= 1u << 3;
    } else {
        fn->config[PCI_STATUS] &= (uint8_t)~(1u << 3);
    }
    return !pci_msi_enabled(fn) &&
           !(cfg_get(fn, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
}

bool pci_msi_notify(struct pci_function *fn, unsigned vector)
{
    if (fn->msix_cap != 0 &&
        (cfg_get(fn, fn->msix_cap + 2, 2) & PCI_MSIX_FLAGS_ENABLE)) {
        if (vector >= fn->msix_vectors) {
            return false;
        }
        if (msix_masked(fn, vector)) {
            fn->msix_pba[vector / 64] |= UINT64_C(1) << (vector % 64);
            return false;
        }
        return msix_send(fn, vector);
    }
    if (fn->msi_cap != 0 &&
        (cfg_get(fn, fn->msi_cap + 2, 2) & PCI_MSI_FLAGS_ENABLE)) {
        uint16_t ctrl = (uint16_t)cfg_get(fn, fn->msi_cap + 2, 2);
        unsigned mask_off = fn->msi_cap + msi_data_off(fn) + 4;

        if (vector >= 1u << ((ctrl >> 4) & 7)) {
            return false;
        }
        if ((ctrl & PCI_MSI_FLAGS_MASKBIT) &&
            (cfg_get(fn, mask_off, 4) >> vector & 1)) {
            cfg_set(fn->config, mask_off + 4, 4,
                    cfg_get(fn, mask_off + 4, 4) | 1u << vector);
            return false;
        }
        return msi_send_vector(fn, vector);
    }
    return false;
}

/* The MSI-X table and PBA, as the BAR the capability names serves them:
 * aligned 32- or 64-bit accesses (pci.md §6). */
static enum mem_tx msix_read(void *opaque, uint64_t offset, unsigned size,
                             uint64_t *val)
{
    struct pci_function *fn = opaque;
    uint64_t table_len = (uint64_t)fn->msix_vectors * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_len = (uint64_t)(fn->msix_vectors + 63) / 64 * 8;

    *val = 0;
    if (offset % size != 0) {
        return MEM_TX_ERROR;
    }
    if (offset >= fn->msix_table_offset &&
        offset - fn->msix_table_offset < table_len) {
        memcpy(val, fn->msix_table + (offset - fn->msix_table_offset), size);
    } else if (offset >= fn->msix_pba_offset &&
               offset - fn->msix_pba_offset < pba_len) {
        memcpy(val, (uint8_t *)fn->msix_pba + (offset - fn->msix_pba_offset),
               size);
    }
    return MEM_TX_OK;
}

static enum mem_tx msix_write(void *opaque, uint64_t offset, unsigned size,
                              uint64_t val)
{
    struct pci_function *fn = opaque;
    uint64_t table_len = (uint64_t)fn->msix_vectors * PCI_MSIX_ENTRY_SIZE;

    if (offset % size != 0) {
        return MEM_TX_ERROR;
    }
    /* The PBA is read-only; so is reserved space of the BAR. */
    if (offset >= fn->msix_table_offset &&
        offset - fn->msix_table_offset < table_len) {
        uint64_t rel = offset - fn->msix_table_offset;
        uint8_t *e = msix_entry(fn, (unsigned)(rel / PCI_MSIX_ENTRY_SIZE));
        uint32_t ctrl_before = le32(e + 12);

        memcpy(fn->msix_table + rel, &val, size);
        /* Vector control: only the mask bit is writable. */
        cfg_set(e, 12, 4,
                (le32(e + 12) & PCI_MSIX_ENTRY_CTRL_MASKBIT) |
                    (ctrl_before & ~PCI_MSIX_ENTRY_CTRL_MASKBIT));
        msix_flush_pending(fn);
    }
    return MEM_TX_OK;
}

static const struct io_region_ops pci_msix_ops = {
    .read = msix_read,
    .write = msix_write,
    .valid = {4, 8},
    .impl = {4, 8},
};

/* ---- Configuration accesses ---- */

uint32_t pci_config_read(struct pci_function *fn, unsigned offset,
                         unsigned size)
{
    if (offset >= PCI_CONFIG_EXT_SIZE || size > PCI_CONFIG_EXT_SIZE - offset) {
        return UINT32_MAX;
    }
    return cfg_get(fn, offset, size);
}

/* Does [@offset, +@size) touch [@start, +@len)? */
static bool ranges_meet(unsigned offset, unsigned size, unsigned start,
                        unsigned len)
{
    return offset < start + len && start < offset + size;
}

void pci_config_write(struct pci_function *fn, unsigned offset,
                      unsigned size, uint32_t value)
{
    if (offset >= PCI_CONFIG_EXT_SIZE || size > PCI_CONFIG_EXT_SIZE - offset) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(value >> (8 * i));
        unsigned o = offset + i;

        fn->config[o] = (uint8_t)((fn->config[o] & ~fn->wmask[o]) |
                                  (b & fn->wmask[o]));
        fn->config[o] &= (uint8_t)~(b & fn->w1cmask[o]);
    }
    if (fn->msi_cap != 0 && ranges_meet(offset, size, fn->msi_cap, 0x18)) {
        /* Multiple-message enable never exceeds what is capable. */
        uint16_t ctrl = (uint16_t)cfg_get(fn, fn->msi_cap + 2, 2);
        unsigned mmc = (ctrl >> 1) & 7, mme = (ctrl >> 4) & 7;

        if (mme > mmc) {
            cfg_set(fn->config, fn->msi_cap + 2, 2,
                    (ctrl & ~0x70u) | mmc << 4);
        }
        msi_flush_pending(fn);
    }
    if (fn->msix_cap != 0 && ranges_meet(offset, size, fn->msix_cap + 2, 2)) {
        msix_flush_pending(fn);
    }
    if (ranges_meet(offset, size, PCI_COMMAND, 2) ||
        ranges_meet(offset, size, PCI_BAR0, 4 * PCI_NUM_BARS)) {
        pci_update_mappings(fn);
    }
    /* INTx disable, MSI or MSI-X enable may have changed: the device
     * re-evaluates its INTx line. */
    if (fn->interrupt_changed != NULL &&
        (ranges_meet(offset, size, PCI_COMMAND, 2) ||
         (fn->msi_cap != 0 && ranges_meet(offset, size, fn->msi_cap + 2, 2)) ||
         (fn->msix_cap != 0 &&
          ranges_meet(offset, size, fn->msix_cap + 2, 2)))) {
        fn->interrupt_changed(fn->interrupt_opaque);
    }
}

void pci_function_on_interrupt(struct pci_function *fn,
                               void (*changed)(void *opaque), void *opaque)
{
    fn->interrupt_changed = changed;
    fn->interrupt_opaque = opaque;
}
