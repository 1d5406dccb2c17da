# stores: sqlite
# docs/commands.md: each usage synopsis is what `--help` prints, and the
# example outputs (keys list, dead list, push summaries, the retry line, log
# lines, error messages quoted in the text) are what the binaries print.
CM=docs/commands.md
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
cd "$T"

# usage_of CMD...: the usage lines of CMD --help, "usage: " and the
# alignment dropped, as one line
usage_of() {
    "$@" --help | awk 'NR > 1 && !/^ / { exit } { print }' |
        sed 's/^usage: //' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//'
}
check_usage() { # NAME CMD...
    _name=$1
    shift
    _doc=$(docs_block $CM "$_name" | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
    [ -n "$_doc" ] || fail "no example '$_name' in $CM"
    assert_eq "$CM: synopsis $_name vs '$* --help'" "$_doc" "$(usage_of "$@")"
}
check_usage usage-ferry "$FERRY"
check_usage usage-init "$FERRY" init
check_usage usage-track "$FERRY" track
check_usage usage-contract "$FERRY" contract
check_usage usage-push "$FERRY" push
check_usage usage-dead "$FERRY" dead
check_usage usage-status "$FERRY" status
check_usage usage-ferryd "$FERRYD"
check_usage usage-migrate "$FERRYD" migrate
check_usage usage-keys "$FERRYD" keys
check_usage usage-routes "$FERRYD" routes
check_usage usage-serve "$FERRYD" serve
docs_has $CM "print \`$("$FERRY" --version)\` and exit 0"
docs_has $CM "print \`$("$FERRYD" --version)\` and exit 0"
docs_has docs/install.md "build/agent/ferry --version # $("$FERRY" --version)"
docs_has docs/install.md "build/server/ferryd --version # $("$FERRYD" --version)"
# The exit codes ferry --help lists are the table's.
help_codes=$("$FERRY" --help | sed -n '/^exit codes:/,$p' |
    grep -o '[0-9][0-9]* [a-zA-Z]' | sed 's/ .*//' | tr '\n' ' ')
doc_codes=$(sed -n '/^### ferry exit codes/,/^## /p' "$DOCS_ROOT/$CM" |
    sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' | tr '\n' ' ')
assert_eq "ferry exit codes: table vs --help" "$doc_codes" "$help_codes"

# Messages before anything exists.
mkdir none && cd none
assert_exit "status without config" 3 "$FERRY" status
"$FERRY" status 2>&1 | sed "s|'config.json'|'PATH'|" >err.out
docs_has $CM "$(cat err.out)"
docs_has docs/configuration.md "$(sed 's/^ferry: //' err.out)"
"$FERRYD" keys list >/dev/null 2>err.out && fail "keys list before migrate"
docs_check $CM keys-unmigrated err.out
[ ! -e ferry.db ] || fail "keys list created ferry.db"
sqlite3 other.db "CREATE TABLE t (a)"
"$FERRYD" --store sqlite:other.db keys list 2>err.out && fail "keys list, no schema"
docs_has $CM "$(cat err.out)"
cd "$T"

# keys list
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "notes",
  "columns": [{"name": "id", "type": "text", "not_null": true},
              {"name": "due", "type": "date"}],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
make_key ankara1 --region Ankara >/dev/null
sleep 1 # "oldest first" is by the second, then by id
make_key admin1 --admin --expires-days 90 >/dev/null
"$FERRYD" --store "$STORE_URL" keys list >keys.out || fail "keys list"
docs_check $CM keys-list keys.out

# serve: the line, a bad port, a port in use.
start_ferryd
docs_check $CM serve-line "$T/ferryd.out"
"$FERRYD" --store "$STORE_URL" --contract contract.json serve \
    --listen 127.0.0.1:99999 >/dev/null 2>err.out && fail "port 99999"
docs_has $CM "$(cat err.out)"
"$FERRYD" --store "$STORE_URL" --contract contract.json serve \
    --listen "127.0.0.1:$PORT" >/dev/null 2>err.out && fail "port in use"
docs_has $CM "$(cat err.out)"

# A push with one bad row: summary, dead list, retry, drop, log lines.
KEY=$(make_key pc1)
agent_init a pc1
app_sql "$T/a/app.db" "CREATE TABLE notes (id TEXT PRIMARY KEY, due DATE);
    INSERT INTO notes VALUES ('n1', '2026-01-01'), ('n2', '2026-02-31'),
    ('n3', NULL)"
ferry_in a track notes >/dev/null || fail track
ferry_in a -v push >push.out 2>push.err || fail push
docs_has $CM "$(cat push.out)"
ferry_in a dead list >dead.out || fail "dead list"
docs_check $CM dead-list dead.out
ferry_in a dead retry --all >retry.out || fail "dead retry"
docs_has $CM "$(cat retry.out)"
assert_exit "push, every change parked" 6 ferry_in a push
ferry_in a dead drop --all >drop.out || fail "dead drop"
docs_has $CM "$(cat drop.out)"
cat push.err "$T/ferryd.log" >log.out
docs_lines_in $CM log-lines log.out
ferry_in a status >status.out || fail status
sed -i 's/^acked seq     [0-9]*/acked seq     2/; s/(ok, [0-9]* sent)/(ok, 2 sent)/' status.out
DOCS_SED="s|$T/a/app.db|/tmp/ferry-quickstart/app.db|; s/^device        pc1$/device        pc-ankara-1/; s/^tracked       \\[\"notes\"\\]/tracked       [\"heartbeat\"]/"
docs_check $CM status status.out
DOCS_SED=

# Summaries: a clean push; a server that does not answer.
app_sql "$T/a/app.db" "INSERT INTO notes VALUES ('n4', NULL), ('n5', NULL)"
ferry_in a push >push.out 2>/dev/null || fail "push 3"
sed -i 's/acked seq [0-9]*/acked seq 2/' push.out
docs_check $CM push-summary push.out
stop_ferryd
app_sql "$T/a/app.db" "INSERT INTO notes VALUES ('n6', NULL)"
assert_exit "push to nobody" 5 ferry_in a push --retry-for 0
ferry_in a push --retry-for 0 2>/dev/null | grep -o 'acked seq [0-9]* as last stored' >stored.out ||
    fail "no 'as last stored' in the summary"
tr '\n' ' ' <"$DOCS_ROOT/$CM" | grep -q 'marked `acked seq [0-9]* as last stored`' ||
    fail "$CM does not show 'acked seq N as last stored'"
ferry_in a push 2>retry.err >/dev/null &
pid=$!
i=0
until grep -q 'warn: retry' retry.err; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "no retry line: $(cat retry.err)"
    sleep 0.05
done
kill "$pid"
wait "$pid" 2>/dev/null || true
grep 'warn: retry' retry.err >retry.out
docs_check $CM retry-line retry.out

# README's quick start is two commands, both Makefile targets.
cmds=$(awk '/^## Quick start/ { on = 1 } on && /^```sh/ { b = 1; next }
    b && /^```/ { exit } b { print $1, $2 }' "$DOCS_ROOT/README.md" | tr '\n' ' ')
assert_eq "README quick start" "make demo make check " "$cmds"
for t in demo check; do
    grep -q "^$t:" "$DOCS_ROOT/Makefile" || fail "README's 'make $t': no such target"
done
