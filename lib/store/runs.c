/* SPDX-License-Identifier: MIT */
/*
 * The runs family: tracked sync runs of streams (named jobs) and devices
 * (store.h, docs/api.md#sync-runs). Written once for both engines over the
 * statement runner. Every change to a stream's lease or cursor takes the
 * stream's status row first (PostgreSQL FOR UPDATE; SQLite's writer lock
 * holds everything), so two runners, on one ferryd or several, see one
 * order of begins, heartbeats and ends. Times are the store's clock in
 * unix ms ({now_ms}), read after the lock is held, so that a wait for the
 * lock never makes an expired lease look alive.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fy.h"

/* The columns of a history row, in the order run_cols() reads them. */
#define RUN_COLS                                                               \
    "id, kind, name, status, op, started_ms, ended_ms, duration_ms,"           \
    " records, requests, error, metadata, instance, server, key_id, cursor,"   \
    " lease_ms, lease_until_ms, idem"
#define RUN_NCOLS 19

/* The columns of a status row, in the order status_cols() reads them. */
#define STATUS_COLS                                                            \
    "kind, name, cursor, status, last_error, last_success_ms,"                 \
    " last_attempt_ms, successes, failures, last_records, lease_run,"          \
    " lease_until_ms, lease_instance"
#define STATUS_NCOLS 13

/* The advisory lock of history pruning (migrate's is 7236081). */
#define PRUNE_LOCK "7236082"
/* History rows removed per transaction. */
#define PRUNE_BATCH 10000

static int64_t num(const char *s, int64_t none)
{
    return s ? strtoll(s, NULL, 10) : none;
}

void fy_run_result_release(struct fy_run_result *r)
{
    if (r)
        fy_arena_reset(&r->mem);
}

/* A copy of s in mem (NULL stays NULL); *oom set when it fails. */
static const char *keep(struct fy_arena *mem, const char *s, bool *oom)
{
    char *c;

    if (!s || !mem)
        return s;
    c = fy_arena_strndup(mem, s, strlen(s));
    if (!c)
        *oom = true;
    return c;
}

/* Reads a history row; texts borrowed from cols, or copied into mem. */
static int run_cols(const char *const *c, int n, struct fy_run *r,
                    const char **idem, struct fy_arena *mem)
{
    bool oom = false;

    if (n != RUN_NCOLS)
        return FERRY_ESTORE;
    *r = (struct fy_run){
        .id = num(c[0], 0),
        .kind = keep(mem, c[1], &oom),
        .name = keep(mem, c[2], &oom),
        .status = keep(mem, c[3], &oom),
        .op = keep(mem, c[4], &oom),
        .started_ms = num(c[5], 0),
        .ended_ms = num(c[6], 0),
        .duration_ms = num(c[7], -1),
        .records = num(c[8], -1),
        .requests = num(c[9], 0),
        .error = keep(mem, c[10], &oom),
        .metadata = keep(mem, c[11], &oom),
        .instance = keep(mem, c[12], &oom),
        .server = keep(mem, c[13], &oom),
        .key_id = keep(mem, c[14], &oom),
        .cursor = keep(mem, c[15], &oom),
        .lease_ms = num(c[16], 0),
        .lease_until_ms = num(c[17], 0),
    };
    if (idem)
        *idem = keep(mem, c[18], &oom);
    return oom ? FERRY_ENOMEM : 0;
}

static int status_cols(const char *const *c, int n, struct fy_run_status *s,
                       struct fy_arena *mem)
{
    bool oom = false;

    if (n != STATUS_NCOLS)
        return FERRY_ESTORE;
    *s = (struct fy_run_status){
        .kind = keep(mem, c[0], &oom),
        .name = keep(mem, c[1], &oom),
        .cursor = keep(mem, c[2], &oom),
        .status = keep(mem, c[3], &oom),
        .last_error = keep(mem, c[4], &oom),
        .last_success_ms = num(c[5], 0),
        .last_attempt_ms = num(c[6], 0),
        .successes = num(c[7], 0),
        .failures = num(c[8], 0),
        .last_records = num(c[9], -1),
        .lease_run = num(c[10], 0),
        .lease_until_ms = num(c[11], 0),
        .lease_instance = keep(mem, c[12], &oom),
    };
    return oom ? FERRY_ENOMEM : 0;
}

/* ---- one row into a result ------------------------------------------- */

struct run_into {
    struct fy_run *run;
    const char **idem;
    struct fy_arena *mem;
    bool found;
};

static int run_row(const char *const *cols, int n, void *ud)
{
    struct run_into *in = ud;

    in->found = true;
    return run_cols(cols, n, in->run, in->idem, in->mem);
}

struct status_into {
    struct fy_run_status *s;
    struct fy_arena *mem;
    bool found;
};

static int status_row(const char *const *cols, int n, void *ud)
{
    struct status_into *in = ud;

    in->found = true;
    return status_cols(cols, n, in->s, in->mem);
}

static int int_row(const char *const *cols, int n, void *ud)
{
    (void)n;
    *(int64_t *)ud = num(cols[0], 0);
    return 0;
}

static int bool_row(const char *const *cols, int n, void *ud)
{
    (void)n;
    *(bool *)ud = fy_sql_bool(cols[0]);
    return 0;
}

/* ---- statements -------------------------------------------------------- */

static int exec(struct fy_store *st, const char *sql, const char *what,
                struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = sql, .what = what};

    return fy_sql_run(st, &q, err);
}

/* Ends a write transaction: COMMIT after rc >= 0, else ROLLBACK. */
static int end_tx(struct fy_store *st, int rc, struct ferry_err *err)
{
    if (rc >= 0) {
        int c = exec(st, "COMMIT", "commit run", err);

        return c < 0 ? c : rc;
    }
    exec(st, "ROLLBACK", "roll back run", NULL);
    return rc;
}

int fy_store_now_ms(struct fy_store *st, int64_t *now, struct ferry_err *err)
{
    struct fy_sql_q q = {
        .sql = "SELECT {now_ms}", .row = int_row, .ud = now, .what = "clock"};

    return fy_sql_run(st, &q, err);
}

/* Creates the status row of kind and name unless it exists. */
static int ensure_status(struct fy_store *st, const char *kind,
                         const char *name, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(kind), FY_SQL_S(name)};
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}sync_status (kind, name, created_ms,"
               " updated_ms) SELECT $1, $2, n, n FROM (SELECT {now_ms} AS n)"
               " t WHERE true ON CONFLICT (kind, name) DO NOTHING",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "create status"};

    return fy_sql_run(st, &q, err);
}

/*
 * The status row of kind and name, locked until the transaction ends, into
 * s (texts in mem), and the store's clock once the lock is held. 0 found,
 * FERRY_ENOTFOUND none.
 */
static int lock_status(struct fy_store *st, const char *kind, const char *name,
                       struct fy_run_status *s, struct fy_arena *mem,
                       struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(kind), FY_SQL_S(name)};
    struct status_into in = {s, mem, false};
    struct fy_sql_q q = {.sql = "SELECT " STATUS_COLS " FROM {s}sync_status"
                                " WHERE kind = $1 AND name = $2{lock}",
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = status_row,
                         .ud = &in,
                         .what = "lock status"};
    int rc = fy_sql_run(st, &q, err);

    if (rc == 0 && !in.found)
        return fy_err_set(err, FERRY_ENOTFOUND, "no status of %s '%s'", kind,
                          name);
    if (rc == 0)
        rc = fy_store_now_ms(st, &s->now_ms, err);
    return rc;
}

static int get_run(struct fy_store *st, int64_t id, struct fy_run *r,
                   const char **idem, struct fy_arena *mem, bool *found,
                   struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(id)};
    struct run_into in = {r, idem, mem, false};
    struct fy_sql_q q = {.sql = "SELECT " RUN_COLS " FROM {s}sync_history"
                                " WHERE id = $1",
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = run_row,
                         .ud = &in,
                         .what = "read run"};
    int rc = fy_sql_run(st, &q, err);

    *found = in.found;
    return rc;
}

/*
 * Records run id of the status row (kind, name) abandoned: its lease
 * ended at until without a heartbeat. A failure of the stream.
 */
static int abandon(struct fy_store *st, const struct fy_run_status *s,
                   struct ferry_err *err)
{
    const struct fy_sql_arg hargs[] = {FY_SQL_I(s->lease_run),
                                       FY_SQL_I(s->lease_until_ms)};
    struct fy_sql_q h = {.sql =
                             "UPDATE {s}sync_history SET status = 'abandoned',"
                             " ended_ms = $2, duration_ms = $2 - started_ms,"
                             " error = 'the lease expired without a heartbeat'"
                             " WHERE id = $1 AND status = 'running'",
                         .args = hargs,
                         .nargs = FY_ARRAY_LEN(hargs),
                         .what = "abandon run"};
    char buf[96];
    const char *msg = buf;
    int rc;

    snprintf(buf, sizeof(buf),
             "run %lld abandoned: the lease expired without a heartbeat",
             (long long)s->lease_run);
    {
        const struct fy_sql_arg sargs[] = {FY_SQL_S(s->kind), FY_SQL_S(s->name),
                                           FY_SQL_S(msg), FY_SQL_I(s->now_ms)};
        struct fy_sql_q q = {
            .sql = "UPDATE {s}sync_status SET status = 'abandoned',"
                   " failures = failures + 1, last_error = $3,"
                   " lease_run = NULL, lease_until_ms = NULL,"
                   " lease_instance = NULL, updated_ms = $4"
                   " WHERE kind = $1 AND name = $2",
            .args = sargs,
            .nargs = FY_ARRAY_LEN(sargs),
            .what = "abandon run"};

        rc = fy_sql_run(st, &h, err);
        if (rc == 0)
            rc = fy_sql_run(st, &q, err);
    }
    return rc;
}

/* A lease some run holds and that passed: abandon it (s updated). */
static int abandon_expired(struct fy_store *st, struct fy_run_status *s,
                           struct ferry_err *err)
{
    int rc;

    if (!s->lease_run || s->lease_until_ms > s->now_ms)
        return 0;
    rc = abandon(st, s, err);
    if (rc == 0) {
        s->lease_run = 0;
        s->lease_until_ms = 0;
        s->lease_instance = NULL;
        s->status = "abandoned";
        s->failures++;
    }
    return rc;
}

/* FERRY_ECONFLICT naming the live lease of s. */
static int lease_held(const struct fy_run_status *s, struct ferry_err *err)
{
    char until[FY_UTC_MS_STRLEN + 1];

    fy_utc_ms(s->lease_until_ms, until);
    return fy_err_set(err, FERRY_ECONFLICT,
                      "stream '%s' is being run by run %lld (%s) until %s",
                      s->name, (long long)s->lease_run,
                      s->lease_instance ? s->lease_instance : "?", until);
}

/* The history row of an attempt that found the lease held. */
static int record_refused(struct fy_store *st, const struct fy_run_begin *b,
                          const struct fy_run_status *s, struct ferry_err *err)
{
    char buf[64];
    const char *msg = buf;

    snprintf(buf, sizeof(buf), "the lease is held by run %lld",
             (long long)s->lease_run);
    {
        const struct fy_sql_arg args[] = {
            FY_SQL_S(b->stream),   FY_SQL_I(s->now_ms), FY_SQL_S(msg),
            FY_SQL_S(b->instance), FY_SQL_S(b->server), FY_SQL_S(b->key_id)};
        struct fy_sql_q q = {
            .sql = "INSERT INTO {s}sync_history (kind, name, status,"
                   " started_ms, ended_ms, duration_ms, error, instance,"
                   " server, key_id) VALUES ('stream', $1, 'refused', $2, $2,"
                   " 0, $3, $4, $5, $6)",
            .args = args,
            .nargs = FY_ARRAY_LEN(args),
            .what = "record refused run"};

        return fy_sql_run(st, &q, err);
    }
}

/* A begin retried with its Idempotency-Key: the run it began, if live. */
static int retried_begin(struct fy_store *st, const struct fy_run_begin *b,
                         struct fy_run_result *out, bool *again,
                         struct ferry_err *err)
{
    const char *idem = NULL;
    bool found;
    int rc;

    *again = false;
    if (!b->idem)
        return 0;
    rc = get_run(st, out->status.lease_run, &out->run, &idem, &out->mem, &found,
                 err);
    if (rc == 0 && found && idem && strcmp(idem, b->idem) == 0 &&
        out->run.key_id && strcmp(out->run.key_id, b->key_id) == 0)
        *again = true;
    return rc;
}

static int insert_run(struct fy_store *st, const struct fy_run_begin *b,
                      struct fy_run_result *out, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_S(b->stream),   FY_SQL_I(out->status.now_ms),
        FY_SQL_I(b->lease_ms), FY_SQL_S(b->instance),
        FY_SQL_S(b->server),   FY_SQL_S(b->key_id),
        FY_SQL_S(b->idem)};
    struct run_into in = {&out->run, NULL, &out->mem, false};
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}sync_history (kind, name, status, started_ms,"
               " lease_ms, lease_until_ms, instance, server, key_id, idem)"
               " VALUES ('stream', $1, 'running', $2, $3,"
               " CAST($2 AS {int}) + CAST($3 AS {int}), $4, $5, $6, $7)"
               " RETURNING " RUN_COLS,
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = run_row,
        .ud = &in,
        .what = "begin run"};
    int rc = fy_sql_run(st, &q, err);

    if (rc == 0 && !in.found)
        rc = fy_err_set(err, FERRY_ESTORE, "begin run: no row returned");
    return rc;
}

/* The status row of a stream while run r holds its lease. */
static int take_lease(struct fy_store *st, const struct fy_run *r,
                      struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_S(r->name), FY_SQL_I(r->id), FY_SQL_I(r->lease_until_ms),
        FY_SQL_S(r->instance), FY_SQL_I(r->started_ms)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}sync_status SET lease_run = $2,"
               " lease_until_ms = $3, lease_instance = $4,"
               " last_attempt_ms = $5, status = 'running', updated_ms = $5"
               " WHERE kind = 'stream' AND name = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "take lease"};

    return fy_sql_run(st, &q, err);
}

int fy_store_run_begin(struct fy_store *st, const struct fy_run_begin *b,
                       struct fy_run_result *out, struct ferry_err *err)
{
    bool again = false;
    int rc;

    *out = (struct fy_run_result){.mem = FY_ARENA_INIT(0)};
    rc = exec(st, "{begin_write}", "begin run", err);
    if (rc < 0)
        return rc;
    rc = ensure_status(st, "stream", b->stream, err);
    if (rc == 0)
        rc = lock_status(st, "stream", b->stream, &out->status, &out->mem, err);
    if (rc == 0)
        rc = abandon_expired(st, &out->status, err);
    if (rc == 0 && out->status.lease_run)
        rc = retried_begin(st, b, out, &again, err);
    if (rc == 0 && again) {
        out->again = true;
        return end_tx(st, 0, err);
    }
    if (rc == 0 && out->status.lease_run) {
        rc = record_refused(st, b, &out->status, err);
        rc = end_tx(st, rc, err);
        return rc < 0 ? rc : lease_held(&out->status, err);
    }
    if (rc == 0)
        rc = insert_run(st, b, out, err);
    if (rc == 0)
        rc = take_lease(st, &out->run, err);
    return end_tx(st, rc, err);
}

/* ---- heartbeat and finish --------------------------------------------- */

/*
 * Opens a write transaction holding run id's stream, with the run in
 * out->run and the status row in out->status: FERRY_ENOTFOUND (not a
 * stream run of key_id), FERRY_ECONFLICT (it ended), FERRY_EEXPIRED (its
 * lease passed: recorded abandoned and committed). On 0 the transaction
 * stays open.
 */
static int open_run(struct fy_store *st, int64_t id, const char *key_id,
                    struct fy_run_result *out, struct ferry_err *err)
{
    bool found = false;
    int rc = get_run(st, id, &out->run, NULL, &out->mem, &found, err);

    if (rc < 0)
        return rc;
    /* A refused attempt or an import is history, not a run to finish. */
    if (!found || strcmp(out->run.kind, "stream") != 0 || !out->run.key_id ||
        strcmp(out->run.key_id, key_id) != 0 ||
        strcmp(out->run.status, "refused") == 0 ||
        strcmp(out->run.status, "imported") == 0)
        return fy_err_set(err, FERRY_ENOTFOUND, "no run %lld of this key",
                          (long long)id);
    rc = exec(st, "{begin_write}", "begin run", err);
    if (rc == 0)
        rc = lock_status(st, "stream", out->run.name, &out->status, &out->mem,
                         err);
    /* Read again under the lock: another request may have ended it. */
    if (rc == 0)
        rc = get_run(st, id, &out->run, NULL, &out->mem, &found, err);
    if (rc == 0 && strcmp(out->run.status, "running") != 0)
        rc = fy_err_set(err, FERRY_ECONFLICT, "run %lld already ended: %s",
                        (long long)id, out->run.status);
    if (rc == 0 && (out->status.lease_run != id ||
                    out->status.lease_until_ms <= out->status.now_ms)) {
        rc = abandon_expired(st, &out->status, err);
        if (rc == 0)
            rc = end_tx(st, 0, err);
        if (rc == 0)
            out->run.status = "abandoned";
        return rc < 0 ? rc
                      : fy_err_set(err, FERRY_EEXPIRED,
                                   "the lease of run %lld expired; the run is"
                                   " recorded abandoned",
                                   (long long)id);
    }
    return rc < 0 ? end_tx(st, rc, err) : 0;
}

int fy_store_run_heartbeat(struct fy_store *st, int64_t id, const char *key_id,
                           int64_t lease_ms, struct fy_run_result *out,
                           struct ferry_err *err)
{
    int rc;

    *out = (struct fy_run_result){.mem = FY_ARENA_INIT(0)};
    rc = open_run(st, id, key_id, out, err);
    if (rc < 0)
        return rc;
    if (lease_ms <= 0)
        lease_ms = out->run.lease_ms;
    out->run.lease_ms = lease_ms;
    out->run.lease_until_ms = out->status.now_ms + lease_ms;
    {
        const struct fy_sql_arg hargs[] = {FY_SQL_I(id), FY_SQL_I(lease_ms),
                                           FY_SQL_I(out->run.lease_until_ms)};
        const struct fy_sql_arg sargs[] = {FY_SQL_S(out->run.name),
                                           FY_SQL_I(out->run.lease_until_ms),
                                           FY_SQL_I(out->status.now_ms)};
        struct fy_sql_q h = {.sql = "UPDATE {s}sync_history SET lease_ms = $2,"
                                    " lease_until_ms = $3 WHERE id = $1",
                             .args = hargs,
                             .nargs = FY_ARRAY_LEN(hargs),
                             .what = "extend lease"};
        struct fy_sql_q s = {
            .sql = "UPDATE {s}sync_status SET lease_until_ms = $2,"
                   " updated_ms = $3 WHERE kind = 'stream' AND name = $1",
            .args = sargs,
            .nargs = FY_ARRAY_LEN(sargs),
            .what = "extend lease"};

        rc = fy_sql_run(st, &h, err);
        if (rc == 0)
            rc = fy_sql_run(st, &s, err);
    }
    out->status.lease_until_ms = out->run.lease_until_ms;
    return end_tx(st, rc, err);
}

static int finish_history(struct fy_store *st, const struct fy_run_finish *f,
                          int64_t now, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_I(f->id),
        FY_SQL_S(f->success ? "success" : "failed"),
        FY_SQL_I(now),
        FY_SQL_I(f->records),
        FY_SQL_S(f->success ? NULL : f->error),
        FY_SQL_S(f->metadata),
        FY_SQL_S(f->success && f->set_cursor ? f->cursor : NULL)};
    struct fy_sql_q q = {
        .sql = "UPDATE {s}sync_history SET status = $2, ended_ms = $3,"
               " duration_ms = $3 - started_ms, records = $4, error = $5,"
               " metadata = $6, cursor = $7, lease_until_ms = NULL"
               " WHERE id = $1",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "finish run"};

    return fy_sql_run(st, &q, err);
}

static int finish_status(struct fy_store *st, const struct fy_run_finish *f,
                         const char *stream, int64_t now, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(stream), FY_SQL_I(now),
                                      FY_SQL_I(f->records),
                                      FY_SQL_S(f->cursor)};
    const struct fy_sql_arg fargs[] = {FY_SQL_S(stream), FY_SQL_I(now),
                                       FY_SQL_S(f->error)};
    struct fy_sql_q ok = {
        .sql = f->set_cursor
                   ? "UPDATE {s}sync_status SET status = 'success',"
                     " last_success_ms = $2, successes = successes + 1,"
                     " last_records = $3, cursor = $4, lease_run = NULL,"
                     " lease_until_ms = NULL, lease_instance = NULL,"
                     " updated_ms = $2 WHERE kind = 'stream' AND name = $1"
                   : "UPDATE {s}sync_status SET status = 'success',"
                     " last_success_ms = $2, successes = successes + 1,"
                     " last_records = $3, lease_run = NULL,"
                     " lease_until_ms = NULL, lease_instance = NULL,"
                     " updated_ms = $2 WHERE kind = 'stream' AND name = $1",
        .args = args,
        .nargs = f->set_cursor ? 4 : 3,
        .what = "finish run"};
    struct fy_sql_q bad = {
        .sql = "UPDATE {s}sync_status SET status = 'failed',"
               " failures = failures + 1, last_error = $3, lease_run = NULL,"
               " lease_until_ms = NULL, lease_instance = NULL,"
               " updated_ms = $2 WHERE kind = 'stream' AND name = $1",
        .args = fargs,
        .nargs = FY_ARRAY_LEN(fargs),
        .what = "finish run"};

    return fy_sql_run(st, f->success ? &ok : &bad, err);
}

int fy_store_run_finish(struct fy_store *st, const struct fy_run_finish *f,
                        struct fy_run_result *out, struct ferry_err *err)
{
    int64_t now;
    int rc;

    *out = (struct fy_run_result){.mem = FY_ARENA_INIT(0)};
    rc = open_run(st, f->id, f->key_id, out, err);
    if (rc < 0)
        return rc;
    now = out->status.now_ms;
    rc = finish_history(st, f, now, err);
    if (rc == 0)
        rc = finish_status(st, f, out->run.name, now, err);
    rc = end_tx(st, rc, err);
    if (rc == 0) {
        out->run.status = f->success ? "success" : "failed";
        out->run.ended_ms = now;
        out->run.duration_ms = now - out->run.started_ms;
        out->run.records = f->records;
        out->run.error = f->success ? NULL : f->error;
        out->run.metadata = f->metadata;
        out->run.cursor = f->success && f->set_cursor ? f->cursor : NULL;
    }
    return rc;
}

/* ---- cursor import ---------------------------------------------------- */

static int record_import(struct fy_store *st, const struct fy_run_begin *b,
                         const char *cursor, const char *meta, int64_t now,
                         struct fy_run_result *out, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_S(b->stream), FY_SQL_I(now),         FY_SQL_S(cursor),
        FY_SQL_S(meta),      FY_SQL_S(b->instance), FY_SQL_S(b->server),
        FY_SQL_S(b->key_id)};
    struct run_into in = {&out->run, NULL, &out->mem, false};
    struct fy_sql_q h = {
        .sql = "INSERT INTO {s}sync_history (kind, name, status, started_ms,"
               " ended_ms, duration_ms, cursor, metadata, instance, server,"
               " key_id) VALUES ('stream', $1, 'imported', $2, $2, 0, $3, $4,"
               " $5, $6, $7) RETURNING " RUN_COLS,
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .row = run_row,
        .ud = &in,
        .what = "import cursor"};
    const struct fy_sql_arg sargs[] = {FY_SQL_S(b->stream), FY_SQL_S(cursor),
                                       FY_SQL_I(now)};
    struct fy_sql_q s = {.sql = "UPDATE {s}sync_status SET cursor = $2,"
                                " updated_ms = $3 WHERE kind = 'stream'"
                                " AND name = $1",
                         .args = sargs,
                         .nargs = FY_ARRAY_LEN(sargs),
                         .what = "import cursor"};
    int rc = fy_sql_run(st, &h, err);

    return rc == 0 ? fy_sql_run(st, &s, err) : rc;
}

int fy_store_cursor_set(struct fy_store *st, const struct fy_run_begin *b,
                        const char *cursor, const char *source,
                        struct fy_run_result *out, struct ferry_err *err)
{
    json_t *j = json_pack("{s:s?}", "source", source);
    char *meta = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc;

    json_decref(j);
    *out = (struct fy_run_result){.mem = FY_ARENA_INIT(0)};
    if (!meta)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = exec(st, "{begin_write}", "begin cursor import", err);
    if (rc == 0)
        rc = ensure_status(st, "stream", b->stream, err);
    if (rc == 0)
        rc = lock_status(st, "stream", b->stream, &out->status, &out->mem, err);
    if (rc == 0)
        rc = abandon_expired(st, &out->status, err);
    if (rc == 0 && out->status.lease_run) {
        rc = end_tx(st, -1, NULL);
        free(meta); /* jansson's allocation */
        return lease_held(&out->status, err);
    }
    if (rc == 0)
        rc = record_import(st, b, cursor, meta, out->status.now_ms, out, err);
    free(meta); /* jansson's allocation */
    return end_tx(st, rc, err);
}

/* ---- reading status and history --------------------------------------- */

struct status_list {
    struct fy_run_status *v;
    size_t n, cap;
    struct fy_arena *mem;
};

static int list_row(const char *const *cols, int n, void *ud)
{
    struct status_list *l = ud;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct fy_run_status *v = fy_realloc(l->v, cap * sizeof(*v));

        if (!v)
            return FERRY_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    return status_cols(cols, n, &l->v[l->n++], l->mem);
}

struct history_cb {
    fy_run_fn *cb;
    void *ud;
};

static int history_row(const char *const *cols, int n, void *ud)
{
    struct history_cb *h = ud;
    struct fy_run r;
    int rc = run_cols(cols, n, &r, NULL, NULL);

    return rc < 0 ? rc : h->cb(&r, h->ud);
}

static int read_status_rows(struct fy_store *st,
                            const struct fy_status_req *req,
                            struct status_list *l, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(req->kind), FY_SQL_S(req->name)};
    char sql[256];
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .row = list_row,
                         .ud = l,
                         .what = "read status"};

    /* Placeholders are numbered, so an unused first one cannot be left out. */
    if (req->kind && req->name) {
        snprintf(sql, sizeof(sql),
                 "SELECT " STATUS_COLS " FROM {s}sync_status WHERE kind = $1"
                 " AND name = $2 ORDER BY kind DESC, name");
        q.nargs = 2;
    } else if (req->kind) {
        snprintf(sql, sizeof(sql),
                 "SELECT " STATUS_COLS " FROM {s}sync_status WHERE kind = $1"
                 " ORDER BY kind DESC, name");
        q.nargs = 1;
    } else {
        snprintf(sql, sizeof(sql),
                 "SELECT " STATUS_COLS " FROM {s}sync_status"
                 " ORDER BY kind DESC, name");
    }
    return fy_sql_run(st, &q, err);
}

static int read_history(struct fy_store *st, const struct fy_run_status *s,
                        size_t limit, fy_run_fn *rcb, void *ud,
                        struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_S(s->kind), FY_SQL_S(s->name),
                                      FY_SQL_I((int64_t)limit)};
    struct history_cb h = {rcb, ud};
    struct fy_sql_q q = {.sql = "SELECT " RUN_COLS " FROM {s}sync_history"
                                " WHERE kind = $1 AND name = $2"
                                " ORDER BY started_ms DESC, id DESC LIMIT $3",
                         .args = args,
                         .nargs = FY_ARRAY_LEN(args),
                         .row = history_row,
                         .ud = &h,
                         .what = "read history"};

    return fy_sql_run(st, &q, err);
}

int fy_store_run_status(struct fy_store *st, const struct fy_status_req *req,
                        fy_status_fn *scb, fy_run_fn *rcb, void *ud,
                        struct ferry_err *err)
{
    struct fy_arena mem = FY_ARENA_INIT(0);
    struct status_list l = {.mem = &mem};
    int64_t now = 0;
    int rc = exec(st, "{begin_read}", "begin status", err);

    if (rc < 0)
        return rc;
    rc = fy_store_now_ms(st, &now, err);
    if (rc == 0)
        rc = read_status_rows(st, req, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        l.v[i].now_ms = now;
        rc = scb(&l.v[i], ud);
        if (rc == 0 && req->history > 0)
            rc = read_history(st, &l.v[i], req->history, rcb, ud, err);
    }
    if (rc == 0)
        rc = exec(st, "COMMIT", "end status", err);
    else
        exec(st, "ROLLBACK", "end status", NULL);
    fy_free(l.v);
    fy_arena_reset(&mem);
    return rc;
}

/* ---- device runs ------------------------------------------------------ */

struct fy_device_run fy_device_run_one(const struct fy_device_run *r,
                                       int64_t at_ms)
{
    struct fy_device_run t = *r;

    t.requests = 1;
    t.failures = r->error ? 1 : 0;
    t.last_ok = !r->error;
    t.last_records = r->error ? -1 : r->records;
    t.first_ms = t.last_ms = at_ms;
    return t;
}

/* r as several requests: a single one filled in (store.h). */
static struct fy_device_run device_totals(const struct fy_device_run *r)
{
    return r->requests > 0 ? *r : fy_device_run_one(r, 0);
}

static struct fy_sql_arg opt_ms(int64_t ms)
{
    return ms > 0 ? (struct fy_sql_arg)FY_SQL_I(ms)
                  : (struct fy_sql_arg){.kind = FY_SQL_NULL};
}

/* One upsert: the first requests of a run insert its row, later add up. */
static int device_history(struct fy_store *st, const struct fy_device_run *r,
                          const char *token, struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_S(r->device), FY_SQL_S(r->op),       FY_SQL_S(r->server),
        FY_SQL_S(token),     FY_SQL_I(r->records),  FY_SQL_I(r->last_ok),
        FY_SQL_S(r->error),  FY_SQL_I(r->requests), opt_ms(r->first_ms),
        opt_ms(r->last_ms)};
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}sync_history AS h (kind, name, status, op,"
               " started_ms, ended_ms, duration_ms, records, requests, error,"
               " server, token) SELECT 'device', $1, CASE WHEN $6 = 1 THEN"
               " 'success' ELSE 'failed' END, $2, f, l, l - f,"
               " CAST($5 AS {int}), CAST($8 AS {int}), $7, $3, $4 FROM"
               " (SELECT coalesce(CAST($9 AS {int}), n) AS f,"
               " coalesce(CAST($10 AS {int}), n) AS l FROM (SELECT {now_ms}"
               " AS n) t0) t WHERE true"
               " ON CONFLICT (kind, name, token) DO UPDATE SET"
               " ended_ms = {max}(h.ended_ms, excluded.ended_ms),"
               " duration_ms = {max}(h.ended_ms, excluded.ended_ms)"
               " - h.started_ms,"
               " records = h.records + excluded.records,"
               " requests = h.requests + excluded.requests,"
               " op = CASE WHEN h.op = excluded.op THEN h.op ELSE 'sync' END,"
               " status = excluded.status,"
               " error = coalesce(excluded.error, h.error)",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "record device run"};

    return fy_sql_run(st, &q, err);
}

static int device_status(struct fy_store *st, const struct fy_device_run *r,
                         struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {
        FY_SQL_S(r->device),       FY_SQL_I(r->last_ok),  FY_SQL_S(r->error),
        FY_SQL_I(r->last_records), FY_SQL_I(r->requests), FY_SQL_I(r->failures),
        opt_ms(r->last_ms)};
    struct fy_sql_q q = {
        .sql = "INSERT INTO {s}sync_status AS s (kind, name, status,"
               " last_error, last_success_ms, last_attempt_ms, successes,"
               " failures, last_records, created_ms, updated_ms)"
               " SELECT 'device', $1, CASE WHEN $2 = 1 THEN 'success' ELSE"
               " 'failed' END, $3, CASE WHEN $5 > $6 THEN l END, l,"
               " CAST($5 AS {int}) - CAST($6 AS {int}), CAST($6 AS {int}),"
               " CASE WHEN $4 >= 0 THEN CAST($4 AS {int}) END, l, l FROM"
               " (SELECT coalesce(CAST($7 AS {int}), {now_ms}) AS l) t"
               /*
                * Runs of one device can be written in any order (a flush
                * holds several; ferryd processes flush on their own): the
                * newest request decides what "last" means.
                */
               " WHERE true ON CONFLICT (kind, name) DO UPDATE SET"
               " status = CASE WHEN excluded.last_attempt_ms >="
               " s.last_attempt_ms THEN excluded.status ELSE s.status END,"
               " last_error = CASE WHEN excluded.last_error IS NOT NULL AND"
               " (excluded.last_attempt_ms >= s.last_attempt_ms OR"
               " s.last_error IS NULL) THEN excluded.last_error"
               " ELSE s.last_error END,"
               " last_success_ms = {max}(coalesce(excluded.last_success_ms,"
               " s.last_success_ms), coalesce(s.last_success_ms,"
               " excluded.last_success_ms)),"
               " last_attempt_ms = {max}(excluded.last_attempt_ms,"
               " s.last_attempt_ms),"
               " successes = s.successes + excluded.successes,"
               " failures = s.failures + excluded.failures,"
               " last_records = CASE WHEN excluded.last_records IS NOT NULL"
               " AND (excluded.last_attempt_ms >= s.last_attempt_ms OR"
               " s.last_records IS NULL) THEN excluded.last_records"
               " ELSE s.last_records END,"
               " updated_ms = {max}(excluded.updated_ms, s.updated_ms)",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "record device status"};

    return fy_sql_run(st, &q, err);
}

static int device_run(struct fy_store *st, const struct fy_device_run *r,
                      struct ferry_err *err);

int fy_store_device_run(struct fy_store *st, const struct fy_device_run *r,
                        bool in_tx, struct ferry_err *err)
{
    return in_tx ? device_run(st, r, err) : fy_store_device_runs(st, r, 1, err);
}

int fy_store_device_runs(struct fy_store *st, const struct fy_device_run *v,
                         size_t n, struct ferry_err *err)
{
    /*
     * The records are not worth a wait for the disk: a crash may lose the
     * last ones, never anything they describe.
     */
    int rc = exec(st, "{begin_write}", "begin device runs", err);

    if (rc == 0)
        rc = exec(st, "{relaxed}", "begin device runs", err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = device_run(st, &v[i], err);
    return end_tx(st, rc, err);
}

static int device_run(struct fy_store *st, const struct fy_device_run *r,
                      struct ferry_err *err)
{
    struct fy_device_run t = device_totals(r);
    char minute[32];
    int rc;

    if (!t.token) {
        /* Requests without a run of their own: one run per minute. */
        int64_t at = t.first_ms > 0 ? t.first_ms / 1000 : (int64_t)time(NULL);

        snprintf(minute, sizeof(minute), "minute-%lld", (long long)(at / 60));
        t.token = minute;
    }
    rc = device_history(st, &t, t.token, err);
    if (rc == 0)
        rc = device_status(st, &t, err);
    return rc;
}

/* ---- maintenance ------------------------------------------------------ */

struct name_list {
    char **v;
    size_t n, cap;
};

static int name_row(const char *const *cols, int n, void *ud)
{
    struct name_list *l = ud;

    (void)n;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = fy_realloc(l->v, cap * sizeof(*v));

        if (!v)
            return FERRY_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = fy_strdup(cols[0] ? cols[0] : "");
    return l->v[l->n++] ? 0 : FERRY_ENOMEM;
}

/* Abandons the lease of stream name if it is still expired under lock. */
static int sweep_one(struct fy_store *st, const char *name, bool *done,
                     struct ferry_err *err)
{
    struct fy_arena mem = FY_ARENA_INIT(0);
    struct fy_run_status s;
    int rc = exec(st, "{begin_write}", "begin sweep", err);

    *done = false;
    if (rc == 0)
        rc = lock_status(st, "stream", name, &s, &mem, err);
    if (rc == 0 && s.lease_run && s.lease_until_ms <= s.now_ms) {
        rc = abandon_expired(st, &s, err);
        *done = rc == 0;
    }
    rc = end_tx(st, rc, err);
    fy_arena_reset(&mem);
    return rc;
}

int fy_store_runs_sweep(struct fy_store *st, long *abandoned,
                        struct ferry_err *err)
{
    struct name_list l = {0};
    struct fy_sql_q q = {
        .sql = "SELECT name FROM {s}sync_status WHERE kind = 'stream'"
               " AND lease_run IS NOT NULL AND lease_until_ms <= {now_ms}",
        .row = name_row,
        .ud = &l,
        .what = "find expired leases"};
    int rc = fy_sql_run(st, &q, err);

    *abandoned = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        bool done;

        rc = sweep_one(st, l.v[i], &done, err);
        *abandoned += done;
    }
    for (size_t i = 0; i < l.n; i++)
        fy_free(l.v[i]);
    fy_free(l.v);
    return rc;
}

/* One batch under the pruning lock; *n removed, -1 when another held it. */
static int prune_batch(struct fy_store *st, int64_t before_ms, long *n,
                       struct ferry_err *err)
{
    const struct fy_sql_arg args[] = {FY_SQL_I(before_ms),
                                      FY_SQL_I(PRUNE_BATCH)};
    bool got = false;
    struct fy_sql_q lock = {.sql = "{try_lock:" PRUNE_LOCK "}",
                            .row = bool_row,
                            .ud = &got,
                            .what = "lock history pruning"};
    struct fy_sql_q del = {
        .sql = "DELETE FROM {s}sync_history WHERE id IN (SELECT id FROM"
               " {s}sync_history WHERE started_ms < $1 AND status <> 'running'"
               " LIMIT $2)",
        .args = args,
        .nargs = FY_ARRAY_LEN(args),
        .what = "prune history"};
    int rc = exec(st, "{begin_write}", "begin prune", err);

    *n = 0;
    if (rc == 0)
        rc = fy_sql_run(st, &lock, err);
    if (rc == 0 && !got) {
        *n = -1;
        end_tx(st, -1, NULL);
        return 0;
    }
    if (rc == 0)
        rc = fy_sql_run(st, &del, err);
    if (rc == 0)
        *n = del.changes;
    return end_tx(st, rc, err);
}

int fy_store_history_prune(struct fy_store *st, int64_t before_ms, long *pruned,
                           struct ferry_err *err)
{
    long n = PRUNE_BATCH;
    int rc = 0;

    *pruned = 0;
    while (rc == 0 && n == PRUNE_BATCH) {
        rc = prune_batch(st, before_ms, &n, err);
        if (rc == 0 && n < 0) {
            if (*pruned == 0)
                *pruned = -1;
            break;
        }
        if (rc == 0)
            *pruned += n;
    }
    return rc;
}
