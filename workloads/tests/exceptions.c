/*
 * exceptions.c (guest only): faults and traps caught by registered
 * handlers that resume the program.
 *
 * Each case is a small assembly routine with a labelled faulting
 * instruction ("site") and a label to resume at.  One handler, registered
 * for every vector used, looks the faulting RIP up in the table of cases,
 * records the vector and error code, sets RAX to a marker and RIP to the
 * resume label, and returns, so the stub's iretq resumes there.  Traps
 * (int3, int n) are expected with RIP already past the instruction.
 *
 * Cases: #DE (div by zero, idiv overflow, 8-bit quotient overflow), #UD
 * (ud2, lock on nop, an opcode invalid in 64-bit mode), #BP (int3, int $3),
 * int $4, #GP (non-canonical load with registers and flags checked
 * afterwards, int beyond the IDT limit), an exception raised inside a
 * handler (nested), and a stack overflow into an unmapped page, which the
 * CPU turns into #DF (#PF while delivering #PF) on the IST1 stack.
 */
#include "rt.h"

/* The RAX a handler leaves, so a case can tell it ran. */
#define MARKER 0xc0de

/* Where the overflow case points RSP: above RAM (16-64 MiB), unmapped. */
#define UNMAPPED_STACK 0x40001000

uint64_t case_div_zero(uint64_t dividend, uint64_t divisor);
uint64_t case_idiv_overflow(int64_t dividend, int64_t divisor);
uint64_t case_div8_overflow(void);
uint64_t case_ud2(void);
uint64_t case_lock_nop(void);
uint64_t case_invalid_64(void);
uint64_t case_int3(void);
uint64_t case_int_3(void);
uint64_t case_int_4(void);
uint64_t case_noncanonical(uint64_t address);
uint64_t case_int_beyond_idt(void);
uint64_t case_stack_overflow(uint64_t bad_rsp);

extern const char site_div_zero[], resume_div_zero[];
extern const char site_idiv[], resume_idiv[];
extern const char site_div8[], resume_div8[];
extern const char site_ud2[], resume_ud2[];
extern const char site_lock_nop[], resume_lock_nop[];
extern const char site_invalid_64[], resume_invalid_64[];
extern const char after_int3[], after_int_3[], after_int_4[];
extern const char site_noncanonical[], resume_noncanonical[];
extern const char site_int_beyond_idt[], resume_int_beyond_idt[];
extern const char site_nested_ud[], resume_nested_ud[];
extern const char resume_stack_overflow[];
extern uint64_t saved_rsp;

__asm__(".pushsection .text\n"
        "case_div_zero:\n"
        "    mov %rdi, %rax\n"
        "    xor %edx, %edx\n"
        "site_div_zero:\n"
        "    div %rsi\n"
        "resume_div_zero:\n"
        "    ret\n"

        "case_idiv_overflow:\n"
        "    mov %rdi, %rax\n"
        "    cqo\n"
        "site_idiv:\n"
        "    idiv %rsi\n"
        "resume_idiv:\n"
        "    ret\n"

        "case_div8_overflow:\n"
        "    mov $0x1000, %eax\n"
        "    mov $0x10, %cl\n"
        "site_div8:\n"
        "    div %cl\n"
        "resume_div8:\n"
        "    ret\n"

        "case_ud2:\n"
        "    xor %eax, %eax\n"
        "site_ud2:\n"
        "    ud2\n"
        "resume_ud2:\n"
        "    ret\n"

        "case_lock_nop:\n"
        "    xor %eax, %eax\n"
        "site_lock_nop:\n"
        "    .byte 0xf0, 0x90\n" /* lock nop: #UD, nop is not lockable */
        "resume_lock_nop:\n"
        "    ret\n"

        "case_invalid_64:\n"
        "    xor %eax, %eax\n"
        "site_invalid_64:\n"
        "    .byte 0x37\n" /* aaa: invalid in 64-bit mode */
        "resume_invalid_64:\n"
        "    ret\n"

        "case_int3:\n"
        "    xor %eax, %eax\n"
        "    int3\n"
        "after_int3:\n"
        "    ret\n"

        "case_int_3:\n"
        "    xor %eax, %eax\n"
        "    .byte 0xcd, 0x03\n" /* int $3, the two-byte form */
        "after_int_3:\n"
        "    ret\n"

        "case_int_4:\n"
        "    xor %eax, %eax\n"
        "    int $4\n"
        "after_int_4:\n"
        "    ret\n"

        /*
         * r8-r11 and CF must survive the #GP and the iretq: with them
         * intact RAX comes back as the handler's marker (r8 + r11 - r9 -
         * r10 is 0), with CF lost it comes back 0.
         */
        "case_noncanonical:\n"
        "    movabs $0x0808080808080808, %r8\n"
        "    movabs $0x0909090909090909, %r9\n"
        "    movabs $0x1010101010101010, %r10\n"
        "    movabs $0x1111111111111111, %r11\n"
        "    stc\n"
        "site_noncanonical:\n"
        "    mov (%rdi), %rax\n"
        "resume_noncanonical:\n"
        "    jnc 1f\n"
        "    add %r8, %rax\n"
        "    add %r11, %rax\n"
        "    sub %r9, %rax\n"
        "    sub %r10, %rax\n"
        "    ret\n"
        "1:  xor %eax, %eax\n"
        "    ret\n"

        "case_int_beyond_idt:\n"
        "    xor %eax, %eax\n"
        "site_int_beyond_idt:\n"
        "    int $0x40\n"
        "resume_int_beyond_idt:\n"
        "    ret\n"

        "nested_ud:\n"
        "    xor %eax, %eax\n"
        "site_nested_ud:\n"
        "    ud2\n"
        "resume_nested_ud:\n"
        "    ret\n"

        /* A push to an unmapped stack: #PF, whose delivery faults: #DF. */
        "case_stack_overflow:\n"
        "    mov %rsp, saved_rsp(%rip)\n"
        "    mov %rdi, %rsp\n"
        "    push %rax\n"
        "resume_stack_overflow:\n"
        "    mov saved_rsp(%rip), %rsp\n"
        "    ret\n"
        ".popsection\n");

uint64_t nested_ud(void);

uint64_t saved_rsp;

/* One faulting instruction and where to resume after it. */
struct fault_case {
    const char *site;
    const char *resume;
};

static const struct fault_case fault_cases[] = {
    {site_div_zero, resume_div_zero},
    {site_idiv, resume_idiv},
    {site_div8, resume_div8},
    {site_ud2, resume_ud2},
    {site_lock_nop, resume_lock_nop},
    {site_invalid_64, resume_invalid_64},
    {site_noncanonical, resume_noncanonical},
    {site_int_beyond_idt, resume_int_beyond_idt},
    {site_nested_ud, resume_nested_ud},
};

/* What the last exception was, as the handler saw it. */
struct last_trap {
    uint64_t vector;
    uint64_t error_code;
    uint64_t cs;
    bool at_site;   /* faulting RIP was a known site */
    bool past_trap; /* trap RIP was right after the trapping instruction */
    bool on_ist1;   /* the handler ran on the IST1 stack */
    bool nested_ok; /* a fault inside the #BP handler was handled */
};

static struct last_trap last;
static unsigned handler_calls;
static bool nest_in_breakpoint;

static void handler(struct rt_trap_frame *frame)
{
    uintptr_t here = (uintptr_t)frame;
    size_t i;

    handler_calls++;
    last.vector = frame->vector;
    last.error_code = frame->error_code;
    last.cs = frame->cs;
    last.at_site = false;
    last.past_trap = frame->rip == (uintptr_t)after_int3 ||
                     frame->rip == (uintptr_t)after_int_3 ||
                     frame->rip == (uintptr_t)after_int_4;
    last.on_ist1 = here >= rt_ist1_stack_bottom() && here < rt_ist1_stack_top();
    for (i = 0; i < sizeof(fault_cases) / sizeof(fault_cases[0]); i++) {
        if (frame->rip == (uintptr_t)fault_cases[i].site) {
            last.at_site = true;
            frame->rip = (uintptr_t)fault_cases[i].resume;
        }
    }
    if (frame->vector == RT_VEC_DF) {
        frame->rsp = saved_rsp;
        frame->rip = (uintptr_t)resume_stack_overflow;
    }
    if (frame->vector == RT_VEC_BP && nest_in_breakpoint) {
        struct last_trap outer = last;

        nest_in_breakpoint = false;
        outer.nested_ok =
            nested_ud() == MARKER && last.vector == RT_VEC_UD && last.at_site;
        last = outer;
    }
    frame->rax = MARKER;
}

static void report(const char *what, uint64_t result)
{
    rt_printf("%-34s vector %2llu error 0x%03llx cs 0x%llx %s%s%s%s\n", what,
              (unsigned long long)last.vector,
              (unsigned long long)last.error_code, (unsigned long long)last.cs,
              last.at_site               ? "at site"
              : last.past_trap           ? "after insn"
              : last.vector == RT_VEC_DF ? "abort (saved rip undefined)"
                                         : "rip UNKNOWN",
              result == MARKER ? ", resumed" : ", NOT RESUMED",
              last.on_ist1 ? ", on IST1" : "",
              last.nested_ok ? ", nested #UD ok" : "");
    memset(&last, 0, sizeof(last));
}

int main(void)
{
    static const unsigned vectors[] = {RT_VEC_DE, RT_VEC_BP, RT_VEC_OF,
                                       RT_VEC_UD, RT_VEC_GP, RT_VEC_DF};
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        rt_set_handler(vectors[i], handler);
    }

    report("#DE div by zero", case_div_zero(100, 0));
    report("#DE idiv INT64_MIN / -1", case_idiv_overflow(INT64_MIN, -1));
    report("#DE div 0x1000 / 0x10 (8-bit)", case_div8_overflow());
    report("#UD ud2", case_ud2());
    report("#UD lock nop", case_lock_nop());
    report("#UD aaa in 64-bit mode", case_invalid_64());
    report("#BP int3", case_int3());
    report("#BP int $3", case_int_3());
    report("int $4 (#OF vector)", case_int_4());

    report("#GP load non-canonical, regs kept",
           case_noncanonical(0x8000000000000000ull));
    report("#GP int $0x40 beyond IDT limit", case_int_beyond_idt());

    nest_in_breakpoint = true;
    report("#BP with a #UD inside the handler", case_int3());

    report("#DF stack overflow (#PF in #PF)",
           case_stack_overflow(UNMAPPED_STACK));

    rt_printf("handler calls: %u\n", handler_calls);
    return 0;
}
