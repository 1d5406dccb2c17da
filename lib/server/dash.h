/* SPDX-License-Identifier: MIT */
/*
 * The admin dashboard at /dashboard (docs/operations.md#dashboard): a
 * log-in form that takes an admin key and sets a session cookie, and
 * server-rendered pages (overview, devices, streams, keys, charts) without
 * any script. Sessions live in the store (store/dash.c), so that every
 * ferryd of one store honours them; the cookie holds a random token whose
 * SHA-256 is the session's row.
 */
#ifndef FY_SERVER_DASH_H
#define FY_SERVER_DASH_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"
#include "store/store.h"

#define FY_DASH_COOKIE "ferry_session"

/* The defaults of the session time-outs (settings dashboard_idle_timeout,
   dashboard_session_max). */
#define FY_DASH_IDLE_S (30L * 60)
#define FY_DASH_MAX_S  (12L * 3600)

/* How long a refused log-in waits before it is answered, one at a time. */
#define FY_DASH_LOGIN_DELAY_MS 1000

extern const struct fy_http_route fy_dash_routes[];
extern const size_t fy_dash_nroutes;

/*
 * The auth hook's check of FY_AUTH_SESSION routes: 0 with *key (release
 * it) and csrf (the session's token for forms) filled; else it answers
 * (303 to the log-in form, 503 when the store cannot say) and returns
 * < 0. ud is the struct fy_api.
 */
int fy_dash_auth(struct fy_http_req *req, struct fy_http_resp *resp, void *ud,
                 struct fy_key *key, char csrf[65]);

/* ---- for tests ---------------------------------------------------------- */

#define FY_DASH_FORM_MAX   8    /* fields of a form */
#define FY_DASH_FIELD_MAX  1024 /* bytes of a field's decoded value */
#define FY_DASH_FORM_BYTES 8192 /* bytes of a form body */

struct fy_dash_field {
    char name[32];
    char *value; /* decoded, NUL-terminated; in the form's own memory */
};

struct fy_dash_form {
    struct fy_dash_field f[FY_DASH_FORM_MAX];
    size_t n;
    char *mem; /* fy_dash_form_release */
};

/*
 * Parses an application/x-www-form-urlencoded body strictly: name=value
 * pairs joined by '&', '+' for a space, %XX with two hex digits; names of
 * [A-Za-z0-9_] only, each at most once; values without control characters
 * after decoding. FERRY_EPARSE with err naming what is wrong, FERRY_ETOOBIG
 * past the bounds above; *form is empty then.
 */
int fy_dash_form_parse(const char *body, size_t len, struct fy_dash_form *form,
                       struct ferry_err *err);
/* The value of field name, or NULL. */
const char *fy_dash_form_get(const struct fy_dash_form *form, const char *name);
void fy_dash_form_release(struct fy_dash_form *form);

/* Appends s with & < > " ' escaped for HTML text and attributes. */
void fy_dash_html(struct fy_buf *b, const char *s);

/*
 * Whether a POST's Origin (else Referer) names this server (the Host
 * header) or is absent: false for another site, "null", or a malformed
 * value.
 */
bool fy_dash_same_origin(const char *origin, const char *referer,
                         const char *host);

#endif
