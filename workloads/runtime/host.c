/*
 * host.c: the host build's runtime, the portable half of rt.h over libc.
 *
 * Formatting goes through the same rt_vformat as the guest (format.c), and
 * every byte goes out through putchar, so a portable program prints the
 * same bytes on the host as in the guest; the string functions come from
 * the host's libc.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rt-internal.h"

void rt_putc(int c)
{
    putchar(c);
}

void rt_puts(const char *s)
{
    fputs(s, stdout);
    putchar('\n');
}

static void host_emit(int c, void *ctx)
{
    putchar(c);
}

int rt_vprintf(const char *fmt, va_list ap)
{
    return rt_vformat(host_emit, NULL, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void rt_exit(int status)
{
    fflush(stdout);
    exit(status);
}
