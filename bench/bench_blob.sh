#!/bin/sh
# Blob upload throughput: one file (100 MiB by default) PUT with curl to
# ferryd's /v1/blobs/{sha256} on the SQLite store and on PostgreSQL, next
# to the same curl PUT to a trivial sink on the same machine: a Python HTTP
# server that writes the body to a file on the same disk and fsyncs it
# (what "a plain PUT of the file to this machine's disk" costs without
# ferry). Also the GET of the stored blob. Loopback only; each figure is
# the best of RUNS (3) uploads of a new file (ferryd answers 200 to the
# same content, so every run uploads different bytes).
#   bench/bench_blob.sh [BUILD_DIR]   (default build-release)
# MIB (default 100) and RUNS can be set in the environment. Starts its own
# PostgreSQL (default settings, fsync on), as bench/run.sh does.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/${1:-build-release}
FERRYD=$BUILD/server/ferryd
MIB=${MIB:-100}
RUNS=${RUNS:-3}
. "$ROOT/tests/e2e/pglib.sh"
W=$(mktemp -d /tmp/ferry-bench-blob.XXXXXX)
PG="" SERVER="" SINK=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    [ -n "$SINK" ] && kill "$SINK" 2>/dev/null
    [ -n "$PG" ] && pg_cluster_stop "$PG"
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
PG=$(pg_cluster_start fsync=on)
DSN="postgresql://postgres@127.0.0.1:$(cat "$PG/port")/postgres"
cat >"$W/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "shots",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "file", "type": "text"}],
  "primary_key": ["id"], "blob_columns": ["file"]}]}
JSON
echo "# blob upload: ${MIB} MiB, best of $RUNS, curl $(curl --version | head -n 1 | cut -d' ' -f2)"

# put URL FILE [KEY] -> seconds (curl's own total time), status checked
put() {
    _out=$(curl -s -o "$W/put.json" -w '%{http_code} %{time_total}' \
        -H "Expect:" ${3:+-H "X-Api-Key: $3"} -T "$2" "$1")
    case ${_out%% *} in
    200 | 201) echo "${_out#* }" ;;
    *) echo "PUT $1: ${_out%% *} $(cat "$W/put.json")" >&2; exit 1 ;;
    esac
}

# best LABEL URL-PREFIX [KEY]: RUNS uploads of new files, the fastest
best() {
    _best=
    for _i in $(seq 1 "$RUNS"); do
        head -c $((MIB * 1048576)) /dev/urandom >"$W/f"
        _sha=$(sha256sum "$W/f" | cut -c1-64)
        _s=$(put "$2$_sha" "$W/f" "${3:-}")
        _best=$(awk -v a="$_s" -v b="${_best:-1e9}" 'BEGIN{print (a < b) ? a : b}')
    done
    echo "$1 mib=$MIB seconds=$_best mib_per_s=$(awk "BEGIN{printf \"%.1f\", $MIB/$_best}")" |
        tee "$W/$1"
    LAST_SHA=$_sha
}
rate() { sed -n 's/.*mib_per_s=\([0-9.]*\).*/\1/p' "$W/$1"; }

# --- the sink: the body to a file on the same disk, fsynced ------------
cat >"$W/sink.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers["Content-Length"])
        with open(os.path.join(sys.argv[1], "sink.out"), "wb") as f:
            while n:
                b = self.rfile.read(min(n, 1 << 20))
                if not b:
                    break
                f.write(b)
                n -= len(b)
            f.flush()
            os.fsync(f.fileno())
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$W/sink.py" "$W" >"$W/sink.port" &
SINK=$!
while [ ! -s "$W/sink.port" ]; do sleep 0.05; done
best sink "http://127.0.0.1:$(cat "$W/sink.port")/"
kill "$SINK"
SINK=

# serve STORE -> SERVER, URL, KEY
serve() {
    "$FERRYD" --store "$1" --contract "$W/contract.json" migrate >/dev/null
    KEY=$("$FERRYD" --store "$1" keys create --device bench 2>/dev/null)
    echo '{"blob_max_bytes": 1073741824}' >"$W/settings.json"
    "$FERRYD" -q --store "$1" --contract "$W/contract.json" serve \
        --listen 127.0.0.1:0 --config "$W/settings.json" >"$W/serve.out" &
    SERVER=$!
    while ! grep -q '^listening' "$W/serve.out" 2>/dev/null; do sleep 0.05; done
    URL="http://$(sed 's/^listening on //' "$W/serve.out")"
}

# get LABEL: the last blob back, checked
get() {
    _out=$(curl -s -o "$W/got" -w '%{http_code} %{time_total}' \
        -H "X-Api-Key: $KEY" "$URL/v1/blobs/$LAST_SHA")
    [ "${_out%% *}" = 200 ] || { echo "GET: $_out" >&2; exit 1; }
    [ "$(sha256sum "$W/got" | cut -c1-64)" = "$LAST_SHA" ] ||
        { echo "GET: other bytes" >&2; exit 1; }
    echo "$1 mib=$MIB seconds=${_out#* } mib_per_s=$(awk "BEGIN{printf \"%.1f\", $MIB/${_out#* }}")"
}

serve "sqlite:$W/store.db"
best ferryd_sqlite "$URL/v1/blobs/" "$KEY"
get ferryd_sqlite_get
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=

serve "$DSN"
best ferryd_pg "$URL/v1/blobs/" "$KEY"
get ferryd_pg_get
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=

echo "blob ratios: ferryd_sqlite/sink=$(awk "BEGIN{printf \"%.2f\", $(rate ferryd_sqlite)/$(rate sink)}")" \
    "ferryd_pg/sink=$(awk "BEGIN{printf \"%.2f\", $(rate ferryd_pg)/$(rate sink)}")"
