/* SPDX-License-Identifier: MIT */
/*
 * Files named by rows (the config's "ferry.files"): the push step sends a
 * row of such a table only once ferryd holds its file. This module keeps
 * the hashes in _ferry_blobs (by path, size and mtime, so a large file is
 * read once, not on every push), answers the outbox's question "can this
 * row's file go?" while a batch is built, and uploads the files a batch
 * waits for: HEAD asks what the server holds, PUT sends the rest with
 * Content-Range through the agent's retrying request, resumed from what
 * the server kept after a failure. docs/internals/agent.md.
 */
#ifndef FY_AGENT_BLOB_H
#define FY_AGENT_BLOB_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "agent/agent.h"
#include "capture/outbox.h"

/* Files up to this size are sent whole, without asking the server first. */
#define FY_BLOB_SMALL (1 << 20)
/* A file that changed this often while being sent is parked. */
#define FY_BLOB_TRIES 3

/*
 * The outbox's view of the hash cache over db (borrowed); relative paths
 * are taken from the folder of database (the app's SQLite file).
 */
struct fy_blob_files;

int fy_blob_files_new(sqlite3 *db, const char *database,
                      struct fy_blob_files **out, struct ferry_err *err);
void fy_blob_files_free(struct fy_blob_files *f);

/*
 * An fy_outbox_file_fn (ud: the fy_blob_files): READY with the hash when
 * the file is as hashed and stored at the server (or gone after it was
 * stored: the stored blob is the file as it was), NEEDED when it must be
 * hashed or sent first, BAD with the reason when it cannot be sent (no
 * such file, not a regular file, an empty or unusable path).
 */
int fy_blob_files_check(void *ud, const char *path, struct fy_file_check *out,
                        struct ferry_err *err);

/* What became of one file a batch waits for. */
enum fy_upload_result {
    FY_UPLOAD_DONE,    /* the server holds it complete */
    FY_UPLOAD_CHANGED, /* it changed while read or sent: try again */
    FY_UPLOAD_BAD      /* it cannot be sent: park its rows (code, why) */
};

struct fy_blob_upload {
    const char *path; /* resolved, as fy_blob_files_check gave it */
    enum fy_upload_result result;
    const char *code; /* BAD: the dead letter's code (static) */
    char why[300];    /* BAD: the dead letter's message */
    bool sent;        /* DONE: this push stored it (else the server had it) */
    int64_t bytes;    /* body bytes of the PUT that completed it */
};

/*
 * The upload step: each of ups[0..n) hashed if the cache does not describe
 * it, then sent unless the server holds it (HEAD first for a large file
 * or one whose upload began before), through a's retrying request; every
 * result set. All states are written in two transactions of the app
 * database: before the first byte ('sending': the next push asks before
 * it sends) and after the last. Returns 0, or the error that stopped it
 * (the key refused, the server unreachable for the whole retry budget, an
 * answer that is not ferryd's); files done until then are recorded.
 */
int fy_agent_blob_upload(struct fy_agent *a, struct fy_blob_upload *ups,
                         size_t n, struct ferry_err *err);

/*
 * ferryd answered missing_blob for sha256: every cached file with that
 * hash is hashed and sent again the next time a row names it.
 */
int fy_blob_forget(sqlite3 *db, const char *sha256, struct ferry_err *err);

/* SHA-256 of path's bytes as lower-case hex (FERRY_EIO when unreadable). */
int fy_blob_hash_file(const char *path, char hex[65], int64_t *size,
                      struct ferry_err *err);

#endif
