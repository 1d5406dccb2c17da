/* SPDX-License-Identifier: MIT */
/*
 * `ferry sync`: push then pull, once, every DURATION (--every), or as a
 * long-running process that pushes within milliseconds of a local commit
 * and polls the server for others' changes (--watch). The long-running
 * forms log one line per sync, ride out server and network outages with
 * backoff, and exit 0 on SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/agentdb.h"
#include "agent/doorbell.h"
#include "agent/pull.h"
#include "agent/push.h"
#include "agent/runs.h"
#include "agent/state.h"
#include "core/backoff.h"
#include "core/config.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char sync_usage[] =
    "usage: ferry sync [--every DURATION | --watch [--poll DURATION]]\n"
    "                  [--retry-for SECONDS] [--limit N]\n"
    "Pushes the outbox, then pulls what other devices sent. Without --every\n"
    "or --watch it runs once. --every 5m runs again every DURATION (10%\n"
    "jitter); --watch pushes within milliseconds of a local commit, pulls\n"
    "within milliseconds of others' (a long poll), and pulls anyway every\n"
    "--poll DURATION (default 30s).\n"
    "DURATION: a number with ms, s, m or h (30s, 5m). Both keep running\n"
    "through server outages and exit 0 on SIGTERM or SIGINT.\n"
    "Exit codes: 0 done; 3 config or database; 4 key refused; 5 server\n"
    "unreachable (once only); 6 every change sent was parked (once only);\n"
    "7 capture broken on a tracked table (once only); 1 other errors.\n";

/* How often --watch looks at PRAGMA data_version. */
#define WATCH_TICK_MS 3
/* How long one Ferry-Run token of --watch lasts (one device run). */
#define WATCH_RUN_S 60

struct sync_opts {
    int64_t every_ms; /* 0: not --every */
    int64_t poll_ms;
    bool watch;
    struct fy_push_opts push;
    struct fy_pull_opts pull;
};

/* The outcome of one push-then-pull. */
struct round {
    struct fy_push_stats push;
    struct fy_pull_stats pull;
    bool pushed; /* the push step ran */
    int push_rc; /* the push's own outcome (the run recorded for status) */
    int rc;
    struct ferry_err err;
    int64_t ms;
};

/*
 * SIGTERM between syncs asks the loop to stop; during one, the process
 * ends at once: push and pull are both safe to cut at any point (each
 * transaction commits whole or not at all, and the server de-duplicates),
 * exactly as after a kill, and waiting for a request that may be retrying
 * for minutes would only delay a shutdown.
 */
static volatile sig_atomic_t stop_asked, in_round;

static void on_signal(int sig)
{
    (void)sig;
    if (in_round)
        _exit(AGENT_OK);
    stop_asked = 1;
}

/* ---- options ---------------------------------------------------------- */

static int duration_opt(const char *name, const char *arg, int64_t *out)
{
    *out = fy_runs_duration_ms(arg);
    if (*out > 0)
        return 0;
    fprintf(stderr, "ferry sync: %s takes a duration such as 30s or 5m\n",
            name);
    return AGENT_USAGE;
}

static int parse_sync(int argc, char **argv, struct fy_agent_opts *ao,
                      struct sync_opts *o)
{
    static const struct option opts[] = {
        {"every", required_argument, NULL, 'e'},
        {"watch", no_argument, NULL, 'w'},
        {"poll", required_argument, NULL, 'p'},
        {"retry-for", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long v;
    int c, rc = 0;
    bool poll = false;

    while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            rc = duration_opt("--every", optarg, &o->every_ms);
            break;
        case 'w':
            o->watch = true;
            break;
        case 'p':
            rc = duration_opt("--poll", optarg, &o->poll_ms);
            poll = true;
            break;
        case 'r':
            if (agent_parse_long(optarg, 0, 7 * 86400, &v) < 0)
                return agent_usage_error(
                    "ferry sync: --retry-for takes seconds\n");
            ao->retry_budget_ms = (int64_t)v * 1000;
            break;
        case 'l':
            rc = agent_parse_pull_limit("sync", optarg, &o->pull.limit);
            break;
        case 'h':
            fputs(sync_usage, stdout);
            return -1;
        default:
            return agent_usage_error(sync_usage);
        }
    }
    if (rc == 0 && (optind < argc || (o->watch && o->every_ms)))
        return agent_usage_error(sync_usage);
    /*
     * Without --watch nothing polls: taking the flag would run a sync
     * once (or --every) while the user believes it polls.
     */
    if (rc == 0 && poll && !o->watch) {
        fprintf(stderr, "ferry sync: --poll needs --watch\n");
        return AGENT_USAGE;
    }
    return rc;
}

/* ---- one sync --------------------------------------------------------- */

/* The push as `ferry status` shows it; a failure to record it is logged. */
static void record_push(struct fy_agent *a, int64_t started,
                        const struct round *r)
{
    struct ferry_err err = {0};
    bool failed = r->push_rc < 0;

    if (!r->pushed)
        return;
    if (fy_agentdb_record_run(
            fy_agent_db(a),
            &(struct fy_agent_run){.started = started,
                                   .ended = fy_now_ms() / 1000,
                                   .status = failed ? "error" : "ok",
                                   .sent = r->push.sent,
                                   .acked_seq = r->push.acked_seq,
                                   .error = failed ? r->err.msg : NULL},
            &err) < 0)
        fy_warn("sync", "%s", err.msg);
}

static void run_round(struct fy_agent *a, const struct sync_opts *o, bool push,
                      struct round *r)
{
    double t0 = fy_mono_s();
    int64_t started = fy_now_ms() / 1000;

    memset(r, 0, sizeof(*r));
    in_round = 1;
    if (stop_asked)
        _exit(AGENT_OK); /* the signal came just before the flag was set */
    r->pushed = push;
    if (push)
        r->rc = r->push_rc = fy_agent_push_step(a, &o->push, &r->push, &r->err);
    if (r->rc == 0)
        r->rc = fy_agent_pull_step(a, &o->pull, &r->pull, &r->err);
    record_push(a, started, r);
    in_round = 0;
    r->ms = (int64_t)((fy_mono_s() - t0) * 1000);
}

/* "pushed N changes (R rejected); pulled ..." */
static void round_text(struct fy_buf *b, const struct round *r)
{
    long parked = r->push.dead + r->push.dead_local;

    if (r->pushed)
        fy_buf_addf(b, "pushed %ld changes (acked seq %lld, %ld rejected); ",
                    r->push.sent, (long long)r->push.acked_seq, parked);
    else
        fy_buf_adds(b, "nothing to push; ");
    agent_pull_summary(b, &r->pull);
}

/* The one line a long-running sync logs per round. */
static void log_round(const struct round *r, int64_t next_ms)
{
    struct fy_buf b = FY_BUF_INIT(0);
    bool idle = r->rc == 0 && r->push.sent == 0 && r->pull.changes == 0 &&
                r->push.dead + r->push.dead_local == 0;

    round_text(&b, r);
    if (r->push.sent > 0 || r->push.files + r->push.files_known > 0) {
        fy_buf_adds(&b, " [");
        agent_push_tables(&b, &r->push);
        fy_buf_adds(&b, "]");
    }
    if (fy_buf_error(&b))
        fy_buf_reset(&b);
    if (r->rc < 0)
        fy_warn("sync", "failed after %lld ms: %s; %s; next try in %lld ms",
                (long long)r->ms, r->err.msg, b.data, (long long)next_ms);
    else
        /* An idle poll every second would flood the journal. */
        fy_log(idle ? FERRY_LOG_DEBUG : FERRY_LOG_INFO, "sync", "%s in %lld ms",
               b.data, (long long)r->ms);
    fy_buf_release(&b);
}

/*
 * A failure a long-running sync cannot outwait: the key, the config, a
 * contract version ferryd does not accept (the app needs another build).
 */
static bool fatal(int rc)
{
    return rc == FERRY_EAUTH || rc == FERRY_EFORBIDDEN || rc == FERRY_ECONFIG ||
           rc == FERRY_ENOMEM || rc == FERRY_EVERSION;
}

/* ---- waiting ---------------------------------------------------------- */

/* Sleeps up to ms in short steps; false when a stop was asked. */
static bool nap(int64_t ms)
{
    int64_t until = (int64_t)(fy_mono_s() * 1000) + ms;

    while (!stop_asked) {
        int64_t left = until - (int64_t)(fy_mono_s() * 1000);

        if (left <= 0)
            return true;
        fy_sleep_ms(left < 100 ? left : 100);
    }
    return false;
}

static uint64_t rng_state;

/* ms plus or minus 10%, so a fleet started together spreads out. */
static int64_t jitter(int64_t ms)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ms - ms / 10 + (int64_t)(rng_state % (uint64_t)(ms / 5 + 1));
}

/* The watch connection's PRAGMA data_version: moves on others' commits. */
static int64_t data_version(sqlite3 *w)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(w, "PRAGMA data_version", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/*
 * What the outbox holds, as count and last rowid: a commit the app made
 * changes it; the agent's own writes (a pull's rows, whose entries are
 * dropped in the same transaction, or state a push records) do not, so
 * they do not wake the watch up again.
 */
static void outbox_mark(sqlite3 *w, int64_t mark[2])
{
    sqlite3_stmt *st = NULL;

    mark[0] = mark[1] = -1;
    if (sqlite3_prepare_v2(w,
                           "SELECT count(*), coalesce(max(rowid), 0) FROM"
                           " _ferry_outbox",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        mark[0] = sqlite3_column_int64(st, 0);
        mark[1] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
}

struct watcher {
    sqlite3 *w;               /* the dedicated read-only connection */
    struct fy_doorbell *bell; /* long polls the server; NULL: polls only */
    int64_t version;          /* data_version last seen */
    int64_t mark[2];          /* outbox_mark() after the last round */
};

/*
 * Waits until the app commits to the outbox (*local), ms pass, or a stop
 * is asked (false).
 */
static bool watch_wait(struct watcher *wt, int64_t ms, bool *local)
{
    int64_t until = (int64_t)(fy_mono_s() * 1000) + ms;

    *local = false;
    while (!stop_asked) {
        /* Others wrote something: a round pulls it now, not at the poll. */
        if (wt->bell && fy_doorbell_rang(wt->bell))
            return true;
        int64_t v = data_version(wt->w), mark[2];

        if (v != wt->version) {
            wt->version = v;
            outbox_mark(wt->w, mark);
            if (mark[0] != wt->mark[0] || mark[1] != wt->mark[1]) {
                *local = true;
                return true;
            }
        }
        if ((int64_t)(fy_mono_s() * 1000) >= until)
            return true;
        fy_sleep_ms(WATCH_TICK_MS);
    }
    return false;
}

/* ---- the loops -------------------------------------------------------- */

struct syncer {
    struct agent_ctx *ctx;
    struct fy_agent *a;
    const char *key;
    struct sync_opts *o;
    struct fy_backoff bo;
    double run_started; /* fy_mono_s() when the Ferry-Run token was made */
};

/* One logged round; the wait before the next, or -1 to stop (*exit_rc). */
static int64_t loop_round(struct syncer *y, bool push, int64_t normal_ms,
                          int *exit_rc)
{
    struct round r;
    int64_t next = normal_ms;

    run_round(y->a, y->o, push, &r);
    if (r.rc < 0) {
        next = fy_backoff_next(&y->bo, -1);
        next = next < normal_ms || normal_ms == 0 ? next : normal_ms;
    } else {
        fy_backoff_reset(&y->bo);
    }
    log_round(&r, next);
    if (r.rc < 0 && fatal(r.rc)) {
        *exit_rc = r.err.code ? agent_fail(&r.err) : agent_exit_code(r.rc);
        return -1;
    }
    return next;
}

/*
 * A new Ferry-Run token: ferryd adds the requests sent with one up into
 * one device run (docs/api.md#device-runs). Failing to make one keeps the
 * old token, so the rounds add up into one run: logged, not fatal.
 */
static void new_run(struct syncer *y)
{
    struct ferry_err err = {0};

    if (fy_agent_new_run(y->a, &err) < 0)
        fy_warn("sync", "%s", err.msg);
    y->run_started = fy_mono_s();
}

static int run_every(struct syncer *y)
{
    int rc = AGENT_OK;

    for (;;) {
        int64_t next;

        new_run(y); /* each cycle is a run of its own */
        next = loop_round(y, true, jitter(y->o->every_ms), &rc);

        if (next < 0 || !nap(next))
            return rc;
    }
}

static int open_watch(const struct fy_agent_config *cfg, sqlite3 **w)
{
    if (sqlite3_open_v2(cfg->database, w, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "ferry: cannot open '%s' to watch it: %s\n",
                cfg->database, sqlite3_errmsg(*w));
        sqlite3_close(*w);
        *w = NULL;
        return AGENT_CONFIG;
    }
    sqlite3_busy_timeout(*w, 1000);
    return 0;
}

/* The device's pull cursor, for the doorbell to ask from. */
static void tell_bell(struct watcher *wt, sqlite3 *db)
{
    char *cursor = NULL;

    if (!wt->bell)
        return;
    fy_state_get_text(db, "pull_cursor", &cursor, NULL);
    fy_doorbell_cursor(wt->bell, cursor);
    fy_free(cursor);
}

/*
 * The doorbell: others' changes within milliseconds through the server's
 * long poll. Without it (a thread that cannot start) the poll interval
 * is all there is.
 */
static void start_bell(struct syncer *y, struct watcher *wt)
{
    const struct fy_agent_config *cfg = fy_agent_config(y->a);
    struct ferry_err err = {0};

    if (fy_doorbell_start(cfg->base_url, cfg->ca_file, cfg->auth_header, y->key,
                          &wt->bell, &err) < 0)
        fy_warn("sync",
                "no long poll (%s): others' changes arrive at the"
                " next poll",
                err.msg);
}

/*
 * --watch: a round at once (to catch up), then one whenever the app
 * commits something to push, whenever the doorbell says others wrote
 * something, and a pull every poll interval. A commit the app made during
 * a round (its connection's data_version moved, and the outbox holds
 * entries) starts the next round at once. After a failure the next round
 * waits for the backoff, commits or not.
 */
static int run_watch(struct syncer *y)
{
    struct watcher wt = {0};
    sqlite3 *db = fy_agent_db(y->a);
    int64_t wait = 0, n = 0, seen;
    bool local = true;
    int rc = open_watch(fy_agent_config(y->a), &wt.w);

    if (rc != 0)
        return rc;
    start_bell(y, &wt);
    wt.version = data_version(wt.w);
    y->run_started = fy_mono_s();
    while (rc == AGENT_OK) {
        /* A watch's rounds of one minute add up into one device run. */
        if (fy_mono_s() - y->run_started >= WATCH_RUN_S)
            new_run(y);
        fy_agentdb_count(db, FY_AGENTDB_OUTBOX, &n, NULL);
        seen = data_version(db);
        wait = loop_round(y, local || n > 0, y->o->poll_ms, &rc);
        outbox_mark(wt.w, wt.mark);
        tell_bell(&wt, db);
        if (wait < 0)
            break;
        if (wait > y->o->poll_ms) {
            if (!nap(wait))
                break;
            local = false;
            continue;
        }
        fy_agentdb_count(db, FY_AGENTDB_OUTBOX, &n, NULL);
        if (data_version(db) != seen && n > 0) {
            local = true;
            continue;
        }
        if (!watch_wait(&wt, wait, &local))
            break;
    }
    fy_doorbell_stop(wt.bell);
    sqlite3_close(wt.w);
    return rc;
}

/* ---- once ------------------------------------------------------------- */

static int once_exit(const struct agent_ctx *ctx, struct round *r)
{
    if (r->rc < 0)
        return r->err.code ? agent_fail(&r->err) : agent_exit_code(r->rc);
    if (ctx->capture_problems > 0)
        return AGENT_CAPTURE;
    if (r->push.sent == 0 && r->push.dead + r->push.dead_local > 0)
        return AGENT_PARKED;
    return AGENT_OK;
}

static int run_once(struct syncer *y)
{
    struct fy_buf b = FY_BUF_INIT(0);
    struct round r;

    run_round(y->a, y->o, true, &r);
    round_text(&b, &r);
    puts(fy_buf_error(&b) ? "synced (out of memory)" : b.data);
    /* The second line of `ferry push`: what went, per table. */
    fy_buf_reset(&b);
    agent_push_tables(&b, &r.push);
    if (b.len > 0 && !fy_buf_error(&b))
        puts(b.data);
    fy_buf_release(&b);
    return once_exit(y->ctx, &r);
}

static void quiet_report(const struct fy_agent_event *ev, void *ud)
{
    (void)ev;
    (void)ud; /* retries are logged at debug level; each round says more */
}

int agent_sync(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_agent_opts ao = {.retry_budget_ms = 300000,
                               .backoff_base_ms = 250,
                               .backoff_cap_ms = 30000};
    struct sync_opts o = {.poll_ms = 30000};
    struct syncer y = {.ctx = ctx, .o = &o};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int rc = parse_sync(argc, argv, &ao, &o);

    if (rc != 0)
        return rc < 0 ? AGENT_OK : rc;
    if (o.watch || o.every_ms) {
        /* A round gives up after 30 s and the loop's backoff takes over. */
        ao.retry_budget_ms =
            ao.retry_budget_ms < 30000 ? ao.retry_budget_ms : 30000;
        ao.report = quiet_report;
        agent_on_stop(on_signal);
    }
    if (agent_open(ctx, &cfg, &db, &err) < 0)
        return agent_fail(&err);
    ao.key = agent_api_key(&cfg, &rc);
    y.key = ao.key;
    if (!ao.key) {
        sqlite3_close(db);
        fy_agent_config_release(&cfg);
        return rc;
    }
    if (fy_agent_new(&cfg, db, &ao, &y.a, &err) < 0)
        return agent_fail(&err);
    rng_state = (uint64_t)fy_now_ms() ^ ((uint64_t)getpid() << 32) ^ 1;
    fy_backoff_init(&y.bo, 1000, o.watch ? 30000 : 60000, rng_state);
    rc = o.watch ? run_watch(&y) : o.every_ms ? run_every(&y) : run_once(&y);
    fy_agent_free(y.a);
    return rc;
}
