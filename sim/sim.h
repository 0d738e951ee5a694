/*
 * sim/sim.h: the machine and everything that sets it up.
 *
 * A struct sim_machine owns all run-time state (STYLE rule 3): guest RAM,
 * the CPU, the port-I/O and MMIO spaces, the devices, the console buffer,
 * the configuration and the statistics.  It is built from a
 * struct sim_config (an experiment file, sim/config.c), loads the guest
 * ELF (sim/loader.c), lays out the guest ABI (identity page tables at the
 * top of RAM) and runs the CPU in slices until the guest exits, a limit is
 * reached or something stops it (sim/run.c).
 */
#ifndef SIM_SIM_SIM_H
#define SIM_SIM_SIM_H

#include "sim/common.h"

#include <stdio.h>

#include <glib.h>

#include "bus/bus.h"
#include "cpu/cpu.h"

#define SIM_VERSION "0.1.0"

/* Errors of sim/: configuration, profiles, ELF loading, machine set-up. */
#define SIM_ERROR (sim_error_quark())
GQuark sim_error_quark(void);

enum sim_error {
    SIM_ERROR_CONFIG,        /* syntax, unknown section or key, bad value */
    SIM_ERROR_UNSUPPORTED,   /* a valid request for what is not built yet */
    SIM_ERROR_FILE,          /* a file cannot be found, opened or read */
    SIM_ERROR_ELF_NOT_ELF,   /* no ELF magic */
    SIM_ERROR_ELF_CLASS,     /* ELF32 (or another class), not ELF64 */
    SIM_ERROR_ELF_TYPE,      /* not little-endian x86-64 ET_EXEC */
    SIM_ERROR_ELF_TRUNCATED, /* a header or a segment's bytes run past EOF */
    SIM_ERROR_ELF_INVALID,   /* inconsistent headers (sizes, overflow) */
    SIM_ERROR_ELF_RANGE,     /* a segment or the entry is not in usable RAM */
    SIM_ERROR_MACHINE,       /* the machine cannot be built */
};

/* ---- Configuration (sim/config.c) ---------------------------------- */

enum sim_mode {
    SIM_MODE_NATIVE, /* the guest runs on the bare simulated CPU */
    SIM_MODE_HVM,    /* under the VMM in VMX non-root mode, with EPT */
};

/* The devices whose placement a config chooses ([device.NAME]). */
#define SIM_NPLACED_DEVICES 4
const char *sim_placed_device(unsigned i);

/* Where a device model runs (issue: "vmm" or "userspace"). */
enum sim_placement {
    SIM_PLACE_VMM,       /* in the VMM, like an in-kernel device */
    SIM_PLACE_USERSPACE, /* in a device-model process, like qemu-dm */
};

/* RAM size bounds and granule (the guest ABI maps RAM with 2 MiB pages). */
#define SIM_RAM_MIN (UINT64_C(4) << 20)
#define SIM_RAM_MAX (UINT64_C(16) << 30)
#define SIM_RAM_GRANULE (UINT64_C(2) << 20)
/*
 * The guest-physical memory map (README, "Guest ABI"): RAM from 0 up to
 * the PCI hole; [SIM_PCI_HOLE, 4 GiB) holds the ECAM window, BARs and the
 * interrupt controllers; the rest of RAM sits from SIM_HIGH_RAM.
 */
#define SIM_PCI_HOLE UINT64_C(0xb0000000)
#define SIM_HIGH_RAM (UINT64_C(1) << 32)
/* Of @ram_size bytes of RAM, those below the hole. */
static inline uint64_t sim_low_ram(uint64_t ram_size)
{
    return ram_size < SIM_PCI_HOLE ? ram_size : SIM_PCI_HOLE;
}

/*
 * VM-exit costs of a profile's [vmx] section, in cycles.  The handler
 * costs come on top of the hardware exit + entry round trip; see
 * ../shared/calibration.md and the comments in the shipped profiles.
 */
enum sim_vmx_cost {
    SIM_VMX_EXIT_ENTRY,     /* hardware VM exit + VM entry round trip */
    SIM_VMX_CPUID,          /* CPUID exit handler */
    SIM_VMX_VMCALL,         /* hypercall handler */
    SIM_VMX_IO,             /* I/O or MMIO exit handled in the VMM */
    SIM_VMX_MMIO_EMULATE,   /* extra for decoding + emulating an MMIO access */
    SIM_VMX_USERSPACE_TRIP, /* extra to a user-space device model and back */
    SIM_VMX_HLT,            /* HLT exit handler (idle time apart) */
    SIM_VMX_INJECT,         /* injecting an event at VM entry */
    SIM_VMX_OTHER,          /* any other exit's handler */
    SIM_VMX_APIC_ACCESS,    /* APIC-access exit (44) handled in the VMM */
    SIM_VMX_NCOSTS
};
const char *sim_vmx_cost_name(enum sim_vmx_cost c);

/* A CPU profile: sim/profiles/NAME.ini. */
struct sim_profile {
    char *name;        /* "skylake", or the path as written */
    char *path;        /* the file it was read from */
    char *description; /* [cpu] description, or "" */
    uint32_t freq_mhz;
    uint32_t costs[CPU_COST_NCLASSES]; /* cycles, by enum cpu_cost_class */
    uint32_t vmx[SIM_VMX_NCOSTS];      /* cycles, by enum sim_vmx_cost */
};

/* One VM of an experiment: a [vm.NAME] section, or [machine] + [guest]. */
struct sim_vm_config {
    char *name;       /* NAME, or "guest" for a file without [vm.*] */
    enum sim_mode mode;
    uint64_t memory;  /* bytes */
    unsigned vcpus;   /* 1 for now */
    char *program;    /* the guest ELF, resolved to a path that exists */
    char **modules;   /* files loaded for the guest (README, "Guest ABI") */
    unsigned nmodules;
    char *cmdline;    /* its command line, or NULL */
};

/* At most this many VMs (the trace's vm ids fit easily). */
#define SIM_MAX_VMS 256

struct sim_config {
    char *path;    /* the experiment file (or the origin given) */
    char *name;    /* experiment.name */
    uint64_t seed; /* experiment.seed */
    struct sim_vm_config *vms; /* in file order; at least one */
    unsigned nvms;
    unsigned host_cpus;   /* physical CPUs */
    uint64_t quantum_ns;  /* the vCPUs' lockstep quantum */
    uint64_t guest_base; /* hvm: machine-physical address of the first
                          * VM's RAM (the VMM's pages sit below it) */
    uint32_t tsc_mhz;    /* the TSC's rate; the core's is the profile's */
    /* Device-model placement, by sim_placed_device() index. */
    enum sim_placement placement[SIM_NPLACED_DEVICES];
    struct sim_profile profile;
    uint64_t limit_instructions; /* 0: none */
    uint64_t limit_time_ns;      /* simulated time; 0: none */
    char *limit_time_text;       /* as written, e.g. "10ms" */
    char *trace_file;            /* trace.file, or NULL: no database */
    int trace_level;             /* enum trace_level of trace.level */
    char *text;                  /* the experiment file as read */
};

/*
 * Reads the experiment file @path, applies @sets (a NULL-terminated array
 * of "section.key=value" overrides, or NULL) and validates every key.
 * Relative paths in it resolve against the current directory first, then
 * against the file's directory.
 * Returns: the config (sim_config_free), or NULL with @error set
 * (SIM_ERROR_FILE, SIM_ERROR_CONFIG or SIM_ERROR_UNSUPPORTED); the message
 * names the file, the line of the offending key and the key.
 */
struct sim_config *sim_config_load(const char *path, const char *const *sets,
                                   GError **error);
/*
 * The same from text in memory.  @origin stands for the file name in
 * messages and for resolving relative paths; NULL means "<config>" in the
 * current directory.
 */
struct sim_config *sim_config_parse(const char *text, const char *origin,
                                    const char *const *sets, GError **error);
void sim_config_free(struct sim_config *cfg);

/*
 * Loads CPU profile @spec: the name of a shipped profile (looked up as
 * sim/profiles/NAME.ini under the current directory, then under the
 * source tree iovsim was built from) or a path to one (relative paths:
 * current directory, then @base_dir; NULL means ".").  Validation is as
 * strict as for experiment files.
 * Returns: true with @out filled (sim_profile_clear), or false with
 * @error set.
 */
bool sim_profile_load(const char *spec, const char *base_dir,
                      struct sim_profile *out /* out */, GError **error);
void sim_profile_clear(struct sim_profile *profile);

/* ---- Guest loading and the guest ABI (sim/loader.c) ------------------ */

struct sim_elf_segment {
    uint64_t paddr;  /* load address (p_paddr) */
    uint64_t filesz; /* bytes copied from the file */
    uint64_t memsz;  /* bytes occupied; the rest is zeroed */
};

struct sim_elf_image {
    uint64_t entry;
    size_t nsegments;
    struct sim_elf_segment *segments; /* the PT_LOAD segments, in order */
};

/*
 * Loads the ELF64 x86-64 ET_EXEC file @path into @ram (guest-physical 0
 * to @ram_size).  Every PT_LOAD segment must lie below @load_limit (the
 * start of the page tables); the entry point must be inside a loaded
 * executable segment.
 * Returns: true with @out filled (sim_elf_image_clear), or false with
 * @error set: SIM_ERROR_FILE (missing, unreadable), SIM_ERROR_ELF_NOT_ELF,
 * SIM_ERROR_ELF_CLASS (32-bit), SIM_ERROR_ELF_TYPE, SIM_ERROR_ELF_TRUNCATED,
 * SIM_ERROR_ELF_INVALID or SIM_ERROR_ELF_RANGE.  The message starts with
 * @path.  Nothing is written to @ram unless every check passed.
 */
bool sim_elf_load(const char *path, uint8_t *ram, uint64_t ram_size,
                  uint64_t load_limit, struct sim_elf_image *out /* out */,
                  GError **error);
void sim_elf_image_clear(struct sim_elf_image *image);

/*
 * Bytes taken at the top of the RAM below the PCI hole by the
 * identity-mapped page tables of the guest ABI for @ram_size bytes of
 * RAM: one PML4, one PDPT and one page directory per GiB of addresses up
 * to the end of RAM.
 */
uint64_t sim_guest_pt_size(uint64_t ram_size);
/*
 * Writes those page tables into the last pages of the RAM below the hole
 * (@ram is its host address, guest-physical 0): 4-level, 2 MiB pages,
 * P|RW|US, executable, identity-mapping RAM as the memory map lays it
 * out: [0, sim_low_ram()) and, beyond it, [SIM_HIGH_RAM, ...).
 * @ram_size must be a multiple of 2 MiB, from 4 MiB to 16 GiB.
 * Returns: true with *@pt_base (the PML4's address, the lowest address
 * the tables use), or false with @error set (SIM_ERROR_MACHINE).
 */
bool sim_guest_build_page_tables(uint8_t *ram, uint64_t ram_size,
                                 uint64_t *pt_base /* out */, GError **error);

/* ---- The machine (sim/machine.c, sim/run.c) -------------------------- */

struct sim_machine;

/* Why sim_machine_run() returned. */
enum sim_stop {
    SIM_STOP_EXIT,         /* the guest wrote the exit port */
    SIM_STOP_INSN_LIMIT,   /* limits.instructions reached */
    SIM_STOP_TIME_LIMIT,   /* limits.time reached */
    SIM_STOP_INTERRUPTED,  /* sim_machine_request_stop() (SIGINT) */
    SIM_STOP_TRIPLE_FAULT, /* the CPU shut down */
    SIM_STOP_HALTED,       /* hlt, and nothing can ever wake it */
    SIM_STOP_EXCEPTION,    /* the CPU returned an exception exit */
    SIM_STOP_VMM_ERROR,    /* hvm: an exit the VMM cannot handle */
    SIM_STOP_UNSUPPORTED,  /* the guest did what the model does not
                            * implement (executing device memory) */
};

/*
 * Builds the machine @cfg describes (ownership of @cfg passes to the
 * machine, also on failure): RAM, buses, CPU, devices, the guest program
 * and its page tables; the CPU is left at the ELF entry in long mode.
 * Returns: the machine (sim_machine_free), or NULL with @error set.
 */
struct sim_machine *sim_machine_new(struct sim_config *cfg, GError **error);
void sim_machine_free(struct sim_machine *m);

/*
 * Runs the guest in slices of at most 10 M instructions, checking the
 * limits between slices, until one of enum sim_stop happens.  Host time
 * is measured over the CPU slices only.  Calling it again after a stop
 * resumes (and returns at once if the reason persists).
 */
enum sim_stop sim_machine_run(struct sim_machine *m);
/*
 * Makes sim_machine_run() return SIM_STOP_INTERRUPTED soon.
 * Async-signal-safe.
 */
void sim_machine_request_stop(struct sim_machine *m);
/* Short name of @stop ("exit", "instruction-limit", ...). */
const char *sim_stop_name(enum sim_stop stop);
/*
 * Returns: one line saying why the last run stopped, e.g. "guest exited
 * with status 1" (g_free it).
 */
char *sim_machine_stop_message(const struct sim_machine *m);

/*
 * Returns: why the last run's trace (trace.file) is not whole, or NULL if
 * it is or there is none: events that could not be written (the run's
 * row then says how many), or counters or totals that could not be
 * recorded.  Owned by @m.
 */
const GError *sim_machine_trace_error(const struct sim_machine *m);

/*
 * Guest console output: kept in memory (the first 64 MiB; more is counted
 * as dropped) and copied to @sink as it is produced, flushed at each
 * newline.  @sink is borrowed; NULL (the default) keeps it in memory only.
 */
void sim_machine_set_console_sink(struct sim_machine *m, FILE *sink);
/*
 * Returns: the errno of the first write or flush to the sink that failed
 * since it was set (output from then on may be lost), or 0.
 */
int sim_machine_console_errno(const struct sim_machine *m);
/* Returns: the output so far (NUL-terminated; owned by @m), and its length. */
const char *sim_machine_console(const struct sim_machine *m,
                                size_t *len /* out, may be NULL */);

/* ---- What devices call: the VM they belong to ---- */
struct sim_vm;
struct bus_space *sim_vm_io(struct sim_vm *vm);
struct bus_space *sim_vm_mmio(struct sim_vm *vm);
/* The VM's PCI bus 0 (bus/pci.h). */
struct pci_bus *sim_vm_pci(struct sim_vm *vm);
void sim_vm_console_write(struct sim_vm *vm, const void *buf, size_t len);
/* Records the guest's exit status and stops its vCPUs after the access. */
void sim_vm_exit(struct sim_vm *vm, uint32_t status);

/*
 * Virtual time, for devices: the host's one clock, in cycles of the
 * simulated core; sim_vm_us_to_cycles() converts at the profile's
 * frequency.
 */
typedef void sim_event_fn(void *opaque);
uint64_t sim_vm_now(const struct sim_vm *vm);
uint64_t sim_vm_us_to_cycles(const struct sim_vm *vm, uint64_t us);
/* The cycle at which the TSC reads @tsc (machine.tsc_mhz over the core's
 * frequency; rounded up). */
uint64_t sim_vm_tsc_to_cycles(const struct sim_vm *vm, uint64_t tsc);
/* Calls @fn(@opaque) at cycle @when.  Returns: an id for unscheduling. */
uint64_t sim_vm_schedule(struct sim_vm *vm, uint64_t when, sim_event_fn *fn,
                         void *opaque);
bool sim_vm_unschedule(struct sim_vm *vm, uint64_t id);
/* Raises external interrupt @vector (16..255) at the VM's first vCPU. */
void sim_vm_raise_irq(struct sim_vm *vm, unsigned vector);
/* The VM's vCPUs, and the index of the one running now (0 between
 * quanta). */
unsigned sim_vm_vcpu_count(const struct sim_vm *vm);
unsigned sim_vm_current_vcpu(const struct sim_vm *vm);
/* The VM's local APICs (devices/lapic.c) register themselves, and tell
 * whether vCPU @index has an interrupt to take. */
struct dev;
void sim_vm_set_lapic(struct sim_vm *vm, struct dev *lapic);
struct dev *sim_vm_lapic(struct sim_vm *vm); /* NULL: none */
/* Its I/O APIC (devices/ioapic.c) the same way. */
void sim_vm_set_ioapic(struct sim_vm *vm, struct dev *ioapic);
struct dev *sim_vm_ioapic(struct sim_vm *vm); /* NULL: none */
void sim_vm_intr_changed(struct sim_vm *vm, unsigned index, bool pending);

/*
 * DMA: the one way a device of @vm reaches memory.  @device is the
 * device's trace id (struct dev), @rid its requester ID (bus << 8 |
 * devfn).  The bus addresses of @nsegs segments go through the
 * translation stage (where VT-d will sit; today a device's bus address is
 * a guest-physical address of its VM, and only the VM's RAM is there).
 * All segments are checked before any byte moves: a transfer that
 * reaches outside is refused whole, counted and recorded (a dma-fault
 * event), and touches nothing.  A write invalidates the decoded code of
 * the pages it changes.  @buf holds the bytes of all segments in order.
 * Returns: true if the transfer was made; false with *@fault (may be
 * NULL) the first bus address out of bounds.
 */
struct sim_dma_seg {
    uint64_t addr;
    uint64_t len;
};
bool sim_vm_dma(struct sim_vm *vm, uint32_t device, uint16_t rid,
                const struct sim_dma_seg *segs, unsigned nsegs, void *buf,
                bool write, uint64_t *fault /* out */);

/* ---- Accessors ---- */
/* The host's VMs, from 0 (one for now). */
unsigned sim_machine_vm_count(const struct sim_machine *m);
struct sim_vm *sim_machine_vm(struct sim_machine *m, unsigned i);
/* VM @vm's name (its [vm.NAME], or "guest"), console output (as
 * sim_machine_console) and RAM below the PCI hole (as sim_machine_ram). */
const char *sim_vm_name(const struct sim_vm *vm);
const char *sim_vm_console(const struct sim_vm *vm, size_t *len /* out */);
uint8_t *sim_vm_ram(struct sim_vm *vm, uint64_t *size /* out */);
/* The first VM's first vCPU's cpu, RAM, console and exit status: what a
 * one-VM experiment has. */
struct cpu *sim_machine_cpu(struct sim_machine *m);
const struct sim_config *sim_machine_config(const struct sim_machine *m);
/* Returns: the host address of guest-physical 0; *@size its length. */
uint8_t *sim_machine_ram(struct sim_machine *m, uint64_t *size /* out */);
/*
 * Returns: the host address of machine-physical 0 and *@size the length of
 * machine memory: guest RAM alone natively; under hvm the VMM's pages
 * (EPT tables, bitmaps) below machine.guest_base, then guest RAM.
 */
uint8_t *sim_machine_memory(struct sim_machine *m, uint64_t *size /* out */);

/* The guest's registers as the guest sees them. */
struct sim_guest_regs {
    uint64_t gpr[CPU_NGPR];
    uint64_t rip;
    uint64_t rflags;
};
/*
 * Fills @out.  Under hvm RSP, RIP and RFLAGS come from the VMCS
 * guest-state area, where the VMM keeps them between entries (it advances
 * RIP there past an emulated instruction); the other registers from the
 * cpu.
 */
void sim_machine_guest_regs(const struct sim_machine *m,
                            struct sim_guest_regs *out /* out */);

/*
 * Returns: true if every VM's guest wrote the exit port, with *@status the
 * first non-zero status (0 if all were 0).
 */
bool sim_machine_exit_status(const struct sim_machine *m,
                             uint32_t *status /* out */);
/* The CPU statistics of every vCPU, summed. */
void sim_machine_cpu_stats(const struct sim_machine *m,
                           struct cpu_stats *out /* out */);

struct sim_stats {
    uint64_t instructions;
    uint64_t cycles;
    uint64_t sim_time_ns; /* cycles at the profile's frequency */
    uint64_t host_ns;     /* host time inside the CPU slices */
    uint64_t console_bytes;
    uint64_t console_dropped; /* beyond the in-memory cap */
    struct bus_stats io;      /* port I/O */
    struct bus_stats mmio;    /* non-RAM physical accesses */
    uint64_t host_peak_rss;   /* the process's peak resident bytes */
    uint64_t ram_resident;    /* bytes of guest RAM resident now */
    /* Cycles by bucket (guest, vmm, device-model, backend, idle): every
     * simulated cycle is in exactly one.  Names: sim_bucket_name(). */
    uint64_t buckets[5];
    /* hvm: VM exits by basic exit reason, and the cycles they cost. */
    uint64_t exits[80];
    uint64_t exit_cycles[80];
    /* Device DMA: transfers made, bytes moved, transfers refused; MSIs
     * that reached no vCPU. */
    uint64_t dma_reads, dma_writes, dma_bytes, dma_refused;
    uint64_t msi_dropped;
};
const char *sim_bucket_name(unsigned bucket);
/* The whole host's: every VM's summed, cycles the latest vCPU's time. */
void sim_machine_get_stats(const struct sim_machine *m,
                           struct sim_stats *out /* out */);
/* One VM's (host_ns and host memory are the host's only: 0 here). */
void sim_vm_get_stats(const struct sim_vm *vm, struct sim_stats *out /* out */);

#endif /* SIM_SIM_SIM_H */
