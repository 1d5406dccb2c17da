/* SPDX-License-Identifier: MIT */
/*
 * Typed column values on the server: a JSON value from a request is checked
 * against its contract column type and turned into a fy_val that both stores
 * consume (COPY text for PostgreSQL, sqlite3_bind_* for SQLite).
 */
#ifndef FY_VALUE_H
#define FY_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/contract.h"
#include "util/arena.h"
#include "util/buf.h"

enum fy_vkind {
    FY_V_NULL = 0,
    FY_V_INT,
    FY_V_REAL,
    FY_V_TEXT,
    FY_V_BLOB,
    FY_V_BOOL
};

struct fy_val {
    enum fy_vkind kind;
    int64_t i;     /* INT, BOOL (0/1) */
    double d;      /* REAL */
    const char *s; /* TEXT, BLOB: borrowed from the JSON document or arena */
    size_t len;
};

/*
 * Converts v for column col. Returns 0, or FERRY_ECONTRACT with a message in
 * why (a human sentence naming the column). Memory for decoded blobs and
 * re-serialised JSON comes from a; text is borrowed from v.
 */
int fy_val_from_json(const struct fy_column *col, json_t *v, struct fy_arena *a,
                     struct fy_val *out, char *why, size_t whylen);

/*
 * Appends a value in PostgreSQL COPY text format (NULL as \N, bytea as \x
 * hex, text escaped).
 */
int fy_val_copy_text(struct fy_buf *b, const struct fy_val *v);

/* Appends a canonical key text for a primary-key value (hash/compare). */
int fy_val_key_text(struct fy_buf *b, const struct fy_val *v);

#endif
