/* SPDX-License-Identifier: MIT */
/*
 * The runs client (include/ferry/ferry_runs.h): begin, heartbeat, complete
 * and fail of a tracked run, a cursor import and the status, each one
 * request through the agent's retrying request on a network-only agent.
 * Also the pure parts of `ferry job run` and `ferry cursor import`
 * (runs.h): their command line, the job's report file, a last_sync.txt.
 */
#include "agent/runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/agent_int.h"
#include "util/utf8.h"
#include "fy.h"

#define DEFAULT_BUDGET_MS 300000
#define DEFAULT_LEASE_S   60
#define RECORDS_MAX       9007199254740991LL /* 2^53 - 1 */

struct ferry_client {
    struct fy_agent *a;
    char *key; /* the agent borrows it */
};

/* A run and what only this file needs to know about it. */
struct run_priv {
    struct ferry_run pub; /* first: ferry_run pointers are run_priv's */
    double lease_end;     /* fy_mono_s() by which the lease surely ends */
};

static struct run_priv *priv(struct ferry_run *r)
{
    return (struct run_priv *)r;
}

void ferry_free(void *p)
{
    fy_free(p);
}

/* ---- the client --------------------------------------------------------- */

static bool key_valid(const char *k)
{
    if (!k || !*k)
        return false;
    for (; *k; k++) {
        if (*k <= ' ' || *k > '~')
            return false;
    }
    return true;
}

/* The agent config the client's agent is made of: the ingestion values. */
static int client_config(const struct ferry_client_opts *o,
                         struct fy_agent_config *cfg, struct ferry_err *err)
{
    const char *u = o->base_url;
    const char *h = o->auth_header ? o->auth_header : "X-Api-Key";

    memset(cfg, 0, sizeof(*cfg));
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return fy_err_set(err, FERRY_EINVAL,
                          "base URL must start with http:// or https://");
    if (strpbrk(u, " \t\r\n"))
        return fy_err_set(err, FERRY_EINVAL, "base URL must not hold spaces");
    if (!fy_http_token_valid(h))
        return fy_err_set(err, FERRY_EINVAL,
                          "auth header must be an HTTP header name");
    if (!key_valid(o->key))
        return fy_err_set(err, FERRY_EINVAL,
                          "the API key is missing or holds spaces, line"
                          " breaks or other characters a key cannot have");
    cfg->base_url = fy_strdup(u);
    cfg->auth_header = fy_strdup(h);
    cfg->ca_file = o->ca_file ? fy_strdup(o->ca_file) : NULL;
    cfg->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
    cfg->batch_size = 500;
    if (!cfg->base_url || !cfg->auth_header || (o->ca_file && !cfg->ca_file)) {
        fy_agent_config_release(cfg);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    return 0;
}

int ferry_client_new(const struct ferry_client_opts *o,
                     struct ferry_client **out, struct ferry_err *err)
{
    struct fy_agent_opts ao = {.backoff_base_ms = 250, .backoff_cap_ms = 30000};
    struct fy_agent_config cfg;
    struct ferry_client *c = NULL;
    int rc;

    *out = NULL;
    if (!o)
        return fy_err_set(err, FERRY_EINVAL, "no client options");
    rc = client_config(o, &cfg, err);
    if (rc < 0)
        return rc;
    c = fy_calloc(1, sizeof(*c));
    if (c)
        c->key = fy_strdup(o->key);
    if (!c || !c->key) {
        fy_agent_config_release(&cfg);
        ferry_client_free(c);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    ao.key = c->key;
    ao.retry_budget_ms = o->retry_budget_ms == 0  ? DEFAULT_BUDGET_MS
                         : o->retry_budget_ms < 0 ? 0
                                                  : o->retry_budget_ms;
    rc = fy_agent_new(&cfg, NULL, &ao, &c->a, err);
    if (rc < 0) {
        ferry_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ferry_client_free(struct ferry_client *c)
{
    if (!c)
        return;
    fy_agent_free(c->a);
    fy_free(c->key);
    fy_free(c);
}

/* ---- one exchange ------------------------------------------------------- */

/* What one request brought back. */
struct exchange {
    long status;
    json_t *body;     /* the answer's JSON, NULL when none could be read */
    const char *code; /* error.code, or "" (borrowed from body) */
};

static void exchange_release(struct exchange *x)
{
    json_decref(x->body);
    memset(x, 0, sizeof(*x));
}

/* One request of the client. */
struct call {
    const char *method;
    const char *path;
    json_t *body;            /* NULL: none */
    const char *const *hdrs; /* more header lines, NULL-ended; NULL: none */
    int64_t budget_ms;       /* < 0: the client's retry budget */
    int64_t timeout_ms;      /* per attempt; 0: the config's timeout */
};

/*
 * Sends a call and reads the answer's JSON. Transport failures and
 * answers still transient after the budget are returned as they are.
 */
static int send_json(struct ferry_client *c, const struct call *k,
                     struct exchange *x, struct ferry_err *err)
{
    struct fy_agent *a = c->a;
    const struct fy_http_reply *rep;
    char *text = k->body ? json_dumps(k->body, JSON_COMPACT) : NULL;
    int64_t saved = a->o.retry_budget_ms;
    json_t *e;
    int rc;

    memset(x, 0, sizeof(*x));
    x->code = "";
    if (k->body && !text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (k->budget_ms >= 0)
        a->o.retry_budget_ms = k->budget_ms;
    rc = fy_agent_request(
        a,
        &(struct fy_agent_request){
            .http = {.method = k->method,
                     .path = k->path,
                     .content_type = text ? "application/json" : NULL,
                     .body = text,
                     .len = text ? strlen(text) : 0,
                     .headers = k->hdrs,
                     .timeout_ms = k->timeout_ms},
            .step = "runs"},
        &rep, err);
    a->o.retry_budget_ms = saved;
    free(text); /* jansson's malloc */
    if (rc < 0)
        return rc;
    x->status = rep->status;
    x->body = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    e = json_object_get(x->body, "error");
    if (json_is_string(json_object_get(e, "code")))
        x->code = json_string_value(json_object_get(e, "code"));
    return 0;
}

/* error.message of an answer, or a placeholder. */
static const char *message(const struct exchange *x)
{
    const char *m = json_string_value(
        json_object_get(json_object_get(x->body, "error"), "message"));

    return m ? m : "(no message)";
}

/*
 * An answer the call has no special reading for: 400 and 422 are the
 * request's fault (FERRY_EINVAL), 401 and 403 the key's, the rest
 * unexpected.
 */
static int answer_fail(const struct exchange *x, const char *what,
                       struct ferry_err *err)
{
    int code = ferry_err_from_wire(x->status, x->code[0] ? x->code : NULL);

    if (code == FERRY_EAUTH || code == FERRY_EFORBIDDEN)
        return fy_err_status(err, code, (int)x->status,
                             "server refused the key (%ld): %s", x->status,
                             message(x));
    if (x->status == 400 || x->status == 422 || x->status == 413 ||
        x->status == 415)
        return fy_err_status(err, FERRY_EINVAL, (int)x->status,
                             "server refused the %s (%ld %s): %s", what,
                             x->status, x->code, message(x));
    if (x->status == 404 && strcmp(x->code, "run_not_found") == 0)
        return fy_err_status(err, FERRY_ENOTFOUND, 404, "%s", message(x));
    return fy_err_status(err, FERRY_EHTTP, (int)x->status,
                         "unexpected answer %ld to the %s: %s", x->status, what,
                         message(x));
}

/* ---- runs --------------------------------------------------------------- */

bool ferry_stream_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") == n;
}

/* Replaces *dst with src's text (NULL for null or absent); false on OOM. */
static bool take_str(char **dst, json_t *src)
{
    const char *s = json_string_value(src);
    char *copy = s ? fy_strdup(s) : NULL;

    if (s && !copy)
        return false;
    fy_free(*dst);
    *dst = copy;
    return true;
}

/* Fills r from a begin's or heartbeat's answer; FERRY_EHTTP unreadable. */
static int read_run(struct run_priv *p, json_t *o, double sent,
                    struct ferry_err *err)
{
    struct ferry_run *r = &p->pub;
    json_t *lease = json_object_get(o, "lease");
    json_t *secs = json_object_get(lease, "seconds");
    json_t *id = json_object_get(o, "run");

    if (!json_is_integer(id) || json_integer_value(id) <= 0 ||
        !json_is_integer(secs) || json_integer_value(secs) <= 0 ||
        (r->id && r->id != json_integer_value(id)))
        return fy_err_set(err, FERRY_EHTTP,
                          "unreadable answer about a run: no run id or"
                          " lease");
    r->id = json_integer_value(id);
    r->lease_seconds = (int)json_integer_value(secs);
    p->lease_end = sent + r->lease_seconds;
    if ((json_object_get(o, "stream") &&
         !take_str(&r->stream, json_object_get(o, "stream"))) ||
        (json_object_get(o, "cursor") &&
         !take_str(&r->cursor, json_object_get(o, "cursor"))) ||
        (json_object_get(o, "started_at") &&
         !take_str(&r->started_at, json_object_get(o, "started_at"))) ||
        !take_str(&r->status, json_object_get(o, "status")) ||
        !take_str(&r->lease_expires_at, json_object_get(lease, "expires_at")))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return 0;
}

static json_t *begin_body(const struct ferry_run_opts *o)
{
    json_t *b = json_object();

    if (b && o && o->instance)
        json_object_set_new(b, "instance", json_string(o->instance));
    if (b && o && o->lease_seconds)
        json_object_set_new(b, "lease_seconds", json_integer(o->lease_seconds));
    return b;
}

static int check_begin(const char *stream, const struct ferry_run_opts *o,
                       struct ferry_err *err)
{
    if (!ferry_stream_name_valid(stream))
        return fy_err_set(err, FERRY_EINVAL,
                          "a stream name is 1 to 64 letters, digits or _.-"
                          " (and not . or ..)");
    if (o && (o->lease_seconds < 0 || o->lease_seconds > FY_RUNS_LEASE_MAX))
        return fy_err_set(err, FERRY_EINVAL,
                          "lease_seconds must be 1 to 86400 (0: 60)");
    if (o && o->instance && (!*o->instance || strlen(o->instance) > 800))
        return fy_err_set(err, FERRY_EINVAL,
                          "an instance name is 1 to 200 characters");
    return 0;
}

/* A random Idempotency-Key header line: a retried begin finds its run. */
static int idempotency_header(char line[64], struct ferry_err *err)
{
    unsigned char raw[16];
    char hex[33];
    int rc = fy_random(raw, sizeof(raw), err);

    if (rc < 0)
        return rc;
    fy_hex(raw, sizeof(raw), hex);
    snprintf(line, 64, "Idempotency-Key: %s", hex);
    return 0;
}

static int begin_answer(struct exchange *x, struct run_priv *p, double sent,
                        struct ferry_err *err)
{
    if (x->status == 201 || x->status == 200) {
        p->pub.again = x->status == 200;
        return read_run(p, x->body, sent, err);
    }
    if (x->status == 409 && strcmp(x->code, "lease_held") == 0)
        return fy_err_status(err, FERRY_ECONFLICT, 409, "%s", message(x));
    return answer_fail(x, "begin", err);
}

int ferry_run_begin(struct ferry_client *c, const char *stream,
                    const struct ferry_run_opts *o, struct ferry_run **out,
                    struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    struct exchange x = {0};
    struct run_priv *p = NULL;
    char idem[64];
    const char *hdrs[] = {idem, NULL};
    json_t *body = NULL;
    double sent = fy_mono_s();
    int rc = check_begin(stream, o, err);

    *out = NULL;
    if (rc == 0)
        rc = idempotency_header(idem, err);
    if (rc < 0)
        return rc;
    fy_buf_addf(&path, "/v1/streams/%s/runs", stream);
    body = begin_body(o);
    p = fy_calloc(1, sizeof(*p));
    if (!p || !body || fy_buf_error(&path)) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    p->pub.duration_ms = -1;
    rc = send_json(c,
                   &(struct call){.method = "POST",
                                  .path = path.data,
                                  .body = body,
                                  .hdrs = hdrs,
                                  .budget_ms = -1},
                   &x, err);
    if (rc == 0)
        rc = begin_answer(&x, p, sent, err);
    if (rc == 0) {
        *out = &p->pub;
        p = NULL;
    }
out:
    ferry_run_free(p ? &p->pub : NULL);
    exchange_release(&x);
    json_decref(body);
    fy_buf_release(&path);
    return rc;
}

int64_t ferry_run_lease_left_ms(const struct ferry_run *run)
{
    const struct run_priv *p = (const struct run_priv *)run;

    return (int64_t)((p->lease_end - fy_mono_s()) * 1000);
}

/* 409 run_finished, lease_expired and 404 for heartbeat, complete, fail. */
static int finished_answer(const struct exchange *x, struct ferry_run *r,
                           const char *what, struct ferry_err *err)
{
    const char *st = json_string_value(
        json_object_get(json_object_get(x->body, "error"), "status"));

    if (x->status == 409 && strcmp(x->code, "lease_expired") == 0)
        return fy_err_status(err, FERRY_EEXPIRED, 409,
                             "run %lld of '%s' lost its lease: %s",
                             (long long)r->id, r->stream, message(x));
    if (x->status == 409 && strcmp(x->code, "run_finished") == 0)
        return fy_err_status(err, FERRY_ECONFLICT, 409,
                             "run %lld of '%s' already ended (%s): %s",
                             (long long)r->id, r->stream, st ? st : "?",
                             message(x));
    return answer_fail(x, what, err);
}

/* No heartbeat answered in time: the lease is gone (FERRY_EEXPIRED). */
static int lease_gone(const struct ferry_run *run, int rc,
                      struct ferry_err *err)
{
    char why[200];

    snprintf(why, sizeof(why), "%.199s", err ? err->msg : ferry_strerror(rc));
    return fy_err_set(err, FERRY_EEXPIRED,
                      "run %lld of '%s' lost its lease: no heartbeat was"
                      " answered within %d s (%s)",
                      (long long)run->id, run->stream, run->lease_seconds, why);
}

/* A heartbeat attempt's time limit: the lease left, 1 s to the timeout. */
static int64_t attempt_ms(const struct ferry_client *c, int64_t left)
{
    int64_t cap = (int64_t)c->a->cfg.timeout_s * 1000;

    return left < 1000 ? 1000 : left > cap ? cap : left;
}

int ferry_run_heartbeat(struct ferry_client *c, struct ferry_run *run,
                        struct ferry_err *err)
{
    struct run_priv *p = priv(run);
    struct fy_buf path = FY_BUF_INIT(0);
    struct exchange x = {0};
    double sent = fy_mono_s();
    int64_t left = ferry_run_lease_left_ms(run);
    int64_t budget = c->a->o.retry_budget_ms;
    json_t *body = json_object();
    int rc;

    /* Retrying past the lease's end would only hear lease_expired. */
    budget = left < budget ? (left > 0 ? left : 0) : budget;
    fy_buf_addf(&path, "/v1/runs/%lld/heartbeat", (long long)run->id);
    if (!body || fy_buf_error(&path)) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    /*
     * Each attempt, too, ends by the lease's end (at least a second): a
     * server that hangs must not keep CMD working past its lease.
     */
    rc = send_json(c,
                   &(struct call){.method = "POST",
                                  .path = path.data,
                                  .body = body,
                                  .budget_ms = budget,
                                  .timeout_ms = attempt_ms(c, left)},
                   &x, err);
    if (rc < 0 && ferry_err_is_transient(rc) &&
        ferry_run_lease_left_ms(run) <= 0)
        rc = lease_gone(run, rc, err);
    else if (rc == 0 && x.status == 200)
        rc = read_run(p, x.body, sent, err);
    else if (rc == 0)
        rc = finished_answer(&x, run, "heartbeat", err);
out:
    exchange_release(&x);
    json_decref(body);
    fy_buf_release(&path);
    return rc;
}

/* The body of a complete or fail into *out (owned), checked. */
static int finish_body(int64_t records, const char *cursor, const char *error,
                       const char *metadata_json, json_t **out,
                       struct ferry_err *err)
{
    json_t *b = NULL, *meta = NULL;
    int rc = 0;

    *out = NULL;
    if (records < 0 || records > RECORDS_MAX)
        return fy_err_set(err, FERRY_EINVAL, "records must be 0 to 2^53-1");
    if (metadata_json) {
        meta = json_loads(metadata_json, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(meta))
            rc =
                fy_err_set(err, FERRY_EINVAL, "metadata must be a JSON object");
    }
    if (rc == 0 && !(b = json_object()))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0 &&
        (json_object_set_new(b, "records", json_integer(records)) < 0 ||
         (cursor && json_object_set_new(b, "cursor", json_string(cursor))) ||
         (error && json_object_set_new(b, "error", json_string(error))) ||
         (meta && json_object_set(b, "metadata", meta) < 0)))
        rc = fy_err_set(err, FERRY_EINVAL,
                        "a cursor or error that is not UTF-8 (or out of"
                        " memory)");
    json_decref(meta);
    if (rc < 0)
        json_decref(b);
    else
        *out = b;
    return rc;
}

/* Reads a complete's or fail's 200 into r. */
static int read_finish(struct ferry_run *r, json_t *o, struct ferry_err *err)
{
    json_t *d = json_object_get(o, "duration_ms");
    json_t *n = json_object_get(o, "records");

    if (!take_str(&r->status, json_object_get(o, "status")) ||
        (json_object_get(o, "cursor") &&
         !take_str(&r->cursor, json_object_get(o, "cursor"))))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    r->duration_ms = json_is_integer(d) ? json_integer_value(d) : -1;
    if (json_is_integer(n))
        r->records = json_integer_value(n);
    return 0;
}

/*
 * 409 run_finished with the status the finish asked for means a finish of
 * this run committed: an earlier attempt whose answer was lost (this is
 * the retry), or this very request delivered twice by the network (this
 * is the duplicate's answer, with no retry to show for it). Only a finish
 * with the run's own key can end it that way, so it counts as done.
 */
static bool finished_by_us(const struct exchange *x, const char *want)
{
    const char *st = json_string_value(
        json_object_get(json_object_get(x->body, "error"), "status"));

    return x->status == 409 && strcmp(x->code, "run_finished") == 0 && st &&
           strcmp(st, want) == 0;
}

/*
 * The run as the finish that committed left it, from what it sent (no
 * answer of it came back): its status, records and, for a complete that
 * sent one, the cursor it committed.
 */
static int finished_as_sent(struct ferry_run *r, const char *want, json_t *body,
                            struct ferry_err *err)
{
    json_t *n = json_object_get(body, "records");

    fy_free(r->status);
    r->status = fy_strdup(want);
    r->duration_ms = -1;
    r->records = json_is_integer(n) ? json_integer_value(n) : 0;
    if (!r->status ||
        (strcmp(want, "success") == 0 && json_object_get(body, "cursor") &&
         !take_str(&r->cursor, json_object_get(body, "cursor"))))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return 0;
}

static int finish(struct ferry_client *c, struct ferry_run *run,
                  const char *verb, const char *want, json_t *body,
                  struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    struct exchange x = {0};
    int rc;

    fy_buf_addf(&path, "/v1/runs/%lld/%s", (long long)run->id, verb);
    if (fy_buf_error(&path))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = send_json(
        c,
        &(struct call){
            .method = "POST", .path = path.data, .body = body, .budget_ms = -1},
        &x, err);
    if (rc == 0 && x.status == 200)
        rc = read_finish(run, x.body, err);
    else if (rc == 0 && finished_by_us(&x, want))
        rc = finished_as_sent(run, want, body, err);
    else if (rc == 0)
        rc = finished_answer(&x, run, verb, err);
    exchange_release(&x);
    fy_buf_release(&path);
    return rc;
}

int ferry_run_complete(struct ferry_client *c, struct ferry_run *run,
                       int64_t records, const char *cursor,
                       const char *metadata_json, struct ferry_err *err)
{
    json_t *body = NULL;
    int rc;

    if (cursor && strlen(cursor) > FY_RUNS_CURSOR_MAX)
        return fy_err_set(err, FERRY_EINVAL, "a cursor is at most 4096 bytes");
    rc = finish_body(records, cursor, NULL, metadata_json, &body, err);
    if (rc == 0)
        rc = finish(c, run, "complete", "success", body, err);
    if (rc == 0)
        run->records = records;
    json_decref(body);
    return rc;
}

int ferry_run_fail(struct ferry_client *c, struct ferry_run *run,
                   const char *error, int64_t records,
                   const char *metadata_json, struct ferry_err *err)
{
    json_t *body = NULL;
    int rc;

    if (!error || !*error || strlen(error) > FY_RUNS_ERROR_MAX)
        return fy_err_set(err, FERRY_EINVAL,
                          "an error message is 1 to 4096 bytes");
    rc = finish_body(records, NULL, error, metadata_json, &body, err);
    if (rc == 0)
        rc = finish(c, run, "fail", "failed", body, err);
    if (rc == 0)
        run->records = records;
    json_decref(body);
    return rc;
}

void ferry_run_free(struct ferry_run *run)
{
    if (!run)
        return;
    fy_free(run->stream);
    fy_free(run->cursor);
    fy_free(run->status);
    fy_free(run->started_at);
    fy_free(run->lease_expires_at);
    fy_free(priv(run));
}

/* ---- cursor and status -------------------------------------------------- */

static int cursor_answer(const struct exchange *x, char **previous,
                         struct ferry_err *err)
{
    if (x->status == 409 && strcmp(x->code, "lease_held") == 0)
        return fy_err_status(err, FERRY_ECONFLICT, 409, "%s", message(x));
    if (x->status != 200)
        return answer_fail(x, "cursor import", err);
    if (previous && !take_str(previous, json_object_get(x->body, "previous")))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return 0;
}

int ferry_cursor_set(struct ferry_client *c, const char *stream,
                     const char *cursor, const char *source, char **previous,
                     struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    struct exchange x = {0};
    json_t *body = NULL;
    int rc = 0;

    if (previous)
        *previous = NULL;
    if (!ferry_stream_name_valid(stream))
        return fy_err_set(err, FERRY_EINVAL,
                          "a stream name is 1 to 64 letters, digits or _.-"
                          " (and not . or ..)");
    if (!cursor || !*cursor || strlen(cursor) > FY_RUNS_CURSOR_MAX)
        return fy_err_set(err, FERRY_EINVAL, "a cursor is 1 to 4096 bytes");
    body = json_pack("{s:s?, s:s?}", "cursor", cursor, "source", source);
    fy_buf_addf(&path, "/v1/streams/%s/cursor", stream);
    if (!body || fy_buf_error(&path))
        rc = fy_err_set(err, FERRY_EINVAL,
                        "out of memory, or a cursor or source that is not"
                        " UTF-8");
    if (rc == 0)
        rc = send_json(c,
                       &(struct call){.method = "PUT",
                                      .path = path.data,
                                      .body = body,
                                      .budget_ms = -1},
                       &x, err);
    if (rc == 0)
        rc = cursor_answer(&x, previous, err);
    exchange_release(&x);
    json_decref(body);
    fy_buf_release(&path);
    return rc;
}

int ferry_status_json(struct ferry_client *c, const char *stream, int history,
                      char **json, struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    const struct fy_buf *text = &c->a->rep.body;
    struct exchange x = {0};
    int rc;

    *json = NULL;
    if (history < 0 || history > 1000)
        return fy_err_set(err, FERRY_EINVAL, "history must be 0 to 1000");
    if (stream && !ferry_stream_name_valid(stream))
        return fy_err_set(err, FERRY_EINVAL,
                          "a stream name is 1 to 64 letters, digits or _.-"
                          " (and not . or ..)");
    fy_buf_addf(&path, "/v1/status?history=%d%s%s", history,
                stream ? "&stream=" : "", stream ? stream : "");
    if (fy_buf_error(&path))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = send_json(
        c, &(struct call){.method = "GET", .path = path.data, .budget_ms = -1},
        &x, err);
    if (rc == 0 && x.status == 404 && strcmp(x.code, "stream_not_found") == 0)
        rc = fy_err_status(err, FERRY_ENOTFOUND, 404, "%s", message(&x));
    else if (rc == 0 && x.status == 200 && !json_is_object(x.body))
        /* The agent keeps 1 MiB of an answer: more is cut, unreadable. */
        rc = fy_err_set(err, FERRY_EHTTP,
                        "the status answer is not a JSON object of at most"
                        " 1 MiB: ask for fewer history rows, or one stream");
    else if (rc == 0 && x.status != 200)
        rc = answer_fail(&x, "status request", err);
    /* The server's own text, as it came (the agent's last answer). */
    if (rc == 0 && !(*json = fy_strndup(text->data, text->len)))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    exchange_release(&x);
    fy_buf_release(&path);
    return rc;
}

/* ---- durations and the job's command line ------------------------------ */

int64_t fy_runs_duration_ms(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}};
    const int64_t max = 7LL * 86400 * 1000;
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || v <= 0 || v > max)
        return -1;
    for (size_t i = 0; i < FY_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].unit) == 0)
            return v * units[i].ms > max ? -1 : v * units[i].ms;
    }
    return -1;
}

/* An instance name: 1 to 200 characters of UTF-8, none a control. */
static bool instance_valid(const char *s)
{
    size_t chars = 0;
    json_t *j = json_string(s); /* NULL: not UTF-8 */

    json_decref(j);
    if (!j || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        chars += (*p & 0xc0) != 0x80;
    }
    return chars <= 200;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; NULL when not this one. */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
                             bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (!a || strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* One option at argv[*i]: 1 taken, 0 not an option, < 0 bad. */
static int job_option(int argc, char **argv, int *i, struct fy_job_args *a,
                      struct ferry_err *err)
{
    bool missing = false;
    const char *v;
    long n;
    char *end;

    if ((v = opt_value(argc, argv, i, "--every", &missing))) {
        a->every_ms = fy_runs_duration_ms(v);
        return a->every_ms > 0 ? 1
                               : fy_err_set(err, FERRY_EINVAL,
                                            "--every takes a duration such"
                                            " as 30s, 5m or 1h");
    }
    if (!missing && (v = opt_value(argc, argv, i, "--lease", &missing))) {
        n = strtol(v, &end, 10);
        if (*v < '0' || *v > '9' || *end || n < 1 || n > FY_RUNS_LEASE_MAX)
            return fy_err_set(err, FERRY_EINVAL,
                              "--lease takes seconds, 1 to 86400");
        a->lease_s = (int)n;
        return 1;
    }
    if (!missing && (v = opt_value(argc, argv, i, "--instance", &missing))) {
        a->instance = v;
        return instance_valid(v) ? 1
                                 : fy_err_set(err, FERRY_EINVAL,
                                              "--instance takes 1 to 200"
                                              " printable characters");
    }
    if (missing)
        return fy_err_set(err, FERRY_EINVAL, "%s needs a value", argv[*i]);
    return 0;
}

static int job_word(const char *w, struct fy_job_args *a, struct ferry_err *err)
{
    if (w[0] == '-' && w[1] != '\0')
        return fy_err_set(err, FERRY_EINVAL, "unknown option '%.64s'", w);
    if (a->stream)
        return fy_err_set(err, FERRY_EINVAL,
                          "unexpected '%.64s': the command goes after --", w);
    a->stream = w;
    return 0;
}

int fy_job_args_parse(int argc, char **argv, struct fy_job_args *a,
                      struct ferry_err *err)
{
    int rc = 0;

    memset(a, 0, sizeof(*a));
    /* --help before the command wins over whatever else is wrong. */
    for (int i = 1; i < argc && argv[i] && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            a->help = true;
            return 0;
        }
    }
    for (int i = 1; rc >= 0 && i < argc && argv[i] && !a->cmd; i++) {
        if (strcmp(argv[i], "--") == 0) {
            a->cmd = argv + i + 1;
            continue;
        }
        rc = job_option(argc, argv, &i, a, err);
        if (rc == 0)
            rc = job_word(argv[i], a, err);
    }
    if (rc < 0)
        return rc;
    if (!a->stream)
        return fy_err_set(err, FERRY_EINVAL, "NAME is missing");
    if (!ferry_stream_name_valid(a->stream))
        return fy_err_set(err, FERRY_EINVAL,
                          "'%.80s' is not a stream name: 1 to 64 letters,"
                          " digits or _.- (and not . or ..)",
                          a->stream);
    if (!a->cmd || !a->cmd[0])
        return fy_err_set(err, FERRY_EINVAL,
                          "no command: put it after --, as in"
                          " 'ferry job run NAME -- CMD ARGS...'");
    return 0;
}

/* ---- the report file --------------------------------------------------- */

/* A copy of p[0..n) into *dst (replacing it); false on OOM. */
static bool set_text(char **dst, const char *p, size_t n)
{
    char *copy = fy_strndup(p, n);

    if (!copy)
        return false;
    fy_free(*dst);
    *dst = copy;
    return true;
}

static int report_records(const char *v, size_t n, size_t line,
                          struct fy_job_report *r, struct ferry_err *err)
{
    int64_t x = 0;

    if (n == 0 || n > 16)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            goto bad;
        x = x * 10 + (v[i] - '0');
    }
    if (x > RECORDS_MAX)
        goto bad;
    r->records = x;
    return 0;
bad:
    return fy_err_set(err, FERRY_EPARSE,
                      "line %zu: records= takes a whole number from 0 to"
                      " 2^53-1",
                      line);
}

static int report_metadata(const char *v, size_t n, size_t line,
                           struct fy_job_report *r, struct ferry_err *err)
{
    json_t *j = json_loadb(v, n, JSON_REJECT_DUPLICATES, NULL);
    char *text = json_is_object(j) ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = 0;

    if (!json_is_object(j))
        rc = fy_err_set(err, FERRY_EPARSE,
                        "line %zu: metadata= takes a JSON object on one line",
                        line);
    else if (text && strlen(text) > FY_RUNS_METADATA_MAX)
        rc = fy_err_set(err, FERRY_EPARSE,
                        "line %zu: metadata is over 64 KiB as compact JSON",
                        line);
    else if (!text || !set_text(&r->metadata, text, strlen(text)))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    free(text); /* jansson's malloc */
    json_decref(j);
    return rc;
}

/* cursor= and error=: text of at most 4096 bytes of UTF-8. */
static int report_text(const char *key, const char *v, size_t n, size_t line,
                       char **dst, struct ferry_err *err)
{
    if (n > FY_RUNS_CURSOR_MAX || n > FY_RUNS_ERROR_MAX)
        return fy_err_set(err, FERRY_EPARSE, "line %zu: %s= is over 4096 bytes",
                          line, key);
    if (fy_utf8_prefix(v, n) < n)
        return fy_err_set(err, FERRY_EPARSE, "line %zu: %s= is not UTF-8", line,
                          key);
    if (n == 0 && strcmp(key, "error") == 0)
        return fy_err_set(err, FERRY_EPARSE, "line %zu: error= needs a message",
                          line);
    return set_text(dst, v, n) ? 0
                               : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* One line p[0..n) (no newline, CR dropped); line counts from 1. */
static int report_line(const char *p, size_t n, size_t line,
                       struct fy_job_report *r, struct ferry_err *err)
{
    const char *eq = memchr(p, '=', n);
    size_t k = eq ? (size_t)(eq - p) : 0;
    const char *v = eq ? eq + 1 : NULL;
    size_t vn = eq ? n - k - 1 : 0;

    if (!eq)
        return fy_err_set(err, FERRY_EPARSE,
                          "line %zu: not KEY=VALUE (cursor=, records=,"
                          " metadata= or error=)",
                          line);
    if (k == 6 && memcmp(p, "cursor", 6) == 0)
        return report_text("cursor", v, vn, line, &r->cursor, err);
    if (k == 5 && memcmp(p, "error", 5) == 0)
        return report_text("error", v, vn, line, &r->error, err);
    if (k == 7 && memcmp(p, "records", 7) == 0)
        return report_records(v, vn, line, r, err);
    if (k == 8 && memcmp(p, "metadata", 8) == 0)
        return report_metadata(v, vn, line, r, err);
    return fy_err_set(err, FERRY_EPARSE,
                      "line %zu: unknown key '%.*s' (cursor, records,"
                      " metadata or error)",
                      line, (int)(k < 40 ? k : 40), p);
}

int fy_job_report_parse(const char *text, size_t len, struct fy_job_report *r,
                        struct ferry_err *err)
{
    size_t line = 0;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    if (memchr(text, '\0', len))
        return fy_err_set(err, FERRY_EPARSE, "it holds a NUL byte");
    for (size_t at = 0; rc == 0 && at < len;) {
        const char *p = text + at, *nl = memchr(p, '\n', len - at);
        size_t n = nl ? (size_t)(nl - p) : len - at;

        at += n + (nl ? 1 : 0);
        line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > 0)
            rc = report_line(p, n, line, r, err);
    }
    return rc;
}

/* Up to max bytes of path into b; FERRY_ETOOBIG past it. */
static int read_small(const char *path, size_t max, struct fy_buf *b,
                      struct ferry_err *err)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (!f)
        return fy_err_set(err, FERRY_EIO, "cannot open '%s': %s", path,
                          strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b->len <= max)
        fy_buf_add(b, chunk, n);
    if (ferror(f)) {
        fclose(f);
        return fy_err_set(err, FERRY_EIO, "cannot read '%s'", path);
    }
    fclose(f);
    if (fy_buf_error(b))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (b->len > max)
        return fy_err_set(err, FERRY_ETOOBIG, "'%s' is larger than %zu bytes",
                          path, max);
    return 0;
}

int fy_job_report_read(const char *path, struct fy_job_report *r,
                       struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = read_small(path, FY_RUNS_REPORT_MAX, &b, err);

    memset(r, 0, sizeof(*r));
    if (rc == 0)
        rc = fy_job_report_parse(b.data, b.len, r, err);
    fy_buf_release(&b);
    return rc;
}

void fy_job_report_release(struct fy_job_report *r)
{
    if (!r)
        return;
    fy_free(r->cursor);
    fy_free(r->metadata);
    fy_free(r->error);
    memset(r, 0, sizeof(*r));
}

/* ---- last_sync.txt ----------------------------------------------------- */

/* n digits at *p as a number, moving *p on; -1 when they are not digits. */
static int digits(const char **p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static bool date_valid(const char **p)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = digits(p, 4), m, d;

    if (y < 1 || *(*p)++ != '-' || (m = digits(p, 2)) < 1 || m > 12 ||
        *(*p)++ != '-' || (d = digits(p, 2)) < 1 || d > mdays[m - 1])
        return false;
    /* 29 February only in leap years. */
    return !(m == 2 && d == 29 &&
             !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

/* HH:MM[:SS[.fraction]] */
static bool time_valid(const char **p)
{
    int h = digits(p, 2), m, s, n = 0;

    if (h < 0 || h > 23 || *(*p)++ != ':' || (m = digits(p, 2)) < 0 || m > 59)
        return false;
    if (**p != ':')
        return true;
    (*p)++;
    if ((s = digits(p, 2)) < 0 || s > 59)
        return false;
    if (**p != '.')
        return true;
    (*p)++;
    while ((*p)[n] >= '0' && (*p)[n] <= '9')
        n++;
    *p += n;
    return n >= 1 && n <= 9;
}

/* Z, +HH:MM or -HH:MM, or nothing. */
static bool zone_valid(const char *p)
{
    int h, m;

    if (*p == '\0' || strcmp(p, "Z") == 0)
        return true;
    if (*p != '+' && *p != '-')
        return false;
    p++;
    if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' ||
        (m = digits(&p, 2)) < 0 || m > 59)
        return false;
    return *p == '\0';
}

bool fy_runs_timestamp_valid(const char *s)
{
    const char *p = s;

    if (!s || !date_valid(&p))
        return false;
    if (*p == '\0')
        return true;
    if (*p != 'T' && *p != ' ')
        return false;
    p++;
    return time_valid(&p) && zone_valid(p);
}

int fy_runs_cursor_text(const char *text, size_t len, bool any, char **cursor,
                        struct ferry_err *err)
{
    size_t n = len;

    *cursor = NULL;
    if (memchr(text, '\0', len))
        return fy_err_set(err, FERRY_EPARSE, "it holds a NUL byte");
    while (n > 0 && strchr(" \t\r\n\v\f", text[n - 1]))
        n--;
    if (n == 0)
        return fy_err_set(err, FERRY_EPARSE, "it is empty");
    if (memchr(text, '\n', n))
        return fy_err_set(err, FERRY_EPARSE,
                          "it holds more than one line (a cursor is one)");
    if (n > FY_RUNS_CURSOR_MAX)
        return fy_err_set(err, FERRY_EPARSE,
                          "its line is %zu bytes (a cursor is at most 4096)",
                          n);
    if (fy_utf8_prefix(text, n) < n)
        return fy_err_set(err, FERRY_EPARSE, "it is not UTF-8 text");
    *cursor = fy_strndup(text, n);
    if (!*cursor)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (any || fy_runs_timestamp_valid(*cursor))
        return 0;
    fy_err_set(err, FERRY_EPARSE,
               "'%.100s' is not a date and time such as"
               " 2024-01-15T10:30:00.000000 (--any takes any line)",
               *cursor);
    fy_free(*cursor);
    *cursor = NULL;
    return FERRY_EPARSE;
}

int fy_runs_cursor_file(const char *path, bool any, char **cursor,
                        struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = read_small(path, (size_t)2 * FY_RUNS_CURSOR_MAX, &b, err);

    *cursor = NULL;
    if (rc == FERRY_ETOOBIG)
        rc = fy_err_set(err, FERRY_EPARSE,
                        "it is larger than a cursor file can be (8 KiB)");
    if (rc == 0)
        rc = fy_runs_cursor_text(b.data, b.len, any, cursor, err);
    fy_buf_release(&b);
    return rc;
}
