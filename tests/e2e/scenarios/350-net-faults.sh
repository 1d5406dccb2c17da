# labels: slow
# Push, pull, blob uploads and tracked runs at once, all through the fault
# proxy (faultproxy.py: resets mid-request and mid-response, cut heads and
# bodies, blackholes, replays, latency and slow links, at random) while
# the apps keep writing. Agent a writes items (odd ids) and screenshots
# (files), agent b items (even ids); both `ferry sync --every`; a job
# machine runs `ferry job run` in a loop. Then the faults stop, and within
# 60 s of the last one everything has drained: the store's items equal
# both apps' (full-row digests, so b pulled a's rows and a b's), nothing
# was applied twice (ferryd applied no more changes than each agent
# numbered), every screenshot's blob is held whole with its sha256, and
# the stream's history is the jobs' chain of cursors 1..K with every run
# in it, once, and every `ferry job run` exited 0.
#
# Takes FAULT_SECONDS (default 120; 60 in the sanitizer builds, whose
# point is memory and undefined behaviour under faults, not their count)
# of faults plus the drain and checks: longer than the ~60 s of other
# scenarios on purpose, the faults need time to hit every flow many times. FAULT_SEED repeats the proxy's
# choices (the timing still varies). timeout_s is 10 s (blackholes cost
# one timeout each).
. "$E2E_DIR/netlib.sh"
_default_faults=120
[ -n "${FERRY_SANITIZE:-}" ] && _default_faults=60
FAULT_SECONDS=${FAULT_SECONDS:-$_default_faults}

net_setup 100 10

P=${FAULT_P:-0.03}
# shellcheck disable=SC2086
net_proxy --random off ${FAULT_SEED:+--seed $FAULT_SEED} --rate 262144 \
    --p reset_request=$P --p reset_response=$P --p cut_headers=$P \
    --p cut_body=$P --p blackhole=0.01 --p replay=$P \
    --p latency=0.2 --p slow=0.05
files_point a "$NET_URL"
files_point b "$NET_URL"
mkdir -p "$T/job" "$T/a/shots"
cat >"$T/job/config.json" <<JSON
{"ingestion": {"enabled": true, "mode": "api",
  "api": {"base_url": "$NET_URL", "auth_header": "X-Api-Key",
          "auth_env": "JOB_KEY"}},
 "ferry": {"timeout_s": 10}}
JSON
# The job: the stream's cursor is how many runs committed before it.
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
n=${FERRY_CURSOR:-0}
echo "$FERRY_RUN_ID $n" >>"$JOB_SEEN"
echo "records=1" >>"$FERRY_REPORT"
echo "cursor=$((n + 1))" >>"$FERRY_REPORT"
SH
chmod +x "$T/job/job.sh"
export JOB_SEEN="$T/job/seen"

# The apps' writes, a transaction every ~100 ms: upserts, updates and
# deletes of their own ids (a odd, b even), NULLs and blobs among them.
writer() { # APP PARITY
    while [ ! -f "$T/stop" ]; do
        app_sql "$1" "BEGIN;
          INSERT OR REPLACE INTO items VALUES (abs(random()) % 3000 * 2 + $2,
            'w ' || hex(randomblob(3)) || ' ü''\"', abs(random()) % 1000,
            abs(random()) % 100000 / 4.0,
            CASE WHEN abs(random()) % 3 = 0 THEN randomblob(abs(random()) % 300) END);
          INSERT OR REPLACE INTO items VALUES (abs(random()) % 3000 * 2 + $2,
            'v', NULL, NULL, NULL);
          UPDATE items SET qty = coalesce(qty, 0) + 1 WHERE id % 97 = abs(random()) % 97;
          DELETE FROM items WHERE id = (SELECT id FROM items
            WHERE id % 2 = $2 ORDER BY random() LIMIT 1) AND abs(random()) % 4 = 0;
          COMMIT" || fail "app write"
        sleep 0.1
    done
}

# Agent a's screenshots: a new file of 1 byte to 600 KB every ~0.5 s.
shooter() {
    n=0
    while [ ! -f "$T/stop" ]; do
        n=$((n + 1))
        head -c "$(rand_ms 1 600000)" /dev/urandom >"$T/a/shots/$n.bin"
        app_sql "$APPA" "INSERT INTO screenshots VALUES ($n,
            strftime('%Y-%m-%dT%H:%M:%f', 'now'), '$T/a/shots/$n.bin')" ||
            fail "screenshot row"
        sleep 0.5
    done
}

# The job machine: one `ferry job run` after the other; each exit status
# with the run it began (the last line the job wrote).
jobs_loop() {
    while [ ! -f "$T/stop" ]; do
        rc=0
        JOB_KEY=$KJ "$FERRY" --config "$T/job/config.json" job run counter \
            --lease 30 --instance j1 -- "$T/job/job.sh" 2>>"$T/job.log" || rc=$?
        echo "$rc $(tail -n 1 "$JOB_SEEN" 2>/dev/null)" >>"$T/job/exits"
    done
}

writer "$APPA" 1 &
WA=$!
writer "$APPB" 0 &
WB=$!
shooter &
WS=$!
jobs_loop &
WJ=$!
KEY=$KA ferry_bg a sync --every 500ms >/dev/null 2>>"$T/sync-a.log"
SA=$!
KEY=$KB ferry_bg b sync --every 500ms >/dev/null 2>>"$T/sync-b.log"
SB=$!

net_ctl random on >/dev/null
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt "$FAULT_SECONDS" ]; do
    sleep 5
    for p in $SA $SB $WA $WB $WS $WJ; do
        kill -0 "$p" 2>/dev/null || fail "process $p ended during the faults: $(tail -n 5 "$T/sync-a.log" "$T/sync-b.log" "$T/job.log")"
    done
done
net_ctl random off >/dev/null
: >"$T/stop"
wait $WA $WB $WS $WJ || fail "a writer failed"

# The drain: until both apps and the store agree, both outboxes are
# empty and every screenshot row is in the store.
sa_rows=$(app_sql "$APPA" "SELECT count(*) FROM screenshots")
drained() {
    [ "$(app_sql "$APPA" 'SELECT count(*) FROM _ferry_outbox')" = 0 ] &&
        [ "$(app_sql "$APPB" 'SELECT count(*) FROM _ferry_outbox')" = 0 ] &&
        [ "$(store_sql 'SELECT count(*) FROM screenshots')" = "$sa_rows" ] &&
        [ "$(digest_store)" = "$(digest_app "$APPA")" ] &&
        [ "$(digest_store)" = "$(digest_app "$APPB")" ]
}
until drained; do
    last=$(net_last_fault)
    [ "$(python3 -c "import time; print(int(time.time() - $last))")" -le 90 ] ||
        break # the asserts below say what is missing
    sleep 0.5
done
drain=$(python3 -c "import time; print('%.1f' % (time.time() - $(net_last_fault)))")
kill -TERM $SA $SB
wait $SA || fail "sync on a: exit $?"
wait $SB || fail "sync on b: exit $?"
net_stop
note "drained ${drain} s after the last fault"

assert_eq "items: store = a" "$(digest_app "$APPA")" "$(digest_store)"
assert_eq "items: store = b" "$(digest_app "$APPB")" "$(digest_store)"
for d in a b; do
    app=$T/$d/app.db
    assert_eq "$d: outbox drained" 0 "$(app_sql "$app" 'SELECT count(*) FROM _ferry_outbox')"
    assert_eq "$d: nothing dead" 0 "$(app_sql "$app" 'SELECT count(*) FROM _ferry_dead')"
    next=$(app_sql "$app" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
    [ "$(device_changes dev-$d)" -le $((next - 1)) ] ||
        fail "$d: more changes applied ($(device_changes dev-$d)) than numbered ($((next - 1)))"
    assert_eq "$d: acked the last seq" $((next - 1)) "$(device_acked dev-$d)"
done
python3 -c "import sys; sys.exit(0 if float('$drain') <= 60 else 1)" ||
    fail "drained $drain s after the last fault (more than 60 s)"

# Every screenshot: its row names its file's sha256, ferryd holds it whole.
KEY=$KA
assert_eq "screenshots in the store" "$sa_rows" "$(store_sql 'SELECT count(*) FROM screenshots')"
store_sql "SELECT id || ' ' || image_sha256 FROM screenshots ORDER BY id" >"$T/shots.txt"
while read -r id sha; do
    assert_eq "screenshot $id: sha256 of the row" "$(files_sha "$T/a/shots/$id.bin")" "$sha"
    files_get "$sha" "$T/got.bin"
    assert_eq "screenshot $id: blob" "$sha" "$(files_sha "$T/got.bin")"
done <"$T/shots.txt"

# The runs: successes carry the cursors 1..K in order (no run committed
# twice, none lost), every `ferry job run` that exited 0 is among them
# with the cursor its job wrote, and the stream's cursor is K.
curl -s -H "X-Api-Key: $KJ" "$URL/v1/status?stream=counter&history=1000" >"$T/status.json"
python3 - "$T/status.json" "$T/job/exits" <<'PY' >"$T/runs.out" || fail "runs: $(cat "$T/runs.out")"
import json, sys
st = json.load(open(sys.argv[1]))["streams"][0]
hist = list(reversed(st["history"]))
ok = [h for h in hist if h["status"] == "success"]
cursors = [h["cursor"] for h in ok]
assert cursors == [str(i) for i in range(1, len(ok) + 1)], cursors
assert st["cursor"] == str(len(ok)), (st["cursor"], len(ok))
assert st["successes"] == len(ok), (st["successes"], len(ok))
by_run = {h["run"]: h for h in hist}
exits = [l.split() for l in open(sys.argv[2])]
done = [e for e in exits if e[0] == "0"]
# Each job runs once and succeeds: through any fault, ferry job run must
# end it as done (a complete that hears run_finished is one that committed).
assert len(done) == len(exits), [e for e in exits if e[0] != "0"]
for rc, run, seen in done:
    h = by_run.get(int(run))
    assert h and h["status"] == "success" and h["cursor"] == str(int(seen) + 1), (run, h)
statuses = {}
for h in hist:
    statuses[h["status"]] = statuses.get(h["status"], 0) + 1
print("%d job runs (%d exit 0), history %s" % (len(exits), len(done),
      " ".join("%s=%d" % kv for kv in sorted(statuses.items()))))
PY
note "runs: $(cat "$T/runs.out")"
note "$(store_sql 'SELECT count(*) FROM items') items rows, $sa_rows screenshots," \
    "pushed a=$(device_changes dev-a) b=$(device_changes dev-b) changes," \
    "$FAULT_SECONDS s of faults, drained in $drain s"
note "faults: $(net_summary)"
