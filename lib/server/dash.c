/* SPDX-License-Identifier: MIT */
/*
 * The admin dashboard; see dash.h. Every page is built in one buffer with
 * every value from the store or the request HTML-escaped, and answered
 * with headers that forbid scripts, framing, caching and referrers.
 */
#include "server/dash.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "server/api.h"
#include "server/keys.h"
#include "fy.h"

#define LOGIN_PATH "/dashboard/login"
#define HOME_PATH  "/dashboard"
#define TOKEN_HEX  64 /* a session token: 32 random bytes in hex */

/* ---- the form parser ----------------------------------------------------- */

void fy_dash_form_release(struct fy_dash_form *form)
{
    fy_free(form->mem);
    memset(form, 0, sizeof(*form));
}

const char *fy_dash_form_get(const struct fy_dash_form *form, const char *name)
{
    for (size_t i = 0; i < form->n; i++) {
        if (strcmp(form->f[i].name, name) == 0)
            return form->f[i].value;
    }
    return NULL;
}

/* Decodes [p, end) into out (room for end - p + 1); -1 when malformed. */
static long decode(const char *p, const char *end, char *out)
{
    long n = 0;

    for (; p < end; p++) {
        int hi, lo;
        unsigned char c = (unsigned char)*p;

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (end - p < 3)
                return -1;
            hi = fy_hexval(p[1]);
            lo = fy_hexval(p[2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            p += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            return -1; /* a browser encodes these */
        }
        /* Nothing a person types in these fields is a control character. */
        if (c < 0x20 || c == 0x7f)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    }
    return true;
}

/* One name=value pair [p, end) into the next field. */
static int take_pair(struct fy_dash_form *form, const char *p, const char *end,
                     char **mem, struct ferry_err *err)
{
    const char *eq = memchr(p, '=', (size_t)(end - p));
    struct fy_dash_field *f;
    long n;

    if (!eq)
        return fy_err_set(err, FERRY_EPARSE, "a form field without '='");
    if (form->n == FY_DASH_FORM_MAX)
        return fy_err_set(err, FERRY_ETOOBIG, "more than %d form fields",
                          FY_DASH_FORM_MAX);
    f = &form->f[form->n];
    if (eq - p >= (long)sizeof(f->name) || decode(p, eq, f->name) < 0 ||
        !name_ok(f->name))
        return fy_err_set(err, FERRY_EPARSE, "a malformed form field name");
    if (fy_dash_form_get(form, f->name))
        return fy_err_set(err, FERRY_EPARSE, "form field '%s' given twice",
                          f->name);
    f->value = *mem;
    n = decode(eq + 1, end, f->value);
    if (n < 0)
        return fy_err_set(err, FERRY_EPARSE,
                          "form field '%s': malformed encoding", f->name);
    if (n > FY_DASH_FIELD_MAX)
        return fy_err_set(err, FERRY_ETOOBIG,
                          "form field '%s' is longer than %d bytes", f->name,
                          FY_DASH_FIELD_MAX);
    *mem += n + 1;
    form->n++;
    return 0;
}

int fy_dash_form_parse(const char *body, size_t len, struct fy_dash_form *form,
                       struct ferry_err *err)
{
    const char *p = body, *end = body + len;
    char *mem;
    int rc = 0;

    memset(form, 0, sizeof(*form));
    if (len > FY_DASH_FORM_BYTES)
        return fy_err_set(err, FERRY_ETOOBIG,
                          "the form is larger than %d"
                          " bytes",
                          FY_DASH_FORM_BYTES);
    if (len && memchr(body, '\0', len))
        return fy_err_set(err, FERRY_EPARSE, "a NUL byte in the form");
    form->mem = fy_calloc(1, len + 1);
    if (!form->mem)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    mem = form->mem;
    while (rc == 0 && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));

        if (!amp)
            amp = end;
        rc = take_pair(form, p, amp, &mem, err);
        p = amp + 1;
        if (rc == 0 && amp != end && p == end)
            rc = fy_err_set(err, FERRY_EPARSE, "the form ends with '&'");
    }
    if (rc < 0)
        fy_dash_form_release(form);
    return rc;
}

/* ---- HTML ---------------------------------------------------------------- */

void fy_dash_html(struct fy_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fy_buf_adds(b, "&amp;");
            break;
        case '<':
            fy_buf_adds(b, "&lt;");
            break;
        case '>':
            fy_buf_adds(b, "&gt;");
            break;
        case '"':
            fy_buf_adds(b, "&quot;");
            break;
        case '\'':
            fy_buf_adds(b, "&#39;");
            break;
        default:
            fy_buf_addc(b, *s);
        }
    }
}

/* "scheme://HOST[/...]" names host exactly: true. */
static bool url_names_host(const char *url, const char *host)
{
    const char *p = strstr(url, "://");
    size_t n = strlen(host);

    if (!p || !host[0])
        return false;
    p += 3;
    return strncmp(p, host, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/*
 * With Referrer-Policy: no-referrer, a browser sends "Origin: null" on its
 * own form posts: null says nothing either way, and the CSRF token decides.
 */
bool fy_dash_same_origin(const char *origin, const char *referer,
                         const char *host)
{
    if (origin && strcmp(origin, "null") != 0)
        return host && url_names_host(origin, host);
    if (referer)
        return host && url_names_host(referer, host);
    return true;
}

static const char css[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#222;"
    "background:#fafafa}"
    "header{background:#234;color:#fff;padding:.5em 1em}"
    "header a{color:#fff;margin-right:1em}"
    "header form{display:inline;float:right}"
    "main{padding:1em;max-width:72em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em;display:block;"
    "overflow-x:auto}"
    "th,td{border-bottom:1px solid #ccc;padding:.25em .6em;text-align:left;"
    "vertical-align:top}"
    "td.n{text-align:right}"
    ".bad{color:#a00}.note{color:#666;font-size:90%}"
    "code.secret{background:#ffd;padding:.3em;word-break:break-all}"
    "input,select,button{font:inherit;margin:.2em 0}"
    "svg{max-width:100%;height:auto;background:#fff;border:1px solid #ccc}"
    "@media(max-width:40em){header form{float:none}main{padding:.5em}}\n";

struct page {
    struct fy_buf b;
    const char *csrf; /* NULL: not logged in */
};

static void page_begin(struct page *pg, const char *title)
{
    static const struct {
        const char *path, *name;
    } nav[] = {{"/dashboard", "Overview"},
               {"/dashboard/devices", "Devices"},
               {"/dashboard/streams", "Streams"},
               {"/dashboard/charts", "Charts"},
               {"/dashboard/keys", "Keys"}};
    struct fy_buf *b = &pg->b;

    fy_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                   "<meta charset=\"utf-8\"><meta name=\"viewport\" content="
                   "\"width=device-width, initial-scale=1\">"
                   "<link rel=\"stylesheet\" href=\"/dashboard/style.css\">"
                   "<title>");
    fy_dash_html(b, title);
    fy_buf_adds(b, " - ferry</title></head><body><header><strong>ferry"
                   "</strong> ");
    for (size_t i = 0; pg->csrf && i < FY_ARRAY_LEN(nav); i++)
        fy_buf_addf(b, "<a href=\"%s\">%s</a>", nav[i].path, nav[i].name);
    if (pg->csrf) {
        fy_buf_adds(b, "<form method=\"post\" action=\"/dashboard/logout\">"
                       "<input type=\"hidden\" name=\"csrf\" value=\"");
        fy_dash_html(b, pg->csrf);
        fy_buf_adds(b, "\"><button type=\"submit\">Log out</button></form>");
    }
    fy_buf_adds(b, "</header><main><h1>");
    fy_dash_html(b, title);
    fy_buf_adds(b, "</h1>\n");
}

static void csrf_field(struct page *pg)
{
    fy_buf_adds(&pg->b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    fy_dash_html(&pg->b, pg->csrf);
    fy_buf_adds(&pg->b, "\">");
}

static void secure_headers(struct fy_http_resp *resp)
{
    fy_http_resp_header(resp, "Content-Security-Policy",
                        "default-src 'none'; style-src 'self'; img-src"
                        " 'self'; form-action 'self'; frame-ancestors"
                        " 'none'; base-uri 'none'");
    fy_http_resp_header(resp, "X-Frame-Options", "DENY");
    fy_http_resp_header(resp, "Cache-Control", "no-store");
    fy_http_resp_header(resp, "Referrer-Policy", "no-referrer");
    fy_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}

/* Ends the page and answers with it (the buffer is taken). */
static void page_send(struct page *pg, struct fy_http_resp *resp, int status)
{
    fy_buf_adds(&pg->b, "</main></body></html>\n");
    if (fy_buf_error(&pg->b) < 0) {
        fy_buf_release(&pg->b);
        fy_http_error(resp, FERRY_WIRE_INTERNAL, "out of memory", NULL);
        return;
    }
    fy_buf_release(&resp->body);
    resp->body = pg->b;
    memset(&pg->b, 0, sizeof(pg->b));
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    secure_headers(resp);
}

/* A fixed target: never taken from the request (no header injection). */
static void redirect(struct fy_http_resp *resp, const char *fixed_path)
{
    fy_buf_reset(&resp->body);
    resp->status = 303;
    resp->content_type = "text/plain; charset=utf-8";
    fy_http_resp_header(resp, "Location", fixed_path);
    secure_headers(resp);
}

static void error_page(struct fy_http_resp *resp, int status, const char *csrf,
                       const char *msg)
{
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = csrf};

    page_begin(&pg, status >= 500 ? "Server error" : "Refused");
    fy_buf_adds(&pg.b, "<p class=\"bad\">");
    fy_dash_html(&pg.b, msg);
    fy_buf_adds(&pg.b, "</p>");
    page_send(&pg, resp, status);
}

/* A store failure: its text goes to the log only. */
static void store_failed(struct fy_http_resp *resp, const char *csrf, int rc,
                         const struct ferry_err *err)
{
    fy_error("dashboard", "store: %s", err->msg);
    error_page(resp, ferry_err_is_transient(rc) ? 503 : 500, csrf,
               "The store cannot answer now; the server log has the"
               " detail.");
}

static void fmt_time(char *out, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&t, &tm))
        snprintf(out, n, "never");
    else
        strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void add_time(struct fy_buf *b, int64_t ms)
{
    char t[40];

    fmt_time(t, sizeof(t), ms);
    fy_buf_adds(b, t);
}

static void add_age(struct fy_buf *b, int64_t ms, int64_t now)
{
    int64_t s = (now - ms) / 1000;

    if (ms <= 0)
        fy_buf_adds(b, "-");
    else if (s < 120)
        fy_buf_addf(b, "%lld s", (long long)(s < 0 ? 0 : s));
    else if (s < 7200)
        fy_buf_addf(b, "%lld min", (long long)(s / 60));
    else if (s < 172800)
        fy_buf_addf(b, "%lld h", (long long)(s / 3600));
    else
        fy_buf_addf(b, "%lld d", (long long)(s / 86400));
}

/* ---- sessions ------------------------------------------------------------ */

static void token_hash(const char *token, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)token, strlen(token), md);
    fy_hex(md, sizeof(md), out);
}

/* A cookie that cannot be a token never reaches the store. */
static bool token_shape(const char *t)
{
    size_t i = 0;

    for (; t && t[i]; i++) {
        if (!isxdigit((unsigned char)t[i]) || isupper((unsigned char)t[i]))
            return false;
    }
    return i == TOKEN_HEX;
}

static int with_store(struct fy_api *api, struct fy_store **st,
                      struct ferry_err *err)
{
    return fy_store_pool_get(api->pool, api->pool_wait_ms, st, err);
}

static int64_t touch_every(const struct fy_api *api)
{
    int64_t every = api->dash_idle_ms / 10;

    return every > 30000 ? 30000 : every;
}

int fy_dash_auth(struct fy_http_req *req, struct fy_http_resp *resp, void *ud,
                 struct fy_key *key, char csrf[65])
{
    struct fy_api *api = ud;
    const char *token = fy_http_cookie(req, FY_DASH_COOKIE);
    struct ferry_err err = {0};
    struct fy_dash_session s;
    struct fy_store *st = NULL;
    char hash[65];
    int rc;

    if (!token_shape(token)) {
        redirect(resp, LOGIN_PATH);
        return FERRY_EAUTH;
    }
    token_hash(token, hash);
    rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_store_dash_session_get(st, hash, api->dash_idle_ms,
                                       api->dash_max_ms, &s, &err);
    if (rc == 0)
        rc = fy_store_key_get(st, s.key_id, key, &err);
    /* A tenth of the idle time-out, at most 30 s: few writes, and a
       session in use never expires idle. */
    if (rc == 0 &&
        fy_store_dash_session_touch(st, hash, touch_every(api), &err) < 0)
        fy_debug("dashboard", "session use not recorded: %s", err.msg);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc == FERRY_ENOTFOUND) {
        redirect(resp, LOGIN_PATH);
        return FERRY_EAUTH;
    }
    if (rc < 0) {
        store_failed(resp, NULL, rc, &err);
        return rc;
    }
    snprintf(csrf, 65, "%s", s.csrf);
    return 0;
}

/* The form of a POST, and its CSRF token when the route has a session. */
static int take_form(struct fy_http_req *req, struct fy_http_resp *resp,
                     const char *csrf, struct fy_dash_form *form)
{
    struct ferry_err err = {0};
    const char *got;
    int rc;

    if (!fy_dash_same_origin(fy_http_header(req, "Origin"),
                             fy_http_header(req, "Referer"),
                             fy_http_header(req, "Host"))) {
        fy_info("dashboard", "%s refused: posted from another site", req->path);
        error_page(resp, 403, csrf, "This form was posted from another site.");
        return FERRY_EFORBIDDEN;
    }
    rc = fy_dash_form_parse(req->body.data, req->body.len, form, &err);
    if (rc < 0) {
        error_page(resp, rc == FERRY_ETOOBIG ? 413 : 400, csrf, err.msg);
        return rc;
    }
    got = fy_dash_form_get(form, "csrf");
    if (csrf && (!got || strlen(got) != strlen(csrf) ||
                 CRYPTO_memcmp(got, csrf, strlen(csrf)) != 0)) {
        fy_info("dashboard", "%s refused: missing or wrong CSRF token",
                req->path);
        fy_dash_form_release(form);
        error_page(resp, 403, csrf,
                   "This form is stale or was not sent by this dashboard;"
                   " reload the page and try again.");
        return FERRY_EFORBIDDEN;
    }
    return 0;
}

/* ---- log-in and log-out -------------------------------------------------- */

static void login_page(struct fy_http_resp *resp, int status, const char *msg)
{
    struct page pg = {.b = FY_BUF_INIT(0)};

    page_begin(&pg, "Log in");
    if (msg) {
        fy_buf_adds(&pg.b, "<p class=\"bad\">");
        fy_dash_html(&pg.b, msg);
        fy_buf_adds(&pg.b, "</p>");
    }
    fy_buf_adds(&pg.b,
                "<form method=\"post\" action=\"/dashboard/login\">"
                "<label>Admin key<br><input type=\"password\" name=\"key\""
                " autocomplete=\"off\" required size=\"40\"></label><br>"
                "<button type=\"submit\">Log in</button></form>"
                "<p class=\"note\">An admin key from <code>ferryd keys create"
                " --admin</code>. It is sent once and never shown.</p>");
    page_send(&pg, resp, status);
}

static void handle_login_get(struct fy_http_req *req, struct fy_http_resp *resp,
                             void *ud)
{
    (void)req;
    (void)ud;
    login_page(resp, 200, NULL);
}

/*
 * Refused log-ins are answered one at a time, each after a delay: at most
 * one guess a second per ferryd, whatever the number of connections.
 */
static pthread_mutex_t refuse_mu = PTHREAD_MUTEX_INITIALIZER;

static void login_refused(struct fy_http_resp *resp, const char *why)
{
    struct timespec ts = {FY_DASH_LOGIN_DELAY_MS / 1000,
                          (FY_DASH_LOGIN_DELAY_MS % 1000) * 1000000L};

    fy_info("dashboard", "log-in refused: %s", why);
    pthread_mutex_lock(&refuse_mu);
    nanosleep(&ts, NULL);
    pthread_mutex_unlock(&refuse_mu);
    /* One message for every refusal: no oracle for which keys exist. */
    login_page(resp, 401, "That key cannot log in here.");
}

/* A new session for key: the cookie's token and the row of its hash. */
static int start_session(struct fy_store *st, const struct fy_key *key,
                         bool secure, int64_t max_ms, struct fy_http_resp *resp,
                         struct ferry_err *err)
{
    unsigned char raw[64];
    char token[TOKEN_HEX + 1], csrf[TOKEN_HEX + 1], hash[65];
    int rc = fy_random(raw, sizeof(raw), err);

    if (rc < 0)
        return rc;
    fy_hex(raw, 32, token);
    fy_hex(raw + 32, 32, csrf);
    OPENSSL_cleanse(raw, sizeof(raw));
    token_hash(token, hash);
    rc = fy_store_dash_session_put(st, hash, key->id, csrf, err);
    if (rc == 0)
        snprintf(resp->set_cookie, sizeof(resp->set_cookie),
                 "%s=%s; Path=/dashboard; Max-Age=%lld; HttpOnly;"
                 " SameSite=Strict%s",
                 FY_DASH_COOKIE, token, (long long)(max_ms / 1000),
                 secure ? "; Secure" : "");
    OPENSSL_cleanse(token, sizeof(token));
    return rc;
}

static void handle_login_post(struct fy_http_req *req,
                              struct fy_http_resp *resp, void *ud)
{
    struct fy_api *api = ud;
    struct ferry_err err = {0};
    struct fy_dash_form form;
    struct fy_store *st = NULL;
    struct fy_key key = {0};
    const char *text;
    int rc;

    if (take_form(req, resp, NULL, &form) < 0)
        return;
    text = fy_dash_form_get(&form, "key");
    if (!text || form.n != 1) {
        fy_dash_form_release(&form);
        login_page(resp, 400, "The form takes one field, the key.");
        return;
    }
    rc = fy_key_verify_shape(text, strlen(text), &err);
    if (rc == 0)
        rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_key_verify(st, text, strlen(text), &key, &err);
    if (rc == 0 && !key.admin)
        rc =
            fy_err_set(&err, FERRY_EAUTH, "key=%s is not an admin key", key.id);
    /* A person logs in with the new secret; the overlap is for agents. */
    if (rc == 0 && key.previous)
        rc = fy_err_set(&err, FERRY_EAUTH,
                        "key=%s presented its previous secret", key.id);
    if (rc == 0)
        rc = start_session(st, &key, api->dash_secure, api->dash_max_ms, resp,
                           &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    OPENSSL_cleanse(form.mem, req->body.len);
    fy_dash_form_release(&form);
    if (rc == FERRY_EAUTH)
        login_refused(resp, err.msg);
    else if (rc < 0)
        store_failed(resp, NULL, rc, &err);
    else {
        fy_info("dashboard", "key=%s logged in", key.id);
        redirect(resp, HOME_PATH);
    }
    fy_key_release(&key);
}

static void handle_logout(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct fy_api *api = ud;
    const char *token = fy_http_cookie(req, FY_DASH_COOKIE);
    struct ferry_err err = {0};
    struct fy_dash_form form;
    struct fy_store *st = NULL;
    char hash[65];
    int rc;

    if (take_form(req, resp, fy_api_csrf(req), &form) < 0)
        return;
    fy_dash_form_release(&form);
    token_hash(token ? token : "", hash);
    rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_store_dash_session_end(st, hash, NULL, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0) {
        store_failed(resp, NULL, rc, &err);
        return;
    }
    fy_info("dashboard", "key=%s logged out", fy_api_key(req)->id);
    snprintf(resp->set_cookie, sizeof(resp->set_cookie),
             "%s=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict%s",
             FY_DASH_COOKIE, api->dash_secure ? "; Secure" : "");
    redirect(resp, LOGIN_PATH);
}

static void handle_css(struct fy_http_req *req, struct fy_http_resp *resp,
                       void *ud)
{
    (void)req;
    (void)ud;
    fy_buf_reset(&resp->body);
    fy_buf_add(&resp->body, css, sizeof(css) - 1);
    resp->content_type = "text/css; charset=utf-8";
    secure_headers(resp);
}

/* ---- overview ------------------------------------------------------------ */

#define MAX_REGIONS 201 /* 200 named, and the rows of none */

struct region_sum {
    char name[130]; /* "" for rows without a region */
    int64_t rows, last_ms;
};

struct overview {
    struct page *pg;
    struct region_sum *sums;
    size_t nsums;
    const char *table;
    bool has_region;
};

static void add_sum(struct overview *o, const struct fy_dash_count *c)
{
    const char *name = c->region ? c->region : "";
    size_t i = 0;

    while (i < o->nsums && strcmp(o->sums[i].name, name) != 0)
        i++;
    if (i == o->nsums) {
        if (o->nsums == MAX_REGIONS)
            return;
        snprintf(o->sums[o->nsums++].name, sizeof(o->sums[0].name), "%s", name);
    }
    o->sums[i].rows += c->rows;
    if (c->last_ms > o->sums[i].last_ms)
        o->sums[i].last_ms = c->last_ms;
}

static int count_cb(const struct fy_dash_count *c, void *ud)
{
    struct overview *o = ud;
    struct fy_buf *b = &o->pg->b;

    fy_buf_adds(b, "<tr><td>");
    fy_dash_html(b, o->table);
    fy_buf_adds(b, "</td><td>");
    if (o->has_region)
        fy_dash_html(b, c->region ? c->region : "(none)");
    else
        fy_buf_adds(b, "<span class=\"note\">no region column</span>");
    fy_buf_addf(b, "</td><td class=\"n\">%lld</td><td>", (long long)c->rows);
    add_time(b, c->last_ms);
    fy_buf_adds(b, "</td></tr>\n");
    if (o->has_region)
        add_sum(o, c);
    return 0;
}

static int overview_tables(struct fy_api *api, struct fy_store *st,
                           struct overview *o, struct ferry_err *err)
{
    int rc = 0;

    fy_buf_adds(&o->pg->b, "<h2>Rows per table and region</h2><table><tr>"
                           "<th>Table</th><th>Region</th><th>Rows</th>"
                           "<th>Last change</th></tr>\n");
    for (size_t i = 0; rc == 0 && i < api->contract->ntables; i++) {
        const struct fy_table *t = &api->contract->tables[i];

        o->table = t->name;
        o->has_region = t->region_col >= 0;
        rc = fy_store_dash_table_counts(st, t, count_cb, o, err);
    }
    fy_buf_adds(&o->pg->b, "</table>\n");
    return rc;
}

static void overview_regions(struct overview *o)
{
    struct fy_buf *b = &o->pg->b;

    fy_buf_adds(b, "<h2>Regions</h2>");
    if (o->nsums == 0) {
        fy_buf_adds(b, "<p class=\"note\">No table has a region column, or no"
                       " region has rows yet.</p>");
        return;
    }
    fy_buf_adds(b, "<table><tr><th>Region</th><th>Rows (all tables)</th>"
                   "<th>Last change</th></tr>\n");
    for (size_t i = 0; i < o->nsums; i++) {
        fy_buf_adds(b, "<tr><td>");
        fy_dash_html(b, o->sums[i].name[0] ? o->sums[i].name : "(none)");
        fy_buf_addf(b, "</td><td class=\"n\">%lld</td><td>",
                    (long long)o->sums[i].rows);
        add_time(b, o->sums[i].last_ms);
        fy_buf_adds(b, "</td></tr>\n");
    }
    fy_buf_adds(b, "</table>\n");
}

static void handle_overview(struct fy_http_req *req, struct fy_http_resp *resp,
                            void *ud)
{
    struct fy_api *api = ud;
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = fy_api_csrf(req)};
    struct overview o = {.pg = &pg};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    o.sums = fy_calloc(MAX_REGIONS, sizeof(*o.sums));
    rc = o.sums ? with_store(api, &st, &err)
                : fy_err_set(&err, FERRY_ENOMEM, "out of memory");
    page_begin(&pg, "Overview");
    fy_buf_addf(&pg.b, "<p>Contract version %ld, %zu table%s.</p>",
                api->contract->version, api->contract->ntables,
                api->contract->ntables == 1 ? "" : "s");
    if (rc == 0)
        rc = overview_tables(api, st, &o, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc == 0) {
        overview_regions(&o);
        page_send(&pg, resp, 200);
    } else {
        fy_buf_release(&pg.b);
        store_failed(resp, pg.csrf, rc, &err);
    }
    fy_free(o.sums);
}

/* ---- devices ------------------------------------------------------------- */

static int device_cb(const struct fy_dash_device *d, void *ud)
{
    struct fy_buf *b = ud;
    int64_t last =
        d->last_push_ms > d->last_pull_ms ? d->last_push_ms : d->last_pull_ms;

    fy_buf_adds(b, "<tr><td>");
    fy_dash_html(b, d->device);
    fy_buf_adds(b, "</td><td>");
    add_time(b, d->last_push_ms);
    fy_buf_adds(b, "</td><td>");
    add_time(b, d->last_pull_ms);
    fy_buf_adds(b, "</td><td class=\"n\">");
    add_age(b, last, d->now_ms);
    fy_buf_addf(b,
                "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                "<td class=\"n\">%lld</td><td>",
                (long long)d->acked_seq, (long long)d->pushes,
                (long long)d->changes);
    fy_dash_html(b, d->status ? d->status : "-");
    fy_buf_addf(b, "</td><td class=\"n\">%lld</td><td class=\"bad\">",
                (long long)d->failures);
    fy_dash_html(b, d->last_error ? d->last_error : "");
    fy_buf_adds(b, "</td></tr>\n");
    return 0;
}

static void handle_devices(struct fy_http_req *req, struct fy_http_resp *resp,
                           void *ud)
{
    struct fy_api *api = ud;
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = fy_api_csrf(req)};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc = with_store(api, &st, &err);

    page_begin(&pg, "Devices");
    fy_buf_adds(&pg.b,
                "<table><tr><th>Device</th><th>Last push</th><th>Last pull"
                "</th><th>Lag</th><th>Acked seq</th><th>Pushes</th><th>"
                "Changes</th><th>Status</th><th>Failures</th><th>Last error"
                "</th></tr>\n");
    if (rc == 0)
        rc = fy_store_dash_devices(st, device_cb, &pg.b, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    fy_buf_adds(&pg.b,
                "</table><p class=\"note\">Lag: time since the device's last"
                " push or pull. Outbox depth and dead letters are kept on the"
                " device and not reported to ferryd: <code>ferry status</code>"
                " and <code>ferry dead list</code> on the device show them."
                " At most 500 devices, by name.</p>");
    if (rc == 0) {
        page_send(&pg, resp, 200);
    } else {
        fy_buf_release(&pg.b);
        store_failed(resp, pg.csrf, rc, &err);
    }
}

/* ---- streams ------------------------------------------------------------- */

#define STREAM_HISTORY 10

static int stream_cb(const struct fy_run_status *s, void *ud)
{
    struct fy_buf *b = ud;

    fy_buf_adds(b, "<tr><th colspan=\"6\">");
    fy_dash_html(b, s->name);
    fy_buf_adds(b, ": ");
    fy_dash_html(b, s->status);
    fy_buf_addf(b, ", %lld succeeded, %lld failed, last success ",
                (long long)s->successes, (long long)s->failures);
    add_time(b, s->last_success_ms);
    fy_buf_adds(b, ", cursor <code>");
    fy_dash_html(b, s->cursor ? s->cursor : "(none)");
    fy_buf_adds(b, "</code>");
    if (s->last_error) {
        fy_buf_adds(b, " <span class=\"bad\">");
        fy_dash_html(b, s->last_error);
        fy_buf_adds(b, "</span>");
    }
    fy_buf_adds(b, "</th></tr>\n<tr><td>Run</td><td>Status</td><td>Started"
                   "</td><td>Duration</td><td>Records</td><td>Error</td>"
                   "</tr>\n");
    return 0;
}

static int run_cb(const struct fy_run *r, void *ud)
{
    struct fy_buf *b = ud;

    fy_buf_addf(b, "<tr><td class=\"n\">%lld</td><td>", (long long)r->id);
    fy_dash_html(b, r->status);
    fy_buf_adds(b, "</td><td>");
    add_time(b, r->started_ms);
    if (r->duration_ms >= 0)
        fy_buf_addf(b, "</td><td class=\"n\">%.1f s",
                    (double)r->duration_ms / 1000.0);
    else
        fy_buf_adds(b, "</td><td class=\"n\">-");
    if (r->records >= 0)
        fy_buf_addf(b, "</td><td class=\"n\">%lld", (long long)r->records);
    else
        fy_buf_adds(b, "</td><td class=\"n\">-");
    fy_buf_adds(b, "</td><td class=\"bad\">");
    fy_dash_html(b, r->error ? r->error : "");
    fy_buf_adds(b, "</td></tr>\n");
    return 0;
}

static void handle_streams(struct fy_http_req *req, struct fy_http_resp *resp,
                           void *ud)
{
    struct fy_api *api = ud;
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = fy_api_csrf(req)};
    struct fy_status_req sr = {.kind = "stream", .history = STREAM_HISTORY};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    size_t before;
    int rc = with_store(api, &st, &err);

    page_begin(&pg, "Streams and runs");
    fy_buf_adds(&pg.b, "<table>\n");
    before = pg.b.len;
    if (rc == 0)
        rc = fy_store_run_status(st, &sr, stream_cb, run_cb, &pg.b, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (pg.b.len == before)
        fy_buf_adds(&pg.b, "<tr><td>No stream has run yet.</td></tr>");
    fy_buf_addf(&pg.b,
                "</table><p class=\"note\">The newest %d runs of each"
                " stream. Devices' runs are on the Devices and Charts"
                " pages.</p>",
                STREAM_HISTORY);
    if (rc == 0) {
        page_send(&pg, resp, 200);
    } else {
        fy_buf_release(&pg.b);
        store_failed(resp, pg.csrf, rc, &err);
    }
}

/* ---- charts -------------------------------------------------------------- */

#define CHART_HOURS   6
#define CHART_MINUTES 360 /* CHART_HOURS of them */
#define CHART_W       720
#define CHART_H       160

struct chart {
    int64_t first; /* minute */
    int64_t records[CHART_MINUTES], failures[CHART_MINUTES];
};

static int minute_cb(const struct fy_dash_minute *m, void *ud)
{
    struct chart *c = ud;
    int64_t i = m->minute - c->first;

    if (i >= 0 && i < CHART_MINUTES) {
        c->records[i] += m->records;
        c->failures[i] += m->failures;
    }
    return 0;
}

/* One bar per minute, scaled to the largest; labelled with it. */
static void svg_bars(struct fy_buf *b, const int64_t *v, size_t n,
                     const char *title, const char *colour, int64_t first)
{
    int64_t max = 0, sum = 0;
    char from[40], to[40];

    for (size_t i = 0; i < n; i++) {
        max = v[i] > max ? v[i] : max;
        sum += v[i];
    }
    fmt_time(from, sizeof(from), first * 60000);
    fmt_time(to, sizeof(to), (first + (int64_t)n) * 60000);
    fy_buf_addf(b,
                "<h2>%s</h2><p>%lld in the last %d hours; at most %lld in"
                " a minute.</p>",
                title, (long long)sum, CHART_HOURS, (long long)max);
    fy_buf_addf(b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0"
                " %d %d\" width=\"%d\" height=\"%d\" role=\"img\"><title>"
                "%s</title>",
                CHART_W, CHART_H + 20, CHART_W, CHART_H + 20, title);
    for (size_t i = 0; max > 0 && i < n; i++) {
        int64_t h = v[i] * (CHART_H - 10) / max;

        if (v[i] > 0 && h == 0)
            h = 1;
        if (h > 0)
            fy_buf_addf(b,
                        "<rect x=\"%zu\" y=\"%lld\" width=\"2\""
                        " height=\"%lld\" fill=\"%s\"/>",
                        i * 2, (long long)(CHART_H - h), (long long)h, colour);
    }
    fy_buf_addf(b,
                "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\""
                " stroke=\"#888\"/><text x=\"0\" y=\"%d\" font-size=\"11\">"
                "%s</text><text x=\"%d\" y=\"%d\" font-size=\"11\""
                " text-anchor=\"end\">%s</text></svg>\n",
                CHART_H, CHART_W, CHART_H, CHART_H + 15, from, CHART_W,
                CHART_H + 15, to);
}

static void handle_charts(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct fy_api *api = ud;
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = fy_api_csrf(req)};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    struct chart *c = fy_calloc(1, sizeof(*c));
    int64_t now = 0;
    int rc;

    if (!c) {
        error_page(resp, 500, pg.csrf, "out of memory");
        return;
    }
    rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_store_now_ms(st, &now, &err);
    if (rc == 0) {
        c->first = now / 60000 - CHART_MINUTES + 1;
        rc = fy_store_dash_minutes(st, c->first * 60000, minute_cb, c, &err);
    }
    if (st)
        fy_store_pool_put(api->pool, st);
    page_begin(&pg, "Charts");
    if (rc == 0) {
        svg_bars(&pg.b, c->records, CHART_MINUTES,
                 "Rows per minute (pushed, pulled, run records)", "#26a",
                 c->first);
        svg_bars(&pg.b, c->failures, CHART_MINUTES, "Failed runs per minute",
                 "#c22", c->first);
        fy_buf_adds(&pg.b, "<p class=\"note\">From the run history of devices"
                           " and streams, by the minute a run started.</p>");
        page_send(&pg, resp, 200);
    } else {
        fy_buf_release(&pg.b);
        store_failed(resp, pg.csrf, rc, &err);
    }
    fy_free(c);
}

/* ---- keys ---------------------------------------------------------------- */

struct keys_page {
    struct page *pg;
    int64_t now_s;
};

static int key_cb(const struct fy_key *k, void *ud)
{
    struct keys_page *kp = ud;
    struct fy_buf *b = &kp->pg->b;
    bool live =
        !k->revoked_at && !(k->expires_at && k->expires_at <= kp->now_s);

    fy_buf_addf(b, "<tr><td><code>%s</code></td><td>", k->id);
    fy_dash_html(b, k->device);
    fy_buf_adds(b, "</td><td>");
    fy_dash_html(b, k->region ? k->region : "");
    fy_buf_addf(b, "</td><td>%s</td><td>", k->admin ? "admin" : "device");
    add_time(b, k->created_at * 1000);
    fy_buf_adds(b, "</td><td>");
    add_time(b, k->last_used_at * 1000);
    fy_buf_addf(b, "</td><td>%s</td><td>",
                k->revoked_at ? "revoked"
                : live        ? "active"
                              : "expired");
    if (live) {
        fy_buf_adds(b, "<form method=\"post\" action=\"/dashboard/keys/revoke"
                       "\">");
        csrf_field(kp->pg);
        fy_buf_addf(b,
                    "<input type=\"hidden\" name=\"id\" value=\"%s\">"
                    "<button type=\"submit\">Revoke</button></form>",
                    k->id);
    }
    fy_buf_adds(b, "</td></tr>\n");
    return 0;
}

static void create_form(struct page *pg)
{
    fy_buf_adds(&pg->b, "<h2>Create a key</h2><form method=\"post\""
                        " action=\"/dashboard/keys\">");
    csrf_field(pg);
    fy_buf_adds(&pg->b,
                "<label>Device <input name=\"device\" required"
                " maxlength=\"128\"></label> <label>Region <input"
                " name=\"region\" maxlength=\"128\"></label> <label>Role"
                " <select name=\"role\"><option value=\"device\">device"
                "</option><option value=\"admin\">admin</option></select>"
                "</label> <button type=\"submit\">Create</button></form>");
}

static void handle_keys(struct fy_http_req *req, struct fy_http_resp *resp,
                        void *ud)
{
    struct fy_api *api = ud;
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = fy_api_csrf(req)};
    struct keys_page kp = {.pg = &pg, .now_s = (int64_t)time(NULL)};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc = with_store(api, &st, &err);

    page_begin(&pg, "Keys");
    fy_buf_adds(&pg.b, "<table><tr><th>Id</th><th>Device</th><th>Region</th>"
                       "<th>Role</th><th>Created</th><th>Last used</th><th>"
                       "State</th><th></th></tr>\n");
    if (rc == 0)
        rc = fy_store_key_list(st, key_cb, &kp, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    fy_buf_adds(&pg.b, "</table><p class=\"note\">Only a key's id is kept in"
                       " the clear; its secret is shown once, when it is"
                       " created.</p>");
    create_form(&pg);
    if (rc == 0) {
        page_send(&pg, resp, 200);
    } else {
        fy_buf_release(&pg.b);
        store_failed(resp, pg.csrf, rc, &err);
    }
}

static void key_created(struct fy_http_resp *resp, const char *csrf,
                        const struct fy_key *k, const char *text)
{
    struct page pg = {.b = FY_BUF_INIT(0), .csrf = csrf};

    page_begin(&pg, "Key created");
    fy_buf_addf(&pg.b, "<p>Key <code>%s</code> for device <strong>", k->id);
    fy_dash_html(&pg.b, k->device);
    fy_buf_addf(&pg.b, "</strong>%s", k->region ? " in region <strong>" : "");
    fy_dash_html(&pg.b, k->region);
    fy_buf_addf(&pg.b,
                "%s, role %s:</p><p><code class=\"secret\" id=\"secret\">"
                "%s</code></p><p><strong>Copy it now: it is shown only"
                " this once.</strong></p><p><a href=\"/dashboard/keys"
                "\">Back to the keys</a></p>",
                k->region ? "</strong>" : "", k->admin ? "admin" : "device",
                text);
    page_send(&pg, resp, 200);
}

static void handle_key_create(struct fy_http_req *req,
                              struct fy_http_resp *resp, void *ud)
{
    struct fy_api *api = ud;
    const char *csrf = fy_api_csrf(req);
    struct ferry_err err = {0};
    struct fy_dash_form form;
    struct fy_store *st = NULL;
    struct fy_key k = {0};
    char text[FY_KEY_LEN + 1];
    const char *device, *region, *role;
    int rc;

    if (take_form(req, resp, csrf, &form) < 0)
        return;
    device = fy_dash_form_get(&form, "device");
    region = fy_dash_form_get(&form, "region");
    role = fy_dash_form_get(&form, "role");
    if (region && !region[0])
        region = NULL;
    if (!device || !role ||
        (strcmp(role, "device") != 0 && strcmp(role, "admin") != 0)) {
        fy_dash_form_release(&form);
        error_page(resp, 400, csrf,
                   "A key needs a device and a role (device or admin).");
        return;
    }
    rc = fy_key_generate(device, region, strcmp(role, "admin") == 0, &k, text,
                         &err);
    fy_dash_form_release(&form);
    if (rc < 0) {
        error_page(resp, rc == FERRY_EINVAL ? 400 : 500, csrf, err.msg);
        return;
    }
    rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_store_key_put(st, &k, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc < 0)
        store_failed(resp, csrf, rc, &err);
    else {
        fy_info("dashboard", "key=%s created for device=%s by key=%s", k.id,
                k.device, fy_api_key(req)->id);
        key_created(resp, csrf, &k, text);
    }
    OPENSSL_cleanse(text, sizeof(text));
    fy_key_release(&k);
}

static bool key_id_shape(const char *id)
{
    size_t i = 0;

    for (; id && id[i]; i++) {
        if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
            return false;
    }
    return i == FY_KEY_ID_LEN;
}

/* A revoked key's sessions end with it (also by the session check). */
static void handle_key_revoke(struct fy_http_req *req,
                              struct fy_http_resp *resp, void *ud)
{
    struct fy_api *api = ud;
    const char *csrf = fy_api_csrf(req);
    struct ferry_err err = {0};
    struct fy_dash_form form;
    struct fy_store *st = NULL;
    char id[FY_KEY_ID_LEN + 1];
    int rc;

    if (take_form(req, resp, csrf, &form) < 0)
        return;
    if (!key_id_shape(fy_dash_form_get(&form, "id"))) {
        fy_dash_form_release(&form);
        error_page(resp, 400, csrf, "A key id is 16 lower-case hex digits.");
        return;
    }
    snprintf(id, sizeof(id), "%s", fy_dash_form_get(&form, "id"));
    fy_dash_form_release(&form);
    rc = with_store(api, &st, &err);
    if (rc == 0)
        rc = fy_store_key_revoke(st, id, &err);
    if (rc == 0)
        rc = fy_store_dash_session_end(st, NULL, id, &err);
    if (st)
        fy_store_pool_put(api->pool, st);
    if (rc == FERRY_ENOTFOUND)
        error_page(resp, 404, csrf, err.msg);
    else if (rc < 0)
        store_failed(resp, csrf, rc, &err);
    else {
        fy_info("dashboard", "key=%s revoked by key=%s", id,
                fy_api_key(req)->id);
        redirect(resp, "/dashboard/keys");
    }
}

/* ---- routes -------------------------------------------------------------- */

static const char *const form_types[] = {"application/x-www-form-urlencoded",
                                         NULL};

#define FORM_BODY                                                              \
    {                                                                          \
        .mode = FY_BODY_MEMORY, .max = FY_DASH_FORM_BYTES, .types = form_types \
    }

const struct fy_http_route fy_dash_routes[] = {
    {.method = "GET",
     .pattern = "/dashboard/style.css",
     .auth = FY_AUTH_NONE,
     .fn = handle_css},
    {.method = "GET",
     .pattern = "/dashboard/login",
     .auth = FY_AUTH_NONE,
     .fn = handle_login_get},
    {.method = "POST",
     .pattern = "/dashboard/login",
     .auth = FY_AUTH_NONE,
     .body = FORM_BODY,
     .fn = handle_login_post},
    {.method = "POST",
     .pattern = "/dashboard/logout",
     .auth = FY_AUTH_SESSION,
     .body = FORM_BODY,
     .fn = handle_logout},
    {.method = "GET",
     .pattern = "/dashboard",
     .auth = FY_AUTH_SESSION,
     .fn = handle_overview},
    {.method = "GET",
     .pattern = "/dashboard/devices",
     .auth = FY_AUTH_SESSION,
     .fn = handle_devices},
    {.method = "GET",
     .pattern = "/dashboard/streams",
     .auth = FY_AUTH_SESSION,
     .fn = handle_streams},
    {.method = "GET",
     .pattern = "/dashboard/charts",
     .auth = FY_AUTH_SESSION,
     .fn = handle_charts},
    {.method = "GET",
     .pattern = "/dashboard/keys",
     .auth = FY_AUTH_SESSION,
     .fn = handle_keys},
    {.method = "POST",
     .pattern = "/dashboard/keys",
     .auth = FY_AUTH_SESSION,
     .body = FORM_BODY,
     .fn = handle_key_create},
    {.method = "POST",
     .pattern = "/dashboard/keys/revoke",
     .auth = FY_AUTH_SESSION,
     .body = FORM_BODY,
     .fn = handle_key_revoke},
};

const size_t fy_dash_nroutes = FY_ARRAY_LEN(fy_dash_routes);
