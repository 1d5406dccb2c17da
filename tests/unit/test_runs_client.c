/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the client side of tracked runs that need no server
 * (lib/agent/runs.h, include/ferry/ferry_runs.h): the report file a job
 * writes, `ferry job run`'s command line, durations, an old last_sync.txt
 * as a cursor, stream names, the client's own checks, the Ferry-Run token
 * and a config with only its ingestion section. The exchanges with ferryd
 * are covered by e2e scenarios 250-254 against a real server.
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

#include "agent/agent.h"
#include "agent/runs.h"
#include "core/config.h"
#include "fy.h"

/* ---- the report file ---------------------------------------------------- */

static int parse(const char *text, struct fy_job_report *r,
                 struct ferry_err *err)
{
    return fy_job_report_parse(text, strlen(text), r, err);
}

static void test_report_full(void **state)
{
    struct fy_job_report r;
    struct ferry_err err = {0};

    (void)state;
    assert_int_equal(parse("records=17\n"
                           "cursor=2024-01-16T08:00:00.000000\n"
                           "metadata={\"forms\": 3, \"by\": [1, 2]}\n",
                           &r, &err),
                     0);
    assert_int_equal(r.records, 17);
    assert_string_equal(r.cursor, "2024-01-16T08:00:00.000000");
    assert_string_equal(r.metadata, "{\"forms\":3,\"by\":[1,2]}");
    assert_null(r.error);
    fy_job_report_release(&r);
}

static void test_report_empty(void **state)
{
    struct fy_job_report r;

    (void)state;
    /* Nothing written: no cursor (it stays), 0 records. */
    assert_int_equal(fy_job_report_parse("", 0, &r, NULL), 0);
    assert_null(r.cursor);
    assert_null(r.metadata);
    assert_null(r.error);
    assert_int_equal(r.records, 0);
    fy_job_report_release(&r);
}

static void test_report_last_wins(void **state)
{
    struct fy_job_report r;

    (void)state;
    /* Last line of a key wins; empty lines and CRs are nothing. */
    assert_int_equal(parse("cursor=a\r\n\nrecords=1\ncursor=b\r\n\r\n"
                           "records=2",
                           &r, NULL),
                     0);
    assert_string_equal(r.cursor, "b");
    assert_int_equal(r.records, 2);
    fy_job_report_release(&r);
}

static void test_report_values(void **state)
{
    struct fy_job_report r;

    (void)state;
    /* An empty cursor is a cursor; '=' in a value is the value's. */
    assert_int_equal(parse("cursor=\nerror=a=b c\n", &r, NULL), 0);
    assert_string_equal(r.cursor, "");
    assert_string_equal(r.error, "a=b c");
    fy_job_report_release(&r);
    assert_int_equal(parse("records=9007199254740991\n", &r, NULL), 0);
    assert_int_equal(r.records, 9007199254740991LL);
    fy_job_report_release(&r);
    assert_int_equal(parse("cursor=ünïcode ✓\n", &r, NULL), 0);
    assert_string_equal(r.cursor, "ünïcode ✓");
    fy_job_report_release(&r);
}

/* text is refused with a message that holds want. */
static void refused(const char *text, size_t len, const char *want)
{
    struct fy_job_report r;
    struct ferry_err err = {0};

    assert_int_equal(fy_job_report_parse(text, len, &r, &err), FERRY_EPARSE);
    if (!strstr(err.msg, want))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, want);
    fy_job_report_release(&r);
}

static void test_report_refused(void **state)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"records=1\nfoo=bar\n", "line 2: unknown key 'foo'"},
        {"cursor=x\njust text\n", "line 2: not KEY=VALUE"},
        {"=x\n", "line 1: unknown key ''"},
        {"Cursor=x\n", "unknown key 'Cursor'"},
        {"records=-1\n", "line 1: records="},
        {"records=1.5\n", "records="},
        {"records=\n", "records="},
        {"records= 3\n", "records="},
        {"records=9007199254740992\n", "records="},
        {"records=99999999999999999999\n", "records="},
        {"metadata=[1, 2]\n", "line 1: metadata= takes a JSON object"},
        {"metadata={\"a\": 1\n", "metadata= takes a JSON object"},
        {"metadata={\"a\": 1} x\n", "metadata= takes a JSON object"},
        {"metadata={\"a\": 1, \"a\": 2}\n", "metadata= takes a JSON object"},
        {"error=\n", "line 1: error= needs a message"},
        {"cursor=\xff\xfe\n", "line 1: cursor= is not UTF-8"},
        {"error=\xc3\n", "error= is not UTF-8"},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++)
        refused(cases[i].text, strlen(cases[i].text), cases[i].want);
    refused("cursor=a\0b\n", 11, "NUL byte");
}

static void test_report_limits(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    struct fy_job_report r;

    (void)state;
    /* A cursor of 4096 bytes goes; 4097 does not. */
    fy_buf_adds(&b, "cursor=");
    for (int i = 0; i < FY_RUNS_CURSOR_MAX; i++)
        fy_buf_addc(&b, 'c');
    assert_false(fy_buf_error(&b));
    assert_int_equal(fy_job_report_parse(b.data, b.len, &r, NULL), 0);
    assert_non_null(r.cursor);
    assert_int_equal(strlen(r.cursor), FY_RUNS_CURSOR_MAX);
    fy_job_report_release(&r);
    fy_buf_addc(&b, 'c');
    assert_false(fy_buf_error(&b));
    refused(b.data, b.len, "cursor= is over 4096 bytes");
    /* Metadata up to 64 KiB as compact JSON. */
    fy_buf_reset(&b);
    fy_buf_adds(&b, "metadata={\"k\": \"");
    for (int i = 0; i < FY_RUNS_METADATA_MAX; i++)
        fy_buf_addc(&b, 'm');
    fy_buf_adds(&b, "\"}");
    assert_false(fy_buf_error(&b));
    refused(b.data, b.len, "over 64 KiB");
    fy_buf_release(&b);
}

static void write_file(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_report_file(void **state)
{
    char path[] = "/tmp/test_runs_client.XXXXXX";
    struct fy_job_report r;
    struct ferry_err err = {0};
    char *big = calloc(FY_RUNS_REPORT_MAX + 2, 1);
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0 && big);
    close(fd);
    write_file(path, "records=3\n", 10);
    assert_int_equal(fy_job_report_read(path, &r, &err), 0);
    assert_int_equal(r.records, 3);
    fy_job_report_release(&r);
    /* Over 1 MiB is refused before it is parsed. */
    memset(big, '\n', FY_RUNS_REPORT_MAX + 1);
    write_file(path, big, FY_RUNS_REPORT_MAX + 1);
    assert_int_equal(fy_job_report_read(path, &r, &err), FERRY_ETOOBIG);
    fy_job_report_release(&r);
    unlink(path);
    assert_int_equal(fy_job_report_read(path, &r, &err), FERRY_EIO);
    fy_job_report_release(&r);
    free(big);
}

/* ---- the command line --------------------------------------------------- */

/* Parses a command line given as one string of words (no quoting). */
static int job_args(const char *line, struct fy_job_args *a, char **words,
                    struct ferry_err *err)
{
    static char buf[512];
    char *p = buf;
    int n = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    while (*p && n < 31) {
        words[n++] = p;
        p += strcspn(p, " ");
        if (*p)
            *p++ = '\0';
    }
    words[n] = NULL;
    return fy_job_args_parse(n, words, a, err);
}

static void test_job_args_ok(void **state)
{
    struct fy_job_args a;
    struct ferry_err err = {0};
    char *w[32];

    (void)state;
    assert_int_equal(
        job_args("run main_submissions -- python3 job.py -v", &a, w, &err), 0);
    assert_string_equal(a.stream, "main_submissions");
    assert_int_equal(a.every_ms, 0);
    assert_int_equal(a.lease_s, 0);
    assert_null(a.instance);
    assert_string_equal(a.cmd[0], "python3");
    assert_string_equal(a.cmd[1], "job.py");
    /* Options of CMD are CMD's, even ferry's own names. */
    assert_string_equal(a.cmd[2], "-v");
    assert_null(a.cmd[3]);
    assert_int_equal(job_args("run --every 5m s.1 --lease=30 --instance=odk-1"
                              " -- ./x --every 1s",
                              &a, w, &err),
                     0);
    assert_string_equal(a.stream, "s.1");
    assert_int_equal(a.every_ms, 300000);
    assert_int_equal(a.lease_s, 30);
    assert_string_equal(a.instance, "odk-1");
    assert_string_equal(a.cmd[0], "./x");
    assert_string_equal(a.cmd[1], "--every");
    assert_int_equal(
        job_args("run --every=500ms --lease 86400 x -- y", &a, w, &err), 0);
    assert_int_equal(a.every_ms, 500);
    assert_int_equal(a.lease_s, 86400);
    /* --help wins over whatever else is wrong. */
    assert_int_equal(job_args("run --bogus --help", &a, w, &err), 0);
    assert_true(a.help);
}

static void test_job_args_refused(void **state)
{
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"run", "NAME is missing"},
        {"run -- true", "NAME is missing"},
        {"run s", "no command"},
        {"run s --", "no command"},
        {"run s true", "unexpected 'true': the command goes after --"},
        {"run 'bad -- true", "is not a stream name"},
        {"run . -- true", "is not a stream name"},
        {"run .. -- true", "is not a stream name"},
        {"run a/b -- true", "is not a stream name"},
        {"run "
         "a12345678901234567890123456789012345678901234567890123456789012345"
         " -- true",
         "is not a stream name"},
        {"run s --bogus -- true", "unknown option '--bogus'"},
        {"run s -x -- true", "unknown option '-x'"},
        {"run s --every", "--every needs a value"},
        {"run s --every 0s -- true", "--every takes a duration"},
        {"run s --every 5x -- true", "--every takes a duration"},
        {"run s --every -5m -- true", "--every takes a duration"},
        {"run s --every 8d -- true", "--every takes a duration"},
        {"run s --every= -- true", "--every takes a duration"},
        {"run s --lease 0 -- true", "--lease takes seconds"},
        {"run s --lease 86401 -- true", "--lease takes seconds"},
        {"run s --lease 1m -- true", "--lease takes seconds"},
        {"run s --lease=-1 -- true", "--lease takes seconds"},
        {"run s --instance= -- true", "--instance takes 1 to 200"},
        {"run s --everyday 1 -- true", "unknown option '--everyday'"},
    };
    struct fy_job_args a;
    char *w[32];

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        struct ferry_err err = {0};

        assert_int_equal(job_args(cases[i].line, &a, w, &err), FERRY_EINVAL);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].line, err.msg,
                     cases[i].want);
    }
}

static void test_job_instance(void **state)
{
    char name[410], *argv[] = {"run", "s", "--instance", name, "--", "x", NULL};
    struct fy_job_args a;
    struct ferry_err err = {0};

    (void)state;
    /* 200 characters (of two bytes each) go, 201 do not. */
    for (int i = 0; i < 200; i++)
        memcpy(name + (size_t)2 * i, "\xc3\xa9", 2); /* é */
    name[400] = '\0';
    assert_int_equal(fy_job_args_parse(6, argv, &a, &err), 0);
    memcpy(name + 400, "x", 2);
    assert_int_equal(fy_job_args_parse(6, argv, &a, &err), FERRY_EINVAL);
    snprintf(name, sizeof(name), "host\tname");
    assert_int_equal(fy_job_args_parse(6, argv, &a, &err), FERRY_EINVAL);
    snprintf(name, sizeof(name), "bad \xff utf-8");
    assert_int_equal(fy_job_args_parse(6, argv, &a, &err), FERRY_EINVAL);
    snprintf(name, sizeof(name), "odk sync #2 (container 3f2a)");
    assert_int_equal(fy_job_args_parse(6, argv, &a, &err), 0);
}

static void test_duration(void **state)
{
    (void)state;
    assert_int_equal(fy_runs_duration_ms("500ms"), 500);
    assert_int_equal(fy_runs_duration_ms("30s"), 30000);
    assert_int_equal(fy_runs_duration_ms("30"), 30000);
    assert_int_equal(fy_runs_duration_ms("5m"), 300000);
    assert_int_equal(fy_runs_duration_ms("1h"), 3600000);
    assert_int_equal(fy_runs_duration_ms("168h"), 7LL * 86400 * 1000);
    assert_int_equal(fy_runs_duration_ms("169h"), -1);
    assert_int_equal(fy_runs_duration_ms("0"), -1);
    assert_int_equal(fy_runs_duration_ms(""), -1);
    assert_int_equal(fy_runs_duration_ms("s"), -1);
    assert_int_equal(fy_runs_duration_ms(" 5s"), -1);
    assert_int_equal(fy_runs_duration_ms("+5s"), -1);
    assert_int_equal(fy_runs_duration_ms("5 s"), -1);
    assert_int_equal(fy_runs_duration_ms("5d"), -1);
    assert_int_equal(fy_runs_duration_ms("99999999999999999999s"), -1);
    assert_int_equal(fy_runs_duration_ms(NULL), -1);
}

static void test_stream_names(void **state)
{
    (void)state;
    assert_true(ferry_stream_name_valid("main_submissions"));
    assert_true(ferry_stream_name_valid("a.b-c_D9"));
    assert_true(ferry_stream_name_valid("..."));
    assert_true(ferry_stream_name_valid(
        "a123456789012345678901234567890123456789012345678901234567890123"));
    assert_false(ferry_stream_name_valid(
        "a1234567890123456789012345678901234567890123456789012345678901234"));
    assert_false(ferry_stream_name_valid(""));
    assert_false(ferry_stream_name_valid(NULL));
    assert_false(ferry_stream_name_valid("."));
    assert_false(ferry_stream_name_valid(".."));
    assert_false(ferry_stream_name_valid("a b"));
    assert_false(ferry_stream_name_valid("a/b"));
    assert_false(ferry_stream_name_valid("a?b"));
    assert_false(ferry_stream_name_valid("é"));
}

/* ---- last_sync.txt ------------------------------------------------------ */

static void test_timestamps(void **state)
{
    static const char *const good[] = {"2024-01-15T10:30:00.000000",
                                       "2024-01-15",
                                       "2024-01-15 10:30",
                                       "2024-01-15T10:30:00",
                                       "2024-01-15T23:59:59.123456789Z",
                                       "2024-02-29T00:00:00",
                                       "2000-02-29",
                                       "2024-01-15T10:30:00+05:30",
                                       "2024-01-15T10:30:00.5-08:00",
                                       "0001-01-01T00:00"};
    static const char *const bad[] = {"",
                                      "2024",
                                      "2024-1-15",
                                      "2024-01-15T",
                                      "2024-01-15T10",
                                      "2024-13-01",
                                      "2024-00-10",
                                      "2024-01-32",
                                      "2023-02-29",
                                      "1900-02-29",
                                      "2024-04-31",
                                      "2024-01-15T24:00",
                                      "2024-01-15T10:60",
                                      "2024-01-15T10:30:60",
                                      "2024-01-15T10:30:00.",
                                      "2024-01-15t10:30",
                                      "2024-01-15T10:30:00.0000000000",
                                      "2024-01-15T10:30:00Zx",
                                      "2024-01-15T10:30:00+0530",
                                      "2024-01-15T10:30:00+24:00",
                                      "0000-01-01",
                                      " 2024-01-15",
                                      "2024-01-15 ",
                                      "last sync: 2024-01-15",
                                      "1705314600"};

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++) {
        if (!fy_runs_timestamp_valid(good[i]))
            fail_msg("'%s' should be a timestamp", good[i]);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        if (fy_runs_timestamp_valid(bad[i]))
            fail_msg("'%s' should not be a timestamp", bad[i]);
    }
}

/* text as a cursor file: 0 and the cursor, or the refusal holding want. */
static void cursor_file_is(const char *text, size_t len, bool any,
                           const char *cursor, const char *want)
{
    struct ferry_err err = {0};
    char *got = NULL;
    int rc = fy_runs_cursor_text(text, len, any, &got, &err);

    if (cursor) {
        assert_int_equal(rc, 0);
        assert_string_equal(got, cursor);
    } else {
        assert_int_equal(rc, FERRY_EPARSE);
        assert_null(got);
        if (!strstr(err.msg, want))
            fail_msg("message '%s' lacks '%s'", err.msg, want);
    }
    fy_free(got);
}

static void test_cursor_text(void **state)
{
    const char *ts = "2024-01-15T10:30:00.000000";

    (void)state;
    cursor_file_is("2024-01-15T10:30:00.000000\n", 27, false, ts, NULL);
    cursor_file_is("2024-01-15T10:30:00.000000", 26, false, ts, NULL);
    cursor_file_is("2024-01-15T10:30:00.000000\r\n \t\n\n", 32, false, ts,
                   NULL);
    cursor_file_is("", 0, false, NULL, "it is empty");
    cursor_file_is(" \n\n", 3, true, NULL, "it is empty");
    cursor_file_is("2024-01-15\n2024-01-16\n", 22, false, NULL,
                   "more than one line");
    cursor_file_is("2024-01-15\0\n", 12, false, NULL, "NUL byte");
    cursor_file_is("yesterday\n", 10, false, NULL,
                   "'yesterday' is not a date and time");
    cursor_file_is("yesterday\n", 10, true, "yesterday", NULL);
    cursor_file_is(" token 42\n", 10, true, " token 42", NULL);
    cursor_file_is("\xff\xfe\n", 3, true, NULL, "not UTF-8");
}

static void test_cursor_limits(void **state)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char *want;

    (void)state;
    for (int i = 0; i < FY_RUNS_CURSOR_MAX; i++)
        fy_buf_addc(&b, 'x');
    assert_false(fy_buf_error(&b));
    want = fy_strndup(b.data, b.len);
    assert_non_null(want);
    fy_buf_adds(&b, "\n");
    cursor_file_is(b.data, b.len, true, want, NULL);
    fy_free(want);
    fy_buf_reset(&b);
    for (int i = 0; i <= FY_RUNS_CURSOR_MAX; i++)
        fy_buf_addc(&b, 'x');
    assert_false(fy_buf_error(&b));
    cursor_file_is(b.data, b.len, true, NULL, "4097 bytes");
    fy_buf_release(&b);
}

static void test_cursor_file(void **state)
{
    char path[] = "/tmp/test_runs_client.XXXXXX";
    struct ferry_err err = {0};
    char *cursor = NULL, big[2 * FY_RUNS_CURSOR_MAX + 2];
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "2024-01-15T10:30:00.000000\n", 27);
    assert_int_equal(fy_runs_cursor_file(path, false, &cursor, &err), 0);
    assert_string_equal(cursor, "2024-01-15T10:30:00.000000");
    fy_free(cursor);
    /* Over 8 KiB is not a cursor file, even of whitespace after one. */
    memset(big, ' ', sizeof(big));
    for (size_t i = 0; i < 10; i++)
        big[i] = "2024-01-15"[i];
    write_file(path, big, sizeof(big));
    assert_int_equal(fy_runs_cursor_file(path, false, &cursor, &err),
                     FERRY_EPARSE);
    assert_non_null(strstr(err.msg, "larger than a cursor file"));
    unlink(path);
    assert_int_equal(fy_runs_cursor_file(path, false, &cursor, &err),
                     FERRY_EIO);
    assert_null(cursor);
}

/* ---- the client without a server ---------------------------------------- */

static void test_client_checks(void **state)
{
    static const struct {
        const char *url, *key, *header;
    } bad[] = {
        {NULL, "k", NULL},
        {"ftp://h", "k", NULL},
        {"127.0.0.1:8080", "k", NULL},
        {"http://h x", "k", NULL},
        {"http://h", NULL, NULL},
        {"http://h", "", NULL},
        {"http://h", "a b", NULL},
        {"http://h", "a\nX-Evil: 1", NULL},
        {"http://h", "k", "X Api"},
        {"http://h", "k", "X-Api:"},
    };
    struct ferry_client *c = (struct ferry_client *)1;
    struct ferry_err err = {0};

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(
            ferry_client_new(
                &(struct ferry_client_opts){.base_url = bad[i].url,
                                            .key = bad[i].key,
                                            .auth_header = bad[i].header},
                &c, &err),
            FERRY_EINVAL);
        assert_null(c);
    }
    assert_int_equal(ferry_client_new(NULL, &c, &err), FERRY_EINVAL);
    /* A good one costs no request: the connection comes with the first. */
    assert_int_equal(
        ferry_client_new(
            &(struct ferry_client_opts){.base_url = "http://127.0.0.1:1",
                                        .key = "fy_k.secret",
                                        .auth_header = "Authorization"},
            &c, &err),
        0);
    ferry_client_free(c);
    ferry_client_free(NULL);
    ferry_run_free(NULL);
    ferry_free(NULL);
}

/* Calls refused before anything is sent (the port answers nothing). */
static void test_client_refuses_early(void **state)
{
    struct ferry_client *c = NULL;
    struct ferry_run *run = (struct ferry_run *)1;
    struct ferry_err err = {0};
    char *text = (char *)1;

    (void)state;
    assert_int_equal(
        ferry_client_new(
            &(struct ferry_client_opts){.base_url = "http://127.0.0.1:1",
                                        .key = "k",
                                        .retry_budget_ms = -1},
            &c, &err),
        0);
    assert_int_equal(ferry_run_begin(c, "a b", NULL, &run, &err), FERRY_EINVAL);
    assert_null(run);
    assert_int_equal(
        ferry_run_begin(c, "s", &(struct ferry_run_opts){.lease_seconds = -1},
                        &run, &err),
        FERRY_EINVAL);
    assert_int_equal(ferry_run_begin(c, "s",
                                     &(struct ferry_run_opts){.instance = ""},
                                     &run, &err),
                     FERRY_EINVAL);
    assert_int_equal(ferry_cursor_set(c, "s", "", NULL, NULL, &err),
                     FERRY_EINVAL);
    assert_int_equal(ferry_cursor_set(c, "..", "x", NULL, NULL, &err),
                     FERRY_EINVAL);
    assert_int_equal(ferry_status_json(c, NULL, 1001, &text, &err),
                     FERRY_EINVAL);
    assert_null(text);
    /* Nothing listens on port 1: a network error after one attempt. */
    assert_int_equal(ferry_run_begin(c, "s", NULL, &run, &err), FERRY_ENET);
    assert_null(run);
    ferry_client_free(c);
}

/* ---- the Ferry-Run token and a network-only config ---------------------- */

static void test_run_token(void **state)
{
    struct fy_agent_config cfg = {0};
    struct fy_agent *a = NULL;
    char first[FY_AGENT_RUN_TOKEN_LEN + 1];

    (void)state;
    cfg.base_url = fy_strdup("http://127.0.0.1:1");
    cfg.auth_header = fy_strdup("X-Api-Key");
    assert_non_null(cfg.base_url);
    assert_non_null(cfg.auth_header);
    /* No database: a network-only agent. */
    assert_int_equal(
        fy_agent_new(&cfg, NULL, &(struct fy_agent_opts){0}, &a, NULL), 0);
    assert_null(fy_agent_db(a));
    snprintf(first, sizeof(first), "%s", fy_agent_run_token(a));
    assert_int_equal(strlen(first), FY_AGENT_RUN_TOKEN_LEN);
    assert_int_equal(strspn(first, "0123456789abcdef"), FY_AGENT_RUN_TOKEN_LEN);
    assert_int_equal(fy_agent_new_run(a, NULL), 0);
    assert_string_not_equal(first, fy_agent_run_token(a));
    assert_int_equal(strlen(fy_agent_run_token(a)), FY_AGENT_RUN_TOKEN_LEN);
    fy_agent_free(a);
}

static void test_config_network_only(void **state)
{
    char path[] = "/tmp/test_runs_client.XXXXXX";
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    const char *ing = "{\"ingestion\": {\"api\": {\"base_url\":"
                      " \"http://127.0.0.1:8080\", \"auth_env\": \"K\"}}}";
    const char *bad;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    write_file(path, ing, strlen(ing));
    /* Without the flag the agent's sections are required ... */
    assert_int_equal(fy_agent_config_load(path, &cfg, &err), FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "ferry.database"));
    /* ... with it the ingestion section is enough. */
    assert_int_equal(
        fy_agent_config_load_flags(path, FY_CONFIG_NETWORK_ONLY, &cfg, &err),
        0);
    assert_string_equal(cfg.base_url, "http://127.0.0.1:8080");
    assert_string_equal(cfg.auth_env, "K");
    assert_null(cfg.database);
    assert_null(cfg.device);
    fy_agent_config_release(&cfg);
    /* What is there is still checked: a bad device, no URL. */
    bad = "{\"ingestion\": {\"base_url\": \"http://h\"},"
          " \"ferry\": {\"device\": \"a b\"}}";
    write_file(path, bad, strlen(bad));
    assert_int_equal(
        fy_agent_config_load_flags(path, FY_CONFIG_NETWORK_ONLY, &cfg, &err),
        FERRY_ECONFIG);
    write_file(path, "{\"ingestion\": {}}", 17);
    assert_int_equal(
        fy_agent_config_load_flags(path, FY_CONFIG_NETWORK_ONLY, &cfg, &err),
        FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "base_url is missing"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_full),
        cmocka_unit_test(test_report_empty),
        cmocka_unit_test(test_report_last_wins),
        cmocka_unit_test(test_report_values),
        cmocka_unit_test(test_report_refused),
        cmocka_unit_test(test_report_limits),
        cmocka_unit_test(test_report_file),
        cmocka_unit_test(test_job_args_ok),
        cmocka_unit_test(test_job_args_refused),
        cmocka_unit_test(test_job_instance),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_cursor_text),
        cmocka_unit_test(test_cursor_limits),
        cmocka_unit_test(test_cursor_file),
        cmocka_unit_test(test_client_checks),
        cmocka_unit_test(test_client_refuses_early),
        cmocka_unit_test(test_run_token),
        cmocka_unit_test(test_config_network_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
