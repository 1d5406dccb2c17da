# labels: slow
# The 50 MiB screenshot of 226, one `ferry push` running throughout while
# ferryd goes away under it twice mid-upload: stopped (SIGTERM) and started
# again, then SIGKILLed and started again on the same port. The push
# retries, asks what the server kept, and sends only the rest: under 1.5x
# the file on the wire, the stored blob's SHA-256 right, the row applied
# once and never seen in the store before its file.
files_setup a pc-1
files_proxy "$PORT" 10485760
files_point a "$PROXY_URL"
SIZE=52428800
head -c $SIZE /dev/urandom >"$T/big.png"
SHA=$(files_sha "$T/big.png")
app_sql "$APP" "INSERT INTO heartbeat (ts) VALUES ('t1');
  INSERT INTO screenshots VALUES (1, 'now', '$T/big.png')"
files_poll_start "$SHA"

# until_through N PID: waits until N more bytes went through the relay
until_through() {
    _start=$(files_proxy_bytes)
    until [ $(($(files_proxy_bytes) - _start)) -ge "$1" ]; do
        kill -0 "$2" 2>/dev/null || fail "the push ended early: $(tail -n 3 "$T/agent.log")"
        sleep 0.02
    done
}

ferry_bg a push --retry-for 60 >"$T/push.out" 2>>"$T/agent.log"
pid=$!
until_through 12582912 $pid
stop_ferryd
note "ferryd stopped at $(files_proxy_bytes) bytes"
sleep 0.5
start_ferryd "$PORT"
until_through 12582912 $pid
kill9_ferryd
note "ferryd killed at $(files_proxy_bytes) bytes"
sleep 0.5
start_ferryd "$PORT"
wait $pid || fail "push: $(tail -n 3 "$T/agent.log")"
grep -q "^pushed 1 heartbeat, 1 screenshots; uploaded 1 file" "$T/push.out" ||
    fail "summary: $(cat "$T/push.out")"
files_poll_stop

wire=$(files_proxy_bytes)
note "bytes on the wire: $wire for a file of $SIZE ($((wire * 100 / SIZE))%)"
[ "$wire" -lt $((SIZE * 3 / 2)) ] || fail "sent $wire bytes for a $SIZE-byte file: not resumed"
files_get "$SHA" "$T/got.png"
assert_eq "stored blob's SHA-256" "$SHA" "$(files_sha "$T/got.png")"
assert_eq "the row, once, with its hash" "1|$SHA" \
    "$(store_sql "SELECT id, image_sha256 FROM screenshots")"
assert_eq "changes applied once" 2 "$(device_changes pc-1)"
