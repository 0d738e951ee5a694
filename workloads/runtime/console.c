/*
 * console.c: the guest's console and exit, over the simulator's debug
 * ports: each byte is an 8-bit `out` to port 0xE9, and a 32-bit `out` to
 * port 0xF4 ends the run with that value as its exit status
 * (workloads/README.md, "Guest ABI").
 */
#include "rt-internal.h"

#define RT_PORT_CONSOLE 0xe9
#define RT_PORT_EXIT 0xf4

void rt_putc(int c)
{
    rt_outb(RT_PORT_CONSOLE, (uint8_t)c);
}

void rt_puts(const char *s)
{
    while (*s != '\0') {
        rt_putc((unsigned char)*s++);
    }
    rt_putc('\n');
}

static void console_emit(int c, void *ctx)
{
    rt_putc(c);
}

int rt_vprintf(const char *fmt, va_list ap)
{
    return rt_vformat(console_emit, NULL, fmt, ap);
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
    rt_outl(RT_PORT_EXIT, (uint32_t)status);
    /* The run should have ended; never fall back into the program. */
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}
