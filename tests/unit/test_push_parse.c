/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the push body's streaming parser (lib/server/push_parse.h):
 * values typed in one pass whatever the members' order, and everything the
 * DOM parser it replaced (jansson, duplicates rejected) refused as
 * malformed is still refused: duplicate names at any depth, \u0000, lone
 * surrogates, invalid UTF-8, integers past 64 bits, overflowing reals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/push.h"
#include "server/push_parse.h"
#include "fy.h"

static const char contract_json[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"t\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\"},"
    "{\"name\": \"name\", \"type\": \"text\"},"
    "{\"name\": \"score\", \"type\": \"double precision\"},"
    "{\"name\": \"doc\", \"type\": \"jsonb\"},"
    "{\"name\": \"ok\", \"type\": \"boolean\"},"
    "{\"name\": \"at\", \"type\": \"timestamptz\"},"
    "{\"name\": \"amount\", \"type\": \"numeric\"}],"
    "\"primary_key\": [\"id\"]}]}";

struct fx {
    struct fy_contract *c;
    struct fy_key key;
    struct fy_arena a;
    struct fy_validate v;
    struct fy_push_doc doc;
    struct ferry_err err;
};

static char device[] = "dev1";

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct ferry_err err = {0};

    if (!fx)
        return -1;
    *state = fx;
    if (fy_contract_parse(contract_json, strlen(contract_json), &fx->c, &err) <
        0)
        return -1;
    fx->key.device = device;
    fx->a = (struct fy_arena)FY_ARENA_INIT(0);
    fy_validate_init(&fx->v, fx->c, &fx->key, &fx->a, "seq");
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    fy_validate_release(&fx->v);
    fy_push_doc_release(&fx->doc);
    fy_arena_reset(&fx->a);
    fy_contract_free(fx->c);
    free(fx);
    return 0;
}

static int parse(struct fx *fx, const char *body)
{
    return fy_push_parse(body, strlen(body), &fx->v, &fx->doc, &fx->err);
}

/* body must fail with rc and status, the message containing what. */
static void expect_fail(const char *body, size_t len, int rc, int status,
                        const char *what)
{
    struct fx *fx = NULL;

    assert_int_equal(setup((void **)&fx), 0);
    assert_int_equal(fy_push_parse(body, len, &fx->v, &fx->doc, &fx->err), rc);
    /* The status ferryd answers with: the wire map's, from the code. */
    assert_int_equal(ferry_wire_status(ferry_wire_of_failure(rc, &fx->err)),
                     status);
    if (!strstr(fx->err.msg, what))
        fail_msg("'%s' not in '%s'", what, fx->err.msg);
    teardown((void **)&fx);
}

static void malformed(const char *body, const char *what)
{
    expect_fail(body, strlen(body), FERRY_EPARSE, 400, what);
}

#define HEAD "\"seq\": 1, \"op\": \"upsert\", \"hlc\": \"0000018f00000000\""

static void test_values(void **state)
{
    struct fx *fx = *state;
    const struct fy_val *x;

    /* The row first, the table last: members come in any order. */
    assert_int_equal(
        parse(fx, "{\"device\": \"dev1\", \"changes\": [{\"row\": {\"id\": 7,"
                  " \"name\": \"a\\\"b\", \"score\": 2, \"doc\": {\"k\": [1,"
                  " 2.5, null, true]}, \"ok\": true, \"at\":"
                  " \"2026-01-02T03:04:05Z\", \"amount\": \"1.50\"}, " HEAD
                  ", \"table\": \"t\", \"extra\": {\"x\": [1]}},"
                  " {\"seq\": 2, \"op\": \"delete\", \"hlc\":"
                  " \"0000018f00000001\", \"table\": \"t\", \"row\":"
                  " {\"id\": 8}}]}"),
        0);
    assert_int_equal(fx->v.nbad, 0);
    assert_int_equal(fx->doc.n, 2);
    x = fx->doc.chs[0].vals;
    assert_int_equal(fx->doc.chs[0].seq, 1);
    assert_false(fx->doc.chs[0].del);
    assert_int_equal(fx->doc.chs[0].hlc, 0x18f00000000ll);
    assert_int_equal(x[0].kind, FY_V_INT);
    assert_int_equal(x[0].i, 7);
    assert_int_equal(x[1].len, 3);
    assert_memory_equal(x[1].s, "a\"b", 3); /* decoded: a copy */
    assert_int_equal(x[2].kind, FY_V_REAL);
    assert_true(x[2].d == 2.0);
    assert_int_equal(x[3].len, strlen("{\"k\":[1,2.5,null,true]}"));
    assert_memory_equal(x[3].s, "{\"k\":[1,2.5,null,true]}", x[3].len);
    assert_int_equal(x[4].kind, FY_V_BOOL);
    assert_int_equal(x[4].i, 1);
    assert_int_equal(x[5].len, 20);
    assert_memory_equal(x[5].s, "2026-01-02T03:04:05Z", 20);
    assert_int_equal(x[6].kind, FY_V_TEXT);
    assert_string_equal(x[6].s, "1.50"); /* a C string: scanned as one */
    assert_true(fx->doc.chs[1].del);
    assert_int_equal(fx->doc.chs[1].vals[0].i, 8);
}

/* Escaped strings are decoded into a buffer yajl reuses: each is kept. */
static void test_escapes_kept(void **state)
{
    struct fx *fx = *state;
    const struct fy_val *x;

    assert_int_equal(parse(fx, "{\"changes\": [{" HEAD ", \"table\": \"t\","
                               " \"row\": {\"id\": 1, \"name\":"
                               " \"\\u00e7\\ud83d\\ude00\\n\", \"doc\":"
                               " \"q\\\\\"}}]}"),
                     0);
    assert_int_equal(fx->v.nbad, 0);
    x = fx->doc.chs[0].vals;
    assert_int_equal(x[1].len, 7);
    assert_memory_equal(x[1].s, "\xc3\xa7\xf0\x9f\x98\x80\n", 7);
    assert_int_equal(x[3].len, 5);
    assert_memory_equal(x[3].s, "\"q\\\\\"", 5); /* jsonb text of "q\" */
}

static void test_malformed(void **state)
{
    (void)state;
    malformed("", "line 1");
    malformed("{\"changes\": [", "line 1");
    /* The text before the error is quoted, from a character's start. */
    malformed(
        "{\"x\": \"\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7"
        "\xc3\xa7\xc3\xa7\xc3\xa7zz\x1b\"}",
        "near "
        "'\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7\xc3"
        "\xa7zz'");
    malformed("{\"changes\": []} x", "line 1");
    malformed("{\"changes\": [],\n\"changes\": []}", "line 2");
    malformed("{\"changes\": [{" HEAD ", \"seq\": 2}]}", "duplicate");
    malformed("{\"changes\": [{" HEAD ", \"table\": \"t\", \"row\":"
              " {\"id\": 1, \"id\": 1}}]}",
              "duplicate");
    malformed("{\"x\": {\"a\": [{\"b\": 1, \"b\": 2}]}, \"changes\": []}",
              "duplicate");
    malformed("{\"changes\": [{" HEAD ", \"table\": \"t\", \"row\": {\"id\":"
              " 1, \"doc\": {\"a\": 1, \"a\": 1}}}]}",
              "duplicate");
    malformed("{\"changes\": [], \"x\": \"a\\u0000b\"}", "\\u0000");
    malformed("{\"changes\": [], \"a\\u0000\": 1}", "\\u0000");
    malformed("{\"changes\": [], \"x\": \"\\ud83d\"}", "Unicode");
    malformed("{\"changes\": [], \"x\": \"\\ud83dx\\ude00\"}", "Unicode");
    malformed("{\"changes\": [], \"x\": \"\\ude00\"}", "Unicode");
    malformed("{\"changes\": [], \"x\": \"\xc0\x80\"}", "UTF-8");
    malformed("{\"changes\": [], \"x\": \"\xed\xa0\x80\"}", "UTF-8");
    malformed("{\"changes\": [], \"x\": \"\xf5\x80\x80\x80\"}", "UTF-8");
    malformed("{\"changes\": [], \"x\": 9223372036854775808}", "integer");
    malformed("{\"changes\": [], \"x\": -1e400}", "overflow");
    malformed("{\"changes\": [], \"x\": 01}", "line 1");
    malformed("{\"changes\":\v[]}", "whitespace");
    malformed("{\"changes\": []} \"", "garbage");
    malformed("{\"changes\":\f[]}", "whitespace");
    malformed("[{\"changes\": []}]", "\"changes\" array");
    malformed("1", "");
    malformed("{\"changes\": {}}", "\"changes\" array");
    malformed("{\"device\": \"dev1\"}", "\"changes\" array");
}

/* A raw NUL byte in a string is refused like \u0000 (yajl's lexer). */
static void test_raw_nul(void **state)
{
    static const char body[] = "{\"changes\": [], \"x\": \"a\0b\"}";
    static const char key[] = "{\"changes\": [], \"a\0b\": 1}";

    (void)state;
    expect_fail(body, sizeof(body) - 1, FERRY_EPARSE, 400, "line 1");
    expect_fail(key, sizeof(key) - 1, FERRY_EPARSE, 400, "line 1");
}

static void test_escaped_backslash_is_not_an_escape(void **state)
{
    struct fx *fx = *state;

    /* \\u0000 is a backslash and the text u0000, not a NUL. */
    assert_int_equal(parse(fx, "{\"changes\": [], \"x\": \"\\\\u0000\"}"), 0);
}

static void test_integer_bounds(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(parse(fx, "{\"changes\": [{\"seq\": 1, \"op\":"
                               " \"upsert\", \"hlc\": \"0000018f00000000\","
                               " \"table\": \"t\", \"row\": {\"id\":"
                               " -9223372036854775808}}, {\"seq\": 2, \"op\":"
                               " \"upsert\", \"hlc\": \"0000018f00000000\","
                               " \"table\": \"t\", \"row\": {\"id\":"
                               " 9223372036854775807, \"score\": -0.5e1}}]}"),
                     0);
    assert_int_equal(fx->v.nbad, 0);
    assert_true(fx->doc.chs[0].vals[0].i == INT64_MIN);
    assert_true(fx->doc.chs[1].vals[0].i == INT64_MAX);
    assert_true(fx->doc.chs[1].vals[2].d == -5.0);
    malformed("{\"changes\": [], \"x\": -9223372036854775809}", "integer");
    malformed("{\"changes\": [], \"x\": 99999999999999999999}", "integer");
}

static void test_deep(void **state)
{
    static const char head[] =
        "{\"changes\": [{" HEAD ", \"table\": \"t\", \"row\": {\"doc\": ";
    size_t n = 3000, len = 0;
    char *body = malloc(2 * n + sizeof(head) + 8);

    (void)state;
    assert_non_null(body);
    memcpy(body, head, sizeof(head) - 1);
    len += sizeof(head) - 1;
    memset(body + len, '[', n);
    len += n;
    memset(body + len, ']', n);
    len += n;
    memcpy(body + len, "}}]}", 4);
    len += 4;
    expect_fail(body, len, FERRY_EPARSE, 400, "depth");
    free(body);
}

static void test_too_many(void **state)
{
    size_t n = FY_PUSH_MAX_CHANGES + 1, len = 0;
    char *body = malloc(3 * n + 32);

    (void)state;
    assert_non_null(body);
    memcpy(body, "{\"changes\": [", 13);
    len += 13;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + len, ",{}" + !i, 3 - !i);
        len += 3 - !i;
    }
    memcpy(body + len, "]}", 2);
    len += 2;
    expect_fail(body, len, FERRY_ETOOBIG, 413, "at most");
    free(body);
}

static void test_device(void **state)
{
    struct fx *fx = *state;
    const char *other = "{\"changes\": [], \"device\": \"dev2\"}";
    const char *tree = "{\"device\": {\"a\": 1}, \"changes\": []}";

    expect_fail(other, strlen(other), FERRY_EFORBIDDEN, 403, "dev1");
    expect_fail(tree, strlen(tree), FERRY_EFORBIDDEN, 403, "dev1");
    assert_int_equal(parse(fx, "{\"changes\": [], \"device\": null}"), 0);
}

static void test_rejected_changes(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(
        parse(fx, "{\"changes\": [3, {\"seq\": 2.0}, {" HEAD
                  ", \"table\": \"nope\", \"row\": {}}, {\"seq\": 5, \"op\":"
                  " \"upsert\", \"hlc\": \"0000018f00000000\", \"table\":"
                  " \"t\", \"row\": {\"id\": 1, \"bad\": 1}}, {\"seq\": 4,"
                  " \"op\": \"upsert\", \"hlc\": \"0000018f00000000\","
                  " \"table\": \"t\", \"row\": {\"id\": 1}}, {\"seq\": 6,"
                  " \"op\": [\"upsert\"], \"row\": {}}]}"),
        0);
    assert_int_equal(fx->doc.n, 6);
    assert_int_equal(fx->v.nbad, 6);
    assert_int_equal(fx->v.status, 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_kept, setup, teardown),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_raw_nul),
        cmocka_unit_test_setup_teardown(test_escaped_backslash_is_not_an_escape,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_integer_bounds, setup, teardown),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test_setup_teardown(test_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_changes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
