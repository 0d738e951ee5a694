/*
 * cpu/vmx-internal.h: the body of the VMCS model (struct vmx_vmcs, read
 * and written by the CPU directly on its fast paths), the control masks
 * the model supports, and the VM-entry checks on the control fields and
 * the guest-state area (cpu/vmx-vmcs.c).  The architectural constants are
 * in cpu/vmx-abi.h.  Only cpu/ sources and the CPU's own unit tests
 * include this file.
 */
#ifndef SIM_CPU_VMX_INTERNAL_H
#define SIM_CPU_VMX_INTERNAL_H

#include "sim/common.h"

#include "cpu/vmx-abi.h"

/* ---- The VMCS model ----------------------------------------------------- */

/*
 * One VMCS.  The region in guest memory is opaque (§1), so the model keeps
 * the fields in an array indexed by enum vmcs_index; the CPU reads
 * f[VMCS_GUEST_RIP] and the like directly on its fast paths.  Every value
 * in f[] fits its field's width (vmx_vmcs_write() and vmcs_set() truncate).
 */
struct vmx_vmcs {
    uint32_t revision; /* VMCS revision identifier (IA32_VMX_BASIC 30:0) */
    bool launched;     /* launch state: VMLAUNCH done, no VMCLEAR since */
    /*
     * Simulator shortcuts, invisible to the architecture: "checked" says
     * the VM-entry checks passed and no VMWRITE happened since (the CPU
     * keeps a running guest's state valid), so the next entry need not
     * repeat them; "guest_dirty" says a VMWRITE changed the guest-state
     * area since the CPU last saved it, so entry must load it.
     */
    bool checked;
    bool guest_dirty;
    /*
     * Lazy saving: after an exit RIP, RSP, RFLAGS and the interruptibility
     * and activity state are in f[]; the rest of the guest-state area is
     * still only in the cpu @lazy_cpu until something reads or writes a
     * guest-state field, when vmx_vmcs_sync() fills it in.
     */
    struct cpu *lazy_cpu;
    uint64_t f[VMCS_NFIELDS];
};

/* Completes a lazily saved guest-state area (cpu/vmx.c). */
void vmx_vmcs_sync(struct vmx_vmcs *vmcs);

/* True for the guest-state fields an exit always saves at once. */
static inline bool vmx_field_saved_eagerly(enum vmcs_index idx)
{
    return idx == VMCS_GUEST_RIP || idx == VMCS_GUEST_RSP ||
           idx == VMCS_GUEST_INTERRUPTIBILITY ||
           idx == VMCS_GUEST_ACTIVITY_STATE;
}

/* True if reading field @idx needs a lazily saved guest state completed. */
bool vmx_field_needs_sync(const struct vmx_vmcs *vmcs, enum vmcs_index idx);

/* The bits field @idx can hold: 16, 32 or 64 of them. */
static inline uint64_t vmx_field_mask(enum vmcs_index idx)
{
    switch (idx) {
#define VMCS_FIELD(name, enc, desc)                                            \
    case VMCS_##name:                                                          \
        return VMX_ENC_VALUE_MASK(enc);
#include "cpu/vmcs.def"
#undef VMCS_FIELD
    default:
        return 0;
    }
}

/*
 * The CPU's own write of any field, read-only VM-exit information
 * included (VMWRITE from the VMM goes through vmx_vmcs_write()).  @val is
 * truncated to the field's width, as VMWRITE would.
 */
static inline void vmcs_set(struct vmx_vmcs *vmcs, enum vmcs_index idx,
                            uint64_t val)
{
    vmcs->f[idx] = val & vmx_field_mask(idx);
}

/*
 * The "default-1" bits of the non-TRUE control MSRs (§3; SDM "Default
 * Settings of VMX Controls").  With IA32_VMX_BASIC bit 55 = 1, VM entry
 * checks the controls against the TRUE MSRs, which let some of them be 0.
 */
#define VMX_PIN_DEFAULT1 0x00000016u  /* bits 1, 2, 4 */
#define VMX_PROC_DEFAULT1 0x0401e172u /* bits 1, 4-6, 8, 13-16, 26 */
/* exit: bits 0-8, 10, 11, 13, 14, 16, 17; entry: bits 0-8, 12 */
#define VMX_EXIT_CTL_DEFAULT1 0x00036dffu
#define VMX_ENTRY_CTL_DEFAULT1 0x000011ffu

/*
 * The controls the model implements (the allowed-1 settings beyond the
 * default-1 bits).  Secondary controls have no default-1 bits.
 */
#define VMX_PIN_SUPPORTED (VMX_PIN_EXT_INTR_EXITING | VMX_PIN_NMI_EXITING)
#define VMX_PROC_SUPPORTED                                                     \
    (VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_USE_TSC_OFFSETTING |              \
     VMX_PROC_HLT_EXITING | VMX_PROC_INVLPG_EXITING | VMX_PROC_RDTSC_EXITING | \
     VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING |                  \
     VMX_PROC_CR8_LOAD_EXITING | VMX_PROC_CR8_STORE_EXITING |                  \
     VMX_PROC_UNCOND_IO_EXITING | VMX_PROC_USE_IO_BITMAPS |                    \
     VMX_PROC_USE_MSR_BITMAPS | VMX_PROC_PAUSE_EXITING |                       \
     VMX_PROC_ACTIVATE_SECONDARY)
#define VMX_PROC2_SUPPORTED                                                    \
    (VMX_PROC2_VIRT_APIC_ACCESSES | VMX_PROC2_ENABLE_EPT |                     \
     VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_WBINVD_EXITING)
#define VMX_EXIT_CTL_SUPPORTED                                                 \
    (VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE | VMX_EXIT_CTL_ACK_INTR_ON_EXIT |       \
     VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER)
#define VMX_ENTRY_CTL_SUPPORTED                                                \
    (VMX_ENTRY_CTL_IA32E_MODE_GUEST | VMX_ENTRY_CTL_LOAD_EFER)

/* The VMCS revision identifier the model reports and VMPTRLD expects. */
#define VMX_VMCS_REVISION 1u
/* CR3-target values supported (IA32_VMX_MISC bits 24:16). */
#define VMX_CR3_TARGETS 4u

/*
 * The VM-entry checks on the VMX controls (SDM "VM Entries", "Checks on
 * VMX Controls"): each control field against its capability MSR (the TRUE
 * MSRs, since IA32_VMX_BASIC bit 55 = 1; the secondary controls only when
 * activated), then the cross-field rules of vmx_check_control_rules().
 * @why (may be NULL) receives a static sentence naming the field and the
 * rule that failed, or NULL on success.
 * Returns: 0, or VMX_INSN_ERR_ENTRY_INVALID_CONTROLS (7).
 */
unsigned vmx_check_controls(const struct vmx_vmcs *vmcs,
                            const char **why /* out */);

/*
 * The cross-field rules alone, without the capability MSRs: bitmap and
 * structure addresses, CR3-target count, virtual NMIs, TPR shadow and
 * APIC virtualization, posted interrupts, EPTP, VPID, exit/entry MSR
 * areas, the preemption-timer save rule and VM-entry event injection.
 * vmx_check_controls() runs it last; exported so the rules for controls
 * the model does not allow yet (posted interrupts) can be tested.
 * Returns: as vmx_check_controls().
 */
unsigned vmx_check_control_rules(const struct vmx_vmcs *vmcs,
                                 const char **why /* out */);

/*
 * The VM-entry checks on the guest-state area that matter for a 64-bit
 * guest (SDM "VM Entries", "Checks on the Guest State Area"): control
 * registers against the CR0/CR4 fixed MSRs, IA-32e mode versus CR0.PG,
 * CR4.PAE and EFER, segment registers, GDTR/IDTR, RIP and RFLAGS,
 * activity and interruptibility state, event injection against them,
 * pending debug exceptions and the VMCS link pointer.  Run it after
 * vmx_check_controls() passed.  Not checked: the revision identifier at
 * the VMCS link pointer (needs memory), PDPTEs (PAE paging only).
 * @why as for vmx_check_controls().
 * Returns: 0, or VMX_EXIT_ENTRY_FAIL_GUEST_STATE (33), the basic exit reason
 * of the failed VM entry (the caller sets bit 31).
 */
unsigned vmx_check_guest_state(const struct vmx_vmcs *vmcs,
                               const char **why /* out */);

#endif /* SIM_CPU_VMX_INTERNAL_H */
