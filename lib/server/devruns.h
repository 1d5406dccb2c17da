/* SPDX-License-Identifier: MIT */
/*
 * The device runs a ferryd records (docs/design.md#tracked-sync-runs),
 * added up in memory per device and run and written to the store about
 * once a second, all in one transaction: a push, pull or row write costs
 * an addition under a mutex, not statements of its own (they cost a
 * tenth of PostgreSQL ingest at batches of 200, measured in
 * docs/performance.md). A ferryd killed loses at most its last second of
 * records, never data they describe. Thread-safe.
 */
#ifndef FY_SERVER_DEVRUNS_H
#define FY_SERVER_DEVRUNS_H

#include "store/store.h"

struct fy_devruns;

/* An empty table; *out returned owned (fy_devruns_free). */
int fy_devruns_new(struct fy_devruns **out, struct ferry_err *err);
/* Frees d and whatever it still holds (flush it first). */
void fy_devruns_free(struct fy_devruns *d);

/*
 * Adds one request (r->requests 0, r->first_ms and r->last_ms unset: now
 * by this ferryd's clock) to its run's totals. Strings are copied. A table
 * past its bound (a store down for long) drops the request, counted in
 * the next flush's log line.
 */
void fy_devruns_add(struct fy_devruns *d, const struct fy_device_run *r);

/*
 * Writes every run's totals in one transaction of st, after any flush
 * already under way, so that on return everything added before the call
 * is in the store. On failure they are kept for the next flush. *written
 * counts the runs written.
 */
int fy_devruns_flush(struct fy_devruns *d, struct fy_store *st, long *written,
                     struct ferry_err *err);

#endif
