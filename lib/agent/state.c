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

int fy_state_get_text(sqlite3 *db, const char *key, char **out,
                      struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int src, rc = 0;

    *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM _ferry_state WHERE key = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(db, key, err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *out = fy_strdup((const char *)sqlite3_column_text(st, 0));
        if (!*out)
            rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    } else if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = state_fail(db, key, err);
    sqlite3_finalize(st);
    return rc;
}

int fy_state_set_text(sqlite3 *db, const char *key, const char *v,
                      struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int src;

    if (sqlite3_prepare_v2(db,
                           v ? "INSERT INTO _ferry_state (key, value) VALUES"
                               " (?1, ?2) ON CONFLICT (key) DO UPDATE SET"
                               " value = excluded.value"
                             : "DELETE FROM _ferry_state WHERE key = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(db, key, err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (v)
        sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? 0 : state_fail(db, key, err);
}
