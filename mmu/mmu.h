/*
 * mmu/mmu.h: guest address translation.  For now the architectural 4-level
 * page walk of IA-32e paging (SDM 3A §4.5): 4 KiB, 2 MiB and 1 GiB pages,
 * P, R/W, U/S, XD, accessed and dirty bits, CR0.WP and EFER.NXE, and the
 * page-fault error code (SDM 3A §4.7).  EPT joins it in a later issue.
 */
#ifndef SIM_MMU_MMU_H
#define SIM_MMU_MMU_H

#include "sim/common.h"

/* Page-table entry bits (SDM 3A §4.5, tables 4-15 to 4-20). */
#define MMU_PTE_P (1ull << 0)
#define MMU_PTE_RW (1ull << 1)
#define MMU_PTE_US (1ull << 2)
#define MMU_PTE_PWT (1ull << 3)
#define MMU_PTE_PCD (1ull << 4)
#define MMU_PTE_A (1ull << 5)
#define MMU_PTE_D (1ull << 6)
#define MMU_PTE_PS (1ull << 7)
#define MMU_PTE_G (1ull << 8)
#define MMU_PTE_XD (1ull << 63)

/* Page-fault error code bits (SDM 3A §4.7). */
#define MMU_PFEC_P (1u << 0)
#define MMU_PFEC_W (1u << 1)
#define MMU_PFEC_U (1u << 2)
#define MMU_PFEC_RSVD (1u << 3)
#define MMU_PFEC_ID (1u << 4)

/* The physical-address width the model reports in CPUID 0x80000008. */
#define MMU_MAXPHYADDR 46

enum mmu_access {
    MMU_READ = 0,
    MMU_WRITE = 1,
    MMU_EXEC = 2,
};

/* The paging controls a walk depends on. */
struct mmu_paging {
    uint64_t cr0, cr3, cr4, efer;
};

/*
 * Reads or writes one 8-byte paging-structure entry at guest-physical
 * @pa.  Returns false if @pa is not RAM (the walk then faults as if the
 * entry were reserved: a model choice, documented in mmu/paging.c).
 */
typedef bool mmu_pte_read_fn(void *opaque, uint64_t pa, uint64_t *val);
typedef bool mmu_pte_write_fn(void *opaque, uint64_t pa, uint64_t val);

struct mmu_walk_result {
    uint64_t pa;          /* guest-physical address of the linear address */
    unsigned page_shift;  /* 12, 21 or 30 */
    bool writable;        /* a write at this CPL would be allowed */
    bool user;            /* user-mode accessible (U/S at every level) */
    bool executable;      /* instruction fetch allowed (no XD on the path) */
    bool dirty;           /* the final entry's D bit is set (after walk) */
    unsigned refs;        /* paging-structure entries read, for cost */
    uint32_t pf_error;    /* on failure: the #PF error code */
};

/*
 * Translates linear address @la for an access of kind @acc made at user
 * level (@user: CPL 3) or supervisor level.  Sets accessed bits on every
 * entry used and the dirty bit of the final entry on a write, as the
 * processor does, through @write.
 * Returns: true with @out filled, or false with out->pf_error set (the
 * caller raises #PF with CR2 = @la).
 */
bool mmu_walk(const struct mmu_paging *pg, uint64_t la, enum mmu_access acc,
              bool user, mmu_pte_read_fn *read, mmu_pte_write_fn *write,
              void *opaque, struct mmu_walk_result *out /* out */);

/* True if @la is canonical for 48-bit linear addresses. */
static inline bool mmu_canonical(uint64_t la)
{
    return (uint64_t)(((int64_t)la << 16) >> 16) == la;
}

#endif /* SIM_MMU_MMU_H */
