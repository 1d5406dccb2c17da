/* SPDX-License-Identifier: MIT */
/*
 * multipart/form-data, strictly; see multipart.h. Written here rather than
 * with libmicrohttpd's MHD_PostProcessor: that one works on the body as it
 * arrives, inside the server's body loop, and hands each field to a
 * callback in pieces; ferryd's body policies already stream a snapshot to
 * a file with its size bounded, so one pass over the file afterwards is
 * simpler, and it can refuse a body without a closing delimiter (a
 * truncated upload) instead of seeing only the pieces that came.
 */
#include "http/multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fy.h"

/* Part headers larger than this are not a form field's. */
#define MAX_PART_HEADERS 8192

static int bad(struct ferry_err *err, const char *why)
{
    return fy_err_set(err, FERRY_EPARSE, "multipart body: %s", why);
}

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    const char *end = hay + n;

    if (m == 0 || n < m)
        return NULL;
    for (const char *p = hay; (size_t)(end - p) >= m;) {
        p = memchr(p, needle[0], (size_t)(end - p) - m + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
        p++;
    }
    return NULL;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* RFC 2046 bchars; the last may not be a space. */
static bool boundary_ok(const char *b, size_t n)
{
    static const char extra[] = "'()+_,-./:=? ";

    if (n < 1 || n > FY_MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z');

        if (!alnum && (c == '\0' || !strchr(extra, c)))
            return false;
    }
    return true;
}

/*
 * The next ";name=value" parameter of a header value: name and value
 * ranges (a quoted value without its quotes; no escapes in it). Returns
 * the position after it, or NULL at the end or when malformed (*bad set).
 */
struct param {
    const char *name, *val;
    size_t nlen, vlen;
};

static const char *next_param(const char *p, const char *end, struct param *pm,
                              bool *malformed)
{
    const char *eq;

    p = skip_ws(p, end);
    if (p == end)
        return NULL;
    if (*p++ != ';' || (p = skip_ws(p, end)) == end) {
        *malformed = true;
        return NULL;
    }
    eq = memchr(p, '=', (size_t)(end - p));
    if (!eq || eq == p) {
        *malformed = true;
        return NULL;
    }
    pm->name = p;
    pm->nlen = (size_t)(eq - p);
    while (pm->nlen && (p[pm->nlen - 1] == ' ' || p[pm->nlen - 1] == '\t'))
        pm->nlen--;
    p = skip_ws(eq + 1, end);
    if (p < end && *p == '"') {
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));

        if (!q || memchr(p + 1, '\\', (size_t)(q - p - 1))) {
            *malformed = true;
            return NULL;
        }
        pm->val = p + 1;
        pm->vlen = (size_t)(q - p - 1);
        return q + 1;
    }
    pm->val = p;
    while (p < end && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    pm->vlen = (size_t)(p - pm->val);
    return p;
}

static bool is(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

int fy_multipart_boundary(const char *content_type,
                          char out[FY_MULTIPART_BOUNDARY_MAX + 1],
                          struct ferry_err *err)
{
    static const char type[] = "multipart/form-data";
    const char *p = content_type ? content_type : "";
    const char *end = p + strlen(p);
    bool malformed = false, found = false;
    struct param pm;

    p = skip_ws(p, end);
    if ((size_t)(end - p) < sizeof(type) - 1 ||
        strncasecmp(p, type, sizeof(type) - 1) != 0)
        return bad(err, "Content-Type is not multipart/form-data");
    p += sizeof(type) - 1;
    while ((p = next_param(p, end, &pm, &malformed)) != NULL) {
        if (!is(pm.name, pm.nlen, "boundary"))
            continue;
        if (found || !boundary_ok(pm.val, pm.vlen))
            return bad(err, "the boundary parameter is invalid or repeated");
        memcpy(out, pm.val, pm.vlen);
        out[pm.vlen] = '\0';
        found = true;
    }
    if (malformed)
        return bad(err, "Content-Type has a malformed parameter");
    return found ? 0 : bad(err, "Content-Type has no boundary parameter");
}

/*
 * The name of a part from its header block [h, end), and whether it
 * carries a file (a filename parameter).
 */
static int part_name(const char *h, const char *end, struct param *name,
                     bool *file, struct ferry_err *err)
{
    bool seen = false;

    while (h < end) {
        const char *eol = find(h, (size_t)(end - h), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(h, ':', (size_t)(line_end - h));
        const char *p;
        bool malformed = false, form = false;
        struct param pm;

        if (!colon)
            return bad(err, "a part header line has no ':'");
        if (!is(h, (size_t)(colon - h), "Content-Disposition")) {
            h = eol ? eol + 2 : end;
            continue;
        }
        if (seen)
            return bad(err, "a part has two Content-Disposition headers");
        seen = true;
        p = skip_ws(colon + 1, line_end);
        form =
            (size_t)(line_end - p) >= 9 && strncasecmp(p, "form-data", 9) == 0;
        p += form ? 9 : 0;
        name->name = NULL;
        while (form && (p = next_param(p, line_end, &pm, &malformed)) != NULL)
            if (is(pm.name, pm.nlen, "name"))
                *name = pm;
            else if (is(pm.name, pm.nlen, "filename"))
                *file = true;
        if (!form || malformed || !name->name)
            return bad(err, "a part's Content-Disposition is not form-data"
                            " with a name");
        h = eol ? eol + 2 : end;
    }
    return seen ? 0 : bad(err, "a part has no Content-Disposition header");
}

int fy_multipart_find(const char *body, size_t len, const char *boundary,
                      const char *field, size_t *off, size_t *n,
                      struct ferry_err *err)
{
    char delim[FY_MULTIPART_BOUNDARY_MAX + 5] = "\r\n--";
    size_t dl = strlen(boundary) + 4;
    const char *end = body + len, *p;
    bool found = false;

    if (!boundary_ok(boundary, strlen(boundary)))
        return bad(err, "invalid boundary");
    memcpy(delim + 4, boundary, dl - 4);
    /* The first delimiter opens the body (no preamble: nobody sends one). */
    if (len < dl - 2 || memcmp(body, delim + 2, dl - 2) != 0)
        return bad(err, "the body does not start with the boundary");
    p = body + dl - 2;
    for (;;) {
        const char *hdr_end, *next;
        struct param name = {0};
        bool file = false;
        int rc;

        if ((size_t)(end - p) >= 2 && memcmp(p, "--", 2) == 0)
            break; /* the closing delimiter; an epilogue is ignored */
        if ((size_t)(end - p) < 2 || memcmp(p, "\r\n", 2) != 0)
            return bad(err, "a boundary line is not followed by CRLF");
        p += 2;
        hdr_end = find(p,
                       (size_t)(end - p) < MAX_PART_HEADERS ? (size_t)(end - p)
                                                            : MAX_PART_HEADERS,
                       "\r\n\r\n", 4);
        if (!hdr_end)
            return bad(err, "a part's headers do not end (or pass 8 KiB)");
        rc = part_name(p, hdr_end + 2, &name, &file, err);
        if (rc < 0)
            return rc;
        p = hdr_end + 4;
        next = find(p, (size_t)(end - p), delim, dl);
        if (!next)
            return bad(err, "the body ends before the closing boundary"
                            " (truncated?)");
        /* Field names are case-sensitive (they are the form's keys). */
        if (field ? name.vlen == strlen(field) &&
                        memcmp(name.val, field, name.vlen) == 0
                  : file) {
            if (found)
                return fy_err_set(err, FERRY_EPARSE,
                                  "multipart body: %s%s%s appears twice",
                                  field ? "field '" : "a file",
                                  field ? field : "", field ? "'" : "");
            found = true;
            *off = (size_t)(p - body);
            *n = (size_t)(next - p);
        }
        p = next + dl;
    }
    if (!found && !field)
        return fy_err_set(err, FERRY_EPARSE,
                          "multipart body: no file (a part with a filename)");
    if (!found)
        return fy_err_set(err, FERRY_EPARSE, "multipart body: no field '%s'",
                          field);
    return 0;
}
