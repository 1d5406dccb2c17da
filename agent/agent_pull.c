/* SPDX-License-Identifier: MIT */
/*
 * `ferry pull`: applies what other devices sent to ferryd since the last
 * pull (lib/agent/pull.c does the work) and prints one line. Also the API
 * key check and the pull summary that `ferry sync` shares.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/pull.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char pull_usage[] =
    "usage: ferry pull [--retry-for SECONDS] [--limit N]\n"
    "Applies the changes other devices sent to ferryd since the last pull,\n"
    "in pages of up to --limit changes (default 1000), each page in one\n"
    "transaction with its cursor. A row with a local change not pushed yet\n"
    "keeps whichever version is newer, as the server will decide. Network\n"
    "errors, 5xx, 408 and 429 are retried with backoff for up to --retry-for\n"
    "seconds (default 300).\n"
    "Exit codes: 0 done; 3 config or database; 4 key refused; 5 server\n"
    "unreachable; 7 capture broken on a tracked table; 1 other errors.\n";

void agent_pull_summary(struct fy_buf *b, const struct fy_pull_stats *s)
{
    fy_buf_addf(b,
                "pulled %ld changes in %ld pages (%ld applied, %ld deleted, "
                "%ld skipped; conflicts: %ld kept local, %ld lost; %ld retries",
                s->changes, s->pages, s->applied, s->deleted, s->skipped,
                s->kept_local, s->lost_local, s->retries);
    if (s->rebootstrap)
        fy_buf_addf(b,
                    "; re-bootstrap after an expired cursor, %ld rows"
                    " deleted in the store removed",
                    s->removed);
    else if (s->full)
        fy_buf_adds(b, "; full pass");
    fy_buf_adds(b, ")");
}

int agent_parse_pull_limit(const char *cmd, const char *arg, int *limit)
{
    long v;

    if (agent_parse_long(arg, 1, 5000, &v) < 0) {
        fprintf(stderr, "ferry %s: --limit takes 1 to 5000\n", cmd);
        return AGENT_USAGE;
    }
    *limit = (int)v;
    return 0;
}

static int parse_pull(int argc, char **argv, struct fy_agent_opts *ao,
                      struct fy_pull_opts *o)
{
    static const struct option opts[] = {
        {"retry-for", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (agent_parse_long(optarg, 0, 7 * 86400, &v) < 0)
                return agent_usage_error(
                    "ferry pull: --retry-for takes seconds\n");
            ao->retry_budget_ms = (int64_t)v * 1000;
            break;
        case 'l':
            if (agent_parse_pull_limit("pull", optarg, &o->limit) != 0)
                return AGENT_USAGE;
            break;
        case 'h':
            fputs(pull_usage, stdout);
            return -1;
        default:
            return agent_usage_error(pull_usage);
        }
    }
    return optind < argc ? agent_usage_error(pull_usage) : 0;
}

static void print_summary(const struct fy_pull_stats *s)
{
    struct fy_buf b = FY_BUF_INIT(0);

    agent_pull_summary(&b, s);
    puts(fy_buf_error(&b) ? "pulled (out of memory)" : b.data);
    fy_buf_release(&b);
}

static int run_pull(struct agent_ctx *ctx, struct fy_agent_config *cfg,
                    sqlite3 *db, struct fy_agent_opts *ao,
                    const struct fy_pull_opts *o)
{
    struct fy_pull_stats s = {0};
    struct ferry_err err = {0};
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
        rc = fy_agent_pull_step(a, o, &s, &err);
    if (a)
        print_summary(&s);
    fy_agent_free(a);
    if (rc < 0)
        return err.code ? agent_fail(&err) : agent_exit_code(rc);
    return ctx->capture_problems > 0 ? AGENT_CAPTURE : AGENT_OK;
}

int agent_pull(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_agent_opts ao = {.retry_budget_ms = 300000,
                               .backoff_base_ms = 250,
                               .backoff_cap_ms = 30000};
    struct fy_pull_opts o = {0};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int rc = parse_pull(argc, argv, &ao, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    return run_pull(ctx, &cfg, db, &ao, &o);
}
