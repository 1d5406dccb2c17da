/* SPDX-License-Identifier: MIT */
/*
 * Error codes of libferry. One X-macro list yields the enum, the names and
 * ferry_strerror(), so a new code cannot be added without its message.
 * Codes are negative; 0 is success.
 */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdbool.h>

#define FERRY_ERRNO_MAP(X)                                                     \
    X(EINVAL, "invalid argument")                                              \
    X(ENOMEM, "out of memory")                                                 \
    X(ETOOBIG, "value too large")                                              \
    X(EIO, "input/output error")                                               \
    X(ECONFIG, "bad configuration")                                            \
    X(EPARSE, "malformed input")                                               \
    X(ENOTFOUND, "not found")                                                  \
    X(EAUTH, "authentication failed")                                          \
    X(EFORBIDDEN, "outside the key's scope")                                   \
    X(ECONTRACT, "breaks the table contract")                                  \
    X(ECONFLICT, "conflict")                                                   \
    X(EUNSUPPORTED, "unsupported media or encoding")                           \
    X(ESTORE, "store error")                                                   \
    X(EUNAVAIL, "store unavailable")                                           \
    X(ENET, "network error")                                                   \
    X(EHTTP, "unexpected HTTP status")                                         \
    X(ERATELIMIT, "rate limited")                                              \
    X(ETIMEDOUT, "timed out")                                                  \
    X(EBUSY, "resource busy")                                                  \
    X(ESCHEMA, "schema mismatch")

enum ferry_errno {
    FERRY_OK = 0,
    FERRY__ERRNO_BASE = -1000,
#define FERRY_ERR_ENUM(name, msg) FERRY_##name,
    FERRY_ERRNO_MAP(FERRY_ERR_ENUM)
#undef FERRY_ERR_ENUM
        FERRY__ERRNO_END
};

/*
 * Error detail for boundary functions. Caller-owned; pass NULL when only the
 * code matters. sys holds a saved errno or a library code; status an HTTP
 * status where one applies (0 otherwise).
 */
struct ferry_err {
    int code;
    int sys;
    int status;
    char msg[512];
};

/* Static message for a code; never NULL. */
const char *ferry_strerror(int code);

/* Short machine name of a code, e.g. "ETIMEDOUT"; never NULL. */
const char *ferry_err_name(int code);

/*
 * True when retrying the same operation later may succeed: timeouts,
 * refused connections, HTTP 5xx/429, a busy or unavailable store. Only the
 * retry policy should call this.
 */
bool ferry_err_is_transient(int code);

#endif
