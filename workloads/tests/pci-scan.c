/*
 * pci-scan.c: enumerates PCI bus 0 the way an OS does and prints each
 * function, in the spirit of `lspci -vv`: its address, class, IDs,
 * Command and Status, every BAR with its kind and size (sized by writing
 * all-ones with decoding off), and its capability list.  It reads through
 * configuration mechanism #1 (ports 0xCF8/0xCFC) and checks that ECAM
 * gives the same 256 bytes; it checks that an absent function reads
 * all-ones and that only a 32-bit write latches CONFIG_ADDRESS.
 */
#include "rt.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define ECAM_PA 0xb0000000ull /* iovsim's ECAM window (README, "Devices") */
#define ECAM_VA 0x40000000ull /* where this program maps bus 0 of it */

static uint32_t cf8_read(unsigned devfn, unsigned reg)
{
    rt_outl(CONFIG_ADDRESS, 0x80000000u | devfn << 8 | (reg & 0xfc));
    return rt_inl(CONFIG_DATA);
}

static void cf8_write(unsigned devfn, unsigned reg, uint32_t v)
{
    rt_outl(CONFIG_ADDRESS, 0x80000000u | devfn << 8 | (reg & 0xfc));
    rt_outl(CONFIG_DATA, v);
}

/* The function's 4 KiB of ECAM, mapped uncached on first use. */
static volatile uint32_t *ecam(unsigned devfn)
{
    uint64_t va = ECAM_VA + ((uint64_t)devfn << 12);
    uint64_t *pte = rt_pte_find(va);

    if (pte == NULL || !(*pte & RT_PTE_P)) {
        if (rt_map_4k(va, ECAM_PA + ((uint64_t)devfn << 12),
                      RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) != 0) {
            rt_printf("pci-scan: cannot map ECAM for devfn %02x\n", devfn);
            rt_exit(1);
        }
    }
    return (volatile uint32_t *)va;
}

static const char *class_name(unsigned base, unsigned sub)
{
    switch (base << 8 | sub) {
    case 0x0600:
        return "Host bridge";
    case 0x0601:
        return "ISA bridge";
    case 0x0604:
        return "PCI bridge";
    case 0x0200:
        return "Ethernet controller";
    case 0x0106:
        return "SATA controller";
    case 0x0108:
        return "Non-Volatile memory controller";
    default:
        return base == 0xff ? "Unassigned class" : "Device";
    }
}

static const char *cap_name(unsigned id)
{
    switch (id) {
    case 0x01:
        return "Power Management";
    case 0x05:
        return "MSI";
    case 0x09:
        return "Vendor Specific";
    case 0x10:
        return "Express";
    case 0x11:
        return "MSI-X";
    default:
        return "?";
    }
}

static const char *flag(uint32_t v, uint32_t bit)
{
    return v & bit ? "+" : "-";
}

/* Sizes the BARs with decoding off, prints them; returns BARs used. */
static unsigned print_bars(unsigned devfn)
{
    uint32_t cmd = cf8_read(devfn, 0x04) & 0xffff;
    unsigned used = 0;

    cf8_write(devfn, 0x04, cmd & ~3u);
    for (unsigned n = 0; n < 6; n++) {
        unsigned reg = 0x10 + 4 * n;
        uint32_t saved = cf8_read(devfn, reg), probe;
        uint64_t size;

        cf8_write(devfn, reg, 0xffffffffu);
        probe = cf8_read(devfn, reg);
        cf8_write(devfn, reg, saved);
        if (probe == 0) {
            continue;
        }
        used++;
        if (probe & 1) {
            size = (uint16_t)~(probe & ~3u) + 1u;
            rt_printf("\tRegion %u: I/O ports at %04x [size=%llu]\n", n,
                      saved & ~3u, (unsigned long long)size);
            continue;
        }
        size = (uint64_t)(uint32_t)~(probe & ~0xfu) + 1;
        if ((probe & 6) == 4 && n < 5) {
            uint32_t hi_saved = cf8_read(devfn, reg + 4), hi;

            cf8_write(devfn, reg + 4, 0xffffffffu);
            hi = cf8_read(devfn, reg + 4);
            cf8_write(devfn, reg + 4, hi_saved);
            size = ~(((uint64_t)hi << 32) | (probe & ~0xfu)) + 1;
            rt_printf("\tRegion %u: Memory at %llx (64-bit, %s) "
                      "[size=%lluK]\n",
                      n,
                      (unsigned long long)(((uint64_t)hi_saved << 32) |
                                           (saved & ~0xfu)),
                      probe & 8 ? "prefetchable" : "non-prefetchable",
                      (unsigned long long)(size >> 10));
            n++;
            continue;
        }
        rt_printf("\tRegion %u: Memory at %08x (32-bit, %s) [size=%lluK]\n",
                  n, saved & ~0xfu,
                  probe & 8 ? "prefetchable" : "non-prefetchable",
                  (unsigned long long)(size >> 10));
    }
    cf8_write(devfn, 0x04, cmd);
    return used;
}

static void print_caps(unsigned devfn)
{
    uint32_t status = cf8_read(devfn, 0x04) >> 16;
    unsigned p, steps = 0;

    if (!(status & (1u << 4))) {
        rt_puts("\tCapabilities: none");
        return;
    }
    for (p = cf8_read(devfn, 0x34) & 0xfc; p != 0 && steps < 48; steps++) {
        uint32_t head = cf8_read(devfn, p);

        rt_printf("\tCapabilities: [%02x] %s\n", p, cap_name(head & 0xff));
        p = (head >> 8) & 0xfc;
    }
}

/* Mechanism #1 and ECAM must agree on all 256 bytes (and ECAM must
 * show the function's 4 KiB). */
static int compare_mechanisms(unsigned devfn)
{
    volatile uint32_t *e = ecam(devfn);
    int bad = 0;

    for (unsigned reg = 0; reg < 256; reg += 4) {
        uint32_t a = cf8_read(devfn, reg), b = e[reg / 4];

        if (a != b) {
            rt_printf("pci-scan: %02x.%u reg %02x: 0xCFC %08x, ECAM %08x\n",
                      devfn >> 3, devfn & 7, reg, a, b);
            bad++;
        }
    }
    return bad;
}

int main(void)
{
    unsigned found = 0;
    int bad = 0;

    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            unsigned devfn = dev << 3 | fn;
            uint32_t id = cf8_read(devfn, 0x00);
            uint32_t class, cmd;

            if ((id & 0xffff) == 0xffff) {
                /* Absent: ECAM agrees. */
                if (fn == 0 && dev < 4 && ecam(devfn)[0] != 0xffffffffu) {
                    rt_printf("pci-scan: %02x.0 absent but ECAM reads "
                              "%08x\n",
                              dev, ecam(devfn)[0]);
                    bad++;
                }
                if (fn == 0) {
                    break;
                }
                continue;
            }
            found++;
            class = cf8_read(devfn, 0x08);
            cmd = cf8_read(devfn, 0x04);
            rt_printf("00:%02x.%u %s [%04x]: Device %04x:%04x (rev %02x)\n",
                      dev, fn, class_name(class >> 24, (class >> 16) & 0xff),
                      class >> 16, id & 0xffff, id >> 16, class & 0xff);
            rt_printf("\tControl: I/O%s Mem%s BusMaster%s DisINTx%s\n",
                      flag(cmd, 1), flag(cmd, 2), flag(cmd, 4),
                      flag(cmd, 1u << 10));
            rt_printf("\tStatus: Cap%s\n", flag(cmd >> 16, 1u << 4));
            rt_printf("\tInterrupt: pin %u\n", (cf8_read(devfn, 0x3c) >> 8) &
                                                   0xff);
            print_bars(devfn);
            print_caps(devfn);
            bad += compare_mechanisms(devfn);
            if (fn == 0 && !(cf8_read(devfn, 0x0c) & 0x800000)) {
                break; /* not multi-function */
            }
        }
    }
    /* A byte write to 0xCF8 does not latch CONFIG_ADDRESS. */
    rt_outl(CONFIG_ADDRESS, 0x80000000u);
    rt_outb(CONFIG_ADDRESS + 1, 0x08);
    if (rt_inl(CONFIG_ADDRESS) != 0x80000000u) {
        rt_puts("pci-scan: a byte write changed CONFIG_ADDRESS");
        bad++;
    }
    /* With the enable bit clear, CONFIG_DATA reads all-ones. */
    rt_outl(CONFIG_ADDRESS, 0);
    if (rt_inl(CONFIG_DATA) != 0xffffffffu) {
        rt_puts("pci-scan: CONFIG_DATA decoded without the enable bit");
        bad++;
    }
    rt_printf("pci-scan: %u function%s on bus 0, mechanism #1 and ECAM %s\n",
              found, found == 1 ? "" : "s", bad == 0 ? "agree" : "differ");
    return bad != 0;
}
