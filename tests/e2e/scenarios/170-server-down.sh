# stores: sqlite
# A push to a server that is down says once, plainly, what is wrong and how
# long ferry keeps trying; then, not on a terminal, nothing more until a
# minute has passed (not a line per retry), and on a terminal one line
# rewritten in place. The summary of a failed push gives the acknowledged
# seq the agent really has, not 0. A long push on a terminal shows its
# progress as one rewritten line, and no line per batch anywhere.
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 100
APP=$T/a/app.db
fill_items "$APP" 1800
ferry_in a track items >/dev/null || fail track
ferry_in a push >"$T/push.out" 2>"$T/push.err" || fail "first push"
assert_eq "acked" 1800 "$(device_acked edge1)"
grep -q 'batch=' "$T/push.err" && fail "a line per batch: $(head -n 3 "$T/push.err")"
stop_ferryd
app_sql "$APP" "UPDATE items SET qty = 1 WHERE id < 50"

# Not a terminal: one line at the first failure, the summary with seq 1800.
rc=0
ferry_in a push --retry-for 4 >"$T/push.out" 2>"$T/push.err" || rc=$?
assert_eq "exit when down" 5 "$rc"
head -n 1 "$T/push.err" | grep -q "^ferry: warn: retry: cannot reach '$URL/v1/push': .*; retrying in .*, for up to 4 s (Ctrl-C to stop; the outbox is kept)$" ||
    fail "first line: $(cat "$T/push.err")"
retries=$(sed -n 's/.* \([0-9]*\) retries)$/\1/p' "$T/push.out")
[ "${retries:-0}" -ge 3 ] || fail "retries: $(cat "$T/push.out")"
assert_eq "lines while down" 1 "$(grep -c 'retry' "$T/push.err")"
grep -q '(acked seq 1800 as last stored, ' "$T/push.out" || fail "summary seq: $(cat "$T/push.out")"
grep -q 'acked seq 0' "$T/push.out" && fail "acked seq 0: $(cat "$T/push.out")"

# On a terminal: the same first line, then one line rewritten in place.
if command -v script >/dev/null; then
    export FERRY_BIN KEY
    script -qec "FERRY_API_KEY=$KEY $FERRY --config $T/a/config.json push --retry-for 4" /dev/null \
        >"$T/tty.out" 2>&1 || true
    assert_eq "first line once on a tty" 1 "$(grep -c 'Ctrl-C to stop' "$T/tty.out")"
    grep -q "$(printf '\r')ferry: no answer for .* tries), next in .*, giving up in " "$T/tty.out" ||
        fail "no rewritten line: $(cat -v "$T/tty.out")"
    [ "$(grep -c 'no answer for' "$T/tty.out")" -le 2 ] || fail "a line per retry on the tty: $(cat -v "$T/tty.out")"
fi

# Back up: a long push on a terminal shows progress, one rewritten line.
start_ferryd "$PORT"
app_sql "$APP" "UPDATE items SET qty = coalesce(qty, 0) + 7"
if command -v script >/dev/null; then
    script -qec "FERRY_API_KEY=$KEY $FERRY --config $T/a/config.json push" /dev/null >"$T/tty.out" 2>&1 ||
        fail "push on a tty: $(cat -v "$T/tty.out")"
    grep -q "$(printf '\r')ferry: pushed [0-9]* of 18[0-9][0-9] queued ([0-9]*%), [0-9]* changes/s" "$T/tty.out" ||
        fail "no progress line: $(cat -v "$T/tty.out")"
    grep -q 'batch=' "$T/tty.out" && fail "a line per batch on the tty"
    grep -q 'pushed 1800 changes in [0-9]* batches' "$T/tty.out" || fail "summary: $(cat -v "$T/tty.out")"
else
    ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
fi
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
