/*
 * cpu/memory.c: how the CPU reaches memory.  A linear address is
 * translated by the guest's page walk (mmu/paging.c) to a guest-physical
 * address and, in VMX non-root operation with EPT, by the EPT walk
 * (mmu/ept.c) to a machine-physical address, the kind env ram_page()
 * takes; every guest paging-structure access goes through EPT too (the
 * two-dimensional walk, charged per reference).  The software TLB caches
 * the combined result as linear page → host pointer with the intersection
 * of the permissions.  Slow paths: TLB misses, page-crossing accesses,
 * MMIO, and writes to pages holding decoded code.
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include "cpu/cpu-internal.h"
#include "cpu/vmx-internal.h"
#include "mmu/mmu.h"

/* The result of a full translation. */
struct xlate {
    uint64_t mpa;     /* machine-physical address (env ram_page space) */
    uint64_t gpa;     /* guest-physical address */
    bool mmio;        /* MMIO emulation: send the access to the device */
    bool apic;        /* the APIC-access page, while it is emulated */
    bool writable;    /* a write at this privilege may use the TLB */
    bool executable;
};

static struct cpu_mmio_tlb_entry *mmio_tlb_entry(struct cpu *cpu, bool user,
                                                 uint64_t la)
{
    return &cpu->mmio_tlb[user][(la >> 12) & (CPU_MMIO_TLB_SIZE - 1)];
}

/* Remembers that linear page @la at privilege @user is device memory at
 * guest-physical @gpa (writes only once the guest's D bit is set). */
static void mmio_tlb_fill(struct cpu *cpu, bool user, uint64_t la,
                          uint64_t gpa, bool writable)
{
    struct cpu_mmio_tlb_entry *e = mmio_tlb_entry(cpu, user, la);

    e->tag_r = la & ~0xfffull;
    e->tag_w = writable ? la & ~0xfffull : CPU_TLB_INVALID;
    e->gpa_page = gpa & ~0xfffull;
}

/*
 * An EPT violation for an access to device memory known from the MMIO
 * TLB: the walk would have found the final entry not present (SDM 3C
 * "EPT Violations"), with a valid linear address.
 */
static enum cpu_status mmio_tlb_exit(struct cpu *cpu, uint64_t la,
                                     uint64_t gpa, bool write)
{
    cpu_vmexit(cpu, VMX_EXIT_EPT_VIOLATION,
               (write ? VMX_EPTQ_WRITE : VMX_EPTQ_READ) |
                   VMX_EPTQ_LINEAR_VALID | VMX_EPTQ_FINAL_TRANSLATION,
               0);
    vmcs_set(cpu->vmcs, VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
    vmcs_set(cpu->vmcs, VMCS_GUEST_LINEAR_ADDRESS, la);
    return CPU_VMEXIT;
}

void cpu_tlb_flush(struct cpu *cpu)
{
    for (unsigned s = 0; s < 2; s++) {
        for (unsigned i = 0; i < CPU_TLB_SIZE; i++) {
            struct cpu_tlb_entry *e = &cpu->tlb_sets[s][i];
            struct cpu_tlb_entry *v = &cpu->tlb_victim[s][i];

            e->tag_r = e->tag_w = e->tag_x = CPU_TLB_INVALID;
            v->tag_r = v->tag_w = v->tag_x = CPU_TLB_INVALID;
        }
        for (unsigned i = 0; i < CPU_MMIO_TLB_SIZE; i++) {
            cpu->mmio_tlb[s][i].tag_r = cpu->mmio_tlb[s][i].tag_w =
                CPU_TLB_INVALID;
        }
    }
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

void cpu_flush_translations(struct cpu *cpu)
{
    cpu_tlb_flush(cpu);
}

/* ---- EPT -------------------------------------------------------------- */

static bool ept_entry_read(void *opaque, uint64_t mpa, uint64_t *val)
{
    struct cpu *cpu = opaque;
    uint8_t *page = cpu->ops->ram_page(cpu->opaque, mpa & ~0xfffull);

    if (page == NULL) {
        return false;
    }
    memcpy(val, page + (mpa & 0xff8), 8);
    return true;
}

static bool ept_entry_write(void *opaque, uint64_t mpa, uint64_t val)
{
    struct cpu *cpu = opaque;
    uint8_t *page = cpu->ops->ram_page(cpu->opaque, mpa & ~0xfffull);

    if (page == NULL) {
        return false;
    }
    cpu_code_invalidate_page(cpu, mpa & ~0xfffull);
    memcpy(page + (mpa & 0xff8), &val, 8);
    return true;
}

/*
 * Guest-physical @gpa to machine-physical through EPT; the identity when
 * EPT is off.  A failed walk records an EPT violation or misconfiguration
 * exit (SDM 3C "VMX Support for Address Translation"): the qualification
 * says whether the linear address is valid and whether this was the final
 * translation or a guest paging-structure access.  During MMIO emulation a
 * not-present final translation is the device access itself (*mmio).
 * @perms gets MMU_EPT_R|W|X allowed for the page.
 */
enum cpu_status cpu_ept_translate(struct cpu *cpu, uint64_t gpa,
                                  enum mmu_access acc, bool final,
                                  uint64_t *mpa, bool *mmio, unsigned *perms)
{
    struct mmu_ept_result r;
    uint64_t qual;

    *mmio = false;
    if (!cpu->ept_on) {
        *mpa = gpa;
        *perms = MMU_EPT_R | MMU_EPT_W | MMU_EPT_X;
        return CPU_OK;
    }
    if (mmu_ept_walk(cpu->eptp, gpa, acc, ept_entry_read, ept_entry_write,
                     cpu, &r)) {
        cpu->cycles += (uint64_t)r.refs * cpu->costs[CPU_COST_PAGEWALK];
        *mpa = r.hpa;
        *perms = (r.readable ? MMU_EPT_R : 0) | (r.writable ? MMU_EPT_W : 0) |
                 (r.executable ? MMU_EPT_X : 0);
        return CPU_OK;
    }
    cpu->cycles += (uint64_t)r.refs * cpu->costs[CPU_COST_PAGEWALK];
    if (cpu->mmio_emulation && final && !r.misconfig &&
        r.qualification_perm == 0) {
        *mmio = true;
        *mpa = gpa;
        *perms = MMU_EPT_R | MMU_EPT_W;
        return CPU_OK;
    }
    if (r.misconfig) {
        cpu_vmexit(cpu, VMX_EXIT_EPT_MISCONFIG, 0, 0);
    } else {
        qual = mmu_ept_violation_qualification(acc, &r);
        if (cpu->walk_la_valid) {
            qual |= VMX_EPTQ_LINEAR_VALID;
            if (final) {
                qual |= VMX_EPTQ_FINAL_TRANSLATION;
            }
        }
        cpu_vmexit(cpu, VMX_EXIT_EPT_VIOLATION, qual, 0);
    }
    vmcs_set(cpu->vmcs, VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
    vmcs_set(cpu->vmcs, VMCS_GUEST_LINEAR_ADDRESS,
             cpu->walk_la_valid ? cpu->walk_la : 0);
    cpu->vmexit_pending = true;
    return CPU_VMEXIT;
}

/* ---- The guest page walk ------------------------------------------------ */

/* Guest paging-structure entries live in guest-physical memory. */
static bool pte_access(struct cpu *cpu, uint64_t gpa, uint64_t *val,
                       bool write)
{
    uint64_t mpa;
    bool mmio;
    unsigned perms;
    uint8_t *page;

    /* With EPT A/D flags on, guest paging-structure accesses count as
     * writes for EPT (SDM 3C "Accessed and Dirty Flags for EPT"). */
    if (cpu_ept_translate(cpu, gpa,
                          write || (cpu->eptp & MMU_EPTP_AD) ? MMU_WRITE
                                                              : MMU_READ,
                          false, &mpa, &mmio, &perms) != CPU_OK ||
        mmio) {
        return false;
    }
    page = cpu->ops->ram_page(cpu->opaque, mpa & ~0xfffull);
    if (page == NULL) {
        return false;
    }
    if (write) {
        cpu_code_invalidate_page(cpu, mpa & ~0xfffull);
        memcpy(page + (mpa & 0xff8), val, 8);
    } else {
        memcpy(val, page + (mpa & 0xff8), 8);
    }
    return true;
}

static bool pte_read(void *opaque, uint64_t gpa, uint64_t *val)
{
    return pte_access(opaque, gpa, val, false);
}

static bool pte_write(void *opaque, uint64_t gpa, uint64_t val)
{
    return pte_access(opaque, gpa, &val, true);
}

/*
 * Translates @la for @acc at privilege @user through both stages.  Raises
 * #GP(0) for a non-canonical address, #PF when the guest walk fails (CR2
 * is set when the #PF is delivered), or records a VM exit for EPT.
 */
static enum cpu_status translate(struct cpu *cpu, uint64_t la,
                                 enum mmu_access acc, bool user,
                                 struct xlate *x)
{
    struct mmu_paging pg = {cpu->cr0, cpu->cr3, cpu->cr4, cpu->efer};
    struct mmu_walk_result res;
    unsigned perms;
    enum cpu_status st;
    bool ok;

    if (SIM_UNLIKELY(!mmu_canonical(la))) {
        cpu_raise_gp0(cpu);
        cpu->exc_noncanonical = true;
        return CPU_FAULT;
    }
    cpu->stats.tlb_misses++;
    cpu->walk_la = la;
    cpu->walk_la_valid = true;
    ok = mmu_walk(&pg, la, acc, user, pte_read, pte_write, cpu, &res);
    cpu->cycles += (uint64_t)res.refs * cpu->costs[CPU_COST_PAGEWALK];
    if (!ok) {
        cpu->walk_la_valid = false;
        if (cpu->vmexit_pending) {
            return CPU_VMEXIT;
        }
        cpu_raise(cpu, CPU_EXC_PF, res.pf_error);
        cpu->exc_cr2 = la;
        return CPU_FAULT;
    }
    st = cpu_ept_translate(cpu, res.pa, acc, true, &x->mpa, &x->mmio, &perms);
    cpu->walk_la_valid = false;
    if (st == CPU_VMEXIT && acc != MMU_EXEC &&
        cpu->vmcs->f[VMCS_EXIT_REASON] == VMX_EXIT_EPT_VIOLATION &&
        !(cpu->vmcs->f[VMCS_EXIT_QUALIFICATION] &
          (VMX_EPTQ_READABLE | VMX_EPTQ_WRITABLE | VMX_EPTQ_EXECUTABLE))) {
        /* Not present in EPT: device memory the VMM traps. */
        mmio_tlb_fill(cpu, user, la, res.pa, res.writable && res.dirty);
    }
    if (st != CPU_OK) {
        return st;
    }
    x->gpa = res.pa;
    x->apic = false;
    /*
     * "Virtualize APIC accesses": an access whose address after EPT falls
     * in the APIC-access page exits with reason 44, the offset and the
     * access type in the qualification (SDM 3C "APIC-Access VM Exits";
     * vmx.md §8), and never fills the TLB.  While the VMM emulates the
     * instruction it goes to the device at its guest-physical address.
     */
    if (SIM_UNLIKELY((cpu->vmx_proc2 & VMX_PROC2_VIRT_APIC_ACCESSES) &&
                     cpu->nonroot &&
                     (x->mpa & ~0xfffull) ==
                         cpu->vmcs->f[VMCS_APIC_ACCESS_ADDR])) {
        if (cpu->mmio_emulation && acc != MMU_EXEC) {
            x->mmio = true;
            x->apic = true;
            x->writable = true;
            x->executable = false;
            return CPU_OK;
        }
        /* Access type: 0 read, 1 write, 2 fetch, 3 during event
         * delivery (vmx.md §8). */
        cpu_vmexit(cpu, VMX_EXIT_APIC_ACCESS,
                   (la & 0xfff) | (uint64_t)(cpu->delivering     ? 3
                                             : acc == MMU_WRITE  ? 1
                                             : acc == MMU_EXEC ? 2
                                                               : 0)
                                      << 12,
                   0);
        return CPU_VMEXIT;
    }
    /*
     * A write may use the TLB only once both dirty bits are set: the
     * guest's, and EPT's when A/D flags are on (this walk was then a
     * write if it was allowed).
     */
    x->writable = res.writable && res.dirty && (perms & MMU_EPT_W) &&
                  (!(cpu->eptp & MMU_EPTP_AD) || !cpu->ept_on ||
                   acc == MMU_WRITE);
    x->executable = res.executable && (perms & MMU_EPT_X);
    return CPU_OK;
}

/*
 * On a miss for @la in the current set: if the slot's victim entry holds
 * the page with the tag @acc needs, the two entries swap.
 * Returns: true when the slot now holds the page for @acc.
 */
static bool tlb_victim_swap(struct cpu *cpu, uint64_t la, enum mmu_access acc)
{
    unsigned s = cpu->tlb != cpu->tlb_sets[0];
    unsigned i = (unsigned)(la >> 12) & (CPU_TLB_SIZE - 1);
    struct cpu_tlb_entry *v = &cpu->tlb_victim[s][i], tmp;
    uint64_t page = la & ~0xfffull, pa;
    uint64_t tag = acc == MMU_WRITE  ? v->tag_w
                   : acc == MMU_EXEC ? v->tag_x
                                     : v->tag_r;

    if (tag != page) {
        return false;
    }
    tmp = cpu->tlb[i];
    cpu->tlb[i] = *v;
    *v = tmp;
    pa = cpu->tlb_pa[s][i];
    cpu->tlb_pa[s][i] = cpu->tlb_victim_pa[s][i];
    cpu->tlb_victim_pa[s][i] = pa;
    return true;
}

/* Caches a translation in the current TLB set if it reaches RAM; the
 * entry it displaces becomes the slot's victim. */
static uint8_t *tlb_fill(struct cpu *cpu, uint64_t la, const struct xlate *x)
{
    uint64_t page_pa = x->mpa & ~0xfffull;
    uint8_t *host;
    struct cpu_tlb_entry *e;
    uint64_t page = la & ~0xfffull;
    unsigned s = cpu->tlb != cpu->tlb_sets[0];
    unsigned i = (unsigned)(la >> 12) & (CPU_TLB_SIZE - 1);

    if (x->mmio) {
        return NULL;
    }
    host = cpu->ops->ram_page(cpu->opaque, page_pa);
    if (host == NULL) {
        return NULL;
    }
    e = &cpu->tlb[i];
    if (e->tag_r != CPU_TLB_INVALID && e->tag_r != page) {
        cpu->tlb_victim[s][i] = *e;
        cpu->tlb_victim_pa[s][i] = cpu->tlb_pa[s][i];
    }
    e->addend = (uintptr_t)host - (uintptr_t)page;
    cpu->tlb_pa[s][i] = page_pa;
    e->tag_r = page;
    /* Writes hit only pages that hold no decoded code. */
    e->tag_w = x->writable && !cpu_is_code_page(cpu, page_pa)
                   ? page
                   : CPU_TLB_INVALID;
    e->tag_x = x->executable ? page : CPU_TLB_INVALID;
    return host + (la & 0xfff);
}

enum cpu_status cpu_env_unsupported(struct cpu *cpu, const char *what,
                                    uint64_t addr, enum cpu_status st)
{
    cpu->fatal = true;
    snprintf(cpu->shutdown_buf, sizeof(cpu->shutdown_buf),
             "%s at 0x%llx answered with status %d (a device access that "
             "stops or completes later is not modelled here yet)",
             what, (unsigned long long)addr, (int)st);
    cpu->shutdown_reason = cpu->shutdown_buf;
    return CPU_STOP;
}

/* A device access: only CPU_OK is modelled inside an MMIO access. */
static enum cpu_status mmio_access(struct cpu *cpu, uint64_t pa,
                                   unsigned size, uint64_t *val, bool write)
{
    enum cpu_status st =
        write ? cpu->ops->mmio_write(cpu->opaque, pa, size, *val)
              : cpu->ops->mmio_read(cpu->opaque, pa, size, val);

    if (SIM_LIKELY(st == CPU_OK)) {
        return CPU_OK;
    }
    return cpu_env_unsupported(cpu, write ? "MMIO write" : "MMIO read", pa,
                               st);
}

/* One access that stays inside a page, through a walk. */
static enum cpu_status access_page(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t *val, bool write,
                                   bool user)
{
    struct xlate x;
    enum cpu_status st;
    uint8_t *host;
    struct cpu_mmio_tlb_entry *me = mmio_tlb_entry(cpu, user, la);

    /* Device memory first: its accesses always come this way. */
    if ((write ? me->tag_w : me->tag_r) == (la & ~0xfffull)) {
        uint64_t gpa = me->gpa_page | (la & 0xfff);

        if (cpu->ept_on && !cpu->mmio_emulation) {
            return mmio_tlb_exit(cpu, la, gpa, write);
        }
        return mmio_access(cpu, gpa, size, val, write);
    }
    /*
     * The current set serves accesses at the current privilege, the
     * implicit supervisor accesses of CPL 0-2 (IDT, GDT, TSS, the
     * interrupt frame) included: a hit in it or its victim needs no walk.
     */
    if (user == (cpu->cpl == 3) &&
        (cpu_tlb_hit(write ? cpu_tlb_entry(cpu, la)->tag_w
                           : cpu_tlb_entry(cpu, la)->tag_r,
                     la, size) ||
         tlb_victim_swap(cpu, la, write ? MMU_WRITE : MMU_READ))) {
        host = cpu_tlb_host(cpu_tlb_entry(cpu, la), la);
        if (write) {
            cpu_host_store(host, size, *val);
        } else {
            *val = cpu_host_load(host, size);
        }
        return CPU_OK;
    }
    st = translate(cpu, la, write ? MMU_WRITE : MMU_READ, user, &x);
    if (st != CPU_OK) {
        return st;
    }
    if (write && !x.mmio) {
        cpu_code_invalidate_page(cpu, x.mpa & ~0xfffull);
    }
    /* System-table accesses at CPL 3 must not fill the user TLB set. */
    if (user == (cpu->cpl == 3)) {
        host = tlb_fill(cpu, la, &x);
    } else if (x.mmio) {
        host = NULL;
    } else {
        host = cpu->ops->ram_page(cpu->opaque, x.mpa & ~0xfffull);
        host = host != NULL ? host + (la & 0xfff) : NULL;
    }
    if (host == NULL) {
        /* Devices see guest-physical addresses. */
        uint64_t pa = x.mmio ? x.gpa : x.mpa;

        if ((x.mmio || !cpu->ept_on) && !x.apic) {
            mmio_tlb_fill(cpu, user, la, pa, x.writable);
        }

        return mmio_access(cpu, pa, size, val, write);
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
 * bytes, both pages checked before anything is written), MMIO, or a write
 * to a page with decoded code.
 */
static enum cpu_status access_slow(struct cpu *cpu, uint64_t la,
                                   unsigned size, uint64_t *val, bool write,
                                   bool user)
{
    unsigned first = 4096 - (unsigned)(la & 0xfff);
    uint64_t v = 0;
    enum cpu_status st;

    if (SIM_LIKELY(first >= size)) {
        return access_page(cpu, la, size, val, write, user);
    }
    /* Canonicality is checked for the whole access before any paging. */
    if (!mmu_canonical(la) || !mmu_canonical(la + size - 1)) {
        cpu_raise_gp0(cpu);
        cpu->exc_noncanonical = true;
        return CPU_FAULT;
    }
    if (write) {
        struct xlate x;

        st = translate(cpu, la, MMU_WRITE, user, &x);
        if (st == CPU_OK) {
            st = translate(cpu, la + first, MMU_WRITE, user, &x);
        }
        if (st != CPU_OK) {
            return st;
        }
    }
    for (unsigned i = 0; i < size; i++) {
        uint64_t b = (*val >> (8 * i)) & 0xff;

        st = access_page(cpu, la + i, 1, &b, write, user);
        if (st != CPU_OK) {
            return st;
        }
        v |= b << (8 * i);
    }
    if (!write) {
        *val = v;
    }
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
    struct xlate x;
    enum cpu_status st = translate(cpu, la, MMU_WRITE, cpu->cpl == 3, &x);

    if (st == CPU_OK && ((la & 0xfff) + size - 1) >= 4096) {
        st = translate(cpu, la + size - 1, MMU_WRITE, cpu->cpl == 3, &x);
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
    struct xlate x;
    enum cpu_status st;

    if (SIM_LIKELY(e->tag_x == (la & ~0xfffull))) {
        *pa = cpu->tlb_pa[cpu->tlb != cpu->tlb_sets[0]][e - cpu->tlb] |
              (la & 0xfff);
        return CPU_OK;
    }
    if (tlb_victim_swap(cpu, la, MMU_EXEC)) {
        *pa = cpu->tlb_pa[cpu->tlb != cpu->tlb_sets[0]][e - cpu->tlb] |
              (la & 0xfff);
        return CPU_OK;
    }
    st = translate(cpu, la, MMU_EXEC, cpu->cpl == 3, &x);
    if (st != CPU_OK) {
        return st;
    }
    if (x.mmio) {
        /* Fetching from device memory is not modelled (as in block_get). */
        cpu->fatal = true;
        snprintf(cpu->shutdown_buf, sizeof(cpu->shutdown_buf),
                 "instruction fetch from guest-physical 0x%llx, which is "
                 "not RAM (executing device memory is not modelled), at "
                 "RIP 0x%llx",
                 (unsigned long long)x.gpa, (unsigned long long)la);
        cpu->shutdown_reason = cpu->shutdown_buf;
        return CPU_STOP;
    }
    tlb_fill(cpu, la, &x);
    *pa = x.mpa;
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

/*
 * The VMM's view of guest-linear memory (string I/O): through the
 * software TLB and the slow path at the guest's privilege, in pieces of
 * 1, 2, 4 or 8 bytes, each checked whole before anything is written.
 * Memory that EPT leaves out is device memory, reached through the env
 * mmio callbacks as during MMIO emulation.  A write with @buf NULL only
 * checks that the write would succeed.  A fault is not delivered: it is
 * returned.
 */
bool cpu_guest_linear_access(struct cpu *cpu, uint64_t la, void *buf,
                             unsigned len, bool write,
                             struct cpu_linear_fault *fault)
{
    uint8_t *p = buf;
    bool emulating = cpu->mmio_emulation;

    fault->vector = 0;
    fault->error = 0;
    cpu->mmio_emulation = true;
    for (unsigned i = 0; i < len;) {
        unsigned left = len - i;
        unsigned n = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        uint64_t v = 0;
        enum cpu_status st;

        if (write && p == NULL) {
            st = cpu_tlb_hit(cpu_tlb_entry(cpu, la + i)->tag_w, la + i, n)
                     ? CPU_OK
                     : cpu_mem_probe_write(cpu, la + i, n);
        } else if (write) {
            memcpy(&v, p + i, n);
            st = cpu_mem_write(cpu, la + i, n, v);
        } else {
            st = cpu_mem_read(cpu, la + i, n, &v);
        }
        if (st != CPU_OK) {
            cpu->mmio_emulation = emulating;
            cpu->vmexit_pending = false;
            if (st != CPU_FAULT) {
                /* An EPT misconfiguration: report it as #GP(0). */
                fault->vector = CPU_EXC_GP;
                return false;
            }
            fault->vector = cpu->exc_vector;
            fault->error = cpu->exc_error >= 0 ? (uint32_t)cpu->exc_error
                                               : 0;
            return false;
        }
        if (!write) {
            memcpy(p + i, &v, n);
        }
        i += n;
    }
    cpu->mmio_emulation = emulating;
    return true;
}

/* ---- Reading guest memory without side effects ---------------------------- */

static bool peek_write_nop(void *opaque, uint64_t pa, uint64_t val)
{
    return true;
}

/* Guest-physical to a host pointer, through EPT when it is on, reading
 * only: NULL when it is not RAM. */
static const uint8_t *peek_gpa(struct cpu *cpu, uint64_t gpa)
{
    struct mmu_ept_result r;
    uint64_t mpa = gpa;
    uint8_t *page;

    if (cpu->ept_on) {
        if (!mmu_ept_walk(cpu->eptp, gpa, MMU_READ, ept_entry_read,
                          peek_write_nop, cpu, &r)) {
            return NULL;
        }
        mpa = r.hpa;
    }
    page = cpu->ops->ram_page(cpu->opaque, mpa & ~0xfffull);
    return page != NULL ? page + (mpa & 0xfff) : NULL;
}

static bool peek_pte_read(void *opaque, uint64_t gpa, uint64_t *val)
{
    const uint8_t *p = peek_gpa(opaque, gpa & ~7ull);

    if (p == NULL) {
        return false;
    }
    memcpy(val, p, 8);
    return true;
}

unsigned cpu_guest_linear_peek(struct cpu *cpu, uint64_t la, uint8_t *buf,
                               unsigned len)
{
    struct mmu_paging pg = {cpu->cr0, cpu->cr3, cpu->cr4, cpu->efer};
    unsigned got = 0;

    while (got < len) {
        struct mmu_walk_result res;
        const uint8_t *p;
        unsigned chunk = 4096 - (unsigned)((la + got) & 0xfff);

        if (!mmu_canonical(la + got) ||
            !mmu_walk(&pg, la + got, MMU_READ, cpu->cpl == 3, peek_pte_read,
                      peek_write_nop, cpu, &res) ||
            (p = peek_gpa(cpu, res.pa)) == NULL) {
            break;
        }
        chunk = chunk < len - got ? chunk : len - got;
        memcpy(buf + got, p, chunk);
        got += chunk;
    }
    return got;
}
