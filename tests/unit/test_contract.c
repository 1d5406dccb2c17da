/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the table contract (lib/core/contract.h): parsing a valid
 * contract, every validation error, the checksum and the SQLite type map.
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

#include "core/contract.h"
#include "fy.h"

static const char valid_contract[] =
    "{\"version\": 3, \"tables\": ["
    " {\"name\": \"orders\","
    "  \"columns\": ["
    "   {\"name\": \"id\", \"type\": \"bigint\", \"not_null\": true},"
    "   {\"name\": \"device\", \"type\": \"text\"},"
    "   {\"name\": \"region\", \"type\": \"text\", \"not_null\": false},"
    "   {\"name\": \"total\", \"type\": \"numeric\", \"not_null\": true},"
    "   {\"name\": \"photo\", \"type\": \"text\"},"
    "   {\"name\": \"paid_at\", \"type\": \"timestamptz\"}],"
    "  \"primary_key\": [\"id\"],"
    "  \"device_column\": \"device\","
    "  \"region_column\": \"region\","
    "  \"blob_columns\": [\"photo\"]},"
    " {\"name\": \"order_lines\","
    "  \"columns\": ["
    "   {\"name\": \"order_id\", \"type\": \"bigint\"},"
    "   {\"name\": \"line\", \"type\": \"integer\"},"
    "   {\"name\": \"qty\", \"type\": \"double precision\"},"
    "   {\"name\": \"ok\", \"type\": \"boolean\"},"
    "   {\"name\": \"raw\", \"type\": \"bytea\"},"
    "   {\"name\": \"day\", \"type\": \"date\"},"
    "   {\"name\": \"meta\", \"type\": \"jsonb\"}],"
    "  \"primary_key\": [\"line\", \"order_id\"]}"
    "]}";

static struct fy_contract *parse_ok(const char *text)
{
    struct fy_contract *c = NULL;
    struct ferry_err err = {0};
    int rc = fy_contract_parse(text, strlen(text), &c, &err);

    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err.msg);
    assert_non_null(c);
    return c;
}

/* Parses text expecting FERRY_ECONFIG with a message mentioning needle. */
static void parse_bad(const char *text, const char *needle)
{
    struct fy_contract *c = (struct fy_contract *)&c; /* not NULL */
    struct ferry_err err = {0};
    int rc = fy_contract_parse(text, strlen(text), &c, &err);

    if (rc != FERRY_ECONFIG) {
        if (rc == 0)
            fy_contract_free(c);
        fail_msg("expected ECONFIG, got %d for: %s", rc, text);
    }
    assert_null(c);
    assert_int_equal(err.code, FERRY_ECONFIG);
    assert_true(err.msg[0] != '\0');
    if (needle && !strstr(err.msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
    /* The same failure without an error struct. */
    assert_int_equal(fy_contract_parse(text, strlen(text), &c, NULL),
                     FERRY_ECONFIG);
    assert_null(c);
}

/* A one-table contract with the given columns and extra table members. */
static void one_table(char *out, size_t n, const char *tname, const char *cols,
                      const char *extra)
{
    int w = snprintf(out, n,
                     "{\"version\": 1, \"tables\": [{\"name\": \"%s\","
                     " \"columns\": [%s]%s}]}",
                     tname, cols, extra);

    assert_true(w > 0 && (size_t)w < n);
}

#define ID_COL "{\"name\": \"id\", \"type\": \"bigint\"}"
#define PK_ID  ", \"primary_key\": [\"id\"]"

static void test_parse_valid(void **state)
{
    struct fy_contract *c = parse_ok(valid_contract);
    const struct fy_table *t;

    (void)state;
    assert_int_equal(c->version, 3);
    assert_int_equal(c->ntables, 2);

    t = fy_contract_table(c, "orders");
    assert_non_null(t);
    assert_string_equal(t->name, "orders");
    assert_int_equal(t->ncols, 6);
    assert_string_equal(t->cols[0].name, "id");
    assert_int_equal(t->cols[0].type, FY_T_BIGINT);
    assert_true(t->cols[0].not_null);
    assert_int_equal(t->cols[1].type, FY_T_TEXT);
    assert_false(t->cols[1].not_null);
    assert_false(t->cols[2].not_null);
    assert_int_equal(t->cols[3].type, FY_T_NUMERIC);
    assert_true(t->cols[3].not_null);
    assert_int_equal(t->cols[5].type, FY_T_TIMESTAMPTZ);
    assert_int_equal(t->npk, 1);
    assert_int_equal(t->pk[0], 0);
    assert_true(fy_table_is_pk(t, 0));
    assert_false(fy_table_is_pk(t, 1));
    assert_int_equal(t->device_col, fy_table_column(t, "device"));
    assert_int_equal(t->device_col, 1);
    assert_int_equal(t->region_col, 2);
    assert_true(t->cols[4].blob_ref);
    for (size_t i = 0; i < t->ncols; i++) {
        if (i != 4)
            assert_false(t->cols[i].blob_ref);
    }
    assert_int_equal(fy_table_column(t, "paid_at"), 5);
    assert_int_equal(fy_table_column(t, "nope"), -1);

    t = fy_contract_table(c, "order_lines");
    assert_non_null(t);
    assert_int_equal(t->ncols, 7);
    assert_int_equal(t->cols[1].type, FY_T_INTEGER);
    assert_int_equal(t->cols[2].type, FY_T_DOUBLE);
    assert_int_equal(t->cols[3].type, FY_T_BOOLEAN);
    assert_int_equal(t->cols[4].type, FY_T_BYTEA);
    assert_int_equal(t->cols[5].type, FY_T_DATE);
    assert_int_equal(t->cols[6].type, FY_T_JSONB);
    /* Key order is the contract's, not the column order. */
    assert_int_equal(t->npk, 2);
    assert_int_equal(t->pk[0], 1);
    assert_int_equal(t->pk[1], 0);
    assert_true(fy_table_is_pk(t, 0));
    assert_true(fy_table_is_pk(t, 1));
    assert_false(fy_table_is_pk(t, 2));
    assert_int_equal(t->device_col, -1);
    assert_int_equal(t->region_col, -1);

    assert_null(fy_contract_table(c, "missing"));

    assert_non_null(c->checksum);
    assert_int_equal(strlen(c->checksum), 64);
    assert_int_equal(strspn(c->checksum, "0123456789abcdef"), 64);
    fy_contract_free(c);
    fy_contract_free(NULL);
}

static void test_parse_empty_tables(void **state)
{
    struct fy_contract *c = parse_ok("{\"version\": 1, \"tables\": []}");

    (void)state;
    assert_int_equal(c->version, 1);
    assert_int_equal(c->ntables, 0);
    assert_null(fy_contract_table(c, "x"));
    fy_contract_free(c);
}

static void test_bad_json(void **state)
{
    (void)state;
    parse_bad("", NULL);
    parse_bad("{", NULL);
    parse_bad("{\"version\": 1, \"tables\": [}", NULL);
    parse_bad("{\"version\": 1, \"version\": 2, \"tables\": []}", NULL);
    parse_bad("[]", NULL);
    parse_bad("null", NULL);
}

static void test_bad_version(void **state)
{
    (void)state;
    parse_bad("{\"tables\": []}", "version");
    parse_bad("{\"version\": 0, \"tables\": []}", "version");
    parse_bad("{\"version\": -2, \"tables\": []}", "version");
    parse_bad("{\"version\": \"1\", \"tables\": []}", "version");
    parse_bad("{\"version\": 1.5, \"tables\": []}", "version");
    parse_bad("{\"version\": 1}", "tables");
    parse_bad("{\"version\": 1, \"tables\": {}}", "tables");
}

static void test_unknown_type(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"v\", \"type\": \"varchar\"}", PK_ID);
    parse_bad(text, "varchar");
    one_table(text, sizeof(text), "t", ID_COL ", {\"name\": \"v\"}", PK_ID);
    parse_bad(text, "'v'");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"v\", \"type\": 5}", PK_ID);
    parse_bad(text, "'v'");
}

static void test_bad_columns(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "t", "", PK_ID);
    parse_bad(text, "'t'");
    one_table(text, sizeof(text), "t", ID_COL ", 7", PK_ID);
    parse_bad(text, "'t'");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"v\", \"type\": \"text\","
                     " \"not_null\": \"yes\"}",
              PK_ID);
    parse_bad(text, "not_null");
    parse_bad("{\"version\": 1, \"tables\": [{\"name\": \"t\","
              " \"primary_key\": [\"id\"]}]}",
              "'t'");
}

static void test_duplicate_column(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"v\", \"type\": \"text\"},"
                     " {\"name\": \"v\", \"type\": \"bigint\"}",
              PK_ID);
    parse_bad(text, "'v'");
}

static void test_duplicate_table(void **state)
{
    (void)state;
    parse_bad("{\"version\": 1, \"tables\": ["
              "{\"name\": \"t\", \"columns\": [" ID_COL "]" PK_ID "},"
              "{\"name\": \"u\", \"columns\": [" ID_COL "]" PK_ID "},"
              "{\"name\": \"t\", \"columns\": [" ID_COL "]" PK_ID "}]}",
              "'t'");
}

static void test_bad_primary_key(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "t", ID_COL,
              ", \"primary_key\": [\"nosuch\"]");
    parse_bad(text, "nosuch");
    one_table(text, sizeof(text), "t", ID_COL, "");
    parse_bad(text, "primary_key");
    one_table(text, sizeof(text), "t", ID_COL, ", \"primary_key\": []");
    parse_bad(text, "primary_key");
    one_table(text, sizeof(text), "t", ID_COL, ", \"primary_key\": \"id\"");
    parse_bad(text, "primary_key");
    one_table(text, sizeof(text), "t", ID_COL,
              ", \"primary_key\": [\"id\", \"id\"]");
    parse_bad(text, "'id'");
}

static void test_scope_columns(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"r\", \"type\": \"bigint\"}",
              PK_ID ", \"region_column\": \"r\"");
    parse_bad(text, "'r'");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"d\", \"type\": \"integer\"}",
              PK_ID ", \"device_column\": \"d\"");
    parse_bad(text, "'d'");
    one_table(text, sizeof(text), "t", ID_COL,
              PK_ID ", \"region_column\": \"nosuch\"");
    parse_bad(text, "nosuch");
    one_table(text, sizeof(text), "t", ID_COL,
              PK_ID ", \"device_column\": \"nosuch\"");
    parse_bad(text, "nosuch");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"b\", \"type\": \"bytea\"}",
              PK_ID ", \"blob_columns\": [\"b\"]");
    parse_bad(text, "'b'");
    one_table(text, sizeof(text), "t", ID_COL,
              PK_ID ", \"blob_columns\": [\"nosuch\"]");
    parse_bad(text, "nosuch");
    one_table(text, sizeof(text), "t", ID_COL,
              PK_ID ", \"blob_columns\": \"id\"");
    parse_bad(text, "blob_columns");
}

/* "read": explicit values, the defaults, and what is refused. */
static void test_read_scope(void **state)
{
    char text[1024];
    struct fy_contract *c;
    json_t *j;

    (void)state;
    /* Defaults: every row; the region's rows; push-only (device in key). */
    one_table(text, sizeof(text), "t", ID_COL, PK_ID);
    c = parse_ok(text);
    assert_int_equal(c->tables[0].read, FY_READ_ALL);
    fy_contract_free(c);
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"r\", \"type\": \"text\"}",
              PK_ID ", \"region_column\": \"r\"");
    c = parse_ok(text);
    assert_int_equal(c->tables[0].read, FY_READ_REGION);
    fy_contract_free(c);
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"d\", \"type\": \"text\"}",
              ", \"primary_key\": [\"d\", \"id\"], \"device_column\": \"d\"");
    c = parse_ok(text);
    assert_int_equal(c->tables[0].read, FY_READ_NONE);
    /* The default is not written out: old contracts keep their checksum. */
    j = fy_contract_to_json(c);
    assert_null(json_object_get(json_array_get(json_object_get(j, "tables"), 0),
                                "read"));
    json_decref(j);
    fy_contract_free(c);
    /* Explicit, and written out when it is not the default. */
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"r\", \"type\": \"text\"}",
              PK_ID ", \"region_column\": \"r\", \"read\": \"all\"");
    c = parse_ok(text);
    assert_int_equal(c->tables[0].read, FY_READ_ALL);
    j = fy_contract_to_json(c);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(j, "tables"), 0), "read")),
        "all");
    json_decref(j);
    fy_contract_free(c);
    one_table(text, sizeof(text), "t", ID_COL, PK_ID ", \"read\": \"none\"");
    c = parse_ok(text);
    assert_int_equal(c->tables[0].read, FY_READ_NONE);
    fy_contract_free(c);
    /* Refused: unknown words, non-strings, region without a region column. */
    one_table(text, sizeof(text), "t", ID_COL, PK_ID ", \"read\": \"some\"");
    parse_bad(text, "read");
    one_table(text, sizeof(text), "t", ID_COL, PK_ID ", \"read\": true");
    parse_bad(text, "read");
    one_table(text, sizeof(text), "t", ID_COL, PK_ID ", \"read\": \"region\"");
    parse_bad(text, "region_column");
}

static void test_reserved_names(void **state)
{
    char text[1024];

    (void)state;
    one_table(text, sizeof(text), "_ferry_x", ID_COL, PK_ID);
    parse_bad(text, NULL);
    one_table(text, sizeof(text), "_FERRY_x", ID_COL, PK_ID);
    parse_bad(text, NULL);
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"_ferry_hlc\", \"type\": \"bigint\"}",
              PK_ID);
    parse_bad(text, "'t'");
}

static void test_invalid_identifiers(void **state)
{
    static const char *const bad[] = {
        "",
        "1abc",
        "a-b",
        "a b",
        "a\\\"b",
        "\\u00e9t\\u00e9",
        "a234567890123456789012345678901234567890123456789012345678901234",
    };
    char text[1024], cols[256];

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        one_table(text, sizeof(text), bad[i], ID_COL, PK_ID);
        parse_bad(text, NULL);
        snprintf(cols, sizeof(cols),
                 ID_COL ", {\"name\": \"%s\", \"type\": \"text\"}", bad[i]);
        one_table(text, sizeof(text), "t", cols, PK_ID);
        parse_bad(text, "'t'");
    }
    parse_bad("{\"version\": 1, \"tables\": [{\"columns\": [" ID_COL "]" PK_ID
              "}]}",
              NULL);
    parse_bad(
        "{\"version\": 1, \"tables\": [{\"name\": 3, \"columns\": [" ID_COL
        "]" PK_ID "}]}",
        NULL);
}

static void test_ident_valid(void **state)
{
    static const char *const good[] = {
        "a",
        "_",
        "_a",
        "A_1",
        "ferry",
        "x_ferry",
        "_ferr",
        "a23456789012345678901234567890123456789012345678901234567890123",
    };
    static const char *const bad[] = {
        "",
        "1a",
        "a-b",
        "a.b",
        "a b",
        "\xc3\xa9",
        "_ferry",
        "_ferry_x",
        "_Ferry",
        "a234567890123456789012345678901234567890123456789012345678901234",
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++) {
        if (!fy_ident_valid(good[i]))
            fail_msg("rejected \"%s\"", good[i]);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        if (fy_ident_valid(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_false(fy_ident_valid(NULL));
}

/*
 * Defaults: checked as pushed values of the column, refused on key and
 * blob columns, and in the checksum only when given.
 */
static void test_defaults(void **state)
{
    char text[1024], with[1024];
    struct fy_contract *a, *b;
    const struct fy_table *t;

    (void)state;
    one_table(text, sizeof(text), "t",
              ID_COL
              ", {\"name\": \"n\", \"type\": \"integer\","
              " \"not_null\": true, \"default\": 3},"
              " {\"name\": \"s\", \"type\": \"text\", \"default\": "
              "\"x\"}, {\"name\": \"j\", \"type\": \"jsonb\","
              " \"default\": {\"a\": [1]}},"
              " {\"name\": \"z\", \"type\": \"text\", \"default\": null}",
              PK_ID);
    a = parse_ok(text);
    t = fy_contract_table(a, "t");
    assert_null(t->cols[0].def);
    assert_int_equal(json_integer_value(t->cols[1].def), 3);
    assert_string_equal(json_string_value(t->cols[2].def), "x");
    assert_true(json_is_object(t->cols[3].def));
    assert_true(json_is_null(t->cols[4].def));
    fy_contract_free(a);
    /* Without defaults the checksum is the one of before (computed apart
       from ferry); with, another. */
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"n\", \"type\": \"integer\"}", PK_ID);
    one_table(with, sizeof(with), "t",
              ID_COL ", {\"name\": \"n\", \"type\": \"integer\","
                     " \"default\": 0}",
              PK_ID);
    a = parse_ok(text);
    b = parse_ok(with);
    assert_string_not_equal(a->checksum, b->checksum);
    assert_string_equal(
        a->checksum,
        "1e3ebee087cbc55d7ce08d649b4a4ed35605e20e9e59cbb5c2a7372fb8a32fc1");
    fy_contract_free(a);
    fy_contract_free(b);
    /* A value the type refuses, a null in a not_null column, keys, blobs. */
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"n\", \"type\": \"integer\","
                     " \"default\": \"3\"}",
              PK_ID);
    parse_bad(text, "column 'n': default:");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"d\", \"type\": \"date\","
                     " \"default\": \"2026-02-30\"}",
              PK_ID);
    parse_bad(text, "column 'd': default:");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"n\", \"type\": \"integer\","
                     " \"not_null\": true, \"default\": null}",
              PK_ID);
    parse_bad(text, "column 'n': default:");
    one_table(text, sizeof(text), "t",
              "{\"name\": \"id\", \"type\": \"bigint\", \"default\": 1}",
              PK_ID);
    parse_bad(text, "a primary key column cannot have a default");
    one_table(text, sizeof(text), "t",
              ID_COL ", {\"name\": \"f\", \"type\": \"text\","
                     " \"default\": \"x\"}",
              PK_ID ", \"blob_columns\": [\"f\"]");
    parse_bad(text, "a blob column cannot have a default");
}

static void add_line(const char *line, void *ud)
{
    char *out = ud;
    size_t len = strlen(out);

    snprintf(out + len, 1024 - len, "%s\n", line);
}

/* ferry contract --diff: one line per difference, none when equal. */
static void test_diff(void **state)
{
    static const char theirs_text[] =
        "{\"version\": 3, \"tables\": ["
        "{\"name\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": "
        "\"bigint\"}, {\"name\": \"a\", \"type\": \"text\"},"
        " {\"name\": \"b\", \"type\": \"integer\", \"default\": 1},"
        " {\"name\": \"gone\", \"type\": \"text\"}], \"primary_key\":"
        " [\"id\"]}, {\"name\": \"only_theirs\", \"columns\": [{\"name\":"
        " \"id\", \"type\": \"text\"}], \"primary_key\": [\"id\"]}]}";
    static const char ours_text[] =
        "{\"version\": 1, \"tables\": ["
        "{\"name\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": "
        "\"bigint\"}, {\"name\": \"a\", \"type\": \"text\", \"not_null\":"
        " true}, {\"name\": \"b\", \"type\": \"bigint\"}, {\"name\":"
        " \"new\", \"type\": \"date\"}, {\"name\": \"k\", \"type\": "
        "\"text\"}], \"primary_key\": [\"id\", \"k\"]},"
        " {\"name\": \"only_ours\", \"columns\": [{\"name\": \"id\","
        " \"type\": \"text\"}], \"primary_key\": [\"id\"]}]}";
    struct fy_contract *theirs = parse_ok(theirs_text);
    struct fy_contract *ours = parse_ok(ours_text);
    char out[1024] = "";

    (void)state;
    assert_int_equal(fy_contract_diff(theirs, ours, add_line, out), 8);
    assert_string_equal(out, "~ table t: key (id) -> (id, k)\n"
                             "~ column t.a: not_null false -> true\n"
                             "~ column t.b: integer -> bigint\n"
                             "+ column t.new date\n"
                             "+ column t.k text\n"
                             "- column t.gone text\n"
                             "+ table only_ours\n"
                             "- table only_theirs\n");
    out[0] = '\0';
    assert_int_equal(fy_contract_diff(ours, ours, add_line, out), 0);
    assert_string_equal(out, "");
    fy_contract_free(theirs);
    fy_contract_free(ours);
}

static void test_checksum(void **state)
{
    /* valid_contract reformatted, keys reordered: the same contract. */
    static const char same[] =
        "{\"tables\":[{\"primary_key\":[\"id\"],\"name\":\"orders\","
        "\"blob_columns\":[\"photo\"],\"region_column\":\"region\","
        "\"device_column\":\"device\",\"columns\":["
        "{\"type\":\"bigint\",\"name\":\"id\",\"not_null\":true},"
        "{\"name\":\"device\",\"type\":\"text\"},"
        "{\"name\":\"region\",\"type\":\"text\"},"
        "{\"name\":\"total\",\"type\":\"numeric\",\"not_null\":true},"
        "{\"name\":\"photo\",\"type\":\"text\",\"not_null\":false},"
        "{\"name\":\"paid_at\",\"type\":\"timestamptz\"}]},"
        "{\"name\":\"order_lines\",\"columns\":["
        "{\"name\":\"order_id\",\"type\":\"bigint\"},"
        "{\"name\":\"line\",\"type\":\"integer\"},"
        "{\"name\":\"qty\",\"type\":\"double precision\"},"
        "{\"name\":\"ok\",\"type\":\"boolean\"},"
        "{\"name\":\"raw\",\"type\":\"bytea\"},"
        "{\"name\":\"day\",\"type\":\"date\"},"
        "{\"name\":\"meta\",\"type\":\"jsonb\"}],"
        "\"primary_key\":[\"line\",\"order_id\"]}],\"version\":3}";
    static const char *const edits[][2] = {
        {"\"version\": 3", "\"version\": 4"},
        {"\"type\": \"integer\"", "\"type\": \"bigint\""},
        {"\"name\": \"qty\"", "\"name\": \"amount\""},
        {"\"region\", \"type\": \"text\", \"not_null\": false",
         "\"region\", \"type\": \"text\", \"not_null\": true"},
        {"[\"line\", \"order_id\"]", "[\"order_id\", \"line\"]"},
        {"\"blob_columns\": [\"photo\"]", "\"blob_columns\": []"},
        {"\"region_column\": \"region\"", "\"region_column\": null"},
    };
    struct fy_contract *a = parse_ok(valid_contract);
    struct fy_contract *b = parse_ok(valid_contract);
    struct fy_contract *c = parse_ok(same);

    (void)state;
    assert_string_equal(a->checksum, b->checksum);
    assert_string_equal(a->checksum, c->checksum);
    fy_contract_free(b);
    fy_contract_free(c);

    for (size_t i = 0; i < FY_ARRAY_LEN(edits); i++) {
        char text[sizeof(valid_contract) + 64];
        const char *at = strstr(valid_contract, edits[i][0]);
        size_t pre = (size_t)(at - valid_contract);

        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)pre, valid_contract,
                 edits[i][1], at + strlen(edits[i][0]));
        b = parse_ok(text);
        if (strcmp(a->checksum, b->checksum) == 0)
            fail_msg("edit %zu kept the checksum", i);
        fy_contract_free(b);
    }
    fy_contract_free(a);
}

static void test_to_json_roundtrip(void **state)
{
    struct fy_contract *a = parse_ok(valid_contract), *b;
    json_t *j = fy_contract_to_json(a);
    char *text;

    (void)state;
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "tables")), 2);
    text = json_dumps(j, 0);
    assert_non_null(text);
    b = parse_ok(text);
    assert_string_equal(a->checksum, b->checksum);
    assert_int_equal(b->ntables, 2);
    free(text);
    json_decref(j);
    fy_contract_free(a);
    fy_contract_free(b);
}

static void test_load_file(void **state)
{
    char dir[] = "/tmp/ferry-unit-contract-XXXXXX";
    char path[256];
    struct fy_contract *c = NULL;
    struct ferry_err err = {0};
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/contract.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(valid_contract, f);
    fclose(f);
    assert_int_equal(fy_contract_load(path, &c, &err), 0);
    assert_non_null(c);
    assert_int_equal(c->ntables, 2);
    fy_contract_free(c);
    unlink(path);

    assert_int_equal(fy_contract_load(path, &c, &err), FERRY_ECONFIG);
    assert_null(c);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(rmdir(dir), 0);
}

static void test_type_names(void **state)
{
    (void)state;
    for (int t = 0; t < FY_T__COUNT; t++)
        assert_int_equal(fy_type_parse(fy_type_name((enum fy_type)t)), t);
    assert_string_equal(fy_type_name(FY_T_DOUBLE), "double precision");
    assert_string_equal(fy_type_name(FY_T_TIMESTAMPTZ), "timestamptz");
    assert_int_equal(fy_type_parse("varchar"), -1);
    assert_int_equal(fy_type_parse(""), -1);
    assert_int_equal(fy_type_parse("double"), -1);
}

static void test_type_from_sqlite(void **state)
{
    static const struct {
        const char *decl;
        enum fy_type want;
    } map[] = {
        {"INTEGER", FY_T_BIGINT},
        {"INT", FY_T_BIGINT},
        {"BIGINT", FY_T_BIGINT},
        {"UNSIGNED BIG INT", FY_T_BIGINT},
        {"integer", FY_T_BIGINT},
        {"TEXT", FY_T_TEXT},
        {"VARCHAR(10)", FY_T_TEXT},
        {"CLOB", FY_T_TEXT},
        {"text", FY_T_TEXT},
        {"BLOB", FY_T_BYTEA},
        {"REAL", FY_T_DOUBLE},
        {"FLOAT", FY_T_DOUBLE},
        {"DOUBLE", FY_T_DOUBLE},
        {"DOUBLE PRECISION", FY_T_DOUBLE},
        {"NUMERIC", FY_T_NUMERIC},
        {"DECIMAL(10,2)", FY_T_NUMERIC},
        {"BOOLEAN", FY_T_BOOLEAN},
        {"DATETIME", FY_T_TIMESTAMPTZ},
        {"TIMESTAMP", FY_T_TIMESTAMPTZ},
        {"DATE", FY_T_DATE},
        {"JSON", FY_T_JSONB},
        {"", FY_T_TEXT},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(map); i++) {
        enum fy_type got = fy_type_from_sqlite(map[i].decl);

        if (got != map[i].want)
            fail_msg("\"%s\" -> %s, want %s", map[i].decl, fy_type_name(got),
                     fy_type_name(map[i].want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_empty_tables),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_bad_columns),
        cmocka_unit_test(test_duplicate_column),
        cmocka_unit_test(test_duplicate_table),
        cmocka_unit_test(test_bad_primary_key),
        cmocka_unit_test(test_scope_columns),
        cmocka_unit_test(test_read_scope),
        cmocka_unit_test(test_reserved_names),
        cmocka_unit_test(test_invalid_identifiers),
        cmocka_unit_test(test_ident_valid),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_to_json_roundtrip),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_type_from_sqlite),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_diff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
