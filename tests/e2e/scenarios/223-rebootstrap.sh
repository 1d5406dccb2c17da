# A device that slept longer than ferryd keeps deletes (tombstone_retention
# 1 s here) gets 410 cursor_expired and re-bootstraps: a full pass, killed
# at random moments and resumed, after which the rows deleted in the store
# meanwhile are gone from the device too, while its own changes not pushed
# yet (a new row, an edit of a row deleted elsewhere) survive and are pushed.
# In the end both devices equal the store.
echo '{"tombstone_retention": 1}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
pull_setup_two
fill_items "$APPA" 400
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a"
pull_as b pull >"$T/pull.out" 2>>"$T/agent.log" || fail "first pull of b"
pull_converge b
assert_eq "b after its first pull" "$(digest_store)" "$(digest_app "$APPB")"

# While b is away: a deletes and edits; then b edits a row a deleted, and
# adds one, neither pushed.
app_sql "$APPA" "DELETE FROM items WHERE id <= 60 OR id % 50 = 0;
    UPDATE items SET name = name || ' edited' WHERE id % 7 = 0"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a's deletes"
sleep 2.2
app_sql "$APPB" "UPDATE items SET name = 'b kept' WHERE id = 6;
    INSERT INTO items (id, name) VALUES (9001, 'b new')"
# Another pull (a's) lets ferryd prune the deletes older than a second.
pull_as a pull >/dev/null 2>>"$T/agent.log" || fail "pull of a"

kills=0
i=0
while [ $i -lt 6 ]; do
    i=$((i + 1))
    KEY=$KB ferry_bg b pull --limit 20 --retry-for 30 >>"$T/pull.out" 2>>"$T/agent.log"
    pid=$!
    sleep_ms "$(rand_ms 1 30)"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null || true
done
note "killed the re-bootstrap $kills times"
pull_as b pull >>"$T/pull.out" 2>>"$T/agent.log" || fail "final pull of b"
grep -q 'cursor expired' "$T/agent.log" || fail "no 410 met: $(tail -n 3 "$T/pull.out")"
grep -q 're-bootstrap done' "$T/agent.log" || fail "no re-bootstrap finished"
assert_eq "deleted rows gone from b" 0 \
    "$(app_sql "$APPB" "SELECT count(*) FROM items WHERE (id <= 60 OR id % 50 = 0) AND id <> 6")"
assert_eq "b's pending edit kept" "b kept" "$(app_sql "$APPB" "SELECT name FROM items WHERE id = 6")"
assert_eq "b's pending row kept" "b new" "$(app_sql "$APPB" "SELECT name FROM items WHERE id = 9001")"
assert_eq "no re-bootstrap left over" "0 0" \
    "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_seen") $(app_sql "$APPB" "SELECT coalesce(max(value), 0) FROM _ferry_state WHERE key = 'pull_rebootstrap'")"
for s in "b push" "a pull" "b pull"; do
    pull_as $s >/dev/null 2>>"$T/agent.log" || fail "ferry $s"
done
pull_converge a b
assert_eq "b = store" "$(digest_store)" "$(digest_app "$APPB")"
assert_eq "a = store" "$(digest_store)" "$(digest_app "$APPA")"
assert_eq "row 6 is b's" "b kept" "$(store_sql "SELECT name FROM items WHERE id = 6")"
