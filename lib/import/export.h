/* SPDX-License-Identifier: MIT */
/*
 * `ferry export json`: the document a mapping describes, written back from
 * the tables of an SQLite database (docs/import.md "Exporting"). One query
 * per table ordered by its whole key; since a child's key starts with its
 * parent's, one pass merge-joins every child with its parent's rows, and
 * each record is written as it is read: memory does not grow with the
 * document.
 */
#ifndef FY_EXPORT_H
#define FY_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "ferry/ferry_err.h"
#include "import/mapping.h"

enum fy_export_flags {
    FY_EXPORT_COMPACT = (1 << 0) /* one line instead of indent 2 */
};

struct fy_export_stats {
    int64_t records; /* records of the collection */
    int64_t rows;    /* rows read, every table */
    /*
     * Child rows whose parent row does not exist (written by something
     * other than an import): they have no place in the document and are
     * left out; the first such table is named in orphan_table.
     */
    int64_t orphans;
    const char *orphan_table; /* borrowed from the mapping, or NULL */
};

/*
 * Checks that every table and column the mapping names exists in db.
 * FERRY_ECONFIG naming the first one that does not.
 */
int fy_export_check(sqlite3 *db, const struct fy_mapping *m,
                    struct ferry_err *err);

/*
 * Writes the document to out (borrowed, flushed, not closed), reading db
 * in one read transaction (a consistent state while the app writes).
 * stats may be NULL. Errors: FERRY_ECONFIG (fy_export_check),
 * FERRY_EPARSE for a stored value the document cannot hold (a jsonb
 * column that is not JSON, text that is not UTF-8, bytes), naming table,
 * row and column; FERRY_EIO when out cannot be written; SQLite's. After a
 * failure out holds part of a document.
 */
int fy_export_write(sqlite3 *db, const struct fy_mapping *m, FILE *out,
                    int flags, struct fy_export_stats *stats,
                    struct ferry_err *err);

/*
 * fy_export_write to a temp file next to path, fsynced and renamed over
 * path: path holds the whole document or is untouched, even when the
 * process is killed (a killed export leaves its PATH.tmp.XXXXXX).
 */
int fy_export_file(sqlite3 *db, const struct fy_mapping *m, const char *path,
                   int flags, struct fy_export_stats *stats,
                   struct ferry_err *err);

#endif
