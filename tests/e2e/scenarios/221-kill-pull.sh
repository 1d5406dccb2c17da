# labels: slow
# Device b pulls 20,000+ rows in small pages and is killed with SIGKILL at
# random moments, many times, while device a keeps changing rows and
# pushing. Every page commits whole with its cursor, so b ends with exactly
# the store's rows, and no pulled row was ever queued to be pushed back:
# b's outbox is empty and b's own push sends nothing.
pull_setup_two
fill_items "$APPA" 20000
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "first push of a"
kills=0
round=0
while [ $round -lt "$KILLS" ]; do
    round=$((round + 1))
    KEY=$KB ferry_bg b pull --limit 50 --retry-for 30 >>"$T/pull.out" 2>>"$T/agent.log"
    pid=$!
    sleep_ms "$(rand_ms 1 40)"
    if kill -9 $pid 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait $pid 2>/dev/null || true
    echoes=$(app_sql "$APPB" "SELECT count(*) FROM _ferry_outbox")
    assert_eq "kill $round: b's outbox holds no echo" 0 "$echoes"
    churn_items "$APPA" $((round % 20 + 6)) $((round + 50)) $((20000 + round))
    pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a, round $round"
done
note "killed the pull $kills times"
[ $kills -ge $((KILLS / 2)) ] || fail "only $kills kills landed; pull too fast to test"
pull_as b pull >>"$T/pull.out" 2>>"$T/agent.log" || fail "final pull of b"
pull_converge b
assert_eq "b = store" "$(digest_store)" "$(digest_app "$APPB")"
assert_eq "a = store" "$(digest_store)" "$(digest_app "$APPA")"
assert_eq "b's outbox" 0 "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_outbox")"
out=$(pull_as b push 2>>"$T/agent.log") || fail "push of b"
case $out in
"pushed 0 changes"*) ;;
*) fail "b pushed pulled rows back: $out" ;;
esac
b_changes=$(device_changes dev-b)
assert_eq "nothing of b's was applied" 0 "${b_changes:-0}"
