/*
 * tests/hostile/hostile.h: the fixed guest-physical addresses the hostile
 * guests and their test share.  Included by the guests' assembly
 * (__ASSEMBLER__) and by tests/hostile/test-hostile.c.
 *
 * Guest RAM is zero-filled apart from the program (linked at 1 MiB) and
 * the page tables (at the top), so the first 1 MiB is free: the test
 * writes a guest's parameters at HOSTILE_PARAM before the run, the guest
 * leaves results at HOSTILE_RESULT for the test to read after it, and
 * HOSTILE_PD_SCRATCH is a zeroed page a guest may use as a page directory.
 */
#ifndef SIM_TESTS_HOSTILE_HOSTILE_H
#define SIM_TESTS_HOSTILE_HOSTILE_H

#define HOSTILE_PARAM 0x10000      /* qwords: parameter 0, 1, ... */
#define HOSTILE_RESULT 0x10100     /* qwords: what the guest reports */
#define HOSTILE_PD_SCRATCH 0x20000 /* a free 4 KiB page */

/* Result slots (byte offsets from HOSTILE_RESULT). */
#define HOSTILE_R_VALUE 0x00 /* a guest-defined figure (a count) */
#define HOSTILE_R_RIP 0x08   /* a guest-defined instruction address */
#define HOSTILE_R_VEC 0x80   /* the fault catcher: vector */
#define HOSTILE_R_ERR 0x88   /* error code (0 if the vector has none) */
#define HOSTILE_R_FRIP 0x90  /* RIP in the exception frame */
#define HOSTILE_R_CR2 0x98
#define HOSTILE_R_RCX 0xa0   /* RCX, RSI, RDI when the fault was taken */
#define HOSTILE_R_RSI 0xa8
#define HOSTILE_R_RDI 0xb0

/* The fault catcher exits with this plus the vector. */
#define HOSTILE_FAULT_STATUS 0x100

#ifdef __ASSEMBLER__
/* The guest's entry point, first in the image (guest.ld: .text.entry). */
#define HOSTILE_ENTRY                                                          \
    .section .text.entry, "ax";                                                \
    .globl _start;                                                             \
    _start:

/* FAIL_IF cc, status: if condition cc holds, exit with @status. */
.macro FAIL_IF cc, status
    j\cc 8f
    jmp 9f
8:  mov $\status, %eax
    jmp exit_eax
9:
.endm
#endif

#endif /* SIM_TESTS_HOSTILE_HOSTILE_H */
