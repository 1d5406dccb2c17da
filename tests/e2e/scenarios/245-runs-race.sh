# Two runners begin one stream at the same moment, 30 times: each time
# exactly one gets 201 and the other 409 lease_held naming the winner's
# run and instance, and history shows both attempts of every round (the
# winner's success and the loser's refusal, side by side). On PostgreSQL
# again with the two runners talking to two ferryd processes on one
# database: the lease is the store's, not a process's. Then completes
# racing their lease's end (and ferryd's housekeeping, every second): on
# either side, the answer and the store agree; and a heartbeat or complete
# at the lease's end racing another runner's begin: never two holders.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K1=$(make_key host-1)
K2=$(make_key host-2)
echo '{"maintenance_interval": 1}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
start_ferryd
ROUNDS=${FERRY_TEST_RACES:-30}

python3 "$RUNS_PY" race "$URL" "$URL" "$K1" "$K2" nightly "$ROUNDS" \
    >"$T/race-1.out" 2>&1 || fail "one ferryd: $(cat "$T/race-1.out")"
note "one ferryd: $(cat "$T/race-1.out")"

URLS=$URL
if [ "$STORE" = pg ]; then
    runs_ferryd 2 --config "$T/settings.json"
    python3 "$RUNS_PY" race "$URL" "$RUNS_URL_2" "$K1" "$K2" twice "$ROUNDS" \
        >"$T/race-2.out" 2>&1 || fail "two ferryd: $(cat "$T/race-2.out")"
    note "two ferryd: $(cat "$T/race-2.out")"
    URLS=$URL,$RUNS_URL_2
fi
python3 "$RUNS_PY" edge "$URLS" "$K1" e1,e2,e3 8 >"$T/edge.out" 2>&1 ||
    fail "completes at the lease's end: $(cat "$T/edge.out")"
note "$(cat "$T/edge.out")"
# A runner's heartbeat or complete at its lease's end, and another's begin
# at the same moment: never both hold the lease.
python3 "$RUNS_PY" steal "$URL" "${RUNS_URL_2:-$URL}" "$K1" "$K2" steal 12 \
    >"$T/steal.out" 2>&1 || fail "a begin at the lease's end: $(cat "$T/steal.out")"
note "$(cat "$T/steal.out")"
if [ "$STORE" = pg ]; then
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
