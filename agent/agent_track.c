/* SPDX-License-Identifier: MIT */
/*
 * `ferry track` and `ferry contract`: capture triggers on the app's tables
 * and the table contract generated from them.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "capture/capture.h"
#include "agent/agent.h"
#include "core/config.h"
#include "core/contract.h"
#include "fy.h"

#include "agent.h"

/* ---- track ------------------------------------------------------------ */

static const char track_usage[] =
    "usage: ferry track [--untrack] TABLE...\n"
    "Installs capture triggers on each table and queues its existing rows.\n"
    "Run it again after the app rebuilt or renamed a table: it repairs the\n"
    "triggers (and queues the rows again). --untrack removes the triggers.\n";

static void print_tracked(const struct fy_track_result *r)
{
    if (r->already)
        printf("%s is already tracked (triggers complete)\n", r->name);
    else if (r->renamed_from[0])
        printf("tracking %s, renamed from %s (old triggers replaced, %ld"
               " rows queued)\n",
               r->name, r->renamed_from, r->queued);
    else if (r->repaired)
        printf("repaired capture of %s (%ld rows queued again)\n", r->name,
               r->queued);
    else
        printf("tracking %s (%ld existing rows queued)\n", r->name, r->queued);
    if (r->unique_index[0])
        fprintf(stderr,
                "ferry: warning: %s has a UNIQUE constraint besides its key"
                " (%s): an INSERT OR REPLACE that removes a row through it"
                " is not captured as a delete unless the app sets PRAGMA"
                " recursive_triggers=ON (or uses INSERT ... ON CONFLICT DO"
                " UPDATE); see docs/internals/capture.md\n",
                r->name, r->unique_index);
}

static int track_one(sqlite3 *db, const char *table, bool untrack,
                     struct ferry_err *err)
{
    struct fy_track_result r;
    char name[64];
    int rc;

    if (untrack) {
        rc = fy_capture_untrack(db, table, name, sizeof(name), err);
        if (rc == 0)
            printf("untracked %s\n", name);
        return rc;
    }
    rc = fy_capture_track(db, table, &r, err);
    if (rc == 0)
        print_tracked(&r);
    return rc;
}

int agent_track(struct agent_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"untrack", no_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int c, untrack = 0, rc = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'u')
            untrack = 1;
        else if (c == 'h')
            return fputs(track_usage, stdout), AGENT_OK;
        else
            return agent_usage_error(track_usage);
    }
    if (optind >= argc)
        return agent_usage_error(track_usage);
    ctx->quiet_check = true; /* track is how problems get repaired */
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = track_one(db, argv[i], untrack, &err);
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    return rc < 0 ? agent_fail(&err) : AGENT_OK;
}

/* ---- contract --------------------------------------------------------- */

static const char contract_usage[] =
    "usage: ferry contract [--version N] [--device-column COL]\n"
    "                      [--region-column COL] [--global-key TABLE]...\n"
    "                      [--read all|region|none] [-o FILE] [--diff]\n"
    "Prints the table contract for the tracked tables (SQLite types mapped\n"
    "to PostgreSQL, docs/contract.md); ferryd migrate applies it. A table\n"
    "keyed by integers the app numbers on each device gets the device\n"
    "column (default 'device', filled by ferryd) in its key, so devices\n"
    "cannot overwrite each other's rows; --global-key TABLE says the app\n"
    "assigns that table's integer keys centrally. --read says who pulls\n"
    "the tables' rows: every key (all), a regional key its region's rows\n"
    "(region, the default with --region-column) or nobody (none).\n"
    "--diff compares it with the contract ferryd serves instead, one line\n"
    "per difference (+ only the app has it, - only ferryd, ~ changed);\n"
    "exit 0 when they are equal, 1 when they differ.\n";

#define MAX_GLOBAL 64

struct contract_args {
    struct fy_contract_opts o;
    const char *global[MAX_GLOBAL];
    const char *out;
    bool diff;
};

static int parse_contract_opt(int c, struct contract_args *a)
{
    switch (c) {
    case 'n':
        if (agent_parse_long(optarg, 1, INT32_MAX, &a->o.version) < 0)
            return agent_usage_error("ferry contract: --version must be a"
                                     " positive integer\n");
        return 0;
    case 'd':
        a->o.device_col = optarg;
        return 0;
    case 'r':
        a->o.region_col = optarg;
        return 0;
    case 'g':
        if (a->o.nglobal == MAX_GLOBAL)
            return agent_usage_error("ferry contract: too many --global-key\n");
        a->global[a->o.nglobal++] = optarg;
        return 0;
    case 'o':
        a->out = optarg;
        return 0;
    case 'D':
        a->diff = true;
        return 0;
    case 'R':
        if (strcmp(optarg, "all") != 0 && strcmp(optarg, "region") != 0 &&
            strcmp(optarg, "none") != 0)
            return agent_usage_error("ferry contract: --read must be all,"
                                     " region or none\n");
        a->o.read = optarg;
        return 0;
    case 'h':
        fputs(contract_usage, stdout);
        return -1;
    default:
        return agent_usage_error(contract_usage);
    }
}

static int parse_contract(int argc, char **argv, struct contract_args *a)
{
    static const struct option opts[] = {
        {"version", required_argument, NULL, 'n'},
        {"device-column", required_argument, NULL, 'd'},
        {"region-column", required_argument, NULL, 'r'},
        {"global-key", required_argument, NULL, 'g'},
        {"read", required_argument, NULL, 'R'},
        {"output", required_argument, NULL, 'o'},
        {"diff", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc;

    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        rc = parse_contract_opt(c, a);
        if (rc != 0)
            return rc;
    }
    return optind < argc ? agent_usage_error(contract_usage) : 0;
}

static void print_note(const char *table, const char *note, void *ud)
{
    (void)ud;
    fprintf(stderr, "ferry: %s: %s\n", table, note);
}

static int write_contract(json_t *j, const char *out)
{
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = f ? json_dumpf(j, f, JSON_INDENT(2)) : -1;

    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    if (out && f && fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "ferry: cannot write '%s'\n", out ? out : "-");
        return AGENT_ERROR;
    }
    return AGENT_OK;
}

static void print_line(const char *line, void *ud)
{
    (void)ud;
    puts(line);
}

/* The served contract: GET /v1/contract, parsed like a contract file. */
static int fetch_served(struct fy_agent *a, struct fy_contract **out,
                        struct ferry_err *err)
{
    struct fy_agent_request rq = {
        .http = {.method = "GET", .path = "/v1/contract"}, .step = "contract"};
    const struct fy_http_reply *rep = NULL;
    int rc = fy_agent_request(a, &rq, &rep, err);

    if (rc < 0)
        return rc;
    if (rep->status != 200)
        return fy_agent_reply_fail(rep, "GET /v1/contract", err);
    rc = fy_contract_parse(rep->body.data, rep->body.len, out, err);
    if (rc < 0)
        return fy_err_set(err, FERRY_EHTTP,
                          "the server's answer to GET /v1/contract is not a"
                          " contract: %s",
                          err->msg);
    return 0;
}

/*
 * --diff: the contract of the tracked tables against the one ferryd
 * serves, like diff(1): 0 when equal, 1 when they differ. cfg is taken.
 */
static int diff_served(struct fy_agent_config *cfg, json_t *j)
{
    struct fy_agent_opts ao = {.retry_budget_ms = 30000,
                               .backoff_base_ms = 250,
                               .backoff_cap_ms = 5000};
    struct fy_contract *ours = NULL, *theirs = NULL;
    struct ferry_err err = {0};
    struct fy_agent *a = NULL;
    char *text = json_dumps(j, JSON_COMPACT);
    long n = 0;
    int rc = 0;

    ao.key = agent_api_key(cfg, &rc);
    if (!ao.key) {
        free(text);
        fy_agent_config_release(cfg);
        return rc;
    }
    rc = text ? fy_contract_parse(text, strlen(text), &ours, &err)
              : fy_err_set(&err, FERRY_ENOMEM, "out of memory");
    free(text); /* jansson's */
    if (rc == 0)
        rc = fy_agent_new(cfg, NULL, &ao, &a, &err);
    else
        fy_agent_config_release(cfg);
    if (rc == 0)
        rc = fetch_served(a, &theirs, &err);
    if (rc == 0)
        n = fy_contract_diff(theirs, ours, print_line, NULL);
    fy_agent_free(a);
    fy_contract_free(ours);
    fy_contract_free(theirs);
    if (rc < 0)
        return agent_fail(&err);
    return n ? AGENT_ERROR : AGENT_OK;
}

int agent_contract(struct agent_ctx *ctx, int argc, char **argv)
{
    struct contract_args a = {.o = {.version = 1, .note = print_note}};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    json_t *j = NULL;
    sqlite3 *db = NULL;
    int rc = parse_contract(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    a.o.global = a.global;
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    a.o.files = cfg.files;
    a.o.nfiles = cfg.nfiles;
    rc = fy_capture_contract(db, &a.o, &j, &err);
    sqlite3_close(db);
    if (rc == 0 && a.diff) {
        rc = diff_served(&cfg, j);
        json_decref(j);
        return rc;
    }
    fy_agent_config_release(&cfg);
    if (rc < 0)
        return agent_fail(&err);
    rc = write_contract(j, a.out);
    json_decref(j);
    return rc;
}
