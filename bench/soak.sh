#!/bin/sh
# Soak (issue 13; not part of make check or make bench: it takes DURATION
# seconds). AGENTS agents, each its own device with its own key and app
# database, sync two ways for DURATION seconds against ferryd (release
# build, default settings) on a PostgreSQL of its own, while their apps
# keep writing: every TICK seconds each app inserts a row of its own,
# updates one of its own, now and then deletes one of its own and updates
# one of fifty rows every device edits (last writer wins). Half the agents
# run `ferry sync --watch`, half `ferry sync --every 10s`.
#   bench/soak.sh [BUILD_DIR]   (default build-release; make soak)
# Then the apps stop, every agent is stopped with SIGTERM (it must exit 0),
# two rounds of `ferry sync` catch everyone up, and the figures are printed:
# rows written, changes applied, errors (agent exits, error lines in the
# agents' logs, ferryd's 5xx answers), ferryd's RSS and open descriptors
# over time (sampled every 5 s: after warm-up, at the end, the largest),
# and whether every app database and the store hold the same rows (full
# digests). Exits 1 when anything is off.
# Environment: AGENTS (50), DURATION (600), TICK (1.0), WARMUP (60).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
AGENTS=${AGENTS:-50}
DURATION=${DURATION:-600}
TICK=${TICK:-1.0}
WARMUP=${WARMUP:-60}
[ "$WARMUP" -le $((DURATION / 5)) ] || WARMUP=$((DURATION / 5))
# The e2e helpers: the items contract and the digests of app and store.
E2E_DIR=$ROOT/tests/e2e
FERRY_BIN=$BUILD/agent/ferry
FERRYD_BIN=$BUILD/server/ferryd
. "$E2E_DIR/lib.sh"
W=$(mktemp -d /tmp/ferry-soak.XXXXXX)
T=$W
# The agents log as they would by default (lib.sh asks for everything).
unset FERRY_LOG
PG=$(pg_cluster_start fsync=on)
SERVER= SAMPLER= WRITER=
cleanup() {
    for p in $WRITER $SAMPLER; do kill "$p" 2>/dev/null || true; done
    for f in "$W"/d*/pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    pg_cluster_stop "$PG"
    [ "${KEEP:-0}" = 1 ] && echo "# kept $W" || rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"
STORE=pg STORE_URL=$DSN
SCHEMA="CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER,
    price REAL, data BLOB)"
items_contract
"$FERRYD" --store "$DSN" --contract "$W/contract.json" migrate >/dev/null
"$FERRYD" --store "$DSN" --contract "$W/contract.json" serve \
    --listen 127.0.0.1:0 >"$W/serve.out" 2>"$W/ferryd.log" &
SERVER=$!
while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
URL="http://$(sed 's/^listening on //' "$W/serve.out")"

echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
echo "# agents=$AGENTS duration=${DURATION}s tick=${TICK}s warmup=${WARMUP}s"
for i in $(seq 1 "$AGENTS"); do
    d=$W/d$i
    mkdir "$d"
    "$FERRYD" --store "$DSN" keys create --device "soak$i" >"$d/key" 2>/dev/null
    sqlite3 "$d/app.db" "PRAGMA journal_mode=WAL; $SCHEMA" >/dev/null
    "$FERRY" --config "$d/config.json" init --db "$d/app.db" --url "$URL" \
        --device "soak$i" --batch-size 500 >/dev/null
    FERRY_API_KEY=$(cat "$d/key") "$FERRY" --config "$d/config.json" \
        track items >/dev/null
done
for i in $(seq 1 "$AGENTS"); do
    d=$W/d$i
    mode="--watch"
    [ $((i % 2)) -eq 1 ] && mode="--every 10s"
    # shellcheck disable=SC2086 # two words on purpose
    FERRY_API_KEY=$(cat "$d/key") "$FERRY" --config "$d/config.json" \
        sync $mode >"$d/agent.out" 2>"$d/agent.log" &
    echo $! >"$d/pid"
done

# ferryd's RSS (kB) and open descriptors every 5 s: "seconds rss fds"
(
    t=0
    while kill -0 "$SERVER" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")
        fds=$(ls "/proc/$SERVER/fd" | wc -l)
        echo "$t $rss $fds"
        sleep 5
        t=$((t + 5))
    done
) >"$W/samples" 2>/dev/null &
SAMPLER=$!

python3 - "$W" "$AGENTS" "$DURATION" "$TICK" >"$W/writer.out" <<'PY' &
import os, random, sqlite3, sys, time
w, agents, duration, tick = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
dbs = []
for i in range(1, agents + 1):
    c = sqlite3.connect(os.path.join(w, "d%d" % i, "app.db"), timeout=30,
                        isolation_level=None)
    dbs.append(c)
# Fifty rows every device edits, created by the first.
dbs[0].execute("BEGIN")
for k in range(1, 51):
    dbs[0].execute("INSERT INTO items (id, name, qty) VALUES (?, ?, 0)",
                   (k, "shared %d" % k))
dbs[0].execute("COMMIT")
rnd = random.Random(13)
n = [0] * agents
writes = 0
t0 = time.time()
step = 0
while time.time() - t0 < duration:
    step += 1
    for i, c in enumerate(dbs):
        base = (i + 1) * 1000000
        c.execute("BEGIN IMMEDIATE")
        n[i] += 1
        c.execute("INSERT INTO items (id, name, qty, price, data) VALUES (?, ?, ?, ?, ?)",
                  (base + n[i], "row %d of %d" % (n[i], i + 1), n[i],
                   n[i] / 3.0, os.urandom(rnd.randrange(0, 64)) or None))
        c.execute("UPDATE items SET qty = qty + 1, name = name || '+' WHERE id = ?",
                  (base + rnd.randrange(1, n[i] + 1),))
        writes += 2
        if step % 5 == 0:
            c.execute("DELETE FROM items WHERE id = ?", (base + rnd.randrange(1, n[i] + 1),))
            writes += 1
        if step % 10 == i % 10:
            c.execute("UPDATE items SET qty = qty + 1, name = ? WHERE id = ?",
                      ("shared by %d at %d" % (i + 1, step), rnd.randrange(1, 51)))
            writes += 1
        c.execute("COMMIT")
    left = tick - (time.time() - t0) % tick
    time.sleep(left)
print(writes)
PY
WRITER=$!
wait "$WRITER"
WRITER=
written=$(cat "$W/writer.out")

# Every agent stops cleanly on SIGTERM.
bad_exits=0
for i in $(seq 1 "$AGENTS"); do
    p=$(cat "$W/d$i/pid")
    kill -TERM "$p" 2>/dev/null || true
    rc=0
    wait "$p" || rc=$?
    rm -f "$W/d$i/pid"
    [ $rc -eq 0 ] || { bad_exits=$((bad_exits + 1)); echo "# agent $i exited $rc"; }
done
# Two rounds catch everyone up: pushes first, then pulls see them all.
catchup_bad=0
for round in 1 2; do
    for i in $(seq 1 "$AGENTS"); do
        d=$W/d$i
        FERRY_API_KEY=$(cat "$d/key") "$FERRY" --config "$d/config.json" \
            sync >>"$d/catchup.out" 2>>"$d/catchup.log" ||
            catchup_bad=$((catchup_bad + 1))
    done
done
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

store_digest=$(digest_store)
store_rows=$(psql "$DSN" -qAt -c "SELECT count(*) FROM items")
changes=$(psql "$DSN" -qAt -c "SELECT sum(changes) FROM ferry.devices")
differ=0
for i in $(seq 1 "$AGENTS"); do
    a=$(digest_app "$W/d$i/app.db")
    [ "$a" = "$store_digest" ] || differ=$((differ + 1))
done
queued=0
for i in $(seq 1 "$AGENTS"); do
    q=$(sqlite3 "$W/d$i/app.db" "SELECT (SELECT count(*) FROM _ferry_outbox) +
        (SELECT count(*) FROM _ferry_dead)")
    queued=$((queued + q))
done
agent_errors=$(cat "$W"/d*/agent.log "$W"/d*/catchup.log | grep -ci 'error' || true)
answers_5xx=$(grep -c ' 5[0-9][0-9] ms=' "$W/ferryd.log" || true)

# Memory and descriptors: the median of the samples around the end of
# warm-up, of the last five, and the largest after warm-up.
python3 - "$W/samples" "$WARMUP" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
warm = int(sys.argv[2])
after = [r for r in rows if r[0] >= warm]
if len(after) < 6:
    print("# too few samples"); sys.exit(0)
def med(rs, k): return statistics.median(r[k] for r in rs)
first, last = after[:5], after[-5:]
print("ferryd RSS: %.1f MB after warm-up, %.1f MB at the end (%+.0f kB), %.1f MB at most"
      % (med(first, 1) / 1024, med(last, 1) / 1024, med(last, 1) - med(first, 1),
         max(r[1] for r in after) / 1024))
print("ferryd descriptors: %d after warm-up, %d at the end, %d at most"
      % (med(first, 2), med(last, 2), max(r[2] for r in after)))
PY
echo "rows written by the apps: $written; changes applied by ferryd: $changes; rows in the store: $store_rows"
echo "errors: agents exiting non-zero on SIGTERM $bad_exits, catch-up syncs failing $catchup_bad, error lines in agents' logs $agent_errors, ferryd 5xx answers $answers_5xx"
echo "apps differing from the store: $differ of $AGENTS; changes queued or parked at the end: $queued"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
[ "$bad_exits" -eq 0 ] && [ "$catchup_bad" -eq 0 ] && [ "$agent_errors" -eq 0 ] &&
    [ "$answers_5xx" -eq 0 ] && [ "$differ" -eq 0 ] && [ "$queued" -eq 0 ]
