/*
 * bootinfo.c: reads what the firmware left for the guest (README, "Guest
 * ABI") and prints it: the boot-info block (memory map, command line,
 * modules with their size and CRC-32; every RAM range written and read
 * back at both ends), then the ACPI tables it points to,
 * each checksum verified: RSDP -> XSDT -> MADT (processor local APICs)
 * and MCFG (the ECAM window).
 */
#include "rt.h"

static int failures;

static uint32_t crc32(const uint8_t *p, uint64_t n)
{
    uint32_t c = 0xffffffffu;

    while (n-- > 0) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
        }
    }
    return ~c;
}

static int sums_to_zero(const uint8_t *p, uint32_t len)
{
    uint8_t s = 0;

    for (uint32_t i = 0; i < len; i++) {
        s = (uint8_t)(s + p[i]);
    }
    return s == 0;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        rt_printf("bootinfo: FAILED: %s\n", what);
        failures++;
    }
}

static const char *type_name(uint32_t t)
{
    return t == 1 ? "RAM" : t == 2 ? "reserved" : t == 3 ? "ACPI" : "?";
}

static void print_madt(const uint8_t *t)
{
    uint32_t len = rd32(t + 4);

    rt_printf("MADT: local APIC at %08x, flags %x\n", rd32(t + 36),
              rd32(t + 40));
    for (uint32_t off = 44; off + 2 <= len && t[off + 1] >= 2;
         off += t[off + 1]) {
        const uint8_t *e = t + off;

        if (e[0] == 0) {
            rt_printf("  processor UID %u, APIC ID %u, %s\n", e[2], e[3],
                      rd32(e + 4) & 1 ? "enabled" : "disabled");
        } else if (e[0] == 1) {
            rt_printf("  I/O APIC ID %u at %08x, GSI base %u\n", e[2],
                      rd32(e + 4), rd32(e + 8));
        } else if (e[0] == 2) {
            rt_printf("  override: ISA IRQ %u -> GSI %u, flags %x\n", e[3],
                      rd32(e + 4), e[8] | e[9] << 8);
        } else {
            rt_printf("  entry type %u, %u bytes\n", e[0], e[1]);
        }
    }
}

static void print_mcfg(const uint8_t *t)
{
    uint32_t len = rd32(t + 4);

    for (uint32_t off = 44; off + 16 <= len; off += 16) {
        rt_printf("MCFG: ECAM at %llx, segment %u, buses %u-%u\n",
                  (unsigned long long)rd64(t + off), t[off + 8] | t[off + 9] << 8,
                  t[off + 10], t[off + 11]);
    }
}

int main(void)
{
    const struct rt_boot_info *b = rt_boot_info();
    const struct rt_memmap_entry *map;
    const struct rt_module *mods;
    const uint8_t *rsdp, *xsdt;

    if (b == NULL) {
        rt_puts("bootinfo: no boot-info block in RDX");
        return 1;
    }
    rt_printf("boot info: version %u, %u vCPU%s, RAM %llu MiB\n", b->version,
              b->vcpus, b->vcpus == 1 ? "" : "s",
              (unsigned long long)(rt_ram_size() >> 20));
    check((uintptr_t)b >= rt_reserved_base() && (uintptr_t)b < rt_ram_size(),
          "the block lies in the reserved area");
    rt_printf("command line: %s\n",
              b->cmdline != 0 ? (const char *)(uintptr_t)b->cmdline
                              : "(none)");
    map = (const struct rt_memmap_entry *)(uintptr_t)b->memmap;
    for (uint32_t i = 0; i < b->nmemmap; i++) {
        /* Addresses inside RAM depend on its size: show them relative. */
        uint64_t base = map[i].base, end = base + map[i].length;

        if (end <= rt_ram_size()) {
            rt_printf("memory: RAM end - %llx .. RAM end - %llx: %s\n",
                      (unsigned long long)(rt_ram_size() - base),
                      (unsigned long long)(rt_ram_size() - end),
                      type_name(map[i].type));
        } else {
            rt_printf("memory: %llx .. %llx: %s\n", (unsigned long long)base,
                      (unsigned long long)end, type_name(map[i].type));
        }
    }
    check(b->nmemmap >= 3 && map[0].base == 0 && map[0].type == 1 &&
              map[0].length == rt_reserved_base(),
          "RAM up to the reserved area");
    /* Every RAM range is reachable at both ends through the page tables
     * (the first one's start is this program's own memory). */
    for (uint32_t i = 1; i < b->nmemmap; i++) {
        if (map[i].type == 1) {
            volatile uint64_t *lo = (volatile uint64_t *)(uintptr_t)map[i].base;
            volatile uint64_t *hi = (volatile uint64_t *)(uintptr_t)(
                map[i].base + map[i].length - 8);

            *lo = 0x1122334455667788ull;
            *hi = ~0x1122334455667788ull;
            check(*lo == 0x1122334455667788ull &&
                      *hi == ~0x1122334455667788ull,
                  "a RAM range reads back what was written");
        }
    }
    mods = (const struct rt_module *)(uintptr_t)b->modules;
    for (uint32_t i = 0; i < b->nmodules; i++) {
        rt_printf("module %s: %llu bytes, crc32 %08x%s\n",
                  (const char *)(uintptr_t)mods[i].name,
                  (unsigned long long)mods[i].size,
                  crc32((const uint8_t *)(uintptr_t)mods[i].addr,
                        mods[i].size),
                  mods[i].addr % 4096 == 0 ? "" : " (not page-aligned)");
    }

    rsdp = (const uint8_t *)(uintptr_t)b->rsdp;
    check(memcmp(rsdp, "RSD PTR ", 8) == 0, "RSDP signature");
    check(sums_to_zero(rsdp, 20) && sums_to_zero(rsdp, 36), "RSDP checksums");
    rt_printf("RSDP: revision %u, OEM %.6s\n", rsdp[15],
              (const char *)rsdp + 9);
    xsdt = (const uint8_t *)(uintptr_t)rd64(rsdp + 24);
    check(memcmp(xsdt, "XSDT", 4) == 0 && sums_to_zero(xsdt, rd32(xsdt + 4)),
          "XSDT");
    for (uint32_t off = 36; off + 8 <= rd32(xsdt + 4); off += 8) {
        const uint8_t *t = (const uint8_t *)(uintptr_t)rd64(xsdt + off);

        rt_printf("table %.4s: %u bytes, revision %u, checksum %s\n",
                  (const char *)t, rd32(t + 4), t[8],
                  sums_to_zero(t, rd32(t + 4)) ? "ok" : "BAD");
        check(sums_to_zero(t, rd32(t + 4)), "table checksum");
        if (memcmp(t, "APIC", 4) == 0) {
            print_madt(t);
        } else if (memcmp(t, "MCFG", 4) == 0) {
            print_mcfg(t);
        }
    }
    rt_printf("bootinfo: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures != 0;
}
