# labels: slow
# A 200 MB users.json (176,000 generated users, 1.3 million rows) imports
# into tracked tables with the agent's peak resident memory below 64 MB:
# the document is read as a stream, one record at a time in memory. On a
# terminal a progress line shows bytes and records read (run here under
# script(1) for a pseudo-terminal); without one, none is printed.
# stores: sqlite
# (Only the agent's memory is measured: the store plays no part until a
# push, which other scenarios cover.)
MAP=$E2E_DIR/fixtures/users.mapping.json
TABLES="users emulator_settings device_identifiers library_settings
    reading_settings user_preferences"
COUNT=176000

python3 "$E2E_DIR/gen_users.py" --count $COUNT -o "$T/big.json" ||
    fail "gen_users"
size=$(stat -c %s "$T/big.json")
[ "$size" -ge 200000000 ] || fail "big.json is only $size bytes"

URL=http://127.0.0.1:9 agent_init a dev-a
echo '{}' >"$T/empty.json"
ferry_in a import json "$T/empty.json" --mapping "$MAP" --create \
    >/dev/null 2>>"$T/agent.log" || fail "import --create"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null 2>>"$T/agent.log" || fail "track"

start=$(date +%s)
script -qec "/usr/bin/time -v -o '$T/time.txt' '$FERRY' --config \
    '$T/a/config.json' import json '$T/big.json' --mapping '$MAP'" \
    /dev/null >"$T/tty.out" 2>&1 || fail "import: $(tail -n 5 "$T/tty.out")"
secs=$(($(date +%s) - start))
grep -q "$COUNT records imported" "$T/tty.out" ||
    fail "import: $(tail -n 5 "$T/tty.out")"
grep -q "read [0-9.]* MiB, [0-9]* records" "$T/tty.out" ||
    fail "no progress line on the terminal"
assert_eq "users" $COUNT \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM users")"
rows=$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.txt")
note "$size bytes, $rows rows in $secs s, peak RSS $rss KiB"
if [ -n "${FERRY_SANITIZE:-}" ]; then
    # The sanitizers' shadow memory and quarantine are not the agent's.
    note "peak RSS not checked under the sanitizers"
else
    [ "$rss" -lt 65536 ] || fail "peak RSS $rss KiB is not below 64 MB"
fi

# Not on a terminal: no progress line.
ferry_in a import json "$T/big.json" --mapping "$MAP" --dry-run \
    >"$T/out" 2>"$T/err" || fail "dry run: $(cat "$T/err")"
grep -q "MiB" "$T/err" && fail "a progress line without a terminal"
grep -q "^$COUNT records read; dry run" "$T/out" || fail "dry run: $(cat "$T/out")"
assert_eq "outbox after the dry run" "$rows" \
    "$(app_sql "$T/a/app.db" "SELECT count(*) FROM _ferry_outbox")"
