# A blob upload holds one part (1 MiB) of the in-flight body memory, not
# its file: with room for two parts, two slow uploads fill it and a third
# gets 503 server_busy with Retry-After before its body, then goes through
# once they are done. An upload and a download of 60 MB raise ferryd's peak
# memory by far less than the file; a download its client stops reading
# leaves nothing behind (LeakSanitizer checks at the stop in the ASan
# build). HEAD sends no body byte.
# On PostgreSQL a cluster of its own: a part is a transaction of its own,
# and a stream of them holds back the shared cluster's horizon, which
# stalls other tests' pulls and reads.
own_pg
blob_contract
ferryd_migrate
KEY=$(make_key cam-1)
# The smallest budget a 1 MiB max_body allows: two parts and 64 bytes.
FERRYD_ARGS="--max-body 1048576 --max-inflight 2097216"
start_ferryd

for f in a b c; do head -c 4000000 /dev/urandom >"$T/$f"; done
slow() { # NAME: a PUT at 1 MB/s in the background
    curl -s -o "$T/$1.json" -w '%{http_code}' -H "X-Api-Key: $KEY" \
        -H "Expect:" --limit-rate 1M -T "$T/$1" \
        "$URL/v1/blobs/$(blob_sha "$T/$1")" >"$T/$1.code" &
}
slow a
PA=$!
slow b
PB=$!
sleep 1
note "two uploads hold the budget: a third waits"
assert_eq "the third" 503 "$(blob_put "$(blob_sha "$T/c")" "$KEY" "$T/c")"
grep -q '"code":"server_busy"' "$T/blob.json" || fail "503: $(cat "$T/blob.json")"
assert_eq "Retry-After" 1 "$(blob_hdr Retry-After)"
wait $PA $PB
assert_eq "the first two" "201 201" "$(cat "$T/a.code") $(cat "$T/b.code")"
assert_eq "the third, later" 201 "$(blob_put "$(blob_sha "$T/c")" "$KEY" "$T/c")"

note "a 60 MB file through ferryd's memory"
echo '{"blob_max_bytes": 104857600}' >"$T/settings.json"
stop_ferryd
FERRYD_ARGS="--config $T/settings.json"
start_ferryd
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$FERRYD_PID/status"; }
before=$(hwm)
head -c 60000000 /dev/urandom >"$T/big"
BIG=$(blob_sha "$T/big")
assert_eq "upload" 201 "$(blob_put "$BIG" "$KEY" "$T/big")"
assert_eq "download" 200 "$(blob_get "$BIG" "$KEY" "$T/got")"
assert_eq "its bytes" "$BIG" "$(blob_sha "$T/got")"
after=$(hwm)
[ -n "$before" ] && [ -n "$after" ] || fail "no VmHWM for ferryd (pid $FERRYD_PID)"
grown=$((after - before))
note "peak memory grew by $grown kB"
# The sanitizer builds keep freed blocks (AddressSanitizer's quarantine
# holds up to 256 MB: every part freed) and shadow memory of their own: the
# plain build checks the bound.
case ${FERRY_SANITIZE:-} in
*address* | *thread*) note "sanitizer build: the bound is not checked" ;;
*) [ "$grown" -lt 32768 ] || fail "ferryd's peak memory grew by $grown kB for a 60 MB file" ;;
esac

note "a download cut short by its client"
curl -s -H "X-Api-Key: $KEY" --limit-rate 2M "$URL/v1/blobs/$BIG" |
    head -c 3000000 >"$T/cut" || true
assert_eq "the first bytes" "$(head -c 3000000 "$T/big" | blob_sha /dev/stdin)" \
    "$(blob_sha "$T/cut")"
assert_eq "a whole download after it" 200 "$(blob_get "$BIG" "$KEY" "$T/got")"
assert_eq "its bytes" "$BIG" "$(blob_sha "$T/got")"

note "HEAD: headers only"
printf 'HEAD /v1/blobs/%s HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nConnection: close\r\n\r\n' \
    "$BIG" "$KEY" | s2_raw >"$T/head.raw"
assert_eq "HEAD" 200 "$(s2_status "$T/head.raw")"
grep -aq "^Content-Length: 60000000" "$T/head.raw" || fail "HEAD's length: $(cat "$T/head.raw")"
assert_eq "nothing after the headers" "" "$(sed '1,/^\r$/d' "$T/head.raw")"
health_ok
