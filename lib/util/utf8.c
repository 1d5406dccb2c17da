/* SPDX-License-Identifier: MIT */
/* Strict UTF-8 checks; see utf8.h. */
#include "util/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

size_t fy_utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned v;

    if (len == 0 || len > n || p[0] > 0xf4)
        return 0;
    v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

size_t fy_utf8_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        uint64_t w;
        unsigned cp;
        size_t len;

        /* Eight ASCII bytes at a time: request bodies are mostly ASCII. */
        if (n - i >= 8) {
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        len = fy_utf8_seq(p + i, n - i, &cp);
        if (len == 0)
            return i;
        i += len;
    }
    return n;
}
