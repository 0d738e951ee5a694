/*
 * mmu/ept.c: Intel extended page tables (SDM 3C, "VMX Support for Address
 * Translation").  Owns two things: the 4-level EPT walk the CPU performs
 * in VMX non-root operation to turn a guest-physical address into a
 * machine-physical one (4 KiB, 2 MiB and 1 GiB pages, R/W/X ANDed over the
 * levels, execute-only entries, misconfiguration versus violation, the
 * accessed and dirty flags when EPTP bit 6 is set), and a small builder a
 * VMM uses to lay out EPT tables in machine memory.
 *
 * The walk runs on every software-TLB miss in a VM, so like mmu/paging.c
 * it reads each entry once, keeps the per-level checks in two small
 * constant tables and writes back only entries whose A or D flag changes.
 *
 * Model choices, where the SDM leaves freedom or the model simplifies:
 *  - Execute-only entries (bits 2:0 = 100b) are allowed
 *    (IA32_VMX_EPT_VPID_CAP bit 0 = 1, MMU_EPT_CAP_EXEC_ONLY).  1 GiB pages
 *    are supported, so bit 7 of a PDPTE is never reserved.
 *  - Mode-based execute control (bit 10), sub-page write permission,
 *    #VE (bit 63), paging-write and guest-paging verification are not
 *    modelled: those bits are ignored, as are bits 62:52 and 11.
 *  - A walk that fails changes no A or D flag.  A real processor may set
 *    A in upper-level entries before it finds the violation; software
 *    must not rely on either behaviour.
 *  - An entry whose machine address is not RAM (the read callback returns
 *    false) is a misconfiguration: what all-ones from an unclaimed bus
 *    read would give (bits 51:N set), and it never aborts.
 *  - The A/D update is a read followed by a plain write, as in
 *    mmu/paging.c; the write callback's result is ignored.
 *  - out->refs counts every entry the walk tried to read, including one
 *    whose read failed or that stopped the walk.
 */
#include "sim/common.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "mmu/mmu.h"

#define EPT_LEVELS 4
#define EPT_PTE_LEVEL 3 /* level index of the PTE; 0 is the PML4E */
#define EPT_ENTRIES 512
#define EPT_PAGE_SIZE 0x1000ull
#define EPT_2M (1ull << 21)

/* EPTP bits N-1:12: the PML4 table (SDM 3C, "EPT pointer"). */
#define EPT_ADDR_MASK (((1ull << MMU_MAXPHYADDR) - 1) & ~0xfffull)

/* Bits 51:N, reserved in every entry. */
#define EPT_RSVD_PHYS (0x000fffffffffffffull & ~((1ull << MMU_MAXPHYADDR) - 1))

/* Leaf memory types 2, 3 and 7 are reserved: one bit per type. */
#define EPT_BAD_MEMTYPES ((1u << 2) | (1u << 3) | (1u << 7))

/*
 * Reserved bits by level (0 = PML4E) besides bits 51:N (SDM 3C, "VMX
 * Support for Address Translation", EPT entry formats; KVM
 * reset_rsvds_bits_mask_ept).  A table entry reserves bits 7:3 in a PML4E
 * (so a PML4E never maps a page) and 6:3 below; a 1 GiB leaf reserves
 * 29:12 and a 2 MiB leaf 20:12; a PTE reserves nothing (bit 7 ignored).
 */
static const uint64_t ept_rsvd_table[EPT_LEVELS] = {0xf8ull, 0x78ull, 0x78ull,
                                                    0};
static const uint64_t ept_rsvd_leaf[EPT_LEVELS] = {0, 0x3ffff000ull,
                                                   0x1ff000ull, 0};

/* Bit 7 makes an entry a leaf only in a PDPTE or a PDE. */
static const uint64_t ept_ps_bit[EPT_LEVELS] = {0, MMU_EPT_PS, MMU_EPT_PS, 0};

/* The walk and the qualification use 1 << acc as the R/W/X bit. */
_Static_assert(MMU_READ == 0 && MMU_WRITE == 1 && MMU_EXEC == 2,
               "enum mmu_access must match EPT bits 0..2");

static inline unsigned ept_shift(unsigned level)
{
    return 39 - 9 * level;
}

static bool ept_walk_fail(struct mmu_ept_result *out, unsigned refs,
                          bool misconfig, uint64_t perm)
{
    out->hpa = 0;
    out->page_shift = 0;
    out->readable = false;
    out->writable = false;
    out->executable = false;
    out->misconfig = misconfig;
    out->qualification_perm = perm << MMU_EPT_QUAL_PERM_SHIFT;
    out->refs = refs;
    return false;
}

bool mmu_ept_walk(uint64_t eptp, uint64_t gpa, enum mmu_access acc,
                  mmu_pte_read_fn *read, mmu_pte_write_fn *write, void *opaque,
                  struct mmu_ept_result *out /* out */)
{
    uint64_t ent[EPT_LEVELS];    /* entries as read, PML4E first */
    uint64_t ent_pa[EPT_LEVELS]; /* their machine-physical addresses */
    uint64_t base = eptp & EPT_ADDR_MASK;
    uint64_t perm = MMU_EPT_RWX; /* R/W/X ANDed over the path */
    uint64_t leaf, frame;
    unsigned level = 0;
    unsigned shift;

    for (;;) {
        uint64_t pa, e, mask;
        bool is_leaf;

        shift = ept_shift(level);
        pa = base + ((gpa >> shift) & 0x1ff) * 8;
        if (SIM_UNLIKELY(!read(opaque, pa, &e))) {
            return ept_walk_fail(out, level + 1, true, 0);
        }
        /*
         * An entry is present if any of bits 2:0 is set; nothing else is
         * checked in a not-present entry.  W without R (bits 2:0 = 010b
         * or 110b) is a misconfiguration; X alone is allowed.
         */
        if (SIM_UNLIKELY(!(e & MMU_EPT_RWX))) {
            return ept_walk_fail(out, level + 1, false, 0);
        }
        is_leaf = level == EPT_PTE_LEVEL || (e & ept_ps_bit[level]);
        mask = EPT_RSVD_PHYS |
               (is_leaf ? ept_rsvd_leaf[level] : ept_rsvd_table[level]);
        if (SIM_UNLIKELY(
                (e & mask) || (e & (MMU_EPT_R | MMU_EPT_W)) == MMU_EPT_W ||
                (is_leaf && ((EPT_BAD_MEMTYPES >>
                              ((e & MMU_EPT_MT_MASK) >> MMU_EPT_MT_SHIFT)) &
                             1)))) {
            return ept_walk_fail(out, level + 1, true, 0);
        }
        ent[level] = e;
        ent_pa[level] = pa;
        perm &= e;
        if (is_leaf) {
            break;
        }
        base = e & EPT_ADDR_MASK;
        level++;
    }

    /*
     * Reads need R, writes W and fetches X in every entry of the path; a
     * violation reports the AND in qualification bits 3..5.  MMU_READ,
     * MMU_WRITE and MMU_EXEC are 0, 1 and 2: bit @acc of the permissions.
     */
    perm &= MMU_EPT_RWX;
    if (SIM_UNLIKELY(!(perm & (1ull << acc)))) {
        ept_walk_fail(out, level + 1, false, perm);
        out->readable = (perm & MMU_EPT_R) != 0;
        out->writable = (perm & MMU_EPT_W) != 0;
        out->executable = (perm & MMU_EPT_X) != 0;
        return false;
    }

    /*
     * Accessed and dirty flags, only with EPTP bit 6 = 1: A on every
     * entry used, D on the leaf for a write.
     */
    leaf = ent[level];
    if (eptp & MMU_EPTP_AD) {
        for (unsigned i = 0; i < level; i++) {
            if (!(ent[i] & MMU_EPT_A)) {
                write(opaque, ent_pa[i], ent[i] | MMU_EPT_A);
            }
        }
        leaf |= MMU_EPT_A | (acc == MMU_WRITE ? MMU_EPT_D : 0);
        if (leaf != ent[level]) {
            write(opaque, ent_pa[level], leaf);
        }
    }

    frame = (1ull << shift) - 1;
    out->hpa = (leaf & EPT_ADDR_MASK & ~frame) | (gpa & frame);
    out->page_shift = shift;
    out->readable = (perm & MMU_EPT_R) != 0;
    out->writable = (perm & MMU_EPT_W) != 0;
    out->executable = (perm & MMU_EPT_X) != 0;
    out->misconfig = false;
    out->qualification_perm = perm << MMU_EPT_QUAL_PERM_SHIFT;
    out->refs = level + 1;
    return true;
}

uint64_t mmu_ept_violation_qualification(enum mmu_access acc,
                                         const struct mmu_ept_result *r)
{
    /* Bits 0..2 are one-hot in the access kind, as in the walk. */
    return (1ull << acc) | (r->qualification_perm &
                            (MMU_EPT_QUAL_R | MMU_EPT_QUAL_W | MMU_EPT_QUAL_X));
}

bool mmu_eptp_valid(uint64_t eptp)
{
    uint64_t mt = eptp & MMU_EPTP_MT_MASK;

    /*
     * VM-entry checks on the EPTP (SDM 3C, "VM Entries", checks on
     * VMX controls): a memory type IA32_VMX_EPT_VPID_CAP allows (UC, WB),
     * a walk length it allows (4-level only), bit 6 only with A/D support
     * (advertised), bit 7 only with supervisor shadow-stack control (not
     * advertised), and bits 11:8 and 63:N zero.
     */
    return (mt == MMU_EPT_MT_UC || mt == MMU_EPT_MT_WB) &&
           (eptp & MMU_EPTP_WALK_MASK) == MMU_EPTP_WALK_4 &&
           (eptp & MMU_EPTP_SSS) == 0 && (eptp & 0xf00ull) == 0 &&
           (eptp >> MMU_MAXPHYADDR) == 0;
}

/* --- The builder ------------------------------------------------------ */

G_DEFINE_QUARK(mmu - error - quark, mmu_error)

struct mmu_ept_builder {
    mmu_ept_alloc_fn *alloc_page;
    mmu_ept_page_fn *page_ptr;
    void *opaque;
    uint64_t pml4; /* machine-physical address of the PML4 table */
};

/* Permission bits a table entry gets: the leaves restrict access. */
#define EPT_TABLE_PERMS MMU_EPT_RWX

/* Limit of both guest- and machine-physical addresses. */
#define EPT_ADDR_LIMIT (1ull << MMU_MAXPHYADDR)

static uint64_t ept_get(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static void ept_set(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Allocates and zeroes one table page; returns its address or NO_PAGE. */
static uint64_t ept_alloc_table(struct mmu_ept_builder *b, GError **error)
{
    uint64_t hpa = b->alloc_page(b->opaque);
    uint8_t *p;

    if (hpa == MMU_EPT_NO_PAGE) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_NOMEM,
                    "EPT: no machine page left for a table");
        return MMU_EPT_NO_PAGE;
    }
    p = (hpa & 0xfff) || hpa >= EPT_ADDR_LIMIT ? NULL
                                               : b->page_ptr(b->opaque, hpa);
    if (p == NULL) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_NOMEM,
                    "EPT: the allocator returned an unusable page 0x%" PRIx64,
                    hpa);
        return MMU_EPT_NO_PAGE;
    }
    memset(p, 0, EPT_PAGE_SIZE);
    return hpa;
}

/* Host pointer to the entry for @gpa at @level in the table at @table. */
static uint8_t *ept_entry(struct mmu_ept_builder *b, uint64_t table,
                          uint64_t gpa, unsigned level)
{
    uint8_t *t = b->page_ptr(b->opaque, table);

    g_assert(t != NULL); /* it returned this page before */
    return t + ((gpa >> ept_shift(level)) & 0x1ff) * 8;
}

static bool ept_is_leaf(uint64_t e, unsigned level)
{
    return level == EPT_PTE_LEVEL || (e & ept_ps_bit[level]);
}

/*
 * Replaces the 1 GiB or 2 MiB leaf at @p (an entry at @level 1 or 2) by a
 * table of 512 leaves one level down that map the same memory with the
 * same permissions, memory type and flags.
 */
static bool ept_split(struct mmu_ept_builder *b, uint8_t *p, unsigned level,
                      GError **error)
{
    uint64_t e = ept_get(p);
    uint64_t child_size = 1ull << ept_shift(level + 1);
    uint64_t frame = e & EPT_ADDR_MASK & ~((1ull << ept_shift(level)) - 1);
    uint64_t attrs = e & ~(EPT_ADDR_MASK | MMU_EPT_PS);
    uint64_t table;
    uint8_t *t;

    if (level + 1 != EPT_PTE_LEVEL) {
        attrs |= MMU_EPT_PS;
    }
    table = ept_alloc_table(b, error);
    if (table == MMU_EPT_NO_PAGE) {
        return false;
    }
    t = b->page_ptr(b->opaque, table);
    for (unsigned i = 0; i < EPT_ENTRIES; i++) {
        ept_set(t + i * 8, (frame + i * child_size) | attrs);
    }
    ept_set(p, table | EPT_TABLE_PERMS);
    return true;
}

/*
 * Returns a host pointer to the entry for @gpa at @level (2 = PDE, 3 =
 * PTE), allocating missing tables and splitting larger leaves above it.
 */
static uint8_t *ept_descend(struct mmu_ept_builder *b, uint64_t gpa,
                            unsigned level, GError **error)
{
    uint64_t table = b->pml4;

    for (unsigned l = 0; l < level; l++) {
        uint8_t *p = ept_entry(b, table, gpa, l);
        uint64_t e = ept_get(p);

        if (!(e & MMU_EPT_RWX)) {
            uint64_t t = ept_alloc_table(b, error);

            if (t == MMU_EPT_NO_PAGE) {
                return NULL;
            }
            e = t | EPT_TABLE_PERMS;
            ept_set(p, e);
        } else if (ept_is_leaf(e, l)) {
            if (!ept_split(b, p, l, error)) {
                return NULL;
            }
            e = ept_get(p);
        }
        table = e & EPT_ADDR_MASK;
    }
    return ept_entry(b, table, gpa, level);
}

/* Checks a 4 KiB-aligned, non-empty range below EPT_ADDR_LIMIT. */
static bool ept_check_range(const char *what, uint64_t addr, uint64_t size,
                            GError **error)
{
    if ((addr | size) & 0xfff) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_UNALIGNED,
                    "EPT: %s 0x%" PRIx64 " size 0x%" PRIx64
                    " not 4 KiB aligned",
                    what, addr, size);
        return false;
    }
    if (size == 0 || addr >= EPT_ADDR_LIMIT || size > EPT_ADDR_LIMIT - addr) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_RANGE,
                    "EPT: %s 0x%" PRIx64 " size 0x%" PRIx64
                    " empty or beyond %u address bits",
                    what, addr, size, MMU_MAXPHYADDR);
        return false;
    }
    return true;
}

struct mmu_ept_builder *mmu_ept_builder_new(mmu_ept_alloc_fn *alloc_page,
                                            mmu_ept_page_fn *page_ptr,
                                            void *opaque, GError **error)
{
    struct mmu_ept_builder *b = g_new0(struct mmu_ept_builder, 1);

    b->alloc_page = alloc_page;
    b->page_ptr = page_ptr;
    b->opaque = opaque;
    b->pml4 = ept_alloc_table(b, error);
    if (b->pml4 == MMU_EPT_NO_PAGE) {
        g_free(b);
        return NULL;
    }
    return b;
}

void mmu_ept_builder_free(struct mmu_ept_builder *b)
{
    g_free(b);
}

bool mmu_ept_map(struct mmu_ept_builder *b, uint64_t gpa, uint64_t hpa,
                 uint64_t size, unsigned perms, unsigned memtype,
                 GError **error)
{
    uint64_t end = gpa + size;

    if (!ept_check_range("gpa", gpa, size, error) ||
        !ept_check_range("hpa", hpa, size, error)) {
        return false;
    }
    if (perms == 0 || (perms & ~MMU_EPT_RWX) ||
        (perms & (MMU_EPT_R | MMU_EPT_W)) == MMU_EPT_W) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_INVALID,
                    "EPT: permissions 0x%x not allowed", perms);
        return false;
    }
    if (memtype > 7 || ((EPT_BAD_MEMTYPES >> memtype) & 1)) {
        g_set_error(error, MMU_ERROR, MMU_ERROR_INVALID,
                    "EPT: memory type %u reserved", memtype);
        return false;
    }

    while (gpa < end) {
        bool big = !((gpa | hpa) & (EPT_2M - 1)) && end - gpa >= EPT_2M;
        uint64_t leaf = hpa | perms | ((uint64_t)memtype << MMU_EPT_MT_SHIFT);
        uint8_t *p = ept_descend(b, gpa, big ? 2 : EPT_PTE_LEVEL, error);

        if (p == NULL) {
            return false;
        }
        if (big) {
            uint64_t e = ept_get(p);

            /* Fill an existing page table rather than orphan it. */
            if ((e & MMU_EPT_RWX) && !(e & MMU_EPT_PS)) {
                big = false;
                p = ept_entry(b, e & EPT_ADDR_MASK, gpa, EPT_PTE_LEVEL);
            } else {
                leaf |= MMU_EPT_PS;
            }
        }
        ept_set(p, leaf);
        gpa += big ? EPT_2M : EPT_PAGE_SIZE;
        hpa += big ? EPT_2M : EPT_PAGE_SIZE;
    }
    return true;
}

bool mmu_ept_unmap(struct mmu_ept_builder *b, uint64_t gpa, uint64_t size,
                   GError **error)
{
    uint64_t end = gpa + size;

    if (!ept_check_range("gpa", gpa, size, error)) {
        return false;
    }
    while (gpa < end) {
        uint64_t table = b->pml4;
        uint64_t next = end;

        for (unsigned level = 0; level < EPT_LEVELS; level++) {
            uint64_t span = 1ull << ept_shift(level);
            uint8_t *p = ept_entry(b, table, gpa, level);
            uint64_t e = ept_get(p);

            if (!(e & MMU_EPT_RWX)) {
                next = (gpa | (span - 1)) + 1; /* nothing mapped here */
                break;
            }
            if (ept_is_leaf(e, level)) {
                if (!(gpa & (span - 1)) && end - gpa >= span) {
                    ept_set(p, 0);
                    next = gpa + span;
                    break;
                }
                if (!ept_split(b, p, level, error)) {
                    return false;
                }
                e = ept_get(p);
            }
            table = e & EPT_ADDR_MASK;
        }
        gpa = next;
    }
    return true;
}

bool mmu_ept_set_misconfig(struct mmu_ept_builder *b, uint64_t gpa,
                           GError **error)
{
    uint8_t *p;

    gpa &= ~0xfffull;
    if (!ept_check_range("gpa", gpa, EPT_PAGE_SIZE, error)) {
        return false;
    }
    p = ept_descend(b, gpa, EPT_PTE_LEVEL, error);
    if (p == NULL) {
        return false;
    }
    /* Write without read: a misconfiguration at any level (bits 2:0). */
    ept_set(p, (ept_get(p) & ~MMU_EPT_RWX) | MMU_EPT_W);
    return true;
}

uint64_t mmu_ept_builder_eptp(const struct mmu_ept_builder *b, bool ad_enable)
{
    return b->pml4 | MMU_EPT_MT_WB | MMU_EPTP_WALK_4 |
           (ad_enable ? MMU_EPTP_AD : 0);
}
