/* SPDX-License-Identifier: MIT */
/*
 * The row API's HTTP side; see rows.h and docs/api.md: the routes, the
 * key in the path, the bodies (every row checked before the store is
 * touched, by validate.c as for pushes), Idempotency-Key, GET and the
 * answers. The write transaction is rows_write.c's.
 */
#include "server/rows_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/hlc.h"
#include "server/runs.h"
#include "fy.h"

static int bad_param(struct ferry_err *err, const char *fmt, ...)
    FY_PRINTF(2, 3);

static int bad_param(struct ferry_err *err, const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    fy_err_set(err, FERRY_EPARSE, "%s", msg);
    if (err)
        err->wire = FERRY_WIRE_BAD_PARAMETER;
    return FERRY_EPARSE;
}

/* The table the path names: 404 unknown_table when the contract has none. */
static int path_table(struct fy_rows_req *w, const struct fy_http_req *req,
                      struct ferry_err *err)
{
    const char *name = fy_http_param(req, "table", NULL);

    w->t = name ? fy_contract_table(w->api->contract, name) : NULL;
    if (!w->t)
        return fy_rows_wire(err,
                            fy_err_set(err, FERRY_ENOTFOUND,
                                       "no table '%s' in the contract",
                                       name ? name : ""),
                            FERRY_WIRE_UNKNOWN_TABLE);
    return 0;
}

/* ---- the key in the path --------------------------------------------- */

/* An integer in plain decimal: -?[0-9]+ within 64 bits. */
static json_t *int_json(const char *s)
{
    const char *d = s + (*s == '-');
    char *end;
    long long v;

    if (!*d || strspn(d, "0123456789") != strlen(d))
        return NULL;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end ? NULL : json_integer(v);
}

static json_t *real_json(const char *s)
{
    char *end;
    double d;

    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return NULL;
    d = strtod(s, &end);
    return *end || !isfinite(d) ? NULL : json_real(d);
}

/*
 * A one-column key as the path spells it: the value itself, read as the
 * column's type (a number, true/false, JSON for jsonb, else the text; a
 * bytea key in base64 as on the wire).
 */
static json_t *scalar_json(const struct fy_column *col, const char *s,
                           size_t len)
{
    switch (col->type) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return int_json(s);
    case FY_T_DOUBLE:
        return real_json(s);
    case FY_T_BOOLEAN:
        return strcmp(s, "true") == 0 || strcmp(s, "1") == 0    ? json_true()
               : strcmp(s, "false") == 0 || strcmp(s, "0") == 0 ? json_false()
                                                                : NULL;
    case FY_T_JSONB:
        return json_loadb(s, len, JSON_DECODE_ANY, NULL);
    default:
        return json_stringn(s, len);
    }
}

/* Key column i of t from j into ch->vals, canonical; 400 otherwise. */
static int path_value(struct fy_rows_req *w, size_t i, json_t *j,
                      struct fy_change *ch, struct ferry_err *err)
{
    const struct fy_column *col = &w->t->cols[w->t->pk[i]];
    struct fy_val *v = &ch->vals[w->t->pk[i]];
    struct fy_buf scratch = FY_BUF_INIT(0);
    size_t bytes = 0;
    char why[200] = "";
    int rc;

    if (!j)
        return bad_param(err, "key: not a value of column '%s' (%s)", col->name,
                         fy_type_name(col->type));
    if (json_is_null(j))
        return bad_param(err, "key: column '%s' needs a value", col->name);
    rc = fy_val_from_json(col, j, &w->a, v, why, sizeof(why));
    if (rc == 0)
        rc =
            fy_val_key_canon(col, v, &w->a, &scratch, &bytes, why, sizeof(why));
    fy_buf_release(&scratch);
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, rc, "out of memory");
    return rc < 0 ? bad_param(err, "key: %s", why) : 0;
}

/*
 * The {key} segment (percent-decoded by the router) into ch's key columns:
 * one key column: the value itself; several: a JSON array of the values
 * in key order. Anything else is 400 bad_parameter.
 */
static int path_key(struct fy_rows_req *w, const struct fy_http_req *req,
                    struct fy_change *ch, struct ferry_err *err)
{
    const struct fy_table *t = w->t;
    size_t len = 0;
    const char *text = fy_http_param(req, "key", &len);
    json_t *j;
    int rc = 0;

    if (!text)
        return bad_param(err, "key: missing");
    if (t->npk == 1)
        return path_value(
            w, 0, fy_rows_hold(w, scalar_json(&t->cols[t->pk[0]], text, len)),
            ch, err);
    j = fy_rows_hold(w, json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
    if (!json_is_array(j) || json_array_size(j) != t->npk)
        return bad_param(err,
                         "key: table '%s' has a key of %zu columns: a JSON"
                         " array of %zu values in key order",
                         t->name, t->npk, t->npk);
    for (size_t i = 0; rc == 0 && i < t->npk; i++)
        rc = path_value(w, i, json_array_get(j, i), ch, err);
    return rc;
}

/*
 * The device column is stamped from the key; in the key of a row it
 * names the device's own rows, so a path naming another device's row is
 * refused rather than quietly turned into this device's.
 */
static int path_device(struct fy_rows_req *w, const struct fy_change *ch,
                       struct ferry_err *err)
{
    const struct fy_table *t = w->t;
    const struct fy_val *d =
        t->device_col >= 0 && fy_table_is_pk(t, (size_t)t->device_col)
            ? &ch->vals[t->device_col]
            : NULL;

    if (!d || (d->len == strlen(w->key->device) &&
               memcmp(d->s, w->key->device, d->len) == 0))
        return 0;
    return fy_rows_wire(err,
                        fy_err_set(err, FERRY_EFORBIDDEN,
                                   "table '%s': the row belongs to device"
                                   " '%.*s'; this key is device '%s'",
                                   t->name, (int)d->len, d->s, w->key->device),
                        FERRY_WIRE_FORBIDDEN);
}

static void answer_with(struct fy_http_resp *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "application/json";
    fy_buf_reset(&resp->body);
    fy_buf_adds(&resp->body, text);
    fy_buf_addc(&resp->body, '\n');
}

/* Runs a parsed request (rc: how parsing went) and answers it. */
static void finish_write(struct fy_rows_req *w, const struct fy_http_req *req,
                         struct fy_http_resp *resp, int rc,
                         struct ferry_err *err)
{
    struct fy_rows_replay rp = {.body = FY_BUF_INIT(0)};

    if (rc == 0)
        rc = fy_rows_run(w, &rp, err);
    if (rc == 0 && rp.status)
        answer_with(resp, rp.status, rp.body.data);
    else if (rc == 0)
        answer_with(resp, 200, w->text);
    else
        fy_api_failure(resp, rc, err,
                       w->array ? fy_validate_details(&w->v) : NULL);
    if (rc < 0)
        fy_info("rows", "device=%s %s %s refused status=%d: %s", w->key->device,
                req->method, req->path, resp->status, err->msg);
    fy_buf_release(&rp.body);
    fy_runs_device(w->api, req, "rows", rc == 0 ? (int64_t)w->n : 0,
                   resp->status, err->msg);
}

/* ---- Idempotency-Key ---------------------------------------------------- */

/* The request as a hash: method, path and body. */
static int request_hash(const struct fy_http_req *req, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, req->method, strlen(req->method) + 1) &&
             EVP_DigestUpdate(ctx, req->path, strlen(req->path) + 1) &&
             EVP_DigestUpdate(ctx, req->body.data, req->body.len) &&
             EVP_DigestFinal_ex(ctx, md, &n);

    EVP_MD_CTX_free(ctx);
    if (!ok || n != 32)
        return FERRY_ENOMEM;
    fy_hex(md, n, out);
    return 0;
}

/* The header's key (api.c checks it) and the request's hash. */
static int idem_setup(struct fy_rows_req *w, const struct fy_http_req *req,
                      struct ferry_err *err)
{
    const char *k;
    int rc = fy_api_idem_key(req, &k, err);

    if (rc < 0 || !k)
        return rc;
    if (request_hash(req, w->idem_hash) < 0)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    w->idem =
        (struct fy_idem){.key_id = w->key->id, .key = k, .hash = w->idem_hash};
    return 0;
}

/* ---- parsing the requests ----------------------------------------------- */

static int alloc_changes(struct fy_rows_req *w, size_t n, struct ferry_err *err)
{
    w->n = n;
    w->chs = fy_arena_calloc(&w->a, n ? n : 1, sizeof(*w->chs));
    w->ptrs = fy_arena_calloc(&w->a, n ? n : 1, sizeof(*w->ptrs));
    w->kept = fy_arena_calloc(&w->a, n ? n : 1, sizeof(*w->kept));
    w->asked = fy_arena_calloc(&w->a, n ? n : 1, sizeof(*w->asked));
    for (size_t i = 0; w->chs && w->ptrs && w->kept && w->asked && i < n; i++) {
        struct fy_change *ch = &w->chs[i];

        w->ptrs[i] = ch;
        ch->seq = (int64_t)i;
        ch->table = w->t;
        ch->del = w->op == FY_ROWS_DELETE;
        ch->vals = fy_arena_calloc(&w->a, w->t->ncols, sizeof(*ch->vals));
        w->asked[i] = fy_arena_calloc(&w->a, w->t->ncols, sizeof(*ch->vals));
        if (!ch->vals || !w->asked[i])
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        /* A write sets the columns it names; a delete names only its key. */
        for (size_t c = 0; !ch->del && c < w->t->ncols; c++)
            ch->vals[c].kind = FY_V_ABSENT;
    }
    return w->chs && w->ptrs ? 0
                             : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* One change per key: the set-based apply sees each key once. */
static int check_duplicates(struct fy_rows_req *w)
{
    for (size_t i = 1; i < w->n; i++) {
        const struct fy_change *a = &w->chs[i];

        for (size_t j = 0; a->key && j < i; j++) {
            const struct fy_change *b = &w->chs[j];

            if (b->key && a->keylen == b->keylen &&
                memcmp(a->key, b->key, a->keylen) == 0)
                return fy_validate_reject(
                    &w->v, a->seq, FERRY_WIRE_INVALID_VALUE,
                    "rows %zu and %zu have the same key", j, i);
        }
    }
    return 0;
}

static int malformed(struct ferry_err *err, const char *msg)
{
    return fy_rows_wire(err, fy_err_set(err, FERRY_EPARSE, "%s", msg),
                        FERRY_WIRE_MALFORMED);
}

/* The body of a POST: one object, or an array of 1 to FY_ROWS_MAX. */
static int parse_rows(struct fy_rows_req *w, json_t *root,
                      struct ferry_err *err)
{
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    int rc;

    w->array = json_is_array(root);
    if (!json_is_object(root) && !w->array)
        return malformed(err, "the body must be a JSON object or an array"
                              " of objects");
    if (n > FY_ROWS_MAX)
        return fy_rows_wire(err,
                            fy_err_set(err, FERRY_ETOOBIG,
                                       "at most %d rows per request",
                                       FY_ROWS_MAX),
                            FERRY_WIRE_BODY_TOO_LARGE);
    if ((rc = alloc_changes(w, n, err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        json_t *row = w->array ? json_array_get(root, i) : root;

        if (!json_is_object(row))
            return malformed(err, "the body must be a JSON object or an"
                                  " array of objects");
        rc = fy_validate_row(&w->v, w->t, row, &w->chs[i]);
        if (rc == FERRY_ENOMEM)
            return fy_err_set(err, rc, "out of memory");
    }
    if (check_duplicates(w) < 0 || w->v.nbad)
        return fy_rows_refused(w, err);
    return 0;
}

static int parse_json_body(struct fy_rows_req *w, const struct fy_http_req *req,
                           json_t **root, struct ferry_err *err)
{
    json_error_t jerr;

    /* A member given twice is ambiguous: refused, as in pushes. */
    *root = fy_rows_hold(w, json_loadb(req->body.data, req->body.len,
                                       JSON_REJECT_DUPLICATES, &jerr));
    if (!*root)
        return fy_rows_wire(err,
                            fy_err_set(err, FERRY_EPARSE,
                                       "malformed JSON at line %d column"
                                       " %d: %s",
                                       jerr.line, jerr.column, jerr.text),
                            FERRY_WIRE_MALFORMED);
    return 0;
}

/*
 * PATCH and DELETE: the row the path names. A PATCH body may repeat key
 * columns only with the path's values.
 */
static int parse_keyed(struct fy_rows_req *w, const struct fy_http_req *req,
                       json_t *body, struct ferry_err *err)
{
    struct fy_change *ch;
    const char *path_key_bytes;
    size_t path_len;
    int rc = alloc_changes(w, 1, err);

    if (rc < 0)
        return rc;
    ch = &w->chs[0];
    rc = path_key(w, req, ch, err);
    if (rc == 0)
        rc = path_device(w, ch, err);
    if (rc == 0 && (rc = fy_validate_key(&w->v, w->t, ch)) == FERRY_ENOMEM)
        return fy_err_set(err, rc, "out of memory");
    if (rc < 0)
        return w->v.nbad ? fy_rows_refused(w, err) : rc;
    path_key_bytes = ch->key;
    path_len = ch->keylen;
    rc = fy_validate_row(&w->v, w->t, body, ch);
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, rc, "out of memory");
    if (rc == 0 && (ch->keylen != path_len ||
                    memcmp(ch->key, path_key_bytes, path_len) != 0))
        fy_validate_reject(&w->v, ch->seq, FERRY_WIRE_INVALID_VALUE,
                           "table '%s': the body's key columns differ from"
                           " the path's key",
                           w->t->name);
    return w->v.nbad ? fy_rows_refused(w, err) : 0;
}

/* ---- the handlers ------------------------------------------------------- */

static void handle_post(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    struct ferry_err err = {0};
    struct fy_rows_req w;
    json_t *root = NULL;
    int rc;

    fy_rows_req_init(&w, ud, fy_api_key(req), FY_ROWS_POST);
    rc = path_table(&w, req, &err);
    if (rc == 0)
        rc = parse_json_body(&w, req, &root, &err);
    if (rc == 0)
        rc = parse_rows(&w, root, &err);
    if (rc == 0)
        rc = idem_setup(&w, req, &err);
    finish_write(&w, req, resp, rc, &err);
    fy_rows_req_release(&w);
}

static void handle_patch(struct fy_http_req *req, struct fy_http_resp *resp,
                         void *ud)
{
    struct ferry_err err = {0};
    struct fy_rows_req w;
    json_t *body = NULL;
    int rc;

    fy_rows_req_init(&w, ud, fy_api_key(req), FY_ROWS_PATCH);
    rc = path_table(&w, req, &err);
    if (rc == 0)
        rc = parse_json_body(&w, req, &body, &err);
    if (rc == 0 && !json_is_object(body))
        rc = malformed(&err, "the body must be a JSON object of the columns"
                             " to set");
    if (rc == 0)
        rc = parse_keyed(&w, req, body, &err);
    if (rc == 0)
        rc = idem_setup(&w, req, &err);
    finish_write(&w, req, resp, rc, &err);
    fy_rows_req_release(&w);
}

static void handle_delete(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct ferry_err err = {0};
    struct fy_rows_req w;
    json_t *none;
    int rc;

    fy_rows_req_init(&w, ud, fy_api_key(req), FY_ROWS_DELETE);
    none = fy_rows_hold(&w, json_object());
    rc = none ? path_table(&w, req, &err)
              : fy_err_set(&err, FERRY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = parse_keyed(&w, req, none, &err);
    if (rc == 0)
        rc = idem_setup(&w, req, &err);
    finish_write(&w, req, resp, rc, &err);
    fy_rows_req_release(&w);
}

/* ---- GET ---------------------------------------------------------------- */

/*
 * The read scope of /v1/changes (docs/contract.md, "read"), for one row:
 * admin keys read everything; "all" every row; "region" the key's region
 * (every region for a key without one); "none" (push-only) only the
 * key's own rows: its device in the device column, or without one, the
 * rows it wrote last.
 */
static bool may_read(const struct fy_key *k, const struct fy_table *t,
                     const struct fy_read_row *r)
{
    const char *v;

    if (k->admin || t->read == FY_READ_ALL)
        return true;
    if (t->read == FY_READ_REGION) {
        v = t->region_col >= 0 ? r->vals[t->region_col] : NULL;
        return !k->region || (v && strcmp(v, k->region) == 0);
    }
    v = t->device_col >= 0 ? r->vals[t->device_col] : r->origin;
    return v && strcmp(v, k->device) == 0;
}

struct got {
    const struct fy_key *key;
    json_t *answer;
};

static int row_answer(const struct fy_read_row *r, void *ud)
{
    struct got *g = ud;
    const struct fy_table *t = r->table;
    char hlc[FY_HLC_STRLEN + 1];
    json_t *row, *key;

    if (!may_read(g->key, t, r))
        return 0;
    row = json_object();
    key = json_object();
    for (size_t i = 0; row && key && i < t->ncols; i++) {
        json_t *v = fy_val_store_json(&t->cols[i], r->vals[i]);

        if (fy_table_is_pk(t, i))
            json_object_set(key, t->cols[i].name, v);
        json_object_set_new(row, t->cols[i].name, v);
    }
    fy_hlc_format(r->hlc, hlc);
    g->answer =
        json_pack("{s:s, s:o*, s:s, s:s, s:o*}", "table", t->name, "key", key,
                  "hlc", hlc, "origin", r->origin, "row", row);
    return g->answer ? 0 : FERRY_ENOMEM;
}

int fy_rows_path_key(struct fy_rows_req *w, const struct fy_http_req *req,
                     struct fy_val **key, struct ferry_err *err)
{
    int rc = alloc_changes(w, 1, err);

    *key = NULL;
    if (rc == 0)
        rc = path_key(w, req, &w->chs[0], err);
    *key = rc == 0 ? fy_arena_calloc(&w->a, w->t->npk, sizeof(**key)) : NULL;
    if (rc == 0 && !*key)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < w->t->npk; i++)
        (*key)[i] = w->chs[0].vals[w->t->pk[i]];
    return rc;
}

int fy_rows_path_table(struct fy_rows_req *w, const struct fy_http_req *req,
                       struct ferry_err *err)
{
    return path_table(w, req, err);
}

static int read_row(struct fy_rows_req *w, const struct fy_http_req *req,
                    struct got *g, struct ferry_err *err)
{
    struct fy_store *st = NULL;
    struct fy_val *key;
    bool found = false;
    int rc = fy_rows_path_key(w, req, &key, err);

    if (rc == 0)
        rc = fy_store_pool_get(w->api->pool, w->api->pool_wait_ms, &st, err);
    if (rc == 0) {
        rc = fy_store_row_get(st, w->t, key, false, row_answer, g, &found, NULL,
                              err);
        fy_store_pool_put(w->api->pool, st);
    }
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, rc, "out of memory");
    /* A row the key may not read is no row to it. */
    if (rc == 0 && !g->answer)
        rc = fy_rows_wire(err,
                          fy_err_set(err, FERRY_ENOTFOUND,
                                     "table '%s' has no such row", w->t->name),
                          FERRY_WIRE_ROW_NOT_FOUND);
    return rc;
}

static void handle_get(struct fy_http_req *req, struct fy_http_resp *resp,
                       void *ud)
{
    struct ferry_err err = {0};
    struct fy_rows_req w;
    struct got g = {.key = fy_api_key(req)};
    int rc;

    fy_rows_req_init(&w, ud, g.key, FY_ROWS_POST);
    rc = path_table(&w, req, &err);
    if (rc == 0)
        rc = read_row(&w, req, &g, &err);
    if (rc == 0)
        fy_api_json(resp, 200, g.answer);
    else
        fy_api_failure(resp, rc, &err, NULL);
    fy_rows_req_release(&w);
}

/* ---- for other modules -------------------------------------------------- */

int fy_rows_set(struct fy_api *api, const struct fy_key *key,
                const struct fy_table *t, json_t *row, bool patch,
                enum fy_row_outcome *outcome, struct ferry_err *err)
{
    struct fy_rows_replay rp = {.body = FY_BUF_INIT(0)};
    struct fy_rows_req w;
    int rc;

    *outcome = FY_ROW_PENDING;
    fy_rows_req_init(&w, api, key, patch ? FY_ROWS_PATCH : FY_ROWS_POST);
    w.t = t;
    rc = parse_rows(&w, row, err);
    if (rc == 0)
        rc = fy_rows_run(&w, &rp, err);
    if (rc == 0)
        *outcome = w.chs[0].outcome;
    fy_buf_release(&rp.body);
    fy_rows_req_release(&w);
    return rc;
}

struct found {
    const struct fy_key *key;
    bool in_scope;
};

static int note_scope(const struct fy_read_row *r, void *ud)
{
    struct found *f = ud;
    const struct fy_table *t = r->table;
    const char *scope = t->region_col >= 0 ? f->key->region : NULL;
    const char *region = t->region_col >= 0 ? r->vals[t->region_col] : NULL;

    f->in_scope = !scope || (region && strcmp(region, scope) == 0);
    return 0;
}

int fy_rows_check(struct fy_api *api, const struct fy_key *key,
                  const struct fy_table *t, json_t *row, struct ferry_err *err)
{
    struct fy_rows_req w;
    struct fy_store *st = NULL;
    struct found f = {.key = key};
    struct fy_val *kv = NULL;
    bool found = false;
    int rc;

    fy_rows_req_init(&w, api, key, FY_ROWS_PATCH);
    w.t = t;
    rc = parse_rows(&w, row, err);
    kv = rc == 0 ? fy_arena_calloc(&w.a, t->npk, sizeof(*kv)) : NULL;
    if (rc == 0 && !kv)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < t->npk; i++)
        kv[i] = w.chs[0].vals[t->pk[i]];
    if (rc == 0)
        rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, err);
    if (rc == 0) {
        rc = fy_store_row_get(st, t, kv, false, note_scope, &f, &found, NULL,
                              err);
        fy_store_pool_put(api->pool, st);
    }
    if (rc == 0 && !found)
        rc = fy_rows_wire(err,
                          fy_err_set(err, FERRY_ENOTFOUND,
                                     "table '%s' has no such row", t->name),
                          FERRY_WIRE_ROW_NOT_FOUND);
    else if (rc == 0 && !f.in_scope)
        rc = fy_rows_wire(err,
                          fy_err_set(err, FERRY_EFORBIDDEN,
                                     "table '%s': the row is outside this"
                                     " key's region '%s'",
                                     t->name, key->region),
                          FERRY_WIRE_REGION_SCOPE);
    fy_rows_req_release(&w);
    return rc;
}

/* ---- routes ------------------------------------------------------------- */

static const char *const json_types[] = {"application/json", NULL};

const struct fy_http_route fy_rows_routes[] = {
    {.method = "POST",
     .pattern = "/v1/tables/{table:name}/rows",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_MEMORY, .types = json_types},
     .fn = handle_post},
    {.method = "GET",
     .pattern = "/v1/tables/{table:name}/rows/{key:text}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_get},
    {.method = "PATCH",
     .pattern = "/v1/tables/{table:name}/rows/{key:text}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_MEMORY, .types = json_types},
     .fn = handle_patch},
    {.method = "DELETE",
     .pattern = "/v1/tables/{table:name}/rows/{key:text}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .fn = handle_delete},
};

const size_t fy_rows_nroutes = FY_ARRAY_LEN(fy_rows_routes);
