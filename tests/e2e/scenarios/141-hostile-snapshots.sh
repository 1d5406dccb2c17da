# Hostile and broken files sent to POST /v1/snapshots: not SQLite,
# truncated, corrupt pages, a trigger or a view that would write, a table
# whose name holds SQL, a huge declared size, a sparse file, wrong column
# types, rows of another region, a truncated form. Each gets its documented
# status and code (or 200 with the rows counted as ignored), ferryd keeps
# serving, and the store changes only by what a good file says.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "timesheets", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "hours", "type": "double precision"},
   {"name": "day", "type": "date"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"},
 {"name": "employees", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "name", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"}]}
JSON
ferryd_migrate
KEY=$(make_key pc-ankara --region Ankara)
KR=$(make_key gone --region Ankara)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null || fail revoke
FERRYD_ARGS="--max-body 1048576"
start_ferryd

good_db() { # FILE: a sound file with one Ankara and one Istanbul row
    rm -f "$1"
    sqlite3 -bail "$1" "CREATE TABLE timesheets (id TEXT PRIMARY KEY,
        region TEXT NOT NULL, hours REAL, day DATE);
        CREATE TABLE employees (id TEXT PRIMARY KEY, region TEXT NOT NULL,
        name TEXT);
        INSERT INTO timesheets VALUES ('a1', 'Ankara', 8, '2026-01-19'),
            ('i1', 'Istanbul', 9, '2026-01-19');" || fail "good db"
}
# upload FILE [CONTENT-TYPE] -> status; the answer in $T/resp.json
upload() {
    curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KEY" \
        -H "Content-Type: ${2:-application/octet-stream}" \
        --data-binary "@$1" "$URL/v1/snapshots"
}
code_is() { # WHAT CODE: the answer's error code
    _c=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$T/resp.json")
    assert_eq "$1 code" "$2" "$_c"
}
says() { # WHAT TEXT
    grep -q "$2" "$T/resp.json" || fail "$1: answer does not say '$2': $(cat "$T/resp.json")"
}
STATE="SELECT id || '|' || region || '|' || coalesce(CAST(hours AS TEXT), '-') FROM timesheets
    UNION ALL SELECT id || '|' || region FROM employees ORDER BY 1"
state() { store_sql "$STATE" | tr '\n' ' '; }
refused() { # WHAT FILE STATUS CODE TEXT [CONTENT-TYPE]
    _before=$(state)
    assert_eq "$1" "$3" "$(upload "$2" "${6:-}")"
    code_is "$1" "$4"
    says "$1" "$5"
    assert_eq "$1: store unchanged" "$_before" "$(state)"
    health_ok
}

note "a good file, with a row of another region: 200, that row ignored"
good_db "$T/good.db"
assert_eq "good file" 200 "$(upload "$T/good.db")"
assert_eq "counts" '{"created": 1, "updated": 0, "deleted": 0, "unchanged": 0, "ignored": 1, "stale": 0}' \
    "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$T/resp.json")"
assert_eq "only Ankara's row stored" "a1|Ankara|8.0 " "$(state | sed 's/|8 /|8.0 /')"
BASE=$(state)

note "not SQLite"
printf 'id,region\na2,Ankara\n' >"$T/csv.db"
refused "text file" "$T/csv.db" 400 malformed "not a SQLite database"
head -c 100000 /dev/urandom >"$T/noise.db"
refused "random bytes" "$T/noise.db" 400 malformed "not a SQLite database"

note "truncated"
good_db "$T/t.db"
head -c 5000 "$T/t.db" >"$T/trunc.db"
refused "cut mid-page" "$T/trunc.db" 400 malformed "whole number"
PAGE=$(sqlite3 "$T/t.db" "PRAGMA page_size")
head -c "$PAGE" "$T/t.db" >"$T/short.db"
refused "fewer pages than declared" "$T/short.db" 400 malformed "declares"

note "corrupt pages"
sqlite3 "$T/big.db" "CREATE TABLE timesheets (id TEXT PRIMARY KEY, region TEXT NOT NULL, hours REAL, day DATE);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
    INSERT INTO timesheets SELECT 'b' || i, 'Ankara', i, NULL FROM c;"
python3 - "$T/big.db" "$PAGE" <<'PY'
import sys
p, page = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[page * 2:page * 3] = b"\xa5" * page  # page 3: a b-tree page of the table
open(p, "wb").write(b)
PY
refused "corrupt b-tree page" "$T/big.db" 400 malformed "not a sound SQLite database"

note "a huge declared size, and sparse files"
good_db "$T/huge.db"
python3 - "$T/huge.db" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[28:32] = (0x7fffffff).to_bytes(4, "big")  # declared pages
open(p, "wb").write(b)
PY
refused "2^31 pages declared" "$T/huge.db" 400 malformed "declares 2147483647 pages"
good_db "$T/sparse.db"
truncate -s +900K "$T/sparse.db"
refused "zeros past the declared pages" "$T/sparse.db" 400 malformed "declares"
python3 - "$T/sparse.db" "$PAGE" <<'PY'
import os, sys
p, page = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read(100))
b[28:32] = (os.path.getsize(p) // page).to_bytes(4, "big")  # matches the size
with open(p, "r+b") as f:
    f.write(b)
PY
refused "pages of zeros, size declared" "$T/sparse.db" 400 malformed "not a sound SQLite database"
truncate -s 64M "$T/sparse.db"
refused "64 MiB sparse file" "$T/sparse.db" 413 body_too_large "limit"

note "a trigger that would write, a view, SQL in a table name"
good_db "$T/trig.db"
sqlite3 "$T/trig.db" "CREATE TABLE log (x TEXT);
    CREATE TRIGGER t1 AFTER INSERT ON timesheets BEGIN INSERT INTO log VALUES ('fired'); END;
    CREATE TRIGGER t2 AFTER UPDATE ON timesheets BEGIN DELETE FROM employees; END;
    CREATE VIEW w AS SELECT load_extension('/nonexistent') AS x;
    CREATE TABLE \"timesheets; DROP TABLE timesheets; --\" (id TEXT);
    INSERT INTO \"timesheets; DROP TABLE timesheets; --\" VALUES ('x');
    UPDATE timesheets SET hours = 8.5 WHERE id = 'a1';"
SUM=$(md5sum <"$T/trig.db")
assert_eq "triggers and views are never run" 200 "$(upload "$T/trig.db")"
says "trigger file" '"updated":1'
assert_eq "the file itself untouched" "$SUM" "$(md5sum <"$T/trig.db")"
assert_eq "the row, nothing else" "a1|Ankara|8.5 " "$(state)"
BASE=$(state)
good_db "$T/view.db"
sqlite3 "$T/view.db" "DROP TABLE employees; CREATE TABLE emp0 (id TEXT, region TEXT, name TEXT);
    CREATE VIEW employees AS SELECT * FROM emp0;"
refused "a contract table that is a view" "$T/view.db" 422 contract_violation "is a view, not a table"

note "columns and values that break the contract"
good_db "$T/type.db"
sqlite3 "$T/type.db" "INSERT INTO timesheets VALUES ('a2', 'Ankara', 'eight', NULL)"
refused "text in a double column" "$T/type.db" 422 contract_violation "column 'hours' expects a number"
good_db "$T/date.db"
sqlite3 "$T/date.db" "INSERT INTO timesheets VALUES ('a2', 'Ankara', 1, '2026-02-31')"
refused "not a calendar day" "$T/date.db" 422 contract_violation "expects a date"
good_db "$T/null.db"
sqlite3 "$T/null.db" "CREATE TABLE t2 AS SELECT * FROM timesheets; DROP TABLE timesheets;
    CREATE TABLE timesheets (id TEXT, region TEXT, hours REAL, day DATE);
    INSERT INTO timesheets VALUES (NULL, 'Ankara', 1, NULL);"
refused "a row without its key" "$T/null.db" 422 contract_violation "column 'id' expects a value"
good_db "$T/twice.db"
sqlite3 "$T/twice.db" "CREATE TABLE t2 AS SELECT * FROM timesheets; DROP TABLE timesheets;
    CREATE TABLE timesheets (id TEXT, region TEXT, hours REAL, day DATE);
    INSERT INTO timesheets VALUES ('a1', 'Ankara', 1, NULL), ('a1', 'Ankara', 2, NULL);"
refused "a key twice" "$T/twice.db" 422 contract_violation "same key"
good_db "$T/cols.db"
sqlite3 "$T/cols.db" "DROP TABLE timesheets; CREATE TABLE timesheets (id TEXT PRIMARY KEY, region TEXT);"
refused "a contract column missing" "$T/cols.db" 422 contract_violation "does not have the contract's columns"
good_db "$T/utf.db"
python3 - "$T/utf.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO employees VALUES ('e1', 'Ankara', CAST(? AS TEXT))", (b"\xff\xfe bad",))
db.commit()
PY
refused "text that is not UTF-8" "$T/utf.db" 422 contract_violation "UTF-8"

note "the marker table, forms and media types"
good_db "$T/mark.db"
sqlite3 "$T/mark.db" "CREATE TABLE _ferry_snapshot (cursor TEXT); INSERT INTO _ferry_snapshot VALUES ('x1.2.3')"
refused "a cursor ferryd did not hand out" "$T/mark.db" 400 malformed "_ferry_snapshot"
good_db "$T/form.db"
python3 - "$T/form.db" "$T/form.body" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
body = b"--B0\r\nContent-Disposition: form-data; name=\"db\"; filename=\"f.db\"\r\n\r\n" + data
open(sys.argv[2], "wb").write(body)  # no closing boundary: cut short
PY
refused "a form cut short" "$T/form.body" 400 malformed "closing boundary" "multipart/form-data; boundary=B0"
refused "a form without a boundary" "$T/form.body" 400 malformed "no boundary" "multipart/form-data"
assert_eq "text/plain" 415 "$(upload "$T/good.db" text/plain)"
code_is "text/plain" unsupported_media_type
assert_eq "gzip is refused" 415 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KEY" \
    -H "Content-Type: application/octet-stream" -H "Content-Encoding: gzip" --data-binary "@$T/good.db" "$URL/v1/snapshots")"

note "keys"
assert_eq "no key" 401 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST \
    -H "Content-Type: application/octet-stream" --data-binary "@$T/good.db" "$URL/v1/snapshots")"
assert_eq "revoked key" 401 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "X-Api-Key: $KR" \
    -H "Content-Type: application/octet-stream" --data-binary "@$T/good.db" "$URL/v1/snapshots")"
says "revoked" "revoked"
assert_eq "download without a key" 401 "$(curl -s -o "$T/resp.json" -w '%{http_code}' "$URL/v1/snapshots/latest")"
assert_eq "store as after the good files" "$BASE" "$(state)"

note "a form as curl sends it works"
good_db "$T/last.db"
assert_eq "curl -F" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KEY" -F "db=@$T/last.db" "$URL/v1/snapshots")"
says "curl -F" '"unchanged":0'
health_ok
