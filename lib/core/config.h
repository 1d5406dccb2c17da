/* SPDX-License-Identifier: MIT */
/*
 * The agent's config.json. Its "ingestion" section is the one the seed 000
 * agent already has (base_url, auth_header, auth_env, batch_size, either
 * flat or under "api"), so an existing config works as it is; ferry's own
 * settings sit under "ferry". Secrets are never read from the file: the key
 * comes from the environment variable auth_env names.
 */
#ifndef FY_CONFIG_H
#define FY_CONFIG_H

#include <stdbool.h>

#include "ferry/ferry_err.h"

struct fy_agent_config {
    char *path;        /* the file itself */
    char *database;    /* SQLite file, resolved against the file's folder */
    char *device;      /* device name, must match the key's device */
    char *base_url;    /* e.g. http://127.0.0.1:8080 */
    char *auth_header; /* default X-Api-Key */
    char *auth_env;    /* default FERRY_API_KEY */
    int batch_size;    /* 1..10000, default 500 */
    bool compress;     /* gzip request bodies, default true */
    int timeout_s;     /* per request, default 30 */
};

#define FY_BATCH_MAX 10000

/* Loads and validates path into cfg (release with fy_agent_config_release). */
int fy_agent_config_load(const char *path, struct fy_agent_config *cfg,
                         struct ferry_err *err);
void fy_agent_config_release(struct fy_agent_config *cfg);

/*
 * Writes a new config file (refuses to overwrite unless force) with the
 * given settings; other fields get their defaults.
 */
int fy_agent_config_write(const char *path, const char *database,
                          const char *device, const char *base_url,
                          const char *auth_env, int batch_size, bool force,
                          struct ferry_err *err);

#endif
