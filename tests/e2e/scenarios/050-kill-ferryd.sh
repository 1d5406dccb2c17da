# ferryd is killed with SIGKILL mid-push and restarted, many times; the agent
# retries through it and the store ends with exactly the source rows.
setup_items_agent edge1 100 20000
ferry_bg a push --retry-for 120 >"$T/push.out" 2>>"$T/agent.log"
agent=$!
kills=0
while kill -0 $agent 2>/dev/null && [ $kills -lt "$KILLS" ]; do
    sleep_ms "$(rand_ms 50 300)"
    kill9_ferryd
    kills=$((kills + 1))
    churn_items "$APP" $((kills % 20 + 6)) $((kills + 50)) $((20000 + kills))
    sleep_ms "$(rand_ms 0 300)"
    start_ferryd "$PORT"
done
wait $agent || fail "push did not survive ferryd restarts: $(tail -n 3 "$T/agent.log")"
note "killed ferryd $kills times"
[ $kills -ge 4 ] || fail "only $kills kills before the push finished"
grep -q 'retrying' "$T/agent.log" || fail "agent never had to retry"
verify_items edge1
