/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for hybrid logical clock stamps (lib/core/hlc.h): monotonicity
 * against a misbehaving wall clock, observe(), and the hex wire form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hlc.h"
#include "fy.h"

#define MS(x) ((uint64_t)(x) << 16)

static void test_first_stamp_is_wall_time(void **state)
{
    uint64_t last = 0;
    uint64_t h = fy_hlc_next(&last, 1700000000000);

    (void)state;
    assert_true(h == MS(1700000000000));
    assert_true(last == h);
    assert_int_equal(fy_hlc_ms(h), 1700000000000);
}

static void test_counter_within_same_ms(void **state)
{
    uint64_t last = 0;
    uint64_t a = fy_hlc_next(&last, 5000);
    uint64_t b = fy_hlc_next(&last, 5000);
    uint64_t c = fy_hlc_next(&last, 5000);

    (void)state;
    assert_true(a == MS(5000));
    assert_true(b == a + 1);
    assert_true(c == a + 2);
    assert_int_equal(fy_hlc_ms(c), 5000);
}

static void test_never_below_wall(void **state)
{
    uint64_t last = 0;
    uint64_t h;

    (void)state;
    for (int i = 0; i < 10; i++)
        fy_hlc_next(&last, 1000);
    /* Wall time moved on: the stamp jumps to it and the counter restarts. */
    h = fy_hlc_next(&last, 2000);
    assert_true(h >= MS(2000));
    assert_true(h == MS(2000));
    assert_int_equal(fy_hlc_ms(h), 2000);
    h = fy_hlc_next(&last, 2001);
    assert_true(h == MS(2001));
}

static void test_monotonic_when_clock_steps_back(void **state)
{
    static const int64_t walls[] = {10000, 10005, 9000,  9000,  0,
                                    -5,    10005, 10004, 10006, 1};
    uint64_t last = 0, prev = 0;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(walls); i++) {
        uint64_t h = fy_hlc_next(&last, walls[i]);

        assert_true(h > prev);
        assert_true(last == h);
        if (walls[i] > 0)
            assert_true(h >= MS(walls[i]));
        prev = h;
    }
    /* After the step back the stamps stayed on the latest time seen. */
    assert_int_equal(fy_hlc_ms(prev), 10006);
}

static void test_counter_overflow_stays_monotonic(void **state)
{
    uint64_t last = MS(7000) | 0xffffu;
    uint64_t before = last;
    uint64_t h = fy_hlc_next(&last, 7000);

    (void)state;
    assert_true(h > before);
    assert_true(fy_hlc_ms(h) >= 7000);
    assert_true(fy_hlc_next(&last, 7000) > h);
}

static void test_observe(void **state)
{
    uint64_t last = 0;
    uint64_t remote = MS(90000) + 7;
    uint64_t h;

    (void)state;
    fy_hlc_next(&last, 1000);
    fy_hlc_observe(&last, remote);
    h = fy_hlc_next(&last, 1000);
    assert_true(h > remote);

    /* An older remote stamp never moves the clock back. */
    fy_hlc_observe(&last, MS(5));
    assert_true(fy_hlc_next(&last, 1000) > h);

    /* A remote stamp in our past changes nothing. */
    last = MS(50000);
    fy_hlc_observe(&last, MS(40000));
    assert_true(fy_hlc_next(&last, 0) == MS(50000) + 1);
}

static void test_format(void **state)
{
    char out[FY_HLC_STRLEN + 1];

    (void)state;
    fy_hlc_format(0, out);
    assert_string_equal(out, "0000000000000000");
    fy_hlc_format(0x0123456789abcdefull, out);
    assert_string_equal(out, "0123456789abcdef");
    fy_hlc_format(MS(1700000000000) + 3, out);
    assert_string_equal(out, "018bcfe568000003");
    fy_hlc_format((uint64_t)INT64_MAX, out);
    assert_string_equal(out, "7fffffffffffffff");
    assert_int_equal(strlen(out), FY_HLC_STRLEN);
}

static void test_format_sorts_like_numbers(void **state)
{
    static const uint64_t v[] = {0,
                                 1,
                                 15,
                                 16,
                                 0xffff,
                                 0x10000,
                                 MS(1000),
                                 MS(1000) + 1,
                                 0x7fffffffffffffffull};
    char a[FY_HLC_STRLEN + 1], b[FY_HLC_STRLEN + 1];

    (void)state;
    for (size_t i = 0; i + 1 < FY_ARRAY_LEN(v); i++) {
        fy_hlc_format(v[i], a);
        fy_hlc_format(v[i + 1], b);
        assert_true(strcmp(a, b) < 0);
    }
}

static void test_parse_roundtrip(void **state)
{
    static const uint64_t v[] = {0, 1, 0xabcdef, MS(1700000000000) + 42,
                                 0x7fffffffffffffffull};

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(v); i++) {
        char s[FY_HLC_STRLEN + 1];
        uint64_t got = ~(uint64_t)0;

        fy_hlc_format(v[i], s);
        assert_int_equal(fy_hlc_parse(s, &got), 0);
        assert_true(got == v[i]);
    }
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "000000000000001",   /* 15 digits */
        "00000000000000001", /* 17 digits */
        "000000000000000g",
        "00000000000000 1",
        " 000000000000001",
        "0x00000000000001",
        "-000000000000001",
        "8000000000000000", /* INT64_MAX + 1 */
        "ffffffffffffffff",
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        uint64_t got = 0;

        if (fy_hlc_parse(bad[i], &got) != FERRY_EPARSE)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_stamp_is_wall_time),
        cmocka_unit_test(test_counter_within_same_ms),
        cmocka_unit_test(test_never_below_wall),
        cmocka_unit_test(test_monotonic_when_clock_steps_back),
        cmocka_unit_test(test_counter_overflow_stays_monotonic),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_sorts_like_numbers),
        cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_parse_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
