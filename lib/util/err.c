/* SPDX-License-Identifier: MIT */
/*
 * Error codes, messages and the transient/permanent split that the retry
 * policy relies on.
 */
#include <stdio.h>
#include <string.h>

#include "fy.h"

const char *ferry_strerror(int code)
{
    switch (code) {
    case FERRY_OK:
        return "success";
#define FERRY_ERR_MSG(name, msg)                                               \
    case FERRY_##name:                                                         \
        return msg;
        FERRY_ERRNO_MAP(FERRY_ERR_MSG)
#undef FERRY_ERR_MSG
    default:
        return "unknown error";
    }
}

const char *ferry_err_name(int code)
{
    switch (code) {
    case FERRY_OK:
        return "OK";
#define FERRY_ERR_NAME(name, msg)                                              \
    case FERRY_##name:                                                         \
        return #name;
        FERRY_ERRNO_MAP(FERRY_ERR_NAME)
#undef FERRY_ERR_NAME
    default:
        return "EUNKNOWN";
    }
}

bool ferry_err_is_transient(int code)
{
    switch (code) {
    case FERRY_ENET:
    case FERRY_ETIMEDOUT:
    case FERRY_EUNAVAIL:
    case FERRY_ERATELIMIT:
    case FERRY_EBUSY:
        return true;
    default:
        return false;
    }
}

static int err_vset(struct ferry_err *err, int code, int status,
                    const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->status = status;
    vsnprintf(err->msg, sizeof(err->msg), fmt,
              ap); /* NOLINT(clang-analyzer-valist.*) */
    return code;
}

int fy_err_set(struct ferry_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int fy_err_status(struct ferry_err *err, int code, int status, const char *fmt,
                  ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, code, status, fmt, ap);
    va_end(ap);
    return code;
}

void fy_err_clear(struct ferry_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}
