/* SPDX-License-Identifier: MIT */
/*
 * Ingest throughput, limits and ferryd, on the same rows in the same run
 * (bench/run.sh drives it):
 *
 *   bench_ingest pg-copy   DSN ROWS BATCH CONNS  raw COPY, the ceiling
 *   bench_ingest pg-staged DSN ROWS BATCH CONNS  COPY into a temp table +
 *                                                INSERT ... ON CONFLICT
 *   bench_ingest sqlite-upsert PATH ROWS BATCH   prepared upsert, one
 *                                                transaction per batch
 *   bench_ingest http URL KEYS DEVICES ROWS BATCH [gzip]
 *                                                POST /v1/push to ferryd,
 *                                                one thread per device
 *
 * Each prints one line "name rows=N seconds=S rows_per_s=R". Every run
 * inserts new rows into the table heartbeat created by `ferryd migrate`
 * with bench/contract.json; the driver empties it between runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "http/client.h"
#include "fy.h"

#define COLS "id, at, cpu, active, \"window\", app, _ferry_hlc, _ferry_origin"

struct job {
    const char *target; /* DSN, path or URL */
    const char *key, *device;
    long first, count, batch;
    bool gzip;
    int (*fn)(struct job *j);
    struct fy_buf *bodies; /* http: prebuilt request bodies */
    size_t nbodies;
    int rc;
};

static void copy_row(struct fy_buf *b, long id)
{
    fy_buf_addf(b,
                "%ld\t2026-11-22T10:00:00Z\t%.1f\t%c\teditor - notes"
                " %ld\tcom.example.editor\t%ld\tbench\n",
                id, (double)(id % 1000) / 10.0, id & 1 ? 't' : 'f', id % 97,
                id + 65536);
}

static int pg_ok(PGconn *c, PGresult *r, ExecStatusType want)
{
    int ok = PQresultStatus(r) == want;

    if (!ok)
        fprintf(stderr, "bench_ingest: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_copy_batch(PGconn *c, const char *table, long first, long n)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char sql[160];
    int rc;

    snprintf(sql, sizeof(sql), "COPY %s (" COLS ") FROM STDIN", table);
    if (pg_ok(c, PQexec(c, sql), PGRES_COPY_IN) < 0)
        return -1;
    for (long i = first; i < first + n; i++)
        copy_row(&b, i);
    rc = PQputCopyData(c, b.data, (int)b.len) == 1 && PQputCopyEnd(c, NULL) == 1
             ? pg_ok(c, PQgetResult(c), PGRES_COMMAND_OK)
             : -1;
    while (rc == 0 && PQgetResult(c))
        ;
    fy_buf_release(&b);
    return rc;
}

static int run_pg(struct job *j, bool staged)
{
    PGconn *c = PQconnectdb(j->target);
    int rc = PQstatus(c) == CONNECTION_OK ? 0 : -1;

    for (long i = 0; rc == 0 && i < j->count; i += j->batch) {
        long n = j->count - i < j->batch ? j->count - i : j->batch;

        rc = pg_ok(c,
                   PQexec(c, staged ? "BEGIN; CREATE TEMP TABLE s (id"
                                      " bigint, at text, cpu double"
                                      " precision, active boolean,"
                                      " \"window\" text, app text,"
                                      " _ferry_hlc bigint, _ferry_origin"
                                      " text) ON COMMIT DROP"
                                    : "BEGIN"),
                   PGRES_COMMAND_OK);
        if (rc == 0)
            rc = pg_copy_batch(c, staged ? "s" : "heartbeat", j->first + i, n);
        if (rc == 0 && staged)
            rc = pg_ok(c,
                       PQexec(c, "INSERT INTO heartbeat (" COLS ") SELECT " COLS
                                 " FROM s ON CONFLICT (id) DO UPDATE SET"
                                 " at = EXCLUDED.at, cpu = EXCLUDED.cpu,"
                                 " active = EXCLUDED.active, \"window\" ="
                                 " EXCLUDED.\"window\", app = EXCLUDED.app,"
                                 " _ferry_hlc = EXCLUDED._ferry_hlc,"
                                 " _ferry_origin = EXCLUDED._ferry_origin"),
                       PGRES_COMMAND_OK);
        if (rc == 0)
            rc = pg_ok(c, PQexec(c, "COMMIT"), PGRES_COMMAND_OK);
    }
    PQfinish(c);
    return rc;
}

static int run_pg_copy(struct job *j)
{
    return run_pg(j, false);
}

static int run_pg_staged(struct job *j)
{
    return run_pg(j, true);
}

static int run_sqlite(struct job *j)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(j->target, &db) == SQLITE_OK &&
                     sqlite3_exec(db,
                                  "PRAGMA journal_mode=WAL;"
                                  " PRAGMA synchronous=FULL",
                                  NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_prepare_v2(
                         db,
                         "INSERT INTO heartbeat (" COLS ") VALUES (?, ?, ?,"
                         " ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET at ="
                         " excluded.at, cpu = excluded.cpu, active ="
                         " excluded.active, \"window\" = excluded.\"window\","
                         " app = excluded.app, _ferry_hlc ="
                         " excluded._ferry_hlc, _ferry_origin ="
                         " excluded._ferry_origin",
                         -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    char window[64];

    for (long i = 0; rc == 0 && i < j->count; i++) {
        long id = j->first + i;

        if (i % j->batch == 0)
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        snprintf(window, sizeof(window), "editor - notes %ld", id % 97);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, "2026-11-22T10:00:00Z", -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, (double)(id % 1000) / 10.0);
        sqlite3_bind_int(st, 4, (int)(id & 1));
        sqlite3_bind_text(st, 5, window, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, "com.example.editor", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, id + 65536);
        sqlite3_bind_text(st, 8, "bench", -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(st);
        if (i % j->batch == j->batch - 1 || i == j->count - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc < 0)
        fprintf(stderr, "bench_ingest: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* The request bodies an agent would send, built before the clock starts. */
static int build_bodies(struct job *j)
{
    j->nbodies = (size_t)((j->count + j->batch - 1) / j->batch);
    j->bodies = fy_calloc(j->nbodies, sizeof(*j->bodies));
    if (!j->bodies)
        return -1;
    for (size_t k = 0; k < j->nbodies; k++) {
        struct fy_buf *b = &j->bodies[k];
        long start = (long)k * j->batch;
        long end = start + j->batch < j->count ? start + j->batch : j->count;

        fy_buf_init(b, 0);
        fy_buf_addf(b, "{\"device\":\"%s\",\"changes\":[", j->device);
        for (long i = start; i < end; i++) {
            long id = j->first + i;

            fy_buf_addf(
                b,
                "%s{\"seq\":%ld,\"table\":\"heartbeat\",\"op\":"
                "\"upsert\",\"hlc\":\"%016lx\",\"row\":{\"id\":%ld,"
                "\"at\":\"2026-11-22T10:00:00Z\",\"cpu\":%.1f,"
                "\"active\":%s,\"window\":\"editor - notes %ld\","
                "\"app\":\"com.example.editor\"}}",
                i > start ? "," : "", i + 1, (unsigned long)(id + 65536), id,
                (double)(id % 1000) / 10.0, id & 1 ? "true" : "false", id % 97);
        }
        fy_buf_adds(b, "]}");
        if (fy_buf_error(b))
            return -1;
    }
    return 0;
}

static int run_http(struct job *j)
{
    struct fy_http_client *c = NULL;
    struct fy_http_reply rep = {.body = FY_BUF_INIT(0)};
    struct ferry_err err = {0};
    int rc = fy_http_client_new(j->target, 60, &c, &err);

    for (size_t k = 0; rc == 0 && k < j->nbodies; k++) {
        rc = fy_http_post_json(c, "/v1/push", "X-Api-Key", j->key,
                               j->bodies[k].data, j->bodies[k].len, j->gzip,
                               &rep, &err);
        if (rc == 0 && rep.status != 200) {
            fprintf(stderr, "bench_ingest: %ld %s\n", rep.status,
                    rep.body.data);
            rc = -1;
        }
    }
    if (rc < 0 && err.msg[0])
        fprintf(stderr, "bench_ingest: %s\n", err.msg);
    fy_buf_release(&rep.body);
    fy_http_client_free(c);
    return rc;
}

static void *thread_main(void *p)
{
    struct job *j = p;

    j->rc = j->fn(j);
    return NULL;
}

static int run_jobs(const char *name, struct job *jobs, int n, long rows)
{
    pthread_t th[64];
    double t0 = fy_mono_s(), dt;
    int rc = 0;

    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        rc |= jobs[i].rc;
    }
    dt = fy_mono_s() - t0;
    if (rc == 0)
        printf("%s rows=%ld seconds=%.3f rows_per_s=%.0f\n", name, rows, dt,
               (double)rows / dt);
    return rc ? 1 : 0;
}

/* Splits s at commas into out (at most max parts); returns the count. */
static int split(char *s, char **out, int max)
{
    int n = 0;

    for (char *p = s; p && n < max; n++) {
        out[n] = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
    }
    return n;
}

int main(int argc, char **argv)
{
    struct job jobs[64] = {0};
    char *keys[64], *devs[64];
    int n = 1, rc;
    long rows, batch;
    const char *mode = argc > 1 ? argv[1] : "";
    bool http = strcmp(mode, "http") == 0;

    if (argc < (http ? 7 : 5)) {
        fprintf(stderr,
                "usage: see the comment at the top of bench_ingest.c\n");
        return 2;
    }
    rows = strtol(argv[http ? 5 : 3], NULL, 10);
    batch = strtol(argv[http ? 6 : 4], NULL, 10);
    if (http)
        n = split(argv[3], keys, 64) == split(argv[4], devs, 64)
                ? split(argv[3], keys, 64)
                : 0;
    else if (strncmp(mode, "pg-", 3) == 0)
        n = argc > 5 ? (int)strtol(argv[5], NULL, 10) : 2;
    if (n < 1 || n > 64 || rows < n || batch < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < n; i++) {
        struct job *j = &jobs[i];

        j->target = argv[2];
        j->first = rows / n * i + 1;
        j->count = i == n - 1 ? rows - rows / n * i : rows / n;
        j->batch = batch;
        j->fn = http                             ? run_http
                : strcmp(mode, "pg-copy") == 0   ? run_pg_copy
                : strcmp(mode, "pg-staged") == 0 ? run_pg_staged
                                                 : run_sqlite;
        if (http) {
            j->key = keys[i];
            j->device = devs[i];
            j->gzip = argc > 7 && strcmp(argv[7], "gzip") == 0;
            if (build_bodies(j) < 0)
                return 1;
        }
    }
    rc = run_jobs(http && jobs[0].gzip ? "http-gzip" : mode, jobs, n, rows);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < jobs[i].nbodies; k++)
            fy_buf_release(&jobs[i].bodies[k]);
        fy_free(jobs[i].bodies);
    }
    curl_global_cleanup();
    return rc;
}
