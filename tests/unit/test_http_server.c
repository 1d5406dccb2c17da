/* SPDX-License-Identifier: MIT */
/*
 * ferryd's HTTP layer on its own: a real server on loopback with a route
 * table of this test's, driven by libcurl. Path parameters, 404/405 with
 * Allow, the auth and body policies (checked before any body byte is held),
 * bodies streamed to a file with their SHA-256, answers from a file with
 * ETag and Range, and aliases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "http/route.h"
#include "http/server.h"
#include "fy.h"

struct env {
    struct fy_http_router *router;
    struct fy_http_server *srv;
    char base[64];
    int handled; /* handler calls */
};

/* ---- the test's routes --------------------------------------------------- */

static void echo_params(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    const char *t = fy_http_param(req, "table", NULL);
    size_t klen = 0;
    const char *k = fy_http_param(req, "key", &klen);

    ((struct env *)ud)->handled++;
    fy_buf_addf(&resp->body, "%s|%.*s|%zu", t ? t : "-", (int)klen, k ? k : "",
                req->body.len);
    resp->content_type = "text/plain";
}

static void file_info(struct fy_http_req *req, struct fy_http_resp *resp,
                      void *ud)
{
    char buf[64] = "";
    ssize_t n = read(req->body_fd, buf, sizeof(buf) - 1);

    ((struct env *)ud)->handled++;
    fy_buf_addf(&resp->body, "%s %llu %.*s", req->body_sha256,
                (unsigned long long)req->body_size, (int)(n > 0 ? n : 0), buf);
    resp->content_type = "text/plain";
}

/* 100 bytes "0123456789" x 10 from a file, with an ETag. */
static void serve_file(struct fy_http_req *req, struct fy_http_resp *resp,
                       void *ud)
{
    char path[] = "/tmp/test_http_fileXXXXXX";
    int fd = mkstemp(path);

    (void)req;
    ((struct env *)ud)->handled++;
    /* No cmocka asserts here: this runs on a server thread. */
    if (fd < 0) {
        fy_http_error(resp, FERRY_WIRE_INTERNAL, "no file", NULL);
        return;
    }
    unlink(path);
    for (int i = 0; i < 11; i++)
        if (write(fd, "0123456789", 10) != 10)
            break;
    /* Offset 10: the answer is a window of the file, not all of it. */
    fy_http_resp_file(resp, fd, 10, 100);
    resp->content_type = "application/octet-stream";
    snprintf(resp->etag, sizeof(resp->etag), "\"v1\"");
}

static const char *const text_types[] = {"text/plain", NULL};

static const struct fy_http_route routes[] = {
    {.method = "GET",
     .pattern = "/t/{table:name}/r/{key:text}",
     .fn = echo_params},
    {.method = "DELETE",
     .pattern = "/t/{table:name}/r/{key:text}",
     .auth = FY_AUTH_ADMIN,
     .fn = echo_params},
    {.method = "GET", .pattern = "/t/special/r/x", .fn = echo_params},
    {.method = "POST",
     .pattern = "/echo",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_MEMORY, .max = 100, .types = text_types},
     .fn = echo_params},
    {.method = "PUT",
     .pattern = "/blob/{sha:sha256}",
     .body = {.mode = FY_BODY_FILE, .max = 1000},
     .fn = file_info},
    {.method = "GET",
     .pattern = "/file",
     .flags = FY_ROUTE_RANGE,
     .fn = serve_file},
    {.method = "GET",
     .pattern = "/session",
     .auth = FY_AUTH_SESSION,
     .fn = echo_params},
};

/* The key is "good" (admin: "admin"), in X-Api-Key or an alias's header. */
static int test_auth(struct fy_http_req *req, enum fy_http_auth policy,
                     struct fy_http_resp *resp, void *ud)
{
    const char *h =
        req->match->auth_header ? req->match->auth_header : "X-Api-Key";
    const char *k = fy_http_header(req, h);

    (void)ud;
    if (policy == FY_AUTH_SESSION || !k ||
        (strcmp(k, "good") != 0 && strcmp(k, "admin") != 0)) {
        fy_http_error(resp, FERRY_WIRE_UNAUTHORIZED, "no", NULL);
        return FERRY_EAUTH;
    }
    if (policy == FY_AUTH_ADMIN && strcmp(k, "admin") != 0) {
        fy_http_error(resp, FERRY_WIRE_FORBIDDEN, "admin only", NULL);
        return FERRY_EFORBIDDEN;
    }
    return 0;
}

static const struct fy_http_handlers hooks = {.auth = test_auth};

/* No asserts: under allocation faults (label torture) setup may fail. */
static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct fy_http_config cfg = {
        .listen = "127.0.0.1:0", .max_body = 1000, .max_inflight = 4000};

    *state = e;
    if (!e ||
        fy_http_router_new(routes, FY_ARRAY_LEN(routes), &e->router, NULL) < 0)
        return -1;
    if (fy_http_router_alias(e->router, "POST", "/old/sync", "POST /echo",
                             "X-Old-Token", NULL) < 0)
        return -1;
    cfg.router = e->router;
    if (fy_http_server_start(&cfg, &hooks, e, &e->srv, NULL) < 0)
        return -1;
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u",
             fy_http_server_port(e->srv));
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    if (!e)
        return 0;
    fy_http_server_stop(e->srv);
    fy_http_router_free(e->router);
    free(e);
    return 0;
}

/* ---- a small client ------------------------------------------------------ */

struct answer {
    long status;
    char body[512];
    size_t len;
    char headers[2048];
    size_t hlen;
};

static size_t take_body(char *p, size_t sz, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t k = sz * n;

    if (a->len + k < sizeof(a->body)) {
        memcpy(a->body + a->len, p, k);
        a->len += k;
        a->body[a->len] = '\0';
    }
    return k;
}

static size_t take_header(char *p, size_t sz, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t k = sz * n;

    if (a->hlen + k < sizeof(a->headers)) {
        memcpy(a->headers + a->hlen, p, k);
        a->hlen += k;
        a->headers[a->hlen] = '\0';
    }
    return k;
}

/* headers: "\n"-separated; body may be NULL. */
static void call(const struct env *e, const char *method, const char *path,
                 const char *headers, const char *body, struct answer *a)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[512], line[256];

    memset(a, 0, sizeof(*a));
    snprintf(url, sizeof(url), "%s%s", e->base, path);
    for (const char *p = headers; p && *p;) {
        size_t n = strcspn(p, "\n");

        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        hl = curl_slist_append(hl, line);
        p += n + (p[n] == '\n');
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, take_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void assert_code(const struct answer *a, long status, const char *code)
{
    json_t *j = json_loads(a->body, 0, NULL);
    const char *got =
        json_string_value(json_object_get(json_object_get(j, "error"), "code"));

    assert_int_equal(a->status, status);
    assert_non_null(got);
    assert_string_equal(got, code);
    json_decref(j);
}

static bool has_header(const struct answer *a, const char *line)
{
    return strstr(a->headers, line) != NULL;
}

/* ---- the tests ----------------------------------------------------------- */

static void test_path_params(void **state)
{
    struct env *e = *state;
    struct answer a;

    /* An encoded '/' stays inside its parameter; '%20' decodes. */
    call(e, "GET", "/t/users/r/a%2Fb%20c", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "users|a/b c|0");
    /* A literal route wins over the parameter route it overlaps. */
    call(e, "GET", "/t/special/r/x", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    call(e, "GET", "/t/1bad/r/x", NULL, NULL, &a);
    assert_code(&a, 400, "bad_parameter");
    assert_non_null(strstr(a.body, "'table'"));
    call(e, "GET", "/t/users/r/a%zz", NULL, NULL, &a);
    assert_code(&a, 400, "bad_parameter");
    call(e, "GET", "/t/users/r/a%00b", NULL, NULL, &a);
    assert_code(&a, 400, "bad_parameter");
    call(e, "GET", "/t/users/r/", NULL, NULL, &a);
    assert_code(&a, 400, "bad_parameter");
    call(e, "GET", "/t/users", NULL, NULL, &a);
    assert_code(&a, 404, "not_found");
    call(e, "GET", "/t/users/r/x/y", NULL, NULL, &a);
    assert_code(&a, 404, "not_found");
}

static void test_405_allow(void **state)
{
    struct env *e = *state;
    struct answer a;

    call(e, "PATCH", "/t/users/r/1", NULL, NULL, &a);
    assert_code(&a, 405, "method_not_allowed");
    assert_true(has_header(&a, "Allow: GET, DELETE\r\n"));
    call(e, "GET", "/echo", NULL, NULL, &a);
    assert_code(&a, 405, "method_not_allowed");
    assert_true(has_header(&a, "Allow: POST\r\n"));
}

static void test_auth_before_body(void **state)
{
    struct env *e = *state;
    struct answer a;

    e->handled = 0;
    call(e, "POST", "/echo", "Content-Type: text/plain", "hello", &a);
    assert_code(&a, 401, "unauthorized");
    call(e, "POST", "/echo", "X-Api-Key: bad\nContent-Type: text/plain",
         "hello", &a);
    assert_code(&a, 401, "unauthorized");
    assert_int_equal(e->handled, 0);
    assert_int_equal(fy_http_server_inflight(e->srv), 0);
    call(e, "POST", "/echo", "X-Api-Key: good\nContent-Type: text/plain",
         "hello", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "-||5");
    /* Admin policy: a valid key is not enough. */
    call(e, "DELETE", "/t/users/r/1", "X-Api-Key: good", NULL, &a);
    assert_code(&a, 403, "forbidden");
    call(e, "DELETE", "/t/users/r/1", "X-Api-Key: admin", NULL, &a);
    assert_int_equal(a.status, 200);
    /* The session slot is checked too (always 401 here). */
    call(e, "GET", "/session", "X-Api-Key: admin", NULL, &a);
    assert_code(&a, 401, "unauthorized");
}

static void test_body_policy(void **state)
{
    struct env *e = *state;
    char big[201];
    struct answer a;

    call(e, "POST", "/echo", "X-Api-Key: good\nContent-Type: application/json",
         "{}", &a);
    assert_code(&a, 415, "unsupported_media_type");
    assert_non_null(strstr(a.body, "text/plain"));
    call(e, "POST", "/echo", "X-Api-Key: good\nContent-Type: text/plain; a=b",
         "x", &a);
    assert_int_equal(a.status, 200);
    /* The route's own limit (100), under the server's (1000). */
    memset(big, 'x', 200);
    big[200] = '\0';
    call(e, "POST", "/echo", "X-Api-Key: good\nContent-Type: text/plain", big,
         &a);
    assert_code(&a, 413, "body_too_large");
    call(e, "POST", "/echo",
         "X-Api-Key: good\nContent-Type: text/plain\nTransfer-Encoding: "
         "chunked",
         big, &a);
    assert_code(&a, 413, "body_too_large");
}

static void test_file_body(void **state)
{
    struct env *e = *state;
    static const char sha_hello[] =
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    char path[100];
    struct answer a;

    snprintf(path, sizeof(path), "/blob/%s", sha_hello);
    call(e, "PUT", path, "Content-Type: application/octet-stream", "hello", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(
        a.body, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362"
                "938b9824 5 hello");
    call(e, "PUT", path, "Transfer-Encoding: chunked", "hello", &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(fy_http_server_inflight(e->srv), 0);
    call(e, "PUT", path, "Content-Encoding: gzip", "hello", &a);
    assert_code(&a, 415, "unsupported_encoding");
    call(e, "PUT", "/blob/ABC", NULL, "hello", &a);
    assert_code(&a, 400, "bad_parameter");
}

static void test_file_answer_ranges(void **state)
{
    struct env *e = *state;
    struct answer a;

    call(e, "GET", "/file", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.len, 100);
    assert_true(has_header(&a, "ETag: \"v1\"\r\n"));
    assert_true(has_header(&a, "Accept-Ranges: bytes\r\n"));
    call(e, "GET", "/file", "Range: bytes=12-15", NULL, &a);
    assert_int_equal(a.status, 206);
    assert_string_equal(a.body, "2345");
    assert_true(has_header(&a, "Content-Range: bytes 12-15/100\r\n"));
    call(e, "GET", "/file", "Range: bytes=-3", NULL, &a);
    assert_int_equal(a.status, 206);
    assert_string_equal(a.body, "789");
    call(e, "GET", "/file", "Range: bytes=95-", NULL, &a);
    assert_int_equal(a.status, 206);
    assert_string_equal(a.body, "56789");
    call(e, "GET", "/file", "Range: bytes=100-", NULL, &a);
    assert_code(&a, 416, "range_not_satisfiable");
    assert_true(has_header(&a, "Content-Range: bytes */100\r\n"));
    /* Several ranges or a broken header: the whole, as RFC 9110 allows. */
    call(e, "GET", "/file", "Range: bytes=0-1,5-6", NULL, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.len, 100);
    call(e, "GET", "/file", "If-None-Match: \"v0\", \"v1\"", NULL, &a);
    assert_int_equal(a.status, 304);
    assert_int_equal(a.len, 0);
    call(e, "GET", "/file", "Range: bytes=0-1\nIf-Range: \"v0\"", NULL, &a);
    assert_int_equal(a.status, 200);
    call(e, "GET", "/file", "Range: bytes=0-1\nIf-Range: \"v1\"", NULL, &a);
    assert_int_equal(a.status, 206);
    assert_string_equal(a.body, "01");
}

static void test_alias(void **state)
{
    struct env *e = *state;
    struct answer a;

    call(e, "POST", "/old/sync", "X-Old-Token: good\nContent-Type: text/plain",
         "abc", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "-||3");
    /* The alias reads its own header only. */
    call(e, "POST", "/old/sync", "X-Api-Key: good\nContent-Type: text/plain",
         "abc", &a);
    assert_code(&a, 401, "unauthorized");
    call(e, "GET", "/old/sync", NULL, NULL, &a);
    assert_code(&a, 405, "method_not_allowed");
}

/* An alias with fixed path parameters serves one table's URL. */
static void test_alias_params(void **state)
{
    static const struct fy_http_alias_param one[] = {{"table", "reports"},
                                                     {"key", "a b/c"}};
    static const struct fy_http_alias_param bad_kind[] = {{"table", "no-dash"},
                                                          {"key", "k"}};
    static const struct fy_http_alias_param unknown[] = {{"table", "t"},
                                                         {"nope", "k"}};
    static const struct fy_http_alias_param twice[] = {{"table", "t"},
                                                       {"table", "u"}};
    struct env *e = *state;
    struct ferry_err err = {0};
    struct answer a;
    const char *target = "GET /t/{table:name}/r/{key:text}";

    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/ingest/one",
                                               target, NULL, one, 2, &err),
                     0);
    call(e, "GET", "/ingest/one", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "reports|a b/c|0");
    /* The route as docs/api.md writes it, without the parameters' kinds. */
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/ingest/two",
                                               "GET /t/{table}/r/{key}", NULL,
                                               one, 2, &err),
                     0);
    call(e, "GET", "/ingest/two", NULL, NULL, &a);
    assert_string_equal(a.body, "reports|a b/c|0");
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/x",
                                               "GET /t/{table}/r/{key", NULL,
                                               one, 2, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "unknown route"));
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/x", target,
                                               NULL, one, 1, &err),
                     FERRY_ECONFIG);
    assert_non_null(
        strstr(err.msg, "has 2 path parameters; the alias gives 1"));
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/x", target,
                                               NULL, bad_kind, 2, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "parameter 'table' must be a name"));
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/x", target,
                                               NULL, unknown, 2, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "has no parameter 'nope'"));
    assert_int_equal(fy_http_router_alias_with(e->router, "GET", "/x", target,
                                               NULL, twice, 2, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "'table' given twice"));
}

static void test_alias_validation(void **state)
{
    struct env *e = *state;
    struct ferry_err err = {0};
    struct fy_http_router *r = e->router;

    assert_int_equal(
        fy_http_router_alias(r, "POST", "/x", "POST /nope", NULL, &err),
        FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "unknown route 'POST /nope'"));
    assert_int_equal(
        fy_http_router_alias(r, "post", "/x", "POST /echo", NULL, &err),
        FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "method 'post'"));
    assert_int_equal(
        fy_http_router_alias(r, "POST", "/x", "POST /echo", "X Bad", &err),
        FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "auth_header 'X Bad'"));
    assert_int_equal(
        fy_http_router_alias(r, "POST", "x", "POST /echo", NULL, &err),
        FERRY_ECONFIG);
    assert_int_equal(
        fy_http_router_alias(r, "POST", "/echo", "POST /echo", NULL, &err),
        FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "served already"));
    assert_int_equal(fy_http_router_alias(r, "GET", "/x",
                                          "GET /t/{table:name}/r/{key:text}",
                                          NULL, &err),
                     FERRY_ECONFIG);
    assert_non_null(
        strstr(err.msg, "has 2 path parameters; the alias gives 0"));
}

static void test_bad_patterns(void **state)
{
    static const struct fy_http_route bad[][1] = {
        {{.method = "GET", .pattern = "/a/{x:nope}", .fn = echo_params}},
        {{.method = "GET", .pattern = "a", .fn = echo_params}},
        {{.method = "GET", .pattern = "/a/{x}", .fn = echo_params}},
    };
    struct fy_http_router *r = NULL;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(fy_http_router_new(bad[i], 1, &r, NULL), FERRY_EINVAL);
        assert_null(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_params),
        cmocka_unit_test(test_405_allow),
        cmocka_unit_test(test_auth_before_body),
        cmocka_unit_test(test_body_policy),
        cmocka_unit_test(test_file_body),
        cmocka_unit_test(test_file_answer_ranges),
        cmocka_unit_test(test_alias),
        cmocka_unit_test(test_alias_params),
        cmocka_unit_test(test_alias_validation),
        cmocka_unit_test(test_bad_patterns),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
