/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: framing checks, routing and the routes' policies,
 * request accumulation with limits, the in-flight body budget, gzip bodies,
 * bodies streamed to a file, responses with ETag and Range, and the access
 * log; see server.h.
 */
#include "http/server.h"
#include "http/conn_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#define ZLIB_CONST /* next_in is const: zlib never writes input */
#include <zlib.h>

#include "fy.h"

struct fy_http_server {
    struct MHD_Daemon *d;
    struct fy_http_handlers h;
    const struct fy_http_router *router;
    char tmp_dir[256];
    void *ud;
    size_t max_body;
    size_t max_inflight;
    _Atomic size_t inflight; /* bytes of bodies held, all connections */
    unsigned port;
    struct fy_conn_guard *guard; /* request-head deadlines; NULL: none */
    /* The last libmicrohttpd message while starting, for the error. */
    pthread_mutex_t msg_mu;
    bool starting;
    char start_msg[512];
};

struct conn_state {
    struct fy_http_req req;
    struct fy_http_match match;
    char uri[256];        /* raw request target, for the log line */
    char *raw_path;       /* the target's path, still percent-encoded */
    char allow[64];       /* a 405's Allow header */
    EVP_MD_CTX *sha;      /* FY_BODY_FILE: the body's running SHA-256 */
    size_t max;           /* this route's body limit */
    int status;           /* what ferry answered; 0 not yet */
    size_t body_charge;   /* bytes of the budget held for req.body */
    size_t plain_charge;  /* ... for the decompressed body */
    size_t stream_charge; /* ... for a FY_ROUTE_STREAM handler's hold */
    bool headers_done;    /* the access handler has seen the headers */
    bool stream_stopped;  /* the stream's data hook refused more */
    bool stream_ended;    /* its end hook ran */
    bool too_big;
    bool busy;     /* the in-flight budget ran out mid-body */
    bool failed;   /* the body file could not be written */
    bool full;     /* ... because its disk is full */
    bool answered; /* a response was queued before the body */
    /*
     * A stream route's answer on the headers to a client that did not ask
     * 100-continue: sent once the body has been read and dropped (owned).
     */
    struct fy_http_resp *deferred;
};

const char *fy_http_header(const struct fy_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *fy_http_cookie(const struct fy_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *fy_http_query(const struct fy_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *fy_http_param(const struct fy_http_req *req, const char *name,
                          size_t *len)
{
    return req->match ? fy_http_match_param(req->match, name, len) : NULL;
}

/* An answer that will not be sent from its reader releases it now. */
static void resp_drop_reader(struct fy_http_resp *resp)
{
    if (resp->reader && resp->reader_free)
        resp->reader_free(resp->reader_ctx);
    resp->reader = NULL;
    resp->reader_free = NULL;
    resp->reader_ctx = NULL;
}

void fy_http_error(struct fy_http_resp *resp, int wire, const char *message,
                   void *extra)
{
    json_t *e = json_pack("{s:s, s:s}", "code", ferry_wire_name(wire),
                          "message", message);
    json_t *root = json_pack("{s:o}", "error", e);
    char *text;

    if (json_is_object((json_t *)extra)) {
        json_object_update_missing(e, extra);
        json_decref(extra);
    } else if (extra) {
        json_object_set_new(e, "changes", extra);
    }
    text = json_dumps(root, JSON_COMPACT);
    resp->status = ferry_wire_status(wire);
    resp->content_type = "application/json";
    fy_buf_reset(&resp->body);
    if (text)
        fy_buf_adds(&resp->body, text);
    fy_buf_addc(&resp->body, '\n');
    free(text);
    json_decref(root);
    if (resp->fd >= 0)
        close(resp->fd);
    resp->fd = -1;
    resp_drop_reader(resp);
}

void fy_http_resp_file(struct fy_http_resp *resp, int fd, uint64_t off,
                       uint64_t len)
{
    if (resp->fd >= 0 && resp->fd != fd)
        close(resp->fd);
    resp->fd = fd;
    resp->fd_off = off;
    resp->fd_len = len;
}

void fy_http_resp_reader(struct fy_http_resp *resp, uint64_t len,
                         fy_http_read_fn *read, fy_http_free_fn *free_fn,
                         void *ctx)
{
    resp_drop_reader(resp);
    resp->reader = read;
    resp->reader_free = free_fn;
    resp->reader_ctx = ctx;
    resp->reader_len = len;
}

int fy_http_resp_header(struct fy_http_resp *resp, const char *name,
                        const char *value)
{
    struct fy_http_extra *x;

    if (resp->nextra == FY_HTTP_MAX_EXTRA || strlen(name) >= sizeof(x->name) ||
        strlen(value) >= sizeof(x->value))
        return FERRY_ETOOBIG;
    /* A CR or LF would end the header and start another (splitting). */
    if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
        return FERRY_EINVAL;
    x = &resp->extra[resp->nextra++];
    snprintf(x->name, sizeof(x->name), "%s", name);
    snprintf(x->value, sizeof(x->value), "%s", value);
    return 0;
}

/* ---- the in-flight body budget ------------------------------------------ */

/*
 * Takes n bytes from the budget of all bodies in flight; false when that
 * would pass max_inflight. Lock-free: connection threads race here.
 */
static bool budget_take(struct fy_http_server *s, size_t n)
{
    size_t cur = atomic_load(&s->inflight);

    do {
        if (n > s->max_inflight || cur > s->max_inflight - n)
            return false;
    } while (!atomic_compare_exchange_weak(&s->inflight, &cur, cur + n));
    return true;
}

static void budget_give(struct fy_http_server *s, size_t *charge)
{
    atomic_fetch_sub(&s->inflight, *charge);
    *charge = 0;
}

/*
 * The capacity to grow b to for need bytes: doubling, as fy_buf_grow(), but
 * never past b->max + 1, so a body near the limit costs the limit, not
 * twice it.
 */
static size_t grown_cap(const struct fy_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 64;

    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1 > need ? b->max + 1 : need;
    return cap;
}

/* Reallocates b to exactly cap bytes (cap > b->len). */
static int buf_resize(struct fy_buf *b, size_t cap)
{
    char *p = fy_realloc(b->data == fy_buf_empty ? NULL : b->data, cap);

    if (!p)
        return b->err = FERRY_ENOMEM;
    if (b->data == fy_buf_empty)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

/*
 * Grows b for extra more bytes, paid from the budget: *charge holds what b
 * already cost, other what the same request holds in other buffers.
 * FERRY_ETOOBIG past b->max, or when the request would not fit in the
 * budget even with no other request in flight (waiting cannot help: 413,
 * not 503); FERRY_EUNAVAIL when the budget is spent for now.
 */
static int grow_charged(struct fy_http_server *s, struct fy_buf *b,
                        size_t extra, size_t *charge, size_t other)
{
    size_t need, cap;

    if (extra > SIZE_MAX - b->len - 1)
        return FERRY_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    if (b->max && need > b->max + 1)
        return FERRY_ETOOBIG;
    cap = grown_cap(b, need);
    if (other + *charge + (cap - b->cap) > s->max_inflight)
        return FERRY_ETOOBIG;
    if (!budget_take(s, cap - b->cap))
        return FERRY_EUNAVAIL;
    /* Charged as allocated: the buffer gets exactly cap bytes. */
    *charge += cap - b->cap;
    return buf_resize(b, cap);
}

size_t fy_http_server_inflight(const struct fy_http_server *s)
{
    return atomic_load(&s->inflight);
}

/* ---- conditional and range answers -------------------------------------- */

struct span {
    uint64_t off, len;
};

static bool etag_listed(const char *list, const char *etag)
{
    const char *p;

    if (strcmp(list, "*") == 0)
        return true;
    /* Weak comparison (RFC 9110, 13.1.2): a W/ prefix does not matter. */
    for (p = strstr(list, etag); p; p = strstr(p + 1, etag)) {
        size_t n = strlen(etag);

        if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
            return true;
    }
    return false;
}

static bool parse_u64(const char *p, const char *end, uint64_t *v)
{
    *v = 0;
    if (p == end || end - p > 19)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        *v = *v * 10 + (uint64_t)(*p - '0');
    }
    return true;
}

/*
 * One "bytes=" range against size: 1 with *sp set, 0 when the header is
 * to be ignored (malformed, or several ranges: the whole is served, as RFC
 * 9110 14.2 allows), -1 when it cannot be satisfied (416).
 */
static int parse_range(const char *h, uint64_t size, struct span *sp)
{
    const char *dash, *end;
    uint64_t a, b;

    if (strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    h += 6;
    dash = strchr(h, '-');
    end = h + strlen(h);
    if (!dash)
        return 0;
    if (dash == h) { /* the last b bytes */
        if (!parse_u64(dash + 1, end, &b))
            return 0;
        if (b == 0 || size == 0)
            return -1;
        b = b > size ? size : b;
        *sp = (struct span){size - b, b};
        return 1;
    }
    if (!parse_u64(h, dash, &a))
        return 0;
    if (dash + 1 == end)
        b = size ? size - 1 : 0;
    else if (!parse_u64(dash + 1, end, &b) || b < a)
        return 0;
    if (a >= size)
        return -1;
    b = b >= size ? size - 1 : b;
    *sp = (struct span){a, b - a + 1};
    return 1;
}

int fy_http_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    struct span sp = {0, 0};
    int rc = parse_range(h, size, &sp);

    *off = sp.off;
    *len = sp.len;
    return rc;
}

static uint64_t resp_size(const struct fy_http_resp *resp)
{
    if (resp->reader)
        return resp->reader_len;
    return resp->fd >= 0 ? resp->fd_len : (uint64_t)resp->body.len;
}

/*
 * For a route that honours them: If-None-Match (304), then Range (206 or
 * 416, unless If-Range names another version). Returns the status to send
 * and sets *sp to the bytes of the body to send.
 */
static int conditional(struct MHD_Connection *c, struct fy_http_resp *resp,
                       struct span *sp)
{
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    const char *range =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    const char *if_range =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Range");
    uint64_t size = resp_size(resp);
    int rc;

    *sp = (struct span){0, size};
    if (resp->etag[0] && inm && etag_listed(inm, resp->etag))
        return 304;
    if (!range || (if_range && strcmp(if_range, resp->etag) != 0))
        return 200;
    rc = parse_range(range, size, sp);
    if (rc < 0)
        return 416;
    return rc > 0 ? 206 : 200;
}

/* ---- responses ------------------------------------------------------------
 */

#define RESP_INIT                                                              \
    {                                                                          \
        .status = 200, .body = FY_BUF_INIT(0), .fd = -1                        \
    }

/* A reader answer's span: MHD counts from 0, the reader from the start. */
struct reader_span {
    fy_http_read_fn *read;
    fy_http_free_fn *free_fn;
    void *ctx;
    uint64_t off, len;
};

static ssize_t read_span(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader_span *rs = cls;
    long n;

    if (pos >= rs->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > rs->len - pos)
        max = (size_t)(rs->len - pos);
    n = rs->read(rs->ctx, rs->off + pos, buf, max);
    if (n <= 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void free_span(void *cls)
{
    struct reader_span *rs = cls;

    if (rs->free_fn)
        rs->free_fn(rs->ctx);
    fy_free(rs);
}

/* Block size MHD asks a reader for: the size of its send buffer. */
#define READER_BLOCK ((size_t)64 * 1024)

static struct MHD_Response *make_reader_body(struct fy_http_resp *resp,
                                             const struct span *sp)
{
    struct reader_span *rs = fy_malloc(sizeof(*rs));
    struct MHD_Response *r;

    if (!rs)
        return NULL;
    *rs = (struct reader_span){resp->reader, resp->reader_free,
                               resp->reader_ctx, sp->off, sp->len};
    r = MHD_create_response_from_callback(sp->len, READER_BLOCK, read_span, rs,
                                          free_span);
    if (!r) {
        fy_free(rs);
        return NULL;
    }
    /* MHD frees it now, through free_span. */
    resp->reader = NULL;
    resp->reader_free = NULL;
    resp->reader_ctx = NULL;
    return r;
}

static struct MHD_Response *make_body(struct fy_http_resp *resp,
                                      const struct span *sp, bool empty)
{
    struct MHD_Response *r;
    size_t len;
    char *body;

    if (resp->reader && !empty)
        return make_reader_body(resp, sp);
    if (resp->fd >= 0 && !empty) {
        r = MHD_create_response_from_fd_at_offset64(
            sp->len, resp->fd, (uint64_t)(resp->fd_off + sp->off));
        if (r)
            resp->fd = -1; /* MHD closes it now */
        return r;
    }
    if (empty)
        fy_buf_reset(&resp->body);
    else if (sp->off || sp->len != resp->body.len) {
        memmove(resp->body.data, resp->body.data + sp->off, (size_t)sp->len);
        resp->body.len = (size_t)sp->len;
    }
    body = fy_buf_detach(&resp->body, &len);
    if (!body)
        return NULL;
    r = MHD_create_response_from_buffer_with_free_callback(len, body, fy_free);
    if (!r)
        fy_free(body);
    return r;
}

static void add_headers(struct MHD_Response *r, const struct conn_state *cs,
                        const struct fy_http_resp *resp, bool ranged)
{
    char v[64];

    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type
                                               : "application/json");
    if (resp->retry_after > 0) {
        snprintf(v, sizeof(v), "%d", resp->retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    if (resp->set_cookie[0])
        MHD_add_response_header(r, "Set-Cookie", resp->set_cookie);
    if (resp->etag[0])
        MHD_add_response_header(r, "ETag", resp->etag);
    if (ranged)
        MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (resp->status == 405 && cs->allow[0])
        MHD_add_response_header(r, "Allow", cs->allow);
    for (size_t i = 0; i < resp->nextra; i++)
        MHD_add_response_header(r, resp->extra[i].name, resp->extra[i].value);
}

static enum MHD_Result send_resp(struct MHD_Connection *c,
                                 struct conn_state *cs,
                                 struct fy_http_resp *resp)
{
    const struct fy_http_route *rt = cs->match.route;
    bool ranged = rt && (rt->flags & FY_ROUTE_RANGE);
    uint64_t size = resp_size(resp);
    struct span sp = {0, size};
    struct MHD_Response *r;
    enum MHD_Result ret;
    char cr[64] = "";

    if (ranged && resp->status == 200)
        resp->status = conditional(c, resp, &sp);
    if (resp->status == 416) {
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        fy_http_error(resp, FERRY_WIRE_RANGE_NOT_SATISFIABLE,
                      "the range is outside the content", NULL);
        sp = (struct span){0, resp->body.len};
    } else if (resp->status == 206) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 sp.off, sp.off + sp.len - 1, size);
    }
    r = make_body(resp, &sp, resp->status == 304);
    if (resp->fd >= 0)
        close(resp->fd); /* not handed to MHD: a 304, or it failed */
    resp->fd = -1;
    resp_drop_reader(resp);
    if (!r)
        return MHD_NO;
    add_headers(r, cs, resp, ranged);
    if (cr[0])
        MHD_add_response_header(r, "Content-Range", cr);
    ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES)
        cs->status = resp->status;
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c,
                                  struct conn_state *cs, int wire,
                                  const char *msg)
{
    struct fy_http_resp resp = RESP_INIT;

    fy_http_error(&resp, wire, msg, NULL);
    if (resp.status == 503)
        resp.retry_after = FY_HTTP_BUSY_RETRY_S;
    return send_resp(c, cs, &resp);
}

/* Answers before the body: what arrives of it later is dropped unread. */
static enum MHD_Result answer_early(struct MHD_Connection *c,
                                    struct conn_state *cs, int wire,
                                    const char *msg)
{
    cs->answered = true;
    return send_error(c, cs, wire, msg);
}

#define INFLATE_STEP ((size_t)64 * 1024)

/*
 * Inflates a gzip body into out, failing past max bytes; out's memory is
 * paid from the budget into *charge, next to the other bytes the request
 * holds (the compressed body).
 */
static int gunzip(struct fy_http_server *s, const struct fy_buf *in,
                  struct fy_buf *out, size_t max, size_t *charge, size_t other)
{
    z_stream zs = {0};
    int zrc, rc;

    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return FERRY_ENOMEM;
    zs.next_in = (const Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    do {
        size_t room = max + 1 - out->len; /* one byte past max detects it */

        rc = grow_charged(s, out, room < INFLATE_STEP ? room : INFLATE_STEP,
                          charge, other);
        if (rc < 0) {
            inflateEnd(&zs);
            return rc;
        }
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)(out->cap - out->len - 1);
        zrc = inflate(&zs, Z_NO_FLUSH);
        out->len = (size_t)((char *)zs.next_out - out->data);
        out->data[out->len] = '\0';
        if (out->len > max) {
            inflateEnd(&zs);
            return FERRY_ETOOBIG;
        }
    } while (zrc == Z_OK);
    inflateEnd(&zs);
    return zrc == Z_STREAM_END && zs.avail_in == 0 ? 0 : FERRY_EPARSE;
}

static bool is_gzip(const char *enc)
{
    return enc && strcasecmp(enc, "gzip") == 0;
}

/* ---- framing --------------------------------------------------------------
 */

struct framing {
    unsigned ncl, nte;
    const char *cl; /* the first Content-Length */
    bool cl_conflict;
    bool te_other; /* a Transfer-Encoding other than plain "chunked" */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (f->ncl++ == 0)
            f->cl = value;
        else if (strcmp(f->cl, value ? value : "") != 0)
            f->cl_conflict = true;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->nte++;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->te_other = true;
    }
    return MHD_YES;
}

/*
 * The request's framing must have one reading only, or a proxy in front
 * and ferryd could split the stream into different requests (request
 * smuggling). Returns the reason it is refused, or NULL. Identical
 * repeated Content-Length headers are one length (RFC 9110, 8.6).
 */
static const char *framing_problem(struct MHD_Connection *c)
{
    struct framing f = {0};

    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.cl_conflict)
        return "conflicting Content-Length headers";
    if (f.nte && f.ncl)
        return "Transfer-Encoding together with Content-Length";
    if (f.nte > 1 || f.te_other)
        return "Transfer-Encoding must be chunked, once";
    return NULL;
}

/* ---- the request's life ---------------------------------------------------
 */

/*
 * Finds the request's route (404, 405 with Allow, 400 for a bad path
 * parameter) and checks its auth policy; false when it answered.
 */
static bool route_and_auth(struct fy_http_server *s, struct MHD_Connection *c,
                           struct conn_state *cs, enum MHD_Result *ret)
{
    struct fy_http_resp resp = RESP_INIT;
    struct ferry_err err = {0};
    const char *path = cs->raw_path ? cs->raw_path : cs->req.path;
    int rc = fy_http_router_match(s->router, cs->req.method, path, &cs->match,
                                  cs->allow, sizeof(cs->allow), &err);

    if (rc < 0) {
        *ret = answer_early(c, cs,
                            rc == FERRY_EPARSE ? FERRY_WIRE_BAD_PARAMETER
                                               : ferry_wire_of_err(rc),
                            err.msg);
        return false;
    }
    cs->req.match = &cs->match;
    if (cs->match.route->auth == FY_AUTH_NONE)
        return true;
    if (s->h.auth &&
        s->h.auth(&cs->req, cs->match.route->auth, &resp, s->ud) == 0) {
        fy_buf_release(&resp.body);
        return true;
    }
    if (!s->h.auth) /* a route needs a key and nobody can check it */
        fy_http_error(&resp, FERRY_WIRE_INTERNAL, "no authentication", NULL);
    cs->answered = true;
    *ret = send_resp(c, cs, &resp);
    return false;
}

/* The media type of ct (no parameters) is one of types. */
static bool type_accepted(const char *const *types, const char *ct)
{
    if (!types)
        return true;
    for (; ct && *types; types++) {
        size_t n = strlen(*types);

        if (strncasecmp(ct, *types, n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return true;
    }
    return false;
}

static void accepted_list(const char *const *types, char *out, size_t n)
{
    size_t used = 0;

    out[0] = '\0';
    for (; *types && used < n; types++)
        used += (size_t)snprintf(out + used, n - used, "%s%s",
                                 used ? " or " : "", *types);
}

static bool is_stream(const struct conn_state *cs)
{
    return cs->match.route && (cs->match.route->flags & FY_ROUTE_STREAM);
}

/* The route's body policy on the headers; false when it answered. */
static bool body_policy(struct fy_http_server *s, struct MHD_Connection *c,
                        struct conn_state *cs, uint64_t declared,
                        enum MHD_Result *ret)
{
    const struct fy_http_body_policy *bp = &cs->match.route->body;
    const char *ct =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *enc =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    char msg[160], list[120];

    if (!type_accepted(bp->types, ct)) {
        accepted_list(bp->types, list, sizeof(list));
        snprintf(msg, sizeof(msg), "the body must be %s", list);
        *ret = answer_early(c, cs, FERRY_WIRE_UNSUPPORTED_MEDIA_TYPE, msg);
        return false;
    }
    if (enc && !is_gzip(enc) && strcasecmp(enc, "identity") != 0) {
        *ret = answer_early(c, cs, FERRY_WIRE_UNSUPPORTED_ENCODING,
                            "Content-Encoding must be gzip or identity");
        return false;
    }
    if ((bp->mode == FY_BODY_FILE || is_stream(cs)) && is_gzip(enc)) {
        *ret = answer_early(c, cs, FERRY_WIRE_UNSUPPORTED_ENCODING,
                            "this endpoint takes its body unencoded");
        return false;
    }
    cs->max = bp->max ? bp->max : s->max_body;
    if (is_stream(cs))
        cs->max = SIZE_MAX; /* the handler's limit; bp->max is its hold */
    else if (bp->mode != FY_BODY_FILE && cs->max > s->max_body)
        cs->max = s->max_body;
    if (declared > cs->max ||
        (bp->mode == FY_BODY_MEMORY && declared >= s->max_inflight)) {
        *ret = answer_early(c, cs, FERRY_WIRE_BODY_TOO_LARGE,
                            "the request body is over the size limit");
        return false;
    }
    return true;
}

/* FY_BODY_FILE: an unlinked temporary file and a fresh SHA-256. */
static int open_body_file(struct fy_http_server *s, struct conn_state *cs)
{
    char path[300];
    int fd;

    snprintf(path, sizeof(path), "%s/ferryd-body-XXXXXX", s->tmp_dir);
    fd = mkstemp(path);
    if (fd < 0) {
        int code = fy_err_of_errno(errno);

        fy_error("http", "cannot create a body file in '%s': %s", s->tmp_dir,
                 strerror(errno));
        return code;
    }
    unlink(path); /* gone with the last descriptor, whatever happens */
    cs->sha = EVP_MD_CTX_new();
    if (!cs->sha || EVP_DigestInit_ex(cs->sha, EVP_sha256(), NULL) != 1) {
        close(fd);
        return FERRY_ENOMEM;
    }
    cs->req.body_fd = fd;
    return 0;
}

/* The stream's end hook, once; resp NULL when the body was cut short. */
static void end_stream(struct fy_http_server *s, struct conn_state *cs,
                       struct fy_http_resp *resp)
{
    if (!cs->req.stream || cs->stream_ended)
        return;
    cs->stream_ended = true;
    cs->req.stream->end(&cs->req, resp, resp != NULL, s->ud);
    budget_give(s, &cs->stream_charge);
}

/*
 * FY_ROUTE_STREAM: the route's hold is charged first, so a request that
 * finds no room is answered 503 before its handler does anything (such as
 * starting an upload over); then the handler answers now (and the charge
 * goes back) or takes the body (see server.h).
 */
/* Bodies up to this size are read and dropped before an answer. */
#define DEFER_MAX ((uint64_t)16 << 20)

/*
 * A success a stream route answers on the headers (200 for a blob stored
 * already) to a client that sends its body without waiting for
 * 100-continue: answered at once, libmicrohttpd closes the connection with
 * body bytes unread, and the client may see the reset instead of the
 * answer (and send the same request again, forever). A body of up to
 * DEFER_MAX bytes is read and dropped first, then answered. Refusals
 * (409, 413) still go at once: their client must learn before it sends
 * what will not be taken, and a reset makes it ask again (HEAD) anyway.
 * Returns true when *resp was taken for later.
 */
static bool defer_answer(struct MHD_Connection *c, struct conn_state *cs,
                         uint64_t declared, struct fy_http_resp *resp)
{
    const char *expect =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");

    if (resp->status >= 300 || declared == 0 || declared > DEFER_MAX ||
        (expect && strcasecmp(expect, "100-continue") == 0))
        return false;
    cs->deferred = fy_malloc(sizeof(*cs->deferred));
    if (!cs->deferred)
        return false;
    *cs->deferred = *resp;
    return true;
}

/* A deferred answer never sent (the client went away) releases here. */
static void drop_deferred(struct conn_state *cs)
{
    struct fy_http_resp *r = cs->deferred;

    if (!r)
        return;
    fy_buf_release(&r->body);
    resp_drop_reader(r);
    if (r->fd >= 0)
        close(r->fd);
    fy_free(r);
    cs->deferred = NULL;
}

static enum MHD_Result begin_stream(struct fy_http_server *s,
                                    struct MHD_Connection *c,
                                    struct conn_state *cs, uint64_t declared)
{
    struct fy_http_resp resp = RESP_INIT;
    size_t hold = cs->match.route->body.max;

    if (declared && declared < hold)
        hold = (size_t)declared;
    /* A budget smaller than one hold still lets one stream in at a time. */
    if (hold > s->max_inflight)
        hold = s->max_inflight;
    if (hold && !budget_take(s, hold))
        return answer_early(c, cs, FERRY_WIRE_SERVER_BUSY,
                            "too many request bodies in flight; retry");
    cs->stream_charge = hold;
    cs->match.route->fn(&cs->req, &resp, s->ud);
    if (!cs->req.stream) {
        budget_give(s, &cs->stream_charge);
        if (defer_answer(c, cs, declared, &resp))
            return MHD_YES;
        cs->answered = true;
        return send_resp(c, cs, &resp);
    }
    fy_buf_release(&resp.body);
    resp_drop_reader(&resp);
    return MHD_YES;
}

static enum MHD_Result on_headers(struct fy_http_server *s,
                                  struct MHD_Connection *c,
                                  struct conn_state *cs)
{
    const char *len =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *bad = framing_problem(c);
    unsigned long long declared = len ? strtoull(len, NULL, 10) : 0;
    enum MHD_Result ret = MHD_YES;

    if (bad)
        return answer_early(c, cs, FERRY_WIRE_BAD_FRAMING, bad);
    /* Routing and authentication come before any body byte is held. */
    if (!route_and_auth(s, c, cs, &ret) ||
        !body_policy(s, c, cs, declared, &ret))
        return ret;
    fy_buf_init(&cs->req.body, cs->max);
    if (is_stream(cs))
        return begin_stream(s, c, cs, declared);
    if (cs->match.route->body.mode == FY_BODY_FILE) {
        int rc = open_body_file(s, cs);

        if (rc == FERRY_ENOSPC)
            return answer_early(c, cs, ferry_wire_of_err(FERRY_ENOSPC),
                                "the server's disk is full; retry later");
        if (rc < 0)
            return answer_early(c, cs, FERRY_WIRE_INTERNAL,
                                "cannot hold the body; the server log has"
                                " the detail");
        return MHD_YES;
    }
    if (cs->match.route->body.mode != FY_BODY_MEMORY)
        return MHD_YES;
    /*
     * A declared length is paid for in full now, so the client learns
     * before sending it that there is no room (with Expect: 100-continue
     * it never sends it at all).
     */
    if (declared && !budget_take(s, (size_t)declared + 1))
        return answer_early(c, cs, FERRY_WIRE_SERVER_BUSY,
                            "too many request bodies in flight; retry");
    cs->body_charge = declared ? (size_t)declared + 1 : 0;
    return MHD_YES;
}

/* FY_BODY_FILE: appends one piece to the file and the hash. */
static void take_file_data(struct conn_state *cs, const char *data, size_t n)
{
    if (cs->req.body_size + n > cs->max) {
        cs->too_big = true;
        return;
    }
    cs->req.body_size += n;
    EVP_DigestUpdate(cs->sha, data, n);
    while (n) {
        ssize_t w = write(cs->req.body_fd, data, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* The file is unlinked: its blocks go back when it is closed. */
            fy_error("http", "cannot write a body file: %s", strerror(errno));
            cs->failed = true;
            cs->full = w < 0 && fy_err_of_errno(errno) == FERRY_ENOSPC;
            return;
        }
        data += w;
        n -= (size_t)w;
    }
}

/* Holds one piece of the body, or notes why it cannot. */
static void take_data(struct fy_http_server *s, struct conn_state *cs,
                      const char *data, size_t n)
{
    struct fy_buf *b = &cs->req.body;
    int rc;

    if (cs->answered || cs->deferred || cs->too_big || cs->busy || cs->failed)
        return;
    if (cs->req.stream) {
        if (!cs->stream_stopped &&
            cs->req.stream->data(&cs->req, data, n, s->ud) < 0)
            cs->stream_stopped = true;
        return;
    }
    if (cs->match.route->body.mode == FY_BODY_FILE) {
        take_file_data(cs, data, n);
        return;
    }
    if (cs->match.route->body.mode != FY_BODY_MEMORY) {
        /* Read and dropped, but still no more than the limit. */
        cs->req.body_size += n;
        cs->too_big = cs->req.body_size > cs->max;
        return;
    }
    if (cs->body_charge && b->cap == 0) {
        /* Declared length: paid already, allocate exactly that. */
        b->data = fy_malloc(cs->body_charge);
        if (!b->data) {
            *b = (struct fy_buf)FY_BUF_INIT(cs->max);
            cs->busy = true;
            return;
        }
        b->cap = cs->body_charge;
        b->data[0] = '\0';
    }
    rc = b->len + n + 1 <= b->cap ? 0
                                  : grow_charged(s, b, n, &cs->body_charge, 0);
    if (rc == 0)
        rc = fy_buf_add(b, data, n);
    if (rc == 0)
        return;
    cs->too_big = rc == FERRY_ETOOBIG;
    cs->busy = !cs->too_big;
    fy_buf_release(b);
}

/* Replaces a gzip body by its decompressed form; < 0 answered already. */
static int decompress(struct fy_http_server *s, struct MHD_Connection *c,
                      struct conn_state *cs, enum MHD_Result *ret)
{
    struct fy_buf plain = FY_BUF_INIT(cs->max + 1);
    int rc = gunzip(s, &cs->req.body, &plain, cs->max, &cs->plain_charge,
                    cs->body_charge);

    fy_buf_release(&cs->req.body);
    budget_give(s, &cs->body_charge);
    cs->req.body = plain;
    if (rc == 0)
        return 0;
    if (rc == FERRY_ETOOBIG)
        *ret = send_error(c, cs, FERRY_WIRE_BODY_TOO_LARGE,
                          "the decompressed body is over the size limit");
    else if (rc == FERRY_EUNAVAIL)
        *ret = send_error(c, cs, FERRY_WIRE_SERVER_BUSY,
                          "too many request bodies in flight; retry");
    else
        *ret = send_error(c, cs, FERRY_WIRE_BAD_ENCODING,
                          "the body is not valid gzip");
    return rc;
}

/* FY_BODY_FILE: the hash in hex, the file rewound for the handler. */
static int finish_file(struct conn_state *cs)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_DigestFinal_ex(cs->sha, md, &mdlen) != 1 || mdlen != 32 ||
        lseek(cs->req.body_fd, 0, SEEK_SET) != 0)
        return FERRY_EIO;
    for (unsigned i = 0; i < mdlen; i++) {
        cs->req.body_sha256[2 * i] = hex[md[i] >> 4];
        cs->req.body_sha256[2 * i + 1] = hex[md[i] & 15];
    }
    cs->req.body_sha256[64] = '\0';
    return 0;
}

static enum MHD_Result finish(struct fy_http_server *s,
                              struct MHD_Connection *c, struct conn_state *cs)
{
    struct fy_http_resp resp = RESP_INIT;
    enum MHD_Result ret = MHD_NO;
    const char *enc;

    if (cs->deferred) {
        resp = *cs->deferred;
        fy_free(cs->deferred);
        cs->deferred = NULL;
        return send_resp(c, cs, &resp);
    }
    if (cs->req.stream) {
        end_stream(s, cs, &resp);
        return send_resp(c, cs, &resp);
    }
    if (cs->too_big)
        return send_error(c, cs, FERRY_WIRE_BODY_TOO_LARGE,
                          "the request body is over the size limit");
    if (cs->busy)
        return send_error(c, cs, FERRY_WIRE_SERVER_BUSY,
                          "too many request bodies in flight; retry");
    /* A full temporary directory passes: 503 and Retry-After. */
    if (cs->full)
        return send_error(c, cs, ferry_wire_of_err(FERRY_ENOSPC),
                          "the server's disk is full; retry later");
    if (cs->failed || (cs->sha && finish_file(cs) < 0))
        return send_error(c, cs, FERRY_WIRE_INTERNAL,
                          "cannot hold the body; the server log has the"
                          " detail");
    enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (cs->match.route->body.mode == FY_BODY_MEMORY && is_gzip(enc) &&
        cs->req.body.len > 0 && decompress(s, c, cs, &ret) < 0)
        return ret;
    cs->match.route->fn(&cs->req, &resp, s->ud);
    return send_resp(c, cs, &resp);
}

/* The path of a raw request target, before any '?' (owned). */
static char *raw_path_of(const char *uri)
{
    size_t n = uri ? strcspn(uri, "?") : 0;
    char *p = uri ? fy_malloc(n + 1) : NULL;

    if (p) {
        memcpy(p, uri, n);
        p[n] = '\0';
    }
    return p;
}

static struct conn_state *conn_state_new(const char *uri)
{
    struct conn_state *cs = fy_calloc(1, sizeof(*cs));

    if (!cs)
        return NULL;
    cs->req.started = fy_mono_s();
    cs->req.body = (struct fy_buf)FY_BUF_INIT(0);
    cs->req.body_fd = -1;
    cs->raw_path = raw_path_of(uri);
    snprintf(cs->uri, sizeof(cs->uri), "%s", uri ? uri : "-");
    return cs;
}

/*
 * Called by MHD as soon as the request line is read, before the headers:
 * the state made here lets on_done log requests that libmicrohttpd itself
 * refuses later (bad Content-Length, bad chunking, headers too large). It
 * also keeps the raw target: routing splits the path before decoding it,
 * so an encoded '/' stays inside its parameter.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    return conn_state_new(uri);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct fy_http_server *s = cls;
    struct conn_state *cs = *con_cls;

    (void)version;
    if (!cs && !(cs = *con_cls = conn_state_new(url)))
        return MHD_NO;
    if (!cs->headers_done) {
        cs->headers_done = true;
        fy_conn_guard_head(s->guard, c);
        cs->req.method = method;
        cs->req.path = url;
        cs->req.conn = c;
        return on_headers(s, c, cs);
    }
    if (*size) {
        cs->req.bytes_in += *size;
        take_data(s, cs, data, *size);
        *size = 0;
        return MHD_YES;
    }
    if (cs->answered)
        return MHD_YES;
    return finish(s, c, cs);
}

static const char *ended_how(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return " ended=timeout";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return " ended=client_closed";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return " ended=shutdown";
    default:
        return " ended=error";
    }
}

/*
 * The access log: one line per request, whoever answered it (ferry, or
 * libmicrohttpd for what it refuses by itself), with how it ended.
 */
static void log_request(struct MHD_Connection *c, struct conn_state *cs,
                        enum MHD_RequestTerminationCode toe)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    unsigned status = cs->status ? (unsigned)cs->status
                      : ci       ? ci->http_status
                                 : 0;

    char shown[16] = "-";

    cs->req.status = (int)status;

    if (status)
        snprintf(shown, sizeof(shown), "%u", status);
    fy_info("http", "%s %s %s ms=%.1f%s%s",
            cs->req.method ? cs->req.method : "-",
            cs->req.path ? cs->req.path : cs->uri, shown,
            (fy_mono_s() - cs->req.started) * 1000.0, ended_how(toe),
            cs->status || !status ? "" : " by=libmicrohttpd");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct fy_http_server *s = cls;
    struct conn_state *cs = *con_cls;

    fy_conn_guard_idle(s->guard, c);
    if (!cs)
        return;
    /* A body cut short: the stream keeps what arrived (server.h). */
    end_stream(s, cs, NULL);
    drop_deferred(cs);
    log_request(c, cs, toe);
    if (s->h.done && cs->headers_done)
        s->h.done(&cs->req, s->ud);
    fy_buf_release(&cs->req.body);
    budget_give(s, &cs->body_charge);
    budget_give(s, &cs->plain_charge);
    if (cs->req.body_fd >= 0)
        close(cs->req.body_fd);
    EVP_MD_CTX_free(cs->sha);
    fy_http_match_release(&cs->match);
    fy_free(cs->raw_path);
    fy_free(cs);
    *con_cls = NULL;
}

/*
 * libmicrohttpd's own messages, as ferry log lines (escaped like every
 * line). Its error pages are HTML: the log keeps the status, not the page.
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) FY_PRINTF(2, 0);

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct fy_http_server *s = cls;
    char msg[512];
    char *html;
    size_t n;
    bool starting;

    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    html = strstr(msg, " ('<html>");
    if (html)
        snprintf(html, sizeof(msg) - (size_t)(html - msg), ")");
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    pthread_mutex_lock(&s->msg_mu);
    starting = s->starting;
    if (starting)
        snprintf(s->start_msg, sizeof(s->start_msg), "%s", msg);
    pthread_mutex_unlock(&s->msg_mu);
    /*
     * A start-up failure is said once, in the error it causes; a client
     * going away is in the request's access line already.
     */
    if (starting || strstr(msg, "closed by remote side"))
        fy_debug("http", "libmicrohttpd: %s", msg); /* or the access line */
    else
        fy_warn("http", "libmicrohttpd: %s", msg);
}

/* A port is 0 to 65535, in decimal digits only. */
static int parse_port(const char *listen, const char *p, unsigned *port,
                      struct ferry_err *err)
{
    unsigned long v = 0;
    size_t n = strspn(p, "0123456789");

    if (n == 0 || n > 5 || p[n] != '\0' || (v = strtoul(p, NULL, 10)) > 65535)
        return fy_err_set(err, FERRY_ECONFIG,
                          "listen address '%s': the port must be a number"
                          " from 1 to 65535, or 0 to pick a free one",
                          listen);
    *port = (unsigned)v;
    return 0;
}

static int resolve(const char *listen, struct sockaddr_storage *ss,
                   unsigned *port, struct ferry_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    size_t hl;

    if (!colon || colon == listen)
        return fy_err_set(err, FERRY_ECONFIG,
                          "listen address '%s' must be HOST:PORT", listen);
    if (parse_port(listen, colon + 1, port, err) < 0)
        return FERRY_ECONFIG;
    hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']')
        snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), listen + 1);
    else
        snprintf(host, sizeof(host), "%.*s", (int)hl, listen);
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return fy_err_set(err, FERRY_ECONFIG,
                          "listen address '%s' is not a numeric HOST:PORT",
                          listen);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static struct MHD_Daemon *start_daemon(struct fy_http_server *s,
                                       const struct fy_http_config *cfg,
                                       const struct sockaddr_storage *ss,
                                       unsigned port)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[12] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)ss},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_done, s},
        {MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns ? cfg->max_conns : 1024,
         NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s ? cfg->timeout_s : 60,
         NULL},
    };
    size_t n = 6;

    if (cfg->max_conns_per_ip)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            cfg->max_conns_per_ip, NULL};
    if (s->guard)
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                    (intptr_t)fy_conn_guard_notify, s->guard};
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert_pem && cfg->tls_key_pem) {
        flags |= MHD_USE_TLS;
        /* MHD's option items hold void *; it only reads these. */
        opts[n++] = (struct MHD_OptionItem){
            MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cfg->tls_cert_pem};
        opts[n++] = (struct MHD_OptionItem){
            MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)cfg->tls_key_pem};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /*
     * The port is passed as well as the address only so that
     * libmicrohttpd's bind error names the port asked for, not 0.
     */
    return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

int fy_http_server_start(const struct fy_http_config *cfg,
                         const struct fy_http_handlers *h, void *ud,
                         struct fy_http_server **out, struct ferry_err *err)
{
    struct sockaddr_storage ss = {0};
    struct fy_http_server *s;
    const union MHD_DaemonInfo *info;
    unsigned port = 0;
    int rc = resolve(cfg->listen, &ss, &port, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    if (cfg->tls_cert_pem &&
        MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return fy_err_set(err, FERRY_ECONFIG,
                          "https: this libmicrohttpd was built without TLS");
    s = fy_calloc(1, sizeof(*s));
    if (!s)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    s->h = *h;
    s->router = cfg->router;
    snprintf(s->tmp_dir, sizeof(s->tmp_dir), "%s", fy_tmp_dir(cfg->tmp_dir));
    s->ud = ud;
    s->max_body = cfg->max_body;
    s->max_inflight = cfg->max_inflight ? cfg->max_inflight : SIZE_MAX;
    atomic_init(&s->inflight, 0);
    pthread_mutex_init(&s->msg_mu, NULL);
    if (cfg->head_timeout_s &&
        (rc = fy_conn_guard_new(cfg->head_timeout_s, &s->guard, err)) < 0) {
        pthread_mutex_destroy(&s->msg_mu);
        fy_free(s);
        return rc;
    }
    s->starting = true;
    s->d = start_daemon(s, cfg, &ss, port);
    pthread_mutex_lock(&s->msg_mu);
    s->starting = false;
    pthread_mutex_unlock(&s->msg_mu);
    if (!s->d) {
        rc =
            fy_err_set(err, FERRY_EIO, "cannot listen on '%s': %s", cfg->listen,
                       s->start_msg[0] ? s->start_msg : "unknown reason");
        fy_conn_guard_free(s->guard);
        pthread_mutex_destroy(&s->msg_mu);
        fy_free(s);
        return rc;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    *out = s;
    return 0;
}

unsigned fy_http_server_port(const struct fy_http_server *s)
{
    return s->port;
}

void fy_http_server_stop(struct fy_http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    fy_conn_guard_free(s->guard);
    pthread_mutex_destroy(&s->msg_mu);
    fy_free(s);
}

unsigned long fy_http_server_cut(const struct fy_http_server *s)
{
    return fy_conn_guard_cut(s->guard);
}
