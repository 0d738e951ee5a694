/*
 * tests/sim/tiny-elf.c: minimal guest programs for the tests of sim/
 * (see tiny-elf.h).  The headers come from <elf.h>; the code follows them
 * in the file and is loaded at TINY_ELF_BASE.
 */
#include "sim/common.h"

#include <elf.h>
#include <string.h>

#include <glib.h>

#include "tests/sim/tiny-elf.h"

char *tiny_elf_write(const char *dir, const char *name, const uint8_t *code,
                     size_t len)
{
    const size_t hdrs = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
    g_autofree uint8_t *file = g_malloc0(hdrs + len);
    Elf64_Ehdr eh = {0};
    Elf64_Phdr ph = {0};
    char *path = g_build_filename(dir, name, NULL);

    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = TINY_ELF_BASE;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 1;
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W | PF_X;
    ph.p_offset = hdrs;
    ph.p_vaddr = TINY_ELF_BASE;
    ph.p_paddr = TINY_ELF_BASE;
    ph.p_filesz = len;
    ph.p_memsz = len;
    ph.p_align = 0x1000;
    memcpy(file, &eh, sizeof(eh));
    memcpy(file + sizeof(eh), &ph, sizeof(ph));
    memcpy(file + hdrs, code, len);
    g_assert(g_file_set_contents(path, (const char *)file, (gssize)(hdrs + len),
                                 NULL));
    return path;
}
