/* SPDX-License-Identifier: MIT */
/*
 * `ferry import json FILE --mapping M`: a JSON document into the app
 * database's tables (lib/import/import.c), or through ferryd's row API
 * (--to URL, the row API). This file parses the options,
 * opens the database, shows progress on a terminal and prints the counts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/agent.h"
#include "capture/capture.h"
#include "core/config.h"
#include "import/import.h"
#include "import/infer.h"
#include "import/mapping.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char import_usage[] =
    "usage: ferry import json FILE --mapping MAPPING [--dry-run] [--create]\n"
    "                         [--delete-missing] [--skip-bad] [--backup PATH]\n"
    "                         [--db PATH | --to URL]\n"
    "imports the JSON document FILE into the tables MAPPING describes, in\n"
    "the app database (the config's, or --db PATH), in one transaction;\n"
    "rows equal to the stored ones are not touched. Before the commit FILE\n"
    "is copied to FILE.backup (--backup PATH), never over another copy.\n"
    "  --dry-run         read it all, print what would change, write nothing\n"
    "  --create          create the mapping's tables that are missing\n"
    "  --delete-missing  delete the records FILE no longer has\n"
    "  --skip-bad        leave bad records out (listed) instead of failing\n"
    "  --to URL          write through ferryd's row API at URL (the key from\n"
    "                    the environment, as for push); no deletes\n"
    "Exit codes: 0 done; 2 usage; 3 config, mapping or database missing or\n"
    "invalid, a table missing, or bad input in FILE (nothing written); 5 the\n"
    "database stayed locked; 1 other errors.\n";

static const char infer_usage[] =
    "   or: ferry import json FILE --infer [-o MAPPING] [--sample N]\n"
    "                         [--collection PATH] [--table NAME]\n"
    "prints a mapping for FILE to read and edit (-o: into MAPPING, never\n"
    "over an existing file), from its first N records (--sample) or all of\n"
    "them; the collection at PATH (default $), the root table NAME.\n"
    "Exit codes: 0 done; 2 usage or MAPPING exists; 3 bad input in FILE;\n"
    "1 other errors.\n";

struct import_args {
    struct fy_import_opts o;
    const char *mapping;
    const char *db;
    const char *to;
    bool tty;
    double last_progress;
    bool infer;
    struct fy_infer_opts io; /* --infer's */
    const char *out;         /* --infer -o */
};

/* The help of both forms (the import's, then --infer's). */
static void print_help(void)
{
    fputs(import_usage, stdout);
    fputs(infer_usage, stdout);
}

/* --infer's own options: 0 when c was one. */
static int parse_infer_opt(int c, struct import_args *a)
{
    long n = 0;

    switch (c) {
    case 'I':
        a->infer = true;
        return 0;
    case 'o':
        a->out = optarg;
        return 0;
    case 's':
        if (fy_parse_long(optarg, 1, 1000000000L, &n) < 0)
            n = -1; /* refused by infer_args */
        a->io.sample = n;
        return 0;
    case 'P':
        a->io.collection = optarg;
        return 0;
    case 'T':
        a->io.table = optarg;
        return 0;
    default:
        return -1;
    }
}

/*
 * --infer and an import take different options: a mapping is what one
 * writes and the other reads. 0 or the exit code.
 */
static int infer_args(const struct import_args *a, int argc, char **argv)
{
    const struct fy_import_opts *o = &a->o;

    if (!a->infer)
        return a->out || a->io.sample || a->io.collection || a->io.table
                   ? agent_usage_error(infer_usage)
                   : 0;
    if (optind != argc - 1 || !*argv[optind] || a->mapping || a->db ||
        o->dry_run || o->create || o->delete_missing || o->skip_bad ||
        o->backup || (a->out && !*a->out) || a->io.sample < 0 ||
        (a->io.collection && !*a->io.collection) ||
        (a->io.table && !*a->io.table))
        return agent_usage_error(infer_usage);
    return 0;
}

/* -1 after --help (printed), else 0 or the exit code. */
static int parse_import(int argc, char **argv, struct import_args *a)
{
    static const struct option opts[] = {
        {"infer", no_argument, NULL, 'I'},
        {"output", required_argument, NULL, 'o'},
        {"sample", required_argument, NULL, 's'},
        {"collection", required_argument, NULL, 'P'},
        {"table", required_argument, NULL, 'T'},
        {"mapping", required_argument, NULL, 'm'},
        {"dry-run", no_argument, NULL, 'n'},
        {"create", no_argument, NULL, 'C'},
        {"delete-missing", no_argument, NULL, 'D'},
        {"skip-bad", no_argument, NULL, 'S'},
        {"backup", required_argument, NULL, 'b'},
        {"db", required_argument, NULL, 'd'},
        {"to", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc;

    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        if (parse_infer_opt(c, a) == 0)
            continue;
        switch (c) {
        case 'h':
            print_help();
            return -1;
        case 'm':
            a->mapping = optarg;
            break;
        case 'n':
            a->o.dry_run = true;
            break;
        case 'C':
            a->o.create = true;
            break;
        case 'D':
            a->o.delete_missing = true;
            break;
        case 'S':
            a->o.skip_bad = true;
            break;
        case 'b':
            a->o.backup = optarg;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 't':
            a->to = optarg;
            break;
        default:
            return agent_usage_error(import_usage);
        }
    }
    rc = infer_args(a, argc, argv);
    if (rc != 0 || a->infer) {
        a->o.file = argv[argc - 1];
        return rc;
    }
    if (optind != argc - 1 || !*argv[optind] || !a->mapping || !*a->mapping ||
        (a->db && !*a->db) || (a->o.backup && !*a->o.backup))
        return agent_usage_error(import_usage);
    if (a->to && strncmp(a->to, "http://", 7) != 0 &&
        strncmp(a->to, "https://", 8) != 0)
        return agent_usage_error("ferry import json: --to needs an http://"
                                 " or https:// URL\n");
    if (a->to && (a->db || a->o.dry_run || a->o.create || a->o.delete_missing))
        return agent_usage_error("ferry import json: --to does not go with"
                                 " --db, --dry-run, --create or"
                                 " --delete-missing (the row API deletes"
                                 " nothing and creates no tables)\n");
    a->o.file = argv[optind];
    return 0;
}

static void clear_progress(struct import_args *a)
{
    if (a->tty && a->last_progress > 0) {
        fputs("\r\033[K", stderr);
        a->last_progress = 0;
    }
}

static void on_msg(void *ctx, enum fy_import_msg kind, const char *text)
{
    static const char *const prefix[] = {"note", "skipped", "problem", "note"};
    struct import_args *a = ctx;
    struct fy_buf b = FY_BUF_INIT(0);

    clear_progress(a);
    /* Paths and values come from the document: escaped for the terminal. */
    fy_escape(&b, text, strlen(text));
    fprintf(stderr, "ferry: %s: %s\n", prefix[kind],
            fy_buf_error(&b) ? text : b.data);
    fy_buf_release(&b);
}

static void on_progress(void *ctx, uint64_t bytes, uint64_t records)
{
    struct import_args *a = ctx;
    double now = fy_mono_s();

    if (!a->tty || now - a->last_progress < 0.2)
        return;
    a->last_progress = now;
    fprintf(stderr, "\r\033[Kread %.1f MiB, %llu records",
            (double)bytes / (1 << 20), (unsigned long long)records);
}

/* The app database: --db PATH, or the config's (capture checked). */
static int open_db(struct agent_ctx *ctx, const char *path, sqlite3 **db,
                   struct ferry_err *err)
{
    struct fy_agent_config cfg = {0};
    int rc;

    if (path) {
        rc = fy_capture_open(path, db, err);
        if (rc < 0 && rc != FERRY_EBUSY)
            err->code = FERRY_ECONFIG;
        return err->code ? err->code : rc;
    }
    rc = agent_open(ctx, &cfg, db, err);
    fy_agent_config_release(&cfg);
    return rc;
}

/*
 * --to URL: a network-only agent over the config (its key variable and
 * auth header), its base_url replaced by URL.
 */
static int import_to(struct agent_ctx *ctx, struct import_args *a,
                     struct fy_import_result *res, struct ferry_err *err)
{
    struct fy_agent_opts ao = {.retry_budget_ms = 300000,
                               .backoff_base_ms = 250,
                               .backoff_cap_ms = 30000};
    struct fy_agent_config cfg = {0};
    struct fy_agent *agent = NULL;
    char *url;
    int rc = fy_agent_config_load(ctx->config_path, &cfg, err);

    if (rc < 0)
        return rc;
    url = fy_strdup(a->to);
    if (!url) {
        fy_agent_config_release(&cfg);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    fy_free(cfg.base_url);
    cfg.base_url = url;
    ao.key = agent_api_key(&cfg, &rc);
    if (!ao.key) {
        fy_agent_config_release(&cfg);
        return rc; /* an exit code, said on stderr */
    }
    rc = fy_agent_new(&cfg, NULL, &ao, &agent, err);
    if (rc == 0)
        rc = fy_import_http(agent, &a->o, res, err);
    fy_agent_free(agent);
    return rc;
}

static void print_counts(const struct import_args *a,
                         const struct fy_import_result *r)
{
    const struct fy_mapping *m = a->o.m;

    if (!r->tables)
        return;
    printf("%-24s %10s %10s %10s %10s\n", "table", "create", "update",
           "unchanged", "delete");
    for (size_t i = 0; i < m->ntables; i++) {
        const struct fy_import_counts *c = &r->tables[i];

        printf("%-24s %10llu %10llu %10llu %10llu\n", m->tables[i]->table,
               (unsigned long long)c->created, (unsigned long long)c->updated,
               (unsigned long long)c->unchanged,
               (unsigned long long)c->deleted);
    }
    printf("%llu records%s", (unsigned long long)r->records,
           a->o.dry_run ? " read; dry run: nothing written" : " imported");
    if (r->skipped)
        printf(", %llu skipped", (unsigned long long)r->skipped);
    if (r->problems)
        printf(", %llu with problems", (unsigned long long)r->problems);
    printf("\n");
}

/* Bad input and a bad mapping are the user's to fix: exit 3, not 1. */
static int exit_code(struct ferry_err *err)
{
    if (err->code == FERRY_EPARSE || err->code == FERRY_ETOOBIG ||
        err->code == FERRY_EIO || err->code == FERRY_ECONTRACT)
        err->code = FERRY_ECONFIG;
    return agent_fail(err);
}

static void on_infer_note(const char *line, void *ud)
{
    on_msg(ud, FY_IMPORT_NOTE, line);
}

/* The mapping to stdout, or to a new file -o MAPPING (never over one). */
static int run_infer(struct import_args *a)
{
    struct ferry_err err = {0};
    FILE *f = stdout;
    int rc;

    a->io.note = on_infer_note;
    a->io.ud = a;
    if (a->out && !(f = fopen(a->out, "wx"))) {
        int e = errno;

        fprintf(stderr, "ferry: cannot write '%s': %s%s\n", a->out, strerror(e),
                e == EEXIST ? " (a mapping is never overwritten: remove it or "
                              "name another file)"
                            : "");
        return e == EEXIST ? AGENT_USAGE : AGENT_ERROR;
    }
    rc = fy_infer_run(a->o.file, f, &a->io, &err);
    if (f != stdout && fclose(f) != 0 && rc == 0)
        rc = fy_err_set(&err, FERRY_EIO, "cannot write '%s': %s", a->out,
                        strerror(errno));
    if (rc < 0 && f != stdout)
        unlink(a->out);
    if (rc == FERRY_EINVAL) {
        agent_fail(&err); /* a bad --collection or --table */
        return AGENT_USAGE;
    }
    if (rc < 0)
        return exit_code(&err);
    if (a->out)
        fprintf(stderr, "ferry: wrote the mapping to %s\n", a->out);
    return AGENT_OK;
}

int agent_import(struct agent_ctx *ctx, int argc, char **argv)
{
    struct import_args a = {.tty = isatty(STDERR_FILENO) == 1};
    struct fy_import_result res = {0};
    struct ferry_err err = {0};
    struct fy_mapping *m = NULL;
    sqlite3 *db = NULL;
    int rc;

    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        print_help();
        return AGENT_OK;
    }
    /* json is the one format: named so that another can come. */
    if (argc < 2 || strcmp(argv[1], "json") != 0)
        return agent_usage_error(import_usage);
    rc = parse_import(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (a.infer)
        return run_infer(&a);
    a.o.msg = on_msg;
    a.o.progress = on_progress;
    a.o.ctx = &a;
    rc = fy_mapping_load(a.mapping, &m, &err);
    a.o.m = m;
    if (rc == 0 && a.to) {
        rc = import_to(ctx, &a, &res, &err);
        if (rc > 0) {
            fy_mapping_free(m);
            return rc; /* the key: said, with its exit code */
        }
    } else if (rc == 0) {
        rc = open_db(ctx, a.db, &db, &err);
        if (rc == 0)
            rc = fy_import_sqlite(db, &a.o, &res, &err);
    }
    clear_progress(&a);
    if (rc == 0) {
        print_counts(&a, &res);
        rc = a.o.dry_run && res.problems ? AGENT_CONFIG : AGENT_OK;
    } else {
        rc = exit_code(&err);
    }
    fy_import_result_release(&res);
    sqlite3_close(db);
    fy_mapping_free(m);
    return rc;
}
