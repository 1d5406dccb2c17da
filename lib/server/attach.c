/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/tables/{table}/files/{column}: a form from a script (the NAS
 * pipeline's audio upload) with one file and the row's key: the file is
 * stored as a blob and the row's blob column set to its hash, as a PATCH
 * would. The form is read from the body on disk (the server streamed it
 * there), so the file is never held in memory.
 */
#include "server/attach.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "http/multipart.h"
#include "server/blob.h"
#include "server/rows.h"
#include "fy.h"

/* A form's text value as JSON for column c: typed where the type says. */
static json_t *form_value(const struct fy_column *c, const char *v, size_t n)
{
    json_t *j = NULL;

    if (c->type != FY_T_TEXT && c->type != FY_T_TIMESTAMPTZ &&
        c->type != FY_T_DATE && c->type != FY_T_BYTEA)
        j = json_loadb(v, n, JSON_DECODE_ANY, NULL);
    if (j && (json_is_object(j) || json_is_array(j))) {
        json_decref(j);
        j = NULL;
    }
    return j ? j : json_stringn(v, n);
}

/*
 * The row the form names: each key column's field, typed. FERRY_ECONTRACT
 * (missing_key) when a key field is missing; FERRY_EPARSE for a malformed
 * form.
 */
static int form_key(const struct fy_table *t, const char *map, size_t len,
                    const char *boundary, json_t **out, struct ferry_err *err)
{
    json_t *row = json_object();

    if (!row)
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->npk; i++) {
        const struct fy_column *c = &t->cols[t->pk[i]];
        size_t off = 0, n = 0;
        int rc = fy_multipart_find(map, len, boundary, c->name, &off, &n, err);

        if (rc == FERRY_EPARSE && strstr(err->msg, "no field")) {
            rc = fy_err_set(err, FERRY_ECONTRACT,
                            "the form needs the key field '%s' of table '%s'",
                            c->name, t->name);
            err->wire = FERRY_WIRE_MISSING_KEY;
        }
        if (rc < 0) {
            json_decref(row);
            return rc;
        }
        json_object_set_new(row, c->name, form_value(c, map + off, n));
    }
    *out = row;
    return 0;
}

/* The table and its blob column the path names. */
static int target(const struct fy_contract *c, const struct fy_http_req *req,
                  const struct fy_table **t, int *col, struct ferry_err *err)
{
    const char *tn = fy_http_param(req, "table", NULL);
    const char *cn = fy_http_param(req, "column", NULL);

    *t = tn ? fy_contract_table(c, tn) : NULL;
    if (!*t) {
        fy_err_set(err, FERRY_ENOTFOUND, "no table '%s' in the contract",
                   tn ? tn : "");
        err->wire = FERRY_WIRE_UNKNOWN_TABLE;
        return FERRY_ENOTFOUND;
    }
    *col = fy_table_column(*t, cn ? cn : "");
    if (*col < 0 || !(*t)->cols[*col].blob_ref) {
        fy_err_set(err, FERRY_ECONTRACT,
                   "table '%s' has no blob column '%s' (blob_columns in the"
                   " contract)",
                   (*t)->name, cn ? cn : "");
        err->wire = FERRY_WIRE_UNKNOWN_COLUMN;
        return FERRY_ECONTRACT;
    }
    return 0;
}

static int attach(struct fy_api *api, const struct fy_http_req *req,
                  json_t **answer, struct ferry_err *err)
{
    char boundary[FY_MULTIPART_BOUNDARY_MAX + 1], sha[65];
    const struct fy_table *t;
    enum fy_row_outcome outcome = FY_ROW_PENDING;
    size_t off = 0, n = 0, len = (size_t)req->body_size;
    void *map = MAP_FAILED;
    json_t *row = NULL;
    bool created = false;
    int col, rc;

    rc = target(api->contract, req, &t, &col, err);
    if (rc == 0)
        rc = fy_multipart_boundary(fy_http_header(req, "Content-Type"),
                                   boundary, err);
    if (rc == 0 && len == 0)
        rc = fy_err_set(err, FERRY_EPARSE, "the body is empty");
    if (rc == 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, req->body_fd, 0);
        if (map == MAP_FAILED)
            rc = fy_err_set(err, FERRY_EIO, "cannot map the body: %s",
                            strerror(errno));
    }
    /* Everything about the form is checked before the file is stored. */
    if (rc == 0)
        rc = fy_multipart_find(map, len, boundary, NULL, &off, &n, err);
    if (rc == 0)
        rc = form_key(t, map, len, boundary, &row, err);
    if (rc == 0)
        rc = fy_rows_check(api, fy_api_key(req), t, row, err);
    if (rc == 0)
        rc = fy_blob_store_fd(
            api->pool, api->pool_wait_ms, req->body_fd, off, n,
            api->blob_max_bytes ? api->blob_max_bytes : FY_BLOB_MAX_BYTES, sha,
            &created, err);
    if (rc == 0) {
        json_object_set_new(row, t->cols[col].name, json_string(sha));
        rc = fy_rows_set(api, fy_api_key(req), t, row, true, &outcome, err);
    }
    if (rc == 0)
        *answer = json_pack("{s:s, s:I, s:b, s:s}", "sha256", sha, "size",
                            (json_int_t)n, "blob_created", created, "result",
                            outcome == FY_ROW_STALE ? "stale" : "updated");
    if (rc == 0 && !*answer)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    json_decref(row);
    if (map != MAP_FAILED)
        munmap(map, len);
    return rc;
}

static void handle_attach(struct fy_http_req *req, struct fy_http_resp *resp,
                          void *ud)
{
    struct ferry_err err = {0};
    json_t *answer = NULL;
    int rc = attach(ud, req, &answer, &err);

    if (rc < 0) {
        fy_api_failure(resp, rc, &err, NULL);
        fy_info("attach", "device=%s %s refused status=%d: %s",
                fy_api_key(req)->device, req->path, resp->status, err.msg);
        return;
    }
    fy_api_json(resp, 200, answer);
}

static const char *const form_types[] = {"multipart/form-data", NULL};

const struct fy_http_route fy_attach_routes[] = {
    {.method = "POST",
     .pattern = "/v1/tables/{table:name}/files/{column:name}",
     .auth = FY_AUTH_DEVICE,
     .body = {.mode = FY_BODY_FILE, .types = form_types},
     .fn = handle_attach},
};

const size_t fy_attach_nroutes = FY_ARRAY_LEN(fy_attach_routes);
