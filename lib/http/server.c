/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: request accumulation with limits, gzip bodies, and
 * responses; see server.h.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>
#define ZLIB_CONST /* next_in is const: zlib never writes input */
#include <zlib.h>

#include "fy.h"

struct fy_http_server {
    struct MHD_Daemon *d;
    fy_http_handler *handler;
    void *ud;
    size_t max_body;
    unsigned port;
};

struct conn_state {
    struct fy_http_req req;
    bool too_big;
    bool answered; /* a response was queued before the body */
};

const char *fy_http_header(const struct fy_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *fy_http_query(const struct fy_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void fy_http_error(struct fy_http_resp *resp, int status, const char *code,
                   const char *message, void *extra)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    json_t *root = json_pack("{s:o}", "error", e);
    char *text;

    if (extra)
        json_object_set_new(e, "changes", extra);
    text = json_dumps(root, JSON_COMPACT);
    resp->status = status;
    resp->content_type = "application/json";
    fy_buf_reset(&resp->body);
    if (text)
        fy_buf_adds(&resp->body, text);
    fy_buf_addc(&resp->body, '\n');
    free(text);
    json_decref(root);
}

static enum MHD_Result send_resp(struct MHD_Connection *c,
                                 struct fy_http_resp *resp)
{
    size_t len;
    char *body = fy_buf_detach(&resp->body, &len);
    struct MHD_Response *r;
    enum MHD_Result ret;
    char ra[16];

    if (!body)
        return MHD_NO;
    r = MHD_create_response_from_buffer_with_free_callback(len, body, fy_free);
    if (!r) {
        fy_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type
                                               : "application/json");
    if (resp->retry_after > 0) {
        snprintf(ra, sizeof(ra), "%d", resp->retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (resp->set_cookie[0])
        MHD_add_response_header(r, "Set-Cookie", resp->set_cookie);
    ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status,
                                  const char *code, const char *msg)
{
    struct fy_http_resp resp = {.body = FY_BUF_INIT(0)};

    fy_http_error(&resp, status, code, msg, NULL);
    return send_resp(c, &resp);
}

#define INFLATE_STEP ((size_t)64 * 1024)

/* Inflates a gzip body into out, failing past max bytes. */
static int gunzip(const struct fy_buf *in, struct fy_buf *out, size_t max)
{
    z_stream zs = {0};
    int zrc;

    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return FERRY_ENOMEM;
    zs.next_in = (const Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    do {
        size_t room = max + 1 - out->len; /* one byte past max detects it */

        if (fy_buf_grow(out, room < INFLATE_STEP ? room : INFLATE_STEP) < 0) {
            inflateEnd(&zs);
            return out->err;
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

static enum MHD_Result on_headers(struct fy_http_server *s,
                                  struct MHD_Connection *c,
                                  struct conn_state *cs)
{
    const char *len =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *enc =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");

    if (enc && !is_gzip(enc) && strcasecmp(enc, "identity") != 0) {
        cs->answered = true;
        return send_error(c, 415, "unsupported_encoding",
                          "Content-Encoding must be gzip or identity");
    }
    if (len && strtoull(len, NULL, 10) > s->max_body) {
        /* Refuse before reading: the client never sends the body. */
        cs->answered = true;
        return send_error(c, 413, "body_too_large",
                          "the request body is over the size limit");
    }
    return MHD_YES;
}

static enum MHD_Result finish(struct fy_http_server *s,
                              struct MHD_Connection *c, struct conn_state *cs)
{
    struct fy_http_resp resp = {.status = 200, .body = FY_BUF_INIT(0)};
    const char *enc;
    int rc;

    if (cs->too_big)
        return send_error(c, 413, "body_too_large",
                          "the request body is over the size limit");
    enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (is_gzip(enc) && cs->req.body.len > 0) {
        struct fy_buf plain = FY_BUF_INIT(s->max_body + 1);

        rc = gunzip(&cs->req.body, &plain, s->max_body);
        fy_buf_release(&cs->req.body);
        cs->req.body = plain;
        if (rc == FERRY_ETOOBIG)
            return send_error(c, 413, "body_too_large",
                              "the decompressed body is over the size limit");
        if (rc < 0)
            return send_error(c, 400, "bad_encoding",
                              "the body is not valid gzip");
    }
    s->handler(&cs->req, &resp, s->ud);
    return send_resp(c, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct fy_http_server *s = cls;
    struct conn_state *cs = *con_cls;

    (void)version;
    if (!cs) {
        cs = fy_calloc(1, sizeof(*cs));
        if (!cs)
            return MHD_NO;
        cs->req = (struct fy_http_req){
            .method = method, .path = url, .conn = c, .started = fy_mono_s()};
        fy_buf_init(&cs->req.body, s->max_body);
        *con_cls = cs;
        return on_headers(s, c, cs);
    }
    if (*size) {
        if (!cs->too_big && !cs->answered &&
            fy_buf_add(&cs->req.body, data, *size) < 0) {
            cs->too_big = true;
            fy_buf_release(&cs->req.body);
        }
        *size = 0;
        return MHD_YES;
    }
    if (cs->answered)
        return MHD_YES;
    return finish(s, c, cs);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct conn_state *cs = *con_cls;

    (void)cls, (void)c, (void)toe;
    if (!cs)
        return;
    fy_buf_release(&cs->req.body);
    fy_free(cs);
    *con_cls = NULL;
}

static int resolve(const char *listen, struct sockaddr_storage *ss,
                   struct ferry_err *err)
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

int fy_http_server_start(const struct fy_http_config *cfg, fy_http_handler *h,
                         void *ud, struct fy_http_server **out,
                         struct ferry_err *err)
{
    struct sockaddr_storage ss = {0};
    struct fy_http_server *s;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    int rc = resolve(cfg->listen, &ss, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s = fy_calloc(1, sizeof(*s));
    if (!s)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    s->handler = h;
    s->ud = ud;
    s->max_body = cfg->max_body;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_conns ? cfg->max_conns : 1024u, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->timeout_s ? cfg->timeout_s : 60u, MHD_OPTION_END);
    if (!s->d) {
        fy_free(s);
        return fy_err_set(err, FERRY_EIO, "cannot listen on '%s'", cfg->listen);
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
    fy_free(s);
}
