/*
 * pagefault.c (guest only): demand paging in the live 4-level tables.
 *
 * A #PF handler maps 4 KiB pages on demand in a virtual region above RAM
 * (0x40000000, unmapped by the loader), taking frames from a pool in BSS
 * and editing the tables reached through CR3 (rt_map_4k, rt_pte_find).
 * Each step prints the faults it took (offset into the region, error code)
 * and whether the data read back is right:
 *   demand reads and writes; unmap + invlpg + touch again; an alias of
 *   two pages on one frame; a write to a read-only page (WP); a fetch from
 *   an unmapped page and from an NX page; a read straddling two unmapped
 *   pages; accessed and dirty bits; a mapping change seen after a CR3
 *   reload; and a reserved bit set in a PTE.
 */
#include "rt.h"

#define REGION 0x40000000ull
#define PAGE 4096u
#define N_FRAMES 32
#define MAX_LOG 8
/* Page numbers (within REGION) of each step. */
#define DEMAND_PAGES 16
#define CODE_PAGE 10
#define STRADDLE_PAGE 20
#define AD_READ_PAGE 24
#define AD_WRITE_PAGE 25
#define CODE_OFFSET 0x100
/* A first qword the handler writes into each new frame: "PAGE" | n. */
#define SIGNATURE 0x5041474500000000ull
/* Bit 51: reserved while MAXPHYADDR <= 51 (SDM 3A §4.5, table 4-19). */
#define PTE_RESERVED_BIT (1ull << 51)

static uint8_t frames[N_FRAMES][PAGE] __attribute__((aligned(PAGE)));
static unsigned frames_used;

/* The faults since the last report. */
struct fault_log {
    unsigned count;
    uint64_t offset[MAX_LOG]; /* CR2 - REGION */
    uint64_t error[MAX_LOG];
};

static struct fault_log log_;
static unsigned total_faults;

static uint64_t page_va(unsigned page)
{
    return REGION + (uint64_t)page * PAGE;
}

static uint64_t *qword_at(uint64_t va)
{
    return (uint64_t *)(uintptr_t)va;
}

/* Code for the fetch test: mov $0x1234, %eax; ret. */
static const uint8_t code_bytes[] = {0xb8, 0x34, 0x12, 0x00, 0x00, 0xc3};

static void pf_handler(struct rt_trap_frame *frame)
{
    uint64_t cr2 = rt_read_cr2();
    uint64_t page = (cr2 - REGION) / PAGE;
    uint64_t *pte;
    uint8_t *f;

    total_faults++;
    if (log_.count < MAX_LOG) {
        log_.offset[log_.count] = cr2 - REGION;
        log_.error[log_.count] = frame->error_code;
    }
    log_.count++;
    if (cr2 < REGION || page >= 64 || total_faults > 100) {
        rt_printf("unexpected #PF at 0x%llx error 0x%llx rip 0x%llx\n",
                  (unsigned long long)cr2,
                  (unsigned long long)frame->error_code,
                  (unsigned long long)frame->rip);
        rt_exit(1);
    }
    if (frame->error_code & (RT_PF_PRESENT | RT_PF_RSVD)) {
        /* A protection or reserved-bit fault: lift the cause, retry. */
        pte = rt_pte_find(page_va((unsigned)page));
        *pte = (*pte | RT_PTE_W) & ~(RT_PTE_NX | PTE_RESERVED_BIT);
        rt_invlpg(page_va((unsigned)page));
        return;
    }
    if (frames_used == N_FRAMES) {
        rt_printf("out of frames\n");
        rt_exit(2);
    }
    f = frames[frames_used++];
    memset(f, 0, PAGE);
    *(uint64_t *)(void *)f = SIGNATURE | page;
    if (page == CODE_PAGE) {
        memcpy(f + CODE_OFFSET, code_bytes, sizeof(code_bytes));
    }
    if (rt_map_4k(page_va((unsigned)page), (uintptr_t)f, RT_PTE_W) != 0) {
        rt_printf("rt_map_4k failed\n");
        rt_exit(3);
    }
}

/* Prints and clears the fault log after a step. */
static void report(const char *step, bool ok)
{
    unsigned i;

    rt_printf("%-28s %s, %u fault%s", step, ok ? "ok" : "FAILED", log_.count,
              log_.count == 1 ? "" : "s");
    for (i = 0; i < log_.count && i < MAX_LOG; i++) {
        rt_printf("%s+0x%llx/%llx", i == 0 ? ": " : " ",
                  (unsigned long long)log_.offset[i],
                  (unsigned long long)log_.error[i]);
    }
    rt_printf("\n");
    memset(&log_, 0, sizeof(log_));
}

static uint64_t pattern(uint64_t va)
{
    return va ^ 0x5a5a5a5a5a5a5a5aull;
}

static void step_demand(void)
{
    unsigned p, i;
    bool ok = true;

    for (p = 0; p < DEMAND_PAGES; p++) {
        if (*qword_at(page_va(p)) != (SIGNATURE | p)) {
            ok = false;
        }
    }
    report("demand read 16 pages", ok);

    for (p = 0; p < DEMAND_PAGES; p++) {
        for (i = 0; i < PAGE; i += 8 * 17) {
            *qword_at(page_va(p) + i) = pattern(page_va(p) + i);
        }
    }
    for (p = 0; p < DEMAND_PAGES; p++) {
        for (i = 0; i < PAGE; i += 8 * 17) {
            if (*qword_at(page_va(p) + i) != pattern(page_va(p) + i)) {
                ok = false;
            }
        }
    }
    report("write and read back", ok);
}

static void step_unmap(void)
{
    uint64_t *pte = rt_pte_find(page_va(3));
    bool ok;

    *pte = 0;
    rt_invlpg(page_va(3));
    /* The fresh frame has the signature, not the old pattern. */
    ok = *qword_at(page_va(3)) == (SIGNATURE | 3);
    report("unmap, invlpg, touch", ok);
}

static void step_alias(void)
{
    uint64_t *pte5 = rt_pte_find(page_va(5));
    uint64_t *pte6 = rt_pte_find(page_va(6));
    bool ok;

    *pte5 = *pte6;
    rt_invlpg(page_va(5));
    *qword_at(page_va(6) + 8) = 0xa11a5;
    ok = *qword_at(page_va(5) + 8) == 0xa11a5 &&
         *qword_at(page_va(5)) == pattern(page_va(6));
    report("alias page 5 to 6's frame", ok);
}

static void step_write_protect(void)
{
    uint64_t *pte = rt_pte_find(page_va(7));
    bool ok;

    *pte &= ~RT_PTE_W;
    rt_invlpg(page_va(7));
    ok = *qword_at(page_va(7) + 136) == pattern(page_va(7) + 136);
    *qword_at(page_va(7) + 136) = 77;
    ok = ok && *qword_at(page_va(7) + 136) == 77 && (*pte & RT_PTE_W);
    report("write to read-only page", ok);
}

static void step_fetch(void)
{
    uint32_t (*code)(void) =
        (uint32_t(*)(void))(uintptr_t)(page_va(CODE_PAGE) + CODE_OFFSET);
    uint64_t *pte;
    uint32_t r;

    /* Page 10 was mapped by the demand step: unmap it first. */
    pte = rt_pte_find(page_va(CODE_PAGE));
    *pte = 0;
    rt_invlpg(page_va(CODE_PAGE));
    r = code();
    report("fetch from unmapped page", r == 0x1234);

    *pte |= RT_PTE_NX;
    rt_invlpg(page_va(CODE_PAGE));
    r = code();
    report("fetch from NX page", r == 0x1234 && !(*pte & RT_PTE_NX));
}

static void step_straddle(void)
{
    volatile uint64_t *p =
        (volatile uint64_t *)(uintptr_t)(page_va(STRADDLE_PAGE + 1) - 4);
    uint64_t v = *p;

    /*
     * The low 4 bytes come from the zeroed end of one new page, the high
     * 4 from the start of the next: the low half of its signature.
     */
    report("read straddling 2 pages", v == (uint64_t)(STRADDLE_PAGE + 1) << 32);
}

static void step_accessed_dirty(void)
{
    volatile uint64_t sink;
    uint64_t *pte_r, *pte_w;

    sink = *qword_at(page_va(AD_READ_PAGE));
    *qword_at(page_va(AD_WRITE_PAGE) + 8) = sink;
    pte_r = rt_pte_find(page_va(AD_READ_PAGE));
    pte_w = rt_pte_find(page_va(AD_WRITE_PAGE));
    rt_printf("accessed/dirty: read page A=%d D=%d, written page A=%d D=%d\n",
              !!(*pte_r & RT_PTE_A), !!(*pte_r & RT_PTE_D),
              !!(*pte_w & RT_PTE_A), !!(*pte_w & RT_PTE_D));
    report("accessed and dirty bits",
           (*pte_r & (RT_PTE_A | RT_PTE_D)) == RT_PTE_A &&
               (*pte_w & (RT_PTE_A | RT_PTE_D)) == (RT_PTE_A | RT_PTE_D));
}

static void step_cr3_reload(void)
{
    uint64_t *pte2 = rt_pte_find(page_va(2));
    uint64_t *pte4 = rt_pte_find(page_va(4));
    bool ok;

    /* Page 2 now maps page 4's frame; no invlpg, but a CR3 reload. */
    *pte2 = *pte4;
    rt_write_cr3(rt_read_cr3());
    ok = *qword_at(page_va(2)) == pattern(page_va(4));
    report("remap, reload CR3", ok);
}

static void step_reserved_bit(void)
{
    uint64_t *pte = rt_pte_find(page_va(8));
    bool ok;

    *pte |= PTE_RESERVED_BIT;
    rt_invlpg(page_va(8));
    ok = *qword_at(page_va(8)) == pattern(page_va(8));
    report("reserved bit 51 in a PTE", ok && !(*pte & PTE_RESERVED_BIT));
}

int main(void)
{
    if (rt_ram_size() > REGION) {
        rt_printf("RAM overlaps the test region\n");
        return 1;
    }
    rt_set_handler(RT_VEC_PF, pf_handler);

    step_demand();
    step_unmap();
    step_alias();
    step_write_protect();
    step_fetch();
    step_straddle();
    step_accessed_dirty();
    step_cr3_reload();
    step_reserved_bit();
    rt_printf("total page faults: %u, frames used: %u\n", total_faults,
              frames_used);
    return 0;
}
