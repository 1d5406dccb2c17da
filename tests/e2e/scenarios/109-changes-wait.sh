# Long polls: GET /v1/changes?wait=S answers at once when there is
# something, waits up to S seconds otherwise and answers as soon as a push
# commits. On PostgreSQL a second ferryd on the same store wakes its
# waiting pulls too (LISTEN/NOTIFY). A waiting pull does not hold ferryd's
# stop, and bad waits are 400.
# On PostgreSQL a cluster of its own: a push held open by another
# scenario on the shared one would hold back the horizon and these timings.
own_pg
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "t", "columns": [
  {"name": "id", "type": "bigint", "not_null": true}, {"name": "v", "type": "text"}],
  "primary_key": ["id"], "read": "all"}]}
JSON
ferryd_migrate
KW=$(make_key writer)
KR=$(make_key reader)
start_ferryd
echo 0 >"$T/seq"
push_one() { # URL ID
    _s=$(($(cat "$T/seq") + 1))
    echo $_s >"$T/seq"
    curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KW" \
        -H "Content-Type: application/json" --data-binary \
        "{\"changes\": [{\"seq\": $_s, \"table\": \"t\", \"op\": \"upsert\", \"hlc\": \"0190000000000000\", \"row\": {\"id\": $2, \"v\": \"x\"}}]}" \
        "$1/v1/push"
}
# pull URL QUERY -> "ms ids cursor" of the answer
pull() {
    _t0=$(date +%s%N)
    curl -s -H "X-Api-Key: $KR" "$1/v1/changes$2" >"$T/ch.json"
    _t1=$(date +%s%N)
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], ",".join(str(c["row"]["id"]) for c in d["changes"]) or "-", d["cursor"])' \
        "$T/ch.json" $(((_t1 - _t0) / 1000000))
}
assert_eq "first push" 200 "$(push_one "$URL" 1)"
read -r ms ids cur <<EOF2
$(pull "$URL" "?wait=30")
EOF2
assert_eq "something there: no wait" 1 "$ids"
[ "$ms" -lt 3000 ] || fail "an answer with changes waited ${ms} ms"

# Nothing new: waits the whole second, then answers empty.
read -r ms ids cur2 <<EOF2
$(pull "$URL" "?wait=1&since=$cur")
EOF2
assert_eq "nothing new" - "$ids"
[ "$ms" -ge 900 ] || fail "wait=1 answered after ${ms} ms"

# A push during the wait ends it at once.
pull "$URL" "?wait=30&since=$cur" >"$T/waited" &
waiter=$!
sleep 0.5
assert_eq "push during the wait" 200 "$(push_one "$URL" 2)"
wait $waiter
read -r ms ids cur3 <"$T/waited"
assert_eq "woken by the push" 2 "$ids"
[ "$ms" -lt 10000 ] || fail "the waiting pull answered after ${ms} ms"
note "a waiting pull answered ${ms} ms after it asked (push at 500 ms)"

if [ "$STORE" = pg ]; then
    # A second ferryd: pull waits there, the push goes through the first.
    URL1=$URL
    PID1=$FERRYD_PID
    start_ferryd
    URL2=$URL
    pull "$URL2" "?wait=30&since=$cur3" >"$T/waited2" &
    waiter=$!
    sleep 0.5
    assert_eq "push through the other ferryd" 200 "$(push_one "$URL1" 3)"
    wait $waiter
    read -r ms ids cur4 <"$T/waited2"
    assert_eq "woken by a push elsewhere" 3 "$ids"
    [ "$ms" -lt 4000 ] || fail "the other ferryd's notice took ${ms} ms"
    note "another ferryd's push woke the pull after ${ms} ms"
    stop_ferryd
    FERRYD_PID=$PID1
    URL=$URL1
fi

# A waiting pull does not hold ferryd's stop.
curl -s -o /dev/null -H "X-Api-Key: $KR" "$URL/v1/changes?wait=60&since=$(echo "$cur" | sed 's/^c1\.[0-9]*/c1.999999999/')" &
sleep 0.5
t0=$(date +%s%N)
stop_ferryd
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 10000 ] || fail "ferryd took ${took} ms to stop with a pull waiting"
start_ferryd
for w in -1 61 1.5 x; do
    code=$(curl -s -o "$T/bad.json" -w '%{http_code}' -H "X-Api-Key: $KR" "$URL/v1/changes?wait=$w")
    assert_eq "wait=$w" 400 "$code"
    grep -q '"code":"bad_parameter"' "$T/bad.json" || fail "wait=$w: $(cat "$T/bad.json")"
done
