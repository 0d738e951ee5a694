/*
 * mmu/mmu.h: guest address translation: the architectural 4-level
 * page walk of IA-32e paging (SDM 3A §4.5): 4 KiB, 2 MiB and 1 GiB pages,
 * P, R/W, U/S, XD, accessed and dirty bits, CR0.WP and EFER.NXE, and the
 * page-fault error code (SDM 3A §4.7); and the EPT walk and builder below.
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
    /* Shift unsigned: a signed left shift of a negative value is undefined. */
    return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* ===================================================================== */
/* EPT: extended page tables (SDM 3C, "VMX Support for Address         */
/* Translation").  Implemented in mmu/ept.c.                            */
/* ===================================================================== */

/*
 * Kept inside this section so the declarations above stay untouched; the
 * builder reports host-side failures (allocation, bad arguments) with
 * GError (STYLE rule 10).
 */
#include <glib.h>

/* EPT entry bits (SDM 3C, "VMX Support for Address Translation"). */
#define MMU_EPT_R (1ull << 0)
#define MMU_EPT_W (1ull << 1)
#define MMU_EPT_X (1ull << 2)
#define MMU_EPT_RWX (MMU_EPT_R | MMU_EPT_W | MMU_EPT_X)
#define MMU_EPT_MT_SHIFT 3 /* bits 5:3 of a leaf: memory type */
#define MMU_EPT_MT_MASK (7ull << 3)
#define MMU_EPT_IPAT (1ull << 6) /* leaf: ignore guest PAT */
#define MMU_EPT_PS (1ull << 7)   /* PDPTE/PDE: maps a 1 GiB/2 MiB page */
#define MMU_EPT_A (1ull << 8)    /* accessed, when EPTP bit 6 = 1 */
#define MMU_EPT_D (1ull << 9)    /* dirty (leaves), when EPTP bit 6 = 1 */
#define MMU_EPT_SUPPRESS_VE (1ull << 63)

/* EPT memory types (leaf bits 5:3 and EPTP bits 2:0); 2, 3, 7 reserved. */
#define MMU_EPT_MT_UC 0u
#define MMU_EPT_MT_WC 1u
#define MMU_EPT_MT_WT 4u
#define MMU_EPT_MT_WP 5u
#define MMU_EPT_MT_WB 6u

/* EPT pointer (VMCS field 0x201A). */
#define MMU_EPTP_MT_MASK 0x7ull     /* bits 2:0: paging-structure type */
#define MMU_EPTP_WALK_4 (3ull << 3) /* bits 5:3: walk length - 1 */
#define MMU_EPTP_WALK_MASK (7ull << 3)
#define MMU_EPTP_AD (1ull << 6)  /* enable accessed and dirty flags */
#define MMU_EPTP_SSS (1ull << 7) /* supervisor shadow stack: not modelled */

/*
 * The IA32_VMX_EPT_VPID_CAP (MSR 0x48C) bits that describe what
 * mmu_ept_walk() implements.  The VMX code ORs MMU_EPT_CAP_WALK into the
 * MSR it reports (and adds the INVEPT/INVVPID bits it implements), so the
 * advertised and the modelled EPT agree.  Not advertised: 5-level walks
 * (bit 7), advanced EPT-violation information (bit 22), MBEC, sub-page
 * write permission, supervisor shadow-stack control.
 */
#define MMU_EPT_CAP_EXEC_ONLY (1ull << 0) /* execute-only entries allowed */
#define MMU_EPT_CAP_WALK_4 (1ull << 6)    /* 4-level walk */
#define MMU_EPT_CAP_UC (1ull << 8)        /* EPTP memory type UC */
#define MMU_EPT_CAP_WB (1ull << 14)       /* EPTP memory type WB */
#define MMU_EPT_CAP_2M (1ull << 16)       /* 2 MiB pages */
#define MMU_EPT_CAP_1G (1ull << 17)       /* 1 GiB pages */
#define MMU_EPT_CAP_AD (1ull << 21)       /* accessed and dirty flags */
#define MMU_EPT_CAP_WALK                                                       \
    (MMU_EPT_CAP_EXEC_ONLY | MMU_EPT_CAP_WALK_4 | MMU_EPT_CAP_UC |             \
     MMU_EPT_CAP_WB | MMU_EPT_CAP_2M | MMU_EPT_CAP_1G | MMU_EPT_CAP_AD)

/* EPT-violation exit qualification (exit reason 48), bits 0..5. */
#define MMU_EPT_QUAL_READ (1ull << 0)  /* the access was a data read */
#define MMU_EPT_QUAL_WRITE (1ull << 1) /* the access was a data write */
#define MMU_EPT_QUAL_FETCH (1ull << 2) /* the access was a fetch */
#define MMU_EPT_QUAL_R (1ull << 3)     /* translation allowed reads */
#define MMU_EPT_QUAL_W (1ull << 4)     /* translation allowed writes */
#define MMU_EPT_QUAL_X (1ull << 5)     /* translation allowed fetches */
#define MMU_EPT_QUAL_PERM_SHIFT 3

struct mmu_ept_result {
    uint64_t hpa;        /* machine-physical address; 0 on failure */
    unsigned page_shift; /* 12, 21 or 30; 0 on failure */
    bool readable, writable, executable; /* R/W/X ANDed over the walk */
    bool misconfig; /* on failure: misconfiguration, else violation */
    /*
     * Bits 3..5 of the EPT-violation qualification, in place (already
     * shifted): the AND of R/W/X over the levels walked.  0 when a
     * not-present entry stopped the walk, and 0 on misconfiguration.
     */
    uint64_t qualification_perm;
    unsigned refs; /* EPT entries read, for cost */
};

/*
 * Translates guest-physical @gpa through the EPT paging structures rooted
 * at @eptp for an access of kind @acc, reading (and, for A/D, writing)
 * machine-physical entries through @read and @write with @opaque.  This is
 * the walk of VMX non-root operation; it runs on every software-TLB miss.
 * @eptp must satisfy mmu_eptp_valid() (VM entry checks it).  Only bits
 * 47:0 of @gpa are used; a guest-physical address never exceeds
 * MMU_MAXPHYADDR bits.  When EPTP bit 6 is set, a successful walk sets A on
 * every entry used and D on the leaf for MMU_WRITE; the caller passes
 * MMU_WRITE for guest paging-structure accesses in that case (the SDM
 * treats them as writes when A/D flags are enabled).  A translation cached
 * after a read with A/D enabled must be walked again before the first
 * write, so that D is set.
 * Returns: true with @out filled; false with out->misconfig set (EPT
 * misconfiguration, exit 49) or clear (EPT violation, exit 48, see
 * mmu_ept_violation_qualification()).
 */
bool mmu_ept_walk(uint64_t eptp, uint64_t gpa, enum mmu_access acc,
                  mmu_pte_read_fn *read, mmu_pte_write_fn *write, void *opaque,
                  struct mmu_ept_result *out /* out */);

/*
 * Builds bits 0..5 of the EPT-violation exit qualification for a failed
 * walk @r of an access of kind @acc: bit 0 read, 1 write, 2 fetch, and
 * bits 3..5 from the walk.  The CPU adds bits 7 and 8 (guest-linear
 * address information) and bit 12 (NMI unblocking) itself.
 * Returns: the qualification bits.
 */
uint64_t mmu_ept_violation_qualification(enum mmu_access acc,
                                         const struct mmu_ept_result *r);

/*
 * Checks an EPT pointer as VM entry does: memory type UC or WB, 4-level
 * walk, bit 7 (supervisor shadow stack, not supported) and bits 11:8 and
 * 63:MMU_MAXPHYADDR zero.  Bit 6 (A/D) may be set.
 * Returns: true if @eptp is valid.
 */
bool mmu_eptp_valid(uint64_t eptp);

/* The mmu module's error domain (used by the EPT builder). */
#define MMU_ERROR (mmu_error_quark())
GQuark mmu_error_quark(void);

enum mmu_error {
    MMU_ERROR_UNALIGNED, /* address or size not 4 KiB aligned */
    MMU_ERROR_RANGE,     /* empty, wrapping or beyond MMU_MAXPHYADDR */
    MMU_ERROR_INVALID,   /* permissions or memory type not allowed */
    MMU_ERROR_NOMEM,     /* the page allocator failed */
};

/*
 * The VMM's page allocator: returns the machine-physical address of a
 * 4 KiB-aligned page below 2^MMU_MAXPHYADDR (the builder zeroes it), or
 * MMU_EPT_NO_PAGE if none is left.
 */
#define MMU_EPT_NO_PAGE UINT64_MAX
typedef uint64_t mmu_ept_alloc_fn(void *opaque);

/* Returns a host pointer to the 4 KiB machine page at @hpa, or NULL. */
typedef uint8_t *mmu_ept_page_fn(void *opaque, uint64_t hpa);

/*
 * Builds EPT paging structures in machine memory for a VMM.  The builder
 * never frees a table page (it has no free callback): an unmapped range
 * keeps its empty tables, and a 2 MiB mapping over a range already split
 * into 4 KiB pages fills the existing page table instead of orphaning it.
 * It flushes no TLB: after changing live mappings the VMM must INVEPT.
 */
struct mmu_ept_builder;

/*
 * Creates a builder and allocates its PML4 table with @alloc_page;
 * @page_ptr gives host access to pages @alloc_page returned.
 * Returns: a builder owned by the caller (mmu_ept_builder_free), or NULL
 * with @error set (MMU_ERROR_NOMEM).
 */
struct mmu_ept_builder *mmu_ept_builder_new(mmu_ept_alloc_fn *alloc_page,
                                            mmu_ept_page_fn *page_ptr,
                                            void *opaque, GError **error);

/* Frees the builder; the machine pages stay with the allocator's owner. */
void mmu_ept_builder_free(struct mmu_ept_builder *b);

/*
 * Maps guest-physical [@gpa, @gpa + @size) to machine-physical
 * [@hpa, @hpa + @size) with permissions @perms (MMU_EPT_R | MMU_EPT_W |
 * MMU_EPT_X; execute-only allowed, write without read refused) and memory
 * type @memtype (MMU_EPT_MT_WB for RAM, MMU_EPT_MT_UC for MMIO), replacing
 * any earlier mapping.  Uses a 2 MiB page wherever both addresses are
 * 2 MiB aligned, the rest of the range covers it and the slot is not
 * already split into 4 KiB pages; 4 KiB pages otherwise.  All three
 * values must be 4 KiB aligned and both ranges below 2^MMU_MAXPHYADDR.
 * Returns: true, or false with @error set; arguments are checked before
 * anything changes, but an allocation failure may leave a prefix mapped.
 */
bool mmu_ept_map(struct mmu_ept_builder *b, uint64_t gpa, uint64_t hpa,
                 uint64_t size, unsigned perms, unsigned memtype,
                 GError **error);

/*
 * Makes guest-physical [@gpa, @gpa + @size) not present (accesses there
 * cause EPT violations: how MMIO regions are made to trap), splitting a
 * 2 MiB page that the range covers only in part.
 * Returns: true, or false with @error set (bad range, or no page for a
 * split; the range may then be partly unmapped).
 */
bool mmu_ept_unmap(struct mmu_ept_builder *b, uint64_t gpa, uint64_t size,
                   GError **error);

/*
 * Misconfigures the 4 KiB leaf for @gpa (its permissions become write
 * without read, keeping its address and memory type), creating tables or
 * splitting a 2 MiB page as needed: any access there causes an EPT
 * misconfiguration, for tests and the VMM's "misconfigured MMIO" option.
 * mmu_ept_map() or mmu_ept_unmap() of the page undoes it.
 * Returns: true, or false with @error set.
 */
bool mmu_ept_set_misconfig(struct mmu_ept_builder *b, uint64_t gpa,
                           GError **error);

/*
 * Returns: the EPT pointer for the builder's tables: WB paging-structure
 * accesses, 4-level walk, A/D flags enabled if @ad_enable.
 */
uint64_t mmu_ept_builder_eptp(const struct mmu_ept_builder *b, bool ad_enable);

#endif /* SIM_MMU_MMU_H */
