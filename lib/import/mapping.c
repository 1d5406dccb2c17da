/* SPDX-License-Identifier: MIT */
/*
 * The mapping file (docs/import.md "The mapping file"): parsed strictly,
 * since a misspelt key silently ignored would import a document wrongly
 * without a word, and written back in the same format for --infer.
 */
#include "import/mapping.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fy.h"

/* Where in the mapping file a table's entry is, for messages. */
#define PLACE_LEN 160

struct parse {
    struct fy_mapping *m;
    struct ferry_err *err;
};

static const char *const kind_names[] = {"root", "object", "map", "array"};

static const char *const root_keys[] = {"collection", "table",    "key",
                                        "columns",    "children", "rest",
                                        "ignore",     NULL};
static const char *const object_keys[] = {
    "field",    "kind", "table",  "parent_key", "columns",
    "children", "rest", "ignore", "omit_null",  NULL};
static const char *const map_keys[] = {
    "field",        "kind",       "table",     "parent_key", "key_column",
    "value_column", "value_type", "omit_null", NULL};
static const char *const array_keys[] = {
    "field",        "kind",       "table",   "parent_key", "index_column",
    "value_column", "value_type", "columns", "children",   "rest",
    "ignore",       "omit_null",  NULL};
static const char *const column_keys[] = {"type", "column", "required",
                                          "omit_null", NULL};

/*
 * The failures below return their code as a constant, after fy_err_set,
 * so that the analyser follows out-parameters left unset on them.
 */
static int nomem(struct ferry_err *err)
{
    fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return FERRY_ENOMEM;
}

static void table_free(struct fy_map_table *t)
{
    if (!t)
        return;
    fy_free(t->table);
    fy_free(t->field);
    for (size_t i = 0; i < t->nkey; i++)
        fy_free(t->key_cols[i]);
    fy_free(t->key_cols);
    fy_free(t->key_types);
    fy_free(t->key_field);
    /* disc_column is one of key_cols (or NULL). */
    fy_free(t->value_column);
    for (size_t i = 0; i < t->ncols; i++) {
        fy_free(t->cols[i].field);
        fy_free(t->cols[i].column);
    }
    fy_free(t->cols);
    fy_free(t->rest_column);
    for (size_t i = 0; i < t->nignore; i++)
        fy_free(t->ignore[i]);
    fy_free(t->ignore);
    fy_free(t->children);
    fy_free(t);
}

void fy_mapping_free(struct fy_mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->npath; i++)
        fy_free(m->path[i]);
    fy_free(m->path);
    for (size_t i = 0; i < m->ntables; i++)
        table_free(m->tables[i]);
    fy_free(m->tables);
    fy_free(m);
}

const struct fy_map_col *fy_map_col_by_field(const struct fy_map_table *t,
                                             const char *field)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (strcmp(t->cols[i].field, field) == 0)
            return &t->cols[i];
    }
    return NULL;
}

/* Unknown keys are errors: a misspelt "colums" must not pass unseen. */
static int check_keys(json_t *obj, const char *const *allowed,
                      const char *place, struct ferry_err *err)
{
    const char *k;
    json_t *v;
    char list[256] = "";
    size_t used = 0;

    json_object_foreach(obj, k, v)
    {
        size_t i = 0;

        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i])
            continue;
        for (i = 0; allowed[i]; i++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s",
                             i ? ", " : "", allowed[i]);

            if (w > 0 && (size_t)w < sizeof(list) - used)
                used += (size_t)w;
        }
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: unknown key \"%.60s\" (known here: %s)", place,
                          k, list);
    }
    return 0;
}

static int get_string(json_t *obj, const char *key, bool required,
                      const char *place, const char **out,
                      struct ferry_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v && !required)
        return 0;
    if (!json_is_string(v)) {
        fy_err_set(err, FERRY_ECONFIG, "%s: \"%s\" %s", place, key,
                   v ? "must be a string" : "is missing");
        return FERRY_ECONFIG;
    }
    *out = json_string_value(v);
    return 0;
}

static int get_bool(json_t *obj, const char *key, const char *place, bool *out,
                    struct ferry_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"%s\" must be true or false", place, key);
    *out = json_is_true(v);
    return 0;
}

/* A column name as in the contract (docs/contract.md), copied to *out. */
static int column_name(const char *name, const char *place, const char *what,
                       char **out, struct ferry_err *err)
{
    if (!fy_ident_valid(name))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: %s '%.80s' is not a column name (letters,"
                          " digits and _, at most 63, not starting with a"
                          " digit or _ferry)",
                          place, what, name);
    *out = fy_strdup(name);
    return *out ? 0 : nomem(err);
}

static int type_of(const char *name, const char *place, const char *what,
                   enum fy_type *out, struct ferry_err *err)
{
    int t = fy_type_parse(name);

    if (t < 0)
        return fy_err_set(err, FERRY_ECONFIG, "%s: %s '%.60s' is not a type",
                          place, what, name);
    if (t == FY_T_BYTEA)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: %s bytea is not available (JSON has no bytes)",
                          place, what);
    *out = (enum fy_type)t;
    return 0;
}

/* ---- the collection's path ------------------------------------------- */

static bool dot_char(char c)
{
    return c != '.' && c != '[' && c != ']' && c != '"' && c != '\'' &&
           c != ' ' && c != '\t' && c != '\n' && c != '\r';
}

static int path_push(struct fy_mapping *m, char *name, struct ferry_err *err)
{
    char **p;

    if (!name)
        return nomem(err);
    p = fy_realloc(m->path, (m->npath + 1) * sizeof(*p));
    if (!p) {
        fy_free(name);
        return nomem(err);
    }
    m->path = p;
    m->path[m->npath++] = name;
    return 0;
}

/* One `["..."]` member at s (past the '['): its JSON string. */
static int bracket_member(const char *s, const char **end, char **out)
{
    const char *q = s + 1;
    json_t *j;

    *out = NULL;
    if (*s != '"')
        return -1;
    while (*q && *q != '"') {
        if (*q == '\\' && q[1])
            q++;
        q++;
    }
    if (*q != '"' || q[1] != ']')
        return -1;
    j = json_loadb(s, (size_t)(q + 1 - s), JSON_DECODE_ANY, NULL);
    if (!json_is_string(j)) {
        json_decref(j);
        return -1;
    }
    *out = fy_strndup(json_string_value(j), json_string_length(j));
    json_decref(j);
    *end = q + 2;
    return *out ? 0 : 1;
}

static int parse_path(struct fy_mapping *m, const char *path,
                      struct ferry_err *err)
{
    const char *s = path;
    int rc;

    if (*s != '$')
        goto bad;
    s++;
    while (*s) {
        char *name = NULL;

        if (*s == '.') {
            const char *b = ++s;

            while (*s && dot_char(*s))
                s++;
            if (s == b)
                goto bad;
            name = fy_strndup(b, (size_t)(s - b));
        } else if (*s == '[') {
            rc = bracket_member(s + 1, &s, &name);
            if (rc > 0)
                return nomem(err);
            if (rc < 0)
                goto bad;
        } else {
            goto bad;
        }
        rc = path_push(m, name, err);
        if (rc != 0)
            return rc;
    }
    return 0;
bad:
    return fy_err_set(err, FERRY_ECONFIG,
                      "collection.path '%.80s' is not a path: \"$\", then"
                      " .name or [\"any name\"] for each member from the root",
                      path);
}

static int parse_collection(json_t *root, struct fy_mapping *m,
                            struct ferry_err *err)
{
    json_t *c = json_object_get(root, "collection");
    static const char *const keys[] = {"path", "type", NULL};
    const char *path, *type;
    int rc;

    if (!json_is_object(c))
        return fy_err_set(err, FERRY_ECONFIG, "mapping: \"collection\" %s",
                          c ? "must be an object {\"path\": ..., \"type\": ...}"
                            : "is missing");
    rc = check_keys(c, keys, "collection", err);
    if (rc == 0)
        rc = get_string(c, "path", true, "collection", &path, err);
    if (rc == 0)
        rc = get_string(c, "type", true, "collection", &type, err);
    if (rc != 0)
        return rc;
    if (strcmp(type, "object") == 0)
        m->object_collection = true;
    else if (strcmp(type, "array") != 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "collection: type '%.40s' is not \"object\" or"
                          " \"array\"",
                          type);
    return parse_path(m, path, err);
}

/* ---- one table's entry ----------------------------------------------- */

static int new_table(struct parse *p, struct fy_map_table *parent,
                     enum fy_map_kind kind, struct fy_map_table **out)
{
    struct fy_mapping *m = p->m;
    struct fy_map_table **tables, *t;

    *out = NULL;
    /* An array of pointers: the pointer's size is meant. */
    tables = fy_realloc(
        m->tables,
        (m->ntables + 1) *
            sizeof(*tables)); /* NOLINT(bugprone-sizeof-expression) */
    if (!tables)
        return nomem(p->err);
    m->tables = tables;
    t = fy_calloc(1, sizeof(*t));
    if (!t)
        return nomem(p->err);
    t->kind = kind;
    t->parent = parent;
    m->tables[m->ntables++] = t;
    *out = t;
    return 0;
}

/* SQLite folds case in names, so "Users" and "users" are one table. */
static int table_name(struct parse *p, json_t *jt, struct fy_map_table *t,
                      const char *place)
{
    const char *name;
    int rc = get_string(jt, "table", true, place, &name, p->err);

    if (rc != 0)
        return rc;
    /* ferry_ is where the SQLite store keeps its own tables. */
    if (!fy_ident_valid(name) || strncasecmp(name, "ferry_", 6) == 0 ||
        strlen(name) > 56)
        return fy_err_set(p->err, FERRY_ECONFIG,
                          "%s: table name '%.80s' is not valid (letters,"
                          " digits and _; at most 56; not starting with a"
                          " digit, _ferry or ferry_)",
                          place, name);
    for (size_t i = 0; i + 1 < p->m->ntables; i++) {
        if (strcasecmp(p->m->tables[i]->table, name) == 0)
            return fy_err_set(p->err, FERRY_ECONFIG,
                              "%s: table '%s' is mapped twice (names are"
                              " compared without case)",
                              place, name);
    }
    t->table = fy_strdup(name);
    return t->table ? 0 : nomem(p->err);
}

static int parse_column(const char *field, json_t *spec, const char *place,
                        struct fy_map_col *c, struct ferry_err *err)
{
    char cplace[PLACE_LEN + 80];
    const char *type = json_string_value(spec), *column = field;
    int rc = 0;

    snprintf(cplace, sizeof(cplace), "%s: columns[\"%.60s\"]", place, field);
    c->field = fy_strdup(field);
    if (!c->field)
        return nomem(err);
    if (json_is_object(spec)) {
        rc = check_keys(spec, column_keys, cplace, err);
        if (rc == 0)
            rc = get_string(spec, "type", true, cplace, &type, err);
        if (rc == 0)
            rc = get_string(spec, "column", false, cplace, &column, err);
        if (rc == 0 && !column)
            column = field;
        if (rc == 0)
            rc = get_bool(spec, "required", cplace, &c->required, err);
        if (rc == 0)
            rc = get_bool(spec, "omit_null", cplace, &c->omit_null, err);
    } else if (!type) {
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: must be a type name or an object {\"type\":"
                          " ..., \"column\": ...}",
                          cplace);
    }
    if (rc == 0)
        rc = type_of(type, cplace, "type", &c->type, err);
    if (rc == 0 && !fy_ident_valid(column))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: '%.80s' is not a column name (letters, digits"
                          " and _, at most 63, not starting with a digit or"
                          " _ferry): give one with \"column\"",
                          cplace, column);
    if (rc == 0)
        rc = column_name(column, cplace, "column", &c->column, err);
    return rc;
}

static int parse_columns(json_t *jt, struct fy_map_table *t, const char *place,
                         struct ferry_err *err)
{
    json_t *jc = json_object_get(jt, "columns"), *spec;
    const char *field;
    int rc;

    if (!jc)
        return 0;
    if (!json_is_object(jc))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"columns\" must be an object of field: type",
                          place);
    t->cols = fy_calloc(json_object_size(jc) + 1, sizeof(*t->cols));
    if (!t->cols)
        return nomem(err);
    json_object_foreach(jc, field, spec)
    {
        rc = parse_column(field, spec, place, &t->cols[t->ncols++], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int parse_ignore(json_t *jt, struct fy_map_table *t, const char *place,
                        struct ferry_err *err)
{
    json_t *ji = json_object_get(jt, "ignore"), *v;
    size_t i;

    if (!ji)
        return 0;
    if (!json_is_array(ji))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"ignore\" must be an array of field names",
                          place);
    t->ignore = fy_calloc(json_array_size(ji) + 1, sizeof(*t->ignore));
    if (!t->ignore)
        return nomem(err);
    json_array_foreach(ji, i, v)
    {
        if (!json_is_string(v))
            return fy_err_set(err, FERRY_ECONFIG,
                              "%s: ignore[%zu] must be a string", place, i);
        t->ignore[t->nignore] = fy_strdup(json_string_value(v));
        if (!t->ignore[t->nignore])
            return nomem(err);
        t->nignore++;
    }
    return 0;
}

static int parse_rest(json_t *jt, struct fy_map_table *t, const char *place,
                      struct ferry_err *err)
{
    const char *rest;
    int rc = get_string(jt, "rest", false, place, &rest, err);

    if (rc < 0 || !rest)
        return rc;
    return column_name(rest, place, "rest", &t->rest_column, err);
}

/* Room for the key: the parent's part (named by parent_key), then own. */
static int alloc_key(struct fy_map_table *t, size_t n, struct ferry_err *err)
{
    t->key_cols = fy_calloc(n + 1, sizeof(*t->key_cols));
    t->key_types = fy_calloc(n + 1, sizeof(*t->key_types));
    t->key_field = fy_calloc(n + 1, sizeof(*t->key_field));
    if (!t->key_cols || !t->key_types || !t->key_field)
        return nomem(err);
    return 0;
}

static int add_key(struct fy_map_table *t, const char *name, enum fy_type type,
                   const char *place, const char *what, struct ferry_err *err)
{
    int rc = column_name(name, place, what, &t->key_cols[t->nkey], err);

    if (rc != 0)
        return rc;
    t->key_types[t->nkey++] = type;
    return 0;
}

static int parse_parent_key(json_t *jt, struct fy_map_table *t, size_t own,
                            const char *place, struct ferry_err *err)
{
    const struct fy_map_table *parent = t->parent;
    json_t *jp = json_object_get(jt, "parent_key"), *v;
    size_t i;
    int rc;

    if (!json_is_array(jp))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"parent_key\" %s (the names, in this table,"
                          " of the parent's key columns)",
                          place, jp ? "must be an array" : "is missing");
    if (json_array_size(jp) != parent->nkey)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: parent_key has %zu name(s); the parent '%s'"
                          " has a key of %zu column(s), each needs one",
                          place, json_array_size(jp), parent->table,
                          parent->nkey);
    rc = alloc_key(t, parent->nkey + own, err);
    json_array_foreach(jp, i, v)
    {
        if (rc != 0)
            return rc;
        if (!json_is_string(v))
            return fy_err_set(err, FERRY_ECONFIG,
                              "%s: parent_key[%zu] must be a string", place, i);
        rc = add_key(t, json_string_value(v), parent->key_types[i], place,
                     "parent_key", err);
    }
    t->nparent_key = t->nkey;
    return rc;
}

/* A map's or a scalar array's value column and its type. */
static int parse_value(json_t *jt, struct fy_map_table *t, const char *place,
                       struct ferry_err *err)
{
    const char *col, *type;
    int rc = get_string(jt, "value_column", true, place, &col, err);

    if (rc == 0)
        rc = get_string(jt, "value_type", true, place, &type, err);
    if (rc == 0)
        rc = type_of(type, place, "value_type", &t->value_type, err);
    if (rc == 0)
        rc = column_name(col, place, "value_column", &t->value_column, err);
    return rc;
}

static int parse_children(struct parse *p, json_t *jt, struct fy_map_table *t,
                          const char *place, const char *path);

/*
 * The table's column names, in order: the key's (unless they are among
 * cols, as an array root's are), value, rest, then cols.
 */
static const char *name_at(const struct fy_map_table *t, bool array_root,
                           size_t i)
{
    size_t nkey = array_root ? 0 : t->nkey;

    if (i < nkey)
        return t->key_cols[i];
    i -= nkey;
    if (t->value_column && i-- == 0)
        return t->value_column;
    if (t->rest_column && i-- == 0)
        return t->rest_column;
    return i < t->ncols ? t->cols[i].column : NULL;
}

/* SQLite folds case in column names too. */
static int check_names(const struct fy_map_table *t, const char *place,
                       bool array_root, struct ferry_err *err)
{
    const char *a, *b;

    for (size_t i = 0; (a = name_at(t, array_root, i)); i++) {
        for (size_t j = 0; j < i; j++) {
            b = name_at(t, array_root, j);
            if (strcasecmp(a, b) == 0)
                return fy_err_set(err, FERRY_ECONFIG,
                                  "%s: column '%s' appears twice (names are"
                                  " compared without case)",
                                  place, a);
        }
    }
    return 0;
}

static const char *field_at(const struct fy_map_table *t, size_t i)
{
    if (i < t->ncols)
        return t->cols[i].field;
    i -= t->ncols;
    if (i < t->nchildren)
        return t->children[i]->field;
    return t->ignore[i - t->nchildren];
}

static int check_fields(const struct fy_map_table *t, const char *place,
                        struct ferry_err *err)
{
    size_t n = t->ncols + t->nchildren + t->nignore;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(field_at(t, i), field_at(t, j)) == 0)
                return fy_err_set(err, FERRY_ECONFIG,
                                  "%s: field \"%.60s\" is mapped twice"
                                  " (columns, children and ignore name"
                                  " different fields)",
                                  place, field_at(t, i));
        }
    }
    return 0;
}

/* columns, rest, ignore and children: a record's or an element's object. */
static int parse_fields(struct parse *p, json_t *jt, struct fy_map_table *t,
                        const char *place, const char *path)
{
    int rc = parse_columns(jt, t, place, p->err);

    if (rc == 0)
        rc = parse_rest(jt, t, place, p->err);
    if (rc == 0)
        rc = parse_ignore(jt, t, place, p->err);
    if (rc == 0)
        rc = check_names(t, place, false, p->err);
    if (rc == 0)
        rc = parse_children(p, jt, t, place, path);
    if (rc == 0)
        rc = check_fields(t, place, p->err);
    return rc;
}

static int parse_kind(json_t *jt, const char *place, enum fy_map_kind *out,
                      struct ferry_err *err)
{
    const char *kind;
    int rc = get_string(jt, "kind", true, place, &kind, err);

    if (rc != 0)
        return rc;
    for (size_t i = FY_MAP_OBJECT; i < FY_ARRAY_LEN(kind_names); i++) {
        if (strcmp(kind, kind_names[i]) == 0) {
            *out = (enum fy_map_kind)i;
            return 0;
        }
    }
    return fy_err_set(err, FERRY_ECONFIG,
                      "%s: kind '%.40s' is not \"object\", \"map\" or"
                      " \"array\"",
                      place, kind);
}

/* The kind-specific part of a child: its own key column and its values. */
static int parse_child_body(struct parse *p, json_t *jt, struct fy_map_table *t,
                            const char *place, const char *path)
{
    struct ferry_err *err = p->err;
    const char *own = NULL;
    int rc = 0;

    if (t->kind == FY_MAP_MAP)
        rc = get_string(jt, "key_column", true, place, &own, err);
    else if (t->kind == FY_MAP_ARRAY)
        rc = get_string(jt, "index_column", true, place, &own, err);
    if (rc == 0)
        rc = parse_parent_key(jt, t, own ? 1 : 0, place, err);
    if (rc == 0 && own) {
        rc = add_key(
            t, own, t->kind == FY_MAP_MAP ? FY_T_TEXT : FY_T_BIGINT, place,
            t->kind == FY_MAP_MAP ? "key_column" : "index_column", err);
        t->disc_column = rc == 0 ? t->key_cols[t->nkey - 1] : NULL;
    }
    if (rc != 0)
        return rc;
    if (t->kind == FY_MAP_MAP ||
        (t->kind == FY_MAP_ARRAY && json_object_get(jt, "value_column"))) {
        static const char *const objs[] = {"columns", "children", "rest",
                                           "ignore"};

        for (size_t i = 0; i < FY_ARRAY_LEN(objs); i++) {
            if (json_object_get(jt, objs[i]))
                return fy_err_set(err, FERRY_ECONFIG,
                                  "%s: \"%s\" is for objects; this %s's"
                                  " values go to value_column",
                                  place, objs[i], kind_names[t->kind]);
        }
        rc = parse_value(jt, t, place, err);
        return rc < 0 ? rc : check_names(t, place, false, err);
    }
    if (json_object_get(jt, "value_type"))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"value_type\" needs a \"value_column\"", place);
    return parse_fields(p, jt, t, place, path);
}

static int parse_child(struct parse *p, json_t *jt, struct fy_map_table *parent,
                       const char *place, const char *path)
{
    static const char *const *const keys_of[] = {NULL, object_keys, map_keys,
                                                 array_keys};
    /* Set by parse_kind; GCC -O2 cannot tell and warns. */
    enum fy_map_kind kind = FY_MAP_OBJECT;
    struct fy_map_table *t;
    const char *field;
    int rc;

    if (!json_is_object(jt))
        return fy_err_set(p->err, FERRY_ECONFIG, "%s: must be an object",
                          place);
    rc = parse_kind(jt, place, &kind, p->err);
    if (rc == 0)
        rc = check_keys(jt, keys_of[kind], place, p->err);
    if (rc == 0)
        rc = get_string(jt, "field", true, place, &field, p->err);
    if (rc == 0)
        rc = new_table(p, parent, kind, &t);
    if (rc != 0)
        return rc;
    parent->children[parent->nchildren++] = t;
    t->field = fy_strdup(field);
    if (!t->field)
        return nomem(p->err);
    rc = table_name(p, jt, t, place);
    if (rc == 0)
        rc = get_bool(jt, "omit_null", place, &t->omit_null, p->err);
    if (rc == 0)
        rc = parse_child_body(p, jt, t, place, path);
    return rc;
}

/*
 * A child's place in messages is its path from the root with its field,
 * "children[0].children[2] (font)"; path is the parent's, "" for the root.
 */
static int parse_children(struct parse *p, json_t *jt, struct fy_map_table *t,
                          const char *place, const char *path)
{
    json_t *jc = json_object_get(jt, "children"), *v;
    size_t i;

    if (!jc)
        return 0;
    if (!json_is_array(jc))
        return fy_err_set(p->err, FERRY_ECONFIG,
                          "%s: \"children\" must be an array", place);
    t->children = fy_calloc(
        json_array_size(jc) + 1,
        sizeof(*t->children)); /* NOLINT(bugprone-sizeof-expression) */
    if (!t->children)
        return nomem(p->err);
    json_array_foreach(jc, i, v)
    {
        const char *field = json_string_value(json_object_get(v, "field"));
        char cpath[PLACE_LEN], cplace[PLACE_LEN + 48];
        int rc;

        snprintf(cpath, sizeof(cpath), "%s%schildren[%zu]", path,
                 path[0] ? "." : "", i);
        snprintf(cplace, sizeof(cplace), "%s (%.40s)", cpath,
                 field ? field : "?");
        rc = parse_child(p, v, t, cplace, cpath);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One name of an array root's key: a column of the records, once. */
static int array_key(struct fy_map_table *t, json_t *v, size_t i,
                     struct ferry_err *err)
{
    const char *name = json_string_value(v);
    const struct fy_map_col *c = NULL;
    int rc;

    for (size_t j = 0; name && j < t->ncols && !c; j++) {
        if (strcmp(t->cols[j].column, name) == 0)
            c = &t->cols[j];
    }
    for (size_t j = 0; c && j < t->nkey; j++) {
        if (strcmp(t->key_cols[j], name) == 0)
            c = NULL;
    }
    if (!c) {
        fy_err_set(err, FERRY_ECONFIG,
                   "mapping: key[%zu] '%.60s' is not a column of the records"
                   " (or is repeated)",
                   i, name ? name : "(not a string)");
        return FERRY_ECONFIG;
    }
    if (c->type == FY_T_JSONB) {
        fy_err_set(err, FERRY_ECONFIG,
                   "mapping: key column '%s' is jsonb: a key needs a scalar"
                   " type",
                   name);
        return FERRY_ECONFIG;
    }
    rc = add_key(t, name, c->type, "mapping", "key", err);
    if (rc == 0)
        t->key_field[t->nkey - 1] = c->field;
    return rc;
}

/* The root's key: a member name column, or columns of the record. */
static int parse_root_key(json_t *root, struct fy_mapping *m,
                          struct fy_map_table *t, struct ferry_err *err)
{
    json_t *jk = json_object_get(root, "key"), *v;
    const char *key;
    size_t i;
    int rc;

    if (m->object_collection) {
        rc = get_string(root, "key", true, "mapping", &key, err);
        if (rc == 0)
            rc = alloc_key(t, 1, err);
        if (rc == 0)
            rc = add_key(t, key, FY_T_TEXT, "mapping", "key", err);
        if (rc == 0)
            t->disc_column = t->key_cols[0];
        return rc;
    }
    if (json_is_string(jk))
        jk = json_pack("[O]", jk);
    else if (json_is_array(jk) && json_array_size(jk) > 0)
        json_incref(jk);
    else
        return fy_err_set(err, FERRY_ECONFIG,
                          "mapping: \"key\" %s (an \"array\" collection is"
                          " keyed by its records' columns: a name or an"
                          " array of names)",
                          jk ? "must be a column name or an array of them"
                             : "is missing");
    rc = jk ? alloc_key(t, json_array_size(jk), err) : nomem(err);
    json_array_foreach(jk, i, v)
    {
        if (rc == 0)
            rc = array_key(t, v, i, err);
    }
    json_decref(jk);
    return rc;
}

static int parse_root(struct parse *p, json_t *root)
{
    struct fy_map_table *t;
    int rc;

    if (!json_is_object(root))
        return fy_err_set(p->err, FERRY_ECONFIG,
                          "mapping: must be a JSON object");
    rc = check_keys(root, root_keys, "mapping", p->err);
    if (rc == 0)
        rc = parse_collection(root, p->m, p->err);
    if (rc == 0)
        rc = new_table(p, NULL, FY_MAP_ROOT, &t);
    if (rc == 0)
        rc = table_name(p, root, t, "mapping");
    if (rc != 0)
        return rc;
    if (p->m->object_collection) {
        /* The key column first: the children's parent_key needs it. */
        rc = parse_root_key(root, p->m, t, p->err);
        return rc < 0 ? rc : parse_fields(p, root, t, "mapping", "");
    }
    /* An array's key names columns: parse them first, then the rest. */
    rc = parse_columns(root, t, "mapping", p->err);
    if (rc == 0)
        rc = parse_root_key(root, p->m, t, p->err);
    if (rc == 0)
        rc = parse_rest(root, t, "mapping", p->err);
    if (rc == 0)
        rc = parse_ignore(root, t, "mapping", p->err);
    if (rc == 0)
        rc = check_names(t, "mapping", true, p->err);
    if (rc == 0)
        rc = parse_children(p, root, t, "mapping", "");
    if (rc == 0)
        rc = check_fields(t, "mapping", p->err);
    return rc;
}

int fy_mapping_parse(const char *text, size_t len, struct fy_mapping **out,
                     struct ferry_err *err)
{
    struct parse p = {.err = err};
    json_error_t jerr;
    json_t *root;
    int rc;

    *out = NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fy_err_set(err, FERRY_ECONFIG, "mapping: line %d column %d: %s",
                          jerr.line, jerr.column, jerr.text);
    p.m = fy_calloc(1, sizeof(*p.m));
    rc = p.m ? parse_root(&p, root) : nomem(err);
    json_decref(root);
    if (rc < 0) {
        fy_mapping_free(p.m);
        return rc;
    }
    *out = p.m;
    return 0;
}

int fy_mapping_load(const char *path, struct fy_mapping **out,
                    struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(16 << 20);
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc;

    *out = NULL;
    if (!f)
        return fy_err_set(err, FERRY_ECONFIG, "cannot open mapping '%s': %s",
                          path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fy_buf_add(&b, chunk, n);
    if (ferror(f) || fy_buf_error(&b)) {
        rc = fy_err_set(err, FERRY_ECONFIG, "cannot read mapping '%s'", path);
    } else {
        rc = fy_mapping_parse(b.data, b.len, out, err);
        /* Name the file: the messages name places inside it. */
        if (rc < 0 && err) {
            char msg[sizeof(err->msg)];

            memcpy(msg, err->msg, sizeof(msg));
            fy_err_set(err, rc, "%s: %s", path, msg);
        }
    }
    fclose(f);
    fy_buf_release(&b);
    return rc;
}

/* ---- back to the file format ----------------------------------------- */

static bool plain_name(const char *s)
{
    if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (; *s; s++) {
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') ||
              (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    }
    return true;
}

static json_t *path_to_json(const struct fy_mapping *m)
{
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j = NULL;

    fy_buf_addc(&b, '$');
    for (size_t i = 0; i < m->npath; i++) {
        if (plain_name(m->path[i])) {
            fy_buf_addf(&b, ".%s", m->path[i]);
        } else {
            json_t *s = json_string(m->path[i]);
            char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;

            fy_buf_addf(&b, "[%s]", q ? q : "\"\"");
            if (!q)
                b.err = FERRY_ENOMEM;
            free(q); /* jansson allocates with malloc */
            json_decref(s);
        }
    }
    if (!fy_buf_error(&b))
        j = json_stringn(b.data, b.len);
    fy_buf_release(&b);
    return j;
}

static json_t *columns_to_json(const struct fy_map_table *t)
{
    json_t *jc = json_object();

    for (size_t i = 0; jc && i < t->ncols; i++) {
        const struct fy_map_col *c = &t->cols[i];
        json_t *spec;

        if (strcmp(c->field, c->column) == 0 && !c->required && !c->omit_null)
            spec = json_string(fy_type_name(c->type));
        else
            spec = json_pack("{s:s}", "type", fy_type_name(c->type));
        if (spec && strcmp(c->field, c->column) != 0)
            json_object_set_new(spec, "column", json_string(c->column));
        if (spec && c->required)
            json_object_set_new(spec, "required", json_true());
        if (spec && c->omit_null)
            json_object_set_new(spec, "omit_null", json_true());
        json_object_set_new(jc, c->field, spec);
    }
    return jc;
}

static json_t *strings_to_json(char *const *s, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(s[i]));
    return a;
}

static json_t *table_to_json(const struct fy_map_table *t);

static void fields_to_json(json_t *j, const struct fy_map_table *t)
{
    json_object_set_new(j, "columns", columns_to_json(t));
    if (t->nchildren) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < t->nchildren; i++)
            json_array_append_new(a, table_to_json(t->children[i]));
        json_object_set_new(j, "children", a);
    }
    if (t->rest_column)
        json_object_set_new(j, "rest", json_string(t->rest_column));
    if (t->nignore)
        json_object_set_new(j, "ignore",
                            strings_to_json(t->ignore, t->nignore));
}

static json_t *table_to_json(const struct fy_map_table *t)
{
    json_t *j = json_object();

    if (!j)
        return NULL;
    json_object_set_new(j, "field", json_string(t->field));
    json_object_set_new(j, "kind", json_string(kind_names[t->kind]));
    json_object_set_new(j, "table", json_string(t->table));
    json_object_set_new(j, "parent_key",
                        strings_to_json(t->key_cols, t->nparent_key));
    if (t->kind == FY_MAP_MAP)
        json_object_set_new(j, "key_column", json_string(t->disc_column));
    if (t->kind == FY_MAP_ARRAY)
        json_object_set_new(j, "index_column", json_string(t->disc_column));
    if (t->value_column) {
        json_object_set_new(j, "value_column", json_string(t->value_column));
        json_object_set_new(j, "value_type",
                            json_string(fy_type_name(t->value_type)));
    } else {
        fields_to_json(j, t);
    }
    if (t->omit_null)
        json_object_set_new(j, "omit_null", json_true());
    return j;
}

json_t *fy_mapping_to_json(const struct fy_mapping *m)
{
    const struct fy_map_table *t = m->tables[0];
    json_t *j = json_object();

    if (!j)
        return NULL;
    json_object_set_new(j, "collection",
                        json_pack("{s:o?, s:s}", "path", path_to_json(m),
                                  "type",
                                  m->object_collection ? "object" : "array"));
    json_object_set_new(j, "table", json_string(t->table));
    if (t->nkey == 1)
        json_object_set_new(j, "key", json_string(t->key_cols[0]));
    else
        json_object_set_new(j, "key", strings_to_json(t->key_cols, t->nkey));
    fields_to_json(j, t);
    return j;
}
