#!/bin/sh
# Two builds of ferryd, alternated on the same PostgreSQL and rows: their
# ingest over HTTP (bench_ingest http, 4 devices) at batches of 1,000 and
# 200, ROUNDS times. For a change's cost on the push path:
#   bench/bench_ab.sh BASE_BUILD_DIR HEAD_BUILD_DIR
# (release builds; e.g. `git worktree add /tmp/base COMMIT` and build it).
# ROWS (default 200000) and ROUNDS (2) can be set in the environment.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=$1
HEAD=$2
ROWS=${ROWS:-200000}
ROUNDS=${ROUNDS:-2}
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-ab.XXXXXX)
PG=$(pg_cluster_start fsync=on)
S=
cleanup() {
    [ -n "$S" ] && kill "$S" 2>/dev/null
    pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"
"$HEAD/server/ferryd" --store "$DSN" --contract "$ROOT/bench/contract.json" \
    migrate >/dev/null
KEYS= DEVS=
for i in 1 2 3 4; do
    k=$("$HEAD/server/ferryd" --store "$DSN" keys create --device "bench$i" 2>/dev/null)
    KEYS="${KEYS:+$KEYS,}$k"
    DEVS="${DEVS:+$DEVS,}bench$i"
done
reset_pg() {
    psql "$DSN" -qAt -c "TRUNCATE heartbeat, ferry.\"tomb_heartbeat\"" \
        -c "UPDATE ferry.devices SET acked_seq = 0" \
        -c "VACUUM ANALYZE heartbeat" -c "CHECKPOINT" >/dev/null
}
one() { # BUILD LABEL BATCH
    : >"$W/serve.out"
    "$1/server/ferryd" -q --store "$DSN" --contract "$ROOT/bench/contract.json" \
        serve --listen 127.0.0.1:0 --pool 4 >"$W/serve.out" &
    S=$!
    while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
    url="http://$(sed 's/^listening on //' "$W/serve.out")"
    reset_pg
    r=$("$HEAD/bench/bench_ingest" http "$url" "$KEYS" "$DEVS" "$ROWS" "$3" |
        sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p')
    echo "$2 batch=$3 rows_per_s=$r"
    kill "$S"
    wait "$S" 2>/dev/null || true
    S=
}
for _ in $(seq 1 "$ROUNDS"); do
    for b in 1000 200; do
        one "$BASE" base "$b"
        one "$HEAD" head "$b"
    done
done
