/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics (docs/api.md#get-metrics): process-wide counters in the
 * Prometheus text format. Counting is a relaxed atomic add into fixed
 * arrays (no lock, no allocation on the hot path); every label value
 * comes from a bounded set (the route table's patterns, a list of methods
 * and statuses, the contract's tables), never from a request's own text.
 * What the store knows (leases, devices) is read when scraped.
 */
#ifndef FY_SERVER_METRICS_H
#define FY_SERVER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "http/server.h"
#include "store/store.h"

struct fy_api;
struct fy_contract;
struct fy_store_pool;

extern const struct fy_http_route fy_metrics_routes[];
extern const size_t fy_metrics_nroutes;

/* The most routes labelled; api.c's table has at most as many. */
#define FY_METRICS_MAX_ROUTES 64

/*
 * The routes requests are labelled by (borrowed for the process's
 * lifetime; a route outside them counts as "unmatched"). Once, before the
 * server starts.
 */
void fy_metrics_set_routes(const struct fy_http_route *routes, size_t n);
/*
 * The contract whose tables label rows (borrowed until fy_metrics_reset);
 * changes of any other table are not counted. FERRY_ENOMEM.
 */
int fy_metrics_set_contract(const struct fy_contract *c);
/* Forgets the contract and zeroes every counter (serve's end, tests). */
void fy_metrics_reset(void);

/* A request that ended: its route, method, status, time and body bytes. */
void fy_metrics_request(const struct fy_http_req *req);
/* n rows of table t applied with outcome o (FY_ROW_PENDING: skipped). */
void fy_metrics_rows(const struct fy_table *t, enum fy_row_outcome o,
                     uint64_t n);
/* n changes of a push refused whole (its 4xx answer lists them). */
void fy_metrics_push_rejected(uint64_t n);
/* Blob bytes written to the store (uploads) or sent (downloads). */
void fy_metrics_blob_bytes(bool served, uint64_t n);
/* A request answered 500 or 503 because of the store. */
void fy_metrics_store_error(int status);

/* A label value into b: backslash, double quote and newline escaped. */
void fy_metrics_label(struct fy_buf *b, const char *v);

/*
 * The exposition into out (cleared first): the counters, then the pool's
 * figures and, when st is not NULL, the leases and up to max_devices
 * devices read from it. A store failure leaves those out, says so in
 * ferry_metrics_store_up 0, and is not an error.
 */
int fy_metrics_render(struct fy_buf *out, struct fy_store_pool *pool,
                      struct fy_store *st, size_t max_devices);

#endif
