/* SPDX-License-Identifier: MIT */
/*
 * `ferry init`: writes the agent config and creates ferry's tables in the
 * app database.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "capture/capture.h"
#include "core/config.h"
#include "fy.h"

#include "agent.h"

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
            if (agent_parse_long(optarg, 1, FY_BATCH_MAX, &o->batch) < 0)
                return agent_usage_error(
                    "ferry init: --batch-size must be 1 to "
                    "10000\n");
            break;
        case 'h':
            fputs(init_usage, stdout);
            return -1;
        default:
            return agent_usage_error(init_usage);
        }
    }
    if (!o->db || !o->url || optind < argc)
        return agent_usage_error(init_usage);
    if (strncmp(o->url, "http://", 7) != 0 &&
        strncmp(o->url, "https://", 8) != 0)
        return agent_usage_error("ferry init: --url must start with http:// or"
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
        return agent_usage_error(
            "ferry init: --device must be 1 to 128 letters,"
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
        return agent_fail(&err);
    printf("wrote %s (device %s, database %s)\n", ctx->config_path, o.device,
           dbpath);
    printf("next: export %s=<key from 'ferryd keys create --device %s'>\n",
           o.auth_env, o.device);
    return AGENT_OK;
}
