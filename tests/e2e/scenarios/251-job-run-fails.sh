# A job that fails, in each way `ferry job run` tells apart: an exit
# status, an error= line whatever the status, a report it cannot read, a
# signal, a command that does not exist. Each exits 9 with the run
# recorded failed and its error, records and metadata kept; the cursor
# stays, and the next run gets the same cursor again. A success after
# them moves on.
. "$E2E_DIR/runslib.sh"
jobs_setup jobs "$T/job"
# The job writes what it is told to (REPORT), then exits CODE (or dies of
# signal SIG); it logs the cursor it was given.
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
echo "$FERRY_CURSOR" >>"$JOB_SEEN"
printf '%b' "${REPORT:-}" >>"$FERRY_REPORT"
[ -n "${SIG:-}" ] && kill -"$SIG" $$
exit "${CODE:-0}"
SH
chmod +x "$T/job/job.sh"
export JOB_SEEN="$T/job/seen"
job() {
    FERRY_API_KEY=$K "$FERRY" --config "$T/job/config.json" "$@"
}

REPORT='cursor=2024-01-15T10:30:00.000000\nrecords=10\n' job job run forms -- "$T/job/job.sh" 2>>"$T/job.log" ||
    fail "first run"
C=2024-01-15T10:30:00.000000

# run_fails WHAT ERROR RECORDS [ENV=VALUE...] -- ARGS: exit 9, the run and
# the stream's row say ERROR, the cursor stays.
n=0
run_fails() {
    _what=$1 _error=$2 _records=$3
    shift 3
    n=$((n + 1))
    _rc=0
    env "$@" 2>>"$T/job.log" || _rc=$?
    assert_eq "$_what: exit" 9 "$_rc"
    stream_status forms "$K"
    assert_eq "$_what: status row" "failed|$C|1|$n|$_error" \
        "$(sf '"%s|%s|%d|%d|%s" % (v["status"], v["cursor"], v["successes"], v["failures"], v["last_error"])')"
    assert_eq "$_what: history" "failed|$_error|$_records|None" \
        "$(sf '"%s|%s|%s|%s" % (v["history"][0]["status"], v["history"][0]["error"], v["history"][0]["records"], v["history"][0]["cursor"])')"
    grep -q "info: job: run [0-9]* of forms: failed ($_error), $_records records\?, cursor stays $C, [0-9.]* s$" "$T/job.log" ||
        fail "$_what: no run line: $(tail -n 1 "$T/job.log")"
}
F="FERRY_API_KEY=$K $FERRY --config $T/job/config.json job run forms --"
# shellcheck disable=SC2086
run_fails "exit 3" "$T/job/job.sh exited with status 3" 4 \
    CODE=3 REPORT='records=4\ncursor=2099-01-01\nmetadata={"page": 2}\n' $F "$T/job/job.sh"
assert_eq "metadata of a failure kept" '{"page":2}' "$(sf 'v["history"][0]["metadata"]')"
# shellcheck disable=SC2086
run_fails "error= with exit 0" "upstream answered 503" 0 \
    REPORT='cursor=2099-01-01\nerror=upstream answered 503\n' $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "error= with exit 1" "token expired" 0 \
    CODE=1 REPORT='error=token expired\n' $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "a report line it cannot read" "report file: line 2: unknown key 'cursr' (cursor, records, metadata or error)" 0 \
    REPORT='records=3\ncursr=2099-01-01\n' $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "bad records" "report file: line 1: records= takes a whole number from 0 to 2^53-1" 0 \
    REPORT='records=-4\n' $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "metadata not an object" "$T/job/job.sh exited with status 2; report file: line 1: metadata= takes a JSON object on one line" 0 \
    CODE=2 REPORT='metadata=[1]\n' $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "killed by a signal" "$T/job/job.sh killed by signal 9" 0 \
    SIG=KILL $F "$T/job/job.sh"
# shellcheck disable=SC2086
run_fails "no such command" "cannot run '$T/job/nope.sh': No such file or directory" 0 \
    $F "$T/job/nope.sh"
# shellcheck disable=SC2086
run_fails "not executable" "cannot run '$T/job/config.json': Permission denied" 0 \
    $F "$T/job/config.json"

# Every job that ran got the same cursor.
assert_eq "cursors given" "$(printf '\n%s\n%s\n%s\n%s\n%s\n%s\n%s' $C $C $C $C $C $C $C)" "$(cat "$JOB_SEEN")"
REPORT='cursor=2024-01-16T08:00:00.000000\n' job job run forms -- "$T/job/job.sh" 2>>"$T/job.log" || fail "success after failures"
stream_status forms "$K"
assert_eq "after a success" "success|2024-01-16T08:00:00.000000|2|$n" \
    "$(sf '"%s|%s|%d|%d" % (v["status"], v["cursor"], v["successes"], v["failures"])')"
health_ok
