# labels: slow
# The agent is killed with SIGKILL at random moments during a push of
# 20,000+ rows, many times, while the app keeps writing; every run ends with
# exactly the source rows in the store (full digest), and the server applied
# no seq twice.
setup_items_agent edge1 100 20000
kills=0
round=0
while [ $round -lt "$KILLS" ]; do
    round=$((round + 1))
    ferry_bg a push --retry-for 30 >>"$T/push.out" 2>>"$T/agent.log"
    pid=$!
    sleep_ms "$(rand_ms 1 60)"
    if kill -9 $pid 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait $pid 2>/dev/null || true
    churn_items "$APP" $((round % 20 + 6)) $((round + 50)) $((20000 + round))
done
note "killed the agent $kills times"
[ $kills -ge $((KILLS / 2)) ] || fail "only $kills kills landed; push too fast to test"
verify_items edge1
