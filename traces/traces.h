/*
 * traces/traces.h: the SQLite trace database (docs/trace-schema.md).
 *
 * One file holds many runs.  A struct trace_db is one open database: it
 * creates the schema in a new or empty file, opens an iovsim database of
 * the same or an older (migrated) schema version, and refuses anything
 * else without writing to it.  A run is a row of `runs` that stays
 * `complete = 0` until trace_run_end(), so a run killed at any moment is
 * marked incomplete by construction.
 *
 * Events (traces/events.def) are appended with trace_event(), which only
 * copies into an in-memory batch; full batches are written by a writer
 * thread, each in one transaction through prepared multi-row INSERTs.
 * Errors of the writer are kept and reported by the next trace_flush(),
 * trace_run_end() or trace_db_close(); they never abort.
 *
 * Threading: one struct trace_db is used by one thread at a time (the
 * writer thread is internal).  Several processes may write runs into the
 * same file at once (SQLite locking, WAL).
 */
#ifndef SIM_TRACES_TRACES_H
#define SIM_TRACES_TRACES_H

#include "sim/common.h"

#include <stdio.h>

#include <glib.h>

/* The schema version this build writes (PRAGMA user_version). */
#define TRACE_SCHEMA_VERSION 3
/* PRAGMA application_id of every iovsim trace database: "IOVS". */
#define TRACE_APPLICATION_ID 0x494F5653

/* Errors of traces/: opening, refusing, SQLite failures, bad names. */
#define TRACE_ERROR (trace_error_quark())
GQuark trace_error_quark(void);

enum trace_error {
    TRACE_ERROR_FILE,       /* cannot read, create or open the file */
    TRACE_ERROR_NOT_SQLITE, /* the file is not an SQLite database */
    TRACE_ERROR_FOREIGN,    /* an SQLite database, but not iovsim's */
    TRACE_ERROR_NEWER,      /* iovsim's, with a newer schema version */
    TRACE_ERROR_OLDER,      /* no longer returned: older files are read */
    TRACE_ERROR_DAMAGED,    /* iovsim's application_id, but tables missing */
    TRACE_ERROR_SQLITE,     /* any other SQLite failure */
    TRACE_ERROR_LEVEL,      /* trace_level_parse(): unknown level name */
    TRACE_ERROR_NO_RUN,     /* no such run */
    TRACE_ERROR_LOST,       /* trace_run_end(): the run lost events */
};

/*
 * Trace levels, each recording everything the one before it does:
 * summary: runs and counters only; io: plus the `io` table and the
 * device-side events; exits: plus VM exits and trapped guest accesses;
 * full: plus each trapped instruction's disassembly.
 */
enum trace_level {
    TRACE_LEVEL_SUMMARY,
    TRACE_LEVEL_IO,
    TRACE_LEVEL_EXITS,
    TRACE_LEVEL_FULL,
};

/*
 * Parses "summary", "io", "exits" or "full" (exactly).
 * Returns: true with *@level set, or false with @error set
 * (TRACE_ERROR_LEVEL, naming the word and the valid ones).
 */
bool trace_level_parse(const char *text, enum trace_level *level /* out */,
                       GError **error);
/* Returns: the level's name ("exits"); static storage. */
const char *trace_level_name(enum trace_level level);

/* Event kinds, in traces/events.def order (stored as these numbers). */
enum trace_event_kind {
#define TRACE_EVENT(NAME, name, level, fields, doc) TRACE_EVENT_##NAME,
#include "traces/events.def"
#undef TRACE_EVENT
    TRACE_EVENT_NKINDS
};

/* Returns: the kind's name ("vmexit"), or NULL if out of range. */
const char *trace_event_kind_name(enum trace_event_kind kind);
/* Returns: the lowest level that records @kind. */
enum trace_level trace_event_kind_level(enum trace_event_kind kind);

/*
 * Returns: the short name of VMX basic exit reason @reason (SDM 3C
 * Appendix C, spec/vmx.md §7), e.g. "IO_INSTRUCTION", or NULL for a
 * number that is out of range or not used.  Static storage.
 */
const char *trace_exit_reason_name(unsigned reason);

/*
 * One event.  Which of addr/size/value/device/rip/insn a kind stores is
 * declared in traces/events.def (the others are written as NULL); the
 * meaning of each per kind is in docs/trace-schema.md.  Zero-initialise
 * and fill what the kind uses.
 */
struct trace_event {
    uint64_t time;  /* virtual cycles since the run started */
    uint64_t addr;  /* port, guest-physical address, ... */
    uint64_t value; /* data, exit qualification, vector, ... */
    uint64_t cost;  /* cycles charged to this event */
    uint64_t rip;   /* guest RIP of the trapped instruction */
    enum trace_event_kind kind;
    uint32_t vm;
    uint32_t vcpu;
    uint32_t size;        /* access size in bytes */
    uint32_t device;      /* trace_device_add() id; 0: none (NULL) */
    uint16_t exit_reason; /* basic exit reason (VMEXIT) */
    uint8_t insn_len;     /* bytes in @insn; 0: none */
    uint8_t insn[15];     /* the trapped instruction, disassembled at full */
};

/* A request-level I/O (the `io` table), recorded at level io and up. */
enum trace_io_op {
    TRACE_IO_READ,
    TRACE_IO_WRITE,
    TRACE_IO_FLUSH,
    TRACE_IO_DISCARD,
};

struct trace_io {
    uint32_t vm;
    uint32_t device; /* trace_device_add() id; 0: none */
    enum trace_io_op op;
    uint64_t offset; /* bytes from the start of the medium */
    uint64_t bytes;
    uint64_t submit_time;   /* virtual cycles */
    uint64_t complete_time; /* virtual cycles */
};

/* ---- Opening and closing (traces/db.c) ---------------------------- */

struct trace_db;

struct trace_db_options {
    bool read_only;      /* never write; the file must exist */
    bool no_writer;      /* write batches on the caller's thread */
    size_t batch_events; /* events per transaction; 0: 16384 */
};

/*
 * Opens the trace database @path for writing, creating it if it does not
 * exist.  A missing or empty file (or an SQLite file with no tables and
 * no application_id) gets the current schema; an iovsim database of an
 * older schema version is migrated.  Refused, with the file left
 * byte-for-byte untouched: a file that is not SQLite
 * (TRACE_ERROR_NOT_SQLITE), an SQLite database that is not iovsim's
 * (TRACE_ERROR_FOREIGN), an iovsim database of a newer schema
 * (TRACE_ERROR_NEWER) or one missing its tables (TRACE_ERROR_DAMAGED).
 * Every message starts with @path.
 * Returns: the database (trace_db_close), or NULL with @error set.
 */
struct trace_db *trace_db_open(const char *path, GError **error);
/*
 * The same with options; @opts NULL means the defaults.  Read-only
 * opening needs an existing iovsim database (of this or an older schema
 * version, which is read as it is: columns added since are absent) and
 * refuses the same files, an empty SQLite database (TRACE_ERROR_FOREIGN)
 * and a file whose -wal holds transactions but whose -shm file is missing
 * (TRACE_ERROR_FILE); it never creates or changes a file, so it works in
 * a read-only directory (docs/trace-schema.md "Reading never writes").
 */
struct trace_db *trace_db_open_with(const char *path,
                                    const struct trace_db_options *opts,
                                    GError **error);
/*
 * Writes what is pending (a run still open stays incomplete), stops the
 * writer thread and closes the file.  @db is freed in all cases.
 * Returns: false with @error set if any batch could not be written since
 * the last trace_flush().
 */
bool trace_db_close(struct trace_db *db, GError **error);
/* Returns: the path given to trace_db_open(). */
const char *trace_db_path(const struct trace_db *db);
/*
 * Returns: the SQLite connection, for read-only queries (analysis/).
 * Call trace_flush() first to see this handle's own pending events; do
 * not use it while a run is being written.
 */
struct sqlite3 *trace_db_sqlite(struct trace_db *db);

/* ---- Runs, devices and counters (traces/db.c) ---------------------- */

struct trace_run_info {
    const char *name;        /* experiment name, or NULL */
    const char *config_path; /* or NULL */
    const char *config_text; /* the experiment file's text, or NULL */
    uint64_t seed;
    const char *profile;     /* CPU profile name, or NULL */
    const char *git_version; /* e.g. `git describe --dirty`, or NULL */
    enum trace_level level;
    int64_t start_time_us; /* Unix time in microseconds; 0: now */
};

/*
 * Inserts a run (complete = 0) and makes it the run that trace_event(),
 * trace_io() and trace_device_add() write to, at @info->level.  At most
 * one run per struct trace_db is open at a time.
 * Returns: the run's id (> 0), or 0 with @error set.
 */
int64_t trace_run_begin(struct trace_db *db, const struct trace_run_info *info,
                        GError **error);

struct trace_run_totals {
    uint64_t instructions;
    uint64_t cycles;         /* simulated cycles */
    uint64_t sim_time_ns;    /* simulated time */
    uint64_t host_ns;        /* host (wall-clock) time of the simulation */
    const char *stop_reason; /* e.g. "exit", "instruction-limit"; or NULL */
};

/*
 * Writes every pending event of run @run (which must be the open run),
 * then sets its totals, lost_events and error, and complete = 1, or
 * complete = 0 if any of the run's batches was lost (even one that
 * trace_flush() already reported).  The run is closed even on failure.
 * Returns: false with @error set if the run lost events
 * (TRACE_ERROR_LOST: the message says how many and the first error), or
 * the update failed.
 */
bool trace_run_end(struct trace_db *db, int64_t run,
                   const struct trace_run_totals *totals, GError **error);

/*
 * Names device @device (> 0, the caller's own numbering) of VM @vm in the
 * open run; events and io rows refer to it by number.
 * Returns: false with @error set on failure.
 */
bool trace_device_add(struct trace_db *db, uint32_t device, uint32_t vm,
                      const char *name, GError **error);
/*
 * Describes VM @vm (the events' and counters' vm column) of the open run:
 * its name, mode ("native", "hvm"), RAM in bytes and vCPUs (schema 3).
 * Returns: false with @error set on failure.
 */
bool trace_vm_add(struct trace_db *db, uint32_t vm, const char *name,
                  const char *mode, uint64_t memory, uint32_t vcpus,
                  GError **error);

/*
 * Sets counter @bucket of @vm in run @run (replacing an earlier value):
 * @cycles charged and @count occurrences.  Buckets: "guest", "vmm",
 * "device-model", "backend", "idle", and "exit:NAME" per exit reason
 * (NAME from trace_exit_reason_name()).  Written at once, after the
 * pending events; recorded at every level.
 * Returns: false with @error set on failure.
 */
bool trace_counter(struct trace_db *db, int64_t run, uint32_t vm,
                   const char *bucket, uint64_t cycles, uint64_t count,
                   GError **error);

/* ---- Events (traces/writer.c) -------------------------------------- */

/*
 * Public head of struct trace_db, so that trace_wants() inlines to a load
 * and a test.  Read-only for callers.
 */
struct trace_db_head {
    uint32_t wanted; /* bit k: kind k is recorded in the open run */
};

/*
 * Returns: whether the open run of @db (which may be NULL: no tracing)
 * records events of @kind.  Check it before building an event.
 */
static inline bool trace_wants(const struct trace_db *db,
                               enum trace_event_kind kind)
{
    return db != NULL && (unsigned)kind < 32 &&
           (((const struct trace_db_head *)(const void *)db)->wanted >> kind) &
               1;
}

/*
 * Appends a copy of @ev to the open run if its level records it
 * (otherwise does nothing).  No SQLite call: a full batch is handed to
 * the writer thread, which may make this wait for the previous batch.
 */
void trace_event(struct trace_db *db, const struct trace_event *ev);
/* Appends a request to the `io` table of the open run (level io and up). */
void trace_io(struct trace_db *db, const struct trace_io *req);
/*
 * Writes every pending event and io row and waits until they are
 * committed.
 * Returns: false with @error set if this or an earlier batch since the
 * last flush failed (the message says how many events were lost).
 */
bool trace_flush(struct trace_db *db, GError **error);

/* ---- Disassembly (traces/disasm.c) --------------------------------- */

/*
 * Disassembles the first instruction of @bytes (@len bytes, at most 15
 * are looked at) as 64-bit code at address @rip, with Capstone, in Intel
 * syntax: "mov dword ptr [rax], ecx", "out dx, al", "jmp 0x401000".
 * Returns: the text (g_free it); "(bad)" if the bytes do not decode.
 */
char *trace_disasm(const uint8_t *bytes, size_t len, uint64_t rip);

/* ---- Benchmark (traces/bench.c) ------------------------------------ */

/*
 * Writes @n exits-level events (a mix of VM exits and port writes, as a
 * UART-bound guest makes) as one run into the database @path (created if
 * missing; an existing iovsim database gets one more run) and measures
 * the time from the first event to the run's end being committed.
 * Returns: true with *@events_per_s, or false with @error set.
 */
bool trace_bench_events(const char *path, uint64_t n,
                        double *events_per_s /* out */, GError **error);
/*
 * `iovsim bench-trace FILE [N]` (argv[0] is the command name): runs
 * trace_bench_events() (N defaults to 4000000) and prints to @out
 * "sqlite events: 1.3 M/s"; errors go to stderr.
 * Returns: 0, or 2 for a usage or database error.
 */
int trace_bench_main(int argc, char **argv, FILE *out);

#endif /* SIM_TRACES_TRACES_H */
