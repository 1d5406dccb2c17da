/* SPDX-License-Identifier: MIT */
/*
 * Trigger installation, table introspection and contract generation; see
 * capture.h.
 */
#include "capture/capture.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fy.h"

/* Wall-clock milliseconds in plain SQL that every SQLite version knows. */
#define WALL_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

static const char *const agent_ddl =
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

static int db_fail(sqlite3 *db, const char *what, struct ferry_err *err)
{
    int src = sqlite3_errcode(db);

    if (err)
        err->sys = src;
    return fy_err_set(err,
                      src == SQLITE_BUSY || src == SQLITE_LOCKED ? FERRY_EBUSY
                                                                 : FERRY_EIO,
                      "%s: %s", what, sqlite3_errmsg(db));
}

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
    sqlite3_busy_timeout(*db, 10000);
    return 0;
}

int fy_capture_init(sqlite3 *db, struct ferry_err *err)
{
    if (sqlite3_exec(db, agent_ddl, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, "cannot create ferry's tables", err);
    return 0;
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

static int read_cols(sqlite3 *db, struct fy_local_table *t,
                     struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t keypos[64] = {0};
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT name, type, \"notnull\", pk FROM"
                           " pragma_table_info(?) ORDER BY cid",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, "cannot read table schema", err);
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
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
    rc = read_cols(db, t, err);
    if (rc == 0 && t->npk == 0)
        rc = fy_err_set(err, FERRY_EINVAL,
                        "table '%s' has no PRIMARY KEY; ferry needs one to"
                        " identify rows",
                        name);
    if (rc < 0)
        fy_local_table_release(t);
    return rc;
}

/* NEW."id" or json_array(NEW."a", NEW."b") for the key of t. */
static void key_expr(struct fy_buf *b, const struct fy_local_table *t,
                     const char *which)
{
    if (t->npk > 1)
        fy_buf_adds(b, "json_array(");
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_addf(b, "%s%s.", i ? ", " : "", which);
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
    }
    if (t->npk > 1)
        fy_buf_addc(b, ')');
}

/*
 * Appends the key: no conflict clause, no index to maintain, nothing the
 * app statement's own OR clause or UPSERT could change. Repeated writes of
 * one key are coalesced when the outbox is read.
 */
static void outbox_put(struct fy_buf *b, const struct fy_local_table *t,
                       const char *which)
{
    fy_buf_addf(b, "INSERT INTO _ferry_outbox (tbl, pk, wall) VALUES ('%s', ",
                t->name);
    key_expr(b, t, which);
    fy_buf_adds(b, ", " WALL_MS ");");
}

static void trigger_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    fy_buf_addf(b,
                "CREATE TRIGGER IF NOT EXISTS \"_ferry_ai_%s\" AFTER"
                " INSERT ON ",
                t->name);
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " BEGIN ");
    outbox_put(b, t, "NEW");
    fy_buf_addf(b,
                " END; CREATE TRIGGER IF NOT EXISTS \"_ferry_au_%s\""
                " AFTER UPDATE ON ",
                t->name);
    fy_buf_add_ident(b, t->name);
    /* A changed key is a delete of the old key plus the new row. */
    fy_buf_addf(b,
                " BEGIN INSERT INTO _ferry_outbox (tbl, pk, wall) SELECT"
                " '%s', ",
                t->name);
    key_expr(b, t, "OLD");
    fy_buf_adds(b, ", " WALL_MS " WHERE ");
    key_expr(b, t, "OLD");
    fy_buf_adds(b, " IS NOT ");
    key_expr(b, t, "NEW");
    fy_buf_adds(b, "; ");
    outbox_put(b, t, "NEW");
    fy_buf_addf(b,
                " END; CREATE TRIGGER IF NOT EXISTS \"_ferry_ad_%s\""
                " AFTER DELETE ON ",
                t->name);
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " BEGIN ");
    outbox_put(b, t, "OLD");
    fy_buf_adds(b, " END;");
}

static void backfill_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    fy_buf_addf(b,
                "INSERT INTO _ferry_outbox (tbl, pk, wall)"
                " SELECT '%s', ",
                t->name);
    key_expr(b, t, "t");
    fy_buf_adds(b, ", " WALL_MS " FROM ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " AS t;");
}

static int is_tracked(sqlite3 *db, const char *table, bool *yes,
                      struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "SELECT 1 FROM _ferry_tracked WHERE tbl = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(db, "cannot read tracked tables", err);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    *yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return 0;
}

/*
 * Installs the triggers (again, if a table rebuild dropped them) and, the
 * first time only, queues the rows the table already holds.
 */
static int track_in_tx(sqlite3 *db, const struct fy_local_table *t,
                       struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    bool tracked = false;
    int rc = is_tracked(db, t->name, &tracked, err);

    if (rc < 0)
        return rc;
    trigger_sql(&b, t);
    if (!tracked) {
        backfill_sql(&b, t);
        fy_buf_addf(&b,
                    "INSERT INTO _ferry_tracked VALUES ('%s', unixepoch());",
                    t->name);
    }
    if (fy_buf_error(&b))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else if (sqlite3_exec(db, b.data, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(db, "cannot install triggers", err);
    fy_buf_release(&b);
    return rc;
}

/* json_array() in a composite-key trigger cannot hold a BLOB. */
static int check_key_types(const struct fy_local_table *t,
                           struct ferry_err *err)
{
    for (size_t i = 0; t->npk > 1 && i < t->npk; i++) {
        if (t->types[t->pk[i]] == FY_T_BYTEA)
            return fy_err_set(err, FERRY_EINVAL,
                              "table '%s': key column '%s' is a BLOB, which"
                              " a composite key cannot carry",
                              t->name, t->cols[t->pk[i]]);
    }
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

int fy_capture_track(sqlite3 *db, const char *table, long *queued,
                     struct ferry_err *err)
{
    struct fy_local_table t;
    long before;
    int rc;

    *queued = 0;
    /* The same rule as the contract: ferry_ is the SQLite store's own. */
    if (!fy_ident_valid(table) || strncasecmp(table, "ferry_", 6) == 0 ||
        strlen(table) > 56)
        return fy_err_set(err, FERRY_EINVAL,
                          "table name '%s' must be letters, digits and _ (at"
                          " most 56), not starting with _ferry or ferry_",
                          table);
    rc = fy_capture_init(db, err);
    if (rc < 0)
        return rc;
    rc = fy_local_table_load(db, table, &t, err);
    if (rc == 0)
        rc = check_key_types(&t, err);
    if (rc < 0) {
        fy_local_table_release(&t);
        return rc;
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fy_local_table_release(&t);
        return db_fail(db, "cannot begin", err);
    }
    before = outbox_count(db, table);
    rc = track_in_tx(db, &t, err);
    if (rc == 0)
        *queued = outbox_count(db, table) - before;
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(db, "cannot commit", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    fy_local_table_release(&t);
    return rc;
}

int fy_capture_untrack(sqlite3 *db, const char *table, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    bool tracked = false;
    int rc;

    if (!fy_ident_valid(table))
        return fy_err_set(err, FERRY_EINVAL, "bad table name '%s'", table);
    rc = fy_capture_init(db, err);
    if (rc == 0)
        rc = is_tracked(db, table, &tracked, err);
    if (rc == 0 && !tracked)
        return fy_err_set(err, FERRY_ENOTFOUND, "table '%s' is not tracked",
                          table);
    fy_buf_addf(&b,
                "BEGIN IMMEDIATE; DROP TRIGGER IF EXISTS \"_ferry_ai_%s\";"
                " DROP TRIGGER IF EXISTS \"_ferry_au_%s\"; DROP TRIGGER IF"
                " EXISTS \"_ferry_ad_%s\"; DELETE FROM _ferry_tracked WHERE"
                " tbl = '%s'; COMMIT;",
                table, table, table, table);
    if (rc == 0 && sqlite3_exec(db, b.data, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(db, "cannot drop triggers", err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    fy_buf_release(&b);
    return rc;
}

int fy_capture_each_tracked(sqlite3 *db, int (*cb)(const char *table, void *ud),
                            void *ud, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db, "SELECT tbl FROM _ferry_tracked ORDER BY tbl",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, "cannot read tracked tables", err);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        rc = cb((const char *)sqlite3_column_text(st, 0), ud);
    sqlite3_finalize(st);
    return rc;
}

struct contract_ctx {
    sqlite3 *db;
    json_t *tables;
    const char *device_col, *region_col;
    struct ferry_err *err;
};

static json_t *table_json(const struct fy_local_table *t, const char *dev,
                          const char *reg)
{
    json_t *cols = json_array(), *pk = json_array();
    const char *dcol = NULL, *rcol = NULL;

    for (size_t i = 0; i < t->ncols; i++) {
        bool textual = t->types[i] == FY_T_TEXT;

        json_array_append_new(cols,
                              json_pack("{s:s, s:s, s:b}", "name", t->cols[i],
                                        "type", fy_type_name(t->types[i]),
                                        "not_null", t->not_null[i]));
        if (dev && textual && strcmp(t->cols[i], dev) == 0)
            dcol = dev;
        if (reg && textual && strcmp(t->cols[i], reg) == 0)
            rcol = reg;
    }
    for (size_t i = 0; i < t->npk; i++)
        json_array_append_new(pk, json_string(t->cols[t->pk[i]]));
    return json_pack("{s:s, s:o, s:o, s:s?, s:s?, s:[]}", "name", t->name,
                     "columns", cols, "primary_key", pk, "device_column", dcol,
                     "region_column", rcol, "blob_columns");
}

static int add_table(const char *name, void *ud)
{
    struct contract_ctx *c = ud;
    struct fy_local_table t;
    int rc = fy_local_table_load(c->db, name, &t, c->err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < t.ncols; i++) {
        if (!fy_ident_valid(t.cols[i])) {
            rc = fy_err_set(c->err, FERRY_EINVAL,
                            "table '%s': column name '%s' is not supported"
                            " (letters, digits and _ only)",
                            name, t.cols[i]);
            break;
        }
    }
    if (rc == 0)
        json_array_append_new(c->tables,
                              table_json(&t, c->device_col, c->region_col));
    fy_local_table_release(&t);
    return rc;
}

int fy_capture_contract(sqlite3 *db, long version, const char *device_col,
                        const char *region_col, json_t **out,
                        struct ferry_err *err)
{
    struct contract_ctx c = {.db = db,
                             .tables = json_array(),
                             .device_col = device_col,
                             .region_col = region_col,
                             .err = err};
    int rc = fy_capture_init(db, err);

    *out = NULL;
    if (rc == 0)
        rc = fy_capture_each_tracked(db, add_table, &c, err);
    if (rc < 0) {
        json_decref(c.tables);
        return rc;
    }
    *out = json_pack("{s:i, s:o}", "version", (int)version, "tables", c.tables);
    return 0;
}
