/* SPDX-License-Identifier: MIT */
/*
 * Compatibility views for ferryd migrate (store.h, fy_store_compat_views):
 * the form-sync service's odk_sync_status and odk_sync_history, with their
 * column names and, as far as a view can give them, their types, read from
 * ferry's stream runs, so that their dashboards and monitoring queries run
 * unchanged (docs/walkthroughs/form-sync-service.md). The two engines'
 * texts differ in the time columns (timestamptz against ISO text), so each
 * has its own template, chosen by the dialect's placeholder.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "fy.h"

/* At most this long, so that PREFIX + "sync_history" fits any engine. */
#define COMPAT_NAME_MAX 40

/*
 * Their statuses from ours: a run that died without a heartbeat failed
 * for them too. refused and imported (history only) pass through: their
 * queries ask for 'success' and 'error', which neither can disturb.
 *
 * PostgreSQL gives their TIMESTAMP WITH TIME ZONE and INTEGER columns.
 * Records over 2^31 - 1 (the API takes up to 2^53 - 1) are capped rather
 * than failing every query of the view with an overflow.
 */
static const char pg_status[] =
    " AS SELECT name AS sync_type,"
    " to_timestamp(last_success_ms / 1000.0) AS last_sync_timestamp,"
    " to_timestamp(last_attempt_ms / 1000.0) AS last_attempt_timestamp,"
    " CASE status WHEN 'running' THEN 'in_progress' WHEN 'failed' THEN"
    " 'error' WHEN 'abandoned' THEN 'error' ELSE status END"
    " AS last_sync_status,"
    " last_error AS last_error_message,"
    " successes::integer AS successful_sync_count,"
    " failures::integer AS failed_sync_count,"
    " (CASE WHEN last_records > 2147483647 THEN 2147483647"
    " ELSE last_records END)::integer AS last_records_processed,"
    " to_timestamp(created_ms / 1000.0) AS created_at,"
    " to_timestamp(updated_ms / 1000.0) AS updated_at"
    " FROM ferry.sync_status WHERE kind = 'stream'";

static const char pg_history[] =
    " AS SELECT id, name AS sync_type,"
    " to_timestamp(started_ms / 1000.0) AS sync_timestamp,"
    " CASE status WHEN 'running' THEN 'in_progress' WHEN 'failed' THEN"
    " 'error' WHEN 'abandoned' THEN 'error' ELSE status END AS status,"
    " (CASE WHEN records > 2147483647 THEN 2147483647"
    " ELSE records END)::integer AS records_processed,"
    " (duration_ms / 1000)::integer AS duration_seconds,"
    " error AS error_message, metadata,"
    " instance AS service_instance"
    " FROM ferry.sync_history WHERE kind = 'stream'";

/*
 * SQLite has no time type: ISO 8601 text in UTC with milliseconds, as the
 * API writes times, which sorts and compares as time. Built from integer
 * parts: strftime's %f goes through a double and can print .122 for .123.
 * NULL stays NULL (|| with NULL is NULL).
 */
static const char lite_status[] =
    " AS SELECT name AS sync_type,"
    " strftime('%Y-%m-%dT%H:%M:%S', last_success_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', last_success_ms % 1000) AS last_sync_timestamp,"
    " strftime('%Y-%m-%dT%H:%M:%S', last_attempt_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', last_attempt_ms % 1000) AS last_attempt_timestamp,"
    " CASE status WHEN 'running' THEN 'in_progress' WHEN 'failed' THEN"
    " 'error' WHEN 'abandoned' THEN 'error' ELSE status END"
    " AS last_sync_status,"
    " last_error AS last_error_message,"
    " successes AS successful_sync_count,"
    " failures AS failed_sync_count,"
    " last_records AS last_records_processed,"
    " strftime('%Y-%m-%dT%H:%M:%S', created_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', created_ms % 1000) AS created_at,"
    " strftime('%Y-%m-%dT%H:%M:%S', updated_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', updated_ms % 1000) AS updated_at"
    " FROM ferry_sync_status WHERE kind = 'stream'";

static const char lite_history[] =
    " AS SELECT id, name AS sync_type,"
    " strftime('%Y-%m-%dT%H:%M:%S', started_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', started_ms % 1000) AS sync_timestamp,"
    " CASE status WHEN 'running' THEN 'in_progress' WHEN 'failed' THEN"
    " 'error' WHEN 'abandoned' THEN 'error' ELSE status END AS status,"
    " records AS records_processed,"
    " duration_ms / 1000 AS duration_seconds,"
    " error AS error_message, metadata,"
    " instance AS service_instance"
    " FROM ferry_sync_history WHERE kind = 'stream'";

/* [a-z_][a-z0-9_]*, 1 to COMPAT_NAME_MAX characters. */
static bool plain_ident(const char *s)
{
    size_t n = 0;

    if (!s || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
              s[n] == '_'))
            return false;
    }
    return n <= COMPAT_NAME_MAX;
}

int fy_store_compat_names(const char *prefix, const char *schema,
                          struct ferry_err *err)
{
    if (!plain_ident(prefix))
        return fy_err_set(err, FERRY_EINVAL,
                          "compat_views_prefix '%.80s' is not a plain name"
                          " ([a-z_][a-z0-9_]*, at most %d characters)",
                          prefix ? prefix : "", COMPAT_NAME_MAX);
    if (schema && !plain_ident(schema))
        return fy_err_set(err, FERRY_EINVAL,
                          "compat_views_schema '%.80s' is not a plain name"
                          " ([a-z_][a-z0-9_]*, at most %d characters)",
                          schema, COMPAT_NAME_MAX);
    /* SQLite keeps ferry's own tables beside them, named ferry_... */
    if (strncmp(prefix, "ferry_", 6) == 0)
        return fy_err_set(err, FERRY_EINVAL,
                          "compat_views_prefix '%s' would name ferry's own"
                          " tables (ferry_...)",
                          prefix);
    return 0;
}

/* One view: replaced in place (PostgreSQL) or dropped and made again. */
static void add_view(struct fy_buf *b, bool pg, const char *schema,
                     const char *prefix, const char *table, const char *body)
{
    char name[COMPAT_NAME_MAX + 16];

    snprintf(name, sizeof(name), "%s%s", prefix, table);
    if (pg) {
        fy_buf_adds(b, "CREATE OR REPLACE VIEW ");
        fy_buf_add_ident(b, schema);
        fy_buf_addc(b, '.');
    } else {
        fy_buf_adds(b, "DROP VIEW IF EXISTS ");
        fy_buf_add_ident(b, name);
        fy_buf_adds(b, ";CREATE VIEW ");
    }
    fy_buf_add_ident(b, name);
    fy_buf_adds(b, body);
    fy_buf_adds(b, ";");
}

static int run_one(struct fy_store *st, const char *sql, const char *what,
                   struct ferry_err *err)
{
    struct fy_sql_q q = {.sql = sql, .what = what};

    return fy_sql_run(st, &q, err);
}

int fy_store_compat_views(struct fy_store *st, const char *prefix,
                          const char *schema, struct ferry_err *err)
{
    bool pg = st->ops->sql->dialect->placeholder == '$';
    struct fy_buf b = FY_BUF_INIT(16384);
    int rc = fy_store_compat_names(prefix, schema, err);

    if (rc < 0)
        return rc;
    add_view(&b, pg, schema ? schema : "public", prefix, "sync_status",
             pg ? pg_status : lite_status);
    add_view(&b, pg, schema ? schema : "public", prefix, "sync_history",
             pg ? pg_history : lite_history);
    if (fy_buf_error(&b)) {
        rc = fy_err_set(err, fy_buf_error(&b), "out of memory");
        goto out;
    }
    /* Both views or neither. */
    rc = run_one(st, "{begin_write}", "begin compat views", err);
    if (rc < 0)
        goto out;
    rc = run_one(st, b.data, "compat views", err);
    if (rc == 0)
        rc = run_one(st, "COMMIT", "commit compat views", err);
    if (rc < 0)
        run_one(st, "ROLLBACK", "roll back compat views", NULL);
out:
    fy_buf_release(&b);
    return rc;
}
