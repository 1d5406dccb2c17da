# `ferryd migrate` never says "migrated" while ignoring a change: a reused
# version number with another contract, a retyped column and a dropped
# column are each named and exit 3 with nothing changed; adding a table or
# a column stays routine.
contract() { # version extra-columns-json extra-tables-json
    write_contract "$T/contract.json" <<JSON
{"version": $1, "tables": [{"name": "t",
  "columns": [{"name": "id", "type": "bigint", "not_null": true}$2],
  "primary_key": ["id"]}$3]}
JSON
}
migrate_rc() {
    _rc=0
    "$FERRYD" migrate --store "$STORE_URL" --contract "$T/contract.json" \
        >"$T/migrate.out" 2>&1 || _rc=$?
    echo $_rc
}
contract 1 ', {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"}' ''
assert_eq "first migrate" 0 "$(migrate_rc)"
assert_eq "same again" 0 "$(migrate_rc)"

contract 1 ', {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"}, {"name": "c", "type": "text"}' ''
assert_eq "reused version" 3 "$(migrate_rc)"
grep -q "version 1 was migrated with another contract" "$T/migrate.out" || fail "$(cat "$T/migrate.out")"
grep -q "^migrated" "$T/migrate.out" && fail "said migrated"

contract 2 ', {"name": "b", "type": "text"}' ''
assert_eq "dropped and retyped" 3 "$(migrate_rc)"
grep -q "column 'a' was dropped" "$T/migrate.out" || fail "dropped: $(cat "$T/migrate.out")"
grep -q "column 'b' changed type from bigint to text" "$T/migrate.out" || fail "retyped: $(cat "$T/migrate.out")"

# Nothing was recorded: version 1 is still the store's.
case $STORE in
sqlite) v=$(store_sql 'SELECT max(version) FROM ferry_schema_versions') ;;
pg) v=$(store_sql 'SELECT max(version) FROM ferry.schema_versions') ;;
esac
assert_eq "store version" 1 "$v"

contract 2 ', {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"}, {"name": "c", "type": "text"}' \
    ', {"name": "u", "columns": [{"name": "id", "type": "bigint", "not_null": true}], "primary_key": ["id"]}'
assert_eq "added table and column" 0 "$(migrate_rc)"
contract 1 ', {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"}' ''
assert_eq "older version" 3 "$(migrate_rc)"
grep -q "newer than this contract's version 1" "$T/migrate.out" || fail "$(cat "$T/migrate.out")"

# A changed primary key (here: a device-local key gaining the device
# column, as `ferry contract` now generates) is refused too: the stored
# table's PRIMARY KEY cannot follow, and every upsert would fail.
write_contract "$T/contract.json" <<'JSON'
{"version": 3, "tables": [{"name": "t",
  "columns": [{"name": "device", "type": "text", "not_null": true},
              {"name": "id", "type": "bigint", "not_null": true},
              {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"},
              {"name": "c", "type": "text"}],
  "primary_key": ["device", "id"], "device_column": "device"},
 {"name": "u", "columns": [{"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["id"]}]}
JSON
assert_eq "changed key" 3 "$(migrate_rc)"
grep -q "table 't': primary key changed from (id) to (device, id)" "$T/migrate.out" ||
    fail "key change: $(cat "$T/migrate.out")"

# not_null relaxed on an existing column is applied to the store (it kept
# the NOT NULL before, so the nulls ferryd then let through were refused by
# the store and parked); made not_null, the column is left as it is and
# ferryd refuses nulls in it from then on. Stored values survive.
T3=', {"name": "u", "columns": [{"name": "id", "type": "bigint", "not_null": true}], "primary_key": ["id"]}'
contract 3 ', {"name": "a", "type": "text"}, {"name": "b", "type": "bigint"}, {"name": "c", "type": "text"}, {"name": "d", "type": "text", "not_null": true, "default": "x"}' "$T3"
assert_eq "added a not_null column with a default" 0 "$(migrate_rc)"
KEY=$(make_key dev-1)
start_ferryd
CH='{"seq":%d,"table":"t","op":"upsert","hlc":"%016x","row":%s}'
push_row() { # SEQ ROW-JSON -> status
    http_post /v1/push "$KEY" "{\"changes\":[$(printf "$CH" "$1" $(($1 * 65536)) "$2")]}"
}
assert_eq "a row under v3" 200 "$(push_row 1 '{"id":1,"a":null,"d":"keep"}')"
stop_ferryd
contract 4 ', {"name": "a", "type": "text", "not_null": true}, {"name": "b", "type": "bigint"}, {"name": "c", "type": "text"}, {"name": "d", "type": "text", "default": "x"}' "$T3"
assert_eq "not_null changed both ways ($(cat "$T/migrate.out"))" 0 "$(migrate_rc)"
case $STORE in
sqlite) nn=$(store_sql "SELECT \"notnull\" FROM pragma_table_info('t') WHERE name = 'd'") ;;
pg) nn=$(store_sql "SELECT attnotnull::int FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'd'") ;;
esac
assert_eq "d lost its NOT NULL in the store" 0 "$nn"
start_ferryd
assert_eq "a null in the relaxed column ($(cat "$T/resp.json"))" 200 \
    "$(push_row 2 '{"id":2,"a":"y","d":null}')"
assert_eq "stored as null" 1 "$(store_sql 'SELECT count(*) FROM t WHERE id = 2 AND d IS NULL')"
assert_eq "the row stored before kept its value" "keep" "$(store_sql 'SELECT d FROM t WHERE id = 1')"
assert_eq "a null in the tightened column" 422 "$(push_row 3 '{"id":3,"a":null}')"
grep -q '"code":"invalid_value"' "$T/resp.json" || fail "tightened: $(cat "$T/resp.json")"
