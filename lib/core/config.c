/* SPDX-License-Identifier: MIT */
/*
 * Agent configuration: load, validate, write; see config.h.
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

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
    memset(cfg, 0, sizeof(*cfg));
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

static int resolve_database(struct fy_agent_config *cfg, struct ferry_err *err)
{
    const char *slash = strrchr(cfg->path, '/');
    struct fy_buf b = FY_BUF_INIT(0);

    if (!cfg->database || cfg->database[0] == '/' || !slash)
        return 0;
    fy_buf_add(&b, cfg->path, (size_t)(slash - cfg->path + 1));
    fy_buf_adds(&b, cfg->database);
    if (fy_buf_error(&b))
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fy_free(cfg->database);
    cfg->database = fy_buf_detach(&b, NULL);
    return 0;
}

static int check_url(const struct fy_agent_config *cfg, struct ferry_err *err)
{
    const char *u = cfg->base_url;

    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s: ingestion base_url must start with http:// or"
                          " https://",
                          cfg->path);
    return 0;
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
    if (rc == 0 && fy && json_object_get(fy, "compress")) {
        if (!json_is_boolean(json_object_get(fy, "compress")))
            return fy_err_set(err, FERRY_ECONFIG,
                              "%s: ferry.compress must be true or false", p);
        cfg->compress = json_is_true(json_object_get(fy, "compress"));
    }
    return rc;
}

static int check_required(struct fy_agent_config *cfg, struct ferry_err *err)
{
    int rc = check_url(cfg, err);

    if (rc == 0 && (!cfg->database || !cfg->database[0]))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: ferry.database (the SQLite file) is missing",
                        cfg->path);
    if (rc == 0 && !fy_name_valid(cfg->device))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: ferry.device must be 1 to 128 letters, digits"
                        " or ._:@-",
                        cfg->path);
    if (rc == 0 && (!cfg->auth_env[0] || !cfg->auth_header[0]))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "%s: auth_header and auth_env must not be empty",
                        cfg->path);
    return rc;
}

int fy_agent_config_load(const char *path, struct fy_agent_config *cfg,
                         struct ferry_err *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->batch_size = 500;
    cfg->compress = true;
    cfg->timeout_s = 30;
    cfg->path = fy_strdup(path);
    if (!cfg->path)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = fy_err_set(err, FERRY_ECONFIG, "%s: line %d: %s", path, jerr.line,
                        jerr.text);
        goto out;
    }
    rc = json_is_object(root) ? load_sections(root, cfg, err)
                              : fy_err_set(err, FERRY_ECONFIG,
                                           "%s: must hold a JSON object", path);
    if (rc == 0)
        rc = check_required(cfg, err);
    if (rc == 0)
        rc = resolve_database(cfg, err);
out:
    json_decref(root);
    if (rc < 0)
        fy_agent_config_release(cfg);
    return rc;
}

int fy_agent_config_write(const char *path, const char *database,
                          const char *device, const char *base_url,
                          const char *auth_env, int batch_size, bool force,
                          struct ferry_err *err)
{
    json_t *root = json_pack(
        "{s:{s:b, s:s, s:{s:s, s:s, s:s}, s:i}, s:{s:s, s:s, s:b, s:i}}",
        "ingestion", "enabled", 1, "mode", "api", "api", "base_url", base_url,
        "auth_header", "X-Api-Key", "auth_env", auth_env, "batch_size",
        batch_size, "ferry", "database", database, "device", device, "compress",
        1, "timeout_s", 30);
    int fd, rc = 0;
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;

    json_decref(root);
    if (!text)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL), 0644);
    if (fd < 0)
        rc = fy_err_set(err, FERRY_ECONFIG, "cannot create '%s': %s", path,
                        strerror(errno));
    else if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
             write(fd, "\n", 1) != 1 || fsync(fd) < 0)
        rc = fy_err_set(err, FERRY_EIO, "cannot write '%s': %s", path,
                        strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}
