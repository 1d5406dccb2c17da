/* SPDX-License-Identifier: MIT */
/*
 * Contract parsing, validation and the SQLite-to-PostgreSQL type mapping.
 * Everything a client or admin can get wrong in a contract file is reported
 * with the table and column it concerns.
 */
#include "core/contract.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "json/value.h"
#include "fy.h"

static const char *const type_names[] = {
#define FY_TYPE_NAME(e, s) s,
    FY_TYPE_MAP(FY_TYPE_NAME)
#undef FY_TYPE_NAME
};

const char *fy_type_name(enum fy_type t)
{
    return (unsigned)t < FY_T__COUNT ? type_names[t] : "?";
}

int fy_type_parse(const char *name)
{
    for (int i = 0; i < FY_T__COUNT; i++) {
        if (strcmp(name, type_names[i]) == 0)
            return i;
    }
    return -1;
}

static bool has_word(const char *decl, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = decl; *p; p++) {
        if (strncasecmp(p, word, n) == 0)
            return true;
    }
    return false;
}

enum fy_type fy_type_from_sqlite(const char *decl)
{
    if (!decl || !*decl)
        return FY_T_TEXT; /* untyped: text keeps any value readable */
    /* SQLite affinity rules, in their order (datatype3.html 3.1). */
    if (has_word(decl, "INT"))
        return FY_T_BIGINT;
    if (has_word(decl, "CHAR") || has_word(decl, "CLOB") ||
        has_word(decl, "TEXT")) {
        return has_word(decl, "JSON") ? FY_T_JSONB : FY_T_TEXT;
    }
    if (has_word(decl, "BLOB"))
        return FY_T_BYTEA;
    if (has_word(decl, "REAL") || has_word(decl, "FLOA") ||
        has_word(decl, "DOUB"))
        return FY_T_DOUBLE;
    /* NUMERIC affinity: refine the common spellings. */
    if (has_word(decl, "BOOL"))
        return FY_T_BOOLEAN;
    if (has_word(decl, "DATETIME") || has_word(decl, "TIMESTAMP"))
        return FY_T_TIMESTAMPTZ;
    if (has_word(decl, "DATE"))
        return FY_T_DATE;
    if (has_word(decl, "JSON"))
        return FY_T_JSONB;
    return FY_T_NUMERIC;
}

bool fy_ident_valid(const char *s)
{
    size_t n = 0;

    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (; s[n]; n++) {
        if (!(isalnum((unsigned char)s[n]) || s[n] == '_'))
            return false;
    }
    if (n > 63)
        return false;
    return strncasecmp(s, "_ferry", 6) != 0;
}

void fy_contract_free(struct fy_contract *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ntables; i++) {
        struct fy_table *t = &c->tables[i];

        for (size_t j = 0; j < t->ncols; j++) {
            fy_free(t->cols[j].name);
            json_decref(t->cols[j].def);
        }
        fy_free(t->cols);
        fy_free(t->pk);
        fy_free(t->name);
    }
    fy_free(c->tables);
    fy_free(c->checksum);
    fy_free(c);
}

const struct fy_table *fy_contract_table(const struct fy_contract *c,
                                         const char *name)
{
    for (size_t i = 0; i < c->ntables; i++) {
        if (strcmp(c->tables[i].name, name) == 0)
            return &c->tables[i];
    }
    return NULL;
}

/* SQLite folds case in names, so "Orders" and "orders" are one table. */
static bool name_taken(const struct fy_contract *c, size_t upto,
                       const char *name)
{
    for (size_t i = 0; i < upto; i++) {
        if (strcasecmp(c->tables[i].name, name) == 0)
            return true;
    }
    return false;
}

int fy_table_column(const struct fy_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

bool fy_table_is_pk(const struct fy_table *t, size_t col)
{
    for (size_t i = 0; i < t->npk; i++) {
        if (t->pk[i] == col)
            return true;
    }
    return false;
}

/*
 * A default is checked as a pushed value of the column would be, so that
 * every row that gets it is one a writer could have sent.
 */
static int parse_default(const char *tname, json_t *def, struct fy_column *col,
                         struct ferry_err *err)
{
    struct fy_arena a = FY_ARENA_INIT(0);
    struct fy_val v;
    char why[200];
    int rc;

    if (!def)
        return 0;
    rc = fy_val_from_json(col, def, &a, &v, why, sizeof(why));
    fy_arena_reset(&a);
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc < 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s' column '%s': default: %s", tname,
                          col->name, why);
    col->def = json_incref(def);
    return 0;
}

static int parse_column(const char *tname, json_t *jc, struct fy_column *col,
                        struct ferry_err *err)
{
    const char *name = json_string_value(json_object_get(jc, "name"));
    const char *type = json_string_value(json_object_get(jc, "type"));
    json_t *nn = json_object_get(jc, "not_null");
    int t, rc;

    if (!json_is_object(jc) || !name)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': every column needs a \"name\"", tname);
    if (!fy_ident_valid(name))
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': column name '%.80s' is not valid"
                          " (letters, digits and _, at most 63, not starting"
                          " with a digit or _ferry)",
                          tname, name);
    if (!type || (t = fy_type_parse(type)) < 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s' column '%s': unknown type '%s'", tname,
                          name, type ? type : "(missing)");
    if (nn && !json_is_boolean(nn))
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s' column '%s': not_null must be a boolean",
                          tname, name);
    col->name = fy_strdup(name);
    if (!col->name)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    col->type = (enum fy_type)t;
    col->not_null = json_is_true(nn);
    rc = parse_default(tname, json_object_get(jc, "default"), col, err);
    if (rc < 0) {
        /* Not counted in the table yet: fy_contract_free would miss it. */
        fy_free(col->name);
        col->name = NULL;
    }
    return rc;
}

static int lookup_col(const struct fy_table *t, json_t *jname, const char *what,
                      struct ferry_err *err)
{
    const char *name = json_string_value(jname);
    int i = name ? fy_table_column(t, name) : -1;

    if (i < 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': %s '%s' is not one of its columns",
                          t->name, what, name ? name : "(not a string)");
    return i;
}

static int parse_pk(struct fy_table *t, json_t *jpk, struct ferry_err *err)
{
    size_t i;
    json_t *v;

    if (!json_is_array(jpk) || json_array_size(jpk) == 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': primary_key must be a non-empty array",
                          t->name);
    t->pk = fy_calloc(json_array_size(jpk), sizeof(*t->pk));
    if (!t->pk)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_array_foreach(jpk, i, v)
    {
        int c = lookup_col(t, v, "primary key column", err);

        if (c < 0)
            return c;
        if (fy_table_is_pk(t, (size_t)c))
            return fy_err_set(err, FERRY_ECONFIG,
                              "table '%s': primary key repeats '%s'", t->name,
                              t->cols[c].name);
        t->pk[t->npk++] = (size_t)c;
        t->cols[c].not_null = true;
    }
    return 0;
}

static int parse_scope_col(struct fy_table *t, json_t *jt, const char *key,
                           int *out, struct ferry_err *err)
{
    json_t *v = json_object_get(jt, key);
    int c;

    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    c = lookup_col(t, v, key, err);
    if (c < 0)
        return c;
    if (t->cols[c].type != FY_T_TEXT)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': %s '%s' must have type text", t->name,
                          key, t->cols[c].name);
    *out = c;
    return 0;
}

enum fy_read fy_table_default_read(const struct fy_table *t)
{
    if (t->device_col >= 0 && fy_table_is_pk(t, (size_t)t->device_col))
        return FY_READ_NONE;
    return t->region_col >= 0 ? FY_READ_REGION : FY_READ_ALL;
}

static const char *const read_names[] = {"all", "region", "none"};

static int parse_read(struct fy_table *t, json_t *v, struct ferry_err *err)
{
    const char *s = json_string_value(v);

    t->read = fy_table_default_read(t);
    if (!v || json_is_null(v))
        return 0;
    for (size_t i = 0; s && i < FY_ARRAY_LEN(read_names); i++) {
        if (strcmp(s, read_names[i]) == 0) {
            t->read = (enum fy_read)i;
            if (t->read == FY_READ_REGION && t->region_col < 0)
                break;
            return 0;
        }
    }
    return fy_err_set(err, FERRY_ECONFIG,
                      "table '%s': read must be \"all\", \"region\" (with a"
                      " region_column) or \"none\"",
                      t->name);
}

static int parse_blob_cols(struct fy_table *t, json_t *jb,
                           struct ferry_err *err)
{
    size_t i;
    json_t *v;

    if (!jb)
        return 0;
    if (!json_is_array(jb))
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': blob_columns must be an array", t->name);
    json_array_foreach(jb, i, v)
    {
        int c = lookup_col(t, v, "blob column", err);

        if (c < 0)
            return c;
        if (t->cols[c].type != FY_T_TEXT)
            return fy_err_set(err, FERRY_ECONFIG,
                              "table '%s': blob column '%s' must be text",
                              t->name, t->cols[c].name);
        t->cols[c].blob_ref = true;
    }
    return 0;
}

static bool column_taken(const struct fy_table *t, size_t upto,
                         const char *name)
{
    for (size_t i = 0; i < upto; i++) {
        if (strcasecmp(t->cols[i].name, name) == 0)
            return true;
    }
    return false;
}

static int parse_columns(struct fy_table *t, json_t *jcols,
                         struct ferry_err *err)
{
    size_t i;
    json_t *jc;
    int rc;

    if (!json_is_array(jcols) || json_array_size(jcols) == 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "table '%s': columns must be a non-empty array",
                          t->name);
    t->cols = fy_calloc(json_array_size(jcols), sizeof(*t->cols));
    if (!t->cols)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_array_foreach(jcols, i, jc)
    {
        rc = parse_column(t->name, jc, &t->cols[i], err);
        if (rc < 0)
            return rc;
        t->ncols++;
        if (column_taken(t, i, t->cols[i].name))
            return fy_err_set(err, FERRY_ECONFIG,
                              "table '%s': column '%s' appears twice", t->name,
                              t->cols[i].name);
    }
    return 0;
}

/*
 * A key column's value names the row, so every row must bring it; a blob
 * column's names a file, which a default cannot have uploaded.
 */
static int check_defaults(const struct fy_table *t, struct ferry_err *err)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const struct fy_column *col = &t->cols[i];

        if (!col->def)
            continue;
        if (fy_table_is_pk(t, i) || col->blob_ref)
            return fy_err_set(err, FERRY_ECONFIG,
                              "table '%s' column '%s': a %s column cannot"
                              " have a default",
                              t->name, col->name,
                              col->blob_ref ? "blob" : "primary key");
    }
    return 0;
}

static int parse_table(json_t *jt, struct fy_table *t, struct ferry_err *err)
{
    const char *name = json_string_value(json_object_get(jt, "name"));
    int rc;

    if (!json_is_object(jt) || !name)
        return fy_err_set(err, FERRY_ECONFIG,
                          "contract: every table needs a \"name\"");
    /* ferry_ is where the SQLite store keeps its own tables. */
    if (!fy_ident_valid(name) || strncasecmp(name, "ferry_", 6) == 0 ||
        strlen(name) > 56)
        return fy_err_set(err, FERRY_ECONFIG,
                          "contract: table name '%.80s' is not valid (letters,"
                          " digits and _; at most 56; not starting with a"
                          " digit, _ferry or ferry_)",
                          name);
    t->name = fy_strdup(name);
    if (!t->name)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = parse_columns(t, json_object_get(jt, "columns"), err);
    if (rc == 0)
        rc = parse_pk(t, json_object_get(jt, "primary_key"), err);
    if (rc == 0)
        rc = parse_scope_col(t, jt, "device_column", &t->device_col, err);
    if (rc == 0)
        rc = parse_scope_col(t, jt, "region_column", &t->region_col, err);
    if (rc == 0)
        rc = parse_blob_cols(t, json_object_get(jt, "blob_columns"), err);
    if (rc == 0)
        rc = parse_read(t, json_object_get(jt, "read"), err);
    if (rc == 0)
        rc = check_defaults(t, err);
    return rc;
}

static int set_checksum(struct fy_contract *c, struct ferry_err *err)
{
    json_t *j = fy_contract_to_json(c);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    unsigned char md[SHA256_DIGEST_LENGTH];
    int rc = 0;

    c->checksum = fy_malloc(2 * SHA256_DIGEST_LENGTH + 1);
    if (!text || !c->checksum) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    SHA256((const unsigned char *)text, strlen(text), md);
    fy_hex(md, sizeof(md), c->checksum);
out:
    free(text); /* jansson allocates with malloc */
    json_decref(j);
    return rc;
}

static int parse_tables(struct fy_contract *c, json_t *root,
                        struct ferry_err *err)
{
    json_t *jtables = json_object_get(root, "tables");
    json_t *jv = json_object_get(root, "version");
    size_t i;
    json_t *jt;
    int rc;

    if (!json_is_integer(jv) || json_integer_value(jv) < 1)
        return fy_err_set(err, FERRY_ECONFIG,
                          "contract: \"version\" must be a positive integer");
    c->version = (long)json_integer_value(jv);
    if (!json_is_array(jtables))
        return fy_err_set(err, FERRY_ECONFIG,
                          "contract: \"tables\" must be an array");
    c->tables = fy_calloc(json_array_size(jtables), sizeof(*c->tables));
    if (!c->tables)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_array_foreach(jtables, i, jt)
    {
        rc = parse_table(jt, &c->tables[i], err);
        c->ntables++;
        if (rc < 0)
            return rc;
        if (name_taken(c, i, c->tables[i].name))
            return fy_err_set(err, FERRY_ECONFIG,
                              "contract: table '%s' appears twice (names are"
                              " compared without case)",
                              c->tables[i].name);
    }
    return 0;
}

int fy_contract_parse(const char *text, size_t len, struct fy_contract **out,
                      struct ferry_err *err)
{
    struct fy_contract *c = NULL;
    json_error_t jerr;
    json_t *root;
    int rc;

    *out = NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fy_err_set(err, FERRY_ECONFIG, "contract: line %d: %s",
                          jerr.line, jerr.text);
    c = fy_calloc(1, sizeof(*c));
    if (!c) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    rc = parse_tables(c, root, err);
    if (rc == 0)
        rc = set_checksum(c, err);
    if (rc == 0) {
        *out = c;
        c = NULL;
    }
out:
    fy_contract_free(c);
    json_decref(root);
    return rc;
}

int fy_contract_load(const char *path, struct fy_contract **out,
                     struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(64 << 20);
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc;

    *out = NULL;
    if (!f)
        return fy_err_set(err, FERRY_ECONFIG, "cannot open contract '%s': %s",
                          path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fy_buf_add(&b, chunk, n);
    if (ferror(f) || fy_buf_error(&b))
        rc = fy_err_set(err, FERRY_ECONFIG, "cannot read contract '%s'", path);
    else
        rc = fy_contract_parse(b.data, b.len, out, err);
    fclose(f);
    fy_buf_release(&b);
    return rc;
}

static json_t *table_to_json(const struct fy_table *t)
{
    json_t *jt = json_object(), *cols = json_array(), *pk = json_array();
    json_t *blobs = json_array();

    for (size_t i = 0; i < t->ncols; i++) {
        const struct fy_column *c = &t->cols[i];

        json_t *jc = json_pack("{s:s, s:s, s:b}", "name", c->name, "type",
                               fy_type_name(c->type), "not_null", c->not_null);

        /* Only when given: contracts from before defaults keep their
           checksum. */
        if (jc && c->def)
            json_object_set(jc, "default", c->def);
        json_array_append_new(cols, jc);
        if (c->blob_ref)
            json_array_append_new(blobs, json_string(c->name));
    }
    for (size_t i = 0; i < t->npk; i++)
        json_array_append_new(pk, json_string(t->cols[t->pk[i]].name));
    json_object_set_new(jt, "name", json_string(t->name));
    json_object_set_new(jt, "columns", cols);
    json_object_set_new(jt, "primary_key", pk);
    json_object_set_new(jt, "device_column",
                        t->device_col >= 0
                            ? json_string(t->cols[t->device_col].name)
                            : json_null());
    json_object_set_new(jt, "region_column",
                        t->region_col >= 0
                            ? json_string(t->cols[t->region_col].name)
                            : json_null());
    json_object_set_new(jt, "blob_columns", blobs);
    /* Only when not the default: contracts from before "read" keep their
       checksum. */
    if (t->read != fy_table_default_read(t))
        json_object_set_new(jt, "read", json_string(read_names[t->read]));
    return jt;
}

json_t *fy_contract_to_json(const struct fy_contract *c)
{
    json_t *root = json_object(), *tables = json_array();

    json_object_set_new(root, "version", json_integer(c->version));
    for (size_t i = 0; i < c->ntables; i++)
        json_array_append_new(tables, table_to_json(&c->tables[i]));
    json_object_set_new(root, "tables", tables);
    return root;
}

/* ---- diff ------------------------------------------------------------- */

struct differ {
    fy_contract_line_fn *fn;
    void *ud;
    long n;
};

static void say(struct differ *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct differ *d, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    /* clang-tidy 14 misreads the va_list here: */
    /* NOLINTNEXTLINE(clang-analyzer-valist.*) */
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->n++;
    d->fn(line, d->ud);
}

static void key_text(const struct fy_table *t, char *out, size_t n)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < t->npk && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "",
                                t->cols[t->pk[i]].name);
}

static void diff_table(struct differ *d, const struct fy_table *a,
                       const struct fy_table *b)
{
    char ka[256], kb[256];

    key_text(a, ka, sizeof(ka));
    key_text(b, kb, sizeof(kb));
    if (strcmp(ka, kb) != 0)
        say(d, "~ table %s: key (%s) -> (%s)", b->name, ka, kb);
    for (size_t i = 0; i < b->ncols; i++) {
        const struct fy_column *cb = &b->cols[i];
        int j = fy_table_column(a, cb->name);

        if (j < 0) {
            say(d, "+ column %s.%s %s", b->name, cb->name,
                fy_type_name(cb->type));
            continue;
        }
        if (a->cols[j].type != cb->type)
            say(d, "~ column %s.%s: %s -> %s", b->name, cb->name,
                fy_type_name(a->cols[j].type), fy_type_name(cb->type));
        if (a->cols[j].not_null != cb->not_null)
            say(d, "~ column %s.%s: not_null %s -> %s", b->name, cb->name,
                a->cols[j].not_null ? "true" : "false",
                cb->not_null ? "true" : "false");
    }
    for (size_t i = 0; i < a->ncols; i++) {
        if (fy_table_column(b, a->cols[i].name) < 0)
            say(d, "- column %s.%s %s", a->name, a->cols[i].name,
                fy_type_name(a->cols[i].type));
    }
}

long fy_contract_diff(const struct fy_contract *theirs,
                      const struct fy_contract *ours, fy_contract_line_fn *line,
                      void *ud)
{
    struct differ d = {line, ud, 0};

    for (size_t i = 0; i < ours->ntables; i++) {
        const struct fy_table *t = &ours->tables[i];
        const struct fy_table *o = fy_contract_table(theirs, t->name);

        if (o)
            diff_table(&d, o, t);
        else
            say(&d, "+ table %s", t->name);
    }
    for (size_t i = 0; i < theirs->ntables; i++) {
        if (!fy_contract_table(ours, theirs->tables[i].name))
            say(&d, "- table %s", theirs->tables[i].name);
    }
    return d.n;
}
