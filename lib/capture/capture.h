/* SPDX-License-Identifier: MIT */
/*
 * Change capture in the app's own SQLite file. `ferry track` installs plain
 * SQL triggers (no custom functions, so any connection from any language is
 * captured) that record only the table, the primary key and the wall-clock
 * time in _ferry_outbox, in the writer's own transaction. The row itself is
 * read at push time, which keeps the trigger cheap and coalesces repeated
 * updates of one row into one change (docs/internals/capture.md).
 */
#ifndef FY_CAPTURE_H
#define FY_CAPTURE_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/contract.h"

/* A local table's shape as the agent needs it. */
struct fy_local_table {
    char *name;
    size_t ncols;
    char **cols;
    char **decl;         /* declared SQLite types */
    enum fy_type *types; /* mapped contract types */
    bool *not_null;
    size_t npk;
    size_t *pk; /* column indexes in key order */
};

/* Reads the table's columns and key; FERRY_ENOTFOUND if it does not exist. */
int fy_local_table_load(sqlite3 *db, const char *name, struct fy_local_table *t,
                        struct ferry_err *err);
void fy_local_table_release(struct fy_local_table *t);

/* Opens the app database for the agent (busy timeout, foreign keys off). */
int fy_capture_open(const char *path, sqlite3 **db, struct ferry_err *err);

/* Creates the agent's _ferry_ tables if missing; idempotent. */
int fy_capture_init(sqlite3 *db, struct ferry_err *err);

/*
 * Installs the triggers for table and queues its existing rows (so
 * onboarding an existing database pushes what is already there), in one
 * transaction. Idempotent: an already tracked table is left as it is and
 * *queued is 0.
 */
int fy_capture_track(sqlite3 *db, const char *table, long *queued,
                     struct ferry_err *err);

/* Drops the triggers; queued changes stay and are still pushed. */
int fy_capture_untrack(sqlite3 *db, const char *table, struct ferry_err *err);

/*
 * Builds a contract for the tracked tables (new reference). device_col and
 * region_col (may be NULL) are declared for tables that have such columns.
 */
int fy_capture_contract(sqlite3 *db, long version, const char *device_col,
                        const char *region_col, json_t **out,
                        struct ferry_err *err);

/* Names of tracked tables, via callback. */
int fy_capture_each_tracked(sqlite3 *db, int (*cb)(const char *table, void *ud),
                            void *ud, struct ferry_err *err);

#endif
