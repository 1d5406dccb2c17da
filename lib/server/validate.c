/* SPDX-License-Identifier: MIT */
/*
 * Row validation shared by pushes and the row API; see validate.h.
 */
#include "server/validate.h"

#include <stdio.h>
#include <string.h>

#include "fy.h"

#define MAX_DETAILS 100

void fy_validate_init(struct fy_validate *v, const struct fy_contract *c,
                      const struct fy_key *key, struct fy_arena *a,
                      const char *id_name)
{
    *v = (struct fy_validate){.c = c,
                              .key = key,
                              .a = a,
                              .id_name = id_name,
                              .details = json_array(),
                              .keybuf = FY_BUF_INIT(0)};
}

void fy_validate_release(struct fy_validate *v)
{
    json_decref(v->details);
    v->details = NULL;
    fy_buf_release(&v->keybuf);
}

json_t *fy_validate_details(struct fy_validate *v)
{
    json_t *d = v->nbad ? v->details : NULL;

    if (d)
        v->details = NULL;
    return d;
}

static int status_rank(int status)
{
    return status == 403 ? 3 : status == 404 ? 2 : status == 422 ? 1 : 0;
}

int fy_validate_reject(struct fy_validate *v, int64_t id, enum ferry_wire wire,
                       const char *fmt, ...)
{
    int status = ferry_wire_status(wire);
    const char *code = ferry_wire_name(wire);
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    /* clang-tidy 14 misreads the va_list here. */
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.*) */
    va_end(ap);
    if (status_rank(status) > status_rank(v->status)) {
        v->status = status;
        v->wire = wire;
        snprintf(v->msg, sizeof(v->msg), "%s", msg);
    }
    if (v->nbad++ < MAX_DETAILS)
        json_array_append_new(v->details,
                              json_pack("{s:I, s:i, s:s, s:s}", v->id_name,
                                        (json_int_t)id, "status", status,
                                        "code", code, "message", msg));
    return FERRY_ECONTRACT;
}

/* A value the row names: neither left out (ABSENT) nor NULL. */
static bool named(const struct fy_val *x)
{
    return x->kind != FY_V_NULL && x->kind != FY_V_ABSENT;
}

static int stamp_scope(struct fy_validate *v, const struct fy_table *t,
                       struct fy_change *ch)
{
    const struct fy_key *k = v->key;
    struct fy_val *r = t->region_col >= 0 ? &ch->vals[t->region_col] : NULL;

    if (t->device_col >= 0)
        ch->vals[t->device_col] = (struct fy_val){
            .kind = FY_V_TEXT, .s = k->device, .len = strlen(k->device)};
    if (!r || !k->region)
        return 0;
    if (named(r) &&
        (r->len != strlen(k->region) || memcmp(r->s, k->region, r->len) != 0))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_REGION_SCOPE,
                                  "row of region '%.*s' is outside this key's"
                                  " region '%s'",
                                  (int)r->len, r->s ? r->s : "", k->region);
    *r = (struct fy_val){
        .kind = FY_V_TEXT, .s = k->region, .len = strlen(k->region)};
    return 0;
}

/* Column name c is name[0..nlen) (never empty: the contract says so). */
static bool name_is(const char *c, const char *name, size_t nlen)
{
    return name && nlen > 0 && c[0] == name[0] && strncmp(c, name, nlen) == 0 &&
           c[nlen] == '\0';
}

/* The column named name[0..nlen), looked for at hint first; or -1. */
static int column_named(const struct fy_table *t, const char *name, size_t nlen,
                        size_t hint)
{
    if (hint < t->ncols && name_is(t->cols[hint].name, name, nlen))
        return (int)hint;
    for (size_t i = 0; i < t->ncols; i++) {
        if (name_is(t->cols[i].name, name, nlen))
            return (int)i;
    }
    return -1;
}

static int convert_row(struct fy_validate *v, const struct fy_table *t,
                       const struct fy_jfield *f, size_t n,
                       struct fy_change *ch)
{
    char why[200];

    for (size_t i = 0; i < n; i++) {
        int col = column_named(t, f[i].name, f[i].nlen, i);

        if (col < 0)
            return fy_validate_reject(v, ch->seq, FERRY_WIRE_UNKNOWN_COLUMN,
                                      "table '%s' has no column '%.*s'",
                                      t->name, (int)f[i].nlen, f[i].name);
        if (ch->del && !fy_table_is_pk(t, (size_t)col))
            continue; /* a delete needs only the key */
        if (col == t->device_col)
            continue; /* stamped from the key, never from the body */
        if (f[i].v.kind == FY_J_NULL && fy_table_is_pk(t, (size_t)col))
            return fy_validate_reject(v, ch->seq, FERRY_WIRE_MISSING_KEY,
                                      "table '%s': key column '%.*s' needs a"
                                      " value",
                                      t->name, (int)f[i].nlen, f[i].name);
        if (fy_val_from_jval(&t->cols[col], &f[i].v, v->a, &ch->vals[col], why,
                             sizeof(why)) < 0)
            return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_VALUE,
                                      "table '%s': %s", t->name, why);
    }
    return 0;
}

static bool row_names(const struct fy_jfield *f, size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++) {
        if (f[i].nlen == len && memcmp(f[i].name, name, len) == 0)
            return true;
    }
    return false;
}

/*
 * A column with a contract default that the row leaves out is left out:
 * an older writer does not know it, so an insert gets the default and an
 * update keeps what is stored. The row API's writes leave it ABSENT
 * already (they fill new rows with defaults themselves); a push's row
 * would otherwise write NULL there.
 */
static int apply_defaults(struct fy_validate *v, const struct fy_table *t,
                          const struct fy_jfield *f, size_t n,
                          struct fy_change *ch)
{
    for (size_t i = 0; !ch->del && i < t->ncols; i++) {
        struct fy_val *x = &ch->vals[i];
        int rc;

        if (!t->cols[i].def || x->kind != FY_V_NULL ||
            (int)i == t->device_col || (int)i == t->region_col ||
            row_names(f, n, t->cols[i].name))
            continue;
        rc = fy_validate_default(&t->cols[i], v->a, x);
        if (rc < 0)
            return rc;
        ch->partial = true;
    }
    return 0;
}

int fy_validate_default(const struct fy_column *col, struct fy_arena *a,
                        struct fy_val *out)
{
    char why[200];

    /* Checked when the contract was read: only memory can fail here. */
    if (fy_val_from_json(col, col->def, a, out, why, sizeof(why)) < 0)
        return FERRY_ENOMEM;
    out->keep = true;
    return 0;
}

/*
 * Key columns need values. NOT NULL columns may not be NULL; one left out
 * (ABSENT, the row API) keeps its stored value, and whether there is one
 * only the write transaction knows.
 */
static int check_not_null(struct fy_validate *v, const struct fy_table *t,
                          struct fy_change *ch)
{
    for (size_t i = 0; i < t->ncols; i++) {
        bool pk = fy_table_is_pk(t, i);
        enum fy_vkind kind = ch->vals[i].kind;

        if (pk ? !named(&ch->vals[i])
               : !ch->del && t->cols[i].not_null && kind == FY_V_NULL)
            return fy_validate_reject(v, ch->seq,
                                      pk ? FERRY_WIRE_MISSING_KEY
                                         : FERRY_WIRE_MISSING_VALUE,
                                      "table '%s': column '%s' needs a value",
                                      t->name, t->cols[i].name);
    }
    return 0;
}

/*
 * The grouping key of a change: each key value in its canonical form (see
 * fy_val_key_canon), so two changes are one key here exactly when they are
 * one row in the store, and the store is given that one spelling.
 */
int fy_validate_key(struct fy_validate *v, const struct fy_table *t,
                    struct fy_change *ch)
{
    struct fy_buf *b = &v->keybuf;
    size_t bytes = 0;
    char why[200];

    fy_buf_reset(b);
    for (size_t i = 0; i < t->npk; i++) {
        int rc = fy_val_key_canon(&t->cols[t->pk[i]], &ch->vals[t->pk[i]], v->a,
                                  b, &bytes, why, sizeof(why));

        if (rc == FERRY_ECONTRACT)
            return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_VALUE,
                                      "table '%s': %s", t->name, why);
        if (rc < 0)
            return FERRY_ENOMEM;
        fy_buf_addc(b, '\x1f');
    }
    if (bytes > FY_KEY_MAX_BYTES)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_KEY_TOO_LONG,
                                  "table '%s': the key takes %zu bytes; at"
                                  " most %d",
                                  t->name, bytes, FY_KEY_MAX_BYTES);
    if (fy_buf_error(b))
        return FERRY_ENOMEM;
    /* Bytes, not a C string: a bytea or text key may hold NULs. */
    ch->key = fy_arena_strndup(v->a, b->data, b->len);
    ch->keylen = b->len;
    return ch->key ? 0 : FERRY_ENOMEM;
}

int fy_validate_fields(struct fy_validate *v, const struct fy_table *t,
                       const struct fy_jfield *f, size_t n,
                       struct fy_change *ch)
{
    int rc = convert_row(v, t, f, n, ch);

    if (rc == 0)
        rc = apply_defaults(v, t, f, n, ch);
    if (rc == 0)
        rc = stamp_scope(v, t, ch);
    if (rc == 0)
        rc = check_not_null(v, t, ch);
    if (rc == 0)
        rc = fy_validate_key(v, t, ch);
    return rc;
}

int fy_validate_row(struct fy_validate *v, const struct fy_table *t,
                    json_t *row, struct fy_change *ch)
{
    size_t n = json_object_size(row), i = 0;
    struct fy_jfield *f = fy_arena_calloc(v->a, n ? n : 1, sizeof(*f));
    const char *name;
    json_t *jv;

    if (!f)
        return FERRY_ENOMEM;
    json_object_foreach(row, name, jv)
    {
        f[i].name = name;
        f[i].nlen = strlen(name);
        fy_jval_of_json(jv, &f[i].v);
        i++;
    }
    return fy_validate_fields(v, t, f, n, ch);
}
