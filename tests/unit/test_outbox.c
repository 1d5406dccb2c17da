/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the outbox's stamps (lib/capture/outbox.h): entries
 * without a stamp get one from their capture time in queue order, entries
 * with one keep it, and the agent's clock moves past them all. A real
 * SQLite file with the agent's tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "agent/agentdb.h"
#include "capture/outbox.h"
#include "core/hlc.h"
#include "fy.h"

static sqlite3 *open_db(char *path, size_t n)
{
    sqlite3 *db = NULL;

    snprintf(path, n, "/tmp/ferry-unit-outbox-%ld.db", (long)getpid());
    unlink(path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(fy_agentdb_init(db, NULL), 0);
    return db;
}

static int64_t hlc_of(sqlite3 *db, int64_t rowid)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT coalesce(hlc, -1) FROM"
                                        " _ferry_outbox WHERE rowid = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, rowid);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/*
 * Three writes (walls 1000, 1000, 900 ms: the clock stepped back) and one
 * already stamped: the three get increasing stamps from their walls, the
 * stamped one keeps its own, the clock ends past all.
 */
static void test_stamp(void **state)
{
    char path[128];
    sqlite3 *db = open_db(path, sizeof(path));
    uint64_t clock = 0, kept = ((uint64_t)5000 << 16) | 7, want = 0;

    (void)state;
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO _ferry_outbox (rowid, tbl, pk, wall) VALUES"
                     " (1, 't', 1, 1000), (2, 't', 2, 1000);"
                     "INSERT INTO _ferry_outbox (rowid, tbl, pk, wall, hlc)"
                     " VALUES (3, 't', 3, 800, 327680007);"
                     "INSERT INTO _ferry_outbox (rowid, tbl, pk, wall) VALUES"
                     " (4, 't', 4, 900)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(fy_outbox_stamp(db, &clock, NULL), 0);
    assert_int_equal(hlc_of(db, 1), (int64_t)fy_hlc_next(&want, 1000));
    assert_int_equal(hlc_of(db, 2), (int64_t)fy_hlc_next(&want, 1000));
    assert_int_equal(hlc_of(db, 3), (int64_t)kept);
    assert_int_equal(hlc_of(db, 4), (int64_t)fy_hlc_next(&want, 900));
    assert_true(hlc_of(db, 2) > hlc_of(db, 1));
    assert_true(hlc_of(db, 4) > hlc_of(db, 2));
    assert_int_equal(clock, want);
    /* Nothing left to stamp: the clock stays. */
    assert_int_equal(fy_outbox_stamp(db, &clock, NULL), 0);
    assert_int_equal(clock, want);
    sqlite3_close(db);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
