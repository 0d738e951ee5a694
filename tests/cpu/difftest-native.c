/*
 * tests/cpu/difftest-native.c: runs difftest cases on the host processor.
 *
 * A child process is forked once and fed batches of cases through memory
 * shared with the parent; a socket pair carries the "run [start, end)"
 * requests and the replies.  The child maps the code, data and stack
 * pages at the fixed addresses of difftest.h (MAP_FIXED_NOREPLACE), with
 * PROT_NONE guard pages around the data and stack pages (nothing else may
 * ever be mapped where the simulator has nothing), plus a control page at
 * DT_CTL_ADDR holding the register blocks.  Then it enters seccomp strict
 * mode: the generated code (and the child) can only read and write the
 * socket, return from signals and exit.
 *
 * The code page starts with a hand-assembled trampoline: it saves the
 * host's callee-saved registers and RSP in the control page, loads RFLAGS
 * (popfq) and all 16 GPRs from the control page and jumps to the
 * generated code; the code's end address holds a jump to the epilogue,
 * which stores all 16 GPRs and RFLAGS (pushfq), clears DF (the ABI wants
 * it clear) and returns to C.  An exception in the generated code arrives
 * as a signal on an alternate stack; the handler copies the interrupted
 * context (uc_mcontext, whose TRAPNO is the exception vector) to the
 * control page and rewrites the context to resume at a fault exit that
 * restores the host registers and returns to C (no siglongjmp: FORTIFY's
 * __longjmp_chk may call sigaltstack, which strict mode kills).
 *
 * A case that hangs is cut off by a virtual-time interval timer: a tick
 * that finds the same case running as the previous tick ends it as
 * DT_VEC_NATIVE_DIED.  A child that dies anyway (or stays silent past the
 * parent's watchdog) is reaped, its case is marked DT_VEC_NATIVE_DIED, and
 * a new child carries on with the next case.
 *
 * The signal handler finds its state at the fixed address DT_CTL_ADDR,
 * so no mutable global is needed (STYLE rule 3).
 */
/* For REG_RAX & co. in <sys/ucontext.h>; must precede every include. */
#define _GNU_SOURCE
#include "sim/common.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <glib.h>

#include "tests/cpu/difftest.h"

#define DT_CTL_ADDR 0x40000000ull
#define DT_EPILOGUE_OFF 0x200u
#define DT_FAULT_EXIT_OFF 0x400u
#define DT_ALTSTACK_SIZE (64u * 1024u)
/* Virtual-time tick: a case still running at the next tick has hung. */
#define DT_TICK_SECONDS 1
/* The parent gives up on a silent child after this long. */
#define DT_WATCHDOG_MS 30000

/* The control page of the child; addresses fit a disp32 (< 2 GiB). */
struct dt_child_ctl {
    uint64_t in_gpr[16];
    uint64_t in_rflags;
    uint64_t out_gpr[16];
    uint64_t out_rflags;
    uint64_t host_rsp;
    uint64_t serial;        /* counts cases run, for the hang detector */
    uint64_t tick_serial;   /* the case the last timer tick saw */
    /* Filled by the signal handler. */
    volatile int faulted;
    int f_vector;
    int f_signo;
    uint64_t f_gpr[16];
    uint64_t f_rip;
    uint64_t f_rflags;
    uint64_t f_cr2;
};

/* What the parent and the child share. */
struct dt_shared {
    volatile uint32_t progress; /* the case the child is running */
    uint32_t batch_max;
};

/* One request or reply on the socket pair. */
struct dt_msg {
    uint32_t start, end;
};

struct dt_native {
    unsigned batch_max;
    unsigned n;             /* cases in the current batch */
    pid_t pid;
    int fd;                 /* the parent's end of the socket pair */
    bool sandboxed;         /* the child runs under seccomp strict mode */
    void *map;              /* the shared mapping */
    size_t map_size;
    struct dt_shared *shared;
    struct dt_case *cases;
    struct dt_result *results;
};

G_STATIC_ASSERT(sizeof(struct dt_child_ctl) <= DT_PAGE_SIZE);

/* uc_mcontext.gregs index of each GPR in ISA order. */
static const int dt_greg_of[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static struct dt_child_ctl *dt_ctl(void)
{
    return (struct dt_child_ctl *)(uintptr_t)DT_CTL_ADDR;
}

static uint32_t dt_ctl_addr(size_t off)
{
    return (uint32_t)(DT_CTL_ADDR + off);
}

/* mov [abs32], reg64 (store) or mov reg64, [abs32]. */
static size_t dt_put_abs_mov(uint8_t *p, bool store, unsigned reg,
                             uint32_t addr)
{
    p[0] = (uint8_t)(0x48 | (reg >= 8 ? 0x04 : 0));
    p[1] = store ? 0x89 : 0x8b;
    p[2] = (uint8_t)(0x04 | ((reg & 7) << 3));
    p[3] = 0x25;
    memcpy(p + 4, &addr, 4);
    return 8;
}

/* mov rsp, imm32 (sign-extended). */
static size_t dt_put_mov_rsp(uint8_t *p, uint32_t imm)
{
    p[0] = 0x48;
    p[1] = 0xc7;
    p[2] = 0xc4;
    memcpy(p + 3, &imm, 4);
    return 7;
}

static size_t dt_put_jmp(uint8_t *p, uint64_t from, uint64_t to)
{
    int32_t rel = (int32_t)(to - (from + 5));

    p[0] = 0xe9;
    memcpy(p + 1, &rel, 4);
    return 5;
}

/* Writes the trampoline and the epilogue at the start of the code page. */
static void dt_write_trampoline(uint8_t *code)
{
    static const uint8_t saves[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
                                    0x41, 0x56, 0x41, 0x57};
    static const uint8_t restores[] = {0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
                                       0x41, 0x5c, 0x5d, 0x5b, 0xc3};
    uint8_t *p = code;
    unsigned r;

    memcpy(p, saves, sizeof(saves));
    p += sizeof(saves);
    p += dt_put_abs_mov(p, true, 4,
                        dt_ctl_addr(offsetof(struct dt_child_ctl, host_rsp)));
    p += dt_put_mov_rsp(p, dt_ctl_addr(offsetof(struct dt_child_ctl,
                                                 in_rflags)));
    *p++ = 0x9d; /* popfq */
    for (r = 0; r < 16; r++) {
        if (r != 4) {
            p += dt_put_abs_mov(p, false, r,
                                dt_ctl_addr(offsetof(struct dt_child_ctl,
                                                     in_gpr) + 8 * r));
        }
    }
    p += dt_put_abs_mov(p, false, 4,
                        dt_ctl_addr(offsetof(struct dt_child_ctl, in_gpr) +
                                    8 * 4));
    p += dt_put_jmp(p, DT_CODE_ADDR + (uint64_t)(p - code),
                    DT_CODE_ADDR + DT_CODE_START);
    g_assert((size_t)(p - code) <= DT_EPILOGUE_OFF);

    p = code + DT_EPILOGUE_OFF;
    for (r = 0; r < 16; r++) {
        p += dt_put_abs_mov(p, true, r,
                            dt_ctl_addr(offsetof(struct dt_child_ctl,
                                                 out_gpr) + 8 * r));
    }
    p += dt_put_mov_rsp(p, dt_ctl_addr(offsetof(struct dt_child_ctl,
                                                 out_rflags) + 8));
    *p++ = 0x9c; /* pushfq */
    *p++ = 0xfc; /* cld */
    p += dt_put_abs_mov(p, false, 4,
                        dt_ctl_addr(offsetof(struct dt_child_ctl, host_rsp)));
    memcpy(p, restores, sizeof(restores));
    p += sizeof(restores);
    g_assert((size_t)(p - code) <= DT_FAULT_EXIT_OFF);

    /* The fault exit: the handler points RSP at the saved registers. */
    memcpy(code + DT_FAULT_EXIT_OFF, restores, sizeof(restores));
    g_assert(DT_FAULT_EXIT_OFF + sizeof(restores) <= DT_CODE_START);
}

static void dt_on_signal(int signo, siginfo_t *si, void *uc_void)
{
    struct dt_child_ctl *ctl = dt_ctl();
    ucontext_t *uc = uc_void;
    greg_t *gr = uc->uc_mcontext.gregs;
    uint64_t rip = (uint64_t)gr[REG_RIP];
    bool in_code = rip - DT_CODE_ADDR < DT_PAGE_SIZE;
    unsigned r;

    (void)si;
    if (signo == SIGVTALRM) {
        if (!in_code || ctl->tick_serial != ctl->serial) {
            ctl->tick_serial = ctl->serial;
            return; /* the first tick in this case: let it run */
        }
    } else if (!in_code) {
        /* A fault in the child itself: die, the parent reports it. */
        syscall(SYS_exit, 100 + signo);
    }
    for (r = 0; r < 16; r++) {
        ctl->f_gpr[r] = (uint64_t)gr[dt_greg_of[r]];
    }
    ctl->f_rip = rip;
    ctl->f_rflags = (uint64_t)gr[REG_EFL];
    ctl->f_cr2 = (uint64_t)gr[REG_CR2];
    ctl->f_signo = signo;
    ctl->f_vector = signo == SIGVTALRM ? DT_VEC_NATIVE_DIED
                                       : (int)gr[REG_TRAPNO];
    ctl->faulted = 1;
    /* Resume at the fault exit, which returns from the trampoline. */
    gr[REG_RIP] = (greg_t)(DT_CODE_ADDR + DT_FAULT_EXIT_OFF);
    gr[REG_RSP] = (greg_t)ctl->host_rsp;
    gr[REG_EFL] = 0x202;
}

static bool dt_map_fixed(uint64_t addr, size_t len, int prot)
{
    void *p = mmap((void *)(uintptr_t)addr, len, prot,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

    if (p == MAP_FAILED || p != (void *)(uintptr_t)addr) {
        fprintf(stderr, "difftest: child cannot map 0x%llx: %s\n",
                (unsigned long long)addr, strerror(errno));
        return false;
    }
    return true;
}

/* Returns: false on failure; *sandboxed says whether seccomp is on. */
static bool dt_child_setup(bool *sandboxed)
{
    static const int sigs[] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP,
                               SIGVTALRM};
    struct itimerval tick = {{DT_TICK_SECONDS, 0}, {DT_TICK_SECONDS, 0}};
    struct sigaction sa;
    stack_t ss;
    size_t i;

    if (!dt_map_fixed(DT_CODE_ADDR, DT_PAGE_SIZE,
                      PROT_READ | PROT_WRITE | PROT_EXEC) ||
        !dt_map_fixed(DT_DATA_ADDR - DT_PAGE_SIZE, DT_PAGE_SIZE, PROT_NONE) ||
        !dt_map_fixed(DT_DATA_ADDR, DT_DATA_SIZE, PROT_READ | PROT_WRITE) ||
        !dt_map_fixed(DT_GUARD_ADDR, DT_PAGE_SIZE, PROT_NONE) ||
        !dt_map_fixed(DT_STACK_ADDR - DT_PAGE_SIZE, DT_PAGE_SIZE, PROT_NONE) ||
        !dt_map_fixed(DT_STACK_ADDR, DT_PAGE_SIZE, PROT_READ | PROT_WRITE) ||
        !dt_map_fixed(DT_STACK_ADDR + DT_PAGE_SIZE, DT_PAGE_SIZE, PROT_NONE) ||
        !dt_map_fixed(DT_CTL_ADDR, DT_PAGE_SIZE, PROT_READ | PROT_WRITE)) {
        return false;
    }
    memset((void *)(uintptr_t)DT_CODE_ADDR, 0xcc, DT_PAGE_SIZE);
    dt_write_trampoline((uint8_t *)(uintptr_t)DT_CODE_ADDR);

    ss.ss_sp = mmap(NULL, DT_ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ss.ss_size = DT_ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL) != 0) {
        return false;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = dt_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (i = 0; i < SIM_ARRAY_SIZE(sigs); i++) {
        if (sigaction(sigs[i], &sa, NULL) != 0) {
            return false;
        }
    }
    if (setitimer(ITIMER_VIRTUAL, &tick, NULL) != 0 ||
        prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        return false;
    }
    /*
     * The sandbox: from here on only read, write, exit and sigreturn.
     * Where seccomp is unavailable the child still runs, unconfined.
     */
    *sandboxed = prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) == 0;
    if (!*sandboxed) {
        fprintf(stderr, "difftest: no seccomp (%s); child unconfined\n",
                strerror(errno));
    }
    return true;
}

/* Runs one case in the child. */
static void dt_child_run(const struct dt_case *c, struct dt_result *r)
{
    struct dt_child_ctl *ctl = dt_ctl();
    uint8_t *code = (uint8_t *)(uintptr_t)DT_CODE_ADDR;
    uint64_t end = DT_CODE_ADDR + DT_CODE_START + c->code_len;
    void (*entry)(void) = (void (*)(void))(uintptr_t)DT_CODE_ADDR;

    memset(code + DT_CODE_START, 0xcc, DT_PAGE_SIZE - DT_CODE_START);
    memcpy(code + DT_CODE_START, c->code, c->code_len);
    dt_put_jmp(code + DT_CODE_START + c->code_len, end,
               DT_CODE_ADDR + DT_EPILOGUE_OFF);
    memcpy((void *)(uintptr_t)DT_DATA_ADDR, c->data, DT_DATA_SIZE);
    memcpy((void *)(uintptr_t)DT_STACK_ADDR, c->stack, DT_PAGE_SIZE);
    memcpy(ctl->in_gpr, c->init.gpr, sizeof(ctl->in_gpr));
    ctl->in_rflags = c->init.rflags;
    ctl->faulted = 0;
    ctl->serial++;

    entry();
    if (!ctl->faulted) {
        memcpy(r->regs.gpr, ctl->out_gpr, sizeof(r->regs.gpr));
        r->regs.rflags = ctl->out_rflags;
        r->regs.rip = end;
        r->vector = DT_VEC_NONE;
        r->signo = 0;
        r->cr2 = 0;
    } else {
        memcpy(r->regs.gpr, ctl->f_gpr, sizeof(r->regs.gpr));
        r->regs.rflags = ctl->f_rflags;
        r->regs.rip = ctl->f_rip;
        r->vector = ctl->f_vector;
        r->signo = ctl->f_signo;
        r->cr2 = ctl->f_cr2;
    }
    memcpy(r->data, (void *)(uintptr_t)DT_DATA_ADDR, DT_DATA_SIZE);
    memcpy(r->stack, (void *)(uintptr_t)DT_STACK_ADDR, DT_PAGE_SIZE);
}

/*
 * Reads or writes all of @buf.  The child (@child) uses write(), which
 * strict mode allows (a dead parent's SIGPIPE ends it, as it should); the
 * parent uses send(MSG_NOSIGNAL) so that a dead child cannot kill it.
 */
static bool dt_full_io(int fd, void *buf, size_t len, bool wr, bool child)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = !wr   ? read(fd, p, len)
                    : child ? write(fd, p, len)
                            : send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static __attribute__((noreturn)) void dt_child_main(struct dt_native *nat,
                                                    int fd)
{
    struct dt_msg msg = {0, 0};
    bool sandboxed = false;
    uint32_t i;

    /* The ready message says whether the sandbox is on. */
    if (!dt_child_setup(&sandboxed) ||
        !dt_full_io(fd, &(struct dt_msg){sandboxed, 0}, sizeof(msg), true,
                    true)) {
        syscall(SYS_exit, 3);
    }
    while (dt_full_io(fd, &msg, sizeof(msg), false, true)) {
        for (i = msg.start; i < msg.end && i < nat->batch_max; i++) {
            nat->shared->progress = i;
            dt_child_run(&nat->cases[i], &nat->results[i]);
        }
        if (!dt_full_io(fd, &msg, sizeof(msg), true, true)) {
            break;
        }
    }
    /* exit, not exit_group: the only exit strict mode allows. */
    syscall(SYS_exit, 0);
    __builtin_unreachable();
}

/* Forks a new child and waits for it to say it is ready. */
static bool dt_native_spawn(struct dt_native *nat)
{
    struct dt_msg msg;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return false;
    }

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return false;
    }
    if (pid == 0) {
        close(sv[0]);
        dt_child_main(nat, sv[1]);
    }
    close(sv[1]);
    nat->pid = pid;
    nat->fd = sv[0];
    if (!dt_full_io(nat->fd, &msg, sizeof(msg), false, false)) {
        close(nat->fd);
        nat->fd = -1;
        waitpid(pid, NULL, 0);
        nat->pid = -1;
        return false;
    }
    nat->sandboxed = msg.start != 0;
    return true;
}

static void dt_native_reap(struct dt_native *nat, int *status /* out */)
{
    if (nat->fd >= 0) {
        close(nat->fd);
        nat->fd = -1;
    }
    *status = 0;
    if (nat->pid > 0) {
        while (waitpid(nat->pid, status, 0) < 0 && errno == EINTR) {
        }
        nat->pid = -1;
    }
}

struct dt_native *dt_native_new(unsigned batch_max)
{
    struct dt_native *nat = g_new0(struct dt_native, 1);
    size_t cases_off = (sizeof(struct dt_shared) + 63) & ~(size_t)63;
    size_t results_off = cases_off + batch_max * sizeof(struct dt_case);

    results_off = (results_off + 63) & ~(size_t)63;
    nat->batch_max = batch_max;
    nat->map_size = results_off + batch_max * sizeof(struct dt_result);
    nat->map = mmap(NULL, nat->map_size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    nat->fd = -1;
    nat->pid = -1;
    if (nat->map == MAP_FAILED) {
        g_free(nat);
        return NULL;
    }
    nat->shared = nat->map;
    nat->shared->batch_max = batch_max;
    nat->cases = (struct dt_case *)((uint8_t *)nat->map + cases_off);
    nat->results = (struct dt_result *)((uint8_t *)nat->map + results_off);
    if (!dt_native_spawn(nat)) {
        munmap(nat->map, nat->map_size);
        g_free(nat);
        return NULL;
    }
    return nat;
}

void dt_native_free(struct dt_native *nat)
{
    int status;

    if (nat == NULL) {
        return;
    }
    dt_native_reap(nat, &status);
    munmap(nat->map, nat->map_size);
    g_free(nat);
}

bool dt_native_sandboxed(const struct dt_native *nat)
{
    return nat->sandboxed;
}

struct dt_case *dt_native_cases(struct dt_native *nat)
{
    return nat->cases;
}

const struct dt_result *dt_native_results(const struct dt_native *nat)
{
    return nat->results;
}

static void dt_native_send(struct dt_native *nat, unsigned start)
{
    struct dt_msg msg = {start, nat->n};

    nat->shared->progress = start;
    if (nat->fd < 0 || !dt_full_io(nat->fd, &msg, sizeof(msg), true, false)) {
        /* dt_native_wait() sees the dead child and deals with it. */
        return;
    }
}

void dt_native_start(struct dt_native *nat, unsigned n)
{
    g_assert(n <= nat->batch_max);
    nat->n = n;
    dt_native_send(nat, 0);
}

/*
 * Waits for the child's reply; kills a child that stays silent past the
 * watchdog (it would have to be stuck outside the generated code).
 */
static bool dt_wait_readable(struct dt_native *nat)
{
    struct pollfd pfd = {.fd = nat->fd, .events = POLLIN};
    int n;

    do {
        n = poll(&pfd, 1, DT_WATCHDOG_MS);
    } while (n < 0 && errno == EINTR);
    if (n == 0 && nat->pid > 0) {
        fprintf(stderr, "difftest: native child silent for %d ms, killed\n",
                DT_WATCHDOG_MS);
        kill(nat->pid, SIGKILL);
        return false;
    }
    return n > 0;
}

unsigned dt_native_wait(struct dt_native *nat)
{
    unsigned deaths = 0;
    struct dt_msg msg;
    int status;
    unsigned i;

    for (;;) {
        if (nat->fd >= 0 && dt_wait_readable(nat) &&
            dt_full_io(nat->fd, &msg, sizeof(msg), false, false)) {
            return deaths;
        }
        /* The child died while running case `progress`. */
        dt_native_reap(nat, &status);
        i = nat->shared->progress;
        if (i < nat->n) {
            memset(&nat->results[i], 0, sizeof(nat->results[i]));
            nat->results[i].vector = DT_VEC_NATIVE_DIED;
            nat->results[i].signo = WIFSIGNALED(status) ? WTERMSIG(status)
                                                        : 0;
        }
        deaths++;
        if (!dt_native_spawn(nat)) {
            /* Cannot go on natively: fail the rest of the batch. */
            for (i++; i < nat->n; i++) {
                memset(&nat->results[i], 0, sizeof(nat->results[i]));
                nat->results[i].vector = DT_VEC_NATIVE_DIED;
                deaths++;
            }
            return deaths;
        }
        if (i + 1 >= nat->n) {
            return deaths;
        }
        dt_native_send(nat, i + 1);
    }
}
