# stores: pg
# A PostgreSQL store that cannot work without a fix (a database or role
# that does not exist) makes `ferryd serve` exit 3 with the reason at once;
# one that is merely not there (nothing listens) is served with 503 on
# /health until it comes back.
items_contract
ferryd_migrate
base=${STORE_URL%/*}
serve_exit() { # URL -> exit status; output in $T/serve.err
    _rc=0
    timeout 10 "$FERRYD" --store "$1" --contract "$T/contract.json" serve \
        --listen 127.0.0.1:0 >/dev/null 2>"$T/serve.err" || _rc=$?
    echo $_rc
}
t0=$(date +%s)
assert_eq "missing database exit" 3 "$(serve_exit "$base/no_such_db")"
grep -q 'no_such_db.*does not exist' "$T/serve.err" || fail "reason: $(cat "$T/serve.err")"
assert_eq "missing role exit" 3 "$(serve_exit "$(echo "$STORE_URL" | sed 's|//[^@]*@|//no_such_role@|')")"
grep -q 'no_such_role' "$T/serve.err" || fail "reason: $(cat "$T/serve.err")"
[ $(( $(date +%s) - t0 )) -le 4 ] || fail "took $(( $(date +%s) - t0 )) s"
# Nothing listens on this port: transient, ferryd serves and says 503.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STORE_URL="postgresql://postgres@127.0.0.1:$port/postgres" start_ferryd
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
assert_eq "down store health" 503 "$code"
stop_ferryd
