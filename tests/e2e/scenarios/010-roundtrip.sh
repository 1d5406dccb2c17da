# Tracked inserts, updates and deletes arrive with the right values and
# types: awkward text, NULLs, 64-bit limits, reals, blobs; the existing rows
# of an app database are pushed when the table is first tracked.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "vals",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "t", "type": "text"}, {"name": "n", "type": "bigint"},
              {"name": "r", "type": "double precision"},
              {"name": "b", "type": "bytea"}, {"name": "ok", "type": "boolean"},
              {"name": "day", "type": "date"},
              {"name": "at", "type": "timestamptz"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
KEY=$(make_key pc1)
start_ferryd
agent_init a pc1
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE vals (id INTEGER PRIMARY KEY, t TEXT, n INTEGER,
  r REAL, b BLOB, ok BOOLEAN, day DATE, at DATETIME);
  INSERT INTO vals VALUES
   (1, 'quote '' \" back\\slash' || char(10) || 'tab' || char(9) || 'end',
       9223372036854775807, 0.1, x'00ff7f80', 1, '2026-11-22',
       '2026-11-22 10:11:12.345+00:00'),
   (2, 'Grüße 日本 🚢', -9223372036854775808, -2.5e-300, x'', 0, NULL,
       '2026-01-01T00:00:00Z'),
   (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
   (4, '', 0, 1e300, randomblob(3000), 1, '1999-12-31', NULL)"
# Rows that exist before tracking are queued by `ferry track`.
ferry_in a track vals >/dev/null || fail "track"
# The app's own conflict clauses keep working on a tracked table, also
# for rows that already have a queued change.
app_sql "$APP" "INSERT INTO vals (id, t) VALUES (5, 'upsert')
    ON CONFLICT (id) DO UPDATE SET t = excluded.t;
  INSERT OR IGNORE INTO vals (id, t) VALUES (5, 'ignored');
  INSERT OR REPLACE INTO vals (id, t, n) VALUES (5, 'after track', 5);
  INSERT OR ROLLBACK INTO vals (id, t, n) VALUES (6, 'rollback-clause', 6);
  DELETE FROM vals WHERE id = 6"
ferry_in a push >"$T/push1.out" 2>>"$T/agent.log" || fail "push 1"
assert_eq "rows after push" 5 "$(store_sql 'SELECT count(*) FROM vals')"

# Text, integers and blobs byte-for-byte against the app database.
expect=$(app_sql "$APP" "SELECT id, hex(CAST(t AS BLOB)), n, hex(b), ok
  FROM vals ORDER BY id")
case $STORE in
sqlite) got=$(store_sql "SELECT id, hex(CAST(t AS BLOB)), n, hex(b), ok
  FROM vals ORDER BY id") ;;
pg) got=$(store_sql "SELECT id, upper(encode(convert_to(t, 'UTF8'), 'hex')),
  n, upper(encode(b, 'hex')), CASE ok WHEN true THEN 1 WHEN false THEN 0 END
  FROM vals ORDER BY id") ;;
esac
assert_eq "text/int/blob values" "$expect" "$got"
assert_eq "reals exact" 4 "$(store_sql "SELECT count(*) FROM vals WHERE
  (id = 1 AND r = 0.1) OR (id = 2 AND r = -2.5e-300) OR (id = 4 AND r = 1e300)
  OR (id = 3 AND r IS NULL)")"
assert_eq "NULLs stay NULL" 1 "$(store_sql "SELECT count(*) FROM vals WHERE
  id = 3 AND t IS NULL AND n IS NULL AND b IS NULL AND ok IS NULL")"
assert_eq "empty blob is not NULL" 1 "$(store_sql "SELECT count(*) FROM vals
  WHERE id = 2 AND b IS NOT NULL")"
if [ "$STORE" = pg ]; then
    assert_eq "timestamp" "2026-11-22 10:11:12.345+00" \
        "$(store_sql "SET TimeZone = 'UTC'; SELECT at FROM vals WHERE id = 1")"
    assert_eq "date" "1999-12-31" "$(store_sql "SELECT day FROM vals WHERE id = 4")"
fi

# Updates (including a key change) and deletes.
app_sql "$APP" "UPDATE vals SET t = 'changed', n = n - 1 WHERE id = 1;
  UPDATE vals SET id = 50 WHERE id = 5; DELETE FROM vals WHERE id = 3;
  UPDATE vals SET r = 2.5 WHERE id = 4; UPDATE vals SET r = 3.5 WHERE id = 4"
ferry_in a push >"$T/push2.out" 2>>"$T/agent.log" || fail "push 2"
assert_eq "ids after churn" "1 2 4 50" "$(store_sql 'SELECT id FROM vals ORDER BY id' | tr '\n' ' ' | sed 's/ $//')"
assert_eq "updated" "changed|9223372036854775806|3.5" \
    "$(store_sql "SELECT v1.t, v1.n, v4.r FROM vals v1, vals v4 WHERE v1.id = 1 AND v4.id = 4")"
# Row 4 updated twice travels once: 1 + 2 (key change) + 1 + 1 = 5 changes.
grep -q "pushed 5 changes" "$T/push2.out" || fail "coalescing: $(cat "$T/push2.out")"

# Status reflects the drained outbox; nothing dead.
ferry_in a status --json >"$T/status.json"
grep -q '"outbox": 0' "$T/status.json" || fail "status outbox: $(cat "$T/status.json")"
grep -q '"dead_letters": 0' "$T/status.json" || fail "status dead"
grep -q '"acked_seq": 11' "$T/status.json" || fail "status acked: $(cat "$T/status.json")"
