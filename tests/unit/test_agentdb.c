/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the agent's tables (lib/agent/agentdb.h): a fresh
 * database and one ferry 0.1 made (tests/e2e/fixtures/app-0.1.sql) end
 * with the same layout; versions are recognised, recorded and never run
 * twice; a failed step leaves the database as it was; a newer schema is
 * refused; the runs history and counts. Real SQLite files in a temp folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "agent/agentdb.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "fy.h"
#include "util/sqlite_err.h"

#ifndef FERRY_SOURCE_DIR
#error "FERRY_SOURCE_DIR is set by tests/unit/CMakeLists.txt"
#endif

struct fx {
    char dir[64];
    char path[128];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-unit-agentdb-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/app.db", fx->dir);
    if (sqlite3_open(fx->path, &fx->db) != SQLITE_OK) {
        sqlite3_close(fx->db);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[160];

    sqlite3_close(fx->db);
    unlink(fx->path);
    snprintf(p, sizeof(p), "%s-journal", fx->path);
    unlink(p);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Loads the 0.1 fixture (what ferry 0.1's init, track and writes left). */
static void load_v01(sqlite3 *db)
{
    char path[512], *sql;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/tests/e2e/fixtures/app-0.1.sql",
             FERRY_SOURCE_DIR);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    sql = calloc(1, (size_t)n + 1);
    assert_non_null(sql);
    assert_int_equal(fread(sql, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every column of ferry's tables, in order, with its type and collation. */
static char *layout(sqlite3 *db)
{
    static const char sql[] =
        "SELECT group_concat(t.name || '.' || c.name || ':' || c.type || ':'"
        " || c.pk, ' ') FROM (SELECT name FROM sqlite_master WHERE type ="
        " 'table' AND name LIKE '\\_ferry\\_%' ESCAPE '\\' ORDER BY name) t,"
        " pragma_table_info(t.name) c";
    sqlite3_stmt *st = NULL;
    char *out;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static void test_fresh(void **state)
{
    struct fx *fx = *state;
    int v = -1;

    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, 0);
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, FY_AGENTDB_SCHEMA);
    /* Tracked names are one table whatever their case. */
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO _ferry_tracked (tbl, tracked_at)"
                                  " VALUES ('Items', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(fx->db,
                                      "INSERT INTO _ferry_tracked (tbl,"
                                      " tracked_at) VALUES ('items', 1)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    /* Current: nothing runs again (a step would fail on its ALTERs). */
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_tracked"), 1);
}

/* A database of ferry 0.1 ends exactly where a fresh one does. */
static void test_from_v01(void **state)
{
    struct fx *fx = *state;
    sqlite3 *fresh = NULL;
    char *want, *got;
    int v = -1;

    load_v01(fx->db);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, FY_AGENTDB_SCHEMA);

    assert_int_equal(sqlite3_open(":memory:", &fresh), SQLITE_OK);
    assert_int_equal(fy_agentdb_init(fresh, NULL), 0);
    want = layout(fresh);
    got = layout(fx->db);
    assert_string_equal(got, want);
    free(want);
    free(got);
    sqlite3_close(fresh);

    /* Every queued change is still there, composite keys spread out. */
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox"), 11);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox WHERE"
                                   " tbl = 'visits' AND pk2 IS NULL"),
                     0);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox WHERE"
                                   " tbl = 'visits' AND pk = '2026-01-02'"
                                   " AND pk2 = 2.5"),
                     2);
    /* The old triggers were replaced: a new write is captured key by key. */
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO visits VALUES ('2026-01-09',"
                                  " 9.5, 9)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox WHERE"
                                   " pk = '2026-01-09' AND pk2 = 9.5"),
                     1);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_tracked WHERE"
                                   " keycols IS NOT NULL"),
                     2);
    assert_int_equal(fy_capture_check(fx->db, NULL, NULL, NULL), 0);
}

/* A database of the build between 0.1 and versions: recognised as 2. */
static void test_unversioned_v2(void **state)
{
    struct fx *fx = *state;
    int v = -1;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "DELETE FROM _ferry_state WHERE key ="
                                  " 'schema'; INSERT INTO _ferry_outbox (tbl,"
                                  " pk, pk2, wall) VALUES ('t', 1, 2, 3)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, 2);
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, FY_AGENTDB_SCHEMA);
    assert_int_equal(q_int(fx->db, "SELECT pk2 FROM _ferry_outbox"), 2);
}

/* A step that fails leaves every earlier step of the run undone too. */
static void test_failed_step_rolls_back(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    int v = -1;

    load_v01(fx->db);
    /* Step 2 adds pk3 to the dead letters: make it fail there. */
    assert_int_equal(sqlite3_exec(fx->db,
                                  "ALTER TABLE _ferry_dead ADD COLUMN pk3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_agentdb_init(fx->db, &err), FERRY_ESTORE);
    assert_non_null(strstr(err.msg, "cannot upgrade"));
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM"
                                   " pragma_table_info('_ferry_outbox') WHERE"
                                   " name = 'pk2'"),
                     0);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox WHERE"
                                   " json_valid(pk) AND json_type(pk) ="
                                   " 'array'"),
                     6);
    assert_int_equal(sqlite3_get_autocommit(fx->db), 1);
}

static void test_newer_refused(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(
        fy_state_set_int(fx->db, "schema", FY_AGENTDB_SCHEMA + 1, NULL), 0);
    assert_int_equal(fy_agentdb_init(fx->db, &err), FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "newer ferry"));
    assert_int_equal(fy_capture_init(fx->db, NULL), FERRY_ECONFIG);
}

static int last_sent(const struct fy_agent_run *r, void *ud)
{
    *(int64_t *)ud = r->sent;
    assert_string_equal(r->status, r->error ? "error" : "ok");
    return 0;
}

static void test_runs_and_counts(void **state)
{
    struct fx *fx = *state;
    int64_t n = -1, sent = -1;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_last_run(fx->db, last_sent, &sent, NULL), 0);
    assert_int_equal(sent, -1); /* none yet: not called */
    for (int i = 1; i <= 1003; i++)
        assert_int_equal(
            fy_agentdb_record_run(
                fx->db,
                &(struct fy_agent_run){.started = i,
                                       .ended = i + 1,
                                       .status = i % 2 ? "ok" : "error",
                                       .sent = i,
                                       .error = i % 2 ? NULL : "refused"},
                NULL),
            0);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_runs"), 1000);
    assert_int_equal(fy_agentdb_last_run(fx->db, last_sent, &sent, NULL), 0);
    assert_int_equal(sent, 1003);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO _ferry_outbox (tbl, pk, wall)"
                                  " VALUES ('t', 1, 1), ('t', 2, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_agentdb_count(fx->db, FY_AGENTDB_OUTBOX, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(fy_agentdb_count(fx->db, FY_AGENTDB_DEAD, &n, NULL), 0);
    assert_int_equal(n, 0);
}

/*
 * Another process holding the write lock is FERRY_EBUSY, the same code the
 * SQLite store gives (one translation, util/sqlite_err.c), so the agent
 * retries instead of failing; a broken statement is not.
 */
static void test_sqlite_errors(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    sqlite3 *other = NULL;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(sqlite3_open(fx->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_state_set_int(fx->db, "k", 1, &err), FERRY_EBUSY);
    assert_true(ferry_err_is_transient(err.code));
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(fy_state_set_int(fx->db, "k", 1, &err), 0);

    assert_int_equal(fy_sqlite_errno(SQLITE_IOERR_WRITE), FERRY_EUNAVAIL);
    assert_int_equal(fy_sqlite_errno(SQLITE_CONSTRAINT_PRIMARYKEY),
                     FERRY_ECONTRACT);
    assert_int_equal(fy_sqlite_errno(SQLITE_LOCKED_SHAREDCACHE), FERRY_EBUSY);
    assert_int_equal(fy_sqlite_errno(SQLITE_CORRUPT), FERRY_ESTORE);
}

/*
 * A database the previous build set up (schema 3) gets the pull's table
 * in place, keeps its queue, and ends laid out as a fresh one.
 */
static void test_from_v3(void **state)
{
    struct fx *fx = *state;
    sqlite3 *fresh = NULL;
    char *want, *got;
    int v = -1;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "DROP TABLE _ferry_seen; UPDATE _ferry_state"
                                  " SET value = 3 WHERE key = 'schema';"
                                  " INSERT INTO _ferry_outbox (tbl, pk, wall)"
                                  " VALUES ('t', 1, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, 3);
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, FY_AGENTDB_SCHEMA);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox"), 1);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO _ferry_seen (tbl, pk) VALUES"
                                  " ('t', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_open(":memory:", &fresh), SQLITE_OK);
    assert_int_equal(fy_agentdb_init(fresh, NULL), 0);
    want = layout(fresh);
    got = layout(fx->db);
    assert_string_equal(got, want);
    free(want);
    free(got);
    sqlite3_close(fresh);
}

/*
 * A database of schema 6 whose triggers parse julianday('now') on every
 * write: step 7 rewrites the tracked tables' triggers only, a stale one
 * stays stale, and writes are still captured with the wall time.
 */
static void test_from_v6(void **state)
{
    struct fx *fx = *state;
    struct fy_track_result res;
    int64_t before = (int64_t)time(NULL) * 1000;
    int v = -1;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "CREATE TABLE a (id INTEGER PRIMARY KEY, x);"
                                  " CREATE TABLE b (id INTEGER PRIMARY KEY);"
                                  " CREATE TABLE other (id);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_capture_track(fx->db, "a", &res, NULL), 0);
    assert_int_equal(fy_capture_track(fx->db, "b", &res, NULL), 0);
    /* What step 6's build left, and a trigger of the app's own. */
    assert_int_equal(
        sqlite3_exec(
            fx->db,
            "CREATE TEMP TABLE old AS SELECT name, replace(sql,"
            " 'julianday()', 'julianday(''now'')') AS sql FROM sqlite_master"
            " WHERE type = 'trigger';"
            " DROP TRIGGER _ferry_ai_a; DROP TRIGGER _ferry_au_a;"
            " DROP TRIGGER _ferry_ad_a; DROP TRIGGER _ferry_ai_b;"
            " DROP TRIGGER _ferry_au_b; DROP TRIGGER _ferry_ad_b;"
            " UPDATE _ferry_state SET value = 6 WHERE key = 'schema';",
            NULL, NULL, NULL),
        SQLITE_OK);
    {
        sqlite3_stmt *st = NULL;

        assert_int_equal(
            sqlite3_prepare_v2(fx->db, "SELECT sql FROM old", -1, &st, NULL),
            SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            assert_int_equal(
                sqlite3_exec(fx->db, (const char *)sqlite3_column_text(st, 0),
                             NULL, NULL, NULL),
                SQLITE_OK);
        sqlite3_finalize(st);
    }
    assert_int_equal(
        sqlite3_exec(fx->db,
                     "DROP TRIGGER _ferry_ad_b; CREATE TRIGGER _ferry_ad_b"
                     " AFTER DELETE ON b BEGIN SELECT julianday('now'); END;"
                     " CREATE TRIGGER _ferry_ai_other AFTER INSERT ON other"
                     " BEGIN SELECT julianday('now'); END; DROP TABLE old",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(fy_capture_check(fx->db, NULL, NULL, NULL), 2);
    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_agentdb_version(fx->db, &v, NULL), 0);
    assert_int_equal(v, FY_AGENTDB_SCHEMA);
    /*
     * a is current again; b's hand-made trigger got the new expression but
     * is still reported; the untracked table's trigger is the app's own.
     */
    assert_int_equal(fy_capture_check(fx->db, NULL, NULL, NULL), 1);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM sqlite_master WHERE"
                                   " sql LIKE '%julianday(''now'')%'"),
                     1);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM sqlite_master WHERE"
                                   " name = '_ferry_ai_other' AND sql LIKE"
                                   " '%julianday(''now'')%'"),
                     1);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM sqlite_master WHERE"
                                   " type = 'trigger' AND name LIKE"
                                   " '\\_ferry\\_a%' ESCAPE '\\'"),
                     7);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "DELETE FROM _ferry_outbox; INSERT INTO a"
                                  " VALUES (1, 'x'); UPDATE a SET id = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(q_int(fx->db, "SELECT count(*) FROM _ferry_outbox"), 3);
    assert_int_equal(
        q_int(fx->db, "SELECT min(wall) FROM _ferry_outbox") >= before, 1);
    assert_int_equal(q_int(fx->db, "SELECT max(wall) FROM _ferry_outbox") <=
                         (int64_t)time(NULL) * 1000 + 1000,
                     1);
}

/* Text state (the pull cursor): absent, set, replaced, deleted. */
static void test_state_text(void **state)
{
    struct fx *fx = *state;
    char *v = NULL;

    assert_int_equal(fy_agentdb_init(fx->db, NULL), 0);
    assert_int_equal(fy_state_get_text(fx->db, "pull_cursor", &v, NULL), 0);
    assert_null(v);
    assert_int_equal(fy_state_set_text(fx->db, "pull_cursor", "c1.2", NULL), 0);
    assert_int_equal(fy_state_set_text(fx->db, "pull_cursor", "c1.3", NULL), 0);
    assert_int_equal(fy_state_get_text(fx->db, "pull_cursor", &v, NULL), 0);
    assert_string_equal(v, "c1.3");
    fy_free(v);
    assert_int_equal(fy_state_set_text(fx->db, "pull_cursor", NULL, NULL), 0);
    assert_int_equal(fy_state_get_text(fx->db, "pull_cursor", &v, NULL), 0);
    assert_null(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_v01, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unversioned_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_step_rolls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_text, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
