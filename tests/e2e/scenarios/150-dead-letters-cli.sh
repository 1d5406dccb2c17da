# Dead letters are handled with ferry, not SQL: `ferry push` says when it
# parked changes and exits 6 when every change it sent was parked; `ferry
# dead list` shows them with local ISO times (--json keeps numbers); once
# the server's contract gains the table, `ferry dead retry --table T` puts
# them back and the next push sends each row as it is then (updated rows
# with their new values, deleted rows as deletes); `ferry dead drop` deletes
# them. Tables with a single and with a composite key, in any letter case.
contract_v() { # VERSION [with extra tables]
    {
        printf '{"version": %s, "tables": [{"name": "notes",\n' "$1"
        printf '  "columns": [{"name": "k", "type": "text", "not_null": true},\n'
        printf '              {"name": "due", "type": "date"}],\n'
        printf '  "primary_key": ["k"]}'
        if [ -n "${2:-}" ]; then
            printf ',\n {"name": "extra", "columns": [{"name": "id", "type": "text", "not_null": true},\n'
            printf '   {"name": "v", "type": "text"}], "primary_key": ["id"]},\n'
            printf ' {"name": "pairs", "columns": [{"name": "a", "type": "text", "not_null": true},\n'
            printf '   {"name": "b", "type": "bigint", "not_null": true}, {"name": "v", "type": "text"}],\n'
            printf '   "primary_key": ["a", "b"]}'
        fi
        printf ']}\n'
    } | write_contract "$T/contract.json"
}
contract_v 1
ferryd_migrate
KEY=$(make_key pc-1)
start_ferryd
agent_init a pc-1 3
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE notes (k TEXT PRIMARY KEY, due DATE);
  CREATE TABLE extra (id TEXT PRIMARY KEY, v TEXT);
  CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))"
ferry_in a track notes extra pairs >/dev/null 2>>"$T/agent.log" || fail track
dead_count() { app_sql "$APP" 'SELECT count(*) FROM _ferry_dead'; }

# A run where every change is parked: exit 6, and the summary says so.
app_sql "$APP" "INSERT INTO extra VALUES ('x1', 'one'), ('x2', 'two'),
  ('x3', 'three'), ('x4', 'four');
  INSERT INTO pairs VALUES ('p', 1, 'a'), ('p', 2, 'b'), ('q', 1, 'c')"
rc=0
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || rc=$?
assert_eq "exit code when all parked" 6 "$rc"
grep -q "pushed 0 changes.*7 rejected.*; 7 changes parked: see 'ferry dead list'" "$T/push.out" ||
    fail "summary: $(cat "$T/push.out")"
assert_eq "parked" 7 "$(dead_count)"

# Some sent, some parked: exit 0, the parked ones still named.
app_sql "$APP" "INSERT INTO notes VALUES ('n1', '2026-01-02'), ('n2', '2026-02-31')"
rc=0
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || rc=$?
assert_eq "exit code with some sent" 0 "$rc"
grep -q "; 1 change parked: see 'ferry dead list'" "$T/push.out" || fail "summary: $(cat "$T/push.out")"
assert_eq "good note stored" "n1" "$(store_sql 'SELECT k FROM notes')"

# list: a header, one line each, local ISO times, keys as people read them.
ferry_in a dead list >"$T/list.out" 2>>"$T/agent.log" || fail "dead list"
assert_eq "list lines" 9 "$(wc -l <"$T/list.out")"
head -n 1 "$T/list.out" | grep -q '^ID  *PARKED  *TABLE  *KEY  *STATUS  *CODE  *MESSAGE$' ||
    fail "list header: $(head -n 1 "$T/list.out")"
n=$(grep -cE '^[0-9]+ +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4} ' "$T/list.out")
assert_eq "rows with local ISO times" 8 "$n"
grep -qE ' extra +x3 +404 +unknown_table ' "$T/list.out" || fail "extra row: $(cat "$T/list.out")"
grep -qE ' pairs +\["p",2\] +404 ' "$T/list.out" || fail "composite key: $(cat "$T/list.out")"
grep -qE ' notes +n2 +422 +invalid_value .*due' "$T/list.out" || fail "bad date: $(cat "$T/list.out")"
ferry_in a dead list --json >"$T/list.json" 2>>"$T/agent.log" || fail "dead list --json"
python3 - "$T/list.json" <<'PY' || fail "dead list --json: $(cat "$T/list.json")"
import json, sys, time
d = json.load(open(sys.argv[1]))
assert len(d) == 8, d
for x in d:
    assert isinstance(x["at"], int) and abs(x["at"] - time.time()) < 600, x
    assert isinstance(x["id"], int) and isinstance(x["status"], int), x
    assert isinstance(x["key"], list), x
assert {"table": "pairs", "key": ["q", 1]}.items() <= {"table": d[6]["table"], "key": d[6]["key"]}.items(), d[6]
PY
assert_eq "list --table any case" 5 "$(ferry_in a dead list --table EXTRA 2>>"$T/agent.log" | wc -l)"

# Bad selectors are usage errors and change nothing; an unknown id is 1.
for args in "retry" "drop" "retry 0" "retry -3" "retry abc" "retry 1 --all" \
    "retry --all --table extra" "drop 1 2" "list --all" "retry --json" "bogus" ""; do
    # shellcheck disable=SC2086
    assert_exit "dead $args" 2 ferry_in a dead $args
done
assert_exit "retry unknown id" 1 ferry_in a dead retry 99999
assert_exit "drop unknown id" 1 ferry_in a dead drop 99999
for h in -h --help; do
    ferry_in a dead $h | grep -q '^usage: ferry dead list' || fail "dead $h"
    ferry_in a dead list $h | grep -q '^usage: ferry dead list' || fail "dead list $h"
done
assert_eq "nothing changed" 8 "$(dead_count)"

# The app fixes things meanwhile: x2 changes, x3 goes away, p/2 changes.
app_sql "$APP" "UPDATE extra SET v = 'two, fixed' WHERE id = 'x2';
  DELETE FROM extra WHERE id = 'x3'; UPDATE pairs SET v = 'b2' WHERE b = 2"
# The contract gains the tables; the dead letters go back and arrive.
stop_ferryd
contract_v 2 with-extra
ferryd_migrate
start_ferryd "$PORT"
ferry_in a dead retry --table Extra >"$T/retry.out" 2>>"$T/agent.log" || fail "retry --table"
grep -q '^re-queued 4 dead letters' "$T/retry.out" || fail "retry output: $(cat "$T/retry.out")"
id=$(app_sql "$APP" "SELECT id FROM _ferry_dead WHERE tbl = 'pairs' ORDER BY id LIMIT 1")
ferry_in a dead retry "$id" >"$T/retry.out" 2>>"$T/agent.log" || fail "retry ID"
grep -q '^re-queued 1 dead letter;' "$T/retry.out" || fail "retry ID output: $(cat "$T/retry.out")"
ferry_in a dead retry --table pairs >/dev/null 2>>"$T/agent.log" || fail "retry pairs"
assert_eq "one left (the bad date)" "notes" "$(app_sql "$APP" 'SELECT tbl FROM _ferry_dead')"
rc=0
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || rc=$?
assert_eq "push after retry" 0 "$rc"
assert_eq "extra as it is now" "x1|one
x2|two, fixed
x4|four" "$(store_sql 'SELECT id, v FROM extra ORDER BY id')"
assert_eq "pairs as they are now" "p|1|a
p|2|b2
q|1|c" "$(store_sql 'SELECT a, b, v FROM pairs ORDER BY a, b')"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"

# drop by id, by table, then all.
app_sql "$APP" "INSERT INTO notes VALUES ('n3', '2026-13-01'), ('n4', '2026-00-01');
  INSERT INTO extra VALUES ('bad', CAST(x'ff' AS TEXT))"
assert_exit "push of bad rows only" 6 ferry_in a push
assert_eq "parked again" 4 "$(dead_count)"
id=$(app_sql "$APP" "SELECT id FROM _ferry_dead WHERE pk = 'n3'")
ferry_in a dead drop "$id" | grep -q '^dropped 1 dead letter$' || fail "drop ID"
ferry_in a dead drop --table extra | grep -q '^dropped 1 dead letter$' || fail "drop --table"
assert_eq "two left" 2 "$(dead_count)"
ferry_in a dead drop --all | grep -q '^dropped 2 dead letters$' || fail "drop --all"
assert_eq "none left" 0 "$(dead_count)"
ferry_in a dead list | grep -q '^no dead letters$' || fail "empty list"
assert_eq "empty json" "[]" "$(ferry_in a dead list --json)"
