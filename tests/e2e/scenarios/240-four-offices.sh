# The regional offices' case with ferry's own agent: four offices (Ankara,
# Istanbul, Bursa, Izmir), each a device with a regional key and its own
# SQLite file, and an admin device at head office. All work offline: each
# office inserts, edits and deletes its own timesheets, and every device
# edits shared settings rows that have no region (the admin too). Then
# they sync (push and pull steps) in a random order, several rounds. Every
# device ends with the store's rows (identical digests), and each shared
# row holds the edit made last by the clock, whatever order the devices
# synced in: last writer wins by HLC, not by sync order.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "timesheets", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "employee", "type": "text", "not_null": true},
   {"name": "hours", "type": "bigint"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"},
 {"name": "settings", "columns": [
   {"name": "key", "type": "text", "not_null": true},
   {"name": "value", "type": "text"}],
  "primary_key": ["key"]}]}
JSON
ferryd_migrate
start_ferryd
OFFICES="Ankara Istanbul Bursa Izmir"
for o in $OFFICES; do
    echo "$(make_key "pc-$o" --region "$o")" >"$T/key.$o"
done
make_key pc-hq --admin >"$T/key.hq"
for d in $OFFICES hq; do
    agent_init "$d" "pc-$d"
    app_sql "$T/$d/app.db" "CREATE TABLE timesheets (id TEXT PRIMARY KEY,
        region TEXT NOT NULL, employee TEXT NOT NULL, hours INTEGER);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)"
    KEY=$(cat "$T/key.$d") ferry_in "$d" track timesheets settings >/dev/null ||
        fail "track on $d"
done

as() { # DEVICE ferry-args...
    _d=$1
    shift
    KEY=$(cat "$T/key.$_d") ferry_in "$_d" "$@" >>"$T/steps.out" 2>>"$T/agent.log" ||
        fail "ferry $* on $_d: $(tail -n 3 "$T/agent.log")"
}
# One digest per device: both tables, in key order.
digest_dev() {
    sqlite3 "$1" "SELECT group_concat(x, ';') FROM (SELECT id || '|' || region
        || '|' || employee || '|' || coalesce(hours, 'N') AS x FROM timesheets
        ORDER BY id); SELECT group_concat(key || '=' || coalesce(value, 'N'),
        ';') FROM (SELECT * FROM settings ORDER BY key)" | md5sum | cut -c1-32
}
digest_st() {
    case $STORE in
    sqlite) digest_dev "${STORE_URL#sqlite:}" ;;
    pg) psql "$STORE_URL" -qAt -c "SELECT string_agg(id || '|' || region ||
        '|' || employee || '|' || coalesce(hours::text, 'N'), ';' ORDER BY id
        COLLATE \"C\") FROM timesheets" -c "SELECT string_agg(key || '=' ||
        coalesce(value, 'N'), ';' ORDER BY key COLLATE \"C\") FROM settings" |
        md5sum | cut -c1-32 ;;
    esac
}

round=0
while [ $round -lt 4 ]; do
    round=$((round + 1))
    # Offline work: each office its own timesheets; every device the shared
    # settings, one after another with the clock moving, in a random order
    # (the order of edits is not the order of syncs below).
    for o in $OFFICES; do
        app_sql "$T/$o/app.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
            SELECT i + 1 FROM n WHERE i < 15) INSERT OR REPLACE INTO timesheets
            SELECT '$o-$round-' || i, '$o', 'emp ' || (i % 4), i + $round FROM n;
            UPDATE timesheets SET hours = hours + 100 WHERE id LIKE '$o-%-3';
            DELETE FROM timesheets WHERE id LIKE '$o-%-' || ($round + 5)"
    done
    last=
    for d in $(printf '%s\n' $OFFICES hq | shuf); do
        sleep_ms 15
        app_sql "$T/$d/app.db" "INSERT OR REPLACE INTO settings VALUES
            ('rate', 'set by $d in round $round')"
        last=$d
    done
    [ $((round % 2)) -eq 0 ] &&
        app_sql "$T/hq/app.db" "DELETE FROM settings WHERE key = 'banner'" ||
        app_sql "$T/$last/app.db" "INSERT OR REPLACE INTO settings VALUES
            ('banner', 'round $round')"
    # Sync in a random order: any device's push or pull may come first.
    for s in $(for d in $OFFICES hq; do echo "$d-push"; echo "$d-pull"; done | shuf); do
        as "${s%-*}" "${s#*-}"
    done
    # Then everyone syncs twice, so the last changes reach everybody.
    for pass in 1 2; do
        for d in $(printf '%s\n' $OFFICES hq | shuf); do as "$d" sync; done
    done
    # On PostgreSQL a pull serves only transactions older than every one
    # running in the cluster, and other scenarios share it: sync again
    # (up to 30 s) until every device has caught up, then compare.
    tries=0
    while :; do
        want=$(digest_st)
        behind=
        for d in $OFFICES hq; do
            [ "$want" = "$(digest_dev "$T/$d/app.db")" ] || behind="$behind $d"
        done
        [ -z "$behind" ] && break
        tries=$((tries + 1))
        [ $tries -gt 30 ] && break
        sleep 1
        for d in $behind; do as "$d" sync; done
    done
    for d in $OFFICES hq; do
        assert_eq "round $round: $d equals the store" "$want" "$(digest_dev "$T/$d/app.db")"
    done
    assert_eq "round $round: the last edit of 'rate' wins" "set by $last in round $round" \
        "$(store_sql "SELECT value FROM settings WHERE key = 'rate'")"
done
for d in $OFFICES hq; do
    assert_eq "$d: outbox drained" 0 "$(app_sql "$T/$d/app.db" 'SELECT count(*) FROM _ferry_outbox')"
    assert_eq "$d: nothing parked" 0 "$(app_sql "$T/$d/app.db" 'SELECT count(*) FROM _ferry_dead')"
done
rows=$(store_sql "SELECT count(*) FROM timesheets")
[ "$rows" -ge 200 ] || fail "only $rows timesheets"
for o in $OFFICES; do
    n=$(app_sql "$T/hq/app.db" "SELECT count(*) FROM timesheets WHERE region = '$o'")
    [ "$n" -gt 40 ] || fail "head office has only $n rows of $o"
done
note "$rows timesheets on five devices and the store; $(grep -c '^pulled' "$T/steps.out") pulls"
