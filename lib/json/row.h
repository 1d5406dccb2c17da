/* SPDX-License-Identifier: MIT */
/*
 * Agent-side JSON encoding of SQLite rows, straight into a fy_buf (no
 * intermediate JSON objects: this runs for every row pushed). Values are
 * shaped for the column's contract type: integers and reals as numbers,
 * booleans as true/false, blobs as base64, JSON columns inline.
 */
#ifndef FY_ROW_H
#define FY_ROW_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/contract.h"
#include "util/buf.h"

/*
 * Appends s[0..n) as a JSON string. FERRY_EPARSE (nothing usable appended)
 * when s is not valid UTF-8 or holds a NUL byte.
 */
int fy_json_add_str(struct fy_buf *b, const char *s, size_t n);

/*
 * Appends v (a column or stored value) as a JSON value for a column of type
 * t. Returns FERRY_EPARSE with a reason in why when the value cannot be
 * represented (invalid UTF-8, NaN or infinity).
 */
int fy_json_add_value(struct fy_buf *b, sqlite3_value *v, enum fy_type t,
                      char *why, size_t whylen);

#endif
