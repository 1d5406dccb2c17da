/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the mapping file (lib/import/mapping.h): every key of the
 * format, every error with the place it names, and the way back
 * (fy_mapping_to_json parses to the same mapping).
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

#include "import/mapping.h"
#include "fy.h"

/* docs/import.md "A first import", with every optional key added. */
static const char users_mapping[] =
    "{\"collection\": {\"path\": \"$.data[\\\"user list\\\"]\","
    "                  \"type\": \"object\"},"
    " \"table\": \"users\", \"key\": \"email\","
    " \"columns\": {"
    "   \"avd_name\": \"text\","
    "   \"created_at\": {\"type\": \"timestamptz\", \"required\": true},"
    "   \"font-size\": {\"type\": \"integer\", \"column\": \"font_size\","
    "                   \"omit_null\": true},"
    "   \"age\": \"bigint\", \"score\": \"double precision\","
    "   \"balance\": \"numeric\", \"active\": \"boolean\","
    "   \"born\": \"date\", \"extra\": \"jsonb\"},"
    " \"rest\": \"other\", \"ignore\": [\"_links\", \"_etag\"],"
    " \"children\": ["
    "  {\"field\": \"reading_settings\", \"kind\": \"object\","
    "   \"table\": \"reading_settings\", \"parent_key\": [\"user_email\"],"
    "   \"columns\": {\"theme\": \"text\", \"font_size\": \"bigint\"},"
    "   \"omit_null\": true,"
    "   \"children\": ["
    "    {\"field\": \"fonts\", \"kind\": \"array\", \"table\": \"rs_fonts\","
    "     \"parent_key\": [\"email\"], \"index_column\": \"pos\","
    "     \"value_column\": \"font\", \"value_type\": \"text\"}]},"
    "  {\"field\": \"preferences\", \"kind\": \"map\","
    "   \"table\": \"user_preferences\", \"parent_key\": [\"user_email\"],"
    "   \"key_column\": \"name\", \"value_column\": \"value\","
    "   \"value_type\": \"jsonb\"},"
    "  {\"field\": \"recent_books\", \"kind\": \"array\","
    "   \"table\": \"recent_books\", \"parent_key\": [\"user_email\"],"
    "   \"index_column\": \"position\","
    "   \"columns\": {\"asin\": \"text\", \"title\": \"text\","
    "                 \"progress\": \"double precision\"},"
    "   \"rest\": \"more\", \"ignore\": [\"cover\"],"
    "   \"children\": ["
    "    {\"field\": \"notes\", \"kind\": \"map\", \"table\": \"book_notes\","
    "     \"parent_key\": [\"user_email\", \"book_pos\"],"
    "     \"key_column\": \"note\", \"value_column\": \"body\","
    "     \"value_type\": \"text\"}]}"
    " ]}";

/* An array collection keyed by two of its records' columns. */
static const char orders_mapping[] =
    "{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
    " \"table\": \"orders\", \"key\": [\"shop\", \"order_no\"],"
    " \"columns\": {\"Shop\": {\"type\": \"text\", \"column\": \"shop\"},"
    "               \"no\": {\"type\": \"bigint\", \"column\": \"order_no\","
    "                        \"required\": true},"
    "               \"total\": \"numeric\"},"
    " \"children\": ["
    "  {\"field\": \"lines\", \"kind\": \"array\", \"table\": \"order_lines\","
    "   \"parent_key\": [\"shop\", \"order_no\"], \"index_column\": \"line\","
    "   \"columns\": {}}]}";

static struct fy_mapping *parse_ok(const char *text)
{
    struct fy_mapping *m = NULL;
    struct ferry_err err = {0};
    int rc = fy_mapping_parse(text, strlen(text), &m, &err);

    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err.msg);
    assert_non_null(m);
    return m;
}

/* Parses text expecting FERRY_ECONFIG with a message containing needle. */
static void parse_bad(const char *text, const char *needle)
{
    struct fy_mapping *m = (struct fy_mapping *)&m; /* not NULL */
    struct ferry_err err = {0};
    int rc = fy_mapping_parse(text, strlen(text), &m, &err);

    if (rc != FERRY_ECONFIG) {
        if (rc == 0)
            fy_mapping_free(m);
        fail_msg("expected ECONFIG, got %d (%s) for: %s", rc, err.msg, text);
    }
    assert_null(m);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
    /* The same failure without an error struct. */
    assert_int_equal(fy_mapping_parse(text, strlen(text), &m, NULL),
                     FERRY_ECONFIG);
    assert_null(m);
}

static void assert_key(const struct fy_map_table *t, size_t nparent,
                       const char *const *names, const enum fy_type *types,
                       size_t n)
{
    assert_int_equal(t->nkey, n);
    assert_int_equal(t->nparent_key, nparent);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(t->key_cols[i], names[i]);
        assert_int_equal(t->key_types[i], types[i]);
    }
}

static void test_parse_object_collection(void **state)
{
    struct fy_mapping *m = parse_ok(users_mapping);
    const struct fy_map_table *u, *rs, *f, *p, *rb, *n;
    const struct fy_map_col *c;

    (void)state;
    assert_true(m->object_collection);
    assert_int_equal(m->npath, 2);
    assert_string_equal(m->path[0], "data");
    assert_string_equal(m->path[1], "user list");
    assert_int_equal(m->ntables, 6);

    u = m->tables[0];
    assert_int_equal(u->kind, FY_MAP_ROOT);
    assert_string_equal(u->table, "users");
    assert_null(u->field);
    assert_null(u->parent);
    assert_key(u, 0, (const char *[]){"email"}, (enum fy_type[]){FY_T_TEXT}, 1);
    assert_null(u->key_field[0]);
    assert_string_equal(u->disc_column, "email");
    assert_null(u->value_column);
    assert_int_equal(u->ncols, 9);
    assert_string_equal(u->cols[0].field, "avd_name");
    assert_string_equal(u->cols[0].column, "avd_name");
    assert_int_equal(u->cols[0].type, FY_T_TEXT);
    assert_false(u->cols[0].required);
    assert_false(u->cols[0].omit_null);
    assert_int_equal(u->cols[1].type, FY_T_TIMESTAMPTZ);
    assert_true(u->cols[1].required);
    c = fy_map_col_by_field(u, "font-size");
    assert_ptr_equal(c, &u->cols[2]);
    assert_string_equal(c->column, "font_size");
    assert_int_equal(c->type, FY_T_INTEGER);
    assert_true(c->omit_null);
    assert_false(c->required);
    assert_null(fy_map_col_by_field(u, "font_size"));
    assert_null(fy_map_col_by_field(u, "nope"));
    assert_int_equal(u->cols[3].type, FY_T_BIGINT);
    assert_int_equal(u->cols[4].type, FY_T_DOUBLE);
    assert_int_equal(u->cols[5].type, FY_T_NUMERIC);
    assert_int_equal(u->cols[6].type, FY_T_BOOLEAN);
    assert_int_equal(u->cols[7].type, FY_T_DATE);
    assert_int_equal(u->cols[8].type, FY_T_JSONB);
    assert_string_equal(u->rest_column, "other");
    assert_int_equal(u->nignore, 2);
    assert_string_equal(u->ignore[0], "_links");
    assert_string_equal(u->ignore[1], "_etag");
    assert_int_equal(u->nchildren, 3);

    /* Parents before children, children in the file's order. */
    rs = m->tables[1];
    f = m->tables[2];
    p = m->tables[3];
    rb = m->tables[4];
    n = m->tables[5];
    assert_ptr_equal(u->children[0], rs);
    assert_ptr_equal(u->children[1], p);
    assert_ptr_equal(u->children[2], rb);

    assert_int_equal(rs->kind, FY_MAP_OBJECT);
    assert_string_equal(rs->field, "reading_settings");
    assert_ptr_equal(rs->parent, u);
    assert_key(rs, 1, (const char *[]){"user_email"},
               (enum fy_type[]){FY_T_TEXT}, 1);
    assert_null(rs->disc_column);
    assert_int_equal(rs->ncols, 2);
    assert_true(rs->omit_null);
    assert_int_equal(rs->nchildren, 1);
    assert_ptr_equal(rs->children[0], f);

    assert_int_equal(f->kind, FY_MAP_ARRAY);
    assert_ptr_equal(f->parent, rs);
    assert_key(f, 1, (const char *[]){"email", "pos"},
               (enum fy_type[]){FY_T_TEXT, FY_T_BIGINT}, 2);
    assert_string_equal(f->disc_column, "pos");
    assert_string_equal(f->value_column, "font");
    assert_int_equal(f->value_type, FY_T_TEXT);
    assert_int_equal(f->ncols, 0);
    assert_false(f->omit_null);

    assert_int_equal(p->kind, FY_MAP_MAP);
    assert_string_equal(p->table, "user_preferences");
    assert_key(p, 1, (const char *[]){"user_email", "name"},
               (enum fy_type[]){FY_T_TEXT, FY_T_TEXT}, 2);
    assert_string_equal(p->disc_column, "name");
    assert_string_equal(p->value_column, "value");
    assert_int_equal(p->value_type, FY_T_JSONB);

    assert_int_equal(rb->kind, FY_MAP_ARRAY);
    assert_key(rb, 1, (const char *[]){"user_email", "position"},
               (enum fy_type[]){FY_T_TEXT, FY_T_BIGINT}, 2);
    assert_null(rb->value_column);
    assert_int_equal(rb->ncols, 3);
    assert_string_equal(rb->rest_column, "more");
    assert_int_equal(rb->nignore, 1);
    assert_ptr_equal(rb->children[0], n);

    /* A grandchild's key: the whole chain, then its own. */
    assert_key(n, 2, (const char *[]){"user_email", "book_pos", "note"},
               (enum fy_type[]){FY_T_TEXT, FY_T_BIGINT, FY_T_TEXT}, 3);
    assert_ptr_equal(n->parent, rb);
    fy_mapping_free(m);
}

static void test_parse_array_collection(void **state)
{
    struct fy_mapping *m = parse_ok(orders_mapping);
    const struct fy_map_table *o = m->tables[0], *l = m->tables[1];

    (void)state;
    assert_false(m->object_collection);
    assert_int_equal(m->npath, 0);
    assert_int_equal(m->ntables, 2);
    /* The key in the mapping's order, from columns named by column. */
    assert_key(o, 0, (const char *[]){"shop", "order_no"},
               (enum fy_type[]){FY_T_TEXT, FY_T_BIGINT}, 2);
    assert_string_equal(o->key_field[0], "Shop");
    assert_string_equal(o->key_field[1], "no");
    assert_null(o->disc_column);
    assert_key(l, 2, (const char *[]){"shop", "order_no", "line"},
               (enum fy_type[]){FY_T_TEXT, FY_T_BIGINT, FY_T_BIGINT}, 3);
    assert_null(l->key_field[0]);
    /* "columns": {} is an array of objects with no named fields. */
    assert_null(l->value_column);
    assert_int_equal(l->ncols, 0);
    fy_mapping_free(m);

    /* One key column may be written as a string. */
    m = parse_ok("{\"collection\": {\"path\": \"$.orders\", \"type\":"
                 " \"array\"}, \"table\": \"t\", \"key\": \"id\","
                 " \"columns\": {\"id\": \"bigint\"}}");
    assert_key(m->tables[0], 0, (const char *[]){"id"},
               (enum fy_type[]){FY_T_BIGINT}, 1);
    assert_string_equal(m->tables[0]->key_field[0], "id");
    assert_int_equal(m->npath, 1);
    fy_mapping_free(m);
}

static void test_paths(void **state)
{
    static const struct {
        const char *path;
        size_t n;
        const char *names[3];
    } ok[] = {
        {"$", 0, {NULL}},
        {"$.users", 1, {"users"}},
        {"$.data.profiles", 2, {"data", "profiles"}},
        {"$[\\\"odd name\\\"]", 1, {"odd name"}},
        {"$[\\\"a\\\\\\\"b\\\"].c-d", 2, {"a\"b", "c-d"}},
        {"$[\\\"\\\"][\\\"x.y\\\"].z", 3, {"", "x.y", "z"}},
        {"$.caf\xc3\xa9", 1, {"caf\xc3\xa9"}},
    };
    static const char *const bad[] = {
        "",       "users", "$.",        "$..a", "$[users]",
        "$['a']", "$[\"a", "$[\"a\"]x", "$ .a", "$.a b",
    };
    char text[512];

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(ok); i++) {
        struct fy_mapping *m;

        snprintf(text, sizeof(text),
                 "{\"collection\": {\"path\": \"%s\", \"type\": \"object\"},"
                 " \"table\": \"t\", \"key\": \"k\"}",
                 ok[i].path);
        m = parse_ok(text);
        assert_int_equal(m->npath, ok[i].n);
        for (size_t j = 0; j < ok[i].n; j++)
            assert_string_equal(m->path[j], ok[i].names[j]);
        fy_mapping_free(m);
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        json_t *s = json_string(bad[i]);
        char *q = json_dumps(s, JSON_ENCODE_ANY);

        snprintf(text, sizeof(text),
                 "{\"collection\": {\"path\": %s, \"type\": \"object\"},"
                 " \"table\": \"t\", \"key\": \"k\"}",
                 q);
        parse_bad(text, "is not a path");
        free(q);
        json_decref(s);
    }
}

#define COLL "\"collection\": {\"path\": \"$\", \"type\": \"object\"}, "
#define ROOT COLL "\"table\": \"users\", \"key\": \"email\", "
#define KID(body)                                                              \
    "{" ROOT "\"children\": [{\"field\": \"f\", \"table\": \"kid\", "          \
    "\"parent_key\": [\"user_email\"], " body "}]}"

static void test_errors(void **state)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        /* The document itself. */
        {"{\"table\": ", "mapping: line 1 column"},
        {"{" ROOT "\"table\": \"again\"}", "duplicate"},
        {"[]", "must be a JSON object"},
        {"{" ROOT "\"colums\": {}}", "unknown key \"colums\""},
        /* collection */
        {"{\"table\": \"t\", \"key\": \"k\"}", "\"collection\" is missing"},
        {"{\"collection\": \"$\", \"table\": \"t\"}", "must be an object"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"object\","
         " \"sep\": 1}, \"table\": \"t\", \"key\": \"k\"}",
         "collection: unknown key \"sep\""},
        {"{\"collection\": {\"type\": \"object\"}, \"table\": \"t\"}",
         "collection: \"path\" is missing"},
        {"{\"collection\": {\"path\": 1, \"type\": \"object\"}}",
         "\"path\" must be a string"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"list\"}}",
         "type 'list' is not \"object\" or \"array\""},
        /* table */
        {"{" COLL "\"key\": \"k\"}", "mapping: \"table\" is missing"},
        {"{" COLL "\"table\": \"ferry_x\", \"key\": \"k\"}",
         "table name 'ferry_x' is not valid"},
        {"{" COLL "\"table\": \"1x\", \"key\": \"k\"}", "is not valid"},
        {"{" COLL "\"table\": \"t23456789012345678901234567890123456789012345"
         "678901234567\", \"key\": \"k\"}",
         "is not valid"},
        {KID("\"kind\": \"object\", \"table\": \"USERS\""), "duplicate"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"USERS\", \"parent_key\": [\"e\"]}]}",
         "children[0] (f): table 'USERS' is mapped twice"},
        /* key */
        {"{" COLL "\"table\": \"t\"}", "mapping: \"key\" is missing"},
        {"{" COLL "\"table\": \"t\", \"key\": [\"k\"]}",
         "\"key\" must be a string"},
        {"{" COLL "\"table\": \"t\", \"key\": \"e-mail\"}",
         "key 'e-mail' is not a column name"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"columns\": {\"id\": \"bigint\"}}",
         "\"key\" is missing"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"key\": [], \"columns\": {\"id\": \"bigint\"}}",
         "\"key\" must be a column name or an array"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"key\": \"ID\", \"columns\": {\"id\": \"text\"}}",
         "key[0] 'ID' is not a column of the records"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"key\": [\"id\", 3],"
         " \"columns\": {\"id\": \"text\"}}",
         "key[1] '(not a string)'"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"key\": [\"id\", \"id\"],"
         " \"columns\": {\"id\": \"text\"}}",
         "key[1] 'id' is not a column of the records (or is repeated)"},
        {"{\"collection\": {\"path\": \"$\", \"type\": \"array\"},"
         " \"table\": \"t\", \"key\": \"id\", \"columns\": {\"id\": "
         "\"jsonb\"}}",
         "key column 'id' is jsonb"},
        /* columns */
        {"{" ROOT "\"columns\": [\"a\"]}", "\"columns\" must be an object"},
        {"{" ROOT "\"columns\": {\"a\": 1}}",
         "mapping: columns[\"a\"]: must be a type name or an object"},
        {"{" ROOT "\"columns\": {\"a\": \"strng\"}}",
         "columns[\"a\"]: type 'strng' is not a type"},
        {"{" ROOT "\"columns\": {\"a\": \"bytea\"}}", "JSON has no bytes"},
        {"{" ROOT "\"columns\": {\"a\": {\"column\": \"b\"}}}",
         "columns[\"a\"]: \"type\" is missing"},
        {"{" ROOT "\"columns\": {\"a\": {\"type\": \"text\", \"col\": 1}}}",
         "columns[\"a\"]: unknown key \"col\""},
        {"{" ROOT "\"columns\": {\"font-size\": \"bigint\"}}",
         "'font-size' is not a column name"},
        {"{" ROOT "\"columns\": {\"a\": {\"type\": \"text\","
         " \"column\": \"_ferry_a\"}}}",
         "'_ferry_a' is not a column name"},
        {"{" ROOT "\"columns\": {\"a\": {\"type\": \"text\","
         " \"column\": 5}}}",
         "\"column\" must be a string"},
        {"{" ROOT "\"columns\": {\"a\": {\"type\": \"text\","
         " \"required\": \"yes\"}}}",
         "columns[\"a\"]: \"required\" must be true or false"},
        {"{" ROOT "\"columns\": {\"a\": {\"type\": \"text\","
         " \"omit_null\": 1}}}",
         "\"omit_null\" must be true or false"},
        {"{" ROOT "\"columns\": {\"Email\": \"text\"}}",
         "mapping: column 'Email' appears twice"},
        {"{" ROOT "\"columns\": {\"a\": \"text\", \"b\": {\"type\": \"text\","
         " \"column\": \"A\"}}}",
         "column 'A' appears twice"},
        /* rest and ignore */
        {"{" ROOT "\"rest\": \"the rest\"}", "rest 'the rest' is not a column"},
        {"{" ROOT "\"rest\": [\"x\"]}", "\"rest\" must be a string"},
        {"{" ROOT "\"rest\": \"a\", \"columns\": {\"a\": \"text\"}}",
         "column 'a' appears twice"},
        {"{" ROOT "\"ignore\": \"a\"}", "\"ignore\" must be an array"},
        {"{" ROOT "\"ignore\": [\"a\", 1]}", "ignore[1] must be a string"},
        {"{" ROOT "\"ignore\": [\"a\"], \"columns\": {\"a\": \"text\"}}",
         "field \"a\" is mapped twice"},
        {"{" ROOT "\"ignore\": [\"a\", \"a\"]}", "field \"a\" is mapped twice"},
        /* children */
        {"{" ROOT "\"children\": {}}", "\"children\" must be an array"},
        {"{" ROOT "\"children\": [1]}", "children[0] (?): must be an object"},
        {KID("\"kind\": \"list\""),
         "children[0] (f): kind 'list' is not \"object\""},
        {KID("\"kind\": \"root\""), "kind 'root' is not"},
        {"{" ROOT "\"children\": [{\"kind\": \"object\", \"table\": \"k\","
         " \"parent_key\": [\"e\"]}]}",
         "children[0] (?): \"field\" is missing"},
        {KID("\"kind\": \"object\", \"key_column\": \"x\""),
         "children[0] (f): unknown key \"key_column\""},
        {KID("\"kind\": \"map\", \"key_column\": \"k\", \"value_column\":"
             " \"v\", \"value_type\": \"text\", \"columns\": {}"),
         "unknown key \"columns\""},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"kid\"}]}",
         "children[0] (f): \"parent_key\" is missing"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"kid\", \"parent_key\": \"user_email\"}]}",
         "\"parent_key\" must be an array"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"kid\", \"parent_key\": [\"a\", \"b\"]}]}",
         "parent_key has 2 name(s); the parent 'users' has a key of 1"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"kid\", \"parent_key\": [1]}]}",
         "parent_key[0] must be a string"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"kid\", \"parent_key\": [\"user email\"]}]}",
         "parent_key 'user email' is not a column name"},
        {KID("\"kind\": \"map\", \"value_column\": \"v\","
             " \"value_type\": \"text\""),
         "children[0] (f): \"key_column\" is missing"},
        {KID("\"kind\": \"map\", \"key_column\": \"k\","
             " \"value_type\": \"text\""),
         "\"value_column\" is missing"},
        {KID("\"kind\": \"map\", \"key_column\": \"k\","
             " \"value_column\": \"v\""),
         "\"value_type\" is missing"},
        {KID("\"kind\": \"map\", \"key_column\": \"k\","
             " \"value_column\": \"v\", \"value_type\": \"strng\""),
         "children[0] (f): value_type 'strng' is not a type"},
        {KID("\"kind\": \"map\", \"key_column\": \"user_email\","
             " \"value_column\": \"v\", \"value_type\": \"text\""),
         "column 'user_email' appears twice"},
        {KID("\"kind\": \"map\", \"key_column\": \"k\","
             " \"value_column\": \"K\", \"value_type\": \"text\""),
         "column 'K' appears twice"},
        {KID("\"kind\": \"array\", \"value_column\": \"v\","
             " \"value_type\": \"text\""),
         "\"index_column\" is missing"},
        {KID("\"kind\": \"array\", \"index_column\": \"i\","
             " \"value_column\": \"v\", \"value_type\": \"text\","
             " \"columns\": {}"),
         "\"columns\" is for objects; this array's values go to"},
        {KID("\"kind\": \"array\", \"index_column\": \"i\","
             " \"value_type\": \"text\""),
         "\"value_type\" needs a \"value_column\""},
        {KID("\"kind\": \"array\", \"index_column\": \"i\","
             " \"columns\": {\"i\": \"text\"}"),
         "column 'i' appears twice"},
        {KID("\"kind\": \"object\", \"omit_null\": \"no\""),
         "children[0] (f): \"omit_null\" must be true or false"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"parent_key\": [\"e\"]}]}",
         "children[0] (f): \"table\" is missing"},
        {"{" ROOT "\"omit_null\": true}", "mapping: unknown key \"omit_null\""},
        /* a field twice: a column and a child, or two children */
        {"{" ROOT "\"columns\": {\"f\": \"text\"}, \"children\": [{\"field\":"
         " \"f\", \"kind\": \"object\", \"table\": \"k\","
         " \"parent_key\": [\"e\"]}]}",
         "mapping: field \"f\" is mapped twice"},
        {"{" ROOT "\"children\": [{\"field\": \"f\", \"kind\": \"object\","
         " \"table\": \"k1\", \"parent_key\": [\"e\"]}, {\"field\": \"f\","
         " \"kind\": \"object\", \"table\": \"k2\", \"parent_key\": [\"e\"]}]}",
         "field \"f\" is mapped twice"},
        /* Places in nested children name the whole way. */
        {"{" ROOT "\"children\": [{\"field\": \"a\", \"kind\": \"object\","
         " \"table\": \"k1\", \"parent_key\": [\"e\"]}, {\"field\": \"b\","
         " \"kind\": \"array\", \"table\": \"k2\", \"parent_key\": [\"e\"],"
         " \"index_column\": \"i\", \"children\": [{\"field\": \"c\","
         " \"kind\": \"map\", \"table\": \"k3\", \"parent_key\": [\"e\"],"
         " \"key_column\": \"n\", \"value_column\": \"v\","
         " \"value_type\": \"text\"}]}]}",
         "children[1].children[0] (c): parent_key has 1 name(s); the parent"
         " 'k2' has a key of 2"},
        {"{" ROOT "\"children\": [{\"field\": \"b\", \"kind\": \"object\","
         " \"table\": \"k2\", \"parent_key\": [\"e\"], \"children\": ["
         " {\"field\": \"x\", \"kind\": \"object\", \"table\": \"k3\","
         " \"parent_key\": [\"e\"]}, {\"field\": \"c\", \"kind\": \"object\","
         " \"table\": \"k4\", \"parent_key\": [\"e\"],"
         " \"columns\": {\"c\": \"varchar\"}}]}]}",
         "children[0].children[1] (c): columns[\"c\"]: type 'varchar'"},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++)
        parse_bad(cases[i].text, cases[i].needle);
}

static void assert_same_table(const struct fy_map_table *a,
                              const struct fy_map_table *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->table, b->table);
    if (a->field || b->field)
        assert_string_equal(a->field, b->field);
    assert_int_equal(a->nkey, b->nkey);
    assert_int_equal(a->nparent_key, b->nparent_key);
    for (size_t i = 0; i < a->nkey; i++) {
        assert_string_equal(a->key_cols[i], b->key_cols[i]);
        assert_int_equal(a->key_types[i], b->key_types[i]);
        assert_int_equal(!a->key_field[i], !b->key_field[i]);
        if (a->key_field[i])
            assert_string_equal(a->key_field[i], b->key_field[i]);
    }
    assert_int_equal(!a->disc_column, !b->disc_column);
    if (a->disc_column)
        assert_string_equal(a->disc_column, b->disc_column);
    assert_int_equal(!a->value_column, !b->value_column);
    if (a->value_column) {
        assert_string_equal(a->value_column, b->value_column);
        assert_int_equal(a->value_type, b->value_type);
    }
    assert_int_equal(a->ncols, b->ncols);
    for (size_t i = 0; i < a->ncols; i++) {
        assert_string_equal(a->cols[i].field, b->cols[i].field);
        assert_string_equal(a->cols[i].column, b->cols[i].column);
        assert_int_equal(a->cols[i].type, b->cols[i].type);
        assert_int_equal(a->cols[i].required, b->cols[i].required);
        assert_int_equal(a->cols[i].omit_null, b->cols[i].omit_null);
    }
    assert_int_equal(!a->rest_column, !b->rest_column);
    if (a->rest_column)
        assert_string_equal(a->rest_column, b->rest_column);
    assert_int_equal(a->nignore, b->nignore);
    for (size_t i = 0; i < a->nignore; i++)
        assert_string_equal(a->ignore[i], b->ignore[i]);
    assert_int_equal(a->omit_null, b->omit_null);
    assert_int_equal(a->nchildren, b->nchildren);
}

/* parse(to_json(m)) == m, table by table, links included. */
static void round_trip(const char *text)
{
    struct fy_mapping *a = parse_ok(text), *b;
    json_t *ja = fy_mapping_to_json(a), *jb;
    char *s = json_dumps(ja, 0);

    assert_non_null(s);
    b = parse_ok(s);
    assert_int_equal(a->object_collection, b->object_collection);
    assert_int_equal(a->npath, b->npath);
    for (size_t i = 0; i < a->npath; i++)
        assert_string_equal(a->path[i], b->path[i]);
    assert_int_equal(a->ntables, b->ntables);
    for (size_t i = 0; i < a->ntables; i++) {
        assert_same_table(a->tables[i], b->tables[i]);
        for (size_t j = 0; j < a->tables[i]->nchildren; j++)
            assert_ptr_equal(b->tables[i]->children[j]->parent, b->tables[i]);
    }
    /* And the text is stable: written again, it is the same. */
    jb = fy_mapping_to_json(b);
    assert_true(json_equal(ja, jb));
    free(s);
    json_decref(ja);
    json_decref(jb);
    fy_mapping_free(a);
    fy_mapping_free(b);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip(users_mapping);
    round_trip(orders_mapping);
    round_trip("{\"collection\": {\"path\": \"$[\\\"\\\"].a[\\\"\\\\n\\\"]\","
               " \"type\": \"object\"}, \"table\": \"t\", \"key\": \"k\"}");
}

/* The written form: short where it can be, defaults left out. */
static void test_to_json_form(void **state)
{
    struct fy_mapping *m = parse_ok(users_mapping);
    json_t *j = fy_mapping_to_json(m), *cols, *kid, *want;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "collection"), "path")),
                        "$.data[\"user list\"]");
    assert_string_equal(json_string_value(json_object_get(j, "key")), "email");
    cols = json_object_get(j, "columns");
    assert_string_equal(json_string_value(json_object_get(cols, "avd_name")),
                        "text");
    want = json_pack("{s:s, s:s, s:b}", "type", "integer", "column",
                     "font_size", "omit_null", 1);
    assert_true(json_equal(json_object_get(cols, "font-size"), want));
    json_decref(want);
    /* Fields in the mapping's order: the export writes objects in it. */
    assert_string_equal(json_object_iter_key(json_object_iter(cols)),
                        "avd_name");
    kid = json_array_get(json_object_get(j, "children"), 1);
    assert_null(json_object_get(kid, "columns"));
    assert_null(json_object_get(kid, "omit_null"));
    assert_string_equal(json_string_value(json_object_get(kid, "key_column")),
                        "name");
    fy_mapping_free(m);
    json_decref(j);

    m = parse_ok(orders_mapping);
    j = fy_mapping_to_json(m);
    assert_int_equal(json_array_size(json_object_get(j, "key")), 2);
    assert_non_null(json_object_get(j, "children"));
    kid = json_array_get(json_object_get(j, "children"), 0);
    assert_true(json_is_object(json_object_get(kid, "columns")));
    assert_null(json_object_get(kid, "value_column"));
    fy_mapping_free(m);
    json_decref(j);
}

static void test_load(void **state)
{
    char path[] = "/tmp/test_mapping_XXXXXX";
    int fd = mkstemp(path);
    struct fy_mapping *m = NULL;
    struct ferry_err err = {0};
    static const char bad[] = "{\"collection\": 1}";

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(fy_write_all(fd, users_mapping, strlen(users_mapping)), 0);
    assert_int_equal(fy_mapping_load(path, &m, &err), 0);
    assert_int_equal(m->ntables, 6);
    fy_mapping_free(m);

    /* Errors name the file. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, bad, strlen(bad), 0), (ssize_t)strlen(bad));
    assert_int_equal(fy_mapping_load(path, &m, &err), FERRY_ECONFIG);
    assert_null(m);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, ": mapping: \"collection\" must be"));
    close(fd);
    unlink(path);

    assert_int_equal(fy_mapping_load(path, &m, &err), FERRY_ECONFIG);
    assert_null(m);
    assert_non_null(strstr(err.msg, "cannot open mapping"));
    fy_mapping_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_object_collection),
        cmocka_unit_test(test_parse_array_collection),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_to_json_form),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
