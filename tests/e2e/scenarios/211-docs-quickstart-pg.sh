# stores: pg
# docs/quickstart.md, section 5 (PostgreSQL), run as written: the store URL
# is the harness's database (shown in the docs as .../ferry), serve gets
# --listen 127.0.0.1:0, psql shows times in UTC.
QS=docs/quickstart.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG= PGTZ=UTC
DOCS_SED="s|$STORE_URL|postgresql://postgres@127.0.0.1:5432/ferry|g"
mkdir -p "$T/ferry-quickstart-pg" && cd "$T/ferry-quickstart-pg"
awk '/^sqlite3 app.db <<.EOF.$/ { on = 1 } on { print } on && /^EOF$/ { exit }' \
    "$DOCS_ROOT/$QS" >create.sh
sh create.sh || fail "step 1"
ferry init --db app.db --url http://127.0.0.1:8080 --device pc-ankara-1 >/dev/null &&
    ferry track heartbeat >/dev/null &&
    ferry contract --device-column device -o contract.json 2>/dev/null ||
    fail "step 2"

docs_has $QS "export FERRYD_STORE=postgresql://postgres@127.0.0.1:5432/ferry"
export FERRYD_STORE=$STORE_URL
docs_run $QS "ferryd --contract contract.json migrate" >migrate.out || fail migrate
docs_check $QS qs-pg-migrate migrate.out
docs_run $QS 'export FERRY_API_KEY=$(ferryd keys create --device pc-ankara-1)' \
    2>/dev/null || fail "keys create"
docs_has $QS "ferryd --contract contract.json serve &"
docs_serve --contract contract.json
ferry init --db app.db --url "$URL" --device pc-ankara-1 >/dev/null || fail "init --url"
ferry push >/dev/null 2>&1 || fail "ferry push"
ferry status >/dev/null || fail "ferry status"
docs_has $QS "psql \"\$FERRYD_STORE\" -c 'SELECT id, emp_id, ts, status, cpu, device, _ferry_origin FROM heartbeat ORDER BY id' \\ -c 'SELECT device, acked_seq, pushes, changes FROM ferry.devices'"
psql "$FERRYD_STORE" -c 'SELECT id, emp_id, ts, status, cpu, device, _ferry_origin FROM heartbeat ORDER BY id' \
                     -c 'SELECT device, acked_seq, pushes, changes FROM ferry.devices' >rows.psql ||
    fail psql
# psql pads its headers with a trailing space and ends with an empty line.
sed -e 's/ *$//' -e '${/^$/d;}' rows.psql >rows.out
docs_check $QS qs-pg-rows rows.out
docs_run $QS "sqlite3 app.db \"UPDATE heartbeat SET status = 'away' WHERE id = 1\"" || fail update
ferry push >/dev/null 2>&1 || fail "push 2"
assert_eq "update flowed" away "$(store_sql 'SELECT status FROM heartbeat WHERE id = 1')"
