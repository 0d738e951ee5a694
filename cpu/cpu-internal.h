/*
 * cpu/cpu-internal.h: the CPU's private state and the inline fast paths
 * every execution file shares: register access by byte offset, lazy
 * arithmetic flags, effective addresses and the software-TLB load/store.
 * Only the cpu/ sources (and the CPU's own unit tests) include this file.
 */
#ifndef SIM_CPU_CPU_INTERNAL_H
#define SIM_CPU_CPU_INTERNAL_H

#include "sim/common.h"

#include <string.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"

struct cpu_insn;

/* Every instruction handler has this one signature (STYLE rule 7). */
typedef enum cpu_status cpu_insn_fn(struct cpu *cpu,
                                    const struct cpu_insn *in);

/*
 * Threaded dispatch: a block's instructions run as a chain of tail calls,
 * each handler jumping to the next one's fn; a sentinel after the last
 * instruction returns CPU_OK.  A handler that stops the chain records
 * itself in cpu->fault_in so the run loop knows where it stopped.  The
 * step pointer runs one instruction alone (partial blocks, tests).
 *
 * One decoded instruction.  Register operands are byte offsets into
 * cpu->gpr (so AH is offset 1), which lets one handler serve every
 * register.  Address registers are indices into cpu->gpr, where index
 * CPU_REG_NONE reads as zero, so an effective address needs no branches.
 */
struct cpu_insn {
    cpu_insn_fn *fn;   /* threaded: runs this and the rest of the block */
    cpu_insn_fn *step; /* runs this instruction only */
    uint8_t len;     /* instruction length in bytes */
    uint8_t opsize;  /* operand size in bytes: 1, 2, 4 or 8 */
    uint8_t r;       /* first register operand (byte offset) */
    uint8_t rm;      /* second register operand (byte offset) */
    uint8_t base;    /* address base register index, CPU_REG_NONE if none */
    uint8_t index;   /* address index register index */
    uint8_t scale;   /* index shift: 0..3 */
    uint8_t seg;     /* CPU_SEGBASE_NONE, _FS or _GS */
    uint8_t aux;     /* handler-specific: condition, ALU op, rep kind */
    uint8_t aux2;    /* handler-specific: source size, etc. */
    uint8_t opk;     /* operand kinds for generic handlers: CPU_OPK_* */
    uint8_t pad[3];
    uint16_t offset; /* offset of this instruction from the block start */
    uint16_t mnemonic;
    uint64_t amask;  /* address-size mask: ~0, or 0xffffffff for 67h */
    int64_t disp;    /* displacement; RIP-relative ones are absolute */
    uint64_t imm;    /* immediate, or branch target */
    uint64_t imm2;   /* second immediate (enter) or fall-through RIP */
};

/* Operand kinds: operand 0 in memory, operand 1 in memory or immediate. */
#define CPU_OPK_M0 1
#define CPU_OPK_M1 2
#define CPU_OPK_I1 4
/* The instruction references the stack (SS): through PUSH/POP-like
 * semantics or a memory operand based on RSP or RBP.  A non-canonical
 * stack address raises #SS(0) instead of #GP(0) (SDM 3A §6.15). */
#define CPU_OPK_SS 8

/* cpu->exc_type of an external interrupt (its VMX type, 0, is taken). */
#define CPU_EXC_TYPE_EXTERNAL 0x80

#define CPU_REG_NONE 16
#define CPU_SEGBASE_NONE 0
#define CPU_SEGBASE_FS 1
#define CPU_SEGBASE_GS 2

/* Segment registers, in the ISA's encoding order. */
enum cpu_sreg { CPU_ES, CPU_CS, CPU_SS, CPU_DS, CPU_FS, CPU_GS, CPU_NSREG };

struct cpu_segment {
    uint16_t sel;
    uint64_t base;
    uint32_t limit;
    uint16_t attr; /* descriptor bits 40..55: type, S, DPL, P, AVL, L, D, G */
};

struct cpu_dtr {
    uint64_t base;
    uint16_t limit;
};

/*
 * A block: straight-line decoded instructions that end at a branch, a
 * block-ending system instruction, a page boundary or a length limit.
 * Cached by guest-physical address of its first byte.
 */
struct cpu_block {
    uint64_t rip;          /* linear address of the first instruction */
    uint64_t pa;           /* guest-physical address of the first byte */
    uint64_t pa2;          /* second page of a page-straddling block, or 0 */
    uint64_t end_rip;      /* fall-through RIP after the last instruction */
    uint64_t cost;         /* summed class costs of all instructions */
    struct cpu_block *hash_next;
    struct cpu_block *page_next;
    /* Successor cache: valid while chain_gen == cpu->code_gen. */
    uint64_t chain_gen;
    uint64_t succ_rip[2];
    struct cpu_block *succ[2];
    uint32_t ninsns;
    bool dead;
    struct cpu_insn insns[];
};

#define CPU_BLOCK_MAX_INSNS 64

/*
 * RIP → block, direct-mapped (as QEMU's tb_jmp_cache): finds the block at
 * a new RIP (after an indirect branch, an exception or a VM entry)
 * without translating it and searching the hash.  Valid while gen ==
 * cpu->code_gen, which moves on every translation or code change.
 */
struct cpu_jmp_entry {
    uint64_t gen;
    uint64_t rip;
    struct cpu_block *block;
};

#define CPU_JMP_CACHE_SIZE 1024
#define CPU_BLOCK_HASH_SIZE (1u << 16)

/*
 * Software TLB entry: linear page → host pointer.  A tag is a page-aligned
 * linear address, or 1 (never matches) when invalid.  Read, write and
 * fetch permissions have tags of their own, so a check is one compare.
 */
struct cpu_tlb_entry {
    uint64_t tag_r;
    uint64_t tag_w;
    uint64_t tag_x;
    uintptr_t addend; /* host = linear + addend */
};

#define CPU_TLB_SIZE 256
#define CPU_TLB_INVALID 1ull

/*
 * The device-memory side of the TLB: linear page → guest-physical page of
 * an MMIO page (not RAM, or left out of EPT), with the guest's permissions
 * as read/write tags, so repeated MMIO accesses skip both page walks.
 */
struct cpu_mmio_tlb_entry {
    uint64_t tag_r;
    uint64_t tag_w;
    uint64_t gpa_page;
};

#define CPU_MMIO_TLB_SIZE 64

/* Lazy-flags operations: how to derive OSZAPC from the saved operands. */
enum cpu_lf_op {
    CPU_LF_EAGER, /* the arithmetic flags are in cpu->rflags */
    CPU_LF_ADD,
    CPU_LF_ADC,   /* add with carry-in 1 */
    CPU_LF_SUB,
    CPU_LF_SBB,   /* subtract with borrow-in 1 */
    CPU_LF_LOGIC, /* CF = OF = AF = 0 */
    CPU_LF_INC,   /* ADD of 1 keeping CF (in rflags) */
    CPU_LF_DEC,   /* SUB of 1 keeping CF (in rflags) */
    CPU_LF_SHL,   /* src1 = value, src2 = masked count (not 0) */
    CPU_LF_SHR,
    CPU_LF_SAR,
};

#define CPU_NMNEMONICS 2048

struct cpu {
    /* Hot state first. */
    uint64_t gpr[CPU_NGPR + 1]; /* gpr[CPU_REG_NONE] is always zero */
    uint64_t rip;
    uint64_t rflags;            /* non-arithmetic bits always valid */
    uint64_t lf_res, lf_src1, lf_src2;
    uint32_t lf_op;
    uint32_t lf_size;           /* operand size of the lazy op, bytes */
    uint64_t segbase[3];        /* indexed by CPU_SEGBASE_*: 0, FS, GS */
    struct cpu_tlb_entry *tlb;  /* the set for the current CPL */
    uint64_t icount;
    uint64_t cycles;
    uint64_t block_rip;         /* start of the block being executed */
    const struct cpu_insn *fault_in; /* where a threaded chain stopped */
    uint64_t code_gen;          /* bumped when cached code may be stale */
    volatile int stop_requested;
    /* Non-zero when the run loop must look at stop_requested or the
     * graveyard of killed blocks before the next block: one check. */
    volatile int attention;

    unsigned cpl;
    struct cpu_segment seg[CPU_NSREG];
    struct cpu_segment ldtr, tr;
    struct cpu_dtr gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer, star, lstar, cstar, fmask, kernel_gs_base, tsc_aux;
    uint64_t apic_base;
    int64_t tsc_offset;

    /* Pending exception, raised by handlers (cpu_raise). */
    unsigned exc_vector;
    int64_t exc_error;
    bool exc_is_trap;           /* RIP already past the instruction */
    bool exc_noncanonical;      /* the #GP(0) is for a non-canonical address */
    uint8_t exc_type;           /* 0, or the VMX event type of INT n/INT3,
                                 * or CPU_EXC_TYPE_EXTERNAL */
    bool injecting;             /* an event injected at VM entry is pending */
    bool exception_exit;
    bool halted;                /* set by HLT for the run loop */
    bool fatal;                 /* a model limit stopped the CPU */
    unsigned last_vector;
    int64_t last_error;
    const char *shutdown_reason;
    char shutdown_buf[160];
    bool triple_fault_exit;     /* shutdown_buf explains a VM exit 2 */

    /*
     * VMX non-root operation: the controls are copied out of the VMCS at
     * VM entry so the checks in the handlers are loads from the cpu.
     */
    struct vmx_vmcs *vmcs;      /* the current VMCS, or NULL */
    bool nonroot;               /* in VMX non-root operation */
    bool mmio_emulation;        /* cpu_vmx_emulate_mmio() is running */
    bool ept_on;
    bool vmexit_pending;        /* a deep path recorded a VM exit */
    uint64_t eptp;
    uint32_t vmx_pin, vmx_proc, vmx_proc2, vmx_exc_bitmap;
    uint32_t vmx_pfec_mask, vmx_pfec_match;
    const uint8_t *vmx_io_bitmap[2]; /* host pointers of bitmaps A and B */
    const uint8_t *vmx_msr_bitmap;
    uint64_t vmx_cr0_mask, vmx_cr4_mask, vmx_cr0_shadow, vmx_cr4_shadow;
    uint64_t walk_la;           /* linear address of the walk under way */
    bool walk_la_valid;
    uint64_t exc_cr2;           /* CR2 for a pending #PF (set on delivery) */
    unsigned intr_shadow;       /* blocking by STI (1) or MOV SS (2) for
                                 * the next instruction: the VMX
                                 * interruptibility-state bits */
    uint64_t deadline;          /* cpu_set_deadline(), in cycles */
    uint64_t run_limit;         /* icount at which this cpu_run() ends */
    uint64_t irq_pending[4];    /* external interrupt vectors, a bitmap */
    bool intr_line;             /* an interrupt controller's INTR */
    bool delivering;            /* inside cpu_deliver_event */
    uint32_t tsc_num, tsc_den;  /* TSC rate relative to the core clock */

    /* Model features (CPUID). */
    bool feat_lzcnt, feat_bmi1, feat_popcnt;

    const struct cpu_env_ops *ops;
    void *opaque;

    uint32_t costs[CPU_COST_NCLASSES];

    struct cpu_tlb_entry tlb_sets[2][CPU_TLB_SIZE]; /* [0] CPL<3, [1] CPL 3 */
    uint64_t tlb_pa[2][CPU_TLB_SIZE]; /* machine-physical page of each entry */
    /*
     * One victim entry per TLB slot, looked at only on a miss: the entry a
     * fill displaced.  Two pages that share a slot (a copy from 0x200000
     * to 0x800000) then swap instead of walking the page tables on every
     * access.
     */
    struct cpu_tlb_entry tlb_victim[2][CPU_TLB_SIZE];
    uint64_t tlb_victim_pa[2][CPU_TLB_SIZE];
    struct cpu_mmio_tlb_entry mmio_tlb[2][CPU_MMIO_TLB_SIZE];

    struct cpu_block **block_hash;   /* CPU_BLOCK_HASH_SIZE buckets */
    struct cpu_jmp_entry jmp_cache[CPU_JMP_CACHE_SIZE];
    struct cpu_block **block_graveyard;
    unsigned ngraveyard, graveyard_cap;
    void *code_pages;                /* GHashTable: page pa → first block */
    void *decoder;                   /* ZydisDecoder, owned by decode.c */

    uint64_t unsupported[CPU_NMNEMONICS];
    struct cpu_stats stats;
};

/* ---- Registers ---------------------------------------------------------- */

static inline uint8_t *cpu_regp(struct cpu *cpu, unsigned off)
{
    return (uint8_t *)cpu->gpr + off;
}

static inline uint64_t cpu_reg_read(struct cpu *cpu, unsigned off,
                                    unsigned size)
{
    uint8_t *p = cpu_regp(cpu, off);

    switch (size) {
    case 1:
        return *p;
    case 2:
        return *(uint16_t *)p;
    case 4:
        return *(uint32_t *)p;
    default:
        return *(uint64_t *)p;
    }
}

/* A 32-bit write zero-extends to 64 bits; 8- and 16-bit writes merge. */
static inline void cpu_reg_write(struct cpu *cpu, unsigned off, unsigned size,
                                 uint64_t v)
{
    uint8_t *p = cpu_regp(cpu, off);

    switch (size) {
    case 1:
        *p = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case 4:
        *(uint64_t *)p = (uint32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

static inline uint64_t cpu_size_mask(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t cpu_sign_bit(unsigned size)
{
    return 1ull << (size * 8 - 1);
}

static inline int64_t cpu_sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - size * 8;

    return (int64_t)(v << sh) >> sh;
}

/* ---- Lazy flags --------------------------------------------------------- */

static inline void cpu_lf_set(struct cpu *cpu, enum cpu_lf_op op,
                              unsigned size, uint64_t src1, uint64_t src2,
                              uint64_t res)
{
    cpu->lf_op = op;
    cpu->lf_size = size;
    cpu->lf_src1 = src1;
    cpu->lf_src2 = src2;
    cpu->lf_res = res;
}

/*
 * CF after SHL/SHR/SAR of @v (@size bytes) by a masked count @cnt > 0: the
 * last bit shifted out; 0 when everything was shifted out (undefined for
 * SHL/SHR counts at or above the width, SDM 2B SAL/SAR/SHL/SHR).
 */
static inline bool cpu_shift_cf(unsigned op, unsigned size, uint64_t v,
                                unsigned cnt)
{
    unsigned bits = size * 8;

    if (op == CPU_LF_SAR) {
        int64_t s = cpu_sext(v, size);

        return (s >> (cnt - 1 > 63 ? 63 : cnt - 1)) & 1;
    }
    if (cnt > bits) {
        return false;
    }
    return op == CPU_LF_SHL ? (v >> (bits - cnt)) & 1 : (v >> (cnt - 1)) & 1;
}

bool cpu_flag_cf(const struct cpu *cpu);
bool cpu_flag_of(const struct cpu *cpu);
bool cpu_flag_af(const struct cpu *cpu);

static inline bool cpu_flag_zf(const struct cpu *cpu)
{
    if (cpu->lf_op == CPU_LF_EAGER) {
        return cpu->rflags & CPU_FLAG_ZF;
    }
    return cpu->lf_res == 0;
}

static inline bool cpu_flag_sf(const struct cpu *cpu)
{
    if (cpu->lf_op == CPU_LF_EAGER) {
        return cpu->rflags & CPU_FLAG_SF;
    }
    return (cpu->lf_res >> (cpu->lf_size * 8 - 1)) & 1;
}

static inline bool cpu_flag_pf(const struct cpu *cpu)
{
    if (cpu->lf_op == CPU_LF_EAGER) {
        return cpu->rflags & CPU_FLAG_PF;
    }
    return !__builtin_parity((unsigned)(cpu->lf_res & 0xff));
}

/* Evaluates condition code @cc (the low nibble of Jcc/SETcc/CMOVcc). */
bool cpu_cond(const struct cpu *cpu, unsigned cc);

/* Full RFLAGS; and setting it (arithmetic flags become eager). */
uint64_t cpu_flags_get(const struct cpu *cpu);
void cpu_flags_set_arith(struct cpu *cpu, uint64_t arith);

/* ---- Addresses and memory ----------------------------------------------- */

static inline uint64_t cpu_ea(const struct cpu *cpu,
                              const struct cpu_insn *in)
{
    uint64_t a = (uint64_t)in->disp + cpu->gpr[in->base] +
                 (cpu->gpr[in->index] << in->scale);

    return (a & in->amask) + cpu->segbase[in->seg];
}

enum cpu_status cpu_mem_read_slow(struct cpu *cpu, uint64_t la,
                                  unsigned size, uint64_t *val);
enum cpu_status cpu_mem_write_slow(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t val);

static inline uint64_t cpu_host_load(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1:
        return *p;
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

static inline void cpu_host_store(uint8_t *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1:
        *p = (uint8_t)v;
        break;
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
        break;
    }
    default:
        memcpy(p, &v, 8);
        break;
    }
}

/* The TLB entry for @la, and whether it allows an access of @size bytes
 * at @la under @tag (tag_r, tag_w or tag_x) without a page crossing. */
static inline struct cpu_tlb_entry *cpu_tlb_entry(struct cpu *cpu,
                                                  uint64_t la)
{
    return &cpu->tlb[(la >> 12) & (CPU_TLB_SIZE - 1)];
}

static inline bool cpu_tlb_hit(uint64_t tag, uint64_t la, unsigned size)
{
    return tag == (la & ~0xfffull) && (la & 0xfff) <= 4096 - size;
}

static inline uint8_t *cpu_tlb_host(const struct cpu_tlb_entry *e,
                                    uint64_t la)
{
    return (uint8_t *)(uintptr_t)(la + e->addend);
}

static inline enum cpu_status cpu_mem_read(struct cpu *cpu, uint64_t la,
                                           unsigned size, uint64_t *val)
{
    struct cpu_tlb_entry *e = &cpu->tlb[(la >> 12) & (CPU_TLB_SIZE - 1)];

    if (SIM_LIKELY(e->tag_r == (la & ~0xfffull) &&
                   (la & 0xfff) <= 4096 - size)) {
        *val = cpu_host_load((const uint8_t *)(uintptr_t)(la + e->addend),
                             size);
        return CPU_OK;
    }
    return cpu_mem_read_slow(cpu, la, size, val);
}

static inline enum cpu_status cpu_mem_write(struct cpu *cpu, uint64_t la,
                                            unsigned size, uint64_t val)
{
    struct cpu_tlb_entry *e = &cpu->tlb[(la >> 12) & (CPU_TLB_SIZE - 1)];

    if (SIM_LIKELY(e->tag_w == (la & ~0xfffull) &&
                   (la & 0xfff) <= 4096 - size)) {
        cpu_host_store((uint8_t *)(uintptr_t)(la + e->addend), size, val);
        return CPU_OK;
    }
    return cpu_mem_write_slow(cpu, la, size, val);
}

/*
 * Checks that a write of @size bytes at @la would succeed, faulting as the
 * write would, without writing: for instructions that must not change
 * state before a later write is known to work.
 */
enum cpu_status cpu_mem_probe_write(struct cpu *cpu, uint64_t la,
                                    unsigned size);

/* Supervisor-level ("implicit") access to system tables: GDT, IDT, TSS. */
enum cpu_status cpu_sys_read(struct cpu *cpu, uint64_t la, unsigned size,
                             uint64_t *val);
enum cpu_status cpu_sys_write(struct cpu *cpu, uint64_t la, unsigned size,
                              uint64_t val);

/*
 * The guest changed state that VM entry checks (segments, descriptor
 * tables, control registers, MSRs): the next entry runs the checks again
 * instead of trusting the cached result, so a model bug that produces
 * state real hardware never would is caught on every path alike.
 */
void cpu_vmx_guest_state_changed(struct cpu *cpu);

/* ---- Exceptions --------------------------------------------------------- */

/* Records a fault to deliver; @error < 0 means no error code. */
static inline enum cpu_status cpu_raise(struct cpu *cpu, unsigned vector,
                                        int64_t error)
{
    cpu->exc_vector = vector;
    cpu->exc_error = error;
    cpu->exc_is_trap = false;
    cpu->exc_noncanonical = false;
    cpu->exc_type = 0;
    return CPU_FAULT;
}

static inline enum cpu_status cpu_raise_gp0(struct cpu *cpu)
{
    return cpu_raise(cpu, CPU_EXC_GP, 0);
}

static inline enum cpu_status cpu_raise_ud(struct cpu *cpu)
{
    return cpu_raise(cpu, CPU_EXC_UD, -1);
}

/* ---- Stack -------------------------------------------------------------- */

/* A stack access whose first or last byte is not canonical is #SS(0)
 * (SDM 3A §6.15, interrupt 12). */
static inline bool cpu_stack_canonical(uint64_t la, unsigned size)
{
    return mmu_canonical(la) && mmu_canonical(la + size - 1);
}

static inline enum cpu_status cpu_push(struct cpu *cpu, unsigned size,
                                       uint64_t v)
{
    uint64_t rsp = cpu->gpr[CPU_RSP] - size;
    enum cpu_status st;

    if (SIM_UNLIKELY(!cpu_stack_canonical(rsp, size))) {
        return cpu_raise(cpu, CPU_EXC_SS, 0);
    }
    st = cpu_mem_write(cpu, rsp, size, v);

    if (SIM_LIKELY(st == CPU_OK)) {
        cpu->gpr[CPU_RSP] = rsp;
    }
    return st;
}

/* Reads the top of stack without popping (the caller adjusts RSP). */
static inline enum cpu_status cpu_peek(struct cpu *cpu, unsigned size,
                                       uint64_t off, uint64_t *v)
{
    uint64_t la = cpu->gpr[CPU_RSP] + off;

    if (SIM_UNLIKELY(!cpu_stack_canonical(la, size))) {
        return cpu_raise(cpu, CPU_EXC_SS, 0);
    }
    return cpu_mem_read(cpu, la, size, v);
}

/* RIP of the instruction after @in (for calls, traps, syscall). */
static inline uint64_t cpu_next_rip(const struct cpu *cpu,
                                    const struct cpu_insn *in)
{
    return cpu->block_rip + in->offset + in->len;
}

/* ---- Threaded dispatch ------------------------------------------------- */

/*
 * Defines @name as the threaded form of the single-step handler @body
 * (which it inlines when @body is visible in the same file).
 */
#define CPU_THREADED(name, body)                                               \
    static enum cpu_status name(struct cpu *cpu, const struct cpu_insn *in)    \
    {                                                                          \
        enum cpu_status st_ = body(cpu, in);                                   \
                                                                               \
        if (SIM_LIKELY(st_ == CPU_OK)) {                                       \
            return in[1].fn(cpu, in + 1);                                      \
        }                                                                      \
        cpu->fault_in = in;                                                    \
        return st_;                                                            \
    }

/* The threaded form of any handler, through its step pointer. */
cpu_insn_fn cpu_thread_generic;
/* The sentinel after a block's last instruction. */
cpu_insn_fn cpu_op_block_end;

/* ---- Cross-file internals ----------------------------------------------- */

/* decode.c: decodes one block starting at cpu->rip (guest-physical @pa). */
struct cpu_block *cpu_decode_block(struct cpu *cpu, uint64_t pa,
                                   enum cpu_status *st /* out */);
void *cpu_decoder_new(void);
const char *cpu_mnemonic_str(unsigned mnemonic);

/* cpu.c: the decoded-block cache, by machine-physical page. */
void cpu_code_invalidate_page(struct cpu *cpu, uint64_t page_pa);
bool cpu_is_code_page(struct cpu *cpu, uint64_t page_pa);

/* memory.c: paging and TLB. */
void cpu_tlb_flush(struct cpu *cpu);
void cpu_tlb_flush_page(struct cpu *cpu, uint64_t la);
void cpu_set_cpl(struct cpu *cpu, unsigned cpl);
/* Reads instruction bytes at linear @la for decoding (fetch access). */
enum cpu_status cpu_fetch(struct cpu *cpu, uint64_t la, uint8_t *buf,
                          unsigned len, unsigned *got /* out */);
enum cpu_status cpu_translate_fetch(struct cpu *cpu, uint64_t la,
                                    uint64_t *pa /* out */);

/*
 * vmx.c: VM exits and the conditional-exit checks the handlers call in
 * non-root operation (STYLE rule 9).  Each returns CPU_OK (no exit) or
 * CPU_VMEXIT with the exit recorded in the VMCS.
 */
enum cpu_status cpu_vmexit(struct cpu *cpu, unsigned reason, uint64_t qual,
                           unsigned insn_len);
enum cpu_status cpu_vmx_io(struct cpu *cpu, const struct cpu_insn *in,
                           uint16_t port, unsigned size, bool is_in,
                           bool string);
enum cpu_status cpu_vmx_msr(struct cpu *cpu, const struct cpu_insn *in,
                            bool write);
enum cpu_status cpu_vmx_cr_write(struct cpu *cpu, const struct cpu_insn *in,
                                 unsigned cr, unsigned gpr, uint64_t *value);
enum cpu_status cpu_vmx_cr_read(struct cpu *cpu, const struct cpu_insn *in,
                                unsigned cr, unsigned gpr, uint64_t *value);
enum cpu_status cpu_vmx_unconditional(struct cpu *cpu,
                                      const struct cpu_insn *in,
                                      unsigned reason);
/* True if exception @vector (error @error) exits under the bitmap. */
bool cpu_vmx_exception_exits(const struct cpu *cpu, unsigned vector,
                             int64_t error);
/* Records an exception exit (reason 0) for the pending exception. */
enum cpu_status cpu_vmx_exception_exit(struct cpu *cpu, unsigned insn_len);
/* Records IDT-vectoring information for an exit during event delivery. */
/* @type: the event's cpu->exc_type (0 for a hardware exception). */
void cpu_vmx_set_idt_vectoring(struct cpu *cpu, unsigned vector,
                               int64_t error, unsigned type);
/* Saves the guest state to the VMCS and leaves non-root operation. */
void cpu_vmx_exit_complete(struct cpu *cpu);
/* Guest-physical to machine-physical through EPT (identity without). */
enum cpu_status cpu_ept_translate(struct cpu *cpu, uint64_t gpa,
                                  enum mmu_access acc, bool final,
                                  uint64_t *mpa, bool *mmio,
                                  unsigned *perms);
uint64_t cpu_tsc(const struct cpu *cpu);

/* exec-system.c: IOPL / TSS I/O-bitmap check for port @port. */
enum cpu_status cpu_io_check(struct cpu *cpu, uint16_t port, unsigned size);

/* exec-system.c: segment loads and descriptor-table helpers. */
enum cpu_status cpu_load_sreg(struct cpu *cpu, enum cpu_sreg sreg,
                              uint16_t sel);
void cpu_seg_flat(struct cpu_segment *s, uint16_t sel, unsigned dpl,
                  bool code);
/* Delivers the pending exception or interrupt through the IDT. */
enum cpu_status cpu_deliver_event(struct cpu *cpu, unsigned vector,
                                  int64_t error, bool software,
                                  uint64_t return_rip);

/* Handler sets, exported by the exec files for decode.c. */
#include "cpu/handlers.h"

/*
 * cpu/memory.c: a device access the environment did not complete as the
 * CPU models it (@st is neither CPU_OK nor, for ports, CPU_STOP): the run
 * stops as unsupported, naming @what ("MMIO read", "port write") at @addr.
 * Returns: CPU_STOP with cpu->fatal set.
 */
enum cpu_status cpu_env_unsupported(struct cpu *cpu, const char *what,
                                    uint64_t addr, enum cpu_status st);
/* Port I/O through the environment: CPU_OK, CPU_STOP, or the above. */
static inline enum cpu_status cpu_port_in(struct cpu *cpu, uint16_t port,
                                          unsigned size, uint32_t *val)
{
    enum cpu_status st = cpu->ops->io_in(cpu->opaque, port, size, val);

    return SIM_LIKELY(st == CPU_OK || st == CPU_STOP)
               ? st
               : cpu_env_unsupported(cpu, "port read", port, st);
}

static inline enum cpu_status cpu_port_out(struct cpu *cpu, uint16_t port,
                                           unsigned size, uint32_t val)
{
    enum cpu_status st = cpu->ops->io_out(cpu->opaque, port, size, val);

    return SIM_LIKELY(st == CPU_OK || st == CPU_STOP)
               ? st
               : cpu_env_unsupported(cpu, "port write", port, st);
}

#endif /* SIM_CPU_CPU_INTERNAL_H */
