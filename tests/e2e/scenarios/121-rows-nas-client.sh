# A client written with Python's requests, as the NAS report pipeline's
# script is (seed 002: one report at a time, a token, "created" or
# "updated" in the answer, retries with exponential backoff): a report is
# created then updated, the same report posted twice is one row, a POST
# with an Idempotency-Key retried answers what the first one answered
# without writing again, and a report sent while the store is down (PostgreSQL
# stopped; the SQLite store held by another writer) gets 503 and goes in
# once the store is back.
own_pg fsync=off
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "reports", "columns": [
  {"name": "video_id", "type": "text", "not_null": true},
  {"name": "title", "type": "text"}, {"name": "channel", "type": "text"},
  {"name": "summary", "type": "text"}, {"name": "duration", "type": "integer"},
  {"name": "published_at", "type": "timestamptz"}],
  "primary_key": ["video_id"]}]}
JSON
ferryd_migrate
TOKEN=$(make_key nas)
# A writer that cannot get the SQLite store's lock gives up after 300 ms.
export FERRY_SQLITE_BUSY_MS=300
start_ferryd

cat >"$T/nas_sync.py" <<'PY'
# The NAS side, written as its postgres_sync_client would be: one report
# per request, Bearer token, exponential backoff on 5xx and lost
# connections, an Idempotency-Key per report version so a retry after a
# lost answer cannot write twice.
import hashlib, json, sys, time
import requests

class IngestClient:
    def __init__(self, base_url, token, max_retries=12, backoff=0.1):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"})
        self.max_retries = max_retries
        self.backoff = backoff
        self.statuses = []

    def _post(self, path, payload, idempotency_key=None):
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        delay = self.backoff
        for attempt in range(self.max_retries):
            try:
                r = self.session.post(self.base_url + path,
                                      data=json.dumps(payload),
                                      headers=headers, timeout=10)
                self.statuses.append(r.status_code)
                if r.status_code < 500:
                    return r
            except requests.ConnectionError:
                self.statuses.append("conn")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise RuntimeError(f"gave up after {self.max_retries} tries: {self.statuses}")

    def upload_report(self, report, idempotency_key=None):
        r = self._post("/v1/tables/reports/rows", report, idempotency_key)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code} {r.text}")
        return r.json()

def report(video_id, title, n=0):
    return {"video_id": video_id, "title": title, "channel": "nas",
            "summary": "s" * n, "duration": 60 + n,
            "published_at": "2026-11-30T08:00:00Z"}

url, token, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
c = IngestClient(url, token)
if cmd == "create-update":
    print(c.upload_report(report("vid1", "first"))["result"])
    print(c.upload_report(report("vid1", "second", 5))["result"])
    print(c.upload_report(report("vid1", "second", 5))["result"])
elif cmd == "idempotent":
    body = report("vid2", "once")
    key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    first = c._post("/v1/tables/reports/rows", body, key)
    again = c._post("/v1/tables/reports/rows", body, key)
    print(first.status_code, first.text.strip())
    print(again.status_code, again.text.strip())
    print("same" if (first.status_code, first.content) ==
          (again.status_code, again.content) else "differs")
elif cmd == "through-outage":
    out = c.upload_report(report("vid3", "during the outage"), "vid3-v1")
    print(out["result"], " ".join(str(s) for s in c.statuses))
PY
nas() { python3 "$T/nas_sync.py" "$URL" "$TOKEN" "$@"; }

note "a report created, then updated; the same report twice is one row"
nas create-update >"$T/cu.out" 2>&1 || fail "client: $(cat "$T/cu.out")"
assert_eq "answers" "created updated updated" "$(tr '\n' ' ' <"$T/cu.out" | sed 's/ $//')"
assert_eq "rows of vid1" 1 "$(store_sql "SELECT count(*) FROM reports WHERE video_id = 'vid1'")"
assert_eq "stored title" "second|60|65" \
    "$(store_sql "SELECT title, 60, duration FROM reports WHERE video_id = 'vid1'")"

note "Idempotency-Key: the retry answers the same and writes nothing"
nas idempotent >"$T/idem.out" 2>&1 || fail "client: $(cat "$T/idem.out")"
assert_eq "replay" same "$(tail -n 1 "$T/idem.out")"
head -n 1 "$T/idem.out" | grep -q '^200 {"result":"created","key":{"video_id":"vid2"}}$' ||
    fail "first answer: $(cat "$T/idem.out")"
stamp=$(store_sql "SELECT _ferry_hlc FROM reports WHERE video_id = 'vid2'")
nas idempotent >"$T/idem2.out" 2>&1 || fail "client: $(cat "$T/idem2.out")"
assert_eq "a third try, still the first answer" "$(head -n 1 "$T/idem.out")" \
    "$(head -n 1 "$T/idem2.out")"
assert_eq "not written again" "$stamp" \
    "$(store_sql "SELECT _ferry_hlc FROM reports WHERE video_id = 'vid2'")"

note "the store goes away: 503, backoff, then the report goes in"
case $STORE in
pg)
    pg_cluster_crash "$OWN_PG"
    (sleep 2 && pg_cluster_restart "$OWN_PG") &
    back=$!
    ;;
sqlite)
    # Another writer holds the store for 2 s (WAL: reads still work).
    python3 -c "
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(2); c.execute('ROLLBACK')
" "${STORE_URL#sqlite:}" >"$T/hold.out" &
    back=$!
    while ! grep -q held "$T/hold.out" 2>/dev/null; do sleep 0.05; done
    ;;
esac
nas through-outage >"$T/out.out" 2>&1 || fail "client: $(cat "$T/out.out")"
wait $back
grep -q '^created .*503.* 200$' "$T/out.out" || fail "no 503 then 200: $(cat "$T/out.out")"
note "client saw: $(cat "$T/out.out")"
assert_eq "the report after the outage" "during the outage" \
    "$(store_sql "SELECT title FROM reports WHERE video_id = 'vid3'")"
grep -q 'http: POST /v1/tables/reports/rows 503' "$T/ferryd.log" ||
    fail "ferryd did not log the 503"
assert_eq "rows" 3 "$(store_sql 'SELECT count(*) FROM reports')"
health_ok
