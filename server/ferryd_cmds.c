/* SPDX-License-Identifier: MIT */
/*
 * ferryd commands: serve, migrate, keys. Thin: options, objects, the loop,
 * exit codes; the work is in libferry.
 */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/contract.h"
#include "http/server.h"
#include "http/tls.h"
#include "server/alert.h"
#include "server/api.h"
#include "server/dash.h"
#include "server/maint.h"
#include "server/metrics.h"
#include "server/notify.h"
#include "server/keys.h"
#include "store/pool.h"
#include "fy.h"

#include "ferryd.h"

static int fail(const struct ferry_err *err)
{
    fprintf(stderr, "ferryd: %s\n",
            err->msg[0] ? err->msg : ferry_strerror(err->code));
    return ferryd_exit_code(err->code);
}

int ferryd_router(const struct ferryd_settings *s, struct fy_http_router **out,
                  struct ferry_err *err)
{
    int rc = fy_api_router_new(out, err);

    for (size_t i = 0; rc == 0 && i < s->naliases; i++) {
        const struct ferryd_alias *a = &s->aliases[i];

        rc = fy_http_router_alias_with(*out, a->method, a->path, a->route,
                                       a->auth_header, a->params, a->nparams,
                                       err);
        if (rc == 0 && a->region_header)
            rc = fy_http_router_alias_region(*out, a->method, a->path,
                                             a->region_header, err);
    }
    if (rc < 0) {
        fy_http_router_free(*out);
        *out = NULL;
    }
    return rc;
}

static int parse_size(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- migrate ---------------------------------------------------------- */

static const char migrate_usage[] =
    "usage: ferryd [--store URL] [--contract FILE] migrate [--dry-run]\n"
    "                             [--allow-drop] [--allow-retype]\n"
    "--dry-run prints the statements migrate would run and changes nothing;\n"
    "--allow-drop drops columns the new contract lacks, --allow-retype\n"
    "converts columns whose type changed (never key columns).\n";

struct migrate_out {
    long n;
    bool print;
};

static void print_statement(const char *sql, void *ud)
{
    struct migrate_out *m = ud;
    const char *p = sql;

    while (*p == ' ' || *p == '\n')
        p++;
    if (!*p)
        return;
    m->n++;
    if (m->print)
        printf("%s;\n", p);
}

static int parse_migrate(int argc, char **argv, struct fy_migrate_opts *o)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"allow-drop", no_argument, NULL, 'd'},
        {"allow-retype", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->dry_run = true;
            break;
        case 'd':
            o->allow_drop = true;
            break;
        case 'r':
            o->allow_retype = true;
            break;
        case 'h':
            fputs(migrate_usage, stdout);
            return -1;
        default:
            return fputs(migrate_usage, stderr), FERRYD_USAGE;
        }
    }
    return optind < argc ? (fputs(migrate_usage, stderr), FERRYD_USAGE) : 0;
}

/*
 * A dry run must not create a SQLite file: a store that does not exist yet
 * is planned in memory, where migrate runs the same statements.
 */
static int open_for_migrate(const char *url, bool dry_run,
                            struct fy_store **out, struct ferry_err *err)
{
    int rc;

    if (!dry_run)
        return fy_store_open(url, out, err);
    rc = fy_store_open_existing(url, out, err);
    if (rc == FERRY_ESCHEMA) {
        printf("-- the store does not exist yet; migrate creates it:\n");
        fy_err_clear(err);
        rc = fy_store_open("sqlite::memory:", out, err);
    }
    return rc;
}

static void migrate_said(const struct ferryd_settings *s,
                         const struct fy_contract *c,
                         const struct fy_migrate_opts *o,
                         const struct migrate_out *m, long before,
                         const char *sum)
{
    char *shown = fy_store_redact(s->store);

    if (!o->dry_run)
        printf("migrated contract version %ld (%zu tables, checksum %.12s)"
               " on %s\n",
               c->version, c->ntables, c->checksum, shown ? shown : "store");
    else if (m->n == 0 && before == c->version && strcmp(sum, c->checksum) == 0)
        printf("nothing to do: the store is at contract version %ld\n",
               c->version);
    else
        printf("-- dry run: %ld statement%s; migrate would record contract"
               " version %ld (the store is at %ld); nothing was changed\n",
               m->n, m->n == 1 ? "" : "s", c->version, before);
    fy_free(shown);
}

int ferryd_migrate(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_contract *c = NULL;
    struct fy_store *st = NULL;
    struct fy_migrate_opts o = {0};
    struct migrate_out m = {0};
    char sum[65] = "";
    long before = 0;
    int rc = parse_migrate(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? FERRYD_OK : rc;
    m.print = o.dry_run;
    o.statement = print_statement;
    o.ud = &m;
    /* A bad view name is a mistake in the settings: refused before any write.
     */
    if (s->compat_views_prefix &&
        fy_store_compat_names(s->compat_views_prefix, s->compat_views_schema,
                              &err) < 0) {
        err.code = FERRY_ECONFIG;
        return fail(&err);
    }
    rc = fy_contract_load(s->contract, &c, &err);
    if (rc == 0)
        rc = open_for_migrate(s->store, o.dry_run, &st, &err);
    if (rc == 0)
        rc = fy_store_schema_version(st, &before, sum, &err);
    if (rc == 0)
        rc = fy_store_migrate_with(st, c, &o, &err);
    if (rc == 0)
        migrate_said(s, c, &o, &m, before, sum);
    if (rc == 0 && s->compat_views_prefix && !o.dry_run) {
        rc = fy_store_compat_views(st, s->compat_views_prefix,
                                   s->compat_views_schema, &err);
        if (rc == 0)
            printf("compatibility views %ssync_status and %ssync_history"
                   " created or replaced\n",
                   s->compat_views_prefix, s->compat_views_prefix);
    }
    fy_store_close(st);
    fy_contract_free(c);
    return rc < 0 ? fail(&err) : FERRYD_OK;
}

/* ---- keys ------------------------------------------------------------- */

static const char keys_usage[] =
    "usage: ferryd keys create --device NAME [--region R] [--admin]\n"
    "                          [--expires DURATION | --expires-days N]\n"
    "       ferryd keys list [--json]\n"
    "       ferryd keys revoke ID\n"
    "       ferryd keys rotate ID [--overlap DURATION]\n"
    "DURATION: digits and s, m, h or d (90s, 15m, 12h, 30d). rotate prints\n"
    "a new secret for the same key id; the old one is still accepted for\n"
    "the overlap (default 24h; 0s: refused at once).\n";

static int keys_create(struct fy_store *st, int argc, char **argv)
{
    static const struct option opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"admin", no_argument, NULL, 'a'},
        {"expires-days", required_argument, NULL, 'e'},
        {"expires", required_argument, NULL, 'x'},
        {NULL, 0, NULL, 0}};
    const char *device = NULL, *region = NULL;
    struct ferry_err err = {0};
    struct fy_key rec;
    char key[FY_KEY_LEN + 1];
    long days = 0;
    int64_t secs = 0;
    int c, admin = 0, rc;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            device = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'a':
            admin = 1;
            break;
        case 'e':
            if (parse_size(optarg, 1, 36500, &days) < 0)
                return fputs(keys_usage, stderr), FERRYD_USAGE;
            secs = days * 86400;
            break;
        case 'x':
            if (fy_key_duration(optarg, &secs) < 0)
                return fputs(keys_usage, stderr), FERRYD_USAGE;
            break;
        default:
            return fputs(keys_usage, stderr), FERRYD_USAGE;
        }
    }
    if (!device || optind < argc)
        return fputs(keys_usage, stderr), FERRYD_USAGE;
    rc = fy_key_generate(device, region, admin, &rec, key, &err);
    if (rc < 0)
        return fail(&err);
    rec.expires_at = secs ? (int64_t)time(NULL) + secs : 0;
    rc = fy_store_key_put(st, &rec, &err);
    if (rc == 0) {
        printf("%s\n", key);
        fprintf(stderr,
                "ferryd: created key id=%s device=%s%s%s%s; it is shown only"
                " once\n",
                rec.id, device, region ? " region=" : "", region ? region : "",
                admin ? " admin" : "");
    }
    fy_key_release(&rec);
    return rc < 0 ? fail(&err) : FERRYD_OK;
}

static const char *key_state(const struct fy_key *k)
{
    if (k->revoked_at)
        return "revoked";
    if (k->expires_at && k->expires_at <= (int64_t)time(NULL))
        return "expired";
    return "active";
}

static int print_key(const struct fy_key *k, void *ud)
{
    char created[FY_TIME_STRLEN + 1], used[FY_TIME_STRLEN + 1],
        expires[FY_TIME_STRLEN + 1];
    json_t *arr = ud;

    if (arr)
        return json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s?, s:b, s:s, s:I, s:I, s:I, s:I, s:I}",
                      "id", k->id, "device", k->device, "region", k->region,
                      "admin", k->admin, "state", key_state(k), "created_at",
                      (json_int_t)k->created_at, "expires_at",
                      (json_int_t)k->expires_at, "revoked_at",
                      (json_int_t)k->revoked_at, "last_used_at",
                      (json_int_t)k->last_used_at, "previous_secret_until",
                      (json_int_t)k->prev_until));
    printf("%-16s  %-20s  %-12s  %-5s  %-7s  %-24s  %-24s  %s\n", k->id,
           k->device, k->region ? k->region : "-", k->admin ? "admin" : "-",
           key_state(k), fy_local_time(k->created_at, created),
           fy_local_time(k->last_used_at, used),
           fy_local_time(k->expires_at, expires));
    return 0;
}

static int keys_list(struct fy_store *st, int argc, char **argv)
{
    struct ferry_err err = {0};
    int as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    json_t *arr = as_json ? json_array() : NULL;
    int rc;

    if (argc > 1 && !as_json)
        return fputs(keys_usage, stderr), FERRYD_USAGE;
    if (!as_json)
        printf("%-16s  %-20s  %-12s  %-5s  %-7s  %-24s  %-24s  %s\n", "ID",
               "DEVICE", "REGION", "ROLE", "STATE", "CREATED", "LAST USED",
               "EXPIRES");
    rc = fy_store_key_list(st, print_key, arr, &err);
    if (rc == 0 && arr) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(arr);
    return rc < 0 ? fail(&err) : FERRYD_OK;
}

/* The id of a key named by its id or by its full text. */
static const char *key_id_arg(const char *arg, char id[FY_KEY_ID_LEN + 1])
{
    if (strncmp(arg, "fy_", 3) == 0)
        arg += 3; /* accept the full key as well as its id */
    snprintf(id, FY_KEY_ID_LEN + 1, "%s", arg);
    return id;
}

static int keys_revoke(struct fy_store *st, int argc, char **argv)
{
    struct ferry_err err = {0};
    char id[FY_KEY_ID_LEN + 1];
    int rc;

    if (argc != 2)
        return fputs(keys_usage, stderr), FERRYD_USAGE;
    key_id_arg(argv[1], id);
    rc = fy_store_key_revoke(st, id, &err);
    if (rc == 0)
        printf("revoked %s\n", id);
    return rc < 0 ? fail(&err) : FERRYD_OK;
}

static int parse_overlap(int argc, char **argv, int64_t *overlap)
{
    if (argc == 2)
        return 0;
    if (argc != 4 || strcmp(argv[2], "--overlap") != 0)
        return -1;
    if (strcmp(argv[3], "0s") == 0 || strcmp(argv[3], "0") == 0) {
        *overlap = 0;
        return 0;
    }
    return fy_key_duration(argv[3], overlap);
}

/*
 * The new secret on stdout, shown once. The key's dashboard sessions end:
 * whoever logged in with the old secret logs in again with the new one
 * (the dashboard never accepts a previous secret).
 */
static int keys_rotate(struct fy_store *st, int argc, char **argv)
{
    struct ferry_err err = {0};
    char id[FY_KEY_ID_LEN + 1], hash[65], key[FY_KEY_LEN + 1];
    char until[FY_TIME_STRLEN + 1];
    int64_t overlap = 86400;
    int rc;

    if (argc < 2 || parse_overlap(argc, argv, &overlap) < 0)
        return fputs(keys_usage, stderr), FERRYD_USAGE;
    key_id_arg(argv[1], id);
    rc = fy_key_new_secret(id, hash, key, &err);
    if (rc == 0)
        rc = fy_store_key_rotate(st, id, hash, overlap, &err);
    if (rc == 0)
        rc = fy_store_dash_session_end(st, NULL, id, &err);
    if (rc == 0) {
        printf("%s\n", key);
        fprintf(stderr,
                "ferryd: rotated key id=%s; the previous secret is accepted"
                " until %s; the new one is shown only once\n",
                id, fy_local_time((int64_t)time(NULL) + overlap, until));
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc < 0 ? fail(&err) : FERRYD_OK;
}

/*
 * Opens a store that 'ferryd migrate' has prepared: keys live in its tables,
 * so before migrate there is nothing to list or add to, and no SQLite file
 * may be created as a side effect.
 */
static int open_migrated(const char *url, struct fy_store **out,
                         struct ferry_err *err)
{
    struct fy_store *st = NULL;
    char sum[65];
    long version = 0;
    int rc = fy_store_open_existing(url, &st, err);

    if (rc == 0)
        rc = fy_store_schema_version(st, &version, sum, err);
    if (rc == 0 && version == 0)
        rc = fy_err_set(err, FERRY_ESCHEMA,
                        "the store has no ferry schema yet: run 'ferryd"
                        " migrate' first");
    if (rc < 0) {
        fy_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int ferryd_keys(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_store *st = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(keys_usage, stdout);
            return FERRYD_OK;
        }
    }
    if (argc < 2)
        return fputs(keys_usage, stderr), FERRYD_USAGE;
    if (open_migrated(s->store, &st, &err) < 0)
        return fail(&err);
    optind = 0;
    if (strcmp(argv[1], "create") == 0)
        rc = keys_create(st, argc - 1, argv + 1);
    else if (strcmp(argv[1], "list") == 0)
        rc = keys_list(st, argc - 1, argv + 1);
    else if (strcmp(argv[1], "revoke") == 0)
        rc = keys_revoke(st, argc - 1, argv + 1);
    else if (strcmp(argv[1], "rotate") == 0)
        rc = keys_rotate(st, argc - 1, argv + 1);
    else
        rc = (fputs(keys_usage, stderr), FERRYD_USAGE);
    fy_store_close(st);
    return rc;
}

/* ---- routes ----------------------------------------------------------- */

/*
 * Every endpoint with what it needs: for a proxy's allow list, and for the
 * auth matrix (scenario 370), which fails on a route it does not list.
 */
int ferryd_routes(struct ferryd_settings *s, int argc, char **argv)
{
    static const char *const auth[] = {
        [FY_AUTH_NONE] = "none",
        [FY_AUTH_DEVICE] = "key",
        [FY_AUTH_ADMIN] = "admin",
        [FY_AUTH_SESSION] = "session",
    };
    size_t n;
    const struct fy_http_route *r = fy_api_all_routes(&n);

    (void)s;
    if (argc > 1) {
        bool help = argc == 2 && (strcmp(argv[1], "--help") == 0 ||
                                  strcmp(argv[1], "-h") == 0);

        fputs("usage: ferryd routes\n"
              "Prints each endpoint: method, path pattern, what it needs\n"
              "(none, key, admin, session).\n",
              help ? stdout : stderr);
        return help ? FERRYD_OK : FERRYD_USAGE;
    }
    for (size_t i = 0; i < n; i++)
        printf("%-6s %-45s %s\n", r[i].method, r[i].pattern, auth[r[i].auth]);
    return FERRYD_OK;
}

/* ---- serve ------------------------------------------------------------ */

static const char serve_usage[] =
    "usage: ferryd [OPTIONS] serve [--listen HOST:PORT] [--max-body BYTES]\n"
    "                              [--max-inflight BYTES] [--pool N]\n"
    "                              [--contract-versions MIN[:MAX]]\n"
    "                              [--tls-cert FILE --tls-key FILE]\n"
    "Listens on 127.0.0.1:8080 by default; port 0 picks a free port and\n"
    "prints it. The store must be migrated with the same contract. With\n"
    "--tls-cert and --tls-key (PEM) it speaks only https.\n";

/* "MIN" or "MIN:MAX" (MAX then defaults to the served version). */
static int parse_versions(const char *text, struct ferryd_settings *s)
{
    char buf[64], *colon;
    long lo, hi = 0;

    snprintf(buf, sizeof(buf), "%s", text);
    colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    if (parse_size(buf, 1, 1000000000, &lo) < 0 ||
        (colon && parse_size(colon + 1, lo, 1000000000, &hi) < 0))
        return -1;
    s->contract_min = lo;
    s->contract_max = hi;
    return 0;
}

/* --tls-cert, --tls-key: kept apart, as the environment comes between. */
struct tls_args {
    const char *cert, *key;
};

static int parse_serve(struct ferryd_settings *s, int argc, char **argv,
                       struct tls_args *ta)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"max-body", required_argument, NULL, 'm'},
        {"max-inflight", required_argument, NULL, 'i'},
        {"pool", required_argument, NULL, 'p'},
        {"contract-versions", required_argument, NULL, 'c'},
        {"tls-cert", required_argument, NULL, 't'},
        {"tls-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *env = getenv("FERRYD_CONTRACT_VERSIONS");
    long v;
    int c;

    /* The command line, then the environment, then the settings file. */
    if (env && *env && parse_versions(env, s) < 0) {
        fprintf(stderr,
                "ferryd: FERRYD_CONTRACT_VERSIONS must be MIN or MIN:MAX"
                " (positive integers, MIN <= MAX), not '%.40s'\n",
                env);
        return FERRYD_CONFIG;
    }
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            s->listen = optarg;
            break;
        case 'm':
            if (parse_size(optarg, 1024, 1L << 30, &v) < 0)
                return fputs(serve_usage, stderr), FERRYD_USAGE;
            s->max_body = (size_t)v;
            break;
        case 'i':
            if (parse_size(optarg, 1024, LONG_MAX, &v) < 0)
                return fputs(serve_usage, stderr), FERRYD_USAGE;
            s->max_inflight = (size_t)v;
            break;
        case 'p':
            if (parse_size(optarg, 1, 256, &v) < 0)
                return fputs(serve_usage, stderr), FERRYD_USAGE;
            s->pool = (unsigned)v;
            break;
        case 'c':
            if (parse_versions(optarg, s) < 0)
                return fputs(serve_usage, stderr), FERRYD_USAGE;
            break;
        case 't':
            ta->cert = optarg;
            break;
        case 'k':
            ta->key = optarg;
            break;
        case 'h':
            fputs(serve_usage, stdout);
            return -1;
        default:
            return fputs(serve_usage, stderr), FERRYD_USAGE;
        }
    }
    return optind < argc ? (fputs(serve_usage, stderr), FERRYD_USAGE) : 0;
}

/*
 * https: the command line, else the environment, else the settings file
 * (the file's values are in s already: a flag overrides them). One of the
 * two without the other is a mistake, not plain http.
 */
static int load_tls(const struct ferryd_settings *s, const struct tls_args *ta,
                    struct fy_http_tls *tls)
{
    struct ferry_err err = {0};
    const char *cert = ta->cert ? ta->cert : getenv("FERRYD_TLS_CERT");
    const char *key = ta->key ? ta->key : getenv("FERRYD_TLS_KEY");

    cert = cert && *cert ? cert : s->tls_cert;
    key = key && *key ? key : s->tls_key;
    if (!cert && !key)
        return 0;
    if (!cert || !key) {
        fprintf(stderr,
                "ferryd: https needs both tls_cert and tls_key (--tls-cert,"
                " --tls-key), only %s is set\n",
                cert ? "tls_cert" : "tls_key");
        return FERRYD_CONFIG;
    }
    if (fy_http_tls_load(cert, key, tls, &err) < 0) {
        fprintf(stderr, "ferryd: %s\n", err.msg);
        return ferryd_exit_code(err.code);
    }
    return 0;
}

/*
 * Refuses to serve a contract the store has not been migrated to: rows
 * would be rejected by the database instead of by ferryd. A store that is
 * down now is checked later by its first requests.
 */
/*
 * Every request with a key reads the keys' tables: a store migrated by an
 * older ferryd, which lacks one added since (api_key_previous), would
 * answer each of them 500. A read of a key that does not exist finds out.
 */
static int probe_keys(struct fy_store *st, struct ferry_err *err)
{
    struct fy_key k;
    int rc = fy_store_key_get(st, "0000000000000000", &k, err);

    if (rc == 0)
        fy_key_release(&k);
    if (rc == 0 || rc == FERRY_ENOTFOUND) {
        fy_err_clear(err);
        return 0;
    }
    if (ferry_err_is_transient(rc))
        return rc;
    fy_warn("store", "cannot read the keys: %s", err->msg);
    return fy_err_set(err, FERRY_ESCHEMA,
                      "the store lacks tables this ferryd reads (ferry's own,"
                      " added since it was migrated): run 'ferryd migrate'");
}

static int check_schema(struct fy_store_pool *pool, const struct fy_contract *c,
                        struct ferry_err *err)
{
    struct fy_store *st = NULL;
    char sum[65];
    long version = 0;
    int rc = fy_store_pool_get(pool, 1000, &st, err);

    if (rc == 0)
        rc = fy_store_schema_version(st, &version, sum, err);
    if (rc == 0 && version != 0)
        rc = probe_keys(st, err);
    if (st)
        fy_store_pool_put(pool, st);
    if (ferry_err_is_transient(rc)) {
        fy_warn("store",
                "store unavailable at start-up (%s); serving 503"
                " until it is back",
                err->msg);
        fy_err_clear(err);
        return 0;
    }
    if (rc == 0 && version == 0)
        rc = fy_err_set(err, FERRY_ESCHEMA,
                        "the store has no ferry schema yet: run 'ferryd"
                        " migrate' first");
    else if (rc == 0 &&
             (version != c->version || strcmp(sum, c->checksum) != 0))
        rc = fy_err_set(err, FERRY_ESCHEMA,
                        "the store was migrated with contract version %ld,"
                        " not this one (version %ld): run 'ferryd migrate'",
                        version, c->version);
    return rc;
}

/*
 * The Ferry-Contract versions served: by default from 1 to the served
 * contract's version, so that older agents keep pushing after a migrate
 * and a newer one is refused until its contract is served.
 */
static int contract_range(const struct ferryd_settings *s,
                          const struct fy_contract *c, struct fy_api *api,
                          struct ferry_err *err)
{
    api->contract_min = s->contract_min ? s->contract_min : 1;
    api->contract_max = s->contract_max ? s->contract_max : c->version;
    if (api->contract_min > api->contract_max)
        return fy_err_set(err, FERRY_ECONFIG,
                          "contract_versions: min %ld is above max %ld (the"
                          " served contract is version %ld)",
                          api->contract_min, api->contract_max, c->version);
    return 0;
}

static void wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    fy_info("http", "signal %d: shutting down", sig);
}

static void block_signals(void)
{
    sigset_t set;

    /* Threads inherit the mask, so only sigwait() sees these. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* This ferryd in run history: the setting, else HOST/PID. */
static const char *instance_name(const struct ferryd_settings *s, char *buf,
                                 size_t n)
{
    char host[128];

    if (s->instance_name)
        return s->instance_name;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "ferryd");
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, n, "%s/%ld", host, (long)getpid());
    return buf;
}

int ferryd_serve(struct ferryd_settings *s, int argc, char **argv)
{
    struct ferry_err err = {0};
    struct fy_contract *c = NULL;
    struct fy_store_pool *pool = NULL;
    struct fy_http_server *srv = NULL;
    struct fy_http_router *router = NULL;
    struct fy_api api = {.pool_wait_ms = 5000};
    struct fy_http_config hc = {0};
    struct fy_maint_opts mo = {0};
    struct fy_maint *maint = NULL;
    struct fy_health_expect *expect = NULL;
    struct fy_alert *alert = NULL;
    char instance[256];
    struct tls_args ta = {0};
    struct fy_http_tls tls = {0};
    int rc = parse_serve(s, argc, argv, &ta);

    if (rc != 0)
        return rc < 0 ? FERRYD_OK : rc;
    hc.listen = s->listen ? s->listen : "127.0.0.1:8080";
    hc.max_body = s->max_body ? s->max_body : 16u << 20;
    hc.max_inflight = s->max_inflight ? s->max_inflight : 4 * hc.max_body;
    if (hc.max_inflight < FY_HTTP_MIN_INFLIGHT(hc.max_body)) {
        /* Else a large gzip body could never fit: 503 for ever. */
        fprintf(stderr,
                "ferryd: max_inflight (%zu bytes) must be at least twice"
                " max_body (%zu bytes) plus %zu, that is %zu: a gzip body is"
                " held compressed and decompressed at once\n",
                hc.max_inflight, hc.max_body, FY_HTTP_INFLIGHT_SLACK,
                FY_HTTP_MIN_INFLIGHT(hc.max_body));
        return FERRYD_CONFIG;
    }
    if ((rc = load_tls(s, &ta, &tls)) != 0)
        return rc;
    hc.tls_cert_pem = tls.cert_pem;
    hc.tls_key_pem = tls.key_pem;
    block_signals();
    rc = ferryd_router(s, &router, &err);
    hc.router = router;
    if (rc == 0)
        rc = fy_contract_load(s->contract, &c, &err);
    if (rc == 0)
        rc = fy_store_pool_new(s->store, s->pool ? s->pool : 4, &pool, &err);
    if (rc == 0)
        rc = check_schema(pool, c, &err);
    api.pool = pool;
    api.contract = c;
    if (rc == 0)
        rc = contract_range(s, c, &api, &err);
    api.service = s->service_name ? s->service_name : "ferryd";
    api.tombstone_retention_ms =
        (int64_t)(s->tombstone_retention_s ? s->tombstone_retention_s
                                           : FERRYD_TOMBSTONE_RETENTION_S) *
        1000;
    api.blob_max_bytes = s->blob_max_bytes; /* 0: blob.h's default */
    api.blob_upload_ttl_ms = (int64_t)s->blob_upload_ttl_s * 1000;
    api.instance = instance_name(s, instance, sizeof(instance));
    api.metrics_admin =
        s->metrics_auth && strcmp(s->metrics_auth, "admin") == 0;
    api.metrics_devices =
        s->metrics_devices_set ? s->metrics_devices : FERRYD_METRICS_DEVICES;
    if (rc == 0 && fy_metrics_set_contract(c) < 0)
        rc = fy_err_set(&err, FERRY_ENOMEM, "out of memory");
    if (rc == 0 && s->expect)
        rc = fy_health_expect_parse(s->expect, &expect, &err);
    api.expect = expect;
    mo.pool = pool;
    if (rc == 0)
        rc = fy_devruns_new(&api.devruns, &err);
    mo.devruns = api.devruns;
    mo.interval_ms =
        (int64_t)(s->maintenance_interval_s ? s->maintenance_interval_s
                                            : FERRYD_MAINTENANCE_INTERVAL_S) *
        1000;
    api.dash_idle_ms =
        (int64_t)(s->dash_idle_s ? (long)s->dash_idle_s : FY_DASH_IDLE_S) *
        1000;
    api.dash_max_ms =
        (int64_t)(s->dash_max_s ? (long)s->dash_max_s : FY_DASH_MAX_S) * 1000;
    /* Behind a TLS proxy ferryd speaks http: the setting says so. */
    api.dash_secure = s->dash_secure != 0 || hc.tls_cert_pem != NULL;
    mo.dash_idle_ms = api.dash_idle_ms;
    mo.dash_max_ms = api.dash_max_ms;
    mo.history_retention_ms =
        (int64_t)(s->history_retention_s ? s->history_retention_s
                                         : FERRYD_HISTORY_RETENTION_S) *
        1000;
    if (rc == 0)
        rc = fy_notify_start(s->store, &api.notify, &err);
    if (rc == 0)
        rc = fy_maint_start(&mo, &maint, &err);
    if (rc == 0 && s->alert_url)
        rc = fy_alert_start(
            &(struct fy_alert_opts){
                .pool = pool,
                .expect = expect,
                .url = s->alert_url,
                .interval_ms =
                    (int64_t)(s->alert_interval_s ? s->alert_interval_s
                                                  : FERRYD_ALERT_INTERVAL_S) *
                    1000,
                .service = api.service,
                .instance = api.instance},
            &alert, &err);
    if (rc == 0)
        rc = fy_admit_new(&s->rate, s->rate_keys, s->nrate_keys, &api.admit,
                          &err);
    hc.max_conns = s->max_connections ? (unsigned)s->max_connections : 1024;
    /* One address may hold a quarter: a slow-client flood from one host
       leaves room for the others (behind a proxy, raise it). */
    hc.max_conns_per_ip = s->max_connections_per_ip
                              ? (unsigned)s->max_connections_per_ip
                              : (hc.max_conns + 3) / 4;
    hc.timeout_s =
        s->connection_timeout_s ? (unsigned)s->connection_timeout_s : 60;
    hc.head_timeout_s = s->request_timeout_s ? (unsigned)s->request_timeout_s
                                             : FERRYD_REQUEST_TIMEOUT_S;
    if (rc == 0)
        rc = fy_http_server_start(&hc, &fy_api_handlers, &api, &srv, &err);
    if (rc == 0) {
        char *shown = fy_store_redact(s->store);

        printf("listening on %.*s:%u\n",
               (int)(strrchr(hc.listen, ':') - hc.listen), hc.listen,
               fy_http_server_port(srv));
        fflush(stdout);
        fy_info("http",
                "listening on port %u, store %s, contract version %ld"
                " (agents' versions %ld to %ld)",
                fy_http_server_port(srv), shown ? shown : "?", c->version,
                api.contract_min, api.contract_max);
        fy_free(shown);
        wait_for_signal();
    }
    /* Waiting pulls answer now, so that the server's stop is not held. */
    fy_notify_quiesce(api.notify);
    fy_http_server_stop(srv);
    fy_admit_free(api.admit);
    fy_alert_stop(alert);
    fy_maint_stop(maint); /* writes the device runs still held */
    fy_devruns_free(api.devruns);
    fy_notify_stop(api.notify);
    fy_http_router_free(router);
    fy_store_pool_free(pool);
    fy_metrics_reset();
    fy_health_expect_free(expect);
    fy_contract_free(c);
    fy_http_tls_release(&tls);
    return rc < 0 ? fail(&err) : FERRYD_OK;
}
