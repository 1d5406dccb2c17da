/* SPDX-License-Identifier: MIT */
/*
 * The capture health check: does every tracked table still have its three
 * triggers, as `ferry track` made them, on a table of the shape it had? An
 * app's own migration (create, copy, drop, rename) silently drops triggers;
 * without this check capture would stop and every command would still say
 * "tracked". See capture.h.
 */
#include "capture/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture/capture_int.h"
#include "fy.h"
#include "util/sqlite_err.h"

static int trigger_sql_of(sqlite3 *db, const char *name, char kind,
                          struct fy_buf *out, bool *found,
                          struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    char tname[96];
    int src;

    snprintf(tname, sizeof(tname), "_ferry_a%c_%s", kind, name);
    *found = false;
    fy_buf_reset(out);
    if (sqlite3_prepare_v2(db,
                           "SELECT sql FROM sqlite_master WHERE type ="
                           " 'trigger' AND name = ? COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read triggers", err);
    sqlite3_bind_text(st, 1, tname, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *found = true;
        fy_buf_adds(out, (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return fy_sqlite_fail(db, "cannot read triggers", err);
    return fy_buf_error(out) ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                             : 0;
}

int fy_capture_trigger_state(sqlite3 *db, const char *name,
                             const struct fy_local_table *t, int *present,
                             int *stale, struct ferry_err *err)
{
    static const char kinds[] = {'i', 'u', 'd'};
    struct fy_buf have = FY_BUF_INIT(0), want = FY_BUF_INIT(0);
    int rc = 0;

    *present = *stale = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(kinds); i++) {
        bool found = false;

        rc = trigger_sql_of(db, name, kinds[i], &have, &found, err);
        if (rc < 0 || !found)
            continue;
        (*present)++;
        fy_buf_reset(&want);
        fy_capture_trigger_sql(&want, t, kinds[i]);
        if (fy_buf_error(&want))
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        else if (strcmp(have.data, want.data) != 0)
            (*stale)++;
    }
    fy_buf_release(&have);
    fy_buf_release(&want);
    return rc;
}

char *fy_capture_renamed_to(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    char tname[96];
    char *to = NULL;

    snprintf(tname, sizeof(tname), "_ferry_ai_%s", name);
    if (sqlite3_prepare_v2(db,
                           "SELECT tbl_name FROM sqlite_master WHERE type ="
                           " 'trigger' AND name = ? COLLATE NOCASE",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tname, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            to = fy_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return to;
}

/* Appends to b the names in `names` (JSON array) that `in` lacks. */
static void missing_names(struct fy_buf *b, json_t *names, json_t *in)
{
    size_t i, j;
    json_t *v, *w;

    json_array_foreach(names, i, v)
    {
        bool found = false;

        json_array_foreach(in, j, w)
        {
            found = found || json_equal(v, w);
        }
        if (!found)
            fy_buf_addf(b, "%s'%s'", b->len ? ", " : "", json_string_value(v));
    }
}

/* Compares the recorded shape with the table's; explains the difference. */
static void shape_problem(const char *rec_keys, const char *rec_cols,
                          const struct fy_local_table *t, struct fy_buf *why)
{
    char *keys = fy_capture_shape(t, true), *cols = fy_capture_shape(t, false);
    json_t *jrec = rec_cols ? json_loads(rec_cols, 0, NULL) : NULL;
    json_t *jnow = cols ? json_loads(cols, 0, NULL) : NULL;
    struct fy_buf added = FY_BUF_INIT(0), dropped = FY_BUF_INIT(0);

    if (rec_keys && keys && strcmp(rec_keys, keys) != 0)
        fy_buf_addf(why, "its primary key changed from %s to %s; ", rec_keys,
                    keys);
    if (jrec && jnow) {
        missing_names(&added, jnow, jrec);
        missing_names(&dropped, jrec, jnow);
    }
    if (added.len)
        fy_buf_addf(why,
                    "column(s) %s were added since it was tracked and are"
                    " not in the contract yet; ",
                    added.data);
    if (dropped.len)
        fy_buf_addf(why, "column(s) %s were dropped since it was tracked; ",
                    dropped.data);
    fy_buf_release(&added);
    fy_buf_release(&dropped);
    json_decref(jrec);
    json_decref(jnow);
    fy_free(keys);
    fy_free(cols);
}

/* Fills why with what is wrong with one tracked table (empty: nothing). */
static int check_table(sqlite3 *db, const char *name, const char *rec_keys,
                       const char *rec_cols, struct fy_buf *why,
                       struct ferry_err *err)
{
    struct fy_local_table t;
    int present = 0, stale = 0, rc;
    char *to;

    fy_buf_reset(why);
    if (fy_local_table_load(db, name, &t, NULL) < 0) {
        to = fy_capture_renamed_to(db, name);
        if (to)
            fy_buf_addf(why,
                        "it was renamed to '%s' (its triggers moved along"
                        " and record it under the old name): run 'ferry"
                        " track %s'",
                        to, to);
        else
            fy_buf_addf(why,
                        "it no longer exists: re-create it, or stop"
                        " tracking it with 'ferry track --untrack %s'",
                        name);
        fy_free(to);
        return 0;
    }
    if (t.npk > FY_KEY_COLS_MAX) {
        fy_buf_addf(why,
                    "its primary key has %zu columns, more than ferry"
                    " captures (%d): give it a shorter key",
                    t.npk, FY_KEY_COLS_MAX);
        fy_local_table_release(&t);
        return 0;
    }
    rc = fy_capture_trigger_state(db, name, &t, &present, &stale, err);
    if (rc == 0 && present < 3)
        fy_buf_addf(why,
                    "%d of its 3 capture triggers are missing (was the"
                    " table rebuilt?), so its writes are not captured; ",
                    3 - present);
    else if (rc == 0 && stale > 0)
        fy_buf_adds(why, "its capture triggers do not match the table; ");
    if (rc == 0)
        shape_problem(rec_keys, rec_cols, &t, why);
    if (rc == 0 && why->len)
        fy_buf_addf(why,
                    "update the contract if columns changed ('ferry"
                    " contract', 'ferryd migrate'), then run 'ferry track"
                    " %s'",
                    t.name);
    fy_local_table_release(&t);
    return rc;
}

int fy_capture_check(sqlite3 *db, fy_capture_problem_fn *cb, void *ud,
                     struct ferry_err *err)
{
    struct fy_buf why = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int rc = 0, bad = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT tbl, keycols, cols FROM _ferry_tracked"
                           " ORDER BY tbl",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read tracked tables", err);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);

        rc = check_table(db, name, (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2), &why, err);
        if (rc == 0 && fy_buf_error(&why))
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        if (rc == 0 && why.len) {
            bad++;
            rc = cb ? cb(name, why.data, ud) : 0;
        }
    }
    sqlite3_finalize(st);
    fy_buf_release(&why);
    return rc < 0 ? rc : bad;
}
