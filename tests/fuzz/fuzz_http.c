/* SPDX-License-Identifier: MIT */
/*
 * HTTP requests as ferryd gets them: the input is the bytes a client
 * sends on one connection (one request or several, pipelined), to an
 * in-process ferryd (its router with every module's routes and two
 * aliases, the auth hook, a SQLite store with three keys, the fuzz
 * contract) on loopback. libmicrohttpd reads the request line and
 * headers; this covers what ferry does with them: framing checks, routing
 * with typed path parameters and percent-decoding, aliases, the auth
 * headers and key parsing, body policies, gzip, query and cookie
 * parameters, Range and If-None-Match, the handlers' parsing of bodies,
 * path keys and query strings, and the escaped access log (a log
 * callback is installed so that every line is formatted).
 *
 * The store lives as long as the process (handlers may still run after
 * the client saw the answer, so it cannot be swapped per input): rows an
 * input writes stay for the next ones. The answer's bytes are read and
 * dropped; the checks are the sanitizers'.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "server/api.h"
#include "server/metrics.h"
#include "fy.h"

static atomic_long lines;
static unsigned port;

static void count_line(int level, const char *comp, const char *line, void *ud)
{
    (void)level, (void)comp, (void)line, (void)ud;
    atomic_fetch_add(&lines, 1);
}

static void start(void)
{
    static struct fy_api api;
    static struct fy_http_router *router;
    static struct fy_http_server *srv;
    struct ferry_err err = {0};
    struct fy_http_config hc = {.listen = "127.0.0.1:0",
                                .max_body = 1 << 20,
                                .max_conns = 64,
                                .timeout_s = 3};

    ferry_set_log_fn(count_line, NULL, FERRY_LOG_TRACE, NULL);
    hc.max_inflight = FY_HTTP_MIN_INFLIGHT(hc.max_body);
    hc.tmp_dir = fuzz_dir();
    api = (struct fy_api){.pool = fuzz_store(),
                          .contract = fuzz_contract(),
                          .pool_wait_ms = 1000,
                          .service = "fuzz",
                          .tmp_dir = fuzz_dir(),
                          .instance = "fuzz/1",
                          .metrics_devices = 10,
                          .dash_idle_ms = 60000,
                          .dash_max_ms = 600000};
    if (fy_devruns_new(&api.devruns, &err) < 0 ||
        fy_metrics_set_contract(api.contract) < 0 ||
        fy_api_router_new(&router, &err) < 0 ||
        fy_http_router_alias(router, "POST", "/old/upload", "POST /v1/push",
                             "X-Token", &err) < 0 ||
        fy_http_router_alias_region(router, "POST", "/old/upload", "X-Region",
                                    &err) < 0)
        fuzz_die("ferryd", &err);
    hc.router = router;
    if (fy_http_server_start(&hc, &fy_api_handlers, &api, &srv, &err) < 0)
        fuzz_die("server", &err);
    port = fy_http_server_port(srv);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server closed early: a refusal, not a fault */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads the answers until the server closes (at most 10 s). */
static void drain(int fd)
{
    char buf[4096];
    double until = now_s() + 10;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((until - now_s()) * 1000);
        int ready = left > 0 ? poll(&p, 1, left) : 0;
        ssize_t got = ready > 0 ? recv(fd, buf, sizeof(buf), 0) : 0;

        if ((ready < 0 || got < 0) && errno == EINTR)
            continue;
        if (got <= 0)
            return;
    }
}

/*
 * connect() that a signal may interrupt (LeakSanitizer's checks between
 * inputs stop the threads with one): the connection then completes on its
 * own, and is waited for.
 */
static int open_conn(int fd, const struct sockaddr_in *sa)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    while (poll(&p, 1, 5000) < 0 && errno == EINTR)
        ;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
        errno = soerr ? soerr : errno;
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned n;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct sockaddr_in from = {.sin_family = AF_INET};
    long before;
    int fd;

    if (!port)
        start();
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    /*
     * Each connection from the next of 250 loopback addresses: the client
     * closes first, and at hundreds of connections a second one address's
     * ports would all sit in TIME_WAIT within a minute.
     */
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(n++ % 250));
    if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
        open_conn(fd, &sa) < 0) {
        perror("fuzz_http: connect");
        fuzz_die("connect", NULL);
    }
    before = atomic_load(&lines);
    send_all(fd, data, size);
    shutdown(fd, SHUT_WR);
    drain(fd);
    close(fd);
    /*
     * libmicrohttpd closes the socket before its completion callback:
     * give the access line (the request's last work) a moment, so that
     * one input's work does not run into the next one's.
     */
    for (int i = 0; i < 50 && atomic_load(&lines) == before; i++)
        nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
    return 0;
}
