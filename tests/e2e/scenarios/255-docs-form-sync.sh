# docs/walkthroughs/form-sync-service.md run as written (ferryd gets
# --listen 127.0.0.1:0 and the jobs the port it got; on PostgreSQL the
# store's URL replaces sqlite:forms.db, as the page says): the old
# last_sync.txt imported, the page's job under `ferry job run`, then the
# cursor imported again with the page's curl and the page's Python job on
# the API (both verbatim) run twice with success and once failing; the
# compatibility views made by migrate, and the form-sync team's four
# monitoring queries, copied verbatim from their document into the page,
# run with psql on the views and answering what the runs did (on SQLite,
# the first three with sqlite3, and the views with plain SELECTs). Then a
# held lease (the job leaves quietly, ferry job run exits 8) and the
# rollback's cursor written back to last_sync.txt.
FS=docs/walkthroughs/form-sync-service.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG FERRY_URL
export FERRY_LOG= FERRYD_LOG=
mkdir -p "$T/server" "$T/job"
[ "$STORE" = pg ] || STORE_URL=sqlite:forms.db
# doc_cmd CMD: CMD as the page has it, run on this scenario's store and
# ferryd.
doc_cmd() {
    docs_has $FS "$1"
    eval "$(printf '%s' "$1" | sed -e "s|sqlite:forms.db|$STORE_URL|" \
        -e "s|http://127.0.0.1:8080|${URL:-http://127.0.0.1:8080}|")"
}
# fs_sql SQL: rows of SQL on the store, '|' separated
fs_sql() {
    (cd "$T/server" && store_sql "$1")
}
HOST=$(python3 -c 'import socket; print(socket.gethostname())')
# What varies between runs in the page's outputs: the run's id (an earlier
# part may have run), times of now, the host, the store's URL.
DOCS_SED="s/^run [0-9]+:/run N:/; s/job: run [0-9]+ of/job: run N of/; s/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(\\.[0-9]+)?\\+00/TS/g; s/\\|$HOST\$/|odk-sync-1/; s/\\|odk-sync-1\$/|odk-sync-1/; s|on postgres(ql)?://[^ ]*\$|on sqlite:forms.db|; s/, [0-9]+\\.[0-9] s\$/, 0.1 s/"

# 1. The table, the key, the server.
cd "$T/server"
docs_block $FS fs-contract >contract.json
[ -s contract.json ] || fail "no contract block in $FS"
doc_cmd "ferryd --store sqlite:forms.db --contract contract.json migrate" \
    >/dev/null || fail "migrate"
KEY=$(doc_cmd "ferryd --store sqlite:forms.db keys create --device odk-sync" 2>/dev/null)
[ -n "$KEY" ] || fail "keys create"
docs_has $FS "ferryd --store sqlite:forms.db --contract contract.json serve --listen 127.0.0.1:8080"
docs_serve --store "$STORE_URL" --contract contract.json

# 2. The old cursor, with ferry on the job's machine.
cd "$T/job"
docs_has $FS '`2024-01-15T10:30:00.000000`'
printf '2024-01-15T10:30:00.000000\n' >last_sync.txt
docs_block $FS fs-config | sed "s|http://127.0.0.1:8080|$URL|" >config.json
[ -s config.json ] || fail "no config block in $FS"
docs_has $FS "export FERRY_API_KEY=fy_..."
export FERRY_API_KEY=$KEY
docs_run $FS "ferry cursor import main_submissions last_sync.txt" \
    >import.out 2>import.err || fail "ferry cursor import: $(cat import.err)"
docs_check $FS fs-import import.out

# 3. The job under ferry job run: the two submissions newer than the file.
docs_block $FS fs-source >submissions.json
docs_block $FS fs-job >job.py
[ -s submissions.json ] && [ -s job.py ] || fail "no source or job block in $FS"
docs_has $FS "export FERRY_URL=http://127.0.0.1:8080"
export FERRY_URL=$URL
docs_run $FS "ferry job run main_submissions -- python3 job.py" \
    >job.out 2>job.err || fail "ferry job run: $(cat job.err)"
docs_check $FS fs-job-log job.err
docs_has $FS "ferry job run main_submissions --every 5m -- python3 job.py"
assert_eq "two submissions copied" 2 "$(fs_sql "SELECT count(*) FROM submissions")"
unset FERRY_URL

# 2 again: the old cursor imported with curl (no ferry on the machine),
# so that the job on the API starts where the file did.
# (The command quoted from the page, with this ferryd's address.)
cmd=$(grep '^curl -s -X PUT ' "$DOCS_ROOT/$FS")
[ -n "$cmd" ] || fail "no curl import in $FS"
eval "$(printf '%s' "$cmd" | sed "s|http://127.0.0.1:8080|$URL|")" >import.json ||
    fail "curl import"
python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); assert v["cursor"] == "2024-01-15T10:30:00.000000", v' \
    import.json || fail "the import's answer: $(cat import.json)"

# 4. The job on the API, verbatim: two successes, then a failure.
docs_block $FS fs-direct >odk_sync.py
[ -s odk_sync.py ] || fail "no job block in $FS"
docs_has $FS "FERRY_URL=http://127.0.0.1:8080 FERRY_API_KEY=fy_... python3 odk_sync.py"
direct() {
    FERRY_URL=$URL FERRY_API_KEY=$KEY python3 odk_sync.py
}
direct >run1.out 2>run1.err || fail "the job: $(cat run1.err)"
docs_check $FS fs-direct-run run1.out
assert_eq "the same two submissions" 2 "$(fs_sql "SELECT count(*) FROM submissions")"
# A new submission on the ODK server; the next run copies only it.
python3 - <<'PY' || fail "adding a submission"
import json
subs = json.load(open("submissions.json"))
subs.append({"id": "uuid:e03f9a61", "form_id": "household",
             "submitted_at": "2024-01-16T08:00:00.000000",
             "data": {"village": "Kibera", "members": 7}})
json.dump(subs, open("submissions.json", "w"))
PY
direct >run2.out 2>run2.err || fail "the second run: $(cat run2.err)"
assert_eq "the second run" "1 submissions, cursor 2024-01-16T08:00:00.000000" \
    "$(sed 's/^run [0-9]*: //' run2.out)"
# The ODK server cannot be read: the run fails, with its error.
mv submissions.json submissions.away
rc=0
direct >run3.out 2>run3.err || rc=$?
assert_eq "the failed run's exit" 1 $rc
grep -q "failed: FileNotFoundError" run3.err || fail "the failed run said: $(cat run3.err)"
mv submissions.away submissions.json
assert_eq "three submissions" 3 "$(fs_sql "SELECT count(*) FROM submissions")"

# 5. The views, by migrate with the page's settings (twice: idempotent).
cd "$T/server"
docs_block $FS fs-settings >ferryd.json
[ -s ferryd.json ] || fail "no settings block in $FS"
doc_cmd "ferryd --store sqlite:forms.db --config ferryd.json migrate" \
    >migrate.out 2>migrate.err || fail "migrate with views: $(cat migrate.err)"
docs_check $FS fs-migrate migrate.out
ferryd --store "$STORE_URL" --config ferryd.json migrate >migrate2.out 2>&1 ||
    fail "migrate again: $(cat migrate2.out)"
# A bad prefix: exit 3, a message naming it, no view made.
echo '{"contract": "contract.json", "compat_views_prefix": "Odk-"}' >bad.json
rc=0
ferryd --store "$STORE_URL" --config bad.json migrate >bad.out 2>&1 || rc=$?
assert_eq "a bad prefix's exit" 3 $rc
grep -q "compat_views_prefix 'Odk-' is not a plain name" bad.out ||
    fail "a bad prefix said: $(cat bad.out)"
! grep -q "^migrated" bad.out || fail "a bad prefix still migrated: $(cat bad.out)"

# The status row and the history, as the views give them (both stores).
assert_eq "odk_sync_status" "main_submissions|error|3|1" \
    "$(fs_sql "SELECT sync_type, last_sync_status, successful_sync_count,
        failed_sync_count FROM odk_sync_status")"
assert_eq "odk_sync_history" "imported||1 success|2|1 imported||1 success|2|1 success|1|1 error|0|1" \
    "$(fs_sql "SELECT status, records_processed, CASE WHEN sync_timestamp IS
        NULL THEN 0 ELSE 1 END FROM odk_sync_history ORDER BY id" |
        tr '\n' ' ' | sed 's/ $//')"
assert_eq "the failure's error and instance" \
    "FileNotFoundError: [Errno 2] No such file or directory: 'submissions.json'|$HOST" \
    "$(fs_sql "SELECT error_message, service_instance FROM odk_sync_history
        WHERE status = 'error'")"
if [ "$STORE" = sqlite ]; then
    # ISO 8601 text with milliseconds in UTC, as the API writes times.
    ts=$(fs_sql "SELECT last_sync_timestamp FROM odk_sync_status")
    printf '%s\n' "$ts" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' ||
        fail "last_sync_timestamp on SQLite: '$ts'"
fi

# The four queries, verbatim from the page (copied from the team's
# document), run as they are.
for q in fs-q-status fs-q-recent fs-q-failed fs-q-perf; do
    docs_block $FS $q >$q.sql
    [ -s $q.sql ] || fail "no query $q in $FS"
done
if [ "$STORE" = pg ]; then
    q() { psql "$STORE_URL" -X -qAt -v ON_ERROR_STOP=1 -f "$1.sql"; }
    out=$(q fs-q-status) || fail "status query"
    printf '%s\n' "$out" | grep -Eq '^main_submissions\|[0-9-]{10} [0-9:.]+\+00\|error\|3\|1\|1$' ||
        fail "status query: '$out'"
    out=$(q fs-q-recent) || fail "recent query"
    assert_eq "recent attempts" "error success success imported success imported" \
        "$(printf '%s\n' "$out" | cut -d'|' -f3 | tr '\n' ' ' | sed 's/ $//')"
    assert_eq "recent attempts' instances" "$HOST $HOST $HOST" \
        "$(printf '%s\n' "$out" | head -n 3 | cut -d'|' -f6 | tr '\n' ' ' | sed 's/ $//')"
    out=$(q fs-q-failed) || fail "failed query"
    printf '%s\n' "$out" | grep -Eq "^main_submissions\\|[0-9-]{10} [0-9:.]+\\+00\\|FileNotFoundError: \\[Errno 2\\] No such file or directory: 'submissions.json'\\|$HOST\$" ||
        fail "failed syncs query: '$out'"
    out=$(q fs-q-perf) || fail "performance query"
    # One row per hour (two when the runs straddle one), 5 records in all.
    printf '%s\n' "$out" | grep -Evq '^[0-9-]{10} [0-9:]{8}\+00\|main_submissions\|[0-9.]+\|[0-9]+$' &&
        fail "performance query: '$out'"
    assert_eq "records of the successful runs" 5 \
        "$(printf '%s\n' "$out" | awk -F'|' '{ n += $4 } END { print n }')"
    # The page's output of the failed-syncs query, as psql -A prints it.
    docs_has $FS 'psql "$SUBMISSIONS_DB" -A -f failed_syncs.sql'
    psql "$STORE_URL" -X -A -f fs-q-failed.sql >failed.out || fail "psql -A"
    docs_check $FS fs-q-failed-out failed.out
    # The columns' types: theirs, as far as a view gives them.
    assert_eq "status view types" "timestamp with time zone|integer|integer|integer" \
        "$(store_sql "SELECT string_agg(format_type(atttypid, atttypmod), '|' ORDER BY attnum)
            FROM pg_attribute WHERE attrelid = 'public.odk_sync_status'::regclass
            AND attname IN ('last_sync_timestamp', 'successful_sync_count',
            'failed_sync_count', 'last_records_processed')")"
else
    # SQLite: the first three as written (the fourth is PostgreSQL's).
    for q in fs-q-status fs-q-recent fs-q-failed; do
        sqlite3 -bail forms.db <$q.sql >$q.out || fail "$q on SQLite"
    done
    grep -Eq '^main_submissions\|[0-9T:.-]+Z\|error\|3\|1\|1$' fs-q-status.out ||
        fail "status query: $(cat fs-q-status.out)"
    assert_eq "recent attempts" "error success success imported success imported" \
        "$(cut -d'|' -f3 fs-q-recent.out | tr '\n' ' ' | sed 's/ $//')"
    grep -q "|FileNotFoundError: \[Errno 2\] No such file or directory: 'submissions.json'|$HOST\$" \
        fs-q-failed.out || fail "failed syncs query: $(cat fs-q-failed.out)"
fi

# A run holding the lease (another instance): the job leaves quietly, and
# the refused begin is in the history.
cd "$T/job"
code=$(http_post /v1/streams/main_submissions/runs "$KEY" \
    '{"instance": "odk-sync-2", "lease_seconds": 600}')
assert_eq "another instance's begin" 201 "$code"
HELD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$T/resp.json")
direct >run4.out 2>run4.err || fail "the job under a held lease: $(cat run4.err)"
[ ! -s run4.out ] && [ ! -s run4.err ] || fail "the job was not quiet: $(cat run4.out run4.err)"
assert_eq "refused in history" 1 \
    "$(fs_sql "SELECT count(*) FROM odk_sync_history WHERE status = 'refused'")"
assert_eq "in progress" in_progress \
    "$(fs_sql "SELECT last_sync_status FROM odk_sync_status")"

assert_exit "ferry job run under a held lease" 8 \
    ferry job run main_submissions -- python3 job.py
http_post "/v1/runs/$HELD/complete" "$KEY" '{}' >/dev/null
assert_eq "submissions" 3 "$(fs_sql "SELECT count(*) FROM submissions")"

# An instance that dies mid-run: once its lease expires its run is
# abandoned, an error in their view, and the next run goes on from the
# last committed cursor.
code=$(http_post /v1/streams/main_submissions/runs "$KEY" \
    '{"instance": "odk-sync-3", "lease_seconds": 1}')
assert_eq "a begin that will die" 201 "$code"
DEAD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$T/resp.json")
sleep 2
direct >run5.out 2>run5.err || fail "the job after a dead run: $(cat run5.err)"
assert_eq "the run after the dead one" "0 submissions, cursor 2024-01-16T08:00:00.000000" \
    "$(sed 's/^run [0-9]*: //' run5.out)"
assert_eq "the dead run in their view" "error|odk-sync-3" \
    "$(fs_sql "SELECT status, service_instance FROM odk_sync_history WHERE id = $DEAD")"

# 6. Rollback: the cursor back into last_sync.txt.
rm -f last_sync.txt
cmd=$(sed -n 's/^ *\(curl -s -H .*> last_sync.txt\)$/\1/p' "$DOCS_ROOT/$FS")
[ -n "$cmd" ] || fail "no rollback curl in $FS"
eval "$(printf '%s' "$cmd" | sed "s|http://127.0.0.1:8080|$URL|")" ||
    fail "rollback's curl"
assert_eq "last_sync.txt" 2024-01-16T08:00:00.000000 "$(cat last_sync.txt)"
docs_has $FS "DROP VIEW odk_sync_status, odk_sync_history;"
fs_sql "DROP VIEW odk_sync_status; DROP VIEW odk_sync_history" >/dev/null ||
    fail "dropping the views"
stop_ferryd
