/* SPDX-License-Identifier: MIT */
/*
 * SQL fragments shared by store/pg.c and store/sqlite.c.
 */
#include "store/sql.h"

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
