/* SPDX-License-Identifier: MIT */
/*
 * Route patterns, matching, parameter decoding and aliases; see route.h.
 * Patterns are parsed once into segments when the router is built, so a
 * request costs one walk over its path per route and one allocation for its
 * decoded parameters.
 */
#include "http/route.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "fy.h"

#define MAX_SEGS       12
#define MAX_ALIAS_PATH 256

enum seg_kind { SEG_LIT, SEG_NAME, SEG_SHA256, SEG_ID, SEG_TEXT };

struct seg {
    enum seg_kind kind;
    const char *text; /* literal, or the parameter's name */
    size_t len;
};

struct entry {
    const struct fy_http_route *route;
    const char *method;
    struct seg segs[MAX_SEGS];
    size_t nsegs;
    char *owned_method; /* aliases: copies of their strings */
    char *owned_path;
    char *auth_header;
    char *region_header;
    /* Aliases of a route with parameters: their fixed values, pointing into
       fixed_text (owned: name and value of each). */
    struct fy_http_param fixed[FY_ROUTE_MAX_PARAMS];
    char *fixed_text[2 * FY_ROUTE_MAX_PARAMS];
    size_t nfixed;
};

struct fy_http_router {
    struct entry *e;
    size_t n, cap;
};

static void free_fixed(struct entry *e)
{
    for (size_t i = 0; i < 2 * e->nfixed; i++)
        fy_free(e->fixed_text[i]);
    e->nfixed = 0;
}

static const struct {
    const char *name;
    enum seg_kind kind;
} kinds[] = {
    {"name", SEG_NAME},
    {"sha256", SEG_SHA256},
    {"id", SEG_ID},
    {"text", SEG_TEXT},
};

/* ---- patterns ------------------------------------------------------------ */

static int parse_param(const char *p, size_t n, struct seg *s)
{
    const char *colon = memchr(p, ':', n);

    if (n < 3 || p[n - 1] != '}' || !colon || colon == p + 1)
        return FERRY_EINVAL;
    s->text = p + 1;
    s->len = (size_t)(colon - p - 1);
    for (size_t k = 0; k < FY_ARRAY_LEN(kinds); k++) {
        size_t kl = strlen(kinds[k].name);

        if ((size_t)(p + n - 1 - colon - 1) == kl &&
            memcmp(colon + 1, kinds[k].name, kl) == 0) {
            s->kind = kinds[k].kind;
            return 0;
        }
    }
    return FERRY_EINVAL;
}

/* Splits an absolute pattern into segments; counts its parameters. */
static int parse_pattern(const char *pat, struct entry *e, size_t *nparams)
{
    const char *p = pat;

    *nparams = 0;
    e->nsegs = 0;
    if (*p != '/')
        return FERRY_EINVAL;
    while (*p == '/') {
        const char *start = ++p;
        struct seg *s;
        size_t n;

        p += strcspn(p, "/");
        n = (size_t)(p - start);
        if (e->nsegs == MAX_SEGS)
            return FERRY_EINVAL;
        s = &e->segs[e->nsegs++];
        *s = (struct seg){.kind = SEG_LIT, .text = start, .len = n};
        if (n && start[0] == '{') {
            if (parse_param(start, n, s) < 0 ||
                ++*nparams > FY_ROUTE_MAX_PARAMS)
                return FERRY_EINVAL;
        }
    }
    return 0;
}

static bool same_shape(const struct entry *a, const struct entry *b)
{
    if (strcmp(a->method, b->method) != 0 || a->nsegs != b->nsegs)
        return false;
    for (size_t i = 0; i < a->nsegs; i++) {
        const struct seg *x = &a->segs[i], *y = &b->segs[i];

        if ((x->kind == SEG_LIT) != (y->kind == SEG_LIT))
            return false;
        if (x->kind == SEG_LIT &&
            (x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
            return false;
    }
    return true;
}

static int add_entry(struct fy_http_router *r, const struct entry *e)
{
    for (size_t i = 0; i < r->n; i++)
        if (same_shape(&r->e[i], e))
            return FERRY_ECONFLICT;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        struct entry *ne = fy_realloc(r->e, cap * sizeof(*ne));

        if (!ne)
            return FERRY_ENOMEM;
        r->e = ne;
        r->cap = cap;
    }
    r->e[r->n++] = *e;
    return 0;
}

int fy_http_router_new(const struct fy_http_route *routes, size_t n,
                       struct fy_http_router **out, struct ferry_err *err)
{
    struct fy_http_router *r = fy_calloc(1, sizeof(*r));
    int rc = 0;

    *out = NULL;
    if (!r)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct entry e = {.route = &routes[i], .method = routes[i].method};
        size_t np;

        rc = parse_pattern(routes[i].pattern, &e, &np);
        if (rc == 0)
            rc = add_entry(r, &e);
        if (rc < 0)
            rc = fy_err_set(err, rc == FERRY_ENOMEM ? rc : FERRY_EINVAL,
                            "route '%s %s': %s", routes[i].method,
                            routes[i].pattern,
                            rc == FERRY_ENOMEM   ? "out of memory"
                            : rc == FERRY_EINVAL ? "bad pattern"
                                                 : "defined twice");
    }
    if (rc < 0) {
        fy_http_router_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void fy_http_router_free(struct fy_http_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        fy_free(r->e[i].owned_method);
        fy_free(r->e[i].owned_path);
        fy_free(r->e[i].auth_header);
        fy_free(r->e[i].region_header);
        free_fixed(&r->e[i]);
    }
    fy_free(r->e);
    fy_free(r);
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]) || s[i] == '\0')
            return false;
    return true;
}

#define DIGITS "0123456789"
#define LOWER  "abcdefghijklmnopqrstuvwxyz"
#define UPPER  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

static bool fits_kind(enum seg_kind k, const char *v, size_t n)
{
    switch (k) {
    case SEG_NAME:
        return n >= 1 && n <= 63 && !strchr(DIGITS, v[0]) &&
               all_of(v, n, LOWER UPPER DIGITS "_");
    case SEG_SHA256:
        return n == 64 && all_of(v, n, DIGITS "abcdef");
    case SEG_ID:
        return n >= 1 && n <= 64 && all_of(v, n, LOWER UPPER DIGITS "_.-");
    case SEG_TEXT:
        return n >= 1 && n <= 1024 && memchr(v, '\0', n) == NULL;
    default:
        return false;
    }
}

static const char *kind_name(enum seg_kind k)
{
    for (size_t i = 0; i < FY_ARRAY_LEN(kinds); i++)
        if (kinds[i].kind == k)
            return kinds[i].name;
    return "?";
}

/* ---- aliases ------------------------------------------------------------- */

/*
 * Does target name pattern? A parameter may be written with or without
 * its kind: "/v1/tables/{table}/rows" as docs/api.md writes it, or
 * "/v1/tables/{table:name}/rows".
 */
static bool same_pattern(const char *pattern, const char *target)
{
    while (*pattern && *target) {
        if (*pattern == ':' && *target == '}') {
            pattern += strcspn(pattern, "}");
            continue;
        }
        if (*pattern++ != *target++)
            return false;
    }
    return *pattern == *target;
}

static const struct fy_http_route *find_target(const struct fy_http_router *r,
                                               const char *target)
{
    const char *sp = strchr(target, ' ');

    for (size_t i = 0; sp && i < r->n; i++) {
        const struct fy_http_route *rt = r->e[i].route;

        if (r->e[i].owned_path == NULL &&
            strlen(rt->method) == (size_t)(sp - target) &&
            memcmp(rt->method, target, (size_t)(sp - target)) == 0 &&
            same_pattern(rt->pattern, sp + 1))
            return rt;
    }
    return NULL;
}

/* An alias path: absolute, literal, printable, no query or escapes. */
static bool alias_path_ok(const char *path)
{
    if (path[0] != '/' || strlen(path) > MAX_ALIAS_PATH)
        return false;
    for (const char *p = path; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("{}?#%", *p))
            return false;
    return true;
}

static int alias_check(const struct fy_http_router *r, const char *method,
                       const char *path, const char *target,
                       const char *auth_header, const struct fy_http_route **rt,
                       struct ferry_err *err)
{
    *rt = find_target(r, target);
    if (!*rt)
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': unknown route '%s' (a route is"
                          " \"METHOD PATH\" as in docs/api.md)",
                          path, target);
    /* Methods are case-sensitive: "post" would never match a request. */
    if (!method[0] || strlen(method) > 16 ||
        !all_of(method, strlen(method), UPPER))
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': method '%s' is not an HTTP method"
                          " (upper-case letters, such as POST)",
                          path, method);
    if (auth_header && !fy_http_token_valid(auth_header))
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': auth_header '%s' is not an HTTP"
                          " header name",
                          path, auth_header);
    if (!alias_path_ok(path))
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': the path must start with '/' and hold"
                          " only printable ASCII without '{', '}', '?', '#'"
                          " or '%%' (at most %d bytes)",
                          path, MAX_ALIAS_PATH);
    return 0;
}

/* The segment of rt's pattern that is parameter name, or NULL. */
static const struct seg *route_param(const struct entry *pat, const char *name)
{
    for (size_t i = 0; i < pat->nsegs; i++) {
        const struct seg *s = &pat->segs[i];

        if (s->kind != SEG_LIT && s->len == strlen(name) &&
            memcmp(s->text, name, s->len) == 0)
            return s;
    }
    return NULL;
}

/*
 * The fixed values of an alias of a route with parameters: every
 * parameter of the route once, each fitting its kind.
 */
static int take_fixed(struct entry *e, const struct fy_http_route *rt,
                      const struct fy_http_alias_param *params, size_t n,
                      const char *path, struct ferry_err *err)
{
    struct entry pat = {0};
    size_t np = 0;

    if (parse_pattern(rt->pattern, &pat, &np) < 0)
        return fy_err_set(err, FERRY_ECONFIG, "alias '%s': bad route", path);
    if (n != np)
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': route '%s' has %zu path parameter%s;"
                          " the alias gives %zu (\"params\")",
                          path, rt->pattern, np, np == 1 ? "" : "s", n);
    for (size_t i = 0; i < n; i++) {
        const struct seg *sg = route_param(&pat, params[i].name);

        if (!sg)
            return fy_err_set(err, FERRY_ECONFIG,
                              "alias '%s': route '%s' has no parameter '%s'",
                              path, rt->pattern, params[i].name);
        if (!fits_kind(sg->kind, params[i].value, strlen(params[i].value)))
            return fy_err_set(err, FERRY_ECONFIG,
                              "alias '%s': parameter '%s' must be %s %s", path,
                              params[i].name, sg->kind == SEG_ID ? "an" : "a",
                              kind_name(sg->kind));
        for (size_t k = 0; k < i; k++)
            if (strcmp(params[k].name, params[i].name) == 0)
                return fy_err_set(err, FERRY_ECONFIG,
                                  "alias '%s': parameter '%s' given twice",
                                  path, params[i].name);
        e->fixed_text[2 * i] = fy_strdup(params[i].name);
        e->fixed_text[2 * i + 1] = fy_strdup(params[i].value);
        e->nfixed = i + 1;
        if (!e->fixed_text[2 * i] || !e->fixed_text[2 * i + 1])
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        e->fixed[i].name = e->fixed_text[2 * i];
        e->fixed[i].value = e->fixed_text[2 * i + 1];
        e->fixed[i].name_len = strlen(params[i].name);
        e->fixed[i].len = strlen(params[i].value);
    }
    return 0;
}

int fy_http_router_alias(struct fy_http_router *r, const char *method,
                         const char *path, const char *target,
                         const char *auth_header, struct ferry_err *err)
{
    return fy_http_router_alias_with(r, method, path, target, auth_header, NULL,
                                     0, err);
}

int fy_http_router_alias_with(struct fy_http_router *r, const char *method,
                              const char *path, const char *target,
                              const char *auth_header,
                              const struct fy_http_alias_param *params,
                              size_t nparams, struct ferry_err *err)
{
    const struct fy_http_route *rt;
    struct entry e = {0};
    size_t np;
    int rc = alias_check(r, method, path, target, auth_header, &rt, err);

    if (rc == 0)
        rc = take_fixed(&e, rt, params, nparams, path, err);
    if (rc < 0) {
        free_fixed(&e);
        return rc;
    }
    e.route = rt;
    e.owned_method = fy_strdup(method);
    e.owned_path = fy_strdup(path);
    e.auth_header = auth_header ? fy_strdup(auth_header) : NULL;
    e.method = e.owned_method;
    if (!e.owned_method || !e.owned_path || (auth_header && !e.auth_header))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else if (parse_pattern(e.owned_path, &e, &np) < 0)
        rc = fy_err_set(err, FERRY_ECONFIG, "alias '%s': too many segments",
                        path);
    else if ((rc = add_entry(r, &e)) < 0)
        rc = fy_err_set(err, rc == FERRY_ENOMEM ? rc : FERRY_ECONFIG,
                        "alias '%s %s': %s", method, path,
                        rc == FERRY_ENOMEM ? "out of memory"
                                           : "this method and path are"
                                             " served already");
    if (rc < 0) {
        fy_free(e.owned_method);
        fy_free(e.owned_path);
        fy_free(e.auth_header);
        free_fixed(&e);
    }
    return rc;
}

int fy_http_router_alias_region(struct fy_http_router *r, const char *method,
                                const char *path, const char *region_header,
                                struct ferry_err *err)
{
    struct entry *e = NULL;

    for (size_t i = 0; i < r->n; i++) {
        if (r->e[i].owned_path && strcmp(r->e[i].owned_path, path) == 0 &&
            strcmp(r->e[i].method, method) == 0)
            e = &r->e[i];
    }
    if (!e)
        return fy_err_set(err, FERRY_ECONFIG, "alias '%s %s': no such alias",
                          method, path);
    if (!fy_http_token_valid(region_header))
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': region_header '%s' is not an HTTP"
                          " header name",
                          path, region_header);
    if (e->route->auth == FY_AUTH_NONE)
        return fy_err_set(err, FERRY_ECONFIG,
                          "alias '%s': region_header needs a route with a key"
                          " (its region is what the header must name)",
                          path);
    fy_free(e->region_header);
    e->region_header = fy_strdup(region_header);
    return e->region_header ? 0
                            : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* ---- matching ------------------------------------------------------------ */

/* Percent-decodes n bytes of p into out; -1 for a broken escape. */
static long pct_decode(const char *p, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        if (i + 2 >= n)
            return -1;
        if (fy_hexval(p[i + 1]) < 0 || fy_hexval(p[i + 2]) < 0)
            return -1;
        out[o++] = (char)(fy_hexval(p[i + 1]) * 16 + fy_hexval(p[i + 2]));
        i += 2;
    }
    out[o] = '\0';
    return (long)o;
}

/*
 * Does the raw path have e's shape? Literal segments compare decoded (as
 * libmicrohttpd compared them before routing moved here), parameters
 * decode into buf. Returns 1 on a match, 0 on none, -1 for a bad escape
 * or a parameter that does not fit its kind (*bad names it).
 */
static int match_entry(const struct entry *e, const char *path, char *buf,
                       struct fy_http_match *m, const struct seg **bad)
{
    const char *p = path;
    size_t i = 0;

    m->nparams = 0;
    for (; i < e->nsegs && *p == '/'; i++) {
        const char *start = ++p;
        size_t n = strcspn(p, "/");
        long dl = pct_decode(start, n, buf);

        p += n;
        if (dl < 0)
            return -1;
        if (e->segs[i].kind == SEG_LIT) {
            if ((size_t)dl != e->segs[i].len ||
                memcmp(buf, e->segs[i].text, (size_t)dl) != 0)
                return 0;
            continue;
        }
        m->params[m->nparams++] =
            (struct fy_http_param){.name = e->segs[i].text,
                                   .name_len = e->segs[i].len,
                                   .value = buf,
                                   .len = (size_t)dl};
        if (!fits_kind(e->segs[i].kind, buf, (size_t)dl)) {
            if (!*bad)
                *bad = &e->segs[i];
            return -2;
        }
        buf += dl + 1;
    }
    return i == e->nsegs && *p == '\0' ? 1 : 0;
}

static void add_allow(char *allow, size_t len, const char *method)
{
    size_t used = strlen(allow);

    if (strstr(allow, method))
        return;
    snprintf(allow + used, len - used, "%s%s", used ? ", " : "", method);
}

int fy_http_router_match(const struct fy_http_router *r, const char *method,
                         const char *raw_path, struct fy_http_match *m,
                         char *allow, size_t allow_len, struct ferry_err *err)
{
    const struct seg *bad = NULL;
    char *buf = fy_malloc(strlen(raw_path) + 1);
    bool path_known = false;

    memset(m, 0, sizeof(*m));
    if (allow_len)
        allow[0] = '\0';
    if (!buf)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        int hit = match_entry(&r->e[i], raw_path, buf, m, &bad);

        if (hit == -1) {
            fy_free(buf);
            return fy_err_set(err, FERRY_EPARSE,
                              "the path has a broken %%-escape");
        }
        /* A bad value may still be another route's literal: go on. */
        if (hit <= 0)
            continue;
        path_known = true;
        if (strcmp(method, r->e[i].method) == 0) {
            /* An alias's path is literal: its parameters are fixed. */
            for (size_t k = 0; k < r->e[i].nfixed; k++)
                m->params[m->nparams++] = r->e[i].fixed[k];
            m->route = r->e[i].route;
            m->auth_header = r->e[i].auth_header;
            m->region_header = r->e[i].region_header;
            m->store = buf;
            return 0;
        }
        add_allow(allow, allow_len, r->e[i].method);
    }
    fy_free(buf);
    m->nparams = 0;
    if (!path_known && bad)
        return fy_err_set(err, FERRY_EPARSE,
                          "path parameter '%.*s' must be %s %s", (int)bad->len,
                          bad->text, bad->kind == SEG_ID ? "an" : "a",
                          kind_name(bad->kind));
    if (path_known)
        return fy_err_set(err, FERRY_EMETHOD,
                          "this method is not allowed here");
    return fy_err_set(err, FERRY_ENOTFOUND, "no such endpoint");
}

void fy_http_match_release(struct fy_http_match *m)
{
    if (!m)
        return;
    fy_free(m->store);
    memset(m, 0, sizeof(*m));
}

const char *fy_http_match_param(const struct fy_http_match *m, const char *name,
                                size_t *len)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i].name_len == nl &&
            memcmp(m->params[i].name, name, nl) == 0) {
            if (len)
                *len = m->params[i].len;
            return m->params[i].value;
        }
    }
    return NULL;
}
