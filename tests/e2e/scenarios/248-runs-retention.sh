# History retention: with history_retention 2 s and maintenance_interval
# 1 s, ferryd's housekeeping removes history rows older than that while
# runs go on, and keeps the status rows. On PostgreSQL two ferryd share
# the store and both prune: each removal is done by exactly one of them
# (ferryd logs a line per prune; the counts in both logs add up to the
# rows removed, none counted twice). On SQLite one ferryd does it all.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key sync-host)
echo '{"history_retention": 2, "maintenance_interval": 1}' >"$T/settings.json"
runs_ferryd 1 --config "$T/settings.json"
URLS=$RUNS_URL_1
if [ "$STORE" = pg ]; then
    runs_ferryd 2 --config "$T/settings.json"
    URLS="$RUNS_URL_1 $RUNS_URL_2"
fi
H=$(history_table)
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

# Runs through either ferryd for 7 s: a success on "a", a failure on "b"
# and a refused begin on "b" each round.
made=0
rounds=0
t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 7 ]; do
    for URL in $URLS; do
        rounds=$((rounds + 1))
        run=$(begin_run a "$K")
        end_run "$run" "$K" "{\"records\": $rounds, \"cursor\": \"c$rounds\"}"
        run=$(begin_run b "$K")
        assert_eq "a refused begin" 409 "$(rq POST /v1/streams/b/runs "$K" '{}')"
        end_run "$run" "$K" '{"error": "nope"}' fail
        made=$((made + 3))
    done
    sleep 0.2
done
# While runs went on, rows older than retention + interval (+ slack for a
# busy machine) were gone, and the newest ones were still there.
old=$(store_sql "SELECT count(*) FROM $H WHERE ended_ms < $(($(now_ms) - 5000))")
assert_eq "rows older than 5 s while runs went on" 0 "$old"
kept=$(store_sql "SELECT count(*) FROM $H")
{ [ "$kept" -gt 0 ] && [ "$kept" -lt "$made" ]; } ||
    fail "$kept history rows of $made made: nothing pruned, or the newest too"
stream_status a "$K" 10
assert_eq "the last run is in history" "c$rounds" "$(sf 'v["history"][0]["cursor"]')"

# Then everything goes, and the status rows stay.
i=0
until [ "$(store_sql "SELECT count(*) FROM $H")" = 0 ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "history not emptied: $(store_sql "SELECT count(*) FROM $H") rows"
    sleep 0.1
done
stream_status a "$K" 10
assert_eq "stream a kept" "success|c$rounds|$rounds|0|[]" \
    "$(sf '"%s|%s|%d|%d|%s" % (v["status"], v["cursor"], v["successes"], v["failures"], v["history"])')"
stream_status b "$K" 10
assert_eq "stream b kept" "failed|None|0|$rounds|nope|[]" \
    "$(sf '"%s|%s|%d|%d|%s|%s" % (v["status"], v["cursor"], v["successes"], v["failures"], v["last_error"], v["history"])')"

# Each removal logged once, by whichever ferryd did it.
pruned=0
for f in "$T"/ferryd-*.log; do
    n=$(sed -n 's/^ferryd: info: runs: pruned \([0-9]*\) run history rows\{0,1\} older than 2 s$/\1/p' "$f" |
        awk '{ s += $1 } END { print s + 0 }')
    note "$(basename "$f"): pruned $n rows in $(grep -c 'runs: pruned' "$f") passes"
    pruned=$((pruned + n))
done
assert_eq "rows pruned, as the logs count them" "$made" "$pruned"
for n in 1 ${RUNS_URL_2:+2}; do
    runs_ferryd_stop "$n"
done
grep -q 'AddressSanitizer\|runtime error' "$T"/ferryd-*.log &&
    fail "sanitizer: $(grep -h -m1 -A5 'Sanitizer\|runtime error' "$T"/ferryd-*.log)"
true
