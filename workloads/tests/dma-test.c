/*
 * dma-test.c: drives iovsim's PCI test device (devices/pci-test.c) as a
 * driver would: places and enables its BARs, then runs its DMA engine
 * through scatter-gather lists in guest memory, waiting for each
 * completion interrupt with HLT: memory to the device's buffer with an
 * MSI, the buffer back to memory with MSI-X, a transfer that reaches past
 * RAM (refused whole: ERROR, nothing written), and one without bus
 * mastering.
 */
#include "rt.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define TEST_DEVFN (1u << 3) /* 00:01.0 */
#define BAR0_PA 0xc0000000ull /* registers and buffer */
#define BAR2_PA 0xc0001000ull /* MSI-X table and PBA */
#define VEC_MSI 0x28
#define VEC_MSIX 0x29
#define VEC_INTX 0x2a
#define IOAPIC_PA 0xfec00000ull

/* Registers (devices/pci-test.c). */
#define REG_IDENT 0x00
#define REG_STATUS 0x08
#define REG_COMMAND 0x0c
#define REG_SG_LO 0x10
#define REG_SG_HI 0x14
#define REG_SG_COUNT 0x18
#define REG_DIRECTION 0x1c
#define REG_DELAY_NS 0x20
#define REG_DONE_BYTES 0x24
#define REG_FAULT_LO 0x28
#define REG_FAULT_HI 0x2c
#define REG_BUF 0x800
#define STATUS_DONE 2u
#define STATUS_ERROR 4u

struct sg_entry {
    uint64_t addr;
    uint32_t len;
    uint32_t reserved;
};

static struct sg_entry sg[4] __attribute__((aligned(16)));
static uint8_t src[2048], dst[2048];
static int failures;

static uint32_t cfg_read(unsigned reg)
{
    rt_outl(CONFIG_ADDRESS, 0x80000000u | TEST_DEVFN << 8 | (reg & 0xfc));
    return rt_inl(CONFIG_DATA);
}

static void cfg_write(unsigned reg, uint32_t v)
{
    rt_outl(CONFIG_ADDRESS, 0x80000000u | TEST_DEVFN << 8 | (reg & 0xfc));
    rt_outl(CONFIG_DATA, v);
}

static unsigned find_cap(unsigned id)
{
    for (unsigned p = cfg_read(0x34) & 0xfc, n = 0; p != 0 && n < 48; n++) {
        uint32_t head = cfg_read(p);

        if ((head & 0xff) == id) {
            return p;
        }
        p = (head >> 8) & 0xfc;
    }
    return 0;
}

static volatile uint32_t *reg(unsigned off)
{
    return (volatile uint32_t *)(uintptr_t)(BAR0_PA + off);
}

static void check(int ok, const char *what)
{
    rt_printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    failures += !ok;
}

/* Starts the engine and sleeps until @vector arrives (or 1 ms passes). */
static uint64_t run_command(unsigned vector)
{
    uint64_t before = rt_irq_count(vector);

    rt_cli();
    *reg(REG_COMMAND) = 1;
    for (int i = 0; i < 1000 && rt_irq_count(vector) == before; i++) {
        rt_sti_hlt();
        rt_cli();
    }
    rt_sti();
    return rt_irq_count(vector) - before;
}

static void on_irq(struct rt_trap_frame *frame)
{
    (void)frame;
    rt_lapic_eoi();
}

static volatile uint32_t *ioapic(unsigned off)
{
    return (volatile uint32_t *)(uintptr_t)(IOAPIC_PA + off);
}

static uint32_t ioapic_read(unsigned reg)
{
    *ioapic(0) = reg;
    return *ioapic(0x10);
}

static void ioapic_write(unsigned reg, uint32_t v)
{
    *ioapic(0) = reg;
    *ioapic(0x10) = v;
}

/* INTx: level-triggered through the I/O APIC.  In the handler the pin is
 * in service (remote IRR) until the EOI; clearing DONE first deasserts
 * it, so the EOI does not bring the interrupt back. */
static volatile uint32_t rte_in_handler, intx_status_in_handler;
static volatile unsigned intx_pin;

static void on_intx(struct rt_trap_frame *frame)
{
    (void)frame;
    rte_in_handler = ioapic_read(0x10 + 2 * intx_pin);
    intx_status_in_handler = cfg_read(0x04) >> 16;
    *reg(REG_STATUS) = STATUS_DONE | STATUS_ERROR;
    rt_lapic_eoi();
}

static void set_sg(unsigned n)
{
    *reg(REG_SG_LO) = (uint32_t)(uintptr_t)sg;
    *reg(REG_SG_HI) = 0;
    *reg(REG_SG_COUNT) = n;
}

int main(void)
{
    unsigned msi, msix;
    uint64_t ram = rt_ram_size();
    int same;

    if (cfg_read(0) != 0x10501234u) {
        rt_printf("dma-test: no test device at 00:01.0 (%08x)\n", cfg_read(0));
        return 1;
    }
    /* Place the BARs and map them uncached; then memory and bus master. */
    cfg_write(0x10, (uint32_t)BAR0_PA);
    cfg_write(0x18, (uint32_t)BAR2_PA);
    if (rt_map_4k(BAR0_PA, BAR0_PA, RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT) ||
        rt_map_4k(BAR2_PA, BAR2_PA, RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT)) {
        rt_puts("dma-test: cannot map the BARs");
        return 1;
    }
    cfg_write(0x04, 0x6); /* memory space, bus master */
    check(*reg(REG_IDENT) == 0x7e570001u, "registers at BAR0");
    /* MSIs are writes to the local APIC: it must be enabled. */
    if (rt_lapic_init() != 0) {
        rt_puts("dma-test: cannot map the local APIC");
        return 1;
    }
    rt_set_handler(VEC_MSI, on_irq);
    rt_set_handler(VEC_MSIX, on_irq);

    /* 1: memory to the buffer, two segments, completion by MSI. */
    msi = find_cap(0x05);
    cfg_write(msi + 4, 0xfee00000u); /* APIC ID 0, physical, fixed */
    cfg_write(msi + 8, 0);
    cfg_write(msi + 0xc, VEC_MSI);
    cfg_write(msi, cfg_read(msi) | 1u << 16); /* MSI enable */
    for (unsigned i = 0; i < sizeof(src); i++) {
        src[i] = (uint8_t)(i * 7 + 3);
    }
    sg[0] = (struct sg_entry){(uintptr_t)src, 100, 0};
    sg[1] = (struct sg_entry){(uintptr_t)src + 1000, 300, 0};
    set_sg(2);
    *reg(REG_DIRECTION) = 0;
    *reg(REG_DELAY_NS) = 5000;
    check(run_command(VEC_MSI) == 1, "to device: one MSI");
    check((*reg(REG_STATUS) & (STATUS_DONE | STATUS_ERROR)) == STATUS_DONE,
          "to device: done");
    check(*reg(REG_DONE_BYTES) == 400, "to device: 400 bytes");
    same = 1;
    for (unsigned i = 0; i < 400; i++) {
        uint8_t want = src[i < 100 ? i : 1000 + (i - 100)];

        same &= *(volatile uint8_t *)(uintptr_t)(BAR0_PA + REG_BUF + i) ==
                want;
    }
    check(same, "to device: the buffer holds both segments");
    *reg(REG_STATUS) = STATUS_DONE; /* RW1C */
    check((*reg(REG_STATUS) & STATUS_DONE) == 0, "status: done cleared");

    /* 2: the buffer back to memory, completion by MSI-X vector 0. */
    msix = find_cap(0x11);
    cfg_write(msi, cfg_read(msi) & ~(1u << 16)); /* MSI off */
    {
        volatile uint32_t *entry = (volatile uint32_t *)(uintptr_t)BAR2_PA;

        entry[0] = 0xfee00000u;
        entry[1] = 0;
        entry[2] = VEC_MSIX;
        entry[3] = 0; /* unmask */
    }
    cfg_write(msix, cfg_read(msix) | 1u << 31); /* MSI-X enable */
    sg[0] = (struct sg_entry){(uintptr_t)dst + 16, 400, 0};
    set_sg(1);
    *reg(REG_DIRECTION) = 1;
    check(run_command(VEC_MSIX) == 1, "from device: one MSI-X");
    check((*reg(REG_STATUS) & (STATUS_DONE | STATUS_ERROR)) == STATUS_DONE,
          "from device: done");
    same = dst[15] == 0 && dst[416] == 0;
    for (unsigned i = 0; i < 400; i++) {
        same &= dst[16 + i] == src[i < 100 ? i : 1000 + (i - 100)];
    }
    check(same, "from device: memory holds the buffer, nothing more");

    /* 3: the second segment reaches past RAM: refused whole. */
    memset(dst, 0, sizeof(dst));
    sg[0] = (struct sg_entry){(uintptr_t)dst, 64, 0};
    sg[1] = (struct sg_entry){ram - 32, 64, 0};
    set_sg(2);
    check(run_command(VEC_MSIX) == 1, "past RAM: an interrupt");
    check((*reg(REG_STATUS) & STATUS_ERROR) != 0, "past RAM: error");
    check(*reg(REG_FAULT_LO) == (uint32_t)ram && *reg(REG_FAULT_HI) == 0,
          "past RAM: the fault names the end of RAM");
    check(dst[0] == 0 && dst[63] == 0, "past RAM: nothing written");

    /* 4: without bus mastering the device cannot DMA at all. */
    cfg_write(0x04, 0x2);
    sg[0] = (struct sg_entry){(uintptr_t)dst, 64, 0};
    set_sg(1);
    *reg(REG_COMMAND) = 1;
    check((*reg(REG_STATUS) & STATUS_ERROR) != 0, "no bus master: error");
    check(dst[0] == 0, "no bus master: nothing written");
    /* 5: MSI-X off: INTA# through the I/O APIC, level-triggered. */
    cfg_write(0x04, 0x6);
    cfg_write(msix, cfg_read(msix) & ~(1u << 31));
    intx_pin = cfg_read(0x3c) & 0xff;
    check(((cfg_read(0x3c) >> 8) & 0xff) == 1, "INTx: pin INTA#");
    if (rt_map_4k(IOAPIC_PA, IOAPIC_PA, RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT)) {
        rt_puts("dma-test: cannot map the I/O APIC");
        return 1;
    }
    check((ioapic_read(1) & 0xff) == 0x11 && (ioapic_read(1) >> 16) == 23,
          "I/O APIC: version 0x11, 24 pins");
    rt_set_handler(VEC_INTX, on_intx);
    ioapic_write(0x11 + 2 * intx_pin, 0);               /* APIC ID 0 */
    ioapic_write(0x10 + 2 * intx_pin, 1u << 15 | VEC_INTX); /* level */
    sg[0] = (struct sg_entry){(uintptr_t)dst, 32, 0};
    set_sg(1);
    check(run_command(VEC_INTX) == 1, "INTx: one interrupt");
    check(rte_in_handler & 1u << 14, "INTx: remote IRR set in the handler");
    check(intx_status_in_handler & 1u << 3, "INTx: status bit 3 set");
    check((ioapic_read(0x10 + 2 * intx_pin) & 1u << 14) == 0,
          "INTx: remote IRR cleared by the EOI");
    check((cfg_read(0x04) >> 16 & 1u << 3) == 0, "INTx: status cleared");
    rt_printf("dma-test: %s\n", failures == 0 ? "all passed" : "FAILED");
    return failures != 0;
}
