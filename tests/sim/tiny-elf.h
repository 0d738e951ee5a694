/*
 * tests/sim/tiny-elf.h: writes minimal guest programs for the tests of
 * sim/: an ELF64 x86-64 ET_EXEC whose one PT_LOAD segment holds the given
 * machine code at TINY_ELF_BASE, which is also the entry point.
 */
#ifndef SIM_TESTS_SIM_TINY_ELF_H
#define SIM_TESTS_SIM_TINY_ELF_H

#include "sim/common.h"

#define TINY_ELF_BASE 0x100000

/*
 * Writes the program to @dir/@name.
 * Returns: its path (g_free).  Aborts the test binary if it cannot write.
 */
char *tiny_elf_write(const char *dir, const char *name, const uint8_t *code,
                     size_t len);

#endif /* SIM_TESTS_SIM_TINY_ELF_H */
