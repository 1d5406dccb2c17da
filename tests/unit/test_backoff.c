/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for retry delays (lib/core/backoff.h): equal-jitter bounds,
 * doubling up to the cap, Retry-After as a floor clamped at max_hint_ms, and
 * reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/backoff.h"
#include "fy.h"

/* The ceiling the header promises for a given attempt. */
static int64_t ceiling(int64_t base, int64_t cap, int attempt)
{
    int64_t c = base;

    for (int i = 0; i < attempt && c < cap; i++)
        c *= 2;
    return c < cap ? c : cap;
}

static void check_delay(int64_t d, int64_t lo, int64_t hi)
{
    if (d < lo || d > hi)
        fail_msg("delay %lld outside [%lld, %lld]", (long long)d, (long long)lo,
                 (long long)hi);
}

static void test_delays_within_bounds(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct fy_backoff b;

        fy_backoff_init(&b, 100, 30000, seed);
        for (int k = 0; k < 20; k++) {
            int64_t c = ceiling(100, 30000, k);

            check_delay(fy_backoff_next(&b, -1), c / 2, c);
        }
    }
}

static void test_growth_doubles_to_cap(void **state)
{
    static const int64_t want[] = {250,  500,  1000, 2000,
                                   4000, 5000, 5000, 5000};
    int64_t lo[FY_ARRAY_LEN(want)], hi[FY_ARRAY_LEN(want)];

    (void)state;
    for (size_t k = 0; k < FY_ARRAY_LEN(want); k++) {
        lo[k] = INT64_MAX;
        hi[k] = 0;
    }
    for (uint64_t seed = 1; seed <= 500; seed++) {
        struct fy_backoff b;

        fy_backoff_init(&b, 250, 5000, seed * 7919);
        for (size_t k = 0; k < FY_ARRAY_LEN(want); k++) {
            int64_t d = fy_backoff_next(&b, -1);

            check_delay(d, want[k] / 2, want[k]);
            lo[k] = d < lo[k] ? d : lo[k];
            hi[k] = d > hi[k] ? d : hi[k];
        }
    }
    /* Over many seeds the jitter covers most of each [ceil/2, ceil]. */
    for (size_t k = 0; k < FY_ARRAY_LEN(want); k++) {
        assert_true(lo[k] < want[k] / 2 + want[k] / 10);
        assert_true(hi[k] > want[k] - want[k] / 10);
    }
}

static void test_cap_holds_for_many_attempts(void **state)
{
    struct fy_backoff b;

    (void)state;
    fy_backoff_init(&b, 1000, 60000, 42);
    for (int k = 0; k < 6; k++)
        fy_backoff_next(&b, -1); /* 1 s .. 32 s */
    /* From here on, and long after 2^k overflows, the cap is the ceiling. */
    for (int k = 6; k < 500; k++)
        check_delay(fy_backoff_next(&b, -1), 30000, 60000);
}

static void test_jitter_spreads(void **state)
{
    int64_t first = -1;
    bool differ = false;

    (void)state;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        struct fy_backoff b;
        int64_t d = 0;

        fy_backoff_init(&b, 1000, 1000000, seed);
        for (int k = 0; k < 5; k++)
            d = fy_backoff_next(&b, -1);
        if (first < 0)
            first = d;
        else if (d != first)
            differ = true;
    }
    assert_true(differ);
}

static void test_same_seed_same_delays(void **state)
{
    struct fy_backoff a, b;

    (void)state;
    fy_backoff_init(&a, 100, 10000, 12345);
    fy_backoff_init(&b, 100, 10000, 12345);
    for (int k = 0; k < 30; k++)
        assert_int_equal(fy_backoff_next(&a, -1), fy_backoff_next(&b, -1));
}

static void test_seed_zero_still_random(void **state)
{
    struct fy_backoff b;
    int64_t first;
    bool differ = false;

    (void)state;
    fy_backoff_init(&b, 1000, 1000, 0);
    first = fy_backoff_next(&b, -1);
    check_delay(first, 500, 1000);
    for (int k = 0; k < 50; k++) {
        int64_t d = fy_backoff_next(&b, -1);

        check_delay(d, 500, 1000);
        differ |= d != first;
    }
    assert_true(differ);
}

static void test_retry_after_is_a_floor(void **state)
{
    struct fy_backoff b;

    (void)state;
    fy_backoff_init(&b, 100, 10000, 9);
    /* Longer than the backoff: the server's value wins exactly. */
    assert_int_equal(fy_backoff_next(&b, 7000), 7000);
    /* Shorter than the backoff (ceil 200): the backoff wins. */
    check_delay(fy_backoff_next(&b, 1), 100, 200);
    /* Zero means "now", which is still only a floor. */
    check_delay(fy_backoff_next(&b, 0), 200, 400);
    /* The Retry-After attempt still counted towards growth. */
    check_delay(fy_backoff_next(&b, -1), 400, 800);
}

static void test_retry_after_clamped(void **state)
{
    struct fy_backoff b;
    int64_t d;

    (void)state;
    fy_backoff_init(&b, 100, 10000, 3);
    assert_true(b.max_hint_ms > 0);
    d = fy_backoff_next(&b, INT64_MAX);
    assert_true(d <= b.max_hint_ms);
    assert_true(d >= 100 / 2);

    fy_backoff_init(&b, 100, 10000, 3);
    b.max_hint_ms = 60000;
    assert_int_equal(fy_backoff_next(&b, 3600000), 60000);
    assert_int_equal(fy_backoff_next(&b, 60001), 60000);
    assert_int_equal(fy_backoff_next(&b, 60000), 60000);
    assert_int_equal(fy_backoff_next(&b, 59999), 59999);
}

static void test_reset(void **state)
{
    struct fy_backoff b;

    (void)state;
    fy_backoff_init(&b, 100, 100000, 77);
    for (int k = 0; k < 10; k++)
        fy_backoff_next(&b, -1);
    check_delay(fy_backoff_next(&b, -1), 50000, 100000);
    fy_backoff_reset(&b);
    check_delay(fy_backoff_next(&b, -1), 50, 100);
    check_delay(fy_backoff_next(&b, -1), 100, 200);
    check_delay(fy_backoff_next(&b, -1), 200, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays_within_bounds),
        cmocka_unit_test(test_growth_doubles_to_cap),
        cmocka_unit_test(test_cap_holds_for_many_attempts),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_same_seed_same_delays),
        cmocka_unit_test(test_seed_zero_still_random),
        cmocka_unit_test(test_retry_after_is_a_floor),
        cmocka_unit_test(test_retry_after_clamped),
        cmocka_unit_test(test_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
