/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock stamps: 48 bits of wall-clock milliseconds and a
 * 16-bit logical counter in one uint64, so stamps compare as integers and
 * stay close to real time. On the wire they are 16 lower-case hex digits,
 * which sort the same way as the numbers.
 */
#ifndef FY_HLC_H
#define FY_HLC_H

#include <stdint.h>

#define FY_HLC_STRLEN 16

/*
 * Returns the next stamp after *last for an event seen at wall_ms and stores
 * it in *last: never below wall time, always above every earlier stamp, even
 * when the wall clock steps back.
 */
uint64_t fy_hlc_next(uint64_t *last, int64_t wall_ms);

/* Merges a stamp received from elsewhere so later local stamps exceed it. */
void fy_hlc_observe(uint64_t *last, uint64_t remote);

/* Writes 16 hex digits and a NUL into out. */
void fy_hlc_format(uint64_t hlc, char out[FY_HLC_STRLEN + 1]);

/* Parses exactly 16 hex digits; FERRY_EPARSE otherwise. */
int fy_hlc_parse(const char *s, uint64_t *out);

/* Wall-clock milliseconds of a stamp. */
static inline int64_t fy_hlc_ms(uint64_t hlc)
{
    return (int64_t)(hlc >> 16);
}

#endif
