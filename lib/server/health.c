/* SPDX-License-Identifier: MIT */
/*
 * Expected intervals and the checks they make; see health.h.
 */
#include "server/health.h"

#include <stdlib.h>
#include <string.h>

#include "fy.h"

enum { STREAMS, DEVICES, NKINDS };

static const char *const kind_names[NKINDS] = {"stream", "device"};

struct rule {
    char *name;
    int64_t ms;
};

struct fy_health_expect {
    struct rule *rules[NKINDS];
    size_t nrules[NKINDS];
    int64_t any_ms[NKINDS]; /* "*"; 0: none */
    size_t learn_runs;      /* 0: no learning */
    double factor;
    int64_t floor_ms;
};

#define NAME_MAX_LEN   200
#define LEARN_RUNS_MAX 100

int fy_health_duration(const json_t *v, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    const char *s = json_string_value(v);
    int64_t n = 0, mul = 0;
    size_t len;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
        mul = 1000;
    } else if (s && (len = strlen(s)) >= 2 && len <= 12) {
        for (size_t i = 0; i + 1 < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return FERRY_ECONFIG;
            n = n * 10 + (s[i] - '0');
        }
        for (size_t i = 0; i < FY_ARRAY_LEN(units); i++) {
            if (s[len - 1] == units[i].unit)
                mul = units[i].ms;
        }
    }
    if (mul == 0 || n <= 0 || n > FY_HEALTH_MAX_MS / mul ||
        n * mul < FY_HEALTH_MIN_MS)
        return FERRY_ECONFIG;
    *ms = n * mul;
    return 0;
}

void fy_health_expect_free(struct fy_health_expect *e)
{
    if (!e)
        return;
    for (int k = 0; k < NKINDS; k++) {
        for (size_t i = 0; i < e->nrules[k]; i++)
            fy_free(e->rules[k][i].name);
        fy_free(e->rules[k]);
    }
    fy_free(e);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

static int parse_kind(struct fy_health_expect *e, int k, json_t *v,
                      struct ferry_err *err)
{
    const char *name;
    json_t *d;

    if (!json_is_object(v))
        return fy_err_set(err, FERRY_ECONFIG,
                          "\"expect\".\"%ss\" must be an object of names and"
                          " intervals",
                          kind_names[k]);
    e->rules[k] = fy_calloc(json_object_size(v) + 1, sizeof(struct rule));
    if (!e->rules[k])
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_object_foreach(v, name, d)
    {
        int64_t ms = 0;
        struct rule *r;

        if (!name_ok(name))
            return fy_err_set(err, FERRY_ECONFIG,
                              "\"expect\".\"%ss\": a name of 1 to %d"
                              " printable characters, or \"*\"",
                              kind_names[k], NAME_MAX_LEN);
        if (fy_health_duration(d, &ms) < 0)
            return fy_err_set(err, FERRY_ECONFIG,
                              "\"expect\".\"%ss\".\"%s\": an interval such as"
                              " \"90s\", \"10m\", \"1h\", \"2d\" or seconds,"
                              " from 1 s to 366 days",
                              kind_names[k], name);
        if (strcmp(name, "*") == 0) {
            e->any_ms[k] = ms;
            continue;
        }
        r = &e->rules[k][e->nrules[k]];
        r->name = fy_strdup(name);
        if (!r->name)
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        r->ms = ms;
        e->nrules[k]++;
    }
    return 0;
}

static int parse_learn(struct fy_health_expect *e, json_t *v,
                       struct ferry_err *err)
{
    const json_t *runs = json_object_get(v, "runs");
    const json_t *factor = json_object_get(v, "factor");
    const json_t *floor_v = json_object_get(v, "floor");
    const char *key;
    json_t *m;

    if (!json_is_object(v))
        goto bad;
    json_object_foreach(v, key, m)
    {
        if (strcmp(key, "runs") != 0 && strcmp(key, "factor") != 0 &&
            strcmp(key, "floor") != 0)
            goto bad;
    }
    e->learn_runs = 10;
    e->factor = 3;
    e->floor_ms = 60000;
    if (runs && (!json_is_integer(runs) || json_integer_value(runs) < 3 ||
                 json_integer_value(runs) > LEARN_RUNS_MAX))
        goto bad;
    if (runs)
        e->learn_runs = (size_t)json_integer_value(runs);
    if (factor && (!json_is_number(factor) || json_number_value(factor) < 1 ||
                   json_number_value(factor) > 100))
        goto bad;
    if (factor)
        e->factor = json_number_value(factor);
    if (floor_v && fy_health_duration(floor_v, &e->floor_ms) < 0)
        goto bad;
    return 0;
bad:
    return fy_err_set(err, FERRY_ECONFIG,
                      "\"expect\".\"learn\" must be an object {\"runs\": 3 to"
                      " %d, \"factor\": 1 to 100, \"floor\": an interval},"
                      " each optional",
                      LEARN_RUNS_MAX);
}

int fy_health_expect_parse(json_t *v, struct fy_health_expect **out,
                           struct ferry_err *err)
{
    struct fy_health_expect *e = NULL;
    const char *key;
    json_t *m;
    int rc = 0;

    *out = NULL;
    if (!json_is_object(v))
        return fy_err_set(err, FERRY_ECONFIG,
                          "\"expect\" must be an object with \"streams\","
                          " \"devices\" and \"learn\", each optional");
    e = fy_calloc(1, sizeof(*e));
    if (!e)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_object_foreach(v, key, m)
    {
        if (strcmp(key, "streams") == 0)
            rc = parse_kind(e, STREAMS, m, err);
        else if (strcmp(key, "devices") == 0)
            rc = parse_kind(e, DEVICES, m, err);
        else if (strcmp(key, "learn") == 0)
            rc = parse_learn(e, m, err);
        else
            rc = fy_err_set(err, FERRY_ECONFIG,
                            "\"expect\": unknown member \"%.64s\" (streams,"
                            " devices, learn)",
                            key);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        fy_health_expect_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* ---- judging ------------------------------------------------------------- */

struct eval {
    const struct fy_health_expect *e;
    fy_check_fn *cb;
    void *ud;
    bool *seen[NKINDS]; /* configured names met in the store */
    /* The status row being judged; its history rows follow it. */
    bool have;
    int kind;
    char *name;
    int64_t last_success_ms, now_ms;
    int64_t starts[LEARN_RUNS_MAX];
    size_t nstarts;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/*
 * The learned interval: factor times the median gap between the starts of
 * the last successful runs (at least 3 of them), never under the floor.
 * 0 when there are too few.
 */
static int64_t learned_ms(const struct eval *v)
{
    int64_t gaps[LEARN_RUNS_MAX];
    size_t n = 0;
    double med, ms;

    if (!v->e->learn_runs || v->nstarts < 3)
        return 0;
    /* History comes newest first. */
    for (size_t i = 0; i + 1 < v->nstarts; i++)
        gaps[n++] = v->starts[i] - v->starts[i + 1];
    qsort(gaps, n, sizeof(gaps[0]), cmp_i64);
    med = n % 2 ? (double)gaps[n / 2]
                : ((double)gaps[n / 2 - 1] + (double)gaps[n / 2]) / 2;
    ms = med * v->e->factor;
    if (ms < (double)v->e->floor_ms)
        ms = (double)v->e->floor_ms;
    return ms > (double)FY_HEALTH_MAX_MS ? FY_HEALTH_MAX_MS : (int64_t)ms;
}

static void judge(struct fy_check *c, int64_t last_ms, int64_t now_ms)
{
    c->last_success_ms = last_ms;
    c->age_ms = last_ms ? (now_ms > last_ms ? now_ms - last_ms : 0) : -1;
    c->status = !last_ms                     ? "pending"
                : c->age_ms > c->expected_ms ? "stale"
                                             : "ok";
}

/* Judges the status row held, if any, and lets it go. */
static int finish(struct eval *v)
{
    const struct fy_health_expect *e = v->e;
    struct fy_check c = {.kind = kind_names[v->kind], .name = v->name};
    int rc = 0;

    if (!v->have)
        return 0;
    for (size_t i = 0; i < e->nrules[v->kind]; i++) {
        if (strcmp(e->rules[v->kind][i].name, v->name) == 0) {
            c.expected_ms = e->rules[v->kind][i].ms;
            c.source = "configured";
            v->seen[v->kind][i] = true;
        }
    }
    if (!c.source && (c.expected_ms = learned_ms(v)) > 0)
        c.source = "learned";
    if (!c.source && e->any_ms[v->kind]) {
        c.expected_ms = e->any_ms[v->kind];
        c.source = "default";
    }
    if (c.source) {
        judge(&c, v->last_success_ms, v->now_ms);
        rc = v->cb(&c, v->ud);
    }
    fy_free(v->name);
    v->name = NULL;
    v->have = false;
    return rc;
}

static int on_status(const struct fy_run_status *s, void *ud)
{
    struct eval *v = ud;
    int rc = finish(v);

    if (rc)
        return rc;
    v->kind = strcmp(s->kind, "stream") == 0 ? STREAMS : DEVICES;
    v->name = fy_strdup(s->name);
    if (!v->name)
        return FERRY_ENOMEM;
    v->have = true;
    v->last_success_ms = s->last_success_ms;
    v->now_ms = s->now_ms;
    v->nstarts = 0;
    return 0;
}

static int on_run(const struct fy_run *r, void *ud)
{
    struct eval *v = ud;

    if (v->have && strcmp(r->status, "success") == 0 &&
        v->nstarts < v->e->learn_runs && v->nstarts < LEARN_RUNS_MAX)
        v->starts[v->nstarts++] = r->started_ms;
    return 0;
}

static bool expects_any(const struct fy_health_expect *e)
{
    return e && (e->learn_runs || e->nrules[STREAMS] || e->nrules[DEVICES] ||
                 e->any_ms[STREAMS] || e->any_ms[DEVICES]);
}

/* Configured names the store has no status row for: never ran. */
static int unseen(struct eval *v)
{
    int rc = 0;

    for (int k = 0; rc == 0 && k < NKINDS; k++) {
        for (size_t i = 0; rc == 0 && i < v->e->nrules[k]; i++) {
            struct fy_check c = {.kind = kind_names[k],
                                 .name = v->e->rules[k][i].name,
                                 .source = "configured",
                                 .expected_ms = v->e->rules[k][i].ms};

            if (v->seen[k][i])
                continue;
            judge(&c, 0, 0);
            rc = v->cb(&c, v->ud);
        }
    }
    return rc;
}

int fy_health_eval(const struct fy_health_expect *e, struct fy_store *st,
                   fy_check_fn *cb, void *ud, struct ferry_err *err)
{
    struct fy_status_req q = {.history = e ? e->learn_runs : 0};
    struct eval v = {.e = e, .cb = cb, .ud = ud};
    int rc = 0;

    if (!expects_any(e))
        return 0;
    v.seen[STREAMS] = fy_calloc(e->nrules[STREAMS] + 1, sizeof(bool));
    v.seen[DEVICES] = fy_calloc(e->nrules[DEVICES] + 1, sizeof(bool));
    if (!v.seen[STREAMS] || !v.seen[DEVICES])
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = fy_store_run_status(st, &q, on_status, on_run, &v, err);
    if (rc == 0)
        rc = finish(&v);
    if (rc == 0)
        rc = unseen(&v);
    fy_free(v.name);
    fy_free(v.seen[STREAMS]);
    fy_free(v.seen[DEVICES]);
    return rc;
}

json_t *fy_check_json(const struct fy_check *c)
{
    char when[FY_UTC_MS_STRLEN + 1];
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "kind", c->kind, "name",
                          c->name, "status", c->status, "source", c->source,
                          "expected_s", (json_int_t)(c->expected_ms / 1000));

    if (!j)
        return NULL;
    json_object_set_new(j, "age_s",
                        c->age_ms < 0 ? json_null()
                                      : json_integer(c->age_ms / 1000));
    json_object_set_new(j, "last_success",
                        c->last_success_ms
                            ? json_string(fy_utc_ms(c->last_success_ms, when))
                            : json_null());
    return j;
}
