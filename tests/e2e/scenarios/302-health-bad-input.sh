# Bad input to the health and metrics settings and endpoints: every bad
# "expect", "alert_url", "alert_interval", "metrics_auth" and
# "metrics_devices" stops ferryd with exit code 3 and a message naming the
# setting (checked by every command, here serve and migrate), and starts
# nothing; methods other than GET on /health, /health/live and /metrics
# answer 405 with Allow; a bad ?strict is 400 and changes nothing.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate

# refused SETTING-JSON WORD: serve and migrate both exit 3 naming WORD
refused() {
    printf '%s\n' "$1" >"$T/bad.json"
    for cmd in serve migrate; do
        rc=0
        if [ $cmd = serve ]; then
            timeout 20 "$FERRYD" --config "$T/bad.json" --store "$STORE_URL" \
                --contract "$T/contract.json" serve --listen 127.0.0.1:0 \
                >"$T/bad.out" 2>"$T/bad.err" || rc=$?
        else
            timeout 20 "$FERRYD" --config "$T/bad.json" --store "$STORE_URL" \
                --contract "$T/contract.json" migrate >"$T/bad.out" 2>"$T/bad.err" || rc=$?
        fi
        assert_eq "$1 ($cmd): exit" 3 "$rc"
        grep -q "$2" "$T/bad.err" || fail "$1 ($cmd): the message names $2: $(cat "$T/bad.err")"
        if grep -q '^listening' "$T/bad.out"; then fail "$1: it started"; fi
    done
}

note "bad intervals"
for d in '"10x"' '"0s"' '"-1s"' '0' '-5' '""' '"s"' '"1.5h"' '"367d"' '"10 m"' \
    '"99999999999d"' '1.5' 'null' '[]' '"1m1s"'; do
    refused "{\"expect\": {\"devices\": {\"pc-1\": $d}}}" '"expect"."devices"'
done
refused '{"expect": {"streams": {"forms": "40000000s"}}}' '"expect"."streams"'
note "bad expect shapes"
refused '{"expect": []}' '"expect"'
refused '{"expect": {"stream": {"forms": "1m"}}}' 'unknown member'
refused '{"expect": {"streams": ["forms"]}}' '"expect"."streams"'
refused '{"expect": {"devices": {"": "1m"}}}' '"expect"."devices"'
refused "{\"expect\": {\"devices\": {\"$(printf 'd%.0s' $(seq 201))\": \"1m\"}}}" '"expect"."devices"'
for l in '{"runs": 2}' '{"runs": 101}' '{"runs": "5"}' '{"factor": 0.5}' \
    '{"factor": 101}' '{"floor": "0s"}' '{"floor": "soon"}' '{"every": 1}' '[]' '3'; do
    refused "{\"expect\": {\"learn\": $l}}" '"expect"."learn"'
done
note "bad alert settings"
for u in '"ftp://example.org/x"' '"http://"' '"http:///x"' '"http://a b/"' '"localhost:9"' \
    '""' '1' "\"http://x/$(printf 'a%.0s' $(seq 1030))\""; do
    refused "{\"expect\": {\"devices\": {\"*\": \"1h\"}}, \"alert_url\": $u}" alert_url
done
refused '{"alert_url": "http://127.0.0.1:9/hook"}' 'needs "expect"'
for i in 0 3601 '"5"' -1; do
    refused "{\"expect\": {\"devices\": {\"*\": \"1h\"}}, \"alert_interval\": $i}" alert_interval
done
note "bad metrics settings"
refused '{"metrics_auth": "admins"}' metrics_auth
refused '{"metrics_devices": true}' metrics_devices

note "endpoints: other methods, a bad strict"
printf '{"expect": {"devices": {"*": "1h"}}}\n' >"$T/ok.json"
FERRYD_ARGS="--config $T/ok.json" start_ferryd
for p in /health /health/live /metrics; do
    for m in POST PUT DELETE PATCH; do
        st=$(curl -s -D "$T/h" -o "$T/resp.json" -w '%{http_code}' -X $m "$URL$p")
        assert_eq "$m $p" 405 "$st"
        grep -qi '^allow: GET' "$T/h" || fail "$m $p: Allow: $(cat "$T/h")"
    done
done
for q in '?strict=yes' '?strict=' '?strict=2'; do
    st=$(curl -s -o "$T/resp.json" -w '%{http_code}' "$URL/health$q")
    assert_eq "/health$q" "400 bad_parameter" "$st $(jq_ 'v["error"]["code"]')"
done
st=$(curl -s -o "$T/resp.json" -w '%{http_code}' "$URL/health?strict=1")
assert_eq "strict with nothing stale" "200 healthy {}" "$st $(jq_ 'v["status"]') $(jq_ 'v["checks"]')"
