/* SPDX-License-Identifier: MIT */
/*
 * Snapshots (docs/api.md): POST /v1/snapshots merges a whole SQLite
 * database file from an old client into the contract's tables within the
 * key's scope; GET /v1/snapshots/latest builds one from a consistent store
 * snapshot. A file from a client is never trusted: its header is checked
 * before SQLite sees it, it is opened read-only and immutable with
 * SQLite's defensive settings and an authorizer that allows reading only,
 * it must pass PRAGMA quick_check, and every value goes through the same
 * conversion as a pushed one (fy_val_from_json). The merge rules are in
 * docs/guarantees.md ("Snapshot uploads: merge rules").
 */
#ifndef FY_SNAPSHOT_H
#define FY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store/pool.h"
#include "store/store.h"

/* What an upload did, row by row. */
struct fy_snapshot_counts {
    long created, updated, deleted, unchanged, ignored, stale;
};

/* The name of the table a downloaded file carries its cursor in. */
#define FY_SNAPSHOT_MARKER "_ferry_snapshot"

/*
 * Checks the first bytes of a file that claims to be a SQLite database
 * (at least 100, the header) against its real size: the magic string, a
 * page size SQLite can have, the fixed payload fractions, and a declared
 * page count that matches the size (a file that declares more pages than
 * it holds, or holds bytes past them, is refused). FERRY_EPARSE with why.
 */
int fy_snapshot_check_header(const unsigned char *head, size_t n, uint64_t size,
                             struct ferry_err *err);

/*
 * Opens the SQLite file at path read-only for reading untrusted content:
 * its header checked first (fy_snapshot_check_header), then immutable (no
 * journal or WAL is looked at, nothing written), defensive, schema untrusted,
 * triggers and views off, no ATTACH, an authorizer that allows reading only, a
 * bound on the work of any statement; then PRAGMA quick_check must say "ok".
 * *db returned owned (sqlite3_close). EPARSE for a file that is not a database
 * or is corrupt.
 */
int fy_snapshot_open(const char *path, sqlite3 **db, struct ferry_err *err);

/*
 * POST /v1/snapshots: the body is in body_fd (body_size bytes; borrowed),
 * a raw SQLite file or a multipart/form-data body with the file in field
 * "db" (content_type decides). tmp_dir holds the private copy SQLite
 * opens. A store connection is taken from pool (waiting up to wait_ms)
 * only once the file has been read. On success fills *counts. Errors:
 * FERRY_EPARSE (400 malformed: not SQLite, corrupt, a bad multipart body or
 * marker), FERRY_ECONTRACT (422: a contract table the file has as something
 * else, a missing column, a value of the wrong type, a missing key, a key
 * twice), FERRY_EFORBIDDEN (403), or the store's errors.
 */
int fy_snapshot_upload(struct fy_store_pool *pool, int wait_ms,
                       const struct fy_contract *c, const struct fy_key *key,
                       int body_fd, uint64_t body_size,
                       const char *content_type, const char *tmp_dir,
                       struct fy_snapshot_counts *counts,
                       struct ferry_err *err);

/* The answer's JSON (new reference). */
json_t *fy_snapshot_counts_json(const struct fy_snapshot_counts *counts);

/*
 * GET /v1/snapshots/latest. fy_snapshot_etag gives the quoted entity tag
 * of what the key may read now without building anything; it changes
 * whenever a row the key may read changes (and with the contract).
 * fy_snapshot_build writes the file into tmp_dir and returns it open and
 * already unlinked in *fd (taken by the caller) with its size and tag.
 */
#define FY_SNAPSHOT_ETAG_LEN 80
int fy_snapshot_etag(struct fy_store *st, const struct fy_contract *c,
                     const struct fy_key *key, char etag[FY_SNAPSHOT_ETAG_LEN],
                     struct ferry_err *err);
int fy_snapshot_build(struct fy_store *st, const struct fy_contract *c,
                      const struct fy_key *key, const char *tmp_dir, int *fd,
                      uint64_t *size, char etag[FY_SNAPSHOT_ETAG_LEN],
                      struct ferry_err *err);

#endif
