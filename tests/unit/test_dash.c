/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the dashboard's request checks (lib/server/dash.h): the
 * strict form parser, HTML escaping, and the same-origin rule of posts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/dash.h"
#include "fy.h"

static int parse(const char *body, struct fy_dash_form *form)
{
    struct ferry_err err = {0};

    return fy_dash_form_parse(body, strlen(body), form, &err);
}

static void test_form_fields(void **state)
{
    struct fy_dash_form form;

    (void)state;
    assert_int_equal(parse("csrf=ab12&device=pc+1&region=%C3%A7ankaya", &form),
                     0);
    assert_int_equal(form.n, 3);
    assert_string_equal(fy_dash_form_get(&form, "csrf"), "ab12");
    assert_string_equal(fy_dash_form_get(&form, "device"), "pc 1");
    assert_string_equal(fy_dash_form_get(&form, "region"), "\xc3\xa7"
                                                           "ankaya");
    assert_null(fy_dash_form_get(&form, "role"));
    fy_dash_form_release(&form);
    /* An empty body and an empty value are forms too. */
    assert_int_equal(parse("", &form), 0);
    assert_int_equal(form.n, 0);
    fy_dash_form_release(&form);
    assert_int_equal(parse("region=", &form), 0);
    assert_string_equal(fy_dash_form_get(&form, "region"), "");
    fy_dash_form_release(&form);
}

static void test_form_rejects(void **state)
{
    static const char *const bad[] = {
        "key",          /* no '=' */
        "key=%zz",      /* not hex */
        "key=%4",       /* cut short */
        "key=a%0d%0ab", /* CR LF */
        "key=a%00b",    /* NUL */
        "key=a b",      /* a raw space */
        "key=a&key=b",  /* twice */
        "k%2dy=a",      /* a name outside [A-Za-z0-9_] */
        "=a",           /* no name */
        "key=a&",       /* a trailing '&' */
        "key=\xc3\xa7", /* raw UTF-8: browsers encode it */
    };
    struct fy_dash_form form;
    struct ferry_err err = {0};
    char big[FY_DASH_FORM_BYTES + 2];
    char many[256];
    size_t used = 0;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse(bad[i], &form), FERRY_EPARSE);
        assert_int_equal(form.n, 0);
        assert_null(form.mem);
    }
    assert_int_equal(fy_dash_form_parse("a=b\0c", 5, &form, &err),
                     FERRY_EPARSE);
    memset(big, 'a', sizeof(big) - 1);
    big[0] = 'k', big[1] = '=';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big, &form), FERRY_ETOOBIG);
    big[FY_DASH_FIELD_MAX + 3] = '\0'; /* a value one past the limit */
    assert_int_equal(parse(big, &form), FERRY_ETOOBIG);
    big[FY_DASH_FIELD_MAX + 2] = '\0';
    assert_int_equal(parse(big, &form), 0);
    fy_dash_form_release(&form);
    for (int i = 0; i <= FY_DASH_FORM_MAX; i++)
        used += (size_t)snprintf(many + used, sizeof(many) - used, "%sf%d=x",
                                 i ? "&" : "", i);
    assert_int_equal(parse(many, &form), FERRY_ETOOBIG);
}

static void test_html_escape(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);

    (void)state;
    fy_dash_html(&b, "<a href=\"x\" onclick='y'>&</a>");
    fy_buf_addc(&b, '\0');
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;"
                                "&gt;&amp;&lt;/a&gt;");
    fy_buf_release(&b);
}

static void test_same_origin(void **state)
{
    const char *host = "127.0.0.1:8080";

    (void)state;
    assert_true(fy_dash_same_origin(NULL, NULL, host));
    assert_true(fy_dash_same_origin("http://127.0.0.1:8080", NULL, host));
    assert_true(fy_dash_same_origin("https://127.0.0.1:8080", NULL, host));
    /* no-referrer makes a browser send "null": the CSRF token decides. */
    assert_true(fy_dash_same_origin("null", NULL, host));
    assert_true(fy_dash_same_origin(
        NULL, "http://127.0.0.1:8080/dashboard/keys", host));
    assert_false(fy_dash_same_origin("http://evil.example", NULL, host));
    assert_false(
        fy_dash_same_origin("http://127.0.0.1:8080.evil.example", NULL, host));
    assert_false(fy_dash_same_origin("http://127.0.0.1:80", NULL, host));
    assert_false(fy_dash_same_origin("127.0.0.1:8080", NULL, host));
    assert_false(
        fy_dash_same_origin(NULL, "http://evil.example/127.0.0.1:8080", host));
    assert_false(fy_dash_same_origin("http://127.0.0.1:8080", NULL, NULL));
    /* Origin wins over Referer. */
    assert_false(fy_dash_same_origin("http://evil.example",
                                     "http://127.0.0.1:8080/dashboard", host));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_fields),
        cmocka_unit_test(test_form_rejects),
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_same_origin),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
