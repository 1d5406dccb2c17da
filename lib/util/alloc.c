/* SPDX-License-Identifier: MIT */
/*
 * The allocator wrappers every libferry allocation goes through. A build with
 * FERRY_FAULT_ALLOC fails the Nth allocation (env FERRY_FAULT_ALLOC=N), so
 * the torture run can prove every ENOMEM path unwinds cleanly.
 */
#include <stdlib.h>
#include <string.h>

#include "fy.h"

#ifdef FERRY_FAULT_ALLOC
#include <stdio.h>

static long fault_countdown = -1;
static int fault_inited;

static bool fault_now(void)
{
    if (!fault_inited) {
        const char *s = getenv("FERRY_FAULT_ALLOC");
        fault_countdown = s ? strtol(s, NULL, 10) : -1;
        fault_inited = 1;
    }
    if (fault_countdown < 0 || fault_countdown-- != 0)
        return false;
    /*
     * Tells the torture driver (tests/torture.sh) the fault happened: a run
     * without this line ended before its Nth allocation.
     */
    fputs("ferry-fault: reached\n", stderr);
    return true;
}
#else
static bool fault_now(void)
{
    return false;
}
#endif

void *fy_malloc(size_t n)
{
    return fault_now() ? NULL : malloc(n ? n : 1);
}

void *fy_calloc(size_t n, size_t size)
{
    return fault_now() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *fy_realloc(void *p, size_t n)
{
    return fault_now() ? NULL : realloc(p, n ? n : 1);
}

int fy_grow(void *pp, size_t *cap, size_t size, size_t first)
{
    size_t n = *cap ? 2 * *cap : first;
    void *p;

    if (n < *cap || n > SIZE_MAX / size)
        return FERRY_ENOMEM;
    memcpy(&p, pp, sizeof(p));
    p = fy_realloc(p, n * size);
    if (!p)
        return FERRY_ENOMEM;
    memcpy(pp, &p, sizeof(p));
    *cap = n;
    return 0;
}

char *fy_strdup(const char *s)
{
    return fy_strndup(s, strlen(s));
}

char *fy_strndup(const char *s, size_t n)
{
    char *p = fy_malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void fy_free(void *p)
{
    free(p);
}
