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
#include "cpu/vmx-internal.h"
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

struct cpu *cpu_new(const struct cpu_env_ops *ops, void *opaque)
{
    /*
     * Page-aligned: where the heap happened to put the struct once made
     * the same guest run up to 3 times slower (measured: a tight loop at
     * 160 or 520 MIPS depending on the length of the experiment's name),
     * a host-cache effect between its hot fields and the decoded blocks.
     */
    struct cpu *cpu = g_aligned_alloc0(1, sizeof(struct cpu), 4096);

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
    cpu_tlb_flush(cpu);
    cpu->lf_op = CPU_LF_EAGER;
    cpu->lf_size = 8; /* a valid size even when unused: shifts by it */
    cpu->rflags = 2;
    cpu->exc_error = -1;
    cpu->last_error = -1;
    cpu->apic_base = 0xfee00000 | (1u << 8) | (1u << 11);
    cpu->cr0 = CPU_CR0_ET | CPU_CR0_CD | CPU_CR0_NW;
    cpu->rip = 0xfff0;
    cpu->deadline = UINT64_MAX;
    cpu->tsc_num = cpu->tsc_den = 1;
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
    g_aligned_free(cpu);
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
    /*
     * TR holds a busy 64-bit TSS type with selector 0, as after reset: the
     * hidden part must be usable for a 64-bit guest's VM entry (SDM 3C
     * "Checks on Guest Segment Registers"), while the null selector still
     * makes stack switches and the I/O bitmap fault until the guest's LTR.
     */
    memset(&cpu->tr, 0, sizeof(cpu->tr));
    cpu->tr.limit = 0x67;
    cpu->tr.attr = 0x8b;
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

void cpu_set_deadline(struct cpu *cpu, uint64_t cycles)
{
    cpu->deadline = cycles;
}

void cpu_set_tsc_rate(struct cpu *cpu, uint32_t num, uint32_t den)
{
    g_assert(num != 0 && den != 0);
    cpu->tsc_num = num;
    cpu->tsc_den = den;
}

void cpu_raise_interrupt(struct cpu *cpu, unsigned vector)
{
    g_assert(vector >= 16 && vector < 256);
    cpu->stats.irq_raised++;
    cpu->irq_pending[vector / 64] |= 1ull << (vector % 64);
    cpu->attention = 1;
}

bool cpu_interrupt_pending(const struct cpu *cpu)
{
    return (cpu->irq_pending[0] | cpu->irq_pending[1] |
            cpu->irq_pending[2] | cpu->irq_pending[3]) != 0 ||
           cpu->intr_line;
}

void cpu_set_intr(struct cpu *cpu, bool asserted)
{
    if (asserted && !cpu->intr_line) {
        cpu->stats.irq_raised++;
        cpu->attention = 1;
    }
    cpu->intr_line = asserted;
}

/* Takes the highest pending vector off the line: the raised ones first,
 * then the controller's by its acknowledge cycle. */
static unsigned irq_take(struct cpu *cpu)
{
    if (((cpu->irq_pending[0] | cpu->irq_pending[1] | cpu->irq_pending[2] |
          cpu->irq_pending[3]) == 0) &&
        cpu->intr_line && cpu->ops->intr_ack != NULL) {
        return cpu->ops->intr_ack(cpu->opaque);
    }
    for (int w = 3; w >= 0; w--) {
        if (cpu->irq_pending[w] != 0) {
            unsigned bit = 63 - (unsigned)__builtin_clzll(cpu->irq_pending[w]);

            cpu->irq_pending[w] &= ~(1ull << bit);
            return (unsigned)w * 64 + bit;
        }
    }
    return 0;
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

void cpu_retire(struct cpu *cpu, uint64_t n)
{
    cpu->icount += n;
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
    if (cpu->shutdown_reason == NULL && cpu->triple_fault_exit) {
        return cpu->shutdown_buf;
    }
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

/* ---- Translation lives in cpu/memory.c ---------------------------------- */

/* ---- The decoded-block cache ---------------------------------------------- */

bool cpu_is_code_page(struct cpu *cpu, uint64_t page_pa)
{
    return g_hash_table_contains(cpu->code_pages,
                                 GSIZE_TO_POINTER((page_pa >> 12) + 1));
}

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
                if (cpu->tlb_victim_pa[s][i] == page_pa) {
                    cpu->tlb_victim[s][i].tag_w = CPU_TLB_INVALID;
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

void cpu_code_invalidate_page(struct cpu *cpu, uint64_t page_pa)
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
        cpu_code_invalidate_page(cpu, p);
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
    struct cpu_jmp_entry *j =
        &cpu->jmp_cache[(cpu->rip ^ (cpu->rip >> 10)) &
                        (CPU_JMP_CACHE_SIZE - 1)];

    if (j->gen == cpu->code_gen && j->rip == cpu->rip) {
        *st = CPU_OK;
        return j->block;
    }
    *st = cpu_translate_fetch(cpu, cpu->rip, &pa);
    if (*st != CPU_OK) {
        return NULL;
    }
    h = block_hash_index(pa);
    for (b = cpu->block_hash[h]; b != NULL; b = b->hash_next) {
        if (b->pa == pa && b->rip == cpu->rip) {
            j->gen = cpu->code_gen;
            j->rip = cpu->rip;
            j->block = b;
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
    /* Registering may have changed code_gen (a page became code). */
    j->gen = cpu->code_gen;
    j->rip = cpu->rip;
    j->block = b;
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

enum deliver_result {
    DELIVERED,  /* the handler runs next */
    SHUT_DOWN,  /* triple fault outside VMX */
    EXITED,     /* a VM exit was recorded */
};

/*
 * Delivers the pending event.  A fault while delivering it is handled per
 * SDM 3A §6.15 table 6-5: contributory after contributory, or
 * contributory/#PF after #PF, becomes #DF; a fault while delivering #DF
 * shuts the processor down (triple fault).  A fault while delivering a
 * software interrupt (a trap, with cpu->rip after the instruction) is a
 * fault of the INT instruction itself: reported at @insn_rip.  In VMX
 * non-root operation a nested exception selected by the exception bitmap,
 * or an EPT exit while delivering, becomes a VM exit that records the
 * event under delivery as IDT-vectoring information, and a triple fault
 * exits with reason 2 (SDM 3C "VM Exits During Event Delivery").
 */
static enum deliver_result exception_deliver(struct cpu *cpu,
                                             uint64_t insn_rip,
                                             unsigned insn_len)
{
    unsigned vec = cpu->exc_vector, first = vec;
    int64_t err = cpu->exc_error;
    bool software = cpu->exc_is_trap;
    uint8_t type = cpu->exc_type;
    uint64_t rip = cpu->rip;

    for (;;) {
        enum cpu_status st;
        unsigned v2;
        int64_t e2;

        cpu->delivering = true;
        st = cpu_deliver_event(cpu, vec, err, software, rip);
        cpu->delivering = false;

        if (st == CPU_OK) {
            return DELIVERED;
        }
        if (st == CPU_VMEXIT) {
            cpu_vmx_set_idt_vectoring(cpu, vec, err, type);
            if (software) {
                /* Re-injecting INT n/INT3 needs its length (SDM 3C
                 * "Information for VM Exits During Event Delivery"). */
                vmcs_set(cpu->vmcs, VMCS_EXIT_INSTRUCTION_LEN, insn_len);
            }
            cpu->rip = insn_rip;
            return EXITED;
        }
        v2 = cpu->exc_vector;
        if (vec == CPU_EXC_DF) {
            snprintf(cpu->shutdown_buf, sizeof(cpu->shutdown_buf),
                     "triple fault: %s (error 0x%llx) while delivering "
                     "#DF; the first exception was %s at RIP 0x%llx",
                     vector_name(v2), (unsigned long long)cpu->exc_error,
                     vector_name(first), (unsigned long long)insn_rip);
            if (cpu->nonroot) {
                /* Exit 2; the explanation stays for cpu_stop_detail(). */
                cpu->triple_fault_exit = true;
                cpu_vmexit(cpu, VMX_EXIT_TRIPLE_FAULT, 0, 0);
                cpu->rip = insn_rip;
                return EXITED;
            }
            cpu->shutdown_reason = cpu->shutdown_buf;
            return SHUT_DOWN;
        }
        if ((is_contributory(vec) && is_contributory(v2)) ||
            (vec == CPU_EXC_PF &&
             (v2 == CPU_EXC_PF || is_contributory(v2)))) {
            v2 = CPU_EXC_DF;
            e2 = 0;
        } else {
            e2 = cpu->exc_error;
        }
        if (cpu->nonroot && cpu_vmx_exception_exits(cpu, v2, e2)) {
            cpu->exc_vector = v2;
            cpu->exc_error = e2;
            cpu->exc_type = 0;
            cpu_vmx_exception_exit(cpu, 0);
            cpu_vmx_set_idt_vectoring(cpu, vec, err, type);
            cpu->rip = insn_rip;
            return EXITED;
        }
        vec = v2;
        err = e2;
        software = false;
        type = 0;
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
 * Takes the pending exception of the instruction at @insn_rip: a VM exit
 * if the exception bitmap selects it, the exception-exit stop, or
 * delivery through the IDT.  cpu->rip is where execution resumes.
 * Returns: true to keep running, false to stop with *reason set.
 */
static bool take_exception(struct cpu *cpu, uint64_t insn_rip,
                           unsigned insn_len, enum cpu_stop_reason *reason)
{
    cpu->stats.exceptions++;
    cpu->last_vector = cpu->exc_vector;
    cpu->last_error = cpu->exc_error;
    if (cpu->nonroot && cpu->exc_type != VMX_INTR_TYPE_SW_INTR &&
        cpu_vmx_exception_exits(cpu, cpu->exc_vector, cpu->exc_error)) {
        cpu->rip = insn_rip;
        cpu_vmx_exception_exit(cpu, insn_len);
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
    }
    if (cpu->exception_exit) {
        if (cpu->exc_vector == CPU_EXC_PF) {
            cpu->cr2 = cpu->exc_cr2;
        }
        *reason = CPU_STOP_EXCEPTION;
        return false;
    }
    switch (exception_deliver(cpu, insn_rip, insn_len)) {
    case DELIVERED:
        return true;
    case SHUT_DOWN:
        *reason = CPU_STOP_TRIPLE_FAULT;
        return false;
    default:
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
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
        if (cpu->exc_is_trap) {
            cpu->rip = here + in->len;
            cpu->icount += i + 1;
        } else {
            cpu->rip = here;
            cpu->icount += i;
        }
        return take_exception(cpu, here, in->len, reason);
    case CPU_VMEXIT:
        /* The instruction did not execute: the guest resumes at it. */
        cpu->rip = here;
        cpu->icount += i;
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
    case CPU_STOP:
        if (cpu->fatal) {
            /* Not modelled (cpu_env_unsupported): stopped at it. */
            cpu->rip = here;
            cpu->icount += i;
            *reason = CPU_STOP_UNSUPPORTED;
            return false;
        }
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

/*
 * A pending external interrupt at an instruction boundary: a VM exit under
 * "external-interrupt exiting" (SDM 3C "VM Exits Caused by External
 * Interrupts"), else delivery through the IDT once RFLAGS.IF = 1 and no
 * STI/MOV-SS blocking holds (SDM 3A §6.8.1).  It stays pending otherwise:
 * STI, POPF and IRETQ set attention again.
 * Returns: false when the loop must stop with *reason.
 */
static bool attend_interrupt(struct cpu *cpu, enum cpu_stop_reason *reason)
{
    unsigned vector;
    uint64_t rip = cpu->rip;

    if (cpu->nonroot && (cpu->vmx_pin & VMX_PIN_EXT_INTR_EXITING)) {
        uint64_t info = 0;

        if (cpu->vmcs->f[VMCS_EXIT_CTLS] & VMX_EXIT_CTL_ACK_INTR_ON_EXIT) {
            info = irq_take(cpu) |
                   (VMX_INTR_TYPE_EXT_INTR << VMX_INTR_TYPE_SHIFT) |
                   VMX_INTR_VALID;
        }
        cpu_vmexit(cpu, VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0);
        vmcs_set(cpu->vmcs, VMCS_EXIT_INTR_INFO, info);
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
    }
    if (!(cpu->rflags & CPU_FLAG_IF) || cpu->intr_shadow != 0) {
        return true;
    }
    vector = irq_take(cpu);
    cpu->halted = false;
    cpu->exc_vector = vector;
    cpu->exc_error = -1;
    cpu->exc_is_trap = false;
    cpu->exc_type = CPU_EXC_TYPE_EXTERNAL;
    cpu->stats.exceptions++;
    switch (exception_deliver(cpu, rip, 0)) {
    case DELIVERED:
        /* Not a fault met while delivering it (cpu_raise clears it). */
        if (cpu->exc_type == CPU_EXC_TYPE_EXTERNAL) {
            cpu->stats.irq_delivered++;
        }
        return true;
    case SHUT_DOWN:
        *reason = CPU_STOP_TRIPLE_FAULT;
        return false;
    default:
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
    }
}

/*
 * What the loop checks between blocks when cpu->attention is set: killed
 * blocks to free, a stop request, and in non-root operation an event
 * injected at VM entry and an open interrupt window (SDM 3C
 * "Interrupt-Window Exiting").
 * Returns: true to keep running, false to stop with *reason set.
 */
static bool attend(struct cpu *cpu, struct cpu_block **prev,
                   enum cpu_stop_reason *reason)
{
    cpu->attention = 0;
    if (cpu->ngraveyard != 0) {
        graveyard_empty(cpu);
        *prev = NULL;
    }
    if (cpu->stop_requested) {
        cpu->stop_requested = 0;
        *reason = CPU_STOP_REQUEST;
        return false;
    }
    if (cpu_interrupt_pending(cpu) &&
        !attend_interrupt(cpu, reason)) {
        return false;
    }
    if (!cpu->nonroot) {
        return true;
    }
    if (cpu->injecting) {
        cpu->injecting = false;
        switch (exception_deliver(
            cpu, cpu->vmcs->f[VMCS_GUEST_RIP],
            (unsigned)cpu->vmcs->f[VMCS_ENTRY_INSTRUCTION_LEN])) {
        case DELIVERED:
            /*
             * The event is consumed.  Hardware clears the valid bit at
             * the next VM exit; the run can also leave non-root operation
             * without one (a slice boundary), and the next entry must not
             * inject the event a second time.
             */
            cpu->vmcs->f[VMCS_ENTRY_INTR_INFO] &= ~(uint64_t)VMX_INTR_VALID;
            if (cpu->exc_type == CPU_EXC_TYPE_EXTERNAL) {
                cpu->stats.irq_delivered++;
            }
            break;
        default:
            cpu_vmx_exit_complete(cpu);
            *reason = CPU_STOP_VMEXIT;
            return false;
        }
    }
    if ((cpu->vmx_proc & VMX_PROC_INTR_WINDOW_EXITING) &&
        (cpu->rflags & CPU_FLAG_IF) && cpu->intr_shadow == 0) {
        cpu_vmexit(cpu, VMX_EXIT_INTERRUPT_WINDOW, 0, 0);
        cpu_vmx_exit_complete(cpu);
        *reason = CPU_STOP_VMEXIT;
        return false;
    }
    return true;
}

enum cpu_stop_reason cpu_run(struct cpu *cpu, uint64_t max_insns)
{
    uint64_t limit = cpu->icount + max_insns;
    struct cpu_block *prev = NULL;
    uint64_t left;
    enum cpu_stop_reason reason;

    cpu->halted = false;
    cpu->run_limit = limit;
    if (cpu->fatal) {
        return CPU_STOP_UNSUPPORTED;
    }
    if (cpu->shutdown_reason != NULL) {
        return CPU_STOP_TRIPLE_FAULT;
    }
    for (;;) {
        struct cpu_block *b = NULL;
        const struct cpu_insn *in;
        unsigned n, i;
        enum cpu_status st;

        if (SIM_UNLIKELY(cpu->attention) && !attend(cpu, &prev, &reason)) {
            return reason;
        }
        left = limit - cpu->icount;
        if (SIM_UNLIKELY((int64_t)left <= 0)) {
            return CPU_STOP_BUDGET;
        }
        if (SIM_UNLIKELY(cpu->cycles >= cpu->deadline)) {
            return CPU_STOP_DEADLINE;
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
                    return CPU_STOP_UNSUPPORTED;
                }
                if (st == CPU_VMEXIT) {
                    cpu_vmx_exit_complete(cpu);
                    return CPU_STOP_VMEXIT;
                }
                /* Fetch fault: taken with RIP at the instruction. */
                cpu->exc_is_trap = false;
                if (!take_exception(cpu, cpu->rip, 0, &reason)) {
                    return reason;
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
        if (SIM_LIKELY(left >= n && cpu->intr_shadow == 0)) {
            st = in->fn(cpu, in);
            i = SIM_LIKELY(st == CPU_OK) ? n
                                         : (unsigned)(cpu->fault_in - in);
        } else {
            /*
             * The budget ends inside this block, or one instruction runs
             * in the shadow of STI/MOV SS before interrupts (and the
             * interrupt window) open: step one at a time.
             */
            unsigned shadow = cpu->intr_shadow;

            if (shadow != 0) {
                left = 1;
            }
            n = left < n ? (unsigned)left : n;
            for (i = 0; i < n; i++) {
                st = in[i].step(cpu, &in[i]);
                if (SIM_UNLIKELY(st != CPU_OK)) {
                    break;
                }
            }
            /* The shadow ends with its instruction; a VM exit in it saves
             * the blocking (SDM 3C "Guest Non-Register State"). */
            if (shadow != 0 && !(i < n && st == CPU_VMEXIT)) {
                cpu->intr_shadow = 0;
                cpu->attention = 1;
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
