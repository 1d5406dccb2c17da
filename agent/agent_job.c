/* SPDX-License-Identifier: MIT */
/*
 * `ferry job run NAME -- CMD ARGS...`: runs a job in any language as a
 * tracked run of stream NAME. It begins the run (one runner at a time
 * holds the stream's lease), runs CMD with the committed cursor in its
 * environment, keeps the lease with heartbeats while CMD runs, and ends
 * the run from CMD's exit status and the report file CMD may write: a
 * success commits CMD's new cursor, a failure keeps the old one. The
 * runs client (include/ferry/ferry_runs.h) does the talking; the report
 * and the command line are parsed in lib/agent/runs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runs.h"
#include "ferry/ferry_runs.h"
#include "util/log.h"
#include "fy.h"

#include "agent.h"

static const char job_usage[] =
    "usage: ferry job run NAME [--every DURATION] [--lease SECONDS]\n"
    "                     [--instance NAME] -- CMD [ARGS...]\n"
    "Begins a run of stream NAME at ferryd, runs CMD with FERRY_RUN_ID,\n"
    "FERRY_STREAM, FERRY_CURSOR (the committed cursor, empty when none),\n"
    "FERRY_HAS_CURSOR (0 or 1) and FERRY_REPORT (a file CMD may write lines\n"
    "cursor=VALUE, records=N, metadata={JSON}, error=TEXT to), heartbeats\n"
    "every --lease/3 while it runs (--lease default 60), then completes the\n"
    "run when CMD exits 0 (committing cursor=) or fails it (the cursor\n"
    "stays). --every DURATION runs it again every DURATION until SIGTERM\n"
    "or SIGINT. --instance: who runs it (default: the host name).\n"
    "Exit codes: 0 completed; 8 another run holds the lease; 9 the job\n"
    "failed (recorded); 10 the run lost its lease (CMD was stopped); 2 usage;\n"
    "3 config; 4 key refused; 5 server unreachable; 1 other errors.\n";

/* After the lease is lost, CMD gets SIGTERM, then SIGKILL this much later. */
#define KILL_AFTER_S 10
/* How often the supervising loop looks at CMD and the heartbeat's time. */
#define TICK_MS 20

/*
 * SIGTERM and SIGINT are passed on to CMD, which decides how to end (its
 * run is then recorded from its exit as usual), and stop --every after
 * that run. During a begin (which may be retrying for a while) nothing has
 * started yet: the process ends at once, with stop_exit; a run the server
 * began meanwhile is recorded abandoned when its lease ends. Only
 * async-signal-safe calls here: kill(), _exit() and flags.
 */
static volatile sig_atomic_t stop_sig, child_pid, in_begin, stop_exit;

static void on_signal(int sig)
{
    stop_sig = sig;
    if (in_begin)
        _exit(stop_exit);
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

struct job {
    struct ferry_client *c;
    const struct fy_job_args *a;
    const char *instance;
    char cmd_shown[128]; /* CMD's name for messages, escaped */
};

/* How one run went: the exit code, and a message when err.code is set. */
struct outcome {
    int exit;
    struct ferry_err err;
};

/* ---- CMD -------------------------------------------------------------- */

/* The run's environment for CMD (set in this process before the fork). */
static int set_env(const struct ferry_run *run, const char *report)
{
    char id[32];

    snprintf(id, sizeof(id), "%lld", (long long)run->id);
    if (setenv("FERRY_RUN_ID", id, 1) < 0 ||
        setenv("FERRY_STREAM", run->stream ? run->stream : "", 1) < 0 ||
        setenv("FERRY_CURSOR", run->cursor ? run->cursor : "", 1) < 0 ||
        setenv("FERRY_HAS_CURSOR", run->cursor ? "1" : "0", 1) < 0 ||
        setenv("FERRY_REPORT", report, 1) < 0)
        return -1;
    return 0;
}

/*
 * Starts cmd. A pipe closed on exec tells an exec that failed (no such
 * command) from a command that ran: the child writes its errno into it.
 */
static int spawn(char **cmd, pid_t *pid, struct ferry_err *err)
{
    int fds[2], e = 0;
    ssize_t n;

    if (pipe(fds) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0)
        return fy_err_set(err, FERRY_EIO, "cannot start '%s': %s", cmd[0],
                          strerror(errno));
    fflush(NULL);
    *pid = fork();
    if (*pid == 0) {
        close(fds[0]);
        execvp(cmd[0], cmd);
        e = errno;
        (void)!write(fds[1], &e, sizeof(e));
        _exit(127);
    }
    close(fds[1]);
    if (*pid < 0) {
        close(fds[0]);
        return fy_err_set(err, FERRY_EIO, "cannot start '%s': %s", cmd[0],
                          strerror(errno));
    }
    while ((n = read(fds[0], &e, sizeof(e))) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    if (n != (ssize_t)sizeof(e))
        return 0;
    waitpid(*pid, NULL, 0);
    *pid = -1;
    return fy_err_set(err, FERRY_ENOTFOUND, "cannot run '%s': %s", cmd[0],
                      strerror(e));
}

/* The state of the loop that waits for CMD. */
struct watch {
    pid_t pid;
    int status;
    double next_beat; /* fy_mono_s() of the next heartbeat */
    double kill_at;   /* 0, or when SIGKILL follows the SIGTERM */
    bool lost;
    bool killed;
};

/* The lease is gone: CMD is stopped (SIGTERM, SIGKILL after 10 s). */
static void lease_lost(struct job *j, struct watch *w,
                       const struct ferry_err *e)
{
    struct fy_buf b = FY_BUF_INIT(0);

    agent_add_shown(&b, e->msg, 400);
    fy_warn("job", "%s; stopping %s (SIGTERM, SIGKILL %d s later)",
            fy_buf_error(&b) ? "lease lost" : b.data, j->cmd_shown,
            KILL_AFTER_S);
    fy_buf_release(&b);
    w->lost = true;
    kill(w->pid, SIGTERM);
    w->kill_at = fy_mono_s() + KILL_AFTER_S;
}

static void heartbeat(struct job *j, struct ferry_run *run, struct watch *w)
{
    struct ferry_err e = {0};
    double period = run->lease_seconds / 3.0;
    int rc = ferry_run_heartbeat(j->c, run, &e);

    if (rc == 0) {
        w->next_beat = fy_mono_s() + period;
        return;
    }
    /* Only a failure that may pass, with time left, is tried again. */
    if (ferry_err_is_transient(rc) && ferry_run_lease_left_ms(run) > 0) {
        fy_debug("job", "heartbeat of run %lld failed: %s", (long long)run->id,
                 e.msg);
        w->next_beat = fy_mono_s() + (period < 1 ? period : 1);
        return;
    }
    lease_lost(j, w, &e);
}

/* Waits for CMD, heartbeating; w->lost when the lease went. */
static void supervise(struct job *j, struct ferry_run *run, struct watch *w)
{
    w->next_beat = fy_mono_s() + run->lease_seconds / 3.0;
    for (;;) {
        pid_t got = waitpid(w->pid, &w->status, WNOHANG);
        double now = fy_mono_s();

        if (got == w->pid)
            return;
        if (got < 0 && errno != EINTR) {
            w->status = 255 << 8; /* lost track of CMD: "status 255" */
            return;
        }
        if (w->lost && !w->killed && now >= w->kill_at) {
            kill(w->pid, SIGKILL);
            w->killed = true;
        }
        if (!w->lost && now >= w->next_beat)
            heartbeat(j, run, w);
        fy_sleep_ms(TICK_MS);
    }
}

/* ---- ending the run ----------------------------------------------------- */

/* "CMD exited with status N" / "CMD killed by signal S" */
static void exit_text(const struct job *j, int status, struct fy_buf *b)
{
    if (WIFEXITED(status))
        fy_buf_addf(b, "%s exited with status %d", j->cmd_shown,
                    WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fy_buf_addf(b, "%s killed by signal %d", j->cmd_shown,
                    WTERMSIG(status));
    else
        fy_buf_addf(b, "%s ended with wait status %d", j->cmd_shown, status);
    if (stop_sig)
        fy_buf_addf(b, " (ferry job run was stopped by signal %d)",
                    (int)stop_sig);
}

/*
 * The failure's text: the job's own error=, else how CMD ended and what
 * was wrong with its report.
 */
static void fail_text(const struct job *j, int status, bool ran,
                      const struct fy_job_report *rep,
                      const struct ferry_err *rep_err, struct fy_buf *b)
{
    if (rep_err->code == 0 && rep->error) {
        fy_buf_adds(b, rep->error);
        return;
    }
    if (ran && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        exit_text(j, status, b);
    if (rep_err->code != 0)
        fy_buf_addf(b, "%sreport file: %s", b->len ? "; " : "", rep_err->msg);
}

/* "run 42 of main_submissions: success, 17 records, cursor ..., 5.3 s" */
static void log_run(const struct ferry_run *run, const char *why, double secs)
{
    struct fy_buf b = FY_BUF_INIT(0);

    fy_buf_addf(&b, "run %lld of %s: %s", (long long)run->id, run->stream,
                run->status ? run->status : "?");
    if (why) {
        fy_buf_adds(&b, " (");
        agent_add_shown(&b, why, 200);
        fy_buf_adds(&b, ")");
    }
    fy_buf_addf(&b, ", %lld record%s, ", (long long)run->records,
                run->records == 1 ? "" : "s");
    if (run->cursor) {
        fy_buf_adds(&b, why ? "cursor stays " : "cursor ");
        agent_add_shown(&b, run->cursor, 80);
    } else {
        fy_buf_adds(&b, "no cursor");
    }
    fy_buf_addf(&b, ", %.1f s", secs);
    fy_info("job", "%s", fy_buf_error(&b) ? "run ended" : b.data);
    fy_buf_release(&b);
}

/* Cuts b to at most max bytes at the start of a UTF-8 character. */
static void cut_text(struct fy_buf *b, size_t max)
{
    size_t n = max;

    if (b->len <= max)
        return;
    while (n > 0 && ((unsigned char)b->data[n] & 0xc0) == 0x80)
        n--;
    b->data[n] = '\0';
    b->len = n;
}

/* Records the run from CMD's end (status) and report. */
static void finish_run(struct job *j, struct ferry_run *run, int status,
                       bool ran, const char *report, double t0,
                       struct outcome *out)
{
    struct fy_job_report rep = {0};
    struct ferry_err rep_err = {0};
    struct fy_buf why = FY_BUF_INIT(0);
    bool ok = ran && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int rc;

    if (fy_job_report_read(report, &rep, &rep_err) < 0)
        fy_job_report_release(&rep);
    if (ok && rep_err.code == 0 && !rep.error) {
        rc = ferry_run_complete(j->c, run, rep.records, rep.cursor,
                                rep.metadata, &out->err);
    } else {
        if (!ran)
            fy_buf_adds(&why, out->err.msg); /* what kept CMD from running */
        fail_text(j, status, ran, &rep, &rep_err, &why);
        cut_text(&why, FY_RUNS_ERROR_MAX);
        fy_err_clear(&out->err);
        rc = ferry_run_fail(j->c, run, fy_buf_error(&why) ? "failed" : why.data,
                            rep.records, rep.metadata, &out->err);
    }
    if (rc == 0) {
        log_run(run, ok && rep_err.code == 0 && !rep.error ? NULL : why.data,
                fy_mono_s() - t0);
        out->exit = run->status && strcmp(run->status, "success") == 0
                        ? AGENT_OK
                        : AGENT_JOB_FAILED;
    } else {
        out->exit =
            rc == FERRY_EEXPIRED ? AGENT_LEASE_LOST : agent_exit_code(rc);
    }
    fy_job_report_release(&rep);
    fy_buf_release(&why);
}

/* ---- one run ------------------------------------------------------------ */

/* An empty report file for CMD; path returned in b. */
static int make_report(struct fy_buf *b, struct ferry_err *err)
{
    int fd;

    fy_buf_addf(b, "%s/ferry-report.XXXXXX", fy_tmp_dir(NULL));
    if (fy_buf_error(b))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fd = mkstemp(b->data);
    if (fd < 0)
        return fy_err_set(err, FERRY_EIO, "cannot create '%s': %s", b->data,
                          strerror(errno));
    close(fd);
    return 0;
}

/* CMD from start to end, under the run's lease, then the run recorded. */
static void run_cmd(struct job *j, struct ferry_run *run, double t0,
                    struct outcome *out)
{
    struct fy_buf report = FY_BUF_INIT(0);
    struct watch w = {.pid = -1};
    bool ran = false;
    int rc = make_report(&report, &out->err);

    if (rc == 0 && set_env(run, report.data) < 0)
        rc = fy_err_set(&out->err, FERRY_ENOMEM, "cannot set the environment");
    if (rc == 0 && stop_sig)
        rc = fy_err_set(&out->err, FERRY_EIO,
                        "ferry job run was stopped before %s started",
                        j->cmd_shown);
    if (rc == 0)
        rc = spawn(j->a->cmd, &w.pid, &out->err);
    if (rc == 0) {
        ran = true;
        child_pid = (sig_atomic_t)w.pid;
        if (stop_sig) /* a signal between fork and the line above */
            kill(w.pid, stop_sig);
        supervise(j, run, &w);
        child_pid = 0;
    }
    if (w.lost) {
        out->exit = AGENT_LEASE_LOST;
        fy_err_clear(&out->err);
    } else {
        finish_run(j, run, w.status, ran, report.data, t0, out);
    }
    if (report.len)
        unlink(report.data);
    fy_buf_release(&report);
}

static void one_run(struct job *j, struct outcome *out)
{
    struct ferry_run *run = NULL;
    double t0 = fy_mono_s();
    int rc;

    in_begin = 1;
    if (stop_sig) /* asked just before the flag was set */
        _exit(stop_exit);
    rc = ferry_run_begin(
        j->c, j->a->stream,
        &(struct ferry_run_opts){.instance = j->instance,
                                 .lease_seconds = j->a->lease_s},
        &run, &out->err);
    in_begin = 0;

    if (rc == FERRY_ECONFLICT) {
        struct fy_buf b = FY_BUF_INIT(0);

        agent_add_shown(&b, out->err.msg, 300);
        fy_info("job", "run of %s not started: %s", j->a->stream,
                fy_buf_error(&b) ? "the lease is held" : b.data);
        fy_buf_release(&b);
        fy_err_clear(&out->err);
        out->exit = AGENT_HELD;
        return;
    }
    if (rc < 0) {
        out->exit = agent_exit_code(rc);
        return;
    }
    run_cmd(j, run, t0, out);
    ferry_run_free(run);
}

/* ---- once and --every ---------------------------------------------------- */

static int run_once(struct job *j)
{
    struct outcome out = {0};

    one_run(j, &out);
    if (out.err.code)
        agent_fail(&out.err);
    return out.exit;
}

/* What --every cannot outwait: the key, the config, a refused request. */
static bool fatal(int exit)
{
    return exit == AGENT_AUTH || exit == AGENT_CONFIG || exit == AGENT_USAGE;
}

/* Sleeps until mono time `until`; false when a stop was asked. */
static bool nap_until(double until)
{
    while (!stop_sig) {
        double left = until - fy_mono_s();

        if (left <= 0)
            return true;
        fy_sleep_ms(left < 0.1 ? (int64_t)(left * 1000) + 1 : 100);
    }
    return false;
}

/* A turn of --every that went wrong: logged, the next turn tries again. */
static void warn_turn(const struct job *j, const struct ferry_err *e,
                      double next)
{
    struct fy_buf b = FY_BUF_INIT(0);
    double left = next - fy_mono_s();

    agent_add_shown(&b, e->msg, 400);
    fy_warn("job", "run of %s: %s; next in %.0f s", j->a->stream,
            fy_buf_error(&b) ? "failed" : b.data, left > 0 ? left : 0);
    fy_buf_release(&b);
}

/*
 * A run every DURATION from the start of the one before (at once when a
 * run took longer); a held lease, a failed job, a lost lease or a server
 * that cannot be reached wait for the next turn.
 */
static int run_every(struct job *j)
{
    double next = fy_mono_s();

    for (;;) {
        struct outcome out = {0};

        next += (double)j->a->every_ms / 1000;
        one_run(j, &out);
        if (out.err.code && fatal(out.exit))
            return agent_fail(&out.err);
        if (out.err.code)
            warn_turn(j, &out.err, next);
        if (next < fy_mono_s())
            next = fy_mono_s();
        if (stop_sig || !nap_until(next))
            return AGENT_OK;
    }
}

static int job_run(struct agent_ctx *ctx, int argc, char **argv)
{
    struct fy_job_args a;
    struct ferry_err err = {0};
    struct job j = {.a = &a};
    char host[256] = "";
    struct fy_buf shown = FY_BUF_INIT(sizeof(j.cmd_shown) - 1);
    int rc;

    if (fy_job_args_parse(argc, argv, &a, &err) < 0) {
        fprintf(stderr, "ferry job run: %s (ferry job run --help)\n", err.msg);
        return AGENT_USAGE;
    }
    if (a.help) {
        fputs(job_usage, stdout);
        return AGENT_OK;
    }
    /* The host name says which machine ran it, as a container's id does. */
    if (!a.instance && gethostname(host, sizeof(host) - 1) == 0 && host[0])
        j.instance = host;
    else
        j.instance = a.instance;
    agent_add_shown(&shown, a.cmd[0], 100);
    snprintf(j.cmd_shown, sizeof(j.cmd_shown), "%s",
             fy_buf_error(&shown) ? "CMD" : shown.data);
    fy_buf_release(&shown);
    /* With --every a run gives up after 30 s: the next turn tries again. */
    rc = agent_open_client(ctx, a.every_ms ? 30000 : 300000, &j.c);
    if (rc != 0)
        return rc;
    /* Stopped before a run began: done for --every, nothing ran once. */
    stop_exit = a.every_ms ? AGENT_OK : AGENT_ERROR;
    agent_on_stop(on_signal);
    rc = a.every_ms ? run_every(&j) : run_once(&j);
    ferry_client_free(j.c);
    return rc;
}

int agent_job(struct agent_ctx *ctx, int argc, char **argv)
{
    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(job_usage, stdout);
        return AGENT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "run") != 0)
        return agent_usage_error(job_usage);
    return job_run(ctx, argc - 1, argv + 1);
}
