# ferryd keys rotate while an agent pushes: the agent keeps pushing with
# the old secret inside the overlap and no request of it fails (every push
# exits 0, ferryd answers no 401); it switches to the new secret (its env
# file rewritten, as docs/operations.md says) and goes on; after the
# overlap the old secret is refused with 401 key_rotated and the agent
# says why (exit 4); nothing queued is lost: the store ends with exactly
# the app's rows. Also the documented outputs of keys rotate and of
# ferryd's warning, bad arguments, and a store migrated before rotation.
# About 40 s: the overlap is 15 s so that the pushes inside it have room
# on a loaded machine.
. "$E2E_DIR/authlib.sh"
items_contract
ferryd_migrate
K0=$(make_key pc-rot)
ID=$(echo "$K0" | cut -c4-19)
start_ferryd
agent_init a pc-rot 50
APP=$T/a/app.db
fill_items "$APP" 20
KEY=$K0 ferry_in a track items >/dev/null 2>>"$T/agent.log" || fail track

# The pusher: a row and a push at a time, with the key the env file holds
# at that moment (a timer unit's agent reads /etc/ferry/ferry.env each run).
echo "FERRY_API_KEY=$K0" >"$T/ferry.env"
: >"$T/pushes.log"
(
    i=1000
    while [ ! -f "$T/stop" ]; do
        i=$((i + 1))
        app_sql "$APP" "INSERT INTO items (id, name) VALUES ($i, 'row $i')"
        _rc=0
        env "$(cat "$T/ferry.env")" "$FERRY" --config "$T/a/config.json" push \
            >>"$T/push.out" 2>>"$T/agent.log" || _rc=$?
        echo "$(date +%s) $(cut -c35-44 "$T/ferry.env") $_rc" >>"$T/pushes.log"
    done
) &
PUSHER=$!
wait_pushes() { # N: until N more pushes have ended
    _until=$(($(wc -l <"$T/pushes.log") + $1))
    _i=0
    while [ "$(wc -l <"$T/pushes.log")" -lt $_until ]; do
        _i=$((_i + 1))
        [ $_i -gt 600 ] && fail "the pusher is stuck: $(tail -n 3 "$T/agent.log")"
        sleep 0.1
    done
}
wait_pushes 3

"$FERRYD" --store "$STORE_URL" keys rotate "$ID" --overlap 15s >"$T/rot.out" \
    2>"$T/rot.err" || fail "rotate: $(cat "$T/rot.err")"
ROTATED=$(date +%s)
K1=$(cat "$T/rot.out")
assert_eq "same id" "fy_$ID." "$(echo "$K1" | cut -c1-20)"
[ "$K1" != "$K0" ] || fail "the same secret"
grep -q "^ferryd: rotated key id=$ID; the previous secret is accepted until " \
    "$T/rot.err" || fail "rotate said: $(cat "$T/rot.err")"
# Inside the overlap: the old secret still pushes.
wait_pushes 3
echo "FERRY_API_KEY=$K1" >"$T/ferry.env"
wait_pushes 3
: >"$T/stop"
wait "$PUSHER"
END=$(tail -n 1 "$T/pushes.log" | cut -d' ' -f1)
[ "$END" -lt $((ROTATED + 15)) ] ||
    note "the pushes took past the overlap on this machine: the old secret's count below is what fit"
OLD_IN=$(awk -v r="$ROTATED" -v k="$(echo "$K0" | cut -c21-30)" \
    '$1 >= r && $2 == k' "$T/pushes.log" | wc -l)
[ "$OLD_IN" -ge 1 ] || fail "no push with the old secret after the rotation"
FAILED=$(awk '$3 != 0' "$T/pushes.log" | wc -l)
assert_eq "pushes that failed (of $(wc -l <"$T/pushes.log"); $OLD_IN with the old secret after the rotation)" 0 "$FAILED"
note "$(wc -l <"$T/pushes.log") pushes, $OLD_IN of them with the old secret inside the overlap, $(awk -v k="$(echo "$K1" | cut -c21-30)" '$2 == k' "$T/pushes.log" | wc -l) with the new one; $FAILED failed"
curl -s "$URL/metrics" >"$T/metrics.txt"
grep -q 'ferry_http_requests_total{route="/v1/push",method="POST",status="200"}' "$T/metrics.txt" ||
    fail "no push counted: $(grep requests_total "$T/metrics.txt" | head -n 3)"
! grep -q 'status="401"} [1-9]' "$T/metrics.txt" ||
    fail "ferryd answered 401 inside the overlap: $(grep 'status="401"' "$T/metrics.txt")"
grep -q "warn: auth: key=$ID presented its previous secret" "$T/ferryd.log" ||
    fail "no warning about the previous secret"

# After the overlap: the old secret is refused with its own code.
while [ "$(date +%s)" -le $((ROTATED + 16)) ]; do sleep 0.5; done
app_sql "$APP" "INSERT INTO items (id, name) VALUES (1, 'after the overlap')
    ON CONFLICT (id) DO UPDATE SET name = excluded.name"
KEY=$K0 assert_exit "push with the old secret after the overlap" 4 ferry_in a push
grep -q "replaced by 'ferryd keys rotate' and the previous one was accepted until" \
    "$T/agent.log" || fail "the agent does not say why: $(tail -n 2 "$T/agent.log")"
assert_eq "old secret on the API" 401 "$(curl -s -o "$T/resp.json" -w '%{http_code}' \
    -H "X-Api-Key: $K0" "$URL/v1/contract")"
grep -q '"code":"key_rotated"' "$T/resp.json" || fail "code: $(cat "$T/resp.json")"
# The dashboard never takes the previous secret (an admin key rotated
# with a long overlap: the API takes the old secret, the log-in does not).
ADM0=$(make_key ops --admin)
curl -s -o /dev/null -c "$T/jar" --data-binary "key=$ADM0" "$URL/dashboard/login"
assert_eq "a session of the admin key" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -b "$T/jar" "$URL/dashboard")"
ADM1=$("$FERRYD" --store "$STORE_URL" keys rotate "$(echo "$ADM0" | cut -c4-19)" \
    --overlap 1h 2>/dev/null) || fail "rotate admin"
assert_eq "the rotation ended the session" 303 "$(curl -s -o /dev/null -w '%{http_code}' \
    -b "$T/jar" "$URL/dashboard")"
assert_eq "old admin secret on the API" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "X-Api-Key: $ADM0" "$URL/v1/trace/items/1")"
assert_eq "old admin secret at the log-in" 401 "$(curl -s -o /dev/null -w '%{http_code}' \
    --data-binary "key=$ADM0" "$URL/dashboard/login")"
assert_eq "new admin secret at the log-in" 303 "$(curl -s -o /dev/null -w '%{http_code}' \
    --data-binary "key=$ADM1" "$URL/dashboard/login")"

# Nothing lost: the new secret drains the outbox, the store has the app's rows.
KEY=$K1 verify_items pc-rot

# docs/commands.md's example, with its overlap, and keys list's field.
DOC=$(make_key doc-pc)
"$FERRYD" --store "$STORE_URL" keys rotate "$(echo "$DOC" | cut -c4-19)" \
    --overlap 2h >"$T/doc.out" 2>"$T/doc.err" || fail "rotate doc-pc"
cat "$T/doc.out" "$T/doc.err" >"$T/doc.both"
docs_check docs/commands.md keys-rotate "$T/doc.both"
docs_lines_in docs/operations.md rotate-warn "$T/ferryd.log"
"$FERRYD" --store "$STORE_URL" keys list --json >"$T/keys.json" || fail "keys list"
python3 - "$T/keys.json" "$ID" "$ROTATED" <<'PY' || fail "keys list --json: previous_secret_until"
import json, sys
k = {x["id"]: x for x in json.load(open(sys.argv[1]))}[sys.argv[2]]
assert abs(k["previous_secret_until"] - (int(sys.argv[3]) + 15)) <= 5, k
assert k["state"] == "active", k
PY

# Bad arguments: usage (2), nothing changed; unknown and revoked ids (1).
"$FERRYD" --store "$STORE_URL" keys list --json >"$T/before.json"
for args in "rotate" "rotate $ID --overlap" "rotate $ID --overlap 5w" \
    "rotate $ID --overlap -1s" "rotate $ID --overlap 15" "rotate $ID 15s" \
    "rotate $ID --overlap 1s extra"; do
    # shellcheck disable=SC2086
    assert_exit "keys $args" 2 "$FERRYD" --store "$STORE_URL" keys $args
done
assert_exit "unknown id" 1 "$FERRYD" --store "$STORE_URL" keys rotate 0123456789abcdef
"$FERRYD" --store "$STORE_URL" keys revoke "$ID" >/dev/null || fail revoke
"$FERRYD" --store "$STORE_URL" keys list --json >"$T/before.json"
"$FERRYD" --store "$STORE_URL" keys rotate "$ID" >"$T/rev.out" 2>"$T/rev.err" &&
    fail "a revoked key was rotated"
grep -q "is revoked: create a new one instead" "$T/rev.err" || fail "revoked: $(cat "$T/rev.err")"
[ ! -s "$T/rev.out" ] || fail "a secret printed for a revoked key"
"$FERRYD" --store "$STORE_URL" keys list --json >"$T/after.json"
cmp -s "$T/before.json" "$T/after.json" || fail "a refused rotation changed the keys"
assert_exit "create --expires 5w" 2 "$FERRYD" --store "$STORE_URL" keys create --device x --expires 5w
stop_ferryd

# A store migrated before keys rotate existed lacks api_key_previous, which
# every key check reads: ferryd refuses to start, naming the fix, instead
# of answering every request 500; ferryd migrate adds the table.
case $STORE in
sqlite) store_sql "DROP TABLE ferry_api_key_previous" ;;
pg) store_sql "DROP TABLE ferry.api_key_previous" ;;
esac
rc=0
"$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
    --listen 127.0.0.1:0 >/dev/null 2>"$T/old.err" || rc=$?
assert_eq "serve on a store without api_key_previous" 3 "$rc"
grep -q "the store lacks tables this ferryd reads .*: run 'ferryd migrate'" \
    "$T/old.err" || fail "serve said: $(cat "$T/old.err")"
ferryd_migrate
start_ferryd
assert_eq "served again after migrate" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "X-Api-Key: $ADM1" "$URL/v1/contract")"
stop_ferryd
# No secret of this scenario in a log (full keys and secret parts).
for k in "$K0" "$K1" "$ADM0" "$ADM1" "$DOC"; do
    echo "$k"
    echo "$k" | cut -c21-
done >"$T/secrets.txt"
! grep -qFf "$T/secrets.txt" "$T/ferryd.log" "$T/agent.log" "$T/push.out" ||
    fail "a secret in a log: $(grep -lFf "$T/secrets.txt" "$T/ferryd.log" "$T/agent.log" "$T/push.out")"
