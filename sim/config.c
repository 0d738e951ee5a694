/*
 * sim/config.c: experiment files and CPU profiles, both in GKeyFile
 * format and both validated strictly: an unknown section or key, a key
 * given twice, a malformed line or a bad value is an error that names the
 * file, the line and the key.  GKeyFile does not report line numbers, so
 * the text is scanned here first: the scan checks the syntax, records the
 * line of every key, and strips comments (GKeyFile only knows whole-line
 * `#` comments; ours also allow `;` and trailing comments, see
 * ini_strip_comment).  Command-line overrides (`--set section.key=value`)
 * go through the same checks and are named as "--set" in messages.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "sim/sim.h"
#include "traces/traces.h"

#ifndef SIM_SRCDIR
#define SIM_SRCDIR "."
#endif

/*
 * The keys of an experiment file, "section.key".  A `*` in a section
 * stands for a name of letters, digits, '-' and '_' ([vm.NAME]).  A file
 * describes its VMs either as one VM with [machine] mode and memory and
 * [guest] program, or as any number of [vm.NAME] sections; the host's
 * settings are in [host] (or, for one VM, in [machine]).
 */
static const char *const config_keys[] = {
    "experiment.name",     /* default: the file name */
    "experiment.seed",     /* default 1 */
    "host.cpus",           /* physical CPUs; default: one per vCPU */
    "host.quantum",        /* default 1us */
    "host.profile",        /* as machine.profile */
    "host.guest_base",     /* as machine.guest_base */
    "host.tsc_mhz",        /* as machine.tsc_mhz */
    "machine.mode",        /* native or hvm */
    "machine.memory",      /* default 64M */
    "machine.guest_base",  /* hvm: default 256M */
    "machine.tsc_mhz",     /* default: the profile's frequency */
    "device.debugcon.placement", /* vmm or userspace (hvm) */
    "device.exitport.placement",
    "device.postcode.placement",
    "device.regfile.placement",
    "machine.profile",     /* default skylake */
    "guest.program",       /* required */
    "guest.modules",       /* files for the guest, comma-separated */
    "guest.cmdline",       /* the guest's command line */
    "vm.*.mode",           /* native or hvm; default hvm */
    "vm.*.memory",         /* default 64M */
    "vm.*.vcpus",          /* default 1 */
    "vm.*.program",        /* required */
    "vm.*.modules",        /* as guest.modules */
    "vm.*.cmdline",        /* as guest.cmdline */
    "limits.instructions", /* 0: none */
    "limits.time",         /* 0: none */
    "trace.file",          /* SQLite database to record into; none */
    "trace.level",         /* summary, io, exits or full */
    NULL,
};

#define CONFIG_DEFAULT_MEMORY "64M"
#define CONFIG_DEFAULT_GUEST_BASE "256M"
#define CONFIG_DEFAULT_QUANTUM "1us"
/* The name of the one VM of a file without [vm.NAME] sections. */
#define CONFIG_SINGLE_VM_NAME "guest"

/* The devices whose placement a config may choose, as in sim_config. */
static const char *const config_placed_devices[SIM_NPLACED_DEVICES] = {
    "debugcon", "exitport", "postcode", "regfile"};

const char *sim_placed_device(unsigned i)
{
    return i < SIM_NPLACED_DEVICES ? config_placed_devices[i] : NULL;
}

static const char *const vmx_cost_names[SIM_VMX_NCOSTS] = {
    [SIM_VMX_EXIT_ENTRY] = "exit_entry",
    [SIM_VMX_CPUID] = "cpuid",
    [SIM_VMX_VMCALL] = "vmcall",
    [SIM_VMX_IO] = "io",
    [SIM_VMX_MMIO_EMULATE] = "mmio_emulate",
    [SIM_VMX_USERSPACE_TRIP] = "userspace_trip",
    [SIM_VMX_HLT] = "hlt",
    [SIM_VMX_INJECT] = "inject",
    [SIM_VMX_OTHER] = "other",
    [SIM_VMX_APIC_ACCESS] = "apic_access",
};

const char *sim_vmx_cost_name(enum sim_vmx_cost c)
{
    return c < SIM_VMX_NCOSTS ? vmx_cost_names[c] : NULL;
}
#define CONFIG_DEFAULT_PROFILE "skylake"

/* A key file being read: GKeyFile plus where each key came from. */
struct ini {
    const char *origin;      /* file name for messages */
    const char *const *keys; /* the allowed "section.key" names */
    GKeyFile *kf;
    GHashTable *lines; /* "section.key" -> line number */
    GHashTable *sets;  /* "section.key" -> "--set ..." text */
};

static void ini_init(struct ini *ini, const char *origin,
                     const char *const *keys)
{
    ini->origin = origin;
    ini->keys = keys;
    ini->kf = g_key_file_new();
    ini->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ini->sets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void ini_clear(struct ini *ini)
{
    g_key_file_free(ini->kf);
    g_hash_table_destroy(ini->lines);
    g_hash_table_destroy(ini->sets);
}

/* A name a `*` in a section pattern stands for. */
static bool ini_name_ok(const char *p, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isalnum(p[i]) && p[i] != '-' && p[i] != '_') {
            return false;
        }
    }
    return true;
}

/*
 * Does the section part of @pattern ("vm.*.mode") match @section
 * ("vm.web")?  Returns: the key part ("mode") if so, else NULL.
 */
static const char *ini_pattern_match(const char *pattern, const char *section)
{
    const char *key = strrchr(pattern, '.');
    const char *p = pattern, *s = section;

    while (p < key) {
        if (*p == '*') {
            size_t n = strcspn(s, ".");

            if (!ini_name_ok(s, n)) {
                return NULL;
            }
            s += n;
            p++;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return NULL;
        }
    }
    return *s == '\0' ? key + 1 : NULL;
}

static bool ini_section_known(const struct ini *ini, const char *section)
{
    for (size_t i = 0; ini->keys[i] != NULL; i++) {
        if (ini_pattern_match(ini->keys[i], section) != NULL) {
            return true;
        }
    }
    return false;
}

static bool ini_key_known(const struct ini *ini, const char *section,
                          const char *key)
{
    for (size_t i = 0; ini->keys[i] != NULL; i++) {
        const char *k = ini_pattern_match(ini->keys[i], section);

        if (k != NULL && strcmp(k, key) == 0) {
            return true;
        }
    }
    return false;
}

/* "experiment, machine, guest" or, for @section, its keys. */
static char *ini_known_list(const struct ini *ini, const char *section)
{
    GString *s = g_string_new(NULL);
    g_autofree char *prev = NULL;

    for (size_t i = 0; ini->keys[i] != NULL; i++) {
        const char *k = ini->keys[i];
        /* Sections may contain dots ([device.regfile]); keys do not. */
        const char *dot = strrchr(k, '.');
        char *name;

        if (section != NULL) {
            if (ini_pattern_match(k, section) == NULL) {
                continue;
            }
            name = g_strdup(dot + 1);
        } else {
            /* Keys are grouped by section: list each section once. */
            g_autofree char *sec = g_strndup(k, (size_t)(dot - k));
            g_auto(GStrv) parts = g_strsplit(sec, "*", -1);

            name = g_strjoinv("NAME", parts);
            if (prev != NULL && strcmp(prev, name) == 0) {
                g_free(name);
                continue;
            }
        }
        g_string_append_printf(s, "%s%s", s->len > 0 ? ", " : "", name);
        g_free(prev);
        prev = name;
    }
    return g_string_free(s, FALSE);
}

/*
 * Where @section.@key was set: "--set section.key=value", "FILE:LINE" or
 * just "FILE" when the key is absent.
 */
static char *ini_where(const struct ini *ini, const char *section,
                       const char *key)
{
    g_autofree char *full = g_strdup_printf("%s.%s", section, key);
    const char *set = g_hash_table_lookup(ini->sets, full);
    gpointer line;

    if (set != NULL) {
        return g_strdup_printf("--set %s", set);
    }
    line = g_hash_table_lookup(ini->lines, full);
    if (line != NULL) {
        return g_strdup_printf("%s:%d", ini->origin, GPOINTER_TO_INT(line));
    }
    return g_strdup(ini->origin);
}

/*
 * Sets @error to "WHERE: section.key=value: MESSAGE" (without "=value"
 * when @value is NULL, and just "--set section.key=value: MESSAGE" for an
 * override).
 */
static void G_GNUC_PRINTF(7, 8)
    ini_error(GError **error, const struct ini *ini, int code,
              const char *section, const char *key, const char *value,
              const char *fmt, ...)
{
    g_autofree char *where = ini_where(ini, section, key);
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (g_str_has_prefix(where, "--set ")) {
        g_set_error(error, SIM_ERROR, code, "%s: %s", where, msg);
    } else if (value != NULL) {
        g_set_error(error, SIM_ERROR, code, "%s: %s.%s=%s: %s", where, section,
                    key, value, msg);
    } else {
        g_set_error(error, SIM_ERROR, code, "%s: %s.%s: %s", where, section,
                    key, msg);
    }
}

/*
 * Cuts a comment off @line: `#` or `;` at the start of the line or after
 * whitespace, to the end of the line.  So "memory = 64M ; note" keeps
 * "64M", while "a#b" keeps its `#`.  Then trims trailing whitespace.
 */
static void ini_strip_comment(char *line)
{
    size_t len;

    for (char *p = line; *p != '\0'; p++) {
        if ((*p == '#' || *p == ';') && (p == line || g_ascii_isspace(p[-1]))) {
            *p = '\0';
            break;
        }
    }
    len = strlen(line);
    while (len > 0 && g_ascii_isspace(line[len - 1])) {
        line[--len] = '\0';
    }
}

/*
 * GKeyFile, and the runs table that stores the experiment's text, take
 * the text as a C string: a NUL byte would silently end the file there.
 * Refuses @text (@len bytes read from @origin) if it holds one.
 */
static bool ini_check_nul(const char *origin, const char *text, size_t len,
                          GError **error)
{
    const char *nul = memchr(text, '\0', len);
    int lineno = 1;

    if (nul == NULL) {
        return true;
    }
    for (const char *p = text; p < nul; p++) {
        lineno += *p == '\n';
    }
    g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                "%s:%d: the file contains a NUL byte", origin, lineno);
    return false;
}

/*
 * Scans @text line by line: syntax, known sections and keys, duplicates;
 * records key lines; loads the normalised text into the GKeyFile.
 */
static bool ini_load(struct ini *ini, const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GString) clean = g_string_new(NULL);
    g_autofree char *section = NULL;
    g_autoptr(GError) local = NULL;

    for (int i = 0; lines[i] != NULL; i++) {
        int lineno = i + 1;
        char *line = lines[i];
        char *eq;

        ini_strip_comment(line);
        line = g_strchug(line);
        if (*line == '\0') {
            g_string_append_c(clean, '\n');
            continue;
        }
        if (*line == '[') {
            size_t len = strlen(line);

            if (line[len - 1] != ']' || len < 3) {
                g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                            "%s:%d: malformed section header '%s'", ini->origin,
                            lineno, line);
                return false;
            }
            line[len - 1] = '\0';
            g_free(section);
            section = g_strdup(g_strstrip(line + 1));
            if (!ini_section_known(ini, section)) {
                g_autofree char *known = ini_known_list(ini, NULL);

                g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                            "%s:%d: unknown section [%s] (known sections: "
                            "%s)",
                            ini->origin, lineno, section, known);
                return false;
            }
            g_string_append_printf(clean, "[%s]\n", section);
            continue;
        }
        eq = strchr(line, '=');
        if (eq == NULL || eq == line) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "%s:%d: expected '[section]' or 'key = value', "
                        "found '%s'",
                        ini->origin, lineno, line);
            return false;
        }
        *eq = '\0';
        g_strchomp(line);
        if (section == NULL) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "%s:%d: key '%s' comes before any [section]",
                        ini->origin, lineno, line);
            return false;
        }
        if (!ini_key_known(ini, section, line)) {
            g_autofree char *known = ini_known_list(ini, section);

            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "%s:%d: %s.%s: unknown key '%s' in section [%s] "
                        "(known keys: %s)",
                        ini->origin, lineno, section, line, line, section,
                        known);
            return false;
        } else {
            char *full = g_strdup_printf("%s.%s", section, line);
            gpointer first = g_hash_table_lookup(ini->lines, full);

            if (first != NULL) {
                g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                            "%s:%d: %s: key given twice (first on line %d)",
                            ini->origin, lineno, full, GPOINTER_TO_INT(first));
                g_free(full);
                return false;
            }
            g_hash_table_insert(ini->lines, full, GINT_TO_POINTER(lineno));
        }
        g_string_append_printf(clean, "%s=%s\n", line, g_strchug(eq + 1));
    }
    if (!g_key_file_load_from_data(ini->kf, clean->str, clean->len,
                                   G_KEY_FILE_NONE, &local)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG, "%s: %s", ini->origin,
                    local->message);
        return false;
    }
    return true;
}

/* Applies "section.key=value" overrides, checked like file keys. */
static bool ini_apply_sets(struct ini *ini, const char *const *sets,
                           GError **error)
{
    for (size_t i = 0; sets != NULL && sets[i] != NULL; i++) {
        const char *arg = sets[i];
        const char *eq = strchr(arg, '=');
        const char *dot = NULL;
        g_autofree char *section = NULL;
        g_autofree char *key = NULL;

        /* The last dot before '=' ends the section ([device.regfile]). */
        for (const char *p = arg; eq != NULL && p < eq; p++) {
            dot = *p == '.' ? p : dot;
        }

        if (eq == NULL || dot == NULL || dot > eq || dot == arg ||
            dot + 1 == eq) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "--set %s: expected section.key=value", arg);
            return false;
        }
        section = g_strndup(arg, (size_t)(dot - arg));
        key = g_strndup(dot + 1, (size_t)(eq - dot - 1));
        if (!ini_section_known(ini, section)) {
            g_autofree char *known = ini_known_list(ini, NULL);

            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "--set %s: unknown section [%s] (known sections: "
                        "%s)",
                        arg, section, known);
            return false;
        }
        if (!ini_key_known(ini, section, key)) {
            g_autofree char *known = ini_known_list(ini, section);

            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "--set %s: unknown key '%s' in section [%s] (known "
                        "keys: %s)",
                        arg, key, section, known);
            return false;
        }
        g_key_file_set_string(ini->kf, section, key, eq + 1);
        g_hash_table_replace(ini->sets, g_strdup_printf("%s.%s", section, key),
                             g_strdup(arg));
    }
    return true;
}

/*
 * Fetches @section.@key into *@out (g_free; NULL if absent).  An empty
 * value is an error.  The value is used exactly as given: ini_load()
 * already trimmed file values, and a --set value keeps its blanks, so
 * that `--db 'x.db '` names the file "x.db " (a value like "64M " is then
 * an error naming it, not silently another value).
 */
static bool ini_get(struct ini *ini, const char *section, const char *key,
                    char **out, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *value;

    *out = NULL;
    if (!g_key_file_has_key(ini->kf, section, key, NULL)) {
        return true;
    }
    value = g_key_file_get_string(ini->kf, section, key, &local);
    if (value == NULL) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, key, NULL, "%s",
                  local->message);
        return false;
    }
    if (*value == '\0') {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, key, NULL,
                  "empty value");
        g_free(value);
        return false;
    }
    *out = value;
    return true;
}

/* ---- Value syntax ---- */

static bool parse_u64(const char *text, uint64_t *out)
{
    guint64 v;

    if (!g_ascii_isdigit(text[0]) ||
        !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &v, NULL)) {
        return false;
    }
    *out = v;
    return true;
}

/* Leading decimal digits of @text into *@out; *@rest at the first other. */
static bool parse_digits(const char *text, uint64_t *out, const char **rest)
{
    uint64_t v = 0;
    const char *p = text;

    if (!g_ascii_isdigit(*p)) {
        return false;
    }
    for (; g_ascii_isdigit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');

        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    *rest = p;
    return true;
}

/* "64M", "1G", "4096K" or plain bytes. */
static bool parse_size(const char *text, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    unsigned shift;

    if (!parse_digits(text, &v, &rest)) {
        return false;
    }
    switch (g_ascii_toupper(*rest)) {
    case '\0':
        shift = 0;
        break;
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    default:
        return false;
    }
    if (*rest != '\0' && rest[1] != '\0') {
        return false;
    }
    if (shift != 0 && v > (UINT64_MAX >> shift)) {
        return false;
    }
    *out = v << shift;
    return true;
}

/* "0", or a whole number with a unit: "500us", "10ms", "2s", "100ns". */
static bool parse_time_ns(const char *text, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"ms", 1000000},
        {"s", 1000000000},
    };
    uint64_t v;
    const char *rest;

    if (!parse_digits(text, &v, &rest)) {
        return false;
    }
    if (*rest == '\0') {
        if (v != 0) {
            return false; /* a unit is needed */
        }
        *out = 0;
        return true;
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(units); i++) {
        if (strcmp(rest, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].ns) {
                return false;
            }
            *out = v * units[i].ns;
            return true;
        }
    }
    return false;
}

/*
 * Resolves a relative @path against the current directory, then @dir.
 * Returns: the first that exists as a regular file (g_free), or NULL.
 */
static char *resolve_file(const char *path, const char *dir)
{
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        return g_strdup(path);
    }
    if (!g_path_is_absolute(path) && dir != NULL) {
        char *alt = g_build_filename(dir, path, NULL);

        if (g_file_test(alt, G_FILE_TEST_IS_REGULAR)) {
            return alt;
        }
        g_free(alt);
    }
    return NULL;
}

/* ---- CPU profiles ---- */

/* Adds the profile names found in @dir/sim/profiles to @names. */
static void profile_list_dir(const char *dir, GPtrArray *names)
{
    g_autofree char *pdir = g_build_filename(dir, "sim", "profiles", NULL);
    g_autoptr(GDir) d = g_dir_open(pdir, 0, NULL);
    const char *name;

    if (d == NULL) {
        return;
    }
    while ((name = g_dir_read_name(d)) != NULL) {
        char *stem;

        if (!g_str_has_suffix(name, ".ini")) {
            continue;
        }
        stem = g_strndup(name, strlen(name) - 4);
        if (g_ptr_array_find_with_equal_func(names, stem, g_str_equal, NULL)) {
            g_free(stem);
        } else {
            g_ptr_array_add(names, stem);
        }
    }
}

static gint profile_name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *profile_find(const char *spec, const char *base_dir,
                          GError **error)
{
    g_autoptr(GPtrArray) names = NULL;
    g_autofree char *list = NULL;
    char *path;

    if (strchr(spec, '/') != NULL || g_str_has_suffix(spec, ".ini")) {
        path = resolve_file(spec, base_dir);
        if (path == NULL) {
            g_set_error(error, SIM_ERROR, SIM_ERROR_FILE,
                        "CPU profile file '%s' not found (looked in the "
                        "current directory and in %s)",
                        spec, base_dir != NULL ? base_dir : ".");
        }
        return path;
    }
    for (const char *p = spec; *p != '\0'; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_') {
            g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                        "'%s' is neither a profile name nor a path", spec);
            return NULL;
        }
    }
    path = g_strdup_printf("sim/profiles/%s.ini", spec);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        return path;
    }
    g_free(path);
    path = g_strdup_printf("%s/sim/profiles/%s.ini", SIM_SRCDIR, spec);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        return path;
    }
    g_free(path);
    names = g_ptr_array_new_with_free_func(g_free);
    profile_list_dir(".", names);
    profile_list_dir(SIM_SRCDIR, names);
    g_ptr_array_sort(names, profile_name_cmp);
    g_ptr_array_add(names, NULL);
    list = g_strjoinv(", ", (char **)names->pdata);
    g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                "unknown CPU profile '%s' (shipped profiles: %s; or give "
                "the path of a .ini file)",
                spec, *list != '\0' ? list : "none found");
    return NULL;
}

static bool profile_get_u32(struct ini *ini, const char *section,
                            const char *key, uint32_t min, uint32_t max,
                            uint32_t *out, GError **error)
{
    g_autofree char *text = NULL;
    uint64_t v;

    if (!ini_get(ini, section, key, &text, error)) {
        return false;
    }
    if (text == NULL) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, key, NULL,
                  "required key is missing");
        return false;
    }
    if (!parse_u64(text, &v) || v < min || v > max) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, key, text,
                  "expected a whole number from %" PRIu32 " to %" PRIu32, min,
                  max);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool sim_profile_load(const char *spec, const char *base_dir,
                      struct sim_profile *out, GError **error)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    struct ini ini;
    gsize len;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    path = profile_find(spec, base_dir, error);
    if (path == NULL) {
        return false;
    }
    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_FILE, "%s: %s", path,
                    local->message);
        return false;
    }
    if (!ini_check_nul(path, text, len, error)) {
        return false;
    }
    g_ptr_array_add(keys, g_strdup("cpu.description"));
    g_ptr_array_add(keys, g_strdup("cpu.freq_mhz"));
    for (int c = 0; c < CPU_COST_NCLASSES; c++) {
        g_ptr_array_add(keys,
                        g_strdup_printf("costs.%s", cpu_cost_class_name(c)));
    }
    for (int c = 0; c < SIM_VMX_NCOSTS; c++) {
        g_ptr_array_add(keys, g_strdup_printf("vmx.%s", vmx_cost_names[c]));
    }
    g_ptr_array_add(keys, NULL);
    ini_init(&ini, path, (const char *const *)keys->pdata);
    if (!ini_load(&ini, text, error) ||
        !ini_get(&ini, "cpu", "description", &out->description, error) ||
        !profile_get_u32(&ini, "cpu", "freq_mhz", 1, 100000, &out->freq_mhz,
                         error)) {
        goto out;
    }
    for (int c = 0; c < CPU_COST_NCLASSES; c++) {
        if (!profile_get_u32(&ini, "costs", cpu_cost_class_name(c), 0, 1000000,
                             &out->costs[c], error)) {
            goto out;
        }
    }
    for (int c = 0; c < SIM_VMX_NCOSTS; c++) {
        if (!profile_get_u32(&ini, "vmx", vmx_cost_names[c], 0, 10000000,
                             &out->vmx[c], error)) {
            goto out;
        }
    }
    if (out->description == NULL) {
        out->description = g_strdup("");
    }
    out->name = g_strdup(spec);
    out->path = g_strdup(path);
    ok = true;
out:
    ini_clear(&ini);
    if (!ok) {
        sim_profile_clear(out);
    }
    return ok;
}

void sim_profile_clear(struct sim_profile *profile)
{
    g_free(profile->name);
    g_free(profile->path);
    g_free(profile->description);
    memset(profile, 0, sizeof(*profile));
}

/* ---- Experiment files ---- */

/* Parses a mode value; @section.@key names it in the error. */
static bool config_mode(struct ini *ini, const char *section, const char *text,
                        enum sim_mode *out, GError **error)
{
    if (strcmp(text, "hvm") == 0) {
        *out = SIM_MODE_HVM;
    } else if (strcmp(text, "native") == 0) {
        *out = SIM_MODE_NATIVE;
    } else {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, "mode", text,
                  "unknown mode (expected native or hvm)");
        return false;
    }
    return true;
}

/*
 * One VM: its mode and memory from @section (machine or vm.NAME), its
 * program from @prog_section (guest or vm.NAME), its vCPUs from
 * @section's vcpus when @section is a [vm.NAME].
 */
static bool config_read_vm(struct ini *ini, const char *section,
                           const char *prog_section, const char *dir,
                           enum sim_mode default_mode,
                           struct sim_vm_config *vm, GError **error)
{
    g_autofree char *mode = NULL, *memory = NULL, *program = NULL;
    g_autofree char *vcpus = NULL, *modules = NULL;
    bool is_vm = g_str_has_prefix(section, "vm.");
    uint64_t v;

    if (!ini_get(ini, section, "mode", &mode, error) ||
        !ini_get(ini, section, "memory", &memory, error) ||
        !ini_get(ini, prog_section, "program", &program, error) ||
        !ini_get(ini, prog_section, "modules", &modules, error) ||
        !ini_get(ini, prog_section, "cmdline", &vm->cmdline, error) ||
        (is_vm && !ini_get(ini, section, "vcpus", &vcpus, error))) {
        return false;
    }
    vm->name = g_strdup(is_vm ? section + 3 : CONFIG_SINGLE_VM_NAME);
    vm->mode = default_mode;
    if (mode != NULL && !config_mode(ini, section, mode, &vm->mode, error)) {
        return false;
    }
    if (!parse_size(memory != NULL ? memory : CONFIG_DEFAULT_MEMORY,
                    &vm->memory)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, "memory", memory,
                  "expected a size such as 64M or 1G (suffix K, M or G)");
        return false;
    }
    if (vm->memory < SIM_RAM_MIN || vm->memory > SIM_RAM_MAX ||
        vm->memory % SIM_RAM_GRANULE != 0) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, "memory", memory,
                  "must be a multiple of 2M from 4M to 16G (the guest "
                  "page tables map RAM with 2 MiB pages)");
        return false;
    }
    vm->vcpus = 1;
    if (vcpus != NULL && (!parse_u64(vcpus, &v) || v == 0 || v > 256)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, section, "vcpus", vcpus,
                  "expected a number of vCPUs from 1 to 256");
        return false;
    }
    if (vcpus != NULL && v != 1) {
        ini_error(error, ini, SIM_ERROR_UNSUPPORTED, section, "vcpus", vcpus,
                  "several vCPUs in one VM are not implemented yet (they "
                  "need the local APIC to start and signal each other)");
        return false;
    }
    if (program == NULL) {
        ini_error(error, ini, SIM_ERROR_CONFIG, prog_section, "program", NULL,
                  "required key is missing (the guest ELF to run)");
        return false;
    }
    vm->program = resolve_file(program, dir);
    if (vm->program == NULL) {
        ini_error(error, ini, SIM_ERROR_CONFIG, prog_section, "program",
                  program, "no such file (looked in the current directory%s%s)",
                  g_path_is_absolute(program) ? "" : " and in ",
                  g_path_is_absolute(program) ? "" : dir);
        return false;
    }
    if (modules != NULL) {
        g_auto(GStrv) names = g_strsplit(modules, ",", -1);

        vm->nmodules = g_strv_length(names);
        vm->modules = g_new0(char *, vm->nmodules + 1);
        for (unsigned i = 0; i < vm->nmodules; i++) {
            const char *name = g_strstrip(names[i]);

            vm->modules[i] = *name != '\0' ? resolve_file(name, dir) : NULL;
            if (vm->modules[i] == NULL) {
                ini_error(error, ini, SIM_ERROR_CONFIG, prog_section,
                          "modules", modules,
                          "module '%s': no such file (looked in the current "
                          "directory and in %s)",
                          name, dir);
                return false;
            }
        }
    }
    return true;
}

/*
 * The VMs: every [vm.NAME] in file order, or the one VM of [machine] and
 * [guest].  The two forms do not mix.
 */
static bool config_read_vms(struct sim_config *cfg, struct ini *ini,
                            const char *dir, GError **error)
{
    static const char *const single_keys[][2] = {
        {"machine", "mode"}, {"machine", "memory"}, {"guest", "program"}};
    g_auto(GStrv) groups = g_key_file_get_groups(ini->kf, NULL);
    GPtrArray *names = g_ptr_array_new();
    bool ok = true;

    for (size_t i = 0; groups[i] != NULL; i++) {
        if (g_str_has_prefix(groups[i], "vm.")) {
            g_ptr_array_add(names, groups[i]);
        }
    }
    if (names->len == 0) {
        cfg->nvms = 1;
        cfg->vms = g_new0(struct sim_vm_config, 1);
        ok = config_read_vm(ini, "machine", "guest", dir, SIM_MODE_NATIVE,
                            &cfg->vms[0], error);
        g_ptr_array_free(names, true);
        return ok;
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(single_keys) && ok; i++) {
        if (g_key_file_has_key(ini->kf, single_keys[i][0], single_keys[i][1],
                               NULL)) {
            ini_error(error, ini, SIM_ERROR_CONFIG, single_keys[i][0],
                      single_keys[i][1], NULL,
                      "not used in a file with [vm.NAME] sections: give "
                      "it in each [vm.NAME]");
            ok = false;
        }
    }
    if (ok && names->len > SIM_MAX_VMS) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_CONFIG,
                    "%s: %u [vm.NAME] sections: at most %d VMs", ini->origin,
                    names->len, SIM_MAX_VMS);
        ok = false;
    }
    cfg->nvms = names->len;
    cfg->vms = g_new0(struct sim_vm_config, cfg->nvms);
    for (guint i = 0; i < names->len && ok; i++) {
        ok = config_read_vm(ini, g_ptr_array_index(names, i),
                            g_ptr_array_index(names, i), dir, SIM_MODE_HVM,
                            &cfg->vms[i], error);
        if (ok && cfg->vms[i].mode == SIM_MODE_NATIVE && names->len > 1) {
            ini_error(error, ini, SIM_ERROR_UNSUPPORTED,
                      (const char *)g_ptr_array_index(names, i), "mode",
                      "native",
                      "a native guest runs on the bare host, so it cannot "
                      "share it with other VMs: use mode = hvm");
            ok = false;
        }
    }
    g_ptr_array_free(names, true);
    return ok;
}

/*
 * A host setting, [host] @key or (one-VM files) [machine] @key, not both.
 * *@section says which was read.
 */
static bool config_host_get(struct ini *ini, const char *key, char **out,
                            const char **section, GError **error)
{
    g_autofree char *old = NULL;

    if (!ini_get(ini, "host", key, out, error) ||
        !ini_get(ini, "machine", key, &old, error)) {
        return false;
    }
    *section = "host";
    if (*out != NULL && old != NULL) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "machine", key, old,
                  "also given as host.%s: give it once", key);
        g_free(*out);
        *out = NULL;
        return false;
    }
    if (old != NULL) {
        *out = g_steal_pointer(&old);
        *section = "machine";
    }
    return true;
}

static bool config_read(struct sim_config *cfg, struct ini *ini,
                        const char *dir, GError **error)
{
    g_autofree char *name = NULL, *seed = NULL, *cpus = NULL;
    g_autofree char *profile = NULL, *quantum = NULL;
    g_autofree char *insns = NULL, *time = NULL, *guest_base = NULL;
    g_autofree char *tsc = NULL, *tfile = NULL, *tlevel = NULL;
    const char *profile_sec = "machine", *base_sec = "machine";
    const char *tsc_sec = "machine";
    g_autoptr(GError) local = NULL;
    unsigned total_vcpus = 0;
    uint64_t v;

    if (!ini_get(ini, "experiment", "name", &name, error) ||
        !ini_get(ini, "experiment", "seed", &seed, error) ||
        !ini_get(ini, "host", "cpus", &cpus, error) ||
        !ini_get(ini, "host", "quantum", &quantum, error) ||
        !config_host_get(ini, "guest_base", &guest_base, &base_sec, error) ||
        !config_host_get(ini, "tsc_mhz", &tsc, &tsc_sec, error) ||
        !config_host_get(ini, "profile", &profile, &profile_sec, error) ||
        !ini_get(ini, "trace", "file", &tfile, error) ||
        !ini_get(ini, "trace", "level", &tlevel, error) ||
        !ini_get(ini, "limits", "instructions", &insns, error) ||
        !ini_get(ini, "limits", "time", &time, error)) {
        return false;
    }

    if (name != NULL) {
        cfg->name = g_strdup(name);
    } else {
        g_autofree char *base = g_path_get_basename(cfg->path);

        if (g_str_has_suffix(base, ".ini")) {
            base[strlen(base) - 4] = '\0';
        }
        cfg->name = g_strdup(base);
    }

    cfg->seed = 1;
    if (seed != NULL && !parse_u64(seed, &cfg->seed)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "experiment", "seed", seed,
                  "expected a whole number from 0 to 2^64-1");
        return false;
    }

    if (!parse_size(guest_base != NULL ? guest_base
                                       : CONFIG_DEFAULT_GUEST_BASE,
                    &cfg->guest_base) ||
        cfg->guest_base % SIM_RAM_GRANULE != 0 ||
        cfg->guest_base < SIM_RAM_GRANULE || cfg->guest_base > SIM_RAM_MAX) {
        ini_error(error, ini, SIM_ERROR_CONFIG, base_sec, "guest_base",
                  guest_base,
                  "expected a multiple of 2M from 2M to 16G (where guest "
                  "RAM sits in machine memory under hvm)");
        return false;
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(config_placed_devices); i++) {
        g_autofree char *section =
            g_strdup_printf("device.%s", config_placed_devices[i]);
        g_autofree char *where = NULL;

        if (!ini_get(ini, section, "placement", &where, error)) {
            return false;
        }
        cfg->placement[i] = SIM_PLACE_VMM;
        if (where != NULL && strcmp(where, "userspace") == 0) {
            cfg->placement[i] = SIM_PLACE_USERSPACE;
        } else if (where != NULL && strcmp(where, "vmm") != 0) {
            ini_error(error, ini, SIM_ERROR_CONFIG, section, "placement",
                      where, "expected vmm or userspace");
            return false;
        }
    }

    if (profile == NULL) {
        profile = g_strdup(CONFIG_DEFAULT_PROFILE);
    }
    if (!sim_profile_load(profile, dir, &cfg->profile, &local)) {
        ini_error(error, ini, local->code, profile_sec, "profile", profile,
                  "%s", local->message);
        return false;
    }

    cfg->tsc_mhz = cfg->profile.freq_mhz;
    if (tsc != NULL && (!parse_u64(tsc, &v) || v == 0 || v > 100000)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, tsc_sec, "tsc_mhz", tsc,
                  "expected the TSC rate in MHz, 1 to 100000");
        return false;
    } else if (tsc != NULL) {
        cfg->tsc_mhz = (uint32_t)v;
    }

    if (!config_read_vms(cfg, ini, dir, error)) {
        return false;
    }
    for (unsigned i = 0; i < cfg->nvms; i++) {
        total_vcpus += cfg->vms[i].vcpus;
    }
    cfg->host_cpus = total_vcpus;
    if (cpus != NULL && (!parse_u64(cpus, &v) || v == 0 || v > 4096)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "host", "cpus", cpus,
                  "expected a number of physical CPUs from 1 to 4096");
        return false;
    } else if (cpus != NULL && v < total_vcpus) {
        ini_error(error, ini, SIM_ERROR_UNSUPPORTED, "host", "cpus", cpus,
                  "fewer physical CPUs than the %u vCPUs: time-sliced "
                  "scheduling of vCPUs is not implemented yet (each vCPU "
                  "runs on a physical CPU of its own)",
                  total_vcpus);
        return false;
    } else if (cpus != NULL) {
        cfg->host_cpus = (unsigned)v;
    }
    if (!parse_time_ns(quantum != NULL ? quantum : CONFIG_DEFAULT_QUANTUM,
                       &cfg->quantum_ns) ||
        cfg->quantum_ns == 0) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "host", "quantum", quantum,
                  "expected a time with a unit, more than 0 (e.g. 1us)");
        return false;
    }

    if (insns != NULL && !parse_u64(insns, &cfg->limit_instructions)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "limits", "instructions", insns,
                  "expected a whole number (0: no limit)");
        return false;
    }
    if (time != NULL && !parse_time_ns(time, &cfg->limit_time_ns)) {
        ini_error(error, ini, SIM_ERROR_CONFIG, "limits", "time", time,
                  "expected 0 or a whole number with a unit: ns, us, ms "
                  "or s (e.g. 10ms)");
        return false;
    }
    cfg->limit_time_text = g_strdup(time != NULL ? time : "0");

    cfg->trace_file = g_strdup(tfile);
    cfg->trace_level = TRACE_LEVEL_SUMMARY;
    if (tlevel != NULL) {
        enum trace_level level;

        if (!trace_level_parse(tlevel, &level, &local)) {
            ini_error(error, ini, SIM_ERROR_CONFIG, "trace", "level", tlevel,
                      "expected summary, io, exits or full");
            return false;
        }
        cfg->trace_level = level;
    }
    return true;
}

struct sim_config *sim_config_parse(const char *text, const char *origin,
                                    const char *const *sets, GError **error)
{
    struct sim_config *cfg = g_new0(struct sim_config, 1);
    g_autofree char *dir = NULL;
    struct ini ini;
    bool ok;

    cfg->path = g_strdup(origin != NULL ? origin : "<config>");
    cfg->text = g_strdup(text);
    dir = origin != NULL ? g_path_get_dirname(origin) : g_strdup(".");
    ini_init(&ini, cfg->path, config_keys);
    ok = ini_load(&ini, text, error) && ini_apply_sets(&ini, sets, error) &&
         config_read(cfg, &ini, dir, error);
    ini_clear(&ini);
    if (!ok) {
        sim_config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct sim_config *sim_config_load(const char *path, const char *const *sets,
                                   GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_FILE,
                    "cannot read experiment file: %s", local->message);
        return NULL;
    }
    if (!ini_check_nul(path, text, len, error)) {
        return NULL;
    }
    return sim_config_parse(text, path, sets, error);
}

void sim_config_free(struct sim_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    g_free(cfg->path);
    g_free(cfg->name);
    sim_profile_clear(&cfg->profile);
    for (unsigned i = 0; i < cfg->nvms; i++) {
        g_free(cfg->vms[i].name);
        g_free(cfg->vms[i].program);
        g_strfreev(cfg->vms[i].modules);
        g_free(cfg->vms[i].cmdline);
    }
    g_free(cfg->vms);
    g_free(cfg->limit_time_text);
    g_free(cfg->trace_file);
    g_free(cfg->text);
    g_free(cfg);
}
