/* SPDX-License-Identifier: MIT */
/*
 * `ferry why`; see why.h. The local side reads the agent's own tables
 * with the key bound as the app's column holds it; the outbox has no
 * index on keys (it is append-only, docs/internals/capture.md), so this
 * scans it once: fine for a question a person asks, not for a loop.
 */
#include "agent/why.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "core/hlc.h"
#include "json/row.h"
#include "util/base64.h"
#include "util/sqlite_err.h"
#include "fy.h"

/* The outbox and _ferry_dead have one column per key column, at most 8. */
#define MAX_KEY 8

/* One key value as SQLite compares it. */
struct kval {
    int kind; /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB */
    int64_t i;
    double d;
    char *s; /* owned: text or bytes */
    size_t len;
};

struct local {
    sqlite3 *db;
    struct fy_local_table lt;
    bool have_table;
    char *tracked; /* the tracked spelling, NULL: not tracked */
    struct kval key[MAX_KEY];
    size_t nkey;
    json_t *out;
};

static int bad_key(struct ferry_err *err, const char *why)
{
    return fy_err_set(err, FERRY_EINVAL, "key: %s", why);
}

/* ---- the key ------------------------------------------------------------ */

static bool parse_int(const char *s, int64_t *v)
{
    char *end;
    long long x;

    if (!*s || strspn(s + (*s == '-'), "0123456789") != strlen(s + (*s == '-')))
        return false;
    errno = 0;
    x = strtoll(s, &end, 10);
    *v = x;
    return !errno && !*end;
}

static int b64_value(const char *s, struct kval *k)
{
    size_t n = strlen(s), out = 0;
    unsigned char *p = fy_malloc(fy_b64_max_decoded(n) + 1);

    if (!p)
        return FERRY_ENOMEM;
    if (fy_b64_decode(s, n, p, &out) < 0) {
        fy_free(p);
        return FERRY_EPARSE;
    }
    k->kind = SQLITE_BLOB;
    k->s = (char *)p;
    k->len = out;
    return 0;
}

/* The text s as a value of a column of type t. */
static int text_value(enum fy_type t, const char *s, struct kval *k)
{
    if (t == FY_T_BIGINT || t == FY_T_INTEGER) {
        k->kind = SQLITE_INTEGER;
        return parse_int(s, &k->i) ? 0 : FERRY_EPARSE;
    }
    if (t == FY_T_BOOLEAN) {
        k->kind = SQLITE_INTEGER;
        k->i = strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
        return k->i || strcmp(s, "false") == 0 || strcmp(s, "0") == 0
                   ? 0
                   : FERRY_EPARSE;
    }
    if (t == FY_T_DOUBLE) {
        char *end;

        k->kind = SQLITE_FLOAT;
        k->d = strtod(s, &end);
        return *s && !*end && isfinite(k->d) ? 0 : FERRY_EPARSE;
    }
    if (t == FY_T_BYTEA)
        return b64_value(s, k);
    k->kind = SQLITE_TEXT;
    k->s = fy_strdup(s);
    k->len = strlen(s);
    return k->s ? 0 : FERRY_ENOMEM;
}

/* A member of a composite key's JSON array. */
static int json_value(enum fy_type t, json_t *j, struct kval *k)
{
    char num[32];

    if (json_is_string(j))
        return text_value(t, json_string_value(j), k);
    if (json_is_integer(j)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(j));
        return text_value(t == FY_T_DOUBLE ? t : FY_T_BIGINT, num, k);
    }
    if (json_is_real(j)) {
        k->kind = SQLITE_FLOAT;
        k->d = json_real_value(j);
        return 0;
    }
    if (json_is_boolean(j)) {
        k->kind = SQLITE_INTEGER;
        k->i = json_is_true(j);
        return 0;
    }
    return FERRY_EPARSE;
}

static int parse_key(struct local *l, const char *text, struct ferry_err *err)
{
    const struct fy_local_table *t = &l->lt;
    json_t *arr;
    int rc = 0;

    if (t->npk == 0 || t->npk > MAX_KEY)
        return bad_key(err, "the table has no key ferry can capture");
    l->nkey = t->npk;
    if (t->npk == 1) {
        rc = text_value(t->types[t->pk[0]], text, &l->key[0]);
        return rc == FERRY_ENOMEM ? fy_err_set(err, rc, "out of memory")
               : rc < 0 ? bad_key(err, "not a value of the key column")
                        : 0;
    }
    arr = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(arr) || json_array_size(arr) != t->npk)
        rc = FERRY_EPARSE;
    for (size_t i = 0; rc == 0 && i < t->npk; i++)
        rc = json_value(t->types[t->pk[i]], json_array_get(arr, i), &l->key[i]);
    json_decref(arr);
    if (rc == FERRY_ENOMEM)
        return fy_err_set(err, rc, "out of memory");
    if (rc < 0)
        return fy_err_set(err, FERRY_EINVAL,
                          "key: table '%s' has a key of %zu columns: a JSON"
                          " array of %zu values in key order",
                          t->name, t->npk, t->npk);
    return 0;
}

static void bind_key(sqlite3_stmt *st, int first, const struct local *l)
{
    for (size_t i = 0; i < l->nkey; i++) {
        const struct kval *k = &l->key[i];
        int at = first + (int)i;

        if (k->kind == SQLITE_INTEGER)
            sqlite3_bind_int64(st, at, k->i);
        else if (k->kind == SQLITE_FLOAT)
            sqlite3_bind_double(st, at, k->d);
        else if (k->kind == SQLITE_BLOB)
            sqlite3_bind_blob(st, at, k->s, (int)k->len, SQLITE_STATIC);
        else
            sqlite3_bind_text(st, at, k->s, (int)k->len, SQLITE_STATIC);
    }
}

/* " AND pk IS ?2 AND pk2 IS ?3 ...": the key in the outbox's columns. */
static void key_cols_where(struct fy_buf *b, const struct local *l)
{
    for (size_t i = 0; i < l->nkey; i++) {
        if (i == 0)
            fy_buf_adds(b, " AND pk IS ?2");
        else
            fy_buf_addf(b, " AND pk%zu IS ?%zu", i + 1, i + 2);
    }
}

/* ---- reading ------------------------------------------------------------ */

static int prepare(struct local *l, const char *sql, sqlite3_stmt **st,
                   struct ferry_err *err)
{
    if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(l->db, "cannot read ferry's tables", err);
    return 0;
}

static int find_tracked(struct local *l, const char *table,
                        struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(
        l, "SELECT tbl FROM _ferry_tracked WHERE tbl = ? COLLATE NOCASE", &st,
        err);

    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        l->tracked = fy_strdup((const char *)sqlite3_column_text(st, 0));
        rc = l->tracked ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The local row's values as the push would encode them, or null. */
static json_t *local_row(struct local *l, struct ferry_err *err)
{
    const struct fy_local_table *t = &l->lt;
    struct fy_buf sql = FY_BUF_INIT(0), row = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    json_t *j = NULL;
    char why[200];

    fy_buf_adds(&sql, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        fy_buf_adds(&sql, i ? ", " : "");
        fy_buf_add_ident(&sql, t->cols[i]);
    }
    fy_buf_adds(&sql, " FROM ");
    fy_buf_add_ident(&sql, t->name);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_adds(&sql, i ? " AND " : " WHERE ");
        fy_buf_add_ident(&sql, t->cols[t->pk[i]]);
        fy_buf_addf(&sql, " = ?%zu", i + 1);
    }
    if (fy_buf_error(&sql) || prepare(l, sql.data, &st, err) < 0)
        goto out;
    bind_key(st, 1, l);
    if (sqlite3_step(st) != SQLITE_ROW) {
        j = json_null();
        goto out;
    }
    fy_buf_addc(&row, '{');
    for (size_t i = 0; i < t->ncols; i++) {
        fy_buf_adds(&row, i ? "," : "");
        fy_json_add_str(&row, t->cols[i], strlen(t->cols[i]));
        fy_buf_addc(&row, ':');
        if (fy_json_add_value(&row, sqlite3_column_value(st, (int)i),
                              t->types[i], why, sizeof(why)) < 0)
            fy_buf_adds(&row, "null"); /* push would park it: dead letters */
    }
    fy_buf_addc(&row, '}');
    j = fy_buf_error(&row) ? NULL : json_loads(row.data, 0, NULL);
out:
    sqlite3_finalize(st);
    fy_buf_release(&sql);
    fy_buf_release(&row);
    return j;
}

static int64_t count_ahead(struct local *l, int64_t rowid)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;

    if (prepare(l, "SELECT count(*) FROM _ferry_outbox WHERE rowid < ?", &st,
                NULL) < 0)
        return 0;
    sqlite3_bind_int64(st, 1, rowid);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static json_t *batch_row(sqlite3_stmt *st)
{
    json_t *b = json_pack("{s:I, s:I, s:I, s:I, s:I}", "id",
                          (json_int_t)sqlite3_column_int64(st, 0), "first_seq",
                          (json_int_t)sqlite3_column_int64(st, 1), "last_seq",
                          (json_int_t)sqlite3_column_int64(st, 2), "changes",
                          (json_int_t)sqlite3_column_int64(st, 3), "sent_at",
                          (json_int_t)sqlite3_column_int64(st, 4));

    if (b && sqlite3_column_type(st, 5) != SQLITE_NULL) {
        json_object_set_new(b, "acked_seq",
                            json_integer(sqlite3_column_int64(st, 5)));
        json_object_set_new(b, "acked_at",
                            json_integer(sqlite3_column_int64(st, 6)));
    }
    return b;
}

/* The newest recorded batch whose seqs (by_hlc: HLCs) hold v, or null. */
static json_t *find_batch(sqlite3 *db, bool by_hlc, int64_t v)
{
    sqlite3_stmt *st = NULL;
    json_t *b = NULL;
    const char *sql =
        by_hlc ? "SELECT id, first_seq, last_seq, changes, sent_at,"
                 " acked_seq, acked_at FROM _ferry_batches WHERE ?1 BETWEEN"
                 " first_hlc AND last_hlc ORDER BY id DESC LIMIT 1"
               : "SELECT id, first_seq, last_seq, changes, sent_at,"
                 " acked_seq, acked_at FROM _ferry_batches WHERE ?1 BETWEEN"
                 " first_seq AND last_seq ORDER BY id DESC LIMIT 1";

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return json_null();
    sqlite3_bind_int64(st, 1, v);
    if (sqlite3_step(st) == SQLITE_ROW)
        b = batch_row(st);
    sqlite3_finalize(st);
    return b ? b : json_null();
}

static json_t *entry_json(struct local *l, sqlite3_stmt *st)
{
    int64_t rowid = sqlite3_column_int64(st, 0);
    json_t *e = json_pack("{s:I, s:I}", "captured_at",
                          (json_int_t)sqlite3_column_int64(st, 2), "ahead",
                          (json_int_t)count_ahead(l, rowid));

    if (e && sqlite3_column_type(st, 1) != SQLITE_NULL) {
        int64_t seq = sqlite3_column_int64(st, 1);
        char hlc[FY_HLC_STRLEN + 1];

        fy_hlc_format((uint64_t)sqlite3_column_int64(st, 3), hlc);
        json_object_set_new(e, "seq", json_integer(seq));
        json_object_set_new(e, "hlc", json_string(hlc));
        json_object_set_new(e, "batch", find_batch(l->db, false, seq));
    }
    return e;
}

/* Runs sql (?1 the table, ?2... the key) and adds each row's JSON to arr. */
static int each_keyed(struct local *l, const char *head,
                      json_t *(*row)(struct local *, sqlite3_stmt *),
                      json_t *arr, struct ferry_err *err)
{
    struct fy_buf sql = FY_BUF_INIT(0);
    sqlite3_stmt *st = NULL;
    int rc, src;

    fy_buf_adds(&sql, head);
    key_cols_where(&sql, l);
    fy_buf_adds(&sql, " ORDER BY rowid");
    rc = fy_buf_error(&sql) ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
                            : prepare(l, sql.data, &st, err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, l->tracked, -1, SQLITE_STATIC);
        bind_key(st, 2, l);
    }
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (json_array_append_new(arr, row(l, st)) < 0)
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fy_sqlite_fail(l->db, "cannot read ferry's tables", err);
    sqlite3_finalize(st);
    fy_buf_release(&sql);
    return rc;
}

static json_t *dead_json(struct local *l, sqlite3_stmt *st)
{
    (void)l;
    return json_pack(
        "{s:I, s:I, s:i, s:s, s:s, s:I}", "id",
        (json_int_t)sqlite3_column_int64(st, 0), "seq",
        (json_int_t)sqlite3_column_int64(st, 1), "status",
        sqlite3_column_int(st, 2), "code",
        sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3)
                                   : "",
        "message",
        sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4)
                                   : "",
        "at", (json_int_t)sqlite3_column_int64(st, 5));
}

static int read_keyed(struct local *l, struct ferry_err *err)
{
    json_t *entries = json_array(), *dead = json_array();
    int rc =
        entries && dead ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");

    if (rc == 0)
        rc = each_keyed(l,
                        "SELECT rowid, seq, wall, hlc FROM _ferry_outbox"
                        " WHERE tbl = ?1 COLLATE NOCASE",
                        entry_json, entries, err);
    if (rc == 0)
        rc = each_keyed(l,
                        "SELECT id, seq, status, code, message, at FROM"
                        " _ferry_dead WHERE tbl = ?1 COLLATE NOCASE",
                        dead_json, dead, err);
    json_object_set_new(l->out, "outbox", entries ? entries : json_array());
    json_object_set_new(l->out, "dead", dead ? dead : json_array());
    return rc;
}

static void add_state(struct local *l)
{
    int64_t acked = 0, at = 0;

    fy_state_get_int(l->db, "acked_seq", 0, &acked, NULL);
    fy_state_get_int(l->db, "last_push_at", 0, &at, NULL);
    json_object_set_new(l->out, "acked_seq", json_integer(acked));
    json_object_set_new(l->out, "last_push_at", json_integer(at));
}

int fy_why_local(sqlite3 *db, const char *table, const char *key_text,
                 json_t **out, struct ferry_err *err)
{
    struct local l = {.db = db};
    int rc = find_tracked(&l, table, err);

    *out = NULL;
    l.out = json_pack("{s:s, s:b}", "table", l.tracked ? l.tracked : table,
                      "tracked", l.tracked != NULL);
    if (rc == 0 && !l.out)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = fy_local_table_load(db, l.tracked ? l.tracked : table, &l.lt, err);
        l.have_table = rc == 0;
        if (rc == FERRY_ENOTFOUND)
            rc = 0; /* then only the server can say more */
    }
    if (rc == 0 && l.have_table)
        rc = parse_key(&l, key_text, err);
    if (rc == 0 && l.have_table)
        json_object_set_new(l.out, "row", local_row(&l, err));
    if (rc == 0 && l.have_table && l.tracked)
        rc = read_keyed(&l, err);
    if (rc == 0)
        add_state(&l);
    for (size_t i = 0; i < MAX_KEY; i++)
        fy_free(l.key[i].s);
    if (l.have_table)
        fy_local_table_release(&l.lt);
    fy_free(l.tracked);
    if (rc == 0)
        *out = l.out;
    else
        json_decref(l.out);
    return rc;
}

/* ---- the server --------------------------------------------------------- */

/* ferryd's refusal as its code: unknown table, bad key, the key. */
static int trace_refused(const struct fy_http_reply *rep, struct ferry_err *err)
{
    int code = fy_agent_reply_err(rep);
    char msg[300];

    if (code != FERRY_ENOTFOUND && code != FERRY_EPARSE)
        return fy_agent_reply_fail(rep, "GET /v1/trace", err);
    fy_agent_reply_message(rep, msg, sizeof(msg));
    return fy_err_status(err, code, (int)rep->status, "ferryd answered %ld: %s",
                         rep->status, msg);
}

int fy_why_server(struct fy_agent *a, const char *table, const char *key_text,
                  const char *device, json_t **out, struct ferry_err *err)
{
    struct fy_buf path = FY_BUF_INIT(0);
    const struct fy_http_reply *rep = NULL;
    int rc;

    *out = NULL;
    fy_buf_adds(&path, "/v1/trace/");
    fy_buf_add_query(&path, table);
    fy_buf_addc(&path, '/');
    fy_buf_add_query(&path, key_text);
    fy_buf_adds(&path, "?device=");
    fy_buf_add_query(&path, device);
    if (fy_buf_error(&path)) {
        fy_buf_release(&path);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    rc = fy_agent_request(
        a,
        &(struct fy_agent_request){.http = {.method = "GET", .path = path.data},
                                   .step = "why"},
        &rep, err);
    if (rc == 0 && rep->status != 200)
        rc = trace_refused(rep, err);
    if (rc == 0) {
        *out = json_loadb(rep->body.data, rep->body.len, 0, NULL);
        if (!json_is_object(*out))
            rc = fy_err_set(err, FERRY_EHTTP,
                            "GET /v1/trace: an answer that is not JSON");
    }
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    fy_buf_release(&path);
    return rc;
}

void fy_why_join(sqlite3 *db, json_t *local, json_t *server)
{
    json_t *row = json_object_get(server, "row");
    const char *device = json_string_value(
        json_object_get(json_object_get(server, "device"), "name"));
    const char *origin = json_string_value(json_object_get(row, "origin"));
    const char *text = json_string_value(json_object_get(row, "hlc"));
    uint64_t hlc = 0;

    if (!origin || !text || !device || strcmp(origin, device) != 0 ||
        fy_hlc_parse(text, &hlc) < 0)
        return;
    json_object_set_new(local, "stored_batch",
                        find_batch(db, true, (int64_t)hlc));
}
