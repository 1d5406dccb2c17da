/* SPDX-License-Identifier: MIT */
/*
 * Outbox batching and settlement; see outbox.h and
 * docs/internals/capture.md.
 */
#include "capture/outbox.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "agent/agentdb.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "core/hlc.h"
#include "json/row.h"
#include "util/hash.h"
#include "fy.h"
#include "util/sqlite_err.h"

struct ob_table {
    struct fy_local_table t;
    sqlite3_stmt *sel; /* the row by key */
    char *missing;     /* why the table cannot be read, or NULL */
    /*
     * Encoded once, not once a row: the table's name as a JSON string, then
     * each column's "name": (key_at[i] .. key_at[i + 1] in names.data).
     */
    struct fy_buf names;
    size_t *key_at;
    /* A table of "ferry.files": its path column and the blob column. */
    const struct fy_file_decl *file;
    int path_col;          /* in t.cols */
    int blob_col;          /* in t.cols, or -1: the column is only sent */
    const char *blob_name; /* as sent */
};

struct fy_outbox {
    sqlite3 *db;
    struct ob_table *tables;
    size_t ntables;
    sqlite3_stmt *assign; /* UPDATE _ferry_outbox SET seq, hlc */
    sqlite3_stmt *drop;   /* DELETE FROM _ferry_outbox by rowid */
    char *held;           /* JSON array of tables whose capture is broken */
    size_t nheld;         /* how many: 0 is the usual case, and fast */
    const struct fy_file_decl *files; /* "ferry.files" (borrowed) */
    size_t nfiles;
    fy_outbox_file_fn *check; /* answers for a row's file */
    void *check_ud;
    struct fy_file_check chk; /* the last answer */
};

struct entry {
    int64_t rowid, wall, seq;
    uint64_t hlc;
    char *tbl;
    bool tbl_shared; /* tbl is the previous entry's: not freed with this */
    /* The key's values (sqlite3_value_dup'ed); NULL stands for SQL NULL. */
    sqlite3_value *pk[FY_KEY_COLS_MAX];
};

/* Every outbox column an entry is read from, in struct entry's order. */
#define ENTRY_COLS "rowid, tbl, wall, seq, hlc, " FY_OUTBOX_KEY_COLS

static int ob_fail(struct fy_outbox *ob, const char *what,
                   struct ferry_err *err)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "outbox %s", what);
    return fy_sqlite_fail(ob->db, msg, err);
}

void fy_batch_init(struct fy_batch *b)
{
    memset(b, 0, sizeof(*b));
    fy_buf_init(&b->body, 0);
}

static void batch_files_reset(struct fy_batch *b)
{
    for (size_t i = 0; i < b->nfiles; i++)
        fy_free(b->files[i]);
    b->nfiles = 0;
}

void fy_batch_release(struct fy_batch *b)
{
    batch_files_reset(b);
    fy_buf_release(&b->body);
    fy_free(b->items);
    fy_free(b->files);
    fy_batch_init(b);
}

/* The index of path in b->files, added if new; -1 when out of memory. */
static int batch_file(struct fy_batch *b, const char *path)
{
    for (size_t i = 0; i < b->nfiles; i++) {
        if (strcmp(b->files[i], path) == 0)
            return (int)i;
    }
    if (b->nfiles == b->files_cap) {
        size_t cap = b->files_cap ? 2 * b->files_cap : 16;
        char **p = fy_realloc(b->files, cap * sizeof(*p));

        if (!p)
            return -1;
        b->files = p;
        b->files_cap = cap;
    }
    b->files[b->nfiles] = fy_strdup(path);
    return b->files[b->nfiles] ? (int)b->nfiles++ : -1;
}

static int hold(const char *table, const char *problem, void *ud)
{
    (void)problem;
    return json_array_append_new(ud, json_string(table));
}

/*
 * Tables whose capture is broken keep their not yet numbered changes in
 * the outbox until `ferry track` repairs them: sent now they could only be
 * parked (a renamed table's rows cannot be read under the old name; new
 * columns are not in the contract yet). Numbered changes always go: their
 * seqs are part of the device's sequence.
 */
static int find_held(struct fy_outbox *ob, struct ferry_err *err)
{
    json_t *arr = json_array();
    char *text;
    int rc = arr ? fy_capture_check(ob->db, hold, arr, err) : FERRY_ENOMEM;

    ob->nheld = rc > 0 ? (size_t)rc : 0;
    text = rc >= 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (rc >= 0) {
        ob->held = text ? fy_strdup(text) : NULL;
        rc = ob->held ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    free(text); /* jansson's malloc */
    return rc;
}

int fy_outbox_new(sqlite3 *db, struct fy_outbox **out, struct ferry_err *err)
{
    struct fy_outbox *ob = fy_calloc(1, sizeof(*ob));
    int rc;

    *out = NULL;
    if (!ob)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    ob->db = db;
    fy_buf_init(&ob->chk.path, 0);
    rc = fy_capture_init(db, err);
    if (rc == 0)
        rc = find_held(ob, err);
    if (rc == 0 &&
        (sqlite3_prepare_v2(db,
                            "UPDATE _ferry_outbox SET seq = ?, hlc = ?"
                            " WHERE rowid = ?",
                            -1, &ob->assign, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(db, "DELETE FROM _ferry_outbox WHERE rowid = ?", -1,
                            &ob->drop, NULL) != SQLITE_OK))
        rc = ob_fail(ob, "prepare", err);
    if (rc < 0) {
        fy_outbox_free(ob);
        return rc;
    }
    *out = ob;
    return 0;
}

static void table_release(struct ob_table *ot)
{
    sqlite3_finalize(ot->sel);
    fy_local_table_release(&ot->t);
    fy_free(ot->missing);
    fy_buf_release(&ot->names);
    fy_free(ot->key_at);
}

void fy_outbox_free(struct fy_outbox *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->ntables; i++)
        table_release(&ob->tables[i]);
    fy_free(ob->tables);
    sqlite3_finalize(ob->assign);
    sqlite3_finalize(ob->drop);
    fy_free(ob->held);
    fy_buf_release(&ob->chk.path);
    fy_free(ob);
}

void fy_outbox_files(struct fy_outbox *ob, const struct fy_file_decl *files,
                     size_t n, fy_outbox_file_fn *check, void *ud)
{
    ob->files = files;
    ob->nfiles = n;
    ob->check = check;
    ob->check_ud = ud;
}

int fy_outbox_begin(struct fy_outbox *ob, struct ferry_err *err)
{
    if (sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ob_fail(ob, "begin", err);
    return 0;
}

int fy_outbox_commit(struct fy_outbox *ob, struct ferry_err *err)
{
    if (sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = ob_fail(ob, "commit", err);

        fy_outbox_rollback(ob);
        return rc;
    }
    return 0;
}

void fy_outbox_rollback(struct fy_outbox *ob)
{
    if (!sqlite3_get_autocommit(ob->db))
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- table cache ------------------------------------------------------ */

static void select_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    fy_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (i)
            fy_buf_adds(b, ", ");
        fy_buf_add_ident(b, t->cols[i]);
    }
    fy_buf_adds(b, " FROM ");
    fy_buf_add_ident(b, t->name);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? " AND " : " WHERE ");
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
        fy_buf_addf(b, " = ?%zu", i + 1);
    }
}

static int col_index(const struct fy_local_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (strcasecmp(t->cols[i], name) == 0)
            return (int)i;
    }
    return -1;
}

/* A table of "ferry.files": where its path is and where the hash goes. */
static int load_file_decl(struct fy_outbox *ob, struct ob_table *ot)
{
    char msg[300];

    for (size_t i = 0; i < ob->nfiles && !ot->file; i++) {
        if (strcasecmp(ob->files[i].table, ot->t.name) == 0)
            ot->file = &ob->files[i];
    }
    if (!ot->file)
        return 0;
    ot->path_col = col_index(&ot->t, ot->file->path_column);
    ot->blob_col = col_index(&ot->t, ot->file->blob_column);
    ot->blob_name =
        ot->blob_col >= 0 ? ot->t.cols[ot->blob_col] : ot->file->blob_column;
    if (ot->path_col >= 0)
        return 0;
    snprintf(msg, sizeof(msg),
             "ferry.files names column '%s' of table '%s' for the file's"
             " path, but the table has no such column",
             ot->file->path_column, ot->t.name);
    ot->missing = fy_strdup(msg);
    return ot->missing ? 0 : FERRY_ENOMEM;
}

/* The table's and columns' names as JSON, see struct ob_table. */
static int encode_names(struct ob_table *ot)
{
    struct fy_buf *b = &ot->names;
    int rc = 0;

    ot->key_at = fy_calloc(ot->t.ncols + 1, sizeof(*ot->key_at));
    if (!ot->key_at)
        return FERRY_ENOMEM;
    rc = fy_json_add_str(b, ot->t.name, strlen(ot->t.name));
    for (size_t i = 0; rc == 0 && i < ot->t.ncols; i++) {
        ot->key_at[i] = b->len;
        rc = fy_json_add_str(b, ot->t.cols[i], strlen(ot->t.cols[i]));
        fy_buf_addc(b, ':');
    }
    ot->key_at[ot->t.ncols] = b->len;
    if (fy_buf_error(b))
        return fy_buf_error(b);
    if (rc == 0)
        return 0;
    ot->missing = fy_strdup("its name or a column's is not valid UTF-8");
    return ot->missing ? 0 : FERRY_ENOMEM;
}

/* Appends column i's "name": (see encode_names). */
static void add_key(struct fy_buf *b, const struct ob_table *ot, size_t i)
{
    fy_buf_add(b, ot->names.data + ot->key_at[i],
               ot->key_at[i + 1] - ot->key_at[i]);
}

static int load_table(struct fy_outbox *ob, struct ob_table *ot,
                      const char *name)
{
    struct ferry_err e = {0};
    struct fy_buf b = FY_BUF_INIT(0);

    if (fy_local_table_load(ob->db, name, &ot->t, &e) < 0) {
        if (e.code == FERRY_ENOMEM)
            return FERRY_ENOMEM;
        ot->t.name = fy_strdup(name);
        ot->missing = fy_strdup(e.msg);
        return ot->t.name && ot->missing ? 0 : FERRY_ENOMEM;
    }
    if (ot->t.npk > FY_KEY_COLS_MAX) {
        ot->missing = fy_strdup("its primary key has more columns than ferry"
                                " captures");
        return ot->missing ? 0 : FERRY_ENOMEM;
    }
    select_sql(&b, &ot->t);
    if (fy_buf_error(&b) ||
        sqlite3_prepare_v2(ob->db, b.data, -1, &ot->sel, NULL) != SQLITE_OK)
        ot->missing = fy_strdup(sqlite3_errmsg(ob->db));
    fy_buf_release(&b);
    if (!ot->missing && encode_names(ot) < 0)
        return FERRY_ENOMEM;
    return ot->missing ? 0 : load_file_decl(ob, ot);
}

static struct ob_table *find_table(struct fy_outbox *ob, const char *name)
{
    struct ob_table *grown;

    for (size_t i = 0; i < ob->ntables; i++) {
        if (strcmp(ob->tables[i].t.name, name) == 0)
            return &ob->tables[i];
    }
    grown = fy_realloc(ob->tables, (ob->ntables + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    ob->tables = grown;
    memset(&grown[ob->ntables], 0, sizeof(*grown));
    fy_buf_init(&grown[ob->ntables].names, 0);
    if (load_table(ob, &grown[ob->ntables], name) < 0) {
        table_release(&grown[ob->ntables]); /* what it got before failing */
        return NULL;
    }
    return &ob->tables[ob->ntables++];
}

/* ---- encoding --------------------------------------------------------- */

/* One change being encoded: why it cannot be, and the file it waits for. */
struct enc {
    char why[300];
    const char *code; /* the dead letter's code when it cannot be sent */
    int file;         /* index in the batch's files, or -1 */
};

static int bind_key(struct ob_table *ot, const struct entry *e)
{
    for (size_t i = 0; i < ot->t.npk; i++) {
        int src = e->pk[i] ? sqlite3_bind_value(ot->sel, (int)i + 1, e->pk[i])
                           : sqlite3_bind_null(ot->sel, (int)i + 1);

        if (src != SQLITE_OK)
            return -1;
    }
    return 0;
}

/* Type and bytes equal: the identity SQLite itself gives the value. */
static bool same_value(sqlite3_value *a, sqlite3_value *b)
{
    int ta = a ? sqlite3_value_type(a) : SQLITE_NULL;
    int tb = sqlite3_value_type(b);
    double da, db;

    if (ta != tb)
        return false;
    switch (ta) {
    case SQLITE_NULL:
        return true;
    case SQLITE_INTEGER:
        return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT:
        da = sqlite3_value_double(a);
        db = sqlite3_value_double(b);
        return memcmp(&da, &db, sizeof(da)) == 0;
    default:
        /* sqlite3_value_blob() is NULL for an empty value: compare sizes. */
        return sqlite3_value_bytes(a) == sqlite3_value_bytes(b) &&
               (sqlite3_value_bytes(a) == 0 ||
                memcmp(sqlite3_value_blob(a), sqlite3_value_blob(b),
                       (size_t)sqlite3_value_bytes(a)) == 0);
    }
}

/*
 * The row the lookup found is this entry's row only if its key is the
 * entry's key exactly: under a NOCASE key column 'a' finds 'A', which is
 * another row for every store ferry writes to.
 */
static bool found_same_key(const struct ob_table *ot, const struct entry *e)
{
    for (size_t i = 0; i < ot->t.npk; i++) {
        if (!same_value(e->pk[i],
                        sqlite3_column_value(ot->sel, (int)ot->t.pk[i])))
            return false;
    }
    return true;
}

/*
 * A delete's key, encoded exactly as an upsert encodes the same columns
 * (the server must see one key, whichever way the row went).
 */
static int add_key_row(struct fy_buf *b, const struct ob_table *ot,
                       const struct entry *e, char *why, size_t whylen)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < ot->t.npk; i++) {
        size_t col = ot->t.pk[i];

        if (i)
            fy_buf_addc(b, ',');
        add_key(b, ot, col);
        if (!e->pk[i]) {
            rc = fy_buf_add(b, "null", 4);
            continue;
        }
        rc = fy_json_add_value(b, e->pk[i], ot->t.types[col], why, whylen);
    }
    return rc;
}

static int add_full_row(struct fy_buf *b, const struct ob_table *ot, char *why,
                        size_t whylen)
{
    bool first = true;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < ot->t.ncols; i++) {
        if (ot->file && (int)i == ot->blob_col)
            continue; /* the agent fills it: add_blob_col() */
        if (!first)
            fy_buf_addc(b, ',');
        first = false;
        add_key(b, ot, i);
        rc = fy_json_add_value(b, sqlite3_column_value(ot->sel, (int)i),
                               ot->t.types[i], why, whylen);
        if (rc < 0)
            snprintf(why + strlen(why), whylen - strlen(why), " (column '%s')",
                     ot->t.cols[i]);
    }
    return rc;
}

/* A path that is no text (or holds a NUL byte) names no file. */
static int bad_path(struct enc *x, const struct ob_table *ot, const char *what)
{
    snprintf(x->why, sizeof(x->why),
             "column '%s' of table '%s' holds %s, not a file path",
             ot->t.cols[ot->path_col], ot->t.name, what);
    x->code = "bad_path";
    return FERRY_EPARSE;
}

/*
 * The blob column of a row of a "ferry.files" table: the hash of the file
 * its path column names once the server holds it, NULL for a NULL path.
 * A file the server does not hold yet is added to the batch's files (the
 * batch must wait for it); one that cannot be sent parks the change.
 */
static int add_blob_col(struct fy_outbox *ob, const struct ob_table *ot,
                        struct fy_batch *bt, struct enc *x,
                        struct ferry_err *err)
{
    sqlite3_value *v = sqlite3_column_value(ot->sel, ot->path_col);
    /* The type first: reading the value as text converts it. */
    int type = sqlite3_value_type(v);
    const char *path = NULL;
    struct fy_buf *b = &bt->body;
    int rc;

    fy_buf_addc(b, ',');
    fy_json_add_str(b, ot->blob_name, strlen(ot->blob_name));
    fy_buf_addc(b, ':');
    if (type == SQLITE_NULL)
        return fy_buf_adds(b, "null");
    if (type != SQLITE_TEXT)
        return bad_path(x, ot, type == SQLITE_BLOB ? "a blob" : "a number");
    path = (const char *)sqlite3_value_text(v);
    if (!path)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (!*path || strlen(path) != (size_t)sqlite3_value_bytes(v))
        return bad_path(x, ot, *path ? "a NUL byte" : "an empty string");
    rc = ob->check(ob->check_ud, path, &ob->chk, err);
    if (rc < 0)
        return rc;
    if (ob->chk.state == FY_FILE_BAD) {
        snprintf(x->why, sizeof(x->why), "%s", ob->chk.why);
        x->code = ob->chk.code;
        return FERRY_EPARSE;
    }
    if (ob->chk.state == FY_FILE_READY)
        return fy_buf_addf(b, "\"%s\"", ob->chk.sha256);
    x->file = batch_file(bt, ob->chk.path.data);
    return x->file < 0 ? FERRY_ENOMEM : fy_buf_adds(b, "null");
}

/*
 * Appends one change to bt's body; FERRY_EPARSE (x->why, x->code set) when
 * it cannot be sent. *ot is the change's table.
 */
static int encode_entry(struct fy_outbox *ob, const struct entry *e,
                        struct fy_batch *bt, struct enc *x,
                        struct ob_table **otp, struct ferry_err *err)
{
    struct ob_table *ot = find_table(ob, e->tbl);
    struct fy_buf *b = &bt->body;
    char *why = x->why, hlc[FY_HLC_STRLEN + 1];
    size_t whylen = sizeof(x->why);
    bool found;
    int src, rc;

    *otp = ot;
    if (!ot)
        return FERRY_ENOMEM;
    if (ot->missing) {
        snprintf(why, whylen, "%s", ot->missing);
        return FERRY_EPARSE;
    }
    if (bind_key(ot, e) < 0) {
        snprintf(why, whylen, "stored key of table '%s' is unreadable", e->tbl);
        return FERRY_EPARSE;
    }
    src = sqlite3_step(ot->sel);
    found = src == SQLITE_ROW && found_same_key(ot, e);
    fy_hlc_format(e->hlc, hlc);
    fy_buf_adds(b, "{\"seq\":");
    fy_buf_add_i64(b, e->seq);
    fy_buf_adds(b, ",\"table\":");
    fy_buf_add(b, ot->names.data, ot->key_at[0]);
    fy_buf_adds(b, found ? ",\"op\":\"upsert\",\"hlc\":\""
                         : ",\"op\":\"delete\",\"hlc\":\"");
    fy_buf_add(b, hlc, FY_HLC_STRLEN);
    fy_buf_adds(b, "\",\"row\":{");
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = ob_fail(ob, "read row", NULL);
    else if (found)
        rc = add_full_row(b, ot, why, whylen);
    else
        rc = add_key_row(b, ot, e, why, whylen);
    if (rc == 0 && found && ot->file)
        rc = add_blob_col(ob, ot, bt, x, err);
    sqlite3_reset(ot->sel);
    sqlite3_clear_bindings(ot->sel);
    if (rc == 0)
        rc = fy_buf_adds(b, "}}");
    return rc;
}

/* ---- building --------------------------------------------------------- */

static void entries_free(struct entry *es, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!es[i].tbl_shared)
            fy_free(es[i].tbl);
        for (size_t k = 0; k < FY_KEY_COLS_MAX; k++)
            sqlite3_value_free(es[i].pk[k]);
    }
    fy_free(es);
}

/* Copies the key columns from column first on; NULLs stay NULL pointers. */
static int read_key(sqlite3_stmt *st, int first, struct entry *e)
{
    for (int i = 0; i < FY_KEY_COLS_MAX; i++) {
        sqlite3_value *v = sqlite3_column_value(st, first + i);

        if (sqlite3_value_type(v) == SQLITE_NULL)
            continue;
        e->pk[i] = sqlite3_value_dup(v);
        if (!e->pk[i])
            return FERRY_ENOMEM;
    }
    return 0;
}

static int read_entries(struct fy_outbox *ob, const char *sql, int limit,
                        struct entry *es, size_t *n, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ob_fail(ob, "read", err);
    sqlite3_bind_int(st, 1, limit - (int)*n);
    sqlite3_bind_text(st, 2, ob->held, -1, SQLITE_STATIC);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        struct entry *e = &es[(*n)++];
        const char *tbl = (const char *)sqlite3_column_text(st, 1);

        e->rowid = sqlite3_column_int64(st, 0);
        /* Runs of one table are the rule: one copy of its name for all. */
        e->tbl_shared = *n > 1 && tbl && strcmp(e[-1].tbl, tbl) == 0;
        e->tbl = e->tbl_shared ? e[-1].tbl : fy_strdup(tbl);
        e->wall = sqlite3_column_int64(st, 2);
        e->seq = sqlite3_column_int64(st, 3); /* 0 when NULL */
        e->hlc = (uint64_t)sqlite3_column_int64(st, 4);
        if (!e->tbl || read_key(st, 5, e) < 0)
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * The oldest entries by capture order. Numbered entries (sent before, not
 * yet acknowledged) always come first: they were numbered in rowid order
 * and everything captured later has a larger rowid. Read into memory
 * first: changing _ferry_outbox while a SELECT on it is still stepping
 * would make the scan's result undefined.
 */
static int collect(struct fy_outbox *ob, int limit, struct entry **out,
                   size_t *n, struct ferry_err *err)
{
    struct entry *es = fy_calloc((size_t)limit, sizeof(*es));
    int rc;

    *n = 0;
    if (!es)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /*
     * The filter for held tables costs SQLite about ten times the plain
     * scan per entry (json_each per row): use it only when some are held.
     */
    rc = read_entries(ob,
                      ob->nheld == 0
                          ? "SELECT " ENTRY_COLS " FROM _ferry_outbox"
                            " ORDER BY rowid LIMIT ?1"
                          : "SELECT " ENTRY_COLS " FROM _ferry_outbox WHERE"
                            " seq IS NOT NULL OR tbl NOT IN (SELECT value"
                            " FROM json_each(?2)) ORDER BY rowid LIMIT ?1",
                      limit, es, n, err);
    if (rc < 0) {
        entries_free(es, *n);
        *n = 0; /* nothing left for the caller to free */
        return rc;
    }
    *out = es;
    return 0;
}

/*
 * FNV-1a over the identity of an entry's key: the table, then the type and
 * bytes of each value (a float's bits: -0.0 is not 0.0).
 */
static uint64_t key_hash(const struct entry *e)
{
    uint64_t h = fy_fnv1a(FY_FNV_SEED, e->tbl, strlen(e->tbl) + 1);

    for (size_t i = 0; i < FY_KEY_COLS_MAX; i++) {
        sqlite3_value *v = e->pk[i];
        unsigned char type = v ? (unsigned char)sqlite3_value_type(v) : 0;
        int64_t n;
        double d;

        h = fy_fnv1a(h, &type, 1);
        if (type == SQLITE_INTEGER) {
            n = sqlite3_value_int64(v);
            h = fy_fnv1a(h, &n, sizeof(n));
        } else if (type == SQLITE_FLOAT) {
            d = sqlite3_value_double(v);
            h = fy_fnv1a(h, &d, sizeof(d));
        } else if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
            h = fy_fnv1a(h, sqlite3_value_blob(v),
                         (size_t)sqlite3_value_bytes(v));
        }
    }
    return h;
}

/* One key: the same table and, column by column, the same value. */
static bool same_key(const struct entry *a, const struct entry *b)
{
    if (strcmp(a->tbl, b->tbl) != 0)
        return false;
    for (size_t i = 0; i < FY_KEY_COLS_MAX; i++) {
        if (!a->pk[i] || !b->pk[i] ? a->pk[i] != b->pk[i]
                                   : !same_value(a->pk[i], b->pk[i]))
            return false;
    }
    return true;
}

/*
 * Marks every entry that a later entry of the same key supersedes: the row
 * is read once, at its current state, for the last one. NULL keys are never
 * merged (each is its own bad change). The table holds 1 + the index of the
 * latest entry of each key: no copy of any key.
 */
static int coalesce(struct entry *es, size_t n, bool *gone)
{
    size_t cap = 16, *slots;

    while (cap < 2 * n)
        cap *= 2;
    slots = fy_calloc(cap, sizeof(*slots));
    if (!slots)
        return FERRY_ENOMEM;
    for (size_t i = n; i-- > 0;) {
        size_t h;

        if (!es[i].pk[0])
            continue;
        h = (size_t)key_hash(&es[i]) & (cap - 1);
        while (slots[h] && !same_key(&es[slots[h] - 1], &es[i]))
            h = (h + 1) & (cap - 1);
        if (slots[h])
            gone[i] = true;
        else
            slots[h] = i + 1;
    }
    fy_free(slots);
    return 0;
}

static int drop_entry(struct fy_outbox *ob, const struct entry *e,
                      struct ferry_err *err)
{
    int src;

    sqlite3_bind_int64(ob->drop, 1, e->rowid);
    src = sqlite3_step(ob->drop);
    sqlite3_reset(ob->drop);
    return src == SQLITE_DONE ? 0 : ob_fail(ob, "coalesce", err);
}

/*
 * Numbers must follow the queue order (docs/internals/capture.md, the
 * ordering invariant), but a table whose capture was broken had its
 * unnumbered entries held while later ones were numbered and sent. Once it
 * is no longer held, its entries left behind a numbered one move to the end
 * of the queue before anything numbers them; otherwise they would get seqs
 * above a numbered entry queued after them, and an acknowledgement of those
 * seqs would delete that entry unsent. Their rows are read at push time,
 * so the move changes what is sent in no way but its order.
 */
static int requeue_stragglers(struct fy_outbox *ob, struct ferry_err *err)
{
    static const char *const sql[] = {
        "INSERT INTO _ferry_outbox (tbl, wall, hlc, " FY_OUTBOX_KEY_COLS ")"
        " SELECT tbl, wall, hlc, " FY_OUTBOX_KEY_COLS " FROM _ferry_outbox"
        " WHERE rowid < ?2 AND seq IS NULL AND tbl NOT IN (SELECT value"
        " FROM json_each(?1)) ORDER BY rowid",
        "DELETE FROM _ferry_outbox WHERE rowid < ?2 AND seq IS NULL AND"
        " tbl NOT IN (SELECT value FROM json_each(?1))"};
    sqlite3_stmt *st = NULL;
    int64_t last = 0;
    int rc = 0;

    /*
     * The last numbered entry, from the partial index of numbered entries
     * (INDEXED BY: left to itself, SQLite walks the whole table backwards
     * by rowid looking for one); usually there is none (all acknowledged)
     * and nothing else runs. With
     * the bound as a parameter the moves scan only the rowids below it.
     */
    if (sqlite3_prepare_v2(ob->db,
                           "SELECT max(rowid) FROM _ferry_outbox INDEXED BY"
                           " _ferry_outbox_seq WHERE seq IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return ob_fail(ob, "requeue", err);
    if (sqlite3_step(st) == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0); /* 0 for NULL: none */
    sqlite3_finalize(st);
    for (size_t i = 0; last > 0 && rc == 0 && i < FY_ARRAY_LEN(sql); i++) {
        if (sqlite3_prepare_v2(ob->db, sql[i], -1, &st, NULL) != SQLITE_OK)
            return ob_fail(ob, "requeue", err);
        sqlite3_bind_text(st, 1, ob->held, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, last);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ob_fail(ob, "requeue", err);
        sqlite3_finalize(st);
    }
    return rc;
}

static int assign(struct fy_outbox *ob, struct entry *e, int64_t *next_seq,
                  uint64_t *hlc, struct ferry_err *err)
{
    int src;

    if (e->seq)
        return 0;
    if (*next_seq > FERRY_SEQ_MAX)
        return fy_err_set(err, FERRY_ETOOBIG,
                          "the device's seq would pass %lld, the largest"
                          " ferry uses; register this device under a new"
                          " name",
                          (long long)FERRY_SEQ_MAX);
    e->seq = (*next_seq)++;
    /* Stamped by a pull already (fy_outbox_stamp): the clock is past it. */
    if (!e->hlc)
        e->hlc = fy_hlc_next(hlc, e->wall);
    sqlite3_bind_int64(ob->assign, 1, e->seq);
    sqlite3_bind_int64(ob->assign, 2, (sqlite3_int64)e->hlc);
    sqlite3_bind_int64(ob->assign, 3, e->rowid);
    src = sqlite3_step(ob->assign);
    sqlite3_reset(ob->assign);
    return src == SQLITE_DONE ? 0 : ob_fail(ob, "number change", err);
}

/*
 * Parks a change that cannot be sent (code: unencodable, or a file that
 * cannot be sent), without sending it.
 */
static int bury_local(struct fy_outbox *ob, const struct entry *e,
                      const char *code, const char *why, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(ob->db,
                           "INSERT INTO _ferry_dead (seq, tbl, hlc, status,"
                           " code, message, at, " FY_OUTBOX_KEY_COLS ")"
                           " SELECT ?1, tbl, ?2, 0, ?5, ?3,"
                           " unixepoch(), " FY_OUTBOX_KEY_COLS
                           " FROM _ferry_outbox WHERE rowid = ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return ob_fail(ob, "dead letter", err);
    sqlite3_bind_int64(st, 1, e->seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->hlc);
    sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, e->rowid);
    sqlite3_bind_text(st, 5, code, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ob_fail(ob, "dead letter", err);
    sqlite3_finalize(st);
    if (rc == 0)
        rc = drop_entry(ob, e, err);
    fy_warn("push", "change seq=%lld table=%s parked: %s", (long long)e->seq,
            e->tbl, why);
    return rc;
}

static int add_item(struct fy_batch *b, const struct entry *e, size_t off,
                    const char *table, int file)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        struct fy_batch_item *p = fy_realloc(b->items, cap * sizeof(*p));

        if (!p)
            return FERRY_ENOMEM;
        b->items = p;
        b->cap = cap;
    }
    b->items[b->n++] = (struct fy_batch_item){.seq = e->seq,
                                              .hlc = e->hlc,
                                              .off = off,
                                              .len = b->body.len - off,
                                              .table = table,
                                              .file = file};
    return 0;
}

static int encode_all(struct fy_outbox *ob, struct entry *es, size_t n,
                      int64_t *next_seq, uint64_t *hlc, struct fy_batch *b,
                      struct ferry_err *err)
{
    bool *gone = fy_calloc(n, sizeof(*gone));
    int rc = gone ? coalesce(es, n, gone) : FERRY_ENOMEM;

    if (rc < 0) {
        fy_free(gone);
        return fy_err_set(err, rc, "cannot coalesce the outbox");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t off = b->body.len + (b->n ? 1 : 0);
        struct enc x = {.code = "unencodable", .file = -1};
        struct ob_table *ot = NULL;

        if (gone[i]) {
            rc = drop_entry(ob, &es[i], err);
            continue;
        }
        rc = assign(ob, &es[i], next_seq, hlc, err);
        if (rc < 0)
            break;
        if (b->n)
            fy_buf_addc(&b->body, ',');
        rc = encode_entry(ob, &es[i], b, &x, &ot, err);
        if (rc == FERRY_EPARSE) {
            b->body.len = off - (b->n ? 1 : 0);
            b->body.data[b->body.len] = '\0';
            rc = bury_local(ob, &es[i], x.code, x.why, err);
            b->dead_local++;
            continue;
        }
        if (rc == 0)
            rc = add_item(b, &es[i], off, ot->t.name, x.file);
        if (rc == 0 && fy_buf_error(&b->body))
            rc = fy_buf_error(&b->body);
        if (rc < 0 && !(err && err->code))
            rc = fy_err_set(err, rc, "cannot build batch: %s",
                            ferry_strerror(rc));
    }
    fy_free(gone);
    return rc;
}

static int build_in_tx(struct fy_outbox *ob, const char *device, int limit,
                       struct fy_batch *b, struct ferry_err *err)
{
    struct entry *es = NULL;
    int64_t next_seq = 1, hlc_i = 0;
    uint64_t hlc;
    size_t n = 0;
    int rc = requeue_stragglers(ob, err);

    if (rc == 0)
        rc = collect(ob, limit, &es, &n, err);
    if (rc == 0 && n > 0)
        rc = fy_state_get_int(ob->db, "next_seq", 1, &next_seq, err);
    if (rc == 0 && n > 0)
        rc = fy_state_get_int(ob->db, "hlc", 0, &hlc_i, err);
    if (rc < 0 || n == 0)
        goto out;
    hlc = (uint64_t)hlc_i;
    fy_buf_adds(&b->body, "{\"device\":");
    fy_json_add_str(&b->body, device, strlen(device));
    fy_buf_adds(&b->body, ",\"changes\":[");
    rc = encode_all(ob, es, n, &next_seq, &hlc, b, err);
    fy_buf_adds(&b->body, "]}\n");
    if (rc == 0)
        rc = fy_state_set_int(ob->db, "next_seq", next_seq, err);
    if (rc == 0)
        rc = fy_state_set_int(ob->db, "hlc", (int64_t)hlc, err);
out:
    entries_free(es, n);
    return rc;
}

int fy_outbox_stamp(sqlite3 *db, uint64_t *hlc, struct ferry_err *err)
{
    sqlite3_stmt *sel = NULL, *set = NULL;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT rowid, wall FROM _ferry_outbox WHERE"
                                 " hlc IS NULL ORDER BY rowid",
                                 -1, &sel, NULL);

    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "UPDATE _ferry_outbox SET hlc = ?1 WHERE"
                                 " rowid = ?2",
                                 -1, &set, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(sel)) == SQLITE_ROW) {
        sqlite3_bind_int64(
            set, 1,
            (sqlite3_int64)fy_hlc_next(hlc, sqlite3_column_int64(sel, 1)));
        sqlite3_bind_int64(set, 2, sqlite3_column_int64(sel, 0));
        src = sqlite3_step(set) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(set);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(set);
    return src == SQLITE_DONE ? 0
                              : fy_sqlite_fail(db, "cannot stamp changes", err);
}

/* The batch in _ferry_batches, for `ferry why`. */
static int record_sent(struct fy_outbox *ob, const struct fy_batch *b,
                       struct ferry_err *err)
{
    struct fy_agentdb_batch r = {.first_seq = b->items[0].seq,
                                 .last_seq = b->items[b->n - 1].seq,
                                 .changes = (int64_t)b->n,
                                 .first_hlc = b->items[0].hlc,
                                 .last_hlc = b->items[0].hlc};

    for (size_t i = 1; i < b->n; i++) {
        uint64_t h = b->items[i].hlc;

        r.first_hlc = h < r.first_hlc ? h : r.first_hlc;
        r.last_hlc = h > r.last_hlc ? h : r.last_hlc;
    }
    return fy_agentdb_batch_sent(ob->db, &r, err);
}

int fy_outbox_build(struct fy_outbox *ob, const char *device, int limit,
                    struct fy_batch *b, struct ferry_err *err)
{
    int rc;

    fy_buf_reset(&b->body);
    b->n = 0;
    b->dead_local = 0;
    batch_files_reset(b);
    rc = fy_outbox_begin(ob, err);
    if (rc < 0)
        return rc;
    rc = build_in_tx(ob, device, limit, b, err);
    /*
     * A batch ready to go is recorded for `ferry why` in the build's own
     * transaction: no commit (no fsync) of its own.
     */
    if (rc == 0 && b->n > 0 && b->nfiles == 0)
        rc = record_sent(ob, b, err);
    if (rc == 0)
        return fy_outbox_commit(ob, err);
    fy_outbox_rollback(ob);
    b->n = 0;
    batch_files_reset(b);
    return rc;
}

/* ---- settling --------------------------------------------------------- */

static int exec_int(struct fy_outbox *ob, const char *sql, int64_t v,
                    struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ob_fail(ob, "prepare", err);
    sqlite3_bind_int64(st, 1, v);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ob_fail(ob, "settle", err);
    sqlite3_finalize(st);
    return rc;
}

int fy_outbox_ack(struct fy_outbox *ob, int64_t acked, struct ferry_err *err)
{
    int rc = fy_outbox_begin(ob, err);

    if (rc < 0)
        return rc;
    rc = exec_int(ob,
                  "DELETE FROM _ferry_outbox WHERE seq IS NOT NULL AND"
                  " seq <= ?",
                  acked, err);
    if (rc == 0)
        rc = fy_state_set_int(ob->db, "acked_seq", acked, err);
    if (rc == 0)
        rc = fy_state_set_int(ob->db, "last_push_at", fy_now_ms() / 1000, err);
    if (rc == 0)
        rc = fy_agentdb_batch_acked(ob->db, acked, err);
    if (rc == 0)
        return fy_outbox_commit(ob, err);
    fy_outbox_rollback(ob);
    return rc;
}

int fy_outbox_sync_seq(struct fy_outbox *ob, int64_t server_acked,
                       struct ferry_err *err)
{
    int64_t next_seq = 1;
    int rc = fy_outbox_begin(ob, err);

    if (rc == 0 && (server_acked < 0 || server_acked > FERRY_SEQ_MAX))
        rc = fy_err_set(err, FERRY_EHTTP,
                        "the server acknowledged seq %lld, outside 0 to"
                        " %lld",
                        (long long)server_acked, (long long)FERRY_SEQ_MAX);
    if (rc == 0)
        rc = fy_state_get_int(ob->db, "next_seq", 1, &next_seq, err);
    if (rc == 0 && next_seq <= server_acked) {
        fy_info("push",
                "server acknowledged seq=%lld beyond local next=%lld;"
                " numbering continues above it",
                (long long)server_acked, (long long)next_seq);
        rc = fy_state_set_int(ob->db, "next_seq", server_acked + 1, err);
    }
    if (rc == 0)
        rc = exec_int(ob,
                      "DELETE FROM _ferry_outbox WHERE seq IS NOT NULL AND"
                      " seq <= ?",
                      server_acked, err);
    if (rc == 0)
        rc = fy_state_set_int(ob->db, "acked_seq", server_acked, err);
    if (rc == 0)
        return fy_outbox_commit(ob, err);
    fy_outbox_rollback(ob);
    return rc;
}

static const struct fy_batch_item *find_item(const struct fy_batch *b,
                                             int64_t seq)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].seq == seq)
            return &b->items[i];
    }
    return NULL;
}

int fy_outbox_bury(struct fy_outbox *ob, const struct fy_batch *b, int64_t seq,
                   int status, const char *code, const char *message,
                   struct ferry_err *err)
{
    const struct fy_batch_item *it = find_item(b, seq);
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(ob->db,
                           "INSERT INTO _ferry_dead (seq, tbl, hlc, change,"
                           " status, code, message, at, " FY_OUTBOX_KEY_COLS
                           ") SELECT seq, tbl, hlc, ?2, ?3, ?4, ?5,"
                           " unixepoch(), " FY_OUTBOX_KEY_COLS
                           " FROM _ferry_outbox WHERE seq = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ob_fail(ob, "dead letter", err);
    sqlite3_bind_int64(st, 1, seq);
    if (it)
        sqlite3_bind_text(st, 2, b->body.data + it->off, (int)it->len,
                          SQLITE_STATIC);
    sqlite3_bind_int(st, 3, status);
    sqlite3_bind_text(st, 4, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ob_fail(ob, "dead letter", err);
    sqlite3_finalize(st);
    if (rc == 0)
        rc = exec_int(ob, "DELETE FROM _ferry_outbox WHERE seq = ?", seq, err);
    return rc;
}
