/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the ferry command: exit codes and the command table.
 */
#ifndef AGENT_H
#define AGENT_H

/* Exit codes scripts can rely on (docs/commands.md). */
enum agent_exit {
    AGENT_OK = 0,
    AGENT_ERROR = 1,   /* anything else */
    AGENT_USAGE = 2,   /* bad command line */
    AGENT_CONFIG = 3,  /* bad or missing config / database */
    AGENT_AUTH = 4,    /* key missing, refused or out of scope */
    AGENT_TEMPFAIL = 5 /* server unreachable or unavailable; retry later */
};

struct agent_ctx {
    const char *config_path;
    int verbose;
};

int agent_init(struct agent_ctx *ctx, int argc, char **argv);
int agent_track(struct agent_ctx *ctx, int argc, char **argv);
int agent_contract(struct agent_ctx *ctx, int argc, char **argv);
int agent_push(struct agent_ctx *ctx, int argc, char **argv);
int agent_status(struct agent_ctx *ctx, int argc, char **argv);

/* Maps a libferry error code to an exit code. */
int agent_exit_code(int rc);

#endif
