# The user-profile migration's import: a generated users.json of 2,000
# users (tests/e2e/gen_users.py) into six tables with
# tests/e2e/fixtures/users.mapping.json. The tables are created by the
# import (--create, from an empty document) and tracked, so the import's
# rows flow through the capture triggers and `ferry push` to ferryd. The
# counts per table are computed here from the JSON with Python; a second
# import changes nothing (every row "unchanged", the outbox stays empty);
# the edited file changes exactly the edited rows (the outbox holds exactly
# their keys) and, with --delete-missing, deletes the users that vanished
# with their rows. The dry run of the edit predicts the same counts. The
# export of the imported tables gives the file back (compared as parsed
# JSON), but for the forms the import's round-trip note names.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
FIX=$E2E_DIR/fixtures
MAP=$FIX/users.mapping.json
TABLES="users emulator_settings device_identifiers library_settings
    reading_settings user_preferences"

python3 "$E2E_DIR/gen_users.py" -o "$T/users.json" || fail "gen_users"
python3 "$E2E_DIR/gen_users.py" --edited -o "$T/users2.json" ||
    fail "gen_users --edited"

# expect.py OLD NEW: per table, the rows NEW has and the rows that differ
# from OLD's (created, updated, deleted), and the keys that changed, as the
# mapping says; written without ferry's code.
cat >"$T/expect.py" <<'PY'
import json, sys

M = json.load(open(sys.argv[1], encoding="utf-8"))


def jsonb(v):
    return None if v is None else json.dumps(v, ensure_ascii=False,
                                             separators=(",", ":"))


def rows(doc):
    t = {c["table"]: {} for c in M["children"]}
    t[M["table"]] = {}
    for email, u in doc.items():
        t["users"][(email,)] = tuple(u.get(f) for f in M["columns"])
        for c in M["children"]:
            v = u.get(c["field"])
            if v is None:
                continue
            if c["kind"] == "object":
                t[c["table"]][(email,)] = tuple(v.get(f) for f in c["columns"])
            else:
                for name, val in v.items():
                    t[c["table"]][(email, name)] = (jsonb(val),)
    return t


def load(p):
    return rows(json.load(open(p, encoding="utf-8"))) if p != "-" else None


old, new = load(sys.argv[2]), load(sys.argv[3])
what = sys.argv[4]
for table in [M["table"]] + [c["table"] for c in M["children"]]:
    n = new[table]
    if what == "counts":
        print(table, len(n))
        continue
    o = old[table]
    if what == "diff":
        created = sum(1 for k in n if k not in o)
        updated = sum(1 for k in n if k in o and o[k] != n[k])
        same = sum(1 for k in n if k in o and o[k] == n[k])
        deleted = sum(1 for k in o if k not in n)
        print(table, created, updated, same, deleted)
    else:  # keys: every changed key, as the outbox holds it
        for k in sorted(set(o) | set(n)):
            if o.get(k) != n.get(k):
                print(table + "|" + "|".join(k) + ("|" if len(k) == 1 else ""))
PY

# counts_of OUT: the "table create update unchanged delete" lines of an
# import's output
counts_of() {
    awk 'NR > 1 && NF == 5 { print $1, $2, $3, $4, $5 }' "$1"
}

outbox_keys() {
    app_sql "$T/a/app.db" "SELECT DISTINCT tbl || '|' || pk || '|' ||
        coalesce(pk2, '') FROM _ferry_outbox" | LC_ALL=C sort
}

URL=http://127.0.0.1:9 agent_init a dev-a
echo '{}' >"$T/empty.json"
ferry_in a import json "$T/empty.json" --mapping "$MAP" --create \
    >"$T/create.out" 2>>"$T/agent.log" || fail "import --create"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
python3 - "$T/contract.json" <<'PY' || fail "the contract's types"
import json, sys
c = {t["name"]: {k["name"]: k["type"] for k in t["columns"]}
     for t in json.load(open(sys.argv[1]))["tables"]}
assert c["users"]["created_at"] == "timestamptz", c["users"]
assert c["users"]["auth_state"] == "boolean"
assert c["user_preferences"]["value"] == "jsonb"
assert c["reading_settings"]["brightness"] == "double precision"
assert c["emulator_settings"]["memory_optimization_timestamp"] == "bigint"
PY
ferryd_migrate
KEY=$(make_key dev-a)
start_ferryd
files_point a "$URL"

# The first import: every row created, each captured once.
cd "$T" || fail "cd"
ferry_in a import json users.json --mapping "$MAP" >"$T/imp1.out" \
    2>"$T/imp1.err" || fail "import: $(cat "$T/imp1.err")"
# What it printed is docs/import.md's example.
cat "$T/imp1.out" "$T/imp1.err" >"$T/imp1.all"
docs_check docs/import.md import-users "$T/imp1.all"
python3 "$T/expect.py" "$MAP" - "$T/users.json" counts >"$T/want.counts"
awk '{ print $1, $2, 0, 0, 0 }' "$T/want.counts" >"$T/want1"
counts_of "$T/imp1.out" >"$T/got1"
cmp -s "$T/want1" "$T/got1" || fail "first import counts: $(cat "$T/got1")"
rows=$(awk '{ s += $2 } END { print s }' "$T/want.counts")
assert_eq "outbox after the import" "$rows" \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"
grep -q "round trip: \$\.\*\.last_used is absent in" "$T/imp1.err" ||
    fail "no round-trip note: $(cat "$T/imp1.err")"
[ -f "$T/users.json.backup" ] && cmp -s "$T/users.json" "$T/users.json.backup" ||
    fail "no backup of users.json"
note "imported $rows rows of 2000 users"

ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push"
while read -r table n; do
    assert_eq "$table in the store" "$n" \
        "$(store_sql "SELECT count(*) FROM $table")"
done <"$T/want.counts"
assert_eq "outbox after push" 0 \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"
pick=$(python3 - "$T/users.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
k = next(k for k, u in d.items()
         if "ü" in k and any(ord(c) > 127 for c in u["display_name"]))
print(k + "\t" + d[k]["display_name"])
PY
)
email=$(printf '%s' "$pick" | cut -f1)
assert_eq "a unicode name in the store" "$(printf '%s' "$pick" | cut -f2)" \
    "$(store_sql "SELECT display_name FROM users WHERE email = '$email'")"

# The way back: the export equals the file, but for what the round-trip
# notes named: last_used and emulator_settings, absent or null, are null.
ferry_in a export json --mapping "$MAP" -o "$T/back.json" \
    2>>"$T/agent.log" || fail "export"
python3 - "$T/users.json" "$T/back.json" <<'PY' || fail "the export differs"
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
for u in a.values():
    u.setdefault("last_used", None)
    u.setdefault("emulator_settings", None)
if a != b:
    k = next(k for k in a if a[k] != b.get(k))
    print(k, a[k], b.get(k), file=sys.stderr)
    sys.exit(1)
PY

# The same file again: nothing changes, nothing is queued.
ferry_in a import json "$T/users.json" --mapping "$MAP" >"$T/imp2.out" \
    2>>"$T/agent.log" || fail "second import"
awk '{ print $1, 0, 0, $2, 0 }' "$T/want.counts" >"$T/want2"
counts_of "$T/imp2.out" >"$T/got2"
cmp -s "$T/want2" "$T/got2" || fail "second import counts: $(cat "$T/got2")"
assert_eq "outbox after the second import" 0 \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"

# The edited file: the dry run predicts, the import does exactly that.
python3 "$T/expect.py" "$MAP" "$T/users.json" "$T/users2.json" diff \
    >"$T/want3"
ferry_in a import json "$T/users2.json" --mapping "$MAP" --delete-missing \
    --dry-run >"$T/dry.out" 2>>"$T/agent.log" || fail "dry run"
counts_of "$T/dry.out" >"$T/got-dry"
cmp -s "$T/want3" "$T/got-dry" ||
    fail "dry run counts: $(cat "$T/got-dry") want $(cat "$T/want3")"
assert_eq "outbox after the dry run" 0 \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"
[ -f "$T/users2.json.backup" ] && fail "the dry run made a backup"
ferry_in a import json "$T/users2.json" --mapping "$MAP" --delete-missing \
    >"$T/imp3.out" 2>>"$T/agent.log" || fail "edited import"
counts_of "$T/imp3.out" >"$T/got3"
cmp -s "$T/want3" "$T/got3" || fail "edited import counts: $(cat "$T/got3")"
python3 "$T/expect.py" "$MAP" "$T/users.json" "$T/users2.json" keys |
    LC_ALL=C sort >"$T/want.keys"
outbox_keys >"$T/got.keys"
cmp -s "$T/want.keys" "$T/got.keys" ||
    fail "outbox keys differ: $(diff "$T/want.keys" "$T/got.keys" | head)"
note "the edit queued exactly $(wc -l <"$T/want.keys") changed keys"

ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "second push"
python3 "$T/expect.py" "$MAP" - "$T/users2.json" counts >"$T/want2.counts"
while read -r table n; do
    assert_eq "$table in the store after the edit" "$n" \
        "$(store_sql "SELECT count(*) FROM $table")"
done <"$T/want2.counts"
want=$(python3 -c "
import json; d = json.load(open('$T/users2.json', encoding='utf-8'))
print(sum(u['reading_settings']['font_size'] for u in d.values()
          if u.get('reading_settings')))")
assert_eq "font sizes in the store" "$want" \
    "$(store_sql "SELECT sum(font_size) FROM reading_settings")"

# Device b pulls the tables and imports the same file: nothing changes
# there either, though the store hands jsonb back in its own spelling
# (PostgreSQL: '{"by": "title"}'): jsonb is compared as JSON.
KEYA=$KEY
KEY=$(make_key dev-b)
agent_init b dev-b
ferry_in b import json "$T/empty.json" --mapping "$MAP" --create \
    >/dev/null 2>>"$T/agent.log" || fail "import --create on b"
# shellcheck disable=SC2086
ferry_in b track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track on b"
ferry_in b pull >/dev/null 2>>"$T/agent.log" || fail "pull on b"
assert_eq "users on b" "$(sed -n 's/^users //p' "$T/want2.counts")" \
    "$(app_sql "$T/b/app.db" "SELECT count(*) FROM users")"
ferry_in b import json "$T/users2.json" --mapping "$MAP" --delete-missing \
    >"$T/imp-b.out" 2>>"$T/agent.log" || fail "import on b"
awk '{ print $1, 0, 0, $2, 0 }' "$T/want2.counts" >"$T/want-b"
counts_of "$T/imp-b.out" >"$T/got-b"
cmp -s "$T/want-b" "$T/got-b" || fail "import on b counts: $(cat "$T/got-b")"
assert_eq "outbox on b" 0 \
    "$(app_sql "$T/b/app.db" "SELECT count(*) FROM _ferry_outbox")"
KEY=$KEYA
