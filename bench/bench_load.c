/* SPDX-License-Identifier: MIT */
/*
 * The issue-12 workload and its limits, on the same rows (bench/run.sh
 * drives it; docs/performance.md describes the method):
 *
 *   bench_load push URL KEYFILE ROWS BATCH [OPTIONS]
 *       POST /v1/push to ferryd: one device per line "DEVICE KEY" of
 *       KEYFILE, one keep-alive connection each, all concurrent (libcurl
 *       multi), each device's batches in order with increasing seqs.
 *   bench_load pg-copy DSN DEVICES ROWS BATCH CONNS [OPTIONS]
 *       raw COPY into a plain table (metrics_plain: the same columns and
 *       key, no ferry columns), CONNS connections: the ceiling.
 *   bench_load pg-staged DSN DEVICES ROWS BATCH CONNS [OPTIONS]
 *       COPY into a temporary table + INSERT ... ON CONFLICT DO UPDATE into
 *       the plain table: the limit ferryd is measured against.
 *   bench_load sqlite-upsert PATH DEVICES ROWS BATCH
 *       a prepared upsert into the plain table of the SQLite file PATH, one
 *       transaction per batch: the embedded store's limit.
 *
 * OPTIONS: --ferryd-pid PID and --pg-pid PID (the postmaster) add the CPU
 * seconds each used while the clock ran; --first-id N, --first-seq N
 * (default 1) move the rows and seqs of a push; --duration S loops the
 * push for S seconds, generating each body as it goes, with --new PCT
 * (default 20) percent new rows per batch and the rest updates of rows
 * sent before, at --rate R rows/s in all (default: as fast as it goes).
 *
 * The rows: ROWS in all, split evenly over the devices, keys (device, id)
 * with id from --first-id on; columns of the table metrics of
 * bench/contract.json. Every body (or COPY text) is built before the clock
 * starts, except in --duration mode. Each mode prints one line "name
 * rows=N seconds=S rows_per_s=R ..."; any answer but a 200 acknowledging
 * the batch's last seq is counted, printed, and makes the exit status 1.
 */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "fy.h"

#define MAX_DEVS 64
#define PLAIN    "metrics_plain"
#define PLAIN_DDL                                                              \
    "(device text NOT NULL, id bigint NOT NULL, app text, pid integer,"        \
    " at timestamptz NOT NULL, cpu double precision, mem double precision,"    \
    " \"window\" text, path text, idle integer, PRIMARY KEY (device, id))"
#define PLAIN_SET                                                              \
    "app = EXCLUDED.app, pid = EXCLUDED.pid, at = EXCLUDED.at, cpu ="          \
    " EXCLUDED.cpu, mem = EXCLUDED.mem, \"window\" = EXCLUDED.\"window\","     \
    " path = EXCLUDED.path, idle = EXCLUDED.idle"

struct opts {
    long ferryd_pid, pg_pid;
    long first_id, first_seq;
    double duration, rate;
    int new_pct;
};

/* ---- the rows --------------------------------------------------------- */

/* One row's values; ver moves every non-key value of an update. */
struct vals {
    const char *app;
    int pid, idle;
    char at[32], window[48], path[48];
    double cpu, mem;
};

static void make_vals(long id, long ver, struct vals *v)
{
    static const char *apps[] = {"com.example.editor", "org.mozilla.firefox",
                                 "com.slack.desktop", "code"};
    long s = (id * 7 + ver * 13) % 86400;

    v->app = apps[(id + ver) % 4];
    v->pid = (int)(1000 + (id * 7 + ver) % 30000);
    v->idle = (int)((id + ver) % 600);
    snprintf(v->at, sizeof(v->at), "2026-11-30T%02ld:%02ld:%02ld.%03ldZ",
             s / 3600, s / 60 % 60, s % 60, (id + ver) % 1000);
    snprintf(v->window, sizeof(v->window),
             "notes-%06ld.md - Editor - Project Falcon", (id + ver) % 1000000);
    snprintf(v->path, sizeof(v->path),
             "/home/bench/projects/falcon/src/m%06ld.c", id % 1000000);
    v->cpu = (double)((id * 37 + ver) % 10000) / 100.0;
    v->mem = 64.0 + (double)((id * 13 + ver) % 8192) / 8.0;
}

/* A change as the agent sends it (the device column is ferryd's). */
static void add_change(struct fy_buf *b, int64_t seq, uint64_t hlc, long id,
                       long ver)
{
    struct vals v;

    make_vals(id, ver, &v);
    fy_buf_addf(b,
                "{\"seq\":%lld,\"table\":\"metrics\",\"op\":\"upsert\","
                "\"hlc\":\"%016llx\",\"row\":{\"id\":%ld,\"app\":\"%s\","
                "\"pid\":%d,\"at\":\"%s\",\"cpu\":%.2f,\"mem\":%.3f,"
                "\"window\":\"%s\",\"path\":\"%s\",\"idle\":%d}}",
                (long long)seq, (unsigned long long)hlc, id, v.app, v.pid, v.at,
                v.cpu, v.mem, v.window, v.path, v.idle);
}

static void add_copy_row(struct fy_buf *b, const char *dev, long id)
{
    struct vals v;

    make_vals(id, 0, &v);
    fy_buf_addf(b, "%s\t%ld\t%s\t%d\t%s\t%.2f\t%.3f\t%s\t%s\t%d\n", dev, id,
                v.app, v.pid, v.at, v.cpu, v.mem, v.window, v.path, v.idle);
}

/* Device d's share of rows: [*first, *first + *n). */
static void share(long rows, int ndev, int d, long first_id, long *first,
                  long *n)
{
    *first = first_id;
    *n = rows / ndev + (d < rows % ndev ? 1 : 0);
}

/* ---- CPU seconds from /proc ------------------------------------------- */

/* Fields 4 (ppid), 14-17 (utime, stime, cutime, cstime) of /proc/PID/stat. */
static int proc_stat(long pid, long *ppid, double *self, double *children)
{
    char path[64], buf[1024], *p;
    FILE *f;
    size_t n;
    long long v[17] = {0};
    double tick = (double)sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command may hold spaces */
    if (!p)
        return -1;
    p++;
    for (int i = 3; i <= 17 && *p; i++) {
        while (*p == ' ')
            p++;
        if (i != 3)
            v[i - 1] = strtoll(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    *ppid = (long)v[3];
    *self = (double)(v[13] + v[14]) / tick;
    *children = (double)(v[15] + v[16]) / tick;
    return 0;
}

static double cpu_of(long pid)
{
    long ppid;
    double self, ch;

    return pid > 0 && proc_stat(pid, &ppid, &self, &ch) == 0 ? self : 0;
}

/*
 * PostgreSQL's CPU: the postmaster, every live child (backends, walwriter,
 * checkpointer...), and the children it reaped (cutime/cstime), so that a
 * backend closed during the run still counts.
 */
static double pg_cpu(long postmaster)
{
    DIR *d;
    struct dirent *e;
    long ppid;
    double self, ch, sum = 0;

    if (postmaster <= 0 || proc_stat(postmaster, &ppid, &self, &ch) < 0)
        return 0;
    sum = self + ch;
    d = opendir("/proc");
    while (d && (e = readdir(d))) {
        long pid;

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid = strtol(e->d_name, NULL, 10);
        if (proc_stat(pid, &ppid, &self, &ch) == 0 && ppid == postmaster)
            sum += self;
    }
    if (d)
        closedir(d);
    return sum;
}

struct clock {
    double t, ferryd, pg;
};

static void clock_read(const struct opts *o, struct clock *c)
{
    c->t = fy_mono_s();
    c->ferryd = cpu_of(o->ferryd_pid);
    c->pg = pg_cpu(o->pg_pid);
}

static void report(const char *name, long rows, const struct opts *o,
                   const struct clock *t0, const char *extra)
{
    struct clock t1;
    double dt;

    clock_read(o, &t1);
    dt = t1.t - t0->t;
    printf("%s rows=%ld seconds=%.3f rows_per_s=%.0f%s", name, rows, dt,
           (double)rows / dt, extra);
    if (o->ferryd_pid > 0)
        printf(" ferryd_cpu_s=%.2f ferryd_us_per_row=%.2f",
               t1.ferryd - t0->ferryd, (t1.ferryd - t0->ferryd) * 1e6 / rows);
    if (o->pg_pid > 0)
        printf(" pg_cpu_s=%.2f pg_us_per_row=%.2f", t1.pg - t0->pg,
               (t1.pg - t0->pg) * 1e6 / rows);
    printf("\n");
    fflush(stdout);
}

/* ---- push: POST /v1/push over libcurl multi --------------------------- */

struct dev {
    char name[64], key[256];
    CURL *h;
    struct curl_slist *hdrs;
    struct fy_buf *bodies; /* prebuilt; in --duration mode only bodies[0] */
    int64_t *last;         /* each body's last seq: what the 200 must ack */
    long *count;           /* each body's changes */
    size_t nbodies, next;
    struct fy_buf reply;
    /* --duration mode: the rows and clock of the next body */
    long first_id, next_id, ver, sent;
    int64_t seq;
    uint64_t hlc, rng;
    double due;
    bool busy;
};

struct push {
    const char *url;
    long rows, batch;
    const struct opts *o;
    struct dev *devs;
    int ndev;
    CURLM *m;
    long errors, rows_sent, requests;
    bool stop; /* --duration is over: start nothing new */
};

static size_t on_reply(char *p, size_t sz, size_t n, void *ud)
{
    struct dev *d = ud;

    return fy_buf_add(&d->reply, p, sz * n) == 0 ? sz * n : 0;
}

/* The next hlc of a device: now, but always above the previous one. */
static uint64_t next_hlc(struct dev *d)
{
    uint64_t now = (uint64_t)fy_now_ms() << 16;

    d->hlc = now > d->hlc ? now : d->hlc + 1;
    return d->hlc;
}

static uint64_t rnd(struct dev *d)
{
    d->rng = d->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return d->rng >> 33;
}

/*
 * One body of n changes into b; last gets its last seq. In --duration mode
 * new_pct percent are new rows and the rest updates of rows sent before.
 */
static void build_body(struct dev *d, long n, int new_pct, struct fy_buf *b,
                       int64_t *last, long *count)
{
    *count = n;
    fy_buf_reset(b);
    fy_buf_addf(b, "{\"device\":\"%s\",\"changes\":[", d->name);
    for (long i = 0; i < n; i++) {
        long id = d->next_id;

        if (d->next_id > d->first_id && (long)(rnd(d) % 100) >= new_pct)
            id = d->first_id +
                 (long)(rnd(d) % (uint64_t)(d->next_id - d->first_id));
        else
            d->next_id++;
        if (i > 0)
            fy_buf_addc(b, ',');
        add_change(b, d->seq, next_hlc(d), id,
                   id == d->next_id - 1 ? 0 : d->ver);
        *last = d->seq++;
    }
    fy_buf_adds(b, "]}\n");
    d->ver++;
}

static int dev_init(struct push *p, struct dev *d, int idx)
{
    char h[300];
    long first, n;

    share(p->rows, p->ndev, idx, p->o->first_id, &first, &n);
    d->first_id = d->next_id = first;
    d->seq = p->o->first_seq;
    d->rng = (uint64_t)idx * 7919 + 1;
    d->reply = (struct fy_buf)FY_BUF_INIT(0);
    d->h = curl_easy_init();
    snprintf(h, sizeof(h), "X-Api-Key: %s", d->key);
    d->hdrs = curl_slist_append(NULL, h);
    d->hdrs = curl_slist_append(d->hdrs, "Content-Type: application/json");
    d->hdrs = curl_slist_append(d->hdrs, "Expect:");
    snprintf(h, sizeof(h), "%s/v1/push", p->url);
    if (!d->h || !d->hdrs)
        return -1;
    curl_easy_setopt(d->h, CURLOPT_URL, h);
    curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->hdrs);
    curl_easy_setopt(d->h, CURLOPT_POST, 1L);
    curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(d->h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(d->h, CURLOPT_PRIVATE, d);
    curl_easy_setopt(d->h, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(d->h, CURLOPT_TCP_NODELAY, 1L);
    d->nbodies =
        p->o->duration > 0 ? 1 : (size_t)((n + p->batch - 1) / p->batch);
    d->bodies = fy_calloc(d->nbodies, sizeof(*d->bodies));
    d->last = fy_calloc(d->nbodies, sizeof(*d->last));
    d->count = fy_calloc(d->nbodies, sizeof(*d->count));
    if (!d->bodies || !d->last || !d->count)
        return -1;
    d->bodies[0] = (struct fy_buf)FY_BUF_INIT(0);
    for (size_t k = 0; p->o->duration <= 0 && k < d->nbodies; k++) {
        long left = n - (long)k * p->batch;

        d->bodies[k] = (struct fy_buf)FY_BUF_INIT(0);
        build_body(d, left < p->batch ? left : p->batch, 100, &d->bodies[k],
                   &d->last[k], &d->count[k]);
        if (fy_buf_error(&d->bodies[k]))
            return -1;
    }
    return 0;
}

static void dev_free(struct dev *d)
{
    for (size_t k = 0; d->bodies && k < d->nbodies; k++)
        fy_buf_release(&d->bodies[k]);
    fy_free(d->bodies);
    fy_free(d->last);
    fy_free(d->count);
    fy_buf_release(&d->reply);
    curl_slist_free_all(d->hdrs);
    if (d->h)
        curl_easy_cleanup(d->h);
}

/* Starts device d's next request, if it has one and it is due. */
static void dev_start(struct push *p, struct dev *d, double now)
{
    struct fy_buf *b;

    if (d->busy || p->stop)
        return;
    if (p->o->duration > 0) {
        if (now < d->due)
            return;
        d->next = 0;
        build_body(d, p->batch, p->o->new_pct, &d->bodies[0], &d->last[0],
                   &d->count[0]);
    } else if (d->next >= d->nbodies) {
        return;
    }
    b = &d->bodies[d->next];
    fy_buf_reset(&d->reply);
    curl_easy_setopt(d->h, CURLOPT_POSTFIELDS, b->data);
    curl_easy_setopt(d->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_multi_add_handle(p->m, d->h);
    d->busy = true;
}

/* Judges device d's finished request: a 200 acknowledging its last seq. */
static void dev_done(struct push *p, struct dev *d, CURLcode res)
{
    long status = 0;
    const char *a = strstr(d->reply.data, "\"acked_seq\":");
    long long acked = a ? strtoll(a + 12, NULL, 10) : -1;
    size_t k = d->next;
    long n = d->count[k];

    curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(p->m, d->h);
    d->busy = false;
    if (res != CURLE_OK || status != 200 || acked != d->last[k]) {
        if (p->errors++ < 5)
            fprintf(stderr,
                    "bench_load: %s, batch %zu (seq up to %lld): %s, status"
                    " %ld: %.300s\n",
                    d->name, k, (long long)d->last[k],
                    res != CURLE_OK ? curl_easy_strerror(res)
                    : status == 200 ? "acked_seq is not the batch's last seq"
                                    : "not a 200",
                    status, d->reply.data);
    } else {
        p->rows_sent += n;
    }
    p->requests++;
    d->sent += n;
    d->next++;
}

static double pace(const struct push *p, const struct dev *d, double t0)
{
    return p->o->rate > 0 ? t0 + (double)d->sent * p->ndev / p->o->rate : 0;
}

static int run_push(struct push *p)
{
    struct clock t0;
    char extra[96];
    int running = 0;
    bool more = true;

    p->m = curl_multi_init();
    curl_multi_setopt(p->m, CURLMOPT_MAXCONNECTS, (long)p->ndev);
    curl_multi_setopt(p->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)p->ndev);
    clock_read(p->o, &t0);
    while (more) {
        double now = fy_mono_s(), wake = now + 1.0;
        CURLMsg *msg;
        int left;

        /* past --duration: start nothing, let the requests in flight end */
        p->stop = p->o->duration > 0 && now - t0.t >= p->o->duration;
        for (int i = 0; i < p->ndev; i++) {
            dev_start(p, &p->devs[i], now);
            if (!p->devs[i].busy && p->devs[i].due < wake)
                wake = p->devs[i].due;
        }
        curl_multi_perform(p->m, &running);
        while ((msg = curl_multi_info_read(p->m, &left))) {
            struct dev *d = NULL;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            dev_done(p, d, msg->data.result);
            d->due = pace(p, d, t0.t);
        }
        more = false;
        for (int i = 0; i < p->ndev; i++) {
            struct dev *d = &p->devs[i];

            more = more || d->busy ||
                   (p->o->duration > 0 ? !p->stop : d->next < d->nbodies);
        }
        if (more && running > 0) {
            int ms = (int)((wake - fy_mono_s()) * 1000);

            curl_multi_poll(p->m, NULL, 0,
                            ms < 1     ? 1
                            : ms > 100 ? 100
                                       : ms,
                            NULL);
        } else if (more && p->o->duration > 0) {
            double w = wake - fy_mono_s();

            if (w > 0)
                fy_sleep_ms((int64_t)(w * 1000) + 1);
        }
    }
    snprintf(extra, sizeof(extra),
             " devices=%d batch=%ld requests=%ld http_errors=%ld", p->ndev,
             p->batch, p->requests, p->errors);
    report(p->o->duration > 0 ? "push-loop" : "push", p->rows_sent, p->o, &t0,
           extra);
    curl_multi_cleanup(p->m);
    if (p->errors)
        fprintf(stderr, "bench_load: %ld of %ld requests failed\n", p->errors,
                p->requests);
    return p->errors ? 1 : 0;
}

static int read_keys(const char *path, struct dev *devs)
{
    FILE *f = fopen(path, "r");
    char line[400];
    int n = 0;

    if (!f) {
        fprintf(stderr, "bench_load: cannot open %s\n", path);
        return -1;
    }
    while (n < MAX_DEVS && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%63s %255s", devs[n].name, devs[n].key) == 2)
            n++;
    }
    fclose(f);
    if (n == 0)
        fprintf(stderr, "bench_load: no \"DEVICE KEY\" line in %s\n", path);
    return n ? n : -1;
}

static int cmd_push(const char *url, const char *keyfile, long rows, long batch,
                    const struct opts *o)
{
    static struct dev devs[MAX_DEVS];
    struct push p = {
        .url = url, .rows = rows, .batch = batch, .o = o, .devs = devs};
    int rc = 0;

    p.ndev = read_keys(keyfile, devs);
    if (p.ndev < 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; rc == 0 && i < p.ndev; i++)
        rc = dev_init(&p, &devs[i], i);
    if (rc == 0)
        rc = run_push(&p);
    else
        fprintf(stderr, "bench_load: out of memory building the bodies\n");
    for (int i = 0; i < p.ndev; i++)
        dev_free(&devs[i]);
    curl_global_cleanup();
    return rc;
}

/* ---- the limits: plain tables, no ferry ------------------------------- */

struct lim {
    const char *dsn;
    int ndev, conns, idx;
    long rows, batch, first_id;
    bool staged;
    struct fy_buf *copy; /* per batch, in the order this connection sends */
    size_t ncopy;
    pthread_barrier_t *ready; /* connected and staged: the clock starts */
    int rc;
};

static int pg_ok(PGconn *c, PGresult *r, ExecStatusType want)
{
    int ok = PQresultStatus(r) == want;

    if (!ok)
        fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_exec(PGconn *c, const char *sql)
{
    return pg_ok(c, PQexec(c, sql), PGRES_COMMAND_OK);
}

/*
 * The COPY text of every batch of this connection's devices (device d goes
 * to connection d % conns), round-robin over them in batch order.
 */
static int lim_build(struct lim *l)
{
    long most = 0, first, n;
    size_t k = 0;

    share(l->rows, l->ndev, 0, l->first_id, &first, &most);
    l->ncopy = 0;
    for (int d = l->idx; d < l->ndev; d += l->conns) {
        share(l->rows, l->ndev, d, l->first_id, &first, &n);
        l->ncopy += (size_t)((n + l->batch - 1) / l->batch);
    }
    l->copy = fy_calloc(l->ncopy ? l->ncopy : 1, sizeof(*l->copy));
    if (!l->copy)
        return -1;
    for (long off = 0; off < most; off += l->batch) {
        for (int d = l->idx; d < l->ndev; d += l->conns) {
            char dev[32];

            share(l->rows, l->ndev, d, l->first_id, &first, &n);
            if (off >= n)
                continue;
            snprintf(dev, sizeof(dev), "bench%02d", d + 1);
            l->copy[k] = (struct fy_buf)FY_BUF_INIT(0);
            for (long i = off; i < n && i < off + l->batch; i++)
                add_copy_row(&l->copy[k], dev, first + i);
            if (fy_buf_error(&l->copy[k++]))
                return -1;
        }
    }
    return 0;
}

static int pg_copy(PGconn *c, const char *table, const struct fy_buf *b)
{
    char sql[96];
    int rc;

    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    if (pg_ok(c, PQexec(c, sql), PGRES_COPY_IN) < 0)
        return -1;
    rc = PQputCopyData(c, b->data, (int)b->len) == 1 &&
                 PQputCopyEnd(c, NULL) == 1
             ? pg_ok(c, PQgetResult(c), PGRES_COMMAND_OK)
             : -1;
    while (PQgetResult(c))
        ;
    return rc;
}

static void *lim_main(void *ud)
{
    struct lim *l = ud;
    PGconn *c = PQconnectdb(l->dsn);
    int rc = PQstatus(c) == CONNECTION_OK ? 0 : -1;

    if (rc == 0 && l->staged)
        rc = pg_exec(c, "CREATE TEMP TABLE s (LIKE " PLAIN ") ON COMMIT"
                        " DELETE ROWS");
    pthread_barrier_wait(l->ready);
    for (size_t k = 0; rc == 0 && k < l->ncopy; k++) {
        rc = pg_exec(c, "BEGIN");
        if (rc == 0)
            rc = pg_copy(c, l->staged ? "s" : PLAIN, &l->copy[k]);
        if (rc == 0 && l->staged)
            rc = pg_exec(c, "INSERT INTO " PLAIN " SELECT * FROM s ON"
                            " CONFLICT (device, id) DO UPDATE SET " PLAIN_SET);
        if (rc == 0)
            rc = pg_exec(c, "COMMIT");
    }
    if (rc < 0 && PQstatus(c) != CONNECTION_OK)
        fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
    PQfinish(c);
    l->rc = rc;
    return NULL;
}

/*
 * A fresh plain table, and per connection the staging table made once, as
 * ferryd keeps its own (ON COMMIT DELETE ROWS): the limit pays no catalog
 * work per batch either.
 */
static int pg_prepare(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    int rc = PQstatus(c) == CONNECTION_OK ? 0 : -1;

    if (rc == 0)
        rc = pg_exec(c, "SET client_min_messages = warning");
    if (rc == 0)
        rc = pg_exec(c, "DROP TABLE IF EXISTS " PLAIN);
    if (rc == 0)
        rc = pg_exec(c, "CREATE TABLE " PLAIN " " PLAIN_DDL);
    if (rc == 0)
        rc = pg_exec(c, "CHECKPOINT");
    if (rc < 0)
        fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
    PQfinish(c);
    return rc;
}

static int cmd_pg(const char *mode, const char *dsn, int ndev, long rows,
                  long batch, int conns, const struct opts *o)
{
    struct lim l[MAX_DEVS] = {0};
    pthread_t th[MAX_DEVS];
    pthread_barrier_t ready;
    struct clock t0;
    int rc = pg_prepare(dsn);

    for (int i = 0; rc == 0 && i < conns; i++) {
        l[i] = (struct lim){.dsn = dsn,
                            .ndev = ndev,
                            .conns = conns,
                            .idx = i,
                            .rows = rows,
                            .batch = batch,
                            .first_id = o->first_id,
                            .staged = strcmp(mode, "pg-staged") == 0,
                            .ready = &ready};
        rc = lim_build(&l[i]);
    }
    if (rc == 0) {
        /* connections are opened before the clock, like ferryd's pool */
        pthread_barrier_init(&ready, NULL, (unsigned)conns + 1);
        for (int i = 0; i < conns; i++)
            pthread_create(&th[i], NULL, lim_main, &l[i]);
        pthread_barrier_wait(&ready);
        clock_read(o, &t0);
        for (int i = 0; i < conns; i++) {
            pthread_join(th[i], NULL);
            rc |= l[i].rc;
        }
        if (rc == 0)
            report(mode, rows, o, &t0, "");
        pthread_barrier_destroy(&ready);
    }
    for (int i = 0; i < conns; i++) {
        for (size_t k = 0; k < l[i].ncopy; k++)
            fy_buf_release(&l[i].copy[k]);
        fy_free(l[i].copy);
    }
    return rc ? 1 : 0;
}

/*
 * The embedded store's limit: one writer (ferryd's SQLite store has one at
 * a time too), the same durability (WAL, synchronous=FULL), a prepared
 * upsert, one transaction per batch, devices round-robin by batch.
 */
static int cmd_sqlite(const char *path, int ndev, long rows, long batch,
                      const struct opts *o)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct clock t0;
    long most, first, n;
    int rc = sqlite3_open(path, &db) == SQLITE_OK &&
                     sqlite3_exec(db,
                                  "PRAGMA journal_mode=WAL;"
                                  " PRAGMA synchronous=FULL;"
                                  " DROP TABLE IF EXISTS " PLAIN ";"
                                  " CREATE TABLE " PLAIN " " PLAIN_DDL,
                                  NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_prepare_v2(
                         db,
                         "INSERT INTO " PLAIN " VALUES (?, ?, ?, ?, ?, ?, ?,"
                         " ?, ?, ?) ON CONFLICT (device, id) DO UPDATE"
                         " SET " PLAIN_SET,
                         -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : -1;

    share(rows, ndev, 0, o->first_id, &first, &most);
    clock_read(o, &t0);
    for (long off = 0; rc == 0 && off < most; off += batch) {
        for (int d = 0; rc == 0 && d < ndev; d++) {
            char dev[32];

            share(rows, ndev, d, o->first_id, &first, &n);
            if (off >= n)
                continue;
            snprintf(dev, sizeof(dev), "bench%02d", d + 1);
            rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
                         SQLITE_OK
                     ? 0
                     : -1;
            for (long i = off; rc == 0 && i < n && i < off + batch; i++) {
                struct vals v;

                make_vals(first + i, 0, &v);
                sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, first + i);
                sqlite3_bind_text(st, 3, v.app, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 4, v.pid);
                sqlite3_bind_text(st, 5, v.at, -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 6, v.cpu);
                sqlite3_bind_double(st, 7, v.mem);
                sqlite3_bind_text(st, 8, v.window, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 9, v.path, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 10, v.idle);
                rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
                sqlite3_reset(st);
            }
            if (rc == 0)
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
                         ? 0
                         : -1;
        }
    }
    if (rc == 0)
        report("sqlite-upsert", rows, o, &t0, "");
    else
        fprintf(stderr, "bench_load: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc ? 1 : 0;
}

/* ---- the command line ------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: see the comment at the top of bench/bench_load.c\n");
    return 2;
}

/* A whole number >= min, or -1. */
static long num(const char *s, long min)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : -1;

    return s && *s && !*end && v >= min ? v : -1;
}

/* The options after the positional arguments; -1 on a bad one. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.first_id = 1, .first_seq = 1, .new_pct = 20};
    for (int i = 0; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = num(v, 0);

        if (n < 0)
            return -1;
        if (strcmp(k, "--ferryd-pid") == 0)
            o->ferryd_pid = n;
        else if (strcmp(k, "--pg-pid") == 0)
            o->pg_pid = n;
        else if (strcmp(k, "--first-id") == 0 && n > 0)
            o->first_id = n;
        else if (strcmp(k, "--first-seq") == 0 && n > 0)
            o->first_seq = n;
        else if (strcmp(k, "--duration") == 0)
            o->duration = (double)n;
        else if (strcmp(k, "--rate") == 0)
            o->rate = (double)n;
        else if (strcmp(k, "--new") == 0 && n <= 100)
            o->new_pct = (int)n;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    bool push = strcmp(mode, "push") == 0,
         sq = strcmp(mode, "sqlite-upsert") == 0;
    bool pg = strcmp(mode, "pg-copy") == 0 || strcmp(mode, "pg-staged") == 0;
    int npos = push ? 6 : sq ? 6 : 7; /* argv[0..npos) */
    struct opts o;
    long rows, batch, ndev = 0, conns = 0;

    if ((!push && !sq && !pg) || argc < npos ||
        parse_opts(argc - npos, argv + npos, &o) < 0)
        return usage();
    rows = num(argv[push ? 4 : 4], 1);
    batch = num(argv[5], 1);
    if (!push)
        ndev = num(argv[3], 1);
    if (pg)
        conns = num(argv[6], 1);
    if (rows < 0 || batch < 0 || ndev < 0 || ndev > MAX_DEVS || conns < 0 ||
        conns > MAX_DEVS || (!push && rows < ndev))
        return usage();
    if (push)
        return cmd_push(argv[2], argv[3], rows, batch, &o);
    if (pg)
        return cmd_pg(mode, argv[2], (int)ndev, rows, batch, (int)conns, &o);
    return cmd_sqlite(argv[2], (int)ndev, rows, batch, &o);
}
