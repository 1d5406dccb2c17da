/* SPDX-License-Identifier: MIT */
/*
 * `ferry contract`: the table contract generated from the tracked tables.
 * A table keyed by a local integer (the usual `id INTEGER PRIMARY KEY`,
 * numbered 1, 2, 3... on every device) gets the device column in its key,
 * stamped by ferryd, so two devices' row 1 are two rows in the store.
 * A table the config's "ferry.files" declares gets its blob column, which
 * the agent fills with the SHA-256 of the file the row names.
 * See capture.h and docs/contract.md.
 */
#include "capture/capture.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "capture/capture_int.h"
#include "fy.h"

struct contract_ctx {
    sqlite3 *db;
    const struct fy_contract_opts *o;
    json_t *tables;
    bool device_used, region_used;
    size_t files_used; /* files declarations whose table is tracked */
    struct ferry_err *err;
};

static void note(const struct contract_ctx *c, const char *table,
                 const char *fmt, ...) FY_PRINTF(3, 4);

static void note(const struct contract_ctx *c, const char *table,
                 const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    if (!c->o->note)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    c->o->note(table, msg, c->o->ud);
}

static bool is_global(const struct fy_contract_opts *o, const char *table)
{
    for (size_t i = 0; i < o->nglobal; i++) {
        if (strcasecmp(o->global[i], table) == 0)
            return true;
    }
    return false;
}

/* A key made only of integers is numbered by each device on its own. */
static bool local_key(const struct contract_ctx *c,
                      const struct fy_local_table *t)
{
    for (size_t i = 0; i < t->npk; i++) {
        enum fy_type ty = t->types[t->pk[i]];

        if (ty != FY_T_BIGINT && ty != FY_T_INTEGER)
            return false;
    }
    return !is_global(c->o, t->name);
}

static int find_col(const struct fy_local_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->ncols; i++) {
        if (strcmp(t->cols[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static json_t *column_json(const char *name, enum fy_type type, bool not_null)
{
    return json_pack("{s:s, s:s, s:b}", "name", name, "type",
                     fy_type_name(type), "not_null", not_null);
}

/*
 * "read" when --read asks for something else than the table's default
 * (docs/contract.md): NULL otherwise. A device-local table stays
 * push-only: other devices' ids would collide with the local ones.
 */
static const char *read_of(const struct fy_contract_opts *o, bool dev_in_key,
                           bool has_region)
{
    const char *def = dev_in_key ? "none" : has_region ? "region" : "all";

    if (!o->read || dev_in_key || strcmp(o->read, def) == 0 ||
        (strcmp(o->read, "region") == 0 && !has_region))
        return NULL;
    return o->read;
}

static const struct fy_file_decl *file_of(const struct contract_ctx *c,
                                          const char *table)
{
    for (size_t i = 0; i < c->o->nfiles; i++) {
        if (strcasecmp(c->o->files[i].table, table) == 0)
            return &c->o->files[i];
    }
    return NULL;
}

static int find_col_nocase(const struct fy_local_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (strcasecmp(t->cols[i], name) == 0)
            return (int)i;
    }
    return -1;
}

/*
 * The blob column of a declared table: the table's own (text) or one the
 * store alone has (the agent adds it to each row), in blob_columns.
 */
static json_t *blob_columns(const struct fy_local_table *t,
                            const struct fy_file_decl *f, json_t *cols)
{
    int b;

    if (!f)
        return json_array();
    b = find_col_nocase(t, f->blob_column);
    if (b < 0)
        json_array_append_new(cols,
                              column_json(f->blob_column, FY_T_TEXT, false));
    return json_pack("[s]", b < 0 ? f->blob_column : t->cols[b]);
}

/* Columns, device and region for t; dev is the device column or NULL. */
static json_t *table_json(struct contract_ctx *c,
                          const struct fy_local_table *t, const char *dev,
                          bool dev_in_key)
{
    json_t *cols = json_array(), *pk = json_array(), *blobs;
    const char *reg = c->o->region_col;
    int d = find_col(t, dev), r = find_col(t, reg);

    if (dev && d < 0) /* the device column exists only in the store */
        json_array_append_new(cols, column_json(dev, FY_T_TEXT, true));
    if (dev_in_key)
        json_array_append_new(pk, json_string(dev));
    for (size_t i = 0; i < t->ncols; i++)
        json_array_append_new(cols, column_json(t->cols[i], t->types[i],
                                                t->not_null[i] || (int)i == d));
    for (size_t i = 0; i < t->npk; i++)
        json_array_append_new(pk, json_string(t->cols[t->pk[i]]));
    if (r >= 0)
        c->region_used = true;
    blobs = blob_columns(t, file_of(c, t->name), cols);
    return json_pack("{s:s, s:o, s:o, s:s?, s:s?, s:o, s:s*}", "name", t->name,
                     "columns", cols, "primary_key", pk, "device_column", dev,
                     "region_column", r >= 0 ? reg : NULL, "blob_columns",
                     blobs, "read", read_of(c->o, dev_in_key, r >= 0));
}

static int check_names(const struct contract_ctx *c,
                       const struct fy_local_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (!fy_ident_valid(t->cols[i]))
            return fy_err_set(c->err, FERRY_EINVAL,
                              "table '%s': column name '%s' is not supported"
                              " (letters, digits and _ only)",
                              t->name, t->cols[i]);
    }
    return 0;
}

/* A scope column must hold text: ferryd writes the key's name into it. */
static int check_scope_type(const struct contract_ctx *c,
                            const struct fy_local_table *t, const char *col,
                            const char *option)
{
    int i = find_col(t, col);

    if (i >= 0 && t->types[i] != FY_T_TEXT)
        return fy_err_set(c->err, FERRY_EINVAL,
                          "table '%s': column '%s' is %s, but %s must be"
                          " text (choose another with %s)",
                          t->name, col, fy_type_name(t->types[i]), col, option);
    return 0;
}

/*
 * A declared table needs its path column; a blob column of its own must be
 * text (the store keeps the hash in it).
 */
static int check_file(struct contract_ctx *c, const struct fy_local_table *t)
{
    const struct fy_file_decl *f = file_of(c, t->name);
    int b;

    if (!f)
        return 0;
    c->files_used++;
    if (find_col_nocase(t, f->path_column) < 0)
        return fy_err_set(c->err, FERRY_EINVAL,
                          "ferry.files: table '%s' has no column '%s' for"
                          " the file's path",
                          t->name, f->path_column);
    b = find_col_nocase(t, f->blob_column);
    if (b >= 0 && t->types[b] != FY_T_TEXT)
        return fy_err_set(c->err, FERRY_EINVAL,
                          "ferry.files: column '%s' of table '%s' is %s, but"
                          " a blob column holds the file's SHA-256 as text",
                          t->cols[b], t->name, fy_type_name(t->types[b]));
    return 0;
}

/* Generated columns are computed from the others: never sent. */
static void note_generated(struct contract_ctx *c, const char *table)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(c->db,
                           "SELECT name FROM pragma_table_xinfo(?) WHERE"
                           " hidden IN (2, 3)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        note(c, table,
             "generated column '%s' is left out: it is computed from the"
             " other columns, so ferry does not send it (define it in the"
             " store if you need it there)",
             (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static const char *device_for(struct contract_ctx *c,
                              const struct fy_local_table *t, bool *in_key)
{
    const char *dev = c->o->device_col ? c->o->device_col : "device";
    char key[200] = "";

    *in_key = local_key(c, t);
    if (*in_key) {
        for (size_t i = 0; i < t->npk; i++)
            snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s%s",
                     i ? ", " : "", t->cols[t->pk[i]]);
        note(c, t->name,
             "key (%s) is numbered by each device, so the store's key is"
             " (%s, %s) and ferryd fills '%s' from the API key (if the app"
             " assigns these ids centrally: --global-key %s)",
             key, dev, key, dev, t->name);
        c->device_used = true;
        return dev;
    }
    if (c->o->device_col && find_col(t, dev) >= 0) {
        c->device_used = true;
        return dev;
    }
    return NULL;
}

static int add_table(const char *name, void *ud)
{
    struct contract_ctx *c = ud;
    struct fy_local_table t;
    const char *dev;
    bool in_key = false;
    int rc = fy_local_table_load(c->db, name, &t, c->err);

    if (rc < 0)
        return rc;
    rc = check_names(c, &t);
    dev = device_for(c, &t, &in_key);
    if (rc == 0 && dev)
        rc = check_scope_type(c, &t, dev, "--device-column");
    if (rc == 0 && c->o->region_col)
        rc = check_scope_type(c, &t, c->o->region_col, "--region-column");
    if (rc == 0)
        rc = check_file(c, &t);
    if (rc == 0) {
        note_generated(c, t.name);
        json_array_append_new(c->tables, table_json(c, &t, dev, in_key));
    }
    fy_local_table_release(&t);
    return rc;
}

static int check_opts(const struct fy_contract_opts *o, struct ferry_err *err)
{
    if (o->device_col && !fy_ident_valid(o->device_col))
        return fy_err_set(err, FERRY_EINVAL,
                          "--device-column '%s' is not a column name",
                          o->device_col);
    if (o->region_col && !fy_ident_valid(o->region_col))
        return fy_err_set(err, FERRY_EINVAL,
                          "--region-column '%s' is not a column name",
                          o->region_col);
    return 0;
}

/* A column named on the command line that no table uses is a mistake. */
static int check_used(const struct contract_ctx *c, struct ferry_err *err)
{
    if (c->o->device_col && !c->device_used)
        return fy_err_set(err, FERRY_EINVAL,
                          "--device-column '%s': no tracked table has that"
                          " column or a device-local key",
                          c->o->device_col);
    if (c->o->region_col && !c->region_used)
        return fy_err_set(err, FERRY_EINVAL,
                          "--region-column '%s': no tracked table has that"
                          " column",
                          c->o->region_col);
    for (size_t i = 0; c->files_used < c->o->nfiles && i < c->o->nfiles; i++) {
        bool tracked = false;

        for (size_t k = 0; k < json_array_size(c->tables); k++)
            tracked |= strcasecmp(json_string_value(json_object_get(
                                      json_array_get(c->tables, k), "name")),
                                  c->o->files[i].table) == 0;
        if (!tracked)
            return fy_err_set(err, FERRY_EINVAL,
                              "ferry.files names table '%s', which is not"
                              " tracked ('ferry track %s' first)",
                              c->o->files[i].table, c->o->files[i].table);
    }
    return 0;
}

int fy_capture_contract(sqlite3 *db, const struct fy_contract_opts *o,
                        json_t **out, struct ferry_err *err)
{
    struct contract_ctx c = {
        .db = db, .o = o, .tables = json_array(), .err = err};
    int rc = check_opts(o, err);

    *out = NULL;
    for (size_t i = 0; rc == 0 && i < o->nglobal; i++) {
        if (!fy_ident_valid(o->global[i]))
            rc = fy_err_set(err, FERRY_EINVAL,
                            "--global-key '%s' is not a table name",
                            o->global[i]);
    }
    if (rc == 0)
        rc = fy_capture_init(db, err);
    if (rc == 0)
        rc = fy_capture_each_tracked(db, add_table, &c, err);
    if (rc == 0)
        rc = check_used(&c, err);
    if (rc < 0) {
        json_decref(c.tables);
        return rc;
    }
    *out =
        json_pack("{s:i, s:o}", "version", (int)o->version, "tables", c.tables);
    return 0;
}
