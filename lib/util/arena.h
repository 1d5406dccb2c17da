/* SPDX-License-Identifier: MIT */
/*
 * Bump allocator for memory that lives exactly as long as one request
 * (ferryd) or one batch (agent): decoded blobs, value arrays, key strings.
 * Nothing longer-lived may come from it; fy_arena_reset() frees it all.
 */
#ifndef FY_ARENA_H
#define FY_ARENA_H

#include <stddef.h>

struct fy_arena_chunk;

struct fy_arena {
    struct fy_arena_chunk *head;
    size_t used;  /* bytes handed out, for limits */
    size_t limit; /* 0 means unlimited */
};

#define FY_ARENA_INIT(limit_)                                                  \
    {                                                                          \
        .head = NULL, .used = 0, .limit = (limit_)                             \
    }

/* Returns n bytes aligned for any type, or NULL (out of memory or limit). */
void *fy_arena_alloc(struct fy_arena *a, size_t n);
void *fy_arena_calloc(struct fy_arena *a, size_t n, size_t size);
char *fy_arena_strndup(struct fy_arena *a, const char *s, size_t n);
/* Frees every chunk; the arena is reusable afterwards. */
void fy_arena_reset(struct fy_arena *a);

#endif
