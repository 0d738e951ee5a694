/*
 * arith64.c: 64-bit integer arithmetic and multi-word bignums.
 *
 * Part one runs mul, div, mod and shifts over edge-case operands (0, 1,
 * -1, powers of two, INT64_MIN/MAX, and 8/16/32-bit sizes) read through
 * volatile so the CPU, not the compiler, computes them.  Part two is a
 * bignum library on 32-bit limbs (add, subtract, multiply, divide by a
 * word, Knuth's long division) printing factorials in hex and decimal,
 * 2^256, Fibonacci numbers, and quotients checked by multiplying back.
 */
#include "rt.h"

/* ------------------------------------------------------------------ */
/* Part one: machine arithmetic.                                        */
/* ------------------------------------------------------------------ */

static volatile int64_t signed_values[] = {
    0,
    1,
    -1,
    2,
    -2,
    3,
    7,
    -7,
    10,
    255,
    -256,
    65535,
    1000000007,
    INT32_MAX,
    INT32_MIN,
    (int64_t)INT32_MAX + 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
    0x123456789abcdefll,
    -0x123456789abcdefll,
};
#define N_VALUES (sizeof(signed_values) / sizeof(signed_values[0]))

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull + (h >> 29);
}

static void arith_signed(void)
{
    uint64_t h_mul = 0, h_div = 0, h_mod = 0;
    unsigned skipped = 0;
    size_t i, j;

    for (i = 0; i < N_VALUES; i++) {
        for (j = 0; j < N_VALUES; j++) {
            int64_t a = signed_values[i];
            int64_t b = signed_values[j];

            h_mul = mix(h_mul, (uint64_t)a * (uint64_t)b);
            if (b == 0 || (a == INT64_MIN && b == -1)) {
                skipped++;
                continue;
            }
            h_div = mix(h_div, (uint64_t)(a / b));
            h_mod = mix(h_mod, (uint64_t)(a % b));
        }
    }
    rt_printf("int64:  mul %016llx div %016llx mod %016llx (skipped %u)\n",
              (unsigned long long)h_mul, (unsigned long long)h_div,
              (unsigned long long)h_mod, skipped);
}

static void arith_unsigned(void)
{
    uint64_t h_mul = 0, h_div = 0, h_mod = 0, h_hi = 0;
    size_t i, j;

    for (i = 0; i < N_VALUES; i++) {
        for (j = 0; j < N_VALUES; j++) {
            uint64_t a = (uint64_t)signed_values[i];
            uint64_t b = (uint64_t)signed_values[j];
            unsigned __int128 wide = (unsigned __int128)a * b;

            h_mul = mix(h_mul, a * b);
            h_hi = mix(h_hi, (uint64_t)(wide >> 64));
            if (b == 0) {
                continue;
            }
            h_div = mix(h_div, a / b);
            h_mod = mix(h_mod, a % b);
        }
    }
    rt_printf("uint64: mul %016llx div %016llx mod %016llx mulhi %016llx\n",
              (unsigned long long)h_mul, (unsigned long long)h_div,
              (unsigned long long)h_mod, (unsigned long long)h_hi);
}

static void arith_narrow(void)
{
    uint64_t h32 = 0, h16 = 0, h8 = 0;
    size_t i, j;

    for (i = 0; i < N_VALUES; i++) {
        for (j = 0; j < N_VALUES; j++) {
            int32_t a32 = (int32_t)signed_values[i];
            int32_t b32 = (int32_t)signed_values[j];
            uint32_t ua32 = (uint32_t)a32, ub32 = (uint32_t)b32;
            int16_t a16 = (int16_t)a32, b16 = (int16_t)b32;
            int8_t a8 = (int8_t)a32, b8 = (int8_t)b32;

            h32 = mix(h32, (uint32_t)(ua32 * ub32));
            if (b32 != 0 && !(a32 == INT32_MIN && b32 == -1)) {
                h32 = mix(h32, (uint32_t)(a32 / b32));
                h32 = mix(h32, (uint32_t)(a32 % b32));
            }
            if (ub32 != 0) {
                h32 = mix(h32, ua32 / ub32);
                h32 = mix(h32, ua32 % ub32);
            }
            h16 = mix(h16, (uint16_t)(a16 * b16));
            if (b16 != 0) {
                h16 = mix(h16, (uint16_t)(a16 / b16));
                h16 = mix(h16, (uint16_t)(a16 % b16));
                h16 = mix(h16, (uint16_t)((uint16_t)a16 / (uint16_t)b16));
            }
            h8 = mix(h8, (uint8_t)(a8 * b8));
            if (b8 != 0) {
                h8 = mix(h8, (uint8_t)(a8 / b8));
                h8 = mix(h8, (uint8_t)(a8 % b8));
                h8 = mix(h8, (uint8_t)((uint8_t)a8 % (uint8_t)b8));
            }
        }
    }
    rt_printf("narrow: 32 %016llx 16 %016llx 8 %016llx\n",
              (unsigned long long)h32, (unsigned long long)h16,
              (unsigned long long)h8);
}

static void arith_shifts(void)
{
    static volatile unsigned counts[] = {0, 1, 7, 8, 31, 32, 33, 63};
    uint64_t h = 0;
    size_t i, j;

    for (i = 0; i < N_VALUES; i++) {
        for (j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
            int64_t a = signed_values[i];
            unsigned n = counts[j];

            h = mix(h, (uint64_t)a << n);
            h = mix(h, (uint64_t)a >> n);
            h = mix(h, (uint64_t)(a >> n));
            h = mix(h, (uint32_t)a << (n & 31));
            h = mix(h, (uint64_t)((int32_t)a >> (n & 31)));
        }
    }
    rt_printf("shifts: %016llx\n", (unsigned long long)h);
}

static void arith_examples(void)
{
    volatile int64_t m = INT64_MIN, minus7 = -7, seven = 7, two = 2;
    volatile uint64_t big = UINT64_MAX, ten = 10;

    rt_printf("INT64_MIN / 2 = %lld, INT64_MIN %% 7 = %lld\n",
              (long long)(m / two), (long long)(m % seven));
    rt_printf("-7 / 2 = %lld, -7 %% 2 = %lld, 7 / -2 = %lld, 7 %% -2 = %lld\n",
              (long long)(minus7 / two), (long long)(minus7 % two),
              (long long)(seven / -two), (long long)(seven % -two));
    rt_printf("UINT64_MAX / 10 = %llu rem %llu\n",
              (unsigned long long)(big / ten), (unsigned long long)(big % ten));
    rt_printf("INT64_MIN >> 63 = %lld, (uint64)INT64_MIN >> 63 = %llu\n",
              (long long)(m >> 63), (unsigned long long)((uint64_t)m >> 63));
    rt_printf("-1 * INT64_MIN wraps to %lld\n",
              (long long)((uint64_t)m * (uint64_t)-1));
}

/* ------------------------------------------------------------------ */
/* Part two: bignums.                                                   */
/* ------------------------------------------------------------------ */

#define BIG_LIMBS 64 /* 2048 bits */

struct big {
    uint32_t limb[BIG_LIMBS]; /* little-endian */
    int n;                    /* limbs in use; 0 means zero */
};

static void big_trim(struct big *a)
{
    while (a->n > 0 && a->limb[a->n - 1] == 0) {
        a->n--;
    }
}

static void big_set(struct big *a, uint64_t v)
{
    memset(a, 0, sizeof(*a));
    a->limb[0] = (uint32_t)v;
    a->limb[1] = (uint32_t)(v >> 32);
    a->n = 2;
    big_trim(a);
}

static int big_cmp(const struct big *a, const struct big *b)
{
    int i;

    if (a->n != b->n) {
        return a->n < b->n ? -1 : 1;
    }
    for (i = a->n - 1; i >= 0; i--) {
        if (a->limb[i] != b->limb[i]) {
            return a->limb[i] < b->limb[i] ? -1 : 1;
        }
    }
    return 0;
}

static void big_add(struct big *r, const struct big *a, const struct big *b)
{
    uint64_t carry = 0;
    int n = a->n > b->n ? a->n : b->n;
    int i;

    for (i = 0; i < n; i++) {
        carry +=
            (uint64_t)(i < a->n ? a->limb[i] : 0) + (i < b->n ? b->limb[i] : 0);
        r->limb[i] = (uint32_t)carry;
        carry >>= 32;
    }
    if (carry != 0 && n < BIG_LIMBS) {
        r->limb[n++] = (uint32_t)carry;
    }
    r->n = n;
    big_trim(r);
}

/* r = a - b, requires a >= b. */
static void big_sub(struct big *r, const struct big *a, const struct big *b)
{
    int64_t borrow = 0;
    int i;

    for (i = 0; i < a->n; i++) {
        int64_t d = (int64_t)a->limb[i] - (i < b->n ? b->limb[i] : 0) + borrow;

        r->limb[i] = (uint32_t)d;
        borrow = d < 0 ? -1 : 0;
    }
    r->n = a->n;
    big_trim(r);
}

static void big_mul_word(struct big *r, const struct big *a, uint32_t w)
{
    uint64_t carry = 0;
    int i;

    for (i = 0; i < a->n; i++) {
        carry += (uint64_t)a->limb[i] * w;
        r->limb[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->n = a->n;
    if (carry != 0 && r->n < BIG_LIMBS) {
        r->limb[r->n++] = (uint32_t)carry;
    }
    big_trim(r);
}

static void big_mul(struct big *r, const struct big *a, const struct big *b)
{
    struct big t;
    int i, j;

    memset(&t, 0, sizeof(t));
    for (i = 0; i < a->n; i++) {
        uint64_t carry = 0;

        for (j = 0; j < b->n && i + j < BIG_LIMBS; j++) {
            carry += (uint64_t)a->limb[i] * b->limb[j] + t.limb[i + j];
            t.limb[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        if (i + j < BIG_LIMBS) {
            t.limb[i + j] = (uint32_t)carry;
        }
    }
    t.n = a->n + b->n < BIG_LIMBS ? a->n + b->n : BIG_LIMBS;
    big_trim(&t);
    *r = t;
}

/* q = a / w; returns the remainder. */
static uint32_t big_div_word(struct big *q, const struct big *a, uint32_t w)
{
    uint64_t rem = 0;
    int i;

    for (i = a->n - 1; i >= 0; i--) {
        rem = rem << 32 | a->limb[i];
        q->limb[i] = (uint32_t)(rem / w);
        rem %= w;
    }
    q->n = a->n;
    big_trim(q);
    return (uint32_t)rem;
}

/*
 * q = a / b, r = a % b for b != 0: Knuth, TAOCP vol. 2, §4.3.1,
 * algorithm D, with 32-bit digits.
 */
static void big_divmod(struct big *q, struct big *r, const struct big *a,
                       const struct big *b)
{
    uint32_t un[BIG_LIMBS + 1], vn[BIG_LIMBS];
    int m = a->n, n = b->n;
    int shift, i, j;

    if (big_cmp(a, b) < 0) {
        big_set(q, 0);
        *r = *a;
        return;
    }
    if (n == 1) {
        big_set(r, big_div_word(q, a, b->limb[0]));
        return;
    }
    shift = __builtin_clz(b->limb[n - 1]);
    for (i = n - 1; i > 0; i--) {
        vn[i] = b->limb[i] << shift |
                (uint32_t)((uint64_t)b->limb[i - 1] >> (32 - shift));
    }
    vn[0] = b->limb[0] << shift;
    un[m] = (uint32_t)((uint64_t)a->limb[m - 1] >> (32 - shift));
    for (i = m - 1; i > 0; i--) {
        un[i] = a->limb[i] << shift |
                (uint32_t)((uint64_t)a->limb[i - 1] >> (32 - shift));
    }
    un[0] = a->limb[0] << shift;

    memset(q, 0, sizeof(*q));
    for (j = m - n; j >= 0; j--) {
        uint64_t num = (uint64_t)un[j + n] << 32 | un[j + n - 1];
        uint64_t qhat = num / vn[n - 1];
        uint64_t rhat = num % vn[n - 1];
        int64_t borrow, t;
        uint64_t p;

        while (qhat >= (1ull << 32) ||
               qhat * vn[n - 2] > (rhat << 32 | un[j + n - 2])) {
            qhat--;
            rhat += vn[n - 1];
            if (rhat >= (1ull << 32)) {
                break;
            }
        }
        borrow = 0;
        for (i = 0; i < n; i++) {
            p = qhat * vn[i];
            t = (int64_t)un[i + j] - borrow - (int64_t)(p & 0xffffffffu);
            un[i + j] = (uint32_t)t;
            borrow = (int64_t)(p >> 32) - (t >> 32);
        }
        t = (int64_t)un[j + n] - borrow;
        un[j + n] = (uint32_t)t;
        if (t < 0) {
            /* qhat was one too large: add the divisor back. */
            uint64_t carry = 0;

            qhat--;
            for (i = 0; i < n; i++) {
                carry += (uint64_t)un[i + j] + vn[i];
                un[i + j] = (uint32_t)carry;
                carry >>= 32;
            }
            un[j + n] += (uint32_t)carry;
        }
        q->limb[j] = (uint32_t)qhat;
    }
    q->n = m - n + 1;
    big_trim(q);
    memset(r, 0, sizeof(*r));
    for (i = 0; i < n; i++) {
        r->limb[i] =
            un[i] >> shift | (uint32_t)((uint64_t)un[i + 1] << (32 - shift));
    }
    r->n = n;
    big_trim(r);
}

static void big_print_hex(const struct big *a)
{
    int i;

    if (a->n == 0) {
        rt_printf("0x0");
        return;
    }
    rt_printf("0x%x", a->limb[a->n - 1]);
    for (i = a->n - 2; i >= 0; i--) {
        rt_printf("%08x", a->limb[i]);
    }
}

static void big_print_dec(const struct big *a)
{
    static uint32_t chunks[BIG_LIMBS * 2];
    struct big t = *a;
    int n = 0;

    if (t.n == 0) {
        rt_printf("0");
        return;
    }
    while (t.n > 0) {
        chunks[n++] = big_div_word(&t, &t, 1000000000u);
    }
    rt_printf("%u", chunks[--n]);
    while (n > 0) {
        rt_printf("%09u", chunks[--n]);
    }
}

static void bignums(void)
{
    static const int shown[] = {0, 1, 5, 10, 20, 21, 25, 30, 34, 35, 50, 100};
    static struct big fact[101];
    struct big a, b, q, r, t, pow256, fib300;
    int i, k = 0;

    big_set(&fact[0], 1);
    for (i = 1; i <= 100; i++) {
        big_mul_word(&fact[i], &fact[i - 1], (uint32_t)i);
    }
    for (i = 0; i <= 100; i++) {
        if (i != shown[k]) {
            continue;
        }
        k++;
        rt_printf("%d! = ", i);
        big_print_dec(&fact[i]);
        rt_printf("\n  = ");
        big_print_hex(&fact[i]);
        rt_printf("\n");
    }

    big_set(&pow256, 1);
    for (i = 0; i < 256; i++) {
        big_add(&pow256, &pow256, &pow256);
    }
    rt_printf("2^256 = ");
    big_print_dec(&pow256);
    rt_printf("\n");

    big_set(&a, 0);
    big_set(&b, 1);
    for (i = 0; i < 300; i++) {
        big_add(&t, &a, &b);
        a = b;
        b = t;
    }
    fib300 = a;
    rt_printf("fib(300) = ");
    big_print_dec(&fib300);
    rt_printf("\n");

    /* 100! / 98! = 9900, and 100! / 50! checked by multiplying back. */
    big_divmod(&q, &r, &fact[100], &fact[98]);
    rt_printf("100!/98! = ");
    big_print_dec(&q);
    rt_printf(" rem ");
    big_print_dec(&r);
    rt_printf("\n");
    big_divmod(&q, &r, &fact[100], &fact[50]);
    big_mul(&t, &q, &fact[50]);
    big_add(&t, &t, &r);
    rt_printf("100!/50! = ");
    big_print_dec(&q);
    rt_printf("\n  rem ");
    big_print_dec(&r);
    rt_printf(" check %s\n", big_cmp(&t, &fact[100]) == 0 ? "ok" : "BAD");

    /* (2^256 - 1) / fib(300): a remainder that is not zero. */
    big_set(&a, 1);
    big_sub(&t, &pow256, &a);
    big_divmod(&q, &r, &t, &fib300);
    rt_printf("(2^256-1)/fib(300) = ");
    big_print_dec(&q);
    rt_printf(" rem ");
    big_print_dec(&r);
    big_mul(&b, &q, &fib300);
    big_add(&b, &b, &r);
    rt_printf(" check %s\n", big_cmp(&b, &t) == 0 ? "ok" : "BAD");

    /* Squares: (50!)^2 / 50! = 50!. */
    big_mul(&t, &fact[50], &fact[50]);
    big_divmod(&q, &r, &t, &fact[50]);
    rt_printf("(50!)^2/50! %s, rem zero %s\n",
              big_cmp(&q, &fact[50]) == 0 ? "ok" : "BAD",
              r.n == 0 ? "ok" : "BAD");
}

int main(void)
{
    arith_signed();
    arith_unsigned();
    arith_narrow();
    arith_shifts();
    arith_examples();
    bignums();
    return 0;
}
