# The agent is killed with SIGKILL at random moments during a push of
# 20,000+ rows, many times, while the app keeps writing; every run ends with
# exactly the source rows in the store (full digest), and the server applied
# every seq exactly once.
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 100
APP=$T/a/app.db
fill_items "$APP" 20000
ferry_in a track items >/dev/null || fail track
kills=0
for round in 1 2 3 4 5 6 7 8 9 10 11 12; do
    ferry_bg a push --retry-for 30 >>"$T/push.out" 2>>"$T/agent.log"
    pid=$!
    sleep_ms "$(rand_ms 10 200)"
    if kill -9 $pid 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait $pid 2>/dev/null || true
    churn_items "$APP" $((round + 6)) $((round + 50)) $((20000 + round))
done
note "killed the agent $kills times"
[ $kills -ge 6 ] || fail "only $kills kills landed; push too fast to test"
ferry_in a push >>"$T/push.out" 2>>"$T/agent.log" || fail "final push"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "nothing dead" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
next=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
# Seqs of changes that were coalesced before they were ever sent leave gaps,
# so the count of applied changes may be lower than the last seq, never higher.
[ "$(device_changes edge1)" -le $((next - 1)) ] ||
    fail "more changes applied ($(device_changes edge1)) than numbered ($((next - 1)))"
assert_eq "acked the last seq" $((next - 1)) "$(device_acked edge1)"
