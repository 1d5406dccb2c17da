/* SPDX-License-Identifier: MIT */
/*
 * The streaming reader of JSON documents for `ferry import json` and
 * `--infer`: reads a file in chunks with yajl, finds the collection at a
 * path (an object of records keyed by member name, or an array of them)
 * and hands each record to a callback as a small tree whose values carry
 * their line. One record at a time is in memory (an arena reset after
 * each), never the file, so a file larger than memory can be read.
 */
#ifndef FY_READER_H
#define FY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/ferry_err.h"
#include "util/buf.h"

enum fy_jv_kind {
    FY_JV_NULL,
    FY_JV_BOOL,
    FY_JV_NUMBER,
    FY_JV_STRING,
    FY_JV_OBJECT,
    FY_JV_ARRAY
};

/* One JSON value of a record. Everything lives in the reader's arena. */
struct fy_jv {
    enum fy_jv_kind kind;
    bool boolean;       /* BOOL */
    unsigned long line; /* the line the value is on (1-based) */
    /* STRING: its UTF-8 (NUL-terminated; may hold NUL, see len); NUMBER:
       its JSON text as written ("12", "-0.5e3"), so nothing is rounded. */
    const char *text;
    size_t len;
    const char *name; /* member name in the parent object, else NULL */
    size_t name_len;
    size_t index;               /* position in the parent array */
    struct fy_jv *parent;       /* NULL for the record's value */
    struct fy_jv *first, *last; /* OBJECT, ARRAY: members in order */
    struct fy_jv *next;         /* next member of the parent */
    size_t n;                   /* OBJECT, ARRAY: number of members */
};

/* A record of the collection. */
struct fy_jrec {
    const char *key; /* object collection: the member name; else NULL */
    size_t key_len;
    size_t index;       /* the record's position in the collection */
    unsigned long line; /* line of the member name (object) or the value */
    const struct fy_jv *value;
    /*
     * A member name that appears twice in one object of the record: the
     * second one (not linked into its parent; its parent and line are set
     * for the message). The record is bad input; NULL when none.
     */
    const struct fy_jv *dup;
    uint64_t offset; /* bytes of the file read so far (progress) */
};

/*
 * Called for each record; a negative return stops the reading and is
 * returned by fy_reader_read (err filled by the callback).
 */
typedef int fy_reader_record_fn(void *ctx, const struct fy_jrec *rec,
                                struct ferry_err *err);
/* Called for a member outside the collection that is not on its path. */
typedef void fy_reader_skip_fn(void *ctx, const char *path, unsigned long line);

struct fy_reader_opts {
    char *const *path; /* the collection: member names from the root */
    size_t npath;
    bool object_collection;
    fy_reader_record_fn *record;
    fy_reader_skip_fn *skipped; /* may be NULL */
    void *ctx;
    size_t max_record; /* bytes one record's tree may take; 0: 32 MiB */
};

/*
 * Reads the document from fd (name is how messages call it) to its end.
 * Malformed JSON, a collection that is missing or not of its type, or a
 * record over max_record fail with FERRY_EPARSE / FERRY_ETOOBIG and a
 * message "NAME:LINE:COLUMN: ..." (column in bytes); read errors with
 * FERRY_EIO. Returns 0 when the whole document was read.
 */
int fy_reader_read_fd(int fd, const char *name, const struct fy_reader_opts *o,
                      struct ferry_err *err);
int fy_reader_read_file(const char *file, const struct fy_reader_opts *o,
                        struct ferry_err *err);

/* The member of an object named name, or NULL. */
const struct fy_jv *fy_jv_get(const struct fy_jv *obj, const char *name);

/* Appends v as compact JSON (members in the document's order). */
int fy_jv_dump(struct fy_buf *b, const struct fy_jv *v);
/* Appends s (n bytes of UTF-8) as a JSON string. */
int fy_json_add_string(struct fy_buf *b, const char *s, size_t n);
/*
 * Appends a member name to a JSONPath: ".name" for identifiers, else
 * ["name"] (docs/import.md "Bad input").
 */
int fy_jsonpath_add(struct fy_buf *b, const char *name, size_t n);
/*
 * Appends the path of v (NULL: the record itself) from "$": the
 * collection's path (o->path), the record's key (["a@b.com"], or [index]
 * in an array collection), then the members and positions down to v.
 */
int fy_jv_path(struct fy_buf *b, const struct fy_reader_opts *o,
               const struct fy_jrec *rec, const struct fy_jv *v);

#endif
