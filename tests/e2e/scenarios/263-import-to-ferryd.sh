# `ferry import json FILE --to URL`: the rows go straight to ferryd's row
# API (batches of up to 1000 rows per table, parents first, each with an
# Idempotency-Key made from its rows), with the agent's key from the
# environment. The rows arrive: the store's counts per table are the ones
# Python computes from the JSON, values included. Running it again sends
# the same batches, which ferryd answers from its memory without writing
# (the rows keep their stamps). An edited file updates the rows (deleted
# users stay: the row API deletes nothing). A bad document sends nothing.
FIX=$E2E_DIR/fixtures
MAP=$FIX/users.mapping.json
TABLES="users emulator_settings device_identifiers library_settings
    reading_settings user_preferences"

python3 "$E2E_DIR/gen_users.py" --count 1500 -o "$T/users.json" ||
    fail "gen_users"
python3 "$E2E_DIR/gen_users.py" --count 1500 --edited -o "$T/users2.json" ||
    fail "gen_users --edited"

# counts FILE: "table rows" per table, computed from the JSON
counts() {
    python3 - "$MAP" "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
d = json.load(open(sys.argv[2], encoding="utf-8"))
print(m["table"], len(d))
for c in m["children"]:
    v = [u.get(c["field"]) for u in d.values()]
    if c["kind"] == "object":
        print(c["table"], sum(1 for x in v if x is not None))
    else:
        print(c["table"], sum(len(x) for x in v if x is not None))
PY
}

store_counts() {
    for t in $TABLES; do
        echo "$t $(store_sql "SELECT count(*) FROM $t")"
    done
}

# The schema: the tables an import creates, tracked, as the contract.
URL=http://127.0.0.1:9 agent_init a dev-a
echo '{}' >"$T/empty.json"
ferry_in a import json "$T/empty.json" --mapping "$MAP" --create \
    >/dev/null 2>>"$T/agent.log" || fail "import --create"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track"
ferry_in a contract --read all >"$T/contract.json" 2>>"$T/agent.log" ||
    fail "contract"
ferryd_migrate
KEY=$(make_key importer)
start_ferryd

ferry_in a import json "$T/users.json" --mapping "$MAP" --to "$URL" \
    >"$T/to1.out" 2>"$T/to1.err" || fail "import --to: $(cat "$T/to1.err")"
counts "$T/users.json" >"$T/want1"
store_counts >"$T/got1"
cmp -s "$T/want1" "$T/got1" || fail "store counts: $(cat "$T/got1")"
awk 'NR > 1 && NF == 5 { print $1, $2 }' "$T/to1.out" >"$T/sent1"
cmp -s "$T/want1" "$T/sent1" || fail "created per table: $(cat "$T/sent1")"
assert_eq "nothing queued locally" 0 \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"
[ -f "$T/users.json.backup" ] || fail "no copy of users.json"
want=$(python3 -c "
import json; d = json.load(open('$T/users.json', encoding='utf-8'))
print(sum(u['reading_settings']['font_size'] for u in d.values()
          if u.get('reading_settings')))")
assert_eq "font sizes in the store" "$want" \
    "$(store_sql "SELECT sum(font_size) FROM reading_settings")"
email=$(python3 -c "
import json; d = json.load(open('$T/users.json', encoding='utf-8'))
print(next(k for k, u in d.items() if 'ü' in k
           and (u.get('preferences') or {}).get('sort')))")
enc=$(python3 -c "import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe=''))" "$email")
curl -s "$URL/v1/tables/users/rows/$enc" -H "X-Api-Key: $KEY" \
    >"$T/row1.json" || fail "GET the row"
python3 - "$T/row1.json" "$T/users.json" "$email" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
u = json.load(open(sys.argv[2], encoding="utf-8"))[sys.argv[3]]
assert r["row"]["display_name"] == u["display_name"], r
assert r["row"]["auth_state"] == u["auth_state"], r
PY
    fail "the row of $email: $(cat "$T/row1.json")"

# Again: the same batches, answered from ferryd's memory; nothing written.
ferry_in a import json "$T/users.json" --mapping "$MAP" --to "$URL" \
    >"$T/to2.out" 2>>"$T/agent.log" || fail "second import --to"
curl -s "$URL/v1/tables/users/rows/$enc" -H "X-Api-Key: $KEY" \
    >"$T/row2.json" || fail "GET the row again"
assert_eq "the row's stamp after the second import" \
    "$(python3 -c "import json; print(json.load(open('$T/row1.json'))['hlc'])")" \
    "$(python3 -c "import json; print(json.load(open('$T/row2.json'))['hlc'])")"
store_counts >"$T/got2"
cmp -s "$T/want1" "$T/got2" || fail "store counts: $(cat "$T/got2")"

# A bad document sends nothing (checked whole before the first request).
python3 - "$T/users2.json" "$T/bad.json" <<'PY' || fail "bad.json"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
k = list(d)
d[k[-1]]["reading_settings"] = {"font_size": "large"}
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY
_rc=0
ferry_in a import json "$T/bad.json" --mapping "$MAP" --to "$URL" \
    >/dev/null 2>"$T/err" || _rc=$?
assert_eq "bad document: exit" 3 "$_rc"
grep -q 'reading_settings.font_size: expected integer, got "large"' \
    "$T/err" || fail "bad document: $(cat "$T/err")"
assert_eq "font sizes after the bad document" "$want" \
    "$(store_sql "SELECT sum(font_size) FROM reading_settings")"

# The edited file: the edits arrive; vanished users stay.
ferry_in a import json "$T/users2.json" --mapping "$MAP" --to "$URL" \
    >"$T/to3.out" 2>>"$T/agent.log" || fail "edited import --to"
want2=$(python3 -c "
import json
a = json.load(open('$T/users.json', encoding='utf-8'))
b = json.load(open('$T/users2.json', encoding='utf-8'))
print(sum((b.get(k) or a[k]).get('reading_settings', {}) and
          (b.get(k) or a[k])['reading_settings']['font_size'] or 0
          for k in a))")
assert_eq "font sizes after the edit" "$want2" \
    "$(store_sql "SELECT sum(font_size) FROM reading_settings")"
assert_eq "users after the edit" 1500 "$(store_sql "SELECT count(*) FROM users")"

# Usage: --to with what needs a local database.
assert_exit "--to with --delete-missing" 2 ferry_in a import json \
    "$T/users.json" --mapping "$MAP" --to "$URL" --delete-missing
assert_exit "--to ftp://" 2 ferry_in a import json "$T/users.json" \
    --mapping "$MAP" --to "ftp://x"
_k=$KEY
KEY=
assert_exit "--to without a key" 4 ferry_in a import json \
    "$T/users.json" --mapping "$MAP" --to "$URL"
KEY=$_k
