/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for `ferry export json` (lib/import/export.h) and its writer
 * (lib/import/jsonw.h): a mapping built by hand (as the parser would), an
 * in-memory SQLite database, and the exact text written: layout, values
 * per type, key order, omit_null, children merged by key, orphans, bad
 * stored values, the schema check, and the file replaced whole; and the
 * mapping --infer proposes (lib/import/infer.h) for small documents.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "import/export.h"
#include "import/infer.h"
#include "import/jsonw.h"
#include "fy.h"

/* ---- the mapping of docs/import.md's first import, by hand --------------
 *
 * users (email) columns avd_name, created-at -> created_at (omit_null),
 * active boolean, score double, rest extra; children reading_settings
 * (object), preferences (map, jsonb, omit_null), recent_books (array of
 * objects, with notes: array of text), tags (array of text).
 */
static char *users_key[] = {"email"};
static char *one_key[] = {"user_email"};
static char *pref_key[] = {"user_email", "name"};
static char *book_key[] = {"user_email", "position"};
static char *note_key[] = {"user_email", "position", "idx"};
static enum fy_type t1[] = {FY_T_TEXT};
static enum fy_type t2[] = {FY_T_TEXT, FY_T_BIGINT};
static enum fy_type t2t[] = {FY_T_TEXT, FY_T_TEXT};
static enum fy_type t3[] = {FY_T_TEXT, FY_T_BIGINT, FY_T_BIGINT};

static struct fy_map_col users_cols[] = {
    {.field = "avd_name", .column = "avd_name", .type = FY_T_TEXT},
    {.field = "created-at",
     .column = "created_at",
     .type = FY_T_TEXT,
     .omit_null = true},
    {.field = "active", .column = "active", .type = FY_T_BOOLEAN},
    {.field = "score", .column = "score", .type = FY_T_DOUBLE},
    {.field = "budget", .column = "budget", .type = FY_T_NUMERIC},
};
static struct fy_map_col rs_cols[] = {
    {.field = "theme", .column = "theme", .type = FY_T_TEXT},
    {.field = "font_size", .column = "font_size", .type = FY_T_BIGINT},
};
static struct fy_map_col book_cols[] = {
    {.field = "asin", .column = "asin", .type = FY_T_TEXT},
    {.field = "progress", .column = "progress", .type = FY_T_DOUBLE},
};

static struct fy_map_table users, rs, prefs, books, notes, tags;
static struct fy_map_table *users_children[] = {&rs, &prefs, &books, &tags};
static struct fy_map_table *book_children[] = {&notes};
static struct fy_map_table *all_tables[] = {&users, &rs,    &prefs,
                                            &books, &notes, &tags};
static struct fy_mapping mapping = {
    .object_collection = true, .tables = all_tables, .ntables = 6};

static void build_mapping(void)
{
    users = (struct fy_map_table){.kind = FY_MAP_ROOT,
                                  .table = "users",
                                  .key_cols = users_key,
                                  .key_types = t1,
                                  .nkey = 1,
                                  .disc_column = "email",
                                  .cols = users_cols,
                                  .ncols = 5,
                                  .rest_column = "extra",
                                  .children = users_children,
                                  .nchildren = 4};
    rs = (struct fy_map_table){.kind = FY_MAP_OBJECT,
                               .table = "reading_settings",
                               .field = "reading_settings",
                               .parent = &users,
                               .key_cols = one_key,
                               .key_types = t1,
                               .nkey = 1,
                               .nparent_key = 1,
                               .cols = rs_cols,
                               .ncols = 2};
    prefs = (struct fy_map_table){.kind = FY_MAP_MAP,
                                  .table = "user_preferences",
                                  .field = "preferences",
                                  .parent = &users,
                                  .key_cols = pref_key,
                                  .key_types = t2t,
                                  .nkey = 2,
                                  .nparent_key = 1,
                                  .disc_column = "name",
                                  .value_column = "value",
                                  .value_type = FY_T_JSONB,
                                  .omit_null = true};
    books = (struct fy_map_table){.kind = FY_MAP_ARRAY,
                                  .table = "recent_books",
                                  .field = "recent_books",
                                  .parent = &users,
                                  .key_cols = book_key,
                                  .key_types = t2,
                                  .nkey = 2,
                                  .nparent_key = 1,
                                  .disc_column = "position",
                                  .cols = book_cols,
                                  .ncols = 2,
                                  .children = book_children,
                                  .nchildren = 1};
    notes = (struct fy_map_table){.kind = FY_MAP_ARRAY,
                                  .table = "book_notes",
                                  .field = "notes",
                                  .parent = &books,
                                  .key_cols = note_key,
                                  .key_types = t3,
                                  .nkey = 3,
                                  .nparent_key = 2,
                                  .disc_column = "idx",
                                  .value_column = "note",
                                  .value_type = FY_T_TEXT,
                                  .omit_null = true};
    tags = (struct fy_map_table){.kind = FY_MAP_ARRAY,
                                 .table = "tags",
                                 .field = "tags",
                                 .parent = &users,
                                 .key_cols = book_key,
                                 .key_types = t2,
                                 .nkey = 2,
                                 .nparent_key = 1,
                                 .disc_column = "position",
                                 .value_column = "tag",
                                 .value_type = FY_T_TEXT};
    mapping.path = NULL;
    mapping.npath = 0;
    mapping.object_collection = true;
}

static const char schema[] =
    "CREATE TABLE users (email TEXT PRIMARY KEY, avd_name TEXT,"
    " created_at TEXT, active BOOLEAN, score DOUBLE PRECISION,"
    " budget NUMERIC, extra TEXT);"
    "CREATE TABLE reading_settings (user_email TEXT PRIMARY KEY, theme TEXT,"
    " font_size BIGINT);"
    "CREATE TABLE user_preferences (user_email TEXT, name TEXT, value TEXT,"
    " PRIMARY KEY (user_email, name));"
    "CREATE TABLE recent_books (user_email TEXT, position BIGINT, asin TEXT,"
    " progress DOUBLE PRECISION, PRIMARY KEY (user_email, position));"
    "CREATE TABLE book_notes (user_email TEXT, position BIGINT, idx BIGINT,"
    " note TEXT, PRIMARY KEY (user_email, position, idx));"
    "CREATE TABLE tags (user_email TEXT, position BIGINT, tag TEXT,"
    " PRIMARY KEY (user_email, position));";

static const char rows[] =
    "INSERT INTO users VALUES ('b@x.org', 'KindleAVD_b', NULL, 0, 1.0,"
    " '12345678901234567890.25', NULL);"
    "INSERT INTO users VALUES ('a@x.org', 'KindleAVD_ä \"q\"', '2025-03-01',"
    " 1, 0.42, 7, '{\"legacy\": [1, {\"x\": null}], \"avd_name\": 9}');"
    "INSERT INTO reading_settings VALUES ('a@x.org', 'dark', 12);"
    "INSERT INTO user_preferences VALUES ('a@x.org', 'startup', '\"lib\"'),"
    " ('a@x.org', 'sort', '{\"by\":\"title\"}'),"
    " ('a@x.org', 'Z', '[]');"
    "INSERT INTO recent_books VALUES ('a@x.org', 10, 'B10', 1e-05),"
    " ('a@x.org', 2, 'B02', NULL), ('b@x.org', 0, 'B00', 0.5);"
    "INSERT INTO book_notes VALUES ('a@x.org', 2, 1, 'two'),"
    " ('a@x.org', 2, 0, 'one');"
    /* No parent user: left out, counted. */
    "INSERT INTO book_notes VALUES ('0@x.org', 0, 0, 'orphan');"
    "INSERT INTO tags VALUES ('aa@x.org', 0, 'orphan'),"
    " ('b@x.org', 0, 'new');";

static const char want_pretty[] =
    "{\n"
    "  \"a@x.org\": {\n"
    "    \"avd_name\": \"KindleAVD_ä \\\"q\\\"\",\n"
    "    \"created-at\": \"2025-03-01\",\n"
    "    \"active\": true,\n"
    "    \"score\": 0.42,\n"
    "    \"budget\": 7,\n"
    "    \"reading_settings\": {\n"
    "      \"theme\": \"dark\",\n"
    "      \"font_size\": 12\n"
    "    },\n"
    "    \"preferences\": {\n"
    "      \"Z\": [],\n"
    "      \"sort\": {\n"
    "        \"by\": \"title\"\n"
    "      },\n"
    "      \"startup\": \"lib\"\n"
    "    },\n"
    "    \"recent_books\": [\n"
    "      {\n"
    "        \"asin\": \"B02\",\n"
    "        \"progress\": null,\n"
    "        \"notes\": [\n"
    "          \"one\",\n"
    "          \"two\"\n"
    "        ]\n"
    "      },\n"
    "      {\n"
    "        \"asin\": \"B10\",\n"
    "        \"progress\": 1e-05\n"
    "      }\n"
    "    ],\n"
    "    \"tags\": [],\n"
    "    \"legacy\": [\n"
    "      1,\n"
    "      {\n"
    "        \"x\": null\n"
    "      }\n"
    "    ]\n"
    "  },\n"
    "  \"b@x.org\": {\n"
    "    \"avd_name\": \"KindleAVD_b\",\n"
    "    \"active\": false,\n"
    "    \"score\": 1.0,\n"
    "    \"budget\": 1.2345678901234567e+19,\n"
    "    \"reading_settings\": null,\n"
    "    \"recent_books\": [\n"
    "      {\n"
    "        \"asin\": \"B00\",\n"
    "        \"progress\": 0.5\n"
    "      }\n"
    "    ],\n"
    "    \"tags\": [\n"
    "      \"new\"\n"
    "    ]\n"
    "  }\n"
    "}\n";

/*
 * Every file a test writes goes under one folder, removed after the last
 * test even when some failed (allocation fault injection fails them).
 */
static char tmp_root[64];

static int make_root(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/test_export.XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *sb, int type,
                      struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int remove_root(void **state)
{
    (void)state;
    return nftw(tmp_root, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static sqlite3 *open_db(const char *more)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
    if (more)
        assert_int_equal(sqlite3_exec(db, more, NULL, NULL, NULL), SQLITE_OK);
    build_mapping();
    return db;
}

/* Exports db into a string (caller free()s); rc into *rc. */
static char *export_text(sqlite3 *db, int flags, int *rc,
                         struct fy_export_stats *st, struct ferry_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    *rc = fy_export_write(db, &mapping, f, flags, st, err);
    fclose(f);
    return text;
}

static void test_pretty_document(void **state)
{
    sqlite3 *db = open_db(NULL);
    struct fy_export_stats st;
    struct ferry_err err = {0};
    int rc;
    char *text = export_text(db, 0, &rc, &st, &err);

    (void)state;
    assert_int_equal(rc, 0);
    assert_string_equal(text, want_pretty);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.orphans, 2);
    assert_non_null(st.orphan_table);
    free(text);
    sqlite3_close(db);
}

static void test_compact(void **state)
{
    sqlite3 *db = open_db("DELETE FROM users WHERE email = 'a@x.org'");
    struct ferry_err err = {0};
    int rc;
    char *text = export_text(db, FY_EXPORT_COMPACT, &rc, NULL, &err);

    (void)state;
    assert_int_equal(rc, 0);
    assert_string_equal(
        text, "{\"b@x.org\":{\"avd_name\":\"KindleAVD_b\",\"active\":false,"
              "\"score\":1.0,\"budget\":1.2345678901234567e+19,"
              "\"reading_settings\":null,\"recent_books\":[{\"asin\":"
              "\"B00\",\"progress\":0.5}],\"tags\":[\"new\"]}}\n");
    free(text);
    sqlite3_close(db);
}

/* An array collection under "$.data.users", keyed by a column. */
static void test_array_collection_at_path(void **state)
{
    static char *path[] = {"data", "users"};
    sqlite3 *db = open_db("DELETE FROM users WHERE email = 'a@x.org'");
    struct ferry_err err = {0};
    int rc;
    char *text;

    (void)state;
    users_cols[0] = (struct fy_map_col){
        .field = "email", .column = "email", .type = FY_T_TEXT};
    users.ncols = 1;
    users.nchildren = 0;
    users.rest_column = NULL;
    users.disc_column = NULL;
    mapping.path = path;
    mapping.npath = 2;
    mapping.object_collection = false;
    text = export_text(db, FY_EXPORT_COMPACT, &rc, NULL, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(text,
                        "{\"data\":{\"users\":[{\"email\":\"b@x.org\"}]}}\n");
    free(text);
    users_cols[0] = (struct fy_map_col){
        .field = "avd_name", .column = "avd_name", .type = FY_T_TEXT};
    sqlite3_close(db);
}

static void test_omit_null_children(void **state)
{
    sqlite3 *db = open_db("DELETE FROM recent_books; DELETE FROM tags;"
                          "DELETE FROM users WHERE email = 'a@x.org'");
    struct ferry_err err = {0};
    int rc;
    char *text;

    (void)state;
    rs.omit_null = true;
    prefs.omit_null = false;
    books.omit_null = true;
    text = export_text(db, FY_EXPORT_COMPACT, &rc, NULL, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "\"budget\":1.2345678901234567e+19,"
                                 "\"preferences\":{},\"tags\":[]}}"));
    assert_null(strstr(text, "reading_settings"));
    free(text);
    sqlite3_close(db);
}

static void check_bad(const char *sql, const char *want)
{
    sqlite3 *db = open_db(sql);
    struct ferry_err err = {0};
    int rc;
    char *text = export_text(db, 0, &rc, NULL, &err);

    assert_int_equal(rc, FERRY_EPARSE);
    if (!strstr(err.msg, want))
        fail_msg("'%s' does not say '%s'", err.msg, want);
    free(text);
    sqlite3_close(db);
}

static void test_bad_stored_values(void **state)
{
    (void)state;
    check_bad("UPDATE user_preferences SET value = '{oops' WHERE name = 'Z'",
              "table 'user_preferences', row ('a@x.org', 'Z'), column "
              "'value': does not hold JSON");
    check_bad("UPDATE users SET avd_name = CAST(x'ff41' AS TEXT)",
              "column 'avd_name': is not valid UTF-8");
    check_bad("UPDATE users SET avd_name = x'00'", "holds bytes");
    check_bad("UPDATE users SET extra = '[1]'",
              "column 'extra': does not hold a JSON object");
}

static void test_schema_check(void **state)
{
    sqlite3 *db = open_db("DROP TABLE tags");
    struct ferry_err err = {0};
    int rc;
    char *text = export_text(db, 0, &rc, NULL, &err);

    (void)state;
    assert_int_equal(rc, FERRY_ECONFIG);
    assert_string_equal(err.msg,
                        "the mapping's table 'tags' is not in the database");
    assert_string_equal(text, ""); /* nothing written */
    free(text);
    sqlite3_close(db);
    db = open_db("ALTER TABLE recent_books DROP COLUMN asin");
    text = export_text(db, 0, &rc, NULL, &err);
    assert_int_equal(rc, FERRY_ECONFIG);
    assert_string_equal(err.msg, "table 'recent_books' has no column 'asin' "
                                 "(named by the mapping)");
    free(text);
    sqlite3_close(db);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = calloc(1, 8192);

    assert_non_null(f);
    assert_non_null(s);
    fread(s, 1, 8191, f);
    fclose(f);
    return s;
}

static void test_file_replaced_whole(void **state)
{
    char dir[96], path[128], bad[160];
    sqlite3 *db = open_db(NULL);
    struct ferry_err err = {0};
    char *text;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/file.XXXXXX", tmp_root);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/out.json", dir);
    assert_int_equal(fy_export_file(db, &mapping, path, 0, NULL, &err), 0);
    text = slurp(path);
    assert_string_equal(text, want_pretty);
    free(text);
    /* A failed export leaves the old file and no temp file. */
    assert_int_equal(
        sqlite3_exec(db, "UPDATE users SET extra = '[1]'", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(fy_export_file(db, &mapping, path, 0, NULL, &err),
                     FERRY_EPARSE);
    text = slurp(path);
    assert_string_equal(text, want_pretty);
    free(text);
    snprintf(bad, sizeof(bad), "%s/no/such/dir.json", dir);
    assert_int_equal(fy_export_file(db, &mapping, bad, 0, NULL, &err),
                     FERRY_EIO);
    assert_non_null(strstr(err.msg, "cannot create '"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0); /* empty: no temp file left */
    sqlite3_close(db);
}

/* Times back from PostgreSQL in UTC are ISO 8601 again; others as stored. */
static void test_times(void **state)
{
    static const char *const cases[][2] = {
        {"2025-07-16 18:00:13+00", "2025-07-16T18:00:13Z"},
        {"2025-07-16 18:00:13.25+00:00", "2025-07-16T18:00:13.25Z"},
        {"2025-07-16T18:00:13Z", "2025-07-16T18:00:13Z"},
        {"2025-07-16 18:00:13+02", "2025-07-16 18:00:13+02"},
        {"2025-07-16 18:00+00", "2025-07-16 18:00+00"},
        {"2025-07-16", "2025-07-16"},
        {"2025-07-16 18:00:13+00x", "2025-07-16 18:00:13+00x"},
    };
    sqlite3 *db = open_db("DELETE FROM users WHERE email = 'a@x.org'");
    struct ferry_err err = {0};

    (void)state;
    users_cols[1].type = FY_T_TIMESTAMPTZ;
    users_cols[1].omit_null = false;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        sqlite3_stmt *st = NULL;
        char want[80];
        int rc;
        char *text;

        assert_int_equal(sqlite3_prepare_v2(db,
                                            "UPDATE users SET created_at = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, cases[i][0], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        text = export_text(db, FY_EXPORT_COMPACT, &rc, NULL, &err);
        assert_int_equal(rc, 0);
        snprintf(want, sizeof(want), "\"created-at\":\"%s\"", cases[i][1]);
        if (!strstr(text, want))
            fail_msg("%s: %s not in %s", cases[i][0], want, text);
        free(text);
    }
    users_cols[1].type = FY_T_TEXT;
    users_cols[1].omit_null = true;
    sqlite3_close(db);
}

/* ---- the writer ---------------------------------------------------------- */

static char *written(void (*fn)(struct fy_jsonw *), int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct fy_jsonw w;

    fy_jsonw_init(&w, f, indent);
    fn(&w);
    assert_int_equal(fy_jsonw_end(&w), 0);
    fy_jsonw_release(&w);
    fclose(f);
    return text;
}

static void doubles(struct fy_jsonw *w)
{
    fy_jsonw_begin(w, false);
    fy_jsonw_double(w, 0.1);
    fy_jsonw_double(w, 1e16);
    fy_jsonw_double(w, -2.0);
    fy_jsonw_double(w, 1.0 / 3);
    fy_jsonw_int(w, INT64_MIN);
    fy_jsonw_number(w, "-0.5e+3", 7);
    fy_jsonw_end_container(w, false);
}

static void empties(struct fy_jsonw *w)
{
    fy_jsonw_begin(w, true);
    fy_jsonw_key(w, "a\nb", 3);
    fy_jsonw_begin(w, true);
    fy_jsonw_end_container(w, true);
    fy_jsonw_key(w, "", 0);
    fy_jsonw_begin(w, false);
    fy_jsonw_end_container(w, false);
    fy_jsonw_end_container(w, true);
}

static void test_writer(void **state)
{
    char *t;

    (void)state;
    t = written(doubles, 0);
    assert_string_equal(t, "[0.1,1e+16,-2.0,0.3333333333333333,"
                           "-9223372036854775808,-0.5e+3]\n");
    free(t);
    t = written(empties, 2);
    assert_string_equal(t, "{\n  \"a\\u000ab\": {},\n  \"\": []\n}\n");
    free(t);
    assert_true(fy_json_number_valid("0", 1));
    assert_true(fy_json_number_valid("-12.5E-3", 8));
    assert_false(fy_json_number_valid("012", 3));
    assert_false(fy_json_number_valid("1.", 2));
    assert_false(fy_json_number_valid("+1", 2));
    assert_false(fy_json_number_valid("", 0));
    assert_false(fy_json_number_valid("NaN", 3));
}

/* ---- --infer ------------------------------------------------------------- */

struct notes {
    char text[2048];
};

static void on_note(const char *line, void *ud)
{
    struct notes *n = ud;
    size_t len = strlen(n->text);

    snprintf(n->text + len, sizeof(n->text) - len, "%s\n", line);
}

/*
 * Writes doc to DIR/name, runs --infer on it; returns the mapping parsed
 * (caller json_decref()s) or NULL with *rc and err set.
 */
static json_t *infer_doc(const char *name, const char *doc,
                         struct fy_infer_opts *o, int *rc,
                         struct ferry_err *err)
{
    char dir[96], path[160];
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    json_t *j = NULL;

    snprintf(dir, sizeof(dir), "%s/infer.XXXXXX", tmp_root);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(doc, f);
    fclose(f);
    f = open_memstream(&text, &len);
    assert_non_null(f);
    *rc = fy_infer_run(path, f, o, err);
    fclose(f);
    if (*rc == 0) {
        j = json_loads(text, 0, NULL);
        assert_non_null(j);
    }
    free(text);
    unlink(path);
    rmdir(dir);
    return j;
}

/* The value at a path of member names and array positions ("children/0"). */
static json_t *at(json_t *j, const char *path)
{
    char buf[256], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = strtok_r(buf, "/", &save); p && j;
         p = strtok_r(NULL, "/", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)strtoul(p, NULL, 10))
                             : json_object_get(j, p);
    return j;
}

static void assert_at(json_t *j, const char *path, const char *want)
{
    json_t *v = at(j, path);
    char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: expected %s, got %s", path, want, got ? got : "nothing");
    free(got);
}

static const char users_doc[] =
    "{\"ana@example.com\": {\"avd_name\": \"A\", \"font-size\": 12,"
    " \"score\": 1, \"vip\": true,"
    " \"reading_settings\": {\"theme\": \"dark\", \"font_size\": 12},"
    " \"preferences\": {\"startup\": \"library\"},"
    " \"recent_books\": [{\"asin\": \"B1\", \"notes\": [{\"n\": 1}]}],"
    " \"tags\": [\"a\"], \"big\": 123456789012345678901234,"
    " \"emu\": {\"a\": 1}},"
    " \"bo@example.com\": {\"avd_name\": null, \"font-size\": 9,"
    " \"score\": 2.5, \"vip\": false,"
    " \"reading_settings\": {\"theme\": \"light\", \"font_size\": 10},"
    " \"preferences\": {\"sort\": {\"by\": \"title\"}},"
    " \"recent_books\": [], \"tags\": [], \"big\": 1, \"mixed\": 1,"
    " \"emu\": null},"
    " \"cy@example.com\": {\"avd_name\": \"C\", \"font-size\": 8,"
    " \"score\": 3, \"vip\": true, \"reading_settings\": null,"
    " \"preferences\": {\"zoom\": 2}, \"recent_books\": [], \"tags\": [],"
    " \"big\": 2, \"mixed\": \"x\"}}";

static void test_infer_object_collection(void **state)
{
    struct notes n = {{0}};
    struct fy_infer_opts o = {.note = on_note, .ud = &n};
    struct ferry_err err = {0};
    int rc;
    json_t *m = infer_doc("users.json", users_doc, &o, &rc, &err);

    (void)state;
    assert_int_equal(rc, 0);
    assert_at(m, "collection", "{\"path\":\"$\",\"type\":\"object\"}");
    assert_at(m, "table", "\"users\"");
    assert_at(m, "key", "\"email\"");
    assert_at(m, "columns/avd_name", "\"text\"");
    assert_at(m, "columns/font-size",
              "{\"type\":\"bigint\",\"column\":\"font_size\"}");
    assert_at(m, "columns/score", "\"double precision\"");
    assert_at(m, "columns/vip", "\"boolean\"");
    assert_at(m, "columns/tags", "\"jsonb\"");
    assert_at(m, "columns/big", "\"jsonb\"");
    assert_at(m, "columns/mixed", "{\"type\":\"jsonb\",\"omit_null\":true}");
    assert_at(m, "children/0/kind", "\"object\"");
    assert_at(m, "children/0/table", "\"reading_settings\"");
    assert_at(m, "children/0/parent_key", "[\"user_email\"]");
    assert_at(m, "children/0/columns",
              "{\"theme\":\"text\",\"font_size\":\"bigint\"}");
    assert_at(m, "children/1/kind", "\"map\"");
    assert_at(m, "children/1/key_column", "\"name\"");
    assert_at(m, "children/1/value_type", "\"jsonb\"");
    assert_at(m, "children/2/kind", "\"array\"");
    assert_at(m, "children/2/index_column", "\"position\"");
    assert_at(m, "children/2/children/0/table", "\"notes\"");
    assert_at(m, "children/2/children/0/parent_key",
              "[\"user_email\",\"recent_book_position\"]");
    /* Absent in one record, null in another: omit_null false, a note. */
    assert_at(m, "children/3/table", "\"emu\"");
    assert_null(at(m, "children/3/omit_null"));
    assert_string_equal(n.text, "round trip: $.*.emu is absent in 1 records "
                                "and null in 1; the export writes null for "
                                "both\n");
    json_decref(m);
}

static void test_infer_array_collection(void **state)
{
    static const char doc[] =
        "{\"data\": {\"people\": ["
        "{\"group\": 1, \"nick\": \"a\", \"uid\": \"u1\", \"x\": null},"
        "{\"group\": 1, \"nick\": \"b\", \"uid\": \"u2\"},"
        "{\"group\": 2, \"nick\": \"c\", \"uid\": \"u3\", \"x\": 5}]}}";
    struct notes n = {{0}};
    struct fy_infer_opts o = {
        .collection = "$.data.people", .note = on_note, .ud = &n};
    struct ferry_err err = {0};
    int rc;
    json_t *m = infer_doc("doc.json", doc, &o, &rc, &err);

    (void)state;
    assert_int_equal(rc, 0);
    assert_at(m, "collection",
              "{\"path\":\"$.data.people\",\"type\":\"array\"}");
    assert_at(m, "table", "\"people\"");
    /* group repeats; nick and uid are unique: uid's name ranks first. */
    assert_at(m, "key", "\"uid\"");
    assert_at(m, "columns/x", "\"bigint\"");
    assert_string_equal(n.text,
                        "round trip: $.data.people[*].x is absent in 1 "
                        "records and null in 1; the export writes null for "
                        "both\n");
    json_decref(m);
    /* --sample 1: the second record is not read. */
    o.sample = 1;
    n.text[0] = '\0';
    m = infer_doc("doc.json", doc, &o, &rc, &err);
    assert_int_equal(rc, 0);
    assert_at(m, "columns/x", "\"jsonb\"");
    json_decref(m);
}

static void check_infer_error(const char *doc, const char *coll, int code,
                              const char *msg)
{
    struct fy_infer_opts o = {.collection = coll};
    struct ferry_err err = {0};
    int rc;
    json_t *m = infer_doc("bad.json", doc, &o, &rc, &err);

    assert_null(m);
    assert_int_equal(rc, code);
    if (!strstr(err.msg, msg))
        fail_msg("'%s' does not say '%s'", err.msg, msg);
}

static void test_infer_errors(void **state)
{
    (void)state;
    check_infer_error("[]", NULL, FERRY_EPARSE, "no records at $");
    check_infer_error("[1, 2]", NULL, FERRY_EPARSE,
                      "bad.json:1: the records at $ are not objects");
    check_infer_error("[{\"a\": 1}, {\"a\": 1}]", NULL, FERRY_EPARSE,
                      "no field of the records can be their key");
    check_infer_error("{\"a\": {\"b\": 1},\n \"c\": [}", NULL, FERRY_EPARSE,
                      "bad.json:2");
    check_infer_error("{}", "$.", FERRY_EINVAL, "--collection '$.'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretty_document),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_array_collection_at_path),
        cmocka_unit_test(test_omit_null_children),
        cmocka_unit_test(test_bad_stored_values),
        cmocka_unit_test(test_schema_check),
        cmocka_unit_test(test_file_replaced_whole),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_infer_object_collection),
        cmocka_unit_test(test_infer_array_collection),
        cmocka_unit_test(test_infer_errors),
    };

    return cmocka_run_group_tests(tests, make_root, remove_root);
}
