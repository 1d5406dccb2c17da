# docs/api.md's two response examples no other scenario produced (issue 5,
# item 25: every example output in docs/ comes from the binaries):
# `changes-response`, the answer of GET /v1/changes to a key that reads
# two offices' timesheets, since its cursor (an upsert from Istanbul, a
# delete from Bursa), and `snapshot-response`, the counts of a regional
# office's upload of the file it downloaded, with one row added, one
# changed, one deleted, two left as they were and three of other regions.
# The HLCs and the cursor are compared by their form (they differ on every
# run), the rest exactly.
API=docs/api.md
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "timesheets",
  "columns": [{"name": "id", "type": "text", "not_null": true},
              {"name": "region", "type": "text", "not_null": true},
              {"name": "hours", "type": "double precision"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"}]}
JSON
ferryd_migrate
KIST=$(make_key pc-istanbul-1 --region Istanbul)
KBRS=$(make_key pc-bursa-1 --region Bursa)
KANK=$(make_key pc-ankara-1 --region Ankara)
start_ferryd
SEQ=0
push() { # KEY OP ROW-JSON: one change, answered 200
    SEQ=$((SEQ + 1))
    _b=$(printf '{"changes":[{"seq":%d,"table":"timesheets","op":"%s","hlc":"%016x","row":%s}]}' \
        "$SEQ" "$2" $(((SEQ + 100) * 65536)) "$3")
    assert_eq "push $2 $3" 200 "$(http_post /v1/push "$1" "$_b")"
}

# A reader that has seen brs-2 (the full pass from no cursor sends rows,
# not deletes), then the two writes of the example.
push "$KBRS" upsert '{"id":"brs-2","region":"Bursa","hours":4}'
code=$(curl -s -o "$T/first.json" -w '%{http_code}' -H "X-Api-Key: $KANK" \
    "$URL/v1/changes")
assert_eq "GET /v1/changes, the full pass" 200 "$code"
CURSOR=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["cursor"])' "$T/first.json")
push "$KIST" upsert '{"id":"ist-7","region":"Istanbul","hours":8.5}'
push "$KBRS" delete '{"id":"brs-2"}'
code=$(curl -s -o "$T/changes.json" -w '%{http_code}' -H "X-Api-Key: $KANK" \
    "$URL/v1/changes?since=$CURSOR")
assert_eq "GET /v1/changes since the cursor" 200 "$code"
# The varying fields must have their documented form; then they are set to
# the example's values and the whole answer must equal the example.
python3 - "$T/changes.json" <<'PY' >"$T/changes.norm.json" || fail "changes: $(cat "$T/changes.json")"
import json, re, sys
v = json.load(open(sys.argv[1]))
doc_hlc = ["01a2040e2e4e0000", "01a2040e2e4e0003"]
for c, h in zip(v["changes"], doc_hlc):
    assert re.fullmatch(r"[0-9a-f]{16}", c["hlc"]), c["hlc"]
    c["hlc"] = h
assert isinstance(v["cursor"], str) and 0 < len(v["cursor"]) <= 64, v["cursor"]
v["cursor"] = "c1.812.40531"
print(json.dumps(v))
PY
docs_json $API changes-response "$T/changes.norm.json"

# Ankara's office: four rows of its own next to the others' three.
for i in 1 2 3 4; do
    push "$KANK" upsert "{\"id\":\"ank-$i\",\"region\":\"Ankara\",\"hours\":$i}"
done
push "$KIST" upsert '{"id":"ist-8","region":"Istanbul","hours":7}'
push "$KBRS" upsert '{"id":"brs-3","region":"Bursa","hours":6}'
code=$(curl -s -o "$T/office.db" -w '%{http_code}' -H "X-Api-Key: $KANK" \
    "$URL/v1/snapshots/latest")
assert_eq "download" 200 "$code"
assert_eq "the file's rows" 7 "$(sqlite3 "$T/office.db" 'SELECT count(*) FROM timesheets')"
sqlite3 -bail "$T/office.db" "INSERT INTO timesheets VALUES ('ank-5', 'Ankara', 5);
  UPDATE timesheets SET hours = 9.5 WHERE id = 'ank-1';
  DELETE FROM timesheets WHERE id = 'ank-2'" || fail "edit the file"
code=$(curl -s -o "$T/upload.json" -w '%{http_code}' -H "X-Api-Key: $KANK" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$T/office.db" \
    "$URL/v1/snapshots")
assert_eq "upload ($(cat "$T/upload.json"))" 200 "$code"
docs_json $API snapshot-response "$T/upload.json"
assert_eq "the store after the upload" "ank-1|95 ank-3|30 ank-4|40 ank-5|50" \
    "$(store_sql "SELECT id || '|' || CAST(hours * 10 AS INTEGER) FROM timesheets WHERE region = 'Ankara' ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
