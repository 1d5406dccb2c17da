# GET /v1/trace/{table}/{key} (docs/api.md, "Trace") tells where one key
# stands in the store: stored (values, HLC, origin, region, version),
# deleted (the tombstone), never seen; with ?device= the device's
# acknowledged seq, whether the stored version is its own or superseded
# its delete, and whether its key may read the row ("read": "region").
# Admin keys only; unknown table 404, bad key 400, a device key 403, no key
# 401; a refused request changes nothing.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "sites", "primary_key": ["k"], "region_column": "region", "read": "region",
  "columns": [{"name": "k", "type": "text", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "v", "type": "text"}]},
 {"name": "items", "primary_key": ["id"], "read": "all",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "name", "type": "text"}]}]}
JSON
ferryd_migrate
KA=$(make_key dev-a --region r1)
KB=$(make_key dev-b --region r2)
ADM=$(make_key ops --admin)
start_ferryd

ch() { # seq op hlc row
    printf '{"seq":%s,"table":"sites","op":"%s","hlc":"%016x","row":%s}' "$1" "$2" "$3" "$4"
}
push() { # key changes... -> status
    _k=$1
    shift
    _b=$(printf '%s,' "$@")
    http_post /v1/push "$_k" "{\"changes\":[${_b%,}]}"
}
# trace PATH [KEY] -> status; the answer in $T/trace.json
trace() {
    curl -s -o "$T/trace.json" -w '%{http_code}' ${2:+-H "X-Api-Key: $2"} \
        "$URL/v1/trace/$1"
}
# j FILTER: one value of the last answer (jq -c)
j() {
    jq -c "$1" "$T/trace.json"
}
# HLCs as agents make them: milliseconds since 1970 << 16
T1=$(( $(date +%s)000 << 16 ))
T2=$((T1 + (1000 << 16)))
T3=$((T2 + (1000 << 16)))
H1=$(printf '%016x' "$T1")
H2=$(printf '%016x' "$T2")

assert_eq "a: x, y, z" 200 "$(push "$KA" "$(ch 1 upsert "$T1" '{"k":"x","v":"one"}')" \
    "$(ch 2 upsert "$T1" '{"k":"y","v":"gone"}')" "$(ch 3 delete "$T2" '{"k":"z"}')")"
assert_eq "a deletes y" 200 "$(push "$KA" "$(ch 4 delete "$T2" '{"k":"y"}')")"
# b writes z after a's delete of it: a's delete is superseded
assert_eq "b: z" 200 "$(push "$KB" "$(ch 1 upsert "$T3" '{"k":"z","v":"b wins"}')")"

# stored, with everything pull follows
assert_eq "x" 200 "$(trace sites/x "$ADM")"
assert_eq "x: state" '"stored"' "$(j .state)"
assert_eq "x: origin, region, hlc" "[\"dev-a\",\"r1\",\"$H1\"]" \
    "$(j '[.row.origin, .row.region, .row.hlc]')"
assert_eq "x: values" '{"k":"x","region":"r1","v":"one"}' "$(j .row.values)"
assert_eq "x: key, read" '[{"k":"x"},"region"]' "$(j '[.key, .read]')"
[ "$(j '.row.version | test("^[0-9]+\\.[0-9]+$")')" = true ] || fail "x: version $(j .row.version)"
assert_eq "x: no tombstone" null "$(j .tombstone)"
# the writer: its own version, readable, acked seq 4
assert_eq "x as dev-a" 200 "$(trace 'sites/x?device=dev-a' "$ADM")"
assert_eq "x as dev-a: device" '{"name":"dev-a","known":true,"acked_seq":4,"has_key":true,"region":"r1","wrote_current":true,"superseded":false,"readable":true,"unreadable_by":null}' \
    "$(j '.device | del(.last_push_at)')"
[ "$(j '.device.last_push_at | test("^20[0-9-]+T")')" = true ] || fail "last_push_at: $(j .device)"
# another region's device: outside its read scope
assert_eq "x as dev-b" 200 "$(trace 'sites/x?device=dev-b' "$ADM")"
assert_eq "x as dev-b" '[false,"region",false,null,1]' \
    "$(j '[.device.readable, .device.unreadable_by, .device.wrote_current, .device.superseded, .device.acked_seq]')"

# deleted: the tombstone, when (from its HLC), by whom
assert_eq "y" 200 "$(trace sites/y "$ADM")"
assert_eq "y: state" '"deleted"' "$(j .state)"
assert_eq "y: tombstone" "[\"dev-a\",\"r1\",\"$H2\",false,null]" \
    "$(j '[.tombstone.origin, .tombstone.region, .tombstone.hlc, .tombstone.stale, .row]')"
[ "$(j '.tombstone.deleted_at | test("^20[0-9-]+T.*Z$")')" = true ] || fail "deleted_at: $(j .tombstone)"

# superseded: a's delete lies under b's newer row
assert_eq "z as dev-a" 200 "$(trace 'sites/z?device=dev-a' "$ADM")"
assert_eq "z as dev-a" '["stored","dev-b",true,"dev-a",true,false]' \
    "$(j '[.state, .row.origin, .tombstone.stale, .tombstone.origin, .device.superseded, .device.readable]')"
assert_eq "z as dev-b" 200 "$(trace 'sites/z?device=dev-b' "$ADM")"
assert_eq "z as dev-b" '[true,false,true]' \
    "$(j '[.device.wrote_current, .device.superseded, .device.readable]')"

# a region's delete beside another region's older row deleted nothing
# (104): no proof that a's write was superseded
assert_eq "a deletes q late" 200 "$(push "$KA" "$(ch 5 delete "$T3" '{"k":"q"}')")"
assert_eq "b: an older q" 200 "$(push "$KB" "$(ch 2 upsert "$T1" '{"k":"q","v":"older"}')")"
assert_eq "q as dev-a" 200 "$(trace 'sites/q?device=dev-a' "$ADM")"
assert_eq "q as dev-a" '["stored","dev-b",true,null]' \
    "$(j '[.state, .row.origin, .tombstone.stale, .device.superseded]')"

# never seen; a device the store does not know
assert_eq "w" 200 "$(trace 'sites/w?device=nobody' "$ADM")"
assert_eq "w" '["unknown",null,null,false,0,null]' \
    "$(j '[.state, .row, .tombstone, .device.known, .device.acked_seq, .device.superseded]')"
# a key of an integer column, percent-encoded text keys
assert_eq "items 7" 200 "$(trace items/7 "$ADM")"
assert_eq "items 7" '["unknown",{"id":7},"all"]' "$(j '[.state, .key, .read]')"
assert_eq "sites a b" 200 "$(trace 'sites/a%20b' "$ADM")"
assert_eq "sites a b" '{"k":"a b"}' "$(j .key)"

# bad input: the right status and code, nothing changed
before=$(store_sql "SELECT count(*) FROM sites")
assert_eq "unknown table" 404 "$(trace nope/x "$ADM")"
assert_eq "unknown table: code" '"unknown_table"' "$(j .error.code)"
assert_eq "bad key" 400 "$(trace items/abc "$ADM")"
assert_eq "bad key: code" '"bad_parameter"' "$(j .error.code)"
assert_eq "bad device" 400 "$(trace 'sites/x?device=a%20b' "$ADM")"
assert_eq "bad device: code" '"bad_parameter"' "$(j .error.code)"
assert_eq "device key" 403 "$(trace sites/x "$KA")"
assert_eq "no key" 401 "$(trace sites/x)"
assert_eq "wrong key" 401 "$(trace sites/x "fk_nope")"
assert_eq "POST" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Api-Key: $ADM" "$URL/v1/trace/sites/x")"
assert_eq "nothing changed" "$before" "$(store_sql "SELECT count(*) FROM sites")"
health_ok
stop_ferryd
