/* SPDX-License-Identifier: MIT */
/*
 * Ferry's own tables in the store, declared once for both backends: API
 * keys' and devices' tables, the recorded contract versions, and the ops
 * on them that are plain SQL (schema versions, a device's acknowledged
 * seq). Templates are expanded per engine by the dialect layer (sql.c);
 * the tokens used here are listed in docs/internals/store.md.
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
    "{schema}"
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
    " revoked_at {time}, last_used_at {time});";

int fy_sql_internal_ddl(struct fy_store *st, struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = internal_ddl, .what = "migrate"};

    return fy_sql_run(st, &q, err);
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
