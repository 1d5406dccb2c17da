#!/bin/sh
# Runs one e2e scenario against one store:
#   run.sh SCENARIO_FILE STORE(sqlite|pg) PG_STATE_DIR
# The scenario's temp dir (logs, databases) is removed on success and kept
# on failure; its path is printed.
set -eu
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
SCENARIO=$1
STORE=$2
PG_STATE=${3:-}
export E2E_DIR STORE PG_STATE
SCENARIO_NAME=$(basename "$SCENARIO" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-e2e.$SCENARIO_NAME.$STORE.XXXXXX")
chmod 755 "$T"
export T
FERRYD_PID=
FERRYD_ARGS=${FERRYD_ARGS:-}

cleanup() {
    rc=$?
    set +e
    [ -n "${FERRYD_PID:-}" ] && kill "$FERRYD_PID" 2>/dev/null
    # The scenario's background jobs are this shell's children ("jobs -p" in
    # a pipeline runs in a subshell and lists none of them).
    pkill -9 -P $$ 2>/dev/null
    [ -n "${OWN_PG:-}" ] && pg_cluster_stop "$OWN_PG"
    [ -f "$T/bouncer/pgbouncer.pid" ] && kill "$(cat "$T/bouncer/pgbouncer.pid")" 2>/dev/null
    # A scenario's own undoing (a tablespace, ...), then its tmpfs mounts
    command -v scenario_cleanup >/dev/null 2>&1 && scenario_cleanup
    disk_unmount_all $rc
    if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
        rm -rf "$T"
    else
        echo "scenario $SCENARIO_NAME ($STORE) failed; logs and databases in $T" >&2
        tail -n 30 "$T/ferryd.log" 2>/dev/null >&2 || true
    fi
    exit $rc
}
trap cleanup EXIT INT TERM

. "$E2E_DIR/lib.sh"
cd "$T"
store_setup
. "$SCENARIO"
stop_ferryd
echo "scenario $SCENARIO_NAME ($STORE): ok"
