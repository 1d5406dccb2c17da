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

struct fy_push_stats {
    long batches;
    long sent;       /* changes acknowledged by the server */
    long dead;       /* rejected by the server and parked */
    long dead_local; /* unencodable and parked */
    long retries;
    long queued;       /* outbox entries when the push started */
    int64_t acked_seq; /* the agent's stored one until the server answers */
    bool answered;     /* the server answered the handshake */
};

enum fy_push_event_kind {
    FY_PUSH_RETRY,     /* a request failed and will be tried again */
    FY_PUSH_RECOVERED, /* a request succeeded after retries */
    FY_PUSH_PROGRESS   /* a batch was acknowledged */
};

/* What a push reports while it runs; valid during the callback only. */
struct fy_push_event {
    enum fy_push_event_kind kind;
    const char *error;  /* RETRY: what went wrong, escaped (fy_escape) */
    int attempt;        /* RETRY: failures in a row, 1 for the first */
    int64_t delay_ms;   /* RETRY: wait before the next try */
    int64_t failing_ms; /* RETRY, RECOVERED: since the first failure */
    int64_t budget_ms;  /* the retry budget */
    const struct fy_push_stats *stats;
};

typedef void fy_push_report_fn(const struct fy_push_event *ev, void *ud);

struct fy_push_opts {
    const char *key;         /* the API key (from the environment) */
    int64_t retry_budget_ms; /* give up after this long without progress */
    int64_t backoff_base_ms;
    int64_t backoff_cap_ms;
    int max_batches; /* 0: until empty */
    /*
     * Called for retries and acknowledged batches (may be NULL: then each
     * retry is logged as a warning and each batch at info level; with a
     * callback both are logged at debug level only).
     */
    fy_push_report_fn *report;
    void *report_ud;
};

/*
 * Pushes until the outbox is empty (or max_batches). Returns 0, FERRY_EAUTH
 * or FERRY_EFORBIDDEN (key problem), a transient code when the server stayed
 * unreachable for the whole budget, or another error. An answer that cannot
 * be used (cut short, no status, a 200 without a readable acked_seq) counts
 * as a network error: it is retried like one.
 */
int fy_agent_push(sqlite3 *db, const struct fy_agent_config *cfg,
                  const struct fy_push_opts *o, struct fy_push_stats *s,
                  struct ferry_err *err);

#endif
