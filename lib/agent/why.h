/* SPDX-License-Identifier: MIT */
/*
 * `ferry why TABLE KEY`: where one row stands, from the agent's tables
 * (captured and queued, in flight, parked, acknowledged) and from ferryd's
 * GET /v1/trace (stored, deleted, superseded, outside the read scope),
 * put together as plain sentences, one fact each. docs/operations.md,
 * "Why didn't this row sync?".
 */
#ifndef FY_AGENT_WHY_H
#define FY_AGENT_WHY_H

#include <jansson.h>
#include <sqlite3.h>

#include "ferry/ferry_err.h"

struct fy_agent;

/*
 * The agent's side of table's row whose key is key_text (spelled as the
 * row API's {key}: the value itself, or a JSON array in key order for a
 * composite key), as JSON in *out (returned owned, json_decref): whether
 * the table is tracked, the local row's values, the key's outbox entries
 * (captured time, entries ahead, seq and batch once numbered), its dead
 * letters, the acknowledged seq and the recent batches. FERRY_EINVAL (err
 * says why) for a key that does not fit the local table's key.
 */
int fy_why_local(sqlite3 *db, const char *table, const char *key_text,
                 json_t **out, struct ferry_err *err);

/*
 * ferryd's side: GET /v1/trace/{table}/{key}?device=DEVICE through the
 * agent's retrying request (the agent must carry an admin key). *out is
 * the answer (owned). Errors: the answer's (FERRY_EAUTH, FERRY_EFORBIDDEN
 * for a key that is not an admin key, FERRY_ENOTFOUND unknown table,
 * FERRY_EPARSE bad key) or the network's.
 */
int fy_why_server(struct fy_agent *a, const char *table, const char *key_text,
                  const char *device, json_t **out, struct ferry_err *err);

/*
 * When server's row is this device's write (its origin is the device the
 * trace asked about): the batch that carried it, found by its HLC among
 * the recorded batches, as local's "stored_batch".
 */
void fy_why_join(sqlite3 *db, json_t *local, json_t *server);

/*
 * The facts, in order, as an array of sentences (returned owned), from
 * local (fy_why_local) and server (NULL when not asked or not answered;
 * missing then says why, e.g. "FERRY_ADMIN_KEY is not set").
 */
json_t *fy_why_facts(json_t *local, json_t *server, const char *missing);

#endif
