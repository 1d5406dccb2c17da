/* SPDX-License-Identifier: MIT */
/*
 * Tracked sync runs from C: a client of one ferryd that begins a run of a
 * named stream (taking the stream's lease, so one runner at a time works,
 * and reading its committed cursor), keeps the lease with heartbeats and
 * ends the run as a success with a new cursor or as a failure
 * (docs/api.md#sync-runs, docs/c-api.md). `ferry job run` is built on it.
 *
 * Every request goes through the agent's one retrying request: network
 * errors, timeouts, 5xx, 408 and 429 are retried with backoff and jitter,
 * honouring Retry-After, until the retry budget is spent; other answers
 * are judged here into the codes each function lists. Every function
 * returns 0 or a negative FERRY_E* with err (may be NULL) filled.
 *
 * Not thread-safe: one thread drives a client and the runs it began.
 */
#ifndef FERRY_RUNS_H
#define FERRY_RUNS_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry.h"

struct ferry_client;

struct ferry_client_opts {
    const char *base_url;    /* http:// or https://host:port (copied) */
    const char *key;         /* an API key of the server (copied) */
    const char *auth_header; /* NULL: X-Api-Key; "Authorization": Bearer */
    int timeout_s;           /* an attempt without a byte moving; 0: 30 */
    /*
     * Time without progress before a request gives up: 0 is the default
     * (300 s), a negative value one attempt only.
     */
    int64_t retry_budget_ms;
    /*
     * https: a PEM file of the CA certificates the server's certificate is
     * verified against (copied); NULL: the system's CA store. Verification
     * cannot be switched off; a certificate that does not verify is
     * FERRY_ECONFIG ("certificate verify failed: ...").
     */
    const char *ca_file;
};

/*
 * A client for one ferryd and key; the HTTP connection is made on the
 * first request and kept. FERRY_EINVAL for a missing or malformed URL or
 * key (a key must be visible ASCII). *out is returned owned
 * (ferry_client_free), NULL on failure.
 */
FERRY_API int ferry_client_new(const struct ferry_client_opts *o,
                               struct ferry_client **out,
                               struct ferry_err *err);
/* Frees c (NULL is fine); runs it began must be freed separately. */
FERRY_API void ferry_client_free(struct ferry_client *c);

/*
 * One run as the server last described it: a plain record owned by the
 * library (read its fields, free it with ferry_run_free), not a handle to
 * configure. Strings are NUL-terminated and live until ferry_run_free.
 */
struct ferry_run {
    int64_t id;
    char *stream;
    /*
     * The stream's committed cursor the run starts from (NULL: none yet).
     * After ferry_run_complete: the cursor now committed.
     */
    char *cursor;
    char *status;           /* "running", then "success" or "failed" */
    char *started_at;       /* the server's clock, "2026-11-30T10:30:00.123Z" */
    char *lease_expires_at; /* the same clock: when the lease ends unrenewed */
    int lease_seconds;
    /* Begin: a retried begin whose first answer was lost got its run (200). */
    bool again;
    int64_t records;     /* after complete or fail: what the server recorded */
    int64_t duration_ms; /* after complete or fail; -1 when not answered */
};

struct ferry_run_opts {
    const char *instance; /* who runs it, 1-200 printable; NULL: key's device */
    int lease_seconds;    /* 1 to 86400; 0: 60 */
};

/* Stream names: 1 to 64 of [A-Za-z0-9_.-], neither "." nor "..". */
FERRY_API bool ferry_stream_name_valid(const char *stream);

/*
 * Begins a run of stream. A random Idempotency-Key goes with it, so that
 * a begin retried after its answer was lost gets its own run back rather
 * than a conflict with itself. *out is returned owned (ferry_run_free).
 * FERRY_ECONFLICT when another live run holds the lease (err->msg names
 * the holder, its instance and until when); FERRY_EINVAL for a bad name
 * or option; FERRY_EAUTH / FERRY_EFORBIDDEN for a refused key; a
 * transient code (FERRY_ENET, FERRY_ETIMEDOUT, FERRY_EUNAVAIL, ...) when
 * the server stayed unreachable for the budget.
 */
FERRY_API int ferry_run_begin(struct ferry_client *c, const char *stream,
                              const struct ferry_run_opts *o,
                              struct ferry_run **out, struct ferry_err *err);

/*
 * Extends run's lease by its length from now; retries only while the
 * lease may still be alive (never past its end as this machine counts it
 * from the last answered heartbeat). FERRY_EEXPIRED when the lease is
 * lost (the server said lease_expired, or no heartbeat was answered before
 * the lease ran out): stop working, nothing the run sends is kept.
 * FERRY_ECONFLICT when the run already ended; FERRY_ENOTFOUND when the
 * server knows no such run of this key.
 */
FERRY_API int ferry_run_heartbeat(struct ferry_client *c, struct ferry_run *run,
                                  struct ferry_err *err);

/*
 * Milliseconds left of run's lease as this machine counts it (from the
 * start of the request that last extended it, so never later than the
 * server's end); 0 or less once it may have expired.
 */
FERRY_API int64_t ferry_run_lease_left_ms(const struct ferry_run *run);

/*
 * Ends run as a success: records (0 to 2^53-1) processed, cursor the
 * stream's new committed cursor (at most 4096 bytes; NULL keeps the
 * current one), metadata_json a JSON object kept with the history row
 * (NULL: none; at most 64 KiB). The cursor is committed in the same
 * transaction. A complete that hears that the run already ended as a
 * success counts as done: its answer was lost and the retry heard it, or
 * the network delivered it twice. FERRY_EEXPIRED
 * when the lease expired first (nothing kept: the run is abandoned);
 * FERRY_ECONFLICT when the run had already ended otherwise; FERRY_EINVAL
 * for values out of range.
 */
FERRY_API int ferry_run_complete(struct ferry_client *c, struct ferry_run *run,
                                 int64_t records, const char *cursor,
                                 const char *metadata_json,
                                 struct ferry_err *err);

/*
 * Ends run as a failure with error (1 to 4096 bytes); the cursor stays, so
 * the next run starts from it again. records and metadata_json as for
 * ferry_run_complete, and the same codes.
 */
FERRY_API int ferry_run_fail(struct ferry_client *c, struct ferry_run *run,
                             const char *error, int64_t records,
                             const char *metadata_json, struct ferry_err *err);

/* Frees run (NULL is fine). A run still running keeps its lease until it
   expires on the server. */
FERRY_API void ferry_run_free(struct ferry_run *run);

/*
 * Sets stream's committed cursor without a run (an import of an old
 * last_sync.txt), recorded in history with source (at most 200
 * characters; NULL: none). *previous (when not NULL) is the cursor it
 * replaced, returned owned (ferry_free), NULL when there was none.
 * FERRY_ECONFLICT while a run holds the lease.
 */
FERRY_API int ferry_cursor_set(struct ferry_client *c, const char *stream,
                               const char *cursor, const char *source,
                               char **previous, struct ferry_err *err);

/*
 * GET /v1/status: the streams' (only stream's, when not NULL) and
 * devices' status with history rows each (0 to 1000), as the server's
 * JSON text, returned owned in *json (ferry_free). FERRY_ENOTFOUND for a
 * stream that never ran and has no cursor.
 */
FERRY_API int ferry_status_json(struct ferry_client *c, const char *stream,
                                int history, char **json,
                                struct ferry_err *err);

/* Frees a string this API returned (NULL is fine). */
FERRY_API void ferry_free(void *p);

#endif
