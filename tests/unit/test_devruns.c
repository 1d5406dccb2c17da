/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the device runs a ferryd adds up (lib/server/devruns.h):
 * requests of one run add up into one history row and the device's status
 * row, runs stay apart, a flush that fails keeps what it held for the
 * next one, and adds from several threads lose nothing. Against a real
 * SQLite store in a temporary directory.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/devruns.h"
#include "fy.h"

static const char contract_json[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"t\", \"primary_key\":"
    " [\"id\"], \"columns\": [{\"name\": \"id\", \"type\": \"text\"}]}]}";

struct fx {
    char dir[64];
    char url[128];
    struct fy_contract *contract;
    struct fy_store *st;
    struct fy_devruns *d;
};

static int teardown(void **state);

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct ferry_err err = {0};

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-devruns.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->url, sizeof(fx->url), "sqlite:%s/s.db", fx->dir);
    if (fy_contract_parse(contract_json, strlen(contract_json), &fx->contract,
                          &err) < 0 ||
        fy_store_open(fx->url, &fx->st, &err) < 0 ||
        fy_devruns_new(&fx->d, &err) < 0) {
        *state = fx;
        teardown(state); /* cmocka runs no teardown after a failed setup */
        *state = NULL;
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char path[128];

    if (!fx)
        return 0;
    fy_devruns_free(fx->d);
    fy_store_close(fx->st);
    fy_contract_free(fx->contract);
    snprintf(path, sizeof(path), "%s/s.db", fx->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/s.db-wal", fx->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/s.db-shm", fx->dir);
    unlink(path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void add(struct fx *fx, const char *device, const char *token,
                const char *op, int64_t records, const char *error)
{
    struct fy_device_run r = {.device = device,
                              .token = token,
                              .op = op,
                              .server = "test/1",
                              .records = records,
                              .error = error};

    fy_devruns_add(fx->d, &r);
}

/* What the store holds of device, as one line (see show_status). */
struct shown {
    char text[512];
};

static int status_cb(const struct fy_run_status *s, void *ud)
{
    struct shown *o = ud;
    size_t n = strlen(o->text);

    snprintf(o->text + n, sizeof(o->text) - n,
             "%s %s ok=%lld fail=%lld rec=%lld err=%s:", s->name, s->status,
             (long long)s->successes, (long long)s->failures,
             (long long)s->last_records,
             s->last_error ? s->last_error : "null");
    return 0;
}

static int run_cb(const struct fy_run *r, void *ud)
{
    struct shown *o = ud;
    size_t n = strlen(o->text);

    snprintf(o->text + n, sizeof(o->text) - n, " [%s/%s x%lld r=%lld]",
             r->status, r->op ? r->op : "-", (long long)r->requests,
             (long long)r->records);
    return 0;
}

static const char *show(struct fx *fx, const char *device, struct shown *o)
{
    struct fy_status_req req = {
        .kind = "device", .name = device, .history = 10};
    struct ferry_err err = {0};

    o->text[0] = '\0';
    if (fy_store_run_status(fx->st, &req, status_cb, run_cb, o, &err) < 0)
        snprintf(o->text, sizeof(o->text), "error: %.400s", err.msg);
    return o->text;
}

static void migrate(struct fx *fx)
{
    struct ferry_err err = {0};

    assert_int_equal(fy_store_migrate(fx->st, fx->contract, &err), 0);
}

static void flush(struct fx *fx, long want)
{
    struct ferry_err err = {0};
    long n = -1;

    assert_int_equal(fy_devruns_flush(fx->d, fx->st, &n, &err), 0);
    assert_int_equal(n, want);
}

/* Requests of one run add up; another token is another run. */
static void test_adds_up(void **state)
{
    struct fx *fx = *state;
    struct shown o;

    migrate(fx);
    add(fx, "d1", "t1", "push", 2, NULL);
    add(fx, "d1", "t1", "pull", 3, NULL);
    add(fx, "d1", "t1", "push", 0, "boom");
    /* the status row follows the newest request */
    nanosleep(&(struct timespec){.tv_nsec = 3000000}, NULL);
    add(fx, "d1", "t2", "push", 4, NULL);
    add(fx, "d2", "t1", "pull", 1, NULL);
    flush(fx, 3);
    flush(fx, 0); /* nothing left */
    assert_string_equal(show(fx, "d1", &o),
                        "d1 success ok=3 fail=1 rec=4 err=boom:"
                        " [success/push x1 r=4] [failed/sync x3 r=5]");
    assert_string_equal(show(fx, "d2", &o),
                        "d2 success ok=1 fail=0 rec=1 err=null:"
                        " [success/pull x1 r=1]");
    /* A later flush adds to the same run's row. */
    add(fx, "d2", "t1", "pull", 6, NULL);
    flush(fx, 1);
    assert_string_equal(show(fx, "d2", &o),
                        "d2 success ok=2 fail=0 rec=6 err=null:"
                        " [success/pull x2 r=7]");
}

/* A flush the store refuses keeps everything for the next one. */
static void test_failed_flush_keeps(void **state)
{
    struct fx *fx = *state;
    struct ferry_err err = {0};
    struct shown o;
    long n = -1;

    add(fx, "d1", "t1", "push", 2, NULL);
    /* Not migrated yet: no tables to write to. */
    assert_true(fy_devruns_flush(fx->d, fx->st, &n, &err) < 0);
    add(fx, "d1", "t1", "push", 3, NULL);
    migrate(fx);
    flush(fx, 1);
    assert_string_equal(show(fx, "d1", &o),
                        "d1 success ok=2 fail=0 rec=3 err=null:"
                        " [success/push x2 r=5]");
}

struct adder {
    struct fx *fx;
    int n;
};

static void *adder_main(void *arg)
{
    struct adder *a = arg;

    for (int i = 0; i < a->n; i++)
        add(a->fx, "d1", "t1", "push", 1, NULL);
    return NULL;
}

/* Adds from several threads while flushes run: every request counted. */
static void test_threads(void **state)
{
    struct fx *fx = *state;
    struct adder a = {fx, 2000};
    pthread_t t[4];
    struct ferry_err err = {0};
    struct shown o;
    long n;

    migrate(fx);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder_main, &a), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(fy_devruns_flush(fx->d, fx->st, &n, &err), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(fy_devruns_flush(fx->d, fx->st, &n, &err), 0);
    assert_string_equal(show(fx, "d1", &o),
                        "d1 success ok=8000 fail=0 rec=1 err=null:"
                        " [success/push x8000 r=8000]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adds_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_flush_keeps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
