# stores: sqlite
# The agent never numbers past 2^53 - 1 (FERRY_SEQ_MAX): a device whose
# numbering reached it gets a clear error, nothing wraps to negative
# numbers, nothing is parked, and the change stays queued.
setup_items_agent edge1 500 2
app_sql "$APP" "INSERT INTO _ferry_state VALUES ('next_seq', 9007199254740991)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value"
ferry_in a push --max-batches 1 >/dev/null 2>>"$T/agent.log" || true
_rc=0
ferry_in a push >/dev/null 2>"$T/push.err" || _rc=$?
[ "$_rc" -ne 0 ] || fail "push past the bound exited 0"
grep -q "would pass 9007199254740991" "$T/push.err" || fail "no clear error: $(cat "$T/push.err")"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
assert_eq "no negative seq" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox WHERE seq < 0')"
[ "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')" -ge 1 ] || fail "change lost"
