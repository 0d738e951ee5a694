/*
 * tests/tmpdir.c: removing a suite's scratch directory (tests/tmpdir.h).
 */
#include "sim/common.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/tmpdir.h"

void tests_tmpdir_remove(char **dir)
{
    GDir *d;
    const char *name;

    if (*dir == NULL) {
        return;
    }
    d = g_dir_open(*dir, 0, NULL);
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(*dir, name, NULL);

        g_remove(path);
    }
    if (d != NULL) {
        g_dir_close(d);
    }
    g_rmdir(*dir);
    g_clear_pointer(dir, g_free);
}
