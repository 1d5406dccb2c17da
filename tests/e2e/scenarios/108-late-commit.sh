# A push transaction held open (FERRY_TEST_HOLD_COMMIT) while a later push
# commits and a pull runs: the held rows arrive in a later pull, never
# skipped. On PostgreSQL the later push commits first and the pull still
# waits for the held one (the horizon); on the SQLite store the later push
# waits for the lock, so nothing can commit late.
# On PostgreSQL a cluster of its own: the held push holds back the
# cluster's horizon, which would stall other scenarios' pulls.
own_pg
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "t", "columns": [
  {"name": "id", "type": "bigint", "not_null": true}, {"name": "v", "type": "text"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KS=$(make_key slow)
KF=$(make_key fast)
KR=$(make_key reader)
FERRY_TEST_HOLD_COMMIT=slow:2000 start_ferryd
body() { # SEQ ID V
    echo "{\"changes\": [{\"seq\": $1, \"table\": \"t\", \"op\": \"upsert\", \"hlc\": \"0190000000000000\", \"row\": {\"id\": $2, \"v\": \"$3\"}}]}"
}
changes() { # QUERY -> the cursor, then the ids in order
    curl -s -H "X-Api-Key: $KR" "$URL/v1/changes$1" >"$T/ch.json"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["cursor"], " ".join(str(c["row"]["id"]) for c in d["changes"]) or "-")' "$T/ch.json"
}
read -r c0 ids <<EOF2
$(changes "")
EOF2
assert_eq "empty store" "-" "$ids"

curl -s -o "$T/slow.json" -w '%{http_code}\n' -H "X-Api-Key: $KS" \
    -H "Content-Type: application/json" --data-binary "$(body 1 1 held)" \
    "$URL/v1/push" >"$T/slow.code" &
slow=$!
sleep 0.4
fast_start=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KF" \
    -H "Content-Type: application/json" --data-binary "$(body 1 2 quick)" \
    "$URL/v1/push" &
    echo $! >"$T/fast.pid"; wait)
if [ "$STORE" = pg ]; then
    assert_eq "the later push commits first" 200 "$code"
    kill -0 $slow 2>/dev/null || fail "the held push ended before the later one"
    assert_eq "committed" 1 "$(store_sql 'SELECT count(*) FROM t WHERE id = 2')"
    read -r c1 ids <<EOF2
$(changes "?since=$c0")
EOF2
    assert_eq "nothing served past the open transaction" "-" "$ids"
fi
wait $slow
assert_eq "held push" 200 "$(cat "$T/slow.code")"
[ "$STORE" = pg ] || assert_eq "later push" 200 "$code"
read -r c2 ids <<EOF2
$(changes "?since=$c0")
EOF2
assert_eq "both, in commit-safe order" "1 2" "$ids"
read -r c3 ids <<EOF2
$(changes "?since=$c2")
EOF2
assert_eq "then nothing" "-" "$ids"
note "later push took $((($(date +%s%N) - fast_start) / 1000000)) ms in all"
