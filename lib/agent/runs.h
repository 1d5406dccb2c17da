/* SPDX-License-Identifier: MIT */
/*
 * The parts of `ferry job run` and `ferry cursor import` worth a unit
 * test, beside the runs client (include/ferry/ferry_runs.h) in runs.c:
 * the job's command line, the report file a job writes, an old
 * last_sync.txt as a cursor, and durations. Pure functions: no network,
 * no processes.
 */
#ifndef FY_AGENT_RUNS_H
#define FY_AGENT_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/ferry_runs.h"

#define FY_RUNS_CURSOR_MAX   4096      /* bytes of a cursor (the API's) */
#define FY_RUNS_ERROR_MAX    4096      /* bytes of an error message */
#define FY_RUNS_METADATA_MAX 65536     /* bytes of metadata, compact JSON */
#define FY_RUNS_REPORT_MAX   (1 << 20) /* bytes of a report file */
#define FY_RUNS_LEASE_MAX    86400     /* seconds */

/*
 * "500ms", "30s", "5m", "1h" or a bare number of seconds, more than 0 and
 * at most 7 days, in ms; -1 when s is not one.
 */
int64_t fy_runs_duration_ms(const char *s);

/* `ferry job run`'s command line (the strings borrowed from argv). */
struct fy_job_args {
    const char *stream;
    int64_t every_ms;     /* 0: run once */
    int lease_s;          /* 0: the server's default (60) */
    const char *instance; /* NULL: the default */
    char **cmd;           /* what follows "--", ended by NULL as argv is */
    bool help;            /* -h or --help: nothing else is checked */
};

/*
 * Parses argv[1..argc) of `job run` (argv[0] is "run"): NAME, the options
 * (before or after NAME, as --opt VALUE or --opt=VALUE), then "--" and the
 * command. FERRY_EINVAL with what is wrong in err->msg.
 */
int fy_job_args_parse(int argc, char **argv, struct fy_job_args *a,
                      struct ferry_err *err);

/*
 * What a job wrote to its FERRY_REPORT file: lines `cursor=VALUE`,
 * `records=N`, `metadata={JSON object}`, `error=TEXT`; the last line of a
 * key wins; empty lines are skipped and a CR before a line's end dropped.
 */
struct fy_job_report {
    char *cursor; /* NULL: no cursor= line (the cursor stays) */
    int64_t records;
    char *metadata; /* compact JSON object, NULL: none */
    char *error;    /* NULL: none */
};

/*
 * Parses a report's bytes into r (zeroed first; release with
 * fy_job_report_release, also after a failure). FERRY_EPARSE with "line
 * N: ..." for anything else: an unknown key, a line without '=', records
 * that are not 0 to 2^53-1, metadata that is not a JSON object or over 64
 * KiB, a cursor or error over 4096 bytes or not UTF-8, an empty error, a
 * NUL byte.
 */
int fy_job_report_parse(const char *text, size_t len, struct fy_job_report *r,
                        struct ferry_err *err);
/* Reads and parses the file at path (at most 1 MiB), as above. */
int fy_job_report_read(const char *path, struct fy_job_report *r,
                       struct ferry_err *err);
void fy_job_report_release(struct fy_job_report *r);

/*
 * True for a real ISO 8601 date or time as Python and the form-sync
 * service write them: YYYY-MM-DD, optionally followed by T (or a space)
 * and HH:MM[:SS[.fraction of 1 to 9 digits]], optionally Z or +HH:MM /
 * -HH:MM; the day must exist (leap years counted).
 */
bool fy_runs_timestamp_valid(const char *s);

/*
 * A last_sync.txt's bytes as a cursor: one line, trailing whitespace (the
 * newline) trimmed, 1 to 4096 bytes of UTF-8 without NUL, and a real
 * timestamp unless any. *cursor returned owned (fy_free). FERRY_EPARSE
 * saying why.
 */
int fy_runs_cursor_text(const char *text, size_t len, bool any, char **cursor,
                        struct ferry_err *err);
/* The same for the file at path (FERRY_EIO when it cannot be read). */
int fy_runs_cursor_file(const char *path, bool any, char **cursor,
                        struct ferry_err *err);

#endif
