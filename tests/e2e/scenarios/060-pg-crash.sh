# stores: pg
# PostgreSQL is stopped with pg_ctl -m immediate mid-push (a crash: no
# checkpoint, recovery from WAL on start) and restarted, several times. ferryd
# answers 503 meanwhile, the agent backs off and retries, and nothing
# acknowledged is lost or applied twice.
OWN_PG=$(pg_cluster_start fsync=on)
STORE_URL="postgresql://postgres@127.0.0.1:$(cat "$OWN_PG/port")/postgres"
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 250
APP=$T/a/app.db
fill_items "$APP" 20000
ferry_in a track items >/dev/null || fail track
ferry_bg a push --retry-for 120 >"$T/push.out" 2>>"$T/agent.log"
agent=$!
crashes=0
while kill -0 $agent 2>/dev/null && [ $crashes -lt 4 ]; do
    sleep_ms "$(rand_ms 100 400)"
    pg_cluster_crash "$OWN_PG"
    crashes=$((crashes + 1))
    churn_items "$APP" $((crashes + 6)) $((crashes + 50)) $((20000 + crashes))
    sleep_ms "$(rand_ms 200 1000)"
    pg_cluster_restart "$OWN_PG" || fail "postgres restart"
done
wait $agent || fail "push did not survive postgres crashes: $(tail -n 3 "$T/agent.log")"
note "crashed postgres $crashes times"
[ $crashes -ge 2 ] || fail "only $crashes crashes before the push finished"
grep -q '503' "$T/agent.log" || fail "agent never saw a 503"
ferry_in a push >>"$T/push.out" 2>>"$T/agent.log" || fail "final push"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
next=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
# Seqs of changes that were coalesced before they were ever sent leave gaps,
# so the count of applied changes may be lower than the last seq, never higher.
[ "$(device_changes edge1)" -le $((next - 1)) ] ||
    fail "more changes applied ($(device_changes edge1)) than numbered ($((next - 1)))"
assert_eq "acked the last seq" $((next - 1)) "$(device_acked edge1)"
health_ok
