/* SPDX-License-Identifier: MIT */
/*
 * The wire-code table (include/ferry/ferry_err.h): what ferryd answers for
 * each error code, and how a client reads an answer back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fy.h"

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(ferry_wire_of_err(FERRY_EPARSE), FERRY_WIRE_MALFORMED);
    assert_int_equal(ferry_wire_of_err(FERRY_ENOTFOUND), FERRY_WIRE_NOT_FOUND);
    assert_int_equal(ferry_wire_of_err(FERRY_ECONTRACT),
                     FERRY_WIRE_CONTRACT_VIOLATION);
    assert_int_equal(ferry_wire_status(ferry_wire_of_err(FERRY_ECONFLICT)),
                     409);
    /* No row: transient codes are the store's 503, the rest 500. */
    assert_int_equal(ferry_wire_of_err(FERRY_EBUSY),
                     FERRY_WIRE_STORE_UNAVAILABLE);
    assert_int_equal(ferry_wire_of_err(FERRY_ETIMEDOUT),
                     FERRY_WIRE_STORE_UNAVAILABLE);
    assert_int_equal(ferry_wire_of_err(FERRY_ENOMEM), FERRY_WIRE_INTERNAL);
    assert_string_equal(ferry_wire_name(ferry_wire_of_err(FERRY_EIO)),
                        "internal");
    assert_int_equal(ferry_wire_status(FERRY_WIRE_STORE_UNAVAILABLE), 503);
}

static void test_failure_names_specific_code(void **state)
{
    struct ferry_err err = {0};

    (void)state;
    fy_err_set(&err, FERRY_ENOTFOUND, "no table 'x'");
    assert_int_equal(ferry_wire_of_failure(FERRY_ENOTFOUND, &err),
                     FERRY_WIRE_NOT_FOUND);
    err.wire = FERRY_WIRE_UNKNOWN_TABLE;
    assert_int_equal(ferry_wire_of_failure(FERRY_ENOTFOUND, &err),
                     FERRY_WIRE_UNKNOWN_TABLE);
    /* A new failure forgets the old specific code. */
    fy_err_set(&err, FERRY_ENOTFOUND, "again");
    assert_int_equal(err.wire, FERRY_WIRE_NONE);
    assert_int_equal(ferry_wire_of_failure(FERRY_EPARSE, NULL),
                     FERRY_WIRE_MALFORMED);
}

static void test_every_row_round_trips(void **state)
{
    (void)state;
    for (int w = FERRY_WIRE_NONE + 1; w < FERRY__WIRE_END; w++) {
        const char *name = ferry_wire_name(w);

        assert_int_equal(ferry_wire_lookup(name), w);
        assert_true(ferry_wire_status(w) >= 400);
        assert_true(ferry_wire_status(w) < 600);
        if (ferry_wire_status(w) < 500)
            assert_int_equal(ferry_err_from_wire(ferry_wire_status(w), name),
                             ferry_wire_err(w));
    }
    assert_int_equal(ferry_wire_lookup("no_such_code"), FERRY_WIRE_NONE);
    assert_int_equal(ferry_wire_lookup(NULL), FERRY_WIRE_NONE);
}

static void test_client_reading(void **state)
{
    (void)state;
    assert_int_equal(ferry_err_from_wire(422, "contract_violation"),
                     FERRY_ECONTRACT);
    assert_int_equal(ferry_err_from_wire(409, "conflict"), FERRY_ECONFLICT);
    /* 5xx is the server's failure: always worth a retry. */
    assert_int_equal(ferry_err_from_wire(500, "internal"), FERRY_EUNAVAIL);
    assert_int_equal(ferry_err_from_wire(503, "server_busy"), FERRY_EUNAVAIL);
    assert_int_equal(ferry_err_from_wire(502, NULL), FERRY_EUNAVAIL);
    assert_int_equal(ferry_err_from_wire(429, NULL), FERRY_ERATELIMIT);
    assert_int_equal(ferry_err_from_wire(408, NULL), FERRY_ETIMEDOUT);
    assert_int_equal(ferry_err_from_wire(401, "whatever"), FERRY_EAUTH);
    /* A proxy's 404 page, or a known code with a foreign status. */
    assert_int_equal(ferry_err_from_wire(404, NULL), FERRY_EHTTP);
    assert_int_equal(ferry_err_from_wire(404, "contract_violation"),
                     FERRY_EHTTP);
    assert_true(ferry_err_is_transient(ferry_err_from_wire(500, "internal")));
}

static void test_verdicts(void **state)
{
    static const char *const yes[] = {"contract_violation", "unknown_table",
                                      "forbidden", "malformed",
                                      "body_too_large"};
    static const char *const no[] = {"not_found",    "unauthorized",
                                     "server_busy",  "internal",
                                     "region_scope", "bad_framing"};

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(yes); i++)
        assert_true(ferry_wire_is_verdict(yes[i]));
    for (size_t i = 0; i < FY_ARRAY_LEN(no); i++)
        assert_false(ferry_wire_is_verdict(no[i]));
    assert_false(ferry_wire_is_verdict(NULL));
    assert_false(ferry_wire_is_verdict("<html>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_failure_names_specific_code),
        cmocka_unit_test(test_every_row_round_trips),
        cmocka_unit_test(test_client_reading),
        cmocka_unit_test(test_verdicts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
