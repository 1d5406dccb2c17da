/* SPDX-License-Identifier: MIT */
/*
 * HTTP server on libmicrohttpd. It owns the transport rules that are the
 * same for every endpoint: the body size limit (checked on Content-Length
 * before the body is read, and again while reading and after gzip
 * decompression), Content-Encoding, and turning a handler's fy_http_resp
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

struct fy_http_config {
    const char *listen; /* "HOST:PORT", "[V6]:PORT"; port 0 picks one */
    size_t max_body;    /* bytes, applies after decompression too */
    unsigned max_conns;
    unsigned timeout_s; /* idle connection timeout */
};

struct fy_http_server;

/* Starts listening; *out returned owned (fy_http_server_stop). */
int fy_http_server_start(const struct fy_http_config *cfg, fy_http_handler *h,
                         void *ud, struct fy_http_server **out,
                         struct ferry_err *err);
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
