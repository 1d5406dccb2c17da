/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the ferry command: exit codes and the command table.
 */
#ifndef AGENT_H
#define AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"

/* Exit codes scripts can rely on (docs/commands.md). */
enum agent_exit {
    AGENT_OK = 0,
    AGENT_ERROR = 1,       /* anything else */
    AGENT_USAGE = 2,       /* bad command line */
    AGENT_CONFIG = 3,      /* bad or missing config / database */
    AGENT_AUTH = 4,        /* key missing, refused or out of scope */
    AGENT_TEMPFAIL = 5,    /* server unreachable or unavailable; retry later */
    AGENT_PARKED = 6,      /* every change this run sent was parked */
    AGENT_CAPTURE = 7,     /* capture is broken on a tracked table */
    AGENT_HELD = 8,        /* job run, cursor import: the lease is held */
    AGENT_JOB_FAILED = 9,  /* job run: the job failed, recorded failed */
    AGENT_LEASE_LOST = 10, /* job run: the lease was lost, the job stopped */
    AGENT_CONTRACT = 11    /* ferryd does not accept the contract version */
};

struct agent_ctx {
    const char *config_path;
    int verbose;
    /*
     * Tracked tables whose capture is broken (triggers missing or stale,
     * table renamed or dropped, columns added), found by agent_open() and
     * already reported on stderr. push and status exit AGENT_CAPTURE when
     * it is not zero.
     */
    int capture_problems;
    bool quiet_check; /* agent_open() checks without reporting (track) */
};

/* Prints err's message as "ferry: ..." and returns its exit code. */
int agent_fail(struct ferry_err *err);
/* Prints text to stderr and returns AGENT_USAGE. */
int agent_usage_error(const char *text);
/*
 * Runs handler on SIGTERM and SIGINT (without SA_RESTART: a blocking call
 * returns EINTR, so a loop can look at what the handler set).
 */
void agent_on_stop(void (*handler)(int));
/* Parses a decimal in [lo, hi]; -1 when s is not one. */
int agent_parse_long(const char *s, long lo, long hi, long *out);
/*
 * Loads the config and opens its database (ferry's tables created), then
 * checks every tracked table's capture and reports problems on stderr
 * (ctx->capture_problems). *db and cfg are returned owned: sqlite3_close()
 * and fy_agent_config_release().
 */
int agent_open(struct agent_ctx *ctx, struct fy_agent_config *cfg, sqlite3 **db,
               struct ferry_err *err);

int agent_init(struct agent_ctx *ctx, int argc, char **argv);
int agent_track(struct agent_ctx *ctx, int argc, char **argv);
int agent_contract(struct agent_ctx *ctx, int argc, char **argv);
int agent_push(struct agent_ctx *ctx, int argc, char **argv);
int agent_status(struct agent_ctx *ctx, int argc, char **argv);
int agent_dead(struct agent_ctx *ctx, int argc, char **argv);
int agent_pull(struct agent_ctx *ctx, int argc, char **argv);
int agent_sync(struct agent_ctx *ctx, int argc, char **argv);
int agent_job(struct agent_ctx *ctx, int argc, char **argv);
int agent_cursor(struct agent_ctx *ctx, int argc, char **argv);
int agent_runs(struct agent_ctx *ctx, int argc, char **argv);
int agent_export(struct agent_ctx *ctx, int argc, char **argv);
int agent_import(struct agent_ctx *ctx, int argc, char **argv);
int agent_why(struct agent_ctx *ctx, int argc, char **argv);

struct ferry_client;
struct fy_buf;

/*
 * For the commands of tracked runs (job, cursor, runs), which need only
 * the config's ingestion section and the key: loads the config without
 * ferry.database and ferry.device, takes the key from the environment and
 * builds a runs client with retry_budget_ms (include/ferry/ferry_runs.h).
 * Returns 0 with *c owned (ferry_client_free), else the exit code after
 * saying why on stderr.
 */
int agent_open_client(struct agent_ctx *ctx, int64_t retry_budget_ms,
                      struct ferry_client **c);
/*
 * Appends s escaped for a terminal (fy_escape), cut to at most max
 * characters ("..." ending a cut).
 */
void agent_add_shown(struct fy_buf *b, const char *s, size_t max);

struct fy_buf;
struct fy_pull_stats;
struct fy_push_stats;

/*
 * The API key from the environment variable the config names (borrowed
 * from the environment), or NULL with *rc the exit code after saying why
 * on stderr.
 */
const char *agent_api_key(const struct fy_agent_config *cfg, int *rc);
/*
 * Appends what a push sent, per table, as a monitoring agent's log had it
 * ("pushed 12 heartbeat, 5 website_usage"), and the files it uploaded;
 * nothing when nothing went.
 */
void agent_push_tables(struct fy_buf *b, const struct fy_push_stats *s);
/* Appends the one-line summary of a pull ("pulled N changes ..."). */
void agent_pull_summary(struct fy_buf *b, const struct fy_pull_stats *s);
/* --limit of pull and sync: 1 to 5000; AGENT_USAGE (said) otherwise. */
int agent_parse_pull_limit(const char *cmd, const char *arg, int *limit);

/* Maps a libferry error code to an exit code. */
int agent_exit_code(int rc);

#endif
