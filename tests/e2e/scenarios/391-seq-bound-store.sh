# The seq bound on the path item 4 of issue 5 found (a seq near INT64_MAX
# accepted by ferryd from the device's own key): a store whose device
# record holds an acknowledged seq past 2^53 - 1 (written before the bound,
# or by hand) hands it to the agent at the handshake. The agent refuses to
# adopt it with a clear error: nothing wraps to negative numbers, nothing
# is parked, the queued change stays queued and is sent once the record is
# put right. The same at the bound itself (the next seq would pass it).
setup_items_agent edge1 500 3
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"
assert_eq "first push" 3 "$(store_sql 'SELECT count(*) FROM items')"
case $STORE in
sqlite) DEVICES=ferry_devices ;;
pg) DEVICES=ferry.devices ;;
esac
set_acked() { store_sql "UPDATE $DEVICES SET acked_seq = $1 WHERE device = 'edge1'" >/dev/null; }

for acked in 9223372036854775807 9007199254740992 9007199254740991; do
    set_acked $acked
    app_sql "$APP" "INSERT INTO items (id, name) VALUES (100 + (SELECT count(*) FROM items), 'queued')"
    rc=0
    ferry_in a push >"$T/push.out" 2>"$T/push.err" || rc=$?
    cat "$T/push.err" >>"$T/agent.log"
    [ $rc -ne 0 ] || fail "acked $acked: push exited 0: $(cat "$T/push.out")"
    grep -q "9007199254740991" "$T/push.err" || fail "acked $acked: no clear error: $(cat "$T/push.err")"
    assert_eq "acked $acked: nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
    assert_eq "acked $acked: no negative seq" 0 \
        "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox WHERE seq < 0')"
    [ "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')" -ge 1 ] || fail "acked $acked: change lost"
    assert_eq "acked $acked: nothing stored" 3 "$(store_sql 'SELECT count(*) FROM items')"
    note "acked $acked: exit $rc: $(tail -n 1 "$T/push.err")"
done
