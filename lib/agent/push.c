/* SPDX-License-Identifier: MIT */
/*
 * The push loop; see push.h and docs/guarantees.md for why each step is
 * safe to interrupt at any point.
 */
#include "agent/push.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent_int.h"
#include "agent/agentdb.h"
#include "agent/blob.h"
#include "agent/state.h"
#include "capture/outbox.h"
#include "util/log.h"
#include "fy.h"

/*
 * The push's SQLite page cache, KiB: with 2 MB (the default) or 128 KB a
 * push drained 500,000 queued rows in the same CPU time.
 */
#define PUSH_CACHE_KIB 256

struct pusher {
    struct fy_agent *a;
    sqlite3 *db;
    const struct fy_agent_config *cfg;
    const struct fy_push_opts *o;
    struct fy_push_stats *s;
    struct fy_outbox *ob;
    struct fy_blob_files *files;     /* "ferry.files" declared: the cache */
    const struct fy_http_reply *rep; /* the last answer (the agent's) */
    int64_t acked;                   /* acked_seq of the last 200 */
    int batch_size;
};

/*
 * A 200 must carry the acknowledged seq. One without it (a body cut short,
 * empty, or not ferryd's JSON) says nothing about the batch: it is treated
 * as a network error and retried, never as a verdict.
 */
static int parse_acked(const struct fy_http_reply *rep, void *ud,
                       struct ferry_err *err)
{
    int64_t *acked = ud;
    json_t *root = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    json_t *v = json_object_get(root, "acked_seq");
    int rc = 0;

    if (rep->status != 200)
        ; /* not a success: the step judges it */
    else if (!json_is_integer(v))
        rc = fy_err_set(err, FERRY_ENET,
                        "server answered 200 without a readable acked_seq"
                        " (%zu bytes%s)",
                        rep->body.len,
                        rep->body.len ? "" : ": answer cut short?");
    else
        *acked = json_integer_value(v);
    json_decref(root);
    return rc;
}

/* POSTs body to /v1/push through the agent's retrying request. */
static int send_retrying(struct pusher *p, const char *body, size_t len,
                         struct ferry_err *err)
{
    long before = p->a->retries;
    int rc = fy_agent_request(
        p->a,
        &(struct fy_agent_request){.http = {.path = "/v1/push",
                                            .content_type = "application/json",
                                            .body = body,
                                            .len = len,
                                            .gzip = p->cfg->compress},
                                   .step = "push",
                                   .accept = parse_acked,
                                   .ud = &p->acked},
        &p->rep, err);

    p->s->retries += p->a->retries - before;
    return rc;
}

/* True when seq is one of the changes sent in b. */
static bool in_batch(const struct fy_batch *b, int64_t seq)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].seq == seq)
            return true;
    }
    return false;
}

/*
 * ferryd does not hold a blob the cache says it stored (a store restored
 * from a backup, another store behind the same URL): the change is parked
 * like any refused one, and the cache forgets the blob, so that once the
 * change is re-queued ('ferry dead retry') its file is uploaded again.
 */
static int forget_missing(struct pusher *p, const struct fy_batch *b,
                          int64_t seq, struct ferry_err *err)
{
    const struct fy_batch_item *it = NULL;
    const struct fy_file_decl *d;
    const char *k;
    json_t *ch, *v;
    int rc = 0;

    for (size_t i = 0; i < b->n && !it; i++)
        it = b->items[i].seq == seq ? &b->items[i] : NULL;
    d = it ? fy_agent_config_file(p->cfg, it->table) : NULL;
    if (!d)
        return 0;
    ch = json_loadb(b->body.data + it->off, it->len, 0, NULL);
    json_object_foreach(json_object_get(ch, "row"), k, v)
    {
        if (rc == 0 && strcasecmp(k, d->blob_column) == 0 && json_is_string(v))
            rc = fy_blob_forget(p->db, json_string_value(v), err);
    }
    json_decref(ch);
    return rc;
}

/*
 * Parks one change the server listed; *parked says whether a change really
 * moved. A seq this batch did not carry (a server's bug, or a seq named
 * twice) parks nothing: counting it would leave the batch as it is, and
 * the same batch would be built and sent again forever.
 */
static int bury_listed(struct pusher *p, const struct fy_batch *b, json_t *c,
                       bool *parked, struct ferry_err *err)
{
    json_t *seq = json_object_get(c, "seq");
    json_t *st = json_object_get(c, "status");
    const char *code = json_string_value(json_object_get(c, "code"));
    const char *msg = json_string_value(json_object_get(c, "message"));
    sqlite3_int64 before = sqlite3_total_changes64(p->db);
    int rc;

    *parked = false;
    if (!json_is_integer(seq) || !in_batch(b, json_integer_value(seq)))
        return 0;
    rc = fy_outbox_bury(p->ob, b, json_integer_value(seq),
                        json_is_integer(st) ? (int)json_integer_value(st)
                                            : (int)p->rep->status,
                        code ? code : "rejected", msg ? msg : "", err);
    *parked = rc == 0 && sqlite3_total_changes64(p->db) > before;
    if (*parked)
        fy_warn("push", "change seq=%lld rejected (%ld %s): %s",
                (long long)json_integer_value(seq), p->rep->status,
                code ? code : "", msg ? msg : "");
    if (*parked && code && strcmp(code, "missing_blob") == 0)
        rc = forget_missing(p, b, json_integer_value(seq), err);
    return rc;
}

/* Parks each change of b the server listed in error.changes. */
static int bury_rejected(struct pusher *p, const struct fy_batch *b,
                         long *buried, struct ferry_err *err)
{
    json_t *root = json_loadb(p->rep->body.data, p->rep->body.len, 0, NULL);
    json_t *list = json_object_get(json_object_get(root, "error"), "changes");
    json_t *c;
    size_t i;
    int rc = fy_outbox_begin(p->ob, err);

    *buried = 0;
    json_array_foreach(list, i, c)
    {
        bool parked = false;

        if (rc == 0)
            rc = bury_listed(p, b, c, &parked, err);
        *buried += parked;
    }
    json_decref(root);
    if (rc == 0)
        return fy_outbox_commit(p->ob, err);
    *buried = 0;
    fy_outbox_rollback(p->ob);
    return rc;
}

static int bury_single(struct pusher *p, const struct fy_batch *b,
                       struct ferry_err *err)
{
    char msg[300];
    int rc = fy_outbox_begin(p->ob, err);

    fy_agent_reply_message(p->rep, msg, sizeof(msg));
    if (rc == 0)
        rc = fy_outbox_bury(p->ob, b, b->items[0].seq, (int)p->rep->status,
                            "rejected", msg, err);
    if (rc == 0)
        return fy_outbox_commit(p->ob, err);
    fy_outbox_rollback(p->ob);
    return rc;
}

/* A 4xx answer to a batch: park what it names, else narrow the batch. */
static int handle_rejection(struct pusher *p, const struct fy_batch *b,
                            struct ferry_err *err)
{
    long buried = 0;
    int rc;

    /*
     * Only ferryd's verdict on the rows parks them. Anything else (a
     * proxy's 404, a wrong base_url path, a redirect, an HTML page) says
     * nothing about the rows and must not get them parked.
     */
    if (!fy_agent_reply_is_verdict(p->rep)) {
        char msg[300];

        fy_agent_reply_message(p->rep, msg, sizeof(msg));
        return fy_err_status(err, FERRY_EHTTP, (int)p->rep->status,
                             "unexpected answer %ld from '%s' (is base_url"
                             " a ferryd?): %s",
                             p->rep->status, p->cfg->base_url, msg);
    }
    rc = bury_rejected(p, b, &buried, err);

    if (rc < 0 || buried > 0) {
        p->s->dead += buried;
        return rc;
    }
    if (b->n > 1) {
        /*
         * No per-change verdict (e.g. 413), or one naming no change of this
         * batch: find the culprit by halving.
         */
        p->batch_size = (int)(b->n / 2);
        return 0;
    }
    rc = bury_single(p, b, err);
    if (rc == 0)
        p->s->dead++;
    return rc;
}

/*
 * ferryd does not accept the contract version the agent sends: no row is
 * at fault, so nothing is parked and the outbox stays as it is.
 */
static bool version_refused(const struct fy_http_reply *rep)
{
    return rep->status != 200 && fy_agent_reply_err(rep) == FERRY_EVERSION;
}

/* An answer that refuses the key or the agent's version (said above). */
static int auth_failure(struct pusher *p, struct ferry_err *err)
{
    return fy_agent_reply_fail(p->rep, "POST /v1/push", err);
}

/* FERRY_EAUTH or FERRY_EFORBIDDEN when the answer refuses the key, else 0. */
static int key_refused(const struct fy_http_reply *rep)
{
    int code = rep->status == 200 ? 0 : fy_agent_reply_err(rep);

    return code == FERRY_EAUTH || code == FERRY_EFORBIDDEN ? code : 0;
}

/*
 * An empty batch first: it proves the key and its device (so a 403 later
 * is about rows) and brings the server's acknowledged seq.
 */
static int handshake(struct pusher *p, struct ferry_err *err)
{
    struct fy_buf body = FY_BUF_INIT(0);
    int64_t acked = 0;
    int rc, refused;

    fy_buf_addf(&body, "{\"device\":\"%s\",\"changes\":[]}", p->cfg->device);
    rc = send_retrying(p, body.data, body.len, err);
    fy_buf_release(&body);
    if (rc < 0)
        return rc;
    refused = key_refused(p->rep);
    if (refused || version_refused(p->rep))
        return auth_failure(p, err);
    if (p->rep->status != 200)
        return fy_err_status(err, FERRY_EHTTP, (int)p->rep->status,
                             "server answered %ld to the handshake",
                             p->rep->status);
    acked = p->acked;
    p->s->answered = true;
    p->s->acked_seq = acked;
    return fy_outbox_sync_seq(p->ob, acked, err);
}

/* Counts an acknowledged batch's changes per table. */
static void count_tables(struct fy_push_stats *s, const struct fy_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const char *t = b->items[i].table ? b->items[i].table : "?";
        size_t k = 0;

        while (k < s->ntables && strncmp(s->tables[k].name, t, 63) != 0)
            k++;
        if (k == s->ntables && k < FY_PUSH_TABLES)
            snprintf(s->tables[s->ntables++].name, sizeof(s->tables[0].name),
                     "%s", t);
        if (k < s->ntables)
            s->tables[k].sent++;
        else
            s->other_sent++;
    }
}

/* Parks the changes of b that wait for file f, which cannot be sent. */
static int bury_file(struct pusher *p, const struct fy_batch *b, size_t f,
                     const char *code, const char *why, struct ferry_err *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        if (b->items[i].file != (int)f)
            continue;
        rc = fy_outbox_bury(p->ob, b, b->items[i].seq, 0, code, why, err);
        if (rc < 0)
            break;
        p->s->dead_local++;
        fy_warn("push", "change seq=%lld table=%s parked: %s",
                (long long)b->items[i].seq, b->items[i].table, why);
    }
    return rc;
}

/* After the upload step: the rows of files that cannot be sent, parked. */
static int settle_files(struct pusher *p, const struct fy_batch *b,
                        const struct fy_blob_upload *ups, bool give_up,
                        struct ferry_err *err)
{
    int rc = fy_outbox_begin(p->ob, err);

    for (size_t f = 0; rc == 0 && f < b->nfiles; f++) {
        const struct fy_blob_upload *u = &ups[f];

        if (u->result == FY_UPLOAD_DONE && u->sent) {
            p->s->files++;
            p->s->file_bytes += u->bytes;
        } else if (u->result == FY_UPLOAD_DONE) {
            p->s->files_known++;
        } else if (u->result == FY_UPLOAD_BAD) {
            rc = bury_file(p, b, f, u->code, u->why, err);
        } else if (give_up) {
            char why[400];

            snprintf(why, sizeof(why),
                     "file '%s' kept changing while this push tried to"
                     " send it; 'ferry dead retry' sends it once it stays"
                     " as it is",
                     u->path);
            rc = bury_file(p, b, f, "file_changing", why, err);
        }
    }
    if (rc == 0)
        return fy_outbox_commit(p->ob, err);
    fy_outbox_rollback(p->ob);
    return rc;
}

/* Uploads the files batch b waits for; b must be built again after. */
static int upload_files(struct pusher *p, const struct fy_batch *b,
                        bool give_up, struct ferry_err *err)
{
    struct fy_blob_upload *ups = fy_calloc(b->nfiles, sizeof(*ups));
    long before = p->a->retries;
    int rc;

    if (!ups)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t f = 0; f < b->nfiles; f++)
        ups[f].path = b->files[f];
    rc = fy_agent_blob_upload(p->a, ups, b->nfiles, err);
    p->s->retries += p->a->retries - before;
    if (rc == 0)
        rc = settle_files(p, b, ups, give_up, err);
    fy_free(ups);
    return rc;
}

/*
 * Builds the next batch; while it waits for files, uploads them and builds
 * it again (the same changes, now with their hashes), so a row never
 * leaves before its file. A file that keeps changing gets a few rounds.
 */
static int build_ready(struct pusher *p, struct fy_batch *b,
                       struct ferry_err *err)
{
    int rc = 0;

    for (int round = 0; rc == 0; round++) {
        rc = fy_outbox_build(p->ob, p->cfg->device, p->batch_size, b, err);
        if (rc < 0 || b->nfiles == 0)
            break;
        p->s->dead_local += b->dead_local;
        rc = upload_files(p, b, round >= FY_BLOB_TRIES, err);
    }
    return rc;
}

static int push_one(struct pusher *p, struct fy_batch *b, bool *done,
                    struct ferry_err *err)
{
    int64_t acked = 0;
    int rc = build_ready(p, b, err);

    if (rc < 0)
        return rc;
    p->s->dead_local += b->dead_local;
    if (b->n == 0) {
        *done = b->dead_local == 0;
        return 0;
    }
    rc = send_retrying(p, b->body.data, b->body.len, err);
    if (rc < 0)
        return rc;
    /*
     * 403 here is about rows, not the key: the handshake already proved the
     * key and its device. A change outside the key's region is parked like
     * any invalid change, so it cannot block the rest of the outbox.
     */
    if (key_refused(p->rep) == FERRY_EAUTH || version_refused(p->rep))
        return auth_failure(p, err);
    if (p->rep->status != 200)
        return handle_rejection(p, b, err);
    acked = p->acked;
    rc = fy_outbox_ack(p->ob, acked, err);
    if (rc == 0) {
        p->s->batches++;
        p->s->sent += (long)b->n;
        count_tables(p->s, b);
        p->s->acked_seq = acked;
        /*
         * Grow back gradually after narrowing down a rejected change, so
         * finding the next one does not start from the full batch again.
         */
        if (p->batch_size < p->cfg->batch_size)
            p->batch_size = p->batch_size * 2 < p->cfg->batch_size
                                ? p->batch_size * 2
                                : p->cfg->batch_size;
        fy_log(p->a->o.report ? FERRY_LOG_DEBUG : FERRY_LOG_INFO, "push",
               "batch=%ld seq=%lld-%lld acked_seq=%lld", p->s->batches,
               (long long)b->items[0].seq, (long long)b->items[b->n - 1].seq,
               (long long)acked);
        fy_agent_report(
            p->a, &(struct fy_agent_event){
                      .kind = FY_AGENT_PROGRESS, .step = "push", .push = p->s});
    }
    return rc;
}

static int run(struct pusher *p, struct ferry_err *err)
{
    struct fy_batch b;
    bool done = false;
    int rc = handshake(p, err);

    fy_batch_init(&b);
    while (rc == 0 && !done &&
           (p->o->max_batches == 0 || p->s->batches < p->o->max_batches))
        rc = push_one(p, &b, &done, err);
    fy_batch_release(&b);
    return rc;
}

/*
 * SQLite's default page cache (2 MB per connection) was most of a push's
 * heap, filled once by the outbox count and kept: a push reads each page
 * of the outbox and of the app's tables a few times in a row, so a small
 * cache serves it as well (the OS caches the file) with 1.7 MB less
 * resident.
 * Returns the size to restore, in SQLite's units.
 */
static int64_t bound_cache(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t before = -2000;
    char sql[64];

    if (sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        before = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", PUSH_CACHE_KIB);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    return before;
}

static void restore_cache(sqlite3 *db, int64_t size)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA cache_size = %lld", (long long)size);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int fy_agent_push_step(struct fy_agent *a, const struct fy_push_opts *o,
                       struct fy_push_stats *s, struct ferry_err *err)
{
    int64_t cache = bound_cache(a->db);
    int64_t queued = 0;
    struct pusher p = {.a = a,
                       .db = a->db,
                       .cfg = &a->cfg,
                       .o = o,
                       .s = s,
                       .rep = &a->rep,
                       .batch_size = a->cfg.batch_size};
    int rc;

    memset(s, 0, sizeof(*s));
    /*
     * Until the server answers, the acknowledged seq is the one the agent
     * stored last time, not 0: a failed push reports what is really known.
     */
    fy_state_get_int(a->db, "acked_seq", 0, &s->acked_seq, NULL);
    fy_agentdb_count(a->db, FY_AGENTDB_OUTBOX, &queued, NULL);
    s->queued = (long)queued;
    rc = fy_outbox_new(a->db, &p.ob, err);
    if (rc == 0 && a->cfg.nfiles > 0)
        rc = fy_blob_files_new(a->db, a->cfg.database, &p.files, err);
    if (rc == 0 && p.files)
        fy_outbox_files(p.ob, a->cfg.files, a->cfg.nfiles, fy_blob_files_check,
                        p.files);
    if (rc == 0)
        rc = run(&p, err);
    fy_outbox_free(p.ob);
    fy_blob_files_free(p.files);
    restore_cache(a->db, cache);
    return rc;
}
