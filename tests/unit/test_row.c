/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for agent-side JSON encoding (lib/json/row.h): string escaping
 * and UTF-8 validation, and SQLite values shaped by contract type. Output is
 * parsed back with jansson to check it is the JSON we meant.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/row.h"
#include "util/num.h"
#include "util/base64.h"
#include "fy.h"

/* Parses b's JSON text (any value); the caller json_decref()s. */
static json_t *parse_back(const struct fy_buf *b)
{
    json_error_t jerr;
    json_t *j = json_loadb(b->data, b->len, JSON_DECODE_ANY, &jerr);

    if (!j)
        fail_msg("not JSON (%s): %s", jerr.text, b->data);
    return j;
}

/* Encodes s[0..n) and checks it reads back as the same bytes. */
static void check_str_roundtrip(const char *s, size_t n)
{
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j;

    assert_int_equal(fy_json_add_str(&b, s, n), 0);
    j = parse_back(&b);
    assert_true(json_is_string(j));
    assert_int_equal(json_string_length(j), n);
    assert_memory_equal(json_string_value(j), s, n);
    json_decref(j);
    fy_buf_release(&b);
}

static void check_str(const char *s, const char *want)
{
    struct fy_buf b = FY_BUF_INIT(0);

    assert_int_equal(fy_json_add_str(&b, s, strlen(s)), 0);
    assert_string_equal(b.data, want);
    fy_buf_release(&b);
    check_str_roundtrip(s, strlen(s));
}

static void test_str_plain_and_escapes(void **state)
{
    (void)state;
    check_str("", "\"\"");
    check_str("plain text", "\"plain text\"");
    check_str("say \"hi\"", "\"say \\\"hi\\\"\"");
    check_str("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    check_str("\"\\\"", "\"\\\"\\\\\\\"\"");
    check_str("/ and \x7f stay", "\"/ and \x7f stay\"");
    check_str("\x01", "\"\\u0001\"");
}

static void test_str_control_chars(void **state)
{
    (void)state;
    for (int c = 1; c < 0x20; c++) {
        struct fy_buf b = FY_BUF_INIT(0);
        char s[4] = {'a', (char)c, 'b', '\0'};

        assert_int_equal(fy_json_add_str(&b, s, 3), 0);
        /* No raw control byte may reach the output. */
        for (size_t i = 0; i < b.len; i++)
            assert_true((unsigned char)b.data[i] >= 0x20);
        fy_buf_release(&b);
        check_str_roundtrip(s, 3);
    }
}

static void test_str_utf8_passthrough(void **state)
{
    static const char *const ok[] = {
        "caf\xc3\xa9",                          /* U+00E9 */
        "\xe2\x82\xac 5",                       /* U+20AC */
        "\xf0\x9d\x84\x9e clef",                /* U+1D11E */
        "\xdf\xbf",                             /* U+07FF, last 2-byte */
        "\xe0\xa0\x80",                         /* U+0800, first 3-byte */
        "\xed\x9f\xbf",                         /* U+D7FF, before surrogates */
        "\xee\x80\x80",                         /* U+E000, after surrogates */
        "\xef\xbf\xbf",                         /* U+FFFF */
        "\xf0\x90\x80\x80",                     /* U+10000, first 4-byte */
        "\xf4\x8f\xbf\xbf",                     /* U+10FFFF, the last */
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", /* three CJK */
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(ok); i++) {
        struct fy_buf b = FY_BUF_INIT(0);
        size_t n = strlen(ok[i]);

        if (fy_json_add_str(&b, ok[i], n) != 0)
            fail_msg("rejected valid UTF-8 #%zu", i);
        /* Copied as it is, not \u-escaped. */
        assert_int_equal(b.len, n + 2);
        assert_memory_equal(b.data + 1, ok[i], n);
        fy_buf_release(&b);
        check_str_roundtrip(ok[i], n);
    }
}

static void test_str_length_bounded(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    assert_int_equal(fy_json_add_str(&b, "abcdef", 3), 0);
    assert_string_equal(b.data, "\"abc\"");
    /* Appends after what is there. */
    assert_int_equal(fy_json_add_str(&b, "x\"y", 3), 0);
    assert_string_equal(b.data, "\"abc\"\"x\\\"y\"");
    fy_buf_release(&b);
}

static void test_str_invalid(void **state)
{
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"\xc0\xaf", 2},                 /* overlong '/' */
        {"\xc1\xbf", 2},                 /* overlong */
        {"\xe0\x80\xaf", 3},             /* overlong, 3 bytes */
        {"\xe0\x9f\xbf", 3},             /* overlong U+07FF */
        {"\xf0\x80\x80\xaf", 4},         /* overlong, 4 bytes */
        {"\xf0\x8f\xbf\xbf", 4},         /* overlong U+FFFF */
        {"\xed\xa0\x80", 3},             /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3},             /* surrogate U+DFFF */
        {"\xed\xa0\xbd\xed\xb8\x80", 6}, /* CESU-8 pair */
        {"\xf4\x90\x80\x80", 4},         /* U+110000 */
        {"\xf8\x88\x80\x80\x80", 5},     /* 5-byte form */
        {"\xff", 1},
        {"\xfe", 1},
        {"\x80", 1}, /* lone continuation */
        {"ok\xbf", 3},
        {"\xc3", 1}, /* truncated at the end */
        {"\xe2\x82", 2},
        {"\xf0\x9d\x84", 3},
        {"\xe2\x82\xac", 2}, /* cut short by n */
        {"\xc3(", 2},        /* bad continuation */
        {"\xe2\x28\xa1", 3},
        {"a\0b", 3}, /* NUL */
        {"\0", 1},
        {"abc\0", 4},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        struct fy_buf b = FY_BUF_INIT(0);

        fy_buf_adds(&b, "[1,");
        if (fy_json_add_str(&b, bad[i].s, bad[i].n) != FERRY_EPARSE)
            fail_msg("accepted invalid string #%zu", i);
        /* Nothing usable appended, and the buffer still works. */
        assert_int_equal(b.len, 3);
        assert_string_equal(b.data, "[1,");
        assert_int_equal(fy_buf_error(&b), 0);
        assert_int_equal(fy_json_add_str(&b, "ok", 2), 0);
        assert_string_equal(b.data, "[1,\"ok\"");
        fy_buf_release(&b);
    }
}

/* Per-test fixture: an in-memory SQLite database. */
static int setup(void **state)
{
    sqlite3 *db = NULL;

    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

/*
 * Runs "SELECT expr" and encodes the result for type t into b; returns
 * fy_json_add_value's result, why gets the reason.
 */
static int encode(sqlite3 *db, const char *expr, enum fy_type t,
                  struct fy_buf *b, char *why, size_t whylen)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT %s", expr);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    why[0] = '\0';
    rc = fy_json_add_value(b, sqlite3_column_value(st, 0), t, why, whylen);
    sqlite3_finalize(st);
    return rc;
}

/* Encodes expr for t, checks success, and returns the parsed JSON. */
static json_t *encode_ok(sqlite3 *db, const char *expr, enum fy_type t,
                         char **text)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char why[128];
    json_t *j;

    if (encode(db, expr, t, &b, why, sizeof(why)) != 0)
        fail_msg("SELECT %s as %s failed: %s", expr, fy_type_name(t), why);
    j = parse_back(&b);
    if (text)
        *text = fy_buf_detach(&b, NULL);
    fy_buf_release(&b);
    return j;
}

static void test_value_null(void **state)
{
    static const enum fy_type types[] = {FY_T_BIGINT, FY_T_TEXT, FY_T_BYTEA,
                                         FY_T_BOOLEAN, FY_T_JSONB};

    for (size_t i = 0; i < FY_ARRAY_LEN(types); i++) {
        char *text;
        json_t *j = encode_ok(*state, "NULL", types[i], &text);

        assert_true(json_is_null(j));
        assert_string_equal(text, "null");
        json_decref(j);
        fy_free(text);
    }
}

static void test_value_integers(void **state)
{
    static const struct {
        const char *expr;
        long long want;
    } cases[] = {
        {"0", 0},
        {"42", 42},
        {"-17", -17},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775807 - 1", INT64_MIN},
    };

    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        json_t *j = encode_ok(*state, cases[i].expr, FY_T_BIGINT, NULL);

        assert_true(json_is_integer(j));
        assert_true(json_integer_value(j) == cases[i].want);
        json_decref(j);
    }
    /* Integers stay numbers for numeric and double columns too. */
    {
        json_t *j = encode_ok(*state, "12", FY_T_NUMERIC, NULL);

        assert_true(json_is_integer(j));
        assert_int_equal(json_integer_value(j), 12);
        json_decref(j);
    }
}

/* The digits themselves, as "%lld" writes them, appended after text. */
static void test_add_int(void **state)
{
    static const struct {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, "x0"},
        {7, "x7"},
        {-1, "x-1"},
        {10, "x10"},
        {-10, "x-10"},
        {1000000, "x1000000"},
        {INT64_MAX, "x9223372036854775807"},
        {INT64_MIN, "x-9223372036854775808"},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        struct fy_buf b = FY_BUF_INIT(0);

        fy_buf_addc(&b, 'x');
        assert_int_equal(fy_buf_add_i64(&b, cases[i].v), 0);
        assert_string_equal(b.data, cases[i].want);
        assert_int_equal(b.len, strlen(cases[i].want));
        fy_buf_release(&b);
    }
}

/* fy_fmt_real(d) against snprintf's "%.17g", byte for byte. */
static void check_real(double d)
{
    char want[64], got[32];
    size_t n = fy_fmt_real(d, got);

    snprintf(want, sizeof(want), "%.17g", d);
    if (strcmp(want, got) != 0 || n != strlen(want))
        fail_msg("%a: '%s' from snprintf, '%s' (%zu) from fy_fmt_real", d, want,
                 got, n);
}

static double from_bits(uint64_t bits)
{
    double d;

    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* The doubles next to d (> 0) on either side, as nextafter gives them. */
static void check_around(double d)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof(bits));
    check_real(d);
    check_real(from_bits(bits - 1));
    check_real(from_bits(bits + 1));
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Every layout %g has (fixed, the e style from 1e-5 down and from 1e17
 * up), both ends of the exact range, powers of ten, digits that round up
 * to one, ties rounded to even, the app's kind of values, random bits.
 */
static void test_fmt_real(void **state)
{
    static const double edges[] = {1,
                                   -1,
                                   0.1,
                                   0.5,
                                   0.3,
                                   49.9,
                                   1e-11,
                                   9.999999999999999e-12,
                                   1.5e-11,
                                   1e-5,
                                   1.234e-5,
                                   1e-4,
                                   0.00012345678901234567,
                                   1e16,
                                   1e17,
                                   9.9e16,
                                   99999999999999999.0,
                                   9999999999999999.0,
                                   0.99999999999999999,
                                   123456789012345678.0,
                                   9007199254740992.0,
                                   9007199254740994.0,
                                   4.9406564584124654e-324,
                                   2.2250738585072014e-308,
                                   1.7976931348623157e308,
                                   1e22,
                                   1e23,
                                   0.0,
                                   -0.0,
                                   100,
                                   1000000,
                                   1125899906842624.25,
                                   1125899906842624.75,
                                   2251799813685247.5,
                                   3.14159265358979323846,
                                   -2.718281828459045,
                                   64.125,
                                   1e-10,
                                   1e-6};
    uint64_t r = 0x9e3779b97f4a7c15ull;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(edges); i++)
        check_real(edges[i]);
    for (int i = -330; i <= 310; i++) {
        char p[16];

        snprintf(p, sizeof(p), "1e%d", i);
        if (strtod(p, NULL) > 0 && isfinite(strtod(p, NULL)))
            check_around(strtod(p, NULL));
    }
    for (int x = 0; x < 10000; x++) {
        check_real(x % 10000 / 100.0);
        check_real(64 + x % 8192 / 8.0);
        check_real(x / 3.0);
    }
    for (int i = 0; i < 25000; i++) {
        double d = from_bits(next_rand(&r));

        if (isfinite(d))
            check_real(d);
        /*
         * The exact range, 1e-11 to 1e17 (binary exponents -37 to 56), where
         * the digits are computed.
         */
        check_real(from_bits((986 + next_rand(&r) % 94) << 52 |
                             (next_rand(&r) >> 12)));
        /* Ties: a quarter or three past an integer from 2^50 to 2^51. */
        d = (double)((1ull << 50) + (next_rand(&r) >> 14)) + 0.25 +
            0.5 * (double)(next_rand(&r) & 1);
        check_real(d);
        check_real((double)(int64_t)(next_rand(&r) >> 20) / 1000.0);
    }
}

/* Equal but for the last bits. */
static bool close_to(double a, double b)
{
    double diff = a > b ? a - b : b - a;
    double mag = a < 0 ? -a : a;

    return diff <= mag * 1e-15;
}

/* The double SQLite itself holds for "SELECT expr". */
static double sqlite_double(sqlite3 *db, const char *expr)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    double d;

    snprintf(sql, sizeof(sql), "SELECT %s", expr);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_FLOAT);
    d = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return d;
}

static void test_value_reals(void **state)
{
    static const struct {
        const char *expr;
        double want;
    } cases[] = {
        {"1.0", 1.0},
        {"-3.0", -3.0},
        {"1.5", 1.5},
        {"0.1", 0.1},
        {"1e20", 1e20},
        {"1e300", 1e300},
        {"-2.5e-300", -2.5e-300},
        {"123456789012.0", 123456789012.0},
    };

    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        char *text;
        json_t *j = encode_ok(*state, cases[i].expr, FY_T_DOUBLE, &text);
        double want;

        /* A real must read back as a real, not as an integer. */
        if (!json_is_real(j))
            fail_msg("SELECT %s encoded as %s", cases[i].expr, text);
        assert_true(strpbrk(text, ".eE") != NULL);
        /*
         * Exactly the stored double comes back. (SQLite's own parse of the
         * literal may differ from the compiler's in the last bit, e.g. under
         * valgrind, so compare with what SQLite holds.)
         */
        want = sqlite_double(*state, cases[i].expr);
        assert_true(close_to(want, cases[i].want));
        assert_true(json_real_value(j) == want);
        json_decref(j);
        fy_free(text);
    }
}

static void test_value_not_finite(void **state)
{
    static const char *const exprs[] = {"9e999", "-9e999"};

    for (size_t i = 0; i < FY_ARRAY_LEN(exprs); i++) {
        struct fy_buf b = FY_BUF_INIT(0);
        char why[128];

        assert_int_equal(
            encode(*state, exprs[i], FY_T_DOUBLE, &b, why, sizeof(why)),
            FERRY_EPARSE);
        assert_true(why[0] != '\0');
        assert_int_equal(
            encode(*state, exprs[i], FY_T_TEXT, &b, why, sizeof(why)),
            FERRY_EPARSE);
        fy_buf_release(&b);
    }
}

static void test_value_blobs(void **state)
{
    static const struct {
        const char *expr;
        const char *want;
        size_t n;
        const char *bytes;
    } cases[] = {
        {"X'00FF10'", "AP8Q", 3, "\x00\xff\x10"},
        {"X'666F6F626172'", "Zm9vYmFy", 6, "foobar"},
        {"X'00'", "AA==", 1, "\x00"},
        {"X''", "", 0, ""},
    };

    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        json_t *j = encode_ok(*state, cases[i].expr, FY_T_BYTEA, NULL);
        const char *s = json_string_value(j);
        unsigned char out[16];
        size_t len;

        assert_non_null(s);
        assert_string_equal(s, cases[i].want);
        assert_int_equal(fy_b64_decode(s, strlen(s), out, &len), 0);
        assert_int_equal(len, cases[i].n);
        assert_memory_equal(out, cases[i].bytes, len);
        json_decref(j);
    }
    /* Text in a bytea column travels as the base64 of its bytes. */
    {
        json_t *j = encode_ok(*state, "'abc'", FY_T_BYTEA, NULL);

        assert_string_equal(json_string_value(j), "YWJj");
        json_decref(j);
    }
}

static void test_value_booleans(void **state)
{
    json_t *j;

    j = encode_ok(*state, "1", FY_T_BOOLEAN, NULL);
    assert_true(json_is_true(j));
    json_decref(j);
    j = encode_ok(*state, "0", FY_T_BOOLEAN, NULL);
    assert_true(json_is_false(j));
    json_decref(j);
    j = encode_ok(*state, "1 = 1", FY_T_BOOLEAN, NULL);
    assert_true(json_is_true(j));
    json_decref(j);
    /* The same integers stay numbers in an integer column. */
    j = encode_ok(*state, "1", FY_T_INTEGER, NULL);
    assert_true(json_is_integer(j));
    json_decref(j);
}

static void test_value_text_column(void **state)
{
    json_t *j;

    /* Whatever SQLite stored, a text column gets a string. */
    j = encode_ok(*state, "42", FY_T_TEXT, NULL);
    assert_true(json_is_string(j));
    assert_string_equal(json_string_value(j), "42");
    json_decref(j);
    j = encode_ok(*state, "-9223372036854775807 - 1", FY_T_TEXT, NULL);
    assert_string_equal(json_string_value(j), "-9223372036854775808");
    json_decref(j);
    j = encode_ok(*state, "1.5", FY_T_TEXT, NULL);
    assert_true(json_is_string(j));
    assert_true(strtod(json_string_value(j), NULL) == 1.5);
    json_decref(j);
    j = encode_ok(*state, "'h\xc3\xa9 \"q\" \\ ' || char(10)", FY_T_TEXT, NULL);
    assert_string_equal(json_string_value(j), "h\xc3\xa9 \"q\" \\ \n");
    json_decref(j);
    j = encode_ok(*state, "''", FY_T_TEXT, NULL);
    assert_string_equal(json_string_value(j), "");
    json_decref(j);
    j = encode_ok(*state, "'2026-01-02T03:04:05Z'", FY_T_TIMESTAMPTZ, NULL);
    assert_string_equal(json_string_value(j), "2026-01-02T03:04:05Z");
    json_decref(j);
}

static void test_value_invalid_text(void **state)
{
    static const char *const exprs[] = {
        "CAST(X'C0AF' AS TEXT)",
        "CAST(X'EDA080' AS TEXT)",
        "CAST(X'61E282' AS TEXT)",
        "CAST(X'610062' AS TEXT)",
    };

    for (size_t i = 0; i < FY_ARRAY_LEN(exprs); i++) {
        struct fy_buf b = FY_BUF_INIT(0);
        char why[128];

        if (encode(*state, exprs[i], FY_T_TEXT, &b, why, sizeof(why)) !=
            FERRY_EPARSE)
            fail_msg("accepted %s", exprs[i]);
        assert_true(why[0] != '\0');
        fy_buf_release(&b);
    }
}

static void test_value_jsonb(void **state)
{
    char *text;
    json_t *j, *want;
    json_error_t jerr;

    /* Valid JSON text travels inline, as the value it spells. */
    j = encode_ok(*state, "'{\"a\": [1, 2.5, null], \"b\": \"x\"}'", FY_T_JSONB,
                  &text);
    want = json_loads("{\"a\": [1, 2.5, null], \"b\": \"x\"}", 0, &jerr);
    assert_non_null(want);
    assert_true(json_is_object(j));
    assert_true(json_equal(j, want));
    assert_true(text[0] == '{');
    json_decref(want);
    json_decref(j);
    fy_free(text);

    j = encode_ok(*state, "'[true, false]'", FY_T_JSONB, NULL);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    j = encode_ok(*state, "'\"quoted\"'", FY_T_JSONB, NULL);
    assert_string_equal(json_string_value(j), "quoted");
    json_decref(j);

    /* Text that is not JSON becomes a JSON string. */
    j = encode_ok(*state, "'not json'", FY_T_JSONB, NULL);
    assert_string_equal(json_string_value(j), "not json");
    json_decref(j);
    j = encode_ok(*state, "'{\"a\": 1'", FY_T_JSONB, NULL);
    assert_string_equal(json_string_value(j), "{\"a\": 1");
    json_decref(j);
    j = encode_ok(*state, "'{} {}'", FY_T_JSONB, NULL);
    assert_string_equal(json_string_value(j), "{} {}");
    json_decref(j);
}

static void test_value_appends(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char why[64];
    json_t *j;

    fy_buf_addc(&b, '[');
    assert_int_equal(encode(*state, "7", FY_T_BIGINT, &b, why, sizeof(why)), 0);
    fy_buf_addc(&b, ',');
    assert_int_equal(encode(*state, "'x'", FY_T_TEXT, &b, why, sizeof(why)), 0);
    fy_buf_addc(&b, ',');
    assert_int_equal(encode(*state, "2.0", FY_T_DOUBLE, &b, why, sizeof(why)),
                     0);
    fy_buf_addc(&b, ']');
    j = parse_back(&b);
    assert_int_equal(json_array_size(j), 3);
    assert_int_equal(json_integer_value(json_array_get(j, 0)), 7);
    assert_string_equal(json_string_value(json_array_get(j, 1)), "x");
    assert_true(json_is_real(json_array_get(j, 2)));
    json_decref(j);
    fy_buf_release(&b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_plain_and_escapes),
        cmocka_unit_test(test_str_control_chars),
        cmocka_unit_test(test_str_utf8_passthrough),
        cmocka_unit_test(test_str_length_bounded),
        cmocka_unit_test(test_str_invalid),
        cmocka_unit_test(test_add_int),
        cmocka_unit_test(test_fmt_real),
        T(test_value_null),
        T(test_value_integers),
        T(test_value_reals),
        T(test_value_not_finite),
        T(test_value_blobs),
        T(test_value_booleans),
        T(test_value_text_column),
        T(test_value_invalid_text),
        T(test_value_jsonb),
        T(test_value_appends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
