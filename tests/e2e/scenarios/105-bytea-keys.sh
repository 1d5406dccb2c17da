# Two bytea keys are two rows whatever bytes they hold: keys that differ
# only after a NUL byte (x'0001' and x'0002', base64 "AAE=" / "AAI=") were
# one key to ferryd's grouping (it read the key as a C string), so a batch
# of both answered created 1 and stored one row. A generated family of
# binary keys (every byte value after a leading NUL, NUL runs of every
# length, a composite key with a bytea part) posted in one batch each must
# store exactly as many rows as distinct keys, on both stores.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "k_bytea", "columns": [{"name": "k", "type": "bytea", "not_null": true},
                                 {"name": "v", "type": "text"}], "primary_key": ["k"]},
 {"name": "k_mix", "columns": [{"name": "a", "type": "text", "not_null": true},
                               {"name": "b", "type": "bytea", "not_null": true},
                               {"name": "v", "type": "text"}], "primary_key": ["a", "b"]}]}
JSON
ferryd_migrate
KEY=$(make_key dev-1)
start_ferryd

SEQ=0
# fixs_batch TABLE OP:ROW...: one batch, seqs numbered on; GOT = status
# (not run in $(...): SEQ must carry over to the next batch)
fixs_batch() {
    _t=$1 _body=
    shift
    for _c in "$@"; do
        SEQ=$((SEQ + 1))
        _body="$_body${_body:+,}$(printf '{"seq":%d,"table":"%s","op":"%s","hlc":"%016x","row":%s}' \
            "$SEQ" "$_t" "${_c%%:*}" $((SEQ + 65536)) "${_c#*:}")"
    done
    GOT=$(http_post /v1/push "$KEY" "{\"changes\":[$_body]}")
}
hexes() { # TABLE COLUMN -> the stored keys, hex lower case, one a line, sorted
    case $STORE in
    sqlite) store_sql "SELECT lower(hex($2)) FROM $1" | sort ;;
    pg) store_sql "SELECT encode($2, 'hex') FROM $1" | sort ;;
    esac
}
b64() { printf "$1" | base64 | tr -d '\n'; } # printf-escaped bytes

# The reviewer's case.
fixs_batch k_bytea 'upsert:{"k":"AAE=","v":"one"}' 'upsert:{"k":"AAI=","v":"two"}'
assert_eq "x0001 x0002 status ($(cat "$T/resp.json"))" 200 "$GOT"
grep -q '"created":2' "$T/resp.json" || fail "created: $(cat "$T/resp.json")"
assert_eq "x0001 x0002 rows" "0001
0002" "$(hexes k_bytea k)"

# Every second byte after a NUL, and NUL runs of every length up to 8
# (with the empty key), in one batch: as many rows as keys.
store_sql "DELETE FROM k_bytea" >/dev/null
set --
want=
for i in $(seq 0 255); do
    set -- "$@" "upsert:{\"k\":\"$(b64 "\\000\\$(printf '%03o' "$i")")\",\"v\":\"$i\"}"
    want="$want$(printf '00%02x' "$i")
"
done
z='' zh=''
for n in 0 1 2 3 4 5 6 7 8; do
    [ "$n" -eq 2 ] || { set -- "$@" "upsert:{\"k\":\"$(b64 "$z")\"}"; want="$want$zh
"; }
    z="$z\\000" zh="${zh}00"
done
fixs_batch k_bytea "$@"
assert_eq "family status ($(head -c 300 "$T/resp.json"))" 200 "$GOT"
n=$#
grep -q "\"created\":$n" "$T/resp.json" || fail "created $n: $(cat "$T/resp.json")"
assert_eq "family rows" "$(printf '%s' "$want" | sort)" "$(hexes k_bytea k)"
case $STORE in
sqlite) v=$(store_sql "SELECT v FROM k_bytea WHERE lower(hex(k)) IN ('00ff', '0000') ORDER BY v") ;;
pg) v=$(store_sql "SELECT v FROM k_bytea WHERE encode(k, 'hex') IN ('00ff', '0000') ORDER BY v") ;;
esac
assert_eq "each key its own value" "0
255" "$v"

# A delete of one binary key removes that row and only that one, even in
# the batch that wrote its NUL-sharing neighbours.
store_sql "DELETE FROM k_bytea" >/dev/null
fixs_batch k_bytea 'upsert:{"k":"AAE="}' 'upsert:{"k":"AAI="}' 'delete:{"k":"AAE="}'
assert_eq "delete in batch" 200 "$GOT"
assert_eq "delete in batch rows" "0002" "$(hexes k_bytea k)"
fixs_batch k_bytea 'upsert:{"k":"AAE="}' 'delete:{"k":"AAI="}' 'upsert:{"k":"AAM="}'
assert_eq "delete of a neighbour" 200 "$GOT"
assert_eq "delete of a neighbour rows" "0001
0003" "$(hexes k_bytea k)"

# A composite key: same text part, bytea parts differing after a NUL.
fixs_batch k_mix 'upsert:{"a":"x","b":"AGE="}' 'upsert:{"a":"x","b":"AGI="}' \
    'upsert:{"a":"x","b":"AGE=","v":"again"}' 'upsert:{"a":"y","b":"AGE="}'
assert_eq "composite status" 200 "$GOT"
assert_eq "composite rows" "3" "$(store_sql 'SELECT count(*) FROM k_mix')"
assert_eq "composite last write" "again" "$(store_sql "SELECT v FROM k_mix WHERE a = 'x' AND v IS NOT NULL")"
health_ok
