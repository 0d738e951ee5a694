/*
 * tests/fuzz/fuzz-config.c: the experiment-file and CPU-profile parsers on
 * arbitrary text.  The input up to its first NUL is an experiment file
 * (sim_config_parse); what follows the NUL, split at newlines, is a list
 * of --set overrides.  The same text is then written to a file and loaded
 * as a CPU profile (sim_profile_load).  Every outcome must be a config or
 * a SIM_ERROR GError with a message - never a crash, an abort or a leak -
 * and a config that parses must hold what the machine relies on (RAM size
 * and guest_base in range and 2 MiB-aligned, a program, a profile).
 */
#include "sim/common.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "sim/sim.h"

/* libFuzzer's entry points take no context, so what
 * LLVMFuzzerInitialize() sets up is file-scope. */
static char *fuzz_profile_path;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir = g_dir_make_tmp("iovsim-fuzz-config-XXXXXX", NULL);

    g_assert(dir != NULL);
    fuzz_profile_path = g_build_filename(dir, "profile.ini", NULL);
    g_free(dir);
    return 0;
}

/* A failure must say why, in sim/'s error domain. */
static void fuzz_check_error(const GError *err)
{
    if (err == NULL || err->domain != SIM_ERROR || err->message == NULL ||
        err->message[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    size_t len = strlen(text);
    g_auto(GStrv) sets = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) perr = NULL;
    struct sim_config *cfg;
    struct sim_profile profile;

    if (len + 1 < size) {
        g_autofree char *rest =
            g_strndup((const char *)data + len + 1, size - len - 1);

        sets = g_strsplit(rest, "\n", 16);
    }
    cfg = sim_config_parse(text, NULL, (const char *const *)sets, &err);
    if (cfg == NULL) {
        fuzz_check_error(err);
    } else {
        if (err != NULL || cfg->vms[0].program == NULL ||
            cfg->vms[0].memory < SIM_RAM_MIN || cfg->vms[0].memory > SIM_RAM_MAX ||
            cfg->vms[0].memory % SIM_RAM_GRANULE != 0 ||
            cfg->guest_base % SIM_RAM_GRANULE != 0 ||
            cfg->profile.freq_mhz == 0 || cfg->profile.name == NULL) {
            abort();
        }
        sim_config_free(cfg);
    }

    g_assert(g_file_set_contents(fuzz_profile_path, text, (gssize)len, NULL));
    if (sim_profile_load(fuzz_profile_path, NULL, &profile, &perr)) {
        if (perr != NULL || profile.freq_mhz == 0) {
            abort();
        }
        sim_profile_clear(&profile);
    } else {
        fuzz_check_error(perr);
    }
    return 0;
}
