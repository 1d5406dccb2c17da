/* SPDX-License-Identifier: MIT */
/*
 * Blobs (server/blob.c) through ferryd's real HTTP server and API on a
 * SQLite store, driven by libcurl and raw sockets: the Content-Range and
 * Range parsers under hostile input, an upload streamed in parts, a body
 * cut short that keeps what arrived (the part in memory too), resume, GET
 * with Range from the store, the blob-reference check of rows and a file
 * stored from disk. The store's side on both engines is in test_store.c.
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

#include <fcntl.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "http/server.h"
#include "server/api.h"
#include "server/blob.h"
#include "server/keys.h"
#include "store/pool.h"
#include "fy.h"

#define MIB ((size_t)1 << 20)

static const char contract_text[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"shots\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\", \"not_null\": true},"
    "{\"name\": \"file\", \"type\": \"text\"},"
    "{\"name\": \"thumb\", \"type\": \"text\"}],"
    "\"primary_key\": [\"id\"], \"blob_columns\": [\"file\", \"thumb\"]}]}";

struct env {
    char dir[64];
    char url[128];
    struct fy_contract *contract;
    struct fy_store_pool *pool;
    struct fy_http_router *router;
    struct fy_http_server *srv;
    struct fy_api api;
    char key[FY_KEY_LEN + 1];
    char base[64];
    unsigned port;
};

/* ---- set-up --------------------------------------------------------------
 */

/* A migrated store with one key, as ferryd migrate and keys create do. */
static int make_store(struct env *e)
{
    struct fy_key rec = {0};
    struct fy_store *st = NULL;
    int rc = fy_key_generate("cam-1", NULL, false, &rec, e->key, NULL);

    if (rc == 0)
        rc = fy_store_open(e->url, &st, NULL);
    if (rc == 0)
        rc = fy_store_migrate(st, e->contract, NULL);
    if (rc == 0)
        rc = fy_store_key_put(st, &rec, NULL);
    fy_store_close(st);
    fy_key_release(&rec);
    return rc;
}

static int start(struct env *e)
{
    struct fy_http_config hc = {.listen = "127.0.0.1:0",
                                .max_body = 1 << 20,
                                .max_inflight = 8u << 20,
                                .max_conns = 16,
                                .timeout_s = 10};
    int rc = fy_contract_parse(contract_text, strlen(contract_text),
                               &e->contract, NULL);

    snprintf(e->url, sizeof(e->url), "sqlite:%s/s.db", e->dir);
    if (rc == 0)
        rc = make_store(e);
    if (rc == 0)
        rc = fy_store_pool_new(e->url, 2, &e->pool, NULL);
    if (rc == 0)
        rc = fy_api_router_new(&e->router, NULL);
    e->api = (struct fy_api){.pool = e->pool,
                             .contract = e->contract,
                             .pool_wait_ms = 5000,
                             .blob_max_bytes = 4 * MIB};
    hc.router = e->router;
    if (rc == 0)
        rc =
            fy_http_server_start(&hc, &fy_api_handlers, &e->api, &e->srv, NULL);
    if (rc == 0) {
        e->port = fy_http_server_port(e->srv);
        snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", e->port);
    }
    return rc;
}

/* No asserts: under allocation faults (label torture) setup may fail. */
static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    *state = e;
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_blob.XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    return start(e) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    char path[128];

    fy_http_server_stop(e->srv);
    fy_http_router_free(e->router);
    fy_store_pool_free(e->pool);
    fy_contract_free(e->contract);
    for (const char *const *s =
             (const char *const[]){"s.db", "s.db-wal", "s.db-shm", "f", NULL};
         *s; s++) {
        snprintf(path, sizeof(path), "%s/%s", e->dir, *s);
        unlink(path);
    }
    rmdir(e->dir);
    free(e);
    return 0;
}

/* ---- the parsers, hostile input -------------------------------------------
 */

static void test_content_range(void **state)
{
    static const char *const bad[] = {
        "",
        "bytes",
        "bytes ",
        "bytes 0-0/",
        "bytes=0-0/1",
        "bytes 1-0/5",
        "bytes 0-0/0",
        "bytes 0-5/5",
        "bytes -1-0/5",
        "bytes 0-0/*",
        "bytes */5",
        "Bytes 0-0/5",
        "bytes 0-0/5 ",
        " bytes 0-0/5",
        "bytes  0-0/5",
        "bytes +0-0/5",
        "bytes 0 -0/5",
        "bytes 0-0//5",
        "bytes 0x1-2/5",
        "bytes 00000000000000000000-0/5",
        "bytes 0-0/99999999999999999999",
        "bytes 0-0/18446744073709551616",
        "bytes 0-4611686018427387905/4611686018427387906",
        "bytes 0-0/5\n",
        "bytes 0-0/5,0-1/5",
    };
    struct ferry_err err = {0};
    uint64_t a, b, t;

    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        if (fy_blob_content_range(bad[i], &a, &b, &t, &err) != FERRY_EPARSE)
            fail_msg("'%s' was taken", bad[i]);
        assert_non_null(strstr(err.msg, "Content-Range"));
    }
    assert_int_equal(fy_blob_content_range("bytes 0-0/1", &a, &b, &t, &err), 0);
    assert_true(a == 0 && b == 0 && t == 1);
    assert_int_equal(fy_blob_content_range("bytes 1048576-2097151/3000000", &a,
                                           &b, &t, &err),
                     0);
    assert_true(a == 1048576 && b == 2097151 && t == 3000000);
    assert_int_equal(fy_blob_content_range("bytes 7-7/0008", &a, &b, &t, &err),
                     0);
    assert_true(a == 7 && b == 7 && t == 8);
}

/* Deterministic junk from an alphabet the parsers care about. */
static void junk(char *out, size_t cap, unsigned *seed)
{
    static const char alpha[] = "bytes =-/,*0123456789\t+x\xff";
    size_t n = (size_t)(rand_r(seed) % (int)cap);

    if (rand_r(seed) % 3 == 0 && n >= 6) {
        memcpy(out, rand_r(seed) % 2 ? "bytes " : "bytes=", 6);
        for (size_t i = 6; i < n; i++)
            out[i] = alpha[rand_r(seed) % (int)(sizeof(alpha) - 1)];
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = alpha[rand_r(seed) % (int)(sizeof(alpha) - 1)];
    }
    out[n] = '\0';
}

static void test_parsers_hostile(void **state)
{
    unsigned seed = 8;
    char h[48];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t a = 0, b = 0, t = 0, off = 0, len = 0,
                 size = (uint64_t)rand_r(&seed) % 4000;
        int rc;

        junk(h, sizeof(h) - 1, &seed);
        rc = fy_blob_content_range(h, &a, &b, &t, NULL);
        assert_true(rc == 0 || rc == FERRY_EPARSE);
        if (rc == 0)
            assert_true(a <= b && b < t && t <= ((uint64_t)1 << 62));
        rc = fy_http_range(h, size, &off, &len);
        assert_true(rc >= -1 && rc <= 1);
        if (rc == 1)
            assert_true(len > 0 && off < size && off + len <= size);
    }
}

/* ---- HTTP -----------------------------------------------------------------
 */

struct answer {
    long status;
    struct fy_buf body;
    char offset[32]; /* Upload-Offset */
    char length[32]; /* Upload-Length */
};

static size_t take_body(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;

    fy_buf_add(&a->body, p, size * n);
    return size * n;
}

static void header_value(const char *line, size_t n, const char *name,
                         char *out, size_t cap)
{
    size_t k = strlen(name);

    if (n > k + 1 && strncasecmp(line, name, k) == 0 && line[k] == ':') {
        line += k + 1, n -= k + 1;
        while (n && *line == ' ')
            line++, n--;
        while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
            n--;
        snprintf(out, cap, "%.*s", (int)n, line);
    }
}

static size_t take_header(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;

    header_value(p, size * n, "Upload-Offset", a->offset, sizeof(a->offset));
    header_value(p, size * n, "Upload-Length", a->length, sizeof(a->length));
    return size * n;
}

/* One request; extra is one more header line or NULL. */
static void call(const struct env *e, const char *method, const char *sha,
                 const void *body, size_t len, const char *extra,
                 struct answer *a)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[256], key[128];

    fy_buf_release(&a->body);
    memset(a, 0, sizeof(*a));
    a->body = (struct fy_buf)FY_BUF_INIT(0);
    snprintf(url, sizeof(url), "%s/v1/blobs/%s", e->base, sha);
    snprintf(key, sizeof(key), "X-Api-Key: %s", e->key);
    hl = curl_slist_append(hl, key);
    hl = curl_slist_append(hl, "Expect:");
    if (extra)
        hl = curl_slist_append(hl, extra);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, take_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned len = 0;

    EVP_Digest(p, n, d, &len, EVP_sha256(), NULL);
    fy_hex(d, 32, out);
}

static unsigned char *random_file(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rand_r(&seed) >> 3);
    return p;
}

static void test_put_get(void **state)
{
    struct env *e = *state;
    size_t n = 2 * MIB + 12345;
    unsigned char *f = random_file(n, 1);
    struct answer a = {.body = FY_BUF_INIT(0)};
    char sha[65], want[64];

    sha_hex(f, n, sha);
    call(e, "PUT", sha, f, n, NULL, &a);
    assert_int_equal(a.status, 201);
    assert_string_equal(a.offset, "2109497");
    /*
     * Stored already: answered on the headers, but only after the body
     * (sent without waiting for 100-continue) was read, so the client
     * always gets the answer, never a reset (it lost it under
     * ThreadSanitizer's slowness before). Several times, to give the race
     * its chances.
     */
    for (int i = 0; i < 10; i++) {
        call(e, "PUT", sha, f, n, NULL, &a);
        assert_int_equal(a.status, 200);
        assert_non_null(strstr(a.body.data, "\"created\":false"));
    }
    call(e, "HEAD", sha, NULL, 0, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.offset, "2109497");
    assert_int_equal(a.body.len, 0); /* HEAD sends no body */
    call(e, "GET", sha, NULL, 0, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body.len, n);
    assert_memory_equal(a.body.data, f, n);
    /* Across the boundary of the first two parts. */
    call(e, "GET", sha, NULL, 0, "Range: bytes=1048000-1049999", &a);
    assert_int_equal(a.status, 206);
    assert_int_equal(a.body.len, 2000);
    assert_memory_equal(a.body.data, f + 1048000, 2000);
    call(e, "GET", sha, NULL, 0, "Range: bytes=2109497-", &a);
    assert_int_equal(a.status, 416);
    /* Wrong content: 422 and nothing kept. */
    f[7] ^= 1;
    call(e, "PUT", sha, f, n, NULL, &a);
    assert_int_equal(a.status, 200); /* stored already: answered first */
    sha[0] = sha[0] == '0' ? '1' : '0';
    call(e, "PUT", sha, f, n, NULL, &a);
    assert_int_equal(a.status, 422);
    call(e, "HEAD", sha, NULL, 0, NULL, &a);
    assert_int_equal(a.status, 404);
    assert_string_equal(a.offset, "0");
    /* Over blob_max_bytes (4 MiB here). */
    snprintf(want, sizeof(want), "Content-Range: bytes 0-0/%zu", 4 * MIB + 1);
    call(e, "PUT", sha, "x", 1, want, &a);
    assert_int_equal(a.status, 413);
    fy_buf_release(&a.body);
    free(f);
}

/*
 * A raw request that declares n bytes and sends sent of them, then closes:
 * the client gone mid-body. MSG_NOSIGNAL: a server that answered early and
 * closed (an allocation failed under torture) makes the send fail, never
 * kill the test with SIGPIPE.
 */
static void cut_put(const struct env *e, const char *sha, const void *body,
                    size_t n, size_t sent)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)e->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char head[512];
    int len = snprintf(head, sizeof(head),
                       "PUT /v1/blobs/%s HTTP/1.1\r\nHost: t\r\n"
                       "X-Api-Key: %s\r\nContent-Length: %zu\r\n\r\n",
                       sha, e->key, n);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, head, (size_t)len, MSG_NOSIGNAL), len);
    for (size_t at = 0; at < sent;) {
        ssize_t w = send(fd, (const char *)body + at, sent - at, MSG_NOSIGNAL);

        assert_true(w > 0);
        at += (size_t)w;
    }
    close(fd);
}

static void test_cut_and_resume(void **state)
{
    struct env *e = *state;
    size_t n = 3 * MIB, sent = MIB + MIB / 2;
    unsigned char *f = random_file(n, 2);
    struct answer a = {.body = FY_BUF_INIT(0)};
    char sha[65], cr[96], want[32];

    sha_hex(f, n, sha);
    cut_put(e, sha, f, n, sent);
    /* The whole part and the half in memory: kept when the request ends. */
    snprintf(want, sizeof(want), "%zu", sent);
    for (int i = 0; i < 100; i++) {
        call(e, "HEAD", sha, NULL, 0, NULL, &a);
        if (strcmp(a.offset, want) == 0)
            break;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    assert_int_equal(a.status, 404);
    assert_string_equal(a.offset, want);
    snprintf(want, sizeof(want), "%zu", n);
    assert_string_equal(a.length, want);
    /* Resumed from the offset held; a wrong one is refused. */
    snprintf(cr, sizeof(cr), "Content-Range: bytes %zu-%zu/%zu", sent - 1,
             n - 1, n);
    call(e, "PUT", sha, f + sent - 1, n - sent + 1, cr, &a);
    assert_int_equal(a.status, 409);
    snprintf(want, sizeof(want), "%zu", sent);
    assert_string_equal(a.offset, want);
    snprintf(cr, sizeof(cr), "Content-Range: bytes %zu-%zu/%zu", sent, n - 1,
             n);
    call(e, "PUT", sha, f + sent, n - sent, cr, &a);
    assert_int_equal(a.status, 201);
    call(e, "GET", sha, NULL, 0, NULL, &a);
    assert_int_equal(a.body.len, n);
    assert_memory_equal(a.body.data, f, n);
    fy_buf_release(&a.body);
    free(f);
}

/* ---- rows that name blobs -------------------------------------------------
 */

static void put_small(const struct env *e, const char *text, char sha[65])
{
    struct answer a = {.body = FY_BUF_INIT(0)};

    sha_hex(text, strlen(text), sha);
    call(e, "PUT", sha, text, strlen(text), NULL, &a);
    assert_int_equal(a.status, 201);
    fy_buf_release(&a.body);
}

#define NCH 20

static void test_refs_check(void **state)
{
    struct env *e = *state;
    const struct fy_table *t = &e->contract->tables[0];
    struct fy_val vals[NCH][3];
    struct fy_change chs[NCH];
    struct fy_change *p[NCH];
    const struct fy_change *bad = NULL;
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    char have[NCH][65], missing[65], text[16];

    sha_hex("never uploaded", 14, missing);
    for (int i = 0; i < NCH; i++) {
        snprintf(text, sizeof(text), "file %d", i);
        put_small(e, text, have[i]);
        vals[i][0] = (struct fy_val){.kind = FY_V_INT, .i = i};
        vals[i][1] =
            (struct fy_val){.kind = FY_V_TEXT, .s = have[i], .len = 64};
        /* A PATCH that leaves the column alone, or a NULL. */
        vals[i][2] = (struct fy_val){.kind = i % 2 ? FY_V_ABSENT : FY_V_NULL};
        chs[i] = (struct fy_change){.seq = i + 1, .table = t, .vals = vals[i]};
        p[i] = &chs[i];
    }
    assert_int_equal(fy_store_pool_get(e->pool, 5000, &st, NULL), 0);
    /* More hashes than one question holds (FY_BLOB_MAX_CHECK), all held. */
    assert_int_equal(fy_blob_refs_check(st, p, NCH, &bad, &err), 0);
    assert_null(bad);
    /* A delete's values are not looked at. */
    vals[3][1].s = missing;
    chs[3].del = true;
    assert_int_equal(fy_blob_refs_check(st, p, NCH, &bad, &err), 0);
    /* Missing in the second question, in the second blob column. */
    vals[18][2] = (struct fy_val){.kind = FY_V_TEXT, .s = missing, .len = 64};
    assert_int_equal(fy_blob_refs_check(st, p, NCH, &bad, &err),
                     FERRY_ECONTRACT);
    assert_ptr_equal(bad, &chs[18]);
    assert_int_equal(err.wire, FERRY_WIRE_MISSING_BLOB);
    assert_non_null(strstr(err.msg, "table 'shots': column 'thumb'"));
    assert_non_null(strstr(err.msg, missing));
    /* The first change that names a missing blob is the one named. */
    vals[19][1].s = missing;
    vals[2][1].s = missing;
    err = (struct ferry_err){0};
    assert_int_equal(fy_blob_refs_check(st, p, NCH, &bad, &err),
                     FERRY_ECONTRACT);
    assert_ptr_equal(bad, &chs[2]);
    assert_non_null(strstr(err.msg, "column 'file'"));
    fy_store_pool_put(e->pool, st);
}

/* ---- a file on disk --------------------------------------------------------
 */

static void test_store_fd(void **state)
{
    struct env *e = *state;
    size_t n = MIB + 777;
    unsigned char *f = random_file(n, 3);
    struct answer a = {.body = FY_BUF_INIT(0)};
    char path[128], sha[65], want[65];
    struct ferry_err err = {0};
    bool created = false;
    int fd;

    snprintf(path, sizeof(path), "%s/f", e->dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    /* The file at offset 100 of what is on disk, as a multipart part. */
    assert_int_equal(write(fd, "0123456789", 10), 10);
    assert_int_equal(pwrite(fd, f, n, 100), (ssize_t)n);
    sha_hex(f, n, want);
    assert_int_equal(fy_blob_store_fd(e->pool, 5000, fd, 100, n, 4 * MIB, sha,
                                      &created, &err),
                     0);
    assert_string_equal(sha, want);
    assert_true(created);
    assert_int_equal(fy_blob_store_fd(e->pool, 5000, fd, 100, n, 4 * MIB, sha,
                                      &created, &err),
                     0);
    assert_false(created);
    assert_int_equal(
        fy_blob_store_fd(e->pool, 5000, fd, 100, n, MIB, sha, &created, &err),
        FERRY_ETOOBIG);
    assert_int_equal(fy_blob_store_fd(e->pool, 5000, fd, 100, n + 1, 4 * MIB,
                                      sha, &created, &err),
                     FERRY_EIO); /* past the end of the file */
    close(fd);
    call(e, "GET", want, NULL, 0, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body.len, n);
    assert_memory_equal(a.body.data, f, n);
    fy_buf_release(&a.body);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_parsers_hostile),
        cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refs_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_fd, setup, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
