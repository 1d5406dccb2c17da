/* SPDX-License-Identifier: MIT */
/*
 * Push validation, grouping and apply; see push.h. Validation (each
 * change's shape here, its row in validate.c) runs before the store is
 * touched, so a bad batch changes nothing. Grouping keeps one
 * change per key (the last in seq order) so a set-based upsert never sees a
 * key twice.
 */
#include "server/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "server/blob.h"
#include "server/push_parse.h"
#include "server/validate.h"
#include "server/metrics.h"
#include "util/hash.h"
#include "fy.h"

/*
 * The verdict on a parsed batch: any change refused refuses all, with the
 * worst status among them (403 over 404 over 422).
 */
static int verdict(const struct fy_validate *v, size_t n, struct ferry_err *err)
{
    if (!v->nbad)
        return 0;
    return fy_err_status(err,
                         v->status == 403   ? FERRY_EFORBIDDEN
                         : v->status == 404 ? FERRY_ENOTFOUND
                                            : FERRY_ECONTRACT,
                         v->status,
                         "%ld of %zu changes were rejected;"
                         " nothing was applied",
                         v->nbad, n);
}

/* ---- grouping --------------------------------------------------------- */

struct slot {
    const struct fy_table *t;
    struct fy_change **where; /* position in its table's list */
};

/* FNV-1a over all len bytes of the key (which may hold NULs). */
static uint64_t hash_key(const struct fy_table *t, const char *key, size_t len)
{
    return fy_fnv1a(FY_FNV_SEED ^ (uint64_t)(uintptr_t)t, key, len);
}

static bool same_key(const struct fy_change *a, const struct fy_change *b)
{
    return a->table == b->table && a->keylen == b->keylen &&
           memcmp(a->key, b->key, a->keylen) == 0;
}

static struct slot *find_slot(struct slot *slots, size_t cap,
                              const struct fy_change *ch)
{
    size_t i = (size_t)hash_key(ch->table, ch->key, ch->keylen) & (cap - 1);

    while (slots[i].t && !same_key(*slots[i].where, ch))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/*
 * Fills one apply batch per table (contract order) from the changes above
 * acked, keeping the last change for each key.
 */
static int group(struct fy_arena *a, const struct fy_contract *c,
                 struct fy_change *chs, size_t n, int64_t acked,
                 struct fy_apply_batch *groups)
{
    size_t cap = 16;
    struct slot *slots;

    while (cap < 2 * n)
        cap *= 2;
    slots = fy_arena_calloc(a, cap, sizeof(*slots));
    for (size_t t = 0; slots && t < c->ntables; t++) {
        groups[t].table = &c->tables[t];
        groups[t].changes = fy_arena_calloc(a, n, sizeof(struct fy_change *));
        if (!groups[t].changes)
            return FERRY_ENOMEM;
    }
    if (!slots)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct fy_apply_batch *g = &groups[(size_t)(chs[i].table - c->tables)];
        struct slot *s;

        if (chs[i].seq <= acked)
            continue;
        s = find_slot(slots, cap, &chs[i]);
        if (s->t) {
            g->ndel -= (*s->where)->del;
            *s->where = &chs[i];
        } else {
            s->t = chs[i].table;
            s->where = &g->changes[g->n++];
            *s->where = &chs[i];
        }
        g->ndel += chs[i].del;
    }
    return 0;
}

/* Applies each table's batch; ts gets each one's totals, res their sum. */
static int apply_groups(struct fy_store *st, const struct fy_key *key,
                        struct fy_apply_batch *groups, size_t ngroups,
                        struct fy_apply_stats *ts, struct fy_push_result *res,
                        struct ferry_err *err)
{
    for (size_t t = 0; t < ngroups; t++) {
        struct fy_apply_batch *g = &groups[t];
        int rc;

        if (g->n == 0)
            continue;
        g->device = key->device;
        g->scope_region = g->table->region_col >= 0 ? key->region : NULL;
        g->totals_only = true;
        rc = fy_store_push_apply(st, g, &ts[t], err);
        if (rc < 0)
            return rc;
        res->st.created += ts[t].created;
        res->st.updated += ts[t].updated;
        res->st.deleted += ts[t].deleted;
        res->st.stale += ts[t].stale;
    }
    return 0;
}

void fy_push_hold_commit(const char *device)
{
    const char *h = getenv("FERRY_TEST_HOLD_COMMIT");
    const char *colon = h ? strchr(h, ':') : NULL;

    if (colon && strlen(device) == (size_t)(colon - h) &&
        strncmp(h, device, (size_t)(colon - h)) == 0)
        fy_sleep_ms(strtol(colon + 1, NULL, 10));
}

/*
 * The changes about to be applied name only blobs the store holds
 * complete (a row never arrives before its file). Checked in the
 * transaction; *bad is the first change that names a missing one.
 */
static int check_blobs(struct fy_store *st, const struct fy_apply_batch *groups,
                       size_t ngroups, struct fy_arena *a,
                       const struct fy_change **bad, struct ferry_err *err)
{
    struct fy_change **all;
    size_t n = 0, k = 0;

    for (size_t t = 0; t < ngroups; t++)
        n += groups[t].n;
    all = fy_arena_calloc(a, n ? n : 1, sizeof(*all));
    if (!all)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t t = 0; t < ngroups; t++) {
        for (size_t i = 0; i < groups[t].n; i++)
            all[k++] = groups[t].changes[i];
    }
    return fy_blob_refs_check(st, all, n, bad, err);
}

/*
 * A batch's changes by table and outcome, for GET /metrics, from the
 * store's totals per table (ts; NULL when nothing was applied). Changes at
 * or below the acknowledged seq, and those a later change of the same key
 * replaced, count as skipped.
 */
static void count_rows(const struct fy_contract *c, const struct fy_change *chs,
                       size_t n, const struct fy_apply_batch *groups,
                       const struct fy_apply_stats *ts, struct fy_arena *a)
{
    size_t *total =
        fy_arena_calloc(a, c->ntables ? c->ntables : 1, sizeof(*total));

    if (!total)
        return; /* only the counters are lost */
    for (size_t i = 0; i < n; i++)
        total[chs[i].table - c->tables]++;
    for (size_t t = 0; t < c->ntables; t++) {
        const struct fy_table *tb = &c->tables[t];
        size_t applied = ts ? groups[t].n : 0;

        fy_metrics_rows(tb, FY_ROW_PENDING, total[t] - applied);
        if (!ts || applied == 0)
            continue;
        fy_metrics_rows(tb, FY_ROW_CREATED, (uint64_t)ts[t].created);
        fy_metrics_rows(tb, FY_ROW_UPDATED, (uint64_t)ts[t].updated);
        fy_metrics_rows(tb, FY_ROW_DELETED, (uint64_t)ts[t].deleted);
        fy_metrics_rows(tb, FY_ROW_STALE, (uint64_t)ts[t].stale);
        fy_metrics_rows(tb, FY_ROW_NOOP,
                        groups[t].ndel - (size_t)ts[t].deleted);
    }
}

static int apply(struct fy_store *st, const struct fy_contract *c,
                 const struct fy_key *key, struct fy_change *chs, size_t n,
                 struct fy_arena *a, struct fy_push_result *res,
                 const struct fy_change **bad, struct ferry_err *err)
{
    size_t nt = c->ntables ? c->ntables : 1;
    struct fy_apply_batch *groups = fy_arena_calloc(a, nt, sizeof(*groups));
    struct fy_apply_stats *ts = fy_arena_calloc(a, nt, sizeof(*ts));
    int64_t acked = 0;
    int rc;

    if (!groups || !ts)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = fy_store_push_begin(st, key->device, &acked, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        chs[i].seq <= acked ? res->skipped++ : res->applied++;
    res->acked_seq = n && chs[n - 1].seq > acked ? chs[n - 1].seq : acked;
    if (res->applied == 0) {
        fy_store_push_rollback(st); /* nothing new: no write at all */
        count_rows(c, chs, n, groups, NULL, a);
        return 0;
    }
    rc = group(a, c, chs, n, acked, groups);
    if (rc < 0)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = check_blobs(st, groups, c->ntables, a, bad, err);
    if (rc == 0)
        rc = apply_groups(st, key, groups, c->ntables, ts, res, err);
    if (rc == 0) {
        fy_push_hold_commit(key->device);
        rc = fy_store_push_commit(st, key->device, res->acked_seq, res->applied,
                                  err);
        if (rc == 0)
            count_rows(c, chs, n, groups, ts, a);
        return rc;
    }
    fy_store_push_rollback(st);
    return rc;
}

/*
 * The wire code of a failed push, from the one table (ferry_err.h).
 * Validation's 404 is always a table of the contract. A store failure
 * answers with its own code only when it judges the rows (a region, a value
 * the store refuses); anything else the store says (an internal overflow, a
 * schema it does not know) is the server's failure, not the request's.
 */
static int push_wire(int rc, bool applying)
{
    int w = ferry_wire_of_err(rc);

    if (!applying)
        return rc == FERRY_ENOTFOUND ? FERRY_WIRE_UNKNOWN_TABLE : w;
    if (ferry_wire_flags(w) & FERRY_WIRE_VERDICT)
        return w;
    return ferry_err_is_transient(rc) ? FERRY_WIRE_STORE_UNAVAILABLE
                                      : FERRY_WIRE_INTERNAL;
}

static void set_push_wire(struct ferry_err *err, int rc, bool applying)
{
    if (!err)
        return;
    err->wire = push_wire(rc, applying);
    err->status = ferry_wire_status(err->wire);
}

/*
 * The store refused one change's data (FERRY_ECONTRACT: a value it cannot
 * hold). With a single change in the batch that change is the culprit: name
 * it, so the agent parks it with the store's reason. With more, the agent
 * narrows the batch down until one is left.
 */
static void store_verdict(struct fy_validate *v, const struct fy_change *chs,
                          size_t n, const struct ferry_err *err)
{
    if (n == 1 && err)
        fy_validate_reject(v, chs[0].seq, FERRY_WIRE_STORE_REJECTED, "%s",
                           err->msg);
}

/*
 * A change names a blob the store does not hold: it is refused like an
 * invalid change (per change, with its seq), so the agent parks it and
 * sends the others again.
 */
static int missing_blob(struct fy_validate *v, const struct fy_change *bad,
                        size_t n, struct ferry_err *err)
{
    fy_validate_reject(v, bad->seq, FERRY_WIRE_MISSING_BLOB, "%s",
                       err ? err->msg : "a blob is missing");
    fy_err_set(err, FERRY_ECONTRACT,
               "%ld of %zu changes were rejected; nothing was applied", v->nbad,
               n);
    if (err)
        err->wire = FERRY_WIRE_CONTRACT_VIOLATION;
    return FERRY_ECONTRACT;
}

int fy_push_run(struct fy_store *st, const struct fy_contract *c,
                const struct fy_key *key, const char *body, size_t len,
                struct fy_arena *a, struct fy_push_result *res,
                json_t **details, struct ferry_err *err)
{
    struct fy_validate v;
    struct fy_push_doc doc;
    const struct fy_change *bad = NULL;
    bool parsed;
    int rc;

    memset(res, 0, sizeof(*res));
    *details = NULL;
    fy_validate_init(&v, c, key, a, "seq");
    rc = fy_push_parse(body, len, &v, &doc, err);
    parsed = rc == 0; /* else v's problems do not count: the body does */
    if (rc == 0)
        rc = verdict(&v, doc.n, err);
    if (rc < 0)
        set_push_wire(err, rc, false);
    if (rc == 0) {
        rc = apply(st, c, key, doc.chs, doc.n, a, res, &bad, err);
        if (rc == FERRY_ECONTRACT && bad)
            rc = missing_blob(&v, bad, doc.n, err);
        else if (rc < 0)
            set_push_wire(err, rc, true);
        if (rc == FERRY_ECONTRACT && !bad)
            store_verdict(&v, doc.chs, doc.n, err);
    }
    if (rc < 0 && parsed)
        *details = fy_validate_details(&v);
    fy_validate_release(&v);
    fy_push_doc_release(&doc);
    return rc;
}

json_t *fy_push_result_json(const struct fy_push_result *res)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "acked_seq",
        (json_int_t)res->acked_seq, "applied", (json_int_t)res->applied,
        "created", (json_int_t)res->st.created, "updated",
        (json_int_t)res->st.updated, "deleted", (json_int_t)res->st.deleted,
        "skipped", (json_int_t)res->skipped, "stale",
        (json_int_t)res->st.stale);
}
