# The runs API refuses bad input with the documented status and code
# (docs/api.md, "Sync runs": Errors), table-driven, and a refused request
# changes nothing: GET /v1/status (every stream and device, all history)
# is the same JSON before and after, and the run that stayed live still
# completes. Unknown and malformed run ids, finished and expired runs,
# values out of range, stream names that are not names, bodies that are
# not JSON objects or too large, wrong content types, and every kind of
# wrong key.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key sync-host)
K2=$(make_key other-host)
KR=$(make_key revoked-host)
ADMIN=$(make_key ops --admin)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null || fail revoke
start_ferryd

# bad WHAT STATUS CODE METHOD PATH [BODY] [curl args...]: one request
# answered STATUS with error code CODE; the key is $AS (default $K).
bad() {
    _what=$1 _status=$2 _code=$3 _bm=$4 _bp=$5
    shift 5
    _got=$(rq "$_bm" "$_bp" "${AS-$K}" "$@")
    assert_eq "$_what: status ($(head -c 300 "$T/resp.json"))" "$_status" "$_got"
    [ "$_code" = - ] || assert_eq "$_what: code" "$_code" "$(jq_ 'v["error"]["code"]' 2>/dev/null)"
}

# A finished run, a run whose lease expired, and a live one (L).
done_=$(begin_run forms "$K")
end_run "$done_" "$K" '{"records": 3, "cursor": "c1"}'
exp=$(begin_run expiring "$K" host 1)
sleep 1.3
bad "complete after the lease expired" 409 lease_expired POST "/v1/runs/$exp/complete" '{"records": 1, "cursor": "late"}'
stream_status expiring "$K"
assert_eq "the expired run: abandoned, nothing it sent kept" "abandoned|None|abandoned" \
    "$(sf '"%s|%s|%s" % (v["status"], v["cursor"], v["history"][0]["status"])')"
bad "heartbeat after it was abandoned" 409 run_finished POST "/v1/runs/$exp/heartbeat" ''
L=$(begin_run forms "$K" host 600)
# Refused, and recorded as such (a begin's refusal is history): before the
# picture of what nothing else may change.
bad "import while a run holds the lease" 409 lease_held PUT /v1/streams/forms/cursor '{"cursor": "imported"}'
assert_eq "lease_held names the holder" "$L" "$(jq_ 'v["error"]["run"]')"
bad "begin while a run holds the lease" 409 lease_held POST /v1/streams/forms/runs '{}'
assert_eq "lease_held names the holder" "$L" "$(jq_ 'v["error"]["run"]')"

# At the limits: accepted (the refusals below are not off by one).
python3 -c 'import json; print(json.dumps({"records": 2 ** 53 - 1, "cursor": "c" * 4096,
    "metadata": {"blob": "x" * (65536 - len("{\"blob\":\"\"}"))}}))' >"$T/limits.json"
lim=$(begin_run limits "$K" "$(printf 'i%.0s' $(seq 200))" 86400)
end_run "$lim" "$K" "$(cat "$T/limits.json")"
assert_eq "the largest records and cursor" "9007199254740991 4096" "$(jq_ '"%d %d" % (v["records"], len(v["cursor"]))')"
S64=$(printf 's%.0s' $(seq 64))
lim=$(begin_run "$S64" "$K")
end_run "$lim" "$K" "{\"error\": \"$(printf 'e%.0s' $(seq 4096))\"}" fail

rq GET '/v1/status?history=1000' "$ADMIN" >/dev/null
cp "$T/resp.json" "$T/before.json"

note "run ids"
bad "unknown run (complete)" 404 run_not_found POST /v1/runs/999999/complete '{}'
bad "unknown run (fail)" 404 run_not_found POST /v1/runs/999999/fail '{"error": "x"}'
bad "unknown run (heartbeat)" 404 run_not_found POST /v1/runs/999999/heartbeat ''
for id in abc 0 -1 1.5 1e3 0x10 99999999999999999999999 ' 1' '1%00'; do
    bad "run id '$id'" 400 bad_parameter POST "/v1/runs/$(printf '%s' "$id" | sed 's/ /%20/g')/complete" '{}'
done
bad "completing twice" 409 run_finished POST "/v1/runs/$done_/complete" '{"records": 1, "cursor": "again"}'
assert_eq "completing twice: says how it ended" success "$(jq_ 'v["error"]["status"]')"
bad "failing a completed run" 409 run_finished POST "/v1/runs/$done_/fail" '{"error": "x"}'
AS=$K2 bad "another key's run (complete)" 404 run_not_found POST "/v1/runs/$L/complete" '{"cursor": "theirs"}'
AS=$K2 bad "another key's run (heartbeat)" 404 run_not_found POST "/v1/runs/$L/heartbeat" ''
AS=$K2 bad "another key's run (fail)" 404 run_not_found POST "/v1/runs/$L/fail" '{"error": "x"}'

note "values"
P=/v1/runs/$L/complete
bad "negative records" 422 invalid_value POST "$P" '{"records": -1}'
bad "records 2^53" 422 invalid_value POST "$P" '{"records": 9007199254740992}'
bad "records as text" 422 invalid_value POST "$P" '{"records": "5"}'
bad "records fractional" 422 invalid_value POST "$P" '{"records": 1.5}'
bad "a cursor over 4096 bytes" 422 invalid_value POST "$P" "{\"cursor\": \"$(printf '%04097d' 0)\"}"
bad "a cursor that is a number" 422 invalid_value POST "$P" '{"cursor": 17}'
python3 -c 'import json; print(json.dumps({"metadata": {"blob": "x" * (65537 - len("{\"blob\":\"\"}"))}}))' >"$T/meta.json"
bad "metadata of 64 KiB + 1 byte" 422 invalid_value POST "$P" "$(cat "$T/meta.json")"
bad "metadata not an object" 422 invalid_value POST "$P" '{"metadata": [1, 2]}'
bad "fail without an error" 422 invalid_value POST "/v1/runs/$L/fail" '{"records": 1}'
bad "fail with an empty error" 422 invalid_value POST "/v1/runs/$L/fail" '{"error": ""}'
bad "fail with an error over 4096 bytes" 422 invalid_value POST "/v1/runs/$L/fail" "{\"error\": \"$(printf 'e%.0s' $(seq 4097))\"}"
bad "fail with negative records" 422 invalid_value POST "/v1/runs/$L/fail" '{"error": "x", "records": -5}'
bad "heartbeat lease 0" 422 invalid_value POST "/v1/runs/$L/heartbeat" '{"lease_seconds": 0}'
bad "heartbeat lease over a day" 422 invalid_value POST "/v1/runs/$L/heartbeat" '{"lease_seconds": 86401}'
bad "begin lease 0" 422 invalid_value POST /v1/streams/fresh/runs '{"lease_seconds": 0}'
bad "begin lease as text" 422 invalid_value POST /v1/streams/fresh/runs '{"lease_seconds": "60"}'
bad "instance too long" 422 invalid_value POST /v1/streams/fresh/runs "{\"instance\": \"$(printf '%0201d' 0)\"}"
bad "instance empty" 422 invalid_value POST /v1/streams/fresh/runs '{"instance": ""}'
bad "import without a cursor" 422 invalid_value PUT /v1/streams/forms/cursor '{"source": "x"}'
bad "import of an empty cursor" 422 invalid_value PUT /v1/streams/forms/cursor '{"cursor": ""}'

note "stream names"
for name in "$(printf 'a%.0s' $(seq 65))" 'a%20b' 'a%2Fb' '%C3%BC' 'a*b' 'a%00b' '..%2F..' 'a:b'; do
    bad "stream '$name'" 400 bad_parameter POST "/v1/streams/$name/runs" '{}'
done
bad "an empty stream name" 400 bad_parameter POST /v1/streams//runs '{}'
# A client's URL path would collapse these: curl must be told not to.
bad "stream '.'" 400 bad_parameter POST /v1/streams/./runs '{}' --path-as-is
bad "stream '..'" 400 bad_parameter POST /v1/streams/../runs '{}' --path-as-is
bad "import to stream '..'" 400 bad_parameter PUT /v1/streams/../cursor '{"cursor": "x"}' --path-as-is
bad "import to a bad stream name" 400 bad_parameter PUT '/v1/streams/a%20b/cursor' '{"cursor": "x"}'
bad "status of a stream never run" 404 stream_not_found GET '/v1/status?stream=never'
bad "history 1001" 400 bad_parameter GET '/v1/status?history=1001'
bad "history -1" 400 bad_parameter GET '/v1/status?history=-1'
bad "history abc" 400 bad_parameter GET '/v1/status?history=abc'
bad "stream= and device= together" 400 bad_parameter GET '/v1/status?stream=forms&device=sync-host'
bad "another device's status" 403 forbidden GET '/v1/status?device=ops'

note "bodies"
bad "not JSON" 400 malformed POST "$P" '{"records": '
bad "an array" 400 malformed POST "$P" '[{"records": 1}]'
bad "a string" 400 malformed POST "$P" '"done"'
bad "a member twice" 400 malformed POST "$P" '{"records": 1, "records": 2}'
python3 -c 'import json; print(json.dumps({"metadata": {"x": "y" * (257 * 1024)}}))' >"$T/huge.json"
bad "a body over 256 KiB" 413 body_too_large POST "$P" "@$T/huge.json"
CT=text/plain bad "text/plain" 415 unsupported_media_type POST "$P" '{"records": 1}'
CT=- bad "no Content-Type" 415 unsupported_media_type POST "$P" '{"records": 1}'
bad "Idempotency-Key of 256 characters" 400 bad_parameter POST /v1/streams/fresh/runs '{}' \
    -H "Idempotency-Key: $(printf '%0256d' 0)"
bad "an empty Idempotency-Key" 400 bad_parameter POST /v1/streams/fresh/runs '{}' -H 'Idempotency-Key;'

note "keys"
AS='' bad "no key" 401 unauthorized POST "$P" '{"records": 1}'
AS=fy_0000000000000000.0000000000000000000000000000000000000000000000000000000000000000 \
    bad "a wrong key" 401 unauthorized POST "$P" '{"records": 1}'
AS=$KR bad "a revoked key" 401 unauthorized POST "$P" '{"records": 1}'
AS=$KR bad "a revoked key (begin)" 401 unauthorized POST /v1/streams/fresh/runs '{}'
AS='' bad "no key (status)" 401 unauthorized GET '/v1/status'

rq GET '/v1/status?history=1000' "$ADMIN" >/dev/null
python3 - "$T/before.json" "$T/resp.json" <<'PY' || fail "a refused request changed the status"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
if a != b:
    print("before: " + json.dumps(a, sort_keys=True))
    print("after:  " + json.dumps(b, sort_keys=True))
    sys.exit(1)
PY
grep -q fresh "$T/resp.json" && fail "a refused begin created stream 'fresh'"
end_run "$L" "$K" '{"records": 2, "cursor": "c2"}'
stream_status forms "$K"
assert_eq "the live run completed after all that" "success|c2|2" \
    "$(sf '"%s|%s|%d" % (v["status"], v["cursor"], v["successes"])')"
grep -q 'AddressSanitizer\|runtime error' "$T/ferryd.log" && fail "sanitizer: $(grep -m1 -A5 'Sanitizer\|runtime error' "$T/ferryd.log")"
health_ok
