/* SPDX-License-Identifier: MIT */
/*
 * The push step (`ferry push`): drain the outbox to ferryd in order, in
 * batches, through the agent's retrying request (network errors, 5xx, 408
 * and 429 retried with backoff until the retry budget is spent); changes the
 * server rejects as invalid (or outside the key's region) are moved to
 * _ferry_dead with its message and the rest goes on; a refused key (401, or 403
 * to the handshake) stops the push with the outbox intact. A batch with rows
 * of a "ferry.files" table waits until ferryd holds their files
 * (lib/agent/blob.h); a file that cannot be sent parks its rows.
 */
#ifndef FY_AGENT_PUSH_H
#define FY_AGENT_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"

/* Changes acknowledged per table, for the push's summary line. */
#define FY_PUSH_TABLES 16
struct fy_push_table {
    char name[64]; /* cut at 63 bytes */
    long sent;
};

struct fy_push_stats {
    long batches;
    long sent;       /* changes acknowledged by the server */
    long dead;       /* rejected by the server and parked */
    long dead_local; /* unencodable and parked */
    long retries;
    long queued;       /* outbox entries when the push started */
    int64_t acked_seq; /* the agent's stored one until the server answers */
    bool answered;     /* the server answered the handshake */
    /* The first FY_PUSH_TABLES tables in the order met; the rest counted. */
    struct fy_push_table tables[FY_PUSH_TABLES];
    size_t ntables;
    long other_sent;    /* changes of tables beyond those */
    long files;         /* files this push sent bytes of, now stored */
    int64_t file_bytes; /* bytes of them sent by the PUTs that ended it */
    long files_known;   /* files the server held already */
};

struct fy_push_opts {
    int max_batches; /* 0: until empty */
};

/*
 * The push step of agent a: pushes until the outbox is empty (or
 * max_batches), reporting each acknowledged batch (FY_AGENT_PROGRESS, with
 * s) and each retry through the agent. Returns 0, FERRY_EAUTH or
 * FERRY_EFORBIDDEN (key problem), a transient code when the server stayed
 * unreachable for the whole budget, or another error. An answer that
 * cannot be used (cut short, no status, a 200 without a readable
 * acked_seq) counts as a network error: it is retried like one.
 */
int fy_agent_push_step(struct fy_agent *a, const struct fy_push_opts *o,
                       struct fy_push_stats *s, struct ferry_err *err);

#endif
