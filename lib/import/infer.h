/* SPDX-License-Identifier: MIT */
/*
 * `ferry import json FILE --infer`: reads the document with the import's
 * streaming reader, keeps statistics per field path (types seen, present,
 * absent and null counts, the member names of nested objects) and proposes
 * a mapping by the rules of docs/import.md "Inferring a mapping". Memory
 * grows with the number of distinct field paths, not with the records.
 */
#ifndef FY_INFER_H
#define FY_INFER_H

#include <stdint.h>
#include <stdio.h>

#include "ferry/ferry_err.h"

struct fy_infer_opts {
    /* The collection's path as a mapping writes it ("$.users"); NULL: "$" */
    const char *collection;
    /* The root table's name; NULL: from FILE's name (users.json: users) */
    const char *table;
    /* Records to read; 0: every record */
    int64_t sample;
    /*
     * Called with each "round trip: ..." note (a field no mapping can give
     * back as it was); may be NULL.
     */
    void (*note)(const char *line, void *ud);
    void *ud;
};

/*
 * Reads FILE and writes the proposed mapping to out (the mapping file's
 * format, indented by two spaces). Errors: what the reader reports
 * (FERRY_EPARSE with FILE:LINE:COLUMN, FERRY_EIO), FERRY_EPARSE when the
 * collection holds no records or records that are not objects, or when an
 * array collection has no field that can be its key; FERRY_EINVAL for a
 * bad opts->collection or opts->table; FERRY_EIO when out cannot be
 * written.
 */
int fy_infer_run(const char *file, FILE *out, const struct fy_infer_opts *o,
                 struct ferry_err *err);

#endif
