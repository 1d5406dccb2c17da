/* SPDX-License-Identifier: MIT */
/* SQLite result codes as FERRY_E* codes; see sqlite_err.h. */
#include "util/sqlite_err.h"

#include "fy.h"

int fy_sqlite_errno(int src)
{
    switch (src & 0xff) { /* the primary code of an extended one */
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return FERRY_EBUSY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
        return FERRY_EUNAVAIL;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        return FERRY_ECONTRACT;
    case SQLITE_NOMEM:
        return FERRY_ENOMEM;
    default:
        return FERRY_ESTORE;
    }
}

int fy_sqlite_fail_rc(sqlite3 *db, int src, const char *what,
                      struct ferry_err *err)
{
    if (err)
        err->sys = src;
    return fy_err_set(err, fy_sqlite_errno(src), "%s: %s", what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
}

int fy_sqlite_fail(sqlite3 *db, const char *what, struct ferry_err *err)
{
    return fy_sqlite_fail_rc(db, sqlite3_extended_errcode(db), what, err);
}
