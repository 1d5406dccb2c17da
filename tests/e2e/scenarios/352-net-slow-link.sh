# A slow link (every request through the fault proxy at 48 KiB/s) with a
# timeout_s of 4 s: a batch of 400 rows of incompressible data (~230 KB
# gzipped, ~5 s on this link) takes longer than timeout_s, yet moves all
# the time. timeout_s limits a request that moves nothing (a blackhole,
# below, still ends after about timeout_s), not one that keeps moving: the
# push completes, exact. Before, timeout_s limited the whole request, and
# such a batch failed on every attempt until the retry budget ran out.
. "$E2E_DIR/netlib.sh"
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 400
net_timeout a 4
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    qty INTEGER, price REAL, data BLOB)"
ferry_in a track items >/dev/null 2>>"$T/agent.log" || fail track
app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < 400) INSERT INTO items SELECT i, 'row ' || i, i, i / 4.0,
    randomblob(420) FROM n"
net_proxy --random on --rate 49152 --p slow=1
files_point a "$NET_URL"

t0=$(date +%s)
rc=0
ferry_in a push --retry-for 60 >"$T/push.out" 2>>"$T/agent.log" || rc=$?
assert_eq "push over the slow link: exit ($(tail -n 3 "$T/agent.log"))" 0 "$rc"
note "400 rows over 48 KiB/s: $(cat "$T/push.out"), $(($(date +%s) - t0)) s"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"

# Nothing moving at all: a blackhole still ends the attempt after about
# timeout_s, and the push goes on through the next one.
net_stop
net_proxy --random off
files_point a "$NET_URL"
app_sql "$APP" "UPDATE items SET qty = qty + 1 WHERE id < 10"
net_ctl once blackhole "POST /v1/push" >/dev/null
t0=$(date +%s)
ferry_in a push --retry-for 60 >"$T/push.out" 2>>"$T/agent.log" || fail "push after a blackhole"
took=$(($(date +%s) - t0))
note "a blackhole cost $took s"
[ "$took" -le 30 ] || fail "a blackhole held the push $took s (timeout_s is 4)"
grep -q ', 1 retries)' "$T/push.out" || fail "one retry expected: $(cat "$T/push.out")"
assert_eq "digest after the blackhole" "$(digest_app "$APP")" "$(digest_store)"
net_stop
