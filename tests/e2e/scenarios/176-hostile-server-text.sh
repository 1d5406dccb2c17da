# Text from the server reaches the operator's terminal only as visible
# escapes: a hostile server (or anyone in the middle of http://) puts ESC
# sequences (clear screen, set title), BEL, CR, a newline followed by a
# forged "ferry: pushed ..." line, DEL, C1 controls, bidi overrides and
# isolates, zero-width and direction marks, a BOM and a line separator into
# error.message and into a change's code and message. ferry push (every
# way it reports an answer: a parked change, a refused key, an answer that
# is not ferryd's, an unavailable server it retried) and ferry dead list
# (table and --json) print none of it raw, and the text stays readable.
setup_items_agent edge1 8 20
run() { # OUT MODE EXPECTED-EXIT ARGS...: a command through the fake server
    _out=$1
    _mode=$2
    _want=$3
    shift 3
    fixa_fake "$_mode" a
    _rc=0
    timeout 60 env FERRY_API_KEY="$KEY" "$FERRY" --config "$T/a/config.json" "$@" >"$T/$_out" 2>&1 || _rc=$?
    fixa_unfake
    assert_eq "$_mode: exit" "$_want" "$_rc"
    fixa_plain_text "$_mode: ferry $*" "$T/$_out"
    grep -q 'x1b\[2J' "$T/$_out" || fail "$_mode: the message is not shown: $(cat "$T/$_out")"
}

# A refused key (handshake), an answer that is not ferryd's verdict, an
# unavailable server retried until the budget is spent: the error goes out
# through the agent's error line (and the retry line).
run h401.out h401 4 push
run h403.out h403 4 push
run h404.out h404 1 push
run h503.out h503 5 push --retry-for 1
grep -q 'retry' "$T/h503.out" || fail "h503: the retry line: $(cat "$T/h503.out")"
assert_eq "nothing parked yet" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"

# Parked changes: one with the server's per-change code and message, one
# narrowed down from a verdict without details (the verdict's message).
fixa_fake h422 a
rc=0
FERRY_API_KEY=$KEY timeout 60 "$FERRY" --config "$T/a/config.json" push >"$T/h422.out" 2>&1 || rc=$?
fixa_unfake
assert_eq "h422: exit" 0 "$rc"
fixa_plain_text "h422: ferry push" "$T/h422.out"
assert_eq "h422: parked" 2 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
assert_eq "h422: stored as the server sent it" 2 \
    "$(app_sql "$APP" "SELECT count(*) FROM _ferry_dead WHERE instr(message, char(27) || '[2J') > 0")"

ferry_in a dead list >"$T/list.out" 2>&1 || fail "dead list: $(cat "$T/list.out")"
fixa_plain_text "ferry dead list" "$T/list.out"
assert_eq "dead list: one line each" 3 "$(wc -l <"$T/list.out")"
grep -q 'x1b\[2J' "$T/list.out" || fail "dead list: the message is not shown: $(cat "$T/list.out")"
grep -q 'u{202e}evil' "$T/list.out" || fail "dead list: the override is not shown: $(cat "$T/list.out")"
ferry_in a dead list --json >"$T/list.json" 2>&1 || fail "dead list --json"
fixa_plain_text "ferry dead list --json" "$T/list.json"
python3 - "$T/list.json" <<'PY' || fail "dead list --json: not the server's text: $(cat "$T/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2
for x in d:
    assert x["message"].startswith("\x1b[2J\x1b]0;owned\x07") and "\u202eevil" in x["message"], x
    assert "\x7f" in x["message"] and x["message"].endswith("\\x1b end"), x
PY
