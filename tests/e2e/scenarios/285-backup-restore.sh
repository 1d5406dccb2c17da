# stores: sqlite
# ferryd backup and restore of the embedded store (docs/backups.md); a
# PostgreSQL store is backed up with pg_dump instead (287), so this runs on
# SQLite only.
#
# Eight agents insert rows and `ferry sync` (push, then pull everyone's
# rows) in loops while `ferryd backup` copies the store three times. Each
# copy passes SQLite's integrity check and is one moment of the store:
# every device's rows in it are a prefix of what it inserted (row k is its
# change seq k: inserts only, so no seq is coalesced away), its
# acknowledged seq equals its row count, and the revision counter equals
# the newest row's revision. A copy torn between transactions fails that.
#
# Then the second copy is restored into the stopped store (refused while
# ferryd serves it), ferryd restarts, every agent adds rows and syncs: its
# cursor from before the restore gets 410 cursor_expired, it re-bootstraps,
# and the end state is exact: each device's rows in the store are its
# rows in the backup plus those added after the restore; the rows
# acknowledged between backup and restore are gone from the store and,
# after the re-bootstrap, from every agent too; every agent equals the
# store. Last, `ferryd expire-cursors` while ferryd serves: two agents
# re-bootstrap again and end equal to the store.
AGENTS=8
items_contract
ferryd_migrate
start_ferryd
for d in $(seq 1 $AGENTS); do
    make_key "dev-$d" >"$T/key.$d"
    agent_init "a$d" "dev-$d" 50
    app_sql "$T/a$d/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
        name TEXT, qty INTEGER, price REAL, data BLOB)"
    KEY=$(cat "$T/key.$d") ferry_in "a$d" track items >/dev/null || fail "track a$d"
done

# add_rows D N: device D's next N rows (id D*1000000+k, qty k) in one tx
add_rows() {
    _k=$(app_sql "$T/a$1/app.db" "SELECT coalesce(max(qty), 0) FROM items
        WHERE id / 1000000 = $1")
    app_sql "$T/a$1/app.db" "WITH RECURSIVE n(k) AS (SELECT $_k + 1 UNION ALL
        SELECT k + 1 FROM n WHERE k < $_k + $2) INSERT INTO items (id, name,
        qty) SELECT $1 * 1000000 + k, 'dev-$1 row ' || k, k FROM n"
}

sync_as() { # D: one ferry sync of agent D
    KEY=$(cat "$T/key.$1") ferry_in "a$1" sync --retry-for 60 \
        >>"$T/sync.$1.out" 2>>"$T/agent.$1.log"
}

agent_loop() { # D: rows and syncs until $T/stop exists
    while [ ! -f "$T/stop" ]; do
        add_rows "$1" 7
        sync_as "$1" || echo "sync failed" >>"$T/loop.$1.err"
    done
}

# check_copy FILE: integrity and one moment, as the header says
check_copy() {
    assert_eq "integrity of $1" ok "$(sqlite3 "$1" "PRAGMA integrity_check")"
    for d in $(seq 1 $AGENTS); do
        read -r n hi lo <<EOF
$(sqlite3 -separator ' ' "$1" "SELECT count(*), coalesce(max(qty), 0),
    coalesce(min(qty), 1) FROM items WHERE id / 1000000 = $d")
EOF
        assert_eq "dev-$d's rows in $1 are a prefix (count = max)" "$n" "$hi"
        assert_eq "dev-$d's rows in $1 start at 1" 1 "$lo"
        ack=$(sqlite3 "$1" "SELECT coalesce((SELECT acked_seq FROM
            ferry_devices WHERE device = 'dev-$d'), 0)")
        assert_eq "dev-$d's acked seq in $1 = its rows" "$n" "$ack"
    done
    assert_eq "revision counter of $1 = newest row" \
        "$(sqlite3 "$1" "SELECT max(_ferry_rev) FROM (SELECT _ferry_rev FROM
            items UNION ALL SELECT _ferry_rev FROM ferry_tomb_items)")" \
        "$(sqlite3 "$1" "SELECT value FROM ferry_meta WHERE key = 'rev'")"
}

loops=
for d in $(seq 1 $AGENTS); do
    agent_loop "$d" &
    loops="$loops $!"
done
sleep 2
for b in 1 2 3; do
    "$FERRYD" --store "$STORE_URL" backup "$T/b$b.db" >"$T/backup.$b.out" \
        2>>"$T/ferryd.log" || fail "backup $b: $(tail -n 2 "$T/ferryd.log")"
    grep -q "^backup $T/b$b.db: [0-9]* bytes, contract version 1, integrity ok," \
        "$T/backup.$b.out" || fail "backup line: $(cat "$T/backup.$b.out")"
    note "$(cat "$T/backup.$b.out")"
    sleep 1.5
done
touch "$T/stop"
for p in $loops; do wait "$p"; done
for d in $(seq 1 $AGENTS); do
    [ ! -s "$T/loop.$d.err" ] || fail "a$d: $(tail -n 3 "$T/agent.$d.log")"
done
for b in 1 2 3; do
    check_copy "$T/b$b.db"
done
DOCS_SED='s|^backup [^ ]*:|backup FILE:|; s/[0-9]+/N/g' \
    docs_check docs/backups.md backup "$T/backup.1.out"
r1=$(sqlite3 "$T/b1.db" "SELECT value FROM ferry_meta WHERE key = 'rev'")
r3=$(sqlite3 "$T/b3.db" "SELECT value FROM ferry_meta WHERE key = 'rev'")
[ "$r1" -gt 0 ] && [ "$r3" -gt "$r1" ] || fail "the copies did not move: revisions $r1, $r3"

# Quiet: every agent pushed everything and pulled everyone's rows.
for round in 1 2; do
    for d in $(seq 1 $AGENTS); do sync_as "$d" || fail "sync a$d"; done
done
for d in $(seq 1 $AGENTS); do
    assert_eq "a$d = store before the restore" "$(digest_store)" \
        "$(digest_app "$T/a$d/app.db")"
done
B=$T/b2.db
brev=$(sqlite3 "$B" "SELECT value FROM ferry_meta WHERE key = 'rev'")
ahead=0
for d in $(seq 1 $AGENTS); do
    sqlite3 "${STORE_URL#sqlite:}" "SELECT count(*) FROM items WHERE
        id / 1000000 = $d" >"$T/before.$d"
    cur=$(app_sql "$T/a$d/app.db" "SELECT value FROM _ferry_state WHERE
        key = 'pull_cursor'")
    v=$(echo "$cur" | cut -d. -f2)
    [ "$v" -gt "$brev" ] && ahead=$((ahead + 1))
done
assert_eq "cursors ahead of the backup's revision $brev" $AGENTS $ahead
lost=$(( $(sqlite3 "${STORE_URL#sqlite:}" "SELECT count(*) FROM items") -
    $(sqlite3 "$B" "SELECT count(*) FROM items") ))
[ "$lost" -gt 0 ] || fail "nothing was written after the backup"
note "restoring b2 loses $lost rows acknowledged after it"

# Restore: refused while ferryd serves the store, nothing changed.
before=$(digest_store)
live_rev=$(store_sql "SELECT value FROM ferry_meta WHERE key = 'rev'")
assert_exit "restore while serving" 5 "$FERRYD" --store "$STORE_URL" restore "$B"
grep -q "is in use (is ferryd serving it?)" "$T/agent.log" ||
    fail "no reason given: $(tail -n 1 "$T/agent.log")"
assert_eq "store untouched by the refused restore" "$before" "$(digest_store)"
stop_ferryd
"$FERRYD" --store "$STORE_URL" restore "$B" >"$T/restore.out" 2>>"$T/ferryd.log" ||
    fail "restore: $(tail -n 2 "$T/ferryd.log")"
note "$(cat "$T/restore.out")"
grep -q "^restored $B into $STORE_URL: contract version 1, integrity ok," \
    "$T/restore.out" || fail "restore line: $(cat "$T/restore.out")"
DOCS_SED='s|^restored [^ ]* into [^ ]*:|restored FILE into STORE:|; s/[0-9]+/N/g' \
    docs_check docs/backups.md restore "$T/restore.out"
assert_eq "store = backup" "$(digest_app "$B")" "$(digest_store)"
assert_eq "acked seqs = backup's" \
    "$(sqlite3 "$B" "SELECT group_concat(device || ':' || acked_seq) FROM
        (SELECT * FROM ferry_devices ORDER BY device)")" \
    "$(store_sql "SELECT group_concat(device || ':' || acked_seq) FROM
        (SELECT * FROM ferry_devices ORDER BY device)")"
mark=$(store_sql "SELECT value FROM ferry_meta WHERE key = 'prune_v'")
[ "$mark" -gt "$live_rev" ] || fail "pruning mark $mark not past the store's revision $live_rev"
[ ! -e "${STORE_URL#sqlite:}-journal" ] || fail "a journal was left beside the store"
ls "$T" | grep -q 'restore-' && fail "a temporary file was left: $(ls "$T")"

# Agents go on against the restored store, on the same port.
start_ferryd "$PORT"
for d in $(seq 1 $AGENTS); do
    add_rows "$d" 5
    sync_as "$d" || fail "sync a$d after the restore: $(tail -n 3 "$T/agent.$d.log")"
done
expired=0
for d in $(seq 1 $AGENTS); do
    grep -q 'cursor expired' "$T/agent.$d.log" && expired=$((expired + 1))
done
assert_eq "agents that met 410 cursor_expired" $AGENTS $expired
for round in 1 2; do
    for d in $(seq 1 $AGENTS); do sync_as "$d" || fail "sync a$d"; done
done
for d in $(seq 1 $AGENTS); do
    grep -q 're-bootstrap done' "$T/agent.$d.log" || fail "a$d did not re-bootstrap"
    n_b=$(sqlite3 "$B" "SELECT count(*) FROM items WHERE id / 1000000 = $d")
    n_live=$(cat "$T/before.$d")
    [ "$n_b" -gt 0 ] && [ "$n_live" -gt "$n_b" ] ||
        fail "dev-$d: $n_b rows in the backup, $n_live before the restore"
    # Exactly: the backup's prefix 1..n_b, then n_live+1..n_live+5.
    assert_eq "dev-$d's rows in the store" \
        "$n_b $n_b $((n_live + 1)) $((n_live + 5)) $((n_b + 5))" \
        "$(store_sql "SELECT max(qty) FILTER (WHERE qty <= $n_b),
            count(*) FILTER (WHERE qty <= $n_b),
            min(qty) FILTER (WHERE qty > $n_b), max(qty), count(*)
            FROM items WHERE id / 1000000 = $d" | tr '|' ' ')"
    assert_eq "a$d = store after the restore" "$(digest_store)" \
        "$(digest_app "$T/a$d/app.db")"
done

# expire-cursors while ferryd serves: the next pull of each agent gets 410
# and re-bootstraps; it ends equal to the store.
"$FERRYD" --store "$STORE_URL" expire-cursors >"$T/expire.out" 2>>"$T/ferryd.log" ||
    fail "expire-cursors while serving"
for d in 1 2; do
    n=$(grep -c 'cursor expired' "$T/agent.$d.log")
    add_rows "$d" 3
    sync_as "$d" || fail "sync a$d after expire-cursors"
    assert_eq "a$d met 410 again" $((n + 1)) "$(grep -c 'cursor expired' "$T/agent.$d.log")"
done
for d in 1 2; do sync_as "$d" || fail "sync a$d"; done
for d in 1 2; do
    assert_eq "a$d = store after expire-cursors" "$(digest_store)" "$(digest_app "$T/a$d/app.db")"
done
