/* SPDX-License-Identifier: MIT */
/*
 * The blobs family: content-addressed files kept in the store in parts of
 * at most FY_BLOB_PART bytes (store.h, docs/blobs.md). Written once for
 * both engines over the statement runner; parts travel as hex text
 * ({unhex} on the way in, {hex} on the way out) since the runner's values
 * are text. Every write takes the upload's row first (PostgreSQL FOR
 * UPDATE; SQLite's writer lock holds everything), so the bytes held always
 * equal the sum of the parts, whatever runs at once.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy.h"

static int64_t num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static int read_info(const char *const *cols, int n, void *ud)
{
    struct fy_blob_info *info = ud;

    if (n != 4)
        return FERRY_ESTORE;
    info->size = num(cols[0]);
    info->received = num(cols[1]);
    info->complete = fy_sql_bool(cols[2]);
    info->gen = num(cols[3]);
    return 1; /* one row: found */
}

/* The upload's row, locked in a write transaction; 1 found, 0 none. */
static int get_row(struct fy_store *st, const char *sha256, bool lock,
                   struct fy_blob_info *info, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(sha256)};
    struct fy_sql_q q = {
        .sql = lock ? "SELECT size, received, complete, created_at"
                      " FROM {s}blobs WHERE sha256 = $1{lock}"
                    : "SELECT size, received, complete, created_at"
                      " FROM {s}blobs WHERE sha256 = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = read_info,
        .ud = info,
        .what = "read blob"};

    *info = (struct fy_blob_info){0};
    return fy_sql_run(st, &q, err);
}

int fy_store_blob_get(struct fy_store *st, const char *sha256,
                      struct fy_blob_info *info, struct ferry_err *err)
{
    int rc = get_row(st, sha256, false, info, err);

    if (rc == 0)
        return fy_err_set(err, FERRY_ENOTFOUND, "no blob %s", sha256);
    return rc < 0 ? rc : 0;
}

static int run_simple(struct fy_store *st, const char *sql, const char *what,
                      struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = sql, .what = what};

    return fy_sql_run(st, &q, err);
}

/* Ends a write transaction: COMMIT after rc == 0, else ROLLBACK. */
static int end_tx(struct fy_store *st, int rc, struct ferry_err *err)
{
    if (rc == 0)
        return run_simple(st, "COMMIT", "commit blob", err);
    run_simple(st, "ROLLBACK", "roll back blob", NULL);
    return rc;
}

/*
 * Inside start's transaction. The upsert takes the row's lock before the
 * parts go, so no part of an older generation can be added after them. A
 * complete blob is left alone (the DO UPDATE's WHERE). The new generation
 * is past every earlier one even within one millisecond.
 */
static int start_tx(struct fy_store *st, const char *sha256, int64_t size,
                    struct fy_blob_info *info, struct ferry_err *err)
{
    const struct fy_sql_arg up_args[] = {FY_SQL_S(sha256), FY_SQL_I(size),
                                         FY_SQL_I(fy_now_ms())};
    struct fy_sql_q up = {
        .sql = "INSERT INTO {s}blobs AS b (sha256, size, received, complete,"
               " created_at, updated_at) VALUES ($1, $2, 0, {false}, $3, $3)"
               " ON CONFLICT (sha256) DO UPDATE SET size = $2, received = 0,"
               " created_at = {max}(b.created_at + 1, $3), updated_at = $3"
               " WHERE NOT b.complete",
        .args = up_args,
        .nargs = FY_ARRAY_LEN(up_args),
        .what = "start blob upload"};
    const struct fy_sql_arg del_args[] = {FY_SQL_S(sha256)};
    struct fy_sql_q del = {.sql = "DELETE FROM {s}blob_parts WHERE sha256 = $1",
                           .args = del_args,
                           .nargs = FY_ARRAY_LEN(del_args),
                           .what = "start blob upload"};
    int rc = fy_sql_run(st, &up, err);

    if (rc == 0 && up.changes > 0)
        rc = fy_sql_run(st, &del, err);
    if (rc == 0)
        rc = get_row(st, sha256, true, info, err);
    if (rc == 0)
        rc = fy_err_set(err, FERRY_ESTORE, "blob %s vanished", sha256);
    return rc < 0 ? rc : 0;
}

int fy_store_blob_start(struct fy_store *st, const char *sha256, int64_t size,
                        struct fy_blob_info *info, struct ferry_err *err)
{
    int rc = run_simple(st, "{begin_write}", "begin blob", err);

    if (rc < 0)
        return rc;
    return end_tx(st, start_tx(st, sha256, size, info, err), err);
}

static int conflict(const char *sha256, const struct fy_blob_info *info,
                    struct ferry_err *err)
{
    return fy_err_set(
        err, FERRY_ECONFLICT, "the upload of %s holds %lld bytes%s", sha256,
        (long long)info->received, info->complete ? " and is complete" : "");
}

static int append_tx(struct fy_store *st, const char *sha256, int64_t gen,
                     int64_t off, const char *hex, int64_t n,
                     struct fy_blob_info *info, struct ferry_err *err)
{
    const struct fy_sql_arg part_args[] = {FY_SQL_S(sha256), FY_SQL_I(off),
                                           FY_SQL_S(hex)};
    struct fy_sql_q part = {.sql =
                                "INSERT INTO {s}blob_parts (sha256, off, data)"
                                " VALUES ($1, $2, {unhex:$3})",
                            .args = part_args,
                            .nargs = FY_ARRAY_LEN(part_args),
                            .what = "store blob part"};
    const struct fy_sql_arg row_args[] = {FY_SQL_S(sha256), FY_SQL_I(off + n),
                                          FY_SQL_I(fy_now_ms())};
    struct fy_sql_q row = {
        .sql = "UPDATE {s}blobs SET received = $2, updated_at = $3"
               " WHERE sha256 = $1",
        .args = row_args,
        .nargs = FY_ARRAY_LEN(row_args),
        .what = "store blob part"};
    int rc = get_row(st, sha256, true, info, err);

    if (rc < 0)
        return rc;
    if (rc == 0 || info->complete || info->gen != gen ||
        info->received != off || off + n > info->size)
        return conflict(sha256, info, err);
    rc = fy_sql_run(st, &part, err);
    if (rc == 0)
        rc = fy_sql_run(st, &row, err);
    if (rc == 0)
        info->received = off + n;
    return rc;
}

int fy_store_blob_append(struct fy_store *st, const char *sha256, int64_t gen,
                         int64_t off, const void *data, size_t n,
                         struct fy_blob_info *info, struct ferry_err *err)
{
    char *hex;
    int rc;

    if (n == 0 || n > FY_BLOB_PART)
        return fy_err_set(err, FERRY_EINVAL, "a blob part of %zu bytes", n);
    hex = fy_malloc(2 * n + 1);
    if (!hex)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_hex(data, n, hex);
    rc = run_simple(st, "{begin_write}", "begin blob", err);
    if (rc == 0)
        rc = end_tx(st,
                    append_tx(st, sha256, gen, off, hex, (int64_t)n, info, err),
                    err);
    fy_free(hex);
    return rc;
}

static int finish_tx(struct fy_store *st, const char *sha256, int64_t gen,
                     struct ferry_err *err)
{
    struct fy_blob_info info;
    const struct fy_sql_arg args[] = {FY_SQL_S(sha256), FY_SQL_I(fy_now_ms())};
    struct fy_sql_q q = {.sql = "UPDATE {s}blobs SET complete = {true},"
                                " updated_at = $2 WHERE sha256 = $1",
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .what = "finish blob"};
    int rc = get_row(st, sha256, true, &info, err);

    if (rc < 0)
        return rc;
    if (rc == 0 || info.complete || info.gen != gen ||
        info.received != info.size)
        return conflict(sha256, &info, err);
    return fy_sql_run(st, &q, err);
}

int fy_store_blob_finish(struct fy_store *st, const char *sha256, int64_t gen,
                         struct ferry_err *err)
{
    int rc = run_simple(st, "{begin_write}", "begin blob", err);

    if (rc < 0)
        return rc;
    return end_tx(st, finish_tx(st, sha256, gen, err), err);
}

/*
 * Deletes the row first (taking its lock, and on PostgreSQL checking the
 * condition again on the newest version), then its parts: a request still
 * appending waits for the row and then finds none.
 */
static int discard_tx(struct fy_store *st, const char *sha256, int64_t gen,
                      int64_t before_ms, bool *removed, struct ferry_err *err)
{
    const struct fy_sql_arg row_args[] = {FY_SQL_S(sha256), FY_SQL_I(gen),
                                          FY_SQL_I(before_ms)};
    struct fy_sql_q row = {
        .sql = gen >= 0 ? "DELETE FROM {s}blobs WHERE sha256 = $1 AND NOT"
                          " complete AND created_at = $2 AND updated_at < $3"
                        : "DELETE FROM {s}blobs WHERE sha256 = $1 AND NOT"
                          " complete AND $2 < 0 AND updated_at < $3",
        .args = row_args,
        .nargs = FY_ARRAY_LEN(row_args),
        .what = "remove blob upload"};
    const struct fy_sql_arg part_args[] = {FY_SQL_S(sha256)};
    struct fy_sql_q parts = {.sql =
                                 "DELETE FROM {s}blob_parts WHERE sha256 = $1",
                             .args = part_args,
                             .nargs = FY_ARRAY_LEN(part_args),
                             .what = "remove blob upload"};
    int rc = fy_sql_run(st, &row, err);

    *removed = rc == 0 && row.changes > 0;
    if (*removed)
        rc = fy_sql_run(st, &parts, err);
    return rc;
}

static int discard(struct fy_store *st, const char *sha256, int64_t gen,
                   int64_t before_ms, bool *removed, struct ferry_err *err)
{
    int rc = run_simple(st, "{begin_write}", "begin blob", err);

    *removed = false;
    if (rc < 0)
        return rc;
    rc = end_tx(st, discard_tx(st, sha256, gen, before_ms, removed, err), err);
    if (rc < 0)
        *removed = false;
    return rc;
}

int fy_store_blob_discard(struct fy_store *st, const char *sha256, int64_t gen,
                          bool *removed, struct ferry_err *err)
{
    if (gen < 0)
        return fy_err_set(err, FERRY_EINVAL, "no generation %lld",
                          (long long)gen);
    return discard(st, sha256, gen, INT64_MAX, removed, err);
}

/* Hex digit values plus one; 0 for a byte that is not a hex digit. */
static const unsigned char hex_plus1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

struct part_read {
    struct fy_buf *data;
    int64_t off;
    bool found;
};

static int read_part(const char *const *cols, int n, void *ud)
{
    struct part_read *pr = ud;
    const char *hex = cols[1];
    size_t len = hex ? strlen(hex) : 0;

    if (n != 2 || !hex || len % 2)
        return FERRY_ESTORE;
    pr->off = num(cols[0]);
    pr->found = true;
    fy_buf_reset(pr->data);
    if (fy_buf_grow(pr->data, len / 2) < 0)
        return fy_buf_error(pr->data);
    /* A table, not fy_hexval()'s branches: parts are megabytes of hex. */
    for (size_t i = 0; i + 1 < len; i += 2) {
        int hi = hex_plus1[(unsigned char)hex[i]] - 1,
            lo = hex_plus1[(unsigned char)hex[i + 1]] - 1;

        if (hi < 0 || lo < 0)
            return FERRY_ESTORE;
        pr->data->data[pr->data->len++] = (char)(hi << 4 | lo);
    }
    pr->data->data[pr->data->len] = '\0';
    return 0;
}

int fy_store_blob_part(struct fy_store *st, const char *sha256, int64_t at,
                       struct fy_buf *data, int64_t *part_off,
                       struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(sha256), FY_SQL_I(at)};
    struct part_read pr = {.data = data};
    struct fy_sql_q q = {
        .sql = "SELECT off, {hex:data} FROM {s}blob_parts WHERE sha256 = $1"
               " AND off <= $2 ORDER BY off DESC LIMIT 1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = read_part,
        .ud = &pr,
        .what = "read blob part"};
    int rc = fy_sql_run(st, &q, err);

    if (rc == FERRY_ESTORE || rc == FERRY_ENOMEM)
        return fy_err_set(err, rc, "cannot read blob %s at %lld", sha256,
                          (long long)at);
    if (rc < 0)
        return rc;
    if (!pr.found || at >= pr.off + (int64_t)data->len)
        return fy_err_set(err, FERRY_ENOTFOUND, "blob %s has no byte %lld",
                          sha256, (long long)at);
    *part_off = pr.off;
    return 0;
}

#define EXPIRE_BATCH 100

struct stale {
    char sha[EXPIRE_BATCH][65];
    size_t n;
};

static int keep_stale(const char *const *cols, int n, void *ud)
{
    struct stale *s = ud;

    if (n != 1 || !cols[0] || s->n == EXPIRE_BATCH)
        return FERRY_ESTORE;
    snprintf(s->sha[s->n++], sizeof(s->sha[0]), "%s", cols[0]);
    return 0;
}

int fy_store_blob_expire(struct fy_store *st, int64_t before_ms, long *removed,
                         struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(before_ms)};
    struct stale *s = fy_calloc(1, sizeof(*s));
    struct fy_sql_q q = {.sql = "SELECT sha256 FROM {s}blobs WHERE NOT complete"
                                " AND updated_at < $1 LIMIT 100",
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = keep_stale,
                         .ud = s,
                         .what = "find stale blob uploads"};
    int rc;

    *removed = 0;
    if (!s)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = fy_sql_run(st, &q, err);
    /*
     * Each one in a transaction of its own, checked again under its lock:
     * an upload written to since the list was read stays.
     */
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        bool gone = false;

        rc = discard(st, s->sha[i], -1, before_ms, &gone, err);
        *removed += gone;
    }
    fy_free(s);
    return rc;
}

struct found {
    const char *const *sha256;
    size_t n;
    bool *complete;
};

static int mark_found(const char *const *cols, int n, void *ud)
{
    struct found *f = ud;

    for (size_t i = 0; n == 1 && cols[0] && i < f->n; i++) {
        if (strcmp(f->sha256[i], cols[0]) == 0)
            f->complete[i] = true;
    }
    return 0;
}

int fy_store_blob_complete(struct fy_store *st, const char *const *sha256,
                           size_t n, bool *complete, struct ferry_err *err)
{
    struct fy_sql_arg args[FY_BLOB_MAX_CHECK];
    struct found f = {sha256, n, complete};
    char sql[256] =
        "SELECT sha256 FROM {s}blobs WHERE complete AND sha256 IN (";
    size_t len = strlen(sql);
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .nargs = n,
                         .row = mark_found,
                         .ud = &f,
                         .what = "check blob references"};

    if (n == 0 || n > FY_BLOB_MAX_CHECK)
        return fy_err_set(err, FERRY_EINVAL, "%zu blob references at once", n);
    for (size_t i = 0; i < n; i++) {
        args[i] = (struct fy_sql_arg)FY_SQL_S(sha256[i]);
        complete[i] = false;
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s$%zu",
                                i ? ", " : "", i + 1);
    }
    snprintf(sql + len, sizeof(sql) - len, ")");
    return fy_sql_run(st, &q, err);
}
