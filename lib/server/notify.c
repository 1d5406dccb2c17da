/* SPDX-License-Identifier: MIT */
/* Wake-ups for waiting pulls; see notify.h. */
#include "server/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "store/store.h"
#include "fy.h"

/* How long the listener waits per round: also how soon it sees a stop. */
#define LISTEN_ROUND_MS 500
/* Between reconnects of a lost listener. */
#define RECONNECT_MS 1000

struct fy_notify {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    uint64_t gen;
    bool quiescing;
    bool stopping; /* the listener's signal */
    bool has_thread;
    pthread_t thread;
    struct fy_store *st; /* the listener's connection, or NULL */
};

void fy_notify_bump(struct fy_notify *n)
{
    pthread_mutex_lock(&n->mu);
    n->gen++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

uint64_t fy_notify_gen(struct fy_notify *n)
{
    uint64_t g;

    pthread_mutex_lock(&n->mu);
    g = n->gen;
    pthread_mutex_unlock(&n->mu);
    return g;
}

int fy_notify_quiescing(struct fy_notify *n)
{
    int q;

    pthread_mutex_lock(&n->mu);
    q = n->quiescing;
    pthread_mutex_unlock(&n->mu);
    return q;
}

uint64_t fy_notify_wait(struct fy_notify *n, uint64_t seen, int64_t ms)
{
    struct timespec until;
    uint64_t g;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->mu);
    while (n->gen == seen && !n->quiescing &&
           pthread_cond_timedwait(&n->cv, &n->mu, &until) != ETIMEDOUT)
        ;
    g = n->gen;
    pthread_mutex_unlock(&n->mu);
    return g;
}

static bool stopping(struct fy_notify *n)
{
    bool s;

    pthread_mutex_lock(&n->mu);
    s = n->stopping;
    pthread_mutex_unlock(&n->mu);
    return s;
}

/*
 * The listener: notices from every ferryd's pushes. After a lost
 * connection it reconnects and bumps once, since notices sent meanwhile
 * are lost: waiters read again rather than miss a change.
 */
static void *listen_main(void *arg)
{
    struct fy_notify *n = arg;
    struct ferry_err err = {0};
    bool listening = false, got;

    while (!stopping(n)) {
        if (!listening) {
            listening = fy_store_listen(n->st, &err) == 0;
            if (!listening) {
                fy_debug("pull", "change notices: %s", err.msg);
                fy_sleep_ms(RECONNECT_MS);
                continue;
            }
            fy_notify_bump(n);
        }
        if (fy_store_wait_notice(n->st, LISTEN_ROUND_MS, &got, &err) < 0)
            listening = false;
        else if (got)
            fy_notify_bump(n);
    }
    return NULL;
}

int fy_notify_start(const char *store_url, struct fy_notify **out,
                    struct ferry_err *err)
{
    struct fy_notify *n = fy_calloc(1, sizeof(*n));
    pthread_condattr_t ca;
    struct ferry_err ignore = {0};

    *out = NULL;
    if (!n)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* An engine without notices needs no thread: this process's bumps. */
    if (store_url && fy_store_open(store_url, &n->st, &ignore) == 0 &&
        fy_store_listen(n->st, &ignore) != FERRY_EUNSUPPORTED) {
        n->has_thread = pthread_create(&n->thread, NULL, listen_main, n) == 0;
        if (!n->has_thread)
            fy_warn("pull", "no change listener thread: waiting pulls see"
                            " other ferryd processes' pushes late");
    }
    if (!n->has_thread) {
        fy_store_close(n->st);
        n->st = NULL;
    }
    *out = n;
    return 0;
}

void fy_notify_quiesce(struct fy_notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->quiescing = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void fy_notify_stop(struct fy_notify *n)
{
    if (!n)
        return;
    fy_notify_quiesce(n);
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    if (n->has_thread)
        pthread_join(n->thread, NULL);
    fy_store_close(n->st);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    fy_free(n);
}
