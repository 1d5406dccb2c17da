# stores: sqlite pg
# docs/contract.md, docs/api.md and docs/configuration.md: the contract and
# config examples are what the binaries write and accept, the HTTP examples
# are ferryd's answers, and what contract.md says about reserved `ferry_`
# and `_ferry` names is what ferry track and ferryd migrate enforce.
CO=docs/contract.md
API=docs/api.md
CF=docs/configuration.md
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
cd "$T"

# configuration.md: config.json as `ferry init` writes it.
sqlite3 app.db "PRAGMA journal_mode=WAL" >/dev/null
"$FERRY" -c init.json init --db app.db --url http://127.0.0.1:8080 \
    --device pc-ankara-1 >/dev/null || fail "init"
DOCS_SED="s|\"$T/app.db\"|\"/srv/app/app.db\"|"
docs_check $CF init-config init.json
DOCS_SED=
# The seed 000 file with its ferry section: init adopts it as it is.
docs_block $CF seed-config >seed.json
"$FERRY" -c seed.json init --db local_data.db --device emp-42 >seed.out ||
    fail "init on the seed 000 config"
docs_has docs/quickstart.md "$(sed -n 's/<.*//p' seed.out)"

# contract.md: a device-local table, as ferry contract reports it.
URL=http://127.0.0.1:9 # no server needed until the api.md part
agent_init a pc-ankara-1
app_sql "$T/a/app.db" "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, at TEXT NOT NULL)"
ferry_in a track heartbeat >/dev/null || fail track
(cd "$T/a" && ferry_in a contract -o contract.json 2>"$T/note.out") || fail contract
docs_check $CO contract-note note.out
docs_json $CO contract-heartbeat "$T/a/contract.json" "v['tables'][0]"

# Reserved names: ferry track refuses them (exit 2) ...
for t in ferry_x _ferry_x Ferry_X _FERRYx t_$(printf '%055d' 0); do
    app_sql "$T/a/app.db" "CREATE TABLE IF NOT EXISTS \"$t\" (id TEXT PRIMARY KEY)"
    assert_exit "track $t" 2 ferry_in a track "$t"
done
t56=t$(printf '%055d' 0)
app_sql "$T/a/app.db" "CREATE TABLE $t56 (id TEXT PRIMARY KEY)"
assert_exit "track a 56-character name" 0 ferry_in a track "$t56"
# ... and so does ferryd migrate (exit 3, naming the table or column).
bad_contract() { # TABLE COLUMN
    printf '{"version": 1, "tables": [{"name": "%s", "columns": [{"name": "%s", "type": "text"}], "primary_key": ["%s"]}]}\n' \
        "$1" "$2" "$2" >"$T/bad.json"
}
for tc in "ferry_x id" "FERRY_devices id" "_ferry_x id" "t _ferry_c" "t _FERRY" \
    "t$(printf '%056d' 0) id" "t c$(printf '%063d' 0)"; do
    set -- $tc
    bad_contract "$1" "$2"
    "$FERRYD" migrate --store "$STORE_URL" --contract "$T/bad.json" >/dev/null 2>"$T/bad.err" &&
        fail "migrate accepted table '$1' column '$2'"
    rc=$?
    [ $rc -eq 3 ] || fail "migrate of table '$1' column '$2': exit $rc, not 3"
    DOCS_SED="s/'$1'/'T'/; s/'$2'/'C'/" docs_has $CO "$(cat "$T/bad.err")"
done
DOCS_SED=
bad_contract "t$(printf '%055d' 0)" "c$(printf '%062d' 0)"
"$FERRYD" migrate --store "$STORE_URL" --contract "$T/bad.json" >/dev/null ||
    fail "migrate refused a 56-character table with a 63-character column"

# The contract of contract.md's format example plus the quickstart's
# heartbeat entry: ferryd migrates it. Its internal tables are the ones
# contract.md names.
docs_block $CO contract-format >format.json
docs_block docs/quickstart.md qs-contract >hb.json
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["version"] = 2
c["tables"].append(json.load(open(sys.argv[2])))
json.dump(c, open(sys.argv[3], "w"))' format.json hb.json contract.json
ferryd_migrate
case $STORE in
sqlite) internal=$(store_sql "SELECT name FROM sqlite_master WHERE type = 'table'
            AND name LIKE 'ferry\_%' ESCAPE '\' ORDER BY name") ;;
pg) internal=$(store_sql "SELECT 'ferry.' || tablename FROM pg_tables
            WHERE schemaname = 'ferry' ORDER BY 1") ;;
esac
for t in $internal; do
    case $t in
    ferry_tomb_*) tomb=ferry_tomb_ ;;
    ferry.tomb_*) tomb='ferry."tomb_' ;;
    *) tomb=$t ;;
    esac
    grep -qF "\`$tomb" "$DOCS_ROOT/$CO" || fail "$CO does not name the store's table $t"
done

# api.md: health, a push as in the request example, an error answer.
KEY=$(make_key pc-ankara-1)
start_ferryd
curl -si "$URL/health" | tr -d '\r' | sed -n '1p;$p' >health.out
docs_block $API health | head -n 2 >health.doc
diff -u health.doc health.out >&2 || fail "$API: GET /health example differs"
code=$(http_post /v1/push "$KEY" '{"changes": [{"seq": 50, "table": "heartbeat",
    "op": "upsert", "hlc": "01a2040e2e4d0000", "row": {"id": 2, "emp_id": 7,
    "ts": "2026-01-19T09:05:00Z"}}]}')
assert_eq "seed push" 200 "$code"
docs_block $API push-request >request.json
assert_eq "request example" 200 "$(http_post /v1/push "$KEY" "$(cat request.json)")"
docs_json $API push-response resp.json
code=$(http_post /v1/push "$KEY" '{"changes": [
  {"seq": 9, "table": "timesheets", "op": "upsert", "hlc": "01a2040e2e4e0002",
   "row": {"id": "t1", "region": "x", "employee": "e", "work_date": "2026-01-19"}},
  {"seq": 10, "table": "timesheets", "op": "upsert", "hlc": "01a2040e2e4e0003",
   "row": {"id": "t2", "region": "x", "employee": "e", "work_date": "2026-02-31"}}]}')
assert_eq "error example status" 422 "$code"
docs_json $API error-shape resp.json
