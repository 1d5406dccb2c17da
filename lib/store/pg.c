/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL store. Built for throughput and for PgBouncer in transaction
 * mode: every batch is applied set-based (COPY into a transaction-local
 * staging table, then one INSERT ... ON CONFLICT per table), only unnamed
 * statements are used, and no state outlives a transaction. The device's
 * acknowledged seq is locked at the start and written at the end of the same
 * transaction, which is what makes a re-sent batch apply once.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/sql.h"
#include "store/store_int.h"
#include "util/hash.h"
#include "fy.h"

/* A few names of statements or tables, as hashes of their text. */
#define PG_NAMES_MAX 64

struct pg_names {
    uint64_t h[PG_NAMES_MAX];
    size_t n;
};

struct pg {
    PGconn *conn;
    char *url;
    /*
     * The server session of the current push (its backend's pid; 0 not
     * known), the statements it has prepared and the staging tables it
     * holds (committed), and the staging tables the transaction has made
     * or filled. Behind a pooler in transaction mode each transaction may
     * run in another session. Any failure forgets all of it.
     */
    int backend;
    struct pg_names prepared, staged, xact_staged;
};

static bool names_have(const struct pg_names *s, uint64_t h)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->h[i] == h)
            return true;
    }
    return false;
}

static void names_add(struct pg_names *s, uint64_t h)
{
    if (names_have(s, h))
        return;
    if (s->n == PG_NAMES_MAX)
        s->n = 0; /* looked up or made again when next used */
    s->h[s->n++] = h;
}

static void forget_session(struct pg *pg)
{
    pg->backend = 0;
    pg->prepared.n = pg->staged.n = pg->xact_staged.n = 0;
}

static const struct fy_sql_word pg_words[] = {
    {"s", "ferry."},
    {"schema", "CREATE SCHEMA IF NOT EXISTS ferry;"},
    {"int", "bigint"},
    {"text", "text"},
    {"time", "timestamptz"},
    {"bool", "boolean"},
    {"json", "jsonb"},
    {"false", "false"},
    {"now", "now()"},
    {"ago", "now() - interval '% seconds'"},
    {"epoch", "extract(epoch FROM %)::bigint"},
    {"ts", "to_timestamp(%::bigint)"},
    {"order", "%"},
    {"max", "greatest"},
    {"exists", "to_regclass('ferry.%') IS NOT NULL"},
    /* contract tables (internal.c) */
    {"origin", "text COLLATE \"C\""},
    {"version", "_ferry_xid"},
    {"version_def", "xid8 NOT NULL DEFAULT pg_current_xact_id()"},
    {"tomb", "ferry.\"tomb_%\""},
    {"add_column", "ADD COLUMN IF NOT EXISTS"},
    {"table_exists", "SELECT 1 WHERE to_regclass('\"%\"') IS NOT NULL"},
    {"drop_column", "DROP COLUMN IF EXISTS"},
    /* Probes, so that migrate reports only the columns it adds. */
    {"has_column", "SELECT 1 FROM pg_attribute WHERE attrelid ="
                   " to_regclass('\"%\"') AND attname = $1 AND NOT"
                   " attisdropped"},
    {"has_tomb_column", "SELECT 1 FROM pg_attribute WHERE attrelid ="
                        " to_regclass('ferry.\"tomb_%\"') AND attname = $1"
                        " AND NOT attisdropped"},
    /* A unique index on exactly the key ($1, a JSON array; $2 columns). */
    {"key_unique",
     "SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass('\"%\"')"
     " AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND"
     " i.indnatts = $2::int AND (SELECT count(*) FROM pg_attribute a WHERE"
     " a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]) AND"
     " a.attname IN (SELECT jsonb_array_elements_text($1::jsonb))) ="
     " $2::int LIMIT 1"},
    /* pull (read.c): rows ordered by (transaction, row sequence) */
    {"row_seq", "CREATE SEQUENCE IF NOT EXISTS ferry.row_seq CACHE 64;"},
    {"seq_def",
     "_ferry_seq bigint NOT NULL DEFAULT nextval('ferry.row_seq'), "},
    {"seq_col", "_ferry_seq"}, /* non-empty: add it to old tables */
    {"seq_col_def", "bigint NOT NULL DEFAULT nextval('ferry.row_seq')"},
    {"ver_sel", "_ferry_xid::text, _ferry_seq"},
    {"ver_order", "_ferry_xid, _ferry_seq"},
    {"ver_order_desc", "_ferry_xid DESC, _ferry_seq DESC"},
    {"ver_after", "(x._ferry_xid, x._ferry_seq) > ($1::xid8, $2)"},
    {"begin_write", "BEGIN"},
    {"vidx", "\"%__ferry\""},
    {"tvidx", "\"tomb_%_v\""},
    /* Only transactions older than every running one: see read.c. */
    {"horizon", " AND _ferry_xid < pg_snapshot_xmin(pg_current_snapshot())"},
    {"begin_read", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"},
    {"hex", "encode(%, 'hex')"},
    {"real", "%"},
    /* snapshots (export.c): the read's snapshot, XMIN:XMAX:XIP,... */
    {"snap_pos", "SELECT pg_current_snapshot()::text"},
    {"ver_sum", "coalesce(sum(x._ferry_seq), 0)::text"},
    /* blobs (blob.c) */
    {"bytes", "bytea"},
    {"true", "true"},
    {"unhex", "decode(%, 'hex')"},
    {"lock", " FOR UPDATE"},
    /* runs (runs.c) */
    {"serial", "bigserial PRIMARY KEY"},
    {"now_ms", "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"},
    {"fill", " WITH (fillfactor = %)"},
    {"try_lock", "SELECT pg_try_advisory_xact_lock(%)"},
    {"relaxed", "SET LOCAL synchronous_commit TO off"},
    /*
     * Qualified: a bare _ferry_xid in ORDER BY names the output column
     * _ferry_xid::text of {ver_sel}, which sorts as text ("1000" < "999")
     * and cannot use the version index.
     */
    {"ver_order_x", "x._ferry_xid, x._ferry_seq"},
    /*
     * expiring cursors (backup.c): below every running transaction, so no
     * write can still land at or below it (as the pruning mark, read.c);
     * the tables with a version column
     */
    {"ver_now", "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::"
                "bigint - 1)::text"},
    /* above every committed version (ids from xmax on are not given yet) */
    {"ver_next", "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"},
    {"ver_tables", "SELECT quote_ident(table_schema) || '.' ||"
                   " quote_ident(table_name) FROM information_schema.columns"
                   " WHERE column_name = '_ferry_xid' AND table_schema NOT IN"
                   " ('pg_catalog', 'information_schema')"},
};

int fy_pg_sqlstate_err(const char *state)
{
    if (!state)
        return FERRY_ESTORE;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        return FERRY_EUNAVAIL;
    /*
     * A full disk (53100: a table, an index or a temporary file could not
     * grow) and the server's other resources and I/O (class 53, class 58)
     * are the server's state, not the batch's: never a reason to park a
     * row. On a full disk the session is kept (only the transaction
     * failed); the others drop it like a lost connection.
     */
    if (strcmp(state, "53100") == 0)
        return FERRY_ENOSPC;
    if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
        return FERRY_EUNAVAIL;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
        return FERRY_EBUSY;
    /*
     * Data exceptions and constraint violations are the batch's fault (a
     * value ferryd's own checks let through, such as a timestamp PostgreSQL
     * rejects): 422, so the agent narrows down and parks the change instead
     * of retrying it forever.
     */
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
        strcmp(state, "21000") == 0 || strncmp(state, "54", 2) == 0)
        return FERRY_ECONTRACT;
    /*
     * A database, role or schema that does not exist, or a refused
     * password, will not fix itself: a configuration error, not an outage.
     */
    if (strcmp(state, "3D000") == 0 || strncmp(state, "28", 2) == 0 ||
        strcmp(state, "3F000") == 0)
        return FERRY_ECONFIG;
    return FERRY_ESTORE;
}

static int classify(PGconn *conn, const PGresult *r)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return FERRY_EUNAVAIL;
    return fy_pg_sqlstate_err(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                : NULL);
}

static void first_line(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
    dst[strcspn(dst, "\n")] = '\0';
}

static int pg_fail(struct pg *pg, PGresult *r, const char *what,
                   struct ferry_err *err)
{
    char msg[300];
    int code = classify(pg->conn, r);

    forget_session(pg);
    /* The primary message only: no "ERROR:" prefix, no SQL text. */
    first_line(msg, sizeof(msg),
               r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                   ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
               : r ? PQresultErrorMessage(r)
                   : PQerrorMessage(pg->conn));
    PQclear(r);
    if (code == FERRY_EUNAVAIL) {
        /* Drop the connection; the next call reconnects. */
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    fy_warn("store", "postgresql %s failed: %s", what, msg);
    return fy_err_set(err, code, "%s failed: %s", what, msg);
}

static void quiet_notice(void *ud, const char *msg)
{
    (void)ud;
    fy_debug("store", "postgresql notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

/*
 * libpq gives no SQLSTATE for a failed connection, only the server's
 * message: a missing database or role (3D000, 28000), a refused password
 * (28P01), no pg_hba.conf entry (28000), a password libpq does not have,
 * or a URL it cannot parse are permanent. Anything else (refused, timed
 * out, starting up, too many clients) may pass.
 */
static bool connect_permanent(PGconn *conn, const char *msg)
{
    static const char *const marks[] = {"does not exist",
                                        "authentication failed",
                                        "no pg_hba.conf entry",
                                        "no password supplied",
                                        "invalid URI",
                                        "invalid connection option",
                                        "invalid sslmode",
                                        "missing \"=\" after",
                                        "permission denied for database"};

    if (conn && PQconnectionNeedsPassword(conn))
        return true;
    for (size_t i = 0; i < FY_ARRAY_LEN(marks); i++) {
        if (strstr(msg, marks[i]))
            return true;
    }
    return false;
}

/*
 * A pooled connection that the server closed while it sat idle (a
 * restart, a terminated backend) still says CONNECTION_OK until libpq
 * reads from it. Outside a transaction nothing is lost by looking first:
 * a readable socket is the server's goodbye (pooled connections LISTEN to
 * nothing), and the request then gets a fresh connection instead of a 503
 * for each dead one in the pool.
 */
static bool closed_by_server(PGconn *conn)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

    if (PQtransactionStatus(conn) != PQTRANS_IDLE || pfd.fd < 0 ||
        poll(&pfd, 1, 0) <= 0)
        return false;
    if (pfd.revents & (POLLHUP | POLLERR))
        return true;
    /*
     * PQconsumeInput reads what is there (the server's FATAL message) and
     * returns without trying again, so an end of input right behind it is
     * seen by a second look: still readable after everything was read.
     */
    if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
        return true;
    return poll(&pfd, 1, 0) > 0 &&
           (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK);
}

static int pg_connect(struct pg *pg, struct ferry_err *err)
{
    char msg[300];
    bool permanent;

    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
        !closed_by_server(pg->conn))
        return 0;
    if (pg->conn)
        fy_info("store", "postgresql: a pooled connection was closed by the"
                         " server; connecting again");
    PQfinish(pg->conn);
    pg->conn = PQconnectdb(pg->url);
    forget_session(pg);
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
        return 0;
    }
    /* Keep the line with the server's reason ("FATAL: ..."). */
    {
        const char *full =
            pg->conn ? PQerrorMessage(pg->conn) : "out of memory";
        const char *fatal = strstr(full, "FATAL:");

        first_line(msg, sizeof(msg), fatal ? fatal : full);
        permanent = connect_permanent(pg->conn, full);
    }
    PQfinish(pg->conn);
    pg->conn = NULL;
    return fy_err_set(err, permanent ? FERRY_ECONFIG : FERRY_EUNAVAIL,
                      "cannot connect to postgresql: %s", msg);
}

/*
 * Runs one statement (parameters as text, NULL entries are SQL NULL) and
 * checks its status. *out, when given, receives the result (PQclear it).
 */
static int pg_run(struct pg *pg, const char *sql, int n,
                  const char *const *vals, ExecStatusType want, PGresult **out,
                  const char *what, struct ferry_err *err)
{
    PGresult *r;
    int rc = pg_connect(pg, err);

    if (out)
        *out = NULL;
    if (rc < 0)
        return rc;
    r = n ? PQexecParams(pg->conn, sql, n, NULL, vals, NULL, NULL, 0)
          : PQexec(pg->conn, sql);
    if (PQresultStatus(r) != want)
        return pg_fail(pg, r, what, err);
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static uint64_t fnv(uint64_t h, const char *p);

/* Prepares sql as name in the current session unless it has it already. */
static int pg_prepare(struct pg *pg, const char *name, const char *sql,
                      const char *what, struct ferry_err *err)
{
    const char *const args[] = {name};
    PGresult *r = NULL;
    int rc = pg_run(pg, "SELECT 1 FROM pg_prepared_statements WHERE name = $1",
                    1, args, PGRES_TUPLES_OK, &r, what, err);
    bool have = rc == 0 && PQntuples(r) > 0;

    PQclear(r);
    if (rc < 0 || have)
        return rc;
    r = PQprepare(pg->conn, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(pg, r, what, err);
    PQclear(r);
    return 0;
}

/*
 * Runs sql (no parameters) as a statement prepared once per server session
 * instead of planned at every push: planning was a tenth of a 1,000-row
 * upsert and a third of a 200-row one. The name is a hash of the text, so
 * two ferryd processes sharing sessions through a pooler prepare the same
 * text under the same name. Inside a push's transaction only (begin knows
 * the session).
 */
static int pg_run_prepared(struct pg *pg, const char *sql, ExecStatusType want,
                           PGresult **out, const char *what,
                           struct ferry_err *err)
{
    uint64_t h = fnv(FY_FNV_SEED, sql);
    char name[24];
    PGresult *r;
    int rc = 0;

    snprintf(name, sizeof(name), "fy_%016llx", (unsigned long long)h);
    if (!pg->backend)
        return pg_run(pg, sql, 0, NULL, want, out, what, err);
    if (!names_have(&pg->prepared, h)) {
        rc = pg_prepare(pg, name, sql, what, err);
        if (rc < 0)
            return rc;
        names_add(&pg->prepared, h);
    }
    r = PQexecPrepared(pg->conn, name, 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != want)
        return pg_fail(pg, r, what, err);
    *out = r;
    return 0;
}

/* One statement of a pipeline: text parameters only. */
struct pg_step {
    const char *sql;
    int n;
    const char *const *vals;
};

/*
 * Reads what a pipeline of n statements sent: each one's result, then the
 * sync's. *bad gets the first failure (or stays NULL), *last the last
 * statement's result when it succeeded. False when the connection broke.
 */
static bool pipeline_results(PGconn *c, size_t n, PGresult **bad,
                             PGresult **last)
{
    PGresult *r;

    for (size_t i = 0; i < n; i++) {
        ExecStatusType s;

        if (!(r = PQgetResult(c)))
            return false;
        s = PQresultStatus(r);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && !*bad)
            *bad = r;
        else if (i + 1 == n && last && !*bad)
            *last = r;
        else
            PQclear(r);
        while ((r = PQgetResult(c)))
            PQclear(r); /* the NULL after each statement's results */
    }
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PQclear(r);
        return false;
    }
    PQclear(r);
    return PQexitPipelineMode(c) == 1;
}

/*
 * Sends the steps at once in libpq's pipeline mode and then reads their
 * results: one round trip where each statement would take its own (a
 * push's begin and commit are three statements each). They run in order;
 * after a failure the server skips the rest. *last (may be NULL) gets the
 * last step's result (PQclear it).
 */
static int pg_pipeline(struct pg *pg, const struct pg_step *steps, size_t n,
                       PGresult **last, const char *what, struct ferry_err *err)
{
    PGresult *bad = NULL;
    bool ok;
    int rc = pg_connect(pg, err);

    if (last)
        *last = NULL;
    if (rc < 0)
        return rc;
    ok = PQenterPipelineMode(pg->conn) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = PQsendQueryParams(pg->conn, steps[i].sql, steps[i].n, NULL,
                               steps[i].vals, NULL, NULL, 0) == 1;
    ok = ok && PQpipelineSync(pg->conn) == 1;
    ok = ok && pipeline_results(pg->conn, n, &bad, last);
    if (!ok) {
        /* Left mid-pipeline: the connection is of no further use. */
        PQclear(bad);
        if (last) {
            PQclear(*last);
            *last = NULL;
        }
        rc = pg_fail(pg, NULL, what, err);
        PQfinish(pg->conn);
        pg->conn = NULL;
        return rc;
    }
    return bad ? pg_fail(pg, bad, what, err) : 0;
}

/* ---- the statement runner (ops written once: keys.c, internal.c) ------ */

static int pg_rows(PGresult *r, struct fy_sql_q *q)
{
    const char *cols[FY_SQL_MAX_COLS];
    int n = PQnfields(r), rc = 0;

    assert(n <= FY_SQL_MAX_COLS);
    for (int row = 0; rc == 0 && q->row && row < PQntuples(r); row++) {
        for (int i = 0; i < n && i < FY_SQL_MAX_COLS; i++)
            cols[i] = PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
        rc = q->row(cols, n, q->ud);
    }
    return rc;
}

static int pg_run_q(struct fy_store *st, const char *sql, struct fy_sql_q *q,
                    struct ferry_err *err)
{
    struct pg *pg = st->impl;
    char ints[FY_SQL_MAX_ARGS][24];
    const char *vals[FY_SQL_MAX_ARGS];
    PGresult *r;
    int rc = pg_connect(pg, err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < q->nargs; i++) {
        vals[i] = q->args[i].kind == FY_SQL_TEXT ? q->args[i].s : NULL;
        if (q->args[i].kind == FY_SQL_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)q->args[i].i);
            vals[i] = ints[i];
        }
    }
    r = q->nargs ? PQexecParams(pg->conn, sql, (int)q->nargs, NULL, vals, NULL,
                                NULL, 0)
                 : PQexec(pg->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(pg, r, q->what, err);
    q->changes = strtol(PQcmdTuples(r), NULL, 10);
    rc = pg_rows(r, q);
    PQclear(r);
    return rc;
}

static const struct fy_sql_dialect pg_dialect = {
    .placeholder = '$',
    .words = pg_words,
    .nwords = FY_ARRAY_LEN(pg_words),
    .type = fy_type_name,
};

static const struct fy_store_sql_ops pg_sql_ops = {
    .dialect = &pg_dialect,
    .run = pg_run_q,
};

static int pg_open(struct fy_store *st, const char *url, struct ferry_err *err)
{
    struct pg *pg = fy_calloc(1, sizeof(*pg));

    if (!pg || !(pg->url = fy_strdup(url))) {
        fy_free(pg);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    st->impl = pg;
    /*
     * A store that is down at start-up is not fatal: ferryd serves /health
     * with 503 and reconnects on the next request. A wrong database name,
     * role, password or URL is: it would answer 503 forever.
     */
    if (pg_connect(pg, err) == FERRY_ECONFIG) {
        fy_free(pg->url);
        fy_free(pg);
        st->impl = NULL;
        return FERRY_ECONFIG;
    }
    if (err && err->code < 0)
        fy_warn("store", "%s", err->msg);
    fy_err_clear(err);
    return 0;
}

static void pg_close(struct fy_store *st)
{
    struct pg *pg = st->impl;

    if (!pg)
        return;
    PQfinish(pg->conn);
    fy_free(pg->url);
    fy_free(pg);
    st->impl = NULL;
}

static int pg_ping(struct fy_store *st, struct ferry_err *err)
{
    struct pg *pg = st->impl;
    bool had_conn = pg->conn != NULL;
    int rc =
        pg_run(pg, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, NULL, "ping", err);

    /*
     * A pooled connection the server closed since its last use (a restart,
     * a terminated backend) fails once, then reconnects. /health asks
     * whether the store is there now, so it tries a fresh connection at
     * once instead of answering 503 once per dead pooled connection.
     */
    if (rc == FERRY_EUNAVAIL && had_conn) {
        fy_err_clear(err);
        rc =
            pg_run(pg, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, NULL, "ping", err);
    }
    return rc;
}

/* ---- migrate ---------------------------------------------------------- */

static int pg_migrate(struct fy_store *st, const struct fy_contract *c,
                      const struct fy_migrate_opts *o, struct ferry_err *err)
{
    struct pg *pg = st->impl;
    int rc;

    /* One migrator at a time, however many ferryd processes start. */
    rc = pg_run(pg, "BEGIN; SELECT pg_advisory_xact_lock(7236081)", 0, NULL,
                PGRES_TUPLES_OK, NULL, "migrate", err);
    if (rc == 0)
        rc = fy_sql_internal_ddl(st, o, err);
    if (rc == 0)
        rc = fy_sql_contract_ddl(st, c, o, err);
    if (rc == 0)
        rc = fy_sql_record_version(st, c, err);
    if (rc == 0)
        rc = pg_run(pg, o && o->dry_run ? "ROLLBACK" : "COMMIT", 0, NULL,
                    PGRES_COMMAND_OK, NULL, "commit", err);
    if (rc < 0 && pg->conn)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return rc;
}

/* ---- push ------------------------------------------------------------- */

static void pg_push_rollback(struct fy_store *st)
{
    struct pg *pg = st->impl;

    if (pg->conn && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    pg->xact_staged.n = 0; /* what it made is gone with it */
}

/*
 * The locked device row: its acked seq, and the server session the push
 * runs in (what it has prepared is known per session). False when the
 * device has no row yet.
 */
static bool device_row(struct pg *pg, PGresult *r, int64_t *acked)
{
    int backend;

    if (PQntuples(r) != 1)
        return false;
    *acked = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    backend = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    if (backend != pg->backend)
        forget_session(pg);
    pg->backend = backend;
    pg->xact_staged.n = 0;
    return true;
}

static int pg_push_begin(struct fy_store *st, const char *device,
                         int64_t *acked, struct ferry_err *err)
{
    static const char lock[] = "SELECT acked_seq, pg_backend_pid()"
                               " FROM ferry.devices WHERE device = $1"
                               " FOR UPDATE";
    struct pg *pg = st->impl;
    const char *const dev[] = {device};
    const struct pg_step steps[] = {{"BEGIN", 0, NULL},
                                    {"SET LOCAL TimeZone = 'UTC'", 0, NULL},
                                    {lock, 1, dev}};
    PGresult *r = NULL;
    int rc;

    rc = pg_pipeline(pg, steps, FY_ARRAY_LEN(steps), &r, "begin", err);
    if (rc < 0)
        return rc;
    if (!device_row(pg, r, acked)) {
        /* A device's first push: its row, then the lock. */
        PQclear(r);
        r = NULL;
        rc = pg_run(pg,
                    "INSERT INTO ferry.devices (device) VALUES ($1)"
                    " ON CONFLICT (device) DO NOTHING",
                    1, dev, PGRES_COMMAND_OK, NULL, "add device", err);
        if (rc == 0)
            rc = pg_run(pg, lock, 1, dev, PGRES_TUPLES_OK, &r, "lock device",
                        err);
        if (rc == 0 && !device_row(pg, r, acked))
            rc = fy_err_set(err, FERRY_ESTORE, "device row vanished");
    }
    PQclear(r);
    if (rc < 0)
        pg_push_rollback(st);
    return rc;
}

/* FNV-1a of the C string p and a separator: "ab","c" is not "a","bc". */
static uint64_t fnv(uint64_t h, const char *p)
{
    return fy_fnv1a(fy_fnv1a(h, p, strlen(p)), "\xff", 1);
}

/*
 * The staging table of t: a name that fits PostgreSQL's 63 bytes, from a
 * hash of the table's shape (its name, its columns' names and types, and
 * whether the batch leaves columns out). Behind PgBouncer in transaction
 * mode a server session, with its temporary tables, passes from one ferryd
 * to another, which may run another contract version: a table of another
 * shape has another name.
 */
static void stage_name(const struct fy_table *t, bool partial, char *out,
                       size_t n)
{
    uint64_t h = fnv(FY_FNV_SEED, t->name);

    for (size_t i = 0; i < t->ncols; i++) {
        h = fnv(h, t->cols[i].name);
        h = fnv(h, fy_type_name(t->cols[i].type));
    }
    snprintf(out, n, "_fy_stage_%016llx%s", (unsigned long long)h,
             partial ? "_p" : "");
}

/* Does any change of the batch leave columns out (a PATCH)? */
static bool batch_partial(const struct fy_apply_batch *ab)
{
    for (size_t i = 0; i < ab->n; i++) {
        if (ab->changes[i]->partial)
            return true;
    }
    return false;
}

/*
 * One staged change: its values, version, whether it deletes, its index in
 * the batch (how outcomes find their change) and, for partial batches, a
 * '0'/'1' mask of absent columns.
 */
static void stage_row(struct fy_buf *b, const struct fy_apply_batch *ab,
                      size_t ix, bool partial)
{
    const struct fy_change *ch = ab->changes[ix];

    for (size_t i = 0; i < ab->table->ncols; i++) {
        fy_val_copy_text(b, &ch->vals[i]);
        fy_buf_addc(b, '\t');
    }
    fy_buf_add_i64(b, (long long)ch->hlc);
    fy_buf_addc(b, '\t');
    fy_buf_adds(b, ab->device); /* validated: no COPY escapes needed */
    fy_buf_add(b, ch->del ? "\tt\t" : "\tf\t", 3);
    fy_buf_add_u64(b, ix);
    if (partial) {
        fy_buf_addc(b, '\t');
        for (size_t i = 0; i < ab->table->ncols; i++)
            fy_buf_addc(b, fy_val_left_out(&ch->vals[i]) ? '1' : '0');
    }
    fy_buf_addc(b, '\n');
}

/*
 * One staging table per contract table and shape, kept for the session and
 * emptied at each commit: creating and dropping one per apply wrote the
 * catalogs every time (about 1.3 ms of a 2-3 ms single-row write). A
 * rolled-back transaction takes its creation with it; IF NOT EXISTS makes
 * it again.
 */
static void stage_ddl(struct fy_buf *b, const struct fy_table *t,
                      const char *stage, bool partial)
{
    fy_buf_adds(b, "CREATE TEMP TABLE IF NOT EXISTS ");
    fy_buf_adds(b, stage);
    fy_buf_adds(b, " (");
    fy_sql_col_defs(b, t, true, false);
    fy_buf_addf(b,
                "_ferry_hlc bigint, _ferry_origin text COLLATE \"C\","
                " _ferry_del boolean, _ferry_i integer%s) ON COMMIT DELETE"
                " ROWS; ",
                partial ? ", _ferry_absent text" : "");
    /*
     * The upsert's SET reads a partial change's mask by its key, once per
     * column and row: without an index each read scans the batch (a
     * 20000-row update push from an agent that leaves two defaulted
     * columns out took 2.1 to 2.9 s; with it 0.6 to 1.4 s, full rows
     * 0.5 s).
     */
    if (partial) {
        fy_buf_addf(b, "CREATE INDEX IF NOT EXISTS %s_k ON %s (", stage, stage);
        fy_sql_pk_cols(b, t);
        fy_buf_adds(b, "); ");
    }
}

static int copy_stage(struct pg *pg, const struct fy_apply_batch *ab,
                      const char *stage, bool partial, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    uint64_t h = fnv(FY_FNV_SEED, stage);
    bool refill = names_have(&pg->xact_staged, h);
    PGresult *r;
    int rc;

    /*
     * The session's staging table is made when not known to be there, and
     * emptied when this transaction filled it before (it applies the same
     * table twice).
     */
    if (!refill && !names_have(&pg->staged, h))
        stage_ddl(&b, ab->table, stage, partial);
    if (refill)
        fy_buf_addf(&b, "DELETE FROM %s; ", stage);
    fy_buf_addf(&b, "COPY %s FROM STDIN", stage);
    names_add(&pg->xact_staged, h);
    rc = fy_buf_error(&b)
             ? fy_err_set(err, FERRY_ENOMEM, "out of memory")
             : pg_run(pg, b.data, 0, NULL, PGRES_COPY_IN, NULL, "stage", err);
    if (rc < 0)
        goto out;
    fy_buf_reset(&b);
    for (size_t i = 0; i < ab->n; i++)
        stage_row(&b, ab, i, partial);
    if (fy_buf_error(&b)) {
        PQputCopyEnd(pg->conn, "out of memory");
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    } else if (PQputCopyData(pg->conn, b.data, (int)b.len) != 1 ||
               PQputCopyEnd(pg->conn, NULL) != 1) {
        rc = pg_fail(pg, NULL, "copy", err);
        goto out;
    }
    while ((r = PQgetResult(pg->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = pg_fail(pg, r, "copy", err);
        else
            PQclear(r);
        if (!pg->conn)
            break;
    }
out:
    fy_buf_release(&b);
    return rc;
}

static int scope_check(struct pg *pg, const struct fy_apply_batch *ab,
                       const char *stage, struct ferry_err *err)
{
    const struct fy_table *t = ab->table;
    struct fy_buf b = FY_BUF_INIT(0);
    PGresult *r = NULL;
    int rc;

    fy_buf_adds(&b, "SELECT 1 FROM ");
    fy_buf_add_ident(&b, t->name);
    fy_buf_addf(&b, " t JOIN %s s ON ", stage);
    fy_sql_pk_match(&b, t, "t", "s");
    fy_buf_adds(&b, " WHERE t.");
    fy_buf_add_ident(&b, t->cols[t->region_col].name);
    fy_buf_adds(&b, " IS DISTINCT FROM s.");
    fy_buf_add_ident(&b, t->cols[t->region_col].name);
    fy_buf_adds(&b, " LIMIT 1");
    rc = pg_run(pg, b.data, 0, NULL, PGRES_TUPLES_OK, &r, "scope check", err);
    if (rc == 0 && PQntuples(r) > 0)
        rc = fy_err_set(err, FERRY_EFORBIDDEN,
                        "table '%s': a row belongs to another region than "
                        "'%s'",
                        t->name, ab->scope_region);
    PQclear(r);
    fy_buf_release(&b);
    return rc;
}

/*
 * Sets the outcome of each change of one kind (deletes or upserts) from
 * the rows the statement returned: (index) for deletes, (index, created)
 * for upserts. The ones not returned changed nothing. Returns the number
 * of rows returned.
 */
static long outcomes(const struct fy_apply_batch *ab, PGresult *r, bool del)
{
    int n = PQntuples(r);

    for (size_t i = 0; i < ab->n; i++) {
        if (ab->changes[i]->del == del)
            ab->changes[i]->outcome = del ? FY_ROW_NOOP : FY_ROW_STALE;
    }
    for (int row = 0; row < n; row++) {
        unsigned long ix = strtoul(PQgetvalue(r, row, 0), NULL, 10);

        assert(ix < ab->n);
        if (ix >= ab->n)
            continue;
        ab->changes[ix]->outcome = del ? FY_ROW_DELETED
                                   : PQgetvalue(r, row, 1)[0] == 't'
                                       ? FY_ROW_CREATED
                                       : FY_ROW_UPDATED;
    }
    return n;
}

static long count_created(const struct fy_apply_batch *ab)
{
    long n = 0;

    for (size_t i = 0; i < ab->n; i++)
        n += ab->changes[i]->outcome == FY_ROW_CREATED;
    return n;
}

/* The totals of a statement that counted its rows (totals_only). */
static long counted(PGresult *r, int col)
{
    return PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, col), NULL, 10) : 0;
}

static int apply_deletes(struct pg *pg, const struct fy_apply_batch *ab,
                         const char *stage, struct fy_apply_stats *s,
                         struct ferry_err *err)
{
    const struct fy_table *t = ab->table;
    struct fy_buf b = FY_BUF_INIT(0);
    PGresult *r = NULL;
    int rc;

    fy_buf_adds(&b, "WITH d AS (DELETE FROM ");
    fy_buf_add_ident(&b, t->name);
    fy_buf_addf(&b, " t USING %s s WHERE s._ferry_del AND ", stage);
    fy_sql_pk_match(&b, t, "t", "s");
    fy_buf_adds(&b, " AND (t._ferry_hlc, t._ferry_origin) < (s._ferry_hlc,"
                    " s._ferry_origin) RETURNING s._ferry_i), tb AS"
                    " (INSERT INTO ");
    fy_buf_addf(&b, "ferry.\"tomb_%s\" AS x (", t->name);
    fy_sql_pk_cols(&b, t);
    fy_buf_adds(&b, ", _ferry_hlc, _ferry_origin, _ferry_region) SELECT ");
    fy_sql_pk_cols(&b, t);
    fy_buf_adds(&b, ", _ferry_hlc, _ferry_origin, ");
    /* A region-scoped key's tombstone is its region's only. */
    if (t->region_col >= 0)
        fy_buf_add_ident(&b, t->cols[t->region_col].name);
    else
        fy_buf_adds(&b, "NULL::text");
    fy_buf_addf(&b, " FROM %s WHERE _ferry_del ON CONFLICT (", stage);
    fy_sql_pk_cols(&b, t);
    fy_buf_adds(&b, ") DO UPDATE SET _ferry_hlc = EXCLUDED._ferry_hlc,"
                    " _ferry_origin = EXCLUDED._ferry_origin,"
                    " _ferry_region = EXCLUDED._ferry_region,"
                    " _ferry_xid = pg_current_xact_id(),"
                    " _ferry_seq = EXCLUDED._ferry_seq"
                    " WHERE (x._ferry_hlc, x._ferry_origin) <"
                    " (EXCLUDED._ferry_hlc, EXCLUDED._ferry_origin))");
    fy_buf_adds(&b, ab->totals_only ? " SELECT count(*) FROM d"
                                    : " SELECT _ferry_i FROM d");
    rc = pg_run_prepared(pg, b.data, PGRES_TUPLES_OK, &r, "delete", err);
    if (rc == 0)
        s->deleted += ab->totals_only ? counted(r, 0) : outcomes(ab, r, true);
    PQclear(r);
    fy_buf_release(&b);
    return rc;
}

/*
 * The SET of one column: a partial batch keeps a column its change left
 * out, read from the change's mask in the staging table.
 */
static void set_col(struct fy_buf *b, const struct fy_table *t, size_t i,
                    const char *stage, bool partial)
{
    fy_buf_add_ident(b, t->cols[i].name);
    fy_buf_adds(b, " = ");
    if (partial) {
        fy_buf_addf(b,
                    "CASE WHEN (SELECT substr(a._ferry_absent, %zu, 1)"
                    " FROM %s a WHERE ",
                    i + 1, stage);
        fy_sql_pk_match(b, t, "a", "EXCLUDED");
        fy_buf_adds(b, ") = '1' THEN t.");
        fy_buf_add_ident(b, t->cols[i].name);
        fy_buf_adds(b, " ELSE ");
    }
    fy_buf_adds(b, "EXCLUDED.");
    fy_buf_add_ident(b, t->cols[i].name);
    fy_buf_adds(b, partial ? " END, " : ", ");
}

static void upsert_insert(struct fy_buf *b, const struct fy_table *t,
                          const char *stage)
{
    fy_buf_adds(b, "INSERT INTO ");
    fy_buf_add_ident(b, t->name);
    fy_buf_adds(b, " AS t (");
    fy_sql_cols(b, t, "");
    fy_buf_adds(b, ", _ferry_hlc, _ferry_origin) SELECT ");
    fy_sql_cols(b, t, "s.");
    fy_buf_addf(b,
                ", s._ferry_hlc, s._ferry_origin FROM %s s WHERE NOT"
                " s._ferry_del AND NOT EXISTS (SELECT 1 FROM ",
                stage);
    fy_buf_addf(b, "ferry.\"tomb_%s\" x WHERE ", t->name);
    fy_sql_pk_match(b, t, "x", "s");
    fy_buf_adds(b, " AND (x._ferry_hlc, x._ferry_origin) >= (s._ferry_hlc,"
                   " s._ferry_origin)");
    /* Another region's tombstone does not shadow this region's row. */
    if (t->region_col >= 0) {
        fy_buf_adds(b, " AND (x._ferry_region IS NULL OR x._ferry_region = s.");
        fy_buf_add_ident(b, t->cols[t->region_col].name);
        fy_buf_adds(b, ")");
    }
    fy_buf_adds(b, ")");
}

/*
 * One statement for all upserts of the batch. It returns the staging index
 * of each row it wrote and whether it created it: the key comes back from
 * RETURNING and is joined to the staging table (one key per change). With
 * totals_only it returns the rows written and created instead: the join
 * and the CTE's keys cost about a tenth of the statement.
 */
static void upsert_sql(struct fy_buf *b, const struct fy_apply_batch *ab,
                       const char *stage, bool partial)
{
    const struct fy_table *t = ab->table;

    fy_buf_adds(b, "WITH ins (");
    for (size_t i = 0; !ab->totals_only && i < t->npk; i++)
        fy_buf_addf(b, "_k%zu, ", i);
    fy_buf_adds(b, "_created) AS (");
    upsert_insert(b, t, stage);
    fy_buf_adds(b, " ON CONFLICT (");
    fy_sql_pk_cols(b, t);
    fy_buf_adds(b, ") DO UPDATE SET ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (!fy_table_is_pk(t, i))
            set_col(b, t, i, stage, partial);
    }
    fy_buf_adds(b, "_ferry_hlc = EXCLUDED._ferry_hlc,"
                   " _ferry_origin = EXCLUDED._ferry_origin,"
                   " _ferry_xid = pg_current_xact_id(),"
                   " _ferry_seq = EXCLUDED._ferry_seq"
                   " WHERE (t._ferry_hlc, t._ferry_origin) <"
                   " (EXCLUDED._ferry_hlc, EXCLUDED._ferry_origin)"
                   " RETURNING ");
    if (ab->totals_only) {
        fy_buf_adds(b, "(t.xmax = 0)) SELECT count(*), count(*) FILTER"
                       " (WHERE _created) FROM ins");
        return;
    }
    fy_sql_pk_cols(b, t); /* unqualified: the target's columns */
    fy_buf_addf(b,
                ", (t.xmax = 0)) SELECT s._ferry_i, ins._created FROM ins"
                " JOIN %s s ON NOT s._ferry_del",
                stage);
    for (size_t i = 0; i < t->npk; i++) {
        fy_buf_addf(b, " AND ins._k%zu = s.", i);
        fy_buf_add_ident(b, t->cols[t->pk[i]].name);
    }
}

static int apply_upserts(struct pg *pg, const struct fy_apply_batch *ab,
                         const char *stage, bool partial,
                         struct fy_apply_stats *s, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    PGresult *r = NULL;
    long written, created;
    int rc;

    upsert_sql(&b, ab, stage, partial);
    if (fy_buf_error(&b)) {
        fy_buf_release(&b);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    rc = pg_run_prepared(pg, b.data, PGRES_TUPLES_OK, &r, "upsert", err);
    if (rc == 0) {
        written = ab->totals_only ? counted(r, 0) : outcomes(ab, r, false);
        created = ab->totals_only ? counted(r, 1) : count_created(ab);
        s->created += created;
        s->updated += written - created;
        s->stale += (long)(ab->n - ab->ndel) - written;
    }
    PQclear(r);
    fy_buf_release(&b);
    return rc;
}

static int pg_push_apply(struct fy_store *st, const struct fy_apply_batch *ab,
                         struct fy_apply_stats *s, struct ferry_err *err)
{
    struct pg *pg = st->impl;
    char stage[32];
    bool partial = batch_partial(ab);
    int rc;

    stage_name(ab->table, partial, stage, sizeof(stage));
    rc = copy_stage(pg, ab, stage, partial, err);
    if (rc == 0 && ab->scope_region && ab->table->region_col >= 0)
        rc = scope_check(pg, ab, stage, err);
    if (rc == 0 && ab->ndel > 0)
        rc = apply_deletes(pg, ab, stage, s, err);
    if (rc == 0 && ab->n > ab->ndel)
        rc = apply_upserts(pg, ab, stage, partial, s, err);
    return rc;
}

static int pg_push_commit(struct fy_store *st, const char *device,
                          int64_t acked, long nchanges, struct ferry_err *err)
{
    struct pg *pg = st->impl;
    struct fy_buf sql = FY_BUF_INIT(0);
    char seq[24], count[24];
    const char *const vals[] = {device, seq, count};
    /* Waiting pulls on every ferryd wake up; sent only if it commits. */
    struct pg_step steps[] = {{NULL, 3, vals},
                              {"NOTIFY ferry_changes", 0, NULL},
                              {"COMMIT", 0, NULL}};
    int rc = fy_sql_expand(st, fy_sql_device_ack_sql, &sql);

    snprintf(seq, sizeof(seq), "%lld", (long long)acked);
    snprintf(count, sizeof(count), "%ld", nchanges);
    steps[0].sql = sql.data;
    if (nchanges == 0)
        steps[1] = steps[2];
    if (rc == 0)
        rc = pg_pipeline(pg, steps, nchanges > 0 ? 3 : 2, NULL, "commit", err);
    else
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    /* Committed: the staging tables it made stay in the session. */
    for (size_t i = 0; rc == 0 && i < pg->xact_staged.n; i++)
        names_add(&pg->staged, pg->xact_staged.h[i]);
    pg->xact_staged.n = 0;
    fy_buf_release(&sql);
    if (rc < 0)
        pg_push_rollback(st);
    return rc;
}

/* ---- change notices ----------------------------------------------------- */

static int pg_listen(struct fy_store *st, struct ferry_err *err)
{
    return pg_run(st->impl, "LISTEN ferry_changes", 0, NULL, PGRES_COMMAND_OK,
                  NULL, "listen", err);
}

static int pg_wait_notice(struct fy_store *st, int ms, bool *got,
                          struct ferry_err *err)
{
    struct pg *pg = st->impl;
    struct pollfd pfd = {.fd = pg->conn ? PQsocket(pg->conn) : -1,
                         .events = POLLIN};
    PGnotify *n;

    if (pfd.fd < 0 || PQstatus(pg->conn) != CONNECTION_OK)
        return fy_err_set(err, FERRY_EUNAVAIL, "not listening");
    if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
        return fy_err_set(err, FERRY_EUNAVAIL, "poll: %s", strerror(errno));
    if (!PQconsumeInput(pg->conn))
        return fy_err_set(err, FERRY_EUNAVAIL, "listen: %s",
                          PQerrorMessage(pg->conn));
    while ((n = PQnotifies(pg->conn))) {
        *got = true;
        PQfreemem(n);
    }
    return 0;
}

static const struct fy_store_notice_ops pg_notice_ops = {
    .listen = pg_listen,
    .wait = pg_wait_notice,
};

static const struct fy_store_apply_ops pg_apply_ops = {
    .begin = pg_push_begin,
    .apply = pg_push_apply,
    .commit = pg_push_commit,
    .rollback = pg_push_rollback,
};

const struct fy_store_ops fy_store_pg_ops = {
    .name = "postgresql",
    .caps = FY_STORE_CONCURRENT,
    .sql = &pg_sql_ops,
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .migrate = pg_migrate,
    .schema_version = fy_sql_schema_version,
    .keys = &fy_store_sql_key_ops,
    .apply = &pg_apply_ops,
    .notice = &pg_notice_ops,
};
