/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the streaming reader (lib/import/reader.h): finding the
 * collection, records as trees with lines, paths, duplicate members,
 * malformed JSON with line and column, chunk boundaries and the record
 * limit; and for the import (lib/import/import.h) into an SQLite file:
 * counts, only changed rows written, vanished children, --delete-missing,
 * --dry-run, --skip-bad, duplicate keys, --create's types, the backup.
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

#include "core/contract.h"
#include "import/import.h"
#include "import/reader.h"
#include "fy.h"

/* What the callbacks saw, one line per record or skipped member. */
struct seen {
    struct fy_buf out;
    const struct fy_reader_opts *o;
    int stop_at; /* record index whose callback fails, or -1 */
};

static int on_record(void *ctx, const struct fy_jrec *rec,
                     struct ferry_err *err)
{
    struct seen *s = ctx;

    if ((int)rec->index == s->stop_at)
        return fy_err_set(err, FERRY_EINVAL, "stopped");
    fy_jv_path(&s->out, s->o, rec, NULL);
    fy_buf_addf(&s->out, " @%lu ", rec->line);
    fy_jv_dump(&s->out, rec->value);
    if (rec->dup) {
        fy_buf_adds(&s->out, " dup ");
        fy_jv_path(&s->out, s->o, rec, rec->dup);
        fy_buf_addf(&s->out, " @%lu", rec->dup->line);
    }
    fy_buf_addc(&s->out, '\n');
    return 0;
}

static void on_skip(void *ctx, const char *path, unsigned long line)
{
    struct seen *s = ctx;

    fy_buf_addf(&s->out, "skip %s @%lu\n", path, line);
}

static char *write_tmp(const char *text, size_t n)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/test_import_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(fy_write_all(fd, text, n), 0);
    close(fd);
    return path;
}

/* Reads text with the collection at path; returns the rc, out filled. */
static int read_doc(const char *text, char *const *path, size_t npath,
                    bool object, struct seen *s, struct ferry_err *err)
{
    struct fy_reader_opts o = {
        .path = path,
        .npath = npath,
        .object_collection = object,
        .record = on_record,
        .skipped = on_skip,
        .ctx = s,
    };
    char *file = write_tmp(text, strlen(text));
    int rc;

    fy_buf_init(&s->out, 0);
    s->o = &o;
    rc = fy_reader_read_file(file, &o, err);
    unlink(file);
    return rc;
}

static void expect(const char *text, char *const *path, size_t npath,
                   bool object, const char *want)
{
    struct seen s = {.stop_at = -1};
    struct ferry_err err = {0};
    int rc = read_doc(text, path, npath, object, &s, &err);

    if (rc != 0)
        fail_msg("read failed (%d): %s", rc, err.msg);
    assert_string_equal(s.out.data, want);
    fy_buf_release(&s.out);
}

static void expect_bad(const char *text, char *const *path, size_t npath,
                       bool object, int code, const char *needle)
{
    struct seen s = {.stop_at = -1};
    struct ferry_err err = {0};
    int rc = read_doc(text, path, npath, object, &s, &err);

    fy_buf_release(&s.out);
    if (rc != code)
        fail_msg("expected %d, got %d (%s) for %s", code, rc, err.msg, text);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_object_collection(void **state)
{
    (void)state;
    expect("{\n"
           " \"a@b.com\": {\"n\": 1, \"s\": \"x\\\"y\\u00e9\",\n"
           "   \"o\": {\"k\": [true, false, null, -0.5e3]}},\n"
           " \"c\": {}\n"
           "}\n",
           NULL, 0, true,
           "$[\"a@b.com\"] @2 {\"n\":1,\"s\":\"x\\\"y\xc3\xa9\","
           "\"o\":{\"k\":[true,false,null,-0.5e3]}}\n"
           "$[\"c\"] @4 {}\n");
    /* Scalars and arrays are records too: the import judges them. */
    expect("{\"a\": 5, \"b\": [1]}", NULL, 0, true,
           "$[\"a\"] @1 5\n$[\"b\"] @1 [1]\n");
    expect("{}", NULL, 0, true, "");
}

static void test_array_collection(void **state)
{
    char *path[] = {"data", "odd name"};

    (void)state;
    expect("[{\"id\": 1},\n{\"id\": 2}, 3]", NULL, 0, false,
           "$[0] @1 {\"id\":1}\n$[1] @2 {\"id\":2}\n$[2] @2 3\n");
    /* Members off the path are skipped and named, whatever they hold. */
    expect("{\"meta\": {\"x\": [1, {\"y\": 2}]},\n"
           " \"data\": {\"v\": 1, \"odd name\": [{\"k\": \"a\"}],"
           " \"after\": null}, \"z\": 0}",
           path, 2, false,
           "skip $.meta @1\n"
           "skip $.data.v @2\n"
           "$.data[\"odd name\"][0] @2 {\"k\":\"a\"}\n"
           "skip $.data.after @2\n"
           "skip $.z @2\n");
}

static void test_paths_and_dups(void **state)
{
    char *path[] = {"users"};

    (void)state;
    expect("{\"users\": {\"x@y\": {\"a\": {\"b-c\": [0, {\"d\": 1,\n"
           "\"d\": 2}]}}}}",
           path, 1, true,
           "$.users[\"x@y\"] @1 {\"a\":{\"b-c\":[0,{\"d\":1}]}}"
           " dup $.users[\"x@y\"].a[\"b-c\"][1].d @2\n");
}

static void test_errors(void **state)
{
    char *path[] = {"users"};
    struct seen s = {.stop_at = 1};
    struct ferry_err err = {0};

    (void)state;
    expect_bad("{\"a\": {\"x\": 1,}}", NULL, 0, true, FERRY_EPARSE, ":1:");
    expect_bad("{\"a\": {\"x\": 1}\n,\n  \"b\": tru}", NULL, 0, true,
               FERRY_EPARSE, ":3:");
    expect_bad("{\"a\": {}} x", NULL, 0, true, FERRY_EPARSE, "malformed JSON");
    expect_bad("{\"a\": {}", NULL, 0, true, FERRY_EPARSE, "malformed JSON");
    expect_bad("", NULL, 0, true, FERRY_EPARSE, "malformed JSON");
    expect_bad("{\"a\": \"\xff\"}", NULL, 0, true, FERRY_EPARSE,
               "malformed JSON");
    expect_bad("[]", NULL, 0, true, FERRY_EPARSE,
               "$: expected an object, got an array");
    expect_bad("{}", NULL, 0, false, FERRY_EPARSE,
               "$: expected an array, got an object");
    expect_bad("{\"other\": []}", path, 1, true, FERRY_EPARSE,
               "the collection $.users (an object) is not in the document");
    expect_bad("{\"users\": 5}", path, 1, true, FERRY_EPARSE, "got a scalar");
    expect_bad("[1]", path, 1, true, FERRY_EPARSE,
               "$: expected an object, got an array");
    expect_bad("{\"users\": {}, \"users\": {}}", path, 1, true, FERRY_EPARSE,
               "the collection appears twice");
    /* A callback's failure stops the reading and is returned. */
    assert_int_equal(read_doc("[1, 2, 3]", NULL, 0, false, &s, &err),
                     FERRY_EINVAL);
    assert_string_equal(err.msg, "stopped");
    assert_string_equal(s.out.data, "$[0] @1 1\n");
    fy_buf_release(&s.out);
    assert_int_equal(fy_reader_read_file("/nonexistent/x.json", s.o, &err),
                     FERRY_EIO);
}

/* Records across 64 KiB chunks keep their lines; the limit holds. */
static void test_big(void **state)
{
    struct fy_buf doc = FY_BUF_INIT(0), want = FY_BUF_INIT(0);
    struct seen s = {.stop_at = -1};
    struct ferry_err err = {0};
    struct fy_reader_opts o = {
        .record = on_record,
        .ctx = &s,
        .max_record = 1 << 20,
    };
    char *file;

    (void)state;
    fy_buf_addc(&doc, '[');
    for (int i = 0; i < 3000; i++) {
        fy_buf_addf(&doc, "%s\n{\"i\": %d, \"s\": \"%0*d\"}", i ? "," : "", i,
                    1 + i % 97, i);
        fy_buf_addf(&want, "$[%d] @%d {\"i\":%d,\"s\":\"%0*d\"}\n", i, i + 2, i,
                    1 + i % 97, i);
    }
    fy_buf_adds(&doc, "]");
    assert_true(doc.len > (size_t)3 * 65536);
    file = write_tmp(doc.data, doc.len);
    fy_buf_init(&s.out, 0);
    s.o = &o;
    assert_int_equal(fy_reader_read_file(file, &o, &err), 0);
    assert_string_equal(s.out.data, want.data);
    fy_buf_release(&s.out);
    unlink(file);

    /* One record over the limit. */
    fy_buf_reset(&doc);
    fy_buf_adds(&doc, "[1, [");
    for (int i = 0; i < 100000; i++)
        fy_buf_adds(&doc, "\"abcdefgh\",");
    fy_buf_adds(&doc, "0]]");
    file = write_tmp(doc.data, doc.len);
    fy_buf_init(&s.out, 0);
    assert_int_equal(fy_reader_read_file(file, &o, &err), FERRY_ETOOBIG);
    assert_non_null(strstr(err.msg, "larger than the limit (1 MiB)"));
    fy_buf_release(&s.out);
    unlink(file);
    fy_buf_release(&doc);
    fy_buf_release(&want);
}

static void test_strings(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_json_add_string(&b, "a\"\\\n\t\r\x01\0z", 9);
    assert_string_equal(b.data, "\"a\\\"\\\\\\n\\t\\r\\u0001\\u0000z\"");
    fy_buf_reset(&b);
    fy_jsonpath_add(&b, "font_size", 9);
    fy_jsonpath_add(&b, "a@b.com", 7);
    fy_jsonpath_add(&b, "1x", 2);
    fy_jsonpath_add(&b, "", 0);
    assert_string_equal(b.data, ".font_size[\"a@b.com\"][\"1x\"][\"\"]");
    fy_buf_release(&b);
}

/* ---- the import ---------------------------------------------------------- */

static const char users_map[] =
    "{\"collection\": {\"path\": \"$.users\", \"type\": \"object\"},"
    " \"table\": \"users\", \"key\": \"email\","
    " \"columns\": {\"name\": \"text\", \"age\": \"integer\","
    "   \"joined\": {\"type\": \"date\", \"required\": true},"
    "   \"score\": \"numeric\", \"seen\": \"timestamptz\"},"
    " \"rest\": \"extra\","
    " \"children\": ["
    "  {\"field\": \"settings\", \"kind\": \"object\", \"table\": \"settings\","
    "   \"parent_key\": [\"user_email\"],"
    "   \"columns\": {\"theme\": \"text\", \"big\": \"boolean\"}},"
    "  {\"field\": \"prefs\", \"kind\": \"map\", \"table\": \"prefs\","
    "   \"parent_key\": [\"user_email\"], \"key_column\": \"name\","
    "   \"value_column\": \"value\", \"value_type\": \"jsonb\"},"
    "  {\"field\": \"books\", \"kind\": \"array\", \"table\": \"books\","
    "   \"parent_key\": [\"user_email\"], \"index_column\": \"pos\","
    "   \"columns\": {\"title\": \"text\"},"
    "   \"children\": [{\"field\": \"tags\", \"kind\": \"array\","
    "     \"table\": \"book_tags\", \"parent_key\": [\"user_email\", \"book\"],"
    "     \"index_column\": \"i\", \"value_column\": \"tag\","
    "     \"value_type\": \"text\"}]}]}";

static const char doc1[] =
    "{\"meta\": 1, \"users\": {"
    " \"a@x\": {\"name\": \"Ana\", \"age\": 30, \"joined\": \"2025-01-02\","
    "   \"score\": 1.50, \"hobby\": [\"chess\"],"
    "   \"seen\": \"2025-01-02T03:04:05Z\","
    "   \"settings\": {\"theme\": \"dark\", \"big\": true},"
    "   \"prefs\": {\"sort\": {\"by\": \"title\"}, \"n\": null},"
    "   \"books\": [{\"title\": \"Dune\", \"tags\": [\"sf\", \"classic\"]},"
    "             {\"title\": \"Emma\", \"tags\": []}]},"
    " \"b@x\": {\"joined\": \"2025-02-03\", \"settings\": null}}}";

/* a@x loses a preference, a book and a tag; b@x is gone; c@x is new. */
static const char doc2[] =
    "{\"users\": {"
    " \"a@x\": {\"name\": \"Ana\", \"age\": 31, \"joined\": \"2025-01-02\","
    "   \"score\": 1.50, \"hobby\": [\"chess\"],"
    "   \"settings\": {\"theme\": \"dark\", \"big\": true},"
    "   \"prefs\": {\"sort\": {\"by\": \"title\"}},"
    "   \"books\": [{\"title\": \"Dune\", \"tags\": [\"sf\"]}]},"
    " \"c@x\": {\"joined\": \"2025-03-04\"}}}";

struct imp_case {
    char dir[64];
    char file[96];
    sqlite3 *db;
    struct fy_mapping *m;
    struct fy_buf msgs;
};

static void on_msg(void *ctx, enum fy_import_msg kind, const char *text)
{
    struct imp_case *c = ctx;

    fy_buf_addf(&c->msgs, "%d %s\n", (int)kind, text);
}

static void imp_setup(struct imp_case *c)
{
    struct ferry_err err = {0};

    snprintf(c->dir, sizeof(c->dir), "/tmp/test_import_XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->file, sizeof(c->file), "%s/doc.json", c->dir);
    assert_int_equal(sqlite3_open(":memory:", &c->db), SQLITE_OK);
    assert_int_equal(
        fy_mapping_parse(users_map, strlen(users_map), &c->m, &err), 0);
    fy_buf_init(&c->msgs, 0);
}

static void imp_teardown(struct imp_case *c)
{
    char cmd[128];

    sqlite3_close(c->db);
    fy_mapping_free(c->m);
    fy_buf_release(&c->msgs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
    assert_int_equal(system(cmd), 0);
}

/* Imports text; the counts as "table c/u/s/d ..." in out. */
static int imp_run(struct imp_case *c, const char *text,
                   const struct fy_import_opts *extra, char *out, size_t n,
                   struct ferry_err *err)
{
    struct fy_import_opts o = extra ? *extra : (struct fy_import_opts){0};
    struct fy_import_result r;
    FILE *f = fopen(c->file, "w");
    size_t used = 0;
    int rc;

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    o.m = c->m;
    o.file = c->file;
    o.msg = on_msg;
    o.ctx = c;
    rc = fy_import_sqlite(c->db, &o, &r, err);
    out[0] = '\0';
    for (size_t i = 0; rc == 0 && i < c->m->ntables; i++) {
        const struct fy_import_counts *k = &r.tables[i];
        int w = snprintf(
            out + used, n - used, "%s%s %llu/%llu/%llu/%llu", i ? " " : "",
            c->m->tables[i]->table, (unsigned long long)k->created,
            (unsigned long long)k->updated, (unsigned long long)k->unchanged,
            (unsigned long long)k->deleted);

        assert_true(w > 0 && (size_t)w < n - used);
        used += (size_t)w;
    }
    fy_import_result_release(&r);
    return rc;
}

static char *query(sqlite3 *db, const char *sql)
{
    static char out[1024];
    sqlite3_stmt *st;
    size_t used = 0;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);

            used +=
                (size_t)snprintf(out + used, sizeof(out) - used, "%s%s",
                                 i ? "|" : (used ? ";" : ""), v ? v : "NULL");
        }
    }
    sqlite3_finalize(st);
    return out;
}

static void test_import_sqlite(void **state)
{
    struct fy_import_opts create = {.create = true};
    struct fy_import_opts del = {.delete_missing = true};
    struct fy_import_opts dry = {.delete_missing = true, .dry_run = true};
    struct ferry_err err = {0};
    struct imp_case c;
    char out[512];

    (void)state;
    imp_setup(&c);
    /* Tables missing: refused without --create. */
    assert_int_equal(imp_run(&c, doc1, NULL, out, sizeof(out), &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "table 'users' does not exist"));
    assert_int_equal(imp_run(&c, doc1, &create, out, sizeof(out), &err), 0);
    assert_string_equal(out, "users 2/0/0/0 settings 1/0/0/0 prefs 2/0/0/0"
                             " books 2/0/0/0 book_tags 2/0/0/0");
    assert_string_equal(query(c.db, "SELECT * FROM users ORDER BY 1"),
                        "a@x|Ana|30|2025-01-02|1.5|2025-01-02T03:04:05Z|"
                        "{\"hobby\":[\"chess\"]};"
                        "b@x|NULL|NULL|2025-02-03|NULL|NULL|NULL");
    assert_string_equal(query(c.db, "SELECT * FROM prefs ORDER BY 2"),
                        "a@x|n|NULL;a@x|sort|{\"by\":\"title\"}");
    assert_string_equal(query(c.db, "SELECT * FROM book_tags ORDER BY 3"),
                        "a@x|0|0|sf;a@x|0|1|classic");
    assert_non_null(strstr(c.msgs.data, "$.meta is outside the collection"));
    /* b@x has no name (written back null) and no books (written []). */
    assert_non_null(strstr(c.msgs.data,
                           "round trip: $.users.*.name is absent in 1 record;"
                           " the export writes null\n"));
    assert_non_null(strstr(c.msgs.data,
                           "round trip: $.users.*.books is absent in 1"
                           " record; the export writes []\n"));
    assert_null(strstr(c.msgs.data, ".settings is"));
    assert_non_null(strstr(c.msgs.data, "the file's copy is"));

    /* Again: nothing changes. */
    assert_int_equal(imp_run(&c, doc1, NULL, out, sizeof(out), &err), 0);
    assert_string_equal(out, "users 0/0/2/0 settings 0/0/1/0 prefs 0/0/2/0"
                             " books 0/0/2/0 book_tags 0/0/2/0");

    /*
     * jsonb and timestamptz as PostgreSQL writes them (a pulled row) are
     * the same values.
     */
    assert_int_equal(
        sqlite3_exec(c.db,
                     "UPDATE prefs SET value = '{\"by\": \"title\"}'"
                     " WHERE name = 'sort';"
                     " UPDATE users SET extra = '{\"hobby\": [\"chess\"]}',"
                     " seen = '2025-01-02 03:04:05+00'"
                     " WHERE email = 'a@x'",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(imp_run(&c, doc1, NULL, out, sizeof(out), &err), 0);
    assert_string_equal(out, "users 0/0/2/0 settings 0/0/1/0 prefs 0/0/2/0"
                             " books 0/0/2/0 book_tags 0/0/2/0");

    /* The dry run of doc2 predicts; the import does it. */
    assert_int_equal(imp_run(&c, doc2, &dry, out, sizeof(out), &err), 0);
    assert_string_equal(out, "users 1/1/0/1 settings 0/0/1/0 prefs 0/0/1/1"
                             " books 0/0/1/1 book_tags 0/0/1/1");
    assert_string_equal(query(c.db, "SELECT count(*) FROM books"), "2");
    assert_int_equal(imp_run(&c, doc2, &del, out, sizeof(out), &err), 0);
    assert_string_equal(out, "users 1/1/0/1 settings 0/0/1/0 prefs 0/0/1/1"
                             " books 0/0/1/1 book_tags 0/0/1/1");
    assert_string_equal(query(c.db, "SELECT email, age FROM users ORDER BY 1"),
                        "a@x|31;c@x|NULL");
    assert_string_equal(query(c.db, "SELECT * FROM book_tags"), "a@x|0|0|sf");
    imp_teardown(&c);
}

static void test_import_bad(void **state)
{
    struct fy_import_opts create = {.create = true};
    struct fy_import_opts skip = {.skip_bad = true};
    struct ferry_err err = {0};
    struct imp_case c;
    char out[512];
    static const struct {
        const char *doc, *msg;
    } bad[] = {
        {"{\"users\": {\"a\": {\"joined\": \"2025-02-30\"}}}",
         ":1: $.users[\"a\"].joined: expected a date YYYY-MM-DD, got"
         " \"2025-02-30\""},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\",\n"
         "\"age\": 3000000000}}}",
         ":2: $.users[\"a\"].age: expected 32-bit integer, got 3000000000"},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\", \"age\": 1.5}}}",
         ".age: expected integer, got 1.5"},
        {"{\"users\": {\"a\": {}}}",
         "$.users[\"a\"].joined: required field is absent"},
        {"{\"users\": {\"a\": {\"joined\": null}}}", "required, got null"},
        {"{\"users\": {\"a\": 5}}", "expected an object, got 5"},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\","
         " \"books\": [{\"title\": \"x\", \"tags\": [1]}]}}}",
         "$.users[\"a\"].books[0].tags[0]: expected string, got 1"},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\","
         " \"settings\": {\"big\": \"yes\", \"font\": 1}}}}",
         ".settings.big: expected true or false, got \"yes\""},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\","
         " \"settings\": {\"font\": 1}}}}",
         ".settings.font: field not in the mapping"},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\"},"
         " \"a\": {\"joined\": \"2025-01-01\"}}}",
         "$.users[\"a\"]: duplicate key"},
        {"{\"users\": {\"a\": {\"joined\": \"2025-01-01\","
         " \"name\": \"x\", \"name\": \"y\"}}}",
         "$.users[\"a\"].name: duplicate member name"},
    };

    (void)state;
    imp_setup(&c);
    assert_int_equal(
        imp_run(&c, "{\"users\": {}}", &create, out, sizeof(out), &err), 0);
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(imp_run(&c, bad[i].doc, NULL, out, sizeof(out), &err),
                         FERRY_EPARSE);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
        assert_string_equal(query(c.db, "SELECT count(*) FROM users"), "0");
    }
    /* --skip-bad: the good one goes in, the bad ones are listed. */
    fy_buf_reset(&c.msgs);
    assert_int_equal(
        imp_run(
            &c,
            "{\"users\": {\"a\": 1, \"b\": {\"joined\": \"2025-01-01\"},"
            " \"c\": {\"joined\": 2}, \"b\": {\"joined\": \"2025-01-01\"}}}",
            &skip, out, sizeof(out), &err),
        0);
    assert_string_equal(query(c.db, "SELECT email FROM users"), "b");
    assert_non_null(strstr(c.msgs.data, "1 "));
    assert_non_null(strstr(c.msgs.data, "$.users[\"b\"]: duplicate key"));
    assert_non_null(strstr(c.msgs.data, "$.users[\"c\"].joined: expected a"));
    imp_teardown(&c);
}

static void test_import_types_and_backup(void **state)
{
    char dir[] = "/tmp/test_import_XXXXXX", file[64], b0[80], b1[80];
    char named[80];
    struct ferry_err err = {0};
    char *made = NULL;
    FILE *f;

    (void)state;
    /* --create's declared types read back as the mapping's. */
    for (int t = 0; t < FY_T__COUNT; t++) {
        enum fy_type want = t == FY_T_INTEGER ? FY_T_BIGINT : (enum fy_type)t;

        assert_int_equal(fy_type_from_sqlite(fy_import_sqlite_type(t)), want);
    }
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/u.json", dir);
    snprintf(b0, sizeof(b0), "%s.backup", file);
    snprintf(b1, sizeof(b1), "%s.backup.1", file);
    f = fopen(file, "w");
    fputs("{}", f);
    fclose(f);
    assert_int_equal(fy_import_backup(file, NULL, &made, &err), 0);
    assert_string_equal(made, b0);
    fy_free(made);
    /* An equal copy is kept; another content goes next to it. */
    assert_int_equal(fy_import_backup(file, NULL, &made, &err), 0);
    assert_string_equal(made, b0);
    fy_free(made);
    f = fopen(file, "w");
    fputs("{\"x\": {}}", f);
    fclose(f);
    assert_int_equal(fy_import_backup(file, NULL, &made, &err), 0);
    assert_string_equal(made, b1);
    fy_free(made);
    /* --backup PATH: the same rule under its name. */
    snprintf(named, sizeof(named), "%s/copy.json", dir);
    assert_int_equal(fy_import_backup(file, named, &made, &err), 0);
    assert_string_equal(made, named);
    fy_free(made);
    assert_int_equal(access(named, F_OK), 0);
    unlink(named);
    f = fopen(b0, "r");
    assert_int_equal(fgetc(f), '{');
    assert_int_equal(fgetc(f), '}');
    fclose(f);
    unlink(file);
    unlink(b0);
    unlink(b1);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_collection),
        cmocka_unit_test(test_array_collection),
        cmocka_unit_test(test_paths_and_dups),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_import_sqlite),
        cmocka_unit_test(test_import_bad),
        cmocka_unit_test(test_import_types_and_backup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
