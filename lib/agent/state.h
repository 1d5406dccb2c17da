/* SPDX-License-Identifier: MIT */
/*
 * The agent's own state in the app database (_ferry_state): next seq,
 * acknowledged seq, HLC, last push. Kept in the same file as the outbox so
 * one SQLite transaction covers both: the sync cursor cannot be lost or
 * drift from the data, whatever kills the process. Text values hold the
 * pull cursor (opaque text the server handed out).
 */
#ifndef FY_STATE_H
#define FY_STATE_H

#include <stdint.h>

#include <sqlite3.h>

#include "ferry/ferry_err.h"

int fy_state_get_int(sqlite3 *db, const char *key, int64_t def, int64_t *out,
                     struct ferry_err *err);
int fy_state_set_int(sqlite3 *db, const char *key, int64_t v,
                     struct ferry_err *err);

/*
 * Text state: *out is returned owned (fy_free), NULL when the key is
 * absent or NULL. set with v == NULL deletes the key.
 */
int fy_state_get_text(sqlite3 *db, const char *key, char **out,
                      struct ferry_err *err);
int fy_state_set_text(sqlite3 *db, const char *key, const char *v,
                      struct ferry_err *err);

#endif
