/*
 * paging.c: small edits to the live 4-level page tables (SDM 3A §4.5).
 *
 * The loader identity-maps guest RAM with 2 MiB pages and puts the tables
 * at the top of RAM; CR3 leads to them, and since RAM is identity-mapped
 * a table's physical address is also its virtual address.  New lower
 * levels come from a pool of zeroed pages in this file's BSS, so a program
 * that does not call these functions does not link this file or its pool.
 */
#include "rt-internal.h"

#define PAGING_POOL_PAGES 8
#define PAGING_ENTRIES 512
/* Flags of a non-leaf entry: the leaf decides the real permissions. */
#define PAGING_TABLE_FLAGS (RT_PTE_P | RT_PTE_W | RT_PTE_U)

static uint64_t paging_pool[PAGING_POOL_PAGES][PAGING_ENTRIES]
    __attribute__((aligned(4096)));
static unsigned paging_pool_used;

/*
 * Returns the table that entry index of table points to, allocating it if
 * create is set and the entry is not present; NULL if the entry maps a
 * large page, is absent (and create is clear) or the pool is used up.
 */
static uint64_t *paging_next(uint64_t *table, unsigned index, bool create)
{
    uint64_t entry = table[index];
    uint64_t *next;

    if (entry & RT_PTE_P) {
        if (entry & RT_PTE_PS) {
            return NULL;
        }
        return (uint64_t *)(uintptr_t)(entry & RT_PTE_ADDR);
    }
    if (!create || paging_pool_used == PAGING_POOL_PAGES) {
        return NULL;
    }
    next = paging_pool[paging_pool_used++];
    table[index] = (uintptr_t)next | PAGING_TABLE_FLAGS;
    return next;
}

/* Walks PML4, PDPT and PD to the page table holding va's entry. */
static uint64_t *paging_walk(uint64_t va, bool create)
{
    uint64_t *table = (uint64_t *)(uintptr_t)(rt_read_cr3() & RT_PTE_ADDR);
    int shift;

    for (shift = 39; shift > 12 && table != NULL; shift -= 9) {
        table =
            paging_next(table, (va >> shift) & (PAGING_ENTRIES - 1), create);
    }
    return table;
}

uint64_t *rt_pte_find(uint64_t va)
{
    uint64_t *pt = paging_walk(va, false);

    return pt ? &pt[(va >> 12) & (PAGING_ENTRIES - 1)] : NULL;
}

int rt_map_4k(uint64_t va, uint64_t pa, uint64_t flags)
{
    uint64_t *pt = paging_walk(va, true);

    if (pt == NULL) {
        return -1;
    }
    pt[(va >> 12) & (PAGING_ENTRIES - 1)] =
        (pa & RT_PTE_ADDR) | (flags & ~RT_PTE_ADDR) | RT_PTE_P;
    return 0;
}
