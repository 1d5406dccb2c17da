# Bad input to `ferry import json`: malformed JSON, a mistyped value, a
# duplicate key, a required field absent, a field the mapping does not
# name. Each is reported with its path in the document and its line, exit
# 3, and nothing is written: the tables' digests and the outbox stay as
# they were, no copy of the file is made, and a push sends nothing to the
# store. With --skip-bad the bad records are left out and listed, the rest
# is imported and reaches the store. Usage and mapping errors: exit 2 and 3.
FIX=$E2E_DIR/fixtures
MAP=$FIX/users.mapping.json
TABLES="users emulator_settings device_identifiers library_settings
    reading_settings user_preferences"

digest() {
    for t in $TABLES; do
        app_sql "$T/a/app.db" "SELECT * FROM $t ORDER BY 1, 2"
    done | md5sum | cut -d' ' -f1
}

outbox() {
    app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox"
}

# import_fails WHAT FILE WANT-MESSAGE [ARGS]: exit 3, the message on
# stderr, nothing written, no backup
import_fails() {
    _what=$1 _file=$2 _want=$3
    shift 3
    _before=$(digest)
    _rc=0
    ferry_in a import json "$_file" --mapping "$MAP" "$@" >"$T/out" \
        2>"$T/err" || _rc=$?
    assert_eq "$_what: exit" 3 "$_rc"
    grep -qF -- "$_want" "$T/err" ||
        fail "$_what: stderr lacks '$_want': $(cat "$T/err")"
    assert_eq "$_what: tables" "$_before" "$(digest)"
    assert_eq "$_what: outbox" 0 "$(outbox)"
    [ -e "$_file.backup" ] && fail "$_what: a backup was made"
    return 0
}

python3 "$E2E_DIR/gen_users.py" --count 300 -o "$T/users.json" ||
    fail "gen_users"

URL=http://127.0.0.1:9 agent_init a dev-a
echo '{}' >"$T/empty.json"
ferry_in a import json "$T/empty.json" --mapping "$MAP" --create \
    >/dev/null 2>>"$T/agent.log" || fail "import --create"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
ferryd_migrate
KEY=$(make_key dev-a)
start_ferryd
files_point a "$URL"

# bad.py KIND OUT: users.json with one kind of damage; prints the message
# the import must give (path and line found in the written text).
cat >"$T/bad.py" <<'PY'
import json, sys
kind, src, out = sys.argv[1:4]
d = json.load(open(src, encoding="utf-8"))
keys = list(d)
k = keys[7]
if kind == "type":
    d[k]["reading_settings"] = {"theme": "dark", "font_size": "large"}
elif kind == "required":
    del d[k]["created_at"]
elif kind == "field":
    d[k]["library_settings"]["colour"] = "blue"
text = json.dumps(d, ensure_ascii=False, indent=2)
if kind == "dup":
    # The same member name twice in the document's object.
    first = text.index("\n  " + json.dumps(keys[3], ensure_ascii=False))
    end = text.index("\n  " + json.dumps(keys[4], ensure_ascii=False))
    rec = text[first:end].rstrip(",")
    text = text[:-2] + "," + rec + "\n}"
if kind == "malformed":
    at = text.index("\n  " + json.dumps(keys[9], ensure_ascii=False))
    text = text[:at] + "\n  ]" + text[at:]
open(out, "w", encoding="utf-8").write(text)
lines = text.split("\n")
start = next(i for i, l in enumerate(lines)
             if l.startswith("  " + json.dumps(k, ensure_ascii=False)))
path = "$[" + json.dumps(k, ensure_ascii=False) + "]"
if kind == "type":
    n = next(i for i in range(start, len(lines)) if '"font_size"' in lines[i])
    print('%s:%d: %s.reading_settings.font_size: expected integer, got "large"'
          % (out, n + 1, path))
elif kind == "required":
    print("%s:%d: %s.created_at: required field is absent"
          % (out, start + 1, path))
elif kind == "field":
    n = next(i for i in range(start, len(lines)) if '"colour"' in lines[i])
    print("%s:%d: %s.library_settings.colour: field not in the mapping"
          % (out, n + 1, path))
elif kind == "dup":
    k3 = json.dumps(keys[3], ensure_ascii=False)
    n = len(lines) - 1 - next(i for i, l in enumerate(reversed(lines))
                              if l.startswith("  " + k3))
    print("%s:%d: $[%s]: duplicate key" % (out, n + 1, k3))
else:
    n = next(i for i, l in enumerate(lines) if l == "  ]")
    print("%s:%d:" % (out, n + 1))
PY

for kind in type required field dup malformed; do
    want=$(python3 "$T/bad.py" $kind "$T/users.json" "$T/$kind.json") ||
        fail "bad.py $kind"
    import_fails "$kind" "$T/$kind.json" "ferry: $want"
done
grep -q "malformed JSON" "$T/err" || fail "malformed: $(cat "$T/err")"

# A dry run lists the problems, writes nothing and exits 3.
import_fails "dry run" "$T/type.json" "ferry: problem: " --dry-run
grep -q "^300 records read; dry run: nothing written, 1 with problems" \
    "$T/out" || fail "dry run summary: $(cat "$T/out")"

# Malformed JSON is never skipped.
import_fails "malformed --skip-bad" "$T/malformed.json" "malformed JSON" \
    --skip-bad

ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
assert_eq "users in the store after the failures" 0 \
    "$(store_sql "SELECT count(*) FROM users")"

# --skip-bad: one file with three bad records; the other 297 go in.
python3 - "$T/users.json" "$T/mixed.json" <<'PY' || fail "mixed.json"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
k = list(d)
d[k[1]]["reading_settings"] = {"font_size": 12.5}
del d[k[2]]["created_at"]
d[k[3]]["preferences"] = ["not", "a", "map"]
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False,
          indent=2)
PY
ferry_in a import json "$T/mixed.json" --mapping "$MAP" --skip-bad \
    >"$T/out" 2>"$T/err" || fail "--skip-bad: $(cat "$T/err")"
assert_eq "skipped records listed" 3 "$(grep -c '^ferry: skipped: ' "$T/err")"
grep -qF '.reading_settings.font_size: expected integer, got 12.5' \
    "$T/err" || fail "skipped: $(cat "$T/err")"
grep -qF '.preferences: expected an object, got an array' "$T/err" ||
    fail "skipped: $(cat "$T/err")"
grep -q "^300 records imported, 3 skipped" "$T/out" ||
    fail "summary: $(cat "$T/out")"
assert_eq "users imported" 297 \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM users")"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push after --skip-bad"
assert_eq "users in the store" 297 "$(store_sql "SELECT count(*) FROM users")"

# Usage (2), a mapping that is not one (3), a table missing (3).
assert_exit "no --mapping" 2 ferry_in a import json "$T/users.json"
assert_exit "two files" 2 ferry_in a import json "$T/users.json" x.json \
    --mapping "$MAP"
assert_exit "import csv" 2 ferry_in a import csv "$T/users.json" \
    --mapping "$MAP"
echo '{"collection": {"path": "$", "type": "object"}, "table": "users",
  "key": "email", "colums": {}}' >"$T/typo.mapping.json"
_rc=0
ferry_in a import json "$T/users.json" --mapping "$T/typo.mapping.json" \
    >/dev/null 2>"$T/err" || _rc=$?
assert_eq "bad mapping: exit" 3 "$_rc"
grep -qF 'unknown key "colums"' "$T/err" || fail "bad mapping: $(cat "$T/err")"
sed 's/"user_preferences"/"user_prefs"/' "$MAP" >"$T/other.mapping.json"
_rc=0
ferry_in a import json "$T/users.json" --mapping "$T/other.mapping.json" \
    >/dev/null 2>"$T/err" || _rc=$?
assert_eq "missing table: exit" 3 "$_rc"
grep -qF "table 'user_prefs' does not exist" "$T/err" ||
    fail "missing table: $(cat "$T/err")"
assert_exit "missing file" 3 ferry_in a import json "$T/nope.json" \
    --mapping "$MAP"
ferry_in a import json --help | grep -q "^usage: ferry import json FILE" ||
    fail "--help"

# Another writer holds the database for longer than the import waits
# (10 s): exit 5, retry later; nothing written.
python3 - "$T/a/app.db" "$T/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(14)
PY
locker=$!
while [ ! -f "$T/locked" ]; do sleep 0.05; done
before=$(digest)
_rc=0
ferry_in a import json "$T/users.json" --mapping "$MAP" >/dev/null \
    2>"$T/err" || _rc=$?
wait "$locker"
assert_eq "a locked database: exit" 5 "$_rc"
assert_eq "a locked database: tables" "$before" "$(digest)"

# The docs: the synopsis is what --help prints (both pages).
usage=$("$FERRY" import --help | awk 'NR > 1 && !/^ / { exit } { print }' |
    sed 's/^usage: //' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
for page in docs/import.md docs/commands.md; do
    assert_eq "$page: the synopsis" "$usage" \
        "$(docs_block $page usage-import | tr '\n' ' ' | tr -s ' ' |
            sed 's/ $//')"
done
