#!/bin/sh
# Row API throughput: single-row POST /v1/tables/{table}/rows with
# keep-alive, one client and 8 concurrent clients (processes, one
# connection each; with 8 API keys, and with one key shared as a NAS's
# scripts would), on the SQLite store and on PostgreSQL
# (its own cluster, default settings, fsync on). Every POST creates a new
# row (a report of ~200 bytes, as the NAS pipeline sends). The clients are
# Python's http.client; GET /health with the same clients is printed too, so
# the client's own cost per request can be told apart from ferryd's.
#   bench/bench_rows.sh [BUILD_DIR]   (default build-release)
# N (default 5000) POSTs per client.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
N=${N:-5000}
FERRYD=$BUILD/server/ferryd
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-bench-rows.XXXXXX)
PG=$(pg_cluster_start fsync=on)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"

cat >"$W/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "reports", "primary_key": ["video_id"],
  "columns": [{"name": "video_id", "type": "text", "not_null": true},
              {"name": "title", "type": "text"}, {"name": "channel", "type": "text"},
              {"name": "summary", "type": "text"}, {"name": "duration", "type": "integer"},
              {"name": "published_at", "type": "timestamptz"}]}]}
JSON

cat >"$W/client.py" <<'PY'
import http.client, json, sys, time
from multiprocessing import Process, Queue

def run(port, key, what, n, tag, q):
    c = http.client.HTTPConnection("127.0.0.1", port)
    h = {"X-Api-Key": key, "Content-Type": "application/json"}
    t0 = time.perf_counter()
    for i in range(n):
        if what == "health":
            c.request("GET", "/health")
        else:
            body = json.dumps({"video_id": f"{tag}-{i}", "title": "A report title",
                               "channel": "nas", "summary": "s" * 120,
                               "duration": i, "published_at": "2026-11-30T08:00:00Z"})
            c.request("POST", "/v1/tables/reports/rows", body, h)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"{r.status}")
    q.put(time.perf_counter() - t0)

port, keys, what, n, clients = sys.argv[1], sys.argv[2].split(), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
q = Queue()
ps = [Process(target=run, args=(int(port), keys[i % len(keys)], what, n,
                                 f"{what}{clients}c{len(keys)}k{i}", q))
      for i in range(clients)]
t0 = time.perf_counter()
for p in ps: p.start()
for p in ps: p.join()
wall = time.perf_counter() - t0
if any(p.exitcode for p in ps):
    raise SystemExit("a client failed")
print(f"{clients * n / wall:.0f}")
PY

serve() { # STORE_URL -> PORT, 8 keys in $W/keys
    "$FERRYD" migrate --store "$1" --contract "$W/contract.json" >/dev/null
    : >"$W/keys"
    for i in 1 2 3 4 5 6 7 8; do
        "$FERRYD" --store "$1" keys create --device "nas$i" 2>/dev/null >>"$W/keys"
    done
    FERRYD_LOG=warn "$FERRYD" --store "$1" --contract "$W/contract.json" serve \
        --listen 127.0.0.1:0 >"$W/out" 2>"$W/log" &
    SERVER=$!
    PORT=
    while [ -z "$PORT" ]; do
        kill -0 "$SERVER" 2>/dev/null || { cat "$W/log"; exit 1; }
        sleep 0.05
        PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$W/out")
    done
}

echo "# machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "# N=$N POSTs per client, keep-alive, Python http.client"
for store in sqlite pg; do
    case $store in
    sqlite) serve "sqlite:$W/store.db" ;;
    pg) serve "$DSN" ;;
    esac
    for ck in 1:1 8:8 8:1; do
        c=${ck%:*} k=${ck#*:}
        keys=$(head -n "$k" "$W/keys")
        h=$(python3 "$W/client.py" "$PORT" "$keys" health "$N" "$c")
        p=$(python3 "$W/client.py" "$PORT" "$keys" post "$N" "$c")
        echo "rows_post store=$store clients=$c keys=$k rows_per_s=$p (GET /health: $h/s)"
    done
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
done
