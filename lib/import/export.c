/* SPDX-License-Identifier: MIT */
/*
 * `ferry export json` (export.h). Every table of the mapping gets one
 * cursor, a SELECT ordered by the table's whole key with BINARY collation;
 * a record is written by walking the mapping from the root's current row,
 * and a child's rows for that row are the run of its cursor whose first
 * nparent_key columns equal the parent row's key. Keys are compared the
 * way SQLite orders them, so a child row without a parent is recognised
 * (and passed over) instead of stalling the merge.
 */
#include "import/export.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/jsonw.h"
#include "util/sqlite_err.h"
#include "fy.h"

struct cursor {
    const struct fy_map_table *t;
    sqlite3_stmt *st;
    bool row;    /* st is on a row */
    int value_i; /* result column of value_column, or -1 */
    int rest_i;  /* result column of rest_column, or -1 */
};

struct exporter {
    sqlite3 *db;
    const struct fy_mapping *m;
    struct cursor *cur; /* parallel to m->tables */
    struct fy_jsonw w;
    struct fy_export_stats *stats;
    struct ferry_err *err;
};

/* ---- the schema check -------------------------------------------------- */

static int has_column(sqlite3_stmt *info, const char *col)
{
    int rc, found = 0;

    sqlite3_reset(info);
    while ((rc = sqlite3_step(info)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(info, 1);

        if (name && strcmp(name, col) == 0)
            found = 1;
    }
    return rc == SQLITE_DONE ? found : -1;
}

/* The columns a table's rows are read from, in result order. */
static size_t table_columns(const struct fy_map_table *t, const char **out,
                            size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < t->nkey && n < max; i++)
        out[n++] = t->key_cols[i];
    for (size_t i = 0; i < t->ncols && n < max; i++)
        out[n++] = t->cols[i].column;
    if (t->value_column && n < max)
        out[n++] = t->value_column;
    if (t->rest_column && n < max)
        out[n++] = t->rest_column;
    return n;
}

static size_t ncolumns(const struct fy_map_table *t)
{
    return t->nkey + t->ncols + (t->value_column ? 1 : 0) +
           (t->rest_column ? 1 : 0);
}

static int check_table(sqlite3 *db, const struct fy_map_table *t,
                       struct ferry_err *err)
{
    sqlite3_stmt *info = NULL;
    size_t n = ncolumns(t);
    const char **cols = fy_calloc(n ? n : 1, sizeof(*cols));
    int rc = 0;

    if (!cols)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    table_columns(t, cols, n);
    if (sqlite3_prepare_v2(db, "SELECT * FROM pragma_table_info(?1)", -1, &info,
                           NULL) != SQLITE_OK) {
        rc = fy_sqlite_fail(db, "cannot read the database's tables", err);
        goto out;
    }
    sqlite3_bind_text(info, 1, t->table, -1, SQLITE_STATIC);
    if (sqlite3_step(info) != SQLITE_ROW) {
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "the mapping's table '%s' is not in the database",
                        t->table);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int has = has_column(info, cols[i]);

        if (has < 0) {
            rc = fy_sqlite_fail(db, "cannot read the database's tables", err);
            goto out;
        }
        if (!has) {
            rc = fy_err_set(err, FERRY_ECONFIG,
                            "table '%s' has no column '%s' (named by the "
                            "mapping)",
                            t->table, cols[i]);
            goto out;
        }
    }
out:
    sqlite3_finalize(info);
    fy_free(cols);
    return rc;
}

int fy_export_check(sqlite3 *db, const struct fy_mapping *m,
                    struct ferry_err *err)
{
    for (size_t i = 0; i < m->ntables; i++) {
        int rc = check_table(db, m->tables[i], err);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- cursors ----------------------------------------------------------- */

static void add_ident(struct fy_buf *b, const char *name)
{
    fy_buf_adds(b, "\"");
    for (const char *p = name; *p; p++)
        fy_buf_add(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    fy_buf_adds(b, "\"");
}

static int open_cursor(struct exporter *ex, struct cursor *c,
                       const struct fy_map_table *t)
{
    struct fy_buf sql = FY_BUF_INIT(0);
    size_t n = ncolumns(t);
    const char **cols = fy_calloc(n ? n : 1, sizeof(*cols));
    int rc = 0;

    c->t = t;
    c->value_i = t->value_column ? (int)(t->nkey + t->ncols) : -1;
    c->rest_i = t->rest_column ? (int)(n - 1) : -1;
    if (!cols)
        return fy_err_set(ex->err, FERRY_ENOMEM, "out of memory");
    table_columns(t, cols, n);
    fy_buf_adds(&sql, "SELECT ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fy_buf_adds(&sql, ", ");
        add_ident(&sql, cols[i]);
    }
    fy_buf_adds(&sql, " FROM ");
    add_ident(&sql, t->table);
    for (size_t i = 0; i < t->nkey; i++) {
        fy_buf_adds(&sql, i == 0 ? " ORDER BY " : ", ");
        add_ident(&sql, t->key_cols[i]);
        fy_buf_adds(&sql, " COLLATE BINARY");
    }
    if (fy_buf_error(&sql))
        rc = fy_err_set(ex->err, FERRY_ENOMEM, "out of memory");
    else if (sqlite3_prepare_v2(ex->db, sql.data, -1, &c->st, NULL) !=
             SQLITE_OK)
        rc = fy_sqlite_fail(ex->db, t->table, ex->err);
    fy_buf_release(&sql);
    fy_free(cols);
    return rc;
}

static int advance(struct exporter *ex, struct cursor *c)
{
    int rc = sqlite3_step(c->st);

    c->row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        if (ex->stats)
            ex->stats->rows++;
        return 0;
    }
    if (rc == SQLITE_DONE)
        return 0;
    return fy_sqlite_fail_rc(ex->db, rc, c->t->table, ex->err);
}

static struct cursor *cursor_of(struct exporter *ex,
                                const struct fy_map_table *t)
{
    for (size_t i = 0; i < ex->m->ntables; i++)
        if (ex->m->tables[i] == t)
            return &ex->cur[i];
    return NULL;
}

/* SQLite's order of storage classes: NULL, numbers, text, blob. */
static int class_rank(int type)
{
    switch (type) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        return 1;
    case SQLITE_TEXT:
        return 2;
    default:
        return 3;
    }
}

static int cmp_bytes(const void *a, int na, const void *b, int nb)
{
    int c = memcmp(a, b, (size_t)(na < nb ? na : nb));

    return c != 0 ? c : (na > nb) - (na < nb);
}

/* Column i of a against column j of b, as ORDER BY ... COLLATE BINARY. */
static int cmp_value(sqlite3_stmt *a, int i, sqlite3_stmt *b, int j)
{
    int ta = sqlite3_column_type(a, i), tb = sqlite3_column_type(b, j);
    int ra = class_rank(ta), rb = class_rank(tb);

    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 0)
        return 0;
    if (ra == 1) {
        if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
            sqlite3_int64 x = sqlite3_column_int64(a, i);
            sqlite3_int64 y = sqlite3_column_int64(b, j);

            return (x > y) - (x < y);
        }
        double x = sqlite3_column_double(a, i);
        double y = sqlite3_column_double(b, j);

        return (x > y) - (x < y);
    }
    if (ra == 2) {
        const unsigned char *x = sqlite3_column_text(a, i);
        int nx = sqlite3_column_bytes(a, i);
        const unsigned char *y = sqlite3_column_text(b, j);

        return cmp_bytes(x, nx, y, sqlite3_column_bytes(b, j));
    }
    const void *x = sqlite3_column_blob(a, i);
    int nx = sqlite3_column_bytes(a, i);
    const void *y = sqlite3_column_blob(b, j);

    return cmp_bytes(x, nx, y, sqlite3_column_bytes(b, j));
}

/* The child's parent-key prefix against the parent row's key. */
static int cmp_parent(const struct cursor *child, const struct cursor *parent)
{
    for (size_t i = 0; i < child->t->nparent_key; i++) {
        int c = cmp_value(child->st, (int)i, parent->st, (int)i);

        if (c != 0)
            return c;
    }
    return 0;
}

/*
 * Positions child on the parent row's first row: rows before it belong to
 * no parent (the parent's cursor has passed their key). True when the
 * child has a row for the parent.
 */
static int seek_child(struct exporter *ex, struct cursor *child,
                      const struct cursor *parent, bool *match)
{
    int c = 0;

    while (child->row && (c = cmp_parent(child, parent)) < 0) {
        if (ex->stats) {
            ex->stats->orphans++;
            if (!ex->stats->orphan_table)
                ex->stats->orphan_table = child->t->table;
        }
        int rc = advance(ex, child);

        if (rc < 0)
            return rc;
    }
    *match = child->row && c == 0;
    return 0;
}

/* ---- values ------------------------------------------------------------ */

/* "table 'users', row ('a@b.com', 2)": where a bad stored value is. */
static void add_row_place(struct fy_buf *b, const struct cursor *c)
{
    fy_buf_addf(b, "table '%s', row (", c->t->table);
    for (size_t i = 0; i < c->t->nkey; i++) {
        const char *v = (const char *)sqlite3_column_text(c->st, (int)i);

        fy_buf_addf(b, "%s'%s'", i ? ", " : "", v ? v : "NULL");
    }
    fy_buf_adds(b, ")");
}

static int bad_value(struct exporter *ex, const struct cursor *c, int i,
                     const char *what)
{
    struct fy_buf b = FY_BUF_INIT(400);
    int rc;

    add_row_place(&b, c);
    rc = fy_err_set(ex->err, FERRY_EPARSE, "%s, column '%s': %s", b.data,
                    sqlite3_column_name(c->st, i), what);
    fy_buf_release(&b);
    return rc;
}

static bool digits_at(const char *s, const char *shape)
{
    for (; *shape; s++, shape++)
        if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape)
            return false;
    return true;
}

/*
 * A time as PostgreSQL prints it in UTC ("2025-07-16 18:00:13+00", also
 * "+00:00", the SQLite store's canonical key spelling), which is how a
 * time a document had as "2025-07-16T18:00:13Z" comes back through the
 * PostgreSQL store: written in that ISO 8601 form again. Other text is
 * written as stored.
 */
static void write_time(struct fy_jsonw *w, const char *s, size_t len)
{
    char iso[40];
    size_t t = 19; /* "YYYY-MM-DD HH:MM:SS" */

    if (len < t + 3 || len >= sizeof(iso) ||
        !digits_at(s, "dddd-dd-dd dd:dd:dd")) {
        fy_jsonw_string(w, s, len);
        return;
    }
    if (s[t] == '.')
        for (t++; t < len && s[t] >= '0' && s[t] <= '9'; t++)
            ;
    if (!((len - t == 3 && memcmp(s + t, "+00", 3) == 0) ||
          (len - t == 6 && memcmp(s + t, "+00:00", 6) == 0))) {
        fy_jsonw_string(w, s, len);
        return;
    }
    memcpy(iso, s, t);
    iso[10] = 'T';
    iso[t] = 'Z';
    fy_jsonw_string(w, iso, t + 1);
}

static bool text_type(enum fy_type t)
{
    return t == FY_T_TEXT || t == FY_T_TIMESTAMPTZ || t == FY_T_DATE;
}

/* A value by its storage class, for the types that keep it as it is. */
static void write_stored(struct exporter *ex, sqlite3_stmt *st, int i,
                         enum fy_type type)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    size_t len = (size_t)sqlite3_column_bytes(st, i);

    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        fy_jsonw_int(&ex->w, sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        fy_jsonw_double(&ex->w, sqlite3_column_double(st, i));
        break;
    default:
        /* A numeric column keeps a decimal too long for a double as text. */
        if (type == FY_T_NUMERIC && fy_json_number_valid(s, len))
            fy_jsonw_number(&ex->w, s, len);
        else
            fy_jsonw_string(&ex->w, s, len);
    }
}

static int write_value(struct exporter *ex, const struct cursor *c, int i,
                       enum fy_type type)
{
    sqlite3_stmt *st = c->st;
    int stored = sqlite3_column_type(st, i);

    if (stored == SQLITE_NULL) {
        fy_jsonw_null(&ex->w);
    } else if (stored == SQLITE_BLOB) {
        return bad_value(ex, c, i, "holds bytes, which JSON cannot");
    } else if (type == FY_T_BOOLEAN && stored == SQLITE_INTEGER) {
        fy_jsonw_bool(&ex->w, sqlite3_column_int64(st, i) != 0);
    } else if (type == FY_T_JSONB && stored == SQLITE_TEXT) {
        const char *s = (const char *)sqlite3_column_text(st, i);
        int rc = fy_jsonw_text(&ex->w, s, (size_t)sqlite3_column_bytes(st, i),
                               false, NULL, NULL);

        if (rc == FERRY_EINVAL)
            return bad_value(ex, c, i, "does not hold JSON");
    } else if (type == FY_T_TIMESTAMPTZ && stored == SQLITE_TEXT) {
        write_time(&ex->w, (const char *)sqlite3_column_text(st, i),
                   (size_t)sqlite3_column_bytes(st, i));
    } else if (text_type(type)) {
        fy_jsonw_string(&ex->w, (const char *)sqlite3_column_text(st, i),
                        (size_t)sqlite3_column_bytes(st, i));
    } else {
        write_stored(ex, st, i, type);
    }
    if (ex->w.err == FERRY_EINVAL)
        return bad_value(ex, c, i,
                         "is not valid UTF-8 or not a finite "
                         "number");
    return ex->w.err;
}

/* ---- records ----------------------------------------------------------- */

static int write_element(struct exporter *ex, struct cursor *c);

static bool field_is(const char *field, const char *s, size_t len)
{
    return field && strlen(field) == len && memcmp(field, s, len) == 0;
}

/* A rest member that a mapped field also names is the mapped one's. */
static bool mapped_field(const char *s, size_t len, const void *ud)
{
    const struct fy_map_table *t = ud;

    for (size_t i = 0; i < t->ncols; i++)
        if (field_is(t->cols[i].field, s, len))
            return true;
    for (size_t i = 0; i < t->nchildren; i++)
        if (field_is(t->children[i]->field, s, len))
            return true;
    return false;
}

static int write_rest(struct exporter *ex, const struct cursor *c)
{
    int i = c->rest_i, rc;

    if (sqlite3_column_type(c->st, i) == SQLITE_NULL)
        return 0;
    rc = fy_jsonw_text(&ex->w, (const char *)sqlite3_column_text(c->st, i),
                       (size_t)sqlite3_column_bytes(c->st, i), true,
                       mapped_field, c->t);
    if (rc == FERRY_EINVAL)
        return bad_value(ex, c, i, "does not hold a JSON object");
    return rc;
}

static void write_field(struct exporter *ex, const char *field)
{
    fy_jsonw_key(&ex->w, field, strlen(field));
}

/* The rows of a map child: one member each, in key order. */
static int write_rows(struct exporter *ex, struct cursor *child,
                      const struct cursor *parent)
{
    const struct fy_map_table *t = child->t;
    int disc = (int)t->nkey - 1;
    bool match = true;
    int rc = 0;

    fy_jsonw_begin(&ex->w, t->kind == FY_MAP_MAP);
    while (rc == 0 && match) {
        if (t->kind == FY_MAP_MAP) {
            const char *k = (const char *)sqlite3_column_text(child->st, disc);

            if (!k)
                return bad_value(ex, child, disc, "is NULL");
            fy_jsonw_key(&ex->w, k,
                         (size_t)sqlite3_column_bytes(child->st, disc));
        }
        rc = write_element(ex, child);
        if (rc == 0)
            rc = advance(ex, child);
        match = child->row && cmp_parent(child, parent) == 0;
    }
    fy_jsonw_end_container(&ex->w, t->kind == FY_MAP_MAP);
    return rc;
}

static int write_child(struct exporter *ex, const struct fy_map_table *t,
                       const struct cursor *parent)
{
    struct cursor *child = cursor_of(ex, t);
    bool match = false;
    int rc = seek_child(ex, child, parent, &match);

    if (rc < 0)
        return rc;
    if (!match) {
        if (t->omit_null)
            return 0;
        write_field(ex, t->field);
        if (t->kind == FY_MAP_OBJECT) {
            fy_jsonw_null(&ex->w);
        } else {
            fy_jsonw_begin(&ex->w, t->kind == FY_MAP_MAP);
            fy_jsonw_end_container(&ex->w, t->kind == FY_MAP_MAP);
        }
        return ex->w.err;
    }
    write_field(ex, t->field);
    if (t->kind != FY_MAP_OBJECT)
        return write_rows(ex, child, parent);
    rc = write_element(ex, child);
    return rc < 0 ? rc : advance(ex, child);
}

static int write_object(struct exporter *ex, struct cursor *c)
{
    const struct fy_map_table *t = c->t;
    int rc = 0;

    fy_jsonw_begin(&ex->w, true);
    for (size_t i = 0; i < t->ncols && rc == 0; i++) {
        int col = (int)(t->nkey + i);

        if (t->cols[i].omit_null &&
            sqlite3_column_type(c->st, col) == SQLITE_NULL)
            continue;
        write_field(ex, t->cols[i].field);
        rc = write_value(ex, c, col, t->cols[i].type);
    }
    for (size_t i = 0; i < t->nchildren && rc == 0; i++)
        rc = write_child(ex, t->children[i], c);
    if (rc == 0 && c->rest_i >= 0)
        rc = write_rest(ex, c);
    fy_jsonw_end_container(&ex->w, true);
    return rc < 0 ? rc : ex->w.err;
}

/* The current row of c as its place in the document holds it. */
static int write_element(struct exporter *ex, struct cursor *c)
{
    if (c->value_i >= 0)
        return write_value(ex, c, c->value_i, c->t->value_type);
    return write_object(ex, c);
}

static int write_records(struct exporter *ex)
{
    struct cursor *root = &ex->cur[0];
    int rc = advance(ex, root);

    fy_jsonw_begin(&ex->w, ex->m->object_collection);
    while (rc == 0 && root->row) {
        if (ex->m->object_collection) {
            const char *k = (const char *)sqlite3_column_text(root->st, 0);

            if (!k)
                return bad_value(ex, root, 0, "is NULL");
            fy_jsonw_key(&ex->w, k, (size_t)sqlite3_column_bytes(root->st, 0));
        }
        rc = write_element(ex, root);
        if (rc == 0 && ex->stats)
            ex->stats->records++;
        if (rc == 0)
            rc = advance(ex, root);
    }
    fy_jsonw_end_container(&ex->w, ex->m->object_collection);
    return rc < 0 ? rc : ex->w.err;
}

/* Each child cursor's first row, then the records. */
static int write_document(struct exporter *ex)
{
    int rc = 0;

    for (size_t i = 1; i < ex->m->ntables && rc == 0; i++)
        rc = advance(ex, &ex->cur[i]);
    for (size_t i = 0; i < ex->m->npath && rc == 0; i++) {
        fy_jsonw_begin(&ex->w, true);
        fy_jsonw_key(&ex->w, ex->m->path[i], strlen(ex->m->path[i]));
    }
    if (rc == 0)
        rc = write_records(ex);
    for (size_t i = 0; i < ex->m->npath && rc == 0; i++)
        fy_jsonw_end_container(&ex->w, true);
    if (rc == 0)
        rc = fy_jsonw_end(&ex->w);
    if (rc == FERRY_EIO)
        fy_err_set(ex->err, rc, "cannot write the document: %s",
                   strerror(errno));
    else if (rc == FERRY_ENOMEM)
        fy_err_set(ex->err, rc, "out of memory");
    return rc;
}

static int exec(sqlite3 *db, const char *sql, struct ferry_err *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, sql, err);
    return 0;
}

int fy_export_write(sqlite3 *db, const struct fy_mapping *m, FILE *out,
                    int flags, struct fy_export_stats *stats,
                    struct ferry_err *err)
{
    struct exporter ex = {.db = db, .m = m, .stats = stats, .err = err};
    bool in_tx = false;
    int rc = fy_export_check(db, m, err);

    if (rc < 0)
        return rc;
    if (stats)
        memset(stats, 0, sizeof(*stats));
    fy_jsonw_init(&ex.w, out, (flags & FY_EXPORT_COMPACT) ? 0 : 2);
    ex.cur = fy_calloc(m->ntables, sizeof(*ex.cur));
    if (!ex.cur) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    /* One read transaction: every cursor sees the same state. */
    rc = exec(db, "BEGIN", err);
    in_tx = rc == 0;
    for (size_t i = 0; i < m->ntables && rc == 0; i++)
        rc = open_cursor(&ex, &ex.cur[i], m->tables[i]);
    if (rc == 0)
        rc = write_document(&ex);
out:
    for (size_t i = 0; ex.cur && i < m->ntables; i++)
        sqlite3_finalize(ex.cur[i].st);
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    fy_free(ex.cur);
    fy_jsonw_release(&ex.w);
    return rc;
}

/* ---- to a file --------------------------------------------------------- */

static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? fy_strndup(path, slash == path ? 1 : (size_t)(slash - path))
              : fy_strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;

    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse it */
        close(fd);
    }
    fy_free(dir);
}

static int io_fail(struct ferry_err *err, const char *what, const char *path)
{
    return fy_err_set(err, FERRY_EIO, "cannot %s '%s': %s", what, path,
                      strerror(errno));
}

/* Writes to the open temp file f; closes it. */
static int write_temp(sqlite3 *db, const struct fy_mapping *m, FILE *f,
                      const char *tmp, int flags, struct fy_export_stats *stats,
                      struct ferry_err *err)
{
    int rc = fy_export_write(db, m, f, flags, stats, err);

    if (rc == 0 && fsync(fileno(f)) < 0)
        rc = io_fail(err, "write", tmp);
    if (fclose(f) != 0 && rc == 0)
        rc = io_fail(err, "write", tmp);
    return rc;
}

/*
 * A symlink stays one: the file it names (which may not exist yet) is the
 * one replaced. True when path is a link, with the target in out.
 */
static bool link_target(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    if (n <= 0)
        return false;
    target[n] = '\0';
    if (target[0] == '/')
        dir = 0; /* absolute: the link's folder does not matter */
    return (size_t)snprintf(out, size, "%.*s%s", (int)dir, path, target) < size;
}

int fy_export_file(sqlite3 *db, const struct fy_mapping *m, const char *path,
                   int flags, struct fy_export_stats *stats,
                   struct ferry_err *err)
{
    struct fy_buf tmp = FY_BUF_INIT(0);
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
    char real[PATH_MAX], next[PATH_MAX];
    FILE *f = NULL;
    int fd = -1, rc = fy_export_check(db, m, err);

    if (rc < 0)
        return rc;
    /* Links to links too, as far as the system follows them. */
    for (int i = 0; i < 40 && link_target(path, next, sizeof(next)); i++) {
        memcpy(real, next, sizeof(real));
        path = real;
    }
    fy_buf_addf(&tmp, "%s.tmp.XXXXXX", path);
    if (fy_buf_error(&tmp))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fd = mkstemp(tmp.data);
    if (fd < 0) {
        rc = io_fail(err, "create", path);
        goto out;
    }
    if (fchmod(fd, mode) < 0 || !(f = fdopen(fd, "w"))) {
        rc = io_fail(err, "write", tmp.data);
        close(fd);
    } else {
        rc = write_temp(db, m, f, tmp.data, flags, stats, err);
    }
    if (rc == 0 && rename(tmp.data, path) < 0)
        rc = io_fail(err, "replace", path);
    if (rc < 0)
        unlink(tmp.data);
    else
        sync_dir_of(path);
out:
    fy_buf_release(&tmp);
    return rc;
}
