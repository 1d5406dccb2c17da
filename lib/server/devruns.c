/* SPDX-License-Identifier: MIT */
/*
 * Device runs added up in memory (devruns.h). A flush takes the whole
 * table out under the mutex and writes it without holding it, so that
 * requests never wait for the store; a failed flush puts its entries back.
 */
#include "server/devruns.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "fy.h"

/* Runs a table holds at most before it drops requests. */
#define DEVRUNS_MAX 100000
#define NBUCKETS    1024

struct entry {
    struct entry *next;
    char *device, *token, *op, *server, *error; /* owned; token, error may be
                                                    NULL */
    int64_t records, requests, failures, last_records;
    bool last_ok;
    int64_t first_ms, last_ms;
};

struct table {
    struct entry *b[NBUCKETS];
    size_t n;
};

struct fy_devruns {
    pthread_mutex_t mu;
    struct table t; /* under mu */
    long dropped;   /* under mu */
    /*
     * Held through a whole flush, so that a flush returns only once every
     * record added before it is committed, even those another flush had
     * taken (GET /v1/status relies on it).
     */
    pthread_mutex_t flush_mu;
};

static void entry_free(struct entry *e)
{
    fy_free(e->device);
    fy_free(e->token);
    fy_free(e->op);
    fy_free(e->server);
    fy_free(e->error);
    fy_free(e);
}

static void table_clear(struct table *t)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        while (t->b[i]) {
            struct entry *e = t->b[i];

            t->b[i] = e->next;
            entry_free(e);
        }
    }
    t->n = 0;
}

int fy_devruns_new(struct fy_devruns **out, struct ferry_err *err)
{
    struct fy_devruns *d = fy_calloc(1, sizeof(*d));

    *out = d;
    if (!d)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->flush_mu, NULL);
    return 0;
}

void fy_devruns_free(struct fy_devruns *d)
{
    if (!d)
        return;
    table_clear(&d->t);
    pthread_mutex_destroy(&d->flush_mu);
    pthread_mutex_destroy(&d->mu);
    fy_free(d);
}

static size_t bucket(const char *device, const char *token)
{
    uint64_t h = fy_fnv1a(FY_FNV_SEED, device, strlen(device));

    if (!token)
        token = "";
    h = fy_fnv1a(fy_fnv1a(h, "\xff", 1), token, strlen(token));
    return (size_t)(h % NBUCKETS);
}

static bool same_run(const struct entry *e, const char *device,
                     const char *token)
{
    return strcmp(e->device, device) == 0 &&
           strcmp(e->token ? e->token : "", token ? token : "") == 0;
}

/* The table's entry of device and token, or NULL. */
static struct entry *find(struct table *t, const char *device,
                          const char *token)
{
    struct entry *e = t->b[bucket(device, token)];

    while (e && !same_run(e, device, token))
        e = e->next;
    return e;
}

/* Adds the totals of a (one request or a flushed entry) into e. */
static void merge(struct entry *e, const struct fy_device_run *a)
{
    if (strcmp(e->op, a->op) != 0 && strcmp(e->op, "sync") != 0) {
        char *op = fy_strdup("sync");

        if (op) {
            fy_free(e->op);
            e->op = op;
        }
    }
    e->records += a->records;
    e->requests += a->requests;
    e->failures += a->failures;
    if (a->last_ms >= e->last_ms) {
        e->last_ok = a->last_ok;
        e->last_ms = a->last_ms;
        if (a->last_ok)
            e->last_records = a->last_records;
    }
    if (a->first_ms < e->first_ms)
        e->first_ms = a->first_ms;
    if (a->error) {
        char *copy = fy_strdup(a->error);

        if (copy) {
            fy_free(e->error);
            e->error = copy;
        }
    }
}

/* A new entry for a's run, or NULL (out of memory). */
static struct entry *entry_new(const struct fy_device_run *a)
{
    struct entry *e = fy_calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->device = fy_strdup(a->device);
    e->token = a->token ? fy_strdup(a->token) : NULL;
    e->op = fy_strdup(a->op);
    e->server = fy_strdup(a->server ? a->server : "");
    e->error = a->error ? fy_strdup(a->error) : NULL;
    if (!e->device || (a->token && !e->token) || !e->op || !e->server ||
        (a->error && !e->error)) {
        entry_free(e);
        return NULL;
    }
    e->records = a->records;
    e->requests = a->requests;
    e->failures = a->failures;
    e->last_records = a->last_records;
    e->last_ok = a->last_ok;
    e->first_ms = a->first_ms;
    e->last_ms = a->last_ms;
    return e;
}

/* Adds a to t; false when it could not (full, out of memory). */
static bool table_add(struct table *t, const struct fy_device_run *a)
{
    struct entry *e = find(t, a->device, a->token);
    size_t i;

    if (e) {
        merge(e, a);
        return true;
    }
    if (t->n >= DEVRUNS_MAX || !(e = entry_new(a)))
        return false;
    i = bucket(a->device, a->token);
    e->next = t->b[i];
    t->b[i] = e;
    t->n++;
    return true;
}

void fy_devruns_add(struct fy_devruns *d, const struct fy_device_run *r)
{
    struct fy_device_run one = fy_device_run_one(r, fy_now_ms());

    pthread_mutex_lock(&d->mu);
    if (!table_add(&d->t, &one))
        d->dropped++;
    pthread_mutex_unlock(&d->mu);
}

static struct fy_device_run as_run(const struct entry *e)
{
    return (struct fy_device_run){.device = e->device,
                                  .token = e->token,
                                  .op = e->op,
                                  .server = e->server,
                                  .records = e->records,
                                  .error = e->error,
                                  .requests = e->requests,
                                  .failures = e->failures,
                                  .last_records = e->last_records,
                                  .last_ok = e->last_ok,
                                  .first_ms = e->first_ms,
                                  .last_ms = e->last_ms};
}

static int by_start(const void *a, const void *b)
{
    int64_t x = ((const struct fy_device_run *)a)->first_ms;
    int64_t y = ((const struct fy_device_run *)b)->first_ms;

    return (x > y) - (x < y);
}

/*
 * The table's runs as store records (borrowing its strings), oldest first
 * so that new history rows are numbered in the order they began; owned.
 */
static struct fy_device_run *as_runs(const struct table *t)
{
    struct fy_device_run *v = fy_calloc(t->n ? t->n : 1, sizeof(*v));
    size_t k = 0;

    for (size_t i = 0; v && i < NBUCKETS; i++) {
        for (const struct entry *e = t->b[i]; e; e = e->next)
            v[k++] = as_run(e);
    }
    if (v)
        qsort(v, k, sizeof(*v), by_start);
    return v;
}

/* Puts the entries of from back into d's table (a failed flush). */
static void put_back(struct fy_devruns *d, struct table *from)
{
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (const struct entry *e = from->b[i]; e; e = e->next) {
            struct fy_device_run r = as_run(e);

            if (!table_add(&d->t, &r))
                d->dropped += e->requests;
        }
    }
    pthread_mutex_unlock(&d->mu);
    table_clear(from);
}

static int flush_locked(struct fy_devruns *d, struct fy_store *st,
                        long *written, struct ferry_err *err);

int fy_devruns_flush(struct fy_devruns *d, struct fy_store *st, long *written,
                     struct ferry_err *err)
{
    int rc;

    pthread_mutex_lock(&d->flush_mu);
    rc = flush_locked(d, st, written, err);
    pthread_mutex_unlock(&d->flush_mu);
    return rc;
}

static int flush_locked(struct fy_devruns *d, struct fy_store *st,
                        long *written, struct ferry_err *err)
{
    struct table taken;
    struct fy_device_run *v;
    long dropped;
    int rc;

    pthread_mutex_lock(&d->mu);
    taken = d->t;
    memset(&d->t, 0, sizeof(d->t));
    dropped = d->dropped;
    d->dropped = 0;
    pthread_mutex_unlock(&d->mu);
    *written = 0;
    if (dropped > 0)
        fy_warn("runs",
                "%ld device requests were not recorded: too many"
                " runs waited for the store",
                dropped);
    if (taken.n == 0)
        return 0;
    v = as_runs(&taken);
    rc = v ? fy_store_device_runs(st, v, taken.n, err)
           : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_free(v);
    if (rc < 0) {
        put_back(d, &taken);
        return rc;
    }
    *written = (long)taken.n;
    table_clear(&taken);
    return 0;
}
