/* SPDX-License-Identifier: MIT */
/*
 * Backups of the embedded SQLite store (ferryd backup / restore) with
 * SQLite's online backup API, and the step both stores need after a
 * restore: expiring every pull cursor handed out before it (see
 * docs/backups.md). The backup copies the store page by page in one read
 * transaction: in WAL mode pushes go on meanwhile and the copy is the
 * store as one moment saw it.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sql.h"
#include "util/sqlite_err.h"
#include "fy.h"

/* How long a copy waits out a checkpoint or a writer's lock on the source. */
#define BUSY_MS 10000

static void info_add_table(struct fy_backup_info *info, const char *name,
                           int64_t rows)
{
    size_t len = strlen(info->tables), cap = sizeof(info->tables);

    info->ntables++;
    info->rows += rows;
    if (len + 4 >= cap)
        return;
    if (snprintf(info->tables + len, cap - len, "%s%s %lld", len ? ", " : "",
                 name, (long long)rows) >= (int)(cap - len))
        snprintf(info->tables + cap - 4, 4, "...");
}

static int one_int(sqlite3 *db, const char *sql, const char *text, int64_t *out,
                   bool *found)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    *found = false;
    if (src == SQLITE_OK && text)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *found = sqlite3_column_type(s, 0) != SQLITE_NULL;
        *out = sqlite3_column_int64(s, 0);
        src = SQLITE_OK;
    } else if (src == SQLITE_DONE) {
        src = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return src;
}

/* The rows of every contract table (a table with ferry's version column). */
static int count_tables(sqlite3 *db, const char *file,
                        struct fy_backup_info *info, struct ferry_err *err)
{
    static const char sql[] =
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND"
        " m.name NOT LIKE 'ferry\\_%' ESCAPE '\\' AND EXISTS (SELECT 1"
        " FROM pragma_table_info(m.name) p WHERE p.name = '_ferry_rev')"
        " ORDER BY m.rowid";
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    while (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        char *q = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", name);
        int64_t n = 0;
        bool found;

        src = q ? one_int(db, q, NULL, &n, &found) : SQLITE_NOMEM;
        sqlite3_free(q);
        if (src == SQLITE_OK)
            info_add_table(info, name, n);
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return fy_sqlite_fail(db, file, err);
    return 0;
}

/* PRAGMA integrity_check: "ok", or the first problem it names. */
static int integrity(sqlite3 *db, const char *file, struct ferry_err *err)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
    const char *first;
    int rc = 0;

    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if ((src & 0xff) == SQLITE_NOTADB)
        rc = fy_err_set(err, FERRY_EPARSE, "'%s' is not a SQLite database",
                        file);
    else if ((src & 0xff) == SQLITE_CORRUPT)
        rc = fy_err_set(err, FERRY_EPARSE, "'%s' is damaged: %s", file,
                        sqlite3_errmsg(db));
    else if (src != SQLITE_ROW)
        rc = fy_sqlite_fail_rc(db, src, file, err);
    else if (!(first = (const char *)sqlite3_column_text(s, 0)) ||
             strcmp(first, "ok") != 0)
        rc = fy_err_set(err, FERRY_EPARSE,
                        "'%s' fails SQLite's integrity check: %.300s", file,
                        first ? first : "?");
    sqlite3_finalize(s);
    return rc;
}

/*
 * ferry's own tables, a recorded contract version and the revision; else
 * code (a backup file's fault, or the store's: not migrated).
 */
static int ferry_tables(sqlite3 *db, const char *file, int code,
                        struct fy_backup_info *info, struct ferry_err *err)
{
    static const char *const need[] = {"ferry_meta", "ferry_schema_versions",
                                       "ferry_devices"};
    int64_t v = 0;
    bool found = false;
    int src;

    for (size_t i = 0; i < FY_ARRAY_LEN(need); i++) {
        src = one_int(db,
                      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                      " name = ?1",
                      need[i], &v, &found);
        if (src != SQLITE_OK)
            return fy_sqlite_fail_rc(db, src, file, err);
        if (!found)
            return fy_err_set(err, code,
                              "'%s' is not a ferry store: it has no table"
                              " %s",
                              file, need[i]);
    }
    src = one_int(db, "SELECT max(version) FROM ferry_schema_versions", NULL,
                  &v, &found);
    if (src == SQLITE_OK && found)
        info->version = (long)v;
    if (src == SQLITE_OK && found)
        src = one_int(db, "SELECT value FROM ferry_meta WHERE key = 'rev'",
                      NULL, &v, &found);
    if (src != SQLITE_OK)
        return fy_sqlite_fail_rc(db, src, file, err);
    if (!found)
        return fy_err_set(err, code,
                          "'%s' is not a ferry store: no contract version"
                          " or revision recorded ('ferryd migrate' never"
                          " finished on it)",
                          file);
    return 0;
}

int fy_store_sqlite_check(const char *file, struct fy_backup_info *info,
                          struct ferry_err *err)
{
    sqlite3 *db = NULL;
    struct stat sb;
    int rc;

    memset(info, 0, sizeof(*info));
    if (stat(file, &sb) != 0)
        return fy_err_set(err, errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
                          "cannot read '%s': %s", file, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return fy_err_set(err, FERRY_EPARSE, "'%s' is not a file", file);
    if (access(file, R_OK) != 0)
        return fy_err_set(err, FERRY_EIO, "cannot read '%s': %s", file,
                          strerror(errno));
    info->bytes = (int64_t)sb.st_size;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = fy_err_set(err, FERRY_EIO, "cannot open '%s': %s", file,
                        db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    rc = integrity(db, file, err);
    if (rc == 0)
        rc = ferry_tables(db, file, FERRY_EPARSE, info, err);
    if (rc == 0)
        rc = count_tables(db, file, info, err);
    sqlite3_close(db);
    return rc;
}

/* ---- copying ------------------------------------------------------------ */

/*
 * Copies every page of src into dst in one step, so in one read
 * transaction of src: a copy of one moment even while others write.
 */
static int copy_db(sqlite3 *dst, sqlite3 *src, const char *what,
                   struct ferry_err *err)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int src_rc, waited = 0;

    if (!b)
        return fy_sqlite_fail(dst, what, err);
    while ((src_rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
           src_rc == SQLITE_LOCKED) {
        if (waited >= BUSY_MS)
            break;
        sqlite3_sleep(50);
        waited += 50;
    }
    sqlite3_backup_finish(b);
    if (src_rc == SQLITE_DONE)
        return 0;
    return fy_err_set(err, fy_sqlite_errno(src_rc), "%s: %s", what,
                      sqlite3_errstr(src_rc));
}

static int sync_path(const char *path, bool dir, struct ferry_err *err)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    int rc = 0;

    if (fd < 0 || fsync(fd) != 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot sync '%s': %s", path,
                        strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

static int sync_dir_of(const char *file, struct ferry_err *err)
{
    char *copy = fy_strdup(file);
    const char *dir = copy ? dirname(copy) : NULL;
    int rc = dir ? sync_path(dir, true, err)
                 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    fy_free(copy);
    return rc;
}

/* A new empty file next to path: path.SUFFIX-XXXXXX, its name in *out. */
static int temp_next_to(const char *path, const char *suffix, char **out,
                        struct ferry_err *err)
{
    size_t n = strlen(path) + strlen(suffix) + 9;
    char *t = fy_malloc(n);
    int fd;

    *out = NULL;
    if (!t) {
        fy_err_set(err, FERRY_ENOMEM, "out of memory");
        return FERRY_ENOMEM;
    }
    snprintf(t, n, "%s.%s-XXXXXX", path, suffix);
    fd = mkstemp(t);
    if (fd < 0) {
        fy_err_set(err, FERRY_EIO, "cannot create a file next to '%s': %s",
                   path, strerror(errno));
        fy_free(t);
        return FERRY_EIO;
    }
    close(fd);
    *out = t;
    return 0;
}

static int open_rw(const char *path, bool create, sqlite3 **db,
                   struct ferry_err *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (create ? SQLITE_OPEN_CREATE : 0);
    int rc = 0;

    *db = NULL;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        rc = fy_err_set(err, create ? FERRY_EIO : FERRY_EUNAVAIL,
                        "cannot open '%s': %s", path,
                        *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, BUSY_MS);
    return 0;
}

static int exec(sqlite3 *db, const char *sql, const char *what,
                struct ferry_err *err)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? 0 : fy_sqlite_fail_rc(db, src, what, err);
}

/*
 * The copy as a file of its own: no write-ahead log beside it, so that it
 * opens read-only anywhere and travels as one file.
 */
static int copy_to_file(sqlite3 *src, const char *tmp, const char *what,
                        struct ferry_err *err)
{
    sqlite3 *dst = NULL;
    int rc = open_rw(tmp, false, &dst, err);

    if (rc == 0)
        rc = copy_db(dst, src, what, err);
    if (rc == 0)
        rc = exec(dst, "PRAGMA journal_mode=DELETE", what, err);
    if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0)
        rc = fy_err_set(err, FERRY_EIO, "%s: cannot close '%s'", what, tmp);
    if (rc == 0)
        rc = sync_path(tmp, false, err);
    return rc;
}

/* tmp becomes file: never over an existing file unless replace. */
static int place(const char *tmp, const char *file, bool replace,
                 struct ferry_err *err)
{
    if (replace) {
        if (rename(tmp, file) != 0)
            return fy_err_set(err, FERRY_EIO, "cannot write '%s': %s", file,
                              strerror(errno));
    } else if (link(tmp, file) != 0) {
        /* link() fails on an existing name: no window for a race. */
        return fy_err_set(err, errno == EEXIST ? FERRY_EINVAL : FERRY_EIO,
                          "cannot write '%s': %s", file,
                          errno == EEXIST ? "it exists (--force replaces it)"
                                          : strerror(errno));
    } else {
        unlink(tmp);
    }
    return sync_dir_of(file, err);
}

/* Whether a and b name one existing file (--force must not replace it). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int fy_store_sqlite_backup(const char *url, const char *file, bool replace,
                           struct fy_backup_info *info, struct ferry_err *err)
{
    const char *path = fy_store_sqlite_path(url);
    sqlite3 *src = NULL;
    char *tmp = NULL;
    struct stat sb;
    int rc;

    memset(info, 0, sizeof(*info));
    if (!replace && lstat(file, &sb) == 0)
        return fy_err_set(err, FERRY_EINVAL,
                          "'%s' exists: ferryd backup does not replace a"
                          " file (--force does)",
                          file);
    if (same_file(file, path))
        return fy_err_set(err, FERRY_EINVAL,
                          "'%s' is the store itself: back it up to another"
                          " file",
                          file);
    if (access(path, F_OK) != 0)
        return fy_err_set(err, FERRY_ESCHEMA,
                          "the store '%s' does not exist yet: run 'ferryd"
                          " migrate' first",
                          path);
    rc = open_rw(path, false, &src, err);
    /* A store 'ferryd migrate' never prepared is the settings' fault. */
    if (rc == 0)
        rc = ferry_tables(src, path, FERRY_ESCHEMA, info, err);
    if (rc == 0)
        rc = temp_next_to(file, "tmp", &tmp, err);
    if (rc == 0)
        rc = copy_to_file(src, tmp, "backup", err);
    sqlite3_close(src);
    if (rc == 0)
        rc = fy_store_sqlite_check(tmp, info, err);
    if (rc == 0)
        rc = place(tmp, file, replace, err);
    if (tmp && (rc < 0 || !replace))
        unlink(tmp);
    fy_free(tmp);
    return rc;
}

/* ---- restore ------------------------------------------------------------ */

/*
 * Holds the store for this connection alone until it closes: in
 * exclusive locking mode the lock BEGIN EXCLUSIVE takes is kept after the
 * transaction. A ferryd serving the store keeps connections open, so it
 * is found here (SQLITE_BUSY at once) rather than changed under its feet.
 */
static int take_store(const char *path, sqlite3 **db, struct ferry_err *err)
{
    int rc = open_rw(path, true, db, err);
    int src;

    if (rc < 0)
        return rc;
    sqlite3_busy_timeout(*db, 200);
    src = sqlite3_exec(*db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE",
                       NULL, NULL, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_exec(*db, "COMMIT", NULL, NULL, NULL);
    if ((src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED)
        rc = fy_err_set(err, FERRY_EBUSY,
                        "the store '%s' is in use (is ferryd serving it?):"
                        " stop ferryd, then restore",
                        path);
    else if ((src & 0xff) == SQLITE_NOTADB)
        rc = fy_err_set(err, FERRY_EPARSE,
                        "the store '%s' is not a SQLite database; not"
                        " replaced",
                        path);
    else if (src != SQLITE_OK)
        rc = fy_sqlite_fail_rc(*db, src, path, err);
    if (rc < 0) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

/*
 * The store's revision, pruning mark and epoch now: what the restored
 * store's must pass. A new file, without ferry_meta, has none.
 */
static int read_floor(sqlite3 *db, const char *path, struct fy_read_mark *f,
                      struct ferry_err *err)
{
    int64_t v = 0;
    bool found = false;
    int src = one_int(db,
                      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                      " name = 'ferry_meta'",
                      NULL, &v, &found);

    f->v = f->epoch = 0;
    if (src == SQLITE_OK && !found)
        return 0;
    if (src == SQLITE_OK)
        src = one_int(db,
                      "SELECT max(value) FROM ferry_meta WHERE key IN"
                      " ('rev', 'prune_v')",
                      NULL, &v, &found);
    if (src == SQLITE_OK && found)
        f->v = v;
    if (src == SQLITE_OK)
        src = one_int(db,
                      "SELECT value FROM ferry_meta WHERE key ="
                      " 'prune_epoch'",
                      NULL, &v, &found);
    if (src == SQLITE_OK && found)
        f->epoch = v;
    return src == SQLITE_OK ? 0 : fy_sqlite_fail_rc(db, src, path, err);
}

/* In the copy: every cursor of the store or of the copy expires. */
static int expire_in(const char *tmp, const struct fy_read_mark *floor,
                     struct fy_read_mark *mark, struct ferry_err *err)
{
    struct fy_store *st = NULL;
    size_t n = strlen(tmp) + 8;
    char *url = fy_malloc(n);
    int rc;

    if (!url)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    snprintf(url, n, "sqlite:%s", tmp);
    rc = fy_store_open(url, &st, err);
    if (rc == 0)
        rc = fy_store_expire_cursors(st, floor, mark, err);
    fy_store_close(st);
    fy_free(url);
    return rc;
}

/*
 * The prepared copy into the held store, in one write transaction of it:
 * a failure leaves the store as it was. Rollback journal while copying,
 * since a WAL database takes no page size but its own.
 */
static int copy_into(sqlite3 *live, const char *tmp, const char *path,
                     struct ferry_err *err)
{
    sqlite3 *src = NULL;
    int rc = open_rw(tmp, false, &src, err);

    if (rc == 0)
        rc = exec(live, "PRAGMA journal_mode=DELETE", path, err);
    if (rc == 0)
        rc = copy_db(live, src, "restore", err);
    sqlite3_close(src);
    if (rc == 0)
        rc = exec(live, "PRAGMA journal_mode=WAL", path, err);
    return rc;
}

/*
 * In exclusive locking mode SQLite zeroes a rollback journal's header
 * instead of deleting it: a store-sized file left beside the store. A
 * zeroed header is not a hot journal, so removing it loses nothing.
 */
static void remove_cold_journal(const char *path)
{
    static const unsigned char zero[28];
    unsigned char head[28];
    char j[4096];
    FILE *f;
    size_t n;

    snprintf(j, sizeof(j), "%s-journal", path);
    f = fopen(j, "rb");
    if (!f)
        return;
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n == 0 || (n == sizeof(head) && memcmp(head, zero, n) == 0))
        unlink(j);
}

static void remove_temp(const char *tmp)
{
    char side[4096];

    unlink(tmp);
    snprintf(side, sizeof(side), "%s-wal", tmp);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", tmp);
    unlink(side);
    snprintf(side, sizeof(side), "%s-journal", tmp);
    unlink(side);
}

/*
 * A restore killed before its end leaves its copy (PATH.restore-XXXXXX).
 * Whoever holds the store exclusively is the only restore of it, so any
 * such file is a dead one's.
 */
static void remove_dead_copies(const char *path)
{
    char pattern[4096];
    glob_t g;

    if (snprintf(pattern, sizeof(pattern), "%s.restore-*", path) >=
            (int)sizeof(pattern) ||
        glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        remove_temp(g.gl_pathv[i]);
    globfree(&g);
}

int fy_store_sqlite_restore(const char *url, const char *file,
                            struct fy_backup_info *info,
                            struct fy_read_mark *mark, struct ferry_err *err)
{
    const char *path = fy_store_sqlite_path(url);
    struct fy_read_mark floor = {0};
    sqlite3 *live = NULL, *src = NULL;
    char *tmp = NULL;
    int rc = fy_store_sqlite_check(file, info, err);
    /* A store restored to a new place: a failure leaves no file there. */
    bool created = access(path, F_OK) != 0;

    if (rc == 0)
        rc = take_store(path, &live, err);
    if (rc == 0)
        rc = read_floor(live, path, &floor, err);
    if (rc == 0) {
        remove_dead_copies(path);
        rc = temp_next_to(path, "restore", &tmp, err);
    }
    if (rc == 0 &&
        sqlite3_open_v2(file, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        rc = fy_err_set(err, FERRY_EIO, "cannot open '%s'", file);
    if (rc == 0)
        rc = copy_to_file(src, tmp, "restore", err);
    sqlite3_close(src);
    if (rc == 0)
        rc = expire_in(tmp, &floor, mark, err);
    if (rc == 0)
        rc = copy_into(live, tmp, path, err);
    if (live && sqlite3_close(live) != SQLITE_OK && rc == 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot close '%s'", path);
    if (live)
        remove_cold_journal(path);
    if (rc < 0 && live && created)
        remove_temp(path);
    if (tmp)
        remove_temp(tmp);
    fy_free(tmp);
    return rc;
}

/* ---- expiring cursors (both stores) ------------------------------------ */

static int int_row(const char *const *cols, int n, void *ud)
{
    int64_t *v = ud;

    (void)n;
    if (cols[0])
        *v = strtoll(cols[0], NULL, 10);
    return 0;
}

struct names {
    char **v;
    size_t n;
    bool oom;
};

static int name_row(const char *const *cols, int n, void *ud)
{
    struct names *ns = ud;
    char **grown;

    (void)n;
    /* Names go into statement text: only those a contract allows. */
    if (!cols[0] ||
        strspn(cols[0],
               "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.\"") != strlen(cols[0]))
        return 0;
    grown = fy_realloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
    if (!grown || !(grown[ns->n] = fy_strdup(cols[0]))) {
        ns->oom = true;
        if (grown)
            ns->v = grown;
        return FERRY_ENOMEM;
    }
    ns->v = grown;
    ns->n++;
    return 0;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        fy_free(ns->v[i]);
    fy_free(ns->v);
}

/* The newest version stored in any contract or tombstone table. */
static int newest_version(struct fy_store *st, int64_t *newest,
                          struct ferry_err *err)
{
    struct names ns = {0};
    struct fy_sql_q list = {.sql = "{ver_tables}",
                            .row = name_row,
                            .ud = &ns,
                            .what = "list versioned tables"};
    int rc = fy_sql_run(st, &list, err);

    if (ns.oom)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    *newest = 0;
    for (size_t i = 0; rc == 0 && i < ns.n; i++) {
        char sql[512];
        int64_t v = 0;
        struct fy_sql_q q = {.sql = sql,
                             .row = int_row,
                             .ud = &v,
                             .what = "read newest version"};

        snprintf(sql, sizeof(sql),
                 "SELECT {version} FROM %s ORDER BY {version} DESC LIMIT 1",
                 ns.v[i]);
        rc = fy_sql_run(st, &q, err);
        if (v > *newest)
            *newest = v;
    }
    names_free(&ns);
    return rc;
}

static int expire_steps(struct fy_store *st, const struct fy_read_mark *floor,
                        struct fy_read_mark *mark, struct ferry_err *err)
{
    const struct fy_sql_arg fv[] = {FY_SQL_I(floor->v)};
    const struct fy_sql_arg fe[] = {FY_SQL_I(floor->epoch)};
    /* SQLite: the counter passes the floor and every number handed out. */
    struct fy_sql_q rev = {
        .sql = "UPDATE {s}meta SET value = {max}(value, $1) + 1 WHERE key ="
               " 'rev'",
        .args = fv,
        .nargs = 1,
        .what = "raise revision"};
    struct fy_sql_q now = {.sql = "{ver_now}",
                           .row = int_row,
                           .ud = &mark->v,
                           .what = "read version"};
    struct fy_sql_q epoch = {
        .sql = "INSERT INTO {s}meta AS m (key, value) VALUES ('prune_epoch',"
               " $1 + 1) ON CONFLICT (key) DO UPDATE SET value ="
               " {max}(m.value, excluded.value - 1) + 1 RETURNING value",
        .args = fe,
        .nargs = 1,
        .row = int_row,
        .ud = &mark->epoch,
        .what = "record pruning epoch"};
    int64_t newest = 0, next = 0;
    struct fy_sql_q upper = {.sql = "{ver_next}",
                             .row = int_row,
                             .ud = &next,
                             .what = "read next version"};
    int rc = fy_sql_run(st, &rev, err);

    if (rc == 0)
        rc = fy_sql_run(st, &now, err);
    /*
     * The bound after the newest: each statement sees a snapshot of its
     * own (read committed), and a snapshot taken later is above every
     * version an earlier one saw committed.
     */
    if (rc == 0)
        rc = newest_version(st, &newest, err);
    if (rc == 0)
        rc = fy_sql_run(st, &upper, err);
    /*
     * A stored version at or above the next one the database will give
     * out was written by another cluster (a restore whose transaction ids
     * are behind): no cursor could pass it safely. Versions between the
     * mark and that bound are normal while ferryd serves (transactions
     * that committed after the oldest one still running began).
     */
    if (rc == 0 && newest >= next)
        return fy_err_set(
            err, FERRY_ESCHEMA,
            "the store holds versions up to %lld, above this database's"
            " current one (%lld): it was restored into a PostgreSQL cluster"
            " whose transaction ids are behind the old one's: stop the"
            " cluster, run 'pg_resetwal --epoch=%lld' on its data directory,"
            " start it and run this again (docs/backups.md)",
            (long long)newest, (long long)(next - 1),
            (long long)((uint64_t)newest >> 32) + 1);
    if (rc == 0) {
        const struct fy_sql_arg mv[] = {FY_SQL_I(mark->v)};
        struct fy_sql_q q = {
            .sql = "INSERT INTO {s}meta AS m (key, value) VALUES"
                   " ('prune_v', $1) ON CONFLICT (key) DO UPDATE SET"
                   " value = {max}(m.value, excluded.value)",
            .args = mv,
            .nargs = 1,
            .what = "record pruning mark"};

        rc = fy_sql_run(st, &q, err);
    }
    if (rc == 0)
        rc = fy_sql_run(st, &epoch, err);
    return rc;
}

int fy_store_expire_cursors(struct fy_store *st,
                            const struct fy_read_mark *floor,
                            struct fy_read_mark *mark, struct ferry_err *err)
{
    static const struct fy_read_mark none = {0};
    struct fy_sql_q begin = {.sql = "{begin_write}", .what = "begin expire"};
    struct fy_sql_q end = {.sql = "COMMIT", .what = "end expire"};
    struct fy_sql_q undo = {.sql = "ROLLBACK", .what = "end expire"};
    int rc = fy_sql_run(st, &begin, err);

    mark->v = mark->epoch = 0;
    if (rc < 0)
        return rc;
    rc = expire_steps(st, floor ? floor : &none, mark, err);
    if (rc == 0)
        rc = fy_sql_run(st, &end, err);
    else
        fy_sql_run(st, &undo, NULL);
    return rc;
}
