# stores: sqlite
# What the agent reads from outside is checked before it is used: an
# auth_header that is not an HTTP header name (CR/LF, colon, space, ...)
# or an auth_env that is not a variable name is a config error (exit 3)
# and no request is made, so nothing can inject headers; the same for an
# API key with line breaks. A missing config names the file and what to do.
# Every command of the agent answers -h like --help.
cat >"$T/listen.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(60)  # gone by itself once the scenario stops using it
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
log = open(sys.argv[2], "ab", buffering=0)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        sys.exit(0)
    c.settimeout(10)
    try:
        log.write(c.recv(65536) + b"\n--\n")
    except socket.timeout:
        pass
    c.close()
PY
python3 "$T/listen.py" "$T/port" "$T/requests" </dev/null >/dev/null 2>&1 &
LPID=$!
i=0
while [ ! -s "$T/port" ]; do i=$((i + 1)); [ $i -gt 100 ] && fail "listener"; sleep 0.05; done
: >>"$T/requests"
LURL=http://127.0.0.1:$(cat "$T/port")
mkdir -p "$T/a"
sqlite3 "$T/a/app.db" "CREATE TABLE t (id INTEGER PRIMARY KEY)"

cfg() { # AUTH_HEADER_JSON AUTH_ENV_JSON
    printf '{"ingestion": {"api": {"base_url": "%s", "auth_header": %s, "auth_env": %s}},
      "ferry": {"database": "%s", "device": "d"}}' "$LURL" "$1" "$2" "$T/a/app.db" >"$T/a/config.json"
}
# Generated: every byte a header name cannot hold, alone and mid-name.
for code in 0 1 9 10 13 31 32 34 40 41 44 47 58 59 60 61 62 63 64 91 92 93 123 125 127 128 255; do
    hdr=$(python3 -c "import json; print(json.dumps('X-Key' + chr($code) + 'Evil'))")
    cfg "$hdr" '"KEY"'
    rc=0
    KEY=secret "$FERRY" -c "$T/a/config.json" push --retry-for 0 >/dev/null 2>"$T/err" || rc=$?
    assert_eq "auth_header with byte $code" 3 "$rc"
    # (NUL is refused by the JSON parser already, with its own message.)
    [ "$code" = 0 ] || grep -q 'auth_header must be an HTTP header name' "$T/err" ||
        fail "message for byte $code: $(cat "$T/err")"
done
for hdr in '"X-Api-Key\r\nX-Evil: 1"' '"X-Api-Key:"' '""' '" X"' "\"$(printf '%0129d' 0)\""; do
    cfg "$hdr" '"KEY"'
    assert_exit "auth_header $hdr" 3 env KEY=secret "$FERRY" -c "$T/a/config.json" push --retry-for 0
done
for env in '"BAD VAR"' '"1KEY"' '"A-B"' '"A=B"' '"A\nB"' '""' '"K\u00e9Y"'; do
    cfg '"X-Api-Key"' "$env"
    rc=0
    KEY=secret "$FERRY" -c "$T/a/config.json" push --retry-for 0 >/dev/null 2>"$T/err" || rc=$?
    assert_eq "auth_env $env" 3 "$rc"
    grep -q 'auth_env must be an environment variable name' "$T/err" || fail "message for $env: $(cat "$T/err")"
done
# A key with a line break or a space in it never reaches a header either.
cfg '"X-Api-Key"' '"KEY"'
for key in "$(printf 'abc\r\nX-Evil: 1')" "$(printf 'abc\nx')" 'a b' "$(printf 'a\tb')" \
    "$(printf 'k\303\251y')" "$(printf 'a\177')"; do
    rc=0
    KEY=$key "$FERRY" -c "$T/a/config.json" push --retry-for 0 >/dev/null 2>"$T/err" || rc=$?
    assert_eq "key with bad bytes" 3 "$rc"
    grep -q 'API key in KEY contains' "$T/err" || fail "key message: $(cat "$T/err")"
done
assert_eq "no request was made" 0 "$(wc -c <"$T/requests")"
# The good ones do reach the server (the listener proves the test can see it).
for hdr in '"X-Api-Key"' '"Authorization"' '"X_Custom!#$%&*+.^`|~"'; do
    cfg "$hdr" '"KEY"'
    assert_exit "good auth_header $hdr" 5 env KEY=secret "$FERRY" -c "$T/a/config.json" push --retry-for 0
done
grep -q '^X-Api-Key: secret' "$T/requests" || fail "request seen: $(cat "$T/requests")"
grep -q '^Authorization: Bearer secret' "$T/requests" || fail "bearer seen"
grep -qi 'evil' "$T/requests" && fail "a header was injected: $(cat "$T/requests")"

# A missing config: which file, and what to do; no "line -1".
for cmd in push status "dead list" "track t" contract "dead retry --all"; do
    rc=0
    # shellcheck disable=SC2086
    "$FERRY" -c "$T/none/config.json" $cmd >/dev/null 2>"$T/err" || rc=$?
    assert_eq "missing config ($cmd)" 3 "$rc"
    grep -q "config file '$T/none/config.json' not found: run 'ferry init'.*-c FILE" "$T/err" ||
        fail "missing config message ($cmd): $(cat "$T/err")"
    grep -q 'line -1' "$T/err" && fail "line -1 in: $(cat "$T/err")"
done
mkdir -p "$T/empty"
(cd "$T/empty" && FERRY_CONFIG= "$FERRY" status >/dev/null 2>"$T/err") && fail "no config.json here"
grep -q "config file 'config.json' not found" "$T/err" || fail "default path named: $(cat "$T/err")"

# -h is --help for the agent's commands.
for cmd in init push dead; do
    "$FERRY" $cmd --help >"$T/long" 2>&1 || fail "$cmd --help"
    "$FERRY" $cmd -h >"$T/short" 2>&1 || fail "$cmd -h"
    cmp -s "$T/long" "$T/short" || fail "$cmd -h differs from --help"
    grep -q "^usage: ferry $cmd" "$T/short" || fail "$cmd -h: $(cat "$T/short")"
done
"$FERRY" --help | grep -q '^  dead ' || fail "ferry --help lists dead"
kill "$LPID" 2>/dev/null || true
wait "$LPID" 2>/dev/null || true
