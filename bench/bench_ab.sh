#!/bin/sh
# Two builds of ferryd, alternated on the same PostgreSQL and rows: the
# issue-12 workload (bench_load push: 16 devices, 16 keep-alive
# connections, the metrics table of bench/contract.json) at batches of
# 1,000 and 200, ROUNDS times. For a change's cost on the push path:
#   bench/bench_ab.sh BASE_BUILD_DIR HEAD_BUILD_DIR
# (release builds; e.g. `git worktree add /tmp/base COMMIT` and build it;
# HEAD's bench_load drives both). ROWS (default 400000), DEVICES (16) and
# ROUNDS (2) can be set in the environment. Each line also has ferryd's
# and PostgreSQL's CPU per row.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=$1
HEAD=$2
ROWS=${ROWS:-400000}
DEVICES=${DEVICES:-16}
ROUNDS=${ROUNDS:-2}
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-ab.XXXXXX)
PG=$(pg_cluster_start fsync=on)
PGPID=$(head -n 1 "$PG/data/postmaster.pid")
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
: >"$W/keys"
for i in $(seq 1 "$DEVICES"); do
    d=$(printf 'bench%02d' "$i")
    echo "$d $("$HEAD/server/ferryd" --store "$DSN" keys create --device "$d" 2>/dev/null)" >>"$W/keys"
done
reset_pg() {
    psql "$DSN" -qAt -c "TRUNCATE metrics, ferry.\"tomb_metrics\"" \
        -c "UPDATE ferry.devices SET acked_seq = 0" \
        -c "VACUUM ANALYZE metrics" -c "CHECKPOINT" >/dev/null
}
one() { # BUILD LABEL BATCH
    : >"$W/serve.out"
    "$1/server/ferryd" -q --store "$DSN" --contract "$ROOT/bench/contract.json" \
        serve --listen 127.0.0.1:0 --pool 4 >"$W/serve.out" &
    S=$!
    while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
    url="http://$(sed 's/^listening on //' "$W/serve.out")"
    reset_pg
    r=$("$HEAD/bench/bench_load" push "$url" "$W/keys" "$ROWS" "$3" \
        --ferryd-pid "$S" --pg-pid "$PGPID")
    echo "$2 batch=$3 $(echo "$r" | sed 's/^push rows=[0-9]* seconds=[0-9.]* //;
        s/ devices=.*http_errors=0//')"
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
