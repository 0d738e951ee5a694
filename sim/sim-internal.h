/*
 * sim/sim-internal.h: the body of struct sim_machine, shared by the files
 * of sim/ that build it (machine.c) and run it (run.c).  Nothing outside
 * sim/ includes this.
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

/* The VMM's side of an hvm machine (sim/vmm.c). */
struct sim_vmm {
    struct vmx_vmcs *vmcs;
    struct mmu_ept_builder *ept;
    uint64_t page_next, page_end; /* VMM pages in machine memory */
    uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap;
    struct vmx_exit exit;         /* the exit being handled */
    uint64_t slice_end;           /* icount at which the slice ends */
    uint64_t virq[4];             /* virtual interrupts for the guest */
    bool emulating;               /* a trapped MMIO instruction runs */
    uint64_t exits[SIM_NEXIT_REASONS];
    uint64_t exit_cycles[SIM_NEXIT_REASONS];
    char *stop_message;           /* why the VMM stopped the guest */
};

/* Instructions per cpu_run() slice; limits are checked between slices. */
#define SIM_SLICE_INSNS UINT64_C(10000000)
/* In-memory console cap; output beyond it is counted, still sent on. */
#define SIM_CONSOLE_MAX ((size_t)64 << 20)

struct sim_machine {
    struct sim_config *cfg;

    uint8_t *mem;        /* machine memory: guest RAM at guest_base */
    uint64_t mem_size;
    uint64_t guest_base; /* 0 for native machines */
    uint8_t *ram;        /* guest RAM = mem + guest_base */
    uint64_t ram_size;
    uint64_t pt_base; /* lowest address of the page tables */
    struct sim_elf_image image;

    struct cpu *cpu;
    struct bus_space *io;
    struct bus_space *mmio;
    GPtrArray *devices; /* struct dev *, in start-up order */

    GString *console;
    uint64_t console_bytes;
    uint64_t console_dropped;
    FILE *console_sink; /* borrowed, may be NULL */
    int console_errno;  /* first failed write to the sink; 0: none */

    bool exited;
    uint32_t exit_status;
    volatile sig_atomic_t stop_requested;

    enum sim_stop last_stop;
    bool has_stopped;
    uint64_t limit_cycles; /* limits.time in cycles; 0: none */
    uint64_t host_ns;

    struct sim_vmm vmm;                  /* hvm only */

    /* Tracing (traces/): NULL when no database was asked for. */
    struct trace_db *trace;
    int64_t trace_run;
    GError *trace_error; /* why the last run's trace is not whole, or NULL */
    /* While the VMM handles an exit, the device accesses it causes wait
     * here, to be recorded after the exit (sim_trace_exit). */
    bool trace_deferring;
    GArray *trace_deferred; /* struct trace_event */
    GArray *sched;                       /* struct sim_event heap */
    uint64_t sched_seq;
    bool halted;                         /* the vCPU waits for an interrupt */
    uint64_t buckets[SIM_NBUCKETS];      /* cycles other than the guest's */
};

/* Charges @cycles to bucket @b: the vCPU's clock advances by them. */
static inline void sim_charge(struct sim_machine *m, enum sim_bucket b,
                              uint64_t cycles)
{
    m->buckets[b] += cycles;
    cpu_add_cycles(m->cpu, cycles);
}

/*
 * sim/machine.c: one guest access to a device, port (TRACE_EVENT_IO_*) or
 * MMIO (TRACE_EVENT_MMIO_*), natively or from the VMM: one bus lookup
 * gives the region, its trap cost (charged when @trapped) and its trace
 * id.  Writes take @val.
 * Returns: the value read (writes: @val).
 */
uint64_t sim_device_access(struct sim_machine *m, enum trace_event_kind kind,
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
void sim_trace_exit(struct sim_machine *m, uint64_t time, unsigned reason,
                    uint64_t addr, unsigned size, uint64_t cost);
/* Ends the traced run: counters, totals, complete = 1. */
void sim_trace_run_end(struct sim_machine *m, enum sim_stop stop);

/* sim/run.c: the cycle at which the vCPU must stop running: the next
 * event or the time limit, whichever comes first (UINT64_MAX: none). */
uint64_t sim_run_deadline(const struct sim_machine *m);

/* sim/sched.c */
uint64_t sim_sched_next(const struct sim_machine *m); /* UINT64_MAX: none */
void sim_sched_run_due(struct sim_machine *m, uint64_t now);
void sim_sched_free(struct sim_machine *m);

/* sim/vmm.c */
bool sim_vmm_init(struct sim_machine *m, GError **error);
void sim_vmm_destroy(struct sim_machine *m);
/*
 * Runs the guest up to @budget instructions under the VMM, handling exits.
 * Returns: true to go on (a slice ended), false when the run must stop
 * with *stop set.
 */
bool sim_vmm_run_slice(struct sim_machine *m, uint64_t budget,
                       enum sim_stop *stop);
/* Halted guest: could an interrupt be delivered (guest RFLAGS.IF)?  Does
 * the VMM hold a virtual interrupt for it? */
bool sim_vmm_guest_can_wake(struct sim_machine *m);
bool sim_vmm_virq_pending(const struct sim_machine *m);

#endif /* SIM_SIM_SIM_INTERNAL_H */
