/* SPDX-License-Identifier: MIT */
/*
 * `ferry export json --mapping M [-o FILE]`: the document a mapping
 * describes, written back from the app database's tables (the way back of
 * `ferry import json`). The work is lib/import/export.c; this file parses
 * the options, opens the database read-only and says what it wrote.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/config.h"
#include "import/export.h"
#include "import/mapping.h"
#include "fy.h"

#include "agent.h"

static const char export_usage[] =
    "usage: ferry export json --mapping MAPPING [-o FILE] [--compact]\n"
    "                         [--db PATH]\n"
    "writes the document MAPPING describes from the tables of the app\n"
    "database (the config's, or --db PATH), records in key order, indented\n"
    "by two spaces (--compact: one line). -o FILE is replaced whole, or left\n"
    "as it was when the export fails; without -o, to standard output.\n"
    "Exit codes: 0 done; 2 usage; 3 config, mapping or database missing or\n"
    "invalid, or a table or column of the mapping not in the database;\n"
    "5 the database stayed locked; 1 other errors (a stored value JSON\n"
    "cannot hold, FILE not writable).\n";

struct export_args {
    const char *mapping;
    const char *out;
    const char *db;
    int flags;
};

/* -1 after --help (printed), else 0 or the exit code. */
static int parse_export(int argc, char **argv, struct export_args *a)
{
    static const struct option opts[] = {
        {"mapping", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"db", required_argument, NULL, 'd'},
        {"compact", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(export_usage, stdout);
            return -1;
        }
        if (c == 'm')
            a->mapping = optarg;
        else if (c == 'o')
            a->out = optarg;
        else if (c == 'd')
            a->db = optarg;
        else if (c == 'C')
            a->flags |= FY_EXPORT_COMPACT;
        else
            return agent_usage_error(export_usage);
    }
    if (optind != argc || !a->mapping || !*a->mapping || (a->out && !*a->out) ||
        (a->db && !*a->db))
        return agent_usage_error(export_usage);
    return 0;
}

/* The app database, read-only: an export never writes to it. */
static int open_db(struct agent_ctx *ctx, const char *path, sqlite3 **db,
                   struct ferry_err *err)
{
    struct fy_agent_config cfg = {0};
    int rc = 0;

    if (!path) {
        rc = fy_agent_config_load(ctx->config_path, &cfg, err);
        if (rc < 0)
            return rc;
        path = cfg.database;
    }
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        rc = fy_err_set(err, FERRY_ECONFIG, "cannot open the database '%s': %s",
                        path, *db ? sqlite3_errmsg(*db) : "out of memory");
    else
        sqlite3_busy_timeout(*db, 5000);
    fy_agent_config_release(&cfg);
    return rc;
}

static void report(const struct export_args *a,
                   const struct fy_export_stats *st)
{
    if (st->orphans > 0)
        fprintf(stderr,
                "ferry: warning: %lld %s without a parent row left out (the "
                "first in table '%s')\n",
                (long long)st->orphans, st->orphans == 1 ? "row" : "rows",
                st->orphan_table);
    if (a->out)
        fprintf(stderr, "ferry: exported %lld records (%lld rows) to %s\n",
                (long long)st->records, (long long)st->rows, a->out);
}

int agent_export(struct agent_ctx *ctx, int argc, char **argv)
{
    struct export_args a = {0};
    struct ferry_err err = {0};
    struct fy_export_stats st = {0};
    struct fy_mapping *m = NULL;
    sqlite3 *db = NULL;
    int rc;

    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(export_usage, stdout);
        return AGENT_OK;
    }
    /* json is the one format: named so that another can come. */
    if (argc < 2 || strcmp(argv[1], "json") != 0)
        return agent_usage_error(export_usage);
    rc = parse_export(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    rc = fy_mapping_load(a.mapping, &m, &err);
    if (rc == 0)
        rc = open_db(ctx, a.db, &db, &err);
    if (rc == 0 && a.out)
        rc = fy_export_file(db, m, a.out, a.flags, &st, &err);
    else if (rc == 0)
        rc = fy_export_write(db, m, stdout, a.flags, &st, &err);
    rc = rc < 0 ? agent_fail(&err) : AGENT_OK;
    if (rc == AGENT_OK)
        report(&a, &st);
    sqlite3_close(db);
    fy_mapping_free(m);
    return rc;
}
