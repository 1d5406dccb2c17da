# ferryd's commands say plainly what is wrong: keys before migrate (once,
# no stray SQLite file), listen ports out of range (exit 3), a port in use
# (named, not "port 0"); keys list shows local ISO times (--json keeps
# numbers); and a client never sees the store's own error text.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON

# Before migrate: exit 3, one line naming the fix, nothing created.
for cmd in "keys list" "keys list --json" "keys create --device early-pc"; do
    rc=0
    # shellcheck disable=SC2086
    "$FERRYD" --store "$STORE_URL" $cmd >"$T/cmd.out" 2>"$T/cmd.err" || rc=$?
    assert_eq "$cmd before migrate: exit" 3 "$rc"
    assert_eq "$cmd before migrate: one line" 1 "$(wc -l <"$T/cmd.err")"
    grep -q "run 'ferryd migrate' first" "$T/cmd.err" || fail "$cmd: $(cat "$T/cmd.err")"
    assert_eq "$cmd before migrate: no output" "" "$(cat "$T/cmd.out")"
done
if [ "$STORE" = sqlite ]; then
    [ -e "${STORE_URL#sqlite:}" ] && fail "keys before migrate created ${STORE_URL#sqlite:}"
    # The default store too: no ferry.db appears in the working directory.
    (cd "$T" && "$FERRYD" keys list >/dev/null 2>&1) && fail "default store listed"
    [ -e "$T/ferry.db" ] && fail "stray ferry.db"
    # serve before migrate: exit 3 with the fix, no file either.
    rc=0
    "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
        --listen 127.0.0.1:0 >/dev/null 2>"$T/serve.err" || rc=$?
    assert_eq "serve before migrate: exit" 3 "$rc"
    grep -q "ferryd migrate" "$T/serve.err" || fail "serve: $(cat "$T/serve.err")"
    [ -e "${STORE_URL#sqlite:}" ] && fail "serve before migrate created the store file"
fi

ferryd_migrate
KEY=$(make_key list-pc)
"$FERRYD" --store "$STORE_URL" keys create --device exp-pc --expires-days 3 >/dev/null 2>&1 ||
    fail "keys create --expires-days"
"$FERRYD" --store "$STORE_URL" keys list >"$T/list.out" || fail "keys list"
head -n 1 "$T/list.out" | grep -q 'CREATED  *LAST USED  *EXPIRES' || fail "header: $(head -n 1 "$T/list.out")"
ISO='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9][+-][0-9]\{4\}'
grep -q "exp-pc .* $ISO  *-  *$ISO\$" "$T/list.out" || fail "times: $(cat "$T/list.out")"
grep -q "list-pc .* $ISO  *-  *-\$" "$T/list.out" || fail "never: $(cat "$T/list.out")"
"$FERRYD" --store "$STORE_URL" keys list --json >"$T/list.json" || fail "keys list --json"
python3 -c '
import json, sys
keys = json.load(open(sys.argv[1]))
assert len(keys) == 2, keys
for k in keys:
    for f in ("created_at", "expires_at", "revoked_at", "last_used_at"):
        assert isinstance(k[f], int), (f, k)
    assert k["created_at"] > 1600000000, k
' "$T/list.json" || fail "--json times are numbers: $(cat "$T/list.json")"

# Listen ports: out of range or not a number is exit 3, with the reason.
for l in 127.0.0.1:99999 127.0.0.1:65536 127.0.0.1:-1 127.0.0.1:8o80 127.0.0.1: \
    127.0.0.1:123456 '[::1]:70000'; do
    rc=0
    "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
        --listen "$l" >/dev/null 2>"$T/cmd.err" || rc=$?
    assert_eq "listen $l: exit" 3 "$rc"
    grep -q "the port must be a number from 1 to 65535" "$T/cmd.err" ||
        fail "listen $l: $(cat "$T/cmd.err")"
done
start_ferryd
# A port in use: the message names it, exit 1.
rc=0
"$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
    --listen "127.0.0.1:$PORT" >/dev/null 2>"$T/cmd.err" || rc=$?
assert_eq "port in use: exit" 1 "$rc"
grep -q "cannot listen on '127.0.0.1:$PORT': .*port $PORT: Address already in use" "$T/cmd.err" ||
    fail "port in use: $(cat "$T/cmd.err")"
grep -q "port 0" "$T/cmd.err" && fail "port 0 in: $(cat "$T/cmd.err")"

# The store failing under a well-formed key: generic answer, detail logged.
case $STORE in
sqlite) store_sql "ALTER TABLE ferry_api_keys RENAME TO gone_keys" ;;
pg) store_sql "ALTER TABLE ferry.api_keys RENAME TO gone_keys" ;;
esac
for k in "$KEY" "fy_0123456789abcdef.$(printf '%064d' 5)"; do
    code=$(http_post /v1/push "$k" '{"changes":[]}')
    assert_eq "store failing: status" 500 "$code"
    grep -q '"message":"internal error; the server log has the detail"' "$T/resp.json" ||
        fail "generic message: $(cat "$T/resp.json")"
    grep -qi 'api_keys\|relation\|no such\|sql\|ferry\.' "$T/resp.json" &&
        fail "store internals reached the client: $(cat "$T/resp.json")"
done
grep -q 'store: request answered 500: .*api_keys' "$T/ferryd.log" ||
    fail "the detail is not in the log"

# The settings file is validated like the command line: an unknown key, a
# wrong type or a number out of range stops ferryd with exit 3 naming it.
for bad in '{"stor": "sqlite:x.db"}' '{"pool": 0}' '{"pool": "4"}' \
    '{"max_body": 16}' '{"listen": 8080}' '[1]' '{"store": "a", "store": "b"}'; do
    printf '%s\n' "$bad" >"$T/settings.json"
    rc=0
    "$FERRYD" --config "$T/settings.json" keys list >/dev/null 2>"$T/settings.err" || rc=$?
    assert_eq "settings file $bad: exit" 3 "$rc"
    grep -q "config '$T/settings.json'" "$T/settings.err" || fail "settings file $bad: $(cat "$T/settings.err")"
done
