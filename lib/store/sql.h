/* SPDX-License-Identifier: MIT */
/*
 * SQL text shared by the store backends: column lists, key predicates and
 * the DDL of contract tables. Identifiers come from a validated contract and
 * are still quoted; values never appear in SQL text (they are bound or
 * streamed through COPY).
 */
#ifndef FY_STORE_SQL_H
#define FY_STORE_SQL_H

#include "core/contract.h"
#include "store/store.h"
#include "util/buf.h"

/* "a", "b", "c" (all columns); prefix (may be "") is put before each. */
void fy_sql_cols(struct fy_buf *b, const struct fy_table *t,
                 const char *prefix);
/* l."k1" = r."k1" AND l."k2" = r."k2" */
void fy_sql_pk_match(struct fy_buf *b, const struct fy_table *t, const char *l,
                     const char *r);
/* "k1", "k2" */
void fy_sql_pk_cols(struct fy_buf *b, const struct fy_table *t);
/*
 * One column of a read, as readers want its text (pull, snapshots, the row
 * API): alias."c", bytea as hex ({hex:...}), reals with every bit
 * ({real:...}); no separator.
 */
void fy_sql_select_col(struct fy_buf *b, const struct fy_column *c,
                       const char *alias);
/*
 * Column definitions "a" bigint NOT NULL, ... with types for the dialect;
 * without NOT NULL when not constraints (staging tables also hold deletes,
 * which carry only the key).
 */
void fy_sql_col_defs(struct fy_buf *b, const struct fy_table *t, bool pg,
                     bool constraints);
/* SQLite declared type for a contract type. */
const char *fy_sql_sqlite_type(enum fy_type t);

/*
 * Changes from the recorded contract old to c that migrate cannot apply and
 * would otherwise ignore: the same version with another checksum, an older
 * version, a column dropped or retyped in a table both have. Adding tables
 * and columns is routine. Appends "; problem" per problem to b; returns
 * FERRY_ESCHEMA when there is one, else 0.
 */
int fy_sql_contract_drift(const struct fy_contract *old,
                          const struct fy_contract *c,
                          const struct fy_migrate_opts *o, struct fy_buf *b);

/*
 * The same, from the recorded contract's JSON text: FERRY_ESCHEMA with
 * every problem named in err, 0 when migrating is routine. A dropped or
 * retyped non-key column is no problem when o allows it. On 0 and with
 * out, *out (freed first) becomes the parsed recorded contract (owned).
 */
int fy_sql_drift_error(const char *recorded, const struct fy_contract *c,
                       const struct fy_migrate_opts *o,
                       struct fy_contract **out, struct ferry_err *err);

#endif
