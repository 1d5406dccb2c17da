/* SPDX-License-Identifier: MIT */
/*
 * ferryd's HTTP API (docs/api.md): routing, authentication and the JSON
 * shape of answers. The transport rules (size limits, gzip) sit below it in
 * http/server.c; the work of each endpoint sits in its own module.
 */
#ifndef FY_API_H
#define FY_API_H

#include "http/server.h"
#include "store/pool.h"

struct fy_api {
    struct fy_store_pool *pool;         /* borrowed */
    const struct fy_contract *contract; /* borrowed */
    int pool_wait_ms;
};

/*
 * ferryd's handlers; ud is a struct fy_api. fy_api_headers routes the
 * request and verifies its key before any body byte is read (404, 405,
 * 401, 415 and 503 answered there); fy_api_handle runs the route on the
 * complete body; fy_api_done releases what fy_api_headers kept in req->ctx.
 */
void fy_api_headers(struct fy_http_req *req, struct fy_http_resp *resp,
                    void *ud);
void fy_api_handle(struct fy_http_req *req, struct fy_http_resp *resp,
                   void *ud);
void fy_api_done(struct fy_http_req *req, void *ud);

/* The three above, for fy_http_server_start(). */
extern const struct fy_http_handlers fy_api_handlers;

#endif
