/*
 * tests/sim/test-config.c: experiment files and CPU profiles
 * (sim/config.c).  Valid files and defaults, and for each kind of mistake
 * the error code and a message that names the file, the line and the key:
 * unknown sections and keys, bad sizes and modes, a missing program,
 * duplicates, and --set overrides, which are checked like file keys.
 * Files live in a temporary directory made by the suite.  Tests run from
 * the top of the source tree (make check), where sim/profiles/ is.
 */
#include "sim/common.h"

#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "sim/sim.h"
#include "tests/tmpdir.h"

/* The suite's scratch directory (CUnit init/cleanup take no argument). */
static char *config_tmpdir;

static int config_suite_init(void)
{
    config_tmpdir = g_dir_make_tmp("iovsim-config-XXXXXX", NULL);
    return config_tmpdir == NULL;
}

static int config_suite_clean(void)
{
    tests_tmpdir_remove(&config_tmpdir);
    return 0;
}

/* Writes @text to @name in the scratch directory; returns the path. */
static char *config_write(const char *name, const char *text)
{
    char *path = g_build_filename(config_tmpdir, name, NULL);

    g_assert(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* A config whose program exists: "prog.elf" next to the file. */
static char *config_with(const char *name, const char *extra)
{
    g_autofree char *prog = config_write("prog.elf", "not checked here");
    g_autofree char *text =
        g_strdup_printf("[guest]\nprogram = %s\n%s", prog, extra);

    return config_write(name, text);
}

/*
 * Loads @path with @sets and checks that it fails with @code and a
 * message containing each of the NULL-terminated needles.
 */
static bool config_fails(const char *path, const char *const *sets, int code,
                         ...)
{
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_load(path, sets, &err);
    bool ok = true;
    const char *needle;
    va_list ap;

    if (cfg != NULL) {
        sim_config_free(cfg);
        fprintf(stderr, "\n%s: loaded, expected an error\n", path);
        return false;
    }
    if (!g_error_matches(err, SIM_ERROR, code)) {
        fprintf(stderr, "\n%s: error code %d, expected %d: %s\n", path,
                err->code, code, err->message);
        return false;
    }
    va_start(ap, code);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        if (strstr(err->message, needle) == NULL) {
            fprintf(stderr, "\nmessage '%s' lacks '%s'\n", err->message,
                    needle);
            ok = false;
        }
    }
    va_end(ap);
    return ok;
}

static void test_full_file(void)
{
    g_autofree char *prog = config_write("full.elf", "x");
    g_autofree char *text =
        g_strdup_printf("# a full experiment\n"
                        "[experiment]\n"
                        "name = hello            ; trailing comment\n"
                        "seed = 42\n"
                        "\n"
                        "[machine]\n"
                        "mode = native\n"
                        "memory = 128M\n"
                        "profile = nehalem\n"
                        "[guest]\n"
                        "program = %s\n"
                        "[limits]\n"
                        "instructions = 1000\n"
                        "time = 10ms\n",
                        prog);
    g_autofree char *path = config_write("full.ini", text);
    g_autoptr(GError) err = NULL;
    struct sim_config *cfg = sim_config_load(path, NULL, &err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->name, "hello");
    CU_ASSERT_EQUAL(cfg->seed, 42);
    CU_ASSERT_EQUAL(cfg->vms[0].mode, SIM_MODE_NATIVE);
    CU_ASSERT_EQUAL(cfg->vms[0].memory, UINT64_C(128) << 20);
    CU_ASSERT_STRING_EQUAL(cfg->profile.name, "nehalem");
    CU_ASSERT_EQUAL(cfg->profile.freq_mhz, 2930);
    CU_ASSERT_STRING_EQUAL(cfg->vms[0].program, prog);
    CU_ASSERT_EQUAL(cfg->limit_instructions, 1000);
    CU_ASSERT_EQUAL(cfg->limit_time_ns, UINT64_C(10000000));
    CU_ASSERT_STRING_EQUAL(cfg->limit_time_text, "10ms");
    sim_config_free(cfg);
}

static void test_defaults(void)
{
    g_autofree char *path = config_with("defaults.ini", "");
    struct sim_config *cfg = sim_config_load(path, NULL, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->name, "defaults");
    CU_ASSERT_EQUAL(cfg->seed, 1);
    CU_ASSERT_EQUAL(cfg->vms[0].memory, UINT64_C(64) << 20);
    CU_ASSERT_STRING_EQUAL(cfg->profile.name, "skylake");
    CU_ASSERT_EQUAL(cfg->profile.freq_mhz, 2500);
    CU_ASSERT_EQUAL(cfg->limit_instructions, 0);
    CU_ASSERT_EQUAL(cfg->limit_time_ns, 0);
    for (int c = 0; c < CPU_COST_NCLASSES; c++) {
        CU_ASSERT(cfg->profile.costs[c] > 0 || c == CPU_COST_LOAD);
    }
    sim_config_free(cfg);
}

static void test_unknown_key(void)
{
    g_autofree char *path = config_with(
        "key.ini", "[experiment]\nname = x\n\n[machine]\nmemroy = 64M\n");

    /* prog line 2, [experiment] 3, name 4, blank 5, [machine] 6, key 7 */
    CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG,
                                "key.ini:7:", "memroy", "[machine]", NULL));
}

static void test_unknown_section(void)
{
    g_autofree char *path =
        config_with("section.ini", "# comment\n[experimnet]\n");

    CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG,
                                "section.ini:4:", "[experimnet]", NULL));
}

static void test_bad_sizes(void)
{
    static const char *const bad[] = {
        "3M",    "5M",  "2M",   "0",    "64X",
        "M",     "32G", "64MB", "-64M", "99999999999999999999G",
        "4097K",
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(bad); i++) {
        g_autofree char *extra =
            g_strdup_printf("[machine]\nmemory = %s\n", bad[i]);
        g_autofree char *path = config_with("size.ini", extra);
        g_autofree char *key = g_strdup_printf("machine.memory=%s", bad[i]);

        CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG,
                                    "size.ini:4:", key, NULL));
    }
}

static void test_good_sizes(void)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"4M", UINT64_C(4) << 20},    {"6m", UINT64_C(6) << 20},
        {"1G", UINT64_C(1) << 30},    {"16G", UINT64_C(16) << 30},
        {"4096K", UINT64_C(4) << 20}, {"4194304", UINT64_C(4) << 20},
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(good); i++) {
        g_autofree char *set =
            g_strdup_printf("machine.memory=%s", good[i].text);
        const char *sets[] = {set, NULL};
        g_autofree char *path = config_with("gsize.ini", "");
        struct sim_config *cfg = sim_config_load(path, sets, NULL);

        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        CU_ASSERT_EQUAL(cfg->vms[0].memory, good[i].bytes);
        sim_config_free(cfg);
    }
}

static void test_bad_mode(void)
{
    g_autofree char *hvm = config_with("hvm.ini", "[machine]\nmode = hvm\n");
    g_autofree char *odd = config_with("odd.ini", "[machine]\nmode = pv\n");
    g_autofree char *base = config_with(
        "base.ini", "[machine]\nmode = hvm\nguest_base = 3M\n");
    g_autofree char *place = config_with(
        "place.ini", "[device.regfile]\nplacement = kernel\n");
    struct sim_config *cfg = sim_config_load(hvm, NULL, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->vms[0].mode, SIM_MODE_HVM);
    CU_ASSERT_EQUAL(cfg->guest_base, UINT64_C(256) << 20);
    sim_config_free(cfg);
    CU_ASSERT_TRUE(config_fails(odd, NULL, SIM_ERROR_CONFIG,
                                "odd.ini:4:", "machine.mode=pv", NULL));
    CU_ASSERT_TRUE(config_fails(base, NULL, SIM_ERROR_CONFIG, "base.ini:5:",
                                "machine.guest_base", NULL));
    CU_ASSERT_TRUE(config_fails(place, NULL, SIM_ERROR_CONFIG, "place.ini:4:",
                                "device.regfile.placement", NULL));
}

static void test_missing_program(void)
{
    g_autofree char *nokey =
        config_write("nokey.ini", "[machine]\nmemory = 8M\n");
    g_autofree char *nofile =
        config_write("nofile.ini", "[guest]\nprogram = no/such/guest.elf\n");

    CU_ASSERT_TRUE(config_fails(nokey, NULL, SIM_ERROR_CONFIG, "nokey.ini",
                                "guest.program", "missing", NULL));
    CU_ASSERT_TRUE(config_fails(nofile, NULL, SIM_ERROR_CONFIG, "nofile.ini:2:",
                                "guest.program=no/such/guest.elf",
                                "no such file", NULL));
}

static void test_program_relative_to_config(void)
{
    g_autofree char *prog = config_write("relative-prog.elf", "x");
    g_autofree char *path =
        config_write("relative.ini", "[guest]\nprogram = relative-prog.elf\n");
    struct sim_config *cfg = sim_config_load(path, NULL, NULL);

    /* Not in the current directory: found next to the config. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->vms[0].program, prog);
    sim_config_free(cfg);
}

static void test_set_override(void)
{
    g_autofree char *path =
        config_with("set.ini", "[machine]\nmemory = 64M\n[limits]\ntime = 0\n");
    const char *sets[] = {"machine.memory=256M", "limits.time=500us",
                          "experiment.seed=7", NULL};
    const char *bad_value[] = {"machine.memory=3M", NULL};
    const char *bad_key[] = {"machine.ram=64M", NULL};
    const char *bad_section[] = {"cpu.freq=1", NULL};
    const char *bad_syntax[] = {"machine-memory", NULL};
    struct sim_config *cfg = sim_config_load(path, sets, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->vms[0].memory, UINT64_C(256) << 20);
    CU_ASSERT_EQUAL(cfg->limit_time_ns, 500000);
    CU_ASSERT_EQUAL(cfg->seed, 7);
    sim_config_free(cfg);

    CU_ASSERT_TRUE(config_fails(path, bad_value, SIM_ERROR_CONFIG,
                                "--set machine.memory=3M", NULL));
    CU_ASSERT_TRUE(config_fails(path, bad_key, SIM_ERROR_CONFIG,
                                "--set machine.ram=64M", "'ram'", NULL));
    CU_ASSERT_TRUE(
        config_fails(path, bad_section, SIM_ERROR_CONFIG, "[cpu]", NULL));
    CU_ASSERT_TRUE(config_fails(path, bad_syntax, SIM_ERROR_CONFIG,
                                "section.key=value", NULL));
}

static void test_syntax_and_duplicates(void)
{
    g_autofree char *dup =
        config_with("dup.ini", "[limits]\ntime = 1s\ntime = 2s\n");
    g_autofree char *junk = config_with("junk.ini", "[limits]\njunk\n");
    g_autofree char *orphan = config_write("orphan.ini", "seed = 1\n");

    CU_ASSERT_TRUE(config_fails(dup, NULL, SIM_ERROR_CONFIG,
                                "dup.ini:5:", "limits.time", "line 4", NULL));
    CU_ASSERT_TRUE(config_fails(junk, NULL, SIM_ERROR_CONFIG,
                                "junk.ini:4:", "junk", NULL));
    CU_ASSERT_TRUE(config_fails(orphan, NULL, SIM_ERROR_CONFIG,
                                "orphan.ini:1:", "seed", NULL));
}

static void test_limits(void)
{
    static const struct {
        const char *text;
        uint64_t ns;
    } good[] = {
        {"0", 0},
        {"100ns", 100},
        {"500us", 500000},
        {"10ms", 10000000},
        {"2s", UINT64_C(2000000000)},
    };
    static const char *const bad[] = {"5", "1.5ms", "10 ms", "ms", "3h"};

    for (size_t i = 0; i < SIM_ARRAY_SIZE(good); i++) {
        g_autofree char *set = g_strdup_printf("limits.time=%s", good[i].text);
        const char *sets[] = {set, "limits.instructions=123", NULL};
        g_autofree char *path = config_with("lim.ini", "");
        struct sim_config *cfg = sim_config_load(path, sets, NULL);

        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        CU_ASSERT_EQUAL(cfg->limit_time_ns, good[i].ns);
        CU_ASSERT_EQUAL(cfg->limit_instructions, 123);
        sim_config_free(cfg);
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(bad); i++) {
        g_autofree char *extra =
            g_strdup_printf("[limits]\ntime = %s\n", bad[i]);
        g_autofree char *path = config_with("blim.ini", extra);

        CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG,
                                    "blim.ini:4:", "limits.time", NULL));
    }
}

static void test_profiles(void)
{
    g_autoptr(GString) text = g_string_new("[cpu]\nfreq_mhz = 1000\n"
                                           "[costs]\n");
    g_autofree char *extra_path = NULL;
    g_autofree char *missing_path = NULL;
    g_autofree char *good_path = NULL;
    g_autoptr(GError) err = NULL;
    struct sim_profile p;

    CU_ASSERT_TRUE(sim_profile_load("skylake", NULL, &p, NULL));
    CU_ASSERT_EQUAL(p.freq_mhz, 2500);
    sim_profile_clear(&p);
    CU_ASSERT_TRUE(sim_profile_load("nehalem", NULL, &p, NULL));
    CU_ASSERT_EQUAL(p.freq_mhz, 2930);
    CU_ASSERT_EQUAL(p.costs[CPU_COST_MUL], 3);
    sim_profile_clear(&p);

    for (int c = 0; c < CPU_COST_NCLASSES; c++) {
        g_string_append_printf(text, "%s = %d\n", cpu_cost_class_name(c),
                               c + 1);
    }
    g_string_append(text, "[vmx]\n");
    for (int c = 0; c < SIM_VMX_NCOSTS; c++) {
        g_string_append_printf(text, "%s = %d\n", sim_vmx_cost_name(c),
                               100 + c);
    }
    good_path = config_write("mine.ini", text->str);
    CU_ASSERT_TRUE(sim_profile_load(good_path, NULL, &p, NULL));
    CU_ASSERT_EQUAL(p.freq_mhz, 1000);
    CU_ASSERT_EQUAL(p.costs[CPU_COST_PAGEWALK], CPU_COST_PAGEWALK + 1);
    CU_ASSERT_EQUAL(p.vmx[SIM_VMX_USERSPACE_TRIP],
                    100 + SIM_VMX_USERSPACE_TRIP);
    sim_profile_clear(&p);

    /* Strict: an unknown key is an error with its line. */
    g_string_append(text, "turbo = 1\n");
    extra_path = config_write("extra.ini", text->str);
    CU_ASSERT_FALSE(sim_profile_load(extra_path, NULL, &p, &err));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "turbo") : NULL);
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "extra.ini:")
                                       : NULL);
    g_clear_error(&err);

    /* Every class must be given. */
    missing_path =
        config_write("partial.ini", "[cpu]\nfreq_mhz = 1000\n[costs]\n"
                                    "simple = 1\n");
    CU_ASSERT_FALSE(sim_profile_load(missing_path, NULL, &p, &err));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "costs.") : NULL);
    g_clear_error(&err);

    CU_ASSERT_FALSE(sim_profile_load("pentium4", NULL, &p, &err));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, "skylake")
                                       : NULL);
}

static void test_profile_error_in_config(void)
{
    g_autofree char *path =
        config_with("prof.ini", "[machine]\nprofile = pentium4\n");

    CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG, "prof.ini:4:",
                                "machine.profile=pentium4", NULL));
}

/* Writes @len bytes of @text (which may hold NUL bytes) to @name. */
static char *config_write_len(const char *name, const char *text, size_t len)
{
    char *path = g_build_filename(config_tmpdir, name, NULL);

    g_assert(g_file_set_contents(path, text, (gssize)len, NULL));
    return path;
}

/*
 * A NUL byte would end the C string GKeyFile and the runs table see, so
 * everything after it would be ignored and the stored text cut short:
 * it must be refused with the file and line, in configs and profiles.
 */
static void test_nul_byte(void)
{
    g_autofree char *prog = config_write("nul.elf", "x");
    g_autofree char *text = g_strdup_printf("[guest]\nprogram = %s\n"
                                            "[limits]\ntime = 0@\n"
                                            "instructions = junk\n",
                                            prog);
    g_autofree char *path = NULL;
    g_autofree char *prof = NULL;
    g_autoptr(GError) err = NULL;
    struct sim_profile p;
    size_t len = strlen(text);

    *strchr(text, '@') = '\0';
    path = config_write_len("nul.ini", text, len);
    CU_ASSERT_TRUE(config_fails(path, NULL, SIM_ERROR_CONFIG,
                                "nul.ini:4: the file contains a NUL byte",
                                NULL));

    prof = config_write_len("nulprof.ini", "[cpu]\nfreq_mhz = 1\0\n", 20);
    CU_ASSERT_FALSE(sim_profile_load(prof, NULL, &p, &err));
    CU_ASSERT_PTR_NOT_NULL(
        err != NULL ? strstr(err->message, "nulprof.ini:2: ") : NULL);
}

/*
 * A --set value is used exactly: `--db 'x.db '` must not write x.db
 * (file values lose surrounding blanks by INI syntax, --set values do
 * not).
 */
static void test_set_exact(void)
{
    g_autofree char *path = config_with("exact.ini", "");
    const char *sets[] = {"trace.file=x.db ", "experiment.name= a b ", NULL};
    const char *bad[] = {"machine.memory=64M ", NULL};
    struct sim_config *cfg = sim_config_load(path, sets, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->trace_file, "x.db ");
    CU_ASSERT_STRING_EQUAL(cfg->name, " a b ");
    sim_config_free(cfg);
    CU_ASSERT_TRUE(config_fails(path, bad, SIM_ERROR_CONFIG,
                                "--set machine.memory=64M : ", NULL));
}

static CU_TestInfo config_tests[] = {
    {"a full experiment file", test_full_file},
    {"defaults", test_defaults},
    {"unknown key: file, line, key", test_unknown_key},
    {"unknown section: file, line", test_unknown_section},
    {"bad memory sizes", test_bad_sizes},
    {"good memory sizes", test_good_sizes},
    {"hvm and unknown modes", test_bad_mode},
    {"missing program key or file", test_missing_program},
    {"program path relative to the config", test_program_relative_to_config},
    {"--set overrides, checked like file keys", test_set_override},
    {"syntax errors and duplicate keys", test_syntax_and_duplicates},
    {"limits", test_limits},
    {"CPU profiles: shipped, paths, strictness", test_profiles},
    {"profile errors name the config key", test_profile_error_in_config},
    {"a NUL byte is an error with file and line", test_nul_byte},
    {"--set values are used exactly", test_set_exact},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_config_suites[] = {
    {"sim/config", config_suite_init, config_suite_clean, NULL, NULL,
     config_tests},
    CU_SUITE_INFO_NULL,
};
