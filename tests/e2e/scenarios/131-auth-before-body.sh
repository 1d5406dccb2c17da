# ferryd decides on the headers, before any body byte is held: no key, a bad
# key, an unknown path, a wrong method or media type are answered at once
# while the client is still sending; and all bodies in flight together stay
# within --max-inflight (503 with Retry-After past it, then room again).
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key auth-pc)
KR=$(make_key revoked-pc)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null || fail revoke
FERRYD_ARGS="--max-body 65536 --max-inflight 140000"
start_ferryd

# early WHAT STATUS CODE METHOD PATH [HEADER...]: a request declaring a
# body of $LEN bytes (60000) sends 10 bytes of it; the answer must come
# anyway.
early() {
    _what=$1 _st=$2 _code=$3 _m=$4 _p=$5
    shift 5
    {
        printf '%s %s HTTP/1.1\r\nHost: t\r\nContent-Length: %s\r\n' "$_m" "$_p" "${LEN:-60000}"
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\n{"changes"'
    } | s2_raw >"$T/raw.out"
    assert_eq "$_what: answered before the body" "$_st" "$(s2_status "$T/raw.out")"
    grep -aq "{\"error\":{\"code\":\"$_code\"" "$T/raw.out" ||
        fail "$_what: error code $_code expected: $(tail -n 1 "$T/raw.out")"
}
J="Content-Type: application/json"
early "no key" 401 unauthorized POST /v1/push "$J"
early "garbage key" 401 unauthorized POST /v1/push "$J" "X-Api-Key: hello"
early "unknown key" 401 unauthorized POST /v1/push "$J" \
    "X-Api-Key: fy_0123456789abcdef.$(printf '%064d' 7)"
early "revoked key" 401 unauthorized POST /v1/push "$J" "Authorization: Bearer $KR"
early "unknown path" 404 not_found POST /v2/push "$J" "X-Api-Key: $KEY"
early "wrong method" 405 method_not_allowed PUT /v1/push "$J" "X-Api-Key: $KEY"
early "wrong media type" 415 unsupported_media_type POST /v1/push \
    "Content-Type: text/plain" "X-Api-Key: $KEY"
LEN=70000 early "over the size limit" 413 body_too_large POST /v1/push "$J" \
    "X-Api-Key: $KEY"
assert_eq "nothing stored" 0 "$(store_sql 'SELECT count(*) FROM ts')"

# The in-flight budget: two authenticated slow bodies of 60000 bytes hold
# 120002 of the 140000 bytes, so a third is refused with 503 at once.
slow_body() { # holds a 60000-byte body half sent for 3 s
    python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/push HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
           % sys.argv[2]).encode() + b" " * 30000)
time.sleep(3)' "$PORT" "$KEY" &
}
slow_body
S1=$!
slow_body
S2=$!
sleep 0.5
{
    printf 'POST /v1/push HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n' "$KEY"
    printf 'Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n'
} | s2_raw >"$T/raw.out"
assert_eq "third body: no room" 503 "$(s2_status "$T/raw.out")"
grep -aqi '^Retry-After: [0-9]' "$T/raw.out" || fail "503 without Retry-After"
grep -aq '{"error":{"code":"server_busy"' "$T/raw.out" || fail "503 body: $(tail -n 1 "$T/raw.out")"
# A small body still fits in what is left.
assert_eq "small push fits" 200 "$(http_post /v1/push "$KEY" '{"changes":[]}')"
wait "$S1" "$S2" 2>/dev/null || true
sleep 0.3
# The slow bodies gave their room back.
pad=$(head -c 50000 /dev/zero | tr '\0' ' ')
assert_eq "room again" 200 "$(http_post /v1/push "$KEY" "{\"changes\":[]}$pad")"
assert_eq "empty pushes store nothing" 0 "$(store_sql 'SELECT count(*) FROM ts')"
health_ok
s2_log_is_ferry
