/* SPDX-License-Identifier: MIT */
/*
 * ferryd's HTTP API (docs/api.md): the route table, authentication and the
 * JSON shape of answers. The transport rules (routing, policies, size
 * limits, gzip) sit below it in http/server.c; the work of each endpoint
 * sits in its own module.
 */
#ifndef FY_API_H
#define FY_API_H

#include <jansson.h>

#include "http/server.h"
#include "server/devruns.h"
#include "server/health.h"
#include "server/notify.h"
#include "store/pool.h"

struct fy_admit;

struct fy_api {
    struct fy_store_pool *pool;         /* borrowed */
    const struct fy_contract *contract; /* borrowed */
    int pool_wait_ms;
    const char *service; /* /health's "service" name */
    const char *tmp_dir; /* snapshots' files; NULL: $TMPDIR or /tmp */
    int64_t tombstone_retention_ms; /* 0: keep tombstones forever */
    int64_t next_prune_ms;          /* atomic: when a pull may prune again */
    struct fy_notify *notify;       /* wakes waiting pulls; may be NULL */
    uint64_t blob_max_bytes;        /* 0: FY_BLOB_MAX_BYTES (blob.h) */
    int64_t blob_upload_ttl_ms;     /* 0: FY_BLOB_UPLOAD_TTL_S */
    int64_t next_blob_expire_ms;    /* atomic: when to expire uploads again */
    const char *instance;       /* this ferryd in run history ("HOST/PID") */
    struct fy_devruns *devruns; /* device runs not yet written */
    /* The Ferry-Contract versions accepted (0, 0: no check). */
    long contract_min, contract_max;
    bool metrics_admin;                    /* GET /metrics wants an admin key */
    const struct fy_health_expect *expect; /* /health's checks; NULL: none */
    size_t metrics_devices; /* most devices /metrics lists; 0: none */
    /* Dashboard sessions' time-outs (server/dash.h) and the cookie's
       Secure flag (served over TLS). */
    int64_t dash_idle_ms, dash_max_ms;
    bool dash_secure;
    struct fy_admit *admit; /* per-key rate limits (admit.h); NULL: none */
};

/*
 * ferryd's routes (docs/api.md), each with its auth and body policy; the
 * handlers take a struct fy_api as ud. The core routes are api.c's; a
 * module that answers endpoints of its own (blobs, rows) keeps its route
 * table beside its handlers and one line in api.c's route_tables[]. Aliases
 * from the settings are added to the router afterwards.
 */
extern const struct fy_http_route fy_api_routes[];
extern const size_t fy_api_nroutes;

/* Every module's routes, *n of them (`ferryd routes`); static, borrowed. */
const struct fy_http_route *fy_api_all_routes(size_t *n);

/* A router over every module's routes; *out returned owned
   (fy_http_router_free). */
int fy_api_router_new(struct fy_http_router **out, struct ferry_err *err);

/*
 * The server hooks: fy_api_auth verifies the request's API key on the
 * headers (401; 403 for a non-admin key on an admin route; 503 when the
 * store cannot say; a dashboard page without a valid session is a 303 to
 * the log-in form); fy_api_done releases what it kept in req->ctx.
 */
int fy_api_auth(struct fy_http_req *req, enum fy_http_auth policy,
                struct fy_http_resp *resp, void *ud);
void fy_api_done(struct fy_http_req *req, void *ud);

/*
 * For the modules' handlers. The request's verified key (a route with an
 * auth policy other than FY_AUTH_NONE; borrowed until the request ends).
 */
const struct fy_key *fy_api_key(const struct fy_http_req *req);
/* A dashboard session's CSRF token (FY_AUTH_SESSION routes; borrowed). */
const char *fy_api_csrf(const struct fy_http_req *req);

/* Answers status with j (reference stolen; NULL answers 500). */
void fy_api_json(struct fy_http_resp *resp, int status, json_t *j);

/*
 * Answers a failure with the wire code the error table gives it. A 5xx
 * gets a generic message (and 503 a Retry-After): the store's own text goes
 * to the log only. details (reference stolen, may be NULL) become
 * error.changes of a 4xx.
 */
void fy_api_failure(struct fy_http_resp *resp, int rc,
                    const struct ferry_err *err, json_t *details);

/*
 * The request's Idempotency-Key header: *key NULL when there is none;
 * FERRY_EPARSE (400 bad_parameter) unless it is 1 to 255 printable ASCII
 * characters.
 */
int fy_api_idem_key(const struct fy_http_req *req, const char **key,
                    struct ferry_err *err);

/* The two above, for fy_http_server_start(). */
extern const struct fy_http_handlers fy_api_handlers;

#endif
