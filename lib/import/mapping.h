/* SPDX-License-Identifier: MIT */
/*
 * The mapping of a JSON document to tables (docs/import.md): where the
 * records are, which fields become columns of which types, which nested
 * objects and arrays become child tables and how their keys derive from
 * their parent's. Parsed strictly from a mapping file; shared by
 * `ferry import json`, `ferry export json` and `--infer` (which builds one
 * and writes it out with fy_mapping_to_json).
 */
#ifndef FY_MAPPING_H
#define FY_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/contract.h"
#include "ferry/ferry_err.h"

/* What a table's rows come from. */
enum fy_map_kind {
    FY_MAP_ROOT,   /* the collection's records */
    FY_MAP_OBJECT, /* a nested object: one row per parent record */
    FY_MAP_MAP,    /* an object with free-form member names: a row each */
    FY_MAP_ARRAY   /* an array: a row per element, keyed by position */
};

/* One field of a record (or element) object mapped to one column. */
struct fy_map_col {
    char *field;  /* the JSON member name (UTF-8, any text) */
    char *column; /* the column's name (an identifier) */
    enum fy_type type;
    bool required;  /* absent or null is bad input */
    bool omit_null; /* export leaves the field out when the column is NULL */
};

struct fy_map_table {
    enum fy_map_kind kind;
    char *table;                 /* the table's name (an identifier) */
    char *field;                 /* member of the parent; NULL for the root */
    struct fy_map_table *parent; /* borrowed; NULL for the root */

    /*
     * The table's whole key, in order: the parent's key columns under this
     * table's names for them (parent_key), then its own part (a map's
     * key_column, an array's index_column; the root's key). key_types
     * follow key_cols. For an array collection's root, key_field[i] is the
     * record field that key_cols[i] comes from; otherwise NULL (nkey
     * entries, each borrowed from cols[].field).
     */
    char **key_cols;
    enum fy_type *key_types;
    char **key_field;
    size_t nkey;
    size_t nparent_key; /* the first nparent_key of key_cols */

    char *disc_column;  /* MAP: member-name column; ARRAY: index column;
                           ROOT of an object collection: the key column;
                           NULL otherwise */
    char *value_column; /* MAP, ARRAY of scalars: the value's column */
    enum fy_type value_type;

    /* The element object's fields (ROOT, OBJECT, ARRAY of objects). */
    struct fy_map_col *cols;
    size_t ncols;
    char *rest_column; /* jsonb column for unnamed fields, or NULL */
    char **ignore;     /* fields skipped silently */
    size_t nignore;
    bool omit_null; /* child: export leaves the field out with no rows */

    struct fy_map_table **children; /* borrowed from fy_mapping.tables */
    size_t nchildren;
};

struct fy_mapping {
    char **path; /* the collection's path: member names from the root */
    size_t npath;
    bool object_collection; /* true: keyed by member name; false: array */
    /*
     * Every table, parents before children (the order an import writes in
     * and an export reads in); tables[0] is the root. Owned.
     */
    struct fy_map_table **tables;
    size_t ntables;
};

/*
 * Parses a mapping file's text. Strict: unknown or duplicate keys, bad
 * names, types or key references fail with FERRY_ECONFIG and a message that
 * names the place ("children[1] (preferences): value_type 'strng' is not a
 * type"). *out is owned by the caller (fy_mapping_free).
 */
int fy_mapping_parse(const char *text, size_t len, struct fy_mapping **out,
                     struct ferry_err *err);
int fy_mapping_load(const char *path, struct fy_mapping **out,
                    struct ferry_err *err);
void fy_mapping_free(struct fy_mapping *m);

/* The mapping as the file format (new reference; --infer writes it). */
json_t *fy_mapping_to_json(const struct fy_mapping *m);

/* The column a table's field maps to, or NULL. Borrowed. */
const struct fy_map_col *fy_map_col_by_field(const struct fy_map_table *t,
                                             const char *field);

#endif
