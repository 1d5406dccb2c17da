# Route aliases from ferryd's settings file: an old client's URL (POST
# /sync with its key in X-Sync-Token) is served by POST /v1/push without
# code per client; the alias reads its own header only, keeps the route's
# checks, and the original path still works. Every bad alias stops ferryd
# at start with exit 3 and a message naming it.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key alias-pc)
cat >"$T/settings.json" <<'JSON'
{"service_name": "wfh-agent-ingestion", "aliases": [
  {"method": "POST", "path": "/sync", "route": "POST /v1/push",
   "auth_header": "X-Sync-Token"},
  {"method": "GET", "path": "/status", "route": "GET /health"}]}
JSON
FERRYD_ARGS="--config $T/settings.json"
start_ferryd

change() { # SEQ ID
    printf '{"changes": [{"seq": %s, "table": "ts", "op": "upsert", "hlc": "00000000000%s0000", "row": {"id": %s}}]}' "$1" "$1" "$2"
}
post() { # PATH HEADER BODY -> status, answer in $T/resp.json
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST \
        -H "Content-Type: application/json" -H "$2" --data-binary "$3" "$URL$1"
}

assert_eq "push through the alias" 200 "$(post /sync "X-Sync-Token: $KEY" "$(change 1 1)")"
grep -q '"acked_seq":1' "$T/resp.json" || fail "alias answer: $(cat "$T/resp.json")"
assert_eq "row stored through the alias" 1 "$(store_sql 'SELECT count(*) FROM ts')"

assert_eq "the alias reads its own header only" 401 \
    "$(post /sync "X-Api-Key: $KEY" "$(change 2 2)")"
grep -q 'X-Sync-Token' "$T/resp.json" || fail "401 names the header: $(cat "$T/resp.json")"
assert_eq "a bad token" 401 "$(post /sync "X-Sync-Token: fy_nope" "$(change 2 2)")"
assert_eq "the route's media type check holds" 415 "$(curl -s -o "$T/resp.json" \
    -w '%{http_code}' -X POST -H "X-Sync-Token: $KEY" -H 'Content-Type: text/plain' \
    --data-binary "$(change 2 2)" "$URL/sync")"
assert_eq "the route's validation holds" 422 \
    "$(post /sync "X-Sync-Token: $KEY" '{"changes": [{"seq": 2}]}')"

curl -s -D "$T/h.txt" -o /dev/null "$URL/sync"
grep -q '^HTTP/1.1 405' "$T/h.txt" || fail "GET /sync: $(head -n 1 "$T/h.txt")"
grep -qi '^Allow: POST' "$T/h.txt" || fail "405 without Allow: POST"

assert_eq "the original path still works" 200 \
    "$(post /v1/push "X-Api-Key: $KEY" "$(change 2 2)")"
assert_eq "an alias without auth" 200 \
    "$(curl -s -o "$T/resp.json" -w '%{http_code}' "$URL/status")"
grep -q '"status":"healthy"' "$T/resp.json" || fail "GET /status: $(cat "$T/resp.json")"
grep -q '"service":"wfh-agent-ingestion"' "$T/resp.json" ||
    fail "service_name in /health: $(cat "$T/resp.json")"
grep -q 'http: POST /sync 200' "$T/ferryd.log" || fail "access line of the alias"
stop_ferryd
assert_eq "rows" 2 "$(store_sql 'SELECT count(*) FROM ts')"

# bad_alias WHAT MESSAGE ALIAS-JSON: ferryd exits 3 naming the problem.
bad_alias() {
    printf '{"aliases": [%s]}\n' "$3" >"$T/bad.json"
    rc=0
    "$FERRYD" --config "$T/bad.json" --store "$STORE_URL" keys list \
        >/dev/null 2>"$T/bad.err" || rc=$?
    assert_eq "$1: exit" 3 "$rc"
    grep -qF "$2" "$T/bad.err" || fail "$1: expected '$2' in: $(cat "$T/bad.err")"
}
bad_alias "unknown route" "unknown route 'POST /v1/nope'" \
    '{"method": "POST", "path": "/sync", "route": "POST /v1/nope"}'
bad_alias "lower-case method" "method 'post' is not an HTTP method" \
    '{"method": "post", "path": "/sync", "route": "POST /v1/push"}'
bad_alias "bad header name" "auth_header 'X Sync' is not an HTTP header name" \
    '{"method": "POST", "path": "/sync", "route": "POST /v1/push", "auth_header": "X Sync"}'
bad_alias "relative path" "alias 'sync': the path must start with '/'" \
    '{"method": "POST", "path": "sync", "route": "POST /v1/push"}'
bad_alias "a path served already" "served already" \
    '{"method": "POST", "path": "/v1/push", "route": "POST /v1/push"}'
bad_alias "missing route" '"aliases"[0]: method, path and route must be strings' \
    '{"method": "POST", "path": "/sync"}'
bad_alias "unknown member" '"aliases"[0]: unknown member' \
    '{"method": "POST", "path": "/sync", "route": "POST /v1/push", "header": "X"}'
bad_alias "params not an object" '"params" must be an object' \
    '{"method": "POST", "path": "/s", "route": "POST /v1/push", "params": 5}'
bad_alias "a param not a string" 'each of "params" must be a string' \
    '{"method": "POST", "path": "/s", "route": "POST /v1/push", "params": {"table": 1}}'
bad_alias "params for a route without" "has 0 path parameters; the alias gives 1" \
    '{"method": "POST", "path": "/s", "route": "POST /v1/push", "params": {"table": "ts"}}'
printf '{"aliases": {"method": "POST"}}\n' >"$T/bad.json"
rc=0
"$FERRYD" --config "$T/bad.json" keys list >/dev/null 2>"$T/bad.err" || rc=$?
assert_eq "aliases not an array: exit" 3 "$rc"
grep -q 'must be an array' "$T/bad.err" || fail "not an array: $(cat "$T/bad.err")"
# serve refuses too, before it listens.
printf '{"aliases": [{"method": "POST", "path": "/s", "route": "GET /v1/push"}]}\n' >"$T/bad.json"
rc=0
"$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" --config "$T/bad.json" \
    serve --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/bad.err" || rc=$?
assert_eq "serve with a bad alias: exit" 3 "$rc"
grep -q "unknown route 'GET /v1/push'" "$T/bad.err" || fail "serve: $(cat "$T/bad.err")"
