/* SPDX-License-Identifier: MIT */
/*
 * Agent configuration: load, validate, write; see config.h.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <jansson.h>

#include "core/contract.h"
#include "fy.h"

void fy_agent_config_release(struct fy_agent_config *cfg)
{
    if (!cfg)
        return;
    fy_free(cfg->path);
    fy_free(cfg->database);
    fy_free(cfg->device);
    fy_free(cfg->base_url);
    fy_free(cfg->auth_header);
    fy_free(cfg->auth_env);
    fy_free(cfg->ca_file);
    for (size_t i = 0; i < cfg->nfiles; i++) {
        fy_free(cfg->files[i].table);
        fy_free(cfg->files[i].path_column);
        fy_free(cfg->files[i].blob_column);
    }
    fy_free(cfg->files);
    memset(cfg, 0, sizeof(*cfg));
}

const struct fy_file_decl *
fy_agent_config_file(const struct fy_agent_config *cfg, const char *table)
{
    for (size_t i = 0; table && i < cfg->nfiles; i++) {
        if (strcasecmp(cfg->files[i].table, table) == 0)
            return &cfg->files[i];
    }
    return NULL;
}

/* Reads an optional string member; wrong types are configuration errors. */
static int get_str(json_t *obj, const char *key, const char *def, char **out,
                   const char *path, struct ferry_err *err)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    const char *s = def;

    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return fy_err_set(err, FERRY_ECONFIG, "%s: \"%s\" must be a string",
                              path, key);
        s = json_string_value(v);
    }
    fy_free(*out);
    *out = s ? fy_strdup(s) : NULL;
    return s && !*out ? fy_err_set(err, FERRY_ENOMEM, "out of memory") : 0;
}

static int get_int(json_t *obj, const char *key, int lo, int hi, int *out,
                   const char *path, struct ferry_err *err)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: \"%s\" must be an integer from %d to %d", path,
                          key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

/* A relative path in the file is relative to the file's folder. */
static int resolve_path(const struct fy_agent_config *cfg, char **path,
                        struct ferry_err *err)
{
    const char *slash = strrchr(cfg->path, '/');
    struct fy_buf b = FY_BUF_INIT(0);

    if (!*path || (*path)[0] == '/' || !slash)
        return 0;
    fy_buf_add(&b, cfg->path, (size_t)(slash - cfg->path + 1));
    fy_buf_adds(&b, *path);
    if (fy_buf_error(&b))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_free(*path);
    *path = fy_buf_detach(&b, NULL);
    return 0;
}

static int resolve_database(struct fy_agent_config *cfg, struct ferry_err *err)
{
    return resolve_path(cfg, &cfg->database, err);
}

/*
 * The CA file is read by libcurl only at the first https request: a
 * missing or unreadable one is said now, naming the setting.
 */
static int resolve_ca_file(struct fy_agent_config *cfg, struct ferry_err *err)
{
    struct stat sb;
    int rc;

    if (cfg->ca_file && !cfg->ca_file[0])
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ferry.ca_file is empty (leave it out for the"
                          " system's CA store)",
                          cfg->path);
    rc = resolve_path(cfg, &cfg->ca_file, err);
    if (rc < 0 || !cfg->ca_file)
        return rc;
    errno = 0;
    if (stat(cfg->ca_file, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        access(cfg->ca_file, R_OK) != 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ferry.ca_file '%s' is not a readable file (%s)",
                          cfg->path, cfg->ca_file,
                          errno ? strerror(errno) : "not a regular file");
    return 0;
}

static int check_url(const struct fy_agent_config *cfg, struct ferry_err *err)
{
    const char *u = cfg->base_url;

    if (!u)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ingestion base_url is missing (ferry init"
                          " --url URL sets it)",
                          cfg->path);
    if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ingestion base_url must start with http:// or"
                          " https://",
                          cfg->path);
    for (const char *c = u; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return fy_err_set(err, FERRY_ECONFIG,
                              "%s: ingestion base_url must not contain spaces"
                              " or control characters",
                              cfg->path);
    }
    return 0;
}

/* The host of an http(s) URL: after "//" and any "user@", up to the port. */
static size_t url_host(const char *url, const char **host)
{
    const char *p = strstr(url, "//"), *end, *at;

    p = p ? p + 2 : url;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    p = at ? at + 1 : p;
    *host = p;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));

        *host = p + 1;
        return close ? (size_t)(close - p - 1) : 0;
    }
    return strcspn(p, ":/?#");
}

bool fy_url_is_loopback(const char *url)
{
    char host[64];
    const char *h = NULL;
    size_t n = url ? url_host(url, &h) : 0;
    struct in_addr v4;
    struct in6_addr v6;

    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0 ||
        strcasecmp(host, "localhost.") == 0)
        return true;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) != 1)
        return false;
    /* ::1, or 127.0.0.0/8 written as IPv4-mapped (::ffff:127.0.0.1). */
    return IN6_IS_ADDR_LOOPBACK(&v6) ||
           (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

/* One name of a "files" entry: a column or table name ferry can send. */
static int file_name(json_t *e, size_t i, const char *key, char **out,
                     const char *path, struct ferry_err *err)
{
    json_t *v = json_object_get(e, key);

    if (!json_is_string(v) || !fy_ident_valid(json_string_value(v)))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ferry.files[%zu].%s must be a table or column"
                          " name (letters, digits and _, at most 63, not"
                          " starting with _ferry)",
                          path, i, key);
    *out = fy_strdup(json_string_value(v));
    return *out ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* Entry i of "files", checked against the entries before it. */
static int load_file(json_t *e, size_t i, struct fy_agent_config *cfg,
                     struct ferry_err *err)
{
    struct fy_file_decl *d = &cfg->files[i];
    const char *p = cfg->path;
    int rc;

    if (!json_is_object(e) || json_object_size(e) != 3)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ferry.files[%zu] must be an object with"
                          " \"table\", \"path_column\" and \"blob_column\"",
                          p, i);
    rc = file_name(e, i, "table", &d->table, p, err);
    if (rc == 0)
        rc = file_name(e, i, "path_column", &d->path_column, p, err);
    if (rc == 0)
        rc = file_name(e, i, "blob_column", &d->blob_column, p, err);
    if (rc == 0 && strcasecmp(d->path_column, d->blob_column) == 0)
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: ferry.files[%zu]: path_column and blob_column"
                        " must be two columns ('%s' is both)",
                        p, i, d->path_column);
    /* One table, one file column: the row's blob column holds one hash. */
    for (size_t k = 0; rc == 0 && k < i; k++) {
        if (strcasecmp(cfg->files[k].table, d->table) == 0)
            rc = fy_err_set(err, FERRY_ECONFIG,
                            "%s: ferry.files declares table '%s' twice", p,
                            d->table);
    }
    return rc;
}

/* "ferry.files": tables whose rows name a local file to upload first. */
static int load_files(json_t *fy, struct fy_agent_config *cfg,
                      struct ferry_err *err)
{
    json_t *arr = fy ? json_object_get(fy, "files") : NULL;
    size_t n = json_array_size(arr);
    int rc = 0;

    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ferry.files must be an array of {\"table\","
                          " \"path_column\", \"blob_column\"}",
                          cfg->path);
    cfg->files = n ? fy_calloc(n, sizeof(*cfg->files)) : NULL;
    if (n && !cfg->files)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cfg->nfiles = i + 1; /* so release frees what entry i got */
        rc = load_file(json_array_get(arr, i), i, cfg, err);
    }
    return rc;
}

static int load_sections(json_t *root, struct fy_agent_config *cfg,
                         struct ferry_err *err)
{
    json_t *ing = json_object_get(root, "ingestion");
    json_t *api = ing ? json_object_get(ing, "api") : NULL;
    json_t *fy = json_object_get(root, "ferry");
    json_t *mode = ing ? json_object_get(ing, "mode") : NULL;
    json_t *src = api ? api : ing; /* seed 000 nests under "api" */
    const char *p = cfg->path;
    int rc = 0;

    if (!json_is_object(ing) || (api && !json_is_object(api)) ||
        (fy && !json_is_object(fy)))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: needs an \"ingestion\" object", p);
    if (mode &&
        !(json_is_string(mode) && strcmp(json_string_value(mode), "api") == 0))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ingestion.mode must be \"api\" for ferry", p);
    rc = get_str(src, "base_url", NULL, &cfg->base_url, p, err);
    if (rc == 0)
        rc =
            get_str(src, "auth_header", "X-Api-Key", &cfg->auth_header, p, err);
    if (rc == 0)
        rc = get_str(src, "auth_env", "FERRY_API_KEY", &cfg->auth_env, p, err);
    if (rc == 0)
        rc = get_int(ing, "batch_size", 1, FY_BATCH_MAX, &cfg->batch_size, p,
                     err);
    if (rc == 0)
        rc = get_str(fy, "database", NULL, &cfg->database, p, err);
    if (rc == 0)
        rc = get_str(fy, "device", NULL, &cfg->device, p, err);
    if (rc == 0)
        rc = get_int(fy, "timeout_s", 1, 3600, &cfg->timeout_s, p, err);
    if (rc == 0)
        rc = get_int(fy, "contract_version", 1, INT_MAX, &cfg->contract_version,
                     p, err);
    if (rc == 0)
        rc = get_str(fy, "ca_file", NULL, &cfg->ca_file, p, err);
    if (rc == 0 && fy && json_object_get(fy, "compress")) {
        if (!json_is_boolean(json_object_get(fy, "compress")))
            return fy_err_set(err, FERRY_ECONFIG,
                              "%s: ferry.compress must be true or false", p);
        cfg->compress = json_is_true(json_object_get(fy, "compress"));
        cfg->compress_set = true;
    }
    if (rc == 0)
        rc = load_files(fy, cfg, err);
    return rc;
}

static int check_required(struct fy_agent_config *cfg, unsigned flags,
                          struct ferry_err *err)
{
    bool net = (flags & FY_CONFIG_NETWORK_ONLY) != 0;
    int rc = check_url(cfg, err);

    if (rc == 0 && (!cfg->database || !cfg->database[0]) &&
        !(net && !cfg->database))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: ferry.database (the SQLite file) is missing",
                        cfg->path);
    if (rc == 0 && !(net && !cfg->device) && !fy_name_valid(cfg->device))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: ferry.device must be 1 to 128 letters, digits"
                        " or ._:@-",
                        cfg->path);
    /*
     * The header name goes into the request as it is: CR, LF, a colon or a
     * space in it would let the file add or split headers.
     */
    if (rc == 0 && !fy_http_token_valid(cfg->auth_header))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: auth_header must be an HTTP header name (1 to"
                        " 128 letters, digits or !#$%%&'*+-.^_`|~), such as"
                        " X-Api-Key or Authorization",
                        cfg->path);
    if (rc == 0 && !fy_env_name_valid(cfg->auth_env))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: auth_env must be an environment variable name"
                        " (letters, digits and _, not starting with a digit),"
                        " such as FERRY_API_KEY",
                        cfg->path);
    return rc;
}

bool fy_env_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_") == n;
}

bool fy_http_token_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 128 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789!#$%&'*+-.^_`|~") == n;
}

static void config_defaults(struct fy_agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->batch_size = 500;
    cfg->compress = true;
    cfg->timeout_s = 30;
}

/* Validates a parsed file into cfg (cfg->path already set). */
static int load_root(json_t *root, unsigned flags, struct fy_agent_config *cfg,
                     struct ferry_err *err)
{
    int rc = json_is_object(root)
                 ? load_sections(root, cfg, err)
                 : fy_err_set(err, FERRY_ECONFIG, "%s: must hold a JSON object",
                              cfg->path);

    if (rc == 0)
        rc = check_required(cfg, flags, err);
    /*
     * gzip pays on a real network, not on loopback, where deflating and
     * inflating cost both ends more CPU than the bytes it saves.
     */
    if (rc == 0 && !cfg->compress_set)
        cfg->compress = !fy_url_is_loopback(cfg->base_url);
    return rc;
}

static int parse_fail(const char *path, const json_error_t *jerr, int saved,
                      struct ferry_err *err)
{
    if (saved == ENOENT)
        return fy_err_set(err, FERRY_ECONFIG,
                          "config file '%s' not found: run 'ferry init' to"
                          " create it, or name another file with -c FILE (or"
                          " FERRY_CONFIG)",
                          path);
    if (jerr->line < 1)
        return fy_err_set(err, FERRY_ECONFIG,
                          "cannot read config file '%s':"
                          " %s",
                          path, saved ? strerror(saved) : jerr->text);
    return fy_err_set(err, FERRY_ECONFIG, "%s: line %d: %s", path, jerr->line,
                      jerr->text);
}

/* Parses path; *root NULL and 0 returned when missing_ok and it is absent. */
static int parse_file(const char *path, bool missing_ok, json_t **root,
                      struct ferry_err *err)
{
    json_error_t jerr;
    int saved = 0;

    *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (*root)
        return 0;
    if (jerr.line < 1 && access(path, R_OK) != 0)
        saved = errno;
    if (missing_ok && saved == ENOENT)
        return 0;
    return parse_fail(path, &jerr, saved, err);
}

int fy_agent_config_load(const char *path, struct fy_agent_config *cfg,
                         struct ferry_err *err)
{
    return fy_agent_config_load_flags(path, 0, cfg, err);
}

int fy_agent_config_load_flags(const char *path, unsigned flags,
                               struct fy_agent_config *cfg,
                               struct ferry_err *err)
{
    json_t *root = NULL;
    int rc;

    config_defaults(cfg);
    cfg->path = fy_strdup(path);
    if (!cfg->path)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = parse_file(path, false, &root, err);
    if (rc == 0)
        rc = load_root(root, flags, cfg, err);
    if (rc == 0)
        rc = resolve_database(cfg, err);
    if (rc == 0)
        rc = resolve_ca_file(cfg, err);
    json_decref(root);
    if (rc < 0)
        fy_agent_config_release(cfg);
    return rc;
}

/* ---- ferry init: merging into an existing file ------------------------- */

/* Fewest %g digits that give v back, and no exponent where %.17g has none. */
static int real_digits(double v)
{
    char b[64];
    int p = 1;

    while (p < 17) {
        snprintf(b, sizeof(b), "%.*g", p, v);
        if (strtod(b, NULL) == v)
            break;
        p++;
    }
    if (v > -1e17 && v < 1e17) {
        int whole = snprintf(b, sizeof(b), "%.0f", v < 0 ? -v : v);

        if (whole > p)
            p = whole;
    }
    return p;
}

/*
 * jansson prints every real with one precision (17 digits by default, so
 * 0.1 would come out as 0.10000000000000001): use the fewest digits that
 * still give every real in the file back exactly.
 */
static int max_real_digits(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    int p = 1, q;

    if (json_is_real(j))
        return real_digits(json_real_value(j));
    json_object_foreach(j, k, v)
    {
        q = max_real_digits(v);
        p = q > p ? q : p;
    }
    json_array_foreach(j, i, v)
    {
        q = max_real_digits(v);
        p = q > p ? q : p;
    }
    return p;
}

/* Reads the whole file (NULL and 0 when it does not exist). */
static int read_bytes(const char *path, char **out, struct ferry_err *err)
{
    struct fy_buf b = FY_BUF_INIT(0);
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    *out = NULL;
    if (!f)
        return errno == ENOENT
                   ? 0
                   : fy_err_set(err, FERRY_ECONFIG, "cannot read '%s': %s",
                                path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fy_buf_add(&b, chunk, n);
    fclose(f);
    if (fy_buf_error(&b)) {
        fy_buf_release(&b);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    *out = fy_buf_detach(&b, NULL);
    return 0;
}

static json_t *section(json_t *parent, const char *key, bool *created)
{
    json_t *s = json_object_get(parent, key);

    *created = false;
    if (s)
        return s;
    s = json_object();
    if (s && json_object_set_new(parent, key, s) < 0)
        return NULL;
    *created = true;
    return s;
}

static int set_str(json_t *obj, const char *key, const char *v)
{
    return json_object_set_new(obj, key, json_string(v));
}

/* The ingestion values: where the file keeps them ("api" or flat). */
static int merge_ingestion(json_t *root, const struct fy_agent_init *in)
{
    bool fresh, fresh_api = false;
    json_t *ing = section(root, "ingestion", &fresh);
    json_t *src, *api;
    int rc = 0;

    if (!json_is_object(ing))
        return ing ? 0 : -1; /* not an object: validation says so */
    if (fresh) {
        rc |= json_object_set_new(ing, "enabled", json_true());
        rc |= set_str(ing, "mode", "api");
        api = section(ing, "api", &fresh_api);
        rc |= api ? 0 : -1;
    }
    api = json_object_get(ing, "api");
    src = json_is_object(api) ? api : ing;
    if (in->base_url)
        rc |= set_str(src, "base_url", in->base_url);
    if (fresh)
        rc |= set_str(src, "auth_header", "X-Api-Key");
    if (in->auth_env || fresh)
        rc |= set_str(src, "auth_env",
                      in->auth_env ? in->auth_env : "FERRY_API_KEY");
    if (in->batch_size > 0 || fresh)
        rc |= json_object_set_new(
            ing, "batch_size",
            json_integer(in->batch_size > 0 ? in->batch_size : 500));
    return rc;
}

/* True when the file's ferry.database names the same file as database. */
static bool same_database(const char *path, const char *old, const char *db)
{
    struct stat a, b;
    struct fy_buf p = FY_BUF_INIT(0);
    const char *slash = strrchr(path, '/');
    bool same;

    if (old[0] != '/' && slash)
        fy_buf_add(&p, path, (size_t)(slash - path + 1));
    fy_buf_adds(&p, old);
    same =
        strcmp(old, db) == 0 || (stat(p.data, &a) == 0 && stat(db, &b) == 0 &&
                                 a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    fy_buf_release(&p);
    return same;
}

/* An agent already set up keeps its database and device unless forced. */
static int check_takeover(const char *path, json_t *fy,
                          const struct fy_agent_init *in, struct ferry_err *err)
{
    const char *db = json_string_value(json_object_get(fy, "database"));
    const char *dev = json_string_value(json_object_get(fy, "device"));

    if (in->force)
        return 0;
    if (dev && strcmp(dev, in->device) != 0)
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s is already set up for device '%s': use --force"
                          " to change it to '%s' (the new device starts its"
                          " own seq numbering at the server)",
                          path, dev, in->device);
    if (db && *db && !same_database(path, db, in->database))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s is already set up for database '%s': use"
                          " --force to change it",
                          path, db);
    return 0;
}

static int merge_ferry(const char *path, json_t *root,
                       const struct fy_agent_init *in, struct ferry_err *err)
{
    bool fresh;
    json_t *fy = section(root, "ferry", &fresh);
    int rc;

    if (!fy)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (!json_is_object(fy))
        return fy_err_set(err, FERRY_ECONFIG, "%s: \"ferry\" must be an object",
                          path);
    rc = check_takeover(path, fy, in, err);
    if (rc < 0)
        return rc;
    rc = set_str(fy, "database", in->database) |
         set_str(fy, "device", in->device);
    /*
     * No "compress": the default then follows base_url (off for loopback),
     * and a config moved to another server does not keep a stale choice.
     */
    if (fresh)
        rc |= json_object_set_new(fy, "timeout_s", json_integer(30));
    return rc ? fy_err_set(err, FERRY_ENOMEM, "out of memory") : 0;
}

static int merged_text(json_t *root, char **text, struct ferry_err *err)
{
    size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(max_real_digits(root));
    char *t = json_dumps(root, flags);

    *text = t ? fy_malloc(strlen(t) + 2) : NULL;
    if (*text) {
        memcpy(*text, t, strlen(t));
        memcpy(*text + strlen(t), "\n", 2);
    }
    free(t); /* jansson's malloc */
    return *text ? 0 : fy_err_set(err, FERRY_ENOMEM, "out of memory");
}

static int validate_merged(const char *path, json_t *root,
                           struct ferry_err *err)
{
    struct fy_agent_config cfg;
    int rc;

    config_defaults(&cfg);
    cfg.path = fy_strdup(path);
    rc = cfg.path ? load_root(root, 0, &cfg, err)
                  : fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_agent_config_release(&cfg);
    return rc;
}

int fy_agent_config_merge(const char *path, const struct fy_agent_init *in,
                          char **text, char **old, struct ferry_err *err)
{
    json_t *root = NULL;
    int rc = read_bytes(path, old, err);

    *text = NULL;
    if (rc == 0 && *old)
        rc = parse_file(path, false, &root, err);
    if (rc == 0 && !root && !(root = json_object()))
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0 && !json_is_object(root))
        rc =
            fy_err_set(err, FERRY_ECONFIG, "%s: must hold a JSON object", path);
    if (rc == 0 && merge_ingestion(root, in) != 0)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = merge_ferry(path, root, in, err);
    if (rc == 0)
        rc = validate_merged(path, root, err);
    if (rc == 0)
        rc = merged_text(root, text, err);
    json_decref(root);
    if (rc < 0) {
        fy_free(*old);
        *old = NULL;
    }
    return rc;
}

/* ---- atomic replace ---------------------------------------------------- */

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse it */
        close(fd);
    }
}

/* Writes text to a new temp file next to target; *tmp returned owned. */
static int write_temp(const char *target, const char *text, mode_t mode,
                      struct fy_buf *tmp, struct ferry_err *err)
{
    int fd, rc = 0;

    fy_buf_addf(tmp, "%s.tmp.XXXXXX", target);
    if (fy_buf_error(tmp))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fd = mkstemp(tmp->data);
    if (fd < 0)
        return fy_err_set(err, FERRY_ECONFIG, "cannot create '%s': %s",
                          tmp->data, strerror(errno));
    if (fchmod(fd, mode) < 0 || fy_write_all(fd, text, strlen(text)) < 0 ||
        fsync(fd) < 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot write '%s': %s", tmp->data,
                        strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot write '%s': %s", tmp->data,
                        strerror(errno));
    if (rc < 0)
        unlink(tmp->data);
    return rc;
}

int fy_agent_config_replace(const char *path, const char *text,
                            struct ferry_err *err)
{
    struct fy_buf tmp = FY_BUF_INIT(0), dir = FY_BUF_INIT(0);
    char real[PATH_MAX];
    const char *target = realpath(path, real) ? real : path;
    const char *slash = strrchr(target, '/');
    struct stat st;
    mode_t mode = stat(target, &st) == 0 ? (st.st_mode & 07777) : 0644;
    int rc = 0;

    if (!text) {
        if (unlink(target) < 0 && errno != ENOENT)
            rc = fy_err_set(err, FERRY_EIO, "cannot remove '%s': %s", target,
                            strerror(errno));
        return rc;
    }
    rc = write_temp(target, text, mode, &tmp, err);
    if (rc == 0 && rename(tmp.data, target) < 0) {
        rc = fy_err_set(err, FERRY_ECONFIG, "cannot replace '%s': %s", target,
                        strerror(errno));
        unlink(tmp.data);
    }
    if (slash)
        fy_buf_add(&dir, target,
                   slash == target ? 1 : (size_t)(slash - target));
    else
        fy_buf_adds(&dir, ".");
    if (rc == 0 && !fy_buf_error(&dir))
        sync_dir(dir.data);
    fy_buf_release(&tmp);
    fy_buf_release(&dir);
    return rc;
}
