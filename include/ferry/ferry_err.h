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
    X(ESCHEMA, "schema mismatch")                                              \
    X(EMETHOD, "method not allowed")                                           \
    X(ERANGE, "range not satisfiable")                                         \
    X(EEXPIRED, "expired")                                                     \
    X(EVERSION, "contract version not accepted")                               \
    X(ENOSPC, "no space left on the disk")

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
    int wire; /* enum ferry_wire when the failure has a more specific
                 wire code than its code's default; 0 otherwise */
    char msg[512];
};

/* Static message for a code; never NULL. */
const char *ferry_strerror(int code);

/* Short machine name of a code, e.g. "ETIMEDOUT"; never NULL. */
const char *ferry_err_name(int code);

/*
 * True when retrying the same operation later may succeed: timeouts,
 * refused connections, HTTP 5xx/429, a busy or unavailable store, a full
 * disk (FERRY_ENOSPC: the data is not at fault, freeing space lets the same
 * write through). Only the retry policy should call this.
 */
bool ferry_err_is_transient(int code);

/*
 * The wire codes: every error.code ferryd answers with, its HTTP status and
 * the FERRY_E* it stands for. ferryd answers a failure from this table only
 * (no status or code literals in handlers), and the agent classifies an
 * answer with it, so both sides read one list.
 *
 * X(ID, "wire code", FERRY_E* name, HTTP status, flags). The first row of
 * an error code is its default: what ferryd answers for that code when the
 * failure names no more specific row (struct ferry_err.wire). A code with
 * no row answers store_unavailable (503) when it is transient, else
 * internal (500). Rows flagged FERRY_WIRE_CHANGE are per-change codes of
 * error.changes; FERRY_WIRE_VERDICT marks the codes that judge the rows a
 * client sent (the agent parks them instead of retrying them).
 */
#define FERRY_WIRE_VERDICT 1
#define FERRY_WIRE_CHANGE  2

#define FERRY_WIRE_MAP(X)                                                      \
    X(MALFORMED, "malformed", EPARSE, 400, FERRY_WIRE_VERDICT)                 \
    X(BAD_FRAMING, "bad_framing", EPARSE, 400, 0)                              \
    X(BAD_ENCODING, "bad_encoding", EPARSE, 400, 0)                            \
    X(BAD_PARAMETER, "bad_parameter", EPARSE, 400, 0)                          \
    X(UNAUTHORIZED, "unauthorized", EAUTH, 401, 0)                             \
    X(KEY_ROTATED, "key_rotated", EAUTH, 401, 0)                               \
    X(FORBIDDEN, "forbidden", EFORBIDDEN, 403, FERRY_WIRE_VERDICT)             \
    X(NOT_FOUND, "not_found", ENOTFOUND, 404, 0)                               \
    X(UNKNOWN_TABLE, "unknown_table", ENOTFOUND, 404,                          \
      FERRY_WIRE_VERDICT | FERRY_WIRE_CHANGE)                                  \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", EMETHOD, 405, 0)               \
    X(CONFLICT, "conflict", ECONFLICT, 409, 0)                                 \
    X(BODY_TOO_LARGE, "body_too_large", ETOOBIG, 413, FERRY_WIRE_VERDICT)      \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", EUNSUPPORTED, 415, 0)  \
    X(UNSUPPORTED_ENCODING, "unsupported_encoding", EUNSUPPORTED, 415, 0)      \
    X(CURSOR_EXPIRED, "cursor_expired", EEXPIRED, 410, 0)                      \
    X(RANGE_NOT_SATISFIABLE, "range_not_satisfiable", ERANGE, 416, 0)          \
    X(CONTRACT_VIOLATION, "contract_violation", ECONTRACT, 422,                \
      FERRY_WIRE_VERDICT)                                                      \
    X(RATE_LIMITED, "rate_limited", ERATELIMIT, 429, 0)                        \
    X(INTERNAL, "internal", ESTORE, 500, 0)                                    \
    X(STORE_UNAVAILABLE, "store_unavailable", EUNAVAIL, 503, 0)                \
    X(SERVER_BUSY, "server_busy", EUNAVAIL, 503, 0)                            \
    X(REGION_SCOPE, "region_scope", EFORBIDDEN, 403, FERRY_WIRE_CHANGE)        \
    X(INVALID_CHANGE, "invalid_change", ECONTRACT, 422, FERRY_WIRE_CHANGE)     \
    X(SEQ_ORDER, "seq_order", ECONTRACT, 422, FERRY_WIRE_CHANGE)               \
    X(UNKNOWN_COLUMN, "unknown_column", ECONTRACT, 422, FERRY_WIRE_CHANGE)     \
    X(INVALID_VALUE, "invalid_value", ECONTRACT, 422, FERRY_WIRE_CHANGE)       \
    X(MISSING_KEY, "missing_key", ECONTRACT, 422, FERRY_WIRE_CHANGE)           \
    X(MISSING_VALUE, "missing_value", ECONTRACT, 422, FERRY_WIRE_CHANGE)       \
    X(KEY_TOO_LONG, "key_too_long", ECONTRACT, 422, FERRY_WIRE_CHANGE)         \
    X(STORE_REJECTED, "store_rejected", ECONTRACT, 422, FERRY_WIRE_CHANGE)     \
    X(MISSING_BLOB, "missing_blob", ECONTRACT, 422, FERRY_WIRE_CHANGE)         \
    X(HASH_MISMATCH, "hash_mismatch", ECONTRACT, 422, 0)                       \
    X(UPLOAD_OFFSET, "upload_offset_mismatch", ECONFLICT, 409, 0)              \
    X(IDEMPOTENCY_REUSED, "idempotency_key_reused", ECONTRACT, 422, 0)         \
    X(ROW_NOT_FOUND, "row_not_found", ENOTFOUND, 404, 0)                       \
    X(RUN_NOT_FOUND, "run_not_found", ENOTFOUND, 404, 0)                       \
    X(STREAM_NOT_FOUND, "stream_not_found", ENOTFOUND, 404, 0)                 \
    X(LEASE_HELD, "lease_held", ECONFLICT, 409, 0)                             \
    X(RUN_FINISHED, "run_finished", ECONFLICT, 409, 0)                         \
    X(LEASE_EXPIRED, "lease_expired", EEXPIRED, 409, 0)                        \
    X(CONTRACT_VERSION, "contract_version", EVERSION, 409, 0)

enum ferry_wire {
    FERRY_WIRE_NONE = 0,
#define FERRY_WIRE_ENUM(id, wire, code, status, flags) FERRY_WIRE_##id,
    FERRY_WIRE_MAP(FERRY_WIRE_ENUM)
#undef FERRY_WIRE_ENUM
        FERRY__WIRE_END
};

/* The wire code ferryd answers an error code with (see the rules above). */
int ferry_wire_of_err(int code);

/*
 * The wire code ferryd answers a failure with: err->wire when set, else
 * the default of code.
 */
int ferry_wire_of_failure(int code, const struct ferry_err *err);

/* A wire code's text ("not_found"), HTTP status, FERRY_E* and flags. */
const char *ferry_wire_name(int wire);
int ferry_wire_status(int wire);
int ferry_wire_err(int wire);
unsigned ferry_wire_flags(int wire);

/* The wire code named by text, or FERRY_WIRE_NONE (text may be NULL). */
int ferry_wire_lookup(const char *text);

/*
 * For a client (the agent): the FERRY_E* of an answer with HTTP status and
 * error.code text (NULL when the body had none). A known code gives its
 * row's FERRY_E*; otherwise the status decides: 408 FERRY_ETIMEDOUT, 429
 * FERRY_ERATELIMIT, other 5xx FERRY_EUNAVAIL, 401 FERRY_EAUTH, 403
 * FERRY_EFORBIDDEN, anything else FERRY_EHTTP. A known code that arrives
 * with another status than its own is not ferryd's and is read by its
 * status alone. A 5xx is always transient for the client (the server
 * failed, not the request): internal gives FERRY_EUNAVAIL.
 */
int ferry_err_from_wire(long status, const char *text);

/*
 * True when text (may be NULL) is ferryd's verdict on the rows a client
 * sent (malformed, forbidden, unknown_table, body_too_large,
 * contract_violation): they are parked, not retried. Anything else (a
 * proxy's 404, an HTML page) says nothing about the rows.
 */
bool ferry_wire_is_verdict(const char *text);

#endif
