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

#include "core/config.h"
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

/*
 * Creates the agent's _ferry_ tables, or upgrades an earlier ferry's in
 * place; idempotent, cheap once current. See lib/agent/agentdb.h.
 */
int fy_capture_init(sqlite3 *db, struct ferry_err *err);

/*
 * Wall-clock milliseconds in plain SQL that every SQLite version knows.
 * julianday() without argument is 'now' without parsing the text: 350 of
 * the trigger's ~9,800 instructions per captured write (agentdb step 7).
 */
#define FY_CAPTURE_WALL_MS                                                     \
    "CAST((julianday() - 2440587.5) * 86400000.0 AS INTEGER)"

/* Columns of a primary key that capture keeps (outbox columns pk..pk8). */
#define FY_KEY_COLS_MAX 8
/* The outbox (and dead letter) columns of a key, in key order, as SQL. */
#define FY_OUTBOX_KEY_COLS "pk, pk2, pk3, pk4, pk5, pk6, pk7, pk8"
/* The same one by one: key column 1, 2, ... ("pk", "pk2", ...). */
extern const char *const fy_outbox_key_cols[FY_KEY_COLS_MAX];

struct fy_track_result {
    char name[64];         /* the table's own spelling of its name */
    long queued;           /* rows queued by this call */
    bool already;          /* tracked and healthy: nothing was done */
    bool repaired;         /* triggers were missing or stale: reinstalled */
    char renamed_from[64]; /* tracking moved over from this old name */
    char unique_index[64]; /* a UNIQUE index besides the key, or "" */
};

/*
 * Installs the triggers for table and queues its existing rows (so
 * onboarding an existing database pushes what is already there), in one
 * transaction. The name is matched without case. Idempotent: a tracked
 * table with complete, current triggers is left as it is (res->already).
 * A tracked table whose triggers are missing or stale, or whose columns
 * changed, is repaired and its rows queued again; a table the app renamed
 * takes over the old name's tracking (res->renamed_from).
 */
int fy_capture_track(sqlite3 *db, const char *table,
                     struct fy_track_result *res, struct ferry_err *err);

/*
 * Drops the triggers; queued changes stay and are still pushed. name
 * (n bytes) receives the tracked spelling of the table's name.
 */
int fy_capture_untrack(sqlite3 *db, const char *table, char *name, size_t n,
                       struct ferry_err *err);

typedef int fy_capture_problem_fn(const char *table, const char *problem,
                                  void *ud);

/*
 * Checks every tracked table: it exists (or was renamed), its three
 * triggers are there and current, its columns are the ones it had when
 * tracked. Calls cb once per table with a problem (a sentence saying what
 * to do). Returns the number of such tables, or an error.
 */
int fy_capture_check(sqlite3 *db, fy_capture_problem_fn *cb, void *ud,
                     struct ferry_err *err);

/*
 * The table a tracked table was renamed to (its triggers moved along), or
 * NULL. Returned owned (fy_free).
 */
char *fy_capture_renamed_to(sqlite3 *db, const char *tracked);

typedef void fy_capture_note_fn(const char *table, const char *note, void *ud);

struct fy_contract_opts {
    long version;
    /*
     * The column ferryd fills with the device; default "device". Tables
     * keyed by local integers get it in their key (added to the contract
     * when the local table lacks it); other tables that have it get it
     * stamped only when it was named explicitly.
     */
    const char *device_col;
    const char *region_col; /* stamped with the key's region; may be NULL */
    /*
     * "all", "region" or "none" for every table that can be pulled (not
     * device-local; "region" only where the region column is); NULL: the
     * defaults of docs/contract.md.
     */
    const char *read;
    const char *const *global; /* tables whose integer keys are global */
    size_t nglobal;
    /*
     * The config's "ferry.files": each declared table gets its blob column
     * (text, added when the local table lacks it) in blob_columns.
     */
    const struct fy_file_decl *files;
    size_t nfiles;
    fy_capture_note_fn *note; /* lines for the user, may be NULL */
    void *ud;
};

/*
 * Builds a contract for the tracked tables (new reference). FERRY_EINVAL
 * for a device or region column that is not a name, not text, or used by
 * no table, and for a files declaration whose table is not tracked, whose
 * path column the table lacks or whose blob column it has as another type.
 */
int fy_capture_contract(sqlite3 *db, const struct fy_contract_opts *o,
                        json_t **out, struct ferry_err *err);

/* Names of tracked tables, via callback. */
int fy_capture_each_tracked(sqlite3 *db, int (*cb)(const char *table, void *ud),
                            void *ud, struct ferry_err *err);

#endif
