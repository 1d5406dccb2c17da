/* SPDX-License-Identifier: MIT */
/*
 * `ferry push`: drains the outbox to ferryd (files first, for the tables
 * whose rows name one) and records the run.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/agentdb.h"
#include "agent/push.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

/* ---- push ------------------------------------------------------------- */

static const char push_usage[] =
    "usage: ferry push [--retry-for SECONDS] [--max-batches N]\n"
    "Sends the outbox to ferryd until it is empty. Network errors, 5xx, 408\n"
    "and 429 are retried with backoff for up to --retry-for seconds\n"
    "(default 300); then ferry exits 5 and the outbox stays for next time.\n"
    "Exit codes: 0 done; 4 key refused; 5 server unreachable; 6 every change\n"
    "sent was parked (see 'ferry dead list'); 7 capture broken on a tracked\n"
    "table; 1 other errors.\n";

/* The run as `ferry status` shows it; a failure to record it is logged. */
static void record_run(sqlite3 *db, double started, int rc,
                       const struct fy_push_stats *s, const char *error)
{
    struct ferry_err err = {0};

    if (fy_agentdb_record_run(
            db,
            &(struct fy_agent_run){.started = (int64_t)started,
                                   .ended = fy_now_ms() / 1000,
                                   .status = rc == 0 ? "ok" : "error",
                                   .sent = s->sent,
                                   .acked_seq = s->acked_seq,
                                   .error = rc < 0 ? error : NULL},
            &err) < 0)
        fy_warn("push", "%s", err.msg);
}

static int parse_push(int argc, char **argv, struct fy_agent_opts *ao,
                      struct fy_push_opts *o)
{
    static const struct option opts[] = {
        {"retry-for", required_argument, NULL, 'r'},
        {"max-batches", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (agent_parse_long(optarg, 0, 7 * 86400, &v) < 0)
                return agent_usage_error(
                    "ferry push: --retry-for takes seconds\n");
            ao->retry_budget_ms = (int64_t)v * 1000;
            break;
        case 'm':
            if (agent_parse_long(optarg, 1, INT32_MAX, &v) < 0)
                return agent_usage_error(
                    "ferry push: --max-batches must be > 0\n");
            o->max_batches = (int)v;
            break;
        case 'h':
            fputs(push_usage, stdout);
            return -1;
        default:
            return agent_usage_error(push_usage);
        }
    }
    return optind < argc ? agent_usage_error(push_usage) : 0;
}

/* ---- what a running push shows -------------------------------------- */

/*
 * On a terminal: one line, rewritten in place, for progress and for a
 * server that does not answer. Elsewhere (cron, a service's journal): a
 * line when the server first fails, then one a minute while it keeps
 * failing, and a progress line every 30 s of a long push.
 */
struct reporter {
    bool tty;
    int level;      /* the agent's log level (-q, -v) */
    bool line_open; /* a rewritable line is on the terminal */
    double last;    /* fy_mono_s() of the last line */
    double started; /* fy_mono_s() at the start */
};

static const char *span(int64_t ms, char *out, size_t n)
{
    int64_t s = (ms + 999) / 1000;

    if (s < 60)
        snprintf(out, n, "%lld s", (long long)s);
    else if (s % 60 == 0 || s >= 600)
        snprintf(out, n, "%lld min", (long long)((s + 30) / 60));
    else
        snprintf(out, n, "%lld min %lld s", (long long)(s / 60),
                 (long long)(s % 60));
    return out;
}

static void end_line(struct reporter *r)
{
    if (r->line_open)
        fputs("\r\033[K", stderr);
    r->line_open = false;
}

static void on_retry(struct reporter *r, const struct fy_agent_event *ev)
{
    char a[32], b[32], c[32];
    double now = fy_mono_s();

    if (ev->attempt == 1) {
        end_line(r);
        fprintf(stderr,
                "ferry: warn: retry: %s; retrying in %s, for up to %s"
                " (Ctrl-C to stop; the outbox is kept)\n",
                ev->error, span(ev->delay_ms, a, sizeof(a)),
                span(ev->budget_ms, b, sizeof(b)));
        r->last = now;
    } else if (r->tty) {
        fprintf(stderr,
                "\rferry: no answer for %s (%d tries), next in %s, giving up"
                " in %s\033[K",
                span(ev->failing_ms, a, sizeof(a)), ev->attempt,
                span(ev->delay_ms, b, sizeof(b)),
                span(ev->budget_ms - ev->failing_ms, c, sizeof(c)));
        r->line_open = true;
    } else if (now - r->last >= 60) {
        fprintf(stderr,
                "ferry: warn: retry: still failing after %s (%d tries): %s;"
                " giving up in %s\n",
                span(ev->failing_ms, a, sizeof(a)), ev->attempt, ev->error,
                span(ev->budget_ms - ev->failing_ms, b, sizeof(b)));
        r->last = now;
    }
    fflush(stderr);
}

static void on_progress(struct reporter *r, const struct fy_agent_event *ev)
{
    const struct fy_push_stats *s = ev->push;
    double now = fy_mono_s(), secs = now - r->started;
    long queued = s->queued > s->sent ? s->queued : s->sent;
    double rate = secs > 0 ? (double)s->sent / secs : 0;

    if (r->tty && now - r->last >= 0.2) {
        fprintf(stderr,
                "\rferry: pushed %ld of %ld queued (%ld%%), %.0f changes/s"
                "\033[K",
                s->sent, queued, queued ? s->sent * 100 / queued : 100, rate);
        r->line_open = true;
        r->last = now;
    } else if (!r->tty && secs >= 30 && now - r->last >= 30) {
        /* Logs (cron, journald) get a line only for a long push. */
        fprintf(stderr,
                "ferry: info: push: pushed %ld of %ld queued, %.0f changes/s\n",
                s->sent, queued, rate);
        r->last = now;
    }
    fflush(stderr);
}

static void on_event(const struct fy_agent_event *ev, void *ud)
{
    struct reporter *r = ud;

    if (ev->kind == FY_AGENT_RETRY && r->level >= FERRY_LOG_WARN)
        on_retry(r, ev);
    else if (ev->kind == FY_AGENT_RECOVERED && r->level >= FERRY_LOG_INFO) {
        char a[32];

        end_line(r);
        fprintf(stderr,
                "ferry: info: retry: the server answered again after"
                " %s\n",
                span(ev->failing_ms, a, sizeof(a)));
    } else if (ev->kind == FY_AGENT_PROGRESS && ev->push &&
               r->level >= FERRY_LOG_INFO)
        on_progress(r, ev);
}

/* ---- the command ----------------------------------------------------- */

static void print_summary(const struct fy_push_stats *s)
{
    struct fy_buf b = FY_BUF_INIT(0);
    long parked = s->dead + s->dead_local;

    printf("pushed %ld changes in %ld batches (acked seq %lld%s, %ld rejected,"
           " %ld retries)",
           s->sent, s->batches, (long long)s->acked_seq,
           s->answered ? "" : " as last stored", parked, s->retries);
    if (parked > 0)
        printf("; %ld change%s parked: see 'ferry dead list'", parked,
               parked == 1 ? "" : "s");
    putchar('\n');
    agent_push_tables(&b, s);
    if (b.len > 0 && !fy_buf_error(&b))
        puts(b.data);
    fy_buf_release(&b);
}

/*
 * The exit code: an error first; then broken capture (the outbox misses
 * writes, which matters more than what was parked); then a run where every
 * change sent was parked.
 */
static int push_exit(const struct agent_ctx *ctx, int rc,
                     const struct fy_push_stats *s, struct ferry_err *err)
{
    if (rc < 0 && err->code)
        return agent_fail(err);
    if (rc < 0)
        return agent_exit_code(rc);
    if (ctx->capture_problems > 0)
        return AGENT_CAPTURE;
    if (s->sent == 0 && s->dead + s->dead_local > 0)
        return AGENT_PARKED;
    return AGENT_OK;
}

/* Runs the push step on an agent that takes cfg and db; rc as push_exit. */
static int run_push(struct agent_ctx *ctx, struct fy_agent_config *cfg,
                    sqlite3 *db, struct fy_agent_opts *ao,
                    const struct fy_push_opts *o, struct reporter *r)
{
    struct fy_push_stats s = {0};
    struct ferry_err err = {0};
    double started = (double)fy_now_ms() / 1000.0;
    struct fy_agent *a = NULL;
    int rc = 0;

    ao->key = agent_api_key(cfg, &rc);
    if (!ao->key) {
        sqlite3_close(db);
        fy_agent_config_release(cfg);
        return rc;
    }
    rc = fy_agent_new(cfg, db, ao, &a, &err);
    if (rc == 0)
        rc = fy_agent_push_step(a, o, &s, &err);
    end_line(r);
    if (a) {
        record_run(fy_agent_db(a), started, rc, &s, err.msg);
        print_summary(&s);
    }
    rc = push_exit(ctx, rc, &s, &err);
    fy_agent_free(a);
    return rc;
}

int agent_push(struct agent_ctx *ctx, int argc, char **argv)
{
    struct reporter r = {.tty = isatty(STDERR_FILENO),
                         .level = ctx->verbose,
                         .started = fy_mono_s()};
    struct fy_agent_opts ao = {.retry_budget_ms = 300000,
                               .backoff_base_ms = 250,
                               .backoff_cap_ms = 30000,
                               .report = on_event,
                               .report_ud = &r};
    struct fy_push_opts o = {0};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int rc = parse_push(argc, argv, &ao, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    return run_push(ctx, &cfg, db, &ao, &o, &r);
}
