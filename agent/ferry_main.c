/* SPDX-License-Identifier: MIT */
/*
 * ferry: the agent and command-line tool for edge machines. This file only
 * parses the global options, installs logging and dispatches; each command
 * lives in its own agent_<command>.c and the work itself in libferry.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ferry/ferry.h"

#include "agent.h"

static const char usage[] =
    "usage: ferry [--config FILE] [-v|-q] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  init      add ferry to config.json (or create it) and ferry's tables\n"
    "            to an app database\n"
    "  track     capture changes of tables (--untrack to stop)\n"
    "  contract  print the table contract of the tracked tables\n"
    "  push      send queued changes to ferryd\n"
    "  pull      apply the changes other devices sent to ferryd\n"
    "  sync      push then pull; once, --every DURATION or --watch\n"
    "  status    show outbox depth, acknowledged seq, dead letters\n"
    "  dead      list, retry or drop dead letters (changes push parked)\n"
    "  job       run a job as a tracked run of a stream (job run NAME -- CMD)\n"
    "  cursor    import a stream's cursor from last_sync.txt, or show it\n"
    "  runs      recent runs of tracked streams and devices, from ferryd\n"
    "  export    write a JSON document back from tables (export json)\n"
    "  import    a JSON document into tables (import json FILE)\n"
    "  why       where one row stands, here and on ferryd (why TABLE KEY)\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  agent config (default $FERRY_CONFIG or"
    " ./config.json)\n"
    "  -v, --verbose      debug log lines (-vv: trace)\n"
    "  -q, --quiet        errors only\n"
    "  -h, --help         this text; COMMAND -h or --help for a command\n"
    "  -V, --version      print the version\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 config or database, 4 API key,\n"
    "5 server unreachable (retry later), 6 every change parked, 7 capture\n"
    "broken on a tracked table, 8 lease held by another run, 9 job failed,\n"
    "10 lease lost, 11 contract version not accepted by ferryd\n";

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

static void log_stderr(int level, const char *comp, const char *line, void *ud)
{
    (void)ud;
    fprintf(stderr, "ferry: %s: %s: %s\n", level_names[level], comp, line);
}

int agent_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return AGENT_OK;
    case FERRY_EINVAL:
        return AGENT_USAGE;
    case FERRY_ECONFIG:
    case FERRY_ENOTFOUND:
        return AGENT_CONFIG;
    case FERRY_EAUTH:
    case FERRY_EFORBIDDEN:
        return AGENT_AUTH;
    case FERRY_EVERSION:
        return AGENT_CONTRACT;
    default:
        return ferry_err_is_transient(rc) ? AGENT_TEMPFAIL : AGENT_ERROR;
    }
}

static const struct {
    const char *name;
    int (*fn)(struct agent_ctx *, int, char **);
} commands[] = {
    {"init", agent_init},         {"track", agent_track},
    {"contract", agent_contract}, {"push", agent_push},
    {"status", agent_status},     {"dead", agent_dead},
    {"pull", agent_pull},         {"sync", agent_sync},
    {"job", agent_job},           {"cursor", agent_cursor},
    {"runs", agent_runs},         {"export", agent_export},
    {"import", agent_import},     {"why", agent_why},
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    struct agent_ctx ctx = {.config_path = getenv("FERRY_CONFIG"),
                            .verbose = FERRY_LOG_INFO};
    int c;

    /*
     * SQLite counts every allocation under a global mutex unless told not
     * to; nothing here reads the counts, and they were 8% of the
     * instructions of a push. Before any connection, or it is refused.
     */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    while ((c = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ctx.config_path = optarg;
            break;
        case 'v':
            ctx.verbose++;
            break;
        case 'q':
            ctx.verbose = FERRY_LOG_ERROR;
            break;
        case 'h':
            fputs(usage, stdout);
            return AGENT_OK;
        case 'V':
            printf("ferry %s\n", ferry_version());
            return AGENT_OK;
        default:
            fputs(usage, stderr);
            return AGENT_USAGE;
        }
    }
    if (!ctx.config_path || !*ctx.config_path) /* FERRY_CONFIG= is unset */
        ctx.config_path = "config.json";
    if (ctx.verbose > FERRY_LOG_TRACE)
        ctx.verbose = FERRY_LOG_TRACE;
    ferry_set_log_fn(log_stderr, NULL, ctx.verbose, getenv("FERRY_LOG"));
    if (optind >= argc) {
        fputs(usage, stderr);
        return AGENT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int n = argc - optind;

            optind = 0; /* restart getopt for the command's own options */
            return commands[i].fn(&ctx, n, argv + (argc - n));
        }
    }
    fprintf(stderr, "ferry: unknown command '%s'\n%s", argv[optind], usage);
    return AGENT_USAGE;
}
