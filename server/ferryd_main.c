/* SPDX-License-Identifier: MIT */
/*
 * ferryd: the ingestion server. Parses global settings (command line, then
 * environment, then an optional JSON config file, then defaults), installs
 * logging and dispatches to serve / migrate / keys.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/ferry.h"
#include "http/route.h"
#include "server/alert.h"
#include "server/health.h"

#include "ferryd.h"

static const char usage[] =
    "usage: ferryd [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve     run the HTTP server\n"
    "  migrate   create or upgrade the contract's tables in the store\n"
    "  keys      create | list | revoke | rotate API keys\n"
    "  routes    list every endpoint and what it needs\n"
    "  backup    copy the SQLite store to a file while serving\n"
    "  restore   replace the stopped SQLite store with a backup\n"
    "  expire-cursors  make every pull cursor handed out so far expire\n"
    "\n"
    "options:\n"
    "  --store URL      sqlite:PATH (default sqlite:ferry.db) or\n"
    "                   postgresql://...; or $FERRYD_STORE\n"
    "  --contract FILE  table contract (default contract.json)\n"
    "  --config FILE    JSON settings: store, contract, listen,\n"
    "                   max_body, max_inflight, pool, aliases,\n"
    "                   tombstone_retention, blob_max_bytes,\n"
    "                   blob_upload_ttl, service_name, instance_name,\n"
    "                   history_retention, maintenance_interval,\n"
    "                   compat_views_prefix, compat_views_schema,\n"
    "                   contract_versions, metrics_auth,\n"
    "                   metrics_devices, tls_cert, tls_key,\n"
    "                   expect, alert_url, alert_interval,\n"
    "                   dashboard_idle_timeout, dashboard_session_max,\n"
    "                   dashboard_secure_cookie\n"
    "  -v, --verbose    debug log lines\n"
    "  -q, --quiet      errors only\n"
    "  -h, --help       this text\n"
    "  -V, --version    print the version\n";

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

static void log_stderr(int level, const char *comp, const char *line, void *ud)
{
    (void)ud;
    fprintf(stderr, "ferryd: %s: %s: %s\n", level_names[level], comp, line);
}

int ferryd_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return FERRYD_OK;
    case FERRY_EINVAL:
        return FERRYD_USAGE;
    case FERRY_ECONFIG:
    case FERRY_ESCHEMA:
        return FERRYD_CONFIG;
    case FERRY_EUNAVAIL:
        return FERRYD_UNAVAILABLE;
    default:
        return FERRYD_ERROR;
    }
}

/*
 * One setting of the file: a string, or an integer in [lo, hi]. Anything
 * else in the file is an error (exit 3) naming the key: a mistyped or out
 * of range value must not be replaced silently by a default.
 */
struct file_setting {
    const char *key;
    const char **str;
    size_t *size;
    unsigned *uns;
    json_int_t lo, hi;
};

static int take_setting(const char *path, const char *key, json_t *v,
                        const struct file_setting *f)
{
    if (f->str) {
        if (!json_is_string(v))
            goto bad;
        if (!*f->str)
            *f->str = json_string_value(v);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < f->lo ||
        json_integer_value(v) > f->hi)
        goto bad;
    if (f->size && !*f->size)
        *f->size = (size_t)json_integer_value(v);
    if (f->uns && !*f->uns)
        *f->uns = (unsigned)json_integer_value(v);
    return 0;
bad:
    if (f->str)
        fprintf(stderr, "ferryd: config '%s': \"%s\" must be a string\n", path,
                key);
    else
        fprintf(stderr,
                "ferryd: config '%s': \"%s\" must be an integer from %lld"
                " to %lld\n",
                path, key, (long long)f->lo, (long long)f->hi);
    return FERRYD_CONFIG;
}

static int bad_alias(const char *path, size_t i, const char *why)
{
    fprintf(stderr, "ferryd: config '%s': \"aliases\"[%zu]: %s\n", path, i,
            why);
    return FERRYD_CONFIG;
}

/* One member of an alias object: a string, or absent when optional. */
static int alias_field(json_t *o, const char *name, bool optional,
                       const char **out)
{
    json_t *v = json_object_get(o, name);

    *out = json_string_value(v);
    return (*out || (optional && !v)) ? 0 : -1;
}

/* "params": {"name": "value", ...}: the route's path parameters. */
static int take_params(const char *path, size_t i, json_t *v,
                       struct ferryd_alias *a)
{
    const char *name;
    json_t *m;

    if (!v)
        return 0;
    if (!json_is_object(v) || json_object_size(v) > FERRYD_MAX_ALIAS_PARAMS)
        return bad_alias(path, i,
                         "\"params\" must be an object of at most 4 strings");
    json_object_foreach(v, name, m)
    {
        if (!json_is_string(m))
            return bad_alias(path, i, "each of \"params\" must be a string");
        a->params[a->nparams++] =
            (struct fy_http_alias_param){name, json_string_value(m)};
    }
    return 0;
}

/*
 * "aliases": [{"method", "path", "route", "auth_header"?, "region_header"?,
 * "params"?}, ...]. Only the shape is checked here; whether the route exists
 * and the names are valid is checked by building the router (ferryd_router).
 */
static int take_aliases(const char *path, json_t *v, struct ferryd_settings *s)
{
    static const char *const fields[] = {
        "method", "path", "route", "auth_header", "region_header", "params"};
    const size_t nfields = sizeof(fields) / sizeof(fields[0]);
    size_t i;
    json_t *o;

    if (!json_is_array(v))
        return bad_alias(path, 0, "\"aliases\" must be an array of objects");
    if (json_array_size(v) > FERRYD_MAX_ALIASES)
        return bad_alias(path, FERRYD_MAX_ALIASES, "too many aliases");
    json_array_foreach(v, i, o)
    {
        struct ferryd_alias *a = &s->aliases[i];
        const char *key;
        json_t *m;

        if (!json_is_object(o))
            return bad_alias(path, i, "must be an object");
        json_object_foreach(o, key, m)
        {
            size_t k = 0;

            while (k < nfields && strcmp(key, fields[k]) != 0)
                k++;
            if (k == nfields)
                return bad_alias(path, i,
                                 "unknown member (method, path, route,"
                                 " auth_header, region_header, params)");
        }
        if (alias_field(o, "method", false, &a->method) < 0 ||
            alias_field(o, "path", false, &a->path) < 0 ||
            alias_field(o, "route", false, &a->route) < 0 ||
            alias_field(o, "auth_header", true, &a->auth_header) < 0 ||
            alias_field(o, "region_header", true, &a->region_header) < 0)
            return bad_alias(path, i,
                             "method, path and route must be strings,"
                             " auth_header and region_header strings if"
                             " given");
        if (take_params(path, i, json_object_get(o, "params"), a) != 0)
            return FERRYD_CONFIG;
    }
    s->naliases = json_array_size(v);
    return 0;
}

/* "contract_versions": {"min": N, "max": M}, each optional, N <= M. */
static int take_versions(const char *path, json_t *v, struct ferryd_settings *s)
{
    json_t *lo = json_object_get(v, "min"), *hi = json_object_get(v, "max");
    const char *k;
    json_t *x;

    json_object_foreach(v, k, x)
    {
        if ((strcmp(k, "min") != 0 && strcmp(k, "max") != 0) ||
            !json_is_integer(x) || json_integer_value(x) < 1 ||
            json_integer_value(x) > 1000000000)
            goto bad;
    }
    if (!json_is_object(v) ||
        (lo && hi && json_integer_value(lo) > json_integer_value(hi)))
        goto bad;
    if (lo)
        s->contract_min = (long)json_integer_value(lo);
    if (hi)
        s->contract_max = (long)json_integer_value(hi);
    return 0;
bad:
    fprintf(stderr,
            "ferryd: config '%s': \"contract_versions\" must be an object"
            " {\"min\": N, \"max\": M} of integers from 1 to 1000000000,"
            " min <= max\n",
            path);
    return FERRYD_CONFIG;
}

/* "expect": checked here, so that every command refuses a bad one. */
static int take_expect(const char *path, json_t *v, struct ferryd_settings *s)
{
    struct ferry_err err = {0};
    struct fy_health_expect *e = NULL;

    if (fy_health_expect_parse(v, &e, &err) < 0) {
        fprintf(stderr, "ferryd: config '%s': %s\n", path, err.msg);
        return FERRYD_CONFIG;
    }
    fy_health_expect_free(e);
    s->expect = v;
    return 0;
}

static int check_alert_url(const char *path, const struct ferryd_settings *s)
{
    const char *why = NULL;

    if (s->alert_url && !fy_alert_url_ok(s->alert_url))
        why = "must be an http:// or https:// URL of at most 1024 printable"
              " characters";
    else if (s->alert_url && !s->expect)
        why = "needs \"expect\": the checks whose transitions it is sent";
    if (!why)
        return 0;
    fprintf(stderr, "ferryd: config '%s': \"alert_url\" %s\n", path, why);
    return FERRYD_CONFIG;
}

/* Settings file values fill what the command line left unset. */
static int load_config_file(const char *path, struct ferryd_settings *s,
                            json_t **keep)
{
    const struct file_setting known[] = {
        {"store", &s->store, NULL, NULL, 0, 0},
        {"contract", &s->contract, NULL, NULL, 0, 0},
        {"listen", &s->listen, NULL, NULL, 0, 0},
        {"service_name", &s->service_name, NULL, NULL, 0, 0},
        {"instance_name", &s->instance_name, NULL, NULL, 0, 0},
        {"compat_views_prefix", &s->compat_views_prefix, NULL, NULL, 0, 0},
        {"compat_views_schema", &s->compat_views_schema, NULL, NULL, 0, 0},
        {"metrics_auth", &s->metrics_auth, NULL, NULL, 0, 0},
        /* devices GET /metrics lists; 0: none (each is two series) */
        {"metrics_devices", NULL, &s->metrics_devices, NULL, 0, 1000000},
        {"tls_cert", &s->tls_cert, NULL, NULL, 0, 0},
        {"tls_key", &s->tls_key, NULL, NULL, 0, 0},
        {"alert_url", &s->alert_url, NULL, NULL, 0, 0},
        /* seconds between judgements of the checks: one (tests) to an hour */
        {"alert_interval", NULL, &s->alert_interval_s, NULL, 1, 3600},
        {"max_body", NULL, &s->max_body, NULL, 1024, 1L << 30},
        {"max_inflight", NULL, &s->max_inflight, NULL, 1024, 1LL << 40},
        {"pool", NULL, NULL, &s->pool, 1, 256},
        /* seconds: one second (tests) to ten years */
        {"tombstone_retention", NULL, &s->tombstone_retention_s, NULL, 1,
         10LL * 366 * 86400},
        /* bytes per blob: up to 1 TiB; seconds: one (tests) to a year */
        {"blob_max_bytes", NULL, &s->blob_max_bytes, NULL, 1, 1LL << 40},
        {"blob_upload_ttl", NULL, &s->blob_upload_ttl_s, NULL, 1, 366 * 86400},
        /* seconds: one (tests) to ten years; one to a day */
        {"history_retention", NULL, &s->history_retention_s, NULL, 1,
         10LL * 366 * 86400},
        {"maintenance_interval", NULL, &s->maintenance_interval_s, NULL, 1,
         86400},
        /* seconds: one (tests) to a week */
        {"dashboard_idle_timeout", NULL, &s->dash_idle_s, NULL, 1, 7 * 86400},
        {"dashboard_session_max", NULL, &s->dash_max_s, NULL, 1, 7 * 86400},
        {"dashboard_secure_cookie", NULL, &s->dash_secure, NULL, 0, 1},
        /* connections (docs/configuration.md#connections) */
        {"max_connections", NULL, &s->max_connections, NULL, 1, 100000},
        {"max_connections_per_ip", NULL, &s->max_connections_per_ip, NULL, 1,
         100000},
        /* seconds: a request's head; a connection without a byte */
        {"request_timeout", NULL, &s->request_timeout_s, NULL, 1, 3600},
        {"connection_timeout", NULL, &s->connection_timeout_s, NULL, 1, 86400},
    };
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *v;
    int rc = 0;

    if (!json_is_object(root)) {
        fprintf(stderr, "ferryd: config '%s': %s\n", path,
                root ? "must be an object" : jerr.text);
        json_decref(root);
        return FERRYD_CONFIG;
    }
    json_object_foreach(root, key, v)
    {
        size_t i = 0;

        while (i < (sizeof(known) / sizeof(known[0])) &&
               strcmp(key, known[i].key) != 0)
            i++;
        if (strcmp(key, "aliases") == 0) {
            rc = take_aliases(path, v, s);
        } else if (strcmp(key, "contract_versions") == 0) {
            rc = take_versions(path, v, s);
        } else if (strcmp(key, "expect") == 0) {
            rc = take_expect(path, v, s);
        } else if (strcmp(key, "rate_limit") == 0) {
            rc = ferryd_take_rate_limit(path, v, s);
        } else if (i == (sizeof(known) / sizeof(known[0]))) {
            fprintf(stderr, "ferryd: config '%s': unknown setting \"%s\"\n",
                    path, key);
            rc = FERRYD_CONFIG;
        } else if (take_setting(path, key, v, &known[i]) != 0) {
            rc = FERRYD_CONFIG;
        }
        if (rc)
            break;
    }
    if (rc == 0 && s->metrics_auth && strcmp(s->metrics_auth, "none") != 0 &&
        strcmp(s->metrics_auth, "admin") != 0) {
        fprintf(stderr,
                "ferryd: config '%s': \"metrics_auth\" must be \"none\" or"
                " \"admin\"\n",
                path);
        rc = FERRYD_CONFIG;
    }
    s->metrics_devices_set = json_object_get(root, "metrics_devices") != NULL;
    if (rc == 0)
        rc = check_alert_url(path, s);
    if (rc) {
        json_decref(root);
        return rc;
    }
    *keep = root; /* strings above are borrowed from it */
    return 0;
}

/* Every command refuses a settings file with a bad alias, not only serve. */
static int check_aliases(const char *path, const struct ferryd_settings *s)
{
    struct ferry_err err = {0};
    struct fy_http_router *r = NULL;

    if (ferryd_router(s, &r, &err) < 0) {
        fprintf(stderr, "ferryd: config '%s': %s\n", path, err.msg);
        return ferryd_exit_code(err.code);
    }
    fy_http_router_free(r);
    return 0;
}

/*
 * The settings options may also follow the command (`ferryd serve --store
 * URL`, as SPEC §7 sketches it): take them out of the command's arguments.
 * Returns -1 when one lacks its value.
 */
static int pull_settings(int *argc, char **argv, struct ferryd_settings *s,
                         const char **config)
{
    static const char *const names[] = {"--store", "--contract", "--config"};
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        size_t k = 0;
        const char *val = NULL;

        for (; k < 3; k++) {
            size_t n = strlen(names[k]);

            if (strcmp(argv[i], names[k]) == 0) {
                if (i + 1 >= *argc)
                    return -1;
                val = argv[++i];
                break;
            }
            if (strncmp(argv[i], names[k], n) == 0 && argv[i][n] == '=') {
                val = argv[i] + n + 1;
                break;
            }
        }
        if (!val) {
            argv[out++] = argv[i];
            continue;
        }
        *(k == 0 ? &s->store : k == 1 ? &s->contract : config) = val;
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(struct ferryd_settings *, int, char **);
} commands[] = {
    {"serve", ferryd_serve},
    {"migrate", ferryd_migrate},
    {"keys", ferryd_keys},
    {"routes", ferryd_routes},
    /* ferryd_backup.c: docs/backups.md */
    {"backup", ferryd_backup},
    {"restore", ferryd_restore},
    {"expire-cursors", ferryd_expire_cursors},
};

static int dispatch(struct ferryd_settings *s, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            optind = 0;
            return commands[i].fn(s, argc, argv);
        }
    }
    fprintf(stderr, "ferryd: unknown command '%s'\n%s", argv[0], usage);
    return FERRYD_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, 's'},
        {"contract", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    struct ferryd_settings s = {.rate = {.concurrent = FERRYD_KEY_CONCURRENT}};
    const char *config = NULL;
    json_t *file = NULL;
    int c, level = FERRY_LOG_INFO, rc;

    while ((c = getopt_long(argc, argv, "+vqhV", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            s.store = optarg;
            break;
        case 'k':
            s.contract = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'v':
            level = FERRY_LOG_DEBUG;
            break;
        case 'q':
            level = FERRY_LOG_ERROR;
            break;
        case 'h':
            fputs(usage, stdout);
            return FERRYD_OK;
        case 'V':
            printf("ferryd %s\n", ferry_version());
            return FERRYD_OK;
        default:
            fputs(usage, stderr);
            return FERRYD_USAGE;
        }
    }
    if (optind < argc) {
        int n = argc - optind;

        if (pull_settings(&n, argv + optind, &s, &config) < 0) {
            fputs(usage, stderr);
            return FERRYD_USAGE;
        }
        argc = optind + n;
    }
    if (!s.store)
        s.store = getenv("FERRYD_STORE");
    if (config && (rc = load_config_file(config, &s, &file)) != 0)
        return rc;
    if (s.naliases && (rc = check_aliases(config, &s)) != 0) {
        json_decref(file);
        return rc;
    }
    if (!s.store)
        s.store = "sqlite:ferry.db";
    if (!s.contract)
        s.contract = "contract.json";
    ferry_set_log_fn(log_stderr, NULL, level, getenv("FERRYD_LOG"));
    if (optind >= argc) {
        fputs(usage, stderr);
        json_decref(file);
        return FERRYD_USAGE;
    }
    rc = dispatch(&s, argc - optind, argv + optind);
    json_decref(file);
    return rc;
}
