# shellcheck shell=sh
# Helpers for e2e scenarios: real ferryd and ferry processes over real HTTP
# on loopback, against a real store (STORE=sqlite or STORE=pg). Sourced by
# run.sh; each scenario runs in its own temp dir ($T), kept on failure.

. "$E2E_DIR/pglib.sh"

FERRY=${FERRY_BIN:?}
FERRYD=${FERRYD_BIN:?}
export FERRY_LOG=${FERRY_LOG:-all}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

note() {
    echo "--- $*" >&2
}

assert_eq() { # what expected actual
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# assert_exit WHAT CODE CMD...: CMD (output to the agent log) exits CODE
assert_exit() {
    _what=$1
    _want=$2
    shift 2
    _rc=0
    "$@" >/dev/null 2>>"$T/agent.log" || _rc=$?
    assert_eq "$_what" "$_want" "$_rc"
}

# Store set-up: a fresh database per scenario.
store_setup() {
    case $STORE in
    sqlite)
        STORE_URL="sqlite:$T/store.db"
        ;;
    pg)
        base=${PG_DSN:-$(cat "$PG_STATE/dsn")}
        db="t_$(basename "$T" | tr -c 'a-zA-Z0-9\n' '_' | tr 'A-Z' 'a-z')"
        psql "$base" -qAt -c "CREATE DATABASE $db" >/dev/null ||
            fail "cannot create database $db"
        STORE_URL="${base%/*}/$db"
        ;;
    esac
    export STORE_URL
}

# store_sql SQL -> rows, '|' separated (same shape for both stores)
store_sql() {
    case $STORE in
    sqlite) sqlite3 -bail "${STORE_URL#sqlite:}" "$1" ;;
    pg) psql "$STORE_URL" -qAt -v ON_ERROR_STOP=1 -c "$1" ;;
    esac
}

# The app's own writes wait for locks like a real app would.
app_sql() { # DB SQL
    sqlite3 -bail -cmd ".timeout 10000" "$1" "$2"
}

write_contract() { # FILE, JSON on stdin
    cat >"$1"
}

ferryd_migrate() {
    "$FERRYD" migrate --store "$STORE_URL" --contract "$T/contract.json" \
        >"$T/migrate.out" 2>&1 || { cat "$T/migrate.out"; fail "migrate"; }
}

make_key() { # DEVICE [--region R] [--admin] -> key on stdout
    _dev=$1
    shift
    "$FERRYD" --store "$STORE_URL" keys create --device "$_dev" "$@" 2>/dev/null ||
        fail "keys create $_dev"
}

# start_ferryd [PORT]: sets FERRYD_PID, PORT, URL; port 0 (default) picks one
start_ferryd() {
    want=${1:-0}
    : >"$T/ferryd.out"
    "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
        --listen "127.0.0.1:$want" $FERRYD_ARGS \
        >"$T/ferryd.out" 2>>"$T/ferryd.log" &
    FERRYD_PID=$!
    i=0
    while ! grep -q '^listening on' "$T/ferryd.out" 2>/dev/null; do
        kill -0 "$FERRYD_PID" 2>/dev/null || { tail "$T/ferryd.log"; fail "ferryd died"; }
        i=$((i + 1))
        [ $i -gt 200 ] && fail "ferryd did not start"
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/ferryd.out")
    URL="http://127.0.0.1:$PORT"
}

# A graceful stop must exit 0: under the sanitizer builds this is where
# LeakSanitizer reports (and fails) a leak in ferryd.
stop_ferryd() {
    [ -n "${FERRYD_PID:-}" ] || return 0
    kill "$FERRYD_PID" 2>/dev/null || true
    _rc=0
    wait "$FERRYD_PID" 2>/dev/null || _rc=$?
    FERRYD_PID=
    [ $_rc -eq 0 ] || fail "ferryd exited with status $_rc: $(tail -n 20 "$T/ferryd.log")"
}

kill9_ferryd() {
    kill -9 "$FERRYD_PID" 2>/dev/null || true
    wait "$FERRYD_PID" 2>/dev/null || true
    FERRYD_PID=
}

# agent_init NAME DEVICE [batch] -> $T/NAME/{app.db,config.json}
agent_init() {
    mkdir -p "$T/$1"
    [ -f "$T/$1/app.db" ] || sqlite3 "$T/$1/app.db" "PRAGMA journal_mode=WAL" >/dev/null
    "$FERRY" --config "$T/$1/config.json" init --db "$T/$1/app.db" \
        --url "$URL" --device "$2" --batch-size "${3:-500}" --force \
        >/dev/null || fail "ferry init"
}

# ferry_bg NAME ARGS...: the agent in the background, $! is its own pid
ferry_bg() {
    _agent=$1
    shift
    FERRY_API_KEY=${KEY:-} "$FERRY" --config "$T/$_agent/config.json" "$@" &
}

ferry_in() { # NAME ARGS... (key from $KEY)
    _agent=$1
    shift
    FERRY_API_KEY=${KEY:-} "$FERRY" --config "$T/$_agent/config.json" "$@"
}

# POST a JSON body with curl: http_post PATH KEY BODY -> "STATUS BODY"
http_post() {
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST \
        -H "Content-Type: application/json" ${2:+-H "X-Api-Key: $2"} \
        --data-binary "$3" "$URL$1"
}

health_ok() {
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
    assert_eq "health" 200 "$code"
}

# Canonical digest of table items(id, name, qty, price, data) in the app db
# and in the store: the same text in both, compared by md5.
digest_app() {
    # hex(NULL) is '' and printf('%f', NULL) is 0.000 in SQLite: hence CASE.
    sqlite3 "$1" "SELECT id || '|' || CASE WHEN name IS NULL THEN 'N' ELSE
        hex(CAST(name AS BLOB)) END || '|' || coalesce(qty, 'N') || '|' ||
        CASE WHEN price IS NULL THEN 'N' ELSE printf('%.3f', price) END
        || '|' || CASE WHEN data IS NULL
        THEN 'N' ELSE hex(data) END FROM items ORDER BY id" |
        md5sum | cut -d' ' -f1
}

digest_store() {
    case $STORE in
    sqlite) digest_app "${STORE_URL#sqlite:}" ;;
    pg) psql "$STORE_URL" -qAt -c "SELECT id || '|' ||
        coalesce(upper(encode(convert_to(name, 'UTF8'), 'hex')), 'N') || '|'
        || coalesce(qty::text, 'N') || '|' || coalesce(to_char(price,
        'FM9999999990.000'), 'N') || '|' || coalesce(upper(encode(data,
        'hex')), 'N') FROM items ORDER BY id" | md5sum | cut -d' ' -f1 ;;
    esac
}

items_contract() {
    write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "items",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "name", "type": "text", "not_null": true},
              {"name": "qty", "type": "bigint"},
              {"name": "price", "type": "double precision"},
              {"name": "data", "type": "bytea"}],
  "primary_key": ["id"]}]}
JSON
}

# fill_items DB N: N rows with awkward text, NULLs and blobs in one tx
fill_items() {
    app_sql "$1" "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY,
        name TEXT, qty INTEGER, price REAL, data BLOB);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
        WHERE i < $2)
      INSERT INTO items SELECT i, 'item ' || i || ' \"q'' ü' ||
        CASE WHEN i % 7 = 0 THEN char(10) || 'line' ELSE '' END,
        CASE WHEN i % 11 = 0 THEN NULL ELSE i * 3 END, i / 4.0,
        CASE WHEN i % 5 = 0 THEN randomblob(i % 64) ELSE NULL END FROM n"
}

# churn DB: updates and deletes so pushes carry every kind of change
churn_items() {
    app_sql "$1" "UPDATE items SET qty = qty + 1, name = name || '+'
        WHERE id % $2 = 0; DELETE FROM items WHERE id % $3 = 1;
        INSERT OR REPLACE INTO items (id, name) VALUES ($4, 'late ' || $4)"
}

device_changes() { # DEVICE -> applied changes counter
    case $STORE in
    sqlite) store_sql "SELECT changes FROM ferry_devices WHERE device = '$1'" ;;
    pg) store_sql "SELECT changes FROM ferry.devices WHERE device = '$1'" ;;
    esac
}

device_acked() {
    case $STORE in
    sqlite) store_sql "SELECT acked_seq FROM ferry_devices WHERE device = '$1'" ;;
    pg) store_sql "SELECT acked_seq FROM ferry.devices WHERE device = '$1'" ;;
    esac
}

rand_ms() { # LO HI -> random integer in [LO, HI]
    echo $(( $1 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % ($2 - $1 + 1) ))
}

sleep_ms() {
    sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# The crash scenarios' common start: the items contract, a key for DEVICE,
# ferryd, and agent "a" (batch size BATCH) with ROWS tracked rows queued.
# Sets KEY and APP.
setup_items_agent() { # DEVICE BATCH ROWS
    items_contract
    ferryd_migrate
    KEY=$(make_key "$1")
    start_ferryd
    agent_init a "$1" "$2"
    APP=$T/a/app.db
    fill_items "$APP" "$3"
    ferry_in a track items >/dev/null || fail track
}

# ...and their common end: one more push, then the store holds exactly the
# app's rows, and the server never applied more changes than the agent
# numbered. Seqs of changes coalesced before they were ever sent leave
# gaps, so fewer applied changes than the last seq is fine; more is not.
verify_items() { # DEVICE
    ferry_in a push >>"$T/push.out" 2>>"$T/agent.log" || fail "final push"
    assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
    assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
    assert_eq "nothing dead" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
    _next=$(app_sql "$APP" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
    [ "$(device_changes "$1")" -le $((_next - 1)) ] ||
        fail "more changes applied ($(device_changes "$1")) than numbered ($((_next - 1)))"
    assert_eq "acked the last seq" $((_next - 1)) "$(device_acked "$1")"
}

# How many times the crash scenarios kill something (FERRY_TEST_KILLS).
KILLS=${FERRY_TEST_KILLS:-20}

# s2_raw: the bytes on stdin sent as they are to ferryd ($PORT), the raw
# answer on stdout (read until ferryd closes or 5 s of silence). Used for
# requests curl cannot send: bad framing, forged paths, slow bodies.
s2_raw() {
    python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(sys.stdin.buffer.read())
except OSError:
    pass
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
sys.stdout.buffer.write(out)' "$PORT"
}

# s2_status FILE: the status code of the raw answer in FILE
s2_status() {
    head -n 1 "$1" | tr -d '\r' | cut -d' ' -f2
}

# s2_log_is_ferry: every line ferryd logged has ferry's form, one event per
# line, with no control byte (ESC, CR, ...) or C1 control in it.
s2_log_is_ferry() {
    _bad=$(grep -avE '^ferryd: (error|warn|info|debug|trace): [a-z]+: ' "$T/ferryd.log" |
        grep -av '^ferryd: listening' | head -n 3)
    [ -z "$_bad" ] || fail "log lines not in ferry's form: $_bad"
    if LC_ALL=C grep -aqP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]' "$T/ferryd.log"; then
        fail "control characters in ferryd.log: $(LC_ALL=C grep -anP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]' "$T/ferryd.log" | head -n 2 | cat -v)"
    fi
}

# ---- docs examples (scenarios 21x) -------------------------------------
# An example in docs/ that the binaries must reproduce is marked by an HTML
# comment on the line above its fenced block: <!-- example: NAME -->. The
# scenarios run the commands and compare with docs_check (text) or
# docs_json (JSON values); docs_has checks a phrase quoted in running text.
# Only what really varies between runs is normalised, by docs_norm.
DOCS_ROOT=$(cd "$E2E_DIR/../.." && pwd)

# docs_block FILE NAME: the fenced block under the marker NAME, without the
# "$ command" lines of console blocks
docs_block() {
    awk -v m="<!-- example: $2 -->" '$0 == m { on = 1; next }
        on == 1 && /^```/ { on = 2; next }
        on == 1 { exit }
        on == 2 && /^```/ { exit }
        on == 2 && !/^\$ / { print }' "$DOCS_ROOT/$1"
}

# docs_norm: stdin to stdout with what varies between runs replaced: the
# scenario's temp dir (docs use /tmp/), local times, Unix times, keys and
# key ids, loopback ports, rates and durations. DOCS_SED, when set, is one
# more sed expression of the scenario's own (applied first). Keys go before
# Unix times: ten digits inside a secret are no time.
docs_norm() {
    sed -E ${DOCS_SED:+-e "$DOCS_SED"} \
        -e "s|$T/|/tmp/|g" \
        -e 's/fy_[0-9a-f]{16}\.[0-9a-f]{64}/KEY/g' \
        -e 's/(^|[^0-9a-f])[0-9a-f]{16}([^0-9a-f]|$)/\1KEYID\2/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}/TIME/g' \
        -e 's/(^|[^0-9])1[0-9]{9}([^0-9]|$)/\1EPOCH\2/g' \
        -e 's/(127\.0\.0\.1:|port )[0-9]+/\1PORT/g' \
        -e 's/[0-9]+ changes\/s/N changes\/s/g' \
        -e 's/ms=[0-9.]+/ms=MS/g'
}

# docs_check FILE NAME ACTUAL: the example NAME in FILE (docs/...) is the
# text in the file ACTUAL, line for line, after docs_norm
docs_check() {
    docs_block "$1" "$2" >"$T/doc.$2"
    [ -s "$T/doc.$2" ] || fail "no example '$2' in $1"
    docs_norm <"$T/doc.$2" >"$T/doc.$2.norm"
    docs_norm <"$3" >"$T/out.$2.norm"
    diff -u "$T/doc.$2.norm" "$T/out.$2.norm" >&2 ||
        fail "$1: example '$2' differs from what the binaries print (- docs, + binaries)"
}

# docs_lines_in FILE NAME ACTUAL: every line of the example NAME is a line
# of ACTUAL (for examples picked from a longer log), after docs_norm
docs_lines_in() {
    docs_block "$1" "$2" | docs_norm >"$T/doc.$2.norm"
    [ -s "$T/doc.$2.norm" ] || fail "no example '$2' in $1"
    docs_norm <"$3" >"$T/out.$2.norm"
    while IFS= read -r _line; do
        grep -qxF -- "$_line" "$T/out.$2.norm" ||
            fail "$1: example '$2' has a line the binaries never print: $_line"
    done <"$T/doc.$2.norm"
}

# docs_json FILE NAME ACTUAL [PY]: the JSON example NAME equals the JSON in
# ACTUAL as a value (spacing and key order aside); PY, if given, is a Python
# expression on the actual value `v` that picks the part the docs show
docs_json() {
    docs_block "$1" "$2" >"$T/doc.$2.json"
    [ -s "$T/doc.$2.json" ] || fail "no example '$2' in $1"
    python3 - "$T/doc.$2.json" "$3" "${4:-v}" <<'PY' >&2 ||
import json, sys
doc = json.load(open(sys.argv[1]))
v = json.load(open(sys.argv[2]))
got = eval(sys.argv[3])
if doc != got:
    print("docs:     " + json.dumps(doc, sort_keys=True))
    print("binaries: " + json.dumps(got, sort_keys=True))
    sys.exit(1)
PY
        fail "$1: JSON example '$2' differs from what the binaries produce"
}

# docs_has FILE TEXT: FILE says TEXT (line breaks and runs of spaces count
# as one space), after docs_norm of both
docs_has() {
    _flat=$(tr '\n' ' ' <"$DOCS_ROOT/$1" | tr -s ' ' | docs_norm)
    _want=$(printf '%s' "$2" | tr '\n' ' ' | tr -s ' ' | docs_norm)
    case $_flat in
    *"$_want"*) ;;
    *) fail "$1 does not say what the binaries print: $_want" ;;
    esac
}

# docs_run FILE CMD: CMD appears in FILE as written (see docs_has), then
# runs in this shell; its exit status is returned
docs_run() {
    docs_has "$1" "$2"
    eval "$2"
}

# fixa_fake MODE AGENT: a fake server on loopback in front of ferryd ($URL)
# that answers some of AGENT's batches itself (see fixa_fake.py's MODES),
# forwarding everything else; AGENT's base_url points at it. FIXA_PID is
# its pid (fixa_unfake stops it). HOSTILE is the text its answers carry.
fixa_fake() {
    cat >"$T/fixa_fake.py" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["E2E_DIR"])
import fakehttp
mode, upstream, portfile = sys.argv[1], sys.argv[2], sys.argv[3]
H = ("\x1b[2J\x1b]0;owned\x07 cleared\nferry: pushed 999 changes\r"
     "\u202eevil\u2066x\u2069 \u0085\u009b2J \x7f\u200f\ufeff\u2028 \\x1b end")
state = {"nb": 0, "prev": []}

def verdict(status, code, message, changes=None):
    err = {"code": code, "message": message}
    if changes is not None:
        err["changes"] = changes
    return status, json.dumps({"error": err}).encode()

def ch(seq, code="invalid_value", message="rejected by the fake"):
    return {"seq": seq, "status": 422, "code": code, "message": message}

def decide(seqs):
    """(status, body) to answer, or None to forward to ferryd."""
    if not seqs:  # the handshake
        if mode in ("h401", "h403"):
            return verdict(int(mode[1:]), "unauthorized", H)
        return None
    state["nb"] += 1
    nb, first, top = state["nb"], seqs[0], seqs[-1]
    prev, state["prev"] = state["prev"], seqs
    if mode == "bogus":  # names only seqs this batch did not carry
        return verdict(422, "contract_violation", "not in the batch",
                       [ch(top + 1000), ch(0), ch(-1), ch(2 ** 62), ch(str(first)),
                        {"code": "x"}, None, ch(first - 1)])
    if mode == "dup" and nb == 1:  # one real, named twice, and one never sent
        return verdict(422, "contract_violation", "dup",
                       [ch(first), ch(first), ch(top + 1000)])
    if mode == "unsent" and nb == 1:  # no details: the agent halves
        return verdict(422, "contract_violation", "no details", [])
    if mode == "unsent" and nb == 2:  # a change still queued, not in this batch
        return verdict(422, "contract_violation", "unsent", [ch(prev[-1])])
    if mode == "h422" and nb == 1:
        return verdict(422, "contract_violation", H, [ch(first, H, H)])
    if mode == "h422" and state.setdefault("target", first + 1) in seqs:
        return verdict(422, "malformed", H)
    if mode in ("h503", "h404"):
        return verdict(int(mode[1:]), "unavailable", H)
    return None

def handle(hdrs, body, changes):
    return decide([x["seq"] for x in changes or []])

fakehttp.serve(portfile, upstream, handle)
PY
    fake_start "$2" "$T/fixa_fake.py" "$1" "${URL#http://}"
    FIXA_PID=$FAKE_PID
}

fixa_unfake() {
    fake_stop
}

# fixa_plain_text WHAT FILE: FILE is valid UTF-8 holding no byte or code
# point a terminal acts on (control bytes but newline, DEL, C1, bidi and
# zero-width marks, line separators, BOM), and no line forged by a
# newline in a server's message
fixa_plain_text() {
    python3 - "$2" <<'PY' || fail "$1: raw control or bidi text in the output: $(od -c "$2" | head -n 20)"
import sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")  # strict: invalid UTF-8 fails
bad = [hex(ord(c)) for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f
       or 0x200b <= ord(c) <= 0x200f or 0x2028 <= ord(c) <= 0x202e
       or 0x2066 <= ord(c) <= 0x2069 or ord(c) == 0xfeff]
assert not bad, bad
assert not any(l.startswith("ferry: pushed 999") for l in text.split("\n")), "forged line"
PY
}

# fake_start AGENT SCRIPT ARG...: runs SCRIPT (python3, on tests/e2e/fakehttp.py)
# with ARG... and a port file, waits for its port and points AGENT's
# base_url at it. FAKE_PID is its pid; fake_stop stops it.
fake_start() {
    _agent=$1
    shift
    rm -f "$T/fake.port"
    E2E_DIR=$E2E_DIR python3 "$@" "$T/fake.port" </dev/null >>"$T/fake.log" 2>&1 &
    FAKE_PID=$!
    _i=0
    while [ ! -s "$T/fake.port" ]; do
        _i=$((_i + 1))
        [ $_i -gt 100 ] && fail "the fake server did not start: $(tail -n 5 "$T/fake.log")"
        sleep 0.05
    done
    sed -i "s|\"base_url\": \"[^\"]*\"|\"base_url\": \"http://127.0.0.1:$(cat "$T/fake.port")\"|" \
        "$T/$_agent/config.json"
}

fake_stop() {
    kill "$FAKE_PID" 2>/dev/null || true
    wait "$FAKE_PID" 2>/dev/null || true
}

# import_tables D MAPPING: agent D gets the tables of MAPPING (an import
# of an empty document with --create) and tracks the tables in $TABLES.
import_tables() {
    echo '{}' >"$T/empty.json"
    ferry_in "$1" import json "$T/empty.json" --mapping "$2" --create \
        >/dev/null 2>>"$T/agent.log" || fail "import --create on $1"
    # shellcheck disable=SC2086
    ferry_in "$1" track $TABLES >/dev/null 2>>"$T/agent.log" ||
        fail "track on $1"
}

# pull_setup_two: the items contract (every key reads every row: the
# default of a table without a region column), ferryd, and agents a (device
# dev-a, region r1) and b (dev-b, region r2) with the items table tracked
# and empty. Sets KA, KB, APPA, APPB.
pull_setup_two() {
    items_contract
    ferryd_migrate
    KA=$(make_key dev-a --region r1)
    KB=$(make_key dev-b --region r2)
    start_ferryd
    for _d in a b; do
        agent_init $_d dev-$_d
        app_sql "$T/$_d/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
            name TEXT, qty INTEGER, price REAL, data BLOB)"
        ferry_in $_d track items >/dev/null || fail "track on $_d"
    done
    APPA=$T/a/app.db
    APPB=$T/b/app.db
}

# pull_as DEVICE ARGS...: ferry ARGS on agent DEVICE (a or b) with its key
pull_as() {
    _d=$1
    shift
    if [ "$_d" = a ]; then KEY=$KA; else KEY=$KB; fi
    ferry_in "$_d" "$@"
}

# pull_converge DEVICE...: pulls on each device (a or b) until its items
# digest equals the store's, for up to 30 s. On PostgreSQL a pull serves
# only transactions older than every one still running in the cluster, and
# the suite runs other scenarios (108 holds a push open on purpose) on the
# same server: their transactions delay rows, never lose them.
pull_converge() {
    _until=$(($(date +%s) + 30))
    for _d in "$@"; do
        while [ "$(digest_app "$T/$_d/app.db")" != "$(digest_store)" ]; do
            [ "$(date +%s)" -gt $_until ] && return 0 # the caller's asserts say what differs
            pull_as "$_d" pull >>"$T/converge.out" 2>>"$T/agent.log" ||
                fail "pull on $_d: $(tail -n 2 "$T/agent.log")"
            [ "$(digest_app "$T/$_d/app.db")" = "$(digest_store)" ] || sleep 0.2
        done
    done
}

# files_setup NAME DEVICE [BATCH]: an agent NAME whose app has heartbeat
# (id, ts) and screenshots (id, taken, path) tracked, "ferry.files"
# declaring screenshots.path with the blob column image_sha256, the
# contract from `ferry contract`, ferryd started. Sets KEY, APP.
files_setup() {
    URL=http://127.0.0.1:9 agent_init "$1" "$2" "${3:-200}"
    APP=$T/$1/app.db
    app_sql "$APP" "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, ts TEXT);
        CREATE TABLE screenshots (id INTEGER PRIMARY KEY, taken TEXT,
        path TEXT)"
    files_declare "$1" '[{"table": "screenshots", "path_column": "path",
        "blob_column": "image_sha256"}]'
    ferry_in "$1" track heartbeat screenshots >/dev/null 2>>"$T/agent.log" ||
        fail "track"
    ferry_in "$1" contract >"$T/contract.json" 2>>"$T/agent.log" ||
        fail "contract: $(tail -n 2 "$T/agent.log")"
    ferryd_migrate
    KEY=$(make_key "$2")
    start_ferryd
    files_point "$1" "$URL"
}

# files_declare NAME JSON: sets ferry.files in agent NAME's config
files_declare() {
    python3 - "$T/$1/config.json" "$2" <<'PY' || fail "files_declare"
import json, sys
c = json.load(open(sys.argv[1]))
c["ferry"]["files"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}

# files_point NAME URL: agent NAME's base_url
files_point() {
    sed -i "s|\"base_url\": \"[^\"]*\"|\"base_url\": \"$2\"|" "$T/$1/config.json"
}

# files_sha FILE -> lower-case hex SHA-256
files_sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# files_blob_status SHA -> ferryd's status for HEAD /v1/blobs/SHA (direct)
files_blob_status() {
    curl -s -o /dev/null -w '%{http_code}' -I -H "X-Api-Key: $KEY" \
        "$URL/v1/blobs/$1"
}

# files_get SHA FILE: GET /v1/blobs/SHA into FILE, fails unless 200
files_get() {
    _code=$(curl -s -o "$2" -w '%{http_code}' -H "X-Api-Key: $KEY" \
        "$URL/v1/blobs/$1")
    assert_eq "GET blob $1" 200 "$_code"
}

# files_proxy UPSTREAM_PORT RATE: a TCP relay on loopback in front of
# ferryd that passes at most RATE bytes/s from the agent to ferryd and
# counts them: every byte the agent puts on the wire to ferryd goes
# through it. Sets PROXY_PID, PROXY_URL; files_proxy_bytes reads the count.
files_proxy() {
    rm -f "$T/proxy.port" "$T/proxy.bytes"
    python3 - "$1" "$2" "$T/proxy.port" "$T/proxy.bytes" <<'PY' 2>>"$T/proxy.log" &
import socket, sys, threading, time
up_port, rate = int(sys.argv[1]), float(sys.argv[2])
lock = threading.Lock()
state = {"bytes": 0, "next": time.monotonic()}

def throttle(n):
    # one budget for every connection: a token bucket at `rate` bytes/s
    with lock:
        state["bytes"] += n
        now = time.monotonic()
        state["next"] = max(state["next"], now) + n / rate
        wait = state["next"] - now
    if wait > 0:
        time.sleep(wait)

def pipe(src, dst, up):
    try:
        while True:
            b = src.recv(16384)
            if not b:
                break
            if up:
                throttle(len(b))
            dst.sendall(b)
    except OSError:
        pass
    # Either side gone: both connections end (closed, so a peer still
    # sending gets a reset instead of writing into a void until it times out).
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

def serve(c):
    try:
        u = socket.create_connection(("127.0.0.1", up_port))
    except OSError:
        c.close()
        return
    threading.Thread(target=pipe, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, False), daemon=True).start()

def report():
    while True:
        with lock:
            n = state["bytes"]
        with open(sys.argv[4] + ".tmp", "w") as f:
            f.write("%d\n" % n)
        import os
        os.replace(sys.argv[4] + ".tmp", sys.argv[4])
        time.sleep(0.05)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
ls.bind(("127.0.0.1", 0))
ls.listen(16)
threading.Thread(target=report, daemon=True).start()
open(sys.argv[3], "w").write("%d\n" % ls.getsockname()[1])
while True:
    c, _ = ls.accept()
    serve(c)
PY
    PROXY_PID=$!
    _i=0
    while [ ! -s "$T/proxy.port" ] || [ ! -s "$T/proxy.bytes" ]; do
        _i=$((_i + 1))
        [ $_i -gt 100 ] && fail "proxy did not start: $(cat "$T/proxy.log")"
        sleep 0.05
    done
    PROXY_URL="http://127.0.0.1:$(cat "$T/proxy.port")"
}

files_proxy_bytes() {
    cat "$T/proxy.bytes"
}

# ---- blobs (scenarios 110-119) ----------------------------------------------

# blob_put SHA KEY FILE [CURL-ARGS...]: PUT FILE to /v1/blobs/SHA -> status;
# the answer's headers in $T/blob.h, its body in $T/blob.json. curl's own
# Expect: 100-continue (bodies over 1 MiB) lets ferryd answer on the
# headers before the body is sent: without it, an early answer (200 for a
# stored blob, 409, 413) races the body, and the reset of a connection
# closed with body bytes unread can lose the answer.
blob_put() {
    _sha=$1 _key=$2 _file=$3
    shift 3
    curl -s -D "$T/blob.h" -o "$T/blob.json" -w '%{http_code}' \
        -H "X-Api-Key: $_key" "$@" -T "$_file" "$URL/v1/blobs/$_sha"
}

# blob_head SHA KEY -> status; headers in $T/blob.h
blob_head() {
    curl -s -I -D "$T/blob.h" -o /dev/null -w '%{http_code}' \
        -H "X-Api-Key: $2" "$URL/v1/blobs/$1"
}

# blob_get SHA KEY OUT [CURL-ARGS...] -> status; headers in $T/blob.h
blob_get() {
    _sha=$1 _key=$2 _out=$3
    shift 3
    curl -s -D "$T/blob.h" -o "$_out" -w '%{http_code}' \
        -H "X-Api-Key: $_key" "$@" "$URL/v1/blobs/$_sha"
}

# blob_hdr NAME: that header of the last answer ($T/blob.h), without CR
blob_hdr() {
    sed -n "s/^$1: *\\([^\\r]*\\).*/\\1/Ip" "$T/blob.h" | tail -n 1
}

blob_sha() { sha256sum "$1" | cut -c1-64; }

# blob_table NAME: ferry's internal table NAME as the store spells it
blob_table() {
    case $STORE in
    sqlite) echo "ferry_$1" ;;
    pg) echo "ferry.$1" ;;
    esac
}

# blob_held SHA: "received|parts|bytes in parts" of SHA's upload in the store
blob_held() {
    store_sql "SELECT coalesce((SELECT received FROM $(blob_table blobs)
        WHERE sha256 = '$1'), -1) || '|' || count(*) || '|' ||
        coalesce(sum(length(data)), 0) FROM $(blob_table blob_parts)
        WHERE sha256 = '$1'"
}

# files_poll_start SHA: watches the store in the background (every 50 ms)
# until files_poll_stop: a screenshots row present while ferryd does not
# hold the blob SHA complete is a violation; files_poll_stop fails on one,
# and unless the poller saw the store both without the row and with it.
files_poll_start() {
    rm -f "$T/poll.stop" "$T/poll.log"
    (
        while [ ! -f "$T/poll.stop" ]; do
            _n=$(store_sql "SELECT count(*) FROM screenshots" 2>/dev/null) || _n=
            case $_n in
            '' | *[!0-9]*) ;;
            0) echo none >>"$T/poll.log" ;;
            *)
                _s=$(files_blob_status "$1")
                if [ "$_s" = 200 ]; then
                    echo row >>"$T/poll.log"
                else
                    echo "violation: row present, HEAD answered $_s" >>"$T/poll.log"
                fi
                ;;
            esac
            sleep 0.05
        done
    ) &
    POLL_PID=$!
}

files_poll_stop() {
    sleep 0.2 # one more round after the last push
    : >"$T/poll.stop"
    wait "$POLL_PID" 2>/dev/null || true
    ! grep -q violation "$T/poll.log" || fail "$(grep -m1 violation "$T/poll.log")"
    grep -q '^none$' "$T/poll.log" || fail "the poller never saw the store without the row"
    grep -q '^row$' "$T/poll.log" || fail "the poller never saw the row"
    note "store polled $(wc -l <"$T/poll.log") times"
}

# docs_serve FERRYD-ARGS...: ferryd ARGS serve --listen 127.0.0.1:0 in the
# background, as a page's `ferryd ... serve` (output in serve.out and
# serve.err of the current folder); sets FERRYD_PID and URL once it listens.
docs_serve() {
    ferryd "$@" serve --listen 127.0.0.1:0 >serve.out 2>serve.err &
    FERRYD_PID=$!
    _i=0
    until grep -q '^listening on' serve.out; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "ferryd did not start: $(cat serve.err)"
        sleep 0.05
    done
    URL=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1://p' serve.out)
}

# own_pg [fsync=on|off]: on PostgreSQL, moves this scenario to a cluster of
# its own (OWN_PG, stopped by run.sh), for scenarios that hold
# transactions open, stop the cluster, or read at once what they wrote (the
# shared cluster's horizon is every scenario's). Nothing on SQLite.
own_pg() {
    [ "$STORE" = pg ] || return 0
    OWN_PG=$(pg_cluster_start "$@") || fail "cannot start a PostgreSQL cluster"
    STORE_URL="postgresql://postgres@127.0.0.1:$(cat "$OWN_PG/port")/postgres"
}

# blob_contract: the contract of the blob scenarios, one table "shots"
# whose column "file" names a blob.
blob_contract() {
    write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "shots",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "file", "type": "text"}],
  "primary_key": ["id"], "blob_columns": ["file"]}]}
JSON
}

# ---- full disks (scenarios 36x) ------------------------------------------
# disk_mount DIR SIZE: a tmpfs of SIZE (e.g. 4m) on DIR, recorded in
# $T/.mounts so that run.sh unmounts it on any exit. A scenario that
# cannot mount (not root, no tmpfs) skips: exit 77 with the reason.
disk_mount() {
    mkdir -p "$1"
    if ! mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>"$T/mount.err"; then
        echo "SKIP: cannot mount a tmpfs on $1: $(cat "$T/mount.err")" >&2
        exit 77
    fi
    echo "$1" >>"$T/.mounts"
}

# disk_fill DIR: fills DIR's file system to the last byte with DIR/.fill
# (dd stops at ENOSPC); prints the bytes written
disk_fill() {
    dd if=/dev/zero of="$1/.fill" bs=4096 2>/dev/null || true
    # tmpfs hands out whole pages; a last partial block is taken byte-wise
    dd if=/dev/zero bs=1 count=8192 2>/dev/null >>"$1/.fill" || true
    _avail=$(df -B1 --output=avail "$1" | tail -n 1 | tr -d ' ')
    [ "$_avail" -eq 0 ] || fail "disk_fill: $_avail bytes still free on $1"
    stat -c %s "$1/.fill"
}

# disk_free DIR: gives the filler's space back
disk_free() {
    rm -f "$1/.fill"
}

# disk_unmount_all RC: run.sh's cleanup, after the scenario's processes
# ended; on a failure (RC not 0) the files are copied out first (the
# filler aside), so that $T keeps them
disk_unmount_all() {
    [ -f "$T/.mounts" ] || return 0
    [ -n "${FERRYD_PID:-}" ] && wait "$FERRYD_PID" 2>/dev/null
    while IFS= read -r _m; do
        if [ "$1" -ne 0 ] && [ "$1" -ne 77 ]; then
            rm -f "$_m/.fill"
            cp -a "$_m" "$_m.kept" 2>/dev/null
        fi
        umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null ||
            echo "cannot unmount $_m" >&2
    done <"$T/.mounts"
    rm -f "$T/.mounts"
}

# disk_store SIZE: the store on a tmpfs of SIZE at $T/sdisk, before
# ferryd_migrate. SQLite: the store's file is there. PostgreSQL: a
# tablespace there made the database's own (ALTER DATABASE ... SET
# TABLESPACE: its tables, indexes, catalogs and temporary files), while
# the WAL stays on the cluster's disk: a WAL write that fails makes
# PostgreSQL PANIC and restart, which is a crash, not a full disk. Needs
# the harness's own cluster (a server elsewhere cannot see the mount).
disk_store() {
    disk_mount "$T/sdisk" "$1"
    case $STORE in
    sqlite)
        STORE_URL="sqlite:$T/sdisk/store.db"
        export STORE_URL
        return 0
        ;;
    esac
    if [ ! -f "$PG_STATE/pgdir" ]; then
        echo "SKIP: the tablespace needs the harness's own PostgreSQL" >&2
        exit 77
    fi
    chown postgres "$T/sdisk" || fail "chown the tablespace's directory"
    DISK_DB=${STORE_URL##*/}
    DISK_PG=${PG_DSN:-$(cat "$PG_STATE/dsn")}
    psql "$DISK_PG" -qAt -v ON_ERROR_STOP=1 \
        -c "CREATE TABLESPACE ${DISK_DB}_ts LOCATION '$T/sdisk'" ||
        fail "create tablespace"
    # run.sh calls this on any exit, before it unmounts the tmpfs
    scenario_cleanup() {
        psql "$DISK_PG" -qAt -c "DROP DATABASE IF EXISTS $DISK_DB WITH (FORCE)" \
            >/dev/null 2>&1
        psql "$DISK_PG" -qAt -c "DROP TABLESPACE IF EXISTS ${DISK_DB}_ts" \
            >/dev/null 2>&1
    }
    psql "$DISK_PG" -qAt -v ON_ERROR_STOP=1 \
        -c "ALTER DATABASE $DISK_DB SET TABLESPACE ${DISK_DB}_ts" ||
        fail "move the database to the tablespace"
}

# ferryd_503s: how many requests ferryd has answered 503 so far
ferryd_503s() {
    grep -c 'request answered 503' "$T/ferryd.log" || true
}
