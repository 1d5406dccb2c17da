/* SPDX-License-Identifier: MIT */
/*
 * Routes, authentication and error mapping for ferryd; see api.h.
 */
#include "server/api.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "server/keys.h"
#include "server/push.h"
#include "fy.h"

#define RETRY_AFTER_S 2

struct api_req;

struct route {
    const char *method;
    const char *path;
    bool needs_key;
    void (*fn)(struct fy_api *api, struct api_req *ar, struct fy_http_req *req,
               struct fy_http_resp *resp);
};

/* Per-request state, from the headers to the end of the request. */
struct api_req {
    const struct route *route;
    struct fy_key key; /* verified before the body was read */
};

static void set_json(struct fy_http_resp *resp, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (!text) {
        fy_http_error(resp, 500, "internal", "out of memory", NULL);
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    fy_buf_reset(&resp->body);
    fy_buf_adds(&resp->body, text);
    fy_buf_addc(&resp->body, '\n');
    free(text);
}

/*
 * Maps a store failure to 503 (with Retry-After) or 500. The client gets a
 * generic message: the store's own (table names, SQL, hosts) goes to the
 * log only, for the operator.
 */
static void store_error(struct fy_http_resp *resp, int rc, const char *msg)
{
    if (ferry_err_is_transient(rc)) {
        fy_warn("store", "request answered 503: %s", msg);
        fy_http_error(resp, 503, "store_unavailable",
                      "the store is unavailable; retry later", NULL);
        resp->retry_after = RETRY_AFTER_S;
    } else {
        fy_error("store", "request answered 500: %s", msg);
        fy_http_error(resp, 500, "internal",
                      "internal error; the server log has the detail", NULL);
    }
}

static void handle_health(struct fy_api *api, struct api_req *ar,
                          struct fy_http_req *req, struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    bool up;

    (void)req, (void)ar;
    up = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err) == 0 &&
         fy_store_ping(st, &err) == 0;
    if (st)
        fy_store_pool_put(api->pool, st);
    set_json(resp, up ? 200 : 503,
             json_pack("{s:s, s:s, s:s, s:s}", "status",
                       up ? "healthy" : "unhealthy", "service", "ferryd",
                       "database", up ? "connected" : "disconnected", "version",
                       ferry_version()));
    if (!up)
        resp->retry_after = RETRY_AFTER_S;
}

static const char *presented_key(const struct fy_http_req *req, size_t *len)
{
    const char *k = fy_http_header(req, "X-Api-Key");

    if (!k) {
        k = fy_http_header(req, "Authorization");
        if (k && strncasecmp(k, "Bearer ", 7) == 0)
            k += 7;
        else
            k = NULL;
    }
    *len = k ? strlen(k) : 0;
    return k;
}

/*
 * Verifies the request's key on the headers alone, with a store connection
 * of its own. Returns 0 with *key filled, or answers the request (401, or
 * 503 when the store cannot say) and returns < 0.
 */
static int authenticate(struct fy_api *api, struct fy_http_req *req,
                        struct fy_http_resp *resp, struct fy_key *key)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    size_t len;
    const char *text = presented_key(req, &len);
    int rc;

    if (!text) {
        fy_http_error(resp, 401, "unauthorized",
                      "an API key is required (X-Api-Key or Authorization:"
                      " Bearer)",
                      NULL);
        return FERRY_EAUTH;
    }
    /* A key that cannot be one is refused without touching the store. */
    rc = fy_key_verify_shape(text, len, &err);
    if (rc == 0)
        rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc == 0)
        rc = fy_key_verify(st, text, len, key, &err);
    if (rc == FERRY_EAUTH)
        fy_http_error(resp, 401, "unauthorized", err.msg, NULL);
    else if (rc < 0)
        store_error(resp, rc, err.msg);
    /* last_used_at is for humans: one write a minute per key is plenty. */
    if (rc == 0 && key->last_used_at < (int64_t)time(NULL) - 60 &&
        fy_store_key_touch(st, key->id, &err) < 0)
        fy_warn("auth", "cannot record use of key=%s: %s", key->id, err.msg);
    if (st)
        fy_store_pool_put(api->pool, st);
    return rc;
}

static bool json_content(const struct fy_http_req *req,
                         struct fy_http_resp *resp)
{
    const char *ct = fy_http_header(req, "Content-Type");

    if (ct && strncasecmp(ct, "application/json", 16) == 0 &&
        (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' '))
        return true;
    fy_http_error(resp, 415, "unsupported_media_type",
                  "the body must be application/json", NULL);
    return false;
}

static const char *status_code_name(int status)
{
    switch (status) {
    case 400:
        return "malformed";
    case 403:
        return "forbidden";
    case 404:
        return "unknown_table";
    case 413:
        return "body_too_large";
    case 422:
        return "contract_violation";
    default:
        return "internal";
    }
}

static void push_failed(struct fy_http_resp *resp, int rc,
                        const struct ferry_err *err, json_t *details)
{
    if (err->status && err->status != 503 && err->status != 500) {
        fy_http_error(resp, err->status, status_code_name(err->status),
                      err->msg, details);
        return;
    }
    json_decref(details);
    store_error(resp, rc, err->msg);
}

static void handle_push(struct fy_api *api, struct api_req *ar,
                        struct fy_http_req *req, struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    struct fy_arena arena = FY_ARENA_INIT(0);
    struct fy_push_result res;
    struct fy_store *st = NULL;
    json_t *details = NULL;
    int rc;

    rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc < 0) {
        store_error(resp, rc, err.msg);
        return;
    }
    rc = fy_push_run(st, api->contract, &ar->key, req->body.data, req->body.len,
                     &arena, &res, &details, &err);
    if (rc < 0) {
        push_failed(resp, rc, &err, details);
        fy_info("push", "device=%s rejected status=%d: %s", ar->key.device,
                resp->status, err.msg);
        goto out;
    }
    set_json(resp, 200, fy_push_result_json(&res));
    fy_debug("push", "device=%s acked_seq=%lld applied=%ld skipped=%ld",
             ar->key.device, (long long)res.acked_seq, res.applied,
             res.skipped);
out:
    fy_store_pool_put(api->pool, st);
    fy_arena_reset(&arena);
}

static const struct route routes[] = {
    {"GET", "/health", false, handle_health},
    {"POST", "/v1/push", true, handle_push},
};

/* The route for the request, or answers 404/405 and returns NULL. */
static const struct route *find_route(const struct fy_http_req *req,
                                      struct fy_http_resp *resp)
{
    bool path_known = false;

    for (size_t i = 0; i < FY_ARRAY_LEN(routes); i++) {
        if (strcmp(req->path, routes[i].path) != 0)
            continue;
        path_known = true;
        if (strcmp(req->method, routes[i].method) == 0)
            return &routes[i];
    }
    if (path_known)
        fy_http_error(resp, 405, "method_not_allowed",
                      "this method is not allowed here", NULL);
    else
        fy_http_error(resp, 404, "not_found", "no such endpoint", NULL);
    return NULL;
}

void fy_api_headers(struct fy_http_req *req, struct fy_http_resp *resp,
                    void *ud)
{
    struct api_req *ar;
    const struct route *r = find_route(req, resp);

    if (!r)
        return;
    ar = fy_calloc(1, sizeof(*ar));
    if (!ar) {
        fy_http_error(resp, 500, "internal", "out of memory", NULL);
        return;
    }
    ar->route = r;
    req->ctx = ar;
    if (!r->needs_key)
        return;
    if (authenticate(ud, req, resp, &ar->key) < 0)
        return;
    if (r->fn == handle_push)
        json_content(req, resp); /* 415 before the body, too */
}

void fy_api_handle(struct fy_http_req *req, struct fy_http_resp *resp, void *ud)
{
    struct api_req *ar = req->ctx;

    /* The headers hook answered anything without a route or a key. */
    assert(ar && ar->route);
    ar->route->fn(ud, ar, req, resp);
}

void fy_api_done(struct fy_http_req *req, void *ud)
{
    struct api_req *ar = req->ctx;

    (void)ud;
    if (!ar)
        return;
    fy_key_release(&ar->key);
    fy_free(ar);
    req->ctx = NULL;
}

const struct fy_http_handlers fy_api_handlers = {
    .headers = fy_api_headers,
    .handle = fy_api_handle,
    .done = fy_api_done,
};
