/* SPDX-License-Identifier: MIT */
/*
 * Backend selection by URL and the helpers shared by every store.
 */
#include "store/store.h"

#include "store/store_int.h"

#include <string.h>
#include <unistd.h>

#include "fy.h"

void fy_key_release(struct fy_key *k)
{
    if (!k)
        return;
    fy_free(k->device);
    fy_free(k->region);
    k->device = k->region = NULL;
}

static const struct fy_store_ops *pick(const char *url)
{
    if (strncmp(url, "postgresql://", 13) == 0 ||
        strncmp(url, "postgres://", 11) == 0)
        return &fy_store_pg_ops;
    return &fy_store_sqlite_ops;
}

int fy_store_open(const char *url, struct fy_store **out, struct ferry_err *err)
{
    struct fy_store *st;
    int rc;

    *out = NULL;
    if (!url || !*url)
        return fy_err_set(err, FERRY_ECONFIG, "no store URL given");
    st = fy_calloc(1, sizeof(*st));
    if (!st)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    st->ops = pick(url);
    rc = st->ops->open(st, url, err);
    if (rc < 0) {
        fy_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int fy_store_open_existing(const char *url, struct fy_store **out,
                           struct ferry_err *err)
{
    const char *path;

    *out = NULL;
    if (!url || !*url)
        return fy_err_set(err, FERRY_ECONFIG, "no store URL given");
    path = fy_store_sqlite_path(url);
    if (pick(url) == &fy_store_sqlite_ops && strcmp(path, ":memory:") != 0 &&
        access(path, F_OK) != 0)
        return fy_err_set(err, FERRY_ESCHEMA,
                          "the store '%s' does not exist yet: run 'ferryd"
                          " migrate' first",
                          path);
    return fy_store_open(url, out, err);
}

void fy_store_close(struct fy_store *st)
{
    if (!st)
        return;
    st->ops->close(st);
    fy_free(st);
}

char *fy_store_redact(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *at, *colon;
    struct fy_buf b = FY_BUF_INIT(0);

    if (!scheme)
        return fy_strdup(url);
    at = strchr(scheme + 3, '@');
    colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon)
        return fy_strdup(url);
    fy_buf_add(&b, url, (size_t)(colon - url + 1));
    fy_buf_adds(&b, "***");
    fy_buf_adds(&b, at);
    return fy_buf_detach(&b, NULL);
}

/* ---- the ops, by family ------------------------------------------------ */

int fy_store_ping(struct fy_store *st, struct ferry_err *err)
{
    return st->ops->ping(st, err);
}

int fy_store_migrate(struct fy_store *st, const struct fy_contract *c,
                     struct ferry_err *err)
{
    return st->ops->migrate(st, c, NULL, err);
}

int fy_store_migrate_with(struct fy_store *st, const struct fy_contract *c,
                          const struct fy_migrate_opts *o,
                          struct ferry_err *err)
{
    return st->ops->migrate(st, c, o, err);
}

int fy_store_schema_version(struct fy_store *st, long *version,
                            char checksum[65], struct ferry_err *err)
{
    return st->ops->schema_version(st, version, checksum, err);
}

bool fy_store_concurrent(const struct fy_store *st)
{
    return (st->ops->caps & FY_STORE_CONCURRENT) != 0;
}

int fy_store_key_put(struct fy_store *st, const struct fy_key *k,
                     struct ferry_err *err)
{
    return st->ops->keys->put(st, k, err);
}

int fy_store_key_get(struct fy_store *st, const char *id, struct fy_key *k,
                     struct ferry_err *err)
{
    return st->ops->keys->get(st, id, k, err);
}

int fy_store_key_list(struct fy_store *st, fy_key_cb *cb, void *ud,
                      struct ferry_err *err)
{
    return st->ops->keys->list(st, cb, ud, err);
}

int fy_store_key_revoke(struct fy_store *st, const char *id,
                        struct ferry_err *err)
{
    return st->ops->keys->revoke(st, id, err);
}

int fy_store_key_rotate(struct fy_store *st, const char *id,
                        const char *new_hash, int64_t overlap_s,
                        struct ferry_err *err)
{
    return st->ops->keys->rotate(st, id, new_hash, overlap_s, err);
}

int fy_store_key_touch(struct fy_store *st, const char *id,
                       struct ferry_err *err)
{
    return st->ops->keys->touch(st, id, err);
}

int fy_store_push_begin(struct fy_store *st, const char *device, int64_t *acked,
                        struct ferry_err *err)
{
    return st->ops->apply->begin(st, device, acked, err);
}

int fy_store_push_apply(struct fy_store *st, const struct fy_apply_batch *b,
                        struct fy_apply_stats *s, struct ferry_err *err)
{
    return st->ops->apply->apply(st, b, s, err);
}

int fy_store_push_commit(struct fy_store *st, const char *device, int64_t acked,
                         long nchanges, struct ferry_err *err)
{
    return st->ops->apply->commit(st, device, acked, nchanges, err);
}

void fy_store_push_rollback(struct fy_store *st)
{
    st->ops->apply->rollback(st);
}

int fy_store_listen(struct fy_store *st, struct ferry_err *err)
{
    if (!st->ops->notice)
        return fy_err_set(err, FERRY_EUNSUPPORTED,
                          "the %s store sends no change notices",
                          st->ops->name);
    return st->ops->notice->listen(st, err);
}

int fy_store_wait_notice(struct fy_store *st, int ms, bool *got,
                         struct ferry_err *err)
{
    *got = false;
    if (!st->ops->notice)
        return fy_err_set(err, FERRY_EUNSUPPORTED,
                          "the %s store sends no change notices",
                          st->ops->name);
    return st->ops->notice->wait(st, ms, got, err);
}
