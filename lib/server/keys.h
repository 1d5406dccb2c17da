/* SPDX-License-Identifier: MIT */
/*
 * API keys: "fy_" + 16 hex id + "." + 64 hex secret. The id is public (shown
 * in listings and logs); only a SHA-256 of the secret is stored. The secret
 * is 256 random bits, so a fast hash is enough: there is nothing to
 * brute-force that a slow KDF would protect.
 */
#ifndef FY_KEYS_H
#define FY_KEYS_H

#include <stddef.h>

#include "store/store.h"

#define FY_KEY_ID_LEN     16
#define FY_KEY_SECRET_LEN 64
#define FY_KEY_LEN        (3 + FY_KEY_ID_LEN + 1 + FY_KEY_SECRET_LEN)

/*
 * Makes a new key for device (optional region, admin role): fills rec (id,
 * hash, owned copies of device and region; release with fy_key_release) and
 * writes the full key text into out (FY_KEY_LEN + 1 bytes), to be shown once.
 */
int fy_key_generate(const char *device, const char *region, bool admin,
                    struct fy_key *rec, char *out, struct ferry_err *err);

/*
 * A new secret for the existing key id (`ferryd keys rotate`): its hash
 * into hash, the full key text into out (FY_KEY_LEN + 1 bytes), to be
 * shown once.
 */
int fy_key_new_secret(const char *id, char hash[65], char *out,
                      struct ferry_err *err);

/*
 * Splits a presented key into id and secret hash; FERRY_EAUTH when it does
 * not have the key's shape.
 */
int fy_key_parse(const char *text, size_t len, char id[FY_KEY_ID_LEN + 1],
                 char hash[65]);

/*
 * FERRY_EAUTH (with the message a client sees) when text cannot be a key,
 * without touching any store; 0 when it has a key's shape.
 */
int fy_key_verify_shape(const char *text, size_t len, struct ferry_err *err);

/*
 * Checks a presented key against the store: known, hash equal (constant
 * time) to the current secret or, until the overlap of `ferryd keys
 * rotate` ends, to the previous one (rec->previous set), not revoked, not
 * expired. On success *rec is filled (release it). FERRY_EAUTH with a
 * message otherwise (err->wire FERRY_WIRE_KEY_ROTATED for a previous secret
 * past its overlap); store errors pass through.
 */
int fy_key_verify(struct fy_store *st, const char *text, size_t len,
                  struct fy_key *rec, struct ferry_err *err);

/*
 * A duration of the keys commands (--expires, --overlap): digits and a
 * unit, s, m, h or d ("90s", "15m", "12h", "30d"), from 1 s to 36500 days.
 * *secs set on success; FERRY_EINVAL otherwise.
 */
int fy_key_duration(const char *s, int64_t *secs);

/*
 * True at most once a minute per key id in this process: whether to log
 * again that a client presented the key's previous secret. Thread-safe.
 */
bool fy_key_warn_due(const char *id, int64_t now_s);

#endif
