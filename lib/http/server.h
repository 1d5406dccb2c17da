/* SPDX-License-Identifier: MIT */
/*
 * HTTP server on libmicrohttpd. It owns the transport rules that are the
 * same for every endpoint: framing (one Content-Length, never together with
 * Transfer-Encoding), the body size limit (checked on Content-Length before
 * the body is read, and again while reading and after gzip decompression),
 * the bound on the memory of all bodies in flight, Content-Encoding, the
 * access log line of every request, and turning a handler's fy_http_resp
 * into a response. Handlers run on MHD's per-connection threads.
 */
#ifndef FY_HTTP_SERVER_H
#define FY_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "ferry/ferry_err.h"

struct fy_http_req {
    const char *method;
    const char *path;
    struct fy_buf body; /* complete, decompressed */
    void *conn;         /* MHD connection, for header lookups */
    double started;     /* fy_mono_s() at arrival */
    void *ctx;          /* the handlers' own per-request state */
};

struct fy_http_resp {
    int status;
    const char *content_type; /* static string; default application/json */
    struct fy_buf body;
    int retry_after; /* seconds; 0 none */
    char set_cookie[256];
};

typedef void fy_http_handler(struct fy_http_req *req, struct fy_http_resp *resp,
                             void *ud);
typedef void fy_http_done_fn(struct fy_http_req *req, void *ud);

/*
 * What the server calls, all with the same ud:
 * - headers (may be NULL): the headers are in and no body byte has been
 *   read. Setting resp->status answers now, and the body is then discarded
 *   as it arrives, never buffered: this is where routing and authentication
 *   belong. Leaving it 0 reads the body. May set req->ctx.
 * - handle: the complete (decompressed) request.
 * - done (may be NULL): the request is over, answered or not; releases
 *   req->ctx.
 */
struct fy_http_handlers {
    fy_http_handler *headers;
    fy_http_handler *handle;
    fy_http_done_fn *done;
};

struct fy_http_config {
    const char *listen;  /* "HOST:PORT", "[V6]:PORT"; port 0 picks one */
    size_t max_body;     /* bytes, applies after decompression too */
    size_t max_inflight; /* bytes of all request bodies held at once; see
                            FY_HTTP_MIN_INFLIGHT */
    unsigned max_conns;
    unsigned timeout_s; /* idle connection timeout */
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
/* The bound port (useful with port 0). */
unsigned fy_http_server_port(const struct fy_http_server *s);
/* Stops accepting, waits for handlers, frees. Accepts NULL. */
void fy_http_server_stop(struct fy_http_server *s);

/* Request header value (borrowed until the handler returns) or NULL. */
const char *fy_http_header(const struct fy_http_req *req, const char *name);
/* Query-string argument or NULL. */
const char *fy_http_query(const struct fy_http_req *req, const char *name);

/*
 * Sets resp to the JSON error form {"error": {"code", "message"}} with
 * status. extra (may be NULL, reference stolen) is added as
 * error.changes.
 */
void fy_http_error(struct fy_http_resp *resp, int status, const char *code,
                   const char *message, void *extra);

#endif
