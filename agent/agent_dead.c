/* SPDX-License-Identifier: MIT */
/*
 * `ferry dead`: list, re-queue (retry) or drop the changes push parked in
 * _ferry_dead. The work is in lib/agent/dead.c.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "agent/dead.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char dead_usage[] =
    "usage: ferry dead list [--table T] [--json]\n"
    "       ferry dead retry ID | --table T | --all\n"
    "       ferry dead drop ID | --table T | --all\n"
    "Dead letters are changes push parked: the server refused them (a bad\n"
    "value, a table the contract lacks, a row of another region) or they\n"
    "could not be encoded. list shows them (times are local); retry puts\n"
    "them back in the outbox, to be sent with the row as it is at the next\n"
    "push (after the contract or the row was fixed); drop deletes them.\n";

struct dead_opts {
    struct fy_dead_sel sel;
    bool json;
};

static int parse_id(const char *s, int64_t *id)
{
    long v;

    if (agent_parse_long(s, 1, INT32_MAX, &v) < 0)
        return agent_usage_error("ferry dead: ID must be a dead letter's id"
                                 " (see 'ferry dead list')\n");
    *id = v;
    return 0;
}

static int parse_dead(bool list, int argc, char **argv, struct dead_opts *o)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, picks = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(dead_usage, stdout);
            return -1;
        }
        if (c == 't' && *optarg) {
            o->sel.table = optarg;
            picks++;
        } else if (c == 'a' && !list) {
            o->sel.all = true;
            picks++;
        } else if (c == 'j' && list) {
            o->json = true;
        } else {
            return agent_usage_error(dead_usage);
        }
    }
    if (!list && optind == argc - 1) {
        if (parse_id(argv[optind++], &o->sel.id) != 0)
            return AGENT_USAGE;
        picks++;
    }
    if (optind < argc || picks > 1 || (!list && picks == 0))
        return agent_usage_error(dead_usage);
    if (list && picks == 0)
        o->sel.all = true;
    return 0;
}

/* The key as people read it: a single text part bare, else JSON. */
static void key_text(const json_t *key, char *out, size_t n)
{
    const json_t *one =
        json_array_size(key) == 1 ? json_array_get(key, 0) : NULL;
    char *t = NULL;

    if (json_is_string(one)) {
        snprintf(out, n, "%s", json_string_value(one));
    } else {
        t = json_dumps(one ? one : key, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, n, "%s", t ? t : "?");
    }
    free(t); /* jansson's malloc */
    if (strlen(out) == n - 1)
        memcpy(out + n - 4, "...", 3);
}

/*
 * s escaped for the terminal into b[i] (see fy_escape): the message and
 * code are the server's words, the table and key the app's data, and none
 * of them may move the cursor, clear the screen, reorder the line or start
 * a new one.
 */
static const char *shown(struct fy_buf *b, const char *s)
{
    fy_buf_reset(b);
    fy_escape(b, s, strlen(s));
    return fy_buf_error(b) ? "?" : b->data;
}

static int print_one(const struct fy_dead_letter *d, void *ud)
{
    char at[FY_TIME_STRLEN + 1], key[41];
    struct fy_buf b[4] = {FY_BUF_INIT(0), FY_BUF_INIT(0), FY_BUF_INIT(0),
                          FY_BUF_INIT(0)};
    long *count = ud;

    if ((*count)++ == 0)
        printf("%-6s %-24s %-16s %-20s %-6s %-16s %s\n", "ID", "PARKED",
               "TABLE", "KEY", "STATUS", "CODE", "MESSAGE");
    key_text(d->key, key, sizeof(key));
    printf("%-6lld %-24s %-16s %-20s %-6d %-16s %s\n", (long long)d->id,
           fy_local_time(d->at, at), shown(&b[0], d->table), shown(&b[1], key),
           d->status, shown(&b[2], d->code), shown(&b[3], d->message));
    for (size_t i = 0; i < FY_ARRAY_LEN(b); i++)
        fy_buf_release(&b[i]);
    return 0;
}

static int add_json(const struct fy_dead_letter *d, void *ud)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:s, s:O, s:i, s:s, s:s}", "id",
                          (json_int_t)d->id, "seq", (json_int_t)d->seq, "hlc",
                          (json_int_t)d->hlc, "at", (json_int_t)d->at, "table",
                          d->table, "key", d->key, "status", d->status, "code",
                          d->code, "message", d->message);

    return o && json_array_append_new(ud, o) == 0 ? 0 : FERRY_ENOMEM;
}

/*
 * JSON with every non-ASCII character as \uXXXX, and DEL too (which
 * jansson leaves as is): the server's messages cannot reach a terminal
 * that shows the output as anything but text. DEL is only ever inside a
 * string, where \u007f means the same.
 */
static int print_json(json_t *arr, struct ferry_err *err)
{
    char *t = json_dumps(arr, JSON_INDENT(2) | JSON_ENSURE_ASCII);

    if (!t)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (const char *p = t; *p; p++) {
        if (*p == 0x7f)
            fputs("\\u007f", stdout);
        else
            putchar(*p);
    }
    putchar('\n');
    free(t); /* jansson's malloc */
    return 0;
}

static int dead_list(sqlite3 *db, const struct dead_opts *o,
                     struct ferry_err *err)
{
    json_t *arr = o->json ? json_array() : NULL;
    long count = 0;
    int rc;

    if (o->json)
        rc = arr ? fy_dead_each(db, &o->sel, add_json, arr, err)
                 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else
        rc = fy_dead_each(db, &o->sel, print_one, &count, err);
    if (rc == 0 && o->json)
        rc = print_json(arr, err);
    else if (rc == 0 && count == 0) {
        printf("no dead letters\n");
    }
    json_decref(arr);
    return rc;
}

static int dead_change(sqlite3 *db, bool retry, const struct dead_opts *o,
                       struct ferry_err *err)
{
    long n = 0;
    int rc = retry ? fy_dead_retry(db, &o->sel, &n, err)
                   : fy_dead_drop(db, &o->sel, &n, err);

    if (rc < 0)
        return rc;
    if (o->sel.id > 0 && n == 0)
        return fy_err_set(err, FERRY_EINVAL,
                          "no dead letter with id %lld (see 'ferry dead"
                          " list')",
                          (long long)o->sel.id);
    if (retry)
        printf("re-queued %ld dead letter%s%s\n", n, n == 1 ? "" : "s",
               n == 0   ? ""
               : n == 1 ? "; 'ferry push' sends it"
                        : "; 'ferry push' sends them");
    else
        printf("dropped %ld dead letter%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int agent_dead(struct agent_ctx *ctx, int argc, char **argv)
{
    struct dead_opts o = {0};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    const char *sub = argc > 1 ? argv[1] : "";
    bool list = strcmp(sub, "list") == 0, retry = strcmp(sub, "retry") == 0;
    sqlite3 *db = NULL;
    int rc;

    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(dead_usage, stdout);
        return AGENT_OK;
    }
    if (!list && !retry && strcmp(sub, "drop") != 0)
        return agent_usage_error(dead_usage);
    rc = parse_dead(list, argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    rc = list ? dead_list(db, &o, &err) : dead_change(db, retry, &o, &err);
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    if (rc == FERRY_EINVAL) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        return AGENT_ERROR;
    }
    return rc < 0 ? agent_fail(&err) : AGENT_OK;
}
