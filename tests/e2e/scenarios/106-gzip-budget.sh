# A gzip body is held compressed and decompressed at once, and both count
# against --max-inflight. The decompressed buffer grew by doubling, so a
# body just past a power of two was charged up to twice the body limit:
# with a budget that fits one request alone (2 x --max-body + 64, the
# least ferryd now starts with), a legitimate gzip batch near the limit
# was answered 503 on every try and the agent retried until it exited 5.
# Now a request is charged what it really holds, and one that could never
# fit gets 413 (the agent halves the batch), never a 503 loop.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "blobs",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "data", "type": "bytea"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key gz-1)
MAXB=1100000
MIN=$((2 * MAXB + 64))

# Start-up refuses a budget that one gzip body could not fit in (exit 3,
# saying why); a ferryd that starts anyway is stopped after 5 s (124).
fixs_serve_rc() { # MAX_BODY MAX_INFLIGHT -> exit status of serve
    _rc=0
    timeout 5 "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" \
        serve --listen 127.0.0.1:0 --max-body "$1" --max-inflight "$2" \
        >/dev/null 2>"$T/small.err" </dev/null || _rc=$?
    echo $_rc
}
assert_eq "budget under 2 x max_body" 3 "$(fixs_serve_rc $MAXB $((MIN - 1)))"
grep -q "must be at least twice max_body (1100000 bytes) plus 64, that is $MIN" "$T/small.err" ||
    fail "start-up message: $(cat "$T/small.err")"
assert_eq "budget just over max_body" 3 "$(fixs_serve_rc 4096 4097)"

FERRYD_ARGS="--max-body $MAXB --max-inflight $MIN"
start_ferryd

# fixs_gz_body N: a push of one row whose JSON body is exactly N bytes (a
# random blob: gzip saves only what base64 wastes), gzipped to $T/body.gz
SEQ=0
fixs_gz_body() {
    SEQ=$((SEQ + 1))
    python3 - "$1" "$SEQ" "$T/body.gz" <<'PY'
import base64, gzip, json, os, sys
n, seq, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def body(b64):
    return json.dumps({"changes": [{"seq": seq, "table": "blobs", "op": "upsert",
        "hlc": "%016x" % (seq + 65536), "row": {"id": seq, "data": b64}}]},
        separators=(",", ":")).encode()
room = n - len(body(""))
blob = base64.b64encode(os.urandom(room // 4 * 3))[:room]
blob = blob[:len(blob) // 4 * 4]
pad = room - len(blob)
b = body(blob.decode())
# pad with spaces (valid JSON whitespace) up to exactly n bytes
b = b[:-1] + b" " * pad + b[-1:]
assert len(b) == n, (len(b), n)
open(out, "wb").write(gzip.compress(b, 6))
PY
}
post_gz() {
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST \
        -H "Content-Type: application/json" -H "Content-Encoding: gzip" \
        -H "X-Api-Key: $KEY" --data-binary "@$T/body.gz" "$URL/v1/push"
}

# Generated sizes: just past each power of two below the limit (where the
# doubling overshot most), near the limit, at it, and one byte past it.
# Each is sent three times in a row: a 503 would repeat.
for n in 65537 131073 262145 524289 1048577 1048600 1090000 $((MAXB - 1)) $MAXB $((MAXB + 1)); do
    fixs_gz_body $n
    want=200
    [ $n -gt $MAXB ] && want=413
    for try in 1 2 3; do
        got=$(post_gz)
        [ "$got" = 503 ] && fail "size $n try $try: 503 with nothing else in flight: $(cat "$T/resp.json")"
        assert_eq "size $n ($(wc -c <"$T/body.gz") gzipped) try $try: $(head -c 200 "$T/resp.json")" $want "$got"
    done
    [ $want = 413 ] && { grep -q '"code":"body_too_large"' "$T/resp.json" || fail "413 code: $(cat "$T/resp.json")"; }
done
assert_eq "rows stored" 9 "$(store_sql 'SELECT count(*) FROM blobs')"
# The budget is all given back.
health_ok

# Through the agent (it gzips by default): one change whose batch is just
# under the limit is pushed, and a backlog of changes that together pass
# the limit is split (413, halved) and pushed, none parked.
agent_init a gz-1 8
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)"
ferry_in a track blobs >/dev/null || fail track
app_sql "$APP" "INSERT INTO blobs VALUES (1000, randomblob(810000))"
KEY=$KEY ferry_in a push >"$T/push1.out" 2>>"$T/agent.log" ||
    fail "push of one large change: $(tail -n 5 "$T/agent.log")"
app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < 6) INSERT INTO blobs SELECT 1000 + i, randomblob(300000) FROM n"
KEY=$KEY ferry_in a push >"$T/push2.out" 2>>"$T/agent.log" ||
    fail "push of a backlog over the limit: $(tail -n 5 "$T/agent.log")"
assert_eq "agent rows" 7 "$(store_sql 'SELECT count(*) FROM blobs WHERE id >= 1000')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
case $STORE in
sqlite) sum=$(store_sql "SELECT sum(length(data)) FROM blobs WHERE id >= 1000") ;;
pg) sum=$(store_sql "SELECT sum(octet_length(data)) FROM blobs WHERE id >= 1000") ;;
esac
assert_eq "agent bytes" $((810000 + 6 * 300000)) "$sum"
grep -q ' 503 ' "$T/ferryd.log" && fail "ferryd answered 503: $(grep ' 503 ' "$T/ferryd.log" | head -3)"
true
