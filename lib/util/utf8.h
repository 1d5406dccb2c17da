/* SPDX-License-Identifier: MIT */
/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. Request bodies are checked with it once, whole, before they
 * are parsed, so a parser may skip its own check.
 */
#ifndef FY_UTF8_H
#define FY_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the valid multi-byte sequence at p (at most n bytes, p[0] >=
 * 0x80) and its code point in *cp, or 0 when it is not valid.
 */
size_t fy_utf8_seq(const unsigned char *p, size_t n, unsigned *cp);

/* Bytes of the longest valid UTF-8 prefix of s[0..n) (NUL bytes count). */
size_t fy_utf8_prefix(const char *s, size_t n);

#endif
