# ferryd is killed with SIGKILL mid-push and restarted, many times; the agent
# retries through it and the store ends with exactly the source rows.
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
kills=0
while kill -0 $agent 2>/dev/null && [ $kills -lt 8 ]; do
    sleep_ms "$(rand_ms 50 300)"
    kill9_ferryd
    kills=$((kills + 1))
    churn_items "$APP" $((kills + 6)) $((kills + 50)) $((20000 + kills))
    sleep_ms "$(rand_ms 0 300)"
    start_ferryd "$PORT"
done
wait $agent || fail "push did not survive ferryd restarts: $(tail -n 3 "$T/agent.log")"
note "killed ferryd $kills times"
[ $kills -ge 4 ] || fail "only $kills kills before the push finished"
ferry_in a push >>"$T/push.out" 2>>"$T/agent.log" || fail "final push"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
next=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
# Seqs of changes that were coalesced before they were ever sent leave gaps,
# so the count of applied changes may be lower than the last seq, never higher.
[ "$(device_changes edge1)" -le $((next - 1)) ] ||
    fail "more changes applied ($(device_changes edge1)) than numbered ($((next - 1)))"
assert_eq "acked the last seq" $((next - 1)) "$(device_acked edge1)"
grep -q 'retrying' "$T/agent.log" || fail "agent never had to retry"
