# Health that notices silence, and its alerts. A device (dev-a) and a
# stream (forms) are expected every 4 s ("expect" in the settings); both
# sync, /health is healthy with both checks ok; both stop, and after their
# interval their checks turn stale with their names and ages, /health
# "degraded" (still 200; ?strict=1 503) with "database" untouched; both
# sync again and are ok. A fake receiver on loopback (alert_recv.py),
# which refuses the first POST (503: ferryd retries), gets exactly the
# two stale and the two recovered alerts, in order. /health/live answers
# 200 without the store. Then an interval learned from a stream's history
# (3 runs about 1 s apart: 3 x the median gap) makes its check stale too.
. "$E2E_DIR/runslib.sh"
setup_items_agent dev-a 50 3
KB=$(make_key dev-b)

mkdir -p "$T/recv"
python3 "$E2E_DIR/alert_recv.py" "$T/recv" 1 2>"$T/recv.log" &
RECV=$!
i=0
while [ ! -f "$T/recv/port" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "the receiver did not start: $(cat "$T/recv.log")"
    sleep 0.05
done
cat >"$T/settings.json" <<EOF
{"expect": {"streams": {"forms": "4s"}, "devices": {"dev-a": "4s"}},
 "alert_url": "http://127.0.0.1:$(cat "$T/recv/port")/hook",
 "alert_interval": 1}
EOF
stop_ferryd
FERRYD_ARGS="--config $T/settings.json" start_ferryd
files_point a "$URL"

# health [QUERY] -> status; the answer in $T/health.json
health() {
    curl -s -o "$T/health.json" -w '%{http_code}' "$URL/health${1:-}"
}
hq() {
    jq_ "$1" "$T/health.json"
}
# sync_both: dev-a pushes a new row, a run of forms completes
N=100
sync_both() {
    N=$((N + 1))
    app_sql "$APP" "INSERT INTO items (id, name) VALUES ($N, 'row $N')"
    ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
    end_run "$(begin_run forms "$KB")" "$KB" '{"records": 1}'
}
# wait_for WHAT SECONDS CONDITION: polls the shell condition
wait_for() {
    _end=$(($(date +%s) + $2))
    while ! eval "$3"; do
        [ "$(date +%s)" -gt "$_end" ] && fail "$1: not within $2 s"
        sleep 0.2
    done
}
alerts() {
    [ -f "$T/recv/alerts.jsonl" ] && wc -l <"$T/recv/alerts.jsonl" || echo 0
}

note "before anything synced: configured checks are pending, not stale"
assert_eq "health status" 200 "$(health)"
assert_eq "pending, healthy" "healthy pending pending" \
    "$(hq '"%s %s %s" % (v["status"], v["checks"]["device:dev-a"]["status"], v["checks"]["stream:forms"]["status"])')"

note "both sync: healthy, both ok; the old shape is kept"
sync_both
wait_for "dev-a's run recorded" 5 '[ "$(health; hq "v[\"checks\"][\"device:dev-a\"][\"status\"]")" = "200ok" ]'
assert_eq "shape" "connected ferryd $("$FERRYD" --version | cut -d' ' -f2) healthy" \
    "$(hq '"%s %s %s %s" % (v["database"], v["service"], v["version"], v["status"])')"
assert_eq "stream ok" "ok configured 4" "$(hq '"%s %s %d" % (v["checks"]["stream:forms"]["status"], v["checks"]["stream:forms"]["source"], v["checks"]["stream:forms"]["expected_s"])')"
assert_eq "only the expected ones" '["device:dev-a","stream:forms"]' "$(hq 'sorted(v["checks"])')"

note "silence: both stale after 4 s, degraded but 200"
wait_for "stale" 12 '[ "$(health; hq "v[\"status\"]")" = "200degraded" ]'
wait_for "both stale" 6 '[ "$(health; hq "\" \".join(sorted(c[\"status\"] for c in v[\"checks\"].values()))")" = "200stale stale" ]'
assert_eq "database untouched" connected "$(hq 'v["database"]')"
age=$(hq 'v["checks"]["device:dev-a"]["age_s"]')
[ "$age" -ge 4 ] || fail "stale with age $age"
assert_eq "named" "dev-a device" "$(hq '"%s %s" % (v["checks"]["device:dev-a"]["name"], v["checks"]["device:dev-a"]["kind"])')"
docs_block docs/api.md health-degraded >"$T/health.doc.json"
python3 - "$T/health.json" "$T/health.doc.json" <<'PY' || fail "api.md's degraded /health example has other fields than $(cat "$T/health.json")"
import json, sys
got, doc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert sorted(got) == sorted(doc)
for c in doc["checks"].values():
    assert sorted(c) == sorted(got["checks"]["device:dev-a"])
PY
assert_eq "strict: 503" 503 "$(health '?strict=1')"
curl -s "$URL/metrics" >"$T/m.txt"
assert_eq "ferry_health_checks" "2 0 0" "$(python3 "$E2E_DIR/promtext.py" "$T/m.txt" \
    "'%d %d %d' % (m('ferry_health_checks', status='stale'), m('ferry_health_checks', status='ok'), m('ferry_health_checks', status='pending'))")"
assert_eq "strict=0: 200" 200 "$(health '?strict=0')"
st=$(curl -s -o "$T/live.json" -w '%{http_code}' "$URL/health/live")
assert_eq "liveness" "200 alive" "$st $(jq_ 'v["status"]' "$T/live.json")"
wait_for "two stale alerts (the first POST refused, retried)" 20 '[ "$(alerts)" -ge 2 ]'
assert_eq "one refused attempt" 1 "$(wc -l <"$T/recv/refused.jsonl")"

note "both sync again: ok, and two recovered alerts"
sync_both
wait_for "recovered" 5 '[ "$(health; hq "v[\"status\"]")" = "200healthy" ]'
wait_for "two recovered alerts" 20 '[ "$(alerts)" -ge 4 ]'
stop_ferryd
sleep 1.5
docs_block docs/api.md alert >"$T/alert.doc.json"
docs_block docs/api.md health-degraded >"$T/health.doc.json"
python3 - "$T/recv/alerts.jsonl" "$T/alert.doc.json" "$T/health.doc.json" <<'PY' || fail "the alerts: $(cat "$T/recv/alerts.jsonl")"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
doc = json.load(open(sys.argv[2]))
assert all(sorted(g["body"]) == sorted(doc) for g in got), ("api.md's alert example has other fields", sorted(doc))
hdoc = json.load(open(sys.argv[3]))
check_keys = sorted(next(iter(hdoc["checks"].values())))
assert check_keys == sorted(k for k in doc if k not in ("event", "service", "instance", "at")), check_keys
assert all(g["ct"].startswith("application/json") for g in got), got
ev = [(g["body"]["event"], g["body"]["kind"] + ":" + g["body"]["name"]) for g in got]
assert sorted(ev[:2]) == [("stale", "device:dev-a"), ("stale", "stream:forms")], ev
assert sorted(ev[2:]) == [("recovered", "device:dev-a"), ("recovered", "stream:forms")], ev
assert len(ev) == 4, ev
for g in got:
    b = g["body"]
    assert b["service"] == "ferryd" and b["instance"] and b["at"].endswith("Z"), b
    assert b["expected_s"] == 4 and b["source"] == "configured", b
    assert b["status"] == ("stale" if b["event"] == "stale" else "ok"), b
    assert b["last_success"].endswith("Z"), b
    if b["event"] == "stale":
        assert b["age_s"] >= 4, b
PY
kill "$RECV"
wait "$RECV" 2>/dev/null || true

note "a learned interval: 3 x the median gap of the last successful runs"
cat >"$T/learn.json" <<'EOF'
{"expect": {"learn": {"runs": 5, "factor": 3, "floor": "1s"}}}
EOF
FERRYD_ARGS="--config $T/learn.json" start_ferryd
for i in 1 2 3; do
    end_run "$(begin_run nightly "$KB")" "$KB" '{"records": 1}'
    [ $i -lt 3 ] && sleep 1
done
assert_eq "learned" 200 "$(health)"
assert_eq "learned check ok" "ok learned 3" \
    "$(hq '"%s %s %d" % (v["checks"]["stream:nightly"]["status"], v["checks"]["stream:nightly"]["source"], v["checks"]["stream:nightly"]["expected_s"])')"
wait_for "the learned check turns stale" 10 '[ "$(health; hq "v[\"checks\"][\"stream:nightly\"][\"status\"]")" = "200stale" ]'
assert_eq "degraded" degraded "$(hq 'v["status"]')"
