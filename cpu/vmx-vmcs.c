/*
 * cpu/vmx-vmcs.c: the VMCS model — VMREAD/VMWRITE semantics on the field
 * tables of cpu/vmcs.def, the exit-reason names of cpu/vmexit.def, the VMX
 * capability MSRs the model reports, the VM-entry checks on the control
 * fields and on the guest-state area, and the `iovsim vmcs` listing.  The
 * execution side (VM entry, exits, non-root checks) lives elsewhere in
 * cpu/ and uses the declarations of cpu/vmx-internal.h.
 *
 * Everything here is plain data: no machine, no memory access.  Checks
 * that need guest memory (the TPR shadow in the virtual-APIC page, the
 * revision at the VMCS link pointer) are left to the VM-entry code.
 */
#include "sim/common.h"

#include <stdio.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "cpu/vmx-internal.h"
#include "mmu/mmu.h"

/* ---- Tables -------------------------------------------------------------- */

struct vmx_field_info {
    uint32_t encoding;
    const char *name;
    const char *desc;
};

static const struct vmx_field_info vmx_fields[VMCS_NFIELDS] = {
#define VMCS_FIELD(name, enc, desc) [VMCS_##name] = {(enc), #name, (desc)},
#include "cpu/vmcs.def"
#undef VMCS_FIELD
};

struct vmx_exit_info {
    unsigned number;
    const char *name;
    const char *desc;
    unsigned flags;
};

static const struct vmx_exit_info vmx_exits[] = {
#define VMX_EXIT(name, num, desc, flags) {(num), #name, (desc), (flags)},
#include "cpu/vmexit.def"
#undef VMX_EXIT
};

/* ---- Field access (SDM "VMREAD", "VMWRITE"; §1) ------------------------ */

struct vmx_vmcs *vmx_vmcs_new(void)
{
    struct vmx_vmcs *vmcs = g_new0(struct vmx_vmcs, 1);

    vmcs->revision = VMX_VMCS_REVISION;
    return vmcs;
}

void vmx_vmcs_free(struct vmx_vmcs *vmcs)
{
    g_free(vmcs);
}

int vmx_field_lookup(uint32_t encoding)
{
    if (encoding & VMX_ENC_RESERVED) {
        return -1;
    }
    /* Access type 1 (high) exists only for 64-bit fields (§1). */
    if ((encoding & VMX_ENC_HIGH) && VMX_ENC_WIDTH(encoding) != VMX_WIDTH_64) {
        return -1;
    }
    switch (encoding & ~VMX_ENC_HIGH) {
#define VMCS_FIELD(name, enc, desc)                                            \
    case (enc):                                                                \
        return VMCS_##name;
#include "cpu/vmcs.def"
#undef VMCS_FIELD
    default:
        return -1;
    }
}

const char *vmx_field_name(uint32_t encoding)
{
    int idx = vmx_field_lookup(encoding);

    return idx < 0 ? NULL : vmx_fields[idx].name;
}

bool vmx_field_needs_sync(const struct vmx_vmcs *vmcs, enum vmcs_index idx)
{
    return vmcs->lazy_cpu != NULL &&
           VMX_ENC_TYPE(vmx_fields[idx].encoding) == VMX_TYPE_GUEST &&
           !vmx_field_saved_eagerly(idx);
}

/* A guest-state field the lazy save has not written yet is filled in. */
static void vmcs_sync_field(const struct vmx_vmcs *vmcs, int idx,
                            uint32_t encoding)
{
    (void)encoding;
    if (vmx_field_needs_sync(vmcs, idx)) {
        /* The VMCS's contents are logically current: only the copy in
         * f[] is late, so a const reader may complete it. */
        vmx_vmcs_sync((struct vmx_vmcs *)vmcs);
    }
}

unsigned vmx_vmcs_read(const struct vmx_vmcs *vmcs, uint32_t encoding,
                       uint64_t *val)
{
    int idx = vmx_field_lookup(encoding);

    if (idx < 0) {
        return VMX_INSN_ERR_UNSUPPORTED_COMPONENT;
    }
    vmcs_sync_field(vmcs, idx, encoding);
    if (encoding & VMX_ENC_HIGH) {
        *val = vmcs->f[idx] >> 32;
    } else {
        *val = vmcs->f[idx];
    }
    return 0;
}

unsigned vmx_vmcs_write(struct vmx_vmcs *vmcs, uint32_t encoding, uint64_t val)
{
    int idx = vmx_field_lookup(encoding);

    if (idx < 0) {
        return VMX_INSN_ERR_UNSUPPORTED_COMPONENT;
    }
    /*
     * VM-exit information fields are read-only unless IA32_VMX_MISC bit 29
     * is 1, which the model does not report (SDM "VMWRITE").
     */
    if (VMX_ENC_TYPE(encoding) == VMX_TYPE_EXIT_INFO) {
        return VMX_INSN_ERR_VMWRITE_READ_ONLY;
    }
    vmcs_sync_field(vmcs, idx, encoding);
    if (encoding & VMX_ENC_HIGH) {
        vmcs->f[idx] = (vmcs->f[idx] & 0xffffffffull) | (val << 32);
    } else {
        vmcs->f[idx] = val & VMX_ENC_VALUE_MASK(encoding);
    }
    vmcs->checked = false;
    if (VMX_ENC_TYPE(encoding) == VMX_TYPE_GUEST) {
        vmcs->guest_dirty = true;
    }
    return 0;
}

const char *vmx_exit_reason_name(unsigned reason)
{
    switch (reason & VMX_EXIT_REASON_BASIC_MASK) {
#define VMX_EXIT(name, num, desc, flags)                                       \
    case (num):                                                                \
        return #name;
#include "cpu/vmexit.def"
#undef VMX_EXIT
    default:
        return NULL;
    }
}

/* ---- Capability MSRs (SDM Appendix A; §3) ------------------------------- */

/*
 * The TRUE MSRs let these default-1 controls be 0 (SDM "Default Settings
 * of VMX Controls"), as on hardware: CR3-load/store exiting and the
 * save/load debug-controls controls.  The model implements both settings
 * of each; every other default-1 bit is reserved and must stay 1.
 */
#define VMX_PROC_TRUE_DEFAULT1                                                 \
    (VMX_PROC_DEFAULT1 &                                                       \
     ~(VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING))
#define VMX_EXIT_CTL_TRUE_DEFAULT1                                             \
    (VMX_EXIT_CTL_DEFAULT1 & ~VMX_EXIT_CTL_SAVE_DEBUG_CTLS)
#define VMX_ENTRY_CTL_TRUE_DEFAULT1                                            \
    (VMX_ENTRY_CTL_DEFAULT1 & ~VMX_ENTRY_CTL_LOAD_DEBUG_CTLS)

/* Allowed-1 settings: the default-1 bits are always allowed. */
#define VMX_PIN_ALLOWED1 (VMX_PIN_DEFAULT1 | VMX_PIN_SUPPORTED)
#define VMX_PROC_ALLOWED1 (VMX_PROC_DEFAULT1 | VMX_PROC_SUPPORTED)
#define VMX_EXIT_CTL_ALLOWED1 (VMX_EXIT_CTL_DEFAULT1 | VMX_EXIT_CTL_SUPPORTED)
#define VMX_ENTRY_CTL_ALLOWED1                                                 \
    (VMX_ENTRY_CTL_DEFAULT1 | VMX_ENTRY_CTL_SUPPORTED)

/*
 * IA32_VMX_BASIC: revision, a 4-KB VMCS region, write-back access, INS/
 * OUTS instruction information (bit 54, §8) and the TRUE MSRs (bit 55).
 * Bit 56 stays 0: VM entry checks the error-code bit of an injected
 * hardware exception against its vector.
 */
#define VMX_BASIC_VALUE                                                        \
    ((uint64_t)VMX_VMCS_REVISION | (4096ull << VMX_BASIC_VMCS_SIZE_SHIFT) |    \
     (6ull << VMX_BASIC_MEMTYPE_SHIFT) | VMX_BASIC_INOUT_INFO |                \
     VMX_BASIC_TRUE_CTLS)

/*
 * IA32_VMX_MISC: exits store EFER.LMA into the IA-32e-mode-guest control
 * (bit 5), entry into the HLT activity state (bit 6; not shutdown or
 * wait-for-SIPI), four CR3-target values.  No preemption timer (rate 0),
 * no VMWRITE to exit-information fields (bit 29), no injection of
 * software events with instruction length 0 (bit 30).
 */
#define VMX_MISC_VALUE                                                         \
    (VMX_MISC_STORE_LMA | VMX_MISC_ACTIVITY_HLT |                              \
     ((uint64_t)VMX_CR3_TARGETS << VMX_MISC_CR3_TARGETS_SHIFT))

/*
 * CR0 and CR4 in VMX operation (SDM Appendix A "VMX-Fixed Bits in CR0",
 * "... in CR4"; checked on the guest CR0/CR4 fields at VM entry, SDM
 * "Checks on Guest Control Registers...").  CR0: PE, NE and PG must be 1
 * (no unrestricted guest to relax PE/PG); bits 31:0 may be 1.
 *
 * CR4: VMXE must be 1 — in the guest CR4 field too.  The SDM checks the
 * guest CR4 field against the same IA32_VMX_CR4_FIXED0/1 as the host's
 * CR4 at VMXON, and FIXED0 has VMXE; VMMs (KVM among them) run guests with
 * CR4.VMXE = 1 in the VMCS and hide it with bit 13 of the CR4 guest/host
 * mask and a read shadow.  Reporting FIXED0 = 0 instead would let a VMM
 * that works here fail on hardware.  FIXED1 lists what the model's MOV to
 * CR4 accepts (cpu/exec-system.c: TSD, DE, PSE, PAE, MCE, PGE, PCE,
 * OSFXSR, OSXMMEXCPT, FSGSBASE) plus VMXE: keep the two in step.
 */
#define VMX_CR0_FIXED0_VALUE (CPU_CR0_PE | CPU_CR0_NE | CPU_CR0_PG)
#define VMX_CR0_FIXED1_VALUE 0xffffffffull
#define VMX_CR4_FIXED0_VALUE VMX_CR4_VMXE
#define VMX_CR4_FIXED1_VALUE                                                   \
    ((1ull << 2) | (1ull << 3) | CPU_CR4_PSE | CPU_CR4_PAE | (1ull << 6) |     \
     CPU_CR4_PGE | (1ull << 8) | CPU_CR4_OSFXSR | (1ull << 10) |               \
     VMX_CR4_VMXE | CPU_CR4_FSGSBASE)

/*
 * IA32_VMX_EPT_VPID_CAP: what mmu_ept_walk() implements (MMU_EPT_CAP_WALK:
 * execute-only entries, 4-level walk, UC and WB EPTP types, 2-MB and 1-GB
 * pages, A/D flags) and INVEPT with single- and all-context types.  No
 * VPID, so bits 63:32 (INVVPID) are 0.
 */
#define VMX_EPT_VPID_CAP_VALUE                                                 \
    (MMU_EPT_CAP_WALK | VMX_EPT_CAP_INVEPT | VMX_EPT_CAP_INVEPT_SINGLE |       \
     VMX_EPT_CAP_INVEPT_ALL)

static uint64_t vmx_ctls_value(uint32_t must1, uint32_t may1)
{
    return ((uint64_t)may1 << 32) | must1;
}

/* IA32_VMX_VMCS_ENUM bits 9:1: the highest field index in use. */
static uint64_t vmx_vmcs_enum(void)
{
    unsigned max = 0;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(vmx_fields); i++) {
        max = MAX(max, VMX_ENC_INDEX(vmx_fields[i].encoding));
    }
    return (uint64_t)max << 1;
}

bool vmx_capability_msr(uint32_t msr, uint64_t *val)
{
    switch (msr) {
    case VMX_MSR_BASIC:
        *val = VMX_BASIC_VALUE;
        return true;
    case VMX_MSR_PINBASED_CTLS:
    case VMX_MSR_TRUE_PINBASED_CTLS:
        *val = vmx_ctls_value(VMX_PIN_DEFAULT1, VMX_PIN_ALLOWED1);
        return true;
    case VMX_MSR_PROCBASED_CTLS:
        *val = vmx_ctls_value(VMX_PROC_DEFAULT1, VMX_PROC_ALLOWED1);
        return true;
    case VMX_MSR_TRUE_PROCBASED_CTLS:
        *val = vmx_ctls_value(VMX_PROC_TRUE_DEFAULT1, VMX_PROC_ALLOWED1);
        return true;
    case VMX_MSR_EXIT_CTLS:
        *val = vmx_ctls_value(VMX_EXIT_CTL_DEFAULT1, VMX_EXIT_CTL_ALLOWED1);
        return true;
    case VMX_MSR_TRUE_EXIT_CTLS:
        *val =
            vmx_ctls_value(VMX_EXIT_CTL_TRUE_DEFAULT1, VMX_EXIT_CTL_ALLOWED1);
        return true;
    case VMX_MSR_ENTRY_CTLS:
        *val = vmx_ctls_value(VMX_ENTRY_CTL_DEFAULT1, VMX_ENTRY_CTL_ALLOWED1);
        return true;
    case VMX_MSR_TRUE_ENTRY_CTLS:
        *val =
            vmx_ctls_value(VMX_ENTRY_CTL_TRUE_DEFAULT1, VMX_ENTRY_CTL_ALLOWED1);
        return true;
    case VMX_MSR_PROCBASED_CTLS2:
        *val = vmx_ctls_value(0, VMX_PROC2_SUPPORTED);
        return true;
    case VMX_MSR_MISC:
        *val = VMX_MISC_VALUE;
        return true;
    case VMX_MSR_CR0_FIXED0:
        *val = VMX_CR0_FIXED0_VALUE;
        return true;
    case VMX_MSR_CR0_FIXED1:
        *val = VMX_CR0_FIXED1_VALUE;
        return true;
    case VMX_MSR_CR4_FIXED0:
        *val = VMX_CR4_FIXED0_VALUE;
        return true;
    case VMX_MSR_CR4_FIXED1:
        *val = VMX_CR4_FIXED1_VALUE;
        return true;
    case VMX_MSR_VMCS_ENUM:
        *val = vmx_vmcs_enum();
        return true;
    case VMX_MSR_EPT_VPID_CAP:
        *val = VMX_EPT_VPID_CAP_VALUE;
        return true;
    default:
        /*
         * IA32_VMX_VMFUNC exists only if "enable VM functions" may be 1,
         * IA32_VMX_PROCBASED_CTLS3 only if "activate tertiary controls"
         * may be 1 (SDM Appendix A); neither is, so RDMSR faults.
         */
        return false;
    }
}

/* ---- Checks on VMX controls (SDM "VM Entries") -------------------------- */

static unsigned vmx_fail(const char **why, const char *msg, unsigned err)
{
    if (why != NULL) {
        *why = msg;
    }
    return err;
}

#define CTL_FAIL(msg) vmx_fail(why, (msg), VMX_INSN_ERR_ENTRY_INVALID_CONTROLS)

/* A physical address within MAXPHYADDR bits. */
static bool vmx_pa_valid(uint64_t pa)
{
    return (pa >> MMU_MAXPHYADDR) == 0;
}

static bool vmx_page_pa_valid(uint64_t pa)
{
    return (pa & 0xfff) == 0 && vmx_pa_valid(pa);
}

/* The secondary controls in effect: 0 unless activated. */
static uint32_t vmx_proc2(const struct vmx_vmcs *vmcs)
{
    if (!(vmcs->f[VMCS_PROC_BASED_CTLS] & VMX_PROC_ACTIVATE_SECONDARY)) {
        return 0;
    }
    return (uint32_t)vmcs->f[VMCS_PROC_BASED_CTLS2];
}

/*
 * The EPTP rules (SDM "Checks on VM-Execution Control Fields"; §11): a
 * memory type and a walk length IA32_VMX_EPT_VPID_CAP allows, bit 6 only
 * with A/D support, bit 7 (supervisor shadow stack) not supported,
 * bits 11:8 and 63:MAXPHYADDR reserved.  mmu_eptp_valid() agrees.
 */
static unsigned vmx_check_eptp(uint64_t eptp, const char **why)
{
    uint64_t cap = VMX_EPT_VPID_CAP_VALUE;
    uint64_t mt = eptp & MMU_EPTP_MT_MASK;

    if (!((mt == MMU_EPT_MT_UC && (cap & MMU_EPT_CAP_UC)) ||
          (mt == MMU_EPT_MT_WB && (cap & MMU_EPT_CAP_WB)))) {
        return CTL_FAIL("EPT_POINTER: memory type (bits 2:0) must be "
                        "0 (UC) or 6 (WB)");
    }
    if ((eptp & MMU_EPTP_WALK_MASK) != MMU_EPTP_WALK_4) {
        return CTL_FAIL("EPT_POINTER: page-walk length - 1 (bits 5:3) must "
                        "be 3 (4-level walk; 5-level is not supported)");
    }
    if ((eptp & MMU_EPTP_AD) && !(cap & MMU_EPT_CAP_AD)) {
        return CTL_FAIL("EPT_POINTER: A/D flags (bit 6) are not supported");
    }
    if (eptp & MMU_EPTP_SSS) {
        return CTL_FAIL("EPT_POINTER: bit 7 (supervisor shadow-stack "
                        "control) is not supported");
    }
    if (eptp & 0xf00) {
        return CTL_FAIL("EPT_POINTER: reserved bits 11:8 must be 0");
    }
    if (!vmx_pa_valid(eptp)) {
        return CTL_FAIL("EPT_POINTER: bits beyond the physical-address width "
                        "must be 0");
    }
    return 0;
}

/* An MSR-load/store area of @count 16-byte entries at @addr. */
static bool vmx_msr_area_valid(uint64_t addr, uint64_t count)
{
    return count == 0 || ((addr & 0xf) == 0 && vmx_pa_valid(addr) &&
                          vmx_pa_valid(addr + count * 16 - 1));
}

/* Exceptions that push an error code (SDM 3A "Exception and Interrupt
 * Reference"): #DF, #TS, #NP, #SS, #GP, #PF, #AC.  #CP (21) is left out:
 * the model has no CET. */
static bool vmx_vector_has_error_code(unsigned vector)
{
    switch (vector) {
    case 8:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 17:
        return true;
    default:
        return false;
    }
}

/*
 * VM-entry event injection (SDM "Checks on VM-Entry Control Fields";
 * §10): the interruption-information field, its error code and
 * instruction length are control fields, so a bad injection is
 * VM-instruction error 7, not an invalid-guest-state exit.
 */
static unsigned vmx_check_injection(const struct vmx_vmcs *vmcs,
                                    const char **why)
{
    uint32_t info = (uint32_t)vmcs->f[VMCS_ENTRY_INTR_INFO];
    unsigned vector = info & VMX_INTR_VECTOR_MASK;
    unsigned type = (info & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT;
    uint64_t len = vmcs->f[VMCS_ENTRY_INSTRUCTION_LEN];
    bool want_error;

    if (!(info & VMX_INTR_VALID)) {
        return 0;
    }
    if (info & 0x7ffff000u) {
        return CTL_FAIL("ENTRY_INTR_INFO: reserved bits 30:12 must be 0");
    }
    switch (type) {
    case VMX_INTR_TYPE_EXT_INTR:
        break;
    case VMX_INTR_TYPE_NMI:
        if (vector != 2) {
            return CTL_FAIL("ENTRY_INTR_INFO: an NMI must have vector 2");
        }
        break;
    case VMX_INTR_TYPE_HW_EXCEPTION:
        if (vector > 31) {
            return CTL_FAIL("ENTRY_INTR_INFO: a hardware exception must "
                            "have a vector below 32");
        }
        break;
    case VMX_INTR_TYPE_SW_INTR:
    case VMX_INTR_TYPE_PRIV_SW_EXCEPTION:
    case VMX_INTR_TYPE_SW_EXCEPTION:
        /* Length 0 needs IA32_VMX_MISC bit 30, which is 0. */
        if (len < 1 || len > 15) {
            return CTL_FAIL("ENTRY_INSTRUCTION_LEN: a software interrupt or "
                            "exception needs a length of 1 to 15");
        }
        break;
    case VMX_INTR_TYPE_OTHER:
        return CTL_FAIL("ENTRY_INTR_INFO: type 7 (other event, MTF) needs "
                        "the monitor trap flag, which the model lacks");
    default:
        return CTL_FAIL("ENTRY_INTR_INFO: interruption type 1 is reserved");
    }
    /* With IA32_VMX_BASIC bit 56 = 0 the error-code bit is checked. */
    want_error = type == VMX_INTR_TYPE_HW_EXCEPTION &&
                 (vmcs->f[VMCS_GUEST_CR0] & CPU_CR0_PE) &&
                 vmx_vector_has_error_code(vector);
    if (!!(info & VMX_INTR_ERROR_CODE) != want_error) {
        return CTL_FAIL("ENTRY_INTR_INFO: deliver-error-code (bit 11) must "
                        "be 1 exactly for a hardware exception with an "
                        "error code (8, 10-14, 17) in protected mode");
    }
    if ((info & VMX_INTR_ERROR_CODE) &&
        (vmcs->f[VMCS_ENTRY_EXCEPTION_ERROR_CODE] & 0xffff0000u)) {
        return CTL_FAIL("ENTRY_EXCEPTION_ERROR_CODE: bits 31:16 must be 0");
    }
    return 0;
}

unsigned vmx_check_control_rules(const struct vmx_vmcs *vmcs, const char **why)
{
    const uint64_t *f = vmcs->f;
    uint32_t pin = (uint32_t)f[VMCS_PIN_BASED_CTLS];
    uint32_t proc = (uint32_t)f[VMCS_PROC_BASED_CTLS];
    uint32_t proc2 = vmx_proc2(vmcs);
    uint32_t exit_ctls = (uint32_t)f[VMCS_EXIT_CTLS];
    uint32_t entry_ctls = (uint32_t)f[VMCS_ENTRY_CTLS];
    unsigned err;

    if (why != NULL) {
        *why = NULL;
    }

    /* VM-execution control fields. */
    if (f[VMCS_CR3_TARGET_COUNT] > VMX_CR3_TARGETS) {
        return CTL_FAIL("CR3_TARGET_COUNT: at most 4 (IA32_VMX_MISC 24:16)");
    }
    if (proc & VMX_PROC_USE_IO_BITMAPS) {
        if (!vmx_page_pa_valid(f[VMCS_IO_BITMAP_A])) {
            return CTL_FAIL("IO_BITMAP_A: must be 4-KB aligned and within "
                            "the physical-address width");
        }
        if (!vmx_page_pa_valid(f[VMCS_IO_BITMAP_B])) {
            return CTL_FAIL("IO_BITMAP_B: must be 4-KB aligned and within "
                            "the physical-address width");
        }
    }
    if ((proc & VMX_PROC_USE_MSR_BITMAPS) &&
        !vmx_page_pa_valid(f[VMCS_MSR_BITMAP])) {
        return CTL_FAIL("MSR_BITMAP: must be 4-KB aligned and within the "
                        "physical-address width");
    }
    if ((pin & VMX_PIN_VIRTUAL_NMIS) && !(pin & VMX_PIN_NMI_EXITING)) {
        return CTL_FAIL("PIN_BASED_CTLS: virtual NMIs need NMI exiting");
    }
    if ((proc & VMX_PROC_NMI_WINDOW_EXITING) && !(pin & VMX_PIN_VIRTUAL_NMIS)) {
        return CTL_FAIL("PROC_BASED_CTLS: NMI-window exiting needs virtual "
                        "NMIs");
    }
    /* Posted interrupts (§4, §12). */
    if (pin & VMX_PIN_POSTED_INTR) {
        if (!(proc2 & VMX_PROC2_VIRT_INTR_DELIVERY)) {
            return CTL_FAIL("PIN_BASED_CTLS: process posted interrupts "
                            "needs virtual-interrupt delivery");
        }
        if (!(exit_ctls & VMX_EXIT_CTL_ACK_INTR_ON_EXIT)) {
            return CTL_FAIL("PIN_BASED_CTLS: process posted interrupts "
                            "needs acknowledge interrupt on exit");
        }
        if (f[VMCS_POSTED_INTR_NV] & 0xff00) {
            return CTL_FAIL("POSTED_INTR_NV: bits 15:8 must be 0");
        }
        if ((f[VMCS_POSTED_INTR_DESC_ADDR] & 0x3f) ||
            !vmx_pa_valid(f[VMCS_POSTED_INTR_DESC_ADDR])) {
            return CTL_FAIL("POSTED_INTR_DESC_ADDR: must be 64-byte aligned "
                            "and within the physical-address width");
        }
    }
    if (proc & VMX_PROC_USE_TPR_SHADOW) {
        if (!vmx_page_pa_valid(f[VMCS_VIRTUAL_APIC_PAGE_ADDR])) {
            return CTL_FAIL("VIRTUAL_APIC_PAGE_ADDR: must be 4-KB aligned "
                            "and within the physical-address width");
        }
        /* The threshold-versus-VTPR rule reads the virtual-APIC page:
         * left to the VM-entry code. */
        if (!(proc2 & VMX_PROC2_VIRT_INTR_DELIVERY) &&
            (f[VMCS_TPR_THRESHOLD] & ~0xfull)) {
            return CTL_FAIL("TPR_THRESHOLD: bits 31:4 must be 0");
        }
    } else if (proc2 &
               (VMX_PROC2_VIRT_X2APIC_MODE | VMX_PROC2_APIC_REGISTER_VIRT |
                VMX_PROC2_VIRT_INTR_DELIVERY)) {
        return CTL_FAIL("PROC_BASED_CTLS2: x2APIC virtualization, APIC-"
                        "register virtualization and virtual-interrupt "
                        "delivery need use TPR shadow");
    }
    if ((proc2 & VMX_PROC2_VIRT_INTR_DELIVERY) &&
        !(pin & VMX_PIN_EXT_INTR_EXITING)) {
        return CTL_FAIL("PROC_BASED_CTLS2: virtual-interrupt delivery needs "
                        "external-interrupt exiting");
    }
    if (proc2 & VMX_PROC2_VIRT_APIC_ACCESSES) {
        if (!vmx_page_pa_valid(f[VMCS_APIC_ACCESS_ADDR])) {
            return CTL_FAIL("APIC_ACCESS_ADDR: must be 4-KB aligned and "
                            "within the physical-address width");
        }
        if (proc2 & VMX_PROC2_VIRT_X2APIC_MODE) {
            return CTL_FAIL("PROC_BASED_CTLS2: virtualize APIC accesses and "
                            "virtualize x2APIC mode exclude each other");
        }
    }
    if (proc2 & VMX_PROC2_ENABLE_EPT) {
        err = vmx_check_eptp(f[VMCS_EPT_POINTER], why);
        if (err != 0) {
            return err;
        }
    } else if (proc2 & (VMX_PROC2_UNRESTRICTED_GUEST |
                        VMX_PROC2_MODE_BASED_EPT_EXEC | VMX_PROC2_ENABLE_PML)) {
        return CTL_FAIL("PROC_BASED_CTLS2: unrestricted guest, mode-based "
                        "execute control and PML need enable EPT");
    }
    if ((proc2 & VMX_PROC2_ENABLE_VPID) && f[VMCS_VPID] == 0) {
        return CTL_FAIL("VPID: must not be 0 when enable VPID is 1");
    }

    /* VM-exit control fields. */
    if ((exit_ctls & VMX_EXIT_CTL_SAVE_PREEMPTION_TIMER) &&
        !(pin & VMX_PIN_PREEMPTION_TIMER)) {
        return CTL_FAIL("EXIT_CTLS: save VMX-preemption timer value needs "
                        "activate VMX-preemption timer");
    }
    if (!vmx_msr_area_valid(f[VMCS_EXIT_MSR_STORE_ADDR],
                            f[VMCS_EXIT_MSR_STORE_COUNT])) {
        return CTL_FAIL("EXIT_MSR_STORE_ADDR: must be 16-byte aligned and "
                        "the area within the physical-address width");
    }
    if (!vmx_msr_area_valid(f[VMCS_EXIT_MSR_LOAD_ADDR],
                            f[VMCS_EXIT_MSR_LOAD_COUNT])) {
        return CTL_FAIL("EXIT_MSR_LOAD_ADDR: must be 16-byte aligned and "
                        "the area within the physical-address width");
    }

    /* VM-entry control fields. */
    if (entry_ctls &
        (VMX_ENTRY_CTL_ENTRY_TO_SMM | VMX_ENTRY_CTL_DEACTIVATE_DUAL_MONITOR)) {
        return CTL_FAIL("ENTRY_CTLS: entry to SMM and deactivate dual-"
                        "monitor treatment must be 0 outside SMM");
    }
    if (!vmx_msr_area_valid(f[VMCS_ENTRY_MSR_LOAD_ADDR],
                            f[VMCS_ENTRY_MSR_LOAD_COUNT])) {
        return CTL_FAIL("ENTRY_MSR_LOAD_ADDR: must be 16-byte aligned and "
                        "the area within the physical-address width");
    }
    return vmx_check_injection(vmcs, why);
}

unsigned vmx_check_controls(const struct vmx_vmcs *vmcs, const char **why)
{
    const uint64_t *f = vmcs->f;
    uint32_t pin = (uint32_t)f[VMCS_PIN_BASED_CTLS];
    uint32_t proc = (uint32_t)f[VMCS_PROC_BASED_CTLS];
    uint32_t proc2 = vmx_proc2(vmcs);
    uint32_t exit_ctls = (uint32_t)f[VMCS_EXIT_CTLS];
    uint32_t entry_ctls = (uint32_t)f[VMCS_ENTRY_CTLS];

    /*
     * Each control against its TRUE capability MSR (IA32_VMX_BASIC bit 55
     * is 1): every allowed-0 bit (low dword) set, nothing beyond the
     * allowed-1 bits (high dword).
     */
    if (~pin & VMX_PIN_DEFAULT1) {
        return CTL_FAIL("PIN_BASED_CTLS: a must-be-1 bit of "
                        "IA32_VMX_TRUE_PINBASED_CTLS (1, 2, 4) is 0");
    }
    if (pin & ~VMX_PIN_ALLOWED1) {
        return CTL_FAIL("PIN_BASED_CTLS: a control the model does not "
                        "support is 1 (IA32_VMX_TRUE_PINBASED_CTLS)");
    }
    if (~proc & VMX_PROC_TRUE_DEFAULT1) {
        return CTL_FAIL("PROC_BASED_CTLS: a must-be-1 bit of "
                        "IA32_VMX_TRUE_PROCBASED_CTLS (1, 4-6, 8, 13, 14, "
                        "26) is 0");
    }
    if (proc & ~VMX_PROC_ALLOWED1) {
        return CTL_FAIL("PROC_BASED_CTLS: a control the model does not "
                        "support is 1 (IA32_VMX_TRUE_PROCBASED_CTLS)");
    }
    if (proc2 & ~VMX_PROC2_SUPPORTED) {
        return CTL_FAIL("PROC_BASED_CTLS2: a control the model does not "
                        "support is 1 (IA32_VMX_PROCBASED_CTLS2)");
    }
    if (~exit_ctls & VMX_EXIT_CTL_TRUE_DEFAULT1) {
        return CTL_FAIL("EXIT_CTLS: a must-be-1 bit of "
                        "IA32_VMX_TRUE_EXIT_CTLS (0, 1, 3-8, 10, 11, 13, 14, "
                        "16, 17) is 0");
    }
    if (exit_ctls & ~VMX_EXIT_CTL_ALLOWED1) {
        return CTL_FAIL("EXIT_CTLS: a control the model does not support "
                        "is 1 (IA32_VMX_TRUE_EXIT_CTLS)");
    }
    if (~entry_ctls & VMX_ENTRY_CTL_TRUE_DEFAULT1) {
        return CTL_FAIL("ENTRY_CTLS: a must-be-1 bit of "
                        "IA32_VMX_TRUE_ENTRY_CTLS (0, 1, 3-8, 12) is 0");
    }
    if (entry_ctls & ~VMX_ENTRY_CTL_ALLOWED1) {
        return CTL_FAIL("ENTRY_CTLS: a control the model does not support "
                        "is 1 (IA32_VMX_TRUE_ENTRY_CTLS)");
    }
    return vmx_check_control_rules(vmcs, why);
}

/* ---- Checks on the guest-state area (SDM "VM Entries") ------------------ */

#define GUEST_FAIL(msg) vmx_fail(why, (msg), VMX_EXIT_ENTRY_FAIL_GUEST_STATE)

/* The same rule for each of ES, CS, SS, DS, FS, GS, by field name. */
#define VMX_SEG_MSGS(field, text)                                              \
    {                                                                          \
        "GUEST_ES_" field ": " text, "GUEST_CS_" field ": " text,              \
            "GUEST_SS_" field ": " text, "GUEST_DS_" field ": " text,          \
            "GUEST_FS_" field ": " text, "GUEST_GS_" field ": " text,          \
    }

enum {
    VMX_SEG_ES,
    VMX_SEG_CS,
    VMX_SEG_SS,
    VMX_SEG_DS,
    VMX_SEG_FS,
    VMX_SEG_GS,
    VMX_NSEG
};

static const enum vmcs_index vmx_seg_sel[VMX_NSEG] = {
    VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_SS_SELECTOR,
    VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_GS_SELECTOR,
};
static const enum vmcs_index vmx_seg_base[VMX_NSEG] = {
    VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE, VMCS_GUEST_SS_BASE,
    VMCS_GUEST_DS_BASE, VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE,
};
static const enum vmcs_index vmx_seg_limit[VMX_NSEG] = {
    VMCS_GUEST_ES_LIMIT, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_SS_LIMIT,
    VMCS_GUEST_DS_LIMIT, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_GS_LIMIT,
};
static const enum vmcs_index vmx_seg_ar[VMX_NSEG] = {
    VMCS_GUEST_ES_AR, VMCS_GUEST_CS_AR, VMCS_GUEST_SS_AR,
    VMCS_GUEST_DS_AR, VMCS_GUEST_FS_AR, VMCS_GUEST_GS_AR,
};

/*
 * Limit versus granularity: a limit with any of bits 11:0 clear needs
 * G = 0, one with any of bits 31:20 set needs G = 1.
 */
static bool vmx_limit_g_ok(uint64_t limit, uint32_t ar)
{
    if ((limit & 0xfff) != 0xfff && (ar & VMX_AR_G)) {
        return false;
    }
    return (limit >> 20) == 0 || (ar & VMX_AR_G);
}

static unsigned vmx_ar_dpl(uint32_t ar)
{
    return (ar >> VMX_AR_DPL_SHIFT) & 3;
}

/* Control registers, DR7 and MSRs of the guest-state area. */
static unsigned vmx_check_guest_regs(const struct vmx_vmcs *vmcs, bool ia32e,
                                     const char **why)
{
    const uint64_t *f = vmcs->f;
    uint32_t entry_ctls = (uint32_t)f[VMCS_ENTRY_CTLS];
    uint64_t cr0 = f[VMCS_GUEST_CR0];
    uint64_t cr4 = f[VMCS_GUEST_CR4];
    uint64_t efer = f[VMCS_GUEST_IA32_EFER];

    if (~cr0 & VMX_CR0_FIXED0_VALUE) {
        return GUEST_FAIL("GUEST_CR0: PE, NE and PG must be 1 "
                          "(IA32_VMX_CR0_FIXED0)");
    }
    if (cr0 & ~VMX_CR0_FIXED1_VALUE) {
        return GUEST_FAIL("GUEST_CR0: bits 63:32 must be 0 "
                          "(IA32_VMX_CR0_FIXED1)");
    }
    if (~cr4 & VMX_CR4_FIXED0_VALUE) {
        return GUEST_FAIL("GUEST_CR4: VMXE (bit 13) must be 1 "
                          "(IA32_VMX_CR4_FIXED0); hide it with the CR4 "
                          "guest/host mask and read shadow");
    }
    if (cr4 & ~VMX_CR4_FIXED1_VALUE) {
        return GUEST_FAIL("GUEST_CR4: a bit the model does not support is 1 "
                          "(IA32_VMX_CR4_FIXED1)");
    }
    if ((entry_ctls & VMX_ENTRY_CTL_LOAD_DEBUG_CTLS) &&
        (f[VMCS_GUEST_DR7] >> 32)) {
        return GUEST_FAIL("GUEST_DR7: bits 63:32 must be 0 when load debug "
                          "controls is 1");
    }
    if (ia32e) {
        if (!(cr0 & CPU_CR0_PG) || !(cr4 & CPU_CR4_PAE)) {
            return GUEST_FAIL("GUEST_CR0/GUEST_CR4: an IA-32e mode guest "
                              "needs CR0.PG = 1 and CR4.PAE = 1");
        }
    } else if (cr4 & VMX_CR4_PCIDE) {
        return GUEST_FAIL("GUEST_CR4: PCIDE must be 0 outside IA-32e mode");
    }
    if (!vmx_pa_valid(f[VMCS_GUEST_CR3])) {
        return GUEST_FAIL("GUEST_CR3: bits beyond the physical-address width "
                          "must be 0");
    }
    if (!mmu_canonical(f[VMCS_GUEST_IA32_SYSENTER_ESP]) ||
        !mmu_canonical(f[VMCS_GUEST_IA32_SYSENTER_EIP])) {
        return GUEST_FAIL("GUEST_IA32_SYSENTER_ESP/EIP: must be canonical");
    }
    if (entry_ctls & VMX_ENTRY_CTL_LOAD_EFER) {
        if (efer &
            ~(CPU_EFER_SCE | CPU_EFER_LME | CPU_EFER_LMA | CPU_EFER_NXE)) {
            return GUEST_FAIL("GUEST_IA32_EFER: reserved bits must be 0 (the "
                              "model has SCE, LME, LMA, NXE)");
        }
        if (!!(efer & CPU_EFER_LMA) != ia32e) {
            return GUEST_FAIL("GUEST_IA32_EFER: LMA must equal the IA-32e "
                              "mode guest entry control");
        }
        if ((cr0 & CPU_CR0_PG) &&
            !!(efer & CPU_EFER_LMA) != !!(efer & CPU_EFER_LME)) {
            return GUEST_FAIL("GUEST_IA32_EFER: LME must equal LMA when "
                              "CR0.PG = 1");
        }
    }
    return 0;
}

/* Segment registers, GDTR and IDTR (not virtual-8086, no unrestricted
 * guest: the model allows neither in an IA-32e guest). */
static unsigned vmx_check_guest_segments(const struct vmx_vmcs *vmcs,
                                         bool ia32e, const char **why)
{
    static const char *const msg_base_high[VMX_NSEG] =
        VMX_SEG_MSGS("BASE", "bits 63:32 must be 0");
    static const char *const msg_base_canon[VMX_NSEG] =
        VMX_SEG_MSGS("BASE", "must be canonical");
    static const char *const msg_accessed[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "type must be accessed (bit 0 = 1)");
    static const char *const msg_readable[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "a code segment must be readable");
    static const char *const msg_s[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "S (bit 4) must be 1");
    static const char *const msg_p[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "P (bit 7) must be 1");
    static const char *const msg_rpl[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "DPL must not be below the selector's RPL");
    static const char *const msg_rsvd[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "reserved bits 11:8 and 31:17 must be 0");
    static const char *const msg_g[VMX_NSEG] =
        VMX_SEG_MSGS("AR", "G (bit 15) does not match the limit");
    const uint64_t *f = vmcs->f;
    uint32_t ar[VMX_NSEG];
    uint32_t cs_type, tr_ar, ldtr_ar;

    for (unsigned i = 0; i < VMX_NSEG; i++) {
        ar[i] = (uint32_t)f[vmx_seg_ar[i]];
    }
    cs_type = ar[VMX_SEG_CS] & VMX_AR_TYPE_MASK;
    tr_ar = (uint32_t)f[VMCS_GUEST_TR_AR];
    ldtr_ar = (uint32_t)f[VMCS_GUEST_LDTR_AR];

    /* Selectors. */
    if (f[VMCS_GUEST_TR_SELECTOR] & 4) {
        return GUEST_FAIL("GUEST_TR_SELECTOR: TI (bit 2) must be 0");
    }
    if (!(ldtr_ar & VMX_AR_UNUSABLE) && (f[VMCS_GUEST_LDTR_SELECTOR] & 4)) {
        return GUEST_FAIL("GUEST_LDTR_SELECTOR: TI (bit 2) must be 0");
    }
    if ((f[VMCS_GUEST_SS_SELECTOR] & 3) != (f[VMCS_GUEST_CS_SELECTOR] & 3)) {
        return GUEST_FAIL("GUEST_SS_SELECTOR: RPL must equal CS's RPL");
    }

    /* Bases. */
    if (!mmu_canonical(f[VMCS_GUEST_TR_BASE])) {
        return GUEST_FAIL("GUEST_TR_BASE: must be canonical");
    }
    for (unsigned i = VMX_SEG_FS; i <= VMX_SEG_GS; i++) {
        if (!mmu_canonical(f[vmx_seg_base[i]])) {
            return GUEST_FAIL(msg_base_canon[i]);
        }
    }
    if (!(ldtr_ar & VMX_AR_UNUSABLE) &&
        !mmu_canonical(f[VMCS_GUEST_LDTR_BASE])) {
        return GUEST_FAIL("GUEST_LDTR_BASE: must be canonical");
    }
    for (unsigned i = VMX_SEG_ES; i <= VMX_SEG_DS; i++) {
        bool usable = i == VMX_SEG_CS || !(ar[i] & VMX_AR_UNUSABLE);

        if (usable && (f[vmx_seg_base[i]] >> 32)) {
            return GUEST_FAIL(msg_base_high[i]);
        }
    }

    /* Access rights: CS (always checked), then the usable data segments. */
    if (cs_type != 9 && cs_type != 11 && cs_type != 13 && cs_type != 15) {
        return GUEST_FAIL("GUEST_CS_AR: type must be 9, 11, 13 or 15 "
                          "(accessed code)");
    }
    for (unsigned i = 0; i < VMX_NSEG; i++) {
        uint32_t a = ar[i];
        unsigned type = a & VMX_AR_TYPE_MASK;
        unsigned rpl = f[vmx_seg_sel[i]] & 3;

        if (i != VMX_SEG_CS && (a & VMX_AR_UNUSABLE)) {
            continue;
        }
        if (i == VMX_SEG_SS) {
            if (type != 3 && type != 7) {
                return GUEST_FAIL("GUEST_SS_AR: type must be 3 or 7 "
                                  "(read/write accessed data)");
            }
            if (vmx_ar_dpl(a) != rpl) {
                return GUEST_FAIL("GUEST_SS_AR: DPL must equal the "
                                  "selector's RPL");
            }
        } else if (i != VMX_SEG_CS) {
            if (!(type & 1)) {
                return GUEST_FAIL(msg_accessed[i]);
            }
            if ((type & 8) && !(type & 2)) {
                return GUEST_FAIL(msg_readable[i]);
            }
            if (type <= 11 && vmx_ar_dpl(a) < rpl) {
                return GUEST_FAIL(msg_rpl[i]);
            }
        }
        if (!(a & VMX_AR_S)) {
            return GUEST_FAIL(msg_s[i]);
        }
        if (!(a & VMX_AR_P)) {
            return GUEST_FAIL(msg_p[i]);
        }
        if (a & VMX_AR_RESERVED) {
            return GUEST_FAIL(msg_rsvd[i]);
        }
        if (!vmx_limit_g_ok(f[vmx_seg_limit[i]], a)) {
            return GUEST_FAIL(msg_g[i]);
        }
    }
    if (cs_type <= 11) {
        if (vmx_ar_dpl(ar[VMX_SEG_CS]) != vmx_ar_dpl(ar[VMX_SEG_SS])) {
            return GUEST_FAIL("GUEST_CS_AR: a non-conforming CS needs DPL = "
                              "SS.DPL");
        }
    } else if (vmx_ar_dpl(ar[VMX_SEG_CS]) > vmx_ar_dpl(ar[VMX_SEG_SS])) {
        return GUEST_FAIL("GUEST_CS_AR: a conforming CS needs DPL <= "
                          "SS.DPL");
    }
    if (ia32e && (ar[VMX_SEG_CS] & VMX_AR_L) && (ar[VMX_SEG_CS] & VMX_AR_DB)) {
        return GUEST_FAIL("GUEST_CS_AR: with L = 1 (64-bit code) in an "
                          "IA-32e mode guest, D (bit 14) must be 0");
    }

    /* TR: a busy TSS, always usable. */
    if (tr_ar & VMX_AR_UNUSABLE) {
        return GUEST_FAIL("GUEST_TR_AR: TR must be usable (bit 16 = 0)");
    }
    if ((tr_ar & VMX_AR_TYPE_MASK) != 11 &&
        (ia32e || (tr_ar & VMX_AR_TYPE_MASK) != 3)) {
        return GUEST_FAIL("GUEST_TR_AR: type must be 11 (busy 64-bit TSS) "
                          "in an IA-32e mode guest, else 3 or 11");
    }
    if ((tr_ar & VMX_AR_S) || !(tr_ar & VMX_AR_P) ||
        (tr_ar & VMX_AR_RESERVED)) {
        return GUEST_FAIL("GUEST_TR_AR: S must be 0, P 1, reserved bits 0");
    }
    if (!vmx_limit_g_ok(f[VMCS_GUEST_TR_LIMIT], tr_ar)) {
        return GUEST_FAIL("GUEST_TR_AR: G (bit 15) does not match the limit");
    }

    /* LDTR, if usable: an LDT descriptor. */
    if (!(ldtr_ar & VMX_AR_UNUSABLE)) {
        if ((ldtr_ar & VMX_AR_TYPE_MASK) != 2 || (ldtr_ar & VMX_AR_S) ||
            !(ldtr_ar & VMX_AR_P) || (ldtr_ar & VMX_AR_RESERVED)) {
            return GUEST_FAIL("GUEST_LDTR_AR: type must be 2, S 0, P 1, "
                              "reserved bits 0");
        }
        if (!vmx_limit_g_ok(f[VMCS_GUEST_LDTR_LIMIT], ldtr_ar)) {
            return GUEST_FAIL("GUEST_LDTR_AR: G (bit 15) does not match the "
                              "limit");
        }
    }

    /* GDTR and IDTR. */
    if (!mmu_canonical(f[VMCS_GUEST_GDTR_BASE]) ||
        !mmu_canonical(f[VMCS_GUEST_IDTR_BASE])) {
        return GUEST_FAIL("GUEST_GDTR_BASE/GUEST_IDTR_BASE: must be "
                          "canonical");
    }
    if ((f[VMCS_GUEST_GDTR_LIMIT] >> 16) || (f[VMCS_GUEST_IDTR_LIMIT] >> 16)) {
        return GUEST_FAIL("GUEST_GDTR_LIMIT/GUEST_IDTR_LIMIT: bits 31:16 must "
                          "be 0");
    }
    return 0;
}

/* RFLAGS bits that must be 0 at VM entry: 63:22, 15, 5, 3. */
#define VMX_RFLAGS_RESERVED 0xffffffffffc08028ull
#define VMX_RFLAGS_FIXED1 (1ull << 1)
#define VMX_RFLAGS_VM (1ull << 17)
/* Pending debug exceptions: B3-B0 (3:0), enabled breakpoint (12), BS
 * (14); RTM (16) is reserved too, as the model has no RTM. */
#define VMX_PENDING_DBG_RESERVED 0xffffffffffffaff0ull
#define VMX_PENDING_DBG_BS (1ull << 14)
#define VMX_DEBUGCTL_BTF (1ull << 1)

unsigned vmx_check_guest_state(const struct vmx_vmcs *vmcs, const char **why)
{
    const uint64_t *f = vmcs->f;
    bool ia32e = f[VMCS_ENTRY_CTLS] & VMX_ENTRY_CTL_IA32E_MODE_GUEST;
    uint64_t rflags = f[VMCS_GUEST_RFLAGS];
    uint64_t rip = f[VMCS_GUEST_RIP];
    uint32_t cs_ar = (uint32_t)f[VMCS_GUEST_CS_AR];
    uint32_t intr = (uint32_t)f[VMCS_GUEST_INTERRUPTIBILITY];
    uint64_t activity = f[VMCS_GUEST_ACTIVITY_STATE];
    uint32_t inject = (uint32_t)f[VMCS_ENTRY_INTR_INFO];
    unsigned type = (inject & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT;
    unsigned vector = inject & VMX_INTR_VECTOR_MASK;
    bool injecting = inject & VMX_INTR_VALID;
    uint64_t pending = f[VMCS_GUEST_PENDING_DBG_EXCEPTIONS];
    uint64_t link_ptr = f[VMCS_VMCS_LINK_POINTER];
    unsigned err;

    if (why != NULL) {
        *why = NULL;
    }
    err = vmx_check_guest_regs(vmcs, ia32e, why);
    if (err != 0) {
        return err;
    }
    err = vmx_check_guest_segments(vmcs, ia32e, why);
    if (err != 0) {
        return err;
    }

    /* RIP and RFLAGS (SDM "Checks on Guest RIP, RFLAGS, and SSP"). */
    if (ia32e && (cs_ar & VMX_AR_L)) {
        if (!mmu_canonical(rip)) {
            return GUEST_FAIL("GUEST_RIP: must be canonical in 64-bit mode");
        }
    } else if (rip >> 32) {
        return GUEST_FAIL("GUEST_RIP: bits 63:32 must be 0 outside 64-bit "
                          "mode");
    }
    if (rflags & VMX_RFLAGS_RESERVED) {
        return GUEST_FAIL("GUEST_RFLAGS: reserved bits 63:22, 15, 5 and 3 "
                          "must be 0");
    }
    if (!(rflags & VMX_RFLAGS_FIXED1)) {
        return GUEST_FAIL("GUEST_RFLAGS: bit 1 must be 1");
    }
    if ((rflags & VMX_RFLAGS_VM) &&
        (ia32e || !(f[VMCS_GUEST_CR0] & CPU_CR0_PE))) {
        return GUEST_FAIL("GUEST_RFLAGS: VM must be 0 in an IA-32e mode "
                          "guest");
    }
    if (injecting && type == VMX_INTR_TYPE_EXT_INTR &&
        !(rflags & CPU_FLAG_IF)) {
        return GUEST_FAIL("GUEST_RFLAGS: IF must be 1 to inject an external "
                          "interrupt");
    }

    /* Non-register state (SDM "Checks on Guest Non-Register State"). */
    if (activity > VMX_ACTIVITY_WAIT_SIPI) {
        return GUEST_FAIL("GUEST_ACTIVITY_STATE: must be 0 to 3");
    }
    if (activity != VMX_ACTIVITY_ACTIVE && activity != VMX_ACTIVITY_HLT) {
        return GUEST_FAIL("GUEST_ACTIVITY_STATE: shutdown and wait-for-SIPI "
                          "are not supported (IA32_VMX_MISC 8:6)");
    }
    if (activity == VMX_ACTIVITY_HLT &&
        vmx_ar_dpl((uint32_t)f[VMCS_GUEST_SS_AR]) != 0) {
        return GUEST_FAIL("GUEST_ACTIVITY_STATE: HLT needs SS.DPL = 0");
    }
    if (activity == VMX_ACTIVITY_HLT && injecting &&
        !(type == VMX_INTR_TYPE_EXT_INTR || type == VMX_INTR_TYPE_NMI ||
          (type == VMX_INTR_TYPE_HW_EXCEPTION &&
           (vector == CPU_EXC_DB || vector == CPU_EXC_MC)) ||
          (type == VMX_INTR_TYPE_OTHER && vector == 0))) {
        return GUEST_FAIL("GUEST_ACTIVITY_STATE: in HLT only an external "
                          "interrupt, NMI, #DB, #MC or MTF can be injected");
    }
    /* Bit 4 (enclave interruption) needs SGX, bit 2 (SMI) SMM: reserved. */
    if (intr & ~(VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS |
                 VMX_INTERRUPTIBILITY_NMI)) {
        return GUEST_FAIL("GUEST_INTERRUPTIBILITY: bits 31:4 and 2 (SMI "
                          "blocking, outside SMM) must be 0");
    }
    if ((intr & VMX_INTERRUPTIBILITY_STI) &&
        (intr & VMX_INTERRUPTIBILITY_MOV_SS)) {
        return GUEST_FAIL("GUEST_INTERRUPTIBILITY: STI and MOV-SS blocking "
                          "cannot both be 1");
    }
    if ((intr & VMX_INTERRUPTIBILITY_STI) && !(rflags & CPU_FLAG_IF)) {
        return GUEST_FAIL("GUEST_INTERRUPTIBILITY: STI blocking needs "
                          "RFLAGS.IF = 1");
    }
    if ((intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS)) &&
        activity != VMX_ACTIVITY_ACTIVE) {
        return GUEST_FAIL("GUEST_INTERRUPTIBILITY: STI or MOV-SS blocking "
                          "needs the active activity state");
    }
    if (injecting && type == VMX_INTR_TYPE_EXT_INTR &&
        (intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS))) {
        return GUEST_FAIL("GUEST_INTERRUPTIBILITY: no STI or MOV-SS blocking "
                          "while injecting an external interrupt");
    }
    if (injecting && type == VMX_INTR_TYPE_NMI) {
        if (intr & VMX_INTERRUPTIBILITY_MOV_SS) {
            return GUEST_FAIL("GUEST_INTERRUPTIBILITY: no MOV-SS blocking "
                              "while injecting an NMI");
        }
        if ((f[VMCS_PIN_BASED_CTLS] & VMX_PIN_VIRTUAL_NMIS) &&
            (intr & VMX_INTERRUPTIBILITY_NMI)) {
            return GUEST_FAIL("GUEST_INTERRUPTIBILITY: no NMI blocking while "
                              "injecting an NMI with virtual NMIs");
        }
    }
    if (pending & VMX_PENDING_DBG_RESERVED) {
        return GUEST_FAIL("GUEST_PENDING_DBG_EXCEPTIONS: reserved bits "
                          "(11:4, 13, 15, 63:16) must be 0");
    }
    if ((intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS)) ||
        activity == VMX_ACTIVITY_HLT) {
        bool single_step = (rflags & CPU_FLAG_TF) &&
                           !(f[VMCS_GUEST_IA32_DEBUGCTL] & VMX_DEBUGCTL_BTF);

        if (!!(pending & VMX_PENDING_DBG_BS) != single_step) {
            return GUEST_FAIL("GUEST_PENDING_DBG_EXCEPTIONS: BS (bit 14) must "
                              "be 1 exactly when RFLAGS.TF = 1 and "
                              "DEBUGCTL.BTF = 0 (blocking or HLT)");
        }
    }
    if (link_ptr != ~0ull && !vmx_page_pa_valid(link_ptr)) {
        return GUEST_FAIL("VMCS_LINK_POINTER: all ones, or 4-KB aligned "
                          "within the physical-address width");
    }
    return 0;
}

/* ---- The `iovsim vmcs` listing ------------------------------------------ */

static const char *const vmx_width_names[4] = {
    "16-bit",
    "64-bit",
    "32-bit",
    "natural",
};
static const char *const vmx_type_names[4] = {
    "control",
    "exit-info (RO)",
    "guest",
    "host",
};

static const struct {
    uint32_t msr;
    const char *name;
    bool ctls; /* allowed-0 / allowed-1 layout */
} vmx_cap_msrs[] = {
    {VMX_MSR_BASIC, "IA32_VMX_BASIC", false},
    {VMX_MSR_PINBASED_CTLS, "IA32_VMX_PINBASED_CTLS", true},
    {VMX_MSR_PROCBASED_CTLS, "IA32_VMX_PROCBASED_CTLS", true},
    {VMX_MSR_EXIT_CTLS, "IA32_VMX_EXIT_CTLS", true},
    {VMX_MSR_ENTRY_CTLS, "IA32_VMX_ENTRY_CTLS", true},
    {VMX_MSR_MISC, "IA32_VMX_MISC", false},
    {VMX_MSR_CR0_FIXED0, "IA32_VMX_CR0_FIXED0", false},
    {VMX_MSR_CR0_FIXED1, "IA32_VMX_CR0_FIXED1", false},
    {VMX_MSR_CR4_FIXED0, "IA32_VMX_CR4_FIXED0", false},
    {VMX_MSR_CR4_FIXED1, "IA32_VMX_CR4_FIXED1", false},
    {VMX_MSR_VMCS_ENUM, "IA32_VMX_VMCS_ENUM", false},
    {VMX_MSR_PROCBASED_CTLS2, "IA32_VMX_PROCBASED_CTLS2", true},
    {VMX_MSR_EPT_VPID_CAP, "IA32_VMX_EPT_VPID_CAP", false},
    {VMX_MSR_TRUE_PINBASED_CTLS, "IA32_VMX_TRUE_PINBASED_CTLS", true},
    {VMX_MSR_TRUE_PROCBASED_CTLS, "IA32_VMX_TRUE_PROCBASED_CTLS", true},
    {VMX_MSR_TRUE_EXIT_CTLS, "IA32_VMX_TRUE_EXIT_CTLS", true},
    {VMX_MSR_TRUE_ENTRY_CTLS, "IA32_VMX_TRUE_ENTRY_CTLS", true},
    {VMX_MSR_VMFUNC, "IA32_VMX_VMFUNC", false},
    {VMX_MSR_PROCBASED_CTLS3, "IA32_VMX_PROCBASED_CTLS3", false},
};

void vmx_print_tables(FILE *out)
{
    fprintf(out, "VM-exit reasons (SDM Appendix C, VMX Basic Exit Reasons); "
                 "model: yes = iovsim produces it\n\n");
    fprintf(out, "  %3s  %-24s %-5s  %s\n", "#", "name", "model",
            "description");
    for (size_t i = 0; i < SIM_ARRAY_SIZE(vmx_exits); i++) {
        const struct vmx_exit_info *e = &vmx_exits[i];

        fprintf(out, "  %3u  %-24s %-5s  %s%s\n", e->number, e->name,
                (e->flags & VMX_EXIT_F_PRODUCED) ? "yes" : "-", e->desc,
                (e->flags & VMX_EXIT_F_UNVERIFIED) ? " (unverified: from Bochs)"
                                                   : "");
    }

    fprintf(out, "\nVMCS fields (SDM Appendix B, Field Encoding in VMCS); "
                 "64-bit fields also have a high access at encoding + 1\n\n");
    fprintf(out, "  %-8s %-8s %-15s %-29s %s\n", "encoding", "width", "type",
            "name", "description");
    for (size_t i = 0; i < SIM_ARRAY_SIZE(vmx_fields); i++) {
        const struct vmx_field_info *fi = &vmx_fields[i];

        fprintf(out, "  0x%04x   %-8s %-15s %-29s %s\n", fi->encoding,
                vmx_width_names[VMX_ENC_WIDTH(fi->encoding)],
                vmx_type_names[VMX_ENC_TYPE(fi->encoding)], fi->name, fi->desc);
    }

    fprintf(out, "\nVMX capability MSRs (SDM Appendix A, VMX Capability "
                 "Reporting Facility); *_CTLS: low = must be 1, high = may "
                 "be 1\n\n");
    fprintf(out, "  %-5s  %-29s %s\n", "MSR", "name", "value");
    for (size_t i = 0; i < SIM_ARRAY_SIZE(vmx_cap_msrs); i++) {
        uint64_t v;

        if (!vmx_capability_msr(vmx_cap_msrs[i].msr, &v)) {
            fprintf(out, "  0x%03x  %-29s (absent: #GP)\n", vmx_cap_msrs[i].msr,
                    vmx_cap_msrs[i].name);
        } else if (vmx_cap_msrs[i].ctls) {
            fprintf(out,
                    "  0x%03x  %-29s 0x%016llx  low 0x%08x  high "
                    "0x%08x\n",
                    vmx_cap_msrs[i].msr, vmx_cap_msrs[i].name,
                    (unsigned long long)v, (unsigned)(v & 0xffffffffu),
                    (unsigned)(v >> 32));
        } else {
            fprintf(out, "  0x%03x  %-29s 0x%016llx\n", vmx_cap_msrs[i].msr,
                    vmx_cap_msrs[i].name, (unsigned long long)v);
        }
    }
}

uint64_t vmx_vmcs_field(const struct vmx_vmcs *vmcs, enum vmcs_index idx)
{
    if (vmx_field_needs_sync(vmcs, idx)) {
        vmx_vmcs_sync((struct vmx_vmcs *)vmcs);
    }
    return vmcs->f[idx];
}

/* The VMM's common write: a canonical RIP keeps the checks' result. */
void vmx_vmcs_set_guest_rip(struct vmx_vmcs *vmcs, uint64_t rip)
{
    if ((uint64_t)((int64_t)(rip << 16) >> 16) != rip) {
        vmcs->checked = false;
    }
    vmcs->f[VMCS_GUEST_RIP] = rip;
}

void vmx_vmcs_exit_info(const struct vmx_vmcs *vmcs, struct vmx_exit *out)
{
    out->reason = (uint32_t)vmcs->f[VMCS_EXIT_REASON];
    out->insn_len = (uint32_t)vmcs->f[VMCS_EXIT_INSTRUCTION_LEN];
    out->insn_info = (uint32_t)vmcs->f[VMCS_EXIT_INSTRUCTION_INFO];
    out->intr_info = (uint32_t)vmcs->f[VMCS_EXIT_INTR_INFO];
    out->intr_error = (uint32_t)vmcs->f[VMCS_EXIT_INTR_ERROR_CODE];
    out->qualification = vmcs->f[VMCS_EXIT_QUALIFICATION];
    out->guest_linear = vmcs->f[VMCS_GUEST_LINEAR_ADDRESS];
    out->guest_physical = vmcs->f[VMCS_GUEST_PHYSICAL_ADDRESS];
    out->guest_rip = vmcs->f[VMCS_GUEST_RIP];
}
