/*
 * tests/sim/test-loader.c: the ELF loader and the guest ABI's page tables
 * (sim/loader.c).  ELF files are assembled byte by byte from <elf.h>
 * structs, then damaged one way per test (truncated, not ELF, 32-bit,
 * out of RAM, filesz > memsz, ...), written to a temporary directory and
 * loaded into a plain buffer: no CPU or machine is involved.  Running a
 * good tiny ELF end to end is in tests/sim/test-machine.c.
 */
#include "sim/common.h"

#include <elf.h>
#include <stdarg.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "sim/sim.h"
#include "tests/tmpdir.h"

#define LOADER_RAM (UINT64_C(4) << 20)
#define LOADER_BASE 0x100000

static char *loader_tmpdir;

static int loader_suite_init(void)
{
    loader_tmpdir = g_dir_make_tmp("iovsim-loader-XXXXXX", NULL);
    return loader_tmpdir == NULL;
}

static int loader_suite_clean(void)
{
    tests_tmpdir_remove(&loader_tmpdir);
    return 0;
}

/* mov $0x2a,%eax; out %eax,$0xf4; jmp . */
static const uint8_t loader_code[] = {
    0xb8, 0x2a, 0x00, 0x00, 0x00, 0xe7, 0xf4, 0xeb, 0xfe,
};

/* An ELF64 x86-64 ET_EXEC with one PT_LOAD (code, then @bss zeroes). */
struct loader_elf {
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    uint8_t code[sizeof(loader_code)];
};

/* The file's length: the struct without its tail padding. */
#define LOADER_ELF_LEN (offsetof(struct loader_elf, code) + sizeof(loader_code))

static void loader_elf_init(struct loader_elf *e, uint64_t bss)
{
    memset(e, 0, sizeof(*e));
    memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
    e->eh.e_ident[EI_CLASS] = ELFCLASS64;
    e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    e->eh.e_ident[EI_VERSION] = EV_CURRENT;
    e->eh.e_type = ET_EXEC;
    e->eh.e_machine = EM_X86_64;
    e->eh.e_version = EV_CURRENT;
    e->eh.e_entry = LOADER_BASE;
    e->eh.e_phoff = offsetof(struct loader_elf, ph);
    e->eh.e_ehsize = sizeof(Elf64_Ehdr);
    e->eh.e_phentsize = sizeof(Elf64_Phdr);
    e->eh.e_phnum = 1;
    e->ph.p_type = PT_LOAD;
    e->ph.p_flags = PF_R | PF_X;
    e->ph.p_offset = offsetof(struct loader_elf, code);
    e->ph.p_vaddr = LOADER_BASE;
    e->ph.p_paddr = LOADER_BASE;
    e->ph.p_filesz = sizeof(loader_code);
    e->ph.p_memsz = sizeof(loader_code) + bss;
    e->ph.p_align = 0x1000;
    memcpy(e->code, loader_code, sizeof(loader_code));
}

static char *loader_write(const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(loader_tmpdir, name, NULL);

    g_assert(g_file_set_contents(path, data, (gssize)len, NULL));
    return path;
}

/*
 * Loads @len bytes of @data as a file into fresh RAM and checks it fails
 * with @code and a message naming the file and containing @needle.
 */
static bool loader_fails(const void *data, size_t len, int code,
                         const char *needle)
{
    g_autofree char *path = loader_write("bad.elf", data, len);
    g_autofree uint8_t *ram = g_malloc0(LOADER_RAM);
    uint64_t limit = LOADER_RAM - sim_guest_pt_size(LOADER_RAM);
    g_autoptr(GError) err = NULL;
    struct sim_elf_image img;

    if (sim_elf_load(path, ram, LOADER_RAM, limit, &img, &err)) {
        sim_elf_image_clear(&img);
        fprintf(stderr, "\nloaded, expected error %d (%s)\n", code, needle);
        return false;
    }
    if (!g_error_matches(err, SIM_ERROR, code) ||
        strstr(err->message, path) == NULL ||
        strstr(err->message, needle) == NULL) {
        fprintf(stderr, "\nerror %d '%s', expected %d with '%s'\n", err->code,
                err->message, code, needle);
        return false;
    }
    return true;
}

static void test_good_elf(void)
{
    struct loader_elf e;
    g_autofree char *path = NULL;
    g_autofree uint8_t *ram = g_malloc(LOADER_RAM);
    struct sim_elf_image img;
    g_autoptr(GError) err = NULL;

    loader_elf_init(&e, 0x100);
    path = loader_write("good.elf", &e, LOADER_ELF_LEN);
    memset(ram, 0xcc, LOADER_RAM);
    CU_ASSERT_TRUE_FATAL(
        sim_elf_load(path, ram, LOADER_RAM, LOADER_RAM - 0x3000, &img, &err));
    CU_ASSERT_EQUAL(img.entry, LOADER_BASE);
    CU_ASSERT_EQUAL_FATAL(img.nsegments, 1);
    CU_ASSERT_EQUAL(img.segments[0].paddr, LOADER_BASE);
    CU_ASSERT_EQUAL(img.segments[0].filesz, sizeof(loader_code));
    CU_ASSERT_EQUAL(img.segments[0].memsz, sizeof(loader_code) + 0x100);
    CU_ASSERT_EQUAL(memcmp(ram + LOADER_BASE, loader_code, sizeof(loader_code)),
                    0);
    /* The bss part is zeroed, the byte after it untouched. */
    CU_ASSERT_EQUAL(ram[LOADER_BASE + sizeof(loader_code)], 0);
    CU_ASSERT_EQUAL(ram[LOADER_BASE + sizeof(loader_code) + 0xff], 0);
    CU_ASSERT_EQUAL(ram[LOADER_BASE + sizeof(loader_code) + 0x100], 0xcc);
    sim_elf_image_clear(&img);
}

static void test_missing_file(void)
{
    g_autofree char *path = g_build_filename(loader_tmpdir, "nope.elf", NULL);
    g_autofree uint8_t *ram = g_malloc0(LOADER_RAM);
    g_autoptr(GError) err = NULL;
    struct sim_elf_image img;

    CU_ASSERT_FALSE(
        sim_elf_load(path, ram, LOADER_RAM, LOADER_RAM, &img, &err));
    CU_ASSERT_TRUE(g_error_matches(err, SIM_ERROR, SIM_ERROR_FILE));
    CU_ASSERT_PTR_NOT_NULL(err != NULL ? strstr(err->message, path) : NULL);
}

static void test_not_elf(void)
{
    static const char text[] = "#!/bin/sh\necho this is not an ELF\n";

    CU_ASSERT_TRUE(loader_fails(text, sizeof(text) - 1, SIM_ERROR_ELF_NOT_ELF,
                                "not an ELF"));
    CU_ASSERT_TRUE(loader_fails("", 0, SIM_ERROR_ELF_NOT_ELF, "empty"));
    CU_ASSERT_TRUE(loader_fails("\x7f"
                                "EL",
                                3, SIM_ERROR_ELF_NOT_ELF, "not an ELF"));
}

static void test_elf32(void)
{
    struct loader_elf e;

    loader_elf_init(&e, 0);
    e.eh.e_ident[EI_CLASS] = ELFCLASS32;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_CLASS, "32-bit"));
    /* Even a bare 32-bit ident is recognised as such. */
    CU_ASSERT_TRUE(loader_fails(&e, EI_NIDENT, SIM_ERROR_ELF_CLASS, "32-bit"));
}

static void test_truncated(void)
{
    struct loader_elf e;

    loader_elf_init(&e, 0);
    /* Inside the ELF header. */
    CU_ASSERT_TRUE(loader_fails(&e, 40, SIM_ERROR_ELF_TRUNCATED, "truncated"));
    /* Inside the program header table. */
    CU_ASSERT_TRUE(loader_fails(&e, sizeof(e.eh) + 20, SIM_ERROR_ELF_TRUNCATED,
                                "program header"));
    /* Inside the segment's bytes. */
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN - 2, SIM_ERROR_ELF_TRUNCATED,
                                "segment 0"));
    /* A p_offset far past the end, and one that wraps. */
    e.ph.p_offset = 1u << 30;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TRUNCATED, "segment 0"));
    e.ph.p_offset = UINT64_MAX - 2;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TRUNCATED, "segment 0"));
    loader_elf_init(&e, 0);
    e.eh.e_phoff = UINT64_MAX - 8;
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TRUNCATED,
                                "program header"));
}

static void test_out_of_ram(void)
{
    struct loader_elf e;

    loader_elf_init(&e, 0);
    e.ph.p_paddr = UINT64_C(1) << 32;
    e.eh.e_entry = e.ph.p_paddr;
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE,
                                "outside guest RAM"));
    /* Straddling the end of RAM. */
    e.ph.p_paddr = LOADER_RAM - 4;
    e.eh.e_entry = e.ph.p_paddr;
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE,
                                "outside guest RAM"));
    /* Into the page tables at the top of RAM. */
    e.ph.p_paddr = LOADER_RAM - 0x2000;
    e.eh.e_entry = e.ph.p_paddr;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE, "page tables"));
    /* A bss that runs out of RAM. */
    loader_elf_init(&e, LOADER_RAM);
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE,
                                "outside guest RAM"));
    /* Address + size wrapping around 2^64. */
    loader_elf_init(&e, 0);
    e.ph.p_paddr = UINT64_MAX - 2;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_INVALID, "wraps"));
}

static void test_filesz_gt_memsz(void)
{
    struct loader_elf e;

    loader_elf_init(&e, 0);
    e.ph.p_memsz = e.ph.p_filesz - 1;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_INVALID, "p_filesz"));
}

static void test_wrong_kind(void)
{
    struct loader_elf e;

    loader_elf_init(&e, 0);
    e.eh.e_type = ET_DYN;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TYPE, "ET_EXEC"));
    loader_elf_init(&e, 0);
    e.eh.e_machine = EM_AARCH64;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TYPE, "x86-64"));
    loader_elf_init(&e, 0);
    e.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_TYPE, "little-endian"));
    loader_elf_init(&e, 0);
    e.eh.e_phentsize = 32;
    CU_ASSERT_TRUE(loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_INVALID,
                                "program header"));
    loader_elf_init(&e, 0);
    e.ph.p_type = PT_NOTE;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_INVALID, "PT_LOAD"));
    /* Entry outside every executable segment. */
    loader_elf_init(&e, 0);
    e.eh.e_entry = 0x200000;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE, "entry point"));
    loader_elf_init(&e, 0);
    e.ph.p_flags = PF_R | PF_W;
    CU_ASSERT_TRUE(
        loader_fails(&e, LOADER_ELF_LEN, SIM_ERROR_ELF_RANGE, "entry point"));
}

static uint64_t loader_get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_LE(v);
}

/* Walks the tables as the MMU would: returns the PDE for @la, or 0. */
static uint64_t loader_walk(const uint8_t *ram, uint64_t cr3, uint64_t la)
{
    uint64_t e = loader_get64(ram + cr3 + ((la >> 39) & 511) * 8);

    if (!(e & 1)) {
        return 0;
    }
    e = loader_get64(ram + (e & ~UINT64_C(0xfff)) + ((la >> 30) & 511) * 8);
    if (!(e & 1) || (e & 0x80)) {
        return 0;
    }
    return loader_get64(ram + (e & ~UINT64_C(0xfff)) + ((la >> 21) & 511) * 8);
}

static void test_page_tables(void)
{
    static const uint64_t sizes[] = {
        UINT64_C(4) << 20,
        UINT64_C(64) << 20,
        (UINT64_C(1) << 30),
        (UINT64_C(1) << 30) + (UINT64_C(2) << 20),
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(sizes); i++) {
        uint64_t size = sizes[i];
        /* calloc: the untouched bulk stays unbacked. */
        uint8_t *ram = g_try_malloc0(size);
        uint64_t base = 0;
        uint64_t npd = (size + (UINT64_C(1) << 30) - 1) >> 30;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ram);
        CU_ASSERT_EQUAL(sim_guest_pt_size(size), (2 + npd) * 4096);
        CU_ASSERT_TRUE_FATAL(
            sim_guest_build_page_tables(ram, size, &base, NULL));
        CU_ASSERT_EQUAL(base, size - sim_guest_pt_size(size));
        CU_ASSERT_EQUAL(base % 4096, 0);
        /* First, middle and last 2 MiB page: identity, P|RW|US|PS. */
        for (int k = 0; k < 3; k++) {
            uint64_t mid = (size / 2) & ~UINT64_C(0x1fffff);
            uint64_t la = k == 0 ? 0 : k == 1 ? mid : size - (1u << 21);
            uint64_t pde = loader_walk(ram, base, la + 0x1234);

            CU_ASSERT_EQUAL(pde, la | 0x87);
        }
        CU_ASSERT_EQUAL(loader_walk(ram, base, size - 1),
                        ((size - 1) & ~UINT64_C(0x1fffff)) | 0x87);
        /* Nothing maps past the end of RAM. */
        CU_ASSERT_EQUAL(loader_walk(ram, base, size), 0);
        g_free(ram);
    }
}

static void test_page_tables_bad_size(void)
{
    static const uint64_t bad[] = {
        UINT64_C(2) << 20,
        UINT64_C(5) << 20,
        (UINT64_C(4) << 20) + 4096,
        (UINT64_C(16) << 30) + (UINT64_C(2) << 20),
    };
    uint8_t small[64];
    uint64_t base;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(bad); i++) {
        g_autoptr(GError) err = NULL;

        /* Rejected before the buffer is touched. */
        CU_ASSERT_FALSE(
            sim_guest_build_page_tables(small, bad[i], &base, &err));
        CU_ASSERT_TRUE(g_error_matches(err, SIM_ERROR, SIM_ERROR_MACHINE));
    }
}

static CU_TestInfo loader_tests[] = {
    {"a good ELF loads, bss zeroed", test_good_elf},
    {"missing file", test_missing_file},
    {"not an ELF", test_not_elf},
    {"32-bit ELF", test_elf32},
    {"truncated file", test_truncated},
    {"segment out of RAM or in the page tables", test_out_of_ram},
    {"p_filesz > p_memsz", test_filesz_gt_memsz},
    {"wrong type, machine, layout or entry", test_wrong_kind},
    {"identity page tables at the top of RAM", test_page_tables},
    {"page tables refuse bad RAM sizes", test_page_tables_bad_size},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_loader_suites[] = {
    {"sim/loader", loader_suite_init, loader_suite_clean, NULL, NULL,
     loader_tests},
    CU_SUITE_INFO_NULL,
};
