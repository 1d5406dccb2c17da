/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for `ferry why` (lib/agent/why.h): the agent's side read from
 * a real SQLite database with capture installed (queued entries and how
 * many are ahead, numbered entries and their batch, dead letters, keys
 * that do not fit), the batch of a stored row found by its HLC, and the
 * sentences for each state of ferryd's answer (GET /v1/trace).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "agent/agentdb.h"
#include "agent/why.h"
#include "capture/capture.h"
#include "fy.h"

static int setup(void **state)
{
    sqlite3 *db = NULL;
    struct fy_track_result res;

    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        fy_capture_init(db, NULL) < 0 ||
        sqlite3_exec(db,
                     "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);"
                     "CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT,"
                     " PRIMARY KEY (a, b))",
                     NULL, NULL, NULL) != SQLITE_OK ||
        fy_capture_track(db, "items", &res, NULL) < 0 ||
        fy_capture_track(db, "pairs", &res, NULL) < 0) {
        sqlite3_close(db);
        return -1;
    }
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* True when one of facts' lines starts with prefix. */
static bool has_line(json_t *facts, const char *prefix)
{
    json_t *f;
    size_t i;

    json_array_foreach(facts, i, f)
    {
        if (strncmp(json_string_value(f), prefix, strlen(prefix)) == 0)
            return true;
    }
    return false;
}

static json_t *facts_of(json_t *local, const char *server_text)
{
    json_t *server = server_text ? json_loads(server_text, 0, NULL) : NULL;
    json_t *facts;

    if (server_text)
        assert_non_null(server);
    facts = fy_why_facts(local, server, "not asked");
    json_decref(server);
    assert_non_null(facts);
    return facts;
}

/* Queued entries: captured, how many ahead; the server not asked. */
static void test_queued(void **state)
{
    sqlite3 *db = *state;
    json_t *local = NULL, *facts;
    struct ferry_err err = {0};

    exec(db, "INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    assert_int_equal(fy_why_local(db, "ITEMS", "2", &local, &err), 0);
    assert_string_equal(json_string_value(json_object_get(local, "table")),
                        "items");
    assert_true(json_is_true(json_object_get(local, "tracked")));
    assert_int_equal(json_array_size(json_object_get(local, "outbox")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(local, "outbox"), 0), "ahead")),
        1);
    facts = facts_of(local, NULL);
    assert_true(has_line(facts, "this device has the row"));
    assert_true(has_line(facts, "captured at 20"));
    assert_true(has_line(facts, "the server's side is missing: not asked"));
    json_decref(facts);
    json_decref(local);
}

/* Numbered entries name their batch; an acknowledged one is found by HLC. */
static void test_batches(void **state)
{
    sqlite3 *db = *state;
    json_t *local = NULL, *facts, *server;
    struct ferry_err err = {0};

    exec(db, "INSERT INTO items VALUES (1, 'a'), (2, 'b');"
             " UPDATE _ferry_outbox SET seq = rowid, hlc = rowid + 65536");
    assert_int_equal(
        fy_agentdb_batch_sent(db,
                              &(struct fy_agentdb_batch){.first_seq = 1,
                                                         .last_seq = 2,
                                                         .changes = 2,
                                                         .first_hlc = 65537,
                                                         .last_hlc = 65538},
                              &err),
        0);
    assert_int_equal(fy_why_local(db, "items", "2", &local, &err), 0);
    facts = facts_of(local, NULL);
    assert_true(has_line(facts, "sent as seq 2 in batch #1 (seqs 1-2, 2"
                                " changes) at 20"));
    json_decref(facts);
    assert_int_equal(fy_agentdb_batch_acked(db, 2, &err), 0);
    server = json_loads("{\"state\": \"stored\", \"row\": {\"origin\":"
                        " \"dev-a\", \"hlc\": \"0000000000010002\"},"
                        " \"device\": {\"name\": \"dev-a\"}}",
                        0, NULL);
    fy_why_join(db, local, server);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(local, "stored_batch"), "acked_seq")),
                     2);
    facts = fy_why_facts(local, server, NULL);
    assert_true(has_line(facts, "that is this device's write: sent in batch"
                                " #1 (seqs 1-2) at"));
    json_decref(facts);
    json_decref(server);
    json_decref(local);
}

/* A dead letter with the server's verdict. */
static void test_dead(void **state)
{
    sqlite3 *db = *state;
    json_t *local = NULL, *facts;
    struct ferry_err err = {0};

    exec(db, "INSERT INTO _ferry_dead (seq, tbl, pk, status, code, message,"
             " at) VALUES (3, 'items', 7, 422, 'missing_value', 'name is"
             " NULL', 1764500000)");
    assert_int_equal(fy_why_local(db, "items", "7", &local, &err), 0);
    facts = facts_of(local, "{\"state\": \"unknown\", \"device\": {\"name\":"
                            " \"dev-a\", \"acked_seq\": 2}}");
    assert_true(has_line(facts, "this device has no row with this key"));
    assert_true(has_line(facts,
                         "parked as dead letter #1 at 2025-11-30T10:53:20.000Z:"
                         " the server refused it (422 missing_value): name is"
                         " NULL"));
    assert_true(has_line(facts, "the server has never stored this key"));
    assert_true(has_line(
        facts,
        "the server has acknowledged this device's changes up to seq 2"));
    json_decref(facts);
    json_decref(local);
}

/* Composite keys as a JSON array; keys that do not fit are refused. */
static void test_keys(void **state)
{
    sqlite3 *db = *state;
    json_t *local = NULL;
    struct ferry_err err = {0};

    exec(db, "INSERT INTO pairs VALUES ('eu', 1, 'x')");
    assert_int_equal(fy_why_local(db, "pairs", "[\"eu\", 1]", &local, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(local, "row"), "v")),
        "x");
    assert_int_equal(json_array_size(json_object_get(local, "outbox")), 1);
    json_decref(local);
    assert_int_equal(fy_why_local(db, "pairs", "eu", &local, &err),
                     FERRY_EINVAL);
    assert_null(local);
    assert_int_equal(fy_why_local(db, "pairs", "[\"eu\"]", &local, &err),
                     FERRY_EINVAL);
    assert_int_equal(fy_why_local(db, "items", "abc", &local, &err),
                     FERRY_EINVAL);
    assert_int_equal(fy_why_local(db, "items", "", &local, &err), FERRY_EINVAL);
    /* A table this device does not have: only the server can say more. */
    assert_int_equal(fy_why_local(db, "nope", "1", &local, &err), 0);
    assert_false(json_is_true(json_object_get(local, "tracked")));
    assert_null(json_object_get(local, "row"));
    json_decref(local);
}

/* The server's states, against the local row. */
static void test_server_states(void **state)
{
    sqlite3 *db = *state;
    json_t *local = NULL, *facts;
    struct ferry_err err = {0};

    exec(db, "INSERT INTO items VALUES (1, 'a'); DELETE FROM _ferry_outbox");
    assert_int_equal(fy_why_local(db, "items", "1", &local, &err), 0);
    facts = facts_of(
        local, "{\"state\": \"stored\", \"table\": \"items\", \"row\":"
               " {\"origin\": \"dev-b\", \"hlc\": \"0000000000020000\","
               " \"values\": {\"id\": 1, \"name\": \"b\"}}, \"device\":"
               " {\"name\": \"dev-a\", \"readable\": true, \"superseded\":"
               " null}}");
    assert_true(has_line(facts, "superseded: the stored version is a newer"
                                " write from device 'dev-b'"));
    json_decref(facts);
    facts = facts_of(local,
                     "{\"state\": \"stored\", \"table\": \"items\", \"row\":"
                     " {\"origin\": \"dev-b\", \"hlc\": \"0000000000020000\","
                     " \"values\": {\"id\": 1, \"name\": \"a\"}}, \"device\":"
                     " {\"name\": \"dev-a\", \"readable\": true}}");
    assert_true(has_line(facts, "this device holds the stored version"));
    json_decref(facts);
    facts = facts_of(
        local, "{\"state\": \"stored\", \"table\": \"items\", \"row\":"
               " {\"origin\": \"dev-b\", \"hlc\": \"0000000000020000\","
               " \"region\": \"r2\", \"values\": {}}, \"device\": {\"name\":"
               " \"dev-a\", \"superseded\": true, \"readable\": false,"
               " \"unreadable_by\": \"region\", \"region\": \"r1\"}}");
    assert_true(has_line(facts, "superseded: this device deleted it"));
    assert_true(has_line(facts, "outside this device's read scope: table"
                                " 'items' is read by region, the row is"
                                " region 'r2''s and this device's key is"
                                " region 'r1''s"));
    json_decref(facts);
    facts = facts_of(local, "{\"state\": \"deleted\", \"tombstone\":"
                            " {\"origin\": \"dev-b\", \"hlc\":"
                            " \"0000000000020000\", \"deleted_at\": \"T\"},"
                            " \"device\": {\"name\": \"dev-a\", \"readable\":"
                            " true}}");
    assert_true(has_line(facts, "deleted on the server by device 'dev-b'"));
    assert_true(has_line(facts, "this device still has the row: its next"
                                " pull deletes it"));
    json_decref(facts);
    json_decref(local);
    assert_int_equal(fy_why_local(db, "items", "9", &local, &err), 0);
    facts = facts_of(local, "{\"state\": \"unknown\", \"device\": {\"name\":"
                            " \"dev-a\"}}");
    assert_true(has_line(facts, "not known anywhere"));
    json_decref(facts);
    json_decref(local);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_states, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
