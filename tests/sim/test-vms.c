/*
 * tests/sim/test-vms.c: a host with several VMs on one clock.  The
 * [vm.NAME] form of experiment files and its errors; VMs that run side by
 * side with their own RAM, console and exit status, the timer guest's
 * output unchanged beside another VM; a VM that crashes stops only itself;
 * the same config gives the same trace, event for event, with several VMs;
 * each event names its VM.
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "sim/sim.h"
#include "tests/sim/tiny-elf.h"
#include "tests/tmpdir.h"

#define VMS_TIMER "build/workloads/guest/timer-O2.elf"
#define VMS_HELLO "build/workloads/guest/hello-O2.elf"
#define VMS_FORMS "build/workloads/guest/mmioforms-O2.elf"
#define VMS_BOOTINFO "build/workloads/guest/bootinfo-O2.elf"

static char *vms_tmpdir;

static int vms_suite_init(void)
{
    vms_tmpdir = g_dir_make_tmp("iovsim-vms-XXXXXX", NULL);
    return vms_tmpdir == NULL;
}

static int vms_suite_clean(void)
{
    tests_tmpdir_remove(&vms_tmpdir);
    return 0;
}

/* Parses @text; on failure returns NULL with *@err set. */
static struct sim_config *vms_parse(const char *text, GError **err)
{
    return sim_config_parse(text, "vms.ini", NULL, err);
}

/* The config error @text gives, which must contain @want (and code). */
static void vms_config_fails(const char *text, int code, const char *want)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = vms_parse(text, &err);

    CU_ASSERT_PTR_NULL(cfg);
    sim_config_free(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(err->code, code);
    if (strstr(err->message, want) == NULL) {
        fprintf(stderr, "\nwant '%s' in: %s\n", want, err->message);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, want));
}

static void test_vm_sections(void)
{
    const char *sets[] = {"vm.b.memory=32M", NULL};
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_parse(
        "[host]\nquantum = 2us\n"
        "[vm.b]\nprogram = " VMS_HELLO "\n"
        "[vm.a-1]\nmemory = 16M\nvcpus = 1\nprogram = " VMS_TIMER "\n",
        "vms.ini", sets, &err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    /* File order; hvm by default; --set reaches a VM's key. */
    CU_ASSERT_EQUAL(cfg->nvms, 2);
    CU_ASSERT_STRING_EQUAL(cfg->vms[0].name, "b");
    CU_ASSERT_STRING_EQUAL(cfg->vms[1].name, "a-1");
    CU_ASSERT_EQUAL(cfg->vms[0].mode, SIM_MODE_HVM);
    CU_ASSERT_EQUAL(cfg->vms[0].memory, UINT64_C(32) << 20);
    CU_ASSERT_EQUAL(cfg->vms[1].memory, UINT64_C(16) << 20);
    CU_ASSERT_EQUAL(cfg->vms[1].vcpus, 1);
    CU_ASSERT_EQUAL(cfg->host_cpus, 2);
    CU_ASSERT_EQUAL(cfg->quantum_ns, 2000);
    sim_config_free(cfg);
}

static void test_vm_config_errors(void)
{
    /* An unknown key names its line and the keys a [vm.NAME] has. */
    vms_config_fails("[vm.a]\nprogram = " VMS_HELLO "\ncolour = red\n",
                     SIM_ERROR_CONFIG, "vms.ini:3: vm.a.colour: unknown key");
    vms_config_fails("[vm.a]\nprogram = " VMS_HELLO "\ncolour = red\n",
                     SIM_ERROR_CONFIG, "mode, memory, vcpus, program");
    /* A name with a blank or a dot is no [vm.NAME]. */
    vms_config_fails("[vm.a b]\nprogram = " VMS_HELLO "\n", SIM_ERROR_CONFIG,
                     "unknown section [vm.a b]");
    vms_config_fails("[vm.a.b]\nprogram = " VMS_HELLO "\n", SIM_ERROR_CONFIG,
                     "vm.NAME");
    /* The one-VM keys do not mix with [vm.NAME]. */
    vms_config_fails("[machine]\nmode = hvm\n[vm.a]\nprogram = " VMS_HELLO
                     "\n",
                     SIM_ERROR_CONFIG, "vms.ini:2: machine.mode: not used");
    vms_config_fails("[guest]\nprogram = " VMS_HELLO "\n[vm.a]\nprogram = "
                     VMS_HELLO "\n",
                     SIM_ERROR_CONFIG, "guest.program: not used");
    vms_config_fails("[vm.a]\nmemory = 16M\n", SIM_ERROR_CONFIG,
                     "vm.a.program: required key is missing");
    vms_config_fails("[vm.a]\nmemory = 3M\nprogram = " VMS_HELLO "\n",
                     SIM_ERROR_CONFIG, "vm.a.memory=3M");
    /* What is not built yet says so. */
    vms_config_fails("[vm.a]\nvcpus = 2\nprogram = " VMS_HELLO "\n",
                     SIM_ERROR_UNSUPPORTED, "several vCPUs in one VM");
    vms_config_fails("[host]\ncpus = 1\n[vm.a]\nprogram = " VMS_HELLO
                     "\n[vm.b]\nprogram = " VMS_HELLO "\n",
                     SIM_ERROR_UNSUPPORTED, "time-sliced scheduling");
    vms_config_fails("[vm.a]\nmode = native\nprogram = " VMS_HELLO
                     "\n[vm.b]\nprogram = " VMS_HELLO "\n",
                     SIM_ERROR_UNSUPPORTED, "vm.a.mode=native");
    /* A host setting is given once. */
    vms_config_fails("[host]\nprofile = skylake\n[machine]\nprofile = "
                     "nehalem\n[guest]\nprogram = " VMS_HELLO "\n",
                     SIM_ERROR_CONFIG, "also given as host.profile");
    vms_config_fails("[host]\nquantum = 0\n[guest]\nprogram = " VMS_HELLO
                     "\n",
                     SIM_ERROR_CONFIG, "host.quantum=0");
}

/* Builds and runs a host from @text; returns it stopped (sim_machine_free). */
static struct sim_machine *vms_run(const char *text, enum sim_stop want)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = vms_parse(text, &err);
    struct sim_machine *m;

    if (cfg == NULL) {
        fprintf(stderr, "\nconfig: %s\n", err->message);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    m = sim_machine_new(cfg, &err);
    if (m == NULL) {
        fprintf(stderr, "\nmachine: %s\n", err->message);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), want);
    return m;
}

/* The console output of a one-VM run of @program under hvm. */
static char *vms_alone(const char *program)
{
    g_autofree char *text = g_strdup_printf(
        "[machine]\nmode = hvm\nmemory = 16M\n[guest]\nprogram = %s\n",
        program);
    struct sim_machine *m = vms_run(text, SIM_STOP_EXIT);
    char *out = g_strdup(sim_machine_console(m, NULL));

    sim_machine_free(m);
    return out;
}

/* Console output of VM @i of @m. */
static const char *vms_console(struct sim_machine *m, unsigned i)
{
    return sim_vm_console(sim_machine_vm(m, i), NULL);
}

/*
 * Three VMs side by side: each prints what it prints alone (the timer
 * guest checks its interrupts' timing against the clock), each in its own
 * RAM at its own machine-physical range.
 */
static void test_vms_side_by_side(void)
{
    g_autofree char *timer = vms_alone(VMS_TIMER);
    g_autofree char *hello = vms_alone(VMS_HELLO);
    struct sim_machine *m = vms_run("[vm.t]\nmemory = 16M\nprogram = " VMS_TIMER
                                    "\n[vm.h]\nmemory = 8M\nprogram = "
                                    VMS_HELLO "\n[vm.t2]\nmemory = 16M\n"
                                    "program = " VMS_TIMER "\n",
                                    SIM_STOP_EXIT);
    uint64_t size[3];
    uint8_t *ram[3];
    uint32_t status = 99;

    CU_ASSERT_EQUAL_FATAL(sim_machine_vm_count(m), 3);
    CU_ASSERT_STRING_EQUAL(vms_console(m, 0), timer);
    CU_ASSERT_STRING_EQUAL(vms_console(m, 1), hello);
    CU_ASSERT_STRING_EQUAL(vms_console(m, 2), timer);
    CU_ASSERT_TRUE(sim_machine_exit_status(m, &status));
    CU_ASSERT_EQUAL(status, 0);
    for (unsigned i = 0; i < 3; i++) {
        ram[i] = sim_vm_ram(sim_machine_vm(m, i), &size[i]);
    }
    CU_ASSERT_EQUAL(size[1], UINT64_C(8) << 20);
    CU_ASSERT(ram[0] + size[0] <= ram[1]);
    CU_ASSERT(ram[1] + size[1] <= ram[2]);
    sim_machine_free(m);
}

/* A VM that triple-faults stops alone; the other runs to its end. */
static void test_vm_crash_is_its_own(void)
{
    static const uint8_t ud2[] = {0x0f, 0x0b}; /* no IDT: triple fault */
    g_autofree char *prog = tiny_elf_write(vms_tmpdir, "ud2.elf", ud2,
                                           sizeof(ud2));
    g_autofree char *hello = vms_alone(VMS_HELLO);
    g_autofree char *text = g_strdup_printf(
        "[vm.bad]\nmemory = 8M\nprogram = %s\n[vm.good]\nmemory = 8M\n"
        "program = " VMS_HELLO "\n",
        prog);
    struct sim_machine *m = vms_run(text, SIM_STOP_TRIPLE_FAULT);
    g_autofree char *msg = sim_machine_stop_message(m);
    uint32_t status;

    CU_ASSERT_STRING_EQUAL(vms_console(m, 1), hello);
    CU_ASSERT_FALSE(sim_machine_exit_status(m, &status));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "VM bad: guest triple fault"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "VM good: guest exited with status 0"));
    sim_machine_free(m);
}

/*
 * A trapped MMIO instruction completes even when the exit's cost carries
 * its vCPU past the quantum's end (it once re-entered the guest undone
 * and trapped again, for ever): mmioforms beside the timer guest makes
 * the EPT violations it makes alone, and prints what it prints alone.
 */
static void test_vm_mmio_at_quantum_end(void)
{
    g_autofree char *alone_text = g_strdup(
        "[machine]\nmode = hvm\nmemory = 64M\n[guest]\nprogram = " VMS_FORMS
        "\n");
    struct sim_machine *alone = vms_run(alone_text, SIM_STOP_EXIT);
    struct sim_machine *m = vms_run("[vm.t]\nmemory = 16M\nprogram = "
                                    VMS_TIMER "\n[vm.f]\nmemory = 64M\n"
                                    "program = " VMS_FORMS "\n"
                                    "[limits]\ntime = 2s\n",
                                    SIM_STOP_EXIT);
    struct sim_stats a, b;

    sim_machine_get_stats(alone, &a);
    sim_machine_get_stats(m, &b);
    CU_ASSERT(a.exits[48] > 1000);
    CU_ASSERT_EQUAL(b.exits[48], a.exits[48]);
    CU_ASSERT_STRING_EQUAL(vms_console(m, 1), sim_machine_console(alone, NULL));
    sim_machine_free(alone);
    sim_machine_free(m);
}

/* Every column of every event but the id, run @run, as one string. */
static char *vms_events(sqlite3 *sql, int run, long *count,
                        long *second_vm_events)
{
    GString *s = g_string_new(NULL);
    sqlite3_stmt *st = NULL;

    *count = *second_vm_events = 0;
    CU_ASSERT_EQUAL(sqlite3_prepare_v2(sql,
                                       "SELECT time, vm, vcpu, kind, "
                                       "exit_reason, addr, size, value, "
                                       "device, cost, rip FROM events WHERE "
                                       "run = ? ORDER BY id",
                                       -1, &st, NULL),
                    SQLITE_OK);
    sqlite3_bind_int(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 11; c++) {
            const unsigned char *t = sqlite3_column_text(st, c);

            g_string_append(s, t != NULL ? (const char *)t : "NULL");
            g_string_append_c(s, c == 10 ? '\n' : '|');
        }
        (*count)++;
        *second_vm_events += sqlite3_column_int(st, 1) == 1;
    }
    sqlite3_finalize(st);
    return g_string_free(s, FALSE);
}

/* The same config twice: the same events, row for row, with the timer's
 * interrupts and exits of two VMs interleaved on one clock. */
static void test_vms_deterministic(void)
{
    g_autofree char *db = g_build_filename(vms_tmpdir, "det.db", NULL);
    g_autofree char *text = g_strdup_printf(
        "[vm.t]\nmemory = 16M\nprogram = " VMS_TIMER "\n[vm.h]\nmemory = 8M\n"
        "program = " VMS_TIMER "\n[trace]\nfile = %s\nlevel = exits\n",
        db);
    g_autofree char *a = NULL, *b = NULL;
    long na, nb, second_a, second_b;
    sqlite3 *sql = NULL;

    sim_machine_free(vms_run(text, SIM_STOP_EXIT));
    sim_machine_free(vms_run(text, SIM_STOP_EXIT));
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    a = vms_events(sql, 1, &na, &second_a);
    b = vms_events(sql, 2, &nb, &second_b);
    sqlite3_close(sql);
    CU_ASSERT(na > 100);
    CU_ASSERT(second_a > 50 && second_a < na);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT_STRING_EQUAL(a, b);
}

/* CRC-32 (IEEE), as the bootinfo guest computes it. */
static uint32_t vms_crc32(const uint8_t *p, size_t n)
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

/*
 * Modules and a command line reach each VM's guest through its boot-info
 * block, each VM its own; the guest finds the ACPI tables (one local APIC
 * per vCPU, the ECAM window) with valid checksums.
 */
static void test_vm_modules(void)
{
    g_autofree char *a = g_build_filename(vms_tmpdir, "a.txt", NULL);
    g_autofree char *b = g_build_filename(vms_tmpdir, "trace.bin", NULL);
    g_autofree char *text = NULL, *want_a = NULL, *want_b = NULL;
    uint8_t bin[5000];
    struct sim_machine *m;
    const char *out0, *out1;

    for (unsigned i = 0; i < sizeof(bin); i++) {
        bin[i] = (uint8_t)(i * 13 + 7);
    }
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(a, "a module\n", -1, NULL));
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(b, (const char *)bin,
                                             sizeof(bin), NULL));
    text = g_strdup_printf("[vm.x]\nmemory = 8M\nprogram = " VMS_BOOTINFO
                           "\nmodules = %s, %s\ncmdline = run=7 fast\n"
                           "[vm.y]\nmemory = 8M\nprogram = " VMS_BOOTINFO
                           "\nmodules = %s\n",
                           a, b, b);
    m = vms_run(text, SIM_STOP_EXIT);
    out0 = vms_console(m, 0);
    out1 = vms_console(m, 1);
    want_a = g_strdup_printf("module a.txt: 9 bytes, crc32 %08x\n",
                             vms_crc32((const uint8_t *)"a module\n", 9));
    want_b = g_strdup_printf("module trace.bin: 5000 bytes, crc32 %08x\n",
                             vms_crc32(bin, sizeof(bin)));
    CU_ASSERT_PTR_NOT_NULL(strstr(out0, want_a));
    CU_ASSERT_PTR_NOT_NULL(strstr(out0, want_b));
    CU_ASSERT_PTR_NOT_NULL(strstr(out0, "command line: run=7 fast\n"));
    CU_ASSERT_PTR_NULL(strstr(out1, "a.txt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out1, want_b));
    CU_ASSERT_PTR_NOT_NULL(strstr(out1, "command line: (none)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out0, "processor UID 0, APIC ID 0, enabled"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out0, "MCFG: ECAM at b0000000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out1, "bootinfo: ok\n"));
    sim_machine_free(m);

    /* A missing module names itself and its key; one too big for RAM
     * says so. */
    vms_config_fails("[vm.x]\nprogram = " VMS_BOOTINFO
                     "\nmodules = nowhere.bin\n",
                     SIM_ERROR_CONFIG, "vm.x.modules=nowhere.bin: module "
                                       "'nowhere.bin': no such file");
    {
        g_autofree char *big = g_build_filename(vms_tmpdir, "big.bin", NULL);
        g_autofree char *zeros = g_malloc0(5u << 20);
        g_autofree char *t2 = NULL;
        g_autoptr(GError) err = NULL;
        struct sim_config *cfg;

        CU_ASSERT_TRUE_FATAL(g_file_set_contents(big, zeros, 5u << 20, NULL));
        t2 = g_strdup_printf("[vm.x]\nmemory = 4M\nprogram = " VMS_BOOTINFO
                             "\nmodules = %s\n",
                             big);
        cfg = vms_parse(t2, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        CU_ASSERT_PTR_NULL(sim_machine_new(cfg, &err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "do not fit"));
    }
}

/*
 * RAM beyond the PCI hole sits from 4 GiB, in the memory map, the page
 * tables and EPT: a 3 GiB guest reaches both ends of both ranges, natively
 * and under hvm, and the hole holds the ECAM window.
 */
static void test_vm_high_ram(void)
{
    static const char *const modes[] = {"native", "hvm"};

    for (unsigned i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *text = g_strdup_printf(
            "[machine]\nmode = %s\nmemory = 3G\n[guest]\nprogram = "
            VMS_BOOTINFO "\n",
            modes[i]);
        struct sim_machine *m = vms_run(text, SIM_STOP_EXIT);
        const char *out = sim_machine_console(m, NULL);
        uint64_t size;

        CU_ASSERT_PTR_NOT_NULL(strstr(out, "memory: 100000000 .. 110000000: "
                                           "RAM\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "MCFG: ECAM at b0000000"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "bootinfo: ok\n"));
        CU_ASSERT_PTR_NULL(strstr(out, "FAILED"));
        sim_machine_ram(m, &size);
        CU_ASSERT_EQUAL(size, UINT64_C(0xb0000000));
        sim_machine_free(m);
    }
}

static CU_TestInfo vms_tests[] = {
    {"[vm.NAME] sections, in file order", test_vm_sections},
    {"[vm.NAME] errors name the key and what is missing",
     test_vm_config_errors},
    {"VMs side by side: own RAM, console, same output", test_vms_side_by_side},
    {"a VM that crashes stops only itself", test_vm_crash_is_its_own},
    {"a trapped MMIO instruction completes at a quantum's end",
     test_vm_mmio_at_quantum_end},
    {"same config, same events with several VMs", test_vms_deterministic},
    {"modules, command line and ACPI tables reach each guest",
     test_vm_modules},
    {"RAM beyond the PCI hole sits above 4 GiB", test_vm_high_ram},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_vms_suites[] = {
    {"sim/vms", vms_suite_init, vms_suite_clean, NULL, NULL, vms_tests},
    CU_SUITE_INFO_NULL,
};
