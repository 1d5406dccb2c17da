/* SPDX-License-Identifier: MIT */
/*
 * JSON documents of `ferry import json` (import/reader.c, the streaming
 * reader, and import/import.c, records to rows) with the mapping of the
 * export-users fixture (six tables: an object, a map, arrays of objects
 * and of scalars, nested): into a new in-memory database with --create
 * and --delete-missing, then the same document again (every row compared
 * with the stored one); a document that fails is read again with
 * --skip-bad --dry-run.
 */
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "import/import.h"
#include "fy.h"

#ifndef FERRY_SOURCE_DIR
#error "FERRY_SOURCE_DIR: the mapping is the e2e fixture"
#endif

static void no_msg(void *ctx, enum fy_import_msg kind, const char *text)
{
    (void)ctx;
    (void)kind;
    (void)text;
}

static int run(sqlite3 *db, const struct fy_import_opts *o)
{
    struct fy_import_result res = {0};
    struct ferry_err err = {0};
    int rc = fy_import_sqlite(db, o, &res, &err);

    /* A copy made is deleted: the next input must find none. */
    if (res.backup)
        unlink(res.backup);
    fy_import_result_release(&res);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fy_mapping *m;
    struct ferry_err err = {0};
    struct fy_import_opts o = {
        .create = true, .delete_missing = true, .msg = no_msg};
    sqlite3 *db = NULL;

    if (!m && fy_mapping_load(FERRY_SOURCE_DIR
                              "/tests/e2e/fixtures/export-users.mapping.json",
                              &m, &err) < 0)
        fuzz_die("mapping", &err);
    o.m = m;
    o.file = fuzz_file("users.json", data, size);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        fuzz_die("sqlite", NULL);
    if (run(db, &o) == 0) {
        (void)run(db, &o);
    } else {
        o.skip_bad = true;
        o.dry_run = true;
        (void)run(db, &o);
    }
    sqlite3_close(db);
    return 0;
}
