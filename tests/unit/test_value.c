/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for typed column values (lib/json/value.h): JSON to fy_val for
 * every contract type, and the PostgreSQL COPY text encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/value.h"
#include "fy.h"

/* Per-test fixture: the arena and the JSON values the fy_vals borrow. */
struct fx {
    struct fy_arena arena;
    json_t *keep[64];
    size_t nkeep;
    char why[256];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    fx->arena = (struct fy_arena)FY_ARENA_INIT(0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    for (size_t i = 0; i < fx->nkeep; i++)
        json_decref(fx->keep[i]);
    fy_arena_reset(&fx->arena);
    free(fx);
    return 0;
}

static char name_amount[] = "amount";

static struct fy_column column(enum fy_type t)
{
    return (struct fy_column){.name = name_amount, .type = t};
}

/* Converts v (reference stolen) for col; the fixture keeps v alive. */
static int conv_json(struct fx *fx, const struct fy_column *col, json_t *v,
                     struct fy_val *out)
{
    assert_non_null(v);
    assert_true(fx->nkeep < FY_ARRAY_LEN(fx->keep));
    fx->keep[fx->nkeep++] = v;
    fx->why[0] = '\0';
    return fy_val_from_json(col, v, &fx->arena, out, fx->why, sizeof(fx->why));
}

/* Converts the JSON text for col. */
static int conv(struct fx *fx, const struct fy_column *col, const char *text,
                struct fy_val *out)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (!v)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return conv_json(fx, col, v, out);
}

/* v (reference stolen) must be rejected with a reason naming the column. */
static void conv_bad_json(struct fx *fx, const struct fy_column *col, json_t *v,
                          const char *text)
{
    struct fy_val out;
    int rc = conv_json(fx, col, v, &out);

    if (rc != FERRY_ECONTRACT)
        fail_msg("%s for %s: got %d, want ECONTRACT", text,
                 fy_type_name(col->type), rc);
    if (!strstr(fx->why, col->name))
        fail_msg("reason \"%s\" does not name the column", fx->why);
}

/* The same for a value given as JSON text. */
static void conv_bad(struct fx *fx, const struct fy_column *col,
                     const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (!v)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    conv_bad_json(fx, col, v, text);
}

/* Checks the COPY text form of v. */
static void assert_copy(const struct fy_val *v, const char *want)
{
    struct fy_buf b = FY_BUF_INIT(0);

    assert_int_equal(fy_val_copy_text(&b, v), 0);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    fy_buf_release(&b);
}

static void test_bigint(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_BIGINT);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "0", &v), 0);
    assert_int_equal(v.kind, FY_V_INT);
    assert_true(v.i == 0);
    assert_int_equal(conv(fx, &col, "-42", &v), 0);
    assert_true(v.i == -42);
    assert_int_equal(conv(fx, &col, "9223372036854775807", &v), 0);
    assert_int_equal(v.kind, FY_V_INT);
    assert_true(v.i == INT64_MAX);
    assert_copy(&v, "9223372036854775807");
    assert_int_equal(conv(fx, &col, "-9223372036854775808", &v), 0);
    assert_true(v.i == INT64_MIN);
    assert_copy(&v, "-9223372036854775808");
    assert_int_equal(conv_json(fx, &col, json_integer(INT64_MAX), &v), 0);
    assert_true(v.i == INT64_MAX);

    conv_bad(fx, &col, "1.5");
    conv_bad(fx, &col, "1.0");
    conv_bad(fx, &col, "\"5\"");
    conv_bad(fx, &col, "true");
    conv_bad(fx, &col, "[1]");
    conv_bad(fx, &col, "{}");
}

static void test_integer_is_32_bit(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_INTEGER);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "2147483647", &v), 0);
    assert_int_equal(v.kind, FY_V_INT);
    assert_true(v.i == INT32_MAX);
    assert_int_equal(conv(fx, &col, "-2147483648", &v), 0);
    assert_true(v.i == INT32_MIN);
    assert_int_equal(conv(fx, &col, "7", &v), 0);
    assert_copy(&v, "7");

    conv_bad(fx, &col, "2147483648");
    conv_bad(fx, &col, "-2147483649");
    conv_bad(fx, &col, "9223372036854775807");
    conv_bad(fx, &col, "2.5");
    conv_bad(fx, &col, "\"7\"");
}

static void test_double(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_DOUBLE);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "1.5", &v), 0);
    assert_int_equal(v.kind, FY_V_REAL);
    assert_true(v.d == 1.5);
    assert_copy(&v, "1.5");
    assert_int_equal(conv(fx, &col, "-2.5e-3", &v), 0);
    assert_true(v.d == -2.5e-3);
    assert_int_equal(conv(fx, &col, "1.7976931348623157e308", &v), 0);
    assert_true(v.d == 1.7976931348623157e308);
    /* An integer is a fine double. */
    assert_int_equal(conv(fx, &col, "3", &v), 0);
    assert_int_equal(v.kind, FY_V_REAL);
    assert_true(v.d == 3.0);
    /* COPY text reads back as the same double. */
    assert_int_equal(conv(fx, &col, "0.1", &v), 0);
    {
        struct fy_buf b = FY_BUF_INIT(0);

        assert_int_equal(fy_val_copy_text(&b, &v), 0);
        assert_true(strtod(b.data, NULL) == 0.1);
        fy_buf_release(&b);
    }

    conv_bad(fx, &col, "\"1.5\"");
    conv_bad(fx, &col, "true");
    conv_bad(fx, &col, "[]");
}

/* Every double's COPY text is %.17g's and reads back as the same bits. */
static void test_double_copy_exact(void **state)
{
    static const double shown[] = {12.3, 0.05, -2.5,       100,      0,
                                   -0.0, 1e20, 123456.789, 0.1 + 0.2};
    struct fy_buf b = FY_BUF_INIT(0);
    uint64_t x = 88172645463325252ull;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(shown); i++) {
        struct fy_val v = {.kind = FY_V_REAL, .d = shown[i]};
        char want[40];

        snprintf(want, sizeof(want), "%.17g", shown[i]);
        fy_buf_reset(&b);
        assert_int_equal(fy_val_copy_text(&b, &v), 0);
        assert_string_equal(b.data, want);
    }
    for (int i = 0; i < 20000; i++) {
        struct fy_val v = {.kind = FY_V_REAL};
        double back;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        /* Random bits, and decimals of up to 9 digits at every scale. */
        if (i % 2) {
            memcpy(&v.d, &x, sizeof(v.d));
            if (v.d != v.d)
                continue; /* NaN: refused before it gets here */
        } else {
            v.d = (double)(int64_t)(x % 1000000000) /
                  (double)(1ull << (x >> 59)) * (i % 4 ? 1e-3 : 1e3);
        }
        fy_buf_reset(&b);
        assert_int_equal(fy_val_copy_text(&b, &v), 0);
        back = strtod(b.data, NULL);
        assert_memory_equal(&back, &v.d, sizeof(back));
    }
    fy_buf_release(&b);
}

static void test_numeric(void **state)
{
    static const char *const good[] = {
        "\"12345678901234567890.123\"",
        "\"-1e10\"",
        "\"+3\"",
        "\"0.5\"",
        "\".5\"",
        "\"5.\"",
        "\"1E+2\"",
        "\"-0\"",
    };
    static const char *const bad[] = {
        "\"\"",         "\"abc\"", "\"1e\"",  "\"1e+\"",  "\"NaN\"",
        "\"Infinity\"", "\" 1\"",  "\"1 \"",  "\"0x10\"", "\"1.2.3\"",
        "\"-\"",        "\".\"",   "\"1,5\"", "true",     "[1]",
    };
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_NUMERIC);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "12", &v), 0);
    assert_copy(&v, "12");
    assert_int_equal(conv(fx, &col, "-9223372036854775808", &v), 0);
    assert_copy(&v, "-9223372036854775808");
    assert_int_equal(conv(fx, &col, "1.25", &v), 0);
    assert_copy(&v, "1.25");
    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++) {
        size_t n = strlen(good[i]) - 2;

        if (conv(fx, &col, good[i], &v) != 0)
            fail_msg("rejected %s: %s", good[i], fx->why);
        /* A numeric string travels as written, quotes stripped. */
        assert_int_equal(v.kind, FY_V_TEXT);
        assert_int_equal(v.len, n);
        assert_memory_equal(v.s, good[i] + 1, n);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++)
        conv_bad(fx, &col, bad[i]);
}

static void test_boolean(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_BOOLEAN);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "true", &v), 0);
    assert_int_equal(v.kind, FY_V_BOOL);
    assert_true(v.i == 1);
    assert_copy(&v, "t");
    assert_int_equal(conv(fx, &col, "false", &v), 0);
    assert_int_equal(v.kind, FY_V_BOOL);
    assert_true(v.i == 0);
    assert_copy(&v, "f");
    /* SQLite's 0 and 1. */
    assert_int_equal(conv(fx, &col, "1", &v), 0);
    assert_int_equal(v.kind, FY_V_BOOL);
    assert_true(v.i == 1);
    assert_copy(&v, "t");
    assert_int_equal(conv(fx, &col, "0", &v), 0);
    assert_int_equal(v.kind, FY_V_BOOL);
    assert_true(v.i == 0);
    assert_copy(&v, "f");

    conv_bad(fx, &col, "2");
    conv_bad(fx, &col, "-1");
    conv_bad(fx, &col, "1.0");
    conv_bad(fx, &col, "\"true\"");
    conv_bad(fx, &col, "\"t\"");
}

static void test_bytea(void **state)
{
    static const unsigned char want[] = {0x00, 0x01, 0x02, 0xff};
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_BYTEA);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "\"AAEC/w==\"", &v), 0);
    assert_int_equal(v.kind, FY_V_BLOB);
    assert_int_equal(v.len, sizeof(want));
    assert_memory_equal(v.s, want, sizeof(want));
    assert_copy(&v, "\\\\x000102ff");
    assert_int_equal(conv(fx, &col, "\"Zm9vYmFy\"", &v), 0);
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.s, "foobar", 6);
    assert_int_equal(conv(fx, &col, "\"\"", &v), 0);
    assert_int_equal(v.kind, FY_V_BLOB);
    assert_int_equal(v.len, 0);
    assert_copy(&v, "\\\\x");

    conv_bad(fx, &col, "\"AAEC/w=\"");
    conv_bad(fx, &col, "\"not base64!\"");
    conv_bad(fx, &col, "\"AAEC /w==\"");
    conv_bad(fx, &col, "5");
    conv_bad(fx, &col, "[0, 1]");
}

static void test_text(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_TEXT);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "\"h\\u00e9llo\"", &v), 0);
    assert_int_equal(v.kind, FY_V_TEXT);
    assert_int_equal(v.len, 6);
    assert_string_equal(v.s, "h\xc3\xa9llo");
    /* Text is borrowed from the JSON document, not copied. */
    assert_ptr_equal(v.s, json_string_value(fx->keep[fx->nkeep - 1]));
    assert_int_equal(conv(fx, &col, "\"\"", &v), 0);
    assert_int_equal(v.kind, FY_V_TEXT);
    assert_int_equal(v.len, 0);

    conv_bad(fx, &col, "5");
    conv_bad(fx, &col, "true");
    conv_bad(fx, &col, "{\"a\": 1}");
}

static void test_blob_reference(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_TEXT);
    struct fy_val v;

    col.blob_ref = true;
    assert_int_equal(conv(fx, &col,
                          "\"e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855\"",
                          &v),
                     0);
    assert_int_equal(v.kind, FY_V_TEXT);
    assert_int_equal(v.len, 64);
    conv_bad(fx, &col,
             "\"E3B0C44298FC1C149AFBF4C8996FB924"
             "27AE41E4649B934CA495991B7852B855\"");
    conv_bad(fx, &col,
             "\"e3b0c44298fc1c149afbf4c8996fb924"
             "27ae41e4649b934ca495991b7852b85\"");
    conv_bad(fx, &col, "\"photo.jpg\"");
}

static void test_timestamptz(void **state)
{
    static const char *const good[] = {
        "\"2026-01-02T03:04:05Z\"",
        "\"2026-01-02 03:04:05.123+02:00\"",
        "\"2026-01-02\"",
        "\"2026-01-02T03:04:05\"",
        "\"2026-01-02T03:04:05-05:00\"",
        "\"2026-01-02T03:04:05.123456+0530\"",
        "\"2026-01-02T03:04\"",
        "\"2026-12-31T23:59:59Z\"",
    };
    static const char *const bad[] = {
        "\"2026-13-01\"",
        "\"yesterday\"",
        "\"\"",
        "\"2026-00-10\"",
        "\"2026-01-32\"",
        "\"2026-01-00\"",
        "\"26-01-02\"",
        "\"2026/01/02\"",
        "\"2026-01-02T24:00:00Z\"",
        "\"2026-01-02T03:60:00Z\"",
        "\"2026-01-02T03:04:05Zjunk\"",
        "\"2026-01-02T03:04:05.Z\"",
        "\"2026-01-02X03:04:05Z\"",
        "\"2026-01-02T\"",
        "\"2026-01-02T03:04:05+\"",
        "\"2026-01-02 \"",
        "1767323045",
    };
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_TIMESTAMPTZ);
    struct fy_val v;

    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++) {
        if (conv(fx, &col, good[i], &v) != 0)
            fail_msg("rejected %s: %s", good[i], fx->why);
        assert_int_equal(v.kind, FY_V_TEXT);
        assert_int_equal(v.len, strlen(good[i]) - 2);
        assert_memory_equal(v.s, good[i] + 1, v.len);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++)
        conv_bad(fx, &col, bad[i]);
}

static void test_date(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_DATE);
    struct fy_val v;

    assert_int_equal(conv(fx, &col, "\"2026-01-02\"", &v), 0);
    assert_int_equal(v.kind, FY_V_TEXT);
    assert_string_equal(v.s, "2026-01-02");
    assert_copy(&v, "2026-01-02");
    assert_int_equal(conv(fx, &col, "\"2024-02-29\"", &v), 0);

    conv_bad(fx, &col, "\"2026-13-01\"");
    conv_bad(fx, &col, "\"2026-01-02T03:04:05Z\"");
    conv_bad(fx, &col, "\"2026-01-02 \"");
    conv_bad(fx, &col, "\"2026-1-2\"");
    conv_bad(fx, &col, "\"yesterday\"");
    conv_bad(fx, &col, "20260102");
}

static void test_short_date_strings(void **state)
{
    struct fx *fx = *state;
    struct fy_column ts = column(FY_T_TIMESTAMPTZ);
    struct fy_column day = column(FY_T_DATE);

    conv_bad_json(fx, &ts, json_string("2026-"), "2026-");
    conv_bad_json(fx, &ts, json_string("2026-0"), "2026-0");
    conv_bad_json(fx, &day, json_string("2026-"), "2026-");
    conv_bad_json(fx, &day, json_string("2026-0"), "2026-0");
}

static void test_jsonb(void **state)
{
    static const char *const docs[] = {
        "{\"b\": [1, 2.5, null, \"x\\u00e9\"], \"a\": {\"c\": true}}",
        "[]",
        "\"hi\"",
        "5",
        "false",
    };
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_JSONB);

    for (size_t i = 0; i < FY_ARRAY_LEN(docs); i++) {
        json_error_t jerr;
        json_t *orig = json_loads(docs[i], JSON_DECODE_ANY, &jerr);
        json_t *back;
        struct fy_val v;

        assert_non_null(orig);
        assert_int_equal(fy_val_from_json(&col, orig, &fx->arena, &v, fx->why,
                                          sizeof(fx->why)),
                         0);
        assert_int_equal(v.kind, FY_V_TEXT);
        /* The text is the value's own copy, not tied to the document. */
        back = json_loads(docs[i], JSON_DECODE_ANY, &jerr);
        json_decref(orig);
        orig = json_loadb(v.s, v.len, JSON_DECODE_ANY, &jerr);
        if (!orig)
            fail_msg("%s re-serialised as unparsable %.*s", docs[i], (int)v.len,
                     v.s);
        assert_true(json_equal(orig, back));
        assert_int_equal(strlen(v.s), v.len);
        json_decref(orig);
        json_decref(back);
    }
}

static void test_null(void **state)
{
    static const enum fy_type types[] = {FY_T_BIGINT, FY_T_TEXT, FY_T_BYTEA,
                                         FY_T_JSONB,  FY_T_DATE, FY_T_BOOLEAN};
    static char name_due[] = "total_due";
    struct fx *fx = *state;

    for (size_t i = 0; i < FY_ARRAY_LEN(types); i++) {
        struct fy_column col = column(types[i]);
        struct fy_val v;

        assert_int_equal(conv(fx, &col, "null", &v), 0);
        assert_int_equal(v.kind, FY_V_NULL);
        assert_copy(&v, "\\N");

        col.name = name_due;
        col.not_null = true;
        assert_int_equal(conv(fx, &col, "null", &v), FERRY_ECONTRACT);
        assert_non_null(strstr(fx->why, "total_due"));
    }
}

static void test_reason_truncated(void **state)
{
    struct fx *fx = *state;
    struct fy_column col = column(FY_T_BIGINT);
    struct fy_val v;
    char why[8];
    json_t *j = json_string("x");

    memset(why, 'z', sizeof(why));
    assert_int_equal(
        fy_val_from_json(&col, j, &fx->arena, &v, why, sizeof(why)),
        FERRY_ECONTRACT);
    assert_true(memchr(why, '\0', sizeof(why)) != NULL);
    json_decref(j);
}

static void test_copy_text_escapes(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"", ""},
        {"a\\b", "a\\\\b"},
        {"a\tb", "a\\tb"},
        {"a\nb", "a\\nb"},
        {"a\rb", "a\\rb"},
        {"\\\t\n\r", "\\\\\\t\\n\\r"},
        {"\\N", "\\\\N"},
        {"caf\xc3\xa9 ok", "caf\xc3\xa9 ok"},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        struct fy_val v = {
            .kind = FY_V_TEXT, .s = cases[i].in, .len = strlen(cases[i].in)};

        assert_copy(&v, cases[i].want);
    }
}

static void test_copy_text_kinds(void **state)
{
    static const unsigned char bytes[] = {0x00, 0xde, 0xad, 0xbe, 0xef, 0x5c};
    struct fy_val v;
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    v = (struct fy_val){.kind = FY_V_NULL};
    assert_copy(&v, "\\N");
    v = (struct fy_val){.kind = FY_V_INT, .i = -7};
    assert_copy(&v, "-7");
    v = (struct fy_val){.kind = FY_V_BOOL, .i = 1};
    assert_copy(&v, "t");
    v = (struct fy_val){.kind = FY_V_BOOL, .i = 0};
    assert_copy(&v, "f");
    v = (struct fy_val){.kind = FY_V_REAL, .d = -0.5};
    assert_copy(&v, "-0.5");
    v = (struct fy_val){
        .kind = FY_V_BLOB, .s = (const char *)bytes, .len = sizeof(bytes)};
    assert_copy(&v, "\\\\x00deadbeef5c");

    /* Values append; a text with only part of it used stops at len. */
    fy_buf_adds(&b, "1\t");
    v = (struct fy_val){.kind = FY_V_TEXT, .s = "ab\ncd", .len = 3};
    assert_int_equal(fy_val_copy_text(&b, &v), 0);
    fy_buf_addc(&b, '\t');
    v = (struct fy_val){.kind = FY_V_NULL};
    assert_int_equal(fy_val_copy_text(&b, &v), 0);
    assert_string_equal(b.data, "1\tab\\n\t\\N");
    fy_buf_release(&b);
}

static void test_copy_text_limit(void **state)
{
    struct fy_buf b = FY_BUF_INIT(4);
    struct fy_val v = {.kind = FY_V_TEXT, .s = "too long", .len = 8};

    (void)state;
    assert_int_equal(fy_val_copy_text(&b, &v), FERRY_ETOOBIG);
    fy_buf_release(&b);
    fy_buf_init(&b, 4);
    v = (struct fy_val){.kind = FY_V_BLOB, .s = "abc", .len = 3};
    assert_int_equal(fy_val_copy_text(&b, &v), FERRY_ETOOBIG);
    fy_buf_release(&b);
}

static void test_key_text_distinct(void **state)
{
    const struct fy_val vals[] = {
        {.kind = FY_V_INT, .i = 1},
        {.kind = FY_V_TEXT, .s = "1", .len = 1},
        {.kind = FY_V_NULL},
        {.kind = FY_V_TEXT, .s = "", .len = 0},
        {.kind = FY_V_REAL, .d = 1.5},
        {.kind = FY_V_TEXT, .s = "a:b", .len = 3},
        {.kind = FY_V_INT, .i = -1},
        /* raw bytes: these differ only after a NUL */
        {.kind = FY_V_BLOB, .s = "\0\x01", .len = 2},
        {.kind = FY_V_BLOB, .s = "\0\x02", .len = 2},
        {.kind = FY_V_BLOB, .s = "\0", .len = 1},
        {.kind = FY_V_TEXT, .s = "a\0b", .len = 3},
        {.kind = FY_V_TEXT, .s = "a\0c", .len = 3},
    };
    char *keys[FY_ARRAY_LEN(vals)];
    size_t lens[FY_ARRAY_LEN(vals)];

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(vals); i++) {
        struct fy_buf b = FY_BUF_INIT(0);

        assert_int_equal(fy_val_key_text(&b, &vals[i]), 0);
        keys[i] = fy_buf_detach(&b, &lens[i]);
        for (size_t j = 0; j < i; j++) {
            if (lens[i] == lens[j] && memcmp(keys[i], keys[j], lens[i]) == 0)
                fail_msg("values %zu and %zu share key \"%s\"", i, j, keys[i]);
        }
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(vals); i++)
        fy_free(keys[i]);
}

/* A canonical key: bytes that may hold NULs (bytea), len of them. */
struct key {
    char *s;
    size_t len;
};

static bool key_eq(struct key a, struct key b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

/* The canonical key of a JSON value for col, in the fixture's arena. */
static int key_of(struct fx *fx, const struct fy_column *col, const char *text,
                  struct fy_val *v, struct key *key)
{
    struct fy_buf b = FY_BUF_INIT(0);
    size_t bytes = 0;
    int rc = conv(fx, col, text, v);

    if (rc < 0)
        fail_msg("%s for %s: %s", text, fy_type_name(col->type), fx->why);
    rc = fy_val_key_canon(col, v, &fx->arena, &b, &bytes, fx->why,
                          sizeof(fx->why));
    key->s = fy_arena_strndup(&fx->arena, b.data, b.len);
    key->len = b.len;
    fy_buf_release(&b);
    return rc;
}

/*
 * Classes of spellings PostgreSQL holds as one key (checked with psql
 * against PostgreSQL 15): inside a class one key, across classes distinct.
 */
static void test_key_canon_classes(void **state)
{
    static const struct {
        enum fy_type type;
        const char *spellings[8];
    } classes[] = {
        {FY_T_NUMERIC,
         {"1", "\"1.0\"", "\"+1\"", "\"1e0\"", "\"0.1e1\"", "1.0"}},
        {FY_T_NUMERIC, {"0", "\"-0\"", "\"0.000\"", "-0.0", "\"0e99999\""}},
        {FY_T_NUMERIC, {"0.1", "\"0.1\"", "\"0.10\"", "\"1e-1\""}},
        {FY_T_NUMERIC, {"100", "\"1e2\"", "\"00100.00\"", "100.0"}},
        {FY_T_NUMERIC, {"-1", "\"-1.0\""}},
        {FY_T_NUMERIC, {"\"12345678901234567\"", "\"12345678901234567.0\""}},
        {FY_T_NUMERIC, {"\"1.5\""}},
        {FY_T_DOUBLE, {"0.0", "-0.0", "0"}},
        {FY_T_DOUBLE, {"0.1", "0.1000000000000000055511151231257827"}},
        {FY_T_DOUBLE, {"0.2"}},
        {FY_T_TIMESTAMPTZ,
         {"\"2026-01-01 10:00:00\"", "\"2026-01-01T10:00:00\"",
          "\"2026-01-01T10:00:00Z\"", "\"2026-01-01 12:00:00+02\"",
          "\"2026-01-01T05:30:00-0430\"", "\"2026-01-01 10:00:00.0000005\"",
          "\"2026-01-01T11:00:00+01:00\""}},
        {FY_T_TIMESTAMPTZ,
         {"\"2026-01-01 10:00:00.0000015\"", "\"2026-01-01 10:00:00.000002\"",
          "\"2026-01-01 10:00:00.0000025\""}},
        {FY_T_TIMESTAMPTZ, {"\"2026-01-02\"", "\"2026-01-01 23:59:60\""}},
        {FY_T_DATE, {"\"2026-01-01\""}},
        {FY_T_DATE, {"\"2026-01-02\""}},
        {FY_T_JSONB, {"{\"a\":1,\"b\":[2,3.0]}", "{\"b\":[2.0,3],\"a\":1e0}"}},
        {FY_T_JSONB, {"[1.5]"}},
        {FY_T_TEXT, {"\"a\""}},
        {FY_T_TEXT, {"\"A\""}},
        {FY_T_BOOLEAN, {"true", "1"}},
        {FY_T_BOOLEAN, {"false", "0"}},
        /* bytea: raw bytes, so keys that differ only after a NUL byte */
        {FY_T_BYTEA, {"\"AAE=\""}},             /* 00 01 */
        {FY_T_BYTEA, {"\"AAI=\""}},             /* 00 02 */
        {FY_T_BYTEA, {"\"AGE=\""}},             /* 00 61 */
        {FY_T_BYTEA, {"\"AGI=\""}},             /* 00 62 */
        {FY_T_BYTEA, {"\"AA==\""}},             /* 00 */
        {FY_T_BYTEA, {"\"AAA=\""}},             /* 00 00 */
        {FY_T_BYTEA, {"\"AAAA\""}},             /* 00 00 00 */
        {FY_T_BYTEA, {"\"\""}},                 /* empty */
        {FY_T_BYTEA, {"\"YQBi\"", "\"YQBi\""}}, /* 61 00 62 */
        {FY_T_BYTEA, {"\"YQBj\""}},             /* 61 00 63 */
    };
    struct fx *fx = *state;
    struct key first[FY_ARRAY_LEN(classes)];

    for (size_t c = 0; c < FY_ARRAY_LEN(classes); c++) {
        struct fy_column col = column(classes[c].type);

        for (size_t i = 0; classes[c].spellings[i]; i++) {
            struct fy_val v;
            struct key key;

            assert_int_equal(
                key_of(fx, &col, classes[c].spellings[i], &v, &key), 0);
            if (i == 0)
                first[c] = key;
            else if (!key_eq(key, first[c]))
                fail_msg("%s: key %s, not %s as %s", classes[c].spellings[i],
                         key.s, first[c].s, classes[c].spellings[0]);
        }
        for (size_t d = 0; d < c; d++) {
            if (key_eq(first[c], first[d]))
                fail_msg("classes %zu (%s) and %zu (%s) share a key", c,
                         classes[c].spellings[0], d, classes[d].spellings[0]);
        }
    }
}

/* The spelling both stores are given, and what a key may not be. */
static void test_key_canon_spelling(void **state)
{
    static const struct {
        enum fy_type type;
        const char *in, *out; /* out NULL: an integer */
    } cases[] = {
        {FY_T_TIMESTAMPTZ, "\"2026-01-01T12:00:00.250+02:00\"",
         "2026-01-01 10:00:00.25+00:00"},
        {FY_T_TIMESTAMPTZ, "\"2026-03-01T00:30:00+01\"",
         "2026-02-28 23:30:00+00:00"},
        {FY_T_TIMESTAMPTZ, "\"2024-03-01T00:30:00+01\"",
         "2024-02-29 23:30:00+00:00"},
        {FY_T_TIMESTAMPTZ, "\"0001-01-01\"", "0001-01-01 00:00:00+00:00"},
        {FY_T_TIMESTAMPTZ, "\"2026-01-01 10:00:00.1234575\"",
         "2026-01-01 10:00:00.123458+00:00"},
        {FY_T_NUMERIC, "\"-001.2500\"", "-1.25"},
        {FY_T_NUMERIC, "\"1e20\"", "100000000000000000000"},
        {FY_T_NUMERIC, "\"1.5e-3\"", "0.0015"},
        {FY_T_NUMERIC, "0.1", "0.1"},
        {FY_T_NUMERIC, "\"42.000\"", NULL},
        {FY_T_JSONB, "{\"b\":1.0,\"a\":[true,null]}",
         "{\"a\":[true,null],\"b\":1}"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        struct fy_column col = column(cases[i].type);
        struct fy_val v;
        struct key key;

        assert_int_equal(key_of(fx, &col, cases[i].in, &v, &key), 0);
        if (!cases[i].out) {
            assert_int_equal(v.kind, FY_V_INT);
            assert_int_equal(v.i, 42);
            continue;
        }
        assert_int_equal(v.kind, FY_V_TEXT);
        if (v.len != strlen(cases[i].out) ||
            memcmp(v.s, cases[i].out, v.len) != 0)
            fail_msg("%s: \"%.*s\", want \"%s\"", cases[i].in, (int)v.len, v.s,
                     cases[i].out);
    }
}

static void test_key_canon_refused(void **state)
{
    struct fx *fx = *state;
    struct fy_column num = column(FY_T_NUMERIC), ts = column(FY_T_TIMESTAMPTZ),
                     date = column(FY_T_DATE);
    struct fy_val v;
    struct key key;

    /* More digits than a double tells apart, as a key. */
    assert_int_equal(key_of(fx, &num, "\"0.1234567890123456789\"", &v, &key),
                     FERRY_ECONTRACT);
    assert_non_null(strstr(fx->why, "15 significant digits"));
    assert_int_equal(key_of(fx, &num, "\"123456789012345678901\"", &v, &key),
                     FERRY_ECONTRACT);
    /* Any value: beyond the double range, or years outside 1 to 9999. */
    conv_bad(fx, &num, "\"1e999999\"");
    conv_bad(fx, &num, "\"-1e309\"");
    conv_bad(fx, &num, "\"1e-400\"");
    conv_bad(fx, &ts, "\"0000-01-01 10:00:00\"");
    conv_bad(fx, &ts, "\"0001-01-01 00:00:00+01\"");
    conv_bad(fx, &ts, "\"9999-12-31 23:59:59.9999995\"");
    conv_bad(fx, &date, "\"0000-01-01\"");
    assert_int_equal(conv(fx, &num, "\"1e308\"", &v), 0);
    assert_int_equal(conv(fx, &ts, "\"9999-12-31 23:59:59.9999994\"", &v), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_bigint),
        T(test_integer_is_32_bit),
        T(test_double),
        T(test_numeric),
        T(test_boolean),
        T(test_bytea),
        T(test_text),
        T(test_blob_reference),
        T(test_timestamptz),
        T(test_date),
        T(test_short_date_strings),
        T(test_jsonb),
        T(test_null),
        T(test_reason_truncated),
        T(test_double_copy_exact),
        T(test_copy_text_escapes),
        T(test_copy_text_kinds),
        T(test_copy_text_limit),
        T(test_key_text_distinct),
        T(test_key_canon_classes),
        T(test_key_canon_spelling),
        T(test_key_canon_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
