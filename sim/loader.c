/*
 * sim/loader.c: putting a guest program into guest RAM, per the guest ABI
 * (README, "Guest ABI").  The ELF loader trusts nothing in the file: every
 * header field is checked against the file size and guest RAM before a
 * byte is copied, with overflow-safe arithmetic, and each kind of problem
 * gets its own error code and a message that names the file.  The
 * identity-mapped page tables of the ABI are also built here.
 */
#include "sim/common.h"

#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "sim/sim.h"

#define LOADER_PAGE 4096u
#define LOADER_2M (UINT64_C(1) << 21)
#define LOADER_1G (UINT64_C(1) << 30)
/* Paging-structure entry bits (SDM 3A §4.5, tables 4-15 to 4-18). */
#define LOADER_PTE_P (UINT64_C(1) << 0)
#define LOADER_PTE_RW (UINT64_C(1) << 1)
#define LOADER_PTE_US (UINT64_C(1) << 2)
#define LOADER_PTE_PS (UINT64_C(1) << 7)

static bool loader_check_header(const char *path, const uint8_t *data,
                                size_t size, Elf64_Ehdr *eh /* out */,
                                GError **error)
{
    if (size == 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_NOT_ELF,
                    "%s: not an ELF file (the file is empty)", path);
        return false;
    }
    if (size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_NOT_ELF,
                    "%s: not an ELF file (it does not start with the "
                    "bytes 7f 45 4c 46, \"\\177ELF\")",
                    path);
        return false;
    }
    if (size > EI_CLASS && data[EI_CLASS] == ELFCLASS32) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_CLASS,
                    "%s: is a 32-bit ELF (ELFCLASS32); iovsim runs "
                    "64-bit x86-64 programs (ELFCLASS64)",
                    path);
        return false;
    }
    if (size > EI_CLASS && data[EI_CLASS] != ELFCLASS64) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_CLASS,
                    "%s: unknown ELF class %u; iovsim runs 64-bit x86-64 "
                    "programs (ELFCLASS64)",
                    path, data[EI_CLASS]);
        return false;
    }
    if (size < sizeof(*eh)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TRUNCATED,
                    "%s: truncated: %zu bytes, shorter than the %zu-byte "
                    "ELF64 header",
                    path, size, sizeof(*eh));
        return false;
    }
    memcpy(eh, data, sizeof(*eh));
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TYPE,
                    "%s: not little-endian (EI_DATA %u)", path,
                    eh->e_ident[EI_DATA]);
        return false;
    }
    if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: unknown ELF version %u", path,
                    eh->e_ident[EI_VERSION]);
        return false;
    }
    if (eh->e_machine != EM_X86_64) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TYPE,
                    "%s: built for ELF machine %u, not x86-64 (%u)", path,
                    eh->e_machine, EM_X86_64);
        return false;
    }
    if (eh->e_type != ET_EXEC) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TYPE,
                    "%s: ELF type %u is not ET_EXEC (a position-dependent "
                    "executable; ET_DYN means PIE or shared object: link "
                    "with -static -no-pie)",
                    path, eh->e_type);
        return false;
    }
    if (eh->e_phnum == 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: no program headers", path);
        return false;
    }
    if (eh->e_phnum == PN_XNUM || eh->e_phentsize != sizeof(Elf64_Phdr)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: unsupported program header table (%u entries of "
                    "%u bytes; expected entries of %zu bytes)",
                    path, eh->e_phnum, eh->e_phentsize, sizeof(Elf64_Phdr));
        return false;
    }
    if (eh->e_phoff > size ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TRUNCATED,
                    "%s: truncated: the program header table at offset "
                    "%" PRIu64 " (%u entries) runs past the end of the "
                    "file (%zu bytes)",
                    path, (uint64_t)eh->e_phoff, eh->e_phnum, size);
        return false;
    }
    return true;
}

/* Checks PT_LOAD segment @idx against the file and usable RAM. */
static bool loader_check_segment(const char *path, unsigned idx,
                                 const Elf64_Phdr *ph, size_t size,
                                 uint64_t ram_size, uint64_t load_limit,
                                 GError **error)
{
    uint64_t end;

    if (ph->p_filesz > ph->p_memsz) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: segment %u: p_filesz 0x%" PRIx64 " is larger than "
                    "p_memsz 0x%" PRIx64,
                    path, idx, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
        return false;
    }
    if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_TRUNCATED,
                    "%s: truncated: segment %u's bytes [0x%" PRIx64
                    ", +0x%" PRIx64 ") run past the end of the file "
                    "(%zu bytes)",
                    path, idx, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz,
                    size);
        return false;
    }
    if (ph->p_memsz - 1 > UINT64_MAX - ph->p_paddr) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: segment %u: address 0x%" PRIx64 " + size 0x%" PRIx64
                    " wraps around",
                    path, idx, (uint64_t)ph->p_paddr, (uint64_t)ph->p_memsz);
        return false;
    }
    end = ph->p_paddr + (ph->p_memsz - 1); /* last byte */
    if (end >= ram_size) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_RANGE,
                    "%s: segment %u [0x%" PRIx64 "-0x%" PRIx64 "] lies "
                    "outside guest RAM [0-0x%" PRIx64 "] (%" PRIu64 " MiB; "
                    "see machine.memory)",
                    path, idx, (uint64_t)ph->p_paddr, end, ram_size - 1,
                    ram_size >> 20);
        return false;
    }
    if (end >= load_limit) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_RANGE,
                    "%s: segment %u [0x%" PRIx64 "-0x%" PRIx64 "] overlaps "
                    "the page tables at the top of guest RAM [0x%" PRIx64
                    "-0x%" PRIx64 "]",
                    path, idx, (uint64_t)ph->p_paddr, end, load_limit,
                    ram_size - 1);
        return false;
    }
    return true;
}

static bool loader_parse(const char *path, const uint8_t *data, size_t size,
                         uint8_t *ram, uint64_t ram_size, uint64_t load_limit,
                         struct sim_elf_image *out, GError **error)
{
    Elf64_Ehdr eh;
    GArray *segs;
    bool entry_ok = false;

    if (!loader_check_header(path, data, size, &eh, error)) {
        return false;
    }
    segs = g_array_new(FALSE, FALSE, sizeof(struct sim_elf_segment));
    /* Check everything before copying anything. */
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        struct sim_elf_segment seg;

        memcpy(&ph, data + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) {
            continue;
        }
        if (!loader_check_segment(path, i, &ph, size, ram_size, load_limit,
                                  error)) {
            g_array_free(segs, TRUE);
            return false;
        }
        if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_paddr &&
            eh.e_entry - ph.p_paddr < ph.p_memsz) {
            entry_ok = true;
        }
        seg.paddr = ph.p_paddr;
        seg.filesz = ph.p_filesz;
        seg.memsz = ph.p_memsz;
        g_array_append_val(segs, seg);
    }
    if (segs->len == 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_INVALID,
                    "%s: no PT_LOAD segment to load", path);
        g_array_free(segs, TRUE);
        return false;
    }
    if (!entry_ok) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_ELF_RANGE,
                    "%s: entry point 0x%" PRIx64 " is not inside an "
                    "executable PT_LOAD segment (by p_paddr)",
                    path, (uint64_t)eh.e_entry);
        g_array_free(segs, TRUE);
        return false;
    }
    /* All checked: offsets are in the file, ranges in usable RAM. */
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;

        memcpy(&ph, data + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_LOAD && ph.p_memsz != 0) {
            memcpy(ram + ph.p_paddr, data + ph.p_offset, ph.p_filesz);
            memset(ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        }
    }
    out->entry = eh.e_entry;
    out->nsegments = segs->len;
    out->segments = (struct sim_elf_segment *)g_array_free(segs, FALSE);
    return true;
}

bool sim_elf_load(const char *path, uint8_t *ram, uint64_t ram_size,
                  uint64_t load_limit, struct sim_elf_image *out,
                  GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree gchar *data = NULL;
    gsize size = 0;

    memset(out, 0, sizeof(*out));
    g_assert(load_limit <= ram_size);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_FILE,
                    "%s: guest program not found (no such file)", path);
        return false;
    }
    if (!g_file_get_contents(path, &data, &size, &local)) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_FILE,
                    "%s: cannot read guest program: %s", path, local->message);
        return false;
    }
    return loader_parse(path, (const uint8_t *)data, size, ram, ram_size,
                        load_limit, out, error);
}

void sim_elf_image_clear(struct sim_elf_image *image)
{
    g_free(image->segments);
    memset(image, 0, sizeof(*image));
}

/* ---- Page tables of the guest ABI ---- */

/* The end of the addresses RAM reaches in the memory map. */
static uint64_t loader_ram_top(uint64_t ram_size)
{
    uint64_t low = sim_low_ram(ram_size);

    return ram_size > low ? SIM_HIGH_RAM + (ram_size - low) : low;
}

uint64_t sim_guest_pt_size(uint64_t ram_size)
{
    uint64_t npd = (loader_ram_top(ram_size) + LOADER_1G - 1) / LOADER_1G;

    return (2 + npd) * LOADER_PAGE;
}

static void loader_put64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

bool sim_guest_build_page_tables(uint8_t *ram, uint64_t ram_size,
                                 uint64_t *pt_base, GError **error)
{
    const uint64_t table = LOADER_PTE_P | LOADER_PTE_RW | LOADER_PTE_US;
    uint64_t npd;
    uint64_t base;
    uint8_t *pml4, *pdpt, *pd;

    if (ram_size < SIM_RAM_MIN || ram_size > SIM_RAM_MAX ||
        ram_size % SIM_RAM_GRANULE != 0) {
        g_set_error(error, SIM_ERROR, SIM_ERROR_MACHINE,
                    "guest RAM of %" PRIu64 " bytes: the guest ABI needs a "
                    "multiple of 2 MiB from 4 MiB to 16 GiB",
                    ram_size);
        return false;
    }
    npd = (loader_ram_top(ram_size) + LOADER_1G - 1) / LOADER_1G;
    base = sim_low_ram(ram_size) - sim_guest_pt_size(ram_size);
    pml4 = ram + base;
    pdpt = pml4 + LOADER_PAGE;
    pd = pdpt + LOADER_PAGE;
    memset(pml4, 0, sim_guest_pt_size(ram_size));
    /* PML4[0] -> PDPT; PDPT[i] -> PD i; the PDs are one array of PDEs. */
    loader_put64(pml4, (base + LOADER_PAGE) | table);
    for (uint64_t i = 0; i < npd; i++) {
        loader_put64(pdpt + i * 8, (base + (2 + i) * LOADER_PAGE) | table);
    }
    /* Only RAM is mapped: the hole between stays not present. */
    for (uint64_t j = 0; j < loader_ram_top(ram_size) / LOADER_2M; j++) {
        uint64_t pa = j * LOADER_2M;

        if (pa < sim_low_ram(ram_size) || pa >= SIM_HIGH_RAM) {
            loader_put64(pd + j * 8, pa | table | LOADER_PTE_PS);
        }
    }
    *pt_base = base;
    return true;
}
