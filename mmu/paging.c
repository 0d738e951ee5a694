/*
 * mmu/paging.c: the IA-32e 4-level page walk (SDM 3A §4.5).  Translates a
 * linear address through PML4E, PDPTE, PDE and PTE, with 2 MiB and 1 GiB
 * pages, checks reserved bits and access rights (§4.6), builds the #PF
 * error code (§4.7) and sets the accessed and dirty flags (§4.8).  It is
 * called on every software-TLB miss, so it reads each entry once and
 * writes back only entries whose A or D flag changes.
 *
 * The caller invokes it only when IA-32e paging is active (CR0.PG = 1,
 * CR4.PAE = 1, EFER.LME = 1) and only for canonical addresses: a
 * non-canonical address raises #GP before any walk (SDM 3A §3.3.7.1), so
 * only bits 47:0 of the address are used here.  Not modelled: 5-level
 * paging (CR4.LA57), PCID, protection keys (CR4.PKE), SMEP and SMAP (so a
 * supervisor access to a user page is always allowed), shadow stacks.
 * 1 GiB pages are always available (CPUID.80000001H:EDX.Page1GB = 1).
 *
 * Model choices, where the SDM leaves freedom or the model simplifies:
 *  - A faulting walk changes no A or D flag.  Real processors may set the
 *    A flag of upper-level entries before they find the fault; software
 *    must not rely on either behaviour (SDM 3A §4.8).
 *  - An entry whose address is not RAM (the read callback returns false)
 *    faults as a reserved-bit violation: error code P = 1, RSVD = 1.
 *    Real hardware would read whatever the bus returns (often all-ones,
 *    which also has reserved bits set).
 *  - The A/D update is a read followed by a plain write, not a locked
 *    read-modify-write: correct as long as no other agent modifies the
 *    entry between the two callbacks.  The write callback's result is
 *    ignored: the entry was just read, so it is RAM.
 *  - out->refs counts every entry the walk tried to read, including one
 *    whose read failed or that faulted.
 */
#include "sim/common.h"

#include "cpu/cpu.h"
#include "mmu/mmu.h"

#define MMU_LEVELS 4

/* CR3 bits 51:12: the PML4 table base (SDM 3A §4.5, table 4-12). */
#define MMU_CR3_BASE 0x000ffffffffff000ull

/* Physical-address bits 51:MAXPHYADDR, reserved in every entry. */
#define MMU_RSVD_PHYS (0x000fffffffffffffull & ~((1ull << MMU_MAXPHYADDR) - 1))

/* Address field bits (MAXPHYADDR-1):12 of an entry (tables 4-15 to 4-20). */
#define MMU_ADDR_MASK (((1ull << MMU_MAXPHYADDR) - 1) & ~0xfffull)

/*
 * Reserved bits of a large-page entry below the page frame: bits 29:13 of
 * a 1 GiB PDPTE, bits 20:13 of a 2 MiB PDE (bit 12 is PAT).  @shift is 30
 * or 21.
 */
static inline uint64_t mmu_large_rsvd(unsigned shift)
{
    return ((1ull << shift) - 1) & ~0x1fffull;
}

static bool mmu_walk_fault(struct mmu_walk_result *out, unsigned refs,
                           uint32_t pfec)
{
    out->pa = 0;
    out->page_shift = 0;
    out->writable = false;
    out->user = false;
    out->executable = false;
    out->dirty = false;
    out->refs = refs;
    out->pf_error = pfec;
    return false;
}

bool mmu_walk(const struct mmu_paging *pg, uint64_t la, enum mmu_access acc,
              bool user, mmu_pte_read_fn *read, mmu_pte_write_fn *write,
              void *opaque, struct mmu_walk_result *out /* out */)
{
    uint64_t ent[MMU_LEVELS];    /* entries as read, PML4E first */
    uint64_t ent_pa[MMU_LEVELS]; /* their guest-physical addresses */
    bool nxe = (pg->efer & CPU_EFER_NXE) != 0;
    uint64_t rsvd = MMU_RSVD_PHYS | (nxe ? 0 : MMU_PTE_XD);
    uint64_t base = pg->cr3 & MMU_CR3_BASE;
    uint64_t and_bits = MMU_PTE_RW | MMU_PTE_US; /* AND over the path */
    uint64_t or_bits = 0;                        /* OR over the path */
    uint64_t leaf, frame;
    uint32_t pfec;
    unsigned shift = 39;
    unsigned n = 0;
    bool writable;

    /*
     * The error code bits that depend only on the access (SDM 3A §4.7):
     * W for a write, U for CPL 3, I/D for a fetch when EFER.NXE = 1 (with
     * CR4.SMEP = 1 it would be set for every fetch; SMEP is not modelled).
     */
    pfec = (acc == MMU_WRITE ? MMU_PFEC_W : 0) | (user ? MMU_PFEC_U : 0) |
           (acc == MMU_EXEC && nxe ? MMU_PFEC_ID : 0);

    for (;;) {
        uint64_t pa = base + ((la >> shift) & 0x1ff) * 8;
        uint64_t e, mask;

        n++;
        if (SIM_UNLIKELY(!read(opaque, pa, &e))) {
            return mmu_walk_fault(out, n, pfec | MMU_PFEC_P | MMU_PFEC_RSVD);
        }
        /* Reserved bits are not checked when P = 0 (SDM 3A §4.7). */
        if (SIM_UNLIKELY(!(e & MMU_PTE_P))) {
            return mmu_walk_fault(out, n, pfec);
        }
        /*
         * Reserved bits (SDM 3A §4.5, tables 4-15 to 4-20): PS must be 0
         * in a PML4E; large pages reserve the frame bits below the page
         * size.  In a PTE, bit 7 is PAT, not PS.
         */
        mask = rsvd;
        if (shift == 39) {
            mask |= MMU_PTE_PS;
        } else if (shift != 12 && (e & MMU_PTE_PS)) {
            mask |= mmu_large_rsvd(shift);
        }
        if (SIM_UNLIKELY(e & mask)) {
            return mmu_walk_fault(out, n, pfec | MMU_PFEC_P | MMU_PFEC_RSVD);
        }
        ent[n - 1] = e;
        ent_pa[n - 1] = pa;
        and_bits &= e;
        or_bits |= e;
        if (shift == 12 || (shift != 39 && (e & MMU_PTE_PS))) {
            break;
        }
        base = e & MMU_ADDR_MASK;
        shift -= 9;
    }

    /*
     * Access rights combine every level (SDM 3A §4.6.1): user accesses
     * need U/S = 1 everywhere and, to write, R/W = 1 everywhere;
     * supervisor writes need R/W = 1 everywhere only if CR0.WP = 1.
     * Fetches fault if EFER.NXE = 1 and XD = 1 at any level.
     */
    writable = (and_bits & MMU_PTE_RW) || (!user && !(pg->cr0 & CPU_CR0_WP));
    if (SIM_UNLIKELY((user && !(and_bits & MMU_PTE_US)) ||
                     (acc == MMU_WRITE && !writable) ||
                     (acc == MMU_EXEC && nxe && (or_bits & MMU_PTE_XD)))) {
        return mmu_walk_fault(out, n, pfec | MMU_PFEC_P);
    }

    /*
     * Accessed and dirty flags (SDM 3A §4.8): A on every entry used, D on
     * the entry that maps the page, and only on a write.
     */
    for (unsigned i = 0; i + 1 < n; i++) {
        if (!(ent[i] & MMU_PTE_A)) {
            write(opaque, ent_pa[i], ent[i] | MMU_PTE_A);
        }
    }
    leaf = ent[n - 1] | MMU_PTE_A | (acc == MMU_WRITE ? MMU_PTE_D : 0);
    if (leaf != ent[n - 1]) {
        write(opaque, ent_pa[n - 1], leaf);
    }

    frame = (1ull << shift) - 1;
    out->pa = (leaf & MMU_ADDR_MASK & ~frame) | (la & frame);
    out->page_shift = shift;
    out->writable = writable;
    out->user = (and_bits & MMU_PTE_US) != 0;
    out->executable = !(nxe && (or_bits & MMU_PTE_XD));
    out->dirty = (leaf & MMU_PTE_D) != 0;
    out->refs = n;
    out->pf_error = 0;
    return true;
}
