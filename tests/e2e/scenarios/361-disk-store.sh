# The store's disk fills up: the SQLite store's file on a small tmpfs, or
# on PostgreSQL the database moved to a tablespace on one (the WAL stays on
# the cluster's disk; see disk_store in lib.sh). Full before a push: ferryd
# answers a push, a blob upload, a row API write and a snapshot merge 503
# store_unavailable with Retry-After, none of them is written, nothing is
# parked, and it keeps answering reads. Full during a push: the agent
# retries through the 503s and completes once space is freed, with the
# store exactly the app's rows and no change applied twice. A blob cut by
# the full disk is not readable, resumes from what the server kept and
# downloads with its exact SHA-256. Needs root for the mount (else exit
# 77).
case $STORE in
sqlite) disk_store 16m ;;
pg) disk_store 32m ;; # a new database's catalogs are ~8 MB of it
esac
items_contract
ferryd_migrate
KEY=$(make_key dev-a)
KB=$(make_key dev-b)
start_ferryd
agent_init a dev-a 50
APP=$T/a/app.db
fill_items "$APP" 2000
ferry_in a track items >/dev/null || fail track
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"

# expect_503 WHAT: the last curl's answer ($T/h.txt, $T/resp.json) was 503
# store_unavailable with Retry-After
expect_503() {
    # the last status line (a 100 Continue may come first)
    assert_eq "$1: status" 503 "$(grep '^HTTP/' "$T/h.txt" | tail -n 1 | cut -d' ' -f2)"
    grep -qi '^Retry-After: [0-9]' "$T/h.txt" ||
        fail "$1: no Retry-After: $(cat "$T/h.txt")"
    grep -q '"code":"store_unavailable"' "$T/resp.json" ||
        fail "$1: $(cat "$T/resp.json")"
    grep -q "the server's disk is full" "$T/resp.json" ||
        fail "$1: $(cat "$T/resp.json")"
}

note "full before the push"
filled=$(disk_fill "$T/sdisk")
curl -s -D "$T/h.txt" -o "$T/resp.json" -X POST -H "X-Api-Key: $KB" \
    -H "Content-Type: application/json" --data-binary \
    '{"changes":[{"seq":1,"table":"items","op":"upsert","hlc":"0000000000010000","row":{"id":999999,"name":"probe"}}]}' \
    "$URL/v1/push" || fail "curl push"
expect_503 "push on a full store"
head -c 3000000 /dev/urandom >"$T/blob.bin"
H=$(sha256sum "$T/blob.bin" | cut -c1-64)
curl -s -D "$T/h.txt" -o "$T/resp.json" -T "$T/blob.bin" -H "X-Api-Key: $KB" \
    "$URL/v1/blobs/$H" || fail "curl blob"
expect_503 "blob upload on a full store"
# a row API write whose 600 KB value needs new pages, and a snapshot
# upload of 3,000 new rows: refused whole
python3 -c 'import base64, json, os, sys
json.dump({"id": 888888, "name": "row api",
           "data": base64.b64encode(os.urandom(600000)).decode()}, sys.stdout)' >"$T/row.json"
curl -s -D "$T/h.txt" -o "$T/resp.json" -X POST -H "X-Api-Key: $KB" \
    -H "Content-Type: application/json" --data-binary "@$T/row.json" \
    "$URL/v1/tables/items/rows" || fail "curl row"
expect_503 "row API write on a full store"
app_sql "$T/office.db" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT,
    qty INTEGER, price REAL, data BLOB);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
  INSERT INTO items SELECT 60000 + i, 'office ' || i, i, NULL, NULL FROM n"
curl -s -D "$T/h.txt" -o "$T/resp.json" -X POST -H "X-Api-Key: $KB" \
    -H "Content-Type: application/x-sqlite3" --data-binary "@$T/office.db" \
    "$URL/v1/snapshots" || fail "curl snapshot"
expect_503 "snapshot merge on a full store"
# 3,000 new rows: batches that fit in the free room of pages PostgreSQL
# already has may still go in (a full disk stops what must grow a file);
# each batch goes in whole or not at all.
acked0=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'acked_seq'")
app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
    FROM n WHERE i < 3000) INSERT INTO items (id, name, qty)
    SELECT 50000 + i, 'new ' || i, i FROM n"
rc=0
ferry_in a push --retry-for 6 >"$T/push.out" 2>"$T/push.err" || rc=$?
cat "$T/push.err" >>"$T/agent.log"
assert_eq "push on a full store: exit code" 5 "$rc"
grep -q "server answered 503: the server's disk is full; retry later" "$T/push.err" ||
    fail "push on a full store: $(cat "$T/push.err")"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
health_ok
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KB" "$URL/v1/changes?limit=10")
assert_eq "reads on a full store" 200 "$code"
note "filled with $filled bytes: push and blob answered 503, $(ferryd_503s) so far"
# Read with psql once there is room: PostgreSQL refuses new connections
# while the database's own directory is full ("could not write init file").
disk_free "$T/sdisk"
acked=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'acked_seq'")
assert_eq "the store acked what the agent was told" "$acked" "$(device_acked dev-a)"
got=$(store_sql "SELECT count(*) || ' ' || coalesce(max(id) - 50000, 0) FROM items
    WHERE id > 50000 AND id <= 53000")
assert_eq "whole batches, in order" "$((acked - acked0)) $((acked - acked0))" "$got"
assert_eq "probe rows" 0 "$(store_sql 'SELECT count(*) FROM items WHERE id IN (999999, 888888) OR id BETWEEN 60001 AND 63000')"
note "$((acked - acked0)) of 3000 new rows went in before the 503s"
verify_items dev-a

note "full during a push, freed while the agent retries"
tries=0
while :; do
    tries=$((tries + 1))
    base=$((100000 * tries))
    app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
        FROM n WHERE i < $((6000 * tries))) INSERT INTO items (id, name, qty)
        SELECT $base + i, 'during ' || i, i FROM n"
    start=$(device_acked dev-a)
    n503=$(ferryd_503s)
    ferry_bg a push --retry-for 300 >"$T/push.out" 2>"$T/push.err"
    pid=$!
    i=0
    while [ "$(device_acked dev-a)" = "$start" ] && kill -0 $pid 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && fail "the push sent nothing in 30 s"
        sleep 0.05
    done
    filled=$(disk_fill "$T/sdisk")
    # two 503s: the agent was refused and came back (Retry-After: 2 s)
    i=0
    while [ "$(ferryd_503s)" -lt $((n503 + 2)) ] && kill -0 $pid 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 1200 ] && fail "no 503 in 60 s of a full disk"
        sleep 0.05
    done
    kill -0 $pid 2>/dev/null && break
    wait $pid || fail "the push failed: $(cat "$T/push.err")"
    [ $tries -lt 3 ] || fail "the push finished before the disk was full, 3 times"
    disk_free "$T/sdisk"
done
note "the disk filled ($filled bytes); the agent retries"
t0=$(date +%s%N)
disk_free "$T/sdisk"
wait $pid || fail "the push after freeing: $(cat "$T/push.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$T/push.err" >>"$T/agent.log"
grep -q "retry: server answered 503: the server's disk is full" "$T/push.err" ||
    fail "the push did not report the 503s: $(cat "$T/push.err")"
verify_items dev-a
note "freed: the push completed $ms ms later; $(ferryd_503s) answers 503 in all"

note "a blob cut by the full disk resumes"
head -c 6000000 /dev/urandom >"$T/blob.bin"
H=$(sha256sum "$T/blob.bin" | cut -c1-64)
filled=$(disk_fill "$T/sdisk")
truncate -s -2500000 "$T/sdisk/.fill"
curl -s -D "$T/h.txt" -o "$T/resp.json" -T "$T/blob.bin" -H "X-Api-Key: $KB" \
    "$URL/v1/blobs/$H" || true
expect_503 "blob upload filling the disk"
curl -s -o "$T/get.bin" -w '%{http_code}' -H "X-Api-Key: $KB" "$URL/v1/blobs/$H" >"$T/code.txt"
assert_eq "a cut blob is not readable" 404 "$(cat "$T/code.txt")"
curl -sI -H "X-Api-Key: $KB" "$URL/v1/blobs/$H" | tr -d '\r' >"$T/head.txt"
held=$(sed -n 's/^Upload-Offset: //p' "$T/head.txt")
[ -n "$held" ] && [ "$held" -lt 6000000 ] || fail "HEAD: $(cat "$T/head.txt")"
disk_free "$T/sdisk"
SIZE=6000000
tail -c +$((held + 1)) "$T/blob.bin" >"$T/rest.part"
code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -T "$T/rest.part" -H "X-Api-Key: $KB" \
    -H "Content-Range: bytes $held-$((SIZE - 1))/$SIZE" "$URL/v1/blobs/$H")
assert_eq "resumed upload" 201 "$code"
curl -s -o "$T/get.bin" -H "X-Api-Key: $KB" "$URL/v1/blobs/$H" || fail "download"
assert_eq "blob digest" "$H" "$(sha256sum "$T/get.bin" | cut -c1-64)"
note "the server held $held of $SIZE bytes when the disk was full; resumed and exact"
health_ok
