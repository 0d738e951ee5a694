/*
 * format.c: the printf-style formatter (workloads/runtime/format.c) on
 * widths, flags, precision, every length modifier, the extremes of each
 * integer type, strings and characters, and rt_snprintf's truncation and
 * return value.  The formatter divides by 10 and 16 and walks va_lists,
 * so this is also a calling-convention test.
 */
#include <limits.h>

#include "rt.h"

static void integers(void)
{
    rt_printf("[%d] [%i] [%d] [%d]\n", 0, 42, -42, INT_MAX);
    rt_printf("[%d] [%u] [%x] [%X] [%o]\n", INT_MIN, UINT_MAX, UINT_MAX,
              0xabcdefu, 8u);
    rt_printf("[%ld] [%ld]\n", (long)INT64_MAX, (long)INT64_MIN);
    rt_printf("[%lld] [%lld]\n", (long long)INT64_MAX, (long long)INT64_MIN);
    rt_printf("[%lu] [%llu] [%lx] [%llx]\n", (unsigned long)UINT64_MAX,
              (unsigned long long)UINT64_MAX, (unsigned long)UINT64_MAX,
              0x8000000000000000ull);
    rt_printf("[%zu] [%zx] [%jd] [%td]\n", (size_t)123456789, (size_t)0xfff,
              (intmax_t)-99, (ptrdiff_t)-1);
    rt_printf("[%hd] [%hu] [%hhd] [%hhu] [%hx]\n", (short)-12345,
              (unsigned short)65535, (signed char)-128, (unsigned char)255,
              (unsigned short)0xbeef);
}

static void widths(void)
{
    rt_printf("[%5d] [%-5d] [%05d] [%+5d] [% 5d] [%+d] [% d]\n", 42, 42, 42, 42,
              42, 42, 42);
    rt_printf("[%5d] [%-5d] [%05d] [%+5d] [% 5d]\n", -42, -42, -42, -42, -42);
    rt_printf("[%3d] [%1d] [%0d] [%-1d]\n", 123456, 123456, 0, 0);
    rt_printf("[%8x] [%-8x] [%08x] [%#x] [%#08x] [%#X] [%#o]\n", 0xbeefu,
              0xbeefu, 0xbeefu, 0xbeefu, 0xbeefu, 0xbeefu, 0755u);
    rt_printf("[%020lld] [%-20lld|] [%+020lld]\n", (long long)INT64_MIN,
              (long long)INT64_MIN, (long long)INT64_MAX);
    rt_printf("[%016llx] [%16llx] [%-16llx|]\n", 0x1234ull, 0x1234ull,
              0x1234ull);
    rt_printf("[%*d] [%-*d] [%*d]\n", 6, 7, 6, 7, -6, 7);
}

static void precision(void)
{
    rt_printf("[%.3d] [%.0d] [%.0x] [%5.3d] [%-5.3d|]\n", 7, 0, 0u, -7, 7);
    rt_printf("[%.10lld] [%.2u] [%#.3o] [%#.0o]\n", -123ll, 12345u, 8u, 0u);
    rt_printf("[%.*d] [%.*d]\n", 4, 5, -1, 5);
}

static void strings_and_chars(void)
{
    const char *hello = "hello, world";
    rt_printf("[%s] [%20s] [%-20s] [%.5s] [%10.3s] [%-10.3s]\n", hello, hello,
              hello, hello, hello, hello);
    rt_printf("[%s] [%.0s] [%.*s]\n", "", hello, 4, hello);
    rt_printf("[%c] [%3c] [%-3c] [%c%c%c] [%%] [100%%]\n", 'x', 'y', 'z', 'a',
              'b', 'c');
    rt_printf("[%p] [%p] [%18p]\n", (void *)0x1000, (void *)NULL,
              (void *)0xffff800000000000ull);
}

static void snprintf_cases(void)
{
    char buf[16];
    int n;

    n = rt_snprintf(buf, sizeof(buf), "%d-%s", 12345, "abc");
    rt_printf("snprintf fits: \"%s\" returned %d\n", buf, n);
    n = rt_snprintf(buf, sizeof(buf), "%s", "this string is too long");
    rt_printf("snprintf truncates: \"%s\" returned %d\n", buf, n);
    n = rt_snprintf(buf, 1, "%d", 999);
    rt_printf("snprintf size 1: \"%s\" returned %d\n", buf, n);
    n = rt_snprintf(NULL, 0, "%lld", (long long)INT64_MIN);
    rt_printf("snprintf size 0 (length only): returned %d\n", n);
}

static void table(void)
{
    static const struct {
        const char *name;
        int64_t value;
    } rows[] = {
        {"zero", 0},        {"one", 1},         {"minus one", -1},
        {"byte", 255},      {"kibi", 1024},     {"big", 1234567890123ll},
        {"min", INT64_MIN}, {"max", INT64_MAX},
    };
    size_t i;
    int n;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        n = rt_printf("| %-10s | %21lld | %016llx | %#24llo |", rows[i].name,
                      (long long)rows[i].value,
                      (unsigned long long)rows[i].value,
                      (unsigned long long)rows[i].value);
        rt_printf(" %d\n", n);
    }
}

static void powers(void)
{
    uint64_t v = 1;
    int i;

    for (i = 0; i < 64; i += 9) {
        rt_printf("2^%-2d = %20llu = 0x%016llx = %llo\n", i,
                  (unsigned long long)(v << i), (unsigned long long)(v << i),
                  (unsigned long long)(v << i));
    }
}

/*
 * Formats gcc warns about but C defines (or glibc does): '0' with a
 * precision, a NULL string; and the formatter's own rule for what it does
 * not support (printed as is).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-overflow"
static void questionable(void)
{
    const char *null_string = NULL;

    rt_printf("[%05.3d] [%s] [%10s]\n", 7, null_string, null_string);
    rt_printf("unsupported conversion: [%q] [%5k] and a trailing %");
    rt_printf("\n");
}
#pragma GCC diagnostic pop

int main(void)
{
    integers();
    widths();
    precision();
    strings_and_chars();
    snprintf_cases();
    table();
    powers();
    questionable();
    return 0;
}
