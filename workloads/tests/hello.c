/*
 * hello.c: the smallest workload, for bringing up a CPU: prints two lines
 * (a string and a formatted number) and exits with status 0.
 */
#include "rt.h"

int main(void)
{
    rt_puts("hello from the guest");
    rt_printf("%d + %d = %d\n", 40, 2, 40 + 2);
    return 0;
}
