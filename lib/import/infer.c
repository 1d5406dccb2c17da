/* SPDX-License-Identifier: MIT */
/*
 * `--infer` (infer.h). Two halves: statistics, a tree of shapes with one
 * node per field path (every record's value is added to it, then dropped
 * with the reader's arena), and the proposal, which walks the tree and
 * decides per field: a column of a type, or an object, map or array child
 * table (the rules are docs/import.md "Inferring a mapping"). The proposal
 * is built as mapping-file JSON and read back with fy_mapping_parse, so
 * what --infer prints is a mapping the import accepts, written by
 * fy_mapping_to_json.
 */
#include "import/infer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/contract.h"
#include "import/mapping.h"
#include "import/reader.h"
#include "util/hash.h"
#include "fy.h"

/* Object places with more member names than this are maps. */
#define MAX_OBJECT_FIELDS 100
/* Names kept per object place; past it the place is a map anyway. */
#define MAX_NAMES_KEPT 1000
/* Values nested deeper are kept whole, in jsonb columns. */
#define MAX_DEPTH 32
/* Fields of an array collection's records tried as its key. */
#define MAX_KEY_CANDIDATES 8

struct shape;

struct member {
    char *name;
    size_t len;
    struct shape *s;
};

/* What was seen at one field path. */
struct shape {
    int64_t n; /* values, null included */
    int64_t nulls, bools, ints, reals, strings, objects, arrays;
    bool big;  /* an integer outside 64 bits */
    bool deep; /* nested past MAX_DEPTH: not looked into */
    /* objects: their members, in the order first seen */
    struct member *members;
    size_t nmembers, cap;
    bool many; /* more than MAX_NAMES_KEPT names */
    int64_t empty_objects, empty_arrays;
    struct shape *elem; /* arrays: every element's shape */
};

/* A field of an array collection's records that may be its key. */
struct keycand {
    char *field;
    bool ok; /* in every record so far, a string or an integer */
    uint64_t *hashes;
    size_t n, cap;
};

struct infer {
    const struct fy_infer_opts *o;
    const char *file;
    struct fy_reader_opts ro;
    struct shape root; /* the records */
    int64_t records;
    bool keys_are_emails; /* object collection: every key has an '@' */
    bool stopped;         /* --sample reached */
    struct keycand cand[MAX_KEY_CANDIDATES];
    size_t ncand;
};

/* ---- statistics ----------------------------------------------------- */

static void shape_free(struct shape *s)
{
    for (size_t i = 0; i < s->nmembers; i++) {
        shape_free(s->members[i].s);
        fy_free(s->members[i].s);
        fy_free(s->members[i].name);
    }
    fy_free(s->members);
    if (s->elem) {
        shape_free(s->elem);
        fy_free(s->elem);
    }
}

/* The member's shape, added when new; NULL when not kept (or no memory). */
static struct shape *member_of(struct shape *s, const char *name, size_t len,
                               int *rc)
{
    struct member *m;

    for (size_t i = 0; i < s->nmembers; i++)
        if (s->members[i].len == len &&
            memcmp(s->members[i].name, name, len) == 0)
            return s->members[i].s;
    if (s->nmembers == MAX_NAMES_KEPT) {
        s->many = true;
        return NULL;
    }
    if (s->nmembers == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct member *p = fy_realloc(s->members, cap * sizeof(*p));

        if (!p)
            goto nomem;
        s->members = p;
        s->cap = cap;
    }
    m = &s->members[s->nmembers];
    m->name = fy_strndup(name, len);
    m->len = len;
    m->s = fy_calloc(1, sizeof(*m->s));
    if (!m->name || !m->s) {
        fy_free(m->name);
        fy_free(m->s);
        goto nomem;
    }
    s->nmembers++;
    return m->s;
nomem:
    *rc = FERRY_ENOMEM;
    return NULL;
}

static bool integer_text(const char *s, size_t len, bool *big)
{
    char buf[32];
    long long v;

    if (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len))
        return false;
    *big = len >= sizeof(buf);
    if (*big)
        return true;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoll(buf, NULL, 10);
    (void)v;
    *big = errno == ERANGE;
    return true;
}

static int observe(struct shape *s, const struct fy_jv *v, int depth);

static int observe_children(struct shape *s, const struct fy_jv *v, int depth)
{
    int rc = 0;

    for (const struct fy_jv *c = v->first; c && rc == 0; c = c->next) {
        struct shape *to;

        if (v->kind == FY_JV_ARRAY) {
            if (!s->elem && !(s->elem = fy_calloc(1, sizeof(*s->elem))))
                return FERRY_ENOMEM;
            to = s->elem;
        } else {
            to = member_of(s, c->name, c->name_len, &rc);
        }
        if (to)
            rc = observe(to, c, depth + 1);
    }
    return rc;
}

static int observe(struct shape *s, const struct fy_jv *v, int depth)
{
    bool big = false;

    s->n++;
    switch (v->kind) {
    case FY_JV_NULL:
        s->nulls++;
        return 0;
    case FY_JV_BOOL:
        s->bools++;
        return 0;
    case FY_JV_NUMBER:
        if (integer_text(v->text, v->len, &big))
            s->ints++;
        else
            s->reals++;
        s->big |= big;
        return 0;
    case FY_JV_STRING:
        s->strings++;
        return 0;
    case FY_JV_OBJECT:
        s->objects++;
        s->empty_objects += v->n == 0;
        break;
    case FY_JV_ARRAY:
        s->arrays++;
        s->empty_arrays += v->n == 0;
        break;
    }
    if (depth >= MAX_DEPTH) {
        s->deep = true;
        return 0;
    }
    return observe_children(s, v, depth);
}

/* ---- an array collection's key ------------------------------------------ */

static uint64_t hash_value(const struct fy_jv *v)
{
    return fy_fnv1a(FY_FNV_SEED ^ (uint64_t)v->kind, v->text, v->len);
}

static bool key_kind(const struct fy_jv *v)
{
    bool big = false;

    if (!v)
        return false;
    if (v->kind == FY_JV_STRING)
        return true;
    return v->kind == FY_JV_NUMBER && integer_text(v->text, v->len, &big) &&
           !big;
}

/* The first record's string and integer fields are the candidates. */
static int add_candidates(struct infer *in, const struct fy_jv *rec)
{
    for (const struct fy_jv *c = rec->first;
         c && in->ncand < MAX_KEY_CANDIDATES; c = c->next) {
        if (!key_kind(c) || memchr(c->name, '\0', c->name_len))
            continue;
        in->cand[in->ncand].field = fy_strndup(c->name, c->name_len);
        if (!in->cand[in->ncand].field)
            return FERRY_ENOMEM;
        in->cand[in->ncand++].ok = true;
    }
    return 0;
}

static int track_keys(struct infer *in, const struct fy_jv *rec)
{
    int rc = in->records == 0 ? add_candidates(in, rec) : 0;

    for (size_t i = 0; i < in->ncand && rc == 0; i++) {
        struct keycand *k = &in->cand[i];
        const struct fy_jv *v = fy_jv_get(rec, k->field);

        if (!k->ok)
            continue;
        if (!key_kind(v)) {
            k->ok = false;
            continue;
        }
        if (k->n == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 256;
            uint64_t *p = fy_realloc(k->hashes, cap * sizeof(*p));

            if (!p)
                return FERRY_ENOMEM;
            k->hashes = p;
            k->cap = cap;
        }
        k->hashes[k->n++] = hash_value(v);
    }
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static bool unique_values(struct keycand *k)
{
    qsort(k->hashes, k->n, sizeof(*k->hashes), cmp_u64);
    for (size_t i = 1; i < k->n; i++)
        if (k->hashes[i] == k->hashes[i - 1])
            return false;
    return true;
}

/*
 * Preferred names first (id, key, email, uuid, then names ending in "id":
 * user_id, userId, uid), then the document's order.
 */
static int key_rank(const char *f)
{
    static const char *const names[] = {"id", "key", "email", "uuid"};
    size_t n = strlen(f);

    for (size_t i = 0; i < FY_ARRAY_LEN(names); i++)
        if (strcasecmp(f, names[i]) == 0)
            return (int)i;
    if (n > 2 && strcasecmp(f + n - 2, "id") == 0)
        return 4;
    return 5;
}

static const char *choose_key(struct infer *in)
{
    const char *best = NULL;
    int rank = 99;

    for (size_t i = 0; i < in->ncand; i++) {
        struct keycand *k = &in->cand[i];

        if (k->ok && (int64_t)k->n == in->records && unique_values(k) &&
            key_rank(k->field) < rank) {
            best = k->field;
            rank = key_rank(k->field);
        }
    }
    return best;
}

/* ---- reading ------------------------------------------------------------ */

static int on_record(void *ctx, const struct fy_jrec *rec,
                     struct ferry_err *err)
{
    struct infer *in = ctx;
    int rc;

    if (in->o->sample > 0 && in->records == in->o->sample) {
        in->stopped = true;
        return FERRY_ECONFLICT; /* stops the reader; not an error */
    }
    if (rec->value->kind != FY_JV_OBJECT)
        return fy_err_set(err, FERRY_EPARSE,
                          "%s:%lu: the records at %s are not objects (name "
                          "the collection with --collection PATH)",
                          in->file, rec->line,
                          in->o->collection ? in->o->collection : "$");
    if (rec->key && !memchr(rec->key, '@', rec->key_len))
        in->keys_are_emails = false;
    rc = in->ro.object_collection ? 0 : track_keys(in, rec->value);
    if (rc == 0)
        rc = observe(&in->root, rec->value, 0);
    if (rc < 0)
        return fy_err_set(err, rc, "out of memory");
    in->records++;
    return 0;
}

/* The document's first byte that is not blank (a BOM skipped). */
static int first_char(const char *file)
{
    FILE *f = fopen(file, "rb");
    int c = EOF;

    if (!f)
        return EOF;
    while ((c = fgetc(f)) != EOF)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != 0xef &&
            c != 0xbb && c != 0xbf)
            break;
    fclose(f);
    return c;
}

static void reset_stats(struct infer *in)
{
    shape_free(&in->root);
    memset(&in->root, 0, sizeof(in->root));
    for (size_t i = 0; i < in->ncand; i++) {
        fy_free(in->cand[i].field);
        fy_free(in->cand[i].hashes);
    }
    memset(in->cand, 0, sizeof(in->cand));
    in->ncand = 0;
    in->records = 0;
    in->keys_are_emails = true;
    in->stopped = false;
}

static int read_once(struct infer *in, const char *file, bool object,
                     struct ferry_err *err)
{
    int rc;

    reset_stats(in);
    in->ro.object_collection = object;
    rc = fy_reader_read_file(file, &in->ro, err);
    if (rc == FERRY_ECONFLICT && in->stopped) {
        fy_err_clear(err);
        rc = 0;
    }
    return rc;
}

/*
 * At "$" the first character tells the collection's type; deeper, an
 * object is tried first and an array when the reader finds one there.
 */
static int read_document(struct infer *in, const char *file,
                         struct ferry_err *err)
{
    bool object = in->ro.npath > 0 || first_char(file) != '[';
    int rc = read_once(in, file, object, err);

    if (rc == FERRY_EPARSE && in->ro.npath > 0 && in->records == 0 && err &&
        strstr(err->msg, "expected an object, got an array"))
        rc = read_once(in, file, false, err);
    if (rc == 0 && in->records == 0)
        rc = fy_err_set(err, FERRY_EPARSE,
                        "%s: no records at %s: nothing to "
                        "infer a mapping from",
                        file, in->o->collection ? in->o->collection : "$");
    return rc;
}

/* ---- names ----------------------------------------------------------------
 */

struct names {
    char **v;
    size_t n;
};

static void names_release(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        fy_free(s->v[i]);
    fy_free(s->v);
    s->v = NULL;
    s->n = 0;
}

static bool names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static int names_add(struct names *s, const char *name)
{
    char **p = fy_realloc(s->v, (s->n + 1) * sizeof(*p));

    if (!p)
        return FERRY_ENOMEM;
    s->v = p;
    if (!(s->v[s->n] = fy_strdup(name)))
        return FERRY_ENOMEM;
    s->n++;
    return 0;
}

/*
 * An identifier from any text: ASCII letters (lower-cased), digits and
 * '_'; every other run of characters one '_'; "f_" before a leading
 * digit; at most max characters.
 */
static void sanitize(const char *s, size_t len, size_t max, struct fy_buf *b)
{
    bool sep = false;

    fy_buf_reset(b);
    for (size_t i = 0; i < len && b->len < max; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (sep && b->len > 0 && b->len < max - 1)
                fy_buf_addc(b, '_');
            fy_buf_addc(b, c);
            sep = false;
        } else {
            sep = true;
        }
        if (b->len == 1 && b->data[0] >= '0' && b->data[0] <= '9') {
            fy_buf_reset(b);
            fy_buf_adds(b, "f_");
            fy_buf_addc(b, c);
        }
    }
    if (b->len == 0)
        fy_buf_adds(b, "field");
}

/* base, else base_2, base_3, ...: added to s and left in b. */
static int unique_name(struct names *s, struct fy_buf *b, size_t max)
{
    size_t len = b->len;

    for (int i = 2; names_has(s, b->data) && i < 100000; i++) {
        char suffix[16];
        int n = snprintf(suffix, sizeof(suffix), "_%d", i);

        b->len = len + (size_t)n > max ? max - (size_t)n : len;
        b->data[b->len] = '\0';
        fy_buf_adds(b, suffix);
    }
    if (fy_buf_error(b))
        return FERRY_ENOMEM;
    return names_add(s, b->data);
}

/* users -> user, entries -> entry; address, status stay. */
static void singular(const char *t, struct fy_buf *b)
{
    size_t n = strlen(t);

    if (n > 3 && strcmp(t + n - 3, "ies") == 0) {
        fy_buf_add(b, t, n - 3);
        fy_buf_addc(b, 'y');
    } else if (n > 1 && t[n - 1] == 's' && t[n - 2] != 's' && t[n - 2] != 'u' &&
               t[n - 2] != 'i') {
        fy_buf_add(b, t, n - 1);
    } else {
        fy_buf_adds(b, t);
    }
}

/* ---- the proposal -------------------------------------------------------- */

enum decision { D_COLUMN, D_OBJECT, D_MAP, D_ARRAY };

/* A table being proposed: its name, whole key and column names. */
struct ptable {
    const char *table;
    char **key; /* borrowed from cols.v */
    size_t nkey, nparent;
    struct names cols; /* every column name, the key's included */
    /* An array collection's root: the key's field and its column. */
    const char *key_field;
    const char *key_col;
};

struct proposal {
    struct infer *in;
    int depth; /* 1: the records' own fields */
    struct names tables;
    struct fy_buf path; /* the field's JSONPath, for notes */
    int rc;
};

static int kinds(const struct shape *s)
{
    return (s->bools > 0) + (s->ints + s->reals > 0) + (s->strings > 0) +
           (s->objects > 0) + (s->arrays > 0);
}

/* Each member name in more than half the objects, and not too many. */
static bool object_like(const struct shape *s)
{
    if (s->many || s->nmembers > MAX_OBJECT_FIELDS)
        return false;
    for (size_t i = 0; i < s->nmembers; i++)
        if (s->members[i].s->n * 2 <= s->objects)
            return false;
    return true;
}

static enum fy_type scalar_type(const struct shape *s)
{
    if (s->bools)
        return FY_T_BOOLEAN;
    if (s->strings)
        return FY_T_TEXT;
    if (s->big)
        return FY_T_JSONB;
    return s->reals ? FY_T_DOUBLE : FY_T_BIGINT;
}

/*
 * A child table gives back "no rows" as one thing (null, {} or [], or the
 * field left out); a field seen as two of them is kept whole in a jsonb
 * column instead.
 */
static enum decision decide(const struct shape *s, int64_t absent,
                            enum fy_type *type)
{
    int64_t empty = s->objects ? s->empty_objects : s->empty_arrays;
    bool no_rows_ambiguous = s->nulls > 0 || (empty > 0 && absent > 0);

    *type = FY_T_JSONB;
    if (kinds(s) != 1 || s->deep)
        return D_COLUMN;
    if (!s->objects && !s->arrays) {
        *type = scalar_type(s);
        return D_COLUMN;
    }
    if (s->objects) {
        if (s->nmembers == 0)
            return D_COLUMN;
        if (object_like(s))
            return D_OBJECT;
        return no_rows_ambiguous ? D_COLUMN : D_MAP;
    }
    if (!s->elem || s->elem->objects != s->elem->n || s->elem->nmembers == 0 ||
        s->elem->deep || no_rows_ambiguous)
        return D_COLUMN;
    return D_ARRAY;
}

static void note_both(struct proposal *p, const struct shape *s, int64_t absent)
{
    char line[600];

    if (!p->in->o->note || absent == 0 || s->nulls == 0)
        return;
    snprintf(line, sizeof(line),
             "round trip: %.400s is absent in %lld %s and null in %lld; "
             "the export writes null for both",
             p->path.data, (long long)absent,
             p->depth == 1 ? "records" : "objects", (long long)s->nulls);
    p->in->o->note(line, p->in->o->ud);
}

static int add_fields(struct proposal *p, struct ptable *t,
                      const struct shape *obj, json_t *to);

static json_t *column_spec(const char *field, const char *column,
                           enum fy_type type, bool omit_null)
{
    if (strcmp(field, column) == 0 && !omit_null)
        return json_string(fy_type_name(type));
    return json_pack("{s:s, s:s, s:b}", "type", fy_type_name(type), "column",
                     column, "omit_null", omit_null);
}

/* The child's table name: the field's, else the parent's singular first. */
static int child_table(struct proposal *p, const struct ptable *parent,
                       const struct member *m, struct fy_buf *b)
{
    struct fy_buf field = FY_BUF_INIT(0);

    sanitize(m->name, m->len, 40, &field);
    fy_buf_reset(b);
    if (names_has(&p->tables, field.data) ||
        strncmp(field.data, "ferry_", 6) == 0) {
        singular(parent->table, b);
        fy_buf_addc(b, '_');
    }
    fy_buf_adds(b, field.data);
    fy_buf_release(&field);
    return unique_name(&p->tables, b, 56);
}

/*
 * The child's key: the parent's key columns (its own part named
 * "<singular of the parent's table>_<column>"), then the child's own.
 */
static int child_key(struct ptable *c, const struct ptable *parent,
                     const char *own, json_t *jkey)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = 0;

    c->key = fy_calloc(parent->nkey + 1, sizeof(*c->key));
    if (!c->key)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < parent->nkey && rc == 0; i++) {
        fy_buf_reset(&b);
        if (i >= parent->nparent) {
            singular(parent->table, &b);
            fy_buf_addc(&b, '_');
        }
        fy_buf_adds(&b, parent->key[i]);
        if (b.len > 63)
            b.data[b.len = 63] = '\0';
        rc = unique_name(&c->cols, &b, 63);
        if (rc == 0) {
            c->key[c->nkey++] = c->cols.v[c->cols.n - 1];
            rc = json_array_append_new(jkey, json_string(b.data));
        }
    }
    c->nparent = c->nkey;
    if (rc == 0 && own) {
        fy_buf_reset(&b);
        fy_buf_adds(&b, own);
        rc = unique_name(&c->cols, &b, 63);
        if (rc == 0)
            c->key[c->nkey++] = c->cols.v[c->cols.n - 1];
    }
    fy_buf_release(&b);
    return rc < 0 ? FERRY_ENOMEM : 0;
}

/* A map's own columns: its key column (the key's last) and its value. */
static int map_body(struct ptable *c, json_t *j)
{
    struct fy_buf v = FY_BUF_INIT(0);
    int rc;

    fy_buf_adds(&v, "value");
    rc = unique_name(&c->cols, &v, 63);
    json_object_set_new(j, "key_column", json_string(c->key[c->nkey - 1]));
    json_object_set_new(j, "value_column", json_string(v.data));
    json_object_set_new(j, "value_type", json_string("jsonb"));
    fy_buf_release(&v);
    return rc;
}

/* The child's kind-specific keys: a map's columns, or the fields. */
static int child_body(struct proposal *p, struct ptable *c,
                      const struct member *m, enum decision d, json_t *j)
{
    if (d == D_MAP)
        return map_body(c, j);
    if (d == D_ARRAY) {
        json_object_set_new(j, "index_column",
                            json_string(c->key[c->nkey - 1]));
        fy_buf_adds(&p->path, "[*]"); /* add_member puts the path back */
        return add_fields(p, c, m->s->elem, j);
    }
    return add_fields(p, c, m->s, j);
}

static int add_child(struct proposal *p, struct ptable *t,
                     const struct member *m, enum decision d, int64_t absent,
                     json_t *children)
{
    static const char *const kind_names[] = {"", "object", "map", "array"};
    static const char *const own[] = {NULL, NULL, "name", "position"};
    struct ptable c = {0};
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j = json_object(), *jkey = json_array();
    int rc = child_table(p, t, m, &b);

    if (rc == 0 && (!j || !jkey))
        rc = FERRY_ENOMEM;
    c.table = b.data;
    if (rc == 0)
        rc = child_key(&c, t, own[d], jkey);
    if (rc == 0) {
        json_object_set_new(j, "field", json_stringn(m->name, m->len));
        json_object_set_new(j, "kind", json_string(kind_names[d]));
        json_object_set_new(j, "table", json_string(c.table));
        json_object_set(j, "parent_key", jkey);
        rc = child_body(p, &c, m, d, j);
    }
    if (rc == 0 && absent > 0 && m->s->nulls == 0)
        json_object_set_new(j, "omit_null", json_true());
    if (rc == 0)
        rc = json_array_append(children, j) ? FERRY_ENOMEM : 0;
    json_decref(j);
    json_decref(jkey);
    fy_free(c.key);
    names_release(&c.cols);
    fy_buf_release(&b);
    return rc;
}

static int add_column(struct ptable *t, const struct member *m,
                      enum fy_type type, int64_t absent, json_t *columns)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *field = fy_strndup(m->name, m->len);
    int rc = field ? 0 : FERRY_ENOMEM;

    if (t->key_field && strlen(t->key_field) == m->len &&
        memcmp(t->key_field, m->name, m->len) == 0) {
        fy_buf_adds(&b, t->key_col); /* named when the key was chosen */
    } else {
        sanitize(m->name, m->len, 63, &b);
        if (rc == 0)
            rc = unique_name(&t->cols, &b, 63);
    }
    if (rc == 0 &&
        json_object_setn_new(columns, m->name, m->len,
                             column_spec(field, b.data, type,
                                         absent > 0 && m->s->nulls == 0)) < 0)
        rc = FERRY_ENOMEM;
    fy_free(field);
    fy_buf_release(&b);
    return rc;
}

static int add_member(struct proposal *p, struct ptable *t,
                      const struct shape *obj, const struct member *m,
                      json_t *columns, json_t *children)
{
    int64_t absent = obj->objects - m->s->n;
    size_t len = p->path.len;
    enum fy_type type;
    enum decision d = decide(m->s, absent, &type);
    int rc;

    fy_jsonpath_add(&p->path, m->name, m->len);
    if (d == D_COLUMN || d == D_OBJECT)
        note_both(p, m->s, absent);
    if (d == D_COLUMN)
        rc = add_column(t, m, type, absent, columns);
    else
        rc = add_child(p, t, m, d, absent, children);
    p->path.len = len;
    p->path.data[len] = '\0';
    return rc;
}

/* obj's members as columns and children of table t, into the json to. */
static int add_fields(struct proposal *p, struct ptable *t,
                      const struct shape *obj, json_t *to)
{
    json_t *columns = json_object(), *children = json_array();
    size_t len = p->path.len;
    int rc = columns && children ? 0 : FERRY_ENOMEM;

    p->depth++;
    for (size_t i = 0; i < obj->nmembers && rc == 0; i++)
        rc = add_member(p, t, obj, &obj->members[i], columns, children);
    if (rc == 0) {
        json_object_set(to, "columns", columns);
        if (json_array_size(children) > 0)
            json_object_set(to, "children", children);
    }
    p->depth--;
    p->path.len = len;
    p->path.data[len] = '\0';
    json_decref(columns);
    json_decref(children);
    return rc;
}

/* The root's key: an object collection's member names, or a field. */
static int root_key(struct infer *in, struct ptable *t, json_t *root,
                    const char *file, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc;

    if (in->ro.object_collection) {
        fy_buf_adds(&b, in->keys_are_emails ? "email" : "id");
    } else {
        t->key_field = choose_key(in);
        if (!t->key_field) {
            fy_buf_release(&b);
            return fy_err_set(err, FERRY_EPARSE,
                              "%s: no field of the records can be their key "
                              "(a string or an integer in every record, "
                              "different in each)",
                              file);
        }
        sanitize(t->key_field, strlen(t->key_field), 63, &b);
    }
    rc = unique_name(&t->cols, &b, 63);
    if (rc == 0) {
        t->key[0] = t->cols.v[t->cols.n - 1]; /* stable: the string */
        t->key_col = t->key[0];
        t->nkey = 1;
        rc = json_object_set_new(root, "key", json_string(t->key_col))
                 ? FERRY_ENOMEM
                 : 0;
    }
    fy_buf_release(&b);
    return rc < 0 ? fy_err_set(err, rc, "out of memory") : 0;
}

/* A table name may not start with ferry_ (ferry's own). */
static void not_ferrys(struct fy_buf *b)
{
    if (strncmp(b->data, "ferry_", 6) == 0) {
        struct fy_buf t = FY_BUF_INIT(0);

        fy_buf_adds(&t, "t_");
        fy_buf_add(&t, b->data, b->len);
        fy_buf_reset(b);
        fy_buf_add(b, t.data, t.len);
        fy_buf_release(&t);
    }
}

/* users.json -> users */
static void table_from_file(const char *file, struct fy_buf *b)
{
    const char *base = strrchr(file, '/');
    const char *dot;

    base = base ? base + 1 : file;
    dot = strrchr(base, '.');
    sanitize(base, dot && dot != base ? (size_t)(dot - base) : strlen(base), 50,
             b);
}

static json_t *propose(struct infer *in, const char *file,
                       struct ferry_err *err)
{
    const char *coll = in->o->collection ? in->o->collection : "$";
    struct proposal p = {.in = in, .path = FY_BUF_INIT(0)};
    char *key[1] = {NULL};
    struct ptable t = {.key = key};
    struct fy_buf name = FY_BUF_INIT(0);
    json_t *root = NULL;
    int rc;

    if (in->o->table)
        fy_buf_adds(&name, in->o->table);
    else if (in->ro.npath > 0)
        sanitize(in->ro.path[in->ro.npath - 1],
                 strlen(in->ro.path[in->ro.npath - 1]), 50, &name);
    else
        table_from_file(file, &name);
    if (!in->o->table)
        not_ferrys(&name);
    rc = names_add(&p.tables, name.data);
    t.table = name.data;
    root = json_pack("{s:{s:s, s:s}, s:s}", "collection", "path", coll, "type",
                     in->ro.object_collection ? "object" : "array", "table",
                     name.data);
    if (rc < 0 || !root) {
        fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    if (root_key(in, &t, root, file, err) < 0)
        goto fail;
    fy_buf_adds(&p.path, coll);
    fy_buf_adds(&p.path, in->ro.object_collection ? ".*" : "[*]");
    if (add_fields(&p, &t, &in->root, root) < 0) {
        fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    goto out;
fail:
    json_decref(root);
    root = NULL;
out:
    names_release(&t.cols);
    names_release(&p.tables);
    fy_buf_release(&p.path);
    fy_buf_release(&name);
    return root;
}

/* The proposal read back by the mapping parser, written by its writer. */
static int write_mapping(json_t *proposal, FILE *out, struct ferry_err *err)
{
    char *text = json_dumps(proposal, JSON_COMPACT);
    struct fy_mapping *m = NULL;
    json_t *j = NULL;
    int rc;

    if (!text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = fy_mapping_parse(text, strlen(text), &m, err);
    if (rc < 0) {
        char msg[sizeof(err->msg)];

        memcpy(msg, err->msg, sizeof(msg));
        fy_err_set(err, rc, "the proposed mapping does not parse: %s", msg);
        goto out;
    }
    j = fy_mapping_to_json(m);
    if (!j) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    if (json_dumpf(j, out, JSON_INDENT(2)) < 0 || fputc('\n', out) == EOF ||
        fflush(out) != 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot write the mapping: %s",
                        strerror(errno));
out:
    json_decref(j);
    fy_mapping_free(m);
    free(text);
    return rc;
}

/* The collection's path, parsed by the mapping parser (one syntax). */
static int collection_path(const char *coll, struct fy_mapping **m,
                           struct ferry_err *err)
{
    json_t *j = json_pack("{s:{s:s, s:s}, s:s, s:s}", "collection", "path",
                          coll, "type", "object", "table", "t", "key", "k");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc;

    json_decref(j);
    if (!text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = fy_mapping_parse(text, strlen(text), m, err);
    free(text);
    if (rc < 0) {
        char msg[sizeof(err->msg)];

        memcpy(msg, err->msg, sizeof(msg));
        rc = fy_err_set(err, FERRY_EINVAL, "--collection '%.200s': %s", coll,
                        msg);
    }
    return rc;
}

int fy_infer_run(const char *file, FILE *out, const struct fy_infer_opts *o,
                 struct ferry_err *err)
{
    struct infer in = {.o = o, .file = file};
    struct fy_mapping *path = NULL;
    struct ferry_err local = {0};
    json_t *proposal = NULL;
    int rc;

    if (!err)
        err = &local;
    rc = collection_path(o->collection ? o->collection : "$", &path, err);
    if (rc < 0)
        return rc;
    in.ro.path = path->path;
    in.ro.npath = path->npath;
    in.ro.record = on_record;
    in.ro.ctx = &in;
    rc = read_document(&in, file, err);
    if (rc == 0) {
        proposal = propose(&in, file, err);
        rc = proposal ? write_mapping(proposal, out, err) : err->code;
    }
    json_decref(proposal);
    reset_stats(&in);
    fy_mapping_free(path);
    return rc;
}
