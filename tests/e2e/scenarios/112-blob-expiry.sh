# Incomplete uploads untouched for blob_upload_ttl seconds are removed
# (with their parts) by the next blob request; an upload still being
# written and complete blobs stay. A client that comes back after the
# expiry finds offset 0 and starts over.
blob_contract
ferryd_migrate
KEY=$(make_key cam-1)
echo '{"blob_upload_ttl": 3}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
start_ferryd

for f in a b c; do head -c 300000 /dev/urandom >"$T/$f"; done
A=$(blob_sha "$T/a")
B=$(blob_sha "$T/b")
C=$(blob_sha "$T/c")
head -c 100000 "$T/a" >"$T/a1"
head -c 100000 "$T/b" >"$T/b1"
tail -c +100001 "$T/b" | head -c 100000 >"$T/b2"

note "A and B start; C is complete"
assert_eq "C" 201 "$(blob_put "$C" "$KEY" "$T/c")"
assert_eq "A's first part" 202 "$(blob_put "$A" "$KEY" "$T/a1" -H 'Content-Range: bytes 0-99999/300000')"
assert_eq "B's first part" 202 "$(blob_put "$B" "$KEY" "$T/b1" -H 'Content-Range: bytes 0-99999/300000')"
sleep 2
note "B goes on two seconds later; A does not"
assert_eq "B's second part" 202 "$(blob_put "$B" "$KEY" "$T/b2" -H 'Content-Range: bytes 100000-199999/300000')"
sleep 2
note "four seconds after A's last part: gone"
assert_eq "HEAD of A" 404 "$(blob_head "$A" "$KEY")"
assert_eq "A's offset" 0 "$(blob_hdr Upload-Offset)"
assert_eq "nothing of A left" "-1|0|0" "$(blob_held "$A")"
grep -q "removed 1 incomplete uploads idle for 3 s" "$T/ferryd.log" ||
    fail "no log line of the expiry: $(grep blob "$T/ferryd.log" | tail -n 3)"
assert_eq "B stays" "200000|2|200000" "$(blob_held "$B")"
assert_eq "HEAD of B" 404 "$(blob_head "$B" "$KEY")"
assert_eq "B's offset" 200000 "$(blob_hdr Upload-Offset)"
assert_eq "C stays" 200 "$(blob_head "$C" "$KEY")"
assert_eq "C's bytes" 200 "$(blob_get "$C" "$KEY" "$T/got")"
assert_eq "C's content" "$C" "$(blob_sha "$T/got")"

note "A's client comes back: its rest is refused, it starts over"
tail -c +100001 "$T/a" >"$T/a2"
assert_eq "A's rest" 409 "$(blob_put "$A" "$KEY" "$T/a2" -H 'Content-Range: bytes 100000-299999/300000')"
assert_eq "its offset" 0 "$(blob_hdr Upload-Offset)"
assert_eq "A whole" 201 "$(blob_put "$A" "$KEY" "$T/a")"
tail -c +200001 "$T/b" >"$T/b3"
assert_eq "B's rest" 201 "$(blob_put "$B" "$KEY" "$T/b3" -H 'Content-Range: bytes 200000-299999/300000')"
health_ok
