/* SPDX-License-Identifier: MIT */
/*
 * Per-key admission (docs/configuration.md#rate-limits): after a request's
 * key is verified and before its body is read, each key gets
 *   - a token bucket: rate requests a second on average, burst at once
 *     (rate 0: no rate limit);
 *   - a bound on its requests in flight at once (concurrent);
 *   - one push at a time: a device's pushes serialize on its row lock in
 *     the store anyway, so the second one waits here, not holding one of
 *     the pool's few connections that other devices need.
 * What is refused is a 429 rate_limited with Retry-After, which the agent
 * honours. Other keys are never slowed by one key's flood. State is per
 * ferryd process, kept for the keys seen lately (bounded: idle entries go).
 */
#ifndef FY_SERVER_ADMIT_H
#define FY_SERVER_ADMIT_H

#include <stddef.h>

#include "ferry/ferry_err.h"

struct fy_admit_limits {
    double rate;         /* requests a second; 0: not limited */
    double burst;        /* bucket size; at least 1 when rate > 0 */
    unsigned concurrent; /* requests in flight at once; 0: not limited */
};

/* One key's own limits, instead of the defaults. */
struct fy_admit_override {
    char key_id[17];
    struct fy_admit_limits lim;
};

struct fy_admit;

/*
 * dflt for every key, ov[0..nov) for the keys named (copied). *out
 * returned owned (fy_admit_free). FERRY_ENOMEM.
 */
int fy_admit_new(const struct fy_admit_limits *dflt,
                 const struct fy_admit_override *ov, size_t nov,
                 struct fy_admit **out, struct ferry_err *err);
void fy_admit_free(struct fy_admit *a);

/*
 * One request of key_id arriving at now_s (monotonic seconds): 0 admits it
 * (fy_admit_leave once it ends), FERRY_ERATELIMIT refuses it with
 * *retry_s, the whole seconds after which a retry would be admitted
 * (at least 1). A NULL a admits everything.
 */
int fy_admit_enter(struct fy_admit *a, const char *key_id, double now_s,
                   int *retry_s, struct ferry_err *err);
void fy_admit_leave(struct fy_admit *a, const char *key_id);

/*
 * A push of key_id: waits for the key's previous push to end (at most
 * wait_ms; FERRY_ERATELIMIT with err set when it does not), then holds the
 * key's push turn until fy_admit_push_end. Only for an admitted request.
 */
int fy_admit_push_begin(struct fy_admit *a, const char *key_id, int wait_ms,
                        struct ferry_err *err);
void fy_admit_push_end(struct fy_admit *a, const char *key_id);

/* Requests refused so far (for /metrics and tests). */
unsigned long fy_admit_refused(const struct fy_admit *a);

#endif
