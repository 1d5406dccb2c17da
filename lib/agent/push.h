/* SPDX-License-Identifier: MIT */
/*
 * `ferry push`: drain the outbox to ferryd in order, in batches. Each batch
 * is retried on network errors, 5xx, 408 and 429 with exponential backoff
 * and jitter (honouring Retry-After) until the retry budget is spent;
 * changes the server rejects as invalid (or outside the key's region) are
 * moved to _ferry_dead with its message and the rest goes on; a refused key
 * (401, or 403 to the handshake) stops the push with the outbox intact.
 */
#ifndef FY_AGENT_PUSH_H
#define FY_AGENT_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"

struct fy_push_opts {
    const char *key;         /* the API key (from the environment) */
    int64_t retry_budget_ms; /* give up after this long without progress */
    int64_t backoff_base_ms;
    int64_t backoff_cap_ms;
    int max_batches; /* 0: until empty */
};

struct fy_push_stats {
    long batches;
    long sent;       /* changes acknowledged by the server */
    long dead;       /* rejected by the server and parked */
    long dead_local; /* unencodable and parked */
    long retries;
    int64_t acked_seq;
};

/*
 * Pushes until the outbox is empty (or max_batches). Returns 0, FERRY_EAUTH
 * or FERRY_EFORBIDDEN (key problem), a transient code when the server stayed
 * unreachable for the whole budget, or another error.
 */
int fy_agent_push(sqlite3 *db, const struct fy_agent_config *cfg,
                  const struct fy_push_opts *o, struct fy_push_stats *s,
                  struct ferry_err *err);

#endif
