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

#include <stdio.h>
#include <stdlib.h>

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
    " {s}sync_history (kind, name, token);";

int fy_sql_internal_ddl(struct fy_store *st, struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = internal_ddl, .what = "migrate"};

    return fy_sql_run(st, &q, err);
}

/* ---- contract tables ------------------------------------------------- */

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

static void create_ddl(struct fy_store *st, struct fy_buf *b,
                       const struct fy_table *t)
{
    const struct fy_sql_dialect *d = st->ops->sql->dialect;

    fy_buf_adds(b, "CREATE TABLE IF NOT EXISTS ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " (");
    for (size_t i = 0; i < t->ncols; i++) {
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_addf(b, " %s%s, ", d->type(t->cols[i].type),
                    t->cols[i].not_null ? " NOT NULL" : "");
    }
    hidden_defs(b);
    fy_buf_adds(b, "PRIMARY KEY (");
    fy_sql_pk_cols(b, t);
    fy_buf_addf(b, "));CREATE TABLE IF NOT EXISTS {tomb:%s} (", t->name);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
        fy_buf_addf(b, " %s NOT NULL, ", d->type(t->cols[t->pk[i]].type));
    }
    hidden_defs(b);
    fy_buf_adds(b, "_ferry_region {text}, PRIMARY KEY (");
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, "));");
}

static int found_row(const char *const *cols, int n, void *ud)
{
    (void)cols;
    (void)n;
    *(bool *)ud = true;
    return 0;
}

/*
 * Does the table (or its tombstone table) lack col? PostgreSQL's
 * {add_column} says IF NOT EXISTS and needs no probe ({has_column} is
 * empty); SQLite asks pragma_table_info.
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

/* ALTER TABLE ... ADD COLUMN col def; unless the table has col. */
static int add_column(struct fy_store *st, struct fy_buf *b,
                      const struct fy_table *t, bool tomb, const char *col,
                      bool quote, const char *def, struct ferry_err *err)
{
    bool lacks;
    int rc = lacks_column(st, t, tomb, col, &lacks, err);

    if (rc < 0 || !lacks)
        return rc;
    fy_buf_adds(b, "ALTER TABLE ");
    if (tomb)
        fy_buf_addf(b, "{tomb:%s}", t->name);
    else
        fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " {add_column} ");
    if (quote)
        fy_buf_add_ident(b, col);
    else
        fy_buf_adds(b, col);
    fy_buf_addf(b, " %s;", def);
    return 0;
}

static int add_columns(struct fy_store *st, struct fy_buf *b,
                       const struct fy_table *t, struct ferry_err *err)
{
    const struct fy_sql_dialect *d = st->ops->sql->dialect;
    /* Adopted tables: their rows count as older than any pushed change. */
    int rc = add_column(st, b, t, false, "_ferry_hlc", false,
                        "{int} NOT NULL DEFAULT 0", err);

    if (rc == 0)
        rc = add_column(st, b, t, false, "_ferry_origin", false,
                        "{origin} NOT NULL DEFAULT ''", err);
    if (rc == 0)
        rc = add_column(st, b, t, false, fy_sql_word(st, "version"), false,
                        "{version_def}", err);
    /* Stores migrated before pull: PostgreSQL numbers existing rows. */
    if (rc == 0 && *fy_sql_word(st, "seq_col")) {
        rc = add_column(st, b, t, false, "_ferry_seq", false, "{seq_col_def}",
                        err);
        if (rc == 0)
            rc = add_column(st, b, t, true, "_ferry_seq", false,
                            "{seq_col_def}", err);
    }
    /* Stores migrated before tombstones had a region: theirs stay unscoped. */
    if (rc == 0)
        rc = add_column(st, b, t, true, "_ferry_region", false, "{text}", err);
    /* Columns added to the contract later. */
    for (size_t i = 0; rc == 0 && i < t->ncols; i++)
        rc = add_column(st, b, t, false, t->cols[i].name, true,
                        d->type(t->cols[i].type), err);
    return rc;
}

static int run_buf(struct fy_store *st, struct fy_buf *b, const char *what,
                   struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = b->data, .what = what};

    if (fy_buf_error(b))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return b->len ? fy_sql_run(st, &q, err) : 0;
}

/* The index pull reads rows and tombstones in order by (read.c). */
static void index_ddl(struct fy_buf *b, const struct fy_table *t)
{
    fy_buf_addf(b, "CREATE INDEX IF NOT EXISTS {vidx:%s} ON ", t->name);
    fy_buf_add_ident(b, t->name);
    fy_buf_addf(b,
                " ({ver_order});CREATE INDEX IF NOT EXISTS {tvidx:%s} ON"
                " {tomb:%s} ({ver_order});",
                t->name, t->name);
}

int fy_sql_contract_ddl(struct fy_store *st, const struct fy_contract *c,
                        struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc;

    for (size_t i = 0; i < c->ntables; i++)
        create_ddl(st, &b, &c->tables[i]);
    rc = run_buf(st, &b, "migrate", err);
    /* Now every table exists: probe and add what is missing. */
    fy_buf_reset(&b);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++)
        rc = add_columns(st, &b, &c->tables[i], err);
    if (rc == 0)
        rc = run_buf(st, &b, "add columns", err);
    fy_buf_reset(&b);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++)
        index_ddl(&b, &c->tables[i]);
    if (rc == 0)
        rc = run_buf(st, &b, "create indexes", err);
    fy_buf_release(&b);
    return rc;
}

struct drift {
    const struct fy_contract *c;
    struct ferry_err *err;
};

static int drift_row(const char *const *cols, int n, void *ud)
{
    struct drift *d = ud;

    (void)n;
    return fy_sql_drift_error(cols[0] ? cols[0] : "", d->c, d->err);
}

int fy_sql_check_drift(struct fy_store *st, const struct fy_contract *c,
                       struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(c->version)};
    struct drift d = {c, err};
    struct fy_sql_q q = {
        .sql = "SELECT contract FROM {s}schema_versions WHERE version = $1"
               " OR version = (SELECT max(version) FROM {s}schema_versions)"
               " ORDER BY version",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = drift_row,
        .ud = &d,
        .what = "read recorded contract",
    };

    return fy_sql_run(st, &q, err);
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

int fy_sql_device_ack(struct fy_store *st, const char *device, int64_t acked,
                      long nchanges, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(device), FY_SQL_I(acked),
                                      FY_SQL_I(nchanges)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}devices SET acked_seq = {max}(acked_seq, $2),"
               " last_push_at = {now}, pushes = pushes + 1,"
               " changes = changes + $3 WHERE device = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "record acked seq",
    };

    return fy_sql_run(st, &q, err);
}
