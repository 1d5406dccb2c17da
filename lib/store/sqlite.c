/* SPDX-License-Identifier: MIT */
/*
 * Embedded SQLite store: zero set-up, one file. Writers are serialised by
 * SQLite (BEGIN IMMEDIATE), so a push transaction reads the device's
 * acknowledged seq, applies the rows with prepared statements and records the
 * new seq without anyone else in between. WAL with synchronous=FULL: an
 * acknowledged batch survives a crash or power loss.
 *
 * A connection keeps its push statements prepared (per table, see
 * stmts_get), and a full row pushed into a table without tombstones is
 * written without being read first (apply_fresh): the push then costs about
 * what a plain prepared upsert of the same rows does.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/sql.h"
#include "util/sqlite_err.h"
#include "store/store_int.h"
#include "fy.h"

/* A table's push statements, prepared once per connection. */
struct lite_stmts {
    char *sig;          /* their SQL: a table whose columns changed misses */
    sqlite3_stmt *sel;  /* current version of a row */
    sqlite3_stmt *tomb; /* is there a newer-or-equal tombstone? */
    sqlite3_stmt *put;  /* insert or overwrite a row */
    sqlite3_stmt *del;  /* delete a row */
    sqlite3_stmt *tput; /* record a tombstone unless a newer one exists */
    sqlite3_stmt *ins;  /* insert a row not stored yet */
    sqlite3_stmt *upd;  /* overwrite a stored row that is older */
    sqlite3_stmt *any;  /* does the table have any tombstone? */
};

/* Tables whose statements a connection keeps (a contract has a few). */
#define LITE_CACHED 32

struct lite {
    sqlite3 *db;
    int64_t rev; /* revision of the open push transaction */
    /* The push transaction's own statements (begin, commit). */
    sqlite3_stmt *begin, *lock, *rev_get, *ack, *rev_put, *commit;
    struct lite_stmts cache[LITE_CACHED];
    size_t ncache;
};

/*
 * The revision counter pull cursors follow: SQLite only (PostgreSQL orders
 * by transaction ids). ferry_meta itself is declared with the tables both
 * stores have, in internal.c.
 */
static const char *const lite_meta_ddl =
    "INSERT OR IGNORE INTO ferry_meta VALUES ('rev', 0);";

static const struct fy_sql_word lite_words[] = {
    {"s", "ferry_"},
    {"schema", ""},
    {"int", "INTEGER"},
    {"text", "TEXT"},
    {"time", "INTEGER"},
    {"bool", "INTEGER"},
    {"json", "TEXT"},
    {"false", "0"},
    {"now", "unixepoch()"},
    {"ago", "unixepoch() - %"},
    {"epoch", "%"},
    {"ts", "%"},
    {"order", "%, rowid"},
    {"max", "max"},
    {"exists", "EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table'"
               " AND name = 'ferry_%')"},
    /* contract tables (internal.c) */
    {"origin", "TEXT"},
    {"version", "_ferry_rev"},
    {"version_def", "INTEGER NOT NULL DEFAULT 0"},
    {"tomb", "\"ferry_tomb_%\""},
    {"add_column", "ADD COLUMN"},
    {"table_exists", "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                     " name = '%'"},
    {"drop_column", "DROP COLUMN"},
    {"has_column", "SELECT 1 FROM pragma_table_info('%') WHERE name = ?"},
    {"has_tomb_column",
     "SELECT 1 FROM pragma_table_info('ferry_tomb_%') WHERE name = ?"},
    /* The primary key, or a unique index, on exactly the key (?1 a JSON
     * array, ?2 columns). */
    {"key_unique",
     "SELECT 1 WHERE EXISTS (SELECT 1 FROM pragma_index_list('%') il WHERE"
     " il.\"unique\" AND NOT il.partial AND (SELECT count(*) FROM"
     " pragma_index_info(il.name)) = ?2 AND (SELECT count(*) FROM"
     " pragma_index_info(il.name) ii WHERE lower(ii.name) IN (SELECT"
     " lower(value) FROM json_each(?1))) = ?2) OR ((SELECT count(*) FROM"
     " pragma_table_info('%') WHERE pk > 0) = ?2 AND (SELECT count(*) FROM"
     " pragma_table_info('%') WHERE pk > 0 AND lower(name) IN (SELECT"
     " lower(value) FROM json_each(?1))) = ?2)"},
    /* pull (read.c): every row write has a revision of its own */
    {"row_seq", ""},
    {"seq_def", ""},
    {"seq_col", ""},
    {"seq_col_def", ""},
    {"ver_sel", "_ferry_rev, 0"},
    {"ver_order", "_ferry_rev"},
    {"ver_order_desc", "_ferry_rev DESC"},
    /* (rev, 0) > (v, s) with s >= 0 is rev > v. */
    {"ver_after", "x._ferry_rev > ?1"},
    {"begin_write", "BEGIN IMMEDIATE"},
    {"vidx", "\"%__ferry\""},
    {"tvidx", "\"ferry_tomb_%_v\""},
    {"horizon", ""}, /* writers take turns: nothing commits late */
    {"begin_read", "BEGIN"},
    /* hex(NULL) is '', not NULL. */
    {"hex", "CASE WHEN % IS NULL THEN NULL ELSE hex(%) END"},
    /* Text of a REAL has 15 digits; quote() keeps every bit. */
    {"real", "CASE WHEN typeof(%) = 'real' THEN quote(%) ELSE % END"},
    /* snapshots (export.c): XMIN:XMAX: past the last revision (one writer) */
    {"snap_pos", "SELECT (v + 1) || ':' || (v + 1) || ':' FROM (SELECT"
                 " coalesce((SELECT value FROM ferry_meta WHERE key = 'rev'),"
                 " 0) AS v)"},
    {"ver_sum", "coalesce(sum(x._ferry_rev), 0)"},
    /* blobs (blob.c) */
    {"bytes", "BLOB"},
    {"true", "1"},
    {"unhex", "ferry_unhex(%)"},
    {"lock", ""}, /* BEGIN IMMEDIATE holds the whole store */
    /* runs (runs.c) */
    {"serial", "INTEGER PRIMARY KEY AUTOINCREMENT"},
    {"now_ms", "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"},
    {"fill", ""},
    {"try_lock", "SELECT 1"}, /* one ferryd per SQLite store */
    {"relaxed", "SELECT 1"},  /* WAL: commits do not wait for the disk */
    {"ver_order_x", "x._ferry_rev"},
    /* expiring cursors (backup.c): the revision, the versioned tables */
    {"ver_now", "SELECT value FROM ferry_meta WHERE key = 'rev'"},
    {"ver_next", "SELECT value + 1 FROM ferry_meta WHERE key = 'rev'"},
    {"ver_tables", "SELECT '\"' || m.name || '\"' FROM sqlite_master m WHERE"
                   " m.type = 'table' AND EXISTS (SELECT 1 FROM"
                   " pragma_table_info(m.name) p WHERE p.name = '_ferry_rev')"},
};

/* Logs the failure; the code is the shared SQLite translation (util). */
static int lite_fail(struct lite *l, int src, const char *what,
                     struct ferry_err *err)
{
    fy_warn("store", "sqlite %s failed: %s", what, sqlite3_errmsg(l->db));
    return fy_sqlite_fail_rc(l->db, src, what, err);
}

static int lite_exec(struct lite *l, const char *sql, const char *what,
                     struct ferry_err *err)
{
    int src = sqlite3_exec(l->db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? 0 : lite_fail(l, src, what, err);
}

static int lite_prepare(struct lite *l, const char *sql, sqlite3_stmt **st,
                        struct ferry_err *err)
{
    int src = sqlite3_prepare_v2(l->db, sql, -1, st, NULL);

    return src == SQLITE_OK ? 0 : lite_fail(l, src, "prepare", err);
}

/*
 * How long a writer waits for the lock before the request gets 503 and is
 * retried by the agent; FERRY_SQLITE_BUSY_MS overrides the 10 s default.
 */
static int busy_ms(void)
{
    const char *s = getenv("FERRY_SQLITE_BUSY_MS");
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;

    return s && *s && !*end && v > 0 && v < 600000 ? (int)v : 10000;
}

/* Hex digit values plus one; 0 for a byte that is not a hex digit. */
static const unsigned char hex_plus1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/*
 * ferry_unhex(text): the bytes hex digits spell ({unhex} in blob.c, which
 * passes parts as hex text through the statement runner); NULL for text
 * that is not hex. SQLite has unhex() only from 3.41.
 */
static void unhex_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *t = sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    unsigned char *out;

    (void)argc;
    if (!t || n % 2) {
        sqlite3_result_null(ctx);
        return;
    }
    out = sqlite3_malloc(n / 2 + 1);
    if (!out) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    for (int i = 0; i < n / 2; i++) {
        /* A table, not branches: parts are megabytes of hex. */
        int hi = hex_plus1[t[2 * i]] - 1, lo = hex_plus1[t[2 * i + 1]] - 1;

        if (hi < 0 || lo < 0) {
            sqlite3_free(out);
            sqlite3_result_null(ctx);
            return;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    sqlite3_result_blob(ctx, out, n / 2, sqlite3_free);
}

static int lite_open(struct fy_store *st, const char *url,
                     struct ferry_err *err)
{
    struct lite *l = fy_calloc(1, sizeof(*l));
    const char *path = fy_store_sqlite_path(url);
    int rc = 0;

    if (!l)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (sqlite3_open_v2(path, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = fy_err_set(err, FERRY_EUNAVAIL, "cannot open '%s': %s", path,
                        l->db ? sqlite3_errmsg(l->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(l->db, busy_ms());
    if (sqlite3_create_function(l->db, "ferry_unhex", 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                unhex_fn, NULL, NULL) != SQLITE_OK) {
        rc = lite_fail(l, sqlite3_errcode(l->db), "register ferry_unhex", err);
        goto out;
    }
    rc = lite_exec(l,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   " PRAGMA foreign_keys=ON",
                   "set pragmas", err);
out:
    if (rc < 0) {
        sqlite3_close(l->db);
        fy_free(l);
        return rc;
    }
    st->impl = l;
    return 0;
}

static void stmts_release(struct lite_stmts *s);

/* Before sqlite3_close, which refuses a connection with statements. */
static void lite_forget(struct lite *l)
{
    for (size_t i = 0; i < l->ncache; i++)
        stmts_release(&l->cache[i]);
    l->ncache = 0;
    sqlite3_finalize(l->begin);
    sqlite3_finalize(l->lock);
    sqlite3_finalize(l->rev_get);
    sqlite3_finalize(l->ack);
    sqlite3_finalize(l->rev_put);
    sqlite3_finalize(l->commit);
    l->begin = l->lock = l->rev_get = l->ack = l->rev_put = l->commit = NULL;
}

static void lite_close(struct fy_store *st)
{
    struct lite *l = st->impl;

    if (!l)
        return;
    lite_forget(l);
    sqlite3_close(l->db);
    fy_free(l);
    st->impl = NULL;
}

static int lite_ping(struct fy_store *st, struct ferry_err *err)
{
    return lite_exec(st->impl, "SELECT 1 FROM ferry_meta LIMIT 1", "ping", err);
}

/* ---- migrate ---------------------------------------------------------- */

static int lite_flag_row(const char *const *cols, int n, void *ud)
{
    (void)cols;
    (void)n;
    *(bool *)ud = true;
    return 0;
}

static int lite_renumber(struct fy_store *st, const char *table,
                         struct ferry_err *err)
{
    char sql[512]; /* table names have at most 56 characters */
    struct fy_sql_q q = {.sql = sql, .what = "number revisions"};

    snprintf(sql, sizeof(sql),
             "UPDATE %s SET _ferry_rev = rowid + (SELECT value FROM"
             " ferry_meta WHERE key = 'rev');"
             "UPDATE ferry_meta SET value = value + (SELECT"
             " coalesce(max(rowid), 0) FROM %s) WHERE key = 'rev';",
             table, table);
    return fy_sql_run(st, &q, err);
}

/*
 * Stores written before pull gave all rows of a push one revision; a pull
 * cursor needs one per row. Done once, in the migration that adds pull.
 */
static int lite_unique_revs(struct fy_store *st, const struct fy_contract *c,
                            struct ferry_err *err)
{
    bool done = false;
    struct fy_sql_q has = {
        .sql = "SELECT 1 FROM ferry_meta WHERE key = 'rev_rows'",
        .row = lite_flag_row,
        .ud = &done,
        .what = "read revisions",
    };
    struct fy_sql_q mark = {
        .sql = "INSERT INTO ferry_meta VALUES ('rev_rows', 1)",
        .what = "number revisions",
    };
    char name[128];
    int rc = fy_sql_run(st, &has, err);

    for (size_t i = 0; rc == 0 && !done && i < c->ntables; i++) {
        snprintf(name, sizeof(name), "\"%s\"", c->tables[i].name);
        rc = lite_renumber(st, name, err);
        snprintf(name, sizeof(name), "\"ferry_tomb_%s\"", c->tables[i].name);
        if (rc == 0)
            rc = lite_renumber(st, name, err);
    }
    return rc == 0 && !done ? fy_sql_run(st, &mark, err) : rc;
}

static int lite_migrate(struct fy_store *st, const struct fy_contract *c,
                        const struct fy_migrate_opts *o, struct ferry_err *err)
{
    struct lite *l = st->impl;
    int rc = lite_exec(l, "BEGIN IMMEDIATE", "begin", err);

    if (rc < 0)
        return rc;
    rc = fy_sql_internal_ddl(st, o, err);
    if (rc == 0)
        rc = lite_exec(l, lite_meta_ddl, "migrate", err);
    if (rc == 0)
        rc = fy_sql_contract_ddl(st, c, o, err);
    if (rc == 0)
        rc = lite_unique_revs(st, c, err);
    if (rc == 0)
        rc = fy_sql_record_version(st, c, err);
    if (rc == 0)
        rc = lite_exec(l, o && o->dry_run ? "ROLLBACK" : "COMMIT", "commit",
                       err);
    else
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- the statement runner (ops written once: keys.c, internal.c) ------ */

static void bind_arg(sqlite3_stmt *s, int i, const struct fy_sql_arg *a)
{
    if (a->kind == FY_SQL_INT)
        sqlite3_bind_int64(s, i, a->i);
    else if (a->kind == FY_SQL_TEXT)
        sqlite3_bind_text(s, i, a->s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* Hands one result row to q->row as text. */
static int lite_row(struct lite *l, sqlite3_stmt *s, struct fy_sql_q *q,
                    struct ferry_err *err)
{
    const char *cols[FY_SQL_MAX_COLS];
    int n = sqlite3_column_count(s);

    assert(n <= FY_SQL_MAX_COLS);
    for (int i = 0; i < n && i < FY_SQL_MAX_COLS; i++) {
        cols[i] = (const char *)sqlite3_column_text(s, i);
        if (!cols[i] && sqlite3_column_type(s, i) != SQLITE_NULL)
            return lite_fail(l, SQLITE_NOMEM, q->what, err);
    }
    return q->row ? q->row(cols, n, q->ud) : 0;
}

/* Runs one prepared statement to its end. */
static int lite_step_all(struct lite *l, sqlite3_stmt *s, struct fy_sql_q *q,
                         struct ferry_err *err)
{
    int src = SQLITE_DONE, rc = 0;

    for (size_t i = 0; i < q->nargs; i++)
        bind_arg(s, (int)i + 1, &q->args[i]);
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW)
        rc = lite_row(l, s, q, err);
    if (rc == 0 && src != SQLITE_DONE)
        rc = lite_fail(l, src, q->what, err);
    q->changes = sqlite3_changes(l->db);
    return rc;
}

static int lite_run(struct fy_store *st, const char *sql, struct fy_sql_q *q,
                    struct ferry_err *err)
{
    struct lite *l = st->impl;
    const char *tail = sql;
    int rc = 0;

    if (q->flags & FY_SQL_NOWAIT)
        sqlite3_busy_timeout(l->db, 0);
    /* Without arguments, sql may be a script of several statements. */
    while (rc == 0 && *tail) {
        sqlite3_stmt *s = NULL;
        int src = sqlite3_prepare_v2(l->db, tail, -1, &s, &tail);

        if (src != SQLITE_OK)
            rc = lite_fail(l, src, q->what, err);
        else if (s)
            rc = lite_step_all(l, s, q, err);
        sqlite3_finalize(s);
        assert(q->nargs == 0 || !*tail || rc < 0);
    }
    if (q->flags & FY_SQL_NOWAIT)
        sqlite3_busy_timeout(l->db, busy_ms());
    return rc;
}

static const struct fy_sql_dialect lite_dialect = {
    .placeholder = '?',
    .words = lite_words,
    .nwords = FY_ARRAY_LEN(lite_words),
    .type = fy_sql_sqlite_type,
};

static const struct fy_store_sql_ops lite_sql_ops = {
    .dialect = &lite_dialect,
    .run = lite_run,
};

/* ---- push ------------------------------------------------------------- */

/* A statement the connection keeps: prepared on its first use. */
static int lite_keep(struct lite *l, const char *sql, sqlite3_stmt **st,
                     struct ferry_err *err)
{
    int src;

    if (*st)
        return 0;
    src =
        sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return src == SQLITE_OK ? 0 : lite_fail(l, src, "prepare", err);
}

/* Runs a kept statement without parameters or rows. */
static int lite_done(struct lite *l, sqlite3_stmt *s, const char *what,
                     struct ferry_err *err)
{
    int src = sqlite3_step(s);

    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : lite_fail(l, src, what, err);
}

/*
 * Runs a kept statement with an optional text parameter that returns one
 * int.
 */
static int lite_one_int(struct lite *l, sqlite3_stmt **s, const char *sql,
                        const char *param, int64_t *out, const char *what,
                        struct ferry_err *err)
{
    int rc = lite_keep(l, sql, s, err);

    if (rc < 0)
        return rc;
    if (param)
        sqlite3_bind_text(*s, 1, param, -1, SQLITE_STATIC);
    if (sqlite3_step(*s) == SQLITE_ROW)
        *out = sqlite3_column_int64(*s, 0);
    else
        rc = lite_fail(l, sqlite3_errcode(l->db), what, err);
    sqlite3_reset(*s);
    return rc;
}

static int lite_push_begin(struct fy_store *st, const char *device,
                           int64_t *acked, struct ferry_err *err)
{
    struct lite *l = st->impl;
    int rc = lite_keep(l, "BEGIN IMMEDIATE", &l->begin, err);

    if (rc == 0)
        rc = lite_done(l, l->begin, "begin", err);
    if (rc < 0)
        return rc;
    rc = lite_one_int(l, &l->lock,
                      "INSERT INTO ferry_devices (device) VALUES (?1)"
                      " ON CONFLICT (device) DO UPDATE SET device ="
                      " excluded.device RETURNING acked_seq",
                      device, acked, "lock device", err);
    /*
     * Every row and tombstone written gets the next revision (++l->rev),
     * the order pull cursors follow (read.c); commit stores the last one.
     */
    if (rc == 0)
        rc = lite_one_int(l, &l->rev_get,
                          "SELECT value FROM ferry_meta WHERE key = 'rev'",
                          NULL, &l->rev, "read revision", err);
    if (rc < 0)
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void pk_where(struct fy_buf *b, const struct fy_table *t)
{
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? " AND " : " WHERE ");
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
        fy_buf_addf(b, " = ?%zu", i + 1);
    }
}

static void sel_sql(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_adds(b, "SELECT _ferry_hlc, _ferry_origin, ");
    if (t->region_col >= 0)
        fy_buf_add_ident(b, t->cols[t->region_col].name);
    else
        fy_buf_adds(b, "NULL");
    fy_buf_adds(b, " FROM ");
    fy_buf_add_ident(b, t->name);
    pk_where(b, t);
}

/* Another region's tombstone does not shadow this region's row. */
static void tomb_sql(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_addf(b, "SELECT 1 FROM \"ferry_tomb_%s\"", t->name);
    pk_where(b, t);
    fy_buf_addf(b,
                " AND (_ferry_hlc, _ferry_origin) >= (?%zu, ?%zu) AND"
                " (_ferry_region IS NULL OR _ferry_region = ?%zu)",
                t->npk + 1, t->npk + 2, t->npk + 3);
}

/* INSERT of a whole row, ?1.. in column order, up to "ON CONFLICT (key". */
static void insert_head(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_adds(b, "INSERT INTO ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " (");
    fy_sql_cols(b, t, "");
    fy_buf_adds(b, ", _ferry_hlc, _ferry_origin, _ferry_rev) VALUES (");
    for (size_t i = 0; i < t->ncols + 3; i++)
        fy_buf_addf(b, "%s?%zu", i ? ", " : "", i + 1);
    fy_buf_adds(b, ") ON CONFLICT (");
    fy_sql_pk_cols(b, t);
}

/*
 * Insert or overwrite a row; with ch (a partial change), the update leaves
 * its absent columns alone.
 */
static void put_sql_for(struct fy_buf *b, const struct fy_table *t,
                        const struct fy_change *ch)
{
    insert_head(b, t);
    fy_buf_adds(b, ") DO UPDATE SET ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (ch && fy_val_left_out(&ch->vals[i]))
            continue;
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_adds(b, " = excluded.");
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_adds(b, ", ");
    }
    fy_buf_adds(b, "_ferry_hlc = excluded._ferry_hlc, _ferry_origin ="
                   " excluded._ferry_origin, _ferry_rev = excluded._ferry_rev");
}

static void put_sql(struct fy_buf *b, const struct fy_table *t)
{
    put_sql_for(b, t, NULL);
}

static void del_sql(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_adds(b, "DELETE FROM ");
    fy_buf_add_ident(b, t->name);
    pk_where(b, t);
}

static void tput_sql(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_addf(b, "INSERT INTO \"ferry_tomb_%s\" (", t->name);
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, ", _ferry_hlc, _ferry_origin, _ferry_rev, _ferry_region)"
                   " VALUES (");
    for (size_t i = 0; i < t->npk + 4; i++)
        fy_buf_addf(b, "%s?%zu", i ? ", " : "", i + 1);
    fy_buf_adds(b, ") ON CONFLICT (");
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, ") DO UPDATE SET _ferry_hlc = excluded._ferry_hlc,"
                   " _ferry_origin = excluded._ferry_origin, _ferry_rev ="
                   " excluded._ferry_rev, _ferry_region ="
                   " excluded._ferry_region WHERE (_ferry_hlc, _ferry_origin) <"
                   " (excluded._ferry_hlc, excluded._ferry_origin)");
}

/*
 * A full row not stored yet, inserted as it is: ON CONFLICT of the key
 * only, so that another UNIQUE constraint still fails the push as the
 * upsert does.
 */
static void ins_sql(struct fy_buf *b, const struct fy_table *t)
{
    insert_head(b, t);
    fy_buf_adds(b, ") DO NOTHING");
}

/*
 * A full row over a stored one that is older by (hlc, origin), with the
 * parameters of ins_sql. A stored HLC below zero was pushed above 2^63:
 * newer than any HLC this statement is given (apply_fresh), as read_current
 * compares them unsigned.
 */
static void upd_sql(struct fy_buf *b, const struct fy_table *t)
{
    size_t n = t->ncols;

    fy_buf_adds(b, "UPDATE ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " SET ");
    for (size_t i = 0; i < n; i++) {
        if (fy_table_is_pk(t, i))
            continue;
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_addf(b, " = ?%zu, ", i + 1);
    }
    fy_buf_addf(b, "_ferry_hlc = ?%zu, _ferry_origin = ?%zu, _ferry_rev = ?%zu",
                n + 1, n + 2, n + 3);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? " AND " : " WHERE ");
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
        fy_buf_addf(b, " = ?%zu", t->pk[i] + 1);
    }
    fy_buf_addf(b,
                " AND _ferry_hlc >= 0 AND (_ferry_hlc, _ferry_origin) <"
                " (?%zu, ?%zu)",
                n + 1, n + 2);
}

static void any_sql(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_addf(b, "SELECT 1 FROM \"ferry_tomb_%s\" LIMIT 1", t->name);
}

static void stmts_release(struct lite_stmts *s)
{
    sqlite3_stmt *all[] = {s->sel,  s->tomb, s->put, s->del,
                           s->tput, s->ins,  s->upd, s->any};

    for (size_t i = 0; i < FY_ARRAY_LEN(all); i++)
        sqlite3_finalize(all[i]);
    fy_free(s->sig);
    memset(s, 0, sizeof(*s));
}

static int stmts_prepare(struct lite *l, const struct fy_table *t,
                         struct lite_stmts *s, struct ferry_err *err)
{
    void (*const build[])(struct fy_buf *, const struct fy_table *) = {
        sel_sql,  tomb_sql, put_sql, del_sql,
        tput_sql, ins_sql,  upd_sql, any_sql};
    sqlite3_stmt **out[] = {&s->sel,  &s->tomb, &s->put, &s->del,
                            &s->tput, &s->ins,  &s->upd, &s->any};
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < FY_ARRAY_LEN(build); i++) {
        fy_buf_reset(&b);
        build[i](&b, t);
        rc = fy_buf_error(&b) ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                              : lite_keep(l, b.data, out[i], err);
    }
    fy_buf_release(&b);
    return rc;
}

/*
 * What the statements of t depend on: its name, columns, key and region
 * column. A contract migrated under a running ferryd changes it.
 */
static char *stmts_sig(const struct fy_table *t)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *sig;

    sel_sql(&b, t);
    fy_buf_addc(&b, '\n');
    put_sql(&b, t);
    sig = fy_buf_error(&b) ? NULL : fy_strdup(b.data);
    fy_buf_release(&b);
    return sig;
}

/*
 * The statements of t, prepared on the connection's first push of it and
 * kept (a batch of 200 rows would otherwise spend a fifth of its time
 * preparing them). When more tables than LITE_CACHED take turns, the
 * oldest entry makes room.
 */
static int stmts_get(struct lite *l, const struct fy_table *t,
                     struct lite_stmts **out, struct ferry_err *err)
{
    char *sig = stmts_sig(t);
    struct lite_stmts *s;
    int rc;

    if (!sig)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->ncache; i++) {
        if (strcmp(l->cache[i].sig, sig) == 0) {
            fy_free(sig);
            *out = &l->cache[i];
            return 0;
        }
    }
    if (l->ncache == LITE_CACHED) {
        stmts_release(&l->cache[0]);
        memmove(&l->cache[0], &l->cache[1],
                (LITE_CACHED - 1) * sizeof(l->cache[0]));
        memset(&l->cache[LITE_CACHED - 1], 0, sizeof(l->cache[0]));
        l->ncache--;
    }
    s = &l->cache[l->ncache];
    s->sig = sig;
    rc = stmts_prepare(l, t, s, err);
    if (rc < 0) {
        stmts_release(s);
        return rc;
    }
    l->ncache++;
    *out = s;
    return 0;
}

static void bind_val(sqlite3_stmt *s, int i, const struct fy_val *v)
{
    switch (v->kind) {
    case FY_V_INT:
    case FY_V_BOOL:
        sqlite3_bind_int64(s, i, v->i);
        break;
    case FY_V_REAL:
        sqlite3_bind_double(s, i, v->d);
        break;
    case FY_V_TEXT:
        sqlite3_bind_text(s, i, v->s, (int)v->len, SQLITE_STATIC);
        break;
    case FY_V_BLOB:
        sqlite3_bind_blob(s, i, v->s, (int)v->len, SQLITE_STATIC);
        break;
    default:
        sqlite3_bind_null(s, i);
    }
}

static void bind_pk(sqlite3_stmt *s, const struct fy_table *t,
                    const struct fy_change *ch)
{
    for (size_t i = 0; i < t->npk; i++)
        bind_val(s, (int)i + 1, &ch->vals[t->pk[i]]);
}

/* Binds hlc, origin and (for put statements) the revision after n params. */
static void bind_version(sqlite3_stmt *s, size_t n, const struct fy_change *ch,
                         const char *device, int64_t rev)
{
    sqlite3_bind_int64(s, (int)n + 1, (sqlite3_int64)ch->hlc);
    sqlite3_bind_text(s, (int)n + 2, device, -1, SQLITE_STATIC);
    if (rev >= 0)
        sqlite3_bind_int64(s, (int)n + 3, rev);
}

/*
 * The row's region (stamped from a region-scoped key), NULL for tables
 * without one: a tombstone's region, and whose tombstones shadow a row.
 */
static void bind_region(sqlite3_stmt *s, int i, const struct fy_apply_batch *ab,
                        const struct fy_change *ch)
{
    if (ab->table->region_col >= 0)
        bind_val(s, i, &ch->vals[ab->table->region_col]);
    else
        sqlite3_bind_null(s, i);
}

static int run_stmt(struct lite *l, sqlite3_stmt *s, const char *what,
                    struct ferry_err *err)
{
    int src = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return src == SQLITE_DONE ? 0 : lite_fail(l, src, what, err);
}

struct lite_current {
    bool exists, newer;
    bool other_region;
};

static int read_current(struct lite *l, struct lite_stmts *s,
                        const struct fy_apply_batch *ab,
                        const struct fy_change *ch, struct lite_current *cur,
                        struct ferry_err *err)
{
    int src;

    bind_pk(s->sel, ab->table, ch);
    src = sqlite3_step(s->sel);
    memset(cur, 0, sizeof(*cur));
    cur->newer = true;
    if (src == SQLITE_ROW) {
        uint64_t old = (uint64_t)sqlite3_column_int64(s->sel, 0);
        const char *origin = (const char *)sqlite3_column_text(s->sel, 1);
        const char *region = (const char *)sqlite3_column_text(s->sel, 2);
        int cmp = strcmp(ab->device, origin ? origin : "");

        cur->exists = true;
        cur->newer = ch->hlc > old || (ch->hlc == old && cmp > 0);
        cur->other_region = ab->scope_region &&
                            (!region || strcmp(region, ab->scope_region) != 0);
    }
    sqlite3_reset(s->sel);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return lite_fail(l, src, "read row", err);
    return 0;
}

static int tomb_blocks(struct lite *l, struct lite_stmts *s,
                       const struct fy_apply_batch *ab,
                       const struct fy_change *ch, bool *blocked,
                       struct ferry_err *err)
{
    int src;

    bind_pk(s->tomb, ab->table, ch);
    bind_version(s->tomb, ab->table->npk, ch, ab->device, -1);
    bind_region(s->tomb, (int)ab->table->npk + 3, ab, ch);
    src = sqlite3_step(s->tomb);
    sqlite3_reset(s->tomb);
    *blocked = src == SQLITE_ROW;
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : lite_fail(l, src, "read tombstone", err);
}

static int apply_delete(struct lite *l, struct lite_stmts *s,
                        const struct fy_apply_batch *ab, struct fy_change *ch,
                        const struct lite_current *cur,
                        struct fy_apply_stats *st, struct ferry_err *err)
{
    int rc = 0;

    ch->outcome = FY_ROW_NOOP;
    if (cur->exists && cur->newer) {
        bind_pk(s->del, ab->table, ch);
        rc = run_stmt(l, s->del, "delete", err);
        st->deleted++;
        ch->outcome = FY_ROW_DELETED;
    }
    if (rc == 0) {
        bind_pk(s->tput, ab->table, ch);
        bind_version(s->tput, ab->table->npk, ch, ab->device, ++l->rev);
        bind_region(s->tput, (int)ab->table->npk + 4, ab, ch);
        rc = run_stmt(l, s->tput, "record tombstone", err);
    }
    return rc;
}

static int put_row(struct lite *l, sqlite3_stmt *put,
                   const struct fy_apply_batch *ab, const struct fy_change *ch,
                   struct ferry_err *err)
{
    for (size_t i = 0; i < ab->table->ncols; i++)
        bind_val(put, (int)i + 1, &ch->vals[i]);
    bind_version(put, ab->table->ncols, ch, ab->device, ++l->rev);
    return run_stmt(l, put, "upsert", err);
}

/*
 * A partial change names its own columns, so it gets a statement of its
 * own; pushes (full rows) never come here.
 */
static int put_partial(struct lite *l, const struct fy_apply_batch *ab,
                       const struct fy_change *ch, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    sqlite3_stmt *put = NULL;
    int rc;

    put_sql_for(&b, ab->table, ch);
    rc = fy_buf_error(&b) ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                          : lite_prepare(l, b.data, &put, err);
    if (rc == 0)
        rc = put_row(l, put, ab, ch, err);
    sqlite3_finalize(put);
    fy_buf_release(&b);
    return rc;
}

static int apply_upsert(struct lite *l, struct lite_stmts *s,
                        const struct fy_apply_batch *ab, struct fy_change *ch,
                        const struct lite_current *cur,
                        struct fy_apply_stats *st, struct ferry_err *err)
{
    bool blocked = false;
    int rc = 0;

    if (!cur->exists)
        rc = tomb_blocks(l, s, ab, ch, &blocked, err);
    if (rc < 0)
        return rc;
    if (!cur->newer || blocked) {
        st->stale++;
        ch->outcome = FY_ROW_STALE;
        return 0;
    }
    rc = ch->partial ? put_partial(l, ab, ch, err)
                     : put_row(l, s->put, ab, ch, err);
    if (rc < 0)
        return rc;
    ch->outcome = cur->exists ? FY_ROW_UPDATED : FY_ROW_CREATED;
    if (cur->exists)
        st->updated++;
    else
        st->created++;
    return 0;
}

/* Whether any tombstone of the table could block a row. */
static int any_tombs(struct lite *l, struct lite_stmts *s, bool *any,
                     struct ferry_err *err)
{
    int src = sqlite3_step(s->any);

    sqlite3_reset(s->any);
    *any = src == SQLITE_ROW;
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : lite_fail(l, src, "read tombstones", err);
}

/* Binds a full row and its version to ins or upd and runs it. */
static int put_fresh(struct lite *l, sqlite3_stmt *s,
                     const struct fy_apply_batch *ab,
                     const struct fy_change *ch, bool *changed,
                     struct ferry_err *err)
{
    int rc;

    for (size_t i = 0; i < ab->table->ncols; i++)
        bind_val(s, (int)i + 1, &ch->vals[i]);
    bind_version(s, ab->table->ncols, ch, ab->device, l->rev + 1);
    rc = run_stmt(l, s, "upsert", err);
    *changed = rc == 0 && sqlite3_changes(l->db) > 0;
    if (*changed)
        l->rev++;
    return rc;
}

/*
 * The common push: a full row, a table without tombstones, no region to
 * keep to. Nothing can block a row that is not stored yet, so it is
 * inserted without reading first; a stored one is overwritten when older,
 * by the same (hlc, origin) order as read_current. Batches are mostly all
 * new rows or all updates, so the statement that was right for the change
 * before goes first: one statement a row, two when the guess is wrong or
 * the row is stale, against a read, a tombstone check and an upsert.
 */
static bool fresh_ok(const struct fy_apply_batch *ab,
                     const struct fy_change *ch, bool tombs)
{
    return !tombs && !ab->scope_region && !ch->del && !ch->partial &&
           ch->hlc <= (uint64_t)INT64_MAX;
}

static int apply_fresh(struct lite *l, struct lite_stmts *s,
                       const struct fy_apply_batch *ab, struct fy_change *ch,
                       bool upd_first, struct fy_apply_stats *st,
                       struct ferry_err *err)
{
    bool inserted = false, updated = false;
    int rc = 0;

    if (upd_first)
        rc = put_fresh(l, s->upd, ab, ch, &updated, err);
    if (rc == 0 && !updated)
        rc = put_fresh(l, s->ins, ab, ch, &inserted, err);
    if (rc == 0 && !upd_first && !inserted)
        rc = put_fresh(l, s->upd, ab, ch, &updated, err);
    if (rc < 0)
        return rc;
    ch->outcome = inserted  ? FY_ROW_CREATED
                  : updated ? FY_ROW_UPDATED
                            : FY_ROW_STALE;
    if (inserted)
        st->created++;
    else if (updated)
        st->updated++;
    else
        st->stale++;
    return 0;
}

/* Reads the row first: deletes, partial rows, tombstones, regions. */
static int apply_read(struct lite *l, struct lite_stmts *s,
                      const struct fy_apply_batch *ab, struct fy_change *ch,
                      struct fy_apply_stats *stats, struct ferry_err *err)
{
    struct lite_current cur;
    int rc = read_current(l, s, ab, ch, &cur, err);

    if (rc == 0 && cur.exists && cur.other_region)
        rc = fy_err_set(err, FERRY_EFORBIDDEN,
                        "table '%s': a row belongs to another region"
                        " than '%s'",
                        ab->table->name, ab->scope_region);
    if (rc < 0)
        return rc;
    return ch->del ? apply_delete(l, s, ab, ch, &cur, stats, err)
                   : apply_upsert(l, s, ab, ch, &cur, stats, err);
}

static int lite_push_apply(struct fy_store *st, const struct fy_apply_batch *ab,
                           struct fy_apply_stats *stats, struct ferry_err *err)
{
    struct lite *l = st->impl;
    struct lite_stmts *s = NULL;
    bool tombs = true, upd_first = false;
    int rc = stmts_get(l, ab->table, &s, err);

    /* The writer lock is held: only this batch's deletes add tombstones. */
    if (rc == 0)
        rc = any_tombs(l, s, &tombs, err);
    for (size_t i = 0; rc == 0 && i < ab->n; i++) {
        struct fy_change *ch = ab->changes[i];

        if (fresh_ok(ab, ch, tombs))
            rc = apply_fresh(l, s, ab, ch, upd_first, stats, err);
        else
            rc = apply_read(l, s, ab, ch, stats, err);
        tombs = tombs || ch->del;
        upd_first = ch->outcome != FY_ROW_CREATED;
    }
    return rc;
}

/* The device's acknowledged seq and counters (internal.c's statement). */
static int lite_ack(struct fy_store *st, const char *device, int64_t acked,
                    long nchanges, struct ferry_err *err)
{
    struct lite *l = st->impl;
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = 0;

    if (!l->ack) {
        rc = fy_sql_expand(st, fy_sql_device_ack_sql, &b) < 0
                 ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                 : lite_keep(l, b.data, &l->ack, err);
        fy_buf_release(&b);
    }
    if (rc < 0)
        return rc;
    sqlite3_bind_text(l->ack, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(l->ack, 2, acked);
    sqlite3_bind_int64(l->ack, 3, nchanges);
    return run_stmt(l, l->ack, "record acked seq", err);
}

static int lite_push_commit(struct fy_store *st, const char *device,
                            int64_t acked, long nchanges, struct ferry_err *err)
{
    struct lite *l = st->impl;
    int rc = lite_ack(st, device, acked, nchanges, err);

    if (rc == 0)
        rc = lite_keep(l, "UPDATE ferry_meta SET value = ?1 WHERE key = 'rev'",
                       &l->rev_put, err);
    if (rc == 0) {
        sqlite3_bind_int64(l->rev_put, 1, l->rev);
        rc = run_stmt(l, l->rev_put, "record revision", err);
    }
    if (rc == 0)
        rc = lite_keep(l, "COMMIT", &l->commit, err);
    if (rc == 0)
        rc = lite_done(l, l->commit, "commit", err);
    if (rc < 0)
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void lite_push_rollback(struct fy_store *st)
{
    struct lite *l = st->impl;

    if (!sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

static const struct fy_store_apply_ops lite_apply_ops = {
    .begin = lite_push_begin,
    .apply = lite_push_apply,
    .commit = lite_push_commit,
    .rollback = lite_push_rollback,
};

const struct fy_store_ops fy_store_sqlite_ops = {
    .name = "sqlite",
    .caps = 0,
    .sql = &lite_sql_ops,
    .open = lite_open,
    .close = lite_close,
    .ping = lite_ping,
    .migrate = lite_migrate,
    .schema_version = fy_sql_schema_version,
    .keys = &fy_store_sql_key_ops,
    .apply = &lite_apply_ops,
};
