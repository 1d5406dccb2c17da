# A contract table that already exists in the store (adopted: made by hand
# or another tool) must have a primary key or unique index on exactly the
# contract's key, or every upsert's ON CONFLICT fails and each push of the
# device is a 500 until someone fixes the table (the class of issue 5,
# item 3: one table's state must not block a device). `ferryd migrate`
# refuses such a table, naming it and the key, exit 3, nothing migrated:
# no key at all, a key on other columns, a unique index on more columns or
# a partial one. A primary key, or a plain unique index on the key columns
# in any order, is adopted and takes pushes and deletes. (Adopting any
# table failed before: migrate did not create its tombstone table and
# exited 1 on "no such table".)
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "sites",
  "columns": [{"name": "a", "type": "text", "not_null": true},
              {"name": "b", "type": "bigint", "not_null": true},
              {"name": "v", "type": "text"}],
  "primary_key": ["a", "b"]}]}
JSON
migrate_rc() {
    _rc=0
    "$FERRYD" migrate --store "$STORE_URL" --contract "$T/contract.json" \
        >"$T/migrate.out" 2>&1 || _rc=$?
    echo $_rc
}
case $STORE in
sqlite) BIGINT=INTEGER ;;
pg) BIGINT=bigint ;;
esac
refused() { # WHAT CREATE-SQL: the store's sites made so is refused
    store_sql "DROP TABLE IF EXISTS sites" >/dev/null
    store_sql "$2" >/dev/null || fail "$1: $2"
    assert_eq "$1: exit" 3 "$(migrate_rc)"
    grep -q "table 'sites' exists in the store without a primary key or unique index on exactly (a, b)" \
        "$T/migrate.out" || fail "$1: $(cat "$T/migrate.out")"
    grep -q "^migrated" "$T/migrate.out" && fail "$1: said migrated"
    case $STORE in
    sqlite) n=$(store_sql "SELECT count(*) FROM pragma_table_info('sites') WHERE name LIKE '\_ferry%' ESCAPE '\'") ;;
    pg) n=$(store_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sites' AND column_name LIKE '\_ferry%'") ;;
    esac
    assert_eq "$1: nothing migrated" 0 "$n"
}
refused "no key" "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text)"
refused "a key on other columns" \
    "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text, PRIMARY KEY (a))"
refused "a unique index on more columns" \
    "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text); CREATE UNIQUE INDEX sites_abv ON sites (a, b, v)"
refused "a partial unique index" \
    "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text); CREATE UNIQUE INDEX sites_ab ON sites (a, b) WHERE v IS NOT NULL"
refused "a plain index" \
    "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text); CREATE INDEX sites_ab ON sites (a, b)"

# Adopted: a unique index on the key columns in another order, with a row.
store_sql "DROP TABLE sites" >/dev/null
store_sql "CREATE TABLE sites (a text NOT NULL, b $BIGINT NOT NULL, v text);
  CREATE UNIQUE INDEX sites_ba ON sites (b, a);
  INSERT INTO sites VALUES ('x', 1, 'before ferry')" >/dev/null
assert_eq "unique index adopted ($(cat "$T/migrate.out"))" 0 "$(migrate_rc)"
KEY=$(make_key dev-1)
start_ferryd
CH='{"seq":%d,"table":"sites","op":"upsert","hlc":"%016x","row":%s}'
body=$(printf "{\"changes\":[$CH,$CH]}" 1 65536 '{"a":"x","b":1,"v":"pushed"}' \
    2 131072 '{"a":"y","b":2,"v":"new"}')
assert_eq "push into the adopted table" 200 "$(http_post /v1/push "$KEY" "$body")"
assert_eq "rows" "x|1|pushed y|2|new" \
    "$(store_sql 'SELECT a, b, v FROM sites ORDER BY a' | tr '\n' ' ' | sed 's/ $//')"
DEL='{"seq":3,"table":"sites","op":"delete","hlc":"0000000000030000","row":{"a":"x","b":1}}'
assert_eq "a delete (its tombstone table was made)" 200 \
    "$(http_post /v1/push "$KEY" "{\"changes\":[$DEL]}")"
assert_eq "rows after the delete" "y|2|new" \
    "$(store_sql 'SELECT a, b, v FROM sites ORDER BY a' | tr '\n' ' ' | sed 's/ $//')"
stop_ferryd
assert_eq "migrate again" 0 "$(migrate_rc)"

# A primary key on the key is adopted too (and ferry's own tables pass).
store_sql "DROP TABLE sites" >/dev/null
store_sql "CREATE TABLE sites (b $BIGINT NOT NULL, a text NOT NULL, v text, PRIMARY KEY (b, a))" >/dev/null
assert_eq "primary key adopted ($(cat "$T/migrate.out"))" 0 "$(migrate_rc)"
