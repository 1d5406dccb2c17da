/* SPDX-License-Identifier: MIT */
/*
 * libcurl glue for the agent; see client.h.
 */
#include "http/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#define ZLIB_CONST /* next_in is const: zlib never writes input */
#include <zlib.h>

#include "fy.h"

#define REPLY_MAX (1u << 20)

struct fy_http_client {
    CURL *h;
    char *base;
    long timeout_s;
    struct fy_buf zbody;
};

int fy_http_client_new(const char *base_url, long timeout_s,
                       struct fy_http_client **out, struct ferry_err *err)
{
    struct fy_http_client *c;
    size_t n = strlen(base_url);

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fy_err_set(err, FERRY_ENET, "cannot initialise libcurl");
    c = fy_calloc(1, sizeof(*c));
    if (!c)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    while (n > 0 && base_url[n - 1] == '/')
        n--; /* "http://h/" + "/v1/push" would double the slash */
    c->base = fy_strndup(base_url, n);
    c->h = curl_easy_init();
    c->timeout_s = timeout_s;
    fy_buf_init(&c->zbody, 0);
    if (!c->base || !c->h) {
        fy_http_client_free(c);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void fy_http_client_free(struct fy_http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->h);
    fy_free(c->base);
    fy_buf_release(&c->zbody);
    fy_free(c);
}

int fy_gzip(const void *p, size_t n, struct fy_buf *out)
{
    z_stream zs = {0};
    int zrc;

    fy_buf_reset(out);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return FERRY_ENOMEM;
    if (fy_buf_grow(out, deflateBound(&zs, (uLong)n)) < 0) {
        deflateEnd(&zs);
        return out->err;
    }
    zs.next_in = p;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)(out->cap - 1);
    zrc = deflate(&zs, Z_FINISH);
    out->len = zs.total_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    return zrc == Z_STREAM_END ? 0 : FERRY_EIO;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct fy_http_reply *rep = ud;
    size_t len = size * n;

    if (rep->body.len + len <= REPLY_MAX)
        fy_buf_add(&rep->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct fy_http_reply *rep = ud;
    size_t len = size * n;
    char val[128];

    /* Each response (a 100 Continue first, say) starts with its status. */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
        rep->headers_done = false;
    if ((len == 2 && p[0] == '\r' && p[1] == '\n') ||
        (len == 1 && p[0] == '\n'))
        rep->headers_done = true;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        snprintf(val, sizeof(val), "%.*s", (int)(len - 12), p + 12);
        val[strcspn(val, "\r\n")] = '\0';
        if (strspn(val, " 0123456789") == strlen(val)) {
            rep->retry_after_ms = strtoll(val, NULL, 10) * 1000;
        } else {
            time_t when = curl_getdate(val, NULL);

            if (when > 0)
                rep->retry_after_ms =
                    ((int64_t)when - (int64_t)time(NULL)) * 1000;
        }
    }
    return len;
}

static int curl_fail(CURLcode cc, const char *url, struct ferry_err *err)
{
    int code = cc == CURLE_OPERATION_TIMEDOUT ? FERRY_ETIMEDOUT : FERRY_ENET;

    return fy_err_set(err, code, "cannot reach '%s': %s", url,
                      curl_easy_strerror(cc));
}

int fy_http_post_json(struct fy_http_client *c, const char *path,
                      const char *auth_header, const char *key,
                      const char *body, size_t len, bool gzip,
                      struct fy_http_reply *rep, struct ferry_err *err)
{
    struct curl_slist *hdrs = NULL;
    struct fy_buf url = FY_BUF_INIT(0), auth = FY_BUF_INIT(0);
    CURLcode cc;
    int rc = 0;

    fy_buf_reset(&rep->body);
    rep->status = 0;
    rep->retry_after_ms = -1;
    rep->headers_done = false;
    if (gzip && fy_gzip(body, len, &c->zbody) == 0) {
        body = c->zbody.data;
        len = c->zbody.len;
        hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
    }
    fy_buf_addf(&url, "%s%s", c->base, path);
    /* Authorization takes the Bearer scheme; custom headers the bare key. */
    fy_buf_addf(&auth, "%s: %s%s", auth_header,
                strcasecmp(auth_header, "Authorization") == 0 ? "Bearer " : "",
                key);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, auth.data);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url.data);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, rep);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, rep);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(c->h);
    if (cc != CURLE_OK)
        rc = curl_fail(cc, url.data, err);
    else
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &rep->status);
    if (rc == 0 && (rep->status < 100 || !rep->headers_done))
        rc = fy_err_set(
            err, FERRY_ENET, "cannot reach '%s': the answer was cut short (%s)",
            url.data,
            rep->status < 100 ? "no status line" : "inside its headers");
    curl_slist_free_all(hdrs);
    fy_buf_release(&url);
    fy_buf_release(&auth);
    return rc;
}
