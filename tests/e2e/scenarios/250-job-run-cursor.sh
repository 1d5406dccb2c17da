# `ferry job run` on a machine that only runs jobs: a config with nothing
# but its "ingestion" section (the key in the variable auth_env names), a
# job in shell that reads FERRY_CURSOR and writes its report, and the
# cursor each run commits handed to the next. A run without cursor= keeps
# the cursor (its history row has none); records and metadata reach the
# history; `ferry runs` and `ferry cursor show` read it back. Also: every
# request of `ferry sync --every` carries its cycle's Ferry-Run, so each
# cycle is a device run; and docs/c-api.md's example builds and runs.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key odk-host)
start_ferryd

mkdir -p "$T/job"
cat >"$T/job/config.json" <<JSON
{"ingestion": {"enabled": true, "mode": "api",
  "api": {"base_url": "$URL", "auth_header": "X-Api-Key",
          "auth_env": "ODK_FERRY_KEY"}}}
JSON
# The job: what it saw, then the next cursor (the old one plus a day).
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
echo "$FERRY_RUN_ID|$FERRY_STREAM|$FERRY_HAS_CURSOR|$FERRY_CURSOR" >>"$JOB_SEEN"
case $FERRY_CURSOR in
'') next=2024-01-01T00:00:00.000000 ;;
*) next=$(date -u -d "${FERRY_CURSOR%%T*} + 1 day" +%Y-%m-%dT00:00:00.000000) ;;
esac
[ "${NO_CURSOR:-}" = 1 ] || echo "cursor=$next" >>"$FERRY_REPORT"
echo "records=${RECORDS:-5}" >>"$FERRY_REPORT"
echo 'metadata={"forms": ["a", "b"], "source": "odk"}' >>"$FERRY_REPORT"
SH
chmod +x "$T/job/job.sh"
export JOB_SEEN="$T/job/seen"
job() { # ARGS... (the job machine's config and key)
    ODK_FERRY_KEY=$K "$FERRY" --config "$T/job/config.json" "$@"
}

rc=0
job job run forms --instance odk-sync-1 -- "$T/job/job.sh" 2>>"$T/job.log" || rc=$?
assert_eq "first run: exit" 0 "$rc"
assert_eq "first run saw no cursor" "forms|0|" "$(cut -d'|' -f2- "$JOB_SEEN")"
r1=$(cut -d'|' -f1 "$JOB_SEEN")
grep -q "info: job: run $r1 of forms: success, 5 records, cursor 2024-01-01T00:00:00.000000, [0-9.]* s$" "$T/job.log" ||
    fail "no run line: $(cat "$T/job.log")"

RECORDS=1 job job run forms --instance odk-sync-1 -- "$T/job/job.sh" 2>>"$T/job.log" || fail "second run"
assert_eq "second run saw the first's cursor" "forms|1|2024-01-01T00:00:00.000000" \
    "$(sed -n 2p "$JOB_SEEN" | cut -d'|' -f2-)"
grep -q "success, 1 record, cursor 2024-01-02T00:00:00.000000" "$T/job.log" || fail "no one-record line"

# No cursor= line: the run succeeds and the cursor stays.
NO_CURSOR=1 RECORDS=0 job job run forms -- "$T/job/job.sh" 2>>"$T/job.log" || fail "third run"
job job run forms -- "$T/job/job.sh" 2>>"$T/job.log" || fail "fourth run"
assert_eq "fourth run saw the second's cursor" "forms|1|2024-01-02T00:00:00.000000" \
    "$(sed -n 4p "$JOB_SEEN" | cut -d'|' -f2-)"

stream_status forms "$K"
assert_eq "status" "success|2024-01-03T00:00:00.000000|4|0|5" \
    "$(sf '"%s|%s|%d|%d|%d" % (v["status"], v["cursor"], v["successes"], v["failures"], v["last_records"])')"
assert_eq "history: records, cursor, metadata, instance" \
    "5:2024-01-03T00:00:00.000000:odk:$(hostname) 0:None:odk:$(hostname) 1:2024-01-02T00:00:00.000000:odk:odk-sync-1 5:2024-01-01T00:00:00.000000:odk:odk-sync-1" \
    "$(sf '" ".join("%s:%s:%s:%s" % (h["records"], h["cursor"], h["metadata"]["source"], h["instance"]) for h in v["history"])')"
assert_eq "metadata kept as the job wrote it" '{"forms":["a","b"],"source":"odk"}' \
    "$(sf 'v["history"][0]["metadata"]')"

# What the commands read back.
assert_eq "cursor show" 2024-01-03T00:00:00.000000 "$(job cursor show forms)"
job cursor show forms --json >"$T/show.json" || fail "cursor show --json"
assert_eq "cursor show --json" "forms|2024-01-03T00:00:00.000000|success|4|None" \
    "$(jq_ '"%s|%s|%s|%d|%s" % (v["name"], v["cursor"], v["status"], v["successes"], v["lease"])' "$T/show.json")"
job runs forms --limit 2 >"$T/runs.out" || fail "ferry runs"
assert_eq "runs: header and two rows" 3 "$(wc -l <"$T/runs.out")"
head -n 1 "$T/runs.out" | grep -q '^STREAM  *RUN  *STATUS  *STARTED  *DURATION  *RECORDS  *INSTANCE  *ERROR$' ||
    fail "runs header: $(head -n 1 "$T/runs.out")"
sed -n 2p "$T/runs.out" | grep -q "^forms  *[0-9][0-9]*  *success  *20[0-9-]*T[0-9:]*Z  *[0-9.]* s  *5  *$(hostname)$" ||
    fail "runs row: $(sed -n 2p "$T/runs.out")"
job runs --json --limit 1 >"$T/runs.json" || fail "ferry runs --json"
assert_eq "runs --json" "forms|1" \
    "$(jq_ '"%s|%d" % (v["streams"][0]["name"], len(v["streams"][0]["history"]))' "$T/runs.json")"

# A device's sync --every: each cycle sends its own Ferry-Run, so each is
# a run of its own in the device's history (without the header, requests
# within a minute would add up into one).
KD=$(make_key pc-1)
agent_init dev pc-1
app_sql "$T/dev/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, price REAL, data BLOB)"
KEY=$KD ferry_in dev track items >/dev/null || fail track
app_sql "$T/dev/app.db" "INSERT INTO items (id, name) VALUES (1, 'one')"
KEY=$KD ferry_bg dev sync --every 300ms 2>>"$T/sync.log" >/dev/null
P=$!
sleep 2
kill -TERM $P
wait $P || fail "sync --every exit"
cycles=$(grep -c 'sync: pushed\|sync: nothing to push' "$T/sync.log" || true)
rq GET "/v1/status?device=pc-1&history=100" "$KD" >/dev/null
runs=$(jq_ 'len(v["devices"][0]["history"])')
note "sync --every 300ms for 2 s: $runs device runs recorded"
[ "$runs" -ge 3 ] || fail "sync --every: $runs device runs in history, expected one per cycle"
assert_eq "the first cycle pushed and pulled" sync \
    "$(jq_ 'v["devices"][0]["history"][-1]["op"]')"

# The C API's example in docs/c-api.md, built against this build's
# libferry and run against ferryd: a run of main_submissions completed.
BUILD=$(cd "$(dirname "$FERRY")/.." && pwd)
awk '/^```c$/ { on = 1; next } on && /^```/ { exit } on { print }' \
    "$DOCS_ROOT/docs/c-api.md" | sed "s|http://127.0.0.1:8080|$URL|" >"$T/capi.c"
cat >>"$T/capi.c" <<'C'
#include <stdlib.h>
int main(void)
{
    int rc = sync_once(getenv("KEY"));

    printf("rc=%d %s\n", rc, ferry_strerror(rc));
    return rc != 0;
}
C
# shellcheck disable=SC2046
cc -std=c17 -Wall -Wextra -Werror ${FERRY_SANITIZE:+-fsanitize=$FERRY_SANITIZE} \
    -I"$DOCS_ROOT/include" -o "$T/capi" "$T/capi.c" "$BUILD/lib/libferry.a" \
    $(pkg-config --libs libcurl jansson sqlite3 libpq libmicrohttpd libcrypto zlib) \
    -lpthread 2>"$T/capi.cc" || fail "the C API example does not build: $(cat "$T/capi.cc")"
KEY=$K "$T/capi" >"$T/capi.out" 2>&1 || fail "the C API example: $(cat "$T/capi.out")"
stream_status main_submissions "$K"
assert_eq "the C API example's run" "success|2024-01-16T08:00:00.000000|17|odk-sync-1|3" \
    "$(sf '"%s|%s|%d|%s|%d" % (v["history"][0]["status"], v["cursor"], v["history"][0]["records"], v["history"][0]["instance"], v["history"][0]["metadata"]["forms"])')"
health_ok
