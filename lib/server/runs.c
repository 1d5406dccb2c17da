/* SPDX-License-Identifier: MIT */
/*
 * Tracked sync runs over HTTP (docs/api.md#sync-runs): begin, heartbeat,
 * complete and fail a stream's run, set a stream's cursor, read status and
 * history; and the record of every device request that syncs (push,
 * pull, row writes, snapshots) in the same tables. The decisions (leases,
 * what a late or repeated call finds) are the store's (store/runs.c); this
 * file checks what arrives and shapes what leaves.
 */
#include "server/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "fy.h"

#define RUNS_BODY_MAX   (256 * 1024)
#define LEASE_DEFAULT_S 60
#define LEASE_MAX_S     86400
#define HISTORY_DEFAULT 10
#define HISTORY_MAX     1000
#define RECORDS_MAX     9007199254740991LL /* 2^53 - 1, exact in every JSON */
#define RUN_TOKEN_MAX   64

static int fail(struct ferry_err *err, int code, int wire, const char *fmt, ...)
    FY_PRINTF(4, 5);

/* code with message and the wire code that answers it. */
static int fail(struct ferry_err *err, int code, int wire, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt,
              ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    err->code = code;
    err->wire = wire;
    err->status = ferry_wire_status(wire);
    return code;
}

/* ---- what arrives ------------------------------------------------------ */

/*
 * The body as a JSON object (owned; an empty body is {}). A body needs
 * Content-Type: application/json: the routes accept none at all so that a
 * bare POST begins a run.
 */
static int body_object(const struct fy_http_req *req, json_t **out,
                       struct ferry_err *err)
{
    const char *ct = fy_http_header(req, "Content-Type");
    json_error_t jerr;

    *out = NULL;
    if (req->body.len == 0) {
        *out = json_object();
        return *out ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] && ct[16] != ';' && ct[16] != ' '))
        return fail(err, FERRY_EUNSUPPORTED, FERRY_WIRE_UNSUPPORTED_MEDIA_TYPE,
                    "the body must be application/json");
    *out = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return fail(err, FERRY_EPARSE, FERRY_WIRE_MALFORMED,
                    "the body must be a JSON object");
    }
    return 0;
}

/* 422 invalid_value: "FIELD WHAT". */
static int invalid(struct ferry_err *err, const char *field, const char *what)
{
    return fail(err, FERRY_ECONTRACT, FERRY_WIRE_INVALID_VALUE, "%s %s", field,
                what);
}

/* An optional integer field in [lo, hi]; *v untouched when absent. */
static int int_field(json_t *o, const char *name, int64_t lo, int64_t hi,
                     int64_t *v, struct ferry_err *err)
{
    json_t *j = json_object_get(o, name);

    if (!j)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo ||
        json_integer_value(j) > hi)
        return fail(err, FERRY_ECONTRACT, FERRY_WIRE_INVALID_VALUE,
                    "%s must be an integer from %lld to %lld", name,
                    (long long)lo, (long long)hi);
    *v = json_integer_value(j);
    return 0;
}

/*
 * An optional string field of 1 to max bytes without NUL (printable: no
 * control characters either); *v borrowed from o.
 */
static int str_field(json_t *o, const char *name, size_t max, bool printable,
                     const char **v, struct ferry_err *err)
{
    json_t *j = json_object_get(o, name);
    size_t n;

    if (!j)
        return 0;
    n = json_string_length(j);
    if (!json_is_string(j) || n == 0 || n > max ||
        strlen(json_string_value(j)) != n)
        return invalid(err, name,
                       "must be a non-empty string within its limit");
    for (size_t i = 0; printable && i < n; i++) {
        if ((unsigned char)json_string_value(j)[i] < 0x20)
            return invalid(err, name, "must not hold control characters");
    }
    *v = json_string_value(j);
    return 0;
}

/* The metadata object as compact JSON (owned, jansson's), or NULL. */
static int metadata_field(json_t *o, char **text, struct ferry_err *err)
{
    json_t *j = json_object_get(o, "metadata");

    *text = NULL;
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_object(j))
        return invalid(err, "metadata", "must be a JSON object");
    *text = json_dumps(j, JSON_COMPACT);
    if (!*text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (strlen(*text) > FY_RUN_METADATA_MAX) {
        free(*text); /* jansson's allocation */
        *text = NULL;
        return fail(err, FERRY_ECONTRACT, FERRY_WIRE_INVALID_VALUE,
                    "metadata must be at most %d bytes as compact JSON",
                    FY_RUN_METADATA_MAX);
    }
    return 0;
}

/* The run id of the path: a positive integer, else 400 bad_parameter. */
static int path_run(const struct fy_http_req *req, int64_t *id,
                    struct ferry_err *err)
{
    const char *s = fy_http_param(req, "id", NULL);
    char *end = NULL;
    long long v = s && s[0] >= '1' && s[0] <= '9' ? strtoll(s, &end, 10) : 0;

    if (v <= 0 || !end || *end || v > RECORDS_MAX)
        return fail(err, FERRY_EPARSE, FERRY_WIRE_BAD_PARAMETER,
                    "the run id must be a positive integer");
    *id = v;
    return 0;
}

/* ---- what leaves ------------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    char t[FY_UTC_MS_STRLEN + 1];

    return ms > 0 ? json_string(fy_utc_ms(ms, t)) : json_null();
}

static json_t *opt_int(int64_t v)
{
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

static json_t *opt_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *lease_json(int64_t lease_ms, int64_t until_ms)
{
    return json_pack("{s:I, s:o}", "seconds", (json_int_t)(lease_ms / 1000),
                     "expires_at", time_json(until_ms));
}

/* A history row as GET /v1/status lists it. */
static json_t *history_json(const struct fy_run *r)
{
    json_t *meta = r->metadata ? json_loads(r->metadata, 0, NULL) : NULL;
    json_t *j =
        json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                  "run", (json_int_t)r->id, "status", r->status, "started_at",
                  time_json(r->started_ms), "ended_at", time_json(r->ended_ms),
                  "duration_ms", opt_int(r->duration_ms), "records",
                  opt_int(r->records), "error", opt_str(r->error), "metadata",
                  meta ? meta : json_null(), "instance", opt_str(r->instance),
                  "server", opt_str(r->server), "cursor", opt_str(r->cursor));

    if (j && r->op) {
        json_object_set_new(j, "op", json_string(r->op));
        json_object_set_new(j, "requests", json_integer(r->requests));
    }
    return j;
}

/* The answer to a begin (201, or 200 to a retried one). */
static json_t *begin_json(const struct fy_run_result *res)
{
    const struct fy_run *r = &res->run;

    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "run", (json_int_t)r->id,
                     "stream", r->name, "status", r->status, "cursor",
                     opt_str(res->status.cursor), "started_at",
                     time_json(r->started_ms), "lease",
                     lease_json(r->lease_ms, r->lease_until_ms));
}

static json_t *finish_json(const struct fy_run_result *res)
{
    const struct fy_run *r = &res->run;
    json_t *j = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "run",
                          (json_int_t)r->id, "stream", r->name, "status",
                          r->status, "records", opt_int(r->records), "cursor",
                          opt_str(r->cursor ? r->cursor : res->status.cursor),
                          "duration_ms", opt_int(r->duration_ms));

    if (j && r->error)
        json_object_set_new(j, "error", json_string(r->error));
    return j;
}

/* The holder of a lease, merged into a lease_held error. */
static json_t *holder_json(const struct fy_run_status *s)
{
    return json_pack("{s:I, s:o, s:o}", "run", (json_int_t)s->lease_run,
                     "instance", opt_str(s->lease_instance), "expires_at",
                     time_json(s->lease_until_ms));
}

/* ---- the handlers ------------------------------------------------------ */

struct run_ctx {
    struct fy_api *api;
    struct fy_store *st;
    struct ferry_err err;
    json_t *body;
    char *metadata; /* jansson's */
};

/* Parses the body and takes a store connection; 0 or the failure. */
static int ctx_open(struct run_ctx *c, struct fy_http_req *req, void *ud)
{
    int rc;

    *c = (struct run_ctx){.api = ud};
    rc = body_object(req, &c->body, &c->err);
    if (rc == 0)
        rc = fy_store_pool_get(c->api->pool, c->api->pool_wait_ms, &c->st,
                               &c->err);
    return rc;
}

static void ctx_close(struct run_ctx *c)
{
    if (c->st)
        fy_store_pool_put(c->api->pool, c->st);
    json_decref(c->body);
    free(c->metadata); /* jansson's allocation */
}

/* The wire code of a store verdict on a run id. */
static int run_verdict(int rc, struct ferry_err *err)
{
    if (rc == FERRY_ENOTFOUND)
        err->wire = FERRY_WIRE_RUN_NOT_FOUND;
    else if (rc == FERRY_ECONFLICT)
        err->wire = FERRY_WIRE_RUN_FINISHED;
    else if (rc == FERRY_EEXPIRED)
        err->wire = FERRY_WIRE_LEASE_EXPIRED;
    return rc;
}

static int begin_args(struct run_ctx *c, struct fy_http_req *req,
                      struct fy_run_begin *b)
{
    int64_t lease_s = LEASE_DEFAULT_S;
    int rc;

    *b = (struct fy_run_begin){
        .stream = fy_http_param(req, "name", NULL),
        .key_id = fy_api_key(req)->id,
        .instance = fy_api_key(req)->device,
        .server = c->api->instance,
    };
    /* "." and ".." would not survive a client's URL path. */
    if (strcmp(b->stream, ".") == 0 || strcmp(b->stream, "..") == 0)
        return fail(&c->err, FERRY_EPARSE, FERRY_WIRE_BAD_PARAMETER,
                    "a stream name must not be '.' or '..'");
    rc = fy_api_idem_key(req, &b->idem, &c->err);
    if (rc == 0)
        rc = str_field(c->body, "instance", FY_RUN_INSTANCE_MAX, true,
                       &b->instance, &c->err);
    if (rc == 0)
        rc = int_field(c->body, "lease_seconds", 1, LEASE_MAX_S, &lease_s,
                       &c->err);
    b->lease_ms = lease_s * 1000;
    return rc;
}

static void handle_begin(struct fy_http_req *req, struct fy_http_resp *resp,
                         void *ud)
{
    struct run_ctx c;
    struct fy_run_begin b;
    struct fy_run_result res = {.mem = FY_ARENA_INIT(0)};
    int rc = ctx_open(&c, req, ud);

    if (rc == 0)
        rc = begin_args(&c, req, &b);
    if (rc == 0)
        rc = fy_store_run_begin(c.st, &b, &res, &c.err);
    if (rc == FERRY_ECONFLICT) {
        c.err.wire = FERRY_WIRE_LEASE_HELD;
        fy_api_failure(resp, rc, &c.err, holder_json(&res.status));
    } else if (rc < 0) {
        fy_api_failure(resp, rc, &c.err, NULL);
    } else {
        fy_api_json(resp, res.again ? 200 : 201, begin_json(&res));
        fy_info("runs", "run %lld of %s %s by %s", (long long)res.run.id,
                b.stream, res.again ? "answered again" : "began", b.instance);
    }
    fy_run_result_release(&res);
    ctx_close(&c);
}

static void handle_heartbeat(struct fy_http_req *req, struct fy_http_resp *resp,
                             void *ud)
{
    struct run_ctx c;
    struct fy_run_result res = {.mem = FY_ARENA_INIT(0)};
    int64_t id = 0, lease_s = 0;
    int rc = ctx_open(&c, req, ud);

    if (rc == 0)
        rc = path_run(req, &id, &c.err);
    if (rc == 0)
        rc = int_field(c.body, "lease_seconds", 1, LEASE_MAX_S, &lease_s,
                       &c.err);
    if (rc == 0)
        rc = run_verdict(fy_store_run_heartbeat(c.st, id, fy_api_key(req)->id,
                                                lease_s * 1000, &res, &c.err),
                         &c.err);
    if (rc < 0)
        fy_api_failure(resp, rc, &c.err,
                       rc == FERRY_ECONFLICT
                           ? json_pack("{s:s}", "status", res.run.status)
                           : NULL);
    else
        fy_api_json(
            resp, 200,
            json_pack("{s:I, s:s, s:o}", "run", (json_int_t)id, "status",
                      res.run.status, "lease",
                      lease_json(res.run.lease_ms, res.run.lease_until_ms)));
    fy_run_result_release(&res);
    ctx_close(&c);
}

/* complete's and fail's fields. */
static int finish_args(struct run_ctx *c, struct fy_http_req *req, bool success,
                       struct fy_run_finish *f)
{
    json_t *cur = json_object_get(c->body, "cursor");
    int rc = path_run(req, &f->id, &c->err);

    f->key_id = fy_api_key(req)->id;
    f->success = success;
    f->records = 0;
    if (rc == 0)
        rc =
            int_field(c->body, "records", 0, RECORDS_MAX, &f->records, &c->err);
    if (rc == 0 && success && cur) {
        f->set_cursor = true;
        if (!json_is_null(cur))
            rc = str_field(c->body, "cursor", FY_RUN_CURSOR_MAX, false,
                           &f->cursor, &c->err);
    }
    if (rc == 0 && !success) {
        if (!json_object_get(c->body, "error"))
            return invalid(&c->err, "error", "is required");
        rc = str_field(c->body, "error", FY_RUN_ERROR_MAX, false, &f->error,
                       &c->err);
    }
    if (rc == 0)
        rc = metadata_field(c->body, &c->metadata, &c->err);
    f->metadata = c->metadata;
    return rc;
}

static void finish(struct fy_http_req *req, struct fy_http_resp *resp, void *ud,
                   bool success)
{
    struct run_ctx c;
    struct fy_run_finish f = {0};
    struct fy_run_result res = {.mem = FY_ARENA_INIT(0)};
    int rc = ctx_open(&c, req, ud);

    if (rc == 0)
        rc = finish_args(&c, req, success, &f);
    if (rc == 0)
        rc = run_verdict(fy_store_run_finish(c.st, &f, &res, &c.err), &c.err);
    if (rc < 0) {
        fy_api_failure(resp, rc, &c.err,
                       rc == FERRY_ECONFLICT
                           ? json_pack("{s:s}", "status", res.run.status)
                           : NULL);
    } else {
        fy_api_json(resp, 200, finish_json(&res));
        fy_info("runs", "run %lld of %s: %s, %lld records",
                (long long)res.run.id, res.run.name, res.run.status,
                (long long)f.records);
    }
    fy_run_result_release(&res);
    ctx_close(&c);
}

static void handle_complete(struct fy_http_req *req, struct fy_http_resp *resp,
                            void *ud)
{
    finish(req, resp, ud, true);
}

static void handle_fail(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    finish(req, resp, ud, false);
}

static void handle_cursor(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct run_ctx c;
    struct fy_run_begin b;
    struct fy_run_result res = {.mem = FY_ARENA_INIT(0)};
    const char *cursor = NULL, *source = NULL;
    int rc = ctx_open(&c, req, ud);

    if (rc == 0)
        rc = begin_args(&c, req, &b);
    if (rc == 0 && !json_object_get(c.body, "cursor"))
        rc = invalid(&c.err, "cursor", "is required");
    if (rc == 0)
        rc = str_field(c.body, "cursor", FY_RUN_CURSOR_MAX, false, &cursor,
                       &c.err);
    if (rc == 0)
        rc = str_field(c.body, "source", FY_RUN_INSTANCE_MAX, true, &source,
                       &c.err);
    if (rc == 0)
        rc = fy_store_cursor_set(c.st, &b, cursor, source, &res, &c.err);
    if (rc == FERRY_ECONFLICT) {
        c.err.wire = FERRY_WIRE_LEASE_HELD;
        fy_api_failure(resp, rc, &c.err, holder_json(&res.status));
    } else if (rc < 0) {
        fy_api_failure(resp, rc, &c.err, NULL);
    } else {
        fy_api_json(resp, 200,
                    json_pack("{s:s, s:s, s:o, s:I}", "stream", b.stream,
                              "cursor", cursor, "previous",
                              opt_str(res.status.cursor), "run",
                              (json_int_t)res.run.id));
        fy_info("runs", "cursor of %s set by %s", b.stream, b.instance);
    }
    fy_run_result_release(&res);
    ctx_close(&c);
}

/* ---- GET /v1/status ---------------------------------------------------- */

struct status_out {
    json_t *streams, *devices;
    json_t *history; /* the last status row's (borrowed from it) */
};

static int status_cb(const struct fy_run_status *s, void *ud)
{
    struct status_out *o = ud;
    bool stream = strcmp(s->kind, "stream") == 0;
    json_t *j = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o}", "name", s->name, "status",
        s->status, "last_success", time_json(s->last_success_ms),
        "last_attempt", time_json(s->last_attempt_ms), "last_error",
        opt_str(s->last_error), "successes", (json_int_t)s->successes,
        "failures", (json_int_t)s->failures, "last_records",
        opt_int(s->last_records));

    if (!j)
        return FERRY_ENOMEM;
    if (stream) {
        bool live = s->lease_run && s->lease_until_ms > s->now_ms;

        json_object_set_new(j, "cursor", opt_str(s->cursor));
        json_object_set_new(j, "lease", live ? holder_json(s) : json_null());
        /* A lease that passed unswept is an abandoned run already. */
        if (s->lease_run && !live)
            json_object_set_new(j, "status", json_string("abandoned"));
    }
    o->history = json_array();
    json_object_set_new(j, "history", o->history);
    json_array_append_new(stream ? o->streams : o->devices, j);
    return 0;
}

static int history_cb(const struct fy_run *r, void *ud)
{
    struct status_out *o = ud;
    json_t *j = history_json(r);

    return j ? json_array_append_new(o->history, j) == 0 ? 0 : FERRY_ENOMEM
             : FERRY_ENOMEM;
}

static int status_args(struct fy_http_req *req, struct fy_status_req *sr,
                       struct ferry_err *err)
{
    const struct fy_key *key = fy_api_key(req);
    const char *stream = fy_http_query(req, "stream");
    const char *device = fy_http_query(req, "device");
    const char *hist = fy_http_query(req, "history");
    long n = HISTORY_DEFAULT;

    *sr = (struct fy_status_req){.history = HISTORY_DEFAULT};
    if (hist && fy_parse_long(hist, 0, HISTORY_MAX, &n) < 0)
        return fail(err, FERRY_EPARSE, FERRY_WIRE_BAD_PARAMETER,
                    "history must be an integer from 0 to %d", HISTORY_MAX);
    sr->history = (size_t)n;
    if (stream && device)
        return fail(err, FERRY_EPARSE, FERRY_WIRE_BAD_PARAMETER,
                    "give stream or device, not both");
    if ((stream && !fy_name_valid(stream)) ||
        (device && !fy_name_valid(device)))
        return fail(err, FERRY_EPARSE, FERRY_WIRE_BAD_PARAMETER,
                    "not a stream or device name");
    if (device && !key->admin && strcmp(device, key->device) != 0)
        return fail(err, FERRY_EFORBIDDEN, FERRY_WIRE_FORBIDDEN,
                    "this key may read the status of device '%s' only",
                    key->device);
    if (stream) {
        sr->kind = "stream";
        sr->name = stream;
    } else if (device || !key->admin) {
        /* A device key sees every stream and its own device. */
        sr->kind = device ? "device" : NULL;
        sr->name = device;
    }
    return 0;
}

/* Drops the devices a non-admin key may not see. */
static void own_devices(json_t *devices, const struct fy_key *key)
{
    size_t i = 0;

    if (key->admin)
        return;
    while (i < json_array_size(devices)) {
        const char *name = json_string_value(
            json_object_get(json_array_get(devices, i), "name"));

        if (name && strcmp(name, key->device) == 0)
            i++;
        else
            json_array_remove(devices, i);
    }
}

static void handle_status(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct fy_api *api = ud;
    struct ferry_err err = {0};
    struct fy_status_req sr;
    struct fy_store *st = NULL;
    struct status_out o = {json_array(), json_array(), NULL};
    int rc = status_args(req, &sr, &err);

    if (rc == 0)
        rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    /* What this ferryd added up is shown at once. */
    if (rc == 0 && api->devruns)
        rc = fy_devruns_flush(api->devruns, st, &(long){0}, &err);
    if (rc == 0)
        rc = fy_store_run_status(st, &sr, status_cb, history_cb, &o, &err);
    if (rc == FERRY_ENOMEM)
        fy_err_set(&err, rc, "out of memory");
    if (rc == 0 && sr.kind && sr.name && strcmp(sr.kind, "stream") == 0 &&
        json_array_size(o.streams) == 0)
        rc = fail(&err, FERRY_ENOTFOUND, FERRY_WIRE_STREAM_NOT_FOUND,
                  "no stream '%s' has run", sr.name);
    if (rc == 0) {
        own_devices(o.devices, fy_api_key(req));
        fy_api_json(resp, 200,
                    json_pack("{s:O, s:O}", "streams", o.streams, "devices",
                              o.devices));
    } else {
        fy_api_failure(resp, rc, &err, NULL);
    }
    if (st)
        fy_store_pool_put(api->pool, st);
    json_decref(o.streams);
    json_decref(o.devices);
}

/* ---- device runs ------------------------------------------------------- */

/* The Ferry-Run header: 1 to 64 of [A-Za-z0-9_-]; NULL when not given. */
static const char *run_token(const struct fy_http_req *req)
{
    const char *t = fy_http_header(req, "Ferry-Run");
    size_t n =
        t ? strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_-")
          : 0;

    return t && n >= 1 && n <= RUN_TOKEN_MAX && !t[n] ? t : NULL;
}

/* The record of req's device, op and run; strings borrowed. */
static void device_init(struct fy_api *api, const struct fy_http_req *req,
                        const char *op, struct fy_device_run *out)
{
    *out = (struct fy_device_run){
        .device = fy_api_key(req)->device,
        .token = run_token(req),
        .op = op,
        .server = api->instance,
    };
}

void fy_runs_device(struct fy_api *api, const struct fy_http_req *req,
                    const char *op, int64_t records, int status,
                    const char *error)
{
    struct fy_device_run r;

    /* A 5xx is the server's failure, not the device's; 401 has no key. */
    if (!req->ctx || status >= 500 || status < 200 || !api->devruns)
        return;
    device_init(api, req, op, &r);
    r.records = records;
    r.error = status < 300 ? NULL : error;
    fy_devruns_add(api->devruns, &r);
}

/* ---- routes ------------------------------------------------------------ */

/* Bodies are optional, so any Content-Type passes the headers' check. */
#define RUNS_BODY                                                              \
    {                                                                          \
        .mode = FY_BODY_MEMORY, .max = RUNS_BODY_MAX                           \
    }

const struct fy_http_route fy_runs_routes[] = {
    {.method = "POST",
     .pattern = "/v1/streams/{name:id}/runs",
     .auth = FY_AUTH_DEVICE,
     .body = RUNS_BODY,
     .fn = handle_begin},
    {.method = "PUT",
     .pattern = "/v1/streams/{name:id}/cursor",
     .auth = FY_AUTH_DEVICE,
     .body = RUNS_BODY,
     .fn = handle_cursor},
    {.method = "POST",
     .pattern = "/v1/runs/{id:id}/heartbeat",
     .auth = FY_AUTH_DEVICE,
     .body = RUNS_BODY,
     .fn = handle_heartbeat},
    {.method = "POST",
     .pattern = "/v1/runs/{id:id}/complete",
     .auth = FY_AUTH_DEVICE,
     .body = RUNS_BODY,
     .fn = handle_complete},
    {.method = "POST",
     .pattern = "/v1/runs/{id:id}/fail",
     .auth = FY_AUTH_DEVICE,
     .body = RUNS_BODY,
     .fn = handle_fail},
    {.method = "GET",
     .pattern = "/v1/status",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_status},
};

const size_t fy_runs_nroutes = FY_ARRAY_LEN(fy_runs_routes);
