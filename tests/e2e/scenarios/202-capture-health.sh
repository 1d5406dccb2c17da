# Capture that silently stopped is a loud error. An app's own migration
# (create a new table, copy, drop, rename; with a new column) drops ferry's
# triggers: status and push say so and exit 7, nothing is parked, and after
# a contract update and `ferry track` capture resumes with nothing lost. A
# table renamed with ALTER TABLE keeps writing under its old name until
# tracking moves to the new name; then every write is captured once. Table
# names are one table whatever their case. (A row deleted while capture was
# broken is not known to ferry: docs/guarantees.md says so.)
setup_items_agent edge1 500 40
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"
assert_eq "first push" 40 "$(store_sql 'SELECT count(*) FROM items')"

note "the app rebuilds items with a new column"
app_sql "$APP" "BEGIN;
  CREATE TABLE items_new (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER,
    price REAL, data BLOB, note TEXT);
  INSERT INTO items_new SELECT id, name, qty, price, data, 'n' || id FROM items;
  DROP TABLE items;
  ALTER TABLE items_new RENAME TO items;
  COMMIT;
  INSERT INTO items (id, name, note) VALUES (1001, 'after rebuild', 'new');
  UPDATE items SET qty = 7 WHERE id = 2;"
assert_exit "status after the rebuild" 7 ferry_in a status
ferry_in a status 2>&1 >/dev/null | grep -q "capture of table 'items' is broken" ||
    fail "status does not explain"
assert_exit "push after the rebuild" 7 ferry_in a push
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"

note "contract v2 with the new column, then track repairs"
stop_ferryd
ferry_in a contract --version 2 --global-key items -o "$T/contract.json" 2>/dev/null || fail contract
ferryd_migrate
start_ferryd
agent_init a edge1
ferry_in a track items >"$T/track.out" || fail "track repair"
grep -q "repaired capture of items" "$T/track.out" || fail "track said: $(cat "$T/track.out")"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after repair"
assert_exit "status is clean" 0 ferry_in a status
assert_eq "rows" "$(app_sql "$APP" 'SELECT count(*) FROM items')" \
    "$(store_sql 'SELECT count(*) FROM items')"
assert_eq "the write made while capture was broken" 7 \
    "$(store_sql 'SELECT qty FROM items WHERE id = 2')"
assert_eq "the new column arrived" "n5" "$(store_sql 'SELECT note FROM items WHERE id = 5')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
app_sql "$APP" "UPDATE items SET note = 'later' WHERE id = 6"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after repair"
assert_eq "capture resumed" later "$(store_sql 'SELECT note FROM items WHERE id = 6')"

note "the app renames items to goods"
app_sql "$APP" "ALTER TABLE items RENAME TO goods;
  INSERT INTO goods (id, name) VALUES (2001, 'renamed');"
ferry_in a status 2>&1 >/dev/null | grep -q "renamed to 'goods'" ||
    fail "status does not name the new table"
assert_exit "push after the rename" 7 ferry_in a push
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
stop_ferryd
sed 's/"name": "items"/"name": "goods"/' "$T/contract.json" |
    sed 's/"version": 2/"version": 3/' >"$T/c3.json"
mv "$T/c3.json" "$T/contract.json"
ferryd_migrate
start_ferryd
agent_init a edge1
ferry_in a track Goods >"$T/track.out" || fail "track goods"
grep -q "tracking goods, renamed from items" "$T/track.out" || fail "track said: $(cat "$T/track.out")"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push goods"
assert_eq "goods rows" "$(app_sql "$APP" 'SELECT count(*) FROM goods')" \
    "$(store_sql 'SELECT count(*) FROM goods')"
app_sql "$APP" "INSERT INTO goods (id, name) VALUES (2002, 'once')"
assert_eq "one write, one entry" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"

note "names are one table whatever their case"
ferry_in a track GOODS >"$T/track.out" || fail "track GOODS"
grep -q "already tracked" "$T/track.out" || fail "track said: $(cat "$T/track.out")"
assert_eq "nothing queued again" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
ferry_in a track --untrack GOODS >/dev/null || fail untrack
app_sql "$APP" "INSERT INTO goods (id, name) VALUES (2003, 'untracked')"
assert_eq "untracked under another case" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "no triggers left" 0 "$(app_sql "$APP" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")"

note "warnings: UNIQUE besides the key, generated columns"
app_sql "$APP" "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
  name TEXT, upper_name TEXT GENERATED ALWAYS AS (upper(name)))"
ferry_in a track users 2>"$T/track.err" >/dev/null || fail "track users"
grep -q "UNIQUE constraint besides its key" "$T/track.err" || fail "no UNIQUE warning: $(cat "$T/track.err")"
ferry_in a contract 2>"$T/contract.err" >"$T/c.json" || fail contract
grep -q "generated column 'upper_name' is left out" "$T/contract.err" ||
    fail "no generated-column note: $(cat "$T/contract.err")"
grep -q upper_name "$T/c.json" && fail "generated column in the contract"

note "a read-only app database is a configuration error"
if [ "$(id -u)" -eq 0 ]; then
    # root writes any file: run the agent as a user that may only read it
    chmod 755 "$T/a"
    _rc=0
    runuser -u nobody -- env FERRY_API_KEY="$KEY" "$FERRY" --config \
        "$T/a/config.json" status >/dev/null 2>>"$T/agent.log" || _rc=$?
    assert_eq "read-only database" 3 "$_rc"
else
    chmod 444 "$APP"
    assert_exit "read-only database" 3 ferry_in a status
    chmod 644 "$APP"
fi
