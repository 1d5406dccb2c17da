# labels: slow
# stores: sqlite
# ferryd backup and restore killed (SIGKILL) at random moments, on a store
# of some 40 MB (the embedded store's commands; PostgreSQL's are 287's):
# - a killed backup leaves FILE absent or whole (a valid ferry store that
#   equals the store), never a part of it;
# - a killed restore leaves the store as it was or as the backup, whole:
#   it passes SQLite's integrity check, and when it holds the backup its
#   pull cursors are expired already (the pruning mark past the old
#   store's revision). The next restore removes the copies killed ones
#   left beside the store, and completes; ferryd serves the result.
KILLS=${FERRY_TEST_KILLS:-10}
setup_items_agent dev-1 1000 0
app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
    FROM n WHERE i < 20000) INSERT OR REPLACE INTO items (id, name, qty, data)
    SELECT i, 'row ' || i, i, randomblob(2000) FROM n"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
"$FERRYD" --store "$STORE_URL" backup "$T/b.db" >/dev/null 2>>"$T/ferryd.log" ||
    fail "backup"
digest_b=$(digest_app "$T/b.db")
app_sql "$APP" "DELETE FROM items WHERE id % 2 = 0; UPDATE items SET
    name = name || ' changed' WHERE id % 3 = 0"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push of the changes"
digest_old=$(digest_store)
[ "$digest_old" != "$digest_b" ] || fail "the store did not change after the backup"
note "store $(du -k "${STORE_URL#sqlite:}" | cut -f1) KiB, backup $(du -k "$T/b.db" | cut -f1) KiB"

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# Backups killed while ferryd serves, within the time one takes.
t0=$(ms_now)
"$FERRYD" --store "$STORE_URL" backup "$T/k.db" >/dev/null 2>&1 || fail "backup"
t_backup=$(($(ms_now) - t0))
whole=0
for i in $(seq 1 "$KILLS"); do
    rm -f "$T/k.db"
    "$FERRYD" --store "$STORE_URL" backup "$T/k.db" >/dev/null 2>&1 &
    pid=$!
    sleep_ms "$(rand_ms 1 "$t_backup")"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    if [ -e "$T/k.db" ]; then
        assert_eq "a killed backup's file" "ok $digest_old" \
            "$(sqlite3 "$T/k.db" "PRAGMA integrity_check") $(digest_app "$T/k.db")"
        whole=$((whole + 1))
    fi
done
note "backups take $t_backup ms; $whole of $KILLS killed ones had finished, no partial file"
rm -f "$T"/k.db.tmp-*

# Restores killed, each into a copy of the old store.
stop_ferryd
live=${STORE_URL#sqlite:}
cp "$live" "$T/old.db"
old_rev=$(sqlite3 "$live" "SELECT value FROM ferry_meta WHERE key = 'rev'")
t0=$(ms_now)
"$FERRYD" --store "$STORE_URL" restore "$T/b.db" >/dev/null 2>>"$T/ferryd.log" ||
    fail "restore: $(tail -n 2 "$T/ferryd.log")"
t_restore=$(($(ms_now) - t0))
restored=0
for i in $(seq 1 "$KILLS"); do
    rm -f "$live-wal" "$live-shm" "$live-journal"
    cp "$T/old.db" "$live"
    "$FERRYD" --store "$STORE_URL" restore "$T/b.db" >/dev/null 2>&1 &
    pid=$!
    sleep_ms "$(rand_ms 1 $((t_restore * 3 / 2)))"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    # As ferryd opens it next (a hot journal is rolled back first).
    assert_eq "integrity after a killed restore" ok \
        "$(sqlite3 "$live" "PRAGMA integrity_check")"
    d=$(digest_store)
    if [ "$d" = "$digest_b" ]; then
        restored=$((restored + 1))
        mark=$(sqlite3 "$live" "SELECT value FROM ferry_meta WHERE key = 'prune_v'")
        [ "${mark:-0}" -gt "$old_rev" ] ||
            fail "the backup's rows are in, its cursors not expired (mark '$mark')"
    else
        assert_eq "a killed restore left the old store" "$digest_old" "$d"
    fi
done
note "restores take $t_restore ms; $restored of $KILLS killed ones had finished, the others left the old store"
"$FERRYD" --store "$STORE_URL" restore "$T/b.db" >/dev/null 2>>"$T/ferryd.log" ||
    fail "restore: $(tail -n 2 "$T/ferryd.log")"
assert_eq "restored" "$digest_b" "$(digest_store)"
assert_eq "no copies left beside the store" "" "$(ls "$T" | grep 'restore-' || true)"
start_ferryd "$PORT"
app_sql "$APP" "INSERT INTO items (id, name) VALUES (30001, 'after')"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after the restore"
assert_eq "the push arrived" after \
    "$(store_sql "SELECT name FROM items WHERE id = 30001")"
