/* SPDX-License-Identifier: MIT */
/*
 * Public entry points of libferry shared by the ferry agent and ferryd:
 * version, logging hook and error reporting. The agent and server APIs live
 * in their own headers next to this one.
 */
#ifndef FERRY_H
#define FERRY_H

#include "ferry_err.h"

#define FERRY_API __attribute__((visibility("default")))

/*
 * The largest per-device seq of the protocol: 2^53 - 1, the largest
 * integer every JSON parser (JavaScript's included) reads exactly. ferryd
 * refuses larger ones and the agent never numbers past it.
 */
#define FERRY_SEQ_MAX 9007199254740991LL

enum ferry_log_level {
    FERRY_LOG_ERROR = 0,
    FERRY_LOG_WARN,
    FERRY_LOG_INFO,
    FERRY_LOG_DEBUG,
    FERRY_LOG_TRACE
};

/*
 * Log callback: level, component ("store", "http", "capture", "retry",
 * "config", "push", "auth") and one formatted line without trailing newline.
 * The line is borrowed for the duration of the call.
 */
typedef void ferry_log_fn(int level, const char *comp, const char *line,
                          void *ud);

/*
 * Installs the process-wide log callback (NULL silences libferry, the
 * default) and the threshold. spec is a component filter such as
 * "all,-http"; NULL means all. Not thread-safe: call before starting work.
 */
FERRY_API int ferry_set_log_fn(ferry_log_fn *fn, void *ud, int level,
                               const char *spec);

/* Library version string, e.g. "0.1.0". */
FERRY_API const char *ferry_version(void);

#endif
