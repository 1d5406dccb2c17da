# stores: pg
# PostgreSQL is stopped with pg_ctl -m immediate mid-push (a crash: no
# checkpoint, recovery from WAL on start) and restarted, several times. ferryd
# answers 503 meanwhile, the agent backs off and retries, and nothing
# acknowledged is lost or applied twice.
OWN_PG=$(pg_cluster_start fsync=on)
STORE_URL="postgresql://postgres@127.0.0.1:$(cat "$OWN_PG/port")/postgres"
setup_items_agent edge1 100 20000
ferry_bg a push --retry-for 120 >"$T/push.out" 2>>"$T/agent.log"
agent=$!
crashes=0
while kill -0 $agent 2>/dev/null && [ $crashes -lt $((KILLS / 4)) ]; do
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
verify_items edge1
health_ok
