/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/trace/{table}/{key} (admin keys): where one key stands in the
 * store, for `ferry why` and for people asking why a row did not arrive.
 * The row (values, stamp, origin device, region, the version pull
 * follows), the key's tombstone, and with ?device=NAME what the store
 * knows of that device: its acknowledged seq, whether the stored version
 * is its own or superseded its write, and whether its key may read the row.
 * The key in the path is read as the row API reads it (rows.c).
 */
#include "server/rows_int.h"

#include <stdio.h>
#include <string.h>

#include "core/hlc.h"
#include "util/base64.h"
#include "fy.h"

struct trace {
    const struct fy_table *t;
    json_t *key;  /* the key's columns, as the row API answers them */
    json_t *row;  /* NULL: no row */
    char *origin; /* the row's */
    char *region; /* the row's region column (NULL: none or SQL NULL) */
    uint64_t hlc; /* the row's */
    struct fy_trace_tomb tomb;
};

static json_t *version_json(const struct fy_read_pos *p)
{
    char v[48];

    snprintf(v, sizeof(v), "%lld.%lld", (long long)p->v, (long long)p->s);
    return json_string(v);
}

static json_t *hlc_json(uint64_t hlc)
{
    char s[FY_HLC_STRLEN + 1];

    fy_hlc_format(hlc, s);
    return json_string(s);
}

static json_t *ms_json(int64_t ms)
{
    char s[FY_UTC_MS_STRLEN + 1];

    return ms > 0 ? json_string(fy_utc_ms(ms, s)) : json_null();
}

static int traced_row(const struct fy_read_row *r, void *ud)
{
    struct trace *tr = ud;
    const struct fy_table *t = r->table;
    const char *region = t->region_col >= 0 ? r->vals[t->region_col] : NULL;
    json_t *vals = json_object();

    for (size_t i = 0; vals && i < t->ncols; i++)
        json_object_set_new(vals, t->cols[i].name,
                            fy_val_store_json(&t->cols[i], r->vals[i]));
    tr->hlc = r->hlc;
    tr->origin = fy_strdup(r->origin);
    tr->region = region ? fy_strdup(region) : NULL;
    tr->row = json_pack("{s:o*, s:s, s:o*, s:s?, s:o*, s:o*}", "hlc",
                        hlc_json(r->hlc), "origin", r->origin, "written_at",
                        ms_json(fy_hlc_ms(r->hlc)), "region", region, "version",
                        version_json(&r->pos), "values", vals);
    return tr->row && tr->origin && (!region || tr->region) ? 0 : FERRY_ENOMEM;
}

/* A key value as the wire spells it (bytea in base64). */
static json_t *val_json(const struct fy_val *v)
{
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j;

    switch (v->kind) {
    case FY_V_INT:
        return json_integer((json_int_t)v->i);
    case FY_V_REAL:
        return json_real(v->d);
    case FY_V_BOOL:
        return json_boolean(v->i);
    case FY_V_TEXT:
        return json_stringn(v->s, v->len);
    case FY_V_BLOB:
        fy_b64_encode(&b, v->s, v->len);
        j = fy_buf_error(&b) ? NULL : json_stringn(b.data, b.len);
        fy_buf_release(&b);
        return j;
    default:
        return json_null();
    }
}

static json_t *key_json(const struct fy_table *t, const struct fy_val *key)
{
    json_t *k = json_object();

    for (size_t i = 0; k && i < t->npk; i++)
        json_object_set_new(k, t->cols[t->pk[i]].name, val_json(&key[i]));
    return k;
}

static json_t *tomb_json(const struct trace *tr)
{
    const struct fy_trace_tomb *tb = &tr->tomb;

    if (!tb->found)
        return json_null();
    /* A tombstone beside a row lost to a newer write: pull ignores it. */
    return json_pack("{s:o*, s:s, s:o*, s:s?, s:o*, s:b}", "hlc",
                     hlc_json(tb->hlc), "origin", tb->origin, "deleted_at",
                     ms_json(fy_hlc_ms(tb->hlc)), "region", tb->region,
                     "version", version_json(&tb->pos), "stale",
                     tr->row != NULL);
}

/*
 * The read rule of /v1/changes (changes.c, rows.c's may_read) for a key
 * of device d with region r (NULL: every region): may it read the row,
 * or learn of the delete? "why" says why not.
 */
static bool readable(const struct trace *tr, const char *device, const char *r,
                     const char **why)
{
    const struct fy_table *t = tr->t;
    const char *v;

    *why = NULL;
    if (t->read == FY_READ_ALL)
        return true;
    if (t->read == FY_READ_REGION) {
        v = tr->row ? tr->region : tr->tomb.region;
        if (!r || (tr->row ? v && strcmp(v, r) == 0 : !v || strcmp(v, r) == 0))
            return true;
        *why = "region";
        return false;
    }
    v = t->device_col >= 0 && tr->row
            ? json_string_value(
                  json_object_get(json_object_get(tr->row, "values"),
                                  t->cols[t->device_col].name))
            : (tr->row ? tr->origin : tr->tomb.origin);
    if (v && strcmp(v, device) == 0)
        return true;
    *why = "push_only";
    return false;
}

/*
 * The stored version is the device's (false), or ferryd has proof the
 * device's write lost to a newer one (true: its own tombstone under a
 * newer row of another device); else it cannot tell (null): the store
 * keeps no history of the versions it replaced.
 */
static json_t *superseded(const struct trace *tr, const char *device)
{
    const char *current = tr->row          ? tr->origin
                          : tr->tomb.found ? tr->tomb.origin
                                           : NULL;

    if (!current)
        return json_null();
    if (strcmp(current, device) == 0)
        return json_false();
    /*
     * Only a delete older than the row: a region's tombstone can lie
     * beside an older row of another region, which it never deleted.
     */
    if (tr->row && tr->tomb.found && tr->tomb.hlc < tr->hlc &&
        strcmp(tr->tomb.origin, device) == 0)
        return json_true();
    return json_null();
}

static json_t *device_json(const struct trace *tr, const char *device,
                           const struct fy_trace_device *d)
{
    const char *why;
    bool can = readable(tr, device, d->region, &why);
    const char *current = tr->row          ? tr->origin
                          : tr->tomb.found ? tr->tomb.origin
                                           : NULL;

    return json_pack(
        "{s:s, s:b, s:I, s:o*, s:b, s:s?, s:b, s:o*, s:b, s:s?}", "name",
        device, "known", d->known, "acked_seq", (json_int_t)d->acked_seq,
        "last_push_at", ms_json(d->last_push_at * 1000), "has_key", d->has_key,
        "region", d->region, "wrote_current",
        current && strcmp(current, device) == 0, "superseded",
        superseded(tr, device), "readable", can, "unreadable_by", why);
}

static const char *state_of(const struct trace *tr)
{
    return tr->row ? "stored" : tr->tomb.found ? "deleted" : "unknown";
}

static const char *const read_rules[] = {[FY_READ_ALL] = "all",
                                         [FY_READ_REGION] = "region",
                                         [FY_READ_NONE] = "none"};

static int answer(struct trace *tr, struct fy_store *st, const char *device,
                  json_t **out, struct ferry_err *err)
{
    struct fy_trace_device d = {0};
    int rc = 0;

    *out = json_pack("{s:s, s:O, s:s, s:s, s:O?, s:o}", "table", tr->t->name,
                     "key", tr->key, "read", read_rules[tr->t->read], "state",
                     state_of(tr), "row", tr->row, "tombstone", tomb_json(tr));
    if (!*out)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (!device)
        return 0;
    rc = fy_store_trace_device(st, device, &d, err);
    if (rc == 0 &&
        json_object_set_new(*out, "device", device_json(tr, device, &d)) < 0)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_store_trace_device_release(&d);
    return rc;
}

static int run_trace(struct fy_rows_req *w, const struct fy_val *key,
                     const char *device, json_t **out, struct ferry_err *err)
{
    struct trace tr = {.t = w->t, .key = key_json(w->t, key)};
    struct fy_store *st = NULL;
    int rc = tr.key ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    if (rc == 0)
        rc = fy_store_pool_get(w->api->pool, w->api->pool_wait_ms, &st, err);
    if (rc == 0) {
        rc = fy_store_row_trace(st, w->t, key, traced_row, &tr, &tr.tomb, err);
        if (rc == 0)
            rc = answer(&tr, st, device, out, err);
        fy_store_pool_put(w->api->pool, st);
    }
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, rc, "out of memory");
    json_decref(tr.key);
    json_decref(tr.row);
    fy_free(tr.origin);
    fy_free(tr.region);
    fy_store_trace_release(&tr.tomb);
    return rc;
}

/* ?device=NAME: a device name as keys are made for (fy_name_valid). */
static int device_param(const struct fy_http_req *req, const char **device,
                        struct ferry_err *err)
{
    *device = fy_http_query(req, "device");
    if (!*device || fy_name_valid(*device))
        return 0;
    fy_err_set(err, FERRY_EPARSE, "device: 1 to 128 letters, digits and ._:@-");
    if (err)
        err->wire = FERRY_WIRE_BAD_PARAMETER;
    return FERRY_EPARSE;
}

static void handle_trace(struct fy_http_req *req, struct fy_http_resp *resp,
                         void *ud)
{
    struct ferry_err err = {0};
    struct fy_rows_req w;
    struct fy_val *key = NULL;
    const char *device = NULL;
    json_t *out = NULL;
    int rc;

    fy_rows_req_init(&w, ud, fy_api_key(req), FY_ROWS_POST);
    rc = fy_rows_path_table(&w, req, &err);
    if (rc == 0)
        rc = fy_rows_path_key(&w, req, &key, &err);
    if (rc == 0)
        rc = device_param(req, &device, &err);
    if (rc == 0)
        rc = run_trace(&w, key, device, &out, &err);
    if (rc == 0)
        fy_api_json(resp, 200, out);
    else
        fy_api_failure(resp, rc, &err, NULL);
    fy_rows_req_release(&w);
}

const struct fy_http_route fy_trace_routes[] = {
    {.method = "GET",
     .pattern = "/v1/trace/{table:name}/{key:text}",
     .auth = FY_AUTH_ADMIN,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_trace},
};

const size_t fy_trace_nroutes = FY_ARRAY_LEN(fy_trace_routes);
