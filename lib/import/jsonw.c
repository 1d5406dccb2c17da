/* SPDX-License-Identifier: MIT */
/*
 * The streaming JSON writer of `ferry export json` (jsonw.h). Layout rules
 * are Python's json.dump with indent: "{" then each member on its own line
 * indented one level deeper, "key": value, "," at the end of all but the
 * last, "}" on its own line at the opening's level; an empty container is
 * "{}" or "[]".
 */
#include "import/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json/row.h"
#include "fy.h"

void fy_jsonw_init(struct fy_jsonw *w, FILE *f, int indent)
{
    memset(w, 0, sizeof(*w));
    fy_buf_init(&w->scratch, 0);
    w->f = f;
    w->indent = indent;
}

void fy_jsonw_release(struct fy_jsonw *w)
{
    fy_free(w->filled);
    fy_buf_release(&w->scratch);
    w->filled = NULL;
    w->cap = 0;
}

static void put(struct fy_jsonw *w, const char *s, size_t n)
{
    if (w->err == 0 && n > 0 && fwrite(s, 1, n, w->f) != n)
        w->err = FERRY_EIO;
}

static void newline(struct fy_jsonw *w, size_t depth)
{
    static const char spaces[] = "                                ";
    size_t n = depth * (size_t)w->indent;

    if (w->indent == 0)
        return;
    put(w, "\n", 1);
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

        put(w, spaces, k);
        n -= k;
    }
}

/* Before any value or key: the separator and the line break it needs. */
static void before(struct fy_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->filled[w->depth - 1])
        put(w, ",", 1);
    w->filled[w->depth - 1] = 1;
    newline(w, w->depth);
}

void fy_jsonw_begin(struct fy_jsonw *w, bool object)
{
    if (w->err)
        return;
    before(w);
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        uint8_t *p = fy_realloc(w->filled, cap);

        if (!p) {
            w->err = FERRY_ENOMEM;
            return;
        }
        w->filled = p;
        w->cap = cap;
    }
    w->filled[w->depth++] = 0;
    put(w, object ? "{" : "[", 1);
}

void fy_jsonw_end_container(struct fy_jsonw *w, bool object)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        w->err = FERRY_EINVAL;
        return;
    }
    w->depth--;
    if (w->filled[w->depth])
        newline(w, w->depth);
    put(w, object ? "}" : "]", 1);
}

/*
 * The agent's own string encoder (lib/json/row.c): the same escapes and
 * UTF-8 check as every row a push sends.
 */
static void quoted(struct fy_jsonw *w, const char *s, size_t len)
{
    int rc;

    fy_buf_reset(&w->scratch);
    rc = fy_json_add_str(&w->scratch, s, len);
    if (rc == FERRY_EPARSE)
        w->err = FERRY_EINVAL;
    else if (rc < 0 || fy_buf_error(&w->scratch))
        w->err = FERRY_ENOMEM;
    else
        put(w, w->scratch.data, w->scratch.len);
}

void fy_jsonw_key(struct fy_jsonw *w, const char *s, size_t len)
{
    if (w->err)
        return;
    before(w);
    quoted(w, s, len);
    put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
    w->after_key = true;
}

void fy_jsonw_string(struct fy_jsonw *w, const char *s, size_t len)
{
    if (w->err)
        return;
    before(w);
    quoted(w, s, len);
}

void fy_jsonw_int(struct fy_jsonw *w, int64_t v)
{
    char s[24];

    if (w->err)
        return;
    before(w);
    put(w, s, (size_t)snprintf(s, sizeof(s), "%lld", (long long)v));
}

/*
 * The shortest text that reads back as the same double, with ".0" on
 * whole numbers so that a double stays a double (Python's repr).
 */
void fy_jsonw_double(struct fy_jsonw *w, double v)
{
    char s[40];
    int n = 0;

    if (w->err)
        return;
    if (!isfinite(v)) {
        w->err = FERRY_EINVAL;
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(s, sizeof(s) - 2, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    if (!strpbrk(s, ".e")) {
        s[n++] = '.';
        s[n++] = '0';
        s[n] = '\0';
    }
    before(w);
    put(w, s, (size_t)n);
}

void fy_jsonw_number(struct fy_jsonw *w, const char *s, size_t len)
{
    if (w->err)
        return;
    if (!fy_json_number_valid(s, len)) {
        w->err = FERRY_EINVAL;
        return;
    }
    before(w);
    put(w, s, len);
}

void fy_jsonw_bool(struct fy_jsonw *w, bool v)
{
    if (w->err)
        return;
    before(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void fy_jsonw_null(struct fy_jsonw *w)
{
    if (w->err)
        return;
    before(w);
    put(w, "null", 4);
}

int fy_jsonw_end(struct fy_jsonw *w)
{
    put(w, "\n", 1);
    if (w->err == 0 && fflush(w->f) != 0)
        w->err = FERRY_EIO;
    return w->err;
}

/* ---- JSON text through the writer --------------------------------------- */

struct relay {
    struct fy_jsonw *w;
    bool merge;
    size_t depth; /* containers open in the text */
    bool (*skip)(const char *member, size_t len, const void *ud);
    const void *ud;
    size_t skipping; /* >0: inside a skipped member's value, levels + 1 */
    bool not_object;
};

/*
 * A token of a skipped member's value: returns true when it was one (the
 * skip ends with the token that completes the value).
 */
static bool skipped(struct relay *r, int open)
{
    if (r->skipping == 0)
        return false;
    if (open > 0)
        r->skipping++;
    else if (open < 0)
        r->skipping--;
    if (r->skipping == 1)
        r->skipping = 0;
    return true;
}

/* The merged object's own braces are not written. */
static bool outer(struct relay *r)
{
    return r->merge && r->depth == 0;
}

static int on_scalar(struct relay *r)
{
    if (skipped(r, 0))
        return 0;
    if (outer(r)) {
        r->not_object = true;
        return 0;
    }
    return 1;
}

static int rl_null(void *ctx)
{
    struct relay *r = ctx;
    int go = on_scalar(r);

    if (go)
        fy_jsonw_null(r->w);
    return r->w->err == 0 && !r->not_object;
}

static int rl_bool(void *ctx, int v)
{
    struct relay *r = ctx;
    int go = on_scalar(r);

    if (go)
        fy_jsonw_bool(r->w, v != 0);
    return r->w->err == 0 && !r->not_object;
}

static int rl_number(void *ctx, const char *s, size_t len)
{
    struct relay *r = ctx;
    int go = on_scalar(r);

    if (go)
        fy_jsonw_number(r->w, s, len);
    return r->w->err == 0 && !r->not_object;
}

static int rl_string(void *ctx, const unsigned char *s, size_t len)
{
    struct relay *r = ctx;
    int go = on_scalar(r);

    if (go)
        fy_jsonw_string(r->w, (const char *)s, len);
    return r->w->err == 0 && !r->not_object;
}

static int rl_open(struct relay *r, bool object)
{
    if (skipped(r, 1))
        return 1;
    if (outer(r) && !object) {
        r->not_object = true;
        return 0;
    }
    if (!outer(r))
        fy_jsonw_begin(r->w, object);
    r->depth++;
    return r->w->err == 0;
}

static int rl_close(struct relay *r, bool object)
{
    if (skipped(r, -1))
        return 1;
    r->depth--;
    if (!outer(r))
        fy_jsonw_end_container(r->w, object);
    return r->w->err == 0;
}

static int rl_start_map(void *ctx)
{
    return rl_open(ctx, true);
}

static int rl_end_map(void *ctx)
{
    return rl_close(ctx, true);
}

static int rl_start_array(void *ctx)
{
    return rl_open(ctx, false);
}

static int rl_end_array(void *ctx)
{
    return rl_close(ctx, false);
}

static int rl_key(void *ctx, const unsigned char *s, size_t len)
{
    struct relay *r = ctx;

    if (r->skipping)
        return 1;
    if (r->merge && r->depth == 1 && r->skip &&
        r->skip((const char *)s, len, r->ud)) {
        r->skipping = 1;
        return 1;
    }
    fy_jsonw_key(r->w, (const char *)s, len);
    return r->w->err == 0;
}

static const yajl_callbacks relay_callbacks = {
    .yajl_null = rl_null,
    .yajl_boolean = rl_bool,
    .yajl_number = rl_number,
    .yajl_string = rl_string,
    .yajl_start_map = rl_start_map,
    .yajl_map_key = rl_key,
    .yajl_end_map = rl_end_map,
    .yajl_start_array = rl_start_array,
    .yajl_end_array = rl_end_array,
};

/*
 * yajl allocates with its own (libc) allocator: it does not survive a
 * failing malloc, so fault injection stays out of it.
 */
int fy_jsonw_text(struct fy_jsonw *w, const char *s, size_t len, bool merge,
                  bool (*skip)(const char *member, size_t len, const void *ud),
                  const void *ud)
{
    struct relay r = {.w = w, .merge = merge, .skip = skip, .ud = ud};
    yajl_handle h;
    yajl_status st;

    if (w->err)
        return w->err;
    h = yajl_alloc(&relay_callbacks, NULL, &r);
    if (!h)
        return FERRY_ENOMEM;
    st = yajl_parse(h, (const unsigned char *)s, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    if (w->err)
        return w->err;
    if (st != yajl_status_ok || r.not_object)
        return FERRY_EINVAL;
    return 0;
}

/* ---- checks ----------------------------------------------------------- */

static size_t digits(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

bool fy_json_number_valid(const char *s, size_t len)
{
    size_t i = 0, j;

    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0')
        i++;
    else if ((j = digits(s, i, len)) > i)
        i = j;
    else
        return false;
    if (i < len && s[i] == '.') {
        j = digits(s, i + 1, len);
        if (j == i + 1)
            return false;
        i = j;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        j = digits(s, i, len);
        if (j == i)
            return false;
        i = j;
    }
    return i == len;
}
