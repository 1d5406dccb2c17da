/* SPDX-License-Identifier: MIT */
/*
 * One translation of SQLite result codes into FERRY_E* codes, shared by the
 * agent (the app database and its outbox) and the SQLite store, so that a
 * locked database means the same thing on both sides of the wire.
 */
#ifndef FY_SQLITE_ERR_H
#define FY_SQLITE_ERR_H

#include <stdbool.h>

#include <sqlite3.h>

#include "ferry/ferry_err.h"

/*
 * The FERRY_E* for an SQLite (extended) result code:
 *   BUSY, LOCKED         FERRY_EBUSY: another writer holds the lock; retry
 *                        later.
 *   FULL                 FERRY_ENOSPC: the disk is full; retry once there
 *                        is room. Never the data's fault.
 *   CANTOPEN, IOERR      FERRY_EUNAVAIL: the disk, not the data; transient.
 *   CONSTRAINT,          FERRY_ECONTRACT: the data broke a rule of the
 *   MISMATCH, TOOBIG     table; retrying the same data fails again.
 *   NOMEM                FERRY_ENOMEM.
 *   anything else        FERRY_ESTORE.
 */
int fy_sqlite_errno(int src);

/*
 * Records "WHAT: sqlite's message" in err with the code above (err->sys =
 * src) and returns the code. An IOERR whose errno is ENOSPC or EDQUOT is a
 * full disk too (FERRY_ENOSPC), and a full disk's message names the
 * database file. src is the result of the failed call; db's
 * message must still describe it (call before another statement runs).
 */
int fy_sqlite_fail_rc(sqlite3 *db, int src, const char *what,
                      struct ferry_err *err);

/*
 * True when src (db's failed call) means a full disk: SQLITE_FULL, or an
 * I/O error whose errno is ENOSPC or EDQUOT. db may be NULL.
 */
bool fy_sqlite_disk_full(sqlite3 *db, int src);

/* The same for db's most recent error (sqlite3_extended_errcode). */
int fy_sqlite_fail(sqlite3 *db, const char *what, struct ferry_err *err);

#endif
