/*
 * rt-internal.h: what the runtime's own files share and programs do not
 * see: the formatter core (used by the guest console and the host shim
 * alike, so both print the same bytes) and the guest's start-up hooks.
 */
#ifndef SIM_WORKLOADS_RT_INTERNAL_H
#define SIM_WORKLOADS_RT_INTERNAL_H

#include "rt.h"

/* Receives each output byte of the formatter; ctx is the caller's. */
typedef void (*rt_emit_fn)(int c, void *ctx);

/*
 * Formats fmt with ap (see rt_printf in rt.h for what is supported),
 * passing each output byte to emit.
 * Returns: the number of bytes emitted.
 */
int rt_vformat(rt_emit_fn emit, void *ctx, const char *fmt, va_list ap);

#ifdef RT_GUEST
/*
 * Called by crt0 with the loader's RDI (RAM size) and RSI (lowest address
 * of its page tables) before main: records them and loads the GDT, TSS
 * and IDT.
 */
void rt_init(uint64_t ram_size, uint64_t reserved_base, uint64_t boot_info);

/* Called by the vector stubs in vectors.S (trap.c). */
void rt_trap_dispatch(struct rt_trap_frame *frame);

/* The 48 vector stubs' addresses, in vector order (vectors.S). */
extern const uint64_t rt_vector_stubs[RT_NR_VECTORS];

int main(void);
#endif

#endif /* SIM_WORKLOADS_RT_INTERNAL_H */
