/* SPDX-License-Identifier: MIT */
/*
 * Request-head deadlines; see conn_guard.h. Safe against a closing
 * connection: libmicrohttpd calls the CLOSED notification before it
 * closes the socket, and that notification takes the guard's mutex, so
 * the guard never shuts down a descriptor that was closed and reused.
 */
#include "http/conn_guard.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "fy.h"

struct guarded {
    int fd;
    double since; /* fy_mono_s() when the wait for a head began */
    bool head;    /* a head arrived: its request is in progress */
    bool cut;
    struct guarded *prev, *next;
};

struct fy_conn_guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    double timeout_s;
    struct guarded *list;
    _Atomic unsigned long ncut; /* read without the mutex */
};

static void sweep(struct fy_conn_guard *g, double now)
{
    for (struct guarded *e = g->list; e; e = e->next) {
        if (e->head || e->cut || now - e->since < g->timeout_s)
            continue;
        /* libmicrohttpd's thread sees the end of input and closes. */
        shutdown(e->fd, SHUT_RDWR);
        e->cut = true;
        g->ncut++;
        fy_info("http",
                "connection closed: no complete request head within %.0f s",
                g->timeout_s);
    }
}

static void *guard_main(void *arg)
{
    struct fy_conn_guard *g = arg;

    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec until;

        sweep(g, fy_mono_s());
        /* A second's precision is plenty for a deadline of seconds. */
        fy_deadline_ms(&until, 1000);
        pthread_cond_timedwait(&g->cv, &g->mu, &until);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int fy_conn_guard_new(unsigned head_timeout_s, struct fy_conn_guard **out,
                      struct ferry_err *err)
{
    struct fy_conn_guard *g = fy_calloc(1, sizeof(*g));

    *out = NULL;
    if (!g)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    g->timeout_s = head_timeout_s;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        fy_free(g);
        return fy_err_set(err, FERRY_ENOMEM, "cannot start a thread");
    }
    *out = g;
    return 0;
}

void fy_conn_guard_free(struct fy_conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    /* The daemon has stopped: every connection was notified closed. */
    while (g->list) {
        struct guarded *e = g->list;

        g->list = e->next;
        fy_free(e);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    fy_free(g);
}

static void link_in(struct fy_conn_guard *g, struct guarded *e)
{
    e->next = g->list;
    if (g->list)
        g->list->prev = e;
    g->list = e;
}

static void unlink_out(struct fy_conn_guard *g, struct guarded *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        g->list = e->next;
    if (e->next)
        e->next->prev = e->prev;
}

void fy_conn_guard_notify(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct fy_conn_guard *g = cls;
    struct guarded *e = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

        /* Without memory the connection is just not guarded. */
        e = ci ? fy_calloc(1, sizeof(*e)) : NULL;
        if (!e)
            return;
        e->fd = ci->connect_fd;
        e->since = fy_mono_s();
        pthread_mutex_lock(&g->mu);
        link_in(g, e);
        pthread_mutex_unlock(&g->mu);
        *socket_context = e;
        return;
    }
    if (!e)
        return;
    pthread_mutex_lock(&g->mu);
    unlink_out(g, e);
    pthread_mutex_unlock(&g->mu);
    fy_free(e);
    *socket_context = NULL;
}

static struct guarded *guarded_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

void fy_conn_guard_head(struct fy_conn_guard *g, struct MHD_Connection *c)
{
    struct guarded *e = g ? guarded_of(c) : NULL;

    if (!e)
        return;
    pthread_mutex_lock(&g->mu);
    e->head = true;
    pthread_mutex_unlock(&g->mu);
}

void fy_conn_guard_idle(struct fy_conn_guard *g, struct MHD_Connection *c)
{
    struct guarded *e = g ? guarded_of(c) : NULL;

    if (!e)
        return;
    pthread_mutex_lock(&g->mu);
    e->head = false;
    e->since = fy_mono_s();
    pthread_mutex_unlock(&g->mu);
}

unsigned long fy_conn_guard_cut(const struct fy_conn_guard *g)
{
    return g ? atomic_load_explicit(&g->ncut, memory_order_relaxed) : 0;
}
