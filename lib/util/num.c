/* SPDX-License-Identifier: MIT */
/* Reals as text without stdio; see num.h. */
#include "util/num.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * snprintf("%.17g") without stdio: the exact 17 significant digits of a
 * double, rounded half to even, laid out as %g lays them out. It costs
 * about a tenth of glibc's, which was the largest cost of a row of
 * numbers. Exact for 1e-11 <= |d| < 1e17 (d = m * 2^e and the digits are
 * m * 5^k * 2^(e + k) for k = 16 - the decimal exponent: at most 116 bits,
 * done in two 64-bit halves, no libm); anything else, and 0, goes to
 * snprintf.
 */
struct u128 {
    uint64_t hi, lo;
};

static struct u128 mul64(uint64_t a, uint64_t b)
{
    uint64_t p0 = (a & 0xffffffffu) * (b & 0xffffffffu);
    uint64_t p1 = (a & 0xffffffffu) * (b >> 32);
    uint64_t p2 = (a >> 32) * (b & 0xffffffffu);
    uint64_t p3 = (a >> 32) * (b >> 32);
    uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffu) + (p2 & 0xffffffffu);

    return (struct u128){.hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32),
                         .lo = (p0 & 0xffffffffu) | (mid << 32)};
}

/* Bit i (0..127) of v. */
static bool bit128(struct u128 v, int i)
{
    return i >= 64 ? (v.hi >> (i - 64)) & 1 : (v.lo >> i) & 1;
}

/* Any bit below bit i (0..127) of v. */
static bool below128(struct u128 v, int i)
{
    if (i >= 64)
        return v.lo != 0 || (i > 64 && (v.hi & ((1ull << (i - 64)) - 1)));
    return i > 0 && (v.lo & ((1ull << i) - 1)) != 0;
}

/*
 * round(v / 2^s), half to even, for 0 < s < 128; UINT64_MAX when it does
 * not fit 64 bits.
 */
static uint64_t shr_round(struct u128 v, int s)
{
    uint64_t q;

    if (s <= 0 || s >= 128 || (s < 64 && (v.hi >> s) != 0))
        return UINT64_MAX;
    q = s >= 64 ? v.hi >> (s - 64) : (v.lo >> s) | (v.hi << (64 - s));
    if (bit128(v, s - 1) && (below128(v, s - 1) || (q & 1)))
        q++;
    return q;
}

#define TEN16 10000000000000000ull

/*
 * The 17 digits of a (finite, > 0) as an integer in [1e16, 1e17) and the
 * decimal exponent *x; 0 when a is outside the exact range.
 */
static uint64_t digits17(double a, int *x)
{
    static const uint64_t pow5[28] = {1ull,
                                      5ull,
                                      25ull,
                                      125ull,
                                      625ull,
                                      3125ull,
                                      15625ull,
                                      78125ull,
                                      390625ull,
                                      1953125ull,
                                      9765625ull,
                                      48828125ull,
                                      244140625ull,
                                      1220703125ull,
                                      6103515625ull,
                                      30517578125ull,
                                      152587890625ull,
                                      762939453125ull,
                                      3814697265625ull,
                                      19073486328125ull,
                                      95367431640625ull,
                                      476837158203125ull,
                                      2384185791015625ull,
                                      11920928955078125ull,
                                      59604644775390625ull,
                                      298023223876953125ull,
                                      1490116119384765625ull,
                                      7450580596923828125ull};
    uint64_t bits, m;
    double guess;
    int e;

    memcpy(&bits, &a, sizeof(bits));
    e = (int)(bits >> 52) & 0x7ff;
    if (e == 0)
        return 0; /* subnormal: far below the range */
    m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    e -= 1075; /* a = m * 2^e */
    /*
     * The decimal exponent is floor((e + 52) * log10(2)) or one more; the
     * loop corrects the guess by the digits it gets.
     */
    guess = (e + 52) * 0.30102999566398120;
    *x = (int)guess;
    if (guess < *x)
        *x -= 1;
    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - *x, t = e + k;
        struct u128 v;
        uint64_t n;

        if (k < 0 || k > 27 || t <= -128)
            return 0;
        v = mul64(m, pow5[k]);
        if (t >= 0)
            n = v.hi == 0 && t < 64 && (v.lo >> (63 - t)) == 0 ? v.lo << t
                                                               : UINT64_MAX;
        else
            n = shr_round(v, -t);
        if (n == 10 * TEN16) {
            *x += 1; /* a power of ten, or rounded up to one */
            return TEN16;
        }
        if (n >= 10 * TEN16)
            *x += 1;
        else if (n < TEN16)
            *x -= 1;
        else
            return n;
    }
    return 0;
}

/* The 17 digits of n laid out as %g does with precision 17, x its exponent. */
static size_t layout_g17(uint64_t n, int x, bool neg, char *out)
{
    char d[17];
    int last = 16;
    size_t o = 0;

    for (int i = 16; i >= 0; i--, n /= 10)
        d[i] = (char)('0' + n % 10);
    if (neg)
        out[o++] = '-';
    if (x < -4 || x >= 17) {
        while (last > 0 && d[last] == '0')
            last--;
        out[o++] = d[0];
        if (last > 0)
            out[o++] = '.';
        for (int i = 1; i <= last; i++)
            out[o++] = d[i];
        o += (size_t)snprintf(out + o, 8, "e%c%02d", x < 0 ? '-' : '+',
                              x < 0 ? -x : x);
        return o;
    }
    /* Fixed: the point after digit x, trailing zeros of the fraction cut. */
    while (last > x && last > 0 && d[last] == '0')
        last--;
    if (x < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = -1; i > x; i--)
            out[o++] = '0';
    }
    for (int i = 0; i <= last; i++) {
        out[o++] = d[i];
        if (i == x && i < last)
            out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

size_t fy_fmt_real(double d, char out[32])
{
    int x = 0;
    uint64_t n = d != 0 && isfinite(d) ? digits17(d < 0 ? -d : d, &x) : 0;

    if (n == 0)
        return (size_t)snprintf(out, 32, "%.17g", d);
    return layout_g17(n, x, signbit(d) != 0, out);
}
