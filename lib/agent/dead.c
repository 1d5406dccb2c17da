/* SPDX-License-Identifier: MIT */
/*
 * Listing, re-queueing and dropping dead letters; see dead.h.
 */
#include "agent/dead.h"

#include <stdio.h>
#include <string.h>

#include "capture/capture.h"
#include "fy.h"
#include "util/sqlite_err.h"

/*
 * The columns that hold a change's key, the same in _ferry_outbox and
 * _ferry_dead: "pk" and, for composite keys, "pk2" to "pk8" where the
 * capture layout has them. The one place that knows the key layout: moving
 * a dead letter back copies exactly these.
 */
static int key_columns(struct fy_buf *cols, int *n, struct ferry_err *err)
{
    for (int i = 0; i < FY_KEY_COLS_MAX; i++)
        fy_buf_addf(cols, "%s%s", i ? ", " : "", fy_outbox_key_cols[i]);
    *n = FY_KEY_COLS_MAX;
    return fy_buf_error(cols) ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                              : 0;
}

static void add_where(struct fy_buf *b, const struct fy_dead_sel *sel)
{
    if (sel->id > 0)
        fy_buf_adds(b, " WHERE id = ?1");
    else if (sel->table)
        fy_buf_adds(b, " WHERE tbl = ?1 COLLATE NOCASE");
    else
        fy_buf_adds(b, " WHERE 1");
}

static int prepare_sel(sqlite3 *db, const struct fy_buf *sql,
                       const struct fy_dead_sel *sel, sqlite3_stmt **st,
                       struct ferry_err *err)
{
    if (fy_buf_error(sql))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db, sql->data, -1, st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read dead letters", err);
    if (sel->id > 0)
        sqlite3_bind_int64(*st, 1, sel->id);
    else if (sel->table)
        sqlite3_bind_text(*st, 1, sel->table, -1, SQLITE_STATIC);
    return 0;
}

static json_t *value_json(sqlite3_stmt *st, int i)
{
    const unsigned char *p;
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j;
    int n;

    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
        j = json_stringn((const char *)sqlite3_column_text(st, i),
                         (size_t)sqlite3_column_bytes(st, i));
        if (j)
            return j;
        break; /* not UTF-8: shown as bytes */
    case SQLITE_NULL:
        return json_null();
    default:
        break;
    }
    p = sqlite3_column_blob(st, i);
    n = sqlite3_column_bytes(st, i);
    fy_buf_adds(&b, "x'");
    for (int k = 0; k < n; k++)
        fy_buf_addf(&b, "%02x", p[k]);
    fy_buf_adds(&b, "'");
    j = fy_buf_error(&b) ? NULL : json_string(b.data);
    fy_buf_release(&b);
    return j;
}

/* The key's parts; unused trailing key columns (NULL) are left out. */
static json_t *key_json(sqlite3_stmt *st, int first, int n)
{
    json_t *key = json_array();
    int last = first;

    for (int i = first + 1; i < first + n; i++)
        if (sqlite3_column_type(st, i) != SQLITE_NULL)
            last = i;
    for (int i = first; key && i <= last; i++)
        json_array_append_new(key, value_json(st, i));
    return key;
}

static int each_row(sqlite3_stmt *st, int nkey, fy_dead_fn *cb, void *ud)
{
    struct fy_dead_letter d = {
        .id = sqlite3_column_int64(st, 0),
        .seq = sqlite3_column_int64(st, 1),
        .hlc = sqlite3_column_int64(st, 2),
        .at = sqlite3_column_int64(st, 3),
        .status = sqlite3_column_int(st, 4),
        .table = (const char *)sqlite3_column_text(st, 5),
        .code = (const char *)sqlite3_column_text(st, 6),
        .message = (const char *)sqlite3_column_text(st, 7),
    };
    int rc;

    d.key = key_json(st, 8, nkey);
    if (!d.key)
        return FERRY_ENOMEM;
    rc = cb(&d, ud);
    json_decref(d.key);
    return rc;
}

int fy_dead_each(sqlite3 *db, const struct fy_dead_sel *sel, fy_dead_fn *cb,
                 void *ud, struct ferry_err *err)
{
    struct fy_buf sql = FY_BUF_INIT(0), cols = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int nkey = 0, src, rc = key_columns(&cols, &nkey, err);

    if (rc < 0)
        goto out;
    fy_buf_addf(&sql,
                "SELECT id, seq, hlc, at, status, coalesce(tbl, ''),"
                " coalesce(code, ''), coalesce(message, ''), %s FROM"
                " _ferry_dead",
                cols.data);
    add_where(&sql, sel);
    fy_buf_adds(&sql, " ORDER BY id");
    rc = prepare_sel(db, &sql, sel, &st, err);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW)
        rc = each_row(st, nkey, cb, ud);
    if (rc == 0 && src != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot read dead letters", err);
    else if (rc < 0 && !(err && err->code))
        rc = fy_err_set(err, rc, "cannot list dead letters: %s",
                        ferry_strerror(rc));
out:
    sqlite3_finalize(st);
    fy_buf_release(&sql);
    fy_buf_release(&cols);
    return rc;
}

/* Runs one statement over the selection; *n gets the rows it changed. */
static int exec_sel(sqlite3 *db, struct fy_buf *sql,
                    const struct fy_dead_sel *sel, long *n,
                    struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sel(db, sql, sel, &st, err);

    if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot update dead letters", err);
    if (rc == 0 && n)
        *n = sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}

static int in_tx(sqlite3 *db, int rc, struct ferry_err *err)
{
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot update dead letters", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/*
 * Each dead letter goes back as the trigger would have written it: table,
 * key and the capture time (recovered from its HLC; now if it has none).
 * Unnumbered entries are appended after everything in the outbox, which
 * keeps the outbox's ordering invariant (docs/internals/capture.md).
 */
int fy_dead_retry(sqlite3 *db, const struct fy_dead_sel *sel, long *n,
                  struct ferry_err *err)
{
    struct fy_buf ins = FY_BUF_INIT(0), del = FY_BUF_INIT(0);
    struct fy_buf cols = FY_BUF_INIT(0);
    long moved = 0, deleted = 0;
    int nkey, rc = key_columns(&cols, &nkey, err);

    *n = 0;
    fy_buf_addf(&ins,
                "INSERT INTO _ferry_outbox (tbl, wall, %s) SELECT tbl,"
                " coalesce(hlc >> 16, " FY_CAPTURE_WALL_MS
                "), %s FROM _ferry_dead",
                cols.data, cols.data);
    add_where(&ins, sel);
    fy_buf_adds(&ins, " AND tbl IS NOT NULL ORDER BY id");
    fy_buf_adds(&del, "DELETE FROM _ferry_dead");
    add_where(&del, sel);
    fy_buf_adds(&del, " AND tbl IS NOT NULL");
    if (rc == 0 &&
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot update dead letters", err);
    else if (rc == 0) {
        rc = exec_sel(db, &ins, sel, &moved, err);
        if (rc == 0)
            rc = exec_sel(db, &del, sel, &deleted, err);
        if (rc == 0 && moved != deleted)
            rc = fy_err_set(err, FERRY_EIO,
                            "dead letters changed while"
                            " re-queueing them");
        rc = in_tx(db, rc, err);
    }
    if (rc == 0)
        *n = moved;
    fy_buf_release(&ins);
    fy_buf_release(&del);
    fy_buf_release(&cols);
    return rc;
}

int fy_dead_drop(sqlite3 *db, const struct fy_dead_sel *sel, long *n,
                 struct ferry_err *err)
{
    struct fy_buf del = FY_BUF_INIT(0);
    int rc;

    *n = 0;
    fy_buf_adds(&del, "DELETE FROM _ferry_dead");
    add_where(&del, sel);
    rc = exec_sel(db, &del, sel, n, err);
    fy_buf_release(&del);
    return rc;
}
