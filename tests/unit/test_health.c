/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for health checks' settings (lib/server/health.h): intervals
 * in every accepted form and at their bounds, the "expect" object refused
 * member by member with a message naming it, and the alert URL's check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/alert.h"
#include "server/health.h"
#include "fy.h"

static int64_t duration(const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    int64_t ms = -1;

    assert_non_null(v);
    if (fy_health_duration(v, &ms) < 0)
        ms = -1;
    json_decref(v);
    return ms;
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(duration("\"90s\""), 90000);
    assert_int_equal(duration("\"10m\""), 600000);
    assert_int_equal(duration("\"1h\""), 3600000);
    assert_int_equal(duration("\"2d\""), 2 * 86400000LL);
    assert_int_equal(duration("45"), 45000);
    assert_int_equal(duration("\"1s\""), 1000);
    assert_int_equal(duration("\"366d\""), 366 * 86400000LL);
    assert_int_equal(duration("31622400"), 366 * 86400000LL);
    assert_int_equal(duration("31622401"), -1);
    assert_int_equal(duration("\"367d\""), -1);
    assert_int_equal(duration("\"0s\""), -1);
    assert_int_equal(duration("0"), -1);
    assert_int_equal(duration("-1"), -1);
    assert_int_equal(duration("1.5"), -1);
    assert_int_equal(duration("\"1.5h\""), -1);
    assert_int_equal(duration("\"h\""), -1);
    assert_int_equal(duration("\"10\""), -1);
    assert_int_equal(duration("\"10w\""), -1);
    assert_int_equal(duration("\" 1m\""), -1);
    assert_int_equal(duration("\"99999999999999d\""), -1);
    assert_int_equal(duration("null"), -1);
    assert_int_equal(duration("true"), -1);
}

/* Parses text: 0, or the code with err's message containing want. */
static void expect_parse(const char *text, const char *want)
{
    json_t *v = json_loads(text, 0, NULL);
    struct fy_health_expect *e = NULL;
    struct ferry_err err = {0};
    int rc;

    assert_non_null(v);
    rc = fy_health_expect_parse(v, &e, &err);
    json_decref(v);
    if (!want) {
        assert_int_equal(rc, 0);
        assert_non_null(e);
    } else {
        assert_int_equal(rc, FERRY_ECONFIG);
        assert_null(e);
        if (!strstr(err.msg, want))
            fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, want);
    }
    fy_health_expect_free(e);
}

static void test_expect(void **state)
{
    (void)state;
    expect_parse("{}", NULL);
    expect_parse(
        "{\"streams\": {\"main_submissions\": \"10m\", \"*\": \"1d\"},"
        " \"devices\": {\"*\": \"1h\", \"pc-1\": 900},"
        " \"learn\": {\"runs\": 10, \"factor\": 2.5, \"floor\": \"5m\"}}",
        NULL);
    expect_parse("{\"learn\": {}}", NULL);
    expect_parse("{\"streams\": {\"a\": \"1x\"}}",
                 "\"expect\".\"streams\".\"a\"");
    expect_parse("{\"devices\": 5}", "\"expect\".\"devices\"");
    expect_parse("{\"devices\": {\"\": \"1m\"}}", "\"expect\".\"devices\"");
    expect_parse("{\"devices\": {\"a\\nb\": \"1m\"}}",
                 "\"expect\".\"devices\"");
    expect_parse("{\"hosts\": {}}", "unknown member \"hosts\"");
    expect_parse("{\"learn\": {\"runs\": 2}}", "\"expect\".\"learn\"");
    expect_parse("{\"learn\": {\"factor\": 0}}", "\"expect\".\"learn\"");
    expect_parse("{\"learn\": {\"floor\": \"\"}}", "\"expect\".\"learn\"");
    expect_parse("{\"learn\": {\"later\": 1}}", "\"expect\".\"learn\"");
    expect_parse("[]", "\"expect\" must be an object");
}

static void test_alert_url(void **state)
{
    char long_url[1100];

    (void)state;
    assert_true(fy_alert_url_ok("http://127.0.0.1:9000/hook"));
    assert_true(fy_alert_url_ok("https://alerts.example.org/ferry?x=1"));
    assert_false(fy_alert_url_ok(NULL));
    assert_false(fy_alert_url_ok(""));
    assert_false(fy_alert_url_ok("http://"));
    assert_false(fy_alert_url_ok("https:///x"));
    assert_false(fy_alert_url_ok("ftp://example.org/"));
    assert_false(fy_alert_url_ok("http://a b/"));
    assert_false(fy_alert_url_ok("http://a/\r\nX: y"));
    assert_false(fy_alert_url_ok("example.org:80"));
    memcpy(long_url, "http://x/", 9);
    memset(long_url + 9, 'a', sizeof(long_url) - 10);
    long_url[sizeof(long_url) - 1] = '\0';
    assert_false(fy_alert_url_ok(long_url));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_alert_url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
