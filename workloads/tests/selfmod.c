/*
 * selfmod.c (guest only): code that is written, run, rewritten and run
 * again, for simulators that cache decoded instructions.
 *
 * Cases: patching the immediate of `mov $imm, %eax; ret` in a data buffer
 * many times; replacing a whole function; one byte in the middle of a long
 * straight-line block that has already run; an instruction that straddles
 * a page boundary, patched only on its second page; a small JIT (Horner's
 * rule as imul/add sequences) regenerating the same buffer; writing code
 * through one virtual alias of a frame and running it through another;
 * and patching an instruction of the running function itself, once with
 * the jump the SDM recommends after a code write and once immediately
 * ahead of the store, which P6 and later processors also handle (SDM 3A
 * §11.6: a write that hits a prefetched instruction invalidates it).
 */
#include "rt.h"

#define PAGE 4096
#define ALIAS 0x40000000ull
#define NOPS 200

static uint8_t code_buf[3 * PAGE] __attribute__((aligned(PAGE)));

typedef uint64_t (*code0_fn)(void);
typedef uint64_t (*code2_fn)(uint64_t a, uint64_t b);

uint32_t patch_after_jump(uint32_t value);
uint32_t patch_next(uint32_t value);

__asm__(".pushsection .text\n"
        /* Store into the mov's immediate, jump, then run the mov. */
        "patch_after_jump:\n"
        "    movl %edi, patch_after_jump_imm(%rip)\n"
        "    jmp 1f\n"
        "1:  .byte 0xb8\n" /* mov $imm32, %eax */
        "patch_after_jump_imm:\n"
        "    .long 0x11111111\n"
        "    ret\n"
        /* Store into the very next instruction. */
        "patch_next:\n"
        "    movl %edi, patch_next_imm(%rip)\n"
        "    .byte 0xb8\n"
        "patch_next_imm:\n"
        "    .long 0x22222222\n"
        "    ret\n"
        ".popsection\n");

static void emit_mov_eax_ret(uint8_t *p, uint32_t imm)
{
    p[0] = 0xb8;
    memcpy(p + 1, &imm, 4);
    p[5] = 0xc3;
}

static code0_fn as_code0(const uint8_t *p)
{
    return (code0_fn)(uintptr_t)p;
}

static void report(const char *what, bool ok)
{
    rt_printf("%-44s %s\n", what, ok ? "ok" : "FAILED");
}

static void immediate_patches(void)
{
    unsigned i, good = 0;

    for (i = 0; i < 64; i++) {
        uint32_t v = i * 0x01010101u ^ 0xa5a5a5a5u;

        emit_mov_eax_ret(code_buf, v);
        if (as_code0(code_buf)() == v) {
            good++;
        }
    }
    rt_printf("patched immediate, 64 runs: %u right\n", good);
    /* Patch one byte of the immediate only. */
    code_buf[1] = 0x42;
    report("one byte of the immediate", (as_code0(code_buf)() & 0xff) == 0x42);
}

static void function_replacement(void)
{
    /* lea (%rdi,%rsi), %rax; ret */
    static const uint8_t add_code[] = {0x48, 0x8d, 0x04, 0x37, 0xc3};
    /* mov %rdi, %rax; imul %rsi, %rax; ret */
    static const uint8_t mul_code[] = {0x48, 0x89, 0xf8, 0x48,
                                       0x0f, 0xaf, 0xc6, 0xc3};
    code2_fn f = (code2_fn)(uintptr_t)code_buf;
    uint64_t a, b;

    memcpy(code_buf, add_code, sizeof(add_code));
    a = f(3, 4);
    memcpy(code_buf, mul_code, sizeof(mul_code));
    b = f(3, 4);
    rt_printf("replaced function: add gives %llu, then mul gives %llu\n",
              (unsigned long long)a, (unsigned long long)b);
}

static void block_middle(void)
{
    uint64_t before, after;
    unsigned i;

    /* xor %eax,%eax; NOPS x add $1,%eax; ret */
    code_buf[0] = 0x31;
    code_buf[1] = 0xc0;
    for (i = 0; i < NOPS; i++) {
        code_buf[2 + 3 * i] = 0x83;
        code_buf[3 + 3 * i] = 0xc0;
        code_buf[4 + 3 * i] = 0x01;
    }
    code_buf[2 + 3 * NOPS] = 0xc3;
    before = as_code0(code_buf)();
    code_buf[4 + 3 * (NOPS / 2)] = 0x65; /* the middle add now adds 101 */
    after = as_code0(code_buf)();
    rt_printf("straight-line block of %d adds: %llu, after patching the "
              "middle one %llu\n",
              NOPS, (unsigned long long)before, (unsigned long long)after);
}

static void page_straddle(void)
{
    /* mov $imm32, %eax with opcode and 2 immediate bytes on page 0. */
    uint8_t *p = code_buf + PAGE - 3;
    uint64_t first, second;

    emit_mov_eax_ret(p, 0x12345678u);
    first = as_code0(p)();
    code_buf[PAGE] = 0xcd; /* immediate bytes 2 and 3: second page */
    code_buf[PAGE + 1] = 0xab;
    second = as_code0(p)();
    rt_printf("instruction across a page boundary: 0x%llx, after patching "
              "the second page 0x%llx\n",
              (unsigned long long)first, (unsigned long long)second);
}

/* Emits f(x) = sum coef[k] x^k by Horner's rule; returns the length. */
static size_t jit_polynomial(uint8_t *p, const int32_t *coef, int degree)
{
    size_t n = 0;
    int k;

    /* mov $coef[degree], %rax (sign-extended imm32) */
    p[n++] = 0x48;
    p[n++] = 0xc7;
    p[n++] = 0xc0;
    memcpy(p + n, &coef[degree], 4);
    n += 4;
    for (k = degree - 1; k >= 0; k--) {
        /* imul %rdi, %rax */
        p[n++] = 0x48;
        p[n++] = 0x0f;
        p[n++] = 0xaf;
        p[n++] = 0xc7;
        /* add $coef[k], %rax */
        p[n++] = 0x48;
        p[n++] = 0x05;
        memcpy(p + n, &coef[k], 4);
        n += 4;
    }
    p[n++] = 0xc3;
    return n;
}

static void jit(void)
{
    int32_t coef[24];
    uint64_t h = 0;
    unsigned bad = 0;
    int degree, k;
    uint64_t x;

    for (k = 0; k < 24; k++) {
        coef[k] = (int32_t)(k * 7919) - 40000;
    }
    for (degree = 0; degree < 24; degree++) {
        code2_fn f = (code2_fn)(uintptr_t)code_buf;

        jit_polynomial(code_buf, coef, degree);
        for (x = 0; x < 5; x++) {
            uint64_t want = (uint64_t)(int64_t)coef[degree];
            uint64_t got = f(x, 0);

            for (k = degree - 1; k >= 0; k--) {
                want = want * x + (uint64_t)(int64_t)coef[k];
            }
            if (got != want) {
                bad++;
            }
            h = (h ^ got) * 0x100000001b3ull;
        }
    }
    rt_printf("jit: 24 polynomials x 5 points, %u wrong, hash %016llx\n", bad,
              (unsigned long long)h);
}

static void alias(void)
{
    uint8_t *page = code_buf + 2 * PAGE;
    uint8_t *via_alias = (uint8_t *)(uintptr_t)ALIAS;
    uint64_t a, b, c;

    if (rt_map_4k(ALIAS, (uintptr_t)page, RT_PTE_W) != 0) {
        report("map an alias", false);
        return;
    }
    emit_mov_eax_ret(page, 1111);
    a = as_code0(page)();
    emit_mov_eax_ret(via_alias, 2222); /* write through the alias */
    b = as_code0(page)();              /* run through the identity map */
    emit_mov_eax_ret(page, 3333);      /* write through the identity map */
    c = as_code0(via_alias)();         /* run through the alias */
    rt_printf("aliases: run %llu; written via alias, run direct %llu; "
              "written direct, run via alias %llu\n",
              (unsigned long long)a, (unsigned long long)b,
              (unsigned long long)c);
}

static void running_function(void)
{
    uint32_t a = patch_after_jump(0xaaaa0001u);
    uint32_t b = patch_after_jump(0xaaaa0002u);
    uint32_t c = patch_next(0xbbbb0001u);
    uint32_t d = patch_next(0xbbbb0002u);

    rt_printf("patching the running function, with a jump: %08x %08x\n", a, b);
    rt_printf("patching the very next instruction:         %08x %08x\n", c, d);
}

int main(void)
{
    immediate_patches();
    function_replacement();
    block_middle();
    page_straddle();
    jit();
    alias();
    running_function();
    return 0;
}
