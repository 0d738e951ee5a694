/*
 * cpu/vmx-abi.h: the architectural side of VMX (Intel VT-x) that the VMM
 * in sim/ programs against: VMCS field encodings and indices
 * (cpu/vmcs.def), basic exit reasons (cpu/vmexit.def), VM-instruction
 * errors, control bits, capability MSRs and the bit layouts of exit
 * qualifications, interruption information and access rights, with the
 * functions that read and write a VMCS by encoding.  Included by
 * cpu/cpu.h; the VMCS's body and the VM-entry checks are private to cpu/
 * (cpu/vmx-internal.h).
 *
 * Sources: Intel SDM Vol. 3C, chapters "Virtual Machine Control
 * Structures", "VMX Non-Root Operation", "VM Entries", "VM Exits";
 * Appendix A "VMX Capability Reporting Facility", Appendix B "Field
 * Encoding in VMCS", Appendix C "VMX Basic Exit Reasons" (cited by title:
 * chapter numbers differ between SDM revisions); the fact sheet
 * ../shared/spec/vmx.md, whose section numbers (§n) are given too.
 */
#ifndef SIM_CPU_VMX_ABI_H
#define SIM_CPU_VMX_ABI_H

#include "sim/common.h"

#include <stdio.h>

struct vmx_vmcs;

/* ---- VMCS field encodings (SDM "Field Encoding in VMCS"; §1) --------- */

#define VMX_ENC_HIGH 0x1u /* bit 0: upper half of a 64-bit field */
#define VMX_ENC_INDEX(e) (((e) >> 1) & 0x1ffu) /* bits 9:1 */
#define VMX_ENC_TYPE(e) (((e) >> 10) & 3u)     /* bits 11:10 */
#define VMX_ENC_WIDTH(e) (((e) >> 13) & 3u)    /* bits 14:13 */
#define VMX_ENC_RESERVED 0xffff9000u           /* bits 31:15 and 12 must be 0 */

/* Field types (encoding bits 11:10). */
#define VMX_TYPE_CONTROL 0u
#define VMX_TYPE_EXIT_INFO 1u /* VM-exit information: read-only */
#define VMX_TYPE_GUEST 2u
#define VMX_TYPE_HOST 3u

/* Field widths (encoding bits 14:13). */
#define VMX_WIDTH_16 0u
#define VMX_WIDTH_64 1u
#define VMX_WIDTH_32 2u
#define VMX_WIDTH_NATURAL 3u /* 64 bits: the model is x86-64 only */

/* The bits a field of encoding @e can hold (writes are truncated). */
#define VMX_ENC_VALUE_MASK(e)                                                  \
    (VMX_ENC_WIDTH(e) == VMX_WIDTH_16   ? 0xffffull                            \
     : VMX_ENC_WIDTH(e) == VMX_WIDTH_32 ? 0xffffffffull                        \
                                        : ~0ull)

/* One index per field of cpu/vmcs.def, in its order. */
enum vmcs_index {
#define VMCS_FIELD(name, enc, desc) VMCS_##name,
#include "cpu/vmcs.def"
#undef VMCS_FIELD
    VMCS_NFIELDS
};

/* The encodings, by name: VMCS_ENC_GUEST_RIP = 0x681E. */
enum vmcs_encoding {
#define VMCS_FIELD(name, enc, desc) VMCS_ENC_##name = (enc),
#include "cpu/vmcs.def"
#undef VMCS_FIELD
};

/* ---- Basic exit reasons (SDM Appendix C; §7) --------------------------- */

#define VMX_EXIT_F_PRODUCED 0x1u   /* the model produces this exit */
#define VMX_EXIT_F_UNVERIFIED 0x2u /* number not verified against the SDM */

enum vmx_exit_reason {
#define VMX_EXIT(name, num, desc, flags) VMX_EXIT_##name = (num),
#include "cpu/vmexit.def"
#undef VMX_EXIT
};

/* Exit-reason field (0x4402) above the basic reason (SDM "VM Exits"). */
#define VMX_EXIT_REASON_BASIC_MASK 0xffffu
#define VMX_EXIT_REASON_BUS_LOCK (1u << 26)
#define VMX_EXIT_REASON_ENCLAVE (1u << 27)
#define VMX_EXIT_REASON_PENDING_MTF (1u << 28)
#define VMX_EXIT_REASON_FROM_ROOT (1u << 29)
#define VMX_EXIT_REASON_ENTRY_FAILURE (1u << 31) /* with 33, 34 or 41 */

/* VM-instruction error numbers (SDM 3C "VM Instruction Error Numbers"). */
enum vmx_insn_error {
    VMX_INSN_ERR_NONE = 0,
    VMX_INSN_ERR_VMCALL_IN_ROOT = 1,
    VMX_INSN_ERR_VMCLEAR_INVALID_ADDR = 2,
    VMX_INSN_ERR_VMCLEAR_VMXON_PTR = 3,
    VMX_INSN_ERR_VMLAUNCH_NONCLEAR = 4,
    VMX_INSN_ERR_VMRESUME_NONLAUNCHED = 5,
    VMX_INSN_ERR_VMRESUME_AFTER_VMXOFF = 6,
    VMX_INSN_ERR_ENTRY_INVALID_CONTROLS = 7,
    VMX_INSN_ERR_ENTRY_INVALID_HOST_STATE = 8,
    VMX_INSN_ERR_VMPTRLD_INVALID_ADDR = 9,
    VMX_INSN_ERR_VMPTRLD_VMXON_PTR = 10,
    VMX_INSN_ERR_VMPTRLD_BAD_REVISION = 11,
    VMX_INSN_ERR_UNSUPPORTED_COMPONENT = 12,
    VMX_INSN_ERR_VMWRITE_READ_ONLY = 13,
    VMX_INSN_ERR_VMXON_IN_ROOT = 15,
    VMX_INSN_ERR_ENTRY_MOV_SS_BLOCKING = 26,
    VMX_INSN_ERR_INVEPT_INVVPID_OPERAND = 28,
};

/* ---- Pin-based VM-execution controls (0x4000; §4) ---------------------- */
#define VMX_PIN_EXT_INTR_EXITING (1u << 0)
#define VMX_PIN_NMI_EXITING (1u << 3)
#define VMX_PIN_VIRTUAL_NMIS (1u << 5)
#define VMX_PIN_PREEMPTION_TIMER (1u << 6)
#define VMX_PIN_POSTED_INTR (1u << 7)

/* ---- Primary processor-based VM-execution controls (0x4002; §4) -------- */
#define VMX_PROC_INTR_WINDOW_EXITING (1u << 2)
#define VMX_PROC_USE_TSC_OFFSETTING (1u << 3)
#define VMX_PROC_HLT_EXITING (1u << 7)
#define VMX_PROC_INVLPG_EXITING (1u << 9)
#define VMX_PROC_MWAIT_EXITING (1u << 10)
#define VMX_PROC_RDPMC_EXITING (1u << 11)
#define VMX_PROC_RDTSC_EXITING (1u << 12)
#define VMX_PROC_CR3_LOAD_EXITING (1u << 15)
#define VMX_PROC_CR3_STORE_EXITING (1u << 16)
#define VMX_PROC_ACTIVATE_TERTIARY (1u << 17)
#define VMX_PROC_CR8_LOAD_EXITING (1u << 19)
#define VMX_PROC_CR8_STORE_EXITING (1u << 20)
#define VMX_PROC_USE_TPR_SHADOW (1u << 21)
#define VMX_PROC_NMI_WINDOW_EXITING (1u << 22)
#define VMX_PROC_MOV_DR_EXITING (1u << 23)
#define VMX_PROC_UNCOND_IO_EXITING (1u << 24)
#define VMX_PROC_USE_IO_BITMAPS (1u << 25)
#define VMX_PROC_MONITOR_TRAP_FLAG (1u << 27)
#define VMX_PROC_USE_MSR_BITMAPS (1u << 28)
#define VMX_PROC_MONITOR_EXITING (1u << 29)
#define VMX_PROC_PAUSE_EXITING (1u << 30)
#define VMX_PROC_ACTIVATE_SECONDARY (1u << 31)

/* ---- Secondary processor-based controls (0x401E; §4) -------------------
 * Honoured only when VMX_PROC_ACTIVATE_SECONDARY is 1; otherwise the CPU
 * behaves as if the field were 0 (SDM "VM-Execution Controls"). */
#define VMX_PROC2_VIRT_APIC_ACCESSES (1u << 0)
#define VMX_PROC2_ENABLE_EPT (1u << 1)
#define VMX_PROC2_DESC_TABLE_EXITING (1u << 2)
#define VMX_PROC2_ENABLE_RDTSCP (1u << 3)
#define VMX_PROC2_VIRT_X2APIC_MODE (1u << 4)
#define VMX_PROC2_ENABLE_VPID (1u << 5)
#define VMX_PROC2_WBINVD_EXITING (1u << 6)
#define VMX_PROC2_UNRESTRICTED_GUEST (1u << 7)
#define VMX_PROC2_APIC_REGISTER_VIRT (1u << 8)
#define VMX_PROC2_VIRT_INTR_DELIVERY (1u << 9)
#define VMX_PROC2_PAUSE_LOOP_EXITING (1u << 10)
#define VMX_PROC2_RDRAND_EXITING (1u << 11)
#define VMX_PROC2_ENABLE_INVPCID (1u << 12)
#define VMX_PROC2_ENABLE_VMFUNC (1u << 13)
#define VMX_PROC2_VMCS_SHADOWING (1u << 14)
#define VMX_PROC2_ENCLS_EXITING (1u << 15)
#define VMX_PROC2_RDSEED_EXITING (1u << 16)
#define VMX_PROC2_ENABLE_PML (1u << 17)
#define VMX_PROC2_EPT_VIOLATION_VE (1u << 18)
#define VMX_PROC2_CONCEAL_VMX_FROM_PT (1u << 19)
#define VMX_PROC2_ENABLE_XSAVES (1u << 20)
#define VMX_PROC2_MODE_BASED_EPT_EXEC (1u << 22)
#define VMX_PROC2_SUBPAGE_WRITE_PERM (1u << 23)
#define VMX_PROC2_PT_USE_GPA (1u << 24)
#define VMX_PROC2_USE_TSC_SCALING (1u << 25)
#define VMX_PROC2_ENABLE_USER_WAIT_PAUSE (1u << 26)
#define VMX_PROC2_ENABLE_PCONFIG (1u << 27)
#define VMX_PROC2_ENABLE_ENCLV_EXITING (1u << 28)
#define VMX_PROC2_BUS_LOCK_DETECTION (1u << 30)
#define VMX_PROC2_INSTRUCTION_TIMEOUT (1u << 31)

/* ---- Primary VM-exit controls (0x400C; §5) ----------------------------- */
#define VMX_EXIT_CTL_SAVE_DEBUG_CTLS (1u << 2)
#define VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE (1u << 9) /* 1 = 64-bit host */
#define VMX_EXIT_CTL_LOAD_PERF_GLOBAL_CTRL (1u << 12)
#define VMX_EXIT_CTL_ACK_INTR_ON_EXIT (1u << 15)
#define VMX_EXIT_CTL_SAVE_PAT (1u << 18)
#define VMX_EXIT_CTL_LOAD_PAT (1u << 19)
#define VMX_EXIT_CTL_SAVE_EFER (1u << 20)
#define VMX_EXIT_CTL_LOAD_EFER (1u << 21)
#define VMX_EXIT_CTL_SAVE_PREEMPTION_TIMER (1u << 22)
#define VMX_EXIT_CTL_CLEAR_BNDCFGS (1u << 23)
#define VMX_EXIT_CTL_CONCEAL_VMX_FROM_PT (1u << 24)
#define VMX_EXIT_CTL_LOAD_CET_STATE (1u << 28)
#define VMX_EXIT_CTL_LOAD_PKRS (1u << 29)
#define VMX_EXIT_CTL_ACTIVATE_SECONDARY (1u << 31)

/* ---- VM-entry controls (0x4012; §6) ------------------------------------ */
#define VMX_ENTRY_CTL_LOAD_DEBUG_CTLS (1u << 2)
#define VMX_ENTRY_CTL_IA32E_MODE_GUEST (1u << 9)
#define VMX_ENTRY_CTL_ENTRY_TO_SMM (1u << 10)
#define VMX_ENTRY_CTL_DEACTIVATE_DUAL_MONITOR (1u << 11)
#define VMX_ENTRY_CTL_LOAD_PERF_GLOBAL_CTRL (1u << 13)
#define VMX_ENTRY_CTL_LOAD_PAT (1u << 14)
#define VMX_ENTRY_CTL_LOAD_EFER (1u << 15)
#define VMX_ENTRY_CTL_LOAD_BNDCFGS (1u << 16)
#define VMX_ENTRY_CTL_CONCEAL_VMX_FROM_PT (1u << 17)
#define VMX_ENTRY_CTL_LOAD_CET_STATE (1u << 20)
#define VMX_ENTRY_CTL_LOAD_PKRS (1u << 22)

/* ---- Capability MSRs (SDM Appendix A; §3) ------------------------------ */

#define VMX_MSR_FEATURE_CONTROL 0x03au /* bit 0 lock, bit 2 VMX outside SMX */
#define VMX_MSR_BASIC 0x480u
#define VMX_MSR_PINBASED_CTLS 0x481u
#define VMX_MSR_PROCBASED_CTLS 0x482u
#define VMX_MSR_EXIT_CTLS 0x483u
#define VMX_MSR_ENTRY_CTLS 0x484u
#define VMX_MSR_MISC 0x485u
#define VMX_MSR_CR0_FIXED0 0x486u
#define VMX_MSR_CR0_FIXED1 0x487u
#define VMX_MSR_CR4_FIXED0 0x488u
#define VMX_MSR_CR4_FIXED1 0x489u
#define VMX_MSR_VMCS_ENUM 0x48au
#define VMX_MSR_PROCBASED_CTLS2 0x48bu
#define VMX_MSR_EPT_VPID_CAP 0x48cu
#define VMX_MSR_TRUE_PINBASED_CTLS 0x48du
#define VMX_MSR_TRUE_PROCBASED_CTLS 0x48eu
#define VMX_MSR_TRUE_EXIT_CTLS 0x48fu
#define VMX_MSR_TRUE_ENTRY_CTLS 0x490u
#define VMX_MSR_VMFUNC 0x491u
#define VMX_MSR_PROCBASED_CTLS3 0x492u

/* IA32_VMX_BASIC layout (SDM "Basic VMX Information"). */
#define VMX_BASIC_REVISION_MASK 0x7fffffffull /* bits 30:0 */
#define VMX_BASIC_VMCS_SIZE_SHIFT 32          /* bits 44:32 */
#define VMX_BASIC_PA_32BIT (1ull << 48)
#define VMX_BASIC_DUAL_MONITOR (1ull << 49)
#define VMX_BASIC_MEMTYPE_SHIFT 50        /* bits 53:50, 6 = WB */
#define VMX_BASIC_INOUT_INFO (1ull << 54) /* INS/OUTS info */
#define VMX_BASIC_TRUE_CTLS (1ull << 55)  /* TRUE_* MSRs exist */
#define VMX_BASIC_ANY_ERROR_CODE (1ull << 56)

/* IA32_VMX_MISC layout (SDM "Miscellaneous Data"). */
#define VMX_MISC_STORE_LMA (1ull << 5) /* exits save EFER.LMA in entry ctl */
#define VMX_MISC_ACTIVITY_HLT (1ull << 6)
#define VMX_MISC_ACTIVITY_SHUTDOWN (1ull << 7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI (1ull << 8)
#define VMX_MISC_CR3_TARGETS_SHIFT 16     /* bits 24:16 */
#define VMX_MISC_VMWRITE_ANY (1ull << 29) /* VMWRITE to exit-info fields */
#define VMX_MISC_INJECT_ILEN_0 (1ull << 30)

/* IA32_VMX_EPT_VPID_CAP bits beyond the walk's MMU_EPT_CAP_* (mmu/mmu.h). */
#define VMX_EPT_CAP_INVEPT (1ull << 20)
#define VMX_EPT_CAP_ADV_EXIT_INFO (1ull << 22)
#define VMX_EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define VMX_EPT_CAP_INVEPT_ALL (1ull << 26)

/* CR4.VMXE (SDM 3A "Control Registers"): must be 1 in VMX operation. */
#define VMX_CR4_VMXE (1ull << 13)
#define VMX_CR4_PCIDE (1ull << 17)

/* ---- Exit qualification: I/O instruction, reason 30 (§8) --------------- */
#define VMX_IOQ_SIZE_MASK 0x7u   /* access size - 1: 0, 1 or 3 */
#define VMX_IOQ_IN (1u << 3)     /* 1 = IN, 0 = OUT */
#define VMX_IOQ_STRING (1u << 4) /* INS/OUTS */
#define VMX_IOQ_REP (1u << 5)
#define VMX_IOQ_IMM (1u << 6) /* port from an immediate, not DX */
#define VMX_IOQ_PORT_SHIFT 16 /* bits 31:16 */

/* VM-exit instruction information for INS/OUTS (needs BASIC bit 54). */
#define VMX_IOINFO_ADDR_SIZE_SHIFT 7 /* bits 9:7: 0 = 16, 1 = 32, 2 = 64 */
#define VMX_IOINFO_SEG_SHIFT 15      /* bits 17:15: ES CS SS DS FS GS */

/* ---- Exit qualification: control-register access, reason 28 (§8) ------ */
#define VMX_CRQ_CR_MASK 0xfu /* bits 3:0: CR number */
#define VMX_CRQ_TYPE_SHIFT 4 /* bits 5:4: access type */
#define VMX_CRQ_TYPE_MASK (3u << 4)
#define VMX_CRQ_TYPE_MOV_TO_CR 0u
#define VMX_CRQ_TYPE_MOV_FROM_CR 1u
#define VMX_CRQ_TYPE_CLTS 2u
#define VMX_CRQ_TYPE_LMSW 3u
#define VMX_CRQ_LMSW_MEM (1u << 6) /* LMSW operand in memory */
#define VMX_CRQ_GPR_SHIFT 8        /* bits 11:8: general register */
#define VMX_CRQ_GPR_MASK (0xfu << 8)
#define VMX_CRQ_LMSW_DATA_SHIFT 16 /* bits 31:16: LMSW source data */

/* ---- Exit qualification: EPT violation, reason 48 (§8) ----------------- */
#define VMX_EPTQ_READ (1ull << 0)
#define VMX_EPTQ_WRITE (1ull << 1)
#define VMX_EPTQ_FETCH (1ull << 2)
#define VMX_EPTQ_READABLE (1ull << 3)
#define VMX_EPTQ_WRITABLE (1ull << 4)
#define VMX_EPTQ_EXECUTABLE (1ull << 5)
#define VMX_EPTQ_USER_EXECUTABLE (1ull << 6) /* MBEC only */
#define VMX_EPTQ_LINEAR_VALID (1ull << 7)    /* 0x640A holds the address */
#define VMX_EPTQ_FINAL_TRANSLATION                                             \
    (1ull << 8) /* vs paging-structure access                                  \
                 */
#define VMX_EPTQ_NMI_UNBLOCKING (1ull << 12)

/* ---- Exit qualification: APIC access, reason 44 (§8) ------------------- */
#define VMX_APICQ_OFFSET_MASK 0xfffu
#define VMX_APICQ_TYPE_SHIFT 12
#define VMX_APICQ_LINEAR_READ 0u
#define VMX_APICQ_LINEAR_WRITE 1u
#define VMX_APICQ_LINEAR_FETCH 2u
#define VMX_APICQ_LINEAR_EVENT 3u

/* ---- Interruption information: 0x4016, 0x4404, 0x4408 (§10) ------------ */
#define VMX_INTR_VECTOR_MASK 0xffu
#define VMX_INTR_TYPE_SHIFT 8
#define VMX_INTR_TYPE_MASK (7u << 8)
#define VMX_INTR_TYPE_EXT_INTR 0u
#define VMX_INTR_TYPE_NMI 2u
#define VMX_INTR_TYPE_HW_EXCEPTION 3u
#define VMX_INTR_TYPE_SW_INTR 4u
#define VMX_INTR_TYPE_PRIV_SW_EXCEPTION 5u
#define VMX_INTR_TYPE_SW_EXCEPTION 6u
#define VMX_INTR_TYPE_OTHER 7u
#define VMX_INTR_ERROR_CODE (1u << 11)
#define VMX_INTR_NMI_UNBLOCKING (1u << 12) /* exit information only */
#define VMX_INTR_VALID (1u << 31)

/* ---- Guest interruptibility (0x4824) and activity state (0x4826; §2) --- */
#define VMX_INTERRUPTIBILITY_STI (1u << 0)
#define VMX_INTERRUPTIBILITY_MOV_SS (1u << 1)
#define VMX_INTERRUPTIBILITY_SMI (1u << 2)
#define VMX_INTERRUPTIBILITY_NMI (1u << 3)
#define VMX_INTERRUPTIBILITY_ENCLAVE (1u << 4)
#define VMX_ACTIVITY_ACTIVE 0u
#define VMX_ACTIVITY_HLT 1u
#define VMX_ACTIVITY_SHUTDOWN 2u
#define VMX_ACTIVITY_WAIT_SIPI 3u

/* ---- Guest segment access rights (0x4814..0x4822; §2) ------------------ */
#define VMX_AR_TYPE_MASK 0xfu
#define VMX_AR_S (1u << 4) /* 1 = code/data, 0 = system */
#define VMX_AR_DPL_SHIFT 5
#define VMX_AR_P (1u << 7)
#define VMX_AR_AVL (1u << 12)
#define VMX_AR_L (1u << 13) /* 64-bit code */
#define VMX_AR_DB (1u << 14)
#define VMX_AR_G (1u << 15)
#define VMX_AR_UNUSABLE (1u << 16)
#define VMX_AR_RESERVED 0xfffe0f00u /* bits 31:17 and 11:8 */

/* ---- Functions (cpu/vmx-vmcs.c) ---------------------------------------- */

/*
 * Allocates a VMCS in the state VMCLEAR leaves: every field 0, launch
 * state clear, revision = VMX_VMCS_REVISION.
 * Returns: the VMCS, owned by the caller (vmx_vmcs_free).
 */
struct vmx_vmcs *vmx_vmcs_new(void);
void vmx_vmcs_free(struct vmx_vmcs *vmcs);

/*
 * VMREAD of the field with encoding @encoding into *@val.  The "high"
 * access (bit 0 set) of a 64-bit field reads its upper 32 bits.
 * Returns: 0, or VMX_INSN_ERR_UNSUPPORTED_COMPONENT (12) for an unknown
 * field, reserved bits 31:15 or 12 set, or a high access of a field that
 * is not 64-bit; *@val is then untouched.
 */
unsigned vmx_vmcs_read(const struct vmx_vmcs *vmcs, uint32_t encoding,
                       uint64_t *val /* out */);

/*
 * VMWRITE of @val to the field with encoding @encoding, truncated to the
 * field's width; the high access of a 64-bit field writes its upper 32
 * bits from bits 31:0 of @val.
 * Returns: 0, 12 as for vmx_vmcs_read(), or VMX_INSN_ERR_VMWRITE_READ_ONLY
 * (13) for a VM-exit information field (type 1): the model does not
 * report IA32_VMX_MISC bit 29.
 */
unsigned vmx_vmcs_write(struct vmx_vmcs *vmcs, uint32_t encoding, uint64_t val);

/*
 * The index (enum vmcs_index) of the field @encoding names, or -1.  The
 * high access of a 64-bit field gives the field's index; any other
 * invalid encoding (reserved bits, high access of a narrower field) -1.
 */
int vmx_field_lookup(uint32_t encoding);

/* The name of the field (as in cpu/vmcs.def, "GUEST_RIP"), or NULL;
 * encodings are accepted as by vmx_field_lookup().  Static storage. */
const char *vmx_field_name(uint32_t encoding);

/* The name of basic exit reason @reason ("IO_INSTRUCTION"), or NULL.
 * Bits 31:16 of an exit-reason field value are ignored.  Static storage. */
const char *vmx_exit_reason_name(unsigned reason);

/*
 * The value RDMSR of VMX capability MSR @msr (0x480-0x492) returns on
 * this model.  An MSR the model does not have (IA32_VMX_VMFUNC and
 * IA32_VMX_PROCBASED_CTLS3: VM functions and tertiary controls are not
 * allowed, so the SDM says they do not exist) or any other @msr gives
 * false: RDMSR raises #GP(0).
 * Returns: true with *@val set, or false.
 */
bool vmx_capability_msr(uint32_t msr, uint64_t *val /* out */);

/*
 * Writes the listing of `iovsim vmcs` to @out: every basic exit reason
 * (number, name, whether the model produces it, description), every
 * VMCS field (encoding, width, type, name) and the capability MSRs.
 */
void vmx_print_tables(FILE *out);


/*
 * The exit information of the last VM exit, read once by the VMM (as KVM
 * caches it per exit): basic reason, qualification, instruction length
 * and information, guest-linear and guest-physical address, the
 * interruption fields, and GUEST_RIP.
 */
struct vmx_exit {
    uint32_t reason; /* the full exit-reason field */
    uint32_t insn_len;
    uint32_t insn_info;
    uint32_t intr_info;
    uint32_t intr_error;
    uint64_t qualification;
    uint64_t guest_linear;
    uint64_t guest_physical;
    uint64_t guest_rip;
};
void vmx_vmcs_exit_info(const struct vmx_vmcs *vmcs,
                        struct vmx_exit *out /* out */);

/* A field's value by index, for the VMM's exit handlers (no lookup). */
uint64_t vmx_vmcs_field(const struct vmx_vmcs *vmcs, enum vmcs_index idx);
/* Sets GUEST_RIP: the VMM's "advance past the instruction". */
void vmx_vmcs_set_guest_rip(struct vmx_vmcs *vmcs, uint64_t rip);

#endif /* SIM_CPU_VMX_ABI_H */
