# ferryd backup, restore and expire-cursors given bad input: each is
# refused with its exit code (docs/commands.md) and a reason, and neither
# the store nor an existing file changes. On PostgreSQL, backup and
# restore point at pg_dump (exit 2); the file cases are SQLite's.
items_contract
ferryd_migrate
KEY=$(make_key dev-1)
start_ferryd
agent_init a dev-1
fill_items "$T/a/app.db" 40
ferry_in a track items >/dev/null || fail track
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail push
stop_ferryd
before=$(digest_store)

# refused WHAT CODE PHRASE ARGS...: ferryd ARGS exits CODE saying PHRASE
refused() {
    _what=$1 _code=$2 _phrase=$3
    shift 3
    _rc=0
    "$FERRYD" --store "$STORE_URL" "$@" >"$T/out" 2>"$T/err" || _rc=$?
    assert_eq "$_what: exit" "$_code" "$_rc"
    grep -qF -- "$_phrase" "$T/err" || fail "$_what: no '$_phrase' in: $(cat "$T/err")"
    assert_eq "$_what: nothing on stdout" "" "$(cat "$T/out")"
    assert_eq "$_what: store unchanged" "$before" "$(digest_store)"
}

# docs/commands.md's synopsis is what --help prints.
assert_eq "usage-backup in docs/commands.md" \
    "$(docs_block docs/commands.md usage-backup | tr -s ' ')" \
    "$("$FERRYD" backup --help | sed -n '1,3s/^\(usage:\)\{0,1\} *//p' | tr -s ' ')"
refused "backup without FILE" 2 "usage: ferryd" backup
refused "backup with two files" 2 "usage: ferryd" backup "$T/x.db" "$T/y.db"
refused "backup, unknown flag" 2 "usage: ferryd" backup --fast "$T/x.db"
refused "restore --force" 2 "usage: ferryd" restore --force "$T/x.db"
refused "restore without FILE" 2 "usage: ferryd" restore
refused "expire-cursors with an argument" 2 "usage: ferryd" expire-cursors now

if [ "$STORE" = pg ]; then
    refused "backup of PostgreSQL" 2 "docs/backups.md#postgresql" backup "$T/x.db"
    refused "restore into PostgreSQL" 2 "pg_restore" restore "$T/x.db"
    [ ! -e "$T/x.db" ] || fail "a file was written"
    return 0
fi

"$FERRYD" --store "$STORE_URL" backup "$T/good.db" >/dev/null 2>"$T/err" ||
    fail "backup: $(cat "$T/err")"
good=$(md5sum <"$T/good.db")

# An existing target stays as it is.
echo "precious" >"$T/precious.txt"
refused "backup over a file" 2 "exists" backup "$T/precious.txt"
assert_eq "existing file kept" precious "$(cat "$T/precious.txt")"
refused "backup --force over the store itself" 2 "is the store itself" \
    backup --force "${STORE_URL#sqlite:}"
refused "backup --force over the store by another name" 2 "is the store itself" \
    backup --force "$(dirname "${STORE_URL#sqlite:}")/./$(basename "${STORE_URL#sqlite:}")"
refused "backup into a missing directory" 1 "cannot create a file next to" \
    backup "$T/nodir/b.db"
refused "backup of a store that does not exist" 3 "does not exist yet" \
    --store "sqlite:$T/nothere.db" backup "$T/n.db"
[ ! -e "$T/nothere.db" ] || fail "backup created a store"
sqlite3 "$T/plain.db" "CREATE TABLE t (a)"
refused "backup of a store never migrated" 3 "is not a ferry store" \
    --store "sqlite:$T/plain.db" backup "$T/n.db"
[ ! -e "$T/n.db" ] || fail "a backup of nothing was written"

# Restores of files that are not ferry backups.
refused "restore of a missing file" 1 "cannot read" restore "$T/missing.db"
refused "restore of a directory" 1 "is not a file" restore "$T"
head -c 4096 /dev/urandom >"$T/noise.bin"
refused "restore of a non-SQLite file" 1 "is not a SQLite database" restore "$T/noise.bin"
refused "restore of a SQLite file that is not a ferry store" 1 \
    "is not a ferry store: it has no table ferry_meta" restore "$T/plain.db"
sqlite3 "$T/half.db" "CREATE TABLE ferry_meta (key TEXT PRIMARY KEY, value
    INTEGER); CREATE TABLE ferry_schema_versions (version INTEGER);
    CREATE TABLE ferry_devices (device TEXT)"
refused "restore of a store migrate never finished" 1 "no contract version" \
    restore "$T/half.db"
# A backup damaged in the middle: SQLite's integrity check finds it.
cp "$T/good.db" "$T/damaged.db"
root=$(sqlite3 "$T/good.db" "SELECT rootpage FROM sqlite_master WHERE name = 'items'")
psize=$(sqlite3 "$T/good.db" "PRAGMA page_size")
printf 'ferry was here, ferry was here, ferry was here' |
    dd of="$T/damaged.db" bs=1 seek=$(((root - 1) * psize)) conv=notrunc 2>/dev/null
refused "restore of a damaged backup" 1 "$T/damaged.db" restore "$T/damaged.db"
if [ "$(id -u)" -ne 0 ]; then
    cp "$T/good.db" "$T/locked.db"
    chmod 000 "$T/locked.db"
    refused "restore of an unreadable file" 1 "cannot read" restore "$T/locked.db"
fi
# The store file itself is not SQLite: not replaced.
cp "$T/noise.bin" "$T/notastore"
_rc=0
"$FERRYD" --store "sqlite:$T/notastore" restore "$T/good.db" >/dev/null \
    2>"$T/err" || _rc=$?
assert_eq "restore over a non-SQLite file: exit" 1 "$_rc"
grep -q "is not a SQLite database; not replaced" "$T/err" || fail "$(cat "$T/err")"
cmp -s "$T/noise.bin" "$T/notastore" || fail "the non-SQLite file was changed"

assert_eq "the good backup untouched" "$good" "$(md5sum <"$T/good.db")"
[ -z "$(ls "$T" | grep -e '\.tmp-' -e '\.restore-')" ] ||
    fail "temporary files left: $(ls "$T")"

# And the good one restores.
"$FERRYD" --store "$STORE_URL" restore "$T/good.db" >"$T/out" 2>"$T/err" ||
    fail "restore: $(cat "$T/err")"
assert_eq "restored" "$before" "$(digest_store)"
