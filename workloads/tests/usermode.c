/*
 * usermode.c (guest only): CPL 3 and back, through SYSCALL/SYSRET, SWAPGS
 * and interrupt gates.
 *
 * The kernel side sets EFER.SCE, STAR/LSTAR/FMASK (rt_syscall_setup), a
 * per-CPU area reached through GS (KERNEL_GS_BASE while in user mode), and
 * enters CPL 3 with sysretq.  The user side (plain C running at CPL 3, with
 * no port access) asks the kernel to print through a write syscall, reports
 * its CS and SS, reads its own GS-based area, makes a thousand syscalls,
 * and tries instructions CPL 3 may not use (out, hlt, cli, mov from CR3,
 * swapgs), a load from a supervisor-only page and int3; the kernel's
 * handlers report each exception (vector, error code, the CS/SS pushed,
 * and that the CPU switched to the TSS RSP0 stack) and resume the user
 * code after it.  An exit syscall returns to the kernel, which checks that
 * GS_BASE and KERNEL_GS_BASE are back where they were.
 */
#include "rt.h"

enum sys_number {
    SYS_WRITE = 1,  /* (buffer, length) */
    SYS_REPORT = 2, /* (cs, ss, gs:0): kernel prints them */
    SYS_ADD = 3,    /* (a, b): returns a + b */
    SYS_FLAGS = 4,  /* (): kernel checks DF masked, user DF in R11 */
    SYS_EXIT = 60,  /* (status) */
};

/* A value the user's GS-based area holds, and the kernel's. */
#define USER_GS_MAGIC 0x75736572u /* "user" */
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_AC (1ull << 18)
#define SUPERVISOR_PAGE 0x40000000ull
#define STACK_SIZE 16384

/*
 * The per-CPU area: GS_BASE points here in the kernel.  Offsets are used
 * by the assembly below.
 */
struct percpu {
    uint64_t self;         /* 0: its own address */
    uint64_t kernel_stack; /* 8: RSP on syscall entry */
    uint64_t user_rsp;     /* 16: RSP saved on syscall entry */
    uint64_t resume_rsp;   /* 24: enter_user's RSP, for the exit call */
};

/* The user's GS-based area. */
struct user_area {
    uint64_t magic;
};

static struct percpu percpu;
static struct user_area user_area = {USER_GS_MAGIC};
static uint8_t syscall_stack[STACK_SIZE] __attribute__((aligned(16)));
static uint8_t user_stack[STACK_SIZE] __attribute__((aligned(16)));
static uint8_t supervisor_page[4096] __attribute__((aligned(4096)));
static unsigned syscall_count;

void syscall_entry(void);
uint64_t enter_user(void (*entry)(void), uint64_t user_rsp);
void leave_user(uint64_t status) __attribute__((noreturn));
uint64_t syscall_dispatch(uint64_t a0, uint64_t a1, uint64_t a2,
                          uint64_t number, uint64_t user_rflags);

/* User-side probes: each faults at "site" and resumes at "resume". */
void user_out(void);
void user_hlt(void);
void user_cli(void);
void user_read_cr3(void);
void user_swapgs(void);
uint64_t user_load(uint64_t address);
void user_int3(void);
extern const char site_out[], resume_out[], site_hlt[], resume_hlt[];
extern const char site_cli[], resume_cli[], site_cr3[], resume_cr3[];
extern const char site_swapgs[], resume_swapgs[];
extern const char site_load[], resume_load[], after_int3[];

__asm__(".pushsection .text\n"
        /*
         * SYSCALL: RCX = user RIP, R11 = user RFLAGS, RFLAGS &= ~FMASK,
         * CS/SS from STAR; RSP is still the user's (SDM 2B SYSCALL).
         */
        "syscall_entry:\n"
        "    swapgs\n"
        "    mov %rsp, %gs:16\n"
        "    mov %gs:8, %rsp\n"
        "    push %rcx\n"
        "    push %r11\n"
        "    push %rdi\n"
        "    push %rsi\n"
        "    push %rdx\n"
        "    push %r8\n"
        "    push %r9\n"
        "    push %r10\n"
        "    mov %rax, %rcx\n"
        "    mov %r11, %r8\n"
        "    call syscall_dispatch\n"
        "    pop %r10\n"
        "    pop %r9\n"
        "    pop %r8\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    pop %r11\n"
        "    pop %rcx\n"
        "    mov %gs:16, %rsp\n"
        "    swapgs\n"
        "    sysretq\n"

        /* uint64_t enter_user(entry, user_rsp): returns the exit status. */
        "enter_user:\n"
        "    push %rbx\n"
        "    push %rbp\n"
        "    push %r12\n"
        "    push %r13\n"
        "    push %r14\n"
        "    push %r15\n"
        "    mov %rsp, %gs:24\n"
        "    mov %rdi, %rcx\n"
        "    mov $0x2, %r11d\n"
        "    mov %rsi, %rsp\n"
        "    swapgs\n"
        "    sysretq\n"

        /* Called by the exit syscall on the syscall stack. */
        "leave_user:\n"
        "    mov %gs:24, %rsp\n"
        "    mov %rdi, %rax\n"
        "    pop %r15\n"
        "    pop %r14\n"
        "    pop %r13\n"
        "    pop %r12\n"
        "    pop %rbp\n"
        "    pop %rbx\n"
        "    ret\n"

        "user_out:\n"
        "    mov $0x21, %al\n"
        "site_out:\n"
        "    out %al, $0xe9\n"
        "resume_out:\n"
        "    ret\n"
        "user_hlt:\n"
        "site_hlt:\n"
        "    hlt\n"
        "resume_hlt:\n"
        "    ret\n"
        "user_cli:\n"
        "site_cli:\n"
        "    cli\n"
        "resume_cli:\n"
        "    ret\n"
        "user_read_cr3:\n"
        "site_cr3:\n"
        "    mov %cr3, %rax\n"
        "resume_cr3:\n"
        "    ret\n"
        "user_swapgs:\n"
        "site_swapgs:\n"
        "    swapgs\n"
        "resume_swapgs:\n"
        "    ret\n"
        "user_load:\n"
        "    xor %eax, %eax\n"
        "site_load:\n"
        "    mov (%rdi), %rax\n"
        "resume_load:\n"
        "    ret\n"
        "user_int3:\n"
        "    int3\n"
        "after_int3:\n"
        "    ret\n"
        ".popsection\n");

/* ------------------------------------------------------------------ */
/* User side: runs at CPL 3; no port I/O, so no rt_printf.              */
/* ------------------------------------------------------------------ */

static uint64_t sys(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2)
{
    uint64_t ret;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(number), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    return ret;
}

static void user_print(const char *s)
{
    sys(SYS_WRITE, (uintptr_t)s, strlen(s), 0);
}

static uint64_t user_gs_read(void)
{
    uint64_t v;

    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    return v;
}

static void user_main(void) __attribute__((noreturn, used));

static void user_main(void)
{
    char line[80];
    uint64_t sum = 0, i, r;

    user_print("user: hello from CPL 3\n");
    sys(SYS_REPORT, rt_read_cs(), rt_read_ss(), user_gs_read());

    for (i = 0; i < 1000; i++) {
        sum += sys(SYS_ADD, i, 2 * i, 0);
    }
    rt_snprintf(line, sizeof(line), "user: 1000 add syscalls, sum %llu\n",
                (unsigned long long)sum);
    user_print(line);

    __asm__ volatile("std");
    sys(SYS_FLAGS, 0, 0, 0);
    __asm__ volatile("cld");

    user_out();
    user_hlt();
    user_cli();
    user_read_cr3();
    user_swapgs();
    r = user_load(SUPERVISOR_PAGE);
    rt_snprintf(line, sizeof(line),
                "user: load from supervisor page gave %llx\n",
                (unsigned long long)r);
    user_print(line);
    user_int3();
    rt_snprintf(line, sizeof(line), "user: still CPL %d after the traps\n",
                rt_read_cs() & 3);
    user_print(line);
    sys(SYS_EXIT, 42, 0, 0);
    for (;;) {
    }
}

/* ------------------------------------------------------------------ */
/* Kernel side.                                                         */
/* ------------------------------------------------------------------ */

static uint64_t read_rflags(void)
{
    uint64_t v;

    __asm__ volatile("pushfq; pop %0" : "=r"(v));
    return v;
}

static uint64_t kernel_gs_read(void)
{
    uint64_t v;

    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    return v;
}

uint64_t syscall_dispatch(uint64_t a0, uint64_t a1, uint64_t a2,
                          uint64_t number, uint64_t user_rflags)
{
    const char *s;
    uint64_t i;

    syscall_count++;
    switch (number) {
    case SYS_WRITE:
        s = (const char *)(uintptr_t)a0;
        for (i = 0; i < a1; i++) {
            rt_putc((unsigned char)s[i]);
        }
        return a1;
    case SYS_REPORT:
        rt_printf("kernel: user CS 0x%llx (CPL %llu) SS 0x%llx, user gs:0 "
                  "0x%llx\n",
                  (unsigned long long)a0, (unsigned long long)(a0 & 3),
                  (unsigned long long)a1, (unsigned long long)a2);
        rt_printf("kernel: in syscall CS 0x%x SS 0x%x, gs:0 is the per-CPU "
                  "area %d, on the syscall stack %d\n",
                  rt_read_cs(), rt_read_ss(),
                  kernel_gs_read() == (uintptr_t)&percpu,
                  (uintptr_t)&i >= (uintptr_t)syscall_stack &&
                      (uintptr_t)&i < (uintptr_t)syscall_stack + STACK_SIZE);
        return 0;
    case SYS_ADD:
        return a0 + a1;
    case SYS_FLAGS:
        rt_printf("kernel: FMASK cleared DF %d, user DF seen in R11 %d, "
                  "IF in R11 %d\n",
                  !(read_rflags() & RFLAGS_DF), !!(user_rflags & RFLAGS_DF),
                  !!(user_rflags & RFLAGS_IF));
        return 0;
    case SYS_EXIT:
        leave_user(a0);
    default:
        rt_printf("kernel: unknown syscall %llu\n", (unsigned long long)number);
        return (uint64_t)-1;
    }
}

/* One user instruction that must fault, and where to resume after it. */
struct user_probe {
    const char *site;
    const char *resume;
    const char *what;
};

static const struct user_probe probes[] = {
    {site_out, resume_out, "out to port 0xe9"},
    {site_hlt, resume_hlt, "hlt"},
    {site_cli, resume_cli, "cli"},
    {site_cr3, resume_cr3, "mov from cr3"},
    {site_swapgs, resume_swapgs, "swapgs"},
    {site_load, resume_load, "load from supervisor page"},
};

static void user_trap(struct rt_trap_frame *frame)
{
    uintptr_t here = (uintptr_t)frame;
    const char *what = "unknown";
    size_t i;

    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        if (frame->rip == (uintptr_t)probes[i].site) {
            what = probes[i].what;
            frame->rip = (uintptr_t)probes[i].resume;
            frame->rax = 0xbad;
        }
    }
    if (frame->vector == RT_VEC_BP && frame->rip == (uintptr_t)after_int3) {
        what = "int3";
    }
    rt_printf("kernel: vector %2llu error 0x%llx from %s: CS 0x%llx SS "
              "0x%llx, on RSP0 stack %d",
              (unsigned long long)frame->vector,
              (unsigned long long)frame->error_code, what,
              (unsigned long long)frame->cs, (unsigned long long)frame->ss,
              here >= rt_rsp0_stack_bottom() && here < rt_rsp0_stack_top());
    if (frame->vector == RT_VEC_PF) {
        rt_printf(", CR2 0x%llx", (unsigned long long)rt_read_cr2());
    }
    rt_printf("\n");
    if ((frame->cs & 3) != 3) {
        rt_printf("kernel: exception not from user mode\n");
        rt_exit(1);
    }
}

int main(void)
{
    uint64_t status;
    uint16_t user_data = RT_SEL_USER_DATA;

    /* A supervisor-only page: the user's load from it must fault. */
    supervisor_page[0] = 0x5a;
    if (rt_map_4k(SUPERVISOR_PAGE, (uintptr_t)supervisor_page, RT_PTE_W)) {
        rt_printf("rt_map_4k failed\n");
        return 1;
    }
    rt_printf("kernel: supervisor page reads 0x%x at CPL 0\n",
              *(volatile uint8_t *)(uintptr_t)SUPERVISOR_PAGE);

    rt_set_handler(RT_VEC_GP, user_trap);
    rt_set_handler(RT_VEC_PF, user_trap);
    rt_set_handler(RT_VEC_BP, user_trap);
    rt_syscall_setup(syscall_entry,
                     RFLAGS_DF | RFLAGS_IF | RFLAGS_TF | RFLAGS_AC);
    rt_printf("kernel: EFER.SCE %d, STAR 0x%llx\n",
              !!(rt_rdmsr(RT_MSR_EFER) & RT_EFER_SCE),
              (unsigned long long)rt_rdmsr(RT_MSR_STAR));

    /*
     * Data selectors with DPL 3, so that an iretq to CPL 3 keeps them
     * (SDM 2A IRET: it nulls data selectors with DPL < CPL); loading GS
     * resets GS_BASE, so the bases are written afterwards.
     */
    __asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%fs; mov %0, %%gs"
                     :
                     : "r"(user_data));
    percpu.self = (uintptr_t)&percpu;
    percpu.kernel_stack = (uintptr_t)(syscall_stack + STACK_SIZE);
    rt_wrmsr(RT_MSR_GS_BASE, (uintptr_t)&percpu);
    rt_wrmsr(RT_MSR_KERNEL_GS_BASE, (uintptr_t)&user_area);

    /* user_main sees RSP = top - 8, as after a call. */
    status = enter_user(user_main, (uintptr_t)(user_stack + STACK_SIZE - 8));

    rt_printf("kernel: user exited with status %llu after %u syscalls\n",
              (unsigned long long)status, syscall_count);
    rt_printf("kernel: GS_BASE is the per-CPU area %d, KERNEL_GS_BASE the "
              "user's %d, CS 0x%x\n",
              rt_rdmsr(RT_MSR_GS_BASE) == (uintptr_t)&percpu,
              rt_rdmsr(RT_MSR_KERNEL_GS_BASE) == (uintptr_t)&user_area,
              rt_read_cs());
    return status == 42 ? 0 : 1;
}
