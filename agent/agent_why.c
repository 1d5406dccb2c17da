/* SPDX-License-Identifier: MIT */
/*
 * `ferry why [--json] TABLE KEY`: why a row did or did not sync, the
 * agent's side and ferryd's in one answer (lib/agent/why.c). ferryd's
 * side needs an admin key, taken from $FERRY_ADMIN_KEY; without one the
 * answer is the agent's side and a line saying why the rest is missing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/why.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char why_usage[] =
    "usage: ferry why [--json] TABLE KEY\n"
    "Says where one row stands, one fact per line: captured and queued,\n"
    "sent in which batch, acknowledged, parked as a dead letter, stored on\n"
    "the server (by which device), superseded, deleted, outside this\n"
    "device's read scope, or not known anywhere. KEY is the key's value, or\n"
    "a JSON array of the values in key order for a composite key. The\n"
    "server's side needs an admin key in $FERRY_ADMIN_KEY.\n";

struct why {
    const char *table, *key;
    bool json;
    json_t *local, *server;
    char missing[400]; /* why the server's side is missing, "" if not */
    int exit;          /* the exit code the server's side asks for */
};

static int parse_why(int argc, char **argv, struct why *w)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(why_usage, stdout);
            return -1;
        }
        if (c != 'j')
            return agent_usage_error(why_usage);
        w->json = true;
    }
    if (argc - optind != 2 || !*argv[optind] || !*argv[optind + 1])
        return agent_usage_error(why_usage);
    w->table = argv[optind];
    w->key = argv[optind + 1];
    return 0;
}

/*
 * Asks ferryd with the admin key; the agent takes cfg and db (freed with
 * it). A failure is a missing part, not the command's failure: the local
 * facts still stand.
 */
static void ask_server(struct why *w, struct fy_agent_config *cfg, sqlite3 *db,
                       const char *admin)
{
    struct fy_agent_opts o = {.key = admin,
                              .retry_budget_ms = 3000,
                              .backoff_base_ms = 250,
                              .backoff_cap_ms = 1000};
    struct ferry_err err = {0};
    struct fy_agent *a = NULL;
    char *device = fy_strdup(cfg->device);
    int rc = device ? 0 : fy_err_set(&err, FERRY_ENOMEM, "out of memory");

    if (rc == 0)
        rc = fy_agent_new(cfg, db, &o, &a, &err);
    else {
        fy_agent_config_release(cfg);
        sqlite3_close(db);
    }
    if (rc == 0)
        rc = fy_why_server(
            a, json_string_value(json_object_get(w->local, "table")), w->key,
            device, &w->server, &err);
    if (rc == 0)
        fy_why_join(fy_agent_db(a), w->local, w->server);
    else {
        struct fy_buf b = FY_BUF_INIT(0);

        fy_escape(&b, err.msg, strlen(err.msg));
        snprintf(w->missing, sizeof(w->missing), "%s",
                 fy_buf_error(&b) ? ferry_strerror(err.code) : b.data);
        fy_buf_release(&b);
        w->exit = rc == FERRY_ENOTFOUND ? AGENT_CONFIG : agent_exit_code(rc);
    }
    fy_free(device);
    fy_agent_free(a);
}

/* Neither the device nor the server has the table: nothing to say. */
static bool no_such_table(const struct why *w)
{
    return !json_object_get(w->local, "row") &&
           !json_is_true(json_object_get(w->local, "tracked")) && !w->server;
}

static void print(const struct why *w, json_t *facts)
{
    json_t *f;
    size_t i;

    if (w->json) {
        json_t *all = json_pack(
            "{s:s, s:s, s:O, s:O?, s:s?, s:O}", "table", w->table, "key",
            w->key, "local", w->local, "server", w->server, "server_missing",
            w->missing[0] ? w->missing : NULL, "facts", facts);

        json_dumpf(all, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(all);
        return;
    }
    json_array_foreach(facts, i, f)
    {
        struct fy_buf b = FY_BUF_INIT(0);
        const char *s = json_string_value(f);

        /* Codes and messages quote the server and the app: escaped. */
        fy_escape(&b, s, strlen(s));
        printf("%s\n", fy_buf_error(&b) ? "?" : b.data);
        fy_buf_release(&b);
    }
}

int agent_why(struct agent_ctx *ctx, int argc, char **argv)
{
    struct why w = {0};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    const char *admin = getenv("FERRY_ADMIN_KEY");
    json_t *facts;
    int rc = parse_why(argc, argv, &w);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    if (fy_why_local(db, w.table, w.key, &w.local, &err) < 0) {
        sqlite3_close(db);
        fy_agent_config_release(&cfg);
        return agent_fail(&err);
    }
    if (admin && *admin) {
        ask_server(&w, &cfg, db, admin);
    } else {
        snprintf(w.missing, sizeof(w.missing),
                 "FERRY_ADMIN_KEY is not set (GET /v1/trace takes an admin"
                 " key)");
        sqlite3_close(db);
        fy_agent_config_release(&cfg);
    }
    if (no_such_table(&w)) {
        fprintf(stderr, "ferry why: no table '%s' on this device%s\n", w.table,
                w.exit == AGENT_CONFIG ? " or in ferryd's contract" : "");
        json_decref(w.local);
        return AGENT_CONFIG;
    }
    facts = fy_why_facts(w.local, w.server, w.missing);
    print(&w, facts);
    json_decref(facts);
    json_decref(w.local);
    json_decref(w.server);
    return w.exit;
}
