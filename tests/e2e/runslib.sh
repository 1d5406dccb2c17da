# shellcheck shell=sh
# Helpers of the sync runs scenarios (245-249), sourced by them after
# lib.sh: requests to the runs API with curl, JSON fields of answers, and
# more ferryd processes on the scenario's store.

RUNS_PY=$E2E_DIR/runs.py

# rq METHOD PATH KEY [BODY] [CURL-ARGS...] -> status; the answer in
# $T/resp.json. The Content-Type is application/json unless $CT says
# otherwise (CT=- sends none); the base URL is $URL.
rq() {
    _m=$1 _p=$2 _k=$3
    shift 3
    _b=${1-}
    [ $# -gt 0 ] && shift
    set -- ${_k:+-H "X-Api-Key: $_k"} "$@"
    [ "${CT:-}" != - ] && set -- -H "Content-Type: ${CT:-application/json}" "$@"
    if [ -n "$_b" ]; then
        curl -s -o "$T/resp.json" -w '%{http_code}' -X "$_m" "$@" \
            --data-binary "$_b" "$URL$_p"
    else
        curl -s -o "$T/resp.json" -w '%{http_code}' -X "$_m" "$@" "$URL$_p"
    fi
}

# jq_ EXPR [FILE]: the Python expression EXPR on the JSON value v of FILE
# (default the last answer); dicts and lists printed as compact JSON,
# None as null, strings as they are.
jq_() {
    python3 - "$1" "${2:-$T/resp.json}" <<'PY'
import json, sys
v = json.load(open(sys.argv[2]))
r = eval(sys.argv[1])
if isinstance(r, (dict, list)) or r is None or isinstance(r, bool):
    r = json.dumps(r, separators=(",", ":"), sort_keys=True)
print(r)
PY
}

# begin_run STREAM KEY [INSTANCE] [LEASE_S] -> the run's id; fails unless 201
begin_run() {
    _st=$(rq POST "/v1/streams/$1/runs" "$2" \
        "{\"instance\": \"${3:-host}\", \"lease_seconds\": ${4:-60}}")
    assert_eq "begin $1: status" 201 "$_st"
    jq_ 'v["run"]'
}

# end_run ID KEY BODY [complete|fail]: fails unless 200
end_run() {
    _st=$(rq POST "/v1/runs/$1/${4:-complete}" "$2" "$3")
    assert_eq "${4:-complete} of run $1: status ($(cat "$T/resp.json"))" 200 "$_st"
}

# stream_status STREAM KEY [HISTORY] -> the stream's entry of GET /v1/status
# into $T/stream.json
stream_status() {
    _st=$(rq GET "/v1/status?stream=$1&history=${3:-100}" "$2")
    assert_eq "status of $1" 200 "$_st"
    jq_ 'v["streams"][0]' >"$T/stream.json"
}

# sf EXPR: EXPR on the last stream_status entry (as v)
sf() {
    jq_ "$1" "$T/stream.json"
}

# runs_ferryd N [SERVE-ARGS...]: ferryd number N on the store (output in
# $T/ferryd-N.out, log $T/ferryd-N.log); sets RUNS_PID_N and RUNS_URL_N.
runs_ferryd() {
    _n=$1
    shift
    : >"$T/ferryd-$_n.out"
    "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" serve \
        --listen 127.0.0.1:0 "$@" >"$T/ferryd-$_n.out" 2>>"$T/ferryd-$_n.log" &
    eval "RUNS_PID_$_n=$!"
    _i=0
    while ! grep -q '^listening on' "$T/ferryd-$_n.out" 2>/dev/null; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "ferryd $_n did not start: $(tail -n 3 "$T/ferryd-$_n.log")"
        sleep 0.05
    done
    eval "RUNS_URL_$_n=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1://p' "$T/ferryd-$_n.out")"
}

# runs_ferryd_stop N: a graceful stop that must exit 0 (LeakSanitizer)
runs_ferryd_stop() {
    eval "_pid=\$RUNS_PID_$1"
    kill "$_pid" 2>/dev/null || true
    _rc=0
    wait "$_pid" 2>/dev/null || _rc=$?
    [ $_rc -eq 0 ] || fail "ferryd $1 exited with status $_rc: $(tail -n 20 "$T/ferryd-$1.log")"
}

# ts_ge A B: time A (ISO 8601 UTC with milliseconds, as ferryd writes
# them) is B or later
ts_ge() {
    python3 -c 'import sys; sys.exit(sys.argv[1] < sys.argv[2])' "$1" "$2"
}

# history_table: ferry's run history table as the store spells it
history_table() {
    case $STORE in
    sqlite) echo ferry_sync_history ;;
    pg) echo ferry.sync_history ;;
    esac
}

# jobs_setup DEVICE DIR: a store with the items contract, a key K of
# DEVICE, ferryd started, and DIR/config.json with only the ingestion
# section (a jobs-only machine's config)
jobs_setup() {
    items_contract
    ferryd_migrate
    K=$(make_key "$1")
    start_ferryd
    mkdir -p "$2"
    printf '{"ingestion": {"base_url": "%s"}}\n' "$URL" >"$2/config.json"
}
