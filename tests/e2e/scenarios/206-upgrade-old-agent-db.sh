# An app database prepared by ferry 0.1 (composite keys kept as one JSON
# array in the outbox, no pk2..pk8, no recorded table shapes) is upgraded
# in place by the first command: capture is healthy, the queued changes
# arrive, new writes are captured once, nothing is parked.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "items", "columns": [{"name": "id", "type": "bigint", "not_null": true},
   {"name": "name", "type": "text"}, {"name": "price", "type": "double precision"}],
  "primary_key": ["id"]},
 {"name": "visits", "columns": [{"name": "day", "type": "text", "not_null": true},
   {"name": "score", "type": "double precision", "not_null": true},
   {"name": "n", "type": "bigint"}], "primary_key": ["day", "score"]}]}
JSON
ferryd_migrate
KEY=$(make_key old)
start_ferryd
mkdir -p "$T/a"
sqlite3 "$T/a/app.db" <"$E2E_DIR/fixtures/app-0.1.sql" || fail "load the 0.1 database"
agent_init a old
APP=$T/a/app.db
assert_exit "status after the upgrade" 0 ferry_in a status
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
for t in items visits; do
    assert_eq "$t rows" "$(app_sql "$APP" "SELECT count(*) FROM $t")" \
        "$(store_sql "SELECT count(*) FROM $t")"
done
assert_eq "update queued by 0.1" b2 "$(store_sql 'SELECT name FROM items WHERE id = 2')"
assert_eq "composite update queued by 0.1" 20 \
    "$(store_sql "SELECT n FROM visits WHERE day = '2026-01-02'")"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
app_sql "$APP" "INSERT INTO visits VALUES ('2026-01-05', 0.1 + 0.2, 5)"
assert_eq "one write, one entry" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after the upgrade"
assert_eq "a new composite key with a real" 1 \
    "$(store_sql "SELECT count(*) FROM visits WHERE score = 0.30000000000000004")"
