# labels: slow
# stores: pg
# PostgreSQL is stopped with pg_ctl -m immediate mid-push (a crash: no
# checkpoint, recovery from WAL on start) and restarted, several times. ferryd
# answers 503 meanwhile, the agent backs off and retries, and nothing
# acknowledged is lost or applied twice.
OWN_PG=$(pg_cluster_start fsync=on)
STORE_URL="postgresql://postgres@127.0.0.1:$(cat "$OWN_PG/port")/postgres"
setup_items_agent edge1 100 20000
push_bg() {
    ferry_bg a push --retry-for 120 >>"$T/push.out" 2>>"$T/agent.log"
    agent=$!
}
push_bg
crashes=0
mid=0
while [ $crashes -lt $((KILLS / 4)) ]; do
    sleep_ms "$(rand_ms 100 400)"
    # A fast machine can finish the push between crashes: start another on
    # what the app wrote meanwhile, so each crash finds work under way.
    if ! kill -0 $agent 2>/dev/null; then
        wait $agent || fail "push did not survive postgres crashes: $(tail -n 3 "$T/agent.log")"
        push_bg
        sleep_ms "$(rand_ms 5 60)"
    fi
    kill -0 $agent 2>/dev/null && mid=$((mid + 1))
    pg_cluster_crash "$OWN_PG"
    crashes=$((crashes + 1))
    churn_items "$APP" $((crashes + 6)) $((crashes + 50)) $((20000 + crashes))
    sleep_ms "$(rand_ms 200 1000)"
    pg_cluster_restart "$OWN_PG" || fail "postgres restart"
done
wait $agent || fail "push did not survive postgres crashes: $(tail -n 3 "$T/agent.log")"
note "crashed postgres $crashes times, $mid of them during a push"
[ $mid -ge 2 ] || fail "only $mid of $crashes crashes landed during a push"
grep -q '503' "$T/agent.log" || fail "agent never saw a 503"
verify_items edge1
health_ok
