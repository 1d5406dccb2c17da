/* SPDX-License-Identifier: MIT */
/*
 * The agent's outbox: turning captured keys into numbered, stamped changes
 * and a request body, and settling them after the server answers. A change
 * gets its seq and HLC once, in the same transaction that persists the
 * counters, so a change re-sent after a crash carries the same number and
 * the server recognises it (entries superseded by a later write of the same
 * row are dropped instead, and their numbers stay unused). A row of a
 * table declared in "ferry.files" is sent only once its file is stored at
 * the server: the batch lists the files it waits for, and the push step
 * uploads them and builds the batch again before sending it.
 */
#ifndef FY_OUTBOX_H
#define FY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"
#include "util/buf.h"
#include "ferry/ferry_err.h"

struct fy_batch_item {
    int64_t seq;
    uint64_t hlc;
    size_t off, len;   /* the change's JSON inside body */
    const char *table; /* the tracked table (borrowed from the outbox) */
    int file;          /* index in files of the file it waits for, or -1 */
};

struct fy_batch {
    struct fy_buf body; /* {"device": ..., "changes": [...]} */
    struct fy_batch_item *items;
    size_t n, cap;
    long dead_local; /* changes parked while building (unencodable) */
    /*
     * Files (resolved paths, owned) whose rows are in the batch but which
     * the server does not hold yet: a batch with nfiles > 0 must not be
     * sent; upload them and build it again.
     */
    char **files;
    size_t nfiles, files_cap;
};

void fy_batch_init(struct fy_batch *b);
void fy_batch_release(struct fy_batch *b);

struct fy_outbox;

/* Per-run outbox context over db (borrowed); free with fy_outbox_free. */
int fy_outbox_new(sqlite3 *db, struct fy_outbox **out, struct ferry_err *err);
void fy_outbox_free(struct fy_outbox *ob);

/* What the outbox learns of a row's file while it builds a batch. */
enum fy_file_state {
    FY_FILE_READY,  /* stored at the server: sha256 goes in the row */
    FY_FILE_NEEDED, /* hash or upload it first: the batch waits (path) */
    FY_FILE_BAD     /* cannot be sent: the change is parked (code, why) */
};

struct fy_file_check {
    enum fy_file_state state;
    char sha256[65];    /* READY: lower-case hex */
    const char *code;   /* BAD: the dead letter's code (static) */
    char why[300];      /* BAD: the dead letter's message */
    struct fy_buf path; /* the file, resolved (the outbox owns the buffer) */
};

/* Answers for one non-NULL path value (text, no NUL bytes). */
typedef int fy_outbox_file_fn(void *ud, const char *path,
                              struct fy_file_check *out, struct ferry_err *err);

/*
 * Declares the tables whose rows name a file (files, n: borrowed for ob's
 * life) and who answers for those files. Call before the first build. A
 * declared table without its path column has its changes parked as
 * unencodable; a NULL path sends a NULL blob column.
 */
void fy_outbox_files(struct fy_outbox *ob, const struct fy_file_decl *files,
                     size_t n, fy_outbox_file_fn *check, void *ud);

/*
 * Aligns local numbering with the server's acknowledged seq: later seqs
 * start above it (a reinstalled agent must not reuse acknowledged numbers),
 * and changes at or below it are settled.
 */
int fy_outbox_sync_seq(struct fy_outbox *ob, int64_t server_acked,
                       struct ferry_err *err);

/*
 * Builds the next batch from at most limit entries, oldest first, into b
 * (reset first). b->n == 0 with b->dead_local == 0 means the outbox is
 * empty; with dead_local > 0 every entry read was parked.
 */
int fy_outbox_build(struct fy_outbox *ob, const char *device, int limit,
                    struct fy_batch *b, struct ferry_err *err);

/*
 * Stamps every entry that has no HLC stamp yet, in queue order, from its
 * capture time and *hlc (the agent's clock, advanced and stored by the
 * caller). Pull calls this in its transaction before it observes pulled
 * stamps: an app write made before a pull keeps a stamp of the moment it
 * was made instead of one above whatever the pull brought in, so last
 * writer wins by write time, whatever the order devices sync in. Entries
 * numbered later keep their stamp.
 */
int fy_outbox_stamp(sqlite3 *db, uint64_t *hlc, struct ferry_err *err);

/* Deletes the changes the server acknowledged (seq <= acked). */
int fy_outbox_ack(struct fy_outbox *ob, int64_t acked, struct ferry_err *err);

/*
 * Moves the change with this seq to _ferry_dead with the server's verdict
 * (or, status 0, the agent's own: a file that cannot be sent). The
 * change's JSON is taken from b.
 */
int fy_outbox_bury(struct fy_outbox *ob, const struct fy_batch *b, int64_t seq,
                   int status, const char *code, const char *message,
                   struct ferry_err *err);

/* Transaction helpers so several buries commit together. */
int fy_outbox_begin(struct fy_outbox *ob, struct ferry_err *err);
int fy_outbox_commit(struct fy_outbox *ob, struct ferry_err *err);
void fy_outbox_rollback(struct fy_outbox *ob);

#endif
