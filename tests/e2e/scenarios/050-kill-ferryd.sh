# labels: slow
# ferryd is killed with SIGKILL mid-push and restarted, many times; the agent
# retries through it and the store ends with exactly the source rows.
# A fast machine can finish a push between two kills; a new push then starts
# on the rows the app wrote meanwhile, so every kill finds work under way
# however fast the machine is (CI once finished the whole push in 3 kills).
setup_items_agent edge1 100 20000
push_bg() {
    ferry_bg a push --retry-for 120 >>"$T/push.out" 2>>"$T/agent.log"
    agent=$!
}
push_bg
kills=0
mid=0
while [ $kills -lt "$KILLS" ]; do
    sleep_ms "$(rand_ms 50 300)"
    if ! kill -0 $agent 2>/dev/null; then
        wait $agent || fail "push did not survive ferryd restarts: $(tail -n 3 "$T/agent.log")"
        push_bg
        sleep_ms "$(rand_ms 5 60)"
    fi
    kill -0 $agent 2>/dev/null && mid=$((mid + 1))
    kill9_ferryd
    kills=$((kills + 1))
    churn_items "$APP" $((kills % 20 + 6)) $((kills + 50)) $((20000 + kills))
    sleep_ms "$(rand_ms 0 300)"
    start_ferryd "$PORT"
done
wait $agent || fail "push did not survive ferryd restarts: $(tail -n 3 "$T/agent.log")"
note "killed ferryd $kills times, $mid of them during a push"
[ $mid -ge $((KILLS / 4)) ] || fail "only $mid of $kills kills landed during a push"
grep -q 'retrying' "$T/agent.log" || fail "agent never had to retry"
verify_items edge1
