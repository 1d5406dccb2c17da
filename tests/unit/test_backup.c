/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the SQLite store's backups (lib/store/backup.c): a copy
 * taken while another connection writes is one moment of the store, an
 * existing file is not replaced without asking, a restore makes every
 * earlier pull cursor expire, refuses a store another connection holds,
 * and refuses files that are not ferry stores without touching the store.
 * Against real SQLite files in a temporary directory.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "fy.h"

static const char contract_json[] =
    "{\"version\": 3, \"tables\": [{\"name\": \"t\", \"primary_key\":"
    " [\"id\"], \"columns\": [{\"name\": \"id\", \"type\": \"bigint\"},"
    " {\"name\": \"v\", \"type\": \"text\"}], \"read\": \"all\"}]}";

struct fx {
    char dir[64];
    char url[160];
    char path[128]; /* the store's file */
    char file[128]; /* the backup's */
    struct fy_contract *contract;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-backup.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/s.db", fx->dir);
    snprintf(fx->url, sizeof(fx->url), "sqlite:%s", fx->path);
    snprintf(fx->file, sizeof(fx->file), "%s/b.db", fx->dir);
    *state = fx;
    rc = fy_contract_parse(contract_json, strlen(contract_json), &fx->contract,
                           &err);
    if (rc == 0)
        rc = fy_store_open(fx->url, &st, &err);
    if (rc == 0)
        rc = fy_store_migrate(st, fx->contract, &err);
    fy_store_close(st);
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];

    if (!fx)
        return 0;
    fy_contract_free(fx->contract);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

/*
 * Rows written as a push writes them: each with the next revision, the
 * counter stored in the same transaction.
 */
static int put_rows(sqlite3 *db, int from, int n)
{
    char sql[256];
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    for (int i = from; rc == SQLITE_OK && i < from + n; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO t (id, v, _ferry_hlc, _ferry_origin, _ferry_rev)"
                 " VALUES (%d, 'row %d', %d, 'dev', (SELECT value + 1 FROM"
                 " ferry_meta WHERE key = 'rev')); UPDATE ferry_meta SET"
                 " value = value + 1 WHERE key = 'rev'",
                 i, i, i);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* One number read from path by sql; -2 when it cannot be read. */
static int64_t one(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        v = -2;
    else if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void write_rows(const char *path, int from, int n)
{
    sqlite3 *db = open_db(path);

    assert_int_equal(
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(put_rows(db, from, n), SQLITE_OK);
    sqlite3_close(db);
}

/* Nothing but the store and the named files in the directory. */
static int entries(const char *dir)
{
    char cmd[160];
    FILE *p;
    int n = 0;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -v -- '-wal$\\|-shm$'", dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(cmd, sizeof(cmd), p))
        n++;
    pclose(p);
    return n;
}

static void test_backup_copy(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_backup_info info;

    write_rows(fx->path, 1, 50);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err), 0);
    assert_int_equal(info.version, 3);
    assert_int_equal(info.rows, 50);
    assert_int_equal(info.ntables, 1);
    assert_string_equal(info.tables, "t 50");
    assert_true(info.bytes > 0);
    assert_int_equal(one(fx->file, "SELECT count(*) FROM t"), 50);
    /* One file that travels alone: no write-ahead log. */
    assert_int_equal(one(fx->file, "SELECT journal_mode = 'delete' FROM"
                                   " pragma_journal_mode"),
                     1);
    assert_int_equal(entries(fx->dir), 2);

    /* An existing file stays as it is unless replacing is asked for. */
    write_rows(fx->path, 51, 5);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err),
        FERRY_EINVAL);
    assert_int_equal(one(fx->file, "SELECT count(*) FROM t"), 50);
    assert_int_equal(entries(fx->dir), 2);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, true, &info, &err), 0);
    assert_int_equal(one(fx->file, "SELECT count(*) FROM t"), 55);
    assert_int_equal(entries(fx->dir), 2);
}

struct writer {
    const char *path;
    atomic_int stop; /* set by the test, read by the writer */
    int written;     /* the writer's until joined */
};

static void *writer_main(void *ud)
{
    struct writer *w = ud;
    sqlite3 *db = NULL;

    if (sqlite3_open(w->path, &db) != SQLITE_OK)
        return NULL;
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    while (!atomic_load(&w->stop) &&
           put_rows(db, 1000 + w->written, 7) == SQLITE_OK)
        w->written += 7;
    sqlite3_close(db);
    return NULL;
}

/*
 * Each copy, taken while a writer commits batches of 7 rows, holds whole
 * batches only, and its revision counter matches its rows: one moment.
 */
/* One copy's numbers, checked once the writer has stopped. */
struct copy_seen {
    int rc;
    int64_t rows, rev, max_rev, info_rows;
};

static void test_backup_while_writing(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct writer w = {.path = fx->path};
    struct copy_seen seen[8] = {{0}};
    pthread_t th;

    /* No assertion while the writer runs: a failed one would leave it. */
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    for (size_t i = 0; i < FY_ARRAY_LEN(seen); i++) {
        nanosleep(&(struct timespec){0, 20L * 1000 * 1000}, NULL);
        seen[i].rc =
            fy_store_sqlite_backup(fx->url, fx->file, true, &info, &err);
        if (seen[i].rc < 0)
            break;
        seen[i].info_rows = info.rows;
        seen[i].rows = one(fx->file, "SELECT count(*) FROM t");
        seen[i].rev =
            one(fx->file, "SELECT value FROM ferry_meta WHERE key = 'rev'");
        seen[i].max_rev =
            one(fx->file, "SELECT coalesce(max(_ferry_rev), 0) FROM t");
    }
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    for (size_t i = 0; i < FY_ARRAY_LEN(seen); i++) {
        assert_int_equal(seen[i].rc, 0);
        assert_int_equal(seen[i].rows % 7, 0);
        assert_int_equal(seen[i].rows, seen[i].rev);
        assert_int_equal(seen[i].rows, seen[i].info_rows);
        assert_int_equal(seen[i].max_rev, seen[i].rev);
        assert_true(i == 0 || seen[i].rows >= seen[i - 1].rows);
    }
    assert_true(w.written > 0);
}

static int count_row(const struct fy_read_row *r, void *ud)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

static int pull(struct fx *fx, struct fy_read_req *req, int *n,
                struct fy_read_mark *mark)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    bool more = false;
    int rc = fy_store_open(fx->url, &st, &err);

    *n = 0;
    req->contract = fx->contract;
    req->limit = 1000;
    if (rc == 0)
        rc = fy_store_read_changes(st, req, count_row, n, &more, mark, &err);
    fy_store_close(st);
    return rc;
}

/*
 * After a restore, cursors handed out before it (behind, at and past the
 * backup's point) and a full pass under way expire; a new full pass reads
 * the backup's rows and ends at a cursor that does not.
 */
static void test_restore_expires_cursors(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct fy_read_mark mark = {0}, m2 = {0};
    struct fy_read_req req = {0};
    const int64_t old[] = {0, 5, 10, 15, 20};
    int n;

    write_rows(fx->path, 1, 10);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err), 0);
    write_rows(fx->path, 11, 10);
    req.after = (struct fy_read_pos){0, 0};
    req.full = true;
    req.epoch = -1;
    assert_int_equal(pull(fx, &req, &n, &mark), 0);
    assert_int_equal(n, 20);

    assert_int_equal(
        fy_store_sqlite_restore(fx->url, fx->file, &info, &m2, &err), 0);
    assert_int_equal(info.rows, 10);
    assert_true(m2.v > 20);
    assert_true(m2.epoch > mark.epoch);
    assert_int_equal(one(fx->path, "SELECT count(*) FROM t"), 10);
    assert_int_equal(
        one(fx->path, "SELECT value FROM ferry_meta WHERE key = 'rev'"), m2.v);
    assert_int_equal(entries(fx->dir), 2);

    for (size_t i = 0; i < FY_ARRAY_LEN(old); i++) {
        req = (struct fy_read_req){.after = {old[i], 0}};
        assert_int_equal(pull(fx, &req, &n, &mark), FERRY_EEXPIRED);
    }
    req = (struct fy_read_req){.after = {20, 0}, .full = true, .epoch = 0};
    assert_int_equal(pull(fx, &req, &n, &mark), FERRY_EEXPIRED);

    req = (struct fy_read_req){.full = true, .epoch = -1};
    assert_int_equal(pull(fx, &req, &n, &mark), 0);
    assert_int_equal(n, 10);
    assert_int_equal(mark.v, m2.v);
    /* Where that pass ends (changes.c: up to the mark), nothing expires. */
    write_rows(fx->path, 100, 3);
    req = (struct fy_read_req){.after = {mark.v, INT64_MAX}};
    assert_int_equal(pull(fx, &req, &n, &mark), 0);
    assert_int_equal(n, 3);
}

/* A ferryd serving the store holds a connection: restore waits for none. */
static void test_restore_refuses_open_store(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct fy_read_mark mark;
    struct fy_store *st = NULL;

    write_rows(fx->path, 1, 4);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err), 0);
    write_rows(fx->path, 5, 4);
    assert_int_equal(fy_store_open(fx->url, &st, &err), 0);
    assert_int_equal(fy_store_ping(st, &err), 0);
    assert_int_equal(
        fy_store_sqlite_restore(fx->url, fx->file, &info, &mark, &err),
        FERRY_EBUSY);
    assert_non_null(strstr(err.msg, "in use"));
    fy_store_close(st);
    assert_int_equal(one(fx->path, "SELECT count(*) FROM t"), 8);
    assert_int_equal(entries(fx->dir), 2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refused(struct fx *fx, const char *file, int code,
                           const char *words)
{
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct fy_read_mark mark;

    assert_int_equal(fy_store_sqlite_restore(fx->url, file, &info, &mark, &err),
                     code);
    assert_non_null(strstr(err.msg, words));
    assert_int_equal(one(fx->path, "SELECT count(*) FROM t"), 6);
    assert_int_equal(
        one(fx->path, "SELECT value FROM ferry_meta WHERE key = 'rev'"), 6);
}

static void test_restore_refuses_bad_files(void **state)
{
    struct fx *fx = *state;
    char junk[160], other[160], cut[160], cmd[1024];
    sqlite3 *db;

    write_rows(fx->path, 1, 6);
    snprintf(junk, sizeof(junk), "%s/junk", fx->dir);
    snprintf(other, sizeof(other), "%s/other.db", fx->dir);
    snprintf(cut, sizeof(cut), "%s/cut.db", fx->dir);
    write_file(junk, "not a database at all, but long enough to look at it"
                     " twice and more than a hundred bytes long, really.\n");
    db = open_db(other);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (a)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    expect_refused(fx, "/nonexistent/b.db", FERRY_ENOTFOUND, "cannot read");
    expect_refused(fx, fx->dir, FERRY_EPARSE, "not a file");
    expect_refused(fx, junk, FERRY_EPARSE, "not a SQLite database");
    expect_refused(fx, other, FERRY_EPARSE, "not a ferry store");

    /* A backup cut short: damaged pages. */
    {
        struct ferry_err err = {0};
        struct fy_backup_info info;

        assert_int_equal(
            fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err), 0);
        snprintf(cmd, sizeof(cmd),
                 "head -c %lld '%s' >'%s' && printf 'xxxxxxxxxxxxxxxx' |"
                 " dd of='%s' bs=1 seek=8192 conv=notrunc 2>/dev/null",
                 (long long)info.bytes - 4096, fx->file, cut, cut);
        assert_int_equal(system(cmd), 0);
    }
    expect_refused(fx, cut, FERRY_EPARSE, "");
}

/* Restoring on a new machine: the store's file does not exist yet. */
static void test_restore_new_store(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_backup_info info;
    struct fy_read_mark mark = {0};
    char url[200], path[160];

    write_rows(fx->path, 1, 9);
    assert_int_equal(
        fy_store_sqlite_backup(fx->url, fx->file, false, &info, &err), 0);
    snprintf(path, sizeof(path), "%s/new.db", fx->dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    assert_int_equal(fy_store_sqlite_restore(url, fx->file, &info, &mark, &err),
                     0);
    assert_int_equal(one(path, "SELECT count(*) FROM t"), 9);
    assert_int_equal(mark.v, 10);
    assert_int_equal(mark.epoch, 1);
    assert_int_equal(one(path, "SELECT journal_mode = 'wal' FROM"
                               " pragma_journal_mode"),
                     1);
}

/* Without a restore: each call moves the mark and the epoch on. */
static void test_expire_cursors(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    struct fy_read_mark a = {0}, b = {0};
    struct fy_read_req req = {.after = {3, 0}};
    int n;

    write_rows(fx->path, 1, 3);
    assert_int_equal(pull(fx, &req, &n, &a), 0);
    assert_int_equal(fy_store_open(fx->url, &st, &err), 0);
    assert_int_equal(fy_store_expire_cursors(st, NULL, &a, &err), 0);
    assert_int_equal(fy_store_expire_cursors(st, NULL, &b, &err), 0);
    fy_store_close(st);
    assert_int_equal(a.v, 4);
    assert_int_equal(b.v, 5);
    assert_int_equal(b.epoch, a.epoch + 1);
    assert_int_equal(pull(fx, &req, &n, &a), FERRY_EEXPIRED);
    req.after = (struct fy_read_pos){b.v, INT64_MAX};
    assert_int_equal(pull(fx, &req, &n, &a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_while_writing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_expires_cursors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_open_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_bad_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_new_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expire_cursors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
