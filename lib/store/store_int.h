/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/store/: the backends' ops tables, grouped by family so
 * that a backend can keep each family in a file of its own, and the
 * struct behind a store handle. Callers outside lib/store/ use the
 * fy_store_*() functions of store.h.
 */
#ifndef FY_STORE_INT_H
#define FY_STORE_INT_H

#include <string.h>

#include "store/store.h"

enum fy_store_caps {
    FY_STORE_CONCURRENT = (1 << 0), /* several writers at once */
};

/* API keys: see the fy_store_key_*() functions. */
struct fy_store_key_ops {
    int (*put)(struct fy_store *st, const struct fy_key *k,
               struct ferry_err *err);
    int (*get)(struct fy_store *st, const char *id, struct fy_key *k,
               struct ferry_err *err);
    int (*list)(struct fy_store *st, fy_key_cb *cb, void *ud,
                struct ferry_err *err);
    int (*revoke)(struct fy_store *st, const char *id, struct ferry_err *err);
    int (*rotate)(struct fy_store *st, const char *id, const char *new_hash,
                  int64_t overlap_s, struct ferry_err *err);
    int (*touch)(struct fy_store *st, const char *id, struct ferry_err *err);
};

/* The push transaction: see the fy_store_push_*() functions. */
struct fy_store_apply_ops {
    int (*begin)(struct fy_store *st, const char *device, int64_t *acked,
                 struct ferry_err *err);
    int (*apply)(struct fy_store *st, const struct fy_apply_batch *b,
                 struct fy_apply_stats *s, struct ferry_err *err);
    int (*commit)(struct fy_store *st, const char *device, int64_t acked,
                  long nchanges, struct ferry_err *err);
    void (*rollback)(struct fy_store *st);
};

/* Notices of committed writes: see fy_store_listen(). Optional. */
struct fy_store_notice_ops {
    int (*listen)(struct fy_store *st, struct ferry_err *err);
    int (*wait)(struct fy_store *st, int ms, bool *got, struct ferry_err *err);
};

/*
 * The statement runner: how ops written once (keys.c, internal.c) reach
 * either engine. Arguments are typed so that SQLite compares integers as
 * integers; results come back one row at a time as text.
 */
enum fy_sql_argk { FY_SQL_NULL = 0, FY_SQL_TEXT, FY_SQL_INT };

struct fy_sql_arg {
    enum fy_sql_argk kind;
    const char *s; /* TEXT: borrowed for the call */
    int64_t i;     /* INT */
};

#define FY_SQL_S(x)                                                            \
    {                                                                          \
        .kind = (x) ? FY_SQL_TEXT : FY_SQL_NULL, .s = (x)                      \
    }
#define FY_SQL_I(x)                                                            \
    {                                                                          \
        .kind = FY_SQL_INT, .i = (x)                                           \
    }

/*
 * One result row: n columns as text, NULL for SQL NULL; booleans read "t"
 * or "1" (fy_sql_bool). Borrowed until the callback returns; a nonzero
 * return stops the statement and is returned by the run.
 */
typedef int fy_sql_row_fn(const char *const *cols, int n, void *ud);

enum fy_sql_flags {
    FY_SQL_NOWAIT = (1 << 0), /* give up at once when the store is locked */
};

/* One statement (or, without args, a script of several). */
struct fy_sql_q {
    const char *sql; /* dialect-neutral template, see fy_sql_expand() */
    const struct fy_sql_arg *args;
    size_t nargs;
    fy_sql_row_fn *row; /* may be NULL */
    void *ud;
    unsigned flags;
    const char *what; /* names the step in error messages */
    long changes;     /* out: rows the last statement changed */
};

#define FY_SQL_MAX_ARGS 16
/* PostgreSQL's most columns of a table, and ferry's hidden ones. */
#define FY_SQL_MAX_COLS 1608

/*
 * How a backend spells SQL. Templates use $1..$n for placeholders and
 * {name} or {name:arg} tokens looked up in words: each entry's text, with
 * every '%' replaced by arg. See internal.c for the tokens in use.
 */
struct fy_sql_word {
    const char *name, *text;
};

struct fy_sql_dialect {
    char placeholder; /* '$' (PostgreSQL) or '?' (SQLite) */
    const struct fy_sql_word *words;
    size_t nwords;
    /* The declared type of a contract column. */
    const char *(*type)(enum fy_type t);
};

struct fy_store_sql_ops {
    const struct fy_sql_dialect *dialect;
    /* Runs q->sql as already expanded for this backend. */
    int (*run)(struct fy_store *st, const char *sql, struct fy_sql_q *q,
               struct ferry_err *err);
};

struct fy_store_ops {
    const char *name;
    unsigned caps;
    const struct fy_store_sql_ops *sql;
    /* lifecycle and schema */
    int (*open)(struct fy_store *st, const char *url, struct ferry_err *err);
    void (*close)(struct fy_store *st);
    int (*ping)(struct fy_store *st, struct ferry_err *err);
    int (*migrate)(struct fy_store *st, const struct fy_contract *c,
                   const struct fy_migrate_opts *o, struct ferry_err *err);
    int (*schema_version)(struct fy_store *st, long *version, char checksum[65],
                          struct ferry_err *err);
    /* families */
    const struct fy_store_key_ops *keys;
    const struct fy_store_apply_ops *apply;
    const struct fy_store_notice_ops *notice; /* NULL: none */
};

struct fy_store {
    const struct fy_store_ops *ops;
    void *impl;
};

/*
 * The file a SQLite store URL names: "sqlite://PATH", "sqlite:PATH" or a
 * bare PATH. One reading for opening the store and for checking that it
 * exists.
 */
static inline const char *fy_store_sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite://", 9) == 0)
        return url + 9;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url + 7;
    return url;
}

/*
 * Expands q's template for st's dialect and runs it (sql.c). Returns 0 or
 * a negative FERRY_E* with err filled.
 */
int fy_sql_run(struct fy_store *st, struct fy_sql_q *q, struct ferry_err *err);
/*
 * Appends tpl expanded for st's dialect to b, for statements that then
 * get text no template may hold (a default's SQL literal, which may hold
 * '{' or '$'). 0, FERRY_ENOMEM, or FERRY_EINVAL for an unknown token.
 */
int fy_sql_expand(const struct fy_store *st, const char *tpl, struct fy_buf *b);
/* The text of a word without argument, e.g. "version" (a bug if absent). */
const char *fy_sql_word(const struct fy_store *st, const char *name);
/* A boolean column as the engines print it ("t" or "1"). */
static inline bool fy_sql_bool(const char *v)
{
    return v && (v[0] == 't' || v[0] == '1');
}

/* ---- ops written once over fy_sql_run (keys.c, internal.c) ------------ */

extern const struct fy_store_key_ops fy_store_sql_key_ops;

/*
 * Creates ferry's own tables (devices, api_keys, schema_versions); o's
 * statement hook hears of them only when the store has none yet.
 */
int fy_sql_internal_ddl(struct fy_store *st, const struct fy_migrate_opts *o,
                        struct ferry_err *err);
/*
 * Refuses a contract that drifted from the recorded ones beyond what o
 * allows (sql.h), then creates c's tables and their tombstone tables, adds
 * the columns a table lacks (ferry's hidden ones on an adopted table, a
 * contract's later ones with their defaults, the tombstones' region), and
 * drops or retypes columns as o allows. Inside migrate's transaction; o
 * may be NULL.
 */
int fy_sql_contract_ddl(struct fy_store *st, const struct fy_contract *c,
                        const struct fy_migrate_opts *o, struct ferry_err *err);
/* Records c as the applied contract version. */
int fy_sql_record_version(struct fy_store *st, const struct fy_contract *c,
                          struct ferry_err *err);
int fy_sql_schema_version(struct fy_store *st, long *version, char checksum[65],
                          struct ferry_err *err);
/*
 * The end of a push: the device's new acknowledged seq and counters. The
 * template's arguments are $1 device, $2 acked seq, $3 changes (a backend
 * may send it with others at once).
 */
int fy_sql_device_ack(struct fy_store *st, const char *device, int64_t acked,
                      long nchanges, struct ferry_err *err);
extern const char fy_sql_device_ack_sql[];

extern const struct fy_store_ops fy_store_sqlite_ops;
extern const struct fy_store_ops fy_store_pg_ops;

/*
 * The FERRY_E* of a PostgreSQL SQLSTATE (NULL: none): what the caller can
 * do about the failure. A full disk (53100) is FERRY_ENOSPC, the server's
 * other resources and I/O (classes 08, 57P, 53, 58) FERRY_EUNAVAIL, both
 * retried and never blamed on a row; data errors (22, 23, 21000, 54)
 * FERRY_ECONTRACT, the batch's fault. pg.c's, in the open for its tests.
 */
int fy_pg_sqlstate_err(const char *state);

#endif
