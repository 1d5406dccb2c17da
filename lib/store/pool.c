/* SPDX-License-Identifier: MIT */
/*
 * Store connection pool: a stack of idle connections under a mutex.
 */
#include "store/pool.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "fy.h"

struct fy_store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fy_store **all, **idle;
    unsigned n, nidle;
    /* For GET /metrics: counted under mu, which get takes anyway. */
    uint64_t waits, wait_us, timeouts;
};

void fy_store_pool_free(struct fy_store_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        fy_store_close(p->all[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    fy_free(p->all);
    fy_free(p->idle);
    fy_free(p);
}

int fy_store_pool_new(const char *url, unsigned n, struct fy_store_pool **out,
                      struct ferry_err *err)
{
    struct fy_store_pool *p = fy_calloc(1, sizeof(*p));
    int rc = 0;

    *out = NULL;
    if (!p)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->all = fy_calloc(n, sizeof(struct fy_store *));
    p->idle = fy_calloc(n, sizeof(struct fy_store *));
    if (!p->all || !p->idle) {
        fy_store_pool_free(p);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        /* serve before migrate must not leave an empty SQLite file */
        rc = fy_store_open_existing(url, &p->all[i], err);
        if (rc == 0) {
            p->idle[p->nidle++] = p->all[i];
            p->n++;
        }
    }
    if (rc < 0) {
        fy_store_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int fy_store_pool_get(struct fy_store_pool *p, int wait_ms,
                      struct fy_store **st, struct ferry_err *err)
{
    struct timespec until;
    double waited = 0;
    int rc = 0;

    fy_deadline_ms(&until, wait_ms);
    pthread_mutex_lock(&p->mu);
    if (p->nidle == 0)
        waited = fy_mono_s();
    while (p->nidle == 0 && rc == 0)
        rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
    *st = p->nidle ? p->idle[--p->nidle] : NULL;
    if (waited) {
        p->waits++;
        p->wait_us += (uint64_t)((fy_mono_s() - waited) * 1e6);
        p->timeouts += *st == NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (!*st)
        return fy_err_set(err, FERRY_EBUSY, "all %u store connections are busy",
                          p->n);
    return 0;
}

void fy_store_pool_put(struct fy_store_pool *p, struct fy_store *st)
{
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = st;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void fy_store_pool_stats(struct fy_store_pool *p, struct fy_store_pool_stats *s)
{
    pthread_mutex_lock(&p->mu);
    *s = (struct fy_store_pool_stats){.size = p->n,
                                      .in_use = p->n - p->nidle,
                                      .waits = p->waits,
                                      .wait_us = p->wait_us,
                                      .timeouts = p->timeouts};
    pthread_mutex_unlock(&p->mu);
}
