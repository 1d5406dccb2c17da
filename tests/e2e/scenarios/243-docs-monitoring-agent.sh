# stores: sqlite
# docs/walkthroughs/monitoring-agent.md run as written (ferryd gets
# --listen 127.0.0.1:0 and the agent's config the port it got; the page's
# /tmp/ is the scenario's directory): the team's config.json drives ferry,
# rows go in batches of 200 with the screenshots as files, /health answers
# with the team's service name, and every output the page shows is what
# the binaries print.
MA=docs/walkthroughs/monitoring-agent.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
mkdir -p "$T/shots" "$T/hq"
cd "$T"

# heredoc FIRST-LINE: the page's heredoc that starts with that line, its
# /tmp/ made this scenario's directory.
heredoc() {
    awk -v first="$1" '$0 == first { on = 1 } on { print } on && /^EOF$/ { exit }' \
        "$DOCS_ROOT/$MA" | sed "s|/tmp/|$T/|g"
}

# 1. The app's database.
heredoc "sqlite3 local_data.db <<'EOF'" >create.sh
grep -q 'CREATE TABLE heartbeat' create.sh || fail "no CREATE block in $MA"
sh create.sh || fail "create"

# 2. The team's config (the page's file without ferry's section), init,
# the files declaration: the whole file is the page's.
docs_block $MA ma-config >doc-config.json
python3 - doc-config.json <<'PY' >config.json || fail "seed config"
import json, sys
c = json.load(open(sys.argv[1]))
del c["ferry"]
print(json.dumps(c, indent=2))
PY
docs_run $MA "ferry --config config.json init --db local_data.db --device emp-42" \
    >/dev/null || fail "init"
python3 - config.json doc-config.json <<'PY' || fail "files declaration"
import json, sys
c = json.load(open(sys.argv[1]))
c["ferry"]["files"] = json.load(open(sys.argv[2]))["ferry"]["files"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
docs_json $MA ma-config config.json \
    "dict(v, ferry=dict(v['ferry'], database=v['ferry']['database'].replace('$T/', '/tmp/')))"
docs_run $MA "ferry --config config.json track heartbeat website_usage screenshots" \
    >/dev/null || fail "track"
docs_run $MA "ferry --config config.json contract -o contract.json" || fail "contract"
python3 - contract.json <<'PY' || fail "contract: $(cat contract.json)"
import json, sys
t = {t["name"]: t for t in json.load(open(sys.argv[1]))["tables"]}
assert t["screenshots"]["blob_columns"] == ["image_sha256"], t["screenshots"]
for name in ("heartbeat", "website_usage", "screenshots"):
    assert t[name]["device_column"] is not None, t[name]
PY

# 3. The server.
cp contract.json hq/
cd hq
docs_run $MA "ferryd --store sqlite:ingest.db --contract contract.json migrate" \
    >/dev/null || fail "migrate"
docs_has $MA "ferryd --store sqlite:ingest.db keys create --device emp-42"
KEY=$(ferryd --store sqlite:ingest.db keys create --device emp-42 2>/dev/null)
docs_block $MA ma-settings >ferryd.json
docs_has $MA "ferryd --store sqlite:ingest.db --config ferryd.json serve --listen 127.0.0.1:8080"
docs_serve --store sqlite:ingest.db --config ferryd.json
docs_has $MA "curl -s http://127.0.0.1:8080/health"
curl -s "$URL/health" >health.out
DOCS_SED='s/"version":"[^"]*"/"version":"VERSION"/' docs_check $MA ma-health health.out

# 4. The app writes; the agent pushes.
cd "$T"
python3 - config.json "$URL" <<'PY' || fail "point the agent"
import json, sys
c = json.load(open(sys.argv[1]))
c["ingestion"]["api"]["base_url"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
head -c 200000 /dev/urandom >shots/0900.png
head -c 200000 /dev/urandom >shots/1000.png
awk '/^sqlite3 local_data.db <<.EOF.$/ { n++ } n == 2 { print } n == 2 && /^EOF$/ { exit }' \
    "$DOCS_ROOT/$MA" | sed "s|/tmp/|$T/|g" >writes.sh
grep -q 'INSERT INTO screenshots' writes.sh || fail "no writes block in $MA"
sh writes.sh || fail "writes"
docs_has $MA "export WFH_AGENT_API_KEY=fy_..."
export WFH_AGENT_API_KEY=$KEY
docs_run $MA "ferry --config config.json push" >push.out 2>push.err ||
    fail "push: $(cat push.err)"
docs_check $MA ma-push push.out
cd hq
docs_run $MA 'sqlite3 ingest.db "SELECT device, id, length(image_sha256) FROM screenshots"' \
    >rows.out || fail "sqlite3"
docs_check $MA ma-rows rows.out
assert_eq "heartbeats" 240 "$(sqlite3 ingest.db "SELECT count(*) FROM heartbeat")"
assert_eq "website usage" 60 "$(sqlite3 ingest.db "SELECT count(*) FROM website_usage")"
for f in 0900 1000; do
    sha=$(sha256sum "$T/shots/$f.png" | cut -c1-64)
    assert_eq "screenshot $f's row" 1 \
        "$(sqlite3 ingest.db "SELECT count(*) FROM screenshots WHERE image_sha256 = '$sha'")"
    curl -s -H "X-Api-Key: $KEY" -o "got.$f" "$URL/v1/blobs/$sha"
    cmp -s "got.$f" "$T/shots/$f.png" || fail "screenshot $f served back differs"
done
kill "$FERRYD_PID"
wait "$FERRYD_PID" 2>/dev/null || true
FERRYD_PID=
