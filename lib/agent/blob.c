/* SPDX-License-Identifier: MIT */
/*
 * Files named by rows: the hash cache in _ferry_blobs and the upload step;
 * see blob.h. The protocol is docs/blobs.md's: HEAD answers 200 for a
 * stored blob, else 404 with Upload-Offset (the bytes the server kept of
 * an interrupted upload); PUT sends the file from that offset on with
 * Content-Range and is answered 200/201 (stored), 202 (a part kept), 409
 * (another offset), 413 (over the limit) or 422 hash_mismatch.
 */
#include "agent/blob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "agent/agent_int.h"
#include "util/log.h"
#include "fy.h"
#include "util/sqlite_err.h"

#define HASH_CHUNK ((size_t)256 * 1024)
/* Waiting for a cut upload's offset to stop moving: 300 ms steps, 12 s. */
#define SETTLE_MS     300
#define SETTLE_ROUNDS 40

/* A _ferry_blobs row. */
struct cached {
    bool found;
    int64_t size, mtime_ns;
    char sha256[65];
    char state[16]; /* pending, sending, done */
    int tries;
};

struct fy_blob_files {
    sqlite3 *db;
    char *base; /* the app database's folder, ending in '/' ("" for none) */
    sqlite3_stmt *get;
};

static const char get_sql[] = "SELECT size, mtime_ns, sha256, state, tries"
                              " FROM _ferry_blobs WHERE path = ?";

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* Reads path's row with st (prepared get_sql) into c. */
static int cache_read(sqlite3 *db, sqlite3_stmt *st, const char *path,
                      struct cached *c, struct ferry_err *err)
{
    int src;

    memset(c, 0, sizeof(*c));
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        c->found = true;
        c->size = sqlite3_column_int64(st, 0);
        c->mtime_ns = sqlite3_column_int64(st, 1);
        snprintf(c->sha256, sizeof(c->sha256), "%s",
                 (const char *)sqlite3_column_text(st, 2));
        snprintf(c->state, sizeof(c->state), "%s",
                 (const char *)sqlite3_column_text(st, 3));
        c->tries = sqlite3_column_int(st, 4);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return fy_sqlite_fail(db, "cannot read _ferry_blobs", err);
    return 0;
}

static bool cache_matches(const struct cached *c, const struct stat *sb)
{
    return c->found && c->size == (int64_t)sb->st_size &&
           c->mtime_ns == mtime_ns(sb);
}

int fy_blob_files_new(sqlite3 *db, const char *database,
                      struct fy_blob_files **out, struct ferry_err *err)
{
    struct fy_blob_files *f = fy_calloc(1, sizeof(*f));
    const char *slash = database ? strrchr(database, '/') : NULL;

    *out = NULL;
    if (!f)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    f->db = db;
    f->base = slash ? fy_strndup(database, (size_t)(slash - database + 1))
                    : fy_strdup("");
    if (!f->base) {
        fy_blob_files_free(f);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    if (sqlite3_prepare_v2(db, get_sql, -1, &f->get, NULL) != SQLITE_OK) {
        int rc = fy_sqlite_fail(db, "cannot read _ferry_blobs", err);

        fy_blob_files_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void fy_blob_files_free(struct fy_blob_files *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->get);
    fy_free(f->base);
    fy_free(f);
}

/*
 * The reason a file cannot be sent, from the errno of stat or open: the
 * dead letter's code and message.
 */
static const char *file_problem(const char *path, int e, char *why, size_t n)
{
    if (e == ENOENT || e == ENOTDIR) {
        snprintf(why, n,
                 "file '%s' does not exist (deleted or moved before it was"
                 " uploaded)",
                 path);
        return "file_missing";
    }
    snprintf(why, n, "cannot read file '%s': %s", path, strerror(e));
    return "file_unreadable";
}

static const char *not_regular(const char *path, char *why, size_t n)
{
    snprintf(why, n,
             "'%s' is not a regular file (a directory, device, socket or"
             " pipe): only files are uploaded",
             path);
    return "file_not_regular";
}

int fy_blob_files_check(void *ud, const char *path, struct fy_file_check *out,
                        struct ferry_err *err)
{
    struct fy_blob_files *f = ud;
    struct cached c;
    struct stat sb;
    bool stored;
    int rc, e;

    fy_buf_reset(&out->path);
    if (path[0] != '/')
        fy_buf_adds(&out->path, f->base);
    fy_buf_adds(&out->path, path);
    if (fy_buf_error(&out->path))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    e = stat(out->path.data, &sb) == 0 ? 0 : errno;
    rc = cache_read(f->db, f->get, out->path.data, &c, err);
    if (rc < 0)
        return rc;
    /*
     * Stored and unchanged, or gone after the server stored it (an app
     * that deletes what was uploaded): the stored blob is the file as it
     * was.
     */
    stored = c.found && strcmp(c.state, "done") == 0 &&
             (e != 0 || (S_ISREG(sb.st_mode) && cache_matches(&c, &sb)));
    out->state = FY_FILE_BAD;
    if (stored) {
        out->state = FY_FILE_READY;
        memcpy(out->sha256, c.sha256, sizeof(out->sha256));
    } else if (e) {
        out->code = file_problem(out->path.data, e, out->why, sizeof(out->why));
    } else if (!S_ISREG(sb.st_mode)) {
        out->code = not_regular(out->path.data, out->why, sizeof(out->why));
    } else {
        out->state = FY_FILE_NEEDED;
    }
    return 0;
}

int fy_blob_forget(sqlite3 *db, const char *sha256, struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           "UPDATE _ferry_blobs SET state = 'pending',"
                           " mtime_ns = -1 WHERE sha256 = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    sqlite3_finalize(st);
    return rc;
}

/* ---- hashing ---------------------------------------------------------- */

static void to_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

static int hash_stream(FILE *in, EVP_MD_CTX *md, unsigned char *buf,
                       int64_t *size)
{
    size_t n;

    *size = 0;
    while ((n = fread(buf, 1, HASH_CHUNK, in)) > 0) {
        if (EVP_DigestUpdate(md, buf, n) != 1)
            return FERRY_ENOMEM;
        *size += (int64_t)n;
    }
    return ferror(in) ? FERRY_EIO : 0;
}

int fy_blob_hash_file(const char *path, char hex[65], int64_t *size,
                      struct ferry_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char *buf = fy_malloc(HASH_CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *in = NULL;
    int rc = 0;

    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    in = fopen(path, "rb");
    rc = in ? hash_stream(in, ctx, buf, size) : FERRY_EIO;
    if (rc == FERRY_EIO) {
        int saved = errno;

        rc = fy_err_set(err, FERRY_EIO, "cannot read '%s': %s", path,
                        strerror(saved));
        if (err)
            err->sys = saved;
    } else if (rc < 0) {
        rc = fy_err_set(err, rc, "cannot hash '%s'", path);
    } else if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    } else {
        to_hex(md, hex);
    }
out:
    if (in)
        fclose(in);
    EVP_MD_CTX_free(ctx);
    fy_free(buf);
    return rc;
}

/* ---- the upload step -------------------------------------------------- */

/* One file during fy_agent_blob_upload. */
struct job {
    struct fy_blob_upload *up;
    bool ready;       /* hashed and recorded: to be sent (or already done) */
    bool done_before; /* the cache says the server holds it */
    bool began;       /* a PUT of it started before: ask first */
    bool changed;     /* not as hashed: hash it again next round */
    int64_t size, mtime_ns;
    char sha256[65];
    int tries;
    char url[96]; /* /v1/blobs/SHA */
};

static void set_bad(struct fy_blob_upload *up, const char *code)
{
    up->result = FY_UPLOAD_BAD;
    up->code = code;
}

/* The file changed while it was read or sent: another round, or parked. */
static void set_changed(struct job *j)
{
    j->changed = true;
    j->tries++;
    j->up->result = FY_UPLOAD_CHANGED;
    if (j->tries < FY_BLOB_TRIES)
        return;
    snprintf(j->up->why, sizeof(j->up->why),
             "file '%s' changed while it was being uploaded, %d times;"
             " 'ferry dead retry' sends it once it stays as it is",
             j->up->path, j->tries);
    set_bad(j->up, "file_changing");
}

/* Hashes j's file unless the cache row c describes it as it is. */
static int prepare(struct job *j, const struct cached *c, struct ferry_err *err)
{
    struct fy_blob_upload *up = j->up;
    struct ferry_err e = {0};
    struct stat before, after;
    int64_t size = 0;

    j->tries = c->tries;
    if (stat(up->path, &before) < 0) {
        set_bad(up, file_problem(up->path, errno, up->why, sizeof(up->why)));
        return 0;
    }
    if (!S_ISREG(before.st_mode)) {
        set_bad(up, not_regular(up->path, up->why, sizeof(up->why)));
        return 0;
    }
    j->size = (int64_t)before.st_size;
    j->mtime_ns = mtime_ns(&before);
    if (cache_matches(c, &before)) {
        memcpy(j->sha256, c->sha256, sizeof(j->sha256));
    } else if (fy_blob_hash_file(up->path, j->sha256, &size, &e) < 0) {
        if (e.code != FERRY_EIO)
            return fy_err_set(err, e.code, "%s", e.msg);
        set_bad(up, file_problem(up->path, e.sys, up->why, sizeof(up->why)));
        return 0;
    } else if (stat(up->path, &after) < 0 || size != j->size ||
               mtime_ns(&after) != j->mtime_ns) {
        set_changed(j);
        return 0;
    }
    j->done_before = c->found && strcmp(c->sha256, j->sha256) == 0 &&
                     strcmp(c->state, "done") == 0;
    j->began = c->found && strcmp(c->sha256, j->sha256) == 0 &&
               strcmp(c->state, "sending") == 0;
    j->ready = true;
    snprintf(j->url, sizeof(j->url), "/v1/blobs/%s", j->sha256);
    return 0;
}

/* Writes j's row; mtime -1 makes the next push hash the file again. */
static int record(sqlite3 *db, sqlite3_stmt *st, const struct job *j,
                  const char *state, struct ferry_err *err)
{
    int src;

    sqlite3_bind_text(st, 1, j->up->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->size);
    sqlite3_bind_int64(st, 3, j->changed ? -1 : j->mtime_ns);
    sqlite3_bind_text(st, 4, j->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, strcmp(state, "done") == 0 ? 0 : j->tries);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE
               ? 0
               : fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
}

/*
 * One transaction over the jobs' rows: before the upload every file about
 * to be sent is 'sending'; after it, what became of each.
 */
static int record_all(sqlite3 *db, struct job *js, size_t n, bool after,
                      struct ferry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    /*
     * The cache only saves reading a file again: rows of files stored
     * long ago go, so the table does not grow with every file ever sent.
     */
    if (!after && sqlite3_exec(db,
                               "DELETE FROM _ferry_blobs WHERE state = 'done'"
                               " AND at < unixepoch() - 30 * 86400",
                               NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    if (rc == 0 &&
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO _ferry_blobs (path, size,"
                           " mtime_ns, sha256, state, tries, at) VALUES (?1,"
                           " ?2, ?3, ?4, ?5, ?6, unixepoch())",
                           -1, &st, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct job *j = &js[i];
        enum fy_upload_result r = j->up->result;

        if (j->changed && j->sha256[0])
            rc = record(db, st, j, "pending", err);
        else if (j->ready && (j->done_before || (after && r == FY_UPLOAD_DONE)))
            rc = record(db, st, j, "done", err);
        else if (j->ready && !after)
            rc = record(db, st, j, "sending", err);
    }
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fy_sqlite_fail(db, "cannot write _ferry_blobs", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- talking to ferryd ------------------------------------------------ */

/* What a PUT's hooks share. */
struct put {
    struct job *j;
    int64_t offset; /* where the last attempt started */
    bool complete;  /* the server says it holds the blob */
    bool changed;   /* the file is no longer as hashed */
};

/* The Upload-Offset of an answer, or 0 when absent or out of range. */
static int64_t upload_offset(const struct fy_http_reply *rep, int64_t size)
{
    char *end = NULL;
    long long v;

    if (!rep->has_header || rep->header[0] < '0' || rep->header[0] > '9')
        return 0;
    v = strtoll(rep->header, &end, 10);
    return *end == '\0' && v > 0 && v < size ? (int64_t)v : 0;
}

static int refused(const struct fy_http_reply *rep, const char *what,
                   struct ferry_err *err)
{
    char about[160];

    snprintf(about, sizeof(about),
             "%s (is base_url a ferryd that stores files?)", what);
    return fy_agent_reply_fail(rep, about, err);
}

/* One HEAD, no retry: 0 with its status and offset, or -1. */
static int head_once(struct fy_agent *a, const struct job *j, long *status,
                     int64_t *off)
{
    const struct fy_http_reply *rep;
    struct ferry_err e = {0};

    if (fy_agent_request_once(
            a,
            &(struct fy_http_request){.method = "HEAD",
                                      .path = j->url,
                                      .reply_header = "Upload-Offset"},
            &rep, &e) < 0)
        return -1;
    *status = rep->status;
    *off = rep->status == 404 ? upload_offset(rep, j->size) : 0;
    return 0;
}

/*
 * After an upload was cut (this agent killed, its connection lost), ferryd
 * may still be taking in the old request's last bytes (what the kernel
 * had queued): the offset grows until that request ends. A PUT from an
 * offset still moving would collide with it (409) and what it sent would
 * be wasted, so wait while the offset moves, a few seconds at most.
 */
static void settle(struct fy_agent *a, const struct job *j, bool *stored,
                   int64_t *off)
{
    for (int i = 0; i < SETTLE_ROUNDS && !*stored; i++) {
        long status = 0;
        int64_t now = 0;

        fy_sleep_ms(SETTLE_MS);
        if (head_once(a, j, &status, &now) < 0 ||
            (status != 200 && status != 404))
            return;
        *stored = status == 200;
        if (now == *off)
            return;
        *off = now;
    }
}

/*
 * HEAD: *stored, or the offset to go on from (settled when an upload of it
 * began before).
 */
static int ask(struct fy_agent *a, struct job *j, bool began, bool *stored,
               int64_t *off, struct ferry_err *err)
{
    const struct fy_http_reply *rep;
    int rc = fy_agent_request(
        a,
        &(struct fy_agent_request){.http = {.method = "HEAD",
                                            .path = j->url,
                                            .reply_header = "Upload-Offset"},
                                   .step = "upload"},
        &rep, err);

    if (rc < 0)
        return rc;
    *stored = rep->status == 200;
    if (rep->status != 200 && rep->status != 404)
        return refused(rep, "HEAD /v1/blobs", err);
    *off = rep->status == 404 ? upload_offset(rep, j->size) : 0;
    /* A small file is one part: nothing of it is kept until it ends. */
    if (began && !*stored && j->size > FY_BLOB_SMALL)
        settle(a, j, stored, off);
    return 0;
}

/* A 202 (part kept) or 409 (another offset) is retried from HEAD's answer. */
static int put_accept(const struct fy_http_reply *rep, void *ud,
                      struct ferry_err *e)
{
    struct put *p = ud;

    if (rep->status != 202 && rep->status != 409)
        return 0;
    return fy_err_set(e, FERRY_ENET,
                      "upload of '%s' not complete (%ld, server holds %s"
                      " bytes)",
                      p->j->up->path, rep->status,
                      rep->has_header ? rep->header : "?");
}

/*
 * Before a retry: the file must still be the one hashed, and the server
 * says where to go on from (or that it holds the blob: then stop).
 */
static int put_resume(struct fy_agent *a, int64_t *offset, void *ud,
                      struct ferry_err *err)
{
    struct put *p = ud;
    struct stat sb;
    bool stored = false;
    long status = 0;
    int64_t off = 0;

    if (stat(p->j->up->path, &sb) < 0 || (int64_t)sb.st_size != p->j->size ||
        mtime_ns(&sb) != p->j->mtime_ns) {
        p->changed = true;
        return fy_err_set(err, FERRY_ECONFLICT, "'%s' changed", p->j->up->path);
    }
    if (head_once(a, p->j, &status, &off) < 0 ||
        (status != 200 && status != 404))
        return 0; /* the next attempt fails or succeeds on its own */
    stored = status == 200;
    if (!stored && p->j->size > FY_BLOB_SMALL)
        settle(a, p->j, &stored, &off);
    if (stored) {
        p->complete = true;
        return fy_err_set(err, FERRY_ECONFLICT, "'%s' stored", p->j->up->path);
    }
    *offset = p->offset = off;
    return 0;
}

/* ferryd's answer to content that is not what the path's hash names. */
static bool hash_mismatch(const struct fy_http_reply *rep)
{
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    const char *code = json_string_value(
        json_object_get(json_object_get(root, "error"), "code"));
    bool yes = rep->status == 422 &&
               ferry_wire_lookup(code) == FERRY_WIRE_HASH_MISMATCH;

    json_decref(root);
    return yes;
}

/* 413 and 422 are about the file; anything else unexpected stops. */
static int judge_put(const struct fy_http_reply *rep, struct job *j,
                     struct ferry_err *err)
{
    char msg[300];

    if (rep->status == 200 || rep->status == 201) {
        /* 200: the server had it already (its answer on the headers). */
        j->up->sent = rep->status == 201;
        j->up->result = FY_UPLOAD_DONE;
        return 0;
    }
    fy_agent_reply_message(rep, msg, sizeof(msg));
    if (rep->status == 413) {
        snprintf(j->up->why, sizeof(j->up->why),
                 "file '%s' (%lld bytes) is over the server's limit: %.120s",
                 j->up->path, (long long)j->size, msg);
        set_bad(j->up, "file_too_large");
        return 0;
    }
    if (hash_mismatch(rep)) {
        fy_warn("upload", "file '%s' did not match its hash: %s", j->up->path,
                msg);
        set_changed(j);
        return 0;
    }
    return refused(rep, "PUT /v1/blobs", err);
}

/* PUT from off on, resumed after failures; sets j->up's result. */
static int put(struct fy_agent *a, struct job *j, int64_t off,
               struct ferry_err *err)
{
    struct put p = {.j = j, .offset = off};
    const struct fy_http_reply *rep;
    struct ferry_err e = {0};
    int rc = fy_agent_request(
        a,
        &(struct fy_agent_request){
            .http = {.method = "PUT",
                     .path = j->url,
                     .content_type = "application/octet-stream",
                     .file = j->up->path,
                     .offset = off,
                     .content_range = true,
                     .reply_header = "Upload-Offset"},
            .step = "upload",
            .accept = put_accept,
            .resume = put_resume,
            .ud = &p},
        &rep, &e);

    j->up->bytes = j->size - p.offset;
    if (rc == 0)
        return judge_put(rep, j, err);
    if (p.complete) {
        j->up->result = FY_UPLOAD_DONE;
        return 0;
    }
    /* FERRY_EIO: the client could not open or read it (gone, say). */
    if (p.changed || rc == FERRY_EIO) {
        set_changed(j);
        return 0;
    }
    if (err)
        *err = e;
    return rc;
}

/*
 * A small file never sent before goes whole at once; a large one, or one
 * whose upload began before (the server may hold it, or part of it), is
 * asked about first, so no complete blob is sent twice.
 */
static int send_one(struct fy_agent *a, struct job *j, bool began,
                    struct ferry_err *err)
{
    bool stored = false;
    int64_t off = 0;
    int rc = 0;

    if (began || j->size > FY_BLOB_SMALL)
        rc = ask(a, j, began, &stored, &off, err);
    if (rc < 0)
        return rc;
    if (stored) {
        j->up->result = FY_UPLOAD_DONE;
        return 0;
    }
    j->up->sent = true;
    return put(a, j, off, err);
}

/* Hashes (or finds in the cache) every file; reads only. */
static int prepare_all(struct fy_agent *a, struct job *js, size_t n,
                       struct ferry_err *err)
{
    sqlite3_stmt *get = NULL;
    struct cached c;
    int rc = 0;

    if (sqlite3_prepare_v2(a->db, get_sql, -1, &get, NULL) != SQLITE_OK)
        return fy_sqlite_fail(a->db, "cannot read _ferry_blobs", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = cache_read(a->db, get, js[i].up->path, &c, err);
        if (rc == 0)
            rc = prepare(&js[i], &c, err);
    }
    sqlite3_finalize(get);
    return rc;
}

static int send_all(struct fy_agent *a, struct job *js, size_t n,
                    struct ferry_err *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct job *j = &js[i];

        if (!j->ready)
            continue;
        if (j->done_before) {
            j->up->result = FY_UPLOAD_DONE;
            continue;
        }
        rc = send_one(a, j, j->began, err);
        if (rc == 0 && j->up->result == FY_UPLOAD_DONE)
            fy_debug("upload", "file '%s' sha256=%s stored (%lld bytes sent)",
                     j->up->path, j->sha256,
                     (long long)(j->up->sent ? j->up->bytes : 0));
    }
    return rc;
}

int fy_agent_blob_upload(struct fy_agent *a, struct fy_blob_upload *ups,
                         size_t n, struct ferry_err *err)
{
    struct job *js = fy_calloc(n ? n : 1, sizeof(*js));
    int rc, rc2;

    if (!js)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        js[i].up = &ups[i];
        ups[i].result = FY_UPLOAD_CHANGED; /* until it is known */
        ups[i].code = NULL;
        ups[i].why[0] = '\0';
        ups[i].sent = false;
        ups[i].bytes = 0;
    }
    rc = prepare_all(a, js, n, err);
    if (rc == 0)
        rc = record_all(a->db, js, n, false, err);
    if (rc == 0)
        rc = send_all(a, js, n, err);
    /* What was stored is recorded even when a later file failed. */
    rc2 = record_all(a->db, js, n, true, rc < 0 ? NULL : err);
    fy_free(js);
    return rc < 0 ? rc : rc2;
}
