# `ferry why TABLE KEY` (docs/operations.md, "Why didn't this row
# sync?") answers for a row in each state, each produced by real agents and
# a real ferryd: not known anywhere, captured and queued while ferryd is
# down, sent but not acknowledged (ferryd killed mid-batch), acknowledged
# and stored (with its batch and seq), parked as a dead letter (a value
# ferryd refuses), superseded by another device's newer write (an upsert;
# a delete), deleted, outside the read scope (another region's row). And
# its bad input: usage, an unknown table, a bad key, a device key as the
# admin key, no admin key.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "items", "primary_key": ["id"], "read": "all",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "name", "type": "text", "not_null": true},
              {"name": "data", "type": "bytea"}]},
 {"name": "sites", "primary_key": ["k"], "region_column": "region", "read": "region",
  "columns": [{"name": "k", "type": "text", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "v", "type": "text"}]}]}
JSON
ferryd_migrate
KA=$(make_key dev-a --region r1)
KB=$(make_key dev-b --region r2)
KC=$(make_key dev-c --region r1)
ADM=$(make_key ops --admin)
start_ferryd
FIXED_PORT=$PORT
for d in a b c; do
    agent_init $d dev-$d 10000
    app_sql "$T/$d/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, data BLOB);
        CREATE TABLE sites (k TEXT PRIMARY KEY, region TEXT, v TEXT)"
    ferry_in $d track items sites >/dev/null || fail "track on $d"
done
# why DEVICE ARGS... -> exit code; facts in $T/why.out, errors in $T/why.err
why() {
    _d=$1
    shift
    _rc=0
    FERRY_ADMIN_KEY=${ADMIN-$ADM} "$FERRY" --config "$T/$_d/config.json" why "$@" \
        >"$T/why.out" 2>"$T/why.err" || _rc=$?
    cat "$T/why.out" >>"$T/why.log"
    echo "$_rc"
}
# has PATTERN: a line of the last answer matches (grep -E)
has() {
    grep -Eq "$1" "$T/why.out" || fail "no line /$1/ in: $(cat "$T/why.out" "$T/why.err")"
}
# The docs' examples are this scenario's output; times and versions vary.
DOCS_SED='s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/TIME/g; s/version [0-9]+\.[0-9]+/version V/g'
push_as() { # DEVICE [ARGS...]
    _d=$1
    shift
    case $_d in a) KEY=$KA ;; b) KEY=$KB ;; c) KEY=$KC ;; esac
    ferry_in "$_d" push "$@" >>"$T/push.out" 2>>"$T/agent.log"
}

# not known anywhere
assert_eq "unknown: exit" 0 "$(why a items 999)"
has '^this device has no row with this key$'
has '^no change of this key waits on this device'
has '^not known anywhere: no row, no queued change and no dead letter on this device, and the server has never stored this key$'

# captured and queued while ferryd is down: the server's side is missing
stop_ferryd
app_sql "$T/a/app.db" "INSERT INTO items VALUES (5, 'five', NULL); INSERT INTO items VALUES (1, 'one', NULL)"
assert_eq "queued: exit (server unreachable)" 5 "$(why a items 1)"
has '^this device has the row$'
has '^captured at 20[0-9-]+T[0-9:.]+Z and queued, not sent yet: 1 change is ahead of it in the outbox$'
has "^the server's side is missing: "
assert_eq "queued, no admin key: exit" 0 "$(ADMIN= why a items 1)"
has '^captured at .* and queued, not sent yet'
has "^the server's side is missing: FERRY_ADMIN_KEY is not set"

# acknowledged and stored: the batch and the seq it was acknowledged at
start_ferryd "$FIXED_PORT"
push_as a || fail "push a"
assert_eq "stored: exit" 0 "$(why a items 1)"
has "^stored on the server: written by device 'dev-a' at 20.*Z \(HLC [0-9a-f]{16}, version [0-9]+\.[0-9]+\)$"
has "^that is this device's write: sent in batch #1 \(seqs 1-2\) at .*, acknowledged at seq 2$"
has '^no change of this key waits on this device: nothing queued, in flight or parked \(acknowledged seq 2, last push 20'
has "^the server has acknowledged this device's changes up to seq 2$"
docs_check docs/commands.md why-stored "$T/why.out"
assert_eq "--json" '"stored"|"dev-a"|1' \
    "$(FERRY_ADMIN_KEY=$ADM "$FERRY" --config "$T/a/config.json" why --json items 1 |
        jq -r '[(.server.state | tojson), (.server.row.origin | tojson), .local.stored_batch.id] | join("|")')"

# parked as a dead letter: ferryd refuses a NULL name
app_sql "$T/a/app.db" "INSERT INTO items VALUES (2, NULL, NULL)"
push_as a || true
assert_eq "dead: exit" 0 "$(why a items 2)"
has "^parked as dead letter #1 at 20.*Z: the server refused it \(422 [a-z_]+\): .*; fix the row or the contract, then 'ferry dead retry 1'$"
has '^the server has never stored this key$'

# superseded by another device's newer upsert (a has not pulled yet)
app_sql "$T/a/app.db" "INSERT INTO items VALUES (3, 'by a', NULL); INSERT INTO items VALUES (4, 'by a', NULL)"
push_as a || fail "push a"
app_sql "$T/a/app.db" "DELETE FROM items WHERE id = 4"
push_as a || fail "push a"
sleep_ms 20
app_sql "$T/b/app.db" "INSERT INTO items VALUES (3, 'by b', NULL); INSERT INTO items VALUES (4, 'by b', NULL)"
push_as b || fail "push b"
assert_eq "superseded: exit" 0 "$(why a items 3)"
has "^stored on the server: written by device 'dev-b'"
has "^superseded: the stored version is a newer write from device 'dev-b' \(HLC [0-9a-f]{16}\); this device's copy differs, and its next pull replaces it$"
docs_check docs/operations.md why-superseded "$T/why.out"
# ...and a delete superseded: ferryd holds a's tombstone under b's row
assert_eq "superseded delete: exit" 0 "$(why a items 4)"
has "^superseded: this device deleted it, and a newer write from device 'dev-b' \(HLC [0-9a-f]{16}\) replaced the delete$"
# after a pull a holds the stored version
KEY=$KA ferry_in a pull >>"$T/push.out" 2>>"$T/agent.log" || fail "pull a"
assert_eq "after pull: exit" 0 "$(why a items 3)"
has '^this device holds the stored version$'

# deleted
app_sql "$T/a/app.db" "INSERT INTO items VALUES (6, 'six', NULL)"
push_as a || fail "push a"
app_sql "$T/a/app.db" "DELETE FROM items WHERE id = 6"
push_as a || fail "push a"
assert_eq "deleted: exit" 0 "$(why a items 6)"
has '^this device has no row with this key$'
has "^deleted on the server by device 'dev-a' at 20.*Z \(HLC [0-9a-f]{16}\)$"

# outside the read scope: a's row of region r1, asked on b (region r2)
app_sql "$T/a/app.db" "INSERT INTO sites VALUES ('x', 'r1', 'office a')"
push_as a || fail "push a"
assert_eq "scope: exit" 0 "$(why b sites x)"
has "^stored on the server: written by device 'dev-a'"
has "^outside this device's read scope: table 'sites' is read by region, the row is region 'r1''s and this device's key is region 'r2''s, so pull never brings it$"

# sent but not acknowledged: ferryd killed while it receives a batch
app_sql "$T/c/app.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < 10000) INSERT INTO items SELECT i + 100, 'row ' || i, randomblob(400) FROM n"
KEY=$KC ferry_bg c push --retry-for 1
PUSH_PID=$!
i=0
until [ "$(app_sql "$T/c/app.db" 'SELECT count(*) FROM _ferry_outbox WHERE seq IS NOT NULL')" != 0 ]; do
    i=$((i + 1))
    [ $i -gt 3000 ] && fail "the batch was never numbered"
    kill -0 "$PUSH_PID" 2>/dev/null || break
done
kill9_ferryd
rc=0
wait "$PUSH_PID" >/dev/null 2>&1 || rc=$?
left=$(app_sql "$T/c/app.db" 'SELECT count(*) FROM _ferry_outbox WHERE seq IS NOT NULL')
[ "$rc" -ne 0 ] && [ "$left" -gt 0 ] ||
    fail "the push finished before ferryd was killed (exit $rc, $left in flight): nothing to observe"
assert_eq "in flight: exit (ferryd down)" 5 "$(why c items 101)"
has '^sent as seq 1 in batch #1 \(seqs 1-10000, 10000 changes\) at 20.*Z, not acknowledged yet: the next push sends it again, and ferryd skips it if it already applied it$'
start_ferryd "$FIXED_PORT"
push_as c || fail "push c after the restart"
assert_eq "in flight, then stored: exit" 0 "$(why c items 101)"
has "^that is this device's write: sent in batch #[0-9]+ \(seqs 1-10000\) at .*, acknowledged at seq 10000$"

# bad input
assert_exit "no arguments" 2 "$FERRY" --config "$T/a/config.json" why
assert_exit "one argument" 2 "$FERRY" --config "$T/a/config.json" why items
assert_exit "bad option" 2 "$FERRY" --config "$T/a/config.json" why --nope items 1
assert_eq "bad key" 2 "$(why a items abc)"
grep -q "key: not a value of the key column" "$T/why.err" || fail "bad key: $(cat "$T/why.err")"
assert_eq "unknown table" 3 "$(why a nope 1)"
grep -q "no table 'nope' on this device or in ferryd's contract" "$T/why.err" || fail "unknown table: $(cat "$T/why.err")"
assert_eq "a device key as admin key" 4 "$(ADMIN=$KA why a items 1)"
has "^the server's side is missing: .*"
has '^this device has the row$'
assert_eq "a wrong key" 4 "$(ADMIN=fk_wrong why a items 1)"
stop_ferryd
# the synopsis in docs/commands.md is what --help prints
assert_eq "usage-why" "$(docs_block docs/commands.md usage-why)" \
    "$("$FERRY" why --help | head -n 1 | sed 's/^usage: //')"
