/* SPDX-License-Identifier: MIT */
/*
 * Row encoding for the agent; see row.h.
 */
#include "json/row.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/base64.h"
#include "util/num.h"
#include "util/utf8.h"
#include "fy.h"

/*
 * 1 for the bytes a JSON string holds as they are: printable ASCII but the
 * quote and the backslash. One load a byte instead of four comparisons.
 */
/* clang-format off */
static const unsigned char plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,          /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x70 */
};
/* clang-format on */

int fy_json_add_str(struct fy_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = b->len, i = 0, run = 0;

    fy_buf_grow(b, n + 2);
    fy_buf_addc(b, '"');
    while (i < n) {
        unsigned cp;
        size_t l;

        if (plain[p[i]]) {
            i++;
            continue;
        }
        /* Valid UTF-8 travels as it is, inside the run. */
        if (p[i] >= 0x80) {
            if ((l = fy_utf8_seq(p + i, n - i, &cp)) == 0)
                goto bad;
            i += l;
            continue;
        }
        fy_buf_add(b, s + run, i - run);
        if (p[i] == 0) {
            goto bad;
        } else if (p[i] == '"' || p[i] == '\\') {
            fy_buf_addc(b, '\\');
            fy_buf_addc(b, (char)p[i++]);
        } else {
            fy_buf_addf(b, "\\u%04x", p[i++]);
        }
        run = i;
    }
    fy_buf_add(b, s + run, n - run);
    return fy_buf_addc(b, '"');
bad:
    b->len = start;
    b->data[start] = '\0';
    return FERRY_EPARSE;
}

static int add_real(struct fy_buf *b, double d, bool as_text, char *why,
                    size_t whylen)
{
    char num[32];

    if (!isfinite(d)) {
        snprintf(why, whylen, "a real value is NaN or infinite");
        return FERRY_EPARSE;
    }
    fy_fmt_real(d, num);
    /* Keep a real a real: "1" would read back as an integer. */
    if (!strpbrk(num, ".eEn"))
        snprintf(num + strlen(num), sizeof(num) - strlen(num), ".0");
    if (as_text)
        return fy_json_add_str(b, num, strlen(num));
    return fy_buf_adds(b, num);
}

static int add_integer(struct fy_buf *b, sqlite3_int64 v, enum fy_type t)
{
    if (t == FY_T_BOOLEAN && (v == 0 || v == 1))
        return fy_buf_adds(b, v ? "true" : "false");
    /* Digits and '-' need no escaping inside a JSON string. */
    if (t == FY_T_TEXT || t == FY_T_TIMESTAMPTZ || t == FY_T_DATE) {
        fy_buf_addc(b, '"');
        fy_buf_add_i64(b, v);
        return fy_buf_addc(b, '"');
    }
    return fy_buf_add_i64(b, v);
}

static int add_text(struct fy_buf *b, sqlite3_value *v, enum fy_type t,
                    char *why, size_t whylen)
{
    const char *s = (const char *)sqlite3_value_text(v);
    size_t n = (size_t)sqlite3_value_bytes(v);

    if (t == FY_T_BYTEA) {
        fy_buf_addc(b, '"');
        fy_b64_encode(b, s, n);
        return fy_buf_addc(b, '"');
    }
    if (t == FY_T_JSONB) {
        json_error_t jerr;
        json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &jerr);

        json_decref(j);
        if (j)
            return fy_buf_add(b, s, n); /* valid JSON travels inline */
    }
    if (fy_json_add_str(b, s, n) < 0) {
        snprintf(why, whylen, "text is not valid UTF-8");
        return FERRY_EPARSE;
    }
    return 0;
}

int fy_json_add_value(struct fy_buf *b, sqlite3_value *v, enum fy_type t,
                      char *why, size_t whylen)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return fy_buf_add(b, "null", 4);
    case SQLITE_INTEGER:
        return add_integer(b, sqlite3_value_int64(v), t);
    case SQLITE_FLOAT:
        return add_real(b, sqlite3_value_double(v), t == FY_T_TEXT, why,
                        whylen);
    case SQLITE_BLOB:
        fy_buf_addc(b, '"');
        fy_b64_encode(b, sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v));
        return fy_buf_addc(b, '"');
    default:
        return add_text(b, v, t, why, whylen);
    }
}
