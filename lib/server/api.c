/* SPDX-License-Identifier: MIT */
/*
 * ferryd's routes, authentication and answers to failures; see api.h.
 */
#include "server/api.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "server/admit.h"
#include "server/blob.h"
#include "server/attach.h"
#include "server/changes.h"
#include "server/dash.h"
#include "server/health.h"
#include "server/keys.h"
#include "server/metrics.h"
#include "server/push.h"
#include "server/rows.h"
#include "server/runs.h"
#include "server/snapshot.h"
#include "fy.h"

#define RETRY_AFTER_S 2

/* Per-request state, from the headers to the end of the request. */
struct api_req {
    struct fy_key key; /* verified before the body was read */
    char csrf[65];     /* a dashboard session's form token; "" none */
    bool admitted;     /* counted in by fy_admit_enter: leave when done */
};

const struct fy_key *fy_api_key(const struct fy_http_req *req)
{
    const struct api_req *ar = req->ctx;

    /* The auth hook answered every request of a keyed route without one. */
    assert(ar);
    return &ar->key;
}

const char *fy_api_csrf(const struct fy_http_req *req)
{
    const struct api_req *ar = req->ctx;

    assert(ar);
    return ar->csrf;
}

void fy_api_json(struct fy_http_resp *resp, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (!text) {
        fy_http_error(resp, FERRY_WIRE_INTERNAL, "out of memory", NULL);
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    fy_buf_reset(&resp->body);
    fy_buf_adds(&resp->body, text);
    fy_buf_addc(&resp->body, '\n');
    free(text);
}

/* The store's own text (table names, SQL, hosts) stays in the log. */
void fy_api_failure(struct fy_http_resp *resp, int rc,
                    const struct ferry_err *err, json_t *details)
{
    int wire = ferry_wire_of_failure(rc, err);
    int status = ferry_wire_status(wire);

    if (status < 500) {
        fy_http_error(resp, wire, err->msg, details);
        return;
    }
    json_decref(details);
    fy_metrics_store_error(status);
    if (status == 503) {
        fy_warn("store", "request answered 503: %s", err->msg);
        fy_http_error(resp, wire,
                      rc == FERRY_ENOSPC
                          ? "the server's disk is full; retry later"
                          : "the store is unavailable; retry later",
                      NULL);
        resp->retry_after = RETRY_AFTER_S;
    } else {
        fy_error("store", "request answered 500: %s", err->msg);
        fy_http_error(resp, wire,
                      "internal error; the server log has the detail", NULL);
    }
}

#define IDEM_KEY_MAX 255

int fy_api_idem_key(const struct fy_http_req *req, const char **key,
                    struct ferry_err *err)
{
    const char *k = fy_http_header(req, "Idempotency-Key");
    size_t len = k ? strlen(k) : 0;

    *key = NULL;
    if (!k)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < 0x20 || k[i] > 0x7e)
            len = 0;
    }
    if (len == 0 || len > IDEM_KEY_MAX) {
        fy_err_set(err, FERRY_EPARSE,
                   "Idempotency-Key: 1 to %d printable ASCII characters",
                   IDEM_KEY_MAX);
        if (err)
            err->wire = FERRY_WIRE_BAD_PARAMETER;
        return FERRY_EPARSE;
    }
    *key = k;
    return 0;
}

/* Ok checks listed at most; stale and pending ones always are. */
#define HEALTH_OK_MAX 200

struct checks {
    json_t *obj;
    size_t listed, stale, omitted;
};

static int add_check(const struct fy_check *c, void *ud)
{
    struct checks *k = ud;
    bool ok = strcmp(c->status, "ok") == 0;
    char key[256];

    k->stale += strcmp(c->status, "stale") == 0;
    if (ok && k->listed >= HEALTH_OK_MAX) {
        k->omitted++;
        return 0;
    }
    snprintf(key, sizeof(key), "%s:%s", c->kind, c->name);
    k->listed++;
    return json_object_set_new(k->obj, key, fy_check_json(c)) == 0
               ? 0
               : FERRY_ENOMEM;
}

/*
 * A silent stream or device makes ferryd "degraded", not down: still 200,
 * so that a monitor that only reads the status code does not restart a
 * ferryd that works; ?strict=1 answers 503 for it.
 */
static void handle_health(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct fy_api *api = ud;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    const char *strict = fy_http_query(req, "strict");
    struct checks k = {.obj = json_object()};
    bool up, read = false;
    json_t *j;

    if (strict && strcmp(strict, "1") != 0 && strcmp(strict, "0") != 0) {
        json_decref(k.obj);
        fy_http_error(resp, FERRY_WIRE_BAD_PARAMETER, "strict must be 1 or 0",
                      NULL);
        return;
    }
    up = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err) == 0 &&
         fy_store_ping(st, &err) == 0;
    if (up)
        read = fy_health_eval(api->expect, st, add_check, &k, &err) == 0;
    if (up && !read)
        fy_warn("health", "checks not read: %s", err.msg);
    if (st)
        fy_store_pool_put(api->pool, st);
    j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "status",
                  !up                    ? "unhealthy"
                  : k.stale > 0 || !read ? "degraded"
                                         : "healthy",
                  "service", api->service ? api->service : "ferryd", "database",
                  up ? "connected" : "disconnected", "version", ferry_version(),
                  "checks", k.obj);
    if (j && k.omitted)
        json_object_set_new(j, "checks_omitted",
                            json_integer((json_int_t)k.omitted));
    if (j && up && !read)
        json_object_set_new(j, "checks_error",
                            json_string("the checks could not be read; the"
                                        " server log has the detail"));
    fy_api_json(
        resp,
        !up || (strict && *strict == '1' && (k.stale || !read)) ? 503 : 200, j);
    if (!up)
        resp->retry_after = RETRY_AFTER_S;
}

/* Liveness: the process answers; the store is not asked. */
static void handle_live(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    struct fy_api *api = ud;

    (void)req;
    fy_api_json(resp, 200,
                json_pack("{s:s, s:s, s:s}", "status", "alive", "service",
                          api->service ? api->service : "ferryd", "version",
                          ferry_version()));
}

/*
 * The key a request presents: in an alias's own header, else X-Api-Key,
 * else Authorization: Bearer. A header named Authorization carries it
 * after "Bearer ".
 */
static const char *presented_key(const struct fy_http_req *req, size_t *len)
{
    const char *name =
        req->match && req->match->auth_header ? req->match->auth_header : NULL;
    const char *k = fy_http_header(req, name ? name : "X-Api-Key");

    if (!k && !name)
        name = "Authorization", k = fy_http_header(req, name);
    if (k && name && strcasecmp(name, "Authorization") == 0)
        k = strncasecmp(k, "Bearer ", 7) == 0 ? k + 7 : NULL;
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
        if (req->match && req->match->auth_header)
            fy_err_set(&err, FERRY_EAUTH, "an API key is required (%s)",
                       req->match->auth_header);
        else
            fy_err_set(&err, FERRY_EAUTH,
                       "an API key is required (X-Api-Key or"
                       " Authorization: Bearer)");
        fy_api_failure(resp, FERRY_EAUTH, &err, NULL);
        return FERRY_EAUTH;
    }
    /* A key that cannot be one is refused without touching the store. */
    rc = fy_key_verify_shape(text, len, &err);
    if (rc == 0)
        rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc == 0)
        rc = fy_key_verify(st, text, len, key, &err);
    if (rc < 0)
        fy_api_failure(resp, rc, &err, NULL);
    /* Which clients still need the new secret: once a minute per key. */
    if (rc == 0 && key->previous && fy_key_warn_due(key->id, time(NULL)))
        fy_warn("auth",
                "key=%s presented its previous secret: that client"
                " needs the new one before the rotation's overlap"
                " ends",
                key->id);
    /* last_used_at is for humans: one write a minute per key is plenty. */
    if (rc == 0 && key->last_used_at < (int64_t)time(NULL) - 60 &&
        fy_store_key_touch(st, key->id, &err) < 0)
        fy_warn("auth", "cannot record use of key=%s: %s", key->id, err.msg);
    if (st)
        fy_store_pool_put(api->pool, st);
    return rc;
}

/*
 * An alias with a region header (an old client that names its region
 * beside its key): the header must be there and name the key's region, so
 * that an office's client configured with another office's region is
 * refused instead of being served the key's region silently.
 */
static int check_region_header(struct fy_http_req *req,
                               const struct fy_key *key,
                               struct fy_http_resp *resp)
{
    const char *name = req->match ? req->match->region_header : NULL;
    const char *v = name ? fy_http_header(req, name) : NULL;
    struct ferry_err err = {0};

    if (!name)
        return 0;
    if (!v)
        fy_err_set(&err, FERRY_EFORBIDDEN,
                   "the %s header is required here: it must name this key's"
                   " region",
                   name);
    else if (!key->region)
        fy_err_set(&err, FERRY_EFORBIDDEN,
                   "%s names region '%.64s' but this key has no region", name,
                   v);
    else if (strcmp(v, key->region) != 0)
        fy_err_set(&err, FERRY_EFORBIDDEN,
                   "%s names region '%.64s' but this key's region is '%s'",
                   name, v, key->region);
    else
        return 0;
    fy_api_failure(resp, FERRY_EFORBIDDEN, &err, NULL);
    return FERRY_EFORBIDDEN;
}

/*
 * An agent names the contract version it was built against; ferryd serves
 * a range of them. A request without the header (a hand-written client,
 * the old desktop client) is not checked.
 */
static int check_contract_header(struct fy_http_req *req,
                                 const struct fy_api *api,
                                 struct fy_http_resp *resp)
{
    const char *v = fy_http_header(req, "Ferry-Contract");
    struct ferry_err err = {0};
    char *end = NULL;
    long n = 0;

    /* The served contract answers any version: how an old agent learns
       what changed (ferry contract --diff). */
    if (!v || api->contract_max == 0 ||
        (req->match && req->match->route &&
         strcmp(req->match->route->pattern, "/v1/contract") == 0))
        return 0;
    if (*v >= '1' && *v <= '9' && strlen(v) <= 9)
        n = strtol(v, &end, 10);
    if (n <= 0 || !end || *end) {
        fy_err_set(&err, FERRY_EPARSE,
                   "Ferry-Contract must be the contract version the client"
                   " was built against, a positive integer; got '%.32s'",
                   v);
        err.wire = FERRY_WIRE_BAD_PARAMETER;
        fy_api_failure(resp, FERRY_EPARSE, &err, NULL);
        return FERRY_EPARSE;
    }
    if (n >= api->contract_min && n <= api->contract_max)
        return 0;
    fy_err_set(&err, FERRY_EVERSION,
               "this ferryd accepts contract versions %ld to %ld (it serves"
               " version %ld); this client sent version %ld: %s",
               api->contract_min, api->contract_max, api->contract->version, n,
               n < api->contract_min ? "upgrade the app and its agent config"
                                     : "migrate and serve the newer contract"
                                       " first, or widen contract_versions");
    fy_api_failure(resp, FERRY_EVERSION, &err, NULL);
    return FERRY_EVERSION;
}

/*
 * The key's rate and concurrency limits, last: only a request that would
 * otherwise be served spends a token, so a client's refused attempts do
 * not eat into what it may do once it has fixed them.
 */
static int admit(struct fy_api *api, struct fy_http_req *req,
                 struct api_req *ar, struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    int retry = 0;
    int rc = fy_admit_enter(api->admit, ar->key.id, fy_mono_s(), &retry, &err);

    if (rc == 0) {
        ar->admitted = true;
        return 0;
    }
    (void)req;
    fy_api_failure(resp, rc, &err, NULL);
    resp->retry_after = retry;
    return rc;
}

int fy_api_auth(struct fy_http_req *req, enum fy_http_auth policy,
                struct fy_http_resp *resp, void *ud)
{
    struct ferry_err err = {0};
    struct api_req *ar;

    ar = fy_calloc(1, sizeof(*ar));
    if (!ar) {
        fy_api_failure(resp, FERRY_ENOMEM, &err, NULL);
        return FERRY_ENOMEM;
    }
    req->ctx = ar;
    /* A dashboard page: a session cookie, never a key header. */
    if (policy == FY_AUTH_SESSION)
        return fy_dash_auth(req, resp, ud, &ar->key, ar->csrf);
    if (authenticate(ud, req, resp, &ar->key) < 0)
        return FERRY_EAUTH;
    if (policy == FY_AUTH_ADMIN && !ar->key.admin) {
        fy_err_set(&err, FERRY_EFORBIDDEN, "this endpoint needs an admin key");
        fy_api_failure(resp, FERRY_EFORBIDDEN, &err, NULL);
        return FERRY_EFORBIDDEN;
    }
    if (check_contract_header(req, ud, resp) < 0)
        return FERRY_EVERSION;
    if (check_region_header(req, &ar->key, resp) < 0)
        return FERRY_EFORBIDDEN;
    return admit(ud, req, ar, resp);
}

static void handle_push(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    struct fy_api *api = ud;
    struct api_req *ar = req->ctx;
    struct ferry_err err = {0};
    struct fy_arena arena = FY_ARENA_INIT(0);
    struct fy_push_result res;
    struct fy_store *st = NULL;
    json_t *details = NULL;
    int rc;

    /* The auth hook answered anything without a key. */
    assert(ar);
    /* One push of a key at a time: see admit.h. */
    rc = fy_admit_push_begin(api->admit, ar->key.id, api->pool_wait_ms, &err);
    if (rc < 0) {
        fy_api_failure(resp, rc, &err, NULL);
        resp->retry_after = 1;
        return;
    }
    rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc < 0) {
        fy_admit_push_end(api->admit, ar->key.id);
        fy_api_failure(resp, rc, &err, NULL);
        return;
    }
    rc = fy_push_run(st, api->contract, &ar->key, req->body.data, req->body.len,
                     &arena, &res, &details, &err);
    if (rc < 0) {
        fy_metrics_push_rejected(json_array_size(details));
        fy_api_failure(resp, rc, &err, details);
        fy_info("push", "device=%s rejected status=%d: %s", ar->key.device,
                resp->status, err.msg);
        goto out;
    }
    fy_api_json(resp, 200, fy_push_result_json(&res));
    if (res.applied > 0 && api->notify)
        fy_notify_bump(api->notify);
    fy_debug("push", "device=%s acked_seq=%lld applied=%ld skipped=%ld",
             ar->key.device, (long long)res.acked_seq, res.applied,
             res.skipped);
out:
    fy_store_pool_put(api->pool, st);
    fy_admit_push_end(api->admit, ar->key.id);
    fy_arena_reset(&arena);
    /* A retried batch that applied nothing new wrote nothing: no run. */
    if (rc < 0 || res.applied > 0)
        fy_runs_device(api, req, "push", rc == 0 ? res.applied : 0,
                       resp->status, err.msg);
}

/*
 * Tombstones past the retention are pruned by pulls, at most once per
 * interval per process (one pull wins the compare-and-swap; several
 * ferryd processes pruning at once is harmless).
 */
static void maybe_prune(struct fy_api *api, struct fy_store *st)
{
    int64_t now = fy_now_ms(), every = api->tombstone_retention_ms / 2;
    int64_t due = __atomic_load_n(&api->next_prune_ms, __ATOMIC_RELAXED);
    struct ferry_err err = {0};
    long pruned = 0;

    if (api->tombstone_retention_ms <= 0 || now < due)
        return;
    every = every < 1000 ? 1000 : every > 60000 ? 60000 : every;
    if (!__atomic_compare_exchange_n(&api->next_prune_ms, &due, now + every,
                                     false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    /* Tombstones are aged by their stamp's clock: 48 bits of ms. */
    if (fy_store_prune_tombstones(st, api->contract,
                                  (uint64_t)(now - api->tombstone_retention_ms)
                                      << 16,
                                  &pruned, &err) < 0)
        fy_warn("pull", "cannot prune tombstones: %s", err.msg);
    else if (pruned)
        fy_info("pull", "pruned %ld tombstones older than %lld s", pruned,
                (long long)(api->tombstone_retention_ms / 1000));
}

/* One page for the request: a store connection for the read only. */
static int read_page(struct fy_api *api, struct fy_http_req *req, json_t **out,
                     struct ferry_err *err)
{
    struct api_req *ar = req->ctx;
    struct fy_store *st = NULL;
    int rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, err);

    if (rc == 0) {
        maybe_prune(api, st);
        rc = fy_changes_run(st, api->contract, &ar->key,
                            fy_http_query(req, "since"),
                            fy_http_query(req, "limit"), out, err);
        fy_store_pool_put(api->pool, st);
    }
    return rc;
}

/*
 * With ?wait=S an answer that would be empty waits up to S seconds for a
 * push to commit (here or, on PostgreSQL, in any ferryd) and reads again;
 * every few seconds it reads again anyway, in case a notice was lost.
 */
static void handle_changes(struct fy_http_req *req, struct fy_http_resp *resp,
                           void *ud)
{
    struct fy_api *api = ud;
    struct ferry_err err = {0};
    json_t *out = NULL;
    int64_t wait_ms = 0, deadline;
    size_t n;
    int rc;

    assert(req->ctx);
    rc = fy_changes_device_ok(&((struct api_req *)req->ctx)->key,
                              fy_http_query(req, "device"), &err);
    if (rc == 0)
        rc = fy_changes_wait_ms(fy_http_query(req, "wait"), &wait_ms, &err);
    deadline = fy_now_ms() + wait_ms;
    while (rc == 0) {
        uint64_t gen = api->notify ? fy_notify_gen(api->notify) : 0;
        int64_t left;

        rc = read_page(api, req, &out, &err);
        left = deadline - fy_now_ms();
        if (rc < 0 || left <= 0 || !api->notify ||
            fy_notify_quiescing(api->notify) ||
            json_array_size(json_object_get(out, "changes")) > 0)
            break;
        json_decref(out);
        out = NULL;
        fy_notify_wait(api->notify, gen, left < 5000 ? left : 5000);
    }
    if (rc < 0)
        fy_api_failure(resp, rc, &err, NULL);
    n = rc < 0 ? 0 : json_array_size(json_object_get(out, "changes"));
    if (rc == 0)
        fy_api_json(resp, 200, out);
    /*
     * A long poll that ends empty only waited (sync --watch's doorbell
     * asks one every 25 s): no run to record.
     */
    if (!(rc == 0 && wait_ms > 0 && n == 0))
        fy_runs_device(api, req, "pull", (int64_t)n, resp->status, err.msg);
}

/* POST /v1/snapshots: the file, checked and merged (snapshot.c). */
static void handle_snapshot_post(struct fy_http_req *req,
                                 struct fy_http_resp *resp, void *ud)
{
    struct fy_api *api = ud;
    struct api_req *ar = req->ctx;
    struct ferry_err err = {0};
    struct fy_snapshot_counts k;
    int rc;

    assert(ar);
    rc = fy_snapshot_upload(api->pool, api->pool_wait_ms, api->contract,
                            &ar->key, req->body_fd, req->body_size,
                            fy_http_header(req, "Content-Type"), api->tmp_dir,
                            &k, &err);
    if (rc < 0) {
        fy_api_failure(resp, rc, &err, NULL);
        fy_info("snapshot", "device=%s upload refused status=%d: %s",
                ar->key.device, resp->status, err.msg);
        fy_runs_device(api, req, "snapshot", 0, resp->status, err.msg);
        return;
    }
    fy_api_json(resp, 200, fy_snapshot_counts_json(&k));
    /* Waiting pulls learn of the upload's writes as of a push's. */
    if (api->notify && k.created + k.updated + k.deleted > 0)
        fy_notify_bump(api->notify);
    fy_info("snapshot",
            "device=%s upload created=%ld updated=%ld deleted=%ld"
            " unchanged=%ld ignored=%ld stale=%ld",
            ar->key.device, k.created, k.updated, k.deleted, k.unchanged,
            k.ignored, k.stale);
    fy_runs_device(api, req, "snapshot", k.created + k.updated + k.deleted, 200,
                   NULL);
}

/*
 * GET /v1/snapshots/latest. A client that names the current tag in
 * If-None-Match gets its 304 (from the server, on this empty answer)
 * without the file being built.
 */
static void handle_snapshot_get(struct fy_http_req *req,
                                struct fy_http_resp *resp, void *ud)
{
    struct fy_api *api = ud;
    struct api_req *ar = req->ctx;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    const char *inm = fy_http_header(req, "If-None-Match");
    char etag[FY_SNAPSHOT_ETAG_LEN] = "";
    uint64_t size = 0;
    int rc, fd = -1;

    assert(ar);
    rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc == 0 && inm)
        rc = fy_snapshot_etag(st, api->contract, &ar->key, etag, &err);
    if (rc == 0 && !(inm && strstr(inm, etag)))
        rc = fy_snapshot_build(st, api->contract, &ar->key, api->tmp_dir, &fd,
                               &size, etag, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0) {
        fy_api_failure(resp, rc, &err, NULL);
        fy_runs_device(api, req, "download", 0, resp->status, err.msg);
        return;
    }
    /* A download is the old client's pull (its row count is not known). */
    fy_runs_device(api, req, "download", 0, 200, NULL);
    snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
    resp->content_type = "application/x-sqlite3";
    if (fd >= 0)
        fy_http_resp_file(resp, fd, 0, size);
}

/*
 * GET /v1/contract: the served contract as ferryd checks rows against it,
 * canonical (docs/contract.md), with its checksum, which is the ETag.
 */
static void handle_contract(struct fy_http_req *req, struct fy_http_resp *resp,
                            void *ud)
{
    struct fy_api *api = ud;
    json_t *j = fy_contract_to_json(api->contract);

    (void)req;
    if (j)
        json_object_set_new(j, "checksum",
                            json_string(api->contract->checksum));
    snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", api->contract->checksum);
    fy_api_json(resp, 200, j);
}

static const char *const json_types[] = {"application/json", NULL};
static const char *const sqlite_types[] = {
    "application/octet-stream", "application/x-sqlite3",
    "application/vnd.sqlite3", "multipart/form-data", NULL};

const struct fy_http_route fy_api_routes[] = {
    {.method = "GET",
     .pattern = "/health",
     .auth = FY_AUTH_NONE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_health},
    {.method = "GET",
     .pattern = "/health/live",
     .auth = FY_AUTH_NONE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_live},
    {.method = "POST",
     .pattern = "/v1/push",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_MEMORY, .types = json_types},
     .fn = handle_push},
    {.method = "GET",
     .pattern = "/v1/contract",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .flags = FY_ROUTE_RANGE, /* If-None-Match: 304 */
     .fn = handle_contract},
    {.method = "GET",
     .pattern = "/v1/changes",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_changes},
    {.method = "POST",
     .pattern = "/v1/snapshots",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_FILE, .types = sqlite_types},
     .fn = handle_snapshot_post},
    {.method = "GET",
     .pattern = "/v1/snapshots/latest",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .flags = FY_ROUTE_RANGE,
     .fn = handle_snapshot_get},
};

const size_t fy_api_nroutes = FY_ARRAY_LEN(fy_api_routes);

/*
 * Every module's routes: this file's, then one line per module that
 * answers its own endpoints (a route table beside its handlers).
 */
static const struct {
    const struct fy_http_route *routes;
    const size_t *n;
} route_tables[] = {
    {fy_api_routes, &fy_api_nroutes},
    {fy_rows_routes, &fy_rows_nroutes},
    {fy_blob_routes, &fy_blob_nroutes},
    {fy_attach_routes, &fy_attach_nroutes},
    {fy_runs_routes, &fy_runs_nroutes},
    {fy_metrics_routes, &fy_metrics_nroutes},
    {fy_trace_routes, &fy_trace_nroutes},
    {fy_dash_routes, &fy_dash_nroutes},
};

#define MAX_ROUTES 64

static struct fy_http_route all_routes[MAX_ROUTES];
static size_t nall_routes;
static pthread_once_t routes_once = PTHREAD_ONCE_INIT;

/* The router borrows its routes: one table for the process's lifetime. */
static void gather_routes(void)
{
    for (size_t t = 0; t < FY_ARRAY_LEN(route_tables); t++) {
        for (size_t i = 0; i < *route_tables[t].n; i++) {
            assert(nall_routes < MAX_ROUTES);
            if (nall_routes < MAX_ROUTES)
                all_routes[nall_routes++] = route_tables[t].routes[i];
        }
    }
    fy_metrics_set_routes(all_routes, nall_routes);
}

const struct fy_http_route *fy_api_all_routes(size_t *n)
{
    pthread_once(&routes_once, gather_routes);
    *n = nall_routes;
    return all_routes;
}

int fy_api_router_new(struct fy_http_router **out, struct ferry_err *err)
{
    pthread_once(&routes_once, gather_routes);
    return fy_http_router_new(all_routes, nall_routes, out, err);
}

void fy_api_done(struct fy_http_req *req, void *ud)
{
    struct api_req *ar = req->ctx;

    fy_metrics_request(req);
    if (!ar)
        return;
    if (ar->admitted)
        fy_admit_leave(((struct fy_api *)ud)->admit, ar->key.id);
    fy_key_release(&ar->key);
    fy_free(ar);
    req->ctx = NULL;
}

const struct fy_http_handlers fy_api_handlers = {
    .auth = fy_api_auth,
    .done = fy_api_done,
};
