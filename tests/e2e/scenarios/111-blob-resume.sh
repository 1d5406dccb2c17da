# Resumable uploads (docs/blobs.md): what arrives is kept however the
# request ends. A client killed mid-body, ferryd stopped (SIGTERM) mid-body
# and ferryd SIGKILLed mid-body: each time HEAD says how much the store
# holds (the parts always add up to it), the client sends the rest with
# Content-Range, and GET returns the exact file. A stop keeps every byte
# that arrived; a SIGKILL loses at most the part not yet committed.
# On PostgreSQL a cluster of its own: a part is a transaction of its own,
# and a stream of them holds back the shared cluster's horizon, which
# stalls other tests' pulls and reads.
own_pg
blob_contract
ferryd_migrate
KEY=$(make_key cam-1)
start_ferryd
MIB=1048576

# slow_put SHA FILE: a PUT at 1 MB/s in the background ($SLOW is its pid)
slow_put() {
    curl -s -o /dev/null -H "X-Api-Key: $KEY" -H "Expect:" --limit-rate 1M \
        -T "$2" "$URL/v1/blobs/$1" &
    SLOW=$!
}

# wait_held SHA BYTES: until the store holds at least BYTES of SHA (20 s)
wait_held() {
    _i=0
    while [ "$(blob_held "$1" | cut -d'|' -f1)" -lt "$2" ]; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "the store never held $2 bytes of $1: $(blob_held "$1")"
        sleep 0.1
    done
}

# offset SHA: HEAD's Upload-Offset, checked against the store's parts
offset() {
    assert_eq "HEAD of an incomplete upload" 404 "$(blob_head "$1" "$KEY")"
    _r=$(blob_hdr Upload-Offset)
    _held=$(blob_held "$1")
    assert_eq "the parts add up to the offset" "$_r" "${_held##*|}"
    assert_eq "the store's offset" "$_r" "${_held%%|*}"
    echo "$_r"
}

# finish SHA FILE R: sends the rest from R; GET must give the file back
finish() {
    tail -c +$(($3 + 1)) "$2" >"$T/rest"
    assert_eq "the rest from $3" 201 "$(blob_put "$1" "$KEY" "$T/rest" \
        -H "Content-Range: bytes $3-$(($(wc -c <"$2") - 1))/$(wc -c <"$2")")"
    assert_eq "GET" 200 "$(blob_get "$1" "$KEY" "$T/got")"
    assert_eq "the exact bytes" "$(blob_sha "$2")" "$(blob_sha "$T/got")"
}

note "the client killed mid-body"
head -c 12000000 /dev/urandom >"$T/a"
A=$(blob_sha "$T/a")
slow_put "$A" "$T/a"
wait_held "$A" $MIB
sleep 0.6
kill "$SLOW"
wait "$SLOW" 2>/dev/null || true
sleep 0.3 # ferryd sees the connection close
R=$(offset "$A")
[ "$R" -gt $MIB ] || fail "only $R bytes kept"
[ $((R % MIB)) -ne 0 ] || fail "the part in memory was not kept: $R bytes"
grep -q "sha256=$A upload cut short" "$T/ferryd.log" || fail "no log line of the cut"
finish "$A" "$T/a" "$R"

note "ferryd stopped (SIGTERM) mid-body keeps what arrived"
head -c 12000000 /dev/urandom >"$T/b"
B=$(blob_sha "$T/b")
slow_put "$B" "$T/b"
wait_held "$B" $MIB
sleep 0.6
stop_ferryd
wait "$SLOW" 2>/dev/null || true
start_ferryd
R=$(offset "$B")
[ "$R" -gt $MIB ] || fail "only $R bytes kept"
[ $((R % MIB)) -ne 0 ] || fail "the part in memory was not kept: $R bytes"
finish "$B" "$T/b" "$R"

note "ferryd SIGKILLed mid-body loses at most the part in memory"
head -c 12000000 /dev/urandom >"$T/c"
C=$(blob_sha "$T/c")
slow_put "$C" "$T/c"
wait_held "$C" $((2 * MIB))
kill9_ferryd
wait "$SLOW" 2>/dev/null || true
start_ferryd
R=$(offset "$C")
[ "$R" -ge $((2 * MIB)) ] || fail "committed parts lost: $R bytes"
[ $((R % MIB)) -eq 0 ] || fail "a part of $R bytes: only whole parts commit before the end"
finish "$C" "$T/c" "$R"

note "a resumed upload of the wrong content: 422 and nothing kept"
head -c 3000000 /dev/urandom >"$T/d"
D=$(blob_sha "$T/d")
head -c 2000000 "$T/d" >"$T/d1"
assert_eq "a first part" 202 "$(blob_put "$D" "$KEY" "$T/d1" -H 'Content-Range: bytes 0-1999999/3000000')"
head -c 1000000 /dev/urandom >"$T/d2"
assert_eq "a wrong rest" 422 "$(blob_put "$D" "$KEY" "$T/d2" -H 'Content-Range: bytes 2000000-2999999/3000000')"
grep -q '"code":"hash_mismatch"' "$T/blob.json" || fail "422: $(cat "$T/blob.json")"
assert_eq "discarded" "-1|0|0" "$(blob_held "$D")"
assert_eq "a whole upload again" 201 "$(blob_put "$D" "$KEY" "$T/d")"

note "starting over from 0 drops what an earlier upload held"
head -c 3000000 /dev/urandom >"$T/e"
E=$(blob_sha "$T/e")
head -c 1500000 "$T/e" >"$T/e1"
assert_eq "a first part" 202 "$(blob_put "$E" "$KEY" "$T/e1" -H 'Content-Range: bytes 0-1499999/3000000')"
assert_eq "held" "1500000|2|1500000" "$(blob_held "$E")"
head -c 1000 "$T/e" >"$T/e2"
assert_eq "from 0 again" 202 "$(blob_put "$E" "$KEY" "$T/e2" -H 'Content-Range: bytes 0-999/3000000')"
assert_eq "held now" "1000|1|1000" "$(blob_held "$E")"
finish "$E" "$T/e" 1000

health_ok
