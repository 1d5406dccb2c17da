# Bounds on a push, the same on both stores: seq at most 2^53 - 1, no key
# given twice in a JSON object, numerics within the double range (the SQLite
# store would hold Inf). On the SQLite store a write-locked file answers 503
# with Retry-After after one busy timeout, not 200 after two.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "m",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "n", "type": "numeric"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key dev-1)
KEY2=$(make_key dev-2)
export FERRY_SQLITE_BUSY_MS=1500
start_ferryd

ch() { # seq row
    printf '{"seq":%s,"table":"m","op":"upsert","hlc":"0000000000010000","row":%s}' "$1" "$2"
}
expect() { # what status code body
    got=$(http_post /v1/push "$KEY" "$4")
    assert_eq "$1 status ($(cat "$T/resp.json"))" "$2" "$got"
    grep -q "\"code\":\"$3\"" "$T/resp.json" || fail "$1: code $3: $(cat "$T/resp.json")"
    assert_eq "$1 stored nothing" 0 "$(store_sql 'SELECT count(*) FROM m')"
}

expect "seq 2^53" 422 invalid_change "{\"changes\":[$(ch 9007199254740992 '{"id":1}')]}"
expect "seq near INT64_MAX" 422 invalid_change "{\"changes\":[$(ch 9223372036854775807 '{"id":1}')]}"
expect "duplicate key in a row" 400 malformed "{\"changes\":[$(ch 1 '{"id":1,"id":2}')]}"
expect "duplicate key in a change" 400 malformed '{"changes":[{"seq":1,"seq":2,"table":"m","op":"upsert","hlc":"0000000000010000","row":{"id":1}}]}'
expect "duplicate key in the body" 400 malformed '{"changes":[],"changes":[]}'
for n in '"1e999999"' '"-1e400"' "\"1$(head -c 2000 /dev/zero | tr '\0' 0)\"" '"1e-400"' \
    "\"0.$(head -c 2000 /dev/zero | tr '\0' 0)1\""; do
    expect "numeric $(echo "$n" | cut -c1-12)" 422 invalid_value "{\"changes\":[$(ch 1 "{\"id\":1,\"n\":$n}")]}"
done
got=$(http_post /v1/push "$KEY" "{\"changes\":[$(ch 9007199254740991 '{"id":1,"n":"1e308"}')]}")
assert_eq "largest seq and numeric ($(cat "$T/resp.json"))" 200 "$got"
assert_eq "acked" 9007199254740991 "$(device_acked dev-1)"

if [ "$STORE" = sqlite ]; then
    # A writer holds the store for 2.5 s: the push waits one busy timeout
    # (1.5 s) and gets 503. Waiting two would see the lock go and get 200.
    { echo "BEGIN IMMEDIATE; INSERT INTO ferry_meta VALUES ('lock', 1);"; sleep 2.5; echo "ROLLBACK;"; } |
        sqlite3 "${STORE_URL#sqlite:}" &
    sleep 0.3
    t0=$(date +%s%N)
    code=$(curl -s -D "$T/hdr" -o "$T/resp.json" -w '%{http_code}' -X POST \
        -H "Content-Type: application/json" -H "X-Api-Key: $KEY2" \
        --data-binary "{\"changes\":[$(ch 1 '{"id":2}')]}" "$URL/v1/push")
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait $!
    note "locked store answered $code after $ms ms"
    assert_eq "locked store" 503 "$code"
    grep -qi '^retry-after:' "$T/hdr" || fail "no Retry-After"
    [ "$ms" -ge 1400 ] && [ "$ms" -lt 2200 ] || fail "waited $ms ms, want one busy timeout (1500)"
    got=$(http_post /v1/push "$KEY2" "{\"changes\":[$(ch 1 '{"id":2}')]}")
    assert_eq "after the lock" 200 "$got"
fi
health_ok
