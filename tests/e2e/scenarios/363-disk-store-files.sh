# Files named by rows (ferry.files) pushed while the store's disk is full:
# the agent's uploads are answered 503 store_unavailable with Retry-After,
# it retries, asking first what the server held (HEAD), and once space is
# freed the same push completes: every row with its hash, every file
# downloads with its exact SHA-256, nothing parked. The store on a tmpfs as in 361 (disk_store in lib.sh). Needs
# root for the mount (else exit 77).
case $STORE in
sqlite) disk_store 24m ;;
pg) disk_store 40m ;;
esac
files_setup a pc-1 50
mkdir -p "$T/shots"
n=3
i=1
while [ $i -le $n ]; do
    head -c 2500000 /dev/urandom >"$T/shots/$i.png"
    app_sql "$APP" "INSERT INTO screenshots VALUES ($i, 't$i', '$T/shots/$i.png')"
    i=$((i + 1))
done
app_sql "$APP" "INSERT INTO heartbeat (ts) VALUES ('h1'), ('h2')"

note "the store's disk full but 3 MB: the push uploads until it is refused"
disk_fill "$T/sdisk" >/dev/null
truncate -s -3000000 "$T/sdisk/.fill"
n503=$(ferryd_503s)
ferry_bg a push --retry-for 300 >"$T/push.out" 2>"$T/push.err"
pid=$!
i=0
while [ "$(ferryd_503s)" -lt $((n503 + 2)) ]; do
    kill -0 $pid 2>/dev/null || fail "the push ended on a full disk: $(cat "$T/push.out" "$T/push.err")"
    i=$((i + 1))
    [ $i -gt 1200 ] && fail "no two 503s in 60 s"
    sleep 0.05
done
grep -q 'PUT /v1/blobs/[0-9a-f]* 503' "$T/ferryd.log" ||
    fail "no upload was refused: $(grep ' 503 ' "$T/ferryd.log" | head -n 3)"
t0=$(date +%s%N)
disk_free "$T/sdisk"
wait $pid || fail "the push after freeing: $(cat "$T/push.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$T/push.err" >>"$T/agent.log"
grep -q "retry: server answered 503: the server's disk is full" "$T/push.err" ||
    fail "the push did not report the 503s: $(cat "$T/push.err")"
assert_eq "per-table line" "pushed $n screenshots, 2 heartbeat; uploaded $n files (7.2 MiB)" \
    "$(sed -n 2p "$T/push.out")"
note "freed: the push completed $ms ms later; $(ferryd_503s) answers 503"

i=1
while [ $i -le $n ]; do
    sha=$(files_sha "$T/shots/$i.png")
    assert_eq "row $i's hash" "$sha" \
        "$(store_sql "SELECT image_sha256 FROM screenshots WHERE id = $i")"
    files_get "$sha" "$T/got"
    assert_eq "file $i's digest" "$sha" "$(files_sha "$T/got")"
    i=$((i + 1))
done
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
refused=$(grep -c 'PUT /v1/blobs/[0-9a-f]* 503' "$T/ferryd.log")
note "$refused uploads refused, $(grep -c 'HEAD /v1/blobs/' "$T/ferryd.log") HEADs asking what the server held"
health_ok
