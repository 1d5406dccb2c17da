/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock (Kulkarni et al.), packed into one integer; see hlc.h.
 */
#include "core/hlc.h"

#include "fy.h"

#define HLC_COUNTER_MASK 0xffffu

uint64_t fy_hlc_next(uint64_t *last, int64_t wall_ms)
{
    uint64_t wall = wall_ms > 0 ? (uint64_t)wall_ms << 16 : 0;
    uint64_t next = *last + 1;

    /*
     * When the counter would overflow, *last + 1 carries into the millisecond
     * bits, which simply moves the stamp one millisecond ahead of the clock:
     * still monotonic, and the clock catches up.
     */
    if (wall > next)
        next = wall;
    *last = next;
    return next;
}

void fy_hlc_observe(uint64_t *last, uint64_t remote)
{
    if (remote > *last)
        *last = remote;
}

void fy_hlc_format(uint64_t hlc, char out[FY_HLC_STRLEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = FY_HLC_STRLEN - 1; i >= 0; i--) {
        out[i] = digits[hlc & 15];
        hlc >>= 4;
    }
    out[FY_HLC_STRLEN] = '\0';
}

int fy_hlc_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < FY_HLC_STRLEN; i++) {
        int d = fy_hexval(s[i]);

        if (d < 0)
            return FERRY_EPARSE;
        v = v << 4 | (uint64_t)d;
    }
    if (s[i] != '\0' || v > INT64_MAX)
        return FERRY_EPARSE;
    *out = v;
    return 0;
}
