/*
 * tests/sim/test-bus.c: the port-I/O address space of bus/space.c, driven
 * through bus_ calls with test regions and no machine: registration and
 * overlap rejection, lookup by binary search, the all-ones/dropped rule
 * for unclaimed accesses, refused sizes, splitting to @impl sizes, and
 * regions as stable objects: their attributes, moving them, removing one
 * from inside its own callback.
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>

#include "bus/bus.h"

/* A test region: remembers its calls, reads back offset-based bytes. */
struct probe {
    unsigned calls;
    uint64_t last_offset;
    unsigned last_size;
    uint64_t last_val;
    uint64_t reg; /* 8 bytes of register file for read-back */
};

static enum mem_tx probe_read(void *opaque, uint64_t offset, unsigned size,
                              uint64_t *val)
{
    struct probe *p = opaque;

    p->calls++;
    p->last_offset = offset;
    p->last_size = size;
    *val = 0;
    for (unsigned i = 0; i < size; i++) {
        *val |= (uint64_t)(uint8_t)(0x10 + offset + i) << (8 * i);
    }
    return MEM_TX_OK;
}

static enum mem_tx probe_write(void *opaque, uint64_t offset, unsigned size,
                               uint64_t val)
{
    struct probe *p = opaque;

    p->calls++;
    p->last_offset = offset;
    p->last_size = size;
    p->last_val = val;
    return MEM_TX_OK;
}

static const struct io_region_ops probe_ops = {
    .read = probe_read,
    .write = probe_write,
};

static const struct io_region_ops probe_byte_ops = {
    .read = probe_read,
    .write = probe_write,
    .impl = {1, 1},
};

static const struct io_region_ops probe_dword_ops = {
    .read = probe_read,
    .write = probe_write,
    .valid = {1, 4},
    .impl = {4, 4},
};

static const struct io_region_ops probe_narrow_ops = {
    .read = probe_read,
    .write = probe_write,
    .valid = {1, 1},
};

static void test_overlap_rejected(void)
{
    /* Inside, straddling either end, covering, same start. */
    static const uint64_t bad[][2] = {
        {0x104, 4}, {0xf8, 0x10}, {0x10f, 2}, {0xf0, 0x40}, {0x100, 1},
    };
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct probe p = {0};
    GError *err = NULL;

    CU_ASSERT_PTR_NOT_NULL(
        bus_region_add(io, "a", 0x100, 0x10, &probe_ops, &p, NULL, NULL));
    for (size_t i = 0; i < SIM_ARRAY_SIZE(bad); i++) {
        CU_ASSERT_PTR_NULL(bus_region_add(io, "b", bad[i][0], bad[i][1],
                                       &probe_ops, &p, NULL, &err));
        CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_OVERLAP));
        if (err != NULL) {
            CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "overlaps a"));
        }
        g_clear_error(&err);
    }
    /* Adjacent on both sides is fine. */
    CU_ASSERT_PTR_NOT_NULL(
        bus_region_add(io, "below", 0xf0, 0x10, &probe_ops, &p, NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL(
        bus_region_add(io, "above", 0x110, 1, &probe_ops, &p, NULL, NULL));
    CU_ASSERT_EQUAL(bus_region_count(io), 3);
    CU_ASSERT_STRING_EQUAL(bus_region_at(io, 0)->name, "below");
    CU_ASSERT_STRING_EQUAL(bus_region_at(io, 2)->name, "above");
    bus_space_free(io);
}

static void test_range_checked(void)
{
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct bus_space *mmio = bus_space_new("mmio", 0);
    struct probe p = {0};
    GError *err = NULL;

    CU_ASSERT_PTR_NULL(
        bus_region_add(io, "empty", 0x10, 0, &probe_ops, &p, NULL, &err));
    CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_RANGE));
    g_clear_error(&err);
    CU_ASSERT_PTR_NULL(
        bus_region_add(io, "past", 0xfffe, 4, &probe_ops, &p, NULL, &err));
    CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_RANGE));
    g_clear_error(&err);
    CU_ASSERT_PTR_NOT_NULL(
        bus_region_add(io, "last", 0xfffc, 4, &probe_ops, &p, NULL, NULL));
    /* A 64-bit space takes a region that ends at the very top. */
    CU_ASSERT_PTR_NOT_NULL(bus_region_add(mmio, "top", UINT64_MAX - 0xfff, 0x1000,
                                  &probe_ops, &p, NULL, NULL));
    CU_ASSERT_PTR_NULL(bus_region_add(mmio, "wrap", UINT64_MAX, 2, &probe_ops, &p,
                                   NULL, &err));
    CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_RANGE));
    g_clear_error(&err);
    bus_space_free(mmio);
    bus_space_free(io);
}

static void test_lookup(void)
{
    /* Registered out of order; lookup must still find each. */
    static const uint64_t bases[] = {0x3f8, 0x60, 0x1f0, 0xe9, 0xcf8, 0x20};
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct probe p[8] = {{0}};
    const struct bus_region *r;
    uint64_t off = 99;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(bases); i++) {
        char name[16];

        g_snprintf(name, sizeof(name), "r%zu", i);
        CU_ASSERT_PTR_NOT_NULL(bus_region_add(io, name, bases[i], 8, &probe_ops, &p[i],
                                      NULL, NULL));
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(bases); i++) {
        r = bus_lookup(io, bases[i] + 5, &off);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(r->base, bases[i]);
        CU_ASSERT_EQUAL(off, 5);
        CU_ASSERT_PTR_EQUAL(r->opaque, &p[i]);
    }
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x3f8 + 8, &off));
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x1f, &off));
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x80, &off));

    /* Removal. */
    CU_ASSERT_TRUE(bus_region_del(io, 0x1f0, NULL));
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x1f0, &off));
    CU_ASSERT_FALSE(bus_region_del(io, 0x1f0, NULL));
    CU_ASSERT_PTR_NOT_NULL(bus_lookup(io, 0x3f8, &off));
    bus_space_free(io);
}

static void test_unclaimed(void)
{
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct bus_stats st;
    uint64_t v = 0;

    CU_ASSERT_EQUAL(bus_read(io, 0x80, 1, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0xff);
    CU_ASSERT_EQUAL(bus_read(io, 0x80, 2, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0xffff);
    CU_ASSERT_EQUAL(bus_read(io, 0x80, 4, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0xffffffffu);
    CU_ASSERT_EQUAL(bus_read(io, 0x80, 8, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(bus_write(io, 0x80, 1, 0x12), MEM_TX_OK);
    bus_get_stats(io, &st);
    CU_ASSERT_EQUAL(st.reads, 4);
    CU_ASSERT_EQUAL(st.writes, 1);
    CU_ASSERT_EQUAL(st.unclaimed_reads, 4);
    CU_ASSERT_EQUAL(st.unclaimed_writes, 1);
    CU_ASSERT_EQUAL(st.errors, 0);
    bus_space_free(io);
}

static void test_sizes(void)
{
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct probe narrow = {0}, bytes = {0}, dwords = {0};
    struct bus_stats st;
    uint64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL(bus_region_add(io, "narrow", 0xe9, 1, &probe_narrow_ops,
                                  &narrow, NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL(bus_region_add(io, "bytes", 0x100, 8, &probe_byte_ops,
                                  &bytes, NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL(bus_region_add(io, "dwords", 0x200, 8, &probe_dword_ops,
                                  &dwords, NULL, NULL));

    /* Outside @valid: refused, all-ones, counted, device not called. */
    CU_ASSERT_EQUAL(bus_read(io, 0xe9, 2, &v), MEM_TX_ERROR);
    CU_ASSERT_EQUAL(v, 0xffff);
    CU_ASSERT_EQUAL(bus_write(io, 0xe9, 4, 1), MEM_TX_ERROR);
    CU_ASSERT_EQUAL(narrow.calls, 0);
    CU_ASSERT_EQUAL(bus_write(io, 0xe9, 1, 'x'), MEM_TX_OK);
    CU_ASSERT_EQUAL(narrow.calls, 1);
    CU_ASSERT_EQUAL(narrow.last_val, 'x');
    /* A size no bus can carry is refused, never an abort. */
    CU_ASSERT_EQUAL(bus_read(io, 0x100, 3, &v), MEM_TX_ERROR);
    CU_ASSERT_EQUAL(v, UINT64_MAX);

    /* impl {1,1}: a 4-byte read becomes 4 byte reads, little-endian. */
    CU_ASSERT_EQUAL(bus_read(io, 0x102, 4, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(bytes.calls, 4);
    CU_ASSERT_EQUAL(v, 0x15141312u);
    CU_ASSERT_EQUAL(bus_write(io, 0x100, 2, 0xabcd), MEM_TX_OK);
    CU_ASSERT_EQUAL(bytes.calls, 6);
    CU_ASSERT_EQUAL(bytes.last_offset, 1);
    CU_ASSERT_EQUAL(bytes.last_val, 0xab);

    /* impl {4,4}: a byte read at offset 6 reads dword 4, extracts byte. */
    CU_ASSERT_EQUAL(bus_read(io, 0x206, 1, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(dwords.last_offset, 4);
    CU_ASSERT_EQUAL(dwords.last_size, 4);
    CU_ASSERT_EQUAL(v, 0x16);
    CU_ASSERT_EQUAL(bus_write(io, 0x203, 1, 0x7f), MEM_TX_OK);
    CU_ASSERT_EQUAL(dwords.last_offset, 0);
    CU_ASSERT_EQUAL(dwords.last_val, UINT64_C(0x7f000000));
    /* 8 bytes exceed valid.max 4. */
    CU_ASSERT_EQUAL(bus_read(io, 0x200, 8, &v), MEM_TX_ERROR);
    /* Running past the region's end: refused, the device not called. */
    dwords.calls = 0;
    CU_ASSERT_EQUAL(bus_read(io, 0x206, 4, &v), MEM_TX_ERROR);
    CU_ASSERT_EQUAL(v, 0xffffffffu);
    CU_ASSERT_EQUAL(bus_write(io, 0x207, 2, 0), MEM_TX_ERROR);
    CU_ASSERT_EQUAL(dwords.calls, 0);

    bus_get_stats(io, &st);
    CU_ASSERT_EQUAL(st.errors, 6);
    CU_ASSERT_EQUAL(st.unclaimed_reads + st.unclaimed_writes, 0);
    bus_space_free(io);
}

/* Regions keep their address and attributes whatever else changes. */
static void test_region_objects(void)
{
    struct bus_space *io = bus_space_new("io", 0x10000);
    struct probe p[40] = {{0}};
    struct bus_region_attrs attrs = {.owner = &p[0], .trace_id = 7,
                                     .trap_cycles = 1234};
    struct bus_region *first, *r;
    GError *err = NULL;
    uint64_t off, v;

    first = bus_region_add(io, "first", 0x800, 8, &probe_ops, &p[0], &attrs,
                           NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    /* More regions than any fixed table, below and above: the first one
     * is still the same object, found by one lookup with its attributes. */
    for (unsigned i = 1; i < 40; i++) {
        CU_ASSERT_PTR_NOT_NULL(bus_region_add(io, "more",
                                              i < 20 ? i * 16 : 0x1000 + i * 16,
                                              8, &probe_ops, &p[i], NULL,
                                              NULL));
    }
    CU_ASSERT_EQUAL(bus_region_count(io), 40);
    r = bus_lookup(io, 0x803, &off);
    CU_ASSERT_PTR_EQUAL(r, first);
    CU_ASSERT_EQUAL(off, 3);
    CU_ASSERT_PTR_EQUAL(r->attrs.owner, &p[0]);
    CU_ASSERT_EQUAL(r->attrs.trace_id, 7);
    CU_ASSERT_EQUAL(r->attrs.trap_cycles, 1234);
    CU_ASSERT_EQUAL(bus_region_access(io, r, 2, 1, &v, false), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0x12);
    CU_ASSERT_EQUAL(p[0].calls, 1);

    /* Moving: the same object at the new place, nothing at the old. */
    CU_ASSERT_TRUE(bus_region_move(io, first, 0x900, NULL));
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x800, &off));
    CU_ASSERT_PTR_EQUAL(bus_lookup(io, 0x904, &off), first);
    CU_ASSERT_EQUAL(first->attrs.trace_id, 7);
    /* A move onto another region fails and leaves it where it was. */
    CU_ASSERT_FALSE(bus_region_move(io, first, 0x10, &err));
    CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_OVERLAP));
    g_clear_error(&err);
    CU_ASSERT_PTR_EQUAL(bus_lookup(io, 0x900, &off), first);
    CU_ASSERT_EQUAL(first->base, 0x900);

    bus_region_remove(io, first);
    CU_ASSERT_PTR_NULL(bus_lookup(io, 0x900, &off));
    CU_ASSERT_EQUAL(bus_region_count(io), 39);
    bus_space_free(io);
}

/* A device that removes or moves its own window from its callback, as a
 * BAR write does; the region must stay valid until the callback returns
 * (AddressSanitizer catches a use after free here). */
struct self_mover {
    struct bus_space *space;
    struct bus_region *region;
    bool move;
    unsigned calls;
};

static enum mem_tx self_mover_write(void *opaque, uint64_t offset,
                                    unsigned size, uint64_t val)
{
    struct self_mover *sm = opaque;

    sm->calls++;
    if (sm->move) {
        CU_ASSERT_TRUE(bus_region_move(sm->space, sm->region, val, NULL));
    } else {
        bus_region_remove(sm->space, sm->region);
    }
    return MEM_TX_OK;
}

static const struct io_region_ops self_mover_ops = {
    .read = probe_read,
    .write = self_mover_write,
    .impl = {1, 1},
};

static void test_region_removed_in_callback(void)
{
    struct bus_space *mmio = bus_space_new("mmio", 0);
    struct self_mover sm = {.space = mmio};
    uint64_t off;

    /* A 2-byte write is split into two byte calls: the second runs
     * after the first moved the region, on the same object. */
    sm.move = true;
    sm.region = bus_region_add(mmio, "bar", 0x1000, 0x100, &self_mover_ops,
                               &sm, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sm.region);
    CU_ASSERT_EQUAL(bus_write(mmio, 0x1000, 1, 0x2000), MEM_TX_OK);
    CU_ASSERT_PTR_EQUAL(bus_lookup(mmio, 0x2000, &off), sm.region);
    CU_ASSERT_PTR_NULL(bus_lookup(mmio, 0x1000, &off));

    /* Removed by the first byte of a split write: the second byte hits
     * nothing. */
    sm.move = false;
    CU_ASSERT_EQUAL(bus_write(mmio, 0x2000, 2, 0), MEM_TX_OK);
    CU_ASSERT_EQUAL(sm.calls, 2);
    CU_ASSERT_PTR_NULL(bus_lookup(mmio, 0x2000, &off));
    CU_ASSERT_EQUAL(bus_region_count(mmio), 0);
    bus_space_free(mmio);
}

static CU_TestInfo bus_port_tests[] = {
    {"overlapping registration is rejected", test_overlap_rejected},
    {"empty, wrapping and out-of-space regions", test_range_checked},
    {"lookup returns region and offset", test_lookup},
    {"unclaimed reads all-ones, writes dropped", test_unclaimed},
    {"valid sizes refused, impl sizes split", test_sizes},
    {"regions are stable objects with attributes", test_region_objects},
    {"a region removed by its own callback", test_region_removed_in_callback},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_bus_suites[] = {
    {"bus/ports", NULL, NULL, NULL, NULL, bus_port_tests},
    CU_SUITE_INFO_NULL,
};
