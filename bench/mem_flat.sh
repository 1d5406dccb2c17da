#!/bin/sh
# ferryd's memory under sustained load (issue 12: flat after warm-up, no
# growth beyond 1 MiB over 10 minutes). Not part of `make bench` or of any
# test: it takes DURATION seconds.
#   bench/mem_flat.sh [BUILD_DIR]   (default build-release)
# Starts its own PostgreSQL (default settings, fsync on) and ferryd (pool 4),
# then runs bench_load push --duration: 16 devices on 16 keep-alive
# connections, batches of BATCH, each batch NEW percent new rows and the rest
# updates of rows sent before, new seqs throughout, at RATE rows/s in all (0:
# as fast as it goes). ferryd's RSS and private memory (Private_* of
# /proc/PID/smaps_rollup) are sampled every second; the figures printed are
# the median of the samples around the end of warm-up (WARMUP seconds) and
# of the last 10 samples, the largest sample after warm-up, and the trend:
# the least-squares line through the samples after warm-up, its rise over
# that time (single samples swing by about 1 MB with malloc's arenas).
# Environment: DURATION (600), WARMUP (60, at most a fifth of DURATION),
# RATE (20000), BATCH (1000), NEW (20), DEVICES (16), MEMLOG (a file to
# keep the samples in: "seconds rss_kb private_kb").
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
DURATION=${DURATION:-600}
WARMUP=${WARMUP:-60}
[ "$WARMUP" -le $((DURATION / 5)) ] || WARMUP=$((DURATION / 5))
RATE=${RATE:-20000}
BATCH=${BATCH:-1000}
NEW=${NEW:-20}
DEVICES=${DEVICES:-16}
FERRYD=$BUILD/server/ferryd
CONTRACT=$ROOT/bench/contract.json
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-memflat.XXXXXX)
PG=$(pg_cluster_start fsync=on)
PGPID=$(head -n 1 "$PG/data/postmaster.pid")
SERVER= SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"

"$FERRYD" --store "$DSN" --contract "$CONTRACT" migrate >/dev/null
: >"$W/keys"
for i in $(seq 1 "$DEVICES"); do
    d=$(printf 'bench%02d' "$i")
    echo "$d $("$FERRYD" --store "$DSN" keys create --device "$d" 2>/dev/null)" >>"$W/keys"
done
"$FERRYD" -q --store "$DSN" --contract "$CONTRACT" serve \
    --listen 127.0.0.1:0 --pool 4 >"$W/serve.out" &
SERVER=$!
while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
URL="http://$(sed 's/^listening on //' "$W/serve.out")"

echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
echo "# duration=${DURATION}s warmup=${WARMUP}s rate=$RATE rows/s batch=$BATCH" \
    "new=$NEW% devices=$DEVICES"
"$BUILD/bench/bench_mem" watch 1000 "$SERVER" >"$W/mem" &
SAMPLER=$!
# ROWS only spreads the ids: each device's rows start at 1 + its share.
"$BUILD/bench/bench_load" push "$URL" "$W/keys" "$DEVICES" "$BATCH" \
    --duration "$DURATION" --rate "$RATE" --new "$NEW" \
    --ferryd-pid "$SERVER" --pg-pid "$PGPID"
kill "$SAMPLER"
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
[ -z "${MEMLOG:-}" ] || cp "$W/mem" "$MEMLOG"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at the end"

# COLUMN (2: RSS, 3: private) -> the figures, in kB
figures() {
    awk -v c="$1" -v w="$WARMUP" '
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++)
                for (j = i + 1; j <= n; j++)
                    if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return a[int((n + 1) / 2)]
        }
        { t[NR] = $1; v[NR] = $c }
        END {
            for (i = 1; i <= NR; i++)
                if (t[i] >= w - 5 && t[i] <= w + 5) wu[++nw] = v[i]
            for (i = NR - 9; i <= NR; i++)
                if (i >= 1) fin[++nf] = v[i]
            for (i = 1; i <= NR; i++)
                if (t[i] > w && v[i] > max) max = v[i]
            a = median(wu, nw); b = median(fin, nf)
            for (i = 1; i <= NR; i++)
                if (t[i] > w) {
                    n++; sx += t[i]; sy += v[i]
                    sxx += t[i] * t[i]; sxy += t[i] * v[i]
                }
            slope = n > 1 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
            printf "start=%d warmup=%d max_after_warmup=%d final=%d", v[1], a, max, b
            printf " growth_after_warmup=%d (max: %d; trend: %+d)\n", b - a,
                max - a, slope * (t[NR] - w)
        }' "$W/mem"
}
echo "ferryd rss_kb: $(figures 2)"
echo "ferryd private_kb: $(figures 3)"
echo "# target: growth after warm-up at most 1024 kB"
