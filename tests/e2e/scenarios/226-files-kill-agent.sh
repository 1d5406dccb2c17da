# labels: slow
# A 50 MiB screenshot sent by `ferry push` through a relay that passes
# 10 MiB/s and counts every byte the agent sends to ferryd; the agent is
# SIGKILLed three times mid-upload, each time once 12 MiB more went
# through. Resume: the bytes on the wire in total stay under 1.5x the file
# (starting over after each kill would send about 1.7x); the stored blob
# has the file's SHA-256; the row arrives once; and a poller watching the
# store for the whole run never sees the row while the blob is incomplete.
files_setup a pc-1
files_proxy "$PORT" 10485760
files_point a "$PROXY_URL"
SIZE=52428800
head -c $SIZE /dev/urandom >"$T/big.png"
SHA=$(files_sha "$T/big.png")
app_sql "$APP" "INSERT INTO heartbeat (ts) VALUES ('t1');
  INSERT INTO screenshots VALUES (1, 'now', '$T/big.png')"
files_poll_start "$SHA"

kills=0
while [ $kills -lt 3 ]; do
    start=$(files_proxy_bytes)
    ferry_bg a push --retry-for 60 >>"$T/push.out" 2>>"$T/agent.log"
    pid=$!
    until [ $(($(files_proxy_bytes) - start)) -ge 12582912 ]; do
        kill -0 $pid 2>/dev/null || fail "the push ended before the kill: $(tail -n 3 "$T/agent.log")"
        sleep 0.02
    done
    kill -9 $pid
    wait $pid 2>/dev/null || true
    kills=$((kills + 1))
    assert_eq "no row while the file is incomplete (kill $kills)" 0 \
        "$(store_sql "SELECT count(*) FROM screenshots")"
done
ferry_in a status >"$T/status.out" 2>>"$T/agent.log" || fail status
grep -q "^uploads       1 file not stored at the server yet$" "$T/status.out" ||
    fail "status: $(cat "$T/status.out")"
ferry_in a push >"$T/final.out" 2>>"$T/agent.log" || fail "last push: $(tail -n 3 "$T/agent.log")"
grep -q "^pushed 1 heartbeat, 1 screenshots; uploaded 1 file" "$T/final.out" || fail "summary: $(cat "$T/final.out")"
files_poll_stop

wire=$(files_proxy_bytes)
note "bytes on the wire: $wire for a file of $SIZE ($((wire * 100 / SIZE))%), $kills kills"
[ "$wire" -lt $((SIZE * 3 / 2)) ] || fail "sent $wire bytes for a $SIZE-byte file: not resumed"
[ "$wire" -ge $SIZE ] || fail "the relay counted $wire bytes, less than the file"
files_get "$SHA" "$T/got.png"
assert_eq "stored blob's SHA-256" "$SHA" "$(files_sha "$T/got.png")"
assert_eq "the row, once, with its hash" "1|$SHA" \
    "$(store_sql "SELECT id, image_sha256 FROM screenshots")"
assert_eq "changes applied once" 2 "$(device_changes pc-1)"
assert_eq "upload recorded done" "done" \
    "$(app_sql "$APP" "SELECT state FROM _ferry_blobs WHERE sha256 = '$SHA'")"
