/* SPDX-License-Identifier: MIT */
/*
 * SQL fragments shared by store/pg.c and store/sqlite.c.
 */
#include "store/sql.h"

#include <string.h>

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

static void drift_table(struct fy_buf *b, const struct fy_table *o,
                        const struct fy_table *t)
{
    drift_key(b, o, t);
    for (size_t i = 0; i < o->ncols; i++) {
        int col = fy_table_column(t, o->cols[i].name);

        if (col < 0)
            fy_buf_addf(b, "; table '%s': column '%s' was dropped", t->name,
                        o->cols[i].name);
        else if (t->cols[col].type != o->cols[i].type)
            fy_buf_addf(b,
                        "; table '%s': column '%s' changed type from %s to %s",
                        t->name, o->cols[i].name, fy_type_name(o->cols[i].type),
                        fy_type_name(t->cols[col].type));
    }
}

int fy_sql_contract_drift(const struct fy_contract *old,
                          const struct fy_contract *c, struct fy_buf *b)
{
    drift_version(b, old, c);
    for (size_t i = 0; i < old->ntables; i++) {
        const struct fy_table *t = fy_contract_table(c, old->tables[i].name);

        if (t)
            drift_table(b, &old->tables[i], t);
    }
    return b->len ? FERRY_ESCHEMA : fy_buf_error(b);
}

int fy_sql_drift_error(const char *recorded, const struct fy_contract *c,
                       struct ferry_err *err)
{
    struct fy_contract *old = NULL;
    struct fy_buf b = FY_BUF_INIT(0);
    int rc = fy_contract_parse(recorded, strlen(recorded), &old, err);

    if (rc < 0)
        return rc;
    rc = fy_sql_contract_drift(old, c, &b);
    if (rc == FERRY_ESCHEMA)
        rc = fy_err_set(err, FERRY_ESCHEMA,
                        "migrate would not apply these changes%s; nothing was"
                        " migrated",
                        b.data + 1);
    else if (rc < 0)
        rc = fy_err_set(err, rc, "out of memory");
    fy_contract_free(old);
    fy_buf_release(&b);
    return rc;
}
