/* SPDX-License-Identifier: MIT */
/*
 * HTTP client on libcurl for the agent: one reusable handle (keep-alive),
 * any method, bodies from memory (optionally gzip) or from a file from an
 * offset on; the status, body, Retry-After and one chosen header of the
 * answer. Transport failures become FERRY_ENET or FERRY_ETIMEDOUT; HTTP
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
    bool has_header;        /* the request's reply_header was answered */
    char header[256];       /* its value, trimmed (cut at 255 bytes) */
};

/*
 * One request: any method and path, a body from memory or from a file.
 * Zero-initialise and set what applies; strings are borrowed for the call.
 */
struct fy_http_request {
    const char *method;       /* NULL: POST with a body, else GET */
    const char *path;         /* appended to base_url, e.g. "/v1/push" */
    const char *auth_header;  /* NULL: no key sent */
    const char *key;          /* Authorization gets "Bearer " before it */
    const char *content_type; /* NULL: none */
    const char *body;         /* from memory (len bytes) ... */
    size_t len;
    bool gzip;        /* memory bodies: Content-Encoding: gzip */
    const char *file; /* ... or from this file, from byte offset on */
    int64_t offset;
    /*
     * With a file body, sent as "NAME: offset" so the server knows where
     * the bytes go (a resumed upload); NULL: not sent.
     */
    const char *offset_header;
    /*
     * With a file body: "Content-Range: bytes OFFSET-(SIZE-1)/SIZE", SIZE
     * the file's size when it is opened (not sent for an empty file), so
     * the server knows which part of which whole the bytes are (a blob
     * upload, docs/blobs.md). offset must be below SIZE.
     */
    bool content_range;
    const char *reply_header; /* a reply header to keep (rep->header) */
    /*
     * More request headers, "Name: value" lines without CR or LF, the
     * list ended by NULL (NULL: none): the agent's Ferry-Run, a begin's
     * Idempotency-Key.
     */
    const char *const *headers;
    /* The whole exchange's limit; 0: the client's timeout. */
    int64_t timeout_ms;
};

int fy_http_client_new(const char *base_url, long timeout_s,
                       struct fy_http_client **out, struct ferry_err *err);
void fy_http_client_free(struct fy_http_client *c);

/*
 * https: verify the server's certificate against the CA certificates in
 * ca_file (PEM; copied) instead of the system's store; NULL: the system's.
 * Verification is never switched off. A certificate that does not verify
 * fails a request with FERRY_ECONFIG ("certificate verify failed: ...").
 */
int fy_http_client_set_ca(struct fy_http_client *c, const char *ca_file,
                          struct ferry_err *err);

/*
 * From now on a request of c ends within about a second once *flag is
 * nonzero (set from another thread), failing with FERRY_ENET: how a
 * thread blocked in a long poll is stopped. flag is borrowed.
 */
void fy_http_client_abort_on(struct fy_http_client *c, const int *flag);

/*
 * Sends rq and reads the answer into rep (reset first; release rep->body
 * with fy_buf_release when done). The status is returned in rep, not
 * judged. An answer without a status line or cut short before the end of
 * its headers is FERRY_ENET, as libcurl may report it as a success with
 * status 200 and no body; a file that cannot be read is FERRY_EIO.
 */
int fy_http_request(struct fy_http_client *c, const struct fy_http_request *rq,
                    struct fy_http_reply *rep, struct ferry_err *err);

/* POSTs a JSON body: fy_http_request() with the JSON content type. */
int fy_http_post_json(struct fy_http_client *c, const char *path,
                      const char *auth_header, const char *key,
                      const char *body, size_t len, bool gzip,
                      struct fy_http_reply *rep, struct ferry_err *err);

/* Gzip-compresses p[0..n) into out (reset first); fastest level. */
int fy_gzip(const void *p, size_t n, struct fy_buf *out);

#endif
