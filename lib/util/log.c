/* SPDX-License-Identifier: MIT */
/*
 * Logging: libferry never writes to stdout or stderr itself; it formats one
 * line and hands it to the callback the program installed. Components can be
 * switched off with a spec such as "all,-http".
 */
#include <stdio.h>
#include <string.h>

#include "fy.h"

int fy_log_threshold = -1; /* silent until a callback is installed */
static ferry_log_fn *log_fn;
static void *log_ud;
static char log_off[256]; /* ",comp,comp," of disabled components */

int ferry_set_log_fn(ferry_log_fn *fn, void *ud, int level, const char *spec)
{
    log_fn = fn;
    log_ud = ud;
    fy_log_threshold = fn ? level : -1;
    log_off[0] = '\0';
    if (!spec)
        return 0;
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        size_t used = strlen(log_off);

        if (n > 1 && p[0] == '-' && used + n + 2 < sizeof(log_off)) {
            snprintf(log_off + used, sizeof(log_off) - used, ",%.*s,",
                     (int)(n - 1), p + 1);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

bool fy_log_comp_on(const char *comp)
{
    char key[40];

    if (!log_off[0])
        return true;
    snprintf(key, sizeof(key), ",%s,", comp);
    return strstr(log_off, key) == NULL;
}

void fy_log_emit(int level, const char *comp, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!log_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt,
              ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    log_fn(level, comp, line, log_ud);
}

const char *ferry_version(void)
{
    return FERRY_VERSION;
}
