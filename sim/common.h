/*
 * sim/common.h: included first by every iovsim source file.  Holds the few
 * definitions every module shares: fixed-width types, branch hints,
 * container_of and the defensive-branch macros.
 */
#ifndef SIM_SIM_COMMON_H
#define SIM_SIM_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SIM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define SIM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member)                                        \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/*
 * Defensive branches for conditions believed impossible: they assert in
 * debug builds and still take the safe path in release builds (after
 * SQLite's ALWAYS/NEVER).
 */
#ifdef NDEBUG
#define SIM_ALWAYS(x) (x)
#define SIM_NEVER(x) (x)
#else
#include <assert.h>
#define SIM_ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define SIM_NEVER(x) ((x) ? (assert(0), 1) : 0)
#endif

#endif /* SIM_SIM_COMMON_H */
