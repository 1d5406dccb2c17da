/* SPDX-License-Identifier: MIT */
/*
 * Tracked sync runs over HTTP (docs/api.md#sync-runs): the routes of
 * streams' runs and of GET /v1/status, and the record of devices' syncing
 * requests in the same status and history tables.
 */
#ifndef FY_SERVER_RUNS_H
#define FY_SERVER_RUNS_H

#include "server/api.h"
#include "store/store.h"

extern const struct fy_http_route fy_runs_routes[];
extern const size_t fy_runs_nroutes;

/*
 * Records a device's request that synced (op "push", "pull", "rows",
 * "snapshot", "download") as part of its run (the Ferry-Run header's, else
 * the minute's): records on a 2xx status, else the failure with error.
 * Not for a 5xx (the server's failure) or a request without a key. Added
 * up in api->devruns and written about once a second (devruns.h).
 */
void fy_runs_device(struct fy_api *api, const struct fy_http_req *req,
                    const char *op, int64_t records, int status,
                    const char *error);

#endif
