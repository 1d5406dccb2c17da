# The same batch sent twice is applied once; last writer wins by HLC
# whatever order devices sync in; a reinstalled agent (new database, same
# device) continues numbering above what the server acknowledged.
items_contract
ferryd_migrate
K1=$(make_key dev-a)
K2=$(make_key dev-b)
start_ferryd

row() { # seq hlc id name
    printf '{"seq":%s,"table":"items","op":"upsert","hlc":"%s","row":{"id":%s,"name":"%s"}}' "$@"
}
body="{\"device\":\"dev-a\",\"changes\":[$(row 1 0000000000010000 1 one),$(row 2 0000000000010001 2 two)]}"
assert_eq "first send" 200 "$(http_post /v1/push "$K1" "$body")"
grep -q '"applied":2' "$T/resp.json" || fail "first: $(cat "$T/resp.json")"
grep -q '"created":2' "$T/resp.json" || fail "first created: $(cat "$T/resp.json")"
assert_eq "second send" 200 "$(http_post /v1/push "$K1" "$body")"
grep -q '"applied":0' "$T/resp.json" || fail "resend applied: $(cat "$T/resp.json")"
grep -q '"skipped":2' "$T/resp.json" || fail "resend skipped: $(cat "$T/resp.json")"
grep -q '"acked_seq":2' "$T/resp.json" || fail "resend acked: $(cat "$T/resp.json")"
assert_eq "rows once" 2 "$(store_sql 'SELECT count(*) FROM items')"
assert_eq "changes counted once" 2 "$(device_changes dev-a)"

# A batch overlapping the acknowledged range applies only the new part.
body="{\"changes\":[$(row 2 0000000000010001 2 two),$(row 3 0000000000010002 3 three)]}"
assert_eq "overlap" 200 "$(http_post /v1/push "$K1" "$body")"
grep -q '"applied":1,.*"skipped":1' "$T/resp.json" || fail "overlap: $(cat "$T/resp.json")"

# Last writer wins by HLC: dev-b's older write arrives later and loses,
# its newer write wins; a tie on HLC goes to the larger device id.
body="{\"changes\":[$(row 1 0000000000000001 1 old-from-b)]}"
assert_eq "stale write" 200 "$(http_post /v1/push "$K2" "$body")"
grep -q '"stale":1' "$T/resp.json" || fail "stale: $(cat "$T/resp.json")"
assert_eq "older write lost" one "$(store_sql 'SELECT name FROM items WHERE id = 1')"
body="{\"changes\":[$(row 2 0000000000020000 2 new-from-b),$(row 3 0000000000010002 3 tie-b)]}"
assert_eq "newer write" 200 "$(http_post /v1/push "$K2" "$body")"
assert_eq "newer write won" new-from-b "$(store_sql 'SELECT name FROM items WHERE id = 2')"
assert_eq "tie to larger device" tie-b "$(store_sql 'SELECT name FROM items WHERE id = 3')"
# A delete with an older stamp than the row does not remove it; a newer
# delete does, and an older upsert cannot bring the row back.
body="{\"changes\":[{\"seq\":4,\"table\":\"items\",\"op\":\"delete\",\"hlc\":\"0000000000000002\",\"row\":{\"id\":2}},{\"seq\":5,\"table\":\"items\",\"op\":\"delete\",\"hlc\":\"0000000000030000\",\"row\":{\"id\":1}}]}"
assert_eq "deletes" 200 "$(http_post /v1/push "$K2" "$body")"
assert_eq "after deletes" "2 3" "$(store_sql 'SELECT id FROM items ORDER BY id' | tr '\n' ' ' | sed 's/ $//')"
body="{\"changes\":[$(row 4 0000000000020001 1 zombie)]}"
assert_eq "older upsert after delete" 200 "$(http_post /v1/push "$K1" "$body")"
assert_eq "tombstone holds" 0 "$(store_sql 'SELECT count(*) FROM items WHERE id = 1')"

# Reinstall: a brand-new agent database for dev-a must not reuse seqs the
# server already acknowledged (they would be skipped as duplicates).
KEY=$K1
agent_init a dev-a
fill_items "$T/a/app.db" 50
ferry_in a track items >/dev/null
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || fail "push after reinstall"
assert_eq "rows from reinstalled agent" 50 \
    "$(store_sql 'SELECT count(*) FROM items WHERE id <= 50 AND name LIKE '"'item %'")"
assert_eq "acked continues" 54 "$(device_acked dev-a)"
