/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for struct fy_buf (lib/util/buf.h): appends, growth, the sticky
 * error and its max limit, detach/reset/release and identifier quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "fy.h"

static void test_init_is_empty(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    struct fy_buf c;

    (void)state;
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(fy_buf_error(&b), 0);

    fy_buf_init(&c, 7);
    assert_non_null(c.data);
    assert_string_equal(c.data, "");
    assert_int_equal(c.len, 0);
    assert_int_equal(c.max, 7);
    assert_int_equal(fy_buf_error(&c), 0);

    /* Releasing a buffer that never allocated is fine. */
    fy_buf_release(&b);
    fy_buf_release(&c);
    assert_string_equal(b.data, "");
}

static void test_appends(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    assert_int_equal(fy_buf_add(&b, "abc", 3), 0);
    assert_int_equal(fy_buf_adds(&b, "def"), 0);
    assert_int_equal(fy_buf_addc(&b, 'g'), 0);
    assert_int_equal(fy_buf_add(&b, "", 0), 0);
    assert_int_equal(fy_buf_adds(&b, ""), 0);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "abcdefg");

    /* Bytes, not strings: an embedded NUL is kept and data stays NUL-ended. */
    assert_int_equal(fy_buf_add(&b, "x\0y", 3), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "abcdefgx\0y", 11);
    assert_int_equal(fy_buf_error(&b), 0);
    fy_buf_release(&b);
}

static void test_addc_many(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char want[1001];

    (void)state;
    for (int i = 0; i < 1000; i++) {
        want[i] = (char)('a' + i % 26);
        assert_int_equal(fy_buf_addc(&b, want[i]), 0);
    }
    want[1000] = '\0';
    assert_int_equal(b.len, 1000);
    assert_string_equal(b.data, want);
    fy_buf_release(&b);
}

/* addf of a string of exactly n characters, onto a buffer holding pre. */
static void check_addf_len(const char *pre, size_t n)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char arg[300], want[400];

    assert_true(n < sizeof(arg));
    memset(arg, 'x', n);
    arg[n] = '\0';
    snprintf(want, sizeof(want), "%s[%s]", pre, arg);
    fy_buf_adds(&b, pre);
    assert_int_equal(fy_buf_addf(&b, "[%s]", arg), 0);
    assert_int_equal(b.len, strlen(want));
    assert_string_equal(b.data, want);
    assert_int_equal(fy_buf_error(&b), 0);
    fy_buf_release(&b);
}

static void test_addf_growth(void **state)
{
    static const size_t lens[] = {0,   1,   60,  61,  62,  63,  64, 65,
                                  125, 126, 127, 128, 129, 200, 255};

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(lens); i++) {
        check_addf_len("", lens[i]);
        check_addf_len("prefix:", lens[i]);
    }
}

static void test_addf_many(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char want[2048];
    size_t n = 0;

    (void)state;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(fy_buf_addf(&b, "%d,", i), 0);
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%d,", i);
    }
    assert_int_equal(b.len, n);
    assert_string_equal(b.data, want);
    fy_buf_release(&b);
}

static void test_grow_keeps_content(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_buf_adds(&b, "keep");
    assert_int_equal(fy_buf_grow(&b, 1000), 0);
    assert_true(b.cap >= 4 + 1000 + 1);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    assert_int_equal(fy_buf_error(&b), 0);

    /* An impossible size fails and the failure sticks. */
    assert_int_equal(fy_buf_grow(&b, SIZE_MAX), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_error(&b), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_adds(&b, "x"), FERRY_ETOOBIG);
    assert_string_equal(b.data, "keep");
    fy_buf_release(&b);
}

static void test_max_allows_exactly_max(void **state)
{
    struct fy_buf b = FY_BUF_INIT(10);

    (void)state;
    assert_int_equal(fy_buf_adds(&b, "12345"), 0);
    assert_int_equal(fy_buf_addf(&b, "%d", 678), 0);
    assert_int_equal(fy_buf_add(&b, "9", 1), 0);
    assert_int_equal(fy_buf_addc(&b, '0'), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(fy_buf_error(&b), 0);
    fy_buf_release(&b);
}

static void test_max_sticky_error(void **state)
{
    struct fy_buf b = FY_BUF_INIT(10);

    (void)state;
    assert_int_equal(fy_buf_adds(&b, "1234567"), 0);
    assert_int_equal(fy_buf_adds(&b, "8901"), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_error(&b), FERRY_ETOOBIG);
    assert_string_equal(b.data, "1234567");

    /* Every later append is a no-op returning the first error. */
    assert_int_equal(fy_buf_add(&b, "a", 1), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_adds(&b, "b"), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_addc(&b, 'c'), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_addf(&b, "%s", "d"), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_add_ident(&b, "e"), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_grow(&b, 1), FERRY_ETOOBIG);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "1234567");
    assert_int_equal(fy_buf_error(&b), FERRY_ETOOBIG);

    /* reset clears the error and the limit still applies. */
    fy_buf_reset(&b);
    assert_int_equal(fy_buf_error(&b), 0);
    assert_int_equal(fy_buf_adds(&b, "0123456789"), 0);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(fy_buf_adds(&b, "x"), FERRY_ETOOBIG);
    fy_buf_release(&b);
}

static void test_max_addc_past_limit(void **state)
{
    struct fy_buf b = FY_BUF_INIT(10);

    (void)state;
    assert_int_equal(fy_buf_adds(&b, "1234567890"), 0);
    assert_int_equal(fy_buf_addc(&b, 'x'), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_error(&b), FERRY_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "1234567890");
    fy_buf_release(&b);
}

static void test_max_addf_past_limit(void **state)
{
    struct fy_buf b = FY_BUF_INIT(10);

    (void)state;
    assert_int_equal(fy_buf_adds(&b, "12345"), 0);
    assert_int_equal(fy_buf_addf(&b, "%s", "678901"), FERRY_ETOOBIG);
    assert_int_equal(fy_buf_error(&b), FERRY_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    fy_buf_release(&b);
}

static void test_reset_keeps_allocation(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *data;
    size_t cap;

    (void)state;
    fy_buf_adds(&b, "some text that is here");
    data = b.data;
    cap = b.cap;
    fy_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(fy_buf_adds(&b, "again"), 0);
    assert_string_equal(b.data, "again");

    /* Resetting a buffer that never allocated keeps it empty. */
    fy_buf_release(&b);
    fy_buf_reset(&b);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    fy_buf_release(&b);
}

static void test_detach(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    size_t len = 99;
    char *p;

    (void)state;
    fy_buf_adds(&b, "hello");
    fy_buf_add(&b, "\0!", 2);
    p = fy_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 7);
    assert_memory_equal(p, "hello\0!", 8);
    fy_free(p);

    /* b is back to its initial state and usable. */
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(fy_buf_error(&b), 0);
    fy_buf_adds(&b, "next");
    p = fy_buf_detach(&b, NULL);
    assert_string_equal(p, "next");
    fy_free(p);

    /* Detaching an empty buffer still gives an owned "" string. */
    p = fy_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    fy_free(p);
    fy_buf_release(&b);
}

static void test_release(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_buf_adds(&b, "to be freed, long enough to need its own allocation "
                    "beyond the first sixty-four bytes");
    fy_buf_release(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(fy_buf_error(&b), 0);

    /* A released buffer can be released again or reused. */
    fy_buf_release(&b);
    assert_int_equal(fy_buf_adds(&b, "reuse"), 0);
    assert_string_equal(b.data, "reuse");
    fy_buf_release(&b);
}

static void check_ident(const char *in, const char *want)
{
    struct fy_buf b = FY_BUF_INIT(0);

    assert_int_equal(fy_buf_add_ident(&b, in), 0);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    fy_buf_release(&b);
}

static void test_add_ident(void **state)
{
    (void)state;
    check_ident("orders", "\"orders\"");
    check_ident("", "\"\"");
    check_ident("a\"b", "\"a\"\"b\"");
    check_ident("\"", "\"\"\"\"");
    check_ident("\"\"x\"", "\"\"\"\"\"x\"\"\"");
    check_ident("has space", "\"has space\"");
}

static void test_add_ident_appends(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_buf_adds(&b, "SELECT ");
    fy_buf_add_ident(&b, "we\"ird");
    fy_buf_adds(&b, " FROM ");
    assert_int_equal(fy_buf_add_ident(&b, "t"), 0);
    assert_string_equal(b.data, "SELECT \"we\"\"ird\" FROM \"t\"");
    fy_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_addc_many),
        cmocka_unit_test(test_addf_growth),
        cmocka_unit_test(test_addf_many),
        cmocka_unit_test(test_grow_keeps_content),
        cmocka_unit_test(test_max_allows_exactly_max),
        cmocka_unit_test(test_max_sticky_error),
        cmocka_unit_test(test_max_addc_past_limit),
        cmocka_unit_test(test_max_addf_past_limit),
        cmocka_unit_test(test_reset_keeps_allocation),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_add_ident),
        cmocka_unit_test(test_add_ident_appends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
