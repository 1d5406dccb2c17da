/* SPDX-License-Identifier: MIT */
/*
 * The row API's write transaction (see rows.h): under row locks, read each
 * row, refuse what needs a row that is not there or is another region's,
 * check the blobs the request names, stamp each change above what is
 * stored, write whole rows through the push apply, and remember the answer
 * of an Idempotency-Key request, in one commit.
 */
#include "server/rows_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob.h"
#include "server/push.h"
#include "server/metrics.h"
#include "fy.h"

/* Writes that lose a race with a push stamped ahead of them run again. */
#define MAX_ATTEMPTS 3
/* How often a ferryd removes expired Idempotency-Key answers. */
#define IDEM_EXPIRE_EVERY_MS (10 * 60 * 1000)

/* ---- the request object ------------------------------------------------- */

void fy_rows_req_init(struct fy_rows_req *w, struct fy_api *api,
                      const struct fy_key *key, enum fy_rows_op op)
{
    *w = (struct fy_rows_req){.api = api,
                              .key = key,
                              .op = op,
                              .a = FY_ARENA_INIT(0),
                              .hold = json_array()};
    fy_validate_init(&w->v, api->contract, key, &w->a, "index");
}

void fy_rows_req_release(struct fy_rows_req *w)
{
    fy_validate_release(&w->v);
    json_decref(w->hold);
    free(w->text); /* jansson's allocation */
    fy_arena_reset(&w->a);
}

/* Keeps j (reference stolen) alive as long as the request. */
json_t *fy_rows_hold(struct fy_rows_req *w, json_t *j)
{
    if (j && json_array_append_new(w->hold, j) < 0)
        return NULL;
    return j;
}

int fy_rows_wire(struct ferry_err *err, int rc, enum ferry_wire wire)
{
    if (err) {
        err->wire = wire;
        err->status = ferry_wire_status(wire);
    }
    return rc;
}

/* ---- values on the wire --------------------------------------------- */

/* A typed value as the store prints it, then as GET and pull encode it. */
static json_t *val_json(const struct fy_column *col, const struct fy_val *v)
{
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j = NULL;

    switch (v->kind) {
    case FY_V_INT:
        fy_buf_addf(&b, "%lld", (long long)v->i);
        break;
    case FY_V_BOOL:
        fy_buf_adds(&b, v->i ? "t" : "f");
        break;
    case FY_V_REAL:
        fy_buf_addf(&b, "%.17g", v->d);
        break;
    case FY_V_BLOB:
        for (size_t i = 0; i < v->len; i++)
            fy_buf_addf(&b, "%02x", (unsigned char)v->s[i]);
        break;
    case FY_V_TEXT:
        fy_buf_add(&b, v->s, v->len);
        break;
    default:
        fy_buf_release(&b);
        return json_null();
    }
    if (!fy_buf_error(&b))
        j = fy_val_store_json(col, b.data);
    fy_buf_release(&b);
    return j;
}

static json_t *key_json(struct fy_rows_req *w, const struct fy_change *ch)
{
    const struct fy_table *t = w->t;
    json_t *k = json_object();

    for (size_t i = 0; k && i < t->npk; i++) {
        const struct fy_column *col = &t->cols[t->pk[i]];

        if (json_object_set_new(k, col->name,
                                val_json(col, &ch->vals[t->pk[i]])) < 0) {
            json_decref(k);
            return NULL;
        }
    }
    return k;
}

static const char *outcome_name(enum fy_row_outcome o)
{
    return o == FY_ROW_CREATED   ? "created"
           : o == FY_ROW_UPDATED ? "updated"
           : o == FY_ROW_DELETED ? "deleted"
                                 : "unchanged";
}

/* The answer of a write: one row's result, or every row's and totals. */
static json_t *write_answer(struct fy_rows_req *w)
{
    json_t *results;
    json_int_t created = 0, updated = 0;

    if (!w->array)
        return json_pack("{s:s, s:o*}", "result",
                         outcome_name(w->chs[0].outcome), "key",
                         key_json(w, &w->chs[0]));
    results = json_array();
    for (size_t i = 0; results && i < w->n; i++) {
        created += w->chs[i].outcome == FY_ROW_CREATED;
        updated += w->chs[i].outcome == FY_ROW_UPDATED;
        if (json_array_append_new(
                results, json_pack("{s:s, s:o*}", "result",
                                   outcome_name(w->chs[i].outcome), "key",
                                   key_json(w, &w->chs[i]))) < 0) {
            json_decref(results);
            return NULL;
        }
    }
    return json_pack("{s:o*, s:I, s:I}", "results", results, "created", created,
                     "updated", updated);
}

static int answer_text(struct fy_rows_req *w, struct ferry_err *err)
{
    json_t *j = write_answer(w);

    free(w->text); /* jansson's allocation */
    w->text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return w->text ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* ---- the write transaction ---------------------------------------------- */

/* What the stored row says, as the write needs it. */
struct stored {
    struct fy_rows_req *w;
    const struct fy_change *ch;
    uint64_t hlc;
    bool other_region;   /* of another region than the key's */
    struct fy_val *vals; /* the columns ch leaves out, as stored */
};

/*
 * A stored value as a value of the request: through its wire JSON, as
 * pulled rows and snapshots convert them. One that does not convert stays
 * left out, and the store keeps it (a partial write).
 */
static void keep_value(struct fy_rows_req *w, const struct fy_column *col,
                       const char *text, struct fy_val *out)
{
    json_t *j = fy_rows_hold(w, fy_val_store_json(col, text));
    char why[200];

    if (!j || fy_val_from_json(col, j, &w->a, out, why, sizeof(why)) < 0)
        *out = (struct fy_val){.kind = FY_V_ABSENT};
}

static int keep_stored(const struct fy_read_row *r, void *ud)
{
    struct stored *s = ud;
    const struct fy_table *t = r->table;
    const char *scope = t->region_col >= 0 ? s->w->key->region : NULL;
    const char *region = t->region_col >= 0 ? r->vals[t->region_col] : NULL;

    s->hlc = r->hlc;
    s->other_region = scope && (!region || strcmp(region, scope) != 0);
    s->vals = fy_arena_calloc(&s->w->a, t->ncols, sizeof(*s->vals));
    if (!s->vals)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < t->ncols; i++) {
        s->vals[i].kind = FY_V_ABSENT;
        if (s->ch->vals[i].kind == FY_V_ABSENT)
            keep_value(s->w, &t->cols[i], r->vals[i], &s->vals[i]);
    }
    return 0;
}

/* Newer than the stored row, its tombstone and the server's clock. */
static uint64_t stamp(uint64_t stored, uint64_t tomb)
{
    uint64_t hlc = (uint64_t)fy_now_ms() << 16;

    if (stored >= hlc)
        hlc = stored + 1;
    if (tomb >= hlc)
        hlc = tomb + 1;
    return hlc;
}

/*
 * A column left out keeps its stored value; a new row gets the column's
 * default there, or NULL, which a NOT NULL column refuses.
 */
static int check_new_row(struct fy_rows_req *w, struct fy_change *ch)
{
    for (size_t i = 0; i < w->t->ncols; i++) {
        if (ch->vals[i].kind == FY_V_ABSENT && w->t->cols[i].not_null &&
            !w->t->cols[i].def)
            return fy_validate_reject(&w->v, ch->seq, FERRY_WIRE_MISSING_VALUE,
                                      "table '%s': column '%s' needs a value"
                                      " (the row is new)",
                                      w->t->name, w->t->cols[i].name);
    }
    return 0;
}

/*
 * Reads one change's row under the row locks and decides: a PATCH or
 * DELETE needs a row, a row of another region is not the key's, and the
 * change is stamped above what is stored. The columns it leaves out are
 * kept as stored in w->kept[ch->seq], for fill_absent.
 */
static int prepare_change(struct fy_rows_req *w, struct fy_store *st,
                          struct fy_change *ch, struct ferry_err *err)
{
    const struct fy_table *t = w->t;
    struct fy_val *key = fy_arena_calloc(&w->a, t->npk, sizeof(*key));
    struct stored s = {.w = w, .ch = ch};
    uint64_t tomb = 0;
    bool found = false;
    int rc;

    if (!key)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->npk; i++)
        key[i] = ch->vals[t->pk[i]];
    rc =
        fy_store_row_get(st, t, key, true, keep_stored, &s, &found, &tomb, err);
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, rc, "out of memory");
    if (rc < 0)
        return rc;
    if (!found && w->op != FY_ROWS_POST)
        return fy_validate_reject(&w->v, ch->seq, FERRY_WIRE_ROW_NOT_FOUND,
                                  "table '%s' has no such row", t->name);
    if (found && s.other_region)
        return fy_validate_reject(&w->v, ch->seq, FERRY_WIRE_REGION_SCOPE,
                                  "table '%s': the row is outside this key's"
                                  " region '%s'",
                                  t->name, w->key->region);
    if (!found && (rc = check_new_row(w, ch)) < 0)
        return rc;
    w->kept[ch->seq] = s.vals;
    ch->hlc = stamp(s.hlc, tomb);
    return 0;
}

/*
 * A column a write leaves out keeps its stored value. The row is locked
 * (row locks, FOR UPDATE, or SQLite's one writer) from the read above to
 * the commit, so writing the stored value back is the same as leaving it
 * alone, and the change becomes a whole row: the stores' plain upsert,
 * which also holds for NOT NULL columns (an INSERT ... ON CONFLICT checks
 * the row it would insert first). A new row gets the column's default
 * there (a kept value: the row is locked, so no one stored it meanwhile),
 * or NULL.
 */
static void fill_absent(struct fy_rows_req *w)
{
    size_t ncols = w->t->ncols;

    for (size_t i = 0; i < w->n; i++) {
        struct fy_change *ch = &w->chs[i];

        if (!w->filled)
            memcpy(w->asked[i], ch->vals, ncols * sizeof(*ch->vals));
        ch->partial = false;
        for (size_t c = 0; !ch->del && c < ncols; c++) {
            if (ch->vals[c].kind != FY_V_ABSENT)
                continue;
            if (w->kept[i])
                ch->vals[c] = w->kept[i][c];
            else if (!w->t->cols[c].def ||
                     fy_validate_default(&w->t->cols[c], &w->a, &ch->vals[c]) <
                         0)
                ch->vals[c] = (struct fy_val){0};
            ch->partial |= fy_val_left_out(&ch->vals[c]);
        }
    }
    w->filled = true;
}

/* Another attempt starts from the request's own values. */
static void restore_asked(struct fy_rows_req *w)
{
    for (size_t i = 0; i < w->n; i++) {
        w->kept[i] = NULL;
        if (w->filled)
            memcpy(w->chs[i].vals, w->asked[i],
                   w->t->ncols * sizeof(*w->chs[i].vals));
    }
}

/* A row names a blob the store does not hold complete: 422 missing_blob. */
static int check_blobs(struct fy_rows_req *w, struct fy_store *st,
                       struct ferry_err *err)
{
    const struct fy_change *bad = NULL;
    int rc = fy_blob_refs_check(st, w->ptrs, w->n, &bad, err);

    if (rc == FERRY_ECONTRACT && bad)
        return fy_validate_reject(&w->v, bad->seq, FERRY_WIRE_MISSING_BLOB,
                                  "%s", err ? err->msg : "a blob is missing");
    return rc;
}

/* The failure of a request whose rows were refused (w->v has them). */
int fy_rows_refused(struct fy_rows_req *w, struct ferry_err *err)
{
    int rc = ferry_wire_err(w->v.wire);

    if (w->array)
        fy_err_status(err, rc, w->v.status,
                      "%ld of %zu rows were refused; nothing was written;"
                      " first: %s",
                      w->v.nbad, w->n, w->v.msg);
    else
        fy_err_status(err, rc, w->v.status, "%s", w->v.msg);
    return fy_rows_wire(err, rc, (enum ferry_wire)w->v.wire);
}

static int apply_rows(struct fy_rows_req *w, struct fy_store *st, bool *stale,
                      struct ferry_err *err)
{
    struct fy_apply_batch b = {
        .table = w->t,
        .device = w->key->device,
        .scope_region = w->t->region_col >= 0 ? w->key->region : NULL,
        .changes = w->ptrs,
        .n = w->n};
    struct fy_apply_stats stats = {0};
    int rc;

    for (size_t i = 0; i < w->n; i++)
        b.ndel += w->chs[i].del;
    rc = fy_store_push_apply(st, &b, &stats, err);
    *stale = rc == 0 && stats.stale > 0;
    return rc;
}

/*
 * One attempt of the transaction. It is the push transaction of the key's
 * device (fy_store_push_begin/commit) rather than one of its own: that
 * frame already sets what the engines need for a write (PostgreSQL's UTC
 * session, SQLite's revision counter), records the device's activity and
 * wakes waiting pulls on every ferryd (NOTIFY) at commit. Its device row
 * lock also runs one key's writes one after another, as its pushes are.
 * Writers of one row with different keys meet in fy_store_row_lock.
 */
static int attempt(struct fy_rows_req *w, struct fy_store *st,
                   struct fy_rows_replay *rp, bool *stale,
                   struct ferry_err *err)
{
    enum fy_idem_state is = FY_IDEM_NEW;
    int64_t acked = 0;
    int rc = fy_store_push_begin(st, w->key->device, &acked, err);

    if (rc == 0 && w->idem.key)
        rc = fy_store_idem_claim(st, &w->idem, FY_ROWS_IDEM_TTL_S, &is,
                                 &rp->status, &rp->body, err);
    if (rc == 0 && is != FY_IDEM_NEW) {
        fy_store_push_rollback(st);
        if (is == FY_IDEM_OTHER)
            return fy_rows_wire(err,
                                fy_err_set(err, FERRY_ECONTRACT,
                                           "this Idempotency-Key was used for"
                                           " another request"),
                                FERRY_WIRE_IDEMPOTENCY_REUSED);
        return 0;
    }
    rp->status = 0;
    restore_asked(w);
    if (rc == 0)
        rc = fy_store_row_lock(st, w->ptrs, w->n, err);
    for (size_t i = 0; rc == 0 && i < w->n; i++)
        rc = prepare_change(w, st, &w->chs[i], err);
    /* Only the blobs the request names: what is stored was checked. */
    if (rc == 0)
        rc = check_blobs(w, st, err);
    if (rc == 0)
        fill_absent(w);
    if (rc == FERRY_ECONTRACT && w->v.nbad)
        rc = fy_rows_refused(w, err);
    if (rc == 0)
        rc = apply_rows(w, st, stale, err);
    if (rc == 0 && !*stale)
        rc = answer_text(w, err);
    if (rc == 0 && !*stale && w->idem.key)
        rc = fy_store_idem_done(st, &w->idem, 200, w->text, err);
    if (rc == 0 && !*stale) {
        fy_push_hold_commit(w->key->device);
        rc = fy_store_push_commit(st, w->key->device, acked, (long)w->n, err);
        for (size_t i = 0; rc == 0 && i < w->n; i++)
            fy_metrics_rows(w->t, w->chs[i].outcome, 1);
        return rc;
    }
    fy_store_push_rollback(st);
    return rc;
}

/* ---- running a write ---------------------------------------------------- */

/* When this process next removes expired Idempotency-Key answers. */
static int64_t next_expire_ms;

/*
 * At most once per interval per process (one request wins the
 * compare-and-swap); several ferryd doing it at once is harmless.
 */
static void maybe_expire(struct fy_store *st)
{
    int64_t now = fy_now_ms();
    int64_t due = __atomic_load_n(&next_expire_ms, __ATOMIC_RELAXED);
    struct ferry_err err = {0};
    long removed = 0;

    if (now < due || !__atomic_compare_exchange_n(
                         &next_expire_ms, &due, now + IDEM_EXPIRE_EVERY_MS,
                         false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    if (fy_store_idem_expire(st, FY_ROWS_IDEM_TTL_S, &removed, &err) < 0)
        fy_warn("rows", "cannot remove expired idempotency keys: %s", err.msg);
    else if (removed)
        fy_info("rows", "removed %ld expired idempotency keys", removed);
}

/*
 * Runs the transaction until no change of it lost to a write stamped
 * ahead of it (an agent's push racing a new row: row locks cannot cover a
 * row that does not exist yet), at most MAX_ATTEMPTS times.
 */
int fy_rows_run(struct fy_rows_req *w, struct fy_rows_replay *rp,
                struct ferry_err *err)
{
    struct fy_store *st = NULL;
    bool stale = true;
    int rc;

    /* An empty array writes nothing: nothing to ask the store either. */
    if (w->n == 0)
        return answer_text(w, err);
    rc = fy_store_pool_get(w->api->pool, w->api->pool_wait_ms, &st, err);
    if (rc < 0)
        return rc;
    maybe_expire(st);
    for (int i = 0; rc == 0 && stale && i < MAX_ATTEMPTS; i++) {
        stale = false;
        rc = attempt(w, st, rp, &stale, err);
    }
    fy_store_pool_put(w->api->pool, st);
    if (rc == 0 && stale)
        return fy_rows_wire(err,
                            fy_err_set(err, FERRY_EBUSY,
                                       "table '%s': concurrent writes won %d"
                                       " times; retry later",
                                       w->t->name, MAX_ATTEMPTS),
                            FERRY_WIRE_SERVER_BUSY);
    if (rc == 0 && rp->status == 0 && w->api->notify)
        fy_notify_bump(w->api->notify);
    return rc;
}
