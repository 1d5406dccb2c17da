/* SPDX-License-Identifier: MIT */
/*
 * Internal common header of libferry: allocation, error detail, logging and
 * the growable buffer. Every lib/ .c file includes it last, after its own
 * header and system headers, so banned.h can poison unsafe calls.
 */
#ifndef FY_H
#define FY_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "ferry/ferry.h"
#include "util/buf.h"

#define FY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define FY_WUR          __attribute__((warn_unused_result))
#define FY_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#ifdef FERRY_UNIT_TEST
#define FY_TESTABLE
#else
#define FY_TESTABLE static
#endif

/* Allocation: the only allocator calls in libferry (fault injection hook). */
void *fy_malloc(size_t n);
void *fy_calloc(size_t n, size_t size);
void *fy_realloc(void *p, size_t n);
/*
 * Makes room for one more element in the array at *pp (a T **) of *cap
 * elements of size bytes: doubles it, or first when empty. 0, or
 * FERRY_ENOMEM with *pp and *cap as they were.
 */
int fy_grow(void *pp, size_t *cap, size_t size, size_t first);
char *fy_strdup(const char *s);
char *fy_strndup(const char *s, size_t n);
void fy_free(void *p);

/*
 * Fills err (when not NULL) with code and a formatted message, and returns
 * code, so failures read `return fy_err_set(err, FERRY_EIO, "...")`.
 */
int fy_err_set(struct ferry_err *err, int code, const char *fmt, ...)
    FY_PRINTF(3, 4);
/* As fy_err_set, also recording an HTTP status. */
int fy_err_status(struct ferry_err *err, int code, int status, const char *fmt,
                  ...) FY_PRINTF(4, 5);
void fy_err_clear(struct ferry_err *err);
/*
 * The FERRY_E* of a failed file operation's errno: FERRY_ENOSPC for a full
 * disk or quota (ENOSPC, EDQUOT: retried, never the request's fault),
 * FERRY_ENOMEM, else FERRY_EIO.
 */
int fy_err_of_errno(int e);

/* Logging: the threshold is checked before arguments are evaluated. */
extern int fy_log_threshold;
void fy_log_emit(int level, const char *comp, const char *fmt, ...)
    FY_PRINTF(3, 4);
bool fy_log_comp_on(const char *comp);
#define fy_log(level, comp, ...)                                               \
    do {                                                                       \
        if ((level) <= fy_log_threshold && fy_log_comp_on(comp))               \
            fy_log_emit((level), (comp), __VA_ARGS__);                         \
    } while (0)
#define fy_error(comp, ...) fy_log(FERRY_LOG_ERROR, comp, __VA_ARGS__)
#define fy_warn(comp, ...)  fy_log(FERRY_LOG_WARN, comp, __VA_ARGS__)
#define fy_info(comp, ...)  fy_log(FERRY_LOG_INFO, comp, __VA_ARGS__)
#define fy_debug(comp, ...) fy_log(FERRY_LOG_DEBUG, comp, __VA_ARGS__)

/* Wall clock in milliseconds since the Unix epoch; monotonic in seconds. */
int64_t fy_now_ms(void);
double fy_mono_s(void);
/* Sleeps for ms milliseconds, restarting after signals. */
void fy_sleep_ms(int64_t ms);
/*
 * A background thread's pause: waits on cv (mu unlocked on entry) for up
 * to ms, returning at once when *stop is set and cv signalled. Returns
 * *stop, read under mu.
 */
bool fy_wait_stop(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop,
                  int64_t ms);
/* *ts = now + ms on CLOCK_REALTIME: pthread_cond_timedwait's deadline. */
void fy_deadline_ms(struct timespec *ts, int64_t ms);

/*
 * Formats a Unix time as local ISO 8601 with its offset, e.g.
 * "2026-11-30T04:05:06+0100", for people to read; "-" for 0 (never).
 * Returns out.
 */
#define FY_TIME_STRLEN 24
char *fy_local_time(int64_t unix_s, char out[FY_TIME_STRLEN + 1]);
/*
 * A time in unix ms as UTC ISO 8601 with milliseconds,
 * "2026-11-30T04:05:06.123Z", for the wire. Returns out.
 */
#define FY_UTC_MS_STRLEN 24
char *fy_utc_ms(int64_t unix_ms, char out[FY_UTC_MS_STRLEN + 1]);

/*
 * A plain decimal in [lo, hi] (digits only, an optional leading '-'):
 * 0 with *out set, or -1.
 */
int fy_parse_long(const char *s, long lo, long hi, long *out);

/* Fills p with n cryptographically random bytes (OpenSSL). */
int fy_random(void *p, size_t n, struct ferry_err *err);
/* True for a device or region name: [A-Za-z0-9._:@-]{1,128}. */
bool fy_name_valid(const char *s);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void fy_hex(const void *p, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int fy_hexval(char c);

/* Writes all n bytes (retrying short writes and EINTR); 0, or -1 with errno. */
int fy_write_all(int fd, const char *p, size_t n);
/* Where temporary files go: dir when set, else $TMPDIR, else /tmp. */
const char *fy_tmp_dir(const char *dir);

#include "util/banned.h"

#endif
