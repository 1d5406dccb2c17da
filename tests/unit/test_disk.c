/* SPDX-License-Identifier: MIT */
/*
 * A full disk is the server's or the device's state, never a row's fault:
 * SQLite's SQLITE_FULL (and an I/O error whose errno is ENOSPC) and
 * PostgreSQL's 53100 become FERRY_ENOSPC, which is transient, answered 503
 * store_unavailable and retried by the agent; never a per-change verdict
 * that parks the row. A temporary file that cannot be written for lack of
 * space is FERRY_ENOSPC too. The end-to-end proof on real full file
 * systems is scenarios 360-362.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store_int.h"
#include "util/sqlite_err.h"
#include "fy.h"

static void test_enospc_is_transient(void **state)
{
    int wire = ferry_wire_of_err(FERRY_ENOSPC);

    (void)state;
    assert_true(ferry_err_is_transient(FERRY_ENOSPC));
    assert_int_equal(wire, FERRY_WIRE_STORE_UNAVAILABLE);
    assert_int_equal(ferry_wire_status(wire), 503);
    assert_false(ferry_wire_flags(wire) & FERRY_WIRE_VERDICT);
    assert_false(ferry_wire_is_verdict(ferry_wire_name(wire)));
    /* The agent reads the answer back as something to retry. */
    assert_true(ferry_err_is_transient(
        ferry_err_from_wire(503, ferry_wire_name(wire))));
    assert_string_equal(ferry_err_name(FERRY_ENOSPC), "ENOSPC");
}

/* A file that cannot be written: only a full disk or quota passes. */
static void test_errno_codes(void **state)
{
    (void)state;
    assert_int_equal(fy_err_of_errno(ENOSPC), FERRY_ENOSPC);
    assert_int_equal(fy_err_of_errno(EDQUOT), FERRY_ENOSPC);
    assert_int_equal(fy_err_of_errno(ENOMEM), FERRY_ENOMEM);
    assert_int_equal(fy_err_of_errno(EIO), FERRY_EIO);
    assert_int_equal(fy_err_of_errno(EACCES), FERRY_EIO);
    assert_false(ferry_err_is_transient(FERRY_EIO));
}

static void test_sqlite_codes(void **state)
{
    (void)state;
    assert_int_equal(fy_sqlite_errno(SQLITE_FULL), FERRY_ENOSPC);
    assert_int_equal(fy_sqlite_errno(SQLITE_IOERR_WRITE), FERRY_EUNAVAIL);
    assert_int_equal(fy_sqlite_errno(SQLITE_IOERR_SHMSIZE), FERRY_EUNAVAIL);
    assert_int_equal(fy_sqlite_errno(SQLITE_CONSTRAINT_UNIQUE),
                     FERRY_ECONTRACT);
    assert_int_equal(fy_sqlite_errno(SQLITE_BUSY), FERRY_EBUSY);
}

/*
 * A real SQLITE_FULL: max_page_count caps the file as a full disk would.
 * The message names the file, so the reader knows which disk to look at.
 */
static void test_sqlite_full(void **state)
{
    char path[] = "/tmp/ferry-test-disk-XXXXXX";
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    int fd = mkstemp(path), rc = SQLITE_OK;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE t (x BLOB);"
                                  " PRAGMA max_page_count = 8",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 100 && rc == SQLITE_OK; i++)
        rc = sqlite3_exec(db, "INSERT INTO t VALUES (randomblob(2000))", NULL,
                          NULL, NULL);
    assert_int_equal(rc, SQLITE_FULL);
    assert_int_equal(fy_sqlite_fail(db, "cannot insert", &err), FERRY_ENOSPC);
    assert_int_equal(err.code, FERRY_ENOSPC);
    assert_int_equal(err.sys, SQLITE_FULL);
    assert_non_null(strstr(err.msg, "cannot insert: no space left on the disk"
                                    " of '"));
    assert_non_null(strstr(err.msg, path));
    /* Without a handle (the file unknown) the words stay. */
    assert_int_equal(fy_sqlite_fail_rc(NULL, SQLITE_FULL, "x", &err),
                     FERRY_ENOSPC);
    assert_string_equal(err.msg,
                        "x: no space left on the disk (database or disk is"
                        " full)");
    sqlite3_close(db);
    unlink(path);
}

static void test_pg_sqlstates(void **state)
{
    static const struct {
        const char *state;
        int code;
    } cases[] = {
        {"53100", FERRY_ENOSPC},    /* disk_full */
        {"53200", FERRY_EUNAVAIL},  /* out_of_memory */
        {"53300", FERRY_EUNAVAIL},  /* too_many_connections */
        {"58030", FERRY_EUNAVAIL},  /* io_error */
        {"58P01", FERRY_EUNAVAIL},  /* undefined_file */
        {"08006", FERRY_EUNAVAIL},  /* connection_failure */
        {"57P01", FERRY_EUNAVAIL},  /* admin_shutdown */
        {"40001", FERRY_EBUSY},     /* serialization_failure */
        {"23505", FERRY_ECONTRACT}, /* unique_violation */
        {"22P02", FERRY_ECONTRACT}, /* invalid_text_representation */
        {"54000", FERRY_ECONTRACT}, /* program_limit_exceeded */
        {"3D000", FERRY_ECONFIG},   /* invalid_catalog_name */
        {"XX000", FERRY_ESTORE},    /* internal_error */
    };

    (void)state;
    assert_int_equal(fy_pg_sqlstate_err(NULL), FERRY_ESTORE);
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        int code = fy_pg_sqlstate_err(cases[i].state);

        if (code != cases[i].code)
            fail_msg("SQLSTATE %s: %s, expected %s", cases[i].state,
                     ferry_err_name(code), ferry_err_name(cases[i].code));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enospc_is_transient),
        cmocka_unit_test(test_errno_codes),
        cmocka_unit_test(test_sqlite_codes),
        cmocka_unit_test(test_sqlite_full),
        cmocka_unit_test(test_pg_sqlstates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
