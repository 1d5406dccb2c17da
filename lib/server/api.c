/* SPDX-License-Identifier: MIT */
/*
 * Routes, authentication and error mapping for ferryd; see api.h.
 */
#include "server/api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "server/keys.h"
#include "server/push.h"
#include "fy.h"

#define RETRY_AFTER_S 2

struct route {
    const char *method;
    const char *path;
    void (*fn)(struct fy_api *api, struct fy_http_req *req,
               struct fy_http_resp *resp);
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

/* Maps a store failure to 503 (with Retry-After) or 500. */
static void store_error(struct fy_http_resp *resp, int rc, const char *msg)
{
    if (ferry_err_is_transient(rc)) {
        fy_http_error(resp, 503, "store_unavailable", msg, NULL);
        resp->retry_after = RETRY_AFTER_S;
    } else {
        fy_http_error(resp, 500, "internal", msg, NULL);
    }
}

static void handle_health(struct fy_api *api, struct fy_http_req *req,
                          struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    bool up;

    (void)req;
    up = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err) == 0 &&
         st->ops->ping(st, &err) == 0;
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
 * Verifies the request's key with a borrowed store connection. Returns 0
 * with *key filled, or answers the request (401/503) and returns < 0.
 */
static int authenticate(struct fy_store *st, struct fy_http_req *req,
                        struct fy_http_resp *resp, struct fy_key *key)
{
    struct ferry_err err = {0};
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
    rc = fy_key_verify(st, text, len, key, &err);
    if (rc == FERRY_EAUTH)
        fy_http_error(resp, 401, "unauthorized", err.msg, NULL);
    else if (rc < 0)
        store_error(resp, rc, err.msg);
    /* last_used_at is for humans: one write a minute per key is plenty. */
    if (rc == 0 && key->last_used_at < (int64_t)time(NULL) - 60 &&
        st->ops->key_touch(st, key->id, &err) < 0)
        fy_warn("auth", "cannot record use of key=%s: %s", key->id, err.msg);
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

static void handle_push(struct fy_api *api, struct fy_http_req *req,
                        struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    struct fy_arena arena = FY_ARENA_INIT(0);
    struct fy_push_result res;
    struct fy_key key = {0};
    struct fy_store *st = NULL;
    json_t *details = NULL;
    int rc;

    if (!json_content(req, resp))
        return;
    rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc < 0) {
        store_error(resp, rc, err.msg);
        return;
    }
    if (authenticate(st, req, resp, &key) < 0)
        goto out;
    rc = fy_push_run(st, api->contract, &key, req->body.data, req->body.len,
                     &arena, &res, &details, &err);
    if (rc < 0) {
        push_failed(resp, rc, &err, details);
        fy_info("push", "device=%s rejected status=%d: %s", key.device,
                resp->status, err.msg);
        goto out;
    }
    set_json(resp, 200, fy_push_result_json(&res));
    fy_debug("push", "device=%s acked_seq=%lld applied=%ld skipped=%ld",
             key.device, (long long)res.acked_seq, res.applied, res.skipped);
out:
    fy_key_release(&key);
    fy_store_pool_put(api->pool, st);
    fy_arena_reset(&arena);
}

static const struct route routes[] = {
    {"GET", "/health", handle_health},
    {"POST", "/v1/push", handle_push},
};

void fy_api_handle(struct fy_http_req *req, struct fy_http_resp *resp, void *ud)
{
    bool path_known = false;

    for (size_t i = 0; i < FY_ARRAY_LEN(routes); i++) {
        if (strcmp(req->path, routes[i].path) != 0)
            continue;
        path_known = true;
        if (strcmp(req->method, routes[i].method) == 0) {
            routes[i].fn(ud, req, resp);
            goto log;
        }
    }
    if (path_known)
        fy_http_error(resp, 405, "method_not_allowed",
                      "this method is not allowed here", NULL);
    else
        fy_http_error(resp, 404, "not_found", "no such endpoint", NULL);
log:
    fy_info("http", "%s %s %d ms=%.1f", req->method, req->path, resp->status,
            (fy_mono_s() - req->started) * 1000.0);
}
