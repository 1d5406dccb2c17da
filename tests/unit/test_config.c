/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the agent's config.json (lib/core/config.h): the seed-000
 * and flat shapes, defaults, database path resolution and every rejection.
 * Files live in a fresh mkdtemp folder per test, removed afterwards.
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
#include <jansson.h>

#include "core/config.h"
#include "fy.h"

struct fx {
    char dir[64];
    char path[128]; /* dir/config.json */
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-unit-config-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/config.json", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc;

    unlink(fx->path);
    rc = rmdir(fx->dir);
    if (rc < 0) {
        /* A failed test may leave a temp file of an atomic replace. */
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        rc = system(cmd);
    }
    free(fx);
    return rc;
}

static void write_config(const struct fx *fx, const char *text)
{
    FILE *f = fopen(fx->path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void path_in(const struct fx *fx, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", fx->dir, name);
}

#define SEED000                                                                \
    "{\"ingestion\": {\"enabled\": true, \"mode\": \"api\","                   \
    " \"api\": {\"base_url\": \"http://127.0.0.1:8080\","                      \
    " \"auth_header\": \"X-Ingest-Key\", \"auth_env\": \"INGEST_KEY\"},"       \
    " \"batch_size\": 200},"                                                   \
    " \"ferry\": {\"database\": \"app.db\", \"device\": \"pc1\"}}"

/* Loads text expecting FERRY_ECONFIG; cfg must come back empty. */
static void load_bad(struct fx *fx, const char *text)
{
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    int rc;

    write_config(fx, text);
    rc = fy_agent_config_load(fx->path, &cfg, &err);
    if (rc != FERRY_ECONFIG) {
        if (rc == 0)
            fy_agent_config_release(&cfg);
        fail_msg("got %d, want ECONFIG, for %s", rc, text);
    }
    assert_int_equal(err.code, FERRY_ECONFIG);
    assert_true(err.msg[0] != '\0');
    assert_null(cfg.path);
    assert_null(cfg.base_url);
    assert_null(cfg.database);
    assert_null(cfg.device);
    fy_agent_config_release(&cfg);
}

static void test_seed000_shape(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char db[160];

    write_config(fx, SEED000);
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    path_in(fx, "app.db", db, sizeof(db));
    assert_string_equal(cfg.path, fx->path);
    assert_string_equal(cfg.base_url, "http://127.0.0.1:8080");
    assert_string_equal(cfg.auth_header, "X-Ingest-Key");
    assert_string_equal(cfg.auth_env, "INGEST_KEY");
    assert_int_equal(cfg.batch_size, 200);
    assert_string_equal(cfg.database, db);
    assert_string_equal(cfg.device, "pc1");
    /* No "compress" and a loopback base_url: not gzipped. */
    assert_false(cfg.compress);
    assert_true(cfg.timeout_s > 0);
    fy_agent_config_release(&cfg);
    assert_null(cfg.path);
    assert_null(cfg.database);
    /* Releasing twice is harmless. */
    fy_agent_config_release(&cfg);
}

static void test_flat_shape(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};

    write_config(fx, "{\"ingestion\": {\"mode\": \"api\","
                     " \"base_url\": \"https://ingest.example.com/x\","
                     " \"auth_header\": \"Authorization\","
                     " \"auth_env\": \"TOKEN\", \"batch_size\": 10000},"
                     " \"ferry\": {\"database\": \"/var/lib/app/app.db\","
                     " \"device\": \"till-7.shop_2:a@b\","
                     " \"compress\": false}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_string_equal(cfg.base_url, "https://ingest.example.com/x");
    assert_string_equal(cfg.auth_header, "Authorization");
    assert_string_equal(cfg.auth_env, "TOKEN");
    assert_int_equal(cfg.batch_size, 10000);
    /* An absolute database path is kept as it is. */
    assert_string_equal(cfg.database, "/var/lib/app/app.db");
    assert_string_equal(cfg.device, "till-7.shop_2:a@b");
    assert_false(cfg.compress);
    fy_agent_config_release(&cfg);
}

static void test_defaults(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};

    write_config(fx, "{\"ingestion\": {\"base_url\": \"http://h:1\"},"
                     " \"ferry\": {\"database\": \"a.db\","
                     " \"device\": \"d\"}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_string_equal(cfg.auth_header, "X-Api-Key");
    assert_string_equal(cfg.auth_env, "FERRY_API_KEY");
    assert_int_equal(cfg.batch_size, 500);
    assert_true(cfg.compress);
    assert_int_equal(cfg.timeout_s, 30);
    fy_agent_config_release(&cfg);

    /* Explicit nulls under "api" also mean "use the default". */
    write_config(fx, "{\"ingestion\": {\"api\": {\"base_url\": \"http://h\","
                     " \"auth_header\": null, \"auth_env\": null}},"
                     " \"ferry\": {\"database\": \"a.db\","
                     " \"device\": \"d\"}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_string_equal(cfg.auth_header, "X-Api-Key");
    assert_string_equal(cfg.auth_env, "FERRY_API_KEY");
    fy_agent_config_release(&cfg);
}

/* Loads base_url with "compress" as given (NULL: absent); the result. */
static bool compress_for(const struct fx *fx, const char *url,
                         const char *compress)
{
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char text[512];
    bool on;

    snprintf(text, sizeof(text),
             "{\"ingestion\": {\"base_url\": \"%s\"}, \"ferry\":"
             " {\"database\": \"a.db\", \"device\": \"d\"%s%s}}",
             url, compress ? ", \"compress\": " : "", compress ? compress : "");
    write_config(fx, text);
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load of %s failed: %s", text, err.msg);
    on = cfg.compress;
    fy_agent_config_release(&cfg);
    return on;
}

/*
 * gzip by default except on loopback, where it costs more CPU than it
 * saves; "compress" decides either way when given.
 */
static void test_compress_default(void **state)
{
    static const char *const loopback[] = {
        "http://127.0.0.1:8080",     "http://127.1.2.3",
        "https://localhost/ferry",   "http://LocalHost.:9",
        "http://[::1]:8080/x",       "http://user:pw@127.0.0.1:1",
        "http://[::ffff:127.0.0.1]", "http://127.0.0.1?x=@10.0.0.1",
    };
    static const char *const remote[] = {
        "https://ingest.example.com",
        "http://10.0.0.1:8080",
        "http://128.0.0.1",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://[::2]:1",
        "http://127.0.0.1@10.0.0.1/",
        "http://[fe80::1]",
        "http://1270.0.0.1",
        "http://0.0.0.0:8080",
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++) {
        if (!fy_url_is_loopback(loopback[i]))
            fail_msg("%s: not loopback", loopback[i]);
    }
    for (size_t i = 0; i < sizeof(remote) / sizeof(*remote); i++) {
        if (fy_url_is_loopback(remote[i]))
            fail_msg("%s: loopback", remote[i]);
    }
    /* What a loaded config makes of it, and "compress" over it both ways. */
    assert_false(compress_for(fx, loopback[0], NULL));
    assert_true(compress_for(fx, loopback[0], "true"));
    assert_false(compress_for(fx, loopback[0], "false"));
    assert_true(compress_for(fx, remote[0], NULL));
    assert_true(compress_for(fx, remote[0], "true"));
    assert_false(compress_for(fx, remote[0], "false"));
}

static void test_relative_database(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char db[160];

    write_config(fx, "{\"ingestion\": {\"base_url\": \"http://h\"},"
                     " \"ferry\": {\"database\": \"data/shop.db\","
                     " \"device\": \"d\"}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    path_in(fx, "data/shop.db", db, sizeof(db));
    assert_string_equal(cfg.database, db);
    fy_agent_config_release(&cfg);
}

static void test_missing_file(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};

    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), FERRY_ECONFIG);
    assert_int_equal(err.code, FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, fx->path));
    assert_null(cfg.path);
    fy_agent_config_release(&cfg);
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, NULL), FERRY_ECONFIG);
}

static void test_bad_json(void **state)
{
    struct fx *fx = *state;

    load_bad(fx, "");
    load_bad(fx, "{");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h\",}}");
    load_bad(fx, "[]");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h\"},"
                 " \"ingestion\": {}}");
}

static void test_batch_size_range(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    static const char *const bad[] = {"0",       "10001", "-1",
                                      "\"100\"", "1.5",   "4294967297"};
    char text[512];

    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"ingestion\": {\"base_url\": \"http://h\","
                 " \"batch_size\": %s},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}",
                 bad[i]);
        load_bad(fx, text);
    }
    write_config(fx,
                 "{\"ingestion\": {\"base_url\": \"http://h\","
                 " \"batch_size\": 1},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
    assert_int_equal(cfg.batch_size, 1);
    fy_agent_config_release(&cfg);
}

static void test_bad_mode(void **state)
{
    struct fx *fx = *state;

    load_bad(fx, "{\"ingestion\": {\"mode\": \"postgres\","
                 " \"base_url\": \"http://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    load_bad(fx, "{\"ingestion\": {\"mode\": 1, \"base_url\": \"http://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    load_bad(fx, "{\"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    load_bad(fx, "{\"ingestion\": \"api\","
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
}

static void test_bad_base_url(void **state)
{
    static const char *const bad[] = {
        "\"ftp://h\"", "\"127.0.0.1:8080\"", "\"http:/h\"",
        "\"\"",        "\"HTTPX://h\"",      "8080",
    };
    struct fx *fx = *state;
    char text[512];

    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"ingestion\": {\"api\": {\"base_url\": %s}},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}",
                 bad[i]);
        load_bad(fx, text);
    }
    load_bad(fx, "{\"ingestion\": {\"mode\": \"api\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
}

static void test_bad_device(void **state)
{
    static const char *const bad[] = {
        "\"\"", "\"pc 1\"", "\"a/b\"", "\"caf\\u00e9\"", "\"x\\ny\"", "12",
    };
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char text[512], name[132];

    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h\"},"
                 " \"ferry\": {\"database\": \"a.db\"}}");
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"ingestion\": {\"base_url\": \"http://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": %s}}",
                 bad[i]);
        load_bad(fx, text);
    }
    /* 128 characters is the longest name. */
    memset(name, 'n', 128);
    name[128] = '\0';
    snprintf(text, sizeof(text),
             "{\"ingestion\": {\"base_url\": \"http://h\"},"
             " \"ferry\": {\"database\": \"a.db\", \"device\": \"%s\"}}",
             name);
    write_config(fx, text);
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
    assert_string_equal(cfg.device, name);
    fy_agent_config_release(&cfg);
    memset(name, 'n', 129);
    name[129] = '\0';
    snprintf(text, sizeof(text),
             "{\"ingestion\": {\"base_url\": \"http://h\"},"
             " \"ferry\": {\"database\": \"a.db\", \"device\": \"%s\"}}",
             name);
    load_bad(fx, text);
}

static void test_missing_database(void **state)
{
    struct fx *fx = *state;

    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h\"},"
                 " \"ferry\": {\"device\": \"d\"}}");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h\"}}");
}

/* Merges in, writes the result; returns merge's code. */
static int init_into(struct fx *fx, const struct fy_agent_init *in)
{
    struct ferry_err err = {0};
    char *text = NULL, *old = NULL;
    int rc = fy_agent_config_merge(fx->path, in, &text, &old, &err);

    if (rc == 0)
        assert_int_equal(fy_agent_config_replace(fx->path, text, &err), 0);
    else
        assert_true(err.msg[0] != '\0');
    fy_free(text);
    fy_free(old);
    return rc;
}

static char *slurp(const struct fx *fx)
{
    FILE *f = fopen(fx->path, "rb");
    char *buf = calloc(1, 65536);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_write_then_load(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    struct fy_agent_init in = {.database = "/x/app.db",
                               .device = "pc9",
                               .base_url = "http://10.0.0.1:8080",
                               .auth_env = "MY_KEY",
                               .batch_size = 250};

    assert_int_equal(init_into(fx, &in), 0);
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_string_equal(cfg.database, "/x/app.db");
    assert_string_equal(cfg.device, "pc9");
    assert_string_equal(cfg.base_url, "http://10.0.0.1:8080");
    assert_string_equal(cfg.auth_env, "MY_KEY");
    assert_string_equal(cfg.auth_header, "X-Api-Key");
    assert_int_equal(cfg.batch_size, 250);
    fy_agent_config_release(&cfg);

    /* Another device or database only with force; the file is unchanged. */
    in.device = "pc10";
    assert_int_equal(init_into(fx, &in), FERRY_ECONFIG);
    in.device = "pc9";
    in.database = "/y/b.db";
    assert_int_equal(init_into(fx, &in), FERRY_ECONFIG);
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
    assert_string_equal(cfg.database, "/x/app.db");
    fy_agent_config_release(&cfg);
    in.force = true;
    assert_int_equal(init_into(fx, &in), 0);
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
    assert_string_equal(cfg.database, "/y/b.db");
    fy_agent_config_release(&cfg);
}

/*
 * The onboarding case: an app's own config with other sections, its own
 * auth_env and batch_size. Only "ferry" is added; everything else keeps
 * its value and its place, reals included.
 */
static void test_merge_keeps_the_rest(void **state)
{
    static const char app[] =
        "{\n  \"emp_id\": 7,\n  \"ingestion\": {\n    \"enabled\": true,\n"
        "    \"mode\": \"api\",\n    \"api\": {\n"
        "      \"base_url\": \"https://ingest.example.com\",\n"
        "      \"auth_header\": \"X-Api-Key\",\n"
        "      \"auth_env\": \"WFH_AGENT_API_KEY\"\n    },\n"
        "    \"db\": {\n      \"schema\": \"employee_monitor\",\n"
        "      \"url\": \"\",\n      \"url_env\": \"\"\n    },\n"
        "    \"batch_size\": 200\n  },\n  \"screenshots\": {\n"
        "    \"interval\": 0.1,\n    \"scale\": 1.5,\n    \"big\": 1e300,\n"
        "    \"list\": [\n      1,\n      \"two\",\n      null,\n"
        "      false\n    ]\n  }\n}\n";
    struct fx *fx = *state;
    struct fy_agent_init in = {.database = "/srv/app.db", .device = "pc1"};
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char *text;

    write_config(fx, app);
    assert_int_equal(init_into(fx, &in), 0);
    text = slurp(fx);
    /* The file as it was, up to its last brace, then the ferry section. */
    assert_memory_equal(text, app, strlen(app) - 3);
    assert_non_null(strstr(text + strlen(app) - 3,
                           "\"ferry\": {\n    \"database\": \"/srv/app.db\""));
    free(text);
    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
    assert_string_equal(cfg.auth_env, "WFH_AGENT_API_KEY");
    assert_int_equal(cfg.batch_size, 200);
    assert_string_equal(cfg.base_url, "https://ingest.example.com");
    fy_agent_config_release(&cfg);

    /* Values given on the command line go where the file keeps them. */
    in.base_url = "http://10.1.1.1:8080";
    in.batch_size = 50;
    assert_int_equal(init_into(fx, &in), 0);
    text = slurp(fx);
    assert_non_null(strstr(text, "\"api\": {\n      \"base_url\":"
                                 " \"http://10.1.1.1:8080\""));
    assert_non_null(strstr(text, "\"url_env\": \"\"\n    },\n"
                                 "    \"batch_size\": 50\n"));
    free(text);
}

/* A file init cannot use is refused and left exactly as it was. */
static void test_merge_refuses(void **state)
{
    static const char *const bad[] = {
        "{\"ingestion\": {\"mode\": \"postgres\","
        " \"db\": {\"url\": \"postgresql://u:p@h/db\"}}}",
        "{\"ingestion\": {\"api\": {\"base_url\": \"http://h\","
        " \"auth_header\": \"X-Key\\r\\nX-Evil: 1\"}}}",
        "{\"ingestion\": {\"base_url\": \"http://h\"}, \"ferry\": 3}",
        "{\"ingestion\": {\"base_url\": \"http://h\"},",
        "[1]",
        "{\"a\": 1, \"a\": 2, \"ingestion\": {\"base_url\": \"http://h\"}}",
        "{\"ingestion\": {\"mode\": \"api\"}}",
    };
    struct fx *fx = *state;
    struct fy_agent_init in = {.database = "/srv/app.db", .device = "pc1"};

    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        char *text;

        write_config(fx, bad[i]);
        if (init_into(fx, &in) != FERRY_ECONFIG)
            fail_msg("merged %s", bad[i]);
        text = slurp(fx);
        assert_string_equal(text, bad[i]);
        free(text);
    }
}

/* Header names and variable names are checked as a class. */
static void test_auth_names(void **state)
{
    static const char *const bad_header[] = {
        "X-Key\r\nX-Evil: 1",
        "X-Key\n",
        "X Key",
        "X-Key:",
        "X-Key:1",
        "\"quoted\"",
        "X\tKey",
        "caf\xc3\xa9",
        "X(Key)",
        "X/Key",
        "X;Key",
        "X=Key",
        "X@Key",
        "X[K]",
        "X{K}",
        "X\\K",
        "X?K",
        "X,K",
        "\x7f",
    };
    static const char *const bad_env[] = {
        "BAD VAR", "1KEY", "A-B",         "A=B", "A.B",
        "$A",      "A\nB", "caf\xc3\xa9", "A:B",
    };
    static const char *const good_header[] = {
        "X-Api-Key",
        "Authorization",
        "x_key",
        "X!#$%&'*+-.^_`|~1",
    };
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    json_t *j;
    char *text;

    assert_false(fy_http_token_valid(""));
    assert_false(fy_env_name_valid(""));
    assert_true(fy_env_name_valid("_K9"));
    for (size_t i = 0; i < FY_ARRAY_LEN(bad_header) + FY_ARRAY_LEN(bad_env) +
                               FY_ARRAY_LEN(good_header);
         i++) {
        size_t nh = FY_ARRAY_LEN(bad_header), ne = FY_ARRAY_LEN(bad_env);
        const char *h = i < nh         ? bad_header[i]
                        : i >= nh + ne ? good_header[i - nh - ne]
                                       : "X-Api-Key";
        const char *e = i >= nh && i < nh + ne ? bad_env[i - nh] : "KEY";

        j = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s}}", "ingestion",
                      "base_url", "http://h", "auth_header", h, "auth_env", e,
                      "ferry", "database", "a.db", "device", "d");
        text = json_dumps(j, 0);
        json_decref(j);
        if (i < nh + ne) {
            load_bad(fx, text);
        } else {
            write_config(fx, text);
            assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), 0);
            fy_agent_config_release(&cfg);
        }
        free(text);
    }
    /* A base_url cannot smuggle line breaks or spaces either. */
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h/\\r\\nX: 1\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"http://h/a b\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
}

static void test_missing_file_message(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};

    assert_int_equal(fy_agent_config_load(fx->path, &cfg, &err), FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "ferry init"));
    assert_non_null(strstr(err.msg, "-c FILE"));
    assert_null(strstr(err.msg, "line -1"));
}

/*
 * ferry.ca_file: absent is NULL (the system's store), relative is taken
 * from the config's folder, and a missing file, a folder, an empty string
 * or a non-string are refused at load, naming the setting.
 */
static void test_ca_file(void **state)
{
    struct fx *fx = *state;
    struct fy_agent_config cfg;
    struct ferry_err err = {0};
    char ca[160];
    FILE *f;

    write_config(fx,
                 "{\"ingestion\": {\"base_url\": \"https://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\"}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_null(cfg.ca_file);
    fy_agent_config_release(&cfg);

    path_in(fx, "ca.pem", ca, sizeof(ca));
    f = fopen(ca, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    write_config(fx, "{\"ingestion\": {\"base_url\": \"https://h\"},"
                     " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\","
                     " \"ca_file\": \"ca.pem\"}}");
    if (fy_agent_config_load(fx->path, &cfg, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    assert_string_equal(cfg.ca_file, ca);
    fy_agent_config_release(&cfg);

    load_bad(fx, "{\"ingestion\": {\"base_url\": \"https://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\","
                 " \"ca_file\": \"nothere.pem\"}}");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"https://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\","
                 " \"ca_file\": \"/tmp\"}}");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"https://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\","
                 " \"ca_file\": \"\"}}");
    load_bad(fx, "{\"ingestion\": {\"base_url\": \"https://h\"},"
                 " \"ferry\": {\"database\": \"a.db\", \"device\": \"d\","
                 " \"ca_file\": 1}}");
    unlink(ca);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_seed000_shape),
        T(test_flat_shape),
        T(test_defaults),
        T(test_compress_default),
        T(test_relative_database),
        T(test_missing_file),
        T(test_bad_json),
        T(test_batch_size_range),
        T(test_bad_mode),
        T(test_bad_base_url),
        T(test_bad_device),
        T(test_missing_database),
        T(test_write_then_load),
        T(test_merge_keeps_the_rest),
        T(test_merge_refuses),
        T(test_auth_names),
        T(test_missing_file_message),
        T(test_ca_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
