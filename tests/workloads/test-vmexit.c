/*
 * tests/workloads/test-vmexit.c: the vmexit micro-benchmark guest
 * (workloads/bench/vmexit.c) under hvm, its figures checked against the
 * profile they come from (not against numbers written here): a CPUID exit
 * costs the round trip and its handler plus the instruction; a port in a
 * user-space device model costs the in-VMM port plus the trip there; an
 * MMIO exit the in-VMM port plus the emulation; the self-IPIs all arrive;
 * and the APIC page's accesses are APIC-access exits, recorded with their
 * qualification.
 */
#include "sim/common.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <sqlite3.h>

#include "sim/sim.h"
#include "tests/tmpdir.h"

/* The figure of "vmexit: NAME N" in @out, or -1. */
static long vmexit_figure(const char *out, const char *name)
{
    g_autofree char *key = g_strdup_printf("vmexit: %s ", name);
    const char *p = strstr(out, key);

    return p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void test_vmexit_figures(void)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg =
        sim_config_load("experiments/vmexit.ini", NULL, &err);
    struct sim_machine *m;
    const uint32_t *vmx;
    const char *out;
    long cpuid, vmm_io, user_io, mmio;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    m = sim_machine_new(cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_EXIT);
    out = sim_machine_console(m, NULL);
    vmx = sim_machine_config(m)->profile.vmx;
    cpuid = vmexit_figure(out, "cpuid");
    vmm_io = vmexit_figure(out, "inb_in_vmm");
    user_io = vmexit_figure(out, "inb_debugcon");
    mmio = vmexit_figure(out, "mmio_read");
    CU_ASSERT(cpuid >= vmx[SIM_VMX_EXIT_ENTRY] + vmx[SIM_VMX_CPUID] &&
              cpuid < vmx[SIM_VMX_EXIT_ENTRY] + vmx[SIM_VMX_CPUID] + 200);
    CU_ASSERT(vmm_io >= vmx[SIM_VMX_EXIT_ENTRY] + vmx[SIM_VMX_IO]);
    CU_ASSERT(labs(user_io - vmm_io - (long)vmx[SIM_VMX_USERSPACE_TRIP]) <=
              20);
    CU_ASSERT(labs(mmio - vmm_io - (long)vmx[SIM_VMX_MMIO_EMULATE]) <= 20);
    CU_ASSERT(vmexit_figure(out, "self_ipi") > 0);
    CU_ASSERT(vmexit_figure(out, "apic_timer_1_tick") > 0);
    /* A deadline ahead costs more than one already past. */
    CU_ASSERT(vmexit_figure(out, "tscdeadline") >
              vmexit_figure(out, "tscdeadline_immed"));
    CU_ASSERT(vmexit_figure(out, "tscdeadline_immed") > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmexit: vmcall "));
    sim_machine_free(m);
}

/* One integer from @sql's @query. */
static long vmexit_query(sqlite3 *sql, const char *query)
{
    sqlite3_stmt *st = NULL;
    long v = -1;

    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(sql, query, -1, &st, NULL),
                          SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/*
 * apicv = off: every access to the APIC page exits with reason 44, its
 * qualification the offset and the access type (1: a linear write), none
 * as an EPT violation; the guest's EOIs and ICR writes are all there.
 */
static void test_apic_access_exits(void)
{
    g_autofree char *dir = g_dir_make_tmp("iovsim-vmexit-XXXXXX", NULL);
    g_autofree char *db = g_build_filename(dir, "apic.db", NULL);
    g_autofree char *set = g_strdup_printf("trace.file=%s", db);
    const char *sets[] = {set, "trace.level=exits", NULL};
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg =
        sim_config_load("experiments/vmexit.ini", sets, &err);
    struct sim_machine *m;
    sqlite3 *sql = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    m = sim_machine_new(cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(sim_machine_run(m), SIM_STOP_EXIT);
    sim_machine_free(m);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &sql, SQLITE_OPEN_READONLY,
                                          NULL),
                          SQLITE_OK);
    /* 2,000 EOIs timed, and one per self-IPI and timer tick taken. */
    CU_ASSERT(vmexit_query(sql, "SELECT count(*) FROM events WHERE "
                                "exit_reason = 44 AND value = 4272") >= 2000);
    CU_ASSERT(vmexit_query(sql, "SELECT count(*) FROM events WHERE "
                                "exit_reason = 44 AND value = 4864") >= 2000);
    CU_ASSERT_EQUAL(vmexit_query(sql, "SELECT count(*) FROM events WHERE "
                                      "exit_reason = 48 AND addr >= "
                                      "4276092928 AND addr < 4276097024"),
                    0);
    CU_ASSERT_EQUAL(vmexit_query(sql, "SELECT count(*) FROM events WHERE "
                                      "exit_reason = 44 AND value >> 12 "
                                      "NOT IN (0, 1)"),
                    0);
    sqlite3_close(sql);
    tests_tmpdir_remove(&dir);
}

static CU_TestInfo vmexit_tests[] = {
    {"vmexit figures follow the profile's costs", test_vmexit_figures},
    {"APIC-page accesses exit 44 with offset and type",
     test_apic_access_exits},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_vmexit_suites[] = {
    {"workloads/vmexit", NULL, NULL, NULL, NULL, vmexit_tests},
    CU_SUITE_INFO_NULL,
};
