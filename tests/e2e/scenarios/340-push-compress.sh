# Whether `ferry push` gzips its bodies (configuration.md, "Compression"):
# not by default for a loopback base_url (127.0.0.1 or localhost), and
# "compress" decides either way when set. ferryd's
# ferry_http_request_body_bytes_total counts bodies as they arrive (before
# gunzip), so each push of the same 400 updates shows which it was; the
# rows arrive whole every time. Non-loopback defaults are in test_config
# (tests talk to loopback only).
PROM="python3 $E2E_DIR/promtext.py"
setup_items_agent dev-a 100 400
CFG=$T/a/config.json

# push_bytes: one push of an update to every row -> body bytes it sent
push_bytes() {
    curl -s -o "$T/m0.txt" "$URL/metrics" || fail "metrics"
    ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push ($1)"
    curl -s -o "$T/m1.txt" "$URL/metrics" || fail "metrics"
    assert_eq "rows after push ($1)" "$(digest_app "$APP")" "$(digest_store)"
    echo $(($($PROM "$T/m1.txt" "int(s('ferry_http_request_body_bytes_total', route='/v1/push'))") - \
        $($PROM "$T/m0.txt" "int(s('ferry_http_request_body_bytes_total', route='/v1/push'))")))
}

# set_compress true|false|unset [URL]: the ferry section's "compress"
set_compress() {
    python3 - "$CFG" "$1" "${2:-}" <<'PY' || fail "config"
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[2] == "unset":
    c["ferry"].pop("compress", None)
else:
    c["ferry"]["compress"] = sys.argv[2] == "true"
if sys.argv[3]:
    c["ingestion"]["api"]["base_url"] = sys.argv[3]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}

touch_rows() {
    app_sql "$APP" "UPDATE items SET qty = coalesce(qty, 0) + 1"
}

note "init writes no compress; a loopback URL sends plain JSON"
python3 -c "import json,sys; sys.exit('compress' in json.load(open('$CFG'))['ferry'])" ||
    fail "init wrote compress: $(cat "$CFG")"
plain=$(push_bytes "first push, default")
[ "$plain" -gt 40000 ] || fail "first push sent only $plain bytes"
touch_rows
plain=$(push_bytes "default")

note "compress: true gzips on loopback too"
touch_rows
set_compress true
zipped=$(push_bytes "compress true")
[ $((zipped * 3)) -lt "$plain" ] ||
    fail "compress true: $zipped bytes against $plain plain (not gzip?)"

note "compress: false, and localhost by name, send plain JSON"
touch_rows
set_compress false
off=$(push_bytes "compress false")
touch_rows
set_compress unset "http://localhost:$PORT"
named=$(push_bytes "localhost")
for b in "$off" "$named"; do
    [ $((b * 10)) -gt $((plain * 9)) ] && [ $((b * 10)) -lt $((plain * 11)) ] ||
        fail "plain pushes differ: $b bytes against $plain"
done
note "bytes of 400 updates: plain $plain, gzip $zipped"
