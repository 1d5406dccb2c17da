/* SPDX-License-Identifier: MIT */
/*
 * Trigger installation, table introspection and contract generation; see
 * capture.h.
 */
#include "capture/capture.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agentdb.h"
#include "capture/capture_int.h"
#include "fy.h"
#include "util/sqlite_err.h"

#define WALL_MS FY_CAPTURE_WALL_MS

int fy_capture_open(const char *path, sqlite3 **db, struct ferry_err *err)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = fy_err_set(err, FERRY_EIO, "cannot open database '%s': %s",
                            path, *db ? sqlite3_errmsg(*db) : "out of memory");

        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    /* SQLite opens a file it cannot write read-only, without an error. */
    if (sqlite3_db_readonly(*db, "main") == 1) {
        sqlite3_close(*db);
        *db = NULL;
        return fy_err_set(err, FERRY_ECONFIG,
                          "database '%s' is read-only: ferry needs to write"
                          " its outbox there",
                          path);
    }
    sqlite3_busy_timeout(*db, 10000);
    return 0;
}

int fy_capture_exec(sqlite3 *db, const struct fy_buf *sql, const char *what,
                    struct ferry_err *err)
{
    if (fy_buf_error(sql))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (sqlite3_exec(db, sql->data, NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, what, err);
    return 0;
}

/*
 * Creating ferry's tables and upgrading them from earlier layouts is
 * lib/agent/agentdb.c's (one module for all of the agent's own tables).
 */
int fy_capture_init(sqlite3 *db, struct ferry_err *err)
{
    return fy_agentdb_init(db, err);
}

int fy_capture_record_shape(sqlite3 *db, const struct fy_local_table *t,
                            struct ferry_err *err)
{
    char *keys = fy_capture_shape(t, true), *cols = fy_capture_shape(t, false);
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (!keys || !cols)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else if (sqlite3_prepare_v2(db,
                                "INSERT INTO _ferry_tracked (tbl, tracked_at,"
                                " keycols, cols) VALUES (?1, unixepoch(), ?2,"
                                " ?3) ON CONFLICT (tbl) DO UPDATE SET tbl ="
                                " ?1, keycols = ?2, cols = ?3",
                                -1, &st, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot record tracked table", err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, keys, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, cols, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fy_sqlite_fail(db, "cannot record tracked table", err);
    }
    sqlite3_finalize(st);
    fy_free(keys);
    fy_free(cols);
    return rc;
}

char *fy_capture_shape(const struct fy_local_table *t, bool key_only)
{
    json_t *arr = json_array();
    size_t n = key_only ? t->npk : t->ncols;
    char *text, *out;

    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr,
                              json_string(t->cols[key_only ? t->pk[i] : i]));
    text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    out = text ? fy_strdup(text) : NULL;
    free(text); /* jansson's malloc */
    return out;
}

int fy_capture_each_tracked(sqlite3 *db, int (*cb)(const char *table, void *ud),
                            void *ud, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db, "SELECT tbl FROM _ferry_tracked ORDER BY tbl",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read tracked tables", err);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        rc = cb((const char *)sqlite3_column_text(st, 0), ud);
    sqlite3_finalize(st);
    return rc;
}

void fy_local_table_release(struct fy_local_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++) {
        fy_free(t->cols[i]);
        fy_free(t->decl[i]);
    }
    fy_free(t->cols);
    fy_free(t->decl);
    fy_free(t->types);
    fy_free(t->not_null);
    fy_free(t->pk);
    fy_free(t->name);
    memset(t, 0, sizeof(*t));
}

static int alloc_cols(struct fy_local_table *t, size_t n)
{
    t->cols = fy_calloc(n, sizeof(*t->cols));
    t->decl = fy_calloc(n, sizeof(*t->decl));
    t->types = fy_calloc(n, sizeof(*t->types));
    t->not_null = fy_calloc(n, sizeof(*t->not_null));
    t->pk = fy_calloc(n, sizeof(*t->pk));
    return t->cols && t->decl && t->types && t->not_null && t->pk
               ? 0
               : FERRY_ENOMEM;
}

static size_t count_cols(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?)", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (size_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/*
 * Reads at most n columns (the count made just before): an app's ALTER
 * TABLE between the two statements must not write past the arrays.
 */
static int read_cols(sqlite3 *db, struct fy_local_table *t, size_t n,
                     struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t keypos[64] = {0};
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT name, type, \"notnull\", pk FROM"
                           " pragma_table_info(?) ORDER BY cid",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot read table schema", err);
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    while (rc == 0 && t->ncols < n && sqlite3_step(st) == SQLITE_ROW) {
        size_t i = t->ncols;
        int pkpos = sqlite3_column_int(st, 3);

        t->cols[i] = fy_strdup((const char *)sqlite3_column_text(st, 0));
        t->decl[i] = fy_strdup((const char *)sqlite3_column_text(st, 1));
        t->ncols++;
        if (!t->cols[i] || !t->decl[i])
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        t->types[i] = fy_type_from_sqlite(t->decl[i] ? t->decl[i] : "");
        t->not_null[i] = sqlite3_column_int(st, 2) != 0 || pkpos > 0;
        if (pkpos > 0 && pkpos <= 64) {
            keypos[pkpos - 1] = i + 1;
            t->npk++;
        }
    }
    sqlite3_finalize(st);
    for (size_t k = 0; rc == 0 && k < t->npk; k++) {
        if (!keypos[k])
            return fy_err_set(err, FERRY_EINVAL, "table '%s': odd key",
                              t->name);
        t->pk[k] = keypos[k] - 1;
    }
    return rc;
}

int fy_local_table_load(sqlite3 *db, const char *name, struct fy_local_table *t,
                        struct ferry_err *err)
{
    size_t n = count_cols(db, name);
    int rc;

    memset(t, 0, sizeof(*t));
    if (n == 0)
        return fy_err_set(err, FERRY_ENOTFOUND, "no table '%s'", name);
    t->name = fy_strdup(name);
    if (!t->name || alloc_cols(t, n) < 0) {
        fy_local_table_release(t);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    rc = read_cols(db, t, n, err);
    if (rc == 0 && t->npk == 0)
        rc = fy_err_set(err, FERRY_EINVAL,
                        "table '%s' has no PRIMARY KEY; ferry needs one to"
                        " identify rows",
                        name);
    if (rc < 0)
        fy_local_table_release(t);
    return rc;
}

const char *const fy_outbox_key_cols[FY_KEY_COLS_MAX] = {
    "pk", "pk2", "pk3", "pk4", "pk5", "pk6", "pk7", "pk8"};

/* "pk, pk2" for the key of t: one outbox column per key column. */
static void key_slots(struct fy_buf *b, const struct fy_local_table *t)
{
    for (size_t i = 0; i < t->npk; i++)
        fy_buf_addf(b, "%s%s", i ? ", " : "", fy_outbox_key_cols[i]);
}

/*
 * NEW."a", NEW."b": each key column as its own value. A value keeps its
 * exact type and bytes in the outbox (a REAL is not rounded by a text
 * form, a BLOB needs no encoding), so the row is found again at push time.
 */
static void key_values(struct fy_buf *b, const struct fy_local_table *t,
                       const char *which)
{
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_addf(b, "%s%s.", i ? ", " : "", which);
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
    }
}

/*
 * OLD."a" IS NOT NEW."a" COLLATE BINARY OR ...: a key changed in any way,
 * including only in case under a NOCASE column, so the old key is deleted.
 */
static void key_changed(struct fy_buf *b, const struct fy_local_table *t)
{
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? " OR OLD." : "OLD.");
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
        fy_buf_adds(b, " IS NOT NEW.");
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
        fy_buf_adds(b, " COLLATE BINARY");
    }
}

/*
 * Appends the key: no conflict clause, no index to maintain, nothing the
 * app statement's own OR clause or UPSERT could change. Repeated writes of
 * one key are coalesced when the outbox is read.
 */
static void outbox_put(struct fy_buf *b, const struct fy_local_table *t,
                       const char *which)
{
    fy_buf_adds(b, "INSERT INTO _ferry_outbox (tbl, ");
    key_slots(b, t);
    fy_buf_addf(b, ", wall) VALUES ('%s', ", t->name);
    key_values(b, t, which);
    fy_buf_adds(b, ", " WALL_MS ");");
}

/* Appends one CREATE TRIGGER statement (no final ';') of kind i, u or d. */
void fy_capture_trigger_sql(struct fy_buf *b, const struct fy_local_table *t,
                            char kind)
{
    static const char *const events[] = {"INSERT", "UPDATE", "DELETE"};
    int e = kind == 'i' ? 0 : kind == 'u' ? 1 : 2;

    fy_buf_addf(b, "CREATE TRIGGER \"_ferry_a%c_%s\" AFTER %s ON ", kind,
                t->name, events[e]);
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " BEGIN ");
    if (kind == 'u') {
        /* A changed key is a delete of the old key plus the new row. */
        fy_buf_adds(b, "INSERT INTO _ferry_outbox (tbl, ");
        key_slots(b, t);
        fy_buf_addf(b, ", wall) SELECT '%s', ", t->name);
        key_values(b, t, "OLD");
        fy_buf_adds(b, ", " WALL_MS " WHERE ");
        key_changed(b, t);
        fy_buf_adds(b, "; ");
    }
    outbox_put(b, t, kind == 'd' ? "OLD" : "NEW");
    fy_buf_adds(b, " END");
}

void fy_capture_triggers_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    static const char kinds[] = {'i', 'u', 'd'};

    for (size_t i = 0; i < sizeof(kinds); i++) {
        fy_buf_addf(b, "DROP TRIGGER IF EXISTS \"_ferry_a%c_%s\"; ", kinds[i],
                    t->name);
        fy_capture_trigger_sql(b, t, kinds[i]);
        fy_buf_adds(b, "; ");
    }
}

void fy_capture_backfill_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    fy_buf_adds(b, "INSERT INTO _ferry_outbox (tbl, ");
    key_slots(b, t);
    fy_buf_addf(b, ", wall) SELECT '%s', ", t->name);
    key_values(b, t, "t");
    fy_buf_adds(b, ", " WALL_MS " FROM ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " AS t;");
}
