/* SPDX-License-Identifier: MIT */
/* SQLite result codes as FERRY_E* codes; see sqlite_err.h. */
#include "util/sqlite_err.h"

#include <errno.h>

#include "fy.h"

int fy_sqlite_errno(int src)
{
    switch (src & 0xff) { /* the primary code of an extended one */
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return FERRY_EBUSY;
    case SQLITE_FULL:
        return FERRY_ENOSPC;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
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

/*
 * SQLite says "disk I/O error" when a full disk stops the WAL index (-shm)
 * from growing (SQLITE_IOERR_SHMSIZE), or a write or a truncate of a file
 * other than the database: only the saved errno tells a full disk apart
 * from a failing one.
 */
bool fy_sqlite_disk_full(sqlite3 *db, int src)
{
    int sys = db ? sqlite3_system_errno(db) : 0;

    if ((src & 0xff) == SQLITE_FULL)
        return true;
    return (src & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT);
}

int fy_sqlite_fail_rc(sqlite3 *db, int src, const char *what,
                      struct ferry_err *err)
{
    const char *file = db ? sqlite3_db_filename(db, "main") : NULL;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(src);

    if (err)
        err->sys = src;
    if (!fy_sqlite_disk_full(db, src))
        return fy_err_set(err, fy_sqlite_errno(src), "%s: %s", what, msg);
    /* The file names the disk, so the reader knows where to make room. */
    if (file && *file)
        return fy_err_set(err, FERRY_ENOSPC,
                          "%s: no space left on the disk of '%s' (%s)", what,
                          file, msg);
    return fy_err_set(err, FERRY_ENOSPC, "%s: no space left on the disk (%s)",
                      what, msg);
}

int fy_sqlite_fail(sqlite3 *db, const char *what, struct ferry_err *err)
{
    return fy_sqlite_fail_rc(db, sqlite3_extended_errcode(db), what, err);
}
