# shellcheck shell=sh
# Helpers of the dashboard scenarios (320-329): a store fed by real agents
# in two regions, a tracked run, and curl with a cookie jar.

# dash_setup: contract sites(k, region, v) with a region column; ferryd
# started; agents a (ankara) and b (istanbul) pushed rows and b pulled; a
# stream run completed and one failed. Sets ADMIN, KA, KB, URL.
dash_setup() {
    write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "sites",
  "columns": [{"name": "k", "type": "text", "not_null": true},
              {"name": "region", "type": "text"},
              {"name": "v", "type": "text"}],
  "primary_key": ["k"], "region_column": "region", "read": "all"}]}
JSON
    ferryd_migrate
    ADMIN=$(make_key ops --admin)
    KA=$(make_key pc-ankara --region ankara)
    KB=$(make_key pc-istanbul --region istanbul)
    start_ferryd
    for _d in a b; do
        if [ $_d = a ]; then agent_init a pc-ankara; else agent_init b pc-istanbul; fi
        app_sql "$T/$_d/app.db" "CREATE TABLE sites (k TEXT PRIMARY KEY,
            region TEXT, v TEXT)"
        if [ $_d = a ]; then KEY=$KA; else KEY=$KB; fi
        ferry_in $_d track sites >/dev/null 2>>"$T/agent.log" || fail "track on $_d"
    done
    app_sql "$T/a/app.db" "INSERT INTO sites VALUES ('a1', NULL, 'one'),
        ('a2', NULL, 'two'), ('a3', NULL, '<b>three</b>')"
    app_sql "$T/b/app.db" "INSERT INTO sites VALUES ('b1', NULL, 'bir')"
    KEY=$KA ferry_in a push >>"$T/agent.log" 2>&1 || fail "push a"
    KEY=$KB ferry_in b push >>"$T/agent.log" 2>&1 || fail "push b"
    KEY=$KB ferry_in b pull >>"$T/agent.log" 2>&1 || fail "pull b"
    assert_eq "rows per region" "ankara|3
istanbul|1" "$(store_sql 'SELECT region, count(*) FROM sites GROUP BY region ORDER BY region')"
    # A tracked run of a stream: one success with records, one failure.
    _run=$(curl -s -X POST -H "X-Api-Key: $ADMIN" "$URL/v1/streams/forms/runs" |
        sed -n 's/^{"run": *\([0-9]*\).*/\1/p')
    [ -n "$_run" ] || fail "begin a run"
    assert_eq "complete" 200 "$(http_post "/v1/runs/$_run/complete" "$ADMIN" \
        '{"records": 17, "cursor": "2024-01-16T08:00:00"}')"
    _run=$(curl -s -X POST -H "X-Api-Key: $ADMIN" "$URL/v1/streams/forms/runs" |
        sed -n 's/^{"run": *\([0-9]*\).*/\1/p')
    assert_eq "fail" 200 "$(http_post "/v1/runs/$_run/fail" "$ADMIN" \
        '{"error": "the form server said <503>"}')"
    # Device runs are written by ferryd once a second.
    sleep 1.5
}

# dget PATH [JAR] -> status; body in $T/page.html, headers in $T/page.hdr
dget() {
    curl -s -o "$T/page.html" -D "$T/page.hdr" -w '%{http_code}' \
        ${2:+-b "$2"} "$URL$1"
}

# dpost PATH JAR BODY [CURL ARGS...] -> status (a form post)
dpost() {
    _p=$1 _j=$2 _b=$3
    shift 3
    curl -s -o "$T/page.html" -D "$T/page.hdr" -w '%{http_code}' \
        ${_j:+-b "$_j" -c "$_j"} -H "Content-Type: application/x-www-form-urlencoded" \
        --data-binary "$_b" "$@" "$URL$_p"
}

# The CSRF token of the last page fetched.
dcsrf() {
    sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/page.html" | head -n 1
}

# dlogin JAR KEY: logs in; fails unless it is a 303 to /dashboard.
dlogin() {
    rm -f "$1"
    _s=$(dpost /dashboard/login "$1" "key=$2")
    assert_eq "log-in" 303 "$_s"
    grep -qi '^location: /dashboard\s*$' "$T/page.hdr" || fail "log-in went to $(grep -i ^location "$T/page.hdr")"
}

# ferry's own tables: ferry_X in SQLite, ferry.X in PostgreSQL.
if [ "$STORE" = pg ]; then FT=ferry.; else FT=ferry_; fi
