/* SPDX-License-Identifier: MIT */
/*
 * Ferry's own tables in the store, declared once for both backends: API
 * keys' and devices' tables, the recorded contract versions, the contract
 * tables with their tombstone tables, and the ops on them that are plain
 * SQL (schema versions, a device's acknowledged seq). Templates are expanded
 * per engine by the dialect layer (sql.c); the tokens used here are listed in
 * docs/internals/store.md.
 */
#include "store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/value.h"
#include "store/sql.h"
#include "fy.h"

/*
 * Times are timestamptz in PostgreSQL (for people who query them) and unix
 * seconds in SQLite; {epoch:x} and {ts:x} convert at the edges.
 */
static const char *const internal_ddl =
    "{schema}{row_seq}"
    "CREATE TABLE IF NOT EXISTS {s}meta ("
    " key {text} PRIMARY KEY, value {int} NOT NULL);"
    "CREATE TABLE IF NOT EXISTS {s}schema_versions ("
    " version {int} PRIMARY KEY, checksum {text} NOT NULL,"
    " contract {json} NOT NULL, applied_at {time} NOT NULL DEFAULT ({now}));"
    "CREATE TABLE IF NOT EXISTS {s}devices ("
    " device {text} PRIMARY KEY, acked_seq {int} NOT NULL DEFAULT 0,"
    " first_seen {time} NOT NULL DEFAULT ({now}),"
    " last_push_at {time}, pushes {int} NOT NULL DEFAULT 0,"
    " changes {int} NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS {s}api_keys ("
    " id {text} PRIMARY KEY, secret_hash {text} NOT NULL,"
    " device {text} NOT NULL, region {text},"
    " admin {bool} NOT NULL DEFAULT {false},"
    " created_at {time} NOT NULL DEFAULT ({now}), expires_at {time},"
    " revoked_at {time}, last_used_at {time});"
    /*
     * A rotated key's previous secret (store/keys.c), accepted until
     * until_at: a table of its own, so that stores migrated before
     * rotation gain it with the other CREATE IF NOT EXISTS.
     */
    "CREATE TABLE IF NOT EXISTS {s}api_key_previous ("
    " id {text} PRIMARY KEY, secret_hash {text} NOT NULL,"
    " until_at {time} NOT NULL);"
    /*
     * Blobs (store/blob.c): created_at is the start of the current upload
     * in unix ms and doubles as its generation (raised by every start
     * over); updated_at, in unix ms, ages incomplete uploads.
     */
    "CREATE TABLE IF NOT EXISTS {s}blobs ("
    " sha256 {text} PRIMARY KEY, size {int} NOT NULL,"
    " received {int} NOT NULL, complete {bool} NOT NULL DEFAULT {false},"
    " created_at {int} NOT NULL, updated_at {int} NOT NULL);"
    "CREATE TABLE IF NOT EXISTS {s}blob_parts ("
    " sha256 {text} NOT NULL, off {int} NOT NULL, data {bytes} NOT NULL,"
    " PRIMARY KEY (sha256, off));"
    /* The row API's remembered answers (store/rows.c), per API key. */
    "CREATE TABLE IF NOT EXISTS {s}idempotency ("
    " key_id {text} NOT NULL, idem_key {text} NOT NULL,"
    " request_hash {text} NOT NULL, status {int}, answer {text},"
    " created_at {time} NOT NULL DEFAULT ({now}),"
    " PRIMARY KEY (key_id, idem_key));"
    "CREATE INDEX IF NOT EXISTS ferry_idempotency_at ON {s}idempotency"
    " (created_at);"
    /*
     * Tracked runs (store/runs.c): one status row per stream or device,
     * one history row per run. Times in unix ms of the store's clock
     * ({now_ms}), which judges leases for every ferryd alike; the
     * compatibility views (store/compat.c) show them as timestamps.
     * history.token groups a device's requests into one run (unique per
     * device); history.idem is a stream begin's Idempotency-Key. No index
     * holds a column that a run's updates change (pruning goes by the
     * start), and pages keep room ({fill}), so that PostgreSQL updates
     * them in place (HOT): a device's row is updated by every push.
     */
    "CREATE TABLE IF NOT EXISTS {s}sync_status ("
    " kind {text} NOT NULL, name {text} NOT NULL, cursor {text},"
    " status {text} NOT NULL DEFAULT 'pending', last_error {text},"
    " last_success_ms {int}, last_attempt_ms {int},"
    " successes {int} NOT NULL DEFAULT 0, failures {int} NOT NULL DEFAULT 0,"
    " last_records {int}, lease_run {int}, lease_until_ms {int},"
    " lease_instance {text}, created_ms {int} NOT NULL,"
    " updated_ms {int} NOT NULL, PRIMARY KEY (kind, name)){fill:50};"
    "CREATE TABLE IF NOT EXISTS {s}sync_history ("
    " id {serial}, kind {text} NOT NULL, name {text} NOT NULL,"
    " status {text} NOT NULL, op {text}, started_ms {int} NOT NULL,"
    " ended_ms {int}, duration_ms {int}, records {int},"
    " requests {int} NOT NULL DEFAULT 0, error {text}, metadata {text},"
    " instance {text}, server {text}, key_id {text}, cursor {text},"
    " lease_ms {int}, lease_until_ms {int}, token {text}, idem {text})"
    "{fill:80};"
    "CREATE INDEX IF NOT EXISTS ferry_sync_history_run ON {s}sync_history"
    " (kind, name, started_ms, id);"
    "CREATE INDEX IF NOT EXISTS ferry_sync_history_started ON {s}sync_history"
    " (started_ms);"
    "CREATE UNIQUE INDEX IF NOT EXISTS ferry_sync_history_token ON"
    " {s}sync_history (kind, name, token);"
    /*
     * Dashboard log-in sessions (store/dash.c): a SHA-256 of the cookie's
     * token, never the token; times in unix ms of the store's clock.
     */
    "CREATE TABLE IF NOT EXISTS {s}dash_sessions ("
    " token_hash {text} PRIMARY KEY, key_id {text} NOT NULL,"
    " csrf {text} NOT NULL, created_ms {int} NOT NULL,"
    " last_ms {int} NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ferry_dash_sessions_key ON {s}dash_sessions"
    " (key_id);";

static int flag_row(const char *const *cols, int n, void *ud);

/* Tells o's hook each statement of ferry's own tables, one at a time. */
static int report_internal(struct fy_store *st, const struct fy_migrate_opts *o,
                           struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *p, *semi;
    int rc = fy_sql_expand(st, internal_ddl, &b);

    if (rc == 0)
        rc = fy_buf_error(&b);
    /* Ours: no literal holds a ';'. */
    for (p = b.data; rc == 0 && *p; p = semi + 1) {
        semi = strchr(p, ';');
        if (!semi)
            break;
        *semi = '\0';
        o->statement(p, o->ud);
    }
    fy_buf_release(&b);
    return rc < 0 ? fy_err_set(err, rc, "migrate: out of memory") : 0;
}

int fy_sql_internal_ddl(struct fy_store *st, const struct fy_migrate_opts *o,
                        struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = internal_ddl, .what = "migrate"};
    bool exists = false;
    struct fy_sql_q has = {.sql = "SELECT {exists:schema_versions}",
                           .row = flag_row,
                           .ud = &exists,
                           .what = "read schema version"};
    int rc = o && o->statement ? fy_sql_run(st, &has, err) : 0;

    /* Upkeep of a migrated store is no news: its tables are there. */
    if (rc == 0 && o && o->statement && !exists)
        rc = report_internal(st, o, err);
    return rc == 0 ? fy_sql_run(st, &q, err) : rc;
}

/* ---- contract tables ------------------------------------------------- */

/*
 * One migrate: the store, its options and the statement being built,
 * already expanded for the engine (see add_default). Statements that
 * change the store are told to o->statement as they run.
 */
struct plan {
    struct fy_store *st;
    const struct fy_migrate_opts *o;
    struct fy_buf tpl; /* a template, expanded into sql by plan_expand */
    struct fy_buf sql;
    struct ferry_err *err;
};

static int plan_expand(struct plan *p)
{
    int rc = fy_buf_error(&p->tpl);

    if (rc == 0)
        rc = fy_sql_expand(p->st, p->tpl.data, &p->sql);
    fy_buf_reset(&p->tpl);
    return rc < 0 ? fy_err_set(p->err, rc, "migrate: cannot build a statement")
                  : 0;
}

/* Runs p->sql (with what is left in p->tpl expanded first). */
static int plan_run(struct plan *p, bool report, const char *what)
{
    struct fy_sql_q q = {.what = what};
    int rc = p->tpl.len ? plan_expand(p) : 0;

    if (rc == 0)
        rc = fy_buf_error(&p->sql);
    if (rc < 0)
        return fy_err_set(p->err, rc, "%s: cannot build the statement", what);
    if (report && p->o && p->o->statement)
        p->o->statement(p->sql.data, p->o->ud);
    rc = p->sql.len ? p->st->ops->sql->run(p->st, p->sql.data, &q, p->err) : 0;
    fy_buf_reset(&p->sql);
    return rc;
}

static bool is_pg(const struct fy_store *st)
{
    return st->ops->sql->dialect->placeholder == '$';
}

static void add_hex(struct fy_buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fy_buf_addf(b, "%02x", s[i]);
}

static void add_quoted(struct fy_buf *b, const char *s, size_t n)
{
    fy_buf_addc(b, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            fy_buf_addc(b, '\'');
        fy_buf_addc(b, s[i]);
    }
    fy_buf_addc(b, '\'');
}

/*
 * " DEFAULT <literal>" for a column with a contract default, written into
 * the SQL text: DDL takes no bound parameters. The value is the one a push
 * of the default would store, checked when the contract was read.
 */
static int add_default(struct plan *p, const struct fy_column *col)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    struct fy_buf *b = &p->sql;
    bool pg = is_pg(p->st);
    struct fy_val v;
    char why[200];
    int rc;

    if (!col->def)
        return 0;
    rc = fy_val_from_json(col, col->def, &a, &v, why, sizeof(why));
    if (rc < 0) {
        /* Checked when the contract was read: only memory fails here. */
        rc = fy_err_set(p->err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    fy_buf_adds(b, " DEFAULT ");
    switch (v.kind) {
    case FY_V_INT:
        fy_buf_addf(b, "%lld", (long long)v.i);
        break;
    case FY_V_REAL:
        fy_buf_addf(b, "%.17g", v.d);
        break;
    case FY_V_BOOL:
        fy_buf_adds(b, pg ? (v.i ? "true" : "false") : (v.i ? "1" : "0"));
        break;
    case FY_V_BLOB:
        fy_buf_adds(b, pg ? "'\\x" : "X'");
        add_hex(b, (const unsigned char *)v.s, v.len);
        fy_buf_adds(b, pg ? "'::bytea" : "'");
        break;
    case FY_V_TEXT:
        add_quoted(b, v.s, v.len);
        if (pg)
            fy_buf_addf(b, "::%s", fy_type_name(col->type));
        break;
    default:
        fy_buf_adds(b, "NULL");
        break;
    }
out:
    fy_arena_reset(&a);
    return rc;
}

/*
 * A contract table and its tombstone table. Beside the contract's columns
 * each has ferry's hidden ones: the change's HLC and origin device, and the
 * version pull will follow ({version}: PostgreSQL's transaction id, SQLite's
 * revision counter). Tombstones keep deletes in the last-writer-wins order
 * and carry the region of the key that deleted (NULL: all regions).
 */
static void hidden_defs(struct fy_buf *b)
{
    fy_buf_adds(b, "_ferry_hlc {int} NOT NULL, _ferry_origin {origin} NOT NULL,"
                   " {version} {version_def}, {seq_def}");
}

static int create_tomb(struct plan *p, const struct fy_table *t)
{
    const struct fy_sql_dialect *d = p->st->ops->sql->dialect;
    struct fy_buf *b = &p->tpl;

    fy_buf_addf(b, "CREATE TABLE IF NOT EXISTS {tomb:%s} (", t->name);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
        fy_buf_addf(b, " %s NOT NULL, ", d->type(t->cols[t->pk[i]].type));
    }
    hidden_defs(b);
    fy_buf_adds(b, "_ferry_region {text}, PRIMARY KEY (");
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, "))");
    return plan_run(p, true, "migrate");
}

static int create_ddl(struct plan *p, const struct fy_table *t)
{
    const struct fy_sql_dialect *d = p->st->ops->sql->dialect;
    struct fy_buf *b = &p->tpl;
    int rc = 0;

    fy_buf_adds(b, "CREATE TABLE IF NOT EXISTS ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " (");
    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_addf(b, " %s%s", d->type(t->cols[i].type),
                    t->cols[i].not_null ? " NOT NULL" : "");
        rc = plan_expand(p);
        if (rc == 0)
            rc = add_default(p, &t->cols[i]);
        fy_buf_adds(b, ", ");
    }
    hidden_defs(b);
    fy_buf_adds(b, "PRIMARY KEY (");
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, "))");
    if (rc == 0)
        rc = plan_run(p, true, "migrate");
    return rc == 0 ? create_tomb(p, t) : rc;
}

static int found_row(const char *const *cols, int n, void *ud)
{
    (void)cols;
    (void)n;
    *(bool *)ud = true;
    return 0;
}

static int table_exists(struct fy_store *st, const struct fy_table *t,
                        bool *exists, struct ferry_err *err)
{
    char sql[128];
    struct fy_sql_q q = {
        .sql = sql, .row = found_row, .ud = exists, .what = "read tables"};

    *exists = false;
    snprintf(sql, sizeof(sql), "{table_exists:%s}", t->name);
    return fy_sql_run(st, &q, err);
}

/*
 * Does the table (or its tombstone table) lack col? SQLite asks
 * pragma_table_info, PostgreSQL pg_attribute; an engine with an empty
 * probe word would say every column is lacking (its {add_column} must
 * then say IF NOT EXISTS).
 */
static int lacks_column(struct fy_store *st, const struct fy_table *t,
                        bool tomb, const char *col, bool *lacks,
                        struct ferry_err *err)
{
    const char *probe = tomb ? "has_tomb_column" : "has_column";
    const struct fy_sql_arg args[] = {FY_SQL_S(col)};
    char sql[128];
    bool found = false;
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = found_row,
                         .ud = &found,
                         .what = "read columns"};
    int rc;

    *lacks = true;
    if (!*fy_sql_word(st, probe))
        return 0;
    snprintf(sql, sizeof(sql), "{%s:%s}", probe, t->name);
    rc = fy_sql_run(st, &q, err);
    *lacks = !found;
    return rc;
}

/*
 * ALTER TABLE ... ADD COLUMN col def; unless the table has col. Ferry's
 * hidden columns are upkeep (report false); a contract's column is news.
 */
static int add_column(struct plan *p, const struct fy_table *t, bool tomb,
                      const char *col, const struct fy_column *cc,
                      const char *def, bool report)
{
    struct fy_buf *b = &p->tpl;
    bool lacks;
    int rc = lacks_column(p->st, t, tomb, col, &lacks, p->err);

    if (rc < 0 || !lacks)
        return rc;
    fy_buf_adds(b, "ALTER TABLE ");
    if (tomb)
        fy_buf_addf(b, "{tomb:%s}", t->name);
    else
        fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " {add_column} ");
    if (cc)
        fy_buf_add_ident(b, col);
    else
        fy_buf_adds(b, col);
    fy_buf_addf(b, " %s", def);
    /*
     * NOT NULL only with a default: the rows already there get it. Without
     * one the column stays nullable in the store (ferryd still refuses
     * null for it).
     */
    if (cc && cc->def && cc->not_null)
        fy_buf_adds(b, " NOT NULL");
    rc = plan_expand(p);
    if (rc == 0 && cc)
        rc = add_default(p, cc);
    return rc < 0 ? rc : plan_run(p, report, "add columns");
}

static int add_columns(struct plan *p, const struct fy_table *t)
{
    struct fy_store *st = p->st;
    const struct fy_sql_dialect *d = st->ops->sql->dialect;
    /* Adopted tables: their rows count as older than any pushed change. */
    int rc = add_column(p, t, false, "_ferry_hlc", NULL,
                        "{int} NOT NULL DEFAULT 0", false);

    if (rc == 0)
        rc = add_column(p, t, false, "_ferry_origin", NULL,
                        "{origin} NOT NULL DEFAULT ''", false);
    if (rc == 0)
        rc = add_column(p, t, false, fy_sql_word(st, "version"), NULL,
                        "{version_def}", false);
    /* Stores migrated before pull: PostgreSQL numbers existing rows. */
    if (rc == 0 && *fy_sql_word(st, "seq_col")) {
        rc =
            add_column(p, t, false, "_ferry_seq", NULL, "{seq_col_def}", false);
        if (rc == 0)
            rc = add_column(p, t, true, "_ferry_seq", NULL, "{seq_col_def}",
                            false);
    }
    /* Stores migrated before tombstones had a region: theirs stay unscoped. */
    if (rc == 0)
        rc = add_column(p, t, true, "_ferry_region", NULL, "{text}", false);
    /* Columns added to the contract later. */
    for (size_t i = 0; rc == 0 && i < t->ncols; i++)
        rc = add_column(p, t, false, t->cols[i].name, &t->cols[i],
                        d->type(t->cols[i].type), true);
    return rc;
}

/* The index pull reads rows and tombstones in order by (read.c). */
static int index_ddl(struct plan *p, const struct fy_table *t, bool report)
{
    struct fy_buf *b = &p->tpl;
    int rc;

    fy_buf_addf(b, "CREATE INDEX IF NOT EXISTS {vidx:%s} ON ", t->name);
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " ({ver_order})");
    rc = plan_run(p, report, "create indexes");
    fy_buf_addf(b,
                "CREATE INDEX IF NOT EXISTS {tvidx:%s} ON {tomb:%s}"
                " ({ver_order})",
                t->name, t->name);
    return rc == 0 ? plan_run(p, report, "create indexes") : rc;
}

/* --allow-drop: the recorded contract's columns that c lacks. */
static int drop_columns(struct plan *p, const struct fy_table *o,
                        const struct fy_table *t)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < o->ncols; i++) {
        const char *name = o->cols[i].name;
        bool lacks;

        if (fy_table_column(t, name) >= 0)
            continue;
        rc = lacks_column(p->st, t, false, name, &lacks, p->err);
        if (rc < 0 || lacks)
            continue;
        fy_buf_adds(&p->tpl, "ALTER TABLE ");
        fy_buf_add_ident(&p->tpl, t->name);
        fy_buf_adds(&p->tpl, " {drop_column} ");
        fy_buf_add_ident(&p->tpl, name);
        rc = plan_run(p, true, "drop column");
    }
    return rc;
}

/* How the SQLite store keeps a value: its storage class for a type. */
static const char *storage(enum fy_type t)
{
    return fy_sql_sqlite_type(t);
}

struct check_vals {
    const struct fy_column *col;
    struct fy_arena a;
    long bad;
    char first[256];
};

/*
 * A stored value's text as the wire value of the new type, strictly: a
 * number only when the whole text is one (fy_val_store_json trusts the
 * store's own columns and reads "12abc" as 12). What is not a number
 * stays a string, which the number types refuse.
 */
static json_t *stored_json(const struct fy_column *c, const char *text)
{
    char *end = NULL;
    long long i;
    double d;

    switch (c->type) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
    case FY_T_BOOLEAN:
        errno = 0;
        i = strtoll(text, &end, 10);
        return end == text || *end || errno ? json_string(text)
                                            : json_integer(i);
    case FY_T_DOUBLE:
        d = strtod(text, &end);
        return end == text || *end ? json_string(text) : json_real(d);
    default:
        return fy_val_store_json(c, text);
    }
}

/* A stored value must be one a push of the new type could have stored. */
static int check_val(const char *const *cols, int n, void *ud)
{
    struct check_vals *cv = ud;
    json_t *j;
    struct fy_val v;
    char why[200];

    (void)n;
    j = stored_json(cv->col, cols[0]);
    if (!j)
        return FERRY_ENOMEM;
    if (fy_val_from_json(cv->col, j, &cv->a, &v, why, sizeof(why)) < 0 &&
        cv->bad++ == 0)
        snprintf(cv->first, sizeof(cv->first), "'%.40s': %s", cols[0], why);
    json_decref(j);
    fy_arena_reset(&cv->a);
    return 0;
}

/*
 * Every stored value of c must be one a push of the new type could have
 * stored (read as the store prints it, as pull reads it).
 */
static int check_values(struct plan *p, const struct fy_table *t,
                        const struct fy_column *c)
{
    struct check_vals cv = {.col = c, .a = FY_ARENA_INIT(0)};
    struct fy_sql_q q = {.row = check_val, .ud = &cv, .what = "check values"};
    int rc;

    fy_buf_adds(&p->tpl, "SELECT ");
    fy_buf_add_ident(&p->tpl, c->name);
    fy_buf_adds(&p->tpl, " FROM ");
    fy_buf_add_ident(&p->tpl, t->name);
    fy_buf_adds(&p->tpl, " WHERE ");
    fy_buf_add_ident(&p->tpl, c->name);
    fy_buf_adds(&p->tpl, " IS NOT NULL");
    rc = plan_expand(p);
    q.sql = p->sql.data;
    if (rc == 0)
        rc = p->st->ops->sql->run(p->st, p->sql.data, &q, p->err);
    fy_buf_reset(&p->sql);
    fy_arena_reset(&cv.a);
    if (rc == 0 && cv.bad)
        rc = fy_err_set(p->err, FERRY_ESCHEMA,
                        "table '%s': column '%s': %ld stored values do not"
                        " convert to %s (the first, %s); nothing was"
                        " migrated",
                        t->name, c->name, cv.bad, fy_type_name(c->type),
                        cv.first);
    return rc;
}

/*
 * SQLite alters no column in place: a new column of c's type (nullable,
 * with c's default), the values copied into it (CAST when cast), the old
 * one dropped, the new one renamed.
 */
static int rebuild_sqlite(struct plan *p, const struct fy_table *t,
                          const struct fy_column *c, bool cast,
                          const char *what)
{
    static const char tmp[] = "_ferry_retype";
    const char *to = storage(c->type);
    int rc;

    fy_buf_adds(&p->tpl, "ALTER TABLE ");
    fy_buf_add_ident(&p->tpl, t->name);
    fy_buf_addf(&p->tpl, " ADD COLUMN %s %s", tmp, to);
    rc = plan_expand(p);
    if (rc == 0)
        rc = add_default(p, c);
    if (rc == 0)
        rc = plan_run(p, true, what);
    if (rc == 0) {
        fy_buf_adds(&p->tpl, "UPDATE ");
        fy_buf_add_ident(&p->tpl, t->name);
        fy_buf_addf(&p->tpl, " SET %s = %s", tmp, cast ? "CAST(" : "");
        fy_buf_add_ident(&p->tpl, c->name);
        if (cast)
            fy_buf_addf(&p->tpl, " AS %s)", to);
        rc = plan_run(p, true, what);
    }
    if (rc == 0) {
        fy_buf_adds(&p->tpl, "ALTER TABLE ");
        fy_buf_add_ident(&p->tpl, t->name);
        fy_buf_adds(&p->tpl, " DROP COLUMN ");
        fy_buf_add_ident(&p->tpl, c->name);
        rc = plan_run(p, true, what);
    }
    if (rc == 0) {
        fy_buf_adds(&p->tpl, "ALTER TABLE ");
        fy_buf_add_ident(&p->tpl, t->name);
        fy_buf_addf(&p->tpl, " RENAME COLUMN %s TO ", tmp);
        fy_buf_add_ident(&p->tpl, c->name);
        rc = plan_run(p, true, what);
    }
    return rc;
}

/*
 * SQLite keeps each value in a storage class, and a declared type only
 * chooses which one a write gets; it cannot be altered in place. The
 * stored values are checked against the new type as pushed values are.
 * Within one class (bigint, integer, boolean; text, timestamptz, date,
 * jsonb) nothing else changes. Across the classes of numbers and text the
 * column is rebuilt: a new column of the new type, the values CAST into
 * it, the old one dropped, the new one renamed. boolean and bytea values
 * are not spelled alike as text and as themselves (t, hex digits), so a
 * retype across classes to or from them is refused.
 */
static int retype_sqlite(struct plan *p, const struct fy_table *t,
                         const struct fy_column *oc, const struct fy_column *c)
{
    const char *to = storage(c->type);
    bool same = strcmp(storage(oc->type), to) == 0;
    int rc;

    if (!same && (oc->type == FY_T_BOOLEAN || oc->type == FY_T_BYTEA ||
                  c->type == FY_T_BOOLEAN || c->type == FY_T_BYTEA))
        return fy_err_set(p->err, FERRY_ESCHEMA,
                          "table '%s': column '%s': the SQLite store cannot"
                          " convert %s values to %s (%s to %s): add a new"
                          " column instead; nothing was migrated",
                          t->name, c->name, fy_type_name(oc->type),
                          fy_type_name(c->type), storage(oc->type), to);
    rc = check_values(p, t, c);
    if (rc < 0 || same)
        return rc;
    return rebuild_sqlite(p, t, c, true, "retype column");
}

/*
 * PostgreSQL converts with its own cast; a value it cannot convert fails
 * the statement, and with it the whole migrate.
 */
static int retype_pg(struct plan *p, const struct fy_table *t,
                     const struct fy_column *oc, const struct fy_column *c)
{
    const char *ty = fy_type_name(c->type);
    int rc;

    fy_buf_adds(&p->tpl, "ALTER TABLE ");
    fy_buf_add_ident(&p->tpl, t->name);
    fy_buf_adds(&p->tpl, " ALTER COLUMN ");
    fy_buf_add_ident(&p->tpl, c->name);
    fy_buf_addf(&p->tpl, " TYPE %s USING ", ty);
    fy_buf_add_ident(&p->tpl, c->name);
    fy_buf_addf(&p->tpl, "::%s", ty);
    rc = plan_run(p, true, "retype column");
    if (rc < 0 && rc != FERRY_ENOMEM && !ferry_err_is_transient(rc)) {
        char msg[sizeof(p->err->msg)];

        snprintf(msg, sizeof(msg), "%s", p->err->msg);
        rc = fy_err_set(p->err, FERRY_ESCHEMA,
                        "table '%s': column '%s': cannot convert its values"
                        " from %s to %s (%s); nothing was migrated",
                        t->name, c->name, fy_type_name(oc->type), ty, msg);
    }
    return rc;
}

/* --allow-retype: columns whose type changed (never key columns). */
static int retype_columns(struct plan *p, const struct fy_table *o,
                          const struct fy_table *t)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        int oi = fy_table_column(o, t->cols[i].name);

        if (oi < 0 || o->cols[oi].type == t->cols[i].type)
            continue;
        rc = is_pg(p->st) ? retype_pg(p, t, &o->cols[oi], &t->cols[i])
                          : retype_sqlite(p, t, &o->cols[oi], &t->cols[i]);
    }
    return rc;
}

/*
 * A column the new contract lets be null loses its NOT NULL in the store:
 * kept, the store would refuse the nulls ferryd now accepts, and every
 * such row would be parked. (A column made not_null is not altered: ferryd
 * refuses nulls in it from now on, and the rows stored keep theirs.)
 */
static int relax_columns(struct plan *p, const struct fy_table *o,
                         const struct fy_table *t)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        int oi = fy_table_column(o, t->cols[i].name);

        if (oi < 0 || !o->cols[oi].not_null || t->cols[i].not_null)
            continue;
        if (!is_pg(p->st)) {
            rc = rebuild_sqlite(p, t, &t->cols[i], false, "drop not null");
            continue;
        }
        fy_buf_adds(&p->tpl, "ALTER TABLE ");
        fy_buf_add_ident(&p->tpl, t->name);
        fy_buf_adds(&p->tpl, " ALTER COLUMN ");
        fy_buf_add_ident(&p->tpl, t->cols[i].name);
        fy_buf_adds(&p->tpl, " DROP NOT NULL");
        rc = plan_run(p, true, "drop not null");
    }
    return rc;
}

/*
 * ferry's upserts are ON CONFLICT on the key: a table that exists without a
 * primary key or unique index on exactly those columns (one adopted from
 * before ferry) would fail every upsert with a 500 that blocks the device.
 */
static int check_key_unique(struct plan *p, const struct fy_table *t)
{
    struct fy_buf keys = FY_BUF_INIT(0), names = FY_BUF_INIT(0);
    char sql[128];
    bool found = false;
    int rc;

    fy_buf_adds(&keys, "[");
    for (size_t i = 0; i < t->npk; i++) {
        const char *name = t->cols[t->pk[i]].name;

        fy_buf_addf(&keys, "%s\"%s\"", i ? "," : "", name);
        fy_buf_addf(&names, "%s%s", i ? ", " : "", name);
    }
    fy_buf_adds(&keys, "]");
    if (fy_buf_error(&keys) || fy_buf_error(&names)) {
        rc = fy_err_set(p->err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    {
        const struct fy_sql_arg args[] = {FY_SQL_S(keys.data),
                                          FY_SQL_I((int64_t)t->npk)};
        struct fy_sql_q q = {.sql = sql,
                             .args = args,
                             .nargs = FY_ARRAY_LEN(args),
                             .row = found_row,
                             .ud = &found,
                             .what = "read the table's keys"};

        snprintf(sql, sizeof(sql), "{key_unique:%s}", t->name);
        rc = fy_sql_run(p->st, &q, p->err);
    }
    if (rc == 0 && !found)
        rc = fy_err_set(p->err, FERRY_ESCHEMA,
                        "table '%s' exists in the store without a primary"
                        " key or unique index on exactly (%s), which ferry's"
                        " upserts need: add one, then run migrate again;"
                        " nothing was migrated",
                        t->name, names.data);
out:
    fy_buf_release(&keys);
    fy_buf_release(&names);
    return rc;
}

/* A table adopted from before ferry has no tombstone table yet. */
static int adopt_tomb(struct plan *p, const struct fy_table *t)
{
    bool lacks;
    int rc = lacks_column(p->st, t, true, "_ferry_hlc", &lacks, p->err);

    return rc == 0 && lacks ? create_tomb(p, t) : rc;
}

static int migrate_table(struct plan *p, const struct fy_contract *old,
                         const struct fy_table *t)
{
    const struct fy_table *o = old ? fy_contract_table(old, t->name) : NULL;
    bool exists = false;
    int rc = table_exists(p->st, t, &exists, p->err);

    if (rc == 0 && !exists)
        rc = create_ddl(p, t);
    else if (rc == 0)
        rc = check_key_unique(p, t);
    if (rc == 0 && exists)
        rc = adopt_tomb(p, t);
    /* Now the table exists: probe and add what is missing. */
    if (rc == 0)
        rc = add_columns(p, t);
    if (rc == 0 && o && p->o && p->o->allow_drop)
        rc = drop_columns(p, o, t);
    if (rc == 0 && o && p->o && p->o->allow_retype)
        rc = retype_columns(p, o, t);
    if (rc == 0 && o)
        rc = relax_columns(p, o, t);
    if (rc == 0)
        rc = index_ddl(p, t, !exists);
    return rc;
}

struct drift {
    const struct fy_contract *c;
    const struct fy_migrate_opts *o;
    struct fy_contract *latest; /* the last recorded contract read */
    struct ferry_err *err;
};

static int drift_row(const char *const *cols, int n, void *ud)
{
    struct drift *d = ud;

    (void)n;
    return fy_sql_drift_error(cols[0] ? cols[0] : "", d->c, d->o, &d->latest,
                              d->err);
}

/*
 * The recorded contracts of c's version and of the newest: what migrate
 * may change from, and the newest (d->latest) for dropping and retyping.
 */
static int check_drift(struct fy_store *st, struct drift *d,
                       struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(d->c->version)};
    struct fy_sql_q q = {
        .sql = "SELECT contract FROM {s}schema_versions WHERE version = $1"
               " OR version = (SELECT max(version) FROM {s}schema_versions)"
               " ORDER BY version",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = drift_row,
        .ud = d,
        .what = "read recorded contract",
    };

    return fy_sql_run(st, &q, err);
}

int fy_sql_contract_ddl(struct fy_store *st, const struct fy_contract *c,
                        const struct fy_migrate_opts *o, struct ferry_err *err)
{
    struct plan p = {.st = st,
                     .o = o,
                     .tpl = FY_BUF_INIT(0),
                     .sql = FY_BUF_INIT(0),
                     .err = err};
    struct drift d = {.c = c, .o = o, .err = err};
    int rc = check_drift(st, &d, err);

    for (size_t i = 0; rc == 0 && i < c->ntables; i++)
        rc = migrate_table(&p, d.latest, &c->tables[i]);
    fy_contract_free(d.latest);
    fy_buf_release(&p.tpl);
    fy_buf_release(&p.sql);
    return rc;
}

int fy_sql_record_version(struct fy_store *st, const struct fy_contract *c,
                          struct ferry_err *err)
{
    json_t *j = fy_contract_to_json(c);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc;

    json_decref(j);
    if (!text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    {
        const struct fy_sql_arg args[] = {
            FY_SQL_I(c->version), FY_SQL_S(c->checksum), FY_SQL_S(text)};
        struct fy_sql_q q = {
            .sql = "INSERT INTO {s}schema_versions AS v (version, checksum,"
                   " contract, applied_at) VALUES ($1, $2, $3, {now})"
                   " ON CONFLICT (version) DO UPDATE SET checksum ="
                   " excluded.checksum, contract = excluded.contract,"
                   " applied_at = excluded.applied_at"
                   " WHERE v.checksum <> excluded.checksum",
            .args = args,
            .nargs = FY_ARRAY_LEN(args),
            .what = "record schema version",
        };

        rc = fy_sql_run(st, &q, err);
    }
    free(text); /* jansson's allocation */
    return rc;
}

static int flag_row(const char *const *cols, int n, void *ud)
{
    (void)n;
    *(bool *)ud = fy_sql_bool(cols[0]);
    return 0;
}

struct version_out {
    long *version;
    char *checksum;
};

static int version_row(const char *const *cols, int n, void *ud)
{
    struct version_out *o = ud;

    (void)n;
    *o->version = strtol(cols[0], NULL, 10);
    snprintf(o->checksum, 65, "%s", cols[1] ? cols[1] : "");
    return 0;
}

int fy_sql_schema_version(struct fy_store *st, long *version, char checksum[65],
                          struct ferry_err *err)
{
    bool exists = false;
    struct version_out o = {version, checksum};
    struct fy_sql_q has = {.sql = "SELECT {exists:schema_versions}",
                           .row = flag_row,
                           .ud = &exists,
                           .what = "read schema version"};
    struct fy_sql_q q = {
        .sql = "SELECT version, checksum FROM {s}schema_versions"
               " ORDER BY version DESC LIMIT 1",
        .row = version_row,
        .ud = &o,
        .what = "read schema version",
    };
    int rc;

    *version = 0;
    checksum[0] = '\0';
    rc = fy_sql_run(st, &has, err);
    if (rc < 0 || !exists)
        return rc; /* no table yet: not migrated */
    return fy_sql_run(st, &q, err);
}

const char fy_sql_device_ack_sql[] =
    "UPDATE {s}devices SET acked_seq = {max}(acked_seq, $2),"
    " last_push_at = {now}, pushes = pushes + 1,"
    " changes = changes + $3 WHERE device = $1";

int fy_sql_device_ack(struct fy_store *st, const char *device, int64_t acked,
                      long nchanges, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(device), FY_SQL_I(acked),
                                      FY_SQL_I(nchanges)};
    struct fy_sql_q q = {
        .sql = fy_sql_device_ack_sql,
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "record acked seq",
    };

    return fy_sql_run(st, &q, err);
}
