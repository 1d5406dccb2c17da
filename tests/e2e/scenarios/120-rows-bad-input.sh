# The row API refuses bad input with the documented status and code each
# time (docs/api.md, "Rows"), stores nothing of a refused request, and
# keeps serving: unknown table or column, values and keys that do not fit,
# keys in the path that are not valid, other regions and devices, wrong
# tokens, a blob that is not stored, Idempotency-Key misuse.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "reports", "primary_key": ["video_id"], "blob_columns": ["audio_sha256"],
  "columns": [{"name": "video_id", "type": "text", "not_null": true},
              {"name": "title", "type": "text"},
              {"name": "views", "type": "integer"},
              {"name": "channel", "type": "text", "not_null": true},
              {"name": "audio_sha256", "type": "text"}]},
 {"name": "shifts", "primary_key": ["region", "id"], "region_column": "region",
  "columns": [{"name": "region", "type": "text", "not_null": true},
              {"name": "id", "type": "bigint", "not_null": true},
              {"name": "hours", "type": "double precision"}]},
 {"name": "notes", "primary_key": ["device", "id"], "device_column": "device",
  "columns": [{"name": "device", "type": "text", "not_null": true},
              {"name": "id", "type": "bigint", "not_null": true},
              {"name": "body", "type": "text"}]}]}
JSON
ferryd_migrate
KEY=$(make_key nas)
EU=$(make_key office-eu --region eu)
US=$(make_key office-us --region us)
start_ferryd
R=$URL/v1/tables

# req WHAT STATUS CODE METHOD PATH [BODY] [curl args...]: one request, its
# status and error code as documented; the key from $AS (default $KEY),
# the Content-Type from $CT
req() {
    _what=$1 _status=$2 _code=$3 _method=$4 _path=$5
    shift 5
    _body=${1:-}
    [ $# -gt 0 ] && shift
    if [ -n "$_body" ]; then
        _got=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X "$_method" \
            -H "X-Api-Key: ${AS:-$KEY}" -H "Content-Type: ${CT:-application/json}" \
            "$@" --data-binary "$_body" "$_path")
    else
        _got=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X "$_method" \
            -H "X-Api-Key: ${AS:-$KEY}" "$@" "$_path")
    fi
    assert_eq "$_what: status" "$_status" "$_got"
    if [ "$_code" != - ]; then
        assert_eq "$_what: code" "$_code" \
            "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$T/resp.json" 2>/dev/null)"
    fi
}
count() { store_sql "SELECT (SELECT count(*) FROM reports) + (SELECT count(*) FROM shifts) + (SELECT count(*) FROM notes)"; }

req "a report" 200 - POST "$R/reports/rows" '{"video_id": "v1", "channel": "c"}'
req "a shift of eu" 200 - POST "$R/shifts/rows" '{"region": "eu", "id": 1, "hours": 1}' -H "X-Api-Key: $EU"
before=$(count)

note "tables, columns, values"
req "unknown table" 404 unknown_table POST "$R/nope/rows" '{"a": 1}'
req "unknown table (GET)" 404 unknown_table GET "$R/nope/rows/1"
req "unknown column" 422 unknown_column POST "$R/reports/rows" '{"video_id": "v2", "channel": "c", "nope": 1}'
req "a value of the wrong type" 422 invalid_value POST "$R/reports/rows" '{"video_id": "v2", "channel": "c", "views": "many"}'
req "out of range" 422 invalid_value POST "$R/reports/rows" '{"video_id": "v2", "channel": "c", "views": 4294967296}'
req "key left out" 422 missing_key POST "$R/reports/rows" '{"channel": "c"}'
req "key null" 422 missing_key POST "$R/reports/rows" '{"video_id": null, "channel": "c"}'
req "NOT NULL left out of a new row" 422 missing_value POST "$R/reports/rows" '{"video_id": "v2"}'
req "NOT NULL set to null" 422 invalid_value PATCH "$R/reports/rows/v1" '{"channel": null}'
req "key too long" 422 key_too_long POST "$R/reports/rows" "{\"video_id\": \"$(printf '%03000d' 0)\", \"channel\": \"c\"}"
req "a blob column that is no hash" 422 invalid_value POST "$R/reports/rows" '{"video_id": "v2", "channel": "c", "audio_sha256": "nope"}'
req "a blob not stored" 422 missing_blob POST "$R/reports/rows" "{\"video_id\": \"v2\", \"channel\": \"c\", \"audio_sha256\": \"$(printf '%064d' 0)\"}"
grep -q "$(printf '%064d' 0)" "$T/resp.json" || fail "missing_blob names the hash: $(cat "$T/resp.json")"
req "a blob not stored (PATCH)" 422 missing_blob PATCH "$R/reports/rows/v1" "{\"audio_sha256\": \"$(printf '%064d' 0)\"}"
# A push naming a missing blob: refused per change, with its seq.
req "a push naming a blob not stored" 422 contract_violation POST "$URL/v1/push" \
    "{\"changes\": [{\"seq\": 1, \"table\": \"reports\", \"op\": \"upsert\", \"hlc\": \"0000000000010000\", \"row\": {\"video_id\": \"p1\", \"channel\": \"c\"}}, {\"seq\": 2, \"table\": \"reports\", \"op\": \"upsert\", \"hlc\": \"0000000000010000\", \"row\": {\"video_id\": \"p2\", \"channel\": \"c\", \"audio_sha256\": \"$(printf '%064d' 0)\"}}]}"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["error"]["changes"]; assert [(x["seq"], x["code"], x["status"]) for x in c] == [(2, "missing_blob", 422)], c' "$T/resp.json" ||
    fail "push error.changes: $(cat "$T/resp.json")"
req "the same key twice" 422 invalid_value POST "$R/reports/rows" '[{"video_id": "v2", "channel": "c"}, {"video_id": "v2", "channel": "d"}]'
req "one bad row of two" 422 unknown_column POST "$R/reports/rows" '[{"video_id": "v2", "channel": "c"}, {"video_id": "v3", "x": 1}]'
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["error"]["changes"]; assert c == [{"index": 1, "status": 422, "code": "unknown_column", "message": "table '"'reports'"' has no column '"'x'"'"}], c' "$T/resp.json" ||
    fail "error.changes: $(cat "$T/resp.json")"

note "bodies"
req "not JSON" 400 malformed POST "$R/reports/rows" '{"video_id": '
req "not an object" 400 malformed POST "$R/reports/rows" '"v2"'
req "an array of numbers" 400 malformed POST "$R/reports/rows" '[1, 2]'
req "a member twice" 400 malformed POST "$R/reports/rows" '{"video_id": "v2", "video_id": "v3", "channel": "c"}'
req "an empty array" 200 - POST "$R/reports/rows" '[]'
assert_eq "an empty array's answer" '{"results":[],"created":0,"updated":0}' "$(cat "$T/resp.json")"
req "PATCH with an array" 400 malformed PATCH "$R/reports/rows/v1" '[{"title": "x"}]'
python3 -c 'import json; print(json.dumps([{"video_id": "r%d" % i, "channel": "c"} for i in range(1001)]))' >"$T/big.json"
req "1001 rows" 413 body_too_large POST "$R/reports/rows" "$(cat "$T/big.json")"
CT=text/plain req "text/plain" 415 unsupported_media_type POST "$R/reports/rows" '{"video_id": "v2", "channel": "c"}'

note "keys in the path"
req "no such row (GET)" 404 row_not_found GET "$R/reports/rows/v9"
req "no such row (PATCH)" 404 row_not_found PATCH "$R/reports/rows/v9" '{"title": "x"}'
req "no such row (DELETE)" 404 row_not_found DELETE "$R/reports/rows/v9"
req "a broken escape" 400 bad_parameter GET "$R/reports/rows/v%zz1"
req "a composite key not an array" 400 bad_parameter GET "$R/shifts/rows/eu"
req "a composite key, broken JSON" 400 bad_parameter GET "$R/shifts/rows/%5B%22eu%22%2C1"
req "a composite key, one value" 400 bad_parameter GET "$R/shifts/rows/%5B%22eu%22%5D"
req "a composite key, three values" 400 bad_parameter GET "$R/shifts/rows/%5B%22eu%22%2C1%2C2%5D"
req "a composite key, a text id" 400 bad_parameter GET "$R/shifts/rows/%5B%22eu%22%2C%22one%22%5D"
req "a composite key, null" 400 bad_parameter GET "$R/shifts/rows/%5B%22eu%22%2Cnull%5D"
req "a text key (%2F inside)" 404 row_not_found GET "$R/reports/rows/a%2Fb"
req "an integer key that is not one" 400 bad_parameter DELETE "$R/notes/rows/%5B%22nas%22%2C%221x%22%5D"
# A key that is not URL-safe goes through percent-encoded, both ways.
odd='a b/c?d#e%f&g+h'
req "an odd key" 200 - POST "$R/reports/rows" "{\"video_id\": \"$odd\", \"channel\": \"c\"}"
enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$odd")
req "the odd key, encoded" 200 - GET "$R/reports/rows/$enc"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["key"] == {"video_id": sys.argv[2]}' "$T/resp.json" "$odd" ||
    fail "odd key: $(cat "$T/resp.json")"
req "the odd key, deleted" 200 - DELETE "$R/reports/rows/$enc"
req "the body's key is not the path's" 422 invalid_value PATCH "$R/reports/rows/v1" '{"video_id": "v2", "title": "x"}'
req "the body repeats the path's key" 200 - PATCH "$R/reports/rows/v1" '{"video_id": "v1", "title": "x"}'
req "another device's row" 403 forbidden PATCH "$R/notes/rows/%5B%22other%22%2C1%5D" '{"body": "x"}'

note "regions and keys"
AS=$US req "a row of another region" 403 region_scope POST "$R/shifts/rows" '{"region": "eu", "id": 2}'
AS=$US req "PATCH of another region's row" 403 region_scope PATCH "$R/shifts/rows/%5B%22eu%22%2C1%5D" '{"hours": 9}'
AS=$US req "DELETE of another region's row" 403 region_scope DELETE "$R/shifts/rows/%5B%22eu%22%2C1%5D"
AS=$US req "GET of another region's row" 404 row_not_found GET "$R/shifts/rows/%5B%22eu%22%2C1%5D"
AS=$EU req "GET of its region's row" 200 - GET "$R/shifts/rows/%5B%22eu%22%2C1%5D"
AS=fy_0000000000000000.0000000000000000000000000000000000000000000000000000000000000000 \
    req "a wrong token" 401 unauthorized POST "$R/reports/rows" '{"video_id": "v2", "channel": "c"}'
_got=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary '{"video_id": "v2", "channel": "c"}' "$R/reports/rows")
assert_eq "no token" 401 "$_got"
_got=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $KEY" --data-binary '{"video_id": "v2", "channel": "c"}' "$R/reports/rows")
assert_eq "Bearer works" 200 "$_got"
before=$((before + 1))

note "Idempotency-Key"
req "an empty one" 400 bad_parameter POST "$R/reports/rows" '{"video_id": "v3", "channel": "c"}' -H 'Idempotency-Key;'
req "256 characters" 400 bad_parameter POST "$R/reports/rows" '{"video_id": "v3", "channel": "c"}' -H "Idempotency-Key: $(printf '%0256d' 0)"
req "255 characters" 200 - POST "$R/reports/rows" '{"video_id": "v3", "channel": "c"}' -H "Idempotency-Key: $(printf '%0255d' 0)"
req "reused for another body" 422 idempotency_key_reused POST "$R/reports/rows" '{"video_id": "v4", "channel": "c"}' -H "Idempotency-Key: $(printf '%0255d' 0)"
req "reused for another path" 422 idempotency_key_reused PATCH "$R/reports/rows/v3" '{"video_id": "v3", "channel": "c"}' -H "Idempotency-Key: $(printf '%0255d' 0)"
AS=$EU req "another key's is its own" 200 - POST "$R/reports/rows" '{"video_id": "v4", "channel": "c"}' -H "Idempotency-Key: $(printf '%0255d' 0)"
before=$((before + 2))

assert_eq "nothing stored by refused requests" "$before" "$(count)"
assert_eq "the refused PATCHes changed nothing" "x|c|N" \
    "$(store_sql "SELECT title, channel, coalesce(audio_sha256, 'N') FROM reports WHERE video_id = 'v1'")"
grep -q 'AddressSanitizer\|runtime error' "$T/ferryd.log" && fail "sanitizer: $(grep -m1 -A5 'Sanitizer\|runtime error' "$T/ferryd.log")"
health_ok
