/* SPDX-License-Identifier: MIT */
/*
 * `ferry why`'s sentences (why.h): the agent's facts and ferryd's put
 * together, one fact per sentence, in the order a change travels:
 * captured, queued, sent, parked or acknowledged, stored, superseded,
 * readable by this device. The rules are in docs/operations.md.
 */
#include "agent/why.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/hlc.h"
#include "fy.h"

struct facts {
    json_t *local, *server, *arr;
    const char *device; /* this device, as ferryd knows it */
    bool waiting;       /* a change of the key is queued, in flight or parked */
};

static void say(struct facts *f, const char *fmt, ...) FY_PRINTF(2, 3);

static void say(struct facts *f, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.*) */
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    json_array_append_new(f->arr, json_string(line));
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

static int64_t num(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Unix ms as UTC text in out. */
static const char *when(int64_t ms, char out[FY_UTC_MS_STRLEN + 1])
{
    return ms > 0 ? fy_utc_ms(ms, out) : "an unknown time";
}

/* ---- the agent's side ---------------------------------------------------- */

static void say_batch(struct facts *f, json_t *e, json_t *b)
{
    char t[FY_UTC_MS_STRLEN + 1];

    if (!json_is_object(b)) {
        say(f,
            "numbered seq %lld for a batch (HLC %s), not acknowledged yet:"
            " the next push sends it again",
            (long long)num(e, "seq"), str(e, "hlc"));
        return;
    }
    say(f,
        "sent as seq %lld in batch #%lld (seqs %lld-%lld, %lld changes) at %s,"
        " not acknowledged yet: the next push sends it again, and ferryd"
        " skips it if it already applied it",
        (long long)num(e, "seq"), (long long)num(b, "id"),
        (long long)num(b, "first_seq"), (long long)num(b, "last_seq"),
        (long long)num(b, "changes"), when(num(b, "sent_at"), t));
}

static void say_entries(struct facts *f)
{
    json_t *entries = json_object_get(f->local, "outbox"), *e;
    char t[FY_UTC_MS_STRLEN + 1];
    size_t i;

    json_array_foreach(entries, i, e)
    {
        f->waiting = true;
        if (json_object_get(e, "seq")) {
            say_batch(f, e, json_object_get(e, "batch"));
            continue;
        }
        say(f,
            "captured at %s and queued, not sent yet: %lld change%s ahead of"
            " it in the outbox",
            when(num(e, "captured_at"), t), (long long)num(e, "ahead"),
            num(e, "ahead") == 1 ? " is" : "s are");
    }
}

static void say_dead(struct facts *f)
{
    json_t *dead = json_object_get(f->local, "dead"), *d;
    char t[FY_UTC_MS_STRLEN + 1];
    size_t i;

    json_array_foreach(dead, i, d)
    {
        f->waiting = true;
        if (num(d, "status") == 0)
            say(f,
                "parked as dead letter #%lld at %s, before sending (%s): %s;"
                " 'ferry dead retry %lld' queues it again",
                (long long)num(d, "id"), when(num(d, "at") * 1000, t),
                str(d, "code"), str(d, "message"), (long long)num(d, "id"));
        else
            say(f,
                "parked as dead letter #%lld at %s: the server refused it"
                " (%lld %s): %s; fix the row or the contract, then 'ferry"
                " dead retry %lld'",
                (long long)num(d, "id"), when(num(d, "at") * 1000, t),
                (long long)num(d, "status"), str(d, "code"), str(d, "message"),
                (long long)num(d, "id"));
    }
}

static void say_local(struct facts *f)
{
    json_t *row = json_object_get(f->local, "row");
    char t[FY_UTC_MS_STRLEN + 1];

    if (!json_is_true(json_object_get(f->local, "tracked")))
        say(f,
            "table '%s' is not tracked on this device: its writes are not"
            " captured ('ferry track %s')",
            str(f->local, "table"), str(f->local, "table"));
    if (!row)
        say(f, "this device has no table '%s'", str(f->local, "table"));
    else if (json_is_null(row))
        say(f, "this device has no row with this key");
    else
        say(f, "this device has the row");
    say_entries(f);
    say_dead(f);
    if (!f->waiting && json_is_true(json_object_get(f->local, "tracked")))
        say(f,
            "no change of this key waits on this device: nothing queued, in"
            " flight or parked (acknowledged seq %lld, last push %s)",
            (long long)num(f->local, "acked_seq"),
            num(f->local, "last_push_at")
                ? when(num(f->local, "last_push_at") * 1000, t)
                : "never");
}

/* ---- ferryd's side ------------------------------------------------------- */

/* The write of this device that ferryd stores: its batch, from the HLC. */
static void say_own_batch(struct facts *f, json_t *row, json_t *batches)
{
    char t[FY_UTC_MS_STRLEN + 1];

    if (!json_is_object(batches)) {
        say(f, "that is this device's write, acknowledged by ferryd");
        return;
    }
    (void)row;
    if (json_object_get(batches, "acked_seq"))
        say(f,
            "that is this device's write: sent in batch #%lld (seqs"
            " %lld-%lld) at %s, acknowledged at seq %lld",
            (long long)num(batches, "id"), (long long)num(batches, "first_seq"),
            (long long)num(batches, "last_seq"),
            when(num(batches, "sent_at"), t),
            (long long)num(batches, "acked_seq"));
    else
        say(f,
            "that is this device's write: sent in batch #%lld (seqs"
            " %lld-%lld) at %s; ferryd applied it, this device has not had"
            " the acknowledgement yet",
            (long long)num(batches, "id"), (long long)num(batches, "first_seq"),
            (long long)num(batches, "last_seq"),
            when(num(batches, "sent_at"), t));
}

static bool same_values(json_t *local_row, json_t *server_values)
{
    return json_is_object(local_row) && json_equal(local_row, server_values);
}

static void say_other_row(struct facts *f, json_t *row, json_t *dev)
{
    json_t *mine = json_object_get(f->local, "row");

    if (json_is_true(json_object_get(dev, "superseded")))
        say(f,
            "superseded: this device deleted it, and a newer write from"
            " device '%s' (HLC %s) replaced the delete",
            str(row, "origin"), str(row, "hlc"));
    else if (same_values(mine, json_object_get(row, "values")))
        say(f, "this device holds the stored version");
    else if (json_is_object(mine) && !f->waiting)
        say(f,
            "superseded: the stored version is a newer write from device"
            " '%s' (HLC %s); this device's copy differs%s",
            str(row, "origin"), str(row, "hlc"),
            json_is_true(json_object_get(dev, "readable"))
                ? ", and its next pull replaces it"
                : "");
}

static void say_stored(struct facts *f, json_t *row, json_t *dev)
{
    char t[FY_UTC_MS_STRLEN + 1];
    uint64_t hlc = 0;

    fy_hlc_parse(str(row, "hlc"), &hlc);
    say(f,
        "stored on the server: written by device '%s' at %s (HLC %s, version"
        " %s)",
        str(row, "origin"), when(fy_hlc_ms(hlc), t), str(row, "hlc"),
        str(row, "version"));
    if (strcmp(str(row, "origin"), f->device) == 0)
        say_own_batch(f, row, json_object_get(f->local, "stored_batch"));
    else
        say_other_row(f, row, dev);
}

static void say_deleted(struct facts *f, json_t *tomb)
{
    json_t *mine = json_object_get(f->local, "row");

    say(f, "deleted on the server by device '%s' at %s (HLC %s)",
        str(tomb, "origin"), str(tomb, "deleted_at"), str(tomb, "hlc"));
    if (json_is_object(mine) && !f->waiting &&
        strcmp(str(tomb, "origin"), f->device) != 0)
        say(f, "this device still has the row: its next pull deletes it");
}

static void say_scope(struct facts *f, json_t *dev)
{
    const char *by = str(dev, "unreadable_by");

    if (json_is_true(json_object_get(dev, "readable")))
        return;
    if (strcmp(by, "region") == 0)
        say(f,
            "outside this device's read scope: table '%s' is read by region,"
            " the row is region '%s''s and this device's key is region"
            " '%s''s, so pull never brings it",
            str(f->server, "table"),
            json_object_get(f->server, "row")
                ? str(json_object_get(f->server, "row"), "region")
                : str(json_object_get(f->server, "tombstone"), "region"),
            str(dev, "region"));
    else
        say(f,
            "outside this device's read scope: table '%s' is push-only"
            " (\"read\": \"none\"), so pull never brings another device's"
            " rows",
            str(f->server, "table"));
}

static void say_server(struct facts *f)
{
    const char *state = str(f->server, "state");
    json_t *dev = json_object_get(f->server, "device");

    if (strcmp(state, "stored") == 0)
        say_stored(f, json_object_get(f->server, "row"), dev);
    else if (strcmp(state, "deleted") == 0)
        say_deleted(f, json_object_get(f->server, "tombstone"));
    else if (!f->waiting && !json_is_object(json_object_get(f->local, "row")))
        say(f, "not known anywhere: no row, no queued change and no dead"
               " letter on this device, and the server has never stored"
               " this key");
    else
        say(f, "the server has never stored this key");
    if (strcmp(state, "unknown") != 0)
        say_scope(f, dev);
    say(f, "the server has acknowledged this device's changes up to seq %lld",
        (long long)num(dev, "acked_seq"));
}

json_t *fy_why_facts(json_t *local, json_t *server, const char *missing)
{
    struct facts f = {.local = local, .server = server, .arr = json_array()};

    if (!f.arr)
        return NULL;
    f.device = str(json_object_get(server, "device"), "name");
    say_local(&f);
    if (server)
        say_server(&f);
    else
        say(&f, "the server's side is missing: %s",
            missing ? missing : "not asked");
    return f.arr;
}
