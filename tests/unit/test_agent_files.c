/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for files named by rows: the "ferry.files" declaration in the
 * agent's config (lib/core/config.h), hashing and the hash cache's answers
 * (lib/agent/blob.h), the outbox holding a batch back until its files
 * are stored (lib/capture/outbox.h), and the upload step's answers to a
 * scripted blob server (libmicrohttpd on a loopback port, in this
 * process): a part kept (202) resumed from the offset HEAD reports, a
 * stored blob whose answer was lost, a large file the server holds (no
 * PUT), a cut upload resumed once its offset settles, 413, 422 and 401.
 * Real files and a real SQLite app database with ferry's tables in a temp
 * folder; against ferryd itself in e2e scenarios 225 to 230.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "agent/blob.h"
#include "capture/capture.h"
#include "capture/outbox.h"
#include "core/config.h"
#include "fy.h"

struct fx {
    char dir[64];
    char path[160]; /* scratch: the config file, the database */
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-unit-files-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Loads a config whose ferry section has "files": files (JSON text). */
static int load_files(struct fx *fx, const char *files,
                      struct fy_agent_config *cfg, struct ferry_err *err)
{
    char text[1024];

    snprintf(fx->path, sizeof(fx->path), "%s/config.json", fx->dir);
    snprintf(text, sizeof(text),
             "{\"ingestion\": {\"api\": {\"base_url\": \"http://h\"}},"
             " \"ferry\": {\"database\": \"app.db\", \"device\": \"pc\","
             " \"files\": %s}}",
             files);
    write_file(fx->path, text);
    return fy_agent_config_load(fx->path, cfg, err);
}

static void test_config_files(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};

    assert_int_equal(
        load_files(fx,
                   "[{\"table\": \"screenshots\", \"path_column\": \"path\","
                   " \"blob_column\": \"image_sha256\"},"
                   " {\"table\": \"audio\", \"path_column\": \"file\","
                   " \"blob_column\": \"mp3\"}]",
                   &cfg, &err),
        0);
    assert_int_equal(cfg.nfiles, 2);
    assert_string_equal(cfg.files[0].path_column, "path");
    assert_string_equal(cfg.files[1].blob_column, "mp3");
    assert_ptr_equal(fy_agent_config_file(&cfg, "SCREENSHOTS"), &cfg.files[0]);
    assert_null(fy_agent_config_file(&cfg, "heartbeat"));
    fy_agent_config_release(&cfg);
    assert_int_equal(load_files(fx, "null", &cfg, &err), 0);
    assert_int_equal(cfg.nfiles, 0);
    fy_agent_config_release(&cfg);
}

/* Each bad declaration: FERRY_ECONFIG, and the message says what. */
static void test_config_files_bad(void **state)
{
    static const struct {
        const char *files, *says;
    } bad[] = {
        {"{}", "ferry.files must be an array"},
        {"[\"screenshots\"]", "ferry.files[0] must be an object"},
        {"[{\"table\": \"t\", \"path_column\": \"p\"}]",
         "ferry.files[0] must be an object with"},
        {"[{\"table\": \"t\", \"path_column\": \"p\", \"blob_column\": \"b\","
         " \"x\": 1}]",
         "ferry.files[0] must be an object with"},
        {"[{\"table\": \"t t\", \"path_column\": \"p\", \"blob_column\":"
         " \"b\"}]",
         "ferry.files[0].table must be a table or column name"},
        {"[{\"table\": \"t\", \"path_column\": \"_ferry_x\","
         " \"blob_column\": \"b\"}]",
         "ferry.files[0].path_column must be"},
        {"[{\"table\": \"t\", \"path_column\": \"p\", \"blob_column\": 7}]",
         "ferry.files[0].blob_column must be"},
        {"[{\"table\": \"t\", \"path_column\": \"p\", \"blob_column\":"
         " \"P\"}]",
         "path_column and blob_column must be two columns"},
        {"[{\"table\": \"t\", \"path_column\": \"p\", \"blob_column\": \"b\"},"
         " {\"table\": \"T\", \"path_column\": \"q\", \"blob_column\": \"c\"}]",
         "ferry.files declares table 'T' twice"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        struct fy_agent_config cfg;
        struct ferry_err err = {0};

        assert_int_equal(load_files(fx, bad[i].files, &cfg, &err),
                         FERRY_ECONFIG);
        if (!strstr(err.msg, bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg,
                     bad[i].says);
    }
}

static void test_hash_file(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    char hex[65];
    int64_t size = -1;

    snprintf(fx->path, sizeof(fx->path), "%s/abc", fx->dir);
    write_file(fx->path, "abc");
    assert_int_equal(fy_blob_hash_file(fx->path, hex, &size, &err), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                             "b410ff61f20015ad");
    assert_int_equal(size, 3);
    write_file(fx->path, "");
    assert_int_equal(fy_blob_hash_file(fx->path, hex, &size, &err), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
                             "a495991b7852b855");
    assert_int_equal(size, 0);
    snprintf(fx->path, sizeof(fx->path), "%s/none", fx->dir);
    assert_int_equal(fy_blob_hash_file(fx->path, hex, &size, &err), FERRY_EIO);
    assert_non_null(strstr(err.msg, "cannot read"));
}

/* An app database with ferry's tables and a tracked screenshots table. */
static sqlite3 *open_app(struct fx *fx)
{
    struct fy_track_result res;
    sqlite3 *db = NULL;

    snprintf(fx->path, sizeof(fx->path), "%s/app.db", fx->dir);
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(fy_capture_init(db, NULL), 0);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE screenshots (id INTEGER"
                                  " PRIMARY KEY, path TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fy_capture_track(db, "screenshots", &res, NULL), 0);
    return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

/* Records path as the cache would after storing it: done, as it is now. */
static void cache_done(sqlite3 *db, const char *path, const char *sha)
{
    struct stat sb;
    sqlite3_stmt *st = NULL;

    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT OR REPLACE INTO _ferry_blobs"
                                        " VALUES (?1, ?2, ?3, ?4, 'done', 0,"
                                        " 0)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)sb.st_size);
    sqlite3_bind_int64(st, 3,
                       (sqlite3_int64)sb.st_mtim.tv_sec * 1000000000 +
                           sb.st_mtim.tv_nsec);
    sqlite3_bind_text(st, 4, sha, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static enum fy_file_state check(struct fy_blob_files *f, const char *path,
                                struct fy_file_check *out)
{
    assert_int_equal(fy_blob_files_check(f, path, out, NULL), 0);
    return out->state;
}

/*
 * The cache's answers: missing and not regular are BAD with their code;
 * an unknown file NEEDED (a relative path from the database's folder);
 * stored and unchanged READY; stored then changed NEEDED; stored then
 * deleted READY with the stored hash.
 */
static void test_check(void **state)
{
    struct fx *fx = *state;
    sqlite3 *db = open_app(fx);
    struct fy_file_check c = {.path = FY_BUF_INIT(0)};
    struct fy_blob_files *f = NULL;
    char file[200];
    const char *sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff"
                      "61f20015ad";

    assert_int_equal(fy_blob_files_new(db, fx->path, &f, NULL), 0);
    snprintf(file, sizeof(file), "%s/shot.png", fx->dir);
    assert_int_equal(check(f, file, &c), FY_FILE_BAD);
    assert_string_equal(c.code, "file_missing");
    assert_non_null(strstr(c.why, "does not exist"));
    assert_int_equal(check(f, fx->dir, &c), FY_FILE_BAD);
    assert_string_equal(c.code, "file_not_regular");
    write_file(file, "abc");
    assert_int_equal(check(f, "shot.png", &c), FY_FILE_NEEDED);
    assert_string_equal(c.path.data, file);
    cache_done(db, file, sha);
    assert_int_equal(check(f, file, &c), FY_FILE_READY);
    assert_string_equal(c.sha256, sha);
    write_file(file, "abcd");
    assert_int_equal(check(f, file, &c), FY_FILE_NEEDED);
    cache_done(db, file, sha);
    unlink(file);
    assert_int_equal(check(f, file, &c), FY_FILE_READY);
    assert_string_equal(c.sha256, sha);
    fy_buf_release(&c.path);
    fy_blob_files_free(f);
    sqlite3_close(db);
}

static bool batch_has(const struct fy_batch *b, const char *text)
{
    return strstr(b->body.data, text) != NULL;
}

/*
 * A batch with a row whose file the server lacks lists the file and must
 * wait; once the cache says stored, the same batch carries the hash. A NULL
 * path sends null; a missing file parks its row at once.
 */
static void test_outbox_holds(void **state)
{
    struct fx *fx = *state;
    sqlite3 *db = open_app(fx);
    const struct fy_file_decl decl = {.table = "screenshots",
                                      .path_column = "path",
                                      .blob_column = "image_sha256"};
    const char *sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff"
                      "61f20015ad";
    struct fy_blob_files *f = NULL;
    struct fy_outbox *ob = NULL;
    struct fy_batch b;
    char file[200], sql[400];

    snprintf(file, sizeof(file), "%s/shot.png", fx->dir);
    write_file(file, "abc");
    snprintf(sql, sizeof(sql),
             "INSERT INTO screenshots VALUES (1, '%s'), (2, NULL),"
             " (3, '%s/gone.png')",
             file, fx->dir);
    exec_ok(db, sql);
    assert_int_equal(fy_blob_files_new(db, fx->path, &f, NULL), 0);
    assert_int_equal(fy_outbox_new(db, &ob, NULL), 0);
    fy_outbox_files(ob, &decl, 1, fy_blob_files_check, f);
    fy_batch_init(&b);

    assert_int_equal(fy_outbox_build(ob, "pc", 100, &b, NULL), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.dead_local, 1);
    assert_int_equal(b.nfiles, 1);
    assert_string_equal(b.files[0], file);
    assert_int_equal(b.items[0].file, 0);
    assert_int_equal(b.items[1].file, -1);
    assert_string_equal(b.items[0].table, "screenshots");
    assert_true(batch_has(&b, "\"path\":null,\"image_sha256\":null"));

    cache_done(db, file, sha);
    assert_int_equal(fy_outbox_build(ob, "pc", 100, &b, NULL), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.nfiles, 0);
    assert_true(batch_has(&b, "\"image_sha256\":\"ba7816bf"));
    /* The same seqs: the first build numbered them, and it sent nothing. */
    assert_int_equal(b.items[0].seq, 1);
    assert_int_equal(b.items[1].seq, 2);

    fy_batch_release(&b);
    fy_outbox_free(ob);
    fy_blob_files_free(f);
    sqlite3_close(db);
}

/* ---- the upload step against a scripted blob server ------------------ */

enum mode {
    M_NORMAL, /* as ferryd: offsets checked, stored when whole */
    M_PART,   /* the first PUT keeps cut_at bytes and answers 202 */
    M_LOST,   /* the first PUT stores it all, then answers 503 */
    M_413,    /* every PUT: 413 */
    M_422,    /* every PUT: 422 hash_mismatch */
    M_401     /* every request: 401 */
};

/* One blob's state at the server and what it saw; one test at a time. */
static struct {
    enum mode mode;
    unsigned char *data; /* BIG bytes */
    size_t held, total, cut_at;
    bool complete;
    int puts, heads;
    long last_start; /* the last PUT's Content-Range start, -1 for none */
} srv;

#define BIG (2u << 20)

struct req {
    long start, total;
    size_t got;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    char off[32];
    enum MHD_Result rc;

    snprintf(off, sizeof(off), "%zu", srv.complete ? srv.total : srv.held);
    MHD_add_response_header(r, "Upload-Offset", off);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void parse_range(struct MHD_Connection *c, struct req *q)
{
    const char *v =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Range");
    long end = 0;

    q->start = -1;
    if (v && sscanf(v, "bytes %ld-%ld/%ld", &q->start, &end, &q->total) != 3)
        q->start = -1;
}

/* A PUT's bytes go in at its start when that is what the server holds. */
static void take(struct req *q, const char *data, size_t n)
{
    size_t at = (size_t)(q->start < 0 ? 0 : q->start) + q->got;

    q->got += n;
    if (srv.mode == M_PART && srv.puts == 0 && at + n > srv.cut_at)
        n = at < srv.cut_at ? srv.cut_at - at : 0;
    if (at == srv.held && at + n <= BIG) {
        memcpy(srv.data + at, data, n);
        srv.held += n;
    }
}

static enum MHD_Result finish_put(struct MHD_Connection *c, struct req *q)
{
    bool first = srv.puts++ == 0;

    srv.last_start = q->start;
    if (srv.mode == M_413)
        return reply(c, 413,
                     "{\"error\":{\"code\":\"body_too_large\","
                     "\"message\":\"a blob may have at most 10 bytes\"}}");
    if (srv.mode == M_422)
        return reply(c, 422,
                     "{\"error\":{\"code\":\"hash_mismatch\","
                     "\"message\":\"no match\"}}");
    if (q->total > 0)
        srv.total = (size_t)q->total;
    srv.complete = srv.held == srv.total;
    if (srv.mode == M_LOST && first)
        return reply(c, 503,
                     "{\"error\":{\"code\":\"store_unavailable\","
                     "\"message\":\"lost\"}}");
    return srv.complete ? reply(c, 201, "{}") : reply(c, 202, "{}");
}

static enum MHD_Result on_blob(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    struct req *q = *con_cls;

    (void)cls, (void)url, (void)version;
    if (!q) {
        q = calloc(1, sizeof(*q));
        *con_cls = q;
        if (q)
            parse_range(c, q);
        return q ? MHD_YES : MHD_NO;
    }
    if (*size) {
        take(q, data, *size);
        *size = 0;
        return MHD_YES;
    }
    if (srv.mode == M_401)
        return reply(c, 401,
                     "{\"error\":{\"code\":\"unauthorized\","
                     "\"message\":\"no\"}}");
    if (strcmp(method, "HEAD") == 0) {
        srv.heads++;
        return reply(c, srv.complete ? 200 : 404, "");
    }
    return finish_put(c, q);
}

static void on_blob_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct ufx {
    struct fx base; /* first: setup/teardown's */
    struct MHD_Daemon *d;
    struct fy_agent *a;
    char file[200];
    size_t size;
};

/* A file of n bytes of a known pattern, its hash in sha. */
static void make_file(struct ufx *u, size_t n)
{
    FILE *f;

    snprintf(u->file, sizeof(u->file), "%s/shot.png", u->base.dir);
    f = fopen(u->file, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 7 + i / 251) & 0xff), f);
    assert_int_equal(fclose(f), 0);
    u->size = n;
}

static int usetup(void **state)
{
    struct ufx *u = calloc(1, sizeof(*u));
    const union MHD_DaemonInfo *info;
    struct fy_agent_config cfg = {0};
    sqlite3 *db = NULL;
    char url[64];

    if (!u)
        return -1;
    *state = u;
    snprintf(u->base.dir, sizeof(u->base.dir), "/tmp/ferry-unit-files-XXXXXX");
    if (!mkdtemp(u->base.dir))
        return -1;
    memset(&srv, 0, sizeof(srv));
    srv.data = calloc(1, BIG);
    srv.last_start = -2;
    u->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                            on_blob, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                            on_blob_done, NULL, MHD_OPTION_END);
    info = u->d ? MHD_get_daemon_info(u->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!srv.data || !info)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", info->port);
    snprintf(u->base.path, sizeof(u->base.path), "%s/app.db", u->base.dir);
    if (sqlite3_open(u->base.path, &db) != SQLITE_OK ||
        fy_capture_init(db, NULL) < 0) {
        sqlite3_close(db);
        return -1;
    }
    cfg.base_url = fy_strdup(url);
    cfg.auth_header = fy_strdup("X-Api-Key");
    cfg.timeout_s = 10;
    return fy_agent_new(&cfg, db,
                        &(struct fy_agent_opts){.key = "k-1",
                                                .retry_budget_ms = 3000,
                                                .backoff_base_ms = 2,
                                                .backoff_cap_ms = 2},
                        &u->a, NULL);
}

static int uteardown(void **state)
{
    struct ufx *u = *state;

    fy_agent_free(u->a);
    if (u->d)
        MHD_stop_daemon(u->d);
    free(srv.data);
    return teardown(state);
}

static int upload(struct ufx *u, struct fy_blob_upload *up,
                  struct ferry_err *err)
{
    memset(up, 0, sizeof(*up));
    up->path = u->file;
    return fy_agent_blob_upload(u->a, up, 1, err);
}

static const char *state_of(struct ufx *u)
{
    static char state[16];
    sqlite3_stmt *st = NULL;

    state[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(fy_agent_db(u->a),
                                        "SELECT state FROM _ferry_blobs", -1,
                                        &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(state, sizeof(state), "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return state;
}

static void assert_stored(struct ufx *u)
{
    unsigned char *want = malloc(u->size);
    FILE *f = fopen(u->file, "rb");

    assert_non_null(want);
    assert_non_null(f);
    assert_int_equal(fread(want, 1, u->size, f), u->size);
    fclose(f);
    assert_true(srv.complete);
    assert_int_equal(srv.held, u->size);
    assert_memory_equal(srv.data, want, u->size);
    free(want);
    assert_string_equal(state_of(u), "done");
}

/* 202 after a part: HEAD says how much, and only the rest is sent. */
static void test_upload_part_resumed(void **state)
{
    struct ufx *u = *state;
    struct fy_blob_upload up;

    make_file(u, 40000);
    srv.mode = M_PART;
    srv.cut_at = 16384;
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(up.result, FY_UPLOAD_DONE);
    assert_true(up.sent);
    assert_int_equal(srv.puts, 2);
    assert_int_equal(srv.heads, 1);
    assert_int_equal(srv.last_start, 16384);
    assert_int_equal(up.bytes, 40000 - 16384);
    assert_stored(u);
}

/* Stored, but the answer lost: HEAD says stored, nothing is sent again. */
static void test_upload_answer_lost(void **state)
{
    struct ufx *u = *state;
    struct fy_blob_upload up;

    make_file(u, 30000);
    srv.mode = M_LOST;
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(up.result, FY_UPLOAD_DONE);
    assert_int_equal(srv.puts, 1);
    assert_int_equal(srv.heads, 1);
    assert_stored(u);
}

/* A large file the server holds: asked about, never sent. */
static void test_upload_large_known(void **state)
{
    struct ufx *u = *state;
    struct fy_blob_upload up;

    make_file(u, (3u << 20) / 2);
    srv.mode = M_NORMAL;
    assert_int_equal(upload(u, &up, NULL), 0); /* sends it */
    assert_int_equal(srv.puts, 1);
    assert_int_equal(srv.last_start, 0);
    assert_int_equal(sqlite3_exec(fy_agent_db(u->a),
                                  "UPDATE _ferry_blobs SET state = 'pending'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(upload(u, &up, NULL), 0); /* asks: stored */
    assert_int_equal(up.result, FY_UPLOAD_DONE);
    assert_false(up.sent);
    assert_int_equal(srv.puts, 1);
    assert_int_equal(srv.heads, 2);
    assert_stored(u);
}

/*
 * A large upload cut in an earlier run ('sending'): HEAD until the offset
 * stops moving, then the rest from there.
 */
static void test_upload_resumed_after_kill(void **state)
{
    struct ufx *u = *state;
    struct fy_blob_upload up;
    FILE *f;

    make_file(u, (3u << 20) / 2);
    f = fopen(u->file, "rb");
    assert_non_null(f);
    assert_int_equal(fread(srv.data, 1, 1u << 20, f), 1u << 20);
    fclose(f);
    srv.held = 1u << 20;
    srv.total = u->size;
    srv.mode = M_NORMAL;
    /* The server holds the first MiB: asked first, the rest sent. */
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(srv.last_start, 1 << 20);
    assert_int_equal(up.bytes, (int64_t)u->size - (1 << 20));
    assert_int_equal(srv.heads, 1);
    assert_stored(u);
    /* What a run killed after 1 MiB left: hashed, a PUT begun. */
    srv.held = 1u << 20;
    srv.complete = false;
    srv.heads = 0;
    assert_int_equal(sqlite3_exec(fy_agent_db(u->a),
                                  "UPDATE _ferry_blobs SET state = 'sending'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(srv.heads, 2); /* the offset asked twice: settled */
    assert_int_equal(srv.last_start, 1 << 20);
    assert_stored(u);
}

/* 413 parks (file_too_large); 422 means the file changed; 401 stops. */
static void test_upload_refused(void **state)
{
    struct ufx *u = *state;
    struct fy_blob_upload up;
    struct ferry_err err = {0};

    make_file(u, 5000);
    srv.mode = M_413;
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(up.result, FY_UPLOAD_BAD);
    assert_string_equal(up.code, "file_too_large");
    assert_non_null(strstr(up.why, "over the server's limit: a blob may"));
    srv.mode = M_422;
    assert_int_equal(upload(u, &up, NULL), 0);
    assert_int_equal(up.result, FY_UPLOAD_CHANGED);
    assert_string_equal(state_of(u), "pending");
    srv.mode = M_401;
    assert_int_equal(upload(u, &up, &err), FERRY_EAUTH);
    assert_non_null(strstr(err.msg, "refused the key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_files_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_part_resumed, usetup,
                                        uteardown),
        cmocka_unit_test_setup_teardown(test_upload_answer_lost, usetup,
                                        uteardown),
        cmocka_unit_test_setup_teardown(test_upload_large_known, usetup,
                                        uteardown),
        cmocka_unit_test_setup_teardown(test_upload_resumed_after_kill, usetup,
                                        uteardown),
        cmocka_unit_test_setup_teardown(test_upload_refused, usetup, uteardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
