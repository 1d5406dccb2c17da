/* SPDX-License-Identifier: MIT */
/*
 * The agent's tables and their upgrade path; see agentdb.h. Each step
 * below is written once and never edited after a release: a database
 * skips the steps it has had and runs the rest, in order, so a fresh
 * database and an upgraded one end with the same layout.
 */
#include "agent/agentdb.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/state.h"
#include "capture/capture.h"
#include "capture/capture_int.h"
#include "util/log.h"
#include "fy.h"
#include "util/sqlite_err.h"

/* Local history for `ferry status`: older runs are deleted. */
#define RUNS_KEPT 1000

/*
 * Step 1, ferry 0.1's layout, as that build wrote it (IF NOT EXISTS: its
 * statements were not one transaction, so a database may hold some).
 */
static const char *const v1_tables =
    "CREATE TABLE IF NOT EXISTS _ferry_state ("
    " key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    /*
     * Append-only: a secondary index here would double the cost of every
     * captured write. Repeated writes of one key coalesce at push time.
     */
    "CREATE TABLE IF NOT EXISTS _ferry_outbox ("
    " tbl TEXT NOT NULL, pk, wall INTEGER NOT NULL, seq INTEGER,"
    " hlc INTEGER);"
    /* Only numbered (in-flight) entries are indexed: inserts skip it. */
    "CREATE INDEX IF NOT EXISTS _ferry_outbox_seq ON _ferry_outbox (seq)"
    " WHERE seq IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS _ferry_tracked ("
    " tbl TEXT PRIMARY KEY, tracked_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS _ferry_dead ("
    " id INTEGER PRIMARY KEY, seq INTEGER, tbl TEXT, pk, hlc INTEGER,"
    " change TEXT, status INTEGER, code TEXT, message TEXT,"
    " at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS _ferry_runs ("
    " id INTEGER PRIMARY KEY, started INTEGER NOT NULL, ended INTEGER,"
    " status TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0,"
    " acked_seq INTEGER, error TEXT);";

/* Step 2's new columns: one per key column, the tracked tables' shape. */
static const char *const v2_columns =
    "ALTER TABLE _ferry_outbox ADD COLUMN pk2;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk3;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk4;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk5;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk6;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk7;"
    "ALTER TABLE _ferry_outbox ADD COLUMN pk8;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk2;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk3;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk4;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk5;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk6;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk7;"
    "ALTER TABLE _ferry_dead ADD COLUMN pk8;"
    "ALTER TABLE _ferry_tracked ADD COLUMN keycols TEXT;"
    "ALTER TABLE _ferry_tracked ADD COLUMN cols TEXT;";

/*
 * Step 3: tracked names are matched without case (the app's SQL does so).
 * SQLite cannot change a column's collation, so the table is rebuilt;
 * without ALTER TABLE RENAME, which would re-parse the app's whole schema
 * and fail on any view of the app's that no longer resolves. Of two rows
 * 0.1 kept for one table in two spellings, the first tracked is kept.
 */
static const char *const v3_tracked =
    "CREATE TEMP TABLE _ferry_tracked_v2 AS SELECT rowid AS r, tbl,"
    " tracked_at, keycols, cols FROM main._ferry_tracked;"
    "DROP TABLE main._ferry_tracked;"
    "CREATE TABLE main._ferry_tracked ("
    " tbl TEXT PRIMARY KEY COLLATE NOCASE, tracked_at INTEGER NOT NULL,"
    " keycols TEXT, cols TEXT);"
    "INSERT OR IGNORE INTO main._ferry_tracked SELECT tbl, tracked_at,"
    " keycols, cols FROM temp._ferry_tracked_v2 ORDER BY r;"
    "DROP TABLE temp._ferry_tracked_v2;";

/*
 * Step 4, pull: the keys a re-bootstrap pass (after 410 cursor_expired)
 * has received so far, one column per key column like the outbox. When the
 * pass ends, rows of pulled tables whose key is not here were deleted in
 * the store while the device slept; the table lets the pass resume after a
 * kill without losing what it saw (lib/agent/pull.c).
 */
static const char *const v4_seen =
    "CREATE TABLE IF NOT EXISTS _ferry_seen ("
    " tbl TEXT NOT NULL, pk, pk2, pk3, pk4, pk5, pk6, pk7, pk8);"
    "CREATE INDEX IF NOT EXISTS _ferry_seen_key ON _ferry_seen (tbl, pk);";

/*
 * Step 5, files (lib/agent/blob.c): one row per local file a row named,
 * keyed by its path. size and mtime_ns say whether sha256 still describes
 * the file, so a large file is not read again on every push; state is
 * 'pending' (hashed, not sent), 'sending' (a PUT was started: ask the
 * server what it holds before sending more) or 'done' (the server holds
 * the blob complete). tries counts the times the file changed while it
 * was being sent.
 */
static const char *const v5_blobs =
    "CREATE TABLE IF NOT EXISTS _ferry_blobs ("
    " path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " state TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0,"
    " at INTEGER NOT NULL) WITHOUT ROWID;";

/*
 * Step 6, `ferry why`: one row per batch sent (not per change: a push of
 * 100000 rows in batches of 500 writes 200 rows here), with its seq and
 * HLC ranges, so the agent can say in which batch a change went and at
 * which seq it was acknowledged (a stored row's HLC falls in one batch's
 * range). acked_seq and acked_at stay NULL until ferryd's 200. The last
 * 1000 are kept.
 */
static const char *const v6_batches =
    "CREATE TABLE IF NOT EXISTS _ferry_batches ("
    " id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL, first_hlc INTEGER, last_hlc INTEGER,"
    " changes INTEGER NOT NULL, sent_at INTEGER NOT NULL,"
    " acked_seq INTEGER, acked_at INTEGER);";

/*
 * Step 7: the capture triggers take the wall time as julianday(), the
 * current time without the 'now' text to parse on every captured write
 * (the same value; SQLite has read no argument as 'now' since 3.x). Each
 * trigger of a tracked table is rewritten with only that expression
 * changed, so a trigger the health check finds stale stays stale.
 */
static const char *const v7_old_wall = "julianday('now')";

static int exec(sqlite3 *db, const char *sql, const char *what,
                struct ferry_err *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, what, err);
    return 0;
}

static int create_v1(sqlite3 *db, struct ferry_err *err)
{
    return exec(db, v1_tables, "cannot create ferry's tables", err);
}

/*
 * Entries of a composite key written by the triggers of ferry 0.1 hold a
 * JSON array in pk; spread them over the key columns (their reals were
 * already rounded by json_array(): nothing better can be recovered).
 */
static void spread_legacy_keys(struct fy_buf *b, const char *table,
                               const struct fy_local_table *t)
{
    fy_buf_addf(b, "UPDATE %s SET ", table);
    for (size_t i = t->npk; i-- > 0;)
        fy_buf_addf(b, "%s = json_extract(pk, '$[%zu]')%s",
                    fy_outbox_key_cols[i], i, i ? ", " : "");
    fy_buf_addf(b,
                " WHERE tbl = '%s' AND pk2 IS NULL AND json_valid(pk) AND"
                " json_type(pk) = 'array';",
                t->name);
}

/* One tracked table moved to the layout of step 2. */
static int keys_v2_table(sqlite3 *db, const char *name, struct fy_buf *b,
                         struct ferry_err *err)
{
    struct fy_local_table t;
    int present = 0, stale = 0, rc;

    if (fy_local_table_load(db, name, &t, NULL) < 0)
        return 0; /* gone: the health check reports it */
    if (t.npk > FY_KEY_COLS_MAX) {
        fy_local_table_release(&t);
        return 0; /* more key columns than capture keeps: reported too */
    }
    if (t.npk > 1) {
        spread_legacy_keys(b, "_ferry_outbox", &t);
        spread_legacy_keys(b, "_ferry_dead", &t);
    }
    rc = fy_capture_trigger_state(db, name, &t, &present, &stale, err);
    /* Complete old triggers are replaced in place: no write is missed. */
    if (rc == 0 && present == 3) {
        fy_capture_triggers_sql(b, &t);
        rc = fy_capture_record_shape(db, &t, err);
    }
    fy_local_table_release(&t);
    return rc;
}

/*
 * Step 2: a composite key in its own columns (0.1 kept it as one JSON
 * array), the tracked tables' shape recorded, their triggers rewritten.
 */
static int keys_v2(sqlite3 *db, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int rc = exec(db, v2_columns, "cannot upgrade ferry's tables", err);

    /* The columns first: the tables' upgrades below write into them. */
    if (rc == 0 && sqlite3_prepare_v2(db, "SELECT tbl FROM _ferry_tracked", -1,
                                      &st, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot read tracked tables", err);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        rc = keys_v2_table(db, (const char *)sqlite3_column_text(st, 0), &b,
                           err);
    sqlite3_finalize(st);
    if (rc == 0)
        rc = fy_capture_exec(db, &b, "cannot upgrade ferry's tables", err);
    fy_buf_release(&b);
    return rc;
}

static int tracked_v3(sqlite3 *db, struct ferry_err *err)
{
    return exec(db, v3_tracked, "cannot upgrade ferry's tables", err);
}

static int seen_v4(sqlite3 *db, struct ferry_err *err)
{
    return exec(db, v4_seen, "cannot upgrade ferry's tables", err);
}

static int blobs_v5(sqlite3 *db, struct ferry_err *err)
{
    return exec(db, v5_blobs, "cannot upgrade ferry's tables", err);
}

static int batches_v6(sqlite3 *db, struct ferry_err *err)
{
    return exec(db, v6_batches, "cannot upgrade ferry's tables", err);
}

/* "DROP TRIGGER name; its SQL with the wall expression replaced;" */
static void wall_v7_trigger(struct fy_buf *b, const char *name, const char *sql)
{
    size_t n = strlen(v7_old_wall);

    fy_buf_adds(b, "DROP TRIGGER main.");
    fy_buf_add_ident(b, name);
    fy_buf_adds(b, "; ");
    for (const char *at; (at = strstr(sql, v7_old_wall)) != NULL;
         sql = at + n) {
        fy_buf_add(b, sql, (size_t)(at - sql));
        fy_buf_adds(b, "julianday()");
    }
    fy_buf_adds(b, sql);
    fy_buf_adds(b, "; ");
}

static int wall_v7(sqlite3 *db, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int rc = 0, src;

    /* Collected first: a trigger cannot be dropped under this read. */
    if (sqlite3_prepare_v2(
            db,
            "SELECT m.name, m.sql FROM main.sqlite_master m WHERE m.type ="
            " 'trigger' AND substr(m.name, 1, 10) IN ('_ferry_ai_',"
            " '_ferry_au_', '_ferry_ad_') AND EXISTS (SELECT 1 FROM"
            " main._ferry_tracked t WHERE t.tbl = substr(m.name, 11)) AND"
            " instr(m.sql, ?1) > 0",
            -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read ferry's triggers", err);
    sqlite3_bind_text(st, 1, v7_old_wall, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        wall_v7_trigger(&b, (const char *)sqlite3_column_text(st, 0),
                        (const char *)sqlite3_column_text(st, 1));
    if (src != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot read ferry's triggers", err);
    sqlite3_finalize(st);
    if (rc == 0 && b.len)
        rc = fy_capture_exec(db, &b, "cannot upgrade ferry's triggers", err);
    fy_buf_release(&b);
    return rc;
}

/* The ordered upgrade steps: step i brings a database to version i + 1. */
static const struct step {
    const char *what;
    int (*run)(sqlite3 *db, struct ferry_err *err);
} steps[FY_AGENTDB_SCHEMA] = {
    {"ferry 0.1's tables", create_v1},
    {"one outbox column per key column", keys_v2},
    {"tracked names without case", tracked_v3},
    {"keys seen by a pull's re-bootstrap", seen_v4},
    {"files and their uploads", blobs_v5},
    {"batches sent, for ferry why", batches_v6},
    {"capture triggers read the clock without parsing 'now'", wall_v7},
};

/*
 * *found: whether sql (bound to a, b) has a row. A failed read is an error,
 * not "no": on a full disk a WAL database cannot even be read once its
 * -shm file is gone, and taking that for "no ferry tables" would start an
 * upgrade from schema 0.
 */
static int has_row(sqlite3 *db, const char *sql, const char *a, const char *b,
                   bool *found, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;

    *found = false;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read ferry's tables", err);
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *found = true;
    else if (step != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot read ferry's tables", err);
    sqlite3_finalize(st);
    return rc;
}

static int has_table(sqlite3 *db, const char *name, bool *found,
                     struct ferry_err *err)
{
    return has_row(db,
                   "SELECT 1 FROM main.sqlite_master WHERE type = 'table'"
                   " AND name = ?1",
                   name, NULL, found, err);
}

int fy_agentdb_version(sqlite3 *db, int *version, struct ferry_err *err)
{
    int64_t v = -1;
    bool found;
    int rc;

    *version = 0;
    rc = has_table(db, "_ferry_state", &found, err);
    if (rc < 0 || !found)
        return rc;
    rc = fy_state_get_int(db, "schema", -1, &v, err);
    if (rc < 0)
        return rc;
    if (v >= 0) {
        *version = v > INT32_MAX ? INT32_MAX : (int)v;
        return 0;
    }
    /* Written before versions: its layout says which one. */
    rc = has_table(db, "_ferry_outbox", &found, err);
    if (rc < 0 || !found)
        return rc;
    rc = has_row(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
                 "_ferry_outbox", "pk2", &found, err);
    if (rc == 0)
        *version = found ? 2 : 1;
    return rc;
}

/* Runs the steps after version `from`, inside the caller's transaction. */
static int run_steps(sqlite3 *db, int from, struct ferry_err *err)
{
    int rc = 0;

    for (int i = from; rc == 0 && i < FY_AGENTDB_SCHEMA; i++) {
        rc = steps[i].run(db, err);
        if (rc == 0)
            fy_debug("capture", "ferry's tables: schema %d (%s)", i + 1,
                     steps[i].what);
    }
    if (rc == 0)
        rc = fy_state_set_int(db, "schema", FY_AGENTDB_SCHEMA, err);
    return rc;
}

static int too_new(int v, struct ferry_err *err)
{
    return fy_err_set(err, FERRY_ECONFIG,
                      "ferry's tables in this database are at schema %d, set"
                      " up by a newer ferry; this one knows up to %d",
                      v, FY_AGENTDB_SCHEMA);
}

int fy_agentdb_init(sqlite3 *db, struct ferry_err *err)
{
    int v = 0, rc = fy_agentdb_version(db, &v, err);

    if (rc < 0 || v == FY_AGENTDB_SCHEMA)
        return rc;
    if (v > FY_AGENTDB_SCHEMA)
        return too_new(v, err);
    rc = exec(db, "BEGIN IMMEDIATE", "cannot upgrade ferry's tables", err);
    if (rc < 0)
        return rc;
    rc = fy_agentdb_version(db, &v, err);
    if (rc == 0 && v > FY_AGENTDB_SCHEMA)
        rc = too_new(v, err);
    if (rc == 0 && v < FY_AGENTDB_SCHEMA)
        rc = run_steps(db, v, err);
    if (rc == 0)
        rc = exec(db, "COMMIT", "cannot upgrade ferry's tables", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int fy_agentdb_record_run(sqlite3 *db, const struct fy_agent_run *r,
                          struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO _ferry_runs (started, ended, status,"
                           " sent, acked_seq, error) VALUES (?, ?, ?, ?, ?,"
                           " ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot record the push", err);
    sqlite3_bind_int64(st, 1, r->started);
    sqlite3_bind_int64(st, 2, r->ended);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->sent);
    sqlite3_bind_int64(st, 5, r->acked_seq);
    if (r->error)
        sqlite3_bind_text(st, 6, r->error, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot record the push", err);
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_prepare_v2(db,
                                      "DELETE FROM _ferry_runs WHERE id <="
                                      " (SELECT max(id) - ? FROM _ferry_runs)",
                                      -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, RUNS_KEPT);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    return rc;
}

int fy_agentdb_last_run(sqlite3 *db, fy_agent_run_fn *cb, void *ud,
                        struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, src;

    if (sqlite3_prepare_v2(db,
                           "SELECT started, ended, status, sent, acked_seq,"
                           " error FROM _ferry_runs ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read the last push", err);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = cb(
            &(struct fy_agent_run){
                .started = sqlite3_column_int64(st, 0),
                .ended = sqlite3_column_int64(st, 1),
                .status = (const char *)sqlite3_column_text(st, 2),
                .sent = sqlite3_column_int64(st, 3),
                .acked_seq = sqlite3_column_int64(st, 4),
                .error = (const char *)sqlite3_column_text(st, 5)},
            ud);
    else if (src != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot read the last push", err);
    sqlite3_finalize(st);
    return rc;
}

int fy_agentdb_count(sqlite3 *db, enum fy_agentdb_table which, int64_t *n,
                     struct ferry_err *err)
{
    static const char *const sql[] = {
        [FY_AGENTDB_OUTBOX] = "SELECT count(*) FROM _ferry_outbox",
        [FY_AGENTDB_DEAD] = "SELECT count(*) FROM _ferry_dead",
        [FY_AGENTDB_UPLOADS] =
            "SELECT count(*) FROM _ferry_blobs WHERE state <> 'done'"};
    sqlite3_stmt *st = NULL;
    int rc = 0;

    *n = 0;
    if (sqlite3_prepare_v2(db, sql[which], -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot count ferry's rows", err);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = fy_sqlite_fail(db, "cannot count ferry's rows", err);
    sqlite3_finalize(st);
    return rc;
}

int fy_agentdb_batch_sent(sqlite3 *db, const struct fy_agentdb_batch *b,
                          struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO _ferry_batches (first_seq, last_seq, first_hlc,"
            " last_hlc, changes, sent_at) VALUES (?1, ?2, ?4, ?5, ?3,"
            " CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))",
            -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot record the batch", err);
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    sqlite3_bind_int64(st, 3, b->changes);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)b->first_hlc);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)b->last_hlc);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot record the batch", err);
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "DELETE FROM _ferry_batches WHERE id <="
                           " (SELECT max(id) - ? FROM _ferry_batches)",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot record the batch", err);
    sqlite3_bind_int(st, 1, RUNS_KEPT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot record the batch", err);
    sqlite3_finalize(st);
    return rc;
}

/*
 * Every batch not acknowledged yet whose seqs the acknowledgement covers:
 * also one built before a crash and sent again under other numbers.
 */
int fy_agentdb_batch_acked(sqlite3 *db, int64_t acked_seq,
                           struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           "UPDATE _ferry_batches SET acked_seq = ?1,"
                           " acked_at = CAST((julianday('now') - 2440587.5) *"
                           " 86400000.0 AS INTEGER) WHERE acked_seq IS NULL"
                           " AND last_seq <= ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot record the acknowledgement", err);
    sqlite3_bind_int64(st, 1, acked_seq);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot record the acknowledgement", err);
    sqlite3_finalize(st);
    return rc;
}
