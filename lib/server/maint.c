/* SPDX-License-Identifier: MIT */
/*
 * ferryd's housekeeping thread (maint.h). It sleeps on a condition
 * variable, so that stopping ferryd never waits for an interval to pass.
 */
#include "server/maint.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "store/store.h"
#include "fy.h"

/* How long a pass waits for a store connection. */
#define POOL_WAIT_MS 5000

struct fy_maint {
    struct fy_maint_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu */
};

static void sweep(struct fy_store *st)
{
    struct ferry_err err = {0};
    long n = 0;

    if (fy_store_runs_sweep(st, &n, &err) < 0)
        fy_warn("runs", "recording expired runs abandoned failed: %s", err.msg);
    else if (n > 0)
        fy_info("runs",
                "recorded %ld run%s abandoned: the lease expired"
                " without a heartbeat",
                n, n == 1 ? "" : "s");
}

static void prune(struct fy_store *st, int64_t retention_ms)
{
    struct ferry_err err = {0};
    int64_t now = 0;
    long n = 0;

    /* Ended rows are stamped by the store's clock: age them by it too. */
    if (retention_ms <= 0)
        return;
    if (fy_store_now_ms(st, &now, &err) < 0 ||
        fy_store_history_prune(st, now - retention_ms, &n, &err) < 0)
        fy_warn("runs", "pruning run history failed: %s", err.msg);
    else if (n > 0)
        fy_info("runs", "pruned %ld run history row%s older than %lld s", n,
                n == 1 ? "" : "s", (long long)(retention_ms / 1000));
    else if (n < 0)
        fy_debug("runs", "another ferryd is pruning run history");
}

/* Sessions that can no longer log anyone in need not be kept. */
static void expire_sessions(const struct fy_maint_opts *o, struct fy_store *st)
{
    struct ferry_err err = {0};
    long n = 0;

    if (o->dash_idle_ms <= 0 || o->dash_max_ms <= 0)
        return;
    if (fy_store_dash_sessions_expire(st, o->dash_idle_ms, o->dash_max_ms, &n,
                                      &err) < 0)
        fy_warn("dashboard", "removing expired sessions failed: %s", err.msg);
    else if (n > 0)
        fy_info("dashboard", "removed %ld expired session%s", n,
                n == 1 ? "" : "s");
}

/* Writes the device runs added up; quiet unless it fails. */
static void flush(const struct fy_maint_opts *o, struct fy_store *st)
{
    struct ferry_err err = {0};
    long n = 0;

    if (o->devruns && fy_devruns_flush(o->devruns, st, &n, &err) < 0)
        fy_warn("runs", "device runs kept for later: %s", err.msg);
}

/* A pass: device runs always; leases and history when lease_too. */
static void pass(const struct fy_maint_opts *o, bool lease_too)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;

    if (fy_store_pool_get(o->pool, POOL_WAIT_MS, &st, &err) < 0) {
        fy_debug("runs", "housekeeping skipped: %s", err.msg);
        return;
    }
    flush(o, st);
    if (lease_too) {
        sweep(st);
        prune(st, o->history_retention_ms);
        expire_sessions(o, st);
    }
    fy_store_pool_put(o->pool, st);
}

/* Waits up to ms or until stopped; true when stopped. */
static bool wait_stop(struct fy_maint *m, int64_t ms)
{
    return fy_wait_stop(&m->mu, &m->cv, &m->stop, ms);
}

/* How often device runs are written. */
#define FLUSH_MS 1000

static void *maint_main(void *arg)
{
    struct fy_maint *m = arg;
    int64_t next = fy_now_ms() + m->o.interval_ms;

    while (!wait_stop(m, m->o.interval_ms < FLUSH_MS ? m->o.interval_ms
                                                     : FLUSH_MS)) {
        bool due = fy_now_ms() >= next;

        if (due)
            next = fy_now_ms() + m->o.interval_ms;
        pass(&m->o, due);
    }
    pass(&m->o, false); /* what the last requests added up */
    return NULL;
}

int fy_maint_start(const struct fy_maint_opts *o, struct fy_maint **out,
                   struct ferry_err *err)
{
    struct fy_maint *m = fy_calloc(1, sizeof(*m));

    *out = NULL;
    if (!m)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    m->o = *o;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        fy_free(m);
        return fy_err_set(err, FERRY_ENOMEM, "cannot start a thread");
    }
    *out = m;
    return 0;
}

void fy_maint_stop(struct fy_maint *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    fy_free(m);
}
