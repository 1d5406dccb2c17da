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
#include "core/config.h"
#include "fy.h"

#include "agent.h"

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
            return agent_usage_error(track_usage);
    }
    if (optind >= argc)
        return agent_usage_error(track_usage);
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
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
    return rc < 0 ? agent_fail(&err) : AGENT_OK;
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
            if (agent_parse_long(optarg, 1, INT32_MAX, &o->version) < 0)
                return agent_usage_error("ferry contract: --version must be a"
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
            return agent_usage_error(contract_usage);
        }
    }
    return optind < argc ? agent_usage_error(contract_usage) : 0;
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
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    rc = fy_capture_contract(db, o.version, o.device_col, o.region_col, &j,
                             &err);
    sqlite3_close(db);
    fy_agent_config_release(&cfg);
    if (rc < 0)
        return agent_fail(&err);
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
