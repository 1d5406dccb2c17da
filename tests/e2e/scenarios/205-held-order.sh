# Changes held while a table's capture was broken must not overtake a
# change of another table that was numbered (sent, unacknowledged) in the
# meantime: numbers follow the queue order, or acknowledging the held
# changes' higher seqs would delete the other change unsent.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "a", "columns": [{"name": "id", "type": "bigint", "not_null": true},
   {"name": "v", "type": "text"}], "primary_key": ["id"]},
 {"name": "b", "columns": [{"name": "id", "type": "bigint", "not_null": true},
   {"name": "v", "type": "text"}], "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 2
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
  CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);
  INSERT INTO a VALUES (1, 'x'), (2, 'y'), (3, 'z'); INSERT INTO b VALUES (1, 'x');"
ferry_in a track a b >/dev/null || fail track
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"

note "a's deletes are queued, then the app rebuilds a: they are held"
app_sql "$APP" "DELETE FROM a WHERE id IN (1, 2);
  CREATE TABLE a2 (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a2 SELECT * FROM a;
  DROP TABLE a; ALTER TABLE a2 RENAME TO a;
  INSERT INTO b VALUES (2, 'numbered while a was held');"
note "b's change is numbered and sent, but never acknowledged"
# A stand-in server answers the handshake like ferryd and every batch 503.
ACKED=$(device_acked edge1)
REAL_URL=$URL
cat >"$T/fake.py" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["E2E_DIR"])
import fakehttp
acked, upstream, portfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def handle(hdrs, body, changes):
    if changes == []:  # the handshake
        return 200, json.dumps({"acked_seq": acked, "applied": 0}).encode()
    return 503, json.dumps({"error": {"code": "store_unavailable",
                                      "message": "down"}}).encode()

fakehttp.serve(portfile, upstream, handle)
PY
fake_start a "$T/fake.py" "$ACKED" "${URL#http://}"
assert_exit "push to a server that answers 503" 5 ferry_in a push --retry-for 0
fake_stop
[ "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox WHERE seq IS NOT NULL')" -ge 1 ] ||
    fail "b's change was not numbered"
URL=$REAL_URL
agent_init a edge1 2
ferry_in a track a >/dev/null || fail "track a"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after repair"
assert_eq "b's numbered change arrived" 1 "$(store_sql "SELECT count(*) FROM b WHERE id = 2")"
assert_eq "a's held deletes arrived" 1 "$(store_sql 'SELECT count(*) FROM a')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
