/*
 * tests/sim/test-machine.c: the machine (sim/machine.c, sim/run.c) and
 * its two devices.  Two layers:
 *  - "sim/devices": debugcon and exitport driven through bus_ calls on a
 *    built machine, and the device registry; the guest never runs.
 *  - "sim/machine": tiny hand-assembled guests run on the real CPU: the
 *    guest ABI registers, exit status, console output, the instruction and
 *    time limits, hlt, and a stop request.
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "bus/bus.h"
#include "cpu/cpu.h"
#include "devices/devices.h"
#include "sim/sim.h"
#include "tests/sim/tiny-elf.h"
#include "tests/tmpdir.h"

static char *machine_tmpdir;

static int machine_suite_init(void)
{
    machine_tmpdir = g_dir_make_tmp("iovsim-machine-XXXXXX", NULL);
    return machine_tmpdir == NULL;
}

static int machine_suite_clean(void)
{
    tests_tmpdir_remove(&machine_tmpdir);
    return 0;
}

/* Guests.  Each ends in a way the test expects. */
static const uint8_t guest_exit42[] = {
    0xb8, 0x2a, 0x00, 0x00, 0x00, /* mov $0x2a,%eax */
    0xe7, 0xf4,                   /* out %eax,$0xf4 */
    0xeb, 0xfe,                   /* jmp . (not reached) */
};
static const uint8_t guest_hello[] = {
    0xb0, 'h',                    /* mov $'h',%al */
    0xe6, 0xe9,                   /* out %al,$0xe9 */
    0xb0, 'i',                    /* mov $'i',%al */
    0xe6, 0xe9,                   /* out %al,$0xe9 */
    0xb0, '\n',                   /* mov $'\n',%al */
    0xe6, 0xe9,                   /* out %al,$0xe9 */
    0xb8, 0x00, 0x00, 0x00, 0x00, /* mov $0,%eax */
    0xe7, 0xf4,                   /* out %eax,$0xf4 */
};
static const uint8_t guest_ram_mib[] = {
    0x89, 0xf8,       /* mov %edi,%eax (RDI = RAM size) */
    0xc1, 0xe8, 0x14, /* shr $20,%eax */
    0xe7, 0xf4,       /* out %eax,$0xf4 */
};
static const uint8_t guest_rsp_is_rsi[] = {
    0x48, 0x89, 0xe0, /* mov %rsp,%rax */
    0x48, 0x29, 0xf0, /* sub %rsi,%rax */
    0xe7, 0xf4,       /* out %eax,$0xf4: 0 if RSP == RSI */
};
static const uint8_t guest_loop[] = {
    0xeb, 0xfe, /* jmp . */
};
static const uint8_t guest_halt[] = {
    0xfa, 0xf4, /* cli; hlt */
};

/*
 * Builds a machine of @mib MiB running @code, with optional overrides.
 * Returns: the machine, or NULL (the error is printed).
 */
static struct sim_machine *machine_make(const uint8_t *code, size_t len,
                                        unsigned mib, const char *set1)
{
    g_autofree char *prog =
        tiny_elf_write(machine_tmpdir, "guest.elf", code, len);
    g_autofree char *text = g_strdup_printf(
        "[machine]\nmemory = %uM\n[guest]\nprogram = %s\n", mib, prog);
    const char *sets[] = {set1, NULL};
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_parse(text, NULL, sets, &err);
    struct sim_machine *m;

    if (cfg == NULL) {
        fprintf(stderr, "\nconfig: %s\n", err->message);
        return NULL;
    }
    m = sim_machine_new(cfg, &err);
    if (m == NULL) {
        fprintf(stderr, "\nmachine: %s\n", err->message);
    }
    return m;
}

#define MACHINE_MAKE(code, mib, set1)                                          \
    machine_make((code), sizeof(code), (mib), (set1))

/* ---- sim/devices ---- */

static void test_debugcon(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_exit42, 8, NULL);
    struct bus_space *io;
    uint64_t v = 0;
    size_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    io = sim_vm_io(sim_machine_vm(m, 0));
    CU_ASSERT_EQUAL(bus_write(io, DEV_DEBUGCON_PORT, 1, 'o'), MEM_TX_OK);
    CU_ASSERT_EQUAL(bus_write(io, DEV_DEBUGCON_PORT, 1, 'k'), MEM_TX_OK);
    /* Only byte writes are output; a word write is refused. */
    CU_ASSERT_EQUAL(bus_write(io, DEV_DEBUGCON_PORT, 2, 0x4142), MEM_TX_ERROR);
    CU_ASSERT_STRING_EQUAL(sim_machine_console(m, &len), "ok");
    CU_ASSERT_EQUAL(len, 2);
    /* The read-back value of Bochs and QEMU. */
    CU_ASSERT_EQUAL(bus_read(io, DEV_DEBUGCON_PORT, 1, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0xe9);
    sim_machine_free(m);
}

static void test_exitport(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_exit42, 8, NULL);
    struct bus_space *io;
    uint32_t status = 99;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    io = sim_vm_io(sim_machine_vm(m, 0));
    CU_ASSERT_FALSE(sim_machine_exit_status(m, &status));
    /* 0xF5-0xF7 belong to the device but are not the exit port. */
    CU_ASSERT_EQUAL(bus_write(io, DEV_EXITPORT_PORT + 1, 1, 1), MEM_TX_ERROR);
    CU_ASSERT_FALSE(sim_machine_exit_status(m, &status));
    CU_ASSERT_EQUAL(bus_write(io, DEV_EXITPORT_PORT, 4, 7), MEM_TX_OK);
    CU_ASSERT_TRUE(sim_machine_exit_status(m, &status));
    CU_ASSERT_EQUAL(status, 7);
    sim_machine_free(m);
}

static void test_unclaimed_ports(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_exit42, 8, NULL);
    struct sim_stats st;
    uint64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(bus_read(sim_vm_io(sim_machine_vm(m, 0)), 0x3f8, 1, &v), MEM_TX_OK);
    CU_ASSERT_EQUAL(v, 0xff);
    CU_ASSERT_EQUAL(bus_write(sim_vm_io(sim_machine_vm(m, 0)), 0x84, 1, 0), MEM_TX_OK);
    sim_machine_get_stats(m, &st);
    CU_ASSERT_EQUAL(st.io.unclaimed_reads, 1);
    CU_ASSERT_EQUAL(st.io.unclaimed_writes, 1);
    sim_machine_free(m);
}

static void test_registry(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_exit42, 8, NULL);
    g_autoptr(GError) err = NULL;
    bool found_debugcon = false;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (size_t i = 0; i < dev_class_count(); i++) {
        const struct dev_class *cls = dev_class_at(i);

        CU_ASSERT_PTR_EQUAL(dev_class_find(cls->name), cls);
        found_debugcon |= strcmp(cls->name, "debugcon") == 0;
    }
    CU_ASSERT_TRUE(found_debugcon);
    CU_ASSERT_PTR_NOT_NULL(dev_class_find("exitport"));
    CU_ASSERT_PTR_NULL(dev_new("no-such-device", sim_machine_vm(m, 0), NULL, &err));
    CU_ASSERT_TRUE(g_error_matches(err, DEV_ERROR, DEV_ERROR_NO_CLASS));
    g_clear_error(&err);
    /* A second debugcon on the same port: the bus rejects the overlap. */
    CU_ASSERT_PTR_NULL(dev_new("debugcon", sim_machine_vm(m, 0), NULL, &err));
    CU_ASSERT_TRUE(g_error_matches(err, BUS_ERROR, BUS_ERROR_OVERLAP));
    g_clear_error(&err);
    sim_machine_free(m);
}

/* ---- sim/machine ---- */

static void test_abi_registers(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_exit42, 64, NULL);
    uint64_t ram_size = UINT64_C(64) << 20;
    uint64_t pt = ram_size - sim_guest_pt_size(ram_size);
    struct cpu *cpu;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cpu = sim_machine_cpu(m);
    CU_ASSERT_EQUAL(cpu_rip(cpu), TINY_ELF_BASE);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RDI), ram_size);
    /* Below the page tables: a page of ACPI tables, then the boot-info
     * block (no modules, no command line); RSI is the lowest reserved
     * byte, RDX the block. */
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RSI), pt - 0x2000);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RSP), pt - 0x2000);
    CU_ASSERT_EQUAL(cpu_gpr(cpu, CPU_RDX), pt - 0x1000);
    CU_ASSERT_EQUAL(cpu_cr(cpu, 3), pt);
    {
        uint64_t size;
        const uint8_t *ram = sim_machine_ram(m, &size);

        CU_ASSERT_EQUAL(memcmp(ram + pt - 0x1000, "IOVSBOOT", 8), 0);
        CU_ASSERT_EQUAL(memcmp(ram + pt - 0x2000, "RSD PTR ", 8), 0);
    }
    sim_machine_free(m);
}

static void machine_expect_exit(const uint8_t *code, size_t len, unsigned mib,
                                uint32_t want)
{
    struct sim_machine *m =
        machine_make(code, len, mib, "limits.instructions=1000000");
    uint32_t status = 0xdead;
    g_autofree char *msg = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_EXIT);
    CU_ASSERT_TRUE(sim_machine_exit_status(m, &status));
    CU_ASSERT_EQUAL(status, want);
    msg = sim_machine_stop_message(m);
    if (status != want) {
        fprintf(stderr, "\nstopped: %s\n", msg);
    }
    sim_machine_free(m);
}

static void test_run_exit_status(void)
{
    machine_expect_exit(guest_exit42, sizeof(guest_exit42), 8, 42);
}

static void test_run_abi(void)
{
    /* RDI is the RAM size; RSP = RSI at entry. */
    machine_expect_exit(guest_ram_mib, sizeof(guest_ram_mib), 64, 64);
    machine_expect_exit(guest_ram_mib, sizeof(guest_ram_mib), 6, 6);
    machine_expect_exit(guest_rsp_is_rsi, sizeof(guest_rsp_is_rsi), 8, 0);
}

static void test_run_console(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_hello, 8, NULL);
    g_autofree char *msg = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_EXIT);
    CU_ASSERT_STRING_EQUAL(sim_machine_console(m, NULL), "hi\n");
    msg = sim_machine_stop_message(m);
    CU_ASSERT_STRING_EQUAL(msg, "guest exited with status 0");
    sim_machine_free(m);
}

static void test_run_insn_limit(void)
{
    struct sim_machine *m =
        MACHINE_MAKE(guest_loop, 8, "limits.instructions=1000");
    struct sim_stats st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_INSN_LIMIT);
    sim_machine_get_stats(m, &st);
    CU_ASSERT(st.instructions >= 1000);
    /* Running again returns at once. */
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_INSN_LIMIT);
    sim_machine_free(m);
}

static void test_run_time_limit(void)
{
    /* 2 us at 2500 MHz (skylake) = 5000 cycles. */
    struct sim_machine *m = MACHINE_MAKE(guest_loop, 8, "limits.time=2us");
    struct sim_stats st;
    g_autofree char *msg = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_TIME_LIMIT);
    sim_machine_get_stats(m, &st);
    CU_ASSERT(st.cycles >= 5000);
    CU_ASSERT(st.cycles < 5000 + 1000);
    CU_ASSERT_EQUAL(st.sim_time_ns, st.cycles * 1000 / 2500);
    msg = sim_machine_stop_message(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "2us"));
    sim_machine_free(m);
}

static void test_run_halt(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_halt, 8, NULL);
    g_autofree char *msg = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_HALTED);
    msg = sim_machine_stop_message(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "interrupts disabled"));
    sim_machine_free(m);
}

static void test_run_request_stop(void)
{
    struct sim_machine *m = MACHINE_MAKE(guest_loop, 8, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    sim_machine_request_stop(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_INTERRUPTED);
    sim_machine_free(m);
}

static void test_bad_program(void)
{
    g_autofree char *path = g_build_filename(machine_tmpdir, "text.elf", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg;

    g_assert(g_file_set_contents(path, "plain text", -1, NULL));
    text = g_strdup_printf("[guest]\nprogram = %s\n", path);
    cfg = sim_config_parse(text, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NULL(sim_machine_new(cfg, &err));
    CU_ASSERT_TRUE(g_error_matches(err, SIM_ERROR, SIM_ERROR_ELF_NOT_ELF));
}

static CU_TestInfo device_tests[] = {
    {"debugcon: byte writes reach the console", test_debugcon},
    {"exitport: a write records the status", test_exitport},
    {"unclaimed ports read all-ones, counted", test_unclaimed_ports},
    {"device registry and overlapping devices", test_registry},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo machine_tests[] = {
    {"guest ABI: registers at entry", test_abi_registers},
    {"guest exit status through port 0xF4", test_run_exit_status},
    {"guest ABI: RDI = RAM size, RSP = RSI", test_run_abi},
    {"guest console output", test_run_console},
    {"instruction limit", test_run_insn_limit},
    {"simulated time limit", test_run_time_limit},
    {"hlt with nothing to wake it", test_run_halt},
    {"stop request", test_run_request_stop},
    {"a non-ELF program fails machine creation", test_bad_program},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_machine_suites[] = {
    {"sim/devices", machine_suite_init, machine_suite_clean, NULL, NULL,
     device_tests},
    {"sim/machine", machine_suite_init, machine_suite_clean, NULL, NULL,
     machine_tests},
    CU_SUITE_INFO_NULL,
};
