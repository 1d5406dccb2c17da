/* SPDX-License-Identifier: MIT */
/*
 * Reading the store in the order of its writes, for pull (GET /v1/changes),
 * and pruning old tombstones. Written once for both engines over the
 * statement runner: dialect words say how an engine orders its writes
 * ({ver_*}) and which writes are safe to serve ({horizon}); see store.h
 * and docs/guarantees.md for why a cursor never skips a row.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql.h"
#include "util/arena.h"
#include "fy.h"

/* Result columns before the table's own: version pair, stamp, origin. */
#define LEAD_COLS 4

/* The rows of one table, or of its tombstones, in version order. */
struct source {
    const struct fy_table *t;
    bool del;
    struct fy_read_row *rows; /* arena */
    size_t n, cap, next;
};

struct reader {
    struct source *src;
    struct fy_arena *a;
};

static int64_t num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static int pos_cmp(const struct fy_read_pos *x, const struct fy_read_pos *y)
{
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

static char *copy(struct fy_arena *a, const char *s)
{
    return s ? fy_arena_strndup(a, s, strlen(s)) : NULL;
}

/* Keeps one result row: copied, since the runner's texts are borrowed. */
static int keep_row(const char *const *cols, int n, void *ud)
{
    struct reader *rd = ud;
    struct source *src = rd->src;
    const struct fy_table *t = src->t;
    struct fy_read_row *r = &src->rows[src->n];
    const char **vals = fy_arena_calloc(rd->a, t->ncols, sizeof(*vals));
    size_t nvals = src->del ? t->npk : t->ncols;

    if (!vals || src->n == src->cap || (size_t)n != LEAD_COLS + nvals)
        return FERRY_ENOMEM;
    r->table = t;
    r->del = src->del;
    r->pos.v = num(cols[0]);
    r->pos.s = num(cols[1]);
    r->hlc = (uint64_t)num(cols[2]);
    r->origin = copy(rd->a, cols[3]);
    for (size_t i = 0; i < nvals; i++) {
        size_t c = src->del ? t->pk[i] : i;

        vals[c] = copy(rd->a, cols[LEAD_COLS + i]);
        if (cols[LEAD_COLS + i] && !vals[c])
            return FERRY_ENOMEM;
    }
    r->vals = vals;
    src->n++;
    return r->origin ? 0 : FERRY_ENOMEM;
}

/*
 * The statement for one source. Arguments: $1 and $2 the position read
 * after, $3 the row limit, then the region and the origin to leave out
 * when the request has them ($4, $5 or $4).
 */
static void source_sql(struct fy_buf *b, const struct fy_read_req *req,
                       const struct source *src)
{
    const struct fy_table *t = src->t;
    bool region = req->region && t->read == FY_READ_REGION;
    int arg = 4;

    fy_buf_adds(b, "SELECT {ver_sel}, _ferry_hlc, _ferry_origin, ");
    for (size_t i = 0; i < (src->del ? t->npk : t->ncols); i++) {
        fy_sql_select_col(b, &t->cols[src->del ? t->pk[i] : i], "x.");
        fy_buf_adds(b, ", ");
    }
    b->len -= 2; /* the last ", " */
    if (src->del)
        fy_buf_addf(b, " FROM {tomb:%s} x", t->name);
    else {
        fy_buf_adds(b, " FROM ");
        fy_buf_add_ident(b, t->name);
        fy_buf_adds(b, " x");
    }
    fy_buf_adds(b, " WHERE {ver_after}{horizon}");
    if (region && src->del) {
        /* A delete by an unscoped key is every region's. */
        fy_buf_addf(b,
                    " AND (x._ferry_region IS NULL OR x._ferry_region ="
                    " $%d)",
                    arg++);
    } else if (region) {
        fy_buf_adds(b, " AND x.");
        fy_buf_add_ident(b, t->cols[t->region_col].name);
        fy_buf_addf(b, " = $%d", arg++);
    }
    if (req->skip_origin)
        fy_buf_addf(b, " AND x._ferry_origin <> $%d", arg++);
    /* A stale delete leaves a tombstone beside a newer row: not a delete. */
    if (src->del) {
        fy_buf_adds(b, " AND NOT EXISTS (SELECT 1 FROM ");
        fy_buf_add_ident(b, t->name);
        fy_buf_adds(b, " r WHERE ");
        fy_sql_pk_match(b, t, "r", "x");
        fy_buf_adds(b, ")");
    }
    /* Qualified: bare, PostgreSQL would sort by the ::text output column. */
    fy_buf_adds(b, " ORDER BY {ver_order_x} LIMIT $3");
}

static int read_source(struct fy_store *st, const struct fy_read_req *req,
                       struct reader *rd, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    bool region = req->region && rd->src->t->read == FY_READ_REGION;
    struct fy_sql_arg args[5] = {FY_SQL_I(req->after.v), FY_SQL_I(req->after.s),
                                 FY_SQL_I((int64_t)req->limit + 1)};
    size_t nargs = 3;
    struct fy_sql_q q = {
        .args = args, .row = keep_row, .ud = rd, .what = "read changes"};
    int rc;

    if (region)
        args[nargs++] = (struct fy_sql_arg)FY_SQL_S(req->region);
    if (req->skip_origin)
        args[nargs++] = (struct fy_sql_arg)FY_SQL_S(req->skip_origin);
    q.nargs = nargs;
    source_sql(&b, req, rd->src);
    if (fy_buf_error(&b))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else if (rd->src->t->ncols + LEAD_COLS > FY_SQL_MAX_COLS)
        rc = fy_err_set(err, FERRY_ESTORE, "table '%s' has too many columns",
                        rd->src->t->name);
    else {
        q.sql = b.data;
        rc = fy_sql_run(st, &q, err);
        if (rc == FERRY_ENOMEM)
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    fy_buf_release(&b);
    return rc;
}

static int mark_row(const char *const *cols, int n, void *ud)
{
    struct fy_read_mark *m = ud;

    (void)n;
    if (cols[0] && strcmp(cols[0], "prune_v") == 0)
        m->v = num(cols[1]);
    else if (cols[0] && strcmp(cols[0], "prune_epoch") == 0)
        m->epoch = num(cols[1]);
    return 0;
}

static int read_mark(struct fy_store *st, struct fy_read_mark *m,
                     struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = "SELECT key, value FROM {s}meta WHERE key IN"
                                " ('prune_v', 'prune_epoch')",
                         .row = mark_row,
                         .ud = m,
                         .what = "read pruning mark"};

    m->v = m->epoch = 0;
    return fy_sql_run(st, &q, err);
}

/* Has pruning removed a delete this request would have to serve? */
static int check_mark(const struct fy_read_req *req,
                      const struct fy_read_mark *m, struct ferry_err *err)
{
    bool gone =
        req->full
            ? req->epoch >= 0 && req->epoch != m->epoch
            : m->v > 0 && (req->after.v < m->v ||
                           (req->after.v == m->v && req->after.s < INT64_MAX));

    return gone ? fy_err_set(err, FERRY_EEXPIRED,
                             "the cursor is older than the tombstone"
                             " retention; start again without a cursor")
                : 0;
}

/* Hands over the first req->limit rows of all sources, by position. */
static int merge(struct source *srcs, size_t n, const struct fy_read_req *req,
                 fy_read_row_fn *cb, void *ud, bool *more)
{
    int rc = 0;

    for (size_t done = 0; rc == 0; done++) {
        struct source *best = NULL;

        for (size_t i = 0; i < n; i++) {
            struct source *s = &srcs[i];

            if (s->next < s->n &&
                (!best || pos_cmp(&s->rows[s->next].pos,
                                  &best->rows[best->next].pos) < 0))
                best = s;
        }
        if (!best)
            break;
        if (done == req->limit) {
            *more = true;
            break;
        }
        rc = cb(&best->rows[best->next++], ud);
    }
    return rc;
}

/* Every table the request may read, twice: rows and tombstones. */
static struct source *sources(const struct fy_read_req *req, struct fy_arena *a,
                              size_t *n)
{
    const struct fy_contract *c = req->contract;
    struct source *srcs = fy_arena_calloc(a, 2 * c->ntables + 1, sizeof(*srcs));

    *n = 0;
    for (size_t i = 0; srcs && i < c->ntables; i++) {
        if (c->tables[i].read == FY_READ_NONE)
            continue;
        for (int del = 0; del < 2; del++) {
            struct source *s = &srcs[(*n)++];

            s->t = &c->tables[i];
            s->del = del;
            s->cap = req->limit + 1;
            s->rows = fy_arena_calloc(a, s->cap, sizeof(*s->rows));
            if (!s->rows)
                return NULL;
        }
    }
    return srcs;
}

int fy_store_read_changes(struct fy_store *st, const struct fy_read_req *req,
                          fy_read_row_fn *cb, void *ud, bool *more,
                          struct fy_read_mark *mark, struct ferry_err *err)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    struct fy_sql_q begin = {.sql = "{begin_read}", .what = "begin read"};
    struct fy_sql_q end = {.sql = "COMMIT", .what = "end read"};
    struct fy_sql_q undo = {.sql = "ROLLBACK", .what = "end read"};
    size_t n = 0;
    struct source *srcs = sources(req, &a, &n);
    int rc = srcs ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    *more = false;
    /* One snapshot for the mark and every table: one moment, no mix. */
    if (rc == 0)
        rc = fy_sql_run(st, &begin, err);
    if (rc < 0)
        goto out;
    rc = read_mark(st, mark, err);
    if (rc == 0)
        rc = check_mark(req, mark, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct reader rd = {.src = &srcs[i], .a = &a};

        rc = read_source(st, req, &rd, err);
    }
    if (rc == 0)
        rc = fy_sql_run(st, &end, err);
    else
        fy_sql_run(st, &undo, NULL);
    if (rc == 0)
        rc = merge(srcs, n, req, cb, ud, more);
out:
    fy_arena_reset(&a);
    return rc;
}

/* ---- pruning ------------------------------------------------------------ */

static int max_row(const char *const *cols, int n, void *ud)
{
    int64_t *max = ud, v = num(cols[0]);

    (void)n;
    if (v > *max)
        *max = v;
    return 0;
}

static int prune_table(struct fy_store *st, const struct fy_table *t,
                       uint64_t before_hlc, int64_t *max, long *pruned,
                       struct ferry_err *err)
{
    char sql[256];
    const struct fy_sql_arg args[] = {FY_SQL_I((int64_t)before_hlc)};
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = max_row,
                         .ud = max,
                         .what = "prune tombstones"};
    int rc;

    /* {horizon}: a tombstone no reader can see yet is not pruned. */
    snprintf(sql, sizeof(sql),
             "DELETE FROM {tomb:%s} WHERE _ferry_hlc < $1{horizon}"
             " RETURNING {ver_sel}",
             t->name);
    rc = fy_sql_run(st, &q, err);
    *pruned += q.changes;
    return rc;
}

int fy_store_prune_tombstones(struct fy_store *st, const struct fy_contract *c,
                              uint64_t before_hlc, long *pruned,
                              struct ferry_err *err)
{
    struct fy_sql_q begin = {.sql = "{begin_write}", .what = "begin prune"};
    struct fy_sql_q end = {.sql = "COMMIT", .what = "end prune"};
    struct fy_sql_q undo = {.sql = "ROLLBACK", .what = "end prune"};
    int64_t max = 0;
    int rc = fy_sql_run(st, &begin, err);

    *pruned = 0;
    for (size_t i = 0; rc == 0 && i < c->ntables; i++)
        rc = prune_table(st, &c->tables[i], before_hlc, &max, pruned, err);
    if (rc == 0 && *pruned > 0) {
        const struct fy_sql_arg args[] = {FY_SQL_I(max)};
        struct fy_sql_q mark = {
            .sql = "INSERT INTO {s}meta AS m (key, value) VALUES"
                   " ('prune_v', $1) ON CONFLICT (key) DO UPDATE SET"
                   " value = {max}(m.value, excluded.value)",
            .args = args,
            .nargs = FY_ARRAY_LEN(args),
            .what = "record pruning mark"};
        struct fy_sql_q epoch = {
            .sql = "INSERT INTO {s}meta AS m (key, value) VALUES"
                   " ('prune_epoch', 1) ON CONFLICT (key) DO UPDATE SET"
                   " value = m.value + 1",
            .what = "record pruning mark"};

        rc = fy_sql_run(st, &mark, err);
        if (rc == 0)
            rc = fy_sql_run(st, &epoch, err);
    }
    if (rc == 0)
        rc = fy_sql_run(st, &end, err);
    else
        fy_sql_run(st, &undo, NULL);
    return rc;
}
