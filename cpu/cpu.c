/*
 * cpu/cpu.c: the CPU object and its run loop.  Owns the decoded-block
 * cache (keyed by guest-physical address, chained to successors), the
 * software TLB from guest-linear page to host pointer, the slow paths of
 * memory access (page walks through mmu/, page-crossing and MMIO
 * accesses, writes to pages holding decoded code), and exception delivery
 * with the double-fault and triple-fault rules of SDM 3A §6.15.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "cpu/cpu-internal.h"
#include "mmu/mmu.h"

/* ---- Creation and state -------------------------------------------------- */

static const char *const cost_class_names[CPU_COST_NCLASSES] = {
    [CPU_COST_SIMPLE] = "simple",       [CPU_COST_LOAD] = "load",
    [CPU_COST_BRANCH] = "branch",       [CPU_COST_MUL] = "mul",
    [CPU_COST_DIV] = "div",             [CPU_COST_STRING] = "string",
    [CPU_COST_SERIAL] = "serial",       [CPU_COST_IO] = "io",
    [CPU_COST_EXCEPTION] = "exception", [CPU_COST_PAGEWALK] = "pagewalk",
};

const char *cpu_cost_class_name(enum cpu_cost_class cls)
{
    return cls < CPU_COST_NCLASSES ? cost_class_names[cls] : NULL;
}

static void tlb_invalidate_all(struct cpu *cpu)
{
    for (unsigned s = 0; s < 2; s++) {
        for (unsigned i = 0; i < CPU_TLB_SIZE; i++) {
            struct cpu_tlb_entry *e = &cpu->tlb_sets[s][i];

            e->tag_r = e->tag_w = e->tag_x = CPU_TLB_INVALID;
        }
    }
}

struct cpu *cpu_new(const struct cpu_env_ops *ops, void *opaque)
{
    struct cpu *cpu = g_new0(struct cpu, 1);

    cpu->ops = ops;
    cpu->opaque = opaque;
    cpu->decoder = cpu_decoder_new();
    g_assert(cpu->decoder != NULL);
    cpu->block_hash = g_new0(struct cpu_block *, CPU_BLOCK_HASH_SIZE);
    cpu->code_pages = g_hash_table_new_full(
        g_direct_hash, g_direct_equal, NULL,
        (GDestroyNotify)g_ptr_array_unref);
    for (unsigned i = 0; i < CPU_COST_NCLASSES; i++) {
        cpu->costs[i] = 1;
    }
    cpu->feat_lzcnt = cpu->feat_bmi1 = cpu->feat_popcnt = true;
    cpu->tlb = cpu->tlb_sets[0];
    tlb_invalidate_all(cpu);
    cpu->lf_op = CPU_LF_EAGER;
    cpu->rflags = 2;
    cpu->exc_error = -1;
    cpu->last_error = -1;
    cpu->apic_base = 0xfee00000 | (1u << 8) | (1u << 11);
    cpu->cr0 = CPU_CR0_ET | CPU_CR0_CD | CPU_CR0_NW;
    cpu->rip = 0xfff0;
    return cpu;
}

static void block_free_all(struct cpu *cpu);

void cpu_free(struct cpu *cpu)
{
    if (cpu == NULL) {
        return;
    }
    block_free_all(cpu);
    g_hash_table_destroy(cpu->code_pages);
    g_free(cpu->block_hash);
    g_free(cpu->block_graveyard);
    g_free(cpu->decoder);
    g_free(cpu);
}

void cpu_reset_long_mode(struct cpu *cpu, uint64_t cr3, uint64_t rip,
                         uint64_t rsp)
{
    memset(cpu->gpr, 0, sizeof(cpu->gpr));
    cpu->gpr[CPU_RSP] = rsp;
    cpu->rip = rip;
    cpu->rflags = 2;
    cpu->lf_op = CPU_LF_EAGER;
    cpu->cr0 = CPU_CR0_PE | CPU_CR0_MP | CPU_CR0_ET | CPU_CR0_NE |
               CPU_CR0_WP | CPU_CR0_PG;
    cpu->cr2 = 0;
    cpu->cr3 = cr3;
    cpu->cr4 = CPU_CR4_PAE;
    cpu->cr8 = 0;
    cpu->efer = CPU_EFER_LME | CPU_EFER_LMA | CPU_EFER_NXE;
    cpu->star = cpu->lstar = cpu->cstar = cpu->fmask = 0;
    cpu->kernel_gs_base = cpu->tsc_aux = 0;
    for (unsigned i = 0; i < CPU_NSREG; i++) {
        cpu_seg_flat(&cpu->seg[i], i == CPU_CS ? 0x08 : 0x10, 0,
                     i == CPU_CS);
    }
    memset(&cpu->ldtr, 0, sizeof(cpu->ldtr));
    memset(&cpu->tr, 0, sizeof(cpu->tr));
    cpu->gdtr.base = cpu->idtr.base = 0;
    cpu->gdtr.limit = cpu->idtr.limit = 0;
    cpu->segbase[0] = cpu->segbase[1] = cpu->segbase[2] = 0;
    cpu->halted = cpu->fatal = false;
    cpu->shutdown_reason = NULL;
    cpu->cpl = 0;
    cpu->tlb = cpu->tlb_sets[0];
    cpu_tlb_flush(cpu);
}

uint64_t cpu_gpr(const struct cpu *cpu, enum cpu_gpr reg)
{
    return cpu->gpr[reg];
}

void cpu_set_gpr(struct cpu *cpu, enum cpu_gpr reg, uint64_t value)
{
    g_assert(reg < CPU_NGPR);
    cpu->gpr[reg] = value;
}

uint64_t cpu_rip(const struct cpu *cpu)
{
    return cpu->rip;
}

void cpu_set_rip(struct cpu *cpu, uint64_t rip)
{
    cpu->rip = rip;
}

uint64_t cpu_rflags(const struct cpu *cpu)
{
    return cpu_flags_get(cpu);
}

void cpu_set_rflags(struct cpu *cpu, uint64_t rflags)
{
    cpu->rflags = (rflags & ~CPU_FLAGS_ARITH) | 2;
    cpu_flags_set_arith(cpu, rflags);
}

unsigned cpu_cpl(const struct cpu *cpu)
{
    return cpu->cpl;
}

uint64_t cpu_cr(const struct cpu *cpu, unsigned n)
{
    switch (n) {
    case 0:
        return cpu->cr0;
    case 2:
        return cpu->cr2;
    case 3:
        return cpu->cr3;
    case 4:
        return cpu->cr4;
    case 8:
        return cpu->cr8;
    default:
        return 0;
    }
}

void cpu_set_cpl(struct cpu *cpu, unsigned cpl)
{
    if (cpl != cpu->cpl) {
        cpu->cpl = cpl;
        cpu->tlb = cpu->tlb_sets[cpl == 3];
        cpu->code_gen++;
    }
}

void cpu_request_stop(struct cpu *cpu)
{
    cpu->stop_requested = 1;
    cpu->attention = 1;
}

void cpu_set_exception_exit(struct cpu *cpu, bool on)
{
    cpu->exception_exit = on;
}

void cpu_last_exception(const struct cpu *cpu, unsigned *vector,
                        int64_t *error_code, uint64_t *cr2)
{
    *vector = cpu->last_vector;
    *error_code = cpu->last_error;
    *cr2 = cpu->cr2;
}

uint64_t cpu_icount(const struct cpu *cpu)
{
    return cpu->icount;
}

uint64_t cpu_cycles(const struct cpu *cpu)
{
    return cpu->cycles;
}

void cpu_add_cycles(struct cpu *cpu, uint64_t cycles)
{
    cpu->cycles += cycles;
}

void cpu_set_costs(struct cpu *cpu, const uint32_t costs[CPU_COST_NCLASSES])
{
    memcpy(cpu->costs, costs, sizeof(cpu->costs));
    /* Blocks carry precomputed costs: decode them again. */
    block_free_all(cpu);
}

const char *cpu_stop_detail(const struct cpu *cpu)
{
    return cpu->shutdown_reason;
}

void cpu_unsupported_foreach(const struct cpu *cpu, cpu_unsupported_fn *fn,
                             void *opaque)
{
    for (unsigned i = 0; i < CPU_NMNEMONICS; i++) {
        if (cpu->unsupported[i] != 0) {
            fn(cpu_mnemonic_str(i), cpu->unsupported[i], opaque);
        }
    }
}

void cpu_get_stats(const struct cpu *cpu, struct cpu_stats *out)
{
    *out = cpu->stats;
}

/* ---- TLB and translation ------------------------------------------------- */

void cpu_tlb_flush(struct cpu *cpu)
{
    tlb_invalidate_all(cpu);
    cpu->code_gen++;
    cpu->stats.tlb_flushes++;
}

/*
 * INVLPG: the software TLB caches 4 KiB pieces of large pages under
 * separate entries, so a single-page flush could miss some; flush all.
 */
void cpu_tlb_flush_page(struct cpu *cpu, uint64_t la)
{
    (void)la;
    cpu_tlb_flush(cpu);
}

static bool pte_read(void *opaque, uint64_t pa, uint64_t *val)
{
    struct cpu *cpu = opaque;
    uint8_t *page = cpu->ops->ram_page(cpu->opaque, pa & ~0xfffull);

    if (page == NULL) {
        return false;
    }
    memcpy(val, page + (pa & 0xff8), 8);
    return true;
}

static void code_invalidate_page(struct cpu *cpu, uint64_t page_pa);

static bool pte_write(void *opaque, uint64_t pa, uint64_t val)
{
    struct cpu *cpu = opaque;
    uint8_t *page = cpu->ops->ram_page(cpu->opaque, pa & ~0xfffull);

    if (page == NULL) {
        return false;
    }
    code_invalidate_page(cpu, pa & ~0xfffull);
    memcpy(page + (pa & 0xff8), &val, 8);
    return true;
}

static bool is_code_page(struct cpu *cpu, uint64_t page_pa)
{
    return g_hash_table_contains(cpu->code_pages,
                                 GSIZE_TO_POINTER((page_pa >> 12) + 1));
}

/*
 * Translates @la for @acc at privilege @user, raising #GP(0) for a
 * non-canonical address and #PF (with CR2) when the walk fails.
 */
static enum cpu_status translate(struct cpu *cpu, uint64_t la,
                                 enum mmu_access acc, bool user,
                                 struct mmu_walk_result *res)
{
    struct mmu_paging pg = {cpu->cr0, cpu->cr3, cpu->cr4, cpu->efer};
    bool ok;

    if (SIM_UNLIKELY(!mmu_canonical(la))) {
        cpu_raise_gp0(cpu);
        cpu->exc_noncanonical = true;
        return CPU_FAULT;
    }
    cpu->stats.tlb_misses++;
    ok = mmu_walk(&pg, la, acc, user, pte_read, pte_write, cpu, res);
    cpu->cycles += (uint64_t)res->refs * cpu->costs[CPU_COST_PAGEWALK];
    if (!ok) {
        cpu->cr2 = la;
        return cpu_raise(cpu, CPU_EXC_PF, res->pf_error);
    }
    return CPU_OK;
}

/* Caches a successful walk in the current TLB set if @la is in RAM. */
static uint8_t *tlb_fill(struct cpu *cpu, uint64_t la,
                         const struct mmu_walk_result *res)
{
    uint64_t page_pa = res->pa & ~0xfffull;
    uint8_t *host = cpu->ops->ram_page(cpu->opaque, page_pa);
    struct cpu_tlb_entry *e;
    uint64_t page = la & ~0xfffull;

    if (host == NULL) {
        return NULL;
    }
    e = &cpu->tlb[(la >> 12) & (CPU_TLB_SIZE - 1)];
    e->addend = (uintptr_t)host - (uintptr_t)page;
    cpu->tlb_pa[cpu->tlb != cpu->tlb_sets[0]][e - cpu->tlb] = page_pa;
    e->tag_r = page;
    /* Writes hit only pages already dirty that hold no decoded code. */
    e->tag_w = res->writable && res->dirty && !is_code_page(cpu, page_pa)
                   ? page
                   : CPU_TLB_INVALID;
    e->tag_x = res->executable ? page : CPU_TLB_INVALID;
    return host + (la & 0xfff);
}

/* One access that stays inside a page, through a walk. */
static enum cpu_status access_page(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t *val, bool write,
                                   bool user)
{
    struct mmu_walk_result res;
    enum cpu_status st;
    uint8_t *host;

    st = translate(cpu, la, write ? MMU_WRITE : MMU_READ, user, &res);
    if (st != CPU_OK) {
        return st;
    }
    if (write) {
        code_invalidate_page(cpu, res.pa & ~0xfffull);
    }
    /* System-table accesses at CPL 3 must not fill the user TLB set. */
    if (user == (cpu->cpl == 3)) {
        host = tlb_fill(cpu, la, &res);
    } else {
        host = cpu->ops->ram_page(cpu->opaque, res.pa & ~0xfffull);
        host = host != NULL ? host + (la & 0xfff) : NULL;
    }
    if (host == NULL) {
        if (write) {
            cpu->ops->mmio_write(cpu->opaque, res.pa, size, *val);
        } else {
            *val = cpu->ops->mmio_read(cpu->opaque, res.pa, size);
        }
        return CPU_OK;
    }
    if (write) {
        cpu_host_store(host, size, *val);
    } else {
        *val = cpu_host_load(host, size);
    }
    return CPU_OK;
}

/*
 * Slow path of every access: a TLB miss, a page-crossing access (split in
 * two, both pages checked before anything is written), MMIO, or a write
 * to a page with decoded code.
 */
static enum cpu_status access_slow(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t *val, bool write,
                                   bool user)
{
    unsigned first = 4096 - (unsigned)(la & 0xfff);
    uint64_t lo, hi;
    enum cpu_status st;

    if (SIM_LIKELY(first >= size)) {
        return access_page(cpu, la, size, val, write, user);
    }
    if (write) {
        struct mmu_walk_result res;

        st = translate(cpu, la, MMU_WRITE, user, &res);
        if (st == CPU_OK) {
            st = translate(cpu, la + first, MMU_WRITE, user, &res);
        }
        if (st != CPU_OK) {
            return st;
        }
        for (unsigned i = 0; i < size; i++) {
            uint64_t b = (*val >> (8 * i)) & 0xff;

            st = access_page(cpu, la + i, 1, &b, true, user);
            if (st != CPU_OK) {
                return st;
            }
        }
        return CPU_OK;
    }
    lo = hi = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t b;

        st = access_page(cpu, la + i, 1, &b, false, user);
        if (st != CPU_OK) {
            return st;
        }
        if (i < 8) {
            lo |= b << (8 * i);
        }
    }
    (void)hi;
    *val = lo;
    return CPU_OK;
}

enum cpu_status cpu_mem_read_slow(struct cpu *cpu, uint64_t la,
                                  unsigned size, uint64_t *val)
{
    return access_slow(cpu, la, size, val, false, cpu->cpl == 3);
}

enum cpu_status cpu_mem_write_slow(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t val)
{
    return access_slow(cpu, la, size, &val, true, cpu->cpl == 3);
}

enum cpu_status cpu_mem_probe_write(struct cpu *cpu, uint64_t la,
                                    unsigned size)
{
    struct mmu_walk_result res;
    enum cpu_status st = translate(cpu, la, MMU_WRITE, cpu->cpl == 3, &res);

    if (st == CPU_OK && ((la & 0xfff) + size - 1) >= 4096) {
        st = translate(cpu, la + size - 1, MMU_WRITE, cpu->cpl == 3, &res);
    }
    return st;
}

enum cpu_status cpu_sys_read(struct cpu *cpu, uint64_t la, unsigned size,
                             uint64_t *val)
{
    return access_slow(cpu, la, size, val, false, false);
}

enum cpu_status cpu_sys_write(struct cpu *cpu, uint64_t la, unsigned size,
                              uint64_t val)
{
    return access_slow(cpu, la, size, &val, true, false);
}

enum cpu_status cpu_translate_fetch(struct cpu *cpu, uint64_t la,
                                    uint64_t *pa)
{
    struct cpu_tlb_entry *e = &cpu->tlb[(la >> 12) & (CPU_TLB_SIZE - 1)];
    struct mmu_walk_result res;
    enum cpu_status st;

    if (SIM_LIKELY(e->tag_x == (la & ~0xfffull))) {
        *pa = cpu->tlb_pa[cpu->tlb != cpu->tlb_sets[0]][e - cpu->tlb] |
              (la & 0xfff);
        return CPU_OK;
    }
    st = translate(cpu, la, MMU_EXEC, cpu->cpl == 3, &res);
    if (st != CPU_OK) {
        return st;
    }
    tlb_fill(cpu, la, &res);
    *pa = res.pa;
    return CPU_OK;
}

enum cpu_status cpu_fetch(struct cpu *cpu, uint64_t la, uint8_t *buf,
                          unsigned len, unsigned *got)
{
    *got = 0;
    while (*got < len) {
        uint64_t pa;
        uint8_t *page;
        unsigned chunk = 4096 - (unsigned)((la + *got) & 0xfff);
        enum cpu_status st = cpu_translate_fetch(cpu, la + *got, &pa);

        if (st != CPU_OK) {
            return st;
        }
        page = cpu->ops->ram_page(cpu->opaque, pa & ~0xfffull);
        if (page == NULL) {
            return CPU_OK;
        }
        if (chunk > len - *got) {
            chunk = len - *got;
        }
        memcpy(buf + *got, page + (pa & 0xfff), chunk);
        *got += chunk;
    }
    return CPU_OK;
}

/* ---- The decoded-block cache ---------------------------------------------- */

static unsigned block_hash_index(uint64_t pa)
{
    return (unsigned)((pa ^ (pa >> 16)) * 0x9e3779b1u) >>
           (32 - 16) & (CPU_BLOCK_HASH_SIZE - 1);
}

static GPtrArray *page_blocks(struct cpu *cpu, uint64_t page_pa, bool create)
{
    gpointer key = GSIZE_TO_POINTER((page_pa >> 12) + 1);
    GPtrArray *a = g_hash_table_lookup(cpu->code_pages, key);

    if (a == NULL && create) {
        a = g_ptr_array_new();
        g_hash_table_insert(cpu->code_pages, key, a);
        /* A page becoming code loses its fast-path write entries. */
        for (unsigned s = 0; s < 2; s++) {
            for (unsigned i = 0; i < CPU_TLB_SIZE; i++) {
                struct cpu_tlb_entry *e = &cpu->tlb_sets[s][i];

                if (cpu->tlb_pa[s][i] == page_pa) {
                    e->tag_w = CPU_TLB_INVALID;
                }
            }
        }
    }
    return a;
}

enum cpu_status cpu_thread_generic(struct cpu *cpu, const struct cpu_insn *in)
{
    enum cpu_status st = in->step(cpu, in);

    if (SIM_LIKELY(st == CPU_OK)) {
        return in[1].fn(cpu, in + 1);
    }
    cpu->fault_in = in;
    return st;
}

enum cpu_status cpu_op_block_end(struct cpu *cpu, const struct cpu_insn *in)
{
    return CPU_OK;
}

/* Stands in for the rest of a modified block: stop before running it. */
static enum cpu_status op_code_modified(struct cpu *cpu,
                                        const struct cpu_insn *in)
{
    cpu->fault_in = in;
    return CPU_SMC;
}

static void block_unhash(struct cpu *cpu, struct cpu_block *b)
{
    struct cpu_block **pp = &cpu->block_hash[block_hash_index(b->pa)];

    while (*pp != NULL && *pp != b) {
        pp = &(*pp)->hash_next;
    }
    if (*pp == b) {
        *pp = b->hash_next;
    }
}

/*
 * Kills one block: out of the hash, every instruction replaced by a stop
 * (it may be running right now), freed at the next block boundary.
 */
static void block_kill(struct cpu *cpu, struct cpu_block *b)
{
    if (b->dead) {
        return;
    }
    b->dead = true;
    block_unhash(cpu, b);
    for (unsigned i = 0; i < b->ninsns; i++) {
        b->insns[i].fn = b->insns[i].step = op_code_modified;
    }
    if (cpu->ngraveyard == cpu->graveyard_cap) {
        cpu->graveyard_cap = cpu->graveyard_cap ? cpu->graveyard_cap * 2 : 16;
        cpu->block_graveyard = g_renew(struct cpu_block *,
                                       cpu->block_graveyard,
                                       cpu->graveyard_cap);
    }
    cpu->block_graveyard[cpu->ngraveyard++] = b;
    cpu->attention = 1;
    cpu->stats.block_invalidations++;
}

static uint64_t block_last_page_pa(const struct cpu_block *b)
{
    return b->pa2 ? b->pa2 : (b->pa & ~0xfffull);
}

static void code_invalidate_page(struct cpu *cpu, uint64_t page_pa)
{
    gpointer key = GSIZE_TO_POINTER((page_pa >> 12) + 1);
    GPtrArray *a = g_hash_table_lookup(cpu->code_pages, key);

    if (a == NULL) {
        return;
    }
    g_ptr_array_ref(a);
    g_hash_table_remove(cpu->code_pages, key);
    for (unsigned i = 0; i < a->len; i++) {
        struct cpu_block *b = g_ptr_array_index(a, i);

        if (b->pa2 != 0) {
            /* A page-straddling block is listed on its other page too. */
            uint64_t other = (b->pa & ~0xfffull) == page_pa
                                 ? block_last_page_pa(b)
                                 : (b->pa & ~0xfffull);
            GPtrArray *oa = page_blocks(cpu, other, false);

            if (oa != NULL) {
                g_ptr_array_remove_fast(oa, b);
            }
        }
        block_kill(cpu, b);
    }
    g_ptr_array_unref(a);
    cpu->code_gen++;
}

void cpu_invalidate_phys(struct cpu *cpu, uint64_t pa, uint64_t len)
{
    uint64_t end = pa + len;

    for (uint64_t p = pa & ~0xfffull; p < end; p += 4096) {
        code_invalidate_page(cpu, p);
    }
}

static void graveyard_empty(struct cpu *cpu)
{
    for (unsigned i = 0; i < cpu->ngraveyard; i++) {
        g_free(cpu->block_graveyard[i]);
    }
    cpu->ngraveyard = 0;
}

static void block_free_all(struct cpu *cpu)
{
    GHashTableIter it;
    gpointer key, value;
    GPtrArray *all = g_ptr_array_new();

    g_hash_table_iter_init(&it, cpu->code_pages);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        GPtrArray *a = value;

        for (unsigned i = 0; i < a->len; i++) {
            struct cpu_block *b = g_ptr_array_index(a, i);

            if (!b->dead) {
                b->dead = true;
                g_ptr_array_add(all, b);
            }
        }
    }
    g_hash_table_remove_all(cpu->code_pages);
    for (unsigned i = 0; i < all->len; i++) {
        g_free(g_ptr_array_index(all, i));
    }
    g_ptr_array_free(all, TRUE);
    graveyard_empty(cpu);
    memset(cpu->block_hash, 0,
           CPU_BLOCK_HASH_SIZE * sizeof(*cpu->block_hash));
    cpu->code_gen++;
}

/*
 * Finds or decodes the block at cpu->rip.
 * Returns: the block, or NULL with *st = CPU_FAULT (fetch fault, pending)
 * or CPU_STOP (cpu->fatal: code outside RAM).
 */
static struct cpu_block *block_get(struct cpu *cpu, enum cpu_status *st)
{
    uint64_t pa;
    struct cpu_block *b;
    unsigned h;

    *st = cpu_translate_fetch(cpu, cpu->rip, &pa);
    if (*st != CPU_OK) {
        return NULL;
    }
    h = block_hash_index(pa);
    for (b = cpu->block_hash[h]; b != NULL; b = b->hash_next) {
        if (b->pa == pa && b->rip == cpu->rip) {
            return b;
        }
    }
    b = cpu_decode_block(cpu, pa, st);
    if (b == NULL) {
        if (*st == CPU_OK) {
            cpu->fatal = true;
            snprintf(cpu->shutdown_buf, sizeof(cpu->shutdown_buf),
                     "instruction fetch from guest-physical 0x%llx, which "
                     "is not RAM (executing device memory is not "
                     "modelled), at RIP 0x%llx",
                     (unsigned long long)pa, (unsigned long long)cpu->rip);
            cpu->shutdown_reason = cpu->shutdown_buf;
            *st = CPU_STOP;
        }
        return NULL;
    }
    if (((b->rip ^ (b->end_rip - 1)) >> 12) != 0) {
        uint64_t pa2;

        /* Straddles a page: the fetch of its bytes already succeeded. */
        if (cpu_translate_fetch(cpu, b->end_rip - 1, &pa2) == CPU_OK) {
            b->pa2 = pa2 & ~0xfffull;
            g_ptr_array_add(page_blocks(cpu, b->pa2, true), b);
        }
    }
    g_ptr_array_add(page_blocks(cpu, pa & ~0xfffull, true), b);
    b->hash_next = cpu->block_hash[h];
    cpu->block_hash[h] = b;
    return b;
}

/* ---- Exceptions ------------------------------------------------------------ */

static bool is_contributory(unsigned v)
{
    return v == CPU_EXC_DE || v == CPU_EXC_TS || v == CPU_EXC_NP ||
           v == CPU_EXC_SS || v == CPU_EXC_GP;
}

static const char *vector_name(unsigned v)
{
    static const char *const names[] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF",
        "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF",
        "#AC", "#MC", "#XM"};

    return v < SIM_ARRAY_SIZE(names) ? names[v] : "interrupt";
}

/*
 * Delivers the pending exception.  A fault while delivering it is handled
 * per SDM 3A §6.15 table 6-5: contributory after contributory, or
 * contributory/#PF after #PF, becomes #DF; a fault while delivering #DF
 * shuts the processor down (triple fault).  A fault while delivering a
 * software interrupt (a trap, with cpu->rip after the instruction) is a
 * fault of the INT instruction itself: reported at @insn_rip.
 * Returns: false when the CPU shut down.
 */
static bool exception_deliver(struct cpu *cpu, uint64_t insn_rip)
{
    unsigned vec = cpu->exc_vector, first = vec;
    int64_t err = cpu->exc_error;
    bool software = cpu->exc_is_trap;
    uint64_t rip = cpu->rip;

    for (;;) {
        unsigned v2;

        if (cpu_deliver_event(cpu, vec, err, software, rip) == CPU_OK) {
            return true;
        }
        v2 = cpu->exc_vector;
        if (vec == CPU_EXC_DF) {
            snprintf(cpu->shutdown_buf, sizeof(cpu->shutdown_buf),
                     "triple fault: %s (error 0x%llx) while delivering "
                     "#DF; the first exception was %s at RIP 0x%llx",
                     vector_name(v2), (unsigned long long)cpu->exc_error,
                     vector_name(first), (unsigned long long)rip);
            cpu->shutdown_reason = cpu->shutdown_buf;
            return false;
        }
        if ((is_contributory(vec) && is_contributory(v2)) ||
            (vec == CPU_EXC_PF &&
             (v2 == CPU_EXC_PF || is_contributory(v2)))) {
            vec = CPU_EXC_DF;
            err = 0;
        } else {
            vec = v2;
            err = cpu->exc_error;
        }
        software = false;
        rip = insn_rip;
    }
}

/* ---- The run loop ---------------------------------------------------------- */

static void chain(struct cpu *cpu, struct cpu_block *prev,
                  struct cpu_block *b)
{
    if (prev->chain_gen != cpu->code_gen) {
        prev->chain_gen = cpu->code_gen;
        prev->succ[0] = prev->succ[1] = NULL;
        prev->succ_rip[0] = prev->succ_rip[1] = CPU_TLB_INVALID;
    }
    if (prev->succ[0] == NULL) {
        prev->succ[0] = b;
        prev->succ_rip[0] = b->rip;
    } else {
        prev->succ[1] = b;
        prev->succ_rip[1] = b->rip;
    }
}

/*
 * Handles a non-OK status from instruction @i of block @b.
 * Returns: true to keep running, false to stop with *reason set.
 */
static bool handle_status(struct cpu *cpu, struct cpu_block *b, unsigned i,
                          enum cpu_status st,
                          enum cpu_stop_reason *reason)
{
    const struct cpu_insn *in = &b->insns[i];
    uint64_t here = b->rip + in->offset;

    cpu->cycles += b->cost * i / b->ninsns;
    switch (st) {
    case CPU_FAULT:
        if (cpu->exc_vector == CPU_EXC_GP && cpu->exc_noncanonical &&
            (in->opk & CPU_OPK_SS)) {
            cpu->exc_vector = CPU_EXC_SS;
        }
        cpu->stats.exceptions++;
        cpu->last_vector = cpu->exc_vector;
        cpu->last_error = cpu->exc_error;
        if (cpu->exc_is_trap) {
            cpu->rip = here + in->len;
            cpu->icount += i + 1;
        } else {
            cpu->rip = here;
            cpu->icount += i;
        }
        if (cpu->exception_exit) {
            *reason = CPU_STOP_EXCEPTION;
            return false;
        }
        if (!exception_deliver(cpu, here)) {
            *reason = CPU_STOP_TRIPLE_FAULT;
            return false;
        }
        return true;
    case CPU_STOP:
        /* The instruction completed (an exit-port write, HLT). */
        cpu->icount += i + 1;
        cpu->rip = here + in->len;
        *reason = cpu->halted ? CPU_STOP_HALT : CPU_STOP_ENV;
        return false;
    default: /* CPU_RETRY, CPU_SMC, anything else: re-run from here */
        cpu->rip = here;
        cpu->icount += i;
        return true;
    }
}

enum cpu_stop_reason cpu_run(struct cpu *cpu, uint64_t max_insns)
{
    uint64_t limit = cpu->icount + max_insns;
    struct cpu_block *prev = NULL;
    uint64_t left;
    enum cpu_stop_reason reason;

    cpu->halted = false;
    if (cpu->fatal || cpu->shutdown_reason != NULL) {
        return CPU_STOP_TRIPLE_FAULT;
    }
    for (;;) {
        struct cpu_block *b = NULL;
        const struct cpu_insn *in;
        unsigned n, i;
        enum cpu_status st;

        if (SIM_UNLIKELY(cpu->attention)) {
            cpu->attention = 0;
            if (cpu->ngraveyard != 0) {
                graveyard_empty(cpu);
                prev = NULL;
            }
            if (cpu->stop_requested) {
                cpu->stop_requested = 0;
                return CPU_STOP_REQUEST;
            }
        }
        left = limit - cpu->icount;
        if (SIM_UNLIKELY((int64_t)left <= 0)) {
            return CPU_STOP_BUDGET;
        }
        if (prev != NULL && prev->chain_gen == cpu->code_gen) {
            if (prev->succ_rip[0] == cpu->rip) {
                b = prev->succ[0];
            } else if (prev->succ_rip[1] == cpu->rip) {
                b = prev->succ[1];
            }
        }
        if (b == NULL) {
            b = block_get(cpu, &st);
            if (b == NULL) {
                if (st == CPU_STOP) {
                    return CPU_STOP_TRIPLE_FAULT;
                }
                /* Fetch fault: deliver it with RIP at the instruction. */
                cpu->exc_is_trap = false;
                cpu->stats.exceptions++;
                cpu->last_vector = cpu->exc_vector;
                cpu->last_error = cpu->exc_error;
                if (cpu->exception_exit) {
                    return CPU_STOP_EXCEPTION;
                }
                if (!exception_deliver(cpu, cpu->rip)) {
                    return CPU_STOP_TRIPLE_FAULT;
                }
                prev = NULL;
                continue;
            }
            if (prev != NULL) {
                chain(cpu, prev, b);
            }
        }
        n = b->ninsns;
        cpu->block_rip = b->rip;
        cpu->rip = b->end_rip;
        in = b->insns;
        if (SIM_LIKELY(left >= n)) {
            st = in->fn(cpu, in);
            i = SIM_LIKELY(st == CPU_OK) ? n
                                         : (unsigned)(cpu->fault_in - in);
        } else {
            /* The budget ends inside this block: step one at a time. */
            n = (unsigned)left;
            for (i = 0; i < n; i++) {
                st = in[i].step(cpu, &in[i]);
                if (SIM_UNLIKELY(st != CPU_OK)) {
                    break;
                }
            }
        }
        if (SIM_UNLIKELY(i < n)) {
            if (!handle_status(cpu, b, i, st, &reason)) {
                return reason;
            }
            prev = NULL;
            continue;
        }
        if (SIM_LIKELY(n == b->ninsns)) {
            cpu->cycles += b->cost;
        } else {
            cpu->rip = b->rip + in[n].offset;
            cpu->cycles += b->cost * n / b->ninsns;
        }
        cpu->icount += n;
        prev = b;
    }
}
