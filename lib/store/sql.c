/* SPDX-License-Identifier: MIT */
/*
 * SQL shared by store/pg.c and store/sqlite.c: fragments of contract
 * table SQL, the contract drift check, and the dialect layer that turns a
 * template written once into either engine's spelling (fy_sql_run).
 */
#include "store/sql.h"

#include <assert.h>
#include <string.h>

#include "store/store_int.h"
#include "fy.h"

void fy_sql_cols(struct fy_buf *b, const struct fy_table *t, const char *prefix)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (i)
            fy_buf_adds(b, ", ");
        fy_buf_adds(b, prefix);
        fy_buf_add_ident(b, t->cols[i].name);
    }
}

void fy_sql_pk_match(struct fy_buf *b, const struct fy_table *t, const char *l,
                     const char *r)
{
    for (size_t i = 0; i < t->npk; i++) {
        const char *name = t->cols[t->pk[i]].name;

        fy_buf_addf(b, "%s%s.", i ? " AND " : "", l);
        fy_buf_add_ident(b, name);
        fy_buf_addf(b, " = %s.", r);
        fy_buf_add_ident(b, name);
    }
}

void fy_sql_pk_cols(struct fy_buf *b, const struct fy_table *t)
{
    for (size_t i = 0; i < t->npk; i++) {
        if (i)
            fy_buf_adds(b, ", ");
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
    }
}

void fy_sql_select_col(struct fy_buf *b, const struct fy_column *c,
                       const char *alias)
{
    const char *wrap = c->type == FY_T_BYTEA    ? "hex"
                       : c->type == FY_T_DOUBLE ? "real"
                                                : NULL;

    if (wrap)
        fy_buf_addf(b, "{%s:", wrap);
    fy_buf_adds(b, alias);
    fy_buf_add_ident(b, c->name);
    if (wrap)
        fy_buf_addc(b, '}');
}

const char *fy_sql_sqlite_type(enum fy_type t)
{
    switch (t) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
    case FY_T_BOOLEAN:
        return "INTEGER";
    case FY_T_DOUBLE:
        return "REAL";
    case FY_T_NUMERIC:
        return "NUMERIC";
    case FY_T_BYTEA:
        return "BLOB";
    default:
        return "TEXT";
    }
}

void fy_sql_col_defs(struct fy_buf *b, const struct fy_table *t, bool pg,
                     bool constraints)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const struct fy_column *c = &t->cols[i];

        fy_buf_add_ident(b, c->name);
        fy_buf_addf(b, " %s%s, ",
                    pg ? fy_type_name(c->type) : fy_sql_sqlite_type(c->type),
                    c->not_null && constraints ? " NOT NULL" : "");
    }
}

/* Old and new contracts define the same version differently? */
static void drift_version(struct fy_buf *b, const struct fy_contract *old,
                          const struct fy_contract *c)
{
    if (old->version == c->version && strcmp(old->checksum, c->checksum) != 0)
        fy_buf_addf(b,
                    "; version %ld was migrated with another contract: give"
                    " a changed contract a new version",
                    c->version);
    else if (old->version > c->version)
        fy_buf_addf(b,
                    "; the store is at contract version %ld, newer than this"
                    " contract's version %ld",
                    old->version, c->version);
}

static void key_names(struct fy_buf *b, const struct fy_table *t)
{
    for (size_t i = 0; i < t->npk; i++)
        fy_buf_addf(b, "%s%s", i ? ", " : "", t->cols[t->pk[i]].name);
}

static bool same_key(const struct fy_table *o, const struct fy_table *t)
{
    if (o->npk != t->npk)
        return false;
    for (size_t i = 0; i < o->npk; i++) {
        if (strcmp(o->cols[o->pk[i]].name, t->cols[t->pk[i]].name) != 0)
            return false;
    }
    return true;
}

/*
 * A table's primary key is its stored table's PRIMARY KEY: CREATE TABLE IF
 * NOT EXISTS would keep the old one, and every upsert's ON CONFLICT would
 * then fail (a 500 on every push of the table).
 */
static void drift_key(struct fy_buf *b, const struct fy_table *o,
                      const struct fy_table *t)
{
    if (same_key(o, t))
        return;
    fy_buf_addf(b, "; table '%s': primary key changed from (", t->name);
    key_names(b, o);
    fy_buf_adds(b, ") to (");
    key_names(b, t);
    fy_buf_adds(b, "): create the table under a new name");
}

/*
 * A dropped or retyped column is a problem unless its flag allows it; a
 * key column's type is the stored PRIMARY KEY's, so it stays one (a key
 * change is a new table; dropping a key column changes the key, above).
 */
static void drift_table(struct fy_buf *b, const struct fy_table *o,
                        const struct fy_table *t,
                        const struct fy_migrate_opts *mo)
{
    drift_key(b, o, t);
    for (size_t i = 0; i < o->ncols; i++) {
        int col = fy_table_column(t, o->cols[i].name);

        if (col < 0 && !(mo && mo->allow_drop))
            fy_buf_addf(b,
                        "; table '%s': column '%s' was dropped (--allow-drop"
                        " drops it from the store)",
                        t->name, o->cols[i].name);
        else if (col >= 0 && t->cols[col].type != o->cols[i].type &&
                 (fy_table_is_pk(t, (size_t)col) || !(mo && mo->allow_retype)))
            fy_buf_addf(b,
                        "; table '%s': column '%s' changed type from %s to"
                        " %s%s",
                        t->name, o->cols[i].name, fy_type_name(o->cols[i].type),
                        fy_type_name(t->cols[col].type),
                        fy_table_is_pk(t, (size_t)col)
                            ? " (a key column: give the table a new name)"
                            : " (--allow-retype converts its values)");
    }
}

int fy_sql_contract_drift(const struct fy_contract *old,
                          const struct fy_contract *c,
                          const struct fy_migrate_opts *o, struct fy_buf *b)
{
    drift_version(b, old, c);
    for (size_t i = 0; i < old->ntables; i++) {
        const struct fy_table *t = fy_contract_table(c, old->tables[i].name);

        if (t)
            drift_table(b, &old->tables[i], t, o);
    }
    return b->len ? FERRY_ESCHEMA : fy_buf_error(b);
}

int fy_sql_drift_error(const char *recorded, const struct fy_contract *c,
                       const struct fy_migrate_opts *o,
                       struct fy_contract **out, struct ferry_err *err)
{
    struct fy_contract *old = NULL;
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = fy_contract_parse(recorded, strlen(recorded), &old, err);

    if (rc < 0)
        return rc;
    rc = fy_sql_contract_drift(old, c, o, &b);
    if (rc == FERRY_ESCHEMA)
        rc = fy_err_set(err, FERRY_ESCHEMA,
                        "migrate would not apply these changes:%s; nothing was"
                        " migrated",
                        b.data + 1);
    else if (rc < 0)
        rc = fy_err_set(err, rc, "out of memory");
    if (rc == 0 && out) {
        fy_contract_free(*out);
        *out = old;
        old = NULL;
    }
    fy_contract_free(old);
    fy_buf_release(&b);
    return rc;
}

/* ---- the dialect layer -------------------------------------------------- */

struct expand {
    char *p;
    size_t len, cap;
    bool over, bad;
};

/* Counts what does not fit, so that a second try knows the size. */
static void put(struct expand *x, const char *s, size_t n)
{
    if (x->len + n >= x->cap)
        x->over = true;
    else
        memcpy(x->p + x->len, s, n);
    x->len += n;
}

static const char *word(const struct fy_sql_dialect *d, const char *name,
                        size_t n)
{
    for (size_t i = 0; i < d->nwords; i++) {
        if (strlen(d->words[i].name) == n &&
            memcmp(d->words[i].name, name, n) == 0)
            return d->words[i].text;
    }
    return NULL;
}

/* One {name} or {name:arg} token at s; returns what it consumed. */
static size_t expand_token(struct expand *x, const struct fy_sql_dialect *d,
                           const char *s)
{
    const char *end = strchr(s, '}');
    const char *colon = end ? memchr(s, ':', (size_t)(end - s)) : NULL;
    const char *name = s + 1, *text;
    size_t n = (size_t)((colon ? colon : end) - name);

    /* A template names only tokens its dialects define: a bug otherwise. */
    text = end ? word(d, name, n) : NULL;
    assert(text);
    if (!text) {
        x->bad = true;
        return strlen(s);
    }
    for (const char *t = text; *t; t++) {
        if (*t != '%' || !colon) {
            put(x, t, 1);
            continue;
        }
        for (const char *a = colon + 1; a < end; a++)
            put(x, *a == '$' ? &d->placeholder : a, 1);
    }
    return (size_t)(end - s) + 1;
}

/*
 * Templates are constants of ours, so expanding one needs no allocation:
 * out is a caller's array. Returns the length the expansion needs, which
 * is cap or more when it did not fit (out is then incomplete), or -1 for a
 * template naming a token the dialect lacks (a bug).
 */
static long expand(const struct fy_sql_dialect *d, const char *tpl, char *out,
                   size_t cap)
{
    struct expand x = {.p = out, .cap = cap};

    for (const char *s = tpl; *s && !x.bad;) {
        if (*s == '{') {
            s += expand_token(&x, d, s);
        } else if (*s == '$') {
            put(&x, &d->placeholder, 1);
            s++;
        } else {
            put(&x, s++, 1);
        }
    }
    out[x.over ? 0 : x.len] = '\0';
    return x.bad ? -1 : (long)x.len;
}

int fy_sql_expand(const struct fy_store *st, const char *tpl, struct fy_buf *b)
{
    const struct fy_sql_dialect *d = st->ops->sql->dialect;
    char probe[1];
    long n = expand(d, tpl, probe, sizeof(probe));

    if (n < 0)
        return FERRY_EINVAL;
    if (fy_buf_grow(b, (size_t)n + 1) < 0)
        return FERRY_ENOMEM;
    expand(d, tpl, b->data + b->len, (size_t)n + 1);
    b->len += (size_t)n;
    return 0;
}

const char *fy_sql_word(const struct fy_store *st, const char *name)
{
    const char *text = word(st->ops->sql->dialect, name, strlen(name));

    assert(text);
    return text ? text : "";
}

int fy_sql_run(struct fy_store *st, struct fy_sql_q *q, struct ferry_err *err)
{
    const struct fy_sql_dialect *d = st->ops->sql->dialect;
    char sql[4096], *big = NULL;
    long n;
    int rc;

    assert(q->nargs <= FY_SQL_MAX_ARGS);
    q->changes = 0;
    n = expand(d, q->sql, sql, sizeof(sql));
    /* Only DDL built from a contract (tables of many columns) gets here. */
    if (n >= (long)sizeof(sql)) {
        big = fy_malloc((size_t)n + 1);
        if (!big)
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        n = expand(d, q->sql, big, (size_t)n + 1);
    }
    if (n < 0)
        rc = fy_err_set(err, FERRY_ESTORE, "%s: bad statement", q->what);
    else
        rc = st->ops->sql->run(st, big ? big : sql, q, err);
    fy_free(big);
    return rc;
}
