#!/bin/sh
# Starts or stops the PostgreSQL cluster the e2e tests share: initdb and
# pg_ctl in a temp dir on a free loopback port, run as the postgres user
# when we are root (PostgreSQL refuses to run as root).
#   pg.sh start STATE_DIR   writes STATE_DIR/dsn and STATE_DIR/pgdir
#   pg.sh stop STATE_DIR
# FERRY_TEST_PG_DSN, when set, is used instead and nothing is started.
set -eu
. "$(dirname "$0")/pglib.sh"

cmd=$1 state=$2
mkdir -p "$state"
case $cmd in
start)
    if [ -n "${FERRY_TEST_PG_DSN:-}" ]; then
        echo "$FERRY_TEST_PG_DSN" >"$state/dsn"
        exit 0
    fi
    dir=$(pg_cluster_start fsync=off)
    echo "$dir" >"$state/pgdir"
    echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/postgres" >"$state/dsn"
    ;;
stop)
    [ -f "$state/pgdir" ] && pg_cluster_stop "$(cat "$state/pgdir")"
    rm -f "$state/pgdir" "$state/dsn"
    ;;
esac
