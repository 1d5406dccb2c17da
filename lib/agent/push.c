/* SPDX-License-Identifier: MIT */
/*
 * The push loop; see push.h and docs/guarantees.md for why each step is
 * safe to interrupt at any point.
 */
#include "agent/push.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/state.h"
#include "capture/outbox.h"
#include "core/backoff.h"
#include "http/client.h"
#include "util/log.h"
#include "fy.h"

struct pusher {
    sqlite3 *db;
    const struct fy_agent_config *cfg;
    const struct fy_push_opts *o;
    struct fy_push_stats *s;
    struct fy_http_client *http;
    struct fy_outbox *ob;
    struct fy_backoff bo;
    struct fy_http_reply rep;
    int64_t acked; /* acked_seq of the last 200 */
    int batch_size;
};

static bool transient_status(long status)
{
    return status >= 500 || status == 429 || status == 408;
}

static void reply_message(const struct fy_http_reply *rep, char *out, size_t n)
{
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    const char *m = json_string_value(
        json_object_get(json_object_get(root, "error"), "message"));

    snprintf(out, n, "%s", m ? m : "(no message)");
    json_decref(root);
}

/*
 * A 200 must carry the acknowledged seq. One without it (a body cut short,
 * empty, or not ferryd's JSON) says nothing about the batch: it is treated
 * as a network error and retried, never as a verdict.
 */
static int parse_acked(const struct fy_http_reply *rep, int64_t *acked,
                       struct ferry_err *err)
{
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    json_t *v = json_object_get(root, "acked_seq");
    int rc = 0;

    if (!json_is_integer(v))
        rc = fy_err_set(err, FERRY_ENET,
                        "server answered 200 without a readable acked_seq"
                        " (%zu bytes%s)",
                        rep->body.len,
                        rep->body.len ? "" : ": answer cut short?");
    else
        *acked = json_integer_value(v);
    json_decref(root);
    return rc;
}

static void report(struct pusher *p, struct fy_push_event *ev)
{
    ev->stats = p->s;
    ev->budget_ms = p->o->retry_budget_ms;
    if (p->o->report)
        p->o->report(ev, p->o->report_ud);
}

/* One attempt: 0 for an answer to act on, else a transient error in e. */
static int attempt(struct pusher *p, const char *body, size_t len,
                   struct ferry_err *e)
{
    char msg[300];
    int rc =
        fy_http_post_json(p->http, "/v1/push", p->cfg->auth_header, p->o->key,
                          body, len, p->cfg->compress, &p->rep, e);

    if (rc < 0)
        return rc;
    if (p->rep.status == 200)
        return parse_acked(&p->rep, &p->acked, e);
    if (!transient_status(p->rep.status))
        return 0;
    reply_message(&p->rep, msg, sizeof(msg));
    return fy_err_set(e,
                      p->rep.status == 429 ? FERRY_ERATELIMIT : FERRY_EUNAVAIL,
                      "server answered %ld: %s", p->rep.status, msg);
}

/*
 * The event carries the error escaped (fy_escape): it may quote the
 * server's error.message, and the program prints it to a terminal.
 */
static void report_retry(struct pusher *p, const struct ferry_err *e,
                         int failures, int64_t delay, int64_t failing)
{
    struct fy_buf shown = FY_BUF_INIT(0);

    fy_escape(&shown, e->msg, strlen(e->msg));
    report(p, &(struct fy_push_event){.kind = FY_PUSH_RETRY,
                                      .error = fy_buf_error(&shown)
                                                   ? "(out of memory)"
                                                   : shown.data,
                                      .attempt = failures,
                                      .delay_ms = delay,
                                      .failing_ms = failing});
    fy_buf_release(&shown);
}

/* POSTs body, retrying transient failures within the budget. */
static int send_retrying(struct pusher *p, const char *body, size_t len,
                         struct ferry_err *err)
{
    double start = fy_mono_s();
    int failures = 0;

    for (;;) {
        struct ferry_err e = {0};
        int64_t delay, failing;
        int rc = attempt(p, body, len, &e);

        failing = (int64_t)((fy_mono_s() - start) * 1000);
        if (rc == 0) {
            fy_backoff_reset(&p->bo);
            if (failures > 0)
                report(p, &(struct fy_push_event){.kind = FY_PUSH_RECOVERED,
                                                  .failing_ms = failing});
            return 0;
        }
        delay = fy_backoff_next(
            &p->bo, p->rep.status >= 400 ? p->rep.retry_after_ms : -1);
        if (!ferry_err_is_transient(rc) ||
            failing + delay > p->o->retry_budget_ms) {
            if (err)
                *err = e;
            return rc;
        }
        p->s->retries++;
        failures++;
        fy_log(p->o->report ? FERRY_LOG_DEBUG : FERRY_LOG_WARN, "retry",
               "%s; retrying in %lld ms", e.msg, (long long)delay);
        report_retry(p, &e, failures, delay, failing);
        fy_sleep_ms(delay);
    }
}

static int handshake(struct pusher *p, struct ferry_err *err)
{
    struct fy_buf body = FY_BUF_INIT(0);
    int64_t acked = 0;
    int rc;

    fy_buf_addf(&body, "{\"device\":\"%s\",\"changes\":[]}", p->cfg->device);
    rc = send_retrying(p, body.data, body.len, err);
    fy_buf_release(&body);
    if (rc < 0)
        return rc;
    if (p->rep.status != 200)
        return -1; /* classified by the caller */
    acked = p->acked;
    p->s->answered = true;
    p->s->acked_seq = acked;
    return fy_outbox_sync_seq(p->ob, acked, err);
}

/* True when seq is one of the changes sent in b. */
static bool in_batch(const struct fy_batch *b, int64_t seq)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].seq == seq)
            return true;
    }
    return false;
}

/*
 * Parks one change the server listed; *parked says whether a change really
 * moved. A seq this batch did not carry (a server's bug, or a seq named
 * twice) parks nothing: counting it would leave the batch as it is, and
 * the same batch would be built and sent again forever.
 */
static int bury_listed(struct pusher *p, const struct fy_batch *b, json_t *c,
                       bool *parked, struct ferry_err *err)
{
    json_t *seq = json_object_get(c, "seq");
    json_t *st = json_object_get(c, "status");
    const char *code = json_string_value(json_object_get(c, "code"));
    const char *msg = json_string_value(json_object_get(c, "message"));
    sqlite3_int64 before = sqlite3_total_changes64(p->db);
    int rc;

    *parked = false;
    if (!json_is_integer(seq) || !in_batch(b, json_integer_value(seq)))
        return 0;
    rc = fy_outbox_bury(p->ob, b, json_integer_value(seq),
                        json_is_integer(st) ? (int)json_integer_value(st)
                                            : (int)p->rep.status,
                        code ? code : "rejected", msg ? msg : "", err);
    *parked = rc == 0 && sqlite3_total_changes64(p->db) > before;
    if (*parked)
        fy_warn("push", "change seq=%lld rejected (%ld %s): %s",
                (long long)json_integer_value(seq), p->rep.status,
                code ? code : "", msg ? msg : "");
    return rc;
}

/* Parks each change of b the server listed in error.changes. */
static int bury_rejected(struct pusher *p, const struct fy_batch *b,
                         long *buried, struct ferry_err *err)
{
    json_t *root = json_loadb(p->rep.body.data, p->rep.body.len, 0, NULL);
    json_t *list = json_object_get(json_object_get(root, "error"), "changes");
    json_t *c;
    size_t i;
    int rc = fy_outbox_begin(p->ob, err);

    *buried = 0;
    json_array_foreach(list, i, c)
    {
        bool parked = false;

        if (rc == 0)
            rc = bury_listed(p, b, c, &parked, err);
        *buried += parked;
    }
    json_decref(root);
    if (rc == 0)
        return fy_outbox_commit(p->ob, err);
    *buried = 0;
    fy_outbox_rollback(p->ob);
    return rc;
}

static int bury_single(struct pusher *p, const struct fy_batch *b,
                       struct ferry_err *err)
{
    char msg[300];
    int rc = fy_outbox_begin(p->ob, err);

    reply_message(&p->rep, msg, sizeof(msg));
    if (rc == 0)
        rc = fy_outbox_bury(p->ob, b, b->items[0].seq, (int)p->rep.status,
                            "rejected", msg, err);
    if (rc == 0)
        return fy_outbox_commit(p->ob, err);
    fy_outbox_rollback(p->ob);
    return rc;
}

/*
 * True for ferryd's verdict on the batch's rows: its JSON error body with
 * one of the codes it gives bad rows. Anything else (a proxy's 404, a wrong
 * base_url path, a redirect, an HTML page) says nothing about the rows and
 * must not get them parked.
 */
static bool is_verdict(const struct fy_http_reply *rep)
{
    static const char *const codes[] = {"contract_violation", "unknown_table",
                                        "forbidden", "malformed",
                                        "body_too_large"};
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    const char *code = json_string_value(
        json_object_get(json_object_get(root, "error"), "code"));
    bool known = false;

    for (size_t i = 0; code && i < FY_ARRAY_LEN(codes); i++)
        known = known || strcmp(code, codes[i]) == 0;
    json_decref(root);
    return known;
}

/* A 4xx answer to a batch: park what it names, else narrow the batch. */
static int handle_rejection(struct pusher *p, const struct fy_batch *b,
                            struct ferry_err *err)
{
    long buried = 0;
    int rc;

    if (!is_verdict(&p->rep)) {
        char msg[300];

        reply_message(&p->rep, msg, sizeof(msg));
        return fy_err_status(err, FERRY_EHTTP, (int)p->rep.status,
                             "unexpected answer %ld from '%s' (is base_url"
                             " a ferryd?): %s",
                             p->rep.status, p->cfg->base_url, msg);
    }
    rc = bury_rejected(p, b, &buried, err);

    if (rc < 0 || buried > 0) {
        p->s->dead += buried;
        return rc;
    }
    if (b->n > 1) {
        /*
         * No per-change verdict (e.g. 413), or one naming no change of this
         * batch: find the culprit by halving.
         */
        p->batch_size = (int)(b->n / 2);
        return 0;
    }
    rc = bury_single(p, b, err);
    if (rc == 0)
        p->s->dead++;
    return rc;
}

static int auth_failure(struct pusher *p, struct ferry_err *err)
{
    char msg[300];

    reply_message(&p->rep, msg, sizeof(msg));
    return fy_err_status(err,
                         p->rep.status == 401 ? FERRY_EAUTH : FERRY_EFORBIDDEN,
                         (int)p->rep.status, "server refused the key (%ld): %s",
                         p->rep.status, msg);
}

static int push_one(struct pusher *p, struct fy_batch *b, bool *done,
                    struct ferry_err *err)
{
    int64_t acked = 0;
    int rc = fy_outbox_build(p->ob, p->cfg->device, p->batch_size, b, err);

    if (rc < 0)
        return rc;
    p->s->dead_local += b->dead_local;
    if (b->n == 0) {
        *done = b->dead_local == 0;
        return 0;
    }
    rc = send_retrying(p, b->body.data, b->body.len, err);
    if (rc < 0)
        return rc;
    /*
     * 403 here is about rows, not the key: the handshake already proved the
     * key and its device. A change outside the key's region is parked like
     * any invalid change, so it cannot block the rest of the outbox.
     */
    if (p->rep.status == 401)
        return auth_failure(p, err);
    if (p->rep.status != 200)
        return handle_rejection(p, b, err);
    acked = p->acked;
    rc = fy_outbox_ack(p->ob, acked, err);
    if (rc == 0) {
        p->s->batches++;
        p->s->sent += (long)b->n;
        p->s->acked_seq = acked;
        /*
         * Grow back gradually after narrowing down a rejected change, so
         * finding the next one does not start from the full batch again.
         */
        if (p->batch_size < p->cfg->batch_size)
            p->batch_size = p->batch_size * 2 < p->cfg->batch_size
                                ? p->batch_size * 2
                                : p->cfg->batch_size;
        fy_log(p->o->report ? FERRY_LOG_DEBUG : FERRY_LOG_INFO, "push",
               "batch=%ld seq=%lld-%lld acked_seq=%lld", p->s->batches,
               (long long)b->items[0].seq, (long long)b->items[b->n - 1].seq,
               (long long)acked);
        report(p, &(struct fy_push_event){.kind = FY_PUSH_PROGRESS});
    }
    return rc;
}

static int run(struct pusher *p, struct ferry_err *err)
{
    struct fy_batch b;
    bool done = false;
    int rc = handshake(p, err);

    if (rc == -1)
        rc = p->rep.status == 401 || p->rep.status == 403
                 ? auth_failure(p, err)
                 : fy_err_status(err, FERRY_EHTTP, (int)p->rep.status,
                                 "server answered %ld to the handshake",
                                 p->rep.status);
    fy_batch_init(&b);
    while (rc == 0 && !done &&
           (p->o->max_batches == 0 || p->s->batches < p->o->max_batches))
        rc = push_one(p, &b, &done, err);
    fy_batch_release(&b);
    return rc;
}

static long count_queued(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    long n = 0;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM _ferry_outbox", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int fy_agent_push(sqlite3 *db, const struct fy_agent_config *cfg,
                  const struct fy_push_opts *o, struct fy_push_stats *s,
                  struct ferry_err *err)
{
    struct pusher p = {
        .db = db, .cfg = cfg, .o = o, .s = s, .batch_size = cfg->batch_size};
    int rc;

    memset(s, 0, sizeof(*s));
    /*
     * Until the server answers, the acknowledged seq is the one the agent
     * stored last time, not 0: a failed push reports what is really known.
     */
    fy_state_get_int(db, "acked_seq", 0, &s->acked_seq, NULL);
    s->queued = count_queued(db);
    fy_buf_init(&p.rep.body, 0);
    fy_backoff_init(&p.bo, o->backoff_base_ms, o->backoff_cap_ms,
                    (uint64_t)fy_now_ms() ^ (uint64_t)getpid());
    rc = fy_http_client_new(cfg->base_url, cfg->timeout_s, &p.http, err);
    if (rc == 0)
        rc = fy_outbox_new(db, &p.ob, err);
    if (rc == 0)
        rc = run(&p, err);
    fy_outbox_free(p.ob);
    fy_http_client_free(p.http);
    fy_buf_release(&p.rep.body);
    return rc;
}
