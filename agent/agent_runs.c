/* SPDX-License-Identifier: MIT */
/*
 * `ferry runs [NAME]`: the recent runs of tracked streams (and of
 * devices' pushes and pulls) from ferryd's GET /v1/status, as a table for
 * people or as the server's JSON for scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/ferry_runs.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char runs_usage[] =
    "usage: ferry runs [NAME] [--limit N] [--json]\n"
    "Shows the last --limit runs (default 10, at most 1000) of every tracked\n"
    "stream, or of stream NAME, newest first, and those of devices' pushes\n"
    "and pulls: status, start (UTC), duration, records, instance and error.\n"
    "--json prints ferryd's GET /v1/status answer.\n"
    "Exit codes: 0 done; 2 usage; 3 config; 4 key refused; 5 server\n"
    "unreachable; 1 other errors (a stream ferryd does not know).\n";

struct runs_args {
    const char *stream;
    int limit;
    bool json;
};

static int parse_runs(int argc, char **argv, struct runs_args *a)
{
    static const struct option opts[] = {
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (agent_parse_long(optarg, 0, 1000, &v) < 0)
                return agent_usage_error("ferry runs: --limit takes 0 to"
                                         " 1000\n");
            a->limit = (int)v;
            break;
        case 'j':
            a->json = true;
            break;
        case 'h':
            fputs(runs_usage, stdout);
            return -1;
        default:
            return agent_usage_error(runs_usage);
        }
    }
    if (argc - optind > 1)
        return agent_usage_error(runs_usage);
    a->stream = optind < argc ? argv[optind] : NULL;
    if (a->stream && !ferry_stream_name_valid(a->stream)) {
        fprintf(stderr,
                "ferry runs: '%s' is not a stream name: 1 to 64 letters,"
                " digits or _.- (and not . or ..)\n",
                a->stream);
        return AGENT_USAGE;
    }
    return 0;
}

/* ---- the table ---------------------------------------------------------- */

/* A cell: s escaped, cut to width characters, padded to width + 2. */
static void cell(struct fy_buf *b, const char *s, size_t width)
{
    size_t start = b->len, chars = 0, all = 0;

    s = s && *s ? s : "-";
    for (const char *p = s; *p; p++)
        all += ((unsigned char)*p & 0xc0) != 0x80;
    /* A cut leaves room for its "...". */
    agent_add_shown(b, s, all > width ? width - 3 : width);
    for (size_t i = start; i < b->len; i++)
        chars += ((unsigned char)b->data[i] & 0xc0) != 0x80;
    while (chars++ < width + 2)
        fy_buf_addc(b, ' ');
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* "2026-11-30T10:30:00.123Z" shown as "2026-11-30T10:30:00Z". */
static void when(json_t *o, const char *key, char out[32])
{
    const char *t = str(o, key);

    snprintf(out, 32, "%.19s%s", t ? t : "-", t && strlen(t) > 19 ? "Z" : "");
}

static void num(json_t *o, const char *key, char out[32])
{
    json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        snprintf(out, 32, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, 32, "-");
}

static void duration(json_t *o, char out[32])
{
    json_t *v = json_object_get(o, "duration_ms");

    if (json_is_integer(v))
        snprintf(out, 32, "%.1f s", (double)json_integer_value(v) / 1000);
    else
        snprintf(out, 32, "-");
}

/* One line of the table: the cells, then the error (cut), trimmed. */
static void line(struct fy_buf *b, const char *const *cells, bool device,
                 const char *error)
{
    static const size_t widths[] = {20, 7, 5, 9, 20, 9, 8, 16};

    for (size_t i = 0; i < FY_ARRAY_LEN(widths); i++) {
        /* Devices have an op (push, pull, sync), streams an instance. */
        if ((i == 2 && !device) || (i == 7 && device))
            continue;
        cell(b, cells[i], widths[i]);
    }
    agent_add_shown(b, error ? error : "", 60);
    while (b->len && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
    fy_buf_addc(b, '\n');
}

/* One history row h of stream or device name (h NULL: its status only). */
static void row(struct fy_buf *b, const char *name, json_t *st, json_t *h,
                bool device)
{
    char run[32] = "-", started[32], took[32] = "-", records[32];
    json_t *src = h ? h : st;

    if (h) {
        num(h, "run", run);
        when(h, "started_at", started);
        duration(h, took);
        num(h, "records", records);
    } else {
        when(st, "last_attempt", started);
        num(st, "last_records", records);
    }
    line(b,
         (const char *const[]){name, run, h ? str(h, "op") : NULL,
                               str(src, "status"), started, took, records,
                               h ? str(h, "instance") : NULL},
         device, str(src, h ? "error" : "last_error"));
}

/* The rows of "streams" or "devices"; false when there were none. */
static bool table(struct fy_buf *b, json_t *list, bool device)
{
    size_t i, k;
    json_t *st, *h;

    if (json_array_size(list) == 0)
        return false;
    line(b,
         (const char *const[]){device ? "DEVICE" : "STREAM", "RUN", "OP",
                               "STATUS", "STARTED", "DURATION", "RECORDS",
                               "INSTANCE"},
         device, "ERROR");
    json_array_foreach(list, i, st)
    {
        const char *name = str(st, "name");
        json_t *hist = json_object_get(st, "history");

        if (json_array_size(hist) == 0)
            row(b, name, st, NULL, device);
        json_array_foreach(hist, k, h) row(b, name, st, h, device);
    }
    return true;
}

static int print_runs(const struct runs_args *a, const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    struct fy_buf b = FY_BUF_INIT(0);
    char *out = NULL;
    bool any;

    if (!json_is_object(root)) {
        json_decref(root);
        fprintf(stderr, "ferry: ferryd's status is not a JSON object\n");
        return AGENT_ERROR;
    }
    if (a->json) {
        /* ASCII only: a hostile server's text cannot reach the terminal. */
        out = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        puts(out ? out : "{}");
        free(out); /* jansson's malloc */
        json_decref(root);
        return AGENT_OK;
    }
    any = table(&b, json_object_get(root, "streams"), false);
    if (any && json_array_size(json_object_get(root, "devices")))
        fy_buf_addc(&b, '\n');
    any |= table(&b, json_object_get(root, "devices"), true);
    fputs(fy_buf_error(&b) ? "(out of memory)\n"
          : any            ? b.data
                           : "no runs\n",
          stdout);
    fy_buf_release(&b);
    json_decref(root);
    return AGENT_OK;
}

int agent_runs(struct agent_ctx *ctx, int argc, char **argv)
{
    struct runs_args a = {.limit = 10};
    struct ferry_client *c = NULL;
    struct ferry_err err = {0};
    char *text = NULL;
    int rc = parse_runs(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    rc = agent_open_client(ctx, 300000, &c);
    if (rc == 0 && ferry_status_json(c, a.stream, a.limit, &text, &err) < 0) {
        rc = agent_fail(&err);
        if (err.code == FERRY_ENOTFOUND)
            rc = AGENT_ERROR; /* a stream unknown, not a config problem */
    }
    if (rc == 0)
        rc = print_runs(&a, text);
    ferry_free(text);
    ferry_client_free(c);
    return rc;
}
