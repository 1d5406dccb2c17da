/* SPDX-License-Identifier: MIT */
/*
 * Escaping of untrusted text for logs and terminals (log.c). Every line
 * libferry logs goes through it; programs use it to print text that came
 * from outside (a server's message, a stored value) to a terminal.
 */
#ifndef FY_LOG_H
#define FY_LOG_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Appends the n bytes at s to b escaped as one line of plain text: control
 * bytes become \n, \r, \t or \xNN, a backslash \\, invalid UTF-8 \xNN per
 * byte, invisible or reordering code points (C1 controls, zero-width and
 * direction marks, line and paragraph separators, bidi overrides and
 * isolates, BOM) \u{N}; valid printable UTF-8 is kept. s may hold NULs
 * (escaped as \x00). Errors are b's (sticky, see fy_buf_error).
 */
void fy_escape(struct fy_buf *b, const char *s, size_t n);

#endif
