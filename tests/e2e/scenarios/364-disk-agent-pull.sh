# A pull into an app database whose disk fills up (device b's directory
# on a 16 MiB tmpfs, left 1 MB when the pull starts): the pull applies
# whole pages with their cursor until the disk is full, then stops with
# exit 5 naming the disk; no pulled row is queued to be pushed back. Once
# space is freed the next pull completes: b holds exactly the store's
# rows, and b's push sends nothing. Needs root for the mount (else 77).
disk_mount "$T/b" 16m
pull_setup_two
fill_items "$APPA" 3000
app_sql "$APPA" "UPDATE items SET data = randomblob(1000)"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a"

disk_fill "$T/b" >/dev/null
truncate -s -1000000 "$T/b/.fill"
rc=0
pull_as b pull --limit 100 --retry-for 5 >"$T/pull.out" 2>"$T/pull.err" || rc=$?
cat "$T/pull.err" >>"$T/agent.log"
assert_eq "pull on a full disk: exit code" 5 "$rc"
grep -q "no space left on the disk of '$T/b/app.db'" "$T/pull.err" ||
    fail "the error does not name the full disk: $(cat "$T/pull.err")"
got=$(sqlite3 "$APPB" "SELECT count(*) FROM items")
[ "$got" -lt 3000 ] || fail "the pull was not stopped ($got rows)"
assert_eq "b's outbox holds no echo" 0 "$(sqlite3 "$APPB" "SELECT count(*) FROM _ferry_outbox")"
note "the pull stopped with $got of 3000 rows: $(tail -n 1 "$T/pull.err")"

t0=$(date +%s%N)
disk_free "$T/b"
pull_as b pull >>"$T/pull.out" 2>>"$T/agent.log" || fail "pull after freeing"
note "after freeing, the pull took $((($(date +%s%N) - t0) / 1000000)) ms"
pull_converge b
assert_eq "b = store" "$(digest_store)" "$(digest_app "$APPB")"
assert_eq "b's outbox" 0 "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_outbox")"
out=$(pull_as b push 2>>"$T/agent.log") || fail "push of b"
case $out in
"pushed 0 changes"*) ;;
*) fail "b pushed pulled rows back: $out" ;;
esac
