/* SPDX-License-Identifier: MIT */
/*
 * Exponential backoff with equal jitter; see backoff.h.
 */
#include "core/backoff.h"

#include "fy.h"

void fy_backoff_init(struct fy_backoff *b, int64_t base_ms, int64_t cap_ms,
                     uint64_t seed)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
    b->max_hint_ms = 300000;
    b->attempt = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int64_t fy_backoff_next(struct fy_backoff *b, int64_t retry_after_ms)
{
    int64_t ceil = b->base_ms;
    int64_t half, delay;

    for (int i = 0; i < b->attempt && ceil < b->cap_ms; i++)
        ceil *= 2;
    if (ceil > b->cap_ms)
        ceil = b->cap_ms;
    half = ceil / 2;
    delay = half + (int64_t)(xorshift(&b->rng) % (uint64_t)(ceil - half + 1));
    if (retry_after_ms > b->max_hint_ms)
        retry_after_ms = b->max_hint_ms;
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    if (b->attempt < 62)
        b->attempt++;
    return delay;
}

void fy_backoff_reset(struct fy_backoff *b)
{
    b->attempt = 0;
}
