# One bad row never blocks the rest: changes the server rejects (a NULL key,
# an impossible date, a row of another region) and a change that cannot be
# encoded (invalid UTF-8) are parked in _ferry_dead with the reason, the
# other rows arrive, and `ferry status` counts the dead letters.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "notes",
  "columns": [{"name": "k", "type": "text", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "body", "type": "text"},
              {"name": "due", "type": "date"}],
  "primary_key": ["k"], "region_column": "region"}]}
JSON
ferryd_migrate
KEY=$(make_key pc-ankara --region ankara)
start_ferryd
agent_init a pc-ankara 4
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE notes (k TEXT PRIMARY KEY, region TEXT,
  body TEXT, due DATE)"
ferry_in a track notes >/dev/null || fail track
app_sql "$APP" "INSERT INTO notes VALUES ('a', NULL, 'fine', '2026-02-28');
  INSERT INTO notes VALUES (NULL, NULL, 'null key', NULL);
  INSERT INTO notes VALUES ('b', NULL, 'bad date', '2026-02-31');
  INSERT INTO notes VALUES ('c', 'istanbul', 'other region', NULL);
  INSERT INTO notes VALUES ('d', NULL, CAST(x'66ff6f' AS TEXT), NULL);
  INSERT INTO notes VALUES ('e', 'ankara', 'fine too', NULL);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
  INSERT INTO notes SELECT 'z' || i, NULL, 'bulk', NULL FROM n"
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || fail "push: $(tail -n 5 "$T/agent.log")"
grep -q "4 rejected" "$T/push.out" || fail "push summary: $(cat "$T/push.out")"
assert_eq "good rows arrived" 22 "$(store_sql 'SELECT count(*) FROM notes')"
assert_eq "region stamped" 22 "$(store_sql "SELECT count(*) FROM notes WHERE region = 'ankara'")"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "dead letters" "422|invalid_value
422|missing_key
403|region_scope
0|unencodable" "$(app_sql "$APP" 'SELECT status, code FROM _ferry_dead ORDER BY code')"
app_sql "$APP" "SELECT message FROM _ferry_dead WHERE code = 'invalid_value'" |
    grep -q "due" || fail "message names the column"
ferry_in a status --json | grep -q '"dead_letters": 4' || fail "status dead letters"
