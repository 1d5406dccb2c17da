# Two clients uploading the same file at once: the second starts over
# while the first is mid-file, the first gets 409 and resumes from the
# offset it is told (or 200 once the other completed it); one 201, the
# parts add up, the exact bytes. Then a client sending wrong bytes under
# the right hash while another sends the right ones: the wrong one gets
# 409 (the right one started over), and the blob is the right content.
# On PostgreSQL a cluster of its own: a part is a transaction of its own,
# and a stream of them holds back the shared cluster's horizon, which
# stalls other tests' pulls and reads.
own_pg
blob_contract
ferryd_migrate
KEY=$(make_key cam-1)
start_ferryd

# racer NAME SHA FILE [AGAIN]: uploads FILE as SHA, resuming from the
# offset ferryd gives while the answer is 409 or matches AGAIN (a grep
# pattern; default 409); every status in $T/NAME.codes. A resume asks
# 100-continue: it is answered on the headers when the other completed the
# blob meanwhile (200), before its body races that answer.
racer() {
    _n=$1 _sha=$2 _file=$3 _again=${4:-409}
    _size=$(wc -c <"$_file")
    _code=$(curl -s -D "$T/$_n.h" -o "$T/$_n.json" -w '%{http_code}' \
        -H "X-Api-Key: $KEY" -H "Expect:" --limit-rate 4M -T "$_file" \
        "$URL/v1/blobs/$_sha")
    echo "$_code" >>"$T/$_n.codes"
    _i=0
    while echo "$_code" | grep -qx "$_again" && [ $_i -lt 50 ]; do
        _i=$((_i + 1))
        _r=$(sed -n 's/^Upload-Offset: *\([0-9]*\).*/\1/Ip' "$T/$_n.h")
        tail -c +$((_r + 1)) "$_file" >"$T/$_n.rest"
        _code=$(curl -s -D "$T/$_n.h" -o "$T/$_n.json" -w '%{http_code}' \
            -H "X-Api-Key: $KEY" -H "Expect: 100-continue" --limit-rate 4M \
            -H "Content-Range: bytes $_r-$((_size - 1))/$_size" \
            -T "$T/$_n.rest" "$URL/v1/blobs/$_sha")
        echo "$_code" >>"$T/$_n.codes"
    done
}

for round in 1 2 3; do
    note "round $round: two clients, one file"
    head -c 6000000 /dev/urandom >"$T/f"
    H=$(blob_sha "$T/f")
    : >"$T/a.codes"
    : >"$T/b.codes"
    # A resumes after a 409; B, starting over 0.2 to 0.6 s into A's upload
    # (6 MB at 4 MB/s), makes A's next part a conflict.
    racer a "$H" "$T/f" &
    A=$!
    sleep 0.$((round * 2))
    racer b "$H" "$T/f" none &
    B=$!
    wait $A $B
    bad=$(cat "$T/a.codes" "$T/b.codes" | grep -vx '201\|200\|409' || true)
    [ -z "$bad" ] || fail "unexpected answers: $(cat "$T/a.codes" "$T/b.codes" | tr '\n' ' ')"
    assert_eq "stored once" 1 "$(cat "$T/a.codes" "$T/b.codes" | grep -cx 201)"
    grep -qx 409 "$T/a.codes" || fail "no race: $(tr '\n' ' ' <"$T/a.codes")"
    assert_eq "GET" 200 "$(blob_get "$H" "$KEY" "$T/got")"
    assert_eq "the exact bytes" "$H" "$(blob_sha "$T/got")"
    assert_eq "parts add up" "6000000|6|6000000" "$(blob_held "$H")"
done

note "wrong bytes under the right hash, beside the right ones"
head -c 6000000 /dev/urandom >"$T/g"
G=$(blob_sha "$T/g")
head -c 6000000 /dev/urandom >"$T/bogus"
: >"$T/a.codes"
: >"$T/b.codes"
racer b "$G" "$T/bogus" none &
B=$!
sleep 0.3
racer a "$G" "$T/g" &
A=$!
wait $A $B
assert_eq "the right one stored it" 201 "$(tr '\n' ' ' <"$T/a.codes" | sed 's/ $//')"
# Its bytes were not stored: the right ones started over.
assert_eq "the wrong one" 409 "$(tr '\n' ' ' <"$T/b.codes" | sed 's/ $//')"
assert_eq "GET" 200 "$(blob_get "$G" "$KEY" "$T/got")"
assert_eq "the right bytes" "$G" "$(blob_sha "$T/got")"
health_ok
