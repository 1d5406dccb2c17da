/* SPDX-License-Identifier: MIT */
/*
 * The doorbell of `ferry sync --watch`: a thread of its own that asks the
 * server, with a long poll (GET /v1/changes?wait=...&limit=1), whether
 * other devices wrote something after the device's pull cursor, so that
 * the watch loop (which keeps pushing local commits within milliseconds)
 * learns of others' changes the moment they commit, not at its next poll.
 * It only rings: the loop's own pull fetches and applies the rows. It
 * never touches the app database; it has its own HTTP client.
 */
#ifndef FY_DOORBELL_H
#define FY_DOORBELL_H

#include <stdbool.h>

#include "ferry/ferry_err.h"

struct fy_doorbell;

/* How long the server holds one question, in seconds. */
#define FY_DOORBELL_WAIT_S 25

/*
 * Starts the thread. Strings are copied; ca_file NULL: the system's CA
 * store (fy_http_client_set_ca). It asks nothing until the first
 * fy_doorbell_cursor(). *out returned owned (fy_doorbell_stop).
 */
int fy_doorbell_start(const char *base_url, const char *ca_file,
                      const char *auth_header, const char *key,
                      struct fy_doorbell **out, struct ferry_err *err);

/*
 * The device's pull cursor after a round (NULL or "": none yet, nothing
 * is asked). A ring waits for the cursor to move before asking again.
 */
void fy_doorbell_cursor(struct fy_doorbell *d, const char *cursor);

/* True once since the last call when it rang (and clears it). */
bool fy_doorbell_rang(struct fy_doorbell *d);

/* Ends the thread (within about a second) and frees d. */
void fy_doorbell_stop(struct fy_doorbell *d);

#endif
