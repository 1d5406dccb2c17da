/* SPDX-License-Identifier: MIT */
/*
 * fy_buf: the one growable buffer of libferry (see buf.h). Growth doubles so
 * appends are amortised O(1); max caps memory so one bad input cannot take
 * all of it.
 */
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

#include "fy.h"

char fy_buf_empty[1];

void fy_buf_init(struct fy_buf *b, size_t max)
{
    *b = (struct fy_buf)FY_BUF_INIT(max);
}

void fy_buf_release(struct fy_buf *b)
{
    if (b->data != fy_buf_empty)
        fy_free(b->data);
    fy_buf_init(b, b->max);
}

void fy_buf_reset(struct fy_buf *b)
{
    b->len = 0;
    b->err = 0;
    /*
     * The shared empty string is "" already; writing it anyway is a data
     * race between threads resetting empty buffers (ThreadSanitizer).
     */
    if (b->data != fy_buf_empty)
        b->data[0] = '\0';
}

int fy_buf_grow(struct fy_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->err)
        return b->err;
    if (extra > SIZE_MAX - b->len - 1)
        return b->err = FERRY_ETOOBIG;
    need = b->len + extra + 1;
    if (b->max && need > b->max + 1)
        return b->err = FERRY_ETOOBIG;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = fy_realloc(b->data == fy_buf_empty ? NULL : b->data, cap);
    if (!p)
        return b->err = FERRY_ENOMEM;
    if (b->data == fy_buf_empty)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int fy_buf_add(struct fy_buf *b, const void *p, size_t n)
{
    if (fy_buf_grow(b, n))
        return b->err;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fy_buf_adds(struct fy_buf *b, const char *s)
{
    return fy_buf_add(b, s, strlen(s));
}

int fy_buf_addc(struct fy_buf *b, char c)
{
    if (b->len + 2 <= b->cap && !b->err && (!b->max || b->len < b->max)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return fy_buf_add(b, &c, 1);
}

int fy_buf_add_u64(struct fy_buf *b, unsigned long long v)
{
    char tmp[24], *p = tmp + sizeof(tmp);

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return fy_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int fy_buf_add_i64(struct fy_buf *b, long long v)
{
    if (v < 0) {
        fy_buf_addc(b, '-');
        return fy_buf_add_u64(b, 0ull - (unsigned long long)v);
    }
    return fy_buf_add_u64(b, (unsigned long long)v);
}

int fy_buf_addf(struct fy_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->err)
        return b->err;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt,
                  ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    if (n < 0)
        return b->err = FERRY_EINVAL;
    if (b->max && b->len + (size_t)n > b->max) {
        if (b->data != fy_buf_empty)
            b->data[b->len] = '\0'; /* undo what vsnprintf wrote */
        return b->err = FERRY_ETOOBIG;
    }
    if ((size_t)n >= b->cap - b->len || b->data == fy_buf_empty) {
        if (fy_buf_grow(b, (size_t)n))
            return b->err;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

int fy_buf_add_query(struct fy_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            fy_buf_addc(b, (char)ch);
        else
            fy_buf_addf(b, "%%%02X", ch);
    }
    return fy_buf_error(b);
}

int fy_buf_add_ident(struct fy_buf *b, const char *s)
{
    fy_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            fy_buf_addc(b, '"');
        fy_buf_addc(b, *s);
    }
    return fy_buf_addc(b, '"');
}

char *fy_buf_detach(struct fy_buf *b, size_t *len)
{
    char *p = b->data;

    if (len)
        *len = b->len;
    if (p == fy_buf_empty)
        p = fy_strdup("");
    fy_buf_init(b, b->max);
    return p;
}
