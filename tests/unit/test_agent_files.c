/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for files named by rows: the "ferry.files" declaration in the
 * agent's config (lib/core/config.h), hashing and the hash cache's answers
 * (lib/agent/blob.h), and the outbox holding a batch back until its files
 * are stored (lib/capture/outbox.h). Real files and a real SQLite app
 * database with ferry's tables in a temp folder; the uploads themselves
 * run against ferryd in e2e scenarios 225 to 229.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_files_bad, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hash_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_holds, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
