# Onboarding a monitoring agent that already has a config.json (seed 000's
# shape: ingestion.api with its own auth_env, batch_size 200, and sections
# of its own): `ferry init` adds the ferry section and changes nothing else
# (values, key order, reals), the agent then pushes with the app's own key
# variable and batch size. init never half-applies: whatever it refuses
# leaves the config byte for byte and the database without ferry's tables.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "heartbeat",
  "columns": [{"name": "id", "type": "text", "not_null": true},
              {"name": "status", "type": "text"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key pc-1)
start_ferryd
D=$T/app
mkdir -p "$D"
app_sql "$D/app.db" "CREATE TABLE heartbeat (id TEXT PRIMARY KEY, status TEXT);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 450)
  INSERT INTO heartbeat SELECT 'h' || i, 'active' FROM n"
cat >"$D/config.json" <<JSON
{
  "emp_id": 7,
  "ingestion": {
    "enabled": true,
    "mode": "api",
    "api": {
      "base_url": "$URL",
      "auth_header": "X-Api-Key",
      "auth_env": "WFH_AGENT_API_KEY"
    },
    "db": {
      "schema": "employee_monitor",
      "url": "",
      "url_env": ""
    },
    "batch_size": 200
  },
  "screenshots": {
    "enabled": false,
    "interval_s": 0.1,
    "quality": 1.5,
    "tiny": 1e-300,
    "label": "caf\u00e9 \ud83d\ude00 / \"quoted\"",
    "paths": ["C:\\\\data", null, 3, [], {}]
  },
  "zz_last": null
}
JSON
cp "$D/config.json" "$T/orig.json"
ferry_tables() { sqlite3 "$1" "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_ferry%' ESCAPE '\\'"; }

"$FERRY" -c "$D/config.json" init --db "$D/app.db" --device pc-1 >"$T/init.out" 2>>"$T/agent.log" ||
    fail "init on the app's config: $(tail -n 3 "$T/agent.log")"
grep -q '^next: export WFH_AGENT_API_KEY=' "$T/init.out" || fail "init names the app's variable: $(cat "$T/init.out")"
python3 - "$T/orig.json" "$D/config.json" "$(cd "$D" && pwd -P)/app.db" <<'PY' || fail "config changed beyond the ferry section"
import json, sys
orig = json.load(open(sys.argv[1]))
new = json.load(open(sys.argv[2]))
ferry = new.pop("ferry")
assert new == orig, (new, orig)
assert list(new) == list(orig), list(new)
assert list(new["ingestion"]) == list(orig["ingestion"])
assert list(new["screenshots"]) == list(orig["screenshots"])
assert ferry["database"] == sys.argv[3] and ferry["device"] == "pc-1", ferry
assert repr(new["screenshots"]["interval_s"]) == "0.1"
PY
grep -q '"interval_s": 0.1,' "$D/config.json" || fail "reals printed as written"
ls "$D" | grep -q 'tmp' && fail "temp file left: $(ls "$D")"

# The agent pushes with the app's own variable and batch size.
"$FERRY" -c "$D/config.json" track heartbeat >/dev/null 2>>"$T/agent.log" || fail track
WFH_AGENT_API_KEY=$KEY "$FERRY" -c "$D/config.json" push >"$T/push.out" 2>>"$T/agent.log" ||
    fail "push: $(tail -n 3 "$T/agent.log")"
grep -q '^pushed 450 changes in 3 batches' "$T/push.out" || fail "batch_size 200 used: $(cat "$T/push.out")"
assert_eq "rows arrived" 450 "$(store_sql 'SELECT count(*) FROM heartbeat')"

# Running it again changes nothing; another device needs --force.
cp "$D/config.json" "$T/after.json"
"$FERRY" -c "$D/config.json" init --db "$D/app.db" --device pc-1 >/dev/null 2>>"$T/agent.log" || fail "init again"
cmp -s "$T/after.json" "$D/config.json" || fail "init again changed the file"
assert_exit "other device without --force" 3 "$FERRY" -c "$D/config.json" init --db "$D/app.db" --device pc-2
cmp -s "$T/after.json" "$D/config.json" || fail "refused init changed the file"
"$FERRY" -c "$D/config.json" init --db "$D/app.db" --device pc-2 --force --batch-size 50 \
    --auth-env OTHER_KEY >/dev/null 2>>"$T/agent.log" || fail "init --force"
python3 - "$T/orig.json" "$D/config.json" <<'PY' || fail "--force changed other sections"
import json, sys
orig = json.load(open(sys.argv[1]))
new = json.load(open(sys.argv[2]))
assert new.pop("ferry")["device"] == "pc-2"
assert new["ingestion"]["batch_size"] == 50 and new["ingestion"]["api"]["auth_env"] == "OTHER_KEY"
new["ingestion"]["batch_size"] = 200
new["ingestion"]["api"]["auth_env"] = "WFH_AGENT_API_KEY"
assert new == orig and list(new) == list(orig)
PY

# Refusals, each on a fresh app: the config is byte for byte as it was and
# the database has no ferry tables.
refused() { # WHAT CODE CONFIG-TEXT INIT-ARGS...
    _w=$1
    _c=$2
    _txt=$3
    shift 3
    rm -rf "$T/r"
    mkdir -p "$T/r"
    sqlite3 "$T/r/app.db" "CREATE TABLE t (id INTEGER PRIMARY KEY)"
    [ "$_txt" = "-" ] || printf '%s' "$_txt" >"$T/r/config.json"
    assert_exit "$_w" "$_c" "$FERRY" -c "$T/r/config.json" init "$@"
    if [ "$_txt" = "-" ]; then
        [ -e "$T/r/config.json" ] && fail "$_w: config written"
    else
        assert_eq "$_w: config kept" "$_txt" "$(cat "$T/r/config.json")"
    fi
    if [ -f "$T/r/app.db" ]; then
        assert_eq "$_w: no ferry tables" 0 "$(ferry_tables "$T/r/app.db")"
    fi
    [ -z "$(ls "$T/r" | grep tmp)" ] || fail "$_w: temp file left"
}
ok_cfg='{"ingestion": {"api": {"base_url": "http://h"}}, "app": 1}'
refused "mode postgres" 3 '{"ingestion": {"mode": "postgres", "db": {"url": "x"}}}' --db "$T/r/app.db" --url "$URL" --device d
refused "broken JSON" 3 '{"ingestion": {"api": ' --db "$T/r/app.db" --url "$URL" --device d
refused "duplicate keys" 3 '{"a": 1, "a": 2}' --db "$T/r/app.db" --url "$URL" --device d
refused "not an object" 3 '[1, 2]' --db "$T/r/app.db" --url "$URL" --device d
refused "ferry not an object" 3 '{"ferry": [], "ingestion": {"base_url": "http://h"}}' --db "$T/r/app.db" --device d
refused "bad auth_header in file" 3 '{"ingestion": {"base_url": "http://h", "auth_header": "X-K\r\nX-Evil: 1"}}' --db "$T/r/app.db" --device d
refused "no url anywhere" 3 '{"ingestion": {"enabled": true}}' --db "$T/r/app.db" --device d
refused "bad --auth-env" 2 "$ok_cfg" --db "$T/r/app.db" --device d --auth-env 'BAD VAR'
refused "bad --auth-env, new file" 2 - --db "$T/r/app.db" --url "$URL" --device d --auth-env '1X'
refused "bad --device" 2 "$ok_cfg" --db "$T/r/app.db" --device 'a b'
refused "bad --url" 2 "$ok_cfg" --db "$T/r/app.db" --url 'ftp://x' --device d
refused "bad --batch-size" 2 "$ok_cfg" --db "$T/r/app.db" --device d --batch-size 0
refused "stray argument" 2 "$ok_cfg" --db "$T/r/app.db" --device d extra
refused "db in a missing folder" 3 - --db "$T/r/nowhere/app.db" --url "$URL" --device d
printf 'this is not a database, just text that is long enough' >"$T/notdb"
refused "not a database" 3 "$ok_cfg" --db "$T/notdb" --device d
# A database locked by the app: refused before the config is touched.
refused_locked() {
    rm -rf "$T/r"
    mkdir -p "$T/r"
    sqlite3 "$T/r/app.db" "CREATE TABLE t (id INTEGER PRIMARY KEY)"
    printf '%s' "$ok_cfg" >"$T/r/config.json"
    (sqlite3 "$T/r/app.db" "BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);" ".shell sleep 3" "COMMIT;" >/dev/null 2>&1 &)
    sleep 0.5
    assert_exit "locked database" 3 "$FERRY" -c "$T/r/config.json" init --db "$T/r/app.db" --device d
    assert_eq "locked: config kept" "$ok_cfg" "$(cat "$T/r/config.json")"
    sleep 3
    assert_eq "locked: no ferry tables" 0 "$(ferry_tables "$T/r/app.db")"
}
refused_locked
# A database init would have created is not left behind when init fails.
rm -rf "$T/r" && mkdir -p "$T/r" && printf '[]' >"$T/r/config.json"
assert_exit "new db, bad config" 3 "$FERRY" -c "$T/r/config.json" init --db "$T/r/new.db" --device d
[ -e "$T/r/new.db" ] && fail "database created by a failed init is left"

# A fresh config (no file) still gets the full default shape.
rm -rf "$T/f" && mkdir -p "$T/f"
"$FERRY" -c "$T/f/config.json" init --db "$T/f/app.db" --url "$URL" --device pc-9 >"$T/init.out" 2>>"$T/agent.log" ||
    fail "init of a new config"
grep -q '^next: export FERRY_API_KEY=' "$T/init.out" || fail "default variable: $(cat "$T/init.out")"
python3 - "$T/f/config.json" "$URL" <<'PY' || fail "new config: $(cat "$T/f/config.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["ingestion"] == {"enabled": True, "mode": "api", "api": {"base_url": sys.argv[2],
    "auth_header": "X-Api-Key", "auth_env": "FERRY_API_KEY"}, "batch_size": 500}, c
# No "compress": gzip then follows the URL (configuration.md).
assert c["ferry"]["device"] == "pc-9" and "compress" not in c["ferry"], c
PY
