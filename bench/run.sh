#!/bin/sh
# Runs every benchmark in one go on a release build and prints one line per
# figure, then the ratios of issue 12's targets (docs/performance.md has the
# method). Starts its own PostgreSQL (default settings, fsync on) and ferryd
# processes; loopback only.
#   bench/run.sh [BUILD_DIR]   (default build-release; `make bench` builds it)
# Environment: ROWS (400000) over DEVICES (16) for the load generator;
# AGENTS (8) x AGENT_ROWS (50000) for the agents end to end, LONE_ROWS
# (500000) for one agent alone; WATCH_POLL (30s) and WATCH_SAMPLES (200) for
# the --watch latency; ROWS_API_N (1500) POSTs per client of the row API;
# PARTS, the parts to run (default all: "capture pg pull agents lone watch
# sqlite blob rows"; pull needs pg). About 6 minutes on 2 cores.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
ROWS=${ROWS:-400000}
DEVICES=${DEVICES:-16}
AGENTS=${AGENTS:-8}
AGENT_ROWS=${AGENT_ROWS:-50000}
LONE_ROWS=${LONE_ROWS:-500000}
WATCH_POLL=${WATCH_POLL:-30s}
WATCH_SAMPLES=${WATCH_SAMPLES:-200}
PARTS=${PARTS:-capture pg pull agents lone watch sqlite blob rows}
B=$BUILD/bench
FERRYD=$BUILD/server/ferryd
FERRY=$BUILD/agent/ferry
CONTRACT=$ROOT/bench/contract.json
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-bench.XXXXXX)
PG=$(pg_cluster_start fsync=on)
PGPID=$(head -n 1 "$PG/data/postmaster.pid")
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"

want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
field() { sed -n "s/^\(.* \)\{0,1\}$1=\([0-9.]*\).*/\2/p" "$2" | head -n 1; } # NAME FILE
rate() { field rows_per_s "$1"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
now() { date +%s.%N; }
# A line of the summary at the end: `target TEXT`.
target() { echo "$*" >>"$W/targets"; }
: >"$W/targets"

echo "# machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
echo "# rows=$ROWS devices=$DEVICES postgresql=$("$PGBIN/postgres" --version | cut -d' ' -f3)"

serve() { # STORE -> SERVER, URL
    : >"$W/serve.out"
    "$FERRYD" -q --store "$1" --contract "$CONTRACT" serve \
        --listen 127.0.0.1:0 --pool 4 >"$W/serve.out" &
    SERVER=$!
    while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
    URL="http://$(sed 's/^listening on //' "$W/serve.out")"
}

unserve() {
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

keys() { # STORE PREFIX N FILE: one "DEVICE KEY" line per device
    : >"$4"
    for i in $(seq 1 "$3"); do
        d=$(printf '%s%02d' "$2" "$i")
        echo "$d $("$FERRYD" --store "$1" keys create --device "$d" 2>/dev/null)" >>"$4"
    done
}

reset_pg() {
    psql "$DSN" -qAt -c "TRUNCATE metrics, ferry.\"tomb_metrics\"" \
        -c "UPDATE ferry.devices SET acked_seq = 0" \
        -c "VACUUM ANALYZE metrics" -c "CHECKPOINT" >/dev/null
}

# --- capture: the trigger's cost next to a plain insert ----------------
if want capture; then
    "$B/bench_capture" 200000 1000 | tee "$W/capture"
    target "capture trigger / plain insert: $(field ferry_cost_worst "$W/capture")x" \
        "in the worst of 5 rounds, $(field ferry_cost "$W/capture")x best of 5" \
        "(target: at most 2x in every run)"
fi

# --- PostgreSQL: the limits, then ferryd on the same rows --------------
"$FERRYD" --store "$DSN" --contract "$CONTRACT" migrate >/dev/null
keys "$DSN" bench "$DEVICES" "$W/keys"
if want pg; then
    "$B/bench_load" pg-copy "$DSN" "$DEVICES" "$ROWS" 1000 2 --pg-pid "$PGPID" |
        tee "$W/copy"
    "$B/bench_load" pg-staged "$DSN" "$DEVICES" "$ROWS" 1000 2 --pg-pid "$PGPID" |
        tee "$W/staged"
    psql "$DSN" -qAt -c "DROP TABLE metrics_plain" -c "CHECKPOINT" >/dev/null
    serve "$DSN"
    for b in 1000 200; do
        reset_pg
        "$B/bench_load" push "$URL" "$W/keys" "$ROWS" "$b" \
            --ferryd-pid "$SERVER" --pg-pid "$PGPID" | tee "$W/push$b"
    done
    stored=$(psql "$DSN" -qAt -c "SELECT count(*) FROM metrics")
    [ "$stored" -eq "$ROWS" ] || { echo "push: only $stored of $ROWS rows stored" >&2; exit 1; }
    # The limit again after ferryd: on a shared machine the load drifts, and
    # the mean of before and after brackets ferryd's runs.
    "$B/bench_load" pg-staged "$DSN" "$DEVICES" "$ROWS" 1000 2 --pg-pid "$PGPID" |
        tee "$W/staged2"
    psql "$DSN" -qAt -c "DROP TABLE metrics_plain" >/dev/null
    LIMIT=$(awk "BEGIN{printf \"%.0f\", ($(rate "$W/staged") + $(rate "$W/staged2")) / 2}")
    echo "limit: staged upsert before ferryd $(rate "$W/staged"), after" \
        "$(rate "$W/staged2"), mean $LIMIT rows/s"
    echo "pg ratios: ferryd_1000/staged=$(ratio "$(rate "$W/push1000")" "$LIMIT")" \
        "ferryd_200/staged=$(ratio "$(rate "$W/push200")" "$LIMIT")" \
        "staged/copy=$(ratio "$LIMIT" "$(rate "$W/copy")")"
    echo "cpu per row (us): ferryd $(field ferryd_us_per_row "$W/push1000")" \
        "+ postgres $(field pg_us_per_row "$W/push1000") at batch 1000," \
        "ferryd $(field ferryd_us_per_row "$W/push200")" \
        "+ postgres $(field pg_us_per_row "$W/push200") at batch 200;" \
        "postgres alone: $(field pg_us_per_row "$W/staged") staged," \
        "$(field pg_us_per_row "$W/copy") copy"
    # With both on 2 cores, ferryd cannot beat the limit's CPU per row over
    # its own and PostgreSQL's: the ratio a busy run tends to.
    for b in 1000 200; do
        echo "cpu bound at batch $b: $(awk "BEGIN{printf \"%.2f\", \
            $(field pg_us_per_row "$W/staged") / ($(field ferryd_us_per_row \
            "$W/push$b") + $(field pg_us_per_row "$W/push$b"))}")"
    done
    target "ferryd batch 1000 / staged upsert:" \
        "$(ratio "$(rate "$W/push1000")" "$LIMIT") (target 0.80)"
    target "ferryd batch 200 / staged upsert:" \
        "$(ratio "$(rate "$W/push200")" "$LIMIT") (target 0.60)"
fi

# --- ferry pull: the rows ferryd took, into an empty device -------------
if want pull && want pg; then
    P=$W/puller
    mkdir -p "$P"
    sqlite3 "$P/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE metrics (device
      TEXT NOT NULL, id INTEGER NOT NULL, app TEXT, pid INTEGER, at TEXT NOT
      NULL, cpu REAL, mem REAL, window TEXT, path TEXT, idle INTEGER, PRIMARY
      KEY (device, id))" >/dev/null
    "$FERRY" -q --config "$P/config.json" init --db "$P/app.db" --url "$URL" \
        --device puller >/dev/null
    "$FERRY" -q --config "$P/config.json" track metrics >/dev/null
    t0=$(now)
    FERRY_API_KEY=$("$FERRYD" --store "$DSN" keys create --device puller 2>/dev/null) \
        "$B/bench_mem" run 20 "$P/mem" \
        "$FERRY" --config "$P/config.json" pull --limit 5000 >"$P/log" 2>&1 ||
        echo "exit $?" >>"$P/log"
    t1=$(now)
    pulled=$(sqlite3 "$P/app.db" "SELECT count(*) FROM metrics")
    # A pull that fails or misses rows is a bug, not a figure: said at once
    # and in the exit status, after the other parts have run.
    [ "$pulled" -eq "$ROWS" ] || {
        cat "$P/log" >&2
        echo "FAILED: pull: only $pulled of $ROWS rows" | tee -a "$W/failed" >&2
    }
    echo "pull rows=$pulled seconds=$(awk "BEGIN{printf \"%.3f\", $t1-$t0}")" \
        "rows_per_s=$(awk "BEGIN{printf \"%.0f\", $pulled/($t1-$t0)}")" \
        "$(cat "$P/mem")" | tee "$W/pull"
    echo "pull ratio: pull/ferryd_push_1000=$(ratio "$(rate "$W/pull")" "$(rate "$W/push1000")")"
fi

# --- agents: `ferry push` draining app tables of the same shape --------
agent_db() { # DIR DEVICE KEY BATCH ROWS
    mkdir -p "$1"
    sqlite3 "$1/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE metrics (id
      INTEGER PRIMARY KEY, app TEXT, pid INTEGER, at TEXT NOT NULL, cpu REAL,
      mem REAL, window TEXT, path TEXT, idle INTEGER); WITH RECURSIVE n(x) AS
      (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $5) INSERT INTO
      metrics SELECT x, 'com.example.editor', 1000 + x % 30000,
      strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-30', '+' || (x % 86400) ||
      ' seconds'), x % 10000 / 100.0, 64 + x % 8192 / 8.0,
      printf('notes-%06d.md - Editor - Project Falcon', x),
      printf('/home/bench/projects/falcon/src/m%06d.c', x), x % 600 FROM n" \
        >/dev/null
    "$FERRY" -q --config "$1/config.json" init --db "$1/app.db" --url "$URL" \
        --device "$2" --batch-size "$4" >/dev/null
    "$FERRY" -q --config "$1/config.json" track metrics >/dev/null
    echo "$3" >"$1/key"
}

# Each agent under bench_mem: its peak RSS (maxrss, what /usr/bin/time %M
# prints) and its peak private memory (sampled every 20 ms).
push_agents() { # BATCH ROWS DIR...
    batch=$1 rows=$2
    shift 2
    t0=$(now)
    pids=
    for d in "$@"; do
        FERRY_API_KEY=$(cat "$d/key") "$B/bench_mem" run 20 "$d/mem" \
            "$FERRY" -q --config "$d/config.json" push >/dev/null &
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || { echo "agents: a ferry push failed" >&2; exit 1; }
    done
    t1=$(now)
    total=$(($# * rows))
    stored=$(psql "$DSN" -qAt -c "SELECT count(*) FROM metrics")
    [ "$stored" -eq "$total" ] || { echo "agents: only $stored of $total rows stored" >&2; exit 1; }
    mem=
    for d in "$@"; do
        mem="$mem $(field maxrss_kb "$d/mem")/$(field private_peak_kb "$d/mem")"
    done
    echo "agents=$# batch=$batch rows=$total seconds=$(awk "BEGIN{printf \"%.3f\", $t1-$t0}")" \
        "rows_per_s=$(awk "BEGIN{printf \"%.0f\", $total/($t1-$t0)}")" \
        "agent_kb_maxrss/private:$mem"
}

if want agents || want lone; then
    [ -n "$SERVER" ] || serve "$DSN"
    keys "$DSN" agent "$AGENTS" "$W/akeys"
fi
if want agents; then
    for b in 1000 200; do
        reset_pg
        rm -rf "$W"/agent-*
        i=0
        while read -r dev key; do
            i=$((i + 1))
            agent_db "$W/agent-$i" "$dev" "$key" "$b" "$AGENT_ROWS" </dev/null
        done <"$W/akeys"
        push_agents "$b" "$AGENT_ROWS" "$W"/agent-* | tee "$W/agents$b"
    done
    rm -rf "$W"/agent-*
    if [ -n "${LIMIT:-}" ]; then
        echo "agents ratios: batch_1000/staged=$(ratio "$(rate "$W/agents1000")" "$LIMIT")" \
            "batch_200/staged=$(ratio "$(rate "$W/agents200")" "$LIMIT")"
        target "$AGENTS agents batch 1000 / staged upsert:" \
            "$(ratio "$(rate "$W/agents1000")" "$LIMIT") (target 0.60);" \
            "batch 200: $(ratio "$(rate "$W/agents200")" "$LIMIT")"
    fi
fi
if want lone; then
    reset_pg
    read -r dev key <"$W/akeys"
    agent_db "$W/lone" "$dev" "$key" 1000 "$LONE_ROWS"
    push_agents 1000 "$LONE_ROWS" "$W/lone" | sed 's/^agents=1/lone agent/' |
        tee "$W/lone.out"
    target "one agent draining $LONE_ROWS rows: peak RSS" \
        "$(field maxrss_kb "$W/lone/mem") KB, private" \
        "$(field private_peak_kb "$W/lone/mem") KB (target: RSS under 10240 KB)"
    rm -rf "$W/lone"
fi

# --- ferry sync --watch: commit on one device to the store and the other -
if want watch; then
    [ -n "$SERVER" ] || serve "$DSN"
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
fi
[ -z "$SERVER" ] || unserve

# --- the embedded SQLite store ------------------------------------------
if want sqlite; then
    S="sqlite:$W/store.db"
    "$FERRYD" --store "$S" --contract "$CONTRACT" migrate >/dev/null
    keys "$S" bench "$DEVICES" "$W/skeys"
    "$B/bench_load" sqlite-upsert "$W/limit.db" "$DEVICES" "$ROWS" 1000 |
        tee "$W/lite"
    rm -f "$W"/limit.db*
    serve "$S"
    "$B/bench_load" push "$URL" "$W/skeys" "$ROWS" 1000 --ferryd-pid "$SERVER" |
        tee "$W/litehttp"
    unserve
    echo "sqlite ratio: ferryd/upsert=$(ratio "$(rate "$W/litehttp")" "$(rate "$W/lite")")"
    target "SQLite store / prepared upsert:" \
        "$(ratio "$(rate "$W/litehttp")" "$(rate "$W/lite")") (target 0.50)"
fi

# --- blobs: upload throughput next to a plain PUT to this disk ----------
if want blob; then
    sh "$ROOT/bench/bench_blob.sh" "${1:-build-release}"
fi

# --- the row API: single-row POSTs with keep-alive ----------------------
if want rows; then
    N=${ROWS_API_N:-1500} sh "$ROOT/bench/bench_rows.sh" "${1:-build-release}"
fi

echo "# issue 12 targets (ratios of this run; load at the end:" \
    "$(cut -d' ' -f1-3 /proc/loadavg)):"
sed 's/^/  /' "$W/targets"
echo "  ferryd's memory over 10 minutes: bench/mem_flat.sh (not part of this run)"
if [ -s "$W/failed" ]; then
    cat "$W/failed" >&2
    exit 1
fi
