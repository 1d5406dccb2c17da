# Nothing a request carries can forge a log line or reach the terminal as a
# control sequence: every control byte, C1 control, bidirectional override
# and invalid UTF-8 byte, in the path (percent-decoded by the server, with
# and without a key) and in a value from the body that a log line quotes,
# is logged escaped, one request per line.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key inj-pc)
start_ferryd

# The generated family: every C0 control byte and DEL, then the multi-byte
# cases, each as a percent-encoded path and as a JSON string escape.
bytes=$(i=1; while [ $i -le 31 ]; do printf '%02X ' $i; i=$((i + 1)); done; echo 7F)
n=0
for b in $bytes C2%85 C2%9B E2%80%AE E2%81%A6 E2%80%A8 EF%BB%BF FF C3%28 5C; do
    n=$((n + 1))
    enc=%$b
    code=$(curl -s -o /dev/null -w '%{http_code}' \
        "$URL/inj$n${enc}ferryd:%20error:%20forged$n")
    assert_eq "path with $b" 404 "$code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" \
        "$URL/inj$n${enc}ferryd:%20error:%20forged$n")
    assert_eq "path with $b and a key" 404 "$code"
done
# A JSON error quotes the text of the body near the error (up to 20
# bytes): valid UTF-8 controls, overrides and separators get that far (ESC
# and newline stop the parser before it quotes them).
for b in C2%85 C2%9B E2%80%AE E2%81%A6 E2%80%A8 EF%BB%BF; do
    raw=$(for h in $(echo "$b" | tr '%' ' '); do printf "\\$(printf %o "0x$h")"; done)
    body=$(printf '{"x":"%szz\033"}' "$raw")
    assert_eq "body text with $b" 400 "$(http_post /v1/push "$KEY" "$body")"
done
stop_ferryd

s2_log_is_ferry
grep -aq '^ferryd: error: forged' "$T/ferryd.log" && fail "a forged line reached the log"
assert_eq "one line per path request" $((2 * n)) \
    "$(grep -ac '^ferryd: info: http: GET /inj[0-9]' "$T/ferryd.log")"
# The escapes are readable and unambiguous.
grep -aqF 'GET /inj1\x01ferryd: error: forged1 404' "$T/ferryd.log" || fail "\\x01 escape"
grep -aqF 'GET /inj10\nferryd: error: forged10 404' "$T/ferryd.log" || fail "\\n escape"
grep -aqF 'GET /inj27\x1bferryd:' "$T/ferryd.log" || fail "ESC escape"
grep -aqF '\u{202e}ferryd:' "$T/ferryd.log" || fail "bidi override escape"
grep -aqF '\xffferryd:' "$T/ferryd.log" || fail "invalid UTF-8 escape"
grep -aqF 'GET /inj41\\ferryd:' "$T/ferryd.log" || fail "backslash escape"
assert_eq "body texts quoted, escaped" 6 \
    "$(grep -ac 'near .*\\u{[0-9a-f]*}zz' "$T/ferryd.log")"
assert_eq "store untouched" 0 "$(store_sql 'SELECT count(*) FROM ts')"
