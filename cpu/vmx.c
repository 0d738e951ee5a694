/*
 * cpu/vmx.c: VMX non-root operation.  VM entry (SDM 3C "VM Entries":
 * control and guest-state checks, loading the guest state, event
 * injection), VM exits (SDM 3C "VM Exits": exit reason, qualification,
 * instruction length and information, saving the guest state), and the
 * checks that decide whether an instruction exits (SDM 3C "VMX Non-Root
 * Operation": I/O bitmaps, MSR bitmaps, CR masks and shadows, the
 * exception bitmap).  The instruction handlers call the checks inline
 * when cpu->nonroot is set (STYLE rule 9).
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "cpu/cpu-internal.h"
#include "cpu/vmx-internal.h"
#include "mmu/mmu.h"

/* ---- Exits --------------------------------------------------------------- */

/*
 * Records a VM exit.  The guest state is saved, and non-root operation
 * left, by the run loop (cpu_vmx_exit_complete) once RIP is known.
 */
enum cpu_status cpu_vmexit(struct cpu *cpu, unsigned reason, uint64_t qual,
                           unsigned insn_len)
{
    struct vmx_vmcs *v = cpu->vmcs;

    vmcs_set(v, VMCS_EXIT_REASON, reason);
    vmcs_set(v, VMCS_EXIT_QUALIFICATION, qual);
    vmcs_set(v, VMCS_EXIT_INSTRUCTION_LEN, insn_len);
    vmcs_set(v, VMCS_EXIT_INSTRUCTION_INFO, 0);
    vmcs_set(v, VMCS_EXIT_INTR_INFO, 0);
    vmcs_set(v, VMCS_EXIT_INTR_ERROR_CODE, 0);
    vmcs_set(v, VMCS_IDT_VECTORING_INFO, 0);
    vmcs_set(v, VMCS_IDT_VECTORING_ERROR_CODE, 0);
    cpu->vmexit_pending = true;
    return CPU_VMEXIT;
}

enum cpu_status cpu_vmx_unconditional(struct cpu *cpu,
                                      const struct cpu_insn *in,
                                      unsigned reason)
{
    return cpu_vmexit(cpu, reason, 0, in->len);
}

/* Guest segment attributes in the VMCS access-rights format. */
static uint32_t ar_of(const struct cpu_segment *s)
{
    /* An unusable (null-loaded) segment has no attributes: bit 16. */
    return s->attr == 0 ? 0x10000u : (uint32_t)(s->attr & 0xf0ff);
}

static void seg_save(struct vmx_vmcs *v, const struct cpu_segment *s,
                     enum vmcs_index sel, enum vmcs_index base,
                     enum vmcs_index limit, enum vmcs_index ar)
{
    vmcs_set(v, sel, s->sel);
    vmcs_set(v, base, s->base);
    vmcs_set(v, limit, s->limit);
    vmcs_set(v, ar, ar_of(s));
}

static void seg_load(const struct vmx_vmcs *v, struct cpu_segment *s,
                     enum vmcs_index sel, enum vmcs_index base,
                     enum vmcs_index limit, enum vmcs_index ar)
{
    uint64_t a = v->f[ar];

    s->sel = (uint16_t)v->f[sel];
    s->base = v->f[base];
    s->limit = (uint32_t)v->f[limit];
    s->attr = (a & 0x10000) ? 0 : (uint16_t)(a & 0xf0ff);
}

#define SEG_FIELDS(S)                                                          \
    VMCS_GUEST_##S##_SELECTOR, VMCS_GUEST_##S##_BASE, VMCS_GUEST_##S##_LIMIT, \
        VMCS_GUEST_##S##_AR

/* The guest-state area from the cpu (SDM 3C "VM Exits": "Saving Guest
 * State"). */
static void save_guest_state(struct cpu *cpu, struct vmx_vmcs *v)
{
    uint32_t intr = 0;

    vmcs_set(v, VMCS_GUEST_RIP, cpu->rip);
    vmcs_set(v, VMCS_GUEST_RSP, cpu->gpr[CPU_RSP]);
    vmcs_set(v, VMCS_GUEST_RFLAGS, cpu_flags_get(cpu));
    vmcs_set(v, VMCS_GUEST_CR0, cpu->cr0);
    vmcs_set(v, VMCS_GUEST_CR3, cpu->cr3);
    vmcs_set(v, VMCS_GUEST_CR4, cpu->cr4);
    vmcs_set(v, VMCS_GUEST_IA32_EFER, cpu->efer);
    seg_save(v, &cpu->seg[CPU_ES], SEG_FIELDS(ES));
    seg_save(v, &cpu->seg[CPU_CS], SEG_FIELDS(CS));
    seg_save(v, &cpu->seg[CPU_SS], SEG_FIELDS(SS));
    seg_save(v, &cpu->seg[CPU_DS], SEG_FIELDS(DS));
    seg_save(v, &cpu->seg[CPU_FS], SEG_FIELDS(FS));
    seg_save(v, &cpu->seg[CPU_GS], SEG_FIELDS(GS));
    seg_save(v, &cpu->ldtr, SEG_FIELDS(LDTR));
    seg_save(v, &cpu->tr, SEG_FIELDS(TR));
    vmcs_set(v, VMCS_GUEST_GDTR_BASE, cpu->gdtr.base);
    vmcs_set(v, VMCS_GUEST_GDTR_LIMIT, cpu->gdtr.limit);
    vmcs_set(v, VMCS_GUEST_IDTR_BASE, cpu->idtr.base);
    vmcs_set(v, VMCS_GUEST_IDTR_LIMIT, cpu->idtr.limit);
    intr |= cpu->intr_shadow; /* blocking by STI (1) or MOV SS (2) */
    vmcs_set(v, VMCS_GUEST_INTERRUPTIBILITY, intr);
    vmcs_set(v, VMCS_GUEST_ACTIVITY_STATE, cpu->halted ? 1 : 0);
}

/* The fields an exit saves at once; the rest waits for vmx_vmcs_sync(). */
static void save_guest_state_eager(struct cpu *cpu, struct vmx_vmcs *v)
{
    vmcs_set(v, VMCS_GUEST_RIP, cpu->rip);
    vmcs_set(v, VMCS_GUEST_RSP, cpu->gpr[CPU_RSP]);
    vmcs_set(v, VMCS_GUEST_INTERRUPTIBILITY, cpu->intr_shadow);
    vmcs_set(v, VMCS_GUEST_ACTIVITY_STATE, cpu->halted ? 1 : 0);
    v->lazy_cpu = cpu;
}

void vmx_vmcs_sync(struct vmx_vmcs *v)
{
    struct cpu *cpu = v->lazy_cpu;
    uint64_t keep[4] = {v->f[VMCS_GUEST_RIP], v->f[VMCS_GUEST_RSP],
                        v->f[VMCS_GUEST_INTERRUPTIBILITY],
                        v->f[VMCS_GUEST_ACTIVITY_STATE]};

    if (cpu == NULL) {
        return;
    }
    v->lazy_cpu = NULL;
    save_guest_state(cpu, v);
    /* The eager fields may have been written by the VMM since. */
    v->f[VMCS_GUEST_RIP] = keep[0];
    v->f[VMCS_GUEST_RSP] = keep[1];
    v->f[VMCS_GUEST_INTERRUPTIBILITY] = keep[2];
    v->f[VMCS_GUEST_ACTIVITY_STATE] = keep[3];
}

void cpu_vmx_save_guest_state(struct cpu *cpu, struct vmx_vmcs *vmcs)
{
    vmcs->lazy_cpu = NULL;
    save_guest_state(cpu, vmcs);
    vmcs->checked = false;
    vmcs->guest_dirty = true;
}

void cpu_vmx_guest_state_changed(struct cpu *cpu)
{
    if (cpu->nonroot) {
        cpu->vmcs->checked = false;
    }
}

/* Saves the guest state and leaves non-root operation. */
void cpu_vmx_exit_complete(struct cpu *cpu)
{
    struct vmx_vmcs *v = cpu->vmcs;

    save_guest_state_eager(cpu, v);
    /* The valid bit of the entry interruption information is cleared by
     * every VM exit (SDM 3C "VM Exits"). */
    vmcs_set(v, VMCS_ENTRY_INTR_INFO,
             v->f[VMCS_ENTRY_INTR_INFO] & ~(uint64_t)VMX_INTR_VALID);
    cpu->nonroot = false;
    cpu->vmexit_pending = false;
    v->guest_dirty = false;
}

/* Loads the guest-state area into the cpu (after the checks passed). */
static void load_guest_state(struct cpu *cpu, const struct vmx_vmcs *v)
{
    uint64_t efer;
    uint64_t rflags = v->f[VMCS_GUEST_RFLAGS];

    cpu->cr0 = v->f[VMCS_GUEST_CR0];
    cpu->cr3 = v->f[VMCS_GUEST_CR3];
    cpu->cr4 = v->f[VMCS_GUEST_CR4];
    if (v->f[VMCS_ENTRY_CTLS] & VMX_ENTRY_CTL_LOAD_EFER) {
        efer = v->f[VMCS_GUEST_IA32_EFER];
    } else {
        /* LMA and LME follow "IA-32e mode guest" (SDM 3C "Loading Guest
         * Control Registers..."). */
        efer = cpu->efer & ~(CPU_EFER_LMA | CPU_EFER_LME);
        if (v->f[VMCS_ENTRY_CTLS] & VMX_ENTRY_CTL_IA32E_MODE_GUEST) {
            efer |= CPU_EFER_LMA | CPU_EFER_LME;
        }
    }
    cpu->efer = efer;
    seg_load(v, &cpu->seg[CPU_ES], SEG_FIELDS(ES));
    seg_load(v, &cpu->seg[CPU_CS], SEG_FIELDS(CS));
    seg_load(v, &cpu->seg[CPU_SS], SEG_FIELDS(SS));
    seg_load(v, &cpu->seg[CPU_DS], SEG_FIELDS(DS));
    seg_load(v, &cpu->seg[CPU_FS], SEG_FIELDS(FS));
    seg_load(v, &cpu->seg[CPU_GS], SEG_FIELDS(GS));
    seg_load(v, &cpu->ldtr, SEG_FIELDS(LDTR));
    seg_load(v, &cpu->tr, SEG_FIELDS(TR));
    cpu->segbase[CPU_SEGBASE_FS] = cpu->seg[CPU_FS].base;
    cpu->segbase[CPU_SEGBASE_GS] = cpu->seg[CPU_GS].base;
    cpu->gdtr.base = v->f[VMCS_GUEST_GDTR_BASE];
    cpu->gdtr.limit = (uint16_t)v->f[VMCS_GUEST_GDTR_LIMIT];
    cpu->idtr.base = v->f[VMCS_GUEST_IDTR_BASE];
    cpu->idtr.limit = (uint16_t)v->f[VMCS_GUEST_IDTR_LIMIT];
    cpu->rip = v->f[VMCS_GUEST_RIP];
    cpu->gpr[CPU_RSP] = v->f[VMCS_GUEST_RSP];
    cpu->rflags = (rflags & ~CPU_FLAGS_ARITH) | 2;
    cpu_flags_set_arith(cpu, rflags);
    /* CPL is SS.DPL after VM entry (SDM 3C "Loading Guest Segment
     * Registers..."). */
    cpu_set_cpl(cpu, (cpu->seg[CPU_SS].attr >> 5) & 3);
    cpu->intr_shadow = (unsigned)v->f[VMCS_GUEST_INTERRUPTIBILITY] &
                       (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS);
    cpu->halted = v->f[VMCS_GUEST_ACTIVITY_STATE] == 1;
}

/* Copies the controls the handlers test into the cpu. */
static void load_controls(struct cpu *cpu, const struct vmx_vmcs *v)
{
    uint64_t proc2 = 0;

    cpu->vmx_pin = (uint32_t)v->f[VMCS_PIN_BASED_CTLS];
    cpu->vmx_proc = (uint32_t)v->f[VMCS_PROC_BASED_CTLS];
    if (cpu->vmx_proc & VMX_PROC_ACTIVATE_SECONDARY) {
        proc2 = v->f[VMCS_PROC_BASED_CTLS2];
    }
    cpu->vmx_proc2 = (uint32_t)proc2;
    cpu->vmx_exc_bitmap = (uint32_t)v->f[VMCS_EXCEPTION_BITMAP];
    cpu->vmx_pfec_mask = (uint32_t)v->f[VMCS_PAGE_FAULT_ERROR_CODE_MASK];
    cpu->vmx_pfec_match = (uint32_t)v->f[VMCS_PAGE_FAULT_ERROR_CODE_MATCH];
    cpu->vmx_cr0_mask = v->f[VMCS_CR0_GUEST_HOST_MASK];
    cpu->vmx_cr4_mask = v->f[VMCS_CR4_GUEST_HOST_MASK];
    cpu->vmx_cr0_shadow = v->f[VMCS_CR0_READ_SHADOW];
    cpu->vmx_cr4_shadow = v->f[VMCS_CR4_READ_SHADOW];
    cpu->ept_on = (proc2 & VMX_PROC2_ENABLE_EPT) != 0;
    cpu->eptp = cpu->ept_on ? v->f[VMCS_EPT_POINTER] : 0;
    /* Bitmaps outside RAM read as all ones (bitmap_bit). */
    cpu->vmx_io_bitmap[0] =
        cpu->ops->ram_page(cpu->opaque, v->f[VMCS_IO_BITMAP_A] & ~0xfffull);
    cpu->vmx_io_bitmap[1] =
        cpu->ops->ram_page(cpu->opaque, v->f[VMCS_IO_BITMAP_B] & ~0xfffull);
    cpu->vmx_msr_bitmap =
        cpu->ops->ram_page(cpu->opaque, v->f[VMCS_MSR_BITMAP] & ~0xfffull);
}

/*
 * Delivers the event of the VM-entry interruption-information field
 * through the guest IDT (SDM 3C "Event Injection").  Software interrupts
 * and exceptions (types 4, 5, 6) push RIP + the VM-entry instruction
 * length.
 */
static void inject_event(struct cpu *cpu, const struct vmx_vmcs *v)
{
    uint32_t info = (uint32_t)v->f[VMCS_ENTRY_INTR_INFO];
    unsigned type = (info >> VMX_INTR_TYPE_SHIFT) & 7;
    bool software = type == VMX_INTR_TYPE_SW_INTR ||
                    type == VMX_INTR_TYPE_PRIV_SW_EXCEPTION ||
                    type == VMX_INTR_TYPE_SW_EXCEPTION;

    cpu->exc_vector = info & VMX_INTR_VECTOR_MASK;
    cpu->exc_error = (info & VMX_INTR_ERROR_CODE)
                         ? (int64_t)(uint32_t)v->f[VMCS_ENTRY_EXCEPTION_ERROR_CODE]
                         : -1;
    cpu->exc_is_trap = software;
    cpu->exc_noncanonical = false;
    cpu->exc_type = type == VMX_INTR_TYPE_EXT_INTR ? CPU_EXC_TYPE_EXTERNAL
                                                   : (uint8_t)type;
    if (software) {
        cpu->rip += v->f[VMCS_ENTRY_INSTRUCTION_LEN];
    }
    /* Injection was asked for: it is delivered, never turned into an
     * exit by the exception bitmap; faults while delivering it may be. */
    cpu->injecting = true;
}

enum cpu_vmentry_status cpu_vmentry(struct cpu *cpu, struct vmx_vmcs *v,
                                    const char **why)
{
    const char *w = NULL;
    unsigned err;
    bool flush;

    if (v->checked && cpu->vmcs == v && !v->guest_dirty) {
        /* Nothing but a canonical RIP changed since the last entry, and
         * the cpu still holds the rest of the guest state. */
        cpu->rip = v->f[VMCS_GUEST_RIP];
        v->lazy_cpu = NULL;
        goto entered;
    }
    vmx_vmcs_sync(v);
    err = vmx_check_controls(v, &w);
    if (err != 0) {
        vmcs_set(v, VMCS_VM_INSTRUCTION_ERROR, err);
        if (why != NULL) {
            *why = w;
        }
        return CPU_VMENTRY_FAIL_CONTROLS;
    }
    if (vmx_check_guest_state(v, &w) != 0) {
        vmcs_set(v, VMCS_EXIT_REASON,
                 VMX_EXIT_ENTRY_FAIL_GUEST_STATE | VMX_EXIT_REASON_ENTRY_FAILURE);
        vmcs_set(v, VMCS_EXIT_QUALIFICATION, 0);
        if (why != NULL) {
            *why = w;
        }
        return CPU_VMENTRY_FAIL_GUEST;
    }
    /*
     * The software TLB holds guest-linear translations of this vCPU's
     * guest; like a VPID-tagged TLB it survives exits, and is flushed only
     * when what it was built from changes.
     */
    flush = cpu->vmcs != v || cpu->cr0 != v->f[VMCS_GUEST_CR0] ||
            cpu->cr3 != v->f[VMCS_GUEST_CR3] ||
            cpu->cr4 != v->f[VMCS_GUEST_CR4] ||
            ((v->f[VMCS_PROC_BASED_CTLS] & VMX_PROC_ACTIVATE_SECONDARY) &&
             (v->f[VMCS_PROC_BASED_CTLS2] & VMX_PROC2_ENABLE_EPT) &&
             cpu->eptp != v->f[VMCS_EPT_POINTER]);
    cpu->vmcs = v;
    load_controls(cpu, v);
    load_guest_state(cpu, v);
    if (flush) {
        cpu_tlb_flush(cpu);
    }
    v->launched = true;
    v->checked = true;
    v->guest_dirty = false;
    vmcs_set(v, VMCS_VM_INSTRUCTION_ERROR, 0);
entered:
    cpu->nonroot = true;
    cpu->vmexit_pending = false;
    cpu->injecting = false;
    if (v->f[VMCS_ENTRY_INTR_INFO] & VMX_INTR_VALID) {
        inject_event(cpu, v);
    }
    /* The run loop looks at injection, an open interrupt window and
     * pending interrupts before the first guest instruction. */
    if (cpu->injecting || (cpu->vmx_proc & VMX_PROC_INTR_WINDOW_EXITING) ||
        cpu_interrupt_pending(cpu)) {
        cpu->attention = 1;
    }
    return CPU_VMENTRY_OK;
}

enum cpu_stop_reason cpu_vmx_emulate_mmio(struct cpu *cpu)
{
    enum cpu_stop_reason r;
    uint64_t deadline;

    g_assert(cpu->vmcs != NULL && !cpu->nonroot);
    if (cpu->vmcs->guest_dirty || cpu->vmcs->lazy_cpu != cpu) {
        vmx_vmcs_sync(cpu->vmcs);
        load_controls(cpu, cpu->vmcs);
        load_guest_state(cpu, cpu->vmcs);
    } else {
        /* The cpu holds the guest state; only RIP may have moved. */
        cpu->rip = cpu->vmcs->f[VMCS_GUEST_RIP];
        cpu->vmcs->lazy_cpu = NULL;
    }
    cpu->nonroot = true;
    cpu->mmio_emulation = true;
    /* The trapped instruction completes whatever the time: a deadline
     * reached by the exit's own cost must not leave it undone (the guest
     * would re-enter at it and trap again, for ever). */
    deadline = cpu->deadline;
    cpu->deadline = UINT64_MAX;
    r = cpu_run(cpu, 1);
    cpu->deadline = deadline;
    cpu->mmio_emulation = false;
    if (cpu->nonroot) {
        /* Completed without an exit: save the state, not exit info. */
        struct vmx_vmcs *v = cpu->vmcs;
        uint64_t keep[4] = {
            v->f[VMCS_EXIT_REASON], v->f[VMCS_EXIT_QUALIFICATION],
            v->f[VMCS_EXIT_INSTRUCTION_LEN], v->f[VMCS_ENTRY_INTR_INFO]};

        cpu_vmx_exit_complete(cpu);
        vmcs_set(v, VMCS_EXIT_REASON, keep[0]);
        vmcs_set(v, VMCS_EXIT_QUALIFICATION, keep[1]);
        vmcs_set(v, VMCS_EXIT_INSTRUCTION_LEN, keep[2]);
        vmcs_set(v, VMCS_ENTRY_INTR_INFO, keep[3]);
    }
    return r;
}

/* ---- Conditional exits ---------------------------------------------------- */

/* One bit of a bitmap page (host pointer cached at VM entry); a bitmap
 * outside RAM reads as all ones (every access exits). */
static bool bitmap_bit(const uint8_t *page, unsigned bit)
{
    if (page == NULL) {
        return true;
    }
    return (page[(bit / 8) & 0xfff] >> (bit & 7)) & 1;
}

/*
 * IN/OUT/INS/OUTS (SDM 3C "Instructions That Cause VM Exits
 * Conditionally"): with "use I/O bitmaps" the bitmaps decide (an access
 * exits if any byte's bit is 1, or if it wraps past 0xFFFF), otherwise
 * "unconditional I/O exiting" does.  Qualification per the fact sheet §8;
 * for INS/OUTS also the guest-linear address and instruction information.
 */
enum cpu_status cpu_vmx_io(struct cpu *cpu, const struct cpu_insn *in,
                           uint16_t port, unsigned size, bool is_in,
                           bool string)
{
    bool exits = false;
    uint64_t qual;

    if (cpu->vmx_proc & VMX_PROC_USE_IO_BITMAPS) {
        if ((unsigned)port + size > 0x10000) {
            exits = true;
        }
        for (unsigned i = 0; i < size && !exits; i++) {
            unsigned p = (port + i) & 0xffff;

            exits = bitmap_bit(cpu->vmx_io_bitmap[p >= 0x8000], p & 0x7fff);
        }
    } else {
        exits = (cpu->vmx_proc & VMX_PROC_UNCOND_IO_EXITING) != 0;
    }
    if (!exits) {
        return CPU_OK;
    }
    qual = (uint64_t)(size - 1) | (is_in ? VMX_IOQ_IN : 0) |
           ((uint64_t)port << VMX_IOQ_PORT_SHIFT);
    if (string) {
        qual |= VMX_IOQ_STRING;
        qual |= in->aux2 != CPU_REP_NONE ? VMX_IOQ_REP : 0;
    } else if (in->opk & CPU_OPK_I1) {
        qual |= VMX_IOQ_IMM;
    }
    cpu_vmexit(cpu, VMX_EXIT_IO_INSTRUCTION, qual, in->len);
    if (string) {
        /* Address size 1 = 32-bit, 2 = 64-bit; segment 0 ES (INS, and the
         * INS destination), 3 DS, 4 FS, 5 GS for OUTS. */
        unsigned asz = in->amask == ~0ull ? 2 : 1;
        unsigned seg = is_in ? 0
                       : in->seg == CPU_SEGBASE_FS ? 4
                       : in->seg == CPU_SEGBASE_GS ? 5
                                                   : 3;
        uint64_t la = is_in ? (cpu->gpr[CPU_RDI] & in->amask)
                            : (cpu->gpr[CPU_RSI] & in->amask) +
                                  cpu->segbase[in->seg];

        vmcs_set(cpu->vmcs, VMCS_GUEST_LINEAR_ADDRESS, la);
        vmcs_set(cpu->vmcs, VMCS_EXIT_INSTRUCTION_INFO,
                 ((uint64_t)asz << 7) | ((uint64_t)seg << 15));
    }
    return CPU_VMEXIT;
}

/*
 * RDMSR/WRMSR: without "use MSR bitmaps" every access exits; with them,
 * the bit for ECX in the read-low/read-high/write-low/write-high quarter
 * decides, and MSRs outside both ranges always exit (fact sheet §9).
 */
enum cpu_status cpu_vmx_msr(struct cpu *cpu, const struct cpu_insn *in,
                            bool write)
{
    uint32_t msr = (uint32_t)cpu->gpr[CPU_RCX];
    bool exits = true;

    if (cpu->vmx_proc & VMX_PROC_USE_MSR_BITMAPS) {
        unsigned base;

        if (msr <= 0x1fff) {
            base = 0;
        } else if (msr - 0xc0000000u <= 0x1fff) {
            base = 0x400;
        } else {
            base = ~0u;
        }
        if (base != ~0u) {
            base += write ? 0x800 : 0;
            exits = bitmap_bit(cpu->vmx_msr_bitmap,
                               base * 8 + (msr & 0x1fff));
        }
    }
    if (!exits) {
        return CPU_OK;
    }
    return cpu_vmexit(cpu, write ? VMX_EXIT_WRMSR : VMX_EXIT_RDMSR, 0,
                      in->len);
}

static uint64_t cr_qual(unsigned cr, unsigned access, unsigned gpr)
{
    return cr | (access << 4) | ((uint64_t)gpr << 8);
}

/*
 * MOV to CR0/CR3/CR4/CR8 (SDM 3C "Instructions That Cause VM Exits
 * Conditionally"): CR0/CR4 exit when a bit owned by the host (set in the
 * guest/host mask) would differ from the read shadow, and the bits the
 * host owns keep their values otherwise; CR3 exits under "CR3-load
 * exiting" unless the value is one of the CR3-target values; CR8 under
 * "CR8-load exiting".  @value may be rewritten (host-owned bits).
 */
enum cpu_status cpu_vmx_cr_write(struct cpu *cpu, const struct cpu_insn *in,
                                 unsigned cr, unsigned gpr, uint64_t *value)
{
    const struct vmx_vmcs *v = cpu->vmcs;
    uint64_t mask, shadow, cur;

    switch (cr) {
    case 0:
    case 4:
        mask = cr == 0 ? cpu->vmx_cr0_mask : cpu->vmx_cr4_mask;
        shadow = cr == 0 ? cpu->vmx_cr0_shadow : cpu->vmx_cr4_shadow;
        cur = cr == 0 ? cpu->cr0 : cpu->cr4;
        if ((*value ^ shadow) & mask) {
            return cpu_vmexit(cpu, VMX_EXIT_CR_ACCESS, cr_qual(cr, 0, gpr),
                              in->len);
        }
        *value = (*value & ~mask) | (cur & mask);
        /* The fixed bits of VMX operation hold for the guest too: a write
         * that breaks them is #GP(0) (SDM 3C "VMX Restrictions on
         * Control Registers"). */
        {
            uint64_t fixed0 = 0, fixed1 = ~0ull;

            vmx_capability_msr(cr == 0 ? VMX_MSR_CR0_FIXED0
                                       : VMX_MSR_CR4_FIXED0,
                               &fixed0);
            vmx_capability_msr(cr == 0 ? VMX_MSR_CR0_FIXED1
                                       : VMX_MSR_CR4_FIXED1,
                               &fixed1);
            if ((*value & fixed0) != fixed0 || (*value & ~fixed1) != 0) {
                return cpu_raise_gp0(cpu);
            }
        }
        return CPU_OK;
    case 3:
        if (!(cpu->vmx_proc & VMX_PROC_CR3_LOAD_EXITING)) {
            return CPU_OK;
        }
        for (unsigned i = 0; i < v->f[VMCS_CR3_TARGET_COUNT] && i < 4; i++) {
            if (v->f[VMCS_CR3_TARGET_VALUE0 + i] == *value) {
                return CPU_OK;
            }
        }
        return cpu_vmexit(cpu, VMX_EXIT_CR_ACCESS, cr_qual(3, 0, gpr),
                          in->len);
    case 8:
        if (cpu->vmx_proc & VMX_PROC_CR8_LOAD_EXITING) {
            return cpu_vmexit(cpu, VMX_EXIT_CR_ACCESS, cr_qual(8, 0, gpr),
                              in->len);
        }
        return CPU_OK;
    default:
        return CPU_OK;
    }
}

/* MOV from CR3/CR8 may exit; reads of CR0/CR4 see the read shadow for the
 * host-owned bits. */
enum cpu_status cpu_vmx_cr_read(struct cpu *cpu, const struct cpu_insn *in,
                                unsigned cr, unsigned gpr, uint64_t *value)
{
    switch (cr) {
    case 0:
        *value = (*value & ~cpu->vmx_cr0_mask) |
                 (cpu->vmx_cr0_shadow & cpu->vmx_cr0_mask);
        return CPU_OK;
    case 4:
        *value = (*value & ~cpu->vmx_cr4_mask) |
                 (cpu->vmx_cr4_shadow & cpu->vmx_cr4_mask);
        return CPU_OK;
    case 3:
        if (cpu->vmx_proc & VMX_PROC_CR3_STORE_EXITING) {
            return cpu_vmexit(cpu, VMX_EXIT_CR_ACCESS, cr_qual(3, 1, gpr),
                              in->len);
        }
        return CPU_OK;
    case 8:
        if (cpu->vmx_proc & VMX_PROC_CR8_STORE_EXITING) {
            return cpu_vmexit(cpu, VMX_EXIT_CR_ACCESS, cr_qual(8, 1, gpr),
                              in->len);
        }
        return CPU_OK;
    default:
        return CPU_OK;
    }
}

/*
 * Exception bitmap (SDM 3C "Exception Bitmap"): bit n makes exception n
 * exit; for #PF the error code is compared too: with bit 14 set it exits
 * iff (PFEC & mask) == match, with bit 14 clear iff it differs.
 */
bool cpu_vmx_exception_exits(const struct cpu *cpu, unsigned vector,
                             int64_t error)
{
    if (vector >= 32) {
        return false;
    }
    if (vector == CPU_EXC_PF) {
        bool match = ((uint32_t)error & cpu->vmx_pfec_mask) ==
                     cpu->vmx_pfec_match;

        return (cpu->vmx_exc_bitmap & (1u << 14)) ? match : !match;
    }
    return (cpu->vmx_exc_bitmap >> vector) & 1;
}

/* Exit reason 0 with the VM-exit interruption information; for #PF the
 * qualification is the faulting linear address and CR2 is not written. */
enum cpu_status cpu_vmx_exception_exit(struct cpu *cpu, unsigned insn_len)
{
    unsigned type = cpu->exc_type != 0 ? cpu->exc_type
                                       : VMX_INTR_TYPE_HW_EXCEPTION;
    uint64_t info = cpu->exc_vector | ((uint64_t)type << VMX_INTR_TYPE_SHIFT) |
                    VMX_INTR_VALID;

    cpu_vmexit(cpu, VMX_EXIT_EXCEPTION_NMI,
               cpu->exc_vector == CPU_EXC_PF ? cpu->exc_cr2 : 0,
               type == VMX_INTR_TYPE_SW_EXCEPTION ? insn_len : 0);
    if (cpu->exc_error >= 0) {
        info |= VMX_INTR_ERROR_CODE;
        vmcs_set(cpu->vmcs, VMCS_EXIT_INTR_ERROR_CODE,
                 (uint32_t)cpu->exc_error);
    }
    vmcs_set(cpu->vmcs, VMCS_EXIT_INTR_INFO, info);
    return CPU_VMEXIT;
}

/* An exit while delivering an event records that event (SDM 3C
 * "Information for VM Exits During Event Delivery"). */
void cpu_vmx_set_idt_vectoring(struct cpu *cpu, unsigned vector,
                               int64_t error, unsigned software)
{
    uint64_t type = software == CPU_EXC_TYPE_EXTERNAL ? VMX_INTR_TYPE_EXT_INTR
                    : software != 0               ? software
                                                  : VMX_INTR_TYPE_HW_EXCEPTION;
    uint64_t info = vector | (type << VMX_INTR_TYPE_SHIFT) | VMX_INTR_VALID;

    if (error >= 0) {
        info |= VMX_INTR_ERROR_CODE;
        vmcs_set(cpu->vmcs, VMCS_IDT_VECTORING_ERROR_CODE, (uint32_t)error);
    }
    vmcs_set(cpu->vmcs, VMCS_IDT_VECTORING_INFO, info);
}

uint64_t cpu_tsc(const struct cpu *cpu)
{
    uint64_t t = (uint64_t)((unsigned __int128)cpu->cycles * cpu->tsc_num /
                            cpu->tsc_den) +
                 (uint64_t)cpu->tsc_offset;

    if (cpu->nonroot && (cpu->vmx_proc & VMX_PROC_USE_TSC_OFFSETTING)) {
        t += cpu->vmcs->f[VMCS_TSC_OFFSET];
    }
    return t;
}
