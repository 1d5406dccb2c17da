/* SPDX-License-Identifier: MIT */
/*
 * Typed column values on the server: a JSON value from a request is checked
 * against its contract column type and turned into a fy_val that both stores
 * consume (COPY text for PostgreSQL, sqlite3_bind_* for SQLite).
 */
#ifndef FY_VALUE_H
#define FY_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/contract.h"
#include "util/arena.h"
#include "util/buf.h"

/*
 * FY_V_ABSENT is a column a change does not name (a PATCH of some columns):
 * the stores keep its stored value, where FY_V_NULL writes NULL. A zeroed
 * value is NULL, so a full row (a push) never carries ABSENT by accident.
 */
enum fy_vkind {
    FY_V_NULL = 0,
    FY_V_INT,
    FY_V_REAL,
    FY_V_TEXT,
    FY_V_BLOB,
    FY_V_BOOL,
    FY_V_ABSENT
};

struct fy_val {
    enum fy_vkind kind;
    int64_t i;     /* INT, BOOL (0/1) */
    double d;      /* REAL */
    const char *s; /* TEXT, BLOB: borrowed from the JSON document or arena */
    size_t len;
    /*
     * A column the change leaves out that has a contract default (the
     * value above): an insert writes the default, an update keeps the
     * stored value, like ABSENT.
     */
    bool keep;
};

/* Left out by the change: an update keeps the stored value. */
static inline bool fy_val_left_out(const struct fy_val *v)
{
    return v->kind == FY_V_ABSENT || v->keep;
}

/*
 * One value of a request as its parser saw it, before the contract types
 * it: a scalar, or an object or array kept as a jansson tree (only jsonb
 * columns take those, so building the tree costs nothing on the hot path).
 * Integers are numbers without '.', 'e' or 'E', as jansson reads them.
 */
enum fy_jkind {
    FY_J_NULL = 0,
    FY_J_BOOL,
    FY_J_INT,
    FY_J_REAL,
    FY_J_STRING,
    FY_J_TREE
};

struct fy_jval {
    enum fy_jkind kind;
    int64_t i;     /* INT, BOOL (0/1) */
    double d;      /* REAL */
    const char *s; /* STRING: borrowed, len bytes */
    size_t len;
    bool terminated; /* s[len] is a NUL (jansson's strings, arena copies) */
    json_t *tree;    /* TREE: borrowed */
};

/* j as a fy_jval borrowing from it (NULL j is JSON null). */
void fy_jval_of_json(json_t *j, struct fy_jval *out);
/* v as a jansson value: new reference (a TREE's own), NULL without memory. */
json_t *fy_jval_json(const struct fy_jval *v);

/*
 * Converts v for column col. Returns 0, or FERRY_ECONTRACT with a message in
 * why (a human sentence naming the column). Memory for decoded blobs,
 * re-serialised JSON and the text of numerics, dates and times comes from a;
 * other text is borrowed from v.
 */
int fy_val_from_jval(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_arena *a, struct fy_val *out, char *why,
                     size_t whylen);
/* The same for a jansson value (NULL is JSON null). */
int fy_val_from_json(const struct fy_column *col, json_t *v, struct fy_arena *a,
                     struct fy_val *out, char *why, size_t whylen);

/*
 * Appends a value in PostgreSQL COPY text format (NULL and ABSENT as \N,
 * bytea as \x hex, text escaped).
 */
int fy_val_copy_text(struct fy_buf *b, const struct fy_val *v);

/* Appends a key text for a value as it is (hash/compare). */
int fy_val_key_text(struct fy_buf *b, const struct fy_val *v);

/*
 * The most bytes the values of one primary key may take together (text and
 * bytea by their bytes, other types 8 each, canonical numerics, times and
 * jsonb by their text): PostgreSQL's btree refuses index rows over about
 * 2.7 KB, and both stores must refuse the same keys.
 */
#define FY_KEY_MAX_BYTES 2048

/*
 * Puts a validated primary-key value of column col into its canonical form,
 * so that two values are one key to ferryd exactly when they are one key to
 * PostgreSQL, and the SQLite store holds them in one spelling:
 *   numeric      plain decimal without sign on zero, leading or trailing
 *                zeros (an integer value when it is one); at most 15
 *                significant digits unless a 64-bit integer
 *   double       -0 as 0
 *   timestamptz  the UTC instant, "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00",
 *                fractional seconds rounded to microseconds as PostgreSQL
 *   jsonb        sorted keys, integral numbers as integers
 *   others       as they are (one spelling already)
 * Rewrites *v (memory from a), appends the key text to key and adds the
 * value's size to *bytes. Returns 0, FERRY_ECONTRACT with why, or
 * FERRY_ENOMEM.
 */
int fy_val_key_canon(const struct fy_column *col, struct fy_val *v,
                     struct fy_arena *a, struct fy_buf *key, size_t *bytes,
                     char *why, size_t whylen);

/*
 * A value as a store prints it (fy_store_read_changes, fy_store_export:
 * bytea as hex digits, booleans as t/f or 1/0, reals with every bit) as
 * its wire JSON (contract.md), so that it can go through fy_val_from_json
 * like a pushed value. New reference; NULL only when out of memory.
 */
json_t *fy_val_store_json(const struct fy_column *col, const char *text);

#endif
