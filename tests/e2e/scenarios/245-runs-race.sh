# Two runners begin one stream at the same moment, 30 times: each time
# exactly one gets 201 and the other 409 lease_held naming the winner's
# run and instance, and history shows both attempts of every round (the
# winner's success and the loser's refusal, side by side). On PostgreSQL
# again with the two runners talking to two ferryd processes on one
# database: the lease is the store's, not a process's.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K1=$(make_key host-1)
K2=$(make_key host-2)
start_ferryd
ROUNDS=${FERRY_TEST_RACES:-30}

python3 "$RUNS_PY" race "$URL" "$URL" "$K1" "$K2" nightly "$ROUNDS" \
    >"$T/race-1.out" 2>&1 || fail "one ferryd: $(cat "$T/race-1.out")"
note "one ferryd: $(cat "$T/race-1.out")"

if [ "$STORE" = pg ]; then
    runs_ferryd 2
    python3 "$RUNS_PY" race "$URL" "$RUNS_URL_2" "$K1" "$K2" twice "$ROUNDS" \
        >"$T/race-2.out" 2>&1 || fail "two ferryd: $(cat "$T/race-2.out")"
    note "two ferryd: $(cat "$T/race-2.out")"
    runs_ferryd_stop 2
fi

# The refusals changed nothing: the last winner's cursor is the stream's.
stream_status nightly "$K2" 1
assert_eq "cursor" "round-$ROUNDS" "$(sf 'v["cursor"]')"
assert_eq "no lease left" null "$(sf 'v["lease"]')"
assert_eq "failures" 0 "$(sf 'v["failures"]')"
grep -q 'AddressSanitizer\|runtime error' "$T"/ferryd*.log &&
    fail "sanitizer: $(grep -h -m1 -A5 'Sanitizer\|runtime error' "$T"/ferryd*.log)"
health_ok
