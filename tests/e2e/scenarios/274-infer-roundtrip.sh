# --infer on the generated users.json (2,000 users, gen_users.py): the
# proposed mapping has the six tables of the user-profile migration (users
# keyed by email, four settings objects as object children, free-form
# preferences as a map), and importing the file with it then exporting
# gives the document back (compared as parsed JSON) on the device that
# imported and on a second device that pulled the tables from the store.
# Only the fields --infer named in a "round trip" note (absent in some
# users, null in others) may differ, and only as null for absent.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
python3 "$E2E_DIR/gen_users.py" -o "$T/users.json" || fail "gen_users"

"$FERRY" import json "$T/users.json" --infer -o "$T/inferred.json" \
    2>"$T/infer.err" || fail "--infer: $(cat "$T/infer.err")"
grep -q "^ferry: wrote the mapping to $T/inferred.json" "$T/infer.err" ||
    fail "no word of the mapping written: $(cat "$T/infer.err")"
python3 - "$T/inferred.json" <<'PY' || fail "the inferred mapping: $(cat "$T/inferred.json")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["collection"] == {"path": "$", "type": "object"}, m["collection"]
assert (m["table"], m["key"]) == ("users", "email"), (m["table"], m["key"])
kids = {c["field"]: c for c in m["children"]}
assert sorted(kids) == ["device_identifiers", "emulator_settings",
                        "library_settings", "preferences",
                        "reading_settings"], sorted(kids)
for f in ("device_identifiers", "emulator_settings", "library_settings",
          "reading_settings"):
    assert kids[f]["kind"] == "object", kids[f]
    assert kids[f]["parent_key"] == ["user_email"], kids[f]
assert kids["preferences"]["kind"] == "map"
assert kids["preferences"]["value_type"] == "jsonb"
assert m["columns"]["auth_state"] == "boolean", m["columns"]
assert kids["reading_settings"]["columns"]["brightness"] == "double precision"
assert kids["emulator_settings"]["columns"]["memory_optimization_timestamp"] == "bigint"
# Absent in some users, never null: left out again by the export.
assert m["columns"]["notes"] == {"type": "text", "omit_null": True}, m["columns"]["notes"]
assert kids["device_identifiers"].get("omit_null") is True
PY
grep -q "round trip: \$\.\*\.emulator_settings is absent in [0-9]* records and null in [0-9]*; the export writes null for both" \
    "$T/infer.err" || fail "no note for emulator_settings: $(cat "$T/infer.err")"

# The docs' synopsis is what --help prints.
usage=$("$FERRY" import json --help | sed -n '/ferry import json FILE --infer/,/^[^ ]/p' |
    sed '$d' | tr '\n' ' ' | tr -s ' ' | sed 's/^ *or: //; s/ $//')
[ -n "$usage" ] || fail "no --infer synopsis in ferry import json --help"
for page in docs/import.md docs/commands.md; do
    assert_eq "$page: the --infer synopsis" "$usage" \
        "$(docs_block $page usage-infer | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')"
done

# same_json ORIGINAL EXPORT: equal once the noted fields are null where
# ORIGINAL leaves them out
same_json() {
    python3 - "$1" "$2" "$T/infer.err" <<'PY' || fail "$2 differs from $1"
import json, re, sys
orig, got = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
notes = re.findall(r"round trip: \$\.\*\.(\w+) is absent", open(sys.argv[3]).read())
for rec in orig.values():
    for f in notes:
        rec.setdefault(f, None)
bad = [k for k in sorted(set(orig) | set(got)) if orig.get(k) != got.get(k)]
if bad:
    print(len(bad), "records differ; the first:", bad[0], file=sys.stderr)
    print("  file:  ", json.dumps(orig.get(bad[0]), ensure_ascii=False), file=sys.stderr)
    print("  export:", json.dumps(got.get(bad[0]), ensure_ascii=False), file=sys.stderr)
    sys.exit(1)
PY
}

TABLES="users emulator_settings device_identifiers library_settings
    reading_settings preferences"
URL=http://127.0.0.1:9 agent_init a dev-a
import_tables a "$T/inferred.json"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
ferryd_migrate
KA=$(make_key dev-a)
KB=$(make_key dev-b)
start_ferryd
files_point a "$URL"
agent_init b dev-b
import_tables b "$T/inferred.json"

ferry_in a import json "$T/users.json" --mapping "$T/inferred.json" \
    >/dev/null 2>"$T/import.err" || fail "import: $(cat "$T/import.err")"
# --infer foresaw exactly the import's round trip notes.
assert_eq "round trip notes: --infer vs the import" \
    "$(grep 'round trip' "$T/infer.err" | sort)" \
    "$(grep 'round trip' "$T/import.err" | sort)"
ferry_in a export json --mapping "$T/inferred.json" -o "$T/a.json" \
    2>>"$T/agent.log" || fail "export on a"
same_json "$T/users.json" "$T/a.json"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push on a"
pull_as b pull >/dev/null 2>>"$T/agent.log" || fail "pull on b"
ferry_in b export json --mapping "$T/inferred.json" -o "$T/b.json" \
    2>>"$T/agent.log" || fail "export on b"
same_json "$T/users.json" "$T/b.json"

# Bad input: an existing -o is kept, malformed JSON names its line.
cp "$T/inferred.json" "$T/kept.json"
assert_exit "--infer -o over an existing mapping" 2 \
    "$FERRY" import json "$T/users.json" --infer -o "$T/inferred.json"
cmp -s "$T/inferred.json" "$T/kept.json" || fail "--infer overwrote a mapping"
printf '{"a@b.c": {"x": 1},\n "d@e.f": {"x": }}\n' >"$T/bad.json"
assert_exit "--infer on malformed JSON" 3 \
    "$FERRY" import json "$T/bad.json" --infer -o "$T/bad.mapping.json"
grep -q "bad.json:2:" "$T/agent.log" || fail "no line for malformed JSON: $(tail -n 2 "$T/agent.log")"
[ ! -e "$T/bad.mapping.json" ] || fail "a failed --infer left its -o file"
assert_exit "--infer with --mapping" 2 \
    "$FERRY" import json "$T/users.json" --infer --mapping "$T/inferred.json"
note "the inferred mapping imports and exports users.json on both devices"
