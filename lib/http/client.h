/* SPDX-License-Identifier: MIT */
/*
 * HTTP client on libcurl for the agent: one reusable handle (keep-alive),
 * JSON POSTs with optional gzip bodies, the status, body and Retry-After of
 * the answer. Transport failures become FERRY_ENET or FERRY_ETIMEDOUT; HTTP
 * statuses are returned, not judged: the retry policy decides.
 */
#ifndef FY_HTTP_CLIENT_H
#define FY_HTTP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "ferry/ferry_err.h"

struct fy_http_client;

struct fy_http_reply {
    long status;
    struct fy_buf body;     /* at most 1 MiB kept */
    int64_t retry_after_ms; /* -1 when absent */
    bool headers_done;      /* internal: the blank line after the headers */
};

int fy_http_client_new(const char *base_url, long timeout_s,
                       struct fy_http_client **out, struct ferry_err *err);
void fy_http_client_free(struct fy_http_client *c);

/*
 * POSTs body to base_url + path with auth_header: key. rep->body is reset
 * first; release it with fy_buf_release when done. An answer without a
 * status line or cut short before the end of its headers is FERRY_ENET, as
 * libcurl may report it as a success with status 200 and no body.
 */
int fy_http_post_json(struct fy_http_client *c, const char *path,
                      const char *auth_header, const char *key,
                      const char *body, size_t len, bool gzip,
                      struct fy_http_reply *rep, struct ferry_err *err);

/* Gzip-compresses p[0..n) into out (reset first); fastest level. */
int fy_gzip(const void *p, size_t n, struct fy_buf *out);

#endif
