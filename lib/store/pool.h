/* SPDX-License-Identifier: MIT */
/*
 * A fixed set of store connections shared by ferryd's request threads. A
 * thread borrows one for the length of a request; when all are busy it waits
 * up to a deadline and then reports the store as busy (503).
 */
#ifndef FY_STORE_POOL_H
#define FY_STORE_POOL_H

#include "store/store.h"

struct fy_store_pool;

/* Opens n connections to url; *out returned owned (fy_store_pool_free). */
int fy_store_pool_new(const char *url, unsigned n, struct fy_store_pool **out,
                      struct ferry_err *err);
void fy_store_pool_free(struct fy_store_pool *p);

/* Borrows a connection (wait at most wait_ms); FERRY_EBUSY on time-out. */
int fy_store_pool_get(struct fy_store_pool *p, int wait_ms,
                      struct fy_store **st, struct ferry_err *err);
/* Returns a borrowed connection. */
void fy_store_pool_put(struct fy_store_pool *p, struct fy_store *st);

/*
 * What GET /metrics shows of the pool: its size, connections lent now,
 * and since start the gets that found none idle (waits), the time they
 * waited, and those that gave up (timeouts, answered 503).
 */
struct fy_store_pool_stats {
    unsigned size, in_use;
    uint64_t waits, wait_us, timeouts;
};

void fy_store_pool_stats(struct fy_store_pool *p,
                         struct fy_store_pool_stats *s);

#endif
