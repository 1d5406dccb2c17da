# Contract evolution's bad input, each refused with a clear message and
# nothing changed: defaults the column's type refuses or on key columns,
# --allow-drop and --allow-retype on key columns, malformed Ferry-Contract
# headers, bad contract_versions settings and agent configs. And what
# works: GET /v1/contract as docs/api.md shows it (ETag, 304, answered to
# any version), a row API POST that leaves a column with a default out
# (a new row gets it, a stored row keeps its value), a PostgreSQL retype
# whose values do not convert failing the whole migrate.
API=docs/api.md
contract() { # VERSION COLUMNS-JSON [KEY-JSON]
    _pk=${3:-'["id"]'}
    write_contract "$T/contract.json" <<JSON
{"version": $1, "tables": [{"name": "notes",
  "columns": [{"name": "id", "type": "text", "not_null": true}$2],
  "primary_key": $_pk}]}
JSON
}
migrate_rc() { # ARGS...
    _rc=0
    "$FERRYD" migrate --store "$STORE_URL" --contract "$T/contract.json" "$@" \
        >"$T/migrate.out" 2>&1 || _rc=$?
    echo $_rc
}
said() { grep -qF -- "$1" "$T/migrate.out" || fail "expected '$1' in: $(cat "$T/migrate.out")"; }
case $STORE in
sqlite) ver='SELECT max(version) FROM ferry_schema_versions' ;;
pg) ver='SELECT max(version) FROM ferry.schema_versions' ;;
esac

# Defaults the type refuses, a null one in a not_null column, on a key.
contract 1 ', {"name": "n", "type": "integer", "default": "3"}'
assert_eq "default of the wrong type" 3 "$(migrate_rc)"
said "table 'notes' column 'n': default:"
contract 1 ', {"name": "d", "type": "date", "default": "2026-02-30"}'
assert_eq "default not a calendar day" 3 "$(migrate_rc)"
contract 1 ', {"name": "n", "type": "integer", "not_null": true, "default": null}'
assert_eq "null default in a not_null column" 3 "$(migrate_rc)"
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "notes", "columns": [
  {"name": "id", "type": "text", "not_null": true, "default": "x"}],
  "primary_key": ["id"]}]}
JSON
assert_eq "default on a key column" 3 "$(migrate_rc)"
said "a primary key column cannot have a default"
case $STORE in
sqlite) [ ! -e "${STORE_URL#sqlite:}" ] || fail "a refused contract created the store" ;;
esac

# A store at version 1 with a row; the body stays text.
contract 1 ', {"name": "body", "type": "text"}, {"name": "k2", "type": "bigint", "not_null": true}' '["id", "k2"]'
assert_eq "v1" 0 "$(migrate_rc)"
store_sql "INSERT INTO notes (id, k2, body, _ferry_hlc, _ferry_origin) VALUES ('a', 1, 'abc', 1, 'x')" >/dev/null

# --allow-retype and --allow-drop never touch key columns.
contract 2 ', {"name": "body", "type": "text"}, {"name": "k2", "type": "text", "not_null": true}' '["id", "k2"]'
assert_eq "retype a key column" 3 "$(migrate_rc --allow-retype)"
said "column 'k2' changed type from bigint to text (a key column: give the table a new name)"
contract 2 ', {"name": "body", "type": "text"}'
assert_eq "drop a key column" 3 "$(migrate_rc --allow-drop --allow-retype)"
said "primary key changed from (id, k2) to (id)"
assert_eq "still version 1" 1 "$(store_sql "$ver")"

# A retype whose values do not convert: the whole migrate fails.
contract 2 ', {"name": "body", "type": "integer"}, {"name": "k2", "type": "bigint", "not_null": true}, {"name": "extra", "type": "text", "default": "e"}' '["id", "k2"]'
assert_eq "retype without the flag" 3 "$(migrate_rc)"
said "column 'body' changed type from text to integer (--allow-retype converts its values)"
assert_eq "values that do not convert" 3 "$(migrate_rc --allow-retype)"
case $STORE in
pg) said "table 'notes': column 'body': cannot convert its values from text to integer" ;;
sqlite) said "table 'notes': column 'body': 1 stored values do not convert to integer (the first, 'abc':" ;;
esac
said "nothing was migrated"
assert_eq "still version 1 after the failed retype" 1 "$(store_sql "$ver")"
case $STORE in
sqlite) has_extra="SELECT count(*) FROM pragma_table_info('notes') WHERE name = 'extra'" ;;
pg) has_extra="SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'extra'" ;;
esac
assert_eq "the added column rolled back too" 0 "$(store_sql "$has_extra")"
contract 2 ', {"name": "body", "type": "text"}, {"name": "k2", "type": "bigint", "not_null": true}, {"name": "extra", "type": "text", "default": "e"}' '["id", "k2"]'
assert_eq "v2" 0 "$(migrate_rc)"

# ferryd's range settings.
echo '{"contract_versions": {"min": 3, "max": 2}}' >"$T/bad.json"
assert_exit "min above max in the file" 3 "$FERRYD" --config "$T/bad.json" \
    --store "$STORE_URL" --contract "$T/contract.json" serve --listen 127.0.0.1:0
echo '{"contract_versions": {"min": "1"}}' >"$T/bad.json"
assert_exit "min a string" 3 "$FERRYD" --config "$T/bad.json" \
    --store "$STORE_URL" --contract "$T/contract.json" serve --listen 127.0.0.1:0
assert_exit "min above the served version" 3 "$FERRYD" --store "$STORE_URL" \
    --contract "$T/contract.json" serve --listen 127.0.0.1:0 --contract-versions 5
assert_exit "flag MIN above MAX" 2 "$FERRYD" --store "$STORE_URL" \
    --contract "$T/contract.json" serve --listen 127.0.0.1:0 --contract-versions 2:1
FERRYD_CONTRACT_VERSIONS=abc assert_exit "environment" 3 "$FERRYD" \
    --store "$STORE_URL" --contract "$T/contract.json" serve --listen 127.0.0.1:0

start_ferryd
KEY=$(make_key dev1)
get() { # PATH [HEADER...] -> status; body in $T/resp.json, headers in $T/hdr
    _p=$1
    shift
    curl -s -D "$T/hdr" -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KEY" \
        "$@" "$URL$_p"
}
push_with() { # HEADER -> status
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KEY" \
        -H "Content-Type: application/json" -H "$1" \
        --data-binary '{"changes": []}' "$URL/v1/push"
}
for bad in abc 0 -1 1x 01 "1 2" 9999999999; do
    assert_eq "Ferry-Contract '$bad'" 400 "$(push_with "Ferry-Contract: $bad")"
    assert_eq "code for '$bad'" bad_parameter "$(jq -r .error.code "$T/resp.json")"
done
assert_eq "version 3, served 1 to 2" 409 "$(push_with "Ferry-Contract: 3")"
assert_eq "409 code" contract_version "$(jq -r .error.code "$T/resp.json")"
jq -r .error.message "$T/resp.json" | grep -qF "this ferryd accepts contract versions 1 to 2 (it serves version 2); this client sent version 3" ||
    fail "409 message: $(cat "$T/resp.json")"
assert_eq "version 1" 200 "$(push_with "Ferry-Contract: 1")"
assert_eq "no header" 200 "$(http_post /v1/push "$KEY" '{"changes": []}')"

# GET /v1/contract: as docs/api.md shows it, with the checksum as ETag.
assert_eq "contract without a key" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/contract")"
assert_eq "contract" 200 "$(get /v1/contract -H 'Ferry-Contract: 7')"
sum=$(jq -r .checksum "$T/resp.json")
assert_eq "checksum recorded" "$sum" "$(store_sql "SELECT checksum FROM $( [ "$STORE" = pg ] && echo ferry.schema_versions || echo ferry_schema_versions) WHERE version = 2")"
tr -d '\r' <"$T/hdr" | grep -qix "etag: \"$sum\"" || fail "ETag: $(cat "$T/hdr")"
assert_eq "If-None-Match" 304 "$(get /v1/contract -H "If-None-Match: \"$sum\"")"
write_contract "$T/one.json" <<'JSON'
{"version": 1, "tables": [{"name": "notes", "columns": [
  {"name": "id", "type": "text", "not_null": true},
  {"name": "body", "type": "text"}], "primary_key": ["id"]}]}
JSON
stop_ferryd
"$FERRYD" --store "sqlite:$T/doc.db" --contract "$T/one.json" migrate >/dev/null || fail "doc store"
STORE_URL_KEEP=$STORE_URL
STORE_URL="sqlite:$T/doc.db"
cp "$T/contract.json" "$T/contract.v2.json"
cp "$T/one.json" "$T/contract.json"
start_ferryd
KEY=$(make_key dev1)
assert_eq "doc contract" 200 "$(get /v1/contract)"
docs_json $API contract-get "$T/resp.json" 'dict(v, checksum="CHECKSUM")'
stop_ferryd
STORE_URL=$STORE_URL_KEEP
cp "$T/contract.v2.json" "$T/contract.json"
start_ferryd
KEY=$(make_key dev2)

# Row API: a new row left without 'extra' gets its default; a stored row
# keeps its value when a write leaves it out.
rows() { # BODY -> status
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KEY" \
        -H "Content-Type: application/json" --data-binary "$1" "$URL/v1/tables/notes/rows"
}
assert_eq "row API insert" 200 "$(rows '{"id": "r1", "k2": 1, "body": "x"}')"
assert_eq "default filled" "e" "$(store_sql "SELECT extra FROM notes WHERE id = 'r1'")"
store_sql "UPDATE notes SET extra = 'mine' WHERE id = 'r1'" >/dev/null
assert_eq "row API update" 200 "$(rows '{"id": "r1", "k2": 1, "body": "y"}')"
assert_eq "stored value kept" "y|mine" "$(store_sql "SELECT body, extra FROM notes WHERE id = 'r1'")"
assert_eq "existing row got the default at migrate" "e" "$(store_sql "SELECT extra FROM notes WHERE id = 'a'")"

# An agent config with a contract_version that is not a positive integer.
sqlite3 "$T/app.db" "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)"
"$FERRY" --config "$T/cfg.json" init --db "$T/app.db" --url "$URL" \
    --device dev2 --force >/dev/null || fail "init"
for bad in 0 '"2"' 1.5; do
    jq ".ferry.contract_version = $bad" "$T/cfg.json" >"$T/cfg.bad.json"
    rc=0
    FERRY_API_KEY=$KEY "$FERRY" --config "$T/cfg.bad.json" push >/dev/null 2>"$T/cfg.err" || rc=$?
    assert_eq "agent contract_version $bad" 3 $rc
    grep -q '"contract_version" must be an integer from 1 to' "$T/cfg.err" || fail "$(cat "$T/cfg.err")"
done
