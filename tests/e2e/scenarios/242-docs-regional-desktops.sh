# stores: sqlite
# docs/walkthroughs/regional-desktops.md run as written (ferryd gets
# --listen 127.0.0.1:0 and the agent the port it got): Ankara on ferry's
# agent, Istanbul on the old desktop client (tests/e2e/oldclient.py, the
# offices' own code), side by side; every output the page shows is what the
# binaries print, and both offices end with both offices' rows.
RD=docs/walkthroughs/regional-desktops.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
mkdir -p "$T/ankara" "$T/istanbul" "$T/hq"

# 0. The app's database in both offices: the heredoc, as the page has it.
awk '/^sqlite3 puantaj.db <<.EOF.$/ { on = 1 } on { print } on && /^EOF$/ { exit }' \
    "$DOCS_ROOT/$RD" >"$T/create.sh"
[ -s "$T/create.sh" ] || fail "no 'sqlite3 puantaj.db <<EOF' block in $RD"
for o in ankara istanbul; do
    (cd "$T/$o" && sh "$T/create.sh") || fail "create $o"
done
sqlite3 "$T/ankara/puantaj.db" "INSERT INTO employees VALUES ('ANK-1',
    'Ahmet Yilmaz', 'Ankara'); INSERT INTO timesheets VALUES ('Ankara', 1,
    'ANK-1', '2026-01-19', 8)"
sqlite3 "$T/istanbul/puantaj.db" "INSERT INTO employees VALUES ('IST-1',
    'Fatma Demir', 'Istanbul'); INSERT INTO timesheets VALUES ('Istanbul',
    1, 'IST-1', '2026-01-19', 7.5)"

# 1. The contract.
cd "$T/ankara"
docs_run $RD "ferry init --db puantaj.db --url http://hq.example:8080 --device ankara-pc" \
    >/dev/null || fail "ferry init"
docs_run $RD "ferry track employees timesheets" >track.out || fail "ferry track"
docs_check $RD rd-track track.out
docs_run $RD "ferry contract --region-column region --read all -o contract.json" ||
    fail "ferry contract"
docs_json $RD rd-contract contract.json "v['tables'][1]"
python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["tables"][0]; assert t["read"] == "all", t' \
    contract.json || fail "employees is not read by all"
assert_exit "--read bogus" 2 ferry contract --read bogus
cp contract.json "$T/hq/"

# 2. The server.
cd "$T/hq"
docs_run $RD "ferryd --store sqlite:hq.db --contract contract.json migrate" \
    >/dev/null || fail "migrate"
docs_has $RD "ferryd --store sqlite:hq.db keys create --device ankara-pc --region Ankara"
KANK=$(ferryd --store sqlite:hq.db keys create --device ankara-pc --region Ankara 2>/dev/null)
docs_has $RD "ferryd --store sqlite:hq.db keys create --device istanbul-desktop --region Istanbul"
KIST=$(ferryd --store sqlite:hq.db keys create --device istanbul-desktop --region Istanbul 2>/dev/null)
docs_block $RD rd-settings >ferryd.json
[ -s ferryd.json ] || fail "no settings block"
# The walkthrough's aliases are configuration.md's.
docs_json docs/configuration.md old-client-settings ferryd.json "dict(v, store='postgresql://ferry@db.example/ferry', contract='/etc/ferry/contract.json')"
docs_has $RD "ferryd --config ferryd.json serve"
docs_serve --config ferryd.json

# 3. Ankara on the agent.
cd "$T/ankara"
ferry init --db puantaj.db --url "$URL" --device ankara-pc >/dev/null || fail "init --url"
docs_has $RD "export FERRY_API_KEY=<Ankara's key>"
export FERRY_API_KEY=$KANK
ferry sync >sync1.out 2>/dev/null || fail "first sync"
docs_check $RD rd-sync-ankara sync1.out

# 4. Istanbul on the old client, then Ankara again.
cd "$T/istanbul"
assert_eq "old client sync" ok "$(DB_PATH=puantaj.db python3 "$E2E_DIR/oldclient.py" sync "$URL" "$KIST" Istanbul 2>>"$T/client.log")"
cd "$T/ankara"
ferry sync >sync2.out 2>/dev/null || fail "second sync"
docs_check $RD rd-sync-again sync2.out
rows="SELECT group_concat(x, ' ') FROM (SELECT region || ':' || id || ':' ||
    employee_id || ':' || hours AS x FROM timesheets ORDER BY 1)"
want="Ankara:1:ANK-1:8.0 Istanbul:1:IST-1:7.5"
assert_eq "Ankara has both offices" "$want" "$(sqlite3 "$T/ankara/puantaj.db" "$rows")"
assert_eq "Istanbul has both offices" "$want" "$(sqlite3 "$T/istanbul/puantaj.db" "$rows")"
# An edit in Istanbul's file travels through the old client to Ankara.
sqlite3 "$T/istanbul/puantaj.db" "UPDATE timesheets SET hours = 6 WHERE region = 'Istanbul'"
cd "$T/istanbul"
assert_eq "old client sync 2" ok "$(DB_PATH=puantaj.db python3 "$E2E_DIR/oldclient.py" sync "$URL" "$KIST" Istanbul 2>>"$T/client.log")"
cd "$T/ankara"
ferry sync >/dev/null 2>&1 || fail "third sync"
assert_eq "Istanbul's edit in Ankara" 6.0 \
    "$(sqlite3 puantaj.db "SELECT hours FROM timesheets WHERE region = 'Istanbul'")"
ferry status >status.out || fail "status"
grep -q '^last pull     .* (cursor c1\.[0-9]*\.[0-9]*)$' status.out ||
    fail "status does not show the last pull: $(cat status.out)"
kill "$FERRYD_PID"
wait "$FERRYD_PID" 2>/dev/null || true
FERRYD_PID=
