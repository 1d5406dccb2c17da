/* SPDX-License-Identifier: MIT */
/*
 * The agent as one long-lived object: it owns the app database, the
 * config, the HTTP client, the backoff and the one retrying request every
 * exchange with ferryd goes through. A command builds it, runs one or more
 * steps (push today; pull, blob upload, runs and `ferry sync --watch` are
 * steps of the same object) and frees it. docs/internals/agent.md.
 *
 * Not thread-safe: one thread drives an agent.
 */
#ifndef FY_AGENT_AGENT_H
#define FY_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"
#include "http/client.h"

struct fy_agent;
struct fy_push_stats;

enum fy_agent_event_kind {
    FY_AGENT_RETRY,     /* a request failed and will be tried again */
    FY_AGENT_RECOVERED, /* a request succeeded after retries */
    FY_AGENT_PROGRESS   /* a step moved on (push: a batch was acknowledged) */
};

/* What the agent reports while it runs; valid during the callback only. */
struct fy_agent_event {
    enum fy_agent_event_kind kind;
    const char *step;   /* "push", ...: the step that sent the request */
    const char *error;  /* RETRY: what went wrong, escaped (fy_escape) */
    int attempt;        /* RETRY: failures in a row, 1 for the first */
    int64_t delay_ms;   /* RETRY: wait before the next try */
    int64_t failing_ms; /* RETRY, RECOVERED: since the first failure */
    int64_t budget_ms;  /* the retry budget */
    const struct fy_push_stats *push; /* PROGRESS of a push: its counts */
};

typedef void fy_agent_report_fn(const struct fy_agent_event *ev, void *ud);

struct fy_agent_opts {
    const char *key;         /* the API key (borrowed for the agent's life) */
    int64_t retry_budget_ms; /* give up after this long without progress */
    int64_t backoff_base_ms;
    int64_t backoff_cap_ms;
    /*
     * Called for retries and progress (may be NULL: then each retry is
     * logged as a warning and progress at info level; with a callback both
     * are logged at debug level only).
     */
    fy_agent_report_fn *report;
    void *report_ud;
};

/*
 * Builds an agent over cfg and db, both taken (released by
 * fy_agent_free(), or here on failure). db has ferry's tables
 * (fy_capture_init()), or is NULL for a network-only agent (the runs
 * client, include/ferry/ferry_runs.h): such an agent only sends requests,
 * and the steps that read the app database (push, pull, blobs) must not be
 * run on it. The HTTP client is made on the first request, so an agent
 * that only reads its database never needs a key or a network.
 */
int fy_agent_new(struct fy_agent_config *cfg, sqlite3 *db,
                 const struct fy_agent_opts *o, struct fy_agent **out,
                 struct ferry_err *err);
void fy_agent_free(struct fy_agent *a);

/* Borrowed for the agent's life; fy_agent_db is NULL for network-only. */
sqlite3 *fy_agent_db(struct fy_agent *a);
const struct fy_agent_config *fy_agent_config(struct fy_agent *a);

/*
 * The Ferry-Run token every request of the agent carries as a header: 16
 * random lower-case hex digits, made by fy_agent_new. ferryd adds the
 * pushes and pulls sent with one token up into one device run
 * (docs/api.md#device-runs). fy_agent_new_run starts a new token, so the
 * requests from then on are another run (`ferry sync` per --every cycle,
 * and each minute under --watch); on failure the old token stays. The
 * token is borrowed until the next fy_agent_new_run.
 */
#define FY_AGENT_RUN_TOKEN_LEN 16
const char *fy_agent_run_token(const struct fy_agent *a);
int fy_agent_new_run(struct fy_agent *a, struct ferry_err *err);

/*
 * Judges an answer the transport delivered and retrying would not change
 * by itself: 0 to hand it to the caller, or a transient code (with e set)
 * to treat it as a failed attempt (a 200 cut short, say).
 */
typedef int fy_agent_accept_fn(const struct fy_http_reply *rep, void *ud,
                               struct ferry_err *e);

/*
 * Before each retry of a file body: where to go on from (*offset), e.g.
 * what a HEAD says the server kept of an interrupted upload. May itself
 * send requests with fy_agent_request_once().
 */
typedef int fy_agent_resume_fn(struct fy_agent *a, int64_t *offset, void *ud,
                               struct ferry_err *err);

#define FY_AGENT_MAX_HEADERS 6

struct fy_agent_request {
    /*
     * Method, path, body (memory or file and offset), headers (at most
     * FY_AGENT_MAX_HEADERS in http.headers). The agent adds its key in the
     * config's auth header, and its Ferry-Run.
     */
    struct fy_http_request http;
    const char *step; /* named in events and logs; NULL: "request" */
    fy_agent_accept_fn *accept;
    fy_agent_resume_fn *resume; /* NULL: retries resend from http.offset */
    void *ud;                   /* for accept and resume */
};

/*
 * Sends rq, retrying network errors, timeouts, answers cut short, 5xx,
 * 408 and 429 (and what accept turns down) with exponential backoff and
 * jitter, honouring Retry-After, until the retry budget is spent. Each
 * retry is reported (FY_AGENT_RETRY) and, after failures, the first
 * success (FY_AGENT_RECOVERED). Returns 0 with any other answer in *rep
 * (2xx, 3xx, 4xx such as 401, 404, 409, 410: the step judges them), or
 * the last error. *rep is the agent's, valid until its next request.
 */
int fy_agent_request(struct fy_agent *a, const struct fy_agent_request *rq,
                     const struct fy_http_reply **rep, struct ferry_err *err);

/* One attempt of rq, no retry: for a resume callback's own question. */
int fy_agent_request_once(struct fy_agent *a, const struct fy_http_request *rq,
                          const struct fy_http_reply **rep,
                          struct ferry_err *err);

/*
 * Reading an answer, from the one error table (ferry_err.h): the FERRY_E*
 * of its status and error.code (ferry_err_from_wire); whether it is
 * ferryd's verdict on the rows sent (ferry_wire_is_verdict); its
 * error.message (or a placeholder) into out, unescaped.
 */
int fy_agent_reply_err(const struct fy_http_reply *rep);
bool fy_agent_reply_is_verdict(const struct fy_http_reply *rep);
void fy_agent_reply_message(const struct fy_http_reply *rep, char *out,
                            size_t n);
/*
 * The failure of a step whose answer it cannot use: the key refused
 * (FERRY_EAUTH, FERRY_EFORBIDDEN), else FERRY_EHTTP "unexpected answer N
 * to WHAT: message"; err's status is the answer's. Returns the code.
 */
int fy_agent_reply_fail(const struct fy_http_reply *rep, const char *what,
                        struct ferry_err *err);

/* Reports ev through the agent's callback (step code, progress). */
void fy_agent_report(struct fy_agent *a, struct fy_agent_event *ev);

#endif
