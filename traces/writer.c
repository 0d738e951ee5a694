/*
 * traces/writer.c: the event path.  trace_event() and trace_io() copy
 * into the batch being filled; a full batch is written in one
 * transaction (BEGIN IMMEDIATE ... COMMIT) with prepared statements that
 * insert TRACE_ROWS_PER_INSERT rows each, and the run's event-id range in
 * `runs` is advanced in the same transaction.
 *
 * With the writer thread (the default) batches are double-buffered: the
 * simulation fills one while the thread writes the other, through two
 * GAsyncQueues (full_q: to write; free_q: written).  The SQLite
 * connection is opened without SQLite's mutexes, so the caller's thread
 * touches it only after trace_writer_idle() has taken every batch back.
 * A failed batch is rolled back and counted; the first error is kept and
 * handed to the caller by the next trace_flush().
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "traces/traces-internal.h"
#include "traces/traces.h"

/* Columns of one events row, in the order of the INSERTs below. */
#define TRACE_EVENT_COLS                                                       \
    "(run, time, vm, vcpu, kind, exit_reason, addr, size, value, device, "     \
    "cost, rip, insn)"
/*
 * Parameter 1 is the run, shared by every row of a statement; each row
 * then has its own 12 parameters.
 */
#define TRACE_EVENT_PARAMS "(?1,?,?,?,?,?,?,?,?,?,?,?,?)"
#define TRACE_EVENT_NPARAMS 12

struct trace_batch *trace_batch_new(size_t batch_events)
{
    struct trace_batch *b = g_new0(struct trace_batch, 1);

    b->events = g_new(struct trace_event, batch_events);
    b->io = g_new(struct trace_io, TRACE_BATCH_IO);
    return b;
}

void trace_batch_free(struct trace_batch *b)
{
    if (b != NULL) {
        g_free(b->events);
        g_free(b->io);
        g_free(b);
    }
}

static void trace_bind_u64(sqlite3_stmt *st, int col, bool present, uint64_t v)
{
    if (present) {
        sqlite3_bind_int64(st, col, (sqlite3_int64)v);
    } else {
        sqlite3_bind_null(st, col);
    }
}

/*
 * Binds @ev as the row whose parameters follow @base (the run, parameter
 * 1, is bound once per statement).
 */
static void trace_bind_event(struct trace_db *db, sqlite3_stmt *st, int base,
                             const struct trace_batch *b,
                             const struct trace_event *ev)
{
    unsigned f = trace_kinds[ev->kind].fields;

    sqlite3_bind_int64(st, base + 2, (sqlite3_int64)ev->time);
    sqlite3_bind_int64(st, base + 3, ev->vm);
    sqlite3_bind_int64(st, base + 4, ev->vcpu);
    sqlite3_bind_int(st, base + 5, (int)ev->kind);
    trace_bind_u64(st, base + 6, f & TRACE_F_REASON, ev->exit_reason);
    trace_bind_u64(st, base + 7, f & TRACE_F_ADDR, ev->addr);
    trace_bind_u64(st, base + 8, f & TRACE_F_SIZE, ev->size);
    trace_bind_u64(st, base + 9, f & TRACE_F_VALUE, ev->value);
    trace_bind_u64(st, base + 10, (f & TRACE_F_DEVICE) && ev->device != 0,
                   ev->device);
    sqlite3_bind_int64(st, base + 11, (sqlite3_int64)ev->cost);
    trace_bind_u64(st, base + 12, f & TRACE_F_RIP, ev->rip);
    if ((f & TRACE_F_INSN) && b->level >= TRACE_LEVEL_FULL &&
        ev->insn_len > 0 && db->capstone_open) {
        char *text =
            trace_disasm_with(db->capstone, ev->insn,
                              MIN(ev->insn_len, sizeof(ev->insn)), ev->rip);

        sqlite3_bind_text(st, base + 13, text, -1, g_free);
    } else {
        sqlite3_bind_null(st, base + 13);
    }
}

static const char *const trace_io_ops[] = {
    [TRACE_IO_READ] = "read",
    [TRACE_IO_WRITE] = "write",
    [TRACE_IO_FLUSH] = "flush",
    [TRACE_IO_DISCARD] = "discard",
};

static void trace_bind_io(sqlite3_stmt *st, const struct trace_batch *b,
                          const struct trace_io *io)
{
    unsigned op = (unsigned)io->op;

    sqlite3_bind_int64(st, 1, b->run);
    sqlite3_bind_int64(st, 2, io->vm);
    trace_bind_u64(st, 3, io->device != 0, io->device);
    sqlite3_bind_text(
        st, 4, op < SIM_ARRAY_SIZE(trace_io_ops) ? trace_io_ops[op] : "unknown",
        -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)io->offset);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)io->bytes);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)io->submit_time);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)io->complete_time);
}

/* Steps a statement that returns no rows, and resets it. */
static bool trace_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

/* Writes @b in one transaction.  Runs on the writer thread if any. */
static bool trace_batch_write(struct trace_db *db, struct trace_batch *b,
                              GError **error)
{
    const size_t rows = TRACE_ROWS_PER_INSERT;
    size_t i = 0;

    if (!trace_step(db->st_begin)) {
        return trace_sql_error(db, error, "starting a batch");
    }
    sqlite3_bind_int64(db->st_events, 1, b->run);
    sqlite3_bind_int64(db->st_event, 1, b->run);
    for (; i + rows <= b->nevents; i += rows) {
        for (size_t r = 0; r < rows; r++) {
            trace_bind_event(db, db->st_events, (int)r * TRACE_EVENT_NPARAMS, b,
                             &b->events[i + r]);
        }
        if (!trace_step(db->st_events)) {
            goto fail;
        }
    }
    for (; i < b->nevents; i++) {
        trace_bind_event(db, db->st_event, 0, b, &b->events[i]);
        if (!trace_step(db->st_event)) {
            goto fail;
        }
    }
    if (b->nevents > 0) {
        sqlite3_int64 last = sqlite3_last_insert_rowid(db->sql);

        /* The rows of one transaction get consecutive ids. */
        sqlite3_bind_int64(db->st_range, 1,
                           last - (sqlite3_int64)b->nevents + 1);
        sqlite3_bind_int64(db->st_range, 2, last);
        sqlite3_bind_int64(db->st_range, 3, b->run);
        if (!trace_step(db->st_range)) {
            goto fail;
        }
    }
    for (size_t k = 0; k < b->nio; k++) {
        trace_bind_io(db->st_io, b, &b->io[k]);
        if (!trace_step(db->st_io)) {
            goto fail;
        }
    }
    if (!trace_step(db->st_commit)) {
        goto fail;
    }
    return true;

fail:
    trace_sql_error(db, error, "writing a batch");
    trace_step(db->st_rollback);
    return false;
}

/* Writes @b, records a failure, and empties it. */
static void trace_batch_process(struct trace_db *db, struct trace_batch *b)
{
    GError *err = NULL;

    if ((b->nevents > 0 || b->nio > 0) && !trace_batch_write(db, b, &err)) {
        g_mutex_lock(&db->error_lock);
        db->lost_events += b->nevents + b->nio;
        db->lost_batches++;
        db->run_lost_events += b->nevents + b->nio;
        if (db->run_error == NULL) {
            db->run_error = g_strdup(err->message);
        }
        if (db->write_error == NULL) {
            db->write_error = err;
        } else {
            g_error_free(err);
        }
        g_mutex_unlock(&db->error_lock);
    }
    b->nevents = 0;
    b->nio = 0;
}

static gpointer trace_writer_main(gpointer opaque)
{
    struct trace_db *db = opaque;

    for (;;) {
        gpointer item = g_async_queue_pop(db->full_q);

        if (item == (gpointer)db) { /* the stop marker */
            return NULL;
        }
        trace_batch_process(db, item);
        g_async_queue_push(db->free_q, item);
    }
}

static bool trace_prepare(struct trace_db *db, const char *text,
                          sqlite3_stmt **st /* out */, GError **error)
{
    if (sqlite3_prepare_v3(db->sql, text, -1, SQLITE_PREPARE_PERSISTENT, st,
                           NULL) != SQLITE_OK) {
        return trace_sql_error(db, error, "preparing statements");
    }
    return true;
}

bool trace_writer_start(struct trace_db *db, bool thread, GError **error)
{
    GString *multi =
        g_string_new("INSERT INTO events " TRACE_EVENT_COLS " VALUES ");
    bool ok;

    for (int r = 0; r < TRACE_ROWS_PER_INSERT; r++) {
        g_string_append(multi,
                        r == 0 ? TRACE_EVENT_PARAMS : "," TRACE_EVENT_PARAMS);
    }
    ok = trace_prepare(db, multi->str, &db->st_events, error) &&
         trace_prepare(db,
                       "INSERT INTO events " TRACE_EVENT_COLS
                       " VALUES " TRACE_EVENT_PARAMS,
                       &db->st_event, error) &&
         trace_prepare(db,
                       "INSERT INTO io (run, vm, device, op, offset, bytes, "
                       "submit_time, complete_time) VALUES "
                       "(?,?,?,?,?,?,?,?)",
                       &db->st_io, error) &&
         trace_prepare(db,
                       "UPDATE runs SET first_event = coalesce(first_event, "
                       "?1), last_event = ?2 WHERE id = ?3",
                       &db->st_range, error) &&
         trace_prepare(db, "BEGIN IMMEDIATE", &db->st_begin, error) &&
         trace_prepare(db, "COMMIT", &db->st_commit, error) &&
         trace_prepare(db, "ROLLBACK", &db->st_rollback, error);
    g_string_free(multi, TRUE);
    if (!ok) {
        return false;
    }
    g_assert(sqlite3_bind_parameter_count(db->st_events) ==
             1 + TRACE_ROWS_PER_INSERT * TRACE_EVENT_NPARAMS);

    if (!thread) {
        db->batches[0] = trace_batch_new(db->batch_events);
        db->cur = db->batches[0];
        return true;
    }
    db->full_q = g_async_queue_new();
    db->free_q = g_async_queue_new();
    for (int i = 0; i < TRACE_NBATCHES; i++) {
        db->batches[i] = trace_batch_new(db->batch_events);
        if (i > 0) {
            g_async_queue_push(db->free_q, db->batches[i]);
        }
    }
    db->cur = db->batches[0];
    db->writer = g_thread_try_new("iovsim-trace", trace_writer_main, db, error);
    if (db->writer == NULL) {
        g_prefix_error(error, "%s: cannot start the trace writer: ", db->path);
        return false;
    }
    return true;
}

void trace_writer_idle(struct trace_db *db)
{
    gpointer held[TRACE_NBATCHES];

    if (db->writer == NULL) {
        return;
    }
    /* Every batch but the one being filled comes back once written. */
    for (int i = 0; i < TRACE_NBATCHES - 1; i++) {
        held[i] = g_async_queue_pop(db->free_q);
    }
    for (int i = 0; i < TRACE_NBATCHES - 1; i++) {
        g_async_queue_push(db->free_q, held[i]);
    }
}

void trace_writer_stop(struct trace_db *db)
{
    if (db->writer != NULL) {
        g_async_queue_push(db->full_q, db);
        g_thread_join(db->writer);
        db->writer = NULL;
    }
}

void trace_writer_finalize(struct trace_db *db)
{
    sqlite3_stmt **stmts[] = {
        &db->st_events, &db->st_event,  &db->st_io,       &db->st_range,
        &db->st_begin,  &db->st_commit, &db->st_rollback,
    };

    g_assert(db->writer == NULL);
    for (size_t i = 0; i < SIM_ARRAY_SIZE(stmts); i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    for (int i = 0; i < TRACE_NBATCHES; i++) {
        trace_batch_free(db->batches[i]);
        db->batches[i] = NULL;
    }
    db->cur = NULL;
    g_clear_pointer(&db->full_q, g_async_queue_unref);
    g_clear_pointer(&db->free_q, g_async_queue_unref);
    if (db->capstone_open) {
        cs_close(&db->capstone);
        db->capstone_open = false;
    }
}

bool trace_writer_take_error(struct trace_db *db, GError **error)
{
    GError *err;
    uint64_t events;
    uint64_t batches;

    g_mutex_lock(&db->error_lock);
    err = db->write_error;
    events = db->lost_events;
    batches = db->lost_batches;
    db->write_error = NULL;
    db->lost_events = 0;
    db->lost_batches = 0;
    g_mutex_unlock(&db->error_lock);
    if (err == NULL) {
        return true;
    }
    g_set_error(error, TRACE_ERROR, err->code,
                "%s (%" PRIu64 " events or io rows lost in %" PRIu64
                " batches)",
                err->message, events, batches);
    g_error_free(err);
    return false;
}

/* Hands the batch being filled to the writer (or writes it here). */
static void trace_submit(struct trace_db *db)
{
    struct trace_batch *b = db->cur;

    b->run = db->run;
    b->level = db->level;
    if (db->writer == NULL) {
        trace_batch_process(db, b);
        return;
    }
    g_async_queue_push(db->full_q, b);
    db->cur = g_async_queue_pop(db->free_q);
}

void trace_event(struct trace_db *db, const struct trace_event *ev)
{
    struct trace_batch *b;

    if (!trace_wants(db, ev->kind)) {
        return;
    }
    b = db->cur;
    b->events[b->nevents++] = *ev;
    if (SIM_UNLIKELY(b->nevents == db->batch_events)) {
        trace_submit(db);
    }
}

void trace_io(struct trace_db *db, const struct trace_io *req)
{
    struct trace_batch *b;

    if (db == NULL || db->run == 0 || db->level < TRACE_LEVEL_IO) {
        return;
    }
    b = db->cur;
    b->io[b->nio++] = *req;
    if (b->nio == TRACE_BATCH_IO) {
        trace_submit(db);
    }
}

bool trace_flush(struct trace_db *db, GError **error)
{
    if (db->read_only) {
        return true;
    }
    if (db->cur->nevents > 0 || db->cur->nio > 0) {
        trace_submit(db);
    }
    trace_writer_idle(db);
    return trace_writer_take_error(db, error);
}
