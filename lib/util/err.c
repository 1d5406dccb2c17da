/* SPDX-License-Identifier: MIT */
/*
 * Error codes, messages and the transient/permanent split that the retry
 * policy relies on.
 */
#include <errno.h>
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
    case FERRY_ENOSPC:
        return true;
    default:
        return false;
    }
}

static int err_vset(struct ferry_err *err, int code, int status,
                    const char *fmt, va_list ap) FY_PRINTF(4, 0);

static int err_vset(struct ferry_err *err, int code, int status,
                    const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->status = status;
    err->wire = FERRY_WIRE_NONE; /* a new failure, no older specific code */
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

int fy_err_of_errno(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return FERRY_ENOSPC;
    case ENOMEM:
        return FERRY_ENOMEM;
    default:
        return FERRY_EIO;
    }
}

void fy_err_clear(struct ferry_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

/* ---- the wire codes ------------------------------------------------------ */

struct wire_row {
    const char *name;
    int code;
    int status;
    unsigned flags;
};

static const struct wire_row wire_rows[] = {[FERRY_WIRE_NONE] = {"", 0, 0, 0},
#define FERRY_WIRE_ROW(id, wire, code, status, flags)                          \
    [FERRY_WIRE_##id] = {wire, FERRY_##code, status, flags},
                                            FERRY_WIRE_MAP(FERRY_WIRE_ROW)
#undef FERRY_WIRE_ROW
};

static bool wire_valid(int wire)
{
    return wire > FERRY_WIRE_NONE && wire < FERRY__WIRE_END;
}

int ferry_wire_of_err(int code)
{
    /* The first row of a code is its default; per-change rows never are. */
    for (int w = FERRY_WIRE_NONE + 1; w < FERRY__WIRE_END; w++)
        if (wire_rows[w].code == code &&
            !(wire_rows[w].flags & FERRY_WIRE_CHANGE))
            return w;
    return ferry_err_is_transient(code) ? FERRY_WIRE_STORE_UNAVAILABLE
                                        : FERRY_WIRE_INTERNAL;
}

int ferry_wire_of_failure(int code, const struct ferry_err *err)
{
    if (err && wire_valid(err->wire))
        return err->wire;
    return ferry_wire_of_err(code);
}

const char *ferry_wire_name(int wire)
{
    return wire_valid(wire) ? wire_rows[wire].name : "internal";
}

int ferry_wire_status(int wire)
{
    return wire_valid(wire) ? wire_rows[wire].status : 500;
}

int ferry_wire_err(int wire)
{
    return wire_valid(wire) ? wire_rows[wire].code : FERRY_ESTORE;
}

unsigned ferry_wire_flags(int wire)
{
    return wire_valid(wire) ? wire_rows[wire].flags : 0;
}

int ferry_wire_lookup(const char *text)
{
    for (int w = FERRY_WIRE_NONE + 1; text && w < FERRY__WIRE_END; w++)
        if (strcmp(wire_rows[w].name, text) == 0)
            return w;
    return FERRY_WIRE_NONE;
}

static int err_of_status(long status)
{
    if (status == 408)
        return FERRY_ETIMEDOUT;
    if (status == 429)
        return FERRY_ERATELIMIT;
    if (status >= 500)
        return FERRY_EUNAVAIL;
    if (status == 401)
        return FERRY_EAUTH;
    if (status == 403)
        return FERRY_EFORBIDDEN;
    return FERRY_EHTTP;
}

int ferry_err_from_wire(long status, const char *text)
{
    int w = ferry_wire_lookup(text);
    int code;

    if (!w || wire_rows[w].status != status)
        return err_of_status(status);
    code = wire_rows[w].code;
    if (status >= 500 && !ferry_err_is_transient(code))
        return FERRY_EUNAVAIL;
    return code;
}

bool ferry_wire_is_verdict(const char *text)
{
    return (ferry_wire_flags(ferry_wire_lookup(text)) & FERRY_WIRE_VERDICT) !=
           0;
}
