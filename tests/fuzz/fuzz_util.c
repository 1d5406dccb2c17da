/* SPDX-License-Identifier: MIT */
#include "fuzz_util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/keys.h"
#include "fy.h"

static char dir[64];
static char *tpl;   /* the template store's bytes */
static size_t ntpl; /* and their count */

static const char contract_text[] =
    "{\"version\": 1, \"tables\": ["
    "{\"name\": \"t\", \"primary_key\": [\"id\", \"name\"], \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\"},"
    "{\"name\": \"name\", \"type\": \"text\"},"
    "{\"name\": \"n\", \"type\": \"integer\", \"default\": 3},"
    "{\"name\": \"score\", \"type\": \"double precision\"},"
    "{\"name\": \"amount\", \"type\": \"numeric\"},"
    "{\"name\": \"ok\", \"type\": \"boolean\"},"
    "{\"name\": \"raw\", \"type\": \"bytea\"},"
    "{\"name\": \"at\", \"type\": \"timestamptz\"},"
    "{\"name\": \"day\", \"type\": \"date\"},"
    "{\"name\": \"doc\", \"type\": \"jsonb\"},"
    "{\"name\": \"file\", \"type\": \"text\"},"
    "{\"name\": \"device\", \"type\": \"text\"}],"
    " \"device_column\": \"device\", \"blob_columns\": [\"file\"]},"
    "{\"name\": \"shifts\", \"primary_key\": [\"id\"],"
    " \"region_column\": \"region\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"text\", \"not_null\": true},"
    "{\"name\": \"region\", \"type\": \"text\"},"
    "{\"name\": \"hours\", \"type\": \"numeric\", \"not_null\": true}]}]}";

static void cleanup(void)
{
    char cmd[128];

    if (!dir[0])
        return;
    /* Only our own folder, made by mkdtemp below. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: cannot remove %s\n", dir);
}

const char *fuzz_dir(void)
{
    if (dir[0])
        return dir;
    snprintf(dir, sizeof(dir), "%s/ferry-fuzz-XXXXXX", fy_tmp_dir(NULL));
    if (!mkdtemp(dir))
        fuzz_die("mkdtemp", NULL);
    atexit(cleanup);
    return dir;
}

void fuzz_die(const char *what, const struct ferry_err *err)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, err ? err->msg : "failed");
    abort();
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || fy_write_all(fd, (const char *)data, size) < 0)
        fuzz_die(path, NULL);
    close(fd);
    return path;
}

const struct fy_contract *fuzz_contract(void)
{
    static struct fy_contract *c;
    struct ferry_err err = {0};

    if (!c &&
        fy_contract_parse(contract_text, strlen(contract_text), &c, &err) < 0)
        fuzz_die("contract", &err);
    return c;
}

void fuzz_key(const char *text, struct fy_key *k)
{
    memset(k, 0, sizeof(*k));
    if (fy_key_parse(text, strlen(text), k->id, k->hash) < 0)
        fuzz_die("key", NULL);
    k->device = strcmp(text, FUZZ_ADMIN_KEY) == 0 ? "admin" : "dev1";
    k->region = strcmp(text, FUZZ_REGION_KEY) == 0 ? "north" : NULL;
    k->admin = strcmp(text, FUZZ_ADMIN_KEY) == 0;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long len;

    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)len)) &&
        fread(p, 1, (size_t)len, f) == (size_t)len) {
        *n = (size_t)len;
    } else {
        free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

static void make_template(void)
{
    static const char *const keys[] = {FUZZ_KEY, FUZZ_ADMIN_KEY,
                                       FUZZ_REGION_KEY};
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    char url[128], path[128];

    snprintf(path, sizeof(path), "%s/template.db", fuzz_dir());
    snprintf(url, sizeof(url), "sqlite:%s", path);
    if (fy_store_open(url, &st, &err) < 0 ||
        fy_store_migrate(st, fuzz_contract(), &err) < 0)
        fuzz_die("template store", &err);
    for (size_t i = 0; i < FY_ARRAY_LEN(keys); i++) {
        struct fy_key k;

        fuzz_key(keys[i], &k);
        if (fy_store_key_put(st, &k, &err) < 0)
            fuzz_die("key", &err);
    }
    fy_store_close(st);
    tpl = slurp(path, &ntpl);
    if (!tpl)
        fuzz_die(path, NULL);
}

static struct fy_store_pool *pool;
static bool dirty;

static void drop_store(void)
{
    fy_store_pool_free(pool);
    pool = NULL;
}

struct fy_store_pool *fuzz_store(void)
{
    struct ferry_err err = {0};
    char url[128], path[128];

    if (pool && !dirty)
        return pool;
    if (!tpl) {
        make_template();
        atexit(drop_store);
    }
    drop_store();
    dirty = false;
    snprintf(path, sizeof(path), "%s/store.db-wal", fuzz_dir());
    unlink(path);
    snprintf(path, sizeof(path), "%s/store.db-shm", fuzz_dir());
    unlink(path);
    snprintf(url, sizeof(url), "sqlite:%s",
             fuzz_file("store.db", (const uint8_t *)tpl, ntpl));
    if (fy_store_pool_new(url, 1, &pool, &err) < 0)
        fuzz_die("store", &err);
    return pool;
}

void fuzz_store_dirty(void)
{
    dirty = true;
}
