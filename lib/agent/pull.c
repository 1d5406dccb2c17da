/* SPDX-License-Identifier: MIT */
/*
 * The pull step; see pull.h. One page is one transaction: the rows, the
 * removal of the outbox entries the app's triggers made for them, the HLC
 * the agent observed and the cursor commit together or not at all.
 */
#include "agent/pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <jansson.h>

#include "agent/agent_int.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "capture/outbox.h"
#include "core/hlc.h"
#include "util/base64.h"
#include "util/log.h"
#include "fy.h"
#include "util/sqlite_err.h"

/*
 * The HTTP client keeps at most 1 MiB of an answer (lib/http/client.c) and
 * drops a whole piece that would pass it; libcurl hands over at most 16 KiB
 * at a time. An unreadable page within 16 KiB of the limit was cut there,
 * and the step asks again for fewer rows.
 */
#define PAGE_BYTES_MAX (1u << 20)
#define PAGE_CUT_AT    (PAGE_BYTES_MAX - 16384)
#define LIMIT_DEFAULT  1000

/* A table named by a page, and whether and how this device pulls it. */
struct pull_table {
    char *name;              /* the page's name */
    bool ok;                 /* pulled; else skipped (why logged once) */
    struct fy_local_table t; /* the local table (ok only) */
    bool *bound;             /* per local column: the page has it */
    sqlite3_stmt *upsert;    /* params: the bound columns, in order */
    sqlite3_stmt *del;       /* params: the key in local key order */
    sqlite3_stmt *pending;   /* ?1 mark, ?2 table, then the key */
    sqlite3_stmt *drop;      /* the same: the key's pending entries */
    sqlite3_stmt *seen;      /* ?1 table, then the key */
};

struct puller {
    struct fy_agent *a;
    sqlite3 *db;
    const char *device;
    struct fy_pull_stats *s;
    struct pull_table *tables;
    size_t ntables;
    int limit;
    char *cursor;        /* the stored cursor, NULL: a full pass from start */
    bool rebootstrap;    /* the stored pass is a re-bootstrap */
    json_t *page;        /* the answer being applied */
    int64_t mark;        /* max outbox rowid when the page's tx began */
    int64_t sentinel;    /* rowid of the page's sentinel entry, above mark */
    uint64_t hlc_stored; /* the agent's HLC as stored when the tx began */
    uint64_t hlc0;       /* ... once the queued writes were stamped */
    uint64_t hlc;        /* ... advanced past every stamp pulled */
    int64_t acked;       /* acked_seq when the page was requested */
    bool too_big;        /* the answer was cut at PAGE_BYTES_MAX */
};

static int db_fail(struct puller *p, const char *what, struct ferry_err *err)
{
    return fy_sqlite_fail(p->db, what, err);
}

static int exec(struct puller *p, const char *sql, struct ferry_err *err)
{
    if (sqlite3_exec(p->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(p, "pull", err);
    return 0;
}

/* ---- tables ----------------------------------------------------------- */

static void table_release(struct pull_table *pt)
{
    fy_free(pt->name);
    fy_free(pt->bound);
    sqlite3_finalize(pt->upsert);
    sqlite3_finalize(pt->del);
    sqlite3_finalize(pt->pending);
    sqlite3_finalize(pt->drop);
    sqlite3_finalize(pt->seen);
    fy_local_table_release(&pt->t);
}

/* The member of obj named name, matched without case as SQLite does. */
static json_t *member(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    const char *k;

    if (v)
        return v;
    json_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

/* The tracked spelling of name, returned owned, or NULL when untracked. */
static char *tracked_name(struct puller *p, const char *name)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;

    if (sqlite3_prepare_v2(p->db,
                           "SELECT tbl FROM _ferry_tracked WHERE tbl = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            out = fy_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
}

/* True when the local key is exactly the page's key columns. */
static bool same_key(const struct fy_local_table *t, json_t *key)
{
    if (!json_is_array(key) || json_array_size(key) != t->npk)
        return false;
    for (size_t i = 0; i < t->npk; i++) {
        bool found = false;

        for (size_t k = 0; k < t->npk; k++) {
            const char *n = json_string_value(json_array_get(key, k));

            found = found || (n && strcasecmp(n, t->cols[t->pk[i]]) == 0);
        }
        if (!found)
            return false;
    }
    return true;
}

/* "a" IS ?3 AND "b" IS ?4: the key against params from first on. */
static void key_match(struct fy_buf *b, const struct fy_local_table *t,
                      const char *prefix, int first)
{
    for (size_t i = 0; i < t->npk; i++)
        fy_buf_addf(b, "%s%s%s IS ?%d", i ? " AND " : "", prefix,
                    fy_outbox_key_cols[i], first + (int)i);
}

static void upsert_sql(struct fy_buf *b, const struct pull_table *pt)
{
    const struct fy_local_table *t = &pt->t;
    bool any = false;
    int n = 0;

    fy_buf_adds(b, "INSERT INTO ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " (");
    for (size_t i = 0; i < t->ncols; i++) {
        if (!pt->bound[i])
            continue;
        fy_buf_adds(b, n++ ? ", " : "");
        fy_buf_add_ident(b, t->cols[i]);
    }
    fy_buf_adds(b, ") VALUES (");
    for (int i = 1; i <= n; i++)
        fy_buf_addf(b, "%s?%d", i > 1 ? ", " : "", i);
    fy_buf_adds(b, ") ON CONFLICT (");
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? ", " : "");
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
    }
    fy_buf_adds(b, ") DO ");
    for (size_t i = 0; i < t->ncols; i++) {
        bool key = false;

        for (size_t k = 0; k < t->npk; k++)
            key = key || t->pk[k] == i;
        if (key || !pt->bound[i])
            continue;
        fy_buf_adds(b, any ? ", " : "UPDATE SET ");
        fy_buf_add_ident(b, t->cols[i]);
        fy_buf_adds(b, " = excluded.");
        fy_buf_add_ident(b, t->cols[i]);
        any = true;
    }
    if (!any)
        fy_buf_adds(b, "NOTHING");
}

static void delete_sql(struct fy_buf *b, const struct fy_local_table *t)
{
    fy_buf_adds(b, "DELETE FROM ");
    fy_buf_add_ident(b, t->name);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(b, i ? " AND " : " WHERE ");
        fy_buf_add_ident(b, t->cols[t->pk[i]]);
        fy_buf_addf(b, " = ?%zu", i + 1);
    }
}

static int prepare(struct puller *p, struct fy_buf *b, sqlite3_stmt **st,
                   struct ferry_err *err)
{
    int rc = fy_buf_error(b);

    if (rc < 0)
        return fy_err_set(err, rc, "out of memory");
    if (sqlite3_prepare_v2(p->db, b->data, -1, st, NULL) != SQLITE_OK)
        return db_fail(p, "cannot prepare the pull", err);
    fy_buf_reset(b);
    return 0;
}

/*
 * The statements of a pulled table. The outbox is matched with `IS` on
 * the values as bound: the triggers stored the row's own values, and SQLite
 * compares an INTEGER bound for a REAL column's 5.0 as equal.
 */
static int table_statements(struct puller *p, struct pull_table *pt,
                            struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    int rc;

    upsert_sql(&b, pt);
    rc = prepare(p, &b, &pt->upsert, err);
    if (rc == 0) {
        delete_sql(&b, &pt->t);
        rc = prepare(p, &b, &pt->del, err);
    }
    if (rc == 0) {
        fy_buf_adds(&b, "SELECT hlc, wall FROM _ferry_outbox WHERE rowid <= ?1"
                        " AND tbl = ?2 AND ");
        key_match(&b, &pt->t, "", 3);
        rc = prepare(p, &b, &pt->pending, err);
    }
    if (rc == 0) {
        fy_buf_adds(&b, "DELETE FROM _ferry_outbox WHERE rowid <= ?1 AND"
                        " tbl = ?2 AND ");
        key_match(&b, &pt->t, "", 3);
        rc = prepare(p, &b, &pt->drop, err);
    }
    if (rc == 0) {
        /* "pk" then ", pk2" and so on: 5 characters per further column. */
        fy_buf_addf(&b, "INSERT INTO _ferry_seen (tbl, %.*s) VALUES (?1",
                    (int)(pt->t.npk * 5 - 3), FY_OUTBOX_KEY_COLS);
        for (size_t i = 0; i < pt->t.npk; i++)
            fy_buf_addf(&b, ", ?%zu", i + 2);
        fy_buf_adds(&b, ")");
        rc = prepare(p, &b, &pt->seen, err);
    }
    fy_buf_release(&b);
    return rc;
}

/* Why a table is not pulled, or NULL when it is; *t loaded when NULL. */
static const char *eligible(struct puller *p, struct pull_table *pt, json_t *d,
                            struct ferry_err *err, int *rc)
{
    char *local = tracked_name(p, pt->name);
    json_t *types = json_object_get(d, "types");

    *rc = 0;
    if (!local)
        return "this device does not track it";
    *rc = fy_local_table_load(p->db, local, &pt->t, err);
    fy_free(local);
    if (*rc == FERRY_ENOTFOUND) {
        *rc = 0;
        return "the table is gone from the app's database";
    }
    if (*rc < 0)
        return NULL;
    if (pt->t.npk > FY_KEY_COLS_MAX)
        return "its key has more columns than ferry captures";
    if (!same_key(&pt->t, json_object_get(d, "key")))
        return "its local primary key is not the store's key (a device-local"
               " table is push-only: docs/contract.md)";
    pt->bound = fy_calloc(pt->t.ncols, sizeof(*pt->bound));
    if (!pt->bound) {
        *rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < pt->t.ncols; i++)
        pt->bound[i] = member(types, pt->t.cols[i]) != NULL;
    return NULL;
}

/* Sets up a table the first time a page names it. */
static int table_init(struct puller *p, struct pull_table *pt, json_t *d,
                      struct ferry_err *err)
{
    int rc = 0;
    const char *why = eligible(p, pt, d, err, &rc);

    if (rc < 0)
        return rc;
    if (why) {
        fy_info("pull", "table '%s' is not pulled: %s", pt->name, why);
        return 0;
    }
    rc = table_statements(p, pt, err);
    pt->ok = rc == 0;
    return rc;
}

static struct pull_table *find_table(struct puller *p, const char *name)
{
    for (size_t i = 0; i < p->ntables; i++) {
        if (strcmp(p->tables[i].name, name) == 0)
            return &p->tables[i];
    }
    return NULL;
}

/* Every table the page lists, known from here on. */
static int learn_tables(struct puller *p, struct ferry_err *err)
{
    json_t *tables = json_object_get(p->page, "tables"), *d;
    const char *name;
    int rc = 0;

    json_object_foreach(tables, name, d)
    {
        struct pull_table *grown;

        if (rc < 0 || find_table(p, name))
            continue;
        grown = fy_realloc(p->tables, (p->ntables + 1) * sizeof(*grown));
        if (!grown)
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        p->tables = grown;
        memset(&grown[p->ntables], 0, sizeof(*grown));
        grown[p->ntables].name = fy_strdup(name);
        if (!grown[p->ntables].name)
            return fy_err_set(err, FERRY_ENOMEM, "out of memory");
        rc = table_init(p, &grown[p->ntables++], d, err);
    }
    return rc;
}

/* ---- values ----------------------------------------------------------- */

static int bind_bytes(sqlite3_stmt *st, int i, json_t *v, struct ferry_err *err)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), len = 0;
    unsigned char *out = fy_malloc(fy_b64_max_decoded(n) + 1);

    if (!out)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (fy_b64_decode(s, n, out, &len) < 0) {
        fy_free(out);
        return fy_err_set(err, FERRY_EPARSE,
                          "a bytea value of the page is not base64");
    }
    sqlite3_bind_blob64(st, i, out, len, SQLITE_TRANSIENT);
    fy_free(out);
    return 0;
}

/* A JSON value written as compact JSON text (jsonb, or a stray object). */
static int bind_json_text(sqlite3_stmt *st, int i, json_t *v,
                          struct ferry_err *err)
{
    char *text =
        json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));

    if (!text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
    free(text); /* jansson's malloc */
    return 0;
}

/*
 * One wire value bound as the local column stores it, by the page's type
 * for its column: bytea base64 to a BLOB, boolean to 0/1, jsonb to compact
 * JSON text, everything else as JSON gave it.
 */
static int bind_value(sqlite3_stmt *st, int i, json_t *v, const char *type,
                      struct ferry_err *err)
{
    bool bytea = type && strcmp(type, "bytea") == 0;

    if (!v || json_is_null(v))
        return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : FERRY_ENOMEM;
    if (type && strcmp(type, "jsonb") == 0)
        return bind_json_text(st, i, v, err);
    if (bytea && json_is_string(v))
        return bind_bytes(st, i, v, err);
    if (json_is_boolean(v))
        sqlite3_bind_int(st, i, json_is_true(v));
    else if (json_is_integer(v))
        sqlite3_bind_int64(st, i, json_integer_value(v));
    else if (json_is_real(v))
        sqlite3_bind_double(st, i, json_real_value(v));
    else if (json_is_string(v))
        sqlite3_bind_text64(st, i, json_string_value(v), json_string_length(v),
                            SQLITE_TRANSIENT, SQLITE_UTF8);
    else
        return bind_json_text(st, i, v, err);
    return 0;
}

/* A change as the apply reads it. */
struct change {
    struct pull_table *pt;
    json_t *row;
    json_t *types;
    uint64_t hlc;
    const char *origin;
    bool del;
};

/* The key in local key order, bound from parameter first on. */
static int bind_key(sqlite3_stmt *st, const struct change *c, int first,
                    struct ferry_err *err)
{
    const struct fy_local_table *t = &c->pt->t;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < t->npk; i++) {
        const char *col = t->cols[t->pk[i]];
        json_t *v = member(c->row, col);

        if (!v || json_is_null(v))
            return fy_err_set(err, FERRY_EPARSE,
                              "a change of table '%s' has no key column '%s'",
                              c->pt->name, col);
        rc = bind_value(st, first + (int)i, v,
                        json_string_value(member(c->types, col)), err);
    }
    return rc;
}

static int bind_row(sqlite3_stmt *st, const struct change *c,
                    struct ferry_err *err)
{
    const struct fy_local_table *t = &c->pt->t;
    int n = 0, rc = 0;

    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        if (c->pt->bound[i])
            rc = bind_value(st, ++n, member(c->row, t->cols[i]),
                            json_string_value(member(c->types, t->cols[i])),
                            err);
    }
    return rc;
}

/* Steps a statement to its end and resets it. */
static int run(struct puller *p, sqlite3_stmt *st, struct ferry_err *err)
{
    int src = sqlite3_step(st);
    int rc = src == SQLITE_DONE ? 0 : fy_sqlite_fail(p->db, "pull", err);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ---- conflicts -------------------------------------------------------- */

/*
 * The newest stamp among the key's pending outbox entries (*pending false
 * when there are none). page_begin() stamped every entry from the time the
 * app made it, as numbering will keep it; an entry without one (none
 * should be left) is given the stamp it would get now, from the clock as
 * the transaction began.
 */
static int local_stamp(struct puller *p, const struct change *c, bool *pending,
                       uint64_t *stamp, struct ferry_err *err)
{
    sqlite3_stmt *st = c->pt->pending;
    int rc = bind_key(st, c, 3, err), src;

    *pending = false;
    *stamp = 0;
    /*
     * NEEDSWORK: the outbox has no index on keys (it would slow every
     * captured write), so each lookup scans the entries queued before the
     * page; an empty outbox, the usual case after a push, costs nothing.
     */
    if (p->mark == 0) {
        sqlite3_clear_bindings(st);
        return rc;
    }
    sqlite3_bind_int64(st, 1, p->mark);
    sqlite3_bind_text(st, 2, c->pt->t.name, -1, SQLITE_STATIC);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t h = (uint64_t)sqlite3_column_int64(st, 0), copy = p->hlc0;

        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
            h = fy_hlc_next(&copy, sqlite3_column_int64(st, 1));
        *pending = true;
        *stamp = h > *stamp ? h : *stamp;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = db_fail(p, "cannot read the outbox", err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/*
 * The store keeps the version with the larger (hlc, origin), origins
 * compared byte by byte, and an equal one does not replace it; the local
 * change would reach it after this pulled version.
 */
static bool pulled_wins(const struct puller *p, const struct change *c,
                        uint64_t local)
{
    if (c->hlc != local)
        return c->hlc > local;
    return strcmp(c->origin, p->device) >= 0;
}

/*
 * Settles a key with a pending local change: *apply says whether the
 * pulled version goes in (the local change lost, its entries dropped).
 */
static int settle(struct puller *p, const struct change *c, bool *apply,
                  struct ferry_err *err)
{
    bool pending = false;
    uint64_t local = 0;
    int rc = local_stamp(p, c, &pending, &local, err);

    *apply = true;
    if (rc < 0 || !pending)
        return rc;
    if (!pulled_wins(p, c, local)) {
        *apply = false;
        p->s->kept_local++;
        return 0;
    }
    p->s->lost_local++;
    rc = bind_key(c->pt->drop, c, 3, err);
    sqlite3_bind_int64(c->pt->drop, 1, p->mark);
    sqlite3_bind_text(c->pt->drop, 2, c->pt->t.name, -1, SQLITE_STATIC);
    return rc == 0 ? run(p, c->pt->drop, err) : rc;
}

/* ---- one change ------------------------------------------------------- */

static int remember_seen(struct puller *p, const struct change *c,
                         struct ferry_err *err)
{
    int rc;

    if (!p->rebootstrap || c->del)
        return 0;
    sqlite3_bind_text(c->pt->seen, 1, c->pt->t.name, -1, SQLITE_STATIC);
    rc = bind_key(c->pt->seen, c, 2, err);
    return rc == 0 ? run(p, c->pt->seen, err) : rc;
}

static int write_change(struct puller *p, const struct change *c,
                        struct ferry_err *err)
{
    sqlite3_stmt *st = c->del ? c->pt->del : c->pt->upsert;
    int rc = c->del ? bind_key(st, c, 1, err) : bind_row(st, c, err);

    if (rc == 0)
        rc = run(p, st, err);
    if (rc < 0)
        sqlite3_clear_bindings(st);
    else if (c->del)
        p->s->deleted += sqlite3_changes(p->db);
    else
        p->s->applied++;
    return rc;
}

/* Reads a change of the page; FERRY_EPARSE when it is not one. */
static int read_change(struct puller *p, json_t *jc, struct change *c,
                       struct ferry_err *err)
{
    const char *table = json_string_value(json_object_get(jc, "table"));
    const char *op = json_string_value(json_object_get(jc, "op"));
    const char *hlc = json_string_value(json_object_get(jc, "hlc"));

    memset(c, 0, sizeof(*c));
    c->row = json_object_get(jc, "row");
    c->origin = json_string_value(json_object_get(jc, "origin"));
    if (!table || !op || !hlc || !c->origin || !json_is_object(c->row) ||
        fy_hlc_parse(hlc, &c->hlc) < 0 ||
        (strcmp(op, "upsert") != 0 && strcmp(op, "delete") != 0))
        return fy_err_set(err, FERRY_EPARSE,
                          "the server sent a change ferry cannot read");
    c->del = op[0] == 'd';
    c->pt = find_table(p, table);
    c->types = json_object_get(
        json_object_get(json_object_get(p->page, "tables"), table), "types");
    return 0;
}

static int apply_change(struct puller *p, json_t *jc, struct ferry_err *err)
{
    struct change c;
    bool apply = true;
    int rc = read_change(p, jc, &c, err);

    if (rc < 0)
        return rc;
    fy_hlc_observe(&p->hlc, c.hlc);
    p->s->changes++;
    if (!c.pt || !c.pt->ok) {
        p->s->skipped++;
        return 0;
    }
    rc = settle(p, &c, &apply, err);
    if (rc == 0)
        rc = remember_seen(p, &c, err);
    if (rc == 0 && apply)
        rc = write_change(p, &c, err);
    return rc;
}

/* ---- the end of a re-bootstrap --------------------------------------- */

/*
 * After the last page of a re-bootstrap pass: a row of a pulled table that
 * the pass did not send and that has no local change waiting was deleted
 * in the store while this device could not see the delete.
 */
static int remove_unseen(struct puller *p, struct pull_table *pt,
                         struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int rc;

    fy_buf_adds(&b, "DELETE FROM ");
    fy_buf_add_ident(&b, pt->t.name);
    fy_buf_adds(&b, " AS t WHERE NOT EXISTS (SELECT 1 FROM _ferry_seen s"
                    " WHERE s.tbl = ?1");
    for (size_t i = 0; i < pt->t.npk; i++) {
        fy_buf_addf(&b, " AND s.%s IS t.", fy_outbox_key_cols[i]);
        fy_buf_add_ident(&b, pt->t.cols[pt->t.pk[i]]);
    }
    fy_buf_adds(&b, ") AND NOT EXISTS (SELECT 1 FROM _ferry_outbox o WHERE"
                    " o.rowid <= ?2 AND o.tbl = ?1");
    for (size_t i = 0; i < pt->t.npk; i++) {
        fy_buf_addf(&b, " AND o.%s IS t.", fy_outbox_key_cols[i]);
        fy_buf_add_ident(&b, pt->t.cols[pt->t.pk[i]]);
    }
    fy_buf_adds(&b, ")");
    rc = prepare(p, &b, &st, err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, pt->t.name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->mark);
        rc = run(p, st, err);
    }
    if (rc == 0)
        p->s->removed += sqlite3_changes(p->db);
    sqlite3_finalize(st);
    fy_buf_release(&b);
    return rc;
}

static int finish_rebootstrap(struct puller *p, struct ferry_err *err)
{
    json_t *tables = json_object_get(p->page, "tables"), *d;
    const char *name;
    int rc = 0;

    json_object_foreach(tables, name, d)
    {
        struct pull_table *pt = find_table(p, name);

        if (rc == 0 && pt && pt->ok)
            rc = remove_unseen(p, pt, err);
    }
    if (rc == 0)
        rc = exec(p, "DELETE FROM _ferry_seen", err);
    if (rc == 0)
        rc = fy_state_set_int(p->db, "pull_rebootstrap", 0, err);
    if (rc == 0)
        fy_info("pull",
                "re-bootstrap done: %ld rows deleted in the store"
                " meanwhile removed",
                p->s->removed);
    p->rebootstrap = false;
    return rc;
}

/* ---- one page --------------------------------------------------------- */

static int read_mark(struct puller *p, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(p->db,
                           "SELECT coalesce(max(rowid), 0) FROM"
                           " _ferry_outbox",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(p, "cannot read the outbox", err);
    if (sqlite3_step(st) == SQLITE_ROW)
        p->mark = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(p, "cannot read the outbox", err);
    sqlite3_finalize(st);
    return rc;
}

/*
 * An entry above everything queued, kept until the page's end: every echo
 * the apply makes gets a rowid above it. Without it, dropping the entries
 * of a key whose local change lost (the outbox's last ones, say) would let
 * SQLite hand their rowids to the echoes, which would then look queued
 * before the page and stay. It never outlives the transaction.
 */
static int place_sentinel(struct puller *p, struct ferry_err *err)
{
    int rc = exec(p,
                  "INSERT INTO _ferry_outbox (tbl, wall, hlc) VALUES"
                  " ('', 0, 0)",
                  err);

    if (rc == 0)
        p->sentinel = sqlite3_last_insert_rowid(p->db);
    return rc;
}

/*
 * Under the write lock: where the outbox and the HLC stand, and whether a
 * push acknowledged something since the page was asked for (*stale): its
 * entries are gone, so the page could overwrite rows that the store now
 * has in this device's newer version. Such a page is asked for again.
 */
static int page_begin(struct puller *p, bool *stale, struct ferry_err *err)
{
    int64_t acked = 0, hlc = 0;
    uint64_t h;
    int rc = exec(p, "BEGIN IMMEDIATE", err);

    if (rc == 0)
        rc = fy_state_get_int(p->db, "acked_seq", 0, &acked, err);
    if (rc == 0)
        rc = fy_state_get_int(p->db, "hlc", 0, &hlc, err);
    if (rc == 0)
        rc = read_mark(p, err);
    h = (uint64_t)hlc;
    /*
     * The app's writes queued so far get their stamps now, from the time
     * they were made, before this page's stamps raise the clock: numbered
     * after the pull, an earlier edit would otherwise beat a later one
     * made on another device.
     */
    if (rc == 0 && p->mark > 0)
        rc = fy_outbox_stamp(p->db, &h, err);
    if (rc == 0)
        rc = place_sentinel(p, err);
    p->hlc_stored = (uint64_t)hlc;
    p->hlc0 = p->hlc = h;
    *stale = rc == 0 && acked != p->acked;
    return rc;
}

static int page_end(struct puller *p, struct ferry_err *err)
{
    const char *cursor = json_string_value(json_object_get(p->page, "cursor"));
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (!json_is_true(json_object_get(p->page, "more")) && p->rebootstrap)
        rc = finish_rebootstrap(p, err);
    /* The app's triggers queued every row written above: no echo. */
    if (rc == 0 && sqlite3_prepare_v2(p->db,
                                      "DELETE FROM _ferry_outbox WHERE"
                                      " rowid >= ?",
                                      -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(p, "cannot drop the pull's echoes", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, p->sentinel);
        rc = run(p, st, err);
    }
    sqlite3_finalize(st);
    if (rc == 0 && p->hlc != p->hlc_stored)
        rc = fy_state_set_int(p->db, "hlc", (int64_t)p->hlc, err);
    if (rc == 0)
        rc = fy_state_set_text(p->db, "pull_cursor", cursor, err);
    /* For `ferry status`: when the device last took a page. */
    if (rc == 0)
        rc = fy_state_set_int(p->db, "last_pull_at", (int64_t)time(NULL), err);
    return rc;
}

static int apply_page(struct puller *p, bool *stale, struct ferry_err *err)
{
    json_t *changes = json_object_get(p->page, "changes"), *jc;
    size_t i;
    int rc = page_begin(p, stale, err);

    if (rc == 0 && !*stale)
        rc = learn_tables(p, err);
    json_array_foreach(changes, i, jc)
    {
        if (rc < 0 || *stale)
            break;
        rc = apply_change(p, jc, err);
    }
    if (rc == 0 && !*stale)
        rc = page_end(p, err);
    if (rc == 0 && !*stale)
        rc = exec(p, "COMMIT", err);
    if (rc < 0 || *stale)
        sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- the request ------------------------------------------------------ */

/*
 * A 200 must be a readable page. One cut at the size the client keeps is
 * too big (asked again with a smaller limit); anything else unreadable is
 * treated as a network error and retried, never applied.
 */
static int accept_page(const struct fy_http_reply *rep, void *ud,
                       struct ferry_err *err)
{
    struct puller *p = ud;
    json_t *root;

    if (rep->status != 200)
        return 0;
    root = json_loadb(rep->body.data, rep->body.len, JSON_ALLOW_NUL, NULL);
    if (!root && rep->body.len > PAGE_CUT_AT) {
        p->too_big = true;
        return 0;
    }
    if (!json_is_array(json_object_get(root, "changes")) ||
        !json_is_object(json_object_get(root, "tables")) ||
        !json_is_string(json_object_get(root, "cursor")) ||
        !json_is_boolean(json_object_get(root, "more"))) {
        json_decref(root);
        return fy_err_set(err, FERRY_ENET,
                          "server answered 200 without a readable page of"
                          " changes (%zu bytes)",
                          rep->body.len);
    }
    json_decref(p->page);
    p->page = root;
    return 0;
}

static int request_page(struct puller *p, const struct fy_http_reply **rep,
                        struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    long before = p->a->retries;
    int rc;

    fy_buf_addf(&path, "/v1/changes?limit=%d&device=", p->limit);
    fy_buf_add_query(&path, p->device);
    if (p->cursor) {
        fy_buf_adds(&path, "&since=");
        fy_buf_add_query(&path, p->cursor);
    }
    if (fy_buf_error(&path)) {
        fy_buf_release(&path);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    json_decref(p->page);
    p->page = NULL;
    p->too_big = false;
    rc = fy_agent_request(
        p->a,
        &(struct fy_agent_request){.http = {.method = "GET", .path = path.data},
                                   .step = "pull",
                                   .accept = accept_page,
                                   .ud = p},
        rep, err);
    p->s->retries += p->a->retries - before;
    fy_buf_release(&path);
    return rc;
}

/*
 * 410 cursor_expired: deletes may have been missed. Start a full pass that
 * counts as complete (pull_rebootstrap), forgetting what an interrupted one
 * had seen; all in one transaction, so a kill leaves the old state or the
 * new one.
 */
static int start_rebootstrap(struct puller *p, struct ferry_err *err)
{
    int rc;

    if (!p->cursor)
        return fy_err_set(err, FERRY_EHTTP,
                          "server answered 410 to a pull without a cursor");
    fy_warn("pull", "the cursor expired (the device was away longer than"
                    " the store keeps deletes): pulling everything again");
    rc = exec(p, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = exec(p, "DELETE FROM _ferry_seen", err);
    if (rc == 0)
        rc = fy_state_set_int(p->db, "pull_rebootstrap", 1, err);
    if (rc == 0)
        rc = fy_state_set_text(p->db, "pull_cursor", NULL, err);
    if (rc == 0)
        rc = exec(p, "COMMIT", err);
    if (rc < 0) {
        sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    fy_free(p->cursor);
    p->cursor = NULL;
    p->rebootstrap = true;
    p->s->rebootstrap = true;
    return 0;
}

/* A non-200 answer: 0 after a re-bootstrap started, else the error. */
static int judge(struct puller *p, const struct fy_http_reply *rep,
                 struct ferry_err *err)
{
    char about[600];

    if (fy_agent_reply_err(rep) == FERRY_EEXPIRED)
        return start_rebootstrap(p, err);
    snprintf(about, sizeof(about),
             "GET /v1/changes from '%.400s' (is base_url a ferryd that serves"
             " pull?)",
             p->a->cfg.base_url);
    return fy_agent_reply_fail(rep, about, err);
}

/* One page asked for and applied; *done when the server has no more. */
static int pull_one(struct puller *p, bool *done, struct ferry_err *err)
{
    const struct fy_http_reply *rep = NULL;
    bool stale = false;
    int rc = fy_state_get_int(p->db, "acked_seq", 0, &p->acked, err);

    if (rc == 0)
        rc = request_page(p, &rep, err);
    if (rc < 0)
        return rc;
    if (rep->status != 200)
        return judge(p, rep, err);
    if (p->too_big) {
        if (p->limit == 1)
            return fy_err_set(err, FERRY_ETOOBIG,
                              "one change is larger than the %u bytes the"
                              " agent reads",
                              PAGE_BYTES_MAX);
        p->limit /= 2;
        return 0;
    }
    p->s->full = p->s->full || !p->cursor;
    rc = apply_page(p, &stale, err);
    if (rc < 0 || stale)
        return rc;
    p->s->pages++;
    fy_free(p->cursor);
    p->cursor =
        fy_strdup(json_string_value(json_object_get(p->page, "cursor")));
    /* "more" with nothing in it would ask for the same page forever. */
    *done = !json_is_true(json_object_get(p->page, "more")) ||
            json_array_size(json_object_get(p->page, "changes")) == 0;
    fy_debug("pull", "page=%ld changes=%zu more=%s", p->s->pages,
             json_array_size(json_object_get(p->page, "changes")),
             *done ? "false" : "true");
    fy_agent_report(p->a, &(struct fy_agent_event){.kind = FY_AGENT_PROGRESS,
                                                   .step = "pull"});
    return p->cursor ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

static int load_state(struct puller *p, struct ferry_err *err)
{
    int64_t reboot = 0;
    int rc = fy_capture_init(p->db, err);

    if (rc == 0)
        rc = fy_state_get_text(p->db, "pull_cursor", &p->cursor, err);
    if (rc == 0)
        rc = fy_state_get_int(p->db, "pull_rebootstrap", 0, &reboot, err);
    p->rebootstrap = reboot != 0;
    p->s->rebootstrap = p->rebootstrap;
    return rc;
}

int fy_agent_pull_step(struct fy_agent *a, const struct fy_pull_opts *o,
                       struct fy_pull_stats *s, struct ferry_err *err)
{
    struct puller p = {.a = a,
                       .db = a->db,
                       .device = a->cfg.device,
                       .s = s,
                       .limit = o->limit > 0 ? o->limit : LIMIT_DEFAULT};
    bool done = false;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = load_state(&p, err);
    while (rc == 0 && !done && (o->max_pages == 0 || s->pages < o->max_pages))
        rc = pull_one(&p, &done, err);
    for (size_t i = 0; i < p.ntables; i++)
        table_release(&p.tables[i]);
    fy_free(p.tables);
    fy_free(p.cursor);
    json_decref(p.page);
    return rc;
}
