/* SPDX-License-Identifier: MIT */
/*
 * One row of a request checked against the contract and the key's scope
 * before the store is touched: JSON values converted to typed values,
 * device and region stamped from the key, NOT NULL and key columns, and
 * the canonical key. Shared by the push (POST /v1/push) and the row API
 * (/v1/tables/{table}/rows), so both refuse the same rows with the same
 * wire codes.
 */
#ifndef FY_VALIDATE_H
#define FY_VALIDATE_H

#include <jansson.h>

#include "json/value.h"
#include "store/store.h"
#include "util/arena.h"

/*
 * The problems found so far in one request. details lists each rejected
 * change as {"<id_name>": id, "status", "code", "message"} (at most 100).
 * status is the worst HTTP status (403 over 404 over 422); wire and msg
 * are the first problem with that status.
 */
struct fy_validate {
    const struct fy_contract *c;
    const struct fy_key *key; /* device and region come from it */
    struct fy_arena *a;       /* converted values, canonical keys */
    const char *id_name;      /* "seq" (push) or "index" (row API) */
    json_t *details;          /* owned; fy_validate_release */
    struct fy_buf keybuf;     /* reused for every change's key text */
    int status;               /* 0 while nothing was rejected */
    int wire;
    char msg[300];
    long nbad;
};

void fy_validate_init(struct fy_validate *v, const struct fy_contract *c,
                      const struct fy_key *key, struct fy_arena *a,
                      const char *id_name);
void fy_validate_release(struct fy_validate *v);

/* Hands the details over (new reference, or NULL when there are none). */
json_t *fy_validate_details(struct fy_validate *v);

/*
 * Records one rejected change, id naming it in details, with its wire code
 * (status and code text from FERRY_WIRE_MAP); always returns
 * FERRY_ECONTRACT.
 */
int fy_validate_reject(struct fy_validate *v, int64_t id, enum ferry_wire wire,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Checks one row of table t into ch (ch->vals: t->ncols values the caller
 * allocated; columns the row does not name keep what is there: NULL for a
 * push, FY_V_ABSENT for the row API). In order: each named column exists
 * and its value fits (the device column is never taken from the row); a
 * push's row that leaves out a column with a default gets it as a kept
 * value (fy_validate_default; ch->partial is set); the
 * device and region columns are stamped from the key (a row of another
 * region is refused); key columns have values (ABSENT counts as missing)
 * and NOT NULL columns are not NULL (ABSENT ones are left to the caller);
 * then the canonical key (ch->key, ch->keylen). Problems are recorded
 * against ch->seq. Returns 0, FERRY_ECONTRACT (recorded) or FERRY_ENOMEM.
 */
int fy_validate_row(struct fy_validate *v, const struct fy_table *t,
                    json_t *row, struct fy_change *ch);

/* One member of a row object as a parser saw it. */
struct fy_jfield {
    const char *name; /* borrowed, nlen bytes */
    size_t nlen;
    struct fy_jval v;
};

/*
 * fy_validate_row for a row a streaming parser read: its n members, each
 * name once. Field i is looked for at column i first (writers send the
 * contract's order).
 */
int fy_validate_fields(struct fy_validate *v, const struct fy_table *t,
                       const struct fy_jfield *f, size_t n,
                       struct fy_change *ch);

/*
 * The default of col (which has one) as a value that is left out (keep):
 * an insert writes it, an update keeps the stored value. 0 or
 * FERRY_ENOMEM.
 */
int fy_validate_default(const struct fy_column *col, struct fy_arena *a,
                        struct fy_val *out);

/*
 * The canonical key of ch's key values alone (the last step above):
 * ch->key and ch->keylen, values rewritten into their canonical forms.
 */
int fy_validate_key(struct fy_validate *v, const struct fy_table *t,
                    struct fy_change *ch);

#endif
