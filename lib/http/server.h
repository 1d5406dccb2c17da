/* SPDX-License-Identifier: MIT */
/*
 * HTTP server on libmicrohttpd. It owns the transport rules that are the
 * same for every endpoint: framing (one Content-Length, never together with
 * Transfer-Encoding), routing (http/route.h) and each route's policies
 * applied on the headers alone (authentication through the auth hook, the
 * accepted Content-Types, the body size limit checked on Content-Length
 * before the body is read, and again while reading and after gzip
 * decompression), the bound on the memory of all bodies in flight,
 * Content-Encoding, bodies streamed to a file with their SHA-256 or handed
 * to a route's stream hooks as they arrive, answers from memory, from a
 * file or from a reader with ETag and Range, and the access log line of
 * every request. Handlers run on MHD's per-connection threads.
 */
#ifndef FY_HTTP_SERVER_H
#define FY_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/route.h"
#include "util/buf.h"
#include "ferry/ferry_err.h"

struct fy_http_req {
    const char *method;
    const char *path;                  /* decoded, for logs */
    const struct fy_http_match *match; /* route and path parameters */
    struct fy_buf body;                /* FY_BODY_MEMORY: complete, decoded */
    int body_fd;          /* FY_BODY_FILE: the body, at offset 0; -1 else;
                             borrowed (the server closes it) */
    uint64_t body_size;   /* FY_BODY_FILE: bytes in body_fd */
    char body_sha256[65]; /* FY_BODY_FILE: lower-case hex */
    void *conn;           /* MHD connection, for header lookups */
    double started;       /* fy_mono_s() at arrival */
    uint64_t bytes_in;    /* body bytes received, as sent (before gunzip) */
    int status;           /* for the done hook: the status answered, 0 none */
    void *ctx;            /* the handlers' own per-request state */
    /* FY_ROUTE_STREAM: set by the route's handler to take the body */
    const struct fy_http_stream *stream;
    void *stream_ctx; /* the stream's own state, for its hooks */
};

/*
 * Produces the answer's bytes from off (counted from the start of the whole
 * content, whatever the Range): at most max into buf. Returns the bytes
 * written (> 0), or < 0 when it cannot (the connection is then closed,
 * the answer cut short). Runs on the request's thread.
 */
typedef long fy_http_read_fn(void *ctx, uint64_t off, char *buf, size_t max);
typedef void fy_http_free_fn(void *ctx);

/* Extra answer headers a handler may set (fy_http_resp_header). */
#define FY_HTTP_MAX_EXTRA 8

struct fy_http_extra {
    char name[32];
    char value[160];
};

/*
 * The answer. The server hands it to the handler with status 200, an empty
 * body and fd -1. A handler answers from memory (body), from a file
 * (fy_http_resp_file) or from a reader (fy_http_resp_reader). With etag set
 * on a FY_ROUTE_RANGE route, the server answers If-None-Match (304) and
 * Range (206, 416) itself.
 */
struct fy_http_resp {
    int status;
    const char *content_type; /* static string; default application/json */
    struct fy_buf body;
    int fd; /* >= 0: answer with fd_len bytes of it from fd_off;
               taken (the server closes it) */
    uint64_t fd_off, fd_len;
    int retry_after; /* seconds; 0 none */
    char etag[80];   /* quoted entity tag, e.g. "\"<sha256>\"", or "" */
    char set_cookie[256];
    /* fy_http_resp_reader: len bytes from read(ctx, ...); free(ctx) once */
    fy_http_read_fn *reader;
    fy_http_free_fn *reader_free;
    void *reader_ctx;
    uint64_t reader_len;
    struct fy_http_extra extra[FY_HTTP_MAX_EXTRA];
    size_t nextra;
};

/*
 * A route flagged FY_ROUTE_STREAM takes its body as it arrives, for bodies
 * that are kept as they come (blob uploads, docs/blobs.md) rather than
 * held whole. Its handler runs on the headers, before any body byte, with
 * the route's auth and Content-Type policies applied (gzip is refused; the
 * handler enforces its own size limit). The route's body.max is what the
 * stream holds in memory at most: the server charges it (at most the
 * declared length) to the in-flight budget before the handler runs, and
 * answers 503 server_busy when there is no room. The handler either
 * answers (fills resp; the body is then dropped unread) or takes the body
 * by setting req->stream to its hooks and req->stream_ctx to its state; it
 * must not fill resp then. (FY_ROUTE_STREAM is in route.h, beside the
 * other route flags.)
 */

struct fy_http_stream {
    /*
     * One piece of the body, in order. A return < 0 stops the stream: the
     * rest of the body is read and dropped, and end says what to answer
     * once it has arrived (an answer in mid-body would have
     * libmicrohttpd close the connection with body bytes unread, and the
     * reset that sends can lose the answer).
     */
    int (*data)(struct fy_http_req *req, const char *p, size_t n, void *ud);
    /*
     * Called exactly once. complete: the body arrived whole (or data
     * stopped it); fill resp. Otherwise it was cut short (client gone,
     * time-out, server stopping) and resp is NULL: keep what arrived,
     * nothing can be answered. Releases req->stream_ctx.
     */
    void (*end)(struct fy_http_req *req, struct fy_http_resp *resp,
                bool complete, void *ud);
};

typedef void fy_http_done_fn(struct fy_http_req *req, void *ud);

/*
 * Checks a route's auth policy (never FY_AUTH_NONE) on the headers, before
 * any body byte is held. The key is in req->match->auth_header when the
 * route was reached through an alias, else in the usual headers. Returns 0
 * to go on (and may set req->ctx), or fills resp (401, 403, 503) and
 * returns < 0.
 */
typedef int fy_http_auth_fn(struct fy_http_req *req, enum fy_http_auth policy,
                            struct fy_http_resp *resp, void *ud);

/*
 * What the server calls, all with the same ud: auth (required when a route
 * has a policy), the route's handler on the complete request, and done
 * (may be NULL) when the request is over, answered or not, to release
 * req->ctx.
 */
struct fy_http_handlers {
    fy_http_auth_fn *auth;
    fy_http_done_fn *done;
};

struct fy_http_config {
    const char *listen; /* "HOST:PORT", "[V6]:PORT"; port 0 picks one */
    const struct fy_http_router *router; /* borrowed until stop */
    const char *tmp_dir; /* FY_BODY_FILE bodies; NULL: $TMPDIR or /tmp */
    size_t max_body;     /* bytes, applies after decompression too */
    size_t max_inflight; /* bytes of all request bodies held at once; see
                            FY_HTTP_MIN_INFLIGHT */
    unsigned max_conns;
    unsigned max_conns_per_ip; /* 0: no bound per client address */
    unsigned timeout_s;        /* idle connection timeout */
    /* seconds a request head may take to arrive (http/conn_guard.h);
       0: no deadline */
    unsigned head_timeout_s;
    /*
     * Both set: the listener speaks only https with this certificate
     * (chain) and key, PEM in memory (http/tls.h reads and checks them);
     * borrowed until start returns. NULL: plain http.
     */
    const char *tls_cert_pem;
    const char *tls_key_pem;
};

/*
 * The smallest max_inflight that holds any one request alone: a gzip body
 * is held compressed (up to max_body + 1 bytes) and decompressed (up to
 * max_body + 2) at once. With less, a request that could not fit even in
 * an empty budget is answered 413 body_too_large (so a client sends less),
 * never 503 (which would make it retry the same request forever).
 */
#define FY_HTTP_INFLIGHT_SLACK ((size_t)64)
#define FY_HTTP_MIN_INFLIGHT(max_body)                                         \
    (2 * (size_t)(max_body) + FY_HTTP_INFLIGHT_SLACK)

/* Seconds in Retry-After when the in-flight body memory is used up. */
#define FY_HTTP_BUSY_RETRY_S 1

struct fy_http_server;

/*
 * Starts listening; *out returned owned (fy_http_server_stop). FERRY_ECONFIG
 * for a listen address that is not a numeric HOST:PORT with a port of 0 to
 * 65535; FERRY_EIO when it cannot listen (the message says why).
 */
int fy_http_server_start(const struct fy_http_config *cfg,
                         const struct fy_http_handlers *h, void *ud,
                         struct fy_http_server **out, struct ferry_err *err);
/* Bytes of request bodies held right now (for tests and metrics). */
size_t fy_http_server_inflight(const struct fy_http_server *s);
/* Connections closed because their request head came too late. */
unsigned long fy_http_server_cut(const struct fy_http_server *s);
/* The bound port (useful with port 0). */
unsigned fy_http_server_port(const struct fy_http_server *s);
/* Stops accepting, waits for handlers, frees. Accepts NULL. */
void fy_http_server_stop(struct fy_http_server *s);

/* Request header value (borrowed until the handler returns) or NULL. */
const char *fy_http_header(const struct fy_http_req *req, const char *name);
/* Cookie value (borrowed until the handler returns) or NULL. */
const char *fy_http_cookie(const struct fy_http_req *req, const char *name);
/* Query-string argument or NULL. */
const char *fy_http_query(const struct fy_http_req *req, const char *name);

/*
 * A Range request header against content of size bytes, as the server
 * reads it for FY_ROUTE_RANGE routes: 1 with the one range in *off and
 * *len; 0 when the header is to be ignored (not "bytes=", malformed, or
 * several ranges: the whole is served, as RFC 9110 14.2 allows); -1 when
 * it cannot be satisfied (416).
 */
int fy_http_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);

/* Path parameter of the request's route (decoded) or NULL. */
const char *fy_http_param(const struct fy_http_req *req, const char *name,
                          size_t *len);

/*
 * Sets resp to the JSON error form {"error": {"code", "message"}} with the
 * status and code of wire (enum ferry_wire). extra (may be NULL, reference
 * stolen) is added as error.changes when an array; an object's fields
 * are added to the error object (never replacing code or message).
 */
void fy_http_error(struct fy_http_resp *resp, int wire, const char *message,
                   void *extra);

/* Answers with len bytes of fd from off; fd is taken (closed by the server). */
void fy_http_resp_file(struct fy_http_resp *resp, int fd, uint64_t off,
                       uint64_t len);

/*
 * Answers with len bytes produced by read (see fy_http_read_fn), for
 * content too large to hold and not in a file; Range maps to offsets. ctx
 * is taken: free_fn(ctx) runs once, when the answer is sent or dropped
 * (a 304, an error answer set later, a client gone).
 */
void fy_http_resp_reader(struct fy_http_resp *resp, uint64_t len,
                         fy_http_read_fn *read, fy_http_free_fn *free_fn,
                         void *ctx);

/*
 * Adds an answer header (copied; a name of at most 31 bytes and a value
 * of at most 159). FERRY_ETOOBIG past FY_HTTP_MAX_EXTRA headers or those
 * sizes, FERRY_EINVAL for a CR or LF in either.
 */
int fy_http_resp_header(struct fy_http_resp *resp, const char *name,
                        const char *value);

#endif
