/*
 * tests/devices/test-lapic.c: the local APIC's register semantics
 * (devices/lapic.c; SDM 3A ch. 10) on a built machine whose guest never
 * runs, through its MMIO page and the VM's interrupt paths: software
 * enable, IRR/ISR and priority classes against TPR and PPR, EOI, TMR for
 * level-triggered messages, ESR, IPI destinations and the spurious vector;
 * and the I/O APIC beside it: its registers, edge and level pins, masks,
 * remote IRR and the EOI that clears it.
 */
#include "sim/common.h"

#include <CUnit/CUnit.h>
#include <glib.h>

#include "bus/bus.h"
#include "devices/devices.h"
#include "sim/sim.h"
#include "tests/sim/tiny-elf.h"
#include "tests/tmpdir.h"

#define APIC 0xfee00000ull

struct apic_fixture {
    struct sim_machine *m;
    struct bus_space *mmio;
    struct dev *lapic;
};

static void fixture_init(struct apic_fixture *f)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_parse(
        "[machine]\nmemory = 8M\n[guest]\nprogram = "
        "build/workloads/guest/hello-O2.elf\n",
        NULL, NULL, &err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    f->m = sim_machine_new(cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->m);
    f->mmio = sim_vm_mmio(sim_machine_vm(f->m, 0));
    f->lapic = sim_vm_lapic(sim_machine_vm(f->m, 0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->lapic);
}

static uint32_t rd(struct apic_fixture *f, unsigned reg)
{
    uint64_t v = 0;

    CU_ASSERT_EQUAL(bus_read(f->mmio, APIC + reg, 4, &v), MEM_TX_OK);
    return (uint32_t)v;
}

static void wr(struct apic_fixture *f, unsigned reg, uint32_t v)
{
    CU_ASSERT_EQUAL(bus_write(f->mmio, APIC + reg, 4, v), MEM_TX_OK);
}

static bool bit(struct apic_fixture *f, unsigned base, unsigned vector)
{
    return rd(f, base + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

static void test_reset_and_enable(void)
{
    struct apic_fixture f;
    uint64_t v;

    fixture_init(&f);
    CU_ASSERT_EQUAL(rd(&f, 0x020), 0);          /* ID 0 */
    CU_ASSERT_EQUAL(rd(&f, 0x030), 0x00050014); /* version */
    CU_ASSERT_EQUAL(rd(&f, 0x0e0), 0xffffffffu); /* DFR: flat */
    CU_ASSERT_EQUAL(rd(&f, 0x0f0), 0xff);       /* SVR: disabled */
    CU_ASSERT_EQUAL(rd(&f, 0x320), 0x10000);    /* LVT timer masked */
    /* Disabled: a fixed interrupt is dropped; LVTs stay masked. */
    CU_ASSERT_FALSE(dev_lapic_deliver(f.lapic, 0, 0x40, false));
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    CU_ASSERT_FALSE(bit(&f, 0x200, 0x40));
    wr(&f, 0x320, 0x30);
    CU_ASSERT_EQUAL(rd(&f, 0x320), 0x10030);
    /* Enabled: the mask can be cleared. */
    wr(&f, 0x0f0, 0x1ff);
    wr(&f, 0x320, 0x30);
    CU_ASSERT_EQUAL(rd(&f, 0x320), 0x30);
    /* Only aligned 32-bit accesses. */
    CU_ASSERT_EQUAL(bus_read(f.mmio, APIC + 0x30, 1, &v), MEM_TX_ERROR);
    /* No APIC 5 in a one-vCPU VM. */
    CU_ASSERT_FALSE(dev_lapic_deliver(f.lapic, 5, 0x40, false));
    sim_machine_free(f.m);
}

static void test_priority(void)
{
    struct apic_fixture f;

    fixture_init(&f);
    wr(&f, 0x0f0, 0x1ff);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0xff); /* spurious */
    dev_lapic_deliver(f.lapic, 0, 0x31, false);
    dev_lapic_deliver(f.lapic, 0, 0x45, true);
    CU_ASSERT_TRUE(bit(&f, 0x200, 0x31) && bit(&f, 0x200, 0x45));
    CU_ASSERT_TRUE(bit(&f, 0x180, 0x45));  /* level: TMR */
    CU_ASSERT_FALSE(bit(&f, 0x180, 0x31));
    /* The highest first; in service it raises PPR to its class. */
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x45);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0x45);
    CU_ASSERT_TRUE(bit(&f, 0x100, 0x45));
    CU_ASSERT_FALSE(bit(&f, 0x200, 0x45));
    CU_ASSERT_EQUAL(rd(&f, 0x0a0), 0x40);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1); /* class 3 < 4 */
    /* A vector of the same class waits too; a higher class preempts. */
    dev_lapic_deliver(f.lapic, 0, 0x4f, false);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    dev_lapic_deliver(f.lapic, 0, 0x50, false);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x50);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0x50);
    /* EOI clears the highest in service: 0x50, then 0x45. */
    wr(&f, 0x0b0, 0);
    CU_ASSERT_FALSE(bit(&f, 0x100, 0x50));
    CU_ASSERT_TRUE(bit(&f, 0x100, 0x45));
    wr(&f, 0x0b0, 0);
    CU_ASSERT_EQUAL(rd(&f, 0x100 + 0x20), 0);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x4f);
    /* TPR: only classes above it. */
    wr(&f, 0x080, 0x4f);
    CU_ASSERT_EQUAL(rd(&f, 0x0a0), 0x4f);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    wr(&f, 0x080, 0x30);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x4f);
    sim_machine_free(f.m);
}

static void test_errors_and_ipis(void)
{
    struct apic_fixture f;

    fixture_init(&f);
    wr(&f, 0x0f0, 0x1ff);
    /* Illegal vectors latch in ESR until the next write to it. */
    dev_lapic_deliver(f.lapic, 0, 5, false);
    CU_ASSERT_EQUAL(rd(&f, 0x280), 0);
    wr(&f, 0x280, 0);
    CU_ASSERT_EQUAL(rd(&f, 0x280), 1u << 6);
    wr(&f, 0x300, 1u << 18 | 7); /* self-IPI, vector 7 */
    wr(&f, 0x280, 0);
    CU_ASSERT_EQUAL(rd(&f, 0x280), 1u << 5);
    wr(&f, 0x280, 0);
    CU_ASSERT_EQUAL(rd(&f, 0x280), 0);
    /* Physical destination 1: nobody; 0: this APIC. */
    wr(&f, 0x310, 1u << 24);
    wr(&f, 0x300, 0x61);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    wr(&f, 0x310, 0);
    wr(&f, 0x300, 0x61);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x61);
    dev_lapic_ack(f.lapic, 0);
    wr(&f, 0x0b0, 0);
    /* Logical, flat: the LDR bit must match. */
    wr(&f, 0x0d0, 0x02000000);
    wr(&f, 0x310, 0x01000000);
    wr(&f, 0x300, 1u << 11 | 0x62);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    wr(&f, 0x310, 0x02000000);
    wr(&f, 0x300, 1u << 11 | 0x62);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x62);
    /* All but self: nobody else here. */
    dev_lapic_ack(f.lapic, 0);
    wr(&f, 0x0b0, 0);
    wr(&f, 0x300, 3u << 18 | 0x63);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    /* The delivery status bit reads idle. */
    CU_ASSERT_EQUAL(rd(&f, 0x300) & (1u << 12), 0);
    sim_machine_free(f.m);
}

#define IOAPIC 0xfec00000ull

static uint32_t io_rd(struct apic_fixture *f, unsigned reg)
{
    uint64_t v = 0;

    CU_ASSERT_EQUAL(bus_write(f->mmio, IOAPIC, 4, reg), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_read(f->mmio, IOAPIC + 0x10, 4, &v), MEM_TX_OK);
    return (uint32_t)v;
}

static void io_wr(struct apic_fixture *f, unsigned reg, uint32_t v)
{
    CU_ASSERT_EQUAL(bus_write(f->mmio, IOAPIC, 4, reg), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_write(f->mmio, IOAPIC + 0x10, 4, v), MEM_TX_OK);
}

static void test_ioapic(void)
{
    struct apic_fixture f;
    struct dev_irq_line edge, level;

    fixture_init(&f);
    wr(&f, 0x0f0, 0x1ff);
    edge = (struct dev_irq_line){sim_vm_ioapic(sim_machine_vm(f.m, 0)), 4};
    level = (struct dev_irq_line){edge.ctrl, 17};
    CU_ASSERT_PTR_NOT_NULL_FATAL(edge.ctrl);
    CU_ASSERT_EQUAL(io_rd(&f, 0x01), 0x00170011); /* version, 24 pins */
    CU_ASSERT_EQUAL(io_rd(&f, 0x00), 1u << 24);   /* ID after the APIC */
    CU_ASSERT_EQUAL(io_rd(&f, 0x10 + 8), 0x10000); /* masked at reset */
    /* Masked: nothing; unmasked edge: one per assertion. */
    CU_ASSERT_TRUE(dev_irq_line_set(&edge, true));
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    dev_irq_line_set(&edge, false);
    io_wr(&f, 0x10 + 8, 0x41);
    io_wr(&f, 0x10 + 8 + 1, 0);
    CU_ASSERT_EQUAL(io_rd(&f, 0x10 + 8), 0x41);
    dev_irq_line_set(&edge, true);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x41);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0x41);
    wr(&f, 0x0b0, 0);
    dev_irq_line_set(&edge, true); /* still high: no new edge */
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    dev_irq_line_set(&edge, false);

    /* Level: remote IRR until the EOI, again while still asserted. */
    io_wr(&f, 0x10 + 34, 1u << 15 | 0x52);
    io_wr(&f, 0x10 + 34, 1u << 15 | 1u << 14 | 1u << 12 | 0x52); /* RO */
    CU_ASSERT_EQUAL(io_rd(&f, 0x10 + 34), 1u << 15 | 0x52);
    dev_irq_line_set(&level, true);
    CU_ASSERT_TRUE(io_rd(&f, 0x10 + 34) & 1u << 14);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0x52);
    CU_ASSERT_TRUE(bit(&f, 0x180, 0x52)); /* TMR: level */
    dev_irq_line_set(&level, true);       /* in service: nothing more */
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    wr(&f, 0x0b0, 0); /* EOI, line still high: sent again */
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x52);
    CU_ASSERT_EQUAL(dev_lapic_ack(f.lapic, 0), 0x52);
    dev_irq_line_set(&level, false);
    wr(&f, 0x0b0, 0); /* low now: the EOI only clears remote IRR */
    CU_ASSERT_FALSE(io_rd(&f, 0x10 + 34) & 1u << 14);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    /* Asserted while masked, then unmasked: a level pin sends. */
    io_wr(&f, 0x10 + 34, 1u << 16 | 1u << 15 | 0x52);
    dev_irq_line_set(&level, true);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), -1);
    io_wr(&f, 0x10 + 34, 1u << 15 | 0x52);
    CU_ASSERT_EQUAL(dev_lapic_pending(f.lapic, 0), 0x52);
    /* A pin past 23 leads nowhere. */
    CU_ASSERT_FALSE(dev_irq_line_set(&(struct dev_irq_line){edge.ctrl, 24},
                                     true));
    sim_machine_free(f.m);
}

/*
 * A masked periodic timer cannot wake a halted guest: the run stops as
 * halted for good (it once idled from one masked expiry to the next for
 * ever).  Unmasked, the same timer wakes it.
 */
static void test_masked_timer_halt(void)
{
    static const uint8_t sti_hlt[] = {0xfb, 0xf4, 0xeb, 0xfc}; /* sti; hlt */
    g_autofree char *dir = g_dir_make_tmp("iovsim-lapic-XXXXXX", NULL);
    g_autofree char *prog = tiny_elf_write(dir, "halt.elf", sti_hlt,
                                           sizeof(sti_hlt));
    g_autofree char *text = g_strdup_printf(
        "[machine]\nmemory = 8M\n[guest]\nprogram = %s\n"
        "[limits]\ntime = 10ms\n",
        prog);
    g_autoptr(GError) err = NULL;

    for (int masked = 1; masked >= 0; masked--) {
        struct sim_config *cfg = sim_config_parse(text, NULL, NULL, &err);
        struct apic_fixture f;

        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        f.m = sim_machine_new(cfg, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f.m);
        f.mmio = sim_vm_mmio(sim_machine_vm(f.m, 0));
        f.lapic = sim_vm_lapic(sim_machine_vm(f.m, 0));
        wr(&f, 0x0f0, 0x1ff);
        wr(&f, 0x3e0, 0xb);
        wr(&f, 0x320, (masked ? 1u << 16 : 0) | 1u << 17 | 0x40);
        wr(&f, 0x380, 1000);
        /* Natively the guest has no IDT: an interrupt is a triple fault,
         * which shows it woke. */
        {
            enum sim_stop stop = sim_machine_run(f.m);

            if (stop != (masked ? SIM_STOP_HALTED : SIM_STOP_TRIPLE_FAULT)) {
                g_autofree char *msg = sim_machine_stop_message(f.m);

                fprintf(stderr, "\nmasked %d: %s\n", masked, msg);
            }
            CU_ASSERT_EQUAL(stop, masked ? SIM_STOP_HALTED
                                         : SIM_STOP_TRIPLE_FAULT);
        }
        sim_machine_free(f.m);
    }
    tests_tmpdir_remove(&dir);
}

static CU_TestInfo lapic_tests[] = {
    {"reset values, software enable, 32-bit access", test_reset_and_enable},
    {"IRR, ISR, TMR, PPR and TPR by priority class", test_priority},
    {"ESR and IPI destinations", test_errors_and_ipis},
    {"I/O APIC: edge, level, remote IRR, EOI", test_ioapic},
    {"a masked periodic timer cannot wake a halted guest",
     test_masked_timer_halt},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_lapic_suites[] = {
    {"devices/lapic", NULL, NULL, NULL, NULL, lapic_tests},
    CU_SUITE_INFO_NULL,
};
