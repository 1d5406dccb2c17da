# stores: pg
# ferryd through PgBouncer in transaction pooling mode (server connections
# handed out per transaction, no session state): several agents push and are
# killed mid-push, and the store ends with exactly their rows.
PGPORT=$(echo "$STORE_URL" | sed 's|.*@127.0.0.1:\([0-9]*\)/.*|\1|')
DB=$(basename "$STORE_URL")
mkdir -p "$T/bouncer"
chmod 777 "$T/bouncer"
echo '"postgres" ""' >"$T/bouncer/users.txt"
for try in 1 2 3 4 5; do
    BPORT=$(rand_ms 20000 60000)
    cat >"$T/bouncer/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=$PGPORT dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $T/bouncer/users.txt
pool_mode = transaction
default_pool_size = 3
max_client_conn = 100
logfile = $T/bouncer/pgbouncer.log
pidfile = $T/bouncer/pgbouncer.pid
INI
    chmod 644 "$T/bouncer/pgbouncer.ini" "$T/bouncer/users.txt"
    # -d returns before the daemon binds: a port someone else took shows
    # only as a daemon that is gone (and no pid file) a moment later.
    rm -f "$T/bouncer/pgbouncer.pid"
    as_pg pgbouncer -d "$T/bouncer/pgbouncer.ini" || continue
    sleep 0.5
    [ -f "$T/bouncer/pgbouncer.pid" ] &&
        kill -0 "$(cat "$T/bouncer/pgbouncer.pid")" 2>/dev/null && break
done
[ -f "$T/bouncer/pgbouncer.pid" ] || fail "pgbouncer did not start: $(cat "$T/bouncer/pgbouncer.log" 2>/dev/null)"
DIRECT_URL=$STORE_URL
STORE_URL="postgresql://postgres@127.0.0.1:$BPORT/$DB"
items_contract
ferryd_migrate
# A pool bigger than PgBouncer's: server connections are shared between
# ferryd's connections transaction by transaction.
FERRYD_ARGS="--pool 6"
start_ferryd
pids=
for a in 1 2 3; do
    KEY=$(make_key "edge$a")
    agent_init "a$a" "edge$a" 200
    app_sql "$T/a$a/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
        name TEXT, qty INTEGER, price REAL, data BLOB)"
    ferry_in "a$a" track items >/dev/null
    app_sql "$T/a$a/app.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
        SELECT i + 1 FROM n WHERE i < 4000) INSERT INTO items SELECT
        $a * 100000 + i, 'row ' || i, i, i / 4.0, NULL FROM n"
    echo "$KEY" >"$T/a$a/key"
done
for a in 1 2 3; do
    KEY=$(cat "$T/a$a/key")
    ferry_bg "a$a" push --retry-for 60 >>"$T/push.out" 2>>"$T/agent.log"
    pids="$pids $!"
done
sleep_ms 150
kill -9 $pids 2>/dev/null || true
for p in $pids; do wait "$p" 2>/dev/null || true; done
for a in 1 2 3; do
    KEY=$(cat "$T/a$a/key")
    app_sql "$T/a$a/app.db" "DELETE FROM items WHERE id % 10 = 0;
        UPDATE items SET qty = -qty WHERE id % 7 = 0"
    ferry_bg "a$a" push --retry-for 60 >>"$T/push.out" 2>>"$T/agent.log"
    pids="$pids $!"
done
for p in $pids; do wait "$p" 2>/dev/null || true; done
for a in 1 2 3; do
    KEY=$(cat "$T/a$a/key")
    ferry_in "a$a" push >>"$T/push.out" 2>>"$T/agent.log" || fail "push a$a"
done
all=$(for a in 1 2 3; do app_sql "$T/a$a/app.db" "SELECT id || '|' || qty FROM items"; done | sort)
got=$(store_sql "SELECT id || '|' || qty FROM items" | sort)
[ "$all" = "$got" ] || fail "rows through pgbouncer differ"
assert_eq "row count" 10800 "$(store_sql 'SELECT count(*) FROM items')"
stop_ferryd
as_pg kill "$(cat "$T/bouncer/pgbouncer.pid")" 2>/dev/null || true
STORE_URL=$DIRECT_URL
