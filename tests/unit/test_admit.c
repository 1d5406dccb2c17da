/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for per-key admission (lib/server/admit.h): the token bucket
 * with its Retry-After, the bound on requests in flight, one key's own
 * limits, keys not slowing each other, and a key's pushes taking turns.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/admit.h"
#include "fy.h"

#define KA "0123456789abcdef"
#define KB "fedcba9876543210"

static struct fy_admit *made(double rate, double burst, unsigned conc)
{
    struct fy_admit_limits lim = {rate, burst, conc};
    struct fy_admit *a = NULL;
    struct ferry_err err = {0};

    assert_int_equal(fy_admit_new(&lim, NULL, 0, &a, &err), 0);
    return a;
}

static int enter(struct fy_admit *a, const char *id, double now, int *retry)
{
    struct ferry_err err = {0};
    int rc = fy_admit_enter(a, id, now, retry, &err);

    if (rc < 0)
        assert_int_equal(err.code, FERRY_ERATELIMIT);
    return rc;
}

static void test_bucket_refuses_then_refills(void **state)
{
    struct fy_admit *a = made(2, 4, 0); /* 2 a second, 4 at once */
    int retry = -1;

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(enter(a, KA, 100.0, &retry), 0);
        fy_admit_leave(a, KA);
    }
    assert_int_equal(enter(a, KA, 100.0, &retry), FERRY_ERATELIMIT);
    assert_int_equal(retry, 1); /* half a second, rounded up */
    /* Half a second later one token is back, and only one. */
    assert_int_equal(enter(a, KA, 100.5, &retry), 0);
    fy_admit_leave(a, KA);
    assert_int_equal(enter(a, KA, 100.5, &retry), FERRY_ERATELIMIT);
    /* A refused request spends nothing: ten seconds later, a full burst. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(enter(a, KA, 110.0, &retry), 0);
        fy_admit_leave(a, KA);
    }
    assert_int_equal(enter(a, KA, 110.0, &retry), FERRY_ERATELIMIT);
    assert_int_equal(fy_admit_refused(a), 3);
    fy_admit_free(a);
}

static void test_retry_after_is_the_wait(void **state)
{
    struct fy_admit *a = made(0.1, 1, 0); /* one per ten seconds */
    int retry = 0;

    (void)state;
    assert_int_equal(enter(a, KA, 5.0, &retry), 0);
    fy_admit_leave(a, KA);
    assert_int_equal(enter(a, KA, 5.0, &retry), FERRY_ERATELIMIT);
    assert_int_equal(retry, 10);
    assert_int_equal(enter(a, KA, 12.5, &retry), FERRY_ERATELIMIT);
    assert_int_equal(retry, 3); /* 2.5 s left, rounded up */
    assert_int_equal(enter(a, KA, 15.0, &retry), 0);
    fy_admit_leave(a, KA);
    fy_admit_free(a);
}

static void test_keys_are_separate(void **state)
{
    struct fy_admit *a = made(1, 1, 0);
    int retry;

    (void)state;
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    assert_int_equal(enter(a, KA, 1.0, &retry), FERRY_ERATELIMIT);
    /* Another key is not slowed by the first one's flood. */
    assert_int_equal(enter(a, KB, 1.0, &retry), 0);
    fy_admit_leave(a, KA);
    fy_admit_leave(a, KB);
    fy_admit_free(a);
}

static void test_concurrent_bound(void **state)
{
    struct fy_admit *a = made(0, 0, 2); /* no rate, two at once */
    int retry;

    (void)state;
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    assert_int_equal(enter(a, KA, 1.0, &retry), FERRY_ERATELIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(enter(a, KB, 1.0, &retry), 0);
    fy_admit_leave(a, KA);
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    fy_admit_leave(a, KA);
    fy_admit_leave(a, KA);
    fy_admit_leave(a, KB);
    /* Without a rate, any number one after another. */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(enter(a, KA, 1.0, &retry), 0);
        fy_admit_leave(a, KA);
    }
    fy_admit_free(a);
}

static void test_override(void **state)
{
    struct fy_admit_limits lim = {1, 1, 0};
    struct fy_admit_override ov = {.key_id = KB, .lim = {0, 0, 0}};
    struct fy_admit *a = NULL;
    struct ferry_err err = {0};
    int retry;

    (void)state;
    assert_int_equal(fy_admit_new(&lim, &ov, 1, &a, &err), 0);
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    fy_admit_leave(a, KA);
    assert_int_equal(enter(a, KA, 1.0, &retry), FERRY_ERATELIMIT);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(enter(a, KB, 1.0, &retry), 0);
        fy_admit_leave(a, KB);
    }
    fy_admit_free(a);
}

static void test_null_admits(void **state)
{
    struct ferry_err err = {0};
    int retry = 7;

    (void)state;
    assert_int_equal(fy_admit_enter(NULL, KA, 1.0, &retry, &err), 0);
    assert_int_equal(retry, 0);
    fy_admit_leave(NULL, KA);
    assert_int_equal(fy_admit_push_begin(NULL, KA, 10, &err), 0);
    fy_admit_push_end(NULL, KA);
    assert_int_equal(fy_admit_refused(NULL), 0);
}

struct pusher {
    struct fy_admit *a;
    int rc;
    double waited;
};

static void *second_push(void *arg)
{
    struct pusher *p = arg;
    struct ferry_err err = {0};
    double t0 = fy_mono_s();

    p->rc = fy_admit_push_begin(p->a, KA, 5000, &err);
    p->waited = fy_mono_s() - t0;
    if (p->rc == 0)
        fy_admit_push_end(p->a, KA);
    return NULL;
}

static void test_pushes_take_turns(void **state)
{
    struct fy_admit *a = made(0, 0, 0);
    struct pusher p = {a, -1, 0};
    struct ferry_err err = {0};
    pthread_t t;
    int retry;

    (void)state;
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    assert_int_equal(enter(a, KA, 1.0, &retry), 0);
    assert_int_equal(fy_admit_push_begin(a, KA, 1000, &err), 0);
    /* Another key's push does not wait for this one. */
    assert_int_equal(enter(a, KB, 1.0, &retry), 0);
    assert_int_equal(fy_admit_push_begin(a, KB, 0, &err), 0);
    fy_admit_push_end(a, KB);
    fy_admit_leave(a, KB);
    assert_int_equal(pthread_create(&t, NULL, second_push, &p), 0);
    fy_sleep_ms(200);
    fy_admit_push_end(a, KA);
    pthread_join(t, NULL);
    assert_int_equal(p.rc, 0);
    assert_true(p.waited >= 0.15);
    /* A turn held past the wait: refused with its own message. */
    assert_int_equal(fy_admit_push_begin(a, KA, 1000, &err), 0);
    assert_int_equal(fy_admit_push_begin(a, KA, 50, &err), FERRY_ERATELIMIT);
    assert_non_null(strstr(err.msg, "another push"));
    fy_admit_push_end(a, KA);
    fy_admit_leave(a, KA);
    fy_admit_leave(a, KA);
    fy_admit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_refuses_then_refills),
        cmocka_unit_test(test_retry_after_is_the_wait),
        cmocka_unit_test(test_keys_are_separate),
        cmocka_unit_test(test_concurrent_bound),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_null_admits),
        cmocka_unit_test(test_pushes_take_turns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
