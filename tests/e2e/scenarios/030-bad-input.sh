# Bad input gets the right status and error form, nothing is stored, and
# ferryd keeps serving: keys, scope, contract, JSON, size, media type, and
# the store being unavailable.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "device", "type": "text"},
              {"name": "hours", "type": "integer"}],
  "primary_key": ["id"], "device_column": "device",
  "region_column": "region"}]}
JSON
ferryd_migrate
KA=$(make_key ankara-pc --region ankara)
KI=$(make_key istanbul-pc --region istanbul)
KR=$(make_key revoked-pc)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null || fail revoke
FERRYD_ARGS="--max-body 65536"
export FERRY_SQLITE_BUSY_MS=1000
start_ferryd

ch() { # seq row-json [op] [table]
    printf '{"seq":%s,"table":"%s","op":"%s","hlc":"0000000000010000","row":%s}' \
        "$1" "${4:-ts}" "${3:-upsert}" "$2"
}
good=$(ch 1 '{"id":1,"hours":8}')

expect() { # what status code key body
    got=$(http_post /v1/push "$3" "$4")
    assert_eq "$1 status" "$2" "$got"
    grep -q "\"error\":{\"code\":\"$5\"" "$T/resp.json" ||
        fail "$1: error code $5 expected: $(cat "$T/resp.json")"
    assert_eq "$1 stored nothing" 0 "$(store_sql 'SELECT count(*) FROM ts')"
    health_ok
}

expect "no key" 401 "" "{\"changes\":[$good]}" unauthorized
expect "wrong key" 401 "fy_0000000000000000.$(printf '%064d' 0)" "{\"changes\":[$good]}" unauthorized
expect "garbage key" 401 "hello" "{\"changes\":[$good]}" unauthorized
expect "revoked key" 401 "$KR" "{\"changes\":[$good]}" unauthorized
expect "other region" 403 "$KA" "{\"changes\":[$(ch 1 '{"id":1,"region":"istanbul"}')]}" forbidden
expect "other device" 403 "$KA" "{\"device\":\"istanbul-pc\",\"changes\":[$good]}" forbidden
expect "unknown table" 404 "$KA" "{\"changes\":[$(ch 1 '{"id":1}' upsert nosuch)]}" unknown_table
expect "unknown column" 422 "$KA" "{\"changes\":[$(ch 1 '{"id":1,"bogus":2}')]}" contract_violation
grep -q '"code":"unknown_column"' "$T/resp.json" || fail "per-change code"
grep -q '"seq":1' "$T/resp.json" || fail "per-change seq"
expect "wrong type" 422 "$KA" "{\"changes\":[$(ch 1 '{"id":1,"hours":"eight"}')]}" contract_violation
expect "int32 overflow" 422 "$KA" "{\"changes\":[$(ch 1 '{"id":1,"hours":3000000000}')]}" contract_violation
expect "missing key" 422 "$KA" "{\"changes\":[$(ch 1 '{"hours":1}')]}" contract_violation
expect "bad hlc" 422 "$KA" '{"changes":[{"seq":1,"table":"ts","op":"upsert","hlc":"x","row":{"id":1}}]}' contract_violation
expect "bad op" 422 "$KA" "{\"changes\":[$(ch 1 '{"id":1}' merge)]}" contract_violation
expect "seq order" 422 "$KA" "{\"changes\":[$(ch 2 '{"id":1}'),$(ch 1 '{"id":2}')]}" contract_violation
expect "one bad of two" 422 "$KA" "{\"changes\":[$good,$(ch 2 '{"id":2,"x":1}')]}" contract_violation
expect "malformed json" 400 "$KA" '{"changes":[' malformed
expect "not an object" 400 "$KA" '[1,2]' malformed

# 413 from Content-Length before the body is read, and after gunzip.
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect "oversize" 413 "$KA" "{\"changes\":[],\"pad\":\"$big\"}" body_too_large
printf '{"changes":[],"pad":"%s"}' "$(head -c 200000 /dev/zero | tr '\0' 'b')" | gzip -c >"$T/bomb.gz"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KA" \
    -H "Content-Type: application/json" -H "Content-Encoding: gzip" \
    --data-binary @"$T/bomb.gz" "$URL/v1/push")
assert_eq "gzip over limit" 413 "$code"
printf 'not gzip' >"$T/bad.gz"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KA" \
    -H "Content-Type: application/json" -H "Content-Encoding: gzip" \
    --data-binary @"$T/bad.gz" "$URL/v1/push")
assert_eq "broken gzip" 400 "$code"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KA" \
    -H "Content-Type: text/plain" --data-binary "{\"changes\":[$good]}" "$URL/v1/push")
assert_eq "wrong content type" 415 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/push")
assert_eq "wrong method" 405 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/nowhere")
assert_eq "unknown path" 404 "$code"
assert_eq "still nothing stored" 0 "$(store_sql 'SELECT count(*) FROM ts')"

# gzip bodies just under the limit are fine; Bearer auth works too.
printf '{"changes":[],"pad":"%s"}' "$(head -c 60000 /dev/zero | tr '\0' 'c')" | gzip -c >"$T/ok.gz"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KA" \
    -H "Content-Type: application/json" -H "Content-Encoding: gzip" \
    --data-binary @"$T/ok.gz" "$URL/v1/push")
assert_eq "gzip under limit" 200 "$code"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $KA" -H "Content-Type: application/json" \
    --data-binary '{"changes":[]}' "$URL/v1/push")
assert_eq "bearer auth" 200 "$code"

# A good request works, with device and region stamped from the key.
assert_eq "good push" 200 "$(http_post /v1/push "$KA" "{\"changes\":[$(ch 1 '{"id":1,"hours":8,"device":"forged","region":null}')]}")"
assert_eq "stamped" "ankara|ankara-pc|8" "$(store_sql 'SELECT region, device, hours FROM ts')"
# Another region's key may not overwrite that row or delete it.
code=$(http_post /v1/push "$KI" "{\"changes\":[$(ch 1 '{"id":1,"hours":1}')]}")
assert_eq "cross-region overwrite" 403 "$code"
code=$(http_post /v1/push "$KI" "{\"changes\":[$(ch 1 '{"id":1}' delete)]}")
assert_eq "cross-region delete" 403 "$code"
assert_eq "row untouched" "ankara|8" "$(store_sql 'SELECT region, hours FROM ts')"

# The store unavailable: 503 with Retry-After, then recovery.
# contract_burst: 8 key checks at once, each on a store connection of
# its own while they overlap; prints their statuses.
contract_burst() {
    for _i in 1 2 3 4 5 6 7 8; do
        curl -s -o /dev/null -w '%{http_code}\n' -H "X-Api-Key: $KA" \
            "$URL/v1/contract" >"$T/burst.$_i" &
    done
    wait
    cat "$T"/burst.* | sort | uniq -c | tr -s ' ' | sed 's/^ //'
}
# The pool opens its connections: all of them die with the database.
assert_eq "burst before" "8 200" "$(contract_burst)"
case $STORE in
pg)
    psql "${STORE_URL%/*}/postgres" -qAt -c "ALTER DATABASE $(basename "$STORE_URL") ALLOW_CONNECTIONS false" >/dev/null
    psql "${STORE_URL%/*}/postgres" -qAt -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$(basename "$STORE_URL")'" >/dev/null
    ;;
sqlite)
    # Hold the write lock longer than ferryd's busy timeout.
    (sqlite3 "${STORE_URL#sqlite:}" "BEGIN EXCLUSIVE; SELECT count(*) FROM ts;" \
        ".shell sleep 4" "COMMIT;" >/dev/null 2>&1 &)
    sleep 0.5
    ;;
esac
curl -s -D "$T/hdr" -o "$T/resp.json" -X POST -H "X-Api-Key: $KA" \
    -H "Content-Type: application/json" \
    --data-binary "{\"changes\":[$(ch 2 '{"id":2,"hours":1}')]}" "$URL/v1/push" >/dev/null
head -n 1 "$T/hdr" | grep -q ' 503' || fail "store down: $(head -n 1 "$T/hdr") $(cat "$T/resp.json")"
grep -qi '^Retry-After: ' "$T/hdr" || fail "Retry-After missing"
grep -q '"store_unavailable"' "$T/resp.json" || fail "503 code: $(cat "$T/resp.json")"
if [ "$STORE" = pg ]; then
    code=$(curl -s -o "$T/resp.json" -w '%{http_code}' "$URL/health")
    assert_eq "health when down" 503 "$code"
    grep -q '"database":"disconnected"' "$T/resp.json" || fail "health body"
    psql "${STORE_URL%/*}/postgres" -qAt -c "ALTER DATABASE $(basename "$STORE_URL") ALLOW_CONNECTIONS true" >/dev/null
else
    sleep 4
fi
health_ok
assert_eq "after recovery" 200 "$(http_post /v1/push "$KA" "{\"changes\":[$(ch 2 '{"id":2,"hours":1}')]}")"
# Every pooled connection the server closed is found dead before it is
# used, not by a request that then fails 503.
assert_eq "burst after" "8 200" "$(contract_burst)"
assert_eq "rows" 2 "$(store_sql 'SELECT count(*) FROM ts')"
