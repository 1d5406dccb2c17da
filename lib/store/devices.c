/* SPDX-License-Identifier: MIT */
/*
 * The devices table read for GET /metrics, written once for both engines
 * over the statement runner.
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
