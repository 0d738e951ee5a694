/*
 * recursion.c: deep and branchy recursion: Ackermann, Towers of Hanoi
 * (moves counted and checked against 2^n - 1), naive Fibonacci, mutual
 * recursion, N-queens by backtracking, permutations, and a recursive-
 * descent evaluator of integer expressions.  Call/return, the stack and
 * callee-saved registers are what this tests.
 */
#include "rt.h"

static uint64_t call_count;

static uint64_t ackermann(uint64_t m, uint64_t n)
{
    call_count++;
    if (m == 0) {
        return n + 1;
    }
    if (n == 0) {
        return ackermann(m - 1, 1);
    }
    return ackermann(m - 1, ackermann(m, n - 1));
}

/* Moves n discs from peg a to peg c; pegs are bit masks of discs. */
static void hanoi(int n, uint32_t *from, uint32_t *to, uint32_t *via,
                  uint64_t *moves, bool *legal)
{
    uint32_t disc;

    if (n == 0) {
        return;
    }
    hanoi(n - 1, from, via, to, moves, legal);
    disc = 1u << (n - 1);
    /* The disc must be on top of 'from' and smaller than 'to's top. */
    if (!(*from & disc) || (*from & (disc - 1)) || (*to & (disc - 1))) {
        *legal = false;
    }
    *from &= ~disc;
    *to |= disc;
    (*moves)++;
    hanoi(n - 1, via, to, from, moves, legal);
}

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static bool is_odd(unsigned n);

static bool is_even(unsigned n)
{
    return n == 0 ? true : is_odd(n - 1);
}

static bool is_odd(unsigned n)
{
    return n == 0 ? false : is_even(n - 1);
}

static int queens(int n, int row, uint32_t cols, uint32_t diag1, uint32_t diag2)
{
    uint32_t free_cols;
    int count = 0;

    if (row == n) {
        return 1;
    }
    free_cols = ~(cols | diag1 | diag2) & ((1u << n) - 1);
    while (free_cols != 0) {
        uint32_t bit = free_cols & -free_cols;

        free_cols &= free_cols - 1;
        count += queens(n, row + 1, cols | bit, (diag1 | bit) << 1,
                        (diag2 | bit) >> 1);
    }
    return count;
}

/* Generates all permutations of a[k..n-1]; hashes each in order. */
static void permute(char *a, int k, int n, uint64_t *hash, unsigned *count)
{
    int i;

    if (k == n) {
        for (i = 0; i < n; i++) {
            *hash = *hash * 31 + (unsigned char)a[i];
        }
        (*count)++;
        return;
    }
    for (i = k; i < n; i++) {
        char t = a[k];

        a[k] = a[i];
        a[i] = t;
        permute(a, k + 1, n, hash, count);
        a[i] = a[k];
        a[k] = t;
    }
}

/* A recursive-descent evaluator: expr := term (('+'|'-') term)*, etc. */
struct parser {
    const char *p;
    bool error;
};

static int64_t parse_expr(struct parser *ps);

static void skip_spaces(struct parser *ps)
{
    while (*ps->p == ' ') {
        ps->p++;
    }
}

static int64_t parse_primary(struct parser *ps)
{
    int64_t v = 0;

    skip_spaces(ps);
    if (*ps->p == '(') {
        ps->p++;
        v = parse_expr(ps);
        skip_spaces(ps);
        if (*ps->p == ')') {
            ps->p++;
        } else {
            ps->error = true;
        }
        return v;
    }
    if (*ps->p == '-') {
        ps->p++;
        return -parse_primary(ps);
    }
    if (*ps->p < '0' || *ps->p > '9') {
        ps->error = true;
        return 0;
    }
    while (*ps->p >= '0' && *ps->p <= '9') {
        v = v * 10 + (*ps->p++ - '0');
    }
    return v;
}

static int64_t parse_term(struct parser *ps)
{
    int64_t v = parse_primary(ps);

    for (;;) {
        char op;
        int64_t rhs;

        skip_spaces(ps);
        op = *ps->p;
        if (op != '*' && op != '/' && op != '%') {
            return v;
        }
        ps->p++;
        rhs = parse_primary(ps);
        if (op == '*') {
            v *= rhs;
        } else if (rhs == 0) {
            ps->error = true;
        } else if (op == '/') {
            v /= rhs;
        } else {
            v %= rhs;
        }
    }
}

static int64_t parse_expr(struct parser *ps)
{
    int64_t v = parse_term(ps);

    for (;;) {
        char op;

        skip_spaces(ps);
        op = *ps->p;
        if (op != '+' && op != '-') {
            return v;
        }
        ps->p++;
        if (op == '+') {
            v += parse_term(ps);
        } else {
            v -= parse_term(ps);
        }
    }
}

static void evaluate(const char *text)
{
    struct parser ps = {text, false};
    int64_t v = parse_expr(&ps);

    skip_spaces(&ps);
    if (ps.error || *ps.p != '\0') {
        rt_printf("  %s => error at offset %d\n", text, (int)(ps.p - text));
    } else {
        rt_printf("  %s => %lld\n", text, (long long)v);
    }
}

int main(void)
{
    static const char *const expressions[] = {
        "1 + 2 * 3",
        "(1 + 2) * 3",
        "100 / 7 % 5 - -3",
        "((((((((((42))))))))))",
        "2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2",
        "-(3 - 10) * (4 + 5) / 2",
        "1 / 0",
        "(1 + 2",
        "7 - 3 - 2 - 1",
    };
    uint64_t m, n, v, moves, hash;
    uint32_t pegs[3];
    unsigned count, i;
    char letters[8];
    bool legal;
    int d;

    for (m = 0; m <= 3; m++) {
        for (n = 0; n <= (m < 3 ? 6u : 5u); n++) {
            call_count = 0;
            v = ackermann(m, n);
            rt_printf("ackermann(%llu, %llu) = %llu (%llu calls)\n",
                      (unsigned long long)m, (unsigned long long)n,
                      (unsigned long long)v, (unsigned long long)call_count);
        }
    }

    for (d = 1; d <= 16; d += 3) {
        pegs[0] = (1u << d) - 1;
        pegs[1] = pegs[2] = 0;
        moves = 0;
        legal = true;
        hanoi(d, &pegs[0], &pegs[2], &pegs[1], &moves, &legal);
        rt_printf("hanoi(%2d): %6llu moves, expected %6llu, legal %d, "
                  "pegs %x/%x/%x\n",
                  d, (unsigned long long)moves,
                  (unsigned long long)((1ull << d) - 1), legal, pegs[0],
                  pegs[1], pegs[2]);
    }

    for (i = 0; i <= 24; i += 6) {
        rt_printf("fib(%u) = %u\n", i, fib(i));
    }
    rt_printf("is_even(1000) = %d, is_odd(777) = %d, is_even(3) = %d\n",
              is_even(1000), is_odd(777), is_even(3));

    for (d = 1; d <= 9; d++) {
        rt_printf("queens(%d) = %d\n", d, queens(d, 0, 0, 0, 0));
    }

    memcpy(letters, "abcdefg", 7);
    hash = 0;
    count = 0;
    permute(letters, 0, 7, &hash, &count);
    rt_printf("permutations of 7: %u, hash %016llx, after: %.7s\n", count,
              (unsigned long long)hash, letters);

    rt_printf("expressions:\n");
    for (i = 0; i < sizeof(expressions) / sizeof(expressions[0]); i++) {
        evaluate(expressions[i]);
    }
    return 0;
}
