/*
 * rt.h: the API that workload programs use, the only header they include.
 *
 * The portable part (console output, the printf-style formatter, exit, the
 * string functions) builds both for the guest (freestanding, runtime in
 * workloads/runtime/) and for the host (workloads/runtime/host.c over libc),
 * so a portable program's guest and host outputs can be compared byte for
 * byte.  The part under RT_GUEST (defined by the guest build only) reaches
 * the machine: trap and interrupt handlers, control registers, MSRs,
 * paging, ports, the interval timer.
 * The guest ABI these rest on is written down in workloads/README.md.
 */
#ifndef SIM_WORKLOADS_RT_H
#define SIM_WORKLOADS_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef RT_GUEST
#include <string.h>
#endif

#define RT_PRINTF_LIKE(fmt_index, first_arg)                                   \
    __attribute__((format(printf, fmt_index, first_arg)))

/*
 * Writes one byte to the console (guest: port 0xE9; host: stdout).
 */
void rt_putc(int c);

/*
 * Writes the string s and then a newline, like puts().
 */
void rt_puts(const char *s);

/*
 * Formats like printf() and writes the result to the console.  Supported:
 * flags "-0+ #", width and precision (digits or '*'), length modifiers
 * hh h l ll z j t, conversions d i u o x X p s c %.
 * Returns: the number of bytes written.
 */
int rt_printf(const char *fmt, ...) RT_PRINTF_LIKE(1, 2);
int rt_vprintf(const char *fmt, va_list ap);

/*
 * Formats into buf like snprintf(): writes at most size - 1 bytes and a
 * terminating NUL (nothing when size is 0).
 * Returns: the length the complete output would have had.
 */
int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
    RT_PRINTF_LIKE(3, 4);

/*
 * Ends the run with the given exit status; does not return.
 */
void rt_exit(int status) __attribute__((noreturn));

#ifdef RT_GUEST
/*
 * The C string functions the guest runtime provides (gcc emits calls to
 * memcpy, memset, memmove and memcmp on its own, even when freestanding).
 * On the host these come from <string.h>.
 */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* ------------------------------------------------------------------ */
/* Guest only: traps.                                                   */
/* ------------------------------------------------------------------ */

/* Exception vectors (SDM 3A §6.3.1, table 6-1). */
enum rt_vector {
    RT_VEC_DE = 0,  /* divide error */
    RT_VEC_DB = 1,  /* debug */
    RT_VEC_NMI = 2, /* non-maskable interrupt */
    RT_VEC_BP = 3,  /* breakpoint (int3) */
    RT_VEC_OF = 4,  /* overflow */
    RT_VEC_BR = 5,  /* bound range */
    RT_VEC_UD = 6,  /* invalid opcode */
    RT_VEC_NM = 7,  /* device not available */
    RT_VEC_DF = 8,  /* double fault, runs on IST1 */
    RT_VEC_TS = 10, /* invalid TSS */
    RT_VEC_NP = 11, /* segment not present */
    RT_VEC_SS = 12, /* stack-segment fault */
    RT_VEC_GP = 13, /* general protection */
    RT_VEC_PF = 14, /* page fault */
    RT_VEC_MF = 16, /* x87 floating-point error */
    RT_VEC_AC = 17, /* alignment check */
    RT_VEC_MC = 18, /* machine check */
    RT_VEC_XM = 19, /* SIMD floating-point */
    RT_VEC_VE = 20, /* virtualization exception */
    RT_VEC_CP = 21, /* control protection */
    /*
     * Vectors 32-47 are for external interrupts (the timer's default is
     * RT_VEC_TIMER); the IDT has no gate beyond RT_NR_VECTORS - 1.
     */
    RT_VEC_IRQ_FIRST = 32,
    RT_VEC_TIMER = 0x20,
    RT_VEC_IRQ_LAST = 47,
    RT_NR_VECTORS = 48,
};

/* Page-fault error code bits (SDM 3A §4.7). */
#define RT_PF_PRESENT (1u << 0)
#define RT_PF_WRITE (1u << 1)
#define RT_PF_USER (1u << 2)
#define RT_PF_RSVD (1u << 3)
#define RT_PF_FETCH (1u << 4)

/* The selectors of the runtime's GDT. */
#define RT_SEL_KERNEL_CODE 0x08
#define RT_SEL_KERNEL_DATA 0x10
#define RT_SEL_USER_DATA 0x1b /* 0x18 | RPL 3 */
#define RT_SEL_USER_CODE 0x23 /* 0x20 | RPL 3 */
#define RT_SEL_TSS 0x28

/*
 * The registers of the interrupted context, as the vector stubs in
 * vectors.S save them.  A handler may change any field; returning from the
 * handler restores all of them (iretq reloads rip, cs, rflags, rsp, ss).
 */
struct rt_trap_frame {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*rt_trap_fn)(struct rt_trap_frame *frame);

/*
 * Makes fn handle exceptions (vectors 0..31) or external interrupts
 * (32..47) on vector; NULL restores the default handler, which prints the
 * vector, error code, RIP (and CR2 for #PF) and exits with status
 * 128 + vector.  Handlers run with RFLAGS.IF = 0 (interrupt gates); an
 * interrupt needs no EOI.
 */
void rt_set_handler(unsigned vector, rt_trap_fn fn);

/*
 * Returns: how many times external-interrupt vector (32..47) has been
 * delivered so far (counted by the dispatcher after the handler returns),
 * 0 for any other vector.
 */
uint64_t rt_irq_count(unsigned vector);

/*
 * The bounds [bottom, top) of the stack the CPU switches to for #DF
 * (TSS IST1) and of the one it uses on traps from CPL 3 (TSS RSP0).
 */
uintptr_t rt_ist1_stack_bottom(void);
uintptr_t rt_ist1_stack_top(void);
uintptr_t rt_rsp0_stack_bottom(void);
uintptr_t rt_rsp0_stack_top(void);

/* ------------------------------------------------------------------ */
/* Guest only: machine state left by the loader.                        */
/* ------------------------------------------------------------------ */

/* Guest RAM size in bytes (RDI at entry). */
uint64_t rt_ram_size(void);
/* Lowest address of the reserved area at the top of RAM: firmware
 * tables, modules, the loader's page tables (RSI at entry). */
uint64_t rt_reserved_base(void);

/*
 * The boot-info block (RDX at entry; README, "Guest ABI"): the memory
 * map, the ACPI RSDP, the command line and the modules.
 */
struct rt_memmap_entry {
    uint64_t base, length;
    uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI reclaimable */
    uint32_t reserved;
};
struct rt_module {
    uint64_t addr, size;
    uint64_t name; /* address of its NUL-terminated name */
};
struct rt_boot_info {
    char magic[8]; /* "IOVSBOOT" */
    uint32_t version, size;
    uint64_t rsdp;
    uint64_t cmdline; /* NUL-terminated, 0 if none */
    uint64_t memmap;  /* struct rt_memmap_entry[nmemmap] */
    uint32_t nmemmap, vcpus;
    uint64_t modules; /* struct rt_module[nmodules] */
    uint32_t nmodules, reserved;
};
/* Returns: the block, or NULL if RDX held none (no magic). */
const struct rt_boot_info *rt_boot_info(void);

/* ------------------------------------------------------------------ */
/* Guest only: paging (4-level, identity map of RAM built by the loader). */
/* ------------------------------------------------------------------ */

#define RT_PTE_P (1ull << 0)
#define RT_PTE_W (1ull << 1)
#define RT_PTE_U (1ull << 2)
#define RT_PTE_PWT (1ull << 3) /* write-through */
#define RT_PTE_PCD (1ull << 4) /* cache disable: for device memory */
#define RT_PTE_A (1ull << 5)
#define RT_PTE_D (1ull << 6)
#define RT_PTE_PS (1ull << 7)
#define RT_PTE_NX (1ull << 63)
#define RT_PTE_ADDR 0x000ffffffffff000ull

/*
 * Maps the 4 KiB page at virtual address va to physical address pa with
 * the given RT_PTE_* flags (RT_PTE_P is added), creating missing table
 * levels from a pool inside the runtime.  Does not flush the TLB: call
 * rt_invlpg(va) when replacing a present entry.
 * Returns: 0, or -1 if a large page covers va or the pool is used up.
 */
int rt_map_4k(uint64_t va, uint64_t pa, uint64_t flags);

/*
 * Returns: a pointer to the 4 KiB page-table entry for va in the live
 * tables (through CR3), or NULL if a level above it is missing or maps a
 * large page.
 */
uint64_t *rt_pte_find(uint64_t va);

/* ------------------------------------------------------------------ */
/* Guest only: the machine's devices (workloads/README.md, "Devices").   */
/* ------------------------------------------------------------------ */

/*
 * The register file: RT_REGFILE_SIZE bytes of memory-like MMIO at
 * guest-physical RT_REGFILE_PA, above all RAM, so not mapped by the
 * loader: map it with rt_map_4k(va, RT_REGFILE_PA, RT_PTE_W | RT_PTE_PCD |
 * RT_PTE_PWT).
 */
#define RT_REGFILE_PA 0x400000000ull
#define RT_REGFILE_SIZE 4096u
/* The POST-code port: a write stores the value, a read returns it. */
#define RT_PORT_POST 0x80
/*
 * The interval timer (devices/timer.c), ports RT_PORT_TIMER + offset:
 * DELAY (32-bit) arms it that many microseconds from now, 0 disarms;
 * VECTOR (8-bit) is its interrupt vector, 16..255, default RT_VEC_TIMER;
 * COUNT (32-bit, read-only) counts its expirations since reset; PERIOD
 * (32-bit), when non-zero, re-arms it for that long at each expiry.
 * Time is the machine's virtual clock.
 */
#define RT_PORT_TIMER 0x440
/*
 * The local APIC (devices/lapic.c, xAPIC): its page at RT_LAPIC_PA is in
 * the PCI hole, not mapped by the loader.  rt_lapic_init maps it and
 * software-enables the APIC (spurious vector RT_VEC_SPURIOUS); returns 0,
 * or -1 if the page cannot be mapped.  Interrupts it delivers need an EOI
 * (rt_lapic_eoi) before lower-priority ones can follow.
 */
#define RT_LAPIC_PA 0xfee00000ull
#define RT_LAPIC_ID 0x020
#define RT_LAPIC_VERSION 0x030
#define RT_LAPIC_TPR 0x080
#define RT_LAPIC_PPR 0x0a0
#define RT_LAPIC_EOI 0x0b0
#define RT_LAPIC_SVR 0x0f0
#define RT_LAPIC_ISR 0x100 /* 8 registers, 16 bytes apart */
#define RT_LAPIC_IRR 0x200
#define RT_LAPIC_ESR 0x280
#define RT_LAPIC_ICR_LO 0x300
#define RT_LAPIC_ICR_HI 0x310
#define RT_LAPIC_LVT_TIMER 0x320
#define RT_LAPIC_TIMER_INITIAL 0x380
#define RT_LAPIC_TIMER_CURRENT 0x390
#define RT_LAPIC_TIMER_DIVIDE 0x3e0
#define RT_VEC_SPURIOUS 0x2f
int rt_lapic_init(void);
uint32_t rt_lapic_read(unsigned reg);
void rt_lapic_write(unsigned reg, uint32_t v);
void rt_lapic_eoi(void);
#define RT_TIMER_DELAY 0x0
#define RT_TIMER_VECTOR 0x4
#define RT_TIMER_COUNT 0x8
#define RT_TIMER_PERIOD 0xc

/* ------------------------------------------------------------------ */
/* Guest only: privileged instructions.                                 */
/* ------------------------------------------------------------------ */

#define RT_MSR_EFER 0xc0000080u
#define RT_MSR_STAR 0xc0000081u
#define RT_MSR_LSTAR 0xc0000082u
#define RT_MSR_FMASK 0xc0000084u
#define RT_MSR_FS_BASE 0xc0000100u
#define RT_MSR_GS_BASE 0xc0000101u
#define RT_MSR_KERNEL_GS_BASE 0xc0000102u

#define RT_EFER_SCE (1ull << 0)
#define RT_EFER_LME (1ull << 8)
#define RT_EFER_LMA (1ull << 10)
#define RT_EFER_NXE (1ull << 11)

static inline uint64_t rt_read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline uint64_t rt_read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint64_t rt_read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

static inline uint64_t rt_read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static inline void rt_write_cr3(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void rt_invlpg(uint64_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t rt_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void rt_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
}

static inline uint16_t rt_read_cs(void)
{
    uint16_t v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    return v;
}

static inline uint16_t rt_read_ss(void)
{
    uint16_t v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    return v;
}

static inline void rt_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void rt_outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t rt_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t rt_inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rt_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* RFLAGS.IF: maskable interrupts enabled. */
#define RT_RFLAGS_IF (1ull << 9)

/* Enables maskable interrupts (after the next instruction: SDM 2B STI). */
static inline void rt_sti(void)
{
    __asm__ volatile("sti" : : : "memory");
}

static inline void rt_cli(void)
{
    __asm__ volatile("cli" : : : "memory");
}

/* Halts until the next interrupt (which must be enabled to wake it). */
static inline void rt_hlt(void)
{
    __asm__ volatile("hlt" : : : "memory");
}

/*
 * `sti; hlt` as one statement: no interrupt can be taken between the two
 * (STI's one-instruction shadow), so after `cli` and a check of what the
 * handler sets, this sleeps without missing a wake-up.
 */
static inline void rt_sti_hlt(void)
{
    __asm__ volatile("sti; hlt" : : : "memory");
}

static inline uint64_t rt_read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

/*
 * Prepares SYSCALL/SYSRET: sets EFER.SCE, STAR with the runtime's
 * selectors (SYSCALL enters 0x08/0x10, SYSRET returns to 0x23/0x1b),
 * LSTAR = entry and FMASK = rflags_mask (SDM 2B SYSCALL, SYSRET).
 */
void rt_syscall_setup(void (*entry)(void), uint64_t rflags_mask);

/* ------------------------------------------------------------------ */
/* Guest only: the interval timer (RT_PORT_TIMER).                      */
/* ------------------------------------------------------------------ */

/* Arms the timer once, us microseconds from now (period 0); 0 disarms. */
static inline void rt_timer_arm(uint32_t us)
{
    rt_outl(RT_PORT_TIMER + RT_TIMER_PERIOD, 0);
    rt_outl(RT_PORT_TIMER + RT_TIMER_DELAY, us);
}

/* Arms the timer to expire every us microseconds from now; 0 disarms. */
static inline void rt_timer_periodic(uint32_t us)
{
    rt_outl(RT_PORT_TIMER + RT_TIMER_PERIOD, us);
    rt_outl(RT_PORT_TIMER + RT_TIMER_DELAY, us);
}

/* Returns: the timer's expirations since machine reset (COUNT). */
static inline uint32_t rt_timer_count(void)
{
    return rt_inl(RT_PORT_TIMER + RT_TIMER_COUNT);
}

/* Sets the timer's interrupt vector (use 32..47, which have IDT gates). */
static inline void rt_timer_vector(uint8_t v)
{
    rt_outb(RT_PORT_TIMER + RT_TIMER_VECTOR, v);
}

/*
 * Sleeps at least us microseconds of machine time (us > 0): arms the
 * timer once and halts until its interrupt has been delivered to the
 * handler of the timer's current vector, which the program must have set
 * (rt_set_handler); without one the default handler ends the run.  Takes
 * the timer over: a periodic set-up is replaced.  Returns with RFLAGS.IF
 * as it was on entry.
 */
void rt_sleep_us(uint32_t us);
#endif /* RT_GUEST */

#endif /* SIM_WORKLOADS_RT_H */
