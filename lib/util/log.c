/* SPDX-License-Identifier: MIT */
/*
 * Logging: libferry never writes to stdout or stderr itself; it formats one
 * line and hands it to the callback the program installed. Components can be
 * switched off with a spec such as "all,-http".
 */
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#include "util/utf8.h"
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

/* True for a byte kept as it is without looking further: printable ASCII. */
static bool plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '\\';
}

/*
 * The length of the run at p (n bytes) that is kept as it is: printable
 * ASCII other than the backslash, and valid UTF-8 that is not invisible.
 */
static size_t clean_run(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned cp = 0;
        size_t len;

        if (plain_ascii(p[i])) {
            i++;
            continue;
        }
        if (p[i] < 0x80)
            break;
        len = fy_utf8_seq(p + i, n - i, &cp);
        if (len == 0 || cp_invisible(cp))
            break;
        i += len;
    }
    return i;
}

/*
 * The escape of the character at p (n > 0 bytes, not part of a clean run)
 * into tmp; returns its length and sets *used to the bytes it stands for.
 */
static size_t escape_one(const unsigned char *p, size_t n, char tmp[16],
                         size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned cp = 0;
    size_t len = p[0] >= 0x80 ? fy_utf8_seq(p, n, &cp) : 0;

    *used = 1;
    switch (p[0]) {
    case '\\':
        memcpy(tmp, "\\\\", 2);
        return 2;
    case '\n':
        memcpy(tmp, "\\n", 2);
        return 2;
    case '\r':
        memcpy(tmp, "\\r", 2);
        return 2;
    case '\t':
        memcpy(tmp, "\\t", 2);
        return 2;
    default:
        break;
    }
    if (len == 0) { /* a control byte, DEL or invalid UTF-8 */
        tmp[0] = '\\';
        tmp[1] = 'x';
        tmp[2] = hex[p[0] >> 4];
        tmp[3] = hex[p[0] & 0xf];
        return 4;
    }
    *used = len; /* an invisible code point */
    return (size_t)snprintf(tmp, 16, "\\u{%x}", cp);
}

/* Where escaped text goes: a fixed array (cut when full) or a fy_buf. */
struct sink {
    char *out;
    size_t cap, o;
    struct fy_buf *b;
};

/*
 * Appends n bytes of escaped text; false when the array is full. A clean
 * run is cut on a character boundary; an escape is never cut.
 */
static bool sink_put(struct sink *k, const char *s, size_t n, bool divisible)
{
    size_t room;

    if (k->b)
        return fy_buf_add(k->b, s, n) == 0;
    room = k->cap - 1 - k->o;
    if (n > room) {
        if (!divisible)
            return false;
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        memcpy(k->out + k->o, s, n);
        k->o += n;
        return false;
    }
    memcpy(k->out + k->o, s, n);
    k->o += n;
    return true;
}

/*
 * Escapes text so that it stays one line of plain text, whatever a request
 * put into it: control bytes (newlines, ESC) become \n, \r, \t or \xNN, a
 * backslash becomes \\ (so escapes cannot be forged), invalid UTF-8 becomes
 * \xNN per byte, and invisible or reordering code points become \u{N}.
 * Valid printable UTF-8 is kept as is, copied a run at a time.
 */
static void escape_to(struct sink *k, const char *in, size_t n)
{
    const unsigned char *p = (const unsigned char *)in;
    char tmp[16];

    for (size_t i = 0; i < n;) {
        size_t run = clean_run(p + i, n - i), used, len;

        if (run && !sink_put(k, in + i, run, true))
            return;
        i += run;
        if (i == n)
            return;
        len = escape_one(p + i, n - i, tmp, &used);
        if (!sink_put(k, tmp, len, false))
            return;
        i += used;
    }
}

void fy_escape(struct fy_buf *b, const char *s, size_t n)
{
    struct sink k = {.b = b};

    escape_to(&k, s, n);
}

/* The escaped line into out (cap bytes), cut on a character boundary. */
static void log_escape(const char *in, char *out, size_t cap)
{
    struct sink k = {.out = out, .cap = cap};

    escape_to(&k, in, strlen(in));
    out[k.o] = '\0';
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
