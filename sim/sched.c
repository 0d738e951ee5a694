/*
 * sim/sched.c: the host's discrete-event scheduler.  Events are keyed
 * by virtual time in cycles of the simulated core and kept in a binary
 * min-heap; events due at the same cycle fire in the order they were
 * scheduled (a sequence number breaks ties), so a run is deterministic.
 * The run loop fires the events that are due, then lets the vCPU run up
 * to the next one (cpu_set_deadline), or idles to it when the vCPU has
 * halted.
 */
#include "sim/common.h"

#include <glib.h>

#include "cpu/cpu.h"
#include "sim/sim-internal.h"
#include "sim/sim.h"

struct sim_event {
    uint64_t when;
    uint64_t seq; /* also the event's id */
    sim_event_fn *fn;
    void *opaque;
    struct sim_vm *vm; /* whose device scheduled it */
};

static bool event_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_swap(struct sim_event *h, size_t i, size_t j)
{
    struct sim_event t = h[i];

    h[i] = h[j];
    h[j] = t;
}

static void heap_down(struct sim_event *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < n && event_before(&h[l], &h[m])) {
            m = l;
        }
        if (r < n && event_before(&h[r], &h[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_remove(GArray *heap, size_t i)
{
    struct sim_event *h = (struct sim_event *)(void *)heap->data;
    size_t last = heap->len - 1;

    heap_swap(h, i, last);
    g_array_set_size(heap, last);
    h = (struct sim_event *)(void *)heap->data;
    if (i < last) {
        while (i > 0 && event_before(&h[i], &h[(i - 1) / 2])) {
            heap_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
        heap_down(h, last, i);
    }
}

uint64_t sim_vm_schedule(struct sim_vm *vm, uint64_t when, sim_event_fn *fn,
                         void *opaque)
{
    struct sim_machine *m = vm->host;
    struct sim_event ev = {when, ++m->sched_seq, fn, opaque, vm};
    struct sim_event *h;
    size_t i;

    if (m->sched == NULL) {
        m->sched = g_array_new(FALSE, FALSE, sizeof(struct sim_event));
    }
    g_array_append_val(m->sched, ev);
    h = (struct sim_event *)(void *)m->sched->data;
    for (i = m->sched->len - 1; i > 0 && event_before(&h[i], &h[(i - 1) / 2]);
         i = (i - 1) / 2) {
        heap_swap(h, i, (i - 1) / 2);
    }
    vm->nevents++;
    if (i == 0 && when < m->quantum_end) {
        /* Scheduled by a device while a vCPU runs (a port write): the
         * quantum ends at this earlier event, for it and the vCPUs after
         * it. */
        m->quantum_end = when;
        if (m->running != NULL) {
            cpu_set_deadline(m->running->cpu, when);
        }
    }
    return ev.seq;
}

bool sim_vm_unschedule(struct sim_vm *vm, uint64_t id)
{
    struct sim_machine *m = vm->host;
    const struct sim_event *h;

    if (m->sched == NULL) {
        return false;
    }
    h = (const struct sim_event *)(const void *)m->sched->data;
    for (size_t i = 0; i < m->sched->len; i++) {
        if (h[i].seq == id) {
            h[i].vm->nevents--;
            heap_remove(m->sched, i);
            return true;
        }
    }
    return false;
}

uint64_t sim_sched_next(const struct sim_machine *m)
{
    if (m->sched == NULL || m->sched->len == 0) {
        return UINT64_MAX;
    }
    return ((const struct sim_event *)(const void *)m->sched->data)[0].when;
}

void sim_sched_run_due(struct sim_machine *m, uint64_t now)
{
    while (sim_sched_next(m) <= now) {
        struct sim_event ev =
            ((struct sim_event *)(void *)m->sched->data)[0];

        heap_remove(m->sched, 0);
        ev.vm->nevents--;
        ev.fn(ev.opaque);
    }
}

void sim_sched_free(struct sim_machine *m)
{
    if (m->sched != NULL) {
        g_array_free(m->sched, TRUE);
        m->sched = NULL;
    }
}
