/* SPDX-License-Identifier: MIT */
/*
 * The agent object and its retrying request; see agent.h. The retry
 * policy lives here once, so every step (push, pull, blobs, runs) fails,
 * waits, reports and gives up the same way.
 */
#include "agent/agent.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent_int.h"
#include "util/log.h"
#include "fy.h"

int fy_agent_new(struct fy_agent_config *cfg, sqlite3 *db,
                 const struct fy_agent_opts *o, struct fy_agent **out,
                 struct ferry_err *err)
{
    struct fy_agent *a = fy_calloc(1, sizeof(*a));
    int rc;

    *out = NULL;
    if (!a) {
        sqlite3_close(db);
        fy_agent_config_release(cfg);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved: the caller's copy is empty */
    a->db = db;
    a->o = *o;
    fy_buf_init(&a->rep.body, 0);
    fy_backoff_init(&a->bo, o->backoff_base_ms, o->backoff_cap_ms,
                    (uint64_t)fy_now_ms() ^ (uint64_t)getpid());
    rc = fy_agent_new_run(a, err);
    if (rc < 0) {
        fy_agent_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

const char *fy_agent_run_token(const struct fy_agent *a)
{
    return a->run_header + strlen("Ferry-Run: ");
}

int fy_agent_new_run(struct fy_agent *a, struct ferry_err *err)
{
    unsigned char raw[FY_AGENT_RUN_TOKEN_LEN / 2];
    char hex[FY_AGENT_RUN_TOKEN_LEN + 1];
    int rc = fy_random(raw, sizeof(raw), err);

    if (rc < 0)
        return rc;
    fy_hex(raw, sizeof(raw), hex);
    snprintf(a->run_header, sizeof(a->run_header), "Ferry-Run: %s", hex);
    return 0;
}

void fy_agent_free(struct fy_agent *a)
{
    if (!a)
        return;
    fy_http_client_free(a->http);
    fy_buf_release(&a->rep.body);
    sqlite3_close(a->db);
    fy_agent_config_release(&a->cfg);
    fy_free(a);
}

sqlite3 *fy_agent_db(struct fy_agent *a)
{
    return a->db;
}

const struct fy_agent_config *fy_agent_config(struct fy_agent *a)
{
    return &a->cfg;
}

void fy_agent_report(struct fy_agent *a, struct fy_agent_event *ev)
{
    ev->budget_ms = a->o.retry_budget_ms;
    if (a->o.report)
        a->o.report(ev, a->o.report_ud);
}

/* error.code (or "") and error.message of ferryd's JSON error body. */
static void reply_error(const struct fy_http_reply *rep, char *code,
                        size_t ncode, char *msg, size_t nmsg)
{
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));

    if (code)
        snprintf(code, ncode, "%s", c ? c : "");
    if (msg)
        snprintf(msg, nmsg, "%s", m ? m : "(no message)");
    json_decref(root);
}

void fy_agent_reply_message(const struct fy_http_reply *rep, char *out,
                            size_t n)
{
    reply_error(rep, NULL, 0, out, n);
}

int fy_agent_reply_fail(const struct fy_http_reply *rep, const char *what,
                        struct ferry_err *err)
{
    char msg[300];
    int code = fy_agent_reply_err(rep);

    fy_agent_reply_message(rep, msg, sizeof(msg));
    if (code == FERRY_EAUTH || code == FERRY_EFORBIDDEN)
        return fy_err_status(err, code, (int)rep->status,
                             "server refused the key (%ld): %s", rep->status,
                             msg);
    /* Nothing the agent can fix by retrying: the app needs an upgrade. */
    if (code == FERRY_EVERSION)
        return fy_err_status(err, code, (int)rep->status,
                             "server refused this agent's contract version"
                             " (%ld): %s",
                             rep->status, msg);
    return fy_err_status(err, FERRY_EHTTP, (int)rep->status,
                         "unexpected answer %ld to %s: %s", rep->status, what,
                         msg);
}

int fy_agent_reply_err(const struct fy_http_reply *rep)
{
    char code[64];

    reply_error(rep, code, sizeof(code), NULL, 0);
    return ferry_err_from_wire(rep->status, code[0] ? code : NULL);
}

bool fy_agent_reply_is_verdict(const struct fy_http_reply *rep)
{
    char code[64];

    reply_error(rep, code, sizeof(code), NULL, 0);
    return ferry_wire_is_verdict(code[0] ? code : NULL);
}

int fy_agent_request_once(struct fy_agent *a, const struct fy_http_request *rq,
                          const struct fy_http_reply **rep,
                          struct ferry_err *err)
{
    struct fy_http_request r = *rq;
    const char *hdrs[FY_AGENT_MAX_HEADERS + 3] = {a->run_header};
    size_t n = 1;
    int rc = 0;

    *rep = &a->rep;
    /* Every request: ferryd refuses a version it does not accept (409). */
    if (a->cfg.contract_version > 0) {
        snprintf(a->contract_header, sizeof(a->contract_header),
                 "Ferry-Contract: %d", a->cfg.contract_version);
        hdrs[n++] = a->contract_header;
    }
    for (size_t i = 0; rq->headers && rq->headers[i]; i++) {
        if (i >= FY_AGENT_MAX_HEADERS)
            return fy_err_set(err, FERRY_EINVAL,
                              "more than %d headers in one request",
                              FY_AGENT_MAX_HEADERS);
        hdrs[n++] = rq->headers[i];
    }
    if (!a->http)
        rc = fy_http_client_new(a->cfg.base_url, a->cfg.timeout_s, &a->http,
                                err);
    if (rc == 0 && a->cfg.ca_file)
        rc = fy_http_client_set_ca(a->http, a->cfg.ca_file, err);
    if (rc < 0)
        return rc;
    r.auth_header = a->o.key ? a->cfg.auth_header : NULL;
    r.key = a->o.key;
    r.headers = hdrs; /* Ferry-Run, Ferry-Contract, then the step's own */
    return fy_http_request(a->http, &r, &a->rep, err);
}

/* One attempt: 0 for an answer to hand over, else the error in e. */
static int attempt(struct fy_agent *a, const struct fy_agent_request *rq,
                   const struct fy_http_request *http, struct ferry_err *e)
{
    const struct fy_http_reply *rep;
    char msg[300];
    int code, rc = fy_agent_request_once(a, http, &rep, e);

    if (rc < 0)
        return rc;
    /* The error table decides: 5xx, 408 and 429 are worth another try. */
    code = rep->status >= 400 ? fy_agent_reply_err(rep) : 0;
    if (!ferry_err_is_transient(code))
        return rq->accept ? rq->accept(rep, rq->ud, e) : 0;
    fy_agent_reply_message(rep, msg, sizeof(msg));
    return fy_err_status(e, code, (int)rep->status, "server answered %ld: %s",
                         rep->status, msg);
}

/*
 * The event carries the error escaped (fy_escape): it may quote the
 * server's error.message, and the program prints it to a terminal.
 */
static void report_retry(struct fy_agent *a, const char *step,
                         const struct ferry_err *e, int failures, int64_t delay,
                         int64_t failing)
{
    struct fy_buf shown = FY_BUF_INIT(0);

    fy_escape(&shown, e->msg, strlen(e->msg));
    fy_agent_report(a, &(struct fy_agent_event){.kind = FY_AGENT_RETRY,
                                                .step = step,
                                                .error = fy_buf_error(&shown)
                                                             ? "(out of memory)"
                                                             : shown.data,
                                                .attempt = failures,
                                                .delay_ms = delay,
                                                .failing_ms = failing});
    fy_buf_release(&shown);
}

/*
 * Before a retry of a file body, the step may say where to go on from (an
 * interrupted upload the server kept part of).
 */
static int resume(struct fy_agent *a, const struct fy_agent_request *rq,
                  struct fy_http_request *http, struct ferry_err *err)
{
    int64_t offset = http->offset;
    int rc;

    if (!http->file || !rq->resume)
        return 0;
    rc = rq->resume(a, &offset, rq->ud, err);
    if (rc == 0)
        http->offset = offset;
    return rc;
}

/* Waits before the next try, or says why not (*give_up). */
static int64_t next_delay(struct fy_agent *a, int rc, int64_t failing,
                          bool *give_up)
{
    int64_t delay = fy_backoff_next(
        &a->bo, a->rep.status >= 400 ? a->rep.retry_after_ms : -1);

    *give_up =
        !ferry_err_is_transient(rc) || failing + delay > a->o.retry_budget_ms;
    return delay;
}

int fy_agent_request(struct fy_agent *a, const struct fy_agent_request *rq,
                     const struct fy_http_reply **rep, struct ferry_err *err)
{
    const char *step = rq->step ? rq->step : "request";
    struct fy_http_request http = rq->http;
    double start = fy_mono_s();
    int64_t prev_offset;
    int failures = 0;

    *rep = &a->rep;
    for (;;) {
        struct ferry_err e = {0};
        int rc = attempt(a, rq, &http, &e);
        int64_t failing = (int64_t)((fy_mono_s() - start) * 1000), delay;
        bool give_up;

        if (rc == 0) {
            fy_backoff_reset(&a->bo);
            if (failures > 0)
                fy_agent_report(
                    a, &(struct fy_agent_event){.kind = FY_AGENT_RECOVERED,
                                                .step = step,
                                                .failing_ms = failing});
            return 0;
        }
        delay = next_delay(a, rc, failing, &give_up);
        if (give_up) {
            if (err)
                *err = e;
            return rc;
        }
        failures++;
        a->retries++;
        fy_log(a->o.report ? FERRY_LOG_DEBUG : FERRY_LOG_WARN, "retry",
               "%s; retrying in %lld ms", e.msg, (long long)delay);
        report_retry(a, step, &e, failures, delay, failing);
        fy_sleep_ms(delay);
        prev_offset = http.offset;
        rc = resume(a, rq, &http, err);
        if (rc < 0)
            return rc;
        /*
         * The budget is time without progress: an upload on a slow link
         * whose attempts time out but each move the server's offset on
         * is making progress, and starts its clock and backoff again.
         */
        if (http.offset > prev_offset) {
            start = fy_mono_s();
            fy_backoff_reset(&a->bo);
        }
    }
}
