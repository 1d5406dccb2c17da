/* SPDX-License-Identifier: MIT */
/*
 * `ferry track`: install, repair or move a table's capture triggers, and
 * `--untrack`. Names are matched without case, as SQLite matches them, and
 * always stored in the table's own spelling, so "Orders" and "orders" are
 * one tracked table with one set of triggers. See capture.h.
 */
#include "capture/capture.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "capture/capture_int.h"
#include "fy.h"
#include "util/sqlite_err.h"

/* The one value of a one-column query with one text parameter, or NULL. */
static char *query_text(sqlite3 *db, const char *sql, const char *param)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW &&
            sqlite3_column_type(st, 0) != SQLITE_NULL)
            out = fy_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
}

static int check_name(const char *table, struct ferry_err *err)
{
    /* The same rule as the contract: ferry_ is the SQLite store's own. */
    if (!fy_ident_valid(table) || strncasecmp(table, "ferry_", 6) == 0 ||
        strlen(table) > 56)
        return fy_err_set(err, FERRY_EINVAL,
                          "table name '%s' must be letters, digits and _ (at"
                          " most 56), not starting with _ferry or ferry_",
                          table);
    return 0;
}

static long outbox_count(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    long n = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM _ferry_outbox WHERE"
                           " tbl = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/*
 * The app renamed a tracked table to t->name: SQLite moved its triggers
 * along, still recording the old name. Tracking moves to the new name: the
 * old triggers go, and the changes queued or parked under the old name
 * (writes to these very rows) are kept under the new one.
 */
static int adopt_renamed(sqlite3 *db, const struct fy_local_table *t,
                         struct fy_track_result *res, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *trig = query_text(db,
                            "SELECT name FROM sqlite_master WHERE type ="
                            " 'trigger' AND tbl_name = ? COLLATE NOCASE AND"
                            " name LIKE '\\_ferry\\_ai\\_%' ESCAPE '\\'",
                            t->name);
    const char *old = trig ? trig + strlen("_ferry_ai_") : NULL;
    char *tracked = NULL;
    int rc = 0;

    if (old && strcasecmp(old, t->name) != 0)
        tracked = query_text(
            db, "SELECT tbl FROM _ferry_tracked WHERE tbl = ? COLLATE NOCASE",
            old);
    if (tracked) {
        /*
         * Numbered changes move too: their seqs stay valid, and under the
         * old name they could only be parked as unreadable.
         */
        fy_buf_addf(&b,
                    "DROP TRIGGER IF EXISTS \"_ferry_ai_%s\"; DROP TRIGGER IF"
                    " EXISTS \"_ferry_au_%s\"; DROP TRIGGER IF EXISTS"
                    " \"_ferry_ad_%s\"; UPDATE _ferry_outbox SET tbl = '%s'"
                    " WHERE tbl = '%s'; UPDATE _ferry_dead SET tbl = '%s'"
                    " WHERE tbl = '%s'; DELETE FROM _ferry_tracked WHERE"
                    " tbl = '%s';",
                    tracked, tracked, tracked, t->name, tracked, t->name,
                    tracked, tracked);
        rc = fy_capture_exec(db, &b, "cannot move tracking", err);
        if (rc == 0)
            snprintf(res->renamed_from, sizeof(res->renamed_from), "%s",
                     tracked);
    }
    fy_buf_release(&b);
    fy_free(tracked);
    fy_free(trig);
    return rc;
}

/* True when t is tracked with complete, current triggers and shape. */
static int healthy(sqlite3 *db, const struct fy_local_table *t, bool *yes,
                   struct ferry_err *err)
{
    char *keys = query_text(db,
                            "SELECT coalesce(keycols, '') FROM _ferry_tracked"
                            " WHERE tbl = ? COLLATE NOCASE",
                            t->name);
    char *cols = query_text(db,
                            "SELECT cols FROM _ferry_tracked WHERE tbl = ?"
                            " COLLATE NOCASE",
                            t->name);
    char *now_keys = fy_capture_shape(t, true);
    char *now_cols = fy_capture_shape(t, false);
    int present = 0, stale = 0;
    int rc = fy_capture_trigger_state(db, t->name, t, &present, &stale, err);

    *yes = rc == 0 && keys && present == 3 && stale == 0 && now_keys &&
           now_cols && (!*keys || strcmp(keys, now_keys) == 0) &&
           (!cols || strcmp(cols, now_cols) == 0);
    fy_free(keys);
    fy_free(cols);
    fy_free(now_keys);
    fy_free(now_cols);
    return rc;
}

/*
 * Installs the triggers and queues every row: the first time (onboarding
 * an existing database pushes what is already there) and after a repair
 * (writes made while the triggers were missing are only known from the
 * rows as they are now).
 */
static int track_in_tx(sqlite3 *db, const struct fy_local_table *t,
                       struct fy_track_result *res, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    bool ok = false, known;
    char *prev;
    long before;
    int rc = adopt_renamed(db, t, res, err);

    if (rc == 0)
        rc = healthy(db, t, &ok, err);
    if (rc < 0 || (ok && !res->renamed_from[0])) {
        res->already = rc == 0;
        return rc;
    }
    prev = query_text(
        db, "SELECT tbl FROM _ferry_tracked WHERE tbl = ? COLLATE NOCASE",
        t->name);
    known = prev != NULL;
    fy_free(prev);
    before = outbox_count(db, t->name);
    fy_capture_triggers_sql(&b, t);
    fy_capture_backfill_sql(&b, t);
    rc = fy_capture_exec(db, &b, "cannot install triggers", err);
    if (rc == 0)
        rc = fy_capture_record_shape(db, t, err);
    if (rc == 0) {
        res->queued = outbox_count(db, t->name) - before;
        res->repaired = known && !res->renamed_from[0];
    }
    fy_buf_release(&b);
    return rc;
}

/*
 * A UNIQUE constraint besides the key lets INSERT OR REPLACE delete a row
 * without firing its delete trigger (unless recursive_triggers is on).
 */
static void find_unique(sqlite3 *db, const char *table, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;

    out[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM pragma_index_list(?) WHERE"
                           " \"unique\" AND origin <> 'pk' LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static int load_for_track(sqlite3 *db, const char *table,
                          struct fy_local_table *t, struct ferry_err *err)
{
    char *canon = query_text(db,
                             "SELECT name FROM sqlite_master WHERE type ="
                             " 'table' AND name = ? COLLATE NOCASE",
                             table);
    int rc;

    memset(t, 0, sizeof(*t));
    if (!canon)
        return fy_err_set(err, FERRY_ENOTFOUND, "no table '%s' in the database",
                          table);
    rc = check_name(canon, err);
    if (rc == 0)
        rc = fy_local_table_load(db, canon, t, err);
    if (rc == 0 && t->npk > FY_KEY_COLS_MAX)
        rc = fy_err_set(err, FERRY_EINVAL,
                        "table '%s': a primary key of %zu columns is more"
                        " than ferry captures (%d)",
                        canon, t->npk, FY_KEY_COLS_MAX);
    if (rc < 0)
        fy_local_table_release(t);
    fy_free(canon);
    return rc;
}

int fy_capture_track(sqlite3 *db, const char *table,
                     struct fy_track_result *res, struct ferry_err *err)
{
    struct fy_local_table t;
    int rc;

    memset(res, 0, sizeof(*res));
    rc = check_name(table, err);
    if (rc == 0)
        rc = fy_capture_init(db, err);
    if (rc == 0)
        rc = load_for_track(db, table, &t, err);
    if (rc < 0)
        return rc;
    snprintf(res->name, sizeof(res->name), "%s", t.name);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fy_local_table_release(&t);
        return fy_sqlite_fail(db, "cannot begin", err);
    }
    rc = track_in_tx(db, &t, res, err);
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot commit", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    else
        find_unique(db, t.name, res->unique_index, sizeof(res->unique_index));
    fy_local_table_release(&t);
    return rc;
}

int fy_capture_untrack(sqlite3 *db, const char *table, char *name, size_t n,
                       struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *tracked = NULL;
    int rc = fy_capture_init(db, err);

    if (rc == 0 && fy_ident_valid(table))
        tracked = query_text(
            db, "SELECT tbl FROM _ferry_tracked WHERE tbl = ? COLLATE NOCASE",
            table);
    if (rc == 0 && !tracked)
        rc = fy_err_set(err, FERRY_ENOTFOUND, "table '%s' is not tracked",
                        table);
    if (rc < 0)
        return rc;
    snprintf(name, n, "%s", tracked);
    fy_buf_addf(&b,
                "BEGIN IMMEDIATE; DROP TRIGGER IF EXISTS \"_ferry_ai_%s\";"
                " DROP TRIGGER IF EXISTS \"_ferry_au_%s\"; DROP TRIGGER IF"
                " EXISTS \"_ferry_ad_%s\"; DELETE FROM _ferry_tracked WHERE"
                " tbl = '%s'; COMMIT;",
                tracked, tracked, tracked, tracked);
    rc = fy_capture_exec(db, &b, "cannot drop triggers", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    fy_buf_release(&b);
    fy_free(tracked);
    return rc;
}
