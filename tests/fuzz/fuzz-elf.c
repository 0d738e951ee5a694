/*
 * tests/fuzz/fuzz-elf.c: the guest ELF loader on arbitrary files.  The
 * input is written to a file and loaded with sim_elf_load into 4 MiB of
 * RAM whose top 64 KiB stand for the page tables (the load limit), with
 * a guard area on each side.  RAM and guards are filled with a pattern
 * first.  The loader must either succeed, with every segment and the
 * entry below the load limit and nothing written outside the segments,
 * or fail with a SIM_ERROR GError having written nothing at all.  Writes
 * past the buffer are ASan's to catch.
 */
#include "sim/common.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "sim/sim.h"

#define RAM_SIZE (UINT64_C(4) << 20)
#define LOAD_LIMIT (RAM_SIZE - (UINT64_C(64) << 10))
#define GUARD 4096
#define PATTERN 0xa5

/* libFuzzer's entry points take no context, so what
 * LLVMFuzzerInitialize() sets up is file-scope. */
static char *fuzz_elf_path;
#define BUF_SIZE (GUARD + RAM_SIZE + GUARD)

static uint8_t *fuzz_buf;     /* the guards and RAM */
static uint8_t *fuzz_pattern; /* what fuzz_buf holds before a load */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir = g_dir_make_tmp("iovsim-fuzz-elf-XXXXXX", NULL);

    g_assert(dir != NULL);
    fuzz_elf_path = g_build_filename(dir, "guest.elf", NULL);
    g_free(dir);
    fuzz_buf = g_malloc(BUF_SIZE);
    fuzz_pattern = g_malloc(BUF_SIZE);
    memset(fuzz_pattern, PATTERN, BUF_SIZE);
    return 0;
}

/* Are bytes [from, to) of the buffer still the pattern? */
static bool fuzz_untouched(uint64_t from, uint64_t to)
{
    return memcmp(fuzz_buf + from, fuzz_pattern + from, to - from) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    struct sim_elf_image image;
    uint8_t *ram = fuzz_buf + GUARD;
    uint64_t end = 0;
    bool entry_ok = false;

    g_assert(g_file_set_contents(fuzz_elf_path, (const char *)data,
                                 (gssize)size, NULL));
    memcpy(fuzz_buf, fuzz_pattern, BUF_SIZE);
    if (!sim_elf_load(fuzz_elf_path, ram, RAM_SIZE, LOAD_LIMIT, &image,
                      &err)) {
        if (err == NULL || err->domain != SIM_ERROR ||
            !fuzz_untouched(0, BUF_SIZE)) {
            abort();
        }
        return 0;
    }
    if (err != NULL) {
        abort();
    }
    /* Segments are in file order; sort-free check: each in range, and
     * the bytes outside all of them (walked in address order) untouched. */
    for (size_t i = 0; i < image.nsegments; i++) {
        const struct sim_elf_segment *s = &image.segments[i];

        if (s->filesz > s->memsz || s->paddr > LOAD_LIMIT ||
            s->memsz > LOAD_LIMIT - s->paddr) {
            abort();
        }
        if (image.entry >= s->paddr && image.entry < s->paddr + s->memsz) {
            entry_ok = true;
        }
    }
    if (!entry_ok || !fuzz_untouched(0, GUARD) ||
        !fuzz_untouched(GUARD + LOAD_LIMIT, BUF_SIZE)) {
        abort();
    }
    for (uint64_t a = 0; a < LOAD_LIMIT; a = end) {
        uint64_t next = LOAD_LIMIT;
        bool inside = false;

        /* The stretch from a: inside some segment, or up to the next. */
        for (size_t i = 0; i < image.nsegments; i++) {
            const struct sim_elf_segment *s = &image.segments[i];

            if (a >= s->paddr && a < s->paddr + s->memsz) {
                inside = true;
                next = MIN(next, s->paddr + s->memsz);
            } else if (s->paddr > a) {
                next = MIN(next, s->paddr);
            }
        }
        end = next;
        if (!inside && !fuzz_untouched(GUARD + a, GUARD + end)) {
            abort();
        }
    }
    sim_elf_image_clear(&image);
    return 0;
}
