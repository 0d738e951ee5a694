/*
 * traces/traces-internal.h: what the files of traces/ share and nobody
 * else sees: the body of struct trace_db, the event batches, the per-kind
 * table expanded from traces/events.def, and the writer's entry points.
 */
#ifndef SIM_TRACES_TRACES_INTERNAL_H
#define SIM_TRACES_TRACES_INTERNAL_H

#include "sim/common.h"

#include <capstone/capstone.h>
#include <glib.h>
#include <sqlite3.h>

#include "traces/traces.h"

/* The optional columns of an event (FIELDS in traces/events.def). */
enum trace_field {
    TRACE_F_REASON = 1u << 0, /* exit_reason */
    TRACE_F_ADDR = 1u << 1,
    TRACE_F_SIZE = 1u << 2,
    TRACE_F_VALUE = 1u << 3,
    TRACE_F_DEVICE = 1u << 4, /* NULL also when the id is 0 */
    TRACE_F_RIP = 1u << 5,
    TRACE_F_INSN = 1u << 6, /* disassembly, at level full only */
};

struct trace_kind_info {
    const char *name;
    enum trace_level level;
    unsigned fields; /* enum trace_field bits */
    const char *doc;
};

/* Indexed by enum trace_event_kind (traces/events.c). */
extern const struct trace_kind_info trace_kinds[TRACE_EVENT_NKINDS];

/*
 * Events per multi-row INSERT statement.  Instructions per row measured
 * with callgrind: 8 rows 4250, 16 rows 4070, 32 rows 3990, 64 rows 3950.
 */
#define TRACE_ROWS_PER_INSERT 32
#define TRACE_BATCH_DEFAULT 16384
/* io rows per batch; a full io array also ends the batch. */
#define TRACE_BATCH_IO 1024
/* Batches in flight with the writer thread: one filling, one writing. */
#define TRACE_NBATCHES 2
/* How long a writer waits for another process's write lock, in ms. */
#define TRACE_BUSY_TIMEOUT_MS 60000

struct trace_batch {
    int64_t run;
    enum trace_level level;
    size_t nevents;
    size_t nio;
    struct trace_event *events; /* db->batch_events slots */
    struct trace_io *io;        /* TRACE_BATCH_IO slots */
};

struct trace_db {
    struct trace_db_head head; /* first: trace_wants() reads it */
    char *path;
    sqlite3 *sql;
    bool read_only;
    size_t batch_events;

    /* The open run (0: none) and its level. */
    int64_t run;
    enum trace_level level;

    /* The batch being filled by trace_event() and trace_io(). */
    struct trace_batch *cur;

    /*
     * Used only by whoever writes batches: the writer thread, or the
     * caller's thread when there is none or the writer is idle.
     */
    sqlite3_stmt *st_events; /* TRACE_ROWS_PER_INSERT rows */
    sqlite3_stmt *st_event;  /* one row */
    sqlite3_stmt *st_io;
    sqlite3_stmt *st_range; /* runs.first_event/last_event */
    sqlite3_stmt *st_begin;
    sqlite3_stmt *st_commit;
    sqlite3_stmt *st_rollback;
    csh capstone;
    bool capstone_open;

    /* The writer thread (NULL: batches are written by the caller). */
    GThread *writer;
    GAsyncQueue *full_q; /* batches to write, then the stop marker */
    GAsyncQueue *free_q; /* written batches, ready to fill */
    struct trace_batch *batches[TRACE_NBATCHES];

    /* First write error since the last flush, and what it cost. */
    GMutex error_lock;
    GError *write_error;
    uint64_t lost_events;
    uint64_t lost_batches;
    /* What the open run lost: not complete, and said in its row. */
    uint64_t run_lost_events; /* events and io rows */
    char *run_error;          /* the first write error's message */
};

/* traces/writer.c */
struct trace_batch *trace_batch_new(size_t batch_events);
void trace_batch_free(struct trace_batch *b);
bool trace_writer_start(struct trace_db *db, bool thread, GError **error);
/* Waits until no batch is being written (errors stay pending). */
void trace_writer_idle(struct trace_db *db);
/* Stops the thread after writing what was handed to it. */
void trace_writer_stop(struct trace_db *db);
void trace_writer_finalize(struct trace_db *db);
/* Sets *error from the pending write error, if any, and clears it. */
bool trace_writer_take_error(struct trace_db *db, GError **error);

/* traces/disasm.c */
bool trace_capstone_open(csh *handle /* out */);
char *trace_disasm_with(csh handle, const uint8_t *bytes, size_t len,
                        uint64_t rip);

/* traces/db.c */
bool trace_sql_error(struct trace_db *db, GError **error, const char *what);

#endif /* SIM_TRACES_TRACES_INTERNAL_H */
