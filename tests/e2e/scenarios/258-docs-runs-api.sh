# docs/api.md, "Sync runs": the examples of a run's begin, a refused begin,
# its completion and GET /v1/status are what ferryd answers. Values that
# differ from run to run (ids, times, durations, the server instance) are
# compared by type only; everything else must be equal.
API=docs/api.md
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "notes", "primary_key": ["id"],
  "columns": [{"name": "id", "type": "text"}, {"name": "body", "type": "text"}]}]}
JSON
ferryd_migrate
JOB=$(make_key odk-sync)
PC=$(make_key pc-ankara)
ADMIN=$(make_key ops --admin)
start_ferryd

runs() { # KEY METHOD PATH [BODY] -> answer on stdout
    curl -s -X "$2" -H "X-Api-Key: $1" -H 'Content-Type: application/json' \
        -H 'Ferry-Run: docs1' ${4:+-d "$4"} "$URL$3"
}

# docs_shape NAME ACTUAL: the example has the answer's shape and values
docs_shape() {
    docs_block "$API" "$1" >"$T/doc.$1.json"
    [ -s "$T/doc.$1.json" ] || fail "no example '$1' in $API"
    python3 - "$T/doc.$1.json" "$2" <<'PY' >&2 || fail "$API: example '$1' differs from ferryd's answer"
import json, re, sys
doc, got = (json.load(open(f)) for f in sys.argv[1:3])
VARY = {"run", "started_at", "expires_at", "ended_at", "last_success",
        "last_attempt", "duration_ms", "server"}
def norm(s):
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "TIME", s)
    return re.sub(r"run \d+", "run N", s)
def same(d, g, path):
    if isinstance(d, dict):
        if not isinstance(g, dict) or set(d) != set(g):
            sys.exit("%s: keys %s, ferryd %s" % (path, sorted(d), sorted(g) if isinstance(g, dict) else g))
        for k in d:
            if k in VARY:
                if (d[k] is None) != (g[k] is None) or type(d[k]) != type(g[k]):
                    sys.exit("%s.%s: %r vs %r" % (path, k, d[k], g[k]))
            else:
                same(d[k], g[k], path + "." + k)
    elif isinstance(d, list):
        if not isinstance(g, list) or len(d) != len(g):
            sys.exit("%s: %r vs %r" % (path, d, g))
        for i, (a, b) in enumerate(zip(d, g)):
            same(a, b, "%s[%d]" % (path, i))
    elif isinstance(d, str) and isinstance(g, str):
        if norm(d) != norm(g):
            sys.exit("%s: %r vs %r" % (path, d, g))
    elif d != g:
        sys.exit("%s: %r vs %r" % (path, d, g))
same(doc, got, "$")
PY
}

runs "$JOB" PUT /v1/streams/main_submissions/cursor \
    '{"cursor": "2024-01-15T10:30:00.000000", "source": "last_sync.txt"}' >/dev/null
runs "$JOB" POST /v1/streams/main_submissions/runs '{"instance": "odk-sync-1"}' >begin.json
docs_shape runs-begin begin.json
RUN=$(python3 -c 'import json,sys; print(json.load(open("begin.json"))["run"])')
runs "$JOB" POST /v1/streams/main_submissions/runs '{"instance": "odk-sync-2"}' >held.json
docs_shape runs-lease-held held.json
runs "$JOB" POST "/v1/runs/$RUN/complete" \
    '{"records": 17, "cursor": "2024-01-16T08:00:00.000000", "metadata": {"forms": 3}}' >done.json
docs_shape runs-complete done.json

# A device's sync: two pushes and a pull under one Ferry-Run.
runs "$PC" POST /v1/push '{"changes": [{"seq": 1, "table": "notes", "op": "upsert",
    "hlc": "01a2040e2e4d0000", "row": {"id": "n1", "body": "a"}},
    {"seq": 2, "table": "notes", "op": "upsert", "hlc": "01a2040e2e4d0001",
    "row": {"id": "n2", "body": "b"}}]}' >/dev/null
runs "$PC" POST /v1/push '{"changes": [{"seq": 3, "table": "notes", "op": "upsert",
    "hlc": "01a2040e2e4d0002", "row": {"id": "n3", "body": "c"}}]}' >/dev/null
runs "$PC" GET "/v1/changes?limit=100" >/dev/null
runs "$ADMIN" GET "/v1/status?history=2" >status.json
docs_shape runs-status status.json
docs_has "$API" "GET /v1/status?history=2"
