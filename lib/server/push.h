/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/push: validate an agent's batch against the contract and the
 * key's scope, then apply it in one store transaction together with the
 * device's acknowledged seq (exactly-once effect for re-sent batches).
 */
#ifndef FY_PUSH_H
#define FY_PUSH_H

#include <jansson.h>

#include "store/store.h"
#include "util/arena.h"

struct fy_push_result {
    int64_t acked_seq;
    long applied; /* changes above the previous acknowledged seq */
    long skipped; /* changes at or below it: already applied */
    struct fy_apply_stats st;
};

#define FY_PUSH_MAX_CHANGES 20000

/*
 * Parses and applies one request body. On success fills *res. On failure
 * returns a negative code with err->status set to the HTTP status and, for
 * per-change problems, *details set to a JSON array of
 * {"seq", "code", "message"} (new reference, caller decrefs). Nothing is
 * stored unless the whole batch is valid. Memory comes from arena a.
 */
int fy_push_run(struct fy_store *st, const struct fy_contract *c,
                const struct fy_key *key, const char *body, size_t len,
                struct fy_arena *a, struct fy_push_result *res,
                json_t **details, struct ferry_err *err);

/*
 * A test hook for the pull and row API scenarios:
 * FERRY_TEST_HOLD_COMMIT="DEVICE:MS" keeps that device's push transactions
 * (and its row API writes) open MS milliseconds before they commit, so
 * that later ones commit first (a "late commit") or wait for them.
 */
void fy_push_hold_commit(const char *device);

/* Response body for a successful push (new reference). */
json_t *fy_push_result_json(const struct fy_push_result *res);

#endif
