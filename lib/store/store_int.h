/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/store/: the backends' ops tables, grouped by family so
 * that a backend can keep each family in a file of its own, and the
 * struct behind a store handle. Callers outside lib/store/ use the
 * fy_store_*() functions of store.h.
 */
#ifndef FY_STORE_INT_H
#define FY_STORE_INT_H

#include <string.h>

#include "store/store.h"

enum fy_store_caps {
    FY_STORE_CONCURRENT = (1 << 0), /* several writers at once */
};

/* API keys: see the fy_store_key_*() functions. */
struct fy_store_key_ops {
    int (*put)(struct fy_store *st, const struct fy_key *k,
               struct ferry_err *err);
    int (*get)(struct fy_store *st, const char *id, struct fy_key *k,
               struct ferry_err *err);
    int (*list)(struct fy_store *st, fy_key_cb *cb, void *ud,
                struct ferry_err *err);
    int (*revoke)(struct fy_store *st, const char *id, struct ferry_err *err);
    int (*touch)(struct fy_store *st, const char *id, struct ferry_err *err);
};

/* The push transaction: see the fy_store_push_*() functions. */
struct fy_store_apply_ops {
    int (*begin)(struct fy_store *st, const char *device, int64_t *acked,
                 struct ferry_err *err);
    int (*apply)(struct fy_store *st, const struct fy_apply_batch *b,
                 struct fy_apply_stats *s, struct ferry_err *err);
    int (*commit)(struct fy_store *st, const char *device, int64_t acked,
                  long nchanges, struct ferry_err *err);
    void (*rollback)(struct fy_store *st);
};

struct fy_store_ops {
    const char *name;
    unsigned caps;
    /* lifecycle and schema */
    int (*open)(struct fy_store *st, const char *url, struct ferry_err *err);
    void (*close)(struct fy_store *st);
    int (*ping)(struct fy_store *st, struct ferry_err *err);
    int (*migrate)(struct fy_store *st, const struct fy_contract *c,
                   struct ferry_err *err);
    int (*schema_version)(struct fy_store *st, long *version, char checksum[65],
                          struct ferry_err *err);
    /* families */
    const struct fy_store_key_ops *keys;
    const struct fy_store_apply_ops *apply;
};

struct fy_store {
    const struct fy_store_ops *ops;
    void *impl;
};

/*
 * The file a SQLite store URL names: "sqlite://PATH", "sqlite:PATH" or a
 * bare PATH. One reading for opening the store and for checking that it
 * exists.
 */
static inline const char *fy_store_sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite://", 9) == 0)
        return url + 9;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url + 7;
    return url;
}

extern const struct fy_store_ops fy_store_sqlite_ops;
extern const struct fy_store_ops fy_store_pg_ops;

#endif
