/*
 * tests/cpu/test-cpu.c: unit tests of cpu/cpu.c against stub memory and
 * ports: the decoded-block cache and self-modifying code, exact
 * instruction budgets, event delivery through the IDT (frame layout, IST
 * stacks, double fault) and the triple fault, and the counting of
 * unsupported instructions.  Code is given as bytes (assembled by hand
 * with GNU as; the source is beside each array).
 */
#include "sim/common.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cpu/cpu.h"

#define RAM_SIZE (4u << 20)
#define CODE 0x100000u
#define PT_BASE 0x1000u
#define GDT_BASE 0x5000u
#define IDT_BASE 0x6000u
#define TSS_BASE 0x7000u
#define STACK_TOP 0x80000u
#define IST1_TOP 0x90000u

struct stub {
    uint8_t *ram;
    int exit_status;
    char unsupported[64];
    uint64_t unsupported_count;
};

static uint8_t *stub_ram_page(void *opaque, uint64_t pa)
{
    struct stub *s = opaque;

    return pa < RAM_SIZE ? s->ram + (pa & ~0xfffull) : NULL;
}

static enum cpu_status stub_mmio_read(void *opaque, uint64_t pa,
                                      unsigned size, uint64_t *val)
{
    *val = ~0ull;
    return CPU_OK;
}

static enum cpu_status stub_mmio_write(void *opaque, uint64_t pa,
                                       unsigned size, uint64_t v)
{
    return CPU_OK;
}

/* Port 0x77 answers "later" (not modelled yet); 0x78 reads 0x5a and
 * asks the run to stop. */
static enum cpu_status stub_io_in(void *opaque, uint16_t port, unsigned size,
                                  uint32_t *val)
{
    *val = 0xffffffffu;
    if (port == 0x77) {
        return CPU_RETRY;
    }
    if (port == 0x78) {
        *val = 0x5a;
        return CPU_STOP;
    }
    return CPU_OK;
}

static enum cpu_status stub_io_out(void *opaque, uint16_t port, unsigned size,
                                   uint32_t value)
{
    struct stub *s = opaque;

    if (port == 0xf4) {
        s->exit_status = (int)value;
        return CPU_STOP;
    }
    return CPU_OK;
}

static const struct cpu_env_ops stub_ops = {
    stub_ram_page, stub_mmio_read, stub_mmio_write, stub_io_in, stub_io_out,
    NULL, NULL, NULL,
};

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* 4 MiB of RAM identity-mapped with two 2 MiB pages; a CPU at CODE. */
static struct cpu *stub_new(struct stub *s, const uint8_t *code, size_t len)
{
    struct cpu *cpu;

    memset(s, 0, sizeof(*s));
    s->exit_status = -1;
    s->ram = calloc(1, RAM_SIZE);
    put64(s->ram + PT_BASE, (PT_BASE + 0x1000) | 7);
    put64(s->ram + PT_BASE + 0x1000, (PT_BASE + 0x2000) | 7);
    put64(s->ram + PT_BASE + 0x2000, 0x000000 | 0x87);
    put64(s->ram + PT_BASE + 0x2008, 0x200000 | 0x87);
    memcpy(s->ram + CODE, code, len);
    cpu = cpu_new(&stub_ops, s);
    cpu_reset_long_mode(cpu, PT_BASE, CODE, STACK_TOP);
    return cpu;
}

static void stub_free(struct stub *s, struct cpu *cpu)
{
    cpu_free(cpu);
    free(s->ram);
}

/* A 64-bit interrupt gate (type 0xE, DPL 0, present) to @target. */
static void set_gate(struct stub *s, unsigned vec, uint64_t target,
                     unsigned ist, bool present)
{
    uint64_t lo = (target & 0xffff) | (0x08ull << 16) |
                  ((uint64_t)ist << 32) | (0xeull << 40) |
                  ((uint64_t)present << 47) |
                  ((target >> 16 & 0xffff) << 48);

    put64(s->ram + IDT_BASE + vec * 16, lo);
    put64(s->ram + IDT_BASE + vec * 16 + 8, target >> 32);
}

/*
 * Loads GDT (code 0x08, data 0x10, TSS 0x28), IDT and TR by running
 * lgdt/lidt/ltr from descriptors written in memory, as a kernel would.
 */
static void setup_tables(struct stub *s, struct cpu *cpu)
{
    /* lgdt (0x4000); lidt (0x4010); mov $0x28,%ax; ltr %ax; jmp CODE */
    static const uint8_t boot[] = {
        0x0f, 0x01, 0x14, 0x25, 0x00, 0x40, 0x00, 0x00, /* lgdt 0x4000 */
        0x0f, 0x01, 0x1c, 0x25, 0x10, 0x40, 0x00, 0x00, /* lidt 0x4010 */
        0x66, 0xb8, 0x28, 0x00,                         /* mov $0x28,%ax */
        0x0f, 0x00, 0xd8,                               /* ltr %ax */
        0xf4,                                           /* hlt */
    };
    uint64_t tss_lo = 0x67 | ((uint64_t)TSS_BASE << 16) | (0x89ull << 40);

    put64(s->ram + GDT_BASE + 0x08, 0x00209a0000000000ull);
    put64(s->ram + GDT_BASE + 0x10, 0x0000920000000000ull);
    put64(s->ram + GDT_BASE + 0x28, tss_lo);
    put64(s->ram + GDT_BASE + 0x30, 0);
    put64(s->ram + TSS_BASE + 4, STACK_TOP);  /* RSP0 */
    put64(s->ram + TSS_BASE + 36, IST1_TOP);  /* IST1 */
    s->ram[0x4000] = 0x37; /* GDT limit */
    put64(s->ram + 0x4002, GDT_BASE);
    s->ram[0x4010] = 0xff; /* IDT limit 0xfff */
    s->ram[0x4011] = 0x0f;
    put64(s->ram + 0x4012, IDT_BASE);
    memcpy(s->ram + 0x8000, boot, sizeof(boot));
    cpu_set_rip(cpu, 0x8000);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_HALT);
    cpu_set_rip(cpu, CODE);
}

/* A store patches the immediate of an instruction later in its block. */
static void test_smc_same_block(void)
{
    static const uint8_t code[] = {
        0xc6, 0x05, 0x06, 0x00, 0x00, 0x00, 0x02, /* movb $2,0x6(%rip) */
        0xb8, 0x01, 0x00, 0x00, 0x00,             /* mov $1,%eax */
        0xb8, 0x01, 0x00, 0x00, 0x00,             /* mov $1,%eax (patched) */
        0xe7, 0xf4,                               /* out %eax,$0xf4 */
    };
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));
    struct cpu_stats st;

    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_ENV);
    CU_ASSERT_EQUAL(s.exit_status, 2);
    CU_ASSERT_EQUAL(cpu_icount(cpu), 4);
    cpu_get_stats(cpu, &st);
    CU_ASSERT(st.block_invalidations >= 1);
    stub_free(&s, cpu);
}

/* Code rewritten from outside (a loader, DMA) runs anew after the call. */
static void test_invalidate_phys(void)
{
    static const uint8_t code[] = {
        0xb8, 0x07, 0x00, 0x00, 0x00, /* mov $7,%eax */
        0xe7, 0xf4,                   /* out %eax,$0xf4 */
    };
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_ENV);
    CU_ASSERT_EQUAL(s.exit_status, 7);
    s.ram[CODE + 1] = 9;
    cpu_invalidate_phys(cpu, CODE, 16);
    cpu_set_rip(cpu, CODE);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_ENV);
    CU_ASSERT_EQUAL(s.exit_status, 9);
    stub_free(&s, cpu);
}

/* cpu_run stops after exactly the budget, even inside a block. */
static void test_exact_budget(void)
{
    static const uint8_t code[] = {
        0xff, 0xc0, 0xff, 0xc0, 0xff, 0xc0, 0xff, 0xc0, /* inc %eax x4 */
        0xeb, 0xf6,                                     /* jmp back */
    };
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    CU_ASSERT_EQUAL(cpu_run(cpu, 3), CPU_STOP_BUDGET);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX), 3);
    CU_ASSERT_EQUAL(cpu_rip(cpu), CODE + 6);
    CU_ASSERT_EQUAL(cpu_run(cpu, 1000), CPU_STOP_BUDGET);
    /* 1003 instructions: 200 loops of four incs and a jump, then 3 incs. */
    CU_ASSERT_EQUAL(cpu_icount(cpu), 1003);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX), 803);
    stub_free(&s, cpu);
}

/* With no IDT, the first exception shuts the CPU down. */
static void test_triple_fault(void)
{
    static const uint8_t code[] = {0x0f, 0x0b}; /* ud2 */
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_TRIPLE_FAULT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cpu_stop_detail(cpu));
    CU_ASSERT_PTR_NOT_NULL(strstr(cpu_stop_detail(cpu), "triple fault"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cpu_stop_detail(cpu), "#UD"));
    /* It stays shut down. */
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_TRIPLE_FAULT);
    stub_free(&s, cpu);
}

/* #UD through an interrupt gate: the 64-bit frame (SDM 3A §6.14.2). */
static void test_exception_frame(void)
{
    static const uint8_t code[] = {0x0f, 0x0b}; /* ud2 */
    static const uint8_t handler[] = {
        0x48, 0x8b, 0x04, 0x24,       /* mov (%rsp),%rax: RIP */
        0x48, 0x8b, 0x4c, 0x24, 0x08, /* mov 8(%rsp),%rcx: CS */
        0x48, 0x8b, 0x54, 0x24, 0x10, /* mov 16(%rsp),%rdx: RFLAGS */
        0x48, 0x8b, 0x74, 0x24, 0x18, /* mov 24(%rsp),%rsi: RSP */
        0x48, 0x8b, 0x7c, 0x24, 0x20, /* mov 32(%rsp),%rdi: SS */
        0xf4,                         /* hlt */
    };
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    setup_tables(&s, cpu);
    memcpy(s.ram + CODE + 0x200, handler, sizeof(handler));
    set_gate(&s, 6, CODE + 0x200, 0, true);
    cpu_set_gpr(cpu, CPU_RSP, STACK_TOP - 8); /* not 16-byte aligned */
    cpu_set_rflags(cpu, 0x202);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_HALT);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX), CODE);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RCX), 0x08);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RDX), 0x202);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RSI), STACK_TOP - 8);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RDI), 0x10);
    /* The frame starts at a 16-byte aligned RSP; the gate cleared IF. */
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RSP), STACK_TOP - 16 - 40);
    CU_ASSERT_EQUAL(cpu_rflags(cpu) & 0x200, 0);
    stub_free(&s, cpu);
}

/*
 * #PF whose gate is not present raises #NP while delivering it: #PF then
 * a contributory fault makes #DF (SDM 3A table 6-5), delivered on IST1.
 */
static void test_double_fault_on_ist(void)
{
    static const uint8_t code[] = {0x8b, 0x03, 0xf4}; /* mov (%rbx),%eax */
    static const uint8_t handler[] = {
        0x48, 0x8b, 0x04, 0x24, /* mov (%rsp),%rax: error code */
        0x48, 0x89, 0xe1,       /* mov %rsp,%rcx */
        0xf4,                   /* hlt */
    };
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    setup_tables(&s, cpu);
    memcpy(s.ram + CODE + 0x300, handler, sizeof(handler));
    set_gate(&s, 14, CODE + 0x400, 0, false);
    set_gate(&s, 8, CODE + 0x300, 1, true);
    cpu_set_gpr(cpu, CPU_RBX, 0x40000000); /* not mapped */
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_HALT);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX), 0);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RCX), IST1_TOP - 48);
    CU_ASSERT_EQUAL(cpu_cr(cpu, 2), 0x40000000);
    stub_free(&s, cpu);
}

/* Exception-exit mode reports the #PF error code and CR2 (SDM 3A §4.7). */
static void test_exception_exit_pf(void)
{
    static const uint8_t code[] = {0x89, 0x03, 0xf4}; /* mov %eax,(%rbx) */
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));
    unsigned vec;
    int64_t err;
    uint64_t cr2;

    cpu_set_exception_exit(cpu, true);
    cpu_set_gpr(cpu, CPU_RBX, 0x40000010);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_EXCEPTION);
    cpu_last_exception(cpu, &vec, &err, &cr2);
    CU_ASSERT_EQUAL(vec, 14);
    CU_ASSERT_EQUAL(err, 0x2); /* not present, write, supervisor */
    CU_ASSERT_EQUAL(cr2, 0x40000010);
    CU_ASSERT_EQUAL(cpu_rip(cpu), CODE);
    stub_free(&s, cpu);
}

/* Non-canonical addresses: #SS(0) for stack references, else #GP(0). */
static void test_noncanonical_ss_gp(void)
{
    static const struct {
        uint8_t code[4];
        unsigned len;
        enum cpu_gpr reg;
        uint64_t value;
        unsigned vector;
    } cases[] = {
        /* push %rax writes at RSP - 8 */
        {{0x50}, 1, CPU_RSP, 0x0000800000000008ull, CPU_EXC_SS},
        /* mov %rax,(%rsp) */
        {{0x48, 0x89, 0x04, 0x24}, 4, CPU_RSP, 0x0000800000000000ull, 12},
        /* mov 8(%rbp),%eax */
        {{0x8b, 0x45, 0x08}, 3, CPU_RBP, 0x0000800000000000ull, 12},
        /* mov (%rbx),%eax */
        {{0x8b, 0x03}, 2, CPU_RBX, 0x0000800000000000ull, CPU_EXC_GP},
    };

    for (unsigned i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
        struct stub s;
        struct cpu *cpu = stub_new(&s, cases[i].code, cases[i].len);
        unsigned vec;
        int64_t err;
        uint64_t cr2;

        cpu_set_exception_exit(cpu, true);
        cpu_set_gpr(cpu, cases[i].reg, cases[i].value);
        CU_ASSERT_EQUAL(cpu_run(cpu, 10), CPU_STOP_EXCEPTION);
        cpu_last_exception(cpu, &vec, &err, &cr2);
        CU_ASSERT_EQUAL(vec, cases[i].vector);
        CU_ASSERT_EQUAL(err, 0);
        stub_free(&s, cpu);
    }
}

static void count_unsupported(const char *mnemonic, uint64_t count,
                              void *opaque)
{
    struct stub *s = opaque;

    strncpy(s->unsupported, mnemonic, sizeof(s->unsupported) - 1);
    s->unsupported_count = count;
}

/* An instruction the CPU lacks raises #UD and is counted by mnemonic. */
static void test_unsupported_counted(void)
{
    static const uint8_t code[] = {0xd7, 0xf4}; /* xlat; hlt */
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));
    unsigned vec;
    int64_t err;
    uint64_t cr2;

    cpu_set_exception_exit(cpu, true);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_EXCEPTION);
    cpu_last_exception(cpu, &vec, &err, &cr2);
    CU_ASSERT_EQUAL(vec, 6);
    cpu_unsupported_foreach(cpu, count_unsupported, &s);
    CU_ASSERT_STRING_EQUAL(s.unsupported, "xlat");
    CU_ASSERT_EQUAL(s.unsupported_count, 1);
    stub_free(&s, cpu);
}

/* After a CR3 write, a cached translation of the old tables is gone. */
static void test_cr3_flush(void)
{
    /* mov (%rcx),%edx; mov %rbx,%cr3; mov (%rcx),%eax; out %eax,$0xf4 */
    static const uint8_t code[] = {0x8b, 0x11, 0x0f, 0x22, 0xdb, 0x8b, 0x01,
                                   0xe7, 0xf4};
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));

    /* A second PML4 that maps linear 0..2M to physical 2M..4M, and
     * 2M..4M to itself. */
    put64(s.ram + 0xa000, 0xb000 | 7);
    put64(s.ram + 0xb000, 0xc000 | 7);
    put64(s.ram + 0xc000, 0x200000 | 0x87);
    put64(s.ram + 0xc008, 0x200000 | 0x87);
    memcpy(s.ram + 0x200000 + CODE, code, sizeof(code));
    put64(s.ram + 0x200000 + 0x100, 0x55);
    put64(s.ram + 0x100, 0x33);
    cpu_set_gpr(cpu, CPU_RCX, 0x100);
    cpu_set_gpr(cpu, CPU_RBX, 0xa000);
    cpu_set_exception_exit(cpu, true);
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_ENV);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RDX), 0x33);
    CU_ASSERT_EQUAL(s.exit_status, 0x55);
    stub_free(&s, cpu);
}

/* What the CPU does with each status a port access returns. */
static void test_env_status(void)
{
    /* mov $0x78,%dx; in (%dx),%al; mov $0x77,%dx; in (%dx),%al; hlt */
    static const uint8_t code[] = {0x66, 0xba, 0x78, 0x00, 0xec, 0x66, 0xba,
                                   0x77, 0x00, 0xec, 0xf4};
    struct stub s;
    struct cpu *cpu = stub_new(&s, code, sizeof(code));
    const char *detail;

    /* CPU_STOP: the IN completes (AL written), then the run stops. */
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_ENV);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX) & 0xff, 0x5a);
    CU_ASSERT_EQUAL(cpu_rip(cpu), CODE + 5);
    /* Anything else is not modelled: stopped at the IN, which did not
     * happen, with the access named. */
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_UNSUPPORTED);
    CU_ASSERT_EQUAL(cpu_rip(cpu), CODE + 9);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RAX) & 0xff, 0x5a);
    detail = cpu_stop_detail(cpu);
    CU_ASSERT_PTR_NOT_NULL_FATAL(detail);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "port read at 0x77"));
    /* And it stays stopped. */
    CU_ASSERT_EQUAL(cpu_run(cpu, 100), CPU_STOP_UNSUPPORTED);
    stub_free(&s, cpu);
}

static CU_TestInfo cpu_tests[] = {
    {"self-modifying code in the running block", test_smc_same_block},
    {"what a port access's status does", test_env_status},
    {"cpu_invalidate_phys drops decoded code", test_invalidate_phys},
    {"exact instruction budget", test_exact_budget},
    {"triple fault with no IDT", test_triple_fault},
    {"exception frame through an interrupt gate", test_exception_frame},
    {"#PF with a missing gate becomes #DF on IST1", test_double_fault_on_ist},
    {"exception exit reports #PF error and CR2", test_exception_exit_pf},
    {"unsupported instruction: #UD and counted", test_unsupported_counted},
    {"CR3 write flushes the TLB", test_cr3_flush},
    {"non-canonical: #SS for the stack, else #GP", test_noncanonical_ss_gp},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_cpu_suites[] = {
    {"cpu/core", NULL, NULL, NULL, NULL, cpu_tests},
    CU_SUITE_INFO_NULL,
};
