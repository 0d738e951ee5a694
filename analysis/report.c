/*
 * analysis/report.c: `iovsim report DB [--run N] [--compare RUN,RUN...]`.
 *
 * Reads a trace database through traces/ (read-only, refusing files that
 * are not iovsim's) and prints text tables.  One run and several runs use
 * the same code: every table has its key columns and then one group of
 * columns per run, so --compare puts the runs side by side.
 *
 * Exits by reason come from the run's VMEXIT events (levels exits and
 * full), counted within the run's event-id range (runs.first_event and
 * last_event, so other runs' rows are not scanned); for runs traced at a
 * lower level they come from the "exit:NAME" counters, and the run's
 * header line says so.  Exit reasons are named by traces/
 * (trace_exit_reason_name(), SDM 3C Appendix C).
 */
#include "sim/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "analysis/analysis.h"
#include "traces/traces.h"

static const char report_exit_help[] =
    "Exit status:\n"
    "  0    the report was printed\n"
    "  2    usage error, or DB cannot be read (missing, not an iovsim\n"
    "       trace database, newer schema) or has no such run\n";

/* ---- Text tables ---- */

/*
 * Rows of cells, printed with each column as wide as its widest cell,
 * two spaces apart.  Row 0 is the header.  Optionally a row of group
 * labels above it: group g spans @group_size columns from column
 * @group_first + g * @group_size.
 */
struct report_table {
    unsigned ncols;
    const char *align; /* 'l' or 'r' per column */
    GPtrArray *cells;  /* row-major strings */
    unsigned group_first;
    unsigned group_size;
    GPtrArray *groups; /* labels, or NULL */
};

static struct report_table *report_table_new(unsigned ncols, const char *align)
{
    struct report_table *t = g_new0(struct report_table, 1);

    g_assert(strlen(align) == ncols);
    t->ncols = ncols;
    t->align = align;
    t->cells = g_ptr_array_new_with_free_func(g_free);
    return t;
}

static void report_table_free(struct report_table *t)
{
    g_ptr_array_unref(t->cells);
    if (t->groups != NULL) {
        g_ptr_array_unref(t->groups);
    }
    g_free(t);
}

G_GNUC_PRINTF(2, 3)
static void report_cell(struct report_table *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(t->cells, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void report_table_print(const struct report_table *t, FILE *out)
{
    unsigned nrows = t->cells->len / t->ncols;
    g_autofree size_t *width = g_new0(size_t, t->ncols);

    g_assert(t->cells->len % t->ncols == 0);
    for (unsigned i = 0; i < t->cells->len; i++) {
        size_t len = g_utf8_strlen(g_ptr_array_index(t->cells, i), -1);

        width[i % t->ncols] = MAX(width[i % t->ncols], len);
    }
    if (t->groups != NULL) {
        GString *line = g_string_new(NULL);

        for (unsigned c = 0; c < t->group_first; c++) {
            g_string_append_printf(line, "%*s", (int)width[c] + 2, "");
        }
        for (unsigned g = 0; g < t->groups->len; g++) {
            unsigned first = t->group_first + g * t->group_size;
            size_t span = 2 * (t->group_size - 1);

            for (unsigned c = first; c < first + t->group_size; c++) {
                span += width[c];
            }
            g_string_append_printf(
                line, "%s%*s", g > 0 ? "  " : "", (int)span,
                (const char *)g_ptr_array_index(t->groups, g));
        }
        fprintf(out, "%s\n", g_strchomp(line->str));
        g_string_free(line, TRUE);
    }
    for (unsigned r = 0; r < nrows; r++) {
        GString *line = g_string_new(NULL);

        for (unsigned c = 0; c < t->ncols; c++) {
            const char *cell = g_ptr_array_index(t->cells, r * t->ncols + c);
            int pad = (int)(width[c] - g_utf8_strlen(cell, -1));

            if (c > 0) {
                g_string_append(line, "  ");
            }
            if (t->align[c] == 'r') {
                g_string_append_printf(line, "%*s%s", pad, "", cell);
            } else {
                g_string_append_printf(line, "%s%*s", cell, pad, "");
            }
        }
        fprintf(out, "%s\n", g_strchomp(line->str));
        g_string_free(line, TRUE);
    }
}

/* ---- What is read from the database ---- */

struct report_exit {
    char *name; /* IO_INSTRUCTION, or "reason N" */
    uint64_t count;
    uint64_t cycles;
};

struct report_bucket {
    uint32_t vm;
    char *bucket;
    uint64_t cycles;
    uint64_t count;
};

struct report_run {
    int64_t id;
    char *name;
    char *config_path;
    char *profile;
    char *level;
    char *start_time;
    char *git_version;
    char *stop_reason;
    int64_t seed;
    bool complete;
    bool has_totals;
    uint64_t instructions;
    uint64_t cycles;
    uint64_t sim_time_ns;
    uint64_t host_ns;
    int64_t first_event; /* 0 and last_event -1: no events */
    int64_t last_event;
    uint64_t lost_events; /* to write errors (schema 2; 0 before) */
    uint64_t nevents;
    bool exits_from_counters;
    /* The "irq:" counters: raised, delivered; -1 if absent. */
    int64_t irq[2];
    GPtrArray *exits;   /* struct report_exit */
    GPtrArray *buckets; /* struct report_bucket, without "exit:" ones */
    GHashTable *vm_names; /* vm id -> name (schema 3; empty before) */
};

/* The "irq:NAME" counters a run records, in report_run.irq[] order. */
static const char *const report_irq_names[] = {"raised", "delivered"};

static void report_exit_free(gpointer p)
{
    struct report_exit *e = p;

    g_free(e->name);
    g_free(e);
}

static void report_bucket_free(gpointer p)
{
    struct report_bucket *b = p;

    g_free(b->bucket);
    g_free(b);
}

static void report_run_free(gpointer p)
{
    struct report_run *r = p;

    g_free(r->name);
    g_free(r->config_path);
    g_free(r->profile);
    g_free(r->level);
    g_free(r->start_time);
    g_free(r->git_version);
    g_free(r->stop_reason);
    if (r->exits != NULL) {
        g_ptr_array_unref(r->exits);
    }
    if (r->buckets != NULL) {
        g_ptr_array_unref(r->buckets);
    }
    if (r->vm_names != NULL) {
        g_hash_table_unref(r->vm_names);
    }
    g_free(r);
}

static char *report_column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);

    return text != NULL ? g_strdup((const char *)text) : NULL;
}

static bool report_sql_error(sqlite3 *sql, const char *path, GError **error)
{
    g_set_error(error, TRACE_ERROR, TRACE_ERROR_SQLITE, "%s: %s", path,
                sqlite3_errmsg(sql));
    return false;
}

/* Every run of the database, by id. */
static GPtrArray *report_read_runs(sqlite3 *sql, const char *path,
                                   GError **error)
{
    GPtrArray *runs = g_ptr_array_new_with_free_func(report_run_free);
    sqlite3_stmt *st = NULL;
    g_autofree char *query = NULL;
    int64_t version = 0;
    int rc;

    /* Older schemas are read as they are: version 1 has no lost_events. */
    if (sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    st = NULL;
    query = g_strdup_printf("SELECT id, name, config_path, seed, profile, "
                            "level, complete, instructions, cycles, "
                            "sim_time_ns, host_ns, start_time, git_version, "
                            "stop_reason, coalesce(first_event, 0), "
                            "coalesce(last_event, -1), %s FROM runs "
                            "ORDER BY id",
                            version >= 2 ? "coalesce(lost_events, 0)" : "0");
    if (sqlite3_prepare_v2(sql, query, -1, &st, NULL) != SQLITE_OK) {
        report_sql_error(sql, path, error);
        g_ptr_array_unref(runs);
        return NULL;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct report_run *r = g_new0(struct report_run, 1);

        r->id = sqlite3_column_int64(st, 0);
        r->name = report_column_text(st, 1);
        r->config_path = report_column_text(st, 2);
        r->seed = sqlite3_column_int64(st, 3);
        r->profile = report_column_text(st, 4);
        r->level = report_column_text(st, 5);
        r->complete = sqlite3_column_int(st, 6) != 0;
        r->has_totals = sqlite3_column_type(st, 7) != SQLITE_NULL;
        r->instructions = (uint64_t)sqlite3_column_int64(st, 7);
        r->cycles = (uint64_t)sqlite3_column_int64(st, 8);
        r->sim_time_ns = (uint64_t)sqlite3_column_int64(st, 9);
        r->host_ns = (uint64_t)sqlite3_column_int64(st, 10);
        r->start_time = report_column_text(st, 11);
        r->git_version = report_column_text(st, 12);
        r->stop_reason = report_column_text(st, 13);
        r->first_event = sqlite3_column_int64(st, 14);
        r->last_event = sqlite3_column_int64(st, 15);
        r->lost_events = (uint64_t)sqlite3_column_int64(st, 16);
        g_ptr_array_add(runs, r);
    }
    if (rc != SQLITE_DONE) {
        report_sql_error(sql, path, error);
        g_ptr_array_unref(runs);
        runs = NULL;
    }
    sqlite3_finalize(st);
    return runs;
}

static struct report_exit *report_exit_find(GPtrArray *exits, const char *name)
{
    for (unsigned i = 0; i < exits->len; i++) {
        struct report_exit *e = g_ptr_array_index(exits, i);

        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

static void report_exit_add(GPtrArray *exits, const char *name, uint64_t count,
                            uint64_t cycles)
{
    struct report_exit *e = report_exit_find(exits, name);

    if (e == NULL) {
        e = g_new0(struct report_exit, 1);
        e->name = g_strdup(name);
        g_ptr_array_add(exits, e);
    }
    e->count += count;
    e->cycles += cycles;
}

/* Exits, buckets and the event count of run @r. */
static bool report_read_details(sqlite3 *sql, const char *path,
                                struct report_run *r, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    r->exits = g_ptr_array_new_with_free_func(report_exit_free);
    r->buckets = g_ptr_array_new_with_free_func(report_bucket_free);
    r->vm_names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                        g_free);

    /* VM names: files before schema 3 have no vms table. */
    if (sqlite3_prepare_v2(sql, "SELECT id, name FROM vms WHERE run = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, r->id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *name = sqlite3_column_text(st, 1);

            if (name != NULL) {
                g_hash_table_replace(
                    r->vm_names,
                    GUINT_TO_POINTER((guint)sqlite3_column_int64(st, 0)),
                    g_strdup((const char *)name));
            }
        }
        sqlite3_finalize(st);
        st = NULL;
    }

    /* The id range keeps these from scanning other runs' events. */
    if (sqlite3_prepare_v2(sql,
                           "SELECT exit_reason, count(*), sum(cost) FROM "
                           "events WHERE id BETWEEN ?1 AND ?2 AND run = ?3 "
                           "AND kind = ?4 GROUP BY exit_reason",
                           -1, &st, NULL) != SQLITE_OK) {
        return report_sql_error(sql, path, error);
    }
    sqlite3_bind_int64(st, 1, r->first_event);
    sqlite3_bind_int64(st, 2, r->last_event);
    sqlite3_bind_int64(st, 3, r->id);
    sqlite3_bind_int(st, 4, TRACE_EVENT_VMEXIT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t reason = sqlite3_column_int64(st, 0);
        const char *name = reason >= 0 && reason <= UINT16_MAX
                               ? trace_exit_reason_name((unsigned)reason)
                               : NULL;
        g_autofree char *unnamed = NULL;

        if (name == NULL) {
            unnamed = g_strdup_printf("reason %" PRId64, reason);
        }
        report_exit_add(r->exits, name != NULL ? name : unnamed,
                        (uint64_t)sqlite3_column_int64(st, 1),
                        (uint64_t)sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return report_sql_error(sql, path, error);
    }

    if (sqlite3_prepare_v2(sql,
                           "SELECT count(*) FROM events WHERE id BETWEEN ?1 "
                           "AND ?2 AND run = ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        return report_sql_error(sql, path, error);
    }
    sqlite3_bind_int64(st, 1, r->first_event);
    sqlite3_bind_int64(st, 2, r->last_event);
    sqlite3_bind_int64(st, 3, r->id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->nevents = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        return report_sql_error(sql, path, error);
    }

    if (sqlite3_prepare_v2(sql,
                           "SELECT vm, bucket, cycles, count FROM counters "
                           "WHERE run = ?1 ORDER BY vm, bucket",
                           -1, &st, NULL) != SQLITE_OK) {
        return report_sql_error(sql, path, error);
    }
    sqlite3_bind_int64(st, 1, r->id);
    /* Exits from counters only when no VMEXIT events were recorded. */
    r->exits_from_counters = r->exits->len == 0;
    r->irq[0] = r->irq[1] = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *bucket = (const char *)sqlite3_column_text(st, 1);
        uint64_t cycles = (uint64_t)sqlite3_column_int64(st, 2);
        uint64_t count = (uint64_t)sqlite3_column_int64(st, 3);

        if (bucket == NULL) {
            continue;
        }
        if (g_str_has_prefix(bucket, "exit:")) {
            if (r->exits_from_counters) {
                report_exit_add(r->exits, bucket + 5, count, cycles);
            }
        } else if (g_str_has_prefix(bucket, "irq:")) {
            for (unsigned k = 0; k < G_N_ELEMENTS(report_irq_names); k++) {
                /* One counter per VM: the run's is their sum. */
                if (strcmp(bucket + 4, report_irq_names[k]) == 0) {
                    r->irq[k] = (r->irq[k] < 0 ? 0 : r->irq[k]) +
                                (int64_t)count;
                }
            }
        } else {
            struct report_bucket *b = g_new0(struct report_bucket, 1);

            b->vm = (uint32_t)sqlite3_column_int64(st, 0);
            b->bucket = g_strdup(bucket);
            b->cycles = cycles;
            b->count = count;
            g_ptr_array_add(r->buckets, b);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return report_sql_error(sql, path, error);
    }
    if (r->exits->len == 0) {
        r->exits_from_counters = false;
    }
    return true;
}

/* ---- Formatting ---- */

static char *report_ms(const struct report_run *r, uint64_t ns)
{
    return r->has_totals ? g_strdup_printf("%.3f ms", (double)ns / 1e6)
                         : g_strdup("-");
}

static char *report_s(const struct report_run *r, uint64_t ns)
{
    return r->has_totals ? g_strdup_printf("%.3f s", (double)ns / 1e9)
                         : g_strdup("-");
}

static char *report_u64(const struct report_run *r, uint64_t v)
{
    return r->has_totals ? g_strdup_printf("%" PRIu64, v) : g_strdup("-");
}

static char *report_mips(const struct report_run *r)
{
    if (!r->has_totals || r->host_ns == 0) {
        return g_strdup("-");
    }
    return g_strdup_printf("%.1f",
                           (double)r->instructions * 1e3 / (double)r->host_ns);
}

static const char *report_or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

static void report_print_runs(GPtrArray *runs, const char *path, FILE *out)
{
    struct report_table *t = report_table_new(10, "rllrllrrrr");

    fprintf(out, "Runs in %s\n", path);
    report_cell(t, "run");
    report_cell(t, "name");
    report_cell(t, "config");
    report_cell(t, "seed");
    report_cell(t, "profile");
    report_cell(t, "status");
    report_cell(t, "instructions");
    report_cell(t, "sim time");
    report_cell(t, "host time");
    report_cell(t, "MIPS");
    for (unsigned i = 0; i < runs->len; i++) {
        const struct report_run *r = g_ptr_array_index(runs, i);

        report_cell(t, "%" PRId64, r->id);
        report_cell(t, "%s", report_or_dash(r->name));
        report_cell(t, "%s", report_or_dash(r->config_path));
        report_cell(t, "%" PRIu64, (uint64_t)r->seed);
        report_cell(t, "%s", report_or_dash(r->profile));
        if (r->lost_events > 0) {
            report_cell(t, "lost %" PRIu64, r->lost_events);
        } else {
            report_cell(t, "%s", r->complete ? "complete" : "incomplete");
        }
        g_ptr_array_add(t->cells, report_u64(r, r->instructions));
        g_ptr_array_add(t->cells, report_ms(r, r->sim_time_ns));
        g_ptr_array_add(t->cells, report_s(r, r->host_ns));
        g_ptr_array_add(t->cells, report_mips(r));
    }
    report_table_print(t, out);
    report_table_free(t);
}

static void report_print_headers(GPtrArray *sel, FILE *out)
{
    for (unsigned i = 0; i < sel->len; i++) {
        const struct report_run *r = g_ptr_array_index(sel, i);

        fprintf(out,
                "Run %" PRId64 ": %s (%s), seed %" PRIu64
                ", profile %s, level %s, %s",
                r->id, report_or_dash(r->name), report_or_dash(r->config_path),
                (uint64_t)r->seed, report_or_dash(r->profile),
                report_or_dash(r->level),
                r->complete ? "complete"
                : r->lost_events > 0
                    ? "INCOMPLETE (events lost to write errors)"
                    : "INCOMPLETE (killed, failed or still running)");
        if (r->lost_events > 0) {
            fprintf(out, ", %" PRIu64 " events or io rows lost",
                    r->lost_events);
        }
        if (r->stop_reason != NULL) {
            fprintf(out, ", stopped: %s", r->stop_reason);
        }
        fprintf(out, "\n  started %s, git %s, %" PRIu64 " events%s\n",
                report_or_dash(r->start_time), report_or_dash(r->git_version),
                r->nevents,
                r->exits_from_counters ? "; exits from counters" : "");
    }
}

/* The table's group row names the runs when there are several. */
static void report_groups(struct report_table *t, GPtrArray *sel,
                          unsigned first, unsigned size)
{
    if (sel->len < 2) {
        return;
    }
    t->groups = g_ptr_array_new_with_free_func(g_free);
    t->group_first = first;
    t->group_size = size;
    for (unsigned i = 0; i < sel->len; i++) {
        const struct report_run *r = g_ptr_array_index(sel, i);

        g_ptr_array_add(t->groups, g_strdup_printf("run %" PRId64, r->id));
    }
}

/* Sorts exit rows by total count over the runs (descending), then name. */
static gint report_exit_order(gconstpointer a, gconstpointer b, gpointer opaque)
{
    GHashTable *totals = opaque;
    const char *na = *(const char *const *)a;
    const char *nb = *(const char *const *)b;
    uint64_t ta = *(const uint64_t *)g_hash_table_lookup(totals, na);
    uint64_t tb = *(const uint64_t *)g_hash_table_lookup(totals, nb);

    if (ta != tb) {
        return ta > tb ? -1 : 1;
    }
    return strcmp(na, nb);
}

static void report_print_exits(GPtrArray *sel, FILE *out)
{
    g_autoptr(GHashTable) totals =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autofree char *align = NULL;
    struct report_table *t;

    for (unsigned i = 0; i < sel->len; i++) {
        const struct report_run *r = g_ptr_array_index(sel, i);

        for (unsigned k = 0; k < r->exits->len; k++) {
            const struct report_exit *e = g_ptr_array_index(r->exits, k);
            uint64_t *sum = g_hash_table_lookup(totals, e->name);

            if (sum == NULL) {
                sum = g_new0(uint64_t, 1);
                g_hash_table_insert(totals, e->name, sum);
                g_ptr_array_add(names, e->name);
            }
            *sum += e->count;
        }
    }
    fprintf(out, "\nExits by reason\n");
    if (names->len == 0) {
        fprintf(out, "  (no VM exits recorded)\n");
        return;
    }
    g_ptr_array_sort_with_data(names, report_exit_order, totals);

    align = g_strnfill(1 + 3 * sel->len, 'r');
    align[0] = 'l';
    t = report_table_new(1 + 3 * sel->len, align);
    report_groups(t, sel, 1, 3);
    report_cell(t, "reason");
    for (unsigned i = 0; i < sel->len; i++) {
        report_cell(t, "count");
        report_cell(t, "total cycles");
        report_cell(t, "mean cycles");
    }
    for (unsigned n = 0; n <= names->len; n++) {
        const char *name = n < names->len ? g_ptr_array_index(names, n) : NULL;

        report_cell(t, "%s", name != NULL ? name : "total");
        for (unsigned i = 0; i < sel->len; i++) {
            const struct report_run *r = g_ptr_array_index(sel, i);
            uint64_t count = 0;
            uint64_t cycles = 0;

            for (unsigned k = 0; k < r->exits->len; k++) {
                const struct report_exit *e = g_ptr_array_index(r->exits, k);

                if (name == NULL || strcmp(e->name, name) == 0) {
                    count += e->count;
                    cycles += e->cycles;
                }
            }
            report_cell(t, "%" PRIu64, count);
            report_cell(t, "%" PRIu64, cycles);
            if (count > 0) {
                report_cell(t, "%.1f", (double)cycles / (double)count);
            } else {
                report_cell(t, "-");
            }
        }
    }
    report_table_print(t, out);
    report_table_free(t);
}

/* Buckets in the order of the cost model, then any others by name. */
static int report_bucket_rank(const char *bucket)
{
    static const char *const order[] = {"guest", "vmm", "device-model",
                                        "backend", "idle"};

    for (size_t i = 0; i < SIM_ARRAY_SIZE(order); i++) {
        if (strcmp(bucket, order[i]) == 0) {
            return (int)i;
        }
    }
    return (int)SIM_ARRAY_SIZE(order);
}

static gint report_bucket_order(gconstpointer a, gconstpointer b)
{
    const struct report_bucket *x = *(const struct report_bucket *const *)a;
    const struct report_bucket *y = *(const struct report_bucket *const *)b;
    int rx;
    int ry;

    if (x->vm != y->vm) {
        return x->vm < y->vm ? -1 : 1;
    }
    rx = report_bucket_rank(x->bucket);
    ry = report_bucket_rank(y->bucket);
    if (rx != ry) {
        return rx < ry ? -1 : 1;
    }
    return strcmp(x->bucket, y->bucket);
}

static const struct report_bucket *
report_bucket_find(const struct report_run *r, uint32_t vm, const char *name)
{
    for (unsigned k = 0; k < r->buckets->len; k++) {
        const struct report_bucket *b = g_ptr_array_index(r->buckets, k);

        if (b->vm == vm && strcmp(b->bucket, name) == 0) {
            return b;
        }
    }
    return NULL;
}

static uint64_t report_vm_cycles(const struct report_run *r, uint32_t vm)
{
    uint64_t sum = 0;

    for (unsigned k = 0; k < r->buckets->len; k++) {
        const struct report_bucket *b = g_ptr_array_index(r->buckets, k);

        if (b->vm == vm) {
            sum += b->cycles;
        }
    }
    return sum;
}

static void report_print_buckets(GPtrArray *sel, FILE *out)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    g_autofree char *align = NULL;
    struct report_table *t;

    /* The union of (vm, bucket) over the runs. */
    for (unsigned i = 0; i < sel->len; i++) {
        const struct report_run *r = g_ptr_array_index(sel, i);

        for (unsigned k = 0; k < r->buckets->len; k++) {
            struct report_bucket *b = g_ptr_array_index(r->buckets, k);
            bool seen = false;

            for (unsigned j = 0; j < keys->len && !seen; j++) {
                const struct report_bucket *o = g_ptr_array_index(keys, j);

                seen = o->vm == b->vm && strcmp(o->bucket, b->bucket) == 0;
            }
            if (!seen) {
                g_ptr_array_add(keys, b);
            }
        }
    }
    fprintf(out, "\nCycles by bucket per VM\n");
    if (keys->len == 0) {
        fprintf(out, "  (no counters recorded)\n");
        return;
    }
    g_ptr_array_sort(keys, report_bucket_order);

    align = g_strnfill(2 + 3 * sel->len, 'r');
    align[0] = 'l'; /* "0 web" */
    align[1] = 'l';
    t = report_table_new(2 + 3 * sel->len, align);
    report_groups(t, sel, 2, 3);
    report_cell(t, "vm");
    report_cell(t, "bucket");
    for (unsigned i = 0; i < sel->len; i++) {
        report_cell(t, "cycles");
        report_cell(t, "count");
        report_cell(t, "share");
    }
    for (unsigned j = 0; j < keys->len; j++) {
        const struct report_bucket *key = g_ptr_array_index(keys, j);

        {
            /* The name the first selected run gives the VM, if any. */
            const struct report_run *r0 = g_ptr_array_index(sel, 0);
            const char *name = g_hash_table_lookup(
                r0->vm_names, GUINT_TO_POINTER((guint)key->vm));

            if (name != NULL) {
                report_cell(t, "%" PRIu32 " %s", key->vm, name);
            } else {
                report_cell(t, "%" PRIu32, key->vm);
            }
        }
        report_cell(t, "%s", key->bucket);
        for (unsigned i = 0; i < sel->len; i++) {
            const struct report_run *r = g_ptr_array_index(sel, i);
            const struct report_bucket *b =
                report_bucket_find(r, key->vm, key->bucket);
            uint64_t vm_total = report_vm_cycles(r, key->vm);

            if (b == NULL) {
                report_cell(t, "-");
                report_cell(t, "-");
                report_cell(t, "-");
                continue;
            }
            report_cell(t, "%" PRIu64, b->cycles);
            report_cell(t, "%" PRIu64, b->count);
            if (vm_total > 0) {
                report_cell(t, "%.1f%%",
                            100.0 * (double)b->cycles / (double)vm_total);
            } else {
                report_cell(t, "-");
            }
        }
    }
    report_table_print(t, out);
    report_table_free(t);
}

static void report_print_totals(GPtrArray *sel, FILE *out)
{
    static const char *const rows[] = {
        "instructions", "simulated cycles", "simulated time",
        "host time",    "speed (MIPS)",     "slowdown (host/simulated)",
        "events",       "interrupts raised", "interrupts delivered",
        "interrupts merged or pending",
    };
    g_autofree char *align = g_strnfill(1 + sel->len, 'r');
    struct report_table *t;

    align[0] = 'l';
    t = report_table_new(1 + sel->len, align);
    fprintf(out, "\nTotals\n");
    report_cell(t, "%s", "");
    for (unsigned i = 0; i < sel->len; i++) {
        const struct report_run *r = g_ptr_array_index(sel, i);

        report_cell(t, "run %" PRId64, r->id);
    }
    for (size_t k = 0; k < SIM_ARRAY_SIZE(rows); k++) {
        report_cell(t, "%s", rows[k]);
        for (unsigned i = 0; i < sel->len; i++) {
            const struct report_run *r = g_ptr_array_index(sel, i);
            char *cell;

            switch (k) {
            case 0:
                cell = report_u64(r, r->instructions);
                break;
            case 1:
                cell = report_u64(r, r->cycles);
                break;
            case 2:
                cell = report_ms(r, r->sim_time_ns);
                break;
            case 3:
                cell = report_s(r, r->host_ns);
                break;
            case 4:
                cell = report_mips(r);
                break;
            case 5:
                cell = r->has_totals && r->sim_time_ns > 0
                           ? g_strdup_printf("%.1f", (double)r->host_ns /
                                                         (double)r->sim_time_ns)
                           : g_strdup("-");
                break;
            case 6:
                cell = g_strdup_printf("%" PRIu64, r->nevents);
                break;
            case 7:
            case 8:
                cell = r->irq[k - 7] >= 0
                           ? g_strdup_printf("%" PRId64, r->irq[k - 7])
                           : g_strdup("-");
                break;
            default:
                cell = r->irq[0] >= 0 && r->irq[1] >= 0
                           ? g_strdup_printf("%" PRId64, r->irq[0] - r->irq[1])
                           : g_strdup("-");
                break;
            }
            g_ptr_array_add(t->cells, cell);
        }
    }
    report_table_print(t, out);
    report_table_free(t);
}

/* ---- The command ---- */

static struct report_run *report_find(GPtrArray *runs, int64_t id)
{
    for (unsigned i = 0; i < runs->len; i++) {
        struct report_run *r = g_ptr_array_index(runs, i);

        if (r->id == id) {
            return r;
        }
    }
    return NULL;
}

/* Parses "3,5,7" into run ids (at least two). */
static GArray *report_parse_compare(const char *text, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));

    for (size_t i = 0; parts[i] != NULL; i++) {
        guint64 id;

        if (!g_ascii_string_to_unsigned(g_strstrip(parts[i]), 10, 1, G_MAXINT64,
                                        &id, NULL)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--compare: '%s' is not a run id (expected "
                        "RUN,RUN..., e.g. 1,2)",
                        parts[i]);
            g_array_unref(ids);
            return NULL;
        }
        g_array_append_val(ids, id);
    }
    if (ids->len < 2) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--compare needs at least two run ids, e.g. 1,2");
        g_array_unref(ids);
        return NULL;
    }
    return ids;
}

static int report_usage(FILE *err, const char *msg)
{
    fprintf(err, "iovsim report: %s\nTry 'iovsim report --help'.\n", msg);
    return ANALYSIS_EXIT_USAGE;
}

int analysis_report(int argc, char **argv, FILE *out, FILE *err)
{
    /* 0: no --run.  Parsed by hand so that "-1" is not "the latest". */
    gint64 run_id = 0;
    gboolean help = FALSE;
    g_autofree char *run_text = NULL;
    g_autofree char *compare = NULL;
    GOptionEntry entries[] = {
        {"run", 'r', 0, G_OPTION_ARG_STRING, &run_text,
         "Report run N (default: list the runs, then report the latest)", "N"},
        {"compare", 'c', 0, G_OPTION_ARG_STRING, &compare,
         "Report runs side by side", "RUN,RUN..."},
        {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help", NULL},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("DB - report on a trace database");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ids = NULL;
    g_autoptr(GPtrArray) runs = NULL;
    g_autoptr(GPtrArray) sel = g_ptr_array_new();
    struct trace_db_options opts = {.read_only = true};
    struct trace_db *db;
    sqlite3 *sql;
    const char *path;
    int status = ANALYSIS_EXIT_OK;

    g_option_context_add_main_entries(ctx, entries, NULL);
    /* --help is ours, so that it prints to @out and returns. */
    g_option_context_set_help_enabled(ctx, FALSE);
    g_option_context_set_summary(
        ctx, "Prints text tables from the iovsim trace database DB (see\n"
             "docs/trace-schema.md): without options, the runs it holds and\n"
             "the report of the latest; with --run N, the report of run N:\n"
             "VM exits by reason (count, total and mean cycles), cycles by\n"
             "bucket per VM, instructions, simulated time, host time and\n"
             "speed; with --compare, the same for several runs side by "
             "side.\nDB is opened read-only.");
    g_option_context_set_description(ctx, report_exit_help);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        return report_usage(err, error->message);
    }
    if (help) {
        g_autofree char *text = g_option_context_get_help(ctx, TRUE, NULL);

        fputs(text, out);
        return ANALYSIS_EXIT_OK;
    }
    if (argc != 2) {
        return report_usage(err, argc < 2 ? "no database given"
                                          : "expected one database");
    }
    if (run_text != NULL && compare != NULL) {
        return report_usage(err, "--run and --compare exclude each other");
    }
    if (run_text != NULL) {
        guint64 id;

        if (!g_ascii_string_to_unsigned(run_text, 10, 1, G_MAXINT64, &id,
                                        NULL)) {
            g_autofree char *msg = g_strdup_printf(
                "--run %s: not a run id (run ids start at 1)", run_text);

            return report_usage(err, msg);
        }
        run_id = (gint64)id;
    }
    if (compare != NULL) {
        ids = report_parse_compare(compare, &error);
        if (ids == NULL) {
            return report_usage(err, error->message);
        }
    }

    path = argv[1];
    db = trace_db_open_with(path, &opts, &error);
    if (db == NULL) {
        fprintf(err, "iovsim report: %s\n", error->message);
        return ANALYSIS_EXIT_USAGE;
    }
    sql = trace_db_sqlite(db);
    runs = report_read_runs(sql, path, &error);
    if (runs == NULL) {
        goto fail;
    }

    if (ids != NULL) {
        for (unsigned i = 0; i < ids->len; i++) {
            g_ptr_array_add(sel,
                            report_find(runs, g_array_index(ids, int64_t, i)));
            if (sel->pdata[i] == NULL) {
                run_id = g_array_index(ids, int64_t, i);
                break;
            }
        }
    } else if (run_id != 0) {
        g_ptr_array_add(sel, report_find(runs, run_id));
    } else if (runs->len == 0) {
        fprintf(out, "%s: no runs\n", path);
        goto done;
    } else {
        report_print_runs(runs, path, out);
        fprintf(out, "\n");
        g_ptr_array_add(sel, g_ptr_array_index(runs, runs->len - 1));
    }
    for (unsigned i = 0; i < sel->len; i++) {
        if (sel->pdata[i] == NULL) {
            g_set_error(&error, TRACE_ERROR, TRACE_ERROR_NO_RUN,
                        "%s: no run %" PRId64 " (%u runs%s)", path,
                        (int64_t)run_id, runs->len,
                        runs->len > 0 ? "; see 'iovsim report DB'" : "");
            goto fail;
        }
        if (!report_read_details(sql, path, sel->pdata[i], &error)) {
            goto fail;
        }
    }

    report_print_headers(sel, out);
    report_print_exits(sel, out);
    report_print_buckets(sel, out);
    report_print_totals(sel, out);
    goto done;

fail:
    fprintf(err, "iovsim report: %s\n", error->message);
    status = ANALYSIS_EXIT_USAGE;
done:
    trace_db_close(db, NULL);
    return status;
}

int analysis_report_main(int argc, char **argv)
{
    int status = analysis_report(argc, argv, stdout, stderr);

    fflush(stdout);
    return status;
}
