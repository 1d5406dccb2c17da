# The memory bound of docs/guarantees.md: 200 slow connections each
# declaring the largest body ferryd accepts and sending all of it but the
# last byte. Without a key they are refused on their headers and add under
# 16 MiB to ferryd's resident memory; with a valid key, the bodies held
# together stay within --max-inflight (plus the same 16 MiB).
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "ts",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key mem-pc)
MAXB=4194304
FERRYD_ARGS="--max-body $MAXB --max-inflight 16777216"
start_ferryd
SLOW="$E2E_DIR/../../bench/slow_bodies.py"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$FERRYD_PID/status"; }

# The bound is about ferryd's buffers and holds on the plain build. The
# sanitizer builds keep memory of their own: ThreadSanitizer shadow memory
# for each of the 200 connection threads, AddressSanitizer a quarantine of
# freed blocks (the bodies it refused). They get room for it; the plain
# build checks the documented figure.
case ${FERRY_SANITIZE:-} in
*thread*) slack=196608 ;;
*address*) slack=65536 ;;
*) slack=0 ;;
esac
base=$(rss)
[ -n "$base" ] || fail "cannot read the RSS of ferryd"
python3 "$SLOW" --port "$PORT" --pid "$FERRYD_PID" --conns 200 --body $MAXB \
    --limit-kib $((base + 16384 + slack)) --hold 2 >"$T/slow.out" ||
    fail "unauthenticated: RSS over base $base + 16384 KiB: $(cat "$T/slow.out")"
note "without a key: $(cat "$T/slow.out")"
early=$(sed -n 's/.*refused_early=\([0-9]*\).*/\1/p' "$T/slow.out")
[ "${early:-0}" -ge 100 ] ||
    fail "most connections should be refused on their headers: $(cat "$T/slow.out")"

base=$(rss)
[ -n "$base" ] || fail "cannot read the RSS of ferryd"
python3 "$SLOW" --port "$PORT" --pid "$FERRYD_PID" --conns 200 --body $MAXB \
    --key "$KEY" --limit-kib $((base + 16384 + 16384 + slack)) --hold 2 >"$T/slow.out" ||
    fail "with a key: RSS over base $base + 32768 KiB: $(cat "$T/slow.out")"
note "with a key: $(cat "$T/slow.out")"
grep -c ' 503 ' "$T/ferryd.log" | grep -qv '^0$' || fail "no 503 past the budget"
sleep 0.5
health_ok
assert_eq "ferryd still takes pushes" 200 "$(http_post /v1/push "$KEY" '{"changes":[]}')"
