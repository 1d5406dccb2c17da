#!/bin/sh
# The quick-start demo: ferryd on the embedded SQLite store, a demo app
# database with a tracked table, pushes, and the rows showing up in the store.
# Leaves ferryd running (Ctrl-C stops everything). Run via `make demo`.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=$ROOT/$BUILD/agent/ferry
FERRYD=$ROOT/$BUILD/server/ferryd
DEMO=$ROOT/$BUILD/demo
PORT=${FERRY_DEMO_PORT:-8080}
rm -rf "$DEMO"
mkdir -p "$DEMO"
cd "$DEMO"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "demo directory: $DEMO"
step "sqlite3 app.db 'CREATE TABLE heartbeat (...)'   # the app's own database"
sqlite3 app.db "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, at TEXT NOT NULL,
  cpu REAL, active BOOLEAN, window TEXT);
  INSERT INTO heartbeat (at, cpu, active, window) VALUES
  (datetime('now'), 12.5, 1, 'editor — notes.txt'), (datetime('now'), 3.0, 0, NULL)"

step "ferry init --db app.db --url http://127.0.0.1:$PORT --device laptop-1"
"$FERRY" init --db app.db --url "http://127.0.0.1:$PORT" --device laptop-1
step "ferry track heartbeat"
"$FERRY" track heartbeat
step "ferry contract -o contract.json"
"$FERRY" contract -o contract.json
step "ferryd --store sqlite:store.db migrate"
"$FERRYD" --store sqlite:store.db migrate
step "ferryd --store sqlite:store.db keys create --device laptop-1"
FERRY_API_KEY=$("$FERRYD" --store sqlite:store.db keys create --device laptop-1 2>/dev/null)
export FERRY_API_KEY
echo "$FERRY_API_KEY"
step "ferryd --store sqlite:store.db serve --listen 127.0.0.1:$PORT &"
"$FERRYD" -q --store sqlite:store.db serve --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; echo; echo "ferryd stopped"' EXIT INT TERM
sleep 0.3
step "curl http://127.0.0.1:$PORT/health"
curl -s "http://127.0.0.1:$PORT/health"
step "ferry push"
"$FERRY" -q push
step "sqlite3 store.db 'SELECT id, at, cpu, active, window, _ferry_origin FROM heartbeat'"
sqlite3 -header -column store.db "SELECT id, at, cpu, active, window, _ferry_origin FROM heartbeat"
step "ferry status"
"$FERRY" status

echo
echo "ferryd keeps running on http://127.0.0.1:$PORT (store: $DEMO/store.db)."
echo "The demo app now writes a heartbeat every 2 seconds and pushes it;"
echo "press Ctrl-C to stop."
i=0
while :; do
    sleep 2
    i=$((i + 1))
    sqlite3 app.db "INSERT INTO heartbeat (at, cpu, active) VALUES
      (datetime('now'), abs(random() % 1000) / 10.0, $((i % 2)));
      UPDATE heartbeat SET cpu = cpu + 1 WHERE id = 1"
    "$FERRY" -q push >/dev/null
    printf 'app rows: %s   store rows: %s   outbox: %s\n' \
        "$(sqlite3 app.db 'SELECT count(*) FROM heartbeat')" \
        "$(sqlite3 store.db 'SELECT count(*) FROM heartbeat')" \
        "$(sqlite3 app.db 'SELECT count(*) FROM _ferry_outbox')"
done
