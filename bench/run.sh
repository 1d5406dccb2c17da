#!/bin/sh
# Runs every benchmark in one go on a release build and prints one line per
# figure plus the ratios docs/performance.md records. Starts its own
# PostgreSQL (default settings, fsync on) and ferryd processes; loopback only.
#   bench/run.sh [BUILD_DIR]   (default build-release; `make bench` builds it)
# ROWS (default 200000) and BATCH (default 1000) can be set in the environment,
# and WATCH_POLL (30s: the long poll is what brings rows) and WATCH_SAMPLES
# (200) for the --watch latency.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
ROWS=${ROWS:-200000}
BATCH=${BATCH:-1000}
AGENTS=${AGENTS:-8}
AGENT_ROWS=${AGENT_ROWS:-50000}
WATCH_POLL=${WATCH_POLL:-30s}
WATCH_SAMPLES=${WATCH_SAMPLES:-200}
B=$BUILD/bench
FERRYD=$BUILD/server/ferryd
FERRY=$BUILD/agent/ferry
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-bench.XXXXXX)
PG=$(pg_cluster_start fsync=on)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"

echo "# machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "# rows=$ROWS batch=$BATCH postgresql=$("$PGBIN/postgres" --version | cut -d' ' -f3)"

"$B/bench_capture" 200000 1000

reset_pg() {
    psql "$DSN" -qAt -c "TRUNCATE heartbeat, ferry.\"tomb_heartbeat\"" \
        -c "UPDATE ferry.devices SET acked_seq = 0" \
        -c "VACUUM ANALYZE heartbeat" -c "CHECKPOINT" >/dev/null
}

serve() { # STORE -> SERVER, URL
    "$FERRYD" -q --store "$1" --contract "$ROOT/bench/contract.json" serve \
        --listen 127.0.0.1:0 --pool 4 >"$W/serve.out" &
    SERVER=$!
    while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
    URL="http://$(sed 's/^listening on //' "$W/serve.out")"
}

keys() { # STORE N -> KEYS, DEVS
    KEYS= DEVS=
    for i in $(seq 1 "$2"); do
        k=$("$FERRYD" --store "$1" keys create --device "bench$i" 2>/dev/null)
        KEYS="${KEYS:+$KEYS,}$k"
        DEVS="${DEVS:+$DEVS,}bench$i"
    done
}

# --- PostgreSQL: limits, then ferryd on the same rows ------------------
"$FERRYD" --store "$DSN" --contract "$ROOT/bench/contract.json" migrate >/dev/null
keys "$DSN" 2
reset_pg
"$B/bench_ingest" pg-copy "$DSN" "$ROWS" "$BATCH" 2 | tee "$W/copy"
reset_pg
"$B/bench_ingest" pg-staged "$DSN" "$ROWS" "$BATCH" 2 | tee "$W/staged"
serve "$DSN"
reset_pg
"$B/bench_ingest" http "$URL" "$KEYS" "$DEVS" "$ROWS" "$BATCH" | tee "$W/http"
reset_pg
"$B/bench_ingest" http "$URL" "$KEYS" "$DEVS" "$ROWS" "$BATCH" gzip | tee "$W/httpz"
rate() { sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p' "$1"; }
echo "pg ratios: ferryd/staged=$(awk "BEGIN{printf \"%.2f\", $(rate "$W/http")/$(rate "$W/staged")}")" \
     "ferryd_gzip/staged=$(awk "BEGIN{printf \"%.2f\", $(rate "$W/httpz")/$(rate "$W/staged")}")" \
     "staged/copy=$(awk "BEGIN{printf \"%.2f\", $(rate "$W/staged")/$(rate "$W/copy")}")"

# --- ferry pull: the rows ferryd took, into an empty device -------------
P=$W/puller
mkdir -p "$P"
sqlite3 "$P/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE heartbeat (id
  INTEGER PRIMARY KEY, at TEXT NOT NULL, cpu REAL, active BOOLEAN, window
  TEXT, app TEXT)" >/dev/null
"$FERRY" -q --config "$P/config.json" init --db "$P/app.db" --url "$URL" \
    --device puller >/dev/null
"$FERRY" -q --config "$P/config.json" track heartbeat >/dev/null
t0=$(date +%s.%N)
FERRY_API_KEY=$("$FERRYD" --store "$DSN" keys create --device puller 2>/dev/null) \
    /usr/bin/time -f '%M' -o "$P/rss" \
    "$FERRY" -q --config "$P/config.json" pull --limit 5000 >/dev/null
t1=$(date +%s.%N)
pulled=$(sqlite3 "$P/app.db" "SELECT count(*) FROM heartbeat")
[ "$pulled" -eq "$ROWS" ] || { echo "pull: only $pulled of $ROWS rows" >&2; exit 1; }
echo "pull rows=$pulled seconds=$(awk "BEGIN{printf \"%.3f\", $t1-$t0}")" \
     "rows_per_s=$(awk "BEGIN{printf \"%.0f\", $pulled/($t1-$t0)}")" \
     "agent_rss_kb=$(cat "$P/rss")" | tee "$W/pull"
echo "pull ratio: pull/ferryd_push=$(awk "BEGIN{printf \"%.2f\", $(rate "$W/pull")/$(rate "$W/http")}")"

# --- agents draining their outboxes into PostgreSQL ---------------------
reset_pg
keys "$DSN" "$AGENTS"
i=0
for k in $(echo "$KEYS" | tr ',' ' '); do
    i=$((i + 1))
    d=$W/agent$i
    mkdir -p "$d"
    sqlite3 "$d/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE heartbeat (id
      INTEGER PRIMARY KEY, at TEXT NOT NULL, cpu REAL, active BOOLEAN,
      window TEXT, app TEXT); WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL
      SELECT x + 1 FROM n WHERE x < $AGENT_ROWS) INSERT INTO heartbeat
      SELECT $i * 10000000 + x, '2026-11-22T10:00:00Z', x % 1000 / 10.0, x % 2,
      'editor - notes ' || (x % 97), 'com.example.editor' FROM n" >/dev/null
    "$FERRY" -q --config "$d/config.json" init --db "$d/app.db" --url "$URL" \
        --device "bench$i" --batch-size "$BATCH" >/dev/null
    "$FERRY" -q --config "$d/config.json" track heartbeat >/dev/null
    echo "$k" >"$d/key"
done
t0=$(date +%s.%N)
pids=
for d in "$W"/agent*; do
    FERRY_API_KEY=$(cat "$d/key") /usr/bin/time -f '%M' -o "$d/rss" \
        "$FERRY" -q --config "$d/config.json" push >/dev/null &
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
t1=$(date +%s.%N)
total=$((AGENTS * AGENT_ROWS))
stored=$(psql "$DSN" -qAt -c "SELECT count(*) FROM heartbeat")
[ "$stored" -eq "$total" ] || { echo "agents: only $stored of $total rows stored" >&2; exit 1; }
echo "agents=$AGENTS rows=$total seconds=$(awk "BEGIN{printf \"%.3f\", $t1-$t0}")" \
     "rows_per_s=$(awk "BEGIN{printf \"%.0f\", $total/($t1-$t0)}")" \
     "max_agent_rss_kb=$(cat "$W"/agent*/rss | sort -n | tail -n 1)"
# --- ferry sync --watch: commit on one device to the store and the other -
WATCHERS=
for d in wa wb; do
    mkdir -p "$W/$d"
    sqlite3 "$W/$d/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE items (id
      INTEGER PRIMARY KEY, name TEXT, qty INTEGER)" >/dev/null
    "$FERRY" -q --config "$W/$d/config.json" init --db "$W/$d/app.db" \
        --url "$URL" --device "watch-$d" >/dev/null
    "$FERRY" -q --config "$W/$d/config.json" track items >/dev/null
    FERRY_API_KEY=$("$FERRYD" --store "$DSN" keys create --device "watch-$d" 2>/dev/null) \
        "$FERRY" -q --config "$W/$d/config.json" sync --watch --poll "$WATCH_POLL" &
    WATCHERS="$WATCHERS $!"
done
sleep 1
echo "# watch: --poll $WATCH_POLL on the receiving device"
"$B/bench_watch" "$W/wa/app.db" "$W/wb/app.db" "$DSN" "$WATCH_SAMPLES"
kill $WATCHERS
wait $WATCHERS 2>/dev/null || true
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=

# --- the embedded SQLite store ------------------------------------------
S="sqlite:$W/store.db"
"$FERRYD" --store "$S" --contract "$ROOT/bench/contract.json" migrate >/dev/null
keys "$S" 2
"$B/bench_ingest" sqlite-upsert "$W/store.db" "$ROWS" "$BATCH" | tee "$W/lite"
sqlite3 "$W/store.db" "DELETE FROM heartbeat"
serve "$S"
"$B/bench_ingest" http "$URL" "$KEYS" "$DEVS" "$ROWS" "$BATCH" | tee "$W/litehttp"
echo "sqlite ratio: ferryd/upsert=$(awk "BEGIN{printf \"%.2f\", $(rate "$W/litehttp")/$(rate "$W/lite")}")"

# --- blobs: upload throughput next to a plain PUT to this disk ----------
sh "$ROOT/bench/bench_blob.sh" "${1:-build-release}"

# --- the row API: single-row POSTs with keep-alive ----------------------
sh "$ROOT/bench/bench_rows.sh" "${1:-build-release}"
