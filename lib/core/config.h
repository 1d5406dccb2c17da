/* SPDX-License-Identifier: MIT */
/*
 * The agent's config.json. Its "ingestion" section is the one the seed 000
 * agent already has (base_url, auth_header, auth_env, batch_size, either
 * flat or under "api"), so an existing config works as it is; ferry's own
 * settings sit under "ferry". Secrets are never read from the file: the key
 * comes from the environment variable auth_env names. "ferry.files"
 * declares the tracked tables whose rows name a local file the agent
 * uploads before the row (lib/agent/blob.h).
 */
#ifndef FY_CONFIG_H
#define FY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/ferry_err.h"

/*
 * One "files" entry: rows of table name a local file in path_column; the
 * agent uploads the file and sends its SHA-256 (lower-case hex) in
 * blob_column, which the app's table need not have.
 */
struct fy_file_decl {
    char *table; /* a tracked table, matched without case */
    char *path_column;
    char *blob_column;
};

struct fy_agent_config {
    char *path;        /* the file itself */
    char *database;    /* SQLite file, resolved against the file's folder */
    char *device;      /* device name, must match the key's device */
    char *base_url;    /* e.g. http://127.0.0.1:8080 */
    char *auth_header; /* default X-Api-Key */
    char *auth_env;    /* default FERRY_API_KEY */
    int batch_size;    /* 1..10000, default 500 */
    /*
     * gzip request bodies: "ferry.compress" when given (compress_set),
     * else true unless base_url is loopback (fy_url_is_loopback).
     */
    bool compress;
    bool compress_set;
    int timeout_s; /* per request, default 30 */
    /*
     * "ferry.contract_version": the contract version the app was built
     * against, sent as Ferry-Contract on every request; 0 (not set): not
     * sent, and ferryd does not check.
     */
    int contract_version;
    /*
     * "ferry.ca_file": PEM CA certificates an https server's certificate
     * is verified against (resolved against the file's folder); NULL: the
     * system's CA store.
     */
    char *ca_file;
    struct fy_file_decl *files; /* "ferry.files", nfiles of them */
    size_t nfiles;
};

#define FY_BATCH_MAX 10000

/* Loads and validates path into cfg (release with fy_agent_config_release). */
int fy_agent_config_load(const char *path, struct fy_agent_config *cfg,
                         struct ferry_err *err);

enum fy_config_flags {
    /*
     * Only the "ingestion" section is required: ferry.database and
     * ferry.device may be absent (a job machine that runs `ferry job run`
     * has no app database to sync). When present they are checked and
     * resolved as usual.
     */
    FY_CONFIG_NETWORK_ONLY = (1 << 0)
};

/* fy_agent_config_load with flags (enum fy_config_flags). */
int fy_agent_config_load_flags(const char *path, unsigned flags,
                               struct fy_agent_config *cfg,
                               struct ferry_err *err);
void fy_agent_config_release(struct fy_agent_config *cfg);

/* The files declaration of table (any case), or NULL; borrowed from cfg. */
const struct fy_file_decl *
fy_agent_config_file(const struct fy_agent_config *cfg, const char *table);

/*
 * What `ferry init` puts into a config file. database and device are
 * required; the others are NULL / 0 to keep what the file has (or the
 * default in a new file).
 */
struct fy_agent_init {
    const char *database; /* absolute path of the app database */
    const char *device;
    const char *base_url;
    const char *auth_env;
    int batch_size;
    bool force; /* may change an existing ferry section's database/device */
};

/*
 * Merges in into the config file at path (which may not exist yet): only
 * the "ferry" section and the ingestion values given change; every other
 * section, key and key order stay. The result is validated like
 * fy_agent_config_load before anything is written. *text is the new
 * content and *old the file's previous bytes (NULL when there was no
 * file); both returned owned (fy_free).
 */
int fy_agent_config_merge(const char *path, const struct fy_agent_init *in,
                          char **text, char **old, struct ferry_err *err);

/*
 * Replaces path's content with text atomically (temp file in the same
 * folder, fsync, rename, fsync of the folder), keeping the file's mode. A
 * symlink is followed: its target is replaced. text NULL removes the file.
 */
int fy_agent_config_replace(const char *path, const char *text,
                            struct ferry_err *err);

/* True for a usable environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool fy_env_name_valid(const char *s);
/* True for an HTTP header name (an RFC 9110 token), at most 128 bytes. */
bool fy_http_token_valid(const char *s);

/*
 * True when url's host is loopback: localhost, 127.0.0.0/8, ::1 (or
 * ::ffff:127.x.y.z). Names are not resolved: another name for this host
 * is not loopback here.
 */
bool fy_url_is_loopback(const char *url);

#endif
