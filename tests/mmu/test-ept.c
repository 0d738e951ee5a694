/*
 * tests/mmu/test-ept.c: unit tests for mmu/ept.c, the EPT walk and the
 * EPT builder (SDM 3C, "VMX Support for Address Translation").  EPT tables
 * live in a 4 MiB fake machine memory at machine address 1 GiB (so a
 * table address is never mistaken for an offset) whose callbacks count
 * reads and writes and whose bump allocator can be made to run out.
 * Walks are checked for the translation, every misconfiguration condition
 * of the fact sheet, the exact EPT-violation qualification bits 0..5, the
 * accessed and dirty flags and the number of entries read.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <CUnit/CUnit.h>

#include "mmu/mmu.h"

#define MBASE 0x40000000ull
#define MSIZE (4ull << 20)

/* Hand-built tables, one per level, at fixed machine addresses. */
#define T_PML4 (MBASE + 0x1000)
#define T_PDPT (MBASE + 0x2000)
#define T_PD (MBASE + 0x3000)
#define T_PT (MBASE + 0x4000)

/* Indices 0x05, 0x34, 0x56, 0x78 at the four levels, offset 0x9ab. */
#define T_GPA                                                                  \
    ((0x05ull << 39) | (0x34ull << 30) | (0x56ull << 21) | (0x78ull << 12) |   \
     0x9abull)

/* Frames the leaves map (outside the fake memory; never read). */
#define T_FRAME_4K 0x123456000ull
#define T_FRAME_2M (0x2a5ull << 21)
#define T_FRAME_1G (0x1f3ull << 30)

#define T_WB ((uint64_t)MMU_EPT_MT_WB << MMU_EPT_MT_SHIFT)
#define T_EPTP (T_PML4 | MMU_EPT_MT_WB | MMU_EPTP_WALK_4)
#define T_EPTP_AD (T_EPTP | MMU_EPTP_AD)

#define MIB (1ull << 20)

/* Leaf kinds: the level of the leaf (1 = 1 GiB, 2 = 2 MiB, 3 = 4 KiB). */
#define K_1G 1u
#define K_2M 2u
#define K_4K 3u

struct fake_mach {
    uint8_t *ram;
    unsigned reads, writes;
    uint64_t next_page;  /* bump allocator, from the top half */
    unsigned allocs;     /* pages handed out */
    unsigned alloc_left; /* pages it may still hand out */
    bool bad_page;       /* hand out an unaligned address */
};

static bool fake_read(void *opaque, uint64_t pa, uint64_t *val)
{
    struct fake_mach *m = opaque;

    m->reads++;
    if (pa < MBASE || pa >= MBASE + MSIZE || (pa & 7) != 0) {
        return false;
    }
    memcpy(val, m->ram + (pa - MBASE), 8);
    return true;
}

static bool fake_write(void *opaque, uint64_t pa, uint64_t val)
{
    struct fake_mach *m = opaque;

    m->writes++;
    if (pa < MBASE || pa >= MBASE + MSIZE || (pa & 7) != 0) {
        return false;
    }
    memcpy(m->ram + (pa - MBASE), &val, 8);
    return true;
}

static uint64_t fake_alloc(void *opaque)
{
    struct fake_mach *m = opaque;
    uint64_t pa;

    if (m->alloc_left == 0 || m->next_page >= MBASE + MSIZE) {
        return MMU_EPT_NO_PAGE;
    }
    m->alloc_left--;
    m->allocs++;
    pa = m->next_page;
    m->next_page += 0x1000;
    /* Dirty it: the builder must zero what it gets. */
    memset(m->ram + (pa - MBASE), 0xff, 0x1000);
    return m->bad_page ? pa | 8 : pa;
}

static uint8_t *fake_page(void *opaque, uint64_t hpa)
{
    struct fake_mach *m = opaque;

    if (hpa < MBASE || hpa >= MBASE + MSIZE) {
        return NULL;
    }
    return m->ram + (hpa - MBASE);
}

static struct fake_mach *fake_new(void)
{
    struct fake_mach *m = g_new0(struct fake_mach, 1);

    m->ram = g_malloc0(MSIZE);
    m->next_page = MBASE + MSIZE / 2;
    m->alloc_left = UINT32_MAX;
    return m;
}

static void fake_free(struct fake_mach *m)
{
    g_free(m->ram);
    g_free(m);
}

static uint64_t fake_get(struct fake_mach *m, uint64_t pa)
{
    uint64_t v;

    memcpy(&v, m->ram + (pa - MBASE), 8);
    return v;
}

static void fake_set(struct fake_mach *m, uint64_t pa, uint64_t v)
{
    memcpy(m->ram + (pa - MBASE), &v, 8);
}

/* Machine address of the hand-built entry for T_GPA at @level. */
static uint64_t ent_pa(unsigned level)
{
    static const uint64_t tables[4] = {T_PML4, T_PDPT, T_PD, T_PT};

    return tables[level] + ((T_GPA >> (39 - 9 * level)) & 0x1ff) * 8;
}

static uint64_t ent_get(struct fake_mach *m, unsigned level)
{
    return fake_get(m, ent_pa(level));
}

static void ent_set(struct fake_mach *m, unsigned level, uint64_t v)
{
    fake_set(m, ent_pa(level), v);
}

/*
 * Maps T_GPA by hand with a leaf at level @kind (K_1G, K_2M, K_4K):
 * @flags[level] are the low and high bits of each entry, PML4E first;
 * large leaves get bit 7 here.
 */
static void map_hand(struct fake_mach *m, unsigned kind,
                     const uint64_t flags[4])
{
    static const uint64_t next[3] = {T_PDPT, T_PD, T_PT};
    static const uint64_t frame[4] = {0, T_FRAME_1G, T_FRAME_2M, T_FRAME_4K};

    for (unsigned l = 0; l < kind; l++) {
        ent_set(m, l, next[l] | flags[l]);
    }
    ent_set(m, kind,
            frame[kind] | flags[kind] | (kind != K_4K ? MMU_EPT_PS : 0));
}

/* Tables RWX, leaf RWX WB. */
static void map_hand_rwx(struct fake_mach *m, unsigned kind)
{
    uint64_t f[4] = {MMU_EPT_RWX, MMU_EPT_RWX, MMU_EPT_RWX, MMU_EPT_RWX};

    f[kind] |= T_WB;
    map_hand(m, kind, f);
}

static uint64_t kind_frame(unsigned kind)
{
    static const uint64_t frame[4] = {0, T_FRAME_1G, T_FRAME_2M, T_FRAME_4K};
    uint64_t off = (1ull << (39 - 9 * kind)) - 1;

    return frame[kind] | (T_GPA & off);
}

static bool walk(struct fake_mach *m, uint64_t eptp, uint64_t gpa,
                 enum mmu_access acc, struct mmu_ept_result *r /* out */)
{
    memset(r, 0xa5, sizeof(*r));
    m->reads = 0;
    m->writes = 0;
    return mmu_ept_walk(eptp, gpa, acc, fake_read, fake_write, m, r);
}

static const enum mmu_access all_acc[3] = {MMU_READ, MMU_WRITE, MMU_EXEC};

/* Checks a misconfiguration found at @level, for every access kind. */
static void check_misconfig(struct fake_mach *m, unsigned level)
{
    struct mmu_ept_result r;

    for (unsigned a = 0; a < 3; a++) {
        CU_ASSERT_FALSE(walk(m, T_EPTP_AD, T_GPA, all_acc[a], &r));
        CU_ASSERT_TRUE(r.misconfig);
        CU_ASSERT_EQUAL(r.qualification_perm, 0);
        CU_ASSERT_EQUAL(r.hpa, 0);
        CU_ASSERT_EQUAL(r.refs, level + 1);
        CU_ASSERT_EQUAL(m->reads, level + 1);
        CU_ASSERT_EQUAL(m->writes, 0);
    }
}

/* --- Translations ------------------------------------------------------ */

static void test_walk_leaves(void)
{
    static const unsigned shifts[4] = {0, 30, 21, 12};
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, kind);
        for (unsigned a = 0; a < 3; a++) {
            CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, all_acc[a], &r));
            CU_ASSERT_EQUAL(r.hpa, kind_frame(kind));
            CU_ASSERT_EQUAL(r.page_shift, shifts[kind]);
            CU_ASSERT_EQUAL(r.refs, kind + 1);
            CU_ASSERT_EQUAL(m->reads, kind + 1);
            CU_ASSERT_EQUAL(m->writes, 0);
            CU_ASSERT_TRUE(r.readable);
            CU_ASSERT_TRUE(r.writable);
            CU_ASSERT_TRUE(r.executable);
            CU_ASSERT_FALSE(r.misconfig);
            CU_ASSERT_EQUAL(r.qualification_perm, 0x38);
        }
    }
    fake_free(m);
}

/*
 * Ignored bits do not misconfigure: 62:52, 63 (suppress #VE), 11, 10
 * (MBEC), 9 in a table entry, 8 (A) with A/D off, IPAT in a leaf, bit 7
 * of a PTE; address bit N-1 is a valid address bit.
 */
static void test_walk_ignored_bits(void)
{
    const uint64_t ign =
        (0xfffull << 52) | (1ull << 11) | (1ull << 10) | MMU_EPT_A;
    const uint64_t top = 1ull << (MMU_MAXPHYADDR - 1);
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        uint64_t f[4];

        for (unsigned l = 0; l < 4; l++) {
            f[l] = MMU_EPT_RWX | ign | (l < kind ? MMU_EPT_D : 0);
        }
        f[kind] |= T_WB | MMU_EPT_IPAT | MMU_EPT_D;
        if (kind == K_4K) {
            f[kind] |= MMU_EPT_PS; /* ignored in a PTE */
        }
        memset(m->ram, 0, MSIZE);
        map_hand(m, kind, f);
        ent_set(m, kind, ent_get(m, kind) | top);
        CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_WRITE, &r));
        CU_ASSERT_EQUAL(r.hpa, top | kind_frame(kind));
        CU_ASSERT_EQUAL(r.page_shift, 39 - 9 * kind);
    }
    fake_free(m);
}

/* EPTP bits 11:0 (memory type, walk length, A/D) are not the base. */
static void test_walk_eptp_low_bits(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    map_hand_rwx(m, K_4K);
    CU_ASSERT_TRUE(walk(m, T_PML4 | MMU_EPTP_WALK_4, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(r.hpa, kind_frame(K_4K));
    CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(r.hpa, kind_frame(K_4K));
    fake_free(m);
}

/* --- Not present ------------------------------------------------------- */

static void test_not_present(void)
{
    /* Junk that would misconfigure a present entry. */
    const uint64_t junk = (0x3full << MMU_MAXPHYADDR) | 0xf8ull | 0x3ff000ull;
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        for (unsigned level = 0; level <= kind; level++) {
            for (unsigned a = 0; a < 3; a++) {
                memset(m->ram, 0, MSIZE);
                map_hand_rwx(m, kind);
                ent_set(m, level, ent_get(m, level) & ~MMU_EPT_RWX);
                ent_set(m, level, ent_get(m, level) | junk);
                CU_ASSERT_FALSE(walk(m, T_EPTP_AD, T_GPA, all_acc[a], &r));
                CU_ASSERT_FALSE(r.misconfig);
                CU_ASSERT_EQUAL(r.qualification_perm, 0);
                CU_ASSERT_EQUAL(mmu_ept_violation_qualification(all_acc[a], &r),
                                1ull << a);
                CU_ASSERT_FALSE(r.readable || r.writable || r.executable);
                CU_ASSERT_EQUAL(r.refs, level + 1);
                CU_ASSERT_EQUAL(m->reads, level + 1);
                CU_ASSERT_EQUAL(m->writes, 0);
            }
        }
    }
    fake_free(m);
}

/* --- Misconfiguration -------------------------------------------------- */

/* Bits 2:0 = 010b or 110b (write without read) at any level, any leaf. */
static void test_misconfig_write_without_read(void)
{
    static const uint64_t bad[2] = {MMU_EPT_W, MMU_EPT_W | MMU_EPT_X};
    struct fake_mach *m = fake_new();

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        for (unsigned level = 0; level <= kind; level++) {
            for (unsigned i = 0; i < 2; i++) {
                memset(m->ram, 0, MSIZE);
                map_hand_rwx(m, kind);
                ent_set(m, level, (ent_get(m, level) & ~MMU_EPT_RWX) | bad[i]);
                check_misconfig(m, level);
            }
        }
    }
    fake_free(m);
}

/* Bits 51:N are reserved in every entry. */
static void test_misconfig_phys_bits(void)
{
    struct fake_mach *m = fake_new();

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        for (unsigned level = 0; level <= kind; level++) {
            for (unsigned bit = MMU_MAXPHYADDR; bit <= 51; bit++) {
                memset(m->ram, 0, MSIZE);
                map_hand_rwx(m, kind);
                ent_set(m, level, ent_get(m, level) | (1ull << bit));
                check_misconfig(m, level);
            }
        }
    }
    fake_free(m);
}

/* Bits 7:3 of a PML4E, including bit 7 (a PML4E never maps a page). */
static void test_misconfig_pml4e_bits(void)
{
    struct fake_mach *m = fake_new();

    for (unsigned bit = 3; bit <= 7; bit++) {
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, K_4K);
        ent_set(m, 0, ent_get(m, 0) | (1ull << bit));
        check_misconfig(m, 0);
    }
    fake_free(m);
}

/* Bits 6:3 of a PDPTE or PDE that points to a table. */
static void test_misconfig_table_bits(void)
{
    struct fake_mach *m = fake_new();

    for (unsigned level = 1; level <= 2; level++) {
        for (unsigned bit = 3; bit <= 6; bit++) {
            memset(m->ram, 0, MSIZE);
            map_hand_rwx(m, K_4K);
            ent_set(m, level, ent_get(m, level) | (1ull << bit));
            check_misconfig(m, level);
        }
    }
    fake_free(m);
}

/* Bits 29:12 of a 1 GiB leaf and 20:12 of a 2 MiB leaf. */
static void test_misconfig_large_low_bits(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned bit = 12; bit <= 29; bit++) {
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, K_1G);
        ent_set(m, 1, ent_get(m, 1) | (1ull << bit));
        check_misconfig(m, 1);
    }
    for (unsigned bit = 12; bit <= 20; bit++) {
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, K_2M);
        ent_set(m, 2, ent_get(m, 2) | (1ull << bit));
        check_misconfig(m, 2);
    }
    /* The same bits in a PTE are address bits. */
    memset(m->ram, 0, MSIZE);
    map_hand_rwx(m, K_4K);
    ent_set(m, 3, ent_get(m, 3) | (1ull << 12) | (1ull << 20));
    CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(r.hpa, kind_frame(K_4K) | (1ull << 12) | (1ull << 20));
    /* ... and bit 21 of a 2 MiB leaf, bit 30 of a 1 GiB leaf. */
    memset(m->ram, 0, MSIZE);
    map_hand_rwx(m, K_2M);
    ent_set(m, 2, ent_get(m, 2) ^ (1ull << 21));
    CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(r.hpa, kind_frame(K_2M) ^ (1ull << 21));
    memset(m->ram, 0, MSIZE);
    map_hand_rwx(m, K_1G);
    ent_set(m, 1, ent_get(m, 1) ^ (1ull << 30));
    CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(r.hpa, kind_frame(K_1G) ^ (1ull << 30));
    fake_free(m);
}

/* A leaf memory type of 2, 3 or 7 misconfigures; 0, 1, 4, 5, 6 do not. */
static void test_misconfig_memtype(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        for (uint64_t mt = 0; mt < 8; mt++) {
            for (uint64_t ipat = 0; ipat <= MMU_EPT_IPAT;
                 ipat += MMU_EPT_IPAT) {
                uint64_t leaf;

                memset(m->ram, 0, MSIZE);
                map_hand_rwx(m, kind);
                leaf = ent_get(m, kind) & ~(MMU_EPT_MT_MASK | MMU_EPT_IPAT);
                ent_set(m, kind, leaf | (mt << MMU_EPT_MT_SHIFT) | ipat);
                if (mt == 2 || mt == 3 || mt == 7) {
                    check_misconfig(m, kind);
                } else {
                    CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_WRITE, &r));
                    CU_ASSERT_EQUAL(r.hpa, kind_frame(kind));
                }
            }
        }
    }
    fake_free(m);
}

/*
 * The walk stops at the first misconfigured entry, and a misconfiguration
 * wins over missing permissions found above it; a not-present entry
 * above a misconfigured one is a violation.
 */
static void test_misconfig_priority(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    /* PML4E X-only (a read violation by itself), PTE W-only. */
    map_hand_rwx(m, K_4K);
    ent_set(m, 0, (ent_get(m, 0) & ~MMU_EPT_RWX) | MMU_EPT_X);
    ent_set(m, 3, (ent_get(m, 3) & ~MMU_EPT_RWX) | MMU_EPT_W);
    check_misconfig(m, 3);

    /* PDPTE misconfigured, PDE not present: stops at the PDPTE. */
    memset(m->ram, 0, MSIZE);
    map_hand_rwx(m, K_4K);
    ent_set(m, 1, ent_get(m, 1) | (1ull << 50));
    ent_set(m, 2, 0);
    check_misconfig(m, 1);

    /* PDPTE not present, PDE misconfigured: a violation. */
    memset(m->ram, 0, MSIZE);
    map_hand_rwx(m, K_4K);
    ent_set(m, 1, ent_get(m, 1) & ~MMU_EPT_RWX);
    ent_set(m, 2, ent_get(m, 2) | (1ull << 50));
    CU_ASSERT_FALSE(walk(m, T_EPTP, T_GPA, MMU_READ, &r));
    CU_ASSERT_FALSE(r.misconfig);
    CU_ASSERT_EQUAL(r.refs, 2);
    fake_free(m);
}

/* A table outside RAM misconfigures (model choice). */
static void test_misconfig_not_ram(void)
{
    struct fake_mach *m = fake_new();

    map_hand_rwx(m, K_4K);
    ent_set(m, 0, (ent_get(m, 0) & 0xfff) | 0x100000000ull);
    check_misconfig(m, 1);
    fake_free(m);
}

/* --- Violations -------------------------------------------------------- */

/* Execute-only entries are allowed at every level (EPT_VPID_CAP bit 0). */
static void test_exec_only(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    CU_ASSERT_EQUAL(MMU_EPT_CAP_EXEC_ONLY, 1);
    CU_ASSERT_EQUAL(MMU_EPT_CAP_WALK & 0x1ull, 1);
    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        uint64_t f[4] = {MMU_EPT_X, MMU_EPT_X, MMU_EPT_X, MMU_EPT_X};

        f[kind] |= T_WB;
        memset(m->ram, 0, MSIZE);
        map_hand(m, kind, f);
        CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, MMU_EXEC, &r));
        CU_ASSERT_EQUAL(r.hpa, kind_frame(kind));
        CU_ASSERT_FALSE(r.readable);
        CU_ASSERT_FALSE(r.writable);
        CU_ASSERT_TRUE(r.executable);
        CU_ASSERT_FALSE(walk(m, T_EPTP, T_GPA, MMU_READ, &r));
        CU_ASSERT_FALSE(r.misconfig);
        CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_READ, &r), 0x21);
        CU_ASSERT_FALSE(walk(m, T_EPTP, T_GPA, MMU_WRITE, &r));
        CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_WRITE, &r), 0x22);
    }
    fake_free(m);
}

/*
 * Hand-checked qualifications: @perm[level] are bits 2:0 of each entry,
 * @qual the exact bits 0..5, or 0 if the access is allowed.
 */
static void test_violation_table(void)
{
    static const struct {
        unsigned kind;
        uint64_t perm[4];
        enum mmu_access acc;
        uint64_t qual;
    } cases[] = {
        {K_4K, {7, 7, 7, 1}, MMU_READ, 0},
        {K_4K, {7, 7, 7, 1}, MMU_WRITE, 0x0a},
        {K_4K, {7, 7, 7, 1}, MMU_EXEC, 0x0c},
        {K_4K, {5, 7, 7, 7}, MMU_WRITE, 0x2a},
        {K_4K, {7, 3, 7, 7}, MMU_EXEC, 0x1c},
        {K_4K, {7, 7, 5, 3}, MMU_WRITE, 0x0a},
        {K_4K, {7, 7, 5, 3}, MMU_EXEC, 0x0c},
        {K_4K, {3, 7, 7, 4}, MMU_READ, 0x01}, /* present, AND = 0 */
        {K_4K, {3, 7, 7, 4}, MMU_EXEC, 0x04},
        {K_4K, {4, 4, 4, 4}, MMU_READ, 0x21},
        {K_4K, {4, 4, 4, 4}, MMU_WRITE, 0x22},
        {K_4K, {4, 4, 4, 4}, MMU_EXEC, 0},
        {K_4K, {1, 1, 1, 1}, MMU_WRITE, 0x0a},
        {K_4K, {3, 3, 3, 3}, MMU_EXEC, 0x1c},
        {K_4K, {3, 3, 3, 3}, MMU_WRITE, 0},
        {K_2M, {7, 7, 3}, MMU_EXEC, 0x1c},
        {K_2M, {5, 7, 7}, MMU_WRITE, 0x2a},
        {K_2M, {7, 1, 7}, MMU_READ, 0},
        {K_1G, {7, 1}, MMU_WRITE, 0x0a},
        {K_1G, {4, 5}, MMU_READ, 0x21},
        {K_1G, {7, 5}, MMU_WRITE, 0x2a},
    };
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
        uint64_t f[4] = {0, 0, 0, 0};
        bool ok;

        for (unsigned l = 0; l <= cases[i].kind; l++) {
            f[l] = cases[i].perm[l];
        }
        f[cases[i].kind] |= T_WB;
        memset(m->ram, 0, MSIZE);
        map_hand(m, cases[i].kind, f);
        ok = walk(m, T_EPTP, T_GPA, cases[i].acc, &r);
        if (cases[i].qual == 0) {
            CU_ASSERT_TRUE(ok);
            CU_ASSERT_EQUAL(r.hpa, kind_frame(cases[i].kind));
        } else {
            CU_ASSERT_FALSE(ok);
            CU_ASSERT_FALSE(r.misconfig);
            CU_ASSERT_EQUAL(r.refs, cases[i].kind + 1);
            CU_ASSERT_EQUAL(mmu_ept_violation_qualification(cases[i].acc, &r),
                            cases[i].qual);
        }
    }
    fake_free(m);
}

/*
 * Every present, well-formed permission combination (001b, 011b, 100b,
 * 101b, 111b) at every level of every leaf kind, against every access:
 * allowed exactly when the AND has the access's bit, with the exact
 * qualification, and no A/D write on failure.
 */
static void test_violation_sweep(void)
{
    static const uint64_t perms[5] = {1, 3, 4, 5, 7};
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;
    unsigned checked = 0;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        unsigned combos = 1;

        for (unsigned l = 0; l <= kind; l++) {
            combos *= 5;
        }
        for (unsigned c = 0; c < combos; c++) {
            uint64_t f[4] = {0, 0, 0, 0};
            uint64_t and_perm = 7;
            unsigned k = c;

            for (unsigned l = 0; l <= kind; l++) {
                f[l] = perms[k % 5];
                and_perm &= f[l];
                k /= 5;
            }
            f[kind] |= T_WB;
            memset(m->ram, 0, MSIZE);
            map_hand(m, kind, f);
            for (unsigned a = 0; a < 3; a++) {
                bool ok = walk(m, T_EPTP_AD, T_GPA, all_acc[a], &r);

                CU_ASSERT_EQUAL(ok, (and_perm >> a) & 1);
                CU_ASSERT_FALSE(r.misconfig);
                CU_ASSERT_EQUAL(r.readable, (and_perm & 1) != 0);
                CU_ASSERT_EQUAL(r.writable, (and_perm & 2) != 0);
                CU_ASSERT_EQUAL(r.executable, (and_perm & 4) != 0);
                CU_ASSERT_EQUAL(r.qualification_perm, and_perm << 3);
                CU_ASSERT_EQUAL(r.refs, kind + 1);
                if (!ok) {
                    CU_ASSERT_EQUAL(
                        mmu_ept_violation_qualification(all_acc[a], &r),
                        (1ull << a) | (and_perm << 3));
                    CU_ASSERT_EQUAL(m->writes, 0);
                }
                checked++;
            }
        }
    }
    CU_ASSERT_EQUAL(checked, 3 * (25 + 125 + 625));
    fake_free(m);
}

/* The qualification helper keeps only bits 3..5 of the walk's value. */
static void test_qualification_helper(void)
{
    struct mmu_ept_result r;

    memset(&r, 0, sizeof(r));
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_READ, &r),
                    MMU_EPT_QUAL_READ);
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_WRITE, &r),
                    MMU_EPT_QUAL_WRITE);
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_EXEC, &r),
                    MMU_EPT_QUAL_FETCH);
    r.qualification_perm = ~0ull;
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_WRITE, &r), 0x3a);
    r.qualification_perm = MMU_EPT_QUAL_R | MMU_EPT_QUAL_X;
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_WRITE, &r), 0x2a);
}

/* --- Accessed and dirty flags ------------------------------------------ */

static void test_ad_disabled(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, kind);
        for (unsigned a = 0; a < 3; a++) {
            CU_ASSERT_TRUE(walk(m, T_EPTP, T_GPA, all_acc[a], &r));
            CU_ASSERT_EQUAL(m->writes, 0);
        }
        for (unsigned l = 0; l <= kind; l++) {
            CU_ASSERT_EQUAL(ent_get(m, l) & (MMU_EPT_A | MMU_EPT_D), 0);
        }
    }
    fake_free(m);
}

/* A on every entry used; D on the leaf only, and only for a write. */
static void test_ad_enabled(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    for (unsigned kind = K_1G; kind <= K_4K; kind++) {
        for (unsigned a = 0; a < 3; a++) {
            memset(m->ram, 0, MSIZE);
            map_hand_rwx(m, kind);
            CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, all_acc[a], &r));
            CU_ASSERT_EQUAL(m->writes, kind + 1);
            for (unsigned l = 0; l <= kind; l++) {
                uint64_t e = ent_get(m, l);
                bool d = l == kind && all_acc[a] == MMU_WRITE;

                CU_ASSERT_TRUE(e & MMU_EPT_A);
                CU_ASSERT_EQUAL((e & MMU_EPT_D) != 0, d);
            }
            CU_ASSERT_EQUAL(r.hpa, kind_frame(kind));
            /* Flags already set: nothing to write. */
            CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, all_acc[a], &r));
            CU_ASSERT_EQUAL(m->writes, 0);
        }
        /* A read after a write leaves D; a write after a read sets it. */
        memset(m->ram, 0, MSIZE);
        map_hand_rwx(m, kind);
        CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
        CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_WRITE, &r));
        CU_ASSERT_EQUAL(m->writes, 1);
        CU_ASSERT_TRUE(ent_get(m, kind) & MMU_EPT_D);
        CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
        CU_ASSERT_EQUAL(m->writes, 0);
        CU_ASSERT_TRUE(ent_get(m, kind) & MMU_EPT_D);
    }
    fake_free(m);
}

/* Only the entries missing A (or D) are written. */
static void test_ad_partial(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    map_hand_rwx(m, K_4K);
    ent_set(m, 0, ent_get(m, 0) | MMU_EPT_A);
    ent_set(m, 2, ent_get(m, 2) | MMU_EPT_A);
    ent_set(m, 3, ent_get(m, 3) | MMU_EPT_A);
    CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
    CU_ASSERT_EQUAL(m->writes, 1);
    CU_ASSERT_TRUE(ent_get(m, 1) & MMU_EPT_A);
    CU_ASSERT_TRUE(walk(m, T_EPTP_AD, T_GPA, MMU_WRITE, &r));
    CU_ASSERT_EQUAL(m->writes, 1);
    CU_ASSERT_EQUAL(ent_get(m, 3) & (MMU_EPT_A | MMU_EPT_D),
                    MMU_EPT_A | MMU_EPT_D);
    fake_free(m);
}

/* A failed walk writes nothing: violation, misconfiguration, not present. */
static void test_ad_not_on_failure(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_result r;

    map_hand_rwx(m, K_4K);
    ent_set(m, 3, ent_get(m, 3) & ~MMU_EPT_W);
    CU_ASSERT_FALSE(walk(m, T_EPTP_AD, T_GPA, MMU_WRITE, &r));
    CU_ASSERT_EQUAL(m->writes, 0);

    ent_set(m, 3, ent_get(m, 3) | (3ull << MMU_EPT_MT_SHIFT));
    CU_ASSERT_FALSE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
    CU_ASSERT_TRUE(r.misconfig);
    CU_ASSERT_EQUAL(m->writes, 0);

    ent_set(m, 3, 0);
    CU_ASSERT_FALSE(walk(m, T_EPTP_AD, T_GPA, MMU_READ, &r));
    CU_ASSERT_FALSE(r.misconfig);
    CU_ASSERT_EQUAL(m->writes, 0);
    for (unsigned l = 0; l < 3; l++) {
        CU_ASSERT_EQUAL(ent_get(m, l) & MMU_EPT_A, 0);
    }
    fake_free(m);
}

/* --- EPT pointer ------------------------------------------------------- */

static void test_eptp_valid(void)
{
    const uint64_t base = 0x123456000ull;
    const uint64_t good = base | MMU_EPT_MT_WB | MMU_EPTP_WALK_4;

    CU_ASSERT_TRUE(mmu_eptp_valid(good));
    CU_ASSERT_TRUE(mmu_eptp_valid(good | MMU_EPTP_AD));
    CU_ASSERT_TRUE(mmu_eptp_valid(base | MMU_EPT_MT_UC | MMU_EPTP_WALK_4));
    CU_ASSERT_TRUE(mmu_eptp_valid(MMU_EPTP_WALK_4 | MMU_EPT_MT_WB |
                                  (1ull << (MMU_MAXPHYADDR - 1))));
    for (uint64_t mt = 0; mt < 8; mt++) {
        CU_ASSERT_EQUAL(mmu_eptp_valid((good & ~7ull) | mt),
                        mt == 0 || mt == 6);
    }
    for (uint64_t len = 0; len < 8; len++) {
        CU_ASSERT_EQUAL(mmu_eptp_valid((good & ~(7ull << 3)) | (len << 3)),
                        len == 3);
    }
    CU_ASSERT_FALSE(mmu_eptp_valid(good | MMU_EPTP_SSS));
    for (unsigned bit = 8; bit <= 11; bit++) {
        CU_ASSERT_FALSE(mmu_eptp_valid(good | (1ull << bit)));
    }
    for (unsigned bit = MMU_MAXPHYADDR; bit <= 63; bit++) {
        CU_ASSERT_FALSE(mmu_eptp_valid(good | (1ull << bit)));
    }
}

/* --- Builder ----------------------------------------------------------- */

static struct mmu_ept_builder *builder_new(struct fake_mach *m)
{
    GError *err = NULL;
    struct mmu_ept_builder *b =
        mmu_ept_builder_new(fake_alloc, fake_page, m, &err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NULL(err);
    return b;
}

static bool map(struct mmu_ept_builder *b, uint64_t gpa, uint64_t hpa,
                uint64_t size, unsigned perms, unsigned mt)
{
    GError *err = NULL;
    bool ok = mmu_ept_map(b, gpa, hpa, size, perms, mt, &err);

    CU_ASSERT_EQUAL(ok, err == NULL);
    if (err != NULL) {
        fprintf(stderr, "map: %s\n", err->message);
        g_error_free(err);
    }
    return ok;
}

static bool unmap(struct mmu_ept_builder *b, uint64_t gpa, uint64_t size)
{
    GError *err = NULL;
    bool ok = mmu_ept_unmap(b, gpa, size, &err);

    CU_ASSERT_EQUAL(ok, err == NULL);
    g_clear_error(&err);
    return ok;
}

/* The leaf entry for @gpa, read by following the tables by hand. */
static uint64_t leaf_of(struct fake_mach *m, uint64_t eptp, uint64_t gpa,
                        unsigned *level /* out */)
{
    uint64_t table = eptp & 0x3ffffffff000ull;

    for (unsigned l = 0; l < 4; l++) {
        uint64_t e = fake_get(m, table + ((gpa >> (39 - 9 * l)) & 0x1ff) * 8);

        if (l == 3 || (l > 0 && (e & MMU_EPT_PS)) || !(e & 7)) {
            *level = l;
            return e;
        }
        table = e & 0x3ffffffff000ull;
    }
    return 0;
}

/* Expects a successful walk to @hpa with page size 1 << @shift. */
static void expect_map(struct fake_mach *m, uint64_t eptp, uint64_t gpa,
                       enum mmu_access acc, uint64_t hpa, unsigned shift)
{
    struct mmu_ept_result r;

    CU_ASSERT_TRUE(walk(m, eptp, gpa, acc, &r));
    CU_ASSERT_EQUAL(r.hpa, hpa);
    CU_ASSERT_EQUAL(r.page_shift, shift);
}

/* Expects an EPT violation with exactly @qual in bits 0..5. */
static void expect_violation(struct fake_mach *m, uint64_t eptp, uint64_t gpa,
                             enum mmu_access acc, uint64_t qual)
{
    struct mmu_ept_result r;

    CU_ASSERT_FALSE(walk(m, eptp, gpa, acc, &r));
    CU_ASSERT_FALSE(r.misconfig);
    CU_ASSERT_EQUAL(mmu_ept_violation_qualification(acc, &r), qual);
}

static void test_builder_eptp(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t pml4 = MBASE + MSIZE / 2;
    uint64_t eptp = mmu_ept_builder_eptp(b, false);

    CU_ASSERT_EQUAL(m->allocs, 1);
    CU_ASSERT_EQUAL(eptp, pml4 | 0x1e);
    CU_ASSERT_EQUAL(mmu_ept_builder_eptp(b, true), pml4 | 0x5e);
    CU_ASSERT_TRUE(mmu_eptp_valid(eptp));
    CU_ASSERT_TRUE(mmu_eptp_valid(mmu_ept_builder_eptp(b, true)));
    /* The allocator's 0xff fill was cleared: nothing is mapped. */
    expect_violation(m, eptp, 0, MMU_READ, 0x01);
    mmu_ept_builder_free(b);
    fake_free(m);
}

static void test_builder_4k(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    unsigned level;
    uint64_t e;

    CU_ASSERT_TRUE(map(b, T_GPA & ~0xfffull, T_FRAME_4K, 0x1000,
                       MMU_EPT_R | MMU_EPT_W, MMU_EPT_MT_WB));
    CU_ASSERT_EQUAL(m->allocs, 4);
    expect_map(m, eptp, T_GPA, MMU_READ, T_FRAME_4K | 0x9ab, 12);
    expect_map(m, eptp, T_GPA, MMU_WRITE, T_FRAME_4K | 0x9ab, 12);
    expect_violation(m, eptp, T_GPA, MMU_EXEC, 0x1c);
    expect_violation(m, eptp, T_GPA + 0x1000, MMU_READ, 0x01);
    expect_violation(m, eptp, T_GPA - 0x1000, MMU_READ, 0x01);
    e = leaf_of(m, eptp, T_GPA, &level);
    CU_ASSERT_EQUAL(level, 3);
    CU_ASSERT_EQUAL(e, T_FRAME_4K | T_WB | 3);
    mmu_ept_builder_free(b);
    fake_free(m);
}

static void test_builder_2m(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    uint64_t g = 0x40000000ull; /* 1 GiB */
    uint64_t h = 0x7ac00000ull; /* 2 MiB aligned */
    unsigned level;

    /* Two 2 MiB pages and two 4 KiB pages. */
    CU_ASSERT_TRUE(map(b, g, h, 4 * MIB + 0x2000, 7, MMU_EPT_MT_WB));
    CU_ASSERT_EQUAL(m->allocs, 4);
    expect_map(m, eptp, g + 0x123, MMU_EXEC, h + 0x123, 21);
    expect_map(m, eptp, g + 3 * MIB, MMU_WRITE, h + 3 * MIB, 21);
    expect_map(m, eptp, g + 4 * MIB + 0x1fff, MMU_READ, h + 4 * MIB + 0x1fff,
               12);
    expect_violation(m, eptp, g + 4 * MIB + 0x2000, MMU_READ, 0x01);
    CU_ASSERT_EQUAL(leaf_of(m, eptp, g, &level), h | MMU_EPT_PS | T_WB | 7);
    CU_ASSERT_EQUAL(level, 2);

    /* Machine side only 4 KiB aligned: 4 KiB pages, one new table. */
    CU_ASSERT_TRUE(map(b, g + 8 * MIB, h + 0x1000, 2 * MIB, 7, 6));
    CU_ASSERT_EQUAL(m->allocs, 5);
    for (uint64_t off = 0; off < 2 * MIB; off += 0x1000) {
        expect_map(m, eptp, g + 8 * MIB + off, MMU_READ, h + 0x1000 + off, 12);
    }
    /* Guest side only 4 KiB aligned: 4 KiB pages across two tables. */
    CU_ASSERT_TRUE(map(b, g + 12 * MIB + 0x1000, h, 2 * MIB, 7, 6));
    CU_ASSERT_EQUAL(m->allocs, 7);
    expect_map(m, eptp, g + 14 * MIB, MMU_READ, h + 2 * MIB - 0x1000, 12);
    /* A 2 MiB page reached through the walk with a 1 GiB index > 0. */
    CU_ASSERT_TRUE(map(b, 0x1f3ull << 30, h, 2 * MIB, 5, 6));
    expect_map(m, eptp, (0x1f3ull << 30) + 5, MMU_EXEC, h + 5, 21);
    expect_violation(m, eptp, (0x1f3ull << 30) + 5, MMU_WRITE, 0x2a);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* Execute-only and UC mappings come out as asked. */
static void test_builder_perms_memtype(void)
{
    static const unsigned perms[5] = {1, 3, 4, 5, 7};
    static const unsigned types[5] = {0, 1, 4, 5, 6};
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    struct mmu_ept_result r;
    unsigned level;

    for (unsigned i = 0; i < 5; i++) {
        for (unsigned j = 0; j < 5; j++) {
            uint64_t gpa = (i * 5 + j) * 0x1000ull;

            CU_ASSERT_TRUE(
                map(b, gpa, 0x80000000ull + gpa, 0x1000, perms[i], types[j]));
            CU_ASSERT_EQUAL(leaf_of(m, eptp, gpa, &level),
                            (0x80000000ull + gpa) | perms[i] |
                                ((uint64_t)types[j] << 3));
            for (unsigned a = 0; a < 3; a++) {
                CU_ASSERT_EQUAL(walk(m, eptp, gpa, all_acc[a], &r),
                                (perms[i] >> a) & 1);
            }
        }
    }
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* Unmapping part of a 2 MiB page splits it into 512 4 KiB pages. */
static void test_builder_unmap_split(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    uint64_t g = 0x200000ull, h = 0x10600000ull;
    unsigned level;

    CU_ASSERT_TRUE(map(b, g, h, 4 * MIB, MMU_EPT_R | MMU_EPT_X, 6));
    CU_ASSERT_EQUAL(m->allocs, 3);
    CU_ASSERT_TRUE(unmap(b, g + 0x5000, 0x2000));
    CU_ASSERT_EQUAL(m->allocs, 4);
    expect_violation(m, eptp, g + 0x5000, MMU_READ, 0x01);
    expect_violation(m, eptp, g + 0x6fff, MMU_EXEC, 0x04);
    expect_map(m, eptp, g + 0x4fff, MMU_READ, h + 0x4fff, 12);
    expect_map(m, eptp, g + 0x7000, MMU_EXEC, h + 0x7000, 12);
    expect_map(m, eptp, g + 0x1ff000, MMU_READ, h + 0x1ff000, 12);
    expect_violation(m, eptp, g + 0x7000, MMU_WRITE, 0x2a);
    /* The split pages keep the permissions and memory type. */
    CU_ASSERT_EQUAL(leaf_of(m, eptp, g + 0x8000, &level),
                    (h + 0x8000) | T_WB | 5);
    CU_ASSERT_EQUAL(level, 3);
    for (uint64_t off = 0; off < 2 * MIB; off += 0x1000) {
        struct mmu_ept_result r;
        bool hole = off == 0x5000 || off == 0x6000;

        CU_ASSERT_EQUAL(walk(m, eptp, g + off, MMU_READ, &r), !hole);
        if (!hole) {
            CU_ASSERT_EQUAL(r.hpa, h + off);
        }
    }
    /* The other 2 MiB page is untouched. */
    expect_map(m, eptp, g + 2 * MIB, MMU_READ, h + 2 * MIB, 21);

    /* Unmapping a whole 2 MiB page clears the PDE, no split. */
    CU_ASSERT_TRUE(unmap(b, g + 2 * MIB, 2 * MIB));
    CU_ASSERT_EQUAL(m->allocs, 4);
    CU_ASSERT_EQUAL(leaf_of(m, eptp, g + 2 * MIB, &level), 0);
    CU_ASSERT_EQUAL(level, 2);
    expect_violation(m, eptp, g + 2 * MIB, MMU_WRITE, 0x02);

    /* Unmapping what was never mapped allocates nothing. */
    CU_ASSERT_TRUE(unmap(b, 0x100000000ull, 3ull << 30));
    CU_ASSERT_TRUE(unmap(b, 0, 0x1000));
    CU_ASSERT_EQUAL(m->allocs, 4);

    /* Unmapping the whole split range clears every PTE. */
    CU_ASSERT_TRUE(unmap(b, g, 2 * MIB));
    for (uint64_t off = 0; off < 2 * MIB; off += 0x1000) {
        struct mmu_ept_result r;

        CU_ASSERT_FALSE(walk(m, eptp, g + off, MMU_READ, &r));
    }
    mmu_ept_builder_free(b);
    fake_free(m);
}

/*
 * The builder never makes 1 GiB pages, but splits one it finds (planted
 * here by hand): into 2 MiB pages, and the one touched into 4 KiB pages.
 */
static void test_builder_split_1g(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    uint64_t h = 3ull << 30;
    uint64_t pdpte;

    CU_ASSERT_TRUE(map(b, 0, 0, 0x1000, 7, 6));
    pdpte = (fake_get(m, eptp & ~0xfffull) & ~0xfffull);
    fake_set(m, pdpte, h | MMU_EPT_PS | MMU_EPT_A | T_WB | 5);
    expect_map(m, eptp, 0x12345678, MMU_READ, h + 0x12345678, 30);
    m->allocs = 0;
    CU_ASSERT_TRUE(unmap(b, 0x1000, 0x1000));
    CU_ASSERT_EQUAL(m->allocs, 2);
    expect_violation(m, eptp, 0x1000, MMU_READ, 0x01);
    expect_map(m, eptp, 0x0, MMU_EXEC, h, 12);
    expect_map(m, eptp, 0x2000, MMU_READ, h + 0x2000, 12);
    expect_map(m, eptp, 2 * MIB + 5, MMU_READ, h + 2 * MIB + 5, 21);
    expect_map(m, eptp, (1ull << 30) - 1, MMU_READ, h + (1ull << 30) - 1, 21);
    expect_violation(m, eptp, 0x12345678, MMU_WRITE, 0x2a);
    expect_violation(m, eptp, 1ull << 30, MMU_READ, 0x01);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* Remapping replaces mappings; a split slot is refilled, not orphaned. */
static void test_builder_remap(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, false);
    uint64_t h1 = 0x20000000ull, h2 = 0x30000000ull;

    CU_ASSERT_TRUE(map(b, 0, h1, 2 * MIB, 3, 6));
    CU_ASSERT_TRUE(map(b, 0x3000, 0x7777000ull, 0x1000, 1, 0));
    CU_ASSERT_EQUAL(m->allocs, 4);
    expect_map(m, eptp, 0x3010, MMU_READ, 0x7777010ull, 12);
    expect_violation(m, eptp, 0x3010, MMU_WRITE, 0x0a);
    expect_map(m, eptp, 0x2010, MMU_WRITE, h1 + 0x2010, 12);

    CU_ASSERT_TRUE(map(b, 0, h2, 2 * MIB, 7, 6));
    CU_ASSERT_EQUAL(m->allocs, 4);
    for (uint64_t off = 0; off < 2 * MIB; off += 0x1000) {
        expect_map(m, eptp, off, MMU_EXEC, h2 + off, 12);
    }
    /* A 2 MiB page over a 2 MiB page stays one page. */
    CU_ASSERT_TRUE(map(b, 2 * MIB, h1, 2 * MIB, 7, 6));
    CU_ASSERT_TRUE(map(b, 2 * MIB, h2, 2 * MIB, 1, 6));
    CU_ASSERT_EQUAL(m->allocs, 4);
    expect_map(m, eptp, 2 * MIB + 1, MMU_READ, h2 + 1, 21);
    expect_violation(m, eptp, 2 * MIB + 1, MMU_WRITE, 0x0a);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* A deliberately misconfigured page, and undoing it. */
static void test_builder_misconfig(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, true);
    uint64_t g = 0xfe000000ull, h = 0x11000000ull;
    struct mmu_ept_result r;
    GError *err = NULL;

    CU_ASSERT_TRUE(map(b, g, h, 2 * MIB, 7, 0));
    CU_ASSERT_EQUAL(m->allocs, 3);
    CU_ASSERT_TRUE(mmu_ept_set_misconfig(b, g + 0x1234, &err));
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL(m->allocs, 4);
    for (unsigned a = 0; a < 3; a++) {
        CU_ASSERT_FALSE(walk(m, eptp, g + 0x1ff8, all_acc[a], &r));
        CU_ASSERT_TRUE(r.misconfig);
        CU_ASSERT_EQUAL(r.refs, 4);
        CU_ASSERT_EQUAL(m->writes, 0);
    }
    expect_map(m, eptp, g + 0x2000, MMU_WRITE, h + 0x2000, 12);
    expect_map(m, eptp, g + 0xfff, MMU_WRITE, h + 0xfff, 12);

    /* Unmapped: the tables are created for it. */
    CU_ASSERT_TRUE(mmu_ept_set_misconfig(b, 0xfee00000ull, &err));
    CU_ASSERT_EQUAL(m->allocs, 5);
    CU_ASSERT_FALSE(walk(m, eptp, 0xfee000b0ull, MMU_READ, &r));
    CU_ASSERT_TRUE(r.misconfig);
    CU_ASSERT_EQUAL(r.refs, 4);
    CU_ASSERT_FALSE(walk(m, eptp, 0xfee01000ull, MMU_READ, &r));
    CU_ASSERT_FALSE(r.misconfig);

    /* Unmap makes it a violation again; map makes it work. */
    CU_ASSERT_TRUE(unmap(b, 0xfee00000ull, 0x1000));
    expect_violation(m, eptp, 0xfee000b0ull, MMU_WRITE, 0x02);
    CU_ASSERT_TRUE(map(b, g + 0x1000, h + 0x1000, 0x1000, 3, 6));
    expect_map(m, eptp, g + 0x1ff8, MMU_WRITE, h + 0x1ff8, 12);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* Walks through builder tables set A and D when the EPTP asks for it. */
static void test_builder_ad(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    unsigned level;

    CU_ASSERT_TRUE(map(b, 0, 0x20000000ull, 4 * MIB, 7, 6));
    expect_map(m, mmu_ept_builder_eptp(b, false), 0x1000, MMU_WRITE,
               0x20001000ull, 21);
    CU_ASSERT_EQUAL(m->writes, 0);
    CU_ASSERT_EQUAL(leaf_of(m, mmu_ept_builder_eptp(b, false), 0, &level) &
                        (MMU_EPT_A | MMU_EPT_D),
                    0);
    expect_map(m, mmu_ept_builder_eptp(b, true), 0x1000, MMU_WRITE,
               0x20001000ull, 21);
    CU_ASSERT_EQUAL(m->writes, 3);
    CU_ASSERT_EQUAL(leaf_of(m, mmu_ept_builder_eptp(b, true), 0, &level) &
                        (MMU_EPT_A | MMU_EPT_D),
                    MMU_EPT_A | MMU_EPT_D);
    CU_ASSERT_EQUAL(leaf_of(m, mmu_ept_builder_eptp(b, true), 2 * MIB, &level) &
                        (MMU_EPT_A | MMU_EPT_D),
                    0);
    /* Splitting keeps A and D on the 4 KiB pages. */
    CU_ASSERT_TRUE(unmap(b, 0x1000, 0x1000));
    CU_ASSERT_EQUAL(leaf_of(m, mmu_ept_builder_eptp(b, true), 0x2000, &level) &
                        (MMU_EPT_A | MMU_EPT_D),
                    MMU_EPT_A | MMU_EPT_D);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/*
 * The VMM's usual layout: guest-physical 0-256 MiB at machine 256-512 MiB,
 * so a gpa is never its own hpa, with a 4 KiB-granular MMIO hole.
 */
static void test_layout_256m(void)
{
    const uint64_t guest_size = 256 * MIB, hbase = 256 * MIB;
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    uint64_t eptp = mmu_ept_builder_eptp(b, true);
    struct mmu_ept_result r;
    unsigned bad = 0;

    CU_ASSERT_TRUE(map(b, 0, hbase, guest_size, 7, MMU_EPT_MT_WB));
    CU_ASSERT_EQUAL(m->allocs, 3); /* PML4, PDPT, PD: 128 2 MiB pages */
    for (uint64_t gpa = 0; gpa < guest_size; gpa += 0x1000) {
        uint64_t probe = gpa | ((gpa >> 12) & 0xff8);

        if (!walk(m, eptp, probe, MMU_READ, &r) || r.hpa != probe + hbase ||
            r.hpa == probe || r.page_shift != 21 || r.refs != 3) {
            bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    expect_violation(m, eptp, guest_size, MMU_READ, 0x01);
    expect_violation(m, eptp, hbase + guest_size, MMU_WRITE, 0x02);
    expect_violation(m, eptp, ~0ull & ((1ull << MMU_MAXPHYADDR) - 1), MMU_EXEC,
                     0x04);

    /* The legacy VGA hole traps: 0xa0000-0xfffff unmapped. */
    CU_ASSERT_TRUE(unmap(b, 0xa0000, 0x60000));
    CU_ASSERT_EQUAL(m->allocs, 4);
    for (uint64_t gpa = 0; gpa < 2 * MIB; gpa += 0x1000) {
        bool hole = gpa >= 0xa0000 && gpa < 0x100000;

        CU_ASSERT_EQUAL(walk(m, eptp, gpa, MMU_WRITE, &r), !hole);
        if (hole) {
            CU_ASSERT_EQUAL(mmu_ept_violation_qualification(MMU_WRITE, &r),
                            0x02);
        } else {
            CU_ASSERT_EQUAL(r.hpa, gpa + hbase);
            CU_ASSERT_EQUAL(r.page_shift, 12);
        }
    }
    expect_map(m, eptp, 2 * MIB, MMU_READ, 2 * MIB + hbase, 21);
    /* Every table lives in the allocator's machine pages. */
    CU_ASSERT_TRUE((eptp & ~0xfffull) >= MBASE + MSIZE / 2);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* Bad arguments: the error domain and code, and nothing allocated. */
static void test_builder_errors(void)
{
    const uint64_t lim = 1ull << MMU_MAXPHYADDR;
    static const struct {
        uint64_t gpa, hpa, size;
        unsigned perms, mt;
        int code;
    } cases[] = {
        {0x800, 0, 0x1000, 7, 6, MMU_ERROR_UNALIGNED},
        {0, 0x10, 0x1000, 7, 6, MMU_ERROR_UNALIGNED},
        {0, 0, 0x1001, 7, 6, MMU_ERROR_UNALIGNED},
        {0, 0, 0, 7, 6, MMU_ERROR_RANGE},
        {1ull << MMU_MAXPHYADDR, 0, 0x1000, 7, 6, MMU_ERROR_RANGE},
        {(1ull << MMU_MAXPHYADDR) - 0x1000, 0, 0x2000, 7, 6, MMU_ERROR_RANGE},
        {0, (1ull << MMU_MAXPHYADDR) - 0x1000, 0x2000, 7, 6, MMU_ERROR_RANGE},
        {0x1000, 0, ~0xfffull, 7, 6, MMU_ERROR_RANGE},
        {0, 0, 0x1000, 0, 6, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 2, 6, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 6, 6, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 8 | 7, 6, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 7, 2, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 7, 3, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 7, 7, MMU_ERROR_INVALID},
        {0, 0, 0x1000, 7, 8, MMU_ERROR_INVALID},
    };
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b = builder_new(m);
    GError *err = NULL;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
        CU_ASSERT_FALSE(mmu_ept_map(b, cases[i].gpa, cases[i].hpa,
                                    cases[i].size, cases[i].perms, cases[i].mt,
                                    &err));
        CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, cases[i].code));
        g_clear_error(&err);
    }
    CU_ASSERT_FALSE(mmu_ept_unmap(b, 0x1800, 0x1000, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_UNALIGNED));
    g_clear_error(&err);
    CU_ASSERT_FALSE(mmu_ept_unmap(b, lim - 0x1000, 0x2000, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_RANGE));
    g_clear_error(&err);
    CU_ASSERT_FALSE(mmu_ept_set_misconfig(b, lim, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_RANGE));
    g_clear_error(&err);
    /* A NULL error pointer is allowed. */
    CU_ASSERT_FALSE(mmu_ept_map(b, 1, 0, 0x1000, 7, 6, NULL));
    CU_ASSERT_EQUAL(m->allocs, 1);
    /* The highest page is fine. */
    CU_ASSERT_TRUE(map(b, lim - 0x1000, lim - 0x1000, 0x1000, 7, 6));
    expect_map(m, mmu_ept_builder_eptp(b, false), lim - 1, MMU_READ, lim - 1,
               12);
    mmu_ept_builder_free(b);
    fake_free(m);
}

/* The allocator running out, or returning a page the builder can't use. */
static void test_builder_nomem(void)
{
    struct fake_mach *m = fake_new();
    struct mmu_ept_builder *b;
    GError *err = NULL;

    m->alloc_left = 0;
    CU_ASSERT_PTR_NULL(mmu_ept_builder_new(fake_alloc, fake_page, m, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_NOMEM));
    g_clear_error(&err);

    m->alloc_left = 1;
    m->bad_page = true;
    CU_ASSERT_PTR_NULL(mmu_ept_builder_new(fake_alloc, fake_page, m, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_NOMEM));
    g_clear_error(&err);
    m->bad_page = false;

    /* PML4, PDPT, PD, but no page table. */
    m->alloc_left = 3;
    b = builder_new(m);
    CU_ASSERT_FALSE(mmu_ept_map(b, 0, 0, 0x1000, 7, 6, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_NOMEM));
    g_clear_error(&err);
    /* A 2 MiB page needs no more; splitting it does. */
    CU_ASSERT_TRUE(map(b, 2 * MIB, 0, 2 * MIB, 7, 6));
    CU_ASSERT_FALSE(mmu_ept_unmap(b, 2 * MIB, 0x1000, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_NOMEM));
    g_clear_error(&err);
    CU_ASSERT_FALSE(mmu_ept_set_misconfig(b, 2 * MIB, &err));
    CU_ASSERT_TRUE(g_error_matches(err, MMU_ERROR, MMU_ERROR_NOMEM));
    g_clear_error(&err);
    /* Nothing was torn: the 2 MiB page still works. */
    expect_map(m, mmu_ept_builder_eptp(b, false), 2 * MIB + 0x1000, MMU_READ,
               0x1000, 21);
    mmu_ept_builder_free(b);
    fake_free(m);
}

static CU_TestInfo ept_tests[] = {
    {"4 KiB, 2 MiB, 1 GiB leaves", test_walk_leaves},
    {"ignored bits and top address bit", test_walk_ignored_bits},
    {"EPTP low bits", test_walk_eptp_low_bits},
    {"not present at each level", test_not_present},
    {"misconfig: write without read", test_misconfig_write_without_read},
    {"misconfig: bits 51:N", test_misconfig_phys_bits},
    {"misconfig: PML4E bits 7:3", test_misconfig_pml4e_bits},
    {"misconfig: table bits 6:3", test_misconfig_table_bits},
    {"misconfig: large-page low bits", test_misconfig_large_low_bits},
    {"misconfig: memory type", test_misconfig_memtype},
    {"misconfig: priority", test_misconfig_priority},
    {"misconfig: table outside RAM", test_misconfig_not_ram},
    {"execute-only", test_exec_only},
    {"violation qualifications, table", test_violation_table},
    {"violation qualifications, sweep", test_violation_sweep},
    {"qualification helper", test_qualification_helper},
    {"A/D disabled", test_ad_disabled},
    {"A/D enabled", test_ad_enabled},
    {"A/D only where missing", test_ad_partial},
    {"no A/D on failure", test_ad_not_on_failure},
    {"EPTP validation", test_eptp_valid},
    {"builder: EPTP", test_builder_eptp},
    {"builder: 4 KiB", test_builder_4k},
    {"builder: 2 MiB and mixed", test_builder_2m},
    {"builder: permissions and memory types", test_builder_perms_memtype},
    {"builder: unmap splits 2 MiB", test_builder_unmap_split},
    {"builder: splits a 1 GiB page", test_builder_split_1g},
    {"builder: remap", test_builder_remap},
    {"builder: misconfigured page", test_builder_misconfig},
    {"builder: A/D", test_builder_ad},
    {"builder: guest 0-256M at machine 256-512M", test_layout_256m},
    {"builder: argument errors", test_builder_errors},
    {"builder: allocation failure", test_builder_nomem},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_ept_suites[] = {
    {"mmu/ept", NULL, NULL, NULL, NULL, ept_tests},
    CU_SUITE_INFO_NULL,
};
