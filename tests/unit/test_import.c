/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the streaming reader (lib/import/reader.h): finding the
 * collection, records as trees with lines, paths, duplicate members,
 * malformed JSON with line and column, chunk boundaries and the record
 * limit.
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
    assert_true(doc.len > 3 * 65536);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_collection),
        cmocka_unit_test(test_array_collection),
        cmocka_unit_test(test_paths_and_dups),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big),
        cmocka_unit_test(test_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
