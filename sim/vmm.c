/*
 * sim/vmm.c: the VMM of an hvm machine.  It lays out the VM in machine
 * memory (guest RAM at machine.guest_base, mapped by EPT; its own pages -
 * EPT tables, I/O and MSR bitmaps - below it), fills the VMCS, enters the
 * guest, and handles each VM exit through vmexit_handlers[], a table keyed
 * by basic exit reason (STYLE rule 9).  Device regions are left out of EPT,
 * so MMIO traps as EPT violations and is completed by running the faulting
 * instruction once on the interpreter with the access sent to the device;
 * every port traps through the I/O bitmaps.  Each exit is charged the
 * profile's cycles: the hardware round trip and the handler to the vmm
 * bucket, device work (and a user-space device model's extra trip) to the
 * device-model bucket.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "bus/bus.h"
#include "cpu/cpu.h"
#include "devices/devices.h"
#include "mmu/mmu.h"
#include "sim/sim-internal.h"
#include "sim/sim.h"

/*
 * What an exit handler tells the loop (contract of vmexit_handlers[]):
 * VMEXIT_RESUME re-enters the guest; VMEXIT_TO_HOST ends the slice with
 * *stop set (the guest exited, or the VMM cannot go on).  A handler that
 * completes an instruction advances GUEST_RIP itself.
 */
enum vmexit_action {
    VMEXIT_RESUME,
    VMEXIT_TO_HOST,
    VMEXIT_IDLE, /* the guest halted: the machine idles to its next event */
};

typedef enum vmexit_action vmexit_handler_fn(struct sim_vcpu *v,
                                             enum sim_stop *stop);

/* The guest-physical page of the local APIC (devices/lapic.c). */
#define VMM_LAPIC_GPA UINT64_C(0xfee00000)

/* Pages of machine memory for the VMM (EPT tables, bitmaps), zeroed. */
static uint64_t vmm_alloc_page(void *opaque)
{
    struct sim_machine *m = opaque;
    uint64_t pa = m->page_next;

    if (pa + 4096 > m->page_end) {
        return MMU_EPT_NO_PAGE;
    }
    m->page_next += 4096;
    memset(m->mem + pa, 0, 4096);
    return pa;
}

static uint8_t *vmm_page_ptr(void *opaque, uint64_t hpa)
{
    struct sim_machine *m = opaque;

    return hpa + 4096 <= m->mem_size ? m->mem + hpa : NULL;
}

static uint64_t vmcs_get(const struct sim_vcpu *v, enum vmcs_index i)
{
    return vmx_vmcs_field(v->vmcs, i);
}

static void vmcs_put(struct sim_vcpu *v, uint32_t encoding, uint64_t value)
{
    unsigned err = vmx_vmcs_write(v->vmcs, encoding, value);

    g_assert(err == 0);
}

/* A control value: what the VMM wants, plus the must-be-1 bits of the
 * capability MSR (SDM 3C appendix "VMX Capability Reporting Facility"). */
static uint32_t vmm_control(uint32_t msr, uint32_t wanted)
{
    uint64_t cap = 0;

    vmx_capability_msr(msr, &cap);
    return (uint32_t)cap | wanted;
}

/* Lets the guest read and write an MSR the CPU implements (bitmap 0). */
static void msr_passthrough(struct sim_vm *vm, uint32_t msr)
{
    uint8_t *bm = vm->host->mem + vm->msr_bitmap;
    unsigned base = msr >= 0xc0000000u ? 0x400 : 0;
    unsigned bit = msr & 0x1fff;

    bm[base + bit / 8] &= (uint8_t) ~(1u << (bit % 8));
    bm[0x800 + base + bit / 8] &= (uint8_t) ~(1u << (bit % 8));
}

bool sim_vmm_vm_init(struct sim_vm *vm, GError **error)
{
    static const uint32_t passthrough_msrs[] = {
        0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
        0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0x10,
    };
    struct sim_machine *m = vm->host;

    vm->io_bitmap_a = vmm_alloc_page(m);
    vm->io_bitmap_b = vmm_alloc_page(m);
    vm->msr_bitmap = vmm_alloc_page(m);
    vm->apic_access_page = vmm_alloc_page(m);
    if (vm->apic_access_page == MMU_EPT_NO_PAGE) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                    "machine.guest_base is too small for the VMM's pages");
        return false;
    }
    /* Every port is emulated: all I/O-bitmap bits set. */
    memset(m->mem + vm->io_bitmap_a, 0xff, 4096);
    memset(m->mem + vm->io_bitmap_b, 0xff, 4096);
    memset(m->mem + vm->msr_bitmap, 0xff, 4096);
    for (size_t i = 0; i < SIM_ARRAY_SIZE(passthrough_msrs); i++) {
        msr_passthrough(vm, passthrough_msrs[i]);
    }
    /* EPT maps the memory map's RAM: below the hole, and above 4 GiB. */
    vm->ept = mmu_ept_builder_new(vmm_alloc_page, vmm_page_ptr, m, error);
    /* The local APIC's page maps to the APIC-access page: "virtualize
     * APIC accesses" makes each access exit 44 (apicv = off). */
    return vm->ept != NULL &&
           mmu_ept_map(vm->ept, 0, vm->guest_base, vm->low_size, MMU_EPT_RWX,
                       MMU_EPT_MT_WB, error) &&
           mmu_ept_map(vm->ept, VMM_LAPIC_GPA, vm->apic_access_page, 4096,
                       MMU_EPT_RWX, MMU_EPT_MT_WB, error) &&
           (vm->high_size == 0 ||
            mmu_ept_map(vm->ept, SIM_HIGH_RAM, vm->high_base, vm->high_size,
                        MMU_EPT_RWX, MMU_EPT_MT_WB, error));
}

void sim_vmm_vm_destroy(struct sim_vm *vm)
{
    mmu_ept_builder_free(vm->ept);
    g_free(vm->stop_message);
}

bool sim_vmm_vcpu_init(struct sim_vcpu *v, GError **error)
{
    struct sim_vm *vm = v->vm;

    v->vmcs = vmx_vmcs_new();
    /* Host interrupts (the timer) exit and are acknowledged on exit; the
     * VMM turns them into virtual interrupts for the guest. */
    vmcs_put(v, VMCS_ENC_PIN_BASED_CTLS,
             vmm_control(VMX_MSR_TRUE_PINBASED_CTLS, VMX_PIN_EXT_INTR_EXITING));
    vmcs_put(v, VMCS_ENC_PROC_BASED_CTLS,
             vmm_control(VMX_MSR_TRUE_PROCBASED_CTLS,
                         VMX_PROC_HLT_EXITING | VMX_PROC_USE_IO_BITMAPS |
                             VMX_PROC_USE_MSR_BITMAPS |
                             VMX_PROC_ACTIVATE_SECONDARY));
    vmcs_put(v, VMCS_ENC_PROC_BASED_CTLS2,
             vmm_control(VMX_MSR_PROCBASED_CTLS2,
                         VMX_PROC2_VIRT_APIC_ACCESSES | VMX_PROC2_ENABLE_EPT |
                             VMX_PROC2_ENABLE_RDTSCP));
    vmcs_put(v, VMCS_ENC_APIC_ACCESS_ADDR, vm->apic_access_page);
    vmcs_put(v, VMCS_ENC_EXIT_CTLS,
             vmm_control(VMX_MSR_TRUE_EXIT_CTLS,
                         VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE |
                             VMX_EXIT_CTL_ACK_INTR_ON_EXIT |
                             VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER));
    vmcs_put(v, VMCS_ENC_ENTRY_CTLS,
             vmm_control(VMX_MSR_TRUE_ENTRY_CTLS,
                         VMX_ENTRY_CTL_IA32E_MODE_GUEST |
                             VMX_ENTRY_CTL_LOAD_EFER));
    vmcs_put(v, VMCS_ENC_EXCEPTION_BITMAP, 0);
    vmcs_put(v, VMCS_ENC_IO_BITMAP_A, vm->io_bitmap_a);
    vmcs_put(v, VMCS_ENC_IO_BITMAP_B, vm->io_bitmap_b);
    vmcs_put(v, VMCS_ENC_MSR_BITMAP, vm->msr_bitmap);
    vmcs_put(v, VMCS_ENC_EPT_POINTER, mmu_ept_builder_eptp(vm->ept, false));
    vmcs_put(v, VMCS_ENC_VMCS_LINK_POINTER, ~UINT64_C(0));
    /* The guest state is the boot state the loader gave the CPU. */
    cpu_vmx_save_guest_state(v->cpu, v->vmcs);
    /*
     * CR4.VMXE must be 1 in VMX operation (IA32_VMX_CR4_FIXED0): the VMM
     * owns that bit through the CR4 guest/host mask, and the guest reads
     * its own value from the read shadow, as KVM arranges it.
     */
    {
        uint64_t cr4 = vmcs_get(v, VMCS_GUEST_CR4);

        vmcs_put(v, VMCS_ENC_CR4_GUEST_HOST_MASK, VMX_CR4_VMXE);
        vmcs_put(v, VMCS_ENC_CR4_READ_SHADOW, cr4);
        vmcs_put(v, VMCS_ENC_GUEST_CR4, cr4 | VMX_CR4_VMXE);
    }
    return true;
}

void sim_vmm_vcpu_destroy(struct sim_vcpu *v)
{
    vmx_vmcs_free(v->vmcs);
}

/* ---- Costs ------------------------------------------------------------- */

static uint32_t vmx_cost(const struct sim_vcpu *v, enum sim_vmx_cost c)
{
    return sim_vmx_cost(v->vm->host, c);
}

/* ---- Exit handlers ------------------------------------------------------- */

/* The VMM completed the exiting instruction: retire it, move past it, and
 * end an STI/MOV-SS shadow it ran in (as KVM's skip does). */
static void skip_instruction(struct sim_vcpu *v)
{
    uint64_t intr = vmcs_get(v, VMCS_GUEST_INTERRUPTIBILITY);

    if (intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS)) {
        vmcs_put(v, VMCS_ENC_GUEST_INTERRUPTIBILITY,
                 intr & ~(uint64_t)(VMX_INTERRUPTIBILITY_STI |
                                    VMX_INTERRUPTIBILITY_MOV_SS));
    }
    cpu_retire(v->cpu, 1);
    vmx_vmcs_set_guest_rip(v->vmcs,
                           v->exit.guest_rip + v->exit.insn_len);
}

/* Queues an exception for delivery at the next VM entry. */
static void inject_exception(struct sim_vcpu *v, unsigned vector,
                             int64_t error)
{
    uint64_t info = vector |
                    (VMX_INTR_TYPE_HW_EXCEPTION << VMX_INTR_TYPE_SHIFT) |
                    VMX_INTR_VALID;

    if (error >= 0) {
        info |= VMX_INTR_ERROR_CODE;
        vmcs_put(v, VMCS_ENC_ENTRY_EXCEPTION_ERROR_CODE, (uint64_t)error);
    }
    vmcs_put(v, VMCS_ENC_ENTRY_INTR_INFO, info);
}

static enum vmexit_action vmm_stop(struct sim_vcpu *v, enum sim_stop *stop,
                                   enum sim_stop why, char *message)
{
    g_free(v->vm->stop_message);
    v->vm->stop_message = message;
    *stop = why;
    return VMEXIT_TO_HOST;
}

/* Port accesses the guest makes, with the device cost of each. */
static uint64_t port_in(struct sim_vcpu *v, uint16_t port, unsigned size)
{
    return sim_device_access(v, TRACE_EVENT_IO_READ, port, size, 0, true);
}

static void port_out(struct sim_vcpu *v, uint16_t port, unsigned size,
                     uint64_t value)
{
    sim_device_access(v, TRACE_EVENT_IO_WRITE, port, size, value, true);
}

/* A fault of INS/OUTS's memory access, injected with RIP at the
 * instruction (SDM 3C "Event Injection"; CR2 first for #PF). */
static enum vmexit_action string_fault(struct sim_vcpu *v, uint64_t la,
                                       const struct cpu_linear_fault *fault)
{
    if (fault->vector == CPU_EXC_PF) {
        cpu_set_cr2(v->cpu, la);
    }
    inject_exception(v, fault->vector, fault->error);
    return VMEXIT_RESUME;
}

/*
 * INS/OUTS under the VMM: the data moves between the port and guest
 * memory at the guest-linear address the exit reported, element by
 * element through the guest's paging, with rSI/rDI/rCX updated as the
 * instruction would (SDM 2B INS/OUTS; instruction information per the fact
 * sheet §8).  A translation fault is injected with the registers showing
 * the progress so far, so the guest restarts the instruction.  A long REP
 * stops between iterations, as the CPU's own string loop does, when the
 * slice's budget, the next event's time or the time limit is reached, an
 * interrupt is pending or a stop was asked for: the guest re-enters at the
 * instruction and exits again for the rest.  Each iteration retires as one
 * instruction, as on the interpreter.
 */
static enum vmexit_action io_string(struct sim_vcpu *v, uint64_t qual,
                                    enum sim_stop *stop)
{
    struct cpu *cpu = v->cpu;
    unsigned size = (unsigned)(qual & 7) + 1;
    bool in = qual & VMX_IOQ_IN, rep = qual & VMX_IOQ_REP;
    uint16_t port = (uint16_t)(qual >> VMX_IOQ_PORT_SHIFT);
    uint64_t info = v->exit.insn_info;
    uint64_t amask = ((info >> 7) & 7) == 2 ? ~UINT64_C(0) : 0xffffffffu;
    int64_t step = (vmcs_get(v, VMCS_GUEST_RFLAGS) & CPU_FLAG_DF)
                       ? -(int64_t)size
                       : (int64_t)size;
    uint64_t la = v->exit.guest_linear;
    enum cpu_gpr idx = in ? CPU_RDI : CPU_RSI;
    uint64_t count = rep ? cpu_gpr(cpu, CPU_RCX) & amask : 1;
    uint64_t deadline = sim_run_deadline(v->vm->host);
    const struct sim_profile *prof = &v->vm->host->cfg->profile;
    uint64_t element_cost = (uint64_t)prof->costs[CPU_COST_IO] +
                            prof->costs[CPU_COST_STRING];

    /* The qualification's size field is 0, 1 or 3 (fact sheet §8). */
    if (size != 1 && size != 2 && size != 4) {
        return vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                        g_strdup_printf("I/O exit with access size %u at "
                                        "rip 0x%" PRIx64,
                                        size, v->exit.guest_rip));
    }
    for (uint64_t n = 0; n < count; n++) {
        uint8_t buf[4];
        uint64_t value = 0;
        struct cpu_linear_fault fault;

        if (n > 0 && (cpu_icount(cpu) >= v->slice_end ||
                      cpu_cycles(cpu) >= deadline ||
                      cpu_interrupt_pending(cpu) ||
                      v->vm->host->stop_requested)) {
            /* Not done: the guest resumes at the instruction. */
            return VMEXIT_RESUME;
        }
        /* INS probes its destination first, as the CPU does, so that a
         * fault does not lose the value the port returned. */
        if (in && !cpu_guest_linear_access(cpu, la, NULL, size, true, &fault)) {
            return string_fault(v, la, &fault);
        }
        if (in) {
            value = port_in(v, port, size);
            memcpy(buf, &value, size);
            if (!cpu_guest_linear_access(cpu, la, buf, size, true, &fault)) {
                return string_fault(v, la, &fault);
            }
        } else {
            if (!cpu_guest_linear_access(cpu, la, buf, size, false, &fault)) {
                return string_fault(v, la, &fault);
            }
            memcpy(&value, buf, size);
            port_out(v, port, size, value);
        }
        la += (uint64_t)step;
        cpu_set_gpr(cpu, idx,
                    (cpu_gpr(cpu, idx) & ~amask) |
                        ((cpu_gpr(cpu, idx) + (uint64_t)step) & amask));
        if (rep) {
            cpu_set_gpr(cpu, CPU_RCX,
                        (cpu_gpr(cpu, CPU_RCX) & ~amask) |
                            ((cpu_gpr(cpu, CPU_RCX) - 1) & amask));
        }
        if (v->vm->exited) {
            break;
        }
        if (n + 1 < count) {
            cpu_retire(cpu, 1); /* the last one retires with the skip */
            /* The exit pays for the first element; the VMM moves each
             * further one at the CPU's own port and string costs (a
             * modelling choice: no published per-element figure). */
            sim_charge(v, SIM_BUCKET_VMM, element_cost);
        }
    }
    skip_instruction(v);
    if (v->vm->exited) {
        *stop = SIM_STOP_EXIT;
        return VMEXIT_TO_HOST;
    }
    return VMEXIT_RESUME;
}

/* Exit 30: an I/O instruction (qualification per the fact sheet §8). */
static enum vmexit_action vmm_exit_io(struct sim_vcpu *v,
                                      enum sim_stop *stop)
{
    uint64_t qual = v->exit.qualification;
    unsigned size = (unsigned)(qual & 7) + 1;
    uint16_t port = (uint16_t)(qual >> VMX_IOQ_PORT_SHIFT);
    uint64_t rax = cpu_gpr(v->cpu, CPU_RAX);

    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_IO));
    if (qual & VMX_IOQ_STRING) {
        return io_string(v, qual, stop);
    }
    if (qual & VMX_IOQ_IN) {
        uint64_t value = port_in(v, port, size);

        /* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
        if (size == 4) {
            rax = (uint32_t)value;
        } else {
            uint64_t mask = size == 1 ? 0xff : 0xffff;

            rax = (rax & ~mask) | (value & mask);
        }
        cpu_set_gpr(v->cpu, CPU_RAX, rax);
    } else {
        port_out(v, port, size,
                 rax & (size == 4   ? 0xffffffffu
                        : size == 2 ? 0xffffu
                                    : 0xffu));
    }
    skip_instruction(v);
    if (v->vm->exited) {
        *stop = SIM_STOP_EXIT;
        return VMEXIT_TO_HOST;
    }
    return VMEXIT_RESUME;
}

/*
 * Completes the trapped instruction (an MMIO or APIC-page access at
 * guest-physical @gpa) on the interpreter, its accesses sent to the
 * devices.  Returns: true, or false with *stop and the message set.
 */
static bool emulate_trapped(struct sim_vcpu *v, enum sim_stop *stop,
                            uint64_t gpa)
{
    enum cpu_stop_reason why;

    v->emulating = true;
    why = cpu_vmx_emulate_mmio(v->cpu);
    v->emulating = false;
    if (why == CPU_STOP_UNSUPPORTED) {
        const char *detail = cpu_stop_detail(v->cpu);

        vmm_stop(v, stop, SIM_STOP_UNSUPPORTED,
                 g_strdup(detail != NULL ? detail : "?"));
        return false;
    }
    if (why == CPU_STOP_VMEXIT) {
        vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                 g_strdup_printf("emulating the access at guest-physical "
                                 "0x%" PRIx64 " caused exit %s",
                                 gpa,
                                 vmx_exit_reason_name(
                                     vmcs_get(v, VMCS_EXIT_REASON) & 0xffff)));
        return false;
    }
    return true;
}

/*
 * Exit 48: EPT violation.  Guest RAM is fully mapped (below the PCI hole
 * and above 4 GiB), so an access outside it is device memory (or nothing): the faulting instruction runs once on
 * the interpreter with the access sent to the MMIO bus (which reads
 * all-ones and drops writes where no device is, counting them).
 */
static enum vmexit_action vmm_exit_ept_violation(struct sim_vcpu *v,
                                                 enum sim_stop *stop)
{
    uint64_t gpa = v->exit.guest_physical;
    uint64_t mpa;

    if (sim_vm_gpa_ram(v->vm, gpa, 1, &mpa)) {
        return vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                        g_strdup_printf("EPT violation at guest-physical "
                                        "0x%" PRIx64 ", which is RAM "
                                        "(qualification 0x%" PRIx64 ")",
                                        gpa, v->exit.qualification));
    }
    if (v->exit.qualification & VMX_EPTQ_FETCH) {
        return vmm_stop(v, stop, SIM_STOP_UNSUPPORTED,
                        g_strdup_printf("instruction fetch from "
                                        "guest-physical 0x%" PRIx64
                                        ", which is not RAM (executing "
                                        "device memory is not modelled), "
                                        "at rip 0x%" PRIx64,
                                        gpa, v->exit.guest_rip));
    }
    sim_charge(v, SIM_BUCKET_VMM,
               vmx_cost(v, SIM_VMX_IO) + vmx_cost(v, SIM_VMX_MMIO_EMULATE));
    if (!emulate_trapped(v, stop, gpa)) {
        return VMEXIT_TO_HOST;
    }
    if (v->vm->exited) {
        *stop = SIM_STOP_EXIT;
        return VMEXIT_TO_HOST;
    }
    return VMEXIT_RESUME;
}

/*
 * Exit 44: an access to the APIC-access page (apicv = off).  The VMM
 * completes the instruction on the interpreter with the access sent to
 * the local APIC, as for MMIO, at its own (cheaper) handler's cost.  An
 * instruction fetch from the page is not modelled.
 */
static enum vmexit_action vmm_exit_apic_access(struct sim_vcpu *v,
                                               enum sim_stop *stop)
{
    uint64_t qual = v->exit.qualification;
    unsigned type = (unsigned)(qual >> 12) & 0xf;

    if (type != 0 && type != 1) {
        return vmm_stop(v, stop, SIM_STOP_UNSUPPORTED,
                        g_strdup_printf("APIC access of type %u (an "
                                        "instruction fetch or an access "
                                        "during event delivery) at offset "
                                        "0x%03x, rip 0x%" PRIx64,
                                        type, (unsigned)(qual & 0xfff),
                                        v->exit.guest_rip));
    }
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_APIC_ACCESS));
    return emulate_trapped(v, stop, VMM_LAPIC_GPA | (qual & 0xfff))
               ? VMEXIT_RESUME
               : VMEXIT_TO_HOST;
}

static enum vmexit_action vmm_exit_ept_misconfig(struct sim_vcpu *v,
                                                 enum sim_stop *stop)
{
    return vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                    g_strdup_printf("EPT misconfiguration at guest-physical "
                                    "0x%" PRIx64,
                                    v->exit.guest_physical));
}

/* Exit 10: CPUID, answered from the CPU model with the hypervisor bit
 * (leaf 1 ECX bit 31) and the 0x40000000 leaf naming the VMM. */
static enum vmexit_action vmm_exit_cpuid(struct sim_vcpu *v,
                                         enum sim_stop *stop)
{
    struct cpu *cpu = v->cpu;
    uint32_t leaf = (uint32_t)cpu_gpr(cpu, CPU_RAX);
    uint32_t r[4];

    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_CPUID));
    if (leaf == 0x40000000) {
        r[0] = 0x40000000;
        memcpy(&r[1], "iovs", 4);
        memcpy(&r[2], "imVM", 4);
        memcpy(&r[3], "M\0\0\0", 4);
    } else {
        cpu_cpuid(cpu, leaf, (uint32_t)cpu_gpr(cpu, CPU_RCX), r);
        if (leaf == 1) {
            r[2] |= 1u << 31;
        }
    }
    cpu_set_gpr(cpu, CPU_RAX, r[0]);
    cpu_set_gpr(cpu, CPU_RBX, r[1]);
    cpu_set_gpr(cpu, CPU_RCX, r[2]);
    cpu_set_gpr(cpu, CPU_RDX, r[3]);
    skip_instruction(v);
    return VMEXIT_RESUME;
}

/*
 * Exit 18: VMCALL.  The hypercall number is in RAX, the result goes back
 * in RAX: 0 is the null hypercall (returns 0, for measuring the round
 * trip); anything else returns -ENOSYS (-38), as Linux's KVM does.
 */
static enum vmexit_action vmm_exit_vmcall(struct sim_vcpu *v,
                                          enum sim_stop *stop)
{
    uint64_t nr = cpu_gpr(v->cpu, CPU_RAX);

    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_VMCALL));
    cpu_set_gpr(v->cpu, CPU_RAX, nr == 0 ? 0 : (uint64_t)(int64_t)-38);
    skip_instruction(v);
    return VMEXIT_RESUME;
}

/* ---- Virtual interrupts ------------------------------------------------ */

static void virq_set(struct sim_vcpu *v, unsigned vector)
{
    v->virq[vector / 64] |= UINT64_C(1) << (vector % 64);
}

/* The host interrupts turned virtual (the timer device's). */
static bool virq_held(const struct sim_vcpu *v)
{
    const uint64_t *q = v->virq;

    return (q[0] | q[1] | q[2] | q[3]) != 0;
}

bool sim_vmm_virq_pending(const struct sim_vcpu *v)
{
    return virq_held(v) || v->apic_pending;
}

static unsigned virq_take(struct sim_vcpu *v)
{
    for (int w = 3; w >= 0; w--) {
        if (v->virq[w] != 0) {
            unsigned bit = 63 - (unsigned)__builtin_clzll(v->virq[w]);

            v->virq[w] &= ~(UINT64_C(1) << bit);
            return (unsigned)w * 64 + bit;
        }
    }
    return 0;
}

/* The guest could take an interrupt now: RFLAGS.IF and no blocking. */
static bool guest_interruptible(struct sim_vcpu *v)
{
    return (vmcs_get(v, VMCS_GUEST_RFLAGS) & CPU_FLAG_IF) &&
           (vmcs_get(v, VMCS_GUEST_INTERRUPTIBILITY) &
            (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS)) == 0;
}

bool sim_vmm_guest_can_wake(struct sim_vcpu *v)
{
    return (vmcs_get(v, VMCS_GUEST_RFLAGS) & CPU_FLAG_IF) != 0;
}

static void set_window_exiting(struct sim_vcpu *v, bool on)
{
    uint64_t ctls = vmcs_get(v, VMCS_PROC_BASED_CTLS);
    uint64_t want = on ? ctls | VMX_PROC_INTR_WINDOW_EXITING
                       : ctls & ~(uint64_t)VMX_PROC_INTR_WINDOW_EXITING;

    if (want != ctls) {
        vmcs_put(v, VMCS_ENC_PROC_BASED_CTLS, want);
    }
}

/*
 * Before each VM entry: the highest virtual interrupt is injected if the
 * guest can take it (SDM 3C "Event Injection": VM entry fails for an
 * external interrupt under IF = 0 or STI/MOV-SS blocking), else
 * interrupt-window exiting asks for an exit as soon as it can (exit 7).
 * A host interrupt still pending is not taken here: with
 * "external-interrupt exiting" the entry exits at once (exit 1) and pays
 * for it, as a host interrupt that arrives while the guest runs does (the
 * device events of the scheduler fire between slices).
 */
static void vmm_prepare_interrupts(struct sim_vcpu *v)
{
    unsigned vector;

    if (!sim_vmm_virq_pending(v) ||
        (vmcs_get(v, VMCS_ENTRY_INTR_INFO) & VMX_INTR_VALID)) {
        return;
    }
    if (!guest_interruptible(v)) {
        set_window_exiting(v, true);
        return;
    }
    /* The timer device's interrupts first, then the local APIC's, which
     * is acknowledged as the CPU would (IRR to ISR). */
    vector = virq_held(v) ? virq_take(v)
                          : dev_lapic_ack(v->vm->lapic, v->index);
    vmcs_put(v, VMCS_ENC_ENTRY_INTR_INFO,
             vector | (VMX_INTR_TYPE_EXT_INTR << VMX_INTR_TYPE_SHIFT) |
                 VMX_INTR_VALID);
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_INJECT));
    set_window_exiting(v, sim_vmm_virq_pending(v));
}

/* Exit 1: a host interrupt, acknowledged on exit: the vector is in the
 * exit interruption information.  It becomes a virtual interrupt. */
static enum vmexit_action vmm_exit_external_interrupt(struct sim_vcpu *v,
                                                      enum sim_stop *stop)
{
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_OTHER));
    if (v->exit.intr_info & VMX_INTR_VALID) {
        virq_set(v, v->exit.intr_info & VMX_INTR_VECTOR_MASK);
    }
    return VMEXIT_RESUME;
}

/* Exit 7: the guest can take interrupts again; the entry injects. */
static enum vmexit_action vmm_exit_interrupt_window(struct sim_vcpu *v,
                                                    enum sim_stop *stop)
{
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_OTHER));
    set_window_exiting(v, false);
    return VMEXIT_RESUME;
}

/*
 * Exit 12: HLT.  The guest sleeps until an interrupt: with one pending it
 * is injected at once; otherwise the machine idles to its next event (the
 * VMM blocks the vCPU, as KVM does).
 */
static enum vmexit_action vmm_exit_hlt(struct sim_vcpu *v,
                                       enum sim_stop *stop)
{
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_HLT));
    skip_instruction(v);
    if (sim_vmm_virq_pending(v) || cpu_interrupt_pending(v->cpu)) {
        return VMEXIT_RESUME;
    }
    v->halted = true;
    return VMEXIT_IDLE;
}

/*
 * Exits 31/32: an MSR the bitmap traps.  The VM's local APIC emulates its
 * own (IA32_TSC_DEADLINE); any other is one the model lacks: #GP(0).
 */
static enum vmexit_action vmm_exit_msr(struct sim_vcpu *v,
                                       enum sim_stop *stop)
{
    struct cpu *cpu = v->cpu;
    uint32_t msr = (uint32_t)cpu_gpr(cpu, CPU_RCX);
    struct dev *lapic = v->vm->lapic;
    bool write = (v->exit.reason & 0xffff) == VMX_EXIT_WRMSR;
    uint64_t val = 0;

    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_OTHER));
    if (write && lapic != NULL &&
        dev_lapic_msr_write(lapic, v->index, msr,
                            (cpu_gpr(cpu, CPU_RDX) & 0xffffffff) << 32 |
                                (cpu_gpr(cpu, CPU_RAX) & 0xffffffff))) {
        skip_instruction(v);
        return VMEXIT_RESUME;
    }
    if (!write && lapic != NULL &&
        dev_lapic_msr_read(lapic, v->index, msr, &val)) {
        cpu_set_gpr(cpu, CPU_RAX, val & 0xffffffff);
        cpu_set_gpr(cpu, CPU_RDX, val >> 32);
        skip_instruction(v);
        return VMEXIT_RESUME;
    }
    inject_exception(v, CPU_EXC_GP, 0);
    return VMEXIT_RESUME;
}

/* VMX instructions in the guest: nested VMX is not offered, #UD. */
static enum vmexit_action vmm_exit_vmx_insn(struct sim_vcpu *v,
                                            enum sim_stop *stop)
{
    sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_OTHER));
    inject_exception(v, CPU_EXC_UD, -1);
    return VMEXIT_RESUME;
}

static enum vmexit_action vmm_exit_triple_fault(struct sim_vcpu *v,
                                                enum sim_stop *stop)
{
    const char *detail = cpu_stop_detail(v->cpu);

    return vmm_stop(
        v, stop, SIM_STOP_TRIPLE_FAULT,
        g_strdup_printf("VM exit 2 at rip 0x%" PRIx64 ": %s",
                        v->exit.guest_rip,
                        detail != NULL ? detail : "no explanation"));
}

/*
 * One handler per basic exit reason; a reason without one stops the run
 * naming it.  Contract: see enum vmexit_action.
 */
static vmexit_handler_fn *const vmexit_handlers[SIM_NEXIT_REASONS] = {
    [VMX_EXIT_EXTERNAL_INTERRUPT] = vmm_exit_external_interrupt,
    [VMX_EXIT_TRIPLE_FAULT] = vmm_exit_triple_fault,
    [VMX_EXIT_INTERRUPT_WINDOW] = vmm_exit_interrupt_window,
    [VMX_EXIT_CPUID] = vmm_exit_cpuid,
    [VMX_EXIT_HLT] = vmm_exit_hlt,
    [VMX_EXIT_VMCALL] = vmm_exit_vmcall,
    [VMX_EXIT_VMCLEAR] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMLAUNCH] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMPTRLD] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMPTRST] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMREAD] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMRESUME] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMWRITE] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMXOFF] = vmm_exit_vmx_insn,
    [VMX_EXIT_VMXON] = vmm_exit_vmx_insn,
    [VMX_EXIT_INVEPT] = vmm_exit_vmx_insn,
    [VMX_EXIT_INVVPID] = vmm_exit_vmx_insn,
    [VMX_EXIT_IO_INSTRUCTION] = vmm_exit_io,
    [VMX_EXIT_RDMSR] = vmm_exit_msr,
    [VMX_EXIT_WRMSR] = vmm_exit_msr,
    [VMX_EXIT_EPT_VIOLATION] = vmm_exit_ept_violation,
    [VMX_EXIT_APIC_ACCESS] = vmm_exit_apic_access,
    [VMX_EXIT_EPT_MISCONFIG] = vmm_exit_ept_misconfig,
};

/* ---- The loop ---------------------------------------------------------- */

bool sim_vmm_run_slice(struct sim_vcpu *v, uint64_t budget,
                       enum sim_stop *stop)
{
    struct sim_vm *vm = v->vm;
    struct sim_machine *m = vm->host;
    uint64_t end = cpu_icount(v->cpu) + budget;

    v->slice_end = end;

    while (cpu_icount(v->cpu) < end) {
        const char *why = NULL;
        enum cpu_vmentry_status es;
        enum cpu_stop_reason r;
        unsigned reason;
        uint64_t c0, t_exit;
        enum vmexit_action act;

        if (SIM_UNLIKELY(cpu_interrupt_pending(v->cpu) ||
                         sim_vmm_virq_pending(v))) {
            vmm_prepare_interrupts(v);
        }
        es = cpu_vmentry(v->cpu, v->vmcs, &why);
        if (es != CPU_VMENTRY_OK) {
            vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                     g_strdup_printf("VM entry failed (%s): %s",
                                     es == CPU_VMENTRY_FAIL_CONTROLS
                                         ? "VM-instruction error 7, invalid "
                                           "control fields"
                                         : "exit reason 33, invalid guest "
                                           "state",
                                     why != NULL ? why : "?"));
            return false;
        }
        r = cpu_run(v->cpu, end - cpu_icount(v->cpu));
        if (r != CPU_STOP_VMEXIT) {
            /* Back to the host without an exit: a slice boundary or a
             * stop the native loop also knows.  Keep the VMCS current. */
            cpu_vmx_save_guest_state(v->cpu, v->vmcs);
            switch (r) {
            case CPU_STOP_BUDGET:
            case CPU_STOP_DEADLINE:
                return true;
            case CPU_STOP_REQUEST:
                *stop = SIM_STOP_INTERRUPTED;
                return false;
            case CPU_STOP_HALT:
                /* HLT without HLT exiting: the guest waits as well. */
                v->halted = true;
                return true;
            case CPU_STOP_TRIPLE_FAULT:
                *stop = SIM_STOP_TRIPLE_FAULT;
                return false;
            case CPU_STOP_UNSUPPORTED:
                *stop = SIM_STOP_UNSUPPORTED;
                return false;
            default:
                *stop = SIM_STOP_EXCEPTION;
                return false;
            }
        }
        vmx_vmcs_exit_info(v->vmcs, &v->exit);
        reason = v->exit.reason & 0xffff;
        c0 = v->buckets[SIM_BUCKET_VMM] + v->buckets[SIM_BUCKET_DEVICE_MODEL];
        t_exit = cpu_cycles(v->cpu);
        if (SIM_UNLIKELY(m->trace != NULL)) {
            sim_trace_exit_begin(m);
        }
        sim_charge(v, SIM_BUCKET_VMM, vmx_cost(v, SIM_VMX_EXIT_ENTRY));
        if (reason >= SIM_NEXIT_REASONS || vmexit_handlers[reason] == NULL) {
            m->trace_deferring = false;
            vmm_stop(v, stop, SIM_STOP_VMM_ERROR,
                     g_strdup_printf("unhandled VM exit %u (%s) at rip "
                                     "0x%" PRIx64 ", qualification 0x%" PRIx64,
                                     reason, vmx_exit_reason_name(reason),
                                     v->exit.guest_rip,
                                     v->exit.qualification));
            return false;
        }
        act = vmexit_handlers[reason](v, stop);
        c0 = v->buckets[SIM_BUCKET_VMM] + v->buckets[SIM_BUCKET_DEVICE_MODEL] -
             c0;
        vm->exits[reason]++;
        vm->exit_cycles[reason] += c0;
        if (SIM_UNLIKELY(m->trace != NULL)) {
            uint64_t q = v->exit.qualification;

            if (reason == VMX_EXIT_IO_INSTRUCTION) {
                sim_trace_exit(v, t_exit, reason, q >> VMX_IOQ_PORT_SHIFT,
                               (unsigned)(q & 7) + 1, c0);
            } else {
                sim_trace_exit(v, t_exit, reason, v->exit.guest_physical, 0,
                               c0);
            }
        }
        if (act == VMEXIT_TO_HOST) {
            return false;
        }
        if (act == VMEXIT_IDLE) {
            return true;
        }
        if (m->stop_requested) {
            *stop = SIM_STOP_INTERRUPTED;
            return false;
        }
    }
    return true;
}
