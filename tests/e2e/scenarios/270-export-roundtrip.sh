# The must-show round trip of the user-profile migration: a generated
# users.json of 2,000 users (tests/e2e/gen_users.py: nested settings,
# free-form preferences, unicode, nulls) imported with
# tests/e2e/fixtures/users.mapping.json, then `ferry export json`: the
# document equals the original (compared as parsed JSON; a field the
# import named in a "round trip" note is absent in some users and null in
# others, and comes back null in both). Then the way back from the central
# store: device A pushes, device B pulls ("read": "all") and B's export
# equals the original too. The edited file (with --delete-missing) goes the
# same way: A's and B's exports equal it.
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

# same_json ORIGINAL EXPORT NOTES: equal documents, once the fields NOTES
# (the import's stderr) names are null where ORIGINAL leaves them out
# (gen_users.py leaves last_used and emulator_settings out of some users
# and sets them null in others; the mapping's omit_null is false)
same_json() {
    python3 - "$1" "$2" "$3" <<'PY' || fail "$2 differs from $1"
import json, re, sys
orig, got = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
notes = re.findall(r"round trip: \$\.\*\.(\S+) is absent", open(sys.argv[3]).read())
assert "emulator_settings" in notes, notes
for path in set(notes):
    *outer, last = path.split(".")
    for rec in orig.values():
        for name in outer:
            rec = rec.get(name) if isinstance(rec, dict) else None
        if isinstance(rec, dict):
            rec.setdefault(last, None)
if orig != got:
    bad = [k for k in sorted(set(orig) | set(got)) if orig.get(k) != got.get(k)]
    print(len(bad), "records differ; the first:", bad[0], file=sys.stderr)
    print("  file:  ", json.dumps(orig.get(bad[0]), ensure_ascii=False), file=sys.stderr)
    print("  export:", json.dumps(got.get(bad[0]), ensure_ascii=False), file=sys.stderr)
    sys.exit(1)
print(len(orig), "records equal;", len(notes), "fields null for absent:", notes)
PY
}

export_on() { # D OUT
    ferry_in "$1" export json --mapping "$MAP" -o "$2" 2>>"$T/agent.log" ||
        fail "export on $1: $(tail -n 2 "$T/agent.log")"
}

# The tables: created by an import of an empty document, tracked.
URL=http://127.0.0.1:9 agent_init a dev-a
import_tables a "$MAP"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
ferryd_migrate
KA=$(make_key dev-a)
KB=$(make_key dev-b)
start_ferryd
files_point a "$URL"
agent_init b dev-b
import_tables b "$MAP"

ferry_in a import json "$T/users.json" --mapping "$MAP" >/dev/null \
    2>"$T/imp1.err" || fail "import: $(cat "$T/imp1.err")"
export_on a "$T/a1.json"
same_json "$T/users.json" "$T/a1.json" "$T/imp1.err" >>"$T/steps.out"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push on a"
pull_as b pull >/dev/null 2>>"$T/agent.log" || fail "pull on b"
export_on b "$T/b1.json"
same_json "$T/users.json" "$T/b1.json" "$T/imp1.err" >>"$T/steps.out"

ferry_in a import json "$T/users2.json" --mapping "$MAP" --delete-missing \
    >/dev/null 2>"$T/imp2.err" || fail "import of the edit: $(cat "$T/imp2.err")"
export_on a "$T/a2.json"
same_json "$T/users2.json" "$T/a2.json" "$T/imp2.err" >>"$T/steps.out"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "second push on a"
pull_as b pull >/dev/null 2>>"$T/agent.log" || fail "second pull on b"
export_on b "$T/b2.json"
same_json "$T/users2.json" "$T/b2.json" "$T/imp2.err" >>"$T/steps.out"
cmp -s "$T/a1.json" "$T/a2.json" && fail "the edit changed nothing"
note "$(tail -n 1 "$T/steps.out")"
