/* SPDX-License-Identifier: MIT */
/*
 * Per-key admission; see admit.h. One mutex guards the table: each request
 * holds it for a look-up and a few arithmetic operations, far below the
 * cost of the key check in the store that precedes it.
 */
#include "server/admit.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>

#include "util/hash.h"
#include "fy.h"

#define NBUCKETS 4096
/* Keys tracked at once; beyond, idle entries are dropped first. */
#define MAX_ENTRIES 65536

struct entry {
    char id[17];
    const struct fy_admit_limits *lim; /* borrowed from the fy_admit */
    double tokens, last;               /* bucket level at time last */
    unsigned inflight;
    unsigned push_waiters;
    int pushing; /* a push of this key holds its turn */
    struct entry *next;
};

struct fy_admit {
    pthread_mutex_t mu;
    pthread_cond_t push_cv;
    struct fy_admit_limits dflt;
    struct fy_admit_override *ov;
    size_t nov;
    struct entry *buckets[NBUCKETS];
    size_t nentries;
    _Atomic unsigned long refused; /* read without the mutex */
};

int fy_admit_new(const struct fy_admit_limits *dflt,
                 const struct fy_admit_override *ov, size_t nov,
                 struct fy_admit **out, struct ferry_err *err)
{
    struct fy_admit *a = fy_calloc(1, sizeof(*a));

    *out = NULL;
    if (a && nov) {
        a->ov = fy_calloc(nov, sizeof(*ov));
        if (!a->ov) {
            fy_free(a);
            a = NULL;
        }
    }
    if (!a)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (nov)
        memcpy(a->ov, ov, nov * sizeof(*ov));
    a->nov = nov;
    a->dflt = *dflt;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->push_cv, NULL);
    *out = a;
    return 0;
}

void fy_admit_free(struct fy_admit *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct entry *e = a->buckets[i];

        while (e) {
            struct entry *next = e->next;

            fy_free(e);
            e = next;
        }
    }
    pthread_cond_destroy(&a->push_cv);
    pthread_mutex_destroy(&a->mu);
    fy_free(a->ov);
    fy_free(a);
}

static const struct fy_admit_limits *limits_of(const struct fy_admit *a,
                                               const char *id)
{
    for (size_t i = 0; i < a->nov; i++)
        if (strcmp(a->ov[i].key_id, id) == 0)
            return &a->ov[i].lim;
    return &a->dflt;
}

static void refill(struct entry *e, double now)
{
    double burst = e->lim->burst < 1 ? 1 : e->lim->burst;

    if (now > e->last)
        e->tokens += (now - e->last) * e->lim->rate;
    if (e->tokens > burst)
        e->tokens = burst;
    e->last = now;
}

/* An entry that holds nothing a fresh one would not: safe to forget. */
static int idle(struct entry *e, double now)
{
    if (e->inflight || e->pushing || e->push_waiters)
        return 0;
    if (e->lim->rate <= 0)
        return 1;
    refill(e, now);
    return e->tokens >= (e->lim->burst < 1 ? 1 : e->lim->burst);
}

static void sweep(struct fy_admit *a, double now)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct entry **pp = &a->buckets[i];

        while (*pp) {
            struct entry *e = *pp;

            if (idle(e, now)) {
                *pp = e->next;
                fy_free(e);
                a->nentries--;
            } else {
                pp = &e->next;
            }
        }
    }
}

/* The key's entry, made when missing; NULL when none can be kept. */
static struct entry *find(struct fy_admit *a, const char *id, double now,
                          bool make)
{
    size_t b = fy_fnv1a(FY_FNV_SEED, id, strlen(id)) % NBUCKETS;
    struct entry *e = a->buckets[b];

    while (e && strcmp(e->id, id) != 0)
        e = e->next;
    if (e || !make || strlen(id) >= sizeof(e->id))
        return e;
    if (a->nentries >= MAX_ENTRIES)
        sweep(a, now);
    if (a->nentries >= MAX_ENTRIES)
        return NULL;
    e = fy_calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    memcpy(e->id, id, strlen(id) + 1);
    e->lim = limits_of(a, id);
    e->tokens = e->lim->burst < 1 ? 1 : e->lim->burst;
    e->last = now;
    e->next = a->buckets[b];
    a->buckets[b] = e;
    a->nentries++;
    return e;
}

/* Whole seconds until the bucket holds a token again (at least 1). */
static int retry_seconds(const struct entry *e)
{
    double s = (1 - e->tokens) / e->lim->rate;
    int whole = s > 3600 ? 3600 : (int)s;

    /* Rounded up: a retry at the time said is admitted. */
    return whole < s && whole < 3600 ? whole + 1 : whole < 1 ? 1 : whole;
}

int fy_admit_enter(struct fy_admit *a, const char *key_id, double now_s,
                   int *retry_s, struct ferry_err *err)
{
    struct entry *e;
    int rc = 0;

    *retry_s = 0;
    if (!a)
        return 0;
    pthread_mutex_lock(&a->mu);
    /* Untracked (the table is full of busy keys): admitted, not counted. */
    e = find(a, key_id, now_s, true);
    if (e && e->lim->concurrent && e->inflight >= e->lim->concurrent) {
        *retry_s = 1;
        rc = fy_err_set(err, FERRY_ERATELIMIT,
                        "this key already has %u requests in progress, the"
                        " most it may have at once; retry after %d s",
                        e->lim->concurrent, *retry_s);
    } else if (e && e->lim->rate > 0) {
        refill(e, now_s);
        if (e->tokens < 1) {
            *retry_s = retry_seconds(e);
            rc = fy_err_set(err, FERRY_ERATELIMIT,
                            "this key may make %g requests a second (%g at"
                            " once); retry after %d s",
                            e->lim->rate, e->lim->burst < 1 ? 1 : e->lim->burst,
                            *retry_s);
        } else {
            e->tokens -= 1;
        }
    }
    if (rc == 0 && e)
        e->inflight++;
    if (rc < 0)
        a->refused++;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void fy_admit_leave(struct fy_admit *a, const char *key_id)
{
    struct entry *e;

    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    e = find(a, key_id, 0, false);
    if (e && e->inflight)
        e->inflight--;
    pthread_mutex_unlock(&a->mu);
}

int fy_admit_push_begin(struct fy_admit *a, const char *key_id, int wait_ms,
                        struct ferry_err *err)
{
    struct timespec until;
    struct entry *e;
    int rc = 0;

    if (!a)
        return 0;
    fy_deadline_ms(&until, wait_ms);
    pthread_mutex_lock(&a->mu);
    /* Admitted requests hold their entry (inflight > 0): it stays. */
    e = find(a, key_id, 0, false);
    if (e) {
        e->push_waiters++;
        while (e->pushing && rc == 0)
            if (pthread_cond_timedwait(&a->push_cv, &a->mu, &until) ==
                ETIMEDOUT)
                rc = -1;
        e->push_waiters--;
        if (rc == 0) {
            e->pushing = 1;
        } else {
            a->refused++;
            rc = fy_err_set(err, FERRY_ERATELIMIT,
                            "another push of this key has been in progress"
                            " for %d ms; retry after 1 s",
                            wait_ms);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void fy_admit_push_end(struct fy_admit *a, const char *key_id)
{
    struct entry *e;

    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    e = find(a, key_id, 0, false);
    if (e && e->pushing) {
        e->pushing = 0;
        pthread_cond_broadcast(&a->push_cv);
    }
    pthread_mutex_unlock(&a->mu);
}

unsigned long fy_admit_refused(const struct fy_admit *a)
{
    return a ? atomic_load_explicit(&a->refused, memory_order_relaxed) : 0;
}
