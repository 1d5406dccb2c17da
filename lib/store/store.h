/* SPDX-License-Identifier: MIT */
/*
 * The store interface behind ferryd: callers use the fy_store_*() functions;
 * each backend (SQLite, PostgreSQL, chosen by URL) fills an ops table in
 * store_int.h. A struct fy_store is one connection and is used
 * by one thread at a time; ferryd keeps a pool of them (store_pool.h).
 */
#ifndef FY_STORE_H
#define FY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/contract.h"
#include "json/value.h"

/* An API key record. Strings are owned by the record (fy_key_release). */
struct fy_key {
    char id[17];   /* public part of the key, 16 hex */
    char hash[65]; /* hex SHA-256 of the secret */
    char *device;
    char *region; /* NULL: not region-scoped */
    bool admin;
    int64_t created_at, expires_at, revoked_at,
        last_used_at; /* unix s; 0 none */
};

void fy_key_release(struct fy_key *k);

/*
 * What applying a change did to its row, set by fy_store_push_apply:
 *   CREATED  a new row
 *   UPDATED  an existing row overwritten (or, for a partial change, the
 *            named columns)
 *   DELETED  the row removed
 *   STALE    an upsert older (by HLC, then origin device) than the stored
 *            row or a tombstone: nothing written
 *   NOOP     a delete that removed no row (none there, or a newer one); its
 *            tombstone is still recorded when it is the newest
 */
enum fy_row_outcome {
    FY_ROW_PENDING = 0, /* not applied (yet) */
    FY_ROW_CREATED,
    FY_ROW_UPDATED,
    FY_ROW_DELETED,
    FY_ROW_STALE,
    FY_ROW_NOOP,
};

/* One validated change. Memory belongs to the request arena. */
struct fy_change {
    int64_t seq;
    const struct fy_table *table;
    bool del;
    /*
     * Some vals are FY_V_ABSENT (a PATCH): an update keeps those columns'
     * stored values; an insert writes NULL there. Pushes carry full rows.
     */
    bool partial;
    enum fy_row_outcome outcome; /* out: set by apply */
    uint64_t hlc;
    struct fy_val *vals; /* table->ncols values; deletes fill only the key */
    const char *key;     /* canonical key: raw bytes (bytea, text with
                            NULs), keylen of them; compare with memcmp */
    size_t keylen;
};

/* The changes of one table in one batch: one per key, in seq order. */
struct fy_apply_batch {
    const struct fy_table *table;
    const char *device;       /* writing device, recorded as the origin */
    const char *scope_region; /* non-NULL: rows must stay in this region */
    struct fy_change **changes;
    size_t n, ndel;
};

/* Totals of the outcomes (NOOP is not counted). */
struct fy_apply_stats {
    long created, updated, deleted, stale;
};

struct fy_store;
typedef int fy_key_cb(const struct fy_key *k, void *ud);

/*
 * Callers use these functions only; the backends' ops tables and their
 * internals are in store_int.h. A struct fy_store is one connection, used
 * by one thread at a time. Every function returns 0 or a negative FERRY_E*
 * code with err (may be NULL) filled: FERRY_EUNAVAIL / FERRY_EBUSY when
 * retrying later may succeed, FERRY_ECONTRACT when the data is at fault.
 */

/* ---- lifecycle and schema ---------------------------------------------- */

int fy_store_ping(struct fy_store *st, struct ferry_err *err);
/* Creates or upgrades internal and contract tables; idempotent. */
int fy_store_migrate(struct fy_store *st, const struct fy_contract *c,
                     struct ferry_err *err);
/* Latest applied contract version and checksum; 0 and "" if none. */
int fy_store_schema_version(struct fy_store *st, long *version,
                            char checksum[65], struct ferry_err *err);
/* True when the backend takes several writers at once. */
bool fy_store_concurrent(const struct fy_store *st);

/* ---- keys -------------------------------------------------------------- */

int fy_store_key_put(struct fy_store *st, const struct fy_key *k,
                     struct ferry_err *err);
/* FERRY_ENOTFOUND when no key has that id; k filled, release it. */
int fy_store_key_get(struct fy_store *st, const char *id, struct fy_key *k,
                     struct ferry_err *err);
int fy_store_key_list(struct fy_store *st, fy_key_cb *cb, void *ud,
                      struct ferry_err *err);
/* FERRY_ENOTFOUND when no key has that id. */
int fy_store_key_revoke(struct fy_store *st, const char *id,
                        struct ferry_err *err);
/* Records the key's use (at most one write a minute per key). */
int fy_store_key_touch(struct fy_store *st, const char *id,
                       struct ferry_err *err);

/* ---- apply ------------------------------------------------------------- */

/*
 * One push transaction: begin locks the device's row (creating it) and
 * returns its acknowledged seq; apply runs once per table; commit records
 * the new acknowledged seq in the same transaction; rollback ends it
 * without a write (harmless when none is open).
 */
int fy_store_push_begin(struct fy_store *st, const char *device, int64_t *acked,
                        struct ferry_err *err);
/*
 * Applies b's changes by last-writer-wins on (hlc, origin device), sets
 * each change's outcome and adds them to the totals in s. One statement
 * per batch on PostgreSQL, whatever its size.
 */
int fy_store_push_apply(struct fy_store *st, const struct fy_apply_batch *b,
                        struct fy_apply_stats *s, struct ferry_err *err);
int fy_store_push_commit(struct fy_store *st, const char *device, int64_t acked,
                         long nchanges, struct ferry_err *err);
void fy_store_push_rollback(struct fy_store *st);

/*
 * Opens the store a URL names: "sqlite:PATH" (or a bare path) or
 * "postgresql://..." / "postgres://...". *out is returned owned
 * (fy_store_close).
 */
int fy_store_open(const char *url, struct fy_store **out,
                  struct ferry_err *err);
void fy_store_close(struct fy_store *st);

/* The URL with any password replaced by "***", for logs; caller frees. */
char *fy_store_redact(const char *url);

/*
 * As fy_store_open, but never creates a SQLite file: FERRY_ESCHEMA ("run
 * 'ferryd migrate' first") when it does not exist.
 */
int fy_store_open_existing(const char *url, struct fy_store **out,
                           struct ferry_err *err);

#endif
