# The agent's tables carry a schema version (_ferry_state "schema") and are
# upgraded in place, step by step, in one transaction. A database ferry 0.1
# left (composite keys as one JSON array, old triggers) is brought to the
# current schema by the first command: its queued changes arrive, capture
# goes on key by key, nothing is parked. An upgrade that fails changes
# nothing; a database a newer ferry set up is refused without a change.
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
FIX=$E2E_DIR/fixtures/app-0.1.sql
schema() { app_sql "$1" "SELECT value FROM _ferry_state WHERE key = 'schema'"; }
arrays() { app_sql "$1" "SELECT count(*) FROM _ferry_outbox WHERE json_valid(pk) AND json_type(pk) = 'array'"; }

# A failed step leaves the 0.1 database exactly as it was (the later
# steps included): here the dead letters already hold a column step 2 adds.
mkdir -p "$T/bad"
sqlite3 "$T/bad/app.db" <"$FIX" || fail "load the 0.1 database"
app_sql "$T/bad/app.db" "ALTER TABLE _ferry_dead ADD COLUMN pk3"
before=$(sqlite3 "$T/bad/app.db" .dump | md5sum)
rc=0
"$FERRY" --config "$T/bad/config.json" init --db "$T/bad/app.db" --url "$URL" \
    --device old --force >/dev/null 2>"$T/bad.err" || rc=$?
assert_eq "init when the upgrade fails" 1 "$rc"
grep -q "cannot upgrade ferry's tables" "$T/bad.err" || fail "the failure names the upgrade"
assert_eq "failed upgrade changed nothing" "$before" "$(sqlite3 "$T/bad/app.db" .dump | md5sum)"
# The same through a config that names the database (init rolled its back).
cat >"$T/bad/config.json" <<CFG
{"ingestion": {"api": {"base_url": "$URL"}},
 "ferry": {"database": "$T/bad/app.db", "device": "old"}}
CFG
assert_exit "status when the upgrade fails" 3 ferry_in bad status
assert_eq "still nothing changed" "$before" "$(sqlite3 "$T/bad/app.db" .dump | md5sum)"

# The 0.1 database itself: upgraded on first use, then used as any other.
mkdir -p "$T/a"
sqlite3 "$T/a/app.db" <"$FIX" || fail "load the 0.1 database"
APP=$T/a/app.db
assert_eq "0.1 has no schema version" "" "$(schema "$APP")"
assert_eq "0.1 keys as JSON arrays" 6 "$(arrays "$APP")"
agent_init a old
assert_eq "schema recorded" 7 "$(schema "$APP")"
assert_eq "composite keys spread" 0 "$(arrays "$APP")"
assert_eq "every queued change kept" 11 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_exit "capture healthy after the upgrade" 0 ferry_in a status
app_sql "$APP" "UPDATE visits SET n = 21 WHERE day = '2026-01-02'"
app_sql "$APP" "DELETE FROM visits WHERE day = '2026-01-04'"
assert_eq "old composite trigger replaced" 0 "$(arrays "$APP")"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
assert_eq "update after the upgrade" 21 \
    "$(store_sql "SELECT n FROM visits WHERE day = '2026-01-02'")"
assert_eq "delete after the upgrade" 0 \
    "$(store_sql "SELECT count(*) FROM visits WHERE day = '2026-01-04'")"
assert_eq "items arrived" "$(app_sql "$APP" 'SELECT count(*) FROM items')" \
    "$(store_sql 'SELECT count(*) FROM items')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
assert_eq "update queued by 0.1" b2 "$(store_sql 'SELECT name FROM items WHERE id = 2')"
app_sql "$APP" "INSERT INTO visits VALUES ('2026-01-05', 0.1 + 0.2, 5)"
assert_eq "one write, one entry" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after the upgrade"
assert_eq "a new composite key with a real" 1 \
    "$(store_sql "SELECT count(*) FROM visits WHERE score = 0.30000000000000004")"
# Tracked names are one table whatever their case, as the app's SQL sees it.
assert_exit "tracked row per table, any case" 0 ferry_in a track VISITS
assert_eq "one tracked row for visits" 1 \
    "$(app_sql "$APP" "SELECT count(*) FROM _ferry_tracked WHERE tbl = 'visits' COLLATE NOCASE")"

# A newer ferry's schema: refused with the config exit code, untouched.
app_sql "$APP" "UPDATE _ferry_state SET value = 99 WHERE key = 'schema'"
before=$(sqlite3 "$APP" .dump | md5sum)
out=$(ferry_in a push 2>&1) && fail "push on a newer schema succeeded"
assert_exit "push on a newer schema" 3 ferry_in a push
echo "$out" | grep -q "newer ferry" || fail "the refusal says why: $out"
assert_eq "newer schema untouched" "$before" "$(sqlite3 "$APP" .dump | md5sum)"
