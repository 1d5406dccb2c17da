# The disk holding the agent's app database fills up (a 8 MiB tmpfs,
# filled to the last byte), once before a push and once during one. The
# app's own writes fail there too (its business); ferry push says which
# disk is full and exits 5 (temporary), whether the server applied the
# batch it could not record or not. Once space is freed the next push
# completes: the store holds exactly the app's rows, no change was applied
# twice, nothing was parked. Needs root for the mount (else exit 77).
disk_mount "$T/a" 8m
setup_items_agent dev-a 50 2000
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"

# push_full WHAT: a push on the full disk exits 5 and names the disk
push_full() {
    _rc=0
    ferry_in a push --retry-for 5 >"$T/push.out" 2>"$T/push.err" || _rc=$?
    cat "$T/push.err" >>"$T/agent.log"
    assert_eq "$1: exit code" 5 "$_rc"
    grep -q "no space left on the disk of '$T/a/app.db'" "$T/push.err" ||
        fail "$1: the error does not name the full disk: $(cat "$T/push.err")"
}

note "full before the push"
churn_items "$APP" 3 5 9000
before=$(device_changes dev-a)
filled=$(disk_fill "$T/a")
if app_sql "$APP" "INSERT INTO items (id, name) VALUES (9001, 'x')" 2>/dev/null; then
    fail "the app could still write on the full disk"
fi
push_full "full before the push"
assert_exit "status on the full disk" 5 ferry_in a status
assert_exit "pull on the full disk" 5 ferry_in a pull
assert_eq "nothing applied" "$before" "$(device_changes dev-a)"
health_ok
t0=$(date +%s%N)
disk_free "$T/a"
verify_items dev-a
note "filled with $filled bytes; after freeing, the push took $((($(date +%s%N) - t0) / 1000000)) ms"

note "full during a push"
# 6,000 new rows in batches of 50: 120 batches, so the disk fills while
# the push runs. If a fast machine finishes first, once more with more.
tries=0
while :; do
    tries=$((tries + 1))
    base=$((100000 * tries))
    app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
        FROM n WHERE i < $((6000 * tries))) INSERT INTO items (id, name, qty)
        SELECT $base + i, 'during ' || i, i FROM n"
    start=$(device_acked dev-a)
    ferry_bg a push --retry-for 5 >"$T/push.out" 2>"$T/push.err"
    pid=$!
    i=0
    while [ "$(device_acked dev-a)" = "$start" ] && kill -0 $pid 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && fail "the push sent nothing in 30 s"
        sleep 0.05
    done
    filled=$(disk_fill "$T/a")
    rc=0
    wait $pid || rc=$?
    cat "$T/push.err" >>"$T/agent.log"
    [ $rc -eq 0 ] || break
    [ $tries -lt 3 ] || fail "the push finished before the disk was full, 3 times"
    disk_free "$T/a"
done
assert_eq "full during the push: exit code" 5 "$rc"
grep -q "no space left on the disk of '$T/a/app.db'" "$T/push.err" ||
    fail "full during the push: the error does not name the disk: $(cat "$T/push.err")"
left=$(sqlite3 "$APP" "SELECT count(*) FROM _ferry_outbox")
[ "$left" -gt 0 ] || fail "the push had finished"
note "the push stopped: ferryd acked seq $(device_acked dev-a), the agent recorded $(sqlite3 "$APP" "SELECT value FROM _ferry_state WHERE key = 'acked_seq'"), $left changes queued (filled with $filled bytes): $(tail -n 1 "$T/push.err")"
push_full "still full"
health_ok
t0=$(date +%s%N)
disk_free "$T/a"
verify_items dev-a
note "after freeing, the push took $((($(date +%s%N) - t0) / 1000000)) ms"
