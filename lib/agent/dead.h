/* SPDX-License-Identifier: MIT */
/*
 * Dead letters: the changes a push parked in _ferry_dead (the server's
 * verdict on a bad row, or a row that could not be encoded). They can be
 * listed, re-queued into the outbox (after the contract or the row was
 * fixed) or dropped. A re-queued change is read again at push time, so it
 * sends the row as it is then (a delete if the row is gone).
 */
#ifndef FY_AGENT_DEAD_H
#define FY_AGENT_DEAD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ferry/ferry_err.h"

/* Which dead letters: one id, one table (any case), or all. */
struct fy_dead_sel {
    int64_t id;        /* > 0: this one */
    const char *table; /* else non-NULL: this table's */
    bool all;          /* else with all: every one */
};

/* One dead letter; strings borrowed for the callback's duration. */
struct fy_dead_letter {
    int64_t id, seq, hlc;
    int64_t at; /* when it was parked, Unix seconds */
    int status; /* the server's status for it, 0 when parked locally */
    const char *table, *code, *message;
    json_t *key; /* the key's values in key order (borrowed) */
};

typedef int fy_dead_fn(const struct fy_dead_letter *d, void *ud);

/*
 * Calls cb for each dead letter sel matches, oldest first; a negative
 * return from cb stops and is returned.
 */
int fy_dead_each(sqlite3 *db, const struct fy_dead_sel *sel, fy_dead_fn *cb,
                 void *ud, struct ferry_err *err);

/*
 * Moves the matching dead letters back into the outbox, in one transaction
 * (each as an unnumbered entry with its original capture time). *n is how
 * many.
 */
int fy_dead_retry(sqlite3 *db, const struct fy_dead_sel *sel, long *n,
                  struct ferry_err *err);

/* Deletes the matching dead letters; *n is how many. */
int fy_dead_drop(sqlite3 *db, const struct fy_dead_sel *sel, long *n,
                 struct ferry_err *err);

#endif
