# A region-scoped key's delete leaves a tombstone of its own region only:
# a delete of a key that does not exist, with a high HLC, does not keep the
# rightful region's later upsert of that key out of the store. A tombstone
# still shadows its own region's older writes, and an unscoped key's
# tombstone shadows every region's.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "sites",
  "columns": [{"name": "k", "type": "text", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "v", "type": "text"}],
  "primary_key": ["k"], "region_column": "region"}]}
JSON
ferryd_migrate
KA=$(make_key pc-ankara --region ankara)
KI=$(make_key pc-istanbul --region istanbul)
KG=$(make_key hq)
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
HIGH=$((1 << 40))
# Ankara deletes keys it never had, with a high HLC.
assert_eq "ankara deletes" 200 "$(push "$KA" "$(ch 1 delete $HIGH '{"k":"x"}')" "$(ch 2 delete $HIGH '{"k":"own"}')")"
# Istanbul's older upsert of x is still stored: not Ankara's to shadow.
assert_eq "istanbul upserts" 200 "$(push "$KI" "$(ch 1 upsert 1000 '{"k":"x","v":"ist"}')")"
grep -q '"created":1' "$T/resp.json" || fail "istanbul's row was shadowed: $(cat "$T/resp.json")"
assert_eq "istanbul's row" "x|istanbul|ist" "$(store_sql 'SELECT k, region, v FROM sites')"
# Ankara's own older write of a key it deleted stays deleted.
assert_eq "ankara's older write" 200 "$(push "$KA" "$(ch 3 upsert 1000 '{"k":"own","v":"old"}')")"
grep -q '"stale":1' "$T/resp.json" || fail "own tombstone: $(cat "$T/resp.json")"
# Ankara may not delete Istanbul's row.
assert_eq "ankara deletes istanbul's row" 403 "$(push "$KA" "$(ch 4 delete $HIGH '{"k":"x"}')")"
# An unscoped key's delete shadows every region.
assert_eq "hq deletes" 200 "$(push "$KG" "$(ch 1 delete $HIGH '{"k":"y"}')")"
assert_eq "istanbul after hq" 200 "$(push "$KI" "$(ch 2 upsert 1000 '{"k":"y","v":"late"}')")"
grep -q '"stale":1' "$T/resp.json" || fail "hq tombstone: $(cat "$T/resp.json")"
assert_eq "rows" "x|istanbul" "$(store_sql 'SELECT k, region FROM sites ORDER BY k')"
