/*
 * sim/machine.c: building and tearing down a struct sim_machine, and the
 * struct cpu_env_ops that connects the CPU to it (STYLE rule 8): RAM
 * pages by host pointer, port I/O through the "io" bus space, other
 * physical accesses through the "mmio" space (empty for now, so they read
 * all-ones and drop writes, counted).  The start-up order is written down
 * in sim_machine_new() and the device list in machine_devices[].
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
};

/* ---- The CPU's view of the machine ---- */

/* Machine-physical pages: under hvm, guest RAM sits at guest_base. */
static uint8_t *machine_ram_page(void *opaque, uint64_t pa)
{
    struct sim_machine *m = opaque;

    if (pa >= m->mem_size) {
        return NULL;
    }
    return m->mem + (pa & ~UINT64_C(0xfff));
}

/* ---- Tracing ---- */

/* One device access, at the level its kind has (traces/events.def). */
static void trace_access_record(struct sim_machine *m,
                                enum trace_event_kind kind,
                                const struct bus_region *r, uint64_t addr,
                                unsigned size, uint64_t value)
{
    struct trace_event ev = {0};

    if (!trace_wants(m->trace, kind)) {
        return;
    }
    ev.time = cpu_cycles(m->cpu);
    ev.kind = kind;
    ev.addr = addr;
    ev.size = size;
    ev.value = value;
    ev.rip = cpu_rip(m->cpu);
    ev.device = r != NULL ? r->attrs.trace_id : 0;
    if (m->trace_deferring) {
        g_array_append_val(m->trace_deferred, ev);
        return;
    }
    trace_event(m->trace, &ev);
}

/* Untraced runs pay one test per access. */
static inline void trace_access(struct sim_machine *m,
                                enum trace_event_kind kind,
                                const struct bus_region *r, uint64_t addr,
                                unsigned size, uint64_t value)
{
    if (SIM_UNLIKELY(m->trace != NULL)) {
        trace_access_record(m, kind, r, addr, size, value);
    }
}

void sim_trace_exit(struct sim_machine *m, uint64_t time, unsigned reason,
                    uint64_t addr, unsigned size, uint64_t cost)
{
    struct trace_event ev = {0};

    m->trace_deferring = false;
    if (!trace_wants(m->trace, TRACE_EVENT_VMEXIT)) {
        goto deferred;
    }
    ev.time = time;
    ev.kind = TRACE_EVENT_VMEXIT;
    ev.exit_reason = (uint16_t)reason;
    ev.addr = addr;
    ev.size = size;
    ev.value = m->vmm.exit.qualification;
    ev.cost = cost;
    ev.rip = m->vmm.exit.guest_rip;
    if (m->cfg->trace_level >= TRACE_LEVEL_FULL) {
        /* The exiting instruction's bytes, as many as can be read, read
         * without side effects: tracing never changes simulated time. */
        ev.insn_len =
            (uint8_t)cpu_guest_linear_peek(m->cpu, ev.rip, ev.insn, 15);
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
    for (guint i = 0; i < m->devices->len; i++) {
        struct dev *dev = g_ptr_array_index(m->devices, i);

        if (!trace_device_add(m->trace, i + 1, dev->id, error)) {
            return false;
        }
    }
    return true;
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
    for (unsigned b = 0; b < SIM_NBUCKETS && ok; b++) {
        ok = trace_counter(m->trace, m->trace_run, 0, sim_bucket_name(b),
                           st.buckets[b], 0, &err);
    }
    for (unsigned r = 0; r < SIM_NEXIT_REASONS && ok; r++) {
        g_autofree char *name = NULL;

        if (st.exits[r] == 0) {
            continue;
        }
        name = g_strdup_printf("exit:%s", vmx_exit_reason_name(r));
        ok = trace_counter(m->trace, m->trace_run, 0, name, st.exit_cycles[r],
                           st.exits[r], &err);
    }
    {
        /* Interrupt counts: a livelock shows as delivered far below
         * raised. */
        struct cpu_stats cs;

        cpu_get_stats(m->cpu, &cs);
        if (ok) {
            ok = trace_counter(m->trace, m->trace_run, 0, "irq:raised", 0,
                               cs.irq_raised, &err);
        }
        if (ok) {
            ok = trace_counter(m->trace, m->trace_run, 0, "irq:delivered", 0,
                               cs.irq_delivered, &err);
        }
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

uint64_t sim_device_access(struct sim_machine *m, enum trace_event_kind kind,
                           uint64_t addr, unsigned size, uint64_t val,
                           bool trapped)
{
    bool mmio = kind == TRACE_EVENT_MMIO_READ || kind == TRACE_EVENT_MMIO_WRITE;
    bool write = kind == TRACE_EVENT_IO_WRITE || kind == TRACE_EVENT_MMIO_WRITE;
    struct bus_space *space = mmio ? m->mmio : m->io;
    uint64_t offset;
    struct bus_region *r = bus_lookup(space, addr, &offset);

    if (trapped && r != NULL) {
        sim_charge(m, SIM_BUCKET_DEVICE_MODEL, r->attrs.trap_cycles);
    }
    /* A refused access reads all-ones and is counted by the bus. */
    bus_region_access(space, r, offset, size, &val, write);
    trace_access(m, kind, r, addr, size, val);
    return val;
}

/* Under hvm the CPU reaches device memory only while the VMM emulates a
 * trapped MMIO instruction; natively every access is direct. */
static enum cpu_status machine_mmio_read(void *opaque, uint64_t pa,
                                         unsigned size, uint64_t *val)
{
    struct sim_machine *m = opaque;

    *val = sim_device_access(m, TRACE_EVENT_MMIO_READ, pa, size, 0,
                             m->vmm.emulating);
    return CPU_OK;
}

static enum cpu_status machine_mmio_write(void *opaque, uint64_t pa,
                                          unsigned size, uint64_t val)
{
    struct sim_machine *m = opaque;

    sim_device_access(m, TRACE_EVENT_MMIO_WRITE, pa, size, val,
                      m->vmm.emulating);
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
    struct sim_machine *m = opaque;

    sim_device_access(m, TRACE_EVENT_IO_WRITE, port, size, val, false);
    return m->exited ? CPU_STOP : CPU_OK;
}

static const struct cpu_env_ops machine_env_ops = {
    .ram_page = machine_ram_page,
    .mmio_read = machine_mmio_read,
    .mmio_write = machine_mmio_write,
    .io_in = machine_io_in,
    .io_out = machine_io_out,
};

/* ---- Building ---- */

/* What a trapped access to device @id costs beyond the VMM: a user-space
 * device model adds the trip to its process and back. */
static uint32_t machine_trap_cycles(const struct sim_machine *m, const char *id)
{
    for (unsigned i = 0; i < SIM_NPLACED_DEVICES; i++) {
        if (strcmp(id, sim_placed_device(i)) == 0 &&
            m->cfg->placement[i] == SIM_PLACE_USERSPACE) {
            return m->cfg->profile.vmx[SIM_VMX_USERSPACE_TRIP];
        }
    }
    return 0;
}

static bool machine_add_devices(struct sim_machine *m, GError **error)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(machine_devices); i++) {
        struct dev_config cfg = machine_devices[i].cfg;
        struct dev *dev;

        /* Trace ids follow the device list (machine_trace_begin). */
        cfg.trace_id = (uint32_t)i + 1;
        if (m->cfg->mode == SIM_MODE_HVM) {
            cfg.trap_cycles = machine_trap_cycles(m, cfg.id);
        }
        dev = dev_new(machine_devices[i].cls, m, &cfg, error);
        if (dev == NULL) {
            return false;
        }
        g_ptr_array_add(m->devices, dev);
    }
    return true;
}

static bool machine_load_guest(struct sim_machine *m, GError **error)
{
    const struct sim_config *cfg = m->cfg;

    if (!sim_guest_build_page_tables(m->ram, m->ram_size, &m->pt_base, error)) {
        return false;
    }
    if (!sim_elf_load(cfg->program, m->ram, m->ram_size, m->pt_base, &m->image,
                      error)) {
        return false;
    }
    /* Both were written behind the CPU's back (cpu.h); the CPU keys its
     * decoded code by machine-physical address. */
    for (size_t i = 0; i < m->image.nsegments; i++) {
        cpu_invalidate_phys(m->cpu, m->guest_base + m->image.segments[i].paddr,
                            m->image.segments[i].memsz);
    }
    cpu_invalidate_phys(m->cpu, m->guest_base + m->pt_base,
                        m->ram_size - m->pt_base);

    /* The guest ABI (README, "Guest ABI"). */
    cpu_reset_long_mode(m->cpu, m->pt_base, m->image.entry, m->pt_base);
    cpu_set_gpr(m->cpu, CPU_RDI, m->ram_size);
    cpu_set_gpr(m->cpu, CPU_RSI, m->pt_base);
    return true;
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

    m->cfg = cfg;
    m->devices = g_ptr_array_new();
    m->trace_deferred = g_array_new(false, false, sizeof(struct trace_event));
    m->console = g_string_new(NULL);
    if (cfg->memory < SIM_RAM_MIN || cfg->memory > SIM_RAM_MAX ||
        cfg->memory % SIM_RAM_GRANULE != 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                    "guest RAM of %" PRIu64 " bytes: must be a multiple of "
                    "2 MiB from 4 MiB to 16 GiB",
                    cfg->memory);
        goto fail;
    }
    m->ram_size = cfg->memory;
    m->guest_base = cfg->mode == SIM_MODE_HVM ? cfg->guest_base : 0;
    m->mem_size = m->guest_base + m->ram_size;
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
    m->ram = m->mem + m->guest_base;
    m->io = bus_space_new("io", 0x10000);
    m->mmio = bus_space_new("mmio", 0);
    m->cpu = cpu_new(&machine_env_ops, m);
    cpu_set_costs(m->cpu, cfg->profile.costs);
    cpu_set_tsc_rate(m->cpu, cfg->tsc_mhz, cfg->profile.freq_mhz);
    if (!machine_add_devices(m, error) || !machine_load_guest(m, error)) {
        goto fail;
    }
    if (cfg->mode == SIM_MODE_HVM && !sim_vmm_init(m, error)) {
        goto fail;
    }
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
    /* Reverse start-up order: devices leave the buses before they go. */
    for (size_t i = m->devices->len; i > 0; i--) {
        dev_free(g_ptr_array_index(m->devices, i - 1));
    }
    g_ptr_array_free(m->devices, TRUE);
    if (m->trace_deferred != NULL) {
        g_array_free(m->trace_deferred, TRUE);
    }
    if (m->trace != NULL) {
        g_autoptr(GError) err = NULL;

        if (!trace_db_close(m->trace, &err)) {
            fprintf(stderr, "iovsim: warning: trace: %s\n", err->message);
        }
    }
    if (m->cfg != NULL && m->cfg->mode == SIM_MODE_HVM) {
        sim_vmm_destroy(m);
    }
    if (m->cpu != NULL) {
        cpu_free(m->cpu);
    }
    bus_space_free(m->mmio);
    bus_space_free(m->io);
    if (m->mem != NULL) {
        munmap(m->mem, m->mem_size);
    }
    sim_sched_free(m);
    sim_elf_image_clear(&m->image);
    g_clear_error(&m->trace_error);
    g_string_free(m->console, TRUE);
    sim_config_free(m->cfg);
    g_free(m);
}

/* ---- What devices call ---- */

struct bus_space *sim_machine_io(struct sim_machine *m)
{
    return m->io;
}

struct bus_space *sim_machine_mmio(struct sim_machine *m)
{
    return m->mmio;
}

void sim_machine_console_write(struct sim_machine *m, const void *buf,
                               size_t len)
{
    size_t room = SIM_CONSOLE_MAX - m->console->len;
    size_t keep = len < room ? len : room;

    g_string_append_len(m->console, buf, (gssize)keep);
    m->console_bytes += len;
    m->console_dropped += len - keep;
    if (m->console_sink != NULL) {
        /* A lost write is kept for the end of the run: output is a result. */
        errno = 0;
        if ((fwrite(buf, 1, len, m->console_sink) != len ||
             (memchr(buf, '\n', len) != NULL &&
              fflush(m->console_sink) != 0)) &&
            m->console_errno == 0) {
            m->console_errno = errno != 0 ? errno : EIO;
        }
    }
}

void sim_machine_exit(struct sim_machine *m, uint32_t status)
{
    m->exited = true;
    m->exit_status = status;
}

uint64_t sim_machine_now(const struct sim_machine *m)
{
    return cpu_cycles(m->cpu);
}

uint64_t sim_machine_us_to_cycles(const struct sim_machine *m, uint64_t us)
{
    return us * m->cfg->profile.freq_mhz;
}

void sim_machine_raise_irq(struct sim_machine *m, unsigned vector)
{
    cpu_raise_interrupt(m->cpu, vector);
}

/* ---- Accessors ---- */

void sim_machine_set_console_sink(struct sim_machine *m, FILE *sink)
{
    m->console_sink = sink;
    m->console_errno = 0;
}

int sim_machine_console_errno(const struct sim_machine *m)
{
    return m->console_errno;
}

const char *sim_machine_console(const struct sim_machine *m, size_t *len)
{
    if (len != NULL) {
        *len = m->console->len;
    }
    return m->console->str;
}

struct cpu *sim_machine_cpu(struct sim_machine *m)
{
    return m->cpu;
}

const struct sim_config *sim_machine_config(const struct sim_machine *m)
{
    return m->cfg;
}

uint8_t *sim_machine_ram(struct sim_machine *m, uint64_t *size)
{
    *size = m->ram_size;
    return m->ram;
}

uint8_t *sim_machine_memory(struct sim_machine *m, uint64_t *size)
{
    *size = m->mem_size;
    return m->mem;
}

void sim_machine_guest_regs(const struct sim_machine *m,
                            struct sim_guest_regs *out)
{
    for (unsigned i = 0; i < CPU_NGPR; i++) {
        out->gpr[i] = cpu_gpr(m->cpu, i);
    }
    out->rip = cpu_rip(m->cpu);
    out->rflags = cpu_rflags(m->cpu);
    if (m->cfg->mode == SIM_MODE_HVM) {
        out->gpr[CPU_RSP] = vmx_vmcs_field(m->vmm.vmcs, VMCS_GUEST_RSP);
        out->rip = vmx_vmcs_field(m->vmm.vmcs, VMCS_GUEST_RIP);
        out->rflags = vmx_vmcs_field(m->vmm.vmcs, VMCS_GUEST_RFLAGS);
    }
}

bool sim_machine_exit_status(const struct sim_machine *m, uint32_t *status)
{
    if (m->exited) {
        *status = m->exit_status;
    }
    return m->exited;
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
static uint64_t machine_ram_resident(const struct sim_machine *m)
{
    long psz = sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)m->ram & ~(uintptr_t)(psz - 1);
    uintptr_t end = (uintptr_t)m->ram + m->ram_size;
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

void sim_machine_get_stats(const struct sim_machine *m, struct sim_stats *out)
{
    uint32_t freq = m->cfg->profile.freq_mhz;

    memset(out, 0, sizeof(*out));
    out->instructions = cpu_icount(m->cpu);
    out->cycles = cpu_cycles(m->cpu);
    out->sim_time_ns =
        freq == 0 ? 0
                  : (uint64_t)((unsigned __int128)out->cycles * 1000 / freq);
    out->host_ns = m->host_ns;
    out->console_bytes = m->console_bytes;
    out->console_dropped = m->console_dropped;
    bus_get_stats(m->io, &out->io);
    bus_get_stats(m->mmio, &out->mmio);
    out->host_peak_rss = machine_peak_rss();
    out->ram_resident = machine_ram_resident(m);
    G_STATIC_ASSERT(SIM_NBUCKETS == G_N_ELEMENTS(out->buckets));
    G_STATIC_ASSERT(SIM_NEXIT_REASONS == G_N_ELEMENTS(out->exits));
    memcpy(out->buckets, m->buckets, sizeof(out->buckets));
    out->buckets[SIM_BUCKET_GUEST] = out->cycles;
    for (unsigned b = 1; b < SIM_NBUCKETS; b++) {
        out->buckets[SIM_BUCKET_GUEST] -= m->buckets[b];
    }
    memcpy(out->exits, m->vmm.exits, sizeof(out->exits));
    memcpy(out->exit_cycles, m->vmm.exit_cycles, sizeof(out->exit_cycles));
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
