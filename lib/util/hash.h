/* SPDX-License-Identifier: MIT */
/*
 * FNV-1a, 64 bits: the one hash of ferry's in-memory tables and of names
 * derived from text (staging tables, prepared statements, advisory lock
 * ids). Chain calls to hash several pieces; put a separator byte between
 * pieces whose boundary matters ("ab","c" is not "a","bc").
 */
#ifndef FY_HASH_H
#define FY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FY_FNV_SEED 1469598103934665603ull

static inline uint64_t fy_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

#endif
