/* SPDX-License-Identifier: MIT */
/*
 * fy_rows_set, the row API's one-row write for other routes (a multipart
 * upload linking its file to a row), against a real SQLite store: created
 * then updated, a PATCH keeps what it does not name and needs a row, and
 * refusals carry the row API's wire codes. The HTTP routes are tested end
 * to end (tests/e2e/scenarios/120-129).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/rows.h"
#include "store/store_int.h"
#include "fy.h"

static const char contract_text[] =
    "{\"version\": 1, \"tables\": ["
    "{\"name\": \"reports\", \"primary_key\": [\"video_id\"], \"columns\": ["
    "{\"name\": \"video_id\", \"type\": \"text\", \"not_null\": true},"
    "{\"name\": \"title\", \"type\": \"text\"},"
    "{\"name\": \"views\", \"type\": \"bigint\"}]},"
    "{\"name\": \"shifts\", \"primary_key\": [\"id\"],"
    " \"region_column\": \"region\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\", \"not_null\": true},"
    "{\"name\": \"region\", \"type\": \"text\"}]}]}";

struct fx {
    char dir[64];
    char url[128];
    struct fy_contract *contract;
    struct fy_store_pool *pool;
    struct fy_api api;
    struct fy_key key;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    *state = fx;
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-rows-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->url, sizeof(fx->url), "sqlite:%s/s.db", fx->dir);
    rc = fy_contract_parse(contract_text, strlen(contract_text), &fx->contract,
                           &err);
    if (rc == 0)
        rc = fy_store_open(fx->url, &st, &err);
    if (rc == 0)
        rc = fy_store_migrate(st, fx->contract, &err);
    fy_store_close(st);
    if (rc == 0)
        rc = fy_store_pool_new(fx->url, 1, &fx->pool, &err);
    if (rc < 0) {
        print_error("setup: %s\n", err.msg);
        return -1;
    }
    fx->api = (struct fy_api){
        .pool = fx->pool, .contract = fx->contract, .pool_wait_ms = 1000};
    fx->key = (struct fy_key){.id = "0123456789abcdef", .device = "nas"};
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char path[128];

    if (!fx)
        return 0;
    fy_store_pool_free(fx->pool);
    fy_contract_free(fx->contract);
    for (const char *f = "s.db\0s.db-wal\0s.db-shm\0"; *f; f += strlen(f) + 1) {
        snprintf(path, sizeof(path), "%s/%s", fx->dir, f);
        unlink(path);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Writes row (JSON text) to table; the outcome, or the wire code on error. */
static int set(struct fx *fx, const char *table, const char *row, bool patch,
               int *wire)
{
    json_t *j = json_loads(row, 0, NULL);
    struct ferry_err err = {0};
    enum fy_row_outcome o = FY_ROW_PENDING;
    int rc;

    assert_non_null(j);
    rc = fy_rows_set(&fx->api, &fx->key, fy_contract_table(fx->contract, table),
                     j, patch, &o, &err);
    json_decref(j);
    *wire = rc < 0 ? err.wire : FERRY_WIRE_NONE;
    return rc < 0 ? rc : (int)o;
}

static int got_cell(const char *const *cols, int n, void *ud)
{
    (void)n;
    snprintf(ud, 64, "%s", cols[0] ? cols[0] : "(null)");
    return 0;
}

/* One column of one report, "(null)" for NULL, "(none)" without a row. */
static const char *cell(struct fx *fx, const char *col, const char *id)
{
    static char out[64];
    char sql[160];
    const struct fy_sql_arg args[] = {FY_SQL_S(id)};
    struct fy_sql_q q = {.sql = sql,
                         .args = args,
                         .nargs = 1,
                         .row = got_cell,
                         .ud = out,
                         .what = "test query"};
    struct fy_store *st = NULL;
    struct ferry_err err = {0};

    snprintf(out, sizeof(out), "(none)");
    snprintf(sql, sizeof(sql), "SELECT %s FROM reports WHERE video_id = $1",
             col);
    assert_int_equal(fy_store_pool_get(fx->pool, 1000, &st, &err), 0);
    assert_int_equal(fy_sql_run(st, &q, &err), 0);
    fy_store_pool_put(fx->pool, st);
    return out;
}

static void test_created_then_updated(void **state)
{
    struct fx *fx = *state;
    int wire;

    assert_int_equal(set(fx, "reports",
                         "{\"video_id\": \"v1\", \"title\": \"a\"}", false,
                         &wire),
                     FY_ROW_CREATED);
    assert_int_equal(set(fx, "reports", "{\"video_id\": \"v1\", \"views\": 3}",
                         false, &wire),
                     FY_ROW_UPDATED);
    /* A POST sets what it names: the title stays. */
    assert_string_equal(cell(fx, "title", "v1"), "a");
    assert_string_equal(cell(fx, "views", "v1"), "3");
    assert_int_equal(set(fx, "reports",
                         "{\"video_id\": \"v1\", \"title\": null}", false,
                         &wire),
                     FY_ROW_UPDATED);
    assert_string_equal(cell(fx, "title", "v1"), "(null)");
    assert_string_equal(cell(fx, "views", "v1"), "3");
}

static void test_patch_needs_a_row(void **state)
{
    struct fx *fx = *state;
    int wire;

    assert_int_equal(
        set(fx, "reports", "{\"video_id\": \"v9\", \"views\": 1}", true, &wire),
        FERRY_ENOTFOUND);
    assert_int_equal(wire, FERRY_WIRE_ROW_NOT_FOUND);
    assert_int_equal(set(fx, "reports", "{\"video_id\": \"v9\", \"views\": 1}",
                         false, &wire),
                     FY_ROW_CREATED);
    assert_int_equal(
        set(fx, "reports", "{\"video_id\": \"v9\", \"views\": 2}", true, &wire),
        FY_ROW_UPDATED);
    assert_string_equal(cell(fx, "views", "v9"), "2");
    assert_string_equal(cell(fx, "views", "v2"), "(none)");
}

static void test_refusals(void **state)
{
    struct fx *fx = *state;
    int wire;

    assert_int_equal(
        set(fx, "reports", "{\"video_id\": \"v2\", \"nope\": 1}", false, &wire),
        FERRY_ECONTRACT);
    assert_int_equal(wire, FERRY_WIRE_UNKNOWN_COLUMN);
    assert_int_equal(set(fx, "reports", "{\"title\": \"no key\"}", true, &wire),
                     FERRY_ECONTRACT);
    assert_int_equal(wire, FERRY_WIRE_MISSING_KEY);
    fx->key.region = "eu";
    assert_int_equal(
        set(fx, "shifts", "{\"id\": 1, \"region\": \"us\"}", false, &wire),
        FERRY_EFORBIDDEN);
    assert_int_equal(wire, FERRY_WIRE_REGION_SCOPE);
    assert_int_equal(set(fx, "shifts", "{\"id\": 1}", false, &wire),
                     FY_ROW_CREATED);
    fx->key.region = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_then_updated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_patch_needs_a_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };

    return cmocka_run_group_tests_name("rows", tests, NULL, NULL);
}
