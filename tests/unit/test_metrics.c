/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for GET /metrics' counters (lib/server/metrics.h): label
 * values escaped, requests labelled by their route's pattern and method
 * (never the raw path), histogram buckets cumulative with +Inf equal to
 * the count, rows only for the contract's tables, counters from many
 * threads at once, and an exposition without a store or pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/contract.h"
#include "server/metrics.h"
#include "fy.h"

static const char contract_json[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"items\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\", \"not_null\": true}],"
    " \"primary_key\": [\"id\"]}, {\"name\": \"notes\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\", \"not_null\": true}],"
    " \"primary_key\": [\"id\"]}]}";

static void noop(struct fy_http_req *req, struct fy_http_resp *resp, void *ud)
{
    (void)req, (void)resp, (void)ud;
}

static const struct fy_http_route routes[] = {
    {.method = "GET", .pattern = "/v1/blobs/{sha256:sha256}", .fn = noop},
    {.method = "PUT", .pattern = "/v1/blobs/{sha256:sha256}", .fn = noop},
    {.method = "POST", .pattern = "/v1/push", .fn = noop},
};

struct fx {
    struct fy_contract *c;
    struct fy_buf out;
};

static int setup(void **state)
{
    struct fx *fx = fy_calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    fx->out = (struct fy_buf)FY_BUF_INIT(0);
    fy_metrics_reset();
    fy_metrics_set_routes(routes, FY_ARRAY_LEN(routes));
    if (fy_contract_parse(contract_json, strlen(contract_json), &fx->c, NULL) <
            0 ||
        fy_metrics_set_contract(fx->c) < 0) {
        fy_contract_free(fx->c);
        fy_free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    fy_metrics_reset();
    fy_contract_free(fx->c);
    fy_buf_release(&fx->out);
    fy_free(fx);
    return 0;
}

/* The exposition as a C string (owned by fx->out). */
static const char *render(struct fx *fx)
{
    assert_int_equal(fy_metrics_render(&fx->out, NULL, NULL, 10), 0);
    fy_buf_addc(&fx->out, '\0');
    return fx->out.data;
}

static void request(const struct fy_http_route *r, const char *method,
                    int status, double secs, uint64_t bytes)
{
    struct fy_http_match match = {.route = r};
    struct fy_http_req req = {.method = method,
                              .path = "/raw/path/never/a/label",
                              .match = &match,
                              .status = status,
                              .bytes_in = bytes,
                              .started = fy_mono_s() - secs};

    fy_metrics_request(&req);
}

static void test_label_escaping(void **state)
{
    struct fx *fx = *state;

    fy_metrics_label(&fx->out, "a\\b\"c\nd{e}=,f");
    fy_buf_addc(&fx->out, '\0');
    assert_string_equal(fx->out.data, "a\\\\b\\\"c\\nd{e}=,f");
}

static void test_requests_by_route(void **state)
{
    struct fx *fx = *state;
    const char *t;

    request(&routes[0], "GET", 200, 0.001, 0);
    request(&routes[1], "PUT", 201, 0.2, 3000);
    request(&routes[1], "PUT", 201, 3, 10);
    request(NULL, "BREW", 404, 0, 0);
    request(NULL, "GET", 418, 0, 0);
    t = render(fx);
    assert_non_null(strstr(t, "ferry_http_requests_total{route=\"/v1/blobs/"
                              "{sha256:sha256}\",method=\"PUT\","
                              "status=\"201\"} 2\n"));
    assert_non_null(strstr(t, "{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"GET\",status=\"200\"} 1\n"));
    assert_non_null(strstr(t, "{route=\"unmatched\",method=\"other\","
                              "status=\"404\"} 1\n"));
    assert_non_null(strstr(t, "{route=\"unmatched\",method=\"GET\","
                              "status=\"other\"} 1\n"));
    assert_null(strstr(t, "/raw/path"));
    assert_null(strstr(t, "BREW"));
    /* Cumulative: 0.2 s is under 0.25, 3 s under 5; +Inf is the count. */
    assert_non_null(strstr(t, "_bucket{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\",le=\"0.1\"} 0\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\",le=\"0.25\"} 1\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\",le=\"2.5\"} 1\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\",le=\"5\"} 2\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "_count{route=\"/v1/blobs/{sha256:sha256}\","
                              "method=\"PUT\"} 2\n"));
    assert_non_null(strstr(t,
                           "ferry_http_request_body_bytes_total{route=\"/v1/"
                           "blobs/{sha256:sha256}\",method=\"PUT\"} 3010\n"));
    /* A route never requested has no series. */
    assert_null(strstr(t, "route=\"/v1/push\""));
}

static void test_rows_only_contract_tables(void **state)
{
    struct fx *fx = *state;
    struct fy_table other = {.name = "intruder"};
    const char *t;

    fy_metrics_rows(&fx->c->tables[1], FY_ROW_CREATED, 4);
    fy_metrics_rows(&fx->c->tables[0], FY_ROW_STALE, 1);
    fy_metrics_rows(&fx->c->tables[0], FY_ROW_PENDING, 2);
    fy_metrics_rows(&other, FY_ROW_CREATED, 9);
    fy_metrics_rows(NULL, FY_ROW_CREATED, 9);
    t = render(fx);
    assert_non_null(strstr(
        t,
        "ferry_rows_applied_total{table=\"notes\",outcome=\"created\"} 4\n"));
    assert_non_null(strstr(
        t, "ferry_rows_applied_total{table=\"items\",outcome=\"stale\"} 1\n"));
    assert_non_null(strstr(
        t,
        "ferry_rows_applied_total{table=\"items\",outcome=\"skipped\"} 2\n"));
    assert_null(strstr(t, "intruder"));
    assert_non_null(strstr(t, "ferry_metrics_store_up 0\n"));
    assert_non_null(strstr(t, "# TYPE ferry_http_request_duration_seconds "
                              "histogram\n"));
}

#define THREADS    4
#define PER_THREAD 20000

static void *hammer(void *ud)
{
    const struct fx *fx = ud;

    for (int i = 0; i < PER_THREAD; i++) {
        request(&routes[2], "POST", 200, 0, 7);
        fy_metrics_rows(&fx->c->tables[0], FY_ROW_UPDATED, 1);
        fy_metrics_blob_bytes(i % 2, 3);
    }
    return NULL;
}

/* No count is lost without a lock: relaxed atomic adds. */
static void test_threads(void **state)
{
    struct fx *fx = *state;
    pthread_t th[THREADS];
    char want[160];
    const char *t;

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, fx), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    t = render(fx);
    snprintf(want, sizeof(want),
             "ferry_http_requests_total{route=\"/v1/push\",method=\"POST\","
             "status=\"200\"} %d\n",
             THREADS * PER_THREAD);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof(want),
             "ferry_rows_applied_total{table=\"items\",outcome=\"updated\"}"
             " %d\n",
             THREADS * PER_THREAD);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof(want),
             "ferry_blob_bytes_total{direction=\"served\"} %d\n",
             THREADS * PER_THREAD / 2 * 3);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof(want),
             "ferry_http_request_body_bytes_total{route=\"/v1/push\","
             "method=\"POST\"} %d\n",
             THREADS * PER_THREAD * 7);
    assert_non_null(strstr(t, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_label_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_by_route, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rows_only_contract_tables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
