# stores: sqlite
# docs/quickstart.md, sections 1 to 4, run in order as written (only
# `serve` gets --listen 127.0.0.1:0, and init is run again with the port it
# got): every output the page shows is what the binaries print.
QS=docs/quickstart.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
mkdir -p "$T/ferry-quickstart" && cd "$T/ferry-quickstart"

# 1. The app database: the heredoc block, as the page has it.
awk '/^sqlite3 app.db <<.EOF.$/ { on = 1 } on { print } on && /^EOF$/ { exit }' \
    "$DOCS_ROOT/$QS" >create.sh
[ -s create.sh ] || fail "no 'sqlite3 app.db <<EOF' block in $QS"
sh create.sh || fail "step 1"

# 2. init, track, contract.
docs_run $QS "ferry init --db app.db --url http://127.0.0.1:8080 --device pc-ankara-1" \
    >init.out || fail "ferry init"
docs_check $QS qs-init init.out
docs_run $QS "ferry track heartbeat" >track.out || fail "ferry track"
docs_check $QS qs-track track.out
docs_run $QS "ferry contract --device-column device -o contract.json" \
    2>contract.err || fail "ferry contract"
docs_check $QS qs-contract-note contract.err
docs_json $QS qs-contract contract.json "v['tables'][0]"

# 3. The server.
docs_run $QS "ferryd --store sqlite:ferry.db --contract contract.json migrate" \
    >migrate.out || fail "ferryd migrate"
docs_check $QS qs-migrate migrate.out
docs_has $QS 'ferryd migrate --store sqlite:ferry.db --contract contract.json'
docs_run $QS 'export FERRY_API_KEY=$(ferryd --store sqlite:ferry.db keys create --device pc-ankara-1)' \
    2>key.err || fail "keys create"
docs_check $QS qs-key-note key.err
docs_has $QS "ferryd --store sqlite:ferry.db --contract contract.json serve &"
ferryd --store sqlite:ferry.db --contract contract.json serve \
    --listen 127.0.0.1:0 >serve.out 2>serve.err &
FERRYD_PID=$!
i=0
until grep -q '^listening on' serve.out && [ -s serve.err ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && fail "ferryd did not start: $(cat serve.err)"
    sleep 0.05
done
cat serve.out serve.err >serve.all
docs_check $QS qs-serve serve.all
URL=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1://p' serve.out)
ferry init --db app.db --url "$URL" --device pc-ankara-1 >/dev/null || fail "init --url"
docs_has $QS "curl -s http://127.0.0.1:8080/health"
curl -s "$URL/health" >health.out
docs_check $QS qs-health health.out

# 4. Push, status, rows.
docs_run $QS "ferry push" >push.out 2>push.err || fail "ferry push"
docs_check $QS qs-push push.out
docs_has $QS "$(cat push.err)"
docs_run $QS "ferry status" >status.out || fail "ferry status"
docs_check $QS qs-status status.out
docs_run $QS "sqlite3 -header ferry.db 'SELECT id, emp_id, ts, status, cpu, device, _ferry_origin FROM heartbeat'" \
    >rows.out || fail "rows"
docs_check $QS qs-rows rows.out
# The churn block, as written (four commands over six lines).
awk '/^sqlite3 app.db "UPDATE heartbeat/ { on = 1 } on { print }
     on && /ferry_tomb_heartbeat.$/ { exit }' "$DOCS_ROOT/$QS" >churn.sh
[ "$(wc -l <churn.sh)" -eq 6 ] || fail "churn block not found in $QS: $(cat churn.sh)"
. ./churn.sh >churn.out 2>/dev/null || fail "churn"
docs_check $QS qs-churn churn.out
docs_run $QS "sqlite3 app.db \"DELETE FROM heartbeat WHERE id = 1\"" || fail delete
ferry push >/dev/null 2>&1 || fail "push 3"
docs_run $QS "sqlite3 -header ferry.db 'SELECT id, _ferry_origin FROM ferry_tomb_heartbeat'" \
    >tomb.out || fail "tomb"
docs_check $QS qs-tomb tomb.out
