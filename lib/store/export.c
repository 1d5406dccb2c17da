/* SPDX-License-Identifier: MIT */
/*
 * Whole-table reads for snapshots (POST /v1/snapshots, GET
 * /v1/snapshots/latest): every row a key may read from one consistent
 * snapshot, with a position that is safe for deletes by absence and a tag
 * for the ETag; and, inside a push transaction, the stored rows an upload
 * is merged against. Written once for both engines over the statement
 * runner, like read.c; the words {snap_pos}, {ver_sum} and {lock} are the
 * engines' differences (pg.c, sqlite.c).
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql.h"
#include "fy.h"

/* Result columns before the table's own: version pair, stamp, origin. */
#define LEAD_COLS 4
/*
 * Rows per statement: PostgreSQL hands a whole result over at once, so a
 * big table is read in pages of its version order, never all in memory.
 */
#define PAGE_ROWS 1000

struct pager {
    const struct fy_table *t;
    bool del;          /* reading t's tombstones: key columns only */
    const char **vals; /* del: t->ncols slots, the key's filled */
    fy_read_row_fn *cb;
    void *ud;
    struct fy_read_pos last;
    uint64_t max_hlc;
    size_t n;
};

static int64_t num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* One stored row to the caller; the texts are the runner's (borrowed). */
static int page_row(const char *const *cols, int n, void *ud)
{
    struct pager *p = ud;
    struct fy_read_row r = {.table = p->t, .del = p->del};

    if ((size_t)n != LEAD_COLS + (p->del ? p->t->npk : p->t->ncols))
        return FERRY_ESTORE;
    r.pos.v = num(cols[0]);
    r.pos.s = num(cols[1]);
    r.hlc = (uint64_t)num(cols[2]);
    r.origin = cols[3] ? cols[3] : "";
    r.vals = cols + LEAD_COLS;
    if (p->del) {
        for (size_t i = 0; i < p->t->npk; i++)
            p->vals[p->t->pk[i]] = cols[LEAD_COLS + i];
        r.vals = p->vals;
    }
    p->last = r.pos;
    p->n++;
    if (r.hlc > p->max_hlc)
        p->max_hlc = r.hlc;
    return p->cb ? p->cb(&r, p->ud) : 0;
}

/*
 * One page of t's rows after $1, $2 in version order ($3 rows), only
 * region $4's when region; locked for the transaction when lock.
 */
static void page_sql(struct fy_buf *b, const struct fy_table *t, bool del,
                     bool region, bool lock)
{
    fy_buf_adds(b, "SELECT {ver_sel}, _ferry_hlc, _ferry_origin");
    for (size_t i = 0; i < (del ? t->npk : t->ncols); i++) {
        fy_buf_adds(b, ", ");
        fy_sql_select_col(b, &t->cols[del ? t->pk[i] : i], "x.");
    }
    if (del) {
        fy_buf_addf(b, " FROM {tomb:%s} x WHERE {ver_after}", t->name);
    } else {
        fy_buf_adds(b, " FROM ");
        fy_buf_add_ident(b, t->name);
        fy_buf_adds(b, " x WHERE {ver_after}");
    }
    if (region) {
        fy_buf_adds(b, " AND x.");
        fy_buf_add_ident(b, t->cols[t->region_col].name);
        fy_buf_adds(b, " = $4");
    }
    fy_buf_adds(b, " ORDER BY {ver_order_x} LIMIT $3");
    if (lock)
        fy_buf_adds(b, "{lock}");
}

/* Every row of t (of region, when given), page by page, to p's callback. */
static int read_table(struct fy_store *st, struct pager *p, const char *region,
                      bool lock, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = 0;

    if (p->t->ncols + LEAD_COLS > FY_SQL_MAX_COLS)
        return fy_err_set(err, FERRY_ESTORE, "table '%s' has too many columns",
                          p->t->name);
    page_sql(&b, p->t, p->del, region != NULL, lock);
    if (fy_buf_error(&b))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /* Where pulls start too: no write has version (0, 0) or below. */
    p->last = (struct fy_read_pos){0, 0};
    for (size_t got = PAGE_ROWS; rc == 0 && got == PAGE_ROWS;) {
        struct fy_sql_arg args[4] = {FY_SQL_I(p->last.v), FY_SQL_I(p->last.s),
                                     FY_SQL_I(PAGE_ROWS), FY_SQL_S(region)};
        struct fy_sql_q q = {.sql = b.data,
                             .args = args,
                             .nargs = region ? 4 : 3,
                             .row = page_row,
                             .ud = p,
                             .what = "read rows"};
        size_t before = p->n;

        rc = fy_sql_run(st, &q, err);
        got = p->n - before;
    }
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_buf_release(&b);
    return rc;
}

/* A regional key sees only its region of "read": "region" tables. */
static const char *scope_of(const struct fy_table *t, const char *region)
{
    return region && t->read == FY_READ_REGION && t->region_col >= 0 ? region
                                                                     : NULL;
}

static int one_int(const char *const *cols, int n, void *ud)
{
    (void)n;
    *(int64_t *)ud = num(cols[0]);
    return 0;
}

static int one_text(const char *const *cols, int n, void *ud)
{
    (void)n;
    return fy_buf_adds(ud, cols[0] ? cols[0] : "");
}

static int add_tag(const char *const *cols, int n, void *ud)
{
    struct fy_buf *tag = ud;

    (void)n;
    fy_buf_addf(tag, "%s:%s;", cols[0] ? cols[0] : "0",
                cols[1] ? cols[1] : "0");
    return 0;
}

/*
 * What the tag says of one table: its rows' count and the sum of their
 * row versions. Every write gives a row a version never used before, so
 * an insert, an update or a delete changes one of the two (on SQLite
 * exactly: new versions are above all old ones; see store.h).
 */
static int tag_table(struct fy_store *st, const struct fy_table *t,
                     const char *region, struct fy_buf *tag,
                     struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    struct fy_sql_arg args[1] = {FY_SQL_S(region)};
    struct fy_sql_q q = {.args = args,
                         .nargs = region ? 1 : 0,
                         .row = add_tag,
                         .ud = tag,
                         .what = "tag rows"};
    int rc;

    fy_buf_adds(&b, "SELECT count(*), {ver_sum} FROM ");
    fy_buf_add_ident(&b, t->name);
    fy_buf_adds(&b, " x");
    if (region) {
        fy_buf_adds(&b, " WHERE x.");
        fy_buf_add_ident(&b, t->cols[t->region_col].name);
        fy_buf_adds(&b, " = $1");
    }
    fy_buf_addf(tag, "%s=", t->name);
    q.sql = b.data;
    rc = fy_buf_error(&b) || fy_buf_error(tag)
             ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
             : fy_sql_run(st, &q, err);
    fy_buf_release(&b);
    return rc;
}

static int export_in_snapshot(struct fy_store *st,
                              const struct fy_export_req *req,
                              fy_read_row_fn *cb, void *ud,
                              struct fy_read_pos *at, struct fy_buf *snap,
                              struct fy_buf *tag, struct ferry_err *err)
{
    const struct fy_contract *c = req->contract;
    struct fy_sql_q pos = {.sql = "{snap_pos}",
                           .row = one_text,
                           .ud = snap,
                           .what = "snapshot position"};
    size_t start = snap->len;
    int rc = fy_sql_run(st, &pos, err);

    if (rc == 0 && fy_buf_error(snap))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /*
     * Everything below the snapshot's xmin is settled and in it; at or
     * above it (PostgreSQL: transactions running when it was taken) a row
     * may or may not be: the text says exactly which.
     */
    *at = (struct fy_read_pos){num(snap->data + start) - 1, INT64_MAX};
    for (size_t i = 0; rc == 0 && i < c->ntables; i++) {
        const struct fy_table *t = &c->tables[i];
        struct pager p = {.t = t, .cb = cb, .ud = ud};

        if (t->read == FY_READ_NONE)
            continue;
        rc = tag_table(st, t, scope_of(t, req->region), tag, err);
        if (rc == 0 && req->rows)
            rc = read_table(st, &p, scope_of(t, req->region), false, err);
    }
    return rc;
}

int fy_store_export(struct fy_store *st, const struct fy_export_req *req,
                    fy_read_row_fn *cb, void *ud, struct fy_read_pos *at,
                    struct fy_buf *snap, struct fy_buf *tag,
                    struct ferry_err *err)
{
    struct fy_sql_q begin = {.sql = "{begin_read}", .what = "begin export"};
    struct fy_sql_q end = {.sql = "COMMIT", .what = "end export"};
    struct fy_sql_q undo = {.sql = "ROLLBACK", .what = "end export"};
    /* One snapshot for the position, the tag and every table. */
    int rc = fy_sql_run(st, &begin, err);

    if (rc < 0)
        return rc;
    rc = export_in_snapshot(st, req, cb, ud, at, snap, tag, err);
    if (rc == 0)
        rc = fy_sql_run(st, &end, err);
    else
        fy_sql_run(st, &undo, NULL);
    return rc;
}

int fy_store_scan_rows(struct fy_store *st, const struct fy_scan_req *req,
                       fy_read_row_fn *cb, void *ud, uint64_t *max_hlc,
                       struct ferry_err *err)
{
    const struct fy_table *t = req->t;
    char sql[256];
    int64_t tomb = 0;
    struct fy_sql_q q = {
        .sql = sql, .row = one_int, .ud = &tomb, .what = "newest tombstone"};
    struct pager rows = {.t = t, .cb = cb, .ud = ud};
    struct pager dels = {.t = t, .del = true, .cb = cb, .ud = ud};
    int rc = read_table(st, &rows, t->region_col >= 0 ? req->region : NULL,
                        req->lock, err);

    if (rc == 0 && req->tombs) {
        dels.vals = fy_calloc(t->ncols, sizeof(*dels.vals));
        rc = dels.vals ? read_table(st, &dels, NULL, false, err)
                       : fy_err_set(err, FERRY_ENOMEM, "out of memory");
        fy_free(dels.vals);
    } else if (rc == 0) {
        snprintf(sql, sizeof(sql),
                 "SELECT coalesce(max(_ferry_hlc), 0) FROM {tomb:%s}", t->name);
        rc = fy_sql_run(st, &q, err);
    }
    *max_hlc = rows.max_hlc;
    if (dels.max_hlc > *max_hlc)
        *max_hlc = dels.max_hlc;
    if ((uint64_t)tomb > *max_hlc)
        *max_hlc = (uint64_t)tomb;
    return rc;
}
