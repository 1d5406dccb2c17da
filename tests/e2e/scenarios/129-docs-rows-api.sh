# docs/api.md, "Rows": every curl example runs as written against ferryd
# with the documented contract, and answers what the docs show; the claims
# next to them hold (a POST again is "updated", a DELETE is a delete in
# GET /v1/changes).
API=docs/api.md
docs_block $API rows-contract >"$T/contract.json"
ferryd_migrate
FERRY_KEY=$(make_key nas-1 --region eu)
start_ferryd
FERRY_URL=$URL
export FERRY_URL FERRY_KEY

run_example() { # NAME -> its output in $T/NAME.out
    docs_block $API "$1-cmd" >"$T/$1.sh"
    [ -s "$T/$1.sh" ] || fail "no example '$1-cmd' in $API"
    sh "$T/$1.sh" >"$T/$1.out" 2>&1 || fail "$1: $(cat "$T/$1.out")"
}

run_example rows-post
docs_json $API rows-post "$T/rows-post.out"
sh "$T/rows-post.sh" >"$T/again.out"
grep -q '"result":"updated"' "$T/again.out" || fail "POST again: $(cat "$T/again.out")"
assert_eq "one row" 1 "$(store_sql "SELECT count(*) FROM reports WHERE video_id = 'vid-001'")"

run_example rows-post-array
docs_json $API rows-post-array "$T/rows-post-array.out"
assert_eq "no hours is NULL" "eu|2|N" \
    "$(store_sql "SELECT region, id, coalesce(CAST(hours AS text), 'N') FROM shifts WHERE id = 2")"

run_example rows-post-idem
docs_check $API rows-post-idem "$T/rows-post-idem.out"

run_example rows-get
docs_block $API rows-get >"$T/doc-get.json"
docs_json $API rows-get "$T/rows-get.out" \
    "{**v, 'hlc': json.load(open('$T/doc-get.json'))['hlc']}"
grep -q '"hlc":"[0-9a-f]\{16\}"' "$T/rows-get.out" || fail "hlc: $(cat "$T/rows-get.out")"

run_example rows-patch
docs_json $API rows-patch "$T/rows-patch.out"
assert_eq "patched, title kept" "First report|214" \
    "$(store_sql "SELECT title, duration FROM reports WHERE video_id = 'vid-001'")"

run_example rows-delete
docs_json $API rows-delete "$T/rows-delete.out"
assert_eq "deleted" 0 "$(store_sql "SELECT count(*) FROM reports WHERE video_id = 'vid-002'")"
curl -s "$URL/v1/changes" -H "X-Api-Key: $FERRY_KEY" >"$T/changes.json"
python3 - "$T/changes.json" <<'PY' || fail "the delete is not in GET /v1/changes: $(cat "$T/changes.json")"
import json, sys
ch = json.load(open(sys.argv[1]))["changes"]
assert any(c["op"] == "delete" and c["row"] == {"video_id": "vid-002"} for c in ch)
PY

run_example rows-error
docs_json $API rows-error "$T/rows-error.out"
run_example rows-error-array
docs_json $API rows-error-array "$T/rows-error-array.out"
assert_eq "nothing of the refused array" 0 "$(store_sql 'SELECT count(*) FROM shifts WHERE id = 3')"
