/* SPDX-License-Identifier: MIT */
/*
 * The table contract: the server-owned list of synced tables, their columns
 * and types, primary key, the device and region columns ferryd stamps from
 * the API key, and blob-reference columns. Parsed from JSON (docs/contract.md)
 * and generated from a SQLite schema by `ferry contract`.
 */
#ifndef FY_CONTRACT_H
#define FY_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ferry/ferry_err.h"

/* Column types, named as in PostgreSQL. */
#define FY_TYPE_MAP(X)                                                         \
    X(BIGINT, "bigint")                                                        \
    X(INTEGER, "integer")                                                      \
    X(DOUBLE, "double precision")                                              \
    X(NUMERIC, "numeric")                                                      \
    X(TEXT, "text")                                                            \
    X(BOOLEAN, "boolean")                                                      \
    X(BYTEA, "bytea")                                                          \
    X(TIMESTAMPTZ, "timestamptz")                                              \
    X(DATE, "date")                                                            \
    X(JSONB, "jsonb")

enum fy_type {
#define FY_TYPE_ENUM(e, s) FY_T_##e,
    FY_TYPE_MAP(FY_TYPE_ENUM)
#undef FY_TYPE_ENUM
        FY_T__COUNT
};

struct fy_column {
    char *name;
    enum fy_type type;
    bool not_null;
    bool blob_ref; /* holds a SHA-256 of an uploaded blob */
    /*
     * "default": the wire JSON value (owned) a row that leaves the column
     * out gets when it is inserted (an update keeps the stored value); NULL
     * when the contract gives none (left out is NULL, as always).
     */
    json_t *def;
};

/*
 * Who reads a table's rows with GET /v1/changes (pull): every key, a
 * regional key only its region's rows, or nobody (push-only).
 */
enum fy_read { FY_READ_ALL = 0, FY_READ_REGION, FY_READ_NONE };

struct fy_table {
    char *name;
    struct fy_column *cols;
    size_t ncols;
    size_t *pk; /* indexes into cols, in key order */
    size_t npk;
    int device_col; /* index or -1 */
    int region_col; /* index or -1 */
    enum fy_read read;
};

struct fy_contract {
    long version;
    struct fy_table *tables;
    size_t ntables;
    char *checksum; /* hex SHA-256 of the canonical JSON */
};

/* Parses a contract; *out is returned owned (fy_contract_free). */
int fy_contract_parse(const char *text, size_t len, struct fy_contract **out,
                      struct ferry_err *err);
int fy_contract_load(const char *path, struct fy_contract **out,
                     struct ferry_err *err);
void fy_contract_free(struct fy_contract *c);

/* Borrowed table pointer or NULL. */
const struct fy_table *fy_contract_table(const struct fy_contract *c,
                                         const char *name);
/* Column index or -1. */
int fy_table_column(const struct fy_table *t, const char *name);
bool fy_table_is_pk(const struct fy_table *t, size_t col);

/*
 * The read scope a table gets without "read": push-only when the device
 * column is part of the key (device-local ids: other devices' rows would
 * collide with the local ones), the region's rows when the table has a
 * region column, else every row.
 */
enum fy_read fy_table_default_read(const struct fy_table *t);

/*
 * What differs from theirs (the server's contract) to ours (the app's),
 * one line per difference, each handed to line: "+ table T" and "- table
 * T" (a table only ours or only theirs has), "+ column T.C TYPE" and
 * "- column T.C TYPE", "~ column T.C: TYPE -> TYPE" (retyped), "~ column
 * T.C: not_null false -> true", "~ table T: key (a) -> (a, b)". Versions,
 * defaults and scopes are not compared. Returns how many lines.
 */
typedef void fy_contract_line_fn(const char *line, void *ud);
long fy_contract_diff(const struct fy_contract *theirs,
                      const struct fy_contract *ours, fy_contract_line_fn *line,
                      void *ud);

/* Canonical JSON of a contract (new reference, caller json_decref()s). */
json_t *fy_contract_to_json(const struct fy_contract *c);

const char *fy_type_name(enum fy_type t);
/* Parses a contract type name; -1 when unknown. */
int fy_type_parse(const char *name);
/*
 * Maps a SQLite declared column type to a contract type following SQLite's
 * affinity rules, refined for common names (BOOLEAN, DATE, DATETIME, JSON).
 * See docs/contract.md for the table.
 */
enum fy_type fy_type_from_sqlite(const char *decl);

/* True for [A-Za-z_][A-Za-z0-9_]{0,62} not starting with "_ferry". */
bool fy_ident_valid(const char *s);

#endif
