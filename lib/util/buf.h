/* SPDX-License-Identifier: MIT */
/*
 * Growable byte buffer for JSON bodies, SQL text, COPY data and messages.
 * data is never NULL and always NUL-terminated; errors are sticky, so a
 * sequence of appends is checked once with fy_buf_error().
 */
#ifndef FY_BUF_H
#define FY_BUF_H

#include <stddef.h>

struct fy_buf {
    char *data;
    size_t len, cap, max; /* max 0 means unlimited */
    int err;              /* first failure, sticky until reset */
};

extern char fy_buf_empty[1];
#define FY_BUF_INIT(max_)                                                      \
    {                                                                          \
        .data = fy_buf_empty, .max = (max_)                                    \
    }

void fy_buf_init(struct fy_buf *b, size_t max);
/* Frees the storage and returns to the INIT state; accepts released bufs. */
void fy_buf_release(struct fy_buf *b);
/* len = 0, keeps the allocation, clears err. */
void fy_buf_reset(struct fy_buf *b);
int fy_buf_grow(struct fy_buf *b, size_t extra);
int fy_buf_add(struct fy_buf *b, const void *p, size_t n);
int fy_buf_adds(struct fy_buf *b, const char *s);
int fy_buf_addc(struct fy_buf *b, char c);
int fy_buf_addf(struct fy_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends v in decimal (no printf: these are on the push's hot path). */
int fy_buf_add_i64(struct fy_buf *b, long long v);
int fy_buf_add_u64(struct fy_buf *b, unsigned long long v);
/* Appends s as a SQL identifier in double quotes, doubling inner quotes. */
int fy_buf_add_ident(struct fy_buf *b, const char *s);
/* Appends s percent-encoded for a URL query value (RFC 3986 unreserved kept).
 */
int fy_buf_add_query(struct fy_buf *b, const char *s);
/* Returns the bytes (caller fy_free()s) and resets b to INIT. */
char *fy_buf_detach(struct fy_buf *b, size_t *len);
static inline int fy_buf_error(const struct fy_buf *b)
{
    return b->err;
}

#endif
