/* SPDX-License-Identifier: MIT */
/*
 * Chunked bump allocator (PostgreSQL memory contexts in miniature).
 */
#include "util/arena.h"

#include <string.h>

#include "fy.h"

#define CHUNK_MIN ((size_t)64 * 1024)
#define ALIGN     16

struct fy_arena_chunk {
    struct fy_arena_chunk *next;
    size_t cap, len;
    _Alignas(16) unsigned char data[];
};

void *fy_arena_alloc(struct fy_arena *a, size_t n)
{
    struct fy_arena_chunk *c = a->head;

    if (n > SIZE_MAX / 2 - sizeof(*c) - ALIGN)
        return NULL; /* rounding or the chunk header would wrap */
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (a->limit && a->used + n > a->limit)
        return NULL;
    if (!c || c->cap - c->len < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;

        c = fy_malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->len = 0;
        c->next = a->head;
        a->head = c;
    }
    c->len += n;
    a->used += n;
    return c->data + c->len - n;
}

void *fy_arena_calloc(struct fy_arena *a, size_t n, size_t size)
{
    void *p;

    if (size && n > SIZE_MAX / size)
        return NULL;
    p = fy_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *fy_arena_strndup(struct fy_arena *a, const char *s, size_t n)
{
    char *p = fy_arena_alloc(a, n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void fy_arena_reset(struct fy_arena *a)
{
    while (a->head) {
        struct fy_arena_chunk *next = a->head->next;

        fy_free(a->head);
        a->head = next;
    }
    a->used = 0;
}
