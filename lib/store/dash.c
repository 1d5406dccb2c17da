/* SPDX-License-Identifier: MIT */
/*
 * The dashboard family (store.h), written once for both backends over the
 * statement runner: log-in sessions in {s}dash_sessions and the bounded
 * reads the dashboard's pages show. Session times are unix ms of the
 * store's clock ({now_ms}), so that every ferryd of one store expires a
 * session alike.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy.h"

/* What the pages show at most: a page is for people, not an export. */
#define MAX_REGIONS 200

static int64_t num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static int oom(int rc, struct ferry_err *err)
{
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return rc;
}

int fy_store_dash_session_put(struct fy_store *st, const char *token_hash,
                              const char *key_id, const char *csrf,
                              struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(token_hash), FY_SQL_S(key_id),
                                      FY_SQL_S(csrf)};
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}dash_sessions (token_hash, key_id, csrf,"
               " created_ms, last_ms) VALUES ($1, $2, $3, {now_ms}, {now_ms})",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "create session",
    };

    return fy_sql_run(st, &q, err);
}

static int session_row(const char *const *c, int n, void *ud)
{
    struct fy_dash_session *s = ud;

    (void)n;
    snprintf(s->key_id, sizeof(s->key_id), "%s", c[0] ? c[0] : "");
    snprintf(s->csrf, sizeof(s->csrf), "%s", c[1] ? c[1] : "");
    s->created_ms = num(c[2]);
    s->last_ms = num(c[3]);
    s->now_ms = num(c[4]);
    return 0;
}

/*
 * The key is read with the session: a revoked, expired or no longer admin
 * key ends its sessions at once, whichever ferryd revoked it.
 */
int fy_store_dash_session_get(struct fy_store *st, const char *token_hash,
                              int64_t idle_ms, int64_t max_ms,
                              struct fy_dash_session *out,
                              struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(token_hash), FY_SQL_I(max_ms),
                                      FY_SQL_I(idle_ms)};
    struct fy_sql_q q = {
        .sql = "SELECT s.key_id, s.csrf, s.created_ms, s.last_ms, {now_ms}"
               " FROM {s}dash_sessions s JOIN {s}api_keys k ON k.id ="
               " s.key_id WHERE s.token_hash = $1 AND s.created_ms >"
               " {now_ms} - $2 AND s.last_ms > {now_ms} - $3 AND k.admin"
               " AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR"
               " k.expires_at > {now})",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = session_row,
        .ud = out,
        .what = "read session",
    };
    int rc;

    memset(out, 0, sizeof(*out));
    rc = fy_sql_run(st, &q, err);
    if (rc == 0 && !out->key_id[0])
        rc = fy_err_set(err, FERRY_ENOTFOUND, "no such session");
    return rc;
}

/*
 * At most one write every every_ms per session, and never a wait for a
 * lock: the idle time-out is many times that.
 */
int fy_store_dash_session_touch(struct fy_store *st, const char *token_hash,
                                int64_t every_ms, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(token_hash), FY_SQL_I(every_ms)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}dash_sessions SET last_ms = {now_ms} WHERE"
               " token_hash = $1 AND last_ms < {now_ms} - $2",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .flags = FY_SQL_NOWAIT,
        .what = "touch session",
    };

    return fy_sql_run(st, &q, err);
}

int fy_store_dash_session_end(struct fy_store *st, const char *token_hash,
                              const char *key_id, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(token_hash ? token_hash : "")};
    const struct fy_sql_arg kargs[] = {FY_SQL_S(key_id ? key_id : "")};
    struct fy_sql_q q = {
        .sql = token_hash ? "DELETE FROM {s}dash_sessions WHERE token_hash = $1"
                          : "DELETE FROM {s}dash_sessions WHERE key_id = $1",
        .args = token_hash ? args : kargs,
        .nargs = 1,
        .what = "end session",
    };

    return fy_sql_run(st, &q, err);
}

int fy_store_dash_sessions_expire(struct fy_store *st, int64_t idle_ms,
                                  int64_t max_ms, long *removed,
                                  struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(max_ms), FY_SQL_I(idle_ms)};
    struct fy_sql_q q = {
        .sql = "DELETE FROM {s}dash_sessions WHERE created_ms <= {now_ms} -"
               " $1 OR last_ms <= {now_ms} - $2",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "expire sessions",
    };
    int rc = fy_sql_run(st, &q, err);

    *removed = rc == 0 ? q.changes : 0;
    return rc;
}

struct count_cb {
    fy_dash_count_fn *fn;
    void *ud;
};

static int count_row(const char *const *c, int n, void *ud)
{
    struct count_cb *cb = ud;
    struct fy_dash_count k = {
        .region = c[0],
        .rows = num(c[1]),
        .last_ms = num(c[2]) >> 16, /* an HLC: 48 bits of ms */
    };

    (void)n;
    return cb->fn(&k, cb->ud);
}

int fy_store_dash_table_counts(struct fy_store *st, const struct fy_table *t,
                               fy_dash_count_fn *fn, void *ud,
                               struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    struct count_cb cb = {fn, ud};
    struct fy_sql_q q = {.row = count_row, .ud = &cb, .what = "count rows"};
    int rc;

    fy_buf_adds(&b, "SELECT ");
    if (t->region_col >= 0) {
        fy_buf_adds(&b, "CAST(");
        fy_buf_add_ident(&b, t->cols[t->region_col].name);
        fy_buf_adds(&b, " AS TEXT)");
    } else {
        fy_buf_adds(&b, "NULL");
    }
    fy_buf_adds(&b, ", count(*), coalesce(max(_ferry_hlc), 0) FROM ");
    fy_buf_add_ident(&b, t->name);
    if (t->region_col >= 0)
        fy_buf_addf(&b, " GROUP BY 1 ORDER BY 1 LIMIT %d", MAX_REGIONS);
    rc = fy_buf_error(&b);
    if (rc == 0) {
        q.sql = b.data;
        rc = fy_sql_run(st, &q, err);
    }
    fy_buf_release(&b);
    return oom(rc, err);
}

struct device_cb {
    fy_dash_device_fn *fn;
    void *ud;
};

static int device_row(const char *const *c, int n, void *ud)
{
    struct device_cb *cb = ud;
    struct fy_dash_device d = {
        .device = c[0],
        .acked_seq = num(c[1]),
        .last_push_ms = num(c[2]) * 1000,
        .pushes = num(c[3]),
        .changes = num(c[4]),
        .status = c[5],
        .last_success_ms = num(c[6]),
        .last_attempt_ms = num(c[7]),
        .failures = num(c[8]),
        .last_error = c[9],
        .last_pull_ms = num(c[10]),
        .now_ms = num(c[11]),
    };

    (void)n;
    return cb->fn(&d, cb->ud);
}

/*
 * A device that only pulls has no row in {s}devices (pushes write it),
 * one that only pushed before runs were recorded none in sync_status:
 * every name of either. The last pull is read by the history's index
 * (kind, name, started_ms).
 */
int fy_store_dash_devices(struct fy_store *st, fy_dash_device_fn *fn, void *ud,
                          struct ferry_err *err)
{
    struct device_cb cb = {fn, ud};
    struct fy_sql_q q = {
        .sql = "SELECT n.name, coalesce(d.acked_seq, 0),"
               " coalesce({epoch:d.last_push_at}, 0), coalesce(d.pushes, 0),"
               " coalesce(d.changes, 0), s.status,"
               " coalesce(s.last_success_ms, 0), coalesce(s.last_attempt_ms,"
               " 0), coalesce(s.failures, 0), s.last_error,"
               " coalesce((SELECT max(h.started_ms) FROM {s}sync_history h"
               " WHERE h.kind = 'device' AND h.name = n.name AND h.op IN"
               " ('pull', 'sync', 'download')), 0), {now_ms}"
               " FROM (SELECT device AS name FROM {s}devices UNION SELECT"
               " name FROM {s}sync_status WHERE kind = 'device') n"
               " LEFT JOIN {s}devices d ON d.device = n.name"
               " LEFT JOIN {s}sync_status s ON s.kind = 'device' AND s.name ="
               " n.name ORDER BY n.name LIMIT 500",
        .row = device_row,
        .ud = &cb,
        .what = "list devices",
    };

    return oom(fy_sql_run(st, &q, err), err);
}

struct minute_cb {
    fy_dash_minute_fn *fn;
    void *ud;
};

static int minute_row(const char *const *c, int n, void *ud)
{
    struct minute_cb *cb = ud;
    struct fy_dash_minute m = {
        .minute = num(c[0]),
        .records = num(c[1]),
        .runs = num(c[2]),
        .failures = num(c[3]),
    };

    (void)n;
    return cb->fn(&m, cb->ud);
}

/* By the history's index on started_ms. */
int fy_store_dash_minutes(struct fy_store *st, int64_t since_ms,
                          fy_dash_minute_fn *fn, void *ud,
                          struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(since_ms)};
    struct minute_cb cb = {fn, ud};
    struct fy_sql_q q = {
        .sql = "SELECT started_ms / 60000, sum(coalesce(records, 0)),"
               " count(*), sum(CASE WHEN status IN ('failed', 'refused',"
               " 'abandoned') THEN 1 ELSE 0 END) FROM {s}sync_history WHERE"
               " started_ms >= $1 GROUP BY 1 ORDER BY 1 LIMIT 1500",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = minute_row,
        .ud = &cb,
        .what = "runs per minute",
    };

    return oom(fy_sql_run(st, &q, err), err);
}
