/* SPDX-License-Identifier: MIT */
/*
 * libcurl glue for the agent; see client.h.
 */
#include "http/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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
    const int *abort; /* nonzero: end the transfer (atomic load) */
    char *ca_file;    /* NULL: the system's CA store (libcurl's default) */
    char errbuf[CURL_ERROR_SIZE];
};

void fy_http_client_abort_on(struct fy_http_client *c, const int *flag)
{
    c->abort = flag;
}

/* libcurl calls this at least once a second, even while nothing moves. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    const struct fy_http_client *c = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return __atomic_load_n(c->abort, __ATOMIC_RELAXED) != 0;
}

int fy_http_client_new(const char *base_url, long timeout_s,
                       struct fy_http_client **out, struct ferry_err *err)
{
    struct fy_http_client *c;
    size_t n;

    *out = NULL;
    if (!base_url)
        return fy_err_set(err, FERRY_EINVAL, "no base URL");
    n = strlen(base_url);
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
    fy_free(c->ca_file);
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

/* One request in flight: what the callbacks read and write. */
struct exchange {
    struct fy_http_reply *rep;
    const char *want; /* the reply header to keep, or NULL */
    FILE *in;         /* a file body */
    bool cut;         /* a piece passed REPLY_MAX: the rest is dropped */
};

/*
 * Keeps the answer up to REPLY_MAX. Once a piece is dropped every later one
 * is too: a smaller piece kept after it would splice the body, which can
 * still parse (a page of changes with a hole, its cursor past rows it
 * never sent).
 */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;
    size_t len = size * n;

    if (!x->cut && x->rep->body.len + len <= REPLY_MAX)
        fy_buf_add(&x->rep->body, p, len);
    else
        x->cut = true;
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    FILE *in = ((struct exchange *)ud)->in;
    size_t got = fread(p, 1, size * n, in);

    return got == 0 && ferror(in) ? CURL_READFUNC_ABORT : got;
}

/* "Name: value" with name == want: the value, trimmed, into rep->header. */
static void keep_header(struct exchange *x, const char *p, size_t len)
{
    size_t n = strlen(x->want), vlen;

    if (len <= n || p[n] != ':' || strncasecmp(p, x->want, n) != 0)
        return;
    p += n + 1;
    len -= n + 1;
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    vlen = strcspn(p, "\r\n");
    vlen = vlen < len ? vlen : len;
    while (vlen > 0 && (p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
        vlen--;
    snprintf(x->rep->header, sizeof(x->rep->header), "%.*s", (int)vlen, p);
    x->rep->has_header = true;
}

static void retry_after(struct fy_http_reply *rep, const char *p, size_t len)
{
    char val[128];

    snprintf(val, sizeof(val), "%.*s", (int)(len - 12), p + 12);
    val[strcspn(val, "\r\n")] = '\0';
    if (strspn(val, " 0123456789") == strlen(val)) {
        rep->retry_after_ms = strtoll(val, NULL, 10) * 1000;
    } else {
        time_t when = curl_getdate(val, NULL);

        if (when > 0)
            rep->retry_after_ms = ((int64_t)when - (int64_t)time(NULL)) * 1000;
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;
    size_t len = size * n;

    /* Each response (a 100 Continue first, say) starts with its status. */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->rep->headers_done = false;
        x->rep->has_header = false;
    }
    if ((len == 2 && p[0] == '\r' && p[1] == '\n') ||
        (len == 1 && p[0] == '\n'))
        x->rep->headers_done = true;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        retry_after(x->rep, p, len);
    if (x->want)
        keep_header(x, p, len);
    return len;
}

int fy_http_client_set_ca(struct fy_http_client *c, const char *ca_file,
                          struct ferry_err *err)
{
    char *copy = ca_file ? fy_strdup(ca_file) : NULL;

    if (ca_file && !copy)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_free(c->ca_file);
    c->ca_file = copy;
    return 0;
}

/*
 * A certificate that does not verify is FERRY_ECONFIG, not a network
 * error: retrying cannot fix a wrong CA, a name mismatch or an expired
 * certificate, and retrying for minutes would hide the cause.
 */
static bool tls_verify_failed(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION ||
           cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_ISSUER_ERROR ||
           cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static int curl_fail(const struct fy_http_client *c, CURLcode cc,
                     const char *url, struct ferry_err *err)
{
    int code = cc == CURLE_OPERATION_TIMEDOUT ? FERRY_ETIMEDOUT : FERRY_ENET;

    /* libcurl's own detail says which check failed, e.g. the issuer. */
    if (tls_verify_failed(cc))
        return fy_err_set(err, FERRY_ECONFIG,
                          "cannot reach '%s': certificate verify failed: %s"
                          " (set ferry.ca_file to your CA)",
                          url,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    return fy_err_set(err, code, "cannot reach '%s': %s", url,
                      curl_easy_strerror(cc));
}

/* Opens a file body at rq->offset; *left is how many bytes follow. */
static int open_body(const struct fy_http_request *rq, FILE **in,
                     curl_off_t *left, struct ferry_err *err)
{
    struct stat sb;

    *in = fopen(rq->file, "rb");
    if (!*in || fstat(fileno(*in), &sb) < 0 || rq->offset < 0 ||
        rq->offset > (int64_t)sb.st_size ||
        fseeko(*in, (off_t)rq->offset, SEEK_SET) < 0) {
        int rc = fy_err_set(err, FERRY_EIO, "cannot read '%s' from byte %lld",
                            rq->file, (long long)rq->offset);

        if (err)
            err->sys = errno;
        if (*in)
            fclose(*in);
        *in = NULL;
        return rc;
    }
    *left = (curl_off_t)(sb.st_size - rq->offset);
    return 0;
}

/* The request's headers; NULL when out of memory. size: a file body's. */
static struct curl_slist *headers(const struct fy_http_request *rq,
                                  bool gzipped, int64_t size,
                                  struct fy_buf *line)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");

    if (gzipped)
        h = curl_slist_append(h, "Content-Encoding: gzip");
    if (rq->content_type) {
        fy_buf_reset(line);
        fy_buf_addf(line, "Content-Type: %s", rq->content_type);
        h = curl_slist_append(h, line->data);
    }
    if (rq->file && rq->offset_header) {
        fy_buf_reset(line);
        fy_buf_addf(line, "%s: %lld", rq->offset_header, (long long)rq->offset);
        h = curl_slist_append(h, line->data);
    }
    if (rq->file && rq->content_range && size > 0) {
        fy_buf_reset(line);
        fy_buf_addf(line, "Content-Range: bytes %lld-%lld/%lld",
                    (long long)rq->offset, (long long)size - 1,
                    (long long)size);
        h = curl_slist_append(h, line->data);
    }
    if (rq->auth_header) {
        /* Authorization takes the Bearer scheme; custom headers the key. */
        fy_buf_reset(line);
        fy_buf_addf(
            line, "%s: %s%s", rq->auth_header,
            strcasecmp(rq->auth_header, "Authorization") == 0 ? "Bearer " : "",
            rq->key ? rq->key : "");
        h = curl_slist_append(h, line->data);
    }
    for (size_t i = 0; h && rq->headers && rq->headers[i]; i++)
        h = curl_slist_append(h, rq->headers[i]);
    return fy_buf_error(line) ? NULL : h;
}

/* Method and body: memory, file (in, left bytes) or none. */
static void set_body(CURL *h, const struct fy_http_request *rq,
                     const char *body, size_t len, struct exchange *x,
                     curl_off_t left)
{
    const char *method = rq->method;

    if (x->in) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, left);
        method = method ? method : "POST";
    } else if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (method && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        method = NULL;
    }
    if (method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/*
 * The request's own time limit, else timeout_s as a limit on standing
 * still: the attempt ends once nothing moved either way for timeout_s (a
 * blackhole, a dead link, a server that stopped answering), while one
 * that keeps moving on a slow link may take MOVING_FACTOR times as long
 * in all. A whole-request limit of timeout_s made a batch larger than the
 * link carries in timeout_s fail on every attempt, for ever.
 */
#define MOVING_FACTOR 20L

static void set_timeout(struct fy_http_client *c,
                        const struct fy_http_request *rq)
{
    if (rq->timeout_ms > 0) {
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
        return;
    }
    curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, c->timeout_s);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, c->timeout_s * MOVING_FACTOR);
}

static void reset_reply(struct fy_http_reply *rep)
{
    fy_buf_reset(&rep->body);
    rep->status = 0;
    rep->retry_after_ms = -1;
    rep->headers_done = false;
    rep->has_header = false;
    rep->header[0] = '\0';
}

static int perform(struct fy_http_client *c, const char *url,
                   struct fy_http_reply *rep, struct ferry_err *err)
{
    CURLcode cc = curl_easy_perform(c->h);
    int rc = 0;

    if (cc == CURLE_ABORTED_BY_CALLBACK && c->abort &&
        __atomic_load_n(c->abort, __ATOMIC_RELAXED))
        rc = fy_err_set(err, FERRY_ENET, "request to '%s' stopped", url);
    else if (cc != CURLE_OK)
        rc = cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_READ_ERROR
                 ? fy_err_set(err, FERRY_EIO, "cannot read the body for '%s'",
                              url)
                 : curl_fail(c, cc, url, err);
    else
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &rep->status);
    if (rc == 0 && (rep->status < 100 || !rep->headers_done))
        rc = fy_err_set(
            err, FERRY_ENET, "cannot reach '%s': the answer was cut short (%s)",
            url, rep->status < 100 ? "no status line" : "inside its headers");
    return rc;
}

int fy_http_request(struct fy_http_client *c, const struct fy_http_request *rq,
                    struct fy_http_reply *rep, struct ferry_err *err)
{
    struct exchange x = {.rep = rep, .want = rq->reply_header};
    struct curl_slist *hdrs = NULL;
    struct fy_buf url = FY_BUF_INIT(0), line = FY_BUF_INIT(0);
    const char *body = rq->body;
    size_t len = rq->len;
    curl_off_t left = 0;
    bool gzipped = false;
    int rc = 0;

    reset_reply(rep);
    if (rq->file)
        rc = open_body(rq, &x.in, &left, err);
    else if (body && rq->gzip && fy_gzip(body, len, &c->zbody) == 0) {
        body = c->zbody.data;
        len = c->zbody.len;
        gzipped = true;
    }
    fy_buf_addf(&url, "%s%s", c->base, rq->path);
    if (rc == 0)
        hdrs = headers(rq, gzipped, (int64_t)left + rq->offset, &line);
    if (rc == 0 && (!hdrs || fy_buf_error(&url)))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc < 0)
        goto out;
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url.data);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    set_body(c->h, rq, body, len, &x, left);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &x);
    set_timeout(c, rq);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    /* Peer and host verification stay on: libcurl's defaults, no switch. */
    if (c->ca_file)
        curl_easy_setopt(c->h, CURLOPT_CAINFO, c->ca_file);
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
    if (c->abort) {
        curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
    }
    rc = perform(c, url.data, rep, err);
out:
    if (x.in)
        fclose(x.in);
    curl_slist_free_all(hdrs);
    fy_buf_release(&url);
    fy_buf_release(&line);
    return rc;
}

int fy_http_post_json(struct fy_http_client *c, const char *path,
                      const char *auth_header, const char *key,
                      const char *body, size_t len, bool gzip,
                      struct fy_http_reply *rep, struct ferry_err *err)
{
    return fy_http_request(
        c,
        &(struct fy_http_request){.path = path,
                                  .auth_header = auth_header,
                                  .key = key,
                                  .content_type = "application/json",
                                  .body = body,
                                  .len = len,
                                  .gzip = gzip},
        rep, err);
}
