# stores: pg
# docs/backups.md's PostgreSQL commands, run as written against real
# PostgreSQL clusters (the embedded store's backup and restore are 285's).
# The old cluster has run long (its transaction epoch is 2); the dump taken
# while ferryd serves is restored into a new cluster (epoch 0), whose
# transaction ids are behind: `ferryd expire-cursors` refuses with the
# pg_resetwal step, which the scenario takes; then ferryd serves the new
# store, both agents' cursors (past the dump) get 410 and re-bootstrap,
# and the end state is exact: the dump's rows plus those written after the
# restore, on both agents too. A restore into the old cluster needs no
# pg_resetwal. Last, expire-cursors while ferryd serves and a pushes: b
# re-bootstraps again and misses nothing.
BK=docs/backups.md
own_pg
as_pg "$PGBIN/pg_ctl" -D "$OWN_PG/data" -m fast -w stop >/dev/null 2>&1 ||
    fail "stop the old cluster"
as_pg "$PGBIN/pg_resetwal" --epoch=2 "$OWN_PG/data" >/dev/null || fail "pg_resetwal"
pg_cluster_restart "$OWN_PG" || fail "restart the old cluster"
pull_setup_two
fill_items "$APPA" 200
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push of a"
pull_converge b
pull_as a pull >/dev/null 2>>"$T/agent.log" || fail "pull of a"
assert_eq "b = old store" "$(digest_store)" "$(digest_app "$APPB")"

ferryd() { "$FERRYD" "$@"; }
# docs_eval NAME: the example NAME of backups.md, run line by line
docs_eval() {
    docs_block $BK "$1" >"$T/doc.$1.sh"
    [ -s "$T/doc.$1.sh" ] || fail "no example '$1' in $BK"
    while IFS= read -r _line; do
        eval "$_line" >>"$T/docs.out" 2>&1 || fail "$BK '$1': $_line: $(tail -n 3 "$T/docs.out")"
    done <"$T/doc.$1.sh"
}
FERRYD_STORE=$STORE_URL
docs_eval pg-dump
[ -s ferry.dump ] || fail "no dump written"

# After the dump: a edits and adds rows, both devices pull them.
app_sql "$APPA" "UPDATE items SET name = name || ' edited' WHERE id <= 20;
    INSERT INTO items (id, name) SELECT id + 200, 'after the dump ' || id
    FROM items WHERE id <= 60"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push after the dump"
pull_converge b
pull_as a pull >/dev/null 2>>"$T/agent.log" || fail "pull of a after the dump"
assert_eq "b = old store after the dump" "$(digest_store)" "$(digest_app "$APPB")"

# Into the same cluster: no transaction id is behind, expire-cursors is all.
OLD=$STORE_URL
NEW_CLUSTER=$OLD NEW_STORE=${OLD%/*}/ferry
docs_eval pg-restore
grep -q "^pull cursors handed out before expire on .*/ferry (mark [0-9]*, epoch 1)$" \
    "$T/docs.out" || fail "expire-cursors in the same cluster: $(cat "$T/docs.out")"
stop_ferryd

# Into a new cluster, behind the old one.
# (OWN_PG is the cluster run.sh stops, whatever happens.)
NEW_PG=$(pg_cluster_start) || fail "cannot start the new cluster"
pg_cluster_stop "$OWN_PG"
OWN_PG=$NEW_PG
NEW_CLUSTER="postgresql://postgres@127.0.0.1:$(cat "$OWN_PG/port")/postgres"
NEW_STORE=${NEW_CLUSTER%/*}/ferry
NEW_PGDATA=$OWN_PG/data
docs_block $BK pg-restore >"$T/restore.sh"
[ "$(wc -l <"$T/restore.sh")" -eq 3 ] || fail "pg-restore: not three commands"
head -n 2 "$T/restore.sh" >"$T/restore12.sh"
while IFS= read -r line; do eval "$line" || fail "$line"; done <"$T/restore12.sh"
line=$(tail -n 1 "$T/restore.sh")
rc=0
eval "$line" >"$T/expire.out" 2>"$T/expire.err" || rc=$?
assert_eq "expire-cursors in a cluster behind: exit" 3 "$rc"
DOCS_SED='s/versions up to [0-9]+, above this database.s current one \([0-9]+\)/versions up to V, above the current one (C)/' \
    docs_check $BK expire-cursors-behind "$T/expire.err"
epoch=$(sed -n "s/.*pg_resetwal --epoch=\([0-9]*\)'.*/\1/p" "$T/expire.err")
assert_eq "the epoch to set" 3 "$epoch"
assert_eq "nothing expired yet" "" \
    "$(psql "$NEW_STORE" -qAt -c "SELECT value FROM ferry.meta WHERE key = 'prune_v'")"

# The documented pg_resetwal step (as the harness runs its clusters).
for cmd in 'pg_ctl --pgdata="$NEW_PGDATA" stop' \
    'pg_resetwal --epoch=3 "$NEW_PGDATA"' \
    'pg_ctl --pgdata="$NEW_PGDATA" start' \
    'ferryd --store "$NEW_STORE" expire-cursors'; do
    docs_block $BK pg-resetwal | grep -qxF "$cmd" || fail "$BK pg-resetwal lacks: $cmd"
done
as_pg "$PGBIN/pg_ctl" -D "$NEW_PGDATA" -m fast -w stop >/dev/null 2>&1 || fail "stop"
as_pg "$PGBIN/pg_resetwal" --epoch="$epoch" "$NEW_PGDATA" >/dev/null || fail "pg_resetwal"
pg_cluster_restart "$OWN_PG" || fail "start"
ferryd --store "$NEW_STORE" expire-cursors >"$T/expire.out" 2>"$T/expire.err" ||
    fail "expire-cursors after pg_resetwal: $(cat "$T/expire.err")"
DOCS_SED='s/on [^ ]* \(mark [0-9]+,/on URL (mark M,/' \
    docs_check $BK expire-cursors "$T/expire.out"

# ferryd on the new store; the agents go on.
STORE_URL=$NEW_STORE
start_ferryd "$PORT"
app_sql "$APPA" "INSERT INTO items (id, name) SELECT id + 1000, 'after the
    restore ' || id FROM items WHERE id <= 15"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push after the restore"
for d in b a; do
    pull_as $d pull >/dev/null 2>>"$T/agent.$d.log" || fail "pull of $d: $(tail -n 2 "$T/agent.$d.log")"
    grep -q 'cursor expired' "$T/agent.$d.log" || fail "$d met no 410"
done
pull_converge a b
for d in a b; do
    grep -q 're-bootstrap done' "$T/agent.$d.log" || fail "$d did not re-bootstrap"
done
assert_eq "new store: the dump's rows and those after the restore" \
    "200 0 0 15" "$(store_sql "SELECT count(*) FILTER (WHERE id <= 200),
        count(*) FILTER (WHERE id BETWEEN 201 AND 999),
        count(*) FILTER (WHERE name LIKE '%edited'),
        count(*) FILTER (WHERE id > 1000) FROM items" | tr '|' ' ')"
assert_eq "a = new store" "$(digest_store)" "$(digest_app "$APPA")"
assert_eq "b = new store" "$(digest_store)" "$(digest_app "$APPB")"

# expire-cursors while ferryd serves and a pushes: b's next pull re-bootstraps
# and nothing written meanwhile is missed.
app_sql "$APPA" "INSERT INTO items (id, name) VALUES (2001, 'during')"
ferry_in_bg_push() { KEY=$KA ferry_bg a push >/dev/null 2>>"$T/agent.log"; }
ferry_in_bg_push
push_pid=$!
ferryd --store "$NEW_STORE" expire-cursors >"$T/expire2.out" 2>&1 ||
    fail "expire-cursors while serving: $(cat "$T/expire2.out")"
wait $push_pid || fail "push during expire-cursors"
app_sql "$APPA" "INSERT INTO items (id, name) VALUES (2002, 'after')"
pull_as a push >/dev/null 2>>"$T/agent.log" || fail "push after expire-cursors"
n=$(grep -c 'cursor expired' "$T/agent.b.log")
pull_as b pull >/dev/null 2>>"$T/agent.b.log" || fail "pull of b"
assert_eq "b met 410 again" $((n + 1)) "$(grep -c 'cursor expired' "$T/agent.b.log")"
pull_converge b
assert_eq "b = store after a live expire-cursors" "$(digest_store)" "$(digest_app "$APPB")"
assert_eq "both rows there" 2 "$(store_sql "SELECT count(*) FROM items WHERE id IN (2001, 2002)")"
