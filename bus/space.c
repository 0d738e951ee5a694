/*
 * bus/space.c: one address space as a sorted array of non-overlapping
 * regions, looked up by binary search.  Port I/O and MMIO use the same
 * code.  Here live the rules every access obeys whatever device is behind
 * it: unclaimed accesses read all-ones and drop writes, sizes outside a
 * region's @valid range are refused, and accesses are split or widened to
 * the region's @impl sizes (after QEMU's access_with_adjusted_size).
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "bus/bus.h"

struct bus_space {
    char *name;
    uint64_t last;               /* highest valid address */
    struct bus_region **regions; /* sorted by base; each its own object */
    size_t count;
    size_t capacity;
    struct bus_stats stats;
    /* The region the last lookup found: device loops hit it again.  A
     * cache only, so const lookups may update it. */
    size_t hint;
};

G_DEFINE_QUARK(bus - error - quark, bus_error)

struct bus_space *bus_space_new(const char *name, uint64_t limit)
{
    struct bus_space *space = g_new0(struct bus_space, 1);

    space->name = g_strdup(name);
    space->last = limit == 0 ? UINT64_MAX : limit - 1;
    return space;
}

void bus_space_free(struct bus_space *space)
{
    if (space == NULL) {
        return;
    }
    for (size_t i = 0; i < space->count; i++) {
        g_free(space->regions[i]->name);
        g_free(space->regions[i]);
    }
    g_free(space->regions);
    g_free(space->name);
    g_free(space);
}

const char *bus_space_name(const struct bus_space *space)
{
    return space->name;
}

/* Index of the first region whose last address is >= @addr. */
static size_t space_search(const struct bus_space *space, uint64_t addr)
{
    size_t lo = 0;
    size_t hi = space->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct bus_region *r = space->regions[mid];

        if (r->base + (r->size - 1) < addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Inserts @r at its base, or fails naming what is in the way. */
static bool space_insert(struct bus_space *space, struct bus_region *r,
                         GError **error)
{
    uint64_t last;
    size_t i;

    if (r->size == 0 || r->base > space->last ||
        r->size - 1 > space->last - r->base) {
        g_set_error(error, BUS_ERROR, BUS_ERROR_RANGE,
                    "%s: region %s [0x%" PRIx64 ", +0x%" PRIx64
                    ") is empty or outside the space (last address 0x%" PRIx64
                    ")",
                    space->name, r->name, r->base, r->size, space->last);
        return false;
    }
    last = r->base + (r->size - 1);
    i = space_search(space, r->base);
    if (i < space->count && space->regions[i]->base <= last) {
        const struct bus_region *o = space->regions[i];

        g_set_error(error, BUS_ERROR, BUS_ERROR_OVERLAP,
                    "%s: region %s [0x%" PRIx64 "-0x%" PRIx64
                    "] overlaps %s [0x%" PRIx64 "-0x%" PRIx64 "]",
                    space->name, r->name, r->base, last, o->name, o->base,
                    o->base + (o->size - 1));
        return false;
    }
    if (space->count == space->capacity) {
        space->capacity = space->capacity == 0 ? 8 : space->capacity * 2;
        space->regions =
            g_renew(struct bus_region *, space->regions, space->capacity);
    }
    memmove(&space->regions[i + 1], &space->regions[i],
            (space->count - i) * sizeof(space->regions[0]));
    space->regions[i] = r;
    space->count++;
    return true;
}

/* Takes @r out of the sorted array; the object itself stays. */
static void space_unlink(struct bus_space *space, struct bus_region *r)
{
    size_t i = space_search(space, r->base);

    g_assert(i < space->count && space->regions[i] == r);
    memmove(&space->regions[i], &space->regions[i + 1],
            (space->count - i - 1) * sizeof(space->regions[0]));
    space->count--;
    space->hint = 0;
}

static void region_free(struct bus_region *r)
{
    g_free(r->name);
    g_free(r);
}

struct bus_region *bus_region_add(struct bus_space *space, const char *name,
                                  uint64_t base, uint64_t size,
                                  const struct io_region_ops *ops, void *opaque,
                                  const struct bus_region_attrs *attrs,
                                  GError **error)
{
    struct bus_region *r = g_new0(struct bus_region, 1);

    g_assert(ops != NULL && ops->read != NULL && ops->write != NULL);
    r->base = base;
    r->size = size;
    r->ops = ops;
    r->opaque = opaque;
    r->name = g_strdup(name);
    if (attrs != NULL) {
        r->attrs = *attrs;
    }
    if (!space_insert(space, r, error)) {
        region_free(r);
        return NULL;
    }
    return r;
}

void bus_region_remove(struct bus_space *space, struct bus_region *region)
{
    if (region->detached) {
        return; /* removed earlier in the same callback */
    }
    space_unlink(space, region);
    region->detached = true;
    if (region->busy == 0) {
        region_free(region);
    }
}

bool bus_region_del(struct bus_space *space, uint64_t base, GError **error)
{
    size_t i = space_search(space, base);

    if (i >= space->count || space->regions[i]->base != base) {
        g_set_error(error, BUS_ERROR, BUS_ERROR_NOENT,
                    "%s: no region starts at 0x%" PRIx64, space->name, base);
        return false;
    }
    bus_region_remove(space, space->regions[i]);
    return true;
}

bool bus_region_move(struct bus_space *space, struct bus_region *region,
                     uint64_t new_base, GError **error)
{
    uint64_t old_base = region->base;

    g_assert(!region->detached);
    space_unlink(space, region);
    region->base = new_base;
    if (!space_insert(space, region, error)) {
        GError *ignored = NULL;

        region->base = old_base;
        g_assert(space_insert(space, region, &ignored));
        return false;
    }
    return true;
}

struct bus_region *bus_lookup(const struct bus_space *space, uint64_t addr,
                              uint64_t *offset)
{
    size_t i = space->hint;

    if (i < space->count &&
        addr - space->regions[i]->base < space->regions[i]->size) {
        *offset = addr - space->regions[i]->base;
        return space->regions[i];
    }
    i = space_search(space, addr);
    if (i < space->count && space->regions[i]->base <= addr) {
        ((struct bus_space *)space)->hint = i;
        *offset = addr - space->regions[i]->base;
        return space->regions[i];
    }
    *offset = 0;
    return NULL;
}

size_t bus_region_count(const struct bus_space *space)
{
    return space->count;
}

const struct bus_region *bus_region_at(const struct bus_space *space, size_t i)
{
    g_assert(i < space->count);
    return space->regions[i];
}

void bus_get_stats(const struct bus_space *space, struct bus_stats *out)
{
    *out = space->stats;
}

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

static unsigned sizes_min(struct io_access_sizes s)
{
    return s.min == 0 ? 1 : s.min;
}

static unsigned sizes_max(struct io_access_sizes s)
{
    return s.max == 0 ? 8 : s.max;
}

static bool size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/*
 * Calls the region's callback with sizes it implements: pieces of at most
 * impl.max bytes, each widened to at least impl.min bytes.
 */
static enum mem_tx region_access(const struct bus_region *r, uint64_t offset,
                                 unsigned size, uint64_t *val, bool is_write)
{
    unsigned imin = sizes_min(r->ops->impl);
    unsigned imax = sizes_max(r->ops->impl);
    unsigned piece = size < imax ? size : imax;
    uint64_t result = 0;

    if (SIM_LIKELY(size >= imin && size <= imax)) {
        /* The callback handles this size itself: no splitting. */
        return is_write ? r->ops->write(r->opaque, offset, size, *val)
                        : r->ops->read(r->opaque, offset, size, val);
    }

    for (unsigned done = 0; done < size; done += piece) {
        uint64_t off = offset + done;
        unsigned width = piece < imin ? imin : piece;
        uint64_t aligned = width > piece ? off & ~(uint64_t)(width - 1) : off;
        unsigned shift = (unsigned)(off - aligned) * 8;
        uint64_t part;
        enum mem_tx tx;

        if (is_write) {
            part = ((*val >> (done * 8)) & size_mask(piece)) << shift;
            tx = r->ops->write(r->opaque, aligned, width, part);
        } else {
            part = 0;
            tx = r->ops->read(r->opaque, aligned, width, &part);
            result |= ((part >> shift) & size_mask(piece)) << (done * 8);
        }
        if (tx != MEM_TX_OK) {
            return tx;
        }
        if (r->detached) {
            /* Removed by the piece just done: the rest hits nothing
             * (dropped, or all-ones). */
            result |= done + piece < size
                          ? size_mask(size) & ~size_mask(done + piece)
                          : 0;
            break;
        }
    }
    if (!is_write) {
        *val = result;
    }
    return MEM_TX_OK;
}

enum mem_tx bus_region_access(struct bus_space *space, struct bus_region *r,
                              uint64_t offset, unsigned size, uint64_t *val,
                              bool is_write)
{
    enum mem_tx tx;

    if (is_write) {
        space->stats.writes++;
    } else {
        space->stats.reads++;
    }
    if (!size_ok(size)) {
        /* Guest-caused (an odd-sized MMIO access): refuse, never abort. */
        space->stats.errors++;
        if (!is_write) {
            *val = UINT64_MAX;
        }
        return MEM_TX_ERROR;
    }
    if (r == NULL) {
        if (is_write) {
            space->stats.unclaimed_writes++;
        } else {
            space->stats.unclaimed_reads++;
            *val = size_mask(size);
        }
        return MEM_TX_OK;
    }
    if (size < sizes_min(r->ops->valid) || size > sizes_max(r->ops->valid) ||
        size > r->size - offset) {
        /* Outside @valid, or running past the region's end: a device
         * never sees bytes beyond its window. */
        tx = MEM_TX_ERROR;
    } else {
        /* The callback may remove or move its own region (a BAR write). */
        r->busy++;
        tx = region_access(r, offset, size, val, is_write);
        if (--r->busy == 0 && r->detached) {
            region_free(r);
        }
    }
    if (tx != MEM_TX_OK) {
        space->stats.errors++;
        if (!is_write) {
            *val = size_mask(size);
        }
    }
    return tx;
}

enum mem_tx bus_read(struct bus_space *space, uint64_t addr, unsigned size,
                     uint64_t *val)
{
    uint64_t offset;
    struct bus_region *r = bus_lookup(space, addr, &offset);

    return bus_region_access(space, r, offset, size, val, false);
}

enum mem_tx bus_write(struct bus_space *space, uint64_t addr, unsigned size,
                      uint64_t val)
{
    uint64_t offset;
    struct bus_region *r = bus_lookup(space, addr, &offset);

    return bus_region_access(space, r, offset, size, &val, true);
}
