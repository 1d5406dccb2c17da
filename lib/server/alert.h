/* SPDX-License-Identifier: MIT */
/*
 * Alerts of silence (docs/api.md#alerts): a thread of its own that judges
 * the health checks (health.h) every interval and POSTs a JSON alert to a
 * URL when one turns stale and when it recovers, once per transition:
 * the transition is claimed in the store (fy_store_alert_claim), so of
 * several ferryd on one store one sends it. Sending is retried with
 * backoff; requests never wait for it.
 */
#ifndef FY_SERVER_ALERT_H
#define FY_SERVER_ALERT_H

#include <stdint.h>

#include "server/health.h"
#include "store/pool.h"

struct fy_alert_opts {
    struct fy_store_pool *pool;            /* borrowed; outlives the thread */
    const struct fy_health_expect *expect; /* borrowed */
    const char *url;                       /* http:// or https:// */
    int64_t interval_ms;                   /* between judgements */
    const char *service;                   /* the alert's "service" */
    const char *instance;                  /* ... and "instance" */
};

struct fy_alert;

/* Starts the thread; *out returned owned (fy_alert_stop). */
int fy_alert_start(const struct fy_alert_opts *o, struct fy_alert **out,
                   struct ferry_err *err);
/* Stops it (alerts not yet delivered are dropped, logged) and frees it. */
void fy_alert_stop(struct fy_alert *a);

/* An alert URL: http:// or https://, printable, at most 1024 bytes. */
bool fy_alert_url_ok(const char *url);

#endif
