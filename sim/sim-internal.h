/*
 * sim/sim-internal.h: the bodies of the host (struct sim_machine), its
 * VMs (struct sim_vm) and their vCPUs (struct sim_vcpu), shared by the
 * files of sim/ that build them (machine.c, vmm.c) and run them (run.c,
 * sched.c).  Nothing outside sim/ includes this.
 */
#ifndef SIM_SIM_SIM_INTERNAL_H
#define SIM_SIM_SIM_INTERNAL_H

#include "sim/common.h"

#include <signal.h>
#include <stdio.h>

#include <glib.h>

#include "bus/bus.h"
#include "cpu/cpu.h"
#include "devices/devices.h"
#include "sim/sim.h"
#include "traces/traces.h"

/* Cost buckets: every cycle of a VM is charged to one of them. */
enum sim_bucket {
    SIM_BUCKET_GUEST,        /* guest instructions */
    SIM_BUCKET_VMM,          /* VM exits, entries and their handlers */
    SIM_BUCKET_DEVICE_MODEL, /* device models, incl. user-space trips */
    SIM_BUCKET_BACKEND,      /* driver-domain backends (none yet: 0) */
    SIM_BUCKET_IDLE,         /* halted */
    SIM_NBUCKETS
};

/* Basic exit reasons the statistics keep (0..SIM_NEXIT_REASONS-1). */
#define SIM_NEXIT_REASONS 80

/* The VMM's pages sit in the first MiBs of machine memory (not page 0). */
#define SIM_VMM_PAGES_START UINT64_C(0x100000)

/* Instructions per cpu_run() slice; limits are checked between slices. */
#define SIM_SLICE_INSNS UINT64_C(10000000)
/* In-memory console cap; output beyond it is counted, still sent on. */
#define SIM_CONSOLE_MAX ((size_t)64 << 20)

struct mmu_ept_builder;
struct sim_vm;

/*
 * One virtual CPU: the CPU model, and under hvm its VMCS and what the VMM
 * keeps of it between entries.  Its local time is its cpu's cycle count.
 */
struct sim_vcpu {
    struct sim_vm *vm; /* borrowed: the VM owns its vCPUs */
    unsigned index;    /* in its VM, from 0 */
    struct cpu *cpu;
    bool halted; /* waits for an interrupt */
    /* Cycles other than the guest's, by bucket (the guest's are the
     * rest of the cpu's cycle count). */
    uint64_t buckets[SIM_NBUCKETS];
    /* hvm */
    struct vmx_vmcs *vmcs;
    struct vmx_exit exit; /* the exit being handled */
    uint64_t slice_end;   /* icount at which the slice ends */
    uint64_t virq[4];     /* virtual interrupts for the guest */
    bool emulating;       /* a trapped MMIO instruction runs */
    bool apic_pending;    /* its local APIC has an interrupt to deliver */
};

/*
 * One VM: its guest-physical memory (RAM at machine-physical guest_base),
 * buses and devices, console and exit status, and under hvm the VMM's
 * per-VM state (EPT, I/O and MSR bitmaps, exit statistics).
 */
struct sim_vm {
    struct sim_machine *host; /* borrowed: the host owns its VMs */
    unsigned id;              /* the trace's vm column, from 0 */
    const char *name;         /* its config's, borrowed */
    enum sim_mode mode;

    uint64_t guest_base; /* machine-physical address of guest RAM */
    uint8_t *ram;        /* host address of guest-physical 0 */
    uint64_t ram_size;   /* all of its RAM */
    /* The memory map: RAM below the PCI hole, and above 4 GiB the rest
     * (host address @high_ram; machine-physical @high_base). */
    uint64_t low_size, high_size;
    uint8_t *high_ram;
    uint64_t high_base;
    uint64_t pt_base;   /* lowest address of the page tables */
    uint64_t fw_base;   /* lowest of the reserved area (firmware.c) */
    uint64_t boot_info; /* guest-physical address of the boot-info block */
    struct sim_elf_image image;

    struct bus_space *io;
    struct bus_space *mmio;
    struct pci_bus *pci; /* bus 0, decoding in @io and @mmio */
    struct dev *lapic;   /* its local APICs, or NULL */
    struct dev *ioapic;  /* its I/O APIC, or NULL */
    GPtrArray *devices; /* struct dev *, in start-up order */
    struct sim_vcpu **vcpus;
    unsigned nvcpus;

    GString *console;
    uint64_t console_bytes;
    uint64_t console_dropped;
    FILE *console_sink; /* borrowed, may be NULL */
    int console_errno;  /* first failed write to the sink; 0: none */
    bool console_line_open; /* the sink's last line has no newline yet */

    bool exited;
    uint32_t exit_status;
    bool stopped;        /* for good: exited, crashed, or halted for ever */
    enum sim_stop stop;  /* why, once stopped (or the run ended) */
    uint64_t nevents;    /* events its devices have scheduled */

    /* hvm: the VMM's side (sim/vmm.c) */
    struct mmu_ept_builder *ept;
    uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap; /* machine-physical */
    uint64_t apic_access_page; /* what EPT maps the APIC page to */
    uint64_t exits[SIM_NEXIT_REASONS];
    uint64_t exit_cycles[SIM_NEXIT_REASONS];
    char *stop_message; /* why the VMM stopped the guest */
    /* MSIs no vCPU could take (a missing APIC ID, a delivery mode the
     * model lacks), and the DMA counters of sim_stats. */
    uint64_t msi_dropped;
    uint64_t dma_reads, dma_writes, dma_bytes, dma_refused;
};

/*
 * The simulated host: machine memory and its page allocator, the VMs, the
 * clock and the event scheduler, the limits and the trace.
 */
struct sim_machine {
    struct sim_config *cfg;

    uint8_t *mem; /* machine memory */
    uint64_t mem_size;
    uint64_t page_next, page_end; /* the VMM's page allocator */
    struct sim_vm **vms;
    unsigned nvms;
    unsigned nvcpus; /* of all VMs */

    /*
     * The one clock: vCPUs run in quanta to quantum_end in a fixed order;
     * @now is where the current quantum started.  While a vCPU runs
     * (@running), the host's time is its local time.
     */
    uint64_t now;
    uint64_t quantum_cycles; /* UINT64_MAX with one vCPU */
    uint64_t quantum_end;
    struct sim_vcpu *running;

    volatile sig_atomic_t stop_requested;
    enum sim_stop last_stop;
    bool has_stopped;
    uint64_t limit_cycles; /* limits.time in cycles; 0: none */
    uint64_t host_ns;

    GArray *sched; /* struct sim_event heap */
    uint64_t sched_seq;

    /* Tracing (traces/): NULL when no database was asked for. */
    struct trace_db *trace;
    int64_t trace_run;
    GError *trace_error; /* why the last run's trace is not whole, or NULL */
    /* While the VMM handles an exit, the device accesses it causes wait
     * here, to be recorded after the exit (sim_trace_exit). */
    bool trace_deferring;
    GArray *trace_deferred; /* struct trace_event */
};

/* Is [@gpa, +@len) all RAM of @vm?  Returns: its machine-physical
 * address in *@mpa if so. */
static inline bool sim_vm_gpa_ram(const struct sim_vm *vm, uint64_t gpa,
                                  uint64_t len, uint64_t *mpa)
{
    if (gpa < vm->low_size && len <= vm->low_size - gpa) {
        *mpa = vm->guest_base + gpa;
        return true;
    }
    if (gpa >= SIM_HIGH_RAM && gpa - SIM_HIGH_RAM < vm->high_size &&
        len <= vm->high_size - (gpa - SIM_HIGH_RAM)) {
        *mpa = vm->high_base + (gpa - SIM_HIGH_RAM);
        return true;
    }
    return false;
}

/* The host's clock: cycles of the simulated core since start. */
static inline uint64_t sim_host_now(const struct sim_machine *m)
{
    return m->running != NULL ? cpu_cycles(m->running->cpu) : m->now;
}

/* The profile's VM-exit cost @c, in cycles. */
static inline uint32_t sim_vmx_cost(const struct sim_machine *m,
                                    enum sim_vmx_cost c)
{
    return m->cfg->profile.vmx[c];
}

/* Charges @cycles to bucket @b: the vCPU's clock advances by them. */
static inline void sim_charge(struct sim_vcpu *v, enum sim_bucket b,
                              uint64_t cycles)
{
    v->buckets[b] += cycles;
    cpu_add_cycles(v->cpu, cycles);
}

/*
 * sim/machine.c: one guest access of @v to a device of its VM, port
 * (TRACE_EVENT_IO_*) or MMIO (TRACE_EVENT_MMIO_*), natively or from the
 * VMM: one bus lookup gives the region, its trap cost (charged when
 * @trapped) and its trace id.  Writes take @val.
 * Returns: the value read (writes: @val).
 */
uint64_t sim_device_access(struct sim_vcpu *v, enum trace_event_kind kind,
                           uint64_t addr, unsigned size, uint64_t val,
                           bool trapped);
/*
 * Records a VM exit that happened at cycle @time, at level exits (and its
 * instruction at full), then the device accesses its handling caused,
 * deferred since sim_trace_exit_begin.
 */
static inline void sim_trace_exit_begin(struct sim_machine *m)
{
    m->trace_deferring = true;
}
void sim_trace_exit(struct sim_vcpu *v, uint64_t time, unsigned reason,
                    uint64_t addr, unsigned size, uint64_t cost);
/* Ends the traced run: counters, totals, complete = 1. */
void sim_trace_run_end(struct sim_machine *m, enum sim_stop stop);

/* sim/run.c: the cycle at which the running vCPU must stop: the end of
 * its quantum (no later than the next event and the time limit). */
uint64_t sim_run_deadline(const struct sim_machine *m);

/*
 * sim/firmware.c: the ACPI tables, modules, command line and boot-info
 * block of @vm below its page tables (vm->pt_base set); sets
 * vm->fw_base and vm->boot_info.  Returns: true, or false with @error.
 */
bool sim_firmware_build(struct sim_vm *vm, const struct sim_vm_config *vc,
                        GError **error);

/* sim/sched.c */
uint64_t sim_sched_next(const struct sim_machine *m); /* UINT64_MAX: none */
void sim_sched_run_due(struct sim_machine *m, uint64_t now);
void sim_sched_free(struct sim_machine *m);

/* sim/vmm.c: the VMM's side of a VM and of each of its vCPUs. */
bool sim_vmm_vm_init(struct sim_vm *vm, GError **error);
void sim_vmm_vm_destroy(struct sim_vm *vm);
bool sim_vmm_vcpu_init(struct sim_vcpu *v, GError **error);
void sim_vmm_vcpu_destroy(struct sim_vcpu *v);
/*
 * Runs @v up to @budget instructions under the VMM, handling exits.
 * Returns: true to go on (a slice ended), false when the run must stop
 * with *stop set.
 */
bool sim_vmm_run_slice(struct sim_vcpu *v, uint64_t budget,
                       enum sim_stop *stop);
/* Halted guest: could an interrupt be delivered (guest RFLAGS.IF)?  Does
 * the VMM hold a virtual interrupt for it? */
bool sim_vmm_guest_can_wake(struct sim_vcpu *v);
bool sim_vmm_virq_pending(const struct sim_vcpu *v);

#endif /* SIM_SIM_SIM_INTERNAL_H */
