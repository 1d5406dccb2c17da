# The store lost a blob the agent had stored (restored from a backup, say):
# ferryd refuses the next change of its row (422 missing_blob, nothing
# stored), the agent parks it and forgets the blob, and once the change is
# re-queued (`ferry dead retry`) the file is uploaded again and the row
# arrives with it.
files_setup a pc-1
head -c 100000 /dev/urandom >"$T/shot.png"
SHA=$(files_sha "$T/shot.png")
app_sql "$APP" "INSERT INTO screenshots VALUES (1, 'a', '$T/shot.png')"
ferry_in a push >"$T/push1.out" 2>>"$T/agent.log" || fail "push 1"
assert_eq "stored" 200 "$(files_blob_status "$SHA")"

case $STORE in
sqlite) store_sql "DELETE FROM ferry_blob_parts; DELETE FROM ferry_blobs" ;;
pg) store_sql "DELETE FROM ferry.blob_parts; DELETE FROM ferry.blobs" ;;
esac
assert_eq "gone from the store" 404 "$(files_blob_status "$SHA")"
app_sql "$APP" "UPDATE screenshots SET taken = 'b' WHERE id = 1"
assert_exit "push: the change refused and parked" 6 ferry_in a push
ferry_in a dead list >"$T/dead.out" 2>>"$T/agent.log" || fail "dead list"
grep -q "missing_blob" "$T/dead.out" || fail "dead list: $(cat "$T/dead.out")"
assert_eq "the store's row as it was" "a" \
    "$(store_sql "SELECT taken FROM screenshots WHERE id = 1")"

ferry_in a dead retry --all >/dev/null 2>>"$T/agent.log" || fail "dead retry"
ferry_in a push >"$T/push3.out" 2>>"$T/agent.log" || fail "push 3: $(tail -n 3 "$T/agent.log")"
assert_eq "uploaded again" "pushed 1 screenshots; uploaded 1 file (97.7 KiB)" \
    "$(sed -n 2p "$T/push3.out")"
assert_eq "the row with its file" "b|$SHA" \
    "$(store_sql "SELECT taken, image_sha256 FROM screenshots WHERE id = 1")"
assert_eq "stored again" 200 "$(files_blob_status "$SHA")"
