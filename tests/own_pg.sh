#!/bin/sh
# own_pg.sh CMD ARGS...: runs CMD ARGS DSN-FILE against a PostgreSQL
# cluster of its own (initdb + pg_ctl on a free loopback port, in a temp
# dir), then stops it. For tests that read what they just wrote: on the
# cluster the e2e scenarios share, another scenario's open transaction
# holds back the horizon a pull reads below (docs/guarantees.md), and such
# a read may miss a row committed a moment ago.
set -u
. "$(dirname "$0")/e2e/pglib.sh"
dir=$(pg_cluster_start fsync=off) || exit 1
echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/postgres" >"$dir/dsn"
rc=0
"$@" "$dir/dsn" || rc=$?
pg_cluster_stop "$dir"
exit $rc
