# shellcheck shell=sh
# Helpers of the network fault scenarios (350-359), sourced by them after
# lib.sh: the fault proxy (tests/e2e/faultproxy.py, whose header says what
# it injects) in front of ferryd, and its counts.

FAULTPROXY=$E2E_DIR/faultproxy.py

# net_proxy ARGS...: the fault proxy in front of ferryd ($PORT) with
# faultproxy.py serve's options ARGS; sets NET_PID, NET_URL. Its counts
# are in $T/faults.json, its log (the seed) in $T/faultproxy.log.
net_proxy() {
    rm -f "$T/faultproxy.port"
    python3 "$FAULTPROXY" serve "$PORT" "$T/faultproxy.port" "$T/faults.json" \
        "$@" </dev/null >>"$T/faultproxy.log" 2>&1 &
    NET_PID=$!
    _i=0
    while [ ! -s "$T/faultproxy.port" ]; do
        kill -0 "$NET_PID" 2>/dev/null || fail "fault proxy died: $(cat "$T/faultproxy.log")"
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "fault proxy did not start: $(cat "$T/faultproxy.log")"
        sleep 0.05
    done
    NET_URL="http://127.0.0.1:$(head -n 1 "$T/faultproxy.port")"
    note "fault proxy: $(cat "$T/faultproxy.log")"
}

# net_ctl COMMAND...: one control command (random on|off, once KIND
# [PREFIX], stats); the proxy's JSON answer on stdout
net_ctl() {
    python3 "$FAULTPROXY" ctl "$T/faultproxy.port" "$@" ||
        fail "fault proxy: $* refused"
}

# net_stop: stops the proxy; $T/faults.json then holds its final counts
net_stop() {
    kill "$NET_PID" 2>/dev/null || true
    wait "$NET_PID" 2>/dev/null || true
}

# net_count KIND -> how many faults of KIND the proxy injected so far
net_count() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["faults"][sys.argv[2]])' \
        "$T/faults.json" "$1"
}

# net_summary: one line, every kind's count and the total
net_summary() {
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join("%s=%d" % kv for kv in sorted(s["faults"].items())),
      "total=%d requests=%d connections=%d" % (s["total"], s["requests"], s["connections"]))' \
        "$T/faults.json"
}

# net_last_fault -> Unix time (float) of the last fault injected
net_last_fault() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["last_fault"] or 0)' \
        "$T/faults.json"
}

# net_timeout NAME SECONDS: the agent NAME's timeout_s
net_timeout() {
    python3 - "$T/$1/config.json" "$2" <<'PY' || fail "net_timeout"
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("ferry", {})["timeout_s"] = int(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}

# net_setup BATCH TIMEOUT_S: agents a and b (batch BATCH, HTTP timeout
# TIMEOUT_S) with an items table each, a's screenshots declared as files;
# the items contract keyed by id alone (so both devices read every row;
# ferry contract would key them by device) plus screenshots as ferry
# contract makes it; ferryd started; keys KA, KB and KJ (a job machine).
# Sets APPA, APPB.
net_setup() {
    for _d in a b; do
        URL=http://127.0.0.1:9 agent_init $_d dev-$_d "$1"
        app_sql "$T/$_d/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
            name TEXT NOT NULL, qty INTEGER, price REAL, data BLOB)"
        net_timeout $_d "$2"
    done
    APPA=$T/a/app.db
    APPB=$T/b/app.db
    app_sql "$APPA" "CREATE TABLE screenshots (id INTEGER PRIMARY KEY,
        taken TEXT, path TEXT)"
    files_declare a '[{"table": "screenshots", "path_column": "path",
        "blob_column": "image_sha256"}]'
    ferry_in a track items screenshots >/dev/null 2>>"$T/agent.log" || fail "track on a"
    ferry_in b track items >/dev/null 2>>"$T/agent.log" || fail "track on b"
    ferry_in a contract >"$T/gen.json" 2>>"$T/agent.log" || fail "contract"
    items_contract
    python3 - "$T/gen.json" "$T/contract.json" <<'PY' || fail "contract merge"
import json, sys
gen, items = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
items["tables"] += [t for t in gen["tables"] if t["name"] == "screenshots"]
json.dump(items, open(sys.argv[2], "w"))
PY
    ferryd_migrate
    KA=$(make_key dev-a)
    KB=$(make_key dev-b)
    KJ=$(make_key jobs)
    start_ferryd
}
