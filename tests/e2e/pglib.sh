# shellcheck shell=sh
# Helpers to run a throw-away PostgreSQL cluster (sourced by pg.sh and by
# scenarios that need a cluster of their own, e.g. to crash it).

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_cluster_start [fsync=on|off] -> prints the cluster dir (port in dir/port)
pg_cluster_start() {
    fsync=${1:-fsync=on}
    dir=$(mktemp -d /tmp/ferry-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1
    tries=0
    while :; do
        port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
        if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c $fsync \
                -c max_connections=200 -c shared_buffers=128MB" \
            start >/dev/null 2>&1; then
            echo "$port" >"$dir/port"
            break
        fi
        tries=$((tries + 1))
        [ $tries -ge 10 ] && { cat "$dir/log" >&2; return 1; }
    done
    echo "$dir"
}

pg_cluster_stop() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$1"
}

pg_cluster_crash() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1
}

pg_cluster_restart() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 120 \
        -o "-p $(cat "$1/port") -k $1 -c listen_addresses=127.0.0.1" \
        start >/dev/null 2>&1
}
