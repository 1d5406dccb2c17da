/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/agent/: the agent object's fields, which its steps
 * (push.c, pull.c, blob.c, runs.c) read directly.
 */
#ifndef FY_AGENT_INT_H
#define FY_AGENT_INT_H

#include "agent/agent.h"
#include "core/backoff.h"

struct fy_agent {
    struct fy_agent_config cfg;  /* owned */
    sqlite3 *db;                 /* owned */
    struct fy_agent_opts o;      /* strings borrowed */
    struct fy_http_client *http; /* made on the first request */
    struct fy_backoff bo;
    struct fy_http_reply rep; /* the last answer */
    long retries;             /* retries so far, every step's */
    /* "Ferry-Run: " and 16 hex digits, sent with every request */
    char run_header[sizeof("Ferry-Run: ") + FY_AGENT_RUN_TOKEN_LEN];
    char contract_header[40]; /* "Ferry-Contract: N", or "" */
};

#endif
