/* SPDX-License-Identifier: MIT */
/*
 * The devices table read for GET /metrics and the alerts' record of
 * checks' states, written once for both engines over the statement runner.
 */
#include "store/store.h"

#include <stdlib.h>

#include "store/store_int.h"
#include "fy.h"

struct each {
    fy_device_row_fn *cb;
    void *ud;
};

static int each_row(const char *const *c, int n, void *ud)
{
    struct each *e = ud;
    struct fy_device_row d = {
        .device = c[0] ? c[0] : "",
        .acked_seq = c[1] ? strtoll(c[1], NULL, 10) : 0,
        .last_push_s = c[2] ? strtoll(c[2], NULL, 10) : 0,
    };

    (void)n;
    return e->cb(&d, e->ud);
}

int fy_store_devices_each(struct fy_store *st, size_t limit,
                          fy_device_row_fn *cb, void *ud, struct ferry_err *err)
{
    struct each e = {cb, ud};
    const struct fy_sql_arg args[] = {FY_SQL_I((int64_t)limit)};
    struct fy_sql_q q = {
        .sql = "SELECT device, acked_seq, coalesce({epoch:last_push_at}, 0)"
               " FROM {s}devices ORDER BY device LIMIT $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = each_row,
        .ud = &e,
        .what = "read devices",
    };

    return fy_sql_run(st, &q, err);
}

/* Keys of the meta table that are alert records (health.h's checks). */
#define ALERT_PREFIX "alert:"

int fy_store_alert_claim(struct fy_store *st, const char *check, bool stale,
                         bool *changed, struct ferry_err *err)
{
    struct fy_buf key = FY_BUF_INIT(0);
    struct fy_sql_q ins = {
        .sql = "INSERT INTO {s}meta (key, value) VALUES ($1, 0)"
               " ON CONFLICT (key) DO NOTHING",
        .what = "record a check",
    };
    struct fy_sql_q upd = {
        .sql = "UPDATE {s}meta SET value = $2 WHERE key = $1 AND value <> $2",
        .what = "record a check's state",
    };
    int rc;

    *changed = false;
    if (fy_buf_adds(&key, ALERT_PREFIX) < 0 || fy_buf_adds(&key, check) < 0 ||
        fy_buf_addc(&key, '\0') < 0) {
        fy_buf_release(&key);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    {
        const struct fy_sql_arg args[] = {FY_SQL_S(key.data),
                                          FY_SQL_I(stale ? 1 : 0)};

        ins.args = args;
        ins.nargs = 1;
        upd.args = args;
        upd.nargs = 2;
        rc = fy_sql_run(st, &ins, err);
        if (rc == 0)
            rc = fy_sql_run(st, &upd, err);
    }
    *changed = rc == 0 && upd.changes == 1;
    fy_buf_release(&key);
    return rc;
}
