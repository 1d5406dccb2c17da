# GET /metrics after real traffic, parsed by a strict text-format parser
# (promtext.py): the counters are exactly what the scenario sent. An
# agent pushes 12 rows in batches of 5, then 3 updates and 2 deletes; curl sends a batch seen already (1 skipped change), a
# batch with one bad value and one with an unknown table (refused whole:
# 2 rejected changes, and no series for the unknown table), two pulls, a
# row through the row API, a blob of 3000 bytes up and down, a run (a live
# lease while it runs), requests no route takes, and a POST to /metrics.
. "$E2E_DIR/runslib.sh"
PROM="python3 $E2E_DIR/promtext.py"
# An expected interval for dev-a, for ferry_health_checks.
printf '{"expect": {"devices": {"dev-a": "1h"}}}\n' >"$T/expect.json"
FERRYD_ARGS="--config $T/expect.json"
setup_items_agent dev-a 5 12
FERRYD_ARGS=
ADMIN=$(make_key ops --admin)

# scrape FILE: GET /metrics into FILE, must be 200 and parse
scrape() {
    _st=$(curl -s -D "$T/metrics.h" -o "$1" -w '%{http_code}' ${2:+-H "$2"} "$URL/metrics")
    assert_eq "GET /metrics status" 200 "$_st"
    grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/metrics.h" ||
        fail "content type: $(cat "$T/metrics.h")"
    $PROM "$1" >/dev/null || fail "the exposition does not parse (kept in $1)"
}

# q FILE EXPR: EXPR of promtext.py on FILE
q() {
    $PROM "$1" "$2"
}

note "a fresh server: every family, rows at 0 for the contract's table"
scrape "$T/m0.txt"
for fam in ferry_build_info ferry_process_start_time_seconds \
    ferry_rows_applied_total ferry_push_rejected_changes_total \
    ferry_blob_bytes_total ferry_store_errors_total ferry_store_pool_waits_total \
    ferry_store_pool_wait_seconds_total ferry_store_pool_timeouts_total \
    ferry_active_leases ferry_device_acked_seq ferry_device_last_push_age_seconds; do
    assert_eq "family $fam" True "$(q "$T/m0.txt" "'$fam' in types")"
done
assert_eq "build info" 1 "$(q "$T/m0.txt" "m('ferry_build_info', version='$("$FERRYD" --version | cut -d' ' -f2)')")"
assert_eq "rows at 0" 0 "$(q "$T/m0.txt" "s('ferry_rows_applied_total')")"
now=$(date +%s)
start=$(q "$T/m0.txt" "m('ferry_process_start_time_seconds')")
[ "$start" -le "$now" ] && [ "$start" -gt $((now - 120)) ] || fail "start time $start (now $now)"

note "traffic"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail push
app_sql "$APP" "UPDATE items SET qty = -1 WHERE id IN (1, 2, 3);
    DELETE FROM items WHERE id IN (4, 5)"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "second push"
acked=$(device_acked dev-a)
# A batch acknowledged already: one change, skipped.
st=$(http_post /v1/push "$KEY" '{"changes": [{"seq": 1, "table": "items",
    "op": "upsert", "hlc": "0000000000010000", "row": {"id": 1, "name": "x"}}]}')
assert_eq "replayed push" 200 "$st"
# Refused whole: one bad value of two; one unknown table.
st=$(http_post /v1/push "$KEY" "{\"changes\": [
    {\"seq\": $((acked + 1)), \"table\": \"items\", \"op\": \"upsert\",
     \"hlc\": \"0000000000010000\", \"row\": {\"id\": 100, \"name\": \"ok\"}},
    {\"seq\": $((acked + 2)), \"table\": \"items\", \"op\": \"upsert\",
     \"hlc\": \"0000000000010000\", \"row\": {\"id\": 101, \"name\": \"x\", \"qty\": \"many\"}}]}")
assert_eq "push with a bad value" 422 "$st"
st=$(http_post /v1/push "$KEY" "{\"changes\": [{\"seq\": $((acked + 1)),
    \"table\": \"no_such_table\", \"op\": \"upsert\", \"hlc\": \"0000000000010000\",
    \"row\": {\"id\": 1}}]}")
assert_eq "push to an unknown table" 404 "$st"
for i in 1 2; do
    st=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" "$URL/v1/changes?limit=5")
    assert_eq "pull $i" 200 "$st"
done
st=$(rq POST /v1/tables/items/rows "$KEY" '{"id": 200, "name": "by the row API"}')
assert_eq "row API create" 200 "$st"
head -c 3000 /dev/urandom >"$T/blob.bin"
sha=$(blob_sha "$T/blob.bin")
assert_eq "blob upload" 201 "$(blob_put "$sha" "$KEY" "$T/blob.bin")"
assert_eq "blob download" 200 "$(blob_get "$sha" "$KEY" "$T/blob.out")"
cmp -s "$T/blob.bin" "$T/blob.out" || fail "blob round trip"
run=$(begin_run forms "$KEY" host 600)
assert_eq "no route" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/no/such/path")"
assert_eq "no route, odd method" 404 "$(curl -s -o /dev/null -w '%{http_code}' -X BREW "$URL/pot")"
assert_eq "POST /metrics" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")"
assert_eq "PUT /metrics" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d x "$URL/metrics")"
scrape "$T/m1.txt"

note "counters match the traffic"
R='ferry_rows_applied_total'
assert_eq "created" 13 "$(q "$T/m1.txt" "m('$R', table='items', outcome='created')")"
assert_eq "updated" 3 "$(q "$T/m1.txt" "m('$R', table='items', outcome='updated')")"
assert_eq "deleted" 2 "$(q "$T/m1.txt" "m('$R', table='items', outcome='deleted')")"
assert_eq "skipped" 1 "$(q "$T/m1.txt" "m('$R', table='items', outcome='skipped')")"
assert_eq "stale" 0 "$(q "$T/m1.txt" "m('$R', table='items', outcome='stale')")"
assert_eq "only the contract's table" "['items']" "$(q "$T/m1.txt" "labels('$R', 'table')")"
assert_eq "rejected changes" 2 "$(q "$T/m1.txt" "m('ferry_push_rejected_changes_total')")"
H='ferry_http_requests_total'
# The agent's own pushes (how many requests its batches took) are counted
# from ferryd's access log, an independent record.
assert_eq "pushes answered 200" "$(grep -c 'http: POST /v1/push 200 ' "$T/ferryd.log")" "$(q "$T/m1.txt" "m('$H', route='/v1/push', method='POST', status='200')")"
assert_eq "pushes answered 422" 1 "$(q "$T/m1.txt" "m('$H', route='/v1/push', method='POST', status='422')")"
assert_eq "pushes answered 404" 1 "$(q "$T/m1.txt" "m('$H', route='/v1/push', method='POST', status='404')")"
assert_eq "pulls" 2 "$(q "$T/m1.txt" "m('$H', route='/v1/changes', method='GET', status='200')")"
B='/v1/blobs/{sha256:sha256}'
assert_eq "blob PUT" 1 "$(q "$T/m1.txt" "m('$H', route='$B', method='PUT', status='201')")"
assert_eq "blob GET" 1 "$(q "$T/m1.txt" "m('$H', route='$B', method='GET', status='200')")"
assert_eq "unmatched GET" 1 "$(q "$T/m1.txt" "m('$H', route='unmatched', method='GET', status='404')")"
assert_eq "unmatched odd method" 1 "$(q "$T/m1.txt" "m('$H', route='unmatched', method='other', status='404')")"
assert_eq "405 of /metrics" 2 "$(q "$T/m1.txt" "s('$H', route='unmatched', status='405')")"
assert_eq "no raw path as a label" "False" "$(q "$T/m1.txt" "any('/no/such' in r or '$sha' in r for r in labels('$H', 'route'))")"
assert_eq "scrapes counted" 1 "$(q "$T/m1.txt" "m('$H', route='/metrics', method='GET', status='200')")"
D='ferry_http_request_duration_seconds'
assert_eq "latency count = requests, per route" \
    "$(q "$T/m1.txt" "s('$H', route='/v1/push')")" \
    "$(q "$T/m1.txt" "m('${D}_count', route='/v1/push', method='POST')")"
assert_eq "blob bytes in" 3000 "$(q "$T/m1.txt" "m('ferry_http_request_body_bytes_total', route='$B', method='PUT')")"
assert_eq "blob bytes uploaded" 3000 "$(q "$T/m1.txt" "m('ferry_blob_bytes_total', direction='uploaded')")"
assert_eq "blob bytes served" 3000 "$(q "$T/m1.txt" "m('ferry_blob_bytes_total', direction='served')")"
assert_eq "a live lease" 1 "$(q "$T/m1.txt" "m('ferry_active_leases')")"
assert_eq "acked seq" "$(device_acked dev-a)" "$(q "$T/m1.txt" "m('ferry_device_acked_seq', device='dev-a')")"
age=$(q "$T/m1.txt" "m('ferry_device_last_push_age_seconds', device='dev-a')")
[ "$age" -ge 0 ] && [ "$age" -le 60 ] || fail "last push age $age"
assert_eq "no store errors" 0 "$(q "$T/m1.txt" "s('ferry_store_errors_total')")"
assert_eq "store read" 1 "$(q "$T/m1.txt" "m('ferry_metrics_store_up')")"
# dev-a's one check: ok, or pending until its device run is written
# (once a second) as a success; never stale.
assert_eq "health checks: dev-a's" "1 0" "$(q "$T/m1.txt" "'%d %d' % (s('ferry_health_checks'), m('ferry_health_checks', status='stale'))")"

end_run "$run" "$KEY" '{"records": 1}'
scrape "$T/m2.txt"
assert_eq "the lease ended" 0 "$(q "$T/m2.txt" "m('ferry_active_leases')")"
sage=$(q "$T/m2.txt" "m('ferry_stream_last_success_age_seconds', stream='forms')")
python3 -c "import sys; sys.exit(not 0 <= float('$sage') < 60)" || fail "stream age $sage"
assert_eq "counters only grow" 13 "$(q "$T/m2.txt" "m('$R', table='items', outcome='created')")"

note "metrics_auth admin, metrics_devices 0"
stop_ferryd
printf '{"metrics_auth": "admin", "metrics_devices": 0}\n' >"$T/metrics.json"
FERRYD_ARGS="--config $T/metrics.json" start_ferryd
bad_status() { # WHAT STATUS [HEADER]
    _st=$(curl -s -o "$T/resp.json" -w '%{http_code}' ${3:+-H "$3"} "$URL/metrics")
    assert_eq "$1" "$2" "$_st"
}
bad_status "no key" 401
bad_status "a device key" 403 "X-Api-Key: $KEY"
bad_status "a wrong key" 401 "X-Api-Key: fy_0123456789abcdef.$(printf '0%.0s' $(seq 64))"
bad_status "not a key" 401 "Authorization: Bearer nonsense"
scrape "$T/m3.txt" "Authorization: Bearer $ADMIN"
assert_eq "no device series" 0 "$(q "$T/m3.txt" "n('ferry_device_acked_seq') + n('ferry_device_last_push_age_seconds')")"
assert_eq "refusals counted" 3 "$(q "$T/m3.txt" "m('$H', route='/metrics', method='GET', status='401')")"
stop_ferryd

note "bad settings: exit 3, naming the key"
for cfg in '{"metrics_auth": "yes"}' '{"metrics_auth": 1}' '{"metrics_devices": -1}' \
    '{"metrics_devices": "all"}' '{"metrics_devices": 1000001}'; do
    printf '%s\n' "$cfg" >"$T/bad.json"
    rc=0
    "$FERRYD" --config "$T/bad.json" --store "$STORE_URL" --contract "$T/contract.json" \
        serve --listen 127.0.0.1:0 >/dev/null 2>"$T/bad.err" || rc=$?
    assert_eq "$cfg: exit" 3 "$rc"
    grep -q metrics_ "$T/bad.err" || fail "$cfg: the message names the key: $(cat "$T/bad.err")"
done

note "docs/operations.md: the scrape config and the alert rules parse, and"
note "every family the rules name is served"
docs_block docs/operations.md scrape-config >"$T/scrape.yml"
docs_block docs/operations.md alert-rules >"$T/rules.yml"
assert_eq "scrape config" ok "$(python3 "$E2E_DIR/rules_check.py" scrape "$T/scrape.yml")"
n=$(python3 "$E2E_DIR/rules_check.py" rules "$T/rules.yml" "$T/m1.txt") || fail "alert rules: $n"
[ "$n" -ge 5 ] || fail "alert rules: $n rules"
