/*
 * cpu/cpu.h: the public interface of iovsim's software x86-64 CPU.
 *
 * A struct cpu is one virtual processor executing 64-bit long mode code.
 * It reaches guest memory, port I/O and MMIO only through the
 * struct cpu_env_ops table given at creation (STYLE rule 8), so tests can
 * run it against stub memory with no machine around it.  Guest paging is
 * walked by mmu/; decoded instructions are cached per guest-physical page.
 */
#ifndef SIM_CPU_CPU_H
#define SIM_CPU_CPU_H

#include "sim/common.h"

#include "cpu/vmx-abi.h"

struct cpu;

/* General-purpose register numbers, in the encoding order of the ISA. */
enum cpu_gpr {
    CPU_RAX, CPU_RCX, CPU_RDX, CPU_RBX, CPU_RSP, CPU_RBP, CPU_RSI, CPU_RDI,
    CPU_R8, CPU_R9, CPU_R10, CPU_R11, CPU_R12, CPU_R13, CPU_R14, CPU_R15,
    CPU_NGPR
};

/* RFLAGS bits (SDM 1 §3.4.3). */
#define CPU_FLAG_CF (1ull << 0)
#define CPU_FLAG_PF (1ull << 2)
#define CPU_FLAG_AF (1ull << 4)
#define CPU_FLAG_ZF (1ull << 6)
#define CPU_FLAG_SF (1ull << 7)
#define CPU_FLAG_TF (1ull << 8)
#define CPU_FLAG_IF (1ull << 9)
#define CPU_FLAG_DF (1ull << 10)
#define CPU_FLAG_OF (1ull << 11)
#define CPU_FLAG_IOPL (3ull << 12)
#define CPU_FLAG_NT (1ull << 14)
#define CPU_FLAG_RF (1ull << 16)
#define CPU_FLAG_AC (1ull << 18)
#define CPU_FLAG_ID (1ull << 21)
#define CPU_FLAGS_ARITH                                                        \
    (CPU_FLAG_CF | CPU_FLAG_PF | CPU_FLAG_AF | CPU_FLAG_ZF | CPU_FLAG_SF |     \
     CPU_FLAG_OF)

/* Control-register and EFER bits the CPU model acts on (SDM 3A §2.5). */
#define CPU_CR0_PE (1ull << 0)
#define CPU_CR0_MP (1ull << 1)
#define CPU_CR0_EM (1ull << 2)
#define CPU_CR0_TS (1ull << 3)
#define CPU_CR0_ET (1ull << 4)
#define CPU_CR0_NE (1ull << 5)
#define CPU_CR0_WP (1ull << 16)
#define CPU_CR0_AM (1ull << 18)
#define CPU_CR0_NW (1ull << 29)
#define CPU_CR0_CD (1ull << 30)
#define CPU_CR0_PG (1ull << 31)
#define CPU_CR4_PSE (1ull << 4)
#define CPU_CR4_PAE (1ull << 5)
#define CPU_CR4_PGE (1ull << 7)
#define CPU_CR4_OSFXSR (1ull << 9)
#define CPU_CR4_FSGSBASE (1ull << 16)
#define CPU_EFER_SCE (1ull << 0)
#define CPU_EFER_LME (1ull << 8)
#define CPU_EFER_LMA (1ull << 10)
#define CPU_EFER_NXE (1ull << 11)

/* Exception vectors (SDM 3A §6.3.1). */
enum cpu_vector {
    CPU_EXC_DE = 0, CPU_EXC_DB = 1, CPU_EXC_NMI = 2, CPU_EXC_BP = 3,
    CPU_EXC_OF = 4, CPU_EXC_BR = 5, CPU_EXC_UD = 6, CPU_EXC_NM = 7,
    CPU_EXC_DF = 8, CPU_EXC_TS = 10, CPU_EXC_NP = 11, CPU_EXC_SS = 12,
    CPU_EXC_GP = 13, CPU_EXC_PF = 14, CPU_EXC_MF = 16, CPU_EXC_AC = 17,
    CPU_EXC_MC = 18, CPU_EXC_XM = 19
};

/*
 * What an instruction handler, an environment callback or a helper tells
 * its caller (STYLE rule 10).  Guest-caused conditions never abort.
 */
enum cpu_status {
    CPU_OK = 0,     /* carry on */
    CPU_FAULT,      /* an exception is pending (vector in the cpu) */
    CPU_VMEXIT,     /* a VM exit was recorded in the VMCS */
    CPU_UNHANDLED,  /* not modelled: raised to the guest as #UD */
    CPU_RETRY,      /* re-execute the same instruction later */
    CPU_STOP,       /* the environment asked the run to stop */
    CPU_SMC,        /* internal: code under execution was modified */
};

/*
 * Instruction cost classes.  The CPU adds each block's summed class costs
 * once per block; a profile (sim/) says how many cycles each class takes.
 */
enum cpu_cost_class {
    CPU_COST_SIMPLE,   /* ALU, mov, lea, setcc, cmov, nop */
    CPU_COST_LOAD,     /* extra for an instruction with a memory operand */
    CPU_COST_BRANCH,   /* jumps, calls, returns */
    CPU_COST_MUL,
    CPU_COST_DIV,
    CPU_COST_STRING,   /* per iteration of a string instruction */
    CPU_COST_SERIAL,   /* cpuid, mov cr, wrmsr, lgdt, invlpg, ... */
    CPU_COST_IO,       /* in/out, per access, before device latency */
    CPU_COST_EXCEPTION,/* event delivery through the IDT */
    CPU_COST_PAGEWALK, /* per paging-structure reference on a TLB miss */
    CPU_COST_NCLASSES
};

/* Why cpu_run() returned. */
enum cpu_stop_reason {
    CPU_STOP_BUDGET,       /* the instruction budget was used up */
    CPU_STOP_HALT,         /* hlt executed (the caller decides what next) */
    CPU_STOP_ENV,          /* an env callback returned CPU_STOP */
    CPU_STOP_REQUEST,      /* cpu_request_stop() was called */
    CPU_STOP_TRIPLE_FAULT, /* shutdown: see cpu_stop_detail() */
    CPU_STOP_EXCEPTION,    /* exception exit mode: see cpu_last_exception */
    CPU_STOP_VMEXIT,       /* a VM exit: the reason is in the VMCS */
    CPU_STOP_DEADLINE,     /* the cycle deadline (cpu_set_deadline) passed */
    CPU_STOP_UNSUPPORTED,  /* the guest did what the model does not
                            * implement (executing device memory): see
                            * cpu_stop_detail(); not a guest fault */
};

/*
 * The world as the CPU sees it.  Every callback gets the opaque pointer
 * given to cpu_new().  Guest-physical addresses throughout.
 */
struct cpu_env_ops {
    /*
     * Returns the host address of the 4 KiB guest-physical page that
     * contains @pa when it is ordinary RAM, or NULL when it is not (MMIO or
     * nothing).  The pointer must stay valid for the life of the cpu.
     */
    uint8_t *(*ram_page)(void *opaque, uint64_t pa);
    /*
     * Device accesses: a guest-physical address that is not RAM, and port
     * I/O (@size 1, 2 or 4).  Each returns what became of the access:
     * CPU_OK, done (a device that refuses an access reads all-ones and
     * drops the write, as the bus does); CPU_STOP, done, and the run ends
     * once the instruction completes (the guest's exit port).  CPU_STOP
     * from an MMIO access, and any other status (an access completed
     * later, as a user-space device model will), are not modelled yet:
     * the run stops as unsupported, naming the access.
     */
    enum cpu_status (*mmio_read)(void *opaque, uint64_t pa, unsigned size,
                                 uint64_t *val /* out */);
    enum cpu_status (*mmio_write)(void *opaque, uint64_t pa, unsigned size,
                                  uint64_t val);
    enum cpu_status (*io_in)(void *opaque, uint16_t port, unsigned size,
                             uint32_t *val /* out */);
    enum cpu_status (*io_out)(void *opaque, uint16_t port, unsigned size,
                              uint32_t val);
    /*
     * The interrupt acknowledge cycle of the INTR line (cpu_set_intr): the
     * interrupt controller (the local APIC) hands over the vector it
     * delivers now.  NULL when the environment never raises the line.
     */
    unsigned (*intr_ack)(void *opaque);
    /*
     * MSRs the CPU does not implement itself but its platform does (the
     * local APIC's IA32_TSC_DEADLINE).  Returns: false for an MSR the
     * platform lacks too (the CPU raises #GP(0)).  NULL: none.
     */
    bool (*msr_read)(void *opaque, uint32_t msr, uint64_t *val /* out */);
    bool (*msr_write)(void *opaque, uint32_t msr, uint64_t val);
};

/*
 * Creates a CPU in the architectural reset state, reaching the world
 * through @ops/@opaque (both borrowed; they must outlive the cpu).
 * Returns: a new cpu, owned by the caller (cpu_free).
 */
struct cpu *cpu_new(const struct cpu_env_ops *ops, void *opaque);
void cpu_free(struct cpu *cpu);

/*
 * Puts the CPU in 64-bit long mode at CPL 0, as a boot loader leaves it:
 * CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA|NXE, CR3 = @cr3,
 * flat segments CS = 0x08 (64-bit code), SS/DS/ES/FS/GS = 0x10,
 * RFLAGS = 0x2, RIP = @rip, RSP = @rsp, every other register zero.  The
 * GDTR and IDTR are empty (limit 0), so an exception before the guest
 * loads an IDT is a triple fault.
 */
void cpu_reset_long_mode(struct cpu *cpu, uint64_t cr3, uint64_t rip,
                         uint64_t rsp);

uint64_t cpu_gpr(const struct cpu *cpu, enum cpu_gpr reg);
void cpu_set_gpr(struct cpu *cpu, enum cpu_gpr reg, uint64_t value);
uint64_t cpu_rip(const struct cpu *cpu);
void cpu_set_rip(struct cpu *cpu, uint64_t rip);
/* RFLAGS with the lazily kept arithmetic flags folded in. */
uint64_t cpu_rflags(const struct cpu *cpu);
void cpu_set_rflags(struct cpu *cpu, uint64_t rflags);
unsigned cpu_cpl(const struct cpu *cpu);
uint64_t cpu_cr(const struct cpu *cpu, unsigned n);

/*
 * Runs until @max_insns more instructions have retired or something
 * stops the CPU.  Interrupts are checked between blocks.
 * Returns: why it stopped.
 */
enum cpu_stop_reason cpu_run(struct cpu *cpu, uint64_t max_insns);

/*
 * Makes cpu_run() return CPU_STOP_DEADLINE at the first block boundary
 * where the cycle count has reached @cycles (UINT64_MAX: none): how the
 * machine runs a vCPU only up to its next scheduled event.
 */
void cpu_set_deadline(struct cpu *cpu, uint64_t cycles);

/*
 * Raises external interrupt @vector (16..255) on the CPU's interrupt line
 * (a simplified local APIC: pending vectors are taken highest first, with
 * no EOI).  At the next instruction boundary where RFLAGS.IF = 1 and no
 * STI/MOV-SS blocking holds it is delivered through the IDT, waking a
 * halted CPU; in VMX non-root operation with "external-interrupt exiting"
 * it causes VM exit 1 instead (acknowledged: the vector is in the exit
 * interruption information when "acknowledge interrupt on exit" is set).
 */
void cpu_raise_interrupt(struct cpu *cpu, unsigned vector);
/* True if an external interrupt is pending. */
bool cpu_interrupt_pending(const struct cpu *cpu);
/*
 * The INTR line from an interrupt controller: while it is asserted the
 * CPU takes an external interrupt at the next instruction boundary it can
 * (or exits under "external-interrupt exiting"), asking ops->intr_ack for
 * the vector.  Vectors raised with cpu_raise_interrupt go first.
 */
void cpu_set_intr(struct cpu *cpu, bool asserted);

/*
 * The TSC counts @num/@den of the core cycles (machine.tsc_mhz over the
 * profile's frequency); RDTSC and IA32_TSC use it.
 */
void cpu_set_tsc_rate(struct cpu *cpu, uint32_t num, uint32_t den);

/*
 * Asks a running cpu_run() to return CPU_STOP_REQUEST at the next block
 * boundary.  Safe to call from a signal handler.
 */
void cpu_request_stop(struct cpu *cpu);

/*
 * Exception exit mode, for differential tests (VMX guests have the
 * exception bitmap instead): when on, an exception is not delivered
 * through the IDT; cpu_run() returns CPU_STOP_EXCEPTION with RIP at the
 * faulting instruction and the state it had before it (faults) or after
 * it (traps: int3, int n).
 */
void cpu_set_exception_exit(struct cpu *cpu, bool on);
/* The last exception raised: vector, error code (or -1 if none), CR2. */
void cpu_last_exception(const struct cpu *cpu, unsigned *vector,
                        int64_t *error_code, uint64_t *cr2);

/* Instructions retired and simulated cycles since creation. */
uint64_t cpu_icount(const struct cpu *cpu);
uint64_t cpu_cycles(const struct cpu *cpu);
/* Counts @n instructions completed outside the interpreter (a VMM that
 * emulates an exiting instruction retires it). */
void cpu_retire(struct cpu *cpu, uint64_t n);
/* Adds cycles spent outside instruction execution (device time, idle). */
void cpu_add_cycles(struct cpu *cpu, uint64_t cycles);

/* Sets the cycle cost of each class (default: 1 for all but a few). */
void cpu_set_costs(struct cpu *cpu,
                   const uint32_t costs[CPU_COST_NCLASSES]);
/* Names of the classes, for profile files: "simple", "load", ... */
const char *cpu_cost_class_name(enum cpu_cost_class cls);

/* Why the CPU shut down (triple fault) or, in VMX non-root operation,
 * why it made the triple-fault VM exit (reason 2); NULL if neither. */
const char *cpu_stop_detail(const struct cpu *cpu);

/*
 * Memory at [@pa, @pa + @len) was written by someone other than the CPU
 * (loader, DMA): drop any decoded instructions cached for it.  Decoded
 * code is keyed by the addresses env ram_page() takes: guest-physical on
 * a native machine, machine-physical under EPT (unique across VMs).
 */
void cpu_invalidate_phys(struct cpu *cpu, uint64_t pa, uint64_t len);

/*
 * Calls @fn for each mnemonic the guest executed that the CPU does not
 * implement (each raised #UD), with how many times it was met.
 */
typedef void cpu_unsupported_fn(const char *mnemonic, uint64_t count,
                                void *opaque);
void cpu_unsupported_foreach(const struct cpu *cpu, cpu_unsupported_fn *fn,
                             void *opaque);

/* ---- VMX non-root operation (SDM 3C) ----------------------------------
 *
 * The VMM is simulator code, not guest code: it fills a VMCS through
 * vmx_vmcs_write(), enters the guest with cpu_vmentry() and runs it with
 * cpu_run(), which returns CPU_STOP_VMEXIT when the guest exits.  At that
 * point the exit reason, qualification and the other exit-information
 * fields are in the VMCS and the guest state has been saved to its
 * guest-state area; the general registers stay in the cpu (cpu_gpr), as
 * KVM keeps them in its vCPU.  The host-state area is checked but never
 * loaded: there is no interpreted host.
 */
struct vmx_vmcs;

enum cpu_vmentry_status {
    CPU_VMENTRY_OK,
    /* VMLAUNCH/VMRESUME failed: VM-instruction error 7 (invalid control
     * fields) is in VM_INSTRUCTION_ERROR; nothing was loaded. */
    CPU_VMENTRY_FAIL_CONTROLS,
    /* VM entry failed on the guest state: exit reason 33 with bit 31 is
     * in EXIT_REASON, as after a VM exit. */
    CPU_VMENTRY_FAIL_GUEST,
};

/*
 * VM entry (SDM 3C "VM Entries"): checks the controls and the guest state,
 * loads the guest state, injects the event of the VM-entry
 * interruption-information field.  @why (may be NULL) names the failed
 * check.  Guest-physical memory is reached through EPT when the VMCS
 * enables it: env ram_page() is then given machine-physical addresses.
 */
enum cpu_vmentry_status cpu_vmentry(struct cpu *cpu, struct vmx_vmcs *vmcs,
                                    const char **why);

/*
 * Emulates the guest instruction at GUEST_RIP of the exited guest once,
 * with guest-physical accesses that EPT leaves unmapped sent to the env
 * mmio callbacks (guest-physical addresses): how the VMM completes an
 * MMIO access after an EPT violation.  All instruction forms work (RMW,
 * string, exchange), since the instruction runs on the interpreter.
 * Returns: CPU_STOP_BUDGET when it completed (the guest state in the VMCS
 * is updated, RIP advanced), CPU_STOP_VMEXIT when it caused another exit.
 */
enum cpu_stop_reason cpu_vmx_emulate_mmio(struct cpu *cpu);

/* A fault met by cpu_guest_linear_access(): what the VMM injects. */
struct cpu_linear_fault {
    unsigned vector; /* CPU_EXC_PF, or CPU_EXC_GP (non-canonical) */
    uint32_t error;  /* the error code */
};

/*
 * Guest-linear memory of the exited guest, through its paging and EPT,
 * as the VMM needs for string I/O: guest-physical memory that EPT leaves
 * out is device memory, reached through the env mmio callbacks.  A write
 * with @buf NULL moves nothing: it checks that the write would succeed.
 * Returns: false on a fault, which the VMM should inject (@fault says
 * which; for #PF CR2 is the faulting address, not set here).
 */
bool cpu_guest_linear_access(struct cpu *cpu, uint64_t la, void *buf,
                             unsigned len, bool write,
                             struct cpu_linear_fault *fault /* out */);

/*
 * Copies up to @len bytes of guest-linear memory at @la into @buf with no
 * side effect at all (no cycles, no TLB fill, no accessed bits, no device
 * access), stopping at the first byte that is not readable RAM: what a
 * trace uses to record an instruction's bytes.
 * Returns: the number of bytes copied.
 */
unsigned cpu_guest_linear_peek(struct cpu *cpu, uint64_t la, uint8_t *buf,
                               unsigned len);

/* Drops cached translations (the VMM changed EPT: INVEPT). */
void cpu_flush_translations(struct cpu *cpu);

/*
 * Writes the cpu's current state into the guest-state area of @vmcs, as a
 * VM exit saves it: how the VMM turns a CPU left in its boot state by the
 * loader into the guest it will enter.
 */
void cpu_vmx_save_guest_state(struct cpu *cpu, struct vmx_vmcs *vmcs);

/* CPUID as the model answers it: @r = EAX, EBX, ECX, EDX (the VMM's
 * CPUID exits start from it). */
void cpu_cpuid(const struct cpu *cpu, uint32_t leaf, uint32_t subleaf,
               uint32_t r[4] /* out */);

/* Sets CR2 (a VMM injecting #PF sets it first, as the SDM asks). */
void cpu_set_cr2(struct cpu *cpu, uint64_t value);

/* Statistics of the decoded-instruction cache and the software TLB. */
struct cpu_stats {
    uint64_t blocks_decoded;
    uint64_t insns_decoded;
    uint64_t block_invalidations;
    uint64_t tlb_misses;
    uint64_t tlb_flushes;
    uint64_t exceptions;
    /*
     * External interrupts raised on the line, and delivered through the
     * guest's IDT (natively or injected at VM entry).  The difference
     * merged into interrupts still pending on the same vector: a guest
     * that cannot keep up with its interrupts (a livelock) shows it.
     */
    uint64_t irq_raised;
    uint64_t irq_delivered;
    /* RDTSC, RDTSCP and RDMSR of IA32_TSC done: the guest read time. */
    uint64_t tsc_reads;
};
void cpu_get_stats(const struct cpu *cpu, struct cpu_stats *out /* out */);

#endif /* SIM_CPU_CPU_H */
