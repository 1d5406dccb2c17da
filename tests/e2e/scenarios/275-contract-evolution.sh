# Contract evolution with agents of version 1 pushing throughout (the
# worked example of docs/contract.md, its contracts and outputs checked):
# v1 -> v2 (a table, and columns with defaults) migrated while three v1
# agents push in a loop, ferryd restarted with v2: no push fails, nothing
# is parked, new rows get the defaults, an updated row keeps its stored
# value, and a v1 agent pulls rows with columns its table lacks. v3 drops
# a column: refused without --allow-drop (exit 3, nothing changed), shown
# by --dry-run, applied with it. ferryd then accepts versions 2 to 3 only:
# a v1 agent and a v4 agent get the 409, exit 11, park nothing and keep
# their outboxes. The v1 app upgrades (columns added and dropped, a table
# created): ferry contract --diff names each difference first, ferry track
# repairs the triggers, the diff is empty, and the kept outbox and the new
# columns' values arrive.
CO=docs/contract.md
for v in v1 v2 v3; do
    docs_block $CO evolution-$v >"$T/$v.json"
    [ -s "$T/$v.json" ] || fail "no example evolution-$v"
done
cp "$T/v1.json" "$T/contract.json"
ferryd_migrate
start_ferryd

ALL="a1 a2 a3"
for a in $ALL; do
    mkdir -p "$T/$a"
    app_sql "$T/$a/app.db" "PRAGMA journal_mode=WAL;
        CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, n INTEGER,
        old TEXT)" >/dev/null
    agent_init $a "dev-$a" 20
    make_key "dev-$a" >"$T/$a/key"
    # The version the app was built against.
    jq '.ferry.contract_version = 1' "$T/$a/config.json" >"$T/$a/c.json" &&
        mv "$T/$a/c.json" "$T/$a/config.json"
    KEY=$(cat "$T/$a/key") ferry_in $a track notes >/dev/null 2>>"$T/agent.log" ||
        fail "track $a"
done

as() { # AGENT ARGS...
    _a=$1
    shift
    KEY=$(cat "$T/$_a/key") ferry_in "$_a" "$@"
}
count_app() { sqlite3 "$T/$1/app.db" "$2"; }

# Each agent: insert a row, edit the one before, push; every exit code
# kept. A push retries while ferryd restarts, so every one must end 0.
pusher() { # AGENT
    i=0
    while [ ! -f "$T/stop" ]; do
        i=$((i + 1))
        app_sql "$T/$1/app.db" "INSERT INTO notes VALUES ('$1-$i', 'b$i', $i,
            'o$i'); UPDATE notes SET body = body || '+' WHERE id = '$1-$((i - 1))'"
        _rc=0
        as "$1" push --retry-for 60 >/dev/null 2>>"$T/$1/push.log" || _rc=$?
        echo $_rc >>"$T/$1/rcs"
    done
}
PIDS=
for a in $ALL; do
    pusher $a &
    PIDS="$PIDS $!"
done
rows() { store_sql "SELECT count(*) FROM notes"; }
wait_rows() { # N: until the store holds more than N rows
    _i=0
    while [ "$(rows)" -le "$1" ]; do
        _i=$((_i + 1))
        [ $_i -gt 600 ] && fail "no rows arrive (store has $(rows))"
        sleep 0.05
    done
}
wait_rows 15

# v2: the dry run prints the statements, as the docs show, and changes
# nothing; then migrate while the v1 ferryd serves.
"$FERRYD" --store "$STORE_URL" --contract "$T/v2.json" migrate --dry-run \
    >"$T/dry2.out" 2>&1 || fail "dry run v2: $(cat "$T/dry2.out")"
DOCS_SED="s|$STORE_URL|STORE|"
docs_check $CO evolution-dry-run-$STORE "$T/dry2.out"
case $STORE in
sqlite) ver='SELECT max(version) FROM ferry_schema_versions' ;;
pg) ver='SELECT max(version) FROM ferry.schema_versions' ;;
esac
assert_eq "dry run records nothing" 1 "$(store_sql "$ver")"
"$FERRYD" --store "$STORE_URL" --contract "$T/v2.json" migrate >"$T/m2.out" 2>&1 ||
    fail "migrate v2: $(cat "$T/m2.out")"
"$FERRYD" --store "$STORE_URL" --contract "$T/v2.json" migrate --dry-run \
    >"$T/dry2b.out" 2>&1
grep -qx "nothing to do: the store is at contract version 2" "$T/dry2b.out" ||
    fail "second dry run: $(cat "$T/dry2b.out")"
assert_eq "existing rows get the default" 0 \
    "$(store_sql "SELECT count(*) FROM notes WHERE prio <> 3 OR tag <> 'none'")"

# ferryd restarted with v2 on the same port, as docs say.
n=$(rows)
stop_ferryd
cp "$T/v2.json" "$T/contract.json"
sleep 0.3
start_ferryd "$PORT"
wait_rows $((n + 60))
touch "$T/stop"
for p in $PIDS; do wait "$p"; done
for a in $ALL; do
    as $a push >/dev/null 2>>"$T/$a/push.log" || fail "final push $a"
    bad=$(grep -cv '^0$' "$T/$a/rcs" || true)
    assert_eq "$a: pushes that failed ($(wc -l <"$T/$a/rcs") pushes)" 0 "$bad"
    assert_eq "$a: parked" 0 "$(count_app $a 'SELECT count(*) FROM _ferry_dead')"
    assert_eq "$a: queued" 0 "$(count_app $a 'SELECT count(*) FROM _ferry_outbox')"
done
total=0
for a in $ALL; do
    total=$((total + $(count_app $a 'SELECT count(*) FROM notes')))
done
assert_eq "every row arrived" "$total" "$(rows)"
assert_eq "new rows got the defaults" 0 \
    "$(store_sql "SELECT count(*) FROM notes WHERE prio <> 3 OR tag <> 'none'")"
note "$total rows from 3 agents of version 1 across the migration and restart"

# An update from a v1 agent keeps the stored value of a column it does
# not know; a new row from it gets the defaults; a v1 pull brings rows
# with columns its table lacks.
store_sql "UPDATE notes SET prio = 9, tag = 'set' WHERE id = 'a1-1'" >/dev/null
app_sql "$T/a1/app.db" "UPDATE notes SET body = 'edited' WHERE id = 'a1-1'"
as a1 push >/dev/null 2>>"$T/agent.log" || fail "push edit"
assert_eq "update keeps prio and tag" "edited|9|set" \
    "$(store_sql "SELECT body, prio, tag FROM notes WHERE id = 'a1-1'")"
as a1 pull >/dev/null 2>>"$T/agent.log" || fail "v1 pull: $(tail -n 3 "$T/agent.log")"
assert_eq "a1 pulled every row" "$(rows)" "$(count_app a1 'SELECT count(*) FROM notes')"

# v3 drops 'old': refused without the flag, nothing changed.
rc=0
"$FERRYD" --store "$STORE_URL" --contract "$T/v3.json" migrate >"$T/m3.out" 2>&1 || rc=$?
assert_eq "v3 without --allow-drop" 3 $rc
docs_check $CO evolution-v3-refused "$T/m3.out"
assert_eq "store still at v2" 2 "$(store_sql "$ver")"
assert_eq "column kept" "$(rows)" "$(store_sql "SELECT count(old) FROM notes")"
"$FERRYD" --store "$STORE_URL" --contract "$T/v3.json" migrate --allow-drop \
    --dry-run >"$T/dry3.out" 2>&1 || fail "dry run v3: $(cat "$T/dry3.out")"
case $STORE in
sqlite) docs_check $CO evolution-v3-dry-run "$T/dry3.out" ;;
pg) grep -qx 'ALTER TABLE "notes" DROP COLUMN IF EXISTS "old";' "$T/dry3.out" ||
    fail "dry run v3: $(cat "$T/dry3.out")" ;;
esac
assert_eq "dry run drops nothing" "$(rows)" "$(store_sql "SELECT count(old) FROM notes")"
"$FERRYD" --store "$STORE_URL" --contract "$T/v3.json" migrate --allow-drop \
    >"$T/m3.out" 2>&1 || fail "migrate v3: $(cat "$T/m3.out")"
assert_eq "store at v3" 3 "$(store_sql "$ver")"
if store_sql "SELECT count(old) FROM notes" >/dev/null 2>&1; then
    fail "column 'old' is still there"
fi

# ferryd serves v3 to versions 2 and 3: a v1 agent and a v4 agent get the
# 409, exit 11, park nothing, keep their outboxes.
stop_ferryd
cp "$T/v3.json" "$T/contract.json"
docs_block $CO evolution-settings >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json" start_ferryd "$PORT"
app_sql "$T/a1/app.db" "INSERT INTO notes VALUES ('a1-late', 'kept', 1, 'x');
    UPDATE notes SET body = 'kept too' WHERE id = 'a1-2'"
queued=$(count_app a1 'SELECT count(*) FROM _ferry_outbox')
assert_eq "a1 has queued changes" 2 "$queued"
rc=0
as a1 push >"$T/p409.out" 2>"$T/p409.err" || rc=$?
assert_eq "v1 agent exit code" 11 $rc
docs_lines_in $CO evolution-409 "$T/p409.err"
assert_eq "v1 outbox kept" "$queued" "$(count_app a1 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "v1 parked nothing" 0 "$(count_app a1 'SELECT count(*) FROM _ferry_dead')"
rc=0
as a1 sync --every 1 >/dev/null 2>"$T/sync409.err" || rc=$?
assert_eq "sync --every stops on it" 11 $rc
jq '.ferry.contract_version = 4' "$T/a2/config.json" >"$T/a2/c.json" &&
    mv "$T/a2/c.json" "$T/a2/config.json"
app_sql "$T/a2/app.db" "INSERT INTO notes VALUES ('a2-new', 'x', 1, 'x')"
rc=0
as a2 push >/dev/null 2>"$T/p4.err" || rc=$?
assert_eq "v4 agent exit code" 11 $rc
grep -q "accepts contract versions 2 to 3 (it serves version 3); this client sent version 4: migrate and serve the newer contract first" "$T/p4.err" ||
    fail "v4 message: $(cat "$T/p4.err")"
assert_eq "v4 outbox kept" 1 "$(count_app a2 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "v4 parked nothing" 0 "$(count_app a2 'SELECT count(*) FROM _ferry_dead')"

# The v1 app upgrades. Before: what differs from the served contract.
rc=0
as a1 contract --diff >"$T/diff1.out" 2>>"$T/agent.log" || rc=$?
assert_eq "diff exit before the upgrade" 1 $rc
docs_check $CO evolution-diff "$T/diff1.out"
app_sql "$T/a1/app.db" "ALTER TABLE notes ADD COLUMN prio INTEGER NOT NULL
    DEFAULT 3; ALTER TABLE notes ADD COLUMN tag TEXT;
    ALTER TABLE notes DROP COLUMN old;
    CREATE TABLE labels (id TEXT PRIMARY KEY, color TEXT)"
rc=0
as a1 status >/dev/null 2>>"$T/agent.log" || rc=$?
assert_eq "status sees the stale triggers" 7 $rc
as a1 track notes labels >"$T/track.out" 2>>"$T/agent.log" || fail "track"
grep -q "^repaired capture of notes" "$T/track.out" || fail "track: $(cat "$T/track.out")"
jq '.ferry.contract_version = 3' "$T/a1/config.json" >"$T/a1/c.json" &&
    mv "$T/a1/c.json" "$T/a1/config.json"
rc=0
as a1 contract --diff >"$T/diff2.out" 2>>"$T/agent.log" || rc=$?
assert_eq "diff exit after the upgrade" 0 $rc
assert_eq "no difference left" "" "$(cat "$T/diff2.out")"
app_sql "$T/a1/app.db" "INSERT INTO notes (id, body, n, prio, tag) VALUES
    ('a1-v3', 'new', 1, 7, 'fresh'); INSERT INTO labels VALUES ('l1', NULL)"
as a1 push >/dev/null 2>>"$T/agent.log" || fail "push after upgrade: $(tail -n 3 "$T/agent.log")"
assert_eq "a1 parked nothing" 0 "$(count_app a1 'SELECT count(*) FROM _ferry_dead')"
assert_eq "a1 outbox sent" 0 "$(count_app a1 'SELECT count(*) FROM _ferry_outbox')"
assert_eq "the kept outbox arrived" "kept|kept too" \
    "$(store_sql "SELECT a.body || '|' || b.body FROM notes a, notes b
        WHERE a.id = 'a1-late' AND b.id = 'a1-2'")"
assert_eq "new columns' values arrive" "7|fresh" \
    "$(store_sql "SELECT prio, tag FROM notes WHERE id = 'a1-v3'")"
assert_eq "a color named null stays null" "" \
    "$(store_sql "SELECT color FROM labels WHERE id = 'l1'")"
