/* SPDX-License-Identifier: MIT */
/*
 * Snapshots: untrusted SQLite files in, merged by the rules of
 * docs/guarantees.md; consistent SQLite files out. See snapshot.h.
 *
 * An upload is read whole before the store is touched (as a push is
 * validated whole): the file's rows of the key's scope become changes with
 * the same conversion as a push's values. Then, in one push transaction of
 * the key's device (its acknowledged seq left as it is), the stored rows
 * of the same tables are read and locked, each file row is compared with
 * its stored row, and only what differs is applied, stamped with one
 * server HLC newer than anything stored.
 */
#include "server/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http/multipart.h"
#include "json/row.h"
#include "store/sql.h"
#include "util/hash.h"
#include "util/sqlite_err.h"
#include "fy.h"

/* SQLite's header is 100 bytes; see https://sqlite.org/fileformat.html. */
#define HEADER_LEN 100
/* Progress callbacks (every 1000 VM steps) one file may take: ~1e9 steps. */
#define MAX_PROGRESS 1000000L

static int malformed(struct ferry_err *err, const char *fmt, ...)
    FY_PRINTF(2, 3);

static int malformed(struct ferry_err *err, const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    return fy_err_set(err, FERRY_EPARSE, "%s", msg);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* ---- the header ---------------------------------------------------------- */

int fy_snapshot_check_header(const unsigned char *head, size_t n, uint64_t size,
                             struct ferry_err *err)
{
    uint32_t page, pages, counter, valid_for;

    if (n < HEADER_LEN || size < HEADER_LEN ||
        memcmp(head, "SQLite format 3", 16) != 0)
        return malformed(err, "the file is not a SQLite database");
    page = (uint32_t)head[16] << 8 | head[17];
    page = page == 1 ? 65536 : page;
    if (page < 512 || (page & (page - 1)) != 0)
        return malformed(err, "the SQLite header has an invalid page size");
    if (head[18] < 1 || head[18] > 2 || head[19] < 1 || head[19] > 2 ||
        head[21] != 64 || head[22] != 32 || head[23] != 32 ||
        head[20] > page - 480)
        return malformed(err, "the SQLite header is invalid");
    if (size % page != 0)
        return malformed(err,
                         "the file is not a whole number of %u-byte pages"
                         " (truncated?)",
                         (unsigned)page);
    pages = be32(head + 28);
    counter = be32(head + 24);
    valid_for = be32(head + 92);
    /* The declared size counts only when it was written with the data. */
    if (pages != 0 && counter == valid_for && (uint64_t)pages != size / page)
        return malformed(err,
                         "the SQLite header declares %u pages but the file"
                         " holds %llu",
                         (unsigned)pages, (unsigned long long)(size / page));
    return 0;
}

/* ---- opening an untrusted file ------------------------------------------- */

/*
 * Reading only: SELECT, reading columns, and PRAGMA quick_check. Anything
 * else a file could make a statement do (writing, ATTACH, other pragmas,
 * functions) is refused when the statement is prepared.
 */
static int authorize(void *ud, int action, const char *a1, const char *a2,
                     const char *db, const char *trigger)
{
    (void)ud, (void)a2, (void)db;
    if (trigger)
        return SQLITE_DENY; /* never while triggers are off; be sure */
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
        return SQLITE_OK;
    case SQLITE_PRAGMA:
        return a1 && strcasecmp(a1, "quick_check") == 0 ? SQLITE_OK
                                                        : SQLITE_DENY;
    default:
        return SQLITE_DENY;
    }
}

/* A bound on the work any one file can cause. */
static int progress(void *ud)
{
    long *calls = ud;

    return ++*calls > MAX_PROGRESS;
}

static int harden(sqlite3 *db)
{
    int rc = SQLITE_OK;

    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
                               NULL);
    /* "col" must name a column, never turn into the string 'col'. */
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_set_authorizer(db, authorize, NULL);
    return rc;
}

/* "file:PATH?immutable=1" with the URI's special characters escaped. */
static int file_uri(struct fy_buf *b, const char *path)
{
    fy_buf_adds(b, "file:");
    for (const char *p = path; *p; p++) {
        if (strchr("%?#", *p))
            fy_buf_addf(b, "%%%02X", (unsigned char)*p);
        else
            fy_buf_addc(b, *p);
    }
    return fy_buf_adds(b, "?immutable=1");
}

static int quick_check(sqlite3 *db, struct ferry_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
    const char *res;

    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (res && strcmp(res, "ok") == 0)
        rc = 0;
    else
        rc = malformed(err, "the file is not a sound SQLite database: %.200s",
                       res ? res : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* The header of the file at path, against the file's size. */
static int check_file_header(const char *path, struct ferry_err *err)
{
    unsigned char head[HEADER_LEN];
    struct stat sb;
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd >= 0 && fstat(fd, &sb) == 0)
        n = pread(fd, head, sizeof(head), 0);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return fy_err_set(err, FERRY_EIO, "cannot read '%s': %s", path,
                          strerror(errno));
    return fy_snapshot_check_header(head, (size_t)n, (uint64_t)sb.st_size, err);
}

int fy_snapshot_open(const char *path, sqlite3 **out, struct ferry_err *err)
{
    struct fy_buf uri = FY_BUF_INIT(0);
    static __thread long calls;
    sqlite3 *db = NULL;
    int rc;

    *out = NULL;
    /* SQLite takes a file shorter than a page for an empty database. */
    rc = check_file_header(path, err);
    if (rc < 0)
        return rc;
    if (file_uri(&uri, path) < 0)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = sqlite3_open_v2(uri.data, &db,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                             SQLITE_OPEN_PRIVATECACHE,
                         NULL);
    fy_buf_release(&uri);
    if (rc == SQLITE_OK)
        rc = harden(db);
    if (rc != SQLITE_OK) {
        rc = fy_err_set(err, rc == SQLITE_NOMEM ? FERRY_ENOMEM : FERRY_EIO,
                        "cannot open the uploaded file: %s",
                        db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    calls = 0;
    sqlite3_progress_handler(db, 1000, progress, &calls);
    rc = quick_check(db, err);
    if (rc == 0) {
        *out = db;
        db = NULL;
    }
out:
    sqlite3_close(db);
    return rc;
}

/* ---- the body: a file, or the "db" part of a form ------------------------ */

static bool is_multipart(const char *content_type)
{
    return content_type && strncasecmp(content_type, "multipart/", 10) == 0;
}

/*
 * The database bytes of the body: all of it, or the "db" field of a form.
 * Checks the header before anything else reads them, then copies them to a
 * private file in dir (path filled) for SQLite to open.
 */
static int extract(int body_fd, uint64_t body_size, const char *content_type,
                   const char *dir, char *path, size_t pathlen,
                   struct ferry_err *err)
{
    char boundary[FY_MULTIPART_BOUNDARY_MAX + 1];
    size_t off = 0, n = (size_t)body_size;
    void *map = MAP_FAILED;
    int fd = -1, rc = 0;

    path[0] = '\0';
    if (body_size < HEADER_LEN)
        return malformed(err,
                         "the file is not a SQLite database (%llu"
                         " bytes)",
                         (unsigned long long)body_size);
    map = mmap(NULL, (size_t)body_size, PROT_READ, MAP_PRIVATE, body_fd, 0);
    if (map == MAP_FAILED)
        return fy_err_set(err, FERRY_EIO, "cannot map the body: %s",
                          strerror(errno));
    if (is_multipart(content_type)) {
        rc = fy_multipart_boundary(content_type, boundary, err);
        if (rc == 0)
            rc = fy_multipart_find(map, (size_t)body_size, boundary, "db", &off,
                                   &n, err);
    }
    if (rc == 0)
        rc = fy_snapshot_check_header((const unsigned char *)map + off, n, n,
                                      err);
    if (rc == 0) {
        snprintf(path, pathlen, "%s/ferryd-snapshot-XXXXXX", dir);
        fd = mkstemp(path);
        if (fd < 0 || fy_write_all(fd, (const char *)map + off, n) < 0)
            rc = fy_err_set(err, fy_err_of_errno(errno),
                            "cannot write '%s': %s", path, strerror(errno));
    }
    if (rc < 0 && fd >= 0)
        unlink(path);
    if (rc < 0)
        path[0] = '\0';
    if (fd >= 0)
        close(fd);
    munmap(map, (size_t)body_size);
    return rc;
}

/* ---- rows of the file ---------------------------------------------------- */

struct frow {
    struct fy_change ch;
    char *canon; /* SHA-256 of the row's canonical text, for equality */
    size_t clen;
};

struct ftable {
    const struct fy_table *t;
    bool present;
    struct frow *rows; /* fy_realloc'd */
    size_t n, cap;
};

struct upload {
    const struct fy_contract *c;
    const struct fy_key *key;
    struct fy_arena a;
    struct fy_arena scratch; /* one stored row at a time */
    struct ftable *tables;   /* one per contract table */
    struct fy_buf buf, tmp;
    bool marked; /* the file carries a cursor */
    struct fy_read_pos cursor;
    /* the store snapshot the file was taken from, when the file says */
    bool exact;
    int64_t xmin, xmax;
    int64_t *xip; /* arena */
    size_t nxip;
    struct fy_snapshot_counts counts;
};

static int contract_error(struct ferry_err *err, const char *fmt, ...)
    FY_PRINTF(2, 3);

static int contract_error(struct ferry_err *err, const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    return fy_err_set(err, FERRY_ECONTRACT, "%s", msg);
}

/* SQLite's verdict on the file (corrupt, not a database) is the file's. */
static int file_error(sqlite3 *db, int src, const char *what,
                      struct ferry_err *err)
{
    if (src == SQLITE_NOMEM)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return malformed(err, "the file cannot be read (%s): %.200s", what,
                     sqlite3_errmsg(db));
}

/*
 * A contract table in the file: absent (0, *present false), a plain table
 * (0), or something else of that name (ECONTRACT): a view or a virtual
 * table is never read, its code could run.
 */
static int find_table(sqlite3 *db, const char *name, bool *present,
                      struct ferry_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT type, sql FROM sqlite_schema"
                                " WHERE name = ?1 COLLATE NOCASE",
                                -1, &s, NULL);

    *present = false;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = 0;
    } else if (rc == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(s, 0);
        const char *sql = (const char *)sqlite3_column_text(s, 1);

        rc = 0;
        if (!type || strcmp(type, "table") != 0)
            rc = contract_error(err, "the file's '%s' is a %s, not a table",
                                name, type ? type : "thing");
        else if (!sql || strncasecmp(sql, "CREATE TABLE", 12) != 0)
            rc = contract_error(err,
                                "the file's '%s' is a virtual table; only"
                                " plain tables are read",
                                name);
        *present = rc == 0;
    } else {
        rc = file_error(db, rc, "schema", err);
    }
    sqlite3_finalize(s);
    return rc;
}

/* SELECT of the contract's columns (all but the device column). */
static int select_sql(struct fy_buf *b, const struct fy_table *t)
{
    bool first = true;

    fy_buf_reset(b);
    fy_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        if ((int)i == t->device_col)
            continue;
        if (!first)
            fy_buf_adds(b, ", ");
        fy_buf_add_ident(b, t->cols[i].name);
        first = false;
    }
    if (first)
        fy_buf_adds(b, "1");
    fy_buf_adds(b, " FROM ");
    fy_buf_add_ident(b, t->name);
    return fy_buf_error(b);
}

/* Is the row of another region than the key's (then it is only counted)? */
static bool foreign_row(const struct upload *u, const struct fy_table *t,
                        sqlite3_stmt *s, const int *colmap)
{
    const char *r = u->key->region;
    const unsigned char *v;

    if (!r || t->region_col < 0)
        return false;
    v = sqlite3_column_text(s, colmap[t->region_col]);
    return !v || sqlite3_column_type(s, colmap[t->region_col]) != SQLITE_TEXT ||
           (size_t)sqlite3_column_bytes(s, colmap[t->region_col]) !=
               strlen(r) ||
           memcmp(v, r, strlen(r)) != 0;
}

/* A TEXT value borrowed from a JSON document, copied to the arena. */
static int own_text(struct fy_arena *a, struct fy_val *v)
{
    if (v->kind != FY_V_TEXT)
        return 0;
    v->s = fy_arena_strndup(a, v->s, v->len);
    return v->s ? 0 : FERRY_ENOMEM;
}

/*
 * The row's values as the agent would push them (fy_json_add_value, the
 * agent's encoder of SQLite values), then converted and checked exactly
 * as a push's (fy_val_from_json).
 */
static int convert_values(struct upload *u, const struct fy_table *t,
                          sqlite3_stmt *s, const int *colmap, long rowno,
                          struct fy_val *vals, struct ferry_err *err)
{
    char why[200];
    json_t *obj = NULL;
    int rc = 0;

    fy_buf_reset(&u->buf);
    fy_buf_addc(&u->buf, '{');
    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        if ((int)i == t->device_col)
            continue;
        if (u->buf.len > 1)
            fy_buf_addc(&u->buf, ',');
        fy_json_add_str(&u->buf, t->cols[i].name, strlen(t->cols[i].name));
        fy_buf_addc(&u->buf, ':');
        if (fy_json_add_value(&u->buf, sqlite3_column_value(s, colmap[i]),
                              t->cols[i].type, why, sizeof(why)) < 0)
            rc = contract_error(err, "table '%s' row %ld: column '%s': %s",
                                t->name, rowno, t->cols[i].name, why);
    }
    fy_buf_addc(&u->buf, '}');
    if (rc == 0 && fy_buf_error(&u->buf))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0 && !(obj = json_loadb(u->buf.data, u->buf.len, 0, NULL)))
        rc = fy_err_set(err, FERRY_ENOMEM, "cannot read a row back");
    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        if ((int)i == t->device_col)
            continue;
        rc =
            fy_val_from_json(&t->cols[i], json_object_get(obj, t->cols[i].name),
                             &u->a, &vals[i], why, sizeof(why));
        if (rc == FERRY_ECONTRACT)
            rc = contract_error(err, "table '%s' row %ld: %s", t->name, rowno,
                                why);
        else if (rc == 0)
            rc = own_text(&u->a, &vals[i]);
    }
    json_decref(obj);
    return rc == FERRY_ENOMEM ? fy_err_set(err, rc, "out of memory") : rc;
}

/* The key in its canonical form (fy_val_key_canon), as a push groups it. */
static int make_key(struct upload *u, const struct fy_table *t,
                    struct fy_val *vals, const char **key, size_t *keylen,
                    char *why, size_t whylen)
{
    size_t bytes = 0;
    int rc = 0;

    fy_buf_reset(&u->tmp);
    for (size_t i = 0; rc == 0 && i < t->npk; i++) {
        rc = fy_val_key_canon(&t->cols[t->pk[i]], &vals[t->pk[i]], &u->a,
                              &u->tmp, &bytes, why, whylen);
        fy_buf_addc(&u->tmp, '\x1f');
    }
    if (rc == 0 && bytes > FY_KEY_MAX_BYTES) {
        snprintf(why, whylen, "the key takes %zu bytes; at most %d", bytes,
                 FY_KEY_MAX_BYTES);
        rc = FERRY_ECONTRACT;
    }
    if (rc == 0 && fy_buf_error(&u->tmp))
        rc = FERRY_ENOMEM;
    if (rc == 0 && !(*key = fy_arena_strndup(&u->a, u->tmp.data, u->tmp.len)))
        rc = FERRY_ENOMEM;
    *keylen = u->tmp.len;
    return rc;
}

/*
 * A row's canonical text: every contract column but the device column
 * (the store stamps it) in canonical form, so that a file row and a stored
 * row are equal exactly when ferryd would store the same values.
 */
static int row_canon(struct upload *u, const struct fy_table *t,
                     const struct fy_val *vals, char **out, size_t *len)
{
    unsigned int n = 0;
    char why[200];

    fy_buf_reset(&u->tmp);
    for (size_t i = 0; i < t->ncols; i++) {
        struct fy_val v = vals[i];
        size_t bytes = 0, at = u->tmp.len;
        int rc;

        if ((int)i == t->device_col)
            continue;
        rc = fy_val_key_canon(&t->cols[i], &v, &u->scratch, &u->tmp, &bytes,
                              why, sizeof(why));
        if (rc == FERRY_ECONTRACT) { /* a non-key numeric past 15 digits */
            u->tmp.len = at;
            rc = fy_val_key_text(&u->tmp, &vals[i]);
        }
        if (rc == FERRY_ENOMEM)
            return rc;
    }
    /* Its SHA-256 stands for it: a row is compared once, and rows are many. */
    *out = fy_arena_alloc(&u->a, EVP_MAX_MD_SIZE);
    if (fy_buf_error(&u->tmp) || !*out ||
        !EVP_Digest(u->tmp.data, u->tmp.len, (unsigned char *)*out, &n,
                    EVP_sha256(), NULL))
        return FERRY_ENOMEM;
    *len = n;
    return 0;
}

/* Device stamped from the key; key columns and NOT NULL ones have values. */
static int stamp_and_check(struct upload *u, const struct fy_table *t,
                           struct fy_val *vals, long rowno,
                           struct ferry_err *err)
{
    const struct fy_key *k = u->key;

    if (t->device_col >= 0)
        vals[t->device_col] = (struct fy_val){
            .kind = FY_V_TEXT, .s = k->device, .len = strlen(k->device)};
    for (size_t i = 0; i < t->ncols; i++) {
        if ((fy_table_is_pk(t, i) || t->cols[i].not_null) &&
            vals[i].kind == FY_V_NULL)
            return contract_error(err,
                                  "table '%s' row %ld: column '%s' needs"
                                  " a value",
                                  t->name, rowno, t->cols[i].name);
    }
    return 0;
}

static struct frow *new_frow(struct ftable *ft)
{
    if (ft->n == ft->cap) {
        size_t cap = ft->cap ? 2 * ft->cap : 64;
        struct frow *p = fy_realloc(ft->rows, cap * sizeof(*p));

        if (!p)
            return NULL;
        ft->rows = p;
        ft->cap = cap;
    }
    memset(&ft->rows[ft->n], 0, sizeof(ft->rows[0]));
    return &ft->rows[ft->n++];
}

static int take_row(struct upload *u, struct ftable *ft, sqlite3_stmt *s,
                    const int *colmap, long rowno, struct ferry_err *err)
{
    const struct fy_table *t = ft->t;
    struct fy_val *vals;
    struct frow *fr;
    char why[200];
    int rc;

    if (foreign_row(u, t, s, colmap)) {
        u->counts.ignored++;
        return 0;
    }
    vals = fy_arena_calloc(&u->a, t->ncols, sizeof(*vals));
    if (!vals || !(fr = new_frow(ft)))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = convert_values(u, t, s, colmap, rowno, vals, err);
    if (rc == 0)
        rc = stamp_and_check(u, t, vals, rowno, err);
    if (rc < 0)
        return rc;
    fr->ch = (struct fy_change){.seq = rowno, .table = t, .vals = vals};
    rc = make_key(u, t, vals, &fr->ch.key, &fr->ch.keylen, why, sizeof(why));
    if (rc == FERRY_ECONTRACT)
        return contract_error(err, "table '%s' row %ld: %s", t->name, rowno,
                              why);
    if (rc == 0)
        rc = row_canon(u, t, vals, &fr->canon, &fr->clen);
    fy_arena_reset(&u->scratch);
    return rc < 0 ? fy_err_set(err, rc, "out of memory") : 0;
}

static int read_rows(struct upload *u, sqlite3 *db, struct ftable *ft,
                     struct ferry_err *err)
{
    const struct fy_table *t = ft->t;
    int *colmap = fy_calloc(t->ncols ? t->ncols : 1, sizeof(*colmap));
    sqlite3_stmt *s = NULL;
    long rowno = 0;
    int rc = colmap && select_sql(&u->buf, t) == 0
                 ? 0
                 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    for (size_t i = 0, k = 0; colmap && i < t->ncols; i++)
        colmap[i] = (int)i == t->device_col ? -1 : (int)k++;
    if (rc == 0 &&
        (rc = sqlite3_prepare_v2(db, u->buf.data, -1, &s, NULL)) != SQLITE_OK)
        rc = sqlite3_errcode(db) == SQLITE_ERROR
                 ? contract_error(err,
                                  "table '%s' in the file does not have the"
                                  " contract's columns: %.200s",
                                  t->name, sqlite3_errmsg(db))
                 : file_error(db, rc, t->name, err);
    while (rc == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
        rc = take_row(u, ft, s, colmap, ++rowno, err);
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = file_error(db, rc, t->name, err);
    sqlite3_finalize(s);
    fy_free(colmap);
    return rc;
}

/* The cursor a downloaded file carries: "c1.V.S" in _ferry_snapshot. */
static int parse_cursor(const char *s, struct fy_read_pos *pos)
{
    char *end;

    if (!s || strncmp(s, "c1.", 3) != 0 || s[3] < '0' || s[3] > '9')
        return -1;
    errno = 0;
    pos->v = strtoll(s + 3, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return -1;
    pos->s = strtoll(end + 1, &end, 10);
    return errno == 0 && *end == '\0' && pos->v >= 0 ? 0 : -1;
}

/* A decimal of 1 to 18 digits at *p. */
static bool take_num(const char **p, int64_t *out)
{
    int64_t v = 0;
    int n = 0;

    while (**p >= '0' && **p <= '9' && n < 19) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n > 0 && n < 19;
}

/*
 * The snapshot "XMIN:XMAX:XIP,..." (fy_store_export) the file's rows were
 * read in, which says exactly which stored versions it saw.
 */
static int parse_snapshot(struct upload *u, const char *s)
{
    const char *p = s;
    size_t cap = 0;
    int64_t v;

    if (!s || !take_num(&p, &u->xmin) || *p++ != ':' ||
        !take_num(&p, &u->xmax) || *p++ != ':' || u->xmin > u->xmax ||
        u->xmin - 1 != u->cursor.v)
        return -1;
    for (const char *q = p; *q; q++)
        cap += *q == ',';
    u->xip = fy_arena_calloc(&u->a, cap + 1, sizeof(*u->xip));
    if (!u->xip)
        return FERRY_ENOMEM;
    while (*p) {
        if (!take_num(&p, &v) || v < u->xmin || v >= u->xmax ||
            (*p && *p++ != ',') || u->nxip > cap)
            return -1;
        u->xip[u->nxip++] = v;
    }
    u->exact = true;
    return 0;
}

static int marker_row(struct upload *u, sqlite3_stmt *s, int ncols)
{
    int rc = 0;

    if (sqlite3_column_type(s, 0) != SQLITE_TEXT ||
        parse_cursor((const char *)sqlite3_column_text(s, 0), &u->cursor) < 0)
        return -1;
    if (ncols > 1 && sqlite3_column_type(s, 1) != SQLITE_NULL)
        rc = sqlite3_column_type(s, 1) == SQLITE_TEXT
                 ? parse_snapshot(u, (const char *)sqlite3_column_text(s, 1))
                 : -1;
    return rc;
}

static int read_marker(struct upload *u, sqlite3 *db, struct ferry_err *err)
{
    sqlite3_stmt *s = NULL;
    bool present;
    int rc = find_table(db, FY_SNAPSHOT_MARKER, &present, err), ncols = 2;

    if (rc < 0 || !present)
        return rc == FERRY_ECONTRACT ? malformed(err, "%s", err->msg) : rc;
    /* Files of ferryd's first snapshots carry the cursor only. */
    if (sqlite3_prepare_v2(db,
                           "SELECT cursor, snapshot FROM " FY_SNAPSHOT_MARKER,
                           -1, &s, NULL) != SQLITE_OK) {
        ncols = 1;
        if (sqlite3_prepare_v2(db, "SELECT cursor FROM " FY_SNAPSHOT_MARKER, -1,
                               &s, NULL) != SQLITE_OK) {
            rc = malformed(err,
                           "the file's " FY_SNAPSHOT_MARKER " has no cursor");
            goto out;
        }
    }
    rc = sqlite3_step(s) == SQLITE_ROW ? marker_row(u, s, ncols) : -1;
    if (rc == 0 && sqlite3_step(s) != SQLITE_DONE)
        rc = -1;
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, rc, "out of memory");
    else if (rc < 0)
        rc = malformed(err, "the file's " FY_SNAPSHOT_MARKER " does not hold"
                            " one cursor this server handed out");
    u->marked = rc == 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/* Every table ferryd may merge: those a download carries, present or not. */
static int read_file(struct upload *u, const char *path, struct ferry_err *err)
{
    sqlite3 *db = NULL;
    int rc = fy_snapshot_open(path, &db, err);

    if (rc == 0)
        rc = read_marker(u, db, err);
    for (size_t i = 0; rc == 0 && i < u->c->ntables; i++) {
        struct ftable *ft = &u->tables[i];

        ft->t = &u->c->tables[i];
        if (ft->t->read == FY_READ_NONE)
            continue; /* push-only: not in downloads, not merged */
        rc = find_table(db, ft->t->name, &ft->present, err);
        if (rc == 0 && ft->present)
            rc = read_rows(u, db, ft, err);
    }
    sqlite3_close(db);
    return rc;
}

/* ---- the merge ----------------------------------------------------------- */

/* A stored row or tombstone, as the merge needs it. */
struct srow {
    const char *key;
    size_t keylen;
    char *canon; /* rows only */
    size_t clen;
    struct fy_val *vals;
    struct fy_read_pos pos;
    bool ours; /* the key may change it (its region) */
    bool seen; /* the file has it */
};

struct srows {
    struct srow *r; /* fy_realloc'd */
    size_t n, cap;
    struct srow **slot; /* index by key */
    size_t nslots;
};

struct scan {
    struct upload *u;
    struct srows *rows, *tombs;
    bool ours;
};

static uint64_t hash_key(const char *key, size_t len)
{
    return fy_fnv1a(FY_FNV_SEED, key, len);
}

static struct srow **lookup(const struct srows *s, const char *key, size_t len)
{
    size_t i = (size_t)hash_key(key, len) & (s->nslots - 1);

    while (s->slot[i] && (s->slot[i]->keylen != len ||
                          memcmp(s->slot[i]->key, key, len) != 0))
        i = (i + 1) & (s->nslots - 1);
    return &s->slot[i];
}

static struct srow *find_stored(const struct srows *s, const char *key,
                                size_t len)
{
    return s->nslots ? *lookup(s, key, len) : NULL;
}

static int index_rows(struct srows *s)
{
    s->nslots = 16;
    while (s->nslots < 2 * s->n)
        s->nslots *= 2;
    s->slot = fy_calloc(s->nslots, sizeof(*s->slot));
    if (!s->slot)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        struct srow **at = lookup(s, s->r[i].key, s->r[i].keylen);

        if (!*at) /* a key twice: a row and a stale tombstone are apart */
            *at = &s->r[i];
    }
    return 0;
}

static void srows_release(struct srows *s)
{
    fy_free(s->r);
    fy_free(s->slot);
    *s = (struct srows){0};
}

static struct srow *new_srow(struct srows *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct srow *p = fy_realloc(s->r, cap * sizeof(*p));

        if (!p)
            return NULL;
        s->r = p;
        s->cap = cap;
    }
    memset(&s->r[s->n], 0, sizeof(s->r[0]));
    return &s->r[s->n++];
}

/* A stored value's text through the wire form, as a pushed value. */
static int stored_val(struct fy_arena *a, const struct fy_column *col,
                      const char *text, struct fy_val *out)
{
    json_t *j = fy_val_store_json(col, text);
    char why[200];
    int rc =
        j ? fy_val_from_json(col, j, a, out, why, sizeof(why)) : FERRY_ENOMEM;

    if (rc == 0)
        rc = own_text(a, out);
    /* A stored NULL in a NOT NULL column cannot be; compare it as NULL. */
    if (rc == FERRY_ECONTRACT) {
        *out = (struct fy_val){.kind = FY_V_NULL};
        rc = 0;
    }
    json_decref(j);
    return rc;
}

static bool in_region(const struct fy_table *t, const struct fy_val *vals,
                      const char *region)
{
    const struct fy_val *v = &vals[t->region_col];

    return v->kind == FY_V_TEXT && v->len == strlen(region) &&
           memcmp(v->s, region, v->len) == 0;
}

/* The key's values only, out of the scratch arena: a delete needs them. */
static struct fy_val *keep_key_vals(struct upload *u, const struct fy_table *t,
                                    const struct fy_val *from)
{
    struct fy_val *v = fy_arena_calloc(&u->a, t->ncols, sizeof(*v));

    for (size_t i = 0; v && i < t->npk; i++) {
        struct fy_val *k = &v[t->pk[i]];

        *k = from[t->pk[i]];
        if ((k->kind == FY_V_TEXT || k->kind == FY_V_BLOB) &&
            !(k->s = fy_arena_strndup(&u->a, k->s, k->len)))
            return NULL;
    }
    return v;
}

/*
 * One stored row or tombstone: its key, its canonical digest and its key
 * values are kept; the rest of its values only while it is judged.
 */
static int keep_stored(const struct fy_read_row *r, void *ud)
{
    struct scan *sc = ud;
    struct upload *u = sc->u;
    const struct fy_table *t = r->table;
    struct fy_val *vals = fy_arena_calloc(&u->scratch, t->ncols, sizeof(*vals));
    struct srow *s = NULL;
    char why[200];
    int rc = vals ? 0 : FERRY_ENOMEM;

    for (size_t i = 0; rc == 0 && i < t->ncols; i++)
        if (!r->del || fy_table_is_pk(t, i))
            rc = stored_val(&u->scratch, &t->cols[i], r->vals[i], &vals[i]);
    /* The second pass reads every region: the key's rows are in already. */
    if (rc < 0 || (!r->del && !sc->ours && in_region(t, vals, u->key->region)))
        goto out;
    s = new_srow(r->del ? sc->tombs : sc->rows);
    if (!s) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    s->pos = r->pos;
    s->ours = sc->ours;
    rc = make_key(u, t, vals, &s->key, &s->keylen, why, sizeof(why));
    if (rc == FERRY_ECONTRACT) /* stored before a bound: never equal */
        rc = 0;
    if (rc == 0 && !r->del)
        rc = row_canon(u, t, vals, &s->canon, &s->clen);
    if (rc == 0 && !(s->vals = keep_key_vals(u, t, vals)))
        rc = FERRY_ENOMEM;
out:
    fy_arena_reset(&u->scratch);
    return rc;
}

/*
 * The stored rows of t: the key's region's, locked (pass one), then, for a
 * regional key on a table with a region column, every other row unlocked
 * (pass two), so that a file row whose key belongs to another region's
 * row is recognised and ignored rather than refused by the store; and the
 * tombstones when the file's cursor can judge them.
 */
static int scan_stored(struct fy_store *st, struct upload *u,
                       const struct fy_table *t, struct srows *rows,
                       struct srows *tombs, uint64_t *max_hlc,
                       struct ferry_err *err)
{
    const char *region = u->key->region;
    bool two = region && t->region_col >= 0;
    struct fy_scan_req one = {
        .t = t, .region = region, .lock = true, .tombs = u->marked};
    struct fy_scan_req other = {.t = t};
    struct scan sc = {.u = u, .rows = rows, .tombs = tombs, .ours = true};
    uint64_t max2 = 0;
    int rc = fy_store_scan_rows(st, &one, keep_stored, &sc, max_hlc, err);

    if (rc == 0 && two) {
        sc.ours = false;
        rc = fy_store_scan_rows(st, &other, keep_stored, &sc, &max2, err);
    }
    if (max2 > *max_hlc)
        *max_hlc = max2;
    if (rc == 0 && (index_rows(rows) < 0 || index_rows(tombs) < 0))
        rc = FERRY_ENOMEM;
    if (rc == FERRY_ENOMEM)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    return rc;
}

static int pos_cmp(const struct fy_read_pos *x, const struct fy_read_pos *y)
{
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* Was the stored version of s in the snapshot the file was taken from? */
static bool in_file_snapshot(const struct upload *u, const struct srow *s)
{
    if (!u->exact)
        return pos_cmp(&s->pos, &u->cursor) <= 0;
    if (s->pos.v < u->xmin)
        return true;
    if (s->pos.v >= u->xmax)
        return false;
    for (size_t i = 0; i < u->nxip; i++) {
        if (u->xip[i] == s->pos.v)
            return false; /* running then: written after it */
    }
    return true;
}

/* Changed in the store after the file's snapshot was taken? */
static bool newer_than_file(const struct upload *u, const struct srow *s)
{
    return u->marked && s && !in_file_snapshot(u, s);
}

/* A file row against its stored row: unchanged, stale, ignored or a change. */
static struct fy_change *judge(struct upload *u, struct frow *fr,
                               const struct srows *rows,
                               const struct srows *tombs)
{
    struct srow *s = find_stored(rows, fr->ch.key, fr->ch.keylen);

    if (s && !s->ours) {
        u->counts.ignored++; /* the key is another region's row */
        return NULL;
    }
    if (s)
        s->seen = true;
    if (s && s->clen == fr->clen && memcmp(s->canon, fr->canon, s->clen) == 0) {
        u->counts.unchanged++;
        return NULL;
    }
    /* The store's newer version wins over the file's older copy. */
    if (newer_than_file(u, s) ||
        (!s &&
         newer_than_file(u, find_stored(tombs, fr->ch.key, fr->ch.keylen)))) {
        u->counts.stale++;
        return NULL;
    }
    return &fr->ch;
}

/* A row the file dropped since its snapshot: deleted, if unchanged since. */
static struct fy_change *absent(struct upload *u, const struct fy_table *t,
                                struct srow *s)
{
    struct fy_change *ch;

    if (!u->marked || !s->ours || s->seen || newer_than_file(u, s))
        return NULL;
    ch = fy_arena_calloc(&u->a, 1, sizeof(*ch));
    /*
     * Stamped as a pushed delete: the key's region scopes its tombstone
     * (a key without one deletes for every region), the device is the key's.
     */
    if (t->region_col >= 0)
        s->vals[t->region_col] = (struct fy_val){.kind = FY_V_NULL};
    if (t->region_col >= 0 && u->key->region)
        s->vals[t->region_col] = (struct fy_val){.kind = FY_V_TEXT,
                                                 .s = u->key->region,
                                                 .len = strlen(u->key->region)};
    if (t->device_col >= 0)
        s->vals[t->device_col] = (struct fy_val){.kind = FY_V_TEXT,
                                                 .s = u->key->device,
                                                 .len = strlen(u->key->device)};
    if (ch)
        *ch = (struct fy_change){.seq = 1,
                                 .table = t,
                                 .del = true,
                                 .vals = s->vals,
                                 .key = s->key,
                                 .keylen = s->keylen};
    return ch;
}

/* The changes of one table: what differs, and what the file dropped. */
static int plan_table(struct upload *u, struct ftable *ft,
                      const struct srows *rows, const struct srows *tombs,
                      struct fy_apply_batch *b, struct ferry_err *err)
{
    size_t cap = ft->n + rows->n;

    b->table = ft->t;
    b->device = u->key->device;
    b->scope_region = ft->t->region_col >= 0 ? u->key->region : NULL;
    b->changes = fy_arena_calloc(&u->a, cap ? cap : 1, sizeof(*b->changes));
    if (!b->changes)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < ft->n; i++) {
        struct fy_change *ch = judge(u, &ft->rows[i], rows, tombs);

        if (ch)
            b->changes[b->n++] = ch;
    }
    for (size_t i = 0; i < rows->n; i++) {
        struct fy_change *ch = absent(u, ft->t, &rows->r[i]);

        if (!ch && u->marked && rows->r[i].ours && !rows->r[i].seen &&
            !newer_than_file(u, &rows->r[i]))
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        if (ch) {
            b->changes[b->n++] = ch;
            b->ndel++;
        }
    }
    return 0;
}

/* A file with a key twice cannot say which row it means. */
static int check_unique(struct ftable *ft, struct ferry_err *err)
{
    struct srows idx = {0};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < ft->n; i++) {
        struct srow *s = new_srow(&idx);

        if (!s)
            rc = FERRY_ENOMEM;
        else
            *s = (struct srow){.key = ft->rows[i].ch.key,
                               .keylen = ft->rows[i].ch.keylen,
                               .pos = {.v = ft->rows[i].ch.seq}};
    }
    if (rc == 0)
        rc = index_rows(&idx);
    for (size_t i = 0; rc == 0 && i < idx.n; i++) {
        struct srow *first = *lookup(&idx, idx.r[i].key, idx.r[i].keylen);

        if (first != &idx.r[i])
            rc = contract_error(err,
                                "table '%s': rows %lld and %lld of the file"
                                " have the same key",
                                ft->t->name, (long long)first->pos.v,
                                (long long)idx.r[i].pos.v);
    }
    srows_release(&idx);
    return rc == FERRY_ENOMEM ? fy_err_set(err, rc, "out of memory") : rc;
}

/* Newer than every stamp stored and than the server's clock. */
static uint64_t server_hlc(uint64_t max_stored)
{
    uint64_t now = (uint64_t)fy_now_ms() << 16;

    return max_stored >= now ? max_stored + 1 : now;
}

static int apply_plans(struct fy_store *st, struct upload *u,
                       struct fy_apply_batch *plans, uint64_t hlc,
                       long *nchanges, struct ferry_err *err)
{
    struct fy_apply_stats stats = {0};
    int rc = 0;

    *nchanges = 0;
    for (size_t i = 0; rc == 0 && i < u->c->ntables; i++) {
        struct fy_apply_batch *b = &plans[i];

        for (size_t k = 0; k < b->n; k++) {
            b->changes[k]->hlc = hlc;
            b->changes[k]->seq = (int64_t)k + 1;
        }
        if (b->n)
            rc = fy_store_push_apply(st, b, &stats, err);
        *nchanges += (long)b->n;
    }
    u->counts.created += stats.created;
    u->counts.updated += stats.updated;
    u->counts.deleted += stats.deleted;
    u->counts.stale += stats.stale;
    return rc;
}

static int merge(struct fy_store *st, struct upload *u, struct ferry_err *err)
{
    struct fy_apply_batch *plans =
        fy_arena_calloc(&u->a, u->c->ntables + 1, sizeof(*plans));
    struct srows *rows = fy_calloc(2 * u->c->ntables + 1, sizeof(*rows));
    uint64_t max_hlc = 0;
    int64_t acked = 0;
    long n = 0;
    int rc = plans && rows ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    /* The device's row lock orders this upload with its pushes. */
    if (rc == 0)
        rc = fy_store_push_begin(st, u->key->device, &acked, err);
    for (size_t i = 0; rc == 0 && i < u->c->ntables; i++) {
        struct ftable *ft = &u->tables[i];
        uint64_t m = 0;

        if (!ft->present)
            continue;
        rc = scan_stored(st, u, ft->t, &rows[2 * i], &rows[2 * i + 1], &m, err);
        if (rc == 0)
            rc = plan_table(u, ft, &rows[2 * i], &rows[2 * i + 1], &plans[i],
                            err);
        max_hlc = m > max_hlc ? m : max_hlc;
        n += rc == 0 ? (long)plans[i].n : 0;
    }
    if (rc == 0 && n > 0)
        rc = apply_plans(st, u, plans, server_hlc(max_hlc), &n, err);
    /* The acknowledged seq stays: an upload has none. */
    if (rc == 0 && n > 0)
        rc = fy_store_push_commit(st, u->key->device, acked, n, err);
    else
        fy_store_push_rollback(st);
    for (size_t i = 0; rows && i < 2 * u->c->ntables; i++)
        srows_release(&rows[i]);
    fy_free(rows);
    return rc;
}

int fy_snapshot_upload(struct fy_store_pool *pool, int wait_ms,
                       const struct fy_contract *c, const struct fy_key *key,
                       int body_fd, uint64_t body_size,
                       const char *content_type, const char *tmp_dir,
                       struct fy_snapshot_counts *counts, struct ferry_err *err)
{
    struct upload u = {.c = c,
                       .key = key,
                       .a = FY_ARENA_INIT(0),
                       .scratch = FY_ARENA_INIT(0),
                       .buf = FY_BUF_INIT(0),
                       .tmp = FY_BUF_INIT(0)};
    struct fy_store *st = NULL;
    char path[512];
    int rc;

    memset(counts, 0, sizeof(*counts));
    u.tables = fy_calloc(c->ntables + 1, sizeof(*u.tables));
    if (!u.tables)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = extract(body_fd, body_size, content_type, fy_tmp_dir(tmp_dir), path,
                 sizeof(path), err);
    if (rc == 0)
        rc = read_file(&u, path, err);
    if (path[0])
        unlink(path);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++)
        rc = check_unique(&u.tables[i], err);
    /* The file was read without holding a store connection. */
    if (rc == 0)
        rc = fy_store_pool_get(pool, wait_ms, &st, err);
    if (rc == 0)
        rc = merge(st, &u, err);
    if (st)
        fy_store_pool_put(pool, st);
    if (rc == 0)
        *counts = u.counts;
    for (size_t i = 0; i < c->ntables; i++)
        fy_free(u.tables[i].rows);
    fy_free(u.tables);
    fy_buf_release(&u.buf);
    fy_buf_release(&u.tmp);
    fy_arena_reset(&u.a);
    fy_arena_reset(&u.scratch);
    return rc;
}

json_t *fy_snapshot_counts_json(const struct fy_snapshot_counts *k)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "created",
                     (json_int_t)k->created, "updated", (json_int_t)k->updated,
                     "deleted", (json_int_t)k->deleted, "unchanged",
                     (json_int_t)k->unchanged, "ignored",
                     (json_int_t)k->ignored, "stale", (json_int_t)k->stale);
}

/* ---- downloads ----------------------------------------------------------- */

static const char *read_scope(const struct fy_key *key)
{
    return key->admin ? NULL : key->region;
}

/* "\"<sha256 of contract, scope and the store's tag>\"" */
static int make_etag(const struct fy_contract *c, const struct fy_key *key,
                     const struct fy_buf *tag, char etag[FY_SNAPSHOT_ETAG_LEN],
                     struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int rc = 0;

    fy_buf_addf(&b, "snapshot1\n%s\n%s%s\n", c->checksum,
                read_scope(key) ? "region:" : "all",
                read_scope(key) ? read_scope(key) : "");
    fy_buf_add(&b, tag->data, tag->len);
    if (fy_buf_error(&b) || fy_buf_error(tag) ||
        !EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    etag[0] = '"';
    for (unsigned int i = 0; rc == 0 && i < n && i < 32; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
    if (rc == 0)
        snprintf(etag + 1 + 2 * (n < 32 ? n : 32), 2, "\"");
    fy_buf_release(&b);
    return rc;
}

int fy_snapshot_etag(struct fy_store *st, const struct fy_contract *c,
                     const struct fy_key *key, char etag[FY_SNAPSHOT_ETAG_LEN],
                     struct ferry_err *err)
{
    struct fy_export_req req = {.contract = c, .region = read_scope(key)};
    struct fy_buf tag = FY_BUF_INIT(0), snap = FY_BUF_INIT(0);
    struct fy_read_pos at;
    int rc = fy_store_export(st, &req, NULL, NULL, &at, &snap, &tag, err);

    if (rc == 0)
        rc = make_etag(c, key, &tag, etag, err);
    fy_buf_release(&tag);
    fy_buf_release(&snap);
    return rc;
}

struct build {
    sqlite3 *db;
    sqlite3_stmt *ins;
    const struct fy_table *cur;
    struct fy_buf sql;
    unsigned char *bytes; /* bytea scratch */
    size_t nbytes;
};

/* A full temporary directory is the server's state: 503, retried. */
static int build_fail(struct build *b, const char *what, struct ferry_err *err)
{
    bool full = fy_sqlite_disk_full(b->db, sqlite3_extended_errcode(b->db));

    return fy_err_set(err, full ? FERRY_ENOSPC : FERRY_EIO,
                      "cannot build the snapshot (%s): %s", what,
                      sqlite3_errmsg(b->db));
}

static int exec(struct build *b, const char *sql, struct ferry_err *err)
{
    return sqlite3_exec(b->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : build_fail(b, sql, err);
}

/* The contract's tables the key may read, typed as the SQLite store's. */
static int create_tables(struct build *b, const struct fy_contract *c,
                         struct ferry_err *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < c->ntables; i++) {
        const struct fy_table *t = &c->tables[i];

        if (t->read == FY_READ_NONE)
            continue;
        fy_buf_reset(&b->sql);
        fy_buf_adds(&b->sql, "CREATE TABLE ");
        fy_buf_add_ident(&b->sql, t->name);
        fy_buf_adds(&b->sql, " (");
        fy_sql_col_defs(&b->sql, t, false, true);
        fy_buf_adds(&b->sql, "PRIMARY KEY (");
        fy_sql_pk_cols(&b->sql, t);
        fy_buf_adds(&b->sql, "))");
        rc = fy_buf_error(&b->sql)
                 ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                 : exec(b, b->sql.data, err);
    }
    return rc;
}

static int prepare_insert(struct build *b, const struct fy_table *t)
{
    sqlite3_finalize(b->ins);
    b->ins = NULL;
    b->cur = t;
    fy_buf_reset(&b->sql);
    fy_buf_adds(&b->sql, "INSERT INTO ");
    fy_buf_add_ident(&b->sql, t->name);
    fy_buf_adds(&b->sql, " VALUES (");
    for (size_t i = 0; i < t->ncols; i++)
        fy_buf_adds(&b->sql, i ? ", ?" : "?");
    fy_buf_adds(&b->sql, ")");
    if (fy_buf_error(&b->sql))
        return SQLITE_NOMEM;
    return sqlite3_prepare_v2(b->db, b->sql.data, -1, &b->ins, NULL);
}

/* A stored value's text as the SQLite store would hold it. */
static int bind_stored(struct build *b, int at, const struct fy_column *col,
                       const char *v)
{
    size_t n;

    if (!v)
        return sqlite3_bind_null(b->ins, at);
    switch (col->type) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return sqlite3_bind_int64(b->ins, at, strtoll(v, NULL, 10));
    case FY_T_BOOLEAN:
        return sqlite3_bind_int(b->ins, at, v[0] == 't' || v[0] == '1');
    case FY_T_DOUBLE:
        return sqlite3_bind_double(b->ins, at, strtod(v, NULL));
    case FY_T_BYTEA:
        n = strlen(v) / 2;
        if (n + 1 > b->nbytes) {
            unsigned char *p = fy_realloc(b->bytes, n + 1);

            if (!p)
                return SQLITE_NOMEM;
            b->bytes = p;
            b->nbytes = n + 1;
        }
        for (size_t i = 0; i < n; i++)
            b->bytes[i] = (unsigned char)(fy_hexval(v[2 * i]) << 4 |
                                          fy_hexval(v[2 * i + 1]));
        return sqlite3_bind_blob(b->ins, at, b->bytes, (int)n,
                                 SQLITE_TRANSIENT);
    default:
        return sqlite3_bind_text(b->ins, at, v, -1, SQLITE_TRANSIENT);
    }
}

static int put_row(const struct fy_read_row *r, void *ud)
{
    struct build *b = ud;
    int rc = r->table == b->cur ? SQLITE_OK : prepare_insert(b, r->table);

    for (size_t i = 0; rc == SQLITE_OK && i < r->table->ncols; i++)
        rc = bind_stored(b, (int)i + 1, &r->table->cols[i], r->vals[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(b->ins);
    if (rc == SQLITE_DONE)
        rc = sqlite3_reset(b->ins);
    return rc == SQLITE_OK ? 0 : rc == SQLITE_NOMEM ? FERRY_ENOMEM : FERRY_EIO;
}

/* The cursor and the snapshot the file's rows were read in. */
static int write_marker(struct build *b, const struct fy_read_pos *at,
                        const char *snap, struct ferry_err *err)
{
    char cursor[64];
    sqlite3_stmt *s = NULL;
    int rc = exec(
        b, "CREATE TABLE " FY_SNAPSHOT_MARKER " (cursor TEXT, snapshot TEXT)",
        err);

    if (rc < 0)
        return rc;
    snprintf(cursor, sizeof(cursor), "c1.%lld.%lld", (long long)at->v,
             (long long)at->s);
    rc = sqlite3_prepare_v2(b->db,
                            "INSERT INTO " FY_SNAPSHOT_MARKER " VALUES (?, ?)",
                            -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 1, cursor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, snap, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : build_fail(b, "marker", err);
}

static int fill(struct build *b, struct fy_store *st,
                const struct fy_contract *c, const struct fy_key *key,
                char etag[FY_SNAPSHOT_ETAG_LEN], struct ferry_err *err)
{
    struct fy_export_req req = {
        .contract = c, .region = read_scope(key), .rows = true};
    struct fy_buf tag = FY_BUF_INIT(0), snap = FY_BUF_INIT(0);
    struct fy_read_pos at;
    int rc = exec(b,
                  "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                  " BEGIN",
                  err);

    if (rc == 0)
        rc = create_tables(b, c, err);
    if (rc == 0)
        rc = fy_store_export(st, &req, put_row, b, &at, &snap, &tag, err);
    if (rc == FERRY_EIO || (rc == FERRY_ENOMEM && err && !err->msg[0]))
        rc = build_fail(b, "rows", err);
    if (rc == 0)
        rc = write_marker(b, &at, snap.data, err);
    if (rc == 0)
        rc = exec(b, "COMMIT", err);
    if (rc == 0)
        rc = make_etag(c, key, &tag, etag, err);
    fy_buf_release(&tag);
    fy_buf_release(&snap);
    return rc;
}

int fy_snapshot_build(struct fy_store *st, const struct fy_contract *c,
                      const struct fy_key *key, const char *tmp_dir, int *fd,
                      uint64_t *size, char etag[FY_SNAPSHOT_ETAG_LEN],
                      struct ferry_err *err)
{
    struct build b = {.sql = FY_BUF_INIT(0)};
    char path[512];
    struct stat sb;
    int tmp, rc = 0;

    *fd = -1;
    snprintf(path, sizeof(path), "%s/ferryd-download-XXXXXX",
             fy_tmp_dir(tmp_dir));
    tmp = mkstemp(path);
    if (tmp < 0)
        return fy_err_set(err, fy_err_of_errno(errno), "cannot create '%s': %s",
                          path, strerror(errno));
    if (sqlite3_open_v2(path, &b.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = build_fail(&b, "open", err);
    if (rc == 0)
        rc = fill(&b, st, c, key, etag, err);
    sqlite3_finalize(b.ins);
    if (sqlite3_close(b.db) != SQLITE_OK && rc == 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot close the snapshot");
    /* The open descriptor is the answer; the name goes now. */
    unlink(path);
    if (rc == 0 && fstat(tmp, &sb) < 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot stat the snapshot: %s",
                        strerror(errno));
    if (rc == 0) {
        *fd = tmp;
        *size = (uint64_t)sb.st_size;
    } else {
        close(tmp);
    }
    fy_buf_release(&b.sql);
    fy_free(b.bytes);
    return rc;
}
