/* SPDX-License-Identifier: MIT */
/*
 * ferryd's blob endpoints; see blob.h and docs/blobs.md. An upload is a
 * stream (http/server.h, FY_ROUTE_STREAM): its bytes go to the store in
 * parts of at most FY_BLOB_PART as they arrive, each with the new offset
 * in one transaction, so what arrived is kept whatever ends the request,
 * and at most one part is held in memory.
 */
#include "server/blob.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "server/api.h"
#include "server/metrics.h"
#include "fy.h"

/* ---- Content-Range ------------------------------------------------------ */

/* Digits only, no sign, at most 2^62 (so sums cannot overflow). */
static const char *parse_num(const char *p, char stop, uint64_t *v)
{
    const char *start = p;

    *v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (p - start >= 19)
            return NULL;
        *v = *v * 10 + (uint64_t)(*p - '0');
    }
    if (p == start || *p != stop || *v > ((uint64_t)1 << 62))
        return NULL;
    return p;
}

int fy_blob_content_range(const char *h, uint64_t *start, uint64_t *end,
                          uint64_t *total, struct ferry_err *err)
{
    const char *p = h;

    if (strncmp(p, "bytes ", 6) != 0)
        goto bad;
    p += 6;
    if (!(p = parse_num(p, '-', start)) || !(p = parse_num(p + 1, '/', end)) ||
        !(p = parse_num(p + 1, '\0', total)))
        goto bad;
    if (*start > *end || *end >= *total)
        return fy_err_set(err, FERRY_EPARSE,
                          "Content-Range: START <= END < TOTAL is required");
    return 0;
bad:
    return fy_err_set(err, FERRY_EPARSE,
                      "Content-Range must be 'bytes START-END/TOTAL'");
}

/* ---- answers ------------------------------------------------------------ */

static void offset_headers(struct fy_http_resp *resp, bool found,
                           const struct fy_blob_info *info)
{
    char v[32];

    snprintf(v, sizeof(v), "%" PRId64, found ? info->received : 0);
    fy_http_resp_header(resp, "Upload-Offset", v);
    if (found && !info->complete) {
        snprintf(v, sizeof(v), "%" PRId64, info->size);
        fy_http_resp_header(resp, "Upload-Length", v);
    }
}

static void answer_stored(struct fy_http_resp *resp, const char *sha,
                          int64_t size, bool created)
{
    const struct fy_blob_info info = {
        .size = size, .received = size, .complete = true};

    fy_api_json(resp, created ? 201 : 200,
                json_pack("{s:s, s:I, s:b}", "sha256", sha, "size",
                          (json_int_t)size, "created", created));
    offset_headers(resp, true, &info);
}

static void answer_wire(struct fy_http_resp *resp, int wire, const char *msg,
                        bool found, const struct fy_blob_info *info)
{
    fy_http_error(resp, wire, msg, NULL);
    offset_headers(resp, found, info);
}

/*
 * Incomplete uploads untouched for the TTL are removed from time to time
 * by a blob request, at most once per interval per process (one request
 * wins the compare-and-swap); several processes at once are harmless:
 * each removal checks again under the row's lock.
 */
static void maybe_expire(struct fy_api *api, struct fy_store *st)
{
    int64_t ttl = api->blob_upload_ttl_ms > 0 ? api->blob_upload_ttl_ms
                                              : FY_BLOB_UPLOAD_TTL_S * 1000LL;
    int64_t now = fy_now_ms(), every = ttl / 2;
    int64_t due = __atomic_load_n(&api->next_blob_expire_ms, __ATOMIC_RELAXED);
    struct ferry_err err = {0};
    long removed = 0;

    if (now < due)
        return;
    every = every < 1000 ? 1000 : every > 60000 ? 60000 : every;
    if (!__atomic_compare_exchange_n(&api->next_blob_expire_ms, &due,
                                     now + every, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    if (fy_store_blob_expire(st, now - ttl, &removed, &err) < 0)
        fy_warn("blob", "cannot remove expired uploads: %s", err.msg);
    else if (removed)
        fy_info("blob", "removed %ld incomplete uploads idle for %lld s",
                removed, (long long)(ttl / 1000));
}

static uint64_t max_bytes(const struct fy_api *api)
{
    return api->blob_max_bytes ? api->blob_max_bytes : FY_BLOB_MAX_BYTES;
}

/* ---- hashing ------------------------------------------------------------ */

static void md_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32) {
        out[0] = '\0';
        return;
    }
    fy_hex(d, n, out);
}

/*
 * The SHA-256 of what the store holds of an upload, read back part by
 * part with a connection borrowed for each.
 */
static int hash_stored(struct fy_api *api, const char *sha, int64_t size,
                       char out[65], struct ferry_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct fy_buf part = FY_BUF_INIT(0);
    int64_t at = 0, part_off = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? 0
                 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    while (rc == 0 && at < size) {
        struct fy_store *st = NULL;

        rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, err);
        if (rc == 0)
            rc = fy_store_blob_part(st, sha, at, &part, &part_off, err);
        if (st)
            fy_store_pool_put(api->pool, st);
        if (rc == 0 && part_off != at) /* parts start where others end */
            rc = fy_err_set(err, FERRY_ECONFLICT, "blob %s changed", sha);
        if (rc == 0) {
            EVP_DigestUpdate(md, part.data, part.len);
            at += (int64_t)part.len;
        }
    }
    if (rc == 0)
        md_hex(md, out);
    EVP_MD_CTX_free(md);
    fy_buf_release(&part);
    return rc;
}

/* ---- PUT: an upload as a stream ----------------------------------------- */

struct put {
    struct fy_api *api;
    char sha[65];
    int64_t gen;
    uint64_t off;   /* bytes the store holds, parts flushed so far */
    uint64_t end;   /* where this request's body ends */
    uint64_t total; /* the file's size */
    struct fy_buf chunk;
    EVP_MD_CTX *md; /* the whole file's hash, when sent from offset 0 */
    int rc;         /* the first failure */
    struct ferry_err err;
    struct fy_blob_info info; /* the upload as it was on a conflict */
};

static void put_free(struct put *u)
{
    if (!u)
        return;
    fy_buf_release(&u->chunk);
    EVP_MD_CTX_free(u->md);
    fy_free(u);
}

static int put_fail(struct put *u, int rc, const struct ferry_err *err)
{
    if (u->rc == 0) {
        u->rc = rc;
        u->err = *err;
    }
    return rc;
}

/* Stores the part in memory; a part is committed with its offset. */
static int flush(struct put *u)
{
    struct fy_api *api = u->api;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    if (u->rc < 0 || u->chunk.len == 0)
        return u->rc;
    rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    if (rc == 0)
        rc = fy_store_blob_append(st, u->sha, u->gen, (int64_t)u->off,
                                  u->chunk.data, u->chunk.len, &u->info, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0)
        return put_fail(u, rc, &err);
    u->off += u->chunk.len;
    fy_metrics_blob_bytes(false, u->chunk.len);
    fy_buf_reset(&u->chunk);
    return 0;
}

static int put_data(struct fy_http_req *req, const char *p, size_t n, void *ud)
{
    struct put *u = req->stream_ctx;
    struct ferry_err err = {0};

    (void)ud;
    if (u->rc < 0)
        return u->rc;
    if (n > u->end - u->off - u->chunk.len) {
        fy_err_set(&err, FERRY_EPARSE,
                   "the body is longer than Content-Range says");
        return put_fail(u, FERRY_EPARSE, &err);
    }
    if (u->md)
        EVP_DigestUpdate(u->md, p, n);
    while (n) {
        size_t k = FY_BLOB_PART - u->chunk.len;

        k = k < n ? k : n;
        if (fy_buf_add(&u->chunk, p, k) < 0) {
            fy_err_set(&err, FERRY_ENOMEM, "out of memory");
            return put_fail(u, FERRY_ENOMEM, &err);
        }
        p += k;
        n -= k;
        if (u->chunk.len == FY_BLOB_PART && flush(u) < 0)
            return u->rc;
    }
    return 0;
}

/*
 * The store holds the whole file: its hash must be the path's. A request
 * that sent every byte from 0 with every part accepted in one generation
 * knows the hash of what it stored; a resumed one reads it back.
 */
static void complete(struct put *u, struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    char got[65] = "";
    bool gone = false;
    int rc = 0;

    if (u->md)
        md_hex(u->md, got);
    else
        rc = hash_stored(u->api, u->sha, (int64_t)u->total, got, &err);
    if (rc == 0)
        rc = fy_store_pool_get(u->api->pool, u->api->pool_wait_ms, &st, &err);
    if (rc == 0 && strcmp(got, u->sha) == 0)
        rc = fy_store_blob_finish(st, u->sha, u->gen, &err);
    else if (rc == 0)
        rc = fy_store_blob_discard(st, u->sha, u->gen, &gone, &err);
    /* Started over or completed by another request: say where it stands. */
    if (rc == FERRY_ECONFLICT || (rc == 0 && !gone && strcmp(got, u->sha)))
        fy_store_blob_get(st, u->sha, &u->info, NULL);
    if (st)
        fy_store_pool_put(u->api->pool, st);
    if (rc < 0) {
        put_fail(u, rc, &err);
        return;
    }
    if (strcmp(got, u->sha) == 0) {
        fy_info("blob", "sha256=%s size=%" PRIu64 " stored", u->sha, u->total);
        answer_stored(resp, u->sha, (int64_t)u->total, true);
        return;
    }
    fy_info("blob", "sha256=%s upload discarded: its content hashes to %s",
            u->sha, got);
    if (!gone) { /* started over by another request meanwhile */
        fy_err_set(&err, FERRY_ECONFLICT, "the upload was started over");
        put_fail(u, FERRY_ECONFLICT, &err);
        return;
    }
    answer_wire(resp, FERRY_WIRE_HASH_MISMATCH,
                "the content's SHA-256 is not the one in the path; nothing"
                " was kept",
                false, NULL);
}

static void answer_failure(struct put *u, struct fy_http_resp *resp)
{
    if (u->rc == FERRY_ECONFLICT && u->info.complete) {
        /* Another request completed it meanwhile: as if stored before. */
        answer_stored(resp, u->sha, u->info.size, false);
        return;
    }
    if (u->rc == FERRY_ECONFLICT) {
        answer_wire(resp, FERRY_WIRE_UPLOAD_OFFSET, u->err.msg,
                    u->info.gen != 0, &u->info);
        return;
    }
    if (u->rc == FERRY_EPARSE) {
        answer_wire(resp, FERRY_WIRE_MALFORMED, u->err.msg, true,
                    &(struct fy_blob_info){.received = (int64_t)u->off,
                                           .size = (int64_t)u->total});
        return;
    }
    fy_api_failure(resp, u->rc, &u->err, NULL);
}

static void put_end(struct fy_http_req *req, struct fy_http_resp *resp,
                    bool whole, void *ud)
{
    struct put *u = req->stream_ctx;

    (void)ud;
    (void)whole; /* resp is NULL exactly when the body was cut short */
    flush(u);    /* what arrived is kept, however the request ended */
    if (!resp) {
        fy_info("blob",
                "sha256=%s upload cut short: the store holds %" PRIu64
                " of %" PRIu64 " bytes",
                u->sha, u->off, u->total);
    } else if (u->rc == 0 && u->off == u->total) {
        complete(u, resp);
    } else if (u->rc == 0) {
        fy_api_json(resp, 202,
                    json_pack("{s:s, s:I, s:I}", "sha256", u->sha, "received",
                              (json_int_t)u->off, "size",
                              (json_int_t)u->total));
        offset_headers(resp, true,
                       &(struct fy_blob_info){.received = (int64_t)u->off,
                                              .size = (int64_t)u->total});
    }
    if (resp && u->rc < 0)
        answer_failure(u, resp);
    put_free(u);
    req->stream_ctx = NULL;
}

static const struct fy_http_stream put_stream = {
    .data = put_data,
    .end = put_end,
};

/* What a PUT's headers ask for: the bytes [start, end) of total. */
struct plan {
    uint64_t start, end, total;
};

static int plan_put(const struct fy_api *api, const struct fy_http_req *req,
                    struct plan *pl, struct ferry_err *err)
{
    const char *cr = fy_http_header(req, "Content-Range");
    const char *cl = fy_http_header(req, "Content-Length");
    uint64_t len = 0, last = 0;
    bool has_len = cl && parse_num(cl, '\0', &len);

    if (cr && fy_blob_content_range(cr, &pl->start, &last, &pl->total, err) < 0)
        return FERRY_EPARSE;
    if (!cr && !has_len)
        return fy_err_set(err, FERRY_EPARSE,
                          "a blob upload needs Content-Length or"
                          " Content-Range");
    if (!cr)
        *pl = (struct plan){0, len, len};
    else
        pl->end = last + 1;
    if (cr && has_len && len != pl->end - pl->start)
        return fy_err_set(err, FERRY_EPARSE,
                          "Content-Range says %" PRIu64
                          " bytes but Content-Length %" PRIu64,
                          pl->end - pl->start, len);
    if (pl->total > max_bytes(api) || len > max_bytes(api))
        return fy_err_set(err, FERRY_ETOOBIG,
                          "a blob may have at most %" PRIu64 " bytes",
                          max_bytes(api));
    return 0;
}

/*
 * Where the upload stands for this request: started over (from 0) or
 * resumed where the store holds it. 0 with info set, or an answer made.
 */
static int take_upload(struct fy_store *st, const char *sha,
                       const struct plan *pl, struct fy_blob_info *info,
                       bool found, struct fy_http_resp *resp)
{
    struct ferry_err err = {0};
    char msg[160];
    int rc;

    if (pl->start == 0) {
        rc = fy_store_blob_start(st, sha, (int64_t)pl->total, info, &err);
        if (rc < 0)
            fy_api_failure(resp, rc, &err, NULL);
        else if (info->complete)
            answer_stored(resp, sha, info->size, false);
        return rc < 0 || info->complete ? -1 : 0;
    }
    if (found && info->received == (int64_t)pl->start &&
        info->size == (int64_t)pl->total)
        return 0;
    if (found && info->size != (int64_t)pl->total)
        snprintf(msg, sizeof(msg),
                 "the upload is of %" PRId64 " bytes, not %" PRIu64, info->size,
                 pl->total);
    else
        snprintf(msg, sizeof(msg),
                 "the store holds %" PRId64
                 " bytes of this upload, not %" PRIu64,
                 found ? info->received : 0, pl->start);
    answer_wire(resp, FERRY_WIRE_UPLOAD_OFFSET, msg, found, info);
    return -1;
}

static struct put *put_new(struct fy_api *api, const char *sha,
                           const struct plan *pl, int64_t gen)
{
    struct put *u = fy_calloc(1, sizeof(*u));

    if (!u)
        return NULL;
    u->api = api;
    snprintf(u->sha, sizeof(u->sha), "%s", sha);
    u->gen = gen;
    u->off = pl->start;
    u->end = pl->end;
    u->total = pl->total;
    u->chunk = (struct fy_buf)FY_BUF_INIT(FY_BLOB_PART);
    if (pl->start == 0) {
        u->md = EVP_MD_CTX_new();
        if (!u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
            put_free(u);
            return NULL;
        }
    }
    return u;
}

/*
 * PUT /v1/blobs/{sha256}, on the headers: an answer now (stored already,
 * wrong offset, too large, bad headers), or the body taken as a stream.
 */
static void handle_put(struct fy_http_req *req, struct fy_http_resp *resp,
                       void *ud)
{
    struct fy_api *api = ud;
    const char *sha = fy_http_param(req, "sha256", NULL);
    struct ferry_err err = {0}, perr = {0};
    struct fy_blob_info info = {0};
    struct fy_store *st = NULL;
    struct plan pl = {0};
    int prc = plan_put(api, req, &pl, &perr);
    int rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);
    bool found = false;
    struct put *u;

    if (rc == 0) {
        maybe_expire(api, st);
        rc = fy_store_blob_get(st, sha, &info, &err);
        found = rc == 0;
        rc = rc == FERRY_ENOTFOUND ? 0 : rc;
    }
    if (rc < 0)
        fy_api_failure(resp, rc, &err, NULL);
    else if (prc < 0)
        answer_wire(resp,
                    prc == FERRY_ETOOBIG ? FERRY_WIRE_BODY_TOO_LARGE
                                         : FERRY_WIRE_MALFORMED,
                    perr.msg, found, &info);
    else if (found && info.complete)
        answer_stored(resp, sha, info.size, false);
    else
        rc = take_upload(st, sha, &pl, &info, found, resp);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0 || prc < 0 || (found && info.complete))
        return;
    u = put_new(api, sha, &pl, info.gen);
    if (!u) {
        fy_api_failure(resp, FERRY_ENOMEM, &err, NULL);
        return;
    }
    /* An empty file too: its end completes it. */
    req->stream = &put_stream;
    req->stream_ctx = u;
}

/* ---- HEAD and GET ---------------------------------------------------------
 */

/*
 * GET answers from a reader that fetches the part holding each offset
 * (MHD asks in pieces of its send buffer; the current part is kept), with
 * a store connection borrowed per part: a download holds one part in
 * memory and no connection while the client reads slowly, and Range maps
 * to offsets. (Copying the blob to a temporary file first would reuse the
 * file answer but cost a full copy before the first byte and the disk.)
 */
struct reader {
    struct fy_api *api;
    char sha[65];
    struct fy_buf part;
    int64_t part_off;
};

static long read_blob(void *ctx, uint64_t off, char *buf, size_t max)
{
    struct reader *r = ctx;
    uint64_t have = (uint64_t)r->part_off;
    size_t n;

    if (r->part.len == 0 || off < have || off >= have + r->part.len) {
        struct ferry_err err = {0};
        struct fy_store *st = NULL;
        int rc =
            fy_store_pool_get(r->api->pool, r->api->pool_wait_ms, &st, &err);

        if (rc == 0)
            rc = fy_store_blob_part(st, r->sha, (int64_t)off, &r->part,
                                    &r->part_off, &err);
        if (st)
            fy_store_pool_put(r->api->pool, st);
        if (rc < 0) {
            fy_warn("blob", "sha256=%s download cut at %" PRIu64 ": %s", r->sha,
                    off, err.msg);
            fy_buf_reset(&r->part);
            return -1;
        }
        have = (uint64_t)r->part_off;
    }
    n = (size_t)(have + r->part.len - off);
    n = n < max ? n : max;
    memcpy(buf, r->part.data + (off - have), n);
    fy_metrics_blob_bytes(true, n);
    return (long)n;
}

static void free_reader(void *ctx)
{
    struct reader *r = ctx;

    fy_buf_release(&r->part);
    fy_free(r);
}

/* HEAD and GET /v1/blobs/{sha256}: the server answers Range and 304. */
static void handle_get(struct fy_http_req *req, struct fy_http_resp *resp,
                       void *ud)
{
    struct fy_api *api = ud;
    const char *sha = fy_http_param(req, "sha256", NULL);
    struct ferry_err err = {0};
    struct fy_blob_info info = {0};
    struct fy_store *st = NULL;
    struct reader *r;
    int rc = fy_store_pool_get(api->pool, api->pool_wait_ms, &st, &err);

    if (rc == 0) {
        maybe_expire(api, st);
        rc = fy_store_blob_get(st, sha, &info, &err);
        fy_store_pool_put(api->pool, st);
    }
    if (rc == FERRY_ENOTFOUND || (rc == 0 && !info.complete)) {
        answer_wire(resp, FERRY_WIRE_NOT_FOUND,
                    "the store does not hold this blob complete", rc == 0,
                    &info);
        return;
    }
    if (rc < 0 || !(r = fy_calloc(1, sizeof(*r)))) {
        fy_api_failure(resp, rc < 0 ? rc : FERRY_ENOMEM, &err, NULL);
        return;
    }
    r->api = api;
    snprintf(r->sha, sizeof(r->sha), "%s", sha);
    r->part = (struct fy_buf)FY_BUF_INIT(0);
    resp->content_type = "application/octet-stream";
    snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", sha);
    offset_headers(resp, true, &info);
    fy_http_resp_reader(resp, (uint64_t)info.size, read_blob, free_reader, r);
}

/* ---- rows that name blobs ----------------------------------------------- */

struct refs {
    char sha[FY_BLOB_MAX_CHECK][65];
    const char *ptr[FY_BLOB_MAX_CHECK];
    const struct fy_change *ch[FY_BLOB_MAX_CHECK];
    const struct fy_column *col[FY_BLOB_MAX_CHECK];
    size_t n;
};

/* Asks the store about the gathered hashes; the first missing one fails. */
static int check_refs(struct fy_store *st, struct refs *r,
                      const struct fy_change **bad, struct ferry_err *err)
{
    bool complete[FY_BLOB_MAX_CHECK];
    int rc = r->n ? fy_store_blob_complete(st, r->ptr, r->n, complete, err) : 0;

    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        if (complete[i])
            continue;
        *bad = r->ch[i];
        rc = fy_err_set(err, FERRY_ECONTRACT,
                        "table '%s': column '%s' names blob %s, which the"
                        " store does not hold: upload it first",
                        r->ch[i]->table->name, r->col[i]->name, r->sha[i]);
        if (err)
            err->wire = FERRY_WIRE_MISSING_BLOB;
    }
    r->n = 0;
    return rc;
}

static void add_ref(struct refs *r, const struct fy_change *ch,
                    const struct fy_column *col, const struct fy_val *v)
{
    for (size_t i = 0; i < r->n; i++) {
        if (v->len == 64 && memcmp(r->sha[i], v->s, 64) == 0)
            return; /* asked already, for an earlier change */
    }
    snprintf(r->sha[r->n], sizeof(r->sha[0]), "%.*s",
             (int)(v->len < 64 ? v->len : 64), v->s);
    r->ptr[r->n] = r->sha[r->n];
    r->ch[r->n] = ch;
    r->col[r->n] = col;
    r->n++;
}

int fy_blob_refs_check(struct fy_store *st, struct fy_change *const *chs,
                       size_t n, const struct fy_change **bad,
                       struct ferry_err *err)
{
    struct refs *r = fy_calloc(1, sizeof(*r));
    int rc = r ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    *bad = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct fy_table *t = chs[i]->table;

        for (size_t c = 0; rc == 0 && !chs[i]->del && c < t->ncols; c++) {
            const struct fy_val *v = &chs[i]->vals[c];

            if (!t->cols[c].blob_ref || v->kind != FY_V_TEXT)
                continue;
            add_ref(r, chs[i], &t->cols[c], v);
            if (r->n == FY_BLOB_MAX_CHECK)
                rc = check_refs(st, r, bad, err);
        }
    }
    if (rc == 0)
        rc = check_refs(st, r, bad, err);
    fy_free(r);
    return rc;
}

/* ---- a file on disk as a blob ------------------------------------------- */

static int read_at(int fd, uint64_t off, char *buf, size_t n,
                   struct ferry_err *err)
{
    while (n) {
        ssize_t got = pread(fd, buf, n, (off_t)off);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fy_err_set(err, FERRY_EIO, "cannot read the file: %s",
                              got < 0 ? strerror(errno) : "it is shorter");
        buf += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

static int hash_fd(int fd, uint64_t off, uint64_t len, char *buf, char out[65],
                   struct ferry_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? 0
                 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    for (uint64_t at = 0; rc == 0 && at < len; at += FY_BLOB_PART) {
        size_t n = len - at < FY_BLOB_PART ? (size_t)(len - at) : FY_BLOB_PART;

        rc = read_at(fd, off + at, buf, n, err);
        if (rc == 0)
            EVP_DigestUpdate(md, buf, n);
    }
    if (rc == 0)
        md_hex(md, out);
    EVP_MD_CTX_free(md);
    return rc;
}

/* One store call with a connection borrowed for it. */
struct fd_upload {
    struct fy_store_pool *pool;
    int wait_ms;
    const char *sha;
    struct fy_blob_info info;
};

static int copy_parts(struct fd_upload *fu, int fd, uint64_t off, uint64_t len,
                      char *buf, struct ferry_err *err)
{
    int rc = 0;

    for (uint64_t at = 0; rc == 0 && at < len; at += FY_BLOB_PART) {
        size_t n = len - at < FY_BLOB_PART ? (size_t)(len - at) : FY_BLOB_PART;
        struct fy_store *st = NULL;

        rc = read_at(fd, off + at, buf, n, err);
        if (rc == 0)
            rc = fy_store_pool_get(fu->pool, fu->wait_ms, &st, err);
        if (rc == 0)
            rc = fy_store_blob_append(st, fu->sha, fu->info.gen, (int64_t)at,
                                      buf, n, &fu->info, err);
        if (st)
            fy_store_pool_put(fu->pool, st);
        if (rc == 0)
            fy_metrics_blob_bytes(false, n);
    }
    return rc;
}

static int start_or_finish(struct fd_upload *fu, bool finish, int64_t size,
                           struct ferry_err *err)
{
    struct fy_store *st = NULL;
    int rc = fy_store_pool_get(fu->pool, fu->wait_ms, &st, err);

    if (rc == 0 && finish)
        rc = fy_store_blob_finish(st, fu->sha, fu->info.gen, err);
    else if (rc == 0)
        rc = fy_store_blob_start(st, fu->sha, size, &fu->info, err);
    if (st)
        fy_store_pool_put(fu->pool, st);
    return rc;
}

int fy_blob_store_fd(struct fy_store_pool *pool, int pool_wait_ms, int fd,
                     uint64_t off, uint64_t len, size_t max_bytes,
                     char sha256_out[65], bool *created, struct ferry_err *err)
{
    struct fd_upload fu = {pool, pool_wait_ms, sha256_out, {0}};
    char *buf = NULL;
    int rc = 0;

    *created = false;
    sha256_out[0] = '\0';
    if (len > max_bytes)
        return fy_err_set(err, FERRY_ETOOBIG,
                          "a blob may have at most %zu bytes", max_bytes);
    buf = fy_malloc(FY_BLOB_PART);
    if (!buf)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /* Its hash names it: read once to hash, once to store. */
    rc = hash_fd(fd, off, len, buf, sha256_out, err);
    if (rc == 0)
        rc = start_or_finish(&fu, false, (int64_t)len, err);
    if (rc == 0 && !fu.info.complete) {
        rc = copy_parts(&fu, fd, off, len, buf, err);
        if (rc == 0)
            rc = start_or_finish(&fu, true, (int64_t)len, err);
        *created = rc == 0;
    }
    fy_free(buf);
    return rc;
}

/* ---- routes ------------------------------------------------------------- */

const struct fy_http_route fy_blob_routes[] = {
    /* An upload holds one part in memory: charged to the in-flight budget. */
    {.method = "PUT",
     .pattern = "/v1/blobs/{sha256:sha256}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD, .max = FY_BLOB_PART},
     .flags = FY_ROUTE_STREAM,
     .fn = handle_put},
    /* libmicrohttpd sends no body for HEAD, but the GET's Content-Length. */
    {.method = "HEAD",
     .pattern = "/v1/blobs/{sha256:sha256}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .flags = FY_ROUTE_RANGE,
     .fn = handle_get},
    {.method = "GET",
     .pattern = "/v1/blobs/{sha256:sha256}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_DISCARD},
     .flags = FY_ROUTE_RANGE,
     .fn = handle_get},
};

const size_t fy_blob_nroutes = FY_ARRAY_LEN(fy_blob_routes);
