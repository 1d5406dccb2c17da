/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the ferryd command: settings and the command table.
 */
#ifndef FERRYD_H
#define FERRYD_H

#include <stdbool.h>
#include <stddef.h>

enum ferryd_exit {
    FERRYD_OK = 0,
    FERRYD_ERROR = 1,
    FERRYD_USAGE = 2,
    FERRYD_CONFIG = 3,
    FERRYD_UNAVAILABLE = 5 /* store unreachable */
};

#include "http/route.h"
#include "server/admit.h"

#define FERRYD_MAX_ALIAS_PARAMS FY_ROUTE_MAX_PARAMS

/*
 * An extra method and path for one of ferryd's routes, from the settings
 * file's "aliases" (strings borrowed from the parsed file).
 */
struct ferryd_alias {
    const char *method;
    const char *path;
    const char *route;         /* "METHOD PATH" of a route in docs/api.md */
    const char *auth_header;   /* NULL: X-Api-Key or Authorization: Bearer */
    const char *region_header; /* NULL: none; else required, the key's region */
    /* The route's path parameters, fixed ("params": {"table": "reports"}) */
    struct fy_http_alias_param params[FERRYD_MAX_ALIAS_PARAMS];
    size_t nparams;
};

#define FERRYD_MAX_ALIASES 32
/* Keys with limits of their own in "rate_limit" */
#define FERRYD_MAX_RATE_KEYS 256
/*
 * Requests of one key in flight at once by default: an agent makes one at
 * a time (two with --watch's long poll); a flood is refused before it
 * ties up threads and store connections that other devices need.
 */
#define FERRYD_KEY_CONCURRENT 16
/* Seconds a request's head may take to arrive (a slow-client defence). */
#define FERRYD_REQUEST_TIMEOUT_S 30

/* How long deletes stay pullable by default: 30 days. */
#define FERRYD_TOMBSTONE_RETENTION_S (30L * 86400)
/* How long run history is kept by default: 30 days. */
#define FERRYD_HISTORY_RETENTION_S (30L * 86400)
/* How many devices GET /metrics lists by default (two series each). */
#define FERRYD_METRICS_DEVICES 1000
/* How often the alert thread judges the checks by default. */
#define FERRYD_ALERT_INTERVAL_S 30
/* How often ferryd abandons expired leases and prunes history. */
#define FERRYD_MAINTENANCE_INTERVAL_S 60L

struct ferryd_settings {
    const char *store;    /* URL */
    const char *contract; /* path */
    const char *listen;
    size_t max_body;
    size_t max_inflight; /* bytes of all request bodies at once */
    unsigned pool;
    size_t tombstone_retention_s;  /* 0: the default, 30 days */
    size_t blob_max_bytes;         /* 0: the default, 100 MiB */
    size_t blob_upload_ttl_s;      /* 0: the default, a day */
    const char *service_name;      /* /health's "service"; NULL: "ferryd" */
    size_t history_retention_s;    /* 0: the default, 30 days */
    size_t maintenance_interval_s; /* 0: the default, 60 s */
    size_t dash_idle_s;            /* 0: the default, 30 min */
    size_t dash_max_s;             /* 0: the default, 12 h */
    size_t dash_secure;            /* 1: the session cookie is Secure */
    const char *instance_name;     /* runs' "server"; NULL: HOST/PID */
    /* ferryd migrate: views with the form-sync service's table names */
    const char *compat_views_prefix; /* NULL: none */
    const char *compat_views_schema; /* NULL: "public" (PostgreSQL) */
    struct ferryd_alias aliases[FERRYD_MAX_ALIASES];
    size_t naliases;
    /* Ferry-Contract versions serve accepts; 0: 1 and the served one */
    long contract_min, contract_max;
    /* GET /metrics: "none" (default) or "admin"; devices listed */
    const char *metrics_auth;
    size_t metrics_devices;
    bool metrics_devices_set; /* "metrics_devices": 0 leaves them out */
    /* https: PEM certificate (chain) and key files; NULL: plain http */
    const char *tls_cert;
    const char *tls_key;
    /* /health's checks and their alerts (lib/server/health.h, alert.h) */
    struct json_t *expect; /* borrowed from the file; NULL: none */
    const char *alert_url;
    size_t alert_interval_s; /* 0: FERRYD_ALERT_INTERVAL_S */
    /* "rate_limit": per-key limits (docs/configuration.md#rate-limits) */
    struct fy_admit_limits rate;
    struct fy_admit_override rate_keys[FERRYD_MAX_RATE_KEYS];
    size_t nrate_keys;
    /* connections: at once, from one address, a request head's seconds */
    size_t max_connections, max_connections_per_ip, request_timeout_s;
    size_t connection_timeout_s; /* idle */
};

struct fy_http_router;
struct ferry_err;

/*
 * ferryd's router with the settings' aliases; FERRY_ECONFIG naming the
 * first bad alias. *out returned owned (fy_http_router_free).
 */
int ferryd_router(const struct ferryd_settings *s, struct fy_http_router **out,
                  struct ferry_err *err);

int ferryd_serve(struct ferryd_settings *s, int argc, char **argv);
int ferryd_migrate(struct ferryd_settings *s, int argc, char **argv);
int ferryd_keys(struct ferryd_settings *s, int argc, char **argv);
int ferryd_routes(struct ferryd_settings *s, int argc, char **argv);
/* ferryd_backup.c */
int ferryd_backup(struct ferryd_settings *s, int argc, char **argv);
int ferryd_restore(struct ferryd_settings *s, int argc, char **argv);
int ferryd_expire_cursors(struct ferryd_settings *s, int argc, char **argv);
int ferryd_exit_code(int rc);
/* ferryd_limits.c: the settings' "rate_limit" into s (FERRYD_CONFIG) */
struct json_t;
int ferryd_take_rate_limit(const char *path, struct json_t *v,
                           struct ferryd_settings *s);

#endif
