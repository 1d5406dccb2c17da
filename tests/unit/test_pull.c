/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pull step (lib/agent/pull.h) against a real HTTP
 * server (libmicrohttpd on a loopback port, in this process) that answers
 * each request with the next scripted page, and a real app database with
 * ferry's capture triggers: values converted by type, no echo in the
 * outbox, skipped tables, the conflict rule, 410 re-bootstrap resumed after
 * a failure, a page applied whole or not at all, a page too big for the
 * client, and a page made stale by a push acknowledged meanwhile.
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
#include <microhttpd.h>
#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/pull.h"
#include "agent/state.h"
#include "capture/capture.h"
#include "core/hlc.h"
#include "fy.h"

#define MAX_ANSWERS 8

/* What the server answers, request by request, and what it was asked. */
struct script {
    int status[MAX_ANSWERS];
    const char *body[MAX_ANSWERS];
    int n;
    int requests;
    char since[MAX_ANSWERS][64]; /* "-" when absent */
    char limit[MAX_ANSWERS][16];
    const char *db_path; /* for the hook's own connection */
    bool ack_on_first;   /* a push acknowledges during request 1 */
    char *big;           /* an answer larger than the client keeps */
};

static struct script sc;

static enum MHD_Result answer(struct MHD_Connection *c, int status,
                              const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Another process's push acknowledging seq 7 while the page is served. */
static void ack_meanwhile(void)
{
    sqlite3 *db = NULL;

    if (sqlite3_open(sc.db_path, &db) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_exec(db,
                     "INSERT OR REPLACE INTO _ferry_state VALUES"
                     " ('acked_seq', 7)",
                     NULL, NULL, NULL);
    }
    sqlite3_close(db);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    static int marker;
    const char *since, *limit;
    int i;

    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    i = sc.requests++;
    if (i >= MAX_ANSWERS || i >= sc.n)
        return answer(c, 500, "{\"error\":{\"code\":\"internal\"}}");
    since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    snprintf(sc.since[i], sizeof(sc.since[i]), "%s", since ? since : "-");
    snprintf(sc.limit[i], sizeof(sc.limit[i]), "%s", limit ? limit : "-");
    if (i == 0 && sc.ack_on_first)
        ack_meanwhile();
    return answer(c, sc.status[i], sc.body[i]);
}

static void add_answer(int status, const char *body)
{
    sc.status[sc.n] = status;
    sc.body[sc.n++] = body;
}

struct fx {
    struct MHD_Daemon *d;
    struct fy_agent *a;
    char path[64];
    sqlite3 *db; /* borrowed from the agent */
};

static const char app_schema[] =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, ok BOOLEAN,"
    " doc JSON, data BLOB, price REAL, local_only TEXT);"
    "CREATE TABLE heartbeats (id INTEGER PRIMARY KEY, at TEXT);";

static int make_agent(struct fx *fx)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(fx->d, MHD_DAEMON_INFO_BIND_PORT);
    struct fy_agent_config cfg = {0};
    struct fy_track_result res;
    struct ferry_err err = {0};
    sqlite3 *db = NULL;
    char url[64];

    /* The app made its database; WAL as apps that share it use. */
    if (!info || sqlite3_open(fx->path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) !=
            SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    if (fy_capture_open(fx->path, &db, NULL) < 0)
        return -1;
    if (sqlite3_exec(db, app_schema, NULL, NULL, NULL) != SQLITE_OK ||
        fy_capture_init(db, &err) < 0 ||
        fy_capture_track(db, "items", &res, &err) < 0 ||
        fy_capture_track(db, "heartbeats", &res, &err) < 0) {
        fprintf(stderr, "setup: %s %s\n", err.msg, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", info->port);
    cfg.base_url = fy_strdup(url);
    cfg.auth_header = fy_strdup("X-Api-Key");
    cfg.device = fy_strdup("dev-m");
    cfg.timeout_s = 10;
    cfg.batch_size = 10;
    fx->db = db;
    if (!cfg.base_url || !cfg.auth_header || !cfg.device) {
        /* Out of memory (the torture run): no agent, no test. */
        fy_agent_config_release(&cfg);
        sqlite3_close(db);
        return -1;
    }
    return fy_agent_new(&cfg, db,
                        &(struct fy_agent_opts){.key = "k-1",
                                                .retry_budget_ms = 50,
                                                .backoff_base_ms = 2,
                                                .backoff_cap_ms = 2},
                        &fx->a, NULL);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    memset(&sc, 0, sizeof(sc));
    snprintf(fx->path, sizeof(fx->path), "/tmp/test_pull_%d.db", (int)getpid());
    unlink(fx->path);
    sc.db_path = fx->path;
    fx->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                             on_request, NULL, MHD_OPTION_END);
    return fx->d ? make_agent(fx) : -1;
}

/* The WAL's files next to the database. */
static void unlink_wal(const char *path)
{
    char p[80];

    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    fy_agent_free(fx->a);
    MHD_stop_daemon(fx->d);
    unlink(fx->path);
    unlink_wal(fx->path);
    free(sc.big);
    free(fx);
    return 0;
}

static void sql(struct fx *fx, const char *q)
{
    assert_int_equal(sqlite3_exec(fx->db, q, NULL, NULL, NULL), SQLITE_OK);
}

static int64_t q_int(struct fx *fx, const char *q)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(fx->db, q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The first column of q's first row as text, "-" for none or NULL. */
static void q_text(struct fx *fx, const char *q, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(fx->db, q, -1, &st, NULL), SQLITE_OK);
    snprintf(out, n, "-");
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void assert_q(struct fx *fx, const char *q, const char *want)
{
    char got[256];

    q_text(fx, q, got, sizeof(got));
    assert_string_equal(got, want);
}

static int pull(struct fx *fx, struct fy_pull_stats *s)
{
    struct ferry_err err = {0};

    return fy_agent_pull_step(fx->a, &(struct fy_pull_opts){0}, s, &err);
}

/* The page's "tables": items as the store has it, heartbeats device-local. */
#define TABLES                                                                 \
    "\"tables\":{\"items\":{\"key\":[\"id\"],\"types\":{\"id\":\"bigint\","    \
    "\"name\":\"text\",\"ok\":\"boolean\",\"doc\":\"jsonb\",\"data\":"         \
    "\"bytea\",\"price\":\"double precision\",\"region\":\"text\"}},"          \
    "\"heartbeats\":{\"key\":[\"device\",\"id\"],\"types\":{\"device\":"       \
    "\"text\",\"id\":\"bigint\",\"at\":\"text\"}},\"others\":{\"key\":"        \
    "[\"id\"],\"types\":{\"id\":\"bigint\"}}}"

#define UPSERT(id, hlc, origin, rest)                                          \
    "{\"table\":\"items\",\"op\":\"upsert\",\"hlc\":\"" hlc                    \
    "\",\"origin\":\"" origin "\",\"row\":{\"id\":" #id rest "}}"
#define DELETE(id, hlc)                                                        \
    "{\"table\":\"items\",\"op\":\"delete\",\"hlc\":\"" hlc                    \
    "\",\"origin\":\"dev-x\",\"row\":{\"id\":" #id "}}"
#define PAGE(changes, cursor, more)                                            \
    "{\"changes\":[" changes "]," TABLES ",\"cursor\":\"" cursor               \
    "\",\"more\":" more "}"

#define H1 "0000000100000000"
#define H2 "0000000200000000"

/*
 * Values come in by type, columns the local table lacks are dropped, a
 * delete removes its row, and the triggers' entries for it all are gone.
 */
static void test_apply(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;
    int64_t hlc = 0;

    sql(fx, "INSERT INTO items (id, name) VALUES (2, 'old');"
            " DELETE FROM _ferry_outbox");
    add_answer(
        200,
        PAGE(
            UPSERT(
                1, H1, "dev-x",
                ",\"name\":\"a\\u00e9\",\"ok\":true,\"doc\":"
                "{\"x\":[1,2.5]},\"data\":\"AAEC\",\"price\":"
                "8,\"region\":\"r1\"") "," DELETE(2,
                                                  H2) ","
                                                      "{\"table\":"
                                                      "\"heartbeats\",\"op\":"
                                                      "\"upsert\","
                                                      "\"hlc\":\"" H1
                                                      "\",\"origin\":\"dev-x\","
                                                      "\"row\":"
                                                      "{\"device\":\"dev-x\","
                                                      "\"id\":1,\"at\":\"t\"}}",
            "c1", "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_int_equal(s.pages, 1);
    assert_int_equal(s.changes, 3);
    assert_int_equal(s.applied, 1);
    assert_int_equal(s.deleted, 1);
    assert_int_equal(s.skipped, 1);
    assert_string_equal(sc.since[0], "-");
    assert_string_equal(sc.limit[0], "1000");
    assert_q(fx,
             "SELECT name || '|' || ok || '|' || doc || '|' || hex(data)"
             " || '|' || typeof(price) || price FROM items WHERE id = 1",
             "a\xc3\xa9|1|{\"x\":[1,2.5]}|000102|real8.0");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM items"), 1);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM heartbeats"), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_outbox"), 0);
    assert_q(fx, "SELECT value FROM _ferry_state WHERE key = 'pull_cursor'",
             "c1");
    assert_int_equal(fy_state_get_int(fx->db, "hlc", 0, &hlc, NULL), 0);
    assert_true((uint64_t)hlc >= 0x0000000200000000ull);

    /* The next pull goes on from the cursor. */
    add_answer(200, PAGE("", "c1", "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_string_equal(sc.since[1], "c1");
    assert_int_equal(s.full, false);
}

/* "more": the next page at once, from the cursor of the last. */
static void test_pages(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    add_answer(200, PAGE(UPSERT(1, H1, "dev-x", ""), "c/1 +", "true"));
    add_answer(200, PAGE(UPSERT(2, H1, "dev-x", ""), "c2", "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_int_equal(s.pages, 2);
    assert_int_equal(s.applied, 2);
    assert_true(s.full);
    assert_string_equal(sc.since[1], "c/1 +"); /* sent encoded */
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_outbox"), 0);
}

/*
 * A key with a local change not pushed yet is decided as the store will:
 * by (hlc, origin); the loser's version is gone on both sides.
 */
static void test_conflicts(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    sql(fx, "INSERT INTO items (id, name) VALUES (10, 'l10'), (11, 'l11'),"
            " (12, 'l12'), (13, 'l13');"
            /* 11, 12 and 13 were numbered with small stamps; 10 is not. */
            "UPDATE _ferry_outbox SET seq = pk, hlc = 1 << 32 WHERE pk IN"
            " (11, 12, 13);");
    add_answer(
        200,
        PAGE(
            UPSERT(10, H2, "dev-x", ",\"name\":\"p10\"") "," UPSERT(
                11, H2, "dev-x",
                ",\"name\":\"p11\"") "," UPSERT(12, H1, "dev-z",
                                                ",\"name\":\"p12\"") "," UPSERT(13,
                                                                                H1,
                                                                                "dev-a",
                                                                                ",\"name\":\"p13\""),
            "c1", "false"));
    assert_int_equal(pull(fx, &s), 0);
    /* 10: numbered now its stamp is today's, newer than 2 s after 1970. */
    assert_q(fx,
             "SELECT group_concat(name, ',') FROM (SELECT name FROM items"
             " ORDER BY id)",
             "l10,p11,p12,l13");
    assert_int_equal(s.kept_local, 2);
    assert_int_equal(s.lost_local, 2);
    assert_int_equal(s.applied, 2);
    assert_q(fx,
             "SELECT group_concat(pk, ',') FROM (SELECT pk FROM"
             " _ferry_outbox ORDER BY pk)",
             "10,13");
}

/*
 * 410: a full pass that counts as complete. Interrupted (a refused key
 * here), it goes on from where it was; at its end the rows it did not send
 * and nobody changed locally are deleted.
 */
static void test_rebootstrap(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    sql(fx, "INSERT INTO items (id, name) VALUES (20, 'a'), (21, 'b'),"
            " (22, 'c'); DELETE FROM _ferry_outbox;"
            "UPDATE items SET name = 'c2' WHERE id = 22;"
            "INSERT INTO _ferry_state VALUES ('pull_cursor', 'old')");
    add_answer(410, "{\"error\":{\"code\":\"cursor_expired\",\"message\":"
                    "\"too old\"}}");
    add_answer(200,
               PAGE(UPSERT(20, H1, "dev-x", ",\"name\":\"a\""), "f1", "true"));
    add_answer(401, "{\"error\":{\"code\":\"unauthorized\",\"message\":"
                    "\"no\"}}");
    assert_int_equal(pull(fx, &s), FERRY_EAUTH);
    assert_true(s.rebootstrap);
    assert_string_equal(sc.since[0], "old");
    assert_string_equal(sc.since[1], "-");
    assert_string_equal(sc.since[2], "f1");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM items"), 3);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_seen"), 1);

    sc.n = sc.requests = 0;
    add_answer(200, PAGE("", "f2", "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_string_equal(sc.since[0], "f1");
    assert_true(s.rebootstrap);
    assert_int_equal(s.removed, 1);
    assert_q(fx,
             "SELECT group_concat(id || name, ',') FROM (SELECT * FROM"
             " items ORDER BY id)",
             "20a,22c2");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_seen"), 0);
    assert_int_equal(q_int(fx, "SELECT value FROM _ferry_state WHERE key ="
                               " 'pull_rebootstrap'"),
                     0);
    /* Only 22's own change is queued: the removal was no change of ours. */
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_outbox"), 1);
}

/* A change that cannot be applied leaves the whole page undone. */
static void test_page_atomic(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    add_answer(200, PAGE(UPSERT(30, H1, "dev-x", "") "," UPSERT(
                             31, H1, "dev-x", ",\"data\":\"%%%\""),
                         "c1", "false"));
    assert_int_equal(pull(fx, &s), FERRY_EPARSE);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM items"), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_outbox"), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_state WHERE key ="
                               " 'pull_cursor'"),
                     0);
    assert_int_equal(s.pages, 0);
}

/* An answer cut at the client's limit is asked for again, smaller. */
static void test_too_big(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;
    size_t n = (1u << 20) + 100;

    sc.big = malloc(n + 1);
    assert_non_null(sc.big);
    memset(sc.big, ' ', n);
    sc.big[0] = '{';
    sc.big[n] = '\0';
    add_answer(200, sc.big);
    add_answer(200, PAGE(UPSERT(1, H1, "dev-x", ""), "c1", "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_string_equal(sc.limit[1], "500");
    assert_int_equal(s.applied, 1);
}

/*
 * A push acknowledged while the page was on its way: the page may predate
 * this device's own newer rows, so it is asked for again.
 */
static void test_stale_page(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    sc.ack_on_first = true;
    add_answer(200, PAGE(UPSERT(1, H1, "dev-x", ",\"name\":\"stale\""), "c1",
                         "false"));
    add_answer(200, PAGE(UPSERT(1, H1, "dev-x", ",\"name\":\"fresh\""), "c1",
                         "false"));
    assert_int_equal(pull(fx, &s), 0);
    assert_int_equal(sc.requests, 2);
    assert_int_equal(s.pages, 1);
    assert_q(fx, "SELECT name FROM items", "fresh");
}

/* Not ferryd's answer (a proxy's 404): an error, nothing applied. */
static void test_not_ferryd(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;

    add_answer(404, "<html>no</html>");
    assert_int_equal(pull(fx, &s), FERRY_EHTTP);
    /* A 200 that is no page is retried like a network error, never used. */
    add_answer(200, "{\"changes\":[]}");
    assert_true(pull(fx, &s) < 0);
    assert_true(sc.requests > 2);
    assert_int_equal(s.pages, 0);
}

/*
 * An app write made before a pull keeps the stamp of when it was made: a
 * page that raises the clock far ahead does not make that older edit beat
 * a newer one from another device arriving in the next page.
 */
static void test_stamped_before_observe(void **state)
{
    struct fx *fx = *state;
    struct fy_pull_stats s;
    char h_ahead[FY_HLC_STRLEN + 1], h_newer[FY_HLC_STRLEN + 1];
    static char page1[1024], page2[1024];
    int64_t now = fy_now_ms();

    sql(fx, "INSERT INTO items (id, name) VALUES (40, 'l40')");
    /* The local edit was made a second ago. */
    assert_int_equal(sqlite3_exec(fx->db,
                                  "UPDATE _ferry_outbox SET wall ="
                                  " CAST((julianday('now') - 2440587.5) *"
                                  " 86400000.0 AS INTEGER) - 1000",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    fy_hlc_format((uint64_t)(now + 60000) << 16, h_ahead);
    fy_hlc_format((uint64_t)(now - 500) << 16, h_newer);
    snprintf(page1, sizeof(page1),
             PAGE("{\"table\":\"items\",\"op\":\"upsert\",\"hlc\":"
                  "\"%s\",\"origin\":\"dev-x\",\"row\":{\"id\":41}}",
                  "c1", "true"),
             h_ahead);
    snprintf(page2, sizeof(page2),
             PAGE("{\"table\":\"items\",\"op\":\"upsert\",\"hlc\":"
                  "\"%s\",\"origin\":\"dev-x\",\"row\":{\"id\":40,"
                  "\"name\":\"p40\"}}",
                  "c2", "false"),
             h_newer);
    add_answer(200, page1);
    add_answer(200, page2);
    assert_int_equal(pull(fx, &s), 0);
    assert_int_equal(s.pages, 2);
    assert_int_equal(s.lost_local, 1);
    assert_q(fx, "SELECT name FROM items WHERE id = 40", "p40");
    /* No echo of row 40, though the entry it would reuse was dropped. */
    assert_int_equal(q_int(fx, "SELECT count(*) FROM _ferry_outbox"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_ferryd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stamped_before_observe, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
