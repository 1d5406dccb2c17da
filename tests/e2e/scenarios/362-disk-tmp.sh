# ferryd's temporary directory fills up ($TMPDIR on a 4 MiB tmpfs): the
# spooled body of a snapshot upload, the private copy SQLite opens, and a
# download being built. Each is answered 503 store_unavailable with
# Retry-After, its partial file is gone when the request ends, nothing is
# merged, and ferryd keeps serving. A client retrying on Retry-After (curl
# --retry) completes once space is freed, and the store then holds exactly
# the file's rows; the download is exact too. Needs root for the mount
# (else exit 77).
disk_mount "$T/tdisk" 4m
items_contract
ferryd_migrate
KEY=$(make_key office-1)
_tmp=${TMPDIR:-}
export TMPDIR="$T/tdisk"
start_ferryd
if [ -n "$_tmp" ]; then TMPDIR=$_tmp; else unset TMPDIR; fi
# What is free with ferryd idle: all of it but what a sanitizer's runtime
# keeps in $TMPDIR (ThreadSanitizer maps a deleted 512 KiB tsan.rodata.PID
# there for the process's life).
IDLE_FREE=$(df -B1 --output=avail "$T/tdisk" | tail -n 1 | tr -d ' ')

# The office's file: 3,000 rows, ~1.9 MB
fill_items "$T/office.db" 3000
app_sql "$T/office.db" "UPDATE items SET data = randomblob(500)"
SIZE=$(stat -c %s "$T/office.db")

upload() { # -> status; answer in $T/resp.json, headers in $T/h.txt
    curl -s -D "$T/h.txt" -o "$T/resp.json" -w '%{http_code}' -X POST \
        -H "X-Api-Key: $KEY" -H "Content-Type: application/x-sqlite3" \
        --data-binary "@$T/office.db" "$URL/v1/snapshots"
}

# expect_503 WHAT STATUS: 503 store_unavailable, Retry-After, the disk named
expect_503() {
    assert_eq "$1: status" 503 "$2"
    grep -qi '^Retry-After: [0-9]' "$T/h.txt" || fail "$1: no Retry-After: $(cat "$T/h.txt")"
    grep -q '"code":"store_unavailable"' "$T/resp.json" || fail "$1: $(cat "$T/resp.json")"
    grep -q "the server's disk is full" "$T/resp.json" || fail "$1: $(cat "$T/resp.json")"
}

# tmp_left WHAT BYTES: once the request's files are closed, BYTES are free
# again on the tmpfs and none of ferryd's files is left there
tmp_left() {
    _i=0
    while [ "$(df -B1 --output=avail "$T/tdisk" | tail -n 1 | tr -d ' ')" -ne "$2" ]; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "$1: $(df -B1 --output=avail "$T/tdisk" | tail -n 1) bytes free, expected $2"
        sleep 0.05
    done
    assert_eq "$1: files left" "" "$(ls "$T/tdisk")"
}

note "full to the last byte: the body cannot be spooled"
filled=$(disk_fill "$T/tdisk")
expect_503 "spooling the body" "$(upload)"
tmp_left "spooling the body" 0
assert_eq "nothing merged" 0 "$(store_sql 'SELECT count(*) FROM items')"
health_ok

note "room for the body, not for SQLite's private copy"
disk_free "$T/tdisk"
free=$(df -B1 --output=avail "$T/tdisk" | tail -n 1 | tr -d ' ')
# leave the body's size and 256 KiB: less than twice the file
head -c $((free - SIZE - 262144)) /dev/zero >"$T/tdisk/.fill"
left=$(df -B1 --output=avail "$T/tdisk" | tail -n 1 | tr -d ' ')
expect_503 "the private copy" "$(upload)"
grep -q "cannot write '$T/tdisk/ferryd-snapshot-" "$T/ferryd.log" ||
    fail "the copy did not fail: $(tail -n 5 "$T/ferryd.log")"
tmp_left "the private copy" "$left"
assert_eq "nothing merged" 0 "$(store_sql 'SELECT count(*) FROM items')"
health_ok

note "a client retrying on Retry-After completes once space is freed"
disk_free "$T/tdisk"
filled=$(disk_fill "$T/tdisk")
refused() { grep -c 'http: POST /v1/snapshots 503 ' "$T/ferryd.log" || true; }
n503=$(refused)
curl -s -o "$T/retry.json" -w '%{http_code}' --retry 30 --retry-max-time 120 \
    -X POST -H "X-Api-Key: $KEY" -H "Content-Type: application/x-sqlite3" \
    --data-binary "@$T/office.db" "$URL/v1/snapshots" >"$T/retry.code" 2>"$T/retry.err" &
cpid=$!
i=0
while [ "$(refused)" -lt $((n503 + 2)) ]; do
    i=$((i + 1))
    [ $i -gt 1200 ] && fail "curl was not refused twice in 60 s"
    sleep 0.05
done
t0=$(date +%s%N)
disk_free "$T/tdisk"
wait $cpid || fail "curl --retry: $(cat "$T/retry.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "upload after freeing" 200 "$(cat "$T/retry.code")"
grep -q '"created":3000' "$T/retry.json" || fail "upload: $(cat "$T/retry.json")"
assert_eq "the store holds the file's rows" "$(digest_app "$T/office.db")" "$(digest_store)"
tmp_left "after the upload" "$IDLE_FREE"
note "freed: the retrying upload completed $ms ms later"

note "a download cannot be built on a full disk"
filled=$(disk_fill "$T/tdisk")
code=$(curl -s -D "$T/h.txt" -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KEY" \
    "$URL/v1/snapshots/latest")
expect_503 "building the download" "$code"
tmp_left "building the download" 0
disk_free "$T/tdisk"
code=$(curl -s -o "$T/latest.db" -w '%{http_code}' -H "X-Api-Key: $KEY" \
    "$URL/v1/snapshots/latest")
assert_eq "download after freeing" 200 "$code"
assert_eq "the download holds the store's rows" "$(digest_store)" "$(digest_app "$T/latest.db")"
health_ok
