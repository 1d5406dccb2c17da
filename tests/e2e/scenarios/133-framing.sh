# Framing with two readings is refused with ferry's 400 before anything is
# read (request smuggling behind a proxy); what libmicrohttpd refuses by
# itself (bad lengths, bad chunks, 414, 431, 505) still gets its status and
# a log line in ferry's form. Its body there is libmicrohttpd's own HTML
# page: docs/api.md says why.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key frame-pc)
start_ferryd
B='{"changes":[]}' # 14 bytes

# frame WHAT STATUS HEADERS BODY: one raw POST /v1/push with a key;
# HEADERS and BODY are written with \r\n escapes (printf %b)
frame() {
    printf 'POST /v1/push HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\n%b\r\n%b' \
        "$KEY" "$3" "$4" | s2_raw >"$T/raw.out"
    assert_eq "$1" "$2" "$(s2_status "$T/raw.out")"
}
ours() { # WHAT CODE: the answer is ferry's JSON error
    grep -aq '^Content-Type: application/json' "$T/raw.out" || fail "$1: not JSON"
    grep -aq "{\"error\":{\"code\":\"$2\"" "$T/raw.out" || fail "$1: $(tail -n 1 "$T/raw.out")"
}
CL='Content-Length: 14\r\n'
TE='Transfer-Encoding: chunked\r\n'
CHUNKED="e\r\n$B\r\n0\r\n\r\n"

for case in "Content-Length: 14\r\nContent-Length: 15\r\n" \
    "Content-Length: 15\r\nContent-Length: 14\r\n" \
    "Content-Length: 14\r\nContent-length: 0\r\n" \
    "$CL$TE" "$TE$CL" "Content-Length: 0\r\n$TE"; do
    frame "$case" 400 "$case" "$CHUNKED"
    ours "$case" bad_framing
done
for te in "gzip, chunked" "chunked, chunked" "identity" "chunked\r\nTransfer-Encoding: chunked"; do
    frame "TE $te" 400 "Transfer-Encoding: $te\r\n" "$CHUNKED"
    ours "TE $te" bad_framing
done
assert_eq "nothing stored" 0 "$(store_sql 'SELECT count(*) FROM ts')"
# One length said twice is one length; plain chunked is fine.
frame "same length twice" 200 "$CL$CL" "$B"
frame "chunked" 200 "$TE" "$CHUNKED"

# What libmicrohttpd answers itself: status right, one ferry log line each.
mhd() { # WHAT STATUS: the last raw answer has STATUS, the log says so
    assert_eq "$1" "$2" "$(s2_status "$T/raw.out")"
    grep -aq "http: .* $2 .*by=libmicrohttpd\|http: libmicrohttpd: .*code is $2" "$T/ferryd.log" ||
        fail "$1: no ferry log line for $2"
}
frame "negative length" 400 "Content-Length: -5\r\n" ""
mhd "negative length" 400
frame "overflowing length" 413 "Content-Length: 99999999999999999999999\r\n" ""
mhd "overflowing length" 413
frame "bad chunk" 400 "$TE" 'zz\r\nabc\r\n0\r\n\r\n'
mhd "bad chunk" 400
printf 'GET /health HTTP/2.0\r\nHost: t\r\n\r\n' | s2_raw >"$T/raw.out"
mhd "HTTP/2.0 request line" 505
printf 'GET /%s HTTP/1.1\r\nHost: t\r\n\r\n' "$(head -c 40000 /dev/zero | tr '\0' a)" | s2_raw >"$T/raw.out"
mhd "40 KB URI" 414
printf 'GET /health HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n' "$(head -c 40000 /dev/zero | tr '\0' a)" | s2_raw >"$T/raw.out"
mhd "40 KB header" 431
health_ok
stop_ferryd
s2_log_is_ferry
