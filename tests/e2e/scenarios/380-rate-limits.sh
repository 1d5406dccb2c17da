# Per-key rate limits (docs/configuration.md#rate-limits): a key past its
# bucket gets 429 rate_limited with a Retry-After it can trust, another
# key (and a key with limits of its own) is not slowed, an unknown key is
# still 401 (the key is checked first: nobody spends another's tokens),
# and the agent, told to wait, waits: a push of many batches through a
# limit of 2 requests a second completes exactly, nothing parked. Bad
# "rate_limit" settings stop ferryd with exit 3 and the reason.
items_contract
ferryd_migrate
KEY_A=$(make_key rl-a)
KEY_B=$(make_key rl-b)
KEY_C=$(make_key rl-c)
id_of() { echo "$1" | sed 's/^fy_\([0-9a-f]*\)\..*/\1/'; }

# Settings that are refused, each with its reason.
bad_setting() { # JSON WHAT
    echo "$1" >"$T/bad.json"
    _rc=0
    timeout 10 "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" \
        serve --listen 127.0.0.1:0 --config "$T/bad.json" \
        >/dev/null 2>"$T/bad.err" </dev/null || _rc=$?
    assert_eq "exit for $1" 3 "$_rc"
    grep -q "$2" "$T/bad.err" || fail "message for $1: $(cat "$T/bad.err")"
}
bad_setting '{"rate_limit": 5}' '"rate_limit" must be an object'
bad_setting '{"rate_limit": {"requests_per_second": -1}}' 'requests_per_second'
bad_setting '{"rate_limit": {"burst": 0}}' '"burst" must be a number from 1'
bad_setting '{"rate_limit": {"concurrent": 1.5}}' '"concurrent" must be an integer'
bad_setting '{"rate_limit": {"per_second": 3}}' 'knows "requests_per_second"'
bad_setting '{"rate_limit": {"keys": {"nothex": {}}}}' 'key "nothex" is not a key id'
bad_setting '{"rate_limit": {"keys": {"0123456789abcdef": {"keys": {}}}}}' 'knows "requests_per_second", "burst" and "concurrent"$'
bad_setting '{"max_connections_per_ip": 0}' 'max_connections_per_ip'
bad_setting '{"request_timeout": 0}' 'request_timeout'

cat >"$T/ferryd.json" <<EOF2
{"rate_limit": {"requests_per_second": 2, "burst": 3,
  "keys": {"$(id_of "$KEY_C")": {"requests_per_second": 1000, "burst": 1000}}}}
EOF2
FERRYD_ARGS="--config $T/ferryd.json"
start_ferryd

# get KEY -> "status retry-after code" of GET /v1/contract
get() {
    curl -s -D "$T/h" -o "$T/b" -H "X-Api-Key: $1" "$URL/v1/contract" >/dev/null
    printf '%s %s %s\n' "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T/h")" \
        "$(tr -d '\r' <"$T/h" | sed -n 's/^[Rr]etry-[Aa]fter: //p')" \
        "$(sed -n 's/.*"code":"\([a-z_]*\)".*/\1/p' "$T/b")"
}
# A burst of 3 passes; the next ones in the same second are refused with
# a Retry-After of 1 second (2 a second: half a second to the next token).
for i in 1 2 3; do
    assert_eq "A request $i" "200  " "$(get "$KEY_A")"
done
assert_eq "A past its burst" "429 1 rate_limited" "$(get "$KEY_A")"
grep -q 'may make 2 requests a second (3 at once); retry after 1 s' "$T/b" ||
    fail "429 message: $(cat "$T/b")"
# Another key has a bucket of its own; C has limits of its own.
for i in 1 2 3; do
    assert_eq "B request $i" "200  " "$(get "$KEY_B")"
done
for i in $(seq 1 20); do
    assert_eq "C request $i" "200  " "$(get "$KEY_C")"
done
# The key is checked before the limit: a wrong secret is 401, not 429.
BAD="$(echo "$KEY_A" | sed 's/\..*//').0000000000000000000000000000000000000000000"
assert_eq "wrong secret" "401" "$(get "$BAD" | cut -d' ' -f1)"
# Told when to come back, a client that waits is served.
sleep 1.2
assert_eq "A after Retry-After" "200  " "$(get "$KEY_A")"

# The agent honours 429 and its Retry-After: 1,500 rows in 15 batches
# through 2 requests a second, exactly, nothing parked, exit 0.
KEY=$KEY_A
agent_init a rl-a 100
APP=$T/a/app.db
fill_items "$APP" 1500
ferry_in a track items >/dev/null || fail track
ferry_in a push --retry-for 120 >"$T/push.out" 2>"$T/agent.log" ||
    fail "push: $(tail -n 5 "$T/agent.log")"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
n429=$(grep -c 'POST /v1/push 429' "$T/ferryd.log" || true)
[ "$n429" -ge 3 ] || fail "the agent was never limited ($n429 answers 429)"
note "push of 15 batches at 2 requests a second: $n429 answers 429, all retried"
