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

/* Returns: true with *@stop if a limit or a request ends the run now. */
static bool run_check(struct sim_machine *m, uint64_t *budget,
                      enum sim_stop *stop)
{
    struct sim_vcpu *v = m->clock;
    struct sim_vm *vm = v->vm;
    uint64_t limit = m->cfg->limit_instructions;
    uint64_t icount = cpu_icount(v->cpu);
    uint64_t cycles = cpu_cycles(v->cpu);

    if (m->stop_requested) {
        *stop = SIM_STOP_INTERRUPTED;
        return true;
    }
    if (vm->exited) {
        *stop = SIM_STOP_EXIT;
        return true;
    }
    *budget = SIM_SLICE_INSNS;
    if (limit != 0) {
        if (icount >= limit) {
            *stop = SIM_STOP_INSN_LIMIT;
            return true;
        }
        if (limit - icount < *budget) {
            *budget = limit - icount;
        }
    }
    if (m->limit_cycles != 0) {
        uint64_t left = m->limit_cycles - cycles;
        uint64_t cpi = icount > 0 ? cycles / icount : 1;

        if (cycles >= m->limit_cycles) {
            *stop = SIM_STOP_TIME_LIMIT;
            return true;
        }
        /*
         * Aim at half the time left at the average cycles per instruction
         * so far: slices shrink geometrically near the limit, which is
         * then overshot by about one block, whatever the costs.
         */
        left /= 2 * (cpi > 0 ? cpi : 1);
        if (left < *budget) {
            *budget = left > 0 ? left : 1;
        }
    }
    return false;
}

/*
 * The vCPU is halted: it can wake only through an interrupt.  Time moves
 * on to the next event, or to the time limit if that comes first, charged
 * to the idle bucket.
 * Returns: false with *stop when nothing can ever wake it (no event, or
 * interrupts disabled: NMIs are not modelled).
 */
static bool run_idle(struct sim_machine *m, enum sim_stop *stop)
{
    struct sim_vcpu *v = m->clock;
    struct sim_vm *vm = v->vm;
    uint64_t now = cpu_cycles(v->cpu);
    uint64_t next = sim_sched_next(m);
    bool can_take = vm->mode == SIM_MODE_HVM
                        ? sim_vmm_guest_can_wake(v)
                        : (cpu_rflags(v->cpu) & CPU_FLAG_IF) != 0;

    if (can_take && (cpu_interrupt_pending(v->cpu) ||
                     (vm->mode == SIM_MODE_HVM &&
                      sim_vmm_virq_pending(v)))) {
        v->halted = false;
        return true;
    }
    if (!can_take || next == UINT64_MAX) {
        *stop = SIM_STOP_HALTED;
        return false;
    }
    /* Sleep no further than the time limit: run_check() ends it there. */
    if (m->limit_cycles != 0 && next > m->limit_cycles) {
        next = m->limit_cycles > now ? m->limit_cycles : now;
    }
    if (next > now) {
        v->buckets[SIM_BUCKET_IDLE] += next - now;
        cpu_add_cycles(v->cpu, next - now);
    }
    return true;
}

uint64_t sim_run_deadline(const struct sim_machine *m)
{
    uint64_t next = sim_sched_next(m);

    if (m->limit_cycles != 0 && m->limit_cycles < next) {
        next = m->limit_cycles;
    }
    return next;
}

enum sim_stop sim_machine_run(struct sim_machine *m)
{
    struct sim_vcpu *v = m->clock;
    struct sim_vm *vm = v->vm;
    enum sim_stop stop;
    uint64_t budget;

    for (;;) {
        enum cpu_stop_reason why;
        uint64_t t0;

        if (run_check(m, &budget, &stop)) {
            break;
        }
        sim_sched_run_due(m, cpu_cycles(v->cpu));
        if (v->halted) {
            if (!run_idle(m, &stop)) {
                break;
            }
            continue;
        }
        /* Run up to the next event or the time limit, at most a slice. */
        cpu_set_deadline(v->cpu, sim_run_deadline(m));
        t0 = run_now_ns();
        if (vm->mode == SIM_MODE_HVM) {
            bool more = sim_vmm_run_slice(v, budget, &stop);

            m->host_ns += run_now_ns() - t0;
            if (!more) {
                break;
            }
            continue;
        }
        why = cpu_run(v->cpu, budget);
        m->host_ns += run_now_ns() - t0;
        if (why == CPU_STOP_HALT) {
            v->halted = true;
        } else if (why == CPU_STOP_TRIPLE_FAULT) {
            stop = SIM_STOP_TRIPLE_FAULT;
            break;
        } else if (why == CPU_STOP_UNSUPPORTED) {
            stop = SIM_STOP_UNSUPPORTED;
            break;
        } else if (why == CPU_STOP_EXCEPTION) {
            stop = SIM_STOP_EXCEPTION;
            break;
        } else if (why == CPU_STOP_REQUEST) {
            m->stop_requested = 1;
        }
        /* CPU_STOP_BUDGET, _DEADLINE, _ENV: run_check() says what next. */
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

char *sim_machine_stop_message(const struct sim_machine *m)
{
    const struct sim_config *cfg = m->cfg;
    const struct sim_vcpu *v = m->clock;
    const struct sim_vm *vm = v->vm;
    const char *detail;
    unsigned vector;
    int64_t code;
    uint64_t cr2;

    if (!m->has_stopped) {
        return g_strdup("not run yet");
    }
    switch (m->last_stop) {
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
