/* SPDX-License-Identifier: MIT */
/*
 * The push body's streaming parser; see push_parse.h. yajl's events drive
 * a stack of frames, one per open container, each with the role its value
 * plays (the root, the changes array, a change, its row, a jsonb tree, or
 * something skipped). Member names are checked for duplicates in every
 * object, skipped ones included, as jansson did.
 */
#include "server/push_parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/hlc.h"
#include "server/push.h"
#include "util/hash.h"
#include "util/utf8.h"
#include "fy.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

enum role { R_ROOT, R_CHANGES, R_CHANGE, R_ROW, R_TREE, R_SKIP };

/* What the next value is for, from the open container and member name. */
enum use {
    U_DOC,
    U_CHANGES,
    U_DEVICE,
    U_CHANGE,
    U_HEAD, /* seq, op, hlc or table of a change */
    U_ROW,
    U_FIELD,
    U_TREE,
    U_IGNORE
};

struct frame {
    enum role role;
    bool map;
    size_t names;  /* index of the object's first member name in p->names */
    uint64_t mask; /* one bit per name hash: a clear bit is a new name */
    json_t *tree;  /* R_TREE: the container (borrowed from its owner) */
};

struct name {
    const char *s;
    size_t len;
    uint64_t hash;
};

/* The change being read: its members other than the row's. */
struct head {
    struct fy_jval seq, op, hlc, table;
    bool row_object;
};

struct parser {
    const char *body;
    size_t len;
    struct fy_validate *v;
    struct fy_push_doc *doc;
    yajl_handle h;
    int rc; /* why a callback stopped yajl (0: yajl's own error) */
    char msg[160];

    struct frame *frames;
    size_t depth, fcap;
    struct name *names; /* member names of the open objects */
    size_t nnames, ncap;
    const char *key; /* the member the next value belongs to */
    size_t keylen;

    size_t end; /* offset after the document's closing bracket */
    bool root_object, changes_ok, device_bad;
    size_t nchanges; /* elements of "changes", also past the limit */
    int64_t prev;    /* highest seq so far */
    const struct fy_table *last; /* the previous change's table */

    struct head head;
    struct fy_jfield *fields; /* the row of the change being read */
    size_t nfields, fieldcap;
};

/* ---- failures ---------------------------------------------------------- */

static int stop(struct parser *p, int rc, const char *msg)
{
    p->rc = rc;
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
    return 0; /* tells yajl to stop */
}

static int oom(struct parser *p)
{
    return stop(p, FERRY_ENOMEM, "out of memory");
}

/* Line and column (from 1, in bytes) of offset at in the body. */
static void line_col(const char *body, size_t at, int *line, int *col)
{
    const char *nl = NULL;

    *line = 1;
    for (const char *s = body; (s = memchr(s, '\n', at - (size_t)(s - body)));
         s++) {
        (*line)++;
        nl = s;
    }
    *col = (int)(at - (nl ? (size_t)(nl - body) + 1 : 0)) + 1;
}

/*
 * As jansson did, the error quotes the text before it (up to 20 bytes,
 * from a character's start: the body is valid UTF-8 up to at), so a
 * writer sees what was wrong; logs escape what it holds.
 */
static int malformed(const char *body, size_t at, const char *msg,
                     struct ferry_err *err)
{
    size_t from = at > 20 ? at - 20 : 0;
    int line, col;

    while (from < at && ((unsigned char)body[from] & 0xc0) == 0x80)
        from++;
    line_col(body, at, &line, &col);
    return fy_err_set(err, FERRY_EPARSE,
                      "malformed JSON at line %d column %d: %s near '%.*s'",
                      line, col, msg, (int)(at - from), body + from);
}

/* ---- strings and numbers ----------------------------------------------- */

/* s[0..n) as it stays valid for the request: in the body, or a copy. */
static const char *keep(struct parser *p, const char *s, size_t n,
                        bool *terminated)
{
    if (s >= p->body && s + n <= p->body + p->len) {
        *terminated = false;
        return s;
    }
    *terminated = true; /* yajl's decoding buffer: reused for the next one */
    return fy_arena_strndup(p->v->a, s, n);
}

/* s[0..n) as a 64-bit integer when it is one (only digits after a sign). */
static bool integer(const char *s, size_t n, bool *range, int64_t *out)
{
    bool neg = s[0] == '-';
    uint64_t u = 0;
    size_t i = neg;

    *range = true;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (u > (UINT64_MAX - d) / 10)
            *range = false;
        u = u * 10 + d;
    }
    if (i < n)
        return false;
    if (u > (uint64_t)INT64_MAX + neg)
        *range = false;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/*
 * A number as jansson reads it: an integer unless it has a fraction or an
 * exponent; integers outside 64 bits and reals that overflow are errors.
 */
static int number(struct parser *p, const char *s, size_t n,
                  struct fy_jval *out)
{
    char tmp[64];
    char *text;
    bool range;

    memset(out, 0, sizeof(*out));
    if (integer(s, n, &range, &out->i)) {
        out->kind = FY_J_INT;
        return range ? 1 : stop(p, FERRY_EPARSE, "too big integer");
    }
    text = n < sizeof(tmp) ? tmp : fy_arena_alloc(p->v->a, n + 1);
    if (!text)
        return oom(p);
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    out->kind = FY_J_REAL;
    out->d = strtod(text, NULL);
    if (errno == ERANGE && (out->d > 1 || out->d < -1))
        return stop(p, FERRY_EPARSE, "real number overflow");
    return 1;
}

/*
 * What yajl lets through and jansson did not: \u0000, and surrogates that
 * are not a high one followed by a low one (yajl turns a lone high one
 * into '?'). Every backslash in a valid body starts an escape, so the
 * body can be scanned without tracking strings. Returns the offset of the
 * first bad escape, or len.
 */
static unsigned hex4(const char *s)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        int d = fy_hexval(s[i]);

        if (d < 0)
            return 0x10000; /* not an escape yajl accepts: its error */
        v = v << 4 | (unsigned)d;
    }
    return v;
}

static size_t bad_escape(const char *body, size_t len, const char **why)
{
    const char *end = body + len;

    for (const char *s = memchr(body, '\\', len); s && end - s >= 6;
         s = memchr(s, '\\', (size_t)(end - s))) {
        unsigned cp = s[1] == 'u' ? hex4(s + 2) : 0x10000;

        if (s[1] != 'u' || cp == 0x10000) {
            s += 2;
            continue;
        }
        *why = cp == 0 ? "\\u0000 is not allowed" : "invalid Unicode escape";
        if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
            return (size_t)(s - body);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo =
                end - s >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : 0;

            if (lo < 0xdc00 || lo > 0xdfff)
                return (size_t)(s - body);
            s += 6;
        }
        s += 6;
    }
    return len;
}

/*
 * yajl takes vertical tabs and form feeds for whitespace; JSON does not,
 * and no string may hold them raw either. Their first offset, or len.
 */
static size_t bad_space(const char *body, size_t len)
{
    const char *v = memchr(body, '\v', len), *f = memchr(body, '\f', len);

    if (v && (!f || v < f))
        return (size_t)(v - body);
    return f ? (size_t)(f - body) : len;
}

/* ---- frames and member names ------------------------------------------- */

static int push_frame(struct parser *p, enum role role, bool map, json_t *tree)
{
    if (p->depth >= MAX_DEPTH)
        return stop(p, FERRY_EPARSE, "maximum parsing depth reached");
    if (p->depth == p->fcap &&
        fy_grow(&p->frames, &p->fcap, sizeof(*p->frames), 8) < 0)
        return oom(p);
    p->frames[p->depth++] = (struct frame){
        .role = role, .map = map, .names = p->nnames, .tree = tree};
    return 1;
}

/* A member name of the innermost object; duplicates are malformed. */
static int add_name(struct parser *p, const char *s, size_t n)
{
    struct frame *f = &p->frames[p->depth - 1];
    uint64_t h = fy_fnv1a(FY_FNV_SEED, s, n), bit = 1ull << (h & 63);
    bool terminated;

    if (f->mask & bit) {
        for (size_t i = f->names; i < p->nnames; i++) {
            if (p->names[i].hash == h && p->names[i].len == n &&
                memcmp(p->names[i].s, s, n) == 0)
                return stop(p, FERRY_EPARSE, "duplicate object key");
        }
    }
    if (p->nnames == p->ncap &&
        fy_grow(&p->names, &p->ncap, sizeof(*p->names), 64) < 0)
        return oom(p);
    f->mask |= bit;
    p->key = keep(p, s, n, &terminated);
    p->keylen = n;
    if (!p->key)
        return oom(p);
    p->names[p->nnames++] = (struct name){.s = p->key, .len = n, .hash = h};
    return 1;
}

static bool key_is(const struct parser *p, const char *name)
{
    return p->keylen == strlen(name) && memcmp(p->key, name, p->keylen) == 0;
}

/* A member of a change: one of its head's, its row, or ignored. */
static enum use change_member(struct parser *p, struct fy_jval **slot)
{
    struct head *h = &p->head;

    *slot = key_is(p, "seq")     ? &h->seq
            : key_is(p, "op")    ? &h->op
            : key_is(p, "hlc")   ? &h->hlc
            : key_is(p, "table") ? &h->table
                                 : NULL;
    return *slot ? U_HEAD : key_is(p, "row") ? U_ROW : U_IGNORE;
}

static enum use use_of(struct parser *p, struct fy_jval **slot)
{
    if (p->depth == 0)
        return U_DOC;
    switch (p->frames[p->depth - 1].role) {
    case R_ROOT:
        return key_is(p, "changes")  ? U_CHANGES
               : key_is(p, "device") ? U_DEVICE
                                     : U_IGNORE;
    case R_CHANGES:
        return U_CHANGE;
    case R_CHANGE:
        return change_member(p, slot);
    case R_ROW:
        return U_FIELD;
    case R_TREE:
        return U_TREE;
    case R_SKIP:
    default:
        return U_IGNORE;
    }
}

/* ---- changes ----------------------------------------------------------- */

static struct fy_change *new_change(struct parser *p)
{
    struct fy_push_doc *d = p->doc;

    if (d->n == d->cap && fy_grow(&d->chs, &d->cap, sizeof(*d->chs), 256) < 0)
        return NULL;
    memset(&d->chs[d->n], 0, sizeof(d->chs[0]));
    return &d->chs[d->n++];
}

/* The row's jsonb trees are typed into text by now: drop them. */
static void drop_fields(struct parser *p)
{
    for (size_t i = 0; i < p->nfields; i++) {
        if (p->fields[i].v.kind == FY_J_TREE)
            json_decref(p->fields[i].v.tree);
    }
    p->nfields = 0;
}

static bool is_text(const struct fy_jval *v, const char *s)
{
    return v->kind == FY_J_STRING && v->len == strlen(s) &&
           memcmp(v->s, s, v->len) == 0;
}

static const struct fy_table *table_of(struct parser *p,
                                       const struct fy_jval *name)
{
    const struct fy_contract *c = p->v->c;

    if (name->kind != FY_J_STRING)
        return NULL;
    if (p->last && is_text(name, p->last->name))
        return p->last;
    for (size_t i = 0; i < c->ntables; i++) {
        if (is_text(name, c->tables[i].name))
            return p->last = &c->tables[i];
    }
    return NULL;
}

static int hlc_of(const struct fy_jval *v, uint64_t *out)
{
    char tmp[FY_HLC_STRLEN + 1];

    if (v->kind != FY_J_STRING || v->len != FY_HLC_STRLEN)
        return FERRY_EPARSE;
    memcpy(tmp, v->s, FY_HLC_STRLEN);
    tmp[FY_HLC_STRLEN] = '\0';
    return fy_hlc_parse(tmp, out);
}

/* The change's own members, in the order the DOM parser checked them. */
static int check_head(struct parser *p, struct fy_change *ch)
{
    struct fy_validate *v = p->v;
    const struct head *h = &p->head;
    const struct fy_jval *t = &h->table;

    ch->seq = h->seq.kind == FY_J_INT ? h->seq.i : 0;
    if (ch->seq <= 0)
        return fy_validate_reject(
            v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
            "a change needs \"seq\" as a positive integer");
    if (ch->seq > FERRY_SEQ_MAX)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"seq\" must be at most %lld (2^53 - 1)",
                                  (long long)FERRY_SEQ_MAX);
    if (ch->seq <= p->prev)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_SEQ_ORDER,
                                  "seq must increase within a batch");
    if (!is_text(&h->op, "upsert") && !is_text(&h->op, "delete"))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"op\" must be \"upsert\" or \"delete\"");
    ch->del = h->op.s[0] == 'd';
    if (hlc_of(&h->hlc, &ch->hlc) < 0)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"hlc\" must be 16 hex digits");
    if (!h->row_object)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"row\" must be an object");
    if (!(ch->table = table_of(p, t)))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_UNKNOWN_TABLE,
                                  "no table '%.*s' in the contract",
                                  t->kind == FY_J_STRING ? (int)t->len : 9,
                                  t->kind == FY_J_STRING ? t->s : "(missing)");
    return 0;
}

/* A change's closing brace: it is checked now, its row typed. */
static int finish_change(struct parser *p)
{
    struct fy_change *ch = new_change(p);
    int rc;

    if (!ch)
        return oom(p);
    rc = check_head(p, ch);
    if (rc == 0) {
        ch->vals =
            fy_arena_calloc(p->v->a, ch->table->ncols, sizeof(*ch->vals));
        rc = ch->vals ? fy_validate_fields(p->v, ch->table, p->fields,
                                           p->nfields, ch)
                      : FERRY_ENOMEM;
    }
    drop_fields(p);
    if (rc == FERRY_ENOMEM)
        return oom(p);
    if (ch->seq > p->prev)
        p->prev = ch->seq;
    return 1;
}

/* An element of "changes" that is not an object. */
static int not_a_change(struct parser *p)
{
    if (++p->nchanges > FY_PUSH_MAX_CHANGES)
        return 1;
    if (!new_change(p))
        return oom(p);
    fy_validate_reject(p->v, 0, FERRY_WIRE_INVALID_CHANGE,
                       "a change needs \"seq\" as a positive integer");
    return 1;
}

static int add_field(struct parser *p, const struct fy_jval *val)
{
    if (p->nfields == p->fieldcap &&
        fy_grow(&p->fields, &p->fieldcap, sizeof(*p->fields), 32) < 0)
        return oom(p);
    p->fields[p->nfields++] =
        (struct fy_jfield){.name = p->key, .nlen = p->keylen, .v = *val};
    return 1;
}

/* ---- jsonb trees --------------------------------------------------------- */

/* Adds x (a new reference, stolen) to the innermost tree container. */
static int tree_add(struct parser *p, json_t *x)
{
    const struct frame *f = &p->frames[p->depth - 1];
    int rc = !x ? -1
             : f->map
                 ? json_object_setn_new_nocheck(f->tree, p->key, p->keylen, x)
                 : json_array_append_new(f->tree, x);

    return rc < 0 ? oom(p) : 1;
}

/* ---- yajl's events ----------------------------------------------------- */

static int on_value(struct parser *p, struct fy_jval *val)
{
    struct fy_jval *slot = NULL;
    bool same;

    switch (use_of(p, &slot)) {
    case U_CHANGE:
        return not_a_change(p);
    case U_DEVICE:
        same = val->kind == FY_J_NULL ||
               (val->kind == FY_J_STRING &&
                val->len == strlen(p->v->key->device) &&
                memcmp(val->s, p->v->key->device, val->len) == 0);
        p->device_bad = !same;
        return 1;
    case U_HEAD:
        *slot = *val;
        return 1;
    case U_ROW:
        p->head.row_object = false;
        return 1;
    case U_FIELD:
        return add_field(p, val);
    case U_TREE:
        return tree_add(p, fy_jval_json(val));
    case U_DOC:     /* a scalar document: not an object */
    case U_CHANGES: /* "changes" not an array */
    case U_IGNORE:
    default:
        return 1;
    }
}

static int on_null(void *ctx)
{
    struct fy_jval v = {.kind = FY_J_NULL};

    return on_value(ctx, &v);
}

static int on_bool(void *ctx, int b)
{
    struct fy_jval v = {.kind = FY_J_BOOL, .i = b != 0};

    return on_value(ctx, &v);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    struct fy_jval v;

    return number(ctx, s, n, &v) && on_value(ctx, &v);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    struct parser *p = ctx;
    struct fy_jval v = {.kind = FY_J_STRING, .len = n};

    /* No NUL: \u0000 was refused before, a raw one by yajl's lexer. */
    v.s = keep(p, (const char *)s, n, &v.terminated);
    return v.s ? on_value(p, &v) : oom(p);
}

static int on_open(struct parser *p, bool map)
{
    struct fy_jval *slot = NULL, tree = {.kind = FY_J_TREE};
    json_t *x;

    switch (use_of(p, &slot)) {
    case U_DOC:
        p->root_object = map;
        return push_frame(p, map ? R_ROOT : R_SKIP, map, NULL);
    case U_CHANGES:
        p->changes_ok = !map;
        return push_frame(p, map ? R_SKIP : R_CHANGES, map, NULL);
    case U_DEVICE:
        p->device_bad = true;
        break;
    case U_CHANGE:
        if (!map)
            return not_a_change(p) && push_frame(p, R_SKIP, map, NULL);
        if (++p->nchanges > FY_PUSH_MAX_CHANGES)
            break; /* only counted: the batch is refused */
        memset(&p->head, 0, sizeof(p->head));
        drop_fields(p);
        return push_frame(p, R_CHANGE, map, NULL);
    case U_HEAD:
        *slot = tree; /* a container where a scalar belongs */
        break;
    case U_ROW:
        p->head.row_object = map;
        if (map)
            return push_frame(p, R_ROW, map, NULL);
        break;
    case U_FIELD:
        tree.tree = x = map ? json_object() : json_array();
        if (!x || !add_field(p, &tree)) {
            json_decref(x);
            return oom(p);
        }
        return push_frame(p, R_TREE, map, x);
    case U_TREE:
        /* The parent owns x; its frame borrows it. */
        x = map ? json_object() : json_array();
        return tree_add(p, x) && push_frame(p, R_TREE, map, x);
    case U_IGNORE:
    default:
        break;
    }
    return push_frame(p, R_SKIP, map, NULL);
}

static int on_close(void *ctx)
{
    struct parser *p = ctx;
    const struct frame *f = &p->frames[--p->depth];

    if (p->depth == 0)
        p->end = yajl_get_bytes_consumed(p->h);
    p->nnames = f->names;
    return f->role == R_CHANGE ? finish_change(p) : 1;
}

static int on_start_map(void *ctx)
{
    return on_open(ctx, true);
}

static int on_start_array(void *ctx)
{
    return on_open(ctx, false);
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
    return add_name(ctx, (const char *)s, n);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_close,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_close,
};

/* ---- the whole body ---------------------------------------------------- */

/* yajl's own message, without its "parse error: " and trailing space. */
static void yajl_message(yajl_handle h, char *out, size_t n)
{
    unsigned char *m = yajl_get_error(h, 0, NULL, 0);
    const char *s = (const char *)m;
    size_t len;

    if (strncmp(s, "parse error: ", 13) == 0)
        s += 13;
    len = strcspn(s, "\n");
    while (len && (s[len - 1] == ' ' || s[len - 1] == '.'))
        len--;
    snprintf(out, n, "%.*s", (int)len, s);
    yajl_free_error(h, m);
}

static bool only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    }
    return true;
}

/* What yajl's verdict s means: 0, or the error with err filled. */
static int yajl_verdict(struct parser *p, yajl_status s, struct ferry_err *err)
{
    char msg[160];

    /* yajl does not see a token cut short after the document. */
    if (s == yajl_status_ok && p->end &&
        !only_space(p->body + p->end, p->len - p->end))
        return malformed(p->body, p->end, "garbage after the document", err);
    if (s == yajl_status_ok)
        return 0;
    if (p->rc == FERRY_ENOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (p->rc == 0)
        yajl_message(p->h, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "%s", p->msg);
    return malformed(p->body, yajl_get_bytes_consumed(p->h), msg, err);
}

static int run_yajl(struct parser *p, struct ferry_err *err)
{
    yajl_status s;
    int rc;

    p->h = yajl_alloc(&callbacks, NULL, p);
    if (!p->h)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /* The body's UTF-8 was checked whole, strictly, before. */
    yajl_config(p->h, yajl_dont_validate_strings, 1);
    s = yajl_parse(p->h, (const unsigned char *)p->body, p->len);
    if (s == yajl_status_ok)
        s = yajl_complete_parse(p->h);
    rc = yajl_verdict(p, s, err);
    yajl_free(p->h);
    return rc;
}

/* The body as a whole: what a change-by-change check cannot say. */
static int check_body(const struct parser *p, struct ferry_err *err)
{
    if (!p->root_object || !p->changes_ok)
        return fy_err_set(err, FERRY_EPARSE,
                          "the body must be an object with a"
                          " \"changes\" array");
    if (p->nchanges > FY_PUSH_MAX_CHANGES)
        return fy_err_set(err, FERRY_ETOOBIG, "at most %d changes per batch",
                          FY_PUSH_MAX_CHANGES);
    if (p->device_bad)
        return fy_err_set(err, FERRY_EFORBIDDEN,
                          "this key belongs to device '%s'", p->v->key->device);
    return 0;
}

int fy_push_parse(const char *body, size_t len, struct fy_validate *v,
                  struct fy_push_doc *doc, struct ferry_err *err)
{
    struct parser p = {.body = body, .len = len, .v = v, .doc = doc};
    const char *why = NULL;
    size_t at = fy_utf8_prefix(body, len);
    int rc;

    memset(doc, 0, sizeof(*doc));
    if (at < len)
        return malformed(body, at, "invalid UTF-8", err);
    at = bad_escape(body, len, &why);
    if (at < len)
        return malformed(body, at, why, err);
    at = bad_space(body, len);
    if (at < len)
        return malformed(body, at, "invalid whitespace", err);
    rc = run_yajl(&p, err);
    if (rc == 0)
        rc = check_body(&p, err);
    drop_fields(&p);
    fy_free(p.fields);
    fy_free(p.frames);
    fy_free(p.names);
    return rc;
}

void fy_push_doc_release(struct fy_push_doc *doc)
{
    fy_free(doc->chs);
    memset(doc, 0, sizeof(*doc));
}
