/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for API keys (lib/server/keys.h): the key format, parsing, and
 * verification against a real SQLite store in a temporary folder.
 */
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

#include "server/keys.h"
#include "fy.h"

static const char contract_text[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"notes\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\"},"
    "{\"name\": \"device\", \"type\": \"text\"},"
    "{\"name\": \"body\", \"type\": \"text\"}],"
    " \"primary_key\": [\"id\"], \"device_column\": \"device\"}]}";

struct fx {
    char dir[64];
    struct fy_contract *contract;
    struct fy_store *st;
};

static bool lower_hex(const char *s, size_t n)
{
    return strspn(s, "0123456789abcdef") >= n;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct ferry_err err = {0};
    char url[128];

    if (!fx)
        return -1;
    *state = fx;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-unit-keys-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/s.db", fx->dir);
    if (fy_contract_parse(contract_text, strlen(contract_text), &fx->contract,
                          &err) != 0 ||
        fy_store_open(url, &fx->st, &err) != 0 ||
        fy_store_migrate(fx->st, fx->contract, &err) != 0) {
        print_error("setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    static const char *const files[] = {"s.db", "s.db-wal", "s.db-shm",
                                        "s.db-journal"};
    struct fx *fx = *state;
    char path[128];
    int rc;

    fy_store_close(fx->st);
    fy_contract_free(fx->contract);
    for (size_t i = 0; i < FY_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", fx->dir, files[i]);
        unlink(path);
    }
    rc = fx->dir[0] ? rmdir(fx->dir) : 0;
    free(fx);
    return rc;
}

/* Generates a key for device and stores it (expiring at expires, or 0). */
static void make_key(struct fx *fx, const char *device, int64_t expires,
                     struct fy_key *rec, char key[FY_KEY_LEN + 1])
{
    struct ferry_err err = {0};

    assert_int_equal(fy_key_generate(device, NULL, false, rec, key, &err), 0);
    rec->expires_at = expires;
    if (fy_store_key_put(fx->st, rec, &err) != 0)
        fail_msg("key_put: %s", err.msg);
}

static void test_generate_format(void **state)
{
    struct fy_key rec;
    struct ferry_err err = {0};
    char key[FY_KEY_LEN + 1];

    (void)state;
    memset(key, 'Z', sizeof(key));
    assert_int_equal(fy_key_generate("pc1", "north", true, &rec, key, &err), 0);
    assert_int_equal(FY_KEY_LEN, 3 + 16 + 1 + 64);
    assert_int_equal(strlen(key), FY_KEY_LEN);
    assert_memory_equal(key, "fy_", 3);
    assert_true(lower_hex(key + 3, 16));
    assert_int_equal(key[19], '.');
    assert_true(lower_hex(key + 20, 64));

    assert_int_equal(strlen(rec.id), 16);
    assert_memory_equal(rec.id, key + 3, 16);
    assert_int_equal(strlen(rec.hash), 64);
    assert_true(lower_hex(rec.hash, 64));
    /* Only a hash of the secret is kept, never the secret itself. */
    assert_memory_not_equal(rec.hash, key + 20, 64);
    assert_string_equal(rec.device, "pc1");
    assert_string_equal(rec.region, "north");
    assert_true(rec.admin);
    fy_key_release(&rec);
    assert_null(rec.device);
    assert_null(rec.region);
}

static void test_generate_unique(void **state)
{
    struct fy_key a, b;
    char ka[FY_KEY_LEN + 1], kb[FY_KEY_LEN + 1];

    (void)state;
    assert_int_equal(fy_key_generate("pc1", NULL, false, &a, ka, NULL), 0);
    assert_int_equal(fy_key_generate("pc1", NULL, false, &b, kb, NULL), 0);
    assert_null(a.region);
    assert_false(a.admin);
    assert_string_not_equal(ka, kb);
    assert_string_not_equal(a.id, b.id);
    assert_string_not_equal(a.hash, b.hash);
    fy_key_release(&a);
    fy_key_release(&b);
}

static void test_generate_rejects_bad_names(void **state)
{
    struct fy_key rec;
    struct ferry_err err = {0};
    char key[FY_KEY_LEN + 1];

    (void)state;
    assert_int_equal(fy_key_generate("", NULL, false, &rec, key, &err),
                     FERRY_EINVAL);
    fy_key_release(&rec);
    assert_int_equal(fy_key_generate("pc 1", NULL, false, &rec, key, &err),
                     FERRY_EINVAL);
    fy_key_release(&rec);
    assert_int_equal(fy_key_generate(NULL, NULL, false, &rec, key, &err),
                     FERRY_EINVAL);
    fy_key_release(&rec);
    assert_int_equal(fy_key_generate("pc1", "a/b", false, &rec, key, &err),
                     FERRY_EINVAL);
    fy_key_release(&rec);
}

static void test_parse_roundtrip(void **state)
{
    struct fy_key rec;
    char key[FY_KEY_LEN + 1], id[FY_KEY_ID_LEN + 1], hash[65];

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fy_key_generate("dev", NULL, false, &rec, key, NULL),
                         0);
        assert_int_equal(fy_key_parse(key, strlen(key), id, hash), 0);
        assert_string_equal(id, rec.id);
        assert_string_equal(hash, rec.hash);
        fy_key_release(&rec);
    }
}

static void test_parse_rejects(void **state)
{
    static const struct {
        size_t at;
        char c;
    } edits[] = {
        {0, 'F'},  {1, 'x'},  {2, '-'},
        {19, '_'}, {19, 'a'}, {3, 'A'}, /* upper-case hex in the id */
        {10, 'g'},                      /* not hex */
        {20, 'B'},                      /* upper-case hex in the secret */
        {83, 'F'}, {50, ' '}, {83, '\0'},
    };
    struct fy_key rec;
    char key[FY_KEY_LEN + 1], bad[FY_KEY_LEN + 2];
    char id[FY_KEY_ID_LEN + 1], hash[65];

    (void)state;
    assert_int_equal(fy_key_generate("dev", NULL, false, &rec, key, NULL), 0);
    fy_key_release(&rec);

    /* Wrong lengths. */
    assert_int_equal(fy_key_parse(key, FY_KEY_LEN - 1, id, hash), FERRY_EAUTH);
    assert_int_equal(fy_key_parse(key, 0, id, hash), FERRY_EAUTH);
    memcpy(bad, key, FY_KEY_LEN);
    bad[FY_KEY_LEN] = 'a';
    bad[FY_KEY_LEN + 1] = '\0';
    assert_int_equal(fy_key_parse(bad, FY_KEY_LEN + 1, id, hash), FERRY_EAUTH);

    /* Wrong prefix, separator or digits. */
    for (size_t i = 0; i < FY_ARRAY_LEN(edits); i++) {
        memcpy(bad, key, FY_KEY_LEN + 1);
        bad[edits[i].at] = edits[i].c;
        if (fy_key_parse(bad, FY_KEY_LEN, id, hash) != FERRY_EAUTH)
            fail_msg("accepted key with '%c' at %zu", edits[i].c, edits[i].at);
    }
}

/* The shape check alone, used before any store connection is taken. */
static void test_verify_shape(void **state)
{
    struct ferry_err err = {0};
    struct fy_key rec;
    char key[FY_KEY_LEN + 1];

    (void)state;
    assert_int_equal(fy_key_generate("dev", NULL, false, &rec, key, NULL), 0);
    fy_key_release(&rec);
    assert_int_equal(fy_key_verify_shape(key, FY_KEY_LEN, &err), 0);
    assert_int_equal(fy_key_verify_shape(key, FY_KEY_LEN - 1, &err),
                     FERRY_EAUTH);
    assert_string_equal(err.msg, "the API key is not valid");
    key[5] = 'G';
    assert_int_equal(fy_key_verify_shape(key, FY_KEY_LEN, NULL), FERRY_EAUTH);
    assert_int_equal(fy_key_verify_shape("", 0, NULL), FERRY_EAUTH);
}

static void test_verify_valid(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec, got;
    struct ferry_err err = {0};
    char key[FY_KEY_LEN + 1];

    assert_int_equal(fy_key_generate("pc1", "north", true, &rec, key, &err), 0);
    assert_int_equal(fy_store_key_put(fx->st, &rec, &err), 0);
    if (fy_key_verify(fx->st, key, strlen(key), &got, &err) != 0)
        fail_msg("verify failed: %s", err.msg);
    assert_string_equal(got.id, rec.id);
    assert_string_equal(got.device, "pc1");
    assert_string_equal(got.region, "north");
    assert_true(got.admin);
    assert_int_equal(got.revoked_at, 0);
    fy_key_release(&got);
    fy_key_release(&rec);
}

static void test_verify_future_expiry(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec, got;
    struct ferry_err err = {0};
    char key[FY_KEY_LEN + 1];

    make_key(fx, "pc2", (int64_t)time(NULL) + 3600, &rec, key);
    if (fy_key_verify(fx->st, key, strlen(key), &got, &err) != 0)
        fail_msg("verify failed: %s", err.msg);
    assert_string_equal(got.device, "pc2");
    fy_key_release(&got);
    fy_key_release(&rec);
}

/* Verification of text must fail with FERRY_EAUTH and a message. */
static void verify_fails(struct fx *fx, const char *text, size_t len)
{
    struct fy_key got;
    struct ferry_err err = {0};
    int rc = fy_key_verify(fx->st, text, len, &got, &err);

    if (rc != FERRY_EAUTH)
        fail_msg("verify gave %d, want EAUTH", rc);
    assert_int_equal(err.code, FERRY_EAUTH);
    assert_true(err.msg[0] != '\0');
    /* Releasing what a failed verify left is safe. */
    fy_key_release(&got);
}

static void test_verify_wrong_secret(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec;
    char key[FY_KEY_LEN + 1];

    make_key(fx, "pc1", 0, &rec, key);
    key[FY_KEY_LEN - 1] = key[FY_KEY_LEN - 1] == '0' ? '1' : '0';
    verify_fails(fx, key, strlen(key));
    key[FY_KEY_LEN - 1] = key[FY_KEY_LEN - 1] == '0' ? '1' : '0';
    key[25] = key[25] == 'a' ? 'b' : 'a';
    verify_fails(fx, key, strlen(key));
    fy_key_release(&rec);
}

static void test_verify_unknown_id(void **state)
{
    struct fx *fx = *state;
    struct fy_key stored, other;
    char key[FY_KEY_LEN + 1], unknown[FY_KEY_LEN + 1];

    make_key(fx, "pc1", 0, &stored, key);
    /* A well-formed key that was never stored. */
    assert_int_equal(fy_key_generate("pc1", NULL, false, &other, unknown, NULL),
                     0);
    verify_fails(fx, unknown, strlen(unknown));
    /* The stored key's secret under another id. */
    memcpy(unknown + 20, key + 20, 64);
    verify_fails(fx, unknown, strlen(unknown));
    fy_key_release(&stored);
    fy_key_release(&other);
}

static void test_verify_revoked(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec, got;
    struct ferry_err err = {0};
    char key[FY_KEY_LEN + 1];

    make_key(fx, "pc1", 0, &rec, key);
    assert_int_equal(fy_key_verify(fx->st, key, strlen(key), &got, &err), 0);
    fy_key_release(&got);
    assert_int_equal(fy_store_key_revoke(fx->st, rec.id, &err), 0);
    verify_fails(fx, key, strlen(key));
    fy_key_release(&rec);
}

static void test_verify_expired(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec;
    char key[FY_KEY_LEN + 1];

    make_key(fx, "pc1", (int64_t)time(NULL) - 60, &rec, key);
    verify_fails(fx, key, strlen(key));
    fy_key_release(&rec);
}

static void test_verify_malformed(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec;
    char key[FY_KEY_LEN + 1];

    make_key(fx, "pc1", 0, &rec, key);
    verify_fails(fx, "", 0);
    verify_fails(fx, "Bearer x", 8);
    verify_fails(fx, key, FY_KEY_LEN - 1);
    key[3] = 'G';
    verify_fails(fx, key, strlen(key));
    fy_key_release(&rec);
}

/* verify of text: its code, its wire code, whether the previous secret. */
static int verify_as(struct fx *fx, const char *text, int *wire, bool *prev)
{
    struct fy_key got;
    struct ferry_err err = {0};
    int rc = fy_key_verify(fx->st, text, strlen(text), &got, &err);

    *wire = err.wire;
    *prev = rc == 0 && got.previous;
    fy_key_release(&got);
    return rc;
}

/* The old secret within the overlap, after it, and a second rotation. */
static void test_verify_rotated(void **state)
{
    struct fx *fx = *state;
    struct fy_key rec;
    struct ferry_err err = {0};
    char old[FY_KEY_LEN + 1], mid[FY_KEY_LEN + 1], cur[FY_KEY_LEN + 1];
    char hash[65];
    int wire;
    bool prev;

    make_key(fx, "pc1", 0, &rec, old);
    assert_int_equal(fy_key_new_secret(rec.id, hash, mid, &err), 0);
    assert_memory_equal(mid, old, 3 + FY_KEY_ID_LEN + 1); /* same id */
    assert_memory_not_equal(mid, old, FY_KEY_LEN);
    assert_int_equal(fy_store_key_rotate(fx->st, rec.id, hash, 3600, &err), 0);
    assert_int_equal(verify_as(fx, mid, &wire, &prev), 0);
    assert_false(prev);
    assert_int_equal(verify_as(fx, old, &wire, &prev), 0);
    assert_true(prev);
    /* A second rotation with no overlap: mid is refused as rotated at
       once, old is no secret of this key any more. */
    assert_int_equal(fy_key_new_secret(rec.id, hash, cur, &err), 0);
    assert_int_equal(fy_store_key_rotate(fx->st, rec.id, hash, 0, &err), 0);
    assert_int_equal(verify_as(fx, cur, &wire, &prev), 0);
    assert_int_equal(verify_as(fx, mid, &wire, &prev), FERRY_EAUTH);
    assert_int_equal(wire, FERRY_WIRE_KEY_ROTATED);
    assert_int_equal(verify_as(fx, old, &wire, &prev), FERRY_EAUTH);
    assert_int_equal(wire, 0);
    /* Revoked: neither secret, and no rotation of it. */
    assert_int_equal(fy_store_key_revoke(fx->st, rec.id, &err), 0);
    assert_int_equal(verify_as(fx, cur, &wire, &prev), FERRY_EAUTH);
    assert_int_equal(fy_store_key_rotate(fx->st, rec.id, hash, 60, &err),
                     FERRY_ECONFLICT);
    assert_int_equal(
        fy_store_key_rotate(fx->st, "0000000000000000", hash, 60, &err),
        FERRY_ENOTFOUND);
    fy_key_release(&rec);
}

static void test_duration(void **state)
{
    static const struct {
        const char *text;
        int64_t secs; /* -1: refused */
    } cases[] = {
        {"90s", 90},
        {"15m", 900},
        {"12h", 43200},
        {"30d", 2592000},
        {"36500d", 3153600000LL},
        {"36501d", -1},
        {"0s", -1},
        {"s", -1},
        {"10", -1},
        {"-5m", -1},
        {"5w", -1},
        {"1.5h", -1},
        {"", -1},
        {"99999999999s", -1},
    };

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        int64_t got = -1;
        int rc = fy_key_duration(cases[i].text, &got);

        if (rc < 0)
            got = -1;
        if (got != cases[i].secs)
            fail_msg("'%s': %lld, want %lld", cases[i].text, (long long)got,
                     (long long)cases[i].secs);
    }
    assert_int_equal(fy_key_duration(NULL, &(int64_t){0}), FERRY_EINVAL);
}

static void test_warn_due(void **state)
{
    (void)state;
    assert_true(fy_key_warn_due("ab00000000000001", 1000));
    assert_false(fy_key_warn_due("ab00000000000001", 1059));
    /* Another key in the same slot is told at once, and takes it. */
    assert_true(fy_key_warn_due("ab00000000000002", 1059));
    assert_true(fy_key_warn_due("ab00000000000001", 1059));
    assert_true(fy_key_warn_due("cd00000000000001", 1000));
    assert_true(fy_key_warn_due("ab00000000000001", 1119));
}

static void test_contract_cannot_alias_key_table(void **state)
{
    static const char text[] =
        "{\"version\": 2, \"tables\": [{\"name\": \"ferry_api_keys\","
        " \"columns\": [{\"name\": \"id\", \"type\": \"text\"},"
        " {\"name\": \"note\", \"type\": \"text\"}],"
        " \"primary_key\": [\"id\"]}]}";
    struct fx *fx = *state;
    struct fy_contract *c = NULL;
    struct ferry_err err = {0};

    if (fy_contract_parse(text, strlen(text), &c, &err) == 0) {
        int rc = fy_store_migrate(fx->st, c, &err);

        fy_contract_free(c);
        assert_int_not_equal(rc, 0);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_format),
        cmocka_unit_test(test_generate_unique),
        cmocka_unit_test(test_generate_rejects_bad_names),
        cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_verify_shape),
        T(test_verify_valid),
        T(test_verify_future_expiry),
        T(test_verify_wrong_secret),
        T(test_verify_unknown_id),
        T(test_verify_revoked),
        T(test_verify_expired),
        T(test_verify_malformed),
        T(test_verify_rotated),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_warn_due),
        T(test_contract_cannot_alias_key_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
