/* SPDX-License-Identifier: MIT */
/*
 * Latency of `ferry sync --watch`: an app commits a row on device A and
 * this program measures how long until the row is in PostgreSQL (commit to
 * store) and in device B's SQLite file (commit to the other device). The
 * watchers and ferryd are started by bench/run.sh; this only writes and
 * polls (PostgreSQL and B's file every 0.2 ms). Prints p50, p99 and max.
 *
 *   bench_watch APP_A APP_B PG_DSN SAMPLES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_watch: %s: %s\n", what, why);
    exit(1);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    printf("%s_ms p50=%.1f p99=%.1f max=%.1f samples=%d\n", name, v[n / 2],
           v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1], n);
}

static int pg_has(PGconn *c, const char *id)
{
    const char *params[] = {id};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM items WHERE id = $1", 1, NULL,
                               params, NULL, NULL, 0);
    int found;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("poll store", PQerrorMessage(c));
    found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

static int lite_has(sqlite3_stmt *s, long id)
{
    int found;

    sqlite3_bind_int64(s, 1, id);
    found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

int main(int argc, char **argv)
{
    sqlite3 *a = NULL, *b = NULL;
    sqlite3_stmt *ins = NULL, *sel = NULL;
    PGconn *pg;
    double *to_store, *to_dev, deadline;
    int n;

    if (argc != 5)
        die("usage", "bench_watch APP_A APP_B PG_DSN SAMPLES");
    n = atoi(argv[4]);
    to_store = calloc((size_t)n, sizeof(double));
    to_dev = calloc((size_t)n, sizeof(double));
    pg = PQconnectdb(argv[3]);
    if (!to_store || !to_dev || PQstatus(pg) != CONNECTION_OK)
        die("start", PQerrorMessage(pg));
    if (sqlite3_open(argv[1], &a) != SQLITE_OK ||
        sqlite3_open(argv[2], &b) != SQLITE_OK)
        die("open", "cannot open the app databases");
    sqlite3_busy_timeout(a, 5000);
    sqlite3_busy_timeout(b, 5000);
    if (sqlite3_prepare_v2(a,
                           "INSERT INTO items (id, name, qty) VALUES (?1,"
                           " 'watched', 1)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(b, "SELECT 1 FROM items WHERE id = ?1", -1, &sel,
                           NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(a));
    for (int i = 0; i < n; i++) {
        long id = 900000000L + i;
        char text[32];
        double t0;

        snprintf(text, sizeof(text), "%ld", id);
        sqlite3_bind_int64(ins, 1, id);
        t0 = now_ms();
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("insert", sqlite3_errmsg(a));
        sqlite3_reset(ins);
        deadline = t0 + 30000;
        while (!pg_has(pg, text) && now_ms() < deadline)
            nap_us(200);
        to_store[i] = now_ms() - t0;
        while (!lite_has(sel, id) && now_ms() < deadline)
            nap_us(200);
        to_dev[i] = now_ms() - t0;
        if (now_ms() >= deadline)
            die("sample", "a row did not arrive within 30 s");
        nap_us(20000); /* let both watchers go idle */
    }
    report("watch_commit_to_store", to_store, n);
    report("watch_commit_to_device", to_dev, n);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(a);
    sqlite3_close(b);
    PQfinish(pg);
    free(to_store);
    free(to_dev);
    return 0;
}
