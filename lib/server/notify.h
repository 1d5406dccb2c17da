/* SPDX-License-Identifier: MIT */
/*
 * Wake-ups for waiting pulls (GET /v1/changes?wait=S): a generation
 * counter that moves when a push commits, in this process (fy_notify_bump)
 * or in any ferryd on the same PostgreSQL (a listener thread on a store
 * connection of its own, fy_store_listen). Waiters never hold a store
 * connection while they wait.
 */
#ifndef FY_NOTIFY_H
#define FY_NOTIFY_H

#include <stdint.h>

#include "ferry/ferry_err.h"

struct fy_notify;

/*
 * Starts the notifier; with a store URL whose engine sends notices, also
 * the listener thread (it reconnects by itself). *out returned owned
 * (fy_notify_stop).
 */
int fy_notify_start(const char *store_url, struct fy_notify **out,
                    struct ferry_err *err);

/*
 * Wakes every waiter for good (they return at once from now on), stops
 * the listener and frees n: call before stopping the HTTP server, whose
 * stop waits for the requests to end. Waiters must be gone before the free:
 * fy_notify_quiesce first, then the HTTP server's stop, then this.
 */
void fy_notify_stop(struct fy_notify *n);
void fy_notify_quiesce(struct fy_notify *n);

/* A push committed in this process. */
void fy_notify_bump(struct fy_notify *n);

/* The current generation. */
uint64_t fy_notify_gen(struct fy_notify *n);

/*
 * Waits until the generation is no longer seen, ms pass, or the notifier
 * quiesces; returns the generation then.
 */
uint64_t fy_notify_wait(struct fy_notify *n, uint64_t seen, int64_t ms);

/* True once fy_notify_quiesce ran. */
int fy_notify_quiescing(struct fy_notify *n);

#endif
