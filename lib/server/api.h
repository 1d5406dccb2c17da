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

/* The fy_http_handler for ferryd; ud is a struct fy_api. */
void fy_api_handle(struct fy_http_req *req, struct fy_http_resp *resp,
                   void *ud);

#endif
