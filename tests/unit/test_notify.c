/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the wake-ups of waiting pulls (lib/server/notify.h): a
 * bump wakes a waiter at once, a wait without one ends at its timeout,
 * quiescing wakes every waiter for good. Real threads; no store (the
 * listener thread is covered by the e2e scenario 109 on PostgreSQL).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/notify.h"
#include "fy.h"

struct waiter {
    struct fy_notify *n;
    uint64_t seen, got;
    int64_t ms;
    double took;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    double t0 = fy_mono_s();

    w->got = fy_notify_wait(w->n, w->seen, w->ms);
    w->took = fy_mono_s() - t0;
    return NULL;
}

static struct fy_notify *start(void)
{
    struct fy_notify *n = NULL;

    assert_int_equal(fy_notify_start(NULL, &n, NULL), 0);
    assert_non_null(n);
    return n;
}

/* A bump wakes a waiter long before its timeout, with the new generation. */
static void test_bump_wakes(void **state)
{
    struct fy_notify *n = start();
    struct waiter w = {.n = n, .ms = 10000};
    pthread_t t;

    (void)state;
    w.seen = fy_notify_gen(n);
    assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
    fy_sleep_ms(50);
    fy_notify_bump(n);
    pthread_join(t, NULL);
    assert_int_equal(w.got, w.seen + 1);
    assert_true(w.took < 5.0);
    fy_notify_stop(n);
}

/* A generation already past is no wait at all; none coming is the timeout. */
static void test_timeout_and_past(void **state)
{
    struct fy_notify *n = start();
    uint64_t g = fy_notify_gen(n);
    double t0 = fy_mono_s();

    (void)state;
    fy_notify_bump(n);
    assert_int_equal(fy_notify_wait(n, g, 10000), g + 1);
    assert_true(fy_mono_s() - t0 < 5.0);
    t0 = fy_mono_s();
    assert_int_equal(fy_notify_wait(n, g + 1, 100), g + 1);
    assert_true(fy_mono_s() - t0 >= 0.09);
    fy_notify_stop(n);
}

/* Quiescing wakes every waiter, and later waits return at once. */
static void test_quiesce(void **state)
{
    struct fy_notify *n = start();
    struct waiter w[3];
    pthread_t t[3];

    (void)state;
    for (int i = 0; i < 3; i++) {
        w[i] = (struct waiter){.n = n, .seen = fy_notify_gen(n), .ms = 30000};
        assert_int_equal(pthread_create(&t[i], NULL, wait_main, &w[i]), 0);
    }
    fy_sleep_ms(50);
    assert_false(fy_notify_quiescing(n));
    fy_notify_quiesce(n);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].took < 10.0);
    }
    assert_true(fy_notify_quiescing(n));
    assert_int_equal(fy_notify_wait(n, fy_notify_gen(n), 30000),
                     fy_notify_gen(n));
    fy_notify_stop(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump_wakes),
        cmocka_unit_test(test_timeout_and_past),
        cmocka_unit_test(test_quiesce),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
