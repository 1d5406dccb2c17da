# stores: sqlite
# (an export reads only the agent's own SQLite app database: the store
# plays no part, so the scenario runs once.)
#
# Bad input to `ferry export json`: each case exits with its documented
# code, says what is wrong, leaves the -o file as it was (no temp file
# either) and the app database unchanged.
FIX=$E2E_DIR/fixtures
MAP=$FIX/export-users.mapping.json
URL=http://127.0.0.1:9 agent_init a dev-a
DB=$T/a/app.db
sqlite3 -bail "$DB" <"$FIX/export-users.sql" || fail "schema"
sqlite3 -bail "$DB" <"$FIX/export-users-rows.sql" || fail "rows"
echo '{"old": "document"}' >"$T/out.json"
cp "$T/out.json" "$T/old.json"
db_sum=$(sqlite3 "$DB" .dump | md5sum)

# bad WHAT CODE MESSAGE ARGS...: ferry ARGS exits CODE saying MESSAGE
bad() {
    _what=$1 _code=$2 _msg=$3
    shift 3
    _rc=0
    ferry_in a "$@" >"$T/bad.out" 2>"$T/bad.err" || _rc=$?
    assert_eq "$_what: exit code" "$_code" "$_rc"
    grep -qF -- "$_msg" "$T/bad.err" ||
        fail "$_what: '$_msg' not in: $(cat "$T/bad.err")"
    cmp -s "$T/out.json" "$T/old.json" || fail "$_what: out.json changed"
    [ -z "$(ls "$T"/out.json.tmp.* 2>/dev/null)" ] || fail "$_what: a temp file is left"
    [ ! -s "$T/bad.out" ] || fail "$_what: wrote to stdout: $(head -c 200 "$T/bad.out")"
}

bad "no --mapping" 2 "usage: ferry export json" export json -o "$T/out.json"
bad "no format" 2 "usage: ferry export json" export --mapping "$MAP"
bad "another format" 2 "usage: ferry export json" export csv --mapping "$MAP"
bad "a stray argument" 2 "usage:" export json --mapping "$MAP" extra
bad "unknown option" 2 "usage:" export json --mapping "$MAP" --colour
bad "missing mapping" 3 "cannot open mapping '$T/none.json'" \
    export json --mapping "$T/none.json" -o "$T/out.json"
printf '{"collection": {"path": "$", "type": "object"}, "table": "users",
  "key": "email", "colums": {}}' >"$T/typo.json"
bad "a misspelt mapping key" 3 "$T/typo.json: " \
    export json --mapping "$T/typo.json" -o "$T/out.json"
sed 's/"user_tags"/"user_labels"/' "$MAP" >"$T/no-table.json"
bad "a table not in the database" 3 \
    "the mapping's table 'user_labels' is not in the database" \
    export json --mapping "$T/no-table.json" -o "$T/out.json"
sed 's/"ram_mb": "bigint"/"ram": "bigint"/' "$MAP" >"$T/no-column.json"
bad "a column not in the database" 3 \
    "table 'emulator_settings' has no column 'ram' (named by the mapping)" \
    export json --mapping "$T/no-column.json" -o "$T/out.json"
bad "a missing database" 3 "cannot open the database '$T/none.db'" \
    export json --mapping "$MAP" --db "$T/none.db" -o "$T/out.json"
bad "no config" 3 "config file" \
    --config "$T/none/config.json" export json --mapping "$MAP"
bad "an output folder that does not exist" 1 \
    "cannot create '$T/no/such/out.json'" \
    export json --mapping "$MAP" -o "$T/no/such/out.json"
mkdir "$T/ro"
chmod 555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    bad "an output folder not writable" 1 "cannot create '$T/ro/out.json'" \
        export json --mapping "$MAP" -o "$T/ro/out.json"
fi
bad "an output that is a folder" 1 "cannot replace '$T/ro'" \
    export json --mapping "$MAP" -o "$T/ro"

# A stored value the document cannot hold: named by table, row, column.
cp "$DB" "$T/app-good.db"
sqlite3 "$DB" "UPDATE user_preferences SET value = '{not json'
    WHERE user_email = 'zoë@example.com' AND name = 'x'"
bad "a jsonb column that is not JSON" 1 \
    "table 'user_preferences', row ('zoë@example.com', 'x'), column 'value': does not hold JSON" \
    export json --mapping "$MAP" -o "$T/out.json"
cp "$T/app-good.db" "$DB"
db_sum=$(sqlite3 "$DB" .dump | md5sum)
sqlite3 "$DB" "UPDATE users SET avd_name = CAST(x'c328' AS TEXT)
    WHERE email = 'bo@example.com'"
bad "text that is not UTF-8" 1 \
    "table 'users', row ('bo@example.com'), column 'avd_name': is not valid UTF-8" \
    export json --mapping "$MAP" -o "$T/out.json"
cp "$T/app-good.db" "$DB"

# The export only reads: the app database is as it was.
ferry_in a export json --mapping "$MAP" -o "$T/out.json" 2>>"$T/agent.log" ||
    fail "the good export"
assert_eq "the app database after the exports" "$db_sum" "$(sqlite3 "$DB" .dump | md5sum)"
cmp -s "$T/out.json" "$T/old.json" && fail "the good export did not replace out.json"
# Rows without a parent are left out, counted in a warning.
cp "$DB" "$T/app-good.db"
sqlite3 "$DB" "INSERT INTO user_preferences VALUES ('nobody@example.com',
        'a', '1'), ('nobody@example.com', 'b', '2');
    INSERT INTO book_notes VALUES ('ana@example.com', 7, 0, 'lost')"
ferry_in a export json --mapping "$MAP" -o "$T/orphans.json" 2>"$T/orphans.err" ||
    fail "the export with rows without a parent"
grep -qxF "ferry: warning: 3 rows without a parent row left out (the first in table 'user_preferences')" \
    "$T/orphans.err" || fail "no warning of the orphans: $(cat "$T/orphans.err")"
cmp -s "$T/out.json" "$T/orphans.json" || fail "the orphans changed the document"
cp "$T/app-good.db" "$DB"

# -o through a symlink replaces the file it names; the link stays.
mkdir "$T/real"
ln -s "$T/real/linked.json" "$T/link.json"
ferry_in a export json --mapping "$MAP" -o "$T/link.json" 2>>"$T/agent.log" ||
    fail "the export through a symlink"
[ -L "$T/link.json" ] || fail "-o replaced the symlink"
cmp -s "$T/out.json" "$T/real/linked.json" || fail "the linked file is not the export"
ferry_in a export json --mapping "$MAP" >"$T/stdout.json" 2>>"$T/agent.log" ||
    fail "the export to stdout"
cmp "$T/out.json" "$T/stdout.json" || fail "-o and stdout differ"
ferry_in a export --help | grep -q "^usage: ferry export json" || fail "--help"
note "every bad input refused with its code; nothing written"

# The docs: the synopsis is what --help prints (both pages), and the
# example export of the first import's tables is what ferry writes.
usage=$("$FERRY" export --help | awk 'NR > 1 && !/^ / { exit } { print }' |
    sed 's/^usage: //' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
for page in docs/import.md docs/commands.md; do
    assert_eq "$page: the synopsis" "$usage" \
        "$(docs_block $page usage-export | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')"
done
cat >"$T/first.mapping.json" <<'JSON'
{
  "collection": {"path": "$", "type": "object"},
  "table": "users",
  "key": "email",
  "columns": {
    "avd_name": "text",
    "created_at": {"type": "text", "required": true}
  },
  "children": [
    {"field": "reading_settings", "kind": "object", "table": "reading_settings",
     "parent_key": ["user_email"],
     "columns": {"theme": "text", "font_size": "bigint"}},
    {"field": "preferences", "kind": "map", "table": "user_preferences",
     "parent_key": ["user_email"], "key_column": "name",
     "value_column": "value", "value_type": "jsonb"},
    {"field": "recent_books", "kind": "array", "table": "recent_books",
     "parent_key": ["user_email"], "index_column": "position",
     "columns": {"asin": "text", "title": "text", "progress": "double precision"}}
  ]
}
JSON
sqlite3 -bail "$T/first.db" "CREATE TABLE users (email TEXT PRIMARY KEY,
        avd_name TEXT, created_at TEXT);
    CREATE TABLE reading_settings (user_email TEXT PRIMARY KEY, theme TEXT,
        font_size BIGINT);
    CREATE TABLE user_preferences (user_email TEXT, name TEXT, value TEXT,
        PRIMARY KEY (user_email, name));
    CREATE TABLE recent_books (user_email TEXT, position BIGINT, asin TEXT,
        title TEXT, progress REAL, PRIMARY KEY (user_email, position));
    INSERT INTO users VALUES ('ana@example.com', 'KindleAVD_ana',
        '2025-03-01T09:30:00Z');
    INSERT INTO reading_settings VALUES ('ana@example.com', 'dark', 12);
    INSERT INTO user_preferences VALUES
        ('ana@example.com', 'startup_page', '\"library\"'),
        ('ana@example.com', 'sort', '{\"by\":\"title\"}');
    INSERT INTO recent_books VALUES
        ('ana@example.com', 0, 'B00X1', 'Dune', 0.42)" || fail "first.db"
"$FERRY" export json --mapping "$T/first.mapping.json" --db "$T/first.db" \
    >"$T/first.json" 2>>"$T/agent.log" || fail "the first export"
docs_check docs/import.md export-first "$T/first.json"
python3 -c "import json, sys; d = json.load(open(sys.argv[1]))
assert open(sys.argv[1]).read() == json.dumps(d, indent=2, ensure_ascii=False) + '\n'" \
    "$T/first.json" || fail "not laid out as Python's json.dump(indent=2)"
