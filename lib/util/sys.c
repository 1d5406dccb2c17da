/* SPDX-License-Identifier: MIT */
/*
 * Small system helpers: clocks, sleeping, secure random bytes, hex.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fy.h"

int64_t fy_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double fy_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fy_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void fy_deadline_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool fy_wait_stop(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop,
                  int64_t ms)
{
    struct timespec ts;
    bool stopped;

    fy_deadline_ms(&ts, ms);
    pthread_mutex_lock(mu);
    while (!*stop && pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT)
        ;
    stopped = *stop;
    pthread_mutex_unlock(mu);
    return stopped;
}

int fy_random(void *p, size_t n, struct ferry_err *err)
{
    if (RAND_bytes(p, (int)n) != 1)
        return fy_err_set(err, FERRY_EIO, "cannot get random bytes");
    return 0;
}

void fy_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    out[2 * n] = '\0';
}

int fy_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool fy_name_valid(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        if (!isalnum((unsigned char)s[n]) && !strchr("._:@-", s[n]))
            return false;
    }
    return n >= 1 && n <= 128;
}

char *fy_local_time(int64_t unix_s, char out[FY_TIME_STRLEN + 1])
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (unix_s <= 0 || !localtime_r(&t, &tm) ||
        strftime(out, FY_TIME_STRLEN + 1, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
        snprintf(out, FY_TIME_STRLEN + 1, "-");
    return out;
}

int fy_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    if (!s || !(isdigit((unsigned char)s[0]) ||
                (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char *fy_utc_ms(int64_t unix_ms, char out[FY_UTC_MS_STRLEN + 1])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    char day[FY_UTC_MS_STRLEN + 1];

    if (unix_ms < 0 || !gmtime_r(&t, &tm) ||
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(day, sizeof(day), "1970-01-01T00:00:00");
    snprintf(out, FY_UTC_MS_STRLEN + 1, "%.19s.%03dZ", day,
             (int)(unix_ms < 0 ? 0 : unix_ms % 1000));
    return out;
}

int fy_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

const char *fy_tmp_dir(const char *dir)
{
    const char *env = getenv("TMPDIR");

    return dir && *dir ? dir : env && *env ? env : "/tmp";
}
