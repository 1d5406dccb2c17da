/* SPDX-License-Identifier: MIT */
/* The doorbell of `ferry sync --watch`; see doorbell.h. */
#include "agent/doorbell.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/backoff.h"
#include "http/client.h"
#include "fy.h"

/* The HTTP timeout: longer than the server holds a question. */
#define CLIENT_TIMEOUT_S (FY_DOORBELL_WAIT_S + 15)
/*
 * An empty answer sooner than this means the server did not hold the
 * question (a ferryd without long polls): ask again only after this long,
 * as a plain poll.
 */
#define MIN_ROUND_MS 1000

struct fy_doorbell {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *cursor; /* the device's; NULL: none yet */
    bool moved;   /* the cursor changed since the last question */
    bool rang;
    int stop; /* atomic: also ends a request in flight */
    pthread_t thread;
    bool has_thread;
    struct fy_http_client *http;
    char *auth_header, *key;
};

/* What one question found. */
enum answer { QUIET, RING, TROUBLE };

/* One slice of a wait on d->cv (d->mu held). */
static void nap(struct fy_doorbell *d, long ms)
{
    struct timespec until;

    fy_deadline_ms(&until, ms);
    pthread_cond_timedwait(&d->cv, &d->mu, &until);
}

/*
 * The cursor to ask with next (a copy), once there is one, pause_ms have
 * passed and, after a ring, the loop's pull moved it (or 5 s passed: ask
 * anyway). NULL when stopped.
 */
static char *next_cursor(struct fy_doorbell *d, bool after_ring,
                         int64_t pause_ms)
{
    double start = fy_mono_s();
    char *c = NULL;

    pthread_mutex_lock(&d->mu);
    while (!__atomic_load_n(&d->stop, __ATOMIC_RELAXED)) {
        double waited = (fy_mono_s() - start) * 1000;

        if (d->cursor && waited >= (double)pause_ms &&
            (!after_ring || d->moved || waited >= 5000)) {
            c = fy_strdup(d->cursor);
            d->moved = false;
            break;
        }
        nap(d, 50);
    }
    pthread_mutex_unlock(&d->mu);
    return c;
}

static enum answer ask(struct fy_doorbell *d, const char *cursor)
{
    struct fy_buf path = FY_BUF_INIT(0);
    struct fy_http_reply rep = {.body = FY_BUF_INIT(1u << 20)};
    enum answer a = TROUBLE;
    json_t *j = NULL;

    fy_buf_addf(&path,
                "/v1/changes?limit=1&wait=%d&since=", FY_DOORBELL_WAIT_S);
    fy_buf_add_query(&path, cursor);
    if (!fy_buf_error(&path) &&
        fy_http_request(d->http,
                        &(struct fy_http_request){.method = "GET",
                                                  .path = path.data,
                                                  .auth_header = d->auth_header,
                                                  .key = d->key},
                        &rep, NULL) == 0) {
        /* 410: the watch loop's pull starts over; others: it will say. */
        if (rep.status != 200)
            a = rep.status == 410 ? RING : TROUBLE;
        else if ((j = json_loadb(rep.body.data ? rep.body.data : "",
                                 rep.body.len, 0, NULL)))
            a = json_array_size(json_object_get(j, "changes")) ? RING : QUIET;
    }
    json_decref(j);
    fy_buf_release(&rep.body);
    fy_buf_release(&path);
    return a;
}

static void ring(struct fy_doorbell *d)
{
    pthread_mutex_lock(&d->mu);
    d->rang = true;
    pthread_mutex_unlock(&d->mu);
}

static void *bell_main(void *arg)
{
    struct fy_doorbell *d = arg;
    struct fy_backoff bo;
    bool after_ring = false;
    int64_t pause = 0;

    fy_backoff_init(&bo, 500, 30000, (uint64_t)(fy_mono_s() * 1e6) | 1);
    while (!__atomic_load_n(&d->stop, __ATOMIC_RELAXED)) {
        /* After a ring, the next question waits for the loop's pull. */
        char *cursor = next_cursor(d, after_ring, pause);
        double t0 = fy_mono_s();
        enum answer a;

        pause = 0;
        if (!cursor)
            break; /* stopped */
        a = ask(d, cursor);
        fy_debug("sync", "long poll from %s: %s after %.0f ms", cursor,
                 a == RING    ? "changes"
                 : a == QUIET ? "nothing"
                              : "no answer",
                 (fy_mono_s() - t0) * 1000);
        fy_free(cursor);
        after_ring = a == RING;
        if (a == RING)
            ring(d);
        if (a == TROUBLE)
            pause = fy_backoff_next(&bo, -1);
        else
            fy_backoff_reset(&bo);
        if (a == QUIET && (fy_mono_s() - t0) * 1000 < MIN_ROUND_MS)
            pause = MIN_ROUND_MS;
    }
    return NULL;
}

int fy_doorbell_start(const char *base_url, const char *ca_file,
                      const char *auth_header, const char *key,
                      struct fy_doorbell **out, struct ferry_err *err)
{
    struct fy_doorbell *d = fy_calloc(1, sizeof(*d));
    int rc;

    *out = NULL;
    if (!d)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    d->auth_header = auth_header ? fy_strdup(auth_header) : NULL;
    d->key = key ? fy_strdup(key) : NULL;
    rc = fy_http_client_new(base_url, CLIENT_TIMEOUT_S, &d->http, err);
    if (rc == 0)
        rc = fy_http_client_set_ca(d->http, ca_file, err);
    if (rc == 0 && ((auth_header && !d->auth_header) || (key && !d->key)))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc < 0) {
        fy_http_client_free(d->http);
        fy_free(d->auth_header);
        fy_free(d->key);
        fy_free(d);
        return rc;
    }
    fy_http_client_abort_on(d->http, &d->stop);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->has_thread = pthread_create(&d->thread, NULL, bell_main, d) == 0;
    if (!d->has_thread) {
        fy_doorbell_stop(d);
        return fy_err_set(err, FERRY_ENOMEM, "cannot start a thread");
    }
    *out = d;
    return 0;
}

void fy_doorbell_cursor(struct fy_doorbell *d, const char *cursor)
{
    char *c = cursor && *cursor ? fy_strdup(cursor) : NULL;

    pthread_mutex_lock(&d->mu);
    if (c && (!d->cursor || strcmp(c, d->cursor) != 0))
        d->moved = true;
    fy_free(d->cursor);
    d->cursor = c;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

bool fy_doorbell_rang(struct fy_doorbell *d)
{
    bool r;

    pthread_mutex_lock(&d->mu);
    r = d->rang;
    d->rang = false;
    pthread_mutex_unlock(&d->mu);
    return r;
}

void fy_doorbell_stop(struct fy_doorbell *d)
{
    if (!d)
        return;
    __atomic_store_n(&d->stop, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->has_thread)
        pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    fy_http_client_free(d->http);
    fy_free(d->cursor);
    fy_free(d->auth_header);
    fy_free(d->key);
    fy_free(d);
}
