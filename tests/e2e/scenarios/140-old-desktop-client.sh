# The regional offices' desktop client, unchanged (tests/e2e/oldclient.py
# holds its sync_with_server and get_server_status as the seed wrote them,
# run with Python requests), served through ferryd's route aliases: POST
# /sync (multipart "db", X-API-KEY, X-Region), GET /sync/download, GET
# /status. Two offices, Ankara and Istanbul, each with its own regional key
# and its own SQLite file, several rounds of inserts, edits and deletes in
# between: both files end with the union of both regions' rows, each
# region's edits and deletes applied, nothing of one region overwritten by
# the other's stale copy (nor an admin's newer edit by an office's stale
# copy), and the store holds the same rows.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "timesheets", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "employee", "type": "text"}, {"name": "work_date", "type": "date"},
   {"name": "hours", "type": "double precision"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"},
 {"name": "employees", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "name", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"}]}
JSON
ferryd_migrate
KANK=$(make_key pc-ankara --region Ankara)
KIST=$(make_key pc-istanbul --region Istanbul)
KADM=$(make_key hq --admin)
# The settings file exactly as docs/configuration.md gives it to operators
# (the command line's store, contract and listen address win over its own).
docs_block docs/configuration.md old-client-settings >"$T/settings.json"
grep -q '"region_header": "X-Region"' "$T/settings.json" || fail "documented settings"
FERRYD_ARGS="--config $T/settings.json"
start_ferryd

# Each office's own database, as its desktop app created it.
office_db() { # NAME
    sqlite3 "$T/$1.db" "CREATE TABLE timesheets (id TEXT PRIMARY KEY,
        region TEXT NOT NULL, employee TEXT, work_date DATE, hours REAL);
        CREATE TABLE employees (id TEXT PRIMARY KEY, region TEXT NOT NULL,
        name TEXT);" || fail "office db $1"
}
office_db ankara
office_db istanbul
osql() { sqlite3 -bail "$T/$1.db" "$2" || fail "sql on $1: $2"; }
sync() { # OFFICE KEY REGION -> the client's own verdict
    DB_PATH="$T/$1.db" python3 "$E2E_DIR/oldclient.py" sync "$URL" "$2" "$3" \
        2>>"$T/client.log"
}
last_upload() { # the counts ferryd logged for the last upload
    grep 'upload created' "$T/ferryd.log" | tail -n 1 | sed 's/.*upload //'
}
# The rows, the same text from a file and from the store.
ROWS="SELECT 't:' || id || '|' || region || '|' || coalesce(employee, '-')
    || '|' || coalesce(CAST(work_date AS TEXT), '-') || '|' || CAST(hours * 10 AS INTEGER)
    FROM timesheets UNION ALL SELECT 'e:' || id || '|' || region || '|' ||
    coalesce(name, '-') FROM employees ORDER BY 1"
rows_file() { osql "$1" "$ROWS" | tr '\n' ' '; }
rows_store() { store_sql "$ROWS" | tr '\n' ' '; }

note "get_server_status answers JSON"
# The fields the offices' client knows, as they were; /health's "checks"
# came later (an object: none configured here).
assert_eq "status" '{"status": "healthy", "service": "ferryd", "database": "connected", "version": "'"$("$FERRYD" --version | awk '{print $NF}')"'", "checks": {}}' \
    "$(python3 "$E2E_DIR/oldclient.py" status "$URL" "$KANK")"

note "round 1: each office enters its own rows offline, then syncs"
osql ankara "INSERT INTO employees VALUES ('e-ank-1', 'Ankara', 'Ahmet');
    INSERT INTO timesheets VALUES ('ank-1', 'Ankara', 'e-ank-1', '2026-01-19', 8),
    ('ank-2', 'Ankara', 'e-ank-1', '2026-01-20', 7.5),
    ('ank-3', 'Ankara', 'e-ank-1', '2026-01-21', 6)"
osql istanbul "INSERT INTO employees VALUES ('e-ist-1', 'Istanbul', 'Fatma');
    INSERT INTO timesheets VALUES ('ist-1', 'Istanbul', 'e-ist-1', '2026-01-19', 9),
    ('ist-2', 'Istanbul', 'e-ist-1', '2026-01-20', 4)"
assert_eq "ankara sync 1" ok "$(sync ankara "$KANK" Ankara)"
assert_eq "ankara's first upload" "created=4 updated=0 deleted=0 unchanged=0 ignored=0 stale=0" "$(last_upload)"
assert_eq "istanbul sync 1" ok "$(sync istanbul "$KIST" Istanbul)"
assert_eq "ankara sync 1b" ok "$(sync ankara "$KANK" Ankara)"
# Istanbul's file now holds Ankara's rows too: they come back as ignored.
assert_eq "ankara's unchanged file" "created=0 updated=0 deleted=0 unchanged=4 ignored=0 stale=0" "$(last_upload)"
[ -f "$T/ankara.db.sync_backup" ] || fail "the client's backup step ran"
ALL1=$(rows_store)
assert_eq "ankara has every row" "$ALL1" "$(rows_file ankara)"
assert_eq "istanbul has every row" "$ALL1" "$(rows_file istanbul)"
assert_eq "7 rows" 7 "$(echo "$ALL1" | wc -w)"

note "an unchanged file uploaded again writes nothing"
REV0=$(store_sql "SELECT changes FROM ${STORE_PREFIX:-}$( [ "$STORE" = pg ] && echo ferry. || echo ferry_)devices WHERE device = 'pc-ankara'")
assert_eq "ankara sync again" ok "$(sync ankara "$KANK" Ankara)"
assert_eq "no-op upload" "created=0 updated=0 deleted=0 unchanged=4 ignored=3 stale=0" "$(last_upload)"
assert_eq "nothing applied" "$REV0" "$(store_sql "SELECT changes FROM $( [ "$STORE" = pg ] && echo ferry. || echo ferry_)devices WHERE device = 'pc-ankara'")"

note "round 2: edits and deletes in both offices; Istanbul's copy of Ankara's rows is stale"
osql ankara "UPDATE timesheets SET hours = 9 WHERE id = 'ank-1';
    DELETE FROM timesheets WHERE id = 'ank-2';
    INSERT INTO timesheets VALUES ('ank-4', 'Ankara', 'e-ank-1', '2026-01-22', 5)"
osql istanbul "UPDATE timesheets SET hours = 10 WHERE id = 'ist-1';
    DELETE FROM timesheets WHERE id = 'ist-2';
    UPDATE employees SET name = 'Fatma K.' WHERE id = 'e-ist-1'"
# Istanbul's app also changes an Ankara row in its own copy: not its to change.
osql istanbul "UPDATE timesheets SET hours = 1 WHERE id = 'ank-3'"
assert_eq "istanbul sync 2" ok "$(sync istanbul "$KIST" Istanbul)"
assert_eq "istanbul's upload" "created=0 updated=2 deleted=1 unchanged=0 ignored=4 stale=0" "$(last_upload)"
assert_eq "ankara sync 2" ok "$(sync ankara "$KANK" Ankara)"
assert_eq "ankara's upload" "created=1 updated=1 deleted=1 unchanged=2 ignored=3 stale=0" "$(last_upload)"
assert_eq "istanbul sync 2b" ok "$(sync istanbul "$KIST" Istanbul)"
assert_eq "ank-1 edited, ank-2 gone, ank-3 Ankara's" "t:ank-1|Ankara|e-ank-1|2026-01-19|90 t:ank-3|Ankara|e-ank-1|2026-01-21|60 t:ank-4|Ankara|e-ank-1|2026-01-22|50" \
    "$(store_sql "SELECT 't:' || id || '|' || region || '|' || employee || '|' || work_date || '|' || CAST(hours * 10 AS INTEGER) FROM timesheets WHERE region = 'Ankara' ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "ist-1 edited, ist-2 gone" "ist-1|100" \
    "$(store_sql "SELECT id || '|' || CAST(hours * 10 AS INTEGER) FROM timesheets WHERE region = 'Istanbul' ORDER BY id")"
assert_eq "istanbul's employee edited" "Fatma K." "$(store_sql "SELECT name FROM employees WHERE id = 'e-ist-1'")"

note "round 3: an admin edits an Ankara row; Ankara's stale copy does not undo it"
code=$(http_post /v1/push "$KADM" '{"changes": [{"seq": 1, "table": "timesheets", "op": "upsert", "hlc": "7000000000000000", "row": {"id": "ank-3", "region": "Ankara", "employee": "e-ank-1", "work_date": "2026-01-21", "hours": 6.5}}]}')
assert_eq "admin push" 200 "$code"
osql ankara "INSERT INTO timesheets VALUES ('ank-5', 'Ankara', 'e-ank-1', '2026-01-23', 3)"
assert_eq "ankara sync 3" ok "$(sync ankara "$KANK" Ankara)"
assert_eq "ankara's upload keeps the admin's edit" "created=1 updated=0 deleted=0 unchanged=3 ignored=2 stale=1" "$(last_upload)"
assert_eq "admin's hours stay" 65 "$(store_sql "SELECT CAST(hours * 10 AS INTEGER) FROM timesheets WHERE id = 'ank-3'")"
assert_eq "ankara now has the admin's edit" 65 "$(osql ankara "SELECT CAST(hours * 10 AS INTEGER) FROM timesheets WHERE id = 'ank-3'")"
assert_eq "istanbul sync 3" ok "$(sync istanbul "$KIST" Istanbul)"
assert_eq "ankara sync 3b" ok "$(sync ankara "$KANK" Ankara)"

note "the end: both files and the store hold the same rows"
ALL=$(rows_store)
assert_eq "ankara = store" "$ALL" "$(rows_file ankara)"
assert_eq "istanbul = store" "$ALL" "$(rows_file istanbul)"
assert_eq "rows in the end" "e:e-ank-1|Ankara|Ahmet e:e-ist-1|Istanbul|Fatma K. t:ank-1|Ankara|e-ank-1|2026-01-19|90 t:ank-3|Ankara|e-ank-1|2026-01-21|65 t:ank-4|Ankara|e-ank-1|2026-01-22|50 t:ank-5|Ankara|e-ank-1|2026-01-23|30 t:ist-1|Istanbul|e-ist-1|2026-01-19|100 " "$ALL"

note "a client configured with another office's region is refused"
assert_eq "wrong X-Region" "fail: Upload failed: 403" "$(sync istanbul "$KIST" Ankara)"
grep -q "X-Region names region 'Ankara' but this key's region is 'Istanbul'" "$T/ferryd.log" ||
    curl -s -H "X-API-KEY: $KIST" -H "X-Region: Ankara" -F "db=@$T/istanbul.db" "$URL/sync" |
    grep -q "this key's region is 'Istanbul'" || fail "403 names both regions"
assert_eq "no X-Region" 403 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-API-KEY: $KIST" -F "db=@$T/istanbul.db" "$URL/sync")"
grep -q 'X-Region header is required' "$T/resp.json" || fail "403 says why: $(cat "$T/resp.json")"
assert_eq "wrong key" "fail: Upload failed: 401" "$(sync istanbul fy_0000000000000000.00 Istanbul)"
assert_eq "store unchanged by refused uploads" "$ALL" "$(rows_store)"
health_ok

note "a bad region_header stops ferryd at start (exit 3), naming the alias"
bad_settings() { # ALIAS-JSON EXPECTED-MESSAGE
    printf '{"aliases": [%s]}' "$1" >"$T/bad.json"
    _rc=0
    "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" --config "$T/bad.json" \
        serve --listen 127.0.0.1:0 >/dev/null 2>"$T/bad.err" || _rc=$?
    assert_eq "exit for $1" 3 "$_rc"
    grep -q "$2" "$T/bad.err" || fail "message for $1: $(cat "$T/bad.err")"
}
bad_settings '{"method": "POST", "path": "/s", "route": "POST /v1/snapshots", "region_header": "X Region"}' \
    "region_header 'X Region' is not an HTTP header name"
bad_settings '{"method": "GET", "path": "/s", "route": "GET /health", "region_header": "X-Region"}' \
    "region_header needs a route with a key"
bad_settings '{"method": "GET", "path": "/s", "route": "GET /health", "region_header": 5}' \
    "region_header strings if given"
