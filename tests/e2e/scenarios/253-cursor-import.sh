# Moving off last_sync.txt: `ferry cursor import` of the file as the
# form-sync service keeps it (their runbook's own `echo ... > last_sync.txt`)
# sets the stream's cursor, recorded "imported" with the file's name as its
# source, and the first `ferry job run` starts from it. An import while a
# run holds the lease exits 8 and changes nothing; --any takes a line that
# is no timestamp. The outputs are docs/commands.md's examples.
. "$E2E_DIR/runslib.sh"
jobs_setup jobhost "$T/app"
cd "$T/app"
export FERRY_API_KEY=$K FERRY_CONFIG=config.json FERRY_LOG=
# The job of the docs' examples: what it was given, 17 records, the next
# cursor; exits CODE.
cat >job.sh <<'SH'
#!/bin/sh
echo "$FERRY_HAS_CURSOR|$FERRY_CURSOR" >>seen
echo "records=17" >>"$FERRY_REPORT"
echo "cursor=2024-01-16T08:00:00.000000" >>"$FERRY_REPORT"
exit "${CODE:-0}"
SH
chmod +x job.sh
# Durations and UTC times vary from run to run.
DOCS_SED='s/[0-9]+\.[0-9] s( |$)/D s\1/g; s/20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/UTCTIME/g'

echo "2024-01-15T10:30:00.000000" >last_sync.txt
"$FERRY" cursor import main_submissions last_sync.txt >import.out || fail "import"
docs_check docs/commands.md cursor-import import.out
assert_eq "cursor show" 2024-01-15T10:30:00.000000 "$("$FERRY" cursor show main_submissions)"
stream_status main_submissions "$K"
assert_eq "status after the import" "pending|2024-01-15T10:30:00.000000|0|0" \
    "$(sf '"%s|%s|%d|%d" % (v["status"], v["cursor"], v["successes"], v["failures"])')"
assert_eq "history: imported, from last_sync.txt" "imported|2024-01-15T10:30:00.000000|last_sync.txt|jobhost" \
    "$(sf '"%s|%s|%s|%s" % (v["history"][0]["status"], v["history"][0]["cursor"], v["history"][0]["metadata"]["source"], v["history"][0]["instance"])')"

# The first run starts from the imported cursor; then one that fails.
"$FERRY" -v job run main_submissions --instance odk-sync-1 -- ./job.sh 2>run.log ||
    fail "first run: $(cat run.log)"
assert_eq "the first run's cursor" "1|2024-01-15T10:30:00.000000" "$(cat seen)"
CODE=3 "$FERRY" job run main_submissions --instance odk-sync-1 -- ./job.sh 2>>run.log &&
    fail "a job exiting 3 must fail the run"
grep 'info: job:' run.log >job.out
docs_check docs/commands.md job-log job.out
"$FERRY" runs main_submissions >runs.out || fail "ferry runs"
docs_check docs/commands.md runs runs.out

# An import over a cursor says what it replaced; the source is the base
# name; --any takes any line.
mkdir -p old && printf 'odk page token 42\r\n' >old/state.txt
rc=0
"$FERRY" cursor import main_submissions old/state.txt >/dev/null 2>err.out || rc=$?
assert_eq "not a timestamp: exit" 2 "$rc"
assert_eq "not a timestamp: message" "ferry cursor import: 'old/state.txt': 'odk page token 42' is not a date and time such as 2024-01-15T10:30:00.000000 (--any takes any line)" \
    "$(cat err.out)"
assert_eq "cursor unchanged" 2024-01-16T08:00:00.000000 "$("$FERRY" cursor show main_submissions)"
assert_eq "--any" "cursor of main_submissions set to 'odk page token 42' (was '2024-01-16T08:00:00.000000')" \
    "$("$FERRY" cursor import main_submissions old/state.txt --any)"
stream_status main_submissions "$K"
assert_eq "source: the base name" "imported|state.txt" \
    "$(sf '"%s|%s" % (v["history"][0]["status"], v["history"][0]["metadata"]["source"])')"

# While a run holds the lease an import changes nothing: exit 8.
cat >slow.sh <<'SH'
#!/bin/sh
touch started
while [ ! -e go ]; do sleep 0.05; done
SH
chmod +x slow.sh
"$FERRY" job run main_submissions -- ./slow.sh 2>>run.log &
P=$!
i=0
until [ -e started ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && fail "slow job did not start"
    sleep 0.05
done
stream_status main_submissions "$K"
before=$(cat "$T/stream.json")
rc=0
"$FERRY" cursor import main_submissions last_sync.txt 2>err.out || rc=$?
assert_eq "import during a run: exit" 8 "$rc"
grep -q "^ferry: stream 'main_submissions' is being run by run [0-9]* (.*) until " err.out ||
    fail "import during a run: $(cat err.out)"
stream_status main_submissions "$K"
assert_eq "nothing changed" "$before" "$(cat "$T/stream.json")"
touch go
wait $P || fail "slow job"
assert_eq "the run kept the imported cursor" "odk page token 42" "$("$FERRY" cursor show main_submissions)"
cd "$T"
health_ok
