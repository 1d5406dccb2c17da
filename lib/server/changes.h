/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/changes: the rows other devices wrote that a key may read, oldest
 * first, from a cursor (docs/api.md). The order and the no-skip rule come
 * from the store (fy_store_read_changes); this module owns the cursor's
 * text, the key's read scope and the JSON of the answer.
 */
#ifndef FY_CHANGES_H
#define FY_CHANGES_H

#include <jansson.h>

#include "store/store.h"

#define FY_CHANGES_LIMIT_MAX     5000
#define FY_CHANGES_LIMIT_DEFAULT 1000

/*
 * Answers one request: since and limit are the query's texts (NULL when
 * absent). On success *out is the answer (new reference). Fails with
 * FERRY_EPARSE (wire bad_parameter) for a cursor or limit ferryd did not
 * hand out or accept, FERRY_EEXPIRED (410 cursor_expired) for a cursor
 * older than the tombstone retention, or a store error.
 */
int fy_changes_run(struct fy_store *st, const struct fy_contract *c,
                   const struct fy_key *key, const char *since,
                   const char *limit, json_t **out, struct ferry_err *err);

/* The longest ?wait= a pull may ask for, in seconds. */
#define FY_CHANGES_WAIT_MAX 60

/*
 * The ?wait= text (NULL: 0) as milliseconds: whole seconds 0 to
 * FY_CHANGES_WAIT_MAX, else FERRY_EPARSE (bad_parameter).
 */
int fy_changes_wait_ms(const char *text, int64_t *ms, struct ferry_err *err);

/*
 * The ?device= text (NULL: not given, 0): a client that names its device
 * must hold that device's key, else FERRY_EFORBIDDEN (403 forbidden), as
 * a push body's "device" is checked.
 */
int fy_changes_device_ok(const struct fy_key *key, const char *device,
                         struct ferry_err *err);

#endif
