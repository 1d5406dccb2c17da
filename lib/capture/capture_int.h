/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/capture/: the pieces track, check and contract share. Trigger
 * SQL is generated in one place (capture.c), so `ferry track` installs
 * exactly what the health check expects to find in sqlite_master.
 */
#ifndef FY_CAPTURE_INT_H
#define FY_CAPTURE_INT_H

#include <stdbool.h>

#include <sqlite3.h>

#include "capture/capture.h"
#include "util/buf.h"

/* One CREATE TRIGGER statement, without its final ';': kind i, u or d. */
void fy_capture_trigger_sql(struct fy_buf *b, const struct fy_local_table *t,
                            char kind);
/* Drops and creates the three triggers of t (statements end with ';'). */
void fy_capture_triggers_sql(struct fy_buf *b, const struct fy_local_table *t);
/* Queues every row t holds now (one statement ending with ';'). */
void fy_capture_backfill_sql(struct fy_buf *b, const struct fy_local_table *t);

/*
 * The shape _ferry_tracked records for t: a JSON array of its key column
 * names (key_only) or of all its columns. Returned owned (fy_free), NULL on
 * out of memory.
 */
char *fy_capture_shape(const struct fy_local_table *t, bool key_only);

/*
 * Registers t in _ferry_tracked (or updates its row, whatever the case of
 * the name it was tracked under) with its current shape.
 */
int fy_capture_record_shape(sqlite3 *db, const struct fy_local_table *t,
                            struct ferry_err *err);

/*
 * How many of t's three triggers are in sqlite_master (*present) and how
 * many of those differ from what fy_capture_trigger_sql() makes now
 * (*stale). name is the tracked name (the triggers' suffix).
 */
int fy_capture_trigger_state(sqlite3 *db, const char *name,
                             const struct fy_local_table *t, int *present,
                             int *stale, struct ferry_err *err);

/* Runs sql (several statements) inside the caller's transaction. */
int fy_capture_exec(sqlite3 *db, const struct fy_buf *sql, const char *what,
                    struct ferry_err *err);

#endif
