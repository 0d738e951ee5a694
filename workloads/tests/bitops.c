/*
 * bitops.c: bit manipulation and 128-bit arithmetic.
 *
 * Builtins (popcount, clz, ctz, ffs, parity, bswap) are checked against
 * plain loops; rotates (which gcc turns into rol/ror), bit-field extract
 * and insert, sign extension, and __int128 multiply, divide, modulo and
 * shifts (libgcc's __udivti3/__divti3/__umodti3 and shld/shrd).  At
 * -mgeneral-regs-only without -mpopcnt, popcount is a libgcc call and ctz
 * may be `rep bsf` (tzcnt), so this runs those paths.
 */
#include "rt.h"

static volatile uint64_t inputs[] = {
    0,
    1,
    2,
    3,
    0x80,
    0xff,
    0x100,
    0x8000,
    0xffff,
    0x10000,
    0x80000000ull,
    0xffffffffull,
    0x100000000ull,
    0x123456789abcdef0ull,
    0x8000000000000000ull,
    0xffffffffffffffffull,
    0x5555555555555555ull,
    0xaaaaaaaaaaaaaaaaull,
    0x0123456789abcdefull,
    0xfedcba9876543210ull,
    0x00ff00ff00ff00ffull,
    0x7fffffffffffffffull,
    0xdeadbeefcafef00dull,
};
#define N_INPUTS (sizeof(inputs) / sizeof(inputs[0]))

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static int slow_popcount(uint64_t x)
{
    int n = 0;

    while (x != 0) {
        n += (int)(x & 1);
        x >>= 1;
    }
    return n;
}

static int slow_clz(uint64_t x)
{
    int n = 0;

    while (n < 64 && !(x & (1ull << 63))) {
        x <<= 1;
        n++;
    }
    return n;
}

static int slow_ctz(uint64_t x)
{
    int n = 0;

    while (n < 64 && !(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
}

static uint64_t slow_bswap64(uint64_t x)
{
    uint64_t r = 0;
    int i;

    for (i = 0; i < 8; i++) {
        r = r << 8 | ((x >> (8 * i)) & 0xff);
    }
    return r;
}

static uint64_t rotl64(uint64_t x, unsigned n)
{
    return (x << (n & 63)) | (x >> ((64 - n) & 63));
}

static uint64_t rotr64(uint64_t x, unsigned n)
{
    return (x >> (n & 63)) | (x << ((64 - n) & 63));
}

static uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << (n & 31)) | (x >> ((32 - n) & 31));
}

static uint16_t rotl16(uint16_t x, unsigned n)
{
    n &= 15;
    return (uint16_t)((x << n) | (x >> ((16 - n) & 15)));
}

static uint8_t rotr8(uint8_t x, unsigned n)
{
    n &= 7;
    return (uint8_t)((x >> n) | (x << ((8 - n) & 7)));
}

static uint64_t extract(uint64_t x, unsigned lsb, unsigned width)
{
    return (x >> lsb) & ((width == 64) ? ~0ull : ((1ull << width) - 1));
}

static uint64_t insert(uint64_t x, uint64_t v, unsigned lsb, unsigned width)
{
    uint64_t mask = ((width == 64) ? ~0ull : ((1ull << width) - 1)) << lsb;

    return (x & ~mask) | ((v << lsb) & mask);
}

static int64_t sign_extend(uint64_t x, unsigned bits)
{
    unsigned shift = 64 - bits;

    return (int64_t)(x << shift) >> shift;
}

static void builtins(void)
{
    unsigned bad = 0;
    uint64_t h = 0;
    size_t i;

    for (i = 0; i < N_INPUTS; i++) {
        uint64_t x = inputs[i];
        uint32_t lo = (uint32_t)x;

        if (__builtin_popcountll(x) != slow_popcount(x) ||
            __builtin_popcount(lo) != slow_popcount(lo) ||
            __builtin_parityll(x) != (slow_popcount(x) & 1) ||
            __builtin_bswap64(x) != slow_bswap64(x) ||
            __builtin_bswap32(lo) != (uint32_t)(slow_bswap64(lo) >> 32) ||
            __builtin_bswap16((uint16_t)x) !=
                (uint16_t)(slow_bswap64((uint16_t)x) >> 48)) {
            bad++;
        }
        if (x != 0 && (__builtin_clzll(x) != slow_clz(x) ||
                       __builtin_ctzll(x) != slow_ctz(x))) {
            bad++;
        }
        if (lo != 0 && (__builtin_clz(lo) != slow_clz(lo) - 32 ||
                        __builtin_ctz(lo) != slow_ctz(lo))) {
            bad++;
        }
        if (__builtin_ffsll((long long)x) != (x ? slow_ctz(x) + 1 : 0)) {
            bad++;
        }
        h = mix(h, (uint64_t)__builtin_popcountll(x));
        h = mix(h, __builtin_bswap64(x));
        h = mix(h, x ? (uint64_t)__builtin_clzll(x) : 64);
        h = mix(h, x ? (uint64_t)__builtin_ctzll(x) : 64);
        if (i % 4 == 0) {
            rt_printf("x=%016llx popcount %2d clz %2d ctz %2d bswap %016llx\n",
                      (unsigned long long)x, __builtin_popcountll(x),
                      x ? __builtin_clzll(x) : 64, x ? __builtin_ctzll(x) : 64,
                      (unsigned long long)__builtin_bswap64(x));
        }
    }
    rt_printf("builtins: %u disagreements, hash %016llx\n", bad,
              (unsigned long long)h);
}

static void rotates(void)
{
    static volatile unsigned counts[] = {0, 1, 4, 7, 8, 13, 31, 32, 33, 63};
    uint64_t h = 0;
    unsigned bad = 0;
    size_t i, j;

    for (i = 0; i < N_INPUTS; i++) {
        for (j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
            uint64_t x = inputs[i];
            unsigned n = counts[j];

            if (rotr64(rotl64(x, n), n) != x) {
                bad++;
            }
            h = mix(h, rotl64(x, n));
            h = mix(h, rotr64(x, n));
            h = mix(h, rotl32((uint32_t)x, n));
            h = mix(h, rotl16((uint16_t)x, n));
            h = mix(h, rotr8((uint8_t)x, n));
        }
    }
    rt_printf("rotates: %u bad round trips, hash %016llx\n", bad,
              (unsigned long long)h);
    rt_printf("rotl64(0x8000000000000001, 1) = %016llx, "
              "rotr32-ish rotl32(1, 31) = %08x\n",
              (unsigned long long)rotl64(0x8000000000000001ull, 1),
              rotl32(1, 31));
}

static void fields(void)
{
    uint64_t h = 0;
    size_t i;
    unsigned lsb, width;

    for (i = 0; i < N_INPUTS; i++) {
        for (lsb = 0; lsb < 64; lsb += 5) {
            for (width = 1; width + lsb <= 64; width += 7) {
                uint64_t x = inputs[i];

                h = mix(h, extract(x, lsb, width));
                h = mix(h, insert(x, ~x, lsb, width));
                h = mix(h, (uint64_t)sign_extend(x, width));
            }
        }
    }
    rt_printf("fields: hash %016llx; sign_extend(0x80, 8) = %lld, "
              "extract(0xabcd, 4, 8) = 0x%llx\n",
              (unsigned long long)h, (long long)sign_extend(0x80, 8),
              (unsigned long long)extract(0xabcd, 4, 8));
}

static void print_u128(const char *label, unsigned __int128 v)
{
    char digits[40];
    int n = 0;

    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    rt_printf("%s", label);
    while (n > 0) {
        rt_putc(digits[--n]);
    }
    rt_printf("\n");
}

static void wide(void)
{
    volatile uint64_t a = 0xfedcba9876543210ull, b = 0x0123456789abcdefull;
    volatile uint64_t small = 1000000007;
    unsigned __int128 p = (unsigned __int128)a * b;
    unsigned __int128 q, r, all_ones = ~(unsigned __int128)0;
    __int128 s = -(__int128)p / 3;
    uint64_t h = 0;
    unsigned i;

    rt_printf("a*b = %016llx%016llx\n", (unsigned long long)(p >> 64),
              (unsigned long long)p);
    q = p / small;
    r = p % small;
    rt_printf("a*b / 1000000007 = %016llx%016llx rem %llu, check %s\n",
              (unsigned long long)(q >> 64), (unsigned long long)q,
              (unsigned long long)r, q * small + r == p ? "ok" : "BAD");
    q = p / b;
    rt_printf("a*b / b == a: %s\n", q == a ? "ok" : "BAD");
    rt_printf("-(a*b)/3 = %016llx%016llx, %% 7 = %lld\n",
              (unsigned long long)((unsigned __int128)s >> 64),
              (unsigned long long)s, (long long)(s % 7));
    print_u128("2^128-1 = ", all_ones);
    print_u128("a*b = ", p);
    for (i = 0; i < 128; i += 9) {
        h = mix(h, (uint64_t)(p << i));
        h = mix(h, (uint64_t)((p >> i) >> 32));
        h = mix(h, (uint64_t)(s >> i));
    }
    rt_printf("128-bit shifts: hash %016llx\n", (unsigned long long)h);
}

int main(void)
{
    builtins();
    rotates();
    fields();
    wide();
    return 0;
}
