/* SPDX-License-Identifier: MIT */
/*
 * The agent's own tables in the app database (_ferry_state, _ferry_outbox,
 * _ferry_tracked, _ferry_dead, _ferry_runs, _ferry_seen, _ferry_blobs,
 * _ferry_batches): their
 * DDL, the schema
 * version kept in _ferry_state ("schema") and the ordered upgrade steps that
 * bring a database made by any earlier ferry to the current layout, plus the
 * queries of these tables the commands need (runs, counts). The capture
 * triggers themselves are lib/capture's (docs/internals/capture.md).
 */
#ifndef FY_AGENTDB_H
#define FY_AGENTDB_H

#include <stdint.h>

#include <sqlite3.h>

#include "ferry/ferry_err.h"

/* The layout this build writes; see the steps in agentdb.c. */
#define FY_AGENTDB_SCHEMA 7

/*
 * Creates ferry's tables, or upgrades them in place, to FY_AGENTDB_SCHEMA:
 * every step the database has not had runs once, all of them in one
 * IMMEDIATE transaction, the version re-read under the write lock (another
 * agent process may have done it meanwhile). A database already current
 * costs one indexed read. FERRY_ECONFIG for a database a newer ferry set
 * up; FERRY_EBUSY when the write lock cannot be had. Call outside a
 * transaction.
 */
int fy_agentdb_init(sqlite3 *db, struct ferry_err *err);

/*
 * The schema version the database records (0 for none yet). A database of
 * a ferry before versions is recognised by its layout: 1 for ferry 0.1's,
 * 2 for the one with one outbox column per key column.
 */
int fy_agentdb_version(sqlite3 *db, int *version, struct ferry_err *err);

/* One push as `ferry status` shows it (the last one, say). */
struct fy_agent_run {
    int64_t started, ended; /* Unix seconds */
    const char *status;     /* "ok" or "error" */
    int64_t sent, acked_seq;
    const char *error; /* NULL when none; escaped by whoever prints it */
};

/*
 * Records a finished push in _ferry_runs and keeps the last 1000. Strings
 * are borrowed for the call.
 */
int fy_agentdb_record_run(sqlite3 *db, const struct fy_agent_run *r,
                          struct ferry_err *err);

typedef int fy_agent_run_fn(const struct fy_agent_run *r, void *ud);

/*
 * Calls cb with the last recorded push (strings borrowed for the call);
 * returns 0 without calling it when there is none.
 */
int fy_agentdb_last_run(sqlite3 *db, fy_agent_run_fn *cb, void *ud,
                        struct ferry_err *err);

/* What fy_agentdb_count() counts. */
enum fy_agentdb_table {
    FY_AGENTDB_OUTBOX,
    FY_AGENTDB_DEAD,
    FY_AGENTDB_UPLOADS /* files hashed but not known stored at the server */
};

/* Rows of one of ferry's tables (outbox entries, dead letters, uploads). */
int fy_agentdb_count(sqlite3 *db, enum fy_agentdb_table which, int64_t *n,
                     struct ferry_err *err);

/*
 * Inside the build's transaction (capture/outbox.c): a batch about to be
 * sent, its entries numbered first_seq..last_seq, recorded in
 * _ferry_batches with their HLC range and the time in unix ms, for
 * `ferry why`. The last 1000 batches are kept. The caller has the HLCs
 * at hand: reading them back from the outbox cost 1,300 instructions a
 * change.
 */
struct fy_agentdb_batch {
    int64_t first_seq, last_seq, changes;
    uint64_t first_hlc, last_hlc; /* the smallest and largest HLC sent */
};
int fy_agentdb_batch_sent(sqlite3 *db, const struct fy_agentdb_batch *b,
                          struct ferry_err *err);
/*
 * Inside the acknowledgement's transaction: every recorded batch not
 * acknowledged yet whose last seq is at most acked_seq, acknowledged now.
 */
int fy_agentdb_batch_acked(sqlite3 *db, int64_t acked_seq,
                           struct ferry_err *err);

#endif
