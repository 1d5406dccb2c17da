/* SPDX-License-Identifier: MIT */
/*
 * JSON -> typed value conversion with the contract's type rules, and the
 * COPY text encoder. This is on ferryd's hot path: no allocation for
 * numbers and text, one pass per value.
 */
#include "json/value.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/base64.h"
#include "fy.h"

static int bad(char *why, size_t whylen, const struct fy_column *col,
               const char *expect)
{
    snprintf(why, whylen, "column '%s' expects %s", col->name, expect);
    return FERRY_ECONTRACT;
}

static int two(const char *s)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int days_in_month(int year, int mon)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return mon == 2 && leap ? 29 : days[mon - 1];
}

/* YYYY-MM-DD, a real calendar day; returns characters consumed or -1. */
static int scan_date(const char *s)
{
    int mon, day;

    if (strnlen(s, 10) < 10)
        return -1; /* everything below may read up to s[9] */
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
    }
    if (s[4] != '-' || s[7] != '-')
        return -1;
    mon = two(s + 5);
    day = two(s + 8);
    if (mon < 1 || mon > 12 || day < 1 ||
        day > days_in_month((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
                                (s[2] - '0') * 10 + (s[3] - '0'),
                            mon))
        return -1;
    return 10;
}

/* HH:MM[:SS[.frac]], returns characters consumed or -1. */
static int scan_time(const char *s)
{
    int n = 5;

    if (two(s) < 0 || two(s) > 23 || s[2] != ':' || two(s + 3) < 0 ||
        two(s + 3) > 59)
        return -1;
    if (s[5] == ':') {
        if (two(s + 6) < 0 || two(s + 6) > 60)
            return -1;
        n = 8;
        if (s[8] == '.') {
            n = 9;
            while (isdigit((unsigned char)s[n]))
                n++;
            if (n == 9)
                return -1;
        }
    }
    return n;
}

/* Z, +HH, +HHMM or +HH:MM; returns characters consumed or -1. */
static int scan_zone(const char *s)
{
    if (s[0] == 'Z' || s[0] == 'z')
        return 1;
    if (s[0] != '+' && s[0] != '-')
        return 0;
    if (two(s + 1) < 0 || two(s + 1) > 15)
        return -1;
    if (s[3] == ':')
        return two(s + 4) >= 0 && two(s + 4) <= 59 ? 6 : -1;
    if (isdigit((unsigned char)s[3]))
        return two(s + 3) >= 0 && two(s + 3) <= 59 ? 5 : -1;
    return 3;
}

static bool valid_timestamp(const char *s)
{
    int n = scan_date(s), m;

    if (n < 0)
        return false;
    if (s[n] == '\0')
        return true; /* a bare date is midnight */
    if (s[n] != 'T' && s[n] != ' ')
        return false;
    n++;
    if ((m = scan_time(s + n)) < 0)
        return false;
    n += m;
    if ((m = scan_zone(s + n)) < 0)
        return false;
    return s[n + m] == '\0';
}

static bool valid_numeric(const char *s)
{
    size_t digits = 0;

    if (*s == '-' || *s == '+')
        s++;
    while (isdigit((unsigned char)*s))
        s++, digits++;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s))
            s++, digits++;
    }
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

static void set_text(struct fy_val *out, json_t *v)
{
    out->kind = FY_V_TEXT;
    out->s = json_string_value(v);
    out->len = json_string_length(v);
}

static int conv_int(const struct fy_column *col, json_t *v, struct fy_val *out,
                    char *why, size_t whylen)
{
    json_int_t i;

    if (!json_is_integer(v))
        return bad(why, whylen, col,
                   col->type == FY_T_BIGINT ? "a 64-bit integer"
                                            : "a 32-bit integer");
    i = json_integer_value(v);
    if (col->type == FY_T_INTEGER && (i < INT32_MIN || i > INT32_MAX))
        return bad(why, whylen, col, "a 32-bit integer");
    out->kind = FY_V_INT;
    out->i = i;
    return 0;
}

static int conv_real(const struct fy_column *col, json_t *v, struct fy_val *out,
                     char *why, size_t whylen)
{
    if (!json_is_number(v))
        return bad(why, whylen, col, "a number");
    out->kind = FY_V_REAL;
    out->d = json_number_value(v);
    return 0;
}

static int conv_numeric(const struct fy_column *col, json_t *v,
                        struct fy_val *out, char *why, size_t whylen)
{
    if (json_is_integer(v)) {
        out->kind = FY_V_INT;
        out->i = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v))
        return conv_real(col, v, out, why, whylen);
    if (json_is_string(v) && valid_numeric(json_string_value(v))) {
        set_text(out, v);
        return 0;
    }
    return bad(why, whylen, col, "a number or a numeric string");
}

static int conv_bool(const struct fy_column *col, json_t *v, struct fy_val *out,
                     char *why, size_t whylen)
{
    /* SQLite keeps booleans as 0/1, so those are accepted as well. */
    if (json_is_boolean(v)) {
        out->i = json_is_true(v);
    } else if (json_is_integer(v) &&
               (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        out->i = json_integer_value(v);
    } else {
        return bad(why, whylen, col, "true, false, 0 or 1");
    }
    out->kind = FY_V_BOOL;
    return 0;
}

static int conv_bytea(const struct fy_column *col, json_t *v,
                      struct fy_arena *a, struct fy_val *out, char *why,
                      size_t whylen)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), len;
    unsigned char *p;

    if (!s)
        return bad(why, whylen, col, "a base64 string");
    p = fy_arena_alloc(a, fy_b64_max_decoded(n));
    if (!p)
        return FERRY_ENOMEM;
    if (fy_b64_decode(s, n, p, &len) < 0)
        return bad(why, whylen, col, "a base64 string");
    out->kind = FY_V_BLOB;
    out->s = (const char *)p;
    out->len = len;
    return 0;
}

static int conv_text(const struct fy_column *col, json_t *v, struct fy_val *out,
                     char *why, size_t whylen)
{
    const char *s = json_string_value(v);

    if (!s)
        return bad(why, whylen, col, "a string");
    if (col->blob_ref &&
        (json_string_length(v) != 64 || strspn(s, "0123456789abcdef") != 64))
        return bad(why, whylen, col, "a lower-case hex SHA-256");
    if ((col->type == FY_T_TIMESTAMPTZ && !valid_timestamp(s)) ||
        (col->type == FY_T_DATE && (scan_date(s) < 0 || s[10] != '\0')))
        return bad(why, whylen, col,
                   col->type == FY_T_DATE ? "a date YYYY-MM-DD"
                                          : "an ISO 8601 timestamp");
    set_text(out, v);
    return 0;
}

static int conv_jsonb(json_t *v, struct fy_arena *a, struct fy_val *out)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (!text)
        return FERRY_ENOMEM;
    out->kind = FY_V_TEXT;
    out->len = strlen(text);
    out->s = fy_arena_strndup(a, text, out->len);
    free(text); /* jansson's malloc */
    return out->s ? 0 : FERRY_ENOMEM;
}

int fy_val_from_json(const struct fy_column *col, json_t *v, struct fy_arena *a,
                     struct fy_val *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (!v || json_is_null(v)) {
        if (col->not_null)
            return bad(why, whylen, col, "a value (it is NOT NULL)");
        return 0;
    }
    switch (col->type) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return conv_int(col, v, out, why, whylen);
    case FY_T_DOUBLE:
        return conv_real(col, v, out, why, whylen);
    case FY_T_NUMERIC:
        return conv_numeric(col, v, out, why, whylen);
    case FY_T_BOOLEAN:
        return conv_bool(col, v, out, why, whylen);
    case FY_T_BYTEA:
        return conv_bytea(col, v, a, out, why, whylen);
    case FY_T_JSONB:
        return conv_jsonb(v, a, out);
    case FY_T_TEXT:
    case FY_T_TIMESTAMPTZ:
    case FY_T_DATE:
    default:
        return conv_text(col, v, out, why, whylen);
    }
}

static void copy_escape(struct fy_buf *b, const char *s, size_t n)
{
    const char *run = s;

    if (fy_buf_grow(b, n + 8))
        return;
    for (size_t i = 0; i < n; i++) {
        char esc;

        switch (s[i]) {
        case '\\':
            esc = '\\';
            break;
        case '\n':
            esc = 'n';
            break;
        case '\r':
            esc = 'r';
            break;
        case '\t':
            esc = 't';
            break;
        default:
            continue;
        }
        fy_buf_add(b, run, (size_t)(s + i - run));
        fy_buf_addc(b, '\\');
        fy_buf_addc(b, esc);
        run = s + i + 1;
    }
    fy_buf_add(b, run, (size_t)(s + n - run));
}

static void copy_hex(struct fy_buf *b, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    if (fy_buf_grow(b, 3 + 2 * n))
        return;
    fy_buf_add(b, "\\\\x", 3);
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = digits[p[i] >> 4];
        b->data[b->len++] = digits[p[i] & 15];
    }
    b->data[b->len] = '\0';
}

int fy_val_copy_text(struct fy_buf *b, const struct fy_val *v)
{
    switch (v->kind) {
    case FY_V_NULL:
        return fy_buf_add(b, "\\N", 2);
    case FY_V_INT:
        return fy_buf_addf(b, "%lld", (long long)v->i);
    case FY_V_REAL:
        return fy_buf_addf(b, "%.17g", v->d);
    case FY_V_BOOL:
        return fy_buf_addc(b, v->i ? 't' : 'f');
    case FY_V_BLOB:
        copy_hex(b, (const unsigned char *)v->s, v->len);
        return fy_buf_error(b);
    case FY_V_TEXT:
    default:
        copy_escape(b, v->s, v->len);
        return fy_buf_error(b);
    }
}

int fy_val_key_text(struct fy_buf *b, const struct fy_val *v)
{
    switch (v->kind) {
    case FY_V_INT:
    case FY_V_BOOL:
        return fy_buf_addf(b, "i%lld", (long long)v->i);
    case FY_V_REAL:
        return fy_buf_addf(b, "r%.17g", v->d);
    case FY_V_NULL:
        return fy_buf_addc(b, 'n');
    default:
        fy_buf_addc(b, 's');
        fy_buf_addf(b, "%zu:", v->len);
        return fy_buf_add(b, v->s, v->len);
    }
}
