/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the bump allocator (lib/util/arena.h): alignment, limits,
 * calloc/strndup and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"
#include "fy.h"

static bool aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

static void test_alloc_aligned(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 100, 1};
    struct fy_arena a = FY_ARENA_INIT(0);
    unsigned char *p[FY_ARRAY_LEN(sizes)];

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(sizes); i++) {
        p[i] = fy_arena_alloc(&a, sizes[i]);
        assert_non_null(p[i]);
        assert_true(aligned16(p[i]));
        memset(p[i], (int)i + 1, sizes[i]);
    }
    /* No allocation overlaps another: each still holds its own pattern. */
    for (size_t i = 0; i < FY_ARRAY_LEN(sizes); i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(p[i][j], i + 1);
    }
    fy_arena_reset(&a);
}

static void test_alloc_large_and_many(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    unsigned char *big, *small[2000];

    (void)state;
    /* Larger than any sensible chunk, then enough small ones to spill. */
    big = fy_arena_alloc(&a, 300 * 1024);
    assert_non_null(big);
    assert_true(aligned16(big));
    memset(big, 0xab, 300 * 1024);
    for (size_t i = 0; i < FY_ARRAY_LEN(small); i++) {
        small[i] = fy_arena_alloc(&a, 40);
        assert_non_null(small[i]);
        assert_true(aligned16(small[i]));
        memset(small[i], (int)(i & 0xff), 40);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(small); i++)
        assert_int_equal(small[i][39], i & 0xff);
    assert_int_equal(big[0], 0xab);
    assert_int_equal(big[300 * 1024 - 1], 0xab);
    assert_true(a.used >= 300 * 1024 + 2000 * 40);
    fy_arena_reset(&a);
}

static void test_alloc_zero(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    void *p = fy_arena_alloc(&a, 0);
    void *q = fy_arena_alloc(&a, 16);

    (void)state;
    /* A zero-size request must not break later allocations. */
    if (p)
        assert_true(aligned16(p));
    assert_non_null(q);
    assert_true(aligned16(q));
    memset(q, 1, 16);
    fy_arena_reset(&a);
}

static void test_zeroed_calloc(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    unsigned char *dirty;
    int64_t *v;

    (void)state;
    /* Dirty the memory first so zeroing is really checked after reset. */
    dirty = fy_arena_alloc(&a, 800);
    assert_non_null(dirty);
    memset(dirty, 0xff, 800);
    fy_arena_reset(&a);
    v = fy_arena_calloc(&a, 100, sizeof(*v));
    assert_non_null(v);
    assert_true(aligned16(v));
    for (int i = 0; i < 100; i++)
        assert_int_equal(v[i], 0);

    /* n * size overflowing size_t is refused, not wrapped. */
    assert_null(fy_arena_calloc(&a, SIZE_MAX / 2, 4));
    assert_null(fy_arena_calloc(&a, (SIZE_MAX >> 8) + 1, 512));
    fy_arena_reset(&a);
}

static void test_strndup(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    char *s;

    (void)state;
    s = fy_arena_strndup(&a, "hello world", 5);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    s = fy_arena_strndup(&a, "", 0);
    assert_non_null(s);
    assert_string_equal(s, "");
    s = fy_arena_strndup(&a, "a\0b", 3);
    assert_non_null(s);
    assert_memory_equal(s, "a\0b", 4);
    fy_arena_reset(&a);
}

static void test_limit(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(64);

    (void)state;
    assert_non_null(fy_arena_alloc(&a, 48));
    assert_null(fy_arena_alloc(&a, 32)); /* 48 + 32 > 64 */
    assert_non_null(fy_arena_alloc(&a, 16));
    assert_true(a.used <= 64);
    assert_null(fy_arena_alloc(&a, 1));
    assert_null(fy_arena_calloc(&a, 1, 1));
    assert_null(fy_arena_strndup(&a, "x", 1));
    fy_arena_reset(&a);
}

static void test_limit_single_request(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(1024);

    (void)state;
    assert_null(fy_arena_alloc(&a, 1025));
    assert_null(fy_arena_alloc(&a, 1 << 20));
    assert_int_equal(a.used, 0);
    /* The failed requests used nothing: the whole limit is still there. */
    assert_non_null(fy_arena_alloc(&a, 1024));
    assert_int_equal(a.used, 1024);
    fy_arena_reset(&a);
}

static void test_reset(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(256);

    (void)state;
    for (int round = 0; round < 3; round++) {
        void *p = fy_arena_alloc(&a, 256);

        assert_non_null(p);
        assert_true(aligned16(p));
        memset(p, round, 256);
        assert_null(fy_arena_alloc(&a, 16));
        fy_arena_reset(&a);
        assert_int_equal(a.used, 0);
        assert_int_equal(a.limit, 256);
    }
    /* Resetting an empty arena twice is harmless. */
    fy_arena_reset(&a);
    fy_arena_reset(&a);
    assert_int_equal(a.used, 0);
}

static void test_huge_request(void **state)
{
    struct fy_arena a = FY_ARENA_INIT(0);

    (void)state;
    assert_null(fy_arena_alloc(&a, SIZE_MAX));
    assert_null(fy_arena_alloc(&a, SIZE_MAX - 20));
    assert_null(fy_arena_calloc(&a, 1, SIZE_MAX));
    fy_arena_reset(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_aligned),
        cmocka_unit_test(test_alloc_large_and_many),
        cmocka_unit_test(test_alloc_zero),
        cmocka_unit_test(test_zeroed_calloc),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_limit_single_request),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_huge_request),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
