/*
 * funcptr.c: indirect calls: tables of function pointers, callbacks with
 * context pointers, "objects" with operation tables (a hand-made vtable),
 * a state machine whose states are functions, and functions returning
 * functions.  Pointers pass through volatile storage so even -O3 keeps
 * the calls indirect.
 */
#include "rt.h"

typedef int64_t (*binary_op_fn)(int64_t a, int64_t b);

static int64_t op_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t op_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t op_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

static int64_t op_xor(int64_t a, int64_t b)
{
    return a ^ b;
}

static int64_t op_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t op_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t op_shl(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a << (b & 63));
}

static int64_t op_div(int64_t a, int64_t b)
{
    return b == 0 ? 0 : a / b;
}

static const struct {
    const char *name;
    binary_op_fn fn;
} ops[] = {
    {"add", op_add}, {"sub", op_sub}, {"mul", op_mul}, {"xor", op_xor},
    {"min", op_min}, {"max", op_max}, {"shl", op_shl}, {"div", op_div},
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

/* Callbacks with a context. */
typedef void (*visit_fn)(int64_t value, void *ctx);

static void for_each(const int64_t *a, size_t n, visit_fn visit, void *ctx)
{
    size_t i;

    for (i = 0; i < n; i++) {
        visit(a[i], ctx);
    }
}

struct stats {
    int64_t sum;
    int64_t min, max;
    unsigned count;
};

static void visit_stats(int64_t value, void *ctx)
{
    struct stats *s = ctx;

    if (s->count == 0 || value < s->min) {
        s->min = value;
    }
    if (s->count == 0 || value > s->max) {
        s->max = value;
    }
    s->sum += value;
    s->count++;
}

static void visit_hash(int64_t value, void *ctx)
{
    uint64_t *h = ctx;

    *h = (*h ^ (uint64_t)value) * 0x100000001b3ull;
}

/* Shapes with an operations table. */
struct shape;

struct shape_ops {
    const char *kind;
    int64_t (*area2)(const struct shape *s); /* twice the area */
    int64_t (*perimeter_sq)(const struct shape *s);
    void (*scale)(struct shape *s, int64_t k);
};

struct shape {
    const struct shape_ops *ops;
    int64_t a, b, c; /* meaning depends on the kind */
};

static int64_t rect_area2(const struct shape *s)
{
    return 2 * s->a * s->b;
}

static int64_t rect_perimeter_sq(const struct shape *s)
{
    return (2 * (s->a + s->b)) * (2 * (s->a + s->b));
}

static int64_t tri_area2(const struct shape *s)
{
    /* Right triangle with legs a and b. */
    return s->a * s->b;
}

static int64_t tri_perimeter_sq(const struct shape *s)
{
    return (s->a + s->b + s->c) * (s->a + s->b + s->c);
}

static void scale_all(struct shape *s, int64_t k)
{
    s->a *= k;
    s->b *= k;
    s->c *= k;
}

static const struct shape_ops rect_ops = {"rect", rect_area2, rect_perimeter_sq,
                                          scale_all};
static const struct shape_ops tri_ops = {"triangle", tri_area2,
                                         tri_perimeter_sq, scale_all};

/* A state machine: each state returns the next one. */
struct machine;
typedef struct state_ret (*state_fn)(struct machine *m, char c);
struct state_ret {
    state_fn next;
};

struct machine {
    unsigned words, numbers, idents;
    int64_t number_sum, current;
};

static struct state_ret st_space(struct machine *m, char c);
static struct state_ret st_number(struct machine *m, char c);
static struct state_ret st_ident(struct machine *m, char c);

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static struct state_ret st_space(struct machine *m, char c)
{
    struct state_ret r = {st_space};

    if (is_digit(c)) {
        m->words++;
        m->numbers++;
        m->current = c - '0';
        r.next = st_number;
    } else if (is_alpha(c)) {
        m->words++;
        m->idents++;
        r.next = st_ident;
    }
    return r;
}

static struct state_ret st_number(struct machine *m, char c)
{
    struct state_ret r = {st_number};

    if (is_digit(c)) {
        m->current = m->current * 10 + (c - '0');
    } else {
        m->number_sum += m->current;
        r = st_space(m, c);
        if (r.next == st_space && is_alpha(c)) {
            r.next = st_ident;
        }
    }
    return r;
}

static struct state_ret st_ident(struct machine *m, char c)
{
    struct state_ret r = {st_ident};

    if (!is_alpha(c) && !is_digit(c)) {
        r = st_space(m, c);
    }
    return r;
}

/* Functions returning functions. */
typedef int (*unary_fn)(int);

static int twice(int x)
{
    return 2 * x;
}

static int square(int x)
{
    return x * x;
}

static int negate(int x)
{
    return -x;
}

static unary_fn pick(int which)
{
    static const unary_fn table[] = {twice, square, negate};

    return table[which % 3];
}

static int apply_n(unary_fn f, int n, int x)
{
    while (n-- > 0) {
        x = f(x);
    }
    return x;
}

int main(void)
{
    static const int64_t values[] = {
        0, 1, -1, 7, -13, 100, 12345, -987654321, INT64_MAX, INT64_MIN};
    static const char text[] =
        "let x1 = 42 + 17 * y; loop 3 times: z9 = 100 - 5 _tmp 8\n";
    binary_op_fn volatile fn_slot;
    struct shape shapes[4];
    struct machine m = {0};
    struct stats st = {0};
    state_fn state = st_space;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i, j, k;

    for (k = 0; k < N_OPS; k++) {
        uint64_t acc = 0;

        fn_slot = ops[k].fn;
        for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            for (j = 0; j < sizeof(values) / sizeof(values[0]); j++) {
                if (fn_slot == op_div && values[i] == INT64_MIN &&
                    values[j] == -1) {
                    continue;
                }
                acc = acc * 31 + (uint64_t)fn_slot(values[i], values[j]);
            }
        }
        rt_printf("op %-3s: %016llx  %s(7, 3) = %lld\n", ops[k].name,
                  (unsigned long long)acc, ops[k].name,
                  (long long)ops[k].fn(7, 3));
    }

    for_each(values, sizeof(values) / sizeof(values[0]) - 2, visit_stats, &st);
    for_each(values, sizeof(values) / sizeof(values[0]), visit_hash, &h);
    rt_printf("stats: count %u sum %lld min %lld max %lld; hash %016llx\n",
              st.count, (long long)st.sum, (long long)st.min, (long long)st.max,
              (unsigned long long)h);

    shapes[0] = (struct shape){&rect_ops, 3, 4, 0};
    shapes[1] = (struct shape){&tri_ops, 3, 4, 5};
    shapes[2] = (struct shape){&rect_ops, 10, 1, 0};
    shapes[3] = (struct shape){&tri_ops, 5, 12, 13};
    for (k = 1; k <= 3; k++) {
        for (i = 0; i < 4; i++) {
            const struct shape_ops *volatile o = shapes[i].ops;

            rt_printf("scale %zu %-8s area*2 %6lld perimeter^2 %6lld\n", k,
                      o->kind, (long long)o->area2(&shapes[i]),
                      (long long)o->perimeter_sq(&shapes[i]));
            o->scale(&shapes[i], (int64_t)k + 1);
        }
    }

    for (i = 0; i < sizeof(text); i++) {
        state = state(&m, text[i]).next;
    }
    rt_printf("lexer: words %u numbers %u idents %u number sum %lld\n", m.words,
              m.numbers, m.idents, (long long)m.number_sum);

    for (i = 0; i < 6; i++) {
        unary_fn volatile f = pick((int)i);

        rt_printf("pick(%zu) applied 3 times to 3: %d\n", i, apply_n(f, 3, 3));
    }
    return 0;
}
