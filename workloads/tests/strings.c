/*
 * strings.c: the string and memory functions and algorithms built on
 * them: memcpy/memmove/memset/memcmp over every small size and alignment,
 * large overlapping memmoves in both directions, strlen/strcmp/strncmp/
 * strchr, three substring searches (naive, Knuth-Morris-Pratt,
 * Boyer-Moore-Horspool) that must agree, and in-place edits (reverse,
 * case mapping, tokenising, integer parsing).  Comparison results are
 * printed as signs only, since C fixes nothing more.
 */
#include "rt.h"

#define BIG_BUFFER 16384
#define TEXT_SIZE 8000

static uint8_t big_a[BIG_BUFFER];
static uint8_t big_b[BIG_BUFFER];
static char text[TEXT_SIZE + 1];

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;

    while (n-- > 0) {
        h = (h ^ *b++) * 0x100000001b3ull;
    }
    return h;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* Every size 0..40 at every source and destination alignment 0..7. */
static void small_copies(void)
{
    static uint8_t src[64], dst[64], ref[64];
    uint64_t h = 0;
    unsigned bad = 0;
    size_t n, sa, da, i;

    fill_pattern(src, sizeof(src), 1);
    for (n = 0; n <= 40; n++) {
        for (sa = 0; sa < 8; sa++) {
            for (da = 0; da < 8; da++) {
                memset(dst, 0xee, sizeof(dst));
                memcpy(dst + da, src + sa, n);
                memcpy(ref, dst, sizeof(ref));
                for (i = 0; i < sizeof(dst); i++) {
                    uint8_t want =
                        i >= da && i < da + n ? src[sa + i - da] : 0xee;
                    if (dst[i] != want) {
                        bad++;
                        break;
                    }
                }
                memset(dst + da, (int)(n + sa), n);
                h = (h * 31) ^ fnv(dst, 56) ^ ref[da];
            }
        }
    }
    rt_printf("small memcpy/memset: %u bad, hash %016llx\n", bad,
              (unsigned long long)h);
}

/* memmove within one buffer: every shift -40..40 over sizes up to 100. */
static void small_moves(void)
{
    static uint8_t buf[256], ref[256];
    uint64_t h = 0;
    unsigned bad = 0;
    int shift;
    size_t n, i;

    for (shift = -40; shift <= 40; shift += 3) {
        for (n = 0; n <= 100; n += 11) {
            size_t from = 80, to = (size_t)(80 + shift);

            fill_pattern(buf, sizeof(buf), (uint32_t)(shift + 100));
            memcpy(ref, buf, sizeof(ref));
            memmove(buf + to, buf + from, n);
            for (i = 0; i < n; i++) {
                if (buf[to + i] != ref[from + i]) {
                    bad++;
                    break;
                }
            }
            h = (h * 31) ^ fnv(buf, sizeof(buf));
        }
    }
    rt_printf("small memmove: %u bad, hash %016llx\n", bad,
              (unsigned long long)h);
}

static void large_moves(void)
{
    static const size_t shifts[] = {1, 7, 8, 4095, 4096, 4097, 12000};
    size_t i, k;
    unsigned bad = 0;
    uint64_t h = 0;

    for (i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
        size_t s = shifts[i];
        size_t n = BIG_BUFFER - s;

        /* Forward overlap: dst below src. */
        fill_pattern(big_a, BIG_BUFFER, (uint32_t)s);
        memcpy(big_b, big_a, BIG_BUFFER);
        memmove(big_a, big_a + s, n);
        for (k = 0; k < n; k += 97) {
            if (big_a[k] != big_b[k + s]) {
                bad++;
                break;
            }
        }
        h = (h * 31) ^ fnv(big_a, BIG_BUFFER);

        /* Backward overlap: dst above src. */
        fill_pattern(big_a, BIG_BUFFER, (uint32_t)s + 1);
        memcpy(big_b, big_a, BIG_BUFFER);
        memmove(big_a + s, big_a, n);
        for (k = 0; k < n; k += 97) {
            if (big_a[k + s] != big_b[k]) {
                bad++;
                break;
            }
        }
        h = (h * 31) ^ fnv(big_a, BIG_BUFFER);
    }
    memset(big_a, 0x5a, BIG_BUFFER);
    memset(big_b, 0x5a, BIG_BUFFER);
    big_b[BIG_BUFFER - 1] = 0x5b;
    rt_printf("large memmove: %u bad, hash %016llx; memcmp equal %d, "
              "last byte %d, first %d\n",
              bad, (unsigned long long)h,
              sign(memcmp(big_a, big_b, BIG_BUFFER - 1)),
              sign(memcmp(big_a, big_b, BIG_BUFFER)),
              sign(memcmp(big_b + BIG_BUFFER - 1, big_a, 1)));
}

static void c_strings(void)
{
    static const char *const words[] = {
        "", "a", "ab", "abc", "abd", "abcd", "b", "B", "\xff", "zzz",
    };
    char buf[64];
    unsigned h = 0;
    size_t i, j;
    const char *hit;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        for (j = 0; j < sizeof(words) / sizeof(words[0]); j++) {
            h = h * 3 + (unsigned)(sign(strcmp(words[i], words[j])) + 1);
            h = h * 3 + (unsigned)(sign(strncmp(words[i], words[j], 2)) + 1);
        }
    }
    rt_printf("strcmp/strncmp signs: %08x, strcmp(\"abc\", \"abd\") %d, "
              "(\"\\xff\", \"a\") %d\n",
              h, sign(strcmp("abc", "abd")), sign(strcmp("\xff", "a")));
    memcpy(buf, "the quick brown fox", 20);
    hit = strchr(buf, 'q');
    rt_printf("strlen %zu, strchr 'q' at %d, 'z' %s, NUL at %d\n", strlen(buf),
              (int)(hit - buf), strchr(buf, 'z') ? "found" : "absent",
              (int)(strchr(buf, '\0') - buf));
}

static size_t search_naive(const char *hay, size_t n, const char *pat, size_t m,
                           unsigned *count)
{
    size_t i, first = (size_t)-1;

    *count = 0;
    for (i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(hay + i, pat, m) == 0) {
            if (*count == 0) {
                first = i;
            }
            (*count)++;
        }
    }
    return first;
}

static size_t search_kmp(const char *hay, size_t n, const char *pat, size_t m,
                         unsigned *count)
{
    size_t fail[64];
    size_t i, k, first = (size_t)-1;

    fail[0] = 0;
    for (i = 1, k = 0; i < m; i++) {
        while (k > 0 && pat[i] != pat[k]) {
            k = fail[k - 1];
        }
        if (pat[i] == pat[k]) {
            k++;
        }
        fail[i] = k;
    }
    *count = 0;
    for (i = 0, k = 0; i < n; i++) {
        while (k > 0 && hay[i] != pat[k]) {
            k = fail[k - 1];
        }
        if (hay[i] == pat[k]) {
            k++;
        }
        if (k == m) {
            if (*count == 0) {
                first = i + 1 - m;
            }
            (*count)++;
            k = fail[k - 1];
        }
    }
    return first;
}

static size_t search_horspool(const char *hay, size_t n, const char *pat,
                              size_t m, unsigned *count)
{
    size_t skip[256];
    size_t i, first = (size_t)-1;

    for (i = 0; i < 256; i++) {
        skip[i] = m;
    }
    for (i = 0; i + 1 < m; i++) {
        skip[(unsigned char)pat[i]] = m - 1 - i;
    }
    *count = 0;
    i = 0;
    while (m <= n && i <= n - m) {
        if (memcmp(hay + i, pat, m) == 0) {
            if (*count == 0) {
                first = i;
            }
            (*count)++;
        }
        i += skip[(unsigned char)hay[i + m - 1]];
    }
    return first;
}

static void searching(void)
{
    static const char *const patterns[] = {
        "a",       "ab",    "abc", "abab",         "aaaa",
        "cabbage", "bacab", "zzz", "abcabcabcabc", "the end",
    };
    uint32_t seed = 7;
    size_t i;

    for (i = 0; i < TEXT_SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        text[i] = (char)('a' + (seed >> 16) % 3);
    }
    memcpy(text + TEXT_SIZE - 7, "the end", 7);
    text[TEXT_SIZE] = '\0';
    for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        size_t m = strlen(patterns[i]);
        unsigned c1, c2, c3;
        size_t f1 = search_naive(text, TEXT_SIZE, patterns[i], m, &c1);
        size_t f2 = search_kmp(text, TEXT_SIZE, patterns[i], m, &c2);
        size_t f3 = search_horspool(text, TEXT_SIZE, patterns[i], m, &c3);

        rt_printf("search %-14s first %6lld count %5u %s\n", patterns[i],
                  f1 == (size_t)-1 ? -1ll : (long long)f1, c1,
                  f1 == f2 && f2 == f3 && c1 == c2 && c2 == c3 ? "agree"
                                                               : "DISAGREE");
    }
}

static long parse_long(const char **p)
{
    long v = 0;
    int neg = 0;

    while (**p == ' ') {
        (*p)++;
    }
    if (**p == '-' || **p == '+') {
        neg = **p == '-';
        (*p)++;
    }
    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return neg ? -v : v;
}

static void editing(void)
{
    char line[] = "Hello, World: 12 apples, -7 pears; +300 plums";
    char copy[sizeof(line)];
    const char *p;
    long sum = 0;
    size_t i, n = strlen(line);
    int tokens = 0;
    char *tok;

    memcpy(copy, line, sizeof(line));
    for (i = 0; i < n / 2; i++) {
        char t = copy[i];

        copy[i] = copy[n - 1 - i];
        copy[n - 1 - i] = t;
    }
    rt_printf("reversed: %s\n", copy);
    for (i = 0; i < n; i++) {
        char c = line[i];

        copy[i] = c >= 'a' && c <= 'z'   ? (char)(c - 32)
                  : c >= 'A' && c <= 'Z' ? (char)(c + 32)
                                         : c;
    }
    rt_printf("swapcase: %s\n", copy);
    for (p = line; *p != '\0'; p++) {
        if ((*p >= '0' && *p <= '9') ||
            ((*p == '-' || *p == '+') && p[1] >= '0' && p[1] <= '9')) {
            sum += parse_long(&p);
            p--;
        }
    }
    rt_printf("numbers sum: %ld\n", sum);
    memcpy(copy, line, sizeof(line));
    for (tok = copy; tok != NULL;) {
        char *end = strchr(tok, ',');
        char *semi = strchr(tok, ';');

        if (semi != NULL && (end == NULL || semi < end)) {
            end = semi;
        }
        if (end != NULL) {
            *end = '\0';
        }
        rt_printf("token %d: [%s]\n", tokens++, tok);
        tok = end != NULL ? end + 1 : NULL;
    }
}

int main(void)
{
    small_copies();
    small_moves();
    large_moves();
    c_strings();
    searching();
    editing();
    return 0;
}
