/* SPDX-License-Identifier: MIT */
/*
 * Health that notices silence (docs/api.md#get-health): a stream or device
 * may have an expected interval between successful runs, from the
 * settings' "expect" (by name, or "*") or learned from its history; one
 * silent for longer is "stale". /health lists the checks, the alert
 * thread (alert.h) posts their transitions.
 */
#ifndef FY_SERVER_HEALTH_H
#define FY_SERVER_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* The settings' "expect", parsed (fy_health_expect_free). */
struct fy_health_expect;

/* Shortest and longest interval: a second (tests) to a year. */
#define FY_HEALTH_MIN_MS 1000LL
#define FY_HEALTH_MAX_MS (366LL * 86400 * 1000)

/*
 * A duration: a positive integer of seconds, or a string of digits and a
 * unit "s", "m", "h" or "d" ("90s", "10m"), FY_HEALTH_MIN_MS to
 * FY_HEALTH_MAX_MS. 0, or FERRY_ECONFIG.
 */
int fy_health_duration(const json_t *v, int64_t *ms);

/*
 * Parses "expect": {"streams": {NAME|"*": DURATION}, "devices": {...},
 * "learn": {"runs": N, "factor": F, "floor": DURATION}}, each member
 * optional. *out owned (fy_health_expect_free); FERRY_ECONFIG with err
 * naming the bad member.
 */
int fy_health_expect_parse(json_t *v, struct fy_health_expect **out,
                           struct ferry_err *err);
void fy_health_expect_free(struct fy_health_expect *e);

/* One check, as /health shows it and alerts send it. */
struct fy_check {
    const char *kind;        /* "stream" or "device" */
    const char *name;        /* borrowed until the callback returns */
    const char *status;      /* "ok", "stale", "pending" (never succeeded) */
    const char *source;      /* "configured", "default" ("*"), "learned" */
    int64_t expected_ms;     /* the interval */
    int64_t age_ms;          /* since the last success; -1: none */
    int64_t last_success_ms; /* unix ms of the store's clock; 0: none */
};

typedef int fy_check_fn(const struct fy_check *c, void *ud);

/*
 * Each stream and device with an expected interval, judged against the
 * store's clock (streams first, then devices, by name; then configured
 * names the store has not seen, as "pending"). Nothing is read when e
 * expects nothing. A nonzero return of cb stops and is returned.
 */
int fy_health_eval(const struct fy_health_expect *e, struct fy_store *st,
                   fy_check_fn *cb, void *ud, struct ferry_err *err);

/* The check as JSON (new reference; NULL on OOM). */
json_t *fy_check_json(const struct fy_check *c);

#endif
