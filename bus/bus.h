/*
 * bus/bus.h: address decoding for port I/O and MMIO (STYLE rule 6).
 *
 * A struct bus_space is one address space (the 64 K I/O ports, the MMIO
 * window, later PCI configuration space) kept as a sorted array of
 * non-overlapping regions.  Registering a region that overlaps another
 * fails with a GError.  An access is routed to the region that contains
 * its first address, and the device sees only the offset inside its
 * region.  An access that hits no region reads all-ones, drops writes and
 * is counted as unclaimed; it never aborts.
 *
 * A region is an object of its own: its address stays the same from
 * bus_region_add to its removal whatever else is added, moved or
 * removed, and it carries what the machine needs to know of an access
 * (the owner device, its trace id, its cost), so one lookup serves the
 * access, its cost and its trace event.  A region removed or moved while
 * one of its callbacks runs stays valid until the callback returns.
 */
#ifndef SIM_BUS_BUS_H
#define SIM_BUS_BUS_H

#include "sim/common.h"

#include <glib.h>

/* What a region callback or a bus access reports. */
enum mem_tx {
    MEM_TX_OK = 0,
    MEM_TX_ERROR, /* the device refused the access (size, offset, state) */
};

/*
 * Access sizes in bytes, as a closed range.  {0, 0} means "any of 1, 2, 4
 * and 8".  Sizes are always powers of two.
 */
struct io_access_sizes {
    unsigned min;
    unsigned max;
};

/*
 * A device's address window.  @opaque is the pointer given at
 * registration.  @offset is relative to the region's base.
 *
 * @valid: the sizes the guest may use; anything else is refused with
 * MEM_TX_ERROR (a read then returns all-ones) and counted as an error, as
 * is an access that runs past the region's end.
 * @impl: the sizes the callbacks handle; the bus splits a wider access
 * into little-endian pieces of impl.max bytes, and widens a narrower one
 * to impl.min bytes at the aligned-down offset (reads extract the bytes
 * asked for; writes shift the value into place, other bytes zero).
 */
struct io_region_ops {
    enum mem_tx (*read)(void *opaque, uint64_t offset, unsigned size,
                        uint64_t *val /* out */);
    enum mem_tx (*write)(void *opaque, uint64_t offset, unsigned size,
                         uint64_t val);
    struct io_access_sizes valid;
    struct io_access_sizes impl;
};

/*
 * What the machine keeps on a region for the accesses that hit it; set by
 * its owner at registration (devices/: dev_region_add), read by the exit
 * path after its one lookup.
 */
struct bus_region_attrs {
    void *owner;          /* the struct dev behind it, or NULL */
    uint32_t trace_id;    /* the owner's device id in the trace; 0: none */
    uint32_t trap_cycles; /* device-model cycles of a trapped access */
};

/* One registered window.  Read-only for everyone but bus/. */
struct bus_region {
    uint64_t base;
    uint64_t size;
    const struct io_region_ops *ops;
    void *opaque;
    char *name; /* for messages, e.g. "debugcon" */
    struct bus_region_attrs attrs;
    /* bus/ only: callbacks in progress, and whether it left its space. */
    unsigned busy;
    bool detached;
};

/* Access counters of one space. */
struct bus_stats {
    uint64_t reads;
    uint64_t writes;
    uint64_t unclaimed_reads;  /* hit no region: read all-ones */
    uint64_t unclaimed_writes; /* hit no region: dropped */
    uint64_t errors;           /* refused by @valid or by the device */
};

#define BUS_ERROR (bus_error_quark())
GQuark bus_error_quark(void);

enum bus_error {
    BUS_ERROR_OVERLAP, /* the new region overlaps a registered one */
    BUS_ERROR_RANGE,   /* empty, wrapping or beyond the space's limit */
    BUS_ERROR_NOENT,   /* no region starts at that address */
};

struct bus_space;

/*
 * Creates an empty space named @name ("io", "mmio") covering addresses
 * [0, @limit); @limit 0 means the whole 64-bit range.
 * Returns: a new space, owned by the caller (bus_space_free).
 */
struct bus_space *bus_space_new(const char *name, uint64_t limit);
void bus_space_free(struct bus_space *space);
const char *bus_space_name(const struct bus_space *space);

/*
 * Registers [@base, @base + @size) for @ops/@opaque (both borrowed: they
 * must outlive the region) with @attrs (NULL: all zero).  @name is copied.
 * Returns: the region, owned by the space and valid until it is removed,
 * or NULL with @error set (BUS_ERROR_OVERLAP naming the region in the
 * way, or BUS_ERROR_RANGE).
 */
struct bus_region *bus_region_add(struct bus_space *space, const char *name,
                                  uint64_t base, uint64_t size,
                                  const struct io_region_ops *ops,
                                  void *opaque,
                                  const struct bus_region_attrs *attrs,
                                  GError **error);

/*
 * Removes the region that starts at @base.
 * Returns: true, or false with @error set (BUS_ERROR_NOENT).
 */
bool bus_region_del(struct bus_space *space, uint64_t base, GError **error);

/*
 * Removes @region (from bus_region_add on @space) and frees it once no
 * callback of it runs; removing it again from such a callback does
 * nothing.  The rest of a split access that removed its region hits
 * nothing.
 */
void bus_region_remove(struct bus_space *space, struct bus_region *region);

/*
 * Moves @region to @new_base (a BAR the guest reprograms): the same
 * object, its attributes kept.
 * Returns: true, or false with @error set and the region where it was.
 */
bool bus_region_move(struct bus_space *space, struct bus_region *region,
                     uint64_t new_base, GError **error);

/*
 * Finds the region containing @addr.
 * Returns: the region (owned by the space, valid until removed) with
 * @offset set to @addr - base, or NULL.
 */
struct bus_region *bus_lookup(const struct bus_space *space, uint64_t addr,
                              uint64_t *offset /* out */);

/* Number of regions, and the @i-th in address order (for listings). */
size_t bus_region_count(const struct bus_space *space);
const struct bus_region *bus_region_at(const struct bus_space *space, size_t i);

/*
 * A read or write of @size bytes (1, 2, 4 or 8) at @addr, as the guest
 * made it, routed whole to the region that contains @addr.  An unclaimed
 * read sets *@val to all-ones of @size and returns MEM_TX_OK; writes that
 * hit nothing are dropped and return MEM_TX_OK.  A refused access (a size
 * outside the region's @valid range, any other size, or a device error)
 * returns MEM_TX_ERROR, and a refused read sets *@val to all-ones.
 */
enum mem_tx bus_read(struct bus_space *space, uint64_t addr, unsigned size,
                     uint64_t *val /* out */);
enum mem_tx bus_write(struct bus_space *space, uint64_t addr, unsigned size,
                      uint64_t val);

/*
 * The same access to the region a bus_lookup of @space found (@region may
 * be NULL: unclaimed), at @offset inside it, without a second lookup.
 * Writes take *@val.
 */
enum mem_tx bus_region_access(struct bus_space *space,
                              struct bus_region *region, uint64_t offset,
                              unsigned size, uint64_t *val, bool is_write);

void bus_get_stats(const struct bus_space *space,
                   struct bus_stats *out /* out */);

#endif /* SIM_BUS_BUS_H */
