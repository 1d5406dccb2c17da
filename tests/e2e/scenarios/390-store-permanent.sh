# A store ferryd cannot work with until someone fixes its settings makes
# `ferryd serve` exit 3 at once with the reason, instead of serving 503
# forever (issue 5, item 21). On both stores: a store that was never
# migrated ("no ferry schema yet"), and on SQLite no file is created for
# it. On PostgreSQL, a cluster of the scenario's own that asks one role
# for a password (scram-sha-256): a wrong password, no password at all,
# and a role refused CONNECT on the database; each exits 3 naming the
# cause. The right password then migrates and serves. (102 covers a
# missing database or role and a server that is merely down.)
items_contract
serve_exit() { # STORE-URL -> exit status of serve; its stderr in $T/serve.err
    _rc=0
    _t0=$(date +%s)
    timeout 20 "$FERRYD" --store "$1" --contract "$T/contract.json" serve \
        --listen 127.0.0.1:0 >/dev/null 2>"$T/serve.err" || _rc=$?
    # Permanent means no retrying: far below the 20 s timeout (generous
    # for a loaded machine; a retry loop would reach the timeout, 124).
    [ $(($(date +%s) - _t0)) -le 15 ] || fail "serve took $(($(date +%s) - _t0)) s: $(cat "$T/serve.err")"
    echo $_rc
}
expect_exit3() { # WHAT URL REASON
    assert_eq "$1: exit" 3 "$(serve_exit "$2")"
    grep -q "$3" "$T/serve.err" || fail "$1: reason: $(cat "$T/serve.err")"
}

case $STORE in
sqlite)
    expect_exit3 "no store file" "sqlite:$T/none.db" \
        "the store '$T/none.db' does not exist yet: run 'ferryd migrate' first"
    [ ! -e "$T/none.db" ] || fail "serve created $T/none.db"
    sqlite3 "$T/other.db" 'CREATE TABLE app (a)'
    expect_exit3 "a file without ferry's schema" "sqlite:$T/other.db" \
        "the store has no ferry schema yet: run 'ferryd migrate' first"
    ;;
pg)
    expect_exit3 "a database without ferry's schema" "$STORE_URL" \
        "the store has no ferry schema yet: run 'ferryd migrate' first"
    OWN_PG=$(pg_cluster_start fsync=off) || fail "own cluster"
    P=$(cat "$OWN_PG/port")
    ADMIN="postgresql://postgres@127.0.0.1:$P/postgres"
    psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 -c "CREATE ROLE pw LOGIN PASSWORD 'right'" \
        -c "CREATE ROLE nope LOGIN PASSWORD 'right'" >/dev/null || fail roles
    psql "$ADMIN" -qAt -c "CREATE DATABASE pwdb OWNER pw" >/dev/null || fail db
    psql "$ADMIN" -qAt -c "REVOKE CONNECT ON DATABASE pwdb FROM PUBLIC" >/dev/null ||
        fail revoke
    # First matching line wins: these two roles must give a password.
    hba=$OWN_PG/data/pg_hba.conf
    { printf 'host all pw,nope 127.0.0.1/32 scram-sha-256\n'; cat "$hba"; } >"$T/hba"
    cat "$T/hba" >"$hba"
    as_pg "$PGBIN/pg_ctl" -D "$OWN_PG/data" reload >/dev/null || fail reload
    i=0
    until ! PGPASSWORD=wrong psql "postgresql://pw@127.0.0.1:$P/pwdb" -qAt \
        -c 'SELECT 1' >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "pg_hba.conf not in effect"
        sleep 0.1
    done
    DB="127.0.0.1:$P/pwdb"
    expect_exit3 "wrong password" "postgresql://pw:wrong@$DB" \
        'password authentication failed for user "pw"'
    grep -q wrong "$T/serve.err" && fail "the password is in the message"
    # No password in the URL, the environment or a password file.
    rc=0
    env -u PGPASSWORD PGPASSFILE=/dev/null timeout 20 "$FERRYD" \
        --store "postgresql://pw@$DB" --contract "$T/contract.json" serve \
        --listen 127.0.0.1:0 >/dev/null 2>"$T/serve.err" || rc=$?
    assert_eq "no password: exit" 3 $rc
    grep -q 'no password supplied' "$T/serve.err" || fail "no password: $(cat "$T/serve.err")"
    expect_exit3 "no CONNECT on the database" "postgresql://nope:right@$DB" \
        'permission denied for database'
    expect_exit3 "the right password, before migrate" "postgresql://pw:right@$DB" \
        "the store has no ferry schema yet: run 'ferryd migrate' first"
    STORE_URL="postgresql://pw:right@$DB"
    ;;
esac

# Fixed: migrate, and the same store serves.
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
health_ok
assert_eq "serves pushes" 200 "$(http_post /v1/push "$KEY" '{"changes":[]}')"
