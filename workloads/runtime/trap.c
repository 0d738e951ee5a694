/*
 * trap.c: exception and interrupt dispatch.  vectors.S hands every
 * exception and external interrupt here with the saved registers; a
 * program's handler (rt_set_handler) gets them if one is registered,
 * otherwise the default handler reports the vector on the console and
 * ends the run with status 128 + vector.  Deliveries of the interrupt
 * vectors are counted, for rt_sleep_us and tests.
 */
#include "rt-internal.h"

#define TRAP_NR_IRQS (RT_VEC_IRQ_LAST - RT_VEC_IRQ_FIRST + 1)

/*
 * The handler table and the interrupt counts: mutable globals, one machine
 * per guest program.  The counts change in interrupt context, hence
 * volatile.
 */
static rt_trap_fn trap_handlers[RT_NR_VECTORS];
static volatile uint64_t trap_irq_counts[TRAP_NR_IRQS];

static const char *const trap_names[RT_VEC_IRQ_FIRST] = {
    [RT_VEC_DE] = "#DE", [RT_VEC_DB] = "#DB", [RT_VEC_NMI] = "NMI",
    [RT_VEC_BP] = "#BP", [RT_VEC_OF] = "#OF", [RT_VEC_BR] = "#BR",
    [RT_VEC_UD] = "#UD", [RT_VEC_NM] = "#NM", [RT_VEC_DF] = "#DF",
    [RT_VEC_TS] = "#TS", [RT_VEC_NP] = "#NP", [RT_VEC_SS] = "#SS",
    [RT_VEC_GP] = "#GP", [RT_VEC_PF] = "#PF", [RT_VEC_MF] = "#MF",
    [RT_VEC_AC] = "#AC", [RT_VEC_MC] = "#MC", [RT_VEC_XM] = "#XM",
    [RT_VEC_VE] = "#VE", [RT_VEC_CP] = "#CP",
};

void rt_set_handler(unsigned vector, rt_trap_fn fn)
{
    if (vector < RT_NR_VECTORS) {
        trap_handlers[vector] = fn;
    }
}

uint64_t rt_irq_count(unsigned vector)
{
    if (vector < RT_VEC_IRQ_FIRST || vector > RT_VEC_IRQ_LAST) {
        return 0;
    }
    return trap_irq_counts[vector - RT_VEC_IRQ_FIRST];
}

static void trap_default(struct rt_trap_frame *frame)
{
    const char *name;

    if (frame->vector >= RT_VEC_IRQ_FIRST) {
        rt_printf("\nunhandled interrupt: vector %lu rip 0x%lx cs 0x%lx "
                  "rsp 0x%lx\n",
                  frame->vector, frame->rip, frame->cs, frame->rsp);
        rt_exit(128 + (int)frame->vector);
    }

    name = trap_names[frame->vector];
    rt_printf("\nunhandled exception: vector %lu (%s) error 0x%lx "
              "rip 0x%lx cs 0x%lx rsp 0x%lx",
              frame->vector, name ? name : "reserved", frame->error_code,
              frame->rip, frame->cs, frame->rsp);
    if (frame->vector == RT_VEC_PF) {
        rt_printf(" cr2 0x%lx", rt_read_cr2());
    }
    rt_printf("\n");
    rt_exit(128 + (int)frame->vector);
}

void rt_trap_dispatch(struct rt_trap_frame *frame)
{
    rt_trap_fn fn = NULL;

    if (frame->vector < RT_NR_VECTORS) {
        fn = trap_handlers[frame->vector];
    }
    if (fn != NULL) {
        fn(frame);
    } else {
        trap_default(frame);
    }
    if (frame->vector >= RT_VEC_IRQ_FIRST &&
        frame->vector <= RT_VEC_IRQ_LAST) {
        trap_irq_counts[frame->vector - RT_VEC_IRQ_FIRST]++;
    }
}
