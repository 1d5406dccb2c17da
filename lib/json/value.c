/* SPDX-License-Identifier: MIT */
/*
 * JSON -> typed value conversion with the contract's type rules, and the
 * COPY text encoder. This is on ferryd's hot path: no allocation for
 * numbers and text, one pass per value.
 */
#include "json/value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/num.h"
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

#define US_PER_S  INT64_C(1000000)
#define S_PER_DAY INT64_C(86400)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int year_of(const char *s)
{
    return (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
           (s[3] - '0');
}

/*
 * Fractional seconds as PostgreSQL reads them: strtod of ".ddd", times a
 * million, rint (round half to even on the double). Longer fractions than
 * 40 digits are refused rather than rounded differently.
 */
static int scan_frac_us(const char *dot, size_t n, int64_t *us)
{
    char tmp[48];
    double x;

    if (n > 41)
        return -1;
    memcpy(tmp, dot, n);
    tmp[n] = '\0';
    x = strtod(tmp, NULL) * 1e6; /* 0 <= x <= 1e6 */
    *us = (int64_t)x;
    if (x - (double)*us > 0.5 || (x - (double)*us == 0.5 && (*us & 1)))
        (*us)++;
    return 0;
}

static int64_t zone_seconds(const char *z, int n)
{
    int64_t off = 0;

    if (n == 3 || n == 5 || n == 6) {
        off = two(z + 1) * 3600 + (n == 3 ? 0 : two(z + (n == 6 ? 4 : 3)) * 60);
        if (z[0] == '-')
            off = -off;
    }
    return off;
}

/* The UTC instant of an ISO 8601 timestamp in microseconds, or -1. */
static int parse_timestamp(const char *s, int64_t *out)
{
    int n = scan_date(s), m;
    int64_t secs, us = 0;

    if (n < 0 || year_of(s) == 0)
        return -1;
    secs = days_from_civil(year_of(s), two(s + 5), two(s + 8)) * S_PER_DAY;
    if (s[n] != '\0') {
        if (s[n] != 'T' && s[n] != ' ')
            return -1;
        n++;
        if ((m = scan_time(s + n)) < 0)
            return -1;
        secs += two(s + n) * 3600 + two(s + n + 3) * 60 +
                (m >= 8 ? two(s + n + 6) : 0);
        if (m > 8 && scan_frac_us(s + n + 8, (size_t)m - 8, &us) < 0)
            return -1;
        n += m;
        if ((m = scan_zone(s + n)) < 0 || s[n + m] != '\0')
            return -1;
        secs -= zone_seconds(s + n, m);
    }
    *out = secs * US_PER_S + us;
    /* Years 1 to 9999 in UTC: what both stores hold alike. */
    if (*out < days_from_civil(1, 1, 1) * S_PER_DAY * US_PER_S ||
        *out >= days_from_civil(10000, 1, 1) * S_PER_DAY * US_PER_S)
        return -1;
    return 0;
}

static bool valid_timestamp(const char *s)
{
    int64_t us;

    return parse_timestamp(s, &us) == 0;
}

static bool valid_date(const char *s)
{
    return scan_date(s) == 10 && s[10] == '\0' && year_of(s) > 0;
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

/*
 * Both stores must hold the same numbers: the SQLite store keeps numerics as
 * doubles, so a numeric beyond the double range (Inf there) or one that
 * underflows to zero is refused on both.
 */
static bool finite_numeric(const char *s)
{
    double d = strtod(s, NULL);

    if (isinf(d))
        return false;
    if (d == 0) {
        for (; *s && *s != 'e' && *s != 'E'; s++) {
            if (*s >= '1' && *s <= '9')
                return false;
        }
    }
    return true;
}

static void set_text(struct fy_val *out, const struct fy_jval *v)
{
    out->kind = FY_V_TEXT;
    out->s = v->s;
    out->len = v->len;
}

static int conv_int(const struct fy_column *col, const struct fy_jval *v,
                    struct fy_val *out, char *why, size_t whylen)
{
    if (v->kind != FY_J_INT)
        return bad(why, whylen, col,
                   col->type == FY_T_BIGINT ? "a 64-bit integer"
                                            : "a 32-bit integer");
    if (col->type == FY_T_INTEGER && (v->i < INT32_MIN || v->i > INT32_MAX))
        return bad(why, whylen, col, "a 32-bit integer");
    out->kind = FY_V_INT;
    out->i = v->i;
    return 0;
}

static int conv_real(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_val *out, char *why, size_t whylen)
{
    if (v->kind != FY_J_INT && v->kind != FY_J_REAL)
        return bad(why, whylen, col, "a number");
    out->kind = FY_V_REAL;
    out->d = v->kind == FY_J_INT ? (double)v->i : v->d;
    return 0;
}

/*
 * The text of a string value as a C string: numerics, dates and times are
 * scanned as such. A parser's string is copied into a (they are short).
 */
static const char *c_text(const struct fy_jval *v, struct fy_arena *a)
{
    return v->terminated ? v->s : fy_arena_strndup(a, v->s, v->len);
}

static int conv_numeric(const struct fy_column *col, const struct fy_jval *v,
                        struct fy_arena *a, struct fy_val *out, char *why,
                        size_t whylen)
{
    const char *s;

    if (v->kind == FY_J_INT) {
        out->kind = FY_V_INT;
        out->i = v->i;
        return 0;
    }
    if (v->kind == FY_J_REAL)
        return conv_real(col, v, out, why, whylen);
    if (v->kind != FY_J_STRING)
        return bad(why, whylen, col, "a number or a numeric string");
    if (!(s = c_text(v, a)))
        return FERRY_ENOMEM;
    if (!valid_numeric(s))
        return bad(why, whylen, col, "a number or a numeric string");
    if (!finite_numeric(s))
        return bad(why, whylen, col,
                   "a number within the range of a double (about"
                   " 1e-307 to 1e308 in magnitude)");
    *out = (struct fy_val){.kind = FY_V_TEXT, .s = s, .len = v->len};
    return 0;
}

static int conv_bool(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_val *out, char *why, size_t whylen)
{
    /* SQLite keeps booleans as 0/1, so those are accepted as well. */
    if (v->kind != FY_J_BOOL &&
        (v->kind != FY_J_INT || (v->i != 0 && v->i != 1)))
        return bad(why, whylen, col, "true, false, 0 or 1");
    out->kind = FY_V_BOOL;
    out->i = v->i;
    return 0;
}

static int conv_bytea(const struct fy_column *col, const struct fy_jval *v,
                      struct fy_arena *a, struct fy_val *out, char *why,
                      size_t whylen)
{
    size_t len;
    unsigned char *p;

    if (v->kind != FY_J_STRING)
        return bad(why, whylen, col, "a base64 string");
    p = fy_arena_alloc(a, fy_b64_max_decoded(v->len));
    if (!p)
        return FERRY_ENOMEM;
    if (fy_b64_decode(v->s, v->len, p, &len) < 0)
        return bad(why, whylen, col, "a base64 string");
    out->kind = FY_V_BLOB;
    out->s = (const char *)p;
    out->len = len;
    return 0;
}

static int conv_time(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_arena *a, struct fy_val *out, char *why,
                     size_t whylen)
{
    const char *s = v->kind == FY_J_STRING ? c_text(v, a) : NULL;

    if (v->kind == FY_J_STRING && !s)
        return FERRY_ENOMEM;
    if (!s || (col->type == FY_T_TIMESTAMPTZ && !valid_timestamp(s)) ||
        (col->type == FY_T_DATE && !valid_date(s)))
        return bad(why, whylen, col,
                   col->type == FY_T_DATE ? "a date YYYY-MM-DD"
                                          : "an ISO 8601 timestamp");
    *out = (struct fy_val){.kind = FY_V_TEXT, .s = s, .len = v->len};
    return 0;
}

static bool is_sha256_hex(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n &&
           ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
        i++;
    return n == 64 && i == n;
}

static int conv_text(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_val *out, char *why, size_t whylen)
{
    if (v->kind != FY_J_STRING)
        return bad(why, whylen, col, "a string");
    if (col->blob_ref && !is_sha256_hex(v->s, v->len))
        return bad(why, whylen, col, "a lower-case hex SHA-256");
    set_text(out, v);
    return 0;
}

json_t *fy_jval_json(const struct fy_jval *v)
{
    switch (v->kind) {
    case FY_J_BOOL:
        return json_boolean(v->i);
    case FY_J_INT:
        return json_integer((json_int_t)v->i);
    case FY_J_REAL:
        return json_real(v->d);
    case FY_J_STRING:
        return json_stringn_nocheck(v->s, v->len);
    case FY_J_TREE:
        return json_incref(v->tree);
    case FY_J_NULL:
    default:
        return json_null();
    }
}

static int conv_jsonb(const struct fy_jval *v, struct fy_arena *a,
                      struct fy_val *out)
{
    json_t *j = fy_jval_json(v);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    json_decref(j);
    if (!text)
        return FERRY_ENOMEM;
    out->kind = FY_V_TEXT;
    out->len = strlen(text);
    out->s = fy_arena_strndup(a, text, out->len);
    free(text); /* jansson's malloc */
    return out->s ? 0 : FERRY_ENOMEM;
}

void fy_jval_of_json(json_t *j, struct fy_jval *out)
{
    memset(out, 0, sizeof(*out));
    switch (j ? json_typeof(j) : JSON_NULL) {
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = FY_J_BOOL;
        out->i = json_is_true(j);
        break;
    case JSON_INTEGER:
        out->kind = FY_J_INT;
        out->i = json_integer_value(j);
        break;
    case JSON_REAL:
        out->kind = FY_J_REAL;
        out->d = json_real_value(j);
        break;
    case JSON_STRING:
        out->kind = FY_J_STRING;
        out->s = json_string_value(j);
        out->len = json_string_length(j);
        out->terminated = true;
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
        out->kind = FY_J_TREE;
        out->tree = j;
        break;
    case JSON_NULL:
    default:
        break;
    }
}

int fy_val_from_jval(const struct fy_column *col, const struct fy_jval *v,
                     struct fy_arena *a, struct fy_val *out, char *why,
                     size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (v->kind == FY_J_NULL) {
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
        return conv_numeric(col, v, a, out, why, whylen);
    case FY_T_BOOLEAN:
        return conv_bool(col, v, out, why, whylen);
    case FY_T_BYTEA:
        return conv_bytea(col, v, a, out, why, whylen);
    case FY_T_JSONB:
        return conv_jsonb(v, a, out);
    case FY_T_TIMESTAMPTZ:
    case FY_T_DATE:
        return conv_time(col, v, a, out, why, whylen);
    case FY_T_TEXT:
    default:
        return conv_text(col, v, out, why, whylen);
    }
}

int fy_val_from_json(const struct fy_column *col, json_t *v, struct fy_arena *a,
                     struct fy_val *out, char *why, size_t whylen)
{
    struct fy_jval jv;

    fy_jval_of_json(v, &jv);
    return fy_val_from_jval(col, &jv, a, out, why, whylen);
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
    char num[32];

    switch (v->kind) {
    case FY_V_NULL:
    case FY_V_ABSENT:
        return fy_buf_add(b, "\\N", 2);
    case FY_V_INT:
        return fy_buf_add_i64(b, (long long)v->i);
    case FY_V_REAL:
        return fy_buf_add(b, num, fy_fmt_real(v->d, num));
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
    char num[32];

    switch (v->kind) {
    case FY_V_INT:
    case FY_V_BOOL:
        fy_buf_addc(b, 'i');
        return fy_buf_add_i64(b, (long long)v->i);
    case FY_V_REAL:
        fy_buf_addc(b, 'r');
        return fy_buf_add(b, num, fy_fmt_real(v->d, num));
    case FY_V_NULL:
        return fy_buf_addc(b, 'n');
    default:
        fy_buf_addc(b, 's');
        fy_buf_add_u64(b, v->len);
        fy_buf_addc(b, ':');
        return fy_buf_add(b, v->s, v->len);
    }
}

/* ---- canonical keys --------------------------------------------------- */

/*
 * A numeric's plain decimal without sign on zero, leading or trailing zeros
 * or exponent ("-001.50e1" -> "-15"), in the arena. The value is known to be
 * within the double range, so the exponent is small.
 */
static char *numeric_canon(const char *s, struct fy_arena *a)
{
    size_t len = strlen(s), nd = 0;
    char *dig = fy_arena_alloc(a, len + 1), *out, *p;
    long point = 0, exp = 0;
    bool neg = *s == '-', seen_point = false;

    if (!dig)
        return NULL;
    if (*s == '-' || *s == '+')
        s++;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            seen_point = true;
        } else if (nd > 0 || *s != '0') {
            dig[nd++] = *s;
            point += !seen_point;
        } else if (seen_point) {
            point--; /* a leading zero after the point */
        }
    }
    if (*s)
        exp = strtol(s + 1, NULL, 10);
    while (nd > 0 && dig[nd - 1] == '0')
        nd--;
    if (nd == 0)
        return fy_arena_strndup(a, "0", 1);
    point += exp; /* value = 0.DIGITS x 10^point */
    out = p = fy_arena_alloc(a, nd + (size_t)labs(point) + 4);
    if (!out)
        return NULL;
    if (neg)
        *p++ = '-';
    if (point <= 0) {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-point);
        p += -point;
        memcpy(p, dig, nd);
        p += nd;
    } else if ((size_t)point >= nd) {
        memcpy(p, dig, nd);
        memset(p + nd, '0', (size_t)point - nd);
        p += point;
    } else {
        memcpy(p, dig, (size_t)point);
        p += point;
        *p++ = '.';
        memcpy(p, dig + point, nd - (size_t)point);
        p += nd - (size_t)point;
    }
    *p = '\0';
    return out;
}

/* Significant digits of a canonical numeric. */
static size_t numeric_digits(const char *c)
{
    size_t n = 0, zeros = 0;
    bool started = false;

    for (; *c; c++) {
        if (*c < '0' || *c > '9')
            continue;
        if (*c != '0') {
            n += zeros + 1;
            zeros = 0;
            started = true;
        } else if (started) {
            zeros++;
        }
    }
    return n;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void shortest_double(char *buf, size_t n, double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static int canon_numeric(const struct fy_column *col, struct fy_val *v,
                         struct fy_arena *a, struct fy_buf *key, char *why,
                         size_t whylen)
{
    char tmp[40];
    const char *text = tmp;
    char *c, *end;
    long long i;

    if (v->kind == FY_V_INT)
        snprintf(tmp, sizeof(tmp), "%lld", (long long)v->i);
    else if (v->kind == FY_V_REAL)
        shortest_double(tmp, sizeof(tmp), v->d);
    else
        text = v->s;
    if (!(c = numeric_canon(text, a)))
        return FERRY_ENOMEM;
    errno = 0;
    i = strchr(c, '.') ? 0 : strtoll(c, &end, 10);
    if (!strchr(c, '.') && errno == 0) {
        *v = (struct fy_val){.kind = FY_V_INT, .i = i};
    } else if (numeric_digits(c) > 15) {
        /*
         * The SQLite store compares numerics as doubles: beyond 15
         * significant digits two different keys could be one row there
         * and two in PostgreSQL.
         */
        return bad(why, whylen, col,
                   "a key number with at most 15 significant digits or a"
                   " 64-bit integer");
    } else {
        *v = (struct fy_val){.kind = FY_V_TEXT, .s = c, .len = strlen(c)};
    }
    fy_buf_addc(key, 'n');
    return fy_buf_adds(key, c);
}

static int canon_timestamp(struct fy_val *v, struct fy_arena *a,
                           struct fy_buf *key)
{
    char tmp[64], *text = fy_arena_alloc(a, v->len + 1);
    int64_t us, day_us, days;
    int y, m, d, n, frac = 0;

    if (!text)
        return FERRY_ENOMEM;
    memcpy(text, v->s, v->len);
    text[v->len] = '\0';
    if (parse_timestamp(text, &us) < 0)
        return FERRY_ECONTRACT; /* validated before: cannot happen */
    days = us / (S_PER_DAY * US_PER_S);
    day_us = us % (S_PER_DAY * US_PER_S);
    if (day_us < 0) {
        days--;
        day_us += S_PER_DAY * US_PER_S;
    }
    civil_from_days(days, &y, &m, &d);
    n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
                 (int)(day_us / 3600000000), (int)(day_us / 60000000 % 60),
                 (int)(day_us / US_PER_S % 60));
    frac = (int)(day_us % US_PER_S);
    if (frac) {
        n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, ".%06d", frac);
        while (tmp[n - 1] == '0')
            n--;
    }
    /* "+00:00" sorts before ".": text order is time order. */
    memcpy(tmp + n, "+00:00", 7);
    n += 6;
    v->s = fy_arena_strndup(a, tmp, (size_t)n);
    v->len = (size_t)n;
    fy_buf_addf(key, "t%lld", (long long)us);
    return v->s ? 0 : FERRY_ENOMEM;
}

/* A real that is an integer (below 2^53, where doubles are exact). */
static bool integral_real(const json_t *j)
{
    double d = json_real_value(j);

    return json_is_real(j) && fabs(d) < 9e15 && d == (double)(int64_t)d;
}

/* jsonb compares numbers as numerics: 1, 1.0 and 1e0 are one key. */
static void jsonb_normalise(json_t *j)
{
    const char *k;
    json_t *x;
    size_t i;
    void *tmp;

    if (json_is_real(j))
        return;
    json_array_foreach(j, i, x)
    {
        if (integral_real(x))
            json_array_set_new(j, i,
                               json_integer((json_int_t)json_real_value(x)));
        else
            jsonb_normalise(x);
    }
    json_object_foreach_safe(j, tmp, k, x)
    {
        if (integral_real(x))
            json_object_set_new(j, k,
                                json_integer((json_int_t)json_real_value(x)));
        else
            jsonb_normalise(x);
    }
}

static int canon_jsonb(struct fy_val *v, struct fy_arena *a, struct fy_buf *key)
{
    json_t *j = json_loadb(v->s, v->len, JSON_DECODE_ANY, NULL);
    char *text;

    if (!j)
        return FERRY_ENOMEM;
    if (integral_real(j)) {
        json_t *i = json_integer((json_int_t)json_real_value(j));

        json_decref(j);
        j = i;
    }
    jsonb_normalise(j);
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    if (!text)
        return FERRY_ENOMEM;
    v->len = strlen(text);
    v->s = fy_arena_strndup(a, text, v->len);
    free(text); /* jansson's malloc */
    if (!v->s)
        return FERRY_ENOMEM;
    fy_buf_addf(key, "j%zu:", v->len);
    return fy_buf_add(key, v->s, v->len);
}

int fy_val_key_canon(const struct fy_column *col, struct fy_val *v,
                     struct fy_arena *a, struct fy_buf *key, size_t *bytes,
                     char *why, size_t whylen)
{
    int rc;

    switch (v->kind == FY_V_NULL ? FY_T__COUNT : col->type) {
    case FY_T_NUMERIC:
        rc = canon_numeric(col, v, a, key, why, whylen);
        break;
    case FY_T_DOUBLE:
        if (v->d == 0)
            v->d = 0; /* -0 and 0 are one key */
        rc = fy_val_key_text(key, v);
        break;
    case FY_T_TIMESTAMPTZ:
        rc = canon_timestamp(v, a, key);
        break;
    case FY_T_JSONB:
        rc = canon_jsonb(v, a, key);
        break;
    default:
        /* integers, booleans, dates (one spelling), text and bytea */
        rc = fy_val_key_text(key, v);
        break;
    }
    *bytes += v->kind == FY_V_TEXT || v->kind == FY_V_BLOB ? v->len : 8;
    return rc;
}

/* ---- stored values ------------------------------------------------------- */

/* bytea comes from the stores as hex digits; the wire wants base64. */
static json_t *hex_bytes_json(const char *hex)
{
    size_t n = strlen(hex) / 2;
    unsigned char *raw = fy_malloc(n + 1);
    struct fy_buf b = FY_BUF_INIT(0);
    json_t *j = NULL;

    for (size_t i = 0; raw && i < n; i++)
        raw[i] = (unsigned char)(fy_hexval(hex[2 * i]) << 4 |
                                 fy_hexval(hex[2 * i + 1]));
    if (raw && fy_b64_encode(&b, raw, n) == 0 && !fy_buf_error(&b))
        j = json_stringn(b.data, b.len);
    fy_free(raw);
    fy_buf_release(&b);
    return j;
}

json_t *fy_val_store_json(const struct fy_column *col, const char *text)
{
    json_t *j;

    if (!text)
        return json_null();
    switch (col->type) {
    case FY_T_BIGINT:
    case FY_T_INTEGER:
        return json_integer(strtoll(text, NULL, 10));
    case FY_T_DOUBLE:
        return json_real(strtod(text, NULL));
    case FY_T_BOOLEAN:
        return json_boolean(text[0] == 't' || text[0] == '1');
    case FY_T_BYTEA:
        return hex_bytes_json(text);
    case FY_T_JSONB:
        j = json_loads(text, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(text);
    default:
        return json_string(text);
    }
}
