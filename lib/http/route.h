/* SPDX-License-Identifier: MIT */
/*
 * ferryd's route table: method + path pattern with typed parameters
 * (`/v1/tables/{table:name}/rows/{key:text}`), and for each route the
 * authentication it needs and how its body is taken. The server
 * (http/server.c) matches every request here on its headers alone and
 * applies both policies before the handler runs and before any body byte is
 * held. Aliases from ferryd's settings add an extra method and path (and
 * its own key header, and fixed values for the route's path parameters)
 * for an existing route, for old clients' URLs.
 */
#ifndef FY_HTTP_ROUTE_H
#define FY_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/ferry_err.h"

struct fy_http_req;
struct fy_http_resp;

/* Who may call a route; checked by the server's auth hook. */
enum fy_http_auth {
    FY_AUTH_NONE = 0, /* anyone */
    FY_AUTH_DEVICE,   /* any valid API key */
    FY_AUTH_ADMIN,    /* a valid API key with the admin flag (else 403) */
    FY_AUTH_SESSION   /* a dashboard session cookie */
};

/* What happens to a route's request body. */
enum fy_http_body {
    FY_BODY_DISCARD = 0, /* read and dropped, never held */
    FY_BODY_MEMORY,      /* held in req->body (gzip decoded), from the
                            in-flight budget */
    FY_BODY_FILE /* streamed to an unlinked temporary file (req->body_fd)
                    with its SHA-256; gzip is refused (415) */
};

struct fy_http_body_policy {
    enum fy_http_body mode;
    size_t max; /* bytes; 0: the server's max_body */
    /* Accepted Content-Types (media type only, parameters allowed after
       ';'), NULL-terminated; NULL accepts any, even none. */
    const char *const *types;
};

/* Route flags. */
#define FY_ROUTE_RANGE                                                         \
    1u /* the answer honours Range, If-None-Match,                             \
          If-Range (status 200 answers only) */
#define FY_ROUTE_STREAM                                                        \
    2u /* the body is handed to the handler's stream hooks as it arrives       \
          (http/server.h) */

typedef void fy_http_handler(struct fy_http_req *req, struct fy_http_resp *resp,
                             void *ud);

/*
 * One route. pattern is a path whose segments are literals or parameters
 * `{name:kind}`; kinds:
 * - name:   a table or column name, [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes
 * - sha256: 64 lower-case hex digits
 * - id:     1 to 64 bytes of [A-Za-z0-9_.-]
 * - text:   any 1 to 1024 bytes except NUL (e.g. a row key)
 * Parameters are percent-decoded and then validated; a value that does not
 * fit its kind is answered 400 bad_parameter. Borrowed: a route table
 * outlives the router built on it.
 */
struct fy_http_route {
    const char *method;
    const char *pattern;
    enum fy_http_auth auth;
    struct fy_http_body_policy body;
    unsigned flags;
    fy_http_handler *fn;
};

#define FY_ROUTE_MAX_PARAMS 4

struct fy_http_param {
    const char *name; /* in the pattern, not NUL-terminated */
    size_t name_len;
    const char *value; /* decoded, NUL-terminated */
    size_t len;
};

/* A request matched to a route: its parameters and how it authenticates. */
struct fy_http_match {
    const struct fy_http_route *route;
    const char *auth_header; /* NULL: X-Api-Key or Authorization: Bearer */
    /*
     * Non-NULL: the request must carry this header, naming the key's
     * region (an old client's region header; checked by the auth hook).
     */
    const char *region_header;
    struct fy_http_param params[FY_ROUTE_MAX_PARAMS];
    size_t nparams;
    char *store; /* the decoded values; fy_http_match_release() */
};

struct fy_http_router;

/*
 * Builds a router over n routes (borrowed). FERRY_EINVAL for a bad pattern
 * (unknown kind, more than FY_ROUTE_MAX_PARAMS parameters, a duplicate
 * method and pattern); *out returned owned (fy_http_router_free).
 */
int fy_http_router_new(const struct fy_http_route *routes, size_t n,
                       struct fy_http_router **out, struct ferry_err *err);
void fy_http_router_free(struct fy_http_router *r);

/*
 * Adds an alias: method and a literal path (copied) that serve the route
 * target ("METHOD PATTERN" of a route, e.g. "POST /v1/push"), reading the
 * key from auth_header (copied; NULL: the route's usual headers). An
 * alias of a route with parameters needs fy_http_router_alias_with.
 * FERRY_ECONFIG with a
 * message naming what is wrong: unknown target, a method or header name
 * that is not an HTTP token, a path that is not an absolute literal path
 * or is served already.
 */
int fy_http_router_alias(struct fy_http_router *r, const char *method,
                         const char *path, const char *target,
                         const char *auth_header, struct ferry_err *err);

/* A fixed path parameter of an alias (both strings copied). */
struct fy_http_alias_param {
    const char *name;
    const char *value;
};

/*
 * As fy_http_router_alias, for a target with path parameters: params gives
 * each of them a fixed value (every parameter once, each fitting its
 * kind; FERRY_ECONFIG naming what is wrong), so an old client's fixed URL
 * serves e.g. `POST /v1/tables/{table:name}/rows` for one table.
 */
int fy_http_router_alias_with(struct fy_http_router *r, const char *method,
                              const char *path, const char *target,
                              const char *auth_header,
                              const struct fy_http_alias_param *params,
                              size_t nparams, struct ferry_err *err);

/*
 * Makes the alias method + path (added before) require region_header, a
 * header that must name the key's region: an old client that sends its
 * region beside its key (docs/api.md, "Route aliases"). FERRY_ECONFIG for
 * an unknown alias, a name that is not an HTTP token, or a route without
 * a key.
 */
int fy_http_router_alias_region(struct fy_http_router *r, const char *method,
                                const char *path, const char *region_header,
                                struct ferry_err *err);

/*
 * Matches method and the raw (still percent-encoded) path. 0 with *m
 * filled (release it); FERRY_ENOTFOUND; FERRY_EMETHOD with the path's
 * methods in allow ("GET, POST"); FERRY_EPARSE for a parameter that does
 * not fit its kind (err says which); FERRY_ENOMEM.
 */
int fy_http_router_match(const struct fy_http_router *r, const char *method,
                         const char *raw_path, struct fy_http_match *m,
                         char *allow, size_t allow_len, struct ferry_err *err);
void fy_http_match_release(struct fy_http_match *m);

/* The decoded value of parameter name, or NULL; *len may be NULL. */
const char *fy_http_match_param(const struct fy_http_match *m, const char *name,
                                size_t *len);

#endif
