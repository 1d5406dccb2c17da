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
#include "util/arena.h"
#include "util/buf.h"

/* An API key record. Strings are owned by the record (fy_key_release). */
struct fy_key {
    char id[17];   /* public part of the key, 16 hex */
    char hash[65]; /* hex SHA-256 of the secret */
    char *device;
    char *region; /* NULL: not region-scoped */
    bool admin;
    int64_t created_at, expires_at, revoked_at,
        last_used_at; /* unix s; 0 none */
    /*
     * The secret before the last `keys rotate`, accepted until prev_until
     * (unix s); "" and 0 when the key was never rotated.
     */
    char prev_hash[65];
    int64_t prev_until;
    bool previous; /* fy_key_verify: the request used the previous secret */
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
     * Some vals are FY_V_ABSENT: an update keeps those columns' stored
     * values; an insert writes NULL there. Only for nullable columns: both
     * engines check the row an INSERT ... ON CONFLICT would insert first,
     * so an absent NOT NULL column fails even when the row exists (the row
     * API fills absent columns from the locked stored row instead). Pushes
     * carry full rows.
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
    /*
     * Only the totals are wanted, not each change's outcome (a push):
     * PostgreSQL then counts instead of joining every written row back to
     * its change, and outcomes are left as they are.
     */
    bool totals_only;
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

/*
 * What ferryd migrate's flags allow: a dry run (everything is done in the
 * transaction, then rolled back), dropping the columns the recorded
 * contract has and c lacks, retyping columns whose type changed (never key
 * columns). statement, when set, is told each statement that changes the
 * store, in order, as the engine runs it.
 */
struct fy_migrate_opts {
    bool dry_run;
    bool allow_drop;
    bool allow_retype;
    void (*statement)(const char *sql, void *ud);
    void *ud;
};

/* fy_store_migrate with options (o may be NULL: none). */
int fy_store_migrate_with(struct fy_store *st, const struct fy_contract *c,
                          const struct fy_migrate_opts *o,
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
/*
 * A new secret (its hash) for key id: the current one becomes the previous
 * secret, accepted for overlap_s more seconds (0: refused at once), in
 * place of any earlier previous one. FERRY_ENOTFOUND when no key has that
 * id, FERRY_ECONFLICT when it is revoked or another
 * rotation or revocation of it won the race (nothing changed: try again).
 */
int fy_store_key_rotate(struct fy_store *st, const char *id,
                        const char *new_hash, int64_t overlap_s,
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

/* ---- read (pull) ------------------------------------------------------- */

/*
 * A place in the store's order of writes. Every row and tombstone carries
 * the version of its last write: on PostgreSQL (transaction id, row
 * sequence), on SQLite (revision, 0). Positions compare as pairs.
 */
struct fy_read_pos {
    int64_t v, s;
};

/* One row version or tombstone, as fy_store_read_changes hands it over. */
struct fy_read_row {
    const struct fy_table *table;
    bool del;                /* a tombstone: vals holds the key columns only */
    uint64_t hlc;            /* the write's stamp */
    const char *origin;      /* the device that wrote it */
    const char *const *vals; /* table->ncols texts as the store prints them,
                               NULL for SQL NULL (and for non-key columns of
                               a tombstone); bytea as hex digits */
    struct fy_read_pos pos;
};

struct fy_read_req {
    const struct fy_contract *contract;
    struct fy_read_pos after; /* serve versions after this one */
    size_t limit;             /* at most this many rows */
    const char *region;       /* non-NULL: "read": "region" tables only this
                                 region's rows and deletes */
    const char *skip_origin;  /* non-NULL: leave out this device's writes */
    /*
     * The pruning check, done in the same snapshot as the read:
     * incremental cursors fail with FERRY_EEXPIRED when a tombstone after
     * them may have been pruned (after < (mark, max)); a full pass when
     * pruning ran since it began (epoch differs).
     */
    bool full;
    int64_t epoch;
};

/* The pruning mark: the newest pruned tombstone's version, and a counter. */
struct fy_read_mark {
    int64_t v;
    int64_t epoch;
};

typedef int fy_read_row_fn(const struct fy_read_row *r, void *ud);

/*
 * Hands the first req->limit row versions and tombstones after req->after
 * to cb, oldest first, from one consistent snapshot: never a version whose
 * transaction can still be followed by an older one committing (see
 * docs/guarantees.md). A tombstone is left out while its key has a row.
 * Sets *more when there were more; *mark as read in the snapshot.
 */
int fy_store_read_changes(struct fy_store *st, const struct fy_read_req *req,
                          fy_read_row_fn *cb, void *ud, bool *more,
                          struct fy_read_mark *mark, struct ferry_err *err);

/*
 * Removes the tombstones whose stamp is below before_hlc (and, on
 * PostgreSQL, whose transaction every reader can see), and raises the
 * pruning mark. *pruned counts them.
 */
int fy_store_prune_tombstones(struct fy_store *st, const struct fy_contract *c,
                              uint64_t before_hlc, long *pruned,
                              struct ferry_err *err);

/* ---- backups (store/backup.c) ----------------------------------------- */

/* What a backup file holds (docs/backups.md). */
struct fy_backup_info {
    int64_t bytes;    /* the file's size */
    long version;     /* the newest contract version recorded in it */
    size_t ntables;   /* contract tables */
    int64_t rows;     /* rows of the contract tables */
    char tables[400]; /* "users 2000, reading_settings 2000, ...", cut */
};

/*
 * Copies the SQLite store of url to file with SQLite's online backup API,
 * in one read transaction (pushes go on meanwhile), through a temporary
 * file next to file that is synced, checked (fy_store_sqlite_check) and
 * renamed into place. FERRY_EINVAL when file exists and !replace;
 * FERRY_ESCHEMA when the store is not migrated.
 */
int fy_store_sqlite_backup(const char *url, const char *file, bool replace,
                           struct fy_backup_info *info, struct ferry_err *err);
/*
 * Opens file read-only: a SQLite database that passes PRAGMA
 * integrity_check, with ferry's tables, a recorded contract version and
 * revision. FERRY_ENOTFOUND / FERRY_EIO when it cannot be read,
 * FERRY_EPARSE when it is not SQLite, damaged, or not a ferry store.
 */
int fy_store_sqlite_check(const char *file, struct fy_backup_info *info,
                          struct ferry_err *err);
/*
 * Replaces the SQLite store of url (created when missing) with the backup
 * file, checked first, in one write transaction of the store, while
 * holding it exclusively: FERRY_EBUSY when another connection has it open
 * (a ferryd serving it). The restored store's revision counter and
 * pruning mark pass every number the store and the backup handed out, so
 * that every pull cursor given before gets 410 cursor_expired; *mark is
 * the new mark.
 */
int fy_store_sqlite_restore(const char *url, const char *file,
                            struct fy_backup_info *info,
                            struct fy_read_mark *mark, struct ferry_err *err);
/*
 * Expires every pull cursor handed out so far, on either store, in one
 * transaction, also while ferryd serves: the pruning mark moves to a
 * version no write can still land at or below (SQLite: the revision
 * counter, first raised above floor->v; PostgreSQL: the oldest running
 * transaction's id less one) and the pruning epoch above floor->epoch and
 * its own (floor may be NULL). FERRY_ESCHEMA when a stored row's version
 * is above it: a PostgreSQL dump restored into a cluster whose
 * transaction ids are behind (the message says how to move them).
 */
int fy_store_expire_cursors(struct fy_store *st,
                            const struct fy_read_mark *floor,
                            struct fy_read_mark *mark, struct ferry_err *err);

/* ---- export (snapshots) ----------------------------------------------- */

struct fy_export_req {
    const struct fy_contract *contract;
    const char *region; /* non-NULL: "read": "region" tables only this
                           region's rows */
    bool rows;          /* false: the position and the tag only */
};

/*
 * Every row of every table the request may read (read not "none"), table
 * by table in contract order, from one consistent snapshot, to cb (del is
 * false; the row's texts are borrowed until cb returns).
 *
 * Appends to snap the snapshot's text "XMIN:XMAX:XIP,XIP,...": a write of
 * version v (fy_read_pos.v) is in the snapshot exactly when v < XMIN, or
 * v < XMAX and v is not listed (PostgreSQL's pg_current_snapshot(); on
 * SQLite "R+1:R+1:" for the last revision R). *at is (XMIN - 1, max): a
 * position at or below which every write is settled and in the snapshot,
 * usable as a pull cursor (docs/guarantees.md).
 *
 * Appends to tag a text that changes whenever the rows of the request's
 * scope change (each table's row count and sum of row versions), cheap
 * next to the rows themselves.
 */
int fy_store_export(struct fy_store *st, const struct fy_export_req *req,
                    fy_read_row_fn *cb, void *ud, struct fy_read_pos *at,
                    struct fy_buf *snap, struct fy_buf *tag,
                    struct ferry_err *err);

struct fy_scan_req {
    const struct fy_table *t;
    const char *region; /* non-NULL: only this region's rows (when t has a
                           region column) */
    bool lock;          /* hold the rows until the transaction ends */
    bool tombs;         /* also t's tombstones (del set, key columns only) */
};

/*
 * Inside a push transaction (fy_store_push_begin): every stored row of
 * req->t to cb (texts borrowed until it returns), locked when req->lock
 * (PostgreSQL FOR UPDATE; SQLite's writer lock holds everything anyway), so
 * that a decision made on them holds at commit. *max_hlc: the newest stamp
 * of those rows and of every tombstone of t.
 */
int fy_store_scan_rows(struct fy_store *st, const struct fy_scan_req *req,
                       fy_read_row_fn *cb, void *ud, uint64_t *max_hlc,
                       struct ferry_err *err);

/* ---- blobs (store/blob.c) --------------------------------------------- */

/*
 * Content-addressed files (docs/blobs.md), kept in the store in parts of
 * at most FY_BLOB_PART bytes so that every ferryd on the store serves
 * every blob. An upload is a row of {s}blobs: its size, the bytes held
 * (always the sum of its parts: each part is written with the new offset
 * in one transaction) and its generation, which starting over raises, so
 * that a request still writing an upload that was started over again
 * learns it (FERRY_ECONFLICT) instead of mixing two uploads' parts.
 */
#define FY_BLOB_PART ((size_t)1 << 20)

struct fy_blob_info {
    int64_t size;     /* the whole file's bytes */
    int64_t received; /* bytes held (size when complete) */
    bool complete;    /* verified against its hash */
    int64_t gen;      /* the current upload's generation */
};

/* FERRY_ENOTFOUND when the store holds nothing of sha256. */
int fy_store_blob_get(struct fy_store *st, const char *sha256,
                      struct fy_blob_info *info, struct ferry_err *err);
/*
 * Starts an upload of size bytes over (no parts, nothing received, a new
 * generation), unless the blob is complete: then *info says so and nothing
 * changes. One transaction.
 */
int fy_store_blob_start(struct fy_store *st, const char *sha256, int64_t size,
                        struct fy_blob_info *info, struct ferry_err *err);
/*
 * Stores n bytes (1 to FY_BLOB_PART) at off, and off + n as the bytes
 * held, in one transaction, only while the upload is generation gen,
 * incomplete and holds exactly off bytes, and off + n <= its size; else
 * FERRY_ECONFLICT with *info as it is (all zero when there is no upload).
 */
int fy_store_blob_append(struct fy_store *st, const char *sha256, int64_t gen,
                         int64_t off, const void *data, size_t n,
                         struct fy_blob_info *info, struct ferry_err *err);
/*
 * Marks generation gen complete (its content verified by the caller)
 * when it holds its whole size; else FERRY_ECONFLICT.
 */
int fy_store_blob_finish(struct fy_store *st, const char *sha256, int64_t gen,
                         struct ferry_err *err);
/*
 * Removes an incomplete upload and its parts if it is still generation
 * gen; *removed says whether it was.
 */
int fy_store_blob_discard(struct fy_store *st, const char *sha256, int64_t gen,
                          bool *removed, struct ferry_err *err);
/*
 * Reads the part that holds byte at of sha256's current upload or blob:
 * replaces data's contents with it and sets *part_off to its first byte's
 * offset. FERRY_ENOTFOUND when no part holds it.
 */
int fy_store_blob_part(struct fy_store *st, const char *sha256, int64_t at,
                       struct fy_buf *data, int64_t *part_off,
                       struct ferry_err *err);
/*
 * Removes incomplete uploads last written before before_ms (unix ms), each
 * in its own transaction; *removed counts them.
 */
int fy_store_blob_expire(struct fy_store *st, int64_t before_ms, long *removed,
                         struct ferry_err *err);
/*
 * For each of the n (at most FY_BLOB_MAX_CHECK) hashes, whether the store
 * holds that blob complete. Inside a push transaction or on its own.
 */
#define FY_BLOB_MAX_CHECK 16
int fy_store_blob_complete(struct fy_store *st, const char *const *sha256,
                           size_t n, bool *complete, struct ferry_err *err);

/* ---- rows (the row API) ------------------------------------------------ */

/*
 * The stored row of t whose key is key (t->npk values in primary-key
 * order, in the canonical forms fy_val_key_canon gives), to cb as
 * fy_store_read_changes hands rows over (texts borrowed until cb returns;
 * no position); *found says whether there was one (cb is called only
 * then). With lock, inside a push transaction, the row stays locked until
 * it ends (PostgreSQL FOR UPDATE; SQLite's writer lock holds everything).
 * tomb_hlc (may be NULL): when there is no row, the stamp of the key's
 * tombstone (0 when none); 0 when there is a row.
 */
int fy_store_row_get(struct fy_store *st, const struct fy_table *t,
                     const struct fy_val *key, bool lock, fy_read_row_fn *cb,
                     void *ud, bool *found, uint64_t *tomb_hlc,
                     struct ferry_err *err);

/*
 * Where one key stands, for GET /v1/trace (server/rows_trace.c): the row
 * to row_cb as fy_store_row_get hands it over, with its position (the
 * version pull follows); the key's tombstone, if any, in *tomb, even one
 * a newer row has made stale. Strings in *tomb are returned owned:
 * fy_store_trace_release().
 */
struct fy_trace_tomb {
    bool found;
    uint64_t hlc;
    char *origin;
    char *region; /* NULL: a delete by an unscoped key (every region's) */
    struct fy_read_pos pos;
};

int fy_store_row_trace(struct fy_store *st, const struct fy_table *t,
                       const struct fy_val *key, fy_read_row_fn *row_cb,
                       void *ud, struct fy_trace_tomb *tomb,
                       struct ferry_err *err);
void fy_store_trace_release(struct fy_trace_tomb *tomb);

/* A device as the store knows it, for a trace's ?device=. */
struct fy_trace_device {
    bool known;           /* it has pushed, or it has a key */
    int64_t acked_seq;    /* 0 before its first change */
    int64_t last_push_at; /* unix seconds, 0: never */
    bool has_key;         /* a key that is not revoked */
    char *region;         /* its newest such key's; NULL: every region */
};

/* Fills *d (strings owned: fy_store_trace_device_release). */
int fy_store_trace_device(struct fy_store *st, const char *device,
                          struct fy_trace_device *d, struct ferry_err *err);
void fy_store_trace_device_release(struct fy_trace_device *d);

/*
 * Inside a push transaction: makes every other transaction that locks one
 * of these rows (by table and canonical key: ch->table, ch->key) wait until
 * this one ends, on every ferryd of the store, so that a stamp read from a
 * row and written back above it cannot be overtaken. PostgreSQL:
 * transaction-level advisory locks in ascending id order; the SQLite store
 * has one writer at a time and needs none.
 */
int fy_store_row_lock(struct fy_store *st, struct fy_change *const *chs,
                      size_t n, struct ferry_err *err);

/* A request with an Idempotency-Key header, per API key. */
struct fy_idem {
    const char *key_id; /* the API key's id */
    const char *key;    /* the header's value */
    const char *hash;   /* hex SHA-256 of the request (method, path, body) */
};

enum fy_idem_state {
    FY_IDEM_NEW,  /* first of its key: run it, then fy_store_idem_done */
    FY_IDEM_SAME, /* answered before: *status and answer say how */
    FY_IDEM_OTHER /* the key was used for another request */
};

/*
 * Inside a push transaction, before its writes: claims id's key for this
 * request. A request with the same key still running elsewhere is waited
 * for, and its answer is then read. Records older than max_age_s count as
 * none. Appends a remembered answer to answer.
 */
int fy_store_idem_claim(struct fy_store *st, const struct fy_idem *id,
                        int64_t max_age_s, enum fy_idem_state *state,
                        int *status, struct fy_buf *answer,
                        struct ferry_err *err);
/* Records the answer of a claimed key, committed with the writes. */
int fy_store_idem_done(struct fy_store *st, const struct fy_idem *id,
                       int status, const char *answer, struct ferry_err *err);
/* Removes records older than max_age_s; *removed counts them. */
int fy_store_idem_expire(struct fy_store *st, int64_t max_age_s, long *removed,
                         struct ferry_err *err);

/* ---- runs (store/runs.c) ---------------------------------------------- */

/*
 * Tracked sync runs (docs/api.md#sync-runs): a status row per stream or
 * device (the committed cursor, the lease, counts) and a history row per
 * run. Times are unix milliseconds of the store's clock, so that every
 * ferryd of one store judges leases alike. Texts of the structs handed to
 * callbacks are borrowed until the callback returns.
 */
#define FY_RUN_CURSOR_MAX   4096  /* bytes of a cursor */
#define FY_RUN_ERROR_MAX    4096  /* bytes of an error message */
#define FY_RUN_METADATA_MAX 65536 /* bytes of metadata as compact JSON */
#define FY_RUN_INSTANCE_MAX 200   /* characters of an instance name */

/* A history row. */
struct fy_run {
    int64_t id;
    const char *kind;   /* "stream" or "device" */
    const char *name;   /* the stream's or device's */
    const char *status; /* running success failed abandoned refused
                           imported */
    const char *op;     /* device runs: push pull sync rows snapshot */
    int64_t started_ms;
    int64_t ended_ms;     /* 0: still running */
    int64_t duration_ms;  /* -1: none */
    int64_t records;      /* -1: none */
    int64_t requests;     /* device runs: requests added up */
    const char *error;    /* NULL: none */
    const char *metadata; /* a JSON object's text, or NULL */
    const char *instance; /* who ran it */
    const char *server;   /* the ferryd instance that began it */
    const char *key_id;   /* the API key that began it */
    const char *cursor;   /* the cursor it committed (or imported) */
    int64_t lease_ms;     /* its lease's length */
    int64_t lease_until_ms;
};

/* A status row. */
struct fy_run_status {
    const char *kind, *name;
    const char *cursor; /* streams: the committed cursor, NULL none */
    const char *status; /* pending running success failed abandoned */
    const char *last_error;
    int64_t last_success_ms, last_attempt_ms; /* 0: never */
    int64_t successes, failures;
    int64_t last_records; /* -1: none */
    /* The live or expired lease (lease_run 0: none). */
    int64_t lease_run, lease_until_ms;
    const char *lease_instance;
    int64_t now_ms; /* the store's clock when read */
};

struct fy_run_begin {
    const char *stream;
    const char *key_id;
    const char *instance;
    const char *server;
    const char *idem; /* Idempotency-Key, or NULL */
    int64_t lease_ms;
};

/*
 * What a begin, heartbeat, finish or cursor import found or did. Each of
 * them overwrites *out: release a result before it is used again.
 */
struct fy_run_result {
    struct fy_run run;           /* the run (begin: the new one) */
    struct fy_run_status status; /* its stream's row (holder on conflict) */
    bool again;                  /* begin: a retried begin's running run */
    struct fy_arena mem;         /* owns run's and status's texts:
                                    fy_run_result_release */
};

void fy_run_result_release(struct fy_run_result *r);

/*
 * Begins a run of b->stream: records a run that expired without a
 * heartbeat abandoned first; FERRY_ECONFLICT (wire lease_held) with the
 * holder in out->status while a live run holds the lease (the refused
 * attempt is recorded); else a new running run holding the lease, with
 * the committed cursor in out->status.cursor.
 */
int fy_store_run_begin(struct fy_store *st, const struct fy_run_begin *b,
                       struct fy_run_result *out, struct ferry_err *err);

/*
 * Extends run id's lease to lease_ms (0: its own length) from now.
 * FERRY_ENOTFOUND (run_not_found) when there is no such run of key_id;
 * FERRY_ECONFLICT (run_finished) when it ended; FERRY_EEXPIRED
 * (lease_expired) when its lease passed: it is then recorded abandoned.
 */
int fy_store_run_heartbeat(struct fy_store *st, int64_t id, const char *key_id,
                           int64_t lease_ms, struct fy_run_result *out,
                           struct ferry_err *err);

struct fy_run_finish {
    int64_t id;
    const char *key_id;
    bool success;
    int64_t records;
    bool set_cursor;      /* success: commit cursor */
    const char *cursor;   /* may be NULL (a null cursor) */
    const char *metadata; /* JSON object text, or NULL */
    const char *error;    /* failure: required */
};

/*
 * Ends a running run that holds its lease, in one transaction with its
 * stream's status row (and, on success, the cursor). Errors as for
 * fy_store_run_heartbeat.
 */
int fy_store_run_finish(struct fy_store *st, const struct fy_run_finish *f,
                        struct fy_run_result *out, struct ferry_err *err);

/*
 * Sets stream's committed cursor without a run (an import), recorded in
 * history as "imported" with source as its metadata's "source".
 * FERRY_ECONFLICT (lease_held) while a live run holds the lease. The
 * previous cursor is in out->status.cursor, the new one in out->run.cursor.
 */
int fy_store_cursor_set(struct fy_store *st, const struct fy_run_begin *b,
                        const char *cursor, const char *source,
                        struct fy_run_result *out, struct ferry_err *err);

struct fy_status_req {
    const char *kind; /* "stream", "device" or NULL: both */
    const char *name; /* NULL: every one of the kind */
    size_t history;   /* history rows per status row, newest first */
};

typedef int fy_status_fn(const struct fy_run_status *s, void *ud);
typedef int fy_run_fn(const struct fy_run *r, void *ud);

/*
 * Each status row the request selects (streams first, then devices, each
 * by name) to scb, followed by its newest req->history history rows to rcb
 * (by their start, newest first).
 */
int fy_store_run_status(struct fy_store *st, const struct fy_status_req *req,
                        fy_status_fn *scb, fy_run_fn *rcb, void *ud,
                        struct ferry_err *err);

/*
 * A device's requests of one run (one request, or several a ferryd added
 * up: server/devruns.c), recorded as (part of) that run.
 */
struct fy_device_run {
    const char *device;
    const char *token;  /* Ferry-Run; NULL: grouped per device and minute */
    const char *op;     /* push pull rows snapshot download, or sync */
    const char *server; /* the ferryd instance */
    int64_t records;    /* of all the requests */
    const char *error;  /* the last failed request's; NULL: none failed */
    /*
     * Several requests: how many, how many failed, whether the last one
     * succeeded and its records, their first and last time (unix ms).
     * requests 0 is one request now (by the store's clock), failed when
     * error is set.
     */
    int64_t requests, failures, last_records;
    bool last_ok;
    int64_t first_ms, last_ms;
};

/*
 * r, a single request (requests 0), as the totals of one request at at_ms
 * (unix ms; 0: the store's clock when it is written).
 */
struct fy_device_run fy_device_run_one(const struct fy_device_run *r,
                                       int64_t at_ms);

/*
 * Records r in the device's status row and its run's history row: inside
 * an open write transaction (in_tx) as part of it; else in a transaction
 * of its own.
 */
int fy_store_device_run(struct fy_store *st, const struct fy_device_run *r,
                        bool in_tx, struct ferry_err *err);
/* n records in one transaction of their own (server/devruns.c's flush). */
int fy_store_device_runs(struct fy_store *st, const struct fy_device_run *v,
                         size_t n, struct ferry_err *err);

/* One row of the devices table (store/devices.c), for GET /metrics. */
struct fy_device_row {
    const char *device;  /* borrowed until the callback returns */
    int64_t acked_seq;   /* the highest seq its pushes had acknowledged */
    int64_t last_push_s; /* unix seconds of its last push; 0: none */
};

typedef int fy_device_row_fn(const struct fy_device_row *d, void *ud);

/*
 * Each device the store has seen push, by name, at most limit of them
 * (one SELECT; a nonzero return of cb stops and is returned).
 */
int fy_store_devices_each(struct fy_store *st, size_t limit,
                          fy_device_row_fn *cb, void *ud,
                          struct ferry_err *err);

/*
 * Records check (a health check's "KIND:NAME") as stale or not in the
 * meta table, and says whether this call changed it (*changed): of several
 * ferryd judging the same transition, one changes the record and sends
 * the alert. A check first seen is recorded as not stale before, so that
 * one first seen stale alerts once.
 */
int fy_store_alert_claim(struct fy_store *st, const char *check, bool stale,
                         bool *changed, struct ferry_err *err);

/* The store's clock in unix ms, which judges leases and ages history. */
int fy_store_now_ms(struct fy_store *st, int64_t *now, struct ferry_err *err);

/*
 * Records every running run whose lease passed abandoned, each in its own
 * transaction; *abandoned counts them.
 */
int fy_store_runs_sweep(struct fy_store *st, long *abandoned,
                        struct ferry_err *err);

/*
 * Removes history rows that began before before_ms and have ended, if no
 * other ferryd of the store is doing it right now (PostgreSQL: a
 * transaction-level advisory lock taken without waiting); *pruned counts
 * them, -1 when another one was. Status rows stay.
 */
int fy_store_history_prune(struct fy_store *st, int64_t before_ms, long *pruned,
                           struct ferry_err *err);

/*
 * ferryd migrate's compatibility views (store/compat.c): read-only views
 * named PREFIX + "sync_status" and PREFIX + "sync_history" in schema
 * (PostgreSQL; NULL: "public"; SQLite has one schema) with the names and
 * columns of the form-sync service's own tables (docs/walkthroughs/
 * form-sync-service.md), over ferry's stream runs. Created or replaced;
 * FERRY_EINVAL for a prefix or schema that is not a plain identifier.
 */
int fy_store_compat_views(struct fy_store *st, const char *prefix,
                          const char *schema, struct ferry_err *err);
/* The names' check alone, before anything is written: 0 or FERRY_EINVAL. */
int fy_store_compat_names(const char *prefix, const char *schema,
                          struct ferry_err *err);

/* ---- dashboard (store/dash.c) ----------------------------------------- */

/* A log-in session of the dashboard (server/dash.c). */
struct fy_dash_session {
    char key_id[17];
    char csrf[65];
    int64_t created_ms, last_ms, now_ms; /* the store's clock */
};

/* Records a new session: the token's hash, never the token. */
int fy_store_dash_session_put(struct fy_store *st, const char *token_hash,
                              const char *key_id, const char *csrf,
                              struct ferry_err *err);
/*
 * The session of token_hash if it is younger than max_ms, was used in
 * the last idle_ms and its key is still a valid admin key; else
 * FERRY_ENOTFOUND.
 */
int fy_store_dash_session_get(struct fy_store *st, const char *token_hash,
                              int64_t idle_ms, int64_t max_ms,
                              struct fy_dash_session *out,
                              struct ferry_err *err);
/* Marks the session used, unless it was in the last every_ms (never
   waits for a lock). */
int fy_store_dash_session_touch(struct fy_store *st, const char *token_hash,
                                int64_t every_ms, struct ferry_err *err);
/* Ends one session (token_hash), or every one of key_id (NULL hash). */
int fy_store_dash_session_end(struct fy_store *st, const char *token_hash,
                              const char *key_id, struct ferry_err *err);
/* Removes the sessions past either time-out; *removed counts them. */
int fy_store_dash_sessions_expire(struct fy_store *st, int64_t idle_ms,
                                  int64_t max_ms, long *removed,
                                  struct ferry_err *err);

/* Rows of a contract table in one region (NULL: none, or no region column). */
struct fy_dash_count {
    const char *region;
    int64_t rows;
    int64_t last_ms; /* the newest row's HLC time, unix ms; 0: none */
};
typedef int fy_dash_count_fn(const struct fy_dash_count *c, void *ud);
/* t's rows per region (at most 200 regions), or in all when it has none. */
int fy_store_dash_table_counts(struct fy_store *st, const struct fy_table *t,
                               fy_dash_count_fn *fn, void *ud,
                               struct ferry_err *err);

/* What the store knows of a device (0 and NULL: not known). */
struct fy_dash_device {
    const char *device;
    int64_t acked_seq, pushes, changes;
    int64_t last_push_ms, last_pull_ms; /* unix ms */
    const char *status, *last_error;    /* its run status row's */
    int64_t last_success_ms, last_attempt_ms, failures;
    int64_t now_ms; /* the store's clock */
};
typedef int fy_dash_device_fn(const struct fy_dash_device *d, void *ud);
/* Every device (at most 500), by name. */
int fy_store_dash_devices(struct fy_store *st, fy_dash_device_fn *fn, void *ud,
                          struct ferry_err *err);

/* Runs that started in one minute (minute: unix ms / 60000). */
struct fy_dash_minute {
    int64_t minute, records, runs, failures;
};
typedef int fy_dash_minute_fn(const struct fy_dash_minute *m, void *ud);
/* The minutes since since_ms (store clock) that had runs, oldest first. */
int fy_store_dash_minutes(struct fy_store *st, int64_t since_ms,
                          fy_dash_minute_fn *fn, void *ud,
                          struct ferry_err *err);

/* ---- change notices ----------------------------------------------------- */

/*
 * Subscribes this connection to notices of committed pushes, from any
 * ferryd on the store (PostgreSQL LISTEN; pushes NOTIFY in their commit).
 * FERRY_EUNSUPPORTED when the engine has none (the SQLite store: one
 * ferryd process, which knows its own pushes). Call again after a failed
 * wait: it reconnects.
 */
int fy_store_listen(struct fy_store *st, struct ferry_err *err);
/* Waits up to ms for notices; *got says whether one or more came. */
int fy_store_wait_notice(struct fy_store *st, int ms, bool *got,
                         struct ferry_err *err);

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
