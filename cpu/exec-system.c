/*
 * cpu/exec-system.c: what a small kernel needs from the processor:
 * segment and descriptor-table loads, delivery of exceptions and software
 * interrupts through the 64-bit IDT (SDM 3A §6.14), IRETQ, SYSCALL/SYSRET,
 * SWAPGS, the FS/GS base instructions, control registers, the MSRs the
 * model has, CPUID, the TSC, port I/O with the IOPL and TSS I/O-bitmap
 * checks, and the privileged no-ops.  x87/SSE are recognised only to
 * raise #NM/#UD as the architecture requires.
 */
#include "sim/common.h"

#include <string.h>

#include "cpu/cpu-internal.h"
#include "cpu/vmx-internal.h"
#include "mmu/mmu.h"

/* MSR indices (SDM 4, table 2-2). */
#define MSR_TSC 0x10
#define MSR_APIC_BASE 0x1b
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

/* Descriptor attribute bits, as kept in cpu_segment.attr (bits 40..55). */
#define ATTR_TYPE_MASK 0x000f
#define ATTR_CODE 0x0008   /* type bit 3: code segment */
#define ATTR_CONFORMING 0x0004
#define ATTR_WRITABLE 0x0002 /* data: writable; code: readable */
#define ATTR_S 0x0010
#define ATTR_DPL(a) (((a) >> 5) & 3)
#define ATTR_P 0x0080
#define ATTR_L 0x2000
#define ATTR_D 0x4000

/* Error code for a vector-related #GP/#NP: IDT bit and EXT (SDM 3A §6.13). */
static int64_t idt_error(unsigned vector, bool software)
{
    return (int64_t)(vector * 8 + 2 + (software ? 0 : 1));
}

void cpu_seg_flat(struct cpu_segment *s, uint16_t sel, unsigned dpl,
                  bool code)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffff;
    s->attr = (uint16_t)(ATTR_S | ATTR_P | (dpl << 5) | ATTR_WRITABLE |
                         0x8000 /* G */ | 1 /* accessed */ |
                         (code ? (ATTR_CODE | ATTR_L) : ATTR_D));
}

/* Reads the 8-byte GDT descriptor for @sel; #GP(sel) if outside the GDT. */
static enum cpu_status read_descriptor(struct cpu *cpu, uint16_t sel,
                                       uint64_t *desc, int64_t ext)
{
    uint64_t off = sel & ~7u;

    if (sel & 4) {
        /* Local descriptor tables are not modelled. */
        return cpu_raise(cpu, CPU_EXC_GP, (sel & ~3) | ext);
    }
    if (off + 7 > cpu->gdtr.limit) {
        return cpu_raise(cpu, CPU_EXC_GP, (sel & ~3) | ext);
    }
    return cpu_sys_read(cpu, cpu->gdtr.base + off, 8, desc);
}

static uint16_t desc_attr(uint64_t d)
{
    return (uint16_t)((d >> 40) & 0xf0ff);
}

static uint64_t desc_base(uint64_t d)
{
    return ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
}

static uint32_t desc_limit(uint64_t d)
{
    uint32_t lim = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));

    return (d & (1ull << 55)) ? (lim << 12) | 0xfff : lim;
}

/*
 * Loading a segment register from a descriptor whose accessed bit (type
 * bit 0) is clear sets it in the GDT (SDM 3A §3.4.5.1), for CS and SS
 * loaded by far transfers, interrupts and IRET as for MOV and POP.
 */
static enum cpu_status set_accessed(struct cpu *cpu, uint16_t sel,
                                    uint64_t *desc)
{
    enum cpu_status st = CPU_OK;

    if (!(*desc & (1ull << 40))) {
        st = cpu_sys_write(cpu, cpu->gdtr.base + (sel & ~7u), 8,
                           *desc | (1ull << 40));
        if (st == CPU_OK) {
            *desc |= 1ull << 40;
        }
    }
    return st;
}

/*
 * Loads a data segment register or SS in 64-bit mode (SDM 2B MOV, POP:
 * protected-mode checks).  A null selector is allowed for DS/ES/FS/GS, and
 * for SS below CPL 3 when RPL = CPL.  Loading FS/GS sets their 32-bit base.
 */
enum cpu_status cpu_load_sreg(struct cpu *cpu, enum cpu_sreg sreg,
                              uint16_t sel)
{
    struct cpu_segment *s = &cpu->seg[sreg];
    unsigned rpl = sel & 3;
    uint64_t d;
    uint16_t attr;
    enum cpu_status st;

    if ((sel & ~3) == 0) {
        if (sreg == CPU_SS && (cpu->cpl == 3 || rpl != cpu->cpl)) {
            return cpu_raise_gp0(cpu);
        }
        s->sel = sel;
        s->base = 0;
        s->limit = 0;
        s->attr = 0;
        goto done;
    }
    st = read_descriptor(cpu, sel, &d, 0);
    if (st != CPU_OK) {
        return st;
    }
    attr = desc_attr(d);
    if (sreg == CPU_SS) {
        if (rpl != cpu->cpl || !(attr & ATTR_S) || (attr & ATTR_CODE) ||
            !(attr & ATTR_WRITABLE) || ATTR_DPL(attr) != cpu->cpl) {
            return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
        }
        if (!(attr & ATTR_P)) {
            return cpu_raise(cpu, CPU_EXC_SS, sel & ~3);
        }
    } else {
        bool code = attr & ATTR_CODE;

        if (!(attr & ATTR_S) || (code && !(attr & ATTR_WRITABLE))) {
            return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
        }
        if ((!code || !(attr & ATTR_CONFORMING)) &&
            ATTR_DPL(attr) < (rpl > cpu->cpl ? rpl : cpu->cpl)) {
            return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
        }
        if (!(attr & ATTR_P)) {
            return cpu_raise(cpu, CPU_EXC_NP, sel & ~3);
        }
    }
    st = set_accessed(cpu, sel, &d);
    if (st != CPU_OK) {
        return st;
    }
    s->sel = sel;
    s->base = desc_base(d);
    s->limit = desc_limit(d);
    s->attr = attr | 1;
done:
    cpu_vmx_guest_state_changed(cpu);
    if (sreg == CPU_FS) {
        cpu->segbase[CPU_SEGBASE_FS] = s->base;
    } else if (sreg == CPU_GS) {
        cpu->segbase[CPU_SEGBASE_GS] = s->base;
    }
    return CPU_OK;
}

/* Reads a 64-bit stack pointer from the TSS at byte offset @off. */
static enum cpu_status tss_rsp(struct cpu *cpu, unsigned off, uint64_t *rsp)
{
    if (cpu->tr.limit < off + 7 || (cpu->tr.sel & ~3) == 0) {
        return cpu_raise(cpu, CPU_EXC_TS, cpu->tr.sel & ~3);
    }
    return cpu_sys_read(cpu, cpu->tr.base + off, 8, rsp);
}

/*
 * Delivers @vector through the IDT (SDM 3A §6.14): 64-bit interrupt or
 * trap gate, target code segment checks, stack switch on a privilege
 * change or an IST index, a 16-byte aligned frame of SS, RSP, RFLAGS, CS,
 * RIP and the error code.  Memory is written before any register changes,
 * so a fault while delivering leaves the state as it was.
 */
enum cpu_status cpu_deliver_event(struct cpu *cpu, unsigned vector,
                                  int64_t error, bool software,
                                  uint64_t return_rip)
{
    uint64_t lo, hi, cs_desc, target, rsp, rflags;
    uint64_t frame[6];
    unsigned ist, dpl, new_cpl, type, n = 0;
    uint16_t sel;
    int64_t ext = software ? 0 : 1;
    enum cpu_status st;

    if (vector * 16 + 15 > cpu->idtr.limit) {
        return cpu_raise(cpu, CPU_EXC_GP, idt_error(vector, software));
    }
    if (vector == CPU_EXC_PF && !software) {
        cpu->cr2 = cpu->exc_cr2;
    }
    st = cpu_sys_read(cpu, cpu->idtr.base + vector * 16, 8, &lo);
    if (st == CPU_OK) {
        st = cpu_sys_read(cpu, cpu->idtr.base + vector * 16 + 8, 8, &hi);
    }
    if (st != CPU_OK) {
        return st;
    }
    type = (lo >> 40) & 0xf;
    dpl = (lo >> 45) & 3;
    if (type != 0xe && type != 0xf) {
        return cpu_raise(cpu, CPU_EXC_GP, idt_error(vector, software));
    }
    if (software && dpl < cpu->cpl) {
        return cpu_raise(cpu, CPU_EXC_GP, idt_error(vector, software));
    }
    if (!(lo & (1ull << 47))) {
        return cpu_raise(cpu, CPU_EXC_NP, idt_error(vector, software));
    }
    sel = (uint16_t)(lo >> 16);
    ist = (lo >> 32) & 7;
    target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
    if ((sel & ~3) == 0) {
        return cpu_raise(cpu, CPU_EXC_GP, ext);
    }
    st = read_descriptor(cpu, sel, &cs_desc, ext);
    if (st != CPU_OK) {
        return st;
    }
    {
        uint16_t attr = desc_attr(cs_desc);

        if (!(attr & ATTR_S) || !(attr & ATTR_CODE) || !(attr & ATTR_L) ||
            (attr & ATTR_D) || ATTR_DPL(attr) > cpu->cpl) {
            return cpu_raise(cpu, CPU_EXC_GP, (sel & ~3) | ext);
        }
        if (!(attr & ATTR_P)) {
            return cpu_raise(cpu, CPU_EXC_NP, (sel & ~3) | ext);
        }
        new_cpl = (attr & ATTR_CONFORMING) ? cpu->cpl : ATTR_DPL(attr);
    }
    if (!mmu_canonical(target)) {
        return cpu_raise(cpu, CPU_EXC_GP, ext);
    }
    st = set_accessed(cpu, sel, &cs_desc);
    if (st != CPU_OK) {
        return st;
    }
    if (ist != 0) {
        st = tss_rsp(cpu, 36 + (ist - 1) * 8, &rsp);
    } else if (new_cpl < cpu->cpl) {
        st = tss_rsp(cpu, 4 + new_cpl * 8, &rsp);
    } else {
        rsp = cpu->gpr[CPU_RSP];
    }
    if (st != CPU_OK) {
        return st;
    }
    if (!mmu_canonical(rsp)) {
        return cpu_raise(cpu, CPU_EXC_SS, ext);
    }
    rsp &= ~15ull;
    rflags = cpu_flags_get(cpu);
    frame[n++] = cpu->seg[CPU_SS].sel;
    frame[n++] = cpu->gpr[CPU_RSP];
    frame[n++] = rflags;
    frame[n++] = cpu->seg[CPU_CS].sel;
    frame[n++] = return_rip;
    if (error >= 0) {
        frame[n++] = (uint64_t)error;
    }
    for (unsigned i = 0; i < n; i++) {
        st = cpu_sys_write(cpu, rsp - 8 * (i + 1), 8, frame[i]);
        if (st != CPU_OK) {
            return st;
        }
    }
    if (new_cpl != cpu->cpl) {
        /* In 64-bit mode SS becomes a null selector with RPL = CPL. */
        cpu->seg[CPU_SS].sel = (uint16_t)new_cpl;
        cpu->seg[CPU_SS].base = 0;
        cpu->seg[CPU_SS].attr = 0;
    }
    cpu_seg_flat(&cpu->seg[CPU_CS], (uint16_t)((sel & ~3) | new_cpl),
                 ATTR_DPL(desc_attr(cs_desc)), true);
    cpu->gpr[CPU_RSP] = rsp - 8 * n;
    rflags &= ~(CPU_FLAG_TF | CPU_FLAG_NT | CPU_FLAG_RF | (1ull << 17));
    if (type == 0xe) {
        rflags &= ~CPU_FLAG_IF;
    }
    cpu->rflags = rflags & ~CPU_FLAGS_ARITH;
    cpu_flags_set_arith(cpu, rflags);
    cpu_set_cpl(cpu, new_cpl);
    cpu->rip = target;
    cpu->cycles += cpu->costs[CPU_COST_EXCEPTION];
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/* INT n and INT3 are traps: the loop delivers them with RIP after them. */
enum cpu_status cpu_op_int(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu_raise(cpu, (unsigned)in->imm, -1);
    cpu->exc_is_trap = true;
    cpu->exc_type = VMX_INTR_TYPE_SW_INTR;
    return CPU_FAULT;
}

enum cpu_status cpu_op_int3(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu_raise(cpu, CPU_EXC_BP, -1);
    cpu->exc_is_trap = true;
    cpu->exc_type = VMX_INTR_TYPE_SW_EXCEPTION;
    return CPU_FAULT;
}

enum cpu_status cpu_op_ud(struct cpu *cpu, const struct cpu_insn *in)
{
    return cpu_raise_ud(cpu);
}

/* Checks an IRETQ or SYSRET return code segment; 64-bit code only. */
static enum cpu_status check_return_cs(struct cpu *cpu, uint16_t sel,
                                       uint64_t *desc)
{
    uint16_t attr;
    enum cpu_status st;

    if ((sel & ~3) == 0) {
        return cpu_raise_gp0(cpu);
    }
    if ((sel & 3) < cpu->cpl) {
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    st = read_descriptor(cpu, sel, desc, 0);
    if (st != CPU_OK) {
        return st;
    }
    attr = desc_attr(*desc);
    if (!(attr & ATTR_S) || !(attr & ATTR_CODE)) {
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    if ((attr & ATTR_CONFORMING) ? ATTR_DPL(attr) > (sel & 3u)
                                 : ATTR_DPL(attr) != (sel & 3u)) {
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    if (!(attr & ATTR_P)) {
        return cpu_raise(cpu, CPU_EXC_NP, sel & ~3);
    }
    if (!(attr & ATTR_L) || (attr & ATTR_D)) {
        /* Compatibility mode is not modelled: refuse the return. */
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    return CPU_OK;
}

/*
 * IRETQ in 64-bit mode (SDM 2A IRET, "IA-32e mode" path): pops RIP, CS,
 * RFLAGS, RSP and SS; which RFLAGS bits change depends on CPL and IOPL.
 */
enum cpu_status cpu_op_iretq(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t f[5], cs_desc, ss_desc = 0, old, mask;
    unsigned new_cpl, iopl;
    uint16_t cs_sel, ss_sel;
    enum cpu_status st;

    if (in->opsize != 8) {
        return cpu_op_unsupported(cpu, in);
    }
    for (unsigned i = 0; i < 5; i++) {
        st = cpu_peek(cpu, 8, i * 8, &f[i]);
        if (st != CPU_OK) {
            return st;
        }
    }
    cs_sel = (uint16_t)f[1];
    ss_sel = (uint16_t)f[4];
    st = check_return_cs(cpu, cs_sel, &cs_desc);
    if (st != CPU_OK) {
        return st;
    }
    new_cpl = cs_sel & 3;
    if ((ss_sel & ~3) == 0) {
        if (new_cpl == 3 || (ss_sel & 3) != new_cpl) {
            return cpu_raise_gp0(cpu);
        }
    } else {
        uint16_t a;

        if ((ss_sel & 3) != new_cpl) {
            return cpu_raise(cpu, CPU_EXC_GP, ss_sel & ~3);
        }
        st = read_descriptor(cpu, ss_sel, &ss_desc, 0);
        if (st != CPU_OK) {
            return st;
        }
        a = desc_attr(ss_desc);
        if (!(a & ATTR_S) || (a & ATTR_CODE) || !(a & ATTR_WRITABLE) ||
            ATTR_DPL(a) != new_cpl) {
            return cpu_raise(cpu, CPU_EXC_GP, ss_sel & ~3);
        }
        if (!(a & ATTR_P)) {
            return cpu_raise(cpu, CPU_EXC_SS, ss_sel & ~3);
        }
    }
    if (!mmu_canonical(f[0])) {
        return cpu_raise_gp0(cpu);
    }
    st = set_accessed(cpu, cs_sel, &cs_desc);
    if (st == CPU_OK && (ss_sel & ~3) != 0) {
        st = set_accessed(cpu, ss_sel, &ss_desc);
    }
    if (st != CPU_OK) {
        return st;
    }
    old = cpu_flags_get(cpu);
    iopl = (unsigned)((old & CPU_FLAG_IOPL) >> 12);
    mask = CPU_FLAGS_ARITH | CPU_FLAG_TF | CPU_FLAG_DF | CPU_FLAG_NT |
           CPU_FLAG_AC | CPU_FLAG_ID | CPU_FLAG_RF;
    if (cpu->cpl == 0) {
        mask |= CPU_FLAG_IOPL;
    }
    if (cpu->cpl <= iopl) {
        mask |= CPU_FLAG_IF;
    }
    old = (old & ~mask) | (f[2] & mask);
    cpu->rflags = (old & ~CPU_FLAGS_ARITH) | 2;
    cpu_flags_set_arith(cpu, old);
    cpu_seg_flat(&cpu->seg[CPU_CS], cs_sel, ATTR_DPL(desc_attr(cs_desc)),
                 true);
    if ((ss_sel & ~3) == 0) {
        cpu->seg[CPU_SS].sel = ss_sel;
        cpu->seg[CPU_SS].base = 0;
        cpu->seg[CPU_SS].attr = 0;
    } else {
        cpu->seg[CPU_SS].sel = ss_sel;
        cpu->seg[CPU_SS].base = desc_base(ss_desc);
        cpu->seg[CPU_SS].limit = desc_limit(ss_desc);
        cpu->seg[CPU_SS].attr = desc_attr(ss_desc);
    }
    if (new_cpl > cpu->cpl) {
        /* Data segments the outer level may not use become null. */
        static const enum cpu_sreg data_sregs[] = {CPU_ES, CPU_DS, CPU_FS,
                                                    CPU_GS};

        for (unsigned i = 0; i < SIM_ARRAY_SIZE(data_sregs); i++) {
            struct cpu_segment *s = &cpu->seg[data_sregs[i]];
            bool conforming_code = (s->attr & ATTR_CODE) &&
                                   (s->attr & ATTR_CONFORMING);

            if ((s->sel & ~3) != 0 && !conforming_code &&
                ATTR_DPL(s->attr) < new_cpl) {
                s->sel = 0;
                s->attr = 0;
            }
        }
    }
    cpu->gpr[CPU_RSP] = f[3];
    cpu->rip = f[0];
    cpu_set_cpl(cpu, new_cpl);
    cpu->attention = 1; /* IF may have been set: interrupt window */
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/* SYSCALL (SDM 2B): #UD unless EFER.SCE; CPL 0 with flat CS/SS from STAR. */
enum cpu_status cpu_op_syscall(struct cpu *cpu, const struct cpu_insn *in)
{
    uint16_t sel = (uint16_t)(cpu->star >> 32);
    uint64_t f;

    if (!(cpu->efer & CPU_EFER_SCE)) {
        return cpu_raise_ud(cpu);
    }
    f = cpu_flags_get(cpu);
    cpu->gpr[CPU_RCX] = cpu_next_rip(cpu, in);
    cpu->gpr[CPU_R11] = f & ~CPU_FLAG_RF;
    f &= ~(cpu->fmask | CPU_FLAG_RF);
    cpu->rflags = (f & ~CPU_FLAGS_ARITH) | 2;
    cpu_flags_set_arith(cpu, f);
    cpu_seg_flat(&cpu->seg[CPU_CS], sel & 0xfffc, 0, true);
    cpu_seg_flat(&cpu->seg[CPU_SS], (uint16_t)(sel + 8), 0, false);
    cpu->rip = cpu->lstar;
    cpu_set_cpl(cpu, 0);
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/*
 * SYSRET with REX.W (SDM 2B): to 64-bit CPL 3 code.  #UD unless EFER.SCE;
 * #GP(0) at CPL > 0 or for a non-canonical RCX.  The 32-bit form returns
 * to compatibility mode, which is not modelled.
 */
enum cpu_status cpu_op_sysret(struct cpu *cpu, const struct cpu_insn *in)
{
    uint16_t sel = (uint16_t)(cpu->star >> 48);
    uint64_t f;

    if (!(cpu->efer & CPU_EFER_SCE)) {
        return cpu_raise_ud(cpu);
    }
    if (cpu->cpl != 0 || !mmu_canonical(cpu->gpr[CPU_RCX])) {
        return cpu_raise_gp0(cpu);
    }
    if (in->opsize != 8) {
        return cpu_op_unsupported(cpu, in);
    }
    f = (cpu->gpr[CPU_R11] & 0x3c7fd7) | 2;
    cpu->rflags = f & ~CPU_FLAGS_ARITH;
    cpu_flags_set_arith(cpu, f);
    cpu_seg_flat(&cpu->seg[CPU_CS], (uint16_t)((sel + 16) | 3), 3, true);
    cpu_seg_flat(&cpu->seg[CPU_SS], (uint16_t)((sel + 8) | 3), 3, false);
    cpu->rip = cpu->gpr[CPU_RCX];
    cpu_set_cpl(cpu, 3);
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

enum cpu_status cpu_op_swapgs(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t t;

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    t = cpu->seg[CPU_GS].base;
    cpu->seg[CPU_GS].base = cpu->kernel_gs_base;
    cpu->segbase[CPU_SEGBASE_GS] = cpu->kernel_gs_base;
    cpu->kernel_gs_base = t;
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/* RDFSBASE/RDGSBASE (aux 0/1): #UD unless CR4.FSGSBASE. */
enum cpu_status cpu_op_rdfsbase(struct cpu *cpu, const struct cpu_insn *in)
{
    if (!(cpu->cr4 & CPU_CR4_FSGSBASE)) {
        return cpu_raise_ud(cpu);
    }
    cpu_reg_write(cpu, in->r, in->opsize,
                  cpu->seg[in->aux ? CPU_GS : CPU_FS].base);
    return CPU_OK;
}

enum cpu_status cpu_op_wrfsbase(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v = cpu_reg_read(cpu, in->r, in->opsize);
    enum cpu_sreg s = in->aux ? CPU_GS : CPU_FS;

    if (!(cpu->cr4 & CPU_CR4_FSGSBASE)) {
        return cpu_raise_ud(cpu);
    }
    if (!mmu_canonical(v)) {
        return cpu_raise_gp0(cpu);
    }
    cpu->seg[s].base = v;
    cpu->segbase[in->aux ? CPU_SEGBASE_GS : CPU_SEGBASE_FS] = v;
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/* MOV Sreg, r/m16 (aux = segment register; CS is #UD at decode). */
enum cpu_status cpu_op_mov_sreg_load(struct cpu *cpu,
                                     const struct cpu_insn *in)
{
    uint64_t v;
    enum cpu_status st;

    if (in->opk & CPU_OPK_M1) {
        st = cpu_mem_read(cpu, cpu_ea(cpu, in), 2, &v);
        if (st != CPU_OK) {
            return st;
        }
    } else {
        v = cpu_reg_read(cpu, in->rm, 2);
    }
    st = cpu_load_sreg(cpu, in->aux, (uint16_t)v);
    if (st == CPU_OK && in->aux == CPU_SS) {
        /* MOV SS blocks interrupts for the next instruction (SDM 2B). */
        cpu->intr_shadow = VMX_INTERRUPTIBILITY_MOV_SS;
    }
    return st;
}

/* MOV r/m, Sreg: a register destination gets the zero-extended selector. */
enum cpu_status cpu_op_mov_sreg_store(struct cpu *cpu,
                                      const struct cpu_insn *in)
{
    uint16_t sel = cpu->seg[in->aux].sel;

    if (in->opk & CPU_OPK_M0) {
        return cpu_mem_write(cpu, cpu_ea(cpu, in), 2, sel);
    }
    cpu_reg_write(cpu, in->r, in->opsize < 4 ? 2 : in->opsize, sel);
    return CPU_OK;
}

/* ---- Descriptor tables -------------------------------------------------- */

static enum cpu_status load_dtr(struct cpu *cpu, const struct cpu_insn *in,
                                struct cpu_dtr *dtr)
{
    uint64_t la = cpu_ea(cpu, in), limit, base;
    enum cpu_status st;

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    st = cpu_mem_read(cpu, la, 2, &limit);
    if (st == CPU_OK) {
        st = cpu_mem_read(cpu, la + 2, 8, &base);
    }
    if (st != CPU_OK) {
        return st;
    }
    if (!mmu_canonical(base)) {
        return cpu_raise_gp0(cpu);
    }
    dtr->base = base;
    dtr->limit = (uint16_t)limit;
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

static enum cpu_status store_dtr(struct cpu *cpu, const struct cpu_insn *in,
                                 const struct cpu_dtr *dtr)
{
    uint64_t la = cpu_ea(cpu, in);
    enum cpu_status st = cpu_mem_probe_write(cpu, la, 10);

    if (st != CPU_OK) {
        return st;
    }
    cpu_mem_write(cpu, la, 2, dtr->limit);
    return cpu_mem_write(cpu, la + 2, 8, dtr->base);
}

enum cpu_status cpu_op_lgdt(struct cpu *cpu, const struct cpu_insn *in)
{
    return load_dtr(cpu, in, &cpu->gdtr);
}

enum cpu_status cpu_op_lidt(struct cpu *cpu, const struct cpu_insn *in)
{
    return load_dtr(cpu, in, &cpu->idtr);
}

enum cpu_status cpu_op_sgdt(struct cpu *cpu, const struct cpu_insn *in)
{
    return store_dtr(cpu, in, &cpu->gdtr);
}

enum cpu_status cpu_op_sidt(struct cpu *cpu, const struct cpu_insn *in)
{
    return store_dtr(cpu, in, &cpu->idtr);
}

/*
 * LTR r/m16 (SDM 2A LTR): the selector must name an available 64-bit TSS
 * (type 9) in the GDT; the descriptor is 16 bytes and is marked busy.
 */
enum cpu_status cpu_op_ltr(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v, lo, hi;
    uint16_t sel;
    enum cpu_status st;

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (in->opk & CPU_OPK_M0) {
        st = cpu_mem_read(cpu, cpu_ea(cpu, in), 2, &v);
        if (st != CPU_OK) {
            return st;
        }
    } else {
        v = cpu_reg_read(cpu, in->r, 2);
    }
    sel = (uint16_t)v;
    if ((sel & ~3) == 0) {
        return cpu_raise_gp0(cpu);
    }
    if ((sel & 4) || (sel & ~7u) + 15 > cpu->gdtr.limit) {
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    st = cpu_sys_read(cpu, cpu->gdtr.base + (sel & ~7u), 8, &lo);
    if (st == CPU_OK) {
        st = cpu_sys_read(cpu, cpu->gdtr.base + (sel & ~7u) + 8, 8, &hi);
    }
    if (st != CPU_OK) {
        return st;
    }
    if (((lo >> 40) & 0x1f) != 0x09) {
        return cpu_raise(cpu, CPU_EXC_GP, sel & ~3);
    }
    if (!(lo & (1ull << 47))) {
        return cpu_raise(cpu, CPU_EXC_NP, sel & ~3);
    }
    st = cpu_sys_write(cpu, cpu->gdtr.base + (sel & ~7u), 8,
                       lo | (2ull << 40));
    if (st != CPU_OK) {
        return st;
    }
    cpu->tr.sel = sel;
    cpu->tr.base = desc_base(lo) | (hi << 32);
    cpu->tr.limit = desc_limit(lo);
    cpu->tr.attr = desc_attr(lo) | 2;
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

enum cpu_status cpu_op_str(struct cpu *cpu, const struct cpu_insn *in)
{
    if (in->opk & CPU_OPK_M0) {
        return cpu_mem_write(cpu, cpu_ea(cpu, in), 2, cpu->tr.sel);
    }
    cpu_reg_write(cpu, in->r, in->opsize, cpu->tr.sel);
    return CPU_OK;
}

enum cpu_status cpu_op_invlpg(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot && (cpu->vmx_proc & VMX_PROC_INVLPG_EXITING)) {
        return cpu_vmexit(cpu, VMX_EXIT_INVLPG, cpu_ea(cpu, in), in->len);
    }
    cpu_tlb_flush_page(cpu, cpu_ea(cpu, in));
    return CPU_OK;
}

/* ---- Interrupt flag, halt, privileged no-ops ---------------------------- */

static unsigned iopl(const struct cpu *cpu)
{
    return (unsigned)((cpu->rflags & CPU_FLAG_IOPL) >> 12);
}

enum cpu_status cpu_op_cli(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->cpl > iopl(cpu)) {
        return cpu_raise_gp0(cpu);
    }
    cpu->rflags &= ~CPU_FLAG_IF;
    return CPU_OK;
}

enum cpu_status cpu_op_sti(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->cpl > iopl(cpu)) {
        return cpu_raise_gp0(cpu);
    }
    if (!(cpu->rflags & CPU_FLAG_IF)) {
        /* Interrupts stay blocked for one more instruction. */
        cpu->intr_shadow = VMX_INTERRUPTIBILITY_STI;
    }
    cpu->rflags |= CPU_FLAG_IF;
    cpu->attention = 1;
    return CPU_OK;
}

/* HLT: the run loop returns CPU_STOP_HALT with RIP after the HLT. */
enum cpu_status cpu_op_hlt(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot && (cpu->vmx_proc & VMX_PROC_HLT_EXITING)) {
        return cpu_vmx_unconditional(cpu, in, VMX_EXIT_HLT);
    }
    cpu->halted = true;
    return CPU_STOP;
}

/* WBINVD and friends: privileged, with no effect in this model. */
/* aux: 0 WBINVD, 1 INVD (which always exits in non-root operation). */
enum cpu_status cpu_op_priv_nop(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot) {
        if (in->aux == 1) {
            return cpu_vmx_unconditional(cpu, in, VMX_EXIT_INVD);
        }
        if (cpu->vmx_proc2 & VMX_PROC2_WBINVD_EXITING) {
            return cpu_vmx_unconditional(cpu, in, VMX_EXIT_WBINVD);
        }
    }
    return CPU_OK;
}

/* PAUSE: exits under "PAUSE exiting" (PAUSE-loop exiting not modelled). */
enum cpu_status cpu_op_pause(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->nonroot && (cpu->vmx_proc & VMX_PROC_PAUSE_EXITING)) {
        return cpu_vmx_unconditional(cpu, in, VMX_EXIT_PAUSE);
    }
    return CPU_OK;
}

/*
 * VMCALL and the VMX instructions (aux = their exit reason) exit
 * unconditionally in non-root operation; outside VMX operation they are
 * #UD (the model offers no VMX to its guests: nested virtualization is not
 * modelled, and CPUID does not report VMX).
 */
enum cpu_status cpu_op_vmx_insn(struct cpu *cpu, const struct cpu_insn *in)
{
    if (cpu->nonroot) {
        return cpu_vmx_unconditional(cpu, in, in->aux);
    }
    return cpu_raise_ud(cpu);
}

/* CLFLUSH: no caches are modelled, but the address must translate. */
enum cpu_status cpu_op_clflush(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;

    return cpu_mem_read(cpu, cpu_ea(cpu, in), 1, &v);
}

/*
 * x87 (aux 1) and SSE (aux 2) instructions are not executed.  The
 * architectural checks come first (SDM 3A §2.5, table 2-2): x87 raises #NM
 * with CR0.EM or CR0.TS; SSE raises #UD with CR0.EM or without
 * CR4.OSFXSR, #NM with CR0.TS.  Past them, the instruction is unsupported.
 */
enum cpu_status cpu_op_fpu_nm(struct cpu *cpu, const struct cpu_insn *in)
{
    if (in->aux == 1) {
        if (cpu->cr0 & (CPU_CR0_EM | CPU_CR0_TS)) {
            return cpu_raise(cpu, CPU_EXC_NM, -1);
        }
    } else {
        if ((cpu->cr0 & CPU_CR0_EM) || !(cpu->cr4 & CPU_CR4_OSFXSR)) {
            return cpu_raise_ud(cpu);
        }
        if (cpu->cr0 & CPU_CR0_TS) {
            return cpu_raise(cpu, CPU_EXC_NM, -1);
        }
    }
    return cpu_op_unsupported(cpu, in);
}

enum cpu_status cpu_op_unsupported(struct cpu *cpu, const struct cpu_insn *in)
{
    cpu->unsupported[in->mnemonic % CPU_NMNEMONICS]++;
    return cpu_raise_ud(cpu);
}

/* ---- Port I/O ------------------------------------------------------------ */

/*
 * Above IOPL, port access is allowed only where the TSS I/O permission
 * bitmap has zero bits for every byte of the access (SDM 1 §19.5.2).
 */
enum cpu_status cpu_io_check(struct cpu *cpu, uint16_t port, unsigned size)
{
    uint64_t base, bits;
    unsigned need;
    enum cpu_status st;

    if (cpu->cpl <= iopl(cpu)) {
        return CPU_OK;
    }
    if ((cpu->tr.sel & ~3) == 0 || cpu->tr.limit < 103) {
        return cpu_raise_gp0(cpu);
    }
    st = cpu_sys_read(cpu, cpu->tr.base + 102, 2, &base);
    if (st != CPU_OK) {
        return st;
    }
    need = (unsigned)base + port / 8 + 1;
    if (need > cpu->tr.limit) {
        return cpu_raise_gp0(cpu);
    }
    st = cpu_sys_read(cpu, cpu->tr.base + base + port / 8, 2, &bits);
    if (st != CPU_OK) {
        return st;
    }
    if ((bits >> (port & 7)) & ((1u << size) - 1)) {
        return cpu_raise_gp0(cpu);
    }
    return CPU_OK;
}

/* IN/OUT: the port is in->imm (CPU_OPK_I1) or DX; data in AL/AX/EAX. */
enum cpu_status cpu_op_in(struct cpu *cpu, const struct cpu_insn *in)
{
    uint16_t port = (in->opk & CPU_OPK_I1) ? (uint16_t)in->imm
                                           : (uint16_t)cpu->gpr[CPU_RDX];
    enum cpu_status st = cpu_io_check(cpu, port, in->opsize);
    uint32_t v = 0;

    if (st == CPU_OK && cpu->nonroot) {
        st = cpu_vmx_io(cpu, in, port, in->opsize, true, false);
    }
    if (st != CPU_OK) {
        return st;
    }
    st = cpu_port_in(cpu, port, in->opsize, &v);
    if (!cpu->fatal) {
        cpu_reg_write(cpu, CPU_RAX * 8, in->opsize, v);
    }
    return st;
}

enum cpu_status cpu_op_out(struct cpu *cpu, const struct cpu_insn *in)
{
    uint16_t port = (in->opk & CPU_OPK_I1) ? (uint16_t)in->imm
                                           : (uint16_t)cpu->gpr[CPU_RDX];
    enum cpu_status st = cpu_io_check(cpu, port, in->opsize);

    if (st == CPU_OK && cpu->nonroot) {
        st = cpu_vmx_io(cpu, in, port, in->opsize, false, false);
    }
    if (st != CPU_OK) {
        return st;
    }
    return cpu_port_out(cpu, port, in->opsize,
                        (uint32_t)cpu_reg_read(cpu, CPU_RAX * 8, in->opsize));
}

/* ---- CPUID, TSC, MSRs ---------------------------------------------------- */

static void cpuid_string(uint32_t out[4], const char *s)
{
    char buf[16] = {0};

    memcpy(buf, s, strnlen(s, 16));
    memcpy(out, buf, 16);
}

void cpu_set_cr2(struct cpu *cpu, uint64_t value)
{
    cpu->cr2 = value;
}

/*
 * CPUID: the model reports only what it implements (SDM 2A CPUID):
 * leaf 1 EDX: TSC, MSR, PAE, CX8, CMOV, CLFSH; ECX: CX16, POPCNT (per
 * model); leaf 7 EBX: FSGSBASE, BMI1 (TZCNT, per model); 0x80000001 EDX:
 * SYSCALL, NX, 1 GiB pages, RDTSCP, LM; ECX: LAHF/SAHF, ABM (LZCNT).
 */
void cpu_cpuid(const struct cpu *cpu, uint32_t leaf, uint32_t sub,
               uint32_t r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0; /* eax, ebx, ecx, edx */
    switch (leaf) {
    case 0:
        r[0] = 7;
        memcpy(&r[1], "Genu", 4);
        memcpy(&r[3], "ineI", 4);
        memcpy(&r[2], "ntel", 4);
        break;
    case 1:
        r[0] = 0x000506e3; /* family 6, model 0x5e, stepping 3 */
        r[1] = 0x00000800; /* CLFLUSH line size 64 bytes */
        /* ECX 24: TSC-deadline timer; EDX 9: an APIC on the chip (the
         * platform's local APIC, devices/lapic.c). */
        r[2] = (1u << 13) | (cpu->feat_popcnt ? 1u << 23 : 0) | (1u << 24);
        r[3] = (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) |
               (1u << 15) | (1u << 19);
        break;
    case 7:
        if (sub == 0) {
            r[1] = 1u | (cpu->feat_bmi1 ? 1u << 3 : 0);
        }
        break;
    case 0x80000000:
        r[0] = 0x80000008;
        break;
    case 0x80000001:
        r[2] = 1u | (cpu->feat_lzcnt ? 1u << 5 : 0);
        r[3] = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) |
               (1u << 29);
        break;
    case 0x80000002:
        cpuid_string(r, "iovsim x86-64 in");
        break;
    case 0x80000003:
        cpuid_string(r, "terpreter");
        break;
    case 0x80000008:
        r[0] = MMU_MAXPHYADDR | (48 << 8);
        break;
    default:
        break;
    }
}

enum cpu_status cpu_op_cpuid(struct cpu *cpu, const struct cpu_insn *in)
{
    uint32_t r[4];

    if (cpu->nonroot) {
        return cpu_vmx_unconditional(cpu, in, VMX_EXIT_CPUID);
    }
    cpu_cpuid(cpu, (uint32_t)cpu->gpr[CPU_RAX], (uint32_t)cpu->gpr[CPU_RCX],
              r);
    cpu->gpr[CPU_RAX] = r[0];
    cpu->gpr[CPU_RBX] = r[1];
    cpu->gpr[CPU_RCX] = r[2];
    cpu->gpr[CPU_RDX] = r[3];
    return CPU_OK;
}

/* RDTSC: #GP(0) above CPL 0 when CR4.TSD is set; exits under "RDTSC
 * exiting"; "use TSC offsetting" adds the VMCS TSC offset. */
static enum cpu_status read_tsc(struct cpu *cpu, const struct cpu_insn *in,
                                unsigned exit_reason)
{
    uint64_t t;

    if ((cpu->cr4 & (1u << 2)) && cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot && (cpu->vmx_proc & VMX_PROC_RDTSC_EXITING)) {
        return cpu_vmx_unconditional(cpu, in, exit_reason);
    }
    t = cpu_tsc(cpu);
    cpu->stats.tsc_reads++;
    cpu->gpr[CPU_RAX] = t & 0xffffffff;
    cpu->gpr[CPU_RDX] = t >> 32;
    return CPU_OK;
}

enum cpu_status cpu_op_rdtsc(struct cpu *cpu, const struct cpu_insn *in)
{
    return read_tsc(cpu, in, VMX_EXIT_RDTSC);
}

/* RDTSCP is #UD in a guest without "enable RDTSCP". */
enum cpu_status cpu_op_rdtscp(struct cpu *cpu, const struct cpu_insn *in)
{
    enum cpu_status st;

    if (cpu->nonroot && !(cpu->vmx_proc2 & VMX_PROC2_ENABLE_RDTSCP)) {
        return cpu_raise_ud(cpu);
    }
    st = read_tsc(cpu, in, VMX_EXIT_RDTSCP);

    if (st == CPU_OK) {
        cpu->gpr[CPU_RCX] = cpu->tsc_aux & 0xffffffff;
    }
    return st;
}

static bool msr_read(struct cpu *cpu, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case MSR_TSC:
        *v = cpu_tsc(cpu);
        cpu->stats.tsc_reads++;
        return true;
    case MSR_APIC_BASE:
        *v = cpu->apic_base;
        return true;
    case MSR_EFER:
        *v = cpu->efer;
        return true;
    case MSR_STAR:
        *v = cpu->star;
        return true;
    case MSR_LSTAR:
        *v = cpu->lstar;
        return true;
    case MSR_CSTAR:
        *v = cpu->cstar;
        return true;
    case MSR_FMASK:
        *v = cpu->fmask;
        return true;
    case MSR_FS_BASE:
        *v = cpu->seg[CPU_FS].base;
        return true;
    case MSR_GS_BASE:
        *v = cpu->seg[CPU_GS].base;
        return true;
    case MSR_KERNEL_GS_BASE:
        *v = cpu->kernel_gs_base;
        return true;
    case MSR_TSC_AUX:
        *v = cpu->tsc_aux;
        return true;
    default:
        return false;
    }
}

/* Writes an MSR; false means #GP(0) (unknown MSR or reserved bits). */
static bool msr_write(struct cpu *cpu, uint32_t msr, uint64_t v)
{
    switch (msr) {
    case MSR_TSC:
        cpu->tsc_offset = (int64_t)(v - (uint64_t)((unsigned __int128)
                                                   cpu->cycles *
                                                   cpu->tsc_num /
                                                   cpu->tsc_den));
        return true;
    case MSR_APIC_BASE:
        /* Bits 8 (BSP), 10 (x2APIC), 11 (enable), 12..45 base. */
        if (v & ~(0x3fffffffff000ull | (1u << 8) | (1u << 10) |
                  (1u << 11))) {
            return false;
        }
        cpu->apic_base = v;
        return true;
    case MSR_EFER: {
        uint64_t writable = CPU_EFER_SCE | CPU_EFER_LME | CPU_EFER_NXE;

        if (v & ~(writable | CPU_EFER_LMA)) {
            return false;
        }
        if ((cpu->cr0 & CPU_CR0_PG) &&
            ((v ^ cpu->efer) & CPU_EFER_LME)) {
            return false;
        }
        cpu->efer = (cpu->efer & CPU_EFER_LMA) | (v & writable);
        cpu_tlb_flush(cpu);
        return true;
    }
    case MSR_STAR:
        cpu->star = v;
        return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
        if (!mmu_canonical(v)) {
            return false;
        }
        if (msr == MSR_LSTAR) {
            cpu->lstar = v;
        } else if (msr == MSR_CSTAR) {
            cpu->cstar = v;
        } else if (msr == MSR_FS_BASE) {
            cpu->seg[CPU_FS].base = v;
            cpu->segbase[CPU_SEGBASE_FS] = v;
        } else if (msr == MSR_GS_BASE) {
            cpu->seg[CPU_GS].base = v;
            cpu->segbase[CPU_SEGBASE_GS] = v;
        } else {
            cpu->kernel_gs_base = v;
        }
        return true;
    case MSR_FMASK:
        cpu->fmask = v & 0xffffffff;
        return true;
    case MSR_TSC_AUX:
        if (v >> 32) {
            return false;
        }
        cpu->tsc_aux = v;
        return true;
    default:
        return false;
    }
}

enum cpu_status cpu_op_rdmsr(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot && cpu_vmx_msr(cpu, in, false) != CPU_OK) {
        return CPU_VMEXIT;
    }
    if (!msr_read(cpu, (uint32_t)cpu->gpr[CPU_RCX], &v) &&
        (cpu->ops->msr_read == NULL ||
         !cpu->ops->msr_read(cpu->opaque, (uint32_t)cpu->gpr[CPU_RCX], &v))) {
        return cpu_raise_gp0(cpu);
    }
    cpu->gpr[CPU_RAX] = v & 0xffffffff;
    cpu->gpr[CPU_RDX] = v >> 32;
    return CPU_OK;
}

enum cpu_status cpu_op_wrmsr(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v = ((cpu->gpr[CPU_RDX] & 0xffffffff) << 32) |
                 (cpu->gpr[CPU_RAX] & 0xffffffff);

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot && cpu_vmx_msr(cpu, in, true) != CPU_OK) {
        return CPU_VMEXIT;
    }
    if (!msr_write(cpu, (uint32_t)cpu->gpr[CPU_RCX], v) &&
        (cpu->ops->msr_write == NULL ||
         !cpu->ops->msr_write(cpu->opaque, (uint32_t)cpu->gpr[CPU_RCX], v))) {
        return cpu_raise_gp0(cpu);
    }
    cpu_vmx_guest_state_changed(cpu);
    return CPU_OK;
}

/* ---- Control registers --------------------------------------------------- */

/* MOV r64, CRn (aux = n). */
enum cpu_status cpu_op_mov_from_cr(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v;

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    v = cpu_cr(cpu, in->aux);
    if (cpu->nonroot &&
        cpu_vmx_cr_read(cpu, in, in->aux, in->r / 8, &v) != CPU_OK) {
        return CPU_VMEXIT;
    }
    cpu->gpr[in->r / 8] = v;
    return CPU_OK;
}

/*
 * MOV CRn, r64 (SDM 2A "MOV—Move to/from Control Registers" and 3A §2.5):
 * reserved bits and mode-breaking combinations raise #GP(0); changes that
 * affect translation flush the TLB and the chained code.
 */
enum cpu_status cpu_op_mov_to_cr(struct cpu *cpu, const struct cpu_insn *in)
{
    uint64_t v = cpu->gpr[in->rm / 8];

    if (cpu->cpl != 0) {
        return cpu_raise_gp0(cpu);
    }
    if (cpu->nonroot) {
        enum cpu_status st = cpu_vmx_cr_write(cpu, in, in->aux, in->rm / 8, &v);

        if (st != CPU_OK) {
            return st; /* a VM exit, or #GP for a fixed bit */
        }
        cpu_vmx_guest_state_changed(cpu);
    }
    switch (in->aux) {
    case 0:
        if ((v >> 32) || ((v & CPU_CR0_PG) && !(v & CPU_CR0_PE)) ||
            ((v & CPU_CR0_NW) && !(v & CPU_CR0_CD))) {
            return cpu_raise_gp0(cpu);
        }
        if ((cpu->efer & CPU_EFER_LMA) && !(v & CPU_CR0_PG)) {
            /* Leaving long mode is not modelled; 64-bit code cannot
             * clear PG anyway (#GP when CS.L = 1). */
            return cpu_raise_gp0(cpu);
        }
        cpu->cr0 = v | CPU_CR0_ET;
        cpu_tlb_flush(cpu);
        return CPU_OK;
    case 2:
        cpu->cr2 = v;
        return CPU_OK;
    case 3:
        if (v >> MMU_MAXPHYADDR) {
            return cpu_raise_gp0(cpu);
        }
        cpu->cr3 = v;
        cpu_tlb_flush(cpu);
        return CPU_OK;
    case 4: {
        uint64_t ok = (1u << 2) | (1u << 3) | CPU_CR4_PSE | CPU_CR4_PAE |
                      (1u << 6) | CPU_CR4_PGE | (1u << 8) | CPU_CR4_OSFXSR |
                      (1u << 10) | CPU_CR4_FSGSBASE;

        if (cpu->nonroot) {
            /* VMXE stays set under VMX, owned by the VMM through the CR4
             * guest/host mask (SDM 3C "VMX Restrictions on Control
             * Registers"). */
            ok |= VMX_CR4_VMXE;
        }
        if ((v & ~ok) || !(v & CPU_CR4_PAE)) {
            return cpu_raise_gp0(cpu);
        }
        cpu->cr4 = v;
        cpu_tlb_flush(cpu);
        return CPU_OK;
    }
    case 8:
        if (v > 15) {
            return cpu_raise_gp0(cpu);
        }
        cpu->cr8 = v;
        return CPU_OK;
    default:
        return cpu_raise_ud(cpu);
    }
}
