/* SPDX-License-Identifier: MIT */
/*
 * ferryd's blob endpoints (docs/blobs.md): PUT /v1/blobs/{sha256} takes a
 * file, or a part of it, as it arrives and keeps it in the store in parts
 * (store/blob.c), resumable with Content-Range; HEAD says how much the
 * store holds; GET serves a complete blob with ETag and Range. Also the
 * check that rows name only blobs the store holds, and storing a file
 * already on disk (multipart uploads).
 */
#ifndef FY_SERVER_BLOB_H
#define FY_SERVER_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/route.h"
#include "store/pool.h"
#include "store/store.h"

/* The blob routes (PUT, HEAD, GET), for api.c's route_tables[]. */
extern const struct fy_http_route fy_blob_routes[];
extern const size_t fy_blob_nroutes;

/* ferryd's defaults: 100 MiB per blob, incomplete uploads kept a day. */
#define FY_BLOB_MAX_BYTES    ((uint64_t)100 << 20)
#define FY_BLOB_UPLOAD_TTL_S 86400

/*
 * Parses a Content-Range request header "bytes START-END/TOTAL" (digits
 * only, START <= END < TOTAL, each at most 2^62). 0 with the values set;
 * FERRY_EPARSE for anything else, with err saying what.
 */
int fy_blob_content_range(const char *h, uint64_t *start, uint64_t *end,
                          uint64_t *total, struct ferry_err *err);

/*
 * Inside the write transaction of a push or a row-API write: 0 when every
 * non-NULL blob-column value of the non-delete changes names a blob the
 * store holds complete; else FERRY_ECONTRACT with err->wire =
 * FERRY_WIRE_MISSING_BLOB, a message naming table, column and hash, and
 * *bad the first such change. Other failures are the store's.
 */
int fy_blob_refs_check(struct fy_store *st, struct fy_change *const *chs,
                       size_t n, const struct fy_change **bad,
                       struct ferry_err *err);

/*
 * Stores len bytes of fd from off as a complete blob (hashed while read;
 * the file must not change meanwhile), each part in a transaction of its
 * own with a store connection borrowed for it. sha256_out gets the hash;
 * *created is false when the store held it already. FERRY_ETOOBIG past
 * max_bytes; FERRY_ECONFLICT when another upload of the same content
 * started over meanwhile (retry); the store's errors.
 */
int fy_blob_store_fd(struct fy_store_pool *pool, int pool_wait_ms, int fd,
                     uint64_t off, uint64_t len, size_t max_bytes,
                     char sha256_out[65], bool *created, struct ferry_err *err);

#endif
