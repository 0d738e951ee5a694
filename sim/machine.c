/*
 * sim/machine.c: building and tearing down the host (struct sim_machine),
 * its VMs and their vCPUs, and the struct cpu_env_ops that connects each
 * vCPU's CPU to its VM (STYLE rule 8): RAM pages by host pointer, port
 * I/O through the VM's "io" bus space, other physical accesses through
 * its "mmio" space (unclaimed ones read all-ones and drop writes,
 * counted).  The start-up order is written down in sim_machine_new() and
 * the device list in machine_devices[].
 */
#include "sim/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "cpu/cpu.h"
#include "devices/devices.h"
#include "sim/sim-internal.h"
#include "sim/sim.h"

#ifndef SIM_GIT_VERSION
#define SIM_GIT_VERSION SIM_VERSION
#endif

G_DEFINE_QUARK(sim - error - quark, sim_error)

/*
 * The devices every machine has, in creation order (STYLE rule 5).  Both
 * are part of the guest ABI; configurable devices come with the first
 * device that needs options.
 */
static const struct {
    const char *cls;
    struct dev_config cfg;
} machine_devices[] = {
    {"debugcon", {.id = "debugcon", .io_base = DEV_DEBUGCON_PORT}},
    {"exitport", {.id = "exitport", .io_base = DEV_EXITPORT_PORT}},
    {"postcode", {.id = "postcode", .io_base = DEV_POSTCODE_PORT}},
    {"timer", {.id = "timer", .io_base = DEV_TIMER_PORT}},
    {"regfile", {.id = "regfile", .io_base = DEV_REGFILE_BASE}},
    {"pci-host", {.id = "pci-host"}},
    {"pci-test", {.id = "pci-test"}},
    {"lapic", {.id = "lapic"}},
    {"ioapic", {.id = "ioapic"}},
};

/*
 * A message signalled interrupt from a device of @opaque (the VM): a
 * 32-bit write of data to 0xFEEx_xxxx (pci.md §5).  A fixed or
 * lowest-priority message with a physical destination reaches the local
 * APIC of that ID (vCPU index), edge or level as the data says; any
 * other message (logical destinations, NMI, INIT, SMI) is counted as
 * dropped, not modelled yet.
 */
static void vm_msi(void *opaque, uint16_t rid, uint64_t addr, uint32_t data)
{
    struct sim_vm *vm = opaque;
    unsigned dest = (unsigned)(addr >> 12) & 0xff;
    unsigned mode = (data >> 8) & 7;

    if ((addr >> 20) != 0xfee || (addr & (1u << 2)) || mode > 1 ||
        vm->lapic == NULL ||
        !dev_lapic_deliver(vm->lapic, dest, data & 0xff, (data >> 15) & 1)) {
        vm->msi_dropped++;
    }
}

/* MSRs of the platform a native vCPU reaches: its local APIC's. */
static bool machine_msr_read(void *opaque, uint32_t msr, uint64_t *val)
{
    struct sim_vcpu *v = opaque;

    return v->vm->lapic != NULL &&
           dev_lapic_msr_read(v->vm->lapic, v->index, msr, val);
}

static bool machine_msr_write(void *opaque, uint32_t msr, uint64_t val)
{
    struct sim_vcpu *v = opaque;

    return v->vm->lapic != NULL &&
           dev_lapic_msr_write(v->vm->lapic, v->index, msr, val);
}

/* The INTR acknowledge of a native vCPU: its local APIC's vector. */
static unsigned machine_intr_ack(void *opaque)
{
    struct sim_vcpu *v = opaque;

    return dev_lapic_ack(v->vm->lapic, v->index);
}

/* ---- The CPU's view of the machine ---- */

/*
 * Machine-physical pages: under hvm, guest RAM sits at guest_base (and
 * EPT says which pages a guest reaches); natively machine-physical is
 * guest-physical, and the PCI hole is no RAM.
 */
static uint8_t *machine_ram_page(void *opaque, uint64_t pa)
{
    struct sim_vcpu *v = opaque;
    struct sim_machine *m = v->vm->host;
    uint64_t mpa;

    if (pa >= m->mem_size ||
        (v->vm->mode == SIM_MODE_NATIVE &&
         !sim_vm_gpa_ram(v->vm, pa & ~UINT64_C(0xfff), 4096, &mpa))) {
        return NULL;
    }
    return m->mem + (pa & ~UINT64_C(0xfff));
}

/* ---- Tracing ---- */

/* One device access, at the level its kind has (traces/events.def). */
static void trace_access_record(struct sim_vcpu *v,
                                enum trace_event_kind kind, uint32_t device,
                                uint64_t addr, unsigned size, uint64_t value)
{
    struct sim_machine *m = v->vm->host;
    struct trace_event ev = {0};

    if (!trace_wants(m->trace, kind)) {
        return;
    }
    ev.time = cpu_cycles(v->cpu);
    ev.vm = v->vm->id;
    ev.vcpu = v->index;
    ev.kind = kind;
    ev.addr = addr;
    ev.size = size;
    ev.value = value;
    ev.rip = cpu_rip(v->cpu);
    ev.device = device;
    if (m->trace_deferring) {
        g_array_append_val(m->trace_deferred, ev);
        return;
    }
    trace_event(m->trace, &ev);
}

/* Untraced runs pay one test per access. */
static inline void trace_access(struct sim_vcpu *v,
                                enum trace_event_kind kind, uint32_t device,
                                uint64_t addr, unsigned size, uint64_t value)
{
    if (SIM_UNLIKELY(v->vm->host->trace != NULL)) {
        trace_access_record(v, kind, device, addr, size, value);
    }
}

void sim_trace_exit(struct sim_vcpu *v, uint64_t time, unsigned reason,
                    uint64_t addr, unsigned size, uint64_t cost)
{
    struct sim_machine *m = v->vm->host;
    struct trace_event ev = {0};

    m->trace_deferring = false;
    if (!trace_wants(m->trace, TRACE_EVENT_VMEXIT)) {
        goto deferred;
    }
    ev.time = time;
    ev.vm = v->vm->id;
    ev.vcpu = v->index;
    ev.kind = TRACE_EVENT_VMEXIT;
    ev.exit_reason = (uint16_t)reason;
    ev.addr = addr;
    ev.size = size;
    ev.value = v->exit.qualification;
    ev.cost = cost;
    ev.rip = v->exit.guest_rip;
    if (m->cfg->trace_level >= TRACE_LEVEL_FULL) {
        /* The exiting instruction's bytes, as many as can be read, read
         * without side effects: tracing never changes simulated time. */
        ev.insn_len =
            (uint8_t)cpu_guest_linear_peek(v->cpu, ev.rip, ev.insn, 15);
    }
    trace_event(m->trace, &ev);
deferred:
    for (guint i = 0; i < m->trace_deferred->len; i++) {
        trace_event(m->trace,
                    &g_array_index(m->trace_deferred, struct trace_event, i));
    }
    g_array_set_size(m->trace_deferred, 0);
}

/* Opens trace.file and begins the run: devices get ids 1, 2, ... */
static bool machine_trace_begin(struct sim_machine *m, GError **error)
{
    const struct sim_config *cfg = m->cfg;
    struct trace_run_info info = {0};

    if (cfg->trace_file == NULL) {
        return true;
    }
    m->trace = trace_db_open(cfg->trace_file, error);
    if (m->trace == NULL) {
        return false;
    }
    info.name = cfg->name;
    info.config_path = cfg->path;
    info.config_text = cfg->text;
    info.seed = cfg->seed;
    info.profile = cfg->profile.name;
    info.git_version = SIM_GIT_VERSION;
    info.level = (enum trace_level)cfg->trace_level;
    m->trace_run = trace_run_begin(m->trace, &info, error);
    if (m->trace_run == 0) {
        return false;
    }
    for (unsigned i = 0; i < m->nvms; i++) {
        const struct sim_vm *vm = m->vms[i];

        if (!trace_vm_add(m->trace, vm->id, vm->name,
                          vm->mode == SIM_MODE_HVM ? "hvm" : "native",
                          vm->ram_size, vm->nvcpus, error)) {
            return false;
        }
        for (guint d = 0; d < vm->devices->len; d++) {
            struct dev *dev = g_ptr_array_index(vm->devices, d);

            if (!trace_device_add(m->trace, dev->trace_id, vm->id, dev->id,
                                  error)) {
                return false;
            }
        }
    }
    return true;
}

static void vm_add_stats(const struct sim_vm *vm, struct sim_stats *out);

/* The counters of @vm: cycles by bucket, exits by reason, interrupts. */
static bool vm_trace_counters(struct sim_vm *vm, GError **error)
{
    struct sim_machine *m = vm->host;
    struct sim_stats st = {0};
    struct cpu_stats cs = {0};
    bool ok = true;

    vm_add_stats(vm, &st);
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        struct cpu_stats one;

        cpu_get_stats(vm->vcpus[i]->cpu, &one);
        cs.irq_raised += one.irq_raised;
        cs.irq_delivered += one.irq_delivered;
    }
    for (unsigned b = 0; b < SIM_NBUCKETS && ok; b++) {
        ok = trace_counter(m->trace, m->trace_run, vm->id, sim_bucket_name(b),
                           st.buckets[b], 0, error);
    }
    for (unsigned r = 0; r < SIM_NEXIT_REASONS && ok; r++) {
        g_autofree char *name = NULL;

        if (st.exits[r] == 0) {
            continue;
        }
        name = g_strdup_printf("exit:%s", vmx_exit_reason_name(r));
        ok = trace_counter(m->trace, m->trace_run, vm->id, name,
                           st.exit_cycles[r], st.exits[r], error);
    }
    /* Interrupt counts: a livelock shows as delivered far below raised. */
    if (ok) {
        ok = trace_counter(m->trace, m->trace_run, vm->id, "irq:raised", 0,
                           cs.irq_raised, error);
    }
    if (ok) {
        ok = trace_counter(m->trace, m->trace_run, vm->id, "irq:delivered", 0,
                           cs.irq_delivered, error);
    }
    return ok;
}

void sim_trace_run_end(struct sim_machine *m, enum sim_stop stop)
{
    GError *err = NULL;
    struct sim_stats st;
    struct trace_run_totals totals = {0};
    bool ok = true;

    if (m->trace == NULL) {
        return;
    }
    sim_machine_get_stats(m, &st);
    for (unsigned i = 0; i < m->nvms && ok; i++) {
        ok = vm_trace_counters(m->vms[i], &err);
    }
    totals.instructions = st.instructions;
    totals.cycles = st.cycles;
    totals.sim_time_ns = st.sim_time_ns;
    totals.host_ns = st.host_ns;
    totals.stop_reason = sim_stop_name(stop);
    /*
     * The run is ended even when a counter failed; what it lost (its own
     * message) is then the more useful error.
     */
    {
        GError *end_err = NULL;

        if (!trace_run_end(m->trace, m->trace_run, &totals, &end_err)) {
            g_clear_error(&err);
            err = end_err;
            ok = false;
        }
    }
    /* Kept for the caller: a trace that is not whole is a failed run. */
    g_clear_error(&m->trace_error);
    if (!ok) {
        m->trace_error = err;
    }
}

const GError *sim_machine_trace_error(const struct sim_machine *m)
{
    return m->trace_error;
}

/* ---- Device accesses ---- */

uint64_t sim_device_access(struct sim_vcpu *v, enum trace_event_kind kind,
                           uint64_t addr, unsigned size, uint64_t val,
                           bool trapped)
{
    bool mmio = kind == TRACE_EVENT_MMIO_READ || kind == TRACE_EVENT_MMIO_WRITE;
    bool write = kind == TRACE_EVENT_IO_WRITE || kind == TRACE_EVENT_MMIO_WRITE;
    struct bus_space *space = mmio ? v->vm->mmio : v->vm->io;
    uint64_t offset;
    struct bus_region *r = bus_lookup(space, addr, &offset);

    uint32_t trace_id = r != NULL ? r->attrs.trace_id : 0;

    if (trapped && r != NULL) {
        sim_charge(v, SIM_BUCKET_DEVICE_MODEL, r->attrs.trap_cycles);
    }
    /* A refused access reads all-ones and is counted by the bus.  The
     * region may be gone after it (removed by its own callback). */
    bus_region_access(space, r, offset, size, &val, write);
    trace_access(v, kind, trace_id, addr, size, val);
    return val;
}

/* Under hvm the CPU reaches device memory only while the VMM emulates a
 * trapped MMIO instruction; natively every access is direct. */
static enum cpu_status machine_mmio_read(void *opaque, uint64_t pa,
                                         unsigned size, uint64_t *val)
{
    struct sim_vcpu *v = opaque;

    *val = sim_device_access(v, TRACE_EVENT_MMIO_READ, pa, size, 0,
                             v->emulating);
    return CPU_OK;
}

static enum cpu_status machine_mmio_write(void *opaque, uint64_t pa,
                                          unsigned size, uint64_t val)
{
    struct sim_vcpu *v = opaque;

    sim_device_access(v, TRACE_EVENT_MMIO_WRITE, pa, size, val, v->emulating);
    return CPU_OK;
}

static enum cpu_status machine_io_in(void *opaque, uint16_t port,
                                     unsigned size, uint32_t *val)
{
    *val = (uint32_t)sim_device_access(opaque, TRACE_EVENT_IO_READ, port,
                                       size, 0, false);
    return CPU_OK;
}

static enum cpu_status machine_io_out(void *opaque, uint16_t port,
                                      unsigned size, uint32_t val)
{
    struct sim_vcpu *v = opaque;

    sim_device_access(v, TRACE_EVENT_IO_WRITE, port, size, val, false);
    return v->vm->exited ? CPU_STOP : CPU_OK;
}

static const struct cpu_env_ops machine_env_ops = {
    .ram_page = machine_ram_page,
    .mmio_read = machine_mmio_read,
    .mmio_write = machine_mmio_write,
    .io_in = machine_io_in,
    .io_out = machine_io_out,
    .intr_ack = machine_intr_ack,
    .msr_read = machine_msr_read,
    .msr_write = machine_msr_write,
};

/* ---- Building ---- */

/* What a trapped access to device @id costs beyond the VMM: a user-space
 * device model adds the trip to its process and back. */
static uint32_t machine_trap_cycles(const struct sim_machine *m, const char *id)
{
    for (unsigned i = 0; i < SIM_NPLACED_DEVICES; i++) {
        if (strcmp(id, sim_placed_device(i)) == 0 &&
            m->cfg->placement[i] == SIM_PLACE_USERSPACE) {
            return sim_vmx_cost(m, SIM_VMX_USERSPACE_TRIP);
        }
    }
    return 0;
}

/* The VM's devices; trace ids are numbered across the host from 1. */
static bool vm_add_devices(struct sim_vm *vm, uint32_t *next_trace_id,
                           GError **error)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(machine_devices); i++) {
        struct dev_config cfg = machine_devices[i].cfg;
        struct dev *dev;

        cfg.trace_id = (*next_trace_id)++;
        if (vm->mode == SIM_MODE_HVM) {
            cfg.trap_cycles = machine_trap_cycles(vm->host, cfg.id);
        }
        dev = dev_new(machine_devices[i].cls, vm, &cfg, error);
        if (dev == NULL) {
            return false;
        }
        g_ptr_array_add(vm->devices, dev);
    }
    return true;
}

/* The guest program, its page tables and firmware in the VM's RAM; @v
 * (the first vCPU) left at the entry as the guest ABI says. */
static bool vm_load_guest(struct sim_vm *vm, struct sim_vcpu *v,
                          const struct sim_vm_config *vc, GError **error)
{
    if (!sim_guest_build_page_tables(vm->ram, vm->ram_size, &vm->pt_base,
                                     error) ||
        !sim_firmware_build(vm, vc, error)) {
        return false;
    }
    if (!sim_elf_load(vc->program, vm->ram, vm->low_size, vm->fw_base,
                      &vm->image, error)) {
        return false;
    }
    /* All of it was written behind the CPU's back (cpu.h); the CPU keys
     * its decoded code by machine-physical address. */
    for (size_t i = 0; i < vm->image.nsegments; i++) {
        cpu_invalidate_phys(v->cpu,
                            vm->guest_base + vm->image.segments[i].paddr,
                            vm->image.segments[i].memsz);
    }
    cpu_invalidate_phys(v->cpu, vm->guest_base + vm->fw_base,
                        vm->low_size - vm->fw_base);

    /* The guest ABI (README, "Guest ABI"). */
    cpu_reset_long_mode(v->cpu, vm->pt_base, vm->image.entry, vm->fw_base);
    cpu_set_gpr(v->cpu, CPU_RDI, vm->ram_size);
    cpu_set_gpr(v->cpu, CPU_RSI, vm->fw_base);
    cpu_set_gpr(v->cpu, CPU_RDX, vm->boot_info);
    return true;
}

static struct sim_vcpu *vcpu_new(struct sim_vm *vm, unsigned index)
{
    const struct sim_config *cfg = vm->host->cfg;
    struct sim_vcpu *v = g_new0(struct sim_vcpu, 1);

    v->vm = vm;
    v->index = index;
    v->cpu = cpu_new(&machine_env_ops, v);
    cpu_set_costs(v->cpu, cfg->profile.costs);
    cpu_set_tsc_rate(v->cpu, cfg->tsc_mhz, cfg->profile.freq_mhz);
    return v;
}

static void vcpu_free(struct sim_vcpu *v)
{
    if (v->vmcs != NULL) {
        sim_vmm_vcpu_destroy(v);
    }
    cpu_free(v->cpu);
    g_free(v);
}

/*
 * VM @id of the host as @vc describes it, its RAM at machine-physical
 * @guest_base, with one vCPU at the program's entry.  Returns: the VM
 * (vm_free), set up, or with @error set and only partly set up.
 */
static struct sim_vm *vm_new(struct sim_machine *m, unsigned id,
                             const struct sim_vm_config *vc,
                             uint64_t guest_base, uint32_t *next_trace_id,
                             GError **error)
{
    struct sim_vm *vm = g_new0(struct sim_vm, 1);

    vm->host = m;
    vm->id = id;
    vm->name = vc->name;
    vm->mode = vc->mode;
    vm->guest_base = guest_base;
    vm->ram = m->mem + guest_base;
    vm->ram_size = vc->memory;
    vm->low_size = sim_low_ram(vc->memory);
    vm->high_size = vc->memory - vm->low_size;
    /* Natively machine-physical is guest-physical; under hvm the VM's RAM
     * is one block of machine memory, the high part after the low. */
    vm->high_base = vm->mode == SIM_MODE_NATIVE ? SIM_HIGH_RAM
                                                : guest_base + vm->low_size;
    vm->high_ram = m->mem + vm->high_base;
    vm->io = bus_space_new("io", 0x10000);
    vm->mmio = bus_space_new("mmio", 0);
    vm->pci = pci_bus_new(0, vm->io, vm->mmio, vm_msi, vm);
    vm->devices = g_ptr_array_new();
    vm->console = g_string_new(NULL);
    vm->nvcpus = 1;
    vm->vcpus = g_new0(struct sim_vcpu *, vm->nvcpus);
    vm->vcpus[0] = vcpu_new(vm, 0);
    if (vm_add_devices(vm, next_trace_id, error) &&
        vm_load_guest(vm, vm->vcpus[0], vc, error) &&
        vm->mode == SIM_MODE_HVM && sim_vmm_vm_init(vm, error)) {
        sim_vmm_vcpu_init(vm->vcpus[0], error);
    }
    return vm;
}

static void vm_free(struct sim_vm *vm)
{
    /* Reverse start-up order: devices leave the buses before they go. */
    for (size_t i = vm->devices->len; i > 0; i--) {
        dev_free(g_ptr_array_index(vm->devices, i - 1));
    }
    g_ptr_array_free(vm->devices, TRUE);
    pci_bus_free(vm->pci);
    if (vm->mode == SIM_MODE_HVM) {
        sim_vmm_vm_destroy(vm);
    }
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        if (vm->vcpus[i] != NULL) {
            vcpu_free(vm->vcpus[i]);
        }
    }
    g_free(vm->vcpus);
    bus_space_free(vm->mmio);
    bus_space_free(vm->io);
    sim_elf_image_clear(&vm->image);
    g_string_free(vm->console, TRUE);
    g_free(vm);
}

static uint64_t machine_time_to_cycles(uint64_t ns, uint32_t freq_mhz)
{
    unsigned __int128 cycles = (unsigned __int128)ns * freq_mhz / 1000;

    if (cycles > UINT64_MAX) {
        return UINT64_MAX;
    }
    return cycles == 0 && ns != 0 ? 1 : (uint64_t)cycles;
}

struct sim_machine *sim_machine_new(struct sim_config *cfg, GError **error)
{
    struct sim_machine *m = g_new0(struct sim_machine, 1);
    bool hvm = cfg->vms[0].mode == SIM_MODE_HVM;
    uint64_t base = hvm ? cfg->guest_base : 0;
    uint32_t next_trace_id = 1;

    m->cfg = cfg;
    m->trace_deferred = g_array_new(false, false, sizeof(struct trace_event));
    /* Machine memory: under hvm the VMM's pages from 1 MiB up to
     * guest_base, then each VM's RAM in turn; natively the one VM's RAM
     * from 0. */
    m->mem_size = base;
    if (!hvm && cfg->vms[0].memory > sim_low_ram(cfg->vms[0].memory)) {
        /* Natively the RAM above the hole sits at 4 GiB: the hole itself
         * is address space only, never touched. */
        m->mem_size = SIM_HIGH_RAM - sim_low_ram(cfg->vms[0].memory);
    }
    for (unsigned i = 0; i < cfg->nvms; i++) {
        const uint64_t ram = cfg->vms[i].memory;

        if (ram < SIM_RAM_MIN || ram > SIM_RAM_MAX ||
            ram % SIM_RAM_GRANULE != 0) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                        "VM %s: guest RAM of %" PRIu64 " bytes: must be a "
                        "multiple of 2 MiB from 4 MiB to 16 GiB",
                        cfg->vms[i].name, ram);
            goto fail;
        }
        m->mem_size += ram;
        m->nvcpus += cfg->vms[i].vcpus;
    }
    m->page_next = SIM_VMM_PAGES_START;
    m->page_end = base;
    /* Anonymous memory: pages the guest never touches cost nothing. */
    m->mem = mmap(NULL, m->mem_size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m->mem == MAP_FAILED) {
        m->mem = NULL;
        g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                    "cannot allocate %" PRIu64 " MiB of machine memory",
                    m->mem_size >> 20);
        goto fail;
    }
    m->vms = g_new0(struct sim_vm *, cfg->nvms);
    for (unsigned i = 0; i < cfg->nvms; i++) {
        GError *err = NULL;

        m->vms[i] = vm_new(m, i, &cfg->vms[i], base, &next_trace_id, &err);
        m->nvms = i + 1;
        base += cfg->vms[i].memory;
        if (err != NULL) {
            if (cfg->nvms > 1) {
                g_prefix_error(&err, "VM %s: ", cfg->vms[i].name);
            }
            g_propagate_error(error, err);
            goto fail;
        }
    }
    m->quantum_cycles =
        m->nvcpus > 1
            ? machine_time_to_cycles(cfg->quantum_ns, cfg->profile.freq_mhz)
            : UINT64_MAX;
    if (!machine_trace_begin(m, error)) {
        goto fail;
    }
    m->limit_cycles =
        machine_time_to_cycles(cfg->limit_time_ns, cfg->profile.freq_mhz);
    return m;

fail:
    sim_machine_free(m);
    return NULL;
}

void sim_machine_free(struct sim_machine *m)
{
    if (m == NULL) {
        return;
    }
    if (m->trace != NULL) {
        g_autoptr(GError) err = NULL;

        if (!trace_db_close(m->trace, &err)) {
            fprintf(stderr, "iovsim: warning: trace: %s\n", err->message);
        }
    }
    for (unsigned i = m->nvms; i > 0; i--) {
        if (m->vms[i - 1] != NULL) {
            vm_free(m->vms[i - 1]);
        }
    }
    g_free(m->vms);
    if (m->mem != NULL) {
        munmap(m->mem, m->mem_size);
    }
    sim_sched_free(m);
    g_array_free(m->trace_deferred, TRUE);
    g_clear_error(&m->trace_error);
    sim_config_free(m->cfg);
    g_free(m);
}

/* ---- What devices call ---- */

struct bus_space *sim_vm_io(struct sim_vm *vm)
{
    return vm->io;
}

struct bus_space *sim_vm_mmio(struct sim_vm *vm)
{
    return vm->mmio;
}

struct pci_bus *sim_vm_pci(struct sim_vm *vm)
{
    return vm->pci;
}

/*
 * Copies console output to the sink, flushed at each newline.  With
 * several VMs each line starts with "[NAME] ".
 * Returns: false if a write or flush failed (errno says why).
 */
static bool console_sink_write(struct sim_vm *vm, const char *buf, size_t len)
{
    FILE *f = vm->console_sink;

    if (vm->host->nvms == 1) {
        return fwrite(buf, 1, len, f) == len &&
               (memchr(buf, '\n', len) == NULL || fflush(f) == 0);
    }
    for (size_t i = 0; i < len; i++) {
        if (vm->console_line_open == false &&
            fprintf(f, "[%s] ", vm->name) < 0) {
            return false;
        }
        vm->console_line_open = buf[i] != '\n';
        if (putc(buf[i], f) == EOF || (buf[i] == '\n' && fflush(f) != 0)) {
            return false;
        }
    }
    return true;
}

void sim_vm_console_write(struct sim_vm *vm, const void *buf, size_t len)
{
    size_t room = SIM_CONSOLE_MAX - vm->console->len;
    size_t keep = len < room ? len : room;

    g_string_append_len(vm->console, buf, (gssize)keep);
    vm->console_bytes += len;
    vm->console_dropped += len - keep;
    if (vm->console_sink != NULL) {
        /* A lost write is kept for the end of the run: output is a result. */
        errno = 0;
        if (!console_sink_write(vm, buf, len) && vm->console_errno == 0) {
            vm->console_errno = errno != 0 ? errno : EIO;
        }
    }
}

void sim_vm_exit(struct sim_vm *vm, uint32_t status)
{
    vm->exited = true;
    vm->exit_status = status;
}

uint64_t sim_vm_now(const struct sim_vm *vm)
{
    return sim_host_now(vm->host);
}

uint64_t sim_vm_us_to_cycles(const struct sim_vm *vm, uint64_t us)
{
    return us * vm->host->cfg->profile.freq_mhz;
}

uint64_t sim_vm_tsc_to_cycles(const struct sim_vm *vm, uint64_t tsc)
{
    const struct sim_config *cfg = vm->host->cfg;
    unsigned __int128 c = ((unsigned __int128)tsc * cfg->profile.freq_mhz +
                           cfg->tsc_mhz - 1) /
                          cfg->tsc_mhz;

    return c > UINT64_MAX ? UINT64_MAX : (uint64_t)c;
}

void sim_vm_raise_irq(struct sim_vm *vm, unsigned vector)
{
    cpu_raise_interrupt(vm->vcpus[0]->cpu, vector);
}

unsigned sim_vm_vcpu_count(const struct sim_vm *vm)
{
    return vm->nvcpus;
}

unsigned sim_vm_current_vcpu(const struct sim_vm *vm)
{
    const struct sim_vcpu *r = vm->host->running;

    return r != NULL && r->vm == vm ? r->index : 0;
}

void sim_vm_set_lapic(struct sim_vm *vm, struct dev *lapic)
{
    vm->lapic = lapic;
}

struct dev *sim_vm_lapic(struct sim_vm *vm)
{
    return vm->lapic;
}

void sim_vm_set_ioapic(struct sim_vm *vm, struct dev *ioapic)
{
    vm->ioapic = ioapic;
}

struct dev *sim_vm_ioapic(struct sim_vm *vm)
{
    return vm->ioapic;
}

/* Natively the APIC drives the vCPU's INTR line; under hvm the VMM looks
 * at the flag before each VM entry (sim_vmm_virq_pending). */
void sim_vm_intr_changed(struct sim_vm *vm, unsigned index, bool pending)
{
    if (index >= vm->nvcpus) {
        return;
    }
    vm->vcpus[index]->apic_pending = pending;
    if (vm->mode == SIM_MODE_NATIVE) {
        cpu_set_intr(vm->vcpus[index]->cpu, pending);
    }
}

/* ---- DMA ---- */

/* One DMA event of @vm at level io, not a vCPU's (vcpu 0). */
static void vm_trace_dma(struct sim_vm *vm, enum trace_event_kind kind,
                         uint32_t device, uint64_t addr, uint64_t size,
                         uint64_t value)
{
    struct sim_machine *m = vm->host;
    struct trace_event ev = {0};

    if (m->trace == NULL || !trace_wants(m->trace, kind)) {
        return;
    }
    ev.time = sim_host_now(m);
    ev.vm = vm->id;
    ev.kind = kind;
    ev.addr = addr;
    ev.size = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size);
    ev.value = value;
    ev.device = device;
    if (m->trace_deferring) {
        g_array_append_val(m->trace_deferred, ev);
        return;
    }
    trace_event(m->trace, &ev);
}

/*
 * The translation stage: bus address @addr of @len bytes to a
 * machine-physical address.  Without an IOMMU a device of the VM sees
 * guest-physical addresses, and reaches its RAM only.
 * Returns: true with *@mpa, or false with *@bad the first bus address out
 * of bounds.
 */
static bool vm_dma_translate(const struct sim_vm *vm, uint16_t rid,
                             uint64_t addr, uint64_t len, uint64_t *mpa,
                             uint64_t *bad)
{
    if (sim_vm_gpa_ram(vm, addr, len, mpa)) {
        return true;
    }
    /* The first byte out of bounds: the start, or the end of its range. */
    if (addr < vm->low_size) {
        *bad = vm->low_size;
    } else if (addr >= SIM_HIGH_RAM && addr - SIM_HIGH_RAM < vm->high_size) {
        *bad = SIM_HIGH_RAM + vm->high_size;
    } else {
        *bad = addr;
    }
    return false;
}

bool sim_vm_dma(struct sim_vm *vm, uint32_t device, uint16_t rid,
                const struct sim_dma_seg *segs, unsigned nsegs, void *buf,
                bool write, uint64_t *fault)
{
    struct sim_machine *m = vm->host;
    uint8_t *p = buf;
    uint64_t total = 0;

    for (unsigned i = 0; i < nsegs; i++) {
        uint64_t mpa, bad;

        total += segs[i].len;
        if (!vm_dma_translate(vm, rid, segs[i].addr, segs[i].len, &mpa,
                              &bad)) {
            vm->dma_refused++;
            vm_trace_dma(vm, TRACE_EVENT_DMA_FAULT, device, bad,
                         segs[i].len, write);
            if (fault != NULL) {
                *fault = bad;
            }
            return false;
        }
    }
    for (unsigned i = 0; i < nsegs; i++) {
        uint64_t mpa = 0, bad;

        vm_dma_translate(vm, rid, segs[i].addr, segs[i].len, &mpa, &bad);
        if (write) {
            memcpy(m->mem + mpa, p, segs[i].len);
            for (unsigned v = 0; v < vm->nvcpus; v++) {
                cpu_invalidate_phys(vm->vcpus[v]->cpu, mpa, segs[i].len);
            }
        } else {
            memcpy(p, m->mem + mpa, segs[i].len);
        }
        vm_trace_dma(vm, write ? TRACE_EVENT_DMA_WRITE : TRACE_EVENT_DMA_READ,
                     device, segs[i].addr, segs[i].len, 0);
        p += segs[i].len;
    }
    if (write) {
        vm->dma_writes++;
    } else {
        vm->dma_reads++;
    }
    vm->dma_bytes += total;
    return true;
}

/* ---- Accessors ---- */

unsigned sim_machine_vm_count(const struct sim_machine *m)
{
    return m->nvms;
}

struct sim_vm *sim_machine_vm(struct sim_machine *m, unsigned i)
{
    g_assert(i < m->nvms);
    return m->vms[i];
}

const char *sim_vm_name(const struct sim_vm *vm)
{
    return vm->name;
}

const char *sim_vm_console(const struct sim_vm *vm, size_t *len)
{
    if (len != NULL) {
        *len = vm->console->len;
    }
    return vm->console->str;
}

uint8_t *sim_vm_ram(struct sim_vm *vm, uint64_t *size)
{
    *size = vm->low_size;
    return vm->ram;
}

void sim_machine_set_console_sink(struct sim_machine *m, FILE *sink)
{
    for (unsigned i = 0; i < m->nvms; i++) {
        m->vms[i]->console_sink = sink;
        m->vms[i]->console_errno = 0;
    }
}

int sim_machine_console_errno(const struct sim_machine *m)
{
    for (unsigned i = 0; i < m->nvms; i++) {
        if (m->vms[i]->console_errno != 0) {
            return m->vms[i]->console_errno;
        }
    }
    return 0;
}

const char *sim_machine_console(const struct sim_machine *m, size_t *len)
{
    return sim_vm_console(m->vms[0], len);
}

struct cpu *sim_machine_cpu(struct sim_machine *m)
{
    return m->vms[0]->vcpus[0]->cpu;
}

const struct sim_config *sim_machine_config(const struct sim_machine *m)
{
    return m->cfg;
}

uint8_t *sim_machine_ram(struct sim_machine *m, uint64_t *size)
{
    return sim_vm_ram(m->vms[0], size);
}

uint8_t *sim_machine_memory(struct sim_machine *m, uint64_t *size)
{
    *size = m->mem_size;
    return m->mem;
}

void sim_machine_guest_regs(const struct sim_machine *m,
                            struct sim_guest_regs *out)
{
    const struct sim_vcpu *v = m->vms[0]->vcpus[0];

    for (unsigned i = 0; i < CPU_NGPR; i++) {
        out->gpr[i] = cpu_gpr(v->cpu, i);
    }
    out->rip = cpu_rip(v->cpu);
    out->rflags = cpu_rflags(v->cpu);
    if (v->vmcs != NULL) {
        out->gpr[CPU_RSP] = vmx_vmcs_field(v->vmcs, VMCS_GUEST_RSP);
        out->rip = vmx_vmcs_field(v->vmcs, VMCS_GUEST_RIP);
        out->rflags = vmx_vmcs_field(v->vmcs, VMCS_GUEST_RFLAGS);
    }
}

bool sim_machine_exit_status(const struct sim_machine *m, uint32_t *status)
{
    *status = 0;
    for (unsigned i = 0; i < m->nvms; i++) {
        if (!m->vms[i]->exited) {
            return false;
        }
        if (*status == 0) {
            *status = m->vms[i]->exit_status;
        }
    }
    return true;
}

void sim_machine_cpu_stats(const struct sim_machine *m, struct cpu_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < m->nvms; i++) {
        for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
            struct cpu_stats cs;

            cpu_get_stats(m->vms[i]->vcpus[j]->cpu, &cs);
            out->blocks_decoded += cs.blocks_decoded;
            out->insns_decoded += cs.insns_decoded;
            out->block_invalidations += cs.block_invalidations;
            out->tlb_misses += cs.tlb_misses;
            out->tlb_flushes += cs.tlb_flushes;
            out->exceptions += cs.exceptions;
            out->irq_raised += cs.irq_raised;
            out->irq_delivered += cs.irq_delivered;
            out->tsc_reads += cs.tsc_reads;
        }
    }
}

/* The process's peak resident set (VmHWM in /proc/self/status), bytes. */
static uint64_t machine_peak_rss(void)
{
    g_autofree char *status = NULL;
    const char *line;
    unsigned long long kib;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return 0;
    }
    line = strstr(status, "VmHWM:");
    if (line == NULL || sscanf(line, "VmHWM: %llu", &kib) != 1) {
        return 0;
    }
    return (uint64_t)kib * 1024;
}

/*
 * Guest RAM pages the host has made resident (mincore): untouched guest
 * memory costs nothing, so "simulator memory" is the rest of the RSS.
 */
static uint64_t host_resident(const uint8_t *p, uint64_t len)
{
    long psz = sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(psz - 1);
    uintptr_t end = (uintptr_t)p + len;
    size_t npages = (end - start + (size_t)psz - 1) / (size_t)psz;
    g_autofree unsigned char *vec = g_try_malloc(npages);
    uint64_t n = 0;

    if (vec == NULL || mincore((void *)start, end - start, vec) != 0) {
        return 0;
    }
    for (size_t i = 0; i < npages; i++) {
        n += vec[i] & 1;
    }
    return n * (uint64_t)psz;
}

static void bus_stats_add(struct bus_stats *sum, const struct bus_stats *b)
{
    sum->reads += b->reads;
    sum->writes += b->writes;
    sum->unclaimed_reads += b->unclaimed_reads;
    sum->unclaimed_writes += b->unclaimed_writes;
    sum->errors += b->errors;
}

/* Adds the statistics of @vm (its vCPUs' and its own) to @out. */
static void vm_add_stats(const struct sim_vm *vm, struct sim_stats *out)
{
    struct bus_stats io, mmio;

    for (unsigned i = 0; i < vm->nvcpus; i++) {
        const struct sim_vcpu *v = vm->vcpus[i];
        uint64_t guest = cpu_cycles(v->cpu);

        out->instructions += cpu_icount(v->cpu);
        for (unsigned b = 1; b < SIM_NBUCKETS; b++) {
            out->buckets[b] += v->buckets[b];
            guest -= v->buckets[b];
        }
        out->buckets[SIM_BUCKET_GUEST] += guest;
    }
    out->console_bytes += vm->console_bytes;
    out->console_dropped += vm->console_dropped;
    bus_get_stats(vm->io, &io);
    bus_get_stats(vm->mmio, &mmio);
    bus_stats_add(&out->io, &io);
    bus_stats_add(&out->mmio, &mmio);
    out->ram_resident += host_resident(vm->ram, vm->low_size);
    if (vm->high_size > 0) {
        out->ram_resident += host_resident(vm->high_ram, vm->high_size);
    }
    out->dma_reads += vm->dma_reads;
    out->dma_writes += vm->dma_writes;
    out->dma_bytes += vm->dma_bytes;
    out->dma_refused += vm->dma_refused;
    out->msi_dropped += vm->msi_dropped;
    for (unsigned r = 0; r < SIM_NEXIT_REASONS; r++) {
        out->exits[r] += vm->exits[r];
        out->exit_cycles[r] += vm->exit_cycles[r];
    }
}

void sim_vm_get_stats(const struct sim_vm *vm, struct sim_stats *out)
{
    uint32_t freq = vm->host->cfg->profile.freq_mhz;

    memset(out, 0, sizeof(*out));
    vm_add_stats(vm, out);
    for (unsigned j = 0; j < vm->nvcpus; j++) {
        uint64_t t = cpu_cycles(vm->vcpus[j]->cpu);

        out->cycles = t > out->cycles ? t : out->cycles;
    }
    out->sim_time_ns =
        freq == 0 ? 0
                  : (uint64_t)((unsigned __int128)out->cycles * 1000 / freq);
}

void sim_machine_get_stats(const struct sim_machine *m, struct sim_stats *out)
{
    uint32_t freq = m->cfg->profile.freq_mhz;

    G_STATIC_ASSERT(SIM_NBUCKETS == G_N_ELEMENTS(out->buckets));
    G_STATIC_ASSERT(SIM_NEXIT_REASONS == G_N_ELEMENTS(out->exits));
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < m->nvms; i++) {
        vm_add_stats(m->vms[i], out);
    }
    /* The host's time: the latest any vCPU got to. */
    for (unsigned i = 0; i < m->nvms; i++) {
        for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
            uint64_t t = cpu_cycles(m->vms[i]->vcpus[j]->cpu);

            out->cycles = t > out->cycles ? t : out->cycles;
        }
    }
    out->sim_time_ns =
        freq == 0 ? 0
                  : (uint64_t)((unsigned __int128)out->cycles * 1000 / freq);
    out->host_ns = m->host_ns;
    out->host_peak_rss = machine_peak_rss();
}

const char *sim_bucket_name(unsigned bucket)
{
    static const char *const names[SIM_NBUCKETS] = {
        [SIM_BUCKET_GUEST] = "guest",
        [SIM_BUCKET_VMM] = "vmm",
        [SIM_BUCKET_DEVICE_MODEL] = "device-model",
        [SIM_BUCKET_BACKEND] = "backend",
        [SIM_BUCKET_IDLE] = "idle",
    };

    return bucket < SIM_NBUCKETS ? names[bucket] : NULL;
}
