/* SPDX-License-Identifier: MIT */
/*
 * The POST /v1/push body, read in one pass by a streaming parser (yajl):
 * no document tree, each change checked against the contract as soon as
 * its closing brace is read, its values typed straight into the request's
 * arena. This is ferryd's hot path; the row API and everything else keep
 * jansson.
 *
 * The parser is as strict as jansson with JSON_REJECT_DUPLICATES (what it
 * replaced): invalid UTF-8, \u0000, lone surrogates, duplicate member
 * names at any depth, integers outside 64 bits and reals that overflow are
 * all malformed JSON.
 */
#ifndef FY_PUSH_PARSE_H
#define FY_PUSH_PARSE_H

#include "server/validate.h"

/* The changes of a body, in body order. */
struct fy_push_doc {
    struct fy_change *chs; /* owned: fy_push_doc_release */
    size_t n, cap;
};

/*
 * Reads body[0..len). Each change is validated with v (problems are
 * recorded there; the caller decides from v->nbad). Returns 0 when the
 * body is a well-formed push, else with err's status set and v's
 * problems to be ignored: FERRY_EPARSE (400: malformed JSON, not an
 * object with a "changes" array), FERRY_ETOOBIG (413: more than
 * FY_PUSH_MAX_CHANGES changes), FERRY_EFORBIDDEN (403: "device" names
 * another device than the key's), FERRY_ENOMEM. The changes' values
 * borrow from body and v->a.
 */
int fy_push_parse(const char *body, size_t len, struct fy_validate *v,
                  struct fy_push_doc *doc, struct ferry_err *err);

void fy_push_doc_release(struct fy_push_doc *doc);

#endif
