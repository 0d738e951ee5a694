/*
 * traces/db.c: opening a trace database (create, migrate or refuse), the
 * schema (docs/trace-schema.md), runs, devices and counters.
 *
 * Refusing without touching: a file is first read as plain bytes (the
 * SQLite header magic), then inspected through a read-only SQLite
 * connection (application_id, user_version, tables).  Only a new, empty
 * or iovsim file is ever opened for writing, and the checks are repeated
 * inside the first write transaction in case another process got there
 * first.
 *
 * Crash safety: WAL journal with synchronous=NORMAL, and every batch of
 * events is one transaction, so a process killed at any moment leaves
 * every committed batch readable; the run's row keeps complete = 0 until
 * trace_run_end() (SQLite "Atomic Commit", "Write-Ahead Logging").
 */
#include "sim/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "traces/traces-internal.h"
#include "traces/traces.h"

/* Page size for new files: fewer, larger pages insert faster. */
#define TRACE_PAGE_SIZE 16384

/*
 * The current schema (version 3), for new files.  Tables may gain columns
 * in later versions but never silently change meaning (DESIGN.md
 * "Traces"); trace_migrations[] brings older files up to it.  Unsigned
 * 64-bit values are stored as their two's-complement signed value.
 */
static const char trace_schema[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT,"
    " config_path TEXT,"
    " config TEXT,"
    " seed INTEGER NOT NULL,"
    " profile TEXT,"
    " git_version TEXT,"
    " level TEXT NOT NULL,"
    " start_time TEXT NOT NULL,"
    " complete INTEGER NOT NULL DEFAULT 0,"
    " stop_reason TEXT,"
    " instructions INTEGER,"
    " cycles INTEGER,"
    " sim_time_ns INTEGER,"
    " host_ns INTEGER,"
    " first_event INTEGER,"
    " last_event INTEGER,"
    " lost_events INTEGER,"
    " error TEXT);"
    "CREATE TABLE event_kinds ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " level TEXT NOT NULL,"
    " description TEXT NOT NULL);"
    "CREATE TABLE exit_reasons ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL);"
    "CREATE TABLE devices ("
    " run INTEGER NOT NULL REFERENCES runs(id),"
    " id INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " vm INTEGER,"
    " PRIMARY KEY (run, id)) WITHOUT ROWID;"
    "CREATE TABLE vms ("
    " run INTEGER NOT NULL REFERENCES runs(id),"
    " id INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " mode TEXT NOT NULL,"
    " memory INTEGER NOT NULL,"
    " vcpus INTEGER NOT NULL,"
    " PRIMARY KEY (run, id)) WITHOUT ROWID;"
    /*
     * No NOT NULL here: with it SQLite spends a third more instructions
     * per multi-row INSERT (measured with callgrind); the writer never
     * leaves run, time, vm, vcpu, kind or cost NULL.
     */
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY,"
    " run INTEGER REFERENCES runs(id),"
    " time INTEGER,"
    " vm INTEGER,"
    " vcpu INTEGER,"
    " kind INTEGER REFERENCES event_kinds(id),"
    " exit_reason INTEGER,"
    " addr INTEGER,"
    " size INTEGER,"
    " value INTEGER,"
    " device INTEGER,"
    " cost INTEGER,"
    " rip INTEGER,"
    " insn TEXT);"
    "CREATE TABLE io ("
    " id INTEGER PRIMARY KEY,"
    " run INTEGER NOT NULL REFERENCES runs(id),"
    " vm INTEGER NOT NULL,"
    " device INTEGER,"
    " op TEXT NOT NULL,"
    " offset INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " submit_time INTEGER NOT NULL,"
    " complete_time INTEGER NOT NULL);"
    "CREATE INDEX io_run ON io(run);"
    "CREATE TABLE counters ("
    " run INTEGER NOT NULL REFERENCES runs(id),"
    " vm INTEGER NOT NULL,"
    " bucket TEXT NOT NULL,"
    " cycles INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " PRIMARY KEY (run, vm, bucket)) WITHOUT ROWID;"
    "CREATE VIEW events_named AS"
    " SELECT e.*, k.name AS kind_name, r.name AS exit_reason_name,"
    " d.name AS device_name"
    " FROM events e JOIN event_kinds k ON k.id = e.kind"
    " LEFT JOIN exit_reasons r ON r.id = e.exit_reason"
    " LEFT JOIN devices d ON d.run = e.run AND d.id = e.device;";

/*
 * trace_migrations[v] takes a database from schema version v to v + 1.
 * Version 0 is a new file, which gets the current schema directly, so
 * entry 0 is unused.
 */
static const char *const trace_migrations[TRACE_SCHEMA_VERSION] = {
    [0] = NULL,
    /* 2: what a run lost to write errors (docs/trace-schema.md). */
    [1] = "ALTER TABLE runs ADD COLUMN lost_events INTEGER;"
          "ALTER TABLE runs ADD COLUMN error TEXT;",
    /* 3: several VMs: their names, and each device's VM. */
    [2] = "ALTER TABLE devices ADD COLUMN vm INTEGER;"
          "CREATE TABLE vms ("
          " run INTEGER NOT NULL REFERENCES runs(id),"
          " id INTEGER NOT NULL,"
          " name TEXT NOT NULL,"
          " mode TEXT NOT NULL,"
          " memory INTEGER NOT NULL,"
          " vcpus INTEGER NOT NULL,"
          " PRIMARY KEY (run, id)) WITHOUT ROWID;",
};

/* Every table a database has (since version 1); a missing one: damage. */
static const char *const trace_tables[] = {
    "runs",   "event_kinds", "exit_reasons", "devices",
    "events", "io",          "counters",
};

/* What a file turned out to be. */
enum trace_state {
    TRACE_STATE_NEW,     /* missing, empty, or SQLite with nothing in it */
    TRACE_STATE_OLDER,   /* iovsim's, older schema: migrate */
    TRACE_STATE_CURRENT, /* iovsim's, this schema */
};

struct trace_probe {
    int64_t app_id;
    int64_t version;
    int64_t nobjects;
    const char *missing; /* the first table of trace_tables[] absent */
};

static bool trace_exec(sqlite3 *sql, const char *path, const char *text,
                       GError **error)
{
    char *msg = NULL;

    if (sqlite3_exec(sql, text, NULL, NULL, &msg) != SQLITE_OK) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE, "%s: %s", path,
                    msg != NULL ? msg : sqlite3_errmsg(sql));
        sqlite3_free(msg);
        return false;
    }
    return true;
}

bool trace_sql_error(struct trace_db *db, GError **error, const char *what)
{
    g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE, "%s: %s: %s", db->path,
                what, sqlite3_errmsg(db->sql));
    return false;
}

/*
 * Reads application_id, user_version, the number of schema objects and
 * which iovsim tables are missing.  SQLITE_NOTADB becomes
 * TRACE_ERROR_NOT_SQLITE.
 */
static bool trace_probe(sqlite3 *sql, const char *path,
                        struct trace_probe *p /* out */, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = sqlite3_prepare_v2(sql,
                            "SELECT (SELECT application_id FROM "
                            "pragma_application_id), (SELECT user_version "
                            "FROM pragma_user_version), (SELECT count(*) "
                            "FROM sqlite_master)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        int code = (sqlite3_errcode(sql) & 0xff) == SQLITE_NOTADB
                       ? TRACE_ERROR_NOT_SQLITE
                       : TRACE_ERROR_SQLITE;

        g_set_error(error, TRACE_ERROR, code,
                    "%s: not an iovsim trace database (%s); left untouched",
                    path, sqlite3_errmsg(sql));
        sqlite3_finalize(st);
        return false;
    }
    p->app_id = sqlite3_column_int64(st, 0);
    p->version = sqlite3_column_int64(st, 1);
    p->nobjects = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);

    rc = sqlite3_prepare_v2(sql,
                            "SELECT 1 FROM sqlite_master WHERE type = "
                            "'table' AND name = ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE, "%s: %s", path,
                    sqlite3_errmsg(sql));
        return false;
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(trace_tables); i++) {
        sqlite3_bind_text(st, 1, trace_tables[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && p->missing == NULL) {
            p->missing = trace_tables[i];
        }
    }
    sqlite3_finalize(st);
    return true;
}

/* Decides what to do with a probed file; refuses what is not ours. */
static bool trace_classify(const char *path, const struct trace_probe *p,
                           enum trace_state *state /* out */, GError **error)
{
    if (p->app_id == TRACE_APPLICATION_ID) {
        if (p->version > TRACE_SCHEMA_VERSION) {
            g_set_error(error, TRACE_ERROR, TRACE_ERROR_NEWER,
                        "%s: iovsim trace database of schema version %" PRId64
                        ", newer than this iovsim's (%d); use a newer "
                        "iovsim; left untouched",
                        path, p->version, TRACE_SCHEMA_VERSION);
            return false;
        }
        if (p->version < 1 || p->missing != NULL) {
            g_set_error(error, TRACE_ERROR, TRACE_ERROR_DAMAGED,
                        "%s: damaged iovsim trace database (schema version "
                        "%" PRId64 ", %s%s); left untouched",
                        path, p->version,
                        p->missing != NULL ? "no table " : "bad version",
                        p->missing != NULL ? p->missing : "");
            return false;
        }
        *state = p->version < TRACE_SCHEMA_VERSION ? TRACE_STATE_OLDER
                                                   : TRACE_STATE_CURRENT;
        return true;
    }
    if (p->app_id == 0 && p->version == 0 && p->nobjects == 0) {
        *state = TRACE_STATE_NEW;
        return true;
    }
    g_set_error(error, TRACE_ERROR, TRACE_ERROR_FOREIGN,
                "%s: not an iovsim trace database (an SQLite database with "
                "application_id 0x%08" PRIx64 " and %" PRId64
                " schema objects; iovsim's have application_id 0x%08x); "
                "left untouched",
                path, (uint64_t)p->app_id & 0xffffffffu, p->nobjects,
                TRACE_APPLICATION_ID);
    return false;
}

/*
 * Opens @path for writing, or for reading (@read_only) through @uri from
 * trace_read_uri().
 */
static sqlite3 *trace_connect(const char *path, const char *uri,
                              bool read_only, GError **error)
{
    int flags = read_only ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    sqlite3 *sql = NULL;

    /*
     * No SQLite mutexes: the struct trace_db is used by one thread at a
     * time, and the writer thread takes turns with it (traces/writer.c).
     */
    if (sqlite3_open_v2(read_only ? uri : path, &sql,
                        flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE, "%s: %s", path,
                    sql != NULL ? sqlite3_errmsg(sql) : "out of memory");
        sqlite3_close(sql);
        return NULL;
    }
    sqlite3_busy_timeout(sql, TRACE_BUSY_TIMEOUT_MS);
    if (read_only) {
        /* A reader never checkpoints, not even as the last to close. */
        sqlite3_db_config(sql, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    }
    return sql;
}

/*
 * The URI to read @path through without creating or changing any file
 * (SQLite "Uniform Resource Identifiers", "Write-Ahead Logging" §"Read-Only
 * Databases"); @header: its first 100 bytes.  In WAL mode a reader needs
 * the -wal and -shm files, and SQLite creates them when they are missing:
 * files that a read in a read-only directory cannot make, and that,
 * made by another user, lock the owner out.  So:
 * - no WAL content (no -wal file, or an empty one: nobody has the file
 *   open and every committed page is in it): "immutable", which reads the
 *   main file alone, with no locks and no side files;
 * - WAL content with its -shm file (a writer at work, or one that was
 *   killed): a plain read-only connection, which reads the committed
 *   transactions of the -wal through the existing files, even read-only
 *   ones, and creates nothing;
 * - WAL content without a -shm file: a read would have to create it, so
 *   it is refused, unless @may_create (a writer, about to write anyway).
 * Returns: the URI (g_free), or NULL with @error set.
 */
static char *trace_read_uri(const char *path, const char *header,
                            bool may_create, GError **error)
{
    /* Header bytes 18 and 19 (read/write versions) are 2 in WAL mode. */
    bool wal_mode = header[18] == 2 && header[19] == 2;
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    g_autofree char *shm = g_strconcat(path, "-shm", NULL);
    /* Escapes '%', '?' and '#', which would end the URI's path. */
    g_autofree char *escaped =
        g_uri_escape_string(path, G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
    GStatBuf sb;
    bool wal_content = g_stat(wal, &sb) == 0 && sb.st_size > 0;

    if (wal_mode && !wal_content) {
        return g_strdup_printf("file:%s?immutable=1", escaped);
    }
    if (wal_mode && !may_create && g_stat(shm, &sb) != 0) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE,
                    "%s: committed transactions are in %s but %s is "
                    "missing, and reading would create it; open the file "
                    "once for writing (iovsim run --db) to fold them in",
                    path, wal, shm);
        return NULL;
    }
    return g_strdup_printf("file:%s", escaped);
}

/*
 * Looks at @path without writing to it: missing or empty (NEW unless
 * @must_exist), not SQLite, or what trace_classify() says.  *@uri: the
 * URI to read it through (trace_read_uri()), NULL if it is missing or
 * empty.
 */
static bool trace_inspect(const char *path, bool must_exist,
                          enum trace_state *state /* out */,
                          char **uri /* out */, GError **error)
{
    static const char magic[16] = "SQLite format 3";
    GStatBuf sb;
    char header[100];
    struct trace_probe p;
    sqlite3 *sql = NULL;
    size_t got;
    FILE *f;
    bool ok;

    *uri = NULL;
    if (g_stat(path, &sb) != 0) {
        if (errno == ENOENT && !must_exist) {
            *state = TRACE_STATE_NEW;
            return true;
        }
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE, "%s: %s", path,
                    g_strerror(errno));
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE,
                    "%s: not a regular file", path);
        return false;
    }
    if (sb.st_size == 0) {
        if (must_exist) {
            g_set_error(error, TRACE_ERROR, TRACE_ERROR_NOT_SQLITE,
                        "%s: empty file, not an iovsim trace database", path);
            return false;
        }
        *state = TRACE_STATE_NEW;
        return true;
    }
    f = g_fopen(path, "rb");
    if (f == NULL) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE, "%s: %s", path,
                    g_strerror(errno));
        return false;
    }
    got = fread(header, 1, sizeof(header), f);
    fclose(f);
    if (got < sizeof(header) || memcmp(header, magic, sizeof(magic)) != 0) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_NOT_SQLITE,
                    "%s: not an iovsim trace database (not an SQLite "
                    "file); left untouched",
                    path);
        return false;
    }
    *uri = trace_read_uri(path, header, !must_exist, error);
    if (*uri == NULL) {
        return false;
    }
    sql = trace_connect(path, *uri, true, error);
    ok = sql != NULL && trace_probe(sql, path, &p, error) &&
         trace_classify(path, &p, state, error);
    sqlite3_close(sql);
    if (!ok) {
        g_clear_pointer(uri, g_free);
    }
    return ok;
}

/* Fills event_kinds and exit_reasons (new kinds are appended). */
static bool trace_fill_names(sqlite3 *sql, const char *path, GError **error)
{
    static const struct {
        unsigned num;
        const char *name;
        const char *doc;
    } reasons[] = {
#define VMX_EXIT(NAME, num, doc, flags) {num, #NAME, doc},
#include "cpu/vmexit.def"
#undef VMX_EXIT
    };
    sqlite3_stmt *st = NULL;
    bool ok = true;

    if (sqlite3_prepare_v2(sql,
                           "INSERT OR IGNORE INTO event_kinds (id, name, "
                           "level, description) VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        goto fail;
    }
    for (unsigned k = 0; k < TRACE_EVENT_NKINDS && ok; k++) {
        sqlite3_bind_int(st, 1, (int)k);
        sqlite3_bind_text(st, 2, trace_kinds[k].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, trace_level_name(trace_kinds[k].level), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 4, trace_kinds[k].doc, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!ok || sqlite3_prepare_v2(sql,
                                  "INSERT OR IGNORE INTO exit_reasons (id, "
                                  "name, description) VALUES (?, ?, ?)",
                                  -1, &st, NULL) != SQLITE_OK) {
        goto fail;
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(reasons) && ok; i++) {
        sqlite3_bind_int(st, 1, (int)reasons[i].num);
        sqlite3_bind_text(st, 2, reasons[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, reasons[i].doc, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (ok) {
        return true;
    }
fail:
    g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE, "%s: %s", path,
                sqlite3_errmsg(sql));
    return false;
}

/*
 * PRAGMA journal_mode = WAL.  Switching a new file from its rollback
 * journal to WAL needs an exclusive lock taken while holding a shared
 * one; when several processes do it at once, SQLite answers SQLITE_BUSY
 * at once instead of calling the busy handler, since waiting could
 * deadlock (SQLite "sqlite3_busy_handler").  The others have let go by
 * then, so waiting a little and trying again succeeds (usually at once:
 * the file is in WAL mode by then and the pragma does nothing).
 */
static bool trace_set_wal(sqlite3 *sql, const char *path, GError **error)
{
    gint64 deadline =
        g_get_monotonic_time() + (gint64)TRACE_BUSY_TIMEOUT_MS * 1000;
    gulong wait_us = 1000;
    int rc;

    for (;;) {
        rc = sqlite3_exec(sql, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || g_get_monotonic_time() > deadline) {
            break;
        }
        g_usleep(wait_us + (gulong)g_random_int_range(0, 1000));
        wait_us = MIN(wait_us * 2, 50000);
    }
    if (rc != SQLITE_OK) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE,
                    "%s: setting the WAL journal: %s", path,
                    sqlite3_errmsg(sql));
        return false;
    }
    return true;
}

/*
 * Inside one exclusive write transaction: checks the file again (another
 * process may have created it since trace_inspect()), then creates the
 * schema, migrates it, and refreshes the name tables.  The busy handler
 * makes concurrent creators wait their turn; the later ones then find
 * the schema in place.
 */
static bool trace_prepare_schema(sqlite3 *sql, const char *path, GError **error)
{
    struct trace_probe p;
    enum trace_state state;
    char *pragmas;
    bool ok;

    if (!trace_exec(sql, path, "BEGIN EXCLUSIVE", error)) {
        return false;
    }
    if (!trace_probe(sql, path, &p, error) ||
        !trace_classify(path, &p, &state, error)) {
        goto rollback;
    }
    if (state == TRACE_STATE_NEW) {
        pragmas = g_strdup_printf("PRAGMA application_id = %d;"
                                  "PRAGMA user_version = %d;",
                                  TRACE_APPLICATION_ID, TRACE_SCHEMA_VERSION);
        ok = trace_exec(sql, path, trace_schema, error) &&
             trace_exec(sql, path, pragmas, error);
        g_free(pragmas);
        if (!ok) {
            goto rollback;
        }
    }
    for (int64_t v = p.version;
         state == TRACE_STATE_OLDER && v < TRACE_SCHEMA_VERSION; v++) {
        pragmas = g_strdup_printf("PRAGMA user_version = %" PRId64 ";", v + 1);
        ok = SIM_ALWAYS(trace_migrations[v] != NULL) &&
             trace_exec(sql, path, trace_migrations[v], error) &&
             trace_exec(sql, path, pragmas, error);
        g_free(pragmas);
        if (!ok) {
            goto rollback;
        }
    }
    if (!trace_fill_names(sql, path, error) ||
        !trace_exec(sql, path, "COMMIT", error)) {
        goto rollback;
    }
    return true;

rollback:
    sqlite3_exec(sql, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

struct trace_db *trace_db_open_with(const char *path,
                                    const struct trace_db_options *opts,
                                    GError **error)
{
    static const struct trace_db_options defaults = {0};
    struct trace_db *db;
    enum trace_state state;
    char *uri = NULL;
    char *pragmas;
    bool ok;

    if (opts == NULL) {
        opts = &defaults;
    }
    if (!trace_inspect(path, opts->read_only, &state, &uri, error)) {
        return NULL;
    }
    if (opts->read_only && state == TRACE_STATE_NEW) {
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_FOREIGN,
                    "%s: an empty SQLite database, not an iovsim trace "
                    "database",
                    path);
        g_free(uri);
        return NULL;
    }

    db = g_new0(struct trace_db, 1);
    db->path = g_strdup(path);
    db->read_only = opts->read_only;
    db->batch_events =
        opts->batch_events > 0 ? opts->batch_events : TRACE_BATCH_DEFAULT;
    g_mutex_init(&db->error_lock);
    db->sql = trace_connect(path, uri, opts->read_only, error);
    g_free(uri);
    if (db->sql == NULL) {
        goto fail;
    }
    if (opts->read_only) {
        return db;
    }

    /* page_size only matters before the first table is created. */
    pragmas = g_strdup_printf(
        "%sPRAGMA synchronous = NORMAL;",
        state == TRACE_STATE_NEW
            ? "PRAGMA page_size = " G_STRINGIFY(TRACE_PAGE_SIZE) ";"
            : "");
    ok = trace_exec(db->sql, path, pragmas, error);
    g_free(pragmas);
    if (!ok || !trace_set_wal(db->sql, path, error) ||
        !trace_prepare_schema(db->sql, path, error) ||
        !trace_writer_start(db, !opts->no_writer, error)) {
        goto fail;
    }
    return db;

fail:
    trace_writer_finalize(db);
    sqlite3_close(db->sql);
    g_mutex_clear(&db->error_lock);
    g_free(db->path);
    g_free(db);
    return NULL;
}

struct trace_db *trace_db_open(const char *path, GError **error)
{
    return trace_db_open_with(path, NULL, error);
}

bool trace_db_close(struct trace_db *db, GError **error)
{
    bool ok = true;

    if (db == NULL) {
        return true;
    }
    if (!db->read_only) {
        ok = trace_flush(db, error);
        trace_writer_stop(db);
    }
    trace_writer_finalize(db);
    if (sqlite3_close(db->sql) != SQLITE_OK && ok) {
        ok = trace_sql_error(db, error, "closing");
    }
    g_clear_error(&db->write_error);
    g_free(db->run_error);
    g_mutex_clear(&db->error_lock);
    g_free(db->path);
    g_free(db);
    return ok;
}

const char *trace_db_path(const struct trace_db *db)
{
    return db->path;
}

struct sqlite3 *trace_db_sqlite(struct trace_db *db)
{
    return db->sql;
}

/* ---- Runs ---- */

/* "2024-05-01T12:00:00.123456Z" for Unix time @us (0: now). */
static char *trace_time_text(int64_t us)
{
    GDateTime *dt;
    char *base;
    char *text;

    if (us == 0) {
        us = g_get_real_time();
    }
    dt = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
    if (dt == NULL) {
        return g_strdup("1970-01-01T00:00:00.000000Z");
    }
    base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    text = g_strdup_printf("%s.%06" PRId64 "Z", base,
                           (us % G_USEC_PER_SEC + G_USEC_PER_SEC) %
                               G_USEC_PER_SEC);
    g_free(base);
    g_date_time_unref(dt);
    return text;
}

static void trace_bind_text_or_null(sqlite3_stmt *st, int col, const char *text)
{
    if (text != NULL) {
        sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, col);
    }
}

int64_t trace_run_begin(struct trace_db *db, const struct trace_run_info *info,
                        GError **error)
{
    sqlite3_stmt *st = NULL;
    char *start;
    uint32_t wanted = 0;
    int rc;

    g_assert(!db->read_only && db->run == 0);
    g_assert((unsigned)info->level <= TRACE_LEVEL_FULL);
    trace_writer_idle(db);
    if (info->level == TRACE_LEVEL_FULL && !db->capstone_open) {
        if (!trace_capstone_open(&db->capstone)) {
            g_set_error(error, TRACE_ERROR, TRACE_ERROR_FILE,
                        "%s: cannot start Capstone for level full", db->path);
            return 0;
        }
        db->capstone_open = true;
    }
    if (sqlite3_prepare_v2(db->sql,
                           "INSERT INTO runs (name, config_path, config, "
                           "seed, profile, git_version, level, start_time) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        trace_sql_error(db, error, "starting a run");
        return 0;
    }
    start = trace_time_text(info->start_time_us);
    trace_bind_text_or_null(st, 1, info->name);
    trace_bind_text_or_null(st, 2, info->config_path);
    trace_bind_text_or_null(st, 3, info->config_text);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)info->seed);
    trace_bind_text_or_null(st, 5, info->profile);
    trace_bind_text_or_null(st, 6, info->git_version);
    sqlite3_bind_text(st, 7, trace_level_name(info->level), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, start, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    g_free(start);
    if (rc != SQLITE_DONE) {
        trace_sql_error(db, error, "starting a run");
        return 0;
    }
    db->run = sqlite3_last_insert_rowid(db->sql);
    db->level = info->level;
    g_mutex_lock(&db->error_lock);
    db->run_lost_events = 0;
    g_clear_pointer(&db->run_error, g_free);
    g_mutex_unlock(&db->error_lock);
    for (unsigned k = 0; k < TRACE_EVENT_NKINDS; k++) {
        if (trace_kinds[k].level <= info->level) {
            wanted |= 1u << k;
        }
    }
    G_STATIC_ASSERT(TRACE_EVENT_NKINDS <= 32);
    db->head.wanted = wanted;
    return db->run;
}

bool trace_run_end(struct trace_db *db, int64_t run,
                   const struct trace_run_totals *totals, GError **error)
{
    g_autoptr(GError) flush_error = NULL;
    g_autofree char *first_error = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t lost;
    int rc = SQLITE_ERROR;

    g_assert(run != 0 && run == db->run);
    /* The run's losses are counted below, whoever saw them first. */
    trace_flush(db, &flush_error);
    db->head.wanted = 0;
    db->run = 0;
    g_mutex_lock(&db->error_lock);
    lost = db->run_lost_events;
    first_error = g_steal_pointer(&db->run_error);
    db->run_lost_events = 0;
    g_mutex_unlock(&db->error_lock);
    if (sqlite3_prepare_v2(db->sql,
                           "UPDATE runs SET instructions = ?, cycles = ?, "
                           "sim_time_ns = ?, host_ns = ?, stop_reason = ?, "
                           "complete = ?, lost_events = ?, error = ? "
                           "WHERE id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)totals->instructions);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)totals->cycles);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)totals->sim_time_ns);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)totals->host_ns);
        trace_bind_text_or_null(st, 5, totals->stop_reason);
        /* A run whose events could not all be written stays incomplete. */
        sqlite3_bind_int(st, 6, lost == 0 ? 1 : 0);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)lost);
        trace_bind_text_or_null(st, 8, first_error);
        sqlite3_bind_int64(st, 9, run);
        rc = sqlite3_step(st);
    }
    if (lost > 0) {
        /* The update may have failed too (a full disk): say both. */
        g_set_error(error, TRACE_ERROR, TRACE_ERROR_LOST,
                    "%s: run %" PRId64 " lost %" PRIu64
                    " events or io rows that could not be written (first "
                    "error: %s)%s%s",
                    db->path, run, lost,
                    first_error != NULL ? first_error : "unknown",
                    rc == SQLITE_DONE ? "" : "; and its row could not be "
                                             "updated: ",
                    rc == SQLITE_DONE ? "" : sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
        return false;
    }
    if (rc != SQLITE_DONE) {
        trace_sql_error(db, error, "ending a run");
        sqlite3_finalize(st);
        return false;
    }
    sqlite3_finalize(st);
    if (flush_error != NULL) {
        g_propagate_error(error, g_steal_pointer(&flush_error));
        return false;
    }
    return true;
}

bool trace_device_add(struct trace_db *db, uint32_t device, uint32_t vm,
                      const char *name, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    g_assert(db->run != 0 && device > 0 && name != NULL);
    trace_writer_idle(db);
    if (sqlite3_prepare_v2(db->sql,
                           "INSERT OR REPLACE INTO devices (run, id, name, "
                           "vm) VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        return trace_sql_error(db, error, "naming a device");
    }
    sqlite3_bind_int64(st, 1, db->run);
    sqlite3_bind_int64(st, 2, device);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, vm);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return trace_sql_error(db, error, "naming a device");
    }
    return true;
}

bool trace_vm_add(struct trace_db *db, uint32_t vm, const char *name,
                  const char *mode, uint64_t memory, uint32_t vcpus,
                  GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    g_assert(db->run != 0 && name != NULL && mode != NULL);
    trace_writer_idle(db);
    if (sqlite3_prepare_v2(db->sql,
                           "INSERT OR REPLACE INTO vms (run, id, name, mode, "
                           "memory, vcpus) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        return trace_sql_error(db, error, "describing a VM");
    }
    sqlite3_bind_int64(st, 1, db->run);
    sqlite3_bind_int64(st, 2, vm);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, mode, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)memory);
    sqlite3_bind_int64(st, 6, vcpus);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return trace_sql_error(db, error, "describing a VM");
    }
    return true;
}

bool trace_counter(struct trace_db *db, int64_t run, uint32_t vm,
                   const char *bucket, uint64_t cycles, uint64_t count,
                   GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    g_assert(!db->read_only && run > 0 && bucket != NULL);
    trace_writer_idle(db);
    if (sqlite3_prepare_v2(db->sql,
                           "INSERT INTO counters (run, vm, bucket, cycles, "
                           "count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run, "
                           "vm, bucket) DO UPDATE SET cycles = "
                           "excluded.cycles, count = excluded.count",
                           -1, &st, NULL) != SQLITE_OK) {
        return trace_sql_error(db, error, "writing a counter");
    }
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, vm);
    sqlite3_bind_text(st, 3, bucket, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)cycles);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)count);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return trace_sql_error(db, error, "writing a counter");
    }
    return true;
}
