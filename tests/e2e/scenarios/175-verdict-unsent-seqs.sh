# A 422 verdict whose error.changes names seqs the batch did not carry
# (never sent, already acknowledged, 0, negative, huge, not a number, named
# twice) parks nothing for them: it is treated like a verdict without
# details, the batch is halved, and the push ends. Before, such a verdict
# counted as parked, the batch stayed as it was and the same batch was
# rebuilt and resent forever. Each push runs under a timeout.
setup_items_agent edge1 8 40
outbox() { app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox'; }
dead() { app_sql "$APP" 'SELECT count(*) FROM _ferry_dead'; }
pushed() { # MODE -> exit status of a push through the fake, output in push.out
    fixa_fake "$1" a
    _rc=0
    timeout 60 env FERRY_API_KEY="$KEY" "$FERRY" --config "$T/a/config.json" push --retry-for 5 \
        >"$T/push.out" 2>>"$T/agent.log" || _rc=$?
    fixa_unfake
    return $_rc
}

# A verdict naming a real change twice and a seq never sent: one change is
# parked (and counted once), the rest arrives.
rc=0
pushed dup || rc=$?
assert_eq "dup: exit" 0 "$rc"
grep -q ', 1 rejected,' "$T/push.out" || fail "dup: one rejected: $(cat "$T/push.out")"
assert_eq "dup: parked" 1 "$(dead)"
assert_eq "dup: outbox" 0 "$(outbox)"
assert_eq "dup: rows" 39 "$(store_sql 'SELECT count(*) FROM items')"

# A verdict naming a change that is queued but was not in this batch: that
# change is not parked (it was never sent, and the verdict is not about it).
app_sql "$APP" "DELETE FROM _ferry_dead; UPDATE items SET qty = -id"
rc=0
pushed unsent || rc=$?
assert_eq "unsent: exit" 0 "$rc"
assert_eq "unsent: nothing parked" 0 "$(dead)"
assert_eq "unsent: outbox" 0 "$(outbox)"
assert_eq "unsent: store" "$(digest_app "$APP")" "$(digest_store)"

# Verdicts naming only seqs the batch did not carry, every time: the push
# narrows the batch down to one change, parks it with the server's message,
# and goes on; it ends with everything parked (exit 6), in seconds.
app_sql "$APP" "DELETE FROM _ferry_dead; UPDATE items SET qty = id"
start=$(date +%s)
rc=0
pushed bogus || rc=$?
[ "$rc" = 124 ] && fail "bogus: push still running after 60 s (loop)"
assert_eq "bogus: exit" 6 "$rc"
[ $(($(date +%s) - start)) -le 30 ] || fail "bogus: took $(($(date +%s) - start)) s"
assert_eq "bogus: all parked" 40 "$(dead)"
assert_eq "bogus: outbox" 0 "$(outbox)"
assert_eq "bogus: each with its change and the message" 40 \
    "$(app_sql "$APP" "SELECT count(*) FROM _ferry_dead WHERE change IS NOT NULL AND message = 'not in the batch'")"
grep -q ', 40 rejected,' "$T/push.out" || fail "bogus: summary: $(cat "$T/push.out")"
