/*
 * tests/workloads/test-vmexit.c: the vmexit micro-benchmark guest
 * (workloads/bench/vmexit.c) under hvm, its figures checked against the
 * profile they come from (not against numbers written here): a CPUID exit
 * costs the round trip and its handler plus the instruction; a port in a
 * user-space device model costs the in-VMM port plus the trip there; an
 * MMIO exit the in-VMM port plus the emulation; the self-IPIs all arrive.
 */
#include "sim/common.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>

#include "sim/sim.h"

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
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmexit: vmcall "));
    sim_machine_free(m);
}

static CU_TestInfo vmexit_tests[] = {
    {"vmexit figures follow the profile's costs", test_vmexit_figures},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_vmexit_suites[] = {
    {"workloads/vmexit", NULL, NULL, NULL, NULL, vmexit_tests},
    CU_SUITE_INFO_NULL,
};
