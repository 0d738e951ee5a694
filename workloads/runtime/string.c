/*
 * string.c: the C string functions of the guest runtime.
 *
 * gcc emits calls to memcpy, memset, memmove and memcmp by itself (struct
 * copies, large initialisers), so these must exist under those names.
 * They are plain byte and 8-byte loops: simple to check, and a mix of
 * aligned and unaligned accesses for the CPU.  This file is built with
 * -fno-tree-loop-distribute-patterns so gcc does not turn the loops back
 * into calls to themselves.
 */
#include "rt-internal.h"

/* A 64-bit word at any alignment that may alias any object. */
typedef uint64_t __attribute__((may_alias, aligned(1))) string_word;

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n >= 8) {
        *(string_word *)(void *)d = *(const string_word *)(const void *)s;
        d += 8;
        s += 8;
        n -= 8;
    }
    while (n-- > 0) {
        *d++ = *s++;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d == s || n == 0) {
        return dst;
    }
    if (d < s || d >= s + n) {
        /* No overlap that a forward copy would clobber. */
        while (n-- > 0) {
            *d++ = *s++;
        }
    } else {
        d += n;
        s += n;
        while (n-- > 0) {
            *--d = *--s;
        }
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t pattern = 0x0101010101010101ull * (unsigned char)c;

    while (n > 0 && ((uintptr_t)d & 7) != 0) {
        *d++ = (unsigned char)c;
        n--;
    }
    while (n >= 8) {
        *(string_word *)(void *)d = pattern;
        d += 8;
        n -= 8;
    }
    while (n-- > 0) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a;
    const unsigned char *pb = b;
    size_t i;

    for (i = 0; i < n; i++) {
        if (pa[i] != pb[i]) {
            return pa[i] < pb[i] ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;

    while (*p != '\0') {
        p++;
    }
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        if (*a != *b || *a == '\0') {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c) {
            return (char *)s;
        }
        if (*s == '\0') {
            return NULL;
        }
    }
}
