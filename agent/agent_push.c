/* SPDX-License-Identifier: MIT */
/*
 * `ferry push`: drains the outbox to ferryd and records the run.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "agent/push.h"
#include "core/config.h"
#include "fy.h"

#include "agent.h"

/* ---- push ------------------------------------------------------------- */

static const char push_usage[] =
    "usage: ferry push [--retry-for SECONDS] [--max-batches N]\n"
    "Sends the outbox to ferryd until it is empty. Network errors, 5xx, 408\n"
    "and 429 are retried with backoff for up to --retry-for seconds\n"
    "(default 300); then ferry exits 5 and the outbox stays for next time.\n";

static void record_run(sqlite3 *db, double started, int rc,
                       const struct fy_push_stats *s, const char *error)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO _ferry_runs (started, ended, status,"
                           " sent, acked_seq, error) VALUES (?, unixepoch(),"
                           " ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)started);
    sqlite3_bind_text(st, 2, rc == 0 ? "ok" : "error", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->sent);
    sqlite3_bind_int64(st, 4, s->acked_seq);
    if (rc < 0)
        sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
    /* Keep the local history short: it is for `ferry status`. */
    sqlite3_exec(db,
                 "DELETE FROM _ferry_runs WHERE id <= (SELECT max(id) - 1000"
                 " FROM _ferry_runs)",
                 NULL, NULL, NULL);
}

static int parse_push(int argc, char **argv, struct fy_push_opts *o)
{
    static const struct option opts[] = {
        {"retry-for", required_argument, NULL, 'r'},
        {"max-batches", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (agent_parse_long(optarg, 0, 7 * 86400, &v) < 0)
                return agent_usage_error(
                    "ferry push: --retry-for takes seconds\n");
            o->retry_budget_ms = (int64_t)v * 1000;
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

int agent_push(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_push_opts o = {.retry_budget_ms = 300000,
                             .backoff_base_ms = 250,
                             .backoff_cap_ms = 30000};
    struct fy_push_stats s = {0};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    double started = (double)fy_now_ms() / 1000.0;
    sqlite3 *db = NULL;
    int rc = parse_push(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    o.key = getenv(cfg.auth_env);
    if (!o.key || !*o.key) {
        fprintf(stderr,
                "ferry: no API key: set the environment variable"
                " %s\n",
                cfg.auth_env);
        rc = FERRY_EAUTH;
    } else {
        rc = fy_agent_push(db, &cfg, &o, &s, &err);
        record_run(db, started, rc, &s, err.msg);
        printf("pushed %ld changes in %ld batches (acked seq %lld, %ld"
               " rejected, %ld retries)\n",
               s.sent, s.batches, (long long)s.acked_seq, s.dead + s.dead_local,
               s.retries);
    }
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    if (rc < 0 && err.code)
        return agent_fail(&err);
    return rc < 0 ? agent_exit_code(rc) : AGENT_OK;
}
