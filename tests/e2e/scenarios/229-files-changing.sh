# Files that cannot go as they are, in one push with heartbeat rows that
# go regardless: a 20 MiB file rewritten in place while it is uploaded
# (same size, same mtime: only ferryd's hash check can tell, 422
# hash_mismatch) is hashed again and sent again, and its row carries the new
# content's hash; a file over ferryd's blob_max_bytes is parked
# (file_too_large, ferryd's 413); a file rewritten all the time is parked as
# file_changing after three tries.
echo '{"blob_max_bytes": 33554432}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
files_setup a pc-1
files_proxy "$PORT" 10485760
files_point a "$PROXY_URL"
head -c 20971520 /dev/urandom >"$T/edited.png"
head -c 33554433 /dev/zero >"$T/large.png"
head -c 3145728 /dev/urandom >"$T/busy.png"
app_sql "$APP" "INSERT INTO heartbeat (ts) VALUES ('t1'), ('t2');
  INSERT INTO screenshots VALUES (1, 'a', '$T/edited.png'),
    (2, 'b', '$T/large.png'), (3, 'c', '$T/busy.png')"

# busy.png: new bytes here and there every 50 ms until the push ends
python3 - "$T/busy.png" "$T/busy.stop" <<'PY' &
import os, random, sys, time
while not os.path.exists(sys.argv[2]):
    with open(sys.argv[1], "r+b") as f:
        f.seek(random.randrange(3 << 20))
        f.write(os.urandom(4096))
    time.sleep(0.05)
PY
busy=$!

start=$(files_proxy_bytes)
ferry_bg a push --retry-for 60 >"$T/push.out" 2>>"$T/agent.log"
pid=$!
until [ $(($(files_proxy_bytes) - start)) -ge 2097152 ]; do
    kill -0 $pid 2>/dev/null || fail "the push ended early: $(tail -n 3 "$T/agent.log")"
    sleep 0.02
done
# edited.png: the rest rewritten in place, its size and mtime kept
python3 - "$T/edited.png" <<'PY' || fail "rewrite"
import os, sys
st = os.stat(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    f.seek(8 << 20)
    f.write(os.urandom(st.st_size - (8 << 20)))
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))
PY
rc=0
wait $pid || rc=$?
: >"$T/busy.stop"
wait $busy
assert_eq "push exit" 0 "$rc"
grep -q "did not match its hash" "$T/agent.log" || fail "no hash mismatch: $(tail -n 5 "$T/agent.log")"
# (busy.png's versions that happened to arrive whole were stored too)
sed -n 2p "$T/push.out" | grep -q "^pushed 2 heartbeat, 1 screenshots; uploaded [0-9]* files\?" ||
    fail "per-table line: $(cat "$T/push.out")"

NEW=$(files_sha "$T/edited.png")
assert_eq "the edited file's row carries the new hash" "1|$NEW" \
    "$(store_sql "SELECT id, image_sha256 FROM screenshots")"
files_get "$NEW" "$T/got"
cmp -s "$T/got" "$T/edited.png" || fail "stored blob is not the edited file"
ferry_in a dead list >"$T/dead.out" 2>>"$T/agent.log" || fail "dead list"
grep -q "file_too_large.*'$T/large.png' (33554433 bytes) is over the server's limit" "$T/dead.out" ||
    fail "dead list, too large: $(cat "$T/dead.out")"
grep -q "file_changing.*'$T/busy.png' \(changed while it was being uploaded, 3 times\|kept changing\)" "$T/dead.out" ||
    fail "dead list, changing: $(cat "$T/dead.out")"
assert_eq "heartbeat rows" 2 "$(store_sql "SELECT count(*) FROM heartbeat")"
