/* SPDX-License-Identifier: MIT */
/*
 * The alert thread; see alert.h.
 */
#include "server/alert.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "http/client.h"
#include "fy.h"

/* Alerts waiting to be delivered at most; older ones are dropped. */
#define QUEUE_MAX 256
/* Attempts of one alert: about 10 minutes with backoff up to a minute. */
#define ATTEMPTS_MAX    14
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS  60000
#define POOL_WAIT_MS    5000
#define TICK_MS         250
#define URL_MAX         1024

struct pending {
    char *body; /* the JSON alert (owned) */
    int attempts;
    int64_t due_ms;
};

struct fy_alert {
    struct fy_alert_opts o;
    struct fy_http_client *client;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu */
    /* The thread's own: */
    struct pending q[QUEUE_MAX];
    size_t n;
};

bool fy_alert_url_ok(const char *url)
{
    size_t n = url ? strlen(url) : 0;

    if (n == 0 || n > URL_MAX ||
        !(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return false;
    }
    /* Something after the scheme: a host. */
    return url[strncmp(url, "https", 5) == 0 ? 8 : 7] != '\0' &&
           url[strncmp(url, "https", 5) == 0 ? 8 : 7] != '/';
}

static void drop_first(struct fy_alert *a)
{
    fy_free(a->q[0].body);
    memmove(&a->q[0], &a->q[1], (a->n - 1) * sizeof(a->q[0]));
    a->n--;
}

static void enqueue(struct fy_alert *a, char *body)
{
    if (a->n == QUEUE_MAX) {
        fy_error("alert",
                 "%d alerts wait to be delivered: dropping the"
                 " oldest",
                 QUEUE_MAX);
        drop_first(a);
    }
    a->q[a->n++] = (struct pending){.body = body, .due_ms = fy_now_ms()};
}

/* The alert's JSON: the check, what happened, who says so and when. */
static char *alert_body(const struct fy_alert *a, const struct fy_check *c,
                        bool stale)
{
    char now[FY_UTC_MS_STRLEN + 1];
    json_t *j = fy_check_json(c);
    char *text = NULL;

    if (j &&
        json_object_set_new(j, "event",
                            json_string(stale ? "stale" : "recovered")) == 0 &&
        json_object_set_new(j, "service", json_string(a->o.service)) == 0 &&
        json_object_set_new(j, "instance", json_string(a->o.instance)) == 0 &&
        json_object_set_new(j, "at",
                            json_string(fy_utc_ms(fy_now_ms(), now))) == 0)
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

/*
 * The checks judged, copied: they are claimed after the read, which runs
 * in a read-only transaction of its own.
 */
struct judged_one {
    struct fy_check c;
    char *name; /* owned; c.name points at it */
};

struct judged {
    struct judged_one *v;
    size_t n, cap;
};

static void judged_release(struct judged *j)
{
    for (size_t i = 0; i < j->n; i++)
        fy_free(j->v[i].name);
    fy_free(j->v);
}

static int keep_check(const struct fy_check *c, void *ud)
{
    struct judged *j = ud;

    /* Never synced: nothing to recover from, nothing gone silent yet. */
    if (strcmp(c->status, "pending") == 0)
        return 0;
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 16;
        struct judged_one *v = fy_realloc(j->v, cap * sizeof(*v));

        if (!v)
            return FERRY_ENOMEM;
        j->v = v;
        j->cap = cap;
    }
    j->v[j->n].c = *c;
    j->v[j->n].name = fy_strdup(c->name);
    if (!j->v[j->n].name)
        return FERRY_ENOMEM;
    j->v[j->n].c.name = j->v[j->n].name;
    j->n++;
    return 0;
}

/* Claims c's state; a change this ferryd made is an alert to send. */
static void claim(struct fy_alert *a, struct fy_store *st,
                  const struct fy_check *c)
{
    struct ferry_err err = {0};
    bool stale = strcmp(c->status, "stale") == 0, changed = false;
    char key[256];
    char *body;

    snprintf(key, sizeof(key), "%s:%s", c->kind, c->name);
    if (fy_store_alert_claim(st, key, stale, &changed, &err) < 0) {
        fy_warn("alert", "check %s not recorded: %s", key, err.msg);
        return;
    }
    if (!changed)
        return;
    fy_info("alert", "%s %s: %s (silent %lld s, expected every %lld s)",
            c->kind, c->name, stale ? "stale" : "recovered",
            (long long)(c->age_ms / 1000), (long long)(c->expected_ms / 1000));
    body = alert_body(a, c, stale);
    if (!body)
        fy_error("alert", "out of memory: the alert of %s is lost", key);
    else
        enqueue(a, body);
}

static void judge_all(struct fy_alert *a)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    struct judged j = {0};

    if (fy_store_pool_get(a->o.pool, POOL_WAIT_MS, &st, &err) < 0) {
        fy_warn("alert", "checks not judged: %s", err.msg);
        return;
    }
    if (fy_health_eval(a->o.expect, st, keep_check, &j, &err) < 0)
        fy_warn("alert", "checks not judged: %s", err.msg);
    else
        for (size_t i = 0; i < j.n; i++)
            claim(a, st, &j.v[i].c);
    fy_store_pool_put(a->o.pool, st);
    judged_release(&j);
}

/* Sends the first alert if it is due: true when it is done with. */
static bool send_first(struct fy_alert *a, struct fy_backoff *b)
{
    struct pending *p = &a->q[0];
    struct fy_http_reply rep = {.body = FY_BUF_INIT(1u << 16)};
    struct ferry_err err = {0};
    int rc;

    if (fy_now_ms() < p->due_ms)
        return false;
    rc = fy_http_post_json(a->client, "", NULL, NULL, p->body, strlen(p->body),
                           false, &rep, &err);
    fy_buf_release(&rep.body);
    if (rc == 0 && rep.status >= 200 && rep.status < 300) {
        fy_backoff_reset(b);
        return true;
    }
    p->attempts++;
    if (p->attempts >= ATTEMPTS_MAX) {
        fy_error("alert", "alert dropped after %d attempts (last: %s): %s",
                 p->attempts, rc < 0 ? err.msg : "a non-2xx answer", p->body);
        return true;
    }
    p->due_ms = fy_now_ms() + fy_backoff_next(b, rep.retry_after_ms);
    fy_warn("alert", "alert not delivered (%s%ld), attempt %d; retrying",
            rc < 0 ? err.msg : "status ", rc < 0 ? 0L : rep.status,
            p->attempts);
    return false;
}

/* Waits up to ms or until stopped; true when stopped. */
static bool wait_stop(struct fy_alert *a, int64_t ms)
{
    return fy_wait_stop(&a->mu, &a->cv, &a->stop, ms);
}

/* In order: a later alert of a check never overtakes an earlier one. */
static void *alert_main(void *arg)
{
    struct fy_alert *a = arg;
    struct fy_backoff b;
    int64_t next = fy_now_ms() + a->o.interval_ms;

    fy_backoff_init(&b, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                    (uint64_t)fy_now_ms() | 1);
    while (!wait_stop(a, TICK_MS)) {
        if (fy_now_ms() >= next) {
            judge_all(a);
            next = fy_now_ms() + a->o.interval_ms;
        }
        while (a->n > 0 && send_first(a, &b))
            drop_first(a);
    }
    if (a->n)
        fy_warn("alert", "stopping with %zu alert%s not delivered", a->n,
                a->n == 1 ? "" : "s");
    while (a->n)
        drop_first(a);
    return NULL;
}

int fy_alert_start(const struct fy_alert_opts *o, struct fy_alert **out,
                   struct ferry_err *err)
{
    struct fy_alert *a = fy_calloc(1, sizeof(*a));
    int rc;

    *out = NULL;
    if (!a)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    a->o = *o;
    rc = fy_http_client_new(o->url, 10, &a->client, err);
    if (rc < 0) {
        fy_free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, alert_main, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        fy_http_client_free(a->client);
        fy_free(a);
        return fy_err_set(err, FERRY_ENOMEM, "cannot start a thread");
    }
    *out = a;
    return 0;
}

void fy_alert_stop(struct fy_alert *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    fy_http_client_free(a->client);
    fy_free(a);
}
