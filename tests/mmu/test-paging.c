/*
 * tests/mmu/test-paging.c: unit tests for mmu/paging.c, the IA-32e page
 * walk.  Page tables are built in a 2 MiB fake guest-physical memory whose
 * callbacks count reads and writes, so each test can check the
 * translation, the exact #PF error code (SDM 3A §4.7), the accessed and
 * dirty flags (§4.8) and the number of entries read.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <CUnit/CUnit.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"

#define FAKE_RAM_SIZE (2u << 20)

/* One table per level for the test address, at fixed physical addresses. */
#define T_PML4 0x1000ull
#define T_PDPT 0x2000ull
#define T_PD 0x3000ull
#define T_PT 0x4000ull

/* Indices 0x12, 0x34, 0x56, 0x78 at the four levels, offset 0x9ab. */
#define T_LA                                                                   \
    ((0x12ull << 39) | (0x34ull << 30) | (0x56ull << 21) | (0x78ull << 12) |   \
     0x9abull)

/* Page frames the leaves map (outside the fake RAM; never read). */
#define T_FRAME_4K 0x123456000ull
#define T_FRAME_2M (0x2a5ull << 21)
#define T_FRAME_1G (0x1f3ull << 30)

#define T_PRW (MMU_PTE_P | MMU_PTE_RW)
#define T_PRWU (MMU_PTE_P | MMU_PTE_RW | MMU_PTE_US)
#define T_AD (MMU_PTE_A | MMU_PTE_D)

struct fake_mem {
    uint8_t *ram;
    unsigned reads, writes;
};

static bool fake_read(void *opaque, uint64_t pa, uint64_t *val)
{
    struct fake_mem *m = opaque;

    m->reads++;
    if (pa >= FAKE_RAM_SIZE || (pa & 7) != 0) {
        return false;
    }
    memcpy(val, m->ram + pa, 8);
    return true;
}

static bool fake_write(void *opaque, uint64_t pa, uint64_t val)
{
    struct fake_mem *m = opaque;

    m->writes++;
    if (pa >= FAKE_RAM_SIZE || (pa & 7) != 0) {
        return false;
    }
    memcpy(m->ram + pa, &val, 8);
    return true;
}

static struct fake_mem *fake_new(void)
{
    struct fake_mem *m = g_new0(struct fake_mem, 1);

    m->ram = g_malloc0(FAKE_RAM_SIZE);
    return m;
}

static void fake_free(struct fake_mem *m)
{
    g_free(m->ram);
    g_free(m);
}

static uint64_t fake_get(struct fake_mem *m, uint64_t pa)
{
    uint64_t v;

    memcpy(&v, m->ram + pa, 8);
    return v;
}

static void fake_set(struct fake_mem *m, uint64_t pa, uint64_t v)
{
    memcpy(m->ram + pa, &v, 8);
}

/* Physical address of the entry for T_LA at @level (0 = PML4E). */
static uint64_t ent_pa(unsigned level)
{
    static const uint64_t tables[4] = {T_PML4, T_PDPT, T_PD, T_PT};

    return tables[level] + ((T_LA >> (39 - 9 * level)) & 0x1ff) * 8;
}

static uint64_t ent_get(struct fake_mem *m, unsigned level)
{
    return fake_get(m, ent_pa(level));
}

/*
 * Maps T_LA with a 4 KiB page: @flags[level] are the low (and XD) bits of
 * each entry, PML4E first.
 */
static void map_4k(struct fake_mem *m, const uint64_t flags[4])
{
    fake_set(m, ent_pa(0), T_PDPT | flags[0]);
    fake_set(m, ent_pa(1), T_PD | flags[1]);
    fake_set(m, ent_pa(2), T_PT | flags[2]);
    fake_set(m, ent_pa(3), T_FRAME_4K | flags[3]);
}

static void map_4k_all(struct fake_mem *m, uint64_t flags)
{
    const uint64_t f[4] = {flags, flags, flags, flags};

    map_4k(m, f);
}

/* Maps T_LA with a 2 MiB page (PDE with PS). */
static void map_2m(struct fake_mem *m, uint64_t flags)
{
    fake_set(m, ent_pa(0), T_PDPT | flags);
    fake_set(m, ent_pa(1), T_PD | flags);
    fake_set(m, ent_pa(2), T_FRAME_2M | MMU_PTE_PS | flags);
}

/* Maps T_LA with a 1 GiB page (PDPTE with PS). */
static void map_1g(struct fake_mem *m, uint64_t flags)
{
    fake_set(m, ent_pa(0), T_PDPT | flags);
    fake_set(m, ent_pa(1), T_FRAME_1G | MMU_PTE_PS | flags);
}

static bool walk(struct fake_mem *m, uint64_t cr0, uint64_t efer, uint64_t la,
                 enum mmu_access acc, bool user,
                 struct mmu_walk_result *r /* out */)
{
    struct mmu_paging pg = {
        .cr0 = CPU_CR0_PE | CPU_CR0_PG | cr0,
        .cr3 = T_PML4,
        .cr4 = CPU_CR4_PAE,
        .efer = CPU_EFER_LME | CPU_EFER_LMA | efer,
    };

    memset(r, 0xa5, sizeof(*r));
    m->reads = 0;
    m->writes = 0;
    return mmu_walk(&pg, la, acc, user, fake_read, fake_write, m, r);
}

/* Walks T_LA as a supervisor read with CR0.WP = 1 and EFER.NXE = 1. */
static bool walk_sr(struct fake_mem *m, struct mmu_walk_result *r)
{
    return walk(m, CPU_CR0_WP, CPU_EFER_NXE, T_LA, MMU_READ, false, r);
}

/* --- Translations ------------------------------------------------------ */

static void test_4k(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_4K | 0x9ab);
    CU_ASSERT_EQUAL(r.page_shift, 12);
    CU_ASSERT_EQUAL(r.refs, 4);
    CU_ASSERT_EQUAL(m->reads, 4);
    CU_ASSERT_EQUAL(r.pf_error, 0);
    CU_ASSERT_TRUE(r.writable);
    CU_ASSERT_TRUE(r.user);
    CU_ASSERT_TRUE(r.executable);
    CU_ASSERT_FALSE(r.dirty);
    fake_free(m);
}

static void test_2m(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_2m(m, T_PRWU);
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_2M | (T_LA & 0x1fffff));
    CU_ASSERT_EQUAL(r.page_shift, 21);
    CU_ASSERT_EQUAL(r.refs, 3);
    CU_ASSERT_EQUAL(m->reads, 3);
    fake_free(m);
}

static void test_1g(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_1g(m, T_PRWU);
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_1G | (T_LA & 0x3fffffff));
    CU_ASSERT_EQUAL(r.page_shift, 30);
    CU_ASSERT_EQUAL(r.refs, 2);
    CU_ASSERT_EQUAL(m->reads, 2);
    fake_free(m);
}

/* The PAT bit (bit 12 of a large leaf, bit 7 of a PTE) is not address. */
static void test_pat_bits(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_2m(m, T_PRW);
    fake_set(m, ent_pa(2), ent_get(m, 2) | (1ull << 12));
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_2M | (T_LA & 0x1fffff));

    map_1g(m, T_PRW);
    fake_set(m, ent_pa(1), ent_get(m, 1) | (1ull << 12));
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_1G | (T_LA & 0x3fffffff));

    map_4k_all(m, T_PRW);
    fake_set(m, ent_pa(3), ent_get(m, 3) | (1ull << 7));
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_4K | 0x9ab);
    CU_ASSERT_EQUAL(r.page_shift, 12);
    fake_free(m);
}

/* CR3 bits 11:0 (PCID or PWT/PCD) are not part of the PML4 base. */
static void test_cr3_low_bits(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;
    struct mmu_paging pg = {
        .cr0 = CPU_CR0_PE | CPU_CR0_PG,
        .cr3 = T_PML4 | 0xfff,
        .cr4 = CPU_CR4_PAE,
        .efer = CPU_EFER_LME | CPU_EFER_LMA,
    };

    map_4k_all(m, T_PRW);
    CU_ASSERT_TRUE(
        mmu_walk(&pg, T_LA, MMU_READ, false, fake_read, fake_write, m, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_4K | 0x9ab);
    fake_free(m);
}

/* A high-half canonical address indexes with bits 47:39. */
static void test_high_half(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;
    uint64_t la = 0xffff800000000000ull | (0x34ull << 30) | 0x123;

    fake_set(m, T_PML4 + 0x100 * 8, T_PDPT | T_PRW);
    fake_set(m, T_PDPT + 0x34 * 8, T_FRAME_1G | MMU_PTE_PS | T_PRW);
    CU_ASSERT_TRUE(walk(m, 0, 0, la, MMU_READ, false, &r));
    CU_ASSERT_EQUAL(r.pa, T_FRAME_1G | 0x123);
    fake_free(m);
}

/* Bits 62:52 are ignored; address bit MAXPHYADDR-1 is a valid bit. */
static void test_ignored_and_top_address_bits(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;
    const uint64_t hi = 0x7ffull << 52;
    const uint64_t top = 1ull << (MMU_MAXPHYADDR - 1);
    const uint64_t f[4] = {T_PRW | hi, T_PRW | hi, T_PRW | hi, T_PRW | hi};

    map_4k(m, f);
    fake_set(m, ent_pa(3), ent_get(m, 3) | top);
    CU_ASSERT_TRUE(walk(m, 0, 0, T_LA, MMU_READ, false, &r));
    CU_ASSERT_EQUAL(r.pa, top | T_FRAME_4K | 0x9ab);
    fake_free(m);
}

/* --- Not present ------------------------------------------------------- */

static void test_not_present(void)
{
    static const struct {
        enum mmu_access acc;
        bool user;
        uint64_t efer;
        uint32_t pfec;
    } cases[] = {
        {MMU_READ, false, 0, 0},
        {MMU_WRITE, false, 0, MMU_PFEC_W},
        {MMU_READ, true, 0, MMU_PFEC_U},
        {MMU_WRITE, true, 0, MMU_PFEC_W | MMU_PFEC_U},
        {MMU_EXEC, false, 0, 0},
        {MMU_EXEC, true, 0, MMU_PFEC_U},
        {MMU_EXEC, false, CPU_EFER_NXE, MMU_PFEC_ID},
        {MMU_EXEC, true, CPU_EFER_NXE, MMU_PFEC_ID | MMU_PFEC_U},
    };
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    for (unsigned level = 0; level < 4; level++) {
        for (size_t i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
            uint64_t f[4] = {T_PRWU, T_PRWU, T_PRWU, T_PRWU};

            /* Reserved bits are not checked in a not-present entry. */
            f[level] = (T_PRWU & ~MMU_PTE_P) | MMU_PTE_PS | (0x3full << 46);
            map_4k(m, f);
            CU_ASSERT_FALSE(walk(m, CPU_CR0_WP, cases[i].efer, T_LA,
                                 cases[i].acc, cases[i].user, &r));
            CU_ASSERT_EQUAL(r.pf_error, cases[i].pfec);
            CU_ASSERT_EQUAL(r.refs, level + 1);
            CU_ASSERT_EQUAL(m->reads, level + 1);
            CU_ASSERT_EQUAL(m->writes, 0);
        }
    }
    fake_free(m);
}

/* --- Access rights ----------------------------------------------------- */

/*
 * Hand-checked cases (SDM 3A §4.6.1).  @clear_us, @clear_rw and @set_xd
 * are masks of the levels (bit 0 = PML4E, bit 3 = PTE) whose U/S or R/W
 * is cleared or whose XD is set; pfec is the expected error code, or -1
 * if the access is allowed.
 */
static void test_rights_table(void)
{
    static const struct {
        bool user;
        enum mmu_access acc;
        bool wp, nxe;
        unsigned clear_us, clear_rw, set_xd;
        int pfec;
    } cases[] = {
        /* User access needs U/S at every level. */
        {true, MMU_READ, true, true, 0x0, 0x0, 0x0, -1},
        {true, MMU_READ, true, true, 0x1, 0x0, 0x0, 0x05},
        {true, MMU_READ, true, true, 0x4, 0x0, 0x0, 0x05},
        {true, MMU_READ, false, false, 0x8, 0x0, 0x0, 0x05},
        {true, MMU_WRITE, true, true, 0x2, 0x0, 0x0, 0x07},
        {true, MMU_EXEC, true, true, 0x8, 0x0, 0x0, 0x15},
        {true, MMU_EXEC, false, false, 0x8, 0x0, 0x0, 0x05},
        /* User write needs R/W at every level, whatever CR0.WP. */
        {true, MMU_WRITE, false, false, 0x0, 0x1, 0x0, 0x07},
        {true, MMU_WRITE, true, false, 0x0, 0x4, 0x0, 0x07},
        {true, MMU_WRITE, false, true, 0x0, 0x8, 0x0, 0x07},
        {true, MMU_READ, true, true, 0x0, 0xf, 0x0, -1},
        {true, MMU_EXEC, true, true, 0x0, 0xf, 0x0, -1},
        /* Supervisor may touch user pages (no SMEP/SMAP). */
        {false, MMU_READ, true, true, 0x0, 0x0, 0x0, -1},
        {false, MMU_WRITE, true, true, 0x0, 0x0, 0x0, -1},
        {false, MMU_EXEC, true, true, 0x0, 0x0, 0x0, -1},
        {false, MMU_READ, true, true, 0xf, 0x0, 0x0, -1},
        /* Supervisor write to read-only: only with CR0.WP = 1. */
        {false, MMU_WRITE, false, false, 0xf, 0x1, 0x0, -1},
        {false, MMU_WRITE, false, true, 0x0, 0x8, 0x0, -1},
        {false, MMU_WRITE, true, false, 0xf, 0x1, 0x0, 0x03},
        {false, MMU_WRITE, true, true, 0x0, 0x2, 0x0, 0x03},
        {false, MMU_WRITE, true, true, 0x0, 0x8, 0x0, 0x03},
        /* Fetch from XD at any level faults when NXE = 1, with I/D. */
        {false, MMU_EXEC, true, true, 0x0, 0x0, 0x1, 0x11},
        {false, MMU_EXEC, false, true, 0x0, 0x0, 0x4, 0x11},
        {true, MMU_EXEC, true, true, 0x0, 0x0, 0x8, 0x15},
        {true, MMU_READ, true, true, 0x0, 0x0, 0xf, -1},
        {true, MMU_WRITE, true, true, 0x0, 0x0, 0xf, -1},
        /* XD with NXE = 0 is reserved: RSVD | P, never I/D. */
        {false, MMU_READ, true, false, 0x0, 0x0, 0x8, 0x09},
        {false, MMU_EXEC, true, false, 0x0, 0x0, 0x1, 0x09},
        {true, MMU_WRITE, true, false, 0x0, 0x0, 0x2, 0x0f},
        /* A user fault and a rights fault together: one P error code. */
        {true, MMU_WRITE, true, true, 0x1, 0x2, 0x0, 0x07},
        {true, MMU_EXEC, true, true, 0x1, 0x0, 0x2, 0x15},
    };
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    for (size_t i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
        uint64_t f[4];
        bool ok;

        for (unsigned l = 0; l < 4; l++) {
            f[l] = T_PRWU;
            f[l] &= (cases[i].clear_us >> l) & 1 ? ~MMU_PTE_US : ~0ull;
            f[l] &= (cases[i].clear_rw >> l) & 1 ? ~MMU_PTE_RW : ~0ull;
            f[l] |= (cases[i].set_xd >> l) & 1 ? MMU_PTE_XD : 0;
        }
        map_4k(m, f);
        ok = walk(m, cases[i].wp ? CPU_CR0_WP : 0,
                  cases[i].nxe ? CPU_EFER_NXE : 0, T_LA, cases[i].acc,
                  cases[i].user, &r);
        if (cases[i].pfec < 0) {
            CU_ASSERT_TRUE(ok);
            CU_ASSERT_EQUAL(r.pf_error, 0);
        } else {
            CU_ASSERT_FALSE(ok);
            CU_ASSERT_EQUAL(r.pf_error, (uint32_t)cases[i].pfec);
        }
        if (ok != (cases[i].pfec < 0) ||
            (!ok && r.pf_error != (uint32_t)cases[i].pfec)) {
            fprintf(stderr, "\n  rights case %zu: pf_error %#x\n", i,
                    ok ? 0 : r.pf_error);
        }
    }
    fake_free(m);
}

/*
 * Every combination of CPL × access × CR0.WP × EFER.NXE with U/S clear,
 * R/W clear and XD set each at no level or at one of the four levels,
 * against the rules of SDM 3A §4.6.1 written out case by case.
 */
static void test_rights_sweep(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    for (unsigned bits = 0; bits < 2 * 3 * 2 * 2; bits++) {
        bool user = bits & 1;
        enum mmu_access acc = (enum mmu_access)((bits >> 1) % 3);
        bool wp = (bits / 6) & 1;
        bool nxe = (bits / 12) & 1;

        for (unsigned us = 0; us <= 4; us++) {
            for (unsigned rw = 0; rw <= 4; rw++) {
                for (unsigned xd = 0; xd <= 4; xd++) {
                    uint64_t f[4] = {T_PRWU, T_PRWU, T_PRWU, T_PRWU};
                    uint32_t base = 0, want = 0;
                    bool ok;

                    /* Level 4 stands for "no level". */
                    if (us < 4) {
                        f[us] &= ~MMU_PTE_US;
                    }
                    if (rw < 4) {
                        f[rw] &= ~MMU_PTE_RW;
                    }
                    if (xd < 4) {
                        f[xd] |= MMU_PTE_XD;
                    }
                    base |= acc == MMU_WRITE ? MMU_PFEC_W : 0;
                    base |= user ? MMU_PFEC_U : 0;
                    base |= acc == MMU_EXEC && nxe ? MMU_PFEC_ID : 0;
                    if (xd < 4 && !nxe) {
                        want = base | MMU_PFEC_P | MMU_PFEC_RSVD;
                    } else if (user && us < 4) {
                        want = base | MMU_PFEC_P;
                    } else if (acc == MMU_WRITE && rw < 4 && (user || wp)) {
                        want = base | MMU_PFEC_P;
                    } else if (acc == MMU_EXEC && xd < 4) {
                        want = base | MMU_PFEC_P;
                    }

                    map_4k(m, f);
                    ok = walk(m, wp ? CPU_CR0_WP : 0, nxe ? CPU_EFER_NXE : 0,
                              T_LA, acc, user, &r);
                    CU_ASSERT_EQUAL(ok, want == 0);
                    CU_ASSERT_EQUAL(r.pf_error, want);
                    if (ok) {
                        CU_ASSERT_EQUAL(r.user, us == 4);
                        CU_ASSERT_EQUAL(r.writable, rw == 4 || (!user && !wp));
                        CU_ASSERT_EQUAL(r.executable, xd == 4);
                    } else {
                        CU_ASSERT_EQUAL(m->writes, 0);
                    }
                }
            }
        }
    }
    fake_free(m);
}

/* The result's rights flags on large pages combine the upper levels too. */
static void test_rights_large(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_2m(m, T_PRWU);
    fake_set(m, ent_pa(0), ent_get(m, 0) & ~MMU_PTE_RW);
    fake_set(m, ent_pa(1), ent_get(m, 1) | MMU_PTE_XD);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, CPU_EFER_NXE, T_LA, MMU_READ, true, &r));
    CU_ASSERT_FALSE(r.writable);
    CU_ASSERT_TRUE(r.user);
    CU_ASSERT_FALSE(r.executable);
    CU_ASSERT_FALSE(
        walk(m, CPU_CR0_WP, CPU_EFER_NXE, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);

    map_1g(m, T_PRW);
    CU_ASSERT_FALSE(walk(m, 0, 0, T_LA, MMU_READ, true, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_U);
    CU_ASSERT_EQUAL(r.refs, 2);
    fake_free(m);
}

/* --- Reserved bits ----------------------------------------------------- */

/* Sets @bits in the entry at @level and expects RSVD | P | @extra. */
static void check_rsvd(struct fake_mem *m, unsigned level, uint64_t bits,
                       uint64_t efer, enum mmu_access acc, bool user,
                       uint32_t extra)
{
    struct mmu_walk_result r;

    fake_set(m, ent_pa(level), ent_get(m, level) | bits);
    CU_ASSERT_FALSE(walk(m, CPU_CR0_WP, efer, T_LA, acc, user, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_RSVD | extra);
    CU_ASSERT_EQUAL(r.refs, level + 1);
    CU_ASSERT_EQUAL(m->writes, 0);
    fake_set(m, ent_pa(level), ent_get(m, level) & ~bits);
}

static void test_rsvd_xd_without_nxe(void)
{
    struct fake_mem *m = fake_new();

    map_4k_all(m, T_PRWU);
    for (unsigned level = 0; level < 4; level++) {
        check_rsvd(m, level, MMU_PTE_XD, 0, MMU_READ, false, 0);
        check_rsvd(m, level, MMU_PTE_XD, 0, MMU_WRITE, true,
                   MMU_PFEC_W | MMU_PFEC_U);
        check_rsvd(m, level, MMU_PTE_XD, 0, MMU_EXEC, false, 0);
    }
    fake_free(m);
}

static void test_rsvd_ps_in_pml4e(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    check_rsvd(m, 0, MMU_PTE_PS, 0, MMU_READ, false, 0);
    check_rsvd(m, 0, MMU_PTE_PS, 0, MMU_WRITE, true, MMU_PFEC_W | MMU_PFEC_U);
    check_rsvd(m, 0, MMU_PTE_PS, CPU_EFER_NXE, MMU_EXEC, true,
               MMU_PFEC_ID | MMU_PFEC_U);

    /*
     * Frame 0 has no bit a "512 GiB page" would reserve, so only the PS
     * rule itself can catch this one.
     */
    fake_set(m, ent_pa(0), MMU_PTE_PS | T_PRWU);
    fake_set(m, 0x34 * 8, T_FRAME_1G | MMU_PTE_PS | T_PRWU);
    CU_ASSERT_FALSE(walk(m, 0, 0, T_LA, MMU_READ, false, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_RSVD);
    CU_ASSERT_EQUAL(r.refs, 1);
    fake_free(m);
}

static void test_rsvd_phys_bits(void)
{
    struct fake_mem *m = fake_new();

    map_4k_all(m, T_PRWU);
    for (unsigned level = 0; level < 4; level++) {
        for (unsigned bit = MMU_MAXPHYADDR; bit <= 51; bit++) {
            check_rsvd(m, level, 1ull << bit, 0, MMU_READ, false, 0);
        }
    }
    map_2m(m, T_PRWU);
    check_rsvd(m, 2, 1ull << MMU_MAXPHYADDR, 0, MMU_READ, false, 0);
    map_1g(m, T_PRWU);
    check_rsvd(m, 1, 1ull << 51, 0, MMU_WRITE, false, MMU_PFEC_W);
    fake_free(m);
}

static void test_rsvd_large_low_bits(void)
{
    struct fake_mem *m = fake_new();

    map_2m(m, T_PRWU);
    for (unsigned bit = 13; bit <= 20; bit++) {
        check_rsvd(m, 2, 1ull << bit, 0, MMU_READ, false, 0);
    }
    map_1g(m, T_PRWU);
    for (unsigned bit = 13; bit <= 29; bit++) {
        check_rsvd(m, 1, 1ull << bit, 0, MMU_READ, true, MMU_PFEC_U);
    }
    fake_free(m);
}

/* Reserved bits win over access rights: the walk stops at the entry. */
static void test_rsvd_before_rights(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, MMU_PTE_P);
    fake_set(m, ent_pa(3), ent_get(m, 3) | (1ull << 50));
    CU_ASSERT_FALSE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_EQUAL(r.pf_error,
                    MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_W | MMU_PFEC_U);
    fake_free(m);
}

/* A table outside RAM faults like a reserved bit (model choice). */
static void test_table_not_ram(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    fake_set(m, ent_pa(1), 0x40000000ull | T_PRWU);
    CU_ASSERT_FALSE(walk(m, 0, 0, T_LA, MMU_WRITE, false, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_W);
    CU_ASSERT_EQUAL(r.refs, 3);
    CU_ASSERT_EQUAL(m->writes, 0);
    fake_free(m);
}

/* --- Accessed and dirty flags ------------------------------------------ */

static void test_accessed_on_read(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(m->writes, 4);
    for (unsigned level = 0; level < 4; level++) {
        CU_ASSERT_EQUAL(ent_get(m, level) & T_AD, MMU_PTE_A);
    }
    CU_ASSERT_FALSE(r.dirty);

    /* Already accessed: nothing is written back. */
    CU_ASSERT_TRUE(walk_sr(m, &r));
    CU_ASSERT_EQUAL(m->writes, 0);
    CU_ASSERT_EQUAL(r.refs, 4);
    fake_free(m);
}

static void test_dirty_on_write(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_TRUE(r.dirty);
    CU_ASSERT_TRUE(r.writable);
    CU_ASSERT_EQUAL(m->writes, 4);
    for (unsigned level = 0; level < 3; level++) {
        CU_ASSERT_EQUAL(ent_get(m, level) & T_AD, MMU_PTE_A);
    }
    CU_ASSERT_EQUAL(ent_get(m, 3) & T_AD, T_AD);
    CU_ASSERT_EQUAL(ent_get(m, 3) & ~T_AD, T_FRAME_4K | T_PRWU);

    /* A read afterwards reports the page dirty and writes nothing. */
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_READ, true, &r));
    CU_ASSERT_TRUE(r.dirty);
    CU_ASSERT_EQUAL(m->writes, 0);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_EQUAL(m->writes, 0);

    /* Accessed but clean leaf: a write updates only the leaf. */
    fake_set(m, ent_pa(3), ent_get(m, 3) & ~MMU_PTE_D);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_EQUAL(m->writes, 1);
    CU_ASSERT_EQUAL(ent_get(m, 3) & T_AD, T_AD);
    fake_free(m);
}

/* Fetches and reads never set D; a supervisor write with WP = 0 does. */
static void test_dirty_only_on_write(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_4k_all(m, T_PRWU);
    CU_ASSERT_TRUE(walk(m, 0, CPU_EFER_NXE, T_LA, MMU_EXEC, true, &r));
    CU_ASSERT_FALSE(r.dirty);
    CU_ASSERT_EQUAL(ent_get(m, 3) & T_AD, MMU_PTE_A);

    map_4k_all(m, MMU_PTE_P);
    CU_ASSERT_TRUE(walk(m, 0, 0, T_LA, MMU_WRITE, false, &r));
    CU_ASSERT_TRUE(r.dirty);
    CU_ASSERT_TRUE(r.writable);
    CU_ASSERT_EQUAL(ent_get(m, 3) & T_AD, T_AD);
    CU_ASSERT_EQUAL(ent_get(m, 2) & T_AD, MMU_PTE_A);
    fake_free(m);
}

static void test_dirty_large_leaf(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;

    map_2m(m, T_PRW);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, false, &r));
    CU_ASSERT_EQUAL(m->writes, 3);
    CU_ASSERT_EQUAL(ent_get(m, 0) & T_AD, MMU_PTE_A);
    CU_ASSERT_EQUAL(ent_get(m, 1) & T_AD, MMU_PTE_A);
    CU_ASSERT_EQUAL(ent_get(m, 2) & T_AD, T_AD);
    CU_ASSERT_TRUE(r.dirty);

    map_1g(m, T_PRW);
    CU_ASSERT_TRUE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, false, &r));
    CU_ASSERT_EQUAL(m->writes, 2);
    CU_ASSERT_EQUAL(ent_get(m, 0) & T_AD, MMU_PTE_A);
    CU_ASSERT_EQUAL(ent_get(m, 1) & T_AD, T_AD);
    CU_ASSERT_EQUAL(r.page_shift, 30);
    fake_free(m);
}

/* A faulting walk leaves every A and D flag as it was (model choice). */
static void test_no_ad_on_fault(void)
{
    struct fake_mem *m = fake_new();
    struct mmu_walk_result r;
    uint64_t before[4];

    map_4k_all(m, MMU_PTE_P | MMU_PTE_US);
    for (unsigned level = 0; level < 4; level++) {
        before[level] = ent_get(m, level);
    }
    CU_ASSERT_FALSE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_WRITE, true, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
    CU_ASSERT_EQUAL(r.refs, 4);
    CU_ASSERT_EQUAL(m->writes, 0);
    for (unsigned level = 0; level < 4; level++) {
        CU_ASSERT_EQUAL(ent_get(m, level), before[level]);
    }

    fake_set(m, ent_pa(3), 0);
    CU_ASSERT_FALSE(walk(m, CPU_CR0_WP, 0, T_LA, MMU_READ, true, &r));
    CU_ASSERT_EQUAL(r.pf_error, MMU_PFEC_U);
    CU_ASSERT_EQUAL(m->writes, 0);
    for (unsigned level = 0; level < 3; level++) {
        CU_ASSERT_EQUAL(ent_get(m, level), before[level]);
    }
    fake_free(m);
}

static CU_TestInfo paging_tests[] = {
    {"4 KiB page", test_4k},
    {"2 MiB page", test_2m},
    {"1 GiB page", test_1g},
    {"PAT bits are not address", test_pat_bits},
    {"CR3 low bits ignored", test_cr3_low_bits},
    {"high-half address", test_high_half},
    {"ignored and top address bits", test_ignored_and_top_address_bits},
    {"not present at each level", test_not_present},
    {"access rights, table", test_rights_table},
    {"access rights, sweep", test_rights_sweep},
    {"access rights, large pages", test_rights_large},
    {"reserved: XD with NXE=0", test_rsvd_xd_without_nxe},
    {"reserved: PS in PML4E", test_rsvd_ps_in_pml4e},
    {"reserved: address bits >= MAXPHYADDR", test_rsvd_phys_bits},
    {"reserved: large-page low bits", test_rsvd_large_low_bits},
    {"reserved bits before rights", test_rsvd_before_rights},
    {"table outside RAM", test_table_not_ram},
    {"A set on every level", test_accessed_on_read},
    {"D set on leaf on write", test_dirty_on_write},
    {"D only on write", test_dirty_only_on_write},
    {"A/D on large leaves", test_dirty_large_leaf},
    {"no A/D on faulting walk", test_no_ad_on_fault},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_mmu_suites[] = {
    {"mmu/paging", NULL, NULL, NULL, NULL, paging_tests},
    CU_SUITE_INFO_NULL,
};
