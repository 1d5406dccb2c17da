/* SPDX-License-Identifier: MIT */
/*
 * The ferry commands: parse options, open the config and database, call
 * libferry, print a result, return an exit code.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "agent/push.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "capture/outbox.h"
#include "core/config.h"
#include "fy.h"

#include "agent.h"

static int fail(struct ferry_err *err)
{
    fprintf(stderr, "ferry: %s\n",
            err->msg[0] ? err->msg : ferry_strerror(err->code));
    return agent_exit_code(err->code);
}

static int usage_error(const char *text)
{
    fprintf(stderr, "%s", text);
    return AGENT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Loads the config and opens its database. */
static int open_agent(struct agent_ctx *ctx, struct fy_agent_config *cfg,
                      sqlite3 **db, struct ferry_err *err)
{
    int rc = fy_agent_config_load(ctx->config_path, cfg, err);

    if (rc < 0)
        return rc;
    rc = fy_capture_open(cfg->database, db, err);
    if (rc == 0)
        rc = fy_capture_init(*db, err);
    if (rc < 0) {
        err->code = FERRY_ECONFIG;
        sqlite3_close(*db);
        *db = NULL;
        fy_agent_config_release(cfg);
    }
    return rc;
}

/* ---- init ------------------------------------------------------------- */

static const char init_usage[] =
    "usage: ferry init --db PATH --url URL [--device NAME] [--auth-env VAR]\n"
    "                  [--batch-size N] [--force]\n"
    "Writes the agent config (see --config) and creates ferry's tables in\n"
    "the SQLite database. The API key is read at push time from the\n"
    "environment variable --auth-env names (default FERRY_API_KEY).\n";

struct init_opts {
    const char *db, *url, *device, *auth_env;
    long batch;
    int force;
};

static int parse_init(int argc, char **argv, struct init_opts *o)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"url", required_argument, NULL, 'u'},
        {"device", required_argument, NULL, 'n'},
        {"auth-env", required_argument, NULL, 'e'},
        {"batch-size", required_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->db = optarg;
            break;
        case 'u':
            o->url = optarg;
            break;
        case 'n':
            o->device = optarg;
            break;
        case 'e':
            o->auth_env = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'b':
            if (parse_long(optarg, 1, FY_BATCH_MAX, &o->batch) < 0)
                return usage_error("ferry init: --batch-size must be 1 to "
                                   "10000\n");
            break;
        case 'h':
            fputs(init_usage, stdout);
            return -1;
        default:
            return usage_error(init_usage);
        }
    }
    if (!o->db || !o->url || optind < argc)
        return usage_error(init_usage);
    if (strncmp(o->url, "http://", 7) != 0 &&
        strncmp(o->url, "https://", 8) != 0)
        return usage_error("ferry init: --url must start with http:// or"
                           " https://\n");
    return 0;
}

int agent_init(struct agent_ctx *ctx, int argc, char **argv)
{
    struct init_opts o = {.auth_env = "FERRY_API_KEY", .batch = 500};
    struct ferry_err err = {0};
    char host[256] = "device", dbpath[PATH_MAX];
    sqlite3 *db = NULL;
    int rc = parse_init(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (!o.device && gethostname(host, sizeof(host) - 1) == 0)
        o.device = host;
    if (!fy_name_valid(o.device))
        return usage_error("ferry init: --device must be 1 to 128 letters,"
                           " digits or ._:@-\n");
    if (sqlite3_open_v2(o.db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK ||
        fy_capture_init(db, &err) < 0 || !realpath(o.db, dbpath)) {
        fprintf(stderr, "ferry: cannot prepare database '%s': %s\n", o.db,
                err.msg[0] ? err.msg : sqlite3_errmsg(db));
        sqlite3_close(db);
        return AGENT_CONFIG;
    }
    sqlite3_close(db);
    rc = fy_agent_config_write(ctx->config_path, dbpath, o.device, o.url,
                               o.auth_env, (int)o.batch, o.force, &err);
    if (rc < 0)
        return fail(&err);
    printf("wrote %s (device %s, database %s)\n", ctx->config_path, o.device,
           dbpath);
    printf("next: export %s=<key from 'ferryd keys create --device %s'>\n",
           o.auth_env, o.device);
    return AGENT_OK;
}

/* ---- track ------------------------------------------------------------ */

static const char track_usage[] =
    "usage: ferry track [--untrack] TABLE...\n"
    "Installs capture triggers on each table (idempotent) and queues its\n"
    "existing rows; --untrack removes the triggers.\n";

int agent_track(struct agent_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"untrack", no_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int c, untrack = 0, rc = 0;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u')
            untrack = 1;
        else if (c == 'h')
            return fputs(track_usage, stdout), AGENT_OK;
        else
            return usage_error(track_usage);
    }
    if (optind >= argc)
        return usage_error(track_usage);
    if (open_agent(ctx, &cfg, &db, &err) < 0)
        return fail(&err);
    for (int i = optind; rc == 0 && i < argc; i++) {
        long queued = 0;

        rc = untrack ? fy_capture_untrack(db, argv[i], &err)
                     : fy_capture_track(db, argv[i], &queued, &err);
        if (rc == 0 && untrack)
            printf("untracked %s\n", argv[i]);
        else if (rc == 0)
            printf("tracking %s (%ld existing rows queued)\n", argv[i], queued);
    }
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    return rc < 0 ? fail(&err) : AGENT_OK;
}

/* ---- contract --------------------------------------------------------- */

static const char contract_usage[] =
    "usage: ferry contract [--version N] [--device-column COL]\n"
    "                      [--region-column COL] [-o FILE]\n"
    "Prints the table contract for the tracked tables (SQLite types mapped\n"
    "to PostgreSQL, docs/contract.md); ferryd migrate applies it.\n";

struct contract_opts {
    long version;
    const char *device_col, *region_col, *out;
};

static int parse_contract(int argc, char **argv, struct contract_opts *o)
{
    static const struct option opts[] = {
        {"version", required_argument, NULL, 'n'},
        {"device-column", required_argument, NULL, 'd'},
        {"region-column", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_long(optarg, 1, INT32_MAX, &o->version) < 0)
                return usage_error("ferry contract: --version must be a"
                                   " positive integer\n");
            break;
        case 'd':
            o->device_col = optarg;
            break;
        case 'r':
            o->region_col = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'h':
            fputs(contract_usage, stdout);
            return -1;
        default:
            return usage_error(contract_usage);
        }
    }
    return optind < argc ? usage_error(contract_usage) : 0;
}

int agent_contract(struct agent_ctx *ctx, int argc, char **argv)
{
    struct contract_opts o = {.version = 1};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    json_t *j = NULL;
    sqlite3 *db = NULL;
    int rc = parse_contract(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (open_agent(ctx, &cfg, &db, &err) < 0)
        return fail(&err);
    rc = fy_capture_contract(db, o.version, o.device_col, o.region_col, &j,
                             &err);
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    if (rc < 0)
        return fail(&err);
    rc = o.out ? json_dump_file(j, o.out, JSON_INDENT(2))
               : json_dumpf(j, stdout, JSON_INDENT(2));
    if (!o.out)
        putchar('\n');
    json_decref(j);
    if (rc != 0) {
        fprintf(stderr, "ferry: cannot write '%s'\n", o.out ? o.out : "-");
        return AGENT_ERROR;
    }
    return AGENT_OK;
}

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
            if (parse_long(optarg, 0, 7 * 86400, &v) < 0)
                return usage_error("ferry push: --retry-for takes seconds\n");
            o->retry_budget_ms = (int64_t)v * 1000;
            break;
        case 'm':
            if (parse_long(optarg, 1, INT32_MAX, &v) < 0)
                return usage_error("ferry push: --max-batches must be > 0\n");
            o->max_batches = (int)v;
            break;
        case 'h':
            fputs(push_usage, stdout);
            return -1;
        default:
            return usage_error(push_usage);
        }
    }
    return optind < argc ? usage_error(push_usage) : 0;
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
    if (open_agent(ctx, &cfg, &db, &err) < 0)
        return fail(&err);
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
        return fail(&err);
    return rc < 0 ? agent_exit_code(rc) : AGENT_OK;
}

/* ---- status ----------------------------------------------------------- */

static int64_t count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static json_t *last_run(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    json_t *j = json_null();

    if (sqlite3_prepare_v2(db,
                           "SELECT ended, status, sent, error FROM _ferry_runs"
                           " ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        j = json_pack("{s:I, s:s, s:I, s:s?}", "at",
                      (json_int_t)sqlite3_column_int64(st, 0), "status",
                      (const char *)sqlite3_column_text(st, 1), "sent",
                      (json_int_t)sqlite3_column_int64(st, 2), "error",
                      (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    return j;
}

static int add_name(const char *table, void *ud)
{
    return json_array_append_new(ud, json_string(table));
}

static json_t *status_json(sqlite3 *db, const struct fy_agent_config *cfg)
{
    int64_t acked = 0, next = 1;
    json_t *tracked = json_array();

    fy_state_get_int(db, "acked_seq", 0, &acked, NULL);
    fy_state_get_int(db, "next_seq", 1, &next, NULL);
    fy_capture_each_tracked(db, add_name, tracked, NULL);
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "device", cfg->device,
        "database", cfg->database, "server", cfg->base_url, "tracked", tracked,
        "outbox",
        (json_int_t)count_of(db, "SELECT count(*) FROM _ferry_outbox"),
        "acked_seq", (json_int_t)acked, "next_seq", (json_int_t)next,
        "dead_letters",
        (json_int_t)count_of(db, "SELECT count(*) FROM _ferry_dead"),
        "last_push", last_run(db));
}

static void print_status(json_t *j)
{
    json_t *lp = json_object_get(j, "last_push");
    char *tracked = json_dumps(json_object_get(j, "tracked"), JSON_COMPACT);

    printf("device        %s\n",
           json_string_value(json_object_get(j, "device")));
    printf("database      %s\n",
           json_string_value(json_object_get(j, "database")));
    printf("server        %s\n",
           json_string_value(json_object_get(j, "server")));
    printf("tracked       %s\n", tracked ? tracked : "[]");
    printf("outbox        %lld writes queued (coalesced per row at push)\n",
           (long long)json_integer_value(json_object_get(j, "outbox")));
    printf("acked seq     %lld\n",
           (long long)json_integer_value(json_object_get(j, "acked_seq")));
    printf("dead letters  %lld\n",
           (long long)json_integer_value(json_object_get(j, "dead_letters")));
    if (json_is_object(lp)) {
        const char *e = json_string_value(json_object_get(lp, "error"));

        printf("last push     %lld (%s, %lld sent)%s%s\n",
               (long long)json_integer_value(json_object_get(lp, "at")),
               json_string_value(json_object_get(lp, "status")),
               (long long)json_integer_value(json_object_get(lp, "sent")),
               e ? ": " : "", e ? e : "");
    } else
        printf("last push     never\n");
    free(tracked);
}

int agent_status(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    json_t *j;
    int as_json = argc == 2 && strcmp(argv[1], "--json") == 0;

    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs("usage: ferry status [--json]\nShows the outbox depth, the"
              " acknowledged seq, dead letters and the last push.\n",
              stdout);
        return AGENT_OK;
    }
    if (argc > 1 && !as_json)
        return usage_error("usage: ferry status [--json]\n");
    if (open_agent(ctx, &cfg, &db, &err) < 0)
        return fail(&err);
    j = status_json(db, &cfg);
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        print_status(j);
    }
    json_decref(j);
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    return AGENT_OK;
}
