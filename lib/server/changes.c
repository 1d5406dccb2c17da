/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/changes; see changes.h. A cursor is "c1.V.S" (incremental: the
 * store position V.S) or "f1.V.S.E" (a full pass, which also sends the
 * key's own writes, begun in pruning epoch E). The store decides order
 * and visibility; this file decides what the key may read and how it looks
 * on the wire.
 */
#include "server/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "json/value.h"
#include "fy.h"

#define CURSOR_MAX 64

struct cursor {
    bool full;
    struct fy_read_pos pos;
    int64_t epoch; /* full pass: -1 when it starts now */
};

static int bad_param(struct ferry_err *err, const char *what)
{
    int rc = fy_err_set(err, FERRY_EPARSE, "%s", what);

    if (err)
        err->wire = FERRY_WIRE_BAD_PARAMETER;
    return rc;
}

/* A decimal integer of 1 to 19 digits without sign, up to INT64_MAX. */
static bool take_num(const char **p, int64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9' && n < 20) {
        v = v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    if (n == 0 || n > 19 || v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    *p = s + n;
    return true;
}

static int parse_cursor(const char *s, struct cursor *c, struct ferry_err *err)
{
    const char *p = s ? s + 3 : NULL;
    bool ok;

    *c = (struct cursor){.full = true, .epoch = -1};
    if (!s || !*s)
        return 0;
    c->full = strncmp(s, "f1.", 3) == 0;
    ok = strlen(s) <= CURSOR_MAX && (c->full || strncmp(s, "c1.", 3) == 0) &&
         take_num(&p, &c->pos.v) && *p++ == '.' && take_num(&p, &c->pos.s);
    if (ok && c->full)
        ok = *p++ == '.' && take_num(&p, &c->epoch);
    if (!ok || *p)
        return bad_param(err, "since: not a cursor this server handed out");
    return 0;
}

static void format_cursor(const struct cursor *c, char out[CURSOR_MAX + 1])
{
    if (c->full)
        snprintf(out, CURSOR_MAX + 1, "f1.%lld.%lld.%lld", (long long)c->pos.v,
                 (long long)c->pos.s, (long long)c->epoch);
    else
        snprintf(out, CURSOR_MAX + 1, "c1.%lld.%lld", (long long)c->pos.v,
                 (long long)c->pos.s);
}

static int parse_limit(const char *s, size_t *limit, struct ferry_err *err)
{
    const char *p = s;
    int64_t v = 0;

    *limit = FY_CHANGES_LIMIT_DEFAULT;
    if (!s)
        return 0;
    if (!take_num(&p, &v) || *p || v < 1 || v > FY_CHANGES_LIMIT_MAX)
        return bad_param(err, "limit: must be an integer from 1 to 5000");
    *limit = (size_t)v;
    return 0;
}

int fy_changes_device_ok(const struct fy_key *key, const char *device,
                         struct ferry_err *err)
{
    /*
     * An agent given another device's key would pull as that device:
     * incremental pages leave out that device's own writes, and the
     * agent's cursor moves past them, so it would never get them.
     */
    if (!device || strcmp(device, key->device) == 0)
        return 0;
    return fy_err_set(err, FERRY_EFORBIDDEN, "this key belongs to device '%s'",
                      key->device);
}

int fy_changes_wait_ms(const char *text, int64_t *ms, struct ferry_err *err)
{
    const char *p = text;
    int64_t v = 0;

    *ms = 0;
    if (!text)
        return 0;
    if (!take_num(&p, &v) || *p || v > FY_CHANGES_WAIT_MAX)
        return bad_param(err, "wait: must be whole seconds from 0 to 60");
    *ms = v * 1000;
    return 0;
}

/* ---- the page ------------------------------------------------------------ */

struct page {
    json_t *changes;
    struct fy_read_pos last;
    long n;
};

static int add_row(const struct fy_read_row *r, void *ud)
{
    struct page *pg = ud;
    const struct fy_table *t = r->table;
    char hlc[FY_HLC_STRLEN + 1];
    json_t *row = json_object(), *ch;

    for (size_t i = 0; row && i < t->ncols; i++) {
        if (r->del && !fy_table_is_pk(t, i))
            continue;
        if (json_object_set_new(row, t->cols[i].name,
                                fy_val_store_json(&t->cols[i], r->vals[i])) <
            0) {
            json_decref(row);
            return FERRY_ENOMEM;
        }
    }
    fy_hlc_format(r->hlc, hlc);
    ch = json_pack("{s:s, s:s, s:s, s:s, s:o}", "table", t->name, "op",
                   r->del ? "delete" : "upsert", "hlc", hlc, "origin",
                   r->origin, "row", row);
    if (!ch || json_array_append_new(pg->changes, ch) < 0)
        return FERRY_ENOMEM;
    pg->last = r->pos;
    pg->n++;
    return 0;
}

/* Every table the key may read: its key and column types. */
static json_t *tables_json(const struct fy_contract *c)
{
    json_t *all = json_object();

    for (size_t i = 0; all && i < c->ntables; i++) {
        const struct fy_table *t = &c->tables[i];
        json_t *key, *types;

        if (t->read == FY_READ_NONE)
            continue;
        key = json_array();
        types = json_object();
        for (size_t k = 0; k < t->npk; k++)
            json_array_append_new(key, json_string(t->cols[t->pk[k]].name));
        for (size_t k = 0; k < t->ncols; k++)
            json_object_set_new(types, t->cols[k].name,
                                json_string(fy_type_name(t->cols[k].type)));
        json_object_set_new(
            all, t->name, json_pack("{s:o, s:o}", "key", key, "types", types));
    }
    return all;
}

static int pos_cmp(const struct fy_read_pos *x, const struct fy_read_pos *y)
{
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/*
 * Where the next request starts. A pass that found everything moves to an
 * incremental cursor, at least up to the pruning mark: nothing can ever be
 * written at or below it again (it was below every running transaction
 * when it was set), and a cursor there is not expired.
 */
static void next_cursor(struct cursor *c, const struct page *pg, bool more,
                        const struct fy_read_mark *mark)
{
    struct fy_read_pos at_mark = {mark->v, INT64_MAX};

    if (pg->n)
        c->pos = pg->last;
    if (c->full && c->epoch < 0)
        c->epoch = mark->epoch;
    if (more)
        return;
    c->full = false;
    if (mark->v > 0 && pos_cmp(&c->pos, &at_mark) < 0)
        c->pos = at_mark;
}

int fy_changes_run(struct fy_store *st, const struct fy_contract *c,
                   const struct fy_key *key, const char *since,
                   const char *limit, json_t **out, struct ferry_err *err)
{
    struct cursor cur;
    struct fy_read_req req = {.contract = c};
    struct fy_read_mark mark = {0};
    struct page pg = {.changes = json_array()};
    char text[CURSOR_MAX + 1];
    bool more = false;
    int rc;

    *out = NULL;
    rc = parse_cursor(since, &cur, err);
    if (rc == 0)
        rc = parse_limit(limit, &req.limit, err);
    if (rc == 0 && !pg.changes)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc < 0)
        goto out;
    req.after = cur.pos;
    req.full = cur.full;
    req.epoch = cur.epoch;
    /* Admin keys and keys without a region read every region. */
    req.region = key->admin ? NULL : key->region;
    req.skip_origin = cur.full ? NULL : key->device;
    rc = fy_store_read_changes(st, &req, add_row, &pg, &more, &mark, err);
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc < 0)
        goto out;
    next_cursor(&cur, &pg, more, &mark);
    format_cursor(&cur, text);
    *out = json_pack("{s:O, s:o, s:s, s:b}", "changes", pg.changes, "tables",
                     tables_json(c), "cursor", text, "more", more);
    if (!*out)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
out:
    json_decref(pg.changes);
    return rc;
}
