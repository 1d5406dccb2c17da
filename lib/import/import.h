/* SPDX-License-Identifier: MIT */
/*
 * `ferry import json`: a JSON document read record by record
 * (import/reader.h) and turned into rows by its mapping
 * (import/mapping.h), written to an SQLite database in one transaction,
 * only the rows that changed (docs/import.md "What an import writes").
 */
#ifndef FY_IMPORT_H
#define FY_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "import/mapping.h"

/* What an import did (or, --dry-run, would do) to one table. */
struct fy_import_counts {
    uint64_t created, updated, unchanged, deleted;
};

enum fy_import_msg {
    FY_IMPORT_NOTE,    /* "round trip: ...", members outside the collection */
    FY_IMPORT_SKIPPED, /* --skip-bad: a record left out, and why */
    FY_IMPORT_PROBLEM, /* --dry-run: a problem of the document */
    FY_IMPORT_BACKUP   /* where the copy of the file went */
};

typedef void fy_import_msg_fn(void *ctx, enum fy_import_msg kind,
                              const char *text);
typedef void fy_import_progress_fn(void *ctx, uint64_t bytes, uint64_t records);

struct fy_import_opts {
    const struct fy_mapping *m;
    const char *file;
    bool dry_run;        /* read everything, count, write nothing */
    bool create;         /* CREATE TABLE for tables that are missing */
    bool delete_missing; /* delete records the file no longer has */
    bool skip_bad;       /* leave bad records out instead of failing */
    const char *backup;  /* where the copy of file goes; NULL: FILE.backup */
    fy_import_msg_fn *msg;
    fy_import_progress_fn *progress; /* after each record; may be NULL */
    void *ctx;
};

struct fy_import_result {
    struct fy_import_counts *tables; /* m->ntables, in m->tables' order */
    uint64_t records, skipped;
    uint64_t problems; /* --dry-run: bad records seen */
    char *backup;      /* the copy made (NULL: none); owned */
};

/*
 * Imports o->file into db. Bad input (malformed JSON, a wrong type, a
 * duplicate or missing key, a field the mapping does not name) is
 * FERRY_EPARSE with "FILE:LINE: PATH: what" and nothing written (unless
 * skip_bad); a table missing without create, or one the mapping does not
 * fit, FERRY_ECONFIG. The copy of the file is made once the document was
 * read whole, before the commit: a failed import leaves none. res is
 * filled on success and on failure (fy_import_result_release).
 */
int fy_import_sqlite(sqlite3 *db, const struct fy_import_opts *o,
                     struct fy_import_result *res, struct ferry_err *err);
void fy_import_result_release(struct fy_import_result *res);

struct fy_agent;

/*
 * --to URL: the same rows POSTed to ferryd's row API through agent a
 * (network-only), up to 1000 per request and table, every table's batch
 * sent, parents first, whenever one is full; each request retried like a
 * push, with an Idempotency-Key made from its rows. The file is read
 * twice: checked whole first, so bad input sends nothing (skip_bad: the
 * bad records are left out). Not one transaction: what was sent before a
 * failure of ferryd or the network stays, and running the import again
 * finishes it. No deletes (the API lists no rows to compare with), so
 * dry_run, create and delete_missing are refused (FERRY_EINVAL). The
 * copy of the file is made before the first request. res's created and
 * updated are ferryd's answers.
 */
int fy_import_http(struct fy_agent *a, const struct fy_import_opts *o,
                   struct fy_import_result *res, struct ferry_err *err);

/*
 * The SQLite declared type --create gives a column of type t: one that
 * fy_type_from_sqlite maps back to t (integer, which has none, becomes
 * BIGINT).
 */
const char *fy_import_sqlite_type(enum fy_type t);

/*
 * Copies file to backup (NULL: FILE.backup), never overwriting a copy with
 * other content: an equal one is kept, else BACKUP.1, .2, ... is used.
 * *made is the path of the copy (owned), also when an equal one existed.
 */
int fy_import_backup(const char *file, const char *backup, char **made,
                     struct ferry_err *err);

#endif
