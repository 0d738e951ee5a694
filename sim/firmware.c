/*
 * sim/firmware.c: what a VM's firmware leaves in guest RAM before the
 * guest starts (README, "Guest ABI"): the ACPI tables
 * (../shared/spec/acpi.md: RSDP, XSDT, MADT, MCFG), the modules named in
 * the config, the command line, and the boot-info block that lists them
 * with the memory map.  All of it sits in the reserved area at the top of
 * the RAM below the PCI hole, below the page tables, in this order from
 * its lowest address:
 *
 *   ACPI tables   (one page; memory map type 3, ACPI reclaimable)
 *   boot info     (the block, its arrays, module names, command line)
 *   modules       (each page-aligned)
 *   page tables   (sim/loader.c)
 *
 * The boot-info block (little-endian; iovsim's own layout, version 1):
 *   0x00  8  magic "IOVSBOOT"
 *   0x08  4  version (1)          0x0C  4  bytes of the block and arrays
 *   0x10  8  RSDP address
 *   0x18  8  command line address (NUL-terminated; 0: none)
 *   0x20  8  memory map address   0x28  4  its entries   0x2C 4 vCPUs
 *   0x30  8  module list address  0x38  4  its entries   0x3C 4 reserved
 * A memory map entry (24 bytes): base (8), length (8), type (4: 1 RAM,
 * 2 reserved, 3 ACPI reclaimable, as e820), 4 reserved.  A module entry
 * (24 bytes): address (8), size (8), address of its NUL-terminated name
 * (8).
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "devices/devices.h"
#include "sim/sim-internal.h"
#include "sim/sim.h"

#define FW_PAGE 4096u
#define FW_ACPI_SIZE FW_PAGE
#define FW_INFO_HEADER 0x40u
#define FW_ENTRY_SIZE 24u
#define FW_MAX_MAP 8u
#define FW_E820_RAM 1u
#define FW_E820_RESERVED 2u
#define FW_E820_ACPI 3u
#define FW_LAPIC_BASE 0xfee00000u
#define FW_IOAPIC_BASE 0xfec00000u
#define FW_ECAM_SIZE (UINT64_C(256) << 20)

static uint64_t fw_align(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* The byte that makes @len bytes at @p sum to 0. */
static uint8_t fw_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < len; i++) {
        sum = (uint8_t)(sum + p[i]);
    }
    return (uint8_t)-sum;
}

/* A table header (acpi.md §2); the checksum is set by fw_table_done. */
static void fw_table_header(uint8_t *t, const char *sig, uint32_t len,
                            uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "IOVSIM", 6);
    memcpy(t + 16, "IOVSIMVM", 8);
    put32(t + 24, 1);
    memcpy(t + 28, "IOVS", 4);
    put32(t + 32, 1);
}

static void fw_table_done(uint8_t *t)
{
    t[9] = 0;
    t[9] = fw_checksum(t, (size_t)t[4] | (size_t)t[5] << 8);
}

/*
 * The ACPI tables in the page at guest-physical @gpa (host @p).  The MADT
 * lists one processor local APIC per vCPU (APIC ID = vCPU index), the I/O
 * APIC and the ISA IRQ 0 override; the wakeup mailbox comes with the
 * vCPUs it starts.  MCFG gives the ECAM window of bus 0-255.
 * Returns: the RSDP's address.
 */
static uint64_t fw_acpi(const struct sim_vm *vm, uint8_t *p, uint64_t gpa)
{
    const unsigned rsdp = 0, xsdt = 0x40, madt = 0x100;
    const unsigned madt_len = 44 + 8 * vm->nvcpus + 12 + 10;
    const unsigned mcfg = (unsigned)fw_align(madt + madt_len, 16);
    uint8_t *t;

    memset(p, 0, FW_ACPI_SIZE);
    /* MADT (acpi.md §3). */
    t = p + madt;
    fw_table_header(t, "APIC", madt_len, 5);
    put32(t + 36, FW_LAPIC_BASE);
    put32(t + 40, 0); /* no 8259 PICs */
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        uint8_t *e = t + 44 + 8 * i;

        e[0] = 0; /* Processor Local APIC */
        e[1] = 8;
        e[2] = (uint8_t)i; /* ACPI processor UID */
        e[3] = (uint8_t)i; /* APIC ID */
        put32(e + 4, 1);   /* enabled */
    }
    {
        /* The I/O APIC (ID after the local APICs', GSI 0-23), and the
         * usual PC override: ISA IRQ 0 on pin 2, edge, active high. */
        uint8_t *e = t + 44 + 8 * vm->nvcpus;

        e[0] = 1;
        e[1] = 12;
        e[2] = (uint8_t)(vm->nvcpus & 0xf);
        e[3] = 0;
        put32(e + 4, FW_IOAPIC_BASE);
        put32(e + 8, 0);
        e += 12;
        e[0] = 2;
        e[1] = 10;
        e[2] = 0; /* ISA */
        e[3] = 0; /* IRQ 0 */
        put32(e + 4, 2);
        put16(e + 8, 0x5); /* edge, active high */
    }
    fw_table_done(t);
    /* MCFG (acpi.md §4). */
    t = p + mcfg;
    fw_table_header(t, "MCFG", 36 + 8 + 16, 1);
    put64(t + 44, DEV_PCI_ECAM_BASE);
    put16(t + 52, 0); /* segment group */
    t[54] = 0;        /* buses 0 ... */
    t[55] = 255;      /* ... to 255 */
    fw_table_done(t);
    /* XSDT (acpi.md §2). */
    t = p + xsdt;
    fw_table_header(t, "XSDT", 36 + 16, 1);
    put64(t + 36, gpa + madt);
    put64(t + 44, gpa + mcfg);
    fw_table_done(t);
    /* RSDP, ACPI 2.0 form (acpi.md §1). */
    t = p + rsdp;
    memcpy(t, "RSD PTR ", 8);
    memcpy(t + 9, "IOVSIM", 6);
    t[15] = 2;
    put32(t + 16, 0);
    put32(t + 20, 36);
    put64(t + 24, gpa + xsdt);
    t[8] = fw_checksum(t, 20);
    t[32] = fw_checksum(t, 36);
    g_assert(mcfg + 60 <= FW_ACPI_SIZE);
    return gpa + rsdp;
}

/* One memory map entry; merges it into the last when they touch. */
static unsigned fw_map_add(uint8_t *map, unsigned n, uint64_t base,
                           uint64_t len, uint32_t type)
{
    if (n > 0) {
        uint8_t *last = map + (n - 1) * FW_ENTRY_SIZE;
        uint64_t lbase, llen;
        uint32_t ltype;

        memcpy(&lbase, last, 8);
        memcpy(&llen, last + 8, 8);
        memcpy(&ltype, last + 16, 4);
        if (ltype == type && lbase + llen == base) {
            put64(last + 8, llen + len);
            return n;
        }
    }
    g_assert(n < FW_MAX_MAP);
    put64(map + n * FW_ENTRY_SIZE, base);
    put64(map + n * FW_ENTRY_SIZE + 8, len);
    put32(map + n * FW_ENTRY_SIZE + 16, type);
    put32(map + n * FW_ENTRY_SIZE + 20, 0);
    return n + 1;
}

bool sim_firmware_build(struct sim_vm *vm, const struct sim_vm_config *vc,
                        GError **error)
{
    g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func(g_free);
    GArray *sizes = g_array_new(false, false, sizeof(gsize));
    uint64_t info_size, total, base, info, at, rsdp;
    size_t names = 0, cmdline = vc->cmdline != NULL ? strlen(vc->cmdline) + 1
                                                     : 0;
    unsigned nmods = vc->nmodules, nmap = 0;
    uint8_t *b;

    for (unsigned i = 0; i < nmods; i++) {
        GError *err = NULL;
        char *bytes = NULL;
        gsize len = 0;

        if (!g_file_get_contents(vc->modules[i], &bytes, &len, &err)) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_FILE,
                        "module %s: %s", vc->modules[i], err->message);
            g_error_free(err);
            g_array_free(sizes, true);
            return false;
        }
        g_ptr_array_add(data, bytes);
        g_array_append_val(sizes, len);
        names += strlen(vc->modules[i]) + 1;
    }
    info_size = fw_align(FW_INFO_HEADER + FW_MAX_MAP * FW_ENTRY_SIZE +
                             (uint64_t)nmods * FW_ENTRY_SIZE + names + cmdline,
                         FW_PAGE);
    total = FW_ACPI_SIZE + info_size;
    for (unsigned i = 0; i < nmods; i++) {
        total += fw_align(g_array_index(sizes, gsize, i), FW_PAGE);
    }
    /* Leave the guest at least 1 MiB above its 1 MiB load address. */
    if (total > vm->pt_base || vm->pt_base - total < UINT64_C(2) << 20) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                    "the modules and firmware tables (%" PRIu64 " KiB) do "
                    "not fit in guest RAM of %" PRIu64 " MiB",
                    total >> 10, vm->low_size >> 20);
        g_array_free(sizes, true);
        return false;
    }
    base = vm->pt_base - total;
    vm->fw_base = base;
    rsdp = fw_acpi(vm, vm->ram + base, base);

    /* The boot-info block, its arrays, names and command line. */
    info = base + FW_ACPI_SIZE;
    b = vm->ram + info;
    memset(b, 0, info_size);
    memcpy(b, "IOVSBOOT", 8);
    put32(b + 0x08, 1);
    put32(b + 0x0c, (uint32_t)info_size);
    put64(b + 0x10, rsdp);
    put32(b + 0x2c, vm->nvcpus);
    at = info + FW_INFO_HEADER + FW_MAX_MAP * FW_ENTRY_SIZE +
         (uint64_t)nmods * FW_ENTRY_SIZE;
    if (cmdline > 0) {
        memcpy(vm->ram + at, vc->cmdline, cmdline);
        put64(b + 0x18, at);
        at += cmdline;
    }
    /* Modules, page by page above the block. */
    put64(b + 0x30, info + FW_INFO_HEADER + FW_MAX_MAP * FW_ENTRY_SIZE);
    put32(b + 0x38, nmods);
    {
        uint64_t mod = info + info_size;

        for (unsigned i = 0; i < nmods; i++) {
            uint8_t *e = b + FW_INFO_HEADER + FW_MAX_MAP * FW_ENTRY_SIZE +
                         i * FW_ENTRY_SIZE;
            gsize len = g_array_index(sizes, gsize, i);
            g_autofree char *name = g_path_get_basename(vc->modules[i]);

            memcpy(vm->ram + mod, g_ptr_array_index(data, i), len);
            put64(e, mod);
            put64(e + 8, len);
            memcpy(vm->ram + at, name, strlen(name) + 1);
            put64(e + 16, at);
            at += strlen(name) + 1;
            mod += fw_align(len, FW_PAGE);
        }
    }
    /* The memory map: RAM, the ACPI page, the rest reserved; the ECAM
     * window. */
    put64(b + 0x20, info + FW_INFO_HEADER);
    nmap = fw_map_add(b + FW_INFO_HEADER, nmap, 0, base, FW_E820_RAM);
    nmap = fw_map_add(b + FW_INFO_HEADER, nmap, base, FW_ACPI_SIZE,
                      FW_E820_ACPI);
    nmap = fw_map_add(b + FW_INFO_HEADER, nmap, base + FW_ACPI_SIZE,
                      vm->low_size - base - FW_ACPI_SIZE, FW_E820_RESERVED);
    nmap = fw_map_add(b + FW_INFO_HEADER, nmap, DEV_PCI_ECAM_BASE,
                      FW_ECAM_SIZE, FW_E820_RESERVED);
    if (vm->high_size > 0) {
        nmap = fw_map_add(b + FW_INFO_HEADER, nmap, SIM_HIGH_RAM,
                          vm->high_size, FW_E820_RAM);
    }
    put32(b + 0x28, nmap);
    vm->boot_info = info;
    g_array_free(sizes, true);
    return true;
}
