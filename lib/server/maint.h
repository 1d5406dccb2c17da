/* SPDX-License-Identifier: MIT */
/*
 * ferryd's housekeeping thread: every second it writes the device runs
 * added up since (devruns.h); at a fixed interval it records runs whose
 * lease expired without a heartbeat abandoned, and removes run history
 * past its retention (one ferryd of a store at a time: store.h), and
 * removes dashboard sessions past their time-outs.
 */
#ifndef FY_SERVER_MAINT_H
#define FY_SERVER_MAINT_H

#include <stdint.h>

#include "server/devruns.h"
#include "store/pool.h"

struct fy_maint_opts {
    struct fy_store_pool *pool; /* borrowed; outlives the thread */
    struct fy_devruns *devruns; /* borrowed; may be NULL */
    int64_t interval_ms;
    int64_t history_retention_ms;
    /* Dashboard sessions past either time-out are removed (0: kept). */
    int64_t dash_idle_ms, dash_max_ms;
};

struct fy_maint;

/* Starts the thread; *out returned owned (fy_maint_stop). */
int fy_maint_start(const struct fy_maint_opts *o, struct fy_maint **out,
                   struct ferry_err *err);
/*
 * Stops the thread (at once, or after the pass it is in), writes the
 * device runs still held, and frees it.
 */
void fy_maint_stop(struct fy_maint *m);

#endif
