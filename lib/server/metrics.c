/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: counters and their exposition; see metrics.h.
 */
#include "server/metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/contract.h"
#include "server/api.h"
#include "server/health.h"
#include "store/pool.h"
#include "fy.h"

typedef _Atomic uint64_t counter;

static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "other"};
#define NMETHODS FY_ARRAY_LEN(methods)

/* What ferryd answers; anything else is counted as "other". */
static const int statuses[] = {200, 201, 204, 206, 304, 400, 401, 403,
                               404, 405, 408, 409, 410, 411, 412, 413,
                               414, 415, 416, 422, 429, 431, 500, 503};
#define NSTATUS (FY_ARRAY_LEN(statuses) + 1)

/* Seconds; long polls (?wait=) land in the last ones. */
static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                1,     2.5,  5,     10,   30,  60};
#define NBOUNDS FY_ARRAY_LEN(bounds)

/*
 * A series per route, labelled by its pattern and its own method (unique
 * in the router, so two routes never make one series; an alias counts as
 * its route); then one per method for requests no route took ("unmatched":
 * 404, 405 and the like).
 */
#define NROUTES (FY_METRICS_MAX_ROUTES + NMETHODS)

static const char *const outcomes[] = {
    [FY_ROW_PENDING] = "skipped", [FY_ROW_CREATED] = "created",
    [FY_ROW_UPDATED] = "updated", [FY_ROW_DELETED] = "deleted",
    [FY_ROW_STALE] = "stale",     [FY_ROW_NOOP] = "noop",
};
#define NOUTCOMES FY_ARRAY_LEN(outcomes)

static struct {
    const struct fy_http_route *routes;
    size_t nroutes;
    const struct fy_contract *contract;
    counter *rows; /* contract->ntables * NOUTCOMES, in rows_mem */
    void *rows_mem;
    int64_t started_s;
    counter requests[NROUTES][NSTATUS];
    counter latency[NROUTES][NBOUNDS + 1]; /* not cumulative: per bucket */
    counter latency_us[NROUTES];
    counter bytes_in[NROUTES];
    counter rejected, blob_up, blob_down, store_503, store_500;
} m;

static void add(counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void fy_metrics_set_routes(const struct fy_http_route *routes, size_t n)
{
    m.routes = routes;
    m.nroutes = n < FY_METRICS_MAX_ROUTES ? n : FY_METRICS_MAX_ROUTES;
    if (!m.started_s)
        m.started_s = (int64_t)time(NULL);
}

int fy_metrics_set_contract(const struct fy_contract *c)
{
    void *mem =
        fy_calloc(c->ntables ? c->ntables * NOUTCOMES : 1, sizeof(counter));

    if (!mem)
        return FERRY_ENOMEM;
    fy_free(m.rows_mem);
    m.rows_mem = mem;
    m.rows = mem;
    m.contract = c;
    return 0;
}

void fy_metrics_reset(void)
{
    const struct fy_http_route *routes = m.routes;
    size_t n = m.nroutes;

    fy_free(m.rows_mem);
    memset(&m, 0, sizeof(m));
    m.routes = routes;
    m.nroutes = n;
    m.started_s = (int64_t)time(NULL);
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; method && i + 1 < NMETHODS; i++) {
        if (strcmp(method, methods[i]) == 0)
            return i;
    }
    return NMETHODS - 1;
}

static size_t route_index(const struct fy_http_req *req)
{
    const struct fy_http_route *r = req->match ? req->match->route : NULL;

    if (r && m.routes && r >= m.routes && r < m.routes + m.nroutes)
        return (size_t)(r - m.routes);
    return FY_METRICS_MAX_ROUTES + method_index(req->method);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < FY_ARRAY_LEN(statuses); i++) {
        if (statuses[i] == status)
            return i;
    }
    return NSTATUS - 1;
}

void fy_metrics_request(const struct fy_http_req *req)
{
    size_t r = route_index(req), b = 0;
    double s = fy_mono_s() - req->started;

    if (s < 0)
        s = 0;
    while (b < NBOUNDS && s > bounds[b])
        b++;
    add(&m.requests[r][status_index(req->status)], 1);
    add(&m.latency[r][b], 1);
    add(&m.latency_us[r], (uint64_t)(s * 1e6));
    add(&m.bytes_in[r], req->bytes_in);
}

void fy_metrics_rows(const struct fy_table *t, enum fy_row_outcome o,
                     uint64_t n)
{
    const struct fy_contract *c = m.contract;

    /* Only the served contract's tables: a name never makes a series. */
    uintptr_t at = (uintptr_t)t, first = c ? (uintptr_t)c->tables : 0;
    size_t i;

    if (!c || !m.rows || !t || at < first || (size_t)o >= NOUTCOMES || n == 0)
        return;
    i = (size_t)(at - first) / sizeof(*t);
    if (i >= c->ntables || &c->tables[i] != t)
        return;
    add(&m.rows[i * NOUTCOMES + (size_t)o], n);
}

void fy_metrics_push_rejected(uint64_t n)
{
    add(&m.rejected, n);
}

void fy_metrics_blob_bytes(bool served, uint64_t n)
{
    add(served ? &m.blob_down : &m.blob_up, n);
}

void fy_metrics_store_error(int status)
{
    add(status == 503 ? &m.store_503 : &m.store_500, 1);
}

/* ---- exposition --------------------------------------------------------- */

static void family(struct fy_buf *b, const char *name, const char *type,
                   const char *help)
{
    fy_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void fy_metrics_label(struct fy_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            fy_buf_adds(b, "\\\\");
        else if (*v == '"')
            fy_buf_adds(b, "\\\"");
        else if (*v == '\n')
            fy_buf_adds(b, "\\n");
        else
            fy_buf_addc(b, *v);
    }
}

/* route="PATTERN",method="METHOD" of series r. */
static void add_route(struct fy_buf *b, size_t r)
{
    bool known = r < m.nroutes;

    fy_buf_adds(b, "route=\"");
    fy_metrics_label(b, known ? m.routes[r].pattern : "unmatched");
    fy_buf_adds(b, "\",method=\"");
    fy_metrics_label(b, known ? m.routes[r].method
                        : r >= FY_METRICS_MAX_ROUTES
                            ? methods[r - FY_METRICS_MAX_ROUTES]
                            : "other");
    fy_buf_addc(b, '"');
}

static void status_label(size_t s, char buf[8])
{
    if (s + 1 < NSTATUS)
        snprintf(buf, 8, "%d", statuses[s]);
    else
        snprintf(buf, 8, "other");
}

static bool route_seen(size_t r)
{
    uint64_t n = 0;

    for (size_t b = 0; b <= NBOUNDS; b++)
        n += get(&m.latency[r][b]);
    return n > 0;
}

static void render_requests(struct fy_buf *b)
{
    char st[8];

    family(b, "ferry_http_requests_total", "counter",
           "HTTP requests by route pattern, method and status.");
    for (size_t r = 0; r < NROUTES; r++) {
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t n = get(&m.requests[r][s]);

            if (!n)
                continue;
            status_label(s, st);
            fy_buf_adds(b, "ferry_http_requests_total{");
            add_route(b, r);
            fy_buf_addf(b, ",status=\"%s\"} %" PRIu64 "\n", st, n);
        }
    }
}

static void render_latency(struct fy_buf *b)
{
    family(b, "ferry_http_request_duration_seconds", "histogram",
           "Time from a request's arrival to its end, by route pattern and"
           " method.");
    for (size_t r = 0; r < NROUTES; r++) {
        uint64_t cum = 0;

        if (!route_seen(r))
            continue;
        for (size_t k = 0; k <= NBOUNDS; k++) {
            cum += get(&m.latency[r][k]);
            fy_buf_adds(b, "ferry_http_request_duration_seconds_bucket{");
            add_route(b, r);
            if (k < NBOUNDS)
                fy_buf_addf(b, ",le=\"%g\"} %" PRIu64 "\n", bounds[k], cum);
            else
                fy_buf_addf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        fy_buf_adds(b, "ferry_http_request_duration_seconds_sum{");
        add_route(b, r);
        fy_buf_addf(b, "} %.6f\n", (double)get(&m.latency_us[r]) / 1e6);
        fy_buf_adds(b, "ferry_http_request_duration_seconds_count{");
        add_route(b, r);
        fy_buf_addf(b, "} %" PRIu64 "\n", cum);
    }
    family(b, "ferry_http_request_body_bytes_total", "counter",
           "Request body bytes received as sent (before gunzip), by route"
           " pattern and method.");
    for (size_t r = 0; r < NROUTES; r++) {
        if (!route_seen(r))
            continue;
        fy_buf_adds(b, "ferry_http_request_body_bytes_total{");
        add_route(b, r);
        fy_buf_addf(b, "} %" PRIu64 "\n", get(&m.bytes_in[r]));
    }
}

static void render_rows(struct fy_buf *b)
{
    const struct fy_contract *c = m.contract;

    family(b, "ferry_rows_applied_total", "counter",
           "Changes of pushes and the row API by contract table and outcome"
           " (skipped: at or below the device's acknowledged seq).");
    for (size_t t = 0; c && m.rows && t < c->ntables; t++) {
        for (size_t o = 0; o < NOUTCOMES; o++) {
            fy_buf_adds(b, "ferry_rows_applied_total{table=\"");
            fy_metrics_label(b, c->tables[t].name);
            fy_buf_addf(b, "\",outcome=\"%s\"} %" PRIu64 "\n", outcomes[o],
                        get(&m.rows[t * NOUTCOMES + o]));
        }
    }
    family(b, "ferry_push_rejected_changes_total", "counter",
           "Changes named in the answers of pushes refused whole (4xx).");
    fy_buf_addf(b, "ferry_push_rejected_changes_total %" PRIu64 "\n",
                get(&m.rejected));
    family(b, "ferry_blob_bytes_total", "counter",
           "Blob bytes written to the store by uploads, and sent by"
           " downloads.");
    fy_buf_addf(b,
                "ferry_blob_bytes_total{direction=\"uploaded\"} %" PRIu64
                "\nferry_blob_bytes_total{direction=\"served\"} %" PRIu64 "\n",
                get(&m.blob_up), get(&m.blob_down));
    family(b, "ferry_store_errors_total", "counter",
           "Requests answered 503 (store unavailable or busy) or 500 because"
           " of the store.");
    fy_buf_addf(b,
                "ferry_store_errors_total{status=\"503\"} %" PRIu64
                "\nferry_store_errors_total{status=\"500\"} %" PRIu64 "\n",
                get(&m.store_503), get(&m.store_500));
}

static void render_pool(struct fy_buf *b, struct fy_store_pool *pool)
{
    struct fy_store_pool_stats ps = {0};

    if (pool)
        fy_store_pool_stats(pool, &ps);
    family(b, "ferry_store_pool_connections", "gauge",
           "Store connections in the pool.");
    fy_buf_addf(b, "ferry_store_pool_connections %u\n", ps.size);
    family(b, "ferry_store_pool_in_use", "gauge",
           "Store connections lent to requests now.");
    fy_buf_addf(b, "ferry_store_pool_in_use %u\n", ps.in_use);
    family(b, "ferry_store_pool_waits_total", "counter",
           "Times a request found no idle store connection and waited.");
    fy_buf_addf(b, "ferry_store_pool_waits_total %" PRIu64 "\n", ps.waits);
    family(b, "ferry_store_pool_wait_seconds_total", "counter",
           "Time requests waited for a store connection.");
    fy_buf_addf(b, "ferry_store_pool_wait_seconds_total %.6f\n",
                (double)ps.wait_us / 1e6);
    family(b, "ferry_store_pool_timeouts_total", "counter",
           "Waits for a store connection that gave up (answered 503).");
    fy_buf_addf(b, "ferry_store_pool_timeouts_total %" PRIu64 "\n",
                ps.timeouts);
}

struct streams {
    int64_t leases;
    struct fy_buf age; /* ferry_stream_last_success_age_seconds samples */
};

static int add_stream(const struct fy_run_status *s, void *ud)
{
    struct streams *l = ud;

    l->leases += s->lease_run != 0 && s->lease_until_ms > s->now_ms;
    if (s->last_success_ms > 0) {
        fy_buf_adds(&l->age, "ferry_stream_last_success_age_seconds{stream=\"");
        fy_metrics_label(&l->age, s->name);
        fy_buf_addf(&l->age, "\"} %.3f\n",
                    s->now_ms > s->last_success_ms
                        ? (double)(s->now_ms - s->last_success_ms) / 1000
                        : 0.0);
    }
    return 0;
}

struct devices {
    struct fy_buf seq, age;
    int64_t now;
};

static int add_device(const struct fy_device_row *d, void *ud)
{
    struct devices *v = ud;

    fy_buf_adds(&v->seq, "ferry_device_acked_seq{device=\"");
    fy_metrics_label(&v->seq, d->device);
    fy_buf_addf(&v->seq, "\"} %" PRId64 "\n", d->acked_seq);
    if (d->last_push_s > 0) {
        fy_buf_adds(&v->age, "ferry_device_last_push_age_seconds{device=\"");
        fy_metrics_label(&v->age, d->device);
        fy_buf_addf(&v->age, "\"} %" PRId64 "\n",
                    v->now > d->last_push_s ? v->now - d->last_push_s : 0);
    }
    return 0;
}

/* Read from the store when scraped: 0, or < 0 with nothing added. */
static int render_store(struct fy_buf *b, struct fy_store *st,
                        size_t max_devices)
{
    struct fy_status_req q = {.kind = "stream"};
    struct streams l = {0, FY_BUF_INIT(0)};
    struct devices v = {FY_BUF_INIT(0), FY_BUF_INIT(0), (int64_t)time(NULL)};
    int rc = fy_store_run_status(st, &q, add_stream, NULL, &l, NULL);

    if (rc == 0 && max_devices > 0)
        rc = fy_store_devices_each(st, max_devices, add_device, &v, NULL);
    if (rc == 0) {
        family(b, "ferry_active_leases", "gauge",
               "Streams whose run holds a live lease now.");
        fy_buf_addf(b, "ferry_active_leases %" PRId64 "\n", l.leases);
        family(b, "ferry_stream_last_success_age_seconds", "gauge",
               "Seconds since a stream's last successful run (by the store's"
               " clock).");
        fy_buf_add(b, l.age.data, l.age.len);
    }
    if (rc == 0 && max_devices > 0) {
        family(b, "ferry_device_acked_seq", "gauge",
               "The highest seq of a device's pushes the store acknowledged.");
        fy_buf_add(b, v.seq.data, v.seq.len);
        family(b, "ferry_device_last_push_age_seconds", "gauge",
               "Seconds since a device's last push that applied changes.");
        fy_buf_add(b, v.age.data, v.age.len);
    }
    fy_buf_release(&l.age);
    fy_buf_release(&v.seq);
    fy_buf_release(&v.age);
    return rc;
}

int fy_metrics_render(struct fy_buf *out, struct fy_store_pool *pool,
                      struct fy_store *st, size_t max_devices)
{
    int up;

    fy_buf_reset(out);
    family(out, "ferry_build_info", "gauge",
           "Always 1; the version of this ferryd in its label.");
    fy_buf_adds(out, "ferry_build_info{version=\"");
    fy_metrics_label(out, ferry_version());
    fy_buf_adds(out, "\"} 1\n");
    family(out, "ferry_process_start_time_seconds", "gauge",
           "When this ferryd started, in unix seconds.");
    fy_buf_addf(out, "ferry_process_start_time_seconds %" PRId64 "\n",
                m.started_s);
    render_requests(out);
    render_latency(out);
    render_rows(out);
    render_pool(out, pool);
    up = st && render_store(out, st, max_devices) == 0;
    family(out, "ferry_metrics_store_up", "gauge",
           "1 when this scrape could read the store's leases and devices.");
    fy_buf_addf(out, "ferry_metrics_store_up %d\n", up);
    return out->len > 0 ? 0 : FERRY_ENOMEM;
}

/* ---- the route ---------------------------------------------------------- */

struct check_counts {
    uint64_t ok, stale, pending;
};

static int count_check(const struct fy_check *c, void *ud)
{
    struct check_counts *k = ud;

    if (strcmp(c->status, "stale") == 0)
        k->stale++;
    else if (strcmp(c->status, "ok") == 0)
        k->ok++;
    else
        k->pending++;
    return 0;
}

/*
 * /health's checks by status, for an alert rule on any stale one (their
 * names are in /health: a series per device would be unbounded).
 */
static void render_checks(struct fy_buf *b, const struct fy_health_expect *e,
                          struct fy_store *st)
{
    struct check_counts k = {0};

    if (!e || !st || fy_health_eval(e, st, count_check, &k, NULL) < 0)
        return;
    family(b, "ferry_health_checks", "gauge",
           "GET /health's checks of silence by status.");
    fy_buf_addf(b,
                "ferry_health_checks{status=\"ok\"} %" PRIu64
                "\nferry_health_checks{status=\"stale\"} %" PRIu64
                "\nferry_health_checks{status=\"pending\"} %" PRIu64 "\n",
                k.ok, k.stale, k.pending);
}

static void handle_metrics(struct fy_http_req *req, struct fy_http_resp *resp,
                           void *ud)
{
    struct fy_api *api = ud;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    /* Open by default; metrics_auth "admin" wants an admin key. */
    if (api->metrics_admin && fy_api_auth(req, FY_AUTH_ADMIN, resp, api) < 0)
        return;
    if (fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err) < 0)
        fy_warn("metrics", "store not read: %s", err.msg);
    rc = fy_metrics_render(&resp->body, api->pool, st, api->metrics_devices);
    if (rc == 0)
        render_checks(&resp->body, api->expect, st);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0) {
        fy_http_error(resp, FERRY_WIRE_INTERNAL, "out of memory", NULL);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

const struct fy_http_route fy_metrics_routes[] = {
    {.method = "GET",
     .pattern = "/metrics",
     .auth = FY_AUTH_NONE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_metrics},
};

const size_t fy_metrics_nroutes = FY_ARRAY_LEN(fy_metrics_routes);
