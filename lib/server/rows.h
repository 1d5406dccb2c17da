/* SPDX-License-Identifier: MIT */
/*
 * The row API for hand-written clients (docs/api.md, "Rows"): POST
 * /v1/tables/{table}/rows (one object or an array, upsert), and GET, PATCH
 * and DELETE of /v1/tables/{table}/rows/{key}. Rows are checked as pushed
 * rows are (server/validate.c), stamped with a server HLC above the stored
 * row's, and written through the push transaction of the key's device; an
 * Idempotency-Key header makes a retried write answer what the first one
 * answered.
 */
#ifndef FY_ROWS_H
#define FY_ROWS_H

#include <stdbool.h>

#include <jansson.h>

#include "server/api.h"
#include "store/store.h"

/* Most rows of one POST. */
#define FY_ROWS_MAX 1000
/* How long an Idempotency-Key's answer is remembered. */
#define FY_ROWS_IDEM_TTL_S 86400

/* The routes, for api.c's route_tables[]. */
extern const struct fy_http_route fy_rows_routes[];
extern const size_t fy_rows_nroutes;
/* GET /v1/trace/{table}/{key} (rows_trace.c), for the same table. */
extern const struct fy_http_route fy_trace_routes[];
extern const size_t fy_trace_nroutes;

/*
 * Writes one row of t as a POST (patch false: created or updated) or a
 * PATCH (patch true: updated; FERRY_ENOTFOUND with err->wire
 * ROW_NOT_FOUND when there is none) of the row API would, with the same
 * checks and stamping, in a transaction of its own. row (borrowed) holds
 * the key columns and the columns to set. On success *outcome is
 * FY_ROW_CREATED or FY_ROW_UPDATED and waiting pulls are woken. On failure
 * err->wire and err->status say what to answer (fy_api_failure).
 */
int fy_rows_set(struct fy_api *api, const struct fy_key *key,
                const struct fy_table *t, json_t *row, bool patch,
                enum fy_row_outcome *outcome, struct ferry_err *err);

/*
 * Whether fy_rows_set(..., patch true) of row would find its row: 0 when
 * row's values pass the checks and the row exists in the key's scope;
 * else the failure the write would answer (row_not_found, region_scope,
 * a value's code), with nothing written. For a caller with work to do
 * before the write (attach.c stores a file first); the write still checks
 * everything again under its locks.
 */
int fy_rows_check(struct fy_api *api, const struct fy_key *key,
                  const struct fy_table *t, json_t *row, struct ferry_err *err);

#endif
