/* SPDX-License-Identifier: MIT */
/*
 * ferryd backup, restore, expire-cursors: the embedded store's copies and
 * the step after any restore (docs/backups.md). The work is in
 * lib/store/backup.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "fy.h"

#include "ferryd.h"

static const char backup_usage[] =
    "usage: ferryd [--store URL] backup [--force] FILE\n"
    "       ferryd [--store URL] restore FILE\n"
    "       ferryd [--store URL] expire-cursors\n"
    "backup copies the SQLite store to FILE while ferryd serves (--force\n"
    "replaces an existing FILE). restore replaces the store with FILE while\n"
    "ferryd is stopped, and every pull cursor handed out before then gets\n"
    "410 cursor_expired; expire-cursors does that alone (after pg_restore).\n";

/* Exit codes of the three commands (docs/commands.md). */
static int backup_exit(const struct ferry_err *err)
{
    fprintf(stderr, "ferryd: %s\n",
            err->msg[0] ? err->msg : ferry_strerror(err->code));
    switch (err->code) {
    case FERRY_EINVAL:
        return FERRYD_USAGE;
    case FERRY_ESCHEMA:
        return FERRYD_CONFIG;
    case FERRY_EBUSY:
    case FERRY_EUNAVAIL:
        return FERRYD_UNAVAILABLE;
    default:
        return FERRYD_ERROR;
    }
}

static bool is_pg(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 ||
           strncmp(url, "postgres://", 11) == 0;
}

/* FERRYD_OK to go on, -1 after --help, else the exit code. */
static int parse(int argc, char **argv, bool allow_force, bool *force,
                 const char **file)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(backup_usage, stdout);
            return -1;
        }
        if (c != 'f' || !allow_force)
            return fputs(backup_usage, stderr), FERRYD_USAGE;
        *force = true;
    }
    if (optind + 1 != argc || !argv[optind][0])
        return fputs(backup_usage, stderr), FERRYD_USAGE;
    *file = argv[optind];
    return FERRYD_OK;
}

static int refuse_pg(const char *cmd)
{
    fprintf(stderr,
            "ferryd: %s copies the embedded SQLite store; a PostgreSQL store"
            " is backed up with pg_dump and restored with pg_restore, then"
            " 'ferryd expire-cursors': see docs/backups.md#postgresql\n",
            cmd);
    return FERRYD_USAGE;
}

static void print_info(const struct fy_backup_info *in)
{
    printf("contract version %ld, integrity ok, %lld rows in %zu tables%s%s%s",
           in->version, (long long)in->rows, in->ntables,
           in->tables[0] ? " (" : "", in->tables, in->tables[0] ? ")" : "");
}

int ferryd_backup(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_backup_info info;
    const char *file = NULL;
    bool force = false;
    int rc = parse(argc, argv, true, &force, &file);

    if (rc != FERRYD_OK)
        return rc < 0 ? FERRYD_OK : rc;
    if (is_pg(s->store))
        return refuse_pg("backup");
    if (fy_store_sqlite_backup(s->store, file, force, &info, &err) < 0)
        return backup_exit(&err);
    printf("backup %s: %lld bytes, ", file, (long long)info.bytes);
    print_info(&info);
    putchar('\n');
    return FERRYD_OK;
}

int ferryd_restore(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct fy_read_mark mark = {0};
    const char *file = NULL;
    bool force = false;
    int rc = parse(argc, argv, false, &force, &file);

    if (rc != FERRYD_OK)
        return rc < 0 ? FERRYD_OK : rc;
    if (is_pg(s->store))
        return refuse_pg("restore");
    if (fy_store_sqlite_restore(s->store, file, &info, &mark, &err) < 0)
        return backup_exit(&err);
    printf("restored %s into %s: ", file, s->store);
    print_info(&info);
    printf("; pull cursors handed out before expire (mark %lld, epoch %lld)\n",
           (long long)mark.v, (long long)mark.epoch);
    return FERRYD_OK;
}

int ferryd_expire_cursors(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    struct fy_read_mark mark = {0};
    char sum[65], *shown;
    long version = 0;
    int rc;

    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0;

        fputs(backup_usage, help ? stdout : stderr);
        return help ? FERRYD_OK : FERRYD_USAGE;
    }
    rc = fy_store_open_existing(s->store, &st, &err);
    if (rc == 0)
        rc = fy_store_schema_version(st, &version, sum, &err);
    if (rc == 0 && version == 0)
        rc = fy_err_set(&err, FERRY_ESCHEMA,
                        "the store has no ferry schema yet: run 'ferryd"
                        " migrate' first");
    if (rc == 0)
        rc = fy_store_expire_cursors(st, NULL, &mark, &err);
    fy_store_close(st);
    if (rc < 0)
        return backup_exit(&err);
    shown = fy_store_redact(s->store);
    printf("pull cursors handed out before expire on %s (mark %lld, epoch"
           " %lld)\n",
           shown ? shown : "store", (long long)mark.v, (long long)mark.epoch);
    fy_free(shown);
    return FERRYD_OK;
}
