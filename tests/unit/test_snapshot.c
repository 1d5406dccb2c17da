/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for what stands between ferryd and an uploaded SQLite file:
 * the multipart/form-data reader (lib/http/multipart.h), the header check
 * and the hardened open (lib/server/snapshot.h), on real files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "http/multipart.h"
#include "server/snapshot.h"
#include "fy.h"

/* ---- multipart ----------------------------------------------------------- */

static int find_db(const char *body, size_t *off, size_t *n,
                   struct ferry_err *err)
{
    return fy_multipart_find(body, strlen(body), "XyZ", "db", off, n, err);
}

static void test_boundary(void **state)
{
    char b[FY_MULTIPART_BOUNDARY_MAX + 1];
    struct ferry_err err = {0};

    (void)state;
    assert_int_equal(
        fy_multipart_boundary("multipart/form-data; boundary=abc123", b, &err),
        0);
    assert_string_equal(b, "abc123");
    assert_int_equal(fy_multipart_boundary(
                         "Multipart/Form-Data;boundary=\"a b:c\"", b, &err),
                     0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(fy_multipart_boundary("multipart/form-data; charset=x;"
                                           " boundary=q",
                                           b, &err),
                     0);
    assert_string_equal(b, "q");
    /* Not a form, no boundary, a bad or repeated one. */
    assert_int_equal(fy_multipart_boundary("application/octet-stream", b, &err),
                     FERRY_EPARSE);
    assert_int_equal(fy_multipart_boundary(NULL, b, &err), FERRY_EPARSE);
    assert_int_equal(fy_multipart_boundary("multipart/form-data", b, &err),
                     FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "no boundary"));
    assert_int_equal(
        fy_multipart_boundary("multipart/form-data; boundary=", b, &err),
        FERRY_EPARSE);
    assert_int_equal(fy_multipart_boundary(
                         "multipart/form-data; boundary=a;boundary=b", b, &err),
                     FERRY_EPARSE);
    assert_int_equal(
        fy_multipart_boundary("multipart/form-data; boundary=\"ab", b, &err),
        FERRY_EPARSE);
    assert_int_equal(
        fy_multipart_boundary("multipart/form-data; boundary=a{b", b, &err),
        FERRY_EPARSE);
    assert_int_equal(fy_multipart_boundary(
                         "multipart/form-data; boundary=aaaaaaaaaaaaaaaaaa"
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "aaaaa",
                         b, &err),
                     FERRY_EPARSE);
}

/* What Python requests sends for files={"db": (name, f, type)}. */
#define REQUESTS_BODY                                                          \
    "--XyZ\r\nContent-Disposition: form-data; name=\"db\";"                    \
    " filename=\"puantaj_Ankara.db\"\r\nContent-Type:"                         \
    " application/octet-stream\r\n\r\nSQLite\r\nbytes\r\n--XyZ--\r\n"

static void test_find(void **state)
{
    struct ferry_err err = {0};
    const char *body = REQUESTS_BODY;
    const char *two = "--XyZ\r\nContent-Disposition: form-data; name=\"note\""
                      "\r\n\r\nhi\r\n--XyZ\r\ncontent-disposition: form-data;"
                      " filename=\"x\"; name=db\r\n\r\n\r\n--XyZ--";
    size_t off = 0, n = 0;

    (void)state;
    assert_int_equal(find_db(body, &off, &n, &err), 0);
    assert_int_equal(n, 13);
    assert_memory_equal(body + off, "SQLite\r\nbytes", 13);
    /* Another field first; header names in any case; an empty file. */
    assert_int_equal(find_db(two, &off, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(two[off], '\r');
}

/* The one part that carries a file, whatever its name (NAS audio uploads). */
static void test_find_file(void **state)
{
    struct ferry_err err = {0};
    const char *body = "--XyZ\r\nContent-Disposition: form-data;"
                       " name=\"video_id\"\r\n\r\nabc\r\n--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"audio\";"
                       " filename=\"a.mp3\"\r\n\r\nID3xx\r\n--XyZ--\r\n";
    const char *none = "--XyZ\r\nContent-Disposition: form-data;"
                       " name=\"video_id\"\r\n\r\nabc\r\n--XyZ--\r\n";
    const char *twice = "--XyZ\r\nContent-Disposition: form-data; name=a;"
                        " filename=x\r\n\r\n1\r\n--XyZ\r\n"
                        "Content-Disposition: form-data; name=b;"
                        " filename=y\r\n\r\n2\r\n--XyZ--\r\n";
    size_t off = 0, n = 0;

    (void)state;
    assert_int_equal(
        fy_multipart_find(body, strlen(body), "XyZ", NULL, &off, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(body + off, "ID3xx", 5);
    assert_int_equal(fy_multipart_find(body, strlen(body), "XyZ", "video_id",
                                       &off, &n, &err),
                     0);
    assert_memory_equal(body + off, "abc", 3);
    assert_int_equal(
        fy_multipart_find(none, strlen(none), "XyZ", NULL, &off, &n, &err),
        FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "no file"));
    assert_int_equal(
        fy_multipart_find(twice, strlen(twice), "XyZ", NULL, &off, &n, &err),
        FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "a file appears twice"));
}

static void expect_bad(const char *body, const char *why)
{
    struct ferry_err err = {0};
    size_t off, n;

    assert_int_equal(find_db(body, &off, &n, &err), FERRY_EPARSE);
    if (!strstr(err.msg, why))
        fail_msg("'%s' does not say '%s'", err.msg, why);
}

static void test_find_strict(void **state)
{
    (void)state;
    expect_bad("", "does not start");
    expect_bad("preamble\r\n--XyZ\r\n", "does not start");
    /* Truncated: no closing delimiter after the part. */
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"db\"\r\n\r\n"
               "SQLite format 3",
               "truncated");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"db\"\r\n",
               "headers do not end");
    expect_bad("--XyZ\r\nContent-Type: x\r\n\r\nv\r\n--XyZ--",
               "no Content-Disposition");
    expect_bad("--XyZ\r\nContent-Disposition: attachment; name=\"db\"\r\n\r\n"
               "v\r\n--XyZ--",
               "not form-data");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\n"
               "v\r\n--XyZ--",
               "not form-data with a name");
    expect_bad("--XyZ\r\nBroken header\r\n\r\nv\r\n--XyZ--", "no ':'");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"db\"\r\n\r\n"
               "a\r\n--XyZ\r\nContent-Disposition: form-data; name=\"db\""
               "\r\n\r\nb\r\n--XyZ--",
               "twice");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"dbx\"\r\n\r\n"
               "a\r\n--XyZ--",
               "no field 'db'");
    expect_bad("--XyZ--", "no field 'db'");
    expect_bad("--XyZjunk", "not followed by CRLF");
}

/* ---- files --------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_snapshot.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/f.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void make_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    unlink(path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    p = malloc((size_t)len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static int check(const unsigned char *p, size_t n, uint64_t size,
                 struct ferry_err *err)
{
    return fy_snapshot_check_header(p, n, size, err);
}

static void test_header(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    unsigned char *p, save;
    size_t n;

    make_db(fx->path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                      " INSERT INTO t VALUES (1, 'a');");
    p = slurp(fx->path, &n);
    assert_int_equal(check(p, n, n, &err), 0);
    /* Not SQLite. */
    assert_int_equal(check((const unsigned char *)"hello", 5, 5, &err),
                     FERRY_EPARSE);
    save = p[0];
    p[0] = 'X';
    assert_int_equal(check(p, n, n, &err), FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "not a SQLite database"));
    p[0] = save;
    /* Truncated: not whole pages, or fewer pages than declared. */
    assert_int_equal(check(p, n, n - 100, &err), FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "whole number"));
    assert_int_equal(check(p, n, n - 4096, &err), FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "declares"));
    /* A huge declared size: 2^31 pages in a small file. */
    p[28] = 0x80;
    assert_int_equal(check(p, n, n, &err), FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "declares 2147483"));
    p[28] = 0;
    /* More pages than declared (a padded, sparse-looking file). */
    assert_int_equal(check(p, n, n + 4096 * 1000, &err), FERRY_EPARSE);
    /* A page size SQLite cannot have; bad payload fractions. */
    save = p[16];
    p[16] = 0x03;
    assert_int_equal(check(p, n, n, &err), FERRY_EPARSE);
    p[16] = save;
    p[21] = 65;
    assert_int_equal(check(p, n, n, &err), FERRY_EPARSE);
    free(p);
}

static void expect_open(const char *path, int rc, const char *why)
{
    struct ferry_err err = {0};
    sqlite3 *db = NULL;

    if (fy_snapshot_open(path, &db, &err) != rc)
        fail_msg("open: %d %s", rc, err.msg);
    if (rc == 0)
        assert_non_null(db);
    else
        assert_null(db);
    if (why && !strstr(err.msg, why))
        fail_msg("'%s' does not say '%s'", err.msg, why);
    sqlite3_close(db);
}

/* The first value of a query on the hardened handle, or its error. */
static int run_on(const char *path, const char *sql, char *out, size_t len)
{
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = fy_snapshot_open(path, &db, &err);

    assert_int_equal(rc, 0);
    rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    snprintf(out, len, "%s",
             rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
                              : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

static void test_open(void **state)
{
    struct fx *fx = *state;
    unsigned char *p;
    char out[200];
    size_t n;

    make_db(fx->path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                      " INSERT INTO t VALUES (1, 'a');");
    expect_open(fx->path, 0, NULL);
    assert_int_equal(run_on(fx->path, "SELECT v FROM t", out, sizeof(out)),
                     SQLITE_ROW);
    assert_string_equal(out, "a");
    /* Only reading: no other pragma, no ATTACH, no writes. */
    assert_int_not_equal(
        run_on(fx->path, "PRAGMA journal_mode", out, sizeof(out)), SQLITE_ROW);
    assert_non_null(strstr(out, "not authorized"));
    assert_int_not_equal(
        run_on(fx->path, "ATTACH 'x.db' AS x", out, sizeof(out)), SQLITE_DONE);
    assert_int_not_equal(
        run_on(fx->path, "INSERT INTO t VALUES (2, 'b')", out, sizeof(out)),
        SQLITE_DONE);
    /* Not a database at all. */
    spit(fx->path, (const unsigned char *)"not a database, just text", 25);
    expect_open(fx->path, FERRY_EPARSE, NULL);
    /* Corrupt pages: the table's page overwritten. */
    make_db(fx->path, "PRAGMA page_size = 4096; CREATE TABLE t (id INTEGER"
                      " PRIMARY KEY, v TEXT); WITH RECURSIVE c(i) AS (SELECT 1"
                      " UNION ALL SELECT i + 1 FROM c WHERE i < 500) INSERT"
                      " INTO t SELECT i, hex(randomblob(50)) FROM c;");
    p = slurp(fx->path, &n);
    memset(p + 4096, 0xA5, 4096); /* page 2, the table's root */
    spit(fx->path, p, n);
    expect_open(fx->path, FERRY_EPARSE, "not a sound SQLite database");
    free(p);
}

/*
 * A view or a trigger in the file never runs: opening, checking and reading
 * the file's tables with them in the schema writes nothing anywhere.
 */
static void test_hostile_schema(void **state)
{
    struct fx *fx = *state;
    char out[200];

    make_db(fx->path,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
            " CREATE TABLE log (x TEXT); INSERT INTO t VALUES (1, 'a');"
            " CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log"
            " VALUES ('fired'); END;"
            " CREATE VIEW w AS SELECT load_extension('/tmp/nope') AS x;");
    expect_open(fx->path, 0, NULL);
    assert_int_equal(run_on(fx->path, "SELECT v FROM t", out, sizeof(out)),
                     SQLITE_ROW);
    assert_int_not_equal(run_on(fx->path, "SELECT * FROM w", out, sizeof(out)),
                         SQLITE_ROW);
    /* A double-quoted name that is no column is an error, not a string. */
    assert_int_not_equal(
        run_on(fx->path, "SELECT \"nope\" FROM t", out, sizeof(out)),
        SQLITE_ROW);
    assert_non_null(strstr(out, "no such column"));
    /* Reading fired nothing: the log is empty. */
    assert_int_equal(run_on(fx->path, "SELECT x FROM log", out, sizeof(out)),
                     SQLITE_DONE);
    /* And functions are refused, so a view could not call one anyway. */
    assert_int_not_equal(
        run_on(fx->path, "SELECT count(*) FROM t", out, sizeof(out)),
        SQLITE_ROW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_find_file),
        cmocka_unit_test(test_find_strict),
        cmocka_unit_test_setup_teardown(test_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_schema, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
