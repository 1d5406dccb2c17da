# The way back from the central store: device A's tables (the rows an
# import of tests/e2e/fixtures/export-users.json writes) are pushed, device
# B pulls them ("read": "all"), and `ferry export json` on B gives back a
# document equal to the original (compared as parsed JSON): jsonb values,
# unicode, nulls, booleans, doubles, nested arrays and maps survive the
# store. Then A edits (a preference, a note gone, a user deleted), pushes,
# B pulls: B's export equals A's.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
FIX=$E2E_DIR/fixtures
TABLES="users emulator_settings reading_settings user_preferences
    recent_books book_notes user_tags"

# export_on D OUT [ARGS]: ferry export json on device D into OUT
export_on() {
    _d=$1 _out=$2
    shift 2
    ferry_in "$_d" export json --mapping "$FIX/export-users.mapping.json" \
        -o "$_out" "$@" 2>>"$T/agent.log" ||
        fail "export on $_d: $(tail -n 2 "$T/agent.log")"
}

# same_json A B: the two files hold equal documents
same_json() {
    python3 - "$1" "$2" <<'PY' || fail "$1 and $2 differ"
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("record", k, ":", a.get(k), "!=", b.get(k), file=sys.stderr)
    sys.exit(1)
PY
}

# app_file DB FILE: the SQL of FILE run on the app database DB
app_file() {
    sqlite3 -bail -cmd ".timeout 10000" "$1" <"$2" || fail "sql $2 on $1"
}

URL=http://127.0.0.1:9 agent_init a dev-a
app_file "$T/a/app.db" "$FIX/export-users.sql"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track on a"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
ferryd_migrate
KA=$(make_key dev-a)
KB=$(make_key dev-b)
start_ferryd
files_point a "$URL"
agent_init b dev-b
app_file "$T/b/app.db" "$FIX/export-users.sql"
# shellcheck disable=SC2086
ferry_in b track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track on b"

app_file "$T/a/app.db" "$FIX/export-users-rows.sql"
export_on a "$T/a.json"
same_json "$FIX/export-users.json" "$T/a.json"

pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push on a"
# The store holds a jsonb value as the store keeps it, not as A sent it.
case $STORE in
pg) want='{"by": "title", "desc": false}' ;;
sqlite) want='{"by":"title","desc":false}' ;;
esac
assert_eq "a preference in the store" "$want" "$(store_sql "SELECT value
    FROM user_preferences WHERE name = 'sort'")"
pull_as b pull >/dev/null 2>>"$T/agent.log" || fail "pull on b"
assert_eq "book notes on b" 5 "$(app_sql "$T/b/app.db" \
    "SELECT count(*) FROM book_notes")"
export_on b "$T/b.json"
same_json "$FIX/export-users.json" "$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || note "a and b equal as JSON, not byte for byte"

# Edits on A travel too: the exports stay equal.
app_sql "$T/a/app.db" "UPDATE user_preferences SET value = '{\"by\":\"author\"}'
        WHERE name = 'sort';
    DELETE FROM book_notes WHERE note = 'long';
    DELETE FROM user_tags WHERE user_email = 'zoë@example.com';
    DELETE FROM user_preferences WHERE user_email = 'bo@example.com';
    DELETE FROM recent_books WHERE user_email = 'bo@example.com';
    DELETE FROM reading_settings WHERE user_email = 'bo@example.com';
    DELETE FROM users WHERE email = 'bo@example.com'"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "second push on a"
pull_as b pull >/dev/null 2>>"$T/agent.log" || fail "second pull on b"
export_on a "$T/a2.json" --compact
export_on b "$T/b2.json"
same_json "$T/a2.json" "$T/b2.json"
python3 - "$T/b2.json" <<'PY' || fail "the edits are not in b's export"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert sorted(d) == ["ana@example.com", "zoë@example.com"], sorted(d)
assert d["ana@example.com"]["preferences"]["sort"] == {"by": "author"}
assert d["ana@example.com"]["recent_books"][0]["notes"] == ["great"]
assert d["zoë@example.com"]["tags"] == []
PY
assert_eq "a2.json is one line" 1 "$(wc -l <"$T/a2.json")"
note "b's export equals the original and follows a's edits"
