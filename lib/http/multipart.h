/* SPDX-License-Identifier: MIT */
/*
 * A small, strict reader of multipart/form-data bodies (RFC 7578, RFC 2046
 * section 5.1) that finds one field's bytes in a body already on disk (the
 * server streams FY_BODY_FILE bodies to a file, so a part is never held in
 * memory; the caller maps or reads the range). Strict: the boundary must
 * be valid, every part must have a form-data Content-Disposition with a
 * name, the body must end with the closing delimiter, and the field must
 * appear exactly once. Anything else is FERRY_EPARSE with a sentence why.
 */
#ifndef FY_MULTIPART_H
#define FY_MULTIPART_H

#include <stddef.h>

#include "ferry/ferry_err.h"

/* RFC 2046: a boundary has 1 to 70 characters. */
#define FY_MULTIPART_BOUNDARY_MAX 70

/*
 * The boundary parameter of a Content-Type "multipart/form-data;
 * boundary=..." (quoted or not), into out. FERRY_EPARSE when the type is
 * not multipart/form-data or the boundary is missing or invalid.
 */
int fy_multipart_boundary(const char *content_type,
                          char out[FY_MULTIPART_BOUNDARY_MAX + 1],
                          struct ferry_err *err);

/*
 * Finds the part named field in body[0..len) with the given boundary (or,
 * with field NULL, the one part that carries a file: a filename
 * parameter): *off and *n are its content's place in body. FERRY_EPARSE
 * (err says why) for a malformed body, a missing field or the field twice.
 */
int fy_multipart_find(const char *body, size_t len, const char *boundary,
                      const char *field, size_t *off, size_t *n,
                      struct ferry_err *err);

#endif
