/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for base64 (lib/util/base64.h): RFC 4648 section 10 vectors,
 * binary data and strict rejection of anything that is not padded base64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"
#include "fy.h"

static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/*
 * Decodes s into an exactly fy_b64_max_decoded()-sized heap buffer (so ASan
 * catches an overrun) and returns the result code; *out is owned.
 */
static int decode(const char *s, size_t n, unsigned char **out, size_t *len)
{
    int rc;

    *out = malloc(fy_b64_max_decoded(n));
    assert_non_null(*out);
    rc = fy_b64_decode(s, n, *out, len);
    if (rc == 0)
        assert_true(*len <= fy_b64_max_decoded(n));
    return rc;
}

static void test_encode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(rfc4648); i++) {
        struct fy_buf b = FY_BUF_INIT(0);

        assert_int_equal(
            fy_b64_encode(&b, rfc4648[i].plain, strlen(rfc4648[i].plain)), 0);
        assert_string_equal(b.data, rfc4648[i].b64);
        assert_int_equal(b.len, strlen(rfc4648[i].b64));
        fy_buf_release(&b);
    }
}

static void test_decode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(rfc4648); i++) {
        const char *s = rfc4648[i].b64;
        unsigned char *out;
        size_t len = 12345;

        assert_int_equal(decode(s, strlen(s), &out, &len), 0);
        assert_int_equal(len, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, len);
        free(out);
    }
}

static void test_encode_appends(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_buf_adds(&b, "blob:");
    assert_int_equal(fy_b64_encode(&b, "foobar", 6), 0);
    assert_int_equal(fy_b64_encode(&b, "f", 1), 0);
    assert_string_equal(b.data, "blob:Zm9vYmFyZg==");
    fy_buf_release(&b);
}

static void test_encode_sticky_error(void **state)
{
    struct fy_buf b = FY_BUF_INIT(4);

    (void)state;
    assert_int_not_equal(fy_b64_encode(&b, "foobar", 6), 0);
    assert_int_not_equal(fy_buf_error(&b), 0);
    assert_int_equal(b.len, 0);
    fy_buf_release(&b);
}

static void test_binary_roundtrip(void **state)
{
    static const unsigned char nuls[] = {0, 0, 0, 0, 0};
    static const unsigned char mixed[] = {0xff, 0x00, 0xfe, 0x00, 0x80};
    unsigned char all[256];
    const struct {
        const unsigned char *p;
        size_t n;
        const char *want;
    } cases[] = {
        {nuls, 1, "AA=="},     {nuls, 2, "AAA="},      {nuls, 3, "AAAA"},
        {nuls, 5, "AAAAAAA="}, {mixed, 5, "/wD+AIA="}, {all, sizeof(all), NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)i;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        struct fy_buf b = FY_BUF_INIT(0);
        unsigned char *out;
        size_t len;

        assert_int_equal(fy_b64_encode(&b, cases[i].p, cases[i].n), 0);
        if (cases[i].want)
            assert_string_equal(b.data, cases[i].want);
        assert_int_equal(b.len % 4, 0);
        assert_int_equal(decode(b.data, b.len, &out, &len), 0);
        assert_int_equal(len, cases[i].n);
        assert_memory_equal(out, cases[i].p, len);
        free(out);
        fy_buf_release(&b);
    }
}

static void check_rejected(const char *s, size_t n)
{
    unsigned char *out;
    size_t len;

    if (decode(s, n, &out, &len) != FERRY_EPARSE)
        fail_msg("accepted \"%.*s\"", (int)n, s);
    free(out);
}

static void test_reject_bad_length(void **state)
{
    (void)state;
    check_rejected("Z", 1);
    check_rejected("Zg", 2);
    check_rejected("Zg=", 3);
    check_rejected("Zm9vY", 5);
    check_rejected("Zm9vYg=", 7);
    check_rejected("Zm9vYg===", 9);
}

static void test_reject_bad_chars(void **state)
{
    static const char *const bad[] = {
        "Zm9!",  "Zm9v*A==", "Zm9-",     "Zm9_", /* base64url */
        "Zm\"v", "====",     "Z===",     "=Zg=",
        "Zg=a",  "Zg==Zg==", "Zm9vYm=y", "\xc3\xa9==",
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++)
        check_rejected(bad[i], strlen(bad[i]));
    /* An embedded NUL is not base64 either. */
    check_rejected("Zm\0v", 4);
}

static void test_reject_whitespace(void **state)
{
    static const char *const bad[] = {
        /* Each is a multiple of 4 long, so only the blank is wrong. */
        "Zm9 ",       " Zm9",          "Zm9\n",
        "Zm9v\r\nYm", "Zm9v\tYmFyZg=", "Zm9vYmFy\n\n\n\n",
        "Zm 9vYmF",   "Zm9vYmF\v",
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(strlen(bad[i]) % 4, 0);
        check_rejected(bad[i], strlen(bad[i]));
    }
}

static void test_decode_uses_length(void **state)
{
    unsigned char *out;
    size_t len;

    (void)state;
    /* Only s[0..n) is decoded; what follows is not looked at. */
    assert_int_equal(decode("Zm9vYmFy!!!!", 8, &out, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "foobar", 6);
    free(out);
    assert_int_equal(decode("Zm9v", 0, &out, &len), 0);
    assert_int_equal(len, 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648),
        cmocka_unit_test(test_decode_rfc4648),
        cmocka_unit_test(test_encode_appends),
        cmocka_unit_test(test_encode_sticky_error),
        cmocka_unit_test(test_binary_roundtrip),
        cmocka_unit_test(test_reject_bad_length),
        cmocka_unit_test(test_reject_bad_chars),
        cmocka_unit_test(test_reject_whitespace),
        cmocka_unit_test(test_decode_uses_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
