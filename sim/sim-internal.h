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

/* Instructions per cpu_run() slice; limits are checked between slices. */
#define SIM_SLICE_INSNS UINT64_C(10000000)
/* In-memory console cap; output beyond it is counted, still sent on. */
#define SIM_CONSOLE_MAX ((size_t)64 << 20)

struct sim_machine {
    struct sim_config *cfg;

    uint8_t *ram;
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

    bool exited;
    uint32_t exit_status;
    volatile sig_atomic_t stop_requested;

    enum sim_stop last_stop;
    bool has_stopped;
    uint64_t limit_cycles; /* limits.time in cycles; 0: none */
    uint64_t host_ns;
};

#endif /* SIM_SIM_SIM_INTERNAL_H */
