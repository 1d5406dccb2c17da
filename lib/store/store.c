/* SPDX-License-Identifier: MIT */
/*
 * Backend selection by URL and the helpers shared by every store.
 */
#include "store/store.h"

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

/* The file of a SQLite URL, as sqlite.c reads it. */
static const char *sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite://", 9) == 0)
        return url + 9;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url + 7;
    return url;
}

int fy_store_open_existing(const char *url, struct fy_store **out,
                           struct ferry_err *err)
{
    const char *path;

    *out = NULL;
    if (!url || !*url)
        return fy_err_set(err, FERRY_ECONFIG, "no store URL given");
    path = sqlite_path(url);
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
