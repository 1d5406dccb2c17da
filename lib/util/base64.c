/* SPDX-License-Identifier: MIT */
/*
 * base64 on top of EVP_EncodeBlock/EVP_DecodeBlock. DecodeBlock accepts
 * whitespace and counts padding as zero bytes, so input is checked strictly
 * first and the padding is taken off the length.
 */
#include "util/base64.h"

#include <openssl/evp.h>

#include "fy.h"

int fy_b64_encode(struct fy_buf *b, const void *p, size_t n)
{
    size_t out = (n + 2) / 3 * 4;
    int w;

    if (n > (size_t)INT32_MAX / 2)
        return b->err = FERRY_ETOOBIG;
    if (fy_buf_grow(b, out))
        return b->err;
    w = EVP_EncodeBlock((unsigned char *)b->data + b->len, p, (int)n);
    b->len += (size_t)w;
    b->data[b->len] = '\0';
    return 0;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int fy_b64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
    size_t pad = 0;
    int w;

    *outlen = 0;
    if (n == 0)
        return 0;
    if (n % 4 != 0 || n > (size_t)INT32_MAX)
        return FERRY_EPARSE;
    if (s[n - 1] == '=')
        pad = s[n - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < n - pad; i++) {
        if (!b64_char(s[i]))
            return FERRY_EPARSE;
    }
    w = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (w < 0 || (size_t)w < pad)
        return FERRY_EPARSE;
    *outlen = (size_t)w - pad;
    return 0;
}
