/* SPDX-License-Identifier: MIT */
/*
 * The pull step (`ferry pull`): pages of GET /v1/changes applied to the
 * app's tables, each page in one SQLite transaction together with the new
 * cursor, so a kill at any moment loses or repeats nothing. The app's
 * triggers queue what the pull writes; those entries are deleted in the
 * same transaction (no echo). A key with a local change still in the
 * outbox is decided as the server's last-writer-wins will decide it, so
 * device and store end identical. After 410 cursor_expired the step
 * re-bootstraps: a full pass, then the rows it did not send are deleted.
 * docs/design.md "Pull", docs/commands.md "ferry pull".
 */
#ifndef FY_AGENT_PULL_H
#define FY_AGENT_PULL_H

#include <stdbool.h>

#include "agent/agent.h"

struct fy_pull_stats {
    long pages;      /* pages applied */
    long changes;    /* changes received */
    long applied;    /* upserts written */
    long deleted;    /* rows deleted by pulled deletes */
    long removed;    /* rows a re-bootstrap found gone from the store */
    long skipped;    /* changes of tables this device does not pull */
    long kept_local; /* conflicts: the local change is newer, row left */
    long lost_local; /* conflicts: the pulled version is newer and won */
    long retries;
    bool full;        /* a full pass (no cursor) ran or went on */
    bool rebootstrap; /* the pass is a re-bootstrap after cursor_expired */
};

struct fy_pull_opts {
    int limit;     /* changes per page, 1 to 5000; 0: 1000 */
    int max_pages; /* 0: until the server says there is no more */
};

/*
 * The pull step of agent a: asks for changes since the stored cursor and
 * applies them until the server answers "more": false (or max_pages).
 * Retries go through the agent's retrying request. Returns 0,
 * FERRY_EAUTH or FERRY_EFORBIDDEN (key refused), a transient code when the
 * server stayed unreachable for the whole budget, FERRY_EHTTP for an
 * answer that is not ferryd's, or a database error. Whatever it returns,
 * every page counted in s is committed with its cursor.
 */
int fy_agent_pull_step(struct fy_agent *a, const struct fy_pull_opts *o,
                       struct fy_pull_stats *s, struct ferry_err *err);

#endif
