# stores: sqlite
# A failed `ferry init` removes only the database file it created itself,
# with SQLite's files next to it, and never a database that existed: not
# one there before it started, and not one an app created while init was
# starting (between its look at the path and its open). That race is made
# deterministic with a preloaded open() that plays the app: it creates the
# app's database at the moment ferry first opens the path to create it.
# The later step that fails is the config ("[]" is not an object, exit 3).
cat >"$T/race.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int open_fn(const char *, int, ...);

/* The app creates RACE_DB (a copy of RACE_SRC) just before ferry's create. */
static void app_creates(const char *path, int flags)
{
    static int done;
    const char *want = getenv("RACE_DB"), *src = getenv("RACE_SRC");
    open_fn *real = (open_fn *)dlsym(RTLD_NEXT, "open");
    char buf[65536];
    ssize_t n;
    int in, out;

    if (done || !want || !src || !(flags & O_CREAT) || strcmp(path, want) != 0)
        return;
    done = 1;
    in = real(src, O_RDONLY);
    out = real(want, O_WRONLY | O_CREAT | O_EXCL, 0644);
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    close(in);
    close(out);
}

#define WRAP(name)                                                   \
    int name(const char *path, int flags, ...)                       \
    {                                                                \
        mode_t mode = 0;                                             \
        if (flags & O_CREAT) {                                       \
            va_list ap;                                              \
            va_start(ap, flags);                                     \
            mode = va_arg(ap, mode_t);                               \
            va_end(ap);                                              \
        }                                                            \
        app_creates(path, flags);                                    \
        return ((open_fn *)dlsym(RTLD_NEXT, #name))(path, flags, mode); \
    }
WRAP(open)
WRAP(open64)
C
${CC:-cc} -shared -fPIC -o "$T/race.so" "$T/race.c" -ldl || fail "cannot build the race shim"
D=$T/r
fresh() { rm -rf "$D" && mkdir -p "$D" && printf '[]' >"$D/config.json"; }
init_fails() { # WHAT DB [ENV...]: init with the bad config exits 3
    _w=$1
    _db=$2
    shift 2
    _rc=0
    env "$@" "$FERRY" -c "$D/config.json" init --db "$_db" --device d >/dev/null 2>>"$T/agent.log" || _rc=$?
    assert_eq "$_w: exit" 3 "$_rc"
    assert_eq "$_w: config kept" "[]" "$(cat "$D/config.json")"
}
sqlite3 "$T/src.db" "CREATE TABLE t (x); INSERT INTO t VALUES (42)"

# 1. The app creates its database while init starts: it is the app's, kept.
for how in plain wal; do
    fresh
    [ $how = wal ] && sqlite3 "$T/src.db" "PRAGMA journal_mode=WAL" >/dev/null
    init_fails "race ($how)" "$D/app.db" LD_PRELOAD="$T/race.so" RACE_DB="$D/app.db" \
        RACE_SRC="$T/src.db" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
    [ -f "$D/app.db" ] || fail "race ($how): the app's database was removed by init's rollback"
    assert_eq "race ($how): the app's rows" 42 "$(sqlite3 "$D/app.db" 'SELECT x FROM t')"
done

# 2. Existing databases, whatever their shape, are never removed: an empty
#    file, a rollback-journal database, a WAL database an app holds open
#    with writes not yet checkpointed (its -wal and -shm stay too).
fresh
: >"$D/empty.db"
init_fails "existing empty file" "$D/empty.db"
[ -f "$D/empty.db" ] || fail "an existing empty database file was removed"
sqlite3 "$D/plain.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
init_fails "existing database" "$D/plain.db"
assert_eq "existing database kept" 1 "$(sqlite3 "$D/plain.db" 'SELECT x FROM t')"
sqlite3 "$D/wal.db" "PRAGMA journal_mode=WAL; CREATE TABLE t (x)" >/dev/null
(sqlite3 "$D/wal.db" "PRAGMA wal_autocheckpoint=0; INSERT INTO t VALUES (7);" ".shell sleep 3" >/dev/null 2>&1 &)
i=0
until [ "$(sqlite3 "$D/wal.db" 'SELECT count(*) FROM t' 2>/dev/null)" = 1 ]; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "app did not write"; sleep 0.05
done
[ -s "$D/wal.db-wal" ] || fail "the app's write is not in its -wal"
init_fails "existing WAL database in use" "$D/wal.db"
[ -f "$D/wal.db-wal" ] && [ -f "$D/wal.db-shm" ] || fail "the app's -wal/-shm were removed"
assert_eq "WAL database kept" 7 "$(sqlite3 "$D/wal.db" 'SELECT x FROM t')"

# 3. A database init created is removed with SQLite's files next to it
#    (here stale ones an earlier app left beside the missing database).
fresh
for side in -journal -wal -shm; do
    init_fails "new database, stale $side" "$D/new.db"
    [ -e "$D/new.db" ] && fail "new database ($side): left behind"
    printf 'stale' >"$D/new.db$side"
    init_fails "new database, stale $side" "$D/new.db"
    [ -n "$(ls "$D" | grep '^new\.db')" ] && fail "init left $(ls "$D" | grep '^new\.db')"
done
[ "$(ls "$D")" = "config.json" ] || fail "left: $(ls "$D")"

# A successful init still creates and keeps its database.
rm -f "$D/config.json"
"$FERRY" -c "$D/config.json" init --db "$D/ok.db" --url http://127.0.0.1:9 --device d >/dev/null 2>>"$T/agent.log" ||
    fail "init of a new database"
[ "$(sqlite3 "$D/ok.db" "SELECT count(*) FROM sqlite_master WHERE name = '_ferry_outbox'")" = 1 ] ||
    fail "ferry tables in the new database"
