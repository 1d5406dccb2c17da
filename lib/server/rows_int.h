/* SPDX-License-Identifier: MIT */
/*
 * Private to the row API's files: the request object that rows.c (HTTP:
 * routes, parsing, GET) fills and rows_write.c (the write transaction)
 * runs. Nothing outside lib/server/rows*.c uses it.
 */
#ifndef FY_ROWS_INT_H
#define FY_ROWS_INT_H

#include <stdbool.h>

#include <jansson.h>

#include "server/rows.h"
#include "server/validate.h"
#include "util/arena.h"

enum fy_rows_op { FY_ROWS_POST, FY_ROWS_PATCH, FY_ROWS_DELETE };

/* One request of the row API, from parsing to the answer. */
struct fy_rows_req {
    struct fy_api *api;
    const struct fy_key *key;
    const struct fy_table *t;
    enum fy_rows_op op;
    struct fy_arena a;
    struct fy_validate v;
    json_t *hold;            /* JSON the values borrow their texts from */
    struct fy_change *chs;   /* n changes, ch->seq their index */
    struct fy_change **ptrs; /* the same, for the apply batch */
    struct fy_val **kept;    /* per change: its left-out columns as stored
                                (NULL: no row) */
    struct fy_val **asked;   /* per change: its values as the request gave
                                them, for another attempt */
    size_t n;
    bool filled;         /* fill_absent ran: asked holds the request */
    bool array;          /* a POST of an array: answer with "results" */
    struct fy_idem idem; /* idem.key NULL: no Idempotency-Key */
    char idem_hash[65];
    char *text; /* the success answer (jansson's), built before commit */
};

/* An answer remembered for the Idempotency-Key, and how to replay it. */
struct fy_rows_replay {
    int status;
    struct fy_buf body;
};

void fy_rows_req_init(struct fy_rows_req *w, struct fy_api *api,
                      const struct fy_key *key, enum fy_rows_op op);
void fy_rows_req_release(struct fy_rows_req *w);

/* Keeps j (reference stolen) alive as long as the request; returns it. */
json_t *fy_rows_hold(struct fy_rows_req *w, json_t *j);

/* Sets err's wire code (and its status) to wire; returns rc. */
int fy_rows_wire(struct ferry_err *err, int rc, enum ferry_wire wire);

/*
 * The failure of a request whose rows were refused (w->v has them): the
 * first refusal's code, with the count for an array.
 */
int fy_rows_refused(struct fy_rows_req *w, struct ferry_err *err);

/*
 * Runs a parsed write: its transaction, again while a change loses to a
 * concurrent write (at most three times). On success either w->text is
 * the answer, or rp->status and rp->body are a remembered one
 * (Idempotency-Key); waiting pulls are woken after a write.
 */
int fy_rows_run(struct fy_rows_req *w, struct fy_rows_replay *rp,
                struct ferry_err *err);

/*
 * The table the path's {table} names (404 unknown_table), and the row its
 * {key} names (400 bad_parameter), as GET of the row API reads them: for
 * GET /v1/trace (rows_trace.c). *key: t->npk values in key order, from
 * w's arena.
 */
int fy_rows_path_table(struct fy_rows_req *w, const struct fy_http_req *req,
                       struct ferry_err *err);
int fy_rows_path_key(struct fy_rows_req *w, const struct fy_http_req *req,
                     struct fy_val **key, struct ferry_err *err);

#endif
