/* SPDX-License-Identifier: MIT */
/*
 * Helpers the ferry commands share: error reporting, option values, and
 * opening the config and the app database.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "capture/capture.h"
#include "agent/push.h"
#include "ferry/ferry_runs.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

/*
 * The message is escaped for the terminal: it may quote a server's answer
 * (error.message, from a hostile server or anyone in the middle of http://)
 * or names and values from the app's database.
 */
int agent_fail(struct ferry_err *err)
{
    const char *m = err->msg[0] ? err->msg : ferry_strerror(err->code);
    struct fy_buf b = FY_BUF_INIT(0);

    fy_escape(&b, m, strlen(m));
    fprintf(stderr, "ferry: %s\n",
            fy_buf_error(&b) ? ferry_strerror(err->code) : b.data);
    fy_buf_release(&b);
    return agent_exit_code(err->code);
}

int agent_usage_error(const char *text)
{
    fprintf(stderr, "%s", text);
    return AGENT_USAGE;
}

void agent_on_stop(void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int agent_parse_long(const char *s, long lo, long hi, long *out)
{
    return fy_parse_long(s, lo, hi, out);
}

/* Loads the config and opens its database. */
static int report_problem(const char *table, const char *problem, void *ud)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)ud;
    /* The table's name is the app's: escaped like any outside text. */
    fy_escape(&b, table, strlen(table));
    fprintf(stderr, "ferry: error: capture of table '%s' is broken: %s\n",
            fy_buf_error(&b) ? "?" : b.data, problem);
    fy_buf_release(&b);
    return 0;
}

int agent_open(struct agent_ctx *ctx, struct fy_agent_config *cfg, sqlite3 **db,
               struct ferry_err *err)
{
    int rc = fy_agent_config_load(ctx->config_path, cfg, err);

    if (rc < 0)
        return rc;
    rc = fy_capture_open(cfg->database, db, err);
    if (rc == 0)
        rc = fy_capture_init(*db, err);
    if (rc == 0) {
        rc = fy_capture_check(*db, ctx->quiet_check ? NULL : report_problem,
                              NULL, err);
        ctx->capture_problems = rc > 0 ? rc : 0;
        rc = rc > 0 ? 0 : rc;
    }
    if (rc < 0) {
        /* A locked database or a full disk pass; they are not the config. */
        if (rc != FERRY_EBUSY && rc != FERRY_ENOSPC)
            err->code = FERRY_ECONFIG;
        sqlite3_close(*db);
        *db = NULL;
        fy_agent_config_release(cfg);
    }
    return rc;
}

/* The key goes into a header: only visible ASCII, no spaces or breaks. */
const char *agent_api_key(const struct fy_agent_config *cfg, int *rc)
{
    const char *key = getenv(cfg->auth_env);

    *rc = 0;
    if (!key || !*key) {
        fprintf(stderr, "ferry: no API key: set the environment variable %s\n",
                cfg->auth_env);
        *rc = AGENT_AUTH;
        return NULL;
    }
    for (const char *p = key; *p; p++) {
        if (*p <= ' ' || *p > '~') {
            fprintf(stderr,
                    "ferry: the API key in %s contains spaces, line breaks or"
                    " other characters a key cannot have\n",
                    cfg->auth_env);
            *rc = AGENT_CONFIG;
            return NULL;
        }
    }
    return key;
}

static void add_bytes(struct fy_buf *b, int64_t n)
{
    if (n < 1024)
        fy_buf_addf(b, "%lld bytes", (long long)n);
    else if (n < (int64_t)1 << 20)
        fy_buf_addf(b, "%.1f KiB", (double)n / 1024);
    else
        fy_buf_addf(b, "%.1f MiB", (double)n / (1 << 20));
}

void agent_push_tables(struct fy_buf *b, const struct fy_push_stats *s)
{
    const char *sep = "pushed ";

    for (size_t i = 0; i < s->ntables; i++) {
        fy_buf_addf(b, "%s%ld %s", sep, s->tables[i].sent, s->tables[i].name);
        sep = ", ";
    }
    if (s->other_sent > 0)
        fy_buf_addf(b, "%s%ld in other tables", sep, s->other_sent);
    if (s->files + s->files_known > 0 && s->ntables)
        fy_buf_adds(b, "; ");
    if (s->files > 0) {
        fy_buf_addf(b, "uploaded %ld file%s (", s->files,
                    s->files == 1 ? "" : "s");
        add_bytes(b, s->file_bytes);
        fy_buf_adds(b, s->files_known ? "), " : ")");
    }
    if (s->files_known > 0)
        fy_buf_addf(b, "%ld file%s already stored", s->files_known,
                    s->files_known == 1 ? "" : "s");
}

int agent_open_client(struct agent_ctx *ctx, int64_t retry_budget_ms,
                      struct ferry_client **c)
{
    struct ferry_client_opts o = {.retry_budget_ms = retry_budget_ms};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    int rc;

    *c = NULL;
    if (fy_agent_config_load_flags(ctx->config_path, FY_CONFIG_NETWORK_ONLY,
                                   &cfg, &err) < 0)
        return agent_fail(&err);
    o.base_url = cfg.base_url;
    o.auth_header = cfg.auth_header;
    o.timeout_s = cfg.timeout_s;
    o.ca_file = cfg.ca_file;
    o.key = agent_api_key(&cfg, &rc);
    if (o.key && ferry_client_new(&o, c, &err) < 0)
        rc = agent_fail(&err);
    fy_agent_config_release(&cfg);
    return rc;
}

void agent_add_shown(struct fy_buf *b, const char *s, size_t max)
{
    size_t n = 0, chars = 0;

    /* Cut at a character's start, so the cut never splits one. */
    while (s[n] && chars < max) {
        n++;
        while ((s[n] & 0xc0) == 0x80)
            n++;
        chars++;
    }
    fy_escape(b, s, n);
    if (s[n])
        fy_buf_adds(b, "...");
}
