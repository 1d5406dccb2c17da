/* SPDX-License-Identifier: MIT */
/*
 * The settings file's "rate_limit" (docs/configuration.md#rate-limits):
 * the per-key limits of lib/server/admit.h, checked whole so that every
 * command refuses a bad one.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ferryd.h"

/* One object of limits (the defaults, or one key's); NULL: fine. */
static const char *take_limits(json_t *v, bool keys_allowed,
                               struct fy_admit_limits *lim)
{
    const char *k;
    json_t *x;
    bool burst_set = false;

    if (!json_is_object(v))
        return "must be an object";
    json_object_foreach(v, k, x)
    {
        double d = json_is_number(x) ? json_number_value(x) : -1;

        if (strcmp(k, "keys") == 0 && keys_allowed)
            continue;
        if (strcmp(k, "requests_per_second") == 0) {
            if (d < 0 || d > 1e6)
                return "\"requests_per_second\" must be a number from 0 (no"
                       " limit) to 1000000";
            lim->rate = d;
        } else if (strcmp(k, "burst") == 0) {
            if (d < 1 || d > 1e6)
                return "\"burst\" must be a number from 1 to 1000000";
            lim->burst = d;
            burst_set = true;
        } else if (strcmp(k, "concurrent") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > 100000)
                return "\"concurrent\" must be an integer from 0 (no limit)"
                       " to 100000";
            lim->concurrent = (unsigned)json_integer_value(x);
        } else {
            return keys_allowed ? "knows \"requests_per_second\", \"burst\","
                                  " \"concurrent\" and \"keys\""
                                : "knows \"requests_per_second\", \"burst\""
                                  " and \"concurrent\"";
        }
    }
    /* A second's worth at once by default (and one request at least). */
    if (!burst_set)
        lim->burst = lim->rate < 1 ? 1 : lim->rate;
    return NULL;
}

static bool key_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n != 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

int ferryd_take_rate_limit(const char *path, json_t *v,
                           struct ferryd_settings *s)
{
    json_t *keys = json_object_get(v, "keys");
    const char *why = take_limits(v, true, &s->rate);
    const char *id, *bad = "";
    json_t *x;

    if (!why && keys && !json_is_object(keys))
        why = "\"keys\" must be an object of key ids";
    if (!why && json_object_size(keys) > FERRYD_MAX_RATE_KEYS)
        why = "\"keys\" names more keys than ferryd takes (256)";
    s->nrate_keys = 0;
    json_object_foreach(keys, id, x)
    {
        struct fy_admit_override *o;

        if (why)
            break;
        bad = id;
        if (!key_id_ok(id)) {
            why = "is not a key id (the 16 hex digits after fy_)";
            break;
        }
        o = &s->rate_keys[s->nrate_keys++];
        snprintf(o->key_id, sizeof(o->key_id), "%s", id);
        /* What a key leaves unsaid is the defaults'. */
        o->lim = s->rate;
        why = take_limits(x, false, &o->lim);
    }
    if (!why)
        return 0;
    fprintf(stderr, "ferryd: config '%s': \"rate_limit\"%s%.40s%s %s\n", path,
            *bad ? " key \"" : "", bad, *bad ? "\"" : "", why);
    return FERRYD_CONFIG;
}
