/* SPDX-License-Identifier: MIT */
/*
 * Key/value access to _ferry_state; see state.h.
 */
#include "agent/state.h"

#include <stdio.h>

#include "capture/capture.h"
#include "fy.h"
#include "util/sqlite_err.h"

static int state_fail(sqlite3 *db, const char *key, struct ferry_err *err)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "agent state '%s'", key);
    return fy_sqlite_fail(db, msg, err);
}

int fy_state_get_int(sqlite3 *db, const char *key, int64_t def, int64_t *out,
                     struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int src;

    *out = def;
    if (sqlite3_prepare_v2(db, "SELECT value FROM _ferry_state WHERE key = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(db, key, err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return src == SQLITE_ROW || src == SQLITE_DONE ? 0
                                                   : state_fail(db, key, err);
}

int fy_state_set_int(sqlite3 *db, const char *key, int64_t v,
                     struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int src;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO _ferry_state (key, value) VALUES (?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET value ="
                           " excluded.value",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(db, key, err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? 0 : state_fail(db, key, err);
}
