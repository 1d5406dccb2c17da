/* SPDX-License-Identifier: MIT */
/*
 * The import (import.h). Each record is checked and turned into rows in
 * memory first (so a bad record writes nothing), then each row is compared
 * with the stored one and written only when it differs: an unchanged row
 * fires no capture trigger, so a second import queues nothing for push.
 * Keys seen go to TEMP tables: the root's finds duplicate records and,
 * with --delete-missing, the vanished ones; a child's, per record, the
 * rows of a record that vanished from it.
 */
#include "import/import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "agent/agent.h"
#include "import/reader.h"
#include "json/value.h"
#include "util/arena.h"
#include "util/sqlite_err.h"
#include "fy.h"

#define MAX_PROBLEMS 10 /* --dry-run lists the first problems */
#define NONE         ((size_t)-1)

enum ikind { IV_NULL = 0, IV_INT, IV_REAL, IV_TEXT };

struct ival {
    enum ikind kind;
    int64_t i;
    double d;
    const char *s;
    size_t len;
};

/* A table's columns in statement order: key first, then the others. */
struct itable {
    const struct fy_map_table *t;
    const char **names;
    enum fy_type *types;
    size_t n, nkey, nroot;
    size_t *col_pos; /* t->cols[i]'s position in names */
    size_t value_pos, rest_pos;
    bool exists;
    sqlite3_stmt *check, *ins, *upd, *seen, *stale, *unseen;
    uint64_t *absent, *nulls; /* per t->cols: for the round-trip note */
    uint64_t f_absent, f_null, f_empty; /* the field a child comes from */
};

struct irow {
    size_t table;
    struct ival *v;
};

struct imp {
    const struct fy_import_opts *o;
    sqlite3 *db;
    struct fy_reader_opts ro;
    struct itable *tabs;
    size_t ntabs;
    struct fy_import_result *res;
    struct ferry_err *err;

    /* The record at hand; everything below lives until the next one. */
    const struct fy_jrec *rec;
    struct fy_arena arena;
    struct irow *rows;
    size_t nrows, caprows;
    bool bad;
    char problem[600];
    sqlite3_stmt *root_seen;
    struct fy_buf sql;

    /* --to URL: rows go to ferryd's row API in batches per table. */
    struct fy_agent *agent;
    struct fy_buf *batch; /* per table: "[row,row" */
    size_t *nbatch;
    bool backed_up;
    bool sending; /* the second pass: the first only checked the file */
};

/* ---- layout ------------------------------------------------------------ */

static size_t table_index(const struct imp *im, const struct fy_map_table *t)
{
    for (size_t i = 0; i < im->ntabs; i++) {
        if (im->tabs[i].t == t)
            return i;
    }
    return NONE;
}

static int alloc_layout(struct itable *it, const struct fy_map_table *t)
{
    size_t max = t->nkey + t->ncols + 2;

    it->t = t;
    it->names = fy_calloc(max, sizeof(*it->names));
    it->types = fy_calloc(max, sizeof(*it->types));
    it->col_pos = fy_calloc(t->ncols + 1, sizeof(*it->col_pos));
    it->absent = fy_calloc(t->ncols + 1, sizeof(*it->absent));
    it->nulls = fy_calloc(t->ncols + 1, sizeof(*it->nulls));
    return it->names && it->types && it->col_pos && it->absent && it->nulls
               ? 0
               : -1;
}

/* The table's columns in statement order (struct itable). */
static int layout(struct imp *im, struct itable *it,
                  const struct fy_map_table *t, size_t nroot)
{
    bool array_root = t->kind == FY_MAP_ROOT && !im->o->m->object_collection;
    size_t n;

    if (alloc_layout(it, t) < 0)
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    for (n = 0; n < t->nkey; n++) {
        it->names[n] = t->key_cols[n];
        it->types[n] = t->key_types[n];
    }
    it->nkey = n;
    it->nroot = nroot;
    it->value_pos = it->rest_pos = NONE;
    if (t->value_column) {
        it->value_pos = n;
        it->names[n] = t->value_column;
        it->types[n++] = t->value_type;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        size_t k = NONE;

        for (size_t j = 0; array_root && j < t->nkey; j++) {
            if (t->key_field[j] == t->cols[i].field)
                k = j;
        }
        if (k != NONE) {
            it->col_pos[i] = k;
            continue;
        }
        it->col_pos[i] = n;
        it->names[n] = t->cols[i].column;
        it->types[n++] = t->cols[i].type;
    }
    if (t->rest_column) {
        it->rest_pos = n;
        it->names[n] = t->rest_column;
        it->types[n++] = FY_T_JSONB;
    }
    it->n = n;
    return 0;
}

/* ---- statements --------------------------------------------------------- */

static int exec(struct imp *im, const struct fy_buf *b)
{
    if (fy_buf_error(b))
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    if (sqlite3_exec(im->db, b->data, NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(im->db, "import", im->err);
    return 0;
}

static int prepare(struct imp *im, const char *table, sqlite3_stmt **st)
{
    struct fy_buf *b = &im->sql;
    char what[120];

    if (fy_buf_error(b))
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(im->db, b->data, -1, st, NULL) == SQLITE_OK)
        return 0;
    snprintf(what, sizeof(what), "table '%s' does not fit the mapping", table);
    fy_sqlite_fail(im->db, what, im->err);
    im->err->code = FERRY_ECONFIG;
    return FERRY_ECONFIG;
}

/* "k1" = ?1 AND "k2" = ?2 ... over the first n names, prefixed by alias. */
static void add_key_match(struct fy_buf *b, const struct itable *it, size_t n,
                          const char *alias)
{
    for (size_t i = 0; i < n; i++) {
        fy_buf_adds(b, i ? " AND " : "");
        fy_buf_adds(b, alias);
        fy_buf_add_ident(b, it->names[i]);
        fy_buf_addf(b, " = ?%zu", i + 1);
    }
}

static void add_seen_match(struct fy_buf *b, const struct itable *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fy_buf_addf(b, "%ss.c%zu IS t.", i ? " AND " : "", i);
        fy_buf_add_ident(b, it->names[i]);
    }
}

/*
 * jsonb and timestamptz columns are compared by value (same_special), not
 * text: a row pulled from PostgreSQL holds them as PostgreSQL writes them
 * ('{"by": "title"}', "2025-02-05 12:36:23+00").
 */
static bool special(enum fy_type t)
{
    return t == FY_T_JSONB || t == FY_T_TIMESTAMPTZ;
}

/*
 * "Is the stored row equal?": every column compared with IS, but the
 * special ones, which are selected for same_special.
 */
static int prepare_check(struct imp *im, struct itable *it)
{
    struct fy_buf *b = &im->sql;
    const char *tn = it->t->table;
    bool first = true;

    fy_buf_reset(b);
    fy_buf_adds(b, "SELECT ");
    for (size_t i = it->nkey; i < it->n; i++) {
        if (special(it->types[i]))
            continue;
        fy_buf_adds(b, first ? "" : " AND ");
        fy_buf_add_ident(b, it->names[i]);
        fy_buf_addf(b, " IS ?%zu", i + 1);
        first = false;
    }
    fy_buf_adds(b, first ? "1" : "");
    for (size_t i = it->nkey; i < it->n; i++) {
        if (!special(it->types[i]))
            continue;
        fy_buf_adds(b, ", ");
        fy_buf_add_ident(b, it->names[i]);
    }
    fy_buf_adds(b, " FROM ");
    fy_buf_add_ident(b, tn);
    fy_buf_adds(b, " WHERE ");
    add_key_match(b, it, it->nkey, "");
    return prepare(im, tn, &it->check);
}

static int prepare_writes(struct imp *im, struct itable *it)
{
    struct fy_buf *b = &im->sql;
    const char *tn = it->t->table;
    int rc;

    fy_buf_reset(b);
    fy_buf_adds(b, "INSERT INTO ");
    fy_buf_add_ident(b, tn);
    fy_buf_adds(b, " (");
    for (size_t i = 0; i < it->n; i++) {
        fy_buf_adds(b, i ? ", " : "");
        fy_buf_add_ident(b, it->names[i]);
    }
    fy_buf_adds(b, ") VALUES (");
    for (size_t i = 0; i < it->n; i++)
        fy_buf_addf(b, "%s?%zu", i ? ", " : "", i + 1);
    fy_buf_addc(b, ')');
    rc = prepare(im, tn, &it->ins);
    if (rc < 0 || it->n == it->nkey)
        return rc;
    fy_buf_reset(b);
    fy_buf_adds(b, "UPDATE ");
    fy_buf_add_ident(b, tn);
    fy_buf_adds(b, " SET ");
    for (size_t i = it->nkey; i < it->n; i++) {
        fy_buf_adds(b, i > it->nkey ? ", " : "");
        fy_buf_add_ident(b, it->names[i]);
        fy_buf_addf(b, " = ?%zu", i + 1);
    }
    fy_buf_adds(b, " WHERE ");
    add_key_match(b, it, it->nkey, "");
    return prepare(im, tn, &it->upd);
}

/*
 * A child's keys seen in the record at hand, and the rows of the record
 * (its root key: ?1..) that were not: deleted, or counted by --dry-run.
 */
static int prepare_seen(struct imp *im, struct itable *it, size_t i)
{
    struct fy_buf *b = &im->sql;
    const char *tn = it->t->table;
    int rc;

    fy_buf_reset(b);
    fy_buf_addf(b, "CREATE TEMP TABLE IF NOT EXISTS fyimp_seen_%zu (", i);
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%sc%zu", k ? ", " : "", k);
    fy_buf_adds(b, ", PRIMARY KEY (");
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%sc%zu", k ? ", " : "", k);
    fy_buf_addf(b, ")); DELETE FROM temp.fyimp_seen_%zu", i);
    rc = exec(im, b);
    if (rc < 0)
        return rc;
    fy_buf_reset(b);
    fy_buf_addf(b, "INSERT OR IGNORE INTO temp.fyimp_seen_%zu VALUES (", i);
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%s?%zu", k ? ", " : "", k + 1);
    fy_buf_addc(b, ')');
    rc = prepare(im, tn, &it->seen);
    if (rc < 0)
        return rc;
    fy_buf_reset(b);
    fy_buf_adds(b, im->o->dry_run ? "SELECT count(*) FROM " : "DELETE FROM ");
    fy_buf_add_ident(b, tn);
    fy_buf_adds(b, " AS t WHERE ");
    add_key_match(b, it, it->nroot, "t.");
    fy_buf_addf(b,
                " AND NOT EXISTS (SELECT 1 FROM temp.fyimp_seen_%zu s"
                " WHERE ",
                i);
    add_seen_match(b, it, it->nkey);
    fy_buf_addc(b, ')');
    rc = prepare(im, tn, &it->stale);
    if (rc < 0)
        return rc;
    fy_buf_reset(b);
    fy_buf_addf(b, "DELETE FROM temp.fyimp_seen_%zu", i);
    return prepare(im, tn, &it->unseen);
}

static int table_exists(struct imp *im, const char *name, bool *out)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(im->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                           " AND name = ?1 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(im->db, "import", im->err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fy_sqlite_fail_rc(im->db, rc, "import", im->err);
    return 0;
}

const char *fy_import_sqlite_type(enum fy_type t)
{
    switch (t) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return "BIGINT";
    case FY_T_DOUBLE:
        return "DOUBLE PRECISION";
    case FY_T_NUMERIC:
        return "NUMERIC";
    case FY_T_BOOLEAN:
        return "BOOLEAN";
    case FY_T_TIMESTAMPTZ:
        return "TIMESTAMPTZ";
    case FY_T_DATE:
        return "DATE";
    case FY_T_JSONB:
        return "TEXT JSON";
    case FY_T_BYTEA:
        return "BLOB";
    case FY_T_TEXT:
    default:
        return "TEXT";
    }
}

static int create_table(struct imp *im, const struct itable *it)
{
    struct fy_buf *b = &im->sql;

    fy_buf_reset(b);
    fy_buf_adds(b, "CREATE TABLE ");
    fy_buf_add_ident(b, it->t->table);
    fy_buf_adds(b, " (");
    for (size_t i = 0; i < it->n; i++) {
        fy_buf_adds(b, i ? ", " : "");
        fy_buf_add_ident(b, it->names[i]);
        fy_buf_addf(b, " %s%s", fy_import_sqlite_type(it->types[i]),
                    i < it->nkey ? " NOT NULL" : "");
    }
    fy_buf_adds(b, ", PRIMARY KEY (");
    for (size_t i = 0; i < it->nkey; i++) {
        fy_buf_adds(b, i ? ", " : "");
        fy_buf_add_ident(b, it->names[i]);
    }
    fy_buf_adds(b, "))");
    return exec(im, b);
}

static int setup_table(struct imp *im, size_t i)
{
    struct itable *it = &im->tabs[i];
    int rc = table_exists(im, it->t->table, &it->exists);

    if (rc < 0)
        return rc;
    if (!it->exists && !im->o->create)
        return fy_err_set(im->err, FERRY_ECONFIG,
                          "table '%s' does not exist (--create creates the"
                          " mapping's missing tables)",
                          it->t->table);
    if (!it->exists && !im->o->dry_run) {
        rc = create_table(im, it);
        it->exists = rc == 0;
    }
    if (rc == 0 && it->exists)
        rc = prepare_check(im, it);
    if (rc == 0 && it->exists && !im->o->dry_run)
        rc = prepare_writes(im, it);
    if (rc == 0 && it->exists && i > 0)
        rc = prepare_seen(im, it, i);
    return rc;
}

/* The root's keys seen: duplicates, and what --delete-missing keeps. */
static int setup_root_seen(struct imp *im)
{
    const struct itable *it = &im->tabs[0];
    struct fy_buf *b = &im->sql;
    int rc;

    fy_buf_reset(b);
    fy_buf_adds(b, "CREATE TEMP TABLE IF NOT EXISTS fyimp_root (");
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%sc%zu", k ? ", " : "", k);
    fy_buf_adds(b, ", PRIMARY KEY (");
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%sc%zu", k ? ", " : "", k);
    fy_buf_adds(b, ")); DELETE FROM temp.fyimp_root");
    rc = exec(im, b);
    if (rc < 0)
        return rc;
    fy_buf_reset(b);
    fy_buf_adds(b, "INSERT INTO temp.fyimp_root VALUES (");
    for (size_t k = 0; k < it->nkey; k++)
        fy_buf_addf(b, "%s?%zu", k ? ", " : "", k + 1);
    fy_buf_addc(b, ')');
    return prepare(im, it->t->table, &im->root_seen);
}

static int setup_http(struct imp *im)
{
    const struct fy_mapping *m = im->o->m;
    int rc = 0;

    im->tabs = fy_calloc(m->ntables, sizeof(*im->tabs));
    im->res->tables = fy_calloc(m->ntables, sizeof(*im->res->tables));
    im->batch = fy_calloc(m->ntables, sizeof(*im->batch));
    im->nbatch = fy_calloc(m->ntables, sizeof(*im->nbatch));
    if (!im->tabs || !im->res->tables || !im->batch || !im->nbatch)
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    im->ntabs = m->ntables;
    for (size_t i = 0; i < m->ntables; i++)
        fy_buf_init(&im->batch[i], 0);
    for (size_t i = 0; rc == 0 && i < m->ntables; i++)
        rc = layout(im, &im->tabs[i], m->tables[i], m->tables[0]->nkey);
    return rc == 0 ? setup_root_seen(im) : rc;
}

static int setup(struct imp *im)
{
    const struct fy_mapping *m = im->o->m;
    int rc = 0;

    im->tabs = fy_calloc(m->ntables, sizeof(*im->tabs));
    im->res->tables = fy_calloc(m->ntables, sizeof(*im->res->tables));
    if (!im->tabs || !im->res->tables)
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    im->ntabs = m->ntables;
    for (size_t i = 0; rc == 0 && i < m->ntables; i++)
        rc = layout(im, &im->tabs[i], m->tables[i], m->tables[0]->nkey);
    for (size_t i = 0; rc == 0 && i < m->ntables; i++)
        rc = setup_table(im, i);
    if (rc == 0)
        rc = setup_root_seen(im);
    return rc;
}

static void teardown(struct imp *im)
{
    for (size_t i = 0; i < im->ntabs; i++) {
        struct itable *it = &im->tabs[i];

        sqlite3_finalize(it->check);
        sqlite3_finalize(it->ins);
        sqlite3_finalize(it->upd);
        sqlite3_finalize(it->seen);
        sqlite3_finalize(it->stale);
        sqlite3_finalize(it->unseen);
        fy_free(it->names);
        fy_free(it->types);
        fy_free(it->col_pos);
        fy_free(it->absent);
        fy_free(it->nulls);
    }
    fy_free(im->tabs);
    sqlite3_finalize(im->root_seen);
    fy_free(im->rows);
    fy_arena_reset(&im->arena);
    fy_buf_release(&im->sql);
}

/* ---- problems ------------------------------------------------------------ */

/* The value as the message shows it: short, on one line. */
static void describe(struct fy_buf *b, const struct fy_jv *v)
{
    struct fy_buf d = FY_BUF_INIT(0);

    if (v->kind == FY_JV_OBJECT || v->kind == FY_JV_ARRAY) {
        fy_buf_adds(b, v->kind == FY_JV_OBJECT ? "an object" : "an array");
        return;
    }
    fy_jv_dump(&d, v);
    if (d.len > 60)
        fy_buf_addf(b, "%.56s...", d.data);
    else
        fy_buf_add(b, d.data, d.len);
    fy_buf_release(&d);
}

/*
 * Records the record's first problem: at v (NULL: the record), or at the
 * member field of v when field is set (an absent field).
 */
static bool problem(struct imp *im, const struct fy_jv *v, const char *field,
                    const char *what, const struct fy_jv *got)
{
    struct fy_buf b = FY_BUF_INIT(0);
    unsigned long line = v ? v->line : im->rec->line;

    if (im->bad)
        return false;
    im->bad = true;
    fy_buf_addf(&b, "%s:%lu: ", im->o->file, line);
    fy_jv_path(&b, &im->ro, im->rec, v);
    if (field)
        fy_jsonpath_add(&b, field, strlen(field));
    fy_buf_addf(&b, ": %s", what);
    if (got) {
        fy_buf_adds(&b, ", got ");
        describe(&b, got);
    }
    snprintf(im->problem, sizeof(im->problem), "%s",
             fy_buf_error(&b) ? "out of memory" : b.data);
    fy_buf_release(&b);
    return false;
}

/* ---- values ------------------------------------------------------------ */

static bool integral_text(const char *s)
{
    return strpbrk(s, ".eE") == NULL;
}

static bool conv_int(struct imp *im, const struct fy_jv *v, enum fy_type t,
                     struct ival *out)
{
    long long i;

    if (v->kind != FY_JV_NUMBER || !integral_text(v->text))
        return problem(im, v, NULL, "expected integer", v);
    errno = 0;
    i = strtoll(v->text, NULL, 10);
    if (errno == ERANGE ||
        (t == FY_T_INTEGER && (i < INT32_MIN || i > INT32_MAX)))
        return problem(im, v, NULL,
                       t == FY_T_INTEGER ? "expected 32-bit integer"
                                         : "expected 64-bit integer",
                       v);
    out->kind = IV_INT;
    out->i = i;
    return true;
}

static bool conv_number(struct imp *im, const struct fy_jv *v, enum fy_type t,
                        struct ival *out)
{
    double d;

    if (v->kind != FY_JV_NUMBER)
        return problem(im, v, NULL, "expected number", v);
    d = strtod(v->text, NULL);
    if (isinf(d))
        return problem(im, v, NULL,
                       "expected a number within the range of a double", v);
    if (t == FY_T_NUMERIC) {
        /* As written: the column's affinity decides, as for a push. */
        out->kind = IV_TEXT;
        out->s = v->text;
        out->len = v->len;
        return true;
    }
    out->kind = IV_REAL;
    out->d = d;
    return true;
}

/* timestamptz and date: value.c's checks, the ones a push gets. */
static bool conv_time(struct imp *im, const struct fy_jv *v, enum fy_type t,
                      struct ival *out)
{
    struct fy_column col = {.name = (char *)"value", .type = t};
    struct fy_val val;
    char why[200];
    json_t *j;
    int rc;

    if (v->kind != FY_JV_STRING)
        return problem(im, v, NULL,
                       t == FY_T_DATE ? "expected a date YYYY-MM-DD"
                                      : "expected an ISO 8601 timestamp",
                       v);
    j = json_stringn(v->text, v->len);
    if (!j)
        return problem(im, v, NULL, "out of memory", NULL);
    rc = fy_val_from_json(&col, j, NULL, &val, why, sizeof(why));
    json_decref(j);
    if (rc < 0)
        return problem(im, v, NULL,
                       t == FY_T_DATE ? "expected a date YYYY-MM-DD"
                                      : "expected an ISO 8601 timestamp",
                       v);
    out->kind = IV_TEXT;
    out->s = v->text;
    out->len = v->len;
    return true;
}

static bool conv_jsonb(struct imp *im, const struct fy_jv *v, struct ival *out)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *s;

    fy_jv_dump(&b, v);
    s = fy_buf_error(&b) ? NULL : fy_arena_strndup(&im->arena, b.data, b.len);
    out->kind = IV_TEXT;
    out->s = s;
    out->len = b.len;
    fy_buf_release(&b);
    return s ? true : problem(im, v, NULL, "out of memory", NULL);
}

/* v (non-NULL) as a value of type t; false (with the problem) if not one. */
static bool convert(struct imp *im, const struct fy_jv *v, enum fy_type t,
                    struct ival *out)
{
    memset(out, 0, sizeof(*out));
    if (v->kind == FY_JV_NULL)
        return true;
    switch (t) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return conv_int(im, v, t, out);
    case FY_T_DOUBLE:
    case FY_T_NUMERIC:
        return conv_number(im, v, t, out);
    case FY_T_BOOLEAN:
        if (v->kind != FY_JV_BOOL)
            return problem(im, v, NULL, "expected true or false", v);
        out->kind = IV_INT;
        out->i = v->boolean;
        return true;
    case FY_T_TIMESTAMPTZ:
    case FY_T_DATE:
        return conv_time(im, v, t, out);
    case FY_T_JSONB:
        return conv_jsonb(im, v, out);
    case FY_T_TEXT:
    case FY_T_BYTEA:
    default:
        if (v->kind != FY_JV_STRING)
            return problem(im, v, NULL, "expected string", v);
        out->kind = IV_TEXT;
        out->s = v->text;
        out->len = v->len;
        return true;
    }
}

/* ---- rows ---------------------------------------------------------------- */

static struct irow *new_row(struct imp *im, size_t table)
{
    struct irow *r;

    if (im->nrows == im->caprows) {
        size_t cap = im->caprows ? im->caprows * 2 : 64;
        struct irow *p = fy_realloc(im->rows, cap * sizeof(*p));

        if (!p)
            return NULL;
        im->rows = p;
        im->caprows = cap;
    }
    r = &im->rows[im->nrows];
    r->table = table;
    r->v = fy_arena_calloc(&im->arena, im->tabs[table].n, sizeof(*r->v));
    if (!r->v)
        return NULL;
    im->nrows++;
    return r;
}

static bool is_child_field(const struct fy_map_table *t, const struct fy_jv *m)
{
    for (size_t i = 0; i < t->nchildren; i++) {
        if (strlen(t->children[i]->field) == m->name_len &&
            memcmp(t->children[i]->field, m->name, m->name_len) == 0)
            return true;
    }
    return false;
}

static bool is_ignored(const struct fy_map_table *t, const struct fy_jv *m)
{
    for (size_t i = 0; i < t->nignore; i++) {
        if (strlen(t->ignore[i]) == m->name_len &&
            memcmp(t->ignore[i], m->name, m->name_len) == 0)
            return true;
    }
    return false;
}

static const struct fy_map_col *col_of(const struct fy_map_table *t,
                                       const struct fy_jv *m)
{
    /* A member name with a NUL in it names no column. */
    if (strlen(m->name) != m->name_len)
        return NULL;
    return fy_map_col_by_field(t, m->name);
}

/* Fields the mapping does not name, as one object for the rest column. */
static bool add_rest(struct imp *im, struct fy_buf *rest, const struct fy_jv *m)
{
    fy_buf_addc(rest, rest->len ? ',' : '{');
    fy_json_add_string(rest, m->name, m->name_len);
    fy_buf_addc(rest, ':');
    fy_jv_dump(rest, m);
    return fy_buf_error(rest) ? problem(im, m, NULL, "out of memory", NULL)
                              : true;
}

/*
 * Counts absent and null fields (the round-trip note) and checks the
 * required ones.
 */
static bool check_absent(struct imp *im, struct itable *it,
                         const struct fy_jv *obj)
{
    const struct fy_map_table *t = it->t;

    for (size_t i = 0; i < t->ncols; i++) {
        const struct fy_jv *m = fy_jv_get(obj, t->cols[i].field);

        if (!m)
            it->absent[i]++;
        else if (m->kind == FY_JV_NULL)
            it->nulls[i]++;
        if (!t->cols[i].required || (m && m->kind != FY_JV_NULL))
            continue;
        return m ? problem(im, m, NULL, "required, got null", NULL)
                 : problem(im, obj, t->cols[i].field,
                           "required field is absent", NULL);
    }
    return true;
}

/* The rest column's object, closed, into its value. */
static bool set_rest(struct imp *im, const struct itable *it,
                     const struct fy_jv *obj, struct fy_buf *rest,
                     struct ival *v)
{
    struct ival *r = &v[it->rest_pos];

    fy_buf_addc(rest, '}');
    r->kind = IV_TEXT;
    r->s = fy_buf_error(rest)
               ? NULL
               : fy_arena_strndup(&im->arena, rest->data, rest->len);
    r->len = rest->len;
    return r->s ? true : problem(im, obj, NULL, "out of memory", NULL);
}

/* The object's fields into the row's columns (ROOT, OBJECT, ARRAY). */
static bool fill_fields(struct imp *im, size_t ti, const struct fy_jv *obj,
                        struct ival *v)
{
    struct itable *it = &im->tabs[ti];
    const struct fy_map_table *t = it->t;
    struct fy_buf rest = FY_BUF_INIT(0);
    bool ok = true;

    if (obj->kind != FY_JV_OBJECT)
        return problem(im, obj, NULL, "expected an object", obj);
    for (const struct fy_jv *m = obj->first; ok && m; m = m->next) {
        const struct fy_map_col *c = col_of(t, m);

        if (c)
            ok = convert(im, m, c->type, &v[it->col_pos[c - t->cols]]);
        else if (is_child_field(t, m) || is_ignored(t, m))
            continue;
        else if (t->rest_column)
            ok = add_rest(im, &rest, m);
        else
            ok = problem(im, m, NULL, "field not in the mapping", NULL);
    }
    ok = ok && check_absent(im, it, obj);
    if (ok && rest.len)
        ok = set_rest(im, it, obj, &rest, v);
    fy_buf_release(&rest);
    return ok;
}

static bool emit_children(struct imp *im, size_t pti, const struct fy_jv *obj,
                          const struct ival *pkey);

/* A child row: the parent's key, then own (NULL for an object child). */
static struct irow *child_row(struct imp *im, size_t ti,
                              const struct ival *pkey, const struct ival *own)
{
    struct irow *r = new_row(im, ti);
    size_t np = im->tabs[ti].t->nparent_key;

    if (!r) {
        problem(im, NULL, NULL, "out of memory", NULL);
        return NULL;
    }
    memcpy(r->v, pkey, np * sizeof(*pkey));
    if (own)
        r->v[np] = *own;
    return r;
}

static bool emit_object(struct imp *im, size_t ti, const struct fy_jv *v,
                        const struct ival *pkey)
{
    struct irow *r;

    if (v->kind != FY_JV_OBJECT)
        return problem(im, v, NULL, "expected an object", v);
    r = child_row(im, ti, pkey, NULL);
    return r && fill_fields(im, ti, v, r->v) && emit_children(im, ti, v, r->v);
}

static bool emit_map(struct imp *im, size_t ti, const struct fy_jv *v,
                     const struct ival *pkey)
{
    const struct itable *it = &im->tabs[ti];

    if (v->kind != FY_JV_OBJECT)
        return problem(im, v, NULL, "expected an object", v);
    for (const struct fy_jv *m = v->first; m; m = m->next) {
        struct ival name = {.kind = IV_TEXT, .s = m->name, .len = m->name_len};
        struct irow *r = child_row(im, ti, pkey, &name);

        if (!r || !convert(im, m, it->t->value_type, &r->v[it->value_pos]))
            return false;
    }
    return true;
}

static bool emit_array(struct imp *im, size_t ti, const struct fy_jv *v,
                       const struct ival *pkey)
{
    const struct itable *it = &im->tabs[ti];

    if (v->kind != FY_JV_ARRAY)
        return problem(im, v, NULL, "expected an array", v);
    for (const struct fy_jv *e = v->first; e; e = e->next) {
        struct ival pos = {.kind = IV_INT, .i = (int64_t)e->index};
        struct irow *r = child_row(im, ti, pkey, &pos);

        if (!r)
            return false;
        if (it->t->value_column) {
            if (!convert(im, e, it->t->value_type, &r->v[it->value_pos]))
                return false;
        } else if (!fill_fields(im, ti, e, r->v) ||
                   !emit_children(im, ti, e, r->v)) {
            return false;
        }
    }
    return true;
}

static bool emit_children(struct imp *im, size_t pti, const struct fy_jv *obj,
                          const struct ival *pkey)
{
    const struct fy_map_table *pt = im->tabs[pti].t;

    for (size_t i = 0; i < pt->nchildren; i++) {
        const struct fy_map_table *c = pt->children[i];
        const struct fy_jv *v = fy_jv_get(obj, c->field);
        size_t ti = table_index(im, c);
        bool ok;

        /* Absent or null: no rows (those stored are deleted). */
        if (!v || v->kind == FY_JV_NULL) {
            im->tabs[ti].f_absent += !v;
            im->tabs[ti].f_null += v != NULL;
            continue;
        }
        if ((v->kind == FY_JV_OBJECT || v->kind == FY_JV_ARRAY) && v->n == 0 &&
            c->kind != FY_MAP_OBJECT)
            im->tabs[ti].f_empty++;
        if (c->kind == FY_MAP_OBJECT)
            ok = emit_object(im, ti, v, pkey);
        else if (c->kind == FY_MAP_MAP)
            ok = emit_map(im, ti, v, pkey);
        else
            ok = emit_array(im, ti, v, pkey);
        if (!ok)
            return false;
    }
    return true;
}

/* The record's rows, parents first; false (the problem set) when bad. */
static bool build_record(struct imp *im, const struct fy_jrec *rec)
{
    const struct itable *it = &im->tabs[0];
    struct irow *r = new_row(im, 0);

    if (!r)
        return problem(im, NULL, NULL, "out of memory", NULL);
    if (rec->dup)
        return problem(im, rec->dup, NULL, "duplicate member name", NULL);
    if (im->ro.object_collection) {
        r->v[0].kind = IV_TEXT;
        r->v[0].s = rec->key;
        r->v[0].len = rec->key_len;
    }
    if (!fill_fields(im, 0, rec->value, r->v))
        return false;
    for (size_t k = 0; k < it->nkey; k++) {
        if (r->v[k].kind == IV_NULL)
            return problem(im, rec->value, it->t->key_field[k],
                           "the key field is absent or null", NULL);
    }
    return emit_children(im, 0, rec->value, r->v);
}

/* ---- writing ------------------------------------------------------------- */

static void bind_vals(sqlite3_stmt *st, const struct ival *v, size_t n)
{
    int np = sqlite3_bind_parameter_count(st);

    for (int i = 0; i < np && (size_t)i < n; i++) {
        switch (v[i].kind) {
        case IV_INT:
            sqlite3_bind_int64(st, i + 1, v[i].i);
            break;
        case IV_REAL:
            sqlite3_bind_double(st, i + 1, v[i].d);
            break;
        case IV_TEXT:
            sqlite3_bind_text(st, i + 1, v[i].s, (int)v[i].len, SQLITE_STATIC);
            break;
        case IV_NULL:
        default:
            sqlite3_bind_null(st, i + 1);
        }
    }
}

/* Runs st with v bound; SQLITE_ROW's first column in *col0. */
static int run(struct imp *im, sqlite3_stmt *st, const struct ival *v, size_t n,
               int64_t *col0)
{
    int rc;

    bind_vals(st, v, n);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && col0)
        *col0 = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return rc;
    return fy_sqlite_fail_rc(im->db, rc, "import", im->err);
}

/* Two JSON texts for one value: equal as text, or as parsed JSON. */
static bool same_json(const char *a, size_t alen, const char *b, size_t blen)
{
    json_t *x, *y;
    bool same;

    if (alen == blen && memcmp(a, b, alen) == 0)
        return true;
    x = json_loadb(a, alen, JSON_DECODE_ANY, NULL);
    y = json_loadb(b, blen, JSON_DECODE_ANY, NULL);
    same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

/* Two timestamps for one instant: equal in value.c's canonical form. */
static bool same_time(struct imp *im, const char *a, size_t alen, const char *b,
                      size_t blen)
{
    struct fy_column col = {.name = (char *)"t", .type = FY_T_TIMESTAMPTZ};
    struct fy_val x = {.kind = FY_V_TEXT, .s = a, .len = alen};
    struct fy_val y = {.kind = FY_V_TEXT, .s = b, .len = blen};
    struct fy_buf key = FY_BUF_INIT(0);
    size_t bytes = 0;
    char why[128];
    bool same;

    if (alen == blen && memcmp(a, b, alen) == 0)
        return true;
    same = fy_val_key_canon(&col, &x, &im->arena, &key, &bytes, why,
                            sizeof(why)) == 0 &&
           fy_val_key_canon(&col, &y, &im->arena, &key, &bytes, why,
                            sizeof(why)) == 0 &&
           x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
    fy_buf_release(&key);
    return same;
}

/* The special columns check selected (from column 1 on) against v's. */
static bool same_special(struct imp *im, const struct itable *it,
                         sqlite3_stmt *st, const struct ival *v)
{
    int col = 1;

    for (size_t i = it->nkey; i < it->n; i++) {
        const char *s;
        size_t n;

        if (!special(it->types[i]))
            continue;
        s = (const char *)sqlite3_column_text(st, col);
        n = (size_t)sqlite3_column_bytes(st, col++);
        if (!s || v[i].kind == IV_NULL) {
            if (s || v[i].kind != IV_NULL)
                return false;
        } else if (it->types[i] == FY_T_JSONB
                       ? !same_json(s, n, v[i].s, v[i].len)
                       : !same_time(im, s, n, v[i].s, v[i].len)) {
            return false;
        }
    }
    return true;
}

/* SQLITE_ROW with *same set, SQLITE_DONE (no stored row), or an error. */
static int check_row(struct imp *im, struct itable *it, const struct ival *v,
                     int64_t *same)
{
    sqlite3_stmt *st = it->check;
    int rc;

    bind_vals(st, v, it->n);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *same = sqlite3_column_int(st, 0) && same_special(im, it, st, v);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    return fy_sqlite_fail_rc(im->db, rc, "import", im->err);
}

static int write_row(struct imp *im, const struct irow *r)
{
    struct itable *it = &im->tabs[r->table];
    struct fy_import_counts *c = &im->res->tables[r->table];
    int64_t same = 0;
    int rc;

    if (!it->exists) {
        c->created++; /* --dry-run --create: the table would be new */
        return 0;
    }
    rc = check_row(im, it, r->v, &same);
    if (rc < 0)
        return rc;
    if (rc == SQLITE_ROW && same) {
        c->unchanged++;
    } else if (rc == SQLITE_ROW) {
        c->updated++;
        if (!im->o->dry_run)
            rc = run(im, it->upd, r->v, it->n, NULL);
    } else {
        c->created++;
        if (!im->o->dry_run)
            rc = run(im, it->ins, r->v, it->n, NULL);
    }
    if (rc >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fy_sqlite_fail_rc(im->db, rc, "import", im->err);
    if (rc >= 0 && r->table > 0)
        rc = run(im, it->seen, r->v, it->nkey, NULL);
    return rc < 0 ? rc : 0;
}

/* Rows the record's children no longer have, children's children first. */
static int drop_stale(struct imp *im, const struct ival *root_key)
{
    for (size_t i = im->ntabs; i-- > 1;) {
        struct itable *it = &im->tabs[i];
        int64_t n = 0;
        int rc;

        if (!it->exists)
            continue;
        rc = run(im, it->stale, root_key, it->nroot, &n);
        if (rc < 0)
            return rc;
        im->res->tables[i].deleted +=
            im->o->dry_run ? (uint64_t)n : (uint64_t)sqlite3_changes(im->db);
        rc = run(im, it->unseen, NULL, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Writes the record's rows; 1 when its key was seen before. */
static int write_record(struct imp *im)
{
    const struct ival *key = im->rows[0].v;
    int rc = run(im, im->root_seen, key, im->tabs[0].nkey, NULL);

    if (rc < 0)
        return rc;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return 1;
    for (size_t i = 0; i < im->nrows; i++) {
        rc = write_row(im, &im->rows[i]);
        if (rc < 0)
            return rc;
    }
    return drop_stale(im, key);
}

static void say(struct imp *im, enum fy_import_msg kind, const char *text)
{
    if (im->o->msg)
        im->o->msg(im->o->ctx, kind, text);
}

/* ---- --to URL: ferryd's row API ------------------------------------------ */

static int make_backup(struct imp *im)
{
    char text[PATH_MAX + 40];
    int rc;

    if (im->o->dry_run || im->backed_up)
        return 0;
    rc =
        fy_import_backup(im->o->file, im->o->backup, &im->res->backup, im->err);
    if (rc < 0)
        return rc;
    im->backed_up = true;
    snprintf(text, sizeof(text), "the file's copy is %s", im->res->backup);
    say(im, FY_IMPORT_BACKUP, text);
    return 0;
}

/* A value in the wire encoding (docs/contract.md): what a push sends. */
static void add_wire(struct fy_buf *b, enum fy_type t, const struct ival *v)
{
    switch (v->kind) {
    case IV_INT:
        if (t == FY_T_BOOLEAN)
            fy_buf_adds(b, v->i ? "true" : "false");
        else
            fy_buf_addf(b, "%lld", (long long)v->i);
        break;
    case IV_REAL:
        fy_buf_addf(b, "%.17g", v->d);
        break;
    case IV_TEXT:
        /* jsonb holds JSON text, numeric the number as written. */
        if (t == FY_T_JSONB || t == FY_T_NUMERIC)
            fy_buf_add(b, v->s, v->len);
        else
            fy_json_add_string(b, v->s, v->len);
        break;
    case IV_NULL:
    default:
        fy_buf_adds(b, "null");
    }
}

static void add_row_json(struct fy_buf *b, const struct itable *it,
                         const struct ival *v)
{
    fy_buf_addc(b, '{');
    for (size_t i = 0; i < it->n; i++) {
        fy_buf_adds(b, i ? "," : "");
        fy_json_add_string(b, it->names[i], strlen(it->names[i]));
        fy_buf_addc(b, ':');
        add_wire(b, it->types[i], &v[i]);
    }
    fy_buf_addc(b, '}');
}

/* What ferryd answered a batch that was not a 200, as an error. */
static int refused(struct imp *im, const char *table,
                   const struct fy_http_reply *rep)
{
    json_t *j = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    const char *msg = json_string_value(
        json_object_get(json_object_get(j, "error"), "message"));
    int code = rep->status == 401   ? FERRY_EAUTH
               : rep->status == 403 ? FERRY_EFORBIDDEN
               : rep->status == 404 ? FERRY_ECONFIG
               : rep->status == 422 ? FERRY_ECONTRACT
                                    : FERRY_EHTTP;
    int rc = fy_err_status(im->err, code, (int)rep->status,
                           "ferryd refused rows of table '%s' (HTTP %ld):"
                           " %.300s",
                           table, rep->status, msg ? msg : "no message");

    json_decref(j);
    return rc;
}

/*
 * POSTs a table's batch. The Idempotency-Key is a hash of the table and
 * the rows: a batch retried, or sent again by a second run within 24
 * hours, is answered from ferryd's memory without writing again.
 */
static int flush_table(struct imp *im, size_t ti)
{
    struct fy_buf *b = &im->batch[ti];
    const char *table = im->tabs[ti].t->table;
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1], path[128], idem[96];
    const char *headers[] = {idem, NULL};
    struct fy_agent_request rq = {.step = "import"};
    const struct fy_http_reply *rep = NULL;
    json_t *j;
    int rc;

    if (im->nbatch[ti] == 0)
        return 0;
    rc = make_backup(im);
    if (rc < 0)
        return rc;
    fy_buf_addc(b, ']');
    if (fy_buf_error(b))
        return fy_err_set(im->err, FERRY_ENOMEM, "out of memory");
    SHA256((const unsigned char *)b->data, b->len, md);
    fy_hex(md, 12, hex);
    snprintf(idem, sizeof(idem), "Idempotency-Key: import-%s-%s", table, hex);
    snprintf(path, sizeof(path), "/v1/tables/%s/rows", table);
    rq.http.method = "POST";
    rq.http.path = path;
    rq.http.content_type = "application/json";
    rq.http.body = b->data;
    rq.http.len = b->len;
    rq.http.headers = headers;
    rc = fy_agent_request(im->agent, &rq, &rep, im->err);
    if (rc < 0)
        return rc;
    if (rep->status != 200)
        return refused(im, table, rep);
    j = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    im->res->tables[ti].created +=
        (uint64_t)json_integer_value(json_object_get(j, "created"));
    im->res->tables[ti].updated +=
        (uint64_t)json_integer_value(json_object_get(j, "updated"));
    json_decref(j);
    fy_buf_reset(b);
    im->nbatch[ti] = 0;
    return 0;
}

/* Every table's batch, parents first: a child never arrives before it. */
static int flush_all(struct imp *im)
{
    for (size_t i = 0; i < im->ntabs; i++) {
        int rc = flush_table(im, i);

        if (rc < 0)
            return rc;
    }
    return 0;
}

#define BATCH_ROWS  1000
#define BATCH_BYTES ((size_t)4 << 20)

/* The record's rows into the batches; 1 when its key was seen before. */
static int send_record(struct imp *im)
{
    const struct ival *key = im->rows[0].v;
    int rc = run(im, im->root_seen, key, im->tabs[0].nkey, NULL);

    if (rc < 0)
        return rc;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return 1;
    if (!im->sending)
        return 0;
    for (size_t i = 0; i < im->nrows; i++) {
        size_t ti = im->rows[i].table;
        struct fy_buf *b = &im->batch[ti];

        /*
         * A row's parents were added before it: flushed before it too.
         * Large rows flush sooner, well within ferryd's 16 MiB default
         * body limit.
         */
        if ((im->nbatch[ti] == BATCH_ROWS || b->len > BATCH_BYTES) &&
            (rc = flush_all(im)) < 0)
            return rc;
        fy_buf_addc(b, im->nbatch[ti] ? ',' : '[');
        add_row_json(b, &im->tabs[ti], im->rows[i].v);
        im->nbatch[ti]++;
    }
    return 0;
}

static int on_record(void *ctx, const struct fy_jrec *rec,
                     struct ferry_err *err)
{
    struct imp *im = ctx;
    int rc = 0;

    (void)err;
    im->rec = rec;
    im->bad = false;
    im->nrows = 0;
    fy_arena_reset(&im->arena);
    im->res->records++;
    if (build_record(im, rec)) {
        rc = im->agent ? send_record(im) : write_record(im);
        if (rc == 1)
            problem(im, NULL, NULL, "duplicate key", NULL);
    } else if (im->nrows > 0 && im->rows[0].v[0].kind != IV_NULL) {
        /* Kept by --delete-missing; a later one is a duplicate. */
        rc = run(im, im->root_seen, im->rows[0].v, im->tabs[0].nkey, NULL);
    }
    if (rc < 0)
        return rc;
    if (im->bad) {
        if (im->o->skip_bad) {
            im->res->skipped++;
            /* --to's first pass only checks: the second one says it. */
            if (!im->agent || im->sending)
                say(im, FY_IMPORT_SKIPPED, im->problem);
        } else if (im->o->dry_run) {
            if (im->res->problems++ < MAX_PROBLEMS)
                say(im, FY_IMPORT_PROBLEM, im->problem);
        } else {
            return fy_err_set(im->err, FERRY_EPARSE, "%s", im->problem);
        }
    }
    if (im->o->progress)
        im->o->progress(im->o->ctx, rec->offset, im->res->records);
    return 0;
}

static void on_skipped(void *ctx, const char *path, unsigned long line)
{
    struct imp *im = ctx;
    char text[400];

    snprintf(text, sizeof(text),
             "%s:%lu: %.300s is outside the collection: not imported",
             im->o->file, line, path);
    say(im, FY_IMPORT_NOTE, text);
}

/* --delete-missing: every table's rows of records the file lacks. */
static int delete_missing(struct imp *im)
{
    struct fy_buf *b = &im->sql;

    for (size_t i = im->ntabs; i-- > 0;) {
        struct itable *it = &im->tabs[i];
        sqlite3_stmt *st = NULL;
        int64_t n = 0;
        int rc;

        if (!it->exists)
            continue;
        fy_buf_reset(b);
        fy_buf_adds(b,
                    im->o->dry_run ? "SELECT count(*) FROM " : "DELETE FROM ");
        fy_buf_add_ident(b, it->t->table);
        fy_buf_adds(b, " AS t WHERE NOT EXISTS (SELECT 1 FROM"
                       " temp.fyimp_root s WHERE ");
        add_seen_match(b, it, it->nroot);
        fy_buf_addc(b, ')');
        rc = prepare(im, it->t->table, &st);
        if (rc == 0)
            rc = run(im, st, NULL, 0, &n);
        sqlite3_finalize(st);
        if (rc < 0)
            return rc;
        im->res->tables[i].deleted +=
            im->o->dry_run ? (uint64_t)n : (uint64_t)sqlite3_changes(im->db);
    }
    return 0;
}

/* A JSONPath for a table's field in every record: $.*.reading.theme. */
static void table_path(struct fy_buf *b, const struct imp *im,
                       const struct fy_map_table *t)
{
    if (!t->parent) {
        fy_buf_addc(b, '$');
        for (size_t i = 0; i < im->ro.npath; i++)
            fy_jsonpath_add(b, im->ro.path[i], strlen(im->ro.path[i]));
        fy_buf_adds(b, im->ro.object_collection ? ".*" : "[*]");
        return;
    }
    table_path(b, im, t->parent);
    fy_jsonpath_add(b, t->field, strlen(t->field));
    if (t->kind == FY_MAP_ARRAY)
        fy_buf_adds(b, "[*]");
}

enum form { FORM_ABSENT, FORM_NULL, FORM_EMPTY };

/* "; the export writes null for both" and the like. */
static void add_export_form(struct fy_buf *b, enum form wrote, int parts,
                            const char *empty)
{
    static const char *const all[] = {"it", "both", "all three"};
    static const char *const each[] = {"", " for both", " for all three"};

    if (wrote == FORM_ABSENT)
        fy_buf_addf(b, "; the export leaves %s out", all[parts - 1]);
    else
        fy_buf_addf(b, "; the export writes %s%s",
                    wrote == FORM_NULL ? "null" : empty, each[parts - 1]);
}

/*
 * The note for a field whose "no value" forms in the document (n[form]
 * records each) are not all the one the export writes (wrote), so the
 * round trip cannot give them back.
 */
static void note_forms(struct imp *im, const struct fy_map_table *t,
                       const char *field, const uint64_t n[3], enum form wrote,
                       const char *empty)
{
    static const char *const names[] = {"absent", "null", "empty"};
    struct fy_buf b = FY_BUF_INIT(0);
    int parts = 0;

    if (n[FORM_ABSENT] + n[FORM_NULL] + n[FORM_EMPTY] == n[wrote])
        return;
    fy_buf_adds(&b, "round trip: ");
    table_path(&b, im, t);
    fy_jsonpath_add(&b, field, strlen(field));
    fy_buf_adds(&b, " is");
    for (int f = FORM_ABSENT; f <= FORM_EMPTY; f++) {
        if (!n[f])
            continue;
        fy_buf_addf(&b, "%s %s in %llu%s", parts ? " and" : "", names[f],
                    (unsigned long long)n[f],
                    parts       ? ""
                    : n[f] == 1 ? " record"
                                : " records");
        parts++;
    }
    add_export_form(&b, wrote, parts, empty);
    if (!fy_buf_error(&b))
        say(im, FY_IMPORT_NOTE, b.data);
    fy_buf_release(&b);
}

static void round_trip_notes(struct imp *im)
{
    for (size_t i = 0; i < im->ntabs; i++) {
        const struct itable *it = &im->tabs[i];
        const struct fy_map_table *t = it->t;

        for (size_t c = 0; c < t->ncols; c++) {
            uint64_t n[3] = {it->absent[c], it->nulls[c], 0};

            note_forms(im, t, t->cols[c].field, n,
                       t->cols[c].omit_null ? FORM_ABSENT : FORM_NULL, NULL);
        }
        if (t->parent) {
            uint64_t n[3] = {it->f_absent, it->f_null, it->f_empty};
            enum form wrote = t->omit_null               ? FORM_ABSENT
                              : t->kind == FY_MAP_OBJECT ? FORM_NULL
                                                         : FORM_EMPTY;

            note_forms(im, t->parent, t->field, n, wrote,
                       t->kind == FY_MAP_MAP ? "{}" : "[]");
        }
    }
}

static int begin(struct imp *im)
{
    const char *sql = im->o->dry_run ? "BEGIN" : "BEGIN IMMEDIATE";

    if (sqlite3_exec(im->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(im->db, "import: begin", im->err);
    return 0;
}

static int finish(struct imp *im)
{
    int rc = 0;

    if (im->o->delete_missing)
        rc = delete_missing(im);
    if (rc == 0)
        round_trip_notes(im);
    if (rc == 0 && !im->o->dry_run) {
        rc = fy_import_backup(im->o->file, im->o->backup, &im->res->backup,
                              im->err);
        if (rc == 0 && im->res->backup) {
            char text[PATH_MAX + 40];

            snprintf(text, sizeof(text), "the file's copy is %s",
                     im->res->backup);
            say(im, FY_IMPORT_BACKUP, text);
        }
    }
    if (rc == 0 && !im->o->dry_run &&
        sqlite3_exec(im->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(im->db, "import: commit", im->err);
    return rc;
}

/* The state both kinds of import start from; res is emptied. */
static void imp_init(struct imp *im, const struct fy_import_opts *o,
                     struct fy_import_result *res, struct ferry_err *err)
{
    *im = (struct imp){
        .o = o,
        .res = res,
        .err = err,
        .arena = FY_ARENA_INIT(0),
        .sql = FY_BUF_INIT(0),
    };
    memset(res, 0, sizeof(*res));
    im->ro = (struct fy_reader_opts){
        .path = o->m->path,
        .npath = o->m->npath,
        .object_collection = o->m->object_collection,
        .record = on_record,
        .skipped = on_skipped,
        .ctx = im,
    };
}

int fy_import_sqlite(sqlite3 *db, const struct fy_import_opts *o,
                     struct fy_import_result *res, struct ferry_err *err)
{
    struct imp im;
    struct ferry_err local = {0};
    int rc;

    imp_init(&im, o, res, err ? err : &local);
    im.db = db;
    rc = begin(&im);
    if (rc == 0)
        rc = setup(&im);
    if (rc == 0)
        rc = fy_reader_read_file(o->file, &im.ro, im.err);
    if (rc == 0)
        rc = finish(&im);
    teardown(&im);
    if ((rc < 0 || o->dry_run) && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (rc < 0 && res->backup) {
        fy_free(res->backup);
        res->backup = NULL;
    }
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.fyimp_root", NULL, NULL, NULL);
    return rc;
}

static int second_pass(struct imp *im)
{
    im->sending = true;
    im->ro.skipped = NULL; /* noted once, in the first pass */
    im->res->records = im->res->skipped = 0;
    for (size_t i = 0; i < im->ntabs; i++) {
        memset(im->tabs[i].absent, 0,
               im->tabs[i].t->ncols * sizeof(*im->tabs[i].absent));
        memset(im->tabs[i].nulls, 0,
               im->tabs[i].t->ncols * sizeof(*im->tabs[i].nulls));
        im->tabs[i].f_absent = im->tabs[i].f_null = im->tabs[i].f_empty = 0;
    }
    if (sqlite3_exec(im->db, "DELETE FROM temp.fyimp_root", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fy_sqlite_fail(im->db, "import", im->err);
    return 0;
}

int fy_import_http(struct fy_agent *a, const struct fy_import_opts *o,
                   struct fy_import_result *res, struct ferry_err *err)
{
    struct imp im;
    struct ferry_err local = {0};
    int rc;

    imp_init(&im, o, res, err ? err : &local);
    im.agent = a;
    if (o->dry_run || o->create || o->delete_missing)
        return fy_err_set(im.err, FERRY_EINVAL,
                          "--to does not go with --dry-run, --create or"
                          " --delete-missing");
    /* A private temporary database ("") holds the keys seen. */
    if (sqlite3_open_v2("", &im.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = fy_err_set(im.err, FERRY_ENOMEM, "out of memory");
    else
        rc = begin(&im);
    if (rc == 0)
        rc = setup_http(&im);
    /*
     * Twice: the first pass checks the whole document, so that bad input
     * sends nothing, as a local import writes nothing.
     */
    if (rc == 0)
        rc = fy_reader_read_file(o->file, &im.ro, im.err);
    if (rc == 0)
        rc = second_pass(&im);
    if (rc == 0)
        rc = fy_reader_read_file(o->file, &im.ro, im.err);
    if (rc == 0)
        rc = flush_all(&im);
    if (rc == 0)
        round_trip_notes(&im);
    for (size_t i = 0; im.batch && i < im.ntabs; i++)
        fy_buf_release(&im.batch[i]);
    fy_free(im.batch);
    fy_free(im.nbatch);
    teardown(&im);
    sqlite3_close(im.db);
    return rc;
}

void fy_import_result_release(struct fy_import_result *res)
{
    if (!res)
        return;
    fy_free(res->tables);
    fy_free(res->backup);
    memset(res, 0, sizeof(*res));
}

/* ---- the copy of the file ------------------------------------------------ */

/* 1 when the two files hold the same bytes, 0 when not, <0 on errors. */
static int same_content(const char *a, const char *b)
{
    char x[65536], y[65536];
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    int same = fa >= 0 && fb >= 0 ? 1 : -1;

    while (same == 1) {
        ssize_t n = read(fa, x, sizeof(x)), m;

        if (n < 0) {
            same = -1;
            break;
        }
        m = n ? read(fb, y, (size_t)n) : read(fb, y, 1);
        if (m != n || memcmp(x, y, (size_t)n) != 0)
            same = m < 0 ? -1 : 0;
        if (n == 0)
            break;
    }
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return same;
}

/* Copies src to dst, which must not exist (O_EXCL: never overwritten). */
static int copy_new(const char *src, const char *dst, struct ferry_err *err)
{
    char buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    ssize_t n;

    if (in < 0 || out < 0) {
        rc = fy_err_set(
            err, out < 0 && errno == EEXIST ? FERRY_ECONFLICT : FERRY_EIO,
            "cannot copy %s to %s: %s", src, dst, strerror(errno));
        goto out;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        if (fy_write_all(out, buf, (size_t)n) < 0) {
            n = -1;
            break;
        }
    }
    if (n < 0 || fsync(out) < 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot copy %s to %s: %s", src, dst,
                        strerror(errno));
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot write %s: %s", dst,
                        strerror(errno));
    if (rc < 0 && out >= 0)
        unlink(dst);
    return rc;
}

int fy_import_backup(const char *file, const char *backup, char **made,
                     struct ferry_err *err)
{
    char base[PATH_MAX], path[PATH_MAX + 16];
    int n = snprintf(base, sizeof(base), backup ? "%s" : "%s.backup",
                     backup ? backup : file);

    *made = NULL;
    if (n < 0 || (size_t)n >= sizeof(base))
        return fy_err_set(err, FERRY_EINVAL, "backup path too long");
    for (int i = 0;; i++) {
        struct stat st;
        int rc;

        if (i == 1000)
            return fy_err_set(err, FERRY_ECONFLICT,
                              "%s and %s.1 to .999 all hold other copies:"
                              " name another with --backup",
                              base, base);

        if (i == 0)
            snprintf(path, sizeof(path), "%s", base);
        else
            snprintf(path, sizeof(path), "%s.%d", base, i);
        if (stat(path, &st) == 0) {
            if (same_content(file, path) == 1)
                break; /* an equal copy is kept as it is */
            continue;
        }
        rc = copy_new(file, path, err);
        if (rc == FERRY_ECONFLICT)
            continue; /* made by someone else meanwhile */
        if (rc < 0)
            return rc;
        break;
    }
    *made = fy_strdup(path);
    return *made ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}
