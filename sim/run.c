/*
 * sim/run.c: running a machine.  The CPU runs in slices (cpu_run with an
 * instruction budget); between slices the limits of the experiment are
 * checked, so a limit ends the run at a slice boundary.  The budget is cut
 * so that no slice runs past the instruction limit, and shrinks near the
 * time limit so that it is overshot by about one block.  Host time is
 * measured around cpu_run() only, so start-up and reporting do not count
 * against guest MIPS.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <time.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "sim/sim-internal.h"
#include "sim/sim.h"

static uint64_t run_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Instructions retired by every vCPU of the host. */
static uint64_t run_icount(const struct sim_machine *m)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < m->nvms; i++) {
        for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
            n += cpu_icount(m->vms[i]->vcpus[j]->cpu);
        }
    }
    return n;
}

/* The VM has stopped for @stop; the others go on. */
static void vm_stop(struct sim_vm *vm, enum sim_stop stop)
{
    vm->stopped = true;
    vm->stop = stop;
}

/*
 * Returns: true with *@stop if a limit or a request ends the whole run
 * now, or every VM has stopped.
 */
static bool run_check(struct sim_machine *m, enum sim_stop *stop)
{
    uint64_t limit = m->cfg->limit_instructions;
    unsigned stopped = 0;

    if (m->stop_requested) {
        *stop = SIM_STOP_INTERRUPTED;
        return true;
    }
    for (unsigned i = 0; i < m->nvms; i++) {
        stopped += m->vms[i]->stopped;
    }
    if (stopped == m->nvms) {
        /* Every VM stopped: the run's reason is the first that did not
         * exit (all exited: exit). */
        *stop = SIM_STOP_EXIT;
        for (unsigned i = 0; i < m->nvms; i++) {
            if (m->vms[i]->stop != SIM_STOP_EXIT) {
                *stop = m->vms[i]->stop;
                break;
            }
        }
        return true;
    }
    if (limit != 0 && run_icount(m) >= limit) {
        *stop = SIM_STOP_INSN_LIMIT;
        return true;
    }
    if (m->limit_cycles != 0 && m->now >= m->limit_cycles) {
        *stop = SIM_STOP_TIME_LIMIT;
        return true;
    }
    return false;
}

/*
 * @v is halted: it can wake only through an interrupt.  Its time moves on
 * to @until, charged to the idle bucket, unless an interrupt it can take
 * is pending.
 * Returns: false when nothing can ever wake it (interrupts disabled: NMIs
 * are not modelled; or no event of its VM is scheduled).
 */
static bool run_idle(struct sim_vcpu *v, uint64_t until)
{
    uint64_t now = cpu_cycles(v->cpu);
    bool hvm = v->vm->mode == SIM_MODE_HVM;
    bool can_take = hvm ? sim_vmm_guest_can_wake(v)
                        : (cpu_rflags(v->cpu) & CPU_FLAG_IF) != 0;

    if (can_take && (cpu_interrupt_pending(v->cpu) ||
                     (hvm && sim_vmm_virq_pending(v)))) {
        v->halted = false;
        return true;
    }
    if (!can_take || v->vm->nevents == 0) {
        return false;
    }
    if (until > now) {
        v->buckets[SIM_BUCKET_IDLE] += until - now;
        cpu_add_cycles(v->cpu, until - now);
    }
    return true;
}

uint64_t sim_run_deadline(const struct sim_machine *m)
{
    return m->quantum_end;
}

/* The end of the quantum that starts now: the quantum, the next event or
 * the time limit, whichever comes first. */
static uint64_t run_quantum_end(const struct sim_machine *m)
{
    uint64_t end = m->quantum_cycles > UINT64_MAX - m->now
                       ? UINT64_MAX
                       : m->now + m->quantum_cycles;
    uint64_t next = sim_sched_next(m);

    if (next < end) {
        end = next;
    }
    if (m->limit_cycles != 0 && m->limit_cycles < end) {
        end = m->limit_cycles;
    }
    return end;
}

/*
 * Runs @v until its local time reaches the quantum's end (which an event
 * scheduled meanwhile may bring closer), its VM stops, or a limit or a
 * request ends the run.  Host time is measured around the CPU only.
 */
static void run_vcpu(struct sim_machine *m, struct sim_vcpu *v,
                     uint64_t *retired)
{
    struct sim_vm *vm = v->vm;
    uint64_t limit = m->cfg->limit_instructions;
    /* Only this vCPU retires instructions while it runs. */
    uint64_t others = *retired - cpu_icount(v->cpu);

    m->running = v;
    while (!vm->stopped && !m->stop_requested &&
           cpu_cycles(v->cpu) < m->quantum_end) {
        enum sim_stop stop = SIM_STOP_EXIT;
        enum cpu_stop_reason why;
        uint64_t budget = SIM_SLICE_INSNS;
        uint64_t t0;

        if (v->halted) {
            if (!run_idle(v, m->quantum_end)) {
                vm_stop(vm, SIM_STOP_HALTED);
            }
            if (v->halted) {
                break;
            }
            continue;
        }
        if (limit != 0) {
            uint64_t done = others + cpu_icount(v->cpu);

            if (done >= limit) {
                break;
            }
            budget = limit - done < budget ? limit - done : budget;
        }
        cpu_set_deadline(v->cpu, m->quantum_end);
        t0 = run_now_ns();
        if (vm->mode == SIM_MODE_HVM) {
            bool more = sim_vmm_run_slice(v, budget, &stop);

            m->host_ns += run_now_ns() - t0;
            if (!more) {
                if (stop == SIM_STOP_INTERRUPTED) {
                    m->stop_requested = 1;
                } else {
                    vm_stop(vm, stop);
                }
            }
            continue;
        }
        why = cpu_run(v->cpu, budget);
        m->host_ns += run_now_ns() - t0;
        if (why == CPU_STOP_HALT) {
            v->halted = true;
        } else if (why == CPU_STOP_TRIPLE_FAULT) {
            vm_stop(vm, SIM_STOP_TRIPLE_FAULT);
        } else if (why == CPU_STOP_UNSUPPORTED) {
            vm_stop(vm, SIM_STOP_UNSUPPORTED);
        } else if (why == CPU_STOP_EXCEPTION) {
            vm_stop(vm, SIM_STOP_EXCEPTION);
        } else if (why == CPU_STOP_REQUEST) {
            m->stop_requested = 1;
        } else if (vm->exited) {
            vm_stop(vm, SIM_STOP_EXIT); /* the exit port (CPU_STOP_ENV) */
        }
        /* CPU_STOP_BUDGET, _DEADLINE: the loop says what next. */
    }
    *retired = others + cpu_icount(v->cpu);
    m->running = NULL;
}

/*
 * After a quantum the clock moves to its end, or only to the slowest vCPU
 * still running when one stopped short of it (a limit or a request ends
 * the run then).
 */
static void run_advance_clock(struct sim_machine *m)
{
    uint64_t next = m->quantum_end;
    bool running = false;

    for (unsigned i = 0; i < m->nvms; i++) {
        for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
            uint64_t t = cpu_cycles(m->vms[i]->vcpus[j]->cpu);

            running |= !m->vms[i]->stopped;
            if (!m->vms[i]->stopped && t < next) {
                next = t;
            }
        }
    }
    /* With every VM stopped the clock stays where the last one stopped. */
    if (running && next != UINT64_MAX && next > m->now) {
        m->now = next;
    }
}

/*
 * The host's loop: events due now fire, then every vCPU that has not
 * stopped runs to the end of the quantum, in a fixed order (VM by VM,
 * vCPU by vCPU), and the clock moves to it.  A vCPU may overshoot the end
 * by the rest of a block or an exit's cost; it then starts the next
 * quantum that much later.  With one vCPU there is nothing to keep in
 * step: its quantum reaches to the next event.
 */
enum sim_stop sim_machine_run(struct sim_machine *m)
{
    enum sim_stop stop;
    uint64_t retired;

    for (;;) {
        if (run_check(m, &stop)) {
            break;
        }
        sim_sched_run_due(m, m->now);
        m->quantum_end = run_quantum_end(m);
        retired = run_icount(m);
        for (unsigned i = 0; i < m->nvms; i++) {
            for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
                run_vcpu(m, m->vms[i]->vcpus[j], &retired);
            }
        }
        run_advance_clock(m);
    }
    for (unsigned i = 0; i < m->nvms; i++) {
        if (!m->vms[i]->stopped) {
            m->vms[i]->stop = stop;
        }
    }
    m->last_stop = stop;
    m->has_stopped = true;
    sim_trace_run_end(m, stop);
    return stop;
}

void sim_machine_request_stop(struct sim_machine *m)
{
    m->stop_requested = 1;
    for (unsigned i = 0; i < m->nvms; i++) {
        for (unsigned j = 0; j < m->vms[i]->nvcpus; j++) {
            cpu_request_stop(m->vms[i]->vcpus[j]->cpu);
        }
    }
}

const char *sim_stop_name(enum sim_stop stop)
{
    static const char *const names[] = {
        [SIM_STOP_EXIT] = "exit",
        [SIM_STOP_INSN_LIMIT] = "instruction-limit",
        [SIM_STOP_TIME_LIMIT] = "time-limit",
        [SIM_STOP_INTERRUPTED] = "interrupted",
        [SIM_STOP_TRIPLE_FAULT] = "triple-fault",
        [SIM_STOP_HALTED] = "halted",
        [SIM_STOP_EXCEPTION] = "exception",
        [SIM_STOP_VMM_ERROR] = "vmm-error",
        [SIM_STOP_UNSUPPORTED] = "unsupported",
    };

    if ((size_t)stop >= SIM_ARRAY_SIZE(names) || names[stop] == NULL) {
        return "unknown";
    }
    return names[stop];
}

/* Why @vm stopped, in one line (g_free it). */
static char *vm_stop_message(const struct sim_vm *vm)
{
    const struct sim_config *cfg = vm->host->cfg;
    const struct sim_vcpu *v = vm->vcpus[0];
    const char *detail;
    unsigned vector;
    int64_t code;
    uint64_t cr2;

    switch (vm->stop) {
    case SIM_STOP_EXIT:
        return g_strdup_printf("guest exited with status %" PRIu32,
                               vm->exit_status);
    case SIM_STOP_INSN_LIMIT:
        return g_strdup_printf("instruction limit reached (%" PRIu64
                               " instructions)",
                               cfg->limit_instructions);
    case SIM_STOP_TIME_LIMIT:
        return g_strdup_printf("simulated time limit reached (%s)",
                               cfg->limit_time_text);
    case SIM_STOP_INTERRUPTED:
        return g_strdup("interrupted (SIGINT)");
    case SIM_STOP_TRIPLE_FAULT:
        if (vm->stop_message != NULL) {
            return g_strdup_printf("guest triple fault: %s",
                                   vm->stop_message);
        }
        detail = cpu_stop_detail(v->cpu);
        return g_strdup_printf("guest triple fault at rip 0x%" PRIx64 ": %s",
                               cpu_rip(v->cpu),
                               detail != NULL ? detail : "no detail");
    case SIM_STOP_HALTED:
        return g_strdup_printf(
            "guest halted with interrupts %s at rip 0x%" PRIx64
            " and no scheduled event that could wake it",
            (cpu_rflags(v->cpu) & CPU_FLAG_IF) ? "enabled" : "disabled",
            cpu_rip(v->cpu));
    case SIM_STOP_UNSUPPORTED:
        detail = vm->stop_message != NULL ? vm->stop_message
                                             : cpu_stop_detail(v->cpu);
        return g_strdup_printf("not modelled: %s",
                               detail != NULL ? detail : "no detail");
    case SIM_STOP_VMM_ERROR:
        return g_strdup_printf("the VMM stopped the guest: %s",
                               vm->stop_message != NULL
                                   ? vm->stop_message
                                   : "no detail");
    case SIM_STOP_EXCEPTION:
        cpu_last_exception(v->cpu, &vector, &code, &cr2);
        return g_strdup_printf("unexpected exception exit: vector %u, "
                               "error code %" PRId64 ", cr2 0x%" PRIx64,
                               vector, code, cr2);
    }
    return g_strdup("unknown stop");
}

char *sim_machine_stop_message(const struct sim_machine *m)
{
    GString *s;

    if (!m->has_stopped) {
        return g_strdup("not run yet");
    }
    if (m->nvms == 1) {
        return vm_stop_message(m->vms[0]);
    }
    s = g_string_new(NULL);
    for (unsigned i = 0; i < m->nvms; i++) {
        g_autofree char *msg = vm_stop_message(m->vms[i]);

        g_string_append_printf(s, "%sVM %s: %s", i > 0 ? "; " : "",
                               m->vms[i]->name, msg);
    }
    return g_string_free(s, FALSE);
}
