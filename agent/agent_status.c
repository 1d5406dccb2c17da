/* SPDX-License-Identifier: MIT */
/*
 * `ferry status`: outbox depth, acknowledged seq, dead letters, files not
 * uploaded yet, last push.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "agent/agentdb.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

/* ---- status ----------------------------------------------------------- */

static int64_t count_of(sqlite3 *db, enum fy_agentdb_table which)
{
    int64_t n = 0;

    fy_agentdb_count(db, which, &n, NULL);
    return n;
}

static int run_json(const struct fy_agent_run *r, void *ud)
{
    json_t **j = ud;

    *j = json_pack("{s:I, s:s, s:I, s:s?}", "at", (json_int_t)r->ended,
                   "status", r->status ? r->status : "?", "sent",
                   (json_int_t)r->sent, "error", r->error);
    return *j ? 0 : FERRY_ENOMEM;
}

static json_t *last_run(sqlite3 *db)
{
    json_t *j = NULL;

    fy_agentdb_last_run(db, run_json, &j, NULL);
    return j ? j : json_null();
}

static int add_name(const char *table, void *ud)
{
    return json_array_append_new(ud, json_string(table));
}

static int add_problem(const char *table, const char *problem, void *ud)
{
    return json_array_append_new(
        ud, json_pack("{s:s, s:s}", "table", table, "problem", problem));
}

static json_t *status_json(sqlite3 *db, const struct fy_agent_config *cfg)
{
    int64_t acked = 0, next = 1, pulled = 0, reboot = 0;
    json_t *tracked = json_array(), *broken = json_array();
    char *cursor = NULL;
    json_t *j;

    fy_state_get_int(db, "acked_seq", 0, &acked, NULL);
    fy_state_get_int(db, "next_seq", 1, &next, NULL);
    fy_state_get_int(db, "last_pull_at", 0, &pulled, NULL);
    fy_state_get_int(db, "pull_rebootstrap", 0, &reboot, NULL);
    fy_state_get_text(db, "pull_cursor", &cursor, NULL);
    fy_capture_each_tracked(db, add_name, tracked, NULL);
    fy_capture_check(db, add_problem, broken, NULL);
    j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:{s:s?, "
                  "s:I, s:b}}",
                  "device", cfg->device, "database", cfg->database, "server",
                  cfg->base_url, "tracked", tracked, "capture_problems", broken,
                  "outbox", (json_int_t)count_of(db, FY_AGENTDB_OUTBOX),
                  "acked_seq", (json_int_t)acked, "next_seq", (json_int_t)next,
                  "dead_letters", (json_int_t)count_of(db, FY_AGENTDB_DEAD),
                  "last_push", last_run(db), "pull", "cursor", cursor,
                  "last_at", (json_int_t)pulled, "starting_over", reboot != 0);
    fy_free(cursor);
    /* Only an agent that uploads files has uploads to show. */
    if (j && cfg->nfiles > 0)
        json_object_set_new(
            j, "pending_uploads",
            json_integer((json_int_t)count_of(db, FY_AGENTDB_UPLOADS)));
    return j;
}

/*
 * The last run's error may quote a server's answer: escaped for the
 * terminal, as every error line the agent prints.
 */
static void print_last_push(json_t *lp)
{
    const char *e = json_string_value(json_object_get(lp, "error"));
    char when[FY_TIME_STRLEN + 1];
    struct fy_buf safe = FY_BUF_INIT(0);

    if (e)
        fy_escape(&safe, e, strlen(e));
    printf("last push     %s (%s, %lld sent)%s%s\n",
           fy_local_time(json_integer_value(json_object_get(lp, "at")), when),
           json_string_value(json_object_get(lp, "status")),
           (long long)json_integer_value(json_object_get(lp, "sent")),
           e ? ": " : "", safe.data);
    fy_buf_release(&safe);
}

static void print_pull(json_t *p)
{
    json_int_t at = json_integer_value(json_object_get(p, "last_at"));
    const char *cursor = json_string_value(json_object_get(p, "cursor"));
    char when[FY_TIME_STRLEN + 1];

    if (!at) {
        printf("last pull     never\n");
        return;
    }
    printf("last pull     %s (cursor %s)%s\n", fy_local_time(at, when),
           cursor ? cursor : "none",
           json_is_true(json_object_get(p, "starting_over"))
               ? "; starting over after 410 cursor_expired"
               : "");
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
    printf("capture       %s\n",
           json_array_size(json_object_get(j, "capture_problems"))
               ? "BROKEN (see the errors above; 'ferry track TABLE' repairs)"
               : "ok");
    printf("outbox        %lld changes queued (coalesced per row at push)\n",
           (long long)json_integer_value(json_object_get(j, "outbox")));
    printf("acked seq     %lld\n",
           (long long)json_integer_value(json_object_get(j, "acked_seq")));
    printf("dead letters  %lld\n",
           (long long)json_integer_value(json_object_get(j, "dead_letters")));
    if (json_object_get(j, "pending_uploads")) {
        long long n = json_integer_value(json_object_get(j, "pending_uploads"));

        printf("uploads       %lld file%s not stored at the server yet\n", n,
               n == 1 ? "" : "s");
    }
    if (json_is_object(lp))
        print_last_push(lp);
    else
        printf("last push     never\n");
    print_pull(json_object_get(j, "pull"));
    free(tracked);
}

int agent_status(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    json_t *j;
    int as_json = argc == 2 && strcmp(argv[1], "--json") == 0;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs("usage: ferry status [--json]\nShows the outbox depth, the"
              " acknowledged seq, dead letters and the last push.\n",
              stdout);
        return AGENT_OK;
    }
    if (argc > 1 && !as_json)
        return agent_usage_error("usage: ferry status [--json]\n");
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
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
    return ctx->capture_problems ? AGENT_CAPTURE : AGENT_OK;
}
