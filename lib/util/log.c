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

/*
 * Length of the valid UTF-8 sequence at p (at most n bytes) and its code
 * point, or 0 when it is not valid (overlong, surrogate, truncated).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned v;

    if (len == 0 || len > n || p[0] > 0xf4)
        return 0;
    v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/*
 * Code points a terminal or log viewer acts on rather than shows: C1
 * controls, zero-width and direction marks, line and paragraph separators,
 * bidirectional overrides and isolates, the byte-order mark.
 */
static bool cp_invisible(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xfeff;
}

/* Appends one escaped byte or code point; false when out is full. */
static bool put_esc(char *out, size_t cap, size_t *o, const char *text)
{
    size_t n = strlen(text);

    if (*o + n >= cap)
        return false;
    memcpy(out + *o, text, n);
    *o += n;
    return true;
}

/*
 * Escapes a formatted line so that it stays one line of plain text, whatever
 * a request put into it: control bytes (newlines, ESC) become \n, \r, \t or
 * \xNN, a backslash becomes \\ (so escapes cannot be forged), invalid UTF-8
 * becomes \xNN per byte, and invisible or reordering code points become
 * \u{N}. Valid printable UTF-8 is kept as is. Truncates on a character
 * boundary when out is full.
 */
static void log_escape(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = strlen(in), o = 0;
    char tmp[16];

    for (size_t i = 0; i < n;) {
        unsigned cp = 0;
        size_t len = p[i] >= 0x80 ? utf8_seq(p + i, n - i, &cp) : 1;

        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            snprintf(tmp, sizeof(tmp), "%c", p[i]);
        else if (p[i] == '\\' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')
            snprintf(tmp, sizeof(tmp), "\\%c",
                     p[i] == '\n'   ? 'n'
                     : p[i] == '\r' ? 'r'
                     : p[i] == '\t' ? 't'
                                    : '\\');
        else if (len == 0 || p[i] < 0x80) {
            snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
            len = 1;
        } else if (cp_invisible(cp))
            snprintf(tmp, sizeof(tmp), "\\u{%x}", cp);
        else
            snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)p + i);
        if (!put_esc(out, cap, &o, tmp))
            break;
        i += len;
    }
    out[o] = '\0';
}

void fy_log_emit(int level, const char *comp, const char *fmt, ...)
{
    char line[1024];
    char safe[4 * sizeof(line)];
    va_list ap;

    if (!log_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt,
              ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    /* The one place lines leave libferry: no caller can forget to escape. */
    log_escape(line, safe, sizeof(safe));
    log_fn(level, comp, safe, log_ud);
}

const char *ferry_version(void)
{
    return FERRY_VERSION;
}
