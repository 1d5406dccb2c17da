# Idempotency-Key under concurrency: 8 copies of one POST sent at once
# while the first one's transaction is held open (FERRY_TEST_HOLD_COMMIT)
# all answer exactly what the first answered ("created", byte for byte),
# and the row is written once. The same 8 without the header: one created,
# seven updated. A PATCH and a DELETE retried with their key answer the
# first answer too (a DELETE retried is not 404).
own_pg fsync=off
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "reports", "primary_key": ["video_id"],
  "columns": [{"name": "video_id", "type": "text", "not_null": true},
              {"name": "title", "type": "text"}, {"name": "n", "type": "integer"}]}]}
JSON
ferryd_migrate
KEY=$(make_key nas)
export FERRY_TEST_HOLD_COMMIT=nas:300
start_ferryd

cat >"$T/dup.py" <<'PY'
import json, sys, threading
import requests

url, key, idem, method, path, body = sys.argv[1:7]
answers = []

def send():
    h = {"X-Api-Key": key, "Content-Type": "application/json"}
    if idem != "-":
        h["Idempotency-Key"] = idem
    r = requests.request(method, url + path, data=body if body != "-" else None,
                         headers=h, timeout=60)
    answers.append(f"{r.status_code} {r.text.strip()}")

threads = [threading.Thread(target=send) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("\n".join(sorted(answers)))
PY
dup() { python3 "$T/dup.py" "$URL" "$KEY" "$@"; }

dup report-1-v1 POST /v1/tables/reports/rows '{"video_id": "r1", "title": "one"}' >"$T/a.out" ||
    fail "clients: $(cat "$T/a.out")"
assert_eq "8 answers, all the first one's" \
    '8 200 {"result":"created","key":{"video_id":"r1"}}' "$(uniq -c "$T/a.out" | sed 's/^ *//')"
assert_eq "written once" 1 "$(device_changes nas)"

dup - POST /v1/tables/reports/rows '{"video_id": "r2", "title": "two"}' >"$T/b.out" ||
    fail "clients: $(cat "$T/b.out")"
assert_eq "without the header" "1 created 7 updated" \
    "$(printf '%s created %s updated' "$(grep -c created "$T/b.out")" "$(grep -c updated "$T/b.out")")"

dup patch-r1 PATCH /v1/tables/reports/rows/r1 '{"n": 5}' >"$T/c.out" || fail "clients: $(cat "$T/c.out")"
assert_eq "PATCH retried" '8 200 {"result":"updated","key":{"video_id":"r1"}}' "$(uniq -c "$T/c.out" | sed 's/^ *//')"
dup delete-r1 DELETE /v1/tables/reports/rows/r1 - >"$T/d.out" || fail "clients: $(cat "$T/d.out")"
assert_eq "DELETE retried" '8 200 {"result":"deleted","key":{"video_id":"r1"}}' "$(uniq -c "$T/d.out" | sed 's/^ *//')"
dup - DELETE /v1/tables/reports/rows/r2 - >"$T/e.out" || fail "clients: $(cat "$T/e.out")"
assert_eq "DELETE without the header" "1 deleted 7 row_not_found" \
    "$(printf '%s deleted %s row_not_found' "$(grep -c '"deleted"' "$T/e.out")" "$(grep -c row_not_found "$T/e.out")")"
assert_eq "rows left" 0 "$(store_sql 'SELECT count(*) FROM reports')"
