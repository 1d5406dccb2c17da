/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648, padded) over OpenSSL's block coder: blobs travel
 * as base64 strings in JSON.
 */
#ifndef FY_BASE64_H
#define FY_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the encoding of p[0..n) to b. */
int fy_b64_encode(struct fy_buf *b, const void *p, size_t n);

/* Decoded size upper bound for an n-character input. */
static inline size_t fy_b64_max_decoded(size_t n)
{
    return n / 4 * 3 + 3;
}

/*
 * Decodes s[0..n) into out (room for fy_b64_max_decoded(n) bytes) and stores
 * the length; FERRY_EPARSE when s is not padded base64.
 */
int fy_b64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen);

#endif
