/*
 * format.c: the printf-style formatter, one copy for guest and host.
 *
 * Both the guest console (console.c) and the host shim (host.c) print
 * through rt_vformat, so a portable program's two builds produce the same
 * bytes by construction; the formatter itself follows C11 §7.21.6.1 for
 * the conversions it supports, so its output also matches glibc's.  It
 * uses only integer arithmetic (the guest has no SSE or x87).
 */
#include "rt-internal.h"

/* One parsed conversion specification. */
struct fmt_spec {
    bool left;  /* '-' */
    bool plus;  /* '+' */
    bool space; /* ' ' */
    bool alt;   /* '#' */
    bool zero;  /* '0' */
    int width;  /* 0 when absent */
    int prec;   /* -1 when absent */
};

/* The length modifiers, in the order C11 lists them. */
enum fmt_length {
    FMT_LEN_NONE,
    FMT_LEN_HH,
    FMT_LEN_H,
    FMT_LEN_L,
    FMT_LEN_LL,
    FMT_LEN_J,
    FMT_LEN_Z,
    FMT_LEN_T,
};

/* Enough for a 64-bit value in octal (22 digits) and then some. */
#define FMT_DIGITS_MAX 24

/* Where the formatter's output goes, plus the running count. */
struct fmt_out {
    rt_emit_fn emit;
    void *ctx;
    int count;
};

static void out_char(struct fmt_out *out, int c)
{
    out->emit(c, out->ctx);
    out->count++;
}

static void out_repeat(struct fmt_out *out, int c, int n)
{
    while (n-- > 0) {
        out_char(out, c);
    }
}

static void out_bytes(struct fmt_out *out, const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        out_char(out, (unsigned char)s[i]);
    }
}

/*
 * Writes the digits of v in base into the end of buf (buf_end points one
 * past it) and returns how many were written (none for v == 0).
 */
static int fmt_digits(char *buf_end, uint64_t v, unsigned base, bool upper)
{
    const char *digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;

    while (v != 0) {
        *--buf_end = digit_chars[v % base];
        v /= base;
        n++;
    }
    return n;
}

/*
 * Prints one integer conversion: magnitude mag, sign from negative (signed
 * conversions only), with prefix (NULL or "0x"/"0X") before the digits.
 */
static void fmt_integer(struct fmt_out *out, const struct fmt_spec *spec,
                        uint64_t mag, bool negative, bool is_signed,
                        unsigned base, bool upper, const char *prefix)
{
    char digits[FMT_DIGITS_MAX];
    char sign[2];
    int ndigits;
    int nsign = 0;
    int nprefix = prefix ? (int)strlen(prefix) : 0;
    int prec_zeros = 0;
    int total;

    ndigits = fmt_digits(digits + FMT_DIGITS_MAX, mag, base, upper);
    if (ndigits == 0 && spec->prec != 0) {
        /* Zero prints as one digit unless the precision is 0. */
        digits[FMT_DIGITS_MAX - 1] = '0';
        ndigits = 1;
    }
    if (spec->prec > ndigits) {
        prec_zeros = spec->prec - ndigits;
    }
    if (base == 8 && spec->alt && prec_zeros == 0 &&
        (ndigits == 0 || digits[FMT_DIGITS_MAX - ndigits] != '0')) {
        /* '#' with 'o' makes the first digit a zero. */
        prec_zeros = 1;
    }
    if (is_signed) {
        if (negative) {
            sign[nsign++] = '-';
        } else if (spec->plus) {
            sign[nsign++] = '+';
        } else if (spec->space) {
            sign[nsign++] = ' ';
        }
    }
    total = nsign + nprefix + prec_zeros + ndigits;

    if (!spec->left && !(spec->zero && spec->prec < 0)) {
        out_repeat(out, ' ', spec->width - total);
    }
    out_bytes(out, sign, nsign);
    if (nprefix) {
        out_bytes(out, prefix, nprefix);
    }
    if (!spec->left && spec->zero && spec->prec < 0) {
        out_repeat(out, '0', spec->width - total);
    }
    out_repeat(out, '0', prec_zeros);
    out_bytes(out, digits + FMT_DIGITS_MAX - ndigits, ndigits);
    if (spec->left) {
        out_repeat(out, ' ', spec->width - total);
    }
}

/* Prints n bytes of s padded to the spec's width with spaces. */
static void fmt_padded(struct fmt_out *out, const struct fmt_spec *spec,
                       const char *s, int n)
{
    if (!spec->left) {
        out_repeat(out, ' ', spec->width - n);
    }
    out_bytes(out, s, n);
    if (spec->left) {
        out_repeat(out, ' ', spec->width - n);
    }
}

/* Fetches a signed argument of the given length, widened to 64 bits. */
static int64_t fmt_signed_arg(va_list *ap, enum fmt_length len)
{
    switch (len) {
    case FMT_LEN_HH:
        return (signed char)va_arg(*ap, int);
    case FMT_LEN_H:
        return (short)va_arg(*ap, int);
    case FMT_LEN_L:
        return va_arg(*ap, long);
    case FMT_LEN_LL:
        return va_arg(*ap, long long);
    case FMT_LEN_J:
        return va_arg(*ap, intmax_t);
    case FMT_LEN_Z:
        return (int64_t)va_arg(*ap, size_t);
    case FMT_LEN_T:
        return va_arg(*ap, ptrdiff_t);
    case FMT_LEN_NONE:
    default:
        return va_arg(*ap, int);
    }
}

/* Fetches an unsigned argument of the given length, widened to 64 bits. */
static uint64_t fmt_unsigned_arg(va_list *ap, enum fmt_length len)
{
    switch (len) {
    case FMT_LEN_HH:
        return (unsigned char)va_arg(*ap, unsigned int);
    case FMT_LEN_H:
        return (unsigned short)va_arg(*ap, unsigned int);
    case FMT_LEN_L:
        return va_arg(*ap, unsigned long);
    case FMT_LEN_LL:
        return va_arg(*ap, unsigned long long);
    case FMT_LEN_J:
        return va_arg(*ap, uintmax_t);
    case FMT_LEN_Z:
        return va_arg(*ap, size_t);
    case FMT_LEN_T:
        return (uint64_t)va_arg(*ap, ptrdiff_t);
    case FMT_LEN_NONE:
    default:
        return va_arg(*ap, unsigned int);
    }
}

/* Parses flags, width, precision and length; advances *fmtp past them. */
static enum fmt_length fmt_parse_spec(const char **fmtp, va_list *ap,
                                      struct fmt_spec *spec /* out */)
{
    const char *p = *fmtp;
    enum fmt_length len = FMT_LEN_NONE;

    memset(spec, 0, sizeof(*spec));
    spec->prec = -1;
    for (;; p++) {
        if (*p == '-') {
            spec->left = true;
        } else if (*p == '+') {
            spec->plus = true;
        } else if (*p == ' ') {
            spec->space = true;
        } else if (*p == '#') {
            spec->alt = true;
        } else if (*p == '0') {
            spec->zero = true;
        } else {
            break;
        }
    }
    if (*p == '*') {
        spec->width = va_arg(*ap, int);
        if (spec->width < 0) {
            spec->left = true;
            spec->width = -spec->width;
        }
        p++;
    } else {
        while (*p >= '0' && *p <= '9') {
            spec->width = spec->width * 10 + (*p++ - '0');
        }
    }
    if (*p == '.') {
        p++;
        spec->prec = 0;
        if (*p == '*') {
            spec->prec = va_arg(*ap, int);
            if (spec->prec < 0) {
                spec->prec = -1;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9') {
                spec->prec = spec->prec * 10 + (*p++ - '0');
            }
        }
    }
    switch (*p) {
    case 'h':
        p++;
        len = FMT_LEN_H;
        if (*p == 'h') {
            p++;
            len = FMT_LEN_HH;
        }
        break;
    case 'l':
        p++;
        len = FMT_LEN_L;
        if (*p == 'l') {
            p++;
            len = FMT_LEN_LL;
        }
        break;
    case 'j':
        p++;
        len = FMT_LEN_J;
        break;
    case 'z':
        p++;
        len = FMT_LEN_Z;
        break;
    case 't':
        p++;
        len = FMT_LEN_T;
        break;
    default:
        break;
    }
    *fmtp = p;
    return len;
}

/* Prints one %s conversion. */
static void fmt_string(struct fmt_out *out, const struct fmt_spec *spec,
                       const char *s)
{
    int n = 0;

    if (s == NULL) {
        s = "(null)";
    }
    while (s[n] != '\0' && (spec->prec < 0 || n < spec->prec)) {
        n++;
    }
    fmt_padded(out, spec, s, n);
}

int rt_vformat(rt_emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    struct fmt_out out = {emit, ctx, 0};
    struct fmt_spec spec;
    enum fmt_length len;
    va_list args;
    const char *start;
    int64_t sv;
    uint64_t uv;
    char c;

    va_copy(args, ap);
    while (*fmt != '\0') {
        if (*fmt != '%') {
            out_char(&out, (unsigned char)*fmt++);
            continue;
        }
        start = fmt++;
        len = fmt_parse_spec(&fmt, &args, &spec);
        switch (*fmt) {
        case 'd':
        case 'i':
            sv = fmt_signed_arg(&args, len);
            uv = sv < 0 ? -(uint64_t)sv : (uint64_t)sv;
            fmt_integer(&out, &spec, uv, sv < 0, true, 10, false, NULL);
            break;
        case 'u':
            uv = fmt_unsigned_arg(&args, len);
            fmt_integer(&out, &spec, uv, false, false, 10, false, NULL);
            break;
        case 'o':
            uv = fmt_unsigned_arg(&args, len);
            fmt_integer(&out, &spec, uv, false, false, 8, false, NULL);
            break;
        case 'x':
        case 'X':
            uv = fmt_unsigned_arg(&args, len);
            fmt_integer(&out, &spec, uv, false, false, 16, *fmt == 'X',
                        spec.alt && uv != 0 ? (*fmt == 'X' ? "0X" : "0x")
                                            : NULL);
            break;
        case 'p':
            uv = (uintptr_t)va_arg(args, void *);
            if (uv == 0) {
                spec.prec = -1;
                fmt_string(&out, &spec, "(nil)");
            } else {
                fmt_integer(&out, &spec, uv, false, true, 16, false, "0x");
            }
            break;
        case 's':
            fmt_string(&out, &spec, va_arg(args, const char *));
            break;
        case 'c':
            c = (char)va_arg(args, int);
            fmt_padded(&out, &spec, &c, 1);
            break;
        case '%':
            out_char(&out, '%');
            break;
        default:
            /* Unsupported or truncated: print the specification as is. */
            out_bytes(&out, start, (int)(fmt - start));
            if (*fmt == '\0') {
                continue;
            }
            out_char(&out, (unsigned char)*fmt);
            break;
        }
        fmt++;
    }
    va_end(args);
    return out.count;
}

/* The state of one rt_snprintf: buffer, its size, bytes stored so far. */
struct snprintf_buf {
    char *buf;
    size_t size;
    size_t used;
};

static void snprintf_emit(int c, void *ctx)
{
    struct snprintf_buf *sb = ctx;

    if (sb->used + 1 < sb->size) {
        sb->buf[sb->used] = (char)c;
    }
    sb->used++;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct snprintf_buf sb = {buf, size, 0};
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = rt_vformat(snprintf_emit, &sb, fmt, ap);
    va_end(ap);
    if (size > 0) {
        buf[sb.used < size ? sb.used : size - 1] = '\0';
    }
    return n;
}
