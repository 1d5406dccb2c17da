/* SPDX-License-Identifier: MIT */
/*
 * The agent's HTTP client (lib/http/client.c) against a raw socket server
 * that sends its answer in timed pieces: what the client keeps of an answer
 * larger than it reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http/client.h"
#include "fy.h"

#define KEEP_MAX (1u << 20) /* what the client keeps (REPLY_MAX) */

/* One answer, sent in pieces with a pause before each but the first. */
struct piece {
    char fill;
    size_t len;
};

struct server {
    int lfd, port;
    const struct piece *pieces;
    size_t npieces;
    pthread_t th;
};

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *serve(void *ud)
{
    struct server *s = ud;
    char buf[4096], head[128];
    size_t total = 0, got = 0;
    int fd = accept(s->lfd, NULL, NULL);

    if (fd < 0)
        return NULL; /* the test shut the socket: the client never came */
    while (got < sizeof(buf) - 1) {
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    for (size_t i = 0; i < s->npieces; i++)
        total += s->pieces[i].len;
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close"
             "\r\n\r\n",
             total);
    send_all(fd, head, strlen(head));
    for (size_t i = 0; i < s->npieces; i++) {
        static char fill[64 * 1024];
        size_t left = s->pieces[i].len;

        if (i > 0)
            fy_sleep_ms(100); /* the client has read all before */
        memset(fill, s->pieces[i].fill, sizeof(fill));
        while (left > 0) {
            size_t n = left < sizeof(fill) ? left : sizeof(fill);

            send_all(fd, fill, n);
            left -= n;
        }
    }
    close(fd);
    return NULL;
}

static int server_start(struct server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(s->lfd, 1) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, serve, s) == 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes accept() if no client came */
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/*
 * A piece that would pass the limit is dropped, and so is everything after
 * it: a small last piece that still fits must not be glued to the kept
 * start (a pull page with its middle missing parses, and its cursor skips
 * the rows it lost).
 */
static void test_cut_answer_stays_cut(void **state)
{
    static const struct piece pieces[] = {
        {'a', KEEP_MAX - 100}, {'b', 32 * 1024}, {'c', 50}};
    struct server s = {.pieces = pieces, .npieces = 3};
    struct fy_http_client *c = NULL;
    struct fy_http_reply rep = {.body = FY_BUF_INIT(0)};
    struct ferry_err err = {0};
    char url[64];
    int rc;

    (void)state;
    assert_int_equal(server_start(&s), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
    rc = fy_http_client_new(url, 10, &c, &err);
    if (rc == 0)
        rc = fy_http_request(c, &(struct fy_http_request){.path = "/x"}, &rep,
                             &err);
    server_stop(&s);
    fy_http_client_free(c);
    assert_int_equal(rc, 0);
    assert_int_equal(rep.status, 200);
    assert_true(rep.body.len >= KEEP_MAX - 100 && rep.body.len <= KEEP_MAX);
    assert_null(memchr(rep.body.data, 'c', rep.body.len));
    fy_buf_release(&rep.body);
}

/* An answer within the limit is kept whole, whatever its pieces. */
static void test_whole_answer_kept(void **state)
{
    static const struct piece pieces[] = {{'a', 300 * 1024}, {'b', 20}};
    struct server s = {.pieces = pieces, .npieces = 2};
    struct fy_http_client *c = NULL;
    struct fy_http_reply rep = {.body = FY_BUF_INIT(0)};
    struct ferry_err err = {0};
    char url[64];
    int rc;

    (void)state;
    assert_int_equal(server_start(&s), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
    rc = fy_http_client_new(url, 10, &c, &err);
    if (rc == 0)
        rc = fy_http_request(c, &(struct fy_http_request){.path = "/x"}, &rep,
                             &err);
    server_stop(&s);
    fy_http_client_free(c);
    assert_int_equal(rc, 0);
    assert_int_equal(rep.body.len, 300 * 1024 + 20);
    assert_int_equal(rep.body.data[rep.body.len - 1], 'b');
    fy_buf_release(&rep.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_answer_stays_cut),
        cmocka_unit_test(test_whole_answer_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
