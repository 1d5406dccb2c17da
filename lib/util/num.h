/* SPDX-License-Identifier: MIT */
/*
 * Reals as text without stdio, on the hot paths that print many: the
 * agent's JSON rows and ferryd's COPY text for PostgreSQL.
 */
#ifndef FY_NUM_H
#define FY_NUM_H

#include <stddef.h>

/*
 * d as snprintf(out, 32, "%.17g", d) writes it, byte for byte (so it reads
 * back as the same double), at about a tenth of the cost; the length.
 */
size_t fy_fmt_real(double d, char out[32]);

#endif
