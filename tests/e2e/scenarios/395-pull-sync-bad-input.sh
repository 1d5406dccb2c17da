# ferry pull and ferry sync refuse bad input and change nothing: bad flags
# (a limit out of range, a duration that is not one, --watch with --every,
# --poll without --watch, an extra argument) are exit 2 before any request
# or write; a key that is unset, empty, unknown or revoked is exit 4, also
# for the long-running --every and --watch (which end rather than retry a
# refused key). After each, device b still holds its own rows and its
# queued changes as they were, no cursor, nothing parked as a dead letter,
# and the store holds only what device a pushed.
pull_setup_two
fill_items "$APPA" 40
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a"
# b has rows of its own, queued and not pushed.
app_sql "$APPB" "INSERT INTO items (id, name) VALUES (1001, 'b one'), (1002, 'b two')"
KR=$(make_key dev-b --region r2)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null ||
    fail "revoke"

# Everything a refused command must leave as it was, on b and in the store.
b_state() {
    printf '%s %s %s %s %s\n' "$(digest_app "$APPB")" \
        "$(app_sql "$APPB" "SELECT count(*) || '/' || coalesce(max(seq), 0) FROM _ferry_outbox")" \
        "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_dead")" \
        "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_state WHERE key LIKE 'pull%'")" \
        "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_seen")"
}
B0=$(b_state)
S0=$(digest_store)
case $B0 in
*" 2/"*" 0 0 0") ;;
*) fail "b's starting state: $B0" ;;
esac

# refused WHAT CODE MESSAGE ARGS...: ferry ARGS on b (key from $KEY) exits
# CODE within 20 s, says MESSAGE on stderr, and changes nothing.
refused() {
    _what=$1
    _code=$2
    _msg=$3
    shift 3
    : >"$T/refused.err"
    FERRY_API_KEY=${KEY-} timeout 20 "$FERRY" --config "$T/b/config.json" "$@" \
        >"$T/refused.out" 2>"$T/refused.err"
    _rc=$?
    cat "$T/refused.err" >>"$T/agent.log"
    assert_eq "$_what: exit" "$_code" "$_rc"
    grep -qF -- "$_msg" "$T/refused.err" ||
        fail "$_what: stderr does not say '$_msg': $(cat "$T/refused.err")"
    assert_eq "$_what: device b unchanged" "$B0" "$(b_state)"
    assert_eq "$_what: store unchanged" "$S0" "$(digest_store)"
}

set +e
KEY=$KB
# Bad flags: usage errors, exit 2.
refused "pull --limit 0" 2 "--limit takes 1 to 5000" pull --limit 0
refused "pull --limit 5001" 2 "--limit takes 1 to 5000" pull --limit 5001
refused "pull --limit ten" 2 "--limit takes 1 to 5000" pull --limit ten
refused "pull --retry-for -1" 2 "--retry-for takes seconds" pull --retry-for -1
refused "pull extra argument" 2 "usage: ferry pull" pull items
refused "pull unknown flag" 2 "usage: ferry pull" pull --since 0
refused "sync --limit 0" 2 "--limit takes 1 to 5000" sync --limit 0
refused "sync --every 0s" 2 "--every takes a duration" sync --every 0s
refused "sync --every 5x" 2 "--every takes a duration" sync --every 5x
refused "sync --every -5m" 2 "--every takes a duration" sync --every -5m
refused "sync --poll soon" 2 "--poll takes a duration" sync --watch --poll soon
refused "sync --watch --every" 2 "usage: ferry sync" sync --watch --every 5m
refused "sync --poll without --watch" 2 "--poll needs --watch" sync --poll 5s
refused "sync --every --poll" 2 "--poll needs --watch" sync --every 5m --poll 5s
refused "sync extra argument" 2 "usage: ferry sync" sync now
refused "sync --retry-for x" 2 "--retry-for takes seconds" sync --retry-for x

# Keys: exit 4, for the one-shot commands and the long-running ones.
for cmd in "pull" "sync" "sync --every 1s" "sync --watch"; do
    # shellcheck disable=SC2086
    {
        KEY=
        refused "$cmd, no key" 4 "FERRY_API_KEY" $cmd
        KEY=fy_0000000000000000.0000000000000000
        refused "$cmd, unknown key" 4 "(401): the API key is not valid" $cmd
        KEY=$KR
        refused "$cmd, revoked key" 4 "(401): the API key has been revoked" $cmd
    }
done
# Device a's key in b's agent: the push's body names dev-b, the pull's
# ?device= too, and ferryd refuses both (a pull as dev-a would leave out
# a's rows and keep a cursor that is not b's).
KEY=$KA
msg="(403): this key belongs to device 'dev-a'"
refused "pull, another device's key" 4 "$msg" pull
refused "sync, another device's key" 4 "$msg" sync
refused "sync --watch, another device's key" 4 "$msg" sync --watch
set -e

# GET /v1/changes itself: ?device= must name the key's device.
changes_as() { # KEY QUERY -> status, body in $T/changes.json
    curl -s -o "$T/changes.json" -w '%{http_code}' -H "X-Api-Key: $1" "$URL/v1/changes$2"
}
assert_eq "changes, device of another key" 403 "$(changes_as "$KB" "?device=dev-a")"
grep -q '"code":"forbidden"' "$T/changes.json" || fail "403's code: $(cat "$T/changes.json")"
grep -q "this key belongs to device 'dev-b'" "$T/changes.json" || fail "403 says why: $(cat "$T/changes.json")"
assert_eq "changes, empty device" 403 "$(changes_as "$KB" "?device=")"
assert_eq "changes, a long poll names another device" 403 "$(changes_as "$KB" "?wait=1&device=dev-a")"
assert_eq "changes, its own device" 200 "$(changes_as "$KB" "?device=dev-b&limit=1")"
assert_eq "changes, no device (other clients)" 200 "$(changes_as "$KB" "?limit=1")"
assert_eq "device b unchanged at the end" "$B0" "$(b_state)"

# The same device with its own key then syncs normally: nothing above was
# left half done.
pull_as b sync >/dev/null 2>>"$T/agent.log" || fail "b's sync after the refusals"
pull_converge b
assert_eq "b = store after its sync" "$(digest_store)" "$(digest_app "$APPB")"
assert_eq "b's outbox after its sync" 0 "$(app_sql "$APPB" "SELECT count(*) FROM _ferry_outbox")"
assert_eq "b's rows reached the store" 2 \
    "$(store_sql "SELECT count(*) FROM items WHERE id IN (1001, 1002)")"
