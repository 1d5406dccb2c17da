/* SPDX-License-Identifier: MIT */
/*
 * Streaming JSON reader (reader.h). yajl's events drive a small state
 * machine: above the collection, members off its path are skipped; inside
 * it, each record's events build a tree in an arena that is reset once the
 * record has been handed over. Lines are counted as yajl consumes bytes.
 */
#include "import/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "util/arena.h"
#include "fy.h"

#define CHUNK           ((size_t)64 * 1024)
#define MAX_RECORD      ((size_t)32 << 20)
#define MAX_PATH_FRAMES 64

/* What the next value of the document is to the reader. */
enum role {
    ROLE_PATH,   /* the object at path level `level` */
    ROLE_COLL,   /* the collection */
    ROLE_RECORD, /* a record */
    ROLE_SKIP    /* off the path: skipped */
};

/* An open container above the records. */
struct frame {
    enum role role; /* ROLE_PATH (level) or ROLE_COLL */
    size_t level;
};

struct reader {
    const struct fy_reader_opts *o;
    const char *name;
    struct ferry_err *err;
    int rc; /* why a callback stopped yajl */
    yajl_handle h;

    /* Where yajl is: lines counted up to scan in the current chunk. */
    const char *chunk;
    size_t scan;
    uint64_t chunk_off, line_start;
    unsigned long line;

    struct frame frames[MAX_PATH_FRAMES];
    size_t nframes;
    enum role next; /* role of the next value */
    size_t skip;    /* open containers of a skipped value */
    bool found;     /* the collection was read */

    /* The record being built. */
    struct fy_arena arena;
    struct fy_jrec rec;
    struct fy_jv *cur; /* the open container, NULL at the record's top */
    bool in_record;
    const char *mkey; /* member name for the next value in cur */
    size_t mkey_len;
    size_t nrecords;
};

/* Counts the lines yajl has consumed so far; returns the absolute offset. */
static uint64_t advance(struct reader *r)
{
    size_t upto = yajl_get_bytes_consumed(r->h);

    for (; r->scan < upto; r->scan++) {
        if (r->chunk[r->scan] == '\n') {
            r->line++;
            r->line_start = r->chunk_off + r->scan + 1;
        }
    }
    return r->chunk_off + upto;
}

/* Records the failure (msg, then what) and returns 0, which stops yajl. */
static int fail(struct reader *r, int code, const char *msg, const char *what)
{
    uint64_t at = advance(r);

    uint64_t col = at - r->line_start + 1;

    r->rc = fy_err_set(r->err, code, "%s:%lu:%" PRIu64 ": %s%s", r->name,
                       r->line, col, msg, what ? what : "");
    return 0;
}

/* The arena refused n bytes: over the record limit, or out of memory. */
static int arena_fail(struct reader *r, size_t n)
{
    char what[64];

    if (r->arena.used + n + 16 > r->arena.limit) {
        snprintf(what, sizeof(what), " (%zu MiB)", r->arena.limit >> 20);
        return fail(r, FERRY_ETOOBIG, "a record is larger than the limit",
                    what);
    }
    r->rc = fy_err_set(r->err, FERRY_ENOMEM, "out of memory");
    return 0;
}

/* ---- building a record ------------------------------------------------ */

static struct fy_jv *new_value(struct reader *r, enum fy_jv_kind kind)
{
    struct fy_jv *v = fy_arena_calloc(&r->arena, 1, sizeof(*v));

    if (!v) {
        arena_fail(r, sizeof(*v));
        return NULL;
    }
    advance(r);
    v->kind = kind;
    v->line = r->line;
    return v;
}

static bool same_name(const struct fy_jv *m, const char *name, size_t n)
{
    return m->name_len == n && memcmp(m->name, name, n) == 0;
}

/* Links v into the open container (or makes it the record). */
static int attach(struct reader *r, struct fy_jv *v)
{
    struct fy_jv *p = r->cur;

    if (!p) {
        r->rec.value = v;
        return 0;
    }
    v->parent = p;
    if (p->kind == FY_JV_OBJECT) {
        v->name = r->mkey;
        v->name_len = r->mkey_len;
        for (const struct fy_jv *m = p->first; m; m = m->next) {
            if (same_name(m, r->mkey, r->mkey_len)) {
                /* Kept aside for the message; the first one stays. */
                if (!r->rec.dup)
                    r->rec.dup = v;
                return 0;
            }
        }
    } else {
        v->index = p->n;
    }
    if (p->last)
        p->last->next = v;
    else
        p->first = v;
    p->last = v;
    p->n++;
    return 0;
}

static int deliver(struct reader *r)
{
    int rc;

    r->rec.index = r->nrecords++;
    r->rec.offset = advance(r);
    rc = r->o->record(r->o->ctx, &r->rec, r->err);
    fy_arena_reset(&r->arena);
    memset(&r->rec, 0, sizeof(r->rec));
    r->in_record = false;
    r->next = ROLE_RECORD;
    if (rc < 0) {
        r->rc = rc;
        return 0;
    }
    return 1;
}

/* A value inside a record: built into the tree. */
static int record_value(struct reader *r, enum fy_jv_kind kind, bool open,
                        const char *text, size_t len, bool boolean)
{
    struct fy_jv *v;

    advance(r);
    if (!r->in_record) {
        r->in_record = true;
        r->rec.line = r->rec.key ? r->rec.line : r->line;
    }
    v = new_value(r, kind);
    if (!v)
        return 0;
    v->boolean = boolean;
    if (text) {
        char *t = fy_arena_strndup(&r->arena, text, len);

        if (!t)
            return arena_fail(r, len + 1);
        v->text = t;
        v->len = len;
    }
    attach(r, v);
    if (open) {
        r->cur = v;
        return 1;
    }
    return r->cur ? 1 : deliver(r);
}

/* ---- above the records ------------------------------------------------ */

static void path_text(struct reader *r, struct fy_buf *b, size_t levels)
{
    fy_buf_addc(b, '$');
    for (size_t i = 0; i < levels; i++)
        fy_jsonpath_add(b, r->o->path[i], strlen(r->o->path[i]));
}

/* The collection's container opened: is it of the mapping's type? */
static int open_frame(struct reader *r, bool is_object)
{
    struct frame *f;
    bool want_object = r->next == ROLE_PATH || r->o->object_collection;

    if (r->found && r->next == ROLE_COLL)
        return fail(r, FERRY_EPARSE, "the collection appears twice", NULL);
    if (is_object != want_object) {
        struct fy_buf b = FY_BUF_INIT(0);
        char msg[200];

        path_text(r, &b, r->next == ROLE_PATH ? r->nframes : r->o->npath);
        snprintf(msg, sizeof(msg), "%.120s: expected %s, got %s",
                 fy_buf_error(&b) ? "$" : b.data,
                 want_object ? "an object" : "an array",
                 is_object ? "an object" : "an array");
        fy_buf_release(&b);
        return fail(r, FERRY_EPARSE, msg, NULL);
    }
    if (r->nframes == MAX_PATH_FRAMES)
        return fail(r, FERRY_EPARSE, "the path is too deep", NULL);
    f = &r->frames[r->nframes++];
    f->role = r->next;
    f->level = r->nframes - 1;
    r->next = f->role == ROLE_COLL ? ROLE_RECORD : ROLE_SKIP;
    if (f->role == ROLE_COLL && !r->o->object_collection)
        r->next = ROLE_RECORD;
    return 1;
}

/* A value above the records that is not a container. */
static int scalar_above(struct reader *r)
{
    if (r->next == ROLE_SKIP)
        return 1;
    return fail(r, FERRY_EPARSE,
                r->next == ROLE_PATH || r->o->object_collection
                    ? "expected an object on the collection's path, got a"
                      " scalar"
                    : "expected the collection (an array), got a scalar",
                NULL);
}

static int start(struct reader *r, enum fy_jv_kind kind)
{
    if (r->in_record)
        return record_value(r, kind, true, NULL, 0, false);
    if (r->skip || r->next == ROLE_SKIP) {
        r->skip++;
        return 1;
    }
    if (r->next == ROLE_RECORD)
        return record_value(r, kind, true, NULL, 0, false);
    return open_frame(r, kind == FY_JV_OBJECT);
}

static int end(struct reader *r)
{
    if (r->in_record) {
        r->cur = r->cur->parent;
        return r->cur ? 1 : deliver(r);
    }
    if (r->skip) {
        if (--r->skip == 0)
            r->next = ROLE_SKIP;
        return 1;
    }
    if (r->frames[--r->nframes].role == ROLE_COLL)
        r->found = true;
    r->next = ROLE_SKIP;
    return 1;
}

static int scalar(struct reader *r, enum fy_jv_kind kind, const char *text,
                  size_t len, bool boolean)
{
    if (r->in_record)
        return record_value(r, kind, false, text, len, boolean);
    if (r->skip)
        return 1;
    if (r->next == ROLE_RECORD)
        return record_value(r, kind, false, text, len, boolean);
    return scalar_above(r);
}

static int on_null(void *ctx)
{
    return scalar(ctx, FY_JV_NULL, NULL, 0, false);
}

static int on_bool(void *ctx, int b)
{
    return scalar(ctx, FY_JV_BOOL, NULL, 0, b != 0);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    return scalar(ctx, FY_JV_NUMBER, s, n, false);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return scalar(ctx, FY_JV_STRING, (const char *)s, n, false);
}

static int on_start_map(void *ctx)
{
    return start(ctx, FY_JV_OBJECT);
}

static int on_start_array(void *ctx)
{
    return start(ctx, FY_JV_ARRAY);
}

static int on_end(void *ctx)
{
    return end(ctx);
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
    struct reader *r = ctx;
    const struct frame *f;

    if (r->in_record) {
        r->mkey = fy_arena_strndup(&r->arena, (const char *)s, n);
        r->mkey_len = n;
        return r->mkey ? 1 : arena_fail(r, n + 1);
    }
    if (r->skip)
        return 1;
    f = &r->frames[r->nframes - 1];
    if (f->role == ROLE_COLL) {
        /* The record's key, kept in the arena with the record. */
        r->rec.key = fy_arena_strndup(&r->arena, (const char *)s, n);
        r->rec.key_len = n;
        r->rec.line = (advance(r), r->line);
        r->next = ROLE_RECORD;
        return r->rec.key ? 1 : arena_fail(r, n + 1);
    }
    if (strlen(r->o->path[f->level]) == n &&
        memcmp(r->o->path[f->level], s, n) == 0) {
        r->next = f->level + 1 < r->o->npath ? ROLE_PATH : ROLE_COLL;
        return 1;
    }
    r->next = ROLE_SKIP;
    if (r->o->skipped) {
        struct fy_buf b = FY_BUF_INIT(0);

        path_text(r, &b, f->level);
        fy_jsonpath_add(&b, (const char *)s, n);
        advance(r);
        if (!fy_buf_error(&b))
            r->o->skipped(r->o->ctx, b.data, r->line);
        fy_buf_release(&b);
    }
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* yajl's own complaint, trimmed to its first line. */
static int syntax_error(struct reader *r, const unsigned char *p, size_t n)
{
    unsigned char *msg = yajl_get_error(r->h, 0, p, n);
    char text[160];

    snprintf(text, sizeof(text), "%s",
             msg ? (const char *)msg : "malformed JSON");
    text[strcspn(text, "\n")] = '\0';
    if (msg)
        yajl_free_error(r->h, msg);
    fail(r, FERRY_EPARSE, "malformed JSON: ", text);
    return r->rc;
}

static int feed(struct reader *r, const unsigned char *p, size_t n)
{
    yajl_status st;

    r->chunk = (const char *)p;
    r->scan = 0;
    st = n ? yajl_parse(r->h, p, n) : yajl_complete_parse(r->h);
    if (st == yajl_status_client_canceled)
        return r->rc;
    if (st != yajl_status_ok)
        return syntax_error(r, p, n);
    if (n) {
        /* The rest of the chunk: whitespace and partial tokens. */
        for (; r->scan < n; r->scan++) {
            if (p[r->scan] == '\n') {
                r->line++;
                r->line_start = r->chunk_off + r->scan + 1;
            }
        }
        r->chunk_off += n;
    }
    return 0;
}

static int read_all(struct reader *r, int fd)
{
    unsigned char *buf = fy_malloc(CHUNK);
    int rc = 0;

    if (!buf)
        return fy_err_set(r->err, FERRY_ENOMEM, "out of memory");
    for (;;) {
        ssize_t got = read(fd, buf, CHUNK);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = fy_err_set(r->err, FERRY_EIO, "cannot read %s: %s", r->name,
                            strerror(errno));
            break;
        }
        rc = feed(r, buf, (size_t)got);
        if (rc < 0 || got == 0)
            break;
    }
    fy_free(buf);
    return rc;
}

int fy_reader_read_fd(int fd, const char *name, const struct fy_reader_opts *o,
                      struct ferry_err *err)
{
    struct reader r = {
        .o = o,
        .name = name,
        .err = err,
        .line = 1,
        .next = o->npath ? ROLE_PATH : ROLE_COLL,
        .arena = FY_ARENA_INIT(o->max_record ? o->max_record : MAX_RECORD),
    };
    int rc;

    r.h = yajl_alloc(&callbacks, NULL, &r);
    if (!r.h)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = read_all(&r, fd);
    if (rc == 0 && !r.found) {
        struct fy_buf b = FY_BUF_INIT(0);

        path_text(&r, &b, o->npath);
        rc = fy_err_set(err, FERRY_EPARSE,
                        "%s: the collection %.200s (%s) is not in the"
                        " document",
                        name, fy_buf_error(&b) ? "" : b.data,
                        o->object_collection ? "an object" : "an array");
        fy_buf_release(&b);
    }
    yajl_free(r.h);
    fy_arena_reset(&r.arena);
    return rc;
}

int fy_reader_read_file(const char *file, const struct fy_reader_opts *o,
                        struct ferry_err *err)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return fy_err_set(err, FERRY_EIO, "cannot open %s: %s", file,
                          strerror(errno));
    rc = fy_reader_read_fd(fd, file, o, err);
    close(fd);
    return rc;
}

/* ---- values ------------------------------------------------------------ */

const struct fy_jv *fy_jv_get(const struct fy_jv *obj, const char *name)
{
    size_t n = strlen(name);

    if (!obj || obj->kind != FY_JV_OBJECT)
        return NULL;
    for (const struct fy_jv *m = obj->first; m; m = m->next) {
        if (same_name(m, name, n))
            return m;
    }
    return NULL;
}

int fy_json_add_string(struct fy_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    fy_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fy_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            fy_buf_adds(b, "\\\"");
            break;
        case '\\':
            fy_buf_adds(b, "\\\\");
            break;
        case '\n':
            fy_buf_adds(b, "\\n");
            break;
        case '\t':
            fy_buf_adds(b, "\\t");
            break;
        case '\r':
            fy_buf_adds(b, "\\r");
            break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};

            fy_buf_adds(b, u);
        }
        }
    }
    fy_buf_add(b, s + run, n - run);
    return fy_buf_addc(b, '"');
}

int fy_jv_dump(struct fy_buf *b, const struct fy_jv *v)
{
    switch (v->kind) {
    case FY_JV_NULL:
        return fy_buf_adds(b, "null");
    case FY_JV_BOOL:
        return fy_buf_adds(b, v->boolean ? "true" : "false");
    case FY_JV_NUMBER:
        return fy_buf_add(b, v->text, v->len);
    case FY_JV_STRING:
        return fy_json_add_string(b, v->text, v->len);
    case FY_JV_OBJECT:
    case FY_JV_ARRAY:
    default:
        break;
    }
    fy_buf_addc(b, v->kind == FY_JV_OBJECT ? '{' : '[');
    for (const struct fy_jv *m = v->first; m; m = m->next) {
        if (m != v->first)
            fy_buf_addc(b, ',');
        if (v->kind == FY_JV_OBJECT) {
            fy_json_add_string(b, m->name, m->name_len);
            fy_buf_addc(b, ':');
        }
        fy_jv_dump(b, m);
    }
    return fy_buf_addc(b, v->kind == FY_JV_OBJECT ? '}' : ']');
}

static bool ident_like(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') ||
                    (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

int fy_jsonpath_add(struct fy_buf *b, const char *name, size_t n)
{
    if (ident_like(name, n)) {
        fy_buf_addc(b, '.');
        return fy_buf_add(b, name, n);
    }
    fy_buf_addc(b, '[');
    fy_json_add_string(b, name, n);
    return fy_buf_addc(b, ']');
}

static void jv_path(struct fy_buf *b, const struct fy_jv *v)
{
    if (!v || !v->parent)
        return;
    jv_path(b, v->parent);
    if (v->parent->kind == FY_JV_OBJECT)
        fy_jsonpath_add(b, v->name, v->name_len);
    else
        fy_buf_addf(b, "[%zu]", v->index);
}

int fy_jv_path(struct fy_buf *b, const struct fy_reader_opts *o,
               const struct fy_jrec *rec, const struct fy_jv *v)
{
    fy_buf_addc(b, '$');
    for (size_t i = 0; i < o->npath; i++)
        fy_jsonpath_add(b, o->path[i], strlen(o->path[i]));
    if (rec->key) {
        /* Record keys are data (emails): always in brackets. */
        fy_buf_addc(b, '[');
        fy_json_add_string(b, rec->key, rec->key_len);
        fy_buf_addc(b, ']');
    } else {
        fy_buf_addf(b, "[%zu]", rec->index);
    }
    jv_path(b, v);
    return fy_buf_error(b);
}
