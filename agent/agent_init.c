/* SPDX-License-Identifier: MIT */
/*
 * `ferry init`: adds ferry's section to the agent config (or writes a new
 * one) and creates ferry's tables in the app database, all or nothing.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "capture/capture.h"
#include "core/config.h"
#include "fy.h"

#include "agent.h"

/* ---- init ------------------------------------------------------------- */

static const char init_usage[] =
    "usage: ferry init --db PATH [--url URL] [--device NAME] [--auth-env VAR]\n"
    "                  [--batch-size N] [--force]\n"
    "Adds ferry's section to the agent config (see --config), or writes a\n"
    "new one, and creates ferry's tables in the SQLite database. In an\n"
    "existing config only the \"ferry\" section and the values given here\n"
    "change; every other section stays as it is. --url may be left out\n"
    "when the config already has ingestion base_url. The API key is read\n"
    "at push time from the environment variable the config's auth_env\n"
    "names (--auth-env; FERRY_API_KEY in a new config).\n"
    "--force changes the database or device of an already set up config.\n";

struct init_opts {
    const char *db, *url, *device, *auth_env;
    long batch;
    int force;
};

static int init_option(int c, struct init_opts *o)
{
    switch (c) {
    case 'd':
        o->db = optarg;
        return 0;
    case 'u':
        o->url = optarg;
        return 0;
    case 'n':
        o->device = optarg;
        return 0;
    case 'e':
        o->auth_env = optarg;
        return 0;
    case 'f':
        o->force = 1;
        return 0;
    case 'b':
        if (agent_parse_long(optarg, 1, FY_BATCH_MAX, &o->batch) < 0)
            return agent_usage_error("ferry init: --batch-size must be 1 to"
                                     " 10000\n");
        return 0;
    case 'h':
        fputs(init_usage, stdout);
        return -1;
    default:
        return agent_usage_error(init_usage);
    }
}

static int check_init(const struct init_opts *o)
{
    if (!o->db)
        return agent_usage_error(init_usage);
    if (o->url && strncmp(o->url, "http://", 7) != 0 &&
        strncmp(o->url, "https://", 8) != 0)
        return agent_usage_error("ferry init: --url must start with http:// or"
                                 " https://\n");
    if (o->auth_env && !fy_env_name_valid(o->auth_env))
        return agent_usage_error(
            "ferry init: --auth-env must be an environment variable name:"
            " letters, digits and _, not starting with a digit (e.g."
            " FERRY_API_KEY)\n");
    if (!fy_name_valid(o->device))
        return agent_usage_error(
            "ferry init: --device must be 1 to 128 letters,"
            " digits or ._:@-\n");
    return 0;
}

static int parse_init(int argc, char **argv, struct init_opts *o, char *host,
                      size_t hostlen)
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
    int c, rc = 0;

    while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        rc = init_option(c, o);
    if (rc != 0)
        return rc;
    if (optind < argc)
        return agent_usage_error(init_usage);
    if (!o->device && gethostname(host, hostlen - 1) == 0)
        o->device = host;
    return check_init(o);
}

/* What init knows about the database file it opened. */
struct init_db {
    bool created; /* init made the file (O_EXCL), so it may remove it */
    dev_t dev;    /* the file init made, to remove it only if it is */
    ino_t ino;    /* still that file */
    char path[PATH_MAX];
};

/*
 * Creates the file when there is none, with O_EXCL so that "init created
 * it" is certain: an app that creates it at the same moment wins, and its
 * database is then never removed by a rollback.
 */
static int create_db_file(const char *path, struct init_db *d)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    if (fd < 0)
        return errno == EEXIST ? 0 : -1;
    d->created = fstat(fd, &st) == 0;
    close(fd);
    if (!d->created) {
        unlink(path); /* made here a moment ago, still empty */
        return -1;
    }
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    return 0;
}

/*
 * Opens the database (creating it when there is none) and proves it is a
 * SQLite database ferry can write, before anything changes.
 */
static int open_db(const char *path, sqlite3 **db, struct init_db *d)
{
    int rc;

    if (create_db_file(path, d) < 0) {
        fprintf(stderr, "ferry: cannot prepare database '%s': %s\n", path,
                strerror(errno));
        return -1;
    }
    rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL);
    if (rc == SQLITE_OK && realpath(path, d->path))
        return 0;
    fprintf(stderr, "ferry: cannot prepare database '%s': %s\n", path,
            rc == SQLITE_OK ? strerror(errno) : sqlite3_errmsg(*db));
    return -1;
}

/*
 * Removes the database file init created, and SQLite's files next to it,
 * unless the file at path is no longer the one init made.
 */
static void remove_created(const char *path, const struct init_db *d)
{
    static const char *const sides[] = {"-journal", "-wal", "-shm"};
    char side[PATH_MAX + 16];
    struct stat st;

    if (!d->created || stat(path, &st) != 0 || st.st_dev != d->dev ||
        st.st_ino != d->ino)
        return;
    for (size_t i = 0; i < FY_ARRAY_LEN(sides); i++) {
        snprintf(side, sizeof(side), "%s%s", path, sides[i]);
        unlink(side);
    }
    unlink(path);
}

/*
 * Undoes what init did when a later step fails: the previous config comes
 * back (or goes away when there was none) and a database file init created
 * is removed. A database that existed is never removed.
 */
static void roll_back(const char *config, const char *old, bool wrote,
                      const char *dbpath, const struct init_db *d)
{
    struct ferry_err err = {0};

    if (wrote && fy_agent_config_replace(config, old, &err) < 0)
        fprintf(stderr, "ferry: could not restore %s: %s\n", config, err.msg);
    remove_created(dbpath, d);
}

static void print_done(const char *config, const struct init_opts *o,
                       const char *dbpath)
{
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    const char *env = o->auth_env;

    if (fy_agent_config_load(config, &cfg, &err) == 0 && !env)
        env = cfg.auth_env;
    printf("wrote %s (device %s, database %s)\n", config, o->device, dbpath);
    printf("next: export %s=<key from 'ferryd keys create --device %s'>\n",
           env ? env : "FERRY_API_KEY", o->device);
    if (!err.code)
        fy_agent_config_release(&cfg);
}

/*
 * Everything is checked first (options, the database, the merged config);
 * then the config is replaced atomically, then ferry's tables are created.
 * Config first because its old bytes are in hand, so undoing it is exact;
 * the tables come last, and if they fail the config is put back. (Undoing
 * tables instead would mean dropping them, which must never touch an
 * agent's existing outbox.)
 */
int agent_init(struct agent_ctx *ctx, int argc, char **argv)
{
    struct init_opts o = {0};
    struct ferry_err err = {0};
    char host[256] = "device";
    char *text = NULL, *old = NULL;
    sqlite3 *db = NULL;
    struct init_db d = {0};
    bool wrote = false;
    int rc = parse_init(argc, argv, &o, host, sizeof(host));

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (open_db(o.db, &db, &d) < 0) {
        rc = AGENT_CONFIG;
        goto out;
    }
    rc = fy_agent_config_merge(
        ctx->config_path,
        &(struct fy_agent_init){.database = d.path,
                                .device = o.device,
                                .base_url = o.url,
                                .auth_env = o.auth_env,
                                .batch_size = (int)o.batch,
                                .force = o.force},
        &text, &old, &err);
    if (rc == 0)
        rc = fy_agent_config_replace(ctx->config_path, text, &err);
    wrote = rc == 0;
    if (rc == 0)
        rc = fy_capture_init(db, &err);
    if (rc < 0) {
        rc = agent_fail(&err);
        goto out;
    }
    print_done(ctx->config_path, &o, d.path);
    rc = AGENT_OK;
out:
    sqlite3_close(db);
    if (rc != AGENT_OK)
        roll_back(ctx->config_path, old, wrote, d.path[0] ? d.path : o.db, &d);
    fy_free(text);
    fy_free(old);
    return rc;
}
