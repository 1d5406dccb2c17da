/* SPDX-License-Identifier: MIT */
/*
 * The keys family, written once for both backends over the statement
 * runner (fy_sql_run): API key records in {s}api_keys, and the previous
 * secret of a rotated key in {s}api_key_previous. Times cross the
 * interface as unix seconds, 0 for none.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fy.h"

#define KEY_COLS                                                               \
    "id, secret_hash, device, region, admin, {epoch:created_at},"              \
    " coalesce({epoch:expires_at}, 0), coalesce({epoch:revoked_at}, 0),"       \
    " coalesce({epoch:last_used_at}, 0),"                                      \
    " coalesce((SELECT p.secret_hash FROM {s}api_key_previous p"               \
    " WHERE p.id = {s}api_keys.id), ''),"                                      \
    " coalesce((SELECT {epoch:p.until_at} FROM {s}api_key_previous p"          \
    " WHERE p.id = {s}api_keys.id), 0)"

static int key_put(struct fy_store *st, const struct fy_key *k,
                   struct ferry_err *err)
{
    struct fy_sql_arg args[] = {
        FY_SQL_S(k->id),     FY_SQL_S(k->hash),  FY_SQL_S(k->device),
        FY_SQL_S(k->region), FY_SQL_I(k->admin), FY_SQL_I(k->expires_at),
    };
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}api_keys (id, secret_hash, device, region,"
               " admin, created_at, expires_at) VALUES ($1, $2, $3, $4, $5,"
               " {now}, {ts:$6})",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "create key",
    };

    if (!k->expires_at)
        args[5].kind = FY_SQL_NULL; /* no expiry */
    return fy_sql_run(st, &q, err);
}

static int64_t num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* Fills k from a row of KEY_COLS; k is released again on failure. */
static int key_from_row(const char *const *c, struct fy_key *k)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", c[0] ? c[0] : "");
    snprintf(k->hash, sizeof(k->hash), "%s", c[1] ? c[1] : "");
    k->device = fy_strdup(c[2] ? c[2] : "");
    k->region = c[3] ? fy_strdup(c[3]) : NULL;
    k->admin = fy_sql_bool(c[4]);
    k->created_at = num(c[5]);
    k->expires_at = num(c[6]);
    k->revoked_at = num(c[7]);
    k->last_used_at = num(c[8]);
    snprintf(k->prev_hash, sizeof(k->prev_hash), "%s", c[9] ? c[9] : "");
    k->prev_until = num(c[10]);
    if (!k->device || (c[3] && !k->region)) {
        fy_key_release(k);
        return FERRY_ENOMEM;
    }
    return 0;
}

struct key_get {
    struct fy_key *k;
    bool found;
};

static int get_row(const char *const *cols, int n, void *ud)
{
    struct key_get *g = ud;

    (void)n;
    g->found = true;
    return key_from_row(cols, g->k);
}

static int key_get(struct fy_store *st, const char *id, struct fy_key *k,
                   struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(id)};
    struct key_get g = {.k = k};
    struct fy_sql_q q = {
        .sql = "SELECT " KEY_COLS " FROM {s}api_keys WHERE id = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = get_row,
        .ud = &g,
        .what = "read key",
    };
    int rc = fy_sql_run(st, &q, err);

    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0 && !g.found)
        rc = fy_err_set(err, FERRY_ENOTFOUND, "no key '%s'", id);
    else if (rc < 0 && g.found)
        fy_key_release(k);
    return rc;
}

struct key_list {
    fy_key_cb *cb;
    void *ud;
};

static int list_row(const char *const *cols, int n, void *ud)
{
    struct key_list *l = ud;
    struct fy_key k;
    int rc = key_from_row(cols, &k);

    (void)n;
    if (rc < 0)
        return rc;
    rc = l->cb(&k, l->ud);
    fy_key_release(&k);
    return rc;
}

/* In the order the keys were created, on both engines. */
static int key_list(struct fy_store *st, fy_key_cb *cb, void *ud,
                    struct ferry_err *err)
{
    struct key_list l = {cb, ud};
    struct fy_sql_q q = {
        .sql = "SELECT " KEY_COLS " FROM {s}api_keys"
               " ORDER BY {order:created_at}, id",
        .row = list_row,
        .ud = &l,
        .what = "list keys",
    };
    int rc = fy_sql_run(st, &q, err);

    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return rc;
}

static int key_revoke(struct fy_store *st, const char *id,
                      struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(id)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}api_keys SET revoked_at = coalesce(revoked_at,"
               " {now}) WHERE id = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "revoke key",
    };
    int rc = fy_sql_run(st, &q, err);

    if (rc == 0 && q.changes == 0)
        rc = fy_err_set(err, FERRY_ENOTFOUND, "no key '%s'", id);
    return rc;
}

/*
 * Two statements, no transaction: the previous secret is written first, so
 * that no moment exists in which neither secret is accepted; the new one
 * replaces exactly the secret read, so of two rotations at once one wins
 * and the other changes nothing that matters (the previous secret it wrote
 * is the same one) and says so.
 */
static int key_rotate(struct fy_store *st, const char *id, const char *new_hash,
                      int64_t overlap_s, struct ferry_err *err)
{
    struct fy_key k;
    int rc = key_get(st, id, &k, err);
    struct fy_sql_arg prev[] = {FY_SQL_S(id), FY_SQL_S(k.hash),
                                FY_SQL_I((int64_t)time(NULL) + overlap_s)};
    struct fy_sql_arg next[] = {FY_SQL_S(id), FY_SQL_S(new_hash),
                                FY_SQL_S(k.hash)};
    struct fy_sql_q keep = {
        .sql = "INSERT INTO {s}api_key_previous (id, secret_hash, until_at)"
               " VALUES ($1, $2, {ts:$3}) ON CONFLICT (id) DO UPDATE SET"
               " secret_hash = excluded.secret_hash,"
               " until_at = excluded.until_at",
        .args = prev,
        .nargs = FY_ARRAY_LEN(prev),
        .what = "keep the previous secret",
    };
    struct fy_sql_q swap = {
        .sql = "UPDATE {s}api_keys SET secret_hash = $2 WHERE id = $1"
               " AND secret_hash = $3 AND revoked_at IS NULL",
        .args = next,
        .nargs = FY_ARRAY_LEN(next),
        .what = "rotate key",
    };

    if (rc < 0)
        return rc;
    if (k.revoked_at)
        rc = fy_err_set(err, FERRY_ECONFLICT,
                        "key '%s' is revoked: create a new one instead", id);
    if (rc == 0)
        rc = fy_sql_run(st, &keep, err);
    if (rc == 0)
        rc = fy_sql_run(st, &swap, err);
    if (rc == 0 && swap.changes == 0)
        rc = fy_err_set(err, FERRY_ECONFLICT,
                        "key '%s' was rotated or revoked meanwhile; nothing"
                        " changed: run the rotation again",
                        id);
    fy_key_release(&k);
    return rc;
}

static int key_touch(struct fy_store *st, const char *id, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(id)};
    /*
     * At most one write a minute per key, and never a wait for a lock:
     * last-used is for humans, and the request's own transaction may have
     * to wait for the same lock next.
     */
    struct fy_sql_q q = {
        .sql = "UPDATE {s}api_keys SET last_used_at = {now} WHERE id = $1"
               " AND (last_used_at IS NULL OR last_used_at < {ago:60})",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .flags = FY_SQL_NOWAIT,
        .what = "touch key",
    };

    return fy_sql_run(st, &q, err);
}

const struct fy_store_key_ops fy_store_sql_key_ops = {
    .put = key_put,
    .get = key_get,
    .list = key_list,
    .revoke = key_revoke,
    .rotate = key_rotate,
    .touch = key_touch,
};
