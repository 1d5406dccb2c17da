/* SPDX-License-Identifier: MIT */
/*
 * A streaming JSON writer for `ferry export json`: values go to a FILE* as
 * they are given, so a document larger than memory can be written. Its
 * output is laid out like Python's json.dump(..., indent=2,
 * ensure_ascii=False) (or on one line), UTF-8 unescaped, numbers as given
 * (a stored numeric's text is written as it is; doubles in their shortest
 * form that reads back equal). Neither yajl_gen nor jansson's dump do all
 * three.
 */
#ifndef FY_JSONW_H
#define FY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ferry/ferry_err.h"
#include "util/buf.h"

struct fy_jsonw {
    FILE *f;         /* borrowed */
    int indent;      /* spaces per level; 0: one line */
    size_t depth;    /* open containers */
    uint8_t *filled; /* per open container: it has a member already */
    size_t cap;
    struct fy_buf scratch; /* a string's encoding */
    bool after_key;        /* the next value is a member's value */
    int err;               /* sticky: the first failure (FERRY_E*), or 0 */
};

/* indent 0 writes the whole document on one line. */
void fy_jsonw_init(struct fy_jsonw *w, FILE *f, int indent);
void fy_jsonw_release(struct fy_jsonw *w);

/*
 * Each call writes one token; a failure is sticky in w->err (FERRY_EIO,
 * FERRY_ENOMEM, or FERRY_EINVAL for text that is not UTF-8 or a number
 * that is not finite) and later calls do nothing. fy_jsonw_end() writes
 * the final line break and flushes.
 */
void fy_jsonw_begin(struct fy_jsonw *w, bool object);
void fy_jsonw_end_container(struct fy_jsonw *w, bool object);
void fy_jsonw_key(struct fy_jsonw *w, const char *s, size_t len);
void fy_jsonw_string(struct fy_jsonw *w, const char *s, size_t len);
void fy_jsonw_int(struct fy_jsonw *w, int64_t v);
void fy_jsonw_double(struct fy_jsonw *w, double v);
/* A JSON number's text, checked to be one (else FERRY_EINVAL). */
void fy_jsonw_number(struct fy_jsonw *w, const char *s, size_t len);
void fy_jsonw_bool(struct fy_jsonw *w, bool v);
void fy_jsonw_null(struct fy_jsonw *w);
int fy_jsonw_end(struct fy_jsonw *w);

/*
 * Writes the JSON text s (a stored jsonb value) re-laid out at the current
 * place. With merge, s must be an object and its members are written into
 * the object being written, except those skip(member, ud) returns true
 * for. Returns 0, or FERRY_EINVAL when s is not JSON (or not an object
 * for merge), or the writer's error.
 */
int fy_jsonw_text(struct fy_jsonw *w, const char *s, size_t len, bool merge,
                  bool (*skip)(const char *member, size_t len, const void *ud),
                  const void *ud);

/* True when s is a JSON number's text. */
bool fy_json_number_valid(const char *s, size_t len);

#endif
