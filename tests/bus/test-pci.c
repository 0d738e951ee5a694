/*
 * tests/bus/test-pci.c: PCI configuration space (bus/pci.c) against
 * pci.md: read-only and RW1C bits, BAR sizing masks for I/O, 32- and
 * 64-bit memory, decoding gated by Command and BARs that move, the
 * capability and extended-capability chains, MSI (multiple message,
 * masking and pending bits, bus mastering) and MSI-X (table and PBA in a
 * BAR, vector and function masks).
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>

#include "bus/bus.h"
#include "bus/pci.h"

/* What the MSI callback saw. */
struct msi_log {
    unsigned count;
    uint16_t rid;
    uint64_t addr;
    uint32_t data;
};

static void msi_record(void *opaque, uint16_t rid, uint64_t addr,
                       uint32_t data)
{
    struct msi_log *log = opaque;

    log->count++;
    log->rid = rid;
    log->addr = addr;
    log->data = data;
}

/* A BAR's device: counts accesses, reads back offset + 0x10. */
struct probe {
    unsigned calls;
    uint64_t last_offset;
};

static enum mem_tx probe_read(void *opaque, uint64_t offset, unsigned size,
                              uint64_t *val)
{
    struct probe *p = opaque;

    p->calls++;
    p->last_offset = offset;
    *val = offset + 0x10;
    return MEM_TX_OK;
}

static enum mem_tx probe_write(void *opaque, uint64_t offset, unsigned size,
                               uint64_t val)
{
    struct probe *p = opaque;

    p->calls++;
    p->last_offset = offset;
    return MEM_TX_OK;
}

static const struct io_region_ops probe_ops = {
    .read = probe_read,
    .write = probe_write,
};

struct pci_fixture {
    struct bus_space *io, *mmio;
    struct pci_bus *bus;
    struct msi_log msi;
    struct probe probe;
    struct pci_function *fn;
};

static const struct pci_id test_id = {
    .vendor = 0x1234,
    .device = 0x1050,
    .class_code = 0xff0000,
    .revision = 2,
    .subsystem_vendor = 0x1234,
    .subsystem = 0x0001,
    .interrupt_pin = 1,
};

static void fixture_init(struct pci_fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->io = bus_space_new("io", 0x10000);
    f->mmio = bus_space_new("mmio", 0);
    f->bus = pci_bus_new(0, f->io, f->mmio, msi_record, &f->msi);
    f->fn = pci_function_add(f->bus, PCI_DEVFN(3, 0), "dev", &test_id, NULL,
                             NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->fn);
}

static void fixture_fini(struct pci_fixture *f)
{
    pci_bus_free(f->bus);
    bus_space_free(f->mmio);
    bus_space_free(f->io);
}

static void test_header(void)
{
    struct pci_fixture f;
    GError *err = NULL;

    fixture_init(&f);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_VENDOR_ID, 4), 0x10501234);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, 0x08, 4), 0xff000002);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_INTERRUPT_PIN, 1), 1);
    CU_ASSERT_EQUAL(pci_function_rid(f.fn), 0x18);
    /* Identity is read-only. */
    pci_config_write(f.fn, PCI_VENDOR_ID, 4, 0);
    pci_config_write(f.fn, 0x08, 4, 0);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_VENDOR_ID, 4), 0x10501234);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, 0x08, 4), 0xff000002);
    /* Command keeps only its defined bits; the interrupt line is
     * scratch. */
    pci_config_write(f.fn, PCI_COMMAND, 2, 0xffff);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_COMMAND, 2), 0x0547);
    pci_config_write(f.fn, PCI_INTERRUPT_LINE, 1, 0x0b);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_INTERRUPT_LINE, 1), 0x0b);
    /* Status: error bits are write-1-to-clear, the rest read-only. */
    pci_config_init(f.fn, PCI_STATUS, 2, 0xa010, 0, 0xf900);
    pci_config_write(f.fn, PCI_STATUS, 2, 0x2000);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_STATUS, 2), 0x8010);
    pci_config_write(f.fn, PCI_STATUS, 2, 0x0010);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_STATUS, 2), 0x8010);
    /* A second function in the slot is refused. */
    CU_ASSERT_PTR_NULL(pci_function_add(f.bus, PCI_DEVFN(3, 0), "again",
                                        &test_id, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(err);
    g_clear_error(&err);
    /* Beyond 4 KiB: all-ones, writes dropped. */
    CU_ASSERT_EQUAL(pci_config_read(f.fn, 0x1000, 4), UINT32_MAX);
    fixture_fini(&f);
}

/* Write all-ones, read back: the size in the low bits (pci.md §3). */
static uint32_t bar_probe(struct pci_function *fn, unsigned n)
{
    uint32_t saved = pci_config_read(fn, PCI_BAR0 + 4 * n, 4);
    uint32_t v;

    pci_config_write(fn, PCI_BAR0 + 4 * n, 4, 0xffffffff);
    v = pci_config_read(fn, PCI_BAR0 + 4 * n, 4);
    pci_config_write(fn, PCI_BAR0 + 4 * n, 4, saved);
    return v;
}

/* BAR 0: 4 KiB memory; 1: 32 ports; 2-3: 1 MiB 64-bit prefetchable. */
static void declare_three_bars(struct pci_fixture *f)
{
    CU_ASSERT_TRUE(pci_bar_declare(f->fn, 0, PCI_BAR_MEM32, 0x1000, false,
                                   &probe_ops, &f->probe, NULL));
    CU_ASSERT_TRUE(pci_bar_declare(f->fn, 1, PCI_BAR_IO, 0x20, false,
                                   &probe_ops, &f->probe, NULL));
    CU_ASSERT_TRUE(pci_bar_declare(f->fn, 2, PCI_BAR_MEM64, 0x100000, true,
                                   &probe_ops, &f->probe, NULL));
}

static void test_bar_sizing(void)
{
    struct pci_fixture f;
    GError *err = NULL;

    fixture_init(&f);
    declare_three_bars(&f);
    CU_ASSERT_EQUAL(bar_probe(f.fn, 0), 0xfffff000);
    CU_ASSERT_EQUAL(bar_probe(f.fn, 1), 0xffffffe1);
    CU_ASSERT_EQUAL(bar_probe(f.fn, 2), 0xfff0000c);
    CU_ASSERT_EQUAL(bar_probe(f.fn, 3), 0xffffffff);
    CU_ASSERT_EQUAL(bar_probe(f.fn, 4), 0); /* unused */
    CU_ASSERT_EQUAL(bar_probe(f.fn, 5), 0);
    /* The probe left the BARs as they were. */
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_BAR0, 4), 0);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_BAR0 + 4, 4), 1);
    /* Bad declarations: not a power of two, too small, taken, no room
     * for a 64-bit BAR's upper half. */
    CU_ASSERT_FALSE(pci_bar_declare(f.fn, 4, PCI_BAR_MEM32, 0x3000, false,
                                    &probe_ops, NULL, &err));
    g_clear_error(&err);
    CU_ASSERT_FALSE(pci_bar_declare(f.fn, 4, PCI_BAR_MEM32, 8, false,
                                    &probe_ops, NULL, &err));
    g_clear_error(&err);
    CU_ASSERT_FALSE(pci_bar_declare(f.fn, 0, PCI_BAR_IO, 8, false,
                                    &probe_ops, NULL, &err));
    g_clear_error(&err);
    CU_ASSERT_FALSE(pci_bar_declare(f.fn, 5, PCI_BAR_MEM64, 0x1000, false,
                                    &probe_ops, NULL, &err));
    g_clear_error(&err);
    fixture_fini(&f);
}

static void test_bar_decoding(void)
{
    struct pci_fixture f;
    struct bus_region *r;
    uint64_t off, v = 0;

    fixture_init(&f);
    declare_three_bars(&f);
    pci_config_write(f.fn, PCI_BAR0, 4, 0xfebf1000);
    pci_config_write(f.fn, PCI_BAR0 + 4, 4, 0xc040);
    pci_config_write(f.fn, PCI_BAR0 + 8, 4, 0x00100000);
    pci_config_write(f.fn, PCI_BAR0 + 12, 4, 0x8); /* 0x8_0010_0000 */
    /* Placed but not decoded until Command enables its kind. */
    CU_ASSERT_EQUAL(bus_region_count(f.mmio), 0);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 0), UINT64_MAX);
    pci_config_write(f.fn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 0), 0xfebf1000);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 2), UINT64_C(0x800100000));
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 1), UINT64_MAX);
    CU_ASSERT_EQUAL(bus_region_count(f.io), 0);
    CU_ASSERT_EQUAL(bus_read(f.mmio, 0xfebf1008, 4, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0x18);
    CU_ASSERT_EQUAL(f.probe.last_offset, 8);
    pci_config_write(f.fn, PCI_COMMAND, 2,
                     PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 1), 0xc040);
    CU_ASSERT_EQUAL(bus_read(f.io, 0xc044, 1, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(f.probe.last_offset, 4);

    /* A BAR the guest moves: the same region, at the new place only. */
    r = bus_lookup(f.mmio, 0xfebf1000, &off);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    pci_config_write(f.fn, PCI_BAR0, 4, 0xfebf4000);
    CU_ASSERT_PTR_NULL(bus_lookup(f.mmio, 0xfebf1000, &off));
    CU_ASSERT_PTR_EQUAL(bus_lookup(f.mmio, 0xfebf4abc, &off), r);
    CU_ASSERT_EQUAL(off, 0xabc);

    /* Moved onto the other BAR's window: it stays off the bus. */
    pci_config_write(f.fn, PCI_BAR0 + 8, 4, 0xfebf4000);
    pci_config_write(f.fn, PCI_BAR0 + 12, 4, 0);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 2), UINT64_MAX);
    CU_ASSERT_EQUAL(pci_bar_address(f.fn, 0), 0xfebf4000);

    /* Decoding off: every memory window goes. */
    pci_config_write(f.fn, PCI_COMMAND, 2, PCI_COMMAND_IO);
    CU_ASSERT_EQUAL(bus_region_count(f.mmio), 0);
    CU_ASSERT_EQUAL(bus_region_count(f.io), 1);
    /* Removing the function takes its windows with it. */
    pci_function_remove(f.fn);
    CU_ASSERT_EQUAL(bus_region_count(f.io), 0);
    CU_ASSERT_PTR_NULL(pci_bus_function(f.bus, PCI_DEVFN(3, 0)));
    fixture_fini(&f);
}

static void test_capability_chains(void)
{
    struct pci_fixture f;
    unsigned ids[8], n = 0, p, ext[4], next, msi, msix, exp;

    fixture_init(&f);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, PCI_STATUS, 2) &
                        PCI_STATUS_CAP_LIST,
                    0);
    CU_ASSERT_TRUE(pci_bar_declare(f.fn, 4, PCI_BAR_MEM32, 0x1000, false,
                                   NULL, NULL, NULL));
    exp = pci_express_add(f.fn, 0);
    msi = pci_msi_add(f.fn, 4, true, true);
    msix = pci_msix_add(f.fn, 8, 4, 0, 0x800, NULL);
    CU_ASSERT(exp >= 0x40 && msi > exp && msix > msi && msix < 0x100);
    CU_ASSERT_NOT_EQUAL(pci_config_read(f.fn, PCI_STATUS, 2) &
                            PCI_STATUS_CAP_LIST,
                        0);
    for (p = pci_config_read(f.fn, PCI_CAPABILITY_LIST, 1) & 0xfc;
         p != 0 && n < G_N_ELEMENTS(ids);
         p = pci_config_read(f.fn, p + 1, 1) & 0xfc) {
        ids[n++] = pci_config_read(f.fn, p, 1);
    }
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(ids[0], PCI_CAP_ID_EXP);
    CU_ASSERT_EQUAL(ids[1], PCI_CAP_ID_MSI);
    CU_ASSERT_EQUAL(ids[2], PCI_CAP_ID_MSIX);
    /* PCIe: version 2, endpoint; MSI-X: 8 vectors, table and PBA in BAR 4. */
    CU_ASSERT_EQUAL(pci_config_read(f.fn, exp + 2, 2), 0x0002);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, msix + 2, 2), 7);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, msix + 4, 4), 4);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, msix + 8, 4), 0x804);

    /* Extended capabilities chain from 0x100 by their headers. */
    ext[0] = pci_ext_capability_add(f.fn, 0x000e, 1, 8);
    ext[1] = pci_ext_capability_add(f.fn, 0x0010, 1, 64);
    CU_ASSERT_EQUAL(ext[0], 0x100);
    next = pci_config_read(f.fn, 0x100, 4);
    CU_ASSERT_EQUAL(next & 0xffff, 0x000e);
    CU_ASSERT_EQUAL((next >> 16) & 0xf, 1);
    CU_ASSERT_EQUAL(next >> 20, ext[1]);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, ext[1], 4), 0x00010010);
    /* No room left is a 0 offset, not an overflow. */
    CU_ASSERT_EQUAL(pci_capability_add(f.fn, 0x09, 0x100), 0);
    CU_ASSERT_EQUAL(pci_ext_capability_add(f.fn, 0x000b, 1, 0x1000), 0);
    fixture_fini(&f);
}

static void test_msi(void)
{
    struct pci_fixture f;
    unsigned cap;

    fixture_init(&f);
    cap = pci_msi_add(f.fn, 4, true, true);
    CU_ASSERT_FATAL(cap != 0);
    /* 64-bit, maskable, 4 vectors capable (MMC 2). */
    CU_ASSERT_EQUAL(pci_config_read(f.fn, cap + 2, 2), 0x0184);
    pci_config_write(f.fn, cap + 4, 4, 0xfee01000);
    pci_config_write(f.fn, cap + 8, 4, 0);
    pci_config_write(f.fn, cap + 0xc, 2, 0x4041);
    /* Not enabled: nothing sent. */
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 0));
    /* Enabled asking for 32 vectors: granted the 4 it is capable of. */
    pci_config_write(f.fn, cap + 2, 2, PCI_MSI_FLAGS_ENABLE | 5u << 4);
    CU_ASSERT_EQUAL((pci_config_read(f.fn, cap + 2, 2) >> 4) & 7, 2);
    /* No bus mastering: no message. */
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 0));
    pci_config_write(f.fn, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    CU_ASSERT_TRUE(pci_msi_notify(f.fn, 2));
    CU_ASSERT_EQUAL(f.msi.count, 1);
    CU_ASSERT_EQUAL(f.msi.rid, 0x18);
    CU_ASSERT_EQUAL(f.msi.addr, 0xfee01000);
    CU_ASSERT_EQUAL(f.msi.data, 0x4042); /* low 2 bits: the vector */
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 4)); /* beyond those enabled */
    /* Masked: pending instead; unmasking sends it. */
    pci_config_write(f.fn, cap + 0x10, 4, 1u << 1);
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 1));
    CU_ASSERT_EQUAL(pci_config_read(f.fn, cap + 0x14, 4), 1u << 1);
    CU_ASSERT_EQUAL(f.msi.count, 1);
    pci_config_write(f.fn, cap + 0x14, 4, 0); /* pending is read-only */
    CU_ASSERT_EQUAL(pci_config_read(f.fn, cap + 0x14, 4), 1u << 1);
    pci_config_write(f.fn, cap + 0x10, 4, 0);
    CU_ASSERT_EQUAL(f.msi.count, 2);
    CU_ASSERT_EQUAL(f.msi.data, 0x4041);
    CU_ASSERT_EQUAL(pci_config_read(f.fn, cap + 0x14, 4), 0);
    fixture_fini(&f);
}

static void test_msix(void)
{
    struct pci_fixture f;
    unsigned cap;
    uint64_t v = 0;
    GError *err = NULL;

    fixture_init(&f);
    /* The MSI-X BAR holds the table and PBA only. */
    CU_ASSERT_TRUE(pci_bar_declare(f.fn, 0, PCI_BAR_MEM32, 0x1000, false,
                                   &probe_ops, &f.probe, NULL));
    CU_ASSERT_EQUAL(pci_msix_add(f.fn, 4, 0, 0, 0x800, &err), 0);
    g_clear_error(&err);
    CU_ASSERT_TRUE(pci_bar_declare(f.fn, 2, PCI_BAR_MEM32, 0x1000, false,
                                   NULL, NULL, NULL));
    CU_ASSERT_EQUAL(pci_msix_add(f.fn, 4, 2, 0, 0x20, &err), 0); /* overlap */
    g_clear_error(&err);
    cap = pci_msix_add(f.fn, 4, 2, 0, 0x800, NULL);
    CU_ASSERT_FATAL(cap != 0);
    pci_config_write(f.fn, PCI_BAR0 + 8, 4, 0xfeb00000);
    pci_config_write(f.fn, PCI_COMMAND, 2,
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    /* Entries start masked. */
    CU_ASSERT_EQUAL(bus_read(f.mmio, 0xfeb0001c, 4, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 1);
    /* Entry 1: address, data; 32- and 64-bit accesses only. */
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb00010, 8, 0xfee02000), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb00018, 4, 0x31), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb00018, 1, 0x99), MEM_TX_ERROR);
    pci_config_write(f.fn, cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    /* Masked: the PBA shows it pending. */
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 1));
    CU_ASSERT_EQUAL(bus_read(f.mmio, 0xfeb00800, 8, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 2);
    /* Unmasked: sent at once, pending cleared. */
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb0001c, 4, 0), MEM_TX_OK);
    CU_ASSERT_EQUAL(f.msi.count, 1);
    CU_ASSERT_EQUAL(f.msi.addr, 0xfee02000);
    CU_ASSERT_EQUAL(f.msi.data, 0x31);
    CU_ASSERT_EQUAL(bus_read(f.mmio, 0xfeb00800, 8, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0);
    /* The PBA is read-only. */
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb00800, 8, 0xf), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_read(f.mmio, 0xfeb00800, 8, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0);
    /* Function mask: pending, then sent when it is cleared. */
    pci_config_write(f.fn, cap + 2, 2,
                     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 1));
    CU_ASSERT_EQUAL(f.msi.count, 1);
    pci_config_write(f.fn, cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    CU_ASSERT_EQUAL(f.msi.count, 2);
    /* A vector past the table is not sent; MSI-X beats MSI. */
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 4));
    /* Pending while MSI-X is off stays pending, even when unmasked, until
     * MSI-X is enabled again. */
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb0001c, 4, 1), MEM_TX_OK);
    CU_ASSERT_FALSE(pci_msi_notify(f.fn, 1));
    pci_config_write(f.fn, cap + 2, 2, 0);
    CU_ASSERT_EQUAL(bus_write(f.mmio, 0xfeb0001c, 4, 0), MEM_TX_OK);
    CU_ASSERT_EQUAL(f.msi.count, 2);
    pci_config_write(f.fn, cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    CU_ASSERT_EQUAL(f.msi.count, 3);
    fixture_fini(&f);
}

static CU_TestInfo pci_tests[] = {
    {"header: read-only, command mask, RW1C status", test_header},
    {"BAR sizing masks: I/O, 32-bit, 64-bit prefetchable", test_bar_sizing},
    {"BARs decode when enabled and move as one region", test_bar_decoding},
    {"capability and extended capability chains", test_capability_chains},
    {"MSI: multiple message, bus mastering, masking", test_msi},
    {"MSI-X: table and PBA in a BAR, vector and function masks", test_msix},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_pci_suites[] = {
    {"bus/pci", NULL, NULL, NULL, NULL, pci_tests},
    CU_SUITE_INFO_NULL,
};
