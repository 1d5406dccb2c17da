/* SPDX-License-Identifier: MIT */
/*
 * The store side of the row API (/v1/tables/{table}/rows): one row read by
 * its key, the write locks that keep two writers of one row from losing an
 * update, and the remembered answers of Idempotency-Key requests. Written
 * once for both engines over the statement runner; the engines differ only
 * in dialect words ({hex}, {real}, {lock}, {ago}) and in whether row locks
 * are needed at all (the SQLite store has one writer at a time).
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql.h"
#include "util/hash.h"
#include "fy.h"

/* Result columns before the table's own: stamp, origin. */
#define LEAD_COLS 2

struct one_row {
    const struct fy_table *t;
    fy_read_row_fn *cb;
    void *ud;
    bool found;
};

static int got_row(const char *const *cols, int n, void *ud)
{
    struct one_row *o = ud;
    struct fy_read_row r = {.table = o->t};

    if ((size_t)n != LEAD_COLS + o->t->ncols)
        return FERRY_ESTORE;
    r.hlc = (uint64_t)strtoull(cols[0] ? cols[0] : "0", NULL, 10);
    r.origin = cols[1] ? cols[1] : "";
    r.vals = cols + LEAD_COLS;
    o->found = true;
    return o->cb ? o->cb(&r, o->ud) : 0;
}

static int got_hlc(const char *const *cols, int n, void *ud)
{
    (void)n;
    *(uint64_t *)ud = (uint64_t)strtoull(cols[0] ? cols[0] : "0", NULL, 10);
    return 0;
}

/*
 * The key's values as statement arguments, in the texts each engine reads
 * back as the column's type: integers and booleans as integers, reals with
 * every bit, bytea as lower-case hex compared with the stored bytes'
 * ({hex} is upper-case on SQLite). texts holds the arguments' own texts.
 */
static int key_args(const struct fy_table *t, const struct fy_val *key,
                    struct fy_sql_arg *args, struct fy_buf *texts, size_t *offs)
{
    for (size_t i = 0; i < t->npk; i++) {
        const struct fy_val *v = &key[i];

        offs[i] = texts->len;
        if (v->kind == FY_V_INT || v->kind == FY_V_BOOL)
            args[i] = (struct fy_sql_arg)FY_SQL_I(v->i);
        else if (v->kind == FY_V_REAL)
            fy_buf_addf(texts, "%.17g", v->d);
        else if (v->kind == FY_V_BLOB)
            for (size_t k = 0; k < v->len; k++)
                fy_buf_addf(texts, "%02x", (unsigned char)v->s[k]);
        else if (v->kind == FY_V_TEXT)
            fy_buf_add(texts, v->s, v->len);
        else
            return FERRY_EINVAL; /* a key value is never NULL */
        fy_buf_addc(texts, '\0');
    }
    if (fy_buf_error(texts))
        return FERRY_ENOMEM;
    /* The buffer has stopped moving: point the text arguments into it. */
    for (size_t i = 0; i < t->npk; i++) {
        if (key[i].kind != FY_V_INT && key[i].kind != FY_V_BOOL)
            args[i] = (struct fy_sql_arg){.kind = FY_SQL_TEXT,
                                          .s = texts->data + offs[i]};
    }
    return 0;
}

static void key_where(struct fy_buf *b, const struct fy_table *t)
{
    for (size_t i = 0; i < t->npk; i++) {
        const struct fy_column *c = &t->cols[t->pk[i]];

        fy_buf_adds(b, i ? " AND " : " WHERE ");
        if (c->type == FY_T_BYTEA) {
            fy_buf_adds(b, "lower({hex:x.");
            fy_buf_add_ident(b, c->name);
            fy_buf_adds(b, "})");
        } else {
            fy_buf_adds(b, "x.");
            fy_buf_add_ident(b, c->name);
        }
        fy_buf_addf(b, " = $%zu", i + 1);
    }
}

static int run_keyed(struct fy_store *st, const char *sql,
                     const struct fy_sql_arg *args, size_t n,
                     fy_sql_row_fn *row, void *ud, struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .nargs = n,
                         .row = row,
                         .ud = ud,
                         .what = "read row"};

    return fy_sql_run(st, &q, err);
}

static int row_stmts(const struct fy_table *t, bool lock, struct fy_buf *row,
                     struct fy_buf *tomb)
{
    fy_buf_adds(row, "SELECT x._ferry_hlc, x._ferry_origin");
    for (size_t i = 0; i < t->ncols; i++) {
        fy_buf_adds(row, ", ");
        fy_sql_select_col(row, &t->cols[i], "x.");
    }
    fy_buf_adds(row, " FROM ");
    fy_buf_add_ident(row, t->name);
    fy_buf_adds(row, " x");
    key_where(row, t);
    if (lock)
        fy_buf_adds(row, "{lock}");
    fy_buf_addf(tomb, "SELECT x._ferry_hlc FROM {tomb:%s} x", t->name);
    key_where(tomb, t);
    return fy_buf_error(row) || fy_buf_error(tomb) ? FERRY_ENOMEM : 0;
}

int fy_store_row_get(struct fy_store *st, const struct fy_table *t,
                     const struct fy_val *key, bool lock, fy_read_row_fn *cb,
                     void *ud, bool *found, uint64_t *tomb_hlc,
                     struct ferry_err *err)
{
    struct fy_buf row = FY_BUF_INIT(0), tomb = FY_BUF_INIT(0);
    struct fy_buf texts = FY_BUF_INIT(0);
    struct fy_sql_arg args[FY_SQL_MAX_ARGS];
    size_t offs[FY_SQL_MAX_ARGS];
    struct one_row o = {.t = t, .cb = cb, .ud = ud};
    int rc;

    *found = false;
    if (t->npk > FY_SQL_MAX_ARGS || LEAD_COLS + t->ncols > FY_SQL_MAX_COLS)
        return fy_err_set(err, FERRY_ESTORE, "table '%s': too many columns",
                          t->name);
    rc = row_stmts(t, lock, &row, &tomb);
    if (rc == 0)
        rc = key_args(t, key, args, &texts, offs);
    if (rc < 0) {
        rc = fy_err_set(err, rc, "%s",
                        rc == FERRY_ENOMEM ? "out of memory" : "no key value");
        goto out;
    }
    if (tomb_hlc)
        *tomb_hlc = 0;
    rc = run_keyed(st, row.data, args, t->npk, got_row, &o, err);
    /*
     * A tombstone only keeps a key from being inserted again: an update of
     * a row that is there never looks at it (and a tombstone newer than
     * the row would have deleted it, unless another region's).
     */
    if (rc == 0 && tomb_hlc && !o.found)
        rc = run_keyed(st, tomb.data, args, t->npk, got_hlc, tomb_hlc, err);
    if (rc == FERRY_ENOMEM || rc == FERRY_ESTORE)
        rc = fy_err_set(err, rc, "cannot read a row of '%s'", t->name);
    *found = o.found;
out:
    fy_buf_release(&row);
    fy_buf_release(&tomb);
    fy_buf_release(&texts);
    return rc;
}

/* ---- trace (GET /v1/trace) --------------------------------------------- */

/* A trace's columns before the table's: version pair, stamp, origin. */
#define TRACE_LEAD 4

static int64_t num64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static int got_traced_row(const char *const *cols, int n, void *ud)
{
    struct one_row *o = ud;
    struct fy_read_row r = {.table = o->t};

    if ((size_t)n != TRACE_LEAD + o->t->ncols)
        return FERRY_ESTORE;
    r.pos.v = num64(cols[0]);
    r.pos.s = num64(cols[1]);
    r.hlc = (uint64_t)num64(cols[2]);
    r.origin = cols[3] ? cols[3] : "";
    r.vals = cols + TRACE_LEAD;
    o->found = true;
    return o->cb ? o->cb(&r, o->ud) : 0;
}

static int got_tomb(const char *const *cols, int n, void *ud)
{
    struct fy_trace_tomb *tb = ud;

    if (n != 5)
        return FERRY_ESTORE;
    tb->pos.v = num64(cols[0]);
    tb->pos.s = num64(cols[1]);
    tb->hlc = (uint64_t)num64(cols[2]);
    tb->origin = fy_strdup(cols[3] ? cols[3] : "");
    tb->region = cols[4] ? fy_strdup(cols[4]) : NULL;
    tb->found = true;
    return !tb->origin || (cols[4] && !tb->region) ? FERRY_ENOMEM : 0;
}

static int trace_stmts(const struct fy_table *t, struct fy_buf *row,
                       struct fy_buf *tomb)
{
    fy_buf_adds(row, "SELECT {ver_sel}, x._ferry_hlc, x._ferry_origin");
    for (size_t i = 0; i < t->ncols; i++) {
        fy_buf_adds(row, ", ");
        fy_sql_select_col(row, &t->cols[i], "x.");
    }
    fy_buf_adds(row, " FROM ");
    fy_buf_add_ident(row, t->name);
    fy_buf_adds(row, " x");
    key_where(row, t);
    fy_buf_addf(tomb,
                "SELECT {ver_sel}, x._ferry_hlc, x._ferry_origin,"
                " x._ferry_region FROM {tomb:%s} x",
                t->name);
    key_where(tomb, t);
    return fy_buf_error(row) || fy_buf_error(tomb) ? FERRY_ENOMEM : 0;
}

int fy_store_row_trace(struct fy_store *st, const struct fy_table *t,
                       const struct fy_val *key, fy_read_row_fn *row_cb,
                       void *ud, struct fy_trace_tomb *tomb,
                       struct ferry_err *err)
{
    struct fy_buf row = FY_BUF_INIT(0), tb = FY_BUF_INIT(0);
    struct fy_buf texts = FY_BUF_INIT(0);
    struct fy_sql_arg args[FY_SQL_MAX_ARGS];
    size_t offs[FY_SQL_MAX_ARGS];
    struct one_row o = {.t = t, .cb = row_cb, .ud = ud};
    int rc;

    *tomb = (struct fy_trace_tomb){0};
    if (t->npk > FY_SQL_MAX_ARGS || TRACE_LEAD + t->ncols > FY_SQL_MAX_COLS)
        return fy_err_set(err, FERRY_ESTORE, "table '%s': too many columns",
                          t->name);
    rc = trace_stmts(t, &row, &tb);
    if (rc == 0)
        rc = key_args(t, key, args, &texts, offs);
    if (rc == 0)
        rc = run_keyed(st, row.data, args, t->npk, got_traced_row, &o, err);
    /* Both in every case: a stale tombstone beside a row is part of why. */
    if (rc == 0)
        rc = run_keyed(st, tb.data, args, t->npk, got_tomb, tomb, err);
    if (rc == FERRY_ENOMEM || rc == FERRY_ESTORE || rc == FERRY_EINVAL)
        rc = fy_err_set(err, rc, "cannot trace a row of '%s'", t->name);
    if (rc < 0)
        fy_store_trace_release(tomb);
    fy_buf_release(&row);
    fy_buf_release(&tb);
    fy_buf_release(&texts);
    return rc;
}

void fy_store_trace_release(struct fy_trace_tomb *tomb)
{
    if (!tomb)
        return;
    fy_free(tomb->origin);
    fy_free(tomb->region);
    *tomb = (struct fy_trace_tomb){0};
}

static int got_device(const char *const *cols, int n, void *ud)
{
    struct fy_trace_device *d = ud;

    if (n != 2)
        return FERRY_ESTORE;
    d->known = true;
    d->acked_seq = num64(cols[0]);
    d->last_push_at = num64(cols[1]);
    return 0;
}

static int got_device_key(const char *const *cols, int n, void *ud)
{
    struct fy_trace_device *d = ud;

    (void)n;
    if (d->has_key)
        return 0; /* the newest key came first */
    d->known = d->has_key = true;
    d->region = cols[0] ? fy_strdup(cols[0]) : NULL;
    return cols[0] && !d->region ? FERRY_ENOMEM : 0;
}

int fy_store_trace_device(struct fy_store *st, const char *device,
                          struct fy_trace_device *d, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(device)};
    struct fy_sql_q seq = {
        .sql = "SELECT acked_seq, coalesce({epoch:last_push_at}, 0) FROM"
               " {s}devices WHERE device = $1",
        .args = args,
        .nargs = 1,
        .row = got_device,
        .ud = d,
        .what = "read device"};
    /* Admin keys read every region: as /v1/changes treats them. */
    struct fy_sql_q key = {
        .sql = "SELECT CASE WHEN admin THEN NULL ELSE region END FROM"
               " {s}api_keys WHERE device = $1 AND revoked_at IS NULL"
               " AND (expires_at IS NULL OR expires_at > {now})"
               " ORDER BY created_at DESC, id DESC",
        .args = args,
        .nargs = 1,
        .row = got_device_key,
        .ud = d,
        .what = "read device's keys"};
    int rc;

    *d = (struct fy_trace_device){0};
    rc = fy_sql_run(st, &seq, err);
    if (rc == 0)
        rc = fy_sql_run(st, &key, err);
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, rc, "out of memory");
    if (rc < 0)
        fy_store_trace_device_release(d);
    return rc;
}

void fy_store_trace_device_release(struct fy_trace_device *d)
{
    if (!d)
        return;
    fy_free(d->region);
    d->region = NULL;
}

/* ---- write locks ------------------------------------------------------- */

/*
 * The lock id of a row: FNV-1a over the table's name, a NUL and the
 * canonical key's bytes. Every ferryd on one store must compute the same
 * id for the same row, so this formula is part of the store's format.
 */
static int64_t lock_id(const struct fy_change *ch)
{
    const char *name = ch->table->name;
    /* The name with its NUL: the separator from the key. */
    uint64_t h = fy_fnv1a(FY_FNV_SEED, name, strlen(name) + 1);

    return (int64_t)fy_fnv1a(h, ch->key, ch->keylen);
}

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return a < b ? -1 : a > b;
}

int fy_store_row_lock(struct fy_store *st, struct fy_change *const *chs,
                      size_t n, struct ferry_err *err)
{
    /* unnest hands the ids over in the array's order: the locks' order. */
    struct fy_sql_q q = {.sql = "SELECT pg_advisory_xact_lock(x) FROM"
                                " unnest($1::bigint[]) x",
                         .nargs = 1,
                         .what = "lock rows"};
    struct fy_buf list = FY_BUF_INIT(0);
    int64_t *ids;
    int rc;

    /* One writer at a time (the SQLite store) needs no lock of its own. */
    if (!fy_store_concurrent(st) || n == 0)
        return 0;
    ids = fy_calloc(n, sizeof(*ids));
    if (!ids)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = lock_id(chs[i]);
    /*
     * In ascending order, each once: two requests locking overlapping rows
     * take them in one order and cannot deadlock on each other.
     */
    qsort(ids, n, sizeof(*ids), cmp_id);
    fy_buf_addc(&list, '{');
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || ids[i] != ids[i - 1])
            fy_buf_addf(&list, "%s%lld", i ? "," : "", (long long)ids[i]);
    }
    fy_buf_addc(&list, '}');
    if (fy_buf_error(&list)) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    } else {
        const struct fy_sql_arg args[] = {FY_SQL_S(list.data)};

        q.args = args;
        rc = fy_sql_run(st, &q, err);
    }
    fy_buf_release(&list);
    fy_free(ids);
    return rc;
}

/* ---- remembered answers (Idempotency-Key) ------------------------------- */

struct idem_row {
    const char *hash;
    enum fy_idem_state *state;
    int *status;
    struct fy_buf *answer;
};

static int got_idem(const char *const *cols, int n, void *ud)
{
    struct idem_row *r = ud;

    (void)n;
    if (!cols[0] || strcmp(cols[0], r->hash) != 0) {
        *r->state = FY_IDEM_OTHER;
        return 0;
    }
    *r->state = FY_IDEM_SAME;
    *r->status = cols[1] ? (int)strtol(cols[1], NULL, 10) : 0;
    return fy_buf_adds(r->answer, cols[2] ? cols[2] : "");
}

/* A record older than max_age_s is gone, whether cleaned yet or not. */
static int drop_old(struct fy_store *st, const struct fy_sql_arg *args,
                    int64_t max_age_s, struct ferry_err *err)
{
    char sql[200];
    struct fy_sql_q q = {
        .sql = sql, .args = args, .nargs = 2, .what = "expire idempotency key"};

    snprintf(sql, sizeof(sql),
             "DELETE FROM {s}idempotency WHERE key_id = $1 AND idem_key = $2"
             " AND created_at < {ago:%lld}",
             (long long)max_age_s);
    return fy_sql_run(st, &q, err);
}

int fy_store_idem_claim(struct fy_store *st, const struct fy_idem *id,
                        int64_t max_age_s, enum fy_idem_state *state,
                        int *status, struct fy_buf *answer,
                        struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(id->key_id), FY_SQL_S(id->key),
                                      FY_SQL_S(id->hash)};
    struct idem_row r = {id->hash, state, status, answer};
    /*
     * The claim is the first write: a second request with the same key
     * waits here (PostgreSQL: for the first one's transaction; SQLite: for
     * the writer lock) and then finds the first one's answer committed.
     */
    struct fy_sql_q claim = {
        .sql = "INSERT INTO {s}idempotency (key_id, idem_key, request_hash)"
               " VALUES ($1, $2, $3) ON CONFLICT (key_id, idem_key) DO NOTHING",
        .args = args,
        .nargs = 3,
        .what = "claim idempotency key"};
    struct fy_sql_q read = {
        .sql = "SELECT request_hash, status, answer FROM {s}idempotency"
               " WHERE key_id = $1 AND idem_key = $2",
        .args = args,
        .nargs = 2,
        .row = got_idem,
        .ud = &r,
        .what = "read idempotency key"};
    int rc = drop_old(st, args, max_age_s, err);

    *state = FY_IDEM_NEW;
    *status = 0;
    if (rc == 0)
        rc = fy_sql_run(st, &claim, err);
    if (rc == 0 && claim.changes == 0)
        rc = fy_sql_run(st, &read, err);
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, rc, "out of memory");
    return rc;
}

int fy_store_idem_done(struct fy_store *st, const struct fy_idem *id,
                       int status, const char *answer, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(id->key_id), FY_SQL_S(id->key),
                                      FY_SQL_I(status), FY_SQL_S(answer)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}idempotency SET status = $3, answer = $4"
               " WHERE key_id = $1 AND idem_key = $2",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "record idempotent answer"};

    return fy_sql_run(st, &q, err);
}

int fy_store_idem_expire(struct fy_store *st, int64_t max_age_s, long *removed,
                         struct ferry_err *err)
{
    char sql[128];
    struct fy_sql_q q = {.sql = sql, .what = "expire idempotency keys"};
    int rc;

    snprintf(sql, sizeof(sql),
             "DELETE FROM {s}idempotency WHERE created_at < {ago:%lld}",
             (long long)max_age_s);
    rc = fy_sql_run(st, &q, err);
    *removed = rc == 0 ? q.changes : 0;
    return rc;
}
