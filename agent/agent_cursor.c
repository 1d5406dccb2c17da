/* SPDX-License-Identifier: MIT */
/*
 * `ferry cursor import NAME FILE`: a stream's committed cursor from an old
 * last_sync.txt, so the first tracked run goes on where the file-based
 * job stopped; `ferry cursor show NAME`: the committed cursor. The file is
 * checked in lib/agent/runs.c; the runs client does the talking.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/runs.h"
#include "ferry/ferry_runs.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char cursor_usage[] =
    "usage: ferry cursor import NAME FILE [--any]\n"
    "       ferry cursor show NAME [--json]\n"
    "import sets stream NAME's committed cursor to FILE's one line (an old\n"
    "last_sync.txt; trailing whitespace trimmed; a date and time such as\n"
    "2024-01-15T10:30:00.000000 unless --any), recorded in the stream's\n"
    "history with FILE's name as the source. show prints the committed\n"
    "cursor (nothing when there is none; --json: the stream's status).\n"
    "Exit codes: 0 done; 2 usage or FILE not one cursor line; 8 a run holds\n"
    "the lease (import); 3 config; 4 key refused; 5 server unreachable;\n"
    "1 other errors (show: a stream ferryd does not know).\n";

struct cursor_args {
    const char *sub; /* "import" or "show" */
    const char *stream;
    const char *file;
    bool any;
    bool json;
};

/* argv[0] is the subcommand; -1 after --help (printed). */
static int parse_cursor(int argc, char **argv, struct cursor_args *a)
{
    static const struct option opts[] = {{"any", no_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool import = strcmp(a->sub, "import") == 0;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cursor_usage, stdout);
            return -1;
        }
        if (c == 'a' && import)
            a->any = true;
        else if (c == 'j' && !import)
            a->json = true;
        else
            return agent_usage_error(cursor_usage);
    }
    if (argc - optind != (import ? 2 : 1))
        return agent_usage_error(cursor_usage);
    a->stream = argv[optind];
    a->file = import ? argv[optind + 1] : "";
    if (!a->stream || !a->file)
        return agent_usage_error(cursor_usage);
    if (!ferry_stream_name_valid(a->stream)) {
        fprintf(stderr,
                "ferry cursor: '%s' is not a stream name: 1 to 64 letters,"
                " digits or _.- (and not . or ..)\n",
                a->stream);
        return AGENT_USAGE;
    }
    return 0;
}

/* FILE's base name, cut to the 200 characters a source may have. */
static void source_name(const char *file, char *out, size_t n)
{
    const char *slash = strrchr(file, '/');
    const char *base = slash && slash[1] ? slash + 1 : file;
    size_t len = strlen(base), chars = 0, i = 0;

    while (i < len && chars < 200 && i + 4 < n) {
        i++;
        while (i < len && ((unsigned char)base[i] & 0xc0) == 0x80)
            i++;
        chars++;
    }
    snprintf(out, n, "%.*s", (int)i, base);
}

static void print_shown(const char *label, const char *s)
{
    struct fy_buf b = FY_BUF_INIT(0);

    fy_buf_adds(&b, label);
    if (s) {
        fy_buf_addc(&b, '\'');
        agent_add_shown(&b, s, 4096);
        fy_buf_addc(&b, '\'');
    } else {
        fy_buf_adds(&b, "none");
    }
    fputs(fy_buf_error(&b) ? "(out of memory)" : b.data, stdout);
    fy_buf_release(&b);
}

/* FILE is not one cursor line (or cannot be read): a usage error. */
static int file_fail(const char *file, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);

    if (err->code == FERRY_EPARSE) {
        fy_buf_adds(&b, "'");
        agent_add_shown(&b, file, 200);
        fy_buf_adds(&b, "': ");
    }
    agent_add_shown(&b, err->msg, 600);
    fprintf(stderr, "ferry cursor import: %s\n",
            fy_buf_error(&b) ? "bad FILE" : b.data);
    fy_buf_release(&b);
    return AGENT_USAGE;
}

static int cursor_import(struct agent_ctx *ctx, const struct cursor_args *a)
{
    struct ferry_client *c = NULL;
    struct ferry_err err = {0};
    char *cursor = NULL, *previous = NULL;
    char source[1024];
    int rc;

    /* The file is checked before anything is sent. */
    if (fy_runs_cursor_file(a->file, a->any, &cursor, &err) < 0)
        return file_fail(a->file, &err);
    source_name(a->file, source, sizeof(source));
    rc = agent_open_client(ctx, 300000, &c);
    if (rc == 0 &&
        ferry_cursor_set(c, a->stream, cursor, source, &previous, &err) < 0) {
        rc = agent_fail(&err);
        if (err.code == FERRY_ECONFLICT)
            rc = AGENT_HELD;
    }
    if (c && rc == 0) {
        printf("cursor of %s set to ", a->stream);
        print_shown("", cursor);
        print_shown(" (was ", previous);
        puts(")");
    }
    ferry_free(previous);
    fy_free(cursor);
    ferry_client_free(c);
    return rc;
}

/* The stream's object in a GET /v1/status answer, borrowed from root. */
static json_t *find_stream(json_t *root, const char *name)
{
    size_t i;
    json_t *s;

    json_array_foreach(json_object_get(root, "streams"), i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));

        if (n && name && strcmp(n, name) == 0)
            return s;
    }
    return NULL;
}

static int show_stream(const struct cursor_args *a, json_t *s)
{
    const char *cur = json_string_value(json_object_get(s, "cursor"));
    struct fy_buf b = FY_BUF_INIT(0);
    char *text;

    if (a->json) {
        json_object_del(s, "history");
        text = json_dumps(s, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (!text)
            return AGENT_ERROR;
        puts(text);
        free(text); /* jansson's malloc */
        return AGENT_OK;
    }
    if (cur) {
        agent_add_shown(&b, cur, 4096);
        puts(fy_buf_error(&b) ? "(out of memory)" : b.data);
    }
    fy_buf_release(&b);
    return AGENT_OK;
}

static int cursor_show(struct agent_ctx *ctx, const struct cursor_args *a)
{
    struct ferry_client *c = NULL;
    struct ferry_err err = {0};
    char *text = NULL;
    json_t *root = NULL, *s;
    int rc = agent_open_client(ctx, 300000, &c);

    if (rc == 0 && ferry_status_json(c, a->stream, 0, &text, &err) < 0) {
        rc = agent_fail(&err);
        if (err.code == FERRY_ENOTFOUND)
            rc = AGENT_ERROR; /* not a config problem: a stream unknown */
    }
    if (rc == 0) {
        root = json_loads(text, 0, NULL);
        s = find_stream(root, a->stream);
        rc = s ? show_stream(a, s) : AGENT_ERROR;
        if (!s)
            fprintf(stderr, "ferry: ferryd's status has no stream '%s'\n",
                    a->stream);
    }
    json_decref(root);
    ferry_free(text);
    ferry_client_free(c);
    return rc;
}

int agent_cursor(struct agent_ctx *ctx, int argc, char **argv)
{
    struct cursor_args a = {0};
    int rc;

    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(cursor_usage, stdout);
        return AGENT_OK;
    }
    if (argc < 2 ||
        (strcmp(argv[1], "import") != 0 && strcmp(argv[1], "show") != 0))
        return agent_usage_error(cursor_usage);
    a.sub = argv[1];
    rc = parse_cursor(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    return strcmp(a.sub, "import") == 0 ? cursor_import(ctx, &a)
                                        : cursor_show(ctx, &a);
}
