/*
 * int128.c: the guest's 128-bit division helpers, replacing libgcc's.
 *
 * gcc calls __udivti3, __umodti3, __divti3, __modti3 (and libgcc's own
 * __udivmodti4) for unsigned __int128 / and %.  Debian's libgcc builds
 * __umodti3 and __udivmodti4 with SSE moves, which the guest CPU does not
 * have, so the runtime defines the family here from 64-bit operations
 * and the `divq` instruction; librt comes before -lgcc on the link line,
 * so these win.  Nothing here may use 128-bit / or %, which would call
 * back into this file.  Method: Hacker's Delight, 2nd ed., §9-5
 * ("unsigned doubleword division from long division"), scaled to 128/64.
 */
#include "rt-internal.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

u128 __udivmodti4(u128 n, u128 d, u128 *rem);
u128 __udivti3(u128 n, u128 d);
u128 __umodti3(u128 n, u128 d);
s128 __divti3(s128 n, s128 d);
s128 __modti3(s128 n, s128 d);

/* (hi:lo) / d for hi < d, so the quotient fits in 64 bits. */
static uint64_t int128_divq(uint64_t hi, uint64_t lo, uint64_t d,
                            uint64_t *rem /* out */)
{
    uint64_t q, r;

    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
    *rem = r;
    return q;
}

u128 __udivmodti4(u128 n, u128 d, u128 *rem)
{
    uint64_t n_hi = (uint64_t)(n >> 64), n_lo = (uint64_t)n;
    uint64_t d_hi = (uint64_t)(d >> 64), d_lo = (uint64_t)d;
    uint64_t q_hi = 0, q_lo, r, d1, dummy;
    u128 q, n1;
    int s;

    if (d_hi == 0) {
        if (n_hi >= d_lo) {
            /* Two steps: the high word first (d_lo != 0 here). */
            q_hi = n_hi / d_lo;
            n_hi = n_hi % d_lo;
        }
        q_lo = int128_divq(n_hi, n_lo, d_lo, &r);
        if (rem != NULL) {
            *rem = r;
        }
        return (u128)q_hi << 64 | q_lo;
    }
    /*
     * d >= 2^64, so the quotient fits in 64 bits.  Divide n/2 by the top
     * 64 bits of d shifted left until its top bit is set; the estimate is
     * then too small by at most one.
     */
    s = __builtin_clzll(d_hi);
    d1 = (uint64_t)((d << s) >> 64);
    n1 = n >> 1;
    q_lo = int128_divq((uint64_t)(n1 >> 64), (uint64_t)n1, d1, &dummy);
    q = ((u128)q_lo << s) >> 63;
    if (q != 0) {
        q--;
    }
    if (n - q * d >= d) {
        q++;
    }
    if (rem != NULL) {
        *rem = n - q * d;
    }
    return q;
}

u128 __udivti3(u128 n, u128 d)
{
    return __udivmodti4(n, d, NULL);
}

u128 __umodti3(u128 n, u128 d)
{
    u128 r;

    __udivmodti4(n, d, &r);
    return r;
}

/* Quotients truncate toward zero; the remainder takes n's sign. */
s128 __divti3(s128 n, s128 d)
{
    u128 un = n < 0 ? -(u128)n : (u128)n;
    u128 ud = d < 0 ? -(u128)d : (u128)d;
    u128 q = __udivmodti4(un, ud, NULL);

    return (n < 0) != (d < 0) ? -(s128)q : (s128)q;
}

s128 __modti3(s128 n, s128 d)
{
    u128 un = n < 0 ? -(u128)n : (u128)n;
    u128 ud = d < 0 ? -(u128)d : (u128)d;
    u128 r;

    __udivmodti4(un, ud, &r);
    return n < 0 ? -(s128)r : (s128)r;
}
