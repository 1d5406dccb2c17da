/* SPDX-License-Identifier: MIT */
/*
 * Retry delays: exponential backoff with jitter, honouring a server's
 * Retry-After. Pure arithmetic over an explicit random state so tests can
 * check the bounds.
 */
#ifndef FY_BACKOFF_H
#define FY_BACKOFF_H

#include <stdint.h>

struct fy_backoff {
    int64_t base_ms;     /* first delay ceiling */
    int64_t cap_ms;      /* no delay ceiling exceeds this */
    int64_t max_hint_ms; /* Retry-After values above this are clamped */
    int attempt;         /* delays handed out so far */
    uint64_t rng;        /* xorshift state, never 0 */
};

void fy_backoff_init(struct fy_backoff *b, int64_t base_ms, int64_t cap_ms,
                     uint64_t seed);

/*
 * Delay before the next attempt: a random value in [ceil/2, ceil] where ceil
 * is base * 2^attempt clamped to cap ("equal jitter", so retries from many
 * agents spread out but still grow), and never less than retry_after_ms (a
 * negative value means none was given).
 */
int64_t fy_backoff_next(struct fy_backoff *b, int64_t retry_after_ms);

/* Back to the first delay after a success. */
void fy_backoff_reset(struct fy_backoff *b);

#endif
