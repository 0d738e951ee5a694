/*
 * tests/workloads/test-guests.c: the system test.  Every guest program
 * listed in workloads/workloads.cfg is run at each of -O0..-O3
 * (build/workloads/guest/NAME-O<n>.elf) in a machine built in-process
 * through sim/sim.h, with an instruction limit as a hang guard.  Each run
 * must exit with status 0 and print exactly the expected output: the
 * output of the host build (build/workloads/host/NAME, run as a
 * subprocess) for mode `host`, or workloads/expected/NAME.txt for mode
 * `expected`.  On a mismatch the first differing line is printed.
 *
 * workloads.cfg: lines starting with # are comments; other non-blank lines
 * are `NAME MODE RAM_MIB`.  A missing or empty list fails the test: a
 * system test that checks nothing must not pass.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>

#include "sim/sim.h"

#define GUESTS_LIST "workloads/workloads.cfg"
#define GUESTS_HANG_GUARD "limits.instructions=500000000"

struct guest_entry {
    char *name;
    bool from_host; /* mode host; else expected */
    unsigned ram_mib;
};

static void guest_entry_free(gpointer p)
{
    struct guest_entry *e = p;

    g_free(e->name);
    g_free(e);
}

/* Drops the empty fields repeated blanks leave; returns how many remain. */
static int guests_compact(char **f)
{
    int n = 0;

    for (int k = 0; f[k] != NULL; k++) {
        if (f[k][0] != '\0') {
            f[n++] = f[k];
        } else {
            g_free(f[k]);
        }
    }
    f[n] = NULL;
    return n;
}

/* Returns: the entries (GPtrArray of struct guest_entry), or NULL. */
static GPtrArray *guests_read_list(void)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *list;

    if (!g_file_get_contents(GUESTS_LIST, &text, NULL, &err)) {
        fprintf(stderr,
                "\nworkloads/guests: cannot read %s (%s); the "
                "system test needs the list of guest programs\n",
                GUESTS_LIST, err->message);
        return NULL;
    }
    list = g_ptr_array_new_with_free_func(guest_entry_free);
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i] != NULL; i++) {
        g_auto(GStrv) f = NULL;
        struct guest_entry *e;
        guint64 mib;

        g_strstrip(lines[i]);
        if (lines[i][0] == '\0' || lines[i][0] == '#') {
            continue;
        }
        f = g_strsplit_set(lines[i], " \t", -1);
        if (guests_compact(f) != 3 ||
            (strcmp(f[1], "host") != 0 && strcmp(f[1], "expected") != 0) ||
            !g_ascii_string_to_unsigned(f[2], 10, 4, 16384, &mib, NULL)) {
            fprintf(stderr,
                    "\n%s:%d: expected 'NAME host|expected "
                    "RAM_MIB', found '%s'\n",
                    GUESTS_LIST, i + 1, lines[i]);
            g_ptr_array_free(list, TRUE);
            return NULL;
        }
        e = g_new0(struct guest_entry, 1);
        e->name = g_strdup(f[0]);
        e->from_host = strcmp(f[1], "host") == 0;
        e->ram_mib = (unsigned)mib;
        g_ptr_array_add(list, e);
    }
    if (list->len == 0) {
        fprintf(stderr, "\n%s lists no programs\n", GUESTS_LIST);
        g_ptr_array_free(list, TRUE);
        return NULL;
    }
    return list;
}

/* Returns: the expected output (g_free), or NULL with a message. */
static char *guests_expected(const struct guest_entry *e)
{
    g_autoptr(GError) err = NULL;
    char *out = NULL;

    if (e->from_host) {
        g_autofree char *host =
            g_strdup_printf("build/workloads/host/%s", e->name);
        char *argv[] = {host, NULL};
        gint wait_status = 0;

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                          NULL, &wait_status, &err)) {
            fprintf(stderr, "\n%s: cannot run the host build: %s\n", e->name,
                    err->message);
            return NULL;
        }
        if (!g_spawn_check_wait_status(wait_status, &err)) {
            fprintf(stderr, "\n%s: the host build failed: %s\n", e->name,
                    err->message);
            g_free(out);
            return NULL;
        }
        return out;
    } else {
        g_autofree char *path =
            g_strdup_printf("workloads/expected/%s.txt", e->name);

        if (!g_file_get_contents(path, &out, NULL, &err)) {
            fprintf(stderr, "\n%s: %s\n", e->name, err->message);
            return NULL;
        }
        return out;
    }
}

/* Prints the first line where @got and @want differ. */
static void guests_print_diff(const char *what, const char *got, size_t got_len,
                              const char *want)
{
    g_auto(GStrv) g = NULL;
    g_auto(GStrv) w = NULL;
    g_autofree char *got_z = g_strndup(got, got_len);

    g = g_strsplit(got_z, "\n", -1);
    w = g_strsplit(want, "\n", -1);
    for (int i = 0;; i++) {
        if (g[i] == NULL || w[i] == NULL || strcmp(g[i], w[i]) != 0) {
            fprintf(stderr,
                    "\n%s: output differs at line %d:\n"
                    "  got:      %s\n  expected: %s\n",
                    what, i + 1, g[i] != NULL ? g[i] : "(end of output)",
                    w[i] != NULL ? w[i] : "(end of output)");
            return;
        }
    }
}

/*
 * Runs one program at one level in machine mode @mode ("native" or "hvm":
 * the same ELF must behave the same under the VMM); returns true if it
 * passed.
 */
static bool guests_run_one(const struct guest_entry *e, int level,
                           const char *mode, const char *want)
{
    g_autofree char *elf = g_strdup_printf("%s-O%d", e->name, level);
    g_autofree char *what = g_strdup_printf("%s (%s)", elf, mode);
    g_autofree char *text = g_strdup_printf(
        "[experiment]\nname = %s\n[machine]\nmode = %s\nmemory = %uM\n"
        "[guest]\nprogram = build/workloads/guest/%s.elf\n",
        elf, mode, e->ram_mib, elf);
    const char *sets[] = {GUESTS_HANG_GUARD, NULL};
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL;
    struct sim_config *cfg;
    struct sim_machine *m;
    enum sim_stop stop;
    uint32_t status = 0;
    const char *got;
    size_t got_len;
    bool ok;

    cfg = sim_config_parse(text, NULL, sets, &err);
    if (cfg == NULL) {
        fprintf(stderr, "\n%s: %s\n", what, err->message);
        return false;
    }
    m = sim_machine_new(cfg, &err);
    if (m == NULL) {
        fprintf(stderr, "\n%s: %s\n", what, err->message);
        return false;
    }
    stop = sim_machine_run(m);
    sim_machine_exit_status(m, &status);
    got = sim_machine_console(m, &got_len);
    msg = sim_machine_stop_message(m);
    ok = stop == SIM_STOP_EXIT && status == 0;
    if (!ok) {
        fprintf(stderr, "\n%s: stopped: %s\n", what, msg);
    }
    if (got_len != strlen(want) || memcmp(got, want, got_len) != 0) {
        guests_print_diff(what, got, got_len, want);
        ok = false;
    }
    sim_machine_free(m);
    return ok;
}

static void test_guests(void)
{
    static const char *const modes[] = {"native", "hvm"};
    g_autoptr(GPtrArray) list = guests_read_list();
    unsigned runs = 0, failed = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(list);
    for (guint i = 0; i < list->len; i++) {
        const struct guest_entry *e = g_ptr_array_index(list, i);
        g_autofree char *want = guests_expected(e);

        if (want == NULL) {
            failed += 8;
            continue;
        }
        for (int level = 0; level <= 3; level++) {
            for (size_t k = 0; k < SIM_ARRAY_SIZE(modes); k++) {
                runs++;
                if (!guests_run_one(e, level, modes[k], want)) {
                    failed++;
                }
            }
        }
    }
    if (failed > 0) {
        fprintf(stderr, "\nworkloads/guests: %u of %u runs failed\n", failed,
                list->len * 8);
    }
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(runs > 0);
}

static CU_TestInfo guest_tests[] = {
    {"each program at -O0..-O3, native and hvm, matches its expected output",
     test_guests},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_guests_suites[] = {
    {"workloads/guests", NULL, NULL, NULL, NULL, guest_tests},
    CU_SUITE_INFO_NULL,
};
