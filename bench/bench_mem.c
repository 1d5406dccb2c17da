/* SPDX-License-Identifier: MIT */
/*
 * Memory of a process over its life, for bench/run.sh and bench/mem_flat.sh:
 *
 *   bench_mem run MS OUT CMD [ARGS...]
 *       runs CMD, samples /proc/PID/smaps_rollup every MS milliseconds and
 *       writes one line to OUT: "maxrss_kb=A rss_peak_kb=B private_peak_kb=C"
 *       (A: the kernel's peak resident set from wait4, what /usr/bin/time
 *       %M prints; B and C: the largest sampled Rss and Private_Clean +
 *       Private_Dirty, the part no other process shares). Exits with CMD's
 *       status.
 *   bench_mem watch MS PID
 *       prints "seconds rss_kb private_kb" every MS milliseconds until PID
 *       is gone or bench_mem gets SIGTERM.
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fy.h"

struct mem {
    long rss, priv; /* kB */
};

/* Rss and Private_* of /proc/PID/smaps_rollup; -1 once the process is gone. */
static int sample(pid_t pid, struct mem *m)
{
    char path[64], line[256];
    FILE *f;
    long v;

    snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    m->rss = m->priv = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Rss: %ld", &v) == 1)
            m->rss = v;
        else if (sscanf(line, "Private_Clean: %ld", &v) == 1 ||
                 sscanf(line, "Private_Dirty: %ld", &v) == 1)
            m->priv += v;
    }
    fclose(f);
    return m->rss > 0 ? 0 : -1; /* a zombie has an empty rollup */
}

static int cmd_run(long ms, const char *out, char **argv)
{
    struct mem peak = {0}, m;
    struct rusage ru = {0};
    int status = 0;
    pid_t pid = fork();
    FILE *f;

    if (pid < 0)
        return 1;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "bench_mem: cannot run %s\n", argv[0]);
        _exit(127);
    }
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);

        if (r == pid || r < 0)
            break;
        if (sample(pid, &m) == 0) {
            peak.rss = m.rss > peak.rss ? m.rss : peak.rss;
            peak.priv = m.priv > peak.priv ? m.priv : peak.priv;
        }
        fy_sleep_ms(ms);
    }
    f = fopen(out, "w");
    if (!f)
        return 1;
    fprintf(f, "maxrss_kb=%ld rss_peak_kb=%ld private_peak_kb=%ld\n",
            ru.ru_maxrss, peak.rss, peak.priv);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int cmd_watch(long ms, pid_t pid)
{
    struct mem m;
    double t0 = fy_mono_s();

    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    while (!stop && sample(pid, &m) == 0) {
        printf("%.1f %ld %ld\n", fy_mono_s() - t0, m.rss, m.priv);
        fflush(stdout);
        fy_sleep_ms(ms);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long ms = argc > 2 ? strtol(argv[2], NULL, 10) : 0;

    if (argc >= 5 && strcmp(argv[1], "run") == 0 && ms > 0)
        return cmd_run(ms, argv[3], argv + 4);
    if (argc == 4 && strcmp(argv[1], "watch") == 0 && ms > 0)
        return cmd_watch(ms, (pid_t)strtol(argv[3], NULL, 10));
    fprintf(stderr, "usage: see the comment at the top of bench/bench_mem.c\n");
    return 2;
}
