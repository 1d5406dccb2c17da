# Bad command lines of `ferry job run`, `ferry cursor` and `ferry runs`,
# table-driven: each exits 2 with a message, sends nothing (ferryd's
# request log does not move) and changes nothing (GET /v1/status the same
# before and after). A config without a URL exits 3, a missing key 4, a
# refused key 4, a stream ferryd does not know 1. Each usage synopsis in
# docs/commands.md is what --help prints.
. "$E2E_DIR/runslib.sh"
jobs_setup jobs "$T/app"
cd "$T/app"
export FERRY_API_KEY=$K FERRY_CONFIG=config.json
"$FERRY" job run s -- sh -c 'echo cursor=2024-01-15T10:30:00 >>"$FERRY_REPORT"' 2>/dev/null ||
    fail "a first run"

echo "2024-01-15T10:30:00.000000" >last_sync.txt
: >empty.txt
printf '2024-01-15\n2024-01-16\n' >two-lines.txt
printf '2024-01-15\000\n' >nul.txt
printf '2024-02-30T10:00:00\n' >feb30.txt
printf 'last sync: yesterday\n' >words.txt
python3 -c "print('x' * 4097)" >long.txt
python3 -c "print('2024-01-15' + ' ' * 9000)" >big.txt

requests() { grep -c 'info: http: ' "$T/ferryd.log" || true; }
rq GET "/v1/status?history=1000" "$K" >/dev/null
cp "$T/resp.json" "$T/before.json"
# ferryd logs a request once its answer is sent: wait for that line.
i=0
until grep -q 'info: http: GET /v1/status' "$T/ferryd.log"; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "no log line of GET /v1/status"
    sleep 0.05
done
seen=$(requests)

# CASE: WANT-IN-STDERR | ARGS (split on spaces; no quoting)
while IFS='|' read -r want args; do
    [ -z "$args" ] && continue
    rc=0
    # shellcheck disable=SC2086
    "$FERRY" $args >out.txt 2>err.txt || rc=$?
    assert_eq "ferry $args: exit" 2 "$rc"
    grep -qF -- "$want" err.txt || fail "ferry $args: stderr lacks '$want': $(cat err.txt)"
    [ -s out.txt ] && fail "ferry $args: printed on stdout: $(cat out.txt)"
done <<'CASES'
usage: ferry job run NAME|job
usage: ferry job run NAME|job list
NAME is missing|job run
NAME is missing|job run -- true
no command: put it after --|job run s
no command: put it after --|job run s --
unexpected 'true': the command goes after --|job run s true
'.' is not a stream name|job run . -- true
'..' is not a stream name|job run .. -- true
'a/b' is not a stream name|job run a/b -- true
--every takes a duration such as 30s, 5m or 1h|job run s --every 0 -- true
--every takes a duration such as 30s, 5m or 1h|job run s --every 8d -- true
--every takes a duration such as 30s, 5m or 1h|job run s --every five -- true
--lease takes seconds, 1 to 86400|job run s --lease 0 -- true
--lease takes seconds, 1 to 86400|job run s --lease 86401 -- true
--lease takes seconds, 1 to 86400|job run s --lease 60s -- true
--instance takes 1 to 200 printable characters|job run s --instance= -- true
--lease needs a value|job run s --lease
unknown option '--retry'|job run s --retry 5 -- true
usage: ferry cursor import NAME FILE [--any]|cursor
usage: ferry cursor import NAME FILE [--any]|cursor drop s
usage: ferry cursor import NAME FILE [--any]|cursor import s
usage: ferry cursor import NAME FILE [--any]|cursor import s last_sync.txt extra
usage: ferry cursor import NAME FILE [--any]|cursor import s last_sync.txt --json
usage: ferry cursor import NAME FILE [--any]|cursor show
usage: ferry cursor import NAME FILE [--any]|cursor show s --any
'a;b' is not a stream name|cursor import a;b last_sync.txt
'..' is not a stream name|cursor show ..
cannot open 'missing.txt': No such file or directory|cursor import s missing.txt
'empty.txt': it is empty|cursor import s empty.txt
'two-lines.txt': it holds more than one line|cursor import s two-lines.txt
'nul.txt': it holds a NUL byte|cursor import s nul.txt
'feb30.txt': '2024-02-30T10:00:00' is not a date and time|cursor import s feb30.txt
'words.txt': 'last sync: yesterday' is not a date and time|cursor import s words.txt
'long.txt': its line is 4097 bytes (a cursor is at most 4096)|cursor import s long.txt --any
'big.txt': it is larger than a cursor file can be (8 KiB)|cursor import s big.txt
--limit takes 0 to 1000|runs --limit 1001
--limit takes 0 to 1000|runs --limit ten
usage: ferry runs [NAME]|runs a b
'a%b' is not a stream name|runs a%b
CASES
assert_eq "requests sent by bad command lines" "$seen" "$(requests)"
rq GET "/v1/status?history=1000" "$K" >/dev/null
assert_eq "status after bad command lines" "$(cat "$T/before.json")" "$(cat "$T/resp.json")"

# The config, the key, a stream ferryd does not know.
printf '{"ingestion": {"auth_env": "JOB_KEY"}}\n' >nourl.json
assert_exit "config without base_url" 3 "$FERRY" -c nourl.json job run s -- true
assert_exit "no config" 3 "$FERRY" -c none.json runs
assert_exit "no key" 4 env -u FERRY_API_KEY "$FERRY" job run s -- true
assert_exit "a key with a space" 3 env FERRY_API_KEY="a b" "$FERRY" runs
assert_exit "a refused key" 4 env FERRY_API_KEY=fy_0000000000000000.0000 "$FERRY" job run s -- true
assert_exit "unknown stream: show" 1 "$FERRY" cursor show nosuch
assert_exit "unknown stream: runs" 1 "$FERRY" runs nosuch
rq GET "/v1/status?history=1000" "$K" >/dev/null
assert_eq "status after refusals" "$(cat "$T/before.json")" "$(cat "$T/resp.json")"

# --help: the usage on stdout, exit 0; the synopsis is the docs'.
usage_of() {
    "$FERRY" "$@" --help | awk 'NR > 1 && !/^ / { exit } { print }' |
        sed 's/^usage: //' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//'
}
check_usage() { # NAME ARGS...
    _name=$1
    shift
    _doc=$(docs_block docs/commands.md "$_name" | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
    [ -n "$_doc" ] || fail "no example '$_name' in docs/commands.md"
    assert_eq "commands.md: synopsis $_name vs 'ferry $* --help'" "$_doc" "$(usage_of "$@")"
}
check_usage usage-job job run
check_usage usage-cursor cursor
check_usage usage-runs runs
assert_exit "job --help" 0 "$FERRY" job --help
assert_exit "job run s -- x --help is x's" 0 "$FERRY" job run s --help -- x
for code in 8 9 10; do
    grep -q "^| $code | " "$DOCS_ROOT/docs/commands.md" || fail "commands.md: no exit code $code"
done
"$FERRY" --help | grep -q '8 lease held by another run, 9 job failed,' || fail "ferry --help: exit codes 8, 9"
cd "$T"
health_ok
