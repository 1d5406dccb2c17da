/* SPDX-License-Identifier: MIT */
/*
 * Key generation and verification; see keys.h for the format and why a
 * plain SHA-256 is the right hash here.
 */
#include "server/keys.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "fy.h"

static void hash_secret(const char *secret, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)secret, n, md);
    fy_hex(md, sizeof(md), out);
}

int fy_key_generate(const char *device, const char *region, bool admin,
                    struct fy_key *rec, char *out, struct ferry_err *err)
{
    unsigned char raw[FY_KEY_ID_LEN / 2 + FY_KEY_SECRET_LEN / 2];
    char hex[2 * sizeof(raw) + 1];
    int rc;

    memset(rec, 0, sizeof(*rec));
    if (!fy_name_valid(device) || (region && !fy_name_valid(region)))
        return fy_err_set(err, FERRY_EINVAL,
                          "device and region names may use letters, digits"
                          " and ._:@- (1 to 128 characters)");
    rc = fy_random(raw, sizeof(raw), err);
    if (rc < 0)
        return rc;
    fy_hex(raw, sizeof(raw), hex);
    snprintf(rec->id, sizeof(rec->id), "%.*s", FY_KEY_ID_LEN, hex);
    hash_secret(hex + FY_KEY_ID_LEN, FY_KEY_SECRET_LEN, rec->hash);
    rec->device = fy_strdup(device);
    rec->region = region ? fy_strdup(region) : NULL;
    rec->admin = admin;
    if (!rec->device || (region && !rec->region)) {
        fy_key_release(rec);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    memcpy(out, "fy_", 3);
    memcpy(out + 3, hex, FY_KEY_ID_LEN);
    out[3 + FY_KEY_ID_LEN] = '.';
    memcpy(out + 4 + FY_KEY_ID_LEN, hex + FY_KEY_ID_LEN, FY_KEY_SECRET_LEN + 1);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(hex, sizeof(hex));
    return 0;
}

int fy_key_new_secret(const char *id, char hash[65], char *out,
                      struct ferry_err *err)
{
    unsigned char raw[FY_KEY_SECRET_LEN / 2];
    char hex[2 * sizeof(raw) + 1];
    int rc = fy_random(raw, sizeof(raw), err);

    if (rc < 0)
        return rc;
    fy_hex(raw, sizeof(raw), hex);
    hash_secret(hex, FY_KEY_SECRET_LEN, hash);
    snprintf(out, FY_KEY_LEN + 1, "fy_%.*s.%s", FY_KEY_ID_LEN, id, hex);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(hex, sizeof(hex));
    return 0;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    }
    return true;
}

int fy_key_parse(const char *text, size_t len, char id[FY_KEY_ID_LEN + 1],
                 char hash[65])
{
    if (len != FY_KEY_LEN || memcmp(text, "fy_", 3) != 0 ||
        text[3 + FY_KEY_ID_LEN] != '.' || !all_hex(text + 3, FY_KEY_ID_LEN) ||
        !all_hex(text + 4 + FY_KEY_ID_LEN, FY_KEY_SECRET_LEN))
        return FERRY_EAUTH;
    memcpy(id, text + 3, FY_KEY_ID_LEN);
    id[FY_KEY_ID_LEN] = '\0';
    hash_secret(text + 4 + FY_KEY_ID_LEN, FY_KEY_SECRET_LEN, hash);
    return 0;
}

int fy_key_verify_shape(const char *text, size_t len, struct ferry_err *err)
{
    char id[FY_KEY_ID_LEN + 1], hash[65];

    if (fy_key_parse(text, len, id, hash) < 0)
        return fy_err_set(err, FERRY_EAUTH, "the API key is not valid");
    return 0;
}

/*
 * A secret that is not the key's current one: its previous secret (after
 * `ferryd keys rotate`) is accepted until the overlap ends, then refused
 * with a code of its own, so that the agent left behind says why. Only a
 * caller holding that secret learns that it was rotated.
 */
static int check_previous(struct fy_key *rec, const char hash[65],
                          struct ferry_err *err)
{
    char until[FY_TIME_STRLEN + 1];

    if (!rec->prev_hash[0] || CRYPTO_memcmp(hash, rec->prev_hash, 64) != 0)
        return fy_err_set(err, FERRY_EAUTH, "the API key is not valid");
    if (rec->prev_until > (int64_t)time(NULL)) {
        rec->previous = true;
        return 0;
    }
    fy_err_set(err, FERRY_EAUTH,
               "this key's secret was replaced by 'ferryd keys rotate' and"
               " the previous one was accepted until %s: use the new secret",
               fy_local_time(rec->prev_until, until));
    if (err)
        err->wire = FERRY_WIRE_KEY_ROTATED;
    return FERRY_EAUTH;
}

int fy_key_verify(struct fy_store *st, const char *text, size_t len,
                  struct fy_key *rec, struct ferry_err *err)
{
    char id[FY_KEY_ID_LEN + 1], hash[65];
    int rc;

    memset(rec, 0, sizeof(*rec));
    if (fy_key_parse(text, len, id, hash) < 0)
        return fy_err_set(err, FERRY_EAUTH, "the API key is not valid");
    rc = fy_store_key_get(st, id, rec, err);
    if (rc == FERRY_ENOTFOUND)
        return fy_err_set(err, FERRY_EAUTH, "the API key is not valid");
    if (rc < 0)
        return rc;
    if (CRYPTO_memcmp(hash, rec->hash, 64) != 0)
        rc = check_previous(rec, hash, err);
    if (rc == 0 && rec->revoked_at)
        rc = fy_err_set(err, FERRY_EAUTH, "the API key has been revoked");
    else if (rc == 0 && rec->expires_at &&
             rec->expires_at <= (int64_t)time(NULL))
        rc = fy_err_set(err, FERRY_EAUTH, "the API key has expired");
    if (rc < 0)
        fy_key_release(rec);
    return rc;
}

int fy_key_duration(const char *s, int64_t *secs)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    const int64_t max = 36500LL * 86400;
    size_t len = s ? strlen(s) : 0;
    int64_t n = 0;

    if (len < 2 || len > 12)
        return FERRY_EINVAL;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FERRY_EINVAL;
        n = n * 10 + (s[i] - '0');
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(units); i++) {
        if (s[len - 1] == units[i].unit && n > 0 && n <= max / units[i].s) {
            *secs = n * units[i].s;
            return 0;
        }
    }
    return FERRY_EINVAL;
}

/*
 * One slot per value of the id's first two hex digits (ids are random):
 * two keys sharing a slot only make a warning come up to a minute late.
 */
static pthread_mutex_t warn_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char id[FY_KEY_ID_LEN + 1];
    int64_t at;
} warned[256];

bool fy_key_warn_due(const char *id, int64_t now_s)
{
    char hex[3] = {id[0], id[0] ? id[1] : '\0', '\0'};
    size_t slot = strtoul(hex, NULL, 16) & 0xff;
    bool due;

    pthread_mutex_lock(&warn_mu);
    due = strcmp(warned[slot].id, id) != 0 || warned[slot].at <= now_s - 60;
    if (due) {
        snprintf(warned[slot].id, sizeof(warned[slot].id), "%s", id);
        warned[slot].at = now_s;
    }
    pthread_mutex_unlock(&warn_mu);
    return due;
}
